//! `#[graceful::on_shutdown]` and `#[graceful::task]`: a function run once
//! with its context, and its registration.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, ItemFn, LitStr};

use graceful_values::When;

use super::parts::{Once, at_most_one, duration, fn_name, keep, return_span, take};
use crate::model::{CallbackArgs, TaskArgs};
use crate::validate::Params;

/// What a function run once differs in, a callback or a task: the
/// runtime's parameter trait and types, and the wording of its error.
struct OneShot {
    via: &'static str,
    context: TokenStream,
    run: TokenStream,
    message: &'static str,
}

/// The factory of a function run once with its context (a callback, a
/// task): it keeps what the parameters ask for at assembly, then makes the
/// run's future.
fn one_shot(f: &ItemFn, krate: &syn::Path, params: &Params, spec: OneShot) -> TokenStream {
    let OneShot {
        via,
        context,
        run,
        message,
    } = spec;
    let via_ident = Ident::new(via, Span::call_site());
    let keep = keep(krate, &via_ident, params);
    let call_args = take(krate, &via_ident, params, false);
    let once = at_most_one(
        f,
        krate,
        Once {
            via,
            flag: "CONTEXT",
            message,
        },
        params,
    );
    let ident = &f.sig.ident;
    // The output is bound to a variable spanned at the return type, so that
    // a type that is no result is reported there.
    let output = Ident::new("__graceful_output", return_span(f));
    quote! {
        #once
        fn __graceful_factory(
            __graceful_assembly: #krate::__private::Assembly<'_>,
        ) -> #krate::__private::Result<#run, #krate::__private::MissingState> {
            #keep
            #krate::__private::Ok(#krate::__private::Box::new(
                move |__graceful_context: #context| -> #krate::__private::CallbackFuture {
                    #krate::__private::Box::pin(async move {
                        #[allow(unused_variables)]
                        let __graceful_call = &mut #krate::__private::Some(__graceful_context);
                        let #output = #ident(#(#call_args),*).await;
                        #krate::__private::HookResult::into_result(#output)
                    })
                },
            ))
        }
    }
}

/// The registered name: given, or the function's.
fn registered_name(f: &ItemFn, name: Option<&LitStr>) -> LitStr {
    name.cloned()
        .unwrap_or_else(|| LitStr::new(&fn_name(f), f.sig.ident.span()))
}

fn when(krate: &syn::Path, when: When) -> TokenStream {
    let variant = format_ident!("{}", when.variant());
    quote!(#krate::__private::When::#variant)
}

/// `#[graceful::on_shutdown]`.
pub(crate) fn callback(f: &ItemFn, args: &CallbackArgs, params: &Params) -> TokenStream {
    let krate = &args.krate;
    let shot = OneShot {
        via: "CallbackParam",
        context: quote!(#krate::ShutdownContext),
        run: quote!(#krate::__private::CallbackRun),
        message: "a shutdown callback takes its context once: remove the repeated `ShutdownContext` parameter",
    };
    let registration = Registered {
        registration: quote!(#krate::__private::CallbackRegistration),
        name: args.name.as_ref(),
        when: args.when,
        phase: args.phase,
        timeout: args.timeout,
    };
    registered(f, krate, params, shot, registration)
}

/// `#[graceful::task]`.
pub(crate) fn task(f: &ItemFn, args: &TaskArgs, params: &Params) -> TokenStream {
    let krate = &args.krate;
    let shot = OneShot {
        via: "TaskParam",
        context: quote!(#krate::TaskContext),
        run: quote!(#krate::__private::TaskRun),
        message: "a background task takes its context once: remove the repeated `TaskContext` parameter",
    };
    let registration = Registered {
        registration: quote!(#krate::__private::TaskRegistration),
        name: args.name.as_ref(),
        when: args.stop,
        phase: args.phase,
        timeout: args.timeout,
    };
    registered(f, krate, params, shot, registration)
}

/// What a callback's or a task's registration says of it.
struct Registered<'a> {
    /// The registration's type.
    registration: TokenStream,
    name: Option<&'a LitStr>,
    when: When,
    phase: i32,
    timeout: Option<u64>,
}

/// A function run once with its context, and its registration.
fn registered(
    f: &ItemFn,
    krate: &syn::Path,
    params: &Params,
    shot: OneShot,
    registered: Registered<'_>,
) -> TokenStream {
    let factory = one_shot(f, krate, params, shot);
    let Registered {
        registration,
        name,
        when,
        phase,
        timeout,
    } = registered;
    let name = registered_name(f, name);
    let function = fn_name(f);
    let timeout = duration(krate, timeout);
    let when = self::when(krate, when);
    let line = quote_spanned!(f.sig.ident.span()=> ::core::line!());
    quote! {
        const _: () = {
            #factory
            #krate::__private::inventory::submit! {
                #registration {
                    name: #name,
                    when: #when,
                    phase: #phase,
                    timeout: #timeout,
                    function: #function,
                    file: ::core::file!(),
                    line: #line,
                    run: __graceful_factory,
                }
            }
        };
    }
}
