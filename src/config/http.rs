//! The request's fixed parts as configured: the URL and the headers (presets, custom values as
//! secrets); and [`resolve`], where a relative file path of the config points.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, Uri};
use pipeline_core::ConfigError;

use super::{DEFAULT_USER_AGENT, MAX_CUSTOM_HEADERS};
use crate::dispatch::signing::SIGNING_HEADERS;

/// Headers a user may not set: the presets, and those the HTTP client must own. The Standard
/// Webhooks headers ([`SIGNING_HEADERS`]) are refused too, even while signing is off, so that
/// turning it on never meets a static copy.
const RESERVED_HEADERS: [&str; 6] = [
    "content-type",
    "user-agent",
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
];

pub(super) fn validate_url(url: &str) -> Result<Uri, ConfigError> {
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

pub(super) fn validate_headers(
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
        if SIGNING_HEADERS.contains(&parsed) {
            return Err(ConfigError::new(
                &key,
                format!("`{parsed}` is a Standard Webhooks header, set by `[signing]`"),
            ));
        }
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
pub(super) fn resolve(config_dir: Option<&Path>, path: &Path) -> PathBuf {
    match config_dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// A header value without CR, LF or other control characters (the reason names no value: it may be secret).
fn header_value(value: &str) -> Result<HeaderValue, String> {
    if value.contains(['\r', '\n']) {
        return Err("a header value must not contain CR or LF".to_owned());
    }
    HeaderValue::from_str(value)
        .map_err(|_| "a header value must be visible ASCII, spaces or tabs".to_owned())
}
