//! The engine's one doorway to numbers and formatting (implemented in `number.rs` and `format/`).
//!
//! The interpreter calls only what is re-exported or wrapped here, so the engine's needs are visible in
//! one place and formatting errors become plain messages the interpreter attaches a location to.

pub(crate) use crate::format::escape;
pub(crate) use crate::format::{format_c, parse_number, Locale, NumberFormat};
pub(crate) use crate::number::Number;

/// Compiles a `number_format` value for a locale given by name.
pub(crate) fn compile_number_format(spec: &str, locale: &str) -> Result<NumberFormat, String> {
    let loc = Locale::parse(locale).map_err(|e| e.to_string())?;
    NumberFormat::new(spec, &loc).map_err(|e| e.to_string())
}

pub(crate) fn check_number_format(spec: &str, locale: &str) -> Result<(), String> {
    compile_number_format(spec, locale).map(|_| ())
}

pub(crate) fn check_boolean_format(spec: &str) -> Result<(), String> {
    if spec == "c" || spec.split(',').count() == 2 {
        Ok(())
    } else {
        Err(format!("Can't parse boolean format string {spec:?}"))
    }
}

pub(crate) fn check_locale(s: &str) -> Result<(), String> {
    Locale::parse(s).map(|_| ()).map_err(|e| e.to_string())
}

pub(crate) fn check_time_zone(_s: &str) -> Result<(), String> {
    Ok(())
}
