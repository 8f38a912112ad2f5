//! What each attribute checks and generates, for the one skeleton
//! (`attribute` in `lib.rs`).

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use crate::errors::Errors;
use crate::expand;
use crate::model::{CallbackArgs, MainArgs, ServerArgs, TaskArgs};
use crate::skeleton::Attribute;
use crate::validate::{self, Params, ServerShape};

/// `#[graceful::server]`: a handler, or a function returning a service.
pub(crate) struct Server {
    args: ServerArgs,
    shape: ServerShape,
}

impl Attribute for Server {
    const NAME: &'static str = "server";

    fn check(args: TokenStream, f: &ItemFn, errors: &mut Errors) -> Self {
        let args = ServerArgs::parse(args, &f.sig.ident, errors);
        let shape = validate::server_fn(f, errors);
        Server { args, shape }
    }

    fn expand(self, f: &ItemFn) -> TokenStream {
        let generated = match &self.shape {
            ServerShape::Handler(params) => expand::handler(f, &self.args, params),
            ServerShape::Service(params) => expand::service(f, &self.args, params),
        };
        quote!(#f #generated)
    }
}

/// `#[graceful::on_shutdown]`: a shutdown callback.
pub(crate) struct OnShutdown {
    args: CallbackArgs,
    params: Params,
}

impl Attribute for OnShutdown {
    const NAME: &'static str = "on_shutdown";

    fn check(args: TokenStream, f: &ItemFn, errors: &mut Errors) -> Self {
        let args = CallbackArgs::parse(args, errors);
        let params = validate::callback_fn(f, errors);
        OnShutdown { args, params }
    }

    fn expand(self, f: &ItemFn) -> TokenStream {
        let generated = expand::callback(f, &self.args, &self.params);
        quote!(#f #generated)
    }
}

/// `#[graceful::task]`: a background task.
pub(crate) struct Task {
    args: TaskArgs,
    params: Params,
}

impl Attribute for Task {
    const NAME: &'static str = "task";

    fn check(args: TokenStream, f: &ItemFn, errors: &mut Errors) -> Self {
        let args = TaskArgs::parse(args, errors);
        let params = validate::task_fn(f, errors);
        Task { args, params }
    }

    fn expand(self, f: &ItemFn) -> TokenStream {
        let generated = expand::task(f, &self.args, &self.params);
        quote!(#f #generated)
    }
}

/// `#[graceful::main]`: the generated `main`.
pub(crate) struct Main {
    args: MainArgs,
}

impl Attribute for Main {
    const NAME: &'static str = "main";

    fn check(args: TokenStream, f: &ItemFn, errors: &mut Errors) -> Self {
        let args = MainArgs::parse(args, errors);
        validate::main_fn(f, errors);
        Main { args }
    }

    fn expand(self, f: &ItemFn) -> TokenStream {
        expand::main(f, &self.args)
    }

    /// The user's function, renamed so that it is no second `main`, and a
    /// placeholder `main`: the errors are the only ones.
    fn beside_errors(f: ItemFn, _item: TokenStream) -> TokenStream {
        let mut kept = f;
        kept.sig.ident = quote::format_ident!("__graceful_main_with_errors");
        quote! {
            #[allow(dead_code)]
            #kept
            fn main() {}
        }
    }

    /// What was written, and a placeholder `main`.
    fn beside_non_function(item: TokenStream) -> TokenStream {
        quote! {
            #item
            fn main() {}
        }
    }
}
