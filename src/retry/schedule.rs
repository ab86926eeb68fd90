//! When a stored record's later attempts happen: `attempts` gaps doubling from the first and
//! summing to `window` (or an explicit `retry.schedule`), each jittered by ±20 %.
//!
//! A gap runs from the previous attempt that was actually made. Time a record spends waiting
//! while its stream's circuit is open does not spend its attempts: the attempt that fell due
//! meanwhile is made once the circuit closes (see [`super::circuit`]).

use std::time::Duration;

use rand::Rng;

/// Relative jitter applied to each gap of the schedule.
pub const SCHEDULE_JITTER: f64 = 0.2;

/// The gaps between a record's later attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    gaps: Vec<Duration>,
}

impl Schedule {
    /// `attempts` gaps doubling from the first, summing to `window` (9 over 4 h: 28.2 s, 56.4 s, ...).
    pub fn spread(attempts: u32, window: Duration) -> Schedule {
        let attempts = attempts.min(30);
        let units = (1u64 << attempts) - 1;
        let first = if units == 0 {
            Duration::ZERO
        } else {
            window.div_f64(units as f64)
        };
        let gaps = (0..attempts).map(|i| first * (1u32 << i)).collect();
        Schedule { gaps }
    }

    /// An explicit list of gaps (`retry.schedule`).
    pub fn explicit(gaps: Vec<Duration>) -> Schedule {
        Schedule { gaps }
    }

    /// How many attempts follow the first.
    pub fn attempts(&self) -> u32 {
        self.gaps.len() as u32
    }

    /// The un-jittered gaps.
    pub fn gaps(&self) -> &[Duration] {
        &self.gaps
    }

    /// The jittered wait after a record's `made`-th attempt failed, or `None` when no attempt
    /// is left (the record becomes a dead letter).
    pub fn next_gap(&self, made: u32, rng: &mut impl Rng) -> Option<Duration> {
        let gap = *self.gaps.get(made.checked_sub(1)? as usize)?;
        let factor = rng.gen_range(1.0 - SCHEDULE_JITTER..=1.0 + SCHEDULE_JITTER);
        Some(gap.mul_f64(factor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn nine_attempts_over_four_hours_double_and_sum_to_the_window() {
        let schedule = Schedule::spread(9, Duration::from_secs(4 * 3600));
        let gaps = schedule.gaps();
        assert_eq!(gaps.len(), 9);
        assert!((gaps[0].as_secs_f64() - 14400.0 / 511.0).abs() < 1e-6);
        for pair in gaps.windows(2) {
            assert!((pair[1].as_secs_f64() - 2.0 * pair[0].as_secs_f64()).abs() < 1e-6);
        }
        let total: Duration = gaps.iter().sum();
        assert!((total.as_secs_f64() - 14400.0).abs() < 1e-3);
    }

    #[test]
    fn each_gap_is_jittered_within_twenty_percent() {
        let schedule = Schedule::explicit(vec![Duration::from_secs(10)]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..500 {
            let gap = schedule.next_gap(1, &mut rng).unwrap_or_default();
            assert!(gap >= Duration::from_secs(8) && gap <= Duration::from_secs(12));
        }
        assert_eq!(schedule.next_gap(2, &mut rng), None);
        assert_eq!(schedule.next_gap(0, &mut rng), None);
    }
}
