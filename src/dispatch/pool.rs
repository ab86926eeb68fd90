//! A lean keep-alive pool of HTTP/1.1 connections to one plain-`http` webhook.
//!
//! A sink talks to exactly one origin, so the general pool of hyper-util's client (keyed by
//! origin, with per-checkout hashing, waiters and idle-timers) is more than it needs: here an idle
//! connection is a `SendRequest` on a stack, taken for one exchange and pushed back when its
//! response body has been read. A connection the server closed while idle is noticed on take
//! (`is_closed`) or when its send is canceled before anything was written; that request is then
//! sent once more on a fresh connection, which is not a failed try.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::connect::resolve_allowed;
use super::network::NetworkPolicy;

/// Why an exchange got no response head.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// Resolving or connecting failed.
    #[error("tcp connect error: {0}")]
    Connect(#[source] std::io::Error),
    /// The HTTP/1 handshake failed.
    #[error("http handshake error: {0}")]
    Handshake(#[source] hyper::Error),
    /// Sending the request or reading the answer failed.
    #[error("{0}")]
    Exchange(#[source] hyper::Error),
}

/// Connections to one `host:port`; cheap to clone (clones share the idle connections).
#[derive(Clone)]
pub struct Http1Pool {
    inner: Arc<Inner>,
}

struct Inner {
    /// `host:port` as resolved by the system resolver on each new connection.
    authority: String,
    /// Idle connections, most recently used on top.
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
    /// Most idle connections kept; more are closed when they come back.
    max_idle: usize,
    /// Which resolved addresses may be dialled.
    policy: Arc<NetworkPolicy>,
}

/// A connection taken from the pool for one exchange; give it back with [`Http1Pool::put_back`].
pub struct Taken {
    sender: SendRequest<Full<Bytes>>,
}

impl Http1Pool {
    /// A pool for `authority` (`host:port`) keeping at most `max_idle` idle connections.
    pub fn new(authority: String, max_idle: usize) -> Self {
        Http1Pool::under_policy(authority, max_idle, Arc::default())
    }

    /// [`Http1Pool::new`], dialling only the addresses `policy` allows (checked after each
    /// resolution, before connecting).
    pub fn under_policy(authority: String, max_idle: usize, policy: Arc<NetworkPolicy>) -> Self {
        Http1Pool {
            inner: Arc::new(Inner {
                authority,
                idle: Mutex::new(Vec::with_capacity(max_idle)),
                max_idle: max_idle.max(1),
                policy,
            }),
        }
    }

    /// Sends `request` (built anew by `build` if it must be sent again) and returns the answer's
    /// head with the connection that carried it.
    pub async fn send(
        &self,
        build: impl Fn() -> Request<Full<Bytes>>,
    ) -> Result<(hyper::Response<Incoming>, Taken), PoolError> {
        while let Some(mut taken) = self.take_idle() {
            if !taken.ready().await {
                continue;
            }
            match taken.sender.send_request(build()).await {
                Ok(response) => return Ok((response, taken)),
                // The server closed this idle connection before our request went out.
                Err(error) if error.is_canceled() => {}
                Err(error) => return Err(PoolError::Exchange(error)),
            }
        }
        let mut taken = self.connect().await?;
        let response = taken
            .sender
            .send_request(build())
            .await
            .map_err(PoolError::Exchange)?;
        Ok((response, taken))
    }

    /// Returns a connection whose response body has been read, unless it cannot carry another request.
    pub fn put_back(&self, taken: Taken) {
        if taken.sender.is_closed() {
            return;
        }
        let mut idle = self.lock_idle();
        if idle.len() < self.inner.max_idle {
            idle.push(taken.sender);
        }
    }

    fn take_idle(&self) -> Option<Taken> {
        let mut idle = self.lock_idle();
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(Taken { sender });
            }
        }
        None
    }

    async fn connect(&self) -> Result<Taken, PoolError> {
        let addresses = resolve_allowed(&self.inner.authority, &self.inner.policy)
            .await
            .map_err(PoolError::Connect)?;
        let stream = TcpStream::connect(addresses.as_slice())
            .await
            .map_err(PoolError::Connect)?;
        stream.set_nodelay(true).map_err(PoolError::Connect)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(PoolError::Handshake)?;
        tokio::spawn(async move {
            // Ends when the server closes or every sender is dropped; its error is the exchange's.
            let _ = connection.await;
        });
        Ok(Taken { sender })
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<SendRequest<Full<Bytes>>>> {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Taken {
    /// Waits until the connection can carry the next request (its previous answer fully read);
    /// false when it never will.
    async fn ready(&mut self) -> bool {
        self.sender.ready().await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Uri;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server that answers one request per connection and then closes it, recording each head.
    async fn one_answer_per_connection() -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let authority = listener.local_addr().expect("addr").to_string();
        let server = tokio::spawn(async move {
            let mut heads = Vec::new();
            for _ in 0..2 {
                let Ok((mut socket, _)) = listener.accept().await else {
                    break;
                };
                let mut buf = vec![0u8; 4096];
                let mut read = 0;
                while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => read += n,
                    }
                }
                heads.push(String::from_utf8_lossy(&buf[..read]).into_owned());
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
                // Dropping the socket closes the kept-alive connection under the client.
            }
            heads
        });
        (authority, server)
    }

    fn request(authority: &str) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(Bytes::from_static(b"{}")));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = Uri::from_static("/hook?x=1");
        if let Ok(host) = http::HeaderValue::from_str(authority) {
            request.headers_mut().insert(http::header::HOST, host);
        }
        request
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_replaced_without_a_failed_send() {
        let (authority, server) = one_answer_per_connection().await;
        let pool = Http1Pool::new(authority.clone(), 4);
        for _ in 0..2 {
            let (response, taken) = pool.send(|| request(&authority)).await.expect("answered");
            assert_eq!(response.status(), http::StatusCode::OK);
            drop(response);
            pool.put_back(taken);
            // Let the client notice the server's close before the next send.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let heads = server.await.expect("server");
        assert_eq!(heads.len(), 2, "the second request needed a new connection");
        for head in heads {
            assert!(head.starts_with("POST /hook?x=1 HTTP/1.1\r\n"), "{head}");
            assert!(
                head.to_ascii_lowercase()
                    .contains(&format!("host: {authority}")),
                "{head}"
            );
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let authority = listener.local_addr().expect("addr").to_string();
        drop(listener);
        let pool = Http1Pool::new(authority.clone(), 4);
        let error = pool.send(|| request(&authority)).await.err();
        assert!(matches!(error, Some(PoolError::Connect(_))), "{error:?}");
    }
}
