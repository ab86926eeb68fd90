//! Connecting under the [`NetworkPolicy`]: the address is checked after DNS resolution and
//! before the connection is attempted, on every new connection, for both transports (the plain
//! `http://` pool and hyper-util's client for `https://`). A refused address fails the try with
//! an error naming it and the rule; nothing is dialled.
//!
//! hyper-util's connector skips its resolver for IP-literal URLs, so [`GuardedConnector`] checks
//! those itself and [`GuardedResolver`] checks what names resolve to.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::network::{NetworkPolicy, Refused};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The addresses `host:port` resolves to that the policy allows (in the resolver's order), or why
/// there are none.
pub async fn resolve_allowed(
    host_port: &str,
    policy: &NetworkPolicy,
) -> io::Result<Vec<SocketAddr>> {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host(host_port).await?.collect();
    allowed(policy, resolved, host_port)
}

/// Keeps the allowed addresses of `resolved`; an error when none is.
fn allowed(
    policy: &NetworkPolicy,
    resolved: Vec<SocketAddr>,
    name: &str,
) -> io::Result<Vec<SocketAddr>> {
    let mut refusal: Option<Refused> = None;
    let allowed: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|address| match policy.check(address.ip()) {
            Ok(()) => true,
            Err(refused) => {
                refusal.get_or_insert(refused);
                false
            }
        })
        .collect();
    match (allowed.is_empty(), refusal) {
        (false, _) => Ok(allowed),
        (true, Some(refused)) => Err(io::Error::new(io::ErrorKind::PermissionDenied, refused)),
        (true, None) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{name} resolved to no address"),
        )),
    }
}

/// Resolves a host name (port 0) to addresses: the system's resolver, or a test's.
type Lookup = Arc<dyn Fn(String) -> BoxFuture<io::Result<Vec<SocketAddr>>> + Send + Sync>;

fn system_lookup() -> Lookup {
    Arc::new(|name: String| {
        Box::pin(async move { Ok(tokio::net::lookup_host((name.as_str(), 0)).await?.collect()) })
    })
}

/// hyper-util's resolver, keeping only the addresses the policy allows.
#[derive(Clone)]
pub struct GuardedResolver {
    policy: Arc<NetworkPolicy>,
    lookup: Lookup,
}

impl tower::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = BoxFuture<io::Result<Self::Response>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = Arc::clone(&self.policy);
        // Port 0: hyper-util sets the URL's port on each address.
        let resolving = (self.lookup)(name.as_str().to_owned());
        Box::pin(async move {
            let resolved = resolving.await?;
            Ok(allowed(&policy, resolved, name.as_str())?.into_iter())
        })
    }
}

/// hyper-util's HTTP connector under the policy (names through [`GuardedResolver`], IP literals
/// checked here).
#[derive(Clone)]
pub struct GuardedConnector {
    inner: HttpConnector<GuardedResolver>,
    policy: Arc<NetworkPolicy>,
}

impl GuardedConnector {
    /// A connector (`TCP_NODELAY`, any scheme: TLS is layered on top) under `policy`.
    pub fn new(policy: Arc<NetworkPolicy>) -> GuardedConnector {
        GuardedConnector::with_lookup(policy, system_lookup())
    }

    /// [`GuardedConnector::new`] resolving names with `lookup`.
    fn with_lookup(policy: Arc<NetworkPolicy>, lookup: Lookup) -> GuardedConnector {
        let mut inner = HttpConnector::new_with_resolver(GuardedResolver {
            policy: Arc::clone(&policy),
            lookup,
        });
        inner.enforce_http(false);
        inner.set_nodelay(true);
        GuardedConnector { inner, policy }
    }
}

/// The IP address of an IP-literal URL host (`[::1]` included).
fn literal_ip(uri: &Uri) -> Option<IpAddr> {
    let host = uri.host()?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

impl tower::Service<Uri> for GuardedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        if let Some(Err(refused)) = literal_ip(&uri).map(|ip| self.policy.check(ip)) {
            return Box::pin(async move { Err(refused.into()) });
        }
        let connecting = self.inner.call(uri);
        Box::pin(async move { connecting.await.map_err(Into::into) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_hosts_are_read_with_or_without_brackets() {
        let uri = |text: &str| text.parse::<Uri>().unwrap();
        assert_eq!(
            literal_ip(&uri("https://127.0.0.1:8443/x")),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            literal_ip(&uri("https://[::ffff:127.0.0.1]:8443/x")),
            Some("::ffff:127.0.0.1".parse().unwrap())
        );
        assert_eq!(literal_ip(&uri("https://localhost/x")), None);
    }

    #[tokio::test]
    async fn a_name_is_checked_after_resolution_and_every_time_it_is_resolved() {
        let deny_loopback = NetworkPolicy {
            deny: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
            ..NetworkPolicy::default()
        };
        let refused = resolve_allowed("localhost:80", &deny_loopback)
            .await
            .unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::PermissionDenied);
        assert!(refused
            .to_string()
            .contains("refused by the network policy"));
        assert!(resolve_allowed("localhost:80", &NetworkPolicy::default())
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn a_name_rebound_to_a_refused_address_is_refused_on_the_next_connection() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tower::Service;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counting = Arc::clone(&accepted);
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                counting.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        // The test's resolver: the name first points at the listener, then at a denied address.
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let lookup: Lookup = Arc::new(move |_name: String| {
            let answer = if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                "127.0.0.1:0"
            } else {
                "127.0.0.2:0"
            };
            Box::pin(async move { Ok(vec![answer.parse::<SocketAddr>().unwrap()]) })
        });
        let policy = Arc::new(NetworkPolicy {
            deny: vec!["127.0.0.2/32".parse().unwrap()],
            ..NetworkPolicy::default()
        });
        let mut connector = GuardedConnector::with_lookup(policy, lookup);
        let uri: Uri = format!("http://rebinding.test:{port}/").parse().unwrap();
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .unwrap();
        assert!(connector.call(uri.clone()).await.is_ok());
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .unwrap();
        let refused = connector.call(uri).await.expect_err("the rebound name");
        assert!(
            error_text(&*refused).contains("127.0.0.2 refused by the network policy"),
            "{}",
            error_text(&*refused)
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "resolved once per connection"
        );
        // The listener's task counts the one connection it accepted (soon after the connect).
        for _ in 0..100 {
            if accepted.load(Ordering::SeqCst) > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_ip_literal_url_is_checked_without_a_resolver() {
        use tower::Service;
        let policy = Arc::new(NetworkPolicy {
            deny: vec!["127.0.0.1/32".parse().unwrap()],
            ..NetworkPolicy::default()
        });
        let mut connector = GuardedConnector::new(policy);
        let refused = connector
            .call("https://[::ffff:127.0.0.1]:9/".parse().unwrap())
            .await
            .expect_err("a denied literal");
        assert!(error_text(&*refused).contains("refused by the network policy"));
    }

    fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}
