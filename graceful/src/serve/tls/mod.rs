//! TLS (feature `tls`): a server's certificate and key, loaded once before
//! any listener is bound, and each connection's handshake, bounded.
//!
//! rustls with the `ring` provider, given to each server's config
//! explicitly (`ServerConfig::builder_with_provider`): nothing is installed
//! as the process's default provider, so an app that uses another provider
//! elsewhere keeps it. `ring` builds with a C compiler alone, which keeps
//! the feature's first build light. PEM is read with `rustls-pki-types`.
//!
//! ALPN offers what the server speaks, `h2` then `http/1.1`, so that
//! HTTP/2 negotiates over TLS and gets the same GOAWAY drain as cleartext.
//! A handshake is bounded by `tls_handshake_timeout` from the accept, and
//! one still under way once the shutdown begins is cut within the header
//! grace: a silent client can neither hold a connection nor the drain.
//! The stream closes with `close_notify` (tokio-rustls sends it on
//! shutdown, before the FIN).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;
use crate::error::Error;
use crate::serve::accounts::ServerShared;
use crate::serve::listen::Stream;
use crate::serve::server::Server;

/// A server's TLS: a certificate chain and its key from PEM files, or a
/// `rustls::ServerConfig` of your own (client certificates, a custom
/// resolver). Given to [`Server::tls`](crate::Server::tls). Needs the `tls`
/// feature.
///
/// ```no_run
/// let tls = graceful::Tls::from_pem_files("/etc/tls/tls.crt", "/etc/tls/tls.key");
/// # drop(tls);
/// ```
#[derive(Clone)]
pub struct Tls {
    source: Source,
}

#[derive(Clone)]
enum Source {
    Files { cert: PathBuf, key: PathBuf },
    Config(Arc<ServerConfig>),
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Files { cert, key } => f
                .debug_struct("Tls")
                .field("cert", cert)
                .field("key", key)
                .finish(),
            Source::Config(_) => f.debug_struct("Tls").finish_non_exhaustive(),
        }
    }
}

impl Tls {
    /// The certificate chain in `cert` (PEM, the server's certificate first)
    /// and its private key in `key` (PEM: PKCS#8, PKCS#1 or SEC1), read when
    /// the app starts. A file that is missing, unreadable, holds no
    /// certificate or no key, a key that does not match the certificate, or
    /// a certificate that is not valid now, is a start-up error naming the
    /// server and the file (exit code 2). The certificate's end is logged,
    /// as a warning when fewer than 7 days are left.
    ///
    /// ```no_run
    /// let tls = graceful::Tls::from_pem_files("tls.crt", "tls.key");
    /// # drop(tls);
    /// ```
    pub fn from_pem_files(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Tls {
        Tls {
            source: Source::Files {
                cert: cert.into(),
                key: key.into(),
            },
        }
    }

    /// A `rustls::ServerConfig` built in code, used as it is; if it offers
    /// no ALPN protocol, `h2` and `http/1.1` are offered.
    ///
    /// ```no_run
    /// # fn config() -> std::sync::Arc<rustls::ServerConfig> { unimplemented!() }
    /// let tls = graceful::Tls::from_config(config());
    /// # drop(tls);
    /// ```
    pub fn from_config(config: Arc<ServerConfig>) -> Tls {
        Tls {
            source: Source::Config(config),
        }
    }

    /// The acceptor of server `server`, its files read now.
    pub(crate) fn acceptor(&self, server: &str) -> Result<TlsAcceptor, Error> {
        let config = match &self.source {
            Source::Files { cert, key } => Arc::new(from_files(server, cert, key)?),
            Source::Config(config) if config.alpn_protocols.is_empty() => {
                let mut config = ServerConfig::clone(config);
                config.alpn_protocols = alpn();
                Arc::new(config)
            }
            Source::Config(config) => Arc::clone(config),
        };
        Ok(TlsAcceptor::from(config))
    }
}

/// What the server speaks, most preferred first.
fn alpn() -> Vec<Vec<u8>> {
    vec![b"h2".to_vec(), b"http/1.1".to_vec()]
}

fn from_files(server: &str, cert: &PathBuf, key: &PathBuf) -> Result<ServerConfig, Error> {
    let fail = |file: &PathBuf, reason: String| Error::Tls {
        server: server.to_owned(),
        file: Some(file.clone()),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| fail(cert, err.to_string()))?;
    let Some(first) = chain.first() else {
        return Err(fail(cert, "no certificate in the file".to_owned()));
    };
    check_validity(server, first).map_err(|reason| fail(cert, reason))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|err| fail(key, err.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| fail(cert, err.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|err| fail(key, format!("the key does not fit the certificate: {err}")))?;
    config.alpn_protocols = alpn();
    Ok(config)
}

/// The TLS of `server`, if it has one, its files read now: the files the
/// environment names (`from_env`) win over what the code gave.
pub(crate) fn server_tls(
    server: &Server,
    from_env: Option<&TlsFiles>,
    handshake_timeout: Duration,
) -> Result<Option<TlsServer>, Error> {
    let from_env = from_env.map(|files| Tls::from_pem_files(&files.cert, &files.key));
    from_env
        .as_ref()
        .or(server.tls.as_ref())
        .map(|tls| {
            Ok(TlsServer {
                acceptor: tls.acceptor(&server.name)?,
                handshake_timeout,
            })
        })
        .transpose()
}

/// Fewer days than this left on a certificate, and the start warns.
const EXPIRY_WARNING: Duration = Duration::from_secs(7 * 24 * 3600);

/// Refuses a certificate that is not valid now; logs when it ends, with a
/// warning when that is near.
fn check_validity(server: &str, cert: &CertificateDer<'_>) -> Result<(), String> {
    use x509_cert::der::Decode;
    let parsed = x509_cert::Certificate::from_der(cert.as_ref())
        .map_err(|err| format!("not an X.509 certificate: {err}"))?;
    let validity = &parsed.tbs_certificate.validity;
    let now = std::time::SystemTime::now();
    if now < validity.not_before.to_system_time() {
        return Err(format!(
            "the certificate is not valid before {}",
            validity.not_before
        ));
    }
    let Ok(left) = validity.not_after.to_system_time().duration_since(now) else {
        return Err(format!("the certificate expired at {}", validity.not_after));
    };
    let days = left.as_secs() / (24 * 3600);
    if left < EXPIRY_WARNING {
        tracing::warn!(server, expires = %validity.not_after, expires_in_days = days, tls_certificate = "expiring", "the TLS certificate expires soon");
    } else {
        tracing::info!(server, expires = %validity.not_after, expires_in_days = days, tls_certificate = "valid", "TLS certificate");
    }
    Ok(())
}

/// A TLS server's acceptor and handshake deadline.
#[derive(Clone)]
pub(crate) struct TlsServer {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) handshake_timeout: Duration,
}

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServer")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// Completes the handshake of an accepted connection: within the handshake
/// timeout, and, once the shutdown has begun, within the header grace.
/// `None` if it failed, timed out or was cut (counted on the server's books).
pub(crate) async fn handshake(
    tls: &TlsServer,
    stream: Stream,
    server: &ServerShared,
) -> Option<Stream> {
    let lifecycle = &*server.lifecycle;
    let cut = async {
        lifecycle.begun().await;
        tokio::time::sleep(server.header_grace).await;
    };
    tokio::select! {
        accepted = tls.acceptor.accept(stream) => match accepted {
            Ok(stream) => Some(Stream::Tls(Box::new(stream))),
            Err(err) => {
                server.stats.tls_handshakes_failed.fetch_add(1, Relaxed);
                tracing::debug!(server = %server.name, error = %err, "TLS handshake failed");
                None
            }
        },
        () = tokio::time::sleep(tls.handshake_timeout) => {
            server.stats.tls_handshake_timeouts.fetch_add(1, Relaxed);
            tracing::debug!(server = %server.name, timeout = ?tls.handshake_timeout, "closing a connection whose TLS handshake did not finish in time");
            None
        }
        () = cut => {
            server.stats.tls_handshake_timeouts.fetch_add(1, Relaxed);
            None
        }
    }
}
