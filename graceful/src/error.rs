//! Start-up errors.

use std::fmt;
use std::io;

use crate::addr::ListenAddr;
use crate::signals::Signal;

/// A boxed error, as handlers, bodies and callbacks may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A panic's message, from its payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic with a non-string payload")
}

/// Why an [`App`](crate::App) could not start.
///
/// Every variant names what was wrong (the server, the address, the variable)
/// so that the message alone tells an operator what to fix. Nothing is left
/// half-started: when `start` fails, every listener that was bound is released.
///
/// # Example
///
/// ```
/// use graceful::{App, Error};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // An app without servers is refused before anything starts.
/// let err = App::new().start().await.err().expect("no servers");
/// assert!(matches!(err, Error::NoServers));
/// assert_eq!(err.exit_code(), graceful::exit_code::STARTUP_FAILED);
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An environment variable holds a value that cannot be used.
    Config {
        /// The variable's name, such as `GRACEFUL_DRAIN_TIMEOUT`.
        var: String,
        /// The value found.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting given in code (the builder, an attribute) is out of range.
    Setting {
        /// The setting, such as `drain_timeout`, or `timeout of callback "flush"`.
        setting: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No server was registered: the app would wait for a signal doing nothing.
    NoServers,
    /// Two servers share one name.
    DuplicateName {
        /// The name.
        name: String,
        /// Where the first server was declared (`file:line`).
        first: String,
        /// Where the second server was declared (`file:line`).
        second: String,
    },
    /// Two shutdown callbacks share one name.
    DuplicateCallback {
        /// The name.
        name: String,
        /// Where the first callback was declared (`file:line`).
        first: String,
        /// Where the second callback was declared (`file:line`).
        second: String,
    },
    /// Two servers would listen on one address.
    DuplicateAddr {
        /// The address.
        addr: ListenAddr,
        /// The first server's name and where it is declared: `"a" (src/main.rs:12)`.
        first: String,
        /// The second server's name and where it is declared.
        second: String,
    },
    /// The functions registered by `#[graceful::server]` do not fit
    /// together: two addresses for one server, none, two functions for one
    /// path, two callbacks with one name. Every problem is listed, each
    /// naming the functions and where they are declared.
    Registration(Vec<String>),
    /// A server's address could not be parsed or resolved.
    Resolve {
        /// The server's name.
        server: String,
        /// The address as configured.
        addr: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// A server's listener could not be bound (port taken, permission denied, ...).
    Bind {
        /// The server's name.
        server: String,
        /// The address it tried to bind.
        addr: ListenAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// A signal handler could not be installed.
    Signal {
        /// The signal.
        signal: Signal,
        /// The operating system's error.
        source: io::Error,
    },
    /// The start-up hook failed.
    Startup(BoxError),
    /// The tokio runtime could not be built.
    Runtime(io::Error),
    /// The watchdog thread (signals and the global deadline) could not start.
    Watchdog(io::Error),
}

impl Error {
    /// The process exit code for this error: always
    /// [`exit_code::STARTUP_FAILED`](crate::exit_code::STARTUP_FAILED).
    ///
    /// ```
    /// let err = graceful::Error::NoServers;
    /// assert_eq!(err.exit_code(), 2);
    /// ```
    pub fn exit_code(&self) -> i32 {
        crate::report::exit_code::STARTUP_FAILED
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config { var, value, reason } => {
                write!(
                    f,
                    "environment variable {var}={value:?} is invalid: {reason}"
                )
            }
            Error::Setting { setting, reason } => {
                write!(f, "setting {setting} is invalid: {reason}")
            }
            Error::NoServers => f.write_str(
                "no server is registered: add one with `App::server` or `#[graceful::server]`",
            ),
            Error::DuplicateName {
                name,
                first,
                second,
            } => write!(
                f,
                "two servers are named {name:?}: one declared at {first}, one at {second}"
            ),
            Error::DuplicateCallback {
                name,
                first,
                second,
            } => write!(
                f,
                "two shutdown callbacks are named {name:?}: one declared at {first}, one at {second}"
            ),
            Error::DuplicateAddr {
                addr,
                first,
                second,
            } => write!(
                f,
                "servers {first} and {second} would both listen on {addr}"
            ),
            Error::Registration(problems) => f.write_str(&problems.join("; ")),
            Error::Resolve {
                server,
                addr,
                source,
            } => write!(
                f,
                "server {server:?}: cannot resolve address {addr:?}: {source}"
            ),
            Error::Bind {
                server,
                addr,
                source,
            } => write!(f, "server {server:?}: cannot listen on {addr}: {source}"),
            Error::Signal { signal, source } => {
                write!(f, "cannot install a handler for {signal}: {source}")
            }
            Error::Startup(err) => write!(f, "start-up failed: {err}"),
            Error::Runtime(err) => write!(f, "cannot build the tokio runtime: {err}"),
            Error::Watchdog(err) => write!(f, "cannot start the watchdog thread: {err}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Resolve { source, .. }
            | Error::Bind { source, .. }
            | Error::Signal { source, .. }
            | Error::Runtime(source)
            | Error::Watchdog(source) => Some(source),
            Error::Startup(err) => Some(err.as_ref()),
            _ => None,
        }
    }
}
