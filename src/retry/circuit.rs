//! The circuit breaker of one stream: while the webhook is known to be down, records skip their
//! attempt and go straight to the retry store, so an outage fills the store instead of stalling
//! the sources.
//!
//! The pattern is Envoy's outlier detection: after `failures` consecutive failed attempts of
//! distinct records (an attempt is all its tries; one record's retries count once, so a single
//! payload the webhook keeps refusing never trips it), or when no try has been answered for
//! much longer than the webhook usually takes ([`Circuit::stalled`]), the circuit opens. While
//! open, one record at a time is sent as a probe, first after `probe_interval`, then after twice
//! the previous wait up to `max_probe_interval` (±20 % jitter, at least a `Retry-After` the
//! webhook asked for). Any answer that shows the webhook serving closes it again: a 2xx, or a
//! 3xx/4xx other than 429 (a refusal of that payload, not an outage). A probe is a real attempt
//! of the record it carries and counts as one.
//!
//! Which answers count as down: 5xx, 429, transport errors (refused, reset, TLS) and timeouts,
//! the same answers the in-attempt retry retries.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use tokio::sync::watch;

use crate::stream::Stream;
use crate::telemetry::CircuitMetrics;

/// `[sinks.ID.circuit]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitSettings {
    /// `false` keeps the seed's behaviour: every record spends its first attempt.
    pub enabled: bool,
    /// Consecutive failed attempts (of distinct records) that open the circuit.
    pub failures: u32,
    /// The wait before the first probe.
    pub probe_interval: Duration,
    /// The longest wait between probes.
    pub max_probe_interval: Duration,
}

impl Default for CircuitSettings {
    fn default() -> Self {
        CircuitSettings {
            enabled: true,
            failures: 5,
            probe_interval: Duration::from_millis(500),
            max_probe_interval: Duration::from_secs(5),
        }
    }
}

/// Which record an attempt carried, so that one record's failures count once in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKey {
    /// A record on its first attempt, by the address of its payload (unique while in flight).
    Fresh(usize),
    /// A record from the retry store, by its id there.
    Stored(u64),
}

/// How an attempt ended, as the circuit sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The webhook answered in a way that shows it serving.
    Up,
    /// 5xx, 429, transport error or timeout, with the webhook's `Retry-After` if it sent one.
    Down {
        /// The failure in words (for the log line that says the webhook is down).
        reason: String,
        /// How long the webhook asked to be left alone.
        retry_after: Option<Duration>,
    },
}

/// The three states, as `webhook_circuit_state` publishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Records are attempted (0).
    Closed,
    /// Records go to the store; waiting for the next probe (1).
    Open,
    /// A probe is in flight (2).
    Probing,
}

impl CircuitState {
    /// The gauge's value.
    pub fn value(self) -> f64 {
        match self {
            CircuitState::Closed => 0.0,
            CircuitState::Open => 1.0,
            CircuitState::Probing => 2.0,
        }
    }
}

/// One stream's circuit.
pub struct Circuit {
    stream: Stream,
    settings: CircuitSettings,
    /// Read on every record; written only when the state changes.
    open: AtomicBool,
    /// Whether failures are being counted: while neither this nor `open` is set, a success has
    /// nothing to change, and skips the lock (both lanes end attempts on every request).
    suspect: AtomicBool,
    state: Mutex<State>,
    /// Bumped on every change of any of the sink's circuits.
    changed: Arc<watch::Sender<u64>>,
    metrics: CircuitMetrics,
}

#[derive(Default)]
struct State {
    /// Distinct records whose latest attempts failed in a row (closed).
    failing: Vec<RecordKey>,
    /// When the first of them failed.
    failing_since: Option<SystemTime>,
    /// Set while open.
    outage: Option<Outage>,
    /// Outages that ended, and when the last one began (its first failed attempt).
    ended: Option<EndedOutages>,
}

/// What a feeder needs to know of the outages that ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndedOutages {
    /// How many ended so far.
    pub count: u64,
    /// When the last one began: attempts that failed from then on failed because of it.
    pub began: SystemTime,
}

struct Outage {
    since: Instant,
    began: SystemTime,
    wait: Duration,
    next_probe: Instant,
    probing: bool,
    probes_failed: u64,
    absorbed: u64,
}

impl Circuit {
    /// A closed circuit for `stream`, signalling changes on `changed`.
    pub fn new(
        stream: Stream,
        settings: CircuitSettings,
        changed: Arc<watch::Sender<u64>>,
        metrics: CircuitMetrics,
    ) -> Circuit {
        metrics.state(CircuitState::Closed);
        Circuit {
            stream,
            settings,
            open: AtomicBool::new(false),
            suspect: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            changed,
            metrics,
        }
    }

    /// Whether records of this stream should skip their attempt.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }

    /// The state now.
    pub fn state(&self) -> CircuitState {
        match &self.lock().outage {
            None => CircuitState::Closed,
            Some(outage) if outage.probing => CircuitState::Probing,
            Some(_) => CircuitState::Open,
        }
    }

    /// Takes the outcome of an attempt of `record` (`probe` when it was sent as the probe).
    pub fn attempt_ended(&self, record: RecordKey, verdict: &Verdict, probe: bool) {
        let quiet = !self.suspect.load(Ordering::Relaxed) && !self.is_open();
        if quiet && *verdict == Verdict::Up {
            return;
        }
        let mut state = self.lock();
        match (&mut state.outage, verdict) {
            (None, Verdict::Up) => {
                state.failing.clear();
                state.failing_since = None;
                self.suspect.store(false, Ordering::Relaxed);
            }
            (None, Verdict::Down { reason, .. }) => {
                if !state.failing.contains(&record) {
                    state.failing.push(record);
                }
                self.suspect.store(true, Ordering::Relaxed);
                state.failing_since.get_or_insert_with(SystemTime::now);
                if self.settings.enabled && state.failing.len() >= self.settings.failures as usize {
                    let why = format!(
                        "{} consecutive attempts failed, the last: {reason}",
                        state.failing.len()
                    );
                    self.open_now(&mut state, &why);
                }
            }
            (Some(_), Verdict::Up) => self.close_now(&mut state),
            (Some(outage), Verdict::Down { retry_after, .. }) if probe => {
                outage.probing = false;
                outage.probes_failed += 1;
                outage.wait = (outage.wait * 2).min(self.settings.max_probe_interval);
                let wait = jittered(outage.wait).max(retry_after.unwrap_or_default());
                outage.next_probe = Instant::now() + wait;
                self.metrics.state(CircuitState::Open);
                drop(state);
                self.signal();
            }
            // Attempts started before the circuit opened fail as expected.
            (Some(_), Verdict::Down { .. }) => {}
        }
    }

    /// No try has been answered for `why`: the webhook accepts requests but does not answer.
    pub fn stalled(&self, why: &str) {
        let mut state = self.lock();
        if self.settings.enabled && state.outage.is_none() {
            self.open_now(&mut state, why);
        }
    }

    /// The outages that ended so far (`None` before the first).
    pub fn ended(&self) -> Option<EndedOutages> {
        self.lock().ended
    }

    /// When the next probe may start, while open and no probe is in flight.
    pub fn probe_due(&self) -> Option<Instant> {
        match &self.lock().outage {
            Some(outage) if !outage.probing => Some(outage.next_probe),
            _ => None,
        }
    }

    /// Claims the probe if it is due; `true` means the caller sends one record as the probe.
    pub fn start_probe(&self) -> bool {
        let mut state = self.lock();
        let Some(outage) = &mut state.outage else {
            return false;
        };
        if outage.probing || Instant::now() < outage.next_probe {
            return false;
        }
        outage.probing = true;
        self.metrics.state(CircuitState::Probing);
        true
    }

    /// A probe that was claimed but not sent after all (its record went back to the store).
    pub fn probe_not_sent(&self) {
        let mut state = self.lock();
        if let Some(outage) = &mut state.outage {
            if outage.probing {
                outage.probing = false;
                self.metrics.state(CircuitState::Open);
            }
        }
    }

    /// Counts `records` that went to the store without an attempt while open, for the log line
    /// that says the webhook is back.
    pub fn absorbed(&self, records: u64) {
        if let Some(outage) = &mut self.lock().outage {
            outage.absorbed += records;
        }
    }

    fn open_now(&self, state: &mut State, why: &str) {
        state.failing.clear();
        self.suspect.store(false, Ordering::Relaxed);
        let began = state.failing_since.take().unwrap_or_else(SystemTime::now);
        let wait = self.settings.probe_interval;
        state.outage = Some(Outage {
            since: Instant::now(),
            began,
            wait,
            next_probe: Instant::now() + jittered(wait),
            probing: false,
            probes_failed: 0,
            absorbed: 0,
        });
        self.open.store(true, Ordering::Relaxed);
        self.metrics.opened();
        self.metrics.state(CircuitState::Open);
        tracing::warn!(
            stream = %self.stream,
            "webhook down: {why}; new records go to the retry store until a probe succeeds"
        );
        self.signal();
    }

    fn close_now(&self, state: &mut State) {
        let Some(outage) = state.outage.take() else {
            return;
        };
        state.ended = Some(EndedOutages {
            count: state.ended.map_or(1, |ended| ended.count + 1),
            began: outage.began,
        });
        self.open.store(false, Ordering::Relaxed);
        self.metrics.state(CircuitState::Closed);
        tracing::info!(
            stream = %self.stream,
            down_seconds = outage.since.elapsed().as_secs_f64(),
            absorbed = outage.absorbed,
            probes_failed = outage.probes_failed,
            "webhook back after {:.1} s: {} records went to the retry store meanwhile and are sent now",
            outage.since.elapsed().as_secs_f64(),
            outage.absorbed,
        );
        self.signal();
    }

    fn signal(&self) {
        self.changed.send_modify(|version| *version += 1);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `wait` scaled by a random factor in [0.8, 1.2], so sinks that opened together do not probe
/// together.
fn jittered(wait: Duration) -> Duration {
    wait.mul_f64(rand::thread_rng().gen_range(0.8..=1.2))
}

/// The circuits of one sink, one per stream, sharing one change signal.
pub struct Circuits {
    by_stream: [Circuit; 2],
    changed: Arc<watch::Sender<u64>>,
}

impl Circuits {
    /// Closed circuits for both streams.
    pub fn new(settings: &CircuitSettings, metrics: [CircuitMetrics; 2]) -> Circuits {
        let changed = Arc::new(watch::Sender::new(0));
        let [events, users] = metrics;
        Circuits {
            by_stream: [
                Circuit::new(
                    Stream::Events,
                    settings.clone(),
                    Arc::clone(&changed),
                    events,
                ),
                Circuit::new(Stream::Users, settings.clone(), Arc::clone(&changed), users),
            ],
            changed,
        }
    }

    /// The circuit of `stream`.
    pub fn of(&self, stream: Stream) -> &Circuit {
        &self.by_stream[stream.index()]
    }

    /// A receiver that sees every later change of either circuit.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Opens both circuits: the webhook stopped answering at all.
    pub fn stalled(&self, why: &str) {
        for circuit in &self.by_stream {
            circuit.stalled(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn circuit(failures: u32) -> Circuit {
        let settings = CircuitSettings {
            failures,
            probe_interval: Duration::from_millis(40),
            max_probe_interval: Duration::from_millis(100),
            ..CircuitSettings::default()
        };
        let changed = Arc::new(watch::Sender::new(0));
        Circuit::new(
            Stream::Events,
            settings,
            changed,
            CircuitMetrics::new(&[], Stream::Events),
        )
    }

    fn down() -> Verdict {
        Verdict::Down {
            reason: "answered 503".into(),
            retry_after: None,
        }
    }

    #[test]
    fn consecutive_failures_of_distinct_records_open_it() {
        let circuit = circuit(3);
        for n in 0..2 {
            circuit.attempt_ended(RecordKey::Fresh(n), &down(), false);
        }
        assert!(!circuit.is_open());
        circuit.attempt_ended(RecordKey::Stored(7), &down(), false);
        assert!(circuit.is_open());
        assert_eq!(circuit.state(), CircuitState::Open);
    }

    #[test]
    fn one_records_failures_count_once_and_a_success_starts_the_count_over() {
        let circuit = circuit(3);
        for _ in 0..10 {
            circuit.attempt_ended(RecordKey::Stored(1), &down(), false);
        }
        assert!(!circuit.is_open(), "one record's retries never open it");
        circuit.attempt_ended(RecordKey::Stored(2), &down(), false);
        circuit.attempt_ended(RecordKey::Fresh(3), &Verdict::Up, false);
        circuit.attempt_ended(RecordKey::Stored(4), &down(), false);
        circuit.attempt_ended(RecordKey::Stored(5), &down(), false);
        assert!(!circuit.is_open(), "the success in between reset the count");
    }

    #[test]
    fn a_disabled_circuit_never_opens() {
        let mut circuit = circuit(1);
        circuit.settings.enabled = false;
        circuit.attempt_ended(RecordKey::Fresh(1), &down(), false);
        circuit.stalled("no answer for 2 s");
        assert!(!circuit.is_open());
    }

    #[test]
    fn probes_wait_a_growing_interval_and_a_success_closes_it() {
        let circuit = circuit(1);
        circuit.stalled("no answer for 2 s");
        assert!(circuit.is_open());
        assert!(!circuit.start_probe(), "not before the first interval");
        let first = circuit.probe_due().unwrap() - Instant::now();
        assert!(first <= Duration::from_millis(48), "{first:?}");
        std::thread::sleep(first);
        assert!(circuit.start_probe());
        assert_eq!(circuit.state(), CircuitState::Probing);
        assert!(!circuit.start_probe(), "one probe at a time");
        assert_eq!(circuit.probe_due(), None);

        let started = Instant::now();
        circuit.attempt_ended(RecordKey::Stored(9), &down(), true);
        let second = circuit.probe_due().unwrap() - started;
        assert!(second >= Duration::from_millis(63), "doubled: {second:?}");
        // Capped at max_probe_interval, and a Retry-After beyond it is honoured.
        std::thread::sleep(second);
        assert!(circuit.start_probe());
        let retry_after = Verdict::Down {
            reason: "answered 429".into(),
            retry_after: Some(Duration::from_secs(5)),
        };
        circuit.attempt_ended(RecordKey::Stored(9), &retry_after, true);
        assert!(circuit.probe_due().unwrap() - Instant::now() > Duration::from_secs(4));

        circuit.attempt_ended(RecordKey::Stored(3), &Verdict::Up, false);
        assert!(!circuit.is_open());
        assert_eq!(circuit.state(), CircuitState::Closed);
        assert_eq!(circuit.probe_due(), None);
    }

    #[test]
    fn a_failure_that_is_not_the_probe_leaves_the_probe_schedule_alone() {
        let circuit = circuit(1);
        circuit.attempt_ended(RecordKey::Fresh(1), &down(), false);
        let due = circuit.probe_due();
        circuit.attempt_ended(RecordKey::Fresh(2), &down(), false);
        assert_eq!(circuit.probe_due(), due);
    }

    #[test]
    fn every_change_is_signalled() {
        let circuit = circuit(1);
        let mut seen = circuit.changed.subscribe();
        circuit.attempt_ended(RecordKey::Fresh(1), &down(), false);
        assert!(seen.has_changed().unwrap());
        seen.borrow_and_update();
        circuit.attempt_ended(RecordKey::Fresh(1), &Verdict::Up, false);
        assert!(seen.has_changed().unwrap());
    }
}
