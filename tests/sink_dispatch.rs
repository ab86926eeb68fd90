//! Fault tests of the dispatch stack against a real local receiver: retries, backoff, Retry-After,
//! per-try timeouts, refused and dropped connections, keep-alive and readiness.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use support::{default_settings, refused_url, stack_to, Receiver, Reply};
use tower::{Service, ServiceExt};
use webhook_sink::dispatch::{AttemptResult, Concurrency, DispatchService, Payload, TryError};
use webhook_sink::stream::Stream;

async fn send(stack: &mut DispatchService, body: &'static str) -> AttemptResult {
    let service = stack
        .ready()
        .await
        .expect("the stack never fails readiness");
    service
        .call(Payload::new(
            Stream::Events,
            Bytes::from_static(body.as_bytes()),
        ))
        .await
}

fn gaps(receiver: &Receiver) -> Vec<Duration> {
    let received = receiver.received();
    received.windows(2).map(|w| w[1].at - w[0].at).collect()
}

#[tokio::test]
async fn two_503_then_200_is_delivered_on_the_third_try_with_jittered_doubling_gaps() {
    let receiver = Receiver::start().await.unwrap();
    receiver.script([Reply::Status(503), Reply::Status(503)]);
    let mut stack = stack_to(&receiver.url(), &default_settings());

    let response = send(&mut stack, r#"{"a":1}"#).await.expect("answered");
    assert_eq!(response.status, 200);
    assert_eq!(response.try_number, 3);
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.body == r#"{"a":1}"#));
    let gaps = gaps(&receiver);
    // 100 ms ±50 % then 200 ms ±50 %, plus a little scheduling slack above.
    let slack = Duration::from_millis(40);
    assert!(gaps[0] >= Duration::from_millis(50), "{gaps:?}");
    assert!(gaps[0] <= Duration::from_millis(150) + slack, "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(100), "{gaps:?}");
    assert!(gaps[1] <= Duration::from_millis(300) + slack, "{gaps:?}");
}

#[tokio::test]
async fn always_500_makes_exactly_three_tries_inside_four_seconds() {
    let receiver = Receiver::start().await.unwrap();
    receiver.set_default(Reply::Status(500));
    let mut stack = stack_to(&receiver.url(), &default_settings());

    let started = Instant::now();
    let response = send(&mut stack, "{}").await.expect("answered");
    assert_eq!(response.status, 500);
    assert_eq!(response.try_number, 3);
    assert!(started.elapsed() < Duration::from_secs(4));
    // Nothing more arrives later: the attempt is over.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 3);
}

#[tokio::test]
async fn retry_after_of_one_second_is_waited_for() {
    let receiver = Receiver::start().await.unwrap();
    receiver.script([Reply::RetryAfter(429, "1".into())]);
    let mut stack = stack_to(&receiver.url(), &default_settings());

    let response = send(&mut stack, "{}").await.expect("answered");
    assert_eq!(response.status, 200);
    assert_eq!(response.try_number, 2);
    let gap = gaps(&receiver)[0];
    assert!(gap >= Duration::from_millis(1000), "{gap:?}");
    assert!(gap < Duration::from_millis(1300), "{gap:?}");
}

#[tokio::test]
async fn retry_after_beyond_the_budget_ends_the_attempt() {
    let receiver = Receiver::start().await.unwrap();
    receiver.script([Reply::RetryAfter(503, "10".into())]);
    let mut stack = stack_to(&receiver.url(), &default_settings());

    let started = Instant::now();
    let response = send(&mut stack, "{}").await.expect("answered");
    assert_eq!(response.status, 503);
    assert_eq!(response.retry_after, Some(Duration::from_secs(10)));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(receiver.count(), 1);
}

#[tokio::test]
async fn a_400_or_a_redirect_ends_the_attempt_after_one_try() {
    let receiver = Receiver::start().await.unwrap();
    receiver.script([Reply::Status(400), Reply::Status(302)]);
    let mut stack = stack_to(&receiver.url(), &default_settings());

    let first = send(&mut stack, "{}").await.expect("answered");
    assert_eq!((first.status.as_u16(), first.try_number), (400, 1));
    let second = send(&mut stack, "{}").await.expect("answered");
    assert_eq!((second.status.as_u16(), second.try_number), (302, 1));
    assert_eq!(receiver.count(), 2);
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported_as_a_transport_error() {
    let mut stack = stack_to(&refused_url(), &default_settings());
    let error = send(&mut stack, "{}").await.expect_err("nobody listens");
    match &error {
        TryError::Transport {
            message,
            try_number,
        } => {
            assert_eq!(*try_number, 3);
            assert!(message.to_lowercase().contains("refused"), "{message}");
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_dropped_connection_is_retried_on_a_new_one() {
    let receiver = Receiver::start().await.unwrap();
    receiver.script([Reply::Drop]);
    let mut stack = stack_to(&receiver.url(), &default_settings());

    let response = send(&mut stack, "{}").await.expect("answered");
    assert_eq!((response.status.as_u16(), response.try_number), (200, 2));
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_ne!(received[0].connection, received[1].connection);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_each_try() {
    let receiver = Receiver::start().await.unwrap();
    receiver.set_default(Reply::Hang);
    let mut settings = default_settings();
    settings.timeout = Duration::from_millis(200);
    let mut stack = stack_to(&receiver.url(), &settings);

    let started = Instant::now();
    let error = send(&mut stack, "{}").await.expect_err("no answer");
    assert_eq!(
        error,
        TryError::Timeout {
            timeout: Duration::from_millis(200),
            try_number: 3
        }
    );
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(receiver.count(), 3);
}

#[tokio::test]
async fn sequential_payloads_share_one_kept_alive_connection() {
    let receiver = Receiver::start().await.unwrap();
    let mut stack = stack_to(&receiver.url(), &default_settings());
    for _ in 0..20 {
        let response = send(&mut stack, "{}").await.expect("answered");
        assert_eq!(response.status, 200);
    }
    let received = receiver.received();
    assert_eq!(received.len(), 20);
    assert!(received.iter().all(|r| r.connection == 0));
    let first = &received[0];
    assert_eq!(first.headers["content-type"], "application/json");
    assert_eq!(first.headers["user-agent"], "Amplitude/Webhook/1.0");
}

#[tokio::test]
async fn readiness_waits_while_every_permit_is_in_flight() {
    let receiver = Receiver::start().await.unwrap();
    receiver.set_default(Reply::Hang);
    let mut settings = default_settings();
    settings.concurrency = Concurrency::Fixed(2);
    settings.timeout = Duration::from_secs(30);
    let mut stack = stack_to(&receiver.url(), &settings);

    let mut pending = Vec::new();
    for _ in 0..2 {
        let service = stack.ready().await.unwrap();
        pending.push(tokio::spawn(
            service.call(Payload::new(Stream::Users, Bytes::from_static(b"{}"))),
        ));
    }
    let third = tokio::time::timeout(Duration::from_millis(300), stack.ready()).await;
    assert!(third.is_err(), "a third permit must not be granted");

    receiver.release();
    for handle in pending {
        let response = handle.await.unwrap().expect("answered after release");
        assert_eq!(response.status, 200);
    }
    let service = tokio::time::timeout(Duration::from_secs(2), stack.ready())
        .await
        .expect("a permit is free again")
        .unwrap();
    let response = service
        .call(Payload::new(Stream::Users, Bytes::from_static(b"{}")))
        .await
        .expect("answered");
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn adaptive_concurrency_delivers_under_load() {
    let receiver = Receiver::start_with(false).await.unwrap();
    let mut settings = default_settings();
    settings.concurrency = Concurrency::Adaptive(32);
    let mut stack = stack_to(&receiver.url(), &settings);
    let mut pending = Vec::new();
    for _ in 0..300 {
        let service = stack.ready().await.unwrap();
        pending.push(tokio::spawn(
            service.call(Payload::new(Stream::Events, Bytes::from_static(b"{}"))),
        ));
    }
    for handle in pending {
        assert_eq!(handle.await.unwrap().expect("answered").status, 200);
    }
    assert_eq!(receiver.count(), 300);
}

#[tokio::test]
async fn the_rate_limit_spaces_attempts_out() {
    let receiver = Receiver::start().await.unwrap();
    let mut settings = default_settings();
    settings.rate_limit = 5;
    let mut stack = stack_to(&receiver.url(), &settings);
    let started = Instant::now();
    for _ in 0..10 {
        let response = send(&mut stack, "{}").await.expect("answered");
        assert_eq!(response.status, 200);
    }
    // 5 per second: the second five wait for the next second.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(receiver.count(), 10);
}
