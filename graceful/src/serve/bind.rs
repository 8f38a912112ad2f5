//! Before serving: the servers checked, every address resolved (with its
//! environment override), every listener bound or adopted from what the
//! process inherited (see `activation`).

use std::io as stdio;
use std::sync::Arc;

use super::listen::Listener;
use super::server::{Server, Spawn};
use super::tls::{TlsServer, server_tls};
use crate::addr::ListenAddr;
use crate::config::{Overrides, TlsLimits};
use crate::error::Error;
use crate::serve::accounts::ServerShared;
use crate::system::activation::{ActivationError, Inherited, InheritedListener};
use graceful_values::addr::{Address, parse_addr};
use tokio::task::JoinHandle;

/// A server whose listener is bound, not yet accepting.
pub(crate) struct Bound {
    pub(crate) name: Arc<str>,
    pub(crate) addr: ListenAddr,
    /// The inherited listener it serves, named for the log (see `activation`).
    pub(crate) inherited: Option<String>,
    /// Whether the service manager holds its listener too (a socket
    /// unit's), and keeps it once this process is gone.
    pub(crate) managed: bool,
    listener: Listener,
    spawn: Spawn,
    tls: Option<TlsServer>,
}

impl Bound {
    /// The listener's descriptor, for a successor to inherit.
    #[cfg(unix)]
    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        self.listener.raw_fd()
    }

    /// Starts accepting connections.
    pub(crate) fn serve(self, shared: Arc<ServerShared>) -> JoinHandle<()> {
        (self.spawn)(self.listener, shared, self.tls)
    }
}

/// Checks what can be checked before anything starts: at least one server,
/// and unique names that a restart can hand over.
pub(crate) fn validate(servers: &[Server]) -> Result<(), Error> {
    if servers.is_empty() {
        return Err(Error::NoServers);
    }
    for (i, a) in servers.iter().enumerate() {
        if let Err(reason) = graceful_values::check_name(&a.name) {
            return Err(Error::InvalidName {
                name: a.name.clone(),
                declared: a.source,
                reason,
            });
        }
        if let Some(b) = servers[i + 1..].iter().find(|b| b.name == a.name) {
            return Err(Error::DuplicateName {
                name: a.name.clone(),
                first: a.source,
                second: b.source,
            });
        }
    }
    Ok(())
}

/// Binds every listener before serving anything. On any failure, what was
/// bound is released (dropped) and the error names the server, the address
/// and the cause.
/// The servers were checked by [`validate`] before the start.
pub(crate) async fn bind_all(
    servers: Vec<Server>,
    overrides: &Overrides,
    tls_limits: TlsLimits,
) -> Result<Vec<Bound>, Error> {
    let mut resolved = Vec::with_capacity(servers.len());
    for server in servers {
        // Certificates first: a bad one fails the start before any bind.
        let tls = server_tls(
            &server.name,
            server.tls_given(),
            overrides.tls_files(&server.name),
            tls_limits,
        )?;
        let addr_text = overrides
            .addr(&server.name)
            .map_or_else(|| server.addr.clone(), str::to_owned);
        let addr = resolve(&addr_text).await.map_err(|source| Error::Resolve {
            server: server.name.clone(),
            addr: addr_text.clone(),
            source,
        })?;
        if addr.tcp().is_none_or(|tcp| tcp.port() != 0) {
            if let Some((other, _, _)) = resolved
                .iter()
                .find(|(_, a, _): &&(Server, ListenAddr, _)| *a == addr)
            {
                return Err(Error::DuplicateAddr {
                    addr,
                    first: other.name.clone(),
                    first_declared: Box::new(other.source),
                    second: server.name.clone(),
                    second_declared: Box::new(server.source),
                });
            }
        }
        resolved.push((server, addr, tls));
    }

    // Inherited listeners (socket activation, or a restart's handoff) go
    // to the servers they are for; the others are bound.
    let servers: Vec<(&str, &ListenAddr)> = resolved
        .iter()
        .map(|(server, addr, _)| (server.name.as_str(), addr))
        .collect();
    let inherited = match Inherited::take().map_err(Error::Activation)? {
        Some(inherited) => inherited.assign(&servers).map_err(Error::Activation)?,
        None => Vec::new(),
    };
    let mut inherited = inherited.into_iter();
    let mut bound = Vec::with_capacity(resolved.len());
    for (server, addr, tls) in resolved {
        let mut one = match inherited.next().flatten() {
            Some(listener) => adopt(server, listener)?,
            None => bind(server, addr).await?,
        };
        one.tls = tls;
        bound.push(one);
    }
    Ok(bound)
}

/// Binds `server`'s listener at `addr`.
async fn bind(server: Server, addr: ListenAddr) -> Result<Bound, Error> {
    let listener = Listener::bind(&addr).await.map_err(|source| Error::Bind {
        server: server.name.clone(),
        addr: addr.clone(),
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        server: server.name.clone(),
        addr,
        source,
    })?;
    Ok(Bound {
        name: Arc::from(server.name),
        addr,
        inherited: None,
        managed: false,
        listener,
        spawn: server.spawn,
        tls: None,
    })
}

/// Gives `server` the listener it inherited (see `activation`), instead
/// of binding.
fn adopt(server: Server, inherited: InheritedListener) -> Result<Bound, Error> {
    let label = inherited.label();
    let unusable = |err: stdio::Error| {
        Error::Activation(ActivationError::WrongKind {
            server: server.name.clone(),
            listener: label.clone(),
            expected: "a listener this process can serve",
            found: format!("unusable ({err})"),
        })
    };
    let managed = inherited.managed;
    let listener = Listener::inherited(inherited.socket, managed).map_err(unusable)?;
    let addr = listener.local_addr().map_err(unusable)?;
    Ok(Bound {
        name: Arc::from(server.name),
        addr,
        inherited: Some(label),
        managed,
        listener,
        spawn: server.spawn,
        tls: None,
    })
}

/// Parses `addr` with the one parser the attributes use too, then resolves
/// a host name.
pub(super) async fn resolve(addr: &str) -> stdio::Result<ListenAddr> {
    let invalid = |reason: String| stdio::Error::new(stdio::ErrorKind::InvalidInput, reason);
    match parse_addr(addr).map_err(invalid)? {
        Address::Socket(addr) => Ok(ListenAddr::Tcp(addr)),
        Address::Unix(path) => Ok(ListenAddr::Unix(path)),
        Address::Host { host, port } => {
            let found = tokio::net::lookup_host((host.as_str(), port)).await?.next();
            found.map(ListenAddr::Tcp).ok_or_else(|| {
                stdio::Error::new(
                    stdio::ErrorKind::NotFound,
                    "the name resolved to no address",
                )
            })
        }
    }
}
