//! A lifecycle moment watched from inside a busy future's `poll`.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;

use tokio_util::sync::WaitForCancellationFuture;

use super::{Lifecycle, Phase};

/// Watches for a lifecycle moment from inside a busy future's `poll`, without
/// polling the moment's future every time.
///
/// Polling a waiting [`WaitForCancellationFuture`] takes a mutex shared by
/// every waiter. A connection's task is polled for every read and write, so
/// the moment's future is polled once, to register the task's waker, and after
/// that the phase, one relaxed load, tells whether it has come. A tokio task
/// keeps one waker for its whole life, so the first registration stays valid.
pub(crate) struct Moment<'m, 'a> {
    lifecycle: &'a Lifecycle,
    phase: Phase,
    wait: Pin<&'m mut WaitForCancellationFuture<'a>>,
    registered: bool,
}

impl<'m, 'a> Moment<'m, 'a> {
    pub(crate) fn new(
        lifecycle: &'a Lifecycle,
        phase: Phase,
        wait: Pin<&'m mut WaitForCancellationFuture<'a>>,
    ) -> Self {
        Moment {
            lifecycle,
            phase,
            wait,
            registered: false,
        }
    }

    /// Whether the moment has come; registers the task's waker on first call.
    pub(crate) fn has_come(&mut self, cx: &mut Context<'_>) -> bool {
        if self.lifecycle.phase() >= self.phase {
            return true;
        }
        if !self.registered {
            self.registered = true;
            return self.wait.as_mut().poll(cx).is_ready();
        }
        false
    }
}
