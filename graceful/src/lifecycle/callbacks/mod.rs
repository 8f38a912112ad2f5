//! Shutdown callbacks: flush a cache, close a pool, deregister from discovery.
//!
//! Callbacks run after every server has stopped, grouped
//! by phase: all callbacks of one phase run concurrently, and a phase starts
//! only when every callback of the phase before has ended. Each runs under its
//! own timeout, in its own task: an error, a panic or an overrun is reported
//! and never keeps the other callbacks from running.
//!
//! - `callback`: [`Callback`], as the user declares it, and the
//!   [`ShutdownContext`] it is given;
//! - `plan`: the callbacks sorted with their timeouts resolved, run phase
//!   by phase, and the ledger a forced exit reports from.
//!
//! Background tasks, stopped in order before the callbacks run, are beside
//! them (`tasks`).

mod callback;
mod plan;

pub use callback::{CALLBACK_WIND_DOWN, Callback, ShutdownContext};
pub(crate) use plan::{Ledger, Plan};
