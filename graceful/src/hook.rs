//! What the user's hooks return: `main`'s body, a shutdown callback.

use std::fmt;

/// What `#[graceful::main]`'s body and a shutdown callback may return:
/// `()`, or `Result<(), E>` where `E: Display` (an error is reported with
/// its message).
///
/// ```
/// fn accepts<R: graceful::HookResult>(_: R) {}
/// accepts(());
/// accepts(Ok::<(), std::io::Error>(()));
/// accepts(Err::<(), _>("disk full"));
/// ```
#[diagnostic::on_unimplemented(
    message = "graceful cannot read `{Self}` as the result of a hook",
    label = "returned here",
    note = "return `()` or `Result<(), E>` where `E: Display`"
)]
pub trait HookResult {
    /// `Ok(())`, or the error's message.
    fn into_result(self) -> Result<(), String>;
}

impl HookResult for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Display> HookResult for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|err| err.to_string())
    }
}
