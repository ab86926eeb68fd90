//! Outgoing TLS beyond `tls.ca_file`, against TLS webhooks on 127.0.0.1 whose CAs are made at test
//! time: the client certificate of `tls.cert_file` / `tls.key_file` opens a webhook that requires
//! one (mTLS), with the key in each PEM format; a sink without one, or with one of another CA, is
//! refused with an error naming the cause and its record waits in the retry store;
//! `tls.min_version = "1.3"` refuses a webhook that speaks only TLS 1.2, which the default
//! accepts; and `tls.roots = "system"` trusts a CA that only the system store holds (given by
//! `SSL_CERT_FILE` to a child process of the real binary, so the variable reaches no other test).

mod support;
#[path = "support/tls.rs"]
mod tls;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use pipeline_core::BatchStatus;
use rcgen::KeyPair;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use serde_json::{json, Value};
use support::{acked_batch, start_sink};
use tls::{TestCa, TlsWebhook};
use tower::ServiceExt;
use webhook_sink::config::WebhookConfig;
use webhook_sink::dispatch::http::build_client_with;
use webhook_sink::dispatch::{HttpService, Payload, Target, TryError};
use webhook_sink::stream::Stream;

const BIN: &str = env!("CARGO_BIN_EXE_webhook-sink");
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Writes a new client certificate of `ca` and its PKCS#8 key into `dir`; returns the `[tls]`
/// lines naming them.
fn write_identity(ca: &TestCa, dir: &Path, name: &str) -> String {
    let key = KeyPair::generate().expect("generate the client key");
    let cert_file = dir.join(format!("{name}.pem"));
    let key_file = dir.join(format!("{name}.key"));
    std::fs::write(&cert_file, ca.issue_client_certificate(&key))
        .expect("write the client certificate");
    std::fs::write(&key_file, key.serialize_pem()).expect("write the client key");
    identity_lines(&cert_file, &key_file)
}

fn identity_lines(cert_file: &Path, key_file: &Path) -> String {
    format!(
        "cert_file = {:?}\nkey_file = {:?}\n",
        cert_file.display().to_string(),
        key_file.display().to_string()
    )
}

/// A webhook config presenting a certificate of `server_ca` and requiring a client certificate
/// issued by `client_ca` (rustls's `WebPkiClientVerifier`, anonymous clients refused).
fn requiring_client_certificates(server_ca: &TestCa, client_ca: &TestCa) -> Arc<ServerConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(client_ca.der()).expect("the client CA is a root");
    let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .expect("a client verifier");
    let (certificate, key) = server_ca.issue_server_certificate();
    let mut config = ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![certificate], key)
        .expect("a valid server certificate");
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A webhook config presenting a certificate of `server_ca` over TLS 1.2 only.
fn tls12_only(server_ca: &TestCa) -> Arc<ServerConfig> {
    let (certificate, key) = server_ca.issue_server_certificate();
    let mut config = ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .expect("a valid server certificate");
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// Writes the server CA's certificate into `dir` as `ca.pem`.
fn write_ca(dir: &Path, ca: &TestCa) -> PathBuf {
    let path = dir.join("ca.pem");
    std::fs::write(&path, ca.pem()).expect("write the CA file");
    path
}

/// A sink table posting each event to `url`, trusting `ca_file`, with `tls` as more `[tls]`
/// lines; two quick tries per attempt, then the retry store.
fn sink_config(url: &str, ca_file: &Path, tls: &str) -> String {
    format!(
        r#"
url = "{url}"
[users]
enabled = false
[tls]
ca_file = {:?}
{tls}
[retry]
tries = 2
initial_backoff = "10ms"
attempt_budget = "1s"
attempts = 3
schedule = ["200ms", "200ms", "200ms"]
"#,
        ca_file.display().to_string()
    )
}

/// One try through the HTTP service the sink builds from `config`: the status, or the error.
async fn one_try(config: &str) -> Result<StatusCode, String> {
    let table: toml::Table = config.parse().expect("test TOML parses");
    let config = WebhookConfig::from_table(table).expect("test config is valid");
    let client = build_client_with(1, &config.tls, Arc::new(config.network.clone()));
    let target = Target {
        uri: config.uri.clone(),
        headers: config.headers.clone(),
    };
    let service = HttpService::new(client, Arc::new(target), 1);
    let payload = Payload::new(Stream::Events, Bytes::from_static(b"{\"n\":1}"));
    match service.oneshot(payload).await {
        Ok(response) => Ok(response.status),
        Err(TryError::Transport { message, .. }) => Err(message),
        Err(other) => Err(other.to_string()),
    }
}

fn received_bodies(webhook: &TlsWebhook) -> Vec<String> {
    let mut bodies: Vec<String> = webhook
        .seen()
        .iter()
        .map(|seen| String::from_utf8(seen.body.to_vec()).expect("UTF-8 body"))
        .collect();
    bodies.sort();
    bodies
}

#[tokio::test]
async fn a_sink_with_a_client_certificate_delivers_to_a_webhook_that_requires_one() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = TestCa::new("server CA");
    let client_ca = TestCa::new("client CA");
    let ca_file = write_ca(dir.path(), &server_ca);
    let identity = write_identity(&client_ca, dir.path(), "client");
    let webhook = TlsWebhook::start(requiring_client_certificates(&server_ca, &client_ca)).await;
    let sink = start_sink(&sink_config(&webhook.url(), &ca_file, &identity), 4);

    let records: Vec<Value> = (0..5)
        .map(|n| json!({"event_type": "Purchase", "n": n, "user_id": format!("ü-{n}")}))
        .collect();
    let mut expected: Vec<String> = records.iter().map(Value::to_string).collect();
    expected.sort();
    let (batch, ack) = acked_batch(records);
    sink.input.send(batch).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), ack)
        .await
        .expect("acknowledged in time");
    assert_eq!(status, BatchStatus::Delivered);
    drop(sink.input);
    sink.done.await.unwrap().unwrap();

    assert_eq!(received_bodies(&webhook), expected);
    assert_eq!(webhook.failed_handshakes(), 0);
}

/// Runs `openssl` with `args` (Debian's ca-certificates depends on it, so it is where the system
/// store is); the tests fail, never skip, without it.
fn openssl(args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl (apt-get install openssl)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn client_keys_are_read_as_pkcs8_pkcs1_rsa_and_sec1_ec() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = TestCa::new("server CA");
    let client_ca = TestCa::new("client CA");
    let ca_file = write_ca(dir.path(), &server_ca);
    let webhook = TlsWebhook::start(requiring_client_certificates(&server_ca, &client_ca)).await;
    let path = |name: &str| dir.path().join(name).display().to_string();
    // Keys as OpenSSL writes them: PKCS#8, then in the traditional formats.
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &path("rsa.p8"),
    ]);
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &path("ec.p8"),
    ]);
    openssl(&[
        "pkey",
        "-in",
        &path("rsa.p8"),
        "-traditional",
        "-out",
        &path("rsa.p1"),
    ]);
    openssl(&[
        "pkey",
        "-in",
        &path("ec.p8"),
        "-traditional",
        "-out",
        &path("ec.sec1"),
    ]);
    let cases = [
        ("rsa.p8", "rsa.p8", "-----BEGIN PRIVATE KEY-----"),
        ("rsa.p8", "rsa.p1", "-----BEGIN RSA PRIVATE KEY-----"),
        ("ec.p8", "ec.sec1", "-----BEGIN EC PRIVATE KEY-----"),
    ];
    for (pkcs8, key_file, label) in cases {
        let key_text = std::fs::read_to_string(path(key_file)).unwrap();
        assert!(key_text.starts_with(label), "{key_file}: {key_text:.40}");
        let key = KeyPair::from_pem(&std::fs::read_to_string(path(pkcs8)).unwrap()).unwrap();
        let cert_file = dir.path().join(format!("{key_file}.crt"));
        std::fs::write(&cert_file, client_ca.issue_client_certificate(&key)).unwrap();
        let tls = identity_lines(&cert_file, Path::new(&path(key_file)));

        let answer = one_try(&sink_config(&webhook.url(), &ca_file, &tls)).await;
        assert_eq!(answer, Ok(StatusCode::OK), "{label}");
    }
    assert_eq!(webhook.seen().len(), 3);
    assert_eq!(webhook.failed_handshakes(), 0);
}

#[tokio::test]
async fn without_a_client_certificate_a_try_fails_naming_the_missing_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = TestCa::new("server CA");
    let client_ca = TestCa::new("client CA");
    let ca_file = write_ca(dir.path(), &server_ca);
    let webhook = TlsWebhook::start(requiring_client_certificates(&server_ca, &client_ca)).await;

    let answer = one_try(&sink_config(&webhook.url(), &ca_file, "")).await;

    let message = answer.expect_err("refused without a client certificate");
    assert!(message.contains("CertificateRequired"), "{message}");
    assert!(webhook.seen().is_empty());
    assert_eq!(webhook.failed_handshakes(), 1);
}

#[tokio::test]
async fn a_client_certificate_of_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = TestCa::new("server CA");
    let client_ca = TestCa::new("client CA");
    let stranger = TestCa::new("another client CA");
    let ca_file = write_ca(dir.path(), &server_ca);
    let identity = write_identity(&stranger, dir.path(), "stranger");
    let webhook = TlsWebhook::start(requiring_client_certificates(&server_ca, &client_ca)).await;

    let answer = one_try(&sink_config(&webhook.url(), &ca_file, &identity)).await;

    let message = answer.expect_err("refused with a certificate of another CA");
    assert!(message.contains("UnknownCA"), "{message}");
    assert!(webhook.seen().is_empty());
    assert_eq!(webhook.failed_handshakes(), 1);
}

#[tokio::test]
async fn a_refused_client_certificate_leaves_the_record_in_the_store_for_a_later_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = TestCa::new("server CA");
    let client_ca = TestCa::new("client CA");
    let ca_file = write_ca(dir.path(), &server_ca);
    let webhook = TlsWebhook::start(requiring_client_certificates(&server_ca, &client_ca)).await;
    let sink = start_sink(&sink_config(&webhook.url(), &ca_file, ""), 4);
    let record = json!({"event_type": "Purchase", "user_id": "u1", "n": 1});
    let (batch, ack) = acked_batch(vec![record.clone()]);
    sink.input.send(batch).await.unwrap();

    // Both tries of the first attempt are refused; the record is committed to the retry store,
    // which acknowledges it, and nothing reached the webhook.
    let status = tokio::time::timeout(Duration::from_secs(5), ack)
        .await
        .expect("acknowledged once in the store");
    assert_eq!(status, BatchStatus::Delivered);
    assert!(
        webhook
            .wait_until(Duration::from_secs(2), |w| w.failed_handshakes() >= 2)
            .await,
        "{} failed handshakes",
        webhook.failed_handshakes()
    );
    assert!(webhook.seen().is_empty());

    // The webhook stops requiring a client certificate: a later attempt delivers the record.
    webhook.set_config(server_ca.server_config(&ALPN));
    assert!(
        webhook
            .wait_until(Duration::from_secs(5), |w| !w.seen().is_empty())
            .await,
        "a later attempt delivers the record"
    );
    drop(sink.input);
    sink.done.await.unwrap().unwrap();
    let seen = webhook.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body, record.to_string().into_bytes());
}

#[tokio::test]
async fn min_version_1_3_refuses_a_webhook_that_speaks_only_tls_1_2_which_the_default_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = TestCa::new("server CA");
    let ca_file = write_ca(dir.path(), &server_ca);
    let webhook = TlsWebhook::start(tls12_only(&server_ca)).await;

    let by_default = one_try(&sink_config(&webhook.url(), &ca_file, "")).await;
    assert_eq!(by_default, Ok(StatusCode::OK));
    assert_eq!(webhook.seen().len(), 1);

    let strict = sink_config(&webhook.url(), &ca_file, "min_version = \"1.3\"");
    let message = one_try(&strict).await.expect_err("TLS 1.2 refused");
    assert!(message.contains("ProtocolVersion"), "{message}");
    assert_eq!(webhook.seen().len(), 1);
}

/// Runs `webhook-sink run` with a stdin source and a webhook sink aimed at `url` whose `[tls]`
/// is `tls`, `SSL_CERT_FILE` naming `ssl_cert_file`, feeds it one event and returns its log once
/// it exited (a record whose first attempt failed waits in the store for the next start).
async fn run_binary(dir: &Path, url: &str, tls: &str, ssl_cert_file: &Path) -> String {
    let config = format!(
        r#"
data_dir = {data:?}

[sources.in]
type = "stdin"

[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "{url}"

[sinks.hook.users]
enabled = false

[sinks.hook.tls]
{tls}

[sinks.hook.retry]
tries = 1
attempts = 1
schedule = ["1h"]
"#,
        data = dir.join("data").display().to_string()
    );
    let config_path = dir.join("pipeline.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&config_path)
        .env("SSL_CERT_FILE", ssl_cert_file)
        .env_remove("SSL_CERT_DIR")
        // For the reason of a failed first attempt.
        .env("RUST_LOG", "info,webhook_sink=debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let event = b"{\"event_type\":\"Purchase\",\"user_id\":\"u1\",\"n\":1}\n";
    child.stdin.take().unwrap().write_all(event).unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roots_system_trusts_a_ca_that_only_the_system_store_holds() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("system-only CA");
    let ca_file = write_ca(dir.path(), &ca);
    let webhook = TlsWebhook::start(ca.server_config(&ALPN)).await;

    let log = run_binary(dir.path(), &webhook.url(), "roots = \"system\"", &ca_file).await;

    assert!(
        webhook
            .wait_until(Duration::from_secs(2), |w| w.seen().len() == 1)
            .await,
        "{}",
        log
    );
    // The start-up healthcheck's TCP connection is the one handshake that never began.
    assert_eq!(webhook.failed_handshakes(), 1, "{}", log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_mozillas_roots_the_same_system_store_ca_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("system-only CA");
    let ca_file = write_ca(dir.path(), &ca);
    let webhook = TlsWebhook::start(ca.server_config(&ALPN)).await;

    let log = run_binary(dir.path(), &webhook.url(), "roots = \"mozilla\"", &ca_file).await;

    assert!(webhook.seen().is_empty(), "{}", log);
    // The healthcheck's bare TCP connection, then the one try, refused by the sink.
    assert_eq!(webhook.failed_handshakes(), 2, "{}", log);
    assert!(
        log.contains("invalid peer certificate: UnknownIssuer"),
        "{}",
        log
    );
}
