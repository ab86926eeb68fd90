//! Events per second through the stateful transforms with 100,000 distinct users (ids), in
//! batches of 500 as the HTTP sources deliver them:
//!
//! - `user_state/warm_cache`: every user is in memory (the cache holds them all);
//! - `user_state/cold_store`: every user is on disk and none in memory (a fresh process);
//! - `user_state/new_users`: nobody is known yet, every state is created and saved;
//! - `dedupe/new_ids`: every insert id is new (looked up on disk, recorded once delivered);
//! - `dedupe/resent_warm_cache` and `dedupe/resent_cold_store`: every event is a resend.
//!
//! Run with `cargo bench -p pipeline-host --bench stateful`.

use std::num::NonZeroUsize;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pipeline_core::metrics_names::{ComponentKind, ComponentMetrics};
use pipeline_core::{Event, EventArray};
use pipeline_host::transforms::{
    DedupeConfig, DedupeTransform, UserStateConfig, UserStateTransform,
};
use serde_json::json;

/// The allocator `webhook-sink run` uses (glibc's malloc spends a third of this bench
/// consolidating free chunks).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USERS: usize = 100_000;
const BATCH: usize = 500;

fn batches(identify: bool) -> Vec<EventArray> {
    (0..USERS)
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(|chunk| {
            chunk
                .iter()
                .map(|i| {
                    let fields = if identify {
                        json!({"event_type": "$identify", "user_id": format!("user-{i:06}"),
                               "device_id": format!("device-{i:06}"), "$insert_id": format!("id-{i}"),
                               "user_properties": {"$set": {"email": format!("u{i}@example.com"), "plan": "pro"},
                                                   "$add": {"logins": 1}}})
                    } else {
                        json!({"event_type": "Purchase", "user_id": format!("user-{i:06}"),
                               "device_id": format!("device-{i:06}"), "$insert_id": format!("id-{i}"),
                               "event_properties": {"price": 9.5}})
                    };
                    Event::new(fields.as_object().cloned().expect("object"))
                })
                .collect()
        })
        .collect()
}

fn metrics() -> ComponentMetrics {
    ComponentMetrics::new(ComponentKind::Transform, "bench", "bench")
}

fn user_config(cache: usize) -> UserStateConfig {
    UserStateConfig {
        cache_size: NonZeroUsize::new(cache).expect("non-zero"),
    }
}

async fn users_pass(transform: &mut UserStateTransform, input: Vec<EventArray>) -> Duration {
    let metrics = metrics();
    let started = Instant::now();
    for batch in input {
        let out = transform.apply(batch, &metrics).await;
        assert_eq!(out.len(), BATCH, "the store failed");
    }
    started.elapsed()
}

async fn open_dedupe(dir: &Path) -> DedupeTransform {
    let config: DedupeConfig =
        pipeline_core::deserialize_table(toml::Table::new()).expect("defaults");
    DedupeTransform::open(&config, dir, &metrics())
        .await
        .expect("open")
}

async fn dedupe_pass(
    dedupe: &mut DedupeTransform,
    input: Vec<EventArray>,
    expect_passed: usize,
) -> Duration {
    let metrics = metrics();
    let started = Instant::now();
    let mut passed = 0;
    for batch in input {
        let out = dedupe.apply(batch, &metrics).await;
        passed += out.len();
        drop(out); // delivered: the keys are recorded
    }
    dedupe.settled().await;
    let took = started.elapsed();
    assert_eq!(passed, expect_passed);
    took
}

fn user_state(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("user_state");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(USERS as u64));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut warm = runtime.block_on(async {
        let mut transform =
            UserStateTransform::open(&user_config(2 * USERS), dir.path(), &metrics())
                .await
                .expect("open");
        users_pass(&mut transform, batches(true)).await;
        transform
    });
    group.bench_function("warm_cache", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| runtime.block_on(users_pass(&mut warm, batches(false))))
                .sum()
        })
    });
    group.bench_function("cold_store", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    runtime.block_on(async {
                        let mut cold = UserStateTransform::open(
                            &user_config(2 * USERS),
                            dir.path(),
                            &metrics(),
                        )
                        .await
                        .expect("open");
                        users_pass(&mut cold, batches(false)).await
                    })
                })
                .sum()
        })
    });
    group.bench_function("new_users", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    runtime.block_on(async {
                        let fresh = tempfile::tempdir().expect("tempdir");
                        let mut transform = UserStateTransform::open(
                            &user_config(2 * USERS),
                            fresh.path(),
                            &metrics(),
                        )
                        .await
                        .expect("open");
                        users_pass(&mut transform, batches(true)).await
                    })
                })
                .sum()
        })
    });
    group.finish();
}

fn dedupe(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("dedupe");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(USERS as u64));
    group.bench_function("new_ids", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let fresh = tempfile::tempdir().expect("tempdir");
                    runtime.block_on(async {
                        let mut dedupe = open_dedupe(fresh.path()).await;
                        dedupe_pass(&mut dedupe, batches(false), USERS).await
                    })
                })
                .sum()
        })
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let mut warm = runtime.block_on(async {
        let mut dedupe = open_dedupe(dir.path()).await;
        dedupe_pass(&mut dedupe, batches(false), USERS).await;
        dedupe
    });
    group.bench_function("resent_warm_cache", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| runtime.block_on(dedupe_pass(&mut warm, batches(false), 0)))
                .sum()
        })
    });
    group.bench_function("resent_cold_store", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    runtime.block_on(async {
                        let mut cold = open_dedupe(dir.path()).await;
                        dedupe_pass(&mut cold, batches(false), 0).await
                    })
                })
                .sum()
        })
    });
    group.finish();
}

criterion_group!(benches, user_state, dedupe);
criterion_main!(benches);
