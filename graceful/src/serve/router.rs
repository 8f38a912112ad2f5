//! Serving the handlers registered by `#[graceful::server]`: a lone handler
//! as its server's whole service, or several sharing one server by path, as
//! Go's `ServeMux` routes (exact paths first, then the longest subtree, then
//! the fallback).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Response, StatusCode};

use crate::lifecycle::handle::ShutdownHandle;
use crate::serve::http_service::Request;
use crate::serve::response::{Body, IntoResponse};
use crate::serve::server::Server;

/// The future a generated handler wrapper returns: the router's own future,
/// so that a request goes through one boxed future and nothing else.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;
/// A handler as the router calls it: the user's `async fn`, with the states
/// it asked for.
pub type Route = Arc<dyn Fn(&mut Option<Request>, &ShutdownHandle) -> HandlerFuture + Send + Sync>;

#[derive(Default)]
pub(crate) struct Routes {
    exact: Vec<(&'static str, Route)>,
    subtrees: Vec<(&'static str, Route)>,
    fallback: Option<Route>,
}

impl Routes {
    /// Adds a handler for `path`: exact, a subtree when it ends with `/`,
    /// every other path when `None`.
    pub(crate) fn add(&mut self, path: Option<&'static str>, route: Route) {
        match path {
            None => self.fallback = Some(route),
            Some(path) if path.ends_with('/') => self.subtrees.push((path, route)),
            Some(path) => self.exact.push((path, route)),
        }
    }

    /// The server that routes requests to these handlers.
    pub(crate) fn into_server(mut self, name: &str, addr: &str, handle: ShutdownHandle) -> Server {
        // The longest subtree wins, as in Go's ServeMux.
        self.subtrees
            .sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
        let router = Router {
            routes: Arc::new(self),
            handle,
        };
        Server::new(name, addr, router)
    }

    fn find(&self, path: &str) -> Option<&Route> {
        let found = self
            .exact
            .iter()
            .find(|(p, _)| serves(p, path))
            .or_else(|| self.subtrees.iter().find(|(p, _)| serves(p, path)));
        match found {
            Some((pattern, handler)) => {
                // The route's pattern, for the duration histogram.
                #[cfg(feature = "metrics")]
                crate::serve::accounts::durations::matched(pattern);
                #[cfg(not(feature = "metrics"))]
                let _ = pattern;
                Some(handler)
            }
            None => self.fallback.as_ref(),
        }
    }
}

/// [`serves`], out of line: the lone handler's `call` stays small.
#[inline(never)]
fn serves_request(pattern: &str, req: &Request) -> bool {
    serves(pattern, req.uri().path())
}

/// Whether a handler's `path` serves a request's: exactly, or as a subtree
/// when it ends with `/`, as in Go's `ServeMux`.
fn serves(pattern: &str, path: &str) -> bool {
    if pattern.ends_with('/') {
        path.starts_with(pattern)
    } else {
        path == pattern
    }
}

/// A server of one handler (see [`ServerKind::Handler`](crate::__private::ServerKind::Handler)): the handler's
/// future is the server's, unboxed.
pub fn alone<C, F>(
    name: String,
    addr: String,
    handle: ShutdownHandle,
    path: Option<&'static str>,
    call: C,
    convert: fn(F::Output) -> Response<Body>,
) -> Server
where
    C: Fn(Request, &ShutdownHandle) -> F + Clone + Send + 'static,
    F: Future + Send + 'static,
{
    Server::new(
        name,
        addr,
        Alone {
            call,
            convert,
            handle,
            path,
        },
    )
}

struct Alone<C, F: Future> {
    call: C,
    convert: fn(F::Output) -> Response<Body>,
    handle: ShutdownHandle,
    path: Option<&'static str>,
}

impl<C: Clone, F: Future> Clone for Alone<C, F> {
    fn clone(&self) -> Self {
        Alone {
            call: self.call.clone(),
            convert: self.convert,
            handle: self.handle.clone(),
            path: self.path,
        }
    }
}

impl<C, F> hyper::service::Service<Request> for Alone<C, F>
where
    C: Fn(Request, &ShutdownHandle) -> F,
    F: Future,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = AloneFuture<F>;

    #[inline(always)]
    fn call(&self, req: Request) -> AloneFuture<F> {
        // The handler's future is built even for a path it does not serve
        // (an `async fn` runs nothing until polled): one shape for both
        // cases, built in place, saves a copy of the request.
        let serves = self.path.is_none_or(|p| serves_request(p, &req));
        #[cfg(feature = "metrics")]
        if let (true, Some(pattern)) = (serves, self.path) {
            crate::serve::accounts::durations::matched(pattern);
        }
        AloneFuture {
            respond: Respond::new((self.call)(req, &self.handle), self.convert),
            serves,
        }
    }
}

pin_project_lite::pin_project! {
    /// The lone handler's future; polled only if the handler serves the path.
    pub(crate) struct AloneFuture<F: Future> {
        #[pin]
        respond: Respond<F>,
        serves: bool,
    }
}

impl<F: Future> Future for AloneFuture<F> {
    type Output = Result<Response<Body>, Infallible>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.serves {
            this.respond.poll(cx)
        } else {
            Poll::Ready(Ok(not_found()))
        }
    }
}

pin_project_lite::pin_project! {
    /// A handler's future, whose output becomes the response.
    pub(crate) struct Respond<F: Future> {
        #[pin]
        handler: F,
        convert: fn(F::Output) -> Response<Body>,
    }
}

impl<F: Future> Respond<F> {
    pub(crate) fn new(handler: F, convert: fn(F::Output) -> Response<Body>) -> Self {
        Respond { handler, convert }
    }
}

impl<F: Future> Future for Respond<F> {
    type Output = Result<Response<Body>, Infallible>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.handler
            .poll(cx)
            .map(|output| Ok((this.convert)(output)))
    }
}

fn not_found() -> Response<Body> {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// The handlers that share one server, routed by path.
#[derive(Clone)]
struct Router {
    routes: Arc<Routes>,
    handle: ShutdownHandle,
}

impl hyper::service::Service<Request> for Router {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = HandlerFuture;

    fn call(&self, req: Request) -> HandlerFuture {
        match self.routes.find(req.uri().path()) {
            Some(handler) => handler(&mut Some(req), &self.handle),
            None => Box::pin(std::future::ready(Ok(not_found()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> Route {
        Arc::new(|_req, _handle| Box::pin(std::future::ready(Ok(not_found()))))
    }

    #[test]
    fn a_path_serves_exactly_and_a_trailing_slash_serves_its_subtree() {
        assert!(serves("/users", "/users"));
        assert!(!serves("/users", "/users/42"));
        assert!(!serves("/users", "/users2"));
        assert!(serves("/users/", "/users/42"));
        assert!(serves("/users/", "/users/"));
        assert!(!serves("/users/", "/users"));
        assert!(serves("/", "/anything"));
    }

    #[test]
    fn exact_paths_win_then_the_longest_subtree_then_the_fallback() {
        let (exact, v1, api, fallback) = (route(), route(), route(), route());
        let mut routes = Routes {
            exact: vec![("/api/health", Arc::clone(&exact))],
            // Sorted longest first, as `assemble` does.
            subtrees: vec![("/api/v1/", Arc::clone(&v1)), ("/api/", Arc::clone(&api))],
            fallback: Some(Arc::clone(&fallback)),
        };
        let found = |routes: &Routes, path: &str, expected: &Route| {
            routes.find(path).is_some_and(|r| Arc::ptr_eq(r, expected))
        };
        assert!(found(&routes, "/api/health", &exact));
        assert!(found(&routes, "/api/v1/users", &v1));
        assert!(found(&routes, "/api/v2/users", &api));
        assert!(found(&routes, "/other", &fallback));
        routes.fallback = None;
        assert!(routes.find("/other").is_none());
    }
}
