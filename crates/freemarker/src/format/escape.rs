//! FreeMarker 2.3.31's string built-ins that are pure functions: the escapes (`?html`, `?xml`,
//! `?xhtml`, `?js_string`, `?json_string`, `?j_string`, `?url`, `?url_path`, `?rtf`) and the
//! case changes (`?cap_first`, `?uncap_first`, `?capitalize`, `?upper_case`, `?lower_case`)
//! with Java's character rules. Escapes append to `out` so the engine can write in place.

use super::FormatError;

/// `?html` (2.3.24+ with incompatible_improvements >= 2.3.24): `< > & " '` as `&lt; &gt; &amp; &quot; &#39;`.
pub fn html(s: &str, out: &mut String) {
    markup(s, "&#39;", out)
}

/// `?xhtml`: like `?html` (`'` as `&#39;`).
pub fn xhtml(s: &str, out: &mut String) {
    markup(s, "&#39;", out)
}

/// `?xml`: `'` as `&apos;`.
pub fn xml(s: &str, out: &mut String) {
    markup(s, "&apos;", out)
}

fn markup(s: &str, apos: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str(apos),
            c => out.push(c),
        }
    }
}

/// `?rtf`: backslash and braces escaped with a backslash.
pub fn rtf(s: &str, out: &mut String) {
    for c in s.chars() {
        if matches!(c, '\\' | '{' | '}') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// `?js_string`: for a JavaScript string literal in either quote style, safe inside `<script>`.
pub fn js_string(s: &str, out: &mut String) {
    script_string(s, false, out)
}

/// `?json_string`: for a JSON string literal (no `\'`, `\uXXXX` instead of `\xXX`).
pub fn json_string(s: &str, out: &mut String) {
    script_string(s, true, out)
}

/// The shared rules of `?js_string` / `?json_string` (checked against the oracle):
/// `<` is escaped when last or before `!`/`?` (guards `<!--`, `<?`); `>` when first or after `]`/`-`
/// that starts the string or doubles (`]]>`, `-->`); `/` when first or after `<`; C0 controls,
/// U+007F..U+009F and U+2028/U+2029 numerically.
fn script_string(s: &str, json: bool, out: &mut String) {
    // runs of characters no rule touches are copied at once
    let special = |c: char| {
        let u = c as u32;
        matches!(
            c,
            '"' | '\'' | '\\' | '/' | '<' | '>' | '\u{2028}' | '\u{2029}'
        ) || u < 0x20
            || (0x7f..=0x9f).contains(&u)
    };
    let mut copied = 0;
    for (i, c) in s.char_indices() {
        if special(c) {
            out.push_str(&s[copied..i]);
            copied = i + c.len_utf8();
            let mut back = s[..i].chars().rev();
            let (prev, prev2) = (back.next(), back.next());
            let next = s[copied..].chars().next();
            script_char(c, prev, prev2, next, json, out);
        }
    }
    out.push_str(&s[copied..]);
}

/// One character of [`script_string`], given its neighbours (`prev2 prev c next`; `None` beyond
/// the ends of the string).
fn script_char(
    c: char,
    prev: Option<char>,
    prev2: Option<char>,
    next: Option<char>,
    json: bool,
    out: &mut String,
) {
    let first = prev.is_none();
    match c {
        '"' => out.push_str("\\\""),
        '\'' if !json => out.push_str("\\'"),
        '\\' => out.push_str("\\\\"),
        '/' if first || prev == Some('<') => out.push_str("\\/"),
        '<' if matches!(next, None | Some('!') | Some('?')) => {
            out.push_str(if json { "\\u003C" } else { "\\x3C" })
        }
        '>' if first
            || (matches!(prev, Some(']') | Some('-')) && (prev2.is_none() || prev2 == prev)) =>
        {
            out.push_str(if json { "\\u003E" } else { "\\>" })
        }
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\u{2028}' | '\u{2029}' => push_hex(out, "\\u", c as u32, 4, true),
        c if (c as u32) < 0x20 || (0x7f..=0x9f).contains(&(c as u32)) => {
            if json {
                push_hex(out, "\\u", c as u32, 4, true)
            } else {
                push_hex(out, "\\x", c as u32, 2, true)
            }
        }
        c => out.push(c),
    }
}

/// `?j_string`: for a Java string literal; other C0 controls as lower-case `\u00xx`.
pub fn j_string(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => push_hex(out, "\\u", c as u32, 4, false),
            c => out.push(c),
        }
    }
}

fn push_hex(out: &mut String, prefix: &str, v: u32, width: usize, upper: bool) {
    out.push_str(prefix);
    if upper {
        out.push_str(&format!("{v:0width$X}"));
    } else {
        out.push_str(&format!("{v:0width$x}"));
    }
}

/// `?url`: percent-encodes everything but `A-Z a-z 0-9 _ - . ! ~ ' ( ) *` in `charset`
/// (UTF-8, ISO-8859-1 or US-ASCII; characters the charset lacks become `?`, as in Java).
pub fn url(s: &str, charset: &str, out: &mut String) -> Result<(), FormatError> {
    url_encode(s, charset, false, out)
}

/// `?url_path`: like `?url` but keeps `/`.
pub fn url_path(s: &str, charset: &str, out: &mut String) -> Result<(), FormatError> {
    url_encode(s, charset, true, out)
}

fn url_encode(
    s: &str,
    charset: &str,
    keep_slash: bool,
    out: &mut String,
) -> Result<(), FormatError> {
    let cs = Charset::parse(charset)?;
    let mut buf = [0u8; 4];
    for c in s.chars() {
        let safe = c.is_ascii_alphanumeric()
            || matches!(c, '_' | '-' | '.' | '!' | '~' | '\'' | '(' | ')' | '*')
            || (keep_slash && c == '/');
        if safe {
            out.push(c);
            continue;
        }
        let bytes: &[u8] = match cs {
            Charset::Utf8 => c.encode_utf8(&mut buf).as_bytes(),
            Charset::Latin1 | Charset::Ascii => {
                let limit = if cs == Charset::Latin1 { 0xff } else { 0x7f };
                buf[0] = if (c as u32) <= limit {
                    c as u32 as u8
                } else {
                    b'?'
                };
                &buf[..1]
            }
        };
        for b in bytes {
            push_hex(out, "%", *b as u32, 2, true);
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Charset {
    Utf8,
    Latin1,
    Ascii,
}

impl Charset {
    fn parse(name: &str) -> Result<Charset, FormatError> {
        match name.to_ascii_uppercase().replace('_', "-").as_str() {
            "UTF-8" | "UTF8" => Ok(Charset::Utf8),
            "ISO-8859-1" | "ISO8859-1" | "LATIN1" | "ISO-LATIN-1" | "8859-1" => Ok(Charset::Latin1),
            "US-ASCII" | "ASCII" => Ok(Charset::Ascii),
            _ => Err(FormatError::new(format!("Unsupported charset: {name}"))),
        }
    }
}

/// Java's `Character.isWhitespace`: Unicode space separators except the no-break ones, plus
/// the ASCII controls TAB..CR and FS..US.
pub fn is_java_whitespace(c: char) -> bool {
    match c {
        '\u{a0}' | '\u{2007}' | '\u{202f}' => false,
        '\t'..='\r' | '\u{1c}'..='\u{1f}' | ' ' => true,
        '\u{1680}' | '\u{2000}'..='\u{2006}' | '\u{2008}'..='\u{200a}' => true,
        '\u{2028}' | '\u{2029}' | '\u{205f}' | '\u{3000}' => true,
        _ => false,
    }
}

/// Java's `Character.toUpperCase(char)`: one-to-one mappings only, BMP only.
fn upper_char(c: char) -> char {
    single_mapping(c, c.to_uppercase())
}

fn lower_char(c: char) -> char {
    // U+0130 is the one character whose full lower-case mapping is longer than its simple one
    if c == '\u{130}' {
        return 'i';
    }
    single_mapping(c, c.to_lowercase())
}

fn is_cased(c: char) -> bool {
    c.is_lowercase() || c.is_uppercase()
}

/// Java's `String.toLowerCase` (non-Turkic locale): full mappings, and a capital sigma becomes
/// final `ς` when a cased letter precedes it (possibly across `-`, `'`, `.`, `:`) and no letter
/// directly follows it (an oracle-checked approximation of Java's word-boundary rule).
fn java_lower(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '\u{3a3}' {
            let before = chars[..i]
                .iter()
                .rev()
                .find(|c| !matches!(c, '-' | '\'' | '.' | ':'))
                .is_some_and(|c| is_cased(*c));
            let after = chars.get(i + 1).is_some_and(|c| c.is_alphabetic());
            out.push(if before && !after {
                '\u{3c2}'
            } else {
                '\u{3c3}'
            });
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

fn single_mapping(c: char, mut it: impl Iterator<Item = char>) -> char {
    if (c as u32) > 0xffff {
        return c;
    }
    match (it.next(), it.next()) {
        (Some(m), None) if (m as u32) <= 0xffff => m,
        _ => c,
    }
}

/// `?cap_first`: upper-cases the first character that is not Java whitespace.
pub fn cap_first(s: &str) -> String {
    change_first(s, upper_char)
}

/// `?uncap_first`: lower-cases the first character that is not Java whitespace.
pub fn uncap_first(s: &str) -> String {
    change_first(s, lower_char)
}

fn change_first(s: &str, f: fn(char) -> char) -> String {
    match s.char_indices().find(|(_, c)| !is_java_whitespace(*c)) {
        Some((i, c)) => {
            let mut out = String::with_capacity(s.len());
            out.push_str(&s[..i]);
            out.push(f(c));
            out.push_str(&s[i + c.len_utf8()..]);
            out
        }
        None => s.to_string(),
    }
}

/// `?capitalize`: words are split at space, tab, CR and LF only; each word's first character is
/// upper-cased (full mapping, so `ß` becomes `SS`) and the rest lower-cased.
pub fn capitalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            out.push(c);
            rest = &rest[1..];
            continue;
        }
        let end = rest.find([' ', '\t', '\r', '\n']).unwrap_or(rest.len());
        let word = &rest[..end];
        if (c as u32) > 0xffff {
            out.push(c);
        } else {
            out.extend(c.to_uppercase());
        }
        // the rest of the word is lower-cased on its own, as Java's substring(1).toLowerCase()
        out.push_str(&java_lower(&word[c.len_utf8()..]));
        rest = &rest[end..];
    }
    out
}

/// `?upper_case` in `locale` (Java's `String.toUpperCase(locale)`: Turkish and Azeri map
/// `i` to `İ`).
pub fn upper_case_in(s: &str, locale: &super::Locale) -> String {
    if matches!(locale.language(), "tr" | "az") {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                'i' => out.push('\u{130}'),
                c => out.extend(c.to_uppercase()),
            }
        }
        return out;
    }
    upper_case(s)
}

/// `?lower_case` in `locale` (Turkish and Azeri map `I` to `ı` and `İ` to `i`).
pub fn lower_case_in(s: &str, locale: &super::Locale) -> String {
    if matches!(locale.language(), "tr" | "az") {
        let turkic: String = s
            .chars()
            .map(|c| match c {
                'I' => '\u{131}',
                '\u{130}' => 'i',
                c => c,
            })
            .collect();
        return java_lower(&turkic);
    }
    lower_case(s)
}

/// `?upper_case` (Java's `String.toUpperCase` for non-Turkic locales: `ß` becomes `SS`).
pub fn upper_case(s: &str) -> String {
    s.to_uppercase()
}

/// `?lower_case` (`İ` becomes `i̇`, a final `Σ` becomes `ς`, as in Java).
pub fn lower_case(s: &str) -> String {
    java_lower(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The straightforward form of [`script_string`] (a char vector, every character through the
    /// rules), which the run-copying implementation must agree with.
    fn script_string_reference(s: &str, json: bool, out: &mut String) {
        let chars: Vec<char> = s.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            let prev = if i > 0 { Some(chars[i - 1]) } else { None };
            match c {
                '"' => out.push_str("\\\""),
                '\'' if !json => out.push_str("\\'"),
                '\\' => out.push_str("\\\\"),
                '/' if i == 0 || prev == Some('<') => out.push_str("\\/"),
                '<' if matches!(chars.get(i + 1), None | Some('!') | Some('?')) => {
                    out.push_str(if json { "\\u003C" } else { "\\x3C" })
                }
                '>' if i == 0
                    || (matches!(prev, Some(']') | Some('-'))
                        && (i == 1 || Some(chars[i - 2]) == prev)) =>
                {
                    out.push_str(if json { "\\u003E" } else { "\\>" })
                }
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\u{2028}' | '\u{2029}' => push_hex(out, "\\u", c as u32, 4, true),
                c if (c as u32) < 0x20 || (0x7f..=0x9f).contains(&(c as u32)) => {
                    if json {
                        push_hex(out, "\\u", c as u32, 4, true)
                    } else {
                        push_hex(out, "\\x", c as u32, 2, true)
                    }
                }
                c => out.push(c),
            }
        }
    }

    #[test]
    fn script_string_matches_the_reference() {
        use proptest::prelude::*;
        let alphabet: Vec<char> =
            "ab\"'\\/<>!?]-\n\r\t\u{8}\u{c}\u{1}\u{7f}\u{85}\u{a0}\u{2028}\u{2029}é€😀 "
                .chars()
                .collect();
        let strings = proptest::collection::vec(proptest::sample::select(alphabet), 0..12)
            .prop_map(|cs| cs.into_iter().collect::<String>());
        let mut runner =
            proptest::test_runner::TestRunner::new(proptest::test_runner::Config::with_cases(5000));
        runner
            .run(&(strings, any::<bool>()), |(s, json)| {
                let (mut fast, mut reference) = (String::new(), String::new());
                script_string(&s, json, &mut fast);
                script_string_reference(&s, json, &mut reference);
                prop_assert_eq!(fast, reference, "{:?}", s);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn run(f: fn(&str, &mut String), s: &str) -> String {
        let mut out = String::new();
        f(s, &mut out);
        out
    }

    #[test]
    fn markup_escapes() {
        // oracle: ?html / ?xml / ?xhtml of <a href="x">'&</a>
        let s = "<a href=\"x\">'&</a>";
        assert_eq!(
            run(html, s),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&lt;/a&gt;"
        );
        assert_eq!(
            run(xml, s),
            "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&lt;/a&gt;"
        );
        assert_eq!(
            run(xhtml, s),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&lt;/a&gt;"
        );
        // oracle: control characters pass through ?html untouched
        assert_eq!(run(html, "\u{1}\u{7f}"), "\u{1}\u{7f}");
    }

    #[test]
    fn script_string_angle_brackets_and_slashes() {
        // oracle (js | json): "<" -> \x3C | \u003C; "<!" -> \x3C!; "<a" -> <a; "</" -> <\/; "<?" -> \x3C?;
        // ">" -> \> | \u003E; "a>" -> a>; "]>" -> ]\>; "->" -> -\>; "a]>" -> a]>; "]]>" -> ]]\>;
        // "a->" -> a->; "x-->" -> x--\>; "/" -> \/; "a/" -> a/; "/a" -> \/a
        let cases = [
            ("<", "\\x3C", "\\u003C"),
            ("<!", "\\x3C!", "\\u003C!"),
            ("<a", "<a", "<a"),
            ("</", "<\\/", "<\\/"),
            ("<?", "\\x3C?", "\\u003C?"),
            ("<<!", "<\\x3C!", "<\\u003C!"),
            (">", "\\>", "\\u003E"),
            ("a>", "a>", "a>"),
            ("]>", "]\\>", "]\\u003E"),
            ("->", "-\\>", "-\\u003E"),
            ("a]>", "a]>", "a]>"),
            ("]]>", "]]\\>", "]]\\u003E"),
            ("a->", "a->", "a->"),
            ("x-->", "x--\\>", "x--\\u003E"),
            ("/", "\\/", "\\/"),
            ("a/", "a/", "a/"),
            ("/a", "\\/a", "\\/a"),
        ];
        for (s, js, json) in cases {
            assert_eq!(run(js_string, s), js, "js_string of {s:?}");
            assert_eq!(run(json_string, s), json, "json_string of {s:?}");
        }
    }

    #[test]
    fn script_string_quotes_and_controls() {
        // oracle: ' -> \' (js) / ' (json); \u0000 -> \x00 / \u0000; \u007f -> \x7F / \u007F;
        // \u00a0 unchanged; \u2028 -> \u2028 in both; \u000b -> \x0B / \u000B
        assert_eq!(run(js_string, "'\"\\"), "\\'\\\"\\\\");
        assert_eq!(run(json_string, "'\"\\"), "'\\\"\\\\");
        assert_eq!(
            run(js_string, "\u{0}\u{7f}\u{9f}\u{a0}\u{2028}\u{b}"),
            "\\x00\\x7F\\x9F\u{a0}\\u2028\\x0B"
        );
        assert_eq!(
            run(json_string, "\u{0}\u{7f}\u{9f}\u{a0}\u{2029}\u{b}"),
            "\\u0000\\u007F\\u009F\u{a0}\\u2029\\u000B"
        );
        assert_eq!(run(json_string, "\n\t\r\u{8}\u{c}"), "\\n\\t\\r\\b\\f");
    }

    #[test]
    fn java_string_escapes() {
        // oracle: ?j_string: \u0000 -> \u0000, \u000b -> \u000b (lower case), \u007f unchanged, ' unchanged
        assert_eq!(
            run(j_string, "\u{0}\u{b}\u{1b}\u{7f}'\"\\\n"),
            "\\u0000\\u000b\\u001b\u{7f}'\\\"\\\\\\n"
        );
    }

    #[test]
    fn url_encoding() {
        // oracle: ?url('ISO-8859-1') of a b+c&d=e/f?g#h:i@j;k,l$m!n~o*p'q(r)s_t-u.v%w"x<y\z^`{|}[]é😀
        let s = "a b+c&d=e/f?g#h:i@j;k,l$m!n~o*p'q(r)s_t-u.v%w\"x<y\\z^`{|}[]é😀";
        let mut out = String::new();
        url(s, "ISO-8859-1", &mut out).unwrap();
        assert_eq!(
            out,
            "a%20b%2Bc%26d%3De%2Ff%3Fg%23h%3Ai%40j%3Bk%2Cl%24m!n~o*p'q(r)s_t-u.v%25w%22x%3Cy%5Cz%5E%60%7B%7C%7D%5B%5D%E9%3F"
        );
        let mut out = String::new();
        url_path("a/é b", "UTF-8", &mut out).unwrap();
        assert_eq!(out, "a/%C3%A9%20b");
        assert!(url("x", "EBCDIC-X", &mut String::new()).is_err());
    }

    #[test]
    fn case_changes() {
        // oracle: w = "  hello wORLD  foo-bar x.y\tz_q ñandú ßtraße ǆ ﬁ İi"
        let w = "  hello wORLD  foo-bar x.y\tz_q \u{f1}and\u{fa} \u{df}tra\u{df}e \u{1c6} \u{fb01} \u{130}i";
        assert_eq!(
            cap_first(w),
            "  Hello wORLD  foo-bar x.y\tz_q \u{f1}and\u{fa} \u{df}tra\u{df}e \u{1c6} \u{fb01} \u{130}i"
        );
        assert_eq!(
            capitalize(w),
            "  Hello World  Foo-bar X.y\tZ_q \u{d1}and\u{fa} SStra\u{df}e \u{1c4} FI \u{130}i"
        );
        assert_eq!(
            upper_case(w),
            "  HELLO WORLD  FOO-BAR X.Y\tZ_Q \u{d1}AND\u{da} SSTRASSE \u{1c4} FI \u{130}I"
        );
        assert_eq!(
            lower_case(w),
            "  hello world  foo-bar x.y\tz_q \u{f1}and\u{fa} \u{df}tra\u{df}e \u{1c6} \u{fb01} i\u{307}i"
        );
        // oracle: ws = "\u2003abc \u00a0def": cap_first -> "\u2003Abc \u00a0def", capitalize unchanged
        assert_eq!(cap_first("\u{2003}abc \u{a0}def"), "\u{2003}Abc \u{a0}def");
        assert_eq!(capitalize("\u{2003}abc \u{a0}def"), "\u{2003}abc \u{a0}def");
        // oracle: "ABC dEF"?uncap_first -> "aBC dEF"; " ABC"?uncap_first -> " aBC"; ""?cap_first -> ""
        assert_eq!(uncap_first("ABC dEF"), "aBC dEF");
        assert_eq!(uncap_first(" ABC"), " aBC");
        assert_eq!(cap_first(""), "");
    }

    #[test]
    fn java_casing_details() {
        // oracle: "İ"?uncap_first -> "i"; "->) a-Σ:"?lower_case -> "->) a-ς:";
        // "ΣΑΣ ΟΔΟΣ"?capitalize -> "Σας Οδος"; "\fİΣ!|Σa"?capitalize -> "\fi̇ς!|σa"
        assert_eq!(uncap_first("\u{130}"), "i");
        assert_eq!(lower_case("->) a-\u{3a3}:"), "->) a-\u{3c2}:");
        assert_eq!(
            capitalize("\u{3a3}\u{391}\u{3a3} \u{39f}\u{394}\u{39f}\u{3a3}"),
            "\u{3a3}\u{3b1}\u{3c2} \u{39f}\u{3b4}\u{3bf}\u{3c2}"
        );
        assert_eq!(
            capitalize("\u{c}\u{130}\u{3a3}!|\u{3a3}a"),
            "\u{c}i\u{307}\u{3c2}!|\u{3c3}a"
        );
    }

    #[test]
    fn turkish_case_mapping() {
        // oracle (corpus formats.ftlcases locale-string-builtins, locale=tr_TR):
        // "istanbul IŞIK" -> upper "İSTANBUL IŞIK", lower "istanbul ışık", cap_first "Istanbul IŞIK"
        let tr = super::super::Locale::parse("tr_TR").unwrap();
        let s = "istanbul I\u{15e}IK";
        assert_eq!(upper_case_in(s, &tr), "\u{130}STANBUL I\u{15e}IK");
        assert_eq!(lower_case_in(s, &tr), "istanbul \u{131}\u{15f}\u{131}k");
        assert_eq!(cap_first(s), "Istanbul I\u{15e}IK");
        let en = super::super::Locale::en_us();
        assert_eq!(upper_case_in("i", &en), "I");
    }
}
