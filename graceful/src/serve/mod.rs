//! Serving: binding the listeners, accepting connections, and handing each to
//! hyper (HTTP/1.1 with keep-alive, and HTTP/2) through hyper-util.

mod accept;
pub(crate) mod accounts;
mod bind;
mod conn;
mod handshakes;
mod io;
mod listen;
mod protocol;
pub(crate) mod response;
pub(crate) mod router;
mod service;
pub(crate) mod stream;

pub(crate) use bind::{Bound, bind_all, validate};

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use http_body::Body;
use hyper::body::Incoming;
use tokio::task::JoinHandle;

use crate::error::BoxError;
use crate::serve::accounts::ServerShared;

use listen::Listener;
pub(crate) use listen::Stream;

use crate::site::Site;

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
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
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
    source: Site,
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
    /// `unix:/path` for a Unix domain socket (see [`ListenAddr`](crate::ListenAddr)). Port 0 picks a free port:
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
            source: Site::caller(),
            spawn: Box::new(move |listener, shared| {
                tokio::spawn(accept::accept_loop(listener, shared, service))
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
    #[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
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
    pub(crate) fn declared_at(mut self, source: Site) -> Self {
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
