//! Attribute macros for [`graceful`](https://docs.rs/graceful): depend on
//! `graceful`, which re-exports them, not on this crate.
//!
//! Each entry point is thin and runs one skeleton (`attribute`): `args`
//! parses the one `key = value` grammar, `model` makes each attribute's
//! typed arguments of it, `validate` checks the function and the values,
//! `attributes` says what each attribute checks and generates, `expand`
//! generates the code. Every problem is reported at once, each at its
//! token; the user's item is emitted beside the errors so that IDEs keep
//! working.

#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

mod args;
mod attributes;
mod expand;
mod model;
mod validate;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use syn::ItemFn;

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

/// One attribute: its arguments and its function, checked, then expanded.
/// Every attribute runs the same skeleton ([`attribute`]).
trait Attribute: Sized {
    /// Its name, for messages: `server`.
    const NAME: &'static str;

    /// Parses and checks the arguments and the function, recording every
    /// problem in `errors`.
    fn check(args: TokenStream2, f: &ItemFn, errors: &mut Errors) -> Self;

    /// The code that registers or runs the function.
    fn expand(self, f: &ItemFn) -> TokenStream2;

    /// What is emitted beside the errors: by default the user's item
    /// unchanged, so that IDEs keep working.
    fn beside_errors(_f: ItemFn, item: TokenStream2) -> TokenStream2 {
        item
    }

    /// What is emitted beside the error when the item is no function: by
    /// default what was written.
    fn beside_non_function(item: TokenStream2) -> TokenStream2 {
        item
    }
}

/// The skeleton of every attribute: the item must be a function; then the
/// attribute's checks, every problem reported at once at its token; then its
/// code, beside the function.
fn attribute<A: Attribute>(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = TokenStream2::from(item);
    let f = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(f) => f,
        Err(err) => {
            let err = syn::Error::new(
                err.span(),
                format!("`#[graceful::{}]` goes on a function", A::NAME),
            );
            let mut tokens = err.into_compile_error();
            tokens.extend(A::beside_non_function(item));
            return tokens.into();
        }
    };
    let mut errors = Errors::default();
    let checked = A::check(args.into(), &f, &mut errors);
    if !errors.is_empty() {
        let mut tokens = errors.into_compile_errors();
        tokens.extend(A::beside_errors(f, item));
        return tokens.into();
    }
    checked.expand(&f).into()
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
    attribute::<attributes::Server>(args, item)
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
    attribute::<attributes::OnShutdown>(args, item)
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
    attribute::<attributes::Main>(args, item)
}
