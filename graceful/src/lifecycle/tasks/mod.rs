//! Background tasks: a queue consumer, an outbox relay, a cache refresher,
//! started with the app and stopped in order.
//!
//! A task starts before the listeners serve and is told to stop at its
//! moment ([`When`](crate::When)): at the first signal, or once every
//! server has drained (the default), phase by phase among the tasks of one
//! moment. Told, it has its stop budget to return; then its context is
//! cancelled, it has the wind-down, and it is aborted; one that does not
//! end even then blocks a thread and is abandoned. A task that fails while
//! the app runs begins the shutdown.
//!
//! - `task`: [`Task`], as the user declares it, and the [`TaskContext`] it
//!   is given;
//! - `plan`: the tasks checked and sorted, their budgets resolved;
//! - `crew`: the tasks started, each with its keeper, and the ledger the
//!   report reads.

mod crew;
mod plan;
mod task;

pub(crate) use crew::{Crew, TaskFailure, TaskLedger};
pub(crate) use plan::TaskPlan;
pub use task::{Task, TaskContext};
