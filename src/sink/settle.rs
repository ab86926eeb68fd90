//! Settlement: the one place where what became of a record turns into its acknowledgement and
//! its counts.
//!
//! Every path a record can take ends here: filtered out, template failed, delivered, stored in
//! the retry store (after a failed attempt, or absorbed without one), refused by a full store,
//! dead-lettered. The finalizer status follows the design's rules: Delivered once the webhook
//! answered 2xx or the record is committed to the store; Rejected when it can never be sent;
//! Errored when the store failed or was full and dropping. An event whose user record was
//! produced shares its finalizers with it, so it is acknowledged when both are (worst wins).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use pipeline_core::log_limit::LogLimiter;
use pipeline_core::{EventFinalizers, EventStatus};

use crate::prepare::RenderError;
use crate::retry::TierError;
use crate::stream::Stream;
use crate::telemetry::{AbsorbReason, HotCounts, Outcome, SinkError, SinkMetrics};

/// Acknowledges and counts records; one per sink (clones share its logs' rate limits).
#[derive(Clone)]
pub(crate) struct Ledger {
    metrics: Arc<SinkMetrics>,
    /// A bad template fails every record and a full store drops every one: their lines are
    /// rate limited, keyed by message.
    logs: Arc<LogLimiter>,
}

const NOT_RENDERED: &str = "payload not rendered; record rejected";
const NOT_STORED: &str = "record not stored";
const STORE_FULL: &str = "the retry store is full; record dropped";
const NOT_RECORDED: &str = "the retry store failed to record an attempt";
const DEAD_LETTERED: &str = "attempts spent; record moved to the dead letters";

impl Ledger {
    /// A ledger counting into `metrics`.
    pub(crate) fn new(metrics: Arc<SinkMetrics>) -> Ledger {
        Ledger {
            metrics,
            logs: Arc::new(LogLimiter::default()),
        }
    }

    /// The same ledger counting into a lane's own handle on the metrics.
    pub(crate) fn for_lane(&self, metrics: Arc<SinkMetrics>) -> Ledger {
        Ledger {
            metrics,
            ..self.clone()
        }
    }

    /// A record yielded no payload (filtered out, or a `$groupidentify`): its finalizers are
    /// dropped untouched, so it ends as intentionally dropped.
    pub(crate) fn filtered(&self, finalizers: EventFinalizers) {
        self.metrics.filtered();
        drop(finalizers);
    }

    /// A payload's template failed: the record can never be sent.
    pub(crate) fn render_failed(
        &self,
        stream: Stream,
        finalizers: &EventFinalizers,
        error: &RenderError,
    ) {
        self.metrics.error(SinkError::TemplateFailed);
        self.metrics.stream(stream).delivery(Outcome::Discarded);
        finalizers.update_status(EventStatus::Rejected);
        self.logs.log(&NOT_RENDERED, Instant::now(), |repeated| {
            if let Some(repeated) = repeated {
                tracing::error!(repeated = repeated.count, "{repeated}");
            }
            tracing::error!(%error, %stream, "{NOT_RENDERED}");
        });
    }

    /// The webhook answered 2xx.
    pub(crate) fn delivered(
        &self,
        counts: &HotCounts,
        delivery: Delivery,
        finalizers: Option<&EventFinalizers>,
    ) {
        let latency = delivery.received_at.elapsed().ok().map(|l| l.as_secs_f64());
        counts.delivered(delivery.stream, delivery.bytes, latency, delivery.outcome);
        if let Some(finalizers) = finalizers {
            finalizers.update_status(EventStatus::Delivered);
        }
    }

    /// An attempt failed (the record goes to the store, or on in it).
    pub(crate) fn attempt_failed(&self) {
        self.metrics.error(SinkError::RequestFailed);
    }

    /// The record is committed to the retry store: it is the store's now.
    pub(crate) fn stored(&self, finalizers: &EventFinalizers) {
        finalizers.update_status(EventStatus::Delivered);
    }

    /// `records` of `stream` went to the store without an attempt.
    pub(crate) fn absorbed(&self, stream: Stream, reason: AbsorbReason, records: u64) {
        self.metrics.stream(stream).absorbed(reason, records);
    }

    /// The store did not take the record: it was full and drops the newest, or it failed.
    pub(crate) fn store_refused(
        &self,
        stream: Stream,
        error: &TierError,
        finalizers: Option<&EventFinalizers>,
    ) {
        match error {
            TierError::Full { .. } => self.dropped(stream, finalizers),
            TierError::Store(_) => {
                self.metrics.error(SinkError::StoreFailed);
                self.logs.log(&NOT_STORED, Instant::now(), |repeated| {
                    if let Some(repeated) = repeated {
                        tracing::error!(repeated = repeated.count, "{repeated}");
                    }
                    tracing::error!(%error, %stream, "{NOT_STORED}");
                });
                if let Some(finalizers) = finalizers {
                    finalizers.update_status(EventStatus::Errored);
                }
            }
        }
    }

    /// The store was full and drops the newest (`store.when_full = "drop_newest"`): the record
    /// is lost.
    pub(crate) fn dropped(&self, stream: Stream, finalizers: Option<&EventFinalizers>) {
        self.metrics.stream(stream).delivery(Outcome::Discarded);
        self.metrics.lost(1);
        self.logs.log(&STORE_FULL, Instant::now(), |repeated| {
            if let Some(repeated) = repeated {
                tracing::warn!(repeated = repeated.count, "{repeated}");
            }
            tracing::warn!(%stream, "{STORE_FULL}");
        });
        if let Some(finalizers) = finalizers {
            finalizers.update_status(EventStatus::Errored);
        }
    }

    /// The store failed to record the outcome of a stored record's attempt (the record stays
    /// leased until the next start, when it is attempted again).
    pub(crate) fn store_failed(&self, stream: Stream, error: &TierError) {
        self.metrics.error(SinkError::StoreFailed);
        self.logs.log(&NOT_RECORDED, Instant::now(), |repeated| {
            if let Some(repeated) = repeated {
                tracing::error!(repeated = repeated.count, "{repeated}");
            }
            tracing::error!(%error, %stream, "{NOT_RECORDED}");
        });
    }

    /// A record's attempts are spent: it is a dead letter now.
    pub(crate) fn dead_lettered(&self, stream: Stream, attempts: u32, last_error: &str) {
        self.metrics.stream(stream).delivery(Outcome::Expired);
        self.metrics.error(SinkError::DeliveryExpired);
        self.logs.log(&DEAD_LETTERED, Instant::now(), |repeated| {
            if let Some(repeated) = repeated {
                tracing::warn!(repeated = repeated.count, "{repeated}");
            }
            tracing::warn!(%stream, attempts, last_error, "{DEAD_LETTERED}");
        });
    }

    /// Logs what the rate limit held back, when the sink stops.
    pub(crate) fn flush_logs(&self) {
        for repeated in self.logs.flush(Instant::now()) {
            tracing::warn!(repeated = repeated.count, "{repeated}");
        }
    }
}

/// What a delivery is counted by.
pub(crate) struct Delivery {
    /// The payload's stream.
    pub(crate) stream: Stream,
    /// Its body's length.
    pub(crate) bytes: u64,
    /// When its record entered the pipeline.
    pub(crate) received_at: SystemTime,
    /// First attempt or after a retry.
    pub(crate) outcome: Outcome,
}
