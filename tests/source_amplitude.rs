//! The `amplitude_http` source through the real binary: Amplitude's error responses with their
//! exact JSON bodies, and backpressure from a stalled webhook reaching the client as 503.

mod host_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::Duration;

use host_support::{collect, free_port, signal, wait_exit, wait_until, Workspace};
use serde_json::{json, Value};
use webhook_receiver::{Receiver, Reply};

const API_KEY: &str = "test-key-1";

/// POST `body` to `path` on 127.0.0.1:port; the status and the JSON body.
fn post(port: u16, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the source");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    // A 413 may be answered before the whole body is read.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("body {body:?}: {e}"));
    (status, json)
}

fn post_json(port: u16, path: &str, body: &Value) -> (u16, Value) {
    post(port, path, "application/json", body.to_string().as_bytes())
}

fn events(from: usize, n: usize) -> Value {
    let events: Vec<Value> = (from..from + n)
        .map(|i| json!({"event_type": "click", "user_id": format!("user-{i:05}"), "insert_id": format!("i-{i}")}))
        .collect();
    json!({"api_key": API_KEY, "events": events})
}

/// The binary running `config`, with its output drained; stopped with SIGTERM by `stop`.
struct Running {
    child: Child,
    logs: Vec<std::thread::JoinHandle<String>>,
    _workspace: Workspace,
}

fn start(config: &str, port: u16) -> Running {
    let workspace = Workspace::with_config(config);
    let mut child = workspace.spawn_run();
    let logs = vec![
        collect(child.stdout.take().expect("stdout piped")),
        collect(child.stderr.take().expect("stderr piped")),
    ];
    let listening = wait_until(Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(listening, "the source never listened on port {port}");
    Running {
        child,
        logs,
        _workspace: workspace,
    }
}

impl Running {
    fn stop(mut self) -> String {
        signal(&self.child, "TERM");
        let status = wait_exit(&mut self.child, Duration::from_secs(15));
        let logs: Vec<String> = self
            .logs
            .into_iter()
            .filter_map(|h| h.join().ok())
            .collect();
        let logs = logs.join("\n");
        assert!(status.is_some_and(|s| s.success()), "unclean exit: {logs}");
        logs
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_response_has_amplitudes_json_shape() {
    let receiver = Receiver::start().await.expect("receiver");
    let port = free_port();
    let running = start(
        &format!(
            r#"
data_dir = "{{data_dir}}"
[sources.amp]
type = "amplitude_http"
address = "127.0.0.1:{port}"
api_keys = ["{API_KEY}"]
[sinks.hook]
type = "webhook"
inputs = ["amp"]
url = "{}"
[sinks.hook.users]
enabled = false
"#,
            receiver.url()
        ),
        port,
    );
    let simple = |error: &str| json!({"code": 400, "error": error});
    let missing = |field: &str| json!({"code": 400, "error": "Request missing required field", "missing_field": field});
    let cases: Vec<(&str, &str, Vec<u8>, u16, Value)> = vec![
        (
            "/3/unknown",
            "application/json",
            b"{}".to_vec(),
            400,
            simple("Invalid request path"),
        ),
        (
            "/2/httpapi",
            "application/json",
            Vec::new(),
            400,
            simple("Missing request body"),
        ),
        (
            "/2/httpapi",
            "application/json",
            b"{\"api_key\":".to_vec(),
            400,
            simple("Invalid JSON request body"),
        ),
        (
            "/2/httpapi",
            "application/json",
            br#"{"events":[]}"#.to_vec(),
            400,
            missing("api_key"),
        ),
        (
            "/batch",
            "application/json",
            format!(r#"{{"api_key":"{API_KEY}"}}"#).into_bytes(),
            400,
            missing("events"),
        ),
        (
            "/2/httpapi",
            "application/json",
            format!(r#"{{"api_key":"{API_KEY}","events":"x"}}"#).into_bytes(),
            400,
            simple("Invalid event JSON"),
        ),
        (
            "/2/httpapi",
            "application/json",
            br#"{"api_key":"wrong-key","events":[{"event_type":"a","user_id":"user-1"}]}"#.to_vec(),
            400,
            simple("Invalid API key"),
        ),
        (
            "/identify",
            "application/x-www-form-urlencoded",
            format!("api_key={API_KEY}").into_bytes(),
            400,
            missing("identification"),
        ),
        (
            "/identify",
            "application/x-www-form-urlencoded",
            b"identification=%7B%7D".to_vec(),
            400,
            missing("api_key"),
        ),
    ];
    for (path, content_type, body, status, expected) in cases {
        let got = post(port, path, content_type, &body);
        assert_eq!(
            got,
            (status, expected),
            "POST {path} {:?}",
            String::from_utf8_lossy(&body)
        );
    }

    let invalid = json!({"api_key": API_KEY, "events": [
        {"event_type": "ok", "user_id": "user-1"},
        {"user_id": "user-2"},
        {"event_type": "short id", "user_id": "abc"},
        {"event_type": "no id"},
        {"event_type": "bad time", "device_id": "device-1", "time": "yesterday"},
    ]});
    assert_eq!(
        post_json(port, "/2/httpapi", &invalid),
        (
            400,
            json!({"code": 400, "error": "Invalid field values on some events",
            "events_with_invalid_fields": {"time": [4]},
            "events_with_missing_fields": {"event_type": [1], "user_id_or_device_id": [3]},
            "events_with_invalid_id_lengths": {"user_id": [2]}})
        )
    );
    let only_missing = json!({"api_key": API_KEY, "events": [{"user_id": "user-1"}]});
    assert_eq!(
        post_json(port, "/2/httpapi", &only_missing),
        (
            400,
            json!({"code": 400, "error": "Request missing required field",
            "events_with_invalid_fields": {}, "events_with_missing_fields": {"event_type": [0]},
            "events_with_invalid_id_lengths": {}})
        )
    );
    // The request's own min_id_length is honoured.
    let short = json!({"api_key": API_KEY, "events": [{"event_type": "a", "user_id": "ab"}],
        "options": {"min_id_length": 2}});
    assert_eq!(post_json(port, "/2/httpapi", &short).0, 200);

    let too_large = json!({"code": 413, "error": "Payload too large"});
    assert_eq!(
        post_json(port, "/2/httpapi", &events(0, 2001)),
        (413, too_large.clone())
    );
    let big = json!({"api_key": API_KEY, "events": [{"event_type": "big", "user_id": "user-1",
        "event_properties": {"pad": "x".repeat(1024 * 1024)}}]});
    assert_eq!(post_json(port, "/2/httpapi", &big), (413, too_large));
    // /batch takes up to 20 MB.
    let (status, body) = post_json(port, "/batch", &big);
    assert_eq!((status, &body["events_ingested"]), (200, &json!(1)));

    // Only the two accepted requests reach the webhook.
    assert!(receiver.wait_for(2, Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 2);
    running.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_webhook_reaches_the_client_as_503_and_nothing_is_lost() {
    let receiver = Receiver::start().await.expect("receiver");
    receiver.set_default(Reply::Hang);
    let port = free_port();
    let running = start(
        &format!(
            r#"
data_dir = "{{data_dir}}"
[sources.amp]
type = "amplitude_http"
address = "127.0.0.1:{port}"
backpressure_timeout_ms = 200
[sinks.hook]
type = "webhook"
inputs = ["amp"]
url = "{}"
[sinks.hook.users]
enabled = false
[sinks.hook.request]
timeout = "60s"
concurrency = 1
[sinks.hook.store]
max_records = 100
"#,
            receiver.url()
        ),
        port,
    );
    // The webhook never answers: the sink, the store and the channels fill, then the source
    // must refuse with 503 instead of holding ever more requests.
    let batch = 10;
    let mut accepted = 0;
    let mut refused = None;
    for request in 0..2000 {
        let (status, body) = post_json(port, "/2/httpapi", &events(request * batch, batch));
        match status {
            200 => accepted += 1,
            503 => {
                refused = Some((request, body));
                break;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let (refused_at, body) = refused.expect("the source never answered 503");
    assert_eq!(
        body,
        json!({"code": 503, "error": "Server is busy, retry later"})
    );
    eprintln!("accepted {accepted} requests of {batch} events before the first 503");

    // Once the webhook answers again, the pipeline drains and takes requests again.
    receiver.set_default(Reply::Status(200));
    receiver.release();
    let retry = events(refused_at * batch, batch);
    let mut status = 503;
    for _ in 0..100 {
        status = post_json(port, "/2/httpapi", &retry).0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "the source never accepted again");

    // Every accepted event arrives exactly once; the refused request only via its retry.
    let expected = (accepted + 1) * batch;
    assert!(
        receiver
            .wait_for(expected as u64, Duration::from_secs(20))
            .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.stop();
    let mut ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            let payload: Value = serde_json::from_slice(&r.body).expect("JSON payload");
            payload["$insert_id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    ids.sort();
    let mut want: Vec<String> = (0..accepted * batch)
        .chain(refused_at * batch..(refused_at + 1) * batch)
        .map(|i| format!("i-{i}"))
        .collect();
    want.sort();
    assert_eq!(ids, want);
}

/// POST `body` as JSON to `path` from the local address `from` (e.g. 127.0.0.2); the status.
async fn post_json_from(from: std::net::IpAddr, port: u16, path: &str, body: &Value) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind((from, 0).into())
        .expect("bind the client address");
    let mut stream = socket
        .connect(([127, 0, 0, 1], port).into())
        .await
        .expect("connect to the source");
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read the answer");
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {response:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_address_falls_back_to_the_client_address_and_fractional_times_are_truncated() {
    let receiver = Receiver::start().await.expect("receiver");
    let port = free_port();
    let running = start(
        &format!(
            r#"
data_dir = "{{data_dir}}"
[sources.amp]
type = "amplitude_http"
address = "127.0.0.1:{port}"
[sinks.hook]
type = "webhook"
inputs = ["amp"]
url = "{}"
[sinks.hook.users]
enabled = false
"#,
            receiver.url()
        ),
        port,
    );
    let body = json!({"api_key": API_KEY, "events": [
        {"event_type": "no ip", "user_id": "user-00001", "time": 1646078821795.9_f64},
        {"event_type": "remote", "user_id": "user-00001", "ip": "$remote", "time": 1646078821795_i64},
        {"event_type": "given", "user_id": "user-00001", "ip": "203.0.113.7", "time": 0.25_f64},
    ]});
    // From 127.0.0.2, so the address seen can only be the client socket's.
    let client = std::net::IpAddr::from([127, 0, 0, 2]);
    assert_eq!(post_json_from(client, port, "/2/httpapi", &body).await, 200);
    assert!(receiver.wait_for(3, Duration::from_secs(10)).await);
    running.stop();

    let mut seen: Vec<(String, String, String)> = receiver
        .received()
        .iter()
        .map(|r| {
            let payload: Value = serde_json::from_slice(&r.body).expect("JSON payload");
            let text = |key: &str| payload[key].as_str().unwrap_or_default().to_string();
            (text("event_type"), text("ip_address"), text("event_time"))
        })
        .collect();
    seen.sort();
    let row = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        seen,
        [
            row("given", "203.0.113.7", "1970-01-01 00:00:00.000"),
            row("no ip", "127.0.0.2", "2022-02-28 20:07:01.795"),
            row("remote", "127.0.0.2", "2022-02-28 20:07:01.795"),
        ]
    );
}
