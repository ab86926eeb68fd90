//! Feeding the lanes from the retry store, probing open circuits, and noticing a webhook that
//! stopped answering.
//!
//! One feeder per stream. While the stream's circuit is closed, it leases due records (oldest
//! due first) well ahead and queues them for the lanes beside new records: both wait for room
//! in the same queue, served in turn, and a feeder's turn queues twice the records of a turn of
//! new ones, so a backlog drains at about two thirds of what the lanes deliver while new events
//! keep flowing at the rest: neither starves the other. While the circuit is open, it sends one record as the probe
//! whenever one is due. The watchdog opens both circuits when no try has been answered for ten
//! times the webhook's usual answer time (at least a second, and only below the request
//! timeout, which would tell by itself): the webhook accepts requests but does not answer them.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::attempt::Work;
use crate::dispatch::lanes::{LaneError, Lanes};
use crate::retry::circuit::Circuits;
use crate::retry::{DueRecord, RetryTier, TierError};
use crate::stream::{Stream, StreamSet};
use crate::telemetry::Progress;

/// How often the watchdog looks at the lanes.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// A stall is never declared sooner than this.
const STALL_AT_LEAST: Duration = Duration::from_secs(1);

/// How many times its usual answer time the webhook may take before it counts as stalled.
const STALL_FACTOR: u32 = 10;

/// A feeder's turn at the lanes' queue queues this many of the router's chunks: a stored record
/// costs the store a lease and a deletion on top of its request, and the backlog should still
/// drain at more than half the healthy rate while new records flow.
const CHUNKS_PER_TURN: usize = 3;

/// Records a feeder keeps leased ahead, so that a lease round trip to the store thread (which
/// may be committing a group of a few thousand deletions) never leaves the lanes waiting: with
/// 256, the lanes idled at a third of a core each while a backlog drained.
const LEASED_AHEAD: usize = 2048;

/// Feeds one stream's stored records to the lanes until `stop`.
pub(crate) async fn feed_stream(
    stream: Stream,
    lanes: &Lanes<Work>,
    store: &dyn RetryTier,
    circuits: &Circuits,
    chunk: usize,
    stop: &CancellationToken,
) -> Result<(), LaneError> {
    let circuit = circuits.of(stream);
    let mut changes = circuits.watch();
    let only = StreamSet::only(stream);
    // Leased records not yet queued, and the lease under way; both outlive the select below,
    // so nothing leased is dropped when it is interrupted.
    let mut leased: VecDeque<DueRecord> = VecDeque::new();
    let mut lease = None;
    let ahead = LEASED_AHEAD.max(chunk);
    let mut outages_seen = circuit.ended().map(|ended| ended.count);
    loop {
        if circuit.is_open() {
            // What was leased for sending goes back: only the probe goes out now.
            give_back(store, stream, &mut leased).await;
            let step = async {
                match circuit.probe_due() {
                    Some(at) => {
                        tokio::time::sleep_until(at.into()).await;
                        probe(stream, lanes, store, circuits).await
                    }
                    // A probe is in flight: its outcome is a change.
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                _ = changes.changed() => {}
                result = step => result?,
                done = poll_lease(&mut lease) => leased.extend(done),
            }
            continue;
        }
        if let Some(ended) = circuit.ended().filter(|e| Some(e.count) != outages_seen) {
            outages_seen = Some(ended.count);
            match store.outage_ended(only, ended.began).await {
                Ok(n) if n > 0 => {
                    tracing::debug!(%stream, records = n, "records that failed during the outage are due now")
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(%error, %stream, "cannot reschedule the records that failed during the outage")
                }
            }
        }
        let low = lease.is_none() && leased.len() < ahead / 2;
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            _ = changes.changed() => {}
            done = poll_lease(&mut lease) => leased.extend(done),
            room = lanes.room(), if !leased.is_empty() => {
                let n = leased.len().min(chunk * CHUNKS_PER_TURN);
                let work = leased
                    .drain(..n)
                    .map(|due| Work::Stored { due, probe: false })
                    .collect();
                lanes.push(room?, work);
            }
            () = store.wait_due(only), if low => {
                lease = Some(store.lease(only, ahead - leased.len()));
            }
        }
    }
    // Stopped: what this feeder holds waits in the store for the next start.
    if let Some(lease) = lease {
        leased.extend(lease.await.unwrap_or_default());
    }
    give_back(store, stream, &mut leased).await;
    Ok(())
}

/// The records of the lease under way once it is done (none if it failed: logged); pending
/// while there is none.
async fn poll_lease(lease: &mut Option<Lease<'_>>) -> Vec<DueRecord> {
    let Some(pending) = lease else {
        return std::future::pending().await;
    };
    let result = pending.await;
    *lease = None;
    match result {
        Ok(due) => due,
        Err(error) => {
            tracing::error!(%error, "cannot lease records from the retry store");
            // Not a busy loop while the store is broken.
            tokio::time::sleep(Duration::from_secs(1)).await;
            Vec::new()
        }
    }
}

/// A lease under way.
type Lease<'a> = Pin<Box<dyn Future<Output = Result<Vec<DueRecord>, TierError>> + Send + 'a>>;

/// Hands leased records back to the store without an attempt.
async fn give_back(store: &dyn RetryTier, stream: Stream, leased: &mut VecDeque<DueRecord>) {
    for due in leased.drain(..) {
        if let Err(error) = store.release(due.id).await {
            tracing::error!(%error, %stream, "cannot give a record back to the retry store");
        }
    }
}

/// Sends the oldest due record of `stream` as the probe, once there is one. Room is taken
/// before the lease and the record queued right after it, so a probe interrupted midway leaves
/// nothing leased in its hands.
async fn probe(
    stream: Stream,
    lanes: &Lanes<Work>,
    store: &dyn RetryTier,
    circuits: &Circuits,
) -> Result<(), LaneError> {
    store.wait_due(StreamSet::only(stream)).await;
    let room = lanes.room().await?;
    let due = match store.lease(StreamSet::only(stream), 1).await {
        Ok(due) => due,
        Err(error) => {
            tracing::error!(%error, %stream, "cannot lease a probe from the retry store");
            tokio::time::sleep(Duration::from_secs(1)).await;
            return Ok(());
        }
    };
    let Some(due) = due.into_iter().next() else {
        return Ok(());
    };
    // Claimed unless the circuit closed meanwhile; then the record is sent as an ordinary one.
    let probe = circuits.of(stream).start_probe();
    lanes.push(room, vec![Work::Stored { due, probe }]);
    Ok(())
}

/// Opens the circuits when the lanes' tries stop being answered, until `stop`.
pub(crate) async fn watch_stalls(
    lanes: &Lanes<Work>,
    circuits: &Circuits,
    timeout: Duration,
    stop: &CancellationToken,
) {
    let mut every = tokio::time::interval(WATCH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {
                if let Some(why) = stalled(&lanes.progress(), timeout, Instant::now()) {
                    circuits.stalled(&why);
                }
            }
        }
    }
}

/// Why the lanes look stalled, if they do: every busy lane has had no try end for ten times the
/// usual answer time (at least [`STALL_AT_LEAST`]), and that is still less than `timeout`.
fn stalled(lanes: &[Progress], timeout: Duration, now: Instant) -> Option<String> {
    let typical = lanes.iter().filter_map(|lane| lane.typical).max()?;
    let limit = (typical * STALL_FACTOR).max(STALL_AT_LEAST);
    if limit >= timeout {
        return None;
    }
    let busy: Vec<&Progress> = lanes.iter().filter(|lane| lane.in_flight > 0).collect();
    let waited = busy
        .iter()
        .map(|lane| now.saturating_duration_since(lane.since))
        .min()?;
    (waited >= limit).then(|| {
        let in_flight: u32 = busy.iter().map(|lane| lane.in_flight).sum();
        format!(
            "no answer for {:.1} s to {in_flight} requests in flight (answers took {:.0} ms)",
            waited.as_secs_f64(),
            typical.as_secs_f64() * 1000.0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(in_flight: u32, waited_ms: u64, typical_ms: Option<u64>, now: Instant) -> Progress {
        Progress {
            in_flight,
            since: now - Duration::from_millis(waited_ms),
            typical: typical_ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn busy_lanes_without_answers_for_ten_times_the_usual_time_are_stalled() {
        let now = Instant::now();
        let timeout = Duration::from_secs(10);
        let stuck = [lane(32, 1500, Some(2), now), lane(32, 1200, Some(3), now)];
        let why = stalled(&stuck, timeout, now).unwrap();
        assert!(why.contains("64 requests in flight"), "{why}");
        // One lane still answering: not stalled.
        let one_moving = [lane(32, 1500, Some(2), now), lane(32, 10, Some(3), now)];
        assert_eq!(stalled(&one_moving, timeout, now), None);
        // An idle lane does not count either way.
        let one_idle = [lane(32, 1500, Some(2), now), lane(0, 10, Some(3), now)];
        assert!(stalled(&one_idle, timeout, now).is_some());
        // Not yet a second.
        assert_eq!(stalled(&[lane(64, 900, Some(2), now)], timeout, now), None);
    }

    #[test]
    fn a_slow_webhook_or_one_never_heard_from_is_left_to_the_timeout() {
        let now = Instant::now();
        let timeout = Duration::from_secs(10);
        // Usually 2 s per answer: ten times that is past the timeout.
        assert_eq!(
            stalled(&[lane(64, 9000, Some(2000), now)], timeout, now),
            None
        );
        // 300 ms per answer: stalled after 3 s.
        assert_eq!(
            stalled(&[lane(64, 2900, Some(300), now)], timeout, now),
            None
        );
        assert!(stalled(&[lane(64, 3100, Some(300), now)], timeout, now).is_some());
        // No answer yet at all: nothing to compare with.
        assert_eq!(stalled(&[lane(64, 9000, None, now)], timeout, now), None);
    }
}
