//! Payloads: the bytes sent for one record, either the record as JSON or a rendered template.
//!
//! Templates are compiled once at start (a parse error refuses the config, naming the key and the
//! template's line and column) and rendered per record with the record bound to `input`.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use pipeline_core::ConfigError;
use serde_json::Value;

use crate::config::{TemplateSource, WebhookConfig};
use crate::stream::Stream;

/// A compiled template that renders one record.
pub trait Render: Send + Sync {
    /// Renders `input` (bound to the template's `input` variable) into `out`.
    fn render(&self, input: &Value, out: &mut String) -> Result<(), RenderError>;

    /// What wrote byte `offset` of `input`'s output ("the text at line 4, column 1 of template
    /// `events.ftl`"), for diagnostics; `None` when it cannot tell.
    fn origin_of(&self, _input: &Value, _offset: usize) -> Option<String> {
        None
    }
}

/// Why one record's template failed; the record is rejected, the others go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template `{template}` failed: {message}")]
pub struct RenderError {
    /// The template's name (file path, or the stream name for inline templates).
    pub template: String,
    /// The engine's message, with line and column where known.
    pub message: String,
}

/// How one stream turns a record into bytes.
#[derive(Clone)]
pub enum PayloadFormat {
    /// The record as JSON (key order preserved).
    Default,
    /// A compiled template.
    Template(Arc<dyn Render>),
}

impl fmt::Debug for PayloadFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadFormat::Default => f.write_str("Default"),
            PayloadFormat::Template(_) => f.write_str("Template"),
        }
    }
}

impl PayloadFormat {
    /// The payload for `record`; `size_hint` (the record's JSON size, when known) sizes the
    /// buffer so the default payload is written without reallocating.
    pub fn build(&self, record: &Value, size_hint: usize) -> Result<Bytes, RenderError> {
        match self {
            PayloadFormat::Default => {
                let mut body = Vec::with_capacity(size_hint + 64);
                // serde_json's compact output, written about three times faster.
                pipeline_core::json::write_compact(record, &mut body);
                Ok(Bytes::from(body))
            }
            PayloadFormat::Template(template) => {
                let mut out = String::with_capacity(256);
                template.render(record, &mut out)?;
                Ok(Bytes::from(out))
            }
        }
    }
}

/// The payload formats of both streams.
#[derive(Debug, Clone)]
pub struct Payloads {
    events: PayloadFormat,
    users: PayloadFormat,
}

impl Payloads {
    /// Compiles the configured templates with the configured settings.
    pub fn compile(config: &WebhookConfig) -> Result<Payloads, ConfigError> {
        let compile = |stream: Stream| match &config.stream(stream).template {
            None => Ok(PayloadFormat::Default),
            Some(source) => super::template::compile(source, &config.template_settings)
                .map(PayloadFormat::Template),
        };
        Ok(Payloads {
            events: compile(Stream::Events)?,
            users: compile(Stream::Users)?,
        })
    }

    /// The format of one stream.
    pub fn format(&self, stream: Stream) -> &PayloadFormat {
        match stream {
            Stream::Events => &self.events,
            Stream::Users => &self.users,
        }
    }
}

/// Locates a template problem for a config error: `key` plus `line:column` when known.
pub fn template_config_error(
    source: &TemplateSource,
    line: Option<usize>,
    column: Option<usize>,
    message: &str,
) -> ConfigError {
    let at = match (line, column) {
        (Some(line), Some(column)) => format!(" at line {line}, column {column}"),
        (Some(line), None) => format!(" at line {line}"),
        _ => String::new(),
    };
    ConfigError::new(
        &source.key,
        format!("template `{}` does not parse{at}: {message}", source.name),
    )
}
