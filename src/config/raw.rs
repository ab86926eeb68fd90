//! `[sinks.ID]` as written, and its validation into [`WebhookConfig`], table by table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pipeline_core::condition::Condition;
use pipeline_core::ConfigError;
use serde::Deserialize;

use super::http::{resolve, validate_headers, validate_url};
use super::tls::RawTls;
use super::values::{duration_in_range, in_range, ConfigDuration};
use super::{StreamConfig, TemplateSource, WebhookConfig, DEFAULT_CONCURRENCY};
use crate::dispatch::network::NetworkPolicy;
use crate::dispatch::signing::SigningSecret;
use crate::dispatch::{AttemptSettings, Concurrency, StackSettings};
use crate::retry::circuit::CircuitSettings;
use crate::retry::{Schedule, StoreSettings, WhenFull};
use crate::stream::Stream;

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
    #[serde(default)]
    network: RawNetwork,
    #[serde(default, deserialize_with = "signing_table")]
    signing: Option<RawSigning>,
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

/// `[sinks.ID.signing]`: Standard Webhooks secrets, one (`secret`) or several during a key
/// rotation (`secrets`, the new one first). Read as plain TOML values and typed by hand
/// ([`RawSigning::validate`]), and the table itself through [`signing_table`]: serde's type
/// errors quote the value, which here is a secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigning {
    secret: Option<toml::Value>,
    secrets: Option<toml::Value>,
}

/// `[signing]` as a table, refusing anything else without quoting it.
fn signing_table<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<RawSigning>, D::Error> {
    struct TableOnly;
    impl<'de> serde::de::Visitor<'de> for TableOnly {
        type Value = RawSigning;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a table of `secret` or `secrets`")
        }

        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<RawSigning, E> {
            Err(E::invalid_type(
                serde::de::Unexpected::Other("a string"),
                &self,
            ))
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawSigning, A::Error> {
            RawSigning::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    deserializer.deserialize_any(TableOnly).map(Some)
}

impl std::fmt::Debug for RawSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |value: &Option<toml::Value>| value.as_ref().map(|_| "<redacted>");
        f.debug_struct("RawSigning")
            .field("secret", &redacted(&self.secret))
            .field("secrets", &redacted(&self.secrets))
            .finish()
    }
}

/// A secret's text, or a refusal naming `key` that does not quote the value.
fn secret_text<'a>(key: &str, value: &'a toml::Value) -> Result<&'a str, ConfigError> {
    value.as_str().ok_or_else(|| {
        ConfigError::new(
            key,
            format!(
                "expected a string (\"whsec_...\"), found {}",
                value.type_str()
            ),
        )
    })
}

/// Most secrets at once: a rotation needs two, and each one costs an HMAC per request.
const MAX_SIGNING_SECRETS: usize = 5;

impl RawSigning {
    /// The decoded secrets; refusals name the key (`signing.secret`, `signing.secrets[1]`) and
    /// never quote a secret.
    fn validate(&self) -> Result<Vec<SigningSecret>, ConfigError> {
        let keyed = self.texts()?;
        if keyed.is_empty() || keyed.len() > MAX_SIGNING_SECRETS {
            return Err(ConfigError::new(
                "signing.secrets",
                format!(
                    "{} secrets given; give 1 to {MAX_SIGNING_SECRETS}",
                    keyed.len()
                ),
            ));
        }
        let mut secrets: Vec<SigningSecret> = Vec::with_capacity(keyed.len());
        for (key, text) in keyed {
            let secret =
                SigningSecret::parse(text).map_err(|e| ConfigError::new(&key, e.to_string()))?;
            if let Some(first) = secrets.iter().position(|known| *known == secret) {
                return Err(ConfigError::new(
                    key,
                    format!("the same secret as `signing.secrets[{first}]`"),
                ));
            }
            secrets.push(secret);
        }
        Ok(secrets)
    }

    /// Each secret's text with its key, from `secret` or `secrets` (not both).
    fn texts(&self) -> Result<Vec<(String, &str)>, ConfigError> {
        Ok(match (&self.secret, &self.secrets) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "signing.secrets",
                    "give either `secret` or `secrets`, not both",
                ))
            }
            (Some(secret), None) => vec![(
                "signing.secret".to_owned(),
                secret_text("signing.secret", secret)?,
            )],
            (None, Some(toml::Value::Array(secrets))) => secrets
                .iter()
                .enumerate()
                .map(|(i, secret)| {
                    let key = format!("signing.secrets[{i}]");
                    secret_text(&key, secret).map(|text| (key, text))
                })
                .collect::<Result<_, _>>()?,
            (None, Some(other)) => {
                return Err(ConfigError::new(
                    "signing.secrets",
                    format!(
                        "expected a list of strings ([\"whsec_...\"]), found {}",
                        other.type_str()
                    ),
                ))
            }
            (None, None) => {
                return Err(ConfigError::new(
                    "signing",
                    "give `secret = \"whsec_...\"` or `secrets = [...]`",
                ))
            }
        })
    }
}

/// `[sinks.ID.network]`: which addresses may be dialled (see [`crate::dispatch::network`]).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    allow_private: Option<bool>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
}

impl RawNetwork {
    fn validate(&self) -> Result<NetworkPolicy, ConfigError> {
        Ok(NetworkPolicy {
            deny: ranges("network.deny", &self.deny)?,
            allow: ranges("network.allow", &self.allow)?,
            allow_private: self.allow_private.unwrap_or(true),
        })
    }
}

/// CIDR ranges (`10.0.0.0/8`, `::1/128`) or single addresses (`127.0.0.1`, a /32 or /128).
fn ranges(key: &str, texts: &[String]) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let text = text.trim();
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    ConfigError::new(
                        format!("{key}[{i}]"),
                        format!("`{text}` is not an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8)"),
                    )
                })
        })
        .collect()
}

impl RawConfig {
    pub(super) fn validate(self, config_dir: Option<&Path>) -> Result<WebhookConfig, ConfigError> {
        let uri = validate_url(&self.url)?;
        let headers = validate_headers(&self.headers, self.user_agent.as_deref())?;
        let events = self.events.validate(Stream::Events, config_dir)?;
        let users = RawStream::from(self.users).validate(Stream::Users, config_dir)?;
        let tls = self.tls.validate(&uri, config_dir)?;
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
        let network = self.network.validate()?;
        let signing_secrets = match &self.signing {
            Some(signing) => signing.validate()?,
            None => Vec::new(),
        };
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
            tls,
            network,
            signing_secrets,
        })
    }
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
            // As long as `window` may be: a longer gap overflows the clock once jittered.
            let max_gap = Duration::from_secs(7 * 24 * 3600);
            for (i, gap) in gaps.iter().enumerate() {
                let key = format!("retry.schedule[{i}]");
                duration_in_range(&key, Some(*gap), gap.0, Duration::ZERO, max_gap)?;
            }
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
