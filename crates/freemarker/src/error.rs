//! Template errors: one type for parse, render, setting and limit failures, shaped like FreeMarker's messages.

use std::fmt;

/// What kind of failure an [`Error`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The template source does not parse (reported by [`crate::Template::new`]).
    Syntax,
    /// Evaluation failed while rendering (missing value, wrong type, `<#stop>`, ...).
    Render,
    /// A setting name or value was refused.
    Setting,
    /// A sandbox limit (steps, output size, nesting depth) was exceeded.
    Limit,
}

/// An error from parsing or rendering a template.
///
/// `Display` prints one line, like the first line of Apache FreeMarker's message; the alternate form
/// (`{:#}`) adds the template location and a source excerpt with a caret under the blamed spot.
pub struct Error {
    repr: Box<Repr>,
}

struct Repr {
    kind: ErrorKind,
    message: String,
    detail: Option<String>,
    template: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    source_line: Option<String>,
    offset: Option<usize>,
    missing: bool,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            repr: Box::new(Repr {
                kind,
                message: message.into(),
                detail: None,
                template: None,
                line: None,
                column: None,
                source_line: None,
                offset: None,
                missing: false,
            }),
        }
    }

    /// Remembers the byte offset the error is about, until [`Error::locate`] turns it into line and column.
    pub(crate) fn with_offset(mut self, offset: usize) -> Error {
        if self.repr.offset.is_none() {
            self.repr.offset = Some(offset);
        }
        self
    }

    /// Marks this error as a missing-value error (FreeMarker's `InvalidReferenceException`).
    pub(crate) fn into_missing(mut self) -> Error {
        self.repr.missing = true;
        self
    }

    /// Whether this is a missing-value error, which `(expr)!` and `(expr)??` swallow.
    pub(crate) fn is_missing(&self) -> bool {
        self.repr.missing
    }

    /// Replaces the remembered byte offset.
    pub(crate) fn set_offset(mut self, offset: usize) -> Error {
        self.repr.offset = Some(offset);
        self
    }

    /// The remembered byte offset, if any.
    pub(crate) fn offset(&self) -> Option<usize> {
        self.repr.offset
    }

    /// Resolves the remembered offset (or `fallback`) against the template source.
    pub(crate) fn locate(self, name: &str, source: &str, fallback: usize) -> Error {
        let offset = self.repr.offset.unwrap_or(fallback);
        self.with_location(name, source, offset)
    }

    /// Attaches the template name and the 1-based position inside `source` (only if not set yet).
    /// A syntax error's first line becomes FreeMarker's `Syntax error in template ... in line L, column C:`,
    /// and the reason moves to the detail.
    pub(crate) fn with_location(mut self, name: &str, source: &str, offset: usize) -> Error {
        if self.repr.line.is_none() {
            let mut offset = offset.min(source.len());
            while !source.is_char_boundary(offset) {
                offset -= 1;
            }
            let before = &source[..offset];
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |p| p + 1);
            let column = source[line_start..offset].chars().count() + 1;
            let line_end = source[offset..]
                .find('\n')
                .map_or(source.len(), |p| offset + p);
            self.repr.line = Some(line);
            self.repr.column = Some(column);
            self.repr.source_line = Some(
                source[line_start..line_end]
                    .trim_end_matches('\r')
                    .to_string(),
            );
            self.repr.template = Some(name.to_string());
            if self.repr.kind == ErrorKind::Syntax {
                let reason = std::mem::replace(
                    &mut self.repr.message,
                    format!("Syntax error in template {name:?} in line {line}, column {column}:"),
                );
                self.repr.detail = Some(match self.repr.detail.take() {
                    Some(d) => format!("{reason}\n{d}"),
                    None => reason,
                });
            }
        }
        self
    }

    /// Adds a further explanation shown by the alternate (`{:#}`) form only.
    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Error {
        self.repr.detail = Some(detail.into());
        self
    }

    /// The further explanation the alternate form prints, if any.
    pub(crate) fn detail(&self) -> Option<&str> {
        self.repr.detail.as_deref()
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.repr.kind
    }

    /// The one-line message (what `Display` prints).
    pub fn message(&self) -> &str {
        &self.repr.message
    }

    /// The 1-based line in the template source, where known.
    pub fn line(&self) -> Option<usize> {
        self.repr.line
    }

    /// The 1-based column in the template source, where known.
    pub fn column(&self) -> Option<usize> {
        self.repr.column
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repr.message)?;
        if f.alternate() {
            if let Some(detail) = &self.repr.detail {
                write!(f, "\n{detail}")?;
            }
            if let (Some(line), Some(column)) = (self.repr.line, self.repr.column) {
                let name = self.repr.template.as_deref().unwrap_or("?");
                write!(
                    f,
                    "\n---\nin template \"{name}\" at line {line}, column {column}"
                )?;
                if let Some(src) = &self.repr.source_line {
                    let prefix = format!("{line:>4} | ");
                    write!(
                        f,
                        "\n{prefix}{src}\n{}^",
                        " ".repeat(prefix.len() + column - 1)
                    )?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.repr.kind)
            .field("message", &self.repr.message)
            .field("line", &self.repr.line)
            .field("column", &self.repr.column)
            .finish()
    }
}

impl std::error::Error for Error {}

/// Shorthand for a render-time error.
pub(crate) fn render_err(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Render, message)
}

/// Shorthand for a parse-time error.
pub(crate) fn syntax_err(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Syntax, message)
}
