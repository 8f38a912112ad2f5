//! The operating-system signals that start and force the shutdown.
//!
//! By default `SIGTERM` (Kubernetes, systemd, `kill`), `SIGINT` (Ctrl-C),
//! `SIGQUIT` and `SIGHUP` start the graceful shutdown; a second one forces an
//! immediate exit. The seed also lists `SIGKILL` and `SIGSTOP`: those two can
//! never be caught. The kernel acts on them itself, without ever delivering
//! them to the process (`sigaction` refuses them with `EINVAL`), which is
//! exactly why an orchestrator sends `SIGTERM` first and `SIGKILL` only after a
//! grace period. [`Signal`] therefore has no variant for them.

use std::fmt;
use std::future::{Future, poll_fn};
use std::str::FromStr;
use std::task::Poll;

use crate::error::Error;

/// A signal that can start the shutdown.
///
/// ```
/// use graceful::Signal;
///
/// let signal: Signal = "SIGTERM".parse().unwrap();
/// assert_eq!(signal, Signal::Term);
/// assert_eq!("term".parse::<Signal>().unwrap(), Signal::Term);
/// assert_eq!(signal.to_string(), "SIGTERM");
/// assert!("KILL".parse::<Signal>().is_err()); // can never be caught
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// `SIGTERM`: the polite request to stop (Kubernetes, systemd, `kill`).
    Term,
    /// `SIGINT`: Ctrl-C in a terminal.
    Int,
    /// `SIGQUIT`: Ctrl-\ in a terminal.
    Quit,
    /// `SIGHUP`: the controlling terminal went away.
    Hup,
    /// `SIGUSR1`.
    Usr1,
    /// `SIGUSR2`.
    Usr2,
}

impl Signal {
    /// The signals that start the shutdown unless configured otherwise.
    pub const DEFAULT: [Signal; 4] = [Signal::Term, Signal::Int, Signal::Quit, Signal::Hup];

    /// The conventional name, such as `"SIGTERM"`.
    ///
    /// ```
    /// assert_eq!(graceful::Signal::Hup.name(), "SIGHUP");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Signal::Term => "SIGTERM",
            Signal::Int => "SIGINT",
            Signal::Quit => "SIGQUIT",
            Signal::Hup => "SIGHUP",
            Signal::Usr1 => "SIGUSR1",
            Signal::Usr2 => "SIGUSR2",
        }
    }

    #[cfg(unix)]
    fn kind(self) -> tokio::signal::unix::SignalKind {
        use tokio::signal::unix::SignalKind;
        match self {
            Signal::Term => SignalKind::terminate(),
            Signal::Int => SignalKind::interrupt(),
            Signal::Quit => SignalKind::quit(),
            Signal::Hup => SignalKind::hangup(),
            Signal::Usr1 => SignalKind::user_defined1(),
            Signal::Usr2 => SignalKind::user_defined2(),
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Signal {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let upper = text.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        Ok(match bare {
            "TERM" => Signal::Term,
            "INT" => Signal::Int,
            "QUIT" => Signal::Quit,
            "HUP" => Signal::Hup,
            "USR1" => Signal::Usr1,
            "USR2" => Signal::Usr2,
            "KILL" | "STOP" => {
                return Err(format!(
                    "SIG{bare} can never be caught: the kernel acts on it without telling the process"
                ));
            }
            _ => {
                return Err(format!(
                    "unknown signal {text:?}; expected one of TERM, INT, QUIT, HUP, USR1, USR2"
                ));
            }
        })
    }
}

/// The installed signal handlers. Installed before the first bind, so that a
/// signal during start-up is received, not acted on by the default handler.
pub(crate) struct Signals {
    #[cfg(unix)]
    streams: Vec<(Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Installs a handler for each signal.
    pub(crate) fn install(signals: &[Signal]) -> Result<Self, Error> {
        #[cfg(unix)]
        {
            let mut streams = Vec::with_capacity(signals.len());
            for &signal in signals {
                let stream = tokio::signal::unix::signal(signal.kind())
                    .map_err(|source| Error::Signal { signal, source })?;
                streams.push((signal, stream));
            }
            Ok(Signals { streams })
        }
        #[cfg(not(unix))]
        {
            let _ = signals;
            Ok(Signals {})
        }
    }

    /// A signal already received, if any, without waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Signal> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::pin::pin!(self.recv()).poll(&mut cx) {
            Poll::Ready(signal) => Some(signal),
            Poll::Pending => None,
        }
    }

    /// Waits for the next signal.
    pub(crate) async fn recv(&mut self) -> Signal {
        #[cfg(unix)]
        {
            poll_fn(|cx| {
                for (signal, stream) in &mut self.streams {
                    if let Poll::Ready(Some(())) = stream.poll_recv(cx) {
                        return Poll::Ready(*signal);
                    }
                }
                Poll::Pending
            })
            .await
        }
        #[cfg(not(unix))]
        {
            // Only Ctrl-C exists off Unix.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            Signal::Int
        }
    }
}
