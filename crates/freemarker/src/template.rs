//! A compiled template: parsed once, rendered many times (from many threads at once).

use crate::ast::{MacroDef, Node};
use crate::error::{Error, ErrorKind};
use crate::format_bridge::{compile_number_format, Locale, NumberFormat, TimeZone};
use crate::render::{Env, Flow};
use crate::settings::Settings;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// A parsed FreeMarker template. It is immutable, so it is `Send + Sync` and can be shared across threads.
#[derive(Debug)]
pub struct Template {
    pub(crate) name: String,
    pub(crate) source: String,
    pub(crate) nodes: Vec<Node>,
    pub(crate) macros: Vec<Arc<MacroDef>>,
    pub(crate) settings: Settings,
    pub(crate) number_format: NumberFormat,
    pub(crate) locale: Locale,
    pub(crate) time_zone: TimeZone,
    /// `?string("0.00")`-style number formats compiled so far, by (locale, pattern); shared by renders.
    pub(crate) number_formats: RwLock<Vec<(String, String, NumberFormat)>>,
    /// The largest output seen so far (capped at [`MAX_OUTPUT_HINT`]): [`Template::render`] allocates
    /// that much up front instead of growing the string several times per render.
    output_hint: AtomicUsize,
}

/// The most a render pre-allocates from [`Template::output_hint`].
const MAX_OUTPUT_HINT: usize = 64 * 1024;

/// At most this many distinct number formats are cached per template (patterns can be computed).
const MAX_CACHED_FORMATS: usize = 64;

impl Template {
    /// Formats `n` with a `number_format`-style pattern, compiling (and caching) the pattern once.
    pub(crate) fn format_number_with(
        &self,
        spec: &str,
        locale: &str,
        n: &crate::number::Number,
    ) -> Result<String, String> {
        if let Some(s) = crate::format_bridge::format_fixed(spec, locale, n) {
            return Ok(s);
        }
        if let Ok(cache) = self.number_formats.read() {
            if let Some((_, _, f)) = cache.iter().find(|(l, s, _)| s == spec && l == locale) {
                return Ok(f.format(n));
            }
        }
        let f = compile_number_format(spec, locale)?;
        let out = f.format(n);
        if let Ok(mut cache) = self.number_formats.write() {
            if cache.len() < MAX_CACHED_FORMATS {
                cache.push((locale.to_string(), spec.to_string(), f));
            }
        }
        Ok(out)
    }
}

impl Template {
    /// Parses `source`. Syntax errors (and directives refused by the sandbox, such as `<#include>`) are
    /// reported here with line and column.
    pub fn new(name: &str, source: &str, settings: Settings) -> Result<Template, Error> {
        let nodes = crate::parser::parse(name, source, &settings)?;
        let mut macros = Vec::new();
        collect_macros(&nodes, &mut macros);
        let number_format = compile_number_format(&settings.number_format, &settings.locale)
            .map_err(|m| {
                Error::new(
                    ErrorKind::Setting,
                    format!("Invalid number_format {:?}: {m}", settings.number_format),
                )
            })?;
        let locale = Locale::parse(&settings.locale).map_err(|e| {
            Error::new(
                ErrorKind::Setting,
                format!("Invalid locale {:?}: {e}", settings.locale),
            )
        })?;
        let time_zone = TimeZone::parse(&settings.time_zone).map_err(|e| {
            Error::new(
                ErrorKind::Setting,
                format!("Invalid time_zone {:?}: {e}", settings.time_zone),
            )
        })?;
        Ok(Template {
            number_formats: RwLock::new(Vec::new()),
            output_hint: AtomicUsize::new(0),
            locale,
            time_zone,
            name: name.to_string(),
            source: source.to_string(),
            nodes,
            macros,
            settings,
            number_format,
        })
    }

    /// The top-level fields of `input` this template can read, or `None` when it may read any
    /// (it lists `input`'s keys, indexes it with a computed name, passes it whole, ...). A
    /// record with only these fields renders exactly as the whole record does, so a caller may
    /// skip building the others.
    pub fn input_fields(&self) -> Option<Vec<crate::InputField>> {
        crate::fields::input_fields(&self.nodes)
    }

    /// The template's name (used in error messages).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renders with `input` bound to the variable `input`; returns the output.
    pub fn render(&self, input: &serde_json::Value) -> Result<String, Error> {
        let mut out = String::with_capacity(self.output_hint.load(Ordering::Relaxed));
        self.render_to(input, &mut out)?;
        self.output_hint
            .fetch_max(out.len().min(MAX_OUTPUT_HINT), Ordering::Relaxed);
        Ok(out)
    }

    /// Renders, appending to `out`. On error `out` keeps what it held before the call.
    pub fn render_to(&self, input: &serde_json::Value, out: &mut String) -> Result<(), Error> {
        let start = out.len();
        let mut env = Env::new(self, input, std::mem::take(out));
        let result = env.run_nodes(&self.nodes);
        *out = std::mem::take(&mut env.out);
        drop(env);
        match result {
            Ok(Flow::Normal) | Ok(Flow::Return(_)) => Ok(()),
            Ok(Flow::Break) | Ok(Flow::Continue) => Ok(()),
            Err(e) => {
                out.truncate(start);
                Err(e.locate(&self.name, &self.source, 0))
            }
        }
    }
}

impl Template {
    /// Renders as [`Template::render`] does, also recording which text or interpolation wrote
    /// each stretch of the output, so a problem found in the output (a payload that is not
    /// JSON) can be traced back to its line and column. Slower than `render`: for diagnostics.
    pub fn render_traced(&self, input: &serde_json::Value) -> Result<Traced<'_>, Error> {
        let mut env = Env::new(self, input, String::new());
        env.trace = Some(Vec::new());
        let result = env.run_nodes(&self.nodes);
        let output = std::mem::take(&mut env.out);
        let writes = env.trace.take().unwrap_or_default();
        drop(env);
        match result {
            Ok(_) => Ok(Traced {
                template: self,
                output,
                writes,
            }),
            Err(e) => Err(e.locate(&self.name, &self.source, 0)),
        }
    }
}

/// A render's output with where each part of it came from ([`Template::render_traced`]).
#[derive(Debug)]
pub struct Traced<'t> {
    template: &'t Template,
    output: String,
    writes: Vec<crate::render::Write>,
}

/// Where a byte of a render's output was written from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// 1-based line in the template source.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// Whether static text wrote it (else an interpolation: `${...}` or `#{...}`).
    pub text: bool,
}

impl Traced<'_> {
    /// The rendered output (the same as [`Template::render`]'s).
    pub fn output(&self) -> &str {
        &self.output
    }

    /// Where the output byte at `offset` came from: for static text the very character, when the
    /// text stands verbatim in the source; for an interpolation the start of its expression.
    pub fn origin(&self, offset: usize) -> Option<Origin> {
        let at = self.writes.partition_point(|w| w.output <= offset);
        let write = self.writes.get(at.checked_sub(1)?)?;
        let source = &self.template.source;
        let mut position = write.source as usize;
        if write.text {
            // The text as written up to the byte, found where its node starts in the source
            // (white-space stripping may have dropped an indentation before it).
            let end = self.writes.get(at).map_or(self.output.len(), |w| w.output);
            let written = self.output.get(write.output..end.max(offset + 1))?;
            let upto = offset - write.output;
            if let Some(found) = source.get(position..).and_then(|rest| rest.find(written)) {
                position += found + upto;
            } else if let Some(found) = source.get(position..).and_then(|rest| {
                let prefix = written.get(..=upto)?;
                rest.find(prefix)
            }) {
                position += found + upto;
            }
        }
        let (line, column) = line_column(source, position);
        Some(Origin {
            line,
            column,
            text: write.text,
        })
    }
}

/// 1-based line and column (in characters) of byte `offset` of `source`.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |p| p + 1);
    (line, source[start..offset].chars().count() + 1)
}

/// Macros are defined before the template runs (as FreeMarker does), so calls may precede
/// definitions, and a definition in a branch that never runs still counts; running a
/// `<#macro>` rebinds its name again where it stands (see the renderer).
fn collect_macros(nodes: &[Node], out: &mut Vec<Arc<MacroDef>>) {
    for n in nodes {
        match n {
            Node::MacroDef(m) => {
                // a later definition of the same name replaces the earlier one, as in FreeMarker
                out.retain(|d| d.name != m.name);
                out.push(m.clone());
            }
            Node::If(branches) => {
                for branch in branches {
                    collect_macros(&branch.body, out);
                }
            }
            Node::List {
                body, else_body, ..
            } => {
                collect_macros(body, out);
                collect_macros(else_body.as_deref().unwrap_or_default(), out);
            }
            Node::Items { body, .. }
            | Node::Sep(body)
            | Node::Compress(body)
            | Node::Capture { body, .. } => collect_macros(body, out),
            Node::Switch { cases, .. } => {
                for (_, body) in cases {
                    collect_macros(body, out);
                }
            }
            Node::Attempt { body, recover } => {
                collect_macros(body, out);
                collect_macros(recover, out);
            }
            Node::Call { body, .. } => {
                collect_macros(body.as_deref().map_or(&[], Vec::as_slice), out)
            }
            Node::Text(..)
            | Node::Interp(_)
            | Node::LegacyInterp { .. }
            | Node::Break
            | Node::Continue
            | Node::Assign { .. }
            | Node::Setting { .. }
            | Node::Nested { .. }
            | Node::Return(_)
            | Node::Stop(..) => {}
        }
    }
}
