//! Secrets out of a config that is shown to people (`validate --print`): the resolved config is
//! the one place where the values of `${API_TOKEN}` and friends appear in the clear, so they are
//! replaced by `"<redacted>"` before it is printed. The work is done on the parsed TOML tree, not
//! the text, so quoting, inline tables and dotted keys cannot hide a value.
//!
//! What is redacted:
//! 1. every value of a sink's `headers` table (`sinks.ID.headers.NAME`): the webhook sink treats
//!    all custom header values as secrets (API keys, bearer tokens), as its `Debug`, `preview`
//!    and retry store do;
//! 2. the whole value (every leaf of it) of any key, anywhere, whose name is secret-like, see
//!    [`is_secret_key`]: `api_key`, `api_keys`, `signing.secret`, `signing_key`, `password`,
//!    `Authorization`, `X-Auth-Token`, ...;
//! 3. in a string under a URL key (`url`, `uri`, `endpoint`, `*_url`): the password of its
//!    `user:password@` (the whole user part when there is no `:`), and the values of query
//!    parameters whose names are secret-like (`?api_key=...`).

/// What a secret is shown as.
pub const REDACTED: &str = "<redacted>";

/// Words that make a key a secret wherever they appear in its name.
const SECRET_WORDS: [&str; 13] = [
    "token",
    "tokens",
    "secret",
    "secrets",
    "password",
    "passwords",
    "passwd",
    "passphrase",
    "credential",
    "credentials",
    "authorization",
    "apikey",
    "apikeys",
];

/// A `key` after one of these names a field or a column, not a secret (`insert_id_key`,
/// `timestamp_key`, `partition_key`).
const FIELD_QUALIFIERS: [&str; 13] = [
    "id",
    "field",
    "timestamp",
    "time",
    "host",
    "message",
    "partition",
    "routing",
    "sort",
    "group",
    "dedupe",
    "type",
    "primary",
];

/// A `key` before one of these is about a field too (`key_field`, `key_name`).
const FIELD_NOUNS: [&str; 4] = ["field", "fields", "name", "names"];

/// Redacts the secrets of a whole pipeline config in place (see the module docs for the rule).
pub fn redact_config(document: &mut toml::Table) {
    if let Some(toml::Value::Table(sinks)) = document.get_mut("sinks") {
        for (_, sink) in sinks.iter_mut() {
            if let toml::Value::Table(sink) = sink {
                if let Some(headers) = sink.get_mut("headers") {
                    redact_all(headers);
                }
            }
        }
    }
    redact_table(document);
}

/// Rules 2 and 3 below `table`.
fn redact_table(table: &mut toml::Table) {
    for (key, value) in table.iter_mut() {
        if is_secret_key(key) {
            redact_all(value);
        } else if is_url_key(key) {
            redact_urls(value);
        } else {
            redact_value(value);
        }
    }
}

fn redact_value(value: &mut toml::Value) {
    match value {
        toml::Value::Table(table) => redact_table(table),
        toml::Value::Array(items) => items.iter_mut().for_each(redact_value),
        _ => {}
    }
}

/// Every leaf of `value` redacted; arrays and tables keep their shape, so the count of keys
/// or elements stays visible.
fn redact_all(value: &mut toml::Value) {
    match value {
        toml::Value::Table(table) => table.iter_mut().for_each(|(_, value)| redact_all(value)),
        toml::Value::Array(items) => items.iter_mut().for_each(redact_all),
        leaf => *leaf = toml::Value::String(REDACTED.to_owned()),
    }
}

fn redact_urls(value: &mut toml::Value) {
    match value {
        toml::Value::String(url) => *url = redact_url(url),
        toml::Value::Array(items) => items.iter_mut().for_each(redact_urls),
        other => redact_value(other),
    }
}

/// A key name's words, lowercased: split at anything but letters and digits, where a lowercase
/// letter or digit meets an uppercase one (`apiKey` is `api`, `key`), and before the last capital
/// of a run followed by a lowercase letter (`HTTPToken` is `http`, `token`).
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (index, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            push_word(&mut words, &mut current);
            continue;
        }
        let previous = index.checked_sub(1).map(|i| chars[i]);
        let next = chars.get(index + 1);
        let boundary = c.is_uppercase()
            && previous.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            });
        if boundary {
            push_word(&mut words, &mut current);
        }
        current.extend(c.to_lowercase());
    }
    push_word(&mut words, &mut current);
    words
}

fn push_word(words: &mut Vec<String>, current: &mut String) {
    if !current.is_empty() {
        words.push(std::mem::take(current));
    }
}

/// Whether a key's value is a secret: a word of its name is one of [`SECRET_WORDS`] (`token`,
/// `secret`, `password`, `authorization`, ...), or is `key`/`keys` not used for a field name
/// (not after one of [`FIELD_QUALIFIERS`], as in `insert_id_key`, nor before one of
/// [`FIELD_NOUNS`], as in `key_field`). Words are matched whole, so `keyspace`, `monkey` or
/// `tokenizer` are not secrets; when in doubt a key is redacted, since hiding a harmless value
/// costs less than printing a secret.
pub fn is_secret_key(name: &str) -> bool {
    let words = words(name);
    words.iter().enumerate().any(|(index, word)| {
        if SECRET_WORDS.contains(&word.as_str()) {
            return true;
        }
        if word != "key" && word != "keys" {
            return false;
        }
        let before = index.checked_sub(1).map(|i| words[i].as_str());
        let after = words.get(index + 1).map(String::as_str);
        !before.is_some_and(|w| FIELD_QUALIFIERS.contains(&w))
            && !after.is_some_and(|w| FIELD_NOUNS.contains(&w))
    })
}

fn is_url_key(name: &str) -> bool {
    words(name)
        .last()
        .is_some_and(|w| matches!(w.as_str(), "url" | "urls" | "uri" | "endpoint"))
}

/// `url` with the password of its user part and the values of secret-like query parameters
/// redacted; anything that does not look like `scheme://...` is returned as it is.
fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|n| n + 3) else {
        return url.to_owned();
    };
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _password)) => format!("{name}:{REDACTED}@{host}"),
            None => format!("{REDACTED}@{host}"),
        },
        None => authority.to_owned(),
    };
    format!("{head}{authority}{}", redact_query(tail))
}

/// The path, query and fragment of a URL with secret-like query parameter values redacted.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _value)) if is_secret_key(name) => format!("{name}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect();
    let mut out = format!("{path}?{}", pairs.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_are_told_from_structural_ones() {
        let secret = [
            "api_key",
            "api_keys",
            "apiKey",
            "ApiKey",
            "X-Api-Key",
            "signing_key",
            "key",
            "secret",
            "client_secret",
            "token",
            "X-Auth-Token",
            "access_token",
            "password",
            "db.password",
            "Authorization",
            "proxy-authorization",
            "credentials",
            "hmac_key_v2",
            "private-key",
            "keys",
            "HTTPToken",
            "APIKEY",
        ];
        let structural = [
            "insert_id_key",
            "timestamp_key",
            "partition_key",
            "key_field",
            "key_name",
            "keyspace",
            "monkey",
            "tokenizer",
            "url",
            "headers",
            "max_line_bytes",
            "min_id_length",
            "template",
            "event_types",
            "number_format",
            "",
        ];
        for name in secret {
            assert!(is_secret_key(name), "{name} should be secret");
        }
        for name in structural {
            assert!(!is_secret_key(name), "{name} should not be secret");
        }
    }

    #[test]
    fn words_split_at_separators_and_case() {
        assert_eq!(words("apiKey"), ["api", "key"]);
        assert_eq!(words("X-Api-Key"), ["x", "api", "key"]);
        assert_eq!(words("HTTPToken"), ["http", "token"]);
        assert_eq!(words("APIKEY"), ["apikey"]);
        assert_eq!(words("key2Value"), ["key2", "value"]);
        assert_eq!(words("__a..b__"), ["a", "b"]);
        assert_eq!(words("ÜberSecret"), ["über", "secret"]);
    }

    #[test]
    fn urls_lose_their_passwords_and_secret_parameters() {
        let cases = [
            ("https://example.com/hook", "https://example.com/hook"),
            (
                "https://user:pa55@example.com:8443/hook?team=growth&api_key=k&token=t#frag",
                "https://user:<redacted>@example.com:8443/hook?team=growth&api_key=<redacted>&token=<redacted>#frag",
            ),
            ("https://ghp_abc@example.com", "https://<redacted>@example.com"),
            ("http://127.0.0.1:9/?flag", "http://127.0.0.1:9/?flag"),
            ("not a url", "not a url"),
        ];
        for (url, expected) in cases {
            assert_eq!(redact_url(url), expected, "{url}");
        }
    }

    #[test]
    fn a_config_is_redacted_by_the_rules() {
        let mut document: toml::Table = r#"
data_dir = "/tmp/state"
[sources.in]
type = "amplitude_http"
address = "127.0.0.1:8080"
api_keys = ["k1", "k2"]
[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "https://u:p@example.com/hook?secret=s&x=1"
headers = { Authorization = "Bearer abc", X-Team = "growth" }
insert_id_key = "$insert_id"
signing = { secret = "sig", algorithm = "sha256" }
[sinks.hook.events]
template = "{\"token\": \"${input.token}\"}"
[sinks.other]
type = "console"
inputs = ["in"]
nested = { deeper = { password = 1234, list = [{ token = "t" }] } }
"#
        .parse()
        .unwrap();
        redact_config(&mut document);
        let expected: toml::Table = r#"
data_dir = "/tmp/state"
[sources.in]
type = "amplitude_http"
address = "127.0.0.1:8080"
api_keys = ["<redacted>", "<redacted>"]
[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "https://u:<redacted>@example.com/hook?secret=<redacted>&x=1"
headers = { Authorization = "<redacted>", X-Team = "<redacted>" }
insert_id_key = "$insert_id"
signing = { secret = "<redacted>", algorithm = "sha256" }
[sinks.hook.events]
template = "{\"token\": \"${input.token}\"}"
[sinks.other]
type = "console"
inputs = ["in"]
nested = { deeper = { password = "<redacted>", list = [{ token = "<redacted>" }] } }
"#
        .parse()
        .unwrap();
        assert_eq!(document, expected);
    }
}
