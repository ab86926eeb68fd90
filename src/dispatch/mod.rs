//! Dispatch: one payload in, one attempt's outcome out, on threads of their own.
//!
//! The stack reads top to bottom as the request's path (outermost first): optional rate limit
//! -> concurrency limit (fixed or adaptive) -> in-attempt retry ([`tries`]) -> per-try
//! measurement ([`measure`]) -> per-try timeout -> HTTP POST ([`http`], [`pool`]). The stack's
//! readiness is the sink's backpressure: a lane ([`lanes`]) awaits `ready()` (a free
//! concurrency permit) before it takes the next record.

pub mod adaptive;
pub mod connect;
pub mod http;
pub mod lanes;
pub mod measure;
pub mod network;
pub mod pool;
pub(crate) mod scheduling;
pub mod signing;
pub mod timeout;
pub mod tries;

use std::time::Duration;

use bytes::Bytes;
use tower::util::BoxService;
use tower::ServiceBuilder;

use crate::stream::Stream;
use crate::telemetry::HotCounts;

pub use self::http::{build_client, HttpClient, HttpService, Target};
pub use self::signing::{Signer, SigningSecret};
pub use self::tries::{AttemptPolicy, AttemptSettings};

/// One body to POST, with the bookkeeping the layers need.
#[derive(Debug, Clone)]
pub struct Payload {
    /// Stream the payload belongs to (metric label).
    pub stream: Stream,
    /// The exact bytes to send.
    pub body: Bytes,
    /// 1 for an attempt's first try; the retry policy increments it.
    pub try_number: u32,
}

impl Payload {
    /// A payload about to start a new attempt.
    pub fn new(stream: Stream, body: Bytes) -> Self {
        Payload {
            stream,
            body,
            try_number: 1,
        }
    }
}

/// The webhook's answer to one try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryResponse {
    /// HTTP status.
    pub status: ::http::StatusCode,
    /// `Retry-After`, when the answer carried one.
    pub retry_after: Option<Duration>,
    /// Which try of the attempt this was (1-based).
    pub try_number: u32,
}

/// A try that got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TryError {
    /// Connecting, sending or reading failed (refused, reset, TLS...).
    #[error("try {try_number}: {message}")]
    Transport {
        /// The error and its causes.
        message: String,
        /// Which try of the attempt this was.
        try_number: u32,
    },
    /// No answer within the per-try timeout.
    #[error("try {try_number}: no answer within {timeout:?}")]
    Timeout {
        /// The configured per-try timeout.
        timeout: Duration,
        /// Which try of the attempt this was.
        try_number: u32,
    },
}

impl TryError {
    /// Which try of the attempt failed.
    pub fn try_number(&self) -> u32 {
        match self {
            TryError::Transport { try_number, .. } | TryError::Timeout { try_number, .. } => {
                *try_number
            }
        }
    }
}

/// The result of one attempt: its last try's answer or error.
pub type AttemptResult = Result<TryResponse, TryError>;

/// The assembled stack; the sink drives it with `ready().await` + `call()`.
pub type DispatchService = BoxService<Payload, TryResponse, TryError>;

/// How many attempts may be in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// Exactly this many permits.
    Fixed(usize),
    /// Adaptive between 1 and this many.
    Adaptive(usize),
}

/// Everything the stack needs besides the client and target.
#[derive(Debug, Clone, PartialEq)]
pub struct StackSettings {
    /// Per-try timeout.
    pub timeout: Duration,
    /// In-flight attempt limit.
    pub concurrency: Concurrency,
    /// Attempts per second, 0 = unlimited.
    pub rate_limit: u64,
    /// The in-attempt retry policy.
    pub attempt: AttemptSettings,
}

/// Assembles the stack over `http`, measuring every try into `counts`.
pub fn build_stack(
    http: HttpService,
    settings: &StackSettings,
    counts: HotCounts,
) -> DispatchService {
    let rate_limit = (settings.rate_limit > 0)
        .then(|| tower::limit::RateLimitLayer::new(settings.rate_limit, Duration::from_secs(1)));
    let concurrency = match settings.concurrency {
        Concurrency::Fixed(n) => {
            tower::util::Either::Left(tower::limit::ConcurrencyLimitLayer::new(n.max(1)))
        }
        Concurrency::Adaptive(max) => {
            tower::util::Either::Right(adaptive::AdaptiveLimitLayer::new(max))
        }
    };
    let service = ServiceBuilder::new()
        .option_layer(rate_limit)
        .layer(concurrency)
        .layer(tower::retry::RetryLayer::new(AttemptPolicy::new(
            settings.attempt.clone(),
        )))
        .layer(measure::MeasureLayer::new(counts))
        .layer(timeout::PerTryTimeoutLayer::new(settings.timeout))
        .service(http);
    BoxService::new(service)
}
