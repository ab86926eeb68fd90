//! Decoding and validating one Amplitude ingestion request, and mapping its events to the export
//! format the sink presents (`insert_id` -> `$insert_id`, `ip` -> `ip_address`, ...).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use chrono::{DateTime, TimeZone, Utc};
use hyper::StatusCode;
use rand::Rng;
use serde_json::{json, Map, Value};

use super::AmplitudeHttpConfig;

/// Most events per request, on every endpoint.
pub const MAX_EVENTS: usize = 2000;

/// The ingestion endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /2/httpapi`: JSON, 1 MB.
    HttpApi,
    /// `POST /batch`: JSON, 20 MB.
    Batch,
    /// `POST /identify`: form-encoded `api_key` + `identification`.
    Identify,
}

impl Endpoint {
    /// The largest (decoded) body accepted.
    pub fn max_body_bytes(self) -> usize {
        match self {
            Endpoint::Batch => 20 * 1024 * 1024,
            Endpoint::HttpApi | Endpoint::Identify => 1024 * 1024,
        }
    }
}

/// Why a request is refused, with Amplitude's status and JSON body.
#[derive(Debug, PartialEq)]
pub enum Rejection {
    /// 400 `Invalid request path` (also a wrong method).
    InvalidPath,
    /// 400 `Missing request body`.
    MissingBody,
    /// 400 `Invalid JSON request body`.
    InvalidJsonBody,
    /// 400 `Invalid event JSON`: `events`/`identification` is not a list of objects.
    InvalidEventJson,
    /// 400 `Request missing required field` with `missing_field`.
    MissingField(&'static str),
    /// 400 `Invalid API key`.
    InvalidApiKey,
    /// 400 with the indexes of events having invalid or missing fields, or ids shorter than
    /// `min_id_length` (Amplitude's `events_with_invalid_id_lengths`).
    InvalidEvents(Problems),
    /// 413 `Payload too large` (bytes or event count).
    TooLarge,
}

impl Rejection {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The JSON body, shaped as Amplitude's.
    pub fn body(&self) -> Value {
        let simple = |error: &str| json!({"code": 400, "error": error});
        match self {
            Rejection::InvalidPath => simple("Invalid request path"),
            Rejection::MissingBody => simple("Missing request body"),
            Rejection::InvalidJsonBody => simple("Invalid JSON request body"),
            Rejection::InvalidEventJson => simple("Invalid event JSON"),
            Rejection::InvalidApiKey => simple("Invalid API key"),
            Rejection::MissingField(field) => json!({
                "code": 400,
                "error": "Request missing required field",
                "missing_field": field,
            }),
            Rejection::InvalidEvents(problems) => json!({
                "code": 400,
                "error": if problems.invalid.is_empty() && problems.short_ids.is_empty() {
                    "Request missing required field"
                } else {
                    "Invalid field values on some events"
                },
                "events_with_invalid_fields": problems.invalid,
                "events_with_missing_fields": problems.missing,
                "events_with_invalid_id_lengths": problems.short_ids,
            }),
            Rejection::TooLarge => json!({"code": 413, "error": "Payload too large"}),
        }
    }
}

/// Decode `body` for `endpoint`, validate it and map its events to export records.
pub fn parse(
    endpoint: Endpoint,
    body: &[u8],
    config: &AmplitudeHttpConfig,
    peer: SocketAddr,
    now: DateTime<Utc>,
) -> Result<Vec<Map<String, Value>>, Rejection> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::MissingBody);
    }
    let (api_key, items, options, identify) = match endpoint {
        Endpoint::Identify => {
            let (api_key, items) = decode_form(body)?;
            (api_key, items, None, true)
        }
        Endpoint::HttpApi | Endpoint::Batch => {
            let Ok(Value::Object(mut request)) = serde_json::from_slice::<Value>(body) else {
                return Err(Rejection::InvalidJsonBody);
            };
            let api_key = match request.remove("api_key") {
                Some(Value::String(key)) if !key.is_empty() => key,
                _ => return Err(Rejection::MissingField("api_key")),
            };
            let items = match request.remove("events") {
                None | Some(Value::Null) => return Err(Rejection::MissingField("events")),
                Some(Value::Array(items)) if items.is_empty() => {
                    return Err(Rejection::MissingField("events"))
                }
                Some(Value::Array(items)) => items,
                Some(_) => return Err(Rejection::InvalidEventJson),
            };
            (api_key, items, request.remove("options"), false)
        }
    };
    if !config.api_keys.is_empty() && !crate::sources::secret::one_of(&api_key, &config.api_keys) {
        return Err(Rejection::InvalidApiKey);
    }
    if items.len() > MAX_EVENTS {
        return Err(Rejection::TooLarge);
    }
    let min_id_length = options
        .as_ref()
        .and_then(|o| o.get("min_id_length"))
        .and_then(Value::as_u64)
        .map_or(config.min_id_length, |n| n as usize);
    let mut objects = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Object(object) => objects.push(object),
            _ => return Err(Rejection::InvalidEventJson),
        }
    }
    let mut problems = Problems::default();
    for (index, object) in objects.iter().enumerate() {
        problems.check(object, index, identify, min_id_length);
    }
    if !problems.is_empty() {
        return Err(Rejection::InvalidEvents(problems));
    }
    let received = format_time(now);
    Ok(objects
        .into_iter()
        .map(|object| to_export(object, identify, peer, &received))
        .collect())
}

/// `api_key` and `identification` (one object or a list) of a form-encoded identify request.
fn decode_form(body: &[u8]) -> Result<(String, Vec<Value>), Rejection> {
    let mut api_key = None;
    let mut identification = None;
    for (name, value) in form_urlencoded::parse(body) {
        match name.as_ref() {
            "api_key" => api_key = Some(value.into_owned()),
            "identification" => identification = Some(value.into_owned()),
            _ => {}
        }
    }
    let api_key = api_key
        .filter(|key| !key.is_empty())
        .ok_or(Rejection::MissingField("api_key"))?;
    let identification = identification
        .filter(|text| !text.is_empty())
        .ok_or(Rejection::MissingField("identification"))?;
    match serde_json::from_str::<Value>(&identification) {
        Ok(Value::Array(items)) if items.is_empty() => {
            Err(Rejection::MissingField("identification"))
        }
        Ok(Value::Array(items)) => Ok((api_key, items)),
        Ok(object @ Value::Object(_)) => Ok((api_key, vec![object])),
        _ => Err(Rejection::InvalidEventJson),
    }
}

/// What is wrong with a request's events: field name -> event indexes, as Amplitude reports it.
#[derive(Debug, Default, PartialEq)]
pub struct Problems {
    invalid: BTreeMap<&'static str, Vec<usize>>,
    missing: BTreeMap<&'static str, Vec<usize>>,
    short_ids: BTreeMap<&'static str, Vec<usize>>,
}

impl Problems {
    fn is_empty(&self) -> bool {
        self.invalid.is_empty() && self.missing.is_empty() && self.short_ids.is_empty()
    }

    /// Record what is wrong with event `index`.
    fn check(
        &mut self,
        event: &Map<String, Value>,
        index: usize,
        identify: bool,
        min_id_length: usize,
    ) {
        if !identify {
            match event.get("event_type") {
                Some(Value::String(name)) if !name.is_empty() => {}
                None | Some(Value::Null) => {
                    self.missing.entry("event_type").or_default().push(index)
                }
                Some(_) => self.invalid.entry("event_type").or_default().push(index),
            }
            match event.get("time") {
                None | Some(Value::Null) => {}
                Some(time) if epoch_ms(time).is_some() => {}
                Some(_) => self.invalid.entry("time").or_default().push(index),
            }
        }
        let mut has_id = false;
        let mut has_bad_id = false;
        for field in ["user_id", "device_id"] {
            match event.get(field) {
                None | Some(Value::Null) => {}
                Some(Value::String(id)) if id.chars().count() >= min_id_length.max(1) => {
                    has_id = true
                }
                Some(Value::String(_)) => {
                    has_bad_id = true;
                    self.short_ids.entry(field).or_default().push(index);
                }
                Some(_) => {
                    has_bad_id = true;
                    self.invalid.entry(field).or_default().push(index);
                }
            }
        }
        if !has_id && !has_bad_id {
            self.missing
                .entry("user_id_or_device_id")
                .or_default()
                .push(index);
        }
    }
}

/// An event's `time` as whole epoch milliseconds: a non-negative integer, or a non-negative
/// number with a fraction (as JavaScript clients may send), truncated to the millisecond.
fn epoch_ms(time: &Value) -> Option<i64> {
    let Value::Number(number) = time else {
        return None;
    };
    if let Some(ms) = number.as_i64() {
        return (ms >= 0).then_some(ms);
    }
    // Integers beyond i64 are refused; floats must be finite and fit i64 once truncated.
    let ms = number.as_f64().filter(|_| number.is_f64())?.trunc();
    (ms.is_finite() && (0.0..9.2e18).contains(&ms)).then_some(ms as i64)
}

/// The export-format record for one ingested event (or identification).
///
/// An event's `ip_address` is its `ip`, or the client's address when `ip` is absent, null or
/// `"$remote"` (Amplitude's rule); the Identify API has no `ip` key, so identifications get none.
fn to_export(
    event: Map<String, Value>,
    identify: bool,
    peer: SocketAddr,
    received: &str,
) -> Map<String, Value> {
    let has_version_name = event.get("version_name").is_some_and(|v| !v.is_null());
    let mut out = Map::new();
    if identify {
        out.insert("event_type".into(), Value::String("$identify".into()));
    }
    let mut has_time = false;
    let mut has_ip = false;
    let mut has_library = false;
    for (key, value) in event {
        match key.as_str() {
            "insert_id" => {
                out.insert("$insert_id".into(), value);
            }
            "ip" => {
                let value = match value {
                    Value::Null => Value::String(peer.ip().to_string()),
                    Value::String(ip) if ip == "$remote" => Value::String(peer.ip().to_string()),
                    given => given,
                };
                out.insert("ip_address".into(), value);
                has_ip = true;
            }
            "carrier" => {
                out.insert("device_carrier".into(), value);
            }
            "app_version" if !has_version_name => {
                out.insert("version_name".into(), value);
            }
            "app_version" => {}
            "time" => {
                let time = epoch_ms(&value)
                    .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
                    .map_or_else(|| received.to_string(), format_time);
                out.insert("event_time".into(), Value::String(time.clone()));
                out.insert("client_event_time".into(), Value::String(time));
                has_time = true;
            }
            _ => {
                has_library |= key == "library";
                out.insert(key, value);
            }
        }
    }
    if !has_time {
        out.insert("event_time".into(), Value::String(received.into()));
        out.insert("client_event_time".into(), Value::String(received.into()));
    }
    if !has_ip && !identify {
        out.insert("ip_address".into(), Value::String(peer.ip().to_string()));
    }
    out.insert("client_upload_time".into(), Value::String(received.into()));
    out.insert(
        "server_received_time".into(),
        Value::String(received.into()),
    );
    out.insert("server_upload_time".into(), Value::String(received.into()));
    out.insert("uuid".into(), Value::String(uuid_v4()));
    if !has_library {
        out.insert("library".into(), Value::String("http/2.0".into()));
    }
    out
}

/// `yyyy-MM-dd HH:mm:ss.SSS` in UTC, the form the sink presents times in.
fn format_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// A random (version 4) UUID, as Amplitude gives every ingested event.
fn uuid_v4() -> String {
    let mut bytes: [u8; 16] = rand::thread_rng().gen();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AmplitudeHttpConfig {
        AmplitudeHttpConfig {
            address: "127.0.0.1:0".parse().unwrap(),
            api_keys: vec!["key-1".into()],
            min_id_length: 5,
            backpressure_timeout_ms: 1000,
            max_in_flight_requests: 4,
            cors: Default::default(),
            client_requests_per_second: None,
            tls: None,
        }
    }

    fn peer() -> SocketAddr {
        "10.1.2.3:5555".parse().unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_700_000_000_123).unwrap()
    }

    fn run(endpoint: Endpoint, body: &str) -> Result<Vec<Map<String, Value>>, Rejection> {
        parse(endpoint, body.as_bytes(), &config(), peer(), now())
    }

    #[test]
    fn events_are_mapped_to_the_export_format() {
        let body = r#"{"api_key":"key-1","events":[{"event_type":"Purchase","user_id":"user-1",
            "insert_id":"i-1","ip":"$remote","carrier":"Acme","app_version":"2.1","time":1646078821795,
            "event_properties":{"price":3}}]}"#;
        let records = run(Endpoint::HttpApi, body).unwrap();
        let r = &records[0];
        assert_eq!(r["$insert_id"], "i-1");
        assert_eq!(r["ip_address"], "10.1.2.3");
        assert_eq!(r["device_carrier"], "Acme");
        assert_eq!(r["version_name"], "2.1");
        assert_eq!(r["event_time"], "2022-02-28 20:07:01.795");
        assert_eq!(r["client_event_time"], "2022-02-28 20:07:01.795");
        assert_eq!(r["server_received_time"], format_time(now()));
        assert_eq!(r["library"], "http/2.0");
        assert_eq!(r["event_properties"]["price"], 3);
        let uuid = r["uuid"].as_str().unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        for gone in ["insert_id", "ip", "carrier", "app_version", "time"] {
            assert!(!r.contains_key(gone), "{gone} left in the record");
        }
    }

    #[test]
    fn ip_address_is_the_given_ip_else_the_client_address() {
        let body = r#"{"api_key":"key-1","events":[
            {"event_type":"a","user_id":"user-1","ip":"203.0.113.7"},
            {"event_type":"b","user_id":"user-1"},
            {"event_type":"c","user_id":"user-1","ip":null},
            {"event_type":"d","user_id":"user-1","ip":"$remote"}]}"#;
        let addresses: Vec<Value> = run(Endpoint::HttpApi, body)
            .unwrap()
            .into_iter()
            .map(|mut r| r.remove("ip_address").unwrap_or(Value::Null))
            .collect();
        assert_eq!(
            addresses,
            ["203.0.113.7", "10.1.2.3", "10.1.2.3", "10.1.2.3"]
        );
    }

    #[test]
    fn a_fractional_time_is_truncated_to_the_millisecond() {
        let body = r#"{"api_key":"key-1","events":[
            {"event_type":"a","user_id":"user-1","time":1646078821795.9},
            {"event_type":"b","user_id":"user-1","time":1.6460788217951e12},
            {"event_type":"c","user_id":"user-1","time":0.5}]}"#;
        let times: Vec<Value> = run(Endpoint::HttpApi, body)
            .unwrap()
            .into_iter()
            .map(|mut r| r.remove("event_time").unwrap_or(Value::Null))
            .collect();
        assert_eq!(
            times,
            [
                "2022-02-28 20:07:01.795",
                "2022-02-28 20:07:01.795",
                "1970-01-01 00:00:00.000"
            ]
        );
        for bad in [
            "-1.5",
            "-1",
            "1e300",
            "18446744073709551615",
            "\"1646078821795\"",
        ] {
            let body = format!(
                r#"{{"api_key":"key-1","events":[{{"event_type":"a","user_id":"user-1","time":{bad}}}]}}"#
            );
            let rejection = run(Endpoint::HttpApi, &body).unwrap_err();
            assert_eq!(
                rejection.body()["events_with_invalid_fields"],
                json!({"time": [0]}),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_identification_becomes_an_identify_record() {
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("api_key", "key-1")
            .append_pair(
                "identification",
                r#"[{"user_id":"user-1","user_properties":{"$set":{"plan":"pro"}}},{"device_id":"device-9"}]"#,
            )
            .finish();
        let records = run(Endpoint::Identify, &form).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0]["event_type"], "$identify");
        assert_eq!(records[0]["user_properties"]["$set"]["plan"], "pro");
        assert_eq!(records[1]["device_id"], "device-9");
        assert!(!records[1].contains_key("user_id"));
        assert!(!records[0].contains_key("ip_address"));
    }

    #[test]
    fn invalid_events_are_reported_by_index() {
        let body = r#"{"api_key":"key-1","events":[
            {"event_type":"ok","user_id":"user-1"},
            {"user_id":"user-2"},
            {"event_type":"short","user_id":"abc"},
            {"event_type":"noid"},
            {"event_type":"bad time","device_id":"device-1","time":"yesterday"}]}"#;
        let rejection = run(Endpoint::HttpApi, body).unwrap_err();
        assert_eq!(
            rejection.body(),
            json!({"code":400,"error":"Invalid field values on some events",
                "events_with_invalid_fields":{"time":[4]},
                "events_with_missing_fields":{"event_type":[1],"user_id_or_device_id":[3]},
                "events_with_invalid_id_lengths":{"user_id":[2]}})
        );
    }

    #[test]
    fn the_request_min_id_length_overrides_the_default() {
        let body = r#"{"api_key":"key-1","events":[{"event_type":"a","user_id":"ab"}],"options":{"min_id_length":2}}"#;
        assert_eq!(run(Endpoint::HttpApi, body).unwrap().len(), 1);
    }

    #[test]
    fn request_level_errors() {
        assert_eq!(run(Endpoint::HttpApi, "  "), Err(Rejection::MissingBody));
        assert_eq!(run(Endpoint::HttpApi, "{"), Err(Rejection::InvalidJsonBody));
        assert_eq!(
            run(Endpoint::HttpApi, r#"{"events":[]}"#),
            Err(Rejection::MissingField("api_key"))
        );
        assert_eq!(
            run(Endpoint::HttpApi, r#"{"api_key":"key-1"}"#),
            Err(Rejection::MissingField("events"))
        );
        assert_eq!(
            run(Endpoint::HttpApi, r#"{"api_key":"other","events":[{}]}"#),
            Err(Rejection::InvalidApiKey)
        );
        assert_eq!(
            run(Endpoint::HttpApi, r#"{"api_key":"key-1","events":[1]}"#),
            Err(Rejection::InvalidEventJson)
        );
        let many: Vec<Value> = (0..=MAX_EVENTS)
            .map(|_| json!({"event_type":"a","user_id":"user-1"}))
            .collect();
        let body = json!({"api_key":"key-1","events":many}).to_string();
        assert_eq!(run(Endpoint::Batch, &body), Err(Rejection::TooLarge));
    }
}
