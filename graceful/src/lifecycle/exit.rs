//! The process's exit, once: whoever comes first (the runtime with its
//! report, or the sentinel when the runtime does not answer) ends it, and
//! the other waits. The runtime is never dropped: that would wait for
//! every blocking thread, and a thread stuck in a synchronous call would
//! hold the exit.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::exit_code::ExitCode;

/// Ends the process with `code`, once: a second caller (the sentinel and the
/// runtime racing to a forced exit) waits for the first to finish.
pub(crate) fn exit_process(code: ExitCode) -> ! {
    static EXITING: AtomicBool = AtomicBool::new(false);
    if EXITING.swap(true, Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
    std::process::exit(code.code())
}
