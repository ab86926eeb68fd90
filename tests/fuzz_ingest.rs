//! Bounded fuzzing of the Amplitude ingestion parser, through the real binary over HTTP.
//!
//! `amplitude_http` is the one place the pipeline reads bodies from anyone who can reach its
//! port, so every body must get one of Amplitude's JSON answers (200, 400, 413, or 503 when the
//! pipeline is full), never a dropped connection, another 5xx, a hang or a dead process. The
//! request parser is private to the host crate, so the harness drives it the way a client does:
//! one `webhook-sink run` process with the source on 127.0.0.1, a filter and two webhook sinks
//! (the example templates and the default payloads) delivering to an in-process receiver, so
//! whatever the parser accepts also goes through time normalization, conditions and rendering.
//!
//! The bodies are valid Amplitude requests (as in `tests/source_amplitude.rs`) edited as text
//! (JSON punctuation, escapes, huge numbers, deep nesting and Unicode spliced in), as bytes
//! (invalid UTF-8), and as JSON trees (a value replaced by one of any type, removed, or a key
//! added), posted to the three endpoints as they are, gzip-compressed, or with an `X-Forwarded-For`
//! the source has to read. Case counts are modest (one process answers them all, in debug).
//!
//! A case fails on a wrong answer; if the process died, that case is reported as it is (later
//! cases, shrinking included, pass, since nothing answers any more). Failures are saved in
//! `tests/proptest-regressions/fuzz_ingest.txt` and replayed first.

mod host_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use host_support::{collect, free_port, signal, wait_exit, wait_until, Workspace};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence, TestRunner};
use serde_json::{json, Value};
use webhook_receiver::{Receiver, Reply};

const API_KEY: &str = "fuzz-key-1";

/// How long one answer may take: far beyond the source's 1 s backpressure timeout.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

fn fuzz_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/fuzz_ingest.txt",
        ))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The process under test
// ---------------------------------------------------------------------------------------------

/// The pipeline: the source, a filter with the example's condition, one sink rendering the
/// example templates behind it and one sending default payloads; one try per attempt,
/// `attempts` later attempts, no acknowledgements (with them a rejected render would rightly
/// answer 500).
fn pipeline(port: u16, url: &str, attempts: u32) -> String {
    let templates = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/templates");
    format!(
        r#"
data_dir = "{{data_dir}}"

[sources.amp]
type = "amplitude_http"
address = "127.0.0.1:{port}"
api_keys = ["{API_KEY}"]
backpressure_timeout_ms = 1000

[transforms.filtered]
type = "filter"
inputs = ["amp"]
condition = {{ any = [
  {{ field = "event_type", op = "is", value = ["click", "Purchase"] }},
  {{ field = "event_properties.price", op = "greater_than", value = 10 }},
  {{ field = "user_properties.email", op = "exists" }},
] }}

[sinks.templates]
type = "webhook"
inputs = ["filtered"]
url = "{url}"
[sinks.templates.events]
template_file = "{templates}/event.ftl"
[sinks.templates.users]
template_file = "{templates}/user.ftl"
[sinks.templates.retry]
tries = 1
attempts = {attempts}

[sinks.plain]
type = "webhook"
inputs = ["amp"]
url = "{url}"
[sinks.plain.retry]
tries = 1
attempts = {attempts}
"#
    )
}

/// The running binary; stopped (and its logs checked) by [`Server::stop`], killed on drop.
struct Server {
    child: Child,
    port: u16,
    logs: Vec<std::thread::JoinHandle<String>>,
    _workspace: Workspace,
}

impl Server {
    fn start(url: &str, attempts: u32) -> Server {
        let port = free_port();
        let workspace = Workspace::with_config(&pipeline(port, url, attempts));
        let mut child = workspace.spawn_run();
        let logs = vec![
            collect(child.stdout.take().expect("stdout piped")),
            collect(child.stderr.take().expect("stderr piped")),
        ];
        let listening = wait_until(Duration::from_secs(30), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(listening, "the source never listened on port {port}");
        Server {
            child,
            port,
            logs,
            _workspace: workspace,
        }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, a clean exit, and no panic (not even one caught around the template engine).
    fn stop(mut self) {
        signal(&self.child, "TERM");
        let status = wait_exit(&mut self.child, Duration::from_secs(20));
        let logs: Vec<String> = std::mem::take(&mut self.logs)
            .into_iter()
            .filter_map(|h| h.join().ok())
            .collect();
        let logs = logs.join("\n");
        assert!(status.is_some_and(|s| s.success()), "unclean exit: {logs}");
        for sign in ["panicked", "an internal error"] {
            assert!(!logs.contains(sign), "`{sign}` in the logs:\n{logs}");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Requests and answers
// ---------------------------------------------------------------------------------------------

/// One request as the harness sends it.
#[derive(Clone, Debug)]
struct Post {
    method: &'static str,
    path: &'static str,
    content_type: &'static str,
    gzip: bool,
    forwarded_for: Option<String>,
    body: Vec<u8>,
}

/// Status and body of the answer, or why there was none.
fn send(port: u16, post: &Post) -> Result<(u16, String), String> {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(ANSWER_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        post.method,
        post.path,
        post.content_type,
        post.body.len()
    );
    if post.gzip {
        head.push_str("Content-Encoding: gzip\r\n");
    }
    if let Some(forwarded) = &post.forwarded_for {
        head.push_str(&format!("X-Forwarded-For: {forwarded}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    // A 413 may come before the whole body is read.
    let _ = stream.write_all(&post.body);
    let mut response = Vec::new();
    if let Err(error) = stream.read_to_end(&mut response) {
        if response.is_empty() {
            return Err(format!("no answer: {error}"));
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}

/// The answers Amplitude's API gives: the status, and a JSON object whose `code` repeats it.
fn check_answer(status: u16, body: &str) -> Result<(), String> {
    if ![200, 400, 413, 503].contains(&status) {
        return Err(format!("status {status}: {body}"));
    }
    let json: Value = serde_json::from_str(body).map_err(|e| format!("body {body:?}: {e}"))?;
    if json["code"] != json!(status) {
        return Err(format!("status {status} with body {body}"));
    }
    if status == 200 && !json["events_ingested"].is_u64() {
        return Err(format!("a 200 without events_ingested: {body}"));
    }
    Ok(())
}

/// Set once the process is found dead: the case that killed it is the one reported.
static DEAD: AtomicBool = AtomicBool::new(false);

/// Sends `post` and checks the answer and that the process is still running.
fn check_post(server: &Mutex<Server>, post: &Post) -> Result<(), TestCaseError> {
    if DEAD.load(Ordering::SeqCst) {
        return Ok(());
    }
    let mut server = server.lock().unwrap_or_else(|p| p.into_inner());
    let answer = send(server.port, post);
    if !server.alive() {
        DEAD.store(true, Ordering::SeqCst);
        return Err(TestCaseError::fail(format!(
            "the process died on this request ({answer:?})"
        )));
    }
    let (status, body) = answer.map_err(TestCaseError::fail)?;
    check_answer(status, &body).map_err(TestCaseError::fail)
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

/// Valid requests for `/2/httpapi` and `/batch`, shaped like the SDKs' (every mapped field).
fn json_seeds() -> Vec<Value> {
    vec![
        json!({"api_key": API_KEY, "events": [{
            "event_type": "click", "user_id": "user-00001", "insert_id": "i-1",
            "time": 1_646_078_821_795_i64,
            "event_properties": {"price": 12.5, "items": [{"sku": "A-1"}]},
            "user_properties": {"email": "ada@example.com", "plan": "pro"},
        }]}),
        json!({"api_key": API_KEY, "options": {"min_id_length": 2}, "events": [
            {"event_type": "Purchase", "device_id": "dv", "ip": "$remote", "carrier": "T",
             "app_version": "1.2", "library": "amplitude-python/1.0", "time": 1_646_078_821_795.9_f64,
             "groups": {"org": "o1"}, "session_id": 1_646_078_800_000_i64, "price": "12.50"},
            {"event_type": "Page Viewed", "user_id": "user-00002", "ip": "203.0.113.7",
             "version_name": "2.0", "app_version": "1.0", "time": 0},
        ]}),
        json!({"api_key": API_KEY, "events": [
            {"event_type": "$identify", "user_id": "user-00003",
             "user_properties": {"$set": {"email": "x@example.com"}}},
            {"event_type": "$groupidentify", "user_id": "user-00003",
             "group_properties": {"$set": {"size": 10}}},
        ]}),
    ]
}

/// A valid `/identify` identification.
fn identification_seed() -> Value {
    json!([{"user_id": "user-00004", "device_id": "device-4",
            "user_properties": {"$set": {"plan": "pro"}, "$add": {"visits": 1}}}])
}

/// `application/x-www-form-urlencoded` for the given pairs.
fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// `data` gzip-compressed, as an SDK's zlib would.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("compress in memory");
    encoder.finish().expect("compress in memory")
}

/// What gets spliced into JSON text: its punctuation, escapes the decoder must check, numbers
/// beyond every width, deep nesting, and the values the mapping treats specially.
const SPLICES: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\\",
    "\\\"",
    "\\u0000",
    "\\uD800",
    "\\uDFFF",
    "\\uD800\\uDC00",
    "\\x",
    "1e999",
    "-1e999",
    "-0",
    "0.0000000000000000000001",
    "18446744073709551616",
    "-9223372036854775809",
    "9.2e18",
    "9223372036854775807",
    "1.7976931348623157e308",
    "NaN",
    "Infinity",
    "null",
    "true",
    "\"$remote\"",
    "\"$identify\"",
    "\"$groupidentify\"",
    "\"time\":",
    "\"event_type\":",
    "\"user_id\":",
    "\"ip\":",
    "\"insert_id\":",
    "\"api_key\":",
    "\"events\":",
    "\"options\":{\"min_id_length\":0},",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":",
    "é",
    "世界",
    "🎉",
    "\u{202e}",
    "\u{feff}",
    "\u{fffd}",
    " ",
    "\n",
    "\t",
    "${input.user_id}",
    "<#list 1..3 as i>",
    "2022-02-28 20:07:01.795123",
];

/// One edit of a body; positions are taken modulo its length when applied.
#[derive(Clone, Debug)]
enum Edit {
    Delete(Index, usize),
    Insert(Index, String),
    Duplicate(Index, usize, Index),
    Flip(Index, char),
    /// A byte replaced: the body may stop being UTF-8.
    Byte(Index, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    let piece = prop_oneof![
        4 => proptest::sample::select(SPLICES).prop_map(str::to_owned),
        1 => "\\PC{1,6}",
    ];
    prop_oneof![
        1 => (any::<Index>(), 1..30usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        3 => (any::<Index>(), piece).prop_map(|(at, text)| Edit::Insert(at, text)),
        1 => (any::<Index>(), 1..120usize, any::<Index>())
            .prop_map(|(at, n, to)| Edit::Duplicate(at, n, to)),
        1 => (any::<Index>(), any::<char>()).prop_map(|(at, c)| Edit::Flip(at, c)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, b)| Edit::Byte(at, b)),
    ]
}

/// `body` with `edits` applied in order (bytes, so a `Byte` edit can break UTF-8; text edits
/// land on any byte, which can too).
fn apply(body: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut bytes = body.to_vec();
    for edit in edits {
        let len = bytes.len();
        match edit {
            Edit::Delete(at, n) => {
                let start = at.index(len + 1);
                bytes.drain(start..(start + n).min(len));
            }
            Edit::Insert(at, text) => {
                let at = at.index(len + 1);
                bytes.splice(at..at, text.bytes());
            }
            Edit::Duplicate(at, n, to) => {
                let start = at.index(len + 1);
                let slice = bytes[start..(start + n).min(len)].to_vec();
                let to = to.index(len + 1);
                bytes.splice(to..to, slice);
            }
            Edit::Flip(at, c) if len > 0 => {
                let at = at.index(len);
                bytes.splice(at..at + 1, c.to_string().bytes());
            }
            Edit::Byte(at, b) if len > 0 => bytes[at.index(len)] = *b,
            Edit::Flip(..) | Edit::Byte(..) => {}
        }
    }
    bytes
}

/// A JSON value of any type, with the numbers and strings the mapping and the sink care about.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            proptest::num::f64::NORMAL.prop_map(Value::from),
            Just(json!(-1)),
            Just(json!(-0.5)),
            Just(json!(9.2e18)),
            Just(json!(1e300)),
            Just(json!(253_402_300_800_000_i64)),
            Just(json!(u64::MAX)),
        ],
        3 => proptest::sample::select(vec![
            "", "$remote", "$identify", "$groupidentify", "user-00001", "abc", "203.0.113.7",
            "::1", "not an ip", "2022-02-28 20:07:01.795123", "2022-02-28T20:07:01Z", "yesterday",
            "${input.user_id}", "<#if", "\"", "\\", "é", "\u{0}", "🎉",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
        1 => "\\PC{0,12}".prop_map(Value::String),
    ];
    let nested = leaf.clone().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(proptest::sample::select(EVENT_KEYS), inner, 0..4)
                .prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
        ]
    });
    prop_oneof![3 => leaf, 1 => nested, 1 => (1..150usize).prop_map(deep)]
}

/// `depth` nested arrays around a string: at and past the JSON decoder's nesting limit.
fn deep(depth: usize) -> Value {
    (0..depth).fold(json!("bottom"), |inner, _| json!([inner]))
}

/// Keys of requests and events, for added keys.
const EVENT_KEYS: &[&str] = &[
    "api_key",
    "events",
    "options",
    "min_id_length",
    "event_type",
    "user_id",
    "device_id",
    "time",
    "insert_id",
    "ip",
    "carrier",
    "app_version",
    "version_name",
    "library",
    "event_properties",
    "user_properties",
    "groups",
    "group_properties",
    "event_time",
    "client_event_time",
    "server_upload_time",
    "$set",
    "price",
    "email",
    "items",
    "sku",
    "",
];

/// One step into a JSON tree.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Item(usize),
}

fn value_paths(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(prefix.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                prefix.push(Step::Key(key.clone()));
                value_paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                prefix.push(Step::Item(index));
                value_paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at_path<'a>(value: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(value, |value, step| match step {
        Step::Key(key) => &mut value[key.as_str()],
        Step::Item(index) => &mut value[*index],
    })
}

/// One edit of a JSON tree.
#[derive(Clone, Debug)]
enum TreeEdit {
    Replace(Index, Value),
    Remove(Index),
    Add(Index, &'static str, Value),
}

fn tree_edit() -> impl Strategy<Value = TreeEdit> {
    prop_oneof![
        3 => (any::<Index>(), json_value()).prop_map(|(at, v)| TreeEdit::Replace(at, v)),
        1 => any::<Index>().prop_map(TreeEdit::Remove),
        2 => (any::<Index>(), proptest::sample::select(EVENT_KEYS), json_value())
            .prop_map(|(at, key, v)| TreeEdit::Add(at, key, v)),
    ]
}

fn apply_tree(root: &mut Value, edit: &TreeEdit) {
    let mut paths = Vec::new();
    value_paths(root, &mut Vec::new(), &mut paths);
    match edit {
        TreeEdit::Replace(at, value) => {
            let path = &paths[at.index(paths.len())];
            if !path.is_empty() {
                *at_path(root, path) = value.clone();
            }
        }
        TreeEdit::Remove(at) => {
            let path = &paths[at.index(paths.len())];
            if let Some((last, parent)) = path.split_last() {
                match (last, at_path(root, parent)) {
                    (Step::Key(key), Value::Object(map)) => {
                        map.remove(key);
                    }
                    (Step::Item(index), Value::Array(items)) => {
                        items.remove(*index);
                    }
                    _ => unreachable!("paths are taken from the same tree"),
                }
            }
        }
        TreeEdit::Add(at, key, value) => {
            let path = &paths[at.index(paths.len())];
            if let Value::Object(map) = at_path(root, path) {
                map.insert((*key).to_owned(), value.clone());
            }
        }
    }
}

/// A JSON endpoint, gzip or not, with or without a forwarded address.
fn json_post(body: Vec<u8>, batch: bool, gzip_it: bool, forwarded_for: Option<String>) -> Post {
    Post {
        method: "POST",
        path: if batch { "/batch" } else { "/2/httpapi" },
        content_type: "application/json",
        gzip: gzip_it,
        body: if gzip_it { gzip(&body) } else { body },
        forwarded_for,
    }
}

/// `X-Forwarded-For` values: addresses, lists, garbage (printable ASCII, so the header is valid).
fn forwarded_for() -> impl Strategy<Value = Option<String>> {
    proptest::option::weighted(
        0.3,
        prop_oneof![
            proptest::sample::select(vec![
                "203.0.113.9",
                "203.0.113.9, 10.0.0.1",
                "::1",
                "[::1]",
                "999.1.1.1",
                "",
                ",",
                " , 198.51.100.1",
            ])
            .prop_map(str::to_owned),
            "[ -~]{0,40}",
        ],
    )
}

/// Bodies for the JSON endpoints: a seed edited as text.
fn edited_json_post() -> impl Strategy<Value = Post> {
    (
        proptest::sample::select(json_seeds()),
        proptest::collection::vec(edit(), 1..6),
        any::<bool>(),
        proptest::bool::weighted(0.2),
        forwarded_for(),
    )
        .prop_map(|(seed, edits, batch, gzip_it, forwarded)| {
            json_post(
                apply(seed.to_string().as_bytes(), &edits),
                batch,
                gzip_it,
                forwarded,
            )
        })
}

/// Bodies for the JSON endpoints: a seed edited as a tree.
fn tree_edited_json_post() -> impl Strategy<Value = Post> {
    (
        proptest::sample::select(json_seeds()),
        proptest::collection::vec(tree_edit(), 1..5),
        any::<bool>(),
        proptest::bool::weighted(0.2),
        forwarded_for(),
    )
        .prop_map(|(mut seed, edits, batch, gzip_it, forwarded)| {
            for edit in &edits {
                apply_tree(&mut seed, edit);
            }
            json_post(seed.to_string().into_bytes(), batch, gzip_it, forwarded)
        })
}

/// Requests the parser accepts, carrying hostile values where clients may put anything: the
/// properties, the time fields the sink normalizes, the address, extra keys.
fn accepted_post() -> impl Strategy<Value = Post> {
    let field_value = proptest::collection::btree_map(
        proptest::sample::select(vec![
            "event_properties",
            "user_properties",
            "groups",
            "group_properties",
            "ip",
            "user_creation_time",
            "processed_time",
            "server_upload_time",
            "event_time",
            "client_event_time",
            "insert_id",
            "library",
            "carrier",
            "app_version",
            "version_name",
            "session_id",
            "price",
            "uuid",
            "$insert_id",
            "",
        ]),
        json_value(),
        0..6,
    );
    let time = proptest::option::of(prop_oneof![
        (0..=9_200_000_000_000_000_000_i64).prop_map(Value::from),
        (0.0..9.1e18f64).prop_map(Value::from),
        Just(json!(253_402_300_800_000_i64)),
    ]);
    let event_type = proptest::sample::select(vec![
        "click",
        "Purchase",
        "Page Viewed",
        "$identify",
        "$groupidentify",
        "é",
        "\"",
        "${x}",
    ]);
    let event = (event_type, "[a-z0-9é-]{5,12}", time, field_value).prop_map(
        |(event_type, user_id, time, fields)| {
            let mut event = json!({"event_type": event_type, "user_id": user_id});
            for (key, value) in fields {
                event[key] = value;
            }
            if let Some(time) = time {
                event["time"] = time;
            }
            event
        },
    );
    (
        proptest::collection::vec(event, 1..4),
        any::<bool>(),
        proptest::bool::weighted(0.2),
        forwarded_for(),
    )
        .prop_map(|(events, batch, gzip_it, forwarded)| {
            let body = json!({"api_key": API_KEY, "events": events});
            json_post(body.to_string().into_bytes(), batch, gzip_it, forwarded)
        })
}

/// `/identify` forms: the identification edited as a tree or as text, keys dropped or doubled.
fn identify_post() -> impl Strategy<Value = Post> {
    (
        proptest::collection::vec(tree_edit(), 0..4),
        proptest::collection::vec(edit(), 0..4),
        proptest::sample::select(vec!["both", "no key", "no identification", "twice", "raw"]),
    )
        .prop_map(|(tree_edits, edits, shape)| {
            let mut identification = identification_seed();
            for edit in &tree_edits {
                apply_tree(&mut identification, edit);
            }
            let text = apply(identification.to_string().as_bytes(), &edits);
            let text = String::from_utf8_lossy(&text).into_owned();
            let body = match shape {
                "both" => form(&[("api_key", API_KEY), ("identification", &text)]),
                "no key" => form(&[("identification", &text)]),
                "no identification" => form(&[("api_key", API_KEY)]),
                "twice" => form(&[
                    ("identification", &text),
                    ("api_key", API_KEY),
                    ("identification", "{}"),
                ]),
                _ => apply(
                    format!("api_key={API_KEY}&identification={text}").as_bytes(),
                    &edits,
                ),
            };
            Post {
                method: "POST",
                path: "/identify",
                content_type: "application/x-www-form-urlencoded",
                gzip: false,
                forwarded_for: None,
                body,
            }
        })
}

/// Random bytes, sometimes claiming gzip, to any path and method the source may see.
fn random_post() -> impl Strategy<Value = Post> {
    (
        proptest::sample::select(vec!["POST", "POST", "POST", "GET", "PUT", "OPTIONS"]),
        proptest::sample::select(vec![
            "/2/httpapi",
            "/batch",
            "/identify",
            "/",
            "/2/httpapi/",
            "/health",
            "/2/httpapi?x=1",
        ]),
        proptest::collection::vec(any::<u8>(), 0..600),
        any::<bool>(),
    )
        .prop_map(|(method, path, body, gzip)| Post {
            method,
            path,
            content_type: "application/json",
            gzip,
            forwarded_for: None,
            body,
        })
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

/// Runs `cases` of `strategy` against the server; panics with proptest's report on a failure.
fn fuzz(server: &Mutex<Server>, name: &str, cases: u32, strategy: impl Strategy<Value = Post>) {
    let mut runner = TestRunner::new(fuzz_config(cases));
    if let Err(error) = runner.run(&strategy, |post| check_post(server, &post)) {
        panic!("{name}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_request_gets_an_amplitude_answer_and_the_process_lives() {
    let receiver = Receiver::start_with(false).await.expect("receiver");
    let server = Mutex::new(Server::start(&receiver.url(), 0));

    // The seeds themselves are accepted, as they are and gzip-compressed: the mutations start
    // from requests that reach the pipeline.
    for seed in json_seeds() {
        for gzip_it in [false, true] {
            let post = json_post(seed.to_string().into_bytes(), false, gzip_it, None);
            let port = server.lock().expect("not poisoned").port;
            let (status, body) = send(port, &post).expect("an answer");
            assert_eq!(status, 200, "seed {seed} (gzip {gzip_it}): {body}");
        }
    }
    let identify = form(&[
        ("api_key", API_KEY),
        ("identification", &identification_seed().to_string()),
    ]);
    let port = server.lock().expect("not poisoned").port;
    let post = Post {
        method: "POST",
        path: "/identify",
        content_type: "application/x-www-form-urlencoded",
        gzip: false,
        forwarded_for: None,
        body: identify,
    };
    assert_eq!(send(port, &post).expect("an answer").0, 200);

    fuzz(&server, "text-edited bodies", 200, edited_json_post());
    fuzz(&server, "tree-edited bodies", 200, tree_edited_json_post());
    fuzz(&server, "accepted bodies", 200, accepted_post());
    fuzz(&server, "identify forms", 100, identify_post());
    fuzz(&server, "random bytes", 100, random_post());

    assert!(
        receiver.wait_for(1, Duration::from_secs(10)).await,
        "nothing reached the webhook"
    );
    let server = server.into_inner().expect("not poisoned");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_asking_to_retry_after_u64_max_seconds_does_not_stop_the_sink() {
    // Found while fuzzing: `Retry-After: 18446744073709551615` on a 503 made both webhook sinks'
    // dispatch lanes panic ("overflow when adding duration to instant" when the retry store
    // scheduled the next attempt) and `run` exit 1; the wait is now capped at a year.
    let receiver = Receiver::start_with(false).await.expect("receiver");
    receiver.set_default(Reply::RetryAfter(503, "18446744073709551615".to_owned()));
    let mut server = Server::start(&receiver.url(), 1);
    let post = json_post(json_seeds()[0].to_string().into_bytes(), false, false, None);
    let (status, body) = send(server.port, &post).expect("an answer");
    assert_eq!(status, 200, "{body}");
    // The event and its user record, through each of the two sinks: four refused payloads,
    // each then stored for its later attempt.
    assert!(receiver.wait_for(4, Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(server.alive(), "the process stopped");
    server.stop();
}
