//! The lifecycle: from the first signal to the exit.
//!
//! - this module: the shared state every server, connection and handle
//!   reads (the phase, the moments every task waits for, the triggers with
//!   their times, a forced exit's cause); it imports nothing of the crate
//!   but the clock, the signals and the address type;
//! - `trigger`: what starts the shutdown, forces it, or asks for a
//!   restart; `moment`: a phase watched from inside a busy `poll`;
//! - [`clock`]: the hot path's clock; [`signals`]: the signals handled;
//! - [`handle`]: [`ShutdownHandle`](crate::ShutdownHandle), the public face;
//! - [`sentinel`]: the thread of our own that reads the signals and
//!   enforces the global deadline, whatever the runtime does; [`exit`]:
//!   the process's exit, once;
//! - [`callbacks`]: the shutdown callbacks and their plan; [`tasks`]: the
//!   background tasks, started with the app and stopped in order;
//! - [`report`]: what the shutdown did, and the exit code.
//!
//! The conductors that run it, at the start and at the shutdown, are the
//! app's (see `app`): they reach every part.

pub(crate) mod callbacks;
pub(crate) mod clock;
pub(crate) mod declared;
pub(crate) mod exit;
pub(crate) mod handle;
pub(crate) mod moment;
pub(crate) mod report;
pub(crate) mod sentinel;
pub(crate) mod signals;
pub(crate) mod tasks;
mod trigger;

pub use trigger::{ForcedBy, Trigger};
pub(crate) use trigger::{RestartAsk, RestartAsks, Triggered};

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::addr::ListenAddr;
use crate::lifecycle::clock::Clock;

/// Where the app stands, in the words of the lifecycle's documentation.
/// Only ever moves forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Phase {
    /// Serving normally.
    Running = 0,
    /// The shutdown has begun: not ready, responses say `Connection: close`,
    /// still accepting during the pre-stop delay.
    NotReady = 1,
    /// The listeners are closed; new requests on old connections get 503.
    Refusing = 2,
    /// The drain deadline has passed (or the exit is forced): whatever
    /// still runs is cut off.
    CutOff = 3,
}

/// Every server's name and address.
pub(crate) type Addrs = Vec<(Arc<str>, ListenAddr)>;

/// The state every server, connection and handle shares.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    phase: AtomicU8,
    /// Cancelled when the shutdown begins (phase `NotReady`).
    begun: CancellationToken,
    /// Cancelled when the listeners must close (phase `Refusing`).
    refusing: CancellationToken,
    /// Cancelled at the drain deadline (phase `CutOff`).
    cancelled: CancellationToken,
    /// The hot path's clock.
    pub(crate) clock: Clock,
    /// When the refusal began (phase `Refusing`): a [`Clock`] stamp plus
    /// one, 0 until then.
    refusing_since: std::sync::atomic::AtomicU64,
    /// Every trigger received, with its time.
    triggers: Mutex<Vec<(Trigger, Instant)>>,
    /// Cancelled once the start is over, served or not.
    started: CancellationToken,
    /// Whether the servers were started, and where they listen.
    serving: Mutex<(bool, Addrs)>,
    /// Cancelled when the exit is forced; `forced_by` says why.
    forced: CancellationToken,
    forced_by: OnceLock<ForcedBy>,
    /// Wakes the sentinel when a trigger comes from code rather than a
    /// signal, so that it starts the global deadline's clock.
    sentinel: OnceLock<Waker>,
}

impl Lifecycle {
    pub(crate) fn new() -> Self {
        Lifecycle {
            phase: AtomicU8::new(Phase::Running as u8),
            begun: CancellationToken::new(),
            refusing: CancellationToken::new(),
            cancelled: CancellationToken::new(),
            clock: Clock::new(),
            refusing_since: std::sync::atomic::AtomicU64::new(0),
            triggers: Mutex::new(Vec::new()),
            started: CancellationToken::new(),
            serving: Mutex::new((false, Vec::new())),
            forced: CancellationToken::new(),
            forced_by: OnceLock::new(),
            sentinel: OnceLock::new(),
        }
    }

    /// Completes once the start is over; then tells whether the servers
    /// serve.
    pub(crate) async fn started(&self) -> bool {
        self.started.cancelled().await;
        self.serving
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// Where the named server listens, once started.
    pub(crate) fn listen_addr(&self, name: &str) -> Option<ListenAddr> {
        self.serving
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, addr)| addr.clone())
    }

    /// Tells the sentinel of triggers from now on.
    pub(crate) fn set_sentinel(&self, waker: Waker) {
        let _ = self.sentinel.set(waker);
    }

    /// Forces the exit. Returns whether this was the first time.
    pub(crate) fn force(&self, by: ForcedBy) -> bool {
        let first = self.forced_by.set(by).is_ok();
        self.forced.cancel();
        first
    }

    /// Why the exit was forced, once it was.
    pub(crate) fn forced_by(&self) -> Option<&ForcedBy> {
        self.forced_by.get()
    }

    /// Completes when the exit is forced.
    pub(crate) fn forced(&self) -> WaitForCancellationFuture<'_> {
        self.forced.cancelled()
    }

    /// When the first trigger came, if one did.
    pub(crate) fn first_trigger(&self) -> Option<(Trigger, Instant)> {
        self.triggers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first()
            .cloned()
    }

    /// Records the end of the start: whether the servers serve, and where.
    pub(crate) fn set_ready(&self, addrs: Addrs, serving: bool) {
        *self.serving.lock().unwrap_or_else(PoisonError::into_inner) = (serving, addrs);
        self.started.cancel();
    }

    /// The current phase: one relaxed load, cheap enough for every request.
    #[inline]
    pub(crate) fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Running,
            1 => Phase::NotReady,
            2 => Phase::Refusing,
            _ => Phase::CutOff,
        }
    }

    /// Moves to `phase` (never backwards), then wakes whoever waits for it.
    /// The phase is stored before the token fires, so a task woken by the
    /// token always sees the new phase.
    pub(crate) fn advance(&self, phase: Phase) {
        if phase >= Phase::Refusing {
            let stamp = self.clock.now().saturating_add(1);
            let _ =
                self.refusing_since
                    .compare_exchange(0, stamp, Ordering::SeqCst, Ordering::SeqCst);
        }
        self.phase.fetch_max(phase as u8, Ordering::SeqCst);
        if phase >= Phase::NotReady {
            self.begun.cancel();
        }
        if phase >= Phase::Refusing {
            self.refusing.cancel();
        }
        if phase >= Phase::CutOff {
            self.cancelled.cancel();
        }
    }

    /// How long ago the refusal began, on the [`Clock`]; `None` before.
    pub(crate) fn refusing_for(&self) -> Option<Duration> {
        match self.refusing_since.load(Ordering::Acquire) {
            0 => None,
            stamp => Some(Duration::from_nanos(
                self.clock.now().saturating_sub(stamp - 1),
            )),
        }
    }

    /// Records a trigger and begins the shutdown. Returns which it is: a
    /// second ask (a signal, the handle) forces the exit, which the caller
    /// does; a failure or a handover never counts as one.
    pub(crate) fn trigger(&self, trigger: Trigger) -> Triggered {
        let triggered = {
            let mut triggers = self.triggers.lock().unwrap_or_else(PoisonError::into_inner);
            let asked_before = triggers.iter().any(|(t, _)| t.is_ask());
            let first = triggers.is_empty();
            let ask = trigger.is_ask();
            triggers.push((trigger, Instant::now()));
            match (first, ask, asked_before) {
                (true, _, _) => Triggered::First,
                (false, false, _) => Triggered::Recorded,
                (false, true, false) => Triggered::Underway,
                (false, true, true) => Triggered::Again,
            }
        };
        self.begin();
        triggered
    }

    /// Moves to `NotReady`, and wakes the sentinel to start the global
    /// deadline's clock.
    fn begin(&self) {
        self.advance(Phase::NotReady);
        if let Some(sentinel) = self.sentinel.get() {
            sentinel.wake_by_ref();
        }
    }

    /// Hands the service over to a successor that serves, unless the
    /// shutdown has begun meanwhile (then returns false): as one step with
    /// respect to the triggers, so that a signal either comes first (and no
    /// handover happens) or finds the handover made. `before` runs once the
    /// handover is decided and before the shutdown begins (the service
    /// manager must hear `MAINPID=` before anything of the shutdown).
    pub(crate) fn hand_over(&self, before: impl FnOnce()) -> bool {
        {
            let mut triggers = self.triggers.lock().unwrap_or_else(PoisonError::into_inner);
            if !triggers.is_empty() {
                return false;
            }
            triggers.push((Trigger::HandedOver, Instant::now()));
        }
        before();
        self.begin();
        true
    }

    /// Whether a successor serves with this process's listeners (the
    /// shutdown began with the handover): they are let go as they are,
    /// without the close that would reset what waits in their queue (the
    /// successor takes it). Takes the triggers' lock: not for every request.
    pub(crate) fn is_handed_over(&self) -> bool {
        matches!(self.first_trigger(), Some((Trigger::HandedOver, _)))
    }

    pub(crate) fn triggers(&self) -> Vec<(Trigger, Instant)> {
        self.triggers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// [`Lifecycle::begun`], owning what it waits on.
    pub(crate) fn begun_owned(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.begun.clone().cancelled_owned()
    }

    pub(crate) fn begun(&self) -> WaitForCancellationFuture<'_> {
        self.begun.cancelled()
    }

    pub(crate) fn refusing(&self) -> WaitForCancellationFuture<'_> {
        self.refusing.cancelled()
    }

    pub(crate) fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.cancelled.cancelled()
    }
}
