//! `[sources.ID.auth]`: a shared bearer token that senders put in `Authorization: Bearer <token>`
//! (Vector's `auth.strategy = "bearer"`, Fluent Bit's `Header Authorization Bearer ...`). The
//! token is compared in constant time, so answer times do not reveal how much of a guess matched.

use std::fmt;

use hyper::header::{HeaderMap, AUTHORIZATION};
use serde::Deserialize;

use crate::sources::secret::constant_time_eq;

/// `[sources.ID.auth]`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// How the token is presented; only `bearer` for now.
    pub strategy: AuthStrategy,
    /// The token requests must carry.
    pub token: String,
}

/// `auth.strategy`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuthStrategy {
    /// `Authorization: Bearer <token>`.
    Bearer,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("strategy", &self.strategy)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl AuthConfig {
    /// Whether a request with these headers carries the token.
    pub(super) fn admits(&self, headers: &HeaderMap) -> bool {
        match bearer_token(headers) {
            Some(token) => constant_time_eq(token, self.token.as_bytes()),
            None => false,
        }
    }
}

/// The credentials of an `Authorization: Bearer ...` header (scheme case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let space = value.iter().position(|&byte| byte == b' ')?;
    let (scheme, rest) = value.split_at(space);
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| rest.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(authorization: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn only_the_exact_bearer_token_is_admitted() {
        let auth = AuthConfig {
            strategy: AuthStrategy::Bearer,
            token: "s3cret".into(),
        };
        assert!(auth.admits(&headers(Some("Bearer s3cret"))));
        assert!(auth.admits(&headers(Some("bearer  s3cret "))));
        for refused in [
            None,
            Some("Bearer s3cre"),
            Some("Bearer s3cret2"),
            Some("Bearer S3CRET"),
            Some("Basic czNjcmV0"),
            Some("s3cret"),
            Some("Bearer"),
        ] {
            assert!(!auth.admits(&headers(refused)), "{refused:?}");
        }
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let auth = AuthConfig {
            strategy: AuthStrategy::Bearer,
            token: "s3cret".into(),
        };
        assert!(!format!("{auth:?}").contains("s3cret"));
    }
}
