//! The default `tracing` subscriber, for apps that install none.
//!
//! Human-readable on standard error (colored on a terminal), or one JSON
//! object a line with `GRACEFUL_LOG_FORMAT=json`; filtered by `RUST_LOG`
//! (default `info`), as every `tracing` app is.
//!
//! With `#[graceful::main]`, the body runs first and may install its own
//! subscriber; until it does, its events go to this one (as the thread's
//! default while the body is polled), and once the body is over this one
//! becomes the global default unless the body installed another. So errors
//! found after the body (a malformed setting) go through the app's own
//! subscriber, and no plain-text line reaches a JSON log shipper.

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

use crate::config::ENV_LOG_FORMAT;

/// The default subscriber, built once.
fn default_dispatch() -> &'static Dispatch {
    static DEFAULT: OnceLock<Dispatch> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        let filter = EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .from_env_lossy();
        let format = std::env::var(ENV_LOG_FORMAT).unwrap_or_default();
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false);
        if format.eq_ignore_ascii_case("json") {
            Dispatch::new(builder.json().flatten_event(true).finish())
        } else {
            let dispatch = Dispatch::new(
                builder
                    .with_ansi(std::io::stderr().is_terminal())
                    .finish(),
            );
            if !format.is_empty() && !format.eq_ignore_ascii_case("text") {
                tracing::dispatcher::with_default(&dispatch, || {
                    tracing::warn!(
                        "{ENV_LOG_FORMAT}={format:?} is not a log format: write \"text\" or \"json\"; using text"
                    );
                });
            }
            dispatch
        }
    })
}

/// Installs the default subscriber globally, unless one is set.
pub(crate) fn install_default() {
    // Fails, harmlessly, if the app installed its own.
    let _ = tracing::dispatcher::set_global_default(default_dispatch().clone());
}

/// Whether a subscriber is installed (this thread's scoped default aside:
/// called where none is in scope).
fn installed() -> bool {
    tracing::dispatcher::get_default(|current| !current.is::<tracing::subscriber::NoSubscriber>())
}

/// Runs `f` with the default subscriber as this thread's default, unless a
/// global one is set: the events of `main`'s body, before it installs its
/// own subscriber (if it does), are not lost.
pub(crate) fn until_installed<T>(f: impl FnOnce() -> T) -> T {
    if installed() {
        f()
    } else {
        tracing::dispatcher::with_default(default_dispatch(), f)
    }
}
