//! End to end with the official Amplitude Python SDK through the `dedupe` transform:
//! SDK -> a proxy in this test -> `amplitude_http` source -> `dedupe` -> webhook sink.
//!
//! The proxy forwards the SDK's first request to the source, waits for the source's 200 (sent
//! once the events were delivered) and answers the SDK 503 instead, so the SDK sends the same
//! batch, with the same insert ids, again. Proves that the webhook still gets each event exactly
//! once, that the dropped copies show as intentionally discarded in `/metrics`, and that after a
//! restart on the same `data_dir` the same events are dropped again while a new insert id, or the
//! same insert id on another device, passes.
//!
//! (Closing the connection without an answer would not do: the SDK 1.3.0 then loses the batch
//! silently, since `http.client.RemoteDisconnected` escapes its error handling. A 503 or a
//! hang until its 10-second timeout both make it retry; the 503 is quicker.)
//!
//! Fails when the SDK is missing and `pip install` cannot get it (`scripts/test-deps.sh`
//! installs it).

mod host_support;

use host_support::sdk::{run_plan, sdk_available, Host};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use host_support::{free_port, scrape, Workspace};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use webhook_receiver::Receiver;

const API_KEY: &str = "dedupe-test-key-1";
/// The events of the first batch.
const EVENTS: usize = 5;

/// The pipeline (source on `source_port`, API on `api_port`) for `workspace`'s `data_dir`.
fn write_config(workspace: &Workspace, source_port: u16, api_port: u16, hook: &str) {
    let data_dir = workspace.dir.path().join("data");
    let text = format!(
        r#"
data_dir = "{data_dir}"

[api]
address = "127.0.0.1:{api_port}"

[sources.amplitude]
type = "amplitude_http"
address = "127.0.0.1:{source_port}"
api_keys = ["{API_KEY}"]

[transforms.dedupe]
type = "dedupe"
inputs = ["amplitude"]

[sinks.hook]
type = "webhook"
inputs = ["dedupe"]
url = "{hook}/events"

[sinks.hook.users]
enabled = false

[sinks.hook.acknowledgements]
enabled = true
"#,
        data_dir = data_dir.display()
    );
    std::fs::write(workspace.config_path(), text).expect("write config");
}

/// One step tracking event `n` (insert id `d-N`) on `device`.
fn track(n: usize, device: &str) -> Value {
    json!({"track": {
        "event_type": "Purchase", "insert_id": format!("d-{n}"),
        "user_id": format!("user-{n:05}"), "device_id": device,
        "event_properties": {"index": n},
    }})
}

fn device(n: usize) -> String {
    format!("device-{n:05}")
}

/// The first batch: events 0..EVENTS on their own devices, in one step.
fn first_batch() -> Value {
    json!([(0..EVENTS)
        .map(|n| track(n, &device(n)))
        .collect::<Vec<_>>()])
}

/// Each insert id of `ids` reported once with 200.
fn accepted<'a>(ids: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, Vec<u16>> {
    ids.into_iter()
        .map(|id| (id.to_string(), vec![200]))
        .collect()
}

/// How often each `(device_id, $insert_id)` arrived at the webhook.
fn delivered(receiver: &Receiver) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for request in receiver.received() {
        let event: Value = serde_json::from_slice(&request.body).expect("payload is JSON");
        let text = |field: &str| event[field].as_str().unwrap_or("<missing>").to_string();
        *counts
            .entry((text("device_id"), text("$insert_id")))
            .or_insert(0) += 1;
    }
    counts
}

fn once(pairs: &[(String, &str)]) -> BTreeMap<(String, String), usize> {
    pairs
        .iter()
        .map(|(device, id)| ((device.clone(), id.to_string()), 1))
        .collect()
}

/// A loopback proxy in front of the source. It forwards every request and relays the source's
/// answer, except for the first request: its answer is read and swallowed, and the client gets
/// a 503 instead.
struct Proxy {
    addr: SocketAddr,
    /// The insert ids of each request forwarded to the source, in order.
    forwarded: Arc<Mutex<Vec<Vec<String>>>>,
    /// The status the source answered to each forwarded request.
    upstream_statuses: Arc<Mutex<Vec<u16>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let forwarded = Arc::new(Mutex::new(Vec::new()));
        let upstream_statuses = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let (ids, statuses) = (Arc::clone(&forwarded), Arc::clone(&upstream_statuses));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let number = requests.fetch_add(1, Ordering::AcqRel);
                let (ids, statuses) = (Arc::clone(&ids), Arc::clone(&statuses));
                tokio::spawn(async move {
                    if let Err(error) = relay(client, upstream, number == 0, &ids, &statuses).await
                    {
                        eprintln!("proxy: request {number}: {error}");
                    }
                });
            }
        });
        Proxy {
            addr,
            forwarded,
            upstream_statuses,
        }
    }

    fn forwarded(&self) -> Vec<Vec<String>> {
        self.forwarded.lock().unwrap().clone()
    }

    fn upstream_statuses(&self) -> Vec<u16> {
        self.upstream_statuses.lock().unwrap().clone()
    }
}

/// Relays one request (the SDK sends one per connection) and its answer, or a 503 for it.
async fn relay(
    mut client: tokio::net::TcpStream,
    upstream: SocketAddr,
    swallow: bool,
    ids: &Mutex<Vec<Vec<String>>>,
    statuses: &Mutex<Vec<u16>>,
) -> std::io::Result<()> {
    let (request_head, request_body) = read_message(&mut client).await?;
    let batch: Value = serde_json::from_slice(&request_body).unwrap_or(Value::Null);
    let insert_ids = batch["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["insert_id"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.lock().unwrap().push(insert_ids);

    let mut source = tokio::net::TcpStream::connect(upstream).await?;
    source.write_all(&request_head).await?;
    source.write_all(&request_body).await?;
    let (response_head, response_body) = read_message(&mut source).await?;
    let status = String::from_utf8_lossy(&response_head)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    statuses.lock().unwrap().push(status);

    if swallow {
        let body = br#"{"code":503,"error":"the proxy swallowed the source's answer"}"#;
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        client.write_all(head.as_bytes()).await?;
        client.write_all(body).await?;
    } else {
        client.write_all(&response_head).await?;
        client.write_all(&response_body).await?;
    }
    client.shutdown().await
}

/// Reads one HTTP/1.1 message: its head (with the blank line) and a `Content-Length` body.
async fn read_message(
    stream: &mut (impl AsyncRead + Unpin),
) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let length: usize = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = buffer.split_off(head_end);
    Ok((buffer, body))
}

/// TERMs `host` and asserts it drained and exited 0.
async fn stop_cleanly(host: Host) {
    let (status, log) = host.stop("TERM").await;
    assert!(
        status.is_some_and(|s| s.success()),
        "binary did not exit cleanly: {log}"
    );
}

/// Runs the SDK driver on `plan` against `server` and returns the codes per insert id.
async fn run_sdk(server: SocketAddr, plan: &Value) -> BTreeMap<String, Vec<u16>> {
    run_plan(format!("http://{server}/2/httpapi"), API_KEY, plan).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_the_sdk_sends_twice_reaches_the_webhook_once_and_stays_deduplicated() {
    assert!(
        sdk_available(),
        "the Amplitude Python SDK is not installed and `python3 -m pip install \
         amplitude-analytics` failed (scripts/test-deps.sh installs it)"
    );
    let receiver = Receiver::start().await.expect("start the webhook receiver");
    let hook = format!("http://{}", receiver.addr());
    let workspace = Workspace::with_config("");
    let (source_port, api_port) = (free_port(), free_port());
    write_config(&workspace, source_port, api_port, &hook);
    let host = Host::start(&workspace, source_port).await;
    let proxy = Proxy::start(SocketAddr::from(([127, 0, 0, 1], source_port))).await;

    let ids: Vec<String> = (0..EVENTS).map(|n| format!("d-{n}")).collect();
    let first: Vec<(String, &str)> = (0..EVENTS).map(|n| (device(n), ids[n].as_str())).collect();

    // The SDK sends the batch, gets the proxy's 503, sends it again and gets the source's 200.
    let codes = run_sdk(proxy.addr, &first_batch()).await;
    assert_eq!(codes, accepted(ids.iter().map(String::as_str)));
    assert_eq!(
        proxy.forwarded(),
        [ids.clone(), ids.clone()],
        "the source received the batch twice"
    );
    assert_eq!(
        proxy.upstream_statuses(),
        [200, 200],
        "the source accepted both copies"
    );
    // Acknowledgements are on: by the second 200 every event kept was delivered; a moment more
    // would show a stray duplicate.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(delivered(&receiver), once(&first));

    let dedupe = [("component_id", "dedupe"), ("component_kind", "transform")];
    let discarded = [
        ("component_id", "dedupe"),
        ("component_kind", "transform"),
        ("intentional", "true"),
    ];
    assert_eq!(
        scrape(api_port, "component_discarded_events_total", &discarded),
        EVENTS as f64,
        "the second copy of each event is counted as intentionally discarded"
    );
    assert_eq!(
        scrape(api_port, "component_sent_events_total", &dedupe),
        EVENTS as f64
    );
    stop_cleanly(host).await;

    // A new process on the same data_dir remembers what was delivered.
    let (source_port, api_port) = (free_port(), free_port());
    write_config(&workspace, source_port, api_port, &hook);
    let host = Host::start(&workspace, source_port).await;
    let source = SocketAddr::from(([127, 0, 0, 1], source_port));
    let codes = run_sdk(source, &first_batch()).await;
    assert_eq!(codes, accepted(ids.iter().map(String::as_str)));
    // The source answered 200 only after every event was settled: a forwarded one was delivered.
    assert_eq!(
        delivered(&receiver),
        once(&first),
        "nothing new after restart"
    );
    assert_eq!(
        scrape(api_port, "component_discarded_events_total", &discarded),
        EVENTS as f64
    );

    // A new insert id passes, and so does a known insert id on another device.
    let other_device = device(99_999);
    let codes = run_sdk(
        source,
        &json!([[track(EVENTS, &device(EVENTS)), track(0, &other_device)]]),
    )
    .await;
    assert_eq!(codes, accepted(["d-0", "d-5"]));
    let mut expected = first.clone();
    expected.push((device(EVENTS), "d-5"));
    expected.push((other_device, "d-0"));
    assert!(
        receiver
            .wait_for(expected.len() as u64, Duration::from_secs(10))
            .await
    );
    stop_cleanly(host).await;
    assert_eq!(delivered(&receiver), once(&expected));
}
