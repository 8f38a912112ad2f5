//! The generated code. It reaches the runtime only through
//! `<crate>::__private` (and the public `Request`, `ShutdownHandle`,
//! `ShutdownContext`, `TaskContext`, `Server`, `Signal`), so users never depend on
//! `inventory` themselves.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, LitStr, ReturnType, Type};

use graceful_values::{When, settings};

use crate::model::{CallbackArgs, MainArgs, ServerArgs, TaskArgs};
use crate::validate::Params;

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

fn kept_ident(n: usize, ty: &Type) -> Ident {
    Ident::new(&format!("__graceful_kept_{n}"), ty.span())
}

/// Looks every parameter up at assembly, through the trait `via`
/// (`HandlerParam`, `CallbackParam`): `let __graceful_kept_n = ...?;`,
/// spanned at the parameter's type, so that a type that is no parameter is
/// reported there.
fn keep(krate: &syn::Path, via: &Ident, params: &Params) -> TokenStream {
    let keeps = params.iter().enumerate().map(|(n, ty)| {
        let ident = kept_ident(n, ty);
        quote_spanned!(ty.span()=>
            #[allow(clippy::let_unit_value)]
            let #ident = <#ty as #krate::__private::#via>::keep(__graceful_assembly)?;
        )
    });
    quote!(#(#keeps)*)
}

/// The arguments of one call: each parameter taken from what was kept and
/// from `call` (the request, the context); `by_ref` for a call that may
/// come again.
fn take(krate: &syn::Path, via: &Ident, params: &Params, by_ref: bool) -> Vec<TokenStream> {
    params
        .iter()
        .enumerate()
        .map(|(n, ty)| {
            let ident = kept_ident(n, ty);
            let kept = if by_ref {
                quote!(&#ident)
            } else {
                quote!(#ident)
            };
            quote_spanned!(ty.span()=>
                <#ty as #krate::__private::#via>::take(#kept, &mut *__graceful_call)
            )
        })
        .collect()
}

/// What one call's one value is: the trait that says whether a parameter
/// takes it, its flag (`REQUEST`, `CONTEXT`), and the error if two do.
struct Once {
    via: &'static str,
    flag: &'static str,
    message: &'static str,
}

/// At most one parameter takes the call's one value: checked when the
/// types are known, at compile time.
fn at_most_one(f: &ItemFn, krate: &syn::Path, once: Once, params: &Params) -> TokenStream {
    let Once { via, flag, message } = once;
    if params.len() < 2 {
        return TokenStream::new();
    }
    let via = Ident::new(via, Span::call_site());
    let flag = Ident::new(flag, Span::call_site());
    let mut counts = params
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> (<#ty as #krate::__private::#via>::#flag as usize)));
    let first = counts.next();
    // Spanned at the parameters, so that the error points there.
    quote_spanned!(f.sig.inputs.span()=>
        const _: () = ::core::assert!(#first #(+ #counts)* <= 1, #message);
    )
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
pub(crate) fn handler(f: &ItemFn, args: &ServerArgs, params: &Params) -> TokenStream {
    let krate = &args.krate;
    let via = Ident::new("HandlerParam", Span::call_site());
    let keep = keep(krate, &via, params);
    let call_args = take(krate, &via, params, true);
    let once = at_most_one(
        f,
        krate,
        Once {
            via: "HandlerParam",
            flag: "REQUEST",
            message: "a handler takes the request once: remove the repeated `Request` parameter",
        },
        params,
    );
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
        quote!(Handler {
            route: __graceful_route,
            alone: __graceful_alone
        }),
    );
    // The call's request, taken by the parameter that is one.
    let call = quote! {
        #[allow(unused_variables)]
        let __graceful_call = &mut #krate::__private::Some(__graceful_request);
    };
    quote! {
        const _: () = {
            #once
            fn __graceful_route(
                __graceful_assembly: #krate::__private::Assembly<'_>,
            ) -> #krate::__private::Result<#krate::__private::Route, #krate::__private::MissingState> {
                #keep
                #krate::__private::Ok(#krate::__private::Arc::new(
                    #[allow(unused_variables)]
                    move |__graceful_call: &mut #krate::__private::Option<#krate::Request>, _: &#krate::ShutdownHandle| -> #krate::__private::HandlerFuture {
                        #krate::__private::respond(#ident(#(#call_args),*), #convert)
                    },
                ))
            }
            fn __graceful_alone(
                __graceful_name: #krate::__private::String,
                __graceful_addr: #krate::__private::String,
                __graceful_path: #krate::__private::Option<&'static str>,
                __graceful_assembly: #krate::__private::Assembly<'_>,
            ) -> #krate::__private::Result<#krate::__private::Server, #krate::__private::MissingState> {
                #keep
                #krate::__private::Ok(#krate::__private::alone(
                    __graceful_name,
                    __graceful_addr,
                    ::core::clone::Clone::clone(__graceful_assembly.handle),
                    __graceful_path,
                    move |__graceful_request: #krate::Request, _: &#krate::ShutdownHandle| {
                        #call
                        #ident(#(#call_args),*)
                    },
                    #convert,
                ))
            }
            #registration
        };
    }
}

/// `#[graceful::server]` on a `fn` returning a tower service.
pub(crate) fn service(f: &ItemFn, args: &ServerArgs, params: &Params) -> TokenStream {
    let krate = &args.krate;
    let ident = &f.sig.ident;
    let call_args = params.iter().map(|ty| {
        quote_spanned!(ty.span()=>
            <#ty as #krate::__private::ServiceParam>::make(__graceful_assembly)?
        )
    });
    let make = quote_spanned!(return_span(f)=>
        #krate::__private::tower_server(__graceful_name, __graceful_addr, #ident(#(#call_args),*))
    );
    let registration = registration(f, args, quote!(Service(__graceful_service)));
    quote! {
        const _: () = {
            fn __graceful_service(
                __graceful_name: ::std::string::String,
                __graceful_addr: ::std::string::String,
                __graceful_assembly: #krate::__private::Assembly<'_>,
            ) -> #krate::__private::Result<#krate::Server, #krate::__private::MissingState> {
                #krate::__private::Ok(#make)
            }
            #registration
        };
    }
}

fn registration(f: &ItemFn, args: &ServerArgs, kind: TokenStream) -> TokenStream {
    let krate = &args.krate;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| LitStr::new(&fn_name(f), f.sig.ident.span()));
    let function = fn_name(f);
    let addr = option(krate, args.addr.as_ref());
    let path = option(krate, args.path.as_ref());
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
    let factory = one_shot(
        f,
        krate,
        params,
        OneShot {
            via: "CallbackParam",
            context: quote!(#krate::ShutdownContext),
            run: quote!(#krate::__private::CallbackRun),
            message: "a shutdown callback takes its context once: remove the repeated `ShutdownContext` parameter",
        },
    );
    let name = registered_name(f, args.name.as_ref());
    let function = fn_name(f);
    let phase = args.phase;
    let timeout = duration(krate, args.timeout);
    let when = when(krate, args.when);
    let line = quote_spanned!(f.sig.ident.span()=> ::core::line!());
    quote! {
        const _: () = {
            #factory
            #krate::__private::inventory::submit! {
                #krate::__private::CallbackRegistration {
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

/// `#[graceful::task]`.
pub(crate) fn task(f: &ItemFn, args: &TaskArgs, params: &Params) -> TokenStream {
    let krate = &args.krate;
    let factory = one_shot(
        f,
        krate,
        params,
        OneShot {
            via: "TaskParam",
            context: quote!(#krate::TaskContext),
            run: quote!(#krate::__private::TaskRun),
            message: "a background task takes its context once: remove the repeated `TaskContext` parameter",
        },
    );
    let name = registered_name(f, args.name.as_ref());
    let function = fn_name(f);
    let phase = args.phase;
    let timeout = duration(krate, args.timeout);
    let stop = when(krate, args.stop);
    let line = quote_spanned!(f.sig.ident.span()=> ::core::line!());
    quote! {
        const _: () = {
            #factory
            #krate::__private::inventory::submit! {
                #krate::__private::TaskRegistration {
                    name: #name,
                    stop: #stop,
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

/// `#[graceful::main]`: the real `main`, running the user's body first.
/// Its settings become ordinary builder calls on the app.
pub(crate) fn main(f: &ItemFn, args: &MainArgs) -> TokenStream {
    let krate = &args.krate;
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = f;
    let ident = &sig.ident;
    let output = &sig.output;
    let calls = args.settings.iter().map(|(name, value)| {
        let method = format_ident!("{}", name);
        let value = setting_value(krate, value);
        quote!(.#method(#value))
    });
    // At the function's path: one that takes no `&Report` is reported there.
    let on_report = args
        .on_report
        .iter()
        .map(|path| quote_spanned!(path.span()=> .on_report(#path)));
    // Every token of the call at the return type: a type that is no
    // result is reported there.
    let run = quote_spanned!(return_span(f)=>
        __graceful_run_main(__graceful_settings, __graceful_main)
    );
    quote! {
        #(#attrs)*
        #vis fn #ident() {
            async fn __graceful_main() #output #block
            fn __graceful_settings(app: #krate::App) -> #krate::App {
                app #(#calls)* #(#on_report)*
            }
            use #krate::__private::run_main as __graceful_run_main;
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
