//! Retry store throughput under a dead endpoint: records/s written (enqueue, each resolving after
//! its group's COMMIT) and read back (lease, failed attempt rescheduled; lease, delivered), for the
//! durable SQLite store next to the in-memory tier as the baseline.
//!
//! Run: `cargo bench --bench store` (env: `RECORDS` = 100000, `WRITERS` = 64 concurrent
//! enqueuers like the sink's in-flight attempts, `BODY_BYTES` = 700). The store file lives in a
//! temporary directory on the same disk as `TMPDIR`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::sync::Semaphore;
use webhook_sink::config::OuterConfig;
use webhook_sink::outer::{FailedRecord, MemoryTier, RetryTier, Schedule, WhenFull};
use webhook_sink::store::SqliteTier;
use webhook_sink::stream::Stream;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Figures {
    write: f64,
    fail: f64,
    deliver: f64,
}

fn record(n: usize, body: &Bytes) -> FailedRecord {
    FailedRecord {
        stream: [Stream::Events, Stream::Users][n % 2],
        body: body.clone(),
        attempts_made: 1,
        last_error: "http://127.0.0.1:9/webhook: connection refused".into(),
        retry_after: None,
        received_at: SystemTime::now(),
    }
}

/// Enqueues `records` from `writers` tasks, then drains them twice the way the sink does (one
/// loop leasing, attempts completing on their own tasks): first every attempt fails (the
/// endpoint is dead, records are rescheduled), then every attempt succeeds.
async fn measure(tier: Arc<dyn RetryTier>, records: usize, writers: usize, body: Bytes) -> Figures {
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let tier = Arc::clone(&tier);
            let body = body.clone();
            tokio::spawn(async move {
                for n in (w..records).step_by(writers) {
                    if let Err(error) = tier.enqueue(record(n, &body)).await {
                        panic!("enqueue failed: {error}");
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
    let write = records as f64 / started.elapsed().as_secs_f64();
    let fail = drain(&tier, records, writers, false).await;
    let deliver = drain(&tier, records, writers, true).await;
    assert!(tier.is_empty(), "every record was delivered");
    Figures {
        write,
        fail,
        deliver,
    }
}

async fn drain(tier: &Arc<dyn RetryTier>, records: usize, in_flight: usize, ok: bool) -> f64 {
    let slots = Arc::new(Semaphore::new(in_flight));
    let started = Instant::now();
    for _ in 0..records {
        let slot = Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("open semaphore");
        let due = tier.next_due().await;
        let tier = Arc::clone(tier);
        tokio::spawn(async move {
            let result = if ok {
                Ok(())
            } else {
                Err("connection refused".to_owned())
            };
            if let Err(error) = tier.complete(due.id, result, None).await {
                panic!("complete failed: {error}");
            }
            drop(slot);
        });
    }
    let all = u32::try_from(in_flight).expect("in-flight fits u32");
    let _ = slots.acquire_many(all).await;
    records as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let records = env_or("RECORDS", 100_000usize);
    let writers = env_or("WRITERS", 64usize);
    let body = Bytes::from(vec![b'x'; env_or("BODY_BYTES", 700usize)]);
    // Due at once, so the read-back measures the store rather than the schedule.
    let schedule = Schedule::explicit(vec![Duration::ZERO; 9]);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");

    let dir = tempfile::tempdir().expect("temporary directory");
    let config = OuterConfig {
        schedule: schedule.clone(),
        max_records: records,
        when_full: WhenFull::Block,
    };
    let sqlite = runtime.block_on(async {
        let tier =
            SqliteTier::open(dir.path(), config, &http::HeaderMap::new()).expect("open the store");
        measure(Arc::new(tier), records, writers, body.clone()).await
    });
    let memory = runtime.block_on(async {
        let tier = MemoryTier::new(schedule, records, WhenFull::Block);
        measure(Arc::new(tier), records, writers, body.clone()).await
    });
    let file_bytes: u64 = std::fs::read_dir(dir.path())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);

    println!(
        "retry store: {records} records of {} bytes, {writers} concurrent writers",
        body.len()
    );
    println!("{:<34}{:>14}{:>14}", "records/s", "sqlite", "memory");
    for (label, s, m) in [
        ("written (enqueue, durable)", sqlite.write, memory.write),
        ("read back, attempt failed", sqlite.fail, memory.fail),
        ("read back, delivered", sqlite.deliver, memory.deliver),
    ] {
        println!("{label:<34}{s:>14.0}{m:>14.0}");
    }
    println!("store files after the run: {} KiB", file_bytes / 1024);
}
