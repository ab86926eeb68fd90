//! The circuit breaker and the retry store under webhook outages, in process against a real
//! local webhook and the real SQLite store: an outage opens the circuit and records skip their
//! attempt; one record's retries never open it; a webhook that stops answering opens it before
//! the timeout; a probe closes it and the backlog drains oldest first beside new records; a slow
//! webhook slows the input unless spilling is on.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::PrometheusHandle;
use pipeline_core::BatchStatus;
use serde_json::json;
use support::{acked_batch, bodies, start_sink_as, Receiver, Reply};

/// The process's recorder, installed once for all tests here (each test uses its own component id).
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| pipeline_host::install_prometheus_recorder().expect("recorder installs"))
}

/// The value of the series `name` of sink `id`'s event stream with the extra `labels`.
fn metric(id: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let text = recorder().render();
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find(|line| {
            line.contains(&format!("component_id=\"{id}\""))
                && line.contains("stream=\"events\"")
                && labels
                    .iter()
                    .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Fast tries, quick later attempts and quick probes.
fn config(url: &str, extra: &str) -> String {
    format!(
        r#"url = "{url}"
[users]
enabled = false
[retry]
initial_backoff = "10ms"
schedule = ["300ms", "300ms"]
[circuit]
probe_interval = "200ms"
max_probe_interval = "400ms"
{extra}"#
    )
}

fn records(from: u64, to: u64) -> Vec<serde_json::Value> {
    (from..to)
        .map(|n| json!({"event_type": "e", "n": n}))
        .collect()
}

/// How many requests carried each `n`.
fn requests_per_record(receiver: &Receiver) -> HashMap<u64, usize> {
    let mut counts = HashMap::new();
    for body in bodies(receiver) {
        let n = serde_json::from_str::<serde_json::Value>(&body).unwrap()["n"]
            .as_u64()
            .unwrap();
        *counts.entry(n).or_default() += 1;
    }
    counts
}

/// Whether sink `id`'s series reaches `value` within five seconds.
async fn reaches(id: &str, name: &str, labels: &[(&str, &str)], value: f64) -> bool {
    wait_until(Duration::from_secs(5), || {
        metric(id, name, labels) == Some(value)
    })
    .await
}

async fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_opens_the_circuit_and_records_wait_in_the_store_without_attempts() {
    recorder();
    let receiver = Receiver::start().await.unwrap();
    receiver.set_default(Reply::Status(503));
    let sink = start_sink_as("outage", &config(&receiver.url(), ""), 4);

    // Five records fail their first attempts (three tries each): the circuit opens.
    let (batch, ack) = acked_batch(records(0, 5));
    sink.input.send(batch).await.unwrap();
    assert_eq!(ack.await, BatchStatus::Delivered);
    assert!(
        wait_until(Duration::from_secs(2), || metric(
            "outage",
            "webhook_circuit_state",
            &[]
        ) >= Some(1.0))
        .await
    );
    assert!(
        (15..=18).contains(&receiver.count()),
        "{}",
        receiver.count()
    );

    // While it is open, 500 more are stored at once, without an attempt: only probes go out.
    let started = Instant::now();
    let (batch, ack) = acked_batch(records(5, 505));
    sink.input.send(batch).await.unwrap();
    assert_eq!(ack.await, BatchStatus::Delivered);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let probes = receiver.count() - 15;
    assert!(
        probes <= 3 * 6,
        "{probes} requests while open: only probes, three tries each"
    );
    assert_eq!(
        metric(
            "outage",
            "webhook_absorbed_records_total",
            &[("reason", "circuit_open")]
        ),
        Some(500.0)
    );
    assert_eq!(
        metric("outage", "webhook_retry_store_records", &[]),
        Some(505.0)
    );
    assert_eq!(
        metric("outage", "webhook_circuit_opened_total", &[]),
        Some(1.0)
    );

    // The webhook comes back: a probe closes the circuit and every record arrives.
    receiver.set_default(Reply::Status(200));
    assert!(
        receiver
            .wait_for(15 + probes + 505, Duration::from_secs(10))
            .await
    );
    assert!(reaches("outage", "webhook_circuit_state", &[], 0.0).await);
    assert!(reaches("outage", "webhook_retry_store_records", &[], 0.0).await);
    let per_record = requests_per_record(&receiver);
    assert_eq!(per_record.len(), 505);
    // Every request that failed after the first five records' attempts was a probe: those
    // counted above, plus any that went out between that count and the webhook's return.
    let failed_while_open = receiver.count() - 15 - 505;
    assert!(
        failed_while_open <= probes + 3 * 2,
        "{failed_while_open} failed requests while open ({probes} counted at 500 ms)"
    );
    // The absorbed records were not tried while the webhook was down: one request each, the
    // probed ones aside (each failed probe is one extra request for one record).
    let once = (5..505).filter(|n| per_record[n] == 1).count();
    assert!(
        once >= 500usize.saturating_sub(failed_while_open as usize),
        "{once} of 500 arrived on their only request ({failed_while_open} failed probes)"
    );
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_record_the_webhook_keeps_refusing_never_opens_the_circuit() {
    recorder();
    let receiver = Receiver::start().await.unwrap();
    receiver.set_default(Reply::Status(500));
    let retry = "[retry]\ntries = 3\ninitial_backoff = \"10ms\"\nschedule = [\"50ms\", \"50ms\", \"50ms\", \"50ms\", \"50ms\", \"50ms\"]";
    let config = format!(
        "url = \"{}\"\n[users]\nenabled = false\n{retry}",
        receiver.url()
    );
    let sink = start_sink_as("one-record", &config, 4);
    let (batch, ack) = acked_batch(records(0, 1));
    sink.input.send(batch).await.unwrap();
    assert_eq!(ack.await, BatchStatus::Delivered);
    // Seven attempts of three tries, then a dead letter; never an open circuit.
    assert!(receiver.wait_for(21, Duration::from_secs(5)).await);
    assert!(
        reaches(
            "one-record",
            "webhook_deliveries_total",
            &[("outcome", "expired")],
            1.0
        )
        .await
    );
    assert_eq!(receiver.count(), 21);
    assert_eq!(
        metric("one-record", "webhook_circuit_opened_total", &[]),
        Some(0.0)
    );
    assert_eq!(
        metric("one-record", "webhook_circuit_state", &[]),
        Some(0.0)
    );
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_stops_answering_opens_the_circuit_long_before_the_timeout() {
    recorder();
    let receiver = Receiver::start().await.unwrap();
    let config = config(&receiver.url(), "[request]\ntimeout = \"60s\"");
    let sink = start_sink_as("stall", &config, 4);
    // Healthy first: the sink learns how fast the webhook usually answers.
    let (batch, ack) = acked_batch(records(0, 50));
    sink.input.send(batch).await.unwrap();
    assert_eq!(ack.await, BatchStatus::Delivered);

    receiver.set_default(Reply::Hang);
    let started = Instant::now();
    let (batch, ack) = acked_batch(records(50, 450));
    sink.input.send(batch).await.unwrap();
    // The 64 permits hang; no answer for a second opens the circuit, and the records not yet
    // in a lane's hands are stored without an attempt, long before the 60 s timeout.
    let stored = wait_until(Duration::from_secs(5), || {
        metric("stall", "webhook_retry_store_records", &[]) >= Some(200.0)
    })
    .await;
    assert!(
        stored,
        "stored: {:?}",
        metric("stall", "webhook_retry_store_records", &[])
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        metric("stall", "webhook_circuit_state", &[]).map(|s| s >= 1.0),
        Some(true)
    );

    // Answers come back: the hung requests succeed, the circuit closes, everything arrives.
    receiver.set_default(Reply::Status(200));
    receiver.release();
    assert_eq!(ack.await, BatchStatus::Delivered);
    assert!(
        wait_until(Duration::from_secs(10), || requests_per_record(&receiver)
            .len()
            == 450)
        .await
    );
    assert!(reaches("stall", "webhook_circuit_state", &[], 0.0).await);
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backlog_drains_oldest_first_while_new_records_keep_flowing() {
    recorder();
    let receiver = Receiver::start().await.unwrap();
    receiver.set_default(Reply::Status(503));
    let config = config(&receiver.url(), "[request]\nconcurrency = 4");
    let sink = start_sink_as("drain", &config, 4);
    let (batch, ack) = acked_batch(records(0, 1000));
    sink.input.send(batch).await.unwrap();
    assert_eq!(ack.await, BatchStatus::Delivered);
    assert_eq!(
        metric("drain", "webhook_circuit_state", &[]).map(|s| s >= 1.0),
        Some(true)
    );

    // Back, and slow enough that the backlog takes a while: new records flow meanwhile.
    receiver.set_default(Reply::Delay(Duration::from_millis(5)));
    assert!(reaches("drain", "webhook_circuit_state", &[], 0.0).await);
    let mut acks = Vec::new();
    for from in (1000..1400).step_by(20) {
        let (batch, ack) = acked_batch(records(from, from + 20));
        sink.input.send(batch).await.unwrap();
        acks.push(ack);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for ack in acks {
        assert_eq!(ack.await, BatchStatus::Delivered);
    }
    assert!(
        wait_until(Duration::from_secs(20), || requests_per_record(&receiver)
            .len()
            == 1400)
        .await
    );

    // The position at which each record first arrived.
    let mut first_seen = HashMap::new();
    for (position, body) in bodies(&receiver).iter().enumerate() {
        let n = serde_json::from_str::<serde_json::Value>(body).unwrap()["n"]
            .as_u64()
            .unwrap();
        first_seen.entry(n).or_insert(position);
    }
    let mean = |range: std::ops::Range<u64>| {
        let len = range.end - range.start;
        range.map(|n| first_seen[&n] as f64).sum::<f64>() / len as f64
    };
    assert!(
        mean(0..200) < mean(400..600),
        "older backlog records went first"
    );
    assert!(
        mean(400..600) < mean(800..1000),
        "older backlog records went first"
    );
    // New records did not wait for the whole backlog.
    let last_backlog = (0..1000).map(|n| first_seen[&n]).max().unwrap();
    let first_new = (1000..1400).map(|n| first_seen[&n]).min().unwrap();
    assert!(
        first_new < last_backlog,
        "new records flowed while the backlog drained"
    );
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_webhook_slows_the_input_unless_spilling_is_on() {
    recorder();
    for (id, spill) in [("slow", ""), ("spill", "[store]\nspill_after = \"100ms\"")] {
        let receiver = Receiver::start().await.unwrap();
        receiver.set_default(Reply::Delay(Duration::from_millis(200)));
        let config = config(
            &receiver.url(),
            &format!("[request]\nconcurrency = 2\n{spill}"),
        );
        let sink = start_sink_as(id, &config, 1);
        let started = Instant::now();
        let mut acks = Vec::new();
        for n in 0..40 {
            let (batch, ack) = acked_batch(records(n, n + 1));
            sink.input.send(batch).await.unwrap();
            acks.push(ack);
        }
        for ack in acks {
            assert_eq!(ack.await, BatchStatus::Delivered);
        }
        let taken = started.elapsed();
        if spill.is_empty() {
            // Two at a time, a fifth of a second each: the input waited for the webhook.
            assert!(taken >= Duration::from_secs(3), "{id}: {taken:?}");
            assert_eq!(
                metric(id, "webhook_absorbed_records_total", &[("reason", "spill")]),
                Some(0.0)
            );
        } else {
            assert!(taken < Duration::from_secs(2), "{id}: {taken:?}");
            assert!(
                metric(id, "webhook_absorbed_records_total", &[("reason", "spill")]) > Some(0.0)
            );
            assert_eq!(
                metric(id, "webhook_circuit_opened_total", &[]),
                Some(0.0),
                "slow is not down"
            );
        }
        assert!(
            wait_until(Duration::from_secs(15), || requests_per_record(&receiver)
                .len()
                == 40)
            .await,
            "{id}"
        );
        let seen: BTreeSet<u64> = requests_per_record(&receiver).into_keys().collect();
        assert_eq!(seen, (0..40).collect());
        drop(sink.input);
        sink.done.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_store_that_drops_the_newest_drops_them_while_the_circuit_is_open() {
    recorder();
    let receiver = Receiver::start().await.unwrap();
    receiver.set_default(Reply::Status(503));
    let config = config(
        &receiver.url(),
        "[store]\nmax_records = 20\nwhen_full = \"drop_newest\"",
    );
    let sink = start_sink_as("drop", &config, 4);
    let (batch, ack) = acked_batch(records(0, 5));
    sink.input.send(batch).await.unwrap();
    assert_eq!(ack.await, BatchStatus::Delivered);
    let (batch, ack) = acked_batch(records(5, 100));
    sink.input.send(batch).await.unwrap();
    assert_eq!(
        ack.await,
        BatchStatus::Errored,
        "dropped records are errors to the source"
    );
    assert_eq!(
        metric("drop", "webhook_retry_store_records", &[]),
        Some(20.0)
    );
    assert_eq!(
        metric(
            "drop",
            "webhook_deliveries_total",
            &[("outcome", "discarded")]
        ),
        Some(80.0)
    );

    receiver.set_default(Reply::Status(200));
    assert!(
        wait_until(Duration::from_secs(10), || requests_per_record(&receiver)
            .len()
            == 20)
        .await
    );
    assert!(reaches("drop", "webhook_retry_store_records", &[], 0.0).await);
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
}
