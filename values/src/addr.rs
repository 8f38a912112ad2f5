//! The one parser of a server's address, as written in an attribute, on
//! the builder or in `GRACEFUL_ADDR_<NAME>`: checked, not resolved.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// The prefix of a Unix domain socket's address.
pub const UNIX_PREFIX: &str = "unix:";

/// An address as written: `ip:port`, `host:port` (resolved at start-up) or
/// `unix:/path`.
///
/// ```
/// use graceful_values::addr::{Address, parse_addr};
///
/// assert!(matches!(parse_addr("127.0.0.1:8080"), Ok(Address::Socket(_))));
/// assert_eq!(
///     parse_addr("localhost:8080"),
///     Ok(Address::Host { host: "localhost".into(), port: 8080 })
/// );
/// assert_eq!(parse_addr("unix:/run/app.sock"), Ok(Address::Unix("/run/app.sock".into())));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// An IP address and a port.
    Socket(SocketAddr),
    /// A host name to resolve, and a port.
    Host {
        /// The name, such as `localhost` or `api.internal`.
        host: String,
        /// The port.
        port: u16,
    },
    /// The path of a Unix domain socket.
    Unix(PathBuf),
}

/// Parses an address; the error says what to write instead.
///
/// ```
/// use graceful_values::addr::parse_addr;
///
/// assert!(parse_addr("127.0.0.1").unwrap_err().contains("a port is missing"));
/// assert!(parse_addr("localhost:http").unwrap_err().contains("is not a port"));
/// assert!(parse_addr("unix:").unwrap_err().contains("path is missing"));
/// assert!(parse_addr("bad_name:80").unwrap_err().contains("is not a host name"));
/// ```
pub fn parse_addr(text: &str) -> Result<Address, String> {
    if let Some(path) = text.strip_prefix(UNIX_PREFIX) {
        if path.is_empty() {
            return Err(
                "a Unix socket's path is missing: write \"unix:/path/to/socket\"".to_owned(),
            );
        }
        return Ok(Address::Unix(path.into()));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(Address::Socket(addr));
    }
    if let Ok(ip) = text.trim_matches(['[', ']']).parse::<IpAddr>() {
        let ip = match ip {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        return Err(format!("a port is missing: write {ip}:PORT"));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!(
            "a port is missing: write {text}:PORT, such as {text}:8080"
        ));
    };
    let Ok(port) = port.parse::<u16>() else {
        return Err(format!(
            "{port:?} is not a port: write a number from 0 to 65535"
        ));
    };
    if !is_host_name(host) {
        return Err(format!(
            "{host:?} is not a host name: write `ip:port`, `host:port` or `unix:/path`, such as \"127.0.0.1:8080\", \"localhost:8080\" or \"unix:/run/app.sock\""
        ));
    }
    Ok(Address::Host {
        host: host.to_owned(),
        port,
    })
}

/// Labels of letters, digits and `-`, none empty, none over 63 bytes, none
/// starting with `-` (RFC 1123).
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_and_every_mistake() {
        assert!(matches!(parse_addr("[::1]:0"), Ok(Address::Socket(_))));
        assert_eq!(
            parse_addr("::1"),
            Err("a port is missing: write [::1]:PORT".to_owned())
        );
        assert_eq!(
            parse_addr("api"),
            Err("a port is missing: write api:PORT, such as api:8080".to_owned())
        );
        assert!(parse_addr("api:99999").is_err());
        assert!(parse_addr("-api:80").is_err());
        assert!(parse_addr(":80").is_err());
        assert_eq!(
            parse_addr("db.internal:5432"),
            Ok(Address::Host {
                host: "db.internal".into(),
                port: 5432
            })
        );
    }
}
