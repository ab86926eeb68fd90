//! Amplitude's browser SDK (`@amplitude/analytics-browser` from npm, in `tests/browser_sdk/`) in
//! headless Chromium: a page served on one loopback port loads the SDK and tracks events to the
//! `amplitude_http` source on another port, a cross-origin request the browser only sends after a
//! CORS preflight; every event reaches the webhook.

mod host_support;
mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use host_support::browser;
use host_support::{collect, free_port, kill, wait_until, Workspace};
use serde_json::Value;
use support::Receiver;

const EVENTS: usize = 25;

/// The SDK's browser bundle, which defines `window.amplitude`.
fn sdk_bundle() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/browser_sdk/node_modules/@amplitude/analytics-browser/lib/scripts/amplitude-min.js"
    );
    std::fs::read(path).unwrap_or_else(|error| {
        panic!("{path}: {error}; run scripts/test-deps.sh (npm ci --prefix tests/browser_sdk)")
    })
}

/// The page: loads the SDK, tracks [`EVENTS`] events to `source`, flushes, and says how it went
/// in `data-*` attributes of its body.
fn page(source: u16) -> String {
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<script src="/amplitude-min.js"></script></head>
<body data-state="loading">
<script>
window.addEventListener("error", (e) => {{ document.body.dataset.error = String(e.message); }});
const client = amplitude.createInstance();
client.init("browser-key-1", "browser-user-1", {{
  serverUrl: "http://127.0.0.1:{source}/2/httpapi",
  fetchRemoteConfig: false,
  autocapture: false,
  flushQueueSize: 100,
  flushIntervalMillis: 200,
  // The SDK's cookie storage never finishes its probe on a bare IP host under virtual time.
  identityStorage: "localStorage",
  logLevel: 2,
}}).promise.then(async () => {{
  const results = [];
  for (let i = 0; i < {EVENTS}; i++) {{
    results.push(client.track("Browser Event", {{ n: i }}).promise);
  }}
  client.flush();
  const done = await Promise.all(results);
  document.body.dataset.codes = done.map((r) => r.code).join(",");
  document.body.dataset.state = "sent";
}});
</script></body></html>"#
    )
}

/// Serves `/` (the page) and `/amplitude-min.js` on `listener` until the test ends.
fn serve_page(listener: TcpListener, html: String) {
    let bundle = sdk_bundle();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // The rest of the head.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = line.split(' ').nth(1).unwrap_or("/");
            let (status, kind, body): (&str, &str, &[u8]) = match path {
                "/" => ("200 OK", "text/html; charset=utf-8", html.as_bytes()),
                "/amplitude-min.js" => ("200 OK", "text/javascript", &bundle),
                _ => ("404 Not Found", "text/plain", b"not found"),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
}

fn pipeline(source: u16, url: &str, cors: &str) -> String {
    format!(
        r#"
data_dir = "{{data_dir}}"
[sources.web]
type = "amplitude_http"
address = "127.0.0.1:{source}"
[sinks.hook]
type = "webhook"
inputs = ["web"]
url = "{url}"
[sinks.hook.acknowledgements]
enabled = true
[sinks.hook.users]
enabled = false
{cors}
"#
    )
}

#[test]
fn the_browser_sdk_on_another_origin_feeds_the_webhook() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    let source = free_port();
    let workspace = Workspace::with_config(&pipeline(source, &receiver.url(), ""));
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    assert!(
        wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", source)).is_ok()
        }),
        "the source never listened"
    );

    let pages = TcpListener::bind("127.0.0.1:0").unwrap();
    let page_port = pages.local_addr().unwrap().port();
    serve_page(pages, page(source));
    let loaded = browser::load(&format!("http://127.0.0.1:{page_port}/"), 15_000);
    let body = &loaded.dom[loaded.dom.find("<body").expect("a body")..];
    let body_tag = &body[..body.find('>').unwrap_or(body.len())];
    assert_eq!(
        browser::attribute(body_tag, "data-state").as_deref(),
        Some("sent"),
        "the page did not finish: {body_tag}\n{}",
        loaded.log
    );
    assert_eq!(browser::attribute(body_tag, "data-error"), None);
    let codes = browser::attribute(body_tag, "data-codes").unwrap_or_default();
    assert!(
        codes.split(',').all(|code| code == "200") && codes.split(',').count() == EVENTS,
        "the SDK's results: {codes}"
    );

    assert!(
        runtime.block_on(receiver.wait_for(EVENTS as u64, Duration::from_secs(20))),
        "the webhook got {} of {EVENTS} events",
        receiver.count()
    );
    let bodies: Vec<Value> = receiver
        .received()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("a JSON payload"))
        .collect();
    let numbers: BTreeSet<u64> = bodies
        .iter()
        .map(|b| {
            assert_eq!(b["event_type"], "Browser Event");
            assert_eq!(b["user_id"], "browser-user-1");
            b["event_properties"]["n"].as_u64().expect("n")
        })
        .collect();
    assert_eq!(numbers, (0..EVENTS as u64).collect());
    kill(child, stderr);
}

#[test]
fn a_page_from_an_origin_not_allowed_gets_nothing_through() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    let source = free_port();
    let cors = format!(
        "[sources.web.cors]\nallowed_origins = [\"http://127.0.0.1:{}\"]",
        free_port()
    );
    let workspace = Workspace::with_config(&pipeline(source, &receiver.url(), &cors));
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    assert!(wait_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", source)).is_ok()
    }));
    let pages = TcpListener::bind("127.0.0.1:0").unwrap();
    let page_port = pages.local_addr().unwrap().port();
    serve_page(pages, page(source));
    let loaded = browser::load(&format!("http://127.0.0.1:{page_port}/"), 5_000);
    assert!(
        loaded.log.contains("CORS policy"),
        "the browser did not block the request: {}",
        loaded.log
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        receiver.count(),
        0,
        "a blocked page's events reached the webhook"
    );
    kill(child, stderr);
}
