//! The sink end to end against a real local receiver: which payloads each record yields, their
//! exact bytes and headers, stream switches, filters, and acknowledgements.

mod support;

use std::time::Duration;

use pipeline_core::BatchStatus;
use serde_json::{json, Value};
use support::{acked_batch, bodies, start_sink, Receiver};

fn purchase(user: &str, price: f64) -> Value {
    json!({
        "event_type": "Purchase",
        "user_id": user,
        "device_id": format!("dev-{user}"),
        "event_time": "2022-02-28 20:07:01.795123",
        "event_properties": {"price": price, "sku": "SKU-1"},
        "user_properties": {"email": format!("{user}@example.com"), "plan": "pro"},
        "country": "DE",
        "amplitude_id": 42,
    })
}

async fn run_records(config: &str, records: Vec<Value>) -> (Receiver, BatchStatus) {
    let receiver = Receiver::start().await.unwrap();
    let config = format!("url = \"{}\"\n{config}", receiver.url());
    let sink = start_sink(&config, 4);
    let (batch, ack) = acked_batch(records);
    sink.input.send(batch).await.unwrap();
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), ack)
        .await
        .unwrap();
    (receiver, status)
}

#[tokio::test]
async fn an_event_yields_its_default_event_payload_and_user_record_byte_for_byte() {
    let (receiver, status) = run_records(
        "headers = { Authorization = \"Bearer t0k\", X-Team = \"growth\" }",
        vec![purchase("u1", 12.5)],
    )
    .await;
    assert_eq!(status, BatchStatus::Delivered);
    let mut bodies = bodies(&receiver);
    bodies.sort();
    let event = r#"{"event_type":"Purchase","user_id":"u1","device_id":"dev-u1","event_time":"2022-02-28 20:07:01.795","event_properties":{"price":12.5,"sku":"SKU-1"},"user_properties":{"email":"u1@example.com","plan":"pro"},"country":"DE","amplitude_id":42}"#;
    let user = r#"{"user_id":"u1","device_id":"dev-u1","amplitude_id":42,"event_time":"2022-02-28 20:07:01.795","user_properties":{"email":"u1@example.com","plan":"pro"},"country":"DE"}"#;
    let mut expected = vec![event.to_owned(), user.to_owned()];
    expected.sort();
    assert_eq!(bodies, expected);
    for request in receiver.received() {
        assert_eq!(request.path, "/webhook");
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(request.headers["user-agent"], "Amplitude/Webhook/1.0");
        assert_eq!(request.headers["authorization"], "Bearer t0k");
        assert_eq!(request.headers["x-team"], "growth");
    }
}

#[tokio::test]
async fn each_stream_can_be_switched_off() {
    let records = || vec![purchase("u1", 1.0), purchase("u2", 2.0)];
    let (receiver, _) = run_records("[users]\nenabled = false", records()).await;
    let bodies_only_events = bodies(&receiver);
    assert_eq!(bodies_only_events.len(), 2);
    assert!(bodies_only_events
        .iter()
        .all(|b| b.starts_with(r#"{"event_type":"Purchase""#)));

    let (receiver, _) = run_records("[events]\nenabled = false", records()).await;
    let bodies_only_users = bodies(&receiver);
    assert_eq!(bodies_only_users.len(), 2);
    assert!(bodies_only_users
        .iter()
        .all(|b| b.starts_with(r#"{"user_id":"u"#)));

    let (receiver, status) = run_records(
        "[events]\nenabled = false\n[users]\nenabled = false",
        records(),
    )
    .await;
    assert_eq!(receiver.count(), 0);
    assert_eq!(
        status,
        BatchStatus::Delivered,
        "filtered records end as dropped"
    );
}

#[tokio::test]
async fn identifies_go_to_the_user_stream_only_and_group_identifies_nowhere() {
    let identify = json!({
        "event_type": "$identify",
        "device_id": "d-9",
        "event_time": "2022-02-28T20:07:01Z",
        "user_properties": {"$set": {"plan": "free"}},
    });
    let group = json!({"event_type": "$groupidentify", "groups": {"org": "acme"}});
    let (receiver, status) = run_records("", vec![identify, group]).await;
    assert_eq!(status, BatchStatus::Delivered);
    assert_eq!(
        bodies(&receiver),
        vec![
            r#"{"device_id":"d-9","event_time":"2022-02-28 20:07:01.000","user_properties":{"$set":{"plan":"free"}}}"#
        ]
    );
}

#[tokio::test]
async fn event_types_select_events_but_every_event_still_yields_its_user() {
    let records = vec![
        json!({"event_type": "Purchase", "user_id": "a"}),
        json!({"event_type": "Page Viewed", "user_id": "b"}),
        json!({"event_type": "click event", "user_id": "c"}),
    ];
    let (receiver, _) = run_records(
        "[events]\nevent_types = [\"Purchase\", \"click event\"]",
        records,
    )
    .await;
    let mut bodies = bodies(&receiver);
    bodies.sort();
    assert_eq!(
        bodies,
        vec![
            r#"{"event_type":"Purchase","user_id":"a"}"#,
            r#"{"event_type":"click event","user_id":"c"}"#,
            r#"{"user_id":"a"}"#,
            r#"{"user_id":"b"}"#,
            r#"{"user_id":"c"}"#,
        ]
    );
}

/// Records `n0`..`n5` with varied fields; each case names which of them its condition selects.
fn condition_records() -> Vec<Value> {
    vec![
        json!({"event_type": "e", "user_id": "n0", "event_properties": {"price": 5, "tags": ["a", "b"]}, "user_properties": {"plan": "free", "email": "x@corp.com"}}),
        json!({"event_type": "e", "user_id": "n1", "event_properties": {"price": 10, "tags": ["c"]}, "user_properties": {"plan": "pro", "email": "y@gmail.com"}}),
        json!({"event_type": "e", "user_id": "n2", "event_properties": {"price": "15.5"}, "user_properties": {"plan": "enterprise"}}),
        json!({"event_type": "e", "user_id": "n3", "event_properties": {"price": 20}, "user_properties": {"plan": "pro", "email": null}}),
        json!({"event_type": "e", "user_id": "n4", "event_properties": {}, "user_properties": {"plan": "pro-trial"}}),
    ]
}

#[tokio::test]
async fn every_condition_operator_filters_the_event_stream() {
    let cases = [
        (
            r#"{ field = "user_properties.plan", op = "is", value = "pro" }"#,
            vec!["n1", "n3"],
        ),
        (
            r#"{ field = "user_properties.plan", op = "is", value = ["free", "enterprise"] }"#,
            vec!["n0", "n2"],
        ),
        (
            r#"{ field = "user_properties.plan", op = "is_not", value = "pro" }"#,
            vec!["n0", "n2", "n4"],
        ),
        (
            r#"{ field = "user_properties.plan", op = "contains", value = "pro" }"#,
            vec!["n1", "n3", "n4"],
        ),
        (
            r#"{ field = "event_properties.tags", op = "contains", value = "b" }"#,
            vec!["n0"],
        ),
        (
            r#"{ field = "user_properties.plan", op = "does_not_contain", value = "pro" }"#,
            vec!["n0", "n2"],
        ),
        (
            r#"{ field = "user_properties.plan", op = "starts_with", value = "pro-" }"#,
            vec!["n4"],
        ),
        (
            r#"{ field = "user_properties.email", op = "ends_with", value = "@corp.com" }"#,
            vec!["n0"],
        ),
        (
            r#"{ field = "event_properties.price", op = "greater_than", value = 10 }"#,
            vec!["n2", "n3"],
        ),
        (
            r#"{ field = "event_properties.price", op = "greater_or_equal", value = 10 }"#,
            vec!["n1", "n2", "n3"],
        ),
        (
            r#"{ field = "event_properties.price", op = "less_than", value = 10 }"#,
            vec!["n0"],
        ),
        (
            r#"{ field = "event_properties.price", op = "less_or_equal", value = 10 }"#,
            vec!["n0", "n1"],
        ),
        (
            r#"{ field = "user_properties.email", op = "exists" }"#,
            vec!["n0", "n1"],
        ),
        (
            r#"{ field = "user_properties.email", op = "does_not_exist" }"#,
            vec!["n2", "n3", "n4"],
        ),
        (
            r#"{ any = [ { field = "user_id", op = "is", value = "n0" }, { not = { field = "event_properties.price", op = "exists" } } ] }"#,
            vec!["n0", "n4"],
        ),
    ];
    for (condition, expected) in cases {
        let config = format!("[users]\nenabled = false\n[events]\ncondition = {condition}");
        let (receiver, _) = run_records(&config, condition_records()).await;
        let mut users: Vec<String> = receiver
            .received()
            .iter()
            .map(|r| {
                let body: Value = serde_json::from_slice(&r.body).unwrap();
                body["user_id"].as_str().unwrap_or_default().to_owned()
            })
            .collect();
        users.sort();
        assert_eq!(users, expected, "{condition}");
    }
}

#[tokio::test]
async fn the_user_condition_filters_user_records() {
    let config = "[events]\nenabled = false\n[users]\ncondition = { field = \"user_properties.plan\", op = \"is\", value = \"pro\" }";
    let (receiver, _) = run_records(config, condition_records()).await;
    let mut users: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["user_id"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    users.sort();
    assert_eq!(users, vec!["n1", "n3"]);
}
