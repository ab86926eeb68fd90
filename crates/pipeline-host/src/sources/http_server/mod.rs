//! The `http_server` source, as Vector's: senders that are not Amplitude SDKs (Vector's `http`
//! sink, Fluent Bit's `http` output, your own services) `POST` JSON records to one path, and each
//! request becomes one batch of events with the records' fields as given.
//!
//! A body is a JSON array of objects, one object, or NDJSON, gzip-compressed or not ([`decode`]
//! says how it tells them apart). A request is taken whole or not at all: one bad record refuses
//! it with 400 naming its line or element, so a sender can fix and resend it without duplicates.
//!
//! Backpressure reaches the sender as in `amplitude_http`: a request waits at most
//! `backpressure_timeout_ms` for room in the pipeline, at most `max_in_flight_requests` are held
//! at once, and either limit answers 503 with `Retry-After: 1`, which Vector and Fluent Bit
//! retry. With acknowledgements on, the 200 waits until every record of the request was
//! delivered or durably stored downstream. Warnings that can come once per request or connection
//! are rate limited ([`pipeline_core::log_limit`]). With `[tls]` the source serves HTTPS only
//! ([`super::tls`]).

mod auth;
mod decode;

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use pipeline_core::log_limit::LogLimiter;
use pipeline_core::metrics_names::{error_type, stage, ComponentMetrics};
use pipeline_core::{BatchNotifier, BatchStatus, ConfigError, Event, EventArray};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Semaphore};

use super::cors::CorsConfig;
use super::tls::{ServerTls, TlsConfig};
use super::SourceContext;
use crate::topology::fanout::Fanout;
pub use auth::{AuthConfig, AuthStrategy};
use decode::{DecodeError, Framing};

/// `[sources.ID]` with `type = "http_server"`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HttpServerConfig {
    /// Where to listen, e.g. `127.0.0.1:8080`.
    pub address: SocketAddr,
    /// The one path records are posted to; any other answers 404.
    #[serde(default = "default_path")]
    pub path: String,
    /// A bearer token requests must carry; none by default.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// The largest body taken, counted before and again after gzip decompression.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// How long a request may wait for room in the pipeline before it is answered 503, in ms.
    #[serde(default = "default_backpressure_timeout_ms")]
    pub backpressure_timeout_ms: u64,
    /// Requests held at once (reading, waiting for room or for acknowledgement); more are
    /// answered 503 at once, so memory stays bounded.
    #[serde(default = "default_max_in_flight_requests")]
    pub max_in_flight_requests: usize,
    /// Which web pages may post here (any, by default).
    #[serde(default)]
    pub cors: CorsConfig,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

fn default_path() -> String {
    "/".to_owned()
}

fn default_max_body_bytes() -> usize {
    10 * 1024 * 1024
}

fn default_backpressure_timeout_ms() -> u64 {
    1000
}

fn default_max_in_flight_requests() -> usize {
    64
}

impl HttpServerConfig {
    /// Checks what the types do not: a path starting with `/`, a token that is not empty, and
    /// limits of at least one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.path.starts_with('/') {
            return Err(ConfigError::new(
                "path",
                "expected a path starting with `/`",
            ));
        }
        if self.auth.as_ref().is_some_and(|auth| auth.token.is_empty()) {
            return Err(ConfigError::new("auth.token", "must not be empty"));
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::new("max_body_bytes", "expected at least 1"));
        }
        if self.max_in_flight_requests == 0 {
            return Err(ConfigError::new(
                "max_in_flight_requests",
                "expected at least 1",
            ));
        }
        Ok(())
    }
}

/// Why a request was not taken, and so its answer (one place maps refusals to statuses).
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("no such path; records are posted to {0}")]
    NotFound(String),
    #[error("method not allowed; records are posted with POST")]
    MethodNotAllowed,
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("body larger than {0} bytes (max_body_bytes)")]
    TooLarge(usize),
    #[error("unsupported Content-Encoding `{0}`; send gzip or none")]
    UnsupportedEncoding(String),
    #[error("body is not valid gzip: {0}")]
    BadGzip(std::io::Error),
    #[error("body not read: {0}")]
    Unread(String),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("too many requests in flight; retry later")]
    Busy,
    #[error("the pipeline is full; retry later")]
    Full,
    #[error("no downstream component is running")]
    Stopped,
    #[error("some records were rejected downstream")]
    Rejected,
    #[error("some records could not be delivered downstream")]
    NotDelivered,
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::NotFound(_) => StatusCode::NOT_FOUND,
            Refusal::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::Unauthorized => StatusCode::UNAUTHORIZED,
            Refusal::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::BadGzip(_) | Refusal::Unread(_) | Refusal::Decode(_) => {
                StatusCode::BAD_REQUEST
            }
            Refusal::Busy | Refusal::Full | Refusal::Stopped => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Rejected | Refusal::NotDelivered => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `component_errors_total` labels this refusal counts under, if any: undecodable
    /// content is a parser failure, a request refused for its form a request failure (Vector's
    /// words for its HTTP sources). Backpressure timeouts are counted where they happen.
    fn error_labels(&self) -> Option<(&'static str, &'static str)> {
        match self {
            Refusal::BadGzip(_) | Refusal::Decode(_) => {
                Some((error_type::PARSER_FAILED, stage::RECEIVING))
            }
            Refusal::Unread(_) => Some((error_type::READER_FAILED, stage::RECEIVING)),
            Refusal::NotFound(_)
            | Refusal::MethodNotAllowed
            | Refusal::Unauthorized
            | Refusal::TooLarge(_)
            | Refusal::UnsupportedEncoding(_) => {
                Some((error_type::REQUEST_FAILED, stage::RECEIVING))
            }
            Refusal::Busy
            | Refusal::Full
            | Refusal::Stopped
            | Refusal::Rejected
            | Refusal::NotDelivered => None,
        }
    }

    /// `{"error": "..."}` (plus `line` or `element` for a bad record) and the headers the
    /// status calls for.
    fn into_response(self) -> Response<Full<Bytes>> {
        let mut body = json!({"error": self.to_string()});
        if let Refusal::Decode(error) = &self {
            let (key, at) = error.location();
            body[key] = json!(at);
        }
        let mut response = reply(self.status(), &body);
        let headers = response.headers_mut();
        match self {
            Refusal::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
            }
            Refusal::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Refusal::Busy | Refusal::Full | Refusal::Stopped => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

const ALLOWED_METHODS: &str = "POST, OPTIONS";

/// The rate-limited warnings' messages (and keys).
const ACCEPT_FAILED: &str = "accept failed";
const NOT_DELIVERED: &str = "request's records not delivered";

/// What every connection task shares.
struct Shared {
    config: HttpServerConfig,
    id: Arc<str>,
    out: Mutex<Fanout>,
    metrics: ComponentMetrics,
    acknowledgements: bool,
    in_flight: Semaphore,
    /// Rate limits the warnings, keyed by their messages.
    logs: LogLimiter,
    /// `[tls]`, loaded: every connection's handshake goes through it.
    tls: Option<ServerTls>,
}

impl Shared {
    /// Logs `message` unless it was logged in the last window (then it is only counted).
    fn warn(&self, message: &'static str, detail: impl FnOnce()) {
        self.logs.log(&message, Instant::now(), |repeated| {
            if let Some(repeated) = repeated {
                tracing::warn!(component_id = %self.id, repeated = repeated.count, "{repeated}");
            }
            detail();
        });
    }

    /// Logs the counts of rate-limited warnings not logged yet.
    fn flush_logs(&self) {
        for repeated in self.logs.flush(Instant::now()) {
            tracing::warn!(component_id = %self.id, repeated = repeated.count, "{repeated}");
        }
    }

    fn refuse(&self, refusal: Refusal) -> Response<Full<Bytes>> {
        tracing::debug!(component_id = %self.id, %refusal, "request refused");
        if let Some((error_type, stage)) = refusal.error_labels() {
            self.metrics.error(error_type, stage);
        }
        refusal.into_response()
    }
}

/// Listen on `config.address` and serve until `cx.shutdown` fires.
pub(super) async fn run(config: HttpServerConfig, cx: SourceContext) -> Result<(), ()> {
    let listener = match TcpListener::bind(config.address).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(component_id = %cx.id, address = %config.address, %error, "cannot listen");
            return Err(());
        }
    };
    serve(config, listener, cx).await
}

/// Serve on an already bound `listener` (tests bind port 0 themselves).
pub(super) async fn serve(
    config: HttpServerConfig,
    listener: TcpListener,
    cx: SourceContext,
) -> Result<(), ()> {
    let tls = ServerTls::for_source(config.tls.as_ref(), &cx.id)?;
    if let Ok(address) = listener.local_addr() {
        tracing::info!(component_id = %cx.id, %address, path = %config.path, https = tls.is_some(), "HTTP server source listening");
    }
    let shutdown = cx.shutdown.clone();
    let shared = Arc::new(Shared {
        tls,
        in_flight: Semaphore::new(config.max_in_flight_requests.max(1)),
        config,
        id: cx.id,
        out: Mutex::new(cx.out),
        metrics: cx.metrics,
        acknowledgements: cx.acknowledgements,
        logs: LogLimiter::default(),
    });
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => spawn_connection(Arc::clone(&shared), stream, peer),
            Err(error) => shared.warn(ACCEPT_FAILED, || {
                tracing::warn!(component_id = %shared.id, %error, "{ACCEPT_FAILED}");
            }),
        }
    }
    // Connections may outlive the listener (keep-alive): let go of the outputs now so the
    // pipeline downstream sees its input end; later requests are answered 503.
    *shared.out.lock().await = Fanout::new(Vec::new());
    shared.flush_logs();
    if let Some(tls) = &shared.tls {
        tls.flush_logs();
    }
    Ok(())
}

/// Serve one connection (HTTP/1.1 with keep-alive, or HTTP/2) on its own task, after its TLS
/// handshake when the source has `[tls]`.
fn spawn_connection(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    // Answers are small and leave in one write; Nagle would hold them for the client's ACK.
    let _ = stream.set_nodelay(true);
    tokio::spawn(async move {
        let Some(tls) = &shared.tls else {
            return serve_connection(shared, TokioIo::new(stream)).await;
        };
        if let Some(stream) = tls.accept(stream, peer).await {
            serve_connection(Arc::clone(&shared), TokioIo::new(stream)).await;
        }
    });
}

/// Serve one connection's requests over `io`, plain TCP or TLS (generic, so the plain path
/// pays nothing for TLS).
async fn serve_connection<I>(shared: Arc<Shared>, io: I)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(&shared, request).await) }
    });
    let served = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(io, service)
        .await;
    if let Err(error) = served {
        tracing::debug!(%error, "HTTP source connection ended with an error");
    }
}

/// Answer one request: a CORS preflight, a refusal, or `{"accepted": N}`.
async fn handle(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if let Some(preflight) = shared.config.cors.preflight(&request) {
        return preflight;
    }
    let headers = request.headers().clone();
    let mut response = match check(&shared.config, &request) {
        Err(refusal) => shared.refuse(refusal),
        Ok(Method::OPTIONS) => allowed_methods(),
        Ok(_) => match shared.in_flight.try_acquire() {
            Err(_) => shared.refuse(Refusal::Busy),
            Ok(_permit) => match ingest(shared, request).await {
                Ok(count) => reply(StatusCode::OK, &json!({ "accepted": count })),
                Err(refusal) => shared.refuse(refusal),
            },
        },
    };
    shared.config.cors.apply(&headers, &mut response);
    response
}

/// What the head alone decides: the path, the method (`POST`, or a plain `OPTIONS`) and the
/// token. Returns the method to serve.
fn check<B>(config: &HttpServerConfig, request: &Request<B>) -> Result<Method, Refusal> {
    if request.uri().path() != config.path {
        return Err(Refusal::NotFound(config.path.clone()));
    }
    match *request.method() {
        Method::OPTIONS => return Ok(Method::OPTIONS),
        Method::POST => {}
        _ => return Err(Refusal::MethodNotAllowed),
    }
    match &config.auth {
        Some(auth) if !auth.admits(request.headers()) => Err(Refusal::Unauthorized),
        _ => Ok(Method::POST),
    }
}

/// Read, decode and emit one request's records; the count accepted.
async fn ingest(shared: &Shared, request: Request<Incoming>) -> Result<usize, Refusal> {
    let framing = Framing::of(request.headers().get(header::CONTENT_TYPE));
    let gzip = is_gzip(request.headers())?;
    let limit = shared.config.max_body_bytes;
    let body = read_body(request, limit).await?;
    let body = if gzip { gunzip(&body, limit)? } else { body };
    shared.metrics.received_bytes(body.len());
    let events: Vec<Event> = decode::records(&body, framing)?
        .into_iter()
        .map(Event::new)
        .collect();
    let count = events.len();
    let event_bytes: usize = events.iter().map(Event::json_byte_size).sum();
    shared.metrics.received_events(count, event_bytes);
    emit(shared, events, event_bytes).await?;
    Ok(count)
}

/// Whether the body is gzip (`Content-Encoding: gzip`); refuses encodings we cannot undo.
fn is_gzip(headers: &HeaderMap) -> Result<bool, Refusal> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(false);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text.eq_ignore_ascii_case("gzip") || text.eq_ignore_ascii_case("x-gzip") {
        Ok(true)
    } else if text.is_empty() || text.eq_ignore_ascii_case("identity") {
        Ok(false)
    } else {
        Err(Refusal::UnsupportedEncoding(
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        ))
    }
}

/// The whole body, refusing one longer than `limit` (by its `Content-Length` before reading,
/// or as it arrives).
async fn read_body(request: Request<Incoming>, limit: usize) -> Result<Bytes, Refusal> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(Refusal::TooLarge(limit));
    }
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(Refusal::TooLarge(limit))
        }
        Err(error) => Err(Refusal::Unread(error.to_string())),
    }
}

/// Decompress a gzip body, refusing one that inflates past `limit`.
fn gunzip(body: &[u8], limit: usize) -> Result<Bytes, Refusal> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(Refusal::BadGzip)?;
    if out.len() > limit {
        return Err(Refusal::TooLarge(limit));
    }
    Ok(Bytes::from(out))
}

/// Send `events` downstream as one batch within the backpressure timeout; with
/// acknowledgements, wait for their outcome.
async fn emit(shared: &Shared, events: Vec<Event>, event_bytes: usize) -> Result<(), Refusal> {
    let count = events.len();
    if count == 0 {
        return Ok(());
    }
    let (notifier, receiver) = if shared.acknowledgements {
        let (notifier, receiver) = BatchNotifier::new_with_receiver();
        (Some(notifier), Some(receiver))
    } else {
        (None, None)
    };
    let batch: EventArray = events
        .into_iter()
        .map(|event| {
            let event = event.with_source_id(Arc::clone(&shared.id));
            match &notifier {
                Some(notifier) => event.with_batch_notifier(notifier),
                None => event,
            }
        })
        .collect();
    drop(notifier);
    let wait = Duration::from_millis(shared.config.backpressure_timeout_ms);
    let sent = tokio::time::timeout(wait, async {
        let mut out = shared.out.lock().await;
        out.send(batch).await
    })
    .await;
    match sent {
        Ok(true) => shared.metrics.sent_events(count, event_bytes),
        Ok(false) => {
            shared.metrics.discarded(count, false);
            return Err(Refusal::Stopped);
        }
        Err(_elapsed) => {
            shared.metrics.error(error_type::TIMED_OUT, stage::SENDING);
            shared.metrics.discarded(count, false);
            return Err(Refusal::Full);
        }
    }
    let Some(receiver) = receiver else {
        return Ok(());
    };
    match receiver.await {
        BatchStatus::Delivered => Ok(()),
        status => {
            shared.warn(NOT_DELIVERED, || {
                tracing::warn!(component_id = %shared.id, count, ?status, "{NOT_DELIVERED}");
            });
            Err(match status {
                BatchStatus::Rejected => Refusal::Rejected,
                _ => Refusal::NotDelivered,
            })
        }
    }
}

/// 204 to a plain `OPTIONS`: what may be sent here.
fn allowed_methods() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
    response
}

fn reply(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_core::deserialize_table;

    fn parse(text: &str) -> Result<HttpServerConfig, ConfigError> {
        let config: HttpServerConfig = deserialize_table(text.parse().expect("test TOML"))?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn defaults_are_vectors_and_amplitude_https() {
        let config = parse("address = \"127.0.0.1:8080\"").unwrap();
        assert_eq!(config.path, "/");
        assert_eq!(config.auth, None);
        assert_eq!(config.max_body_bytes, 10 * 1024 * 1024);
        assert_eq!(config.backpressure_timeout_ms, 1000);
        assert_eq!(config.max_in_flight_requests, 64);
        assert_eq!(config.cors, CorsConfig::default());
        assert_eq!(config.tls, None);
        let config = parse(
            "address = \"127.0.0.1:8080\"\npath = \"/events\"\nauth = { strategy = \"bearer\", token = \"t\" }",
        )
        .unwrap();
        assert_eq!(config.path, "/events");
        assert_eq!(
            config.auth.map(|auth| (auth.strategy, auth.token)),
            Some((AuthStrategy::Bearer, "t".to_owned()))
        );
    }

    #[test]
    fn errors_name_the_key() {
        let base = "address = \"127.0.0.1:8080\"\n";
        let cases = [
            ("", "", "missing field `address`"),
            ("pth = \"/\"", "pth", "unknown field"),
            ("path = \"events\"", "path", "starting with `/`"),
            (
                "auth = { strategy = \"basic\", token = \"t\" }",
                "auth.strategy",
                "unknown variant",
            ),
            (
                "auth = { strategy = \"bearer\" }",
                "auth",
                "missing field `token`",
            ),
            (
                "auth = { strategy = \"bearer\", token = \"\" }",
                "auth.token",
                "must not be empty",
            ),
            (
                "auth = { strategy = \"bearer\", token = \"t\", user = \"u\" }",
                "auth.user",
                "unknown field",
            ),
            ("max_body_bytes = 0", "max_body_bytes", "at least 1"),
            (
                "max_in_flight_requests = 0",
                "max_in_flight_requests",
                "at least 1",
            ),
            ("cors = { origins = [] }", "cors.origins", "unknown field"),
            (
                "tls = { cert_file = \"c.pem\" }",
                "tls",
                "missing field `key_file`",
            ),
        ];
        for (line, path, reason) in cases {
            let text = if line.is_empty() {
                String::new()
            } else {
                format!("{base}{line}")
            };
            let error = parse(&text).expect_err(line);
            assert_eq!(error.path, path, "{line}: {error}");
            assert!(error.message.contains(reason), "{line}: {error}");
        }
    }

    #[test]
    fn the_head_decides_path_method_and_token_before_the_body_is_read() {
        let config = parse(
            "address = \"127.0.0.1:8080\"\npath = \"/in\"\nauth = { strategy = \"bearer\", token = \"t\" }",
        )
        .unwrap();
        let request = |method: Method, path: &str, token: Option<&str>| {
            let mut builder = Request::builder().method(method).uri(path);
            if let Some(token) = token {
                builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            builder.body(()).unwrap()
        };
        let status = |request: Request<()>| match check(&config, &request) {
            Ok(method) => method.to_string(),
            Err(refusal) => refusal.status().as_u16().to_string(),
        };
        assert_eq!(status(request(Method::POST, "/in", Some("t"))), "POST");
        assert_eq!(status(request(Method::POST, "/in", Some("x"))), "401");
        assert_eq!(status(request(Method::POST, "/in", None)), "401");
        assert_eq!(status(request(Method::POST, "/in/", Some("t"))), "404");
        assert_eq!(status(request(Method::GET, "/in", Some("t"))), "405");
        assert_eq!(status(request(Method::OPTIONS, "/in", None)), "OPTIONS");
    }

    #[test]
    fn refusals_carry_the_headers_their_status_calls_for() {
        let busy = Refusal::Busy.into_response();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
        let unauthorized = Refusal::Unauthorized.into_response();
        assert_eq!(unauthorized.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let method = Refusal::MethodNotAllowed.into_response();
        assert_eq!(method.headers()[header::ALLOW], "POST, OPTIONS");
    }

    #[test]
    fn a_gzip_bomb_is_refused_as_too_large() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![b' '; 100_000]).unwrap();
        let compressed = encoder.finish().unwrap();
        assert!(compressed.len() < 1000);
        assert!(matches!(
            gunzip(&compressed, 1000),
            Err(Refusal::TooLarge(1000))
        ));
        assert_eq!(gunzip(&compressed, 100_000).unwrap().len(), 100_000);
        assert!(matches!(
            gunzip(b"not gzip", 1000),
            Err(Refusal::BadGzip(_))
        ));
    }
}
