//! The outage harness: the real `webhook-sink run` (stdin source, default sink settings) while
//! its webhook refuses connections, resets them, answers 503 or 429, or accepts requests and
//! never answers; then the webhook comes back.
//!
//! Run by hand: `cargo bench --bench outage`. For each outage kind, in one process of the sink:
//! 1. healthy: `EVENTS` events (200000) written to its stdin; the ingest rate is events over the
//!    time the writer took (the pipe is the host's backpressure), the delivery rate events over
//!    the time until the webhook had them all;
//! 2. outage: the webhook fails in that way and `EVENTS` more are written: the ingest rate, and
//!    the sink process's peak RSS meanwhile;
//! 3. recovery: the webhook answers again while `EVENTS / 2` new events are written as fast as
//!    the host takes them: how long until the first outage event arrives (the probe that closes
//!    the circuit), how fast the backlog drains from then on, and how fast the new ones go in;
//! 4. healthy again: `EVENTS` more, so that the drain is compared with the healthy rate around
//!    it (the machine is shared; rates drift by a fifth within a minute).
//!
//! Every kind runs `ROUNDS` times (3), and the medians end the report, with the records
//! delivered of the records sent (both streams: every event yields an event payload and a user
//! payload). Env: `EVENTS`, `KINDS` (a comma list of `refuse`, `reset`,
//! `503`, `429`, `hang`; all by default), `BACKLOG` (set, e.g. 1000000: afterwards, one more
//! outage that grows the store's backlog to that many records, the default `max_records`,
//! printing the RSS at 1,000 and at the end), `WEBHOOK_SINK_BIN` (another build of the binary, to compare).
//!
//! The webhook is this harness's own small HTTP server on a fixed loopback port, so that it can
//! stop listening (refuse) and listen again on the same port.

use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How the webhook behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    Healthy = 0,
    Refuse = 1,
    Reset = 2,
    Unavailable = 3,
    TooMany = 4,
    Hang = 5,
}

impl Mode {
    fn from_name(name: &str) -> Option<Mode> {
        Some(match name {
            "refuse" => Mode::Refuse,
            "reset" => Mode::Reset,
            "503" => Mode::Unavailable,
            "429" => Mode::TooMany,
            "hang" => Mode::Hang,
            _ => return None,
        })
    }

    fn label(self) -> &'static str {
        match self {
            Mode::Healthy => "healthy",
            Mode::Refuse => "refused connections",
            Mode::Reset => "connections reset",
            Mode::Unavailable => "503 answers",
            Mode::TooMany => "429 answers",
            Mode::Hang => "accepted, never answered",
        }
    }

    fn from_u8(value: u8) -> Mode {
        match value {
            1 => Mode::Refuse,
            2 => Mode::Reset,
            3 => Mode::Unavailable,
            4 => Mode::TooMany,
            5 => Mode::Hang,
            _ => Mode::Healthy,
        }
    }
}

/// The webhook's state: its mode, and which payloads arrived (a bit per event and stream).
struct Webhook {
    mode: AtomicU8,
    changed: watch::Sender<u8>,
    seen: Vec<AtomicU8>,
    distinct: AtomicU64,
    requests: AtomicU64,
}

impl Webhook {
    fn mode(&self) -> Mode {
        Mode::from_u8(self.mode.load(Ordering::Acquire))
    }

    fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::Release);
        self.changed.send_replace(mode as u8);
    }

    /// Records the payload's event number and stream; returns nothing.
    fn record(&self, body: &[u8]) {
        // Every payload carries "user_id":"u<n>"; only event payloads carry "event_type".
        let Some(at) = find(body, b"\"user_id\":\"u") else {
            return;
        };
        let digits = &body[at + 12..];
        let n = digits
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
        // The default event payload is the event as it came, `event_type` first.
        let bit = if body.starts_with(b"{\"event_type\"") {
            1
        } else {
            2
        };
        if let Some(slot) = self.seen.get(n) {
            if slot.fetch_or(bit, Ordering::AcqRel) & bit == 0 {
                self.distinct.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    /// Distinct payloads of events `from..to` that arrived (two per event when complete).
    fn delivered(&self, from: usize, to: usize) -> u64 {
        self.seen[from..to]
            .iter()
            .map(|s| u64::from(s.load(Ordering::Acquire).count_ones()))
            .sum()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn handle(
    webhook: Arc<Webhook>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let body = request
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    webhook.requests.fetch_add(1, Ordering::Relaxed);
    let mut changes = webhook.changed.subscribe();
    loop {
        let status = match webhook.mode() {
            Mode::Healthy => {
                webhook.record(&body);
                StatusCode::OK
            }
            Mode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Mode::TooMany => StatusCode::TOO_MANY_REQUESTS,
            Mode::Reset | Mode::Refuse => return Err(std::io::Error::other("reset")),
            Mode::Hang => {
                // Answered once the webhook is back (or the client gives up first).
                let _ = changes.changed().await;
                continue;
            }
        };
        let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
        *response.status_mut() = status;
        return Ok(response);
    }
}

/// Serves on `addr` whenever the mode is not `Refuse`; while it is, nothing listens and every
/// open connection is closed.
async fn serve(webhook: Arc<Webhook>, addr: SocketAddr) {
    let mut changes = webhook.changed.subscribe();
    loop {
        if webhook.mode() == Mode::Refuse {
            let _ = changes.changed().await;
            continue;
        }
        let listener = match TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(error) => panic!("cannot listen on {addr}: {error}"),
        };
        let (closing, closed) = watch::channel(false);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let webhook = Arc::clone(&webhook);
                    let mut closed = closed.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| handle(Arc::clone(&webhook), req));
                        let connection = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service);
                        tokio::select! {
                            _ = connection => {}
                            _ = closed.wait_for(|closed| *closed) => {}
                        }
                    });
                }
                _ = changes.changed() => {
                    if webhook.mode() == Mode::Refuse {
                        break;
                    }
                }
            }
        }
        drop(listener);
        let _ = closing.send(true);
    }
}

/// One event line; `n` is in its user id, so both of its payloads name it.
fn line(n: usize) -> String {
    format!(
        concat!(
            r#"{{"event_type":"Purchase","user_id":"u{n}","device_id":"d-{d}","time":1714566896789,"#,
            r#""insert_id":"ins-{n}","session_id":1714566896000,"platform":"Web","os_name":"Chrome","#,
            r#""country":"Germany","city":"Berlin","language":"de-DE","#,
            r#""event_properties":{{"price":19.99,"quantity":2,"sku":"SKU-123","currency":"EUR"}},"#,
            r#""user_properties":{{"email":"user{n}@example.com","plan":"pro","age":33}}}}"#,
            "\n"
        ),
        n = n,
        d = n % 7000
    )
}

/// The sink process and its stdin writer.
struct Sink {
    child: Child,
    stdin: Option<BufWriter<std::process::ChildStdin>>,
    _dir: tempfile::TempDir,
}

impl Sink {
    fn start(bin: &str, port: u16) -> Sink {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = format!(
            r#"data_dir = "{}"
[sources.in]
type = "stdin"
[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "http://127.0.0.1:{port}/webhook"
"#,
            dir.path().join("data").display()
        );
        let path = dir.path().join("pipeline.toml");
        std::fs::write(&path, config).expect("write the config");
        let log = std::fs::File::create(dir.path().join("sink.log")).expect("a log file");
        let mut child = Command::new(bin)
            .args(["run", "--config"])
            .arg(&path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start webhook-sink");
        let stdin = child
            .stdin
            .take()
            .map(|s| BufWriter::with_capacity(64 * 1024, s));
        Sink {
            child,
            stdin,
            _dir: dir,
        }
    }

    /// Writes events `from..to`; returns the seconds it took and the peak RSS (KiB) seen.
    fn write(&mut self, from: usize, to: usize) -> (f64, u64) {
        let pid = self.child.id();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = std::thread::spawn({
            let done = Arc::clone(&done);
            move || {
                let mut peak = 0;
                while !done.load(Ordering::Acquire) {
                    peak = peak.max(rss_kib(pid));
                    std::thread::sleep(Duration::from_millis(50));
                }
                peak.max(rss_kib(pid))
            }
        });
        let started = Instant::now();
        let stdin = self.stdin.as_mut().expect("stdin open");
        for n in from..to {
            stdin
                .write_all(line(n).as_bytes())
                .expect("write to the sink");
        }
        stdin.flush().expect("flush");
        let seconds = started.elapsed().as_secs_f64();
        done.store(true, Ordering::Release);
        (seconds, sampler.join().unwrap_or(0))
    }

    fn stop(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// CPU seconds so far of each thread of `pid`, by thread name.
fn thread_cpu(pid: u32) -> Vec<(String, f64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let ticks = 100.0;
    let mut threads: Vec<(String, f64)> = tasks
        .filter_map(|task| {
            let path = task.ok()?.path();
            let name = std::fs::read_to_string(path.join("comm"))
                .ok()?
                .trim()
                .to_owned();
            let stat = std::fs::read_to_string(path.join("stat")).ok()?;
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let busy: f64 =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some((name, busy / ticks))
        })
        .collect();
    threads.sort_by(|a, b| a.0.cmp(&b.0));
    threads
}

/// With `TIMELINE` set: every half second until `until` says done, the delivered counts of
/// `ranges` and the CPU share of each of the sink's threads meanwhile.
fn timeline(webhook: &Webhook, pid: u32, ranges: &[(usize, usize)], until: impl Fn() -> bool) {
    if std::env::var_os("TIMELINE").is_none() {
        return;
    }
    let started = Instant::now();
    let mut last = thread_cpu(pid);
    while !until() && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(500));
        let now = thread_cpu(pid);
        let busy: Vec<String> = now
            .iter()
            .filter_map(|(name, cpu)| {
                let before = last
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(0.0, |(_, c)| *c);
                let share = (cpu - before) / 0.5 * 100.0;
                (share >= 5.0).then(|| format!("{name} {share:.0}%"))
            })
            .collect();
        last = now;
        let counts: Vec<String> = ranges
            .iter()
            .map(|(from, to)| format!("{}", webhook.delivered(*from, *to)))
            .collect();
        println!(
            "    {:>5.1} s  delivered {}  cpu {}",
            started.elapsed().as_secs_f64(),
            counts.join(" / "),
            busy.join(", ")
        );
    }
}

/// Waits until a payload of events `from..to` arrives; returns when one did, or `None` after
/// `limit`.
fn wait_first(webhook: &Webhook, from: usize, to: usize, limit: Duration) -> Option<Instant> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if webhook.delivered(from, to) > 0 {
            return Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

/// Waits until events `from..to` all arrived (both payloads); returns when the last did, or
/// `None` after `limit`.
fn wait_delivered(webhook: &Webhook, from: usize, to: usize, limit: Duration) -> Option<Instant> {
    let want = 2 * (to - from) as u64;
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if webhook.delivered(from, to) >= want {
            return Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

struct Figures {
    healthy_ingest: f64,
    healthy_delivery: f64,
    outage_ingest: f64,
    outage_rss_mib: u64,
    notice: f64,
    drain: f64,
    ingest_while_draining: f64,
    delivered: u64,
    sent: u64,
}

fn run_kind(
    bin: &str,
    webhook: &Arc<Webhook>,
    port: u16,
    mode: Mode,
    events: usize,
    base: usize,
) -> Figures {
    webhook.set(Mode::Healthy);
    let mut sink = Sink::start(bin, port);
    std::thread::sleep(Duration::from_millis(300));
    // Healthy.
    let started = Instant::now();
    let (healthy_seconds, _) = sink.write(base, base + events);
    let arrived = wait_delivered(webhook, base, base + events, Duration::from_secs(600));
    let healthy_delivery = arrived
        .map(|at| events as f64 / (at - started).as_secs_f64())
        .unwrap_or(0.0);
    // Outage.
    webhook.set(mode);
    let outage = base + events..base + 2 * events;
    let (outage_seconds, rss) = sink.write(outage.start, outage.end);
    // Recovery, with new events flowing.
    webhook.set(Mode::Healthy);
    let recovered = Instant::now();
    let fresh = base + 2 * events..base + 2 * events + events / 2;
    let writer = {
        let mut sink_stdin = sink.stdin.take();
        let fresh = fresh.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            if let Some(stdin) = sink_stdin.as_mut() {
                for n in fresh {
                    let _ = stdin.write_all(line(n).as_bytes());
                }
                let _ = stdin.flush();
            }
            (sink_stdin, started.elapsed().as_secs_f64())
        })
    };
    let want = 2 * events as u64;
    timeline(
        webhook,
        sink.child.id(),
        &[(outage.start, outage.end), (fresh.start, fresh.end)],
        || webhook.delivered(outage.start, outage.end) >= want,
    );
    let noticed = wait_first(webhook, outage.start, outage.end, Duration::from_secs(600));
    let drained = wait_delivered(webhook, outage.start, outage.end, Duration::from_secs(1200));
    let (stdin, fresh_seconds) = writer.join().unwrap_or((None, 0.0));
    sink.stdin = stdin;
    let (notice, drain) = match (noticed, drained) {
        (Some(noticed), Some(drained)) => (
            (noticed - recovered).as_secs_f64(),
            events as f64 / (drained - noticed).as_secs_f64(),
        ),
        _ => (f64::NAN, 0.0),
    };
    let _ = wait_delivered(webhook, base, fresh.end, Duration::from_secs(600));
    // Healthy again, so that the drain is compared with what the machine did around it.
    let after = fresh.end..fresh.end + events;
    let started = Instant::now();
    let (after_seconds, _) = sink.write(after.start, after.end);
    let arrived = wait_delivered(webhook, after.start, after.end, Duration::from_secs(600));
    let after_delivery = arrived
        .map(|at| events as f64 / (at - started).as_secs_f64())
        .unwrap_or(0.0);
    let all = base..after.end;
    let delivered = webhook.delivered(all.start, all.end);
    sink.stop();
    Figures {
        healthy_ingest: (events as f64 / healthy_seconds + events as f64 / after_seconds) / 2.0,
        healthy_delivery: (healthy_delivery + after_delivery) / 2.0,
        outage_ingest: events as f64 / outage_seconds,
        outage_rss_mib: rss / 1024,
        notice,
        drain,
        ingest_while_draining: (events / 2) as f64 / fresh_seconds.max(1e-9),
        delivered,
        sent: 2 * (all.end - all.start) as u64,
    }
}

/// Grows a refused webhook's backlog to `backlog` records (two per event: event and user
/// payloads); the sink's RSS (MiB) at 1,000 records in the store and at each tenfold up to
/// `backlog`, and the rate records went in.
fn run_backlog(
    bin: &str,
    webhook: &Arc<Webhook>,
    port: u16,
    backlog: usize,
    base: usize,
) -> (Vec<(usize, u64)>, f64) {
    webhook.set(Mode::Refuse);
    let mut sink = Sink::start(bin, port);
    std::thread::sleep(Duration::from_millis(300));
    let mut marks = Vec::new();
    let mut records = 1000;
    let mut written = 0;
    let mut writing = Duration::ZERO;
    loop {
        let events = records.min(backlog) / 2;
        let started = Instant::now();
        let _ = sink.write(base + written, base + events);
        writing += started.elapsed();
        written = events;
        std::thread::sleep(Duration::from_secs(2));
        marks.push((2 * written, rss_kib(sink.child.id()) / 1024));
        if records >= backlog {
            break;
        }
        records *= 10;
    }
    let _ = sink.child.kill();
    let _ = sink.child.wait();
    (marks, 2.0 * written as f64 / writing.as_secs_f64())
}

fn print_row(label: &str, f: &Figures) {
    println!(
        "  {:<30}{:>10.0}/s{:>10.0}/s{:>10.0}/s{:>7.0}%{:>9}{:>10.1} s{:>10.0}/s{:>10.0}/s{:>11}/{}",
        label,
        f.healthy_ingest,
        f.healthy_delivery,
        f.outage_ingest,
        100.0 * f.outage_ingest / f.healthy_ingest,
        f.outage_rss_mib,
        f.notice,
        f.drain,
        f.ingest_while_draining,
        f.delivered,
        f.sent
    );
}

fn main() {
    let events: usize = env_or("EVENTS", 200_000);
    let kinds: Vec<Mode> = std::env::var("KINDS")
        .unwrap_or_else(|_| "refuse,reset,503,429,hang".into())
        .split(',')
        .filter_map(|k| Mode::from_name(k.trim()))
        .collect();
    let backlog: usize = env_or("BACKLOG", 0);
    let bin = std::env::var("WEBHOOK_SINK_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_webhook-sink").to_owned());
    let rounds: usize = env_or("ROUNDS", 3);
    let total = rounds * kinds.len() * (events * 7 / 2) + backlog + 1;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let webhook = Arc::new(Webhook {
        mode: AtomicU8::new(Mode::Healthy as u8),
        changed: watch::Sender::new(0),
        seen: (0..total).map(|_| AtomicU8::new(0)).collect(),
        distinct: AtomicU64::new(0),
        requests: AtomicU64::new(0),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.spawn(serve(Arc::clone(&webhook), addr));

    println!("outage harness: {bin}");
    println!("  {events} events per phase, stdin source, default sink settings (events and users streams)");
    println!("  in: events/s the host took from stdin; out: events/s delivered (healthy: the mean of a phase");
    println!("  before the outage and one after the drain); share: outage in / healthy in;");
    println!("  back after: seconds from the webhook's recovery to the first outage event delivered (the probe);");
    println!("  drain: outage events/s delivered from then on, while new events go in at 'new in'");
    println!(
        "  {:<30}{:>12}{:>12}{:>12}{:>8}{:>9}{:>12}{:>12}{:>12}{:>18}",
        "webhook",
        "healthy in",
        "healthy out",
        "outage in",
        "share",
        "RSS MiB",
        "back after",
        "drain",
        "new in",
        "delivered/sent"
    );
    let mut base = 0;
    let mut rows: Vec<(Mode, Vec<Figures>)> = kinds.iter().map(|m| (*m, Vec::new())).collect();
    for round in 1..=rounds {
        for (mode, figures) in rows.iter_mut() {
            let f = run_kind(&bin, &webhook, port, *mode, events, base);
            base += events * 7 / 2;
            print_row(&format!("{} ({round})", mode.label()), &f);
            figures.push(f);
        }
    }
    if rounds > 1 {
        println!("  medians of {rounds} rounds:");
        for (mode, figures) in &rows {
            let median = |pick: fn(&Figures) -> f64| {
                let mut values: Vec<f64> = figures.iter().map(pick).collect();
                values.sort_by(f64::total_cmp);
                values[values.len() / 2]
            };
            let f = Figures {
                healthy_ingest: median(|f| f.healthy_ingest),
                healthy_delivery: median(|f| f.healthy_delivery),
                outage_ingest: median(|f| f.outage_ingest),
                outage_rss_mib: median(|f| f.outage_rss_mib as f64) as u64,
                notice: median(|f| f.notice),
                drain: median(|f| f.drain),
                ingest_while_draining: median(|f| f.ingest_while_draining),
                delivered: figures.iter().map(|f| f.delivered).sum(),
                sent: figures.iter().map(|f| f.sent).sum(),
            };
            let ingest_share = median(|f| f.outage_ingest / f.healthy_ingest);
            let drain_share = median(|f| f.drain / f.healthy_delivery);
            print_row(mode.label(), &f);
            println!(
                "  {:<26}outage ingest {:.0}% of healthy ingest, drain {:.0}% of healthy delivery (medians of the per-round ratios)",
                "",
                100.0 * ingest_share,
                100.0 * drain_share
            );
        }
    }
    if backlog > 0 {
        let (marks, rate) = run_backlog(&bin, &webhook, port, backlog, base);
        let marks: Vec<String> = marks
            .iter()
            .map(|(records, mib)| format!("{mib} MiB at {records}"))
            .collect();
        println!(
            "  backlog while refused (records stored at {rate:.0}/s): RSS {}",
            marks.join(", ")
        );
    }
    println!(
        "  requests received: {}",
        webhook.requests.load(Ordering::Relaxed)
    );
}
