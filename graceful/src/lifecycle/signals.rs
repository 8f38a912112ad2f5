//! The operating-system signals that start and force the shutdown.
//!
//! By default `SIGTERM` (Kubernetes, systemd, `kill`), `SIGINT` (Ctrl-C),
//! `SIGQUIT` and `SIGHUP` start the graceful shutdown; a second one forces an
//! immediate exit. Hand-written shutdown code often lists `SIGKILL` and `SIGSTOP` too: those two can
//! never be caught. The kernel acts on them itself, without ever delivering
//! them to the process (`sigaction` refuses them with `EINVAL`), which is
//! exactly why an orchestrator sends `SIGTERM` first and `SIGKILL` only after a
//! grace period. [`Signal`] therefore has no variant for them.

pub use graceful_values::Signal;

/// The installed signal handlers: one self-pipe per signal, written once for
/// every delivery, so that two signals sent back to back count as two. The
/// sentinel thread reads them; nothing here needs the runtime.
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
                let id = signal_hook::low_level::pipe::register(raw(signal)? as i32, write)?;
                Ok(Pipe { signal, read, id })
            })();
            pipes
                .pipes
                .push(installed.map_err(|source| (signal, source))?);
            set.add(raw(signal).map_err(|source| (signal, source))?);
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

/// The signal's number, for the operating system, found by its name.
#[cfg(unix)]
fn raw(signal: Signal) -> std::io::Result<nix::sys::signal::Signal> {
    signal.name().parse().map_err(std::io::Error::from)
}
