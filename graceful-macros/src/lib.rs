//! Attribute macros for [`graceful`](https://docs.rs/graceful): depend on
//! `graceful`, which re-exports them, not on this crate.
//!
//! Each entry point is thin: `args` parses the one `key = value` grammar,
//! `validate` checks the function and the values, `expand` generates the
//! code. Every problem is reported at once, each at its token; the user's
//! item is emitted beside the errors so that IDEs keep working.

#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

mod args;
mod expand;
mod validate;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{ToTokens, quote};
use syn::ItemFn;

use args::Args;

/// Errors gathered while expanding one attribute.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, err: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(err),
            None => self.0 = Some(err),
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    fn into_compile_errors(self) -> TokenStream2 {
        self.0.map(|e| e.into_compile_error()).unwrap_or_default()
    }
}

/// Parses the item as a function, or reports what was annotated instead.
fn item_fn(item: TokenStream2, attribute: &str) -> Result<ItemFn, TokenStream2> {
    syn::parse2::<ItemFn>(item.clone()).map_err(|err| {
        let err = syn::Error::new(
            err.span(),
            format!("`#[graceful::{attribute}]` goes on a function"),
        );
        let mut tokens = err.into_compile_error();
        tokens.extend(item);
        tokens
    })
}

/// Registers an HTTP server, or one path of it.
///
/// ```ignore
/// #[graceful::server(name = "service1", addr = "127.0.0.1:8081")]
/// async fn hello(_req: graceful::Request) -> &'static str {
///     "hello world"
/// }
/// ```
///
/// See the `graceful` crate documentation for every accepted form.
#[proc_macro_attribute]
pub fn server(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = TokenStream2::from(item);
    let f = match item_fn(item.clone(), "server") {
        Ok(f) => f,
        Err(tokens) => return tokens.into(),
    };
    let mut errors = Errors::default();
    let args = Args::parse(args.into(), args::SERVER_KEYS, &mut errors);
    match args.str("name") {
        Some(name) => validate::server_name(&name.value(), name.span(), &mut errors),
        None => validate::server_name(
            &syn::ext::IdentExt::unraw(&f.sig.ident).to_string(),
            f.sig.ident.span(),
            &mut errors,
        ),
    }
    if let Some(addr) = args.str("addr") {
        validate::addr(addr, &mut errors);
    }
    if let Some(path) = args.str("path") {
        validate::path(path, &mut errors);
    }
    if args.str("addr").is_none() && args.str("path").is_none() && errors.is_empty() {
        errors.push(syn::Error::new(
            proc_macro2::Span::call_site(),
            "missing `addr`: write `#[graceful::server(addr = \"127.0.0.1:8080\")]`; only a function that adds a `path` to a server declared elsewhere may leave it out",
        ));
    }
    let shape = validate::server_fn(&f, &mut errors);
    if !errors.is_empty() {
        return with_item(errors, item);
    }
    let generated = match shape {
        validate::ServerShape::Handler(params) => expand::handler(&f, &args, &params),
        validate::ServerShape::Service(params) => expand::service(&f, &args, &params),
    };
    quote!(#f #generated).into()
}

/// Registers a shutdown callback, run after every server has drained.
///
/// ```ignore
/// #[graceful::on_shutdown(timeout = "3s", phase = 0)]
/// async fn flush_cache(ctx: graceful::ShutdownContext) -> Result<(), std::io::Error> {
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn on_shutdown(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = TokenStream2::from(item);
    let f = match item_fn(item.clone(), "on_shutdown") {
        Ok(f) => f,
        Err(tokens) => return tokens.into(),
    };
    let mut errors = Errors::default();
    let args = Args::parse(args.into(), args::ON_SHUTDOWN_KEYS, &mut errors);
    if let Some(name) = args.str("name") {
        validate::name(name, &mut errors);
    }
    let params = validate::callback_fn(&f, &mut errors);
    if !errors.is_empty() {
        return with_item(errors, item);
    }
    let generated = expand::callback(&f, &args, &params);
    quote!(#f #generated).into()
}

/// Generates `main`: builds the runtime, runs this function's body first,
/// then every registered server and callback through the whole lifecycle,
/// and exits with its code.
///
/// ```ignore
/// #[graceful::main(drain_timeout = "20s")]
/// async fn main() {
///     // set up logging, shared state...
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = TokenStream2::from(item);
    let f = match item_fn(item.clone(), "main") {
        Ok(f) => f,
        Err(mut tokens) => {
            tokens.extend(quote!(
                fn main() {}
            ));
            return tokens.into();
        }
    };
    let mut errors = Errors::default();
    let args = Args::parse(args.into(), &args::main_keys(), &mut errors);
    validate::main_fn(&f, &mut errors);
    if !errors.is_empty() {
        // The user's function, renamed so that it is no second `main`, and
        // a placeholder `main`: the errors above are the only ones.
        let mut kept = f.clone();
        kept.sig.ident = quote::format_ident!("__graceful_main_with_errors");
        let mut tokens = errors.into_compile_errors();
        tokens.extend(quote! {
            #[allow(dead_code)]
            #kept
            fn main() {}
        });
        return tokens.into();
    }
    expand::main(&f, &args).into()
}

/// The errors, then the user's item unchanged.
fn with_item(errors: Errors, item: TokenStream2) -> TokenStream {
    let mut tokens = errors.into_compile_errors();
    item.to_tokens(&mut tokens);
    tokens.into()
}
