//! A test CA made at test time (rcgen) and an HTTPS webhook on 127.0.0.1 (tokio-rustls + hyper)
//! that records what it receives: the negotiated ALPN, the HTTP version and the exact body.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A self-signed certificate authority, generated fresh for each test.
pub struct TestCa {
    certificate: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    /// A new CA named `name`.
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("generate the CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let certificate = params.self_signed(&key).expect("self-sign the CA");
        TestCa { certificate, key }
    }

    /// The CA certificate as PEM, what `tls.ca_file` holds.
    pub fn pem(&self) -> String {
        self.certificate.pem()
    }

    /// A server certificate for 127.0.0.1 and `localhost` issued by this CA, with its key.
    pub fn issue_server_certificate(&self) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().expect("generate the server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .expect("issue the server certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (certificate.der().clone(), key)
    }

    /// The CA certificate, DER, for a root store (a webhook that verifies client certificates).
    pub fn der(&self) -> CertificateDer<'static> {
        self.certificate.der().clone()
    }

    /// A client certificate (extended key usage clientAuth) for `key` issued by this CA, PEM.
    pub fn issue_client_certificate(&self, key: &KeyPair) -> String {
        let mut params = CertificateParams::new(vec!["sink.test".to_owned()]).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "webhook-sink");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params
            .signed_by(key, &self.certificate, &self.key)
            .expect("issue the client certificate")
            .pem()
    }

    /// A rustls server config presenting a certificate of this CA and offering `alpn`
    /// (e.g. `[b"h2", b"http/1.1"]`).
    pub fn server_config(&self, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        let (certificate, key) = self.issue_server_certificate();
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![certificate], key)
            .expect("a valid server certificate");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

/// One request as the HTTPS webhook saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The ALPN protocol the connection negotiated (`None` if none).
    pub alpn: Option<Vec<u8>>,
    /// The request's HTTP version.
    pub version: Version,
    /// The request body, byte for byte.
    pub body: Bytes,
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    failed_handshakes: usize,
}

/// An HTTPS webhook answering 200 to everything, whose certificate can be swapped while it runs.
pub struct TlsWebhook {
    address: SocketAddr,
    config: Arc<Mutex<Arc<ServerConfig>>>,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsWebhook {
    /// Starts listening on a free loopback port, presenting `config`.
    pub async fn start(config: Arc<ServerConfig>) -> TlsWebhook {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let address = listener.local_addr().expect("local address");
        let config = Arc::new(Mutex::new(config));
        let state = Arc::new(Mutex::new(State::default()));
        let task = tokio::spawn(accept_loop(
            listener,
            Arc::clone(&config),
            Arc::clone(&state),
        ));
        TlsWebhook {
            address,
            config,
            state,
            task,
        }
    }

    /// The webhook's URL.
    pub fn url(&self) -> String {
        format!("https://{}/hook", self.address)
    }

    /// Present `config` to the connections accepted from now on.
    pub fn set_config(&self, config: Arc<ServerConfig>) {
        *self.config.lock().expect("config lock") = config;
    }

    /// The requests received so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("state lock").seen.clone()
    }

    /// TLS handshakes that failed (e.g. the client refused the certificate).
    pub fn failed_handshakes(&self) -> usize {
        self.state.lock().expect("state lock").failed_handshakes
    }

    /// Waits up to `limit` for `check` to hold.
    pub async fn wait_until(
        &self,
        limit: std::time::Duration,
        check: impl Fn(&TlsWebhook) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if check(self) {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        check(self)
    }
}

impl Drop for TlsWebhook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    config: Arc<Mutex<Arc<ServerConfig>>>,
    state: Arc<Mutex<State>>,
) {
    while let Ok((tcp, _)) = listener.accept().await {
        let acceptor = TlsAcceptor::from(Arc::clone(&config.lock().expect("config lock")));
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(_) => {
                    state.lock().expect("state lock").failed_handshakes += 1;
                    return;
                }
            };
            let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
            let service = service_fn(move |request: Request<Incoming>| {
                let state = Arc::clone(&state);
                let alpn = alpn.clone();
                async move {
                    let version = request.version();
                    let body = match request.into_body().collect().await {
                        Ok(collected) => collected.to_bytes(),
                        Err(_) => Bytes::new(),
                    };
                    state.lock().expect("state lock").seen.push(Seen {
                        alpn,
                        version,
                        body,
                    });
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                }
            });
            // A connection the client closes mid-way is of no interest to the tests.
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
