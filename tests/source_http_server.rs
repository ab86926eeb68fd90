//! The `http_server` source through the real binary, over real HTTP: NDJSON, JSON arrays, single
//! objects and gzip bodies reach a local webhook through the `webhook` sink; bad records refuse
//! the whole request; bearer auth, body limits, paths, methods and CORS are answered as
//! documented; backpressure reaches the client as 503 with `Retry-After`, and with
//! acknowledgements the 200 waits for the webhook. Two tests replay requests exactly as Vector's
//! `http` sink and Fluent Bit's `http` output send them.

mod host_support;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::{Duration, Instant};

use host_support::{
    collect, free_port, scrape, signal, test_events, wait_exit, wait_until, Workspace,
};
use serde_json::{json, Value};
use support::{numbers, Receiver, Reply};

const TOKEN: &str = "test-token-7f3a";

/// One HTTP answer as it arrived.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("answer body {:?}: {error}", self.body))
    }
}

/// A keep-alive HTTP/1.1 connection to the source that sends requests byte for byte as given,
/// the way a log shipper reuses its connection; answers are read by their `Content-Length`.
struct Connection {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl Connection {
    fn open(port: u16) -> Connection {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the source");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("set a read timeout");
        Connection {
            stream,
            pending: Vec::new(),
        }
    }

    /// Sends `head` (the request line and headers, ending in an empty line) and `body`.
    fn send(&mut self, head: &str, body: &[u8]) -> Answer {
        self.stream
            .write_all(head.as_bytes())
            .expect("write the head");
        // A 413 may be answered (and the connection closed) before the body is read.
        let _ = self.stream.write_all(body);
        let head_end = self.read_until(|bytes| find(bytes, b"\r\n\r\n").map(|at| at + 4));
        let head_text = String::from_utf8_lossy(&self.pending[..head_end]).into_owned();
        let mut lines = head_text.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in {head_text:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0);
        let end = self
            .read_until(|bytes| (bytes.len() >= head_end + length).then_some(head_end + length));
        let body = String::from_utf8_lossy(&self.pending[head_end..end]).into_owned();
        self.pending.drain(..end);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Reads until `complete` finds the end of what is wanted in the bytes so far.
    fn read_until(&mut self, complete: impl Fn(&[u8]) -> Option<usize>) -> usize {
        loop {
            if let Some(end) = complete(&self.pending) {
                return end;
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk).unwrap_or(0);
            assert!(
                n > 0,
                "the connection ended inside an answer: {:?}",
                String::from_utf8_lossy(&self.pending)
            );
            self.pending.extend_from_slice(&chunk[..n]);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// `POST path` on a fresh connection with `headers` (name, value) and `body`.
fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    Connection::open(port).send(&head, body)
}

/// NDJSON with the right token: what most tests send.
fn post_ndjson(port: u16, body: &str) -> Answer {
    post(
        port,
        "/events",
        &[
            ("Content-Type", "application/x-ndjson"),
            ("Authorization", &format!("Bearer {TOKEN}")),
        ],
        body.as_bytes(),
    )
}

/// `bytes` compressed by the system's `gzip`, as a sender's zlib would.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut child = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run gzip");
    let mut stdin = child.stdin.take().expect("gzip's stdin");
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("gzip's output");
    writer.join().expect("the writer").expect("write to gzip");
    assert!(output.status.success(), "gzip failed");
    output.stdout
}

/// What differs between the tests' pipelines.
#[derive(Default)]
struct Setup<'a> {
    /// Extra keys for `[sources.in]`.
    source: &'a str,
    /// Extra tables for the sink (`[sinks.hook.X]` ...).
    sink: &'a str,
    /// `[sinks.hook.acknowledgements] enabled`.
    acknowledgements: bool,
}

/// `http_server` (on `/events`, bearer token, 64 KiB bodies) -> `webhook` (events only, the
/// record as its payload) -> `receiver`, with the API on its own port.
struct Running {
    child: Child,
    logs: Vec<std::thread::JoinHandle<String>>,
    port: u16,
    api: u16,
    _workspace: Workspace,
}

impl Running {
    fn start(receiver: &Receiver, setup: Setup) -> Running {
        let (port, api) = (free_port(), free_port());
        let config = format!(
            r#"
data_dir = "{{data_dir}}"
[api]
address = "127.0.0.1:{api}"
[sources.in]
type = "http_server"
address = "127.0.0.1:{port}"
path = "/events"
auth = {{ strategy = "bearer", token = "{TOKEN}" }}
max_body_bytes = 65536
{source}
[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "{url}"
[sinks.hook.users]
enabled = false
[sinks.hook.acknowledgements]
enabled = {acknowledgements}
{sink}
"#,
            source = setup.source,
            url = receiver.url(),
            acknowledgements = setup.acknowledgements,
            sink = setup.sink,
        );
        let workspace = Workspace::with_config(&config);
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
            port,
            api,
            _workspace: workspace,
        }
    }

    /// SIGTERM; the process must exit 0. Returns its output.
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

    /// A `component_*` metric of the source.
    fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut all = vec![("component_id", "in")];
        all.extend_from_slice(labels);
        scrape(self.api, name, &all)
    }
}

/// A receiver on the calling test's runtime.
fn receiver(runtime: &tokio::runtime::Runtime) -> Receiver {
    runtime
        .block_on(Receiver::start())
        .expect("a webhook receiver")
}

/// The `n` of every record the webhook got, sorted.
fn sorted_numbers(receiver: &Receiver) -> Vec<u64> {
    let mut all = numbers(receiver);
    all.sort_unstable();
    all
}

#[test]
fn ndjson_of_100_records_is_answered_200_once_the_webhook_has_all_100() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = receiver(&runtime);
    let running = Running::start(
        &receiver,
        Setup {
            acknowledgements: true,
            ..Setup::default()
        },
    );

    let answer = post_ndjson(running.port, &test_events(0..100));
    let delivered_at_answer = receiver.count();

    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 100}))
    );
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(delivered_at_answer, 100);
    assert_eq!(sorted_numbers(&receiver), (0..100).collect::<Vec<u64>>());
    assert_eq!(
        running.metric("component_received_events_total", &[]),
        100.0
    );
    assert_eq!(
        running.metric("component_received_bytes_total", &[]),
        test_events(0..100).len() as f64
    );
    running.stop();
}

#[test]
fn a_json_array_a_single_object_and_a_gzip_body_are_records_too() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = receiver(&runtime);
    let running = Running::start(
        &receiver,
        Setup {
            acknowledgements: true,
            ..Setup::default()
        },
    );
    let auth = format!("Bearer {TOKEN}");
    let json_headers = [
        ("Content-Type", "application/json"),
        ("Authorization", auth.as_str()),
    ];

    let array = json!([
        {"event_type": "Test", "user_id": "u", "n": 100},
        {"event_type": "Test", "user_id": "u", "n": 101},
        {"event_type": "Test", "user_id": "u", "n": 102},
    ]);
    let answer = post(
        running.port,
        "/events",
        &json_headers,
        array.to_string().as_bytes(),
    );
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 3}))
    );

    let object = "{\n  \"event_type\": \"Test\",\n  \"user_id\": \"u\",\n  \"n\": 200\n}\n";
    let answer = post(running.port, "/events", &json_headers, object.as_bytes());
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 1}))
    );

    let compressed = gzip(test_events(300..310).as_bytes());
    let answer = post(
        running.port,
        "/events",
        &[
            ("Content-Type", "application/x-ndjson"),
            ("Content-Encoding", "gzip"),
            ("Authorization", &auth),
        ],
        &compressed,
    );
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 10}))
    );

    let expected: Vec<u64> = [100, 101, 102, 200].into_iter().chain(300..310).collect();
    assert_eq!(sorted_numbers(&receiver), expected);
    // The payload is the record as it was posted, field for field.
    let payloads: Vec<Value> = receiver
        .received()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("a JSON payload"))
        .collect();
    assert!(payloads.contains(&json!({"event_type": "Test", "user_id": "u", "n": 200})));
    running.stop();
}

/// Log events as Vector's `json` codec writes them: the record's fields plus Vector's own.
fn vector_events(numbers: std::ops::Range<u64>) -> Vec<String> {
    numbers
        .map(|n| {
            json!({
                "event_type": "Purchase", "user_id": "u", "n": n,
                "host": "web-1", "source_type": "file", "file": "/var/log/app/events.log",
                "message": "purchase", "timestamp": "2024-05-01T12:34:56.789123Z",
            })
            .to_string()
        })
        .collect()
}

/// Vector's `http` sink as it sends: hyper's lowercase headers, keep-alive, its user agent,
/// `auth.strategy = "bearer"`; with `framing.method = "newline_delimited"` the events joined by
/// `\n` without a trailing one as `application/x-ndjson`, gzip with `compression = "gzip"`, and
/// with the default framing a JSON array as `application/json`.
#[test]
fn requests_exactly_as_vectors_http_sink_sends_them_are_accepted() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = receiver(&runtime);
    let running = Running::start(
        &receiver,
        Setup {
            acknowledgements: true,
            ..Setup::default()
        },
    );
    let head = |content_type: &str, encoding: Option<&str>, length: usize| {
        let encoding = encoding.map_or_else(String::new, |e| format!("content-encoding: {e}\r\n"));
        format!(
            "POST /events HTTP/1.1\r\ncontent-type: {content_type}\r\n{encoding}\
             authorization: Bearer {TOKEN}\r\n\
             user-agent: Vector/0.41.1 (x86_64-unknown-linux-gnu 745babd 2024-09-11 14:55:36.802851761)\r\n\
             accept-encoding: zstd,gzip,deflate,br\r\nhost: 127.0.0.1:{}\r\ncontent-length: {length}\r\n\r\n",
            running.port
        )
    };
    let mut vector = Connection::open(running.port);

    let ndjson = vector_events(0..50).join("\n");
    let answer = vector.send(
        &head("application/x-ndjson", None, ndjson.len()),
        ndjson.as_bytes(),
    );
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 50}))
    );

    let compressed = gzip(vector_events(50..60).join("\n").as_bytes());
    let answer = vector.send(
        &head("application/x-ndjson", Some("gzip"), compressed.len()),
        &compressed,
    );
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 10}))
    );

    let array = format!("[{}]", vector_events(60..70).join(","));
    let answer = vector.send(
        &head("application/json", None, array.len()),
        array.as_bytes(),
    );
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 10}))
    );

    // One event in a batch: one line, no newline at all.
    let single = vector_events(70..71).join("\n");
    let answer = vector.send(
        &head("application/x-ndjson", None, single.len()),
        single.as_bytes(),
    );
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 1}))
    );

    assert_eq!(sorted_numbers(&receiver), (0..71).collect::<Vec<u64>>());
    running.stop();
}

/// Fluent Bit's `http` output with `Format json_lines`: each record with its `date` (a double,
/// `json_date_format`'s default) and a newline after every line, its HTTP client's headers and
/// keep-alive, `Header Authorization Bearer ...`; older releases label the lines
/// `application/json`, newer ones (fluent/fluent-bit#8715) `application/x-ndjson`;
/// `Compress gzip` adds gzip.
#[test]
fn requests_exactly_as_fluent_bits_http_output_sends_them_are_accepted() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = receiver(&runtime);
    let running = Running::start(
        &receiver,
        Setup {
            acknowledgements: true,
            ..Setup::default()
        },
    );
    let lines = |numbers: std::ops::Range<u64>| -> String {
        numbers
            .map(|n| {
                format!(
                    "{{\"date\":1714566896.789123,\"event_type\":\"Purchase\",\"user_id\":\"u\",\"n\":{n},\"log\":\"purchase\"}}\n"
                )
            })
            .collect()
    };
    let head = |content_type: &str, gzip: bool, length: usize| {
        let encoding = if gzip {
            "Content-Encoding: gzip\r\n"
        } else {
            ""
        };
        format!(
            "POST /events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {length}\r\n\
             Connection: keep-alive\r\nContent-Type: {content_type}\r\n{encoding}\
             User-Agent: Fluent-Bit\r\nAuthorization: Bearer {TOKEN}\r\n\r\n",
            running.port
        )
    };
    let mut fluent_bit = Connection::open(running.port);

    let body = lines(0..40);
    let answer = fluent_bit.send(
        &head("application/json", false, body.len()),
        body.as_bytes(),
    );
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 40}))
    );

    let body = lines(40..60);
    let answer = fluent_bit.send(
        &head("application/x-ndjson", false, body.len()),
        body.as_bytes(),
    );
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 20}))
    );

    let compressed = gzip(lines(60..65).as_bytes());
    let answer = fluent_bit.send(
        &head("application/json", true, compressed.len()),
        &compressed,
    );
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 5}))
    );

    // A chunk of one record is one line: still NDJSON, not "one object".
    let body = lines(65..66);
    let answer = fluent_bit.send(
        &head("application/json", false, body.len()),
        body.as_bytes(),
    );
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 1}))
    );

    assert_eq!(sorted_numbers(&receiver), (0..66).collect::<Vec<u64>>());
    let first: Value = serde_json::from_slice(&receiver.received()[0].body).expect("JSON payload");
    assert_eq!(first["date"], json!(1714566896.789123));
    running.stop();
}

#[test]
fn a_bad_record_refuses_the_whole_request_naming_it_and_nothing_reaches_the_webhook() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = receiver(&runtime);
    let running = Running::start(
        &receiver,
        Setup {
            acknowledgements: true,
            ..Setup::default()
        },
    );

    let mut lines: Vec<String> = test_events(0..5).lines().map(str::to_owned).collect();
    lines[2] = "{\"event_type\":\"Test\",\"user_id\":\"u\",\"n\":}".to_owned();
    let answer = post_ndjson(running.port, &lines.join("\n"));
    assert_eq!(
        (answer.status, answer.json()),
        (
            400,
            json!({"error": "line 3, column 40: expected value", "line": 3})
        )
    );

    let auth = format!("Bearer {TOKEN}");
    let array = json!([{"event_type": "Test", "user_id": "u", "n": 10}, "not a record"]);
    let answer = post(
        running.port,
        "/events",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &auth),
        ],
        array.to_string().as_bytes(),
    );
    assert_eq!(
        (answer.status, answer.json()),
        (
            400,
            json!({"error": "element 1: expected a JSON object, found a string", "element": 1})
        )
    );

    // A good request afterwards is delivered (acknowledged, so it is at the webhook now), and
    // it is all the webhook ever got.
    let answer = post_ndjson(running.port, &test_events(999..1000));
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 1}))
    );
    assert_eq!(sorted_numbers(&receiver), [999]);
    assert_eq!(running.metric("component_received_events_total", &[]), 1.0);
    assert_eq!(
        running.metric(
            "component_errors_total",
            &[("error_type", "parser_failed"), ("stage", "receiving")]
        ),
        2.0
    );
    running.stop();
}

#[test]
fn requests_without_the_right_bearer_token_get_401_and_with_it_200() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = receiver(&runtime);
    let running = Running::start(&receiver, Setup::default());
    let body = test_events(0..1);
    let wrong = format!("Bearer {TOKEN}x");
    let basic = format!("Basic {TOKEN}");
    let cases: [&[(&str, &str)]; 3] = [
        &[],
        &[("Authorization", wrong.as_str())],
        &[("Authorization", basic.as_str())],
    ];
    for headers in cases {
        let answer = post(running.port, "/events", headers, body.as_bytes());
        assert_eq!(answer.status, 401, "{headers:?}");
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Bearer"),
            "{headers:?}"
        );
        assert_eq!(
            answer.json(),
            json!({"error": "missing or wrong bearer token"})
        );
    }
    let answer = post_ndjson(running.port, &body);
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 1}))
    );
    assert!(wait_until(Duration::from_secs(10), || receiver.count() == 1));
    running.stop();
}

#[test]
fn a_body_over_max_body_bytes_gets_413_also_when_it_only_inflates_past_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = receiver(&runtime);
    let running = Running::start(
        &receiver,
        Setup {
            acknowledgements: true,
            ..Setup::default()
        },
    );
    let auth = format!("Bearer {TOKEN}");
    let too_long = test_events(0..2000);
    assert!(too_long.len() > 65536);
    let expected = json!({"error": "body larger than 65536 bytes (max_body_bytes)"});

    let answer = post_ndjson(running.port, &too_long);
    assert_eq!((answer.status, answer.json()), (413, expected.clone()));

    let compressed = gzip(too_long.as_bytes());
    assert!(compressed.len() < 65536);
    let answer = post(
        running.port,
        "/events",
        &[("Content-Encoding", "gzip"), ("Authorization", &auth)],
        &compressed,
    );
    assert_eq!((answer.status, answer.json()), (413, expected));

    let answer = post_ndjson(running.port, &test_events(0..1000));
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 1000}))
    );
    assert_eq!(receiver.count(), 1000);
    running.stop();
}

#[test]
fn other_paths_get_404_other_methods_405_and_a_preflight_204_with_the_allowed_origin() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = receiver(&runtime);
    let running = Running::start(&receiver, Setup::default());
    let port = running.port;

    let answer = post_ndjson(port, &test_events(0..1)).status;
    assert_eq!(answer, 200);
    let answer = post(
        port,
        "/other",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        b"{}",
    );
    assert_eq!(
        (answer.status, answer.json()),
        (
            404,
            json!({"error": "no such path; records are posted to /events"})
        )
    );
    let get = |path: &str| {
        Connection::open(port).send(
            &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
            b"",
        )
    };
    assert_eq!(get("/").status, 404);
    let answer = get("/events");
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("POST, OPTIONS"));

    // A web page's preflight needs no token; its POST then carries the allowed origin.
    let preflight = Connection::open(port).send(
        "OPTIONS /events HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://app.test\r\n\
         Access-Control-Request-Method: POST\r\n\
         Access-Control-Request-Headers: authorization, content-type\r\n\r\n",
        b"",
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("POST, OPTIONS")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("authorization, content-type")
    );
    let answer = post(
        port,
        "/events",
        &[
            ("Origin", "http://app.test"),
            ("Authorization", &format!("Bearer {TOKEN}")),
        ],
        test_events(1..2).as_bytes(),
    );
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    let refused = post(port, "/events", &[("Origin", "http://app.test")], b"{}");
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("access-control-allow-origin"), Some("*"));
    assert!(wait_until(Duration::from_secs(10), || receiver.count() == 2));
    running.stop();
}

#[test]
fn beyond_max_in_flight_requests_a_hanging_webhook_turns_requests_into_503_with_retry_after() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = receiver(&runtime);
    receiver.set_default(Reply::Hang);
    let running = Running::start(
        &receiver,
        Setup {
            source: "max_in_flight_requests = 1",
            // No circuit: the held request must wait for the webhook, not for the store.
            sink: "[sinks.hook.request]\ntimeout = \"60s\"\n[sinks.hook.circuit]\nenabled = false",
            acknowledgements: true,
        },
    );
    let port = running.port;
    let held = std::thread::spawn(move || post_ndjson(port, &test_events(0..1)));
    assert!(wait_until(Duration::from_secs(10), || receiver.count() == 1));

    // The one request allowed in flight waits for its acknowledgement: the next is refused.
    let refused = post_ndjson(port, &test_events(1..2));
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(
        refused.json(),
        json!({"error": "too many requests in flight; retry later"})
    );
    assert!(!held.is_finished(), "answered before the webhook did");

    receiver.set_default(Reply::Status(200));
    receiver.release();
    let held = held.join().expect("the held request");
    assert_eq!((held.status, held.json()), (200, json!({"accepted": 1})));
    let retried = post_ndjson(port, &test_events(1..2));
    assert_eq!(
        (retried.status, retried.json()),
        (200, json!({"accepted": 1}))
    );
    assert_eq!(sorted_numbers(&receiver), [0, 1]);
    running.stop();
}

#[test]
fn a_full_pipeline_answers_503_with_retry_after_once_backpressure_timeout_passes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = receiver(&runtime);
    receiver.set_default(Reply::Hang);
    let running = Running::start(
        &receiver,
        Setup {
            source: "backpressure_timeout_ms = 200",
            sink: "[sinks.hook.request]\ntimeout = \"60s\"\nconcurrency = 1\n[sinks.hook.store]\nmax_records = 100",
            acknowledgements: false,
        },
    );
    // The webhook never answers: sink, store and channels fill, then the source refuses.
    let mut accepted = 0u64;
    let refused = (0..1000u64).find_map(|request| {
        let answer = post_ndjson(
            running.port,
            &test_events(request as u32 * 10..request as u32 * 10 + 10),
        );
        match answer.status {
            200 => {
                accepted += 1;
                None
            }
            503 => Some((request, answer)),
            other => panic!("unexpected {other}: {}", answer.body),
        }
    });
    let (refused_at, answer) = refused.expect("the source never answered 503");
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert_eq!(
        answer.json(),
        json!({"error": "the pipeline is full; retry later"})
    );
    assert!(running.metric("component_errors_total", &[("error_type", "timed_out")]) >= 1.0);
    eprintln!("{accepted} requests of 10 records accepted before the first 503");

    // Once the webhook answers, the retry of the refused request is taken and all arrive.
    receiver.set_default(Reply::Status(200));
    receiver.release();
    let retry = test_events(refused_at as u32 * 10..refused_at as u32 * 10 + 10);
    let taken = wait_until(Duration::from_secs(30), || {
        post_ndjson(running.port, &retry).status == 200
    });
    assert!(taken, "the source never accepted again");
    let all = (accepted + 1) * 10;
    assert!(wait_until(
        Duration::from_secs(30),
        || numbers(&receiver).len() as u64 >= all
    ));
    running.stop();
    let mut distinct = sorted_numbers(&receiver);
    distinct.dedup();
    assert_eq!(distinct, (0..all).collect::<Vec<u64>>());
}

#[test]
fn with_acknowledgements_the_200_comes_only_after_the_webhook_took_every_record() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = receiver(&runtime);
    receiver.set_default(Reply::Delay(Duration::from_millis(500)));
    let running = Running::start(
        &receiver,
        Setup {
            acknowledgements: true,
            ..Setup::default()
        },
    );

    let started = Instant::now();
    let answer = post_ndjson(running.port, &test_events(0..10));
    let (elapsed, received) = (started.elapsed(), receiver.count());

    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"accepted": 10}))
    );
    assert_eq!(received, 10, "answered before the webhook had every record");
    // Every webhook answer takes 500 ms: the 200 cannot come sooner.
    assert!(
        elapsed >= Duration::from_millis(500),
        "answered after {elapsed:?}"
    );
    running.stop();
}
