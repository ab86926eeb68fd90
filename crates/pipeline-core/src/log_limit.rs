//! Rate limiting for repeated log lines, as Vector does for its internal logs: a bad input line,
//! a failing template or a full store can happen once per record, and a log line per record
//! buries everything else (and costs more than the work it reports).
//!
//! A [`LogLimiter`] keeps one window per key (a message class such as "malformed line", not the
//! message text, so the set of keys stays small). The first occurrence in a window is logged in
//! full; later ones in the same window are only counted. The next occurrence after the window
//! ends is logged in full again, preceded by one line saying how often the message repeated
//! meanwhile ([`Repeated`]); [`LogLimiter::flush`] gives those counts at the end of a run, so none
//! is lost. The limiter only decides: the caller logs with its own `tracing` macro, so the lines
//! keep the caller's target, level and fields. Time comes in as an [`Instant`], so tests drive
//! the clock.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The window most callers want: at most one full line per key every ten seconds.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// Decides which occurrences of repeated log lines are logged; see the module docs.
///
/// Thread-safe (one short `Mutex` section per occurrence, no allocation after a key's first
/// occurrence) and needs no background task.
#[derive(Debug)]
pub struct LogLimiter<K = &'static str> {
    interval: Duration,
    windows: Mutex<BTreeMap<K, Window>>,
}

/// One key's current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// When the occurrence that was logged in full happened.
    started: Instant,
    /// Occurrences since then that were not logged.
    suppressed: u64,
    /// When the last of them happened.
    last: Instant,
}

impl Window {
    fn open(now: Instant) -> Window {
        Window {
            started: now,
            suppressed: 0,
            last: now,
        }
    }

    /// The suppressed occurrences as a report, when there were any.
    fn repeated<K>(&self, key: K, interval: Duration) -> Option<Repeated<K>> {
        (self.suppressed > 0).then(|| Repeated {
            key,
            count: self.suppressed,
            span: self.last.saturating_duration_since(self.started),
            interval,
        })
    }
}

/// What to do with one occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "an occurrence that is admitted should be logged"]
pub enum Admit<K> {
    /// Log it in full; first log `repeated` (how often the key was suppressed in its previous
    /// window), when there is one.
    Log {
        /// The previous window's suppressed occurrences.
        repeated: Option<Repeated<K>>,
    },
    /// Do not log it; it was counted.
    Suppressed,
}

/// How often a key's message was suppressed in one window. Its `Display` is the summary line,
/// e.g. `"skipping malformed line" repeated 4999 more times in 2.1s (logged at most once per 10s)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeated<K> {
    /// The message class.
    pub key: K,
    /// Occurrences not logged.
    pub count: u64,
    /// From the occurrence logged in full to the last suppressed one.
    pub span: Duration,
    /// The limiter's window.
    pub interval: Duration,
}

impl<K: fmt::Display> fmt::Display for Repeated<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let times = if self.count == 1 { "time" } else { "times" };
        write!(
            f,
            "\"{}\" repeated {} more {times} in ",
            self.key, self.count
        )?;
        if self.span < Duration::from_secs(1) {
            write!(f, "{}ms", self.span.as_millis())?;
        } else {
            write!(f, "{:.1}s", self.span.as_secs_f64())?;
        }
        write!(
            f,
            " (logged at most once per {}s)",
            self.interval.as_secs_f64()
        )
    }
}

impl<K: Ord + Clone> LogLimiter<K> {
    /// A limiter logging each key at most once per `interval` (a zero interval logs everything).
    pub fn new(interval: Duration) -> LogLimiter<K> {
        LogLimiter {
            interval,
            windows: Mutex::new(BTreeMap::new()),
        }
    }

    /// The window length.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Decides for one occurrence of `key` at `now` (pass `Instant::now()`; tests pass their
    /// own clock). An occurrence whose `now` lies before its window's start (clocks passed out
    /// of order by racing threads) counts as inside the window.
    pub fn check(&self, key: &K, now: Instant) -> Admit<K> {
        let mut windows = self.lock();
        let Some(window) = windows.get_mut(key) else {
            windows.insert(key.clone(), Window::open(now));
            return Admit::Log { repeated: None };
        };
        if now.saturating_duration_since(window.started) < self.interval {
            window.suppressed += 1;
            window.last = window.last.max(now);
            return Admit::Suppressed;
        }
        let repeated = window.repeated(key.clone(), self.interval);
        *window = Window::open(now);
        Admit::Log { repeated }
    }

    /// [`LogLimiter::check`], calling `log` when the occurrence is to be logged, with the
    /// previous window's summary when there is one:
    ///
    /// ```
    /// # use pipeline_core::log_limit::LogLimiter;
    /// # use std::time::{Duration, Instant};
    /// let limiter: LogLimiter = LogLimiter::new(Duration::from_secs(10));
    /// limiter.log(&"bad line", Instant::now(), |repeated| {
    ///     if let Some(repeated) = repeated {
    ///         eprintln!("{repeated}"); // tracing::warn!(repeated = repeated.count, "{repeated}")
    ///     }
    ///     eprintln!("skipping a bad line");
    /// });
    /// ```
    pub fn log(&self, key: &K, now: Instant, log: impl FnOnce(Option<Repeated<K>>)) {
        if let Admit::Log { repeated } = self.check(key, now) {
            log(repeated);
        }
    }

    /// The counts suppressed so far, for every key that has some (in key order); they are reset,
    /// while the windows stay, so the rate of full lines stays bounded. Call it when the
    /// component finishes, so the last window's count is reported too.
    pub fn flush(&self, now: Instant) -> Vec<Repeated<K>> {
        let mut windows = self.lock();
        let mut reports = Vec::new();
        for (key, window) in windows.iter_mut() {
            if let Some(repeated) = window.repeated(key.clone(), self.interval) {
                reports.push(repeated);
            }
            window.suppressed = 0;
        }
        // Windows that ended long ago carry nothing: keep the map to live keys.
        windows.retain(|_, window| now.saturating_duration_since(window.started) < self.interval);
        reports
    }

    /// The windows; a panic while holding the lock leaves them usable (counts are advisory).
    fn lock(&self) -> MutexGuard<'_, BTreeMap<K, Window>> {
        self.windows.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<K: Ord + Clone> Default for LogLimiter<K> {
    /// A limiter with the [`DEFAULT_INTERVAL`].
    fn default() -> LogLimiter<K> {
        LogLimiter::new(DEFAULT_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN: Duration = Duration::from_secs(10);

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// Feeds `occurrences` (key, seconds after t0) and writes down what the caller would log.
    fn transcript(limiter: &LogLimiter, occurrences: &[(&'static str, f64)]) -> Vec<String> {
        let t0 = Instant::now();
        let mut lines = Vec::new();
        for (key, at) in occurrences {
            limiter.log(key, t0 + secs(*at), |repeated| {
                if let Some(repeated) = repeated {
                    lines.push(repeated.to_string());
                }
                lines.push(format!("{key} at {at}"));
            });
        }
        lines
    }

    #[test]
    fn the_first_occurrence_is_logged_and_the_rest_of_the_window_counted() {
        let limiter = LogLimiter::new(TEN);
        let lines = transcript(
            &limiter,
            &[("bad", 0.0), ("bad", 1.0), ("bad", 2.5), ("bad", 9.9)],
        );
        assert_eq!(lines, ["bad at 0"]);
    }

    #[test]
    fn the_next_occurrence_after_the_window_reports_the_count_first() {
        let limiter = LogLimiter::new(TEN);
        let lines = transcript(
            &limiter,
            &[
                ("bad", 0.0),
                ("bad", 1.0),
                ("bad", 2.5),
                ("bad", 12.0),
                ("bad", 30.0),
            ],
        );
        assert_eq!(
            lines,
            [
                "bad at 0",
                "\"bad\" repeated 2 more times in 2.5s (logged at most once per 10s)",
                "bad at 12",
                // Nothing was suppressed in the second window: no summary.
                "bad at 30",
            ]
        );
    }

    #[test]
    fn keys_have_their_own_windows() {
        let limiter = LogLimiter::new(TEN);
        let lines = transcript(
            &limiter,
            &[
                ("a", 0.0),
                ("b", 0.5),
                ("a", 1.0),
                ("b", 2.0),
                ("b", 3.0),
                ("a", 11.0),
            ],
        );
        assert_eq!(
            lines,
            [
                "a at 0",
                "b at 0.5",
                "\"a\" repeated 1 more time in 1.0s (logged at most once per 10s)",
                "a at 11",
            ]
        );
        let pending: Vec<(&str, u64)> = limiter
            .flush(Instant::now())
            .iter()
            .map(|r| (r.key, r.count))
            .collect();
        assert_eq!(pending, [("b", 2)]);
    }

    #[test]
    fn flush_reports_every_pending_count_once_and_keeps_the_windows() {
        let limiter: LogLimiter = LogLimiter::new(TEN);
        let t0 = Instant::now();
        for at in [0.0, 0.1, 0.2, 0.3] {
            let _ = limiter.check(&"b", t0 + secs(at));
        }
        for at in [0.0, 0.5] {
            let _ = limiter.check(&"a", t0 + secs(at));
        }
        let reports = limiter.flush(t0 + secs(1.0));
        let summary: Vec<(&str, u64)> = reports.iter().map(|r| (r.key, r.count)).collect();
        assert_eq!(summary, [("a", 1), ("b", 3)]);
        assert!(limiter.flush(t0 + secs(1.0)).is_empty());
        // The window is still open: the next occurrence in it is counted, not logged.
        assert_eq!(limiter.check(&"a", t0 + secs(2.0)), Admit::Suppressed);
    }

    #[test]
    fn flush_forgets_windows_that_have_ended() {
        let limiter: LogLimiter = LogLimiter::new(TEN);
        let t0 = Instant::now();
        let _ = limiter.check(&"a", t0);
        let _ = limiter.check(&"a", t0 + secs(1.0));
        assert_eq!(limiter.flush(t0 + secs(60.0)).len(), 1);
        // A fresh window: logged in full, with no stale summary.
        assert_eq!(
            limiter.check(&"a", t0 + secs(61.0)),
            Admit::Log { repeated: None }
        );
    }

    #[test]
    fn a_zero_interval_logs_everything() {
        let limiter = LogLimiter::new(Duration::ZERO);
        let lines = transcript(&limiter, &[("a", 0.0), ("a", 0.0), ("a", 0.0)]);
        assert_eq!(lines, ["a at 0", "a at 0", "a at 0"]);
    }

    #[test]
    fn an_occurrence_stamped_before_its_window_counts_inside_it() {
        let limiter: LogLimiter = LogLimiter::new(TEN);
        let t0 = Instant::now() + TEN;
        let _ = limiter.check(&"a", t0);
        assert_eq!(limiter.check(&"a", t0 - secs(1.0)), Admit::Suppressed);
        let reports = limiter.flush(t0);
        assert_eq!(reports[0].span, Duration::ZERO);
        assert_eq!(
            reports[0].to_string(),
            "\"a\" repeated 1 more time in 0ms (logged at most once per 10s)"
        );
    }

    #[test]
    fn threads_share_one_count() {
        let limiter: LogLimiter = LogLimiter::new(Duration::from_secs(3600));
        let now = Instant::now();
        let logged = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        limiter.log(&"x", now, |_| {
                            logged.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        });
                    }
                });
            }
        });
        assert_eq!(logged.into_inner(), 1);
        assert_eq!(limiter.flush(now)[0].count, 3999);
    }

    #[test]
    fn string_keys_work_too() {
        let limiter: LogLimiter<String> = LogLimiter::default();
        let now = Instant::now();
        assert_eq!(
            limiter.check(&"kind".to_string(), now),
            Admit::Log { repeated: None }
        );
        assert_eq!(limiter.interval(), DEFAULT_INTERVAL);
    }
}
