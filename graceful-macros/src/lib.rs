//! Attribute macros for [`graceful`](https://docs.rs/graceful): depend on
//! `graceful`, which re-exports them, not on this crate.
//!
//! Each entry point is thin and runs one skeleton (`skeleton`): `args`
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
mod errors;
mod expand;
mod model;
mod skeleton;
mod validate;

use proc_macro::TokenStream;

use skeleton::attribute;

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

/// Registers a shutdown callback, run after every server has drained, or
/// at the first signal with `when = "signal"`.
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

/// Registers a background task, started with the app and told to stop at
/// its moment (`stop = "drained"`, the default, or `"signal"`).
///
/// ```ignore
/// #[graceful::task(stop = "drained", timeout = "10s", phase = 0)]
/// async fn relay(ctx: graceful::TaskContext) -> Result<(), std::io::Error> {
///     ctx.stopping().await;
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    attribute::<attributes::Task>(args, item)
}

/// Generates `main`: builds the runtime, runs this function's body first,
/// then every registered server and callback through the whole lifecycle,
/// and exits with its code.
///
/// Its keys are the settings (`drain_timeout = "20s"`, ...), `on_report`,
/// a function given the final report before the exit (see
/// `App::on_report`), and `crate`.
///
/// ```ignore
/// #[graceful::main(drain_timeout = "20s", on_report = export)]
/// async fn main() {
///     // set up logging, shared state...
/// }
///
/// fn export(report: &graceful::Report) {
///     eprintln!("exit code {}", report.exit_code().code());
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    attribute::<attributes::Main>(args, item)
}
