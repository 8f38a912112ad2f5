//! What a server serves: the one place the bounds of a service are written.

use bytes::Bytes;
use http::Response;
use http_body::Body;
use hyper::body::Incoming;

use crate::error::BoxError;

/// What a [`Server`](crate::Server) serves: a hyper [`Service`](hyper::service::Service)
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

/// What [`Server::from_tower`](crate::Server::from_tower) serves: a [`tower::Service`](tower_service::Service)
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
