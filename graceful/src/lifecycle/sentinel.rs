//! The sentinel: an OS thread that owns the signals and the global deadline.
//!
//! The runtime cannot enforce its own deadline: a handler that blocks its
//! worker thread (a synchronous driver, `std::thread::sleep`) can stall every
//! task, the deadline's timer included. So the signals are read, counted and
//! acted on here, on a thread of our own, and so is `shutdown_timeout`:
//!
//! - the first signal begins the shutdown (the lifecycle's tokens wake the
//!   runtime); every later delivery, however close behind, forces the exit,
//!   but for the first after a handover to a successor, which finds the
//!   process shutting down gracefully already (a service manager stopping
//!   the service signals the old and the new process at once);
//! - the global deadline counts from the moment the first trigger arrived,
//!   not from when the runtime got round to it;
//! - a forced exit asks the runtime for its report; if the runtime does not
//!   answer within [`RUNTIME_ANSWER`] and the process is ours (`run_blocking`,
//!   `#[graceful::main]`), the sentinel logs what it can read without the
//!   runtime (counters are atomics) and exits with code 1 itself.

use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::exit_code;
use crate::lifecycle::exit::exit_process;
use crate::lifecycle::handle::ShutdownHandle;
use crate::lifecycle::signals::Signal;
use crate::lifecycle::{ForcedBy, Lifecycle, RestartAsk, RestartAsks, Trigger, Triggered};

/// How long a forced exit waits for the runtime's report before the
/// sentinel exits on its own.
pub(crate) const RUNTIME_ANSWER: Duration = Duration::from_millis(500);

/// The running sentinel. Dropping it stops the thread and removes the
/// signal handlers.
#[derive(Debug)]
pub(crate) struct Sentinel {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    lifecycle: Arc<Lifecycle>,
    /// Where a restart signal asks for a restart.
    restarts: Arc<RestartAsks>,
    state: Mutex<State>,
    wake: wake::Sender,
}

#[derive(Debug, Default)]
struct State {
    /// Set once the app knows its settings: the deadline is armed.
    shutdown_timeout: Option<Duration>,
    /// What a forced exit reports.
    books: Option<Arc<dyn ForcedReport>>,
    /// Whether the sentinel may end the process itself.
    owns_process: bool,
    /// The runtime finished: stop watching.
    stopped: bool,
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake.wake();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake.wake();
    }
}

impl Sentinel {
    /// Installs the signal handlers and starts the thread. A signal already
    /// pending (delivered as the handlers are installed) is acted on before
    /// this returns.
    pub(crate) fn start(
        signals: &[Signal],
        restart: &[Signal],
        handle: &ShutdownHandle,
    ) -> Result<Self, Error> {
        let lifecycle = handle.lifecycle();
        // The restart signals too, installed now so that none kills the
        // process (their default action). One that also starts the shutdown
        // does that (and the start reports the contradiction).
        let restart: Vec<Signal> = restart
            .iter()
            .copied()
            .filter(|signal| !signals.contains(signal))
            .collect();
        #[cfg(unix)]
        let mut pipes =
            crate::lifecycle::signals::SignalPipes::install(&[signals, &restart].concat())
                .map_err(|(signal, source)| Error::Signal { signal, source })?;
        #[cfg(not(unix))]
        let _ = signals;
        let (sender, receiver) = wake::channel().map_err(Error::Sentinel)?;
        let shared = Arc::new(Shared {
            lifecycle: Arc::clone(lifecycle),
            restarts: Arc::clone(handle.restarts()),
            state: Mutex::new(State::default()),
            wake: sender,
        });
        let mut watch = Watch {
            shared: Arc::clone(&shared),
            restart,
            forced_at: None,
            gave_up: false,
        };
        #[cfg(unix)]
        for signal in pipes.take() {
            watch.on_signal(signal);
        }
        lifecycle.set_sentinel(Waker::from(Arc::clone(&shared)));
        std::thread::Builder::new()
            .name("graceful-sentinel".into())
            .spawn(move || {
                #[cfg(unix)]
                watch.run(&mut pipes, &receiver);
                #[cfg(not(unix))]
                watch.run(&receiver);
            })
            .map_err(Error::Sentinel)?;
        Ok(Sentinel { shared })
    }

    /// Arms the global deadline and gives the sentinel the books a forced
    /// exit reports. `owns_process`: it may exit the process itself.
    pub(crate) fn arm(
        &self,
        shutdown_timeout: Duration,
        books: Arc<dyn ForcedReport>,
        owns_process: bool,
    ) {
        let mut state = self.shared.lock();
        state.shutdown_timeout = Some(shutdown_timeout);
        state.books = Some(books);
        state.owns_process = owns_process;
        drop(state);
        self.shared.wake.wake();
    }

    /// The runtime has its report: the sentinel stands down.
    pub(crate) fn stop(&self) {
        self.shared.lock().stopped = true;
        self.shared.wake.wake();
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The thread's own state.
struct Watch {
    shared: Arc<Shared>,
    /// The signals that ask for a restart.
    restart: Vec<Signal>,
    forced_at: Option<Instant>,
    gave_up: bool,
}

impl Watch {
    #[cfg(unix)]
    fn run(&mut self, pipes: &mut crate::lifecycle::signals::SignalPipes, wake: &wake::Receiver) {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        loop {
            let timeout = match self.next_moment() {
                Some(at) => {
                    let ms = at.saturating_duration_since(Instant::now()).as_millis() + 1;
                    PollTimeout::try_from(ms.min(i32::MAX as u128) as i32)
                        .unwrap_or(PollTimeout::MAX)
                }
                None => PollTimeout::NONE,
            };
            let mut fds: Vec<PollFd<'_>> = pipes
                .fds()
                .chain(std::iter::once(wake.fd()))
                .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
                .collect();
            // EINTR (a signal landed on this thread) is just another wake-up.
            let _ = poll(&mut fds, timeout);
            drop(fds);
            wake.drain();
            if self.shared.lock().stopped {
                return;
            }
            for signal in pipes.take() {
                self.on_signal(signal);
            }
            self.check_moments();
        }
    }

    #[cfg(not(unix))]
    fn run(&mut self, wake: &wake::Receiver) {
        loop {
            wake.wait(self.next_moment());
            if self.shared.lock().stopped {
                return;
            }
            self.check_moments();
        }
    }

    /// The first signal begins the shutdown; any later one forces the exit.
    /// A restart signal asks for a restart.
    fn on_signal(&mut self, signal: Signal) {
        if self.restart.contains(&signal) {
            self.shared.restarts.ask(RestartAsk::Signal(signal));
            return;
        }
        let trigger = Trigger::Signal(signal);
        match self.shared.lifecycle.trigger(trigger.clone()) {
            Triggered::First | Triggered::Recorded => {}
            Triggered::Underway => {
                let began_by = self
                    .shared
                    .lifecycle
                    .first_trigger()
                    .map(|(first, _)| first.to_string());
                tracing::info!(signal = %signal, began_by, "signal during a shutdown that began without one: this process is already shutting down gracefully; another signal forces its exit");
            }
            Triggered::Again => self.force(ForcedBy::Trigger(trigger)),
        }
    }

    fn force(&mut self, by: ForcedBy) {
        if self.shared.lifecycle.force(by) {
            self.forced_at = Some(Instant::now());
        }
    }

    /// The global deadline, if armed and begun.
    fn deadline(&self) -> Option<Instant> {
        let timeout = self.shared.lock().shutdown_timeout?;
        let (_, at) = self.shared.lifecycle.first_trigger()?;
        Some(at.checked_add(timeout).unwrap_or_else(far_future))
    }

    /// When the thread must next look, without a signal.
    fn next_moment(&self) -> Option<Instant> {
        match self.forced_at {
            Some(_) if self.gave_up => None,
            Some(at) => Some(at + RUNTIME_ANSWER),
            None => self.deadline(),
        }
    }

    fn check_moments(&mut self) {
        let now = Instant::now();
        if self.forced_at.is_none() && self.deadline().is_some_and(|d| d <= now) {
            let timeout = self.shared.lock().shutdown_timeout.unwrap_or_default();
            self.force(ForcedBy::Deadline(timeout));
        }
        let Some(forced_at) = self.forced_at else {
            return;
        };
        if self.gave_up || now < forced_at + RUNTIME_ANSWER {
            return;
        }
        self.gave_up = true;
        let (owns_process, books) = {
            let state = self.shared.lock();
            (state.owns_process, state.books.clone())
        };
        let lifecycle = &self.shared.lifecycle;
        let by = lifecycle
            .forced_by()
            .cloned()
            .unwrap_or(ForcedBy::Trigger(Trigger::Handle));
        if !owns_process {
            tracing::error!(forced_by = %by, waited = ?RUNTIME_ANSWER, "the runtime did not answer the forced exit: it is starved by blocking code");
            return;
        }
        tracing::error!(forced_by = %by, waited = ?RUNTIME_ANSWER, "the runtime did not answer the forced exit: the sentinel ends the process");
        if let Some(books) = books {
            books.log_forced(by);
        }
        exit_process(exit_code::FORCED)
    }
}

/// What the sentinel reports when it ends the process itself: the app's
/// books, read without the runtime (from atomics and short-held locks).
pub(crate) trait ForcedReport: Send + Sync + std::fmt::Debug {
    /// Logs what still runs and the report of a forced exit.
    fn log_forced(&self, by: ForcedBy);
}

/// An instant no deadline reaches: a timeout too large to add is no timeout.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

/// Waking the sentinel thread from any thread, without the runtime.
#[cfg(unix)]
mod wake {
    use std::io::{self, Read, Write};
    use std::os::fd::{AsFd, BorrowedFd};
    use std::os::unix::net::UnixStream;

    #[derive(Debug)]
    pub(super) struct Sender(UnixStream);

    #[derive(Debug)]
    pub(super) struct Receiver(UnixStream);

    pub(super) fn channel() -> io::Result<(Sender, Receiver)> {
        let (write, read) = UnixStream::pair()?;
        write.set_nonblocking(true)?;
        read.set_nonblocking(true)?;
        Ok((Sender(write), Receiver(read)))
    }

    impl Sender {
        pub(super) fn wake(&self) {
            // A full pipe already holds a wake-up.
            let _ = (&self.0).write(&[1]);
        }
    }

    impl Receiver {
        pub(super) fn fd(&self) -> BorrowedFd<'_> {
            self.0.as_fd()
        }

        pub(super) fn drain(&self) {
            let mut buf = [0u8; 64];
            while let Ok(1..) = (&self.0).read(&mut buf) {}
        }
    }
}

/// Waking the sentinel thread from any thread, without the runtime.
#[cfg(not(unix))]
mod wake {
    use std::io;
    use std::sync::{Arc, Condvar, Mutex, PoisonError};
    use std::time::Instant;

    #[derive(Debug, Default)]
    struct Flag {
        woken: Mutex<bool>,
        condvar: Condvar,
    }

    #[derive(Debug)]
    pub(super) struct Sender(Arc<Flag>);

    #[derive(Debug)]
    pub(super) struct Receiver(Arc<Flag>);

    pub(super) fn channel() -> io::Result<(Sender, Receiver)> {
        let flag = Arc::new(Flag::default());
        Ok((Sender(Arc::clone(&flag)), Receiver(flag)))
    }

    impl Sender {
        pub(super) fn wake(&self) {
            *self.0.woken.lock().unwrap_or_else(PoisonError::into_inner) = true;
            self.0.condvar.notify_one();
        }
    }

    impl Receiver {
        pub(super) fn wait(&self, until: Option<Instant>) {
            let mut woken = self.0.woken.lock().unwrap_or_else(PoisonError::into_inner);
            while !*woken {
                woken = match until {
                    None => self
                        .0
                        .condvar
                        .wait(woken)
                        .unwrap_or_else(PoisonError::into_inner),
                    Some(at) => {
                        let left = at.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        self.0
                            .condvar
                            .wait_timeout(woken, left)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                };
            }
            *woken = false;
        }
    }
}
