//! The expression tokenizer: turns the inside of `${...}` and FTL tags into tokens with byte offsets.
//!
//! The template-level scanning (text, tags, comments) lives in the parser; it calls [`next_token`] whenever
//! it is inside an expression. Whether `>` closes a tag depends on the parser's context, so the caller says.

use crate::error::{syntax_err, Error};

/// One expression token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    /// A string literal, already unescaped; `raw` for `r"..."`; `body` is the source between the quotes.
    Str {
        value: String,
        raw: bool,
        body_start: usize,
    },
    Num(String),
    Dot,
    DotDot,
    DotDotLt,
    DotDotStar,
    Ellipsis,
    Question,
    Exists,
    Bang,
    Ne,
    Assign,
    Eq,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    PlusAssign,
    MinusAssign,
    StarAssign,
    SlashAssign,
    PercentAssign,
    PlusPlus,
    MinusMinus,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Colon,
    Semicolon,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Arrow,
    /// `>` closing an FTL tag.
    TagEnd,
    /// `/>` closing an empty FTL tag.
    EmptyTagEnd,
    Eof,
}

/// A token and where it is: `start..end` byte offsets in the template source.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$' || c == '@'
}

fn is_ident_part(c: char) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

/// Skips white-space and `<#-- -->` / `<!-- -->` / `[#-- --]` comments inside an expression (either
/// form in either tag syntax, as FreeMarker's lexer does); returns the new offset.
pub(crate) fn skip_ws(src: &str, mut pos: usize) -> usize {
    loop {
        let rest = &src[pos..];
        let trimmed = rest.trim_start();
        pos += rest.len() - trimmed.len();
        let close = if trimmed.starts_with("<#--") || trimmed.starts_with("<!--") {
            "-->"
        } else if trimmed.starts_with("[#--") {
            "--]"
        } else {
            return pos;
        };
        match trimmed[4..].find(close) {
            Some(e) => pos += 4 + e + 3,
            None => return src.len(),
        }
    }
}

/// Reads the token at `pos` (after white-space). `in_tag` with `paren_depth == 0` makes `>` (with the
/// `square` tag syntax: `]`) a [`Tok::TagEnd`].
pub(crate) fn next_token(
    src: &str,
    pos: usize,
    in_tag: bool,
    paren_depth: u32,
    square: bool,
) -> Result<Token, Error> {
    let start = skip_ws(src, pos);
    let rest = &src[start..];
    let mut chars = rest.chars();
    let Some(c) = chars.next() else {
        return Ok(Token {
            tok: Tok::Eof,
            start,
            end: start,
        });
    };
    let two = rest.get(..2).unwrap_or("");
    let three = rest.get(..3).unwrap_or("");
    let tok = |t: Tok, len: usize| {
        Ok(Token {
            tok: t,
            start,
            end: start + len,
        })
    };
    if c == 'r' && (rest[1..].starts_with('"') || rest[1..].starts_with('\'')) {
        return read_string(src, start + 1, true).map(|mut t| {
            t.start = start;
            t
        });
    }
    if c == '$' && rest[1..].starts_with('{') {
        return Err(syntax_err(
            "You can't use ${...} (an interpolation) here, as you are already in FreeMarker-expression-mode; just write the expression without ${}",
        )
        .with_detail_pos(start));
    }
    if is_ident_start(c) {
        let mut end = start;
        let mut it = rest.char_indices().peekable();
        while let Some(&(i, ch)) = it.peek() {
            if is_ident_part(ch) {
                end = start + i + ch.len_utf8();
                it.next();
            } else if ch == '\\' {
                // `\-`, `\.`, `\:` escapes inside identifiers
                let next = rest[i + 1..].chars().next();
                if matches!(next, Some('-' | '.' | ':')) {
                    end = start + i + 2;
                    it.next();
                    it.next();
                } else {
                    break;
                }
            } else {
                break;
            }
        }
        let name = src[start..end].replace('\\', "");
        return tok(Tok::Ident(name), end - start);
    }
    if c.is_ascii_digit() {
        let bytes = rest.as_bytes();
        let mut i = 0;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        }
        return tok(Tok::Num(rest[..i].to_string()), i);
    }
    if c == '"' || c == '\'' {
        return read_string(src, start, false);
    }
    match three {
        "..<" => return tok(Tok::DotDotLt, 3),
        "..!" => return tok(Tok::DotDotLt, 3),
        "..*" => return tok(Tok::DotDotStar, 3),
        "..." => return tok(Tok::Ellipsis, 3),
        _ => {}
    }
    // FreeMarker's escaped operators for templates embedded in XML/HTML attributes
    for (text, t) in [
        ("&amp;&amp;", Tok::And),
        ("\\and", Tok::And),
        ("\\lte", Tok::Le),
        ("\\lt", Tok::Lt),
        ("\\gte", Tok::Ge),
        ("\\gt", Tok::Gt),
        ("&lt;=", Tok::Le),
        ("&lt;", Tok::Lt),
        ("&gt;=", Tok::Ge),
        ("&gt;", Tok::Gt),
    ] {
        if rest.starts_with(text) {
            return tok(t, text.len());
        }
    }
    match two {
        ".." => return tok(Tok::DotDot, 2),
        "??" => return tok(Tok::Exists, 2),
        "!=" => return tok(Tok::Ne, 2),
        "==" => return tok(Tok::Eq, 2),
        "+=" => return tok(Tok::PlusAssign, 2),
        "-=" => return tok(Tok::MinusAssign, 2),
        "*=" => return tok(Tok::StarAssign, 2),
        "/=" => return tok(Tok::SlashAssign, 2),
        "%=" => return tok(Tok::PercentAssign, 2),
        "++" => return tok(Tok::PlusPlus, 2),
        "--" => return tok(Tok::MinusMinus, 2),
        "<=" => return tok(Tok::Le, 2),
        "&&" => return tok(Tok::And, 2),
        "||" => return tok(Tok::Or, 2),
        "->" => return tok(Tok::Arrow, 2),
        "/>" if in_tag && !square => return tok(Tok::EmptyTagEnd, 2),
        "/]" if in_tag && square && paren_depth == 0 => return tok(Tok::EmptyTagEnd, 2),
        ">=" if !(in_tag && paren_depth == 0 && !square) => return tok(Tok::Ge, 2),
        _ => {}
    }
    let t =
        match c {
            '.' => Tok::Dot,
            '?' => Tok::Question,
            '!' => Tok::Bang,
            '=' => Tok::Assign,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' => Tok::Star,
            '/' => Tok::Slash,
            '%' => Tok::Percent,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' if in_tag && paren_depth == 0 && square => Tok::TagEnd,
            ']' => Tok::RBracket,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            ',' => Tok::Comma,
            ':' => Tok::Colon,
            ';' => Tok::Semicolon,
            '<' => Tok::Lt,
            '&' => Tok::And,
            '|' => Tok::Or,
            '>' if in_tag && paren_depth == 0 && !square => Tok::TagEnd,
            '>' => Tok::Gt,
            // FreeMarker blames what follows a stray backslash (oracle: `<#assign \x = 1>`)
            '\\' => return Err(syntax_err(
                "Lexical error: a backslash outside a string may only escape -, . or : in a name",
            )
            .with_detail_pos(start + 1)),
            _ => {
                return Err(syntax_err(format!(
                    "Lexical error: encountered {c:?} (code {})",
                    c as u32
                ))
                .with_detail_pos(start))
            }
        };
    tok(t, c.len_utf8())
}

/// Reads a quoted string literal whose opening quote is at `start`.
fn read_string(src: &str, start: usize, raw: bool) -> Result<Token, Error> {
    let quote = src[start..].chars().next().unwrap_or('"');
    let body_start = start + 1;
    let mut value = String::new();
    let mut it = src[body_start..].char_indices();
    while let Some((i, c)) = it.next() {
        if c == quote {
            return Ok(Token {
                tok: Tok::Str {
                    value,
                    raw,
                    body_start,
                },
                start,
                end: body_start + i + 1,
            });
        }
        if c == '\\' && !raw {
            let Some((_, e)) = it.next() else { break };
            match e {
                'n' => value.push('\n'),
                'r' => value.push('\r'),
                't' => value.push('\t'),
                'b' => value.push('\u{8}'),
                'f' => value.push('\u{c}'),
                'l' => value.push('<'),
                'g' => value.push('>'),
                'a' => value.push('&'),
                '\\' | '"' | '\'' | '{' | '=' => value.push(e),
                'x' => {
                    let hex_start = body_start + i + 2;
                    let hex: String = src[hex_start..]
                        .chars()
                        .take_while(|c| c.is_ascii_hexdigit())
                        .take(4)
                        .collect();
                    let code = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                    match code {
                        Some(ch) if !hex.is_empty() => {
                            value.push(ch);
                            for _ in 0..hex.len() {
                                it.next();
                            }
                        }
                        _ => {
                            // FreeMarker blames the character after `\x`
                            return Err(syntax_err("Invalid \\x escape in a string literal")
                                .with_detail_pos(hex_start));
                        }
                    }
                }
                _ => {
                    return Err(syntax_err(format!(
                        "Lexical error: illegal escape sequence \"\\{e}\" in a string literal"
                    ))
                    .with_detail_pos(body_start + i + 1))
                }
            }
        } else {
            value.push(c);
        }
    }
    // FreeMarker reports an unclosed string just past the end of the template
    Err(syntax_err("Unclosed string literal").with_detail_pos(usize::MAX))
}

/// Errors raised by the lexer remember their offset until the parser attaches the location.
pub(crate) trait WithPos {
    fn with_detail_pos(self, pos: usize) -> Self;
}

impl WithPos for Error {
    fn with_detail_pos(self, pos: usize) -> Error {
        self.with_offset(pos)
    }
}
