//! The `[sinks.ID]` configuration of a `webhook` sink: parsed strictly, validated at start.
//!
//! Every refusal names its key (relative to the sink's table; the host prefixes `sinks.ID.`).
//! Custom header values are secrets (API keys, bearer tokens): they are marked sensitive and never
//! printed by `Debug`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, Uri};
use pipeline_core::condition::Condition;
use pipeline_core::ConfigError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde::Deserialize;

use crate::dispatch::{AttemptSettings, Concurrency, StackSettings};
use crate::retry::circuit::CircuitSettings;
use crate::retry::{Schedule, StoreSettings, WhenFull};
use crate::stream::Stream;

/// The preset `User-Agent`, replaceable only through `user_agent`.
pub const DEFAULT_USER_AGENT: &str = "Amplitude/Webhook/1.0";
/// At most this many custom headers (the product's limit).
pub const MAX_CUSTOM_HEADERS: usize = 5;
/// Default in-flight request limit.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// Headers a user may not set: the presets, and those the HTTP client must own.
const RESERVED_HEADERS: [&str; 6] = [
    "content-type",
    "user-agent",
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
];

/// A duration written as `"100ms"`, `"10s"`, `"5m"` or `"4h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text)
            .map(ConfigDuration)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses `<integer><unit>` with unit `ms`, `s`, `m` or `h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let bad =
        || format!("`{text}` is not a duration (write e.g. \"100ms\", \"10s\", \"5m\", \"4h\")");
    let value: u64 = number.parse().map_err(|_| bad())?;
    let duration = match unit {
        "ms" => Duration::from_millis(value),
        "s" => Duration::from_secs(value),
        "m" => Duration::from_secs(value.saturating_mul(60)),
        "h" => Duration::from_secs(value.saturating_mul(3600)),
        _ => return Err(bad()),
    };
    Ok(duration)
}

/// `[sinks.ID]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    user_agent: Option<String>,
    #[serde(default)]
    events: RawStream,
    #[serde(default)]
    users: RawUsers,
    #[serde(default)]
    template_settings: BTreeMap<String, toml::Value>,
    #[serde(default)]
    request: RawRequest,
    #[serde(default)]
    retry: RawRetry,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    circuit: RawCircuit,
    #[serde(default)]
    acknowledgements: RawAcks,
    #[serde(default)]
    tls: RawTls,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStream {
    #[serde(default = "yes")]
    enabled: bool,
    template: Option<String>,
    template_file: Option<PathBuf>,
    event_types: Option<Vec<String>>,
    condition: Option<Condition>,
}

impl Default for RawStream {
    fn default() -> Self {
        RawStream {
            enabled: true,
            template: None,
            template_file: None,
            event_types: None,
            condition: None,
        }
    }
}

/// `[sinks.ID.users]`: like the event stream's table, without `event_types`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUsers {
    #[serde(default = "yes")]
    enabled: bool,
    template: Option<String>,
    template_file: Option<PathBuf>,
    condition: Option<Condition>,
}

impl Default for RawUsers {
    fn default() -> Self {
        RawUsers {
            enabled: true,
            template: None,
            template_file: None,
            condition: None,
        }
    }
}

impl From<RawUsers> for RawStream {
    fn from(users: RawUsers) -> RawStream {
        RawStream {
            enabled: users.enabled,
            template: users.template,
            template_file: users.template_file,
            event_types: None,
            condition: users.condition,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    timeout: Option<ConfigDuration>,
    concurrency: Option<RawConcurrency>,
    rate_limit: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawConcurrency {
    Fixed(i64),
    Named(String),
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    tries: Option<u32>,
    initial_backoff: Option<ConfigDuration>,
    jitter: Option<f64>,
    attempt_budget: Option<ConfigDuration>,
    attempts: Option<u32>,
    window: Option<ConfigDuration>,
    schedule: Option<Vec<ConfigDuration>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStore {
    max_records: Option<u64>,
    when_full: Option<String>,
    spill_after: Option<ConfigDuration>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCircuit {
    enabled: Option<bool>,
    failures: Option<u32>,
    probe_interval: Option<ConfigDuration>,
    max_probe_interval: Option<ConfigDuration>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAcks {
    #[serde(default)]
    enabled: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca_file: Option<PathBuf>,
}

/// Where a stream's template comes from.
#[derive(Clone, PartialEq, Eq)]
pub struct TemplateSource {
    /// The config key it was given under (`events.template` or `events.template_file`).
    pub key: String,
    /// A name for messages (the file path, or `events` / `users`).
    pub name: String,
    /// The template text.
    pub text: String,
}

impl fmt::Debug for TemplateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemplateSource")
            .field("key", &self.key)
            .field("name", &self.name)
            .field("bytes", &self.text.len())
            .finish()
    }
}

/// One stream's validated settings.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Whether the stream sends anything.
    pub enabled: bool,
    /// The payload template; `None` = the default payload (the record as JSON).
    pub template: Option<TemplateSource>,
    /// Event types to send (events stream only); `None` = all.
    pub event_types: Option<Vec<String>>,
    /// Records must match this to be sent.
    pub condition: Option<Condition>,
}

/// A validated `[sinks.ID]`.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The webhook URL, as written.
    pub url: String,
    /// The parsed URL.
    pub uri: Uri,
    /// Preset and custom headers, custom values marked sensitive.
    pub headers: HeaderMap,
    /// The event stream.
    pub events: StreamConfig,
    /// The user stream.
    pub users: StreamConfig,
    /// FreeMarker settings by FreeMarker's names, values as text.
    pub template_settings: Vec<(String, String)>,
    /// The dispatch stack's settings.
    pub stack: StackSettings,
    /// The retry store's settings.
    pub store: StoreSettings,
    /// The circuits' settings.
    pub circuit: CircuitSettings,
    /// Whether sources wait for this sink's acknowledgements.
    pub acknowledgements: bool,
    /// Certificates trusted besides Mozilla's roots (`tls.ca_file`), e.g. a private CA.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(name, value)| {
                if value.is_sensitive() {
                    format!("{name}: <redacted>")
                } else {
                    format!("{name}: {value:?}")
                }
            })
            .collect();
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("headers", &headers)
            .field("events", &self.events)
            .field("users", &self.users)
            .field("template_settings", &self.template_settings)
            .field("stack", &self.stack)
            .field("store", &self.store)
            .field("circuit", &self.circuit)
            .field("acknowledgements", &self.acknowledgements)
            .field("extra_roots", &self.extra_roots.len())
            .finish()
    }
}

impl WebhookConfig {
    /// Parses and validates a sink table (without `type` and `inputs`); relative file paths
    /// (`template_file`, `tls.ca_file`) are taken from the working directory.
    pub fn from_table(table: toml::Table) -> Result<WebhookConfig, ConfigError> {
        Self::from_table_in(table, None)
    }

    /// [`WebhookConfig::from_table`], with relative file paths resolved against `config_dir`
    /// (the pipeline config file's directory) when it is given.
    pub fn from_table_in(
        table: toml::Table,
        config_dir: Option<&Path>,
    ) -> Result<WebhookConfig, ConfigError> {
        let raw: RawConfig = pipeline_core::deserialize_table(table)?;
        raw.validate(config_dir)
    }

    /// Parses and validates a sink table given as TOML text (tests, `preview`).
    pub fn from_toml_str(text: &str) -> Result<WebhookConfig, ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::new("", e.message().to_owned()))?;
        Self::from_table(table)
    }

    /// The settings of one stream.
    pub fn stream(&self, stream: Stream) -> &StreamConfig {
        match stream {
            Stream::Events => &self.events,
            Stream::Users => &self.users,
        }
    }
}

impl RawConfig {
    fn validate(self, config_dir: Option<&Path>) -> Result<WebhookConfig, ConfigError> {
        let uri = validate_url(&self.url)?;
        let headers = validate_headers(&self.headers, self.user_agent.as_deref())?;
        let events = self.events.validate(Stream::Events, config_dir)?;
        let users = RawStream::from(self.users).validate(Stream::Users, config_dir)?;
        let extra_roots = match &self.tls.ca_file {
            Some(path) => load_ca_file(&resolve(config_dir, path))?,
            None => Vec::new(),
        };
        let template_settings = self
            .template_settings
            .into_iter()
            .map(|(name, value)| {
                let text = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    _ => {
                        return Err(ConfigError::new(
                            format!("template_settings.{name}"),
                            "a setting's value must be a string, number or boolean",
                        ))
                    }
                };
                Ok((name, text))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let stack = self.request.validate(self.retry.attempt()?)?;
        let store = StoreSettings {
            schedule: self.retry.schedule()?,
            max_records: self.store.max_records()?,
            when_full: self.store.when_full()?,
            spill_after: self.store.spill_after()?,
        };
        let circuit = self.circuit.validate()?;
        Ok(WebhookConfig {
            url: self.url,
            uri,
            headers,
            events,
            users,
            template_settings,
            stack,
            store,
            circuit,
            acknowledgements: self.acknowledgements.enabled,
            extra_roots,
        })
    }
}

fn validate_url(url: &str) -> Result<Uri, ConfigError> {
    let refuse = |why: String| ConfigError::new("url", why);
    let uri: Uri = url
        .parse()
        .map_err(|e| refuse(format!("`{url}` is not a valid URL: {e}")))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(other) => {
            return Err(refuse(format!(
                "scheme `{other}` is not supported; use http or https"
            )))
        }
        None => {
            return Err(refuse(format!(
                "`{url}` has no scheme; use http:// or https://"
            )))
        }
    }
    if !matches!(uri.host(), Some(host) if !host.is_empty()) {
        return Err(refuse(format!("`{url}` has no host")));
    }
    Ok(uri)
}

fn validate_headers(
    custom: &BTreeMap<String, String>,
    user_agent: Option<&str>,
) -> Result<HeaderMap, ConfigError> {
    if custom.len() > MAX_CUSTOM_HEADERS {
        return Err(ConfigError::new(
            "headers",
            format!(
                "{} custom headers given; at most {MAX_CUSTOM_HEADERS} are allowed",
                custom.len()
            ),
        ));
    }
    let mut headers = HeaderMap::with_capacity(custom.len() + 2);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let agent = match user_agent {
        None => HeaderValue::from_static(DEFAULT_USER_AGENT),
        Some(agent) => header_value(agent).map_err(|why| ConfigError::new("user_agent", why))?,
    };
    headers.insert(USER_AGENT, agent);
    for (name, value) in custom {
        let key = format!("headers.{name}");
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ConfigError::new(&key, format!("`{name}` is not a valid header name")))?;
        if RESERVED_HEADERS.contains(&parsed.as_str()) {
            let why = match parsed.as_str() {
                "user-agent" => "User-Agent is preset; change it with `user_agent`".to_owned(),
                "content-type" => "Content-Type is preset to application/json".to_owned(),
                other => format!("`{other}` is set by the HTTP client and cannot be overridden"),
            };
            return Err(ConfigError::new(&key, why));
        }
        let mut value = header_value(value).map_err(|why| ConfigError::new(&key, why))?;
        value.set_sensitive(true);
        headers.append(parsed, value);
    }
    Ok(headers)
}

/// `path` as given when absolute (or when there is no config directory), else under `config_dir`.
fn resolve(config_dir: Option<&Path>, path: &Path) -> PathBuf {
    match config_dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// Reads `tls.ca_file`: one or more PEM `CERTIFICATE` blocks, each usable as a trust anchor.
fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let refuse = |why: String| ConfigError::new("tls.ca_file", why);
    let pem = std::fs::read(path)
        .map_err(|e| refuse(format!("cannot read `{}`: {e}", path.display())))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| refuse(format!("`{}` is not valid PEM: {e}", path.display())))?;
    if certificates.is_empty() {
        return Err(refuse(format!(
            "`{}` holds no PEM CERTIFICATE block",
            path.display()
        )));
    }
    let mut store = rustls::RootCertStore::empty();
    for (index, certificate) in certificates.iter().enumerate() {
        store.add(certificate.clone()).map_err(|e| {
            refuse(format!(
                "certificate {} in `{}` cannot be a trusted root: {e}",
                index + 1,
                path.display()
            ))
        })?;
    }
    Ok(certificates)
}

/// A header value without CR, LF or other control characters (the reason names no value: it may be secret).
fn header_value(value: &str) -> Result<HeaderValue, String> {
    if value.contains(['\r', '\n']) {
        return Err("a header value must not contain CR or LF".to_owned());
    }
    HeaderValue::from_str(value)
        .map_err(|_| "a header value must be visible ASCII, spaces or tabs".to_owned())
}

impl RawStream {
    fn validate(
        self,
        stream: Stream,
        config_dir: Option<&Path>,
    ) -> Result<StreamConfig, ConfigError> {
        let prefix = stream.as_str();
        let template = match (self.template, self.template_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    format!("{prefix}.template_file"),
                    "give either `template` or `template_file`, not both",
                ))
            }
            (Some(text), None) => Some(TemplateSource {
                key: format!("{prefix}.template"),
                name: prefix.to_owned(),
                text,
            }),
            (None, Some(path)) => {
                let key = format!("{prefix}.template_file");
                let path = resolve(config_dir, &path);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    ConfigError::new(&key, format!("cannot read `{}`: {e}", path.display()))
                })?;
                Some(TemplateSource {
                    key,
                    name: path.display().to_string(),
                    text,
                })
            }
            (None, None) => None,
        };
        if let Some(types) = &self.event_types {
            if let Some(i) = types.iter().position(|t| t.is_empty()) {
                return Err(ConfigError::new(
                    format!("events.event_types[{i}]"),
                    "an event type must not be empty",
                ));
            }
        }
        Ok(StreamConfig {
            enabled: self.enabled,
            template,
            event_types: self.event_types,
            condition: self.condition,
        })
    }
}

fn in_range<T: PartialOrd + fmt::Display + Copy>(
    key: &str,
    value: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::new(
            key,
            format!("{value} is out of range ({min} to {max})"),
        ));
    }
    Ok(value)
}

fn duration_in_range(
    key: &str,
    value: Option<ConfigDuration>,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    let value = value.map_or(default, |d| d.0);
    if value < min || value > max {
        return Err(ConfigError::new(
            key,
            format!("{value:?} is out of range ({min:?} to {max:?})"),
        ));
    }
    Ok(value)
}

impl RawRequest {
    fn validate(self, attempt: AttemptSettings) -> Result<StackSettings, ConfigError> {
        let timeout = duration_in_range(
            "request.timeout",
            self.timeout,
            Duration::from_secs(10),
            Duration::from_millis(1),
            Duration::from_secs(600),
        )?;
        let concurrency = match self.concurrency {
            None => Concurrency::Fixed(DEFAULT_CONCURRENCY),
            Some(RawConcurrency::Fixed(n)) => {
                Concurrency::Fixed(in_range("request.concurrency", n, 1, 10_000)? as usize)
            }
            Some(RawConcurrency::Named(name)) if name == "adaptive" => {
                Concurrency::Adaptive(DEFAULT_CONCURRENCY * 2)
            }
            Some(RawConcurrency::Named(name)) => {
                return Err(ConfigError::new(
                    "request.concurrency",
                    format!("`{name}` is neither a number nor \"adaptive\""),
                ))
            }
        };
        let rate_limit = in_range(
            "request.rate_limit",
            self.rate_limit.unwrap_or(0),
            0,
            1_000_000,
        )?;
        Ok(StackSettings {
            timeout,
            concurrency,
            rate_limit,
            attempt,
        })
    }
}

impl RawRetry {
    fn attempt(&self) -> Result<AttemptSettings, ConfigError> {
        let defaults = AttemptSettings::default();
        Ok(AttemptSettings {
            tries: in_range("retry.tries", self.tries.unwrap_or(defaults.tries), 1, 10)?,
            initial_backoff: duration_in_range(
                "retry.initial_backoff",
                self.initial_backoff,
                defaults.initial_backoff,
                Duration::from_millis(1),
                Duration::from_secs(60),
            )?,
            jitter: {
                let jitter = self.jitter.unwrap_or(defaults.jitter);
                if !(0.0..=1.0).contains(&jitter) {
                    return Err(ConfigError::new(
                        "retry.jitter",
                        format!("{jitter} is out of range (0 to 1)"),
                    ));
                }
                jitter
            },
            attempt_budget: duration_in_range(
                "retry.attempt_budget",
                self.attempt_budget,
                defaults.attempt_budget,
                Duration::from_millis(1),
                Duration::from_secs(600),
            )?,
        })
    }

    fn schedule(&self) -> Result<Schedule, ConfigError> {
        if let Some(gaps) = &self.schedule {
            if self.window.is_some() {
                return Err(ConfigError::new(
                    "retry.schedule",
                    "give either `window` or `schedule`, not both",
                ));
            }
            if let Some(attempts) = self.attempts {
                if attempts as usize != gaps.len() {
                    return Err(ConfigError::new(
                        "retry.schedule",
                        format!("{} gaps given but `attempts` is {attempts}", gaps.len()),
                    ));
                }
            }
            in_range("retry.schedule", gaps.len(), 0, 30)?;
            return Ok(Schedule::explicit(gaps.iter().map(|d| d.0).collect()));
        }
        let attempts = in_range("retry.attempts", self.attempts.unwrap_or(9), 0, 30)?;
        let window = duration_in_range(
            "retry.window",
            self.window,
            Duration::from_secs(4 * 3600),
            Duration::from_millis(1),
            Duration::from_secs(7 * 24 * 3600),
        )?;
        Ok(Schedule::spread(attempts, window))
    }
}

impl RawStore {
    fn max_records(&self) -> Result<usize, ConfigError> {
        let n = in_range(
            "store.max_records",
            self.max_records.unwrap_or(1_000_000),
            1,
            100_000_000,
        )?;
        Ok(n as usize)
    }

    fn when_full(&self) -> Result<WhenFull, ConfigError> {
        match self.when_full.as_deref() {
            None | Some("block") => Ok(WhenFull::Block),
            Some("drop_newest") => Ok(WhenFull::DropNewest),
            Some(other) => Err(ConfigError::new(
                "store.when_full",
                format!("`{other}` is neither \"block\" nor \"drop_newest\""),
            )),
        }
    }
}

impl RawStore {
    fn spill_after(&self) -> Result<Option<Duration>, ConfigError> {
        self.spill_after
            .map(|after| {
                duration_in_range(
                    "store.spill_after",
                    Some(after),
                    after.0,
                    Duration::from_millis(1),
                    Duration::from_secs(3600),
                )
            })
            .transpose()
    }
}

impl RawCircuit {
    fn validate(&self) -> Result<CircuitSettings, ConfigError> {
        let defaults = CircuitSettings::default();
        let probe_interval = duration_in_range(
            "circuit.probe_interval",
            self.probe_interval,
            defaults.probe_interval,
            Duration::from_millis(1),
            Duration::from_secs(3600),
        )?;
        let max_probe_interval = duration_in_range(
            "circuit.max_probe_interval",
            self.max_probe_interval,
            defaults.max_probe_interval.max(probe_interval),
            probe_interval,
            Duration::from_secs(24 * 3600),
        )?;
        Ok(CircuitSettings {
            enabled: self.enabled.unwrap_or(defaults.enabled),
            failures: in_range(
                "circuit.failures",
                self.failures.unwrap_or(defaults.failures),
                1,
                10_000,
            )?,
            probe_interval,
            max_probe_interval,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> ConfigError {
        match WebhookConfig::from_toml_str(text) {
            Ok(config) => panic!("accepted: {config:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn durations_take_each_unit() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("4h"), Ok(Duration::from_secs(14_400)));
        assert!(parse_duration("4").is_err());
        assert!(parse_duration("1.5s").is_err());
        assert!(parse_duration("ten s").is_err());
    }

    #[test]
    fn a_minimal_config_takes_the_documented_defaults() {
        let config = WebhookConfig::from_toml_str(r#"url = "https://example.com/hook""#).unwrap();
        assert!(config.events.enabled && config.users.enabled);
        assert_eq!(config.stack.timeout, Duration::from_secs(10));
        assert_eq!(config.stack.concurrency, Concurrency::Fixed(64));
        assert_eq!(config.stack.rate_limit, 0);
        assert_eq!(config.stack.attempt, AttemptSettings::default());
        assert_eq!(config.store.schedule.attempts(), 9);
        assert_eq!(config.store.max_records, 1_000_000);
        assert_eq!(config.store.when_full, WhenFull::Block);
        assert_eq!(config.headers["content-type"], "application/json");
        assert_eq!(config.headers["user-agent"], "Amplitude/Webhook/1.0");
    }

    #[test]
    fn every_documented_key_is_accepted() {
        let config = WebhookConfig::from_toml_str(
            r#"
            url = "http://127.0.0.1:9/hook"
            headers = { Authorization = "Bearer abc", X-Team = "growth" }
            user_agent = "Acme/2"
            [events]
            enabled = true
            template = "{}"
            event_types = ["click event", "Purchase"]
            condition = { all = [ { field = "event_properties.price", op = "greater_than", value = 10 } ] }
            [users]
            enabled = false
            [template_settings]
            number_format = "computer"
            [request]
            timeout = "2s"
            concurrency = "adaptive"
            rate_limit = 100
            [retry]
            tries = 2
            initial_backoff = "50ms"
            jitter = 0.1
            attempt_budget = "1s"
            attempts = 2
            schedule = ["30s", "1m"]
            [store]
            max_records = 10
            when_full = "drop_newest"
            [acknowledgements]
            enabled = true
            "#,
        )
        .unwrap();
        assert_eq!(config.headers["user-agent"], "Acme/2");
        assert_eq!(config.headers["x-team"], "growth");
        assert_eq!(config.stack.concurrency, Concurrency::Adaptive(128));
        assert_eq!(
            config.store.schedule.gaps(),
            [Duration::from_secs(30), Duration::from_secs(60)]
        );
        assert!(!config.users.enabled);
        assert!(config.acknowledgements);
    }

    #[test]
    fn refusals_name_their_key() {
        let cases = [
            (r#"url = "ftp://x/""#, "url"),
            (r#"url = "not a url""#, "url"),
            (r#"url = "/relative""#, "url"),
            (
                r#"url = "http://x/"
                headers = { A = "1", B = "2", C = "3", D = "4", E = "5", F = "6" }"#,
                "headers",
            ),
            (
                r#"url = "http://x/"
                headers = { "Content-Type" = "text/plain" }"#,
                "headers.Content-Type",
            ),
            (
                r#"url = "http://x/"
                headers = { "user-agent" = "me" }"#,
                "headers.user-agent",
            ),
            (
                r#"url = "http://x/"
                headers = { "X-Bad Name" = "v" }"#,
                "headers.X-Bad Name",
            ),
            (
                "url = \"http://x/\"\nheaders = { X-Token = \"a\\r\\nInjected: yes\" }",
                "headers.X-Token",
            ),
            (r#"url = "http://x/"
                tries = 3"#, "tries"),
            ("url = \"http://x/\"\n[retry]\ntries = 0", "retry.tries"),
            ("url = \"http://x/\"\n[retry]\njitter = 1.5", "retry.jitter"),
            ("url = \"http://x/\"\n[retry]\ninitial_backoff = \"fast\"", "retry.initial_backoff"),
            ("url = \"http://x/\"\n[request]\nconcurrency = 0", "request.concurrency"),
            ("url = \"http://x/\"\n[request]\nconcurrency = \"lots\"", "request.concurrency"),
            ("url = \"http://x/\"\n[request]\ntimeout = \"0ms\"", "request.timeout"),
            ("url = \"http://x/\"\n[store]\nwhen_full = \"panic\"", "store.when_full"),
            ("url = \"http://x/\"\n[events]\ntemplate_file = \"/nonexistent/e.ftl\"", "events.template_file"),
            ("url = \"http://x/\"\n[users]\nevent_types = [\"a\"]", "users.event_types"),
            (
                "url = \"http://x/\"\n[events]\ncondition = { field = \"a\", op = \"resembles\", value = 1 }",
                "events.condition",
            ),
            ("url = \"http://x/\"\n[retry]\nattempts = 3\nschedule = [\"1s\"]", "retry.schedule"),
        ];
        for (text, key) in cases {
            let error = refusal(text);
            assert_eq!(error.path, key, "{text}: {error}");
        }
    }

    /// A config whose `tls.ca_file` holds `pem`, resolved from a config in the file's directory.
    fn with_ca_file(pem: &[u8]) -> Result<WebhookConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), pem).unwrap();
        let table: toml::Table = "url = \"https://x/\"\n[tls]\nca_file = \"ca.pem\""
            .parse()
            .unwrap();
        WebhookConfig::from_table_in(table, Some(dir.path()))
    }

    #[test]
    fn ca_file_refusals_name_the_key_and_the_file() {
        let missing = refusal("url = \"https://x/\"\n[tls]\nca_file = \"/nonexistent/ca.pem\"");
        assert_eq!(missing.path, "tls.ca_file");
        assert!(missing.message.contains("/nonexistent/ca.pem"), "{missing}");
        let empty = with_ca_file(b"just text\n").unwrap_err();
        assert_eq!(empty.path, "tls.ca_file");
        assert!(empty.message.contains("no PEM CERTIFICATE"), "{empty}");
        let bad = with_ca_file(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .unwrap_err();
        assert_eq!(bad.path, "tls.ca_file");
        assert!(bad.message.contains("certificate 1"), "{bad}");
        assert!(refusal("url = \"https://x/\"\n[tls]\nca_path = \"x\"")
            .message
            .contains("unknown field `ca_path`"));
    }

    #[test]
    fn relative_template_files_are_read_from_the_config_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("templates/e.ftl"), "{\"e\": 1}").unwrap();
        let text = "url = \"http://x/\"\n[events]\ntemplate_file = \"templates/e.ftl\"";
        let config = WebhookConfig::from_table_in(text.parse().unwrap(), Some(dir.path())).unwrap();
        let template = config.events.template.unwrap();
        assert_eq!(template.text, "{\"e\": 1}");
        assert_eq!(template.key, "events.template_file");
        // Without a config directory the same relative path is looked up in the working directory.
        let error = WebhookConfig::from_table(text.parse().unwrap()).unwrap_err();
        assert_eq!(error.path, "events.template_file");
    }

    #[test]
    fn debug_output_redacts_custom_header_values() {
        let config = WebhookConfig::from_toml_str(
            r#"
            url = "https://example.com/hook"
            headers = { Authorization = "Bearer s3cr3t-t0ken", X-Api-Key = "k3y-v4lue" }
            "#,
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(!debug.contains("k3y-v4lue"), "{debug}");
        assert!(debug.contains("authorization: <redacted>"), "{debug}");
        assert!(debug.contains("Amplitude/Webhook/1.0"), "{debug}");
        let header_debug = format!("{:?}", config.headers);
        assert!(!header_debug.contains("s3cr3t"), "{header_debug}");
    }
}
