//! End-to-end throughput: N events through the `webhook` sink to a local receiver, one request per
//! event, next to `wrk` driving the same receiver.
//!
//! Run: `cargo bench --bench throughput` (env: `EVENTS` = 200000, `CONCURRENCY` = 64,
//! `SINK_THREADS` = 1, `WRK_SECONDS` = 5, `TEMPLATE` = path of an event template, optional).
//! The receiver runs in a child process on one thread (this binary in receiver mode); the sink
//! runs here. It prints the sink's events/s and the process's peak RSS, then wrk's requests/s
//! against the same receiver (when `/usr/bin/wrk` exists), and the ratio.

use std::time::Instant;

use pipeline_core::{Event, EventArray, StreamSink};
use serde_json::{json, Map, Value};
use webhook_sink::receiver::Receiver;
use webhook_sink::WebhookSinkConfig;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A realistic Amplitude export event (about 700 bytes of JSON).
fn sample_event(n: u64) -> Map<String, Value> {
    let value = json!({
        "event_type": "Purchase",
        "user_id": format!("user-{}", n % 5000),
        "device_id": format!("device-{}", n % 7000),
        "amplitude_id": 100_000 + n,
        "event_time": "2024-05-01 12:34:56.789123",
        "client_event_time": "2024-05-01 12:34:56.700000",
        "server_upload_time": "2024-05-01 12:34:57.001000",
        "$insert_id": format!("ins-{n}"),
        "uuid": "6f1c3d2e-2b7a-4c1e-9a55-0f6b1c2d3e4f",
        "session_id": 1_714_566_896_000_i64,
        "event_properties": {"price": 19.99, "quantity": 2, "sku": "SKU-123", "currency": "EUR"},
        "user_properties": {"email": format!("user{}@example.com", n % 5000), "plan": "pro", "age": 33},
        "platform": "Web", "os_name": "Chrome", "os_version": "124",
        "country": "Germany", "city": "Berlin", "language": "de-DE",
        "library": "amplitude-ts/2.7.0"
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
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

fn run_wrk(url: &str, seconds: u64, connections: usize, body: &str) -> Option<f64> {
    if seconds == 0 || !std::path::Path::new("/usr/bin/wrk").exists() {
        return None;
    }
    let script = std::env::temp_dir().join(format!("webhook-wrk-{}.lua", std::process::id()));
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.body = {body:?}\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"User-Agent\"] = \"Amplitude/Webhook/1.0\"\n"
    );
    std::fs::write(&script, lua).ok()?;
    let output = std::process::Command::new("/usr/bin/wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s")])
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

/// Set in the child process that plays the receiver.
const RECEIVER_MODE: &str = "WEBHOOK_BENCH_RECEIVER";

/// Receiver mode: serve on one thread, print the URL, stop when stdin closes, print the count.
fn serve_receiver() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("receiver runtime");
    runtime.block_on(async {
        let receiver = Receiver::start_with(false).await.expect("receiver starts");
        println!("{}", receiver.url());
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        })
        .await;
        println!("{}", receiver.count());
    });
}

fn main() {
    if std::env::var_os(RECEIVER_MODE).is_some() {
        return serve_receiver();
    }
    let events: u64 = env_or("EVENTS", 200_000);
    let concurrency: usize = env_or("CONCURRENCY", 64);
    let sink_threads: usize = env_or("SINK_THREADS", 1);
    let wrk_seconds: u64 = env_or("WRK_SECONDS", 5);
    let template = std::env::var("TEMPLATE").ok();

    // The receiver: a child process (this binary in receiver mode), like a separate server.
    let mut child = std::process::Command::new(std::env::current_exe().expect("own path"))
        .env(RECEIVER_MODE, "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("receiver process starts");
    let mut url = String::new();
    if let Some(stdout) = child.stdout.as_mut() {
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut url)
            .expect("receiver prints its URL");
    }
    let url = url.trim().to_owned();

    let mut config = format!(
        "url = \"{url}\"\n[users]\nenabled = false\n[request]\nconcurrency = {concurrency}\n"
    );
    if let Some(path) = &template {
        config.push_str(&format!("[events]\ntemplate_file = {path:?}\n"));
    }
    let sink_config = WebhookSinkConfig::from_toml_str(&config).expect("bench config");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(sink_threads)
        .enable_all()
        .build()
        .expect("sink runtime");
    let elapsed = runtime.block_on(async move {
        let sink = Box::new(sink_config.build_sink("bench"));
        let (input, output) = tokio::sync::mpsc::channel::<EventArray>(8);
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
        let started = Instant::now();
        let stream = tokio_stream::wrappers::ReceiverStream::new(output);
        // Spawned like the host does, so the sink runs on the runtime's workers.
        let result = tokio::spawn(async move { sink.run(Box::pin(stream)).await }).await;
        let elapsed = started.elapsed();
        let _ = producer.await;
        if !matches!(result, Ok(Ok(()))) {
            eprintln!("the sink failed");
        }
        elapsed
    });
    let rss = peak_rss_kib();
    let rate = events as f64 / elapsed.as_secs_f64();

    let body = serde_json::to_string(&Value::Object(sample_event(1))).unwrap_or_default();
    let wrk = run_wrk(&url, wrk_seconds, concurrency, &body);
    // Closing its stdin stops the receiver; it prints how many requests it counted.
    drop(child.stdin.take());
    let mut received = String::new();
    if let Some(stdout) = child.stdout.as_mut() {
        let _ = std::io::Read::read_to_string(stdout, &mut received);
    }
    let _ = child.wait();
    let received = received.trim();

    println!("throughput: {events} events, {concurrency} in flight, {sink_threads} sink thread(s)");
    println!(
        "  sink:  {rate:>9.0} events/s  ({:.2} s, receiver counted {received} requests incl. wrk's)",
        elapsed.as_secs_f64()
    );
    println!("  peak RSS: {} MiB", rss / 1024);
    match wrk {
        Some(wrk) => println!(
            "  wrk:   {wrk:>9.0} requests/s (-t1 -c{concurrency}, {wrk_seconds} s, same receiver) -> sink at {:.0}% of wrk",
            100.0 * rate / wrk
        ),
        None => println!("  wrk:   not run (/usr/bin/wrk missing)"),
    }
}
