//! The innermost service: one HTTP POST of one payload.
//!
//! A plain `http://` webhook is reached through [`super::pool`], a lean keep-alive pool for one
//! origin; an `https://` one through hyper-util's client (rustls, HTTP/2 negotiated by ALPN, the
//! roots, versions and client certificate of [`ClientTls`]).
//! Neither follows redirects. The request head (URI + headers) is built once per sink; each try
//! clones it and attaches the payload's `Bytes` body without copying it. A signed sink
//! ([`HttpService::signed`]) also sets the try's Standard Webhooks headers ([`super::signing`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::connect::GuardedConnector;
use super::network::NetworkPolicy;
use super::pool::Http1Pool;
use super::signing::{with_placeholders, SignedHeaders, Signer};
use super::{Payload, TryError, TryResponse};

/// The pooled client every try of a sink goes through.
pub type HttpClient = Client<HttpsConnector<GuardedConnector>, Full<Bytes>>;

/// Most response-body bytes read (and discarded) so the connection can be reused.
const MAX_DRAINED_BODY: usize = 64 * 1024;

/// Builds the client with the default TLS ([`ClientTls::default`]: Mozilla's roots, TLS 1.2 and
/// up, no client certificate), HTTP/1.1 and HTTP/2 (ALPN), a keep-alive pool holding up to
/// `max_idle` idle connections.
pub fn build_client(max_idle: usize) -> HttpClient {
    build_client_with(max_idle, &ClientTls::default(), Arc::default())
}

/// [`build_client`] with the TLS of `[tls]` (`tls`), dialling only what `policy` allows.
pub fn build_client_with(
    max_idle: usize,
    tls: &ClientTls,
    policy: Arc<NetworkPolicy>,
) -> HttpClient {
    let http = GuardedConnector::new(policy);
    // A copy per client: the builder sets the ALPN protocols on the config it is given.
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(rustls::ClientConfig::clone(&tls.config))
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(max_idle)
        .pool_idle_timeout(Duration::from_secs(60))
        .build(https)
}

/// The lowest TLS version the client accepts (`tls.min_version`). rustls speaks only 1.2 and 1.3,
/// so there is nothing older to refuse; `Tls13` also refuses 1.2, for receivers that must.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MinTlsVersion {
    /// TLS 1.2 and 1.3 (1.3 preferred).
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// The versions offered from 1.2 up, the preferred first.
static TLS12_AND_UP: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS13, &rustls::version::TLS12];
/// TLS 1.3 alone.
static TLS13_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];

impl MinTlsVersion {
    /// The versions offered, written into the config rather than left to rustls's defaults so
    /// that a change of those cannot widen them.
    fn versions(self) -> &'static [&'static rustls::SupportedProtocolVersion] {
        match self {
            MinTlsVersion::Tls12 => &TLS12_AND_UP,
            MinTlsVersion::Tls13 => &TLS13_ONLY,
        }
    }
}

/// A client certificate chain and the key that goes with it (`tls.cert_file`, `tls.key_file`).
pub struct ClientIdentity {
    /// The chain, the client's own certificate first.
    pub chain: Vec<CertificateDer<'static>>,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PrivateKeyDer<'static>,
}

/// A client certificate rustls cannot present; the config names the file it came from.
#[derive(Debug, thiserror::Error)]
#[error("the client certificate cannot be presented with this key: {0}")]
pub struct ClientIdentityError(pub rustls::Error);

/// The client side of TLS, as `[tls]` configured it: built once when the config is validated, so
/// that a key that does not fit its certificate is refused at start, and copied into each lane's
/// client. `Debug` shows what it holds, never the key.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
    roots: usize,
    min_version: MinTlsVersion,
    presents_certificate: bool,
}

impl ClientTls {
    /// Trusts `roots` (a store of Mozilla's roots, the system's or both, plus `tls.ca_file`),
    /// speaks TLS from `min_version` up, and presents `identity` when the server asks for a
    /// client certificate (mTLS). Fails when rustls cannot use the identity: a key that does not
    /// match the certificate, or of a kind it cannot sign with.
    pub fn new(
        roots: rustls::RootCertStore,
        min_version: MinTlsVersion,
        identity: Option<ClientIdentity>,
    ) -> Result<ClientTls, ClientIdentityError> {
        let root_count = roots.len();
        // The process's provider, as hyper-rustls would choose: ring, the only one the crate
        // features enable; it speaks both versions, so the builder cannot fail on them.
        let builder = rustls::ClientConfig::builder_with_protocol_versions(min_version.versions())
            .with_root_certificates(roots);
        let presents_certificate = identity.is_some();
        let config = match identity {
            Some(identity) => builder
                .with_client_auth_cert(identity.chain, identity.key)
                .map_err(ClientIdentityError)?,
            None => builder.with_no_client_auth(),
        };
        Ok(ClientTls {
            config: Arc::new(config),
            roots: root_count,
            min_version,
            presents_certificate,
        })
    }

    /// How many roots are trusted.
    pub fn root_count(&self) -> usize {
        self.roots
    }

    /// The lowest version spoken.
    pub fn min_version(&self) -> MinTlsVersion {
        self.min_version
    }

    /// Whether a client certificate is presented when the server asks for one.
    pub fn presents_certificate(&self) -> bool {
        self.presents_certificate
    }
}

/// Mozilla's roots (webpki-roots), the versions rustls speaks, no client certificate.
impl Default for ClientTls {
    fn default() -> ClientTls {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let builder = rustls::ClientConfig::builder_with_protocol_versions(
            MinTlsVersion::default().versions(),
        );
        ClientTls {
            roots: roots.len(),
            config: Arc::new(builder.with_root_certificates(roots).with_no_client_auth()),
            min_version: MinTlsVersion::default(),
            presents_certificate: false,
        }
    }
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("roots", &self.roots)
            .field("min_version", &self.min_version)
            .field("presents_certificate", &self.presents_certificate)
            .finish()
    }
}

/// The fixed part of every request of a sink.
pub struct Target {
    /// Where to POST.
    pub uri: Uri,
    /// Preset and custom headers, validated at start.
    pub headers: HeaderMap,
}

/// Sends one payload per call; cheap to clone.
#[derive(Clone)]
pub struct HttpService {
    transport: Transport,
    target: Arc<Target>,
    /// Signs each try when `[signing]` has secrets.
    signer: Option<Arc<Signer>>,
}

/// How requests reach the webhook.
#[derive(Clone)]
enum Transport {
    /// `http://`: the lean single-origin HTTP/1.1 pool, with the request head in origin form.
    Plain(Http1Pool, Arc<Target>),
    /// `https://`: hyper-util's client (TLS, HTTP/2 by ALPN).
    Client(Arc<HttpClient>),
}

impl HttpService {
    /// A service posting to `target` through `client`. A plain `http` target goes through a
    /// lean pool of at most `max_idle` idle connections instead of `client`.
    pub fn new(client: HttpClient, target: Arc<Target>, max_idle: usize) -> Self {
        HttpService::under_policy(client, target, max_idle, Arc::default())
    }

    /// [`HttpService::new`], the plain pool dialling only what `policy` allows (give `client`
    /// the same policy: [`build_client_with`]).
    pub fn under_policy(
        client: HttpClient,
        target: Arc<Target>,
        max_idle: usize,
        policy: Arc<NetworkPolicy>,
    ) -> Self {
        let transport = match plain_target(&target) {
            Some((authority, origin_form)) => Transport::Plain(
                Http1Pool::under_policy(authority, max_idle, policy),
                Arc::new(origin_form),
            ),
            None => Transport::Client(Arc::new(client)),
        };
        HttpService {
            transport,
            target,
            signer: None,
        }
    }

    /// Signs every try with `signer` (`None`: requests stay unsigned). The request heads get
    /// room for the three headers here, so a try replaces values instead of growing the map.
    pub fn signed(mut self, signer: Option<Signer>) -> Self {
        let Some(signer) = signer else {
            return self;
        };
        self.target = Arc::new(self.target.with_signing_room());
        if let Transport::Plain(_, origin_form) = &mut self.transport {
            *origin_form = Arc::new(origin_form.with_signing_room());
        }
        self.signer = Some(Arc::new(signer));
        self
    }
}

impl Target {
    /// This target with empty entries for the signing headers (see [`HttpService::signed`]).
    fn with_signing_room(&self) -> Target {
        Target {
            uri: self.uri.clone(),
            headers: with_placeholders(&self.headers),
        }
    }
}

/// For an `http://` target: its `host:port` and the target as an HTTP/1.1 origin-form request
/// (path and query as the request target, a `Host` header), which hyper's client derives itself.
fn plain_target(target: &Target) -> Option<(String, Target)> {
    if target.uri.scheme() != Some(&http::uri::Scheme::HTTP) {
        return None;
    }
    let authority = target.uri.authority()?;
    let host = authority.host();
    let port = authority.port_u16().unwrap_or(80);
    let path = target.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri = Uri::try_from(path).ok()?;
    let mut headers = target.headers.clone();
    let host_value = http::HeaderValue::from_str(authority.as_str()).ok()?;
    headers.insert(http::header::HOST, host_value);
    Some((format!("{host}:{port}"), Target { uri, headers }))
}

/// One try's request: the target's head, the try's signing headers when signed, the body.
fn request_for(
    target: &Target,
    body: &Bytes,
    signed: Option<&SignedHeaders>,
) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(body.clone()));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = target.uri.clone();
    *request.headers_mut() = target.headers.clone();
    if let Some(signed) = signed {
        signed.write_to(request.headers_mut());
    }
    request
}

impl tower::Service<Payload> for HttpService {
    type Response = TryResponse;
    type Error = TryError;
    type Future = Pin<Box<dyn Future<Output = Result<TryResponse, TryError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), TryError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, payload: Payload) -> Self::Future {
        let transport = self.transport.clone();
        let target = Arc::clone(&self.target);
        let try_number = payload.try_number;
        // Once per try: a request the pool sends again on a fresh connection keeps them.
        let signed = self
            .signer
            .as_ref()
            .map(|signer| signer.headers(payload.stream, &payload.body, SystemTime::now()));
        Box::pin(async move {
            let result = match transport {
                Transport::Plain(pool, origin_form) => {
                    exchange_plain(&pool, &origin_form, &payload.body, signed.as_ref()).await
                }
                Transport::Client(client) => {
                    let request = request_for(&target, &payload.body, signed.as_ref());
                    let sending = client.request(request);
                    exchange(sending).await.map_err(|e| error_chain(&e))
                }
            };
            match result {
                Ok((status, retry_after)) => Ok(TryResponse {
                    status,
                    retry_after,
                    try_number,
                }),
                Err(message) => Err(TryError::Transport {
                    message,
                    try_number,
                }),
            }
        })
    }
}

/// One exchange over the plain pool; the connection goes back once its answer has been read.
async fn exchange_plain(
    pool: &Http1Pool,
    target: &Target,
    body: &Bytes,
    signed: Option<&SignedHeaders>,
) -> Result<(StatusCode, Option<Duration>), String> {
    let (response, taken) = pool
        .send(|| request_for(target, body, signed))
        .await
        .map_err(|e| error_chain(&e))?;
    let (status, retry_after) = read_answer(response).await;
    pool.put_back(taken);
    Ok((status, retry_after))
}

/// Sends through hyper-util's client and reads the answer.
async fn exchange(
    sending: hyper_util::client::legacy::ResponseFuture,
) -> Result<(StatusCode, Option<Duration>), hyper_util::client::legacy::Error> {
    Ok(read_answer(sending.await?).await)
}

/// Reads the status and `Retry-After`, and drains the body so the connection can be reused.
async fn read_answer(response: http::Response<Incoming>) -> (StatusCode, Option<Duration>) {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let mut body = response.into_body();
    let mut drained = 0usize;
    while drained <= MAX_DRAINED_BODY {
        match body.frame().await {
            Some(Ok(frame)) => drained += frame.data_ref().map_or(0, |d| d.len()),
            // The answer is already known; a broken body only costs the connection.
            Some(Err(_)) | None => break,
        }
    }
    (status, retry_after)
}

/// The longest `Retry-After` honoured: a webhook's `18446744073709551615` would overflow the clock
/// arithmetic of the retry store and the circuit breakers (`now + wait`), stopping the sink.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(365 * 24 * 3600);

/// Reads `Retry-After` as delay-seconds or an HTTP date (RFC 9110 section 10.2.3), at most a
/// year.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    let wait = delta.to_std().unwrap_or(Duration::ZERO);
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The error and its causes on one line ("client error (Connect): tcp connect error: Connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_request_carries_each_signing_header_once_and_the_rest_unchanged() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            "application/json".parse().unwrap(),
        );
        let target = Target {
            uri: "https://example.com/hook".parse().unwrap(),
            headers,
        }
        .with_signing_room();
        let secret =
            crate::dispatch::SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                .unwrap();
        let signer = Signer::new(&[secret], "hook").unwrap();
        let body = Bytes::from_static(b"{\"n\":1}");
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_614_265_330);
        let signed = signer.headers(crate::stream::Stream::Events, &body, at);
        let request = request_for(&target, &body, Some(&signed));
        let sent = request.headers();
        assert_eq!(sent.len(), 4);
        assert_eq!(sent["content-type"], "application/json");
        assert_eq!(sent["webhook-id"], signed.id);
        assert_eq!(sent["webhook-timestamp"], "1614265330");
        assert_eq!(sent["webhook-signature"], signed.signature);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let parsed = parse_retry_after(&later).unwrap_or_default();
        assert!(parsed > Duration::from_secs(25) && parsed <= Duration::from_secs(30));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
