//! The `demo` source: synthetic but realistic Amplitude export events and identifies, the same
//! for the same `seed`, emitted up to `count` at `rate` per second.
//!
//! A fixed pool of users (ids, devices, platform, location, plan) does page views, clicks,
//! searches, cart adds and purchases in sessions; about one record in twelve is an `$identify`
//! and one in a hundred a `$groupidentify`. Times advance from `start_time` by a simulated clock.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime};
use pipeline_core::{ConfigError, Event};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::SourceContext;

/// The most events one batch holds.
const MAX_BATCH_EVENTS: u64 = 100;

/// A session ends after this much inactivity (Amplitude's default).
const SESSION_GAP_MS: i64 = 30 * 60 * 1000;

/// `[sources.ID]` with `type = "demo"`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// How many records to emit; absent = until shutdown.
    pub count: Option<u64>,
    /// Records per second; absent or 0 = as fast as downstream takes them.
    #[serde(default)]
    pub rate: f64,
    /// The random seed: the same seed gives the same records.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// How many distinct users act.
    #[serde(default = "default_users")]
    pub users: u32,
    /// The simulated clock's start, `yyyy-MM-dd HH:mm:ss` UTC.
    #[serde(default = "default_start_time")]
    pub start_time: String,
}

fn default_seed() -> u64 {
    1
}

fn default_users() -> u32 {
    500
}

fn default_start_time() -> String {
    "2024-06-03 09:00:00".to_string()
}

impl Default for DemoConfig {
    fn default() -> DemoConfig {
        DemoConfig {
            count: None,
            rate: 0.0,
            seed: default_seed(),
            users: default_users(),
            start_time: default_start_time(),
        }
    }
}

impl DemoConfig {
    /// Check the values serde cannot: a usable rate, at least one user, a parseable start time.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.rate.is_finite() || self.rate < 0.0 {
            return Err(ConfigError::new(
                "rate",
                "expected a number of records per second >= 0",
            ));
        }
        if self.users == 0 {
            return Err(ConfigError::new("users", "at least one user is required"));
        }
        self.start_millis().map(|_| ())
    }

    fn start_millis(&self) -> Result<i64, ConfigError> {
        NaiveDateTime::parse_from_str(&self.start_time, "%Y-%m-%d %H:%M:%S")
            .map(|time| time.and_utc().timestamp_millis())
            .map_err(|error| {
                ConfigError::new(
                    "start_time",
                    format!("expected `yyyy-MM-dd HH:mm:ss`: {error}"),
                )
            })
    }
}

/// Emit records until `count` is reached or shutdown.
pub(super) async fn run(config: DemoConfig, mut cx: SourceContext) -> Result<(), ()> {
    let mut generator = match Generator::new(&config) {
        Ok(generator) => generator,
        Err(error) => {
            tracing::error!(component_id = %cx.id, %error, "invalid demo config");
            return Err(());
        }
    };
    let batch_size = if config.rate > 0.0 {
        ((config.rate / 10.0) as u64).clamp(1, MAX_BATCH_EVENTS)
    } else {
        MAX_BATCH_EVENTS
    };
    let started = tokio::time::Instant::now();
    let mut emitted: u64 = 0;
    while config.count.is_none_or(|count| emitted < count) && !cx.shutdown.is_cancelled() {
        let size = config
            .count
            .map_or(batch_size, |count| batch_size.min(count - emitted));
        let events: Vec<Event> = (0..size)
            .map(|_| Event::new(generator.next_record()))
            .collect();
        for event in &events {
            cx.metrics.received_events(1, event.json_byte_size());
        }
        if !cx.emit(events).await {
            tracing::warn!(component_id = %cx.id, "no downstream component left; stopping");
            return Ok(());
        }
        emitted += size;
        if config.rate > 0.0 {
            let due = started + Duration::from_secs_f64(emitted as f64 / config.rate);
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = cx.shutdown.cancelled() => break,
            }
        }
    }
    tracing::info!(component_id = %cx.id, emitted, "demo source finished");
    Ok(())
}

struct DemoUser {
    user_id: String,
    device_id: String,
    amplitude_id: u64,
    email: String,
    plan: &'static str,
    platform: &'static str,
    os_name: &'static str,
    os_version: &'static str,
    device_model: Option<&'static str>,
    location: (&'static str, &'static str, &'static str),
    language: &'static str,
    session_id: i64,
    last_seen: i64,
    event_id: u64,
}

const FIRST_NAMES: [&str; 10] = [
    "ada", "grace", "alan", "linus", "margaret", "ken", "barbara", "dennis", "frances", "tim",
];
const LAST_NAMES: [&str; 8] = [
    "lovelace", "hopper", "turing", "torvalds", "hamilton", "thompson", "liskov", "ritchie",
];
const PLANS: [&str; 4] = ["free", "starter", "pro", "enterprise"];
const LOCATIONS: [(&str, &str, &str); 8] = [
    ("United States", "California", "San Francisco"),
    ("United States", "New York", "New York"),
    ("Germany", "Berlin", "Berlin"),
    ("France", "Île-de-France", "Paris"),
    ("Japan", "Tokyo", "Tokyo"),
    ("Brazil", "São Paulo", "São Paulo"),
    ("India", "Karnataka", "Bengaluru"),
    ("United Kingdom", "England", "London"),
];
const PAGES: [(&str, &str); 6] = [
    ("/", "Home"),
    ("/pricing", "Pricing"),
    ("/features", "Features"),
    (
        "/blog/streaming-analytics",
        "Streaming analytics, explained",
    ),
    ("/docs/getting-started", "Getting started"),
    ("/checkout", "Checkout"),
];
const PRODUCTS: [(&str, &str, f64); 6] = [
    ("SKU-1001", "Trail Running Shoes", 129.99),
    ("SKU-1002", "Merino Wool Socks", 18.5),
    ("SKU-1003", "Water Bottle 750ml", 24.0),
    ("SKU-1004", "Rain Jacket", 219.0),
    ("SKU-1005", "Headlamp", 45.95),
    ("SKU-1006", "Energy Gel (12 pack)", 9.99),
];
const SEARCHES: [&str; 5] = [
    "running shoes",
    "rain jacket",
    "socks",
    "headlamp battery",
    "gift card",
];
const BUTTONS: [&str; 5] = [
    "cta-signup",
    "nav-pricing",
    "add-to-wishlist",
    "share",
    "newsletter-subscribe",
];

/// The record generator: a seeded random source, the user pool and the simulated clock.
struct Generator {
    rng: StdRng,
    users: Vec<DemoUser>,
    clock_ms: i64,
    order: u64,
}

impl Generator {
    fn new(config: &DemoConfig) -> Result<Generator, ConfigError> {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let clock_ms = config.start_millis()?;
        let users = (0..config.users)
            .map(|index| new_user(&mut rng, index, clock_ms))
            .collect();
        Ok(Generator {
            rng,
            users,
            clock_ms,
            order: 0,
        })
    }

    fn next_record(&mut self) -> Map<String, Value> {
        self.clock_ms += self.rng.gen_range(0..400);
        let now = self.clock_ms;
        let user_index = self.rng.gen_range(0..self.users.len());
        let roll = self.rng.gen_range(0..100u32);
        let (event_type, event_properties) = match roll {
            0..=37 => {
                let (path, title) = PAGES[self.rng.gen_range(0..PAGES.len())];
                (
                    "Page Viewed",
                    json!({"page_path": path, "page_title": title, "referrer": "https://www.google.com/"}),
                )
            }
            38..=55 => {
                let button = BUTTONS[self.rng.gen_range(0..BUTTONS.len())];
                (
                    "click event",
                    json!({"button_id": button, "page_path": PAGES[self.rng.gen_range(0..PAGES.len())].0}),
                )
            }
            56..=64 => {
                let query = SEARCHES[self.rng.gen_range(0..SEARCHES.len())];
                (
                    "Search",
                    json!({"query": query, "results": self.rng.gen_range(0..60)}),
                )
            }
            65..=76 => {
                let (id, name, price) = PRODUCTS[self.rng.gen_range(0..PRODUCTS.len())];
                let quantity = self.rng.gen_range(1..4);
                (
                    "Add To Cart",
                    json!({"product_id": id, "product_name": name, "price": price, "quantity": quantity, "currency": "USD"}),
                )
            }
            77..=83 => {
                let (id, name, price) = PRODUCTS[self.rng.gen_range(0..PRODUCTS.len())];
                let quantity: u32 = self.rng.gen_range(1..4);
                let revenue = (price * f64::from(quantity) * 100.0).round() / 100.0;
                self.order += 1;
                let order_id = format!("ORD-{:06}", self.order);
                (
                    "Purchase",
                    json!({"order_id": order_id, "product_id": id, "product_name": name, "price": price, "quantity": quantity, "revenue": revenue, "currency": "USD"}),
                )
            }
            84..=86 => {
                let method = if self.rng.gen_bool(0.5) {
                    "google"
                } else {
                    "email"
                };
                ("Sign Up", json!({"method": method}))
            }
            87..=98 => ("$identify", json!({})),
            _ => ("$groupidentify", json!({})),
        };
        let uuid = uuid_v4(&mut self.rng);
        let insert_id = uuid_v4(&mut self.rng);
        // Amplitude sends an identify made before login with `device_id` only.
        let anonymous = event_type == "$identify" && self.rng.gen_bool(0.2);
        let user = &mut self.users[user_index];
        if event_type == "$identify" && self.rng.gen_bool(0.3) {
            user.plan = PLANS[self.rng.gen_range(0..PLANS.len())];
        }
        if now - user.last_seen > SESSION_GAP_MS {
            user.session_id = now;
        }
        user.last_seen = now;
        user.event_id += 1;
        let time = format_time(now);
        let mut record = Map::new();
        let mut put = |key: &str, value: Value| {
            record.insert(key.to_string(), value);
        };
        put("uuid", json!(uuid));
        put("$insert_id", json!(insert_id));
        put("event_type", json!(event_type));
        put("event_time", json!(time));
        put("client_event_time", json!(time));
        put("server_received_time", json!(format_time(now + 150)));
        if !anonymous {
            put("user_id", json!(user.user_id));
        }
        put("device_id", json!(user.device_id));
        put("amplitude_id", json!(user.amplitude_id));
        put("session_id", json!(user.session_id));
        put("event_id", json!(user.event_id));
        put("app", json!(187_520));
        match event_type {
            "$identify" => {
                put("event_properties", json!({}));
                put(
                    "user_properties",
                    json!({"$set": {"email": user.email, "plan": user.plan}}),
                );
                put("groups", json!({}));
            }
            "$groupidentify" => {
                put("event_properties", json!({}));
                put("user_properties", json!({}));
                put("groups", json!({"company": ["Acme Outdoor"]}));
                put(
                    "group_properties",
                    json!({"company": {"Acme Outdoor": {"industry": "retail", "employees": 250}}}),
                );
            }
            _ => {
                put("event_properties", event_properties);
                put(
                    "user_properties",
                    json!({"email": user.email, "plan": user.plan}),
                );
                put("groups", json!({}));
            }
        }
        put("platform", json!(user.platform));
        put("os_name", json!(user.os_name));
        put("os_version", json!(user.os_version));
        if let Some(model) = user.device_model {
            put("device_model", json!(model));
        }
        put("country", json!(user.location.0));
        put("region", json!(user.location.1));
        put("city", json!(user.location.2));
        put("language", json!(user.language));
        put("paying", json!(user.plan != "free"));
        put("library", json!(library_for(user.platform)));
        put("version_name", json!("3.14.0"));
        record
    }
}

/// The first `count` records the demo source produces with `seed` (and default settings); for
/// tools and tests that want sample data without running a pipeline.
pub fn generate(seed: u64, count: usize) -> Vec<Map<String, Value>> {
    let config = DemoConfig {
        seed,
        ..DemoConfig::default()
    };
    match Generator::new(&config) {
        Ok(mut generator) => (0..count).map(|_| generator.next_record()).collect(),
        Err(_) => Vec::new(),
    }
}

fn new_user(rng: &mut StdRng, index: u32, now: i64) -> DemoUser {
    let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
    let last = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
    let (platform, os_name, os_version, device_model) = match rng.gen_range(0..3) {
        0 => (
            "Web",
            ["Chrome", "Safari", "Firefox"][rng.gen_range(0..3)],
            "126",
            None,
        ),
        1 => ("iOS", "ios", "17.5.1", Some("iPhone15,2")),
        _ => ("Android", "android", "14", Some("Pixel 8")),
    };
    let location = LOCATIONS[rng.gen_range(0..LOCATIONS.len())];
    let language = match location.0 {
        "Germany" => "German",
        "France" => "French",
        "Japan" => "Japanese",
        "Brazil" => "Portuguese",
        _ => "English",
    };
    DemoUser {
        user_id: format!("user_{index:05}"),
        device_id: uuid_v4(rng),
        amplitude_id: 100_000_000_000 + u64::from(index) * 7919,
        email: format!("{first}.{last}{index}@example.com"),
        plan: PLANS[rng.gen_range(0..PLANS.len())],
        platform,
        os_name,
        os_version,
        device_model,
        location,
        language,
        session_id: now,
        last_seen: now - SESSION_GAP_MS - 1,
        event_id: 0,
    }
}

fn library_for(platform: &str) -> &'static str {
    match platform {
        "iOS" => "amplitude-swift/1.6.1",
        "Android" => "amplitude-analytics-android/1.16.8",
        _ => "amplitude-ts/2.11.0",
    }
}

/// `yyyy-MM-dd HH:mm:ss.SSS` in UTC, the time format the sink presents.
fn format_time(epoch_ms: i64) -> String {
    DateTime::from_timestamp_millis(epoch_ms)
        .map(|time| time.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_default()
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn uuid_v4(rng: &mut StdRng) -> String {
    let mut bytes: [u8; 16] = rng.gen();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut text = String::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_records_and_another_seed_differs() {
        assert_eq!(generate(7, 50), generate(7, 50));
        assert_ne!(generate(7, 50), generate(8, 50));
    }

    #[test]
    fn records_look_like_amplitude_export_events() {
        let records = generate(1, 2000);
        let types: std::collections::BTreeSet<&str> = records
            .iter()
            .map(|r| r["event_type"].as_str().unwrap())
            .collect();
        for expected in [
            "Page Viewed",
            "click event",
            "Add To Cart",
            "Purchase",
            "$identify",
            "$groupidentify",
        ] {
            assert!(types.contains(expected), "no {expected} in {types:?}");
        }
        let time_shape = regex_like_time;
        for record in &records {
            match record.get("user_id") {
                Some(id) => assert!(id.as_str().unwrap().starts_with("user_")),
                None => assert_eq!(record["event_type"], "$identify"),
            }
            let uuid = record["uuid"].as_str().unwrap();
            assert_eq!(uuid.len(), 36);
            assert_eq!(
                uuid.split('-').map(str::len).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert_eq!(&uuid[14..15], "4", "version 4: {uuid}");
            assert!(
                time_shape(record["event_time"].as_str().unwrap()),
                "{}",
                record["event_time"]
            );
            assert!(record["amplitude_id"].is_u64());
            assert!(record["session_id"].is_i64());
            let props = record["user_properties"].as_object().unwrap();
            if record["event_type"] == "$identify" {
                assert!(props["$set"]["email"]
                    .as_str()
                    .unwrap()
                    .ends_with("@example.com"));
            } else if record["event_type"] == "Purchase" {
                let p = &record["event_properties"];
                let expected = p["price"].as_f64().unwrap() * p["quantity"].as_f64().unwrap();
                assert!((p["revenue"].as_f64().unwrap() - expected).abs() < 0.01);
            }
        }
        let anonymous = records
            .iter()
            .filter(|r| !r.contains_key("user_id"))
            .count();
        assert!(anonymous > 0, "some identifies carry device_id only");
        let first = records[0]["event_time"].as_str().unwrap();
        let last = records[1999]["event_time"].as_str().unwrap();
        assert!(first >= "2024-06-03 09:00:00.000" && last > first);
    }

    fn regex_like_time(text: &str) -> bool {
        let bytes = text.as_bytes();
        bytes.len() == 23
            && bytes.iter().enumerate().all(|(i, b)| match i {
                4 | 7 => *b == b'-',
                10 => *b == b' ',
                13 | 16 => *b == b':',
                19 => *b == b'.',
                _ => b.is_ascii_digit(),
            })
    }

    #[test]
    fn bad_values_are_refused() {
        let bad_rate = DemoConfig {
            rate: -1.0,
            ..DemoConfig::default()
        };
        assert_eq!(bad_rate.validate().unwrap_err().path, "rate");
        let bad_time = DemoConfig {
            start_time: "yesterday".into(),
            ..DemoConfig::default()
        };
        assert_eq!(bad_time.validate().unwrap_err().path, "start_time");
    }
}
