use super::*;
use pipeline_core::metrics_names::ComponentKind;
use pipeline_core::BatchStatusReceiver;
use serde_json::json;

fn metrics() -> ComponentMetrics {
    ComponentMetrics::new(ComponentKind::Transform, "dedupe", "dedupe")
}

fn config() -> DedupeConfig {
    pipeline_core::deserialize_table(toml::Table::new()).expect("defaults")
}

/// A batch of events with these `(device_id, insert_id)` pairs, acknowledged to the receiver.
fn batch(ids: &[(&str, Option<&str>)]) -> (EventArray, BatchStatusReceiver) {
    let (notifier, receiver) = BatchNotifier::new_with_receiver();
    let events: EventArray = ids
        .iter()
        .map(|(device, insert)| {
            let mut fields = json!({"event_type": "e", "device_id": device});
            if let Some(insert) = insert {
                fields["$insert_id"] = json!(insert);
            }
            Event::new(fields.as_object().cloned().unwrap()).with_batch_notifier(&notifier)
        })
        .collect();
    (events, receiver)
}

fn insert_ids(batch: &EventArray) -> Vec<String> {
    batch
        .iter()
        .map(|e| {
            e.fields()
                .get("$insert_id")
                .map_or("-".into(), |v| v.to_string())
        })
        .collect()
}

/// Finalizes every event of `batch` with `status`, as a sink would.
fn deliver(batch: EventArray, status: EventStatus) {
    for event in batch.iter() {
        event.metadata().finalizers().update_status(status);
    }
}

#[tokio::test]
async fn a_resend_is_dropped_in_flight_and_after_delivery_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut dedupe = DedupeTransform::open(&config(), dir.path(), &metrics())
        .await
        .unwrap();
    let (first, first_ack) = batch(&[("d1", Some("a")), ("d1", Some("b")), ("d1", Some("a"))]);
    let passed = dedupe.apply(first, &metrics()).await;
    // The repeat inside the batch is dropped.
    assert_eq!(insert_ids(&passed), ["\"a\"", "\"b\""]);

    // A resend while the first copy is in flight is dropped, and acknowledged at once.
    let (resend, resend_ack) = batch(&[("d1", Some("a")), ("d1", Some("b"))]);
    assert!(dedupe.apply(resend, &metrics()).await.is_empty());
    assert_eq!(resend_ack.await, BatchStatus::Delivered);

    // The same insert id from another device is another event.
    let (other, _other_ack) = batch(&[("d2", Some("a"))]);
    assert_eq!(dedupe.apply(other, &metrics()).await.len(), 1);

    // The source hears of the delivery only once the keys are on disk.
    deliver(passed, EventStatus::Delivered);
    assert_eq!(first_ack.await, BatchStatus::Delivered);
    let on_disk = SeenStore::open(dir.path(), 10).await.unwrap();
    let (seen, _) = on_disk
        .seen_since(vec!["d1\u{1f}a".into(), "d1\u{1f}b".into()], 0)
        .await
        .unwrap();
    assert_eq!(seen.len(), 2);

    dedupe.settled().await;
    let mut dedupe = DedupeTransform::open(&config(), dir.path(), &metrics())
        .await
        .unwrap();
    let (after_restart, _ack) = batch(&[("d1", Some("a")), ("d1", Some("c"))]);
    let passed = dedupe.apply(after_restart, &metrics()).await;
    assert_eq!(insert_ids(&passed), ["\"c\""]);
}

#[tokio::test]
async fn a_failed_delivery_releases_the_key_for_the_clients_resend() {
    let dir = tempfile::tempdir().unwrap();
    let mut dedupe = DedupeTransform::open(&config(), dir.path(), &metrics())
        .await
        .unwrap();
    let (first, first_ack) = batch(&[("d1", Some("a"))]);
    let passed = dedupe.apply(first, &metrics()).await;
    deliver(passed, EventStatus::Errored);
    assert_eq!(first_ack.await, BatchStatus::Errored);
    dedupe.settled().await;

    let mut dedupe = DedupeTransform::open(&config(), dir.path(), &metrics())
        .await
        .unwrap();
    let (resend, _ack) = batch(&[("d1", Some("a"))]);
    assert_eq!(dedupe.apply(resend, &metrics()).await.len(), 1);
}

#[tokio::test]
async fn events_without_a_key_field_pass_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut dedupe = DedupeTransform::open(&config(), dir.path(), &metrics())
        .await
        .unwrap();
    for _ in 0..2 {
        let (events, _ack) = batch(&[("d1", None), ("d1", None)]);
        assert_eq!(dedupe.apply(events, &metrics()).await.len(), 2);
    }
}

#[tokio::test]
async fn a_key_older_than_the_window_lets_the_event_pass() {
    let dir = tempfile::tempdir().unwrap();
    let store = SeenStore::open(dir.path(), 10).await.unwrap();
    let old = epoch_ms(SystemTime::now()) - 2 * 3_600_000;
    store
        .record(vec!["d1\u{1f}old".into()], old, 0)
        .await
        .unwrap();
    drop(store);
    let config: DedupeConfig =
        pipeline_core::deserialize_table(toml::toml! { window = "1h" }).unwrap();
    let mut dedupe = DedupeTransform::open(&config, dir.path(), &metrics())
        .await
        .unwrap();
    let (events, _ack) = batch(&[("d1", Some("old"))]);
    assert_eq!(dedupe.apply(events, &metrics()).await.len(), 1);
}

#[test]
fn config_follows_vectors_shape_and_refuses_what_cannot_work() {
    let config: DedupeConfig = pipeline_core::deserialize_table(toml::toml! {
        window = "2d"
        max_entries = 50
        fields.match = ["user_id", "$insert_id"]
        cache.num_events = 10
    })
    .unwrap();
    assert_eq!(config.window.0, Duration::from_secs(2 * 86_400));
    assert_eq!(config.fields.match_fields, ["user_id", "$insert_id"]);
    config.validate().unwrap();
    let empty: DedupeConfig =
        pipeline_core::deserialize_table(toml::toml! { fields.match = [] }).unwrap();
    assert_eq!(empty.validate().unwrap_err().path, "fields.match");
    let unknown = pipeline_core::deserialize_table::<DedupeConfig>(toml::toml! { windw = "1d" });
    assert!(unknown.unwrap_err().message.contains("windw"));
}
