//! The bridge to the FreeMarker engine: compiles a configured template with the sink's settings.
//!
//! The sink's defaults are FreeMarker's except `number_format = "computer"`, `locale = "en_US"`
//! and `time_zone = "UTC"`; `[sinks.ID.template_settings]` overrides them by FreeMarker's names.

use std::sync::Arc;

use pipeline_core::ConfigError;
use serde_json::Value;

use super::payload::{template_config_error, Render, RenderError};
use crate::config::TemplateSource;

/// A compiled FreeMarker template.
struct FreemarkerTemplate {
    name: String,
    template: freemarker::Template,
}

impl Render for FreemarkerTemplate {
    fn render(&self, input: &Value, out: &mut String) -> Result<(), RenderError> {
        // The engine is ours and young: a panic on some record's data must reject that record,
        // not take the sink (and every other record) down with it.
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.template.render_to(input, out)
        }));
        let Ok(rendered) = rendered else {
            return Err(RenderError {
                template: self.name.clone(),
                message: "the template engine failed on this record (an internal error)".to_owned(),
            });
        };
        rendered.map_err(|error| RenderError {
            template: self.name.clone(),
            message: match (error.line(), error.column()) {
                (Some(line), Some(column)) => {
                    format!("{} (line {line}, column {column})", error.message())
                }
                _ => error.message().to_owned(),
            },
        })
    }

    fn origin_of(&self, input: &Value, offset: usize) -> Option<String> {
        let traced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.template.render_traced(input)
        }));
        let origin = traced.ok()?.ok()?.origin(offset)?;
        let what = if origin.text { "text" } else { "interpolation" };
        Some(format!(
            "the {what} at line {}, column {} of template `{}`",
            origin.line, origin.column, self.name
        ))
    }
}

/// Where the sink's FreeMarker settings differ from FreeMarker's defaults (`webhook-sink render`
/// starts from them too).
pub const SINK_DEFAULTS: [(&str, &str); 3] = [
    ("number_format", "computer"),
    ("locale", "en_US"),
    ("time_zone", "UTC"),
];

/// The sink's FreeMarker settings: its defaults, then `template_settings` in order.
pub fn settings(overrides: &[(String, String)]) -> Result<freemarker::Settings, ConfigError> {
    let mut settings = freemarker::Settings::default();
    for (name, value) in SINK_DEFAULTS {
        settings
            .set(name, value)
            .map_err(|e| ConfigError::new("template_settings", e.to_string()))?;
    }
    for (name, value) in overrides {
        settings
            .set(name, value)
            .map_err(|e| ConfigError::new(format!("template_settings.{name}"), e.to_string()))?;
    }
    Ok(settings)
}

/// Compiles `source` with `overrides` applied over the sink's default settings.
pub fn compile(
    source: &TemplateSource,
    overrides: &[(String, String)],
) -> Result<Arc<dyn Render>, ConfigError> {
    let settings = settings(overrides)?;
    let template = freemarker::Template::new(&source.name, &source.text, settings)
        .map_err(|e| template_config_error(source, e.line(), e.column(), e.message()))?;
    Ok(Arc::new(FreemarkerTemplate {
        name: source.name.clone(),
        template,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source(text: &str) -> TemplateSource {
        TemplateSource {
            key: "events.template".into(),
            name: "events".into(),
            text: text.into(),
        }
    }

    #[test]
    fn a_template_renders_the_record_bound_to_input() {
        let template = compile(&source("${input.n} ${input.name!\"-\"}"), &[]).unwrap();
        let mut out = String::new();
        template.render(&json!({"n": 1234567}), &mut out).unwrap();
        assert_eq!(out, "1234567 -", "number_format defaults to computer");
    }

    #[test]
    fn a_parse_error_names_the_key_line_and_column() {
        let error = compile(&source("line one\n<#if input.a>\nno end"), &[])
            .err()
            .expect("refused");
        assert_eq!(error.path, "events.template");
        assert!(error.message.contains("line "), "{}", error.message);
    }

    #[test]
    fn a_bad_setting_names_its_key() {
        let overrides = vec![("no_such_setting".to_owned(), "x".to_owned())];
        let error = compile(&source("x"), &overrides).err().expect("refused");
        assert_eq!(error.path, "template_settings.no_such_setting");
    }

    #[test]
    fn a_render_error_is_reported_with_the_template_name() {
        let template = compile(&source("${input.missing}"), &[]).unwrap();
        let mut out = String::new();
        let error = template.render(&json!({}), &mut out).unwrap_err();
        assert_eq!(error.template, "events");
    }
}
