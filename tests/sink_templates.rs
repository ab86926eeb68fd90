//! Templated payloads end to end: each record arrives exactly as its template renders it, and a
//! record whose template fails is rejected while the others go on.

mod support;

use std::time::Duration;

use pipeline_core::BatchStatus;
use serde_json::{json, Value};
use support::{acked_batch, bodies, start_sink, Receiver};

const EVENT_TEMPLATE: &str = include_str!("../examples/templates/event.ftl");
const USER_TEMPLATE: &str = include_str!("../examples/templates/user.ftl");

fn sample_records() -> Vec<Value> {
    include_str!("../examples/events.ndjson")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn render(template: &str, input: &Value) -> String {
    let mut settings = freemarker::Settings::default();
    settings.set("number_format", "computer").unwrap();
    freemarker::Template::new("t", template, settings)
        .unwrap()
        .render(input)
        .unwrap()
}

#[tokio::test]
async fn each_record_arrives_exactly_as_the_seed_templates_render_it() {
    let receiver = Receiver::start().await.unwrap();
    let config = format!(
        "url = \"{}\"\n[events]\ntemplate_file = \"examples/templates/event.ftl\"\n[users]\ntemplate_file = \"examples/templates/user.ftl\"\n",
        receiver.url()
    );
    let sink = start_sink(&config, 4);
    let (batch, ack) = acked_batch(sample_records());
    sink.input.send(batch).await.unwrap();
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
    assert_eq!(ack.await, BatchStatus::Delivered);

    // What the templates give for the normalized records, computed independently here.
    let events = [
        json!({"user_id": "user-1001", "event_type": "Purchase", "event_time": "2024-05-01 12:34:56.789", "user_properties": {"email": "ada@example.com"}}),
        json!({"user_id": "user-1002", "event_type": "Page Viewed", "event_time": "2024-05-01 12:35:01.250", "user_properties": {"email": "grace@example.com"}}),
        json!({"event_type": "click event", "event_time": "2024-05-01 12:35:05.000", "user_properties": {}}),
        json!({"user_id": "user-1003", "event_type": "Purchase", "event_time": "2024-05-01 12:37:30.000", "user_properties": {"email": "linus@example.com"}}),
    ];
    let users = [
        json!({"user_id": "user-1001", "device_id": "d-5f2a", "event_time": "2024-05-01 12:34:56.789", "user_properties": {"email": "ada@example.com"}}),
        json!({"user_id": "user-1002", "device_id": "d-77c1", "event_time": "2024-05-01 12:35:01.250", "user_properties": {"email": "grace@example.com"}}),
        json!({"device_id": "d-9e03", "event_time": "2024-05-01 12:35:05.000", "user_properties": {}}),
        json!({"user_id": "user-1001", "device_id": "d-5f2a", "event_time": "2024-05-01 12:36:00.000", "user_properties": {}}),
        json!({"user_id": "user-1003", "device_id": "d-1b2c", "event_time": "2024-05-01 12:37:30.000", "user_properties": {"email": "linus@example.com"}}),
    ];
    let mut expected: Vec<String> = events
        .iter()
        .map(|e| render(EVENT_TEMPLATE, e))
        .chain(users.iter().map(|u| render(USER_TEMPLATE, u)))
        .collect();
    expected.sort();
    let mut received = bodies(&receiver);
    received.sort();
    assert_eq!(received, expected);
    assert!(received
        .iter()
        .any(|b| b.contains("\"time\" : \"2024-05-01 12:34:56.789\"")));
}

#[tokio::test]
async fn a_record_whose_template_fails_is_rejected_and_the_others_go_on() {
    let receiver = Receiver::start().await.unwrap();
    let config = format!(
        "url = \"{}\"\n[users]\nenabled = false\n[events]\ntemplate = '{{\"price\": ${{input.event_properties.price}}}}'\n",
        receiver.url()
    );
    let sink = start_sink(&config, 4);
    let (good, good_ack) = acked_batch(vec![
        json!({"event_type": "Purchase", "event_properties": {"price": 5}}),
        json!({"event_type": "Purchase", "event_properties": {"price": 7.5}}),
    ]);
    let (bad, bad_ack) = acked_batch(vec![json!({"event_type": "Purchase"})]);
    sink.input.send(bad).await.unwrap();
    sink.input.send(good).await.unwrap();
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(2), bad_ack)
            .await
            .unwrap(),
        BatchStatus::Rejected
    );
    assert_eq!(good_ack.await, BatchStatus::Delivered);
    let mut received = bodies(&receiver);
    received.sort();
    assert_eq!(received, vec![r#"{"price": 5}"#, r#"{"price": 7.5}"#]);
}

#[test]
fn a_template_that_does_not_parse_is_refused_with_key_line_and_column() {
    let error = webhook_sink::WebhookSinkConfig::from_toml_str(
        "url = \"http://127.0.0.1:1/\"\n[users]\ntemplate = '''{\n  <#if input.user_id??>\n  \"a\": 1\n}'''\n",
    )
    .expect_err("refused");
    assert_eq!(error.path, "users.template");
    assert!(error.message.contains("line "), "{error}");
    assert!(error.message.contains("column "), "{error}");
}
