//! A request-rate limit per client address, so one misbehaving client (a retry loop, a script)
//! cannot take the whole ingestion capacity from the others: each address has a token bucket of
//! `requests_per_second` tokens refilled continuously, with a burst of as many; a request finding
//! it empty is answered 429 (Amplitude's code for throttling, which its SDKs back off on).
//!
//! Buckets of addresses not seen for a minute are dropped once the table holds
//! [`PRUNE_AT`] addresses, so memory stays bounded under many clients.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses held before idle ones are pruned.
const PRUNE_AT: usize = 10_000;

/// How long an address may stay idle before its bucket may be dropped.
const IDLE: Duration = Duration::from_secs(60);

/// The buckets of every client address.
#[derive(Debug)]
pub(crate) struct ClientLimit {
    per_second: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl ClientLimit {
    /// `requests_per_second` for each client address (at least 1).
    pub(crate) fn new(requests_per_second: u32) -> ClientLimit {
        ClientLimit {
            per_second: f64::from(requests_per_second.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a request from `client` at `now` may go on (it takes a token if so).
    pub(crate) fn admit(&self, client: IpAddr, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= PRUNE_AT && !buckets.contains_key(&client) {
            buckets.retain(|_, bucket| now.saturating_duration_since(bucket.at) < IDLE);
        }
        let full = Bucket {
            tokens: self.per_second,
            at: now,
        };
        let bucket = buckets.entry(client).or_insert(full);
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.per_second);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_gets_its_burst_then_its_rate() {
        let limit = ClientLimit::new(3);
        let start = Instant::now();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let admitted = (0..5).filter(|_| limit.admit(a, start)).count();
        assert_eq!(admitted, 3, "the burst is one second's worth");
        assert!(limit.admit(b, start), "another client has its own bucket");
        assert!(!limit.admit(a, start + Duration::from_millis(100)));
        assert!(
            limit.admit(a, start + Duration::from_millis(400)),
            "refilled"
        );
        assert!(!limit.admit(a, start + Duration::from_millis(400)));
    }

    #[test]
    fn idle_clients_are_pruned_when_the_table_is_full() {
        let limit = ClientLimit::new(1);
        let start = Instant::now();
        for i in 0..PRUNE_AT as u32 {
            limit.admit(IpAddr::from(i.to_be_bytes()), start);
        }
        let later = start + IDLE + Duration::from_secs(1);
        assert!(limit.admit("10.9.9.9".parse().unwrap(), later));
        assert_eq!(limit.buckets.lock().unwrap().len(), 1);
    }
}
