//! The delivery dashboard in a real browser: a pipeline runs a known number of events through a
//! local webhook that fails some requests, headless Chromium loads `/dashboard`, and the figures
//! its DOM shows are checked against what the webhook received; the page logs no errors; a
//! screenshot is saved.

mod host_support;
mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use host_support::browser::{self, figure};
use host_support::{collect, free_port, kill, scrape, test_events, wait_until, Workspace};
use support::{numbers, Receiver, Reply};

/// Events that render, and events without `n`, whose template fails (discarded).
const GOOD: u32 = 400;
const BAD: u32 = 25;
/// The webhook's first answers are 503 (retried within the attempt, or later from the store).
const REFUSED: usize = 12;

fn pipeline(api: u16, url: &str) -> String {
    format!(
        r#"
data_dir = "{{data_dir}}"
[api]
address = "127.0.0.1:{api}"
[sources.in]
type = "stdin"
[sinks.hook]
type = "webhook"
inputs = ["in"]
url = "{url}"
[sinks.hook.events]
template = '{{"n": ${{input.n?c}}}}'
[sinks.hook.users]
enabled = false
[sinks.hook.retry]
initial_backoff = "20ms"
attempts = 9
window = "10s"
"#
    )
}

#[test]
fn the_dashboard_shows_what_the_webhook_received() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start()).unwrap();
    receiver.script(std::iter::repeat_n(Reply::Status(503), REFUSED));
    let api = free_port();
    let workspace = Workspace::with_config(&pipeline(api, &receiver.url()));
    let mut child = workspace.spawn_run();
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    {
        let stdin = child.stdin.as_mut().expect("piped stdin");
        stdin.write_all(test_events(0..GOOD).as_bytes()).unwrap();
        for i in 0..BAD {
            writeln!(stdin, r#"{{"event_type":"Broken","user_id":"u{i}"}}"#).unwrap();
        }
        stdin.flush().unwrap();
    }
    let hook = [("component_id", "hook"), ("stream", "events")];
    let settled = wait_until(Duration::from_secs(60), || {
        let delivered = scrape(api, "webhook_deliveries_total", &hook)
            - scrape(
                api,
                "webhook_deliveries_total",
                &[hook[0], hook[1], ("outcome", "discarded")],
            );
        delivered == f64::from(GOOD) && scrape(api, "webhook_retry_store_records", &hook) == 0.0
    });
    assert!(settled, "the webhook did not get every event");
    let delivered: BTreeSet<u64> = numbers(&receiver).into_iter().collect();
    assert_eq!(delivered.len(), GOOD as usize);
    let requests = receiver.received().len();

    // The page polls every two seconds; give the sampler two points of history first.
    std::thread::sleep(Duration::from_millis(4500));
    let url = format!("http://127.0.0.1:{api}/dashboard");
    let page = browser::load(&url, 5000);
    let value = |key: &str| {
        figure(&page.dom, key).unwrap_or_else(|| panic!("the page shows no figure {key}"))
    };
    let number = |key: &str| -> f64 {
        value(key)
            .parse()
            .unwrap_or_else(|_| panic!("figure {key} is not a number"))
    };
    assert_eq!(number("hook.events.delivered"), delivered.len() as f64);
    assert_eq!(
        number("hook.events.first_attempt") + number("hook.events.after_retry"),
        delivered.len() as f64
    );
    assert_eq!(number("hook.events.requests.503"), REFUSED as f64);
    assert_eq!(
        number("hook.events.requests.200"),
        (requests - REFUSED) as f64
    );
    assert_eq!(number("hook.events.discarded"), f64::from(BAD));
    assert_eq!(number("hook.events.not_delivered"), f64::from(BAD));
    assert_eq!(number("hook.template_errors"), f64::from(BAD));
    assert_eq!(number("hook.events_in"), f64::from(GOOD + BAD));
    let rate = number("hook.events.delivery_rate");
    assert!((rate - f64::from(GOOD) / f64::from(GOOD + BAD)).abs() < 1e-9);
    assert_eq!(number("hook.events.backlog"), 0.0);
    assert_eq!(number("hook.events.in_flight"), 0.0);
    assert_eq!(value("hook.events.circuit"), "closed");
    assert_eq!(value("health.status"), "healthy");
    assert!(number("hook.events.p95_latency_seconds") > 0.0);
    let chart_points = page
        .dom
        .find("data-figure=\"hook.chart\"")
        .and_then(|at| {
            let tag_start = page.dom[..at].rfind('<')?;
            let tag_end = page.dom[at..].find('>')? + at;
            browser::attribute(&page.dom[tag_start..tag_end], "data-points")
        })
        .and_then(|points| points.parse::<u32>().ok())
        .unwrap_or(0);
    assert!(chart_points >= 1, "the chart has no history");

    // The page's scripts ran without errors and refreshed.
    let body = &page.dom[page.dom.find("<body").expect("a body")..];
    let body_tag = &body[..body.find('>').unwrap_or(body.len())];
    assert_eq!(
        browser::attribute(body_tag, "data-errors").as_deref(),
        Some("0")
    );
    let updates: u32 = browser::attribute(body_tag, "data-updates")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(updates >= 2, "the page refreshed {updates} times");
    let errors = browser::console_errors(&page.log);
    assert!(errors.is_empty(), "the page logged errors: {errors:?}");

    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    browser::screenshot(&url, 3000, &shot);
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a blank screenshot"
    );
    println!("screenshot: {}", shot.display());

    drop(child.stdin.take());
    let log = kill(child, stderr);
    assert!(!log.contains("panicked"), "{log}");
}
