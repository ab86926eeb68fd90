//! The `amplitude_http` source: an HTTP server speaking Amplitude's ingestion APIs
//! (`POST /2/httpapi`, `POST /batch`, `POST /identify`), answering with Amplitude's JSON bodies
//! and codes, and emitting each accepted request as one batch in the export format.
//!
//! Backpressure reaches the client: a request waits at most `backpressure_timeout` for room in
//! the pipeline and is answered 503 (safe to retry) otherwise; at most `max_in_flight_requests`
//! requests are held at once. With acknowledgements on, the 200 is sent only once every record
//! of the request is delivered or durably stored downstream.
//!
//! An event without `ip` (or with `"$remote"`) gets the client's address as `ip_address`. Behind a
//! reverse proxy the socket's peer is the proxy, so the first address of an `X-Forwarded-For`
//! header is taken instead when it parses as an IP address (the socket's otherwise). The header
//! is not checked against a list of trusted proxies: a client could as well send its own `ip`.
//!
//! Web pages on other origins may post here (Amplitude's browser SDK does): preflights are
//! answered and every answer carries the CORS headers ([`super::cors`]). With `[tls]` the source
//! serves HTTPS only ([`super::tls`]).
//!
//! Warnings that can come once per request or connection (a failed accept, a request whose
//! events were not delivered) are rate limited ([`pipeline_core::log_limit`]), so an outage
//! downstream does not turn into a log line per client request.

mod request;

use std::convert::Infallible;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use pipeline_core::log_limit::LogLimiter;
use pipeline_core::metrics_names::{error_type, stage, ComponentMetrics};
use pipeline_core::{BatchNotifier, BatchStatus, Event, EventArray};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Semaphore};

use super::client_limit::ClientLimit;
use super::cors::CorsConfig;
use super::tls::{ServerTls, TlsConfig};
use super::SourceContext;
use crate::topology::fanout::Fanout;
use request::{Endpoint, Rejection};

/// `[sources.ID]` with `type = "amplitude_http"`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AmplitudeHttpConfig {
    /// Where to listen, e.g. `127.0.0.1:8080`.
    pub address: SocketAddr,
    /// Accepted `api_key`s; empty accepts any key (clients must still send one).
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// The shortest accepted `user_id`/`device_id` unless a request's `options.min_id_length`
    /// says otherwise (Amplitude's default is 5).
    #[serde(default = "default_min_id_length")]
    pub min_id_length: usize,
    /// How long a request may wait for room in the pipeline before it is answered 503, in ms.
    #[serde(default = "default_backpressure_timeout_ms")]
    pub backpressure_timeout_ms: u64,
    /// Requests held at once (reading, waiting for room or for acknowledgement); more are
    /// answered 503 at once, so memory stays bounded.
    #[serde(default = "default_max_in_flight_requests")]
    pub max_in_flight_requests: usize,
    /// Which web pages may post here (any, by default, as Amplitude's endpoints).
    #[serde(default)]
    pub cors: CorsConfig,
    /// Requests per second allowed from one client address (burst as many); more are answered
    /// 429. Off when absent.
    #[serde(default)]
    pub client_requests_per_second: Option<u32>,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

fn default_min_id_length() -> usize {
    5
}

fn default_backpressure_timeout_ms() -> u64 {
    1000
}

fn default_max_in_flight_requests() -> usize {
    64
}

/// What every connection task shares.
struct Shared {
    config: AmplitudeHttpConfig,
    id: Arc<str>,
    out: Mutex<Fanout>,
    metrics: ComponentMetrics,
    acknowledgements: bool,
    in_flight: Semaphore,
    /// `client_requests_per_second`, when set.
    client_limit: Option<ClientLimit>,
    /// Rate limits the warnings, keyed by their messages.
    logs: LogLimiter,
    /// `[tls]`, loaded: every connection's handshake goes through it.
    tls: Option<ServerTls>,
}

/// The rate-limited warnings' messages (and keys).
const ACCEPT_FAILED: &str = "accept failed";
const NOT_DELIVERED: &str = "request's events not delivered";

impl Shared {
    /// Logs the counts of rate-limited warnings not logged yet.
    fn flush_logs(&self) {
        for repeated in self.logs.flush(Instant::now()) {
            tracing::warn!(component_id = %self.id, repeated = repeated.count, "{repeated}");
        }
    }
}

/// Listen on `config.address` and serve until `cx.shutdown` fires.
pub(super) async fn run(config: AmplitudeHttpConfig, cx: SourceContext) -> Result<(), ()> {
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
    config: AmplitudeHttpConfig,
    listener: TcpListener,
    cx: SourceContext,
) -> Result<(), ()> {
    let tls = ServerTls::for_source(config.tls.as_ref(), &cx.id)?;
    if let Ok(address) = listener.local_addr() {
        tracing::info!(component_id = %cx.id, %address, https = tls.is_some(), "Amplitude HTTP source listening");
    }
    let shutdown = cx.shutdown.clone();
    let shared = Arc::new(Shared {
        tls,
        in_flight: Semaphore::new(config.max_in_flight_requests.max(1)),
        client_limit: config.client_requests_per_second.map(ClientLimit::new),
        config,
        id: cx.id,
        out: Mutex::new(cx.out),
        metrics: cx.metrics,
        acknowledgements: cx.acknowledgements,
        logs: LogLimiter::default(),
    });
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    shared.logs.log(&ACCEPT_FAILED, Instant::now(), |repeated| {
                        if let Some(repeated) = repeated {
                            tracing::warn!(component_id = %shared.id, repeated = repeated.count, "{repeated}");
                        }
                        tracing::warn!(component_id = %shared.id, %error, "{ACCEPT_FAILED}");
                    });
                    continue;
                }
            },
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let Some(tls) = &shared.tls else {
                return serve_connection(shared, TokioIo::new(stream), peer).await;
            };
            if let Some(stream) = tls.accept(stream, peer).await {
                serve_connection(Arc::clone(&shared), TokioIo::new(stream), peer).await;
            }
        });
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

/// Serve one connection (HTTP/1.1 with keep-alive, or HTTP/2), plain or after its TLS handshake
/// (generic, so the plain path pays nothing for TLS).
async fn serve_connection<I>(shared: Arc<Shared>, io: I, peer: SocketAddr)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(&shared, request, peer).await) }
    });
    let served = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(io, service)
        .await;
    if let Err(error) = served {
        tracing::debug!(%error, "ingestion connection ended with an error");
    }
}

/// Answer one request.
async fn handle(
    shared: &Shared,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    if let Some(preflight) = shared.config.cors.preflight(&request) {
        return preflight;
    }
    let headers = request.headers().clone();
    let client = client_address(&headers, peer).ip();
    let throttled = shared
        .client_limit
        .as_ref()
        .is_some_and(|limit| !limit.admit(client, Instant::now()));
    let mut response = if throttled {
        throttled_reply()
    } else {
        match shared.in_flight.try_acquire() {
            Err(_) => busy(),
            Ok(_permit) => match ingest(shared, request, peer).await {
                Ok(body) => reply(StatusCode::OK, body),
                Err(response) => response,
            },
        }
    };
    shared.config.cors.apply(&headers, &mut response);
    response
}

async fn ingest(
    shared: &Shared,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Value, Response<Full<Bytes>>> {
    let endpoint = match (request.method(), request.uri().path()) {
        (&Method::POST, "/2/httpapi") => Endpoint::HttpApi,
        (&Method::POST, "/batch") => Endpoint::Batch,
        (&Method::POST, "/identify") => Endpoint::Identify,
        _ => return Err(rejected(shared, Rejection::InvalidPath)),
    };
    let client = client_address(request.headers(), peer);
    let gzip = request
        .headers()
        .get(hyper::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let limit = endpoint.max_body_bytes();
    let body = match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return Err(rejected(shared, Rejection::TooLarge))
        }
        Err(error) => {
            tracing::debug!(component_id = %shared.id, %error, "request body not read");
            return Err(rejected(shared, Rejection::MissingBody));
        }
    };
    let body = if gzip {
        gunzip(&body, limit).map_err(|rejection| rejected(shared, rejection))?
    } else {
        body.to_vec()
    };
    shared.metrics.received_bytes(body.len());
    let now = chrono::Utc::now();
    let parsed = request::parse(endpoint, &body, &shared.config, client, now)
        .map_err(|rejection| rejected(shared, rejection))?;
    let count = parsed.len();
    let events: Vec<Event> = parsed.into_iter().map(Event::new).collect();
    let event_bytes: usize = events.iter().map(Event::json_byte_size).sum();
    shared.metrics.received_events(count, event_bytes);
    emit(shared, events, event_bytes).await?;
    Ok(json!({
        "code": 200,
        "events_ingested": count,
        "payload_size_bytes": body.len(),
        "server_upload_time": now.timestamp_millis(),
    }))
}

/// Send `events` downstream as one batch; with acknowledgements, wait for their outcome.
async fn emit(
    shared: &Shared,
    events: Vec<Event>,
    event_bytes: usize,
) -> Result<(), Response<Full<Bytes>>> {
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
            return Err(unavailable("No downstream component is running"));
        }
        Err(_elapsed) => {
            shared.metrics.error(error_type::TIMED_OUT, stage::SENDING);
            shared.metrics.discarded(count, false);
            tracing::debug!(component_id = %shared.id, count, "pipeline full; answering 503");
            return Err(busy());
        }
    }
    let Some(receiver) = receiver else {
        return Ok(());
    };
    match receiver.await {
        BatchStatus::Delivered => Ok(()),
        status => {
            shared.logs.log(&NOT_DELIVERED, Instant::now(), |repeated| {
                if let Some(repeated) = repeated {
                    tracing::warn!(component_id = %shared.id, repeated = repeated.count, "{repeated}");
                }
                tracing::warn!(component_id = %shared.id, count, ?status, "{NOT_DELIVERED}");
            });
            let (code, error) = match status {
                BatchStatus::Rejected => (500, "Some events were rejected downstream"),
                _ => (500, "Some events could not be delivered downstream"),
            };
            Err(reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"code": code, "error": error}),
            ))
        }
    }
}

/// The client's address as events see it: the first address of `X-Forwarded-For` (set by a
/// reverse proxy) when it is a valid IP address, else the socket's peer. Only the IP is used
/// downstream; the port stays the peer's.
fn client_address(headers: &hyper::HeaderMap, peer: SocketAddr) -> SocketAddr {
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok())
        .and_then(|list| list.split(',').next())
        .and_then(|first| first.trim().parse::<IpAddr>().ok());
    match forwarded {
        Some(ip) => SocketAddr::new(ip, peer.port()),
        None => peer,
    }
}

/// Decompress a gzip body, refusing one that inflates past `limit`.
fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, Rejection> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(body).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|_| Rejection::InvalidJsonBody)?;
    if out.len() > limit {
        return Err(Rejection::TooLarge);
    }
    Ok(out)
}

fn rejected(shared: &Shared, rejection: Rejection) -> Response<Full<Bytes>> {
    tracing::debug!(component_id = %shared.id, ?rejection, "request refused");
    shared
        .metrics
        .error(error_type::PARSER_FAILED, stage::RECEIVING);
    reply(rejection.status(), rejection.body())
}

/// 429: this client sent more than `client_requests_per_second`; Amplitude's SDKs back off.
fn throttled_reply() -> Response<Full<Bytes>> {
    let mut response = reply(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"code": 429, "error": "Too many requests for this client"}),
    );
    response.headers_mut().insert(
        hyper::header::RETRY_AFTER,
        hyper::header::HeaderValue::from_static("1"),
    );
    response
}

/// 503: the pipeline cannot take the request now; Amplitude clients retry it.
fn busy() -> Response<Full<Bytes>> {
    unavailable("Server is busy, retry later")
}

fn unavailable(error: &str) -> Response<Full<Bytes>> {
    reply(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"code": 503, "error": error}),
    )
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_core::metrics_names::ComponentKind;
    use pipeline_core::EventStatus;
    use std::io::Write;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    struct Server {
        address: SocketAddr,
        batches: mpsc::Receiver<EventArray>,
        shutdown: CancellationToken,
    }

    async fn start(capacity: usize, acknowledgements: bool, timeout_ms: u64) -> Server {
        start_limited(capacity, acknowledgements, timeout_ms, None).await
    }

    /// [`start`] with a per-client request rate.
    async fn start_limited(
        capacity: usize,
        acknowledgements: bool,
        timeout_ms: u64,
        client_requests_per_second: Option<u32>,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (tx, batches) = mpsc::channel(capacity);
        let shutdown = CancellationToken::new();
        let cx = SourceContext {
            id: "amp".into(),
            out: Fanout::new(vec![("out".into(), tx)]),
            shutdown: shutdown.clone(),
            metrics: ComponentMetrics::new(ComponentKind::Source, "amp", "amplitude_http"),
            acknowledgements,
            logs: Default::default(),
        };
        let config = AmplitudeHttpConfig {
            address,
            api_keys: vec![],
            min_id_length: 5,
            backpressure_timeout_ms: timeout_ms,
            max_in_flight_requests: 8,
            cors: CorsConfig::default(),
            client_requests_per_second,
            tls: None,
        };
        tokio::spawn(serve(config, listener, cx));
        Server {
            address,
            batches,
            shutdown,
        }
    }

    /// POST `body` to `path` over a fresh connection; the status and the JSON body.
    async fn post(address: SocketAddr, path: &str, headers: &str, body: &[u8]) -> (u16, Value) {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // The server may answer (413) before reading everything; a failed write is fine then.
        let _ = stream.write_all(body).await;
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response).await;
        let text = String::from_utf8_lossy(&response);
        let status = text.split(' ').nth(1).unwrap().parse().unwrap();
        let body = text.split_once("\r\n\r\n").unwrap().1;
        (status, serde_json::from_str(body).unwrap())
    }

    fn events_body(n: usize) -> String {
        let events: Vec<Value> = (0..n)
            .map(|i| json!({"event_type": "click", "user_id": format!("user-{i}"), "insert_id": format!("i-{i}")}))
            .collect();
        json!({"api_key": "k", "events": events}).to_string()
    }

    /// Sends `request` as is over a fresh connection; the whole answer as text.
    async fn exchange(address: SocketAddr, request: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response).await;
        String::from_utf8_lossy(&response).to_lowercase()
    }

    #[tokio::test]
    async fn web_pages_get_their_preflight_answered_and_the_cors_headers() {
        let mut server = start(4, false, 1000).await;
        let preflight = exchange(
            server.address,
            "OPTIONS /2/httpapi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Origin: http://app.test\r\nAccess-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type\r\n\r\n",
        )
        .await;
        assert!(preflight.starts_with("http/1.1 204"), "{preflight}");
        assert!(preflight.contains("access-control-allow-origin: *"));
        assert!(preflight.contains("access-control-allow-methods: post, options"));
        assert!(preflight.contains("access-control-allow-headers: content-type"));

        let body = events_body(1);
        let post = exchange(
            server.address,
            &format!(
                "POST /2/httpapi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                 Origin: http://app.test\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
        .await;
        assert!(post.starts_with("http/1.1 200"), "{post}");
        assert!(post.contains("access-control-allow-origin: *"));
        assert_eq!(server.batches.recv().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_hundred_thousand_nested_arrays_are_refused_not_a_stack_overflow() {
        let mut server = start(4, false, 1000).await;
        let depth = 100_000;
        let body = format!(
            r#"{{"api_key":"k","events":[{{"event_type":"a","user_id":"user-1","event_properties":{{"deep":{}{}}}}}]}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let (status, reply) = post(server.address, "/2/httpapi", "", body.as_bytes()).await;
        assert_eq!(status, 400, "{reply}");
        // The source still serves.
        let (status, _) = post(server.address, "/2/httpapi", "", events_body(1).as_bytes()).await;
        assert_eq!(status, 200);
        assert_eq!(server.batches.recv().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_client_over_its_request_rate_gets_429_and_others_do_not() {
        let mut server = start_limited(16, false, 1000, Some(2)).await;
        let address = server.address;
        let body = events_body(1);
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(post(address, "/2/httpapi", "", body.as_bytes()).await.0);
        }
        assert_eq!(statuses, [200, 200, 429, 429]);
        // Another client (as a proxy's X-Forwarded-For says) has its own allowance.
        let other = "X-Forwarded-For: 203.0.113.9\r\n";
        assert_eq!(
            post(address, "/2/httpapi", other, body.as_bytes()).await.0,
            200
        );
        for _ in 0..3 {
            assert_eq!(server.batches.recv().await.unwrap().len(), 1);
        }
        server.shutdown.cancel();
    }

    #[tokio::test]
    async fn a_gzip_request_is_ingested_as_one_batch() {
        let mut server = start(4, false, 1000).await;
        let body = events_body(3);
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(body.as_bytes()).unwrap();
        let gz = encoder.finish().unwrap();
        let (status, reply) = post(
            server.address,
            "/2/httpapi",
            "Content-Encoding: gzip\r\n",
            &gz,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(reply["code"], 200);
        assert_eq!(reply["events_ingested"], 3);
        assert_eq!(reply["payload_size_bytes"], body.len());
        assert!(reply["server_upload_time"].as_i64().unwrap() > 1_600_000_000_000);
        let batch = server.batches.recv().await.unwrap();
        let ids: Vec<&str> = batch
            .iter()
            .map(|e| e.fields()["$insert_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["i-0", "i-1", "i-2"]);
        server.shutdown.cancel();
    }

    #[tokio::test]
    async fn the_first_x_forwarded_for_address_is_the_client_address() {
        let mut server = start(8, false, 1000).await;
        let body = json!({"api_key": "k", "events": [
            {"event_type": "none", "user_id": "user-1"},
            {"event_type": "remote", "user_id": "user-1", "ip": "$remote"},
            {"event_type": "given", "user_id": "user-1", "ip": "198.51.100.9"},
        ]})
        .to_string();
        let cases = [
            ("203.0.113.7, 10.0.0.1", "203.0.113.7"),
            ("  2001:db8::7 ,10.0.0.1", "2001:db8::7"),
            ("not-an-ip, 10.0.0.1", "127.0.0.1"),
            ("", "127.0.0.1"),
            ("203.0.113.7:4711", "127.0.0.1"),
        ];
        for (header, expected) in cases {
            let headers = format!("X-Forwarded-For: {header}\r\n");
            let (status, _) = post(server.address, "/2/httpapi", &headers, body.as_bytes()).await;
            assert_eq!(status, 200, "{header}");
            let batch = server.batches.recv().await.unwrap();
            let ips: Vec<&str> = batch
                .iter()
                .map(|e| e.fields()["ip_address"].as_str().unwrap())
                .collect();
            assert_eq!(ips, [expected, expected, "198.51.100.9"], "{header}");
        }
        let (status, _) = post(server.address, "/2/httpapi", "", body.as_bytes()).await;
        assert_eq!(status, 200);
        let batch = server.batches.recv().await.unwrap();
        assert_eq!(
            batch.iter().next().unwrap().fields()["ip_address"],
            "127.0.0.1"
        );
        server.shutdown.cancel();
    }

    #[tokio::test]
    async fn size_limits_differ_between_http_api_and_batch() {
        let mut server = start(4, false, 1000).await;
        let pad = "x".repeat(1024 * 1024);
        let body = json!({"api_key": "k", "events": [{"event_type": "big", "user_id": "user-1", "event_properties": {"pad": pad}}]}).to_string();
        let (status, reply) = post(server.address, "/2/httpapi", "", body.as_bytes()).await;
        assert_eq!(
            (status, reply),
            (413, json!({"code": 413, "error": "Payload too large"}))
        );
        let (status, reply) = post(server.address, "/batch", "", body.as_bytes()).await;
        assert_eq!(status, 200);
        assert_eq!(reply["events_ingested"], 1);
        assert_eq!(server.batches.recv().await.unwrap().len(), 1);
        let (status, reply) = post(server.address, "/3/nowhere", "", b"{}").await;
        assert_eq!(
            (status, reply),
            (400, json!({"code": 400, "error": "Invalid request path"}))
        );
    }

    #[tokio::test]
    async fn a_full_pipeline_answers_503_instead_of_buffering() {
        let mut server = start(1, false, 100).await;
        let (first, _) = post(server.address, "/2/httpapi", "", events_body(1).as_bytes()).await;
        assert_eq!(first, 200);
        // Nobody reads the channel (capacity 1): the next request cannot be handed on.
        let (status, reply) =
            post(server.address, "/2/httpapi", "", events_body(1).as_bytes()).await;
        assert_eq!(status, 503);
        assert_eq!(
            reply,
            json!({"code": 503, "error": "Server is busy, retry later"})
        );
        // Once the pipeline drains, requests are accepted again; the refused one never entered.
        assert_eq!(server.batches.recv().await.unwrap().len(), 1);
        let (status, _) = post(server.address, "/2/httpapi", "", events_body(2).as_bytes()).await;
        assert_eq!(status, 200);
        assert_eq!(server.batches.recv().await.unwrap().len(), 2);
        assert!(server.batches.try_recv().is_err());
    }

    #[tokio::test]
    async fn requests_beyond_the_in_flight_limit_are_refused_at_once() {
        let mut server = start(4, true, 1000).await;
        let address = server.address;
        let held: Vec<_> = (0..8)
            .map(|_| {
                tokio::spawn(async move {
                    post(address, "/2/httpapi", "", events_body(1).as_bytes()).await
                })
            })
            .collect();
        let mut batches = Vec::new();
        for _ in 0..8 {
            batches.push(server.batches.recv().await.unwrap());
        }
        // Eight requests wait for their acknowledgement: a ninth is not even read.
        let (status, reply) = post(address, "/2/httpapi", "", events_body(1).as_bytes()).await;
        assert_eq!((status, reply["code"].clone()), (503, json!(503)));
        drop(batches);
        for request in held {
            assert_eq!(request.await.unwrap().0, 200);
        }
    }

    #[tokio::test]
    async fn a_form_identify_is_emitted_as_an_identify_record() {
        let mut server = start(4, false, 1000).await;
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("api_key", "k")
            .append_pair(
                "identification",
                r#"{"user_id":"user-7","user_properties":{"plan":"pro"}}"#,
            )
            .finish();
        let (status, reply) = post(
            server.address,
            "/identify",
            "Content-Type: application/x-www-form-urlencoded\r\n",
            form.as_bytes(),
        )
        .await;
        assert_eq!((status, reply["events_ingested"].clone()), (200, json!(1)));
        let batch = server.batches.recv().await.unwrap();
        let record = batch.iter().next().unwrap().fields();
        assert_eq!(record["event_type"], "$identify");
        assert_eq!(record["user_id"], "user-7");
        assert_eq!(record["user_properties"]["plan"], "pro");
    }

    #[tokio::test]
    async fn shutdown_releases_the_outputs_even_with_idle_connections() {
        let mut server = start(4, false, 1000).await;
        // A keep-alive connection that made one request and stays open.
        let mut idle = tokio::net::TcpStream::connect(server.address)
            .await
            .unwrap();
        let body = events_body(1);
        let head = format!(
            "POST /2/httpapi HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        idle.write_all(head.as_bytes()).await.unwrap();
        idle.write_all(body.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        while !response.ends_with(b"}") {
            let mut chunk = [0u8; 1024];
            let n = idle.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed early");
            response.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(server.batches.recv().await.unwrap().len(), 1);
        server.shutdown.cancel();
        let ended = tokio::time::timeout(Duration::from_secs(5), server.batches.recv()).await;
        assert!(matches!(ended, Ok(None)), "the output channel stayed open");
        drop(idle);
    }

    #[tokio::test]
    async fn with_acknowledgements_the_answer_waits_for_the_outcome() {
        let mut server = start(4, true, 1000).await;
        let address = server.address;
        let request =
            tokio::spawn(
                async move { post(address, "/batch", "", events_body(2).as_bytes()).await },
            );
        let batch = server.batches.recv().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !request.is_finished(),
            "answered before the batch was acknowledged"
        );
        drop(batch);
        let (status, reply) = request.await.unwrap();
        assert_eq!((status, reply["events_ingested"].clone()), (200, json!(2)));

        let request =
            tokio::spawn(
                async move { post(address, "/batch", "", events_body(2).as_bytes()).await },
            );
        let batch = server.batches.recv().await.unwrap();
        batch
            .iter()
            .next()
            .unwrap()
            .metadata()
            .finalizers()
            .update_status(EventStatus::Rejected);
        drop(batch);
        let (status, reply) = request.await.unwrap();
        assert_eq!(
            (status, reply),
            (
                500,
                json!({"code": 500, "error": "Some events were rejected downstream"})
            )
        );
    }
}
