//! Checks of the annotated function and of argument values, with errors
//! pointing at the offending token and saying what to write instead.

use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, ReturnType, Type};

use crate::errors::Errors;

/// The types of a function's parameters, in order. What each is, the
/// generated code asks the type itself (the runtime's `HandlerParam`,
/// `ServiceParam`, `CallbackParam` and `TaskParam`), so that an alias or a full path
/// works, and a type that is no parameter is reported on its token.
pub(crate) type Params = Vec<Type>;

/// What a `#[graceful::server]` function is.
pub(crate) enum ServerShape {
    /// `async fn(Request, ShutdownHandle?) -> impl IntoResponse`.
    Handler(Params),
    /// `fn(ShutdownHandle?) -> impl tower::Service`.
    Service(Params),
}

/// The last segment of a type's path: `hyper::Request<Incoming>` gives
/// `Request`. Only to word an error: what a parameter is, its type says.
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

/// The parameters' types; a pattern is the user's (`State(db): State<Db>`).
fn params(f: &ItemFn) -> Params {
    f.sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(typed) => Some((*typed.ty).clone()),
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// Checks a `#[graceful::server]` function.
pub(crate) fn server_fn(f: &ItemFn, errors: &mut Errors) -> ServerShape {
    common(f, "a server function", errors);
    if f.sig.asyncness.is_some() {
        ServerShape::Handler(params(f))
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
        ServerShape::Service(params(f))
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
    params(f)
}

/// Checks a `#[graceful::task]` function.
pub(crate) fn task_fn(f: &ItemFn, errors: &mut Errors) -> Params {
    common(f, "a background task", errors);
    if f.sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            f.sig.fn_token.span,
            "a background task must be `async fn`: write `async fn`",
        ));
    }
    params(f)
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
}

/// An address literal: `ip:port`, `host:port` resolved at start-up, or
/// `unix:/path` for a Unix domain socket.
pub(crate) fn addr(lit: &LitStr, errors: &mut Errors) {
    let text = lit.value();
    if let Err(reason) = graceful_values::addr::parse_addr(&text) {
        errors.push(syn::Error::new(
            lit.span(),
            format!("invalid address {text:?}: {reason}"),
        ));
    }
}

/// `tls_cert` and `tls_key`: both or neither, and with `addr` (the
/// function that declares the server's address declares its TLS).
pub(crate) fn tls_files(
    cert: Option<&LitStr>,
    key: Option<&LitStr>,
    with_addr: bool,
    errors: &mut Errors,
) -> Option<(LitStr, LitStr)> {
    match (cert, key) {
        (None, None) => None,
        (Some(cert), None) => {
            errors.push(syn::Error::new(
                cert.span(),
                "`tls_cert` needs `tls_key`: give the certificate chain and its private key together",
            ));
            None
        }
        (None, Some(key)) => {
            errors.push(syn::Error::new(
                key.span(),
                "`tls_key` needs `tls_cert`: give the certificate chain and its private key together",
            ));
            None
        }
        (Some(cert), Some(key)) if !with_addr => {
            errors.push(syn::Error::new(
                cert.span(),
                "`tls_cert` goes with `addr`: the function that declares the server's address declares its TLS",
            ));
            let _ = key;
            None
        }
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
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
