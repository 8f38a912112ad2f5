//! The process exit codes, from [`Report::exit_code`](crate::Report::exit_code)
//! and [`Error::exit_code`](crate::Error::exit_code).
//!
//! When several apply, the lowest non-zero code wins: a forced exit says more
//! than a cut-off request, which says more than a failed callback.
//!
//! ```
//! assert_eq!(graceful::exit_code::SUCCESS, 0);
//! assert_eq!(graceful::exit_code::FORCED, 1);
//! ```

/// Everything drained and every callback succeeded.
pub const SUCCESS: i32 = 0;
/// A second signal, or the global `shutdown_timeout`, forced the exit.
pub const FORCED: i32 = 1;
/// The app could not start: bad configuration, an address that cannot be bound.
pub const STARTUP_FAILED: i32 = 2;
/// Requests were still in flight at the drain deadline and were cut off.
pub const REQUESTS_CUT_OFF: i32 = 3;
/// A shutdown callback failed, panicked or timed out.
pub const CALLBACK_FAILED: i32 = 4;
