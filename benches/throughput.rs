//! End-to-end throughput: N events through the `webhook` sink to a local receiver, one request
//! per event, next to `wrk` driving the same receiver.
//!
//! Run: `cargo bench --bench throughput`. Env: `EVENTS` per run (200000), `CONCURRENCY` (64),
//! `SINK_THREADS` (host runtime workers: half the cores, as `webhook-sink run`), `ROUNDS` (3), `WRK_SECONDS` (5, 0 skips
//! wrk), `RECEIVER_THREADS` (1), `TEMPLATE` (an event template file, optional), `NO_METRICS`
//! (set: no metrics recorder; by default one is installed, as `webhook-sink run` does), `PHASES`
//! (which of `direct,hosted,wrk` to run; all by default).
//! The receiver is a child process (this binary in receiver mode). Each round runs the sink fed
//! batches directly, the host's demo source -> sink, and wrk (best of -t1 and -t2) against the
//! receiver; it prints the medians: events/s, CPU per event of the sink process (steadier than a
//! rate on a shared machine; the kernel's part shown apart), peak RSS, and the sink's rates as a
//! share of wrk's. The demo source runs without identifies, so that every record is an event and
//! makes one request.

use std::time::Instant;

use std::io::Write;

use pipeline_core::{Event, EventArray, StreamSink};
use pipeline_host::{Config, RunningTopology};
use serde_json::{Map, Value};
use webhook_receiver::Receiver;
use webhook_sink::WebhookSinkConfig;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A realistic Amplitude export event (about 700 bytes of JSON), built at its final size as a
/// source would build it (a `json!` literal grows the map entry by entry and costs 2x more).
fn sample_event(n: u64) -> Map<String, Value> {
    fn object<const N: usize>(entries: [(&str, Value); N]) -> Map<String, Value> {
        let mut map = Map::with_capacity(N);
        for (key, value) in entries {
            map.insert(key.to_owned(), value);
        }
        map
    }
    let text = |s: &str| Value::String(s.to_owned());
    object([
        ("event_type", text("Purchase")),
        ("user_id", Value::String(format!("user-{}", n % 5000))),
        ("device_id", Value::String(format!("device-{}", n % 7000))),
        ("amplitude_id", Value::from(100_000 + n)),
        ("event_time", text("2024-05-01 12:34:56.789123")),
        ("client_event_time", text("2024-05-01 12:34:56.700000")),
        ("server_upload_time", text("2024-05-01 12:34:57.001000")),
        ("$insert_id", Value::String(format!("ins-{n}"))),
        ("uuid", text("6f1c3d2e-2b7a-4c1e-9a55-0f6b1c2d3e4f")),
        ("session_id", Value::from(1_714_566_896_000_i64)),
        (
            "event_properties",
            Value::Object(object([
                ("price", Value::from(19.99)),
                ("quantity", Value::from(2)),
                ("sku", text("SKU-123")),
                ("currency", text("EUR")),
            ])),
        ),
        (
            "user_properties",
            Value::Object(object([
                (
                    "email",
                    Value::String(format!("user{}@example.com", n % 5000)),
                ),
                ("plan", text("pro")),
                ("age", Value::from(33)),
            ])),
        ),
        ("platform", text("Web")),
        ("os_name", text("Chrome")),
        ("os_version", text("124")),
        ("country", text("Germany")),
        ("city", text("Berlin")),
        ("language", text("de-DE")),
        ("library", text("amplitude-ts/2.7.0")),
    ])
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// User and system CPU seconds this process (all its threads, not the receiver child) used so
/// far: per-event CPU is steadier than a rate on a shared, noisy machine.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesized command name; utime and stime are the 12th and 13th of them.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) / 100.0, ticks(12) / 100.0)
}

fn run_wrk(url: &str, seconds: u64, threads: usize, connections: usize, body: &str) -> Option<f64> {
    if seconds == 0 || !std::path::Path::new("/usr/bin/wrk").exists() {
        return None;
    }
    let script = std::env::temp_dir().join(format!("webhook-wrk-{}.lua", std::process::id()));
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.body = {body:?}\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"User-Agent\"] = \"Amplitude/Webhook/1.0\"\n"
    );
    std::fs::write(&script, lua).ok()?;
    let output = std::process::Command::new("/usr/bin/wrk")
        .args([
            format!("-t{threads}"),
            format!("-c{connections}"),
            format!("-d{seconds}s"),
        ])
        .arg("-s")
        .arg(&script)
        .arg(url)
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Set in the child process that plays the receiver.
const RECEIVER_MODE: &str = "WEBHOOK_BENCH_RECEIVER";

/// Receiver mode: serve on one thread, print the URL, stop when stdin closes, print the count.
fn serve_receiver() {
    let threads: usize = env_or("RECEIVER_THREADS", 1);
    let runtime = if threads > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("receiver runtime");
    runtime.block_on(async {
        let receiver = Receiver::start_with(false).await.expect("receiver starts");
        println!("{}", receiver.url());
        // Each line on stdin asks for the count so far; end of input stops the receiver.
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

/// One measured run: events/s, and us of CPU per event (all, and in the kernel).
struct Run {
    rate: f64,
    cpu_us: f64,
    sys_us: f64,
}

/// Runs one phase (`run` returns its seconds) and reads the receiver's count around it.
fn measure(ask_count: &mut impl FnMut() -> u64, run: impl FnOnce() -> f64) -> Run {
    let before = ask_count();
    let (user_before, sys_before) = cpu_seconds();
    let elapsed = run();
    let delivered = ask_count() - before;
    let (user, sys) = cpu_seconds();
    let per_event = |seconds: f64| 1e6 * seconds / delivered.max(1) as f64;
    Run {
        rate: delivered as f64 / elapsed,
        cpu_us: per_event(user - user_before + sys - sys_before),
        sys_us: per_event(sys - sys_before),
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
    let events: u64 = env_or("EVENTS", 200_000);
    let concurrency: usize = env_or("CONCURRENCY", 64);
    // As many host workers as `webhook-sink run` uses: half the cores (the sink's dispatch
    // lanes take one thread per core of their own).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sink_threads: usize = env_or("SINK_THREADS", (cores / 2).max(1));
    let wrk_seconds: u64 = env_or("WRK_SECONDS", 5);
    let rounds: usize = env_or("ROUNDS", 3);
    let template = std::env::var("TEMPLATE").ok();
    let phases = std::env::var("PHASES").unwrap_or_else(|_| "direct,hosted,wrk".to_owned());
    let phase = |name: &str| phases.split(',').any(|p| p.trim() == name);

    // The receiver: a child process (this binary in receiver mode), like a separate server.
    let mut child = std::process::Command::new(std::env::current_exe().expect("own path"))
        .env(RECEIVER_MODE, "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("receiver process starts");
    let mut url = String::new();
    if let Some(stdout) = child.stdout.as_mut() {
        // Read the URL byte by byte so nothing after it is buffered away from `reader` below.
        let mut byte = [0u8; 1];
        while std::io::Read::read(stdout, &mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            url.push(char::from(byte[0]));
        }
    }
    let url = url.trim().to_owned();

    let mut ask_count = {
        let mut stdin = child.stdin.take().expect("receiver stdin");
        let mut reader = std::io::BufReader::new(child.stdout.take().expect("receiver stdout"));
        move || -> u64 {
            let _ = writeln!(stdin);
            let _ = stdin.flush();
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut reader, &mut line);
            line.trim().parse().unwrap_or(0)
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(sink_threads)
        .enable_all()
        .build()
        .expect("sink runtime");
    // Metrics recorded as `webhook-sink run` records them (it always installs the recorder).
    if std::env::var_os("NO_METRICS").is_none() {
        match pipeline_host::install_prometheus_recorder() {
            Ok(handle) => {
                let _guard = runtime.enter();
                pipeline_host::spawn_upkeep(handle);
            }
            Err(error) => eprintln!("no metrics recorder: {error}"),
        }
    }
    let mut template_line = String::new();
    if let Some(path) = &template {
        template_line = format!("template_file = {path:?}\n");
    }
    let sink_table = format!(
        "url = \"{url}\"\n[users]\nenabled = false\n[events]\n{template_line}[request]\nconcurrency = {concurrency}\n"
    );
    let body = serde_json::to_string(&Value::Object(sample_event(1))).unwrap_or_default();

    // Rounds of (direct, hosted, wrk), interleaved so that a noisy moment hurts all three alike.
    let (mut direct, mut hosted, mut wrk) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        if phase("direct") {
            direct.push(measure(&mut ask_count, || {
                runtime.block_on(run_direct(&sink_table, events))
            }));
        }
        if phase("hosted") {
            hosted.push(measure(&mut ask_count, || {
                runtime.block_on(run_hosted(&sink_table, events))
            }));
        }

        // wrk's best of one and two threads: the receiver's capacity as a C load generator sees it.
        let best = [1, 2]
            .iter()
            .filter(|_| phase("wrk"))
            .filter_map(|threads| run_wrk(&url, wrk_seconds, *threads, concurrency, &body))
            .fold(None, |best: Option<f64>, r| {
                Some(best.map_or(r, |b| b.max(r)))
            });
        if let Some(best) = best {
            wrk.push(best);
        }
        let last = |runs: &[Run]| runs.last().map_or((0.0, 0.0), |r| (r.rate, r.cpu_us));
        let ((d, dc), (h, hc)) = (last(&direct), last(&hosted));
        eprintln!(
            "round {round}: direct {d:.0}/s ({dc:.1} us CPU), hosted {h:.0}/s ({hc:.1} us CPU), wrk {:.0}/s",
            wrk.last().copied().unwrap_or(0.0)
        );
    }
    // Closing its stdin stops the receiver.
    drop(ask_count);
    let _ = child.wait();

    let rate = |runs: &[Run]| median(runs.iter().map(|r| r.rate).collect());
    let cpu = |runs: &[Run]| median(runs.iter().map(|r| r.cpu_us).collect());
    let sys = |runs: &[Run]| median(runs.iter().map(|r| r.sys_us).collect());
    println!(
        "throughput: {events} events per run, events stream only (one request per event), {concurrency} in flight, \
         {sink_threads} host worker thread(s) + the sink's dispatch lanes, medians of {rounds} rounds"
    );
    println!(
        "  sink, fed batches directly: {:>9.0} events/s  {:>5.1} us CPU/event ({:.1} in the kernel)",
        rate(&direct),
        cpu(&direct),
        sys(&direct)
    );
    println!(
        "  host demo source -> sink:   {:>9.0} events/s  {:>5.1} us CPU/event ({:.1} in the kernel)",
        rate(&hosted),
        cpu(&hosted),
        sys(&hosted)
    );
    println!(
        "  peak RSS of the sink process: {} MiB",
        peak_rss_kib() / 1024
    );
    if wrk.is_empty() {
        println!("  wrk: not run (/usr/bin/wrk missing or WRK_SECONDS=0)");
    } else {
        let wrk = median(wrk);
        println!(
            "  wrk (best of -t1/-t2, -c{concurrency}): {wrk:>9.0} requests/s on the same receiver -> direct sink at {:.0}%, hosted at {:.0}% of wrk",
            100.0 * rate(&direct) / wrk,
            100.0 * rate(&hosted) / wrk
        );
    }
}

/// The sink fed batches of 100 events through a bounded channel, as the host's sink task is fed;
/// the events are built on the same runtime (the source's share of the work). Returns seconds.
async fn run_direct(sink_table: &str, events: u64) -> f64 {
    let sink_config = WebhookSinkConfig::from_toml_str(sink_table).expect("bench sink config");
    let data = tempfile::tempdir().expect("a temporary directory");
    let sink = Box::new(
        sink_config
            .build_sink("bench", data.path())
            .expect("the bench sink builds"),
    );
    let (input, output) = tokio::sync::mpsc::channel::<EventArray>(env_or(
        "CHANNEL",
        pipeline_host::CHANNEL_CAPACITY,
    ));
    let started = Instant::now();
    let producer = tokio::spawn(async move {
        let mut n = 0;
        while n < events {
            let batch: EventArray = (n..(n + 100).min(events))
                .map(|i| Event::new(sample_event(i)))
                .collect();
            n += batch.len() as u64;
            if input.send(batch).await.is_err() {
                return;
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(output);
    let result = tokio::spawn(async move { sink.run(Box::pin(stream)).await }).await;
    let elapsed = started.elapsed().as_secs_f64();
    let _ = producer.await;
    if !matches!(result, Ok(Ok(()))) {
        eprintln!("the sink failed");
    }
    elapsed
}

/// The host's own topology: demo source (realistic Amplitude records, as fast as the sink takes
/// them) -> webhook sink; events only, so one request per event. Returns seconds.
async fn run_hosted(sink_table: &str, events: u64) -> f64 {
    let config = format!(
        "data_dir = \"./target/bench-data\"\n[sources.amplitude]\ntype = \"demo\"\ncount = {events}\nrate = 0\nidentifies = false\n[sinks.hook]\ntype = \"webhook\"\ninputs = [\"amplitude\"]\n{}",
        sink_table.replace("\n[", "\n[sinks.hook.")
    );
    // A fresh retry store: records left by an earlier run must not count as this run's.
    let _ = std::fs::remove_dir_all("./target/bench-data");
    let mut registry = pipeline_core::Registry::new();
    webhook_sink::register(&mut registry);
    let config = Config::from_toml_str(&config, &registry).expect("bench config");
    let started = Instant::now();
    let topology = RunningTopology::start(config)
        .await
        .expect("topology starts");
    if let Err(error) = topology.wait().await {
        eprintln!("the pipeline failed: {error}");
    }
    started.elapsed().as_secs_f64()
}
