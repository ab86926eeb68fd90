//! `webhook-sink dead-letters` as an operator uses it: the real binary runs a sink against a
//! loopback webhook that answers 500 to everything, with a schedule short enough that records
//! become dead letters within a second, and the `dead-letters` commands then work on that real
//! SQLite store: the table and its columns, `--json`, each filter, a replay of one stream,
//! purge's refusal and its filtered and `--all` forms, `show` with redacted headers, and the
//! errors for an unknown id or a bad TIME.

mod host_support;

use std::process::{Child, Command, Output};
use std::thread::JoinHandle;
use std::time::Duration;

use host_support::{bin, collect, kill, rows, store_file, wait_until, Workspace};
use serde_json::Value;
use webhook_receiver::{Receiver, Reply};

/// A sink with default payloads on both streams, one custom header, one try per attempt and two
/// later attempts 50 ms apart (3 attempts in all), its circuit off so every record spends them.
fn config(url: &str) -> String {
    format!(
        r#"
data_dir = "{{data_dir}}"
[sources.in]
type = "stdin"
[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "{url}"
headers = {{ X-Team = "growth-team-value" }}
[sinks.hook.retry]
tries = 1
schedule = ["50ms", "50ms"]
[sinks.hook.circuit]
enabled = false
"#
    )
}

/// An event whose payload carries `$insert_id` `ins-N`, `event_type` `Purchase` and `user_id`
/// `u-N`; it yields an event and a user record, so two dead letters.
fn event(n: u32) -> String {
    format!(
        "{{\"event_type\":\"Purchase\",\"user_id\":\"u-{n}\",\"$insert_id\":\"ins-{n}\",\
         \"event_properties\":{{\"price\":{n}}}}}\n"
    )
}

/// A running sink whose webhook always answers 500, and its store.
struct Sink {
    _runtime: tokio::runtime::Runtime,
    _receiver: Receiver,
    workspace: Workspace,
    running: Option<(Child, JoinHandle<String>)>,
    dead: u64,
}

impl Sink {
    fn start() -> Sink {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let receiver = runtime.block_on(Receiver::start()).expect("the receiver");
        receiver.set_default(Reply::Status(500));
        let workspace = Workspace::with_config(&config(&receiver.url()));
        let mut child = workspace.spawn_run();
        let stderr = collect(child.stderr.take().expect("piped stderr"));
        Sink {
            _runtime: runtime,
            _receiver: receiver,
            workspace,
            running: Some((child, stderr)),
            dead: 0,
        }
    }

    /// A sink that has dead-lettered the events `numbers` (both streams).
    fn with_dead(numbers: std::ops::Range<u32>) -> Sink {
        let mut sink = Sink::start();
        sink.send(numbers);
        sink
    }

    /// Sends the events `numbers` and waits until each is a dead letter on both streams.
    fn send(&mut self, numbers: std::ops::Range<u32>) {
        use std::io::Write;
        let (child, _) = self.running.as_mut().expect("the sink runs");
        let stdin = child.stdin.as_mut().expect("piped stdin");
        let lines: String = numbers.clone().map(event).collect();
        stdin.write_all(lines.as_bytes()).expect("write events");
        stdin.flush().expect("flush events");
        self.dead += 2 * u64::from(numbers.end - numbers.start);
        let file = store_file(&self.workspace, "hook");
        let dead = wait_until(Duration::from_secs(30), || {
            rows(&file, "dead_letters") == self.dead && rows(&file, "records") == 0
        });
        if !dead {
            let (child, stderr) = self.running.take().expect("the sink runs");
            panic!(
                "{} dead letters, expected {}; log:\n{}",
                rows(&file, "dead_letters"),
                self.dead,
                kill(child, stderr)
            );
        }
    }

    /// Kills the sink, so that nothing changes the store but the commands under test.
    fn stop(&mut self) {
        if let Some((child, stderr)) = self.running.take() {
            kill(child, stderr);
        }
    }

    /// `webhook-sink dead-letters ACTION --config pipeline.toml --sink hook ARGS...`.
    fn cli(&self, action: &str, args: &[&str]) -> Output {
        dead_letters(&self.workspace, action, args)
    }

    /// [`Sink::cli`], which must succeed; its standard output.
    fn ok(&self, action: &str, args: &[&str]) -> String {
        succeeded(self.cli(action, args))
    }

    /// `list --json` with `args`, parsed.
    fn json(&self, args: &[&str]) -> Vec<Value> {
        let args: Vec<&str> = std::iter::once("--json")
            .chain(args.iter().copied())
            .collect();
        self.ok("list", &args)
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop();
    }
}

fn dead_letters(workspace: &Workspace, action: &str, args: &[&str]) -> Output {
    Command::new(bin())
        .args(["dead-letters", action, "--config"])
        .arg(workspace.config_path())
        .args(["--sink", "hook"])
        .args(args)
        .output()
        .expect("run dead-letters")
}

fn succeeded(output: Output) -> String {
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A field of each line, as text (`null` as `-`).
fn field(lines: &[Value], name: &str) -> Vec<String> {
    lines
        .iter()
        .map(|line| match &line[name] {
            Value::String(text) => text.clone(),
            Value::Null => "-".to_owned(),
            other => other.to_string(),
        })
        .collect()
}

/// The ids of the lines, as `--id` takes them.
fn ids(lines: &[Value]) -> Vec<String> {
    field(lines, "id")
}

#[test]
fn list_prints_an_aligned_table_of_the_dead_letters_while_the_sink_runs() {
    let sink = Sink::with_dead(1..3);
    let table = sink.ok("list", &[]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ID",
            "STREAM",
            "INSERT_ID",
            "EVENT_TYPE",
            "USER_ID",
            "ATTEMPTS",
            "AGE",
            "LAST_ERROR"
        ]
    );
    let error_column = lines[0].find("LAST_ERROR").expect("a LAST_ERROR column");
    let mut seen = Vec::new();
    for line in &lines[1..] {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let (stream, insert_id, event_type, user_id) = (cells[1], cells[2], cells[3], cells[4]);
        seen.push((stream, insert_id, event_type, user_id));
        assert_eq!(cells[5], "3", "attempts: {line}");
        let age = cells[6];
        assert!(
            age.ends_with('s') && age[..age.len() - 1].parse::<u32>().is_ok(),
            "age {age}: {line}"
        );
        let error = &line[error_column..];
        assert!(
            error.contains("500"),
            "the last error starts the column: {line}"
        );
        assert!(error.chars().count() <= 60, "{line}");
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ("events", "ins-1", "Purchase", "u-1"),
            ("events", "ins-2", "Purchase", "u-2"),
            ("users", "-", "-", "u-1"),
            ("users", "-", "-", "u-2"),
        ]
    );
}

#[test]
fn list_json_has_every_field_with_the_payload_keys_of_the_events_sent() {
    let sink = Sink::with_dead(1..2);
    let lines = sink.json(&[]);
    assert_eq!(lines.len(), 2);
    let event = lines
        .iter()
        .find(|line| line["stream"] == "events")
        .expect("the event's dead letter");
    assert_eq!(event["insert_id"], "ins-1");
    assert_eq!(event["event_type"], "Purchase");
    assert_eq!(event["user_id"], "u-1");
    assert_eq!(event["attempts"], 3);
    assert!(event["id"].as_i64().is_some(), "{event}");
    assert!(
        event["last_error"].as_str().unwrap().contains("500"),
        "{event}"
    );
    assert!(event["age_seconds"].as_u64().is_some(), "{event}");
    let history = event["history"].as_array().expect("a history");
    assert_eq!(history.len(), 3, "{event}");
    assert!(history.iter().all(|failure| failure["error"]
        .as_str()
        .is_some_and(|error| error.contains("500"))));
    // RFC 3339 in UTC with milliseconds, which sort as text.
    let time = |name: &str| {
        let text = event[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {event}"));
        assert!(
            chrono::DateTime::parse_from_rfc3339(text).is_ok() && text.ends_with('Z'),
            "{name}: {text}"
        );
        text.to_owned()
    };
    let (received, first, last, dead) = (
        time("received_at"),
        time("first_attempt_at"),
        time("last_attempt_at"),
        time("dead_at"),
    );
    assert!(received <= first && first < last && last <= dead, "{event}");
    assert_eq!(history[0]["at"].as_str(), Some(first.as_str()));

    let user = lines
        .iter()
        .find(|line| line["stream"] == "users")
        .expect("the user's dead letter");
    assert_eq!(user["user_id"], "u-1");
    assert_eq!(
        (&user["insert_id"], &user["event_type"]),
        (&Value::Null, &Value::Null)
    );
}

#[test]
fn list_filters_by_id_stream_and_time_and_combines_them_with_and() {
    let mut sink = Sink::with_dead(1..2);
    std::thread::sleep(Duration::from_millis(50));
    let between = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::thread::sleep(Duration::from_millis(50));
    sink.send(2..3);
    let users_of = |lines: &[Value]| {
        let mut users = field(lines, "user_id");
        users.sort();
        users
    };

    let all = sink.json(&[]);
    assert_eq!(all.len(), 4);
    let all_ids = ids(&all);
    let picked = sink.json(&["--id", &all_ids[0], "--id", &all_ids[2]]);
    assert_eq!(ids(&picked), [all_ids[0].clone(), all_ids[2].clone()]);
    let comma = format!("{},{}", all_ids[1], all_ids[3]);
    assert_eq!(
        ids(&sink.json(&["--id", &comma])),
        [all_ids[1].clone(), all_ids[3].clone()]
    );

    let events = sink.json(&["--stream", "events"]);
    assert_eq!(field(&events, "stream"), ["events", "events"]);
    assert_eq!(users_of(&events), ["u-1", "u-2"]);

    assert_eq!(
        users_of(&sink.json(&["--before", &between])),
        ["u-1", "u-1"]
    );
    assert_eq!(users_of(&sink.json(&["--since", &between])), ["u-2", "u-2"]);
    assert_eq!(sink.json(&["--since", "1h"]).len(), 4);
    assert!(sink.json(&["--before", "1h"]).is_empty());
    assert_eq!(sink.ok("list", &["--before", "1h"]), "no dead letters\n");
    assert_eq!(sink.ok("list", &["--json", "--before", "1h"]), "");

    let combined = sink.json(&["--stream", "users", "--since", &between]);
    assert_eq!(field(&combined, "stream"), ["users"]);
    assert_eq!(users_of(&combined), ["u-2"]);
    let disjoint = sink.json(&["--stream", "users", "--id", &ids(&events)[0]]);
    assert!(disjoint.is_empty(), "{disjoint:?}");
}

#[test]
fn replay_with_a_stream_moves_only_that_streams_dead_letters_back_to_waiting() {
    let mut sink = Sink::with_dead(1..4);
    sink.stop();
    assert_eq!(
        sink.ok("replay", &["--stream", "users"]),
        "replayed 3 dead letters\n"
    );
    let left = sink.json(&[]);
    assert_eq!(field(&left, "stream"), ["events", "events", "events"]);

    let file = store_file(&sink.workspace, "hook");
    let conn = rusqlite::Connection::open(&file).expect("the store file");
    let waiting: Vec<(String, i64)> = conn
        .prepare("SELECT stream, attempts FROM records ORDER BY id")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .expect("the waiting records");
    assert_eq!(
        waiting,
        vec![("users".to_owned(), 0); 3],
        "a fresh schedule each"
    );

    assert_eq!(
        sink.ok("replay", &["--stream", "users"]),
        "replayed 0 dead letters\n"
    );
    assert_eq!(sink.ok("replay", &[]), "replayed 3 dead letters\n");
    assert_eq!(sink.ok("list", &[]), "no dead letters\n");
}

#[test]
fn purge_refuses_without_all_or_a_filter_then_purges_by_id_and_everything_with_all() {
    let mut sink = Sink::with_dead(1..3);
    sink.stop();

    let refused = sink.cli("purge", &[]);
    assert_eq!(refused.status.code(), Some(2));
    let message = stderr(&refused);
    assert!(
        message.contains("--all") && message.contains("filter"),
        "{message}"
    );
    let conflict = sink.cli("purge", &["--all", "--stream", "users"]);
    assert_eq!(conflict.status.code(), Some(2));
    assert!(
        stderr(&conflict).contains("cannot be used with"),
        "{}",
        stderr(&conflict)
    );
    assert_eq!(sink.json(&[]).len(), 4, "a refused purge deletes nothing");

    let first = ids(&sink.json(&[]))[0].clone();
    assert_eq!(
        sink.ok("purge", &["--id", &first]),
        "purged 1 dead letters\n"
    );
    let left = ids(&sink.json(&[]));
    assert_eq!(left.len(), 3);
    assert!(!left.contains(&first), "{left:?}");

    assert_eq!(sink.ok("purge", &["--all"]), "purged 3 dead letters\n");
    assert_eq!(sink.ok("list", &[]), "no dead letters\n");
}

#[test]
fn show_prints_the_failures_the_headers_redacted_and_the_body_pretty_printed() {
    let mut sink = Sink::with_dead(1..2);
    sink.stop();
    let event = sink.json(&["--stream", "events"]);
    let id = ids(&event)[0].clone();

    let shown = sink.ok("show", &["--id", &id]);
    assert!(
        shown.starts_with(&format!("id:          {id}\nstream:      events\n")),
        "{shown}"
    );
    assert!(shown.contains("insert_id:   ins-1\n"), "{shown}");
    assert!(shown.contains("attempts:    3\n"), "{shown}");
    let errors = shown
        .lines()
        .filter(|line| line.starts_with("   ") && line.contains("500"));
    assert_eq!(errors.count(), 3, "{shown}");
    assert!(
        shown.contains("\ncontent-type: application/json\n"),
        "{shown}"
    );
    assert!(shown.contains("\nx-team: <redacted>\n"), "{shown}");
    assert!(!shown.contains("growth-team-value"), "{shown}");
    assert!(
        shown.contains("\n  \"event_type\": \"Purchase\",\n"),
        "{shown}"
    );
    assert!(
        shown.contains("\n  \"$insert_id\": \"ins-1\",\n"),
        "{shown}"
    );
    assert!(
        shown.contains("\"event_properties\": {\n    \"price\": 1\n  }"),
        "{shown}"
    );

    // A store that kept header values in clear (older builds): the configured custom header,
    // Authorization and credential-like names are still redacted; other headers are shown.
    let clear = r#"{"content-type":"application/json","x-team":"growth-team-value",
        "authorization":"Bearer s3cret","x-hub-signature":"sha256=abc","x-request-id":"r-1"}"#;
    let file = store_file(&sink.workspace, "hook");
    rusqlite::Connection::open(&file)
        .and_then(|conn| conn.execute("UPDATE dead_letters SET headers = ?1", [clear]))
        .expect("rewrite the headers");
    let shown = sink.ok("show", &["--id", &id]);
    for redacted in ["x-team", "authorization", "x-hub-signature"] {
        assert!(
            shown.contains(&format!("\n{redacted}: <redacted>\n")),
            "{redacted}: {shown}"
        );
    }
    assert!(shown.contains("\nx-request-id: r-1\n"), "{shown}");
    for secret in ["growth-team-value", "s3cret", "sha256=abc"] {
        assert!(!shown.contains(secret), "{secret}: {shown}");
    }
}

#[test]
fn show_of_an_unknown_id_exits_1_naming_it() {
    let workspace = Workspace::with_config(&config("http://127.0.0.1:9/webhook"));
    let output = dead_letters(&workspace, "show", &["--id", "42"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output), "error: no dead letter with id 42\n");
    assert!(output.stdout.is_empty());
}

#[test]
fn a_bad_time_is_a_usage_error_naming_the_flag_and_the_value() {
    let workspace = Workspace::with_config(&config("http://127.0.0.1:9/webhook"));
    for (flag, action) in [("--since", "list"), ("--before", "purge")] {
        let output = dead_letters(&workspace, action, &[flag, "yesterday"]);
        assert_eq!(output.status.code(), Some(2));
        let message = stderr(&output);
        assert!(
            message.contains(flag) && message.contains("'yesterday'"),
            "{message}"
        );
        assert!(
            message.contains("RFC 3339") && message.contains("30m"),
            "{message}"
        );
    }
}
