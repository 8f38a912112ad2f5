//! Checks of the annotated function and of argument values, with errors
//! pointing at the offending token and saying what to write instead.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, ReturnType, Type};

use crate::Errors;

/// A parameter the generated code can supply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Param {
    /// `Request` (`hyper::Request<Incoming>`).
    Request,
    /// `ShutdownHandle`.
    Handle,
    /// `ShutdownContext`.
    Context,
    /// `State<T>`, the n-th of the function's.
    State(usize),
}

/// A parameter the generated code supplies, with its type as written.
pub(crate) struct Arg {
    pub(crate) param: Param,
    pub(crate) ty: Type,
}

impl Arg {
    /// Where its type is, for errors about it.
    pub(crate) fn span(&self) -> Span {
        self.ty.span()
    }
}

/// The function's parameters, in order.
pub(crate) type Params = Vec<Arg>;

/// Whether the function takes `param`.
pub(crate) fn takes(params: &Params, param: Param) -> bool {
    params.iter().any(|arg| arg.param == param)
}

/// The `State<T>` parameters' types, in order.
pub(crate) fn states(params: &Params) -> impl Iterator<Item = (usize, &Type)> {
    params.iter().filter_map(|arg| match arg.param {
        Param::State(n) => Some((n, &arg.ty)),
        _ => None,
    })
}

/// What the error for an unsupported parameter adds.
const STATE_HINT: &str = "; shared state comes as a `graceful::State<T>` parameter, handed over by `graceful::provide(value)` in `#[graceful::main]`'s body";

/// What a `#[graceful::server]` function is.
pub(crate) enum ServerShape {
    /// `async fn(Request, ShutdownHandle?) -> impl IntoResponse`.
    Handler(Params),
    /// `fn(ShutdownHandle?) -> impl tower::Service`.
    Service(Params),
}

/// The last segment of a type's path: `hyper::Request<Incoming>` gives `Request`.
fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|s| s.ident.to_string())
        }
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

/// Generics, `self` and the like, which no attribute accepts.
fn common(f: &ItemFn, what: &str, errors: &mut Errors) {
    let sig = &f.sig;
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new(
            sig.generics.params.span(),
            format!("{what} cannot be generic: the generated code must name one concrete function; remove the type parameters"),
        ));
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new(
            where_clause.span(),
            format!("{what} cannot have a `where` clause"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new(
            variadic.span(),
            format!("{what} cannot be variadic"),
        ));
    }
    if let Some(receiver) = sig.receiver() {
        errors.push(syn::Error::new(
            receiver.span(),
            format!("{what} must be a free function: remove `self`, and take shared state as a `graceful::State<T>` parameter, handed over by `graceful::provide(value)` in `#[graceful::main]`'s body"),
        ));
    }
}

/// Classifies the parameters against the kinds allowed (any number of
/// `State<T>` is always allowed).
fn params(f: &ItemFn, allowed: &[Param], hint: &str, errors: &mut Errors) -> Params {
    let mut found = Params::new();
    let mut states = 0;
    for input in &f.sig.inputs {
        let FnArg::Typed(typed) = input else { continue };
        let ty = &*typed.ty;
        let param = match last_segment(ty).as_deref() {
            Some("Request") => Some(Param::Request),
            Some("ShutdownHandle") => Some(Param::Handle),
            Some("ShutdownContext") => Some(Param::Context),
            Some("State") => {
                states += 1;
                Some(Param::State(states))
            }
            _ => None,
        };
        match param {
            Some(param @ Param::State(_)) => found.push(Arg {
                param,
                ty: ty.clone(),
            }),
            Some(param) if allowed.contains(&param) => {
                if takes(&found, param) {
                    errors.push(syn::Error::new(
                        ty.span(),
                        "this parameter is already taken once; remove the repeat",
                    ));
                } else {
                    found.push(Arg {
                        param,
                        ty: ty.clone(),
                    });
                }
            }
            _ => errors.push(syn::Error::new(ty.span(), format!("{hint}{STATE_HINT}"))),
        }
    }
    found
}

/// Checks a `#[graceful::server]` function.
pub(crate) fn server_fn(f: &ItemFn, errors: &mut Errors) -> ServerShape {
    common(f, "a server function", errors);
    if f.sig.asyncness.is_some() {
        ServerShape::Handler(params(
            f,
            &[Param::Request, Param::Handle],
            "a handler takes `Request` (`hyper::Request<Incoming>`) and, optionally, `ShutdownHandle`",
            errors,
        ))
    } else {
        let takes_request = f.sig.inputs.iter().any(|input| {
            matches!(input, FnArg::Typed(t) if last_segment(&t.ty).as_deref() == Some("Request"))
        });
        if takes_request || matches!(f.sig.output, ReturnType::Default) {
            errors.push(syn::Error::new(
                f.sig.fn_token.span,
                "a handler must be `async fn`: write `async fn` (or, to serve an `axum::Router` or a `tower::Service`, a `fn` that returns it, taking only `ShutdownHandle` and `State<T>`)",
            ));
            return ServerShape::Service(Params::new());
        }
        ServerShape::Service(params(
            f,
            &[Param::Handle],
            "a function returning a service may only take `ShutdownHandle`",
            errors,
        ))
    }
}

/// Checks a `#[graceful::on_shutdown]` function.
pub(crate) fn callback_fn(f: &ItemFn, errors: &mut Errors) -> Params {
    common(f, "a shutdown callback", errors);
    if f.sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            f.sig.fn_token.span,
            "a shutdown callback must be `async fn`: write `async fn`",
        ));
    }
    check_unit_or_result(&f.sig.output, "a shutdown callback", errors);
    params(
        f,
        &[Param::Context],
        "a shutdown callback can only be given a `ShutdownContext`, or nothing",
        errors,
    )
}

/// Checks the function under `#[graceful::main]`.
pub(crate) fn main_fn(f: &ItemFn, errors: &mut Errors) {
    common(f, "`#[graceful::main]`", errors);
    if f.sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            f.sig.fn_token.span,
            "`#[graceful::main]` goes on an `async fn`: write `async fn main()`",
        ));
    }
    if !f.sig.inputs.is_empty() {
        errors.push(syn::Error::new(
            f.sig.inputs.span(),
            "`#[graceful::main]` takes no arguments; get the shutdown handle with `graceful::shutdown_handle()`",
        ));
    }
    check_unit_or_result(&f.sig.output, "`#[graceful::main]`", errors);
}

fn check_unit_or_result(output: &ReturnType, what: &str, errors: &mut Errors) {
    if let ReturnType::Type(_, ty) = output {
        let unit = matches!(&**ty, Type::Tuple(t) if t.elems.is_empty());
        if !unit && last_segment(ty).as_deref() != Some("Result") {
            errors.push(syn::Error::new(
                ty.span(),
                format!("{what} returns `()` or `Result<(), E>` where `E: Display`"),
            ));
        }
    }
}

/// An address literal: `ip:port`, `host:port` resolved at start-up, or
/// `unix:/path` for a Unix domain socket.
pub(crate) fn addr(lit: &LitStr, errors: &mut Errors) {
    let text = lit.value();
    if text.parse::<std::net::SocketAddr>().is_ok() {
        return;
    }
    if let Some(path) = text.strip_prefix("unix:") {
        if path.is_empty() {
            errors.push(syn::Error::new(
                lit.span(),
                "a Unix socket's path is missing: write \"unix:/path/to/socket\"",
            ));
        }
        return;
    }
    let valid = text.rsplit_once(':').is_some_and(|(host, port)| {
        port.parse::<u16>().is_ok()
            && !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
    });
    if !valid {
        errors.push(syn::Error::new(
            lit.span(),
            format!("invalid address {text:?}: write `ip:port`, `host:port` or `unix:/path`, such as \"127.0.0.1:8080\", \"localhost:8080\" or \"unix:/run/app.sock\""),
        ));
    }
}

/// A path literal: starts with `/`, as the runtime's parser requires.
pub(crate) fn path(lit: &LitStr, errors: &mut Errors) {
    if let Err(reason) = graceful_values::settings::parse_path(&lit.value()) {
        errors.push(syn::Error::new(lit.span(), reason));
    }
}

/// A server's name, given (`name = "..."`) or the function's: one a restart
/// can hand over, with the runtime's rule.
pub(crate) fn server_name(name: &str, span: proc_macro2::Span, errors: &mut Errors) {
    if let Err(reason) = graceful_values::check_name(name) {
        errors.push(syn::Error::new(span, reason));
    }
}

/// A name literal: not empty.
pub(crate) fn name(lit: &LitStr, errors: &mut Errors) {
    if lit.value().trim().is_empty() {
        errors.push(syn::Error::new(lit.span(), "a name cannot be empty"));
    }
}
