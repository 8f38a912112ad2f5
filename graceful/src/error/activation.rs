//! What does not fit between the inherited listeners and the servers, said
//! so that the message alone tells an operator what to fix.

use std::fmt;

/// What does not match between the inherited listeners and the servers.
///
/// ```
/// let err = graceful::ActivationError::TooFew {
///     servers: vec!["api".into(), "admin".into()],
///     listeners: vec!["api (fd 3)".into()],
/// };
/// assert!(err.to_string().contains("2 servers"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActivationError {
    /// `LISTEN_FDS` or `LISTEN_FDNAMES` cannot be read.
    Environment {
        /// What is wrong.
        reason: String,
    },
    /// Fewer inherited listeners than servers, none named like a server.
    TooFew {
        /// The servers, in declaration order.
        servers: Vec<String>,
        /// The inherited listeners: name and descriptor.
        listeners: Vec<String>,
    },
    /// More inherited listeners than servers, none named like a server.
    TooMany {
        /// The servers, in declaration order.
        servers: Vec<String>,
        /// The inherited listeners: name and descriptor.
        listeners: Vec<String>,
    },
    /// Some inherited listeners are named like servers, but not this one.
    Missing {
        /// The server without a listener.
        server: String,
        /// The inherited listeners: name and descriptor.
        listeners: Vec<String>,
    },
    /// An inherited listener no server takes.
    Unused {
        /// The listener: name and descriptor.
        listener: String,
        /// The servers, in declaration order.
        servers: Vec<String>,
    },
    /// Several inherited listeners have the name of one server.
    SameName {
        /// The server.
        server: String,
        /// How many listeners have its name.
        count: usize,
    },
    /// The listener given to a server is not what its address asks for.
    WrongKind {
        /// The server.
        server: String,
        /// The listener: name and descriptor.
        listener: String,
        /// What the server's address asks for.
        expected: &'static str,
        /// What the listener is.
        found: String,
    },
}

impl fmt::Display for ActivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActivationError::Environment { reason } => {
                write!(f, "the inherited listeners cannot be read: {reason}")
            }
            ActivationError::TooFew { servers, listeners } => write!(
                f,
                "{} servers ({}) but {} inherited listeners ({}): name each listener like its server (FileDescriptorName=), or pass one per server",
                servers.len(),
                servers.join(", "),
                listeners.len(),
                listeners.join(", ")
            ),
            ActivationError::TooMany { servers, listeners } => write!(
                f,
                "{} inherited listeners ({}) for {} servers ({}): each listener needs a server",
                listeners.len(),
                listeners.join(", "),
                servers.len(),
                servers.join(", ")
            ),
            ActivationError::Missing { server, listeners } => write!(
                f,
                "server {server:?} has no inherited listener named like it among {}",
                listeners.join(", ")
            ),
            ActivationError::Unused { listener, servers } => write!(
                f,
                "inherited listener {listener} is named like no server ({})",
                servers.join(", ")
            ),
            ActivationError::SameName { server, count } => write!(
                f,
                "{count} inherited listeners are named {server:?}; a server takes one"
            ),
            ActivationError::WrongKind {
                server,
                listener,
                expected,
                found,
            } => write!(
                f,
                "server {server:?} was given inherited listener {listener}, which is {found}; its address asks for {expected}"
            ),
        }
    }
}

impl std::error::Error for ActivationError {}
