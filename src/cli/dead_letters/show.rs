//! `dead-letters show --id N`: one dead letter in full: what it is, every failed attempt, then
//! the request as stored (headers with secret values redacted, the body pretty-printed when it
//! is JSON).

use std::io::{self, Write};

use webhook_sink::retry::dead_letters::{DeadLetter, StoredRequest};

use super::time::{age_seconds, humanise, rfc3339};

/// Header names whose values are secrets wherever they appear (case-insensitive substrings).
const SECRET_WORDS: [&str; 5] = ["authorization", "signature", "token", "secret", "key"];

/// What replaces a secret header value.
const REDACTED: &str = "<redacted>";

/// Whether a header's value must not be printed: it is one of the sink's custom `headers`
/// (`custom`, which may carry credentials), `Authorization`, or its name says it holds a
/// credential. Matching is case-insensitive (the store keeps names lowercase).
pub fn is_secret(name: &str, custom: &[String]) -> bool {
    let name = name.to_ascii_lowercase();
    custom
        .iter()
        .any(|header| header.eq_ignore_ascii_case(&name))
        || SECRET_WORDS.iter().any(|word| name.contains(word))
}

/// Writes the dead letter, its failures and its request. `url` is where a replay sends it (the
/// sink's current URL), `custom` the names of the sink's custom headers.
pub fn write_letter(
    out: &mut impl Write,
    letter: &DeadLetter,
    request: &StoredRequest,
    url: &str,
    custom: &[String],
    now_ms: i64,
) -> io::Result<()> {
    let time = |ms: i64| rfc3339(ms).unwrap_or_else(|| "-".to_owned());
    let key = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    let age = humanise(age_seconds(letter.dead_at, now_ms));
    writeln!(out, "id:          {}", letter.id)?;
    writeln!(out, "stream:      {}", letter.stream)?;
    writeln!(out, "insert_id:   {}", key(&letter.keys.insert_id))?;
    writeln!(out, "event_type:  {}", key(&letter.keys.event_type))?;
    writeln!(out, "user_id:     {}", key(&letter.keys.user_id))?;
    writeln!(out, "attempts:    {}", letter.attempts)?;
    writeln!(out, "received:    {}", time(letter.received_at))?;
    writeln!(out, "dead since:  {} ({age} ago)", time(letter.dead_at))?;
    writeln!(out, "last error:  {}", letter.last_error)?;
    writeln!(out, "errors:")?;
    for (number, failure) in letter.history.iter().enumerate() {
        writeln!(
            out,
            "  {:>2}. {}  {}",
            number + 1,
            time(failure.at),
            failure.error
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "# the headers as stored with the record; a replay sends the sink's current headers"
    )?;
    writeln!(out, "POST {url}")?;
    for (name, value) in &request.headers {
        let value = if is_secret(name, custom) {
            REDACTED
        } else {
            value
        };
        writeln!(out, "{name}: {value}")?;
    }
    writeln!(out)?;
    write_body(out, &request.body)
}

/// The body pretty-printed when it is JSON (key order kept), else as text.
fn write_body(out: &mut impl Write, body: &[u8]) -> io::Result<()> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => {
            serde_json::to_writer_pretty(&mut *out, &json)?;
            writeln!(out)
        }
        Err(_) => writeln!(out, "{}", String::from_utf8_lossy(body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use webhook_sink::retry::dead_letters::{Failure, PayloadKeys};
    use webhook_sink::stream::Stream;

    #[test]
    fn custom_headers_authorization_and_credential_names_are_secret() {
        let custom = ["x-team".to_owned()];
        for name in [
            "X-Team",
            "authorization",
            "Proxy-Authorization",
            "X-Hub-Signature-256",
            "x-auth-token",
            "X-Client-Secret",
            "X-Api-Key",
        ] {
            assert!(is_secret(name, &custom), "{name}");
        }
        for name in ["content-type", "user-agent", "x-request-id"] {
            assert!(!is_secret(name, &custom), "{name}");
        }
    }

    #[test]
    fn a_letter_prints_its_failures_redacted_headers_and_pretty_body() {
        let letter = DeadLetter {
            id: 4,
            stream: Stream::Users,
            keys: PayloadKeys {
                user_id: Some("u-1".into()),
                ..PayloadKeys::default()
            },
            attempts: 2,
            last_error: "answered 503".into(),
            received_at: 1_714_564_790_000,
            first_attempt_at: 1_714_564_795_000,
            last_attempt_at: 1_714_564_800_000,
            dead_at: 1_714_564_800_000,
            history: vec![
                Failure {
                    at: 1_714_564_795_000,
                    error: "answered 500".into(),
                },
                Failure {
                    at: 1_714_564_800_000,
                    error: "answered 503".into(),
                },
            ],
        };
        let request = StoredRequest {
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-team".into(), "growth".into()),
                ("x-signature".into(), "abc".into()),
            ],
            body: br#"{"user_id":"u-1","n":1}"#.to_vec(),
        };
        let mut out = Vec::new();
        let custom = ["x-team".to_owned()];
        let now = 1_714_564_815_000;
        write_letter(&mut out, &letter, &request, "http://h/", &custom, now).unwrap();
        let text = String::from_utf8(out).unwrap();
        let expected = "\
id:          4
stream:      users
insert_id:   -
event_type:  -
user_id:     u-1
attempts:    2
received:    2024-05-01T11:59:50.000Z
dead since:  2024-05-01T12:00:00.000Z (15s ago)
last error:  answered 503
errors:
   1. 2024-05-01T11:59:55.000Z  answered 500
   2. 2024-05-01T12:00:00.000Z  answered 503

# the headers as stored with the record; a replay sends the sink's current headers
POST http://h/
content-type: application/json
x-team: <redacted>
x-signature: <redacted>

{
  \"user_id\": \"u-1\",
  \"n\": 1
}
";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_body_that_is_not_json_prints_as_text() {
        let mut out = Vec::new();
        write_body(&mut out, b"plain <b>text</b>").unwrap();
        assert_eq!(out, b"plain <b>text</b>\n");
    }
}
