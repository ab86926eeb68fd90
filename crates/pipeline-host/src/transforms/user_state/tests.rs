use super::*;
use pipeline_core::metrics_names::ComponentKind;
use serde_json::json;

fn event(value: Value) -> Event {
    Event::new(value.as_object().cloned().expect("an object"))
}

fn metrics() -> ComponentMetrics {
    ComponentMetrics::new(ComponentKind::Transform, "users", "user_state")
}

fn config(cache_size: usize) -> UserStateConfig {
    UserStateConfig {
        cache_size: NonZeroUsize::new(cache_size).unwrap(),
    }
}

async fn open(dir: &std::path::Path, cache_size: usize) -> UserStateTransform {
    UserStateTransform::open(&config(cache_size), dir, &metrics())
        .await
        .expect("open the state")
}

/// Runs `events` through `transform` one batch each; returns the `user_properties` and
/// `groups` every event left with.
async fn run(transform: &mut UserStateTransform, events: Vec<Value>) -> Vec<(Value, Value)> {
    let mut out = Vec::new();
    for value in events {
        let batch = transform
            .apply(EventArray::from(event(value)), &metrics())
            .await;
        for event in batch.iter() {
            let fields = event.fields();
            out.push((fields["user_properties"].clone(), fields["groups"].clone()));
        }
    }
    out
}

#[tokio::test]
async fn later_events_carry_the_state_an_identify_set() {
    let dir = tempfile::tempdir().unwrap();
    let mut transform = open(dir.path(), 100).await;
    let out = run(
        &mut transform,
        vec![
            json!({"event_type": "$identify", "user_id": "u1",
                   "user_properties": {"$set": {"email": "a@b.c", "plan": "pro"}, "$add": {"logins": 5}}}),
            json!({"event_type": "Purchase", "user_id": "u1"}),
            json!({"event_type": "$identify", "user_id": "u1", "user_properties": {"$add": {"logins": 1}}}),
            json!({"event_type": "Purchase", "user_id": "u2", "groups": {"org": "acme"}}),
            json!({"event_type": "Click", "user_id": "u2", "user_properties": {"seen": true}}),
        ],
    )
    .await;
    let state = json!({"email": "a@b.c", "plan": "pro", "logins": 5});
    assert_eq!(out[0], (state.clone(), json!({})));
    assert_eq!(out[1], (state, json!({})));
    assert_eq!(
        out[2].0,
        json!({"email": "a@b.c", "plan": "pro", "logins": 6})
    );
    assert_eq!(out[3], (json!({}), json!({"org": "acme"})));
    assert_eq!(out[4], (json!({"seen": true}), json!({"org": "acme"})));
}

#[tokio::test]
async fn state_survives_a_new_process_and_a_cache_of_one() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut transform = open(dir.path(), 1).await;
        run(
            &mut transform,
            vec![
                json!({"user_id": "u1", "user_properties": {"$set": {"email": "1@b.c"}}}),
                json!({"user_id": "u2", "user_properties": {"$set": {"email": "2@b.c"}}}),
                json!({"user_id": "u1", "user_properties": {"$add": {"n": 1}}}),
            ],
        )
        .await;
    }
    let mut transform = open(dir.path(), 1).await;
    assert_eq!(transform.users, 2);
    let out = run(
        &mut transform,
        vec![
            json!({"user_id": "u2"}),
            json!({"user_id": "u1", "user_properties": {"$add": {"n": 1}}}),
        ],
    )
    .await;
    assert_eq!(out[0].0, json!({"email": "2@b.c"}));
    assert_eq!(out[1].0, json!({"email": "1@b.c", "n": 2}));
}

#[tokio::test]
async fn a_device_history_joins_the_user_it_is_later_seen_with() {
    let dir = tempfile::tempdir().unwrap();
    let mut transform = open(dir.path(), 100).await;
    let out = run(
        &mut transform,
        vec![
            // Anonymous: the device has its own state.
            json!({"device_id": "d1", "user_properties": {"$set": {"referrer": "ad", "plan": "free"}}}),
            // Logs in: the user had nothing, so the device's state becomes the user's.
            json!({"user_id": "u1", "device_id": "d1", "user_properties": {"$set": {"email": "a@b.c"}}}),
            // Device-only events now read and change the user's state.
            json!({"device_id": "d1", "user_properties": {"$add": {"n": 1}}}),
            json!({"user_id": "u1"}),
            // A second device with its own state joins a user that has one: the user's values win.
            json!({"device_id": "d2", "user_properties": {"$set": {"plan": "trial", "os": "ios"}}}),
            json!({"user_id": "u1", "device_id": "d2"}),
        ],
    )
    .await;
    assert_eq!(
        out[1].0,
        json!({"referrer": "ad", "plan": "free", "email": "a@b.c"})
    );
    assert_eq!(
        out[2].0,
        json!({"referrer": "ad", "plan": "free", "email": "a@b.c", "n": 1})
    );
    assert_eq!(out[3].0, out[2].0);
    assert_eq!(
        out[5].0,
        json!({"referrer": "ad", "plan": "free", "email": "a@b.c", "n": 1, "os": "ios"})
    );
    // Two device states were absorbed into one user.
    assert_eq!(transform.users, 1);
}

#[tokio::test]
async fn events_of_one_batch_see_each_others_changes_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut transform = open(dir.path(), 100).await;
    let batch: EventArray = (0..5)
        .map(|_| event(json!({"user_id": "u1", "user_properties": {"$add": {"n": 1}}})))
        .chain([event(
            json!({"event_type": "$groupidentify", "user_id": "u1"}),
        )])
        .chain([event(json!({"event_type": "no ids"}))])
        .collect();
    let out = transform.apply(batch, &metrics()).await;
    let counts: Vec<Value> = out
        .iter()
        .take(5)
        .map(|e| e.fields()["user_properties"]["n"].clone())
        .collect();
    assert_eq!(counts, [1, 2, 3, 4, 5].map(Value::from));
    // `$groupidentify` and events without ids pass untouched.
    assert!(out
        .iter()
        .skip(5)
        .all(|e| !e.fields().contains_key("user_properties")));
}

/// A store whose disk is gone: writes fail, and reads too unless `reads` is set.
struct BrokenStore {
    reads: bool,
}

#[async_trait::async_trait]
impl UserStore for BrokenStore {
    async fn load(
        &self,
        _keys: Vec<String>,
    ) -> Result<(HashMap<String, Entry>, std::time::Duration), StateError> {
        if self.reads {
            Ok((HashMap::new(), std::time::Duration::ZERO))
        } else {
            Err(broken())
        }
    }
    async fn save(
        &self,
        _entries: Vec<(String, Entry)>,
    ) -> Result<std::time::Duration, StateError> {
        Err(broken())
    }
    async fn count_states(&self) -> Result<u64, StateError> {
        Ok(0)
    }
}

fn broken() -> StateError {
    StateError {
        path: "/gone/user_state.sqlite".into(),
        message: "disk I/O error".into(),
    }
}

#[tokio::test]
async fn a_failing_store_fails_the_batch_back_to_its_source_and_forwards_nothing() {
    for reads in [false, true] {
        failing_store_fails_the_batch(BrokenStore { reads }).await;
    }
}

async fn failing_store_fails_the_batch(store: BrokenStore) {
    let mut transform = UserStateTransform::with_store(&config(10), Box::new(store), &metrics())
        .await
        .unwrap();
    let (notifier, status) = pipeline_core::BatchNotifier::new_with_receiver();
    let batch: EventArray = (0..3)
        .map(|i| event(json!({"user_id": format!("u{i}")})).with_batch_notifier(&notifier))
        .collect();
    drop(notifier);
    assert!(transform.apply(batch, &metrics()).await.is_empty());
    assert_eq!(status.await, pipeline_core::BatchStatus::Errored);
    // Nothing half-done stayed in memory: the next batch asks the store again.
    assert!(transform.cache.is_empty());
}
