//! Time normalization: every time field becomes `yyyy-MM-dd HH:mm:ss.SSS` in UTC.
//!
//! Inputs differ by origin: Amplitude export files carry `2022-02-28 20:07:01.795123` (6 fraction
//! digits, UTC), the streaming docs show 3 digits, clients send ISO-8601 with a zone, and the HTTP
//! API carries epoch milliseconds. Templates parse the result with `yyyy-MM-dd HH:mm:ss.S`, which
//! only reads milliseconds correctly with exactly 3 digits, hence the single output form.
//! Fractions beyond milliseconds are truncated, never rounded (a record never moves forward in time).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

/// The record fields holding times (Amplitude's export format).
pub const TIME_FIELDS: [&str; 7] = [
    "event_time",
    "client_event_time",
    "client_upload_time",
    "server_received_time",
    "server_upload_time",
    "processed_time",
    "user_creation_time",
];

/// The output pattern, as chrono format.
const OUTPUT: &str = "%Y-%m-%d %H:%M:%S%.3f";

/// Rewrites every time field of `fields` it can read into the canonical form; fields it cannot
/// read are left as they are. An HTTP-API `time` (epoch ms) fills `event_time` and
/// `client_event_time` when those are absent.
pub fn normalize_times(fields: &mut Map<String, Value>) {
    // One pass over the record's entries: cheaper than a hashed lookup per time field name.
    let mut http_time = None;
    let mut has_event_time = false;
    let mut has_client_event_time = false;
    for (name, value) in fields.iter_mut() {
        // `time` and every time field end so: one comparison passes over the other fields.
        if !name.ends_with("time") {
            continue;
        }
        if name == "time" {
            http_time = value.as_i64();
            continue;
        }
        if !TIME_FIELDS.contains(&name.as_str()) {
            continue;
        }
        if let Some(normalized) = normalize_value(value) {
            *value = Value::String(normalized);
        }
        if !value.is_null() {
            has_event_time |= name == "event_time";
            has_client_event_time |= name == "client_event_time";
        }
    }
    let Some(ms) = http_time else {
        return;
    };
    if has_event_time && has_client_event_time {
        return;
    }
    if let Some(text) = format_epoch_ms(ms) {
        if !has_event_time {
            fields.insert("event_time".to_owned(), Value::String(text.clone()));
        }
        if !has_client_event_time {
            fields.insert("client_event_time".to_owned(), Value::String(text));
        }
    }
}

/// The canonical form of one JSON time value, or `None` when it is already canonical or unreadable.
fn normalize_value(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => {
            if is_canonical(text) {
                None
            } else {
                normalize_str(text)
            }
        }
        Value::Number(n) => n.as_i64().and_then(format_epoch_ms),
        _ => None,
    }
}

/// Reads a time string in any accepted form and returns the canonical form.
pub fn normalize_str(text: &str) -> Option<String> {
    let text = text.trim();
    if is_canonical(text) {
        return Some(text.to_owned());
    }
    // Export form with more fraction digits: the first 23 bytes are the canonical prefix
    // (`get`, not indexing: byte 23 may fall inside a multi-byte character of bad input).
    if let (Some(prefix), Some(rest)) = (text.get(..23), text.get(23..)) {
        if !rest.is_empty() && is_canonical(prefix) && rest.bytes().all(|b| b.is_ascii_digit()) {
            return Some(prefix.to_owned());
        }
    }
    parse(text).map(canonical)
}

/// Parses the accepted forms into a UTC instant.
fn parse(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    for pattern in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, pattern) {
            return Some(naive.and_utc());
        }
    }
    // ISO-8601 with a zone but a space separator, or "+0000" offsets.
    for pattern in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(at) = DateTime::parse_from_str(text, pattern) {
            return Some(at.with_timezone(&Utc));
        }
    }
    None
}

/// Formats epoch milliseconds in the canonical form.
pub fn format_epoch_ms(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(canonical)
}

/// `at` in the canonical form; digits written directly, as chrono's format machinery costs
/// more than the rest of a record's normalization (it runs for every record with a `time`).
fn canonical(at: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let year = at.year();
    if !(0..=9999).contains(&year) || at.timestamp_subsec_millis() > 999 {
        return at.format(OUTPUT).to_string();
    }
    let mut out = String::with_capacity(23);
    push_digits(&mut out, year.unsigned_abs(), 4);
    for (separator, value, width) in [
        ('-', at.month(), 2),
        ('-', at.day(), 2),
        (' ', at.hour(), 2),
        (':', at.minute(), 2),
        (':', at.second(), 2),
        ('.', at.timestamp_subsec_millis(), 3),
    ] {
        out.push(separator);
        push_digits(&mut out, value, width);
    }
    out
}

/// Appends `value` as exactly `width` decimal digits (zero-padded; `value` fits).
fn push_digits(out: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

/// `dddd-dd-dd dd:dd:dd.ddd` exactly.
fn is_canonical(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 23
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b' ',
            13 | 16 => *b == b':',
            19 => *b == b'.',
            _ => b.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_time_field_passes_the_name_precheck() {
        assert!(TIME_FIELDS.iter().all(|name| name.ends_with("time")));
    }

    #[test]
    fn every_input_form_becomes_milliseconds_in_utc() {
        let cases = [
            ("2022-02-28 20:07:01.795", "2022-02-28 20:07:01.795"),
            ("2022-02-28 20:07:01.795123", "2022-02-28 20:07:01.795"),
            ("2022-02-28 20:07:01.7", "2022-02-28 20:07:01.700"),
            ("2022-02-28 20:07:01", "2022-02-28 20:07:01.000"),
            ("2022-02-28T20:07:01.795Z", "2022-02-28 20:07:01.795"),
            ("2022-02-28T20:07:01Z", "2022-02-28 20:07:01.000"),
            ("2022-02-28T20:07:01.795999999Z", "2022-02-28 20:07:01.795"),
            ("2022-02-28T22:07:01.795+02:00", "2022-02-28 20:07:01.795"),
            ("2022-02-28T15:07:01.795-05:00", "2022-02-28 20:07:01.795"),
            ("2022-03-01T01:07:01+05:00", "2022-02-28 20:07:01.000"),
            ("2022-02-28T20:07:01.795", "2022-02-28 20:07:01.795"),
            ("2022-02-28T20:07:01.795+0000", "2022-02-28 20:07:01.795"),
            (" 2022-02-28 20:07:01.795 ", "2022-02-28 20:07:01.795"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_str(input).as_deref(), Some(expected), "{input}");
        }
        assert_eq!(normalize_str("yesterday"), None);
        assert_eq!(normalize_str("2022-13-40 25:00:00"), None);
    }

    #[test]
    fn a_multi_byte_character_where_the_fraction_ends_is_unreadable_not_a_crash() {
        assert_eq!(normalize_str("2024-05-01 12:34:56.78\u{e9}9"), None);
        assert_eq!(normalize_str("2024-05-01 12:34:56.789\u{e9}"), None);
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_read_or_refused_without_a_panic(text in "\\PC{0,40}", digits in "[0-9: .T-]{0,30}") {
            let _ = normalize_str(&text);
            let _ = normalize_str(&format!("2024-05-01 12:34:56{digits}{text}"));
        }

        #[test]
        fn the_direct_formatter_agrees_with_chrono(ms in -70_000_000_000_000_i64..300_000_000_000_000) {
            if let Some(at) = DateTime::<Utc>::from_timestamp_millis(ms) {
                proptest::prop_assert_eq!(canonical(at), at.format(OUTPUT).to_string());
            }
        }
    }

    #[test]
    fn epoch_milliseconds_are_formatted_in_utc() {
        assert_eq!(
            format_epoch_ms(1_646_078_821_795).as_deref(),
            Some("2022-02-28 20:07:01.795")
        );
        assert_eq!(
            format_epoch_ms(0).as_deref(),
            Some("1970-01-01 00:00:00.000")
        );
    }

    #[test]
    fn record_fields_are_rewritten_in_place_and_http_time_fills_event_time() {
        let mut fields = json!({
            "event_type": "Purchase",
            "time": 1_646_078_821_795_i64,
            "server_upload_time": "2022-02-28 20:07:02.000001",
            "user_creation_time": "2021-01-01T00:00:00Z",
            "processed_time": "not a time",
            "client_upload_time": 1_646_078_821_000_i64,
        });
        let map = fields.as_object_mut().unwrap();
        normalize_times(map);
        assert_eq!(map["event_time"], "2022-02-28 20:07:01.795");
        assert_eq!(map["client_event_time"], "2022-02-28 20:07:01.795");
        assert_eq!(map["server_upload_time"], "2022-02-28 20:07:02.000");
        assert_eq!(map["user_creation_time"], "2021-01-01 00:00:00.000");
        assert_eq!(map["processed_time"], "not a time");
        assert_eq!(map["client_upload_time"], "2022-02-28 20:07:01.000");
        assert_eq!(map["time"], 1_646_078_821_795_i64, "the input field stays");
    }

    #[test]
    fn an_existing_event_time_wins_over_http_time() {
        let mut fields = json!({"time": 0, "event_time": "2022-02-28 20:07:01.795123"});
        let map = fields.as_object_mut().unwrap();
        normalize_times(map);
        assert_eq!(map["event_time"], "2022-02-28 20:07:01.795");
        assert_eq!(map["client_event_time"], "1970-01-01 00:00:00.000");
    }
}
