//! Placeholder.

pub(crate) mod format;
pub(crate) mod number;
