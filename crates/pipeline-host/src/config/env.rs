//! Environment variables in the config text, as in Vector: `${VAR}` and `${VAR:-default}` are
//! replaced by the variable's value before the TOML is parsed, so one file serves every
//! deployment and secrets stay out of it (`url = "${WEBHOOK_URL}"`, `port = ${PORT:-8080}`).
//!
//! The syntax:
//! - `${NAME}`: the value of `NAME`; an error when it is not set. Set but empty gives "".
//! - `${NAME:-default}`: the value, or `default` when `NAME` is unset **or empty** (as in a shell);
//!   `${NAME-default}` uses `default` only when `NAME` is unset.
//! - `$$` is one literal `$` (so `$${NAME}` is the text `${NAME}`). A `$` followed by anything
//!   else stays as it is: `$insert_id` and `$identify` are Amplitude's, not variables.
//! - Names are `[A-Za-z_][A-Za-z0-9_]*`; a default runs to the first `}` and cannot contain one.
//!   A `${` without its `}` on the same line, or with a malformed name, is an error.
//!
//! Values are inserted raw, as Vector does: inside a TOML string a value holding `"` or `\`
//! breaks (or changes) the string, and outside one it is TOML syntax (`port = ${PORT}` is a
//! number). Quote with `'...'` literal strings when a value may hold `\` or `"`.
//!
//! Two places are left alone, because `${...}` means something else there: comments (a
//! commented-out line must not need its variables set), and the string value of any key named
//! `template`, which is a FreeMarker template whose `${input.field}` are its own.
//!
//! Every problem is reported, not just the first, with its line and column and a best-effort
//! dotted key path: the last `[table]` / `[[array]]` header (arrays of tables numbered `[i]` in
//! the order they appear) joined with the key the reference appears in, inline tables and array
//! elements included (`sinks.hook.headers.Authorization`, `sinks.hook.inputs[0]`). To tell keys,
//! strings and comments apart, the text is walked with a tolerant TOML lexer: it never refuses
//! TOML it does not understand (the parser that runs next reports that), it only finds the
//! references and their keys.

use std::env::VarError;
use std::fmt;
use std::ops::Range;

/// Replaces the references in `text` with the process environment's values.
pub fn interpolate_env(text: &str) -> Result<String, InterpolationError> {
    interpolate(text, |name| std::env::var(name))
}

/// Replaces the references in `text` with the values `lookup` gives (`std::env::var`'s
/// signature, so tests can pass a map).
///
/// Fails with every reference that names an unset variable (without a default), a variable
/// that is not valid Unicode, or is malformed.
pub fn interpolate(
    text: &str,
    lookup: impl Fn(&str) -> Result<String, VarError>,
) -> Result<String, InterpolationError> {
    let mut walker = Walker {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        table: String::new(),
        array_tables: Vec::new(),
        lookup: &lookup,
        edits: Vec::new(),
        problems: Vec::new(),
    };
    walker.document();
    if !walker.problems.is_empty() {
        return Err(InterpolationError {
            problems: walker.problems,
        });
    }
    Ok(apply(text, &walker.edits))
}

/// The references that could not be replaced; `Display` lists them all, separated by `; `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InterpolationError {
    /// Each problem, in the order of the text.
    pub problems: Vec<Problem>,
}

impl fmt::Display for InterpolationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.problems.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// One reference that could not be replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// The line of its `$`, from 1.
    pub line: usize,
    /// The column of its `$`, in characters from 1.
    pub column: usize,
    /// The dotted key path it appears in (best effort; empty before any key).
    pub key: String,
}

/// What is wrong with a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The variable is not set and there is no default.
    Missing(String),
    /// The variable's value is not valid Unicode.
    NotUnicode(String),
    /// The reference itself is malformed; the reason says how.
    Malformed(&'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ProblemKind::Missing(name) => write!(f, "environment variable {name} is not set")?,
            ProblemKind::NotUnicode(name) => {
                write!(f, "environment variable {name} is not valid UTF-8")?
            }
            ProblemKind::Malformed(why) => {
                write!(f, "malformed environment variable reference: {why}")?
            }
        }
        write!(f, " (line {}, column {}", self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, ", in key {}", self.key)?;
        }
        f.write_str(")")
    }
}

/// `text` with each `(range, replacement)` of `edits` (in order, not overlapping) applied.
fn apply(text: &str, edits: &[(Range<usize>, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (range, replacement) in edits {
        out.push_str(&text[copied..range.start]);
        out.push_str(replacement);
        copied = range.end;
    }
    out.push_str(&text[copied..]);
    out
}

/// `a.b` from a path and a key (either may be empty).
fn join(prefix: &str, key: &str) -> String {
    match (prefix.is_empty(), key.is_empty()) {
        (true, _) => key.to_owned(),
        (_, true) => prefix.to_owned(),
        _ => format!("{prefix}.{key}"),
    }
}

/// Characters that end a bare key or a bare value.
fn ends_bare(byte: u8) -> bool {
    matches!(
        byte,
        b' ' | b'\t'
            | b'\r'
            | b'\n'
            | b','
            | b']'
            | b'}'
            | b'['
            | b'{'
            | b'#'
            | b'='
            | b'"'
            | b'\''
    )
}

/// A tolerant walk over TOML text, collecting the replacements of the references it meets.
struct Walker<'a, L> {
    text: &'a str,
    bytes: &'a [u8],
    /// A byte offset; always on a character boundary between steps.
    pos: usize,
    /// The path of the last table header.
    table: String,
    /// How many `[[name]]` headers each array of tables has had.
    array_tables: Vec<(String, usize)>,
    lookup: &'a L,
    edits: Vec<(Range<usize>, String)>,
    problems: Vec<Problem>,
}

impl<L: Fn(&str) -> Result<String, VarError>> Walker<'_, L> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn starts_with(&self, prefix: &str) -> bool {
        self.bytes[self.pos..].starts_with(prefix.as_bytes())
    }

    /// Steps over one character (whatever it is), so a loop that understood nothing still moves.
    fn bump(&mut self) {
        self.pos = (self.pos + 1).min(self.bytes.len());
        while !self.text.is_char_boundary(self.pos) {
            self.pos += 1;
        }
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Skips spaces, line ends and comments.
    fn skip_blank(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.pos += 1,
                Some(b'#') => self.skip_line(),
                _ => return,
            }
        }
    }

    /// Moves to the next `\n` (or the end).
    fn skip_line(&mut self) {
        self.pos = self.line_end(self.pos);
    }

    fn line_end(&self, from: usize) -> usize {
        self.bytes[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.bytes.len(), |n| from + n)
    }

    /// Top-level expressions: headers and key/value pairs.
    fn document(&mut self) {
        loop {
            self.skip_blank();
            let Some(byte) = self.peek() else { return };
            let before = self.pos;
            if byte == b'[' {
                self.header();
            } else {
                let table = self.table.clone();
                self.key_value(&table);
            }
            if self.pos == before {
                self.bump();
            }
        }
    }

    /// `[a.b]` or `[[a.b]]`: sets the current table.
    fn header(&mut self) {
        let array = self.starts_with("[[");
        self.pos += if array { 2 } else { 1 };
        let parts = self.key("");
        self.skip_spaces();
        if self.peek() == Some(b']') {
            self.pos += 1;
            if array && self.peek() == Some(b']') {
                self.pos += 1;
            }
        }
        let mut path = parts.join(".");
        if array {
            let index = match self.array_tables.iter_mut().find(|(p, _)| *p == path) {
                Some((_, count)) => {
                    *count += 1;
                    *count - 1
                }
                None => {
                    self.array_tables.push((path.clone(), 1));
                    0
                }
            };
            path = format!("{path}[{index}]");
        }
        self.table = path;
    }

    /// A dotted key (bare, quoted or both); references in it are replaced too. `base` is the
    /// path the key is relative to, for messages.
    fn key(&mut self, base: &str) -> Vec<String> {
        let mut parts = Vec::new();
        loop {
            self.skip_spaces();
            let start = self.pos;
            let part = match self.peek() {
                Some(quote @ (b'"' | b'\'')) => {
                    let content = self.single_line_string(quote);
                    self.text[content].to_owned()
                }
                Some(byte) if !ends_bare(byte) && byte != b'.' => {
                    self.bare(|b| b == b'.');
                    self.text[start..self.pos].to_owned()
                }
                _ => break,
            };
            let path = join(base, &parts.join("."));
            self.substitute(start..self.pos, &join(&path, &part));
            parts.push(part);
            self.skip_spaces();
            if self.peek() != Some(b'.') {
                break;
            }
            self.pos += 1;
        }
        parts
    }

    /// `key = value`, the key relative to `base`.
    fn key_value(&mut self, base: &str) {
        let parts = self.key(base);
        if parts.is_empty() {
            return;
        }
        self.skip_spaces();
        if self.peek() != Some(b'=') {
            return;
        }
        self.pos += 1;
        let path = join(base, &parts.join("."));
        let template = parts.last().is_some_and(|last| last == "template");
        self.value(&path, template);
    }

    /// A value at `path`; a string is left alone when it is a `template`.
    fn value(&mut self, path: &str, template: bool) {
        self.skip_spaces();
        match self.peek() {
            Some(quote @ (b'"' | b'\'')) => {
                let content = self.string(quote);
                if !template {
                    self.substitute(content, path);
                }
            }
            Some(b'{') => self.inline_table(path),
            Some(b'[') => self.array(path),
            Some(_) => {
                let start = self.pos;
                self.bare(|_| false);
                self.substitute(start..self.pos, path);
            }
            None => {}
        }
    }

    fn inline_table(&mut self, path: &str) {
        self.pos += 1;
        loop {
            self.skip_blank();
            match self.peek() {
                None => return,
                Some(b'}') => {
                    self.pos += 1;
                    return;
                }
                Some(b',') => self.pos += 1,
                Some(_) => {
                    let before = self.pos;
                    self.key_value(path);
                    if self.pos == before {
                        self.bump();
                    }
                }
            }
        }
    }

    fn array(&mut self, path: &str) {
        self.pos += 1;
        let mut index = 0;
        loop {
            self.skip_blank();
            match self.peek() {
                None => return,
                Some(b']') => {
                    self.pos += 1;
                    return;
                }
                Some(b',') => {
                    self.pos += 1;
                    index += 1;
                }
                Some(_) => {
                    let before = self.pos;
                    self.value(&format!("{path}[{index}]"), false);
                    if self.pos == before {
                        self.bump();
                    }
                }
            }
        }
    }

    /// A bare key part or value: up to a delimiter (or `stop`), a `${...}` taken whole (its
    /// default may hold spaces, `,` or `#`).
    fn bare(&mut self, stop: impl Fn(u8) -> bool) {
        while let Some(byte) = self.peek() {
            if self.starts_with("${") {
                self.pos = self.reference_end(self.pos + 2);
            } else if ends_bare(byte) || stop(byte) {
                return;
            } else {
                self.bump();
            }
        }
    }

    /// Where a reference whose name starts at `from` ends: after its `}`, or at the line's end.
    fn reference_end(&self, from: usize) -> usize {
        let line_end = self.line_end(from);
        self.bytes[from..line_end]
            .iter()
            .position(|&b| b == b'}')
            .map_or(line_end, |n| from + n + 1)
    }

    /// A string of any of TOML's four kinds, the walk left after it; returns its content's range.
    fn string(&mut self, quote: u8) -> Range<usize> {
        let triple = if quote == b'"' { "\"\"\"" } else { "'''" };
        if !self.starts_with(triple) {
            return self.single_line_string(quote);
        }
        self.pos += 3;
        let start = self.pos;
        loop {
            match self.peek() {
                None => return start..self.pos,
                Some(b'\\') if quote == b'"' => self.pos = (self.pos + 2).min(self.bytes.len()),
                Some(_) if self.starts_with(triple) => {
                    // Up to two more quotes belong to the content (`"""a""""` is `a"`).
                    let mut end = self.pos;
                    while end < self.pos + 2 && self.bytes.get(end + 3) == Some(&quote) {
                        end += 1;
                    }
                    self.pos = end + 3;
                    return start..end;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// A one-line string (basic with escapes, or literal); ends at its quote or the line's end.
    fn single_line_string(&mut self, quote: u8) -> Range<usize> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                None | Some(b'\n') => return start..self.pos,
                Some(b'\\') if quote == b'"' => {
                    self.pos += 1;
                    if !matches!(self.peek(), None | Some(b'\n')) {
                        self.pos += 1;
                    }
                }
                Some(byte) if byte == quote => {
                    self.pos += 1;
                    return start..self.pos - 1;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Records the replacements of `$$` and the references in `span`, found at key `key`.
    fn substitute(&mut self, span: Range<usize>, key: &str) {
        let mut at = span.start;
        while let Some(offset) = self.bytes[at..span.end].iter().position(|&b| b == b'$') {
            let dollar = at + offset;
            let next = (dollar + 1 < span.end).then(|| self.bytes[dollar + 1]);
            match next {
                Some(b'$') => {
                    self.edits.push((dollar..dollar + 2, "$".to_owned()));
                    at = dollar + 2;
                }
                Some(b'{') => at = self.reference(dollar, span.end, key),
                _ => at = dollar + 1,
            }
        }
    }

    /// Resolves the reference at `dollar` (`${` there), which must close before `limit`;
    /// returns where to go on scanning.
    fn reference(&mut self, dollar: usize, limit: usize, key: &str) -> usize {
        let body_start = dollar + 2;
        let line_end = self.line_end(body_start).min(limit);
        let Some(close) = self.bytes[body_start..line_end]
            .iter()
            .position(|&b| b == b'}')
            .map(|n| body_start + n)
        else {
            self.problem(
                dollar,
                key,
                ProblemKind::Malformed("`${` is not closed by `}` on its line"),
            );
            return body_start;
        };
        match parse_reference(&self.text[body_start..close]) {
            Ok(reference) => {
                if let Some(value) = self.resolve(&reference, dollar, key) {
                    self.edits.push((dollar..close + 1, value));
                }
            }
            Err(why) => self.problem(dollar, key, ProblemKind::Malformed(why)),
        }
        close + 1
    }

    /// The value a well-formed reference stands for; `None` (and a problem) when it has none.
    fn resolve(&mut self, reference: &Reference<'_>, dollar: usize, key: &str) -> Option<String> {
        match ((self.lookup)(reference.name), reference.default) {
            (Ok(value), Some(Fallback::WhenUnsetOrEmpty(default))) if value.is_empty() => {
                Some(default.to_owned())
            }
            (Ok(value), _) => Some(value),
            (Err(VarError::NotPresent), Some(default)) => Some(default.text().to_owned()),
            (Err(VarError::NotPresent), None) => {
                let kind = ProblemKind::Missing(reference.name.to_owned());
                self.problem(dollar, key, kind);
                None
            }
            (Err(VarError::NotUnicode(_)), _) => {
                let kind = ProblemKind::NotUnicode(reference.name.to_owned());
                self.problem(dollar, key, kind);
                None
            }
        }
    }

    fn problem(&mut self, offset: usize, key: &str, kind: ProblemKind) {
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map_or(0, |n| n + 1);
        self.problems.push(Problem {
            kind,
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            key: key.to_owned(),
        });
    }
}

/// A well-formed `${...}`.
#[derive(Debug, PartialEq, Eq)]
struct Reference<'a> {
    name: &'a str,
    default: Option<Fallback<'a>>,
}

/// The two kinds of default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fallback<'a> {
    /// `:-`: when the variable is unset or empty.
    WhenUnsetOrEmpty(&'a str),
    /// `-`: when the variable is unset.
    WhenUnset(&'a str),
}

impl<'a> Fallback<'a> {
    fn text(self) -> &'a str {
        match self {
            Fallback::WhenUnsetOrEmpty(text) | Fallback::WhenUnset(text) => text,
        }
    }
}

/// Parses the inside of `${...}`: `NAME`, `NAME:-default` or `NAME-default`.
fn parse_reference(body: &str) -> Result<Reference<'_>, &'static str> {
    let name_len = body
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .unwrap_or(body.len());
    let (name, rest) = body.split_at(name_len);
    match name.bytes().next() {
        None => return Err("expected a variable name after `${`"),
        Some(first) if first.is_ascii_digit() => {
            return Err("a variable name starts with a letter or `_`")
        }
        Some(_) => {}
    }
    let default = if rest.is_empty() {
        None
    } else if let Some(default) = rest.strip_prefix(":-") {
        Some(Fallback::WhenUnsetOrEmpty(default))
    } else if let Some(default) = rest.strip_prefix('-') {
        Some(Fallback::WhenUnset(default))
    } else {
        return Err("expected `}`, `:-default` or `-default` after the variable name");
    };
    Ok(Reference { name, default })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The environment of the tests.
    fn env() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("URL", "http://127.0.0.1:9/hook"),
            ("PORT", "8080"),
            ("EMPTY", ""),
            ("TOKEN", "s3cr3t"),
            ("GREETING", "grüße, 世界 🎉"),
            ("_UNDER_9", "u"),
        ])
    }

    fn run(text: &str) -> Result<String, InterpolationError> {
        let env = env();
        interpolate(text, |name| {
            env.get(name)
                .map(|v| (*v).to_owned())
                .ok_or(VarError::NotPresent)
        })
    }

    #[test]
    fn references_are_replaced() {
        let cases = [
            // Plain, in strings and bare.
            (r#"url = "${URL}""#, r#"url = "http://127.0.0.1:9/hook""#),
            ("port = ${PORT}", "port = 8080"),
            ("name = '${_UNDER_9}'", "name = 'u'"),
            // Defaults: unset, empty, set.
            (r#"a = "${NOPE:-x y}""#, r#"a = "x y""#),
            ("port = ${NOPE:-9598}", "port = 9598"),
            (r#"a = "${EMPTY:-fallback}""#, r#"a = "fallback""#),
            (r#"a = "${EMPTY-fallback}""#, r#"a = """#),
            (r#"a = "${NOPE-fallback}""#, r#"a = "fallback""#),
            (r#"a = "${PORT:-1}""#, r#"a = "8080""#),
            (r#"a = "${NOPE:-}""#, r#"a = """#),
            // Set but empty, without a default, is empty.
            (r#"a = "[${EMPTY}]""#, r#"a = "[]""#),
            // Escapes and lone dollars.
            (r#"a = "$${URL}""#, r#"a = "${URL}""#),
            (r#"a = "$$""#, r#"a = "$""#),
            (r#"a = "$$$$ and $$$""#, r#"a = "$$ and $$""#),
            (
                r#"a = "$insert_id $ {x} 5$""#,
                r#"a = "$insert_id $ {x} 5$""#,
            ),
            // Unicode values, defaults and surroundings.
            (r#"a = "→${GREETING}←""#, r#"a = "→grüße, 世界 🎉←""#),
            (r#"a = "${NOPE:-ünï}""#, r#"a = "ünï""#),
            // Several on a line, in keys and headers, in inline tables and arrays.
            (
                r#"a = "${PORT}:${PORT}/${NOPE:-p}""#,
                r#"a = "8080:8080/p""#,
            ),
            (
                "h = { Authorization = \"Bearer ${TOKEN}\", port = ${PORT} }",
                "h = { Authorization = \"Bearer s3cr3t\", port = 8080 }",
            ),
            (
                "inputs = [\"${_UNDER_9}\", ${PORT}]",
                "inputs = [\"u\", 8080]",
            ),
            ("[sinks.${_UNDER_9}]\nx = 1", "[sinks.u]\nx = 1"),
            // Multi-line strings.
            (
                "a = \"\"\"\nline ${PORT}\n\"\"\"",
                "a = \"\"\"\nline 8080\n\"\"\"",
            ),
            ("a = '''${PORT}'''", "a = '''8080'''"),
        ];
        for (text, expected) in cases {
            assert_eq!(run(text).as_deref(), Ok(expected), "{text}");
        }
    }

    #[test]
    fn comments_and_templates_are_left_alone() {
        let cases = [
            "# url = \"${GONE}\"\na = 1",
            "a = 1 # ${GONE} and ${",
            "template = '{\"n\": ${input.n!0?c}, \"id\": \"${input[\"$insert_id\"]}\"}'",
            "[sinks.hook.events]\ntemplate = '''\n{\"who\": \"${input.user_id}\", \"x\": \"${x}\"}\n'''",
            "events.template = \"${input.event_type} $$\"",
            "events = { template = \"${input.event_type}\", enabled = true }",
        ];
        for text in cases {
            assert_eq!(run(text).as_deref(), Ok(text), "{text}");
        }
        // A key merely containing the word is not a template.
        assert_eq!(
            run("template_file = \"${_UNDER_9}.ftl\"").as_deref(),
            Ok("template_file = \"u.ftl\"")
        );
    }

    #[test]
    fn strings_end_where_toml_ends_them() {
        let cases = [
            // An escaped quote does not end a basic string; a `#` inside one is no comment.
            (
                r##"a = "\"#${PORT}" # ${GONE}"##,
                r##"a = "\"#8080" # ${GONE}"##,
            ),
            // A literal string has no escapes.
            (r"a = 'C:\${PORT}\' # ${GONE}", r"a = 'C:\8080\' # ${GONE}"),
            // Up to two quotes before the closing three belong to the content.
            (
                "a = \"\"\"x${PORT}\"\"\"\"\" # ${GONE}",
                "a = \"\"\"x8080\"\"\"\"\" # ${GONE}",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(run(text).as_deref(), Ok(expected), "{text}");
        }
    }

    fn problems(text: &str) -> Vec<String> {
        match run(text) {
            Ok(out) => panic!("accepted as {out:?}"),
            Err(error) => error.problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn every_missing_variable_is_reported_with_its_position_and_key() {
        let text = "\
data_dir = \"${DATA}\"

[sinks.hook]
type = \"webhook\"
url = \"${WEBHOOK_URL}\"
headers = { Authorization = \"Bearer ${API_TOKEN}\", X-Team = \"${TEAM:-growth}\" }
inputs = [\"in\", \"${SECOND}\"]

[[tables]]
x = 1
[[tables]]
  é = \"${LAST}\"
";
        assert_eq!(
            problems(text),
            [
                "environment variable DATA is not set (line 1, column 13, in key data_dir)",
                "environment variable WEBHOOK_URL is not set (line 5, column 8, in key sinks.hook.url)",
                "environment variable API_TOKEN is not set (line 6, column 37, in key sinks.hook.headers.Authorization)",
                "environment variable SECOND is not set (line 7, column 18, in key sinks.hook.inputs[1])",
                "environment variable LAST is not set (line 12, column 8, in key tables[1].é)",
            ]
        );
    }

    #[test]
    fn the_error_lists_all_problems_on_one_line() {
        let error = run("a = \"${ONE}${TWO}\"").unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable ONE is not set (line 1, column 6, in key a); \
             environment variable TWO is not set (line 1, column 12, in key a)"
        );
    }

    #[test]
    fn malformed_references_are_errors_with_their_position() {
        let cases = [
            ("a = \"${URL\"", "`${` is not closed by `}` on its line (line 1, column 6, in key a)"),
            ("a = ${URL\nb = 1", "`${` is not closed by `}` on its line (line 1, column 5, in key a)"),
            ("a = \"${}\"", "expected a variable name after `${` (line 1, column 6, in key a)"),
            ("a = \"x ${9LIVES}\"", "a variable name starts with a letter or `_` (line 1, column 8, in key a)"),
            ("a = \"${A.B}\"", "expected `}`, `:-default` or `-default` after the variable name (line 1, column 6, in key a)"),
            ("a = \"${A:?oops}\"", "expected `}`, `:-default` or `-default` after the variable name (line 1, column 6, in key a)"),
            ("a = \"${ URL }\"", "expected a variable name after `${` (line 1, column 6, in key a)"),
            ("[t]\n\"ü\" = \"${é}\"", "expected a variable name after `${` (line 2, column 8, in key t.ü)"),
        ];
        for (text, expected) in cases {
            let found = problems(text);
            assert_eq!(found.len(), 1, "{text}: {found:?}");
            assert_eq!(
                found[0],
                format!("malformed environment variable reference: {expected}"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_value_that_is_not_unicode_is_an_error() {
        let error = interpolate("a = \"${X}\"", |_| {
            Err(VarError::NotUnicode(std::ffi::OsString::from("x")))
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable X is not valid UTF-8 (line 1, column 6, in key a)"
        );
    }

    #[test]
    fn text_that_is_not_toml_is_walked_without_hanging() {
        // The parser reports these; the walk only has to finish and find the references.
        let cases = [
            "= = = ${PORT}",
            "[unclosed\nx = \"${PORT}",
            "a = { b = [1, { c = '${PORT}' ",
            "]]]}}},,,\"'''\"\"\"",
            "a = \"\"\"never closed ${PORT}",
            "\u{feff}日本 = ${PORT}",
        ];
        for text in cases {
            let out = run(text).unwrap();
            assert!(!out.contains("${PORT}"), "{text}: {out}");
        }
    }

    #[test]
    fn no_text_makes_the_walk_panic() {
        // A fixed pseudo-random soup of TOML's punctuation, references and multi-byte characters.
        const PIECES: [&str; 24] = [
            "$",
            "{",
            "}",
            "${",
            "${PORT}",
            "${NOPE:-d}",
            "$$",
            "\"",
            "'",
            "\"\"\"",
            "'''",
            "\\",
            "\n",
            "#",
            "[",
            "]",
            "[[",
            "=",
            ",",
            ".",
            " ",
            "é",
            "世",
            "template",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
            }
            let _ = run(&text);
        }
    }

    #[test]
    fn the_process_environment_is_read() {
        // PATH is set in every test environment; a name nobody sets is reported.
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(
            interpolate_env("p = '${PATH}'").unwrap(),
            format!("p = '{path}'")
        );
        let error = interpolate_env("p = '${PIPELINE_HOST_TEST_SURELY_UNSET_VARIABLE}'");
        assert!(error.is_err());
    }
}
