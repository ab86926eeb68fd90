//! The two streams a sink sends: events and users.

use std::fmt;

/// Which stream a payload belongs to; it selects the template, the filter and the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The event stream (`[sinks.ID.events]`).
    Events,
    /// The user stream (`[sinks.ID.users]`).
    Users,
}

impl Stream {
    /// The label value and config table name: `events` or `users`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Events => "events",
            Stream::Users => "users",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
