//! Ingest through the `http_server` source beside the `stdin` source: the same events through
//! the real `webhook-sink run` into the `webhook` sink and a local receiver, in the same minutes.
//!
//! Run: `cargo bench --bench http_source`. Each round starts a fresh sink process per phase and
//! measures events/s from the first byte sent until the receiver has every event (one request
//! per event: events stream only), and the sink process's CPU per event:
//! - `stdin`: the events written to its stdin as NDJSON (the baseline);
//! - `http`: `CLIENTS` keep-alive connections (4) each posting NDJSON batches of `BATCH` (100)
//!   events, the next batch once the last was answered; a 503 is retried after 10 ms;
//! - `http+ack`: the same with `[sinks.hook.acknowledgements] enabled = true`, so each answer
//!   waits for its batch's delivery (how Vector's `http` sink with acknowledgements sees it).
//!
//! Phases are interleaved round by round so that a noisy moment hurts them alike; the report
//! ends with the medians and the median of the per-round ratios to stdin. Env: `EVENTS` per run
//! (50000), `ROUNDS` (5), `CLIENTS`, `BATCH`, `PHASES` (a comma list of `stdin`, `http`,
//! `http+ack`), `WEBHOOK_SINK_BIN` (another build of the binary). The receiver is a child
//! process (this binary in receiver mode), as in `benches/throughput.rs`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use webhook_receiver::Receiver;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Set in the child process that plays the receiver.
const RECEIVER_MODE: &str = "WEBHOOK_BENCH_RECEIVER";

/// Receiver mode: serve on one thread, print the URL, answer each stdin line with the count.
fn serve_receiver() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("receiver runtime");
    runtime.block_on(async {
        let receiver = Receiver::start_with(false).await.expect("receiver starts");
        println!("{}", receiver.url());
        let (ask, mut asked) = tokio::sync::mpsc::channel::<()>(1);
        std::thread::spawn(move || {
            for _ in std::io::stdin().lines() {
                if ask.blocking_send(()).is_err() {
                    return;
                }
            }
        });
        while asked.recv().await.is_some() {
            println!("{}", receiver.count());
        }
    });
}

/// The receiver child process and the pipe to ask it for its count.
struct ReceiverProcess {
    child: Child,
    url: String,
    ask: ChildStdin,
    answers: BufReader<std::process::ChildStdout>,
}

impl ReceiverProcess {
    fn start() -> ReceiverProcess {
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .env(RECEIVER_MODE, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("receiver process starts");
        let ask = child.stdin.take().expect("receiver stdin");
        let mut answers = BufReader::new(child.stdout.take().expect("receiver stdout"));
        let mut url = String::new();
        answers.read_line(&mut url).expect("the receiver's URL");
        ReceiverProcess {
            child,
            url: url.trim().to_owned(),
            ask,
            answers,
        }
    }

    fn count(&mut self) -> u64 {
        let _ = writeln!(self.ask);
        let _ = self.ask.flush();
        let mut line = String::new();
        let _ = self.answers.read_line(&mut line);
        line.trim().parse().unwrap_or(0)
    }

    /// Waits until the count reaches `target`; when it did, or `None` after `limit`.
    fn wait_for(&mut self, target: u64, limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.count() >= target {
                return Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    fn stop(mut self) {
        drop(self.ask);
        let _ = self.child.wait();
    }
}

/// One Amplitude-style record (about 380 bytes of JSON), as an NDJSON line.
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Stdin,
    Http,
    HttpAck,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Stdin => "stdin",
            Phase::Http => "http",
            Phase::HttpAck => "http+ack",
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `webhook-sink run` with the phase's source, ready (its `/health` answered 200).
struct Sink {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Sink {
    fn start(bin: &str, phase: Phase, url: &str) -> Sink {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (port, api) = (free_port(), free_port());
        let source = match phase {
            Phase::Stdin => "type = \"stdin\"".to_owned(),
            Phase::Http | Phase::HttpAck => {
                format!("type = \"http_server\"\naddress = \"127.0.0.1:{port}\"")
            }
        };
        let config = format!(
            "data_dir = \"{}\"\n[api]\naddress = \"127.0.0.1:{api}\"\n[sources.in]\n{source}\n\
             [sinks.hook]\ntype = \"webhook\"\ninputs = [\"in\"]\nurl = \"{url}\"\n\
             [sinks.hook.users]\nenabled = false\n\
             [sinks.hook.acknowledgements]\nenabled = {}\n",
            dir.path().join("data").display(),
            phase == Phase::HttpAck
        );
        let path = dir.path().join("pipeline.toml");
        std::fs::write(&path, config).expect("write the config");
        let log = std::fs::File::create(dir.path().join("sink.log")).expect("a log file");
        let child = Command::new(bin)
            .args(["run", "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start webhook-sink");
        let deadline = Instant::now() + Duration::from_secs(20);
        while health(api) != Some(200) {
            assert!(Instant::now() < deadline, "the sink never became healthy");
            std::thread::sleep(Duration::from_millis(20));
        }
        Sink {
            child,
            port,
            _dir: dir,
        }
    }

    /// User plus system CPU seconds the sink process used so far.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (ticks(11) + ticks(12)) / 100.0
    }

    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
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

/// The status of `GET /health`, if anything answers.
fn health(port: u16) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split(' ').nth(1)?.parse().ok()
}

/// The measured figures of one run.
struct Run {
    rate: f64,
    cpu_us: f64,
    retries: u64,
}

/// Writes `text` to the sink's stdin from a thread; the pipe is handed back open, so that the
/// sink is still running (and its CPU readable) when the last event arrives.
fn feed_stdin(sink: &mut Sink, text: Arc<String>) -> std::thread::JoinHandle<Option<ChildStdin>> {
    let stdin = sink.child.stdin.take();
    std::thread::spawn(move || {
        let mut stdin = stdin?;
        let _ = stdin.write_all(text.as_bytes());
        let _ = stdin.flush();
        Some(stdin)
    })
}

/// `clients` keep-alive connections posting `batches` in turn; the 503 answers retried.
fn post_batches(port: u16, batches: Arc<Vec<Bytes>>, clients: usize) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let next = Arc::new(AtomicUsize::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    runtime.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (batches, next, retries) = (
                    Arc::clone(&batches),
                    Arc::clone(&next),
                    Arc::clone(&retries),
                );
                tokio::spawn(async move { client(port, &batches, &next, &retries).await })
            })
            .collect();
        for task in tasks {
            task.await.expect("a client task");
        }
    });
    retries.load(Ordering::Relaxed)
}

/// One keep-alive client: takes the next batch, posts it, until none is left.
async fn client(port: u16, batches: &[Bytes], next: &AtomicUsize, retries: &AtomicU64) {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the source");
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP handshake");
    tokio::spawn(connection);
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(body) = batches.get(index) else {
            return;
        };
        loop {
            let request = http::Request::post("/")
                .header(http::header::HOST, format!("127.0.0.1:{port}"))
                .header(http::header::CONTENT_TYPE, "application/x-ndjson")
                .body(Full::new(body.clone()))
                .expect("a request");
            sender.ready().await.expect("the connection stays open");
            let response = sender.send_request(request).await.expect("an answer");
            let status = response.status();
            let _ = response.into_body().collect().await;
            match status.as_u16() {
                200 => break,
                503 => {
                    retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                other => panic!("the source answered {other}"),
            }
        }
    }
}

/// Who sends a run's events: the stdin writer or the HTTP clients (their 503 retries).
enum Senders {
    Stdin(std::thread::JoinHandle<Option<ChildStdin>>),
    Http(std::thread::JoinHandle<u64>),
}

/// One run of `phase`: a fresh sink, `events` events, until the receiver has them all.
fn run(
    bin: &str,
    phase: Phase,
    receiver: &mut ReceiverProcess,
    stdin_text: &Arc<String>,
    batches: &Arc<Vec<Bytes>>,
    clients: usize,
    events: u64,
) -> Run {
    let mut sink = Sink::start(bin, phase, &receiver.url);
    let before = receiver.count();
    let cpu_before = sink.cpu_seconds();
    let started = Instant::now();
    let senders = match phase {
        Phase::Stdin => Senders::Stdin(feed_stdin(&mut sink, Arc::clone(stdin_text))),
        Phase::Http | Phase::HttpAck => {
            let (port, batches) = (sink.port, Arc::clone(batches));
            Senders::Http(std::thread::spawn(move || {
                post_batches(port, batches, clients)
            }))
        }
    };
    let arrived = receiver
        .wait_for(before + events, Duration::from_secs(300))
        .unwrap_or_else(Instant::now);
    let cpu = sink.cpu_seconds() - cpu_before;
    let retries = match senders {
        Senders::Stdin(writer) => {
            drop(writer.join());
            0
        }
        Senders::Http(clients) => clients.join().unwrap_or(0),
    };
    sink.stop();
    figures(events, arrived - started, cpu, retries)
}

fn figures(events: u64, elapsed: Duration, cpu_seconds: f64, retries: u64) -> Run {
    Run {
        rate: events as f64 / elapsed.as_secs_f64(),
        cpu_us: 1e6 * cpu_seconds / events as f64,
        retries,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn main() {
    if std::env::var_os(RECEIVER_MODE).is_some() {
        return serve_receiver();
    }
    // `cargo bench` passes `--bench`; nothing else is taken from the command line.
    let events: usize = env_or("EVENTS", 50_000);
    let rounds: usize = env_or("ROUNDS", 5);
    let clients: usize = env_or("CLIENTS", 4);
    let batch: usize = env_or("BATCH", 100).max(1);
    let phases: Vec<Phase> = std::env::var("PHASES")
        .unwrap_or_else(|_| "stdin,http,http+ack".to_owned())
        .split(',')
        .filter_map(|name| match name.trim() {
            "stdin" => Some(Phase::Stdin),
            "http" => Some(Phase::Http),
            "http+ack" => Some(Phase::HttpAck),
            _ => None,
        })
        .collect();
    let bin = std::env::var("WEBHOOK_SINK_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_webhook-sink").to_owned());

    let lines: Vec<String> = (0..events).map(line).collect();
    let stdin_text = Arc::new(lines.concat());
    let batches: Arc<Vec<Bytes>> = Arc::new(
        lines
            .chunks(batch)
            .map(|chunk| Bytes::from(chunk.concat()))
            .collect(),
    );
    let mut receiver = ReceiverProcess::start();
    println!("http_source: {bin}");
    println!(
        "  {events} events per run (~{} bytes each), events stream only, default sink settings; \
         http: {clients} keep-alive clients posting NDJSON batches of {batch}",
        stdin_text.len() / events.max(1)
    );
    let mut results: Vec<(Phase, Vec<Run>)> = phases.iter().map(|p| (*p, Vec::new())).collect();
    for round in 1..=rounds {
        let mut line = format!("  round {round}:");
        for (phase, runs) in results.iter_mut() {
            let r = run(
                &bin,
                *phase,
                &mut receiver,
                &stdin_text,
                &batches,
                clients,
                events as u64,
            );
            line.push_str(&format!(
                "  {} {:.0}/s ({:.1} us CPU, {} retries)",
                phase.name(),
                r.rate,
                r.cpu_us,
                r.retries
            ));
            runs.push(r);
        }
        println!("{line}");
    }
    receiver.stop();

    println!("  medians of {rounds} rounds:");
    let baseline: Option<&Vec<Run>> = results
        .iter()
        .find(|(phase, _)| *phase == Phase::Stdin)
        .map(|(_, runs)| runs);
    for (phase, runs) in &results {
        let rate = median(runs.iter().map(|r| r.rate).collect());
        let cpu = median(runs.iter().map(|r| r.cpu_us).collect());
        let ratio = baseline
            .filter(|_| *phase != Phase::Stdin)
            .map(|stdin| {
                let ratios = runs
                    .iter()
                    .zip(stdin)
                    .map(|(r, s)| r.rate / s.rate)
                    .collect();
                format!(
                    "  {:.0}% of stdin (median of per-round ratios)",
                    100.0 * median(ratios)
                )
            })
            .unwrap_or_default();
        println!(
            "  {:<10}{rate:>9.0} events/s  {cpu:>5.1} us CPU/event in the sink process{ratio}",
            phase.name()
        );
    }
}
