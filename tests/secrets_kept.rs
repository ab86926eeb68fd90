//! Secrets stay secret through a whole run: the real binary is configured with a custom header
//! value written in the config, another read from the environment, a Standard Webhooks signing
//! secret and the `http_server` source's bearer token; it runs with logs at trace level while
//! its webhook first fails (records go through the retry store into dead letters) and then
//! accepts; then `dead-letters list`, `list --json` and `show`, `validate --print` and `preview`
//! (at trace level too) run over the same config and data. The webhook must have received every
//! secret (so the run used them), and no output of any command, no file under `data_dir` and no
//! `Debug` rendering of the parsed config may contain one, in any of its encodings.

mod host_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine;
use host_support::{bin, collect, free_port, signal, wait_exit, wait_until, Workspace};
use pipeline_core::Registry;
use pipeline_host::Config;
use webhook_receiver::{Receiver, Reply};

/// A header value written in the config file.
const HEADER_SECRET: &str = "hdr-S3cret-8f3a1c90";
/// A header value the config reads from `WS_SECRET_API_KEY`.
const ENV_SECRET: &str = "env-S3cret-77d2e415";
/// The signing key's bytes (the config holds them base64-encoded after `whsec_`).
const SIGNING_KEY: &[u8] = b"sign-S3cret-key-bytes-0123456789";
/// The bearer token of the `http_server` source.
const TOKEN: &str = "tok-S3cret-41b9c0de";

fn signing_secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(SIGNING_KEY)
    )
}

/// Every form in which a secret could leak: as configured, and the signing key's raw bytes and
/// its base64 without the prefix.
fn needles() -> Vec<(String, Vec<u8>)> {
    let secret = signing_secret();
    let base64 = secret.trim_start_matches("whsec_").to_owned();
    [
        (
            "the config's header value",
            HEADER_SECRET.as_bytes().to_vec(),
        ),
        (
            "the header value from the environment",
            ENV_SECRET.as_bytes().to_vec(),
        ),
        ("the signing secret", secret.into_bytes()),
        ("the signing secret's base64", base64.into_bytes()),
        ("the signing key's bytes", SIGNING_KEY.to_vec()),
        ("the source's bearer token", TOKEN.as_bytes().to_vec()),
    ]
    .into_iter()
    .map(|(what, bytes)| (what.to_owned(), bytes))
    .collect()
}

/// Fails naming `place` and the secret when `haystack` contains one.
fn assert_clean(place: &str, haystack: &[u8]) {
    for (what, needle) in needles() {
        let found = haystack.windows(needle.len()).any(|w| w == needle);
        assert!(!found, "{what} appears in {place}");
    }
}

/// Both streams to one webhook: two custom headers (one from the environment), signed, one try
/// per attempt and two later attempts 50 ms apart, the circuit off; events from stdin and from
/// an `http_server` source with a bearer token.
fn config(url: &str, port: u16) -> String {
    format!(
        r#"
data_dir = "{{data_dir}}"
[sources.in]
type = "stdin"
[sources.posts]
type = "http_server"
address = "127.0.0.1:{port}"
auth = {{ strategy = "bearer", token = "{TOKEN}" }}
[sinks.hook]
type = "webhook"
inputs = ["in", "posts"]
url = "{url}"
headers = {{ Authorization = "Bearer {HEADER_SECRET}", X-Api-Key = "${{WS_SECRET_API_KEY}}" }}
[sinks.hook.signing]
secret = "{secret}"
[sinks.hook.retry]
tries = 1
schedule = ["50ms", "50ms"]
[sinks.hook.circuit]
enabled = false
"#,
        secret = signing_secret()
    )
}

fn event(n: u32) -> String {
    format!(
        "{{\"event_type\":\"Purchase\",\"user_id\":\"u-{n}\",\"$insert_id\":\"ins-{n}\",\
         \"event_properties\":{{\"price\":{n}}}}}\n"
    )
}

/// Runs the binary with `args` (logs at trace level, the environment secret set) to the end.
fn run(workspace: &Workspace, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(workspace.dir.path())
        .env("RUST_LOG", "trace")
        .env("WS_SECRET_API_KEY", ENV_SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn webhook-sink");
    let mut input = child.stdin.take().expect("piped stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    let output = child.wait_with_output().expect("the command's output");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// POSTs one NDJSON body with the bearer token; the status code.
fn post(port: u16, body: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the source");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    let request = format!(
        "POST / HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/x-ndjson\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// Every file under `dir`, recursively, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read a directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
    out
}

#[test]
fn no_output_file_or_debug_rendering_of_a_full_run_contains_a_secret() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let receiver = runtime
        .block_on(Receiver::start_with(true))
        .expect("the receiver");
    receiver.set_default(Reply::Status(500));
    let port = free_port();
    let workspace = Workspace::with_config(&config(&receiver.url(), port));
    let config_path = workspace.config_path();
    let config_arg = config_path.to_str().expect("a UTF-8 path");

    // The run: three events fail every attempt and become dead letters, then the webhook
    // accepts and two more arrive through the authenticated HTTP source.
    let mut child = Command::new(bin())
        .args(["--log-format", "json", "run", "--config", config_arg])
        .env("RUST_LOG", "trace")
        .env("WS_SECRET_API_KEY", ENV_SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn webhook-sink run");
    let stdout = collect(child.stdout.take().expect("piped stdout"));
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    for n in 0..3 {
        stdin
            .write_all(event(n).as_bytes())
            .expect("write an event");
    }
    stdin.flush().expect("flush stdin");
    // Three events and their user records, three attempts each.
    assert!(
        wait_until(Duration::from_secs(20), || receiver.count() >= 18),
        "{} requests",
        receiver.count()
    );
    receiver.set_default(Reply::Status(200));
    let before = receiver.count();
    let mut accepted = 0;
    wait_until(Duration::from_secs(10), || {
        accepted = post(port, &format!("{}{}", event(10), event(11)));
        accepted == 200
    });
    assert_eq!(accepted, 200, "the source refused the authenticated post");
    assert!(
        wait_until(Duration::from_secs(10), || receiver.count() >= before + 4),
        "the posted events were not delivered"
    );
    drop(stdin);
    signal(&child, "TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(20)).is_some());
    let run_out = stdout.join().expect("stdout");
    let run_err = stderr.join().expect("stderr");
    // RUST_LOG=trace: everything the binary and its libraries log (the most verbose of it is
    // at debug level).
    assert!(
        run_err.contains("\"level\":\"DEBUG\""),
        "the run did not log verbosely: {}",
        &run_err[..run_err.len().min(2000)]
    );

    // The webhook got every secret, so the run really carried them.
    let received = receiver.received();
    let last = received.last().expect("requests");
    let header = |name: &str| {
        last.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(header("authorization"), format!("Bearer {HEADER_SECRET}"));
    assert_eq!(header("x-api-key"), ENV_SECRET);
    assert!(header("webhook-signature").starts_with("v1,"));

    assert_clean("the run's log", run_err.as_bytes());
    assert_clean("the run's stdout", run_out.as_bytes());

    // The operator commands over the same config and store.
    let listed = run(
        &workspace,
        &[
            "dead-letters",
            "list",
            "--config",
            config_arg,
            "--sink",
            "hook",
        ],
        b"",
    );
    assert_clean(
        "dead-letters list",
        &[listed.stdout, listed.stderr].concat(),
    );
    let json = run(
        &workspace,
        &[
            "dead-letters",
            "list",
            "--json",
            "--config",
            config_arg,
            "--sink",
            "hook",
        ],
        b"",
    );
    let ids: Vec<String> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|letter| letter["id"].as_u64().map(|id| id.to_string()))
        .collect();
    assert_eq!(ids.len(), 6, "{}", String::from_utf8_lossy(&json.stdout));
    assert_clean(
        "dead-letters list --json",
        &[json.stdout, json.stderr].concat(),
    );
    for id in &ids {
        let shown = run(
            &workspace,
            &[
                "dead-letters",
                "show",
                "--id",
                id,
                "--config",
                config_arg,
                "--sink",
                "hook",
            ],
            b"",
        );
        let text = String::from_utf8_lossy(&shown.stdout).into_owned();
        assert!(text.contains("authorization"), "{text}");
        assert_clean("dead-letters show", &[shown.stdout, shown.stderr].concat());
    }
    let printed = run(
        &workspace,
        &["validate", "--config", config_arg, "--print"],
        b"",
    );
    assert!(String::from_utf8_lossy(&printed.stdout).contains("X-Api-Key"));
    assert_clean(
        "validate --print",
        &[printed.stdout, printed.stderr].concat(),
    );
    let input = workspace.dir.path().join("sample.ndjson");
    std::fs::write(&input, event(20)).expect("write the sample");
    let preview = run(
        &workspace,
        &[
            "preview",
            "--config",
            config_arg,
            "--sink",
            "hook",
            "--input",
            input.to_str().expect("a UTF-8 path"),
        ],
        b"",
    );
    assert!(String::from_utf8_lossy(&preview.stdout).contains("Purchase"));
    assert_clean("preview", &[preview.stdout, preview.stderr].concat());

    // Everything the run left on disk: the retry store, its WAL, whatever else.
    let data = files(&workspace.dir.path().join("data"));
    assert!(!data.is_empty());
    for (path, bytes) in data {
        assert_clean(&path, &bytes);
    }

    // The parsed config as `Debug` prints it (what a panic message or a debug log would show).
    let mut registry = Registry::new();
    webhook_sink::register(&mut registry);
    let text = std::fs::read_to_string(&config_path)
        .expect("the config")
        .replace("${WS_SECRET_API_KEY}", ENV_SECRET);
    let parsed = Config::from_toml_str_in(&text, &registry, workspace.dir.path())
        .expect("the config parses");
    assert_clean(
        "the config's Debug output",
        format!("{parsed:?}").as_bytes(),
    );
}
