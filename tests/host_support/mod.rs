//! Shared helpers for the host integration tests: run the real `webhook-sink` binary with a
//! config in a temporary directory, scrape its HTTP API, read Prometheus text, send signals.

#![allow(dead_code)]

pub mod browser;
pub mod sdk;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_webhook-sink")
}

/// A temporary directory holding `pipeline.toml` and the `data_dir`.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// Write `config` (with `{data_dir}` replaced) to `pipeline.toml`.
    pub fn with_config(config: &str) -> Workspace {
        let dir = tempfile::tempdir().expect("temporary directory");
        let data_dir = dir.path().join("data");
        let text = config.replace("{data_dir}", &data_dir.display().to_string());
        std::fs::write(dir.path().join("pipeline.toml"), text).expect("write config");
        Workspace { dir }
    }

    /// The smallest pipeline: stdin -> console, with the API on `port`.
    pub fn stdin_to_console(port: u16) -> Workspace {
        Workspace::with_config(&format!(
            r#"
data_dir = "{{data_dir}}"
[api]
address = "127.0.0.1:{port}"
[sources.in]
type = "stdin"
[sinks.out]
type = "console"
inputs = ["in"]
"#
        ))
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("pipeline.toml")
    }

    /// `webhook-sink run --config pipeline.toml` with all three standard streams piped.
    pub fn spawn_run(&self) -> Child {
        self.spawn_run_with(&[])
    }

    /// Like [`Workspace::spawn_run`], with more arguments for `run`.
    pub fn spawn_run_with(&self, extra: &[&str]) -> Child {
        Command::new(bin())
            .args(["--log-format", "human", "run", "--config"])
            .arg(self.config_path())
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn webhook-sink")
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("bind an ephemeral port")
}

/// `GET path` on 127.0.0.1:port; `None` while nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// The value of metric `name` whose labels include all of `labels`, summed over matching series.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut total = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, parse_labels(rest.trim_end_matches('}'))),
            None => (series, BTreeMap::new()),
        };
        let matches = series_name == name
            && labels
                .iter()
                .all(|(k, v)| series_labels.get(*k).map(String::as_str) == Some(*v));
        if matches {
            let value: f64 = value.parse().ok()?;
            total = Some(total.unwrap_or(0.0) + value);
        }
    }
    total
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    text.split("\",")
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((key.to_string(), value.trim_matches('"').to_string()))
        })
        .collect()
}

/// Scrape `/metrics` and read one metric (0 when not yet present).
pub fn scrape(port: u16, name: &str, labels: &[(&str, &str)]) -> f64 {
    http_get(port, "/metrics")
        .and_then(|(_, body)| metric(&body, name, labels))
        .unwrap_or(0.0)
}

/// Poll `check` every 50 ms until it is true or `timeout` passes; returns whether it became true.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

/// Wait for the process to exit; kill it and return `None` after `timeout`.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Send SIGTERM (or another signal name) with the system's `kill`.
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} failed");
}

/// Read a pipe to its end on a thread.
pub fn collect<R: Read + Send + 'static>(mut pipe: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// The resident memory of process `pid` in KiB, from /proc.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The retry store file of sink `sink` in `workspace` (created by its first start).
pub fn store_file(workspace: &Workspace, sink: &str) -> PathBuf {
    workspace
        .dir
        .path()
        .join("data")
        .join(sink)
        .join(webhook_sink::retry::store::FILE_NAME)
}

/// Rows in a table of a store file (0 while the file does not exist yet).
pub fn rows(file: &std::path::Path, table: &str) -> u64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
        row.get(0)
    })
    .unwrap_or(0)
}

/// SIGKILLs `child` and returns what it wrote on the stderr being collected.
pub fn kill(mut child: Child, stderr: std::thread::JoinHandle<String>) -> String {
    let _ = child.kill();
    let _ = child.wait();
    stderr.join().unwrap_or_default()
}

/// NDJSON lines `{"event_type":"Test","user_id":"u","n":N}` for each `n`.
pub fn test_events(numbers: std::ops::Range<u32>) -> String {
    numbers
        .map(|n| format!("{{\"event_type\":\"Test\",\"user_id\":\"u\",\"n\":{n}}}\n"))
        .collect()
}

/// Writes [`test_events`] to the child's piped stdin (kept open).
pub fn write_events(child: &mut Child, numbers: std::ops::Range<u32>) {
    let stdin = child.stdin.as_mut().expect("piped stdin");
    stdin
        .write_all(test_events(numbers).as_bytes())
        .expect("write to the sink's stdin");
    stdin.flush().expect("flush stdin");
}
