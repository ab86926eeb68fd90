//! The records the store thread has handed to the sink, kept in memory rather than in the file.
//!
//! Leasing a record writes nothing: a crash voids every lease, which is what the next start
//! needs anyway (the record is due again). Leases are taken in due order, so each stream keeps
//! a cursor, the position (due time, id) of the last record leased: everything before it is
//! leased, and the next lease reads on from there without stepping over the records in flight.
//! A record given back or moved earlier opens a hole before the cursor; then the cursor is
//! dropped and the next lease reads from the start, skipping what is leased (and so once a
//! second, in case a clock step or another process put a record behind the cursor).

use std::collections::HashMap;

use crate::stream::Stream;

/// A position in a stream's due order: (due time in Unix ms, id).
pub type Position = (i64, i64);

/// The leases of one store.
#[derive(Debug, Default)]
pub struct Leases {
    /// Leased records: their stream and position when leased.
    leased: HashMap<i64, (Stream, Position)>,
    /// Per stream, the position up to which every record is leased, when known.
    cursors: [Option<Position>; 2],
    /// Per stream, how many records are leased.
    counts: [usize; 2],
}

impl Leases {
    /// Where the next lease of `stream` reads on from (`None`: from the start).
    pub fn cursor(&self, stream: Stream) -> Option<Position> {
        self.cursors[stream.index()]
    }

    /// How many records of `stream` are leased (what a read from the start may have to skip).
    pub fn count(&self, stream: Stream) -> usize {
        self.counts[stream.index()]
    }

    /// Whether record `id` is leased.
    pub fn contains(&self, id: i64) -> bool {
        self.leased.contains_key(&id)
    }

    /// Records leasing `id` at `position`.
    pub fn add(&mut self, stream: Stream, id: i64, position: Position) {
        if self.leased.insert(id, (stream, position)).is_none() {
            self.counts[stream.index()] += 1;
        }
    }

    /// After a lease of `stream` that read from the start: every leased record is before the
    /// furthest of them, which becomes the cursor.
    pub fn settle_cursor(&mut self, stream: Stream, read_up_to: Option<Position>) {
        let furthest = self
            .leased
            .values()
            .filter(|(s, _)| *s == stream)
            .map(|(_, position)| *position)
            .chain(read_up_to)
            .max();
        self.cursors[stream.index()] = furthest;
    }

    /// Moves the cursor of `stream` on to `position` (a lease that read on from it).
    pub fn advance(&mut self, stream: Stream, position: Position) {
        let cursor = &mut self.cursors[stream.index()];
        *cursor = Some(cursor.map_or(position, |c| c.max(position)));
    }

    /// The attempt of record `id` ended (delivered, failed and rescheduled later, given back).
    pub fn end(&mut self, id: i64) -> Option<Stream> {
        let (stream, _) = self.leased.remove(&id)?;
        self.counts[stream.index()] -= 1;
        Some(stream)
    }

    /// Forgets where `stream`'s cursor was: a record may now wait before it.
    pub fn reset(&mut self, stream: Stream) {
        self.cursors[stream.index()] = None;
    }

    /// Forgets both cursors.
    pub fn reset_all(&mut self) {
        self.cursors = [None, None];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_follows_the_furthest_lease_and_counts_follow_the_leases() {
        let mut leases = Leases::default();
        assert_eq!(leases.cursor(Stream::Events), None);
        leases.add(Stream::Events, 1, (10, 1));
        leases.add(Stream::Events, 5, (30, 5));
        leases.add(Stream::Users, 2, (99, 2));
        leases.settle_cursor(Stream::Events, Some((20, 3)));
        assert_eq!(leases.cursor(Stream::Events), Some((30, 5)));
        assert_eq!(leases.count(Stream::Events), 2);
        leases.advance(Stream::Events, (25, 9));
        assert_eq!(
            leases.cursor(Stream::Events),
            Some((30, 5)),
            "never backwards"
        );
        leases.advance(Stream::Events, (40, 7));
        assert_eq!(leases.cursor(Stream::Events), Some((40, 7)));

        assert_eq!(leases.end(1), Some(Stream::Events));
        assert_eq!(leases.end(1), None);
        assert_eq!(leases.count(Stream::Events), 1);
        assert!(leases.contains(5) && !leases.contains(1));
        leases.reset(Stream::Events);
        assert_eq!(leases.cursor(Stream::Events), None);
        assert_eq!(leases.cursor(Stream::Users), None, "never set");
    }
}
