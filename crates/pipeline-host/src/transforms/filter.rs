//! The `filter` transform: keeps the events matching a condition of the shared condition
//! language and discards the rest (counted as intentionally discarded).

use pipeline_core::condition::Condition;
use pipeline_core::metrics_names::ComponentMetrics;
use pipeline_core::EventArray;
use serde::Deserialize;

/// `[transforms.ID]` with `type = "filter"`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Events matching this condition pass; the others are dropped.
    pub condition: Condition,
}

impl FilterConfig {
    /// Keep the matching events of `batch`. Dropped events end with status `Dropped`, which
    /// their source treats as done.
    pub fn apply(&self, mut batch: EventArray, metrics: &ComponentMetrics) -> EventArray {
        let before = batch.len();
        batch.retain(|event| self.condition.matches(event.fields()));
        let discarded = before - batch.len();
        if discarded > 0 {
            metrics.discarded(discarded, true);
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_core::metrics_names::ComponentKind;
    use pipeline_core::Event;
    use serde_json::json;

    #[test]
    fn keeps_only_matching_events_in_order() {
        let config: FilterConfig = pipeline_core::deserialize_table(
            r#"condition = { field = "n", op = "greater_than", value = 2 }"#
                .parse()
                .unwrap(),
        )
        .unwrap();
        let batch: EventArray = [1, 5, 2, 3]
            .iter()
            .map(|n| Event::new(json!({ "n": n }).as_object().cloned().unwrap()))
            .collect();
        let metrics = ComponentMetrics::new(ComponentKind::Transform, "f", "filter");
        let kept: Vec<i64> = config
            .apply(batch, &metrics)
            .iter()
            .map(|e| e.fields()["n"].as_i64().unwrap())
            .collect();
        assert_eq!(kept, [5, 3]);
    }
}
