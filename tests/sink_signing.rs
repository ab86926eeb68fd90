//! Standard Webhooks signatures through the real binary, checked by independent verifiers: what a
//! local webhook received must verify with the `standardwebhooks` and `svix` Python packages and
//! with the spec's scheme written out in Python's standard library, for every try, across a key
//! rotation and after a restart from the retry store; a tampered body must not. The secret never
//! appears in the binary's log (at trace level) or in the retry store.
//!
//! Fails, never skips, without Python or its packages (`scripts/test-deps.sh` installs them).

mod host_support;
mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use host_support::{bin, collect, kill, rows, store_file, wait_exit, wait_until, Workspace};
use serde_json::{json, Value};
use support::{Receiver, Reply};
use webhook_receiver::Received;

/// The spec's test-vector secret (24 bytes).
const NEW: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// A second secret, the one being rotated out (32 bytes).
const OLD: &str = "whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZC1zZWNyZXQ=";
/// A secret the sink never had.
const STRANGER: &str = "whsec_c3RyYW5nZXItc3RyYW5nZXItc3RyYW5nZXI=";

/// Verifies a JSON list of `{headers, body}` read from stdin with the secret in `argv[1]`, three
/// ways, and prints one `{standardwebhooks, svix, stdlib}` verdict ("ok" or the error) each.
const VERIFY: &str = r#"
import base64, hashlib, hmac, json, sys
import standardwebhooks
import svix.webhooks

secret = sys.argv[1]

def outcome(check):
    try:
        check()
        return "ok"
    except Exception as error:
        return f"{type(error).__name__}: {error}"

def by_hand(body, headers):
    # The spec's scheme with the standard library only.
    key = base64.b64decode(secret[len("whsec_"):])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    versioned = [s.split(",", 1) for s in headers["webhook-signature"].split(" ")]
    if not any(v == "v1" and hmac.compare_digest(s, expected) for v, s in versioned):
        raise ValueError("no matching signature")

verdicts = []
for request in json.load(sys.stdin):
    body, headers = request["body"], request["headers"]
    verdicts.append({
        "standardwebhooks": outcome(lambda: standardwebhooks.Webhook(secret).verify(body, headers)),
        "svix": outcome(lambda: svix.webhooks.Webhook(secret).verify(body, dict(headers))),
        "stdlib": outcome(lambda: by_hand(body, headers)),
    })
print(json.dumps(verdicts))
"#;

/// stdin -> the `hook` webhook sink at `url`, signed as `signing` says, with `extra` tables.
fn pipeline(url: &str, signing: &str, extra: &str) -> String {
    format!(
        r#"
data_dir = "{{data_dir}}"
[sources.in]
type = "stdin"
[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "{url}"
{extra}
[sinks.hook.signing]
{signing}
"#
    )
}

/// `webhook-sink run` at trace level, stdin and stderr piped.
fn spawn(workspace: &Workspace) -> Child {
    Command::new(bin())
        .args(["--log-format", "human", "run", "--config"])
        .arg(workspace.config_path())
        .env("RUST_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn webhook-sink")
}

/// Runs the pipeline over `input` to its end and returns its log, which must not hold a secret.
fn run_to_end(workspace: &Workspace, input: &str) -> String {
    let mut child = spawn(workspace);
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input.as_bytes()).expect("write events");
    drop(stdin);
    let status = wait_exit(&mut child, Duration::from_secs(60));
    let log = stderr.join().unwrap_or_default();
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}; log tail:\n{}",
        tail(&log)
    );
    assert_no_secret(&log, "the log");
    log
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Neither secret's text (with or without `whsec_`) occurs in `text`.
fn assert_no_secret(text: &str, place: &str) {
    for secret in [NEW, OLD] {
        let encoded = &secret["whsec_".len()..];
        assert!(!text.contains(encoded), "{place} holds a signing secret");
    }
}

/// `{"event_type":"Test","user_id":"u","n":N}` lines.
fn events(count: u32) -> String {
    host_support::test_events(0..count)
}

/// The verdicts of the three verifiers with `secret` on each of `requests`.
fn verify(secret: &str, requests: &[(Value, String)]) -> Vec<Value> {
    let input: Vec<Value> = requests
        .iter()
        .map(|(headers, body)| json!({ "headers": headers, "body": body }))
        .collect();
    let mut child = Command::new("python3")
        .args(["-c", VERIFY, secret])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/test-deps.sh installs it)");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(Value::from(input).to_string().as_bytes())
        .expect("write the requests to python3");
    drop(stdin);
    let output = child.wait_with_output().expect("python3 finishes");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the verifier failed (are `standardwebhooks` and `svix` installed? \
         scripts/test-deps.sh installs them):\n{stderr}"
    );
    serde_json::from_slice(&output.stdout).expect("the verifier prints JSON")
}

/// Whether every verifier accepted every request.
fn all_verified(verdicts: &[Value]) -> bool {
    verdicts.iter().all(|verdict| {
        ["standardwebhooks", "svix", "stdlib"]
            .iter()
            .all(|name| verdict[*name] == "ok")
    })
}

/// Whether every verifier refused every request.
fn none_verified(verdicts: &[Value]) -> bool {
    verdicts.iter().all(|verdict| {
        ["standardwebhooks", "svix", "stdlib"]
            .iter()
            .all(|name| verdict[*name] != "ok")
    })
}

/// A received request as the verifiers take it: headers by name, and the body.
fn as_sent(request: &Received) -> (Value, String) {
    let headers: serde_json::Map<String, Value> = request
        .headers
        .iter()
        .map(|(name, value)| {
            let text = value.to_str().expect("ASCII header values");
            (name.as_str().to_owned(), Value::from(text))
        })
        .collect();
    let body = String::from_utf8(request.body.to_vec()).expect("UTF-8 bodies");
    (Value::Object(headers), body)
}

fn header<'a>(request: &'a Received, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header in {:?}", request.headers))
}

fn timestamp(request: &Received) -> u64 {
    header(request, "webhook-timestamp")
        .parse()
        .expect("a decimal timestamp")
}

fn is_message_id(id: &str) -> bool {
    id.strip_prefix("msg_").is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[test]
fn every_request_verifies_with_both_libraries_and_the_log_never_shows_the_secret() {
    const N: u32 = 20;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    let config = pipeline(&receiver.url(), &format!("secret = \"{NEW}\""), "");
    let workspace = Workspace::with_config(&config);
    let log = run_to_end(&workspace, &events(N));
    let received = receiver.received();
    assert_eq!(received.len(), 2 * N as usize, "log tail:\n{}", tail(&log));
    // RUST_LOG=trace took effect (nothing on this path logs at trace itself, debug lines do).
    assert!(log.contains(" DEBUG "), "log tail:\n{}", tail(&log));

    let requests: Vec<(Value, String)> = received.iter().map(as_sent).collect();
    let verdicts = verify(NEW, &requests);
    assert!(all_verified(&verdicts), "{verdicts:#?}");
    for request in &received {
        assert!(is_message_id(header(request, "webhook-id")));
        assert_eq!(header(request, "webhook-signature").split(' ').count(), 1);
    }
    // Each event payload is its own message; the user payloads here are the same bytes
    // (`{"user_id":"u"}`), so they are one message, as the module docs say.
    let ids = |body_has: &str| -> BTreeSet<&str> {
        received
            .iter()
            .filter(|r| String::from_utf8_lossy(&r.body).contains(body_has))
            .map(|r| header(r, "webhook-id"))
            .collect()
    };
    let event_ids = ids("event_type");
    assert_eq!(event_ids.len(), N as usize);
    let user_ids: BTreeSet<&str> = received
        .iter()
        .filter(|r| &r.body[..] == b"{\"user_id\":\"u\"}")
        .map(|r| header(r, "webhook-id"))
        .collect();
    assert_eq!(user_ids.len(), 1);
    assert!(event_ids.is_disjoint(&user_ids));
}

#[test]
fn a_retried_try_keeps_the_id_takes_a_fresh_timestamp_and_verifies() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    receiver.script([Reply::Status(503)]);
    let config = pipeline(
        &receiver.url(),
        &format!("secret = \"{NEW}\""),
        "[sinks.hook.users]\nenabled = false\n[sinks.hook.retry]\ninitial_backoff = \"20ms\"",
    );
    let workspace = Workspace::with_config(&config);
    let log = run_to_end(&workspace, &events(1));
    let received = receiver.received();
    assert_eq!(
        received.len(),
        2,
        "a 503, then a 200; log tail:\n{}",
        tail(&log)
    );
    assert_eq!(received[0].body, received[1].body);
    assert_eq!(
        header(&received[0], "webhook-id"),
        header(&received[1], "webhook-id")
    );
    assert!(timestamp(&received[1]) >= timestamp(&received[0]));
    let requests: Vec<(Value, String)> = received.iter().map(as_sent).collect();
    let verdicts = verify(NEW, &requests);
    assert!(all_verified(&verdicts), "{verdicts:#?}");
}

#[test]
fn during_a_key_rotation_each_secret_alone_verifies() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    let config = pipeline(
        &receiver.url(),
        &format!("secrets = [\"{NEW}\", \"{OLD}\"]"),
        "[sinks.hook.users]\nenabled = false",
    );
    let workspace = Workspace::with_config(&config);
    run_to_end(&workspace, &events(5));
    let received = receiver.received();
    assert_eq!(received.len(), 5);
    for request in &received {
        let signatures: Vec<&str> = header(request, "webhook-signature").split(' ').collect();
        assert_eq!(signatures.len(), 2, "{signatures:?}");
        assert!(signatures.iter().all(|s| s.starts_with("v1,")));
    }
    let requests: Vec<(Value, String)> = received.iter().map(as_sent).collect();
    for secret in [NEW, OLD] {
        let verdicts = verify(secret, &requests);
        assert!(all_verified(&verdicts), "{verdicts:#?}");
    }
    // The verifiers can refuse: a secret the sink never had matches neither signature.
    let verdicts = verify(STRANGER, &requests);
    assert!(none_verified(&verdicts), "{verdicts:#?}");
}

#[test]
fn a_tampered_body_fails_verification() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    let config = pipeline(
        &receiver.url(),
        &format!("secret = \"{NEW}\""),
        "[sinks.hook.users]\nenabled = false",
    );
    let workspace = Workspace::with_config(&config);
    run_to_end(&workspace, &events(3));
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    let genuine: Vec<(Value, String)> = received.iter().map(as_sent).collect();
    assert!(all_verified(&verify(NEW, &genuine)));
    let tampered: Vec<(Value, String)> = genuine
        .into_iter()
        .map(|(headers, body)| (headers, body.replace("\"n\":", "\"n\":1")))
        .collect();
    let verdicts = verify(NEW, &tampered);
    assert!(none_verified(&verdicts), "{verdicts:#?}");
}

#[test]
fn a_record_sent_again_from_the_retry_store_after_a_restart_keeps_its_id() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    receiver.set_default(Reply::Status(503));
    let config = pipeline(
        &receiver.url(),
        &format!("secrets = [\"{NEW}\", \"{OLD}\"]"),
        "[sinks.hook.users]\nenabled = false\n[sinks.hook.retry]\ntries = 1\nschedule = [\"2s\", \"2s\"]",
    );
    let workspace = Workspace::with_config(&config);
    let file = store_file(&workspace, "hook");

    // The first attempt fails: the record waits in the store, and the process dies.
    let mut child = spawn(&workspace);
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(events(1).as_bytes()).expect("write events");
    stdin.flush().expect("flush stdin");
    let stored = wait_until(Duration::from_secs(20), || rows(&file, "records") == 1);
    let log = kill(child, stderr);
    drop(stdin);
    assert!(stored, "log tail:\n{}", tail(&log));
    assert_no_secret(&log, "the log");
    assert_eq!(receiver.count(), 1);
    for path in [file.clone(), file.with_extension("sqlite3-wal")] {
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert_no_secret(&String::from_utf8_lossy(&bytes), "the retry store");
        for secret in [NEW, OLD] {
            let key = base64::engine::general_purpose::STANDARD
                .decode(&secret["whsec_".len()..])
                .expect("the test's secrets are base64");
            assert!(
                !bytes.windows(key.len()).any(|w| w == key),
                "the retry store holds secret bytes"
            );
        }
    }

    // The next start sends it again, as the same message.
    receiver.set_default(Reply::Status(200));
    let mut child = spawn(&workspace);
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    let resent = wait_until(Duration::from_secs(20), || receiver.count() == 2);
    let log = kill(child, stderr);
    assert!(resent, "log tail:\n{}", tail(&log));
    assert_no_secret(&log, "the log");
    let received = receiver.received();
    assert_eq!(received[0].body, received[1].body);
    assert_eq!(
        header(&received[0], "webhook-id"),
        header(&received[1], "webhook-id")
    );
    assert!(timestamp(&received[1]) > timestamp(&received[0]));
    let requests: Vec<(Value, String)> = received.iter().map(as_sent).collect();
    for secret in [NEW, OLD] {
        let verdicts = verify(secret, &requests);
        assert!(all_verified(&verdicts), "{verdicts:#?}");
    }
}
