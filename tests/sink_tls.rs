//! The sink over HTTPS against a real TLS webhook on 127.0.0.1 whose CA is made at test time:
//! records arrive byte for byte, over HTTP/2 when the webhook offers it by ALPN and over HTTP/1.1
//! when it offers only that; `tls.ca_file` is what makes the sink trust a private CA, and an
//! untrusted certificate is a delivery error that sends the record to the outer retry tier.

mod support;
#[path = "support/tls.rs"]
mod tls;

use std::path::Path;
use std::time::Duration;

use http::Version;
use pipeline_core::BatchStatus;
use serde_json::{json, Value};
use support::{acked_batch, start_sink};
use tls::{TestCa, TlsWebhook};

const H2_AND_HTTP1: [&[u8]; 2] = [b"h2", b"http/1.1"];
const HTTP1_ONLY: [&[u8]; 1] = [b"http/1.1"];

/// A sink table posting each event as JSON (the default payload) to `url`, trusting `ca_file`.
fn sink_config(url: &str, ca_file: &Path) -> String {
    format!(
        r#"
url = "{url}"
[users]
enabled = false
[tls]
ca_file = "{}"
[retry]
tries = 2
initial_backoff = "10ms"
attempt_budget = "1s"
attempts = 3
schedule = ["200ms", "200ms", "200ms"]
"#,
        ca_file.display()
    )
}

/// Writes `ca`'s certificate as PEM into `dir`.
fn write_ca(dir: &Path, ca: &TestCa) -> std::path::PathBuf {
    let path = dir.join("ca.pem");
    std::fs::write(&path, ca.pem()).expect("write the CA file");
    path
}

/// Records that exercise the bytes: non-ASCII text, escapes, nesting, and one body larger than
/// HTTP/2's initial flow-control window (64 KiB).
fn records() -> Vec<Value> {
    let mut records: Vec<Value> = (0..20)
        .map(|n| {
            json!({
                "event_type": "Purchase",
                "n": n,
                "user_id": format!("ü-{n} \"quoted\" € \u{1F600}"),
                "event_properties": { "price": 10.5, "items": [1, 2, {"sku": "a\tb"}] },
            })
        })
        .collect();
    records.push(json!({"event_type": "big", "blob": "x".repeat(200_000)}));
    records
}

/// Sends `records()` through a sink aimed at `webhook` and returns the bodies expected, sorted.
async fn deliver_all(webhook: &TlsWebhook, ca_file: &Path) -> Vec<String> {
    let sink = start_sink(&sink_config(&webhook.url(), ca_file), 4);
    let records = records();
    let mut expected: Vec<String> = records.iter().map(Value::to_string).collect();
    expected.sort();
    let (batch, ack) = acked_batch(records);
    sink.input.send(batch).await.expect("the sink takes input");
    let status = tokio::time::timeout(Duration::from_secs(10), ack)
        .await
        .expect("acknowledged in time");
    assert_eq!(status, BatchStatus::Delivered);
    drop(sink.input);
    sink.done
        .await
        .expect("the sink task")
        .expect("the sink ends cleanly");
    expected
}

fn received_bodies(webhook: &TlsWebhook) -> Vec<String> {
    let mut bodies: Vec<String> = webhook
        .seen()
        .iter()
        .map(|seen| String::from_utf8(seen.body.to_vec()).expect("UTF-8 body"))
        .collect();
    bodies.sort();
    bodies
}

#[tokio::test]
async fn records_arrive_byte_exact_over_http2_when_the_webhook_offers_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("sink-tls test CA");
    let ca_file = write_ca(dir.path(), &ca);
    let webhook = TlsWebhook::start(ca.server_config(&H2_AND_HTTP1)).await;

    let expected = deliver_all(&webhook, &ca_file).await;

    assert_eq!(received_bodies(&webhook), expected);
    for seen in webhook.seen() {
        assert_eq!(seen.alpn.as_deref(), Some(&b"h2"[..]));
        assert_eq!(seen.version, Version::HTTP_2);
    }
    assert_eq!(webhook.failed_handshakes(), 0);
}

#[tokio::test]
async fn records_arrive_byte_exact_over_http1_when_the_webhook_offers_only_that() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("sink-tls test CA");
    let ca_file = write_ca(dir.path(), &ca);
    let webhook = TlsWebhook::start(ca.server_config(&HTTP1_ONLY)).await;

    let expected = deliver_all(&webhook, &ca_file).await;

    assert_eq!(received_bodies(&webhook), expected);
    for seen in webhook.seen() {
        assert_eq!(seen.alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert_eq!(seen.version, Version::HTTP_11);
    }
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_delivery_error_and_the_outer_tier_delivers_later() {
    let dir = tempfile::tempdir().unwrap();
    let trusted = TestCa::new("trusted CA");
    let untrusted = TestCa::new("untrusted CA");
    let ca_file = write_ca(dir.path(), &trusted);
    // The webhook first presents a certificate the sink has no reason to trust.
    let webhook = TlsWebhook::start(untrusted.server_config(&H2_AND_HTTP1)).await;
    let sink = start_sink(&sink_config(&webhook.url(), &ca_file), 4);
    let record = json!({"event_type": "Purchase", "user_id": "u1", "n": 1});
    let (batch, ack) = acked_batch(vec![record.clone()]);
    sink.input.send(batch).await.unwrap();

    // Both tries of the first attempt fail the handshake; the record is committed to the outer
    // tier, which acknowledges it, and nothing reached the webhook.
    let status = tokio::time::timeout(Duration::from_secs(5), ack)
        .await
        .expect("acknowledged once in the outer tier");
    assert_eq!(status, BatchStatus::Delivered);
    assert!(
        webhook
            .wait_until(Duration::from_secs(2), |w| w.failed_handshakes() >= 2)
            .await,
        "{} failed handshakes",
        webhook.failed_handshakes()
    );
    assert!(webhook.seen().is_empty());
    assert!(!sink.done.is_finished(), "the sink keeps running");

    // The webhook gets a certificate of the trusted CA: a later attempt delivers the record.
    webhook.set_config(trusted.server_config(&H2_AND_HTTP1));
    assert!(
        webhook
            .wait_until(Duration::from_secs(5), |w| !w.seen().is_empty())
            .await,
        "a later attempt delivers the record"
    );
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
    let seen = webhook.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body, record.to_string().into_bytes());
    assert_eq!(seen[0].version, Version::HTTP_2);
}

#[tokio::test]
async fn without_the_ca_file_a_private_ca_is_not_trusted() {
    let ca = TestCa::new("private CA");
    let webhook = TlsWebhook::start(ca.server_config(&H2_AND_HTTP1)).await;
    let config = format!(
        "url = \"{}\"\n[users]\nenabled = false\n[retry]\ntries = 2\ninitial_backoff = \"10ms\"\nattempts = 1\nschedule = [\"10s\"]\n",
        webhook.url()
    );
    let sink = start_sink(&config, 4);
    let (batch, ack) = acked_batch(vec![json!({"event_type": "e"})]);
    sink.input.send(batch).await.unwrap();
    assert_eq!(ack.await, BatchStatus::Delivered);
    assert!(
        webhook
            .wait_until(Duration::from_secs(2), |w| w.failed_handshakes() >= 2)
            .await
    );
    assert!(webhook.seen().is_empty());
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
}
