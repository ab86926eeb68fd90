//! `dead-letters list` output: an aligned table for people (the default), or one JSON object per
//! line with every field for scripts (`--json`).

use std::io::{self, Write};

use serde::Serialize;
use webhook_sink::retry::dead_letters::DeadLetter;

use super::time::{age_seconds, humanise, rfc3339};

/// The longest last error the table shows; `show` and `--json` have it whole.
const ERROR_WIDTH: usize = 60;

/// The longest insert id, event type or user id the table shows.
const KEY_WIDTH: usize = 36;

/// The table's columns: title, and whether values align right (numbers).
const COLUMNS: [(&str, bool); 8] = [
    ("ID", true),
    ("STREAM", false),
    ("INSERT_ID", false),
    ("EVENT_TYPE", false),
    ("USER_ID", false),
    ("ATTEMPTS", true),
    ("AGE", true),
    ("LAST_ERROR", false),
];

/// Writes `letters` as a table with a header row, or `no dead letters` when there are none.
/// Ages are counted from when each became a dead letter to `now_ms`.
pub fn write_table(out: &mut impl Write, letters: &[DeadLetter], now_ms: i64) -> io::Result<()> {
    if letters.is_empty() {
        return writeln!(out, "no dead letters");
    }
    let header = COLUMNS.map(|(title, _)| title.to_owned());
    let rows: Vec<[String; 8]> = letters.iter().map(|letter| cells(letter, now_ms)).collect();
    let mut widths = header.clone().map(|title| title.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        writeln!(out, "{}", line(row, &widths))?;
    }
    Ok(())
}

/// One dead letter's cells, in [`COLUMNS`] order; an absent payload field is `-`.
fn cells(letter: &DeadLetter, now_ms: i64) -> [String; 8] {
    let key = |value: &Option<String>| match value {
        Some(text) => clip(text, KEY_WIDTH),
        None => "-".to_owned(),
    };
    [
        letter.id.to_string(),
        letter.stream.as_str().to_owned(),
        key(&letter.keys.insert_id),
        key(&letter.keys.event_type),
        key(&letter.keys.user_id),
        letter.attempts.to_string(),
        humanise(age_seconds(letter.dead_at, now_ms)),
        clip(&letter.last_error, ERROR_WIDTH),
    ]
}

/// The cells padded to `widths`, two spaces apart; the last column is not padded, so lines end
/// without trailing spaces.
fn line(cells: &[String; 8], widths: &[usize; 8]) -> String {
    let last = cells.len() - 1;
    let mut text = String::new();
    for (index, ((cell, &width), (_, right))) in cells.iter().zip(widths).zip(COLUMNS).enumerate() {
        let pad = " ".repeat(width - cell.chars().count());
        match (right, index == last) {
            (true, _) => text.push_str(&format!("{pad}{cell}")),
            (false, true) => text.push_str(cell),
            (false, false) => text.push_str(&format!("{cell}{pad}")),
        }
        if index != last {
            text.push_str("  ");
        }
    }
    text
}

/// `text` on one line (control characters as spaces), cut to `max` characters with `…`.
fn clip(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// A dead letter as a `--json` line. Times are RFC 3339 (UTC, milliseconds; `null` for never);
/// `age_seconds` counts from `dead_at`.
#[derive(Serialize)]
struct JsonLetter<'a> {
    id: i64,
    stream: &'static str,
    insert_id: Option<&'a str>,
    event_type: Option<&'a str>,
    user_id: Option<&'a str>,
    attempts: u32,
    last_error: &'a str,
    received_at: Option<String>,
    first_attempt_at: Option<String>,
    last_attempt_at: Option<String>,
    dead_at: Option<String>,
    age_seconds: u64,
    history: Vec<JsonFailure<'a>>,
}

/// One failed attempt in a `--json` line.
#[derive(Serialize)]
struct JsonFailure<'a> {
    at: Option<String>,
    error: &'a str,
}

/// Writes one JSON object per dead letter (nothing when there are none).
pub fn write_json_lines(
    out: &mut impl Write,
    letters: &[DeadLetter],
    now_ms: i64,
) -> io::Result<()> {
    for letter in letters {
        let keys = &letter.keys;
        let json = JsonLetter {
            id: letter.id,
            stream: letter.stream.as_str(),
            insert_id: keys.insert_id.as_deref(),
            event_type: keys.event_type.as_deref(),
            user_id: keys.user_id.as_deref(),
            attempts: letter.attempts,
            last_error: &letter.last_error,
            received_at: rfc3339(letter.received_at),
            first_attempt_at: rfc3339(letter.first_attempt_at),
            last_attempt_at: rfc3339(letter.last_attempt_at),
            dead_at: rfc3339(letter.dead_at),
            age_seconds: age_seconds(letter.dead_at, now_ms),
            history: letter
                .history
                .iter()
                .map(|failure| JsonFailure {
                    at: rfc3339(failure.at),
                    error: &failure.error,
                })
                .collect(),
        };
        serde_json::to_writer(&mut *out, &json)?;
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use webhook_sink::retry::dead_letters::{Failure, PayloadKeys};
    use webhook_sink::stream::Stream;

    fn letter(id: i64, keys: PayloadKeys, last_error: &str) -> DeadLetter {
        DeadLetter {
            id,
            stream: Stream::Events,
            keys,
            attempts: 3,
            last_error: last_error.to_owned(),
            received_at: 1_714_564_790_000,
            first_attempt_at: 1_714_564_795_000,
            last_attempt_at: 1_714_564_800_000,
            dead_at: 1_714_564_800_000,
            history: vec![Failure {
                at: 1_714_564_800_000,
                error: last_error.to_owned(),
            }],
        }
    }

    #[test]
    fn the_table_aligns_columns_marks_absent_fields_and_clips_long_errors() {
        let keys = PayloadKeys {
            insert_id: Some("i-1".into()),
            event_type: Some("Purchase".into()),
            user_id: None,
        };
        let long = format!("http://127.0.0.1:9/ answered 500: {}", "x".repeat(80));
        let letters = [
            letter(7, keys, "answered 500"),
            letter(12, PayloadKeys::default(), &long),
        ];
        let mut out = Vec::new();
        write_table(&mut out, &letters, 1_714_564_992_000).unwrap();
        let text = String::from_utf8(out).unwrap();
        let expected = format!(
            "ID  STREAM  INSERT_ID  EVENT_TYPE  USER_ID  ATTEMPTS    AGE  LAST_ERROR\n \
             7  events  i-1        Purchase    -               3  3m12s  answered 500\n\
             12  events  -          -           -               3  3m12s  {}…\n",
            &long[..59]
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn an_empty_table_says_so_and_empty_json_is_nothing() {
        let mut table = Vec::new();
        write_table(&mut table, &[], 0).unwrap();
        assert_eq!(table, b"no dead letters\n");
        let mut json = Vec::new();
        write_json_lines(&mut json, &[], 0).unwrap();
        assert!(json.is_empty());
    }

    #[test]
    fn a_json_line_has_every_field_with_rfc3339_times() {
        let mut out = Vec::new();
        let keys = PayloadKeys {
            insert_id: Some("i-1".into()),
            event_type: None,
            user_id: Some("u-1".into()),
        };
        write_json_lines(&mut out, &[letter(7, keys, "boom")], 1_714_564_860_000).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                r#"{"id":7,"stream":"events","insert_id":"i-1","event_type":null,"user_id":"u-1","#,
                r#""attempts":3,"last_error":"boom","received_at":"2024-05-01T11:59:50.000Z","#,
                r#""first_attempt_at":"2024-05-01T11:59:55.000Z","#,
                r#""last_attempt_at":"2024-05-01T12:00:00.000Z","#,
                r#""dead_at":"2024-05-01T12:00:00.000Z","age_seconds":60,"#,
                r#""history":[{"at":"2024-05-01T12:00:00.000Z","error":"boom"}]}"#,
                "\n"
            )
        );
    }
}
