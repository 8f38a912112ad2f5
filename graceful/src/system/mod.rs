//! The operating system and its service manager, as the app meets them:
//!
//! - [`activation`]: listeners the service manager (or a restart's
//!   predecessor) passed to this process;
//! - [`notify`]: the service manager's notification protocol (`READY=1`,
//!   `STOPPING=1`, its watchdog), which knows nothing of restarts;
//! - [`restart`]: restarts by listener handoff, the predecessor's side and
//!   the successor's;
//! - [`supervision`]: the two together while the app runs: the
//!   announcement, the watchdog's pets, the restarts served.

pub(crate) mod activation;
pub(crate) mod notify;
pub(crate) mod restart;
pub(crate) mod supervision;
