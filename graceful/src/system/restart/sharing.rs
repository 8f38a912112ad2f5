//! What serving must know of a restart: whether another process may hold
//! the listeners too, and whether a successor is starting right now. The
//! restarter sets it; every server's accept loop reads it.

use std::sync::atomic::{AtomicBool, Ordering};

/// The listeners' state in a restart, shared by the restarter and the
/// accept loops.
#[derive(Debug, Default)]
pub(crate) struct Sharing {
    /// Set once a successor may hold the listeners (from the fork on).
    shared: AtomicBool,
    /// Set while a successor starts: it holds the listeners, and may make
    /// them blocking (see `restart`).
    starting: AtomicBool,
}

impl Sharing {
    /// Records that a process other than this one holds the listeners too
    /// (a restart's successor, started or starting): a listener must never
    /// be left to it with the close's filter on.
    pub(crate) fn share(&self) {
        self.shared.store(true, Ordering::SeqCst);
    }

    /// Whether another process may hold the listeners too.
    pub(crate) fn is_shared(&self) -> bool {
        self.shared.load(Ordering::SeqCst)
    }

    /// Records that a successor starts, or no longer does.
    pub(crate) fn set_starting(&self, on: bool) {
        self.starting.store(on, Ordering::SeqCst);
    }

    /// Whether a successor starts, holding the listeners too: one relaxed
    /// load, checked before every accept.
    #[inline]
    pub(crate) fn is_starting(&self) -> bool {
        self.starting.load(Ordering::Relaxed)
    }
}
