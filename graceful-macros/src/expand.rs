//! The generated code. It reaches the runtime only through
//! `<crate>::__private` (and the public `Request`, `ShutdownHandle`,
//! `ShutdownContext`, `Server`, `Signal`), so users never depend on
//! `inventory` themselves.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, LitStr, ReturnType};

use graceful_values::settings;

use crate::args::Args;
use crate::validate::{Param, Params, states, takes};

/// The function's name as a string, without `r#`.
fn fn_name(f: &ItemFn) -> String {
    let name = f.sig.ident.to_string();
    name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
}

/// Where the return type is, for errors about it; else the function's name.
fn return_span(f: &ItemFn) -> Span {
    match &f.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => f.sig.ident.span(),
    }
}

/// Whether a type has an `impl Trait` in it, which no path can name.
fn contains_impl_trait(ty: &syn::Type) -> bool {
    fn has_impl(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            proc_macro2::TokenTree::Ident(ident) => ident == "impl",
            proc_macro2::TokenTree::Group(group) => has_impl(group.stream()),
            _ => false,
        })
    }
    has_impl(quote::ToTokens::to_token_stream(ty))
}

/// The arguments the wrapper passes, each spanned at the user's parameter
/// type so that a type mismatch points there.
fn call_args(params: &Params, supply: impl Fn(Param) -> &'static str) -> Vec<Ident> {
    params
        .iter()
        .map(|arg| match arg.param {
            Param::State(n) => state_ident(n, arg.span()),
            param => Ident::new(supply(param), arg.span()),
        })
        .collect()
}

fn state_ident(n: usize, span: Span) -> Ident {
    Ident::new(&format!("__graceful_state_{n}"), span)
}

/// Looks up every `State<T>` parameter in `__graceful_states`, at assembly.
fn look_up_states(krate: &syn::Path, params: &Params) -> TokenStream {
    let lookups = states(params).map(|(n, ty)| {
        let ident = state_ident(n, ty.span());
        quote_spanned!(ty.span()=>
            let #ident = <#ty as #krate::__private::FromStates>::from_states(__graceful_states)?;
        )
    });
    quote!(#(#lookups)*)
}

/// Clones every state, for one call of a function that keeps them.
fn clone_states(params: &Params) -> TokenStream {
    let clones = states(params).map(|(n, ty)| {
        let ident = state_ident(n, ty.span());
        quote_spanned!(ty.span()=> let #ident = ::core::clone::Clone::clone(&#ident);)
    });
    quote!(#(#clones)*)
}

/// Calls the user's function and converts its output with `convert`; the
/// output is bound to a variable spanned at the return type, so that a
/// missing trait implementation is reported there.
fn call_and_convert(f: &ItemFn, args: &[Ident], convert: TokenStream) -> TokenStream {
    let ident = &f.sig.ident;
    let output = Ident::new("__graceful_output", return_span(f));
    quote! {
        let #output = #ident(#(#args),*).await;
        #convert(#output)
    }
}

fn option<T: quote::ToTokens>(krate: &syn::Path, value: Option<T>) -> TokenStream {
    match value {
        Some(value) => quote!(#krate::__private::Some(#value)),
        None => quote!(#krate::__private::None),
    }
}

fn duration(krate: &syn::Path, nanos: Option<u64>) -> TokenStream {
    option(
        krate,
        nanos.map(|n| quote!(#krate::__private::Duration::from_nanos(#n))),
    )
}

/// `#[graceful::server]` on an `async fn` handler.
pub(crate) fn handler(f: &ItemFn, args: &Args, params: &Params) -> TokenStream {
    let krate = args.krate();
    let uses_handle = takes(params, Param::Handle);
    let clone_handle = uses_handle.then(
        || quote!(let __graceful_shutdown = ::core::clone::Clone::clone(__graceful_shutdown);),
    );
    let args_in = call_args(params, |param| match param {
        Param::Request => "__graceful_request",
        _ => "__graceful_shutdown",
    });
    let request = if takes(params, Param::Request) {
        quote!(__graceful_request)
    } else {
        quote!(_)
    };
    let shutdown = if uses_handle {
        quote!(__graceful_shutdown)
    } else {
        quote!(_)
    };
    let look_up = look_up_states(&krate, params);
    let clone_states = clone_states(params);
    let ident = &f.sig.ident;
    // Named with the written return type, spanned there: a type that is no
    // response is reported on it, once. An `impl Trait` cannot be named; its
    // conversion is inferred.
    let convert = match &f.sig.output {
        ReturnType::Type(_, ty) if !contains_impl_trait(ty) => {
            quote_spanned!(ty.span()=> <#ty as #krate::__private::IntoResponse>::into_response)
        }
        ReturnType::Type(_, ty) => {
            quote_spanned!(ty.span()=> #krate::__private::IntoResponse::into_response)
        }
        ReturnType::Default => quote!(<() as #krate::__private::IntoResponse>::into_response),
    };
    let registration = registration(
        f,
        args,
        &krate,
        quote!(Handler {
            route: __graceful_route,
            alone: __graceful_alone
        }),
    );
    quote! {
        const _: () = {
            fn __graceful_route(
                __graceful_states: &#krate::__private::States,
            ) -> #krate::__private::Result<#krate::__private::Route, #krate::__private::MissingState> {
                #look_up
                #krate::__private::Ok(#krate::__private::Arc::new(
                    move |#request: #krate::Request, #shutdown: &#krate::ShutdownHandle| -> #krate::__private::HandlerFuture {
                        #clone_handle
                        #clone_states
                        #krate::__private::respond(#ident(#(#args_in),*), #convert)
                    },
                ))
            }
            fn __graceful_alone(
                __graceful_name: #krate::__private::String,
                __graceful_addr: #krate::__private::String,
                __graceful_handle: #krate::ShutdownHandle,
                __graceful_path: #krate::__private::Option<&'static str>,
                __graceful_states: &#krate::__private::States,
            ) -> #krate::__private::Result<#krate::__private::Server, #krate::__private::MissingState> {
                #look_up
                #krate::__private::Ok(#krate::__private::alone(
                    __graceful_name,
                    __graceful_addr,
                    __graceful_handle,
                    __graceful_path,
                    move |#request: #krate::Request, #shutdown: &#krate::ShutdownHandle| {
                        #clone_handle
                        #clone_states
                        #ident(#(#args_in),*)
                    },
                    #convert,
                ))
            }
            #registration
        };
    }
}

/// `#[graceful::server]` on a `fn` returning a tower service.
pub(crate) fn service(f: &ItemFn, args: &Args, params: &Params) -> TokenStream {
    let krate = args.krate();
    let ident = &f.sig.ident;
    let args_in = call_args(params, |_| "__graceful_shutdown");
    let shutdown = if takes(params, Param::Handle) {
        quote!(__graceful_shutdown)
    } else {
        quote!(_)
    };
    let look_up = look_up_states(&krate, params);
    let make = quote_spanned!(return_span(f)=>
        #krate::__private::tower_server(__graceful_name, __graceful_addr, #ident(#(#args_in),*))
    );
    let registration = registration(f, args, &krate, quote!(Service(__graceful_service)));
    quote! {
        const _: () = {
            fn __graceful_service(
                __graceful_name: ::std::string::String,
                __graceful_addr: ::std::string::String,
                #shutdown: #krate::ShutdownHandle,
                __graceful_states: &#krate::__private::States,
            ) -> #krate::__private::Result<#krate::Server, #krate::__private::MissingState> {
                #look_up
                #krate::__private::Ok(#make)
            }
            #registration
        };
    }
}

fn registration(f: &ItemFn, args: &Args, krate: &syn::Path, kind: TokenStream) -> TokenStream {
    let name = args
        .str("name")
        .cloned()
        .unwrap_or_else(|| LitStr::new(&fn_name(f), f.sig.ident.span()));
    let function = fn_name(f);
    let addr = option(krate, args.str("addr"));
    let path = option(krate, args.str("path"));
    let line = quote_spanned!(f.sig.ident.span()=> ::core::line!());
    quote! {
        #krate::__private::inventory::submit! {
            #krate::__private::ServerRegistration {
                name: #name,
                addr: #addr,
                path: #path,
                function: #function,
                file: ::core::file!(),
                line: #line,
                kind: #krate::__private::ServerKind::#kind,
            }
        }
    }
}

/// `#[graceful::on_shutdown]`.
pub(crate) fn callback(f: &ItemFn, args: &Args, params: &Params) -> TokenStream {
    let krate = args.krate();
    let name = args
        .str("name")
        .cloned()
        .unwrap_or_else(|| LitStr::new(&fn_name(f), f.sig.ident.span()));
    let phase = args.int("phase").unwrap_or(0);
    let timeout = duration(&krate, args.duration("timeout"));
    let ctx = if takes(params, Param::Context) {
        quote!(__graceful_ctx)
    } else {
        quote!(_)
    };
    let look_up = look_up_states(&krate, params);
    let args_in = call_args(params, |_| "__graceful_ctx");
    let result = call_and_convert(
        f,
        &args_in,
        quote!(#krate::__private::CallbackResult::into_result),
    );
    let line = quote_spanned!(f.sig.ident.span()=> ::core::line!());
    quote! {
        const _: () = {
            fn __graceful_callback(
                __graceful_states: &#krate::__private::States,
            ) -> #krate::__private::Result<#krate::__private::CallbackRun, #krate::__private::MissingState> {
                #look_up
                #krate::__private::Ok(#krate::__private::Box::new(
                    move |#ctx: #krate::ShutdownContext| -> #krate::__private::CallbackFuture {
                        #krate::__private::Box::pin(async move { #result })
                    },
                ))
            }
            #krate::__private::inventory::submit! {
                #krate::__private::CallbackRegistration {
                    name: #name,
                    phase: #phase,
                    timeout: #timeout,
                    file: ::core::file!(),
                    line: #line,
                    run: __graceful_callback,
                }
            }
        };
    }
}

/// `#[graceful::main]`: the real `main`, running the user's body first.
/// Its settings become ordinary builder calls on the app.
pub(crate) fn main(f: &ItemFn, args: &Args) -> TokenStream {
    let krate = args.krate();
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = f;
    let ident = &sig.ident;
    let output = &sig.output;
    let calls = args.settings().map(|(name, value)| {
        let method = format_ident!("{}", name);
        let value = setting_value(&krate, value);
        quote!(.#method(#value))
    });
    let run = quote_spanned!(return_span(f)=>
        #krate::__private::run_main(__graceful_settings, __graceful_main)
    );
    quote! {
        #(#attrs)*
        #vis fn #ident() {
            async fn __graceful_main() #output #block
            fn __graceful_settings(app: #krate::App) -> #krate::App {
                app #(#calls)*
            }
            #run
        }
    }
}

/// A setting's value as the argument of its builder method.
fn setting_value(krate: &syn::Path, value: &settings::Value) -> TokenStream {
    match value {
        settings::Value::Duration(duration) => {
            let (secs, nanos) = (duration.as_secs(), duration.subsec_nanos());
            quote!(::core::time::Duration::new(#secs, #nanos))
        }
        settings::Value::Signals(signals) => {
            let variants = signals
                .iter()
                .map(|signal| format_ident!("{}", signal.variant()));
            quote!([#(#krate::Signal::#variants),*])
        }
        settings::Value::Path(path) => quote!(#path),
    }
}
