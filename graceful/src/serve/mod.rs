//! Serving: binding the listeners, accepting connections, and handing each to
//! hyper (HTTP/1.1 with keep-alive, and HTTP/2) through hyper-util.

pub(crate) mod accounts;
mod conn;
mod handshakes;
mod io;
mod listen;
mod protocol;
mod service;

use std::fmt;
use std::future::{Future, poll_fn};
use std::io as stdio;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use protocol::Protocols;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body::Body;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::activation::{ActivationError, Inherited};
use crate::config::{self, Lookup};
use crate::error::{BoxError, Error};
use crate::lifecycle::{Moment, Phase};
use crate::serve::accounts::{ConnState, Roster, ServerShared};

use listen::Listener;
pub(crate) use listen::Stream;

use crate::addr::{ListenAddr, UNIX_PREFIX};
use crate::source::Source;

type Spawn = Box<dyn FnOnce(Listener, Arc<ServerShared>) -> JoinHandle<()> + Send>;

/// What a [`Server`] serves: a hyper [`Service`](hyper::service::Service)
/// taking a [`Request`] and returning a `Response` whose body yields
/// [`Bytes`], cloneable and sendable between threads. Implemented for every
/// such type (and sealed): these bounds are written here once.
///
/// ```
/// use graceful::{HttpService, Request};
/// use graceful::hyper::{Response, service::service_fn};
///
/// fn serves<S: HttpService>(_: &S) {}
/// serves(&service_fn(|_req: Request| async {
///     Ok::<_, std::convert::Infallible>(Response::new(String::from("ok")))
/// }));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a service graceful can serve",
    note = "serve a `hyper::service::Service<Request<Incoming>>` returning `Response<B>` with `B: Body<Data = Bytes>`, `Clone + Send + 'static`: `service_fn` makes one from an `async fn`"
)]
pub trait HttpService:
    sealed::Sealed
    + hyper::service::Service<
        Request<Incoming>,
        Response = Response<Self::ResBody>,
        Future: Send + 'static,
        Error: Into<BoxError>,
    > + Clone
    + Send
    + 'static
{
    /// The response body.
    type ResBody: Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static;
}

impl<S, B> HttpService for S
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type ResBody = B;
}

/// What [`Server::from_tower`] serves: a [`tower::Service`](tower_service::Service)
/// with the bounds of an [`HttpService`] (an `axum::Router` is one).
/// Implemented for every such type (and sealed).
#[cfg(feature = "tower")]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tower service graceful can serve",
    note = "serve a `tower::Service<Request<Incoming>>` returning `Response<B>` with `B: Body<Data = Bytes>`, `Clone + Send + 'static`, such as an `axum::Router`"
)]
pub trait TowerService:
    sealed::Sealed
    + tower_service::Service<
        Request<Incoming>,
        Response = Response<Self::ResBody>,
        Future: Send + 'static,
        Error: Into<BoxError>,
    > + Clone
    + Send
    + 'static
{
    /// The response body.
    type ResBody: Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static;
}

#[cfg(feature = "tower")]
impl<S, B> TowerService for S
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type ResBody = B;
}

mod sealed {
    /// Keeps [`HttpService`](super::HttpService) and `TowerService` ours.
    pub trait Sealed {}
    impl<T> Sealed for T {}
}

/// The request a handler receives.
pub type Request<B = Incoming> = http::Request<B>;

/// A named HTTP server: an address and a service.
///
/// The service is any hyper [`Service`](hyper::service::Service) that takes a
/// `Request<Incoming>` and returns a `Response` whose body yields [`Bytes`];
/// [`service_fn`](hyper::service::service_fn) turns an async function into one.
///
/// ```
/// use std::convert::Infallible;
/// use graceful::{Request, Server};
/// use graceful::hyper::{Response, service::service_fn};
///
/// async fn hello(_req: Request) -> Result<Response<String>, Infallible> {
///     Ok(Response::new("hello world".to_owned()))
/// }
///
/// let server = Server::new("service1", "127.0.0.1:8081", service_fn(hello));
/// assert_eq!(server.name(), "service1");
/// ```
pub struct Server {
    name: String,
    addr: String,
    source: Source,
    spawn: Spawn,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server named `name` that will listen on `addr` and answer with `service`.
    ///
    /// `addr` is `ip:port` or `host:port` (a host name is resolved at
    /// start-up and the first address it resolves to is bound), or
    /// `unix:/path` for a Unix domain socket (see [`ListenAddr`]). Port 0 picks a free port:
    /// [`Running::local_addr`](crate::Running::local_addr) tells which.
    /// `GRACEFUL_ADDR_<NAME>` overrides it at run time.
    ///
    /// ```
    /// # use graceful::hyper::{Response, service::service_fn};
    /// let server = graceful::Server::new("api", "localhost:0", service_fn(|_req| async {
    ///     Ok::<_, std::convert::Infallible>(Response::new(String::from("ok")))
    /// }));
    /// assert_eq!(server.addr(), "localhost:0");
    /// ```
    #[track_caller]
    pub fn new<S: HttpService>(
        name: impl Into<String>,
        addr: impl Into<String>,
        service: S,
    ) -> Self {
        Server {
            name: name.into(),
            addr: addr.into(),
            source: Source::caller(),
            spawn: Box::new(move |listener, shared| {
                tokio::spawn(accept_loop(listener, shared, service))
            }),
        }
    }

    /// A server answering with a [`tower::Service`](tower_service::Service),
    /// such as an `axum::Router`, so that its routing and middleware stay
    /// and the lifecycle is ours. Needs the `tower` feature.
    ///
    /// ```
    /// let router = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    /// let server = graceful::Server::from_tower("api", "127.0.0.1:8080", router);
    /// assert_eq!(server.name(), "api");
    /// ```
    #[cfg(feature = "tower")]
    #[track_caller]
    pub fn from_tower<S: TowerService>(
        name: impl Into<String>,
        addr: impl Into<String>,
        service: S,
    ) -> Self {
        Server::new(
            name,
            addr,
            hyper_util::service::TowerToHyperService::new(service),
        )
    }

    /// Sets where the server was declared, for error messages.
    pub(crate) fn declared_at(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    /// The server's name.
    ///
    /// ```
    /// # use graceful::hyper::{Response, service::service_fn};
    /// # let svc = service_fn(|_req| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) });
    /// assert_eq!(graceful::Server::new("api", "127.0.0.1:0", svc).name(), "api");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address as declared (before any environment override).
    ///
    /// ```
    /// # use graceful::hyper::{Response, service::service_fn};
    /// # let svc = service_fn(|_req| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) });
    /// assert_eq!(graceful::Server::new("api", "127.0.0.1:0", svc).addr(), "127.0.0.1:0");
    /// ```
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

/// A server whose listener is bound, not yet accepting.
pub(crate) struct Bound {
    pub(crate) name: Arc<str>,
    pub(crate) addr: ListenAddr,
    /// The inherited listener it serves, named for the log (see `activation`).
    pub(crate) inherited: Option<String>,
    listener: Listener,
    spawn: Spawn,
}

impl Bound {
    /// The listener's descriptor, for a successor to inherit.
    #[cfg(unix)]
    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        self.listener.raw_fd()
    }

    /// Starts accepting connections.
    pub(crate) fn serve(self, shared: Arc<ServerShared>) -> JoinHandle<()> {
        (self.spawn)(self.listener, shared)
    }
}

/// Checks what can be checked before anything starts: at least one server,
/// and unique names.
pub(crate) fn validate(servers: &[Server]) -> Result<(), Error> {
    if servers.is_empty() {
        return Err(Error::NoServers);
    }
    for (i, a) in servers.iter().enumerate() {
        if let Some(b) = servers[i + 1..].iter().find(|b| b.name == a.name) {
            return Err(Error::DuplicateName {
                name: a.name.clone(),
                first: a.source.to_string(),
                second: b.source.to_string(),
            });
        }
    }
    Ok(())
}

/// Binds every listener before serving anything. On any failure, what was
/// bound is released (dropped) and the error names the server, the address
/// and the cause.
/// The servers were checked by [`validate`] before the start.
pub(crate) async fn bind_all(servers: Vec<Server>, env: Lookup<'_>) -> Result<Vec<Bound>, Error> {
    let mut resolved = Vec::with_capacity(servers.len());
    for server in servers {
        let var = format!(
            "{}{}",
            config::ENV_ADDR_PREFIX,
            config::env_suffix(&server.name)
        );
        let addr_text = env(&var).unwrap_or_else(|| server.addr.clone());
        let addr = resolve(&addr_text).await.map_err(|source| Error::Resolve {
            server: server.name.clone(),
            addr: addr_text.clone(),
            source,
        })?;
        if addr.tcp().is_none_or(|tcp| tcp.port() != 0) {
            if let Some((other, _)) = resolved
                .iter()
                .find(|(_, a): &&(Server, ListenAddr)| *a == addr)
            {
                return Err(Error::DuplicateAddr {
                    addr,
                    first: format!("{:?} ({})", other.name, other.source),
                    second: format!("{:?} ({})", server.name, server.source),
                });
            }
        }
        resolved.push((server, addr));
    }

    if let Some(inherited) = Inherited::take().map_err(Error::Activation)? {
        return adopt_all(resolved, inherited);
    }
    let mut bound = Vec::with_capacity(resolved.len());
    for (server, addr) in resolved {
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
        bound.push(Bound {
            name: Arc::from(server.name),
            addr,
            inherited: None,
            listener,
            spawn: server.spawn,
        });
    }
    Ok(bound)
}

/// Gives every server its listener inherited from the service manager,
/// instead of binding (see `activation`).
fn adopt_all(
    resolved: Vec<(Server, ListenAddr)>,
    inherited: Inherited,
) -> Result<Vec<Bound>, Error> {
    let servers: Vec<(&str, &ListenAddr)> = resolved
        .iter()
        .map(|(server, addr)| (server.name.as_str(), addr))
        .collect();
    let listeners = inherited.assign(&servers).map_err(Error::Activation)?;
    let mut bound = Vec::with_capacity(resolved.len());
    for ((server, _), inherited) in resolved.into_iter().zip(listeners) {
        let label = inherited.label();
        let unusable = |err: stdio::Error| {
            Error::Activation(ActivationError::WrongKind {
                server: server.name.clone(),
                listener: label.clone(),
                expected: "a listener this process can serve",
                found: format!("unusable ({err})"),
            })
        };
        let listener = Listener::inherited(inherited.socket).map_err(unusable)?;
        let addr = listener.local_addr().map_err(unusable)?;
        bound.push(Bound {
            name: Arc::from(server.name),
            addr,
            inherited: Some(label),
            listener,
            spawn: server.spawn,
        });
    }
    Ok(bound)
}

async fn resolve(addr: &str) -> stdio::Result<ListenAddr> {
    if let Some(path) = addr.strip_prefix(UNIX_PREFIX) {
        if path.is_empty() {
            return Err(stdio::Error::new(
                stdio::ErrorKind::InvalidInput,
                "a Unix socket's path is missing: write unix:/path/to/socket",
            ));
        }
        return Ok(ListenAddr::Unix(path.into()));
    }
    if let Ok(addr) = addr.parse() {
        return Ok(ListenAddr::Tcp(addr));
    }
    check_port(addr)?;
    let found = tokio::net::lookup_host(addr).await?.next();
    found.map(ListenAddr::Tcp).ok_or_else(|| {
        stdio::Error::new(
            stdio::ErrorKind::NotFound,
            "the name resolved to no address",
        )
    })
}

/// An address to resolve is `host:port`: says so when the port is missing
/// or is not a number, instead of the resolver's "invalid socket address".
fn check_port(addr: &str) -> stdio::Result<()> {
    let invalid = |reason: String| stdio::Error::new(stdio::ErrorKind::InvalidInput, reason);
    if addr.parse::<std::net::IpAddr>().is_ok() {
        return Err(invalid(format!(
            "a port is missing: write {}:PORT",
            if addr.contains(':') {
                format!("[{addr}]")
            } else {
                addr.to_owned()
            }
        )));
    }
    match addr.rsplit_once(':') {
        None => Err(invalid(format!(
            "a port is missing: write {addr}:PORT, such as {addr}:8080"
        ))),
        Some((_, port)) if port.parse::<u16>().is_err() => Err(invalid(format!(
            "{port:?} is not a port: write a number from 0 to 65535"
        ))),
        Some(_) => Ok(()),
    }
}

/// Runs HTTP/2 streams as tasks the drain waits for, and aborts them at the
/// drain deadline like the connections they belong to.
#[derive(Clone, Debug)]
pub(crate) struct StreamExecutor {
    server: Arc<ServerShared>,
}

impl<F> hyper::rt::Executor<F> for StreamExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        let server = Arc::clone(&self.server);
        self.server.tasks.spawn(async move {
            let lifecycle = &*server.lifecycle;
            let mut cancelled = pin!(lifecycle.cancelled());
            let mut moment = Moment::new(lifecycle, Phase::CutOff, cancelled.as_mut());
            let mut fut = pin!(fut);
            poll_fn(|cx| {
                if moment.has_come(cx) {
                    return Poll::Ready(());
                }
                fut.as_mut().poll(cx).map(drop)
            })
            .await
        });
    }
}

/// Accepts connections until the listener must close, then serves what the
/// kernel had already accepted (instead of resetting it) and closes.
async fn accept_loop<S: HttpService>(listener: Listener, server: Arc<ServerShared>, service: S) {
    let builder = Arc::new(Protocols::new(StreamExecutor {
        server: Arc::clone(&server),
    }));
    let lifecycle = &*server.lifecycle;
    let mut refusing = pin!(lifecycle.refusing());
    let mut moment = Moment::new(lifecycle, Phase::Refusing, refusing.as_mut());
    let mut roster = Roster::default();
    loop {
        let accepted = poll_fn(|cx| {
            if moment.has_come(cx) {
                return Poll::Ready(None);
            }
            listener.poll_accept(cx).map(Some)
        })
        .await;
        match accepted {
            None => break,
            Some(Ok(stream)) => spawn_connection(stream, &server, &builder, &service, &mut roster),
            Some(Err(err)) if is_connection_error(&err) => {}
            Some(Err(err)) => {
                // Out of file descriptors, most likely: back off instead of spinning.
                tracing::error!(server = %server.name, error = %err, "accept failed");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    () = lifecycle.refusing() => break,
                }
            }
        }
    }
    if lifecycle.is_handed_over() {
        // A successor serves these listeners: what waits in their queue is
        // its to take, and nothing is reset when this process lets go.
        listener.let_go();
        server.hand_in(roster);
        tracing::info!(name = %server.name, addr = %server.addr, "listener handed over");
        return;
    }
    // Closing a listener resets every connection the kernel has completed
    // but we have not accepted, and every handshake under way: first stop
    // new handshakes, serve what completes while any is under way, then
    // close (see `handshakes`). A Unix socket has no handshake: what
    // connected is already accepted.
    let fenced = match listener.as_tcp() {
        Some(tcp) if handshakes::stop(tcp, &server.name) => {
            settle(
                &listener,
                tcp,
                &server,
                &builder,
                service.clone(),
                &mut roster,
            )
            .await;
            true
        }
        _ => false,
    };
    take_accepted(&listener, &server, &builder, &service, &mut roster);
    server.hand_in(roster);
    let shared = server.inherited || lifecycle.listeners_shared();
    if let (true, true, Some(tcp)) = (fenced, shared, listener.as_tcp()) {
        // Another process may hold this listener too (a socket unit, a
        // restart's successor): it must outlive us without the filter, so
        // that what connects next waits in its queue for that process.
        handshakes::resume(tcp, &server.name);
    }
    // A Unix socket's file goes with it.
    drop(listener);
    tracing::info!(name = %server.name, addr = %server.addr, "listener closed");
}

/// Serves every connection the kernel has accepted, without waiting.
fn take_accepted<S: HttpService>(
    listener: &Listener,
    server: &Arc<ServerShared>,
    builder: &Arc<Protocols>,
    service: &S,
    roster: &mut Roster<ConnState>,
) {
    loop {
        match listener.accept_now() {
            Ok(Some(stream)) => spawn_connection(stream, server, builder, service, roster),
            Ok(None) => return,
            Err(err) if is_connection_error(&err) => {}
            Err(err) => {
                tracing::warn!(server = %server.name, error = %err, "accept failed while closing the listener");
                return;
            }
        }
    }
}

fn spawn_connection<S: HttpService>(
    stream: Stream,
    server: &Arc<ServerShared>,
    builder: &Arc<Protocols>,
    service: &S,
    roster: &mut Roster<ConnState>,
) {
    server.stats.connections.fetch_add(1, Relaxed);
    let conn = Arc::new(ConnState::new(Arc::clone(server), &stream));
    roster.enter(&conn);
    server.tasks.spawn(conn::serve_connection(
        stream,
        conn,
        Arc::clone(builder),
        service.clone(),
    ));
}

/// Serves the connections that complete while handshakes are under way on
/// a listener that takes no new ones, until none is, or for
/// [`handshakes::LIMIT`] at most.
async fn settle<S: HttpService>(
    listener: &Listener,
    tcp: &TcpListener,
    server: &Arc<ServerShared>,
    builder: &Arc<Protocols>,
    service: S,
    roster: &mut Roster<ConnState>,
) {
    let since = tokio::time::Instant::now();
    loop {
        take_accepted(listener, server, builder, &service, roster);
        match handshakes::under_way(tcp) {
            Ok(0) => return,
            Ok(n) if since.elapsed() >= handshakes::LIMIT => {
                tracing::debug!(server = %server.name, handshakes = n, "closing the listener with handshakes under way");
                return;
            }
            Ok(_) => tokio::time::sleep(handshakes::POLL).await,
            Err(err) => {
                // The kernel cannot be asked: wait as long as a handshake
                // on a local network takes.
                tracing::debug!(server = %server.name, error = %err, "cannot count handshakes under way");
                tokio::time::sleep(handshakes::BLIND_SETTLE).await;
                return;
            }
        }
    }
}

/// Errors about one connection, not the listener: the next accept may succeed.
fn is_connection_error(err: &stdio::Error) -> bool {
    matches!(
        err.kind(),
        stdio::ErrorKind::ConnectionRefused
            | stdio::ErrorKind::ConnectionAborted
            | stdio::ErrorKind::ConnectionReset
    )
}
