//! A small webhook receiver on loopback: records what arrives and answers as scripted.
//!
//! The `demo` command sends to it, the throughput harness measures against it, and the integration
//! tests use its scripted replies (status sequences, `Retry-After`, hanging, dropped connections)
//! to exercise the dispatch stack's fault handling against a real HTTP server.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

/// How the receiver answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answer with this status and an empty JSON body.
    Status(u16),
    /// Answer with this status and a `Retry-After` header carrying the given value.
    RetryAfter(u16, String),
    /// Wait this long, then answer 200.
    Delay(Duration),
    /// Do not answer until [`Receiver::release`] is called, then answer 200.
    Hang,
    /// Close the connection without answering.
    Drop,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// When the request's head arrived.
    pub at: Instant,
    /// Request path and query.
    pub path: String,
    /// Request headers as sent.
    pub headers: HeaderMap,
    /// Request body, byte for byte.
    pub body: Bytes,
    /// Which TCP connection carried it (counts from 0 in accept order).
    pub connection: u64,
}

/// What the receiver keeps between requests.
struct State {
    script: Mutex<VecDeque<Reply>>,
    default_reply: Mutex<Reply>,
    record_bodies: bool,
    received: Mutex<Vec<Received>>,
    count: AtomicU64,
    /// Answer every n-th request (0 = none) with `fail_status`.
    fail_every: AtomicU64,
    fail_status: AtomicU64,
    failures: AtomicU64,
    /// Bodies already failed on purpose: each payload is failed at most once.
    failed_bodies: Mutex<std::collections::HashSet<Bytes>>,
    arrived: Notify,
    released: watch::Sender<bool>,
}

impl State {
    fn next_reply(&self) -> Reply {
        let mut script = lock(&self.script);
        match script.pop_front() {
            Some(reply) => reply,
            None => lock(&self.default_reply).clone(),
        }
    }
}

/// Locks a mutex, recovering the data if a panicking holder poisoned it (the data stays usable).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running receiver; it stops when this value is dropped.
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<State>,
    _stop: watch::Sender<()>,
}

impl Receiver {
    /// Starts a receiver on `127.0.0.1` at a free port that answers 200 to everything and records
    /// every request.
    pub async fn start() -> std::io::Result<Receiver> {
        Self::start_with(true).await
    }

    /// Starts a receiver; with `record_bodies = false` it only counts requests, which keeps its
    /// memory flat under a throughput run.
    pub async fn start_with(record_bodies: bool) -> std::io::Result<Receiver> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::serve(listener, record_bodies)
    }

    /// Starts a recording receiver on an already bound listener (e.g. a port chosen earlier).
    pub async fn start_on(listener: TcpListener) -> std::io::Result<Receiver> {
        Self::serve(listener, true)
    }

    fn serve(listener: TcpListener, record_bodies: bool) -> std::io::Result<Receiver> {
        let addr = listener.local_addr()?;
        let (released, _) = watch::channel(false);
        let state = Arc::new(State {
            script: Mutex::new(VecDeque::new()),
            default_reply: Mutex::new(Reply::Status(200)),
            record_bodies,
            received: Mutex::new(Vec::new()),
            count: AtomicU64::new(0),
            fail_every: AtomicU64::new(0),
            fail_status: AtomicU64::new(503),
            failures: AtomicU64::new(0),
            failed_bodies: Mutex::new(std::collections::HashSet::new()),
            arrived: Notify::new(),
            released,
        });
        let (stop, stopped) = watch::channel(());
        tokio::spawn(accept_loop(listener, Arc::clone(&state), stopped));
        Ok(Receiver {
            addr,
            state,
            _stop: stop,
        })
    }

    /// The URL to send webhooks to (`http://127.0.0.1:PORT/webhook`).
    pub fn url(&self) -> String {
        format!("http://{}/webhook", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues replies for the next requests, in order; after them the default reply applies.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.state.script).extend(replies);
    }

    /// Sets the reply used when the script is empty.
    pub fn set_default(&self, reply: Reply) {
        *lock(&self.state.default_reply) = reply;
    }

    /// Answers every `n`-th request with `status` instead of its reply (0 turns this off), at
    /// most once per distinct body, so the sender's next try of that payload succeeds.
    pub fn fail_every(&self, n: u64, status: u16) {
        self.state
            .fail_status
            .store(u64::from(status), Ordering::Release);
        self.state.fail_every.store(n, Ordering::Release);
    }

    /// Requests answered with a failure by [`Receiver::fail_every`] so far.
    pub fn failures(&self) -> u64 {
        self.state.failures.load(Ordering::Acquire)
    }

    /// Lets every hanging request (and later ones scripted to hang) answer 200.
    pub fn release(&self) {
        self.state.released.send_replace(true);
    }

    /// Requests received so far (empty when bodies are not recorded).
    pub fn received(&self) -> Vec<Received> {
        lock(&self.state.received).clone()
    }

    /// Number of requests whose head arrived so far.
    pub fn count(&self) -> u64 {
        self.state.count.load(Ordering::Acquire)
    }

    /// Waits until at least `n` requests arrived or `timeout` passed; returns whether they did.
    pub async fn wait_for(&self, n: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.arrived.notified();
            if self.count() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.count() >= n;
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stopped: watch::Receiver<()>) {
    let mut connection = 0u64;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        // Small responses must leave at once; Nagle would hold them for the delayed ACK.
        let _ = stream.set_nodelay(true);
        let id = connection;
        connection += 1;
        let state = Arc::clone(&state);
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req| handle(Arc::clone(&state), id, req));
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stopped.changed() => {}
            }
        });
    }
}

/// The error a handler returns to make hyper drop the connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by script")]
struct Dropped;

async fn handle(
    state: Arc<State>,
    connection: u64,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let at = Instant::now();
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    if state.record_bodies {
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        lock(&state.received).push(Received {
            at,
            path,
            headers: parts.headers,
            body: body.clone(),
            connection,
        });
    }
    let number = state.count.fetch_add(1, Ordering::AcqRel) + 1;
    state.arrived.notify_waiters();

    let fail_every = state.fail_every.load(Ordering::Acquire);
    if fail_every > 0
        && number.is_multiple_of(fail_every)
        && lock(&state.failed_bodies).insert(body.clone())
    {
        state.failures.fetch_add(1, Ordering::AcqRel);
        let status = state.fail_status.load(Ordering::Acquire);
        return Ok(respond(u16::try_from(status).unwrap_or(503), None));
    }
    let reply = state.next_reply();
    match reply {
        Reply::Status(status) => Ok(respond(status, None)),
        Reply::RetryAfter(status, value) => Ok(respond(status, Some(value))),
        Reply::Delay(delay) => {
            tokio::time::sleep(delay).await;
            Ok(respond(200, None))
        }
        Reply::Hang => {
            let mut released = state.released.subscribe();
            // An error here means the receiver is gone; answering is moot then.
            let _ = released.wait_for(|released| *released).await;
            Ok(respond(200, None))
        }
        Reply::Drop => Err(Dropped),
    }
}

fn respond(status: u16, retry_after: Option<String>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"{\"ok\":true}")));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(http::header::RETRY_AFTER, value);
    }
    response
}
