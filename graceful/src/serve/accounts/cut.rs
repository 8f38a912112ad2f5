//! The moments that cut requests and upgraded connections off, and the
//! warning that names each one cut.

use crate::lifecycle::Lifecycle;
use crate::lifecycle::report::OpenRequest;

/// Which moment cuts requests and upgraded connections off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// The drain deadline, or a forced exit.
    DrainDeadline,
    /// [`App::upgrade_timeout`](crate::App::upgrade_timeout).
    UpgradeDeadline,
    /// The report: the request still runs (its code blocks a thread).
    Report,
}

/// Logs what was cut off, saying which moment cut it.
pub(super) fn log_cut_off(what: &str, request: &OpenRequest, lifecycle: &Lifecycle, cut: Cut) {
    let forced_by = lifecycle.forced_by().map(ToString::to_string);
    let (cut_at, at) = match (&forced_by, cut) {
        (_, Cut::Report) => ("report", "the report: its code blocks a thread"),
        (Some(_), _) => ("forced-exit", "the forced exit"),
        (None, Cut::UpgradeDeadline) => ("upgrade-deadline", "the upgrade deadline"),
        (None, Cut::DrainDeadline) => ("drain-deadline", "the drain deadline"),
    };
    tracing::warn!(
        cut = what,
        cut_at,
        server = %request.server,
        method = request.method_name(),
        path = %request.path,
        age = ?request.age,
        forced_by,
        "{what} cut off at {at}"
    );
}
