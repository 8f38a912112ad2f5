//! Every problem of one attribute, gathered to be reported at once.

use proc_macro2::TokenStream as TokenStream2;

/// Errors gathered while expanding one attribute.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, err: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(err),
            None => self.0 = Some(err),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn into_compile_errors(self) -> TokenStream2 {
        self.0.map(|e| e.into_compile_error()).unwrap_or_default()
    }
}
