//! HTTPS for the HTTP sources (`[sources.ID.tls]`), since SDKs send over the internet.
//!
//! The certificate chain and key are read and checked when the config is read, so a bad file is
//! refused at startup (and by `validate`) naming its key; the source reads them again when it
//! starts, keeping the config a plain value. rustls serves TLS 1.2 and 1.3 (its default versions)
//! and offers `h2` and `http/1.1` by ALPN, both of which the sources' hyper server speaks.
//!
//! Each connection does its handshake on its own task, within [`HANDSHAKE_TIMEOUT`], so a client
//! that opens TCP and never sends its hello holds nothing for long. A failed handshake (a
//! scanner, plain HTTP sent to the TLS port, a client that does not trust the certificate) ends
//! that connection only; it is the client's problem, so it is logged at debug level, rate limited.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_core::log_limit::LogLimiter;
use pipeline_core::ConfigError;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client has for its handshake. A real client needs a few round trips (well under a
/// second even on mobile networks); ten seconds leave room for a bad link.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `[sources.ID.tls]`: serve HTTPS with this certificate and key (both are required).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, the server's own certificate first. Relative to the config file.
    pub cert_file: PathBuf,
    /// The unencrypted PEM private key of that certificate: PKCS#8 (`PRIVATE KEY`), PKCS#1
    /// (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`). Relative to the config file.
    pub key_file: PathBuf,
}

/// The config keys of the two files, relative to the source's table.
const CERT_FILE: &str = "tls.cert_file";
const KEY_FILE: &str = "tls.key_file";

/// Why a `[tls]` table cannot serve; each names the file at fault ([`TlsError::key`] its key).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// `tls.cert_file` or `tls.key_file`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not well-formed PEM.
    #[error("`{}` is not valid PEM: {source}", path.display())]
    Pem {
        /// `tls.cert_file` or `tls.key_file`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: pem::Error,
    },
    /// `cert_file` has no certificate (a key file given by mistake, say).
    #[error("`{}` holds no PEM CERTIFICATE block", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// `key_file` has no key rustls reads (encrypted keys are not).
    #[error(
        "`{}` holds no unencrypted PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
        path.display()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The key is not the certificate's: clients could not verify the handshake.
    #[error(
        "the key in `{}` does not match the certificate in `{}`",
        key_path.display(),
        cert_path.display()
    )]
    Mismatch {
        /// `key_file`.
        key_path: PathBuf,
        /// `cert_file`.
        cert_path: PathBuf,
    },
    /// rustls refused the certificate or the key (a malformed certificate, an unsupported key).
    #[error("`{}` cannot be used: {source}", path.display())]
    Unusable {
        /// `tls.cert_file` or `tls.key_file`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: rustls::Error,
    },
}

impl TlsError {
    /// The config key of the file at fault, relative to the source's table.
    pub fn key(&self) -> &'static str {
        match self {
            TlsError::Read { key, .. } | TlsError::Pem { key, .. } => key,
            TlsError::Unusable { key, .. } => key,
            TlsError::NoCertificate { .. } => CERT_FILE,
            TlsError::NoKey { .. } | TlsError::Mismatch { .. } => KEY_FILE,
        }
    }
}

impl From<TlsError> for ConfigError {
    fn from(error: TlsError) -> ConfigError {
        ConfigError::new(error.key(), error.to_string())
    }
}

impl TlsConfig {
    /// Takes relative paths from `config_dir` (the config file's directory; the working directory
    /// when `None`) and checks that the files make a usable server config, so a bad file is
    /// refused when the config is read. Errors are located at `tls.cert_file` or `tls.key_file`.
    pub fn validate_in(&mut self, config_dir: Option<&Path>) -> Result<(), ConfigError> {
        if let Some(dir) = config_dir {
            for path in [&mut self.cert_file, &mut self.key_file] {
                if path.is_relative() {
                    *path = dir.join(&*path);
                }
            }
        }
        self.server_config()?;
        Ok(())
    }

    /// Reads both files into a rustls server config offering `h2` and `http/1.1`.
    pub fn server_config(&self) -> Result<ServerConfig, TlsError> {
        let chain = read_chain(&self.cert_file)?;
        let key = read_key(&self.key_file)?;
        // The provider is named rather than taken from the process default, which rustls cannot
        // choose (and panics) when more than one is compiled in.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|source| self.unusable(CERT_FILE, source))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|source| match source {
                rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
                    key_path: self.key_file.clone(),
                    cert_path: self.cert_file.clone(),
                },
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
                    self.unusable(CERT_FILE, source)
                }
                // Everything else comes from loading the key.
                source => self.unusable(KEY_FILE, source),
            })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    fn unusable(&self, key: &'static str, source: rustls::Error) -> TlsError {
        let path = if key == CERT_FILE {
            &self.cert_file
        } else {
            &self.key_file
        };
        TlsError::Unusable {
            key,
            path: path.clone(),
            source,
        }
    }
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        key,
        path: path.to_path_buf(),
        source,
    })
}

/// The PEM `CERTIFICATE` blocks of `path`, in order (other blocks are skipped).
fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(CERT_FILE, path)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            key: CERT_FILE,
            path: path.to_path_buf(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(chain)
}

/// The first private key of `path` in any of the three PEM forms.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(KEY_FILE, path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|source| match source {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_path_buf(),
        },
        source => TlsError::Pem {
            key: KEY_FILE,
            path: path.to_path_buf(),
            source,
        },
    })
}

/// The rate-limited debug lines' messages (and keys).
const HANDSHAKE_FAILED: &str = "TLS handshake failed";
const HANDSHAKE_TIMED_OUT: &str = "TLS handshake timed out";

/// A source's loaded `[tls]`: does the handshake of each accepted connection.
pub(crate) struct ServerTls {
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    id: Arc<str>,
    logs: LogLimiter,
}

impl ServerTls {
    /// Loads `config`'s files for source `id`.
    pub(crate) fn load(config: &TlsConfig, id: Arc<str>) -> Result<ServerTls, TlsError> {
        Ok(ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config.server_config()?)),
            handshake_timeout: HANDSHAKE_TIMEOUT,
            id,
            logs: LogLimiter::default(),
        })
    }

    /// [`ServerTls::load`] for a source with `[tls]` (`None` without); a failure is logged naming
    /// the key, and the source ends with `Err(())`, as for an address it cannot bind.
    pub(crate) fn for_source(
        config: Option<&TlsConfig>,
        id: &Arc<str>,
    ) -> Result<Option<ServerTls>, ()> {
        let Some(config) = config else {
            return Ok(None);
        };
        match ServerTls::load(config, Arc::clone(id)) {
            Ok(tls) => Ok(Some(tls)),
            Err(error) => {
                tracing::error!(component_id = %id, "cannot serve HTTPS: `{}`: {error}", error.key());
                Err(())
            }
        }
    }

    /// The TLS stream once `stream`'s handshake is done; `None` (the connection dropped, the
    /// failure logged) when it fails or takes longer than the handshake timeout.
    pub(crate) async fn accept(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
    ) -> Option<TlsStream<TcpStream>> {
        match tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(stream)).await {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(error)) => {
                self.logs.log(&HANDSHAKE_FAILED, Instant::now(), |repeated| {
                    self.debug_repeated(repeated);
                    tracing::debug!(component_id = %self.id, %peer, %error, "{HANDSHAKE_FAILED}");
                });
                None
            }
            Err(_elapsed) => {
                self.logs.log(&HANDSHAKE_TIMED_OUT, Instant::now(), |repeated| {
                    self.debug_repeated(repeated);
                    tracing::debug!(component_id = %self.id, %peer, timeout = ?self.handshake_timeout, "{HANDSHAKE_TIMED_OUT}");
                });
                None
            }
        }
    }

    /// Logs the counts of handshake failures not logged yet (when the source stops).
    pub(crate) fn flush_logs(&self) {
        for repeated in self.logs.flush(Instant::now()) {
            self.debug_repeated(Some(repeated));
        }
    }

    fn debug_repeated(&self, repeated: Option<pipeline_core::log_limit::Repeated<&'static str>>) {
        if let Some(repeated) = repeated {
            tracing::debug!(component_id = %self.id, repeated = repeated.count, "{repeated}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/tls")
            .join(name)
    }

    fn config(cert: &str, key: &str) -> TlsConfig {
        TlsConfig {
            cert_file: testdata(cert),
            key_file: testdata(key),
        }
    }

    #[test]
    fn keys_in_pkcs8_pkcs1_and_sec1_are_read_and_alpn_offers_h2_and_http1() {
        for (cert, key) in [
            ("rsa.crt", "rsa-pkcs8.key"),
            ("rsa.crt", "rsa-pkcs1.key"),
            ("ec.crt", "ec-sec1.key"),
        ] {
            let loaded = config(cert, key)
                .server_config()
                .unwrap_or_else(|error| panic!("{cert} + {key}: {error}"));
            assert_eq!(loaded.alpn_protocols, [&b"h2"[..], b"http/1.1"]);
        }
    }

    #[test]
    fn refusals_name_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let garbled = dir.path().join("garbled.pem");
        std::fs::write(&garbled, "-----BEGIN CERTIFICATE-----\n!!!\n").unwrap();
        let missing = dir.path().join("missing.pem");
        let path = |p: &Path| p.display().to_string();
        let cases = [
            (
                TlsConfig {
                    cert_file: missing.clone(),
                    key_file: testdata("ec-sec1.key"),
                },
                CERT_FILE,
                format!("cannot read `{}`", path(&missing)),
            ),
            (
                TlsConfig {
                    cert_file: testdata("ec.crt"),
                    key_file: missing.clone(),
                },
                KEY_FILE,
                format!("cannot read `{}`", path(&missing)),
            ),
            (
                config("ec-sec1.key", "ec-sec1.key"),
                CERT_FILE,
                format!(
                    "`{}` holds no PEM CERTIFICATE",
                    path(&testdata("ec-sec1.key"))
                ),
            ),
            (
                config("ec.crt", "ec.crt"),
                KEY_FILE,
                format!(
                    "`{}` holds no unencrypted PEM private key",
                    path(&testdata("ec.crt"))
                ),
            ),
            (
                config("rsa.crt", "ec-sec1.key"),
                KEY_FILE,
                format!(
                    "the key in `{}` does not match the certificate in `{}`",
                    path(&testdata("ec-sec1.key")),
                    path(&testdata("rsa.crt"))
                ),
            ),
            (
                TlsConfig {
                    cert_file: garbled.clone(),
                    key_file: testdata("ec-sec1.key"),
                },
                CERT_FILE,
                format!("`{}` is not valid PEM", path(&garbled)),
            ),
        ];
        for (mut tls, key, message) in cases {
            let error = tls.validate_in(None).expect_err(&message);
            assert_eq!(error.path, key, "{error}");
            assert!(error.message.starts_with(&message), "{error}");
        }
    }

    #[test]
    fn relative_paths_are_taken_from_the_config_directory() {
        let mut tls = TlsConfig {
            cert_file: "ec.crt".into(),
            key_file: "ec-sec1.key".into(),
        };
        tls.validate_in(Some(&testdata(""))).unwrap();
        assert_eq!(tls.cert_file, testdata("ec.crt"));
        assert_eq!(tls.key_file, testdata("ec-sec1.key"));
    }

    #[test]
    fn both_files_are_required_and_nothing_else_is_taken() {
        let parse = |text: &str| {
            pipeline_core::deserialize_table::<TlsConfig>(text.parse().expect("test TOML"))
        };
        let error = parse("cert_file = \"c.pem\"").unwrap_err();
        assert!(
            error.message.contains("missing field `key_file`"),
            "{error}"
        );
        let error = parse("key_file = \"k.pem\"").unwrap_err();
        assert!(
            error.message.contains("missing field `cert_file`"),
            "{error}"
        );
        let error = parse("cert_file = \"c\"\nkey_file = \"k\"\nca_file = \"x\"").unwrap_err();
        assert_eq!(error.path, "ca_file", "{error}");
    }

    /// A client that connects and never sends its hello: the server gives up after the timeout
    /// and closes the connection, so the task and socket are not held.
    #[tokio::test]
    async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
        let mut tls = ServerTls::load(&config("ec.crt", "ec-sec1.key"), "src".into()).unwrap();
        tls.handshake_timeout = Duration::from_millis(200);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(address).await.unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let started = Instant::now();
        assert!(tls.accept(stream, peer).await.is_none());
        assert!(started.elapsed() >= Duration::from_millis(200));
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), client.read(&mut byte)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "the server kept the connection: {read:?}"
        );
    }

    /// Plain HTTP sent to the TLS port fails the handshake at once, without waiting out the timeout.
    #[tokio::test]
    async fn plain_http_fails_the_handshake_at_once() {
        use tokio::io::AsyncWriteExt;
        let tls = ServerTls::load(&config("ec.crt", "ec-sec1.key"), "src".into()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(address).await.unwrap();
        client
            .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let started = Instant::now();
        assert!(tls.accept(stream, peer).await.is_none());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
