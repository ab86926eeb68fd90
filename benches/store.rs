//! Retry store throughput: records/s written and read back, each write resolving after its
//! group's COMMIT.
//!
//! Writes two ways: one record per call from 64 concurrent writers (failed first attempts, as
//! the lanes store them) and batches of 100 with 8 in flight (records absorbed while a circuit
//! is open, as the sink's absorber writes them). Reads: lease a chunk, then complete every
//! record as failed (rescheduled) or delivered (deleted), 64 in flight like the lanes.
//!
//! Run: `cargo bench --bench store` (env: `RECORDS` = 100000, `BODY_BYTES` = 700). The store
//! file lives in a temporary directory on the same disk as `TMPDIR`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::sync::Semaphore;
use webhook_sink::retry::store::SqliteTier;
use webhook_sink::retry::{
    AbsorbedRecord, FailedRecord, RetryTier, Schedule, StoreSettings, WhenFull,
};
use webhook_sink::stream::{Stream, StreamSet};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const WRITERS: usize = 64;
const BATCH: usize = 100;
const BATCHES_IN_FLIGHT: usize = 8;
const LEASE: usize = 1024;

fn stream(n: usize) -> Stream {
    Stream::ALL[n % 2]
}

fn open(dir: &std::path::Path, records: usize) -> Arc<dyn RetryTier> {
    let settings = StoreSettings {
        // Due at once, so the read-back measures the store rather than the schedule.
        schedule: Schedule::explicit(vec![Duration::ZERO; 9]),
        max_records: records,
        when_full: WhenFull::Block,
        spill_after: None,
    };
    Arc::new(
        SqliteTier::open(dir, settings, &http::HeaderMap::new(), None).expect("open the store"),
    )
}

/// Records/s of `records` failed first attempts, one per call from [`WRITERS`] tasks.
async fn enqueue(tier: &Arc<dyn RetryTier>, records: usize, body: &Bytes) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let tier = Arc::clone(tier);
            let body = body.clone();
            tokio::spawn(async move {
                for n in (w..records).step_by(WRITERS) {
                    let record = FailedRecord {
                        stream: stream(n),
                        body: body.clone(),
                        attempts_made: 1,
                        last_error: "http://127.0.0.1:9/webhook: connection refused".into(),
                        retry_after: None,
                        received_at: SystemTime::now(),
                    };
                    if let Err(error) = tier.enqueue(record).await {
                        panic!("enqueue failed: {error}");
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
    records as f64 / started.elapsed().as_secs_f64()
}

/// Records/s of `records` absorbed in batches of [`BATCH`], [`BATCHES_IN_FLIGHT`] at a time.
async fn absorb(tier: &Arc<dyn RetryTier>, records: usize, body: &Bytes) -> f64 {
    let writes = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
    let started = Instant::now();
    for first in (0..records).step_by(BATCH) {
        let write = Arc::clone(&writes).acquire_owned().await.expect("open");
        let batch: Vec<AbsorbedRecord> = (first..(first + BATCH).min(records))
            .map(|n| AbsorbedRecord {
                stream: stream(n),
                body: body.clone(),
                received_at: SystemTime::now(),
            })
            .collect();
        let tier = Arc::clone(tier);
        tokio::spawn(async move {
            let n = batch.len();
            assert_eq!(tier.absorb(batch).await.expect("absorb"), n);
            drop(write);
        });
    }
    let _ = writes.acquire_many(BATCHES_IN_FLIGHT as u32).await;
    records as f64 / started.elapsed().as_secs_f64()
}

/// Records/s leased a chunk at a time and completed (`delivered`, or failed and rescheduled).
async fn drain(tier: &Arc<dyn RetryTier>, records: usize, delivered: bool) -> f64 {
    let in_flight = Arc::new(Semaphore::new(WRITERS));
    let started = Instant::now();
    let mut done = 0;
    while done < records {
        let due = tier
            .lease(StreamSet::ALL, LEASE)
            .await
            .expect("lease works");
        if due.is_empty() {
            tier.wait_due(StreamSet::ALL).await;
            continue;
        }
        for due in due {
            done += 1;
            let slot = Arc::clone(&in_flight).acquire_owned().await.expect("open");
            let tier = Arc::clone(tier);
            tokio::spawn(async move {
                let result = if delivered {
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
    }
    let _ = in_flight.acquire_many(WRITERS as u32).await;
    records as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let records = env_or("RECORDS", 100_000usize);
    let body = Bytes::from(vec![b'x'; env_or("BODY_BYTES", 700usize)]);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary directory");

    let (enqueued, absorbed, failed, delivered) = runtime.block_on(async {
        let failed_first = open(&dir.path().join("enqueue"), records);
        let enqueued = enqueue(&failed_first, records, &body).await;
        let absorbing = open(&dir.path().join("absorb"), records * 2);
        let absorbed = absorb(&absorbing, records, &body).await;
        let failed = drain(&absorbing, records, false).await;
        let delivered = drain(&absorbing, records, true).await;
        assert!(absorbing.is_empty(), "every record was delivered");
        (enqueued, absorbed, failed, delivered)
    });
    println!(
        "retry store: {records} records of {} bytes (SQLite, WAL, group commit)",
        body.len()
    );
    println!("{:<52}{:>12}", "", "records/s");
    for (label, rate) in [
        (
            "written one per call, 64 writers (failed attempts)",
            enqueued,
        ),
        ("written 100 per call, 8 in flight (absorbed)", absorbed),
        ("leased 1024 at a time, attempt failed", failed),
        ("leased 1024 at a time, delivered", delivered),
    ] {
        println!("{label:<52}{rate:>12.0}");
    }
}
