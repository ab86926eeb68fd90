//! The sink under webhook faults: failed attempts go to the outer tier and come back; nothing is
//! lost; one stuck request does not hold up the others; a stalled webhook stalls the input.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_core::BatchStatus;
use serde_json::json;
use support::{acked_batch, bodies, event, start_sink, Receiver, Reply};

const FAST_RETRIES: &str = r#"
[users]
enabled = false
[retry]
tries = 3
initial_backoff = "10ms"
attempt_budget = "1s"
attempts = 2
schedule = ["300ms", "300ms"]
"#;

#[tokio::test]
async fn failed_attempts_are_acknowledged_and_delivered_later_by_the_outer_tier() {
    let receiver = Receiver::start().await.unwrap();
    receiver.set_default(Reply::Status(500));
    let sink = start_sink(&format!("url = \"{}\"\n{FAST_RETRIES}", receiver.url()), 4);
    let records = (0..5).map(|i| json!({"event_type": "e", "n": i})).collect();
    let (batch, ack) = acked_batch(records);
    sink.input.send(batch).await.unwrap();

    // Acknowledged once committed to the tier, long before delivery.
    let status = tokio::time::timeout(Duration::from_secs(3), ack)
        .await
        .unwrap();
    assert_eq!(status, BatchStatus::Delivered);
    assert!(receiver.wait_for(15, Duration::from_secs(3)).await);
    receiver.set_default(Reply::Status(200));
    assert!(receiver.wait_for(20, Duration::from_secs(3)).await);
    drop(sink.input);
    sink.done.await.unwrap().unwrap();

    let bodies = bodies(&receiver);
    for i in 0..5 {
        let body = format!(r#"{{"event_type":"e","n":{i}}}"#);
        // Three tries of the first attempt, then one successful later attempt.
        assert_eq!(bodies.iter().filter(|b| **b == body).count(), 4, "{body}");
    }
}

#[tokio::test]
async fn a_400_makes_one_try_per_attempt_until_the_attempts_are_spent() {
    let receiver = Receiver::start().await.unwrap();
    receiver.set_default(Reply::Status(400));
    let sink = start_sink(&format!("url = \"{}\"\n{FAST_RETRIES}", receiver.url()), 4);
    sink.input
        .send(event(json!({"event_type": "e"})).into())
        .await
        .unwrap();
    // First attempt + 2 later attempts, one try each.
    assert!(receiver.wait_for(3, Duration::from_secs(3)).await);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.count(), 3);
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
}

#[tokio::test]
async fn refused_connections_and_dropped_connections_lose_nothing() {
    // Nothing listens at first: every try is refused and the records go to the outer tier.
    let refused = support::refused_url();
    let port: u16 = refused
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/webhook")
        .parse()
        .unwrap();
    let sink = start_sink(&format!("url = \"{refused}\"\n{FAST_RETRIES}"), 4);
    let records = (0..3).map(|i| json!({"event_type": "e", "n": i})).collect();
    let (batch, ack) = acked_batch(records);
    sink.input.send(batch).await.unwrap();
    assert_eq!(ack.await, BatchStatus::Delivered);

    // The webhook comes up on that port, dropping the first connection it gets.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let receiver = Receiver::start_on(listener).await.unwrap();
    receiver.script([Reply::Drop]);
    assert!(receiver.wait_for(4, Duration::from_secs(5)).await);
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
    let mut bodies = bodies(&receiver);
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 3);
}

#[tokio::test]
async fn a_request_that_never_answers_does_not_hold_up_the_others() {
    let receiver = Receiver::start().await.unwrap();
    receiver.script([Reply::Hang]);
    let config = format!(
        "url = \"{}\"\n[request]\ntimeout = \"1s\"\n{FAST_RETRIES}",
        receiver.url()
    );
    let sink = start_sink(&config, 4);
    let started = Instant::now();
    let records = (0..10)
        .map(|i| json!({"event_type": "e", "n": i}))
        .collect();
    let (batch, ack) = acked_batch(records);
    sink.input.send(batch).await.unwrap();
    // The nine others arrive while the first still hangs.
    assert!(receiver.wait_for(10, Duration::from_millis(900)).await);
    assert!(started.elapsed() < Duration::from_millis(900));
    // The hanging one times out, is retried on the next try and delivered.
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), ack)
            .await
            .unwrap(),
        BatchStatus::Delivered
    );
    assert!(receiver.wait_for(11, Duration::from_secs(1)).await);
    receiver.release();
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
}

#[tokio::test]
async fn with_two_permits_one_hanging_request_leaves_the_other_permit_to_the_rest() {
    // Two permits may be two dispatch lanes of one permit each: records must go to the lane
    // with room, not wait behind the stuck one.
    let receiver = Receiver::start().await.unwrap();
    receiver.script([Reply::Hang]);
    let config = format!(
        "url = \"{}\"\n[request]\nconcurrency = 2\ntimeout = \"2s\"\n{FAST_RETRIES}",
        receiver.url()
    );
    let sink = start_sink(&config, 4);
    let records = (0..20)
        .map(|i| json!({"event_type": "e", "n": i}))
        .collect();
    let (batch, ack) = acked_batch(records);
    sink.input.send(batch).await.unwrap();
    assert!(
        receiver.wait_for(20, Duration::from_millis(1500)).await,
        "only {} of 20 arrived while one request hung",
        receiver.count()
    );
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(6), ack)
            .await
            .unwrap(),
        BatchStatus::Delivered
    );
    receiver.release();
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_stalled_webhook_stops_the_input_and_everything_arrives_after_recovery() {
    let receiver = Receiver::start().await.unwrap();
    receiver.set_default(Reply::Hang);
    let config = format!(
        "url = \"{}\"\n[users]\nenabled = false\n[request]\nconcurrency = 4\ntimeout = \"60s\"",
        receiver.url()
    );
    let sink = start_sink(&config, 2);
    let accepted = Arc::new(AtomicU64::new(0));
    const TOTAL: u64 = 200;
    let producer = tokio::spawn({
        let accepted = Arc::clone(&accepted);
        let input = sink.input.clone();
        async move {
            for n in 0..TOTAL {
                let batch = event(json!({"event_type": "e", "n": n})).into();
                if input.send(batch).await.is_err() {
                    return;
                }
                accepted.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    drop(sink.input);

    assert!(receiver.wait_for(4, Duration::from_secs(2)).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stalled_at = accepted.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Nothing more is read than the 4 permits in flight, the chunks queued for the dispatch
    // lanes (four per lane, as `CHUNKS_QUEUED_PER_LANE` in src/lanes.rs says, one lane per core
    // up to the 4 permits; each chunk holds one record here, as each batch does), the one being
    // handed over, and the 2 batches in the channel.
    const CHUNKS_QUEUED_PER_LANE: u64 = 4;
    let lanes = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    let bound = 4 + CHUNKS_QUEUED_PER_LANE * lanes as u64 + 1 + 2;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        stalled_at,
        "input kept flowing"
    );
    assert!(
        stalled_at <= bound,
        "read {stalled_at} records while stalled (at most {bound})"
    );
    assert_eq!(
        receiver.count(),
        4,
        "only the permitted requests are in flight"
    );

    receiver.set_default(Reply::Status(200));
    receiver.release();
    producer.await.unwrap();
    sink.done.await.unwrap().unwrap();
    assert_eq!(receiver.count(), TOTAL);
    let mut seen: Vec<u64> = bodies(&receiver)
        .iter()
        .map(|b| {
            serde_json::from_str::<serde_json::Value>(b).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..TOTAL).collect::<Vec<_>>());
}
