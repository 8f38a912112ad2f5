//! Start-up errors.

use std::fmt;
use std::io;

use crate::addr::ListenAddr;
use crate::site::Site;
use graceful_values::Signal;
mod activation;

pub use activation::ActivationError;

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
    /// A server's name cannot be used: a restart hands each listener over
    /// named like its server, in systemd's `LISTEN_FDNAMES`.
    InvalidName {
        /// The name.
        name: String,
        /// Where the server was declared.
        declared: Site,
        /// What is wrong with it.
        reason: String,
    },
    /// Two servers share one name.
    DuplicateName {
        /// The name.
        name: String,
        /// Where the first server was declared.
        first: Site,
        /// Where the second server was declared.
        second: Site,
    },
    /// Two shutdown callbacks share one name.
    DuplicateCallback {
        /// The name.
        name: String,
        /// Where the first callback was declared.
        first: Site,
        /// Where the second callback was declared.
        second: Site,
    },
    /// Two background tasks share one name.
    DuplicateTask {
        /// The name.
        name: String,
        /// Where the first task was declared.
        first: Site,
        /// Where the second task was declared.
        second: Site,
    },
    /// A background task failed (returned an error or panicked) as it
    /// started, before the listeners served.
    Task {
        /// The task's name.
        task: String,
        /// Its error, or its panic's message.
        error: String,
    },
    /// A server's TLS could not be set up: a certificate or key file that
    /// is missing, unreadable or holds nothing usable, or a key that does
    /// not fit the certificate.
    Tls {
        /// The server.
        server: String,
        /// The file at fault, when one is.
        file: Option<std::path::PathBuf>,
        /// What is wrong.
        reason: String,
    },
    /// Two servers would listen on one address.
    DuplicateAddr {
        /// The address.
        addr: ListenAddr,
        /// The first server's name.
        first: String,
        /// Where the first server is declared (boxed: an error stays small).
        first_declared: Box<Site>,
        /// The second server's name.
        second: String,
        /// Where the second server is declared.
        second_declared: Box<Site>,
    },
    /// The functions registered by `#[graceful::server]` and
    /// `#[graceful::on_shutdown]` do not fit together. Every problem is
    /// listed, each naming the functions and where they are declared.
    Registration(Vec<Problem>),
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
    /// The listeners inherited from the service manager (socket
    /// activation) do not fit the servers.
    Activation(ActivationError),
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
    /// The sentinel thread (signals and the global deadline) could not start.
    Sentinel(io::Error),
}

/// One way the registered functions do not fit together. A function is
/// named by its [`Site`], shown as `` `api` at src/main.rs:12 ``.
///
/// ```
/// # fn check(err: graceful::Error) {
/// if let graceful::Error::Registration(problems) = err {
///     for problem in &problems {
///         if let graceful::Problem::NoAddress { server, .. } = problem {
///             eprintln!("give server {server} an address");
///         }
///     }
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// Two functions of one server give different addresses.
    TwoAddresses {
        /// The server.
        server: String,
        /// The first function giving one.
        first: Site,
        /// The address it gives.
        first_addr: String,
        /// The second function giving one.
        second: Site,
        /// The address it gives.
        second_addr: String,
    },
    /// No function of a server gives its address.
    NoAddress {
        /// The server.
        server: String,
        /// Its functions.
        functions: Vec<Site>,
    },
    /// A function returning a service serves its server alone.
    NotAlone {
        /// The server.
        server: String,
        /// The function returning the service.
        service: Site,
        /// Another function of the server.
        other: Site,
    },
    /// Two handlers serve one path (`None`: every other path).
    SamePath {
        /// The server.
        server: String,
        /// The path.
        path: Option<String>,
        /// The first handler.
        first: Site,
        /// The second handler.
        second: Site,
    },
    /// Two callbacks share one name.
    SameCallbackName {
        /// The name.
        name: String,
        /// Where the first is declared.
        first: Site,
        /// Where the second is declared.
        second: Site,
    },
    /// Two background tasks share one name.
    SameTaskName {
        /// The name.
        name: String,
        /// Where the first is declared.
        first: Site,
        /// Where the second is declared.
        second: Site,
    },
    /// `graceful::provide` was given a value of one type twice.
    ProvidedTwice {
        /// The type, such as `my_app::Pool`.
        state: &'static str,
        /// Where it was provided first.
        first: Site,
        /// Where it was provided again.
        second: Site,
    },
    /// A function asks for a state nobody provided.
    MissingState {
        /// The function.
        function: Site,
        /// The type of the state, such as `my_app::Db`.
        state: &'static str,
    },
    /// A function returning a service panicked when it was called.
    Panicked {
        /// The function.
        function: Site,
        /// The panic's message.
        message: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::TwoAddresses {
                server,
                first,
                first_addr,
                second,
                second_addr,
            } => write!(
                f,
                "server {server:?}: two addresses: {first_addr:?} from {first} and {second_addr:?} from {second}"
            ),
            Problem::NoAddress { server, functions } => {
                write!(
                    f,
                    "server {server:?}: no address: give `addr = \"ip:port\"` on one of "
                )?;
                for (i, site) in functions.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    site.fmt(f)?;
                }
                Ok(())
            }
            Problem::NotAlone {
                server,
                service,
                other,
            } => write!(
                f,
                "server {server:?}: {service} serves the whole server, so {other} cannot serve it too"
            ),
            Problem::SamePath {
                server,
                path,
                first,
                second,
            } => match path {
                Some(path) => write!(
                    f,
                    "server {server:?}: {first} and {second} both serve path {path:?}"
                ),
                None => write!(
                    f,
                    "server {server:?}: {first} and {second} both serve every other path"
                ),
            },
            Problem::SameCallbackName {
                name,
                first,
                second,
            } => write!(
                f,
                "callback {name:?} is declared twice: {first} and {second}"
            ),
            Problem::SameTaskName {
                name,
                first,
                second,
            } => write!(f, "task {name:?} is declared twice: {first} and {second}"),
            Problem::ProvidedTwice {
                state,
                first,
                second,
            } => write!(
                f,
                "`{state}` is provided twice, at {first} and at {second}: one value per type; give each its own type (`struct ReadPool(Pool);`)"
            ),
            Problem::MissingState { function, state } => write!(
                f,
                "{function} asks for `State<{state}>`, which nothing provided: call `graceful::provide(value)` in `#[graceful::main]`'s body"
            ),
            Problem::Panicked { function, message } => {
                write!(f, "{function} panicked: {message}")
            }
        }
    }
}

impl Error {
    /// The process exit code for this error: always
    /// [`exit_code::STARTUP_FAILED`](crate::exit_code::STARTUP_FAILED).
    ///
    /// ```
    /// let err = graceful::Error::NoServers;
    /// assert_eq!(err.exit_code(), 2);
    /// ```
    pub fn exit_code(&self) -> crate::exit_code::ExitCode {
        crate::exit_code::STARTUP_FAILED
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
            Error::InvalidName {
                name,
                declared,
                reason,
            } => write!(
                f,
                "server name {name:?} ({declared}) cannot be used: {reason}"
            ),
            Error::DuplicateName {
                name,
                first,
                second,
            } => write!(f, "two servers are named {name:?}: {first} and {second}"),
            Error::DuplicateCallback {
                name,
                first,
                second,
            } => write!(
                f,
                "two shutdown callbacks are named {name:?}: {first} and {second}"
            ),
            Error::DuplicateAddr {
                addr,
                first,
                first_declared,
                second,
                second_declared,
            } => write!(
                f,
                "servers {first:?} ({first_declared}) and {second:?} ({second_declared}) would both listen on {addr}"
            ),
            Error::Registration(problems) => {
                for (i, problem) in problems.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    problem.fmt(f)?;
                }
                Ok(())
            }
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
            Error::Activation(err) => write!(f, "socket activation: {err}"),
            Error::Signal { signal, source } => {
                write!(f, "cannot install a handler for {signal}: {source}")
            }
            Error::DuplicateTask {
                name,
                first,
                second,
            } => write!(
                f,
                "two background tasks are named {name:?}: {first} and {second}"
            ),
            Error::Task { task, error } => {
                write!(f, "background task {task:?} failed as it started: {error}")
            }
            Error::Tls {
                server,
                file: Some(file),
                reason,
            } => write!(
                f,
                "server {server:?}: cannot use TLS file {}: {reason}",
                file.display()
            ),
            Error::Tls {
                server,
                file: None,
                reason,
            } => write!(f, "server {server:?}: cannot set up TLS: {reason}"),
            Error::Startup(err) => write!(f, "start-up failed: {err}"),
            Error::Runtime(err) => write!(f, "cannot build the tokio runtime: {err}"),
            Error::Sentinel(err) => write!(f, "cannot start the sentinel thread: {err}"),
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
            | Error::Sentinel(source) => Some(source),
            Error::Startup(err) => Some(err.as_ref()),
            Error::Activation(err) => Some(err),
            _ => None,
        }
    }
}
