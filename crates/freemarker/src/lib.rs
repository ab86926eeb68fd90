//! An Apache FreeMarker 2.3.31 compatible template engine for JSON data.
//!
//! A [`Template`] is parsed once and rendered many times with a JSON value bound to the variable `input`
//! (JSON `null` is a missing value, as FreeMarker has no null). Output, including white-space handling and
//! errors, follows FreeMarker's; `COMPATIBILITY.md` lists the known differences.
//!
//! ```
//! use freemarker::{Settings, Template};
//! let t = Template::new("greeting", "Hello ${input.name!\"stranger\"}!", Settings::default()).unwrap();
//! assert_eq!(t.render(&serde_json::json!({"name": "Ann"})).unwrap(), "Hello Ann!");
//! assert_eq!(t.render(&serde_json::json!({})).unwrap(), "Hello stranger!");
//! ```
//!
//! Rendering is sandboxed: no file access, no `?new`/`?api`/`?eval`, and bounded steps, output size and
//! call depth (see [`Settings`]), so a user's template fails one render with an [`Error`], never the process.

mod ast;
mod builtins;
mod error;
mod escape;
mod fields;
pub(crate) mod format;
mod format_bridge;
mod lexer;
pub(crate) mod number;
mod parser;
mod render;
mod settings;
mod template;
mod value;
mod whitespace;

pub use error::{Error, ErrorKind};
pub use fields::InputField;
pub use settings::Settings;
pub use template::{Origin, Template, Traced};
