//! Where a server listens: a TCP address or a Unix domain socket's path.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use graceful_values::addr::UNIX_PREFIX;

/// Where a server listens.
///
/// Written `ip:port` or `host:port` for TCP, `unix:/path/to/socket` for a
/// Unix domain socket.
///
/// ```
/// use graceful::ListenAddr;
///
/// let tcp = ListenAddr::Tcp("127.0.0.1:8080".parse().unwrap());
/// assert_eq!(tcp.to_string(), "127.0.0.1:8080");
/// let unix = ListenAddr::Unix("/run/app.sock".into());
/// assert_eq!(unix.to_string(), "unix:/run/app.sock");
/// assert_eq!(unix.tcp(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListenAddr {
    /// A TCP address.
    Tcp(SocketAddr),
    /// The path of a Unix domain socket.
    Unix(PathBuf),
}

impl ListenAddr {
    /// The TCP address, if this is one.
    ///
    /// ```
    /// let addr = graceful::ListenAddr::Tcp("127.0.0.1:80".parse().unwrap());
    /// assert_eq!(addr.tcp().map(|a| a.port()), Some(80));
    /// ```
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            ListenAddr::Tcp(addr) => Some(*addr),
            ListenAddr::Unix(_) => None,
        }
    }

    /// The socket's path, if this is a Unix domain socket.
    ///
    /// ```
    /// let addr = graceful::ListenAddr::Unix("/run/app.sock".into());
    /// assert_eq!(addr.unix_path(), Some(std::path::Path::new("/run/app.sock")));
    /// ```
    pub fn unix_path(&self) -> Option<&Path> {
        match self {
            ListenAddr::Tcp(_) => None,
            ListenAddr::Unix(path) => Some(path),
        }
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => addr.fmt(f),
            ListenAddr::Unix(path) => write!(f, "{UNIX_PREFIX}{}", path.display()),
        }
    }
}
