//! CORS for the HTTP sources, so web pages on other origins can post to them (Amplitude's browser
//! SDK does): preflights (`OPTIONS` with `Access-Control-Request-Method`) are answered 204 with
//! the allowed method and headers, and every answer to an allowed origin carries
//! `Access-Control-Allow-Origin`. Any origin is allowed by default, as Amplitude's endpoints do;
//! `cors.allowed_origins` narrows it to a list (exact `scheme://host[:port]` matches).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;

/// `[sources.ID.cors]`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins whose pages may post (`["*"]`, the default, is any).
    #[serde(default = "any_origin")]
    pub allowed_origins: Vec<String>,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            allowed_origins: any_origin(),
        }
    }
}

fn any_origin() -> Vec<String> {
    vec!["*".to_owned()]
}

/// How long a browser may cache a preflight's answer (two hours, Chromium's cap).
const MAX_AGE_SECONDS: &str = "7200";

/// Request headers allowed when a preflight asks for none in particular.
const ALLOWED_HEADERS: &str = "Content-Type, Content-Encoding, Authorization, Accept";

impl CorsConfig {
    fn allows_any(&self) -> bool {
        self.allowed_origins.iter().any(|origin| origin == "*")
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
    fn allow_origin(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        if self.allows_any() {
            return Some(HeaderValue::from_static("*"));
        }
        let origin = origin?;
        let text = origin.to_str().ok()?;
        self.allowed_origins
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(text))
            .then(|| origin.clone())
    }

    /// The answer to `request` if it is a CORS preflight: 204 with what may be sent, or 403
    /// when its origin is not allowed.
    pub fn preflight<B>(&self, request: &Request<B>) -> Option<Response<Full<Bytes>>> {
        let headers = request.headers();
        if request.method() != Method::OPTIONS
            || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let mut response = Response::new(Full::new(Bytes::new()));
        let Some(allow_origin) = self.allow_origin(headers.get(header::ORIGIN)) else {
            *response.status_mut() = StatusCode::FORBIDDEN;
            return Some(response);
        };
        *response.status_mut() = StatusCode::NO_CONTENT;
        let out = response.headers_mut();
        self.vary(out);
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        out.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, OPTIONS"),
        );
        // The headers the page asked for (the SDKs send Content-Type, some add their own).
        let asked = headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static(ALLOWED_HEADERS));
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
        out.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE_SECONDS),
        );
        Some(response)
    }

    /// Adds the CORS headers to `response`, answering a request whose headers were
    /// `request_headers` (nothing is added for a disallowed origin: the browser then blocks it).
    pub fn apply(&self, request_headers: &HeaderMap, response: &mut Response<Full<Bytes>>) {
        let Some(allow_origin) = self.allow_origin(request_headers.get(header::ORIGIN)) else {
            return;
        };
        let out = response.headers_mut();
        self.vary(out);
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    }

    /// With a list of origins the answer depends on the request's `Origin`: caches must know.
    fn vary(&self, out: &mut HeaderMap) {
        if !self.allows_any() {
            out.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preflight_from(origin: &str) -> Request<()> {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/2/httpapi")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .body(())
            .unwrap()
    }

    #[test]
    fn any_origin_by_default_and_only_the_listed_ones_otherwise() {
        let any = CorsConfig::default();
        let answer = any.preflight(&preflight_from("http://a.test")).unwrap();
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
        assert_eq!(answer.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(
            answer.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "content-type"
        );

        let listed = CorsConfig {
            allowed_origins: vec!["http://app.test:8080".into()],
        };
        let answer = listed
            .preflight(&preflight_from("http://app.test:8080"))
            .unwrap();
        assert_eq!(
            answer.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://app.test:8080"
        );
        assert_eq!(answer.headers()[header::VARY], "Origin");
        let refused = listed
            .preflight(&preflight_from("http://evil.test"))
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);

        let mut response = Response::new(Full::new(Bytes::new()));
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://evil.test"));
        listed.apply(&headers, &mut response);
        assert!(!response
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    }

    #[test]
    fn a_plain_options_or_post_is_not_a_preflight() {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/")
            .body(())
            .unwrap();
        assert!(CorsConfig::default().preflight(&request).is_none());
    }
}
