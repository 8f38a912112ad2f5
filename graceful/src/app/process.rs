//! Running a process to its exit, the one way `App::run_blocking` and the
//! generated `main` both do: the signal handlers first (the sentinel),
//! then the app on a multi-threaded runtime, then the exit with the code
//! the report (or the start-up error) says.

use graceful_values::settings;
use std::future::Future;

use crate::config;
use crate::error::Error;
use crate::lifecycle::exit::exit_process;
use crate::lifecycle::handle::ShutdownHandle;
use crate::lifecycle::report::Report;
use crate::lifecycle::sentinel::Sentinel;
use crate::lifecycle::signals::Signal;

/// Installs the signal handlers (`signals`: those the app is configured
/// with, to start the shutdown and to restart; the environment's win),
/// runs `run` with the sentinel on a multi-threaded runtime, and exits with
/// the report's code, or, if the app could not start, logs the error and
/// exits with its code.
pub(crate) fn run_to_exit<F, Fut>(
    signals: (Vec<Signal>, Vec<Signal>),
    handle: &ShutdownHandle,
    run: F,
) -> !
where
    F: FnOnce(Sentinel) -> Fut,
    Fut: Future<Output = Result<Report, Error>>,
{
    let result = early_sentinel(&signals, handle)
        .and_then(|sentinel| block_on(run(sentinel)))
        .and_then(|result| result);
    exit_process(match result {
        Ok(report) => report.exit_code(),
        Err(err) => {
            crate::logging::install_default();
            tracing::error!(startup = "failed", error = %err, exit_code = err.exit_code().code(), "{err}");
            err.exit_code()
        }
    })
}

/// Installs the signal handlers before anything else runs, with the signals
/// the environment names (or, if it names none or none valid, the
/// configured ones). A malformed `GRACEFUL_SIGNALS` is still reported by
/// the start.
fn early_sentinel(
    (shutdown, restart): &(Vec<Signal>, Vec<Signal>),
    handle: &ShutdownHandle,
) -> Result<Sentinel, Error> {
    let read = |setting, configured: &[Signal]| {
        config::signals_var(&config::process_env, setting)
            .ok()
            .flatten()
            .unwrap_or_else(|| configured.to_vec())
    };
    Sentinel::start(
        &read(&settings::SIGNALS, shutdown),
        &read(&settings::RESTART_SIGNALS, restart),
        handle,
    )
}

/// Builds a multi-threaded runtime and runs `future` on it, then leaves the
/// runtime behind (forgotten, not dropped): the caller exits the process.
fn block_on<F: Future>(future: F) -> Result<F::Output, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let output = runtime.block_on(future);
    std::mem::forget(runtime);
    Ok(output)
}
