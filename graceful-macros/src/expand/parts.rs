//! The pieces every expansion uses: names and spans of the user's
//! function, its parameters kept and taken, optional values.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, ReturnType, Type};

use crate::validate::Params;

/// The function's name as a string, without `r#`.
pub(super) fn fn_name(f: &ItemFn) -> String {
    let name = f.sig.ident.to_string();
    name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
}

/// Where the return type is, for errors about it; else the function's name.
pub(super) fn return_span(f: &ItemFn) -> Span {
    match &f.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => f.sig.ident.span(),
    }
}

/// Whether a type has an `impl Trait` in it, which no path can name.
pub(super) fn contains_impl_trait(ty: &syn::Type) -> bool {
    fn has_impl(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            proc_macro2::TokenTree::Ident(ident) => ident == "impl",
            proc_macro2::TokenTree::Group(group) => has_impl(group.stream()),
            _ => false,
        })
    }
    has_impl(quote::ToTokens::to_token_stream(ty))
}

pub(super) fn kept_ident(n: usize, ty: &Type) -> Ident {
    Ident::new(&format!("__graceful_kept_{n}"), ty.span())
}

/// Looks every parameter up at assembly, through the trait `via`
/// (`HandlerParam`, `CallbackParam`): `let __graceful_kept_n = ...?;`,
/// spanned at the parameter's type, so that a type that is no parameter is
/// reported there.
pub(super) fn keep(krate: &syn::Path, via: &Ident, params: &Params) -> TokenStream {
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
pub(super) fn take(
    krate: &syn::Path,
    via: &Ident,
    params: &Params,
    by_ref: bool,
) -> Vec<TokenStream> {
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
pub(super) struct Once {
    pub(super) via: &'static str,
    pub(super) flag: &'static str,
    pub(super) message: &'static str,
}

/// At most one parameter takes the call's one value: checked when the
/// types are known, at compile time.
pub(super) fn at_most_one(
    f: &ItemFn,
    krate: &syn::Path,
    once: Once,
    params: &Params,
) -> TokenStream {
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

pub(super) fn option<T: quote::ToTokens>(krate: &syn::Path, value: Option<T>) -> TokenStream {
    match value {
        Some(value) => quote!(#krate::__private::Some(#value)),
        None => quote!(#krate::__private::None),
    }
}

pub(super) fn duration(krate: &syn::Path, nanos: Option<u64>) -> TokenStream {
    option(
        krate,
        nanos.map(|n| quote!(#krate::__private::Duration::from_nanos(#n))),
    )
}
