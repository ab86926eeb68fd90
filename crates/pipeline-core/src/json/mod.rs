//! Compact JSON for events, faster than `serde_json`: the serialization itself, byte for byte as
//! `serde_json` writes it (a sink's default payload is the event as JSON), and a value's size
//! without serializing it, estimated as Vector does (every component reports event bytes).
//!
//! Most strings in an event need no escape at all; the writer checks eight bytes at a time for
//! one and copies the rest in one go. Property tests hold both to `serde_json::to_vec`.

mod escape;
mod size;
mod write;

pub(crate) use size::object_size;
pub use write::write_compact;

#[cfg(test)]
pub(crate) mod tests {
    //! Values both halves are checked against `serde_json` on.

    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// Numbers at the edges of each representation, every escape, non-ASCII, nesting.
    pub(crate) fn edge_cases() -> Vec<Value> {
        vec![
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(9),
            json!(10),
            json!(-1),
            json!(-10),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(0.0),
            json!(-0.0),
            json!(0.1),
            json!(19.99),
            json!(1e300),
            json!(-1.5e-300),
            json!(5e-324),
            json!(f64::MAX),
            json!(123456789012345680.0),
            json!(f64::NAN),
            json!(""),
            json!("plain"),
            json!("exactly8"),
            json!("sixteen bytes ok"),
            json!("quote \" backslash \\ slash /"),
            json!("\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} \u{7f}"),
            json!("a long run of plain text, then \"quoted\", then more plain text\n"),
            json!("é São Paulo 東京 🚀"),
            json!([]),
            json!([1, "two", [3.5, null], {}]),
            json!({}),
            json!({"a": 1, "b\n\"": {"nested": [true, false]}, "é": -0.25}),
        ]
    }

    /// Any JSON value, with strings rich in characters that need escapes.
    pub(crate) fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            any::<String>().prop_map(Value::from),
            "[\\x00-\\x7f\"\\\\é東🚀]{0,40}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
                prop::collection::vec((any::<String>(), inner), 0..8)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }
}
