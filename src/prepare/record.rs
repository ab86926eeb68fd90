//! The record model: what kind of record an input is, and the user record an event yields.
//!
//! `$identify` records feed the user stream only; `$groupidentify` feeds neither; every other
//! record is an event for the event stream that also yields one user record for the user stream.

use serde_json::{Map, Value};

/// What an input record is, by its `event_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An ordinary event: event stream, plus a derived user record.
    Event,
    /// `$identify`: the user stream only.
    Identify,
    /// `$groupidentify`: neither stream (intentionally discarded).
    GroupIdentify,
}

/// Classifies a record by its `event_type` (a record without one is an event).
pub fn classify(fields: &Map<String, Value>) -> Kind {
    match fields.get("event_type").and_then(Value::as_str) {
        Some("$identify") => Kind::Identify,
        Some("$groupidentify") => Kind::GroupIdentify,
        _ => Kind::Event,
    }
}

/// The user record's fields, in payload order. The first six always lead; the rest follow when
/// the record has them.
pub const USER_FIELDS: [&str; 22] = [
    "user_id",
    "device_id",
    "amplitude_id",
    "event_time",
    "user_properties",
    "groups",
    "platform",
    "os_name",
    "os_version",
    "device_brand",
    "device_manufacturer",
    "device_model",
    "device_carrier",
    "country",
    "region",
    "city",
    "dma",
    "language",
    "paying",
    "start_version",
    "version_name",
    "library",
];

/// Derives the user record from an event or identify (whose times are already normalized).
///
/// Absent and `null` fields are left out. An identify that uses the Identify API's `carrier` /
/// `app_version` gets them as `device_carrier` / `version_name` when those are absent.
pub fn user_record(fields: &Map<String, Value>) -> Map<String, Value> {
    let mut user = Map::with_capacity(12);
    for name in USER_FIELDS {
        if let Some(value) = present(fields, name) {
            user.insert(name.to_owned(), value.clone());
        }
    }
    for (alias, name) in [
        ("carrier", "device_carrier"),
        ("app_version", "version_name"),
    ] {
        if !user.contains_key(name) {
            if let Some(value) = present(fields, alias) {
                user.insert(name.to_owned(), value.clone());
            }
        }
    }
    user
}

fn present<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    fields.get(name).filter(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn records_are_classified_by_event_type() {
        assert_eq!(
            classify(&map(json!({"event_type": "Purchase"}))),
            Kind::Event
        );
        assert_eq!(
            classify(&map(json!({"event_type": "$identify"}))),
            Kind::Identify
        );
        assert_eq!(
            classify(&map(json!({"event_type": "$groupidentify"}))),
            Kind::GroupIdentify
        );
        assert_eq!(classify(&map(json!({"user_id": "u"}))), Kind::Event);
        assert_eq!(classify(&map(json!({"event_type": 5}))), Kind::Event);
    }

    #[test]
    fn the_user_record_keeps_listed_present_fields_in_order() {
        let event = map(json!({
            "event_type": "Purchase",
            "city": "Berlin",
            "device_id": "d-1",
            "user_id": "u-1",
            "event_properties": {"price": 12},
            "user_properties": {"email": "a@b.c", "plan": "pro"},
            "event_time": "2022-02-28 20:07:01.795",
            "amplitude_id": 123,
            "groups": null,
            "paying": false,
            "os_name": "ios",
            "$insert_id": "x",
        }));
        let user = user_record(&event);
        assert_eq!(
            Value::Object(user.clone()).to_string(),
            r#"{"user_id":"u-1","device_id":"d-1","amplitude_id":123,"event_time":"2022-02-28 20:07:01.795","user_properties":{"email":"a@b.c","plan":"pro"},"os_name":"ios","city":"Berlin","paying":false}"#
        );
    }

    #[test]
    fn an_identify_with_device_id_only_has_no_user_id_and_maps_api_spellings() {
        let identify = map(json!({
            "event_type": "$identify",
            "device_id": "d-9",
            "user_properties": {"$set": {"plan": "free"}},
            "carrier": "T-Mobile",
            "app_version": "2.1",
        }));
        let user = user_record(&identify);
        assert!(!user.contains_key("user_id"));
        assert_eq!(user["device_id"], "d-9");
        assert_eq!(user["device_carrier"], "T-Mobile");
        assert_eq!(user["version_name"], "2.1");
        assert!(!user.contains_key("carrier"));
    }
}
