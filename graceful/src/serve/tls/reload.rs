//! Certificates renewed while serving. The server's config resolves its
//! certificate through [`Resolver`], which holds the current pair behind an
//! atomic swap (a handshake loads it without a lock). [`Watch`] looks at the
//! files every [`POLL`], following symlinks, so that a directory swapped as
//! Kubernetes and cert-manager do it (`..data`) is seen like a file
//! replaced; a new pair that loads replaces the old for new handshakes,
//! while open connections keep theirs; one that does not load (half
//! written, mismatched, expired) is logged and the old one kept.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::files::PemFiles;

/// How often the files are looked at.
pub(crate) const POLL: Duration = Duration::from_secs(1);

/// The current certificate of one server.
#[derive(Debug)]
pub(crate) struct Resolver {
    current: ArcSwap<CertifiedKey>,
}

impl Resolver {
    pub(crate) fn new(key: CertifiedKey) -> Self {
        Resolver {
            current: ArcSwap::from_pointee(key),
        }
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// What the files look like: when each was modified, and its length and
/// inode (a file replaced keeps neither).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Stamp {
    cert: Option<(SystemTime, u64, u64)>,
    key: Option<(SystemTime, u64, u64)>,
}

fn look(path: &std::path::Path) -> Option<(SystemTime, u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok()?, meta.len(), inode))
}

impl Stamp {
    fn of(files: &PemFiles) -> Stamp {
        Stamp {
            cert: look(&files.cert),
            key: look(&files.key),
        }
    }
}

/// Watches one server's files and swaps its certificate when they change.
#[derive(Debug)]
pub(crate) struct Watch {
    pub(crate) server: String,
    pub(crate) files: PemFiles,
    pub(crate) resolver: Arc<Resolver>,
    pub(crate) provider: Arc<CryptoProvider>,
    seen: Stamp,
}

impl Watch {
    /// Watches `files`, as they are now.
    pub(crate) fn new(
        server: String,
        files: PemFiles,
        resolver: Arc<Resolver>,
        provider: Arc<CryptoProvider>,
    ) -> Self {
        let seen = Stamp::of(&files);
        Watch {
            server,
            files,
            resolver,
            provider,
            seen,
        }
    }

    /// Looks every [`POLL`], and at each ask of `asks` (whatever the files
    /// look like), until dropped (with the accept loop).
    pub(crate) async fn run(mut self, mut asks: tokio::sync::watch::Receiver<u64>) {
        let mut ticks = tokio::time::interval(POLL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let asked = tokio::select! {
                _ = ticks.tick() => false,
                changed = asks.changed() => changed.is_ok(),
            };
            let files = self.files.clone();
            let (server, provider) = (self.server.clone(), Arc::clone(&self.provider));
            let seen = self.seen;
            // The files are read off the runtime: a slow disk holds no worker.
            let looked = tokio::task::spawn_blocking(move || {
                let now = Stamp::of(&files);
                (asked || now != seen).then(|| (now, files.load(&server, &provider)))
            })
            .await;
            let Ok(Some((stamp, loaded))) = looked else {
                continue;
            };
            self.seen = stamp;
            match loaded {
                Ok(key) => {
                    self.resolver.current.store(Arc::new(key));
                    tracing::info!(server = %self.server, tls_certificate = "reloaded", asked, "TLS certificate reloaded: new handshakes use it");
                }
                Err(err) => {
                    tracing::warn!(server = %self.server, tls_certificate = "reload-failed", error = %err, "the new TLS certificate was not loaded; the one before stays");
                }
            }
        }
    }
}
