//! The parser: template text and FTL tags into an element tree, then white-space stripping, then [`Node`]s.
//!
//! Directives are parsed into a small arena first ([`ANode`]) because FreeMarker's white-space stripping
//! looks at neighbouring elements on the same line and at parent/sibling relations; the arena mirrors
//! FreeMarker's element tree closely enough to port its `postParseCleanup` rules (see `whitespace.rs`).

use crate::ast::*;
use crate::builtins::BuiltinId;
use crate::error::{syntax_err, Error};
use crate::escape::{self, Escape};
use crate::format_bridge::Number;
use crate::lexer::{next_token, skip_ws, Tok, Token};
use crate::settings::{InterpolationSyntax, Settings, TagSyntax};
use std::sync::Arc;

/// The kind of an arena element; mirrors FreeMarker's `TemplateElement` subclasses.
#[derive(Debug)]
pub(crate) enum AKind {
    Root,
    Text(String),
    Interp(Expr),
    LegacyInterp(Expr, Option<(usize, usize)>),
    Trim {
        left: bool,
        right: bool,
    },
    Comment,
    If,
    Branch(Option<Expr>),
    List {
        seq: Expr,
        vars: Option<LoopVars>,
    },
    ListElse,
    Items(LoopVars),
    Sep,
    Break,
    Continue,
    Switch(Expr),
    Case(Option<Expr>),
    Assign {
        scope: Scope,
        items: Vec<Assignment>,
    },
    Capture {
        scope: Scope,
        name: Box<str>,
    },
    Setting {
        name: Box<str>,
        value: Expr,
    },
    Attempt,
    Recover,
    Macro(MacroHead),
    Nested(Vec<Expr>),
    Return(Option<Expr>),
    Call(CallHead),
    Compress,
    /// `<#escape>`: its body's interpolations were rewritten as they were parsed.
    Escape,
    NoEscape,
    Stop(Option<Expr>),
    Flush,
    Taken,
}

#[derive(Debug)]
pub(crate) struct MacroHead {
    name: Box<str>,
    is_function: bool,
    params: Vec<(Box<str>, Option<Expr>)>,
    catch_all: Option<Box<str>>,
}

#[derive(Debug)]
pub(crate) struct CallHead {
    callee: Expr,
    named: Vec<(Box<str>, Expr)>,
    positional: Vec<Expr>,
    loop_vars: Vec<Box<str>>,
    has_body: bool,
}

/// One element of the arena tree.
#[derive(Debug)]
pub(crate) struct ANode {
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    /// Byte offset of the first character.
    pub begin: usize,
    /// Byte offset of the last character (inclusive).
    pub end: usize,
    pub kind: AKind,
    pub span: Span,
}

/// The element tree produced by the parser, before conversion into [`Node`]s.
pub(crate) struct Arena {
    pub nodes: Vec<ANode>,
}

/// Parses a whole template into nodes, with the syntax and white-space stripping `settings` choose.
pub(crate) fn parse(name: &str, src: &str, settings: &Settings) -> Result<Vec<Node>, Error> {
    let mut p = Parser {
        src,
        pos: 0,
        in_tag: false,
        paren: 0,
        arena: Arena {
            nodes: vec![ANode {
                parent: None,
                children: Vec::new(),
                begin: 0,
                end: 0,
                kind: AKind::Root,
                span: Span::default(),
            }],
        },
        stack: vec![0],
        strip_whitespace: settings.whitespace_stripping,
        square: settings.tag_syntax == TagSyntax::SquareBracket,
        auto_tags: settings.tag_syntax == TagSyntax::AutoDetect,
        interp: settings.interpolation_syntax,
        naming: None,
        strip_text: false,
        lists_with_items: Vec::new(),
        in_macro: 0,
        expr_depth: 0,
        too_deep: None,
        escapes: Vec::new(),
        unescaped: Vec::new(),
        escaped_nodes: 0,
    };
    let result = p.parse_template();
    let last_pos = p.pos;
    result.map_err(|e| {
        // errors at the end of the source point at its last character (an unclosed string: just past it)
        let e = match e.offset() {
            Some(usize::MAX) => e.set_offset(src.len()),
            Some(o) if o >= src.len() && !src.is_empty() => {
                let last = src.char_indices().last().map_or(0, |(i, _)| i);
                e.set_offset(last)
            }
            _ => e,
        };
        e.locate(name, src, last_pos)
    })?;
    let mut arena = p.arena;
    if p.strip_whitespace {
        let lines = crate::whitespace::LineIndex::new(src);
        crate::whitespace::strip(&mut arena, &lines);
    }
    Ok(convert_children(&mut arena, 0))
}

/// The naming convention established by a template's first identifier that has one (FreeMarker's
/// auto-detection): `is_camel` or legacy (`example_name`, directives `examplename`).
#[derive(Clone, Debug)]
struct Naming {
    is_camel: bool,
    /// The establishing token and its line and column, for the message.
    token: String,
    line: usize,
    column: usize,
}

/// The naming convention of an identifier of the template language: `Some(true)` camel case
/// (`upperCase`), `Some(false)` legacy (`upper_case`), `None` neither (`upper`).
fn naming_of(name: &str) -> Option<bool> {
    if name.contains('_') {
        Some(false)
    } else if name.chars().any(|c| c.is_ascii_uppercase()) {
        Some(true)
    } else {
        None
    }
}

/// FreeMarker 2.3.31's special variable names (`.now`), in both naming conventions.
const SPECIAL_VARIABLES: &[&str] = &[
    "args",
    "auto_esc",
    "autoEsc",
    "caller_template_name",
    "callerTemplateName",
    "current_node",
    "currentNode",
    "current_template_name",
    "currentTemplateName",
    "data_model",
    "dataModel",
    "error",
    "get_optional_template",
    "getOptionalTemplate",
    "globals",
    "incompatible_improvements",
    "incompatibleImprovements",
    "lang",
    "locale",
    "locale_object",
    "localeObject",
    "locals",
    "main",
    "main_template_name",
    "mainTemplateName",
    "namespace",
    "node",
    "now",
    "output_encoding",
    "outputEncoding",
    "output_format",
    "outputFormat",
    "pass",
    "template_name",
    "templateName",
    "time_zone",
    "timeZone",
    "url_escaping_charset",
    "urlEscapingCharset",
    "vars",
    "version",
];

/// Multi-word directive names in the legacy convention (their camel forms: `elseIf`, ...).
const LEGACY_DIRECTIVE_NAMES: &[&str] = &[
    "elseif",
    "noparse",
    "foreach",
    "noescape",
    "noautoesc",
    "outputformat",
    "autoesc",
];

/// What an FTL tag opening (`<#`, `</#`, `<@`, `</@` or their square-bracket forms) starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TagStart {
    Directive,
    End,
    Call,
    CallEnd,
}

struct Parser<'s> {
    src: &'s str,
    pos: usize,
    in_tag: bool,
    paren: u32,
    arena: Arena,
    stack: Vec<usize>,
    strip_whitespace: bool,
    /// Square-bracket tag syntax (`[#if ...]`): the `tag_syntax` setting or a leading `[#ftl]`.
    square: bool,
    /// `tag_syntax=auto_detect` before the first FTL tag: both kinds of tag are recognized, and
    /// the first one seen sets `square`.
    auto_tags: bool,
    /// Which interpolations (`${}`, `#{}`, `[=]`) are recognized, in text and string literals.
    interp: InterpolationSyntax,
    /// The naming convention of the template language's identifiers, set by the first one that
    /// has one (see [`Naming`]).
    naming: Option<Naming>,
    /// `<#ftl strip_text=true>`: top-level text is dropped.
    strip_text: bool,
    /// Arena indexes of the `#list`s without `as` that have their `#items`.
    lists_with_items: Vec<usize>,
    in_macro: u32,
    /// Current expression nesting (parentheses, unary operators, literals, arguments).
    expr_depth: u32,
    /// Set when directives nest deeper than [`MAX_DIRECTIVE_DEPTH`] (offset of the offending element).
    too_deep: Option<usize>,
    /// The open `<#escape>`s, innermost last, each with the outer ones applied.
    escapes: Vec<Escape>,
    /// The escapes an open `<#noescape>` set aside, innermost last.
    unescaped: Vec<Escape>,
    /// Expression nodes written by escapes so far, bounded by [`MAX_ESCAPED_NODES`].
    escaped_nodes: usize,
}

/// Most expression nodes escapes may write into one template: nested escapes multiply their
/// expressions, so a short template could otherwise grow a huge tree.
const MAX_ESCAPED_NODES: usize = 1 << 20;

/// Deepest expression nesting accepted; deeper input would only exhaust the stack of parser or renderer.
const MAX_EXPR_DEPTH: u32 = 64;
/// Deepest directive nesting accepted.
const MAX_DIRECTIVE_DEPTH: usize = 64;

type PResult<T> = Result<T, Error>;

fn err_at(pos: usize, msg: impl Into<String>) -> Error {
    syntax_err(msg).with_offset(pos)
}

const DIRECTIVES: &[&str] = &[
    "call",
    "if",
    "elseif",
    "else",
    "list",
    "items",
    "sep",
    "break",
    "continue",
    "switch",
    "case",
    "default",
    "assign",
    "local",
    "global",
    "setting",
    "attempt",
    "recover",
    "macro",
    "function",
    "nested",
    "return",
    "compress",
    "noparse",
    "t",
    "lt",
    "rt",
    "nt",
    "ftl",
    "stop",
    "flush",
    "include",
    "import",
    "visit",
    "recurse",
    "fallback",
    "escape",
    "noescape",
    "autoesc",
    "noautoesc",
    "outputformat",
    "foreach",
];

/// A boolean `#ftl` header parameter: `true`/`false`, or a string FreeMarker reads as one.
fn header_bool(value: &Expr) -> PResult<bool> {
    let at = value.span.start as usize;
    match &value.kind {
        ExprKind::Bool(b) => Ok(*b),
        ExprKind::Str(s) => match s.as_ref() {
            "true" | "yes" | "y" | "1" => Ok(true),
            "false" | "no" | "n" | "0" => Ok(false),
            other => Err(err_at(
                at,
                format!("Illegal boolean value: {other}\nExpecting boolean (true/false), found: {other:?}"),
            )),
        },
        _ => Err(err_at(at, "Expecting boolean (true/false) parameter")),
    }
}

/// Directives whose start tag needs parameters (`<#if>` alone is a malformed tag).
const NEEDS_PARAMETER: &[&str] = &[
    "if", "elseif", "list", "foreach", "switch", "case", "setting", "assign", "local", "global",
    "macro", "function", "items", "visit", "escape", "call",
];

/// Directives that have an end tag.
const HAS_END_TAG: &[&str] = &[
    "if",
    "recover",
    "list",
    "foreach",
    "items",
    "sep",
    "switch",
    "assign",
    "local",
    "global",
    "attempt",
    "macro",
    "function",
    "compress",
    "noparse",
    "escape",
    "noescape",
    "autoesc",
    "noautoesc",
    "outputformat",
];

/// FreeMarker 2.3.31's message for an unknown directive name.
fn unknown_directive(raw_name: &str) -> String {
    format!("Unknown directive: #{raw_name}. Help (latest version): http://freemarker.org/docs/ref_directive_alphaidx.html; you're using FreeMarker 2.3.31.")
}

/// FreeMarker's message for a known directive whose tag does not parse as a tag (`<#if>`,
/// `</#if x>`, `</#else>`).
fn malformed_tag(raw_name: &str) -> String {
    format!("#{raw_name} is an existing directive, but the tag is malformed.  (See FreeMarker Manual / Directive Reference.)")
}

fn canonical_directive(name: &str) -> String {
    match name {
        "elseIf" => "elseif".into(),
        "noParse" => "noparse".into(),
        "noEscape" => "noescape".into(),
        "noAutoEsc" => "noautoesc".into(),
        "outputFormat" => "outputformat".into(),
        "autoEsc" => "autoesc".into(),
        "forEach" => "foreach".into(),
        other => other.to_string(),
    }
}

impl<'s> Parser<'s> {
    fn current(&self) -> usize {
        *self.stack.last().unwrap_or(&0)
    }

    fn add(&mut self, kind: AKind, begin: usize, end: usize) -> usize {
        let parent = self.current();
        if self.stack.len() > MAX_DIRECTIVE_DEPTH {
            // reported by parse_template before anything deeper is parsed
            self.too_deep = Some(begin);
        }
        let idx = self.arena.nodes.len();
        self.arena.nodes.push(ANode {
            parent: Some(parent),
            children: Vec::new(),
            begin,
            end: end.max(begin),
            kind,
            span: Span::new(begin, end + 1),
        });
        self.arena.nodes[parent].children.push(idx);
        idx
    }

    fn add_text(&mut self, text: &str, begin: usize) -> PResult<()> {
        // `<#ftl strip_text=true>` drops the text directly in the template (not in directives)
        if text.is_empty() || (self.strip_text && self.stack.len() == 1) {
            return Ok(());
        }
        if let Some(off) = text.find(|c: char| !c.is_whitespace()) {
            self.refuse_in_switch(begin + off, &text[off..])?;
        }
        let end = begin + text.len() - text.chars().last().map_or(1, |c| c.len_utf8());
        self.add(AKind::Text(text.to_string()), begin, end);
        Ok(())
    }

    /// Refuses content other than white-space, comments and `#case`/`#default` directly inside
    /// `#switch`, as FreeMarker's grammar does. `what` starts with the offending token.
    fn refuse_in_switch(&self, at: usize, what: &str) -> PResult<()> {
        if !matches!(self.kind_of(self.current()), AKind::Switch(_)) {
            return Ok(());
        }
        let token = what.split(char::is_whitespace).next().unwrap_or(what);
        Err(err_at(
            at,
            format!(
                "Encountered {}, but was expecting #case or #default",
                jquote(token)
            ),
        ))
    }

    /// Checks an identifier of the template language (built-in, special variable, setting or
    /// header parameter name: `name`; directive: `token` like `<#elseIf`) at `at` against the
    /// template's naming convention, establishing it on first use.
    fn check_naming(&mut self, convention: Option<bool>, token: &str, at: usize) -> PResult<()> {
        let Some(is_camel) = convention else {
            return Ok(());
        };
        match &self.naming {
            None => {
                let before = &self.src[..at.min(self.src.len())];
                let line = before.matches('\n').count() + 1;
                let column = before
                    .rfind('\n')
                    .map_or(before, |i| &before[i + 1..])
                    .chars()
                    .count()
                    + 1;
                self.naming = Some(Naming {
                    is_camel,
                    token: token.to_string(),
                    line,
                    column,
                });
                Ok(())
            }
            Some(n) if n.is_camel == is_camel => Ok(()),
            Some(n) => {
                let which = if n.is_camel {
                    "camel case naming convention (like: exampleName)"
                } else {
                    "legacy naming convention (directive (tag) names are like examplename, everything else is like example_name)"
                };
                Err(err_at(
                    at,
                    format!(
                        "Naming convention mismatch. Identifiers that are part of the template language (not the user specified ones) must consistently use the same naming convention within the same template. This template uses {which} estabilished by auto-detection at line {}, column {} by token {:?}, but the problematic token, {token:?}, uses a different convention.",
                        n.line, n.column, n.token
                    ),
                ))
            }
        }
    }

    /// The naming convention of a directive name (`elseif` is legacy, `elseIf` camel case).
    fn directive_naming(raw_name: &str) -> Option<bool> {
        if raw_name.chars().any(|c| c.is_ascii_uppercase()) {
            Some(true)
        } else if LEGACY_DIRECTIVE_NAMES.contains(&raw_name) {
            Some(false)
        } else {
            None
        }
    }

    /// Whether the innermost macro-like definition being parsed is a `#function`.
    fn in_function(&self) -> bool {
        self.stack
            .iter()
            .rev()
            .find_map(|&i| match self.kind_of(i) {
                AKind::Macro(h) => Some(h.is_function),
                _ => None,
            })
            == Some(true)
    }

    fn kind_of(&self, idx: usize) -> &AKind {
        &self.arena.nodes[idx].kind
    }

    // ----- template level -----

    fn parse_template(&mut self) -> PResult<()> {
        self.parse_ftl_header()?;
        let src = self.src;
        let mut text_start = self.pos;
        while self.pos < src.len() {
            let rest = &src[self.pos..];
            let Some(off) = rest.find(['<', '[', '$', '#']) else {
                self.pos = src.len();
                break;
            };
            let at = self.pos + off;
            let r = &src[at..];
            let tag = self.tag_start_at(r);
            let is_interp = self.interpolation_starts(r);
            if tag.is_none() && !is_interp {
                self.pos = at + 1;
                continue;
            }
            if let Some((_, square)) = tag {
                // auto_detect: the first tag decides the syntax of the whole template
                self.square = square;
                self.auto_tags = false;
            }
            let text = &src[text_start..at];
            self.add_text(text, text_start)?;
            self.pos = at;
            if let Some(body) = r.strip_prefix(if self.square { "[#--" } else { "<#--" }) {
                let Some(e) = body.find(if self.square { "--]" } else { "-->" }) else {
                    return Err(err_at(at, "Unclosed comment"));
                };
                let end = at + 4 + e + 3;
                self.add(AKind::Comment, at, end - 1);
                self.pos = end;
            } else {
                match tag {
                    None => self.parse_interpolation()?,
                    Some((TagStart::Directive, _)) => self.parse_directive()?,
                    Some((TagStart::End, _)) => self.parse_end_tag()?,
                    Some((TagStart::CallEnd, _)) => self.parse_call_end()?,
                    Some((TagStart::Call, _)) => self.parse_call()?,
                }
            }
            text_start = self.pos;
            if let Some(at) = self.too_deep {
                return Err(err_at(at, format!("Directives are nested deeper than the supported {MAX_DIRECTIVE_DEPTH} levels")));
            }
        }
        let text = &src[text_start..];
        self.add_text(text, text_start)?;
        // Close implicitly closed #sep at the end; anything else still open is an error.
        while self.stack.len() > 1 {
            let top = self.current();
            match self.kind_of(top) {
                AKind::Sep => {
                    self.stack.pop();
                }
                _ => {
                    let what = match describe_open(self.kind_of(top)).as_str() {
                        "#assign" => "#assign or #local or #global".to_string(),
                        other => other.to_string(),
                    };
                    return Err(err_at(
                        self.src.len(),
                        format!("Unexpected end of file reached. You have an unclosed {what}. Check if the FreeMarker end-tags are present, and aren't malformed. (Note that FreeMarker end-tags must have # or @ after the / character.)"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The FTL tag starting `r` in the tag syntax in force (either syntax before auto-detection):
    /// its kind and whether it uses square brackets.
    fn tag_start_at(&self, r: &str) -> Option<(TagStart, bool)> {
        let square = match r.as_bytes().first() {
            Some(b'[') if self.square || self.auto_tags => true,
            Some(b'<') if !self.square || self.auto_tags => false,
            _ => return None,
        };
        let after = |n: usize, ok: fn(char) -> bool| r[n..].chars().next().is_some_and(ok);
        let r1 = &r[1..];
        if r1.starts_with('#') && after(2, |c| c.is_ascii_alphabetic() || c == '-') {
            Some((TagStart::Directive, square))
        } else if r1.starts_with("/#") && after(3, |c| c.is_ascii_alphabetic()) {
            Some((TagStart::End, square))
        } else if r1.starts_with('@') {
            Some((TagStart::Call, square))
        } else if r1.starts_with("/@") {
            Some((TagStart::CallEnd, square))
        } else {
            None
        }
    }

    /// Whether an interpolation of the `interpolation_syntax` in force starts `r`.
    fn interpolation_starts(&self, r: &str) -> bool {
        match self.interp {
            InterpolationSyntax::Legacy => r.starts_with("${") || r.starts_with("#{"),
            InterpolationSyntax::Dollar => r.starts_with("${"),
            InterpolationSyntax::SquareBracket => r.starts_with("[="),
        }
    }

    /// `<#ftl ...>` at the very start (only white-space may precede it).
    fn parse_ftl_header(&mut self) -> PResult<()> {
        let start = skip_ws(self.src, 0);
        let start = self.src[..start]
            .find(|c: char| !c.is_whitespace())
            .map_or(start, |_| start);
        let lead = &self.src[..start];
        let square = self.src[start..].starts_with("[#ftl");
        if !lead.chars().all(char::is_whitespace)
            || !(self.src[start..].starts_with("<#ftl") || square)
        {
            return Ok(());
        }
        let after = self.src[start + 5..].chars().next();
        let close = if square { ']' } else { '>' };
        if !matches!(after, Some(c) if c.is_whitespace() || c == close || c == '/') {
            return Ok(());
        }
        // the header's brackets choose the tag syntax, whatever the `tag_syntax` setting says
        self.square = square;
        self.auto_tags = false;
        self.pos = start + 5;
        self.in_tag = true;
        loop {
            let t = self.peek()?;
            match t.tok {
                Tok::TagEnd | Tok::EmptyTagEnd => {
                    self.pos = t.end;
                    break;
                }
                Tok::Ident(name) => {
                    self.pos = t.end;
                    self.expect(Tok::Assign, "=")?;
                    let value = self.parse_expr()?;
                    self.check_naming(naming_of(&name), &name, t.start)?;
                    match name.as_str() {
                        "strip_whitespace" | "stripWhitespace" => {
                            self.strip_whitespace = header_bool(&value)?
                        }
                        "strip_text" | "stripText" => self.strip_text = header_bool(&value)?,
                        "encoding" | "output_format" | "outputFormat" | "auto_esc" | "autoEsc"
                        | "ns_prefixes" | "nsPrefixes" | "attributes" => {}
                        _ => {
                            return Err(err_at(
                                t.start,
                                format!("Unknown FTL header parameter: {name}"),
                            ))
                        }
                    }
                }
                Tok::Comma => self.pos = t.end,
                _ => return Err(err_at(t.start, "Unexpected token in #ftl header")),
            }
        }
        self.in_tag = false;
        // The header and the rest of its line (if only white-space) are not output.
        let rest = &self.src[self.pos..];
        if let Some(nl) = rest.find('\n') {
            if rest[..nl].trim().is_empty() {
                self.pos += nl + 1;
            }
        }
        Ok(())
    }

    fn parse_interpolation(&mut self) -> PResult<()> {
        let start = self.pos;
        self.refuse_in_switch(start, &self.src[start..start + 2])?;
        self.pos += 2;
        self.in_tag = false;
        self.paren = 0;
        let legacy = self.src[start..].starts_with("#{");
        let square = self.src[start..].starts_with("[=");
        let e = self.parse_expr()?;
        let mut t = self.peek()?;
        let mut frac = None;
        if legacy && t.tok == Tok::Semicolon {
            // `#{x; m2M3}`: minimum / maximum fraction digits
            let rest = &self.src[t.end..];
            let close = rest
                .find('}')
                .ok_or_else(|| err_at(t.start, "Unclosed #{...}"))?;
            let spec = rest[..close].trim();
            let (mut min, mut max) = (None, None);
            let mut chars = spec.chars().peekable();
            while let Some(c) = chars.next() {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let n: usize = digits.parse().map_err(|_| {
                    err_at(
                        t.end,
                        format!("Invalid format specifier {spec:?} in #{{...}}"),
                    )
                })?;
                match c {
                    'm' => min = Some(n),
                    'M' => max = Some(n),
                    _ => {
                        return Err(err_at(
                            t.end,
                            format!("Invalid format specifier {spec:?} in #{{...}}"),
                        ))
                    }
                }
            }
            let min_v = min.unwrap_or(0);
            let max_v = max.unwrap_or(min_v.max(min.map_or(0, |m| m))).max(min_v);
            frac = Some((
                min_v,
                if max.is_none() && min.is_some() {
                    min_v
                } else {
                    max_v
                },
            ));
            self.pos = t.end + close;
            t = self.peek()?;
        }
        if legacy {
            if t.tok != Tok::RBrace {
                return Err(err_at(
                    t.start,
                    format!(
                        "Encountered {}, but was expecting \"}}\"",
                        self.describe(&t.tok, t.start, t.end)
                    ),
                ));
            }
            self.pos = t.end;
            self.add(AKind::LegacyInterp(e, frac), start, t.end - 1);
            return Ok(());
        }
        let close = if square { Tok::RBracket } else { Tok::RBrace };
        if t.tok != close {
            return Err(err_at(
                t.start,
                format!(
                    "Encountered {}, but was expecting \"{}\"",
                    self.describe(&t.tok, t.start, t.end),
                    if square { ']' } else { '}' }
                ),
            ));
        }
        self.pos = t.end;
        let e = self.escaped(e, start)?;
        self.add(AKind::Interp(e), start, t.end - 1);
        Ok(())
    }

    /// `e`, the expression of a `${...}` at `at`, as the innermost open `<#escape>` writes it.
    fn escaped(&mut self, e: Expr, at: usize) -> PResult<Expr> {
        let Some(escape) = self.escapes.last() else {
            return Ok(e);
        };
        let mut escaped = escape.apply(&e);
        // Where the output came from is the interpolation, not the `<#escape>` tag.
        escaped.span = e.span;
        self.count_escaped(&mut escaped, at)?;
        Ok(escaped)
    }

    fn count_escaped(&mut self, e: &mut Expr, at: usize) -> PResult<()> {
        self.escaped_nodes += escape::size(e);
        if self.escaped_nodes > MAX_ESCAPED_NODES {
            let message = format!(
                "Nested #escape expressions would write more than {MAX_ESCAPED_NODES} expression \
                 nodes into this template (a sandbox limit)"
            );
            return Err(Error::new(crate::error::ErrorKind::Limit, message).with_offset(at));
        }
        Ok(())
    }

    /// The characters that open and close tags in the current tag syntax.
    fn tag_chars(&self) -> (char, char) {
        if self.square {
            ('[', ']')
        } else {
            ('<', '>')
        }
    }

    /// Reads the directive name after `<#` / `</#`.
    fn read_name(&mut self) -> String {
        let rest = &self.src[self.pos..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        self.pos += len;
        rest[..len].to_string()
    }

    /// Finishes a tag: expects `>` or `/>`; returns (offset of the last char, was it `/>`).
    fn finish_tag(&mut self) -> PResult<(usize, bool)> {
        let t = self.peek()?;
        self.in_tag = false;
        match t.tok {
            Tok::TagEnd => {
                self.pos = t.end;
                Ok((t.end - 1, false))
            }
            Tok::EmptyTagEnd => {
                self.pos = t.end;
                Ok((t.end - 1, true))
            }
            other => Err(err_at(
                t.start,
                format!(
                    "Encountered {}, but was expecting \">\"",
                    self.describe(&other, t.start, t.end)
                ),
            )),
        }
    }

    /// Finishes the start tag of a directive with a body: `/>` is refused where `>` must be.
    fn finish_open_tag(&mut self) -> PResult<(usize, bool)> {
        let t = self.peek()?;
        if t.tok == Tok::EmptyTagEnd {
            self.in_tag = false;
            return Err(self.not_expected(&t, "\">\""));
        }
        self.finish_tag()
    }

    fn parse_directive(&mut self) -> PResult<()> {
        let start = self.pos;
        self.pos += 2;
        let raw_name = self.read_name();
        let name = canonical_directive(&raw_name);
        if !DIRECTIVES.contains(&name.as_str()) {
            return Err(err_at(start + 1, unknown_directive(&raw_name)));
        }
        let token = format!("{}{raw_name}", &self.src[start..start + 2]);
        self.check_naming(Self::directive_naming(&raw_name), &token, start)?;
        self.in_tag = true;
        self.paren = 0;
        let name_end = self.pos;
        if name_end == self.src.len() {
            // `<#if` at the very end is no tag at all
            return Err(err_at(start + 1, malformed_tag(&raw_name)));
        }
        if NEEDS_PARAMETER.contains(&name.as_str())
            && matches!(self.peek()?.tok, Tok::TagEnd | Tok::EmptyTagEnd)
        {
            // FreeMarker's lexer knows `<#if` only followed by white-space: a bare `<#if>` is a
            // malformed tag (blamed on the directive), while `<#if >` lacks an expression
            let blank = self.src[name_end..].starts_with(char::is_whitespace);
            if !blank {
                return Err(err_at(start + 1, malformed_tag(&raw_name)));
            }
        }
        if matches!(
            name.as_str(),
            "attempt" | "recover" | "compress" | "sep" | "noparse"
        ) && self.peek()?.tok == Tok::EmptyTagEnd
        {
            // FreeMarker knows these tags only as `<#attempt>`: `<#attempt/>` is malformed
            return Err(err_at(start + 1, malformed_tag(&raw_name)));
        }
        match name.as_str() {
            "if" => {
                let cond = self.parse_expr()?;
                let (end, _) = self.finish_open_tag()?;
                let ifn = self.add(AKind::If, start, end);
                self.stack.push(ifn);
                let b = self.add(AKind::Branch(Some(cond)), start, end);
                self.stack.push(b);
            }
            "elseif" => {
                let cond = self.parse_expr()?;
                let (end, _) = self.finish_tag()?;
                self.close_sep();
                let top = self.current();
                if !matches!(self.kind_of(top), AKind::Branch(Some(_))) {
                    return Err(err_at(
                        start,
                        "Unexpected directive #elseif: it must be inside #if, before #else",
                    ));
                }
                self.stack.pop();
                let b = self.add(AKind::Branch(Some(cond)), start, end);
                self.stack.push(b);
            }
            "else" => {
                let (end, _) = self.finish_tag()?;
                self.close_sep();
                let top = self.current();
                match self.kind_of(top) {
                    AKind::Branch(Some(_)) => {
                        self.stack.pop();
                        let b = self.add(AKind::Branch(None), start, end);
                        self.stack.push(b);
                    }
                    AKind::List { .. } => {
                        self.stack.pop();
                        let le = self.add(AKind::ListElse, start, end);
                        self.stack.push(le);
                    }
                    _ => {
                        return Err(err_at(
                            start,
                            "Unexpected directive #else: it must be inside #if or #list",
                        ))
                    }
                }
            }
            "foreach" => {
                // the deprecated `<#foreach x in seq>`
                let first = self.expect_ident("loop variable name")?;
                let t = self.peek()?;
                if !matches!(&t.tok, Tok::Ident(s) if s == "in") {
                    return Err(self.not_expected(&t, "\"in\""));
                }
                self.pos = t.end;
                let seq = self.parse_expr()?;
                let vars = Some(LoopVars {
                    first: first.into(),
                    value: None,
                });
                let (end, _) = self.finish_open_tag()?;
                let n = self.add(AKind::List { seq, vars }, start, end);
                self.stack.push(n);
            }
            "list" => {
                let seq = self.parse_expr()?;
                let vars = self.parse_loop_vars(false)?;
                let (end, _) = self.finish_open_tag()?;
                let n = self.add(AKind::List { seq, vars }, start, end);
                self.stack.push(n);
            }
            "items" => {
                // the tag's syntax is checked before where it stands
                let vars = self
                    .parse_loop_vars(true)?
                    .ok_or_else(|| err_at(start, "#items needs \"as\""))?;
                let (end, _) = self.finish_open_tag()?;
                if !self.inside(|k| matches!(k, AKind::List { vars: None, .. })) {
                    return Err(err_at(
                        start,
                        "#items must be inside a #list block (one without \"as\").",
                    ));
                }
                // the #items belongs to the innermost #list without `as`
                if let Some(&list) = self
                    .stack
                    .iter()
                    .rev()
                    .find(|&&i| matches!(self.kind_of(i), AKind::List { vars: None, .. }))
                {
                    self.lists_with_items.push(list);
                }
                let n = self.add(AKind::Items(vars), start, end);
                self.stack.push(n);
            }
            "sep" => {
                if !self.inside(|k| matches!(k, AKind::List { .. } | AKind::Items(_))) {
                    return Err(err_at(
                        start,
                        "#sep must be inside a #list (or #items) block.",
                    ));
                }
                let (end, empty) = self.finish_tag()?;
                let n = self.add(AKind::Sep, start, end);
                if !empty {
                    self.stack.push(n);
                }
            }
            "break" => {
                if !self.inside(|k| {
                    matches!(
                        k,
                        AKind::List { .. } | AKind::Items(_) | AKind::Case(_) | AKind::Switch(_)
                    )
                }) {
                    return Err(err_at(start, "#break must be nested inside a directive that supports it: #list with \"as\", #items, #switch"));
                }
                let (end, _) = self.finish_tag()?;
                self.add(AKind::Break, start, end);
            }
            "continue" => {
                if !self.inside(|k| matches!(k, AKind::List { .. } | AKind::Items(_))) {
                    return Err(err_at(start, "#continue must be nested inside a directive that supports it: #list with \"as\", #items"));
                }
                let (end, _) = self.finish_tag()?;
                self.add(AKind::Continue, start, end);
            }
            "switch" => {
                let v = self.parse_expr()?;
                let (end, _) = self.finish_open_tag()?;
                let n = self.add(AKind::Switch(v), start, end);
                self.stack.push(n);
            }
            "case" | "default" => {
                let v = if name == "case" {
                    Some(self.parse_expr()?)
                } else {
                    None
                };
                let (end, _) = if name == "case" {
                    self.finish_open_tag()?
                } else {
                    self.finish_tag()?
                };
                let top = self.current();
                if matches!(self.kind_of(top), AKind::Case(_)) {
                    self.stack.pop();
                }
                let top = self.current();
                if !matches!(self.kind_of(top), AKind::Switch(_)) {
                    return Err(err_at(
                        start,
                        format!("Unexpected directive #{name}: it must be inside #switch"),
                    ));
                }
                let has_default = self.arena.nodes[top]
                    .children
                    .iter()
                    .any(|&c| matches!(self.kind_of(c), AKind::Case(None)));
                if v.is_none() && has_default {
                    let switch_start = self.arena.nodes[top].begin;
                    return Err(err_at(
                        switch_start,
                        "You can only have one default case in a switch statement",
                    ));
                }
                let n = self.add(AKind::Case(v), start, end);
                self.stack.push(n);
            }
            "assign" | "local" | "global" => {
                let scope = match name.as_str() {
                    "assign" => Scope::Namespace,
                    "local" => Scope::Local,
                    _ => Scope::Global,
                };
                if scope == Scope::Local && self.in_macro == 0 {
                    return Err(err_at(
                        start,
                        "The #local directive can only be used inside a macro or function",
                    ));
                }
                self.parse_assign(start, scope)?;
            }
            "setting" => {
                let t = self.peek()?;
                let Tok::Ident(sname) = t.tok else {
                    return Err(err_at(t.start, "Expecting a setting name after #setting"));
                };
                crate::settings::check_template_setting(&sname).map_err(|m| err_at(t.start, m))?;
                self.check_naming(naming_of(&sname), &sname, t.start)?;
                self.pos = t.end;
                self.expect(Tok::Assign, "=")?;
                let value = self.parse_expr()?;
                let (end, _) = self.finish_tag()?;
                self.add(
                    AKind::Setting {
                        name: sname.into(),
                        value,
                    },
                    start,
                    end,
                );
            }
            "attempt" => {
                let (end, _) = self.finish_tag()?;
                let n = self.add(AKind::Attempt, start, end);
                self.stack.push(n);
            }
            "recover" => {
                let (end, _) = self.finish_tag()?;
                let top = self.current();
                if !matches!(self.kind_of(top), AKind::Attempt) {
                    return Err(err_at(
                        start,
                        "Unexpected directive #recover: it must be inside #attempt",
                    ));
                }
                let n = self.add(AKind::Recover, start, end);
                self.stack.push(n);
            }
            "macro" | "function" => self.parse_macro(start, name == "function")?,
            "nested" => {
                if self.in_macro == 0 {
                    return Err(err_at(start, "#nested can only be used inside a #macro."));
                }
                let mut args = Vec::new();
                loop {
                    let t = self.peek()?;
                    match t.tok {
                        Tok::TagEnd | Tok::EmptyTagEnd => break,
                        Tok::Comma => self.pos = t.end,
                        _ => args.push(self.parse_expr()?),
                    }
                }
                let (end, _) = self.finish_tag()?;
                self.add(AKind::Nested(args), start, end);
            }
            "return" => {
                if self.in_macro == 0 {
                    return Err(err_at(
                        start,
                        "#return can only be used inside a #macro or #function.",
                    ));
                }
                let t = self.peek()?;
                let v = if matches!(t.tok, Tok::TagEnd | Tok::EmptyTagEnd) {
                    None
                } else {
                    Some(self.parse_expr()?)
                };
                if v.is_none() && self.in_function() {
                    return Err(err_at(start, "A function must return a value"));
                }
                let (end, _) = self.finish_tag()?;
                self.add(AKind::Return(v), start, end);
            }
            "stop" => {
                let t = self.peek()?;
                let v = if matches!(t.tok, Tok::TagEnd | Tok::EmptyTagEnd) {
                    None
                } else {
                    Some(self.parse_expr()?)
                };
                let (end, _) = self.finish_tag()?;
                self.add(AKind::Stop(v), start, end);
            }
            "flush" => {
                let (end, _) = self.finish_tag()?;
                self.add(AKind::Flush, start, end);
            }
            "t" | "lt" | "rt" | "nt" => {
                let (end, _) = self.finish_tag()?;
                let (left, right) = match name.as_str() {
                    "t" => (true, true),
                    "lt" => (true, false),
                    "rt" => (false, true),
                    _ => (false, false),
                };
                self.add(AKind::Trim { left, right }, start, end);
            }
            "compress" => {
                let (end, empty) = self.finish_tag()?;
                let n = self.add(AKind::Compress, start, end);
                if !empty {
                    self.stack.push(n);
                }
            }
            "noparse" => {
                let (end, _) = self.finish_tag()?;
                let _ = end;
                let rest = &self.src[self.pos..];
                let close = find_noparse_end(rest, self.square, raw_name == "noParse")
                    .ok_or_else(|| err_at(start, "Unclosed #noparse"))?;
                let body_start = self.pos;
                let body = &self.src[body_start..body_start + close.0];
                self.add_text(body, body_start)?;
                self.pos = body_start + close.1;
            }
            "ftl" => {
                return Err(err_at(
                    start,
                    "The \"ftl\" directive can only be at the very beginning of the template",
                ));
            }
            "call" => self.parse_call_directive(start)?,
            "include" | "import" | "visit" | "recurse" | "fallback" => {
                return Err(err_at(
                    start,
                    format!("The #{name} directive is not supported in this sandboxed FreeMarker engine"),
                ));
            }
            "escape" => {
                // `as`, `in` and `using` are keywords to FreeMarker's lexer, never a name
                let t = self.peek()?;
                if matches!(&t.tok, Tok::Ident(s) if matches!(s.as_str(), "as" | "in" | "using")) {
                    return Err(self.not_expected(&t, "a variable name"));
                }
                let var = self.expect_ident("variable name")?;
                let t = self.peek()?;
                if !matches!(&t.tok, Tok::Ident(s) if s == "as") {
                    return Err(self.not_expected(&t, "\"as\""));
                }
                self.pos = t.end;
                let expr = self.parse_expr()?;
                let (end, _) = self.finish_open_tag()?;
                let mut expr = match self.escapes.last() {
                    Some(outer) => outer.apply(&expr),
                    None => expr,
                };
                self.count_escaped(&mut expr, start)?;
                let n = self.add(AKind::Escape, start, end);
                self.stack.push(n);
                self.escapes.push(Escape {
                    var: var.into(),
                    expr,
                });
            }
            "noescape" => {
                let Some(escape) = self.escapes.pop() else {
                    return Err(err_at(
                        start,
                        "#noescape with no matching #escape encountered.",
                    ));
                };
                self.unescaped.push(escape);
                let (end, _) = self.finish_open_tag()?;
                let n = self.add(AKind::NoEscape, start, end);
                self.stack.push(n);
            }
            "autoesc" | "noautoesc" | "outputformat" => {
                return Err(err_at(
                    start,
                    format!("The #{name} directive is not supported yet"),
                ));
            }
            _ => return Err(err_at(start + 1, format!("Unknown directive: #{raw_name}"))),
        }
        Ok(())
    }

    /// Whether an open element (innermost first, not looking outside the current macro) satisfies `pred`.
    fn inside(&self, pred: impl Fn(&AKind) -> bool) -> bool {
        for &i in self.stack.iter().rev() {
            let k = self.kind_of(i);
            if pred(k) {
                return true;
            }
            if matches!(k, AKind::Macro(_)) {
                return false;
            }
        }
        false
    }

    /// Implicitly closes an open `<#sep>` (it ends where its enclosing block continues).
    fn close_sep(&mut self) {
        let top = self.current();
        if matches!(self.kind_of(top), AKind::Sep) {
            self.stack.pop();
        }
    }

    fn parse_loop_vars(&mut self, required: bool) -> PResult<Option<LoopVars>> {
        let t = self.peek()?;
        match &t.tok {
            Tok::Ident(s) if s == "as" => {
                self.pos = t.end;
                let first = self.expect_ident("loop variable name")?;
                let t2 = self.peek()?;
                let value = if t2.tok == Tok::Comma {
                    self.pos = t2.end;
                    Some(self.expect_ident("loop variable name")?.into())
                } else {
                    None
                };
                Ok(Some(LoopVars {
                    first: first.into(),
                    value,
                }))
            }
            _ if required => Err(err_at(t.start, "Expecting \"as\"")),
            _ => Ok(None),
        }
    }

    fn parse_assign(&mut self, start: usize, scope: Scope) -> PResult<()> {
        let mut items = Vec::new();
        // after an assignment: the comma (if any) and the token that must start the next one;
        // FreeMarker blames the first of them when no assignment follows (`x=1 y>`, `x=1, y>`)
        let mut next_start: Option<Token> = None;
        loop {
            let t = self.peek()?;
            let name: String = match &t.tok {
                Tok::Ident(n) => n.clone(),
                Tok::Str { value, .. } => value.clone(),
                Tok::TagEnd | Tok::EmptyTagEnd if !items.is_empty() => match next_start {
                    Some(comma) => return Err(self.not_expected(&comma, "\">\"")),
                    None => break,
                },
                Tok::Comma if !items.is_empty() && next_start.is_none() => {
                    self.pos = t.end;
                    next_start = Some(t);
                    continue;
                }
                _ => {
                    return Err(err_at(
                        t.start,
                        "Expecting a variable name in the assignment",
                    ))
                }
            };
            self.pos = t.end;
            let op_tok = self.peek()?;
            let op = match op_tok.tok {
                Tok::Assign => AssignOp::Set,
                Tok::PlusAssign => AssignOp::Add,
                Tok::MinusAssign => AssignOp::Sub,
                Tok::StarAssign => AssignOp::Mul,
                Tok::SlashAssign => AssignOp::Div,
                Tok::PercentAssign => AssignOp::Rem,
                Tok::PlusPlus => AssignOp::Inc,
                Tok::MinusMinus => AssignOp::Dec,
                Tok::TagEnd if items.is_empty() => {
                    // capture form: <#assign x>...</#assign>
                    self.pos = op_tok.end;
                    self.in_tag = false;
                    let n = self.add(
                        AKind::Capture {
                            scope,
                            name: name.into(),
                        },
                        start,
                        op_tok.end - 1,
                    );
                    self.stack.push(n);
                    return Ok(());
                }
                Tok::Ident(ref s) if s == "in" => {
                    return Err(err_at(
                        op_tok.start,
                        "Assignments into namespaces (\"in\") are not supported",
                    ))
                }
                _ if !items.is_empty() => {
                    let blamed = next_start.unwrap_or(t);
                    return Err(self.not_expected(&blamed, "\">\""));
                }
                _ => {
                    return Err(err_at(
                        op_tok.start,
                        format!(
                            "Encountered {}, but was expecting an assignment operator",
                            self.describe(&op_tok.tok, op_tok.start, op_tok.end)
                        ),
                    ))
                }
            };
            self.pos = op_tok.end;
            let value = if matches!(op, AssignOp::Inc | AssignOp::Dec) {
                None
            } else {
                Some(self.parse_expr()?)
            };
            items.push(Assignment {
                name: name.into(),
                op,
                value,
                span: Span::new(t.start, self.pos),
            });
            next_start = None;
        }
        let (end, _) = self.finish_tag()?;
        self.add(AKind::Assign { scope, items }, start, end);
        Ok(())
    }

    fn parse_macro(&mut self, start: usize, is_function: bool) -> PResult<()> {
        if self.in_macro > 0 {
            return Err(err_at(
                start,
                "Macro or function definitions can't be nested into each other.",
            ));
        }
        let t = self.peek()?;
        let name: String = match t.tok {
            Tok::Ident(n) => n,
            Tok::Str { value, .. } => value,
            _ => return Err(err_at(t.start, "Expecting the macro/function name")),
        };
        self.pos = t.end;
        let mut params = Vec::new();
        let mut catch_all = None;
        let mut parens = false;
        loop {
            let t = self.peek()?;
            match t.tok {
                Tok::TagEnd if !parens => break,
                Tok::LParen if params.is_empty() && !parens => {
                    parens = true;
                    self.pos = t.end;
                }
                Tok::RParen if parens => {
                    parens = false;
                    self.pos = t.end;
                }
                Tok::Comma => self.pos = t.end,
                Tok::Ident(p) => {
                    self.pos = t.end;
                    if catch_all.is_some() {
                        return Err(err_at(
                            t.start,
                            "There can be no parameter after the catch-all parameter",
                        ));
                    }
                    let n = self.peek()?;
                    match n.tok {
                        Tok::Assign => {
                            self.pos = n.end;
                            let d = self.parse_expr()?;
                            params.push((p.into(), Some(d)));
                        }
                        Tok::Ellipsis => {
                            self.pos = n.end;
                            catch_all = Some(p.into());
                        }
                        _ => {
                            if params
                                .iter()
                                .any(|(_, d): &(Box<str>, Option<Expr>)| d.is_some())
                            {
                                return Err(err_at(
                                    t.start,
                                    "In a macro/function definition, parameters without default value must come before those with one",
                                ));
                            }
                            params.push((p.into(), None));
                        }
                    }
                }
                other => {
                    return Err(err_at(
                        t.start,
                        format!(
                            "Encountered {}, but was expecting a parameter name",
                            self.describe(&other, t.start, t.end)
                        ),
                    ))
                }
            }
        }
        let (end, _) = self.finish_tag()?;
        let n = self.add(
            AKind::Macro(MacroHead {
                name: name.into(),
                is_function,
                params,
                catch_all,
            }),
            start,
            end,
        );
        self.stack.push(n);
        self.in_macro += 1;
        Ok(())
    }

    fn parse_call(&mut self) -> PResult<()> {
        let start = self.pos;
        self.pos += 2;
        self.in_tag = true;
        self.paren = 0;
        // the callee: a name with `.name` / `[expr]` steps
        let t = self.peek()?;
        let mut callee = match t.tok {
            Tok::Ident(first) => {
                self.pos = t.end;
                Expr {
                    kind: ExprKind::Var(first.into()),
                    span: Span::new(t.start, t.end),
                }
            }
            // `<@"m"/>` parses; that a string is no directive is a render error, as in FreeMarker
            Tok::Str { .. } => self.parse_atom()?,
            _ => return Err(err_at(t.start, "Expecting a macro name after <@")),
        };
        loop {
            let n = self.peek()?;
            if n.start != self.pos {
                break;
            }
            match n.tok {
                Tok::Dot => {
                    self.pos = n.end;
                    let name = self.expect_ident("name after '.'")?;
                    let span = callee.span.to(Span::new(n.start, self.pos));
                    callee = Expr {
                        kind: ExprKind::Dot(Box::new(callee), name.into(), KeyHint::default()),
                        span,
                    };
                }
                // `<@m?with_args([1]) .../>`
                Tok::Question => {
                    self.bump()?;
                    callee = self.parse_builtin_suffix(callee)?;
                }
                _ => break,
            }
        }
        let mut named = Vec::new();
        let mut positional = Vec::new();
        let mut loop_vars = Vec::new();
        loop {
            let t = self.peek()?;
            match &t.tok {
                Tok::TagEnd | Tok::EmptyTagEnd => break,
                // `<@m/ >`: FreeMarker blames what follows a `/` written against the name
                Tok::Slash if t.start == callee.span.end as usize => {
                    return Err(err_at(t.end, "Expecting \">\" right after the \"/\""));
                }
                Tok::Comma => self.pos = t.end,
                Tok::Semicolon => {
                    self.pos = t.end;
                    loop {
                        let v = self.peek()?;
                        match v.tok {
                            Tok::Ident(name) => {
                                self.pos = v.end;
                                loop_vars.push(name.into());
                            }
                            Tok::Comma => self.pos = v.end,
                            _ => break,
                        }
                    }
                }
                Tok::Ident(name) => {
                    let save = self.pos;
                    self.pos = t.end;
                    let n = self.peek()?;
                    if n.tok == Tok::Assign && positional.is_empty() {
                        self.pos = n.end;
                        let v = self.parse_expr()?;
                        named.push((name.as_str().into(), v));
                    } else {
                        self.pos = save;
                        if !named.is_empty() {
                            return Err(err_at(
                                t.start,
                                "Expecting a named parameter (name=value)",
                            ));
                        }
                        positional.push(self.parse_expr()?);
                    }
                }
                _ => {
                    if !named.is_empty() {
                        return Err(err_at(t.start, "Expecting a named parameter (name=value)"));
                    }
                    positional.push(self.parse_expr()?);
                }
            }
        }
        let (end, empty) = self.finish_tag()?;
        let n = self.add(
            AKind::Call(CallHead {
                callee,
                named,
                positional,
                loop_vars,
                has_body: !empty,
            }),
            start,
            end,
        );
        if !empty {
            self.stack.push(n);
        }
        Ok(())
    }

    /// The deprecated `<#call name args>`: `<@name args/>` with the arguments either named,
    /// positional (commas optional) or in parentheses; it has no body.
    fn parse_call_directive(&mut self, start: usize) -> PResult<()> {
        let t = self.peek()?;
        let Tok::Ident(name) = t.tok else {
            return Err(self.not_expected(&t, "a macro name"));
        };
        self.pos = t.end;
        let callee = Expr {
            kind: ExprKind::Var(name.into()),
            span: Span::new(t.start, t.end),
        };
        let mut named = Vec::new();
        let mut positional = Vec::new();
        if self.peek()?.tok == Tok::LParen {
            self.bump()?;
            (positional, _) = self.parse_separated(Tok::RParen, ")", false, |p| p.parse_expr())?;
        } else {
            loop {
                let t = self.peek()?;
                match &t.tok {
                    Tok::TagEnd | Tok::EmptyTagEnd => break,
                    Tok::Comma if named.is_empty() && !positional.is_empty() => self.pos = t.end,
                    Tok::Ident(arg)
                        if positional.is_empty() && self.followed_by_assign(t.end)? =>
                    {
                        self.pos = t.end;
                        self.pos = self.peek()?.end;
                        named.push((arg.as_str().into(), self.parse_expr()?));
                    }
                    _ if !named.is_empty() => {
                        return Err(self.not_expected(&t, "a named parameter (name=value)"))
                    }
                    _ => positional.push(self.parse_expr()?),
                }
            }
        }
        let (end, _) = self.finish_tag()?;
        let head = CallHead {
            callee,
            named,
            positional,
            loop_vars: Vec::new(),
            has_body: false,
        };
        self.add(AKind::Call(head), start, end);
        Ok(())
    }

    /// Whether the token after offset `at` is `=`.
    fn followed_by_assign(&mut self, at: usize) -> PResult<bool> {
        let save = self.pos;
        self.pos = at;
        let next = self.peek()?;
        self.pos = save;
        Ok(next.tok == Tok::Assign)
    }

    fn parse_call_end(&mut self) -> PResult<()> {
        let start = self.pos;
        let Some(close) = self.src[start..].find(self.tag_chars().1) else {
            return Err(err_at(start, "Unclosed end tag"));
        };
        self.pos = start + close + 1;
        self.close_sep();
        let top = self.current();
        match self.kind_of(top) {
            AKind::Call(_) => {
                // `</@>` or `</@name>` with the start tag's name (`m.x`) exactly
                let end_name = self.src[start + 3..start + close].trim_end();
                let begin = self.arena.nodes[top].begin + 2;
                let callee_len = self.src[begin..]
                    .find(|c: char| !(c.is_alphanumeric() || "_$@.-".contains(c)))
                    .unwrap_or(self.src.len() - begin);
                let callee = &self.src[begin..begin + callee_len];
                if !end_name.is_empty() && end_name != callee {
                    return Err(err_at(start, format!("Expecting </@> or </@{callee}>")));
                }
                self.arena.nodes[top].end = self.pos - 1;
                self.arena.nodes[top].span.end = self.pos as u32;
                self.stack.pop();
                Ok(())
            }
            _ => Err(err_at(
                start,
                "Unexpected end tag for a user-defined directive call",
            )),
        }
    }

    fn parse_end_tag(&mut self) -> PResult<()> {
        let start = self.pos;
        self.pos += 3;
        let raw = self.read_name();
        let name = canonical_directive(&raw);
        // FreeMarker blames the `/` of an end tag it cannot read as one
        if !DIRECTIVES.contains(&name.as_str()) {
            return Err(err_at(start + 1, unknown_directive(&raw)));
        }
        let token = format!("{}{raw}", &self.src[start..start + 3]);
        self.check_naming(Self::directive_naming(&raw), &token, start)?;
        let rest = &self.src[self.pos..];
        let trimmed = rest.trim_start();
        if !trimmed.starts_with(self.tag_chars().1) || !HAS_END_TAG.contains(&name.as_str()) {
            return Err(err_at(start + 1, malformed_tag(&raw)));
        }
        self.pos += rest.len() - trimmed.len() + 1;
        let end = self.pos - 1;
        if name != "sep" {
            self.close_sep();
        }
        let top = self.current();
        if matches!(name.as_str(), "list" | "foreach") {
            let list = match self.kind_of(top) {
                AKind::ListElse => self.arena.nodes[top].parent.unwrap_or(top),
                _ => top,
            };
            if matches!(self.kind_of(list), AKind::List { vars: None, .. })
                && !self.lists_with_items.contains(&list)
            {
                return Err(err_at(
                    self.arena.nodes[list].begin,
                    "#list must have either \"as loopVar\" parameter or nested #items that belongs to it.",
                ));
            }
        }
        let ok = match (name.as_str(), self.kind_of(top)) {
            ("if", AKind::Branch(_)) => {
                self.set_end(top, end);
                self.stack.pop();
                let ifn = self.current();
                self.set_end(ifn, end);
                self.stack.pop();
                true
            }
            ("list" | "foreach", AKind::List { .. } | AKind::ListElse)
            | ("items", AKind::Items(_))
            | ("sep", AKind::Sep)
            | ("switch", AKind::Switch(_))
            | ("compress", AKind::Compress)
            | ("assign" | "local" | "global", AKind::Capture { .. }) => {
                self.set_end(top, end);
                self.stack.pop();
                true
            }
            ("escape", AKind::Escape) => {
                self.set_end(top, end);
                self.stack.pop();
                self.escapes.pop();
                true
            }
            ("noescape", AKind::NoEscape) => {
                self.set_end(top, end);
                self.stack.pop();
                self.escapes.extend(self.unescaped.pop());
                true
            }
            ("switch", AKind::Case(_)) => {
                self.set_end(top, end);
                self.stack.pop();
                let sw = self.current();
                self.set_end(sw, end);
                self.stack.pop();
                true
            }
            ("attempt" | "recover", AKind::Recover) => {
                self.set_end(top, end);
                self.stack.pop();
                let at = self.current();
                self.set_end(at, end);
                self.stack.pop();
                true
            }
            ("macro", AKind::Macro(h)) if !h.is_function => {
                self.set_end(top, end);
                self.stack.pop();
                self.in_macro -= 1;
                true
            }
            ("function", AKind::Macro(h)) if h.is_function => {
                self.set_end(top, end);
                self.stack.pop();
                self.in_macro -= 1;
                true
            }
            _ => false,
        };
        if !ok {
            let open = if self.stack.len() > 1 {
                describe_open(self.kind_of(top))
            } else {
                "nothing".into()
            };
            return Err(err_at(
                start,
                format!("Unexpected end tag </#{raw}>; the innermost open element is {open}"),
            ));
        }
        Ok(())
    }

    fn set_end(&mut self, idx: usize, end: usize) {
        self.arena.nodes[idx].end = end;
        self.arena.nodes[idx].span.end = end as u32 + 1;
    }

    // ----- expressions -----

    fn peek(&self) -> PResult<Token> {
        next_token(self.src, self.pos, self.in_tag, self.paren, self.square)
    }

    fn bump(&mut self) -> PResult<Token> {
        let t = self.peek()?;
        match t.tok {
            Tok::LParen => self.paren += 1,
            Tok::RParen => self.paren = self.paren.saturating_sub(1),
            // with square-bracket tags, `]` only ends a tag outside brackets
            Tok::LBracket if self.square => self.paren += 1,
            Tok::RBracket if self.square => self.paren = self.paren.saturating_sub(1),
            _ => {}
        }
        self.pos = t.end;
        Ok(t)
    }

    /// Parses the body of a sequence or hash literal: items separated by commas up to `close`
    /// (whose text is `close_text`), with FreeMarker's messages for a trailing comma and a missing
    /// separator. With `comma_optional` (sequence literals: FreeMarker reads `[1 2]` as `[1, 2]`)
    /// a missing comma is no error. Returns the items and the end of the closing token.
    fn parse_separated<T>(
        &mut self,
        close: Tok,
        close_text: &str,
        comma_optional: bool,
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<(Vec<T>, usize)> {
        let mut items = Vec::new();
        while self.peek()?.tok != close {
            items.push(item(self)?);
            let n = self.peek()?;
            if n.tok == Tok::Comma {
                self.bump()?;
                let next = self.peek()?;
                if next.tok == close {
                    return Err(err_at(
                        next.start,
                        format!("Encountered \"{close_text}\", but was expecting an expression"),
                    ));
                }
            } else if n.tok != close && !comma_optional {
                return Err(err_at(
                    n.start,
                    format!(
                        "Encountered {}, but was expecting \",\" or \"{close_text}\"",
                        self.describe(&n.tok, n.start, n.end)
                    ),
                ));
            }
        }
        Ok((items, self.bump()?.end))
    }

    /// A token as FreeMarker's "Encountered ..." messages show it: its source text, quoted.
    fn describe(&self, tok: &Tok, start: usize, end: usize) -> String {
        match tok {
            Tok::Eof => "<EOF>".into(),
            _ => jquote(self.src.get(start..end).unwrap_or("")),
        }
    }

    /// "Encountered X, but was expecting Y" at token `t`.
    fn not_expected(&self, t: &Token, expecting: &str) -> Error {
        err_at(
            t.start,
            format!(
                "Encountered {}, but was expecting {expecting}",
                self.describe(&t.tok, t.start, t.end)
            ),
        )
    }

    fn expect(&mut self, want: Tok, what: &str) -> PResult<Token> {
        let t = self.peek()?;
        if t.tok == want {
            self.bump()
        } else {
            Err(err_at(
                t.start,
                format!(
                    "Encountered {}, but was expecting \"{what}\"",
                    self.describe(&t.tok, t.start, t.end)
                ),
            ))
        }
    }

    fn expect_ident(&mut self, what: &str) -> PResult<String> {
        let t = self.peek()?;
        match t.tok {
            Tok::Ident(n) => {
                self.pos = t.end;
                Ok(n)
            }
            other => Err(err_at(
                t.start,
                format!(
                    "Encountered {}, but was expecting {what}",
                    self.describe(&other, t.start, t.end)
                ),
            )),
        }
    }

    pub(crate) fn parse_expr(&mut self) -> PResult<Expr> {
        self.parse_or()
    }

    fn parse_or(&mut self) -> PResult<Expr> {
        self.parse_logical(Tok::Or, Self::parse_and, ExprKind::Or)
    }

    fn parse_and(&mut self) -> PResult<Expr> {
        self.parse_logical(Tok::And, Self::parse_eq, ExprKind::And)
    }

    /// A left-associative chain of `||` or `&&` over `operand`s, which must not be non-boolean literals.
    fn parse_logical(
        &mut self,
        op: Tok,
        operand: fn(&mut Self) -> PResult<Expr>,
        make: fn(Box<Expr>, Box<Expr>) -> ExprKind,
    ) -> PResult<Expr> {
        let mut l = operand(self)?;
        while self.peek()?.tok == op {
            self.bump()?;
            let r = operand(self)?;
            refuse_literal(&l, NOT_BOOLEAN, "boolean (true/false)")?;
            refuse_literal(&r, NOT_BOOLEAN, "boolean (true/false)")?;
            let span = l.span.to(r.span);
            l = Expr {
                kind: make(Box::new(l), Box::new(r)),
                span,
            };
        }
        Ok(l)
    }

    fn parse_eq(&mut self) -> PResult<Expr> {
        let l = self.parse_rel()?;
        let op = match self.peek()?.tok {
            Tok::Eq | Tok::Assign => CmpOp::Eq,
            Tok::Ne => CmpOp::Ne,
            _ => return Ok(l),
        };
        self.bump()?;
        let r = self.parse_rel()?;
        refuse_literal(&l, &["list", "hash"], "a scalar")?;
        refuse_literal(&r, &["list", "hash"], "a scalar")?;
        let span = l.span.to(r.span);
        Ok(Expr {
            kind: ExprKind::Cmp(op, Box::new(l), Box::new(r)),
            span,
        })
    }

    fn parse_rel(&mut self) -> PResult<Expr> {
        let l = self.parse_range()?;
        let op = match self.peek()?.tok {
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            Tok::Ident(ref s) if s == "lt" => CmpOp::Lt,
            Tok::Ident(ref s) if s == "lte" => CmpOp::Le,
            Tok::Ident(ref s) if s == "gt" => CmpOp::Gt,
            Tok::Ident(ref s) if s == "gte" => CmpOp::Ge,
            _ => return Ok(l),
        };
        self.bump()?;
        let r = self.parse_range()?;
        refuse_literal(&l, NOT_NUMBER, "number")?;
        refuse_literal(&r, NOT_NUMBER, "number")?;
        let span = l.span.to(r.span);
        Ok(Expr {
            kind: ExprKind::Cmp(op, Box::new(l), Box::new(r)),
            span,
        })
    }

    fn parse_range(&mut self) -> PResult<Expr> {
        let l = self.parse_additive()?;
        let t = self.peek()?;
        let kind = match t.tok {
            Tok::DotDot => RangeKind::Inclusive,
            Tok::DotDotLt => RangeKind::Exclusive,
            Tok::DotDotStar => RangeKind::Length,
            _ => return Ok(l),
        };
        self.bump()?;
        let r = if kind == RangeKind::Inclusive && !self.starts_expr()? {
            None
        } else {
            Some(Box::new(self.parse_additive()?))
        };
        let kind = if r.is_none() {
            RangeKind::Unbounded
        } else {
            kind
        };
        let span = match &r {
            Some(r) => l.span.to(r.span),
            None => l.span.to(Span::new(t.start, t.end)),
        };
        Ok(Expr {
            kind: ExprKind::Range(kind, Box::new(l), r),
            span,
        })
    }

    /// Whether the next token can begin an expression.
    fn starts_expr(&self) -> PResult<bool> {
        Ok(match self.peek()?.tok {
            Tok::Ident(s) => !matches!(
                s.as_str(),
                "as" | "in" | "using" | "gt" | "gte" | "lt" | "lte"
            ),
            Tok::Str { .. } | Tok::Num(_) | Tok::LParen | Tok::LBracket | Tok::LBrace => true,
            Tok::Minus | Tok::Plus | Tok::Bang | Tok::Dot => true,
            _ => false,
        })
    }

    fn parse_additive(&mut self) -> PResult<Expr> {
        let mut l = self.parse_mul()?;
        loop {
            let op = match self.peek()?.tok {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => return Ok(l),
            };
            self.bump()?;
            let r = self.parse_mul()?;
            if op == BinOp::Sub {
                refuse_literal(&l, NOT_NUMBER, "number")?;
                refuse_literal(&r, NOT_NUMBER, "number")?;
            }
            let span = l.span.to(r.span);
            l = Expr {
                kind: ExprKind::Arith(op, Box::new(l), Box::new(r)),
                span,
            };
        }
    }

    fn parse_mul(&mut self) -> PResult<Expr> {
        let mut l = self.parse_unary()?;
        loop {
            let op = match self.peek()?.tok {
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                Tok::Percent => BinOp::Rem,
                _ => return Ok(l),
            };
            self.bump()?;
            let r = self.parse_unary()?;
            refuse_literal(&l, NOT_NUMBER, "number")?;
            refuse_literal(&r, NOT_NUMBER, "number")?;
            let span = l.span.to(r.span);
            l = Expr {
                kind: ExprKind::Arith(op, Box::new(l), Box::new(r)),
                span,
            };
        }
    }

    fn parse_unary(&mut self) -> PResult<Expr> {
        self.expr_depth += 1;
        let r = if self.expr_depth > MAX_EXPR_DEPTH {
            let at = self.pos;
            Err(err_at(
                at,
                format!("Expression nesting is deeper than the supported {MAX_EXPR_DEPTH} levels"),
            ))
        } else {
            self.parse_unary_inner()
        };
        self.expr_depth -= 1;
        r
    }

    fn parse_unary_inner(&mut self) -> PResult<Expr> {
        let t = self.peek()?;
        match t.tok {
            Tok::Bang => {
                self.bump()?;
                // unlike the binary operators, FreeMarker checks `!`'s operand only at run time
                let e = self.parse_unary()?;
                let span = Span::new(t.start, e.span.end as usize);
                Ok(Expr {
                    kind: ExprKind::Not(Box::new(e)),
                    span,
                })
            }
            Tok::Minus | Tok::Plus => {
                self.bump()?;
                // checked at run time, as FreeMarker does (`-"a"` is no syntax error)
                let e = self.parse_primary()?;
                let span = Span::new(t.start, e.span.end as usize);
                let kind = if t.tok == Tok::Minus {
                    match e.kind {
                        ExprKind::Num(n) => ExprKind::Num(n.neg()),
                        other => ExprKind::Neg(Box::new(Expr {
                            kind: other,
                            span: e.span,
                        })),
                    }
                } else {
                    ExprKind::Pos(Box::new(e))
                };
                Ok(Expr { kind, span })
            }
            _ => self.parse_primary(),
        }
    }

    fn parse_atom(&mut self) -> PResult<Expr> {
        let t = self.bump()?;
        let span = Span::new(t.start, t.end);
        let kind = match t.tok {
            Tok::Num(s) => ExprKind::Num(
                Number::parse_literal(&s)
                    .ok_or_else(|| err_at(t.start, format!("Invalid number literal {s}")))?,
            ),
            Tok::Str {
                value,
                raw,
                body_start,
            } => {
                if !raw && self.has_interpolation(&value) {
                    // errors inside point into the literal when its text is the value verbatim
                    let verbatim = self.src.get(body_start..t.end - 1) == Some(value.as_str());
                    self.interpolated(&value, span, verbatim.then_some(body_start))?
                } else {
                    ExprKind::Str(value.into())
                }
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => ExprKind::Bool(true),
                "false" => ExprKind::Bool(false),
                _ => ExprKind::Var(name.into()),
            },
            Tok::LParen => {
                let e = self.parse_expr()?;
                let close = self.expect(Tok::RParen, ")")?;
                return Ok(Expr {
                    kind: ExprKind::Paren(Box::new(e)),
                    span: Span::new(t.start, close.end),
                });
            }
            Tok::LBracket => {
                let (items, end) =
                    self.parse_separated(Tok::RBracket, "]", true, |p| p.parse_expr())?;
                return Ok(Expr {
                    kind: ExprKind::List(items),
                    span: Span::new(t.start, end),
                });
            }
            Tok::LBrace => {
                let (items, end) = self.parse_separated(Tok::RBrace, "}", false, |p| {
                    let k = p.parse_expr()?;
                    refuse_literal(&k, NOT_STRING, "string")?;
                    // FreeMarker still takes the old `{"k", v}` form
                    match p.peek()? {
                        Token {
                            tok: Tok::Comma,
                            end,
                            ..
                        } => p.pos = end,
                        _ => {
                            p.expect(Tok::Colon, ":")?;
                        }
                    }
                    Ok((k, p.parse_expr()?))
                })?;
                return Ok(Expr {
                    kind: ExprKind::Hash(items),
                    span: Span::new(t.start, end),
                });
            }
            Tok::Dot => {
                let at = self.peek()?.start;
                let name = self.expect_ident("a special variable name")?;
                self.check_naming(naming_of(&name), &name, at)?;
                if !SPECIAL_VARIABLES.contains(&name.as_str()) {
                    return Err(err_at(
                        at,
                        format!("Unknown special variable name: {name:?}.\nThe allowed special variable names are: {}", SPECIAL_VARIABLES.iter().filter(|n| !n.contains(char::is_uppercase)).copied().collect::<Vec<_>>().join(", ")),
                    ));
                }
                return Ok(Expr {
                    kind: ExprKind::Special(name.into()),
                    span: Span::new(t.start, self.pos),
                });
            }
            other => {
                return Err(err_at(
                    t.start,
                    format!(
                        "Encountered {}, but was expecting an expression",
                        self.describe(&other, t.start, t.end)
                    ),
                ))
            }
        };
        Ok(Expr { kind, span })
    }

    /// A `?name` built-in applied to `e`, the `?` just read, with its arguments if it has them.
    fn parse_builtin_suffix(&mut self, e: Expr) -> PResult<Expr> {
        let n = self.peek()?;
        let Tok::Ident(name) = n.tok else {
            return Err(err_at(
                n.start,
                format!(
                    "Encountered {}, but was expecting a built-in name",
                    self.describe(&n.tok, n.start, n.end)
                ),
            ));
        };
        self.bump()?;
        self.check_naming(naming_of(&name), &name, n.start)?;
        let id = BuiltinId::from_name(&name).map_err(|m| err_at(n.start, m))?;
        let mut args = None;
        let after = self.peek()?;
        // white-space may come before the arguments (`?string ("y", "n")`)
        if after.tok == Tok::LParen {
            self.bump()?;
            args = Some(self.parse_args()?);
        } else if after.tok == Tok::Dot
            && matches!(
                id,
                BuiltinId::String | BuiltinId::Date | BuiltinId::Time | BuiltinId::Datetime
            )
        {
            self.bump()?;
            let fmt = self.peek()?;
            let Tok::Ident(fname) = fmt.tok else {
                return Err(err_at(fmt.start, "Expecting a format name after ?string."));
            };
            self.bump()?;
            args = Some(vec![Expr {
                kind: ExprKind::Str(fname.into()),
                span: Span::new(fmt.start, fmt.end),
            }]);
        } else if after.tok == Tok::LBracket && id == BuiltinId::String {
            let saved = self.paren;
            self.bump()?;
            self.paren = saved + 1;
            let a = self.parse_expr()?;
            self.expect(Tok::RBracket, "]")?;
            self.paren = saved;
            args = Some(vec![a]);
        }
        let span = e.span.to(Span::new(n.start, self.pos));
        Ok(Expr {
            kind: ExprKind::Builtin {
                target: Box::new(e),
                id,
                name: name.into(),
                args,
            },
            span,
        })
    }

    fn parse_primary(&mut self) -> PResult<Expr> {
        let mut e = self.parse_atom()?;
        loop {
            let t = self.peek()?;
            match t.tok {
                Tok::Dot => {
                    self.bump()?;
                    let n = self.peek()?;
                    let name = match n.tok {
                        Tok::Ident(name) => name,
                        Tok::Star => "*".to_string(),
                        other => {
                            return Err(err_at(
                                n.start,
                                format!(
                                    "Encountered {}, but was expecting a name after \".\"",
                                    self.describe(&other, n.start, n.end)
                                ),
                            ))
                        }
                    };
                    self.bump()?;
                    let span = e.span.to(Span::new(n.start, n.end));
                    e = match e.kind {
                        // `a.b.c` rooted at a variable: one flat path, evaluated without recursion
                        ExprKind::Var(root) if name != "*" => Expr {
                            kind: ExprKind::Path {
                                root,
                                root_span: e.span,
                                steps: vec![PathStep {
                                    key: name.into(),
                                    hint: KeyHint::default(),
                                    span,
                                }],
                            },
                            span,
                        },
                        ExprKind::Path {
                            root,
                            root_span,
                            mut steps,
                        } if name != "*" => {
                            steps.push(PathStep {
                                key: name.into(),
                                hint: KeyHint::default(),
                                span,
                            });
                            Expr {
                                kind: ExprKind::Path {
                                    root,
                                    root_span,
                                    steps,
                                },
                                span,
                            }
                        }
                        kind => Expr {
                            kind: ExprKind::Dot(
                                Box::new(Expr { kind, span: e.span }),
                                name.into(),
                                KeyHint::default(),
                            ),
                            span,
                        },
                    };
                }
                Tok::LBracket => {
                    // FreeMarker refuses to index a number or boolean literal at parse time
                    // (so `[1 [2]]` is an error, not a comma-less sequence)
                    let text = self
                        .src
                        .get(e.span.start as usize..e.span.end as usize)
                        .unwrap_or("");
                    let found = match e.kind {
                        ExprKind::Num(_) => Some(format!("Found number literal: {text}.")),
                        ExprKind::Bool(_) => Some(format!("Found: {text} literal.")),
                        _ => None,
                    };
                    if let Some(found) = found {
                        return Err(err_at(
                            e.span.start as usize,
                            format!("{found} Expecting list or hash"),
                        ));
                    }
                    let saved = (self.in_tag, self.paren);
                    self.bump()?;
                    self.paren = saved.1 + 1;
                    let idx = self.parse_expr()?;
                    let close = self.expect(Tok::RBracket, "]")?;
                    (self.in_tag, self.paren) = saved;
                    let span = e.span.to(Span::new(close.start, close.end));
                    e = Expr {
                        kind: ExprKind::Index(Box::new(e), Box::new(idx)),
                        span,
                    };
                }
                Tok::LParen => {
                    self.bump()?;
                    let args = self.parse_args()?;
                    let span = e.span.to(Span::new(self.pos - 1, self.pos));
                    e = Expr {
                        kind: ExprKind::Call(Box::new(e), args),
                        span,
                    };
                }
                Tok::Question => {
                    self.bump()?;
                    e = self.parse_builtin_suffix(e)?;
                }
                Tok::Exists => {
                    self.bump()?;
                    let span = e.span.to(Span::new(t.start, t.end));
                    e = Expr {
                        kind: ExprKind::Exists(Box::new(e)),
                        span,
                    };
                }
                Tok::Bang => {
                    self.bump()?;
                    // like FreeMarker's syntactic lookahead: the default value is taken only if
                    // an expression parses there (`x!!` is `(x!)!`)
                    let rhs = if self.starts_expr()? {
                        let saved = (self.pos, self.paren, self.in_tag, self.expr_depth);
                        match self.parse_expr() {
                            Ok(r) => Some(Box::new(r)),
                            // a literal of the wrong type is no syntax error: the lookahead
                            // succeeds, and then the parse fails (`x!("a" * 2)`)
                            Err(e) if e.message().starts_with("Found ") => return Err(e),
                            Err(_) => {
                                (self.pos, self.paren, self.in_tag, self.expr_depth) = saved;
                                None
                            }
                        }
                    } else {
                        None
                    };
                    let span = match &rhs {
                        Some(r) => e.span.to(r.span),
                        None => e.span.to(Span::new(t.start, t.end)),
                    };
                    let has_rhs = rhs.is_some();
                    e = Expr {
                        kind: ExprKind::Default(Box::new(e), rhs),
                        span,
                    };
                    // `x!default` ends the expression; a bare `x!` can take more postfix operators (`x!?trim`)
                    if has_rhs {
                        return Ok(e);
                    }
                }
                _ => return Ok(e),
            }
        }
    }

    fn parse_args(&mut self) -> PResult<Vec<Expr>> {
        let mut args = Vec::new();
        loop {
            let t = self.peek()?;
            if t.tok == Tok::RParen {
                self.bump()?;
                return Ok(args);
            }
            // lambda: `(x) -> expr`
            if t.tok == Tok::LParen {
                let save = (self.pos, self.paren);
                self.bump()?;
                let p = self.peek()?;
                if let Tok::Ident(name) = &p.tok {
                    self.pos = p.end;
                    let close = self.peek()?;
                    if close.tok == Tok::RParen {
                        self.bump()?;
                        if self.peek()?.tok == Tok::Arrow {
                            self.bump()?;
                            let body = self.parse_expr()?;
                            let span = Span::new(t.start, body.span.end as usize);
                            args.push(Expr {
                                kind: ExprKind::Lambda(name.as_str().into(), Box::new(body)),
                                span,
                            });
                            let n = self.peek()?;
                            if n.tok == Tok::Comma {
                                self.bump()?;
                            }
                            continue;
                        }
                    }
                }
                (self.pos, self.paren) = save;
            }
            // lambda: `x -> expr`
            if let Tok::Ident(name) = &t.tok {
                let save = self.pos;
                self.pos = t.end;
                let n = self.peek()?;
                if n.tok == Tok::Arrow {
                    self.pos = n.end;
                    let body = self.parse_expr()?;
                    let span = Span::new(t.start, body.span.end as usize);
                    args.push(Expr {
                        kind: ExprKind::Lambda(name.as_str().into(), Box::new(body)),
                        span,
                    });
                } else {
                    self.pos = save;
                    args.push(self.parse_expr()?);
                }
            } else {
                args.push(self.parse_expr()?);
            }
            // FreeMarker reads `f(1 2)` as `f(1, 2)`, but refuses a trailing comma
            if self.peek()?.tok == Tok::Comma {
                self.bump()?;
                let next = self.peek()?;
                if next.tok == Tok::RParen {
                    return Err(err_at(
                        next.start,
                        "Encountered \")\", but was expecting an expression",
                    ));
                }
            }
        }
    }

    /// Whether a string literal's value holds an interpolation of the syntax in force. Like
    /// FreeMarker, values of up to 3 UTF-16 units are never parsed (`"${"`, `"${}"` are text).
    fn has_interpolation(&self, value: &str) -> bool {
        if value.encode_utf16().nth(3).is_none() {
            return false;
        }
        match self.interp {
            InterpolationSyntax::Legacy => value.contains("${") || value.contains("#{"),
            InterpolationSyntax::Dollar => value.contains("${"),
            InterpolationSyntax::SquareBracket => value.contains("[="),
        }
    }

    /// Splits a string literal with `${...}` (or `[=...]`) into parts. `body` is where the value
    /// starts in the source if it is the literal's text verbatim (no escapes): errors then point
    /// inside the literal as FreeMarker's do (at its last character for an unclosed one), else
    /// at the literal.
    fn interpolated(&mut self, value: &str, span: Span, body: Option<usize>) -> PResult<ExprKind> {
        let locate = |e: Error| match (body, e.offset()) {
            (Some(b), Some(o)) => {
                let last = value.char_indices().last().map_or(0, |(i, _)| i);
                syntax_err(e.message().to_string()).with_offset(b + o.min(last))
            }
            _ => reoffset(e, span.start as usize),
        };
        let mut parts = Vec::new();
        let mut rest_start = 0;
        let mut i = 0;
        let close_tok = if self.interp == InterpolationSyntax::SquareBracket {
            Tok::RBracket
        } else {
            Tok::RBrace
        };
        while let Some(off) = value[i..].find(['$', '#', '[']) {
            let at = i + off;
            if !self.interpolation_starts(&value[at..]) {
                i = at + 1;
                continue;
            }
            if at > rest_start {
                parts.push(StrPart::Lit(value[rest_start..at].into()));
            }
            let mut sub = Parser {
                src: value,
                pos: at + 2,
                in_tag: false,
                paren: 0,
                arena: Arena { nodes: Vec::new() },
                stack: Vec::new(),
                strip_whitespace: false,
                square: self.square,
                auto_tags: false,
                interp: self.interp,
                naming: self.naming.clone(),
                strip_text: false,
                lists_with_items: Vec::new(),
                in_macro: self.in_macro,
                expr_depth: self.expr_depth,
                too_deep: None,
                escapes: Vec::new(),
                unescaped: Vec::new(),
                escaped_nodes: 0,
            };
            let mut e = sub.parse_expr().map_err(locate)?;
            let close = sub.peek().map_err(locate)?;
            self.naming = sub.naming.take();
            if close.tok != close_tok {
                return Err(locate(err_at(
                    close.start,
                    "Unclosed interpolation in a string literal",
                )));
            }
            respan(&mut e, span);
            parts.push(StrPart::Interp(e));
            i = close.end;
            rest_start = i;
        }
        if rest_start < value.len() {
            parts.push(StrPart::Lit(value[rest_start..].into()));
        }
        Ok(ExprKind::Interpolated(parts))
    }
}

/// What kind of literal an expression is (for FreeMarker's parse-time operand checks).
fn literal_kind(e: &Expr) -> Option<&'static str> {
    match &e.kind {
        ExprKind::Str(_) | ExprKind::Interpolated(_) => Some("string"),
        ExprKind::Num(_) => Some("number"),
        ExprKind::Bool(_) => Some("boolean"),
        ExprKind::List(_) => Some("list"),
        ExprKind::Hash(_) => Some("hash"),
        _ => None,
    }
}

/// Refuses literal operands of the kinds in `refused` at parse time, as FreeMarker's parser does
/// (`"a" * 2`, `1 && true`, `[1] == [1]`...).
fn refuse_literal(e: &Expr, refused: &[&str], expecting: &str) -> PResult<()> {
    match literal_kind(e) {
        Some(k) if refused.contains(&k) => Err(err_at(
            e.span.start as usize,
            format!("Found {k} literal. Expecting {expecting}"),
        )),
        _ => Ok(()),
    }
}

const NOT_NUMBER: &[&str] = &["string", "boolean", "list", "hash"];
const NOT_BOOLEAN: &[&str] = &["string", "number", "list", "hash"];
const NOT_STRING: &[&str] = &["number", "boolean", "list", "hash"];

fn reoffset(e: Error, base: usize) -> Error {
    let _ = e.offset();
    syntax_err(e.message().to_string()).with_offset(base)
}

/// Points every sub-expression of an interpolated string literal at the literal itself.
fn respan(e: &mut Expr, span: Span) {
    e.span = span;
    if let ExprKind::Path {
        root_span, steps, ..
    } = &mut e.kind
    {
        *root_span = span;
        for s in steps {
            s.span = span;
        }
    }
    e.children_mut(&mut |child| respan(child, span));
}

/// Finds `</#noparse>`: returns (body length, length including the end tag).
/// The end tag is spelled like the start tag (`<#noParse>` ends at `</#noParse>` only).
fn find_noparse_end(rest: &str, square: bool, camel: bool) -> Option<(usize, usize)> {
    let name = if camel { "noParse" } else { "noparse" };
    let (pat, close) = if square {
        (format!("[/#{name}"), ']')
    } else {
        (format!("</#{name}"), '>')
    };
    let i = rest.find(pat.as_str())?;
    let after = &rest[i + pat.len()..];
    let t = after.trim_start();
    t.starts_with(close)
        .then(|| (i, i + pat.len() + (after.len() - t.len()) + 1))
}

fn describe_open(kind: &AKind) -> String {
    match kind {
        AKind::If | AKind::Branch(_) => "#if".into(),
        AKind::List { .. } | AKind::ListElse => "#list".into(),
        AKind::Items(_) => "#items".into(),
        AKind::Sep => "#sep".into(),
        AKind::Switch(_) | AKind::Case(_) => "#switch".into(),
        AKind::Capture { .. } => "#assign".into(),
        AKind::Attempt | AKind::Recover => "#attempt".into(),
        AKind::Macro(h) if h.is_function => "#function".into(),
        AKind::Macro(_) => "#macro".into(),
        AKind::Call(_) => "@...".into(),
        AKind::Compress => "#compress".into(),
        AKind::Escape => "#escape".into(),
        AKind::NoEscape => "#noescape".into(),
        _ => "element".into(),
    }
}

/// Java's `StringUtil.jQuote`: the text in double quotes, with `"`, `\\` and control
/// characters escaped.
fn jquote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ----- arena -> nodes -----

fn take(arena: &mut Arena, idx: usize) -> AKind {
    std::mem::replace(&mut arena.nodes[idx].kind, AKind::Taken)
}

fn convert_children(arena: &mut Arena, idx: usize) -> Vec<Node> {
    let children = arena.nodes[idx].children.clone();
    let mut out: Vec<Node> = Vec::with_capacity(children.len());
    for c in children {
        let span = arena.nodes[c].span;
        let kind = take(arena, c);
        let node = match kind {
            AKind::Text(t) => {
                if t.is_empty() {
                    continue;
                }
                if let Some(Node::Text(prev, _)) = out.last_mut() {
                    let mut s = String::from(std::mem::take(prev));
                    s.push_str(&t);
                    *prev = s.into();
                    continue;
                }
                Node::Text(t.into(), span.start)
            }
            AKind::Interp(e) => Node::Interp(e),
            AKind::LegacyInterp(expr, frac) => Node::LegacyInterp { expr, frac },
            AKind::Escape | AKind::NoEscape => {
                out.extend(convert_children(arena, c));
                continue;
            }
            AKind::Trim { .. } | AKind::Comment | AKind::Flush | AKind::Taken | AKind::Root => {
                continue
            }
            AKind::If => {
                let branches = arena.nodes[c].children.clone();
                let mut bs = Vec::new();
                for b in branches {
                    let cond = match take(arena, b) {
                        AKind::Branch(cond) => cond,
                        _ => None,
                    };
                    bs.push(Branch {
                        cond,
                        body: convert_children(arena, b),
                    });
                }
                Node::If(bs)
            }
            AKind::Branch(cond) => Node::If(vec![Branch {
                cond,
                body: convert_children(arena, c),
            }]),
            AKind::List { seq, vars } => Node::List {
                seq,
                vars,
                body: convert_children(arena, c),
                else_body: None,
                span,
            },
            AKind::ListElse => {
                let body = convert_children(arena, c);
                if let Some(Node::List { else_body, .. }) = out.last_mut() {
                    *else_body = Some(body);
                }
                continue;
            }
            AKind::Items(vars) => Node::Items {
                vars,
                body: convert_children(arena, c),
                span,
            },
            AKind::Sep => Node::Sep(convert_children(arena, c)),
            AKind::Break => Node::Break,
            AKind::Continue => Node::Continue,
            AKind::Switch(value) => {
                let mut cases = Vec::new();
                for k in arena.nodes[c].children.clone() {
                    if let AKind::Case(v) = take(arena, k) {
                        cases.push((v, convert_children(arena, k)));
                    }
                }
                Node::Switch { value, cases }
            }
            AKind::Case(_) => continue,
            AKind::Assign { scope, items } => Node::Assign { scope, items },
            AKind::Capture { scope, name } => Node::Capture {
                scope,
                name,
                body: convert_children(arena, c),
            },
            AKind::Setting { name, value } => Node::Setting { name, value, span },
            AKind::Attempt => {
                let kids = arena.nodes[c].children.clone();
                let mut body = Vec::new();
                let mut recover = Vec::new();
                // content before the Recover child is the attempted block
                let rec_pos = kids
                    .iter()
                    .position(|&k| matches!(arena.nodes[k].kind, AKind::Recover));
                let (before, after) = match rec_pos {
                    Some(p) => (kids[..p].to_vec(), Some(kids[p])),
                    None => (kids, None),
                };
                arena.nodes[c].children = before;
                body.extend(convert_children(arena, c));
                if let Some(r) = after {
                    recover = convert_children(arena, r);
                }
                Node::Attempt { body, recover }
            }
            AKind::Recover => continue,
            AKind::Macro(h) => Node::MacroDef(Arc::new(MacroDef {
                name: h.name,
                is_function: h.is_function,
                params: h.params,
                catch_all: h.catch_all,
                body: convert_children(arena, c),
            })),
            AKind::Nested(args) => Node::Nested { args, span },
            AKind::Return(v) => Node::Return(v),
            AKind::Call(h) => {
                let body = if h.has_body {
                    Some(Arc::new(convert_children(arena, c)))
                } else {
                    None
                };
                Node::Call {
                    callee: h.callee,
                    named: h.named,
                    positional: h.positional,
                    loop_vars: h.loop_vars,
                    body,
                    span,
                }
            }
            AKind::Compress => Node::Compress(convert_children(arena, c)),
            AKind::Stop(v) => Node::Stop(v, span),
        };
        out.push(node);
    }
    out
}
