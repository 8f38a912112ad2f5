//! The one skeleton every attribute runs: the item must be a function; the
//! attribute's checks, every problem at once at its token; then its code.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use syn::ItemFn;

use crate::errors::Errors;

/// One attribute: its arguments and its function, checked, then expanded.
/// Every attribute runs the same skeleton (`attribute`).
pub(crate) trait Attribute: Sized {
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
pub(crate) fn attribute<A: Attribute>(args: TokenStream, item: TokenStream) -> TokenStream {
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
