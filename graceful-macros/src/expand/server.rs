//! `#[graceful::server]`: a handler (a route, or a server of its own) or
//! a service function, and its registration.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, LitStr, ReturnType};

use super::parts::{
    Once, at_most_one, contains_impl_trait, fn_name, keep, option, return_span, take,
};
use crate::model::ServerArgs;
use crate::validate::Params;

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
        #krate::__private::service_server(__graceful_name, __graceful_addr, #ident(#(#call_args),*))
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
    // At the certificate's token: a build without the runtime's `tls`
    // feature is a compile error there.
    let needs_tls = args.tls.as_ref().map(
        |(cert, _)| quote_spanned!(cert.span()=> const _: () = #krate::__private::TLS_FEATURE;),
    );
    let tls = option(
        krate,
        args.tls
            .as_ref()
            .map(|(cert, key)| quote!(#krate::__private::TlsFiles { cert: #cert, key: #key })),
    );
    quote! {
        #needs_tls
        #krate::__private::inventory::submit! {
            #krate::__private::ServerRegistration {
                name: #name,
                addr: #addr,
                path: #path,
                tls: #tls,
                function: #function,
                file: ::core::file!(),
                line: #line,
                kind: #krate::__private::ServerKind::#kind,
            }
        }
    }
}
