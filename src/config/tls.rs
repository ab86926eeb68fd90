//! `[sinks.ID.tls]`: whom the sink trusts (Mozilla's roots, the system's, a CA file), the client
//! certificate it presents to a webhook that requires one (mTLS), the lowest TLS version, and
//! whether a plain `http://` URL is refused. Every file is read and checked here, at start, so a
//! missing or mismatched one is a refusal naming its key, not a delivery failing later.

use std::path::{Path, PathBuf};

use http::Uri;
use pipeline_core::ConfigError;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;
use serde::Deserialize;

use super::http::resolve;
use crate::dispatch::http::{ClientIdentity, ClientTls, MinTlsVersion};

/// `[sinks.ID.tls]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    /// `"1.2"` or `"1.3"` (a bare TOML number is taken too).
    min_version: Option<toml::Value>,
    roots: Option<String>,
    /// Under `[tls]` rather than beside `url`: it is a demand on the transport, and whoever
    /// audits how the sink talks to the webhook reads it with the other TLS keys; the refusal
    /// still names `url`, the value that breaks it.
    #[serde(default)]
    https_only: bool,
}

/// Where the trusted roots come from (`tls.roots`); `tls.ca_file` adds to any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Roots {
    /// Mozilla's roots, built in (webpki-roots): the same on every machine.
    Mozilla,
    /// The operating system's store (rustls-native-certs; on Linux the CA bundle that
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR` or OpenSSL's usual paths name): where a company installs
    /// its own CA.
    System,
    /// Both.
    Both,
}

impl RawTls {
    /// The client TLS for a webhook at `uri`; relative files are read from `config_dir`.
    pub(super) fn validate(
        &self,
        uri: &Uri,
        config_dir: Option<&Path>,
    ) -> Result<ClientTls, ConfigError> {
        if self.https_only && uri.scheme() != Some(&http::uri::Scheme::HTTPS) {
            // The URL is not quoted: its query may hold a token.
            return Err(ConfigError::new(
                "url",
                "the URL is plain http://, which `tls.https_only = true` refuses; use https://",
            ));
        }
        let min_version = self.min_version()?;
        let mut roots = trust_store(self.roots()?)?;
        if let Some(path) = &self.ca_file {
            add_ca_file(&mut roots, &resolve(config_dir, path))?;
        }
        let files = match (&self.cert_file, &self.key_file) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "tls.key_file",
                    "`tls.cert_file` is given without its private key; give `tls.key_file` too",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "tls.cert_file",
                    "`tls.key_file` is given without its certificate; give `tls.cert_file` too",
                ))
            }
            (Some(cert), Some(key)) => Some((resolve(config_dir, cert), resolve(config_dir, key))),
        };
        let identity = match &files {
            Some((cert, key)) => Some(ClientIdentity {
                chain: load_certificates("tls.cert_file", cert)?,
                key: load_key(key)?,
            }),
            None => None,
        };
        ClientTls::new(roots, min_version, identity).map_err(|e| match &files {
            Some((cert, key)) => identity_refusal(e.0, cert, key),
            None => ConfigError::new("tls", e.to_string()),
        })
    }

    fn min_version(&self) -> Result<MinTlsVersion, ConfigError> {
        let text = match &self.min_version {
            None => return Ok(MinTlsVersion::default()),
            Some(toml::Value::String(text)) => text.clone(),
            Some(toml::Value::Float(number)) => format!("{number:?}"),
            Some(other) => other.to_string(),
        };
        match text.trim() {
            "1.2" => Ok(MinTlsVersion::Tls12),
            "1.3" => Ok(MinTlsVersion::Tls13),
            other => Err(ConfigError::new(
                "tls.min_version",
                format!(
                    "`{other}` is neither \"1.2\" nor \"1.3\" (rustls speaks no older version)"
                ),
            )),
        }
    }

    fn roots(&self) -> Result<Roots, ConfigError> {
        match self.roots.as_deref() {
            None | Some("mozilla") => Ok(Roots::Mozilla),
            Some("system") => Ok(Roots::System),
            Some("both") => Ok(Roots::Both),
            Some(other) => Err(ConfigError::new(
                "tls.roots",
                format!("`{other}` is none of \"mozilla\", \"system\" and \"both\""),
            )),
        }
    }
}

/// Why rustls refused the client certificate in `cert` with the key in `key`, under the key
/// whose file is at fault.
fn identity_refusal(error: rustls::Error, cert: &Path, key: &Path) -> ConfigError {
    let (cert, key) = (cert.display(), key.display());
    match error {
        rustls::Error::InconsistentKeys(_) => ConfigError::new(
            "tls.key_file",
            format!("`{key}` is not the private key of the certificate in `{cert}`"),
        ),
        // What the key provider says of a key it cannot load.
        rustls::Error::General(why) => {
            ConfigError::new("tls.key_file", format!("`{key}` cannot be used: {why}"))
        }
        other => ConfigError::new(
            "tls.cert_file",
            format!("the first certificate in `{cert}` cannot be presented: {other}"),
        ),
    }
}

/// The roots `roots` names.
fn trust_store(roots: Roots) -> Result<RootCertStore, ConfigError> {
    let mut store = RootCertStore::empty();
    if matches!(roots, Roots::Mozilla | Roots::Both) {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if matches!(roots, Roots::System | Roots::Both) {
        add_system_roots(&mut store)?;
    }
    Ok(store)
}

/// Adds the operating system's roots. A store that yields none is refused (the user asked for
/// it, most likely for a CA only it holds); unreadable parts of one that yields some are only
/// logged, as one bad file in `/etc/ssl/certs` should not stop delivery.
fn add_system_roots(store: &mut RootCertStore) -> Result<(), ConfigError> {
    let found = rustls_native_certs::load_native_certs();
    let (added, _unusable) = store.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map_or_else(String::new, |e| format!(" ({e})"));
        return Err(ConfigError::new(
            "tls.roots",
            format!(
                "the system trust store holds no usable certificate{why}; install the CA bundle \
                 (Debian: ca-certificates) or name one with SSL_CERT_FILE"
            ),
        ));
    }
    for error in &found.errors {
        tracing::warn!(%error, "part of the system trust store cannot be read");
    }
    Ok(())
}

/// Adds `tls.ca_file`: one or more PEM `CERTIFICATE` blocks, each usable as a trust anchor.
fn add_ca_file(store: &mut RootCertStore, path: &Path) -> Result<(), ConfigError> {
    for (index, certificate) in load_certificates("tls.ca_file", path)?
        .into_iter()
        .enumerate()
    {
        store.add(certificate).map_err(|e| {
            ConfigError::new(
                "tls.ca_file",
                format!(
                    "certificate {} in `{}` cannot be a trusted root: {e}",
                    index + 1,
                    path.display()
                ),
            )
        })?;
    }
    Ok(())
}

/// The PEM `CERTIFICATE` blocks of the file at `path` (at least one), refusals naming `key`.
fn load_certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let refuse = |why: String| ConfigError::new(key, why);
    let pem = std::fs::read(path)
        .map_err(|e| refuse(format!("cannot read `{}`: {e}", path.display())))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| refuse(format!("`{}` is not valid PEM: {e}", path.display())))?;
    if certificates.is_empty() {
        return Err(refuse(format!(
            "`{}` holds no PEM CERTIFICATE block",
            path.display()
        )));
    }
    Ok(certificates)
}

/// The first PEM private key in `tls.key_file`: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE
/// KEY`) or SEC1 (`EC PRIVATE KEY`). Messages name the file, never its content.
fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let refuse = |why: String| ConfigError::new("tls.key_file", why);
    let pem = std::fs::read(path)
        .map_err(|e| refuse(format!("cannot read `{}`: {e}", path.display())))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        pem::Error::NoItemsFound => refuse(format!(
            "`{}` holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY; \
             an encrypted key must be decrypted first)",
            path.display()
        )),
        other => refuse(format!("`{}` is not valid PEM: {other}", path.display())),
    })
}

#[cfg(test)]
mod tests {
    use super::super::WebhookConfig;
    use super::*;
    use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, KeyPair};

    /// A self-signed client certificate and its key, as PEM.
    fn client_identity() -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["client".to_owned()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let certificate = params.self_signed(&key).unwrap();
        (certificate.pem(), key.serialize_pem())
    }

    /// The sink table `url = <url>` with `[tls]` holding `tls`, relative files read from `dir`.
    fn parse_in(dir: &Path, url: &str, tls: &str) -> Result<WebhookConfig, ConfigError> {
        let table: toml::Table = format!("url = \"{url}\"\n[tls]\n{tls}").parse().unwrap();
        WebhookConfig::from_table_in(table, Some(dir))
    }

    /// A directory holding `ca.pem`, a client certificate (`client.pem`, `client.key`) and the
    /// key of another one (`other.key`).
    fn files() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let (certificate, key) = client_identity();
        let (ca, other_key) = client_identity();
        std::fs::write(dir.path().join("ca.pem"), ca).unwrap();
        std::fs::write(dir.path().join("client.pem"), certificate).unwrap();
        std::fs::write(dir.path().join("client.key"), key).unwrap();
        std::fs::write(dir.path().join("other.key"), other_key).unwrap();
        dir
    }

    #[test]
    fn the_defaults_are_mozillas_roots_tls_1_2_up_and_no_client_certificate() {
        let dir = files();
        let config = parse_in(dir.path(), "http://x/", "").unwrap();
        assert_eq!(
            config.tls.root_count(),
            webpki_roots::TLS_SERVER_ROOTS.len()
        );
        assert_eq!(config.tls.min_version(), MinTlsVersion::Tls12);
        assert!(!config.tls.presents_certificate());
    }

    #[test]
    fn every_tls_key_is_accepted() {
        let dir = files();
        let config = parse_in(
            dir.path(),
            "https://x/",
            "ca_file = \"ca.pem\"\ncert_file = \"client.pem\"\nkey_file = \"client.key\"\n\
             min_version = \"1.3\"\nroots = \"both\"\nhttps_only = true",
        )
        .unwrap();
        assert_eq!(config.tls.min_version(), MinTlsVersion::Tls13);
        assert!(config.tls.presents_certificate());
        assert!(config.tls.root_count() > webpki_roots::TLS_SERVER_ROOTS.len() + 1);
        let debug = format!("{config:?}");
        assert!(debug.contains("presents_certificate: true"), "{debug}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        let number = parse_in(dir.path(), "https://x/", "min_version = 1.2").unwrap();
        assert_eq!(number.tls.min_version(), MinTlsVersion::Tls12);
    }

    /// Debian's ca-certificates (`/etc/ssl/certs`), read through rustls-native-certs.
    #[test]
    fn roots_system_loads_the_operating_systems_store_and_only_it() {
        let dir = files();
        let system = parse_in(dir.path(), "https://x/", "roots = \"system\"").unwrap();
        assert!(system.tls.root_count() > 0);
        let with_ca = parse_in(
            dir.path(),
            "https://x/",
            "roots = \"system\"\nca_file = \"ca.pem\"",
        )
        .unwrap();
        assert_eq!(with_ca.tls.root_count(), system.tls.root_count() + 1);
        let both = parse_in(dir.path(), "https://x/", "roots = \"both\"").unwrap();
        assert_eq!(
            both.tls.root_count(),
            system.tls.root_count() + webpki_roots::TLS_SERVER_ROOTS.len()
        );
    }

    #[test]
    fn tls_refusals_name_their_key() {
        let dir = files();
        let cases = [
            (
                "https://x/",
                "cert_file = \"client.pem\"",
                "tls.key_file",
                "without its private key",
            ),
            (
                "https://x/",
                "key_file = \"client.key\"",
                "tls.cert_file",
                "without its certificate",
            ),
            (
                "https://x/",
                "cert_file = \"client.pem\"\nkey_file = \"other.key\"",
                "tls.key_file",
                "is not the private key of the certificate",
            ),
            (
                "https://x/",
                "cert_file = \"client.pem\"\nkey_file = \"client.pem\"",
                "tls.key_file",
                "holds no PEM private key",
            ),
            (
                "https://x/",
                "cert_file = \"client.key\"\nkey_file = \"client.key\"",
                "tls.cert_file",
                "holds no PEM CERTIFICATE",
            ),
            (
                "https://x/",
                "cert_file = \"missing.pem\"\nkey_file = \"client.key\"",
                "tls.cert_file",
                "cannot read",
            ),
            (
                "https://x/",
                "cert_file = \"client.pem\"\nkey_file = \"missing.key\"",
                "tls.key_file",
                "cannot read",
            ),
            (
                "https://x/",
                "min_version = \"1.1\"",
                "tls.min_version",
                "neither",
            ),
            (
                "https://x/",
                "min_version = 1.0",
                "tls.min_version",
                "neither",
            ),
            ("https://x/", "roots = \"windows\"", "tls.roots", "none of"),
            (
                "http://x/?token=s3cret",
                "https_only = true",
                "url",
                "https_only",
            ),
            (
                "https://x/",
                "https_only = \"yes\"",
                "tls.https_only",
                "boolean",
            ),
            (
                "https://x/",
                "client_cert = \"client.pem\"",
                "tls.client_cert",
                "unknown field",
            ),
        ];
        for (url, tls, key, words) in cases {
            let error = parse_in(dir.path(), url, tls).unwrap_err();
            assert_eq!(error.path, key, "{tls}: {error}");
            assert!(error.message.contains(words), "{tls}: {error}");
            assert!(!error.message.contains("s3cret"), "{tls}: {error}");
        }
    }
}
