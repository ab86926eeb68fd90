//! Environment variables in the config, through the real binary: `validate` with a variable set,
//! with a default, and with variables missing (every one named with its key and line);
//! `validate --print` showing the resolved config with secrets redacted; and a `run` whose
//! webhook URL comes from the environment delivering to a local receiver.

mod host_support;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use host_support::{bin, test_events, Workspace};
use webhook_receiver::Receiver;

/// The variables these tests set or expect unset; none is inherited from the caller's shell.
const VARIABLES: [&str; 4] = [
    "WEBHOOK_SINK_TEST_URL",
    "WEBHOOK_SINK_TEST_TOKEN",
    "WEBHOOK_SINK_TEST_TEAM",
    "WEBHOOK_SINK_TEST_CONCURRENCY",
];

/// stdin -> webhook, with the URL, a header and a number taken from the environment.
const CONFIG: &str = r#"
data_dir = "{data_dir}"  # comments are not interpolated: ${WEBHOOK_SINK_TEST_NOWHERE}

[sources.in]
type = "stdin"

[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "${WEBHOOK_SINK_TEST_URL}"
headers = { Authorization = "Bearer ${WEBHOOK_SINK_TEST_TOKEN}", X-Team = "${WEBHOOK_SINK_TEST_TEAM:-growth}" }

[sinks.hook.events]
template = '{"n": ${input.n?c}, "price": "$$5"}'

[sinks.hook.users]
enabled = false

[sinks.hook.request]
concurrency = ${WEBHOOK_SINK_TEST_CONCURRENCY:-4}
"#;

/// `webhook-sink ARGS --config pipeline.toml` with exactly `env` of [`VARIABLES`] set.
fn command(workspace: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(bin());
    command
        .args(args)
        .arg("--config")
        .arg(workspace.config_path());
    for name in VARIABLES {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command
}

fn validate(workspace: &Workspace, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let args: Vec<&str> = ["validate"].iter().chain(extra).copied().collect();
    command(workspace, &args, env)
        .output()
        .expect("run webhook-sink validate")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn validate_accepts_a_config_whose_variables_are_set() {
    let workspace = Workspace::with_config(CONFIG);
    let output = validate(
        &workspace,
        &[],
        &[
            ("WEBHOOK_SINK_TEST_URL", "http://127.0.0.1:9/hook"),
            ("WEBHOOK_SINK_TEST_TOKEN", "t0ken"),
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).ends_with("ok (1 sources, 0 transforms, 1 sinks)\n"),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn validate_names_every_missing_variable_with_its_key_and_line() {
    let workspace = Workspace::with_config(CONFIG);
    let output = validate(&workspace, &[], &[]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "environment variable WEBHOOK_SINK_TEST_URL is not set \
             (line 10, column 8, in key sinks.hook.url)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "environment variable WEBHOOK_SINK_TEST_TOKEN is not set \
             (line 11, column 37, in key sinks.hook.headers.Authorization)"
        ),
        "{stderr}"
    );
    // The variables with defaults, the comment and the template are not reported.
    assert!(!stderr.contains("TEAM"), "{stderr}");
    assert!(!stderr.contains("CONCURRENCY"), "{stderr}");
    assert!(!stderr.contains("NOWHERE"), "{stderr}");
    assert!(!stderr.contains("input"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn validate_print_shows_the_resolved_config_with_secrets_redacted() {
    let workspace = Workspace::with_config(CONFIG);
    let output = validate(
        &workspace,
        &["--print"],
        &[
            ("WEBHOOK_SINK_TEST_URL", "http://127.0.0.1:9/from-env"),
            ("WEBHOOK_SINK_TEST_TOKEN", "t0ken-s3cr3t"),
            ("WEBHOOK_SINK_TEST_CONCURRENCY", "12"),
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("# "), "{stdout}");
    assert!(!stdout.contains("t0ken-s3cr3t"), "{stdout}");
    assert!(!stdout.contains("growth"), "{stdout}");
    // What is printed is TOML: read it back and look at the values.
    let printed: toml::Table = stdout.parse().expect("the printed config is TOML");
    let hook = &printed["sinks"]["hook"];
    assert_eq!(hook["url"].as_str(), Some("http://127.0.0.1:9/from-env"));
    assert_eq!(
        hook["headers"]["Authorization"].as_str(),
        Some("<redacted>")
    );
    assert_eq!(hook["headers"]["X-Team"].as_str(), Some("<redacted>"));
    assert_eq!(hook["request"]["concurrency"].as_integer(), Some(12));
    // The template is the template as written, `$$` included.
    assert_eq!(
        hook["events"]["template"].as_str(),
        Some(r#"{"n": ${input.n?c}, "price": "$$5"}"#)
    );
}

#[test]
fn validate_print_prints_nothing_for_an_invalid_config() {
    let workspace = Workspace::with_config(CONFIG);
    let output = validate(
        &workspace,
        &["--print"],
        &[
            ("WEBHOOK_SINK_TEST_URL", "ftp://127.0.0.1/"),
            ("WEBHOOK_SINK_TEST_TOKEN", "t"),
        ],
    );
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    assert!(
        text(&output.stderr).contains("sinks.hook.url"),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_delivers_to_the_url_taken_from_the_environment() {
    let receiver = Receiver::start().await.expect("start the webhook receiver");
    let workspace = Workspace::with_config(CONFIG);
    let url = format!("http://{}/from-env", receiver.addr());
    let mut child = command(
        &workspace,
        &["run"],
        &[
            ("WEBHOOK_SINK_TEST_URL", &url),
            ("WEBHOOK_SINK_TEST_TOKEN", "t0ken"),
            ("RUST_LOG", "warn"),
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn webhook-sink run");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(test_events(0..3).as_bytes())
        .expect("write the events");
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait for webhook-sink");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(receiver.wait_for(3, Duration::from_secs(5)).await);
    let mut bodies: Vec<String> = Vec::new();
    for request in receiver.received() {
        assert_eq!(request.path, "/from-env");
        assert_eq!(request.headers["authorization"], "Bearer t0ken");
        assert_eq!(request.headers["x-team"], "growth");
        bodies.push(text(&request.body));
    }
    bodies.sort();
    assert_eq!(
        bodies,
        [
            r#"{"n": 0, "price": "$$5"}"#,
            r#"{"n": 1, "price": "$$5"}"#,
            r#"{"n": 2, "price": "$$5"}"#,
        ]
    );
}
