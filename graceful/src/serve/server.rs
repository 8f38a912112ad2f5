//! [`Server`]: a name, an address and a service, and how it is spawned once
//! its listener is bound.

use std::fmt;
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::accept;
use super::http_service::HttpService;
#[cfg(feature = "tower")]
use super::http_service::TowerService;
use super::listen::Listener;
use super::protocol::Versions;
use super::tls::TlsServer;
use crate::serve::accounts::ServerShared;
use crate::site::Site;

/// How a bound listener is served: the accept loop, with the service.
pub(super) type Spawn =
    Box<dyn FnOnce(Listener, Arc<ServerShared>, Option<TlsServer>) -> JoinHandle<()> + Send>;

/// A named HTTP server: an address and a service.
///
/// The service is any hyper [`Service`](hyper::service::Service) that takes a
/// `Request<Incoming>` and returns a `Response` whose body yields [`Bytes`](bytes::Bytes);
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
    pub(super) name: String,
    pub(super) addr: String,
    pub(super) source: Site,
    pub(super) spawn: Spawn,
    #[cfg(feature = "tls")]
    tls: Option<super::tls::Tls>,
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
        Server::spawning(
            name.into(),
            addr.into(),
            Box::new(move |listener, shared, tls| {
                tokio::spawn(accept::accept_loop(
                    listener,
                    shared,
                    service,
                    tls,
                    Versions::Both,
                ))
            }),
        )
    }

    #[track_caller]
    fn spawning(name: String, addr: String, spawn: Spawn) -> Self {
        Server {
            name,
            addr,
            source: Site::caller(),
            spawn,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// A gRPC server: tonic's services, with the health protocol, over
    /// HTTP/2 alone (see [`Grpc`](crate::Grpc)). Needs the `grpc` feature.
    ///
    /// ```
    /// let server = graceful::Server::grpc("api", "127.0.0.1:50051", graceful::Grpc::new());
    /// assert_eq!(server.name(), "api");
    /// ```
    #[cfg(feature = "grpc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
    #[track_caller]
    pub fn grpc(name: impl Into<String>, addr: impl Into<String>, grpc: super::grpc::Grpc) -> Self {
        Server::spawning(
            name.into(),
            addr.into(),
            Box::new(move |listener, shared, tls| {
                let service = grpc.serve(&shared);
                tokio::spawn(accept::accept_loop(
                    listener,
                    shared,
                    service,
                    tls,
                    Versions::Http2Only,
                ))
            }),
        )
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

    /// Serves TLS: every connection completes a handshake first, within
    /// `tls_handshake_timeout`, with ALPN offering `h2` and `http/1.1`; the
    /// certificate and key are read when the app starts (a bad one is a
    /// start-up error, exit code 2). Needs the `tls` feature.
    ///
    /// ```no_run
    /// # use graceful::hyper::{Response, service::service_fn};
    /// # let svc = service_fn(|_req| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) });
    /// let server = graceful::Server::new("api", "0.0.0.0:8443", svc)
    ///     .tls(graceful::Tls::from_pem_files("tls.crt", "tls.key"));
    /// # drop(server);
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, tls: super::tls::Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The TLS given in code, if any.
    pub(super) fn tls_given(&self) -> Option<&super::tls::Tls> {
        #[cfg(feature = "tls")]
        return self.tls.as_ref();
        #[cfg(not(feature = "tls"))]
        None
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
