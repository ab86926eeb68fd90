//! An ordered parallel map: items read on one thread, worked on by several, their results handed
//! back in input order. `webhook-sink render` uses it to render NDJSON on every core while
//! printing outputs in the order of the input lines.
//!
//! Written by hand (about sixty lines of std channels) because the crates that do this (rayon's
//! `par_bridge` loses order; ordered-parallel-iterator crates are small and little used) would
//! add more than they save. Memory is bounded: at most `2 * workers` items and results are in
//! flight.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

/// Runs `read` on a thread of its own until it returns `None`, `work` on `workers` threads, and
/// `deliver` on the calling thread, in the order `read` produced the items. When `deliver`
/// breaks, reading and working stop.
pub fn ordered_map<I, O>(
    workers: usize,
    read: impl FnMut() -> Option<I> + Send,
    work: impl Fn(I) -> O + Sync,
    mut deliver: impl FnMut(O) -> ControlFlow<()>,
) where
    I: Send,
    O: Send,
{
    let workers = workers.max(1);
    let (item_tx, item_rx) = sync_channel::<(u64, I)>(workers * 2);
    let (result_tx, result_rx) = sync_channel::<(u64, O)>(workers * 2);
    let item_rx = Arc::new(Mutex::new(item_rx));
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut read = read;
            let mut seq = 0u64;
            while let Some(item) = read() {
                if item_tx.send((seq, item)).is_err() {
                    return;
                }
                seq += 1;
            }
        });
        // Owned here, so returning early drops them: the workers' sends fail, then the reader's.
        let (item_rx, result_rx) = (item_rx, result_rx);
        for _ in 0..workers {
            let item_rx = Arc::clone(&item_rx);
            let result_tx = result_tx.clone();
            let work = &work;
            scope.spawn(move || {
                while let Some((seq, item)) = next_item(&item_rx) {
                    if result_tx.send((seq, work(item))).is_err() {
                        return;
                    }
                }
            });
        }
        drop((result_tx, item_rx));
        let mut waiting = BTreeMap::new();
        let mut next = 0u64;
        for (seq, result) in result_rx.iter() {
            waiting.insert(seq, result);
            while let Some(result) = waiting.remove(&next) {
                next += 1;
                if deliver(result).is_break() {
                    // Dropping the receiver (by returning) stops the workers, then the reader.
                    return;
                }
            }
        }
    });
}

/// The next item for a worker; `None` once the reader is done (or a worker panicked).
fn next_item<I>(items: &Mutex<Receiver<(u64, I)>>) -> Option<(u64, I)> {
    items.lock().ok()?.recv().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_input_order() {
        let mut n = 0u64;
        let mut seen = Vec::new();
        ordered_map(
            3,
            || {
                n += 1;
                (n <= 1000).then_some(n)
            },
            |x| {
                // Uneven work, so results finish out of order.
                if x % 7 == 0 {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
                x * 2
            },
            |y| {
                seen.push(y);
                ControlFlow::Continue(())
            },
        );
        assert_eq!(seen, (1..=1000).map(|x| x * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_break_stops_reading() {
        let mut read = 0u64;
        let mut delivered = 0;
        ordered_map(
            2,
            || {
                read += 1;
                Some(read)
            },
            |x| x,
            |_| {
                delivered += 1;
                if delivered == 10 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        assert_eq!(delivered, 10);
    }
}
