//! Listeners inherited from the service manager: socket activation
//! (systemd's `sd_listen_fds(3)`; the variables are read by the `sd-notify`
//! crate).
//!
//! When `LISTEN_PID` is this process and `LISTEN_FDS` counts its inherited
//! listeners, the servers adopt them instead of binding:
//!
//! - **by name**, when an inherited listener is named like a server
//!   (`FileDescriptorName=` in a socket unit, which `LISTEN_FDNAMES` carries);
//!   then every server must find its own, and every listener must be taken;
//! - else **in declaration order**, one listener per server.
//!
//! A listener must be a listening stream socket of the server's kind: TCP
//! (IPv4 or IPv6) for an `ip:port` address, a Unix socket for `unix:`. Any
//! mismatch (too few, too many, a name no server has, the wrong kind) is a
//! start-up error that lists what was inherited; nothing is served.
//!
//! A restart's successor (see `restart`) inherits its predecessor's
//! listeners the same way, each named like its server, and matches them by
//! name only: a server of a new release binds its own listener, and a
//! listener no server takes is closed.
//!
//! An inherited listener is closed like a bound one (see `serve::handshakes`),
//! then, if the service manager holds it too, the close's filter is taken
//! off before the descriptor is let go: what connects while the service
//! restarts waits in its queue for the next process; and its Unix socket's
//! file is left in place, for it belongs to the service manager. A listener
//! a predecessor bound and handed over is this process's own: closed, and
//! its file removed, as if bound here.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use socket2::Socket;

use crate::addr::ListenAddr;

pub(crate) use crate::error::ActivationError;

/// The listeners the service manager passed to this process.
#[derive(Debug)]
pub(crate) struct Inherited {
    listeners: Vec<InheritedListener>,
}

/// One inherited listener.
#[derive(Debug)]
pub(crate) struct InheritedListener {
    /// Its name (`unknown` when the service manager gave none).
    pub(crate) name: String,
    /// Its file descriptor number, for messages.
    pub(crate) fd: i32,
    pub(crate) socket: Socket,
    /// Whether the service manager holds it too: always, unless this
    /// process is a restart's successor and its predecessor bound it (see
    /// `restart`).
    pub(crate) managed: bool,
}

/// Set once this process has taken its inherited descriptors: each is owned
/// once, by the first start.
static TAKEN: AtomicBool = AtomicBool::new(false);

impl Inherited {
    /// The listeners the service manager passed to this process, if any.
    /// Only the first call in a process gets them.
    pub(crate) fn take() -> Result<Option<Inherited>, ActivationError> {
        let passed = listen_fds().map_err(|err| ActivationError::Environment {
            reason: err.to_string(),
        })?;
        if passed.is_empty() || TAKEN.swap(true, Ordering::SeqCst) {
            return Ok(None);
        }
        let listeners = passed
            .into_iter()
            .map(|(fd, name)| InheritedListener {
                managed: crate::system::restart::is_managed(&name),
                name,
                fd,
                socket: adopt(fd),
            })
            .collect();
        Ok(Some(Inherited { listeners }))
    }

    /// Gives each server (name and configured address, in declaration
    /// order) its listener, checked against the address's kind.
    ///
    /// From the service manager, every server must get one and every
    /// listener be taken (see the module's rules). From a restart's
    /// predecessor, which names each listener like its server, a release
    /// may differ: a server the predecessor did not have gets none (and
    /// binds its own), and a listener no server of this release takes is
    /// closed.
    pub(crate) fn assign(
        self,
        servers: &[(&str, &ListenAddr)],
    ) -> Result<Vec<Option<InheritedListener>>, ActivationError> {
        if crate::system::restart::is_successor() {
            return self.assign_by_name(servers);
        }
        let names: Vec<&str> = servers.iter().map(|(name, _)| *name).collect();
        let order = match_listeners(
            &names,
            &self
                .listeners
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>(),
        )
        .map_err(|mismatch| mismatch.into_error(&names, &self.listeners))?;
        let mut slots: Vec<Option<InheritedListener>> =
            self.listeners.into_iter().map(Some).collect();
        let mut given = Vec::with_capacity(servers.len());
        for ((server, addr), index) in servers.iter().zip(order) {
            let Some(listener) = slots.get_mut(index).and_then(Option::take) else {
                continue;
            };
            check_kind(server, addr, &listener)?;
            given.push(Some(listener));
        }
        Ok(given)
    }

    /// A restart's successor: each server takes the listener named like it,
    /// if there is one.
    fn assign_by_name(
        self,
        servers: &[(&str, &ListenAddr)],
    ) -> Result<Vec<Option<InheritedListener>>, ActivationError> {
        let mut left: Vec<Option<InheritedListener>> =
            self.listeners.into_iter().map(Some).collect();
        let mut given = Vec::with_capacity(servers.len());
        for (server, addr) in servers {
            let found = left
                .iter_mut()
                .find(|slot| slot.as_ref().is_some_and(|l| l.name == *server))
                .and_then(Option::take);
            if let Some(listener) = &found {
                check_kind(server, addr, listener)?;
            }
            given.push(found);
        }
        for listener in left.into_iter().flatten() {
            tracing::warn!(listener = %listener.label(), "the predecessor's listener is for a server this release does not have; closed");
        }
        Ok(given)
    }
}

impl InheritedListener {
    /// How messages name it.
    pub(crate) fn label(&self) -> String {
        format!("{} (fd {})", self.name, self.fd)
    }
}

/// Why the listeners cannot be matched to the servers.
#[derive(Debug, PartialEq, Eq)]
enum Mismatch {
    TooFew,
    TooMany,
    Missing(usize),
    Unused(usize),
    SameName(usize, usize),
}

impl Mismatch {
    fn into_error(self, servers: &[&str], listeners: &[InheritedListener]) -> ActivationError {
        let server_list = || servers.iter().map(|s| (*s).to_owned()).collect();
        let listener_list = || listeners.iter().map(InheritedListener::label).collect();
        match self {
            Mismatch::TooFew => ActivationError::TooFew {
                servers: server_list(),
                listeners: listener_list(),
            },
            Mismatch::TooMany => ActivationError::TooMany {
                servers: server_list(),
                listeners: listener_list(),
            },
            Mismatch::Missing(server) => ActivationError::Missing {
                server: servers[server].to_owned(),
                listeners: listener_list(),
            },
            Mismatch::Unused(listener) => ActivationError::Unused {
                listener: listeners[listener].label(),
                servers: server_list(),
            },
            Mismatch::SameName(server, count) => ActivationError::SameName {
                server: servers[server].to_owned(),
                count,
            },
        }
    }
}

/// For each server, the index of its listener: by name if any listener is
/// named like a server, else in order.
fn match_listeners(servers: &[&str], listeners: &[&str]) -> Result<Vec<usize>, Mismatch> {
    let by_name = listeners.iter().any(|name| servers.contains(name));
    if !by_name {
        return match listeners.len().cmp(&servers.len()) {
            std::cmp::Ordering::Less => Err(Mismatch::TooFew),
            std::cmp::Ordering::Greater => Err(Mismatch::TooMany),
            std::cmp::Ordering::Equal => Ok((0..servers.len()).collect()),
        };
    }
    let mut order = Vec::with_capacity(servers.len());
    for (i, server) in servers.iter().enumerate() {
        let mut named = listeners.iter().enumerate().filter(|(_, n)| *n == server);
        let Some((index, _)) = named.next() else {
            return Err(Mismatch::Missing(i));
        };
        let more = named.count();
        if more > 0 {
            return Err(Mismatch::SameName(i, more + 1));
        }
        order.push(index);
    }
    if let Some(unused) = (0..listeners.len()).find(|index| !order.contains(index)) {
        return Err(Mismatch::Unused(unused));
    }
    Ok(order)
}

/// Checks that `listener` is a listening stream socket of the kind `addr`
/// asks for.
fn check_kind(
    server: &str,
    addr: &ListenAddr,
    listener: &InheritedListener,
) -> Result<(), ActivationError> {
    let expected = match addr {
        ListenAddr::Tcp(_) => "a listening TCP socket",
        ListenAddr::Unix(_) => "a listening Unix stream socket",
    };
    let wrong = |found: String| ActivationError::WrongKind {
        server: server.to_owned(),
        listener: listener.label(),
        expected,
        found,
    };
    let socket = &listener.socket;
    let kind = socket
        .r#type()
        .map_err(|err| wrong(format!("not a socket ({err})")))?;
    if kind != socket2::Type::STREAM {
        return Err(wrong(format!("a socket of type {kind:?}")));
    }
    let domain = socket
        .local_addr()
        .map_err(|err| wrong(format!("a socket without an address ({err})")))?
        .domain();
    let tcp = domain == socket2::Domain::IPV4 || domain == socket2::Domain::IPV6;
    let fits = match addr {
        ListenAddr::Tcp(_) => tcp,
        ListenAddr::Unix(_) => domain == socket2::Domain::UNIX,
    };
    if !fits {
        return Err(wrong(if tcp {
            "a TCP socket".to_owned()
        } else if domain == socket2::Domain::UNIX {
            "a Unix socket".to_owned()
        } else {
            format!("a socket of domain {domain:?}")
        }));
    }
    if !socket.is_listener().unwrap_or(false) {
        return Err(wrong("a socket that does not listen".to_owned()));
    }
    Ok(())
}

#[cfg(unix)]
fn listen_fds() -> io::Result<Vec<(i32, String)>> {
    Ok(sd_notify::listen_fds_with_names()?.collect())
}

#[cfg(not(unix))]
fn listen_fds() -> io::Result<Vec<(i32, String)>> {
    Ok(Vec::new())
}

/// Takes ownership of an inherited descriptor.
#[cfg(unix)]
#[allow(unsafe_code)]
fn adopt(fd: i32) -> Socket {
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: `fd` is one of the descriptors the service manager passed to
    // this process: `sd_notify::listen_fds_with_names` returned it because
    // `LISTEN_PID` is this process and `LISTEN_FDS` counts it (the protocol
    // reserves 3 to 3 + LISTEN_FDS - 1 for them), and nothing else in this
    // process opens or owns them. `TAKEN` makes this run once per process,
    // so the descriptor gets exactly one owner.
    Socket::from(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(unix))]
fn adopt(_fd: i32) -> Socket {
    unreachable!("no descriptor is inherited outside Unix")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_named_like_servers_go_to_them_whatever_their_order() {
        assert_eq!(
            match_listeners(&["api", "admin"], &["admin", "api"]),
            Ok(vec![1, 0])
        );
    }

    #[test]
    fn unnamed_listeners_go_in_declaration_order() {
        assert_eq!(
            match_listeners(&["api", "admin"], &["unknown", "unknown"]),
            Ok(vec![0, 1])
        );
        assert_eq!(
            match_listeners(&["api", "admin"], &["app.socket"]),
            Err(Mismatch::TooFew)
        );
        assert_eq!(
            match_listeners(&["api"], &["unknown", "unknown"]),
            Err(Mismatch::TooMany)
        );
    }

    #[test]
    fn once_one_listener_is_named_like_a_server_every_one_must_be() {
        assert_eq!(
            match_listeners(&["api", "admin"], &["api", "unknown"]),
            Err(Mismatch::Missing(1))
        );
        assert_eq!(
            match_listeners(&["api"], &["api", "metrics"]),
            Err(Mismatch::Unused(1))
        );
        assert_eq!(
            match_listeners(&["api"], &["api", "api"]),
            Err(Mismatch::SameName(0, 2))
        );
    }
}
