//! Amplitude's user-property operations, applied to a user's resolved properties.
//!
//! An event's `user_properties` either holds operations (`{"$set": {...}, "$add": {...}}`) or
//! plain properties, which act as `$set`. The operations of one event run in the order the
//! official SDKs document (`$clearAll`, `$unset`, `$set`, `$setOnce`, `$add`, `$append`,
//! `$prepend`, `$preInsert`, `$postInsert`, `$remove`), whatever their order in the JSON.
//!
//! Where Amplitude's documentation is silent on a type mismatch, the rule here keeps what the
//! user already has rather than guessing: `$add` on a value that is not a number (or a numeric
//! string) changes nothing; `$append` to a scalar makes a list of the scalar and the new values
//! (as Amplitude documents); `$remove` from a scalar equal to a removed value leaves `[]`.

use serde_json::{Map, Number, Value};

/// One operation, in the order the operations of one event are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    ClearAll,
    Unset,
    Set,
    SetOnce,
    Add,
    Append,
    Prepend,
    PreInsert,
    PostInsert,
    Remove,
}

impl Op {
    fn from_key(key: &str) -> Option<Op> {
        Some(match key {
            "$clearAll" => Op::ClearAll,
            "$unset" => Op::Unset,
            "$set" => Op::Set,
            "$setOnce" => Op::SetOnce,
            "$add" => Op::Add,
            "$append" => Op::Append,
            "$prepend" => Op::Prepend,
            "$preInsert" => Op::PreInsert,
            "$postInsert" => Op::PostInsert,
            "$remove" => Op::Remove,
            _ => return None,
        })
    }
}

/// Applies the `user_properties` of one event to `state`.
///
/// Keys naming an operation are operations; every other key is a plain property, set as by
/// `$set` (in the `$set` step). An operation whose value is not an object is ignored, except
/// `$clearAll`, whose value does not matter.
pub fn apply(state: &mut Map<String, Value>, update: &Map<String, Value>) {
    let mut steps: Vec<(Op, &Map<String, Value>)> = Vec::new();
    let mut plain = Map::new();
    let mut clear_all = false;
    for (key, value) in update {
        match (Op::from_key(key), value) {
            (Some(Op::ClearAll), _) => clear_all = true,
            (Some(op), Value::Object(properties)) => steps.push((op, properties)),
            (Some(_), _) => {}
            (None, _) => {
                plain.insert(key.clone(), value.clone());
            }
        }
    }
    if !plain.is_empty() {
        // `$set` and plain keys share the `$set` step; a stable sort keeps their JSON order.
        steps.push((Op::Set, &plain));
    }
    steps.sort_by_key(|(op, _)| *op);
    if clear_all {
        state.clear();
    }
    for (op, properties) in steps {
        for (key, value) in properties {
            apply_one(state, op, key, value);
        }
    }
}

fn apply_one(state: &mut Map<String, Value>, op: Op, key: &str, value: &Value) {
    match op {
        Op::ClearAll => state.clear(),
        Op::Unset => {
            state.shift_remove(key);
        }
        Op::Set => {
            state.insert(key.to_string(), value.clone());
        }
        Op::SetOnce => {
            if !state.contains_key(key) {
                state.insert(key.to_string(), value.clone());
            }
        }
        Op::Add => {
            let current = state.get(key).unwrap_or(&Value::Null);
            if let Some(sum) = add(current, value) {
                state.insert(key.to_string(), sum);
            }
        }
        Op::Append | Op::Prepend | Op::PreInsert | Op::PostInsert => {
            let list = list_of(state.get(key));
            let list = insert(list, values_of(value), op);
            state.insert(key.to_string(), Value::Array(list));
        }
        Op::Remove => {
            let Some(current) = state.get(key) else {
                return;
            };
            let removed = values_of(value);
            let kept: Vec<Value> = list_of(Some(current))
                .into_iter()
                .filter(|item| !removed.contains(item))
                .collect();
            state.insert(key.to_string(), Value::Array(kept));
        }
    }
}

/// `current + delta`, or `None` when either is not a number (absent counts as 0). Integers
/// stay integers unless the sum overflows.
fn add(current: &Value, delta: &Value) -> Option<Value> {
    let current = match current {
        Value::Null => Value::from(0),
        other => number_of(other)?,
    };
    let delta = number_of(delta)?;
    if let (Some(a), Some(b)) = (current.as_i64(), delta.as_i64()) {
        if let Some(sum) = a.checked_add(b) {
            return Some(Value::from(sum));
        }
    }
    let sum = current.as_f64()? + delta.as_f64()?;
    Number::from_f64(sum).map(Value::Number)
}

/// A number, or a string holding one (Amplitude keeps user properties loosely typed).
fn number_of(value: &Value) -> Option<Value> {
    match value {
        Value::Number(_) => Some(value.clone()),
        Value::String(text) => {
            let text = text.trim();
            if let Ok(integer) = text.parse::<i64>() {
                Some(Value::from(integer))
            } else {
                let float: f64 = text.parse().ok()?;
                Number::from_f64(float).map(Value::Number)
            }
        }
        _ => None,
    }
}

/// The property as a list: absent is empty, a list is itself, a scalar is a list of one.
fn list_of(value: Option<&Value>) -> Vec<Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(scalar) => vec![scalar.clone()],
    }
}

/// An operation's values: a list gives its items, anything else itself.
fn values_of(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// `list` with `values` added at the end (`$append`, `$postInsert`) or the front (`$prepend`,
/// `$preInsert`, keeping the values' own order); the insert forms skip values already there.
fn insert(mut list: Vec<Value>, values: Vec<Value>, op: Op) -> Vec<Value> {
    let only_new = matches!(op, Op::PreInsert | Op::PostInsert);
    let mut added = Vec::with_capacity(values.len());
    for value in values {
        if only_new && (list.contains(&value) || added.contains(&value)) {
            continue;
        }
        added.push(value);
    }
    if matches!(op, Op::Prepend | Op::PreInsert) {
        added.extend(list);
        added
    } else {
        list.extend(added);
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Applies `update` to `before` and returns the state.
    fn after(before: Value, update: Value) -> Value {
        let mut state = before.as_object().cloned().expect("state is an object");
        apply(&mut state, update.as_object().expect("update is an object"));
        Value::Object(state)
    }

    #[test]
    fn every_operation_on_its_own() {
        let cases = [
            // (state before, update, state after)
            (
                json!({}),
                json!({"$set": {"plan": "pro"}}),
                json!({"plan": "pro"}),
            ),
            (
                json!({"plan": "free"}),
                json!({"$set": {"plan": "pro"}}),
                json!({"plan": "pro"}),
            ),
            (
                json!({}),
                json!({"$setOnce": {"first": "ad"}}),
                json!({"first": "ad"}),
            ),
            (
                json!({"first": "ad"}),
                json!({"$setOnce": {"first": "seo"}}),
                json!({"first": "ad"}),
            ),
            (
                json!({"first": null}),
                json!({"$setOnce": {"first": "seo"}}),
                json!({"first": null}),
            ),
            (
                json!({}),
                json!({"$add": {"logins": 5}}),
                json!({"logins": 5}),
            ),
            (
                json!({"logins": 5}),
                json!({"$add": {"logins": -2}}),
                json!({"logins": 3}),
            ),
            (
                json!({"spent": 1.5}),
                json!({"$add": {"spent": 1}}),
                json!({"spent": 2.5}),
            ),
            (
                json!({"n": "4"}),
                json!({"$add": {"n": 1}}),
                json!({"n": 5}),
            ),
            (
                json!({"n": 4}),
                json!({"$add": {"n": "2.5"}}),
                json!({"n": 6.5}),
            ),
            (
                json!({"n": i64::MAX}),
                json!({"$add": {"n": 1}}),
                json!({"n": 9.223372036854776e18}),
            ),
            (
                json!({}),
                json!({"$append": {"tags": "a"}}),
                json!({"tags": ["a"]}),
            ),
            (
                json!({"tags": ["a"]}),
                json!({"$append": {"tags": ["b", "a"]}}),
                json!({"tags": ["a", "b", "a"]}),
            ),
            (
                json!({"tags": ["a"]}),
                json!({"$prepend": {"tags": ["b", "c"]}}),
                json!({"tags": ["b", "c", "a"]}),
            ),
            (
                json!({"tags": ["a"]}),
                json!({"$preInsert": {"tags": ["b", "a", "b"]}}),
                json!({"tags": ["b", "a"]}),
            ),
            (
                json!({"tags": ["a"]}),
                json!({"$postInsert": {"tags": ["a", "c"]}}),
                json!({"tags": ["a", "c"]}),
            ),
            (
                json!({"tags": ["a", "b", "a"]}),
                json!({"$remove": {"tags": "a"}}),
                json!({"tags": ["b"]}),
            ),
            (
                json!({"tags": ["a", "b"]}),
                json!({"$remove": {"tags": ["a", "b"]}}),
                json!({"tags": []}),
            ),
            (json!({}), json!({"$remove": {"tags": "a"}}), json!({})),
            (
                json!({"plan": "pro", "n": 1}),
                json!({"$unset": {"plan": "-"}}),
                json!({"n": 1}),
            ),
            (json!({"plan": "pro"}), json!({"$clearAll": "-"}), json!({})),
            (
                json!({"plan": "free"}),
                json!({"plan": "pro", "email": "a@b.c"}),
                json!({"plan": "pro", "email": "a@b.c"}),
            ),
        ];
        for (before, update, expected) in cases {
            assert_eq!(
                after(before.clone(), update.clone()),
                expected,
                "{before} + {update}"
            );
        }
    }

    #[test]
    fn type_edge_cases_keep_what_the_user_has() {
        let cases = [
            // `$add` on a string that is no number, on a list, with a non-number: nothing changes.
            (
                json!({"n": "many"}),
                json!({"$add": {"n": 1}}),
                json!({"n": "many"}),
            ),
            (
                json!({"n": [1]}),
                json!({"$add": {"n": 1}}),
                json!({"n": [1]}),
            ),
            (
                json!({"n": 1}),
                json!({"$add": {"n": "x"}}),
                json!({"n": 1}),
            ),
            (
                json!({"n": 1}),
                json!({"$add": {"n": true}}),
                json!({"n": 1}),
            ),
            // `$append`/`$prepend` to a scalar: the scalar becomes the list's first item.
            (
                json!({"tag": "a"}),
                json!({"$append": {"tag": "b"}}),
                json!({"tag": ["a", "b"]}),
            ),
            (
                json!({"tag": 7}),
                json!({"$prepend": {"tag": "b"}}),
                json!({"tag": ["b", 7]}),
            ),
            (
                json!({"tag": "a"}),
                json!({"$postInsert": {"tag": "a"}}),
                json!({"tag": ["a"]}),
            ),
            // `$remove` from a scalar.
            (
                json!({"tag": "a"}),
                json!({"$remove": {"tag": "a"}}),
                json!({"tag": []}),
            ),
            (
                json!({"tag": "a"}),
                json!({"$remove": {"tag": "b"}}),
                json!({"tag": ["a"]}),
            ),
            // `$unset` of a missing key; operations whose value is not an object.
            (
                json!({"n": 1}),
                json!({"$unset": {"gone": "-"}}),
                json!({"n": 1}),
            ),
            (json!({"n": 1}), json!({"$set": "plan"}), json!({"n": 1})),
            // Lists compare by JSON value: 1 and 1.0 are different numbers.
            (
                json!({"l": [1]}),
                json!({"$postInsert": {"l": 1.0}}),
                json!({"l": [1, 1.0]}),
            ),
        ];
        for (before, update, expected) in cases {
            assert_eq!(
                after(before.clone(), update.clone()),
                expected,
                "{before} + {update}"
            );
        }
    }

    #[test]
    fn operations_of_one_event_run_in_the_documented_order() {
        // Written in reverse order; applied as $clearAll, $unset, $set, $setOnce, $add, ...
        let update = json!({
            "$remove": {"tags": "old"},
            "$postInsert": {"tags": "z"},
            "$preInsert": {"tags": "a"},
            "$prepend": {"tags": "first"},
            "$append": {"tags": "old"},
            "$add": {"logins": 1},
            "$setOnce": {"plan": "free", "source": "ad"},
            "$set": {"plan": "pro", "logins": 10},
            "$unset": {"plan": "-", "email": "-"},
            "$clearAll": "-"
        });
        let before = json!({"email": "x@y.z", "tags": ["keep"], "other": true});
        assert_eq!(
            after(before, update),
            // $clearAll empties; $set gives plan and logins; $setOnce adds only `source`;
            // $add counts from 10; the list ops build on [] and $remove runs last.
            json!({"plan": "pro", "logins": 11, "source": "ad", "tags": ["a", "first", "z"]})
        );
    }

    #[test]
    fn clear_all_with_other_operations_keeps_only_what_they_set() {
        let update = json!({"$set": {"email": "new@b.c"}, "$clearAll": "-", "$add": {"n": 2}});
        assert_eq!(
            after(json!({"email": "old@b.c", "plan": "pro", "n": 5}), update),
            json!({"email": "new@b.c", "n": 2})
        );
    }

    #[test]
    fn unset_runs_before_set_so_set_wins_in_one_event() {
        let update = json!({"$set": {"plan": "pro"}, "$unset": {"plan": "-"}});
        assert_eq!(
            after(json!({"plan": "free"}), update),
            json!({"plan": "pro"})
        );
    }

    #[test]
    fn set_once_on_an_existing_key_and_plain_keys_beside_operations() {
        let update = json!({"$setOnce": {"email": "late@b.c"}, "city": "Berlin"});
        assert_eq!(
            after(json!({"email": "a@b.c"}), update),
            json!({"email": "a@b.c", "city": "Berlin"})
        );
    }
}
