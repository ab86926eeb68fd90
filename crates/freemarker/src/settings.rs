//! FreeMarker settings (by FreeMarker's own names) plus the sandbox limits of a render.

use crate::error::{Error, ErrorKind};

/// The settings a template is compiled and rendered with.
///
/// Defaults are Apache FreeMarker 2.3.31's, with `locale` en_US and `time_zone` UTC. `<#setting>` inside a
/// template changes a per-render copy, never the template's own settings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub(crate) number_format: String,
    pub(crate) boolean_format: String,
    pub(crate) date_format: String,
    pub(crate) time_format: String,
    pub(crate) datetime_format: String,
    pub(crate) locale: String,
    pub(crate) time_zone: String,
    pub(crate) url_escaping_charset: Option<String>,
    pub(crate) output_encoding: Option<String>,
    pub(crate) classic_compatible: bool,
    pub(crate) whitespace_stripping: bool,
    pub(crate) tag_syntax: TagSyntax,
    pub(crate) interpolation_syntax: InterpolationSyntax,
    /// Most evaluation steps (directives and expressions) one render may take.
    pub max_steps: u64,
    /// Most bytes one render may output.
    pub max_output_bytes: usize,
    /// Most bytes of strings, sequences and hashes one render may build, counted cumulatively
    /// (what the output limit does not see: `<#assign s = s + s>` in a loop, `?left_pad(2000000000)`,
    /// a long range sorted).
    pub max_alloc_bytes: usize,
    /// Deepest nesting of macro/function calls (and nested directive content) one render may reach.
    pub max_depth: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            number_format: "number".into(),
            boolean_format: "true,false".into(),
            date_format: String::new(),
            time_format: String::new(),
            datetime_format: String::new(),
            locale: "en_US".into(),
            time_zone: "UTC".into(),
            url_escaping_charset: None,
            output_encoding: None,
            classic_compatible: false,
            whitespace_stripping: true,
            tag_syntax: TagSyntax::AngleBracket,
            interpolation_syntax: InterpolationSyntax::Legacy,
            max_steps: 10_000_000,
            max_output_bytes: 16 * 1024 * 1024,
            max_alloc_bytes: 64 * 1024 * 1024,
            max_depth: 200,
        }
    }
}

/// FreeMarker's `tag_syntax` setting: which brackets FTL tags use. A leading `<#ftl>` or `[#ftl]`
/// header overrides it for its template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TagSyntax {
    /// `<#if ...>` (the default).
    AngleBracket,
    /// `[#if ...]`.
    SquareBracket,
    /// The template's first FTL tag (or comment) decides.
    AutoDetect,
}

/// FreeMarker's `interpolation_syntax` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InterpolationSyntax {
    /// `${...}` and the deprecated `#{...}` (the default).
    Legacy,
    /// `${...}` only.
    Dollar,
    /// `[=...]` only.
    SquareBracket,
}

/// Parses a FreeMarker boolean setting value.
fn parse_bool(name: &str, value: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        _ => Err(bad_value(name, value)),
    }
}

fn bad_value(name: &str, value: &str) -> Error {
    Error::new(
        ErrorKind::Setting,
        format!("Invalid value for setting {name:?}: {value:?}"),
    )
}

impl Settings {
    /// FreeMarker's defaults with locale en_US and time_zone UTC (the oracle's defaults).
    pub fn new() -> Settings {
        Settings::default()
    }

    /// Sets a setting by FreeMarker's own name (snake_case or camelCase), as `Configuration.setSetting`
    /// would. Unknown names and bad values are refused with an error naming the setting.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), Error> {
        match canonical_name(name).as_str() {
            "number_format" => {
                crate::format_bridge::check_number_format(value, &self.locale)
                    .map_err(|e| bad_value(name, value).with_detail(e))?;
                self.number_format = value.to_string();
            }
            "boolean_format" => {
                crate::format_bridge::check_boolean_format(value)
                    .map_err(|e| bad_value(name, value).with_detail(e))?;
                self.boolean_format = value.to_string();
            }
            "date_format" => self.date_format = value.to_string(),
            "time_format" => self.time_format = value.to_string(),
            "datetime_format" => self.datetime_format = value.to_string(),
            "locale" => {
                crate::format_bridge::check_locale(value)
                    .map_err(|e| bad_value(name, value).with_detail(e))?;
                self.locale = value.to_string();
            }
            "time_zone" => {
                crate::format_bridge::check_time_zone(value)
                    .map_err(|e| bad_value(name, value).with_detail(e))?;
                self.time_zone = value.to_string();
            }
            "url_escaping_charset" => self.url_escaping_charset = Some(value.to_string()),
            "output_encoding" => self.output_encoding = Some(value.to_string()),
            "classic_compatible" => self.classic_compatible = parse_bool(name, value)?,
            "whitespace_stripping" => self.whitespace_stripping = parse_bool(name, value)?,
            "tag_syntax" => {
                self.tag_syntax = match canonical_name(value.trim()).as_str() {
                    "angle_bracket" => TagSyntax::AngleBracket,
                    "square_bracket" => TagSyntax::SquareBracket,
                    "auto_detect" => TagSyntax::AutoDetect,
                    _ => return Err(bad_value(name, value)),
                }
            }
            "interpolation_syntax" => {
                self.interpolation_syntax = match canonical_name(value.trim()).as_str() {
                    "legacy" => InterpolationSyntax::Legacy,
                    "dollar" => InterpolationSyntax::Dollar,
                    "square_bracket" => InterpolationSyntax::SquareBracket,
                    _ => return Err(bad_value(name, value)),
                }
            }
            // Accepted for compatibility; they do not change what a sandboxed JSON render does.
            "template_exception_handler"
            | "log_template_exceptions"
            | "wrap_unchecked_exceptions"
            | "show_error_tips"
            | "auto_flush"
            | "api_builtin_enabled"
            | "sql_date_and_time_time_zone"
            | "incompatible_improvements"
            | "arithmetic_engine"
            | "object_wrapper"
            | "naming_convention"
            | "strict_syntax" => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::Setting,
                    format!("Unknown FreeMarker configuration setting: {name:?}"),
                ))
            }
        }
        Ok(())
    }

    /// Sets a setting from a template's `<#setting>` directive (the parser has already refused
    /// the names [`check_template_setting`] refuses).
    pub(crate) fn set_from_template(&mut self, name: &str, value: &str) -> Result<(), Error> {
        match check_template_setting(name) {
            Ok(()) => self.set(name, value),
            Err(message) => Err(Error::new(ErrorKind::Render, message)),
        }
    }
}

/// The settings a template may change with `<#setting>` (FreeMarker 2.3.31's list).
const TEMPLATE_SETTINGS: &[&str] = &[
    "boolean_format",
    "classic_compatible",
    "date_format",
    "datetime_format",
    "locale",
    "number_format",
    "output_encoding",
    "sql_date_and_time_time_zone",
    "time_format",
    "time_zone",
    "url_escaping_charset",
];

/// Other setting names FreeMarker knows (configuration-level ones).
const OTHER_SETTINGS: &[&str] = &[
    "show_error_tips",
    "auto_flush",
    "template_exception_handler",
    "arithmetic_engine",
    "object_wrapper",
    "api_builtin_enabled",
    "log_template_exceptions",
    "wrap_unchecked_exceptions",
    "new_builtin_class_resolver",
    "truncate_builtin_algorithm",
    "lazy_imports",
    "lazy_auto_imports",
    "attempt_exception_reporter",
    "whitespace_stripping",
    "tag_syntax",
    "interpolation_syntax",
    "naming_convention",
    "strict_syntax",
    "incompatible_improvements",
    "output_format",
    "recognize_standard_file_extensions",
    "registered_custom_output_formats",
    "auto_escaping_policy",
    "custom_number_formats",
    "custom_date_formats",
    "auto_import",
    "auto_include",
    "cache_storage",
    "default_encoding",
    "localized_lookup",
    "template_loader",
    "template_lookup_strategy",
    "template_name_format",
    "template_configurations",
    "template_update_delay",
    "tab_size",
];

/// Whether `<#setting name=...>` accepts `name` (checked at parse time, as FreeMarker does);
/// `Err` holds FreeMarker's message.
pub(crate) fn check_template_setting(name: &str) -> Result<(), String> {
    let canonical = canonical_name(name);
    if TEMPLATE_SETTINGS.contains(&canonical.as_str()) {
        Ok(())
    } else if OTHER_SETTINGS.contains(&canonical.as_str()) {
        Err("The setting name is recognized, but changing this setting from inside a template isn't supported.".into())
    } else {
        Err(format!(
            "Unknown setting name: {name:?}. The allowed setting names are: {}",
            TEMPLATE_SETTINGS.join(", ")
        ))
    }
}

/// Maps camelCase setting names to FreeMarker's snake_case form.
fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_settings_take_freemarkers_values_only() {
        let mut s = Settings::default();
        s.set("tag_syntax", "auto_detect").unwrap();
        assert_eq!(s.tag_syntax, TagSyntax::AutoDetect);
        s.set("interpolationSyntax", "squareBracket").unwrap();
        assert_eq!(s.interpolation_syntax, InterpolationSyntax::SquareBracket);
        let e = s.set("tag_syntax", "curly").unwrap_err();
        assert!(e.to_string().contains("tag_syntax"), "{e}");
        assert!(s.set("interpolation_syntax", "percent").is_err());
    }
}
