//! The `demo` source: synthetic but realistic Amplitude export events and identifies, the same
//! for the same `seed`, emitted up to `count` at `rate` per second.
//!
//! A fixed pool of users (ids, devices, platform, location, plan) does page views, clicks,
//! searches, cart adds and purchases in sessions; about one record in twelve is an `$identify`
//! and one in a hundred a `$groupidentify` (none with `identifies = false`). Times advance from
//! `start_time` by a simulated clock.

mod layouts;

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime};
use pipeline_core::{ConfigError, Event};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{Map, Value};

use self::layouts::Layouts;
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
    /// Also emit `$identify` and `$groupidentify` records (about one in eight); false = events
    /// only, for an events-only webhook or a benchmark where every record makes one request.
    #[serde(default = "default_identifies")]
    pub identifies: bool,
}

fn default_identifies() -> bool {
    true
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
            identifies: default_identifies(),
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
        let bytes = events.iter().map(Event::json_byte_size).sum();
        cx.metrics.received_events(events.len(), bytes);
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
    /// The exclusive upper end of the roll that picks a record's type: 100 with identifies,
    /// less without (the event types keep their proportions).
    roll_end: u32,
    users: Vec<DemoUser>,
    clock_ms: i64,
    order: u64,
    layouts: Layouts,
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
            roll_end: if config.identifies {
                100
            } else {
                FIRST_IDENTIFY_ROLL
            },
            users,
            clock_ms,
            order: 0,
            layouts: Layouts::default(),
        })
    }

    fn next_record(&mut self) -> Map<String, Value> {
        self.clock_ms += self.rng.gen_range(0..400);
        let now = self.clock_ms;
        let user_index = self.rng.gen_range(0..self.users.len());
        let roll = self.rng.gen_range(0..self.roll_end);
        let layouts = &mut self.layouts;
        let (event_type, event_properties) = match roll {
            0..=37 => {
                let (path, title) = PAGES[self.rng.gen_range(0..PAGES.len())];
                (
                    "Page Viewed",
                    layouts.object([
                        ("page_path", path.into()),
                        ("page_title", title.into()),
                        ("referrer", "https://www.google.com/".into()),
                    ]),
                )
            }
            38..=55 => {
                let button = BUTTONS[self.rng.gen_range(0..BUTTONS.len())];
                let path = PAGES[self.rng.gen_range(0..PAGES.len())].0;
                (
                    "click event",
                    layouts.object([("button_id", button.into()), ("page_path", path.into())]),
                )
            }
            56..=64 => {
                let query = SEARCHES[self.rng.gen_range(0..SEARCHES.len())];
                let results: i32 = self.rng.gen_range(0..60);
                (
                    "Search",
                    layouts.object([("query", query.into()), ("results", results.into())]),
                )
            }
            65..=76 => {
                let (id, name, price) = PRODUCTS[self.rng.gen_range(0..PRODUCTS.len())];
                let quantity: i32 = self.rng.gen_range(1..4);
                (
                    "Add To Cart",
                    layouts.object([
                        ("product_id", id.into()),
                        ("product_name", name.into()),
                        ("price", price.into()),
                        ("quantity", quantity.into()),
                        ("currency", "USD".into()),
                    ]),
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
                    layouts.object([
                        ("order_id", order_id.into()),
                        ("product_id", id.into()),
                        ("product_name", name.into()),
                        ("price", price.into()),
                        ("quantity", quantity.into()),
                        ("revenue", revenue.into()),
                        ("currency", "USD".into()),
                    ]),
                )
            }
            84..=86 => {
                let method = if self.rng.gen_bool(0.5) {
                    "google"
                } else {
                    "email"
                };
                ("Sign Up", layouts.object([("method", method.into())]))
            }
            FIRST_IDENTIFY_ROLL..=98 => ("$identify", empty_object()),
            _ => ("$groupidentify", empty_object()),
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
        let mut record: Vec<(&str, Value)> = Vec::with_capacity(RECORD_FIELDS);
        let mut put = |key: &'static str, value: Value| record.push((key, value));
        put("uuid", uuid.into());
        put("$insert_id", insert_id.into());
        put("event_type", event_type.into());
        put("event_time", time.clone().into());
        put("client_event_time", time.into());
        put("server_received_time", format_time(now + 150).into());
        if !anonymous {
            put("user_id", user.user_id.as_str().into());
        }
        put("device_id", user.device_id.as_str().into());
        put("amplitude_id", user.amplitude_id.into());
        put("session_id", user.session_id.into());
        put("event_id", user.event_id.into());
        put("app", 187_520.into());
        let email = || Value::from(user.email.as_str());
        match event_type {
            "$identify" => {
                put("event_properties", empty_object());
                let set = layouts.object([("email", email()), ("plan", user.plan.into())]);
                put("user_properties", layouts.object([("$set", set)]));
                put("groups", empty_object());
            }
            "$groupidentify" => {
                put("event_properties", empty_object());
                put("user_properties", empty_object());
                put(
                    "groups",
                    layouts.object([("company", Value::Array(vec!["Acme Outdoor".into()]))]),
                );
                let acme =
                    layouts.object([("industry", "retail".into()), ("employees", 250.into())]);
                let company = layouts.object([("Acme Outdoor", acme)]);
                put("group_properties", layouts.object([("company", company)]));
            }
            _ => {
                put("event_properties", event_properties);
                put(
                    "user_properties",
                    layouts.object([("email", email()), ("plan", user.plan.into())]),
                );
                put("groups", empty_object());
            }
        }
        put("platform", user.platform.into());
        put("os_name", user.os_name.into());
        put("os_version", user.os_version.into());
        if let Some(model) = user.device_model {
            put("device_model", model.into());
        }
        put("country", user.location.0.into());
        put("region", user.location.1.into());
        put("city", user.location.2.into());
        put("language", user.language.into());
        put("paying", (user.plan != "free").into());
        put("library", library_for(user.platform).into());
        put("version_name", "3.14.0".into());
        layouts.build(record)
    }
}

/// Rolls from here up (of 0..100) make an identify or a group identify.
const FIRST_IDENTIFY_ROLL: u32 = 87;

/// The most top-level fields a record has (a `$groupidentify` of a mobile user).
const RECORD_FIELDS: usize = 27;

fn empty_object() -> Value {
    Value::Object(Map::new())
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
///
/// Written by hand (two per record; chrono's formatter interprets its pattern every call), with
/// chrono for years outside `0000..=9999`, which it writes with a sign.
fn format_time(epoch_ms: i64) -> String {
    let days = epoch_ms.div_euclid(MILLIS_PER_DAY);
    let millis_of_day = epoch_ms.rem_euclid(MILLIS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return DateTime::from_timestamp_millis(epoch_ms)
            .map(|time| time.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
            .unwrap_or_default();
    }
    let seconds = millis_of_day / 1000;
    let fields = [
        (year, 4),
        (month, 2),
        (day, 2),
        (seconds / 3600, 2),
        (seconds / 60 % 60, 2),
        (seconds % 60, 2),
        (millis_of_day % 1000, 3),
    ];
    let mut text = [0u8; 23];
    let mut at = 0;
    for ((value, width), separator) in fields.into_iter().zip(["-", "-", " ", ":", ":", ".", ""]) {
        let mut rest = value;
        for slot in text[at..at + width].iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        at += width;
        if let Some(&byte) = separator.as_bytes().first() {
            text[at] = byte;
            at += 1;
        }
    }
    String::from_utf8(text.to_vec()).unwrap_or_default()
}

const MILLIS_PER_DAY: i64 = 24 * 60 * 60 * 1000;

/// The proleptic Gregorian `(year, month, day)` of a day counted from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn uuid_v4(rng: &mut StdRng) -> String {
    // One 128-bit draw: an array of 16 bytes draws sixteen times.
    let mut bytes = rng.gen::<u128>().to_le_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    // Written into a fixed buffer: pushing 36 chars one by one costs more than the rest.
    let mut text = [b'-'; 36];
    let mut at = 0;
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            at += 1;
        }
        text[at] = HEX[usize::from(byte >> 4)];
        text[at + 1] = HEX[usize::from(byte & 0x0f)];
        at += 2;
    }
    String::from_utf8(text.to_vec()).unwrap_or_default()
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
        let time_shape = is_canonical_time;
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

    #[test]
    fn without_identifies_every_record_is_an_event_of_every_type() {
        let config: DemoConfig = toml::from_str("identifies = false").unwrap();
        let mut generator = Generator::new(&config).unwrap();
        let mut counts = std::collections::BTreeMap::new();
        for _ in 0..2000 {
            let record = generator.next_record();
            let event_type = record["event_type"].as_str().unwrap().to_owned();
            *counts.entry(event_type).or_insert(0) += 1;
        }
        let types: Vec<&str> = counts.keys().map(String::as_str).collect();
        assert_eq!(
            types,
            [
                "Add To Cart",
                "Page Viewed",
                "Purchase",
                "Search",
                "Sign Up",
                "click event"
            ]
        );
        // Page views keep their share of the events (38 of 87 rolls).
        let page_views = f64::from(counts["Page Viewed"]) / 2000.0;
        assert!((page_views - 38.0 / 87.0).abs() < 0.04, "{page_views}");
    }

    fn is_canonical_time(text: &str) -> bool {
        text.len() == 23 && NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.3f").is_ok()
    }

    #[test]
    fn format_time_matches_chrono() {
        let chrono_format = |millis: i64| {
            DateTime::from_timestamp_millis(millis)
                .map(|time| time.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
                .unwrap()
        };
        let mut rng = StdRng::seed_from_u64(3);
        let edges = [
            0,
            -1,
            1,
            86_399_999,
            -86_400_000,
            951_782_400_000,     // 2000-02-29
            4_107_542_399_999,   // 2100-02-28 23:59:59.999
            -62_167_219_200_000, // 0000-01-01
            253_402_300_799_999, // 9999-12-31 23:59:59.999
            253_402_300_800_000, // +10000-01-01: chrono's fallback
            -62_167_219_200_001, // -0001-12-31
        ];
        let random = (0..20_000).map(|_| rng.gen_range(-70_000_000_000_000..270_000_000_000_000));
        for millis in edges.into_iter().chain(random) {
            assert_eq!(format_time(millis), chrono_format(millis), "{millis}");
        }
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
