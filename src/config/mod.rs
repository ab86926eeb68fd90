//! The `[sinks.ID]` configuration of a `webhook` sink: parsed strictly, validated at start into
//! the settings each stage takes.
//!
//! [`raw`] is the table as written (serde, unknown keys refused) and its validation, key by key;
//! [`values`] holds the value types it shares (durations, ranges); [`http`] the URL and header
//! checks; [`tls`] the `[tls]` table (roots, CA file, client certificate, versions). Every
//! refusal names its key (relative to the sink's table; the host prefixes `sinks.ID.`). Custom
//! header values are secrets (API keys, bearer tokens): they are marked sensitive and never
//! printed by `Debug`; so are the signing secrets (`Debug` shows their count) and the client key.

mod http;
mod raw;
mod tls;
mod values;

use std::fmt;
use std::path::Path;

use ::http::{HeaderMap, Uri};
use pipeline_core::condition::Condition;
use pipeline_core::ConfigError;

use crate::dispatch::http::ClientTls;
use crate::dispatch::network::NetworkPolicy;
use crate::dispatch::signing::SigningSecret;
use crate::dispatch::StackSettings;
use crate::retry::circuit::CircuitSettings;
use crate::retry::StoreSettings;
use crate::stream::Stream;

pub use values::{parse_duration, ConfigDuration};

/// The preset `User-Agent`, replaceable only through `user_agent`.
pub const DEFAULT_USER_AGENT: &str = "Amplitude/Webhook/1.0";
/// At most this many custom headers (the product's limit).
pub const MAX_CUSTOM_HEADERS: usize = 5;
/// Default in-flight request limit.
pub const DEFAULT_CONCURRENCY: usize = 64;

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
    /// The client's TLS (`[tls]`): its roots with `tls.ca_file`'s, versions, client certificate.
    pub tls: ClientTls,
    /// Which addresses may be dialled (`[network]`).
    pub network: NetworkPolicy,
    /// Standard Webhooks secrets (`[signing]`), the new one first; empty: requests are unsigned.
    pub signing_secrets: Vec<SigningSecret>,
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
            .field("tls", &self.tls)
            .field("network", &self.network)
            .field("signing_secrets", &self.signing_secrets.len())
            .finish()
    }
}

impl WebhookConfig {
    /// Parses and validates a sink table (without `type` and `inputs`); relative file paths
    /// (`template_file`, `tls.ca_file`, `tls.cert_file`, `tls.key_file`) are taken from the
    /// working directory.
    pub fn from_table(table: toml::Table) -> Result<WebhookConfig, ConfigError> {
        Self::from_table_in(table, None)
    }

    /// [`WebhookConfig::from_table`], with relative file paths resolved against `config_dir`
    /// (the pipeline config file's directory) when it is given.
    pub fn from_table_in(
        table: toml::Table,
        config_dir: Option<&Path>,
    ) -> Result<WebhookConfig, ConfigError> {
        let raw: raw::RawConfig = pipeline_core::deserialize_table(table)?;
        raw.validate(config_dir)
    }

    /// The settings of one stream.
    pub fn stream(&self, stream: Stream) -> &StreamConfig {
        match stream {
            Stream::Events => &self.events,
            Stream::Users => &self.users,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::{AttemptSettings, Concurrency};
    use crate::retry::WhenFull;
    use std::time::Duration;

    fn parse(text: &str) -> Result<WebhookConfig, ConfigError> {
        let table: toml::Table = text.parse().expect("test TOML parses");
        WebhookConfig::from_table(table)
    }

    fn refusal(text: &str) -> ConfigError {
        match parse(text) {
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
        let config = parse(r#"url = "https://example.com/hook""#).unwrap();
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
        let config = parse(
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
        let config = parse(
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

    /// A 24-byte secret in the `whsec_` format (the spec's test vector).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    /// Another, 32 bytes.
    const OLD_SECRET: &str = "whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZC1zZWNyZXQ=";

    #[test]
    fn signing_takes_one_secret_or_several_and_is_off_without_the_table() {
        assert!(parse(r#"url = "http://x/""#)
            .unwrap()
            .signing_secrets
            .is_empty());
        let one = parse(&format!(
            "url = \"http://x/\"\n[signing]\nsecret = \"{SECRET}\""
        ))
        .unwrap();
        assert_eq!(one.signing_secrets.len(), 1);
        let rotation =
            format!("url = \"http://x/\"\n[signing]\nsecrets = [\"{SECRET}\", \"{OLD_SECRET}\"]");
        let two = parse(&rotation).unwrap();
        assert_eq!(two.signing_secrets.len(), 2);
        assert_eq!(two.signing_secrets[0], one.signing_secrets[0]);
        let debug = format!("{two:?}");
        assert!(debug.contains("signing_secrets: 2"), "{debug}");
        assert!(!debug.contains("MfKQ9r8G"), "{debug}");
    }

    #[test]
    fn signing_refusals_name_their_key_and_never_the_secret() {
        let cases = [
            ("[signing]".to_owned(), "signing"),
            (
                format!("[signing]\nsecret = \"{SECRET}\"\nsecrets = [\"{OLD_SECRET}\"]"),
                "signing.secrets",
            ),
            ("[signing]\nsecrets = []".to_owned(), "signing.secrets"),
            (
                "[signing]\nsecret = \"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"".to_owned(),
                "signing.secret",
            ),
            (
                "[signing]\nsecret = \"whsec_MfKQ9r8G-KYqrTwjUPD8ILPZIo2LaLaSw\"".to_owned(),
                "signing.secret",
            ),
            (
                "[signing]\nsecret = \"whsec_c2hvcnQ=\"".to_owned(),
                "signing.secret",
            ),
            (
                format!("[signing]\nsecrets = [\"{SECRET}\", \"whsec_!\"]"),
                "signing.secrets[1]",
            ),
            (
                format!("[signing]\nsecrets = [\"{SECRET}\", \"{SECRET}\"]"),
                "signing.secrets[1]",
            ),
            (
                "[signing]\nsecret_file = \"x\"".to_owned(),
                "signing.secret_file",
            ),
            (
                format!("[signing]\nsecrets = \"{SECRET}\""),
                "signing.secrets",
            ),
            (
                format!("[signing]\nsecret = [\"{SECRET}\"]"),
                "signing.secret",
            ),
            (format!("signing = \"{SECRET}\""), "signing"),
            (
                format!("signing.secrets = [[\"{SECRET}\"]]"),
                "signing.secrets[0]",
            ),
        ];
        for (table, key) in cases {
            let error = refusal(&format!("url = \"http://x/\"\n{table}"));
            assert_eq!(error.path, key, "{table}: {error}");
            let message = error.to_string();
            assert!(!message.contains("MfKQ9r8G"), "{message}");
            assert!(!message.contains("c2hvcnQ"), "{message}");
        }
    }

    #[test]
    fn signing_headers_are_presets_outside_the_custom_header_limit() {
        for name in ["webhook-id", "Webhook-Timestamp", "webhook-signature"] {
            let error = refusal(&format!(
                "url = \"http://x/\"\nheaders = {{ {name} = \"v\" }}"
            ));
            assert_eq!(error.path, format!("headers.{name}"));
            assert!(error.message.contains("Standard Webhooks"), "{error}");
        }
        let five = parse(&format!(
            "url = \"http://x/\"\nheaders = {{ A = \"1\", B = \"2\", C = \"3\", D = \"4\", E = \"5\" }}\n\
             [signing]\nsecret = \"{SECRET}\""
        ))
        .unwrap();
        assert_eq!(five.headers.len(), 7);
        assert_eq!(five.signing_secrets.len(), 1);
    }
}
