//! Servers and callbacks registered by the attributes, through `inventory`,
//! assembled into an [`App`].
//!
//! `inventory` collects registrations from every crate linked into the
//! binary, in an unspecified order: they are sorted here (by name, then path,
//! then source location) so that every run is the same.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Response, StatusCode};

use crate::app::App;
use crate::callbacks::{Callback, ShutdownContext};
use crate::error::Error;
use crate::handle::ShutdownHandle;
use crate::lifecycle::Lifecycle;
use crate::response::{Body, IntoResponse};
use crate::serve::{Request, Server};
use crate::source::Source;
use crate::state::{self, MissingState, States};

/// The future a generated handler wrapper returns: the router's own future,
/// so that a request goes through one boxed future and nothing else.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;
/// A handler as the router calls it: the user's `async fn`, with the states
/// it asked for.
pub type Route = Arc<dyn Fn(Request, &ShutdownHandle) -> HandlerFuture + Send + Sync>;
/// A generated route factory: looks up the handler's states.
pub(crate) type MakeRoute = fn(&States) -> Result<Route, MissingState>;
/// A generated server factory for a handler that is its server's only one:
/// name, address, handle, path, states.
pub(crate) type MakeAlone = fn(
    String,
    String,
    ShutdownHandle,
    Option<&'static str>,
    &States,
) -> Result<Server, MissingState>;
/// A generated service factory: builds the server from the user's `fn`.
pub(crate) type MakeService =
    fn(String, String, ShutdownHandle, &States) -> Result<Server, MissingState>;
/// The future a generated callback wrapper returns.
pub type CallbackFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
/// A callback with the states it asked for.
pub type CallbackRun = Box<dyn FnOnce(ShutdownContext) -> CallbackFuture + Send>;
/// A generated callback factory: looks up the callback's states.
pub(crate) type MakeCallback = fn(&States) -> Result<CallbackRun, MissingState>;

/// One `#[graceful::server]` function.
#[derive(Debug)]
pub struct ServerRegistration {
    /// The server's name.
    pub name: &'static str,
    /// The address, if this function gives it.
    pub addr: Option<&'static str>,
    /// The path this function serves; `None` serves every path no other does.
    pub path: Option<&'static str>,
    /// The function's name.
    pub function: &'static str,
    /// Where it is declared.
    pub file: &'static str,
    /// Where it is declared.
    pub line: u32,
    /// What it is.
    pub kind: ServerKind,
}

/// A handler, or a whole service.
#[derive(Debug)]
pub enum ServerKind {
    /// An `async fn` taking the request.
    Handler {
        /// Its future, boxed, for a router it shares with other handlers.
        route: MakeRoute,
        /// A server of its own, when it is its server's only function: no
        /// router, no box.
        alone: MakeAlone,
    },
    /// A `fn` returning a `tower::Service`, such as an `axum::Router`.
    Service(MakeService),
}

/// One `#[graceful::on_shutdown]` function.
#[derive(Debug)]
pub struct CallbackRegistration {
    /// The callback's name.
    pub name: &'static str,
    /// Its phase.
    pub phase: i32,
    /// Its timeout, if the attribute gives one.
    pub timeout: Option<Duration>,
    /// Where it is declared.
    pub file: &'static str,
    /// Where it is declared.
    pub line: u32,
    /// The generated wrapper.
    pub run: MakeCallback,
}

inventory::collect!(ServerRegistration);
inventory::collect!(CallbackRegistration);

impl ServerRegistration {
    fn source(&self) -> Source {
        Source {
            file: self.file,
            line: self.line,
        }
    }

    fn describe(&self) -> String {
        format!("`{}` at {}", self.function, self.source())
    }
}

/// The lifecycle of the app the attributes assemble, shared with
/// [`shutdown_handle`].
fn global_lifecycle() -> &'static Arc<Lifecycle> {
    static GLOBAL: OnceLock<Arc<Lifecycle>> = OnceLock::new();
    GLOBAL.get_or_init(|| Arc::new(Lifecycle::new()))
}

/// The shutdown handle of the app that `#[graceful::main]` runs (the one
/// [`App::registered`] builds): start the shutdown from anywhere, or see it
/// coming, without passing the handle around.
///
/// ```
/// let handle = graceful::shutdown_handle();
/// assert!(!handle.is_shutting_down());
/// ```
pub fn shutdown_handle() -> ShutdownHandle {
    ShutdownHandle {
        lifecycle: Arc::clone(global_lifecycle()),
    }
}

impl App {
    /// An app with every server and callback that `#[graceful::server]` and
    /// `#[graceful::on_shutdown]` registered, in this binary and in the
    /// libraries it links (see the crate docs on linking). Its handle is
    /// [`shutdown_handle`].
    ///
    /// Functions that share a server name serve one server, by path; the
    /// address is given once. Conflicts are errors naming both functions.
    ///
    /// ```standalone_crate
    /// // A crate of its own: the other doc tests' registrations stay out.
    /// #[graceful::server(addr = "127.0.0.1:0")]
    /// async fn api() -> &'static str {
    ///     "ok"
    /// }
    ///
    /// let app = graceful::App::registered().expect("the registrations fit together");
    /// # drop(app);
    /// ```
    pub fn registered() -> Result<App, Error> {
        let handle = shutdown_handle();
        let mut app = App::with_lifecycle(Arc::clone(&handle.lifecycle));
        let states = state::global();
        let (servers, mut problems) = registered_servers(&handle, states);
        for server in servers {
            app = app.server(server);
        }
        let mut callbacks: Vec<&CallbackRegistration> =
            inventory::iter::<CallbackRegistration>().collect();
        callbacks.sort_by_key(|c| (c.name, c.file, c.line));
        for pair in callbacks
            .windows(2)
            .filter(|pair| pair[0].name == pair[1].name)
        {
            problems.push(format!(
                "callback {:?}: declared twice, at {}:{} and at {}:{}",
                pair[0].name, pair[0].file, pair[0].line, pair[1].file, pair[1].line
            ));
        }
        if !problems.is_empty() {
            return Err(Error::Registration(problems));
        }
        callbacks.sort_by_key(|c| (c.phase, c.name));
        for registration in callbacks {
            let run = match (registration.run)(states) {
                Ok(run) => run,
                Err(missing) => {
                    problems.push(asks_for(
                        &format!("callback `{}`", registration.name),
                        registration.file,
                        registration.line,
                        missing,
                    ));
                    continue;
                }
            };
            let mut callback = Callback::new(registration.name, run)
                .phase(registration.phase)
                .declared_at(Source {
                    file: registration.file,
                    line: registration.line,
                });
            if let Some(timeout) = registration.timeout {
                callback = callback.timeout(timeout);
            }
            app = app.on_shutdown(callback);
        }
        Ok(app)
    }
}

/// The servers, and what does not fit.
fn registered_servers(handle: &ShutdownHandle, states: &States) -> (Vec<Server>, Vec<String>) {
    let mut by_name: BTreeMap<&str, Vec<&ServerRegistration>> = BTreeMap::new();
    for registration in inventory::iter::<ServerRegistration>() {
        by_name
            .entry(registration.name)
            .or_default()
            .push(registration);
    }
    let mut servers = Vec::with_capacity(by_name.len());
    let mut problems = Vec::new();
    for (name, mut group) in by_name {
        group.sort_by_key(|r| (r.path, r.file, r.line));
        match assemble(name, &group, handle, states) {
            Ok(server) => servers.push(server),
            Err(reason) => problems.push(format!("server {name:?}: {reason}")),
        }
    }
    (servers, problems)
}

/// One server from the functions registered under its name.
fn assemble(
    name: &str,
    group: &[&ServerRegistration],
    handle: &ShutdownHandle,
    states: &States,
) -> Result<Server, String> {
    let missing = |r: &ServerRegistration, missing| {
        asks_for(&format!("`{}`", r.function), r.file, r.line, missing)
    };
    // The address is given once; every function that gives one agrees.
    let mut with_addr: Option<(&ServerRegistration, &'static str)> = None;
    for r in group {
        match (with_addr, r.addr) {
            (Some((first, a)), Some(b)) if a != b => {
                return Err(format!(
                    "two addresses: {a:?} from {} and {b:?} from {}",
                    first.describe(),
                    r.describe()
                ));
            }
            (None, Some(addr)) => with_addr = Some((r, addr)),
            _ => {}
        }
    }
    let Some((_, addr)) = with_addr else {
        let functions: Vec<String> = group.iter().map(|r| r.describe()).collect();
        return Err(format!(
            "no address: give `addr = \"ip:port\"` on one of {}",
            functions.join(", ")
        ));
    };
    let source = group[0].source();

    // A service serves the whole server, alone.
    let service = group.iter().find_map(|r| match r.kind {
        ServerKind::Service(make) => Some((*r, make)),
        ServerKind::Handler { .. } => None,
    });
    if let Some((service, make)) = service {
        if let Some(other) = group.iter().find(|r| !std::ptr::eq(**r, service)) {
            return Err(format!(
                "{} serves the whole server, so {} cannot serve it too",
                service.describe(),
                other.describe()
            ));
        }
        // The user's function runs here, at assembly: a panic in it is a
        // start-up error naming it, not a crash.
        let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            make(name.to_owned(), addr.to_owned(), handle.clone(), states)
        }));
        return match made {
            Ok(Ok(server)) => Ok(server.declared_at(source)),
            Ok(Err(absent)) => Err(missing(service, absent)),
            Err(payload) => Err(format!(
                "{} panicked: {}",
                service.describe(),
                crate::error::panic_message(&*payload)
            )),
        };
    }

    // Handlers share it by path (the group is sorted by path).
    if let Some(pair) = group.windows(2).find(|pair| pair[0].path == pair[1].path) {
        return Err(format!(
            "{} and {} both serve {}",
            pair[0].describe(),
            pair[1].describe(),
            pair[0]
                .path
                .map_or("every other path".to_owned(), |p| format!("path {p:?}"))
        ));
    }
    if let [only] = group {
        if let ServerKind::Handler { alone, .. } = only.kind {
            return alone(
                name.to_owned(),
                addr.to_owned(),
                handle.clone(),
                only.path,
                states,
            )
            .map(|server| server.declared_at(source))
            .map_err(|absent| missing(only, absent));
        }
    }
    let mut routes = Routes::default();
    for r in group {
        if let ServerKind::Handler { route, .. } = r.kind {
            let handler = route(states).map_err(|absent| missing(r, absent))?;
            match r.path {
                None => routes.fallback = Some(handler),
                Some(path) if path.ends_with('/') => routes.subtrees.push((path, handler)),
                Some(path) => routes.exact.push((path, handler)),
            }
        }
    }
    // The longest subtree wins, as in Go's ServeMux.
    routes
        .subtrees
        .sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
    let router = Router {
        routes: Arc::new(routes),
        handle: handle.clone(),
    };
    Ok(Server::new(name, addr, router).declared_at(source))
}

/// Why a function cannot be assembled: it asks for a state nobody provided.
fn asks_for(function: &str, file: &str, line: u32, missing: MissingState) -> String {
    format!(
        "{function} at {file}:{line} asks for `State<{}>`, which nothing provided: call `graceful::provide(value)` in `#[graceful::main]`'s body",
        missing.type_name
    )
}

#[derive(Default)]
struct Routes {
    exact: Vec<(&'static str, Route)>,
    subtrees: Vec<(&'static str, Route)>,
    fallback: Option<Route>,
}

impl Routes {
    fn find(&self, path: &str) -> Option<&Route> {
        self.exact
            .iter()
            .find(|(p, _)| serves(p, path))
            .or_else(|| self.subtrees.iter().find(|(p, _)| serves(p, path)))
            .map(|(_, handler)| handler)
            .or(self.fallback.as_ref())
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

/// A server of one handler (see [`ServerKind::Handler`]): the handler's
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

    #[inline]
    fn call(&self, req: Request) -> AloneFuture<F> {
        // The handler's future is built even for a path it does not serve
        // (an `async fn` runs nothing until polled): one shape for both
        // cases, built in place, saves a copy of the request.
        let serves = self.path.is_none_or(|p| serves_request(p, &req));
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

    #[inline]
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

    #[inline]
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
            Some(handler) => handler(req, &self.handle),
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
