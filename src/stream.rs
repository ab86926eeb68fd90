//! The two streams a sink sends: events and users.

use std::fmt;

/// Which stream a payload belongs to; it selects the template, the filter, the circuit and the
/// metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The event stream (`[sinks.ID.events]`).
    Events,
    /// The user stream (`[sinks.ID.users]`).
    Users,
}

impl Stream {
    /// Both streams, in index order.
    pub const ALL: [Stream; 2] = [Stream::Events, Stream::Users];

    /// The label value and config table name: `events` or `users`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Events => "events",
            Stream::Users => "users",
        }
    }

    /// The stream's position in per-stream arrays (`[T; 2]`).
    pub fn index(self) -> usize {
        match self {
            Stream::Events => 0,
            Stream::Users => 1,
        }
    }

    /// The stream named `name` (`events` or `users`).
    pub fn from_name(name: &str) -> Option<Stream> {
        match name {
            "events" => Some(Stream::Events),
            "users" => Some(Stream::Users),
            _ => None,
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of streams (which ones the retry store may hand out, for instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamSet([bool; 2]);

impl StreamSet {
    /// Both streams.
    pub const ALL: StreamSet = StreamSet([true, true]);

    /// No stream.
    pub const NONE: StreamSet = StreamSet([false, false]);

    /// Just `stream`.
    pub fn only(stream: Stream) -> StreamSet {
        StreamSet::NONE.with(stream)
    }

    /// This set plus `stream`.
    pub fn with(mut self, stream: Stream) -> StreamSet {
        self.0[stream.index()] = true;
        self
    }

    /// Whether `stream` is in the set.
    pub fn contains(self, stream: Stream) -> bool {
        self.0[stream.index()]
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self == StreamSet::NONE
    }

    /// The streams in the set, in index order.
    pub fn iter(self) -> impl Iterator<Item = Stream> {
        Stream::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}
