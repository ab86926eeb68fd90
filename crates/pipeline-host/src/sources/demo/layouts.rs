//! JSON objects built from a remembered key layout: the demo's records come in a dozen shapes
//! (which keys, in which order), so each new object clones a stored object of its shape and
//! overwrites the values in order. A clone copies the stored key hashes; inserting into an
//! order-preserving map hashes every key again (SipHash), which was half the cost of a record.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// The remembered shapes, keyed by a cheap fingerprint of their key sequence.
#[derive(Default)]
pub(super) struct Layouts {
    shapes: HashMap<u64, Shape>,
}

/// A key sequence and an object of those keys (values null) to clone.
struct Shape {
    /// The keys as given: the same literals come back, so most compare by address.
    keys: Vec<&'static str>,
    object: Map<String, Value>,
}

impl Layouts {
    /// The object of `entries`, in order.
    pub(super) fn object<const N: usize>(&mut self, entries: [(&'static str, Value); N]) -> Value {
        Value::Object(self.build(entries))
    }

    /// The map of `entries`, in order: what inserting them one by one builds. A shape seen
    /// before is cloned and filled; its keys are compared first, so a fingerprint collision
    /// costs speed, never correctness.
    pub(super) fn build<E>(&mut self, entries: E) -> Map<String, Value>
    where
        E: AsRef<[(&'static str, Value)]> + IntoIterator<Item = (&'static str, Value)>,
    {
        let keys = || entries.as_ref().iter().map(|(key, _)| *key);
        let count = entries.as_ref().len();
        if count == 0 {
            return Map::new();
        }
        let fingerprint = fingerprint(keys());
        if let Some(shape) = self.shapes.get(&fingerprint) {
            let same = |(stored, key): (&&str, &str)| std::ptr::eq(*stored, key) || *stored == key;
            if shape.keys.len() == count && shape.keys.iter().zip(keys()).all(same) {
                let mut map = shape.object.clone();
                for (slot, (_, value)) in map.values_mut().zip(entries) {
                    *slot = value;
                }
                return map;
            }
        }
        let shape_keys: Vec<&'static str> = keys().collect();
        let mut map = Map::with_capacity(count);
        for (key, value) in entries {
            map.insert(key.to_owned(), value);
        }
        // A repeated key leaves fewer entries than keys: that shape cannot be filled in order.
        if map.len() == count {
            let shape = Shape {
                keys: shape_keys,
                object: map.keys().map(|key| (key.clone(), Value::Null)).collect(),
            };
            self.shapes.insert(fingerprint, shape);
        }
        map
    }
}

/// Mixes each key's length, first and last byte: a few instructions a key, where SipHash over
/// its bytes costs a hundred.
fn fingerprint(keys: impl Iterator<Item = &'static str>) -> u64 {
    keys.fold(0, |hash, key| {
        let first = key.bytes().next().map_or(0, u64::from);
        let last = key.bytes().last().map_or(0, u64::from);
        (hash.rotate_left(7) ^ (key.len() as u64) << 16 ^ first << 8 ^ last)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inserted(entries: &[(&str, Value)]) -> Map<String, Value> {
        let mut map = Map::new();
        for (key, value) in entries {
            map.insert((*key).to_owned(), value.clone());
        }
        map
    }

    fn assert_same(built: &Map<String, Value>, expected: &Map<String, Value>) {
        assert_eq!(built, expected);
        assert!(built.keys().eq(expected.keys()), "key order");
    }

    #[test]
    fn a_repeated_shape_is_filled_in_order_and_equals_inserting() {
        let mut layouts = Layouts::default();
        for n in 0..3 {
            let entries = vec![("b", json!(n)), ("a", json!("x")), ("c", json!([n]))];
            assert_same(&layouts.build(entries.clone()), &inserted(&entries));
        }
        // The same keys at other addresses compare by content and fill the same shape.
        let copied: &'static str = Box::leak(String::from("a").into_boxed_str());
        let entries = vec![("b", json!(9)), (copied, json!("y")), ("c", json!([9]))];
        assert_same(&layouts.build(entries.clone()), &inserted(&entries));
        assert_eq!(layouts.shapes.len(), 1);
    }

    #[test]
    fn shapes_that_collide_or_repeat_keys_still_build_what_inserting_builds() {
        let mut layouts = Layouts::default();
        // Same length, first and last byte per key: the same fingerprint, other keys.
        let first = vec![("abc", json!(1)), ("cd", json!(2))];
        let second = vec![("axc", json!(3)), ("cd", json!(4))];
        let keys = |entries: &[(&'static str, Value)]| fingerprint(entries.iter().map(|e| e.0));
        assert_eq!(keys(&first), keys(&second), "the test needs a collision");
        let repeated = vec![("k", json!(1)), ("k", json!(2)), ("j", json!(3))];
        for entries in [&first, &second, &first, &repeated, &repeated] {
            assert_same(&layouts.build(entries.clone()), &inserted(entries));
        }
        assert_same(&layouts.build(Vec::new()), &Map::new());
    }
}
