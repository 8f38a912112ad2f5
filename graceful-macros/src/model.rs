//! Each attribute's arguments as typed data, built from the grammar's
//! checked values (see `args`), so that expansion reads fields, not keys.

use proc_macro2::{Span, TokenStream};
use syn::LitStr;

use graceful_values::When;
use graceful_values::settings;

use crate::args::{self, Args};
use crate::errors::Errors;
use crate::validate;

/// `#[graceful::server(name, addr, path, tls_cert, tls_key, crate)]`.
pub(crate) struct ServerArgs {
    /// The server's name, given; else the function's.
    pub(crate) name: Option<LitStr>,
    /// Its address, checked with the runtime's parser.
    pub(crate) addr: Option<LitStr>,
    /// The path this function serves.
    pub(crate) path: Option<LitStr>,
    /// Its TLS certificate chain and key files, given together, with `addr`.
    pub(crate) tls: Option<(LitStr, LitStr)>,
    /// The path to the runtime crate.
    pub(crate) krate: syn::Path,
}

/// `#[graceful::on_shutdown(name, timeout, phase, when, crate)]`.
pub(crate) struct CallbackArgs {
    /// The callback's name, given; else the function's.
    pub(crate) name: Option<LitStr>,
    /// Its timeout, in nanoseconds.
    pub(crate) timeout: Option<u64>,
    /// Its phase (default 0).
    pub(crate) phase: i32,
    /// When it runs (default: once drained).
    pub(crate) when: When,
    /// The path to the runtime crate.
    pub(crate) krate: syn::Path,
}

/// `#[graceful::task(name, stop, timeout, phase, crate)]`.
pub(crate) struct TaskArgs {
    /// The task's name, given; else the function's.
    pub(crate) name: Option<LitStr>,
    /// When it is told to stop (default: once drained).
    pub(crate) stop: When,
    /// Its stop budget, in nanoseconds.
    pub(crate) timeout: Option<u64>,
    /// Its phase among the tasks told at the same moment (default 0).
    pub(crate) phase: i32,
    /// The path to the runtime crate.
    pub(crate) krate: syn::Path,
}

/// `#[graceful::main(<setting> = "...", on_report, crate)]`.
pub(crate) struct MainArgs {
    /// The settings given, in the order given, each parsed by its kind.
    pub(crate) settings: Vec<(&'static str, settings::Value)>,
    /// The function given the final report.
    pub(crate) on_report: Option<syn::Path>,
    /// The path to the runtime crate.
    pub(crate) krate: syn::Path,
}

impl ServerArgs {
    /// Parses and checks the arguments; `function` names the server when
    /// `name` does not.
    pub(crate) fn parse(tokens: TokenStream, function: &syn::Ident, errors: &mut Errors) -> Self {
        let args = Args::parse(tokens, args::SERVER_KEYS, errors);
        let parsed = ServerArgs {
            name: args.str("name").cloned(),
            addr: args.str("addr").cloned(),
            path: args.str("path").cloned(),
            tls: validate::tls_files(
                args.str("tls_cert"),
                args.str("tls_key"),
                args.str("addr").is_some(),
                errors,
            ),
            krate: args.krate(),
        };
        match &parsed.name {
            Some(name) => validate::server_name(&name.value(), name.span(), errors),
            None => validate::server_name(
                &syn::ext::IdentExt::unraw(function).to_string(),
                function.span(),
                errors,
            ),
        }
        if let Some(addr) = &parsed.addr {
            validate::addr(addr, errors);
        }
        if let Some(path) = &parsed.path {
            validate::path(path, errors);
        }
        if parsed.addr.is_none() && parsed.path.is_none() && errors.is_empty() {
            errors.push(syn::Error::new(
                Span::call_site(),
                "missing `addr`: write `#[graceful::server(addr = \"127.0.0.1:8080\")]`; only a function that adds a `path` to a server declared elsewhere may leave it out",
            ));
        }
        parsed
    }
}

impl CallbackArgs {
    /// Parses and checks the arguments.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let args = Args::parse(tokens, args::ON_SHUTDOWN_KEYS, errors);
        let parsed = CallbackArgs {
            name: args.str("name").cloned(),
            timeout: args.duration("timeout"),
            phase: args.int("phase").unwrap_or(0),
            when: args.when("when").unwrap_or_default(),
            krate: args.krate(),
        };
        if let Some(name) = &parsed.name {
            validate::name(name, errors);
        }
        parsed
    }
}

impl TaskArgs {
    /// Parses and checks the arguments.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let args = Args::parse(tokens, args::TASK_KEYS, errors);
        let parsed = TaskArgs {
            name: args.str("name").cloned(),
            stop: args.when("stop").unwrap_or_default(),
            timeout: args.duration("timeout"),
            phase: args.int("phase").unwrap_or(0),
            krate: args.krate(),
        };
        if let Some(name) = &parsed.name {
            validate::name(name, errors);
        }
        parsed
    }
}

impl MainArgs {
    /// Parses and checks the arguments.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let args = Args::parse(tokens, &args::main_keys(), errors);
        MainArgs {
            settings: args
                .settings()
                .map(|(name, value)| (name, value.clone()))
                .collect(),
            on_report: args.path("on_report").cloned(),
            krate: args.krate(),
        }
    }
}
