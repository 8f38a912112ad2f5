//! TLS (feature `tls`): a server's certificate and key, loaded once before
//! any listener is bound, and each connection's handshake, bounded.
//!
//! rustls with the `ring` provider (or `aws-lc-rs`, with the
//! `tls-aws-lc-rs` feature), given to each server's config explicitly
//! (`ServerConfig::builder_with_provider`): nothing is installed as the
//! process's default provider, so an app that uses another provider
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
//!
//! - this module: [`Tls`] as the user gives it, and the handshake;
//! - `files`: a certificate chain and key read from PEM and checked (the key
//!   fits, the certificate is valid now);
//! - `reload`: the certificate renewed while serving (a lock-free resolver,
//!   and the watch of the files).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::Relaxed;

mod files;
mod reload;

use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::AbortOnDropHandle;

use files::PemFiles;
use reload::{Resolver, Watch};

use crate::config::{TlsFiles, TlsLimits};
use crate::error::Error;
use crate::serve::accounts::ServerShared;
use crate::serve::listen::Stream;

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
    /// no ALPN protocol, `h2` and `http/1.1` are offered. Its certificates
    /// are its own to renew (a `ResolvesServerCert` of yours): no file is
    /// watched.
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

    /// The acceptor of server `server`, its files read now, and what
    /// watches them for a renewal.
    pub(crate) fn load(&self, server: &str) -> Result<(TlsAcceptor, Option<Watch>), Error> {
        let (config, watch) = match &self.source {
            Source::Files { cert, key } => {
                let files = PemFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                };
                let provider = files::provider();
                let resolver = Arc::new(Resolver::new(files.load(server, &provider)?));
                let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
                    .with_safe_default_protocol_versions()
                    .map_err(|err| Error::Tls {
                        server: server.to_owned(),
                        file: None,
                        reason: err.to_string(),
                    })?
                    .with_no_client_auth()
                    .with_cert_resolver(
                        Arc::clone(&resolver) as Arc<dyn rustls::server::ResolvesServerCert>
                    );
                config.alpn_protocols = alpn();
                let watch = Watch::new(server.to_owned(), files, resolver, provider);
                (Arc::new(config), Some(watch))
            }
            Source::Config(config) if config.alpn_protocols.is_empty() => {
                let mut config = ServerConfig::clone(config);
                config.alpn_protocols = alpn();
                (Arc::new(config), None)
            }
            Source::Config(config) => (Arc::clone(config), None),
        };
        Ok((TlsAcceptor::from(config), watch))
    }
}

/// What the server speaks, most preferred first.
fn alpn() -> Vec<Vec<u8>> {
    vec![b"h2".to_vec(), b"http/1.1".to_vec()]
}

/// The TLS of `server`, if it has one, its files read now: the files the
/// environment names (`from_env`) win over what the code gave.
pub(crate) fn server_tls(
    server: &str,
    given: Option<&Tls>,
    from_env: Option<&TlsFiles>,
    limits: TlsLimits,
) -> Result<Option<TlsServer>, Error> {
    let from_env = from_env.map(|files| Tls::from_pem_files(&files.cert, &files.key));
    from_env
        .as_ref()
        .or(given)
        .map(|tls| {
            let (acceptor, watch) = tls.load(server)?;
            Ok(TlsServer {
                acceptor,
                limits,
                under_way: AtomicU32::new(0),
                watch,
            })
        })
        .transpose()
}

/// Starts watching the server's certificate files, if it serves them; the
/// watch ends when the returned handle is dropped (with the accept loop).
pub(crate) fn start_watching(
    tls: &mut Option<TlsServer>,
    server: &ServerShared,
) -> Option<AbortOnDropHandle<()>> {
    let watch = tls.as_mut()?.watch.take()?;
    let asks = server.reloads.follow();
    Some(AbortOnDropHandle::new(tokio::spawn(watch.run(asks))))
}

/// A TLS server's acceptor, the bounds of its handshakes and how many are
/// under way, and the watch of its files (taken by the accept loop).
pub(crate) struct TlsServer {
    acceptor: TlsAcceptor,
    limits: TlsLimits,
    under_way: AtomicU32,
    watch: Option<Watch>,
}

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServer")
            .field("limits", &self.limits)
            .field("under_way", &self.under_way)
            .finish_non_exhaustive()
    }
}

/// A handshake's place among those under way, given back when dropped.
struct Place<'a>(&'a AtomicU32);

impl<'a> Place<'a> {
    /// A place, if fewer than `max` handshakes are under way.
    fn take(under_way: &'a AtomicU32, max: u32) -> Option<Place<'a>> {
        under_way
            .fetch_update(Relaxed, Relaxed, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| Place(under_way))
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// Completes the handshake of an accepted connection: within the handshake
/// timeout, and, once the shutdown has begun, within the header grace; at
/// once closed instead if the server carries its most handshakes already.
/// `None` if it was shed, failed, timed out or was cut (counted on the
/// server's books).
pub(crate) async fn handshake(
    tls: &TlsServer,
    stream: Stream,
    server: &ServerShared,
) -> Option<Stream> {
    let Some(_place) = Place::take(&tls.under_way, tls.limits.max_handshakes) else {
        server.stats.tls_handshakes_shed.fetch_add(1, Relaxed);
        tracing::debug!(server = %server.name, max = tls.limits.max_handshakes, "closing a connection at once: the most TLS handshakes are under way");
        return None;
    };
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
        () = tokio::time::sleep(tls.limits.handshake_timeout) => {
            server.stats.tls_handshake_timeouts.fetch_add(1, Relaxed);
            tracing::debug!(server = %server.name, timeout = ?tls.limits.handshake_timeout, "closing a connection whose TLS handshake did not finish in time");
            None
        }
        () = cut => {
            server.stats.tls_handshake_timeouts.fetch_add(1, Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The provider given explicitly is the one the features choose: ring,
    /// or aws-lc-rs with `tls-aws-lc-rs`.
    #[test]
    fn the_provider_is_the_one_the_features_choose() {
        let key_provider = format!("{:?}", files::provider().key_provider);
        let expected = if cfg!(feature = "tls-aws-lc-rs") {
            "AwsLcRs"
        } else {
            "Ring"
        };
        assert_eq!(key_provider, expected);
    }

    /// A handshake in memory with the acceptor of PEM files: ALPN `h2`, and
    /// the server's certificate.
    #[tokio::test]
    async fn files_make_an_acceptor_a_rustls_client_shakes_hands_with() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = std::env::temp_dir().join(format!("graceful-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory");
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("a certificate");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).expect("written");
        std::fs::write(&key, made.signing_key.serialize_pem()).expect("written");
        let (acceptor, _watch) = Tls::from_pem_files(&cert, &key)
            .load("api")
            .expect("the files load");

        let mut roots = rustls::RootCertStore::empty();
        roots.add(made.cert.der().clone()).expect("a root");
        let mut client = rustls::ClientConfig::builder_with_provider(files::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = vec![b"h2".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let (near, far) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move {
            let mut stream = acceptor.accept(far).await.expect("accepted");
            stream.write_all(b"hello").await.expect("written");
            stream.shutdown().await.expect("close_notify");
        });
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
        let mut stream = connector.connect(name, near).await.expect("connected");
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let mut text = String::new();
        stream.read_to_string(&mut text).await.expect("a clean end");
        assert_eq!(text, "hello");
        server.await.expect("the server");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
