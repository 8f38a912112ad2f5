//! `#[graceful::main]`: the real `main`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ItemFn;
use syn::spanned::Spanned;

use graceful_values::settings;

use super::parts::return_span;
use crate::model::MainArgs;

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
        settings::Value::Count(count) => quote!(#count),
        settings::Value::Addr(addr) => quote!(#addr),
    }
}
