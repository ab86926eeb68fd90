//! The HTTP sources over HTTPS (`[sources.ID.tls]`) through the real binary on 127.0.0.1, with a
//! CA made at test time: events posted by a client trusting the CA arrive at the webhook and are
//! acknowledged with 200, over HTTP/2 and HTTP/1.1; plain HTTP to the TLS port and a client that
//! does not trust the certificate fail without harming the listener; a bad `[tls]` table is
//! refused at startup naming its key; and the official Amplitude Python SDK posts over HTTPS when
//! told to trust the CA (`SSL_CERT_FILE`).

mod host_support;

use host_support::sdk::sdk_available;
#[path = "support/tls.rs"]
mod tls;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::Version;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};
use tls::TestCa;
use webhook_receiver::Receiver;

use host_support::{collect, free_port, signal, wait_exit, wait_until, Workspace};

const API_KEY: &str = "tls-test-key";

/// `der` as a PEM block labelled `label`.
fn pem(label: &str, der: &[u8]) -> String {
    let base64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in base64.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// Writes a server certificate of `ca` and its key as `server.crt` and `server.key` in `dir`.
fn write_server_files(dir: &Path, ca: &TestCa) {
    let (certificate, key) = ca.issue_server_certificate();
    std::fs::write(dir.join("server.crt"), pem("CERTIFICATE", &certificate))
        .expect("write the certificate");
    std::fs::write(dir.join("server.key"), pem("PRIVATE KEY", key.secret_der()))
        .expect("write the key");
}

/// A pipeline `source -> webhook` with acknowledgements, the source listening with TLS on `port`
/// (`server.crt` / `server.key`, relative to the config file).
fn config(source: &str, port: u16, hook: &str) -> String {
    format!(
        r#"
data_dir = "{{data_dir}}"
[sources.in]
type = "{source}"
address = "127.0.0.1:{port}"
[sources.in.tls]
cert_file = "server.crt"
key_file = "server.key"
[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "{hook}"
[sinks.hook.users]
enabled = false
[sinks.hook.acknowledgements]
enabled = true
"#
    )
}

/// The binary running with its output drained; stopped with SIGTERM by `stop`.
struct Running {
    child: Child,
    logs: Vec<std::thread::JoinHandle<String>>,
    workspace: Workspace,
}

impl Running {
    /// Starts the binary on `config` with a certificate of `ca` beside it, once TCP connects.
    fn start(config: &str, port: u16, ca: &TestCa) -> Running {
        let workspace = Workspace::with_config(config);
        write_server_files(workspace.dir.path(), ca);
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
            workspace,
        }
    }

    /// The CA file a client trusting `ca` is given.
    fn ca_file(&self, ca: &TestCa) -> PathBuf {
        let path = self.workspace.dir.path().join("ca.pem");
        std::fs::write(&path, ca.pem()).expect("write the CA file");
        path
    }

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

/// A rustls client config trusting only `ca`.
fn trusting(ca: &TestCa) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(ca.pem().as_bytes()) {
        let certificate = certificate.expect("the test CA is valid PEM");
        roots.add(certificate).expect("the test CA is a valid root");
    }
    rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

type HttpsClient = Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// An HTTPS-only client trusting `ca`, offering HTTP/2 by ALPN when `h2`, else only HTTP/1.1.
fn client(ca: &TestCa, h2: bool) -> HttpsClient {
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(trusting(ca))
        .https_only();
    let connector = if h2 {
        builder.enable_http1().enable_http2().build()
    } else {
        builder.enable_http1().build()
    };
    Client::builder(TokioExecutor::new()).build(connector)
}

/// POSTs `body` to `https://127.0.0.1:port{path}`; the version, status and JSON answer.
async fn post(client: &HttpsClient, port: u16, path: &str, body: String) -> (Version, u16, Value) {
    let request = http::Request::post(format!("https://127.0.0.1:{port}{path}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid request");
    let response = tokio::time::timeout(Duration::from_secs(20), client.request(request))
        .await
        .expect("answered in time")
        .expect("the HTTPS request succeeds");
    let version = response.version();
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("read the answer")
        .to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("answer {:?}: {e}", String::from_utf8_lossy(&bytes)));
    (version, status, json)
}

fn amplitude_events(from: usize, n: usize) -> String {
    let events: Vec<Value> = (from..from + n)
        .map(|i| json!({"event_type": "click", "user_id": format!("user-{i:05}"), "insert_id": format!("i-{i}")}))
        .collect();
    json!({"api_key": API_KEY, "events": events}).to_string()
}

/// The `$insert_id`s the webhook received, sorted.
fn received_insert_ids(receiver: &Receiver) -> Vec<String> {
    let mut ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            let payload: Value = serde_json::from_slice(&r.body).expect("JSON payload");
            payload["$insert_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amplitude_http_over_https_delivers_and_acknowledges_over_http2_and_http1() {
    let receiver = Receiver::start().await.expect("receiver");
    let ca = TestCa::new("source-tls test CA");
    let port = free_port();
    let running = Running::start(&config("amplitude_http", port, &receiver.url()), port, &ca);

    let (version, status, answer) = post(
        &client(&ca, true),
        port,
        "/2/httpapi",
        amplitude_events(0, 3),
    )
    .await;
    assert_eq!((version, status), (Version::HTTP_2, 200), "{answer}");
    assert_eq!(answer["events_ingested"], 3);
    let (version, status, answer) =
        post(&client(&ca, false), port, "/batch", amplitude_events(3, 2)).await;
    assert_eq!((version, status), (Version::HTTP_11, 200), "{answer}");
    assert_eq!(answer["events_ingested"], 2);

    // With acknowledgements the 200s came after delivery: the webhook has every event already.
    let expected: Vec<String> = (0..5).map(|i| format!("i-{i}")).collect();
    assert_eq!(received_insert_ids(&receiver), expected);
    running.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_server_over_https_delivers_and_acknowledges() {
    let receiver = Receiver::start().await.expect("receiver");
    let ca = TestCa::new("source-tls test CA");
    let port = free_port();
    let running = Running::start(&config("http_server", port, &receiver.url()), port, &ca);

    let ndjson: String = (0..4)
        .map(|n| {
            format!("{{\"event_type\":\"Test\",\"user_id\":\"u\",\"$insert_id\":\"n-{n}\"}}\n")
        })
        .collect();
    for h2 in [true, false] {
        let (version, status, answer) = post(&client(&ca, h2), port, "/", ndjson.clone()).await;
        let expected_version = if h2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        };
        assert_eq!((version, status), (expected_version, 200), "{answer}");
        assert_eq!(answer, json!({"accepted": 4}));
    }
    let expected: Vec<String> = (0..4)
        .flat_map(|n| [format!("n-{n}"), format!("n-{n}")])
        .collect();
    assert_eq!(received_insert_ids(&receiver), expected);
    running.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_tls_port_fails_and_the_listener_keeps_serving() {
    let receiver = Receiver::start().await.expect("receiver");
    let ca = TestCa::new("source-tls test CA");
    let port = free_port();
    let running = Running::start(&config("amplitude_http", port, &receiver.url()), port, &ca);

    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set a timeout");
        let body = amplitude_events(0, 1);
        let request = format!(
            "POST /2/httpapi HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("write");
        let mut answer = Vec::new();
        // Ends with EOF (after rustls's alert), not a timeout: the server closed the connection.
        stream.read_to_end(&mut answer).map(|_| answer)
    })
    .await
    .expect("the plain client task");
    let answer = answer.expect("the server closes the connection");
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP was answered: {:?}",
        String::from_utf8_lossy(&answer)
    );

    let (_, status, _) = post(
        &client(&ca, true),
        port,
        "/2/httpapi",
        amplitude_events(1, 1),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(received_insert_ids(&receiver), ["i-1"]);
    running.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_not_trusting_the_certificate_fails_its_handshake_only() {
    let receiver = Receiver::start().await.expect("receiver");
    let ca = TestCa::new("source-tls test CA");
    let port = free_port();
    let running = Running::start(&config("amplitude_http", port, &receiver.url()), port, &ca);

    let stranger = TestCa::new("another CA");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(trusting(&stranger)));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let server = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
    let error = match connector.connect(server, tcp).await {
        Ok(_) => panic!("a client trusting another CA completed the handshake"),
        Err(error) => error,
    };
    let cause = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    assert!(
        matches!(
            cause,
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ),
        "{error:?}"
    );

    let (_, status, _) = post(
        &client(&ca, false),
        port,
        "/2/httpapi",
        amplitude_events(0, 1),
    )
    .await;
    assert_eq!(status, 200);
    running.stop();
}

/// `run` on `config` (with `server.crt` of `ca` and the key `key` beside it): its exit success
/// and what it logged.
fn run_once(config: &str, key: Option<PrivateKeyDer<'static>>, ca: &TestCa) -> (bool, String) {
    let workspace = Workspace::with_config(config);
    write_server_files(workspace.dir.path(), ca);
    if let Some(key) = key {
        std::fs::write(
            workspace.dir.path().join("server.key"),
            pem("PRIVATE KEY", key.secret_der()),
        )
        .expect("write the key");
    }
    let output = Command::new(host_support::bin())
        .args(["--log-format", "human", "run", "--config"])
        .arg(workspace.config_path())
        .output()
        .expect("run webhook-sink");
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), logs)
}

#[test]
fn a_bad_tls_table_is_refused_at_startup_naming_the_key() {
    let ca = TestCa::new("source-tls test CA");
    let base = config("http_server", free_port(), "http://127.0.0.1:9/hook");
    // Another certificate's key: well-formed, but not this certificate's.
    let (_, other_key) = ca.issue_server_certificate();
    let cases = [
        (
            base.replace("key_file = \"server.key\"\n", ""),
            None,
            "`sources.in.tls`: missing field `key_file`",
        ),
        (
            base.replace("server.key", "absent.key"),
            None,
            "`sources.in.tls.key_file`: cannot read",
        ),
        (
            base.replace("cert_file = \"server.crt\"", "cert_file = \"server.key\""),
            None,
            "`sources.in.tls.cert_file`:",
        ),
        (
            base.clone(),
            Some(other_key),
            "`sources.in.tls.key_file`: the key in",
        ),
    ];
    for (config, key, expected) in cases {
        let (success, logs) = run_once(&config, key, &ca);
        assert!(!success, "started with a bad tls table: {logs}");
        assert!(logs.contains(expected), "expected {expected:?} in: {logs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_posts_over_https_trusting_the_ca() {
    assert!(
        sdk_available(),
        "the Amplitude Python SDK is not installed and `python3 -m pip install \
         amplitude-analytics` failed (scripts/test-deps.sh installs it)"
    );
    const EVENTS: usize = 10;
    let receiver = Receiver::start().await.expect("receiver");
    let ca = TestCa::new("source-tls test CA");
    let port = free_port();
    let text = config("amplitude_http", port, &receiver.url()).replace(
        "[sources.in.tls]",
        &format!("api_keys = [\"{API_KEY}\"]\n[sources.in.tls]"),
    );
    let running = Running::start(&text, port, &ca);
    let ca_file = running.ca_file(&ca);

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/amplitude_sdk_client.py"
    );
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(format!("https://127.0.0.1:{port}/2/httpapi"))
            .arg(API_KEY)
            .arg(EVENTS.to_string())
            // Python's `ssl` (which the SDK's urllib uses) trusts what OpenSSL's default paths
            // hold; this points them at the test CA.
            .env("SSL_CERT_FILE", &ca_file)
            .output()
    })
    .await
    .expect("SDK task")
    .expect("run the SDK client");
    let sdk_stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "SDK client failed: {sdk_stderr}");
    let codes: std::collections::BTreeMap<String, Vec<u16>> =
        serde_json::from_slice(&output.stdout).expect("SDK client prints its callback codes");
    let mut expected: std::collections::BTreeMap<String, Vec<u16>> = (0..EVENTS)
        .map(|i| (format!("sdk-{i}"), vec![200]))
        .collect();
    expected.insert("sdk-identify".into(), vec![200]);
    assert_eq!(codes, expected, "SDK callbacks; log: {sdk_stderr}");

    // Acknowledged before each 200: the events are at the webhook already (the identify makes
    // only a user payload, and the user stream is off here).
    let mut expected_ids: Vec<String> = (0..EVENTS).map(|i| format!("sdk-{i}")).collect();
    expected_ids.sort();
    assert_eq!(received_insert_ids(&receiver), expected_ids);
    running.stop();
}
