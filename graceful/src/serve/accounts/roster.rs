//! Rosters: which connections, and which HTTP/2 streams, may still be
//! running when the report is taken.
//!
//! A request whose handler blocks its thread (a synchronous driver, a
//! `std::thread::sleep`) cannot be cut off: its task is never polled again,
//! and its guard never drops. The report must still count it and name it,
//! so the accept loop keeps a roster of its connections, and an HTTP/2
//! connection's task one of its streams' names. Each roster has one owner
//! while it grows (an entry is a weak reference: one reference count, no
//! lock, nothing shared with another task), and the entries of what ended
//! are swept out whenever the list has doubled since the last sweep, so it
//! holds at most about twice what is open. Once its owner is done (the
//! listener closes, the connection ends), the roster is handed in where the
//! report reads it.

use std::sync::{Arc, Weak};

/// What one task has started and may still run.
#[derive(Debug)]
pub(crate) struct Roster<T: ?Sized> {
    entries: Vec<Weak<T>>,
    /// The length at which the list is swept next.
    sweep_at: usize,
}

impl<T: ?Sized> Default for Roster<T> {
    fn default() -> Self {
        Roster {
            entries: Vec::new(),
            sweep_at: 0,
        }
    }
}

/// The smallest list that is swept.
const FIRST_SWEEP: usize = 64;

impl<T: ?Sized> Roster<T> {
    /// Enters what just started.
    #[inline]
    pub(crate) fn enter(&mut self, entry: Weak<T>) {
        if self.entries.len() >= self.sweep_at {
            self.sweep();
        }
        self.entries.push(entry);
    }

    #[cold]
    fn sweep(&mut self) {
        self.entries.retain(|entry| entry.strong_count() > 0);
        self.sweep_at = (self.entries.len() * 2).max(FIRST_SWEEP);
    }

    /// What is still running (or still referred to).
    pub(crate) fn open(&self) -> impl Iterator<Item = Arc<T>> + '_ {
        self.entries.iter().filter_map(Weak::upgrade)
    }

    /// Whether nothing was ever entered.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many entries the list holds, ended ones included.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A roster whose entries come and go keeps about twice the open ones,
    /// however many have ended.
    #[test]
    fn what_ended_is_swept_out() {
        let mut roster = Roster::default();
        let kept = Arc::new(0u32);
        roster.enter(Arc::downgrade(&kept));
        for n in 1..10_000u32 {
            roster.enter(Arc::downgrade(&Arc::new(n)));
        }
        assert!(roster.len() <= 2 * FIRST_SWEEP, "{} entries", roster.len());
        let open: Vec<_> = roster.open().collect();
        assert_eq!(open.len(), 1);
        assert!(Arc::ptr_eq(&open[0], &kept));
    }
}
