//! The operating-system signals that start and force the shutdown.
//!
//! By default `SIGTERM` (Kubernetes, systemd, `kill`), `SIGINT` (Ctrl-C),
//! `SIGQUIT` and `SIGHUP` start the graceful shutdown; a second one forces an
//! immediate exit. Hand-written shutdown code often lists `SIGKILL` and `SIGSTOP` too: those two can
//! never be caught. The kernel acts on them itself, without ever delivering
//! them to the process (`sigaction` refuses them with `EINVAL`), which is
//! exactly why an orchestrator sends `SIGTERM` first and `SIGKILL` only after a
//! grace period. [`Signal`] therefore has no variant for them.

use std::fmt;
use std::str::FromStr;

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

/// The installed signal handlers: one self-pipe per signal, written once for
/// every delivery, so that two signals sent back to back count as two. The
/// watchdog thread reads them; nothing here needs the runtime.
#[cfg(unix)]
pub(crate) struct SignalPipes {
    pipes: Vec<Pipe>,
}

#[cfg(unix)]
struct Pipe {
    signal: Signal,
    read: std::os::unix::net::UnixStream,
    id: signal_hook::SigId,
}

#[cfg(unix)]
impl SignalPipes {
    /// Installs a handler for each signal, then unblocks them in this thread
    /// (a parent may have started the process with them blocked; a signal
    /// that arrived meanwhile is delivered now, to the handler).
    pub(crate) fn install(signals: &[Signal]) -> Result<Self, (Signal, std::io::Error)> {
        use nix::sys::signal::{SigSet, SigmaskHow, pthread_sigmask};
        let mut pipes = SignalPipes {
            pipes: Vec::with_capacity(signals.len()),
        };
        let mut set = SigSet::empty();
        for &signal in signals {
            let installed = (|| {
                let (read, write) = std::os::unix::net::UnixStream::pair()?;
                read.set_nonblocking(true)?;
                let id = signal_hook::low_level::pipe::register(signal.raw() as i32, write)?;
                Ok(Pipe { signal, read, id })
            })();
            pipes
                .pipes
                .push(installed.map_err(|source| (signal, source))?);
            set.add(signal.raw());
        }
        pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None)
            .map_err(|errno| (signals[0], errno.into()))?;
        Ok(pipes)
    }

    /// The pipes' read ends, to wait on.
    pub(crate) fn fds(&self) -> impl Iterator<Item = std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.pipes.iter().map(|pipe| pipe.read.as_fd())
    }

    /// Every delivery since the last call, one entry each, without waiting.
    pub(crate) fn take(&mut self) -> Vec<Signal> {
        use std::io::Read;
        let mut delivered = Vec::new();
        for pipe in &mut self.pipes {
            let mut buf = [0u8; 16];
            while let Ok(n @ 1..) = pipe.read.read(&mut buf) {
                delivered.extend(std::iter::repeat_n(pipe.signal, n));
            }
        }
        delivered
    }
}

#[cfg(unix)]
impl Drop for SignalPipes {
    fn drop(&mut self) {
        for pipe in &self.pipes {
            signal_hook::low_level::unregister(pipe.id);
        }
    }
}

#[cfg(unix)]
impl Signal {
    fn raw(self) -> nix::sys::signal::Signal {
        use nix::sys::signal::Signal as Raw;
        match self {
            Signal::Term => Raw::SIGTERM,
            Signal::Int => Raw::SIGINT,
            Signal::Quit => Raw::SIGQUIT,
            Signal::Hup => Raw::SIGHUP,
            Signal::Usr1 => Raw::SIGUSR1,
            Signal::Usr2 => Raw::SIGUSR2,
        }
    }
}
