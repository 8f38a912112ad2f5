//! Servers, callbacks and tasks registered by the attributes, through `inventory`,
//! assembled into an [`App`] (the callbacks and tasks by `one_shot`).
//!
//! `inventory` collects registrations from every crate linked into the
//! binary, in an unspecified order: they are sorted here (by name, then path,
//! then source location) so that every run is the same.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::app::params::Assembly;
use crate::app::state::{self, MissingState, States};
use crate::app::{App, one_shot};
use crate::error::{Error, Problem};
use crate::lifecycle::handle::ShutdownHandle;
use crate::serve::Server;
use crate::serve::router::{Route, Routes};
use crate::site::Site;

/// A generated route factory: looks up the handler's parameters.
pub(crate) type MakeRoute = fn(Assembly<'_>) -> Result<Route, MissingState>;
/// A generated server factory for a handler that is its server's only one:
/// name, address, path, and what the app has.
pub(crate) type MakeAlone =
    fn(String, String, Option<&'static str>, Assembly<'_>) -> Result<Server, MissingState>;
/// A generated service factory: builds the server from the user's `fn`.
pub(crate) type MakeService = fn(String, String, Assembly<'_>) -> Result<Server, MissingState>;

/// One `#[graceful::server]` function.
#[derive(Debug)]
pub struct ServerRegistration {
    /// The server's name.
    pub name: &'static str,
    /// The address, if this function gives it.
    pub addr: Option<&'static str>,
    /// The path this function serves; `None` serves every path no other does.
    pub path: Option<&'static str>,
    /// Its TLS files, given with the address (feature `tls`).
    pub tls: Option<TlsFiles>,
    /// The function's name.
    pub function: &'static str,
    /// Where it is declared.
    pub file: &'static str,
    /// Where it is declared.
    pub line: u32,
    /// What it is.
    pub kind: ServerKind,
}

/// A server's TLS certificate chain and key files, as `#[graceful::server]`
/// gives them.
#[derive(Debug, Clone, Copy)]
pub struct TlsFiles {
    /// The certificate chain, PEM.
    pub cert: &'static str,
    /// Its private key, PEM.
    pub key: &'static str,
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

inventory::collect!(ServerRegistration);

impl ServerRegistration {
    fn site(&self) -> Site {
        Site::function(self.function, self.file, self.line)
    }
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
    static GLOBAL: OnceLock<ShutdownHandle> = OnceLock::new();
    GLOBAL.get_or_init(ShutdownHandle::new).clone()
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
        App::with_handle(shutdown_handle()).with_registered()
    }

    /// Adds what `#[graceful::server]` and `#[graceful::on_shutdown]`
    /// registered to this app, which must be on the process-wide lifecycle
    /// of [`shutdown_handle`].
    pub(crate) fn with_registered(self) -> Result<App, Error> {
        let handle = shutdown_handle();
        let mut app = self;
        let states = state::global();
        let (servers, mut problems) = registered_servers(&handle, states);
        problems.extend(
            states
                .provided_twice()
                .into_iter()
                .map(|twice| Problem::ProvidedTwice {
                    state: twice.state,
                    first: twice.first,
                    second: twice.second,
                }),
        );
        for server in servers {
            app = app.server(server);
        }
        app = one_shot::add_registered(app, &handle, states, &mut problems);
        if !problems.is_empty() {
            return Err(Error::Registration(problems));
        }
        Ok(app)
    }
}

/// The servers, and what does not fit.
fn registered_servers(handle: &ShutdownHandle, states: &States) -> (Vec<Server>, Vec<Problem>) {
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
            Err(problem) => problems.push(problem),
        }
    }
    (servers, problems)
}

/// One server from the functions registered under its name.
#[allow(
    clippy::result_large_err,
    reason = "runs once per server at the start; a problem is listed, not passed along"
)]
fn assemble(
    name: &str,
    group: &[&ServerRegistration],
    handle: &ShutdownHandle,
    states: &States,
) -> Result<Server, Problem> {
    let server = || name.to_owned();
    let assembly = Assembly { states, handle };
    let missing = |r: &ServerRegistration, missing: MissingState| Problem::MissingState {
        function: r.site(),
        state: missing.type_name,
    };
    // The address is given once; every function that gives one agrees.
    let mut with_addr: Option<(&ServerRegistration, &'static str)> = None;
    for r in group {
        match (with_addr, r.addr) {
            (Some((first, a)), Some(b)) if a != b => {
                return Err(Problem::TwoAddresses {
                    server: server(),
                    first: first.site(),
                    first_addr: a.to_owned(),
                    second: r.site(),
                    second_addr: b.to_owned(),
                });
            }
            (None, Some(addr)) => with_addr = Some((r, addr)),
            _ => {}
        }
    }
    let Some((declaring, addr)) = with_addr else {
        return Err(Problem::NoAddress {
            server: server(),
            functions: group.iter().map(|r| r.site()).collect(),
        });
    };
    let source = group[0].site();
    let tls = declaring.tls;
    let finish = |server: Server| with_tls(server.declared_at(source), tls);

    // A service serves the whole server, alone.
    let service = group.iter().find_map(|r| match r.kind {
        ServerKind::Service(make) => Some((*r, make)),
        ServerKind::Handler { .. } => None,
    });
    if let Some((service, make)) = service {
        if let Some(other) = group.iter().find(|r| !std::ptr::eq(**r, service)) {
            return Err(Problem::NotAlone {
                server: server(),
                service: service.site(),
                other: other.site(),
            });
        }
        // The user's function runs here, at assembly: a panic in it is a
        // start-up error naming it, not a crash.
        let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            make(name.to_owned(), addr.to_owned(), assembly)
        }));
        return match made {
            Ok(Ok(server)) => Ok(finish(server)),
            Ok(Err(absent)) => Err(missing(service, absent)),
            Err(payload) => Err(Problem::Panicked {
                function: service.site(),
                message: crate::error::panic_message(&*payload).to_owned(),
            }),
        };
    }

    // Handlers share it by path (the group is sorted by path).
    if let Some(pair) = group.windows(2).find(|pair| pair[0].path == pair[1].path) {
        return Err(Problem::SamePath {
            server: server(),
            path: pair[0].path.map(str::to_owned),
            first: pair[0].site(),
            second: pair[1].site(),
        });
    }
    if let [only] = group {
        if let ServerKind::Handler { alone, .. } = only.kind {
            return alone(name.to_owned(), addr.to_owned(), only.path, assembly)
                .map(finish)
                .map_err(|absent| missing(only, absent));
        }
    }
    let mut routes = Routes::default();
    for r in group {
        if let ServerKind::Handler { route, .. } = r.kind {
            routes.add(
                r.path,
                route(assembly).map_err(|absent| missing(r, absent))?,
            );
        }
    }
    Ok(finish(routes.into_server(name, addr, handle.clone())))
}

/// `server`, serving the TLS its attribute gave.
#[cfg(feature = "tls")]
fn with_tls(server: Server, tls: Option<TlsFiles>) -> Server {
    match tls {
        Some(files) => server.tls(crate::serve::Tls::from_pem_files(files.cert, files.key)),
        None => server,
    }
}

/// Without the feature, an attribute that gives TLS does not compile (see
/// `__private::TLS_FEATURE`): there is none to add.
#[cfg(not(feature = "tls"))]
fn with_tls(server: Server, _tls: Option<TlsFiles>) -> Server {
    server
}
