//! The process exit codes, from [`Report::exit_code`](crate::Report::exit_code)
//! and [`Error::exit_code`](crate::Error::exit_code).
//!
//! When several apply, the lowest non-zero code wins: a forced exit says more
//! than a cut-off request, which says more than a failed callback, which
//! says more than the app's own failure (whose trigger the report names).
//!
//! | code | constant | what happened |
//! |---|---|---|
//! | 0 | [`SUCCESS`] | everything drained and every callback succeeded |
//! | 1 | [`FORCED`] | a second signal, or `shutdown_timeout`, forced the exit |
//! | 2 | [`STARTUP_FAILED`] | the app could not start |
//! | 3 | [`REQUESTS_CUT_OFF`] | requests were cut off at the drain deadline |
//! | 4 | [`CALLBACK_FAILED`] | a shutdown callback failed, panicked or timed out |
//! | 5 | [`APP_FAILED`] | a background task failed, panicked or did not stop within its budget, or the app called `ShutdownHandle::fail` |
//!
//! ```
//! use graceful::exit_code::{self, ExitCode};
//!
//! assert_eq!(exit_code::FORCED, ExitCode::Forced);
//! assert_eq!(ExitCode::Forced.code(), 1);
//! let _for_main: std::process::ExitCode = ExitCode::Success.into();
//! ```

use std::fmt;

/// What the process's exit says happened; its number is [`ExitCode::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
#[repr(u8)]
pub enum ExitCode {
    /// Everything drained and every callback succeeded: 0.
    Success = 0,
    /// A second signal, or the global `shutdown_timeout`, forced the exit: 1.
    Forced = 1,
    /// The app could not start: bad configuration, an address that cannot
    /// be bound: 2.
    StartupFailed = 2,
    /// Requests were still in flight at the drain deadline and were cut
    /// off: 3.
    RequestsCutOff = 3,
    /// A shutdown callback failed, panicked or timed out: 4.
    CallbackFailed = 4,
    /// A background task failed, panicked or did not stop within its
    /// budget, or the app called
    /// [`ShutdownHandle::fail`](crate::ShutdownHandle::fail): 5.
    AppFailed = 5,
}

impl ExitCode {
    /// The number the process exits with.
    ///
    /// ```
    /// assert_eq!(graceful::exit_code::ExitCode::StartupFailed.code(), 2);
    /// ```
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// Whether it is [`ExitCode::Success`].
    ///
    /// ```
    /// assert!(graceful::exit_code::SUCCESS.is_success());
    /// ```
    pub const fn is_success(self) -> bool {
        matches!(self, ExitCode::Success)
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

impl From<ExitCode> for i32 {
    fn from(code: ExitCode) -> Self {
        code.code()
    }
}

/// A process's status compares with the code it should have.
impl PartialEq<i32> for ExitCode {
    fn eq(&self, other: &i32) -> bool {
        self.code() == *other
    }
}

impl PartialEq<ExitCode> for i32 {
    fn eq(&self, other: &ExitCode) -> bool {
        *self == other.code()
    }
}

/// The number.
impl fmt::Display for ExitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.code().fmt(f)
    }
}

/// [`ExitCode::Success`].
pub const SUCCESS: ExitCode = ExitCode::Success;
/// [`ExitCode::Forced`].
pub const FORCED: ExitCode = ExitCode::Forced;
/// [`ExitCode::StartupFailed`].
pub const STARTUP_FAILED: ExitCode = ExitCode::StartupFailed;
/// [`ExitCode::RequestsCutOff`].
pub const REQUESTS_CUT_OFF: ExitCode = ExitCode::RequestsCutOff;
/// [`ExitCode::CallbackFailed`].
pub const CALLBACK_FAILED: ExitCode = ExitCode::CallbackFailed;
/// [`ExitCode::AppFailed`].
pub const APP_FAILED: ExitCode = ExitCode::AppFailed;
