//! gRPC: tonic's services served with the lifecycle, and the health
//! protocol answered from it (see `health`).
//!
//! A gRPC server speaks HTTP/2 only. Its requests are requests like any
//! other: counted, drained, cut at the drain deadline and named in the
//! report (`POST /package.Service/Method`); one that arrives on a
//! connection being closed is answered `UNAVAILABLE` (see `service`), and
//! each carries a [`ShutdownHandle`] in its extensions, so that a streaming
//! handler can end its stream when the shutdown begins.

mod health;

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::lifecycle::handle::ShutdownHandle;
use crate::serve::accounts::ServerShared;

/// The gRPC services a server serves: add them as to tonic's
/// [`Routes`](tonic::service::Routes), and serve them with
/// [`Server::grpc`](crate::Server::grpc) or by returning this from a
/// `#[graceful::server]` function. Needs the `grpc` feature.
///
/// The health protocol (`grpc.health.v1.Health`) comes with it, answered
/// from the lifecycle: `""` and every service added are `SERVING` while
/// the app runs, and `NOT_SERVING` from the first signal on, for good;
/// `Watch` streams hear it, and end when the drain begins.
///
/// ```
/// # use tonic_health::pb::health_server::HealthServer;
/// # #[derive(Clone)] struct Echo;
/// # fn echo_server() -> impl tonic::server::NamedService + Clone { EchoServer }
/// # #[derive(Clone)] struct EchoServer;
/// # impl tonic::server::NamedService for EchoServer { const NAME: &'static str = "demo.Echo"; }
/// # impl tower_service::Service<http::Request<tonic::body::Body>> for EchoServer {
/// #     type Response = http::Response<tonic::body::Body>;
/// #     type Error = std::convert::Infallible;
/// #     type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
/// #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> { std::task::Poll::Ready(Ok(())) }
/// #     fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future { unimplemented!() }
/// # }
/// let grpc = graceful::Grpc::new().add_service(EchoServer); // a tonic-generated `EchoServer::new(..)`
/// assert_eq!(grpc.services(), ["demo.Echo"]);
/// let server = graceful::Server::grpc("api", "0.0.0.0:50051", grpc);
/// # drop(server);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
#[derive(Clone, Default)]
pub struct Grpc {
    routes: Routes,
    services: Vec<&'static str>,
}

impl fmt::Debug for Grpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grpc")
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}

impl Grpc {
    /// No service yet; the health service is added when the server starts.
    ///
    /// ```
    /// assert!(graceful::Grpc::new().services().is_empty());
    /// ```
    pub fn new() -> Self {
        Grpc::default()
    }

    /// Adds a service, such as a tonic-generated `GreeterServer::new(..)`
    /// (the same bounds as tonic's [`Routes::add_service`]). Its name is
    /// reported by the health service. A health service of your own
    /// (`grpc.health.v1.Health`, from tonic-health) replaces the built-in
    /// one, and its statuses are then yours to set.
    ///
    /// # Panics
    ///
    /// If a service of the same name was added already, as tonic does. In
    /// a `#[graceful::server]` function, that is a start-up error naming
    /// the function (exit code 2), before anything listens.
    ///
    /// ```
    /// # #[derive(Clone)] struct EchoServer;
    /// # impl tonic::server::NamedService for EchoServer { const NAME: &'static str = "demo.Echo"; }
    /// # impl tower_service::Service<http::Request<tonic::body::Body>> for EchoServer {
    /// #     type Response = http::Response<tonic::body::Body>;
    /// #     type Error = std::convert::Infallible;
    /// #     type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
    /// #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> { std::task::Poll::Ready(Ok(())) }
    /// #     fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future { unimplemented!() }
    /// # }
    /// let grpc = graceful::Grpc::new().add_service(EchoServer);
    /// assert_eq!(grpc.services(), ["demo.Echo"]);
    /// ```
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: tower_service::Service<Request<tonic::body::Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        assert!(
            !self.services.contains(&S::NAME),
            "the gRPC service `{}` is added twice",
            S::NAME
        );
        self.services.push(S::NAME);
        self.routes = self.routes.add_service(service);
        self
    }

    /// The names of the services added, as the health service knows them.
    ///
    /// ```
    /// assert_eq!(graceful::Grpc::new().services(), [] as [&str; 0]);
    /// ```
    pub fn services(&self) -> &[&'static str] {
        &self.services
    }

    /// What one server serves: these services and the health service, on
    /// the server's lifecycle.
    pub(super) fn serve(self, server: &ServerShared) -> GrpcService {
        let own_health = self.services.contains(&health::NAME);
        let routes = if own_health {
            self.routes
        } else {
            let health = health::Health::new(Arc::clone(&server.lifecycle), self.services);
            self.routes.add_service(health.into_server())
        };
        GrpcService {
            routes: routes.prepare(),
            handle: server.handle(),
        }
    }
}

/// The services of one server, as hyper calls them.
#[derive(Debug)]
pub(crate) struct GrpcService {
    routes: Routes,
    /// Cloned into every request's extensions; each connection has its own
    /// (see [`ShutdownHandle::separate`]).
    handle: ShutdownHandle,
}

impl Clone for GrpcService {
    fn clone(&self) -> Self {
        GrpcService {
            routes: self.routes.clone(),
            handle: self.handle.separate(),
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for GrpcService {
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = <Routes as tower_service::Service<Request<Incoming>>>::Future;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(self.handle.clone());
        // tonic's routes are always ready (an axum router is); a clone per
        // call is how tower services are called from `&self`, as tonic's
        // own server does.
        tower_service::Service::call(&mut self.routes.clone(), req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_health_service_of_ones_own_is_known_by_its_name() {
        let (_reporter, own) = tonic_health::server::health_reporter();
        let grpc = Grpc::new().add_service(own);
        assert_eq!(grpc.services(), [health::NAME]);
        assert_eq!(health::NAME, "grpc.health.v1.Health");
    }

    #[test]
    #[should_panic(expected = "the gRPC service `grpc.health.v1.Health` is added twice")]
    fn a_service_added_twice_is_refused() {
        let (_, first) = tonic_health::server::health_reporter();
        let (_, second) = tonic_health::server::health_reporter();
        let _ = Grpc::new().add_service(first).add_service(second);
    }
}
