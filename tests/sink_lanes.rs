//! The dispatch lanes' threads run under the throughput scheduling policy (`SCHED_BATCH`), so
//! that an answer waking a lane does not preempt the thread running (see `src/scheduling.rs`).
#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;

use serde_json::json;
use support::{acked_batch, start_sink, Receiver};

/// The scheduling policy of each of this process's threads whose name starts with `prefix`.
fn policies_of_threads_named(prefix: &str) -> Vec<(String, i32)> {
    let mut found = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return found;
    };
    for task in tasks.flatten() {
        let Ok(name) = std::fs::read_to_string(task.path().join("comm")) else {
            continue;
        };
        let name = name.trim().to_owned();
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<i32>().ok())
        else {
            continue;
        };
        if name.starts_with(prefix) {
            // SAFETY: reads the policy of a thread of this process by its id.
            found.push((name, unsafe { libc::sched_getscheduler(tid) }));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_lanes_run_under_the_batch_policy_and_the_host_threads_do_not() {
    let receiver = Receiver::start().await.expect("receiver");
    let sink = start_sink(&format!("url = \"{}\"", receiver.url()), 4);
    let (batch, ack) = acked_batch(vec![json!({"event_type": "Open", "user_id": "u1"})]);
    sink.input.send(batch).await.expect("sink takes the batch");
    tokio::time::timeout(Duration::from_secs(10), ack)
        .await
        .expect("delivered in time");

    // The lanes live until the sink's input ends.
    let lanes = policies_of_threads_named("webhook-lane-");
    assert!(!lanes.is_empty(), "no dispatch lane threads found");
    for (name, policy) in &lanes {
        assert_eq!(*policy, libc::SCHED_BATCH, "{name}");
    }
    let workers = policies_of_threads_named("tokio-rt-worker");
    assert!(!workers.is_empty(), "no host worker threads found");
    for (name, policy) in &workers {
        assert_eq!(*policy, libc::SCHED_OTHER, "{name}");
    }

    drop(sink.input);
    sink.done
        .await
        .expect("sink task")
        .expect("sink ends cleanly");
}
