//! Metrics, through the [`metrics`](https://docs.rs/metrics) facade (the
//! `metrics` feature): what every server is doing while the app runs, and
//! what its shutdown did, as it does it.
//!
//! Nothing here calls the recorder per request. The figures are the ones
//! the report is made of, kept by the runtime in counters that are striped
//! by thread (see the accounts of `serve`), and the request durations, kept
//! per thread the same way; they are handed to the facade's recorder at a
//! publication: every second, at each scrape of the Prometheus endpoint
//! (the `prometheus` feature and the `metrics_path` setting), and once more
//! when the report is final, before the `on_report` hook runs. An exporter
//! that pushes (OTLP, StatsD) is installed by the app as usual
//! (`metrics::set_global_recorder`) and flushed in the `on_report` hook,
//! which runs after the last publication.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `http.server.request.duration` | histogram (seconds, OpenTelemetry's advised buckets) | `server`, `http.request.method` (`_OTHER` for a method the conventions do not name), `network.protocol.version`, `http.response.status_code`, or `error.type` for a request that ended without a response (`cut_off`, `disconnected`, `panicked`, `handler_error`); `http.route`, the `path` of the handler that served it, where handlers share a server by path | from the handler's start to the response body's end; kept per thread, handed to the recorder at each publication |
//! | `http.server.active_requests` | gauge | `server` | requests whose handler started and whose response has not ended (a connection cut or aborted takes its requests with it: the gauge cannot leak) |
//! | `graceful.requests` | counter | `server`, `outcome` | requests ended, by outcome: `served` (before the signal), `drained` (after it), `refused` (`503` or `UNAVAILABLE`), `cut_off` (at the drain deadline), `disconnected` (the client left), `panicked` |
//! | `graceful.connections` | counter | `server` | connections accepted |
//! | `graceful.connections.open` | gauge | `server` | connections open |
//! | `graceful.connections.closed` | counter | `server`, `reason` | connections we closed: `idle` (in the drain), `aborted` (at the drain deadline), `header_timeout`, `unanswered` (no request came) |
//! | `graceful.connections.upgraded` | counter | `server` | connections upgraded (WebSockets) |
//! | `graceful.connections.upgraded.open` | gauge | `server` | upgraded connections open |
//! | `graceful.tls.handshakes.failed` | counter | `server`, `reason` | TLS handshakes that did not complete: `failed`, `timeout` (or cut by the shutdown), `shed` (over `tls_max_handshakes`) |
//! | `graceful.phase` | gauge | `phase` | 1 for the phase the app is in, 0 for the others: `running`, `not-ready`, `refuse`, `drain`, `tasks`, `callbacks`, `done` |
//! | `graceful.phase.duration` | gauge (seconds) | `phase` | how long each phase of the shutdown took, once it has ended |
//! | `graceful.signals` | counter | `signal` | signals received that start or force the shutdown (`SIGTERM`, ...) |
//! | `graceful.restarts` | counter | | restarts by listener handoff this process handed over to a successor |
//! | `graceful.callbacks` | counter | `outcome` | shutdown callbacks ended: `succeeded`, `failed`, `panicked`, `timed-out` |
//! | `graceful.tasks` | counter | `outcome` | background tasks ended: `finished`, `stopped`, `failed`, `panicked`, `timed-out`, `abandoned` |
//!
//! Label values are bounded: server names and phases are the app's, never
//! a request's path.

mod publish;

#[cfg(feature = "prometheus")]
pub(crate) mod prometheus;

pub(crate) use publish::{PHASES, ServerFigures, Sources, publish};

use ::metrics::{KeyName, SharedString, Unit};

/// The names of the metrics, as the facade receives them. A Prometheus
/// exporter writes `.` as `_`, and adds `_total` to counters and the unit
/// to `graceful_phase_duration_seconds`.
pub(crate) mod names {
    pub(crate) const ACTIVE_REQUESTS: &str = "http.server.active_requests";
    pub(crate) const REQUEST_DURATION: &str = "http.server.request.duration";
    pub(crate) const REQUESTS: &str = "graceful.requests";
    pub(crate) const CONNECTIONS: &str = "graceful.connections";
    pub(crate) const CONNECTIONS_OPEN: &str = "graceful.connections.open";
    pub(crate) const CONNECTIONS_CLOSED: &str = "graceful.connections.closed";
    pub(crate) const UPGRADED: &str = "graceful.connections.upgraded";
    pub(crate) const UPGRADED_OPEN: &str = "graceful.connections.upgraded.open";
    pub(crate) const TLS_HANDSHAKES_FAILED: &str = "graceful.tls.handshakes.failed";
    pub(crate) const PHASE: &str = "graceful.phase";
    pub(crate) const PHASE_DURATION: &str = "graceful.phase.duration";
    pub(crate) const SIGNALS: &str = "graceful.signals";
    pub(crate) const RESTARTS: &str = "graceful.restarts";
    pub(crate) const CALLBACKS: &str = "graceful.callbacks";
    pub(crate) const TASKS: &str = "graceful.tasks";
}

/// What kind of metric one is.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric's description, as the recorder shows it (its help text and
/// unit).
#[derive(Debug)]
struct Description {
    name: &'static str,
    kind: Kind,
    unit: Option<Unit>,
    help: &'static str,
}

/// Every metric, described once.
const DESCRIPTIONS: [Description; 15] = {
    use Kind::*;
    use names::*;
    const fn d(
        name: &'static str,
        kind: Kind,
        unit: Option<Unit>,
        help: &'static str,
    ) -> Description {
        Description {
            name,
            kind,
            unit,
            help,
        }
    }
    const COUNT: Option<Unit> = Some(Unit::Count);
    const SECONDS: Option<Unit> = Some(Unit::Seconds);
    [
        d(
            REQUEST_DURATION,
            Histogram,
            SECONDS,
            "Duration of HTTP server requests, from the handler's start to the response's end.",
        ),
        d(
            ACTIVE_REQUESTS,
            Gauge,
            COUNT,
            "Requests whose handler started and whose response has not ended.",
        ),
        d(
            REQUESTS,
            Counter,
            COUNT,
            "Requests ended, by outcome (served, drained, refused, cut_off, disconnected, panicked).",
        ),
        d(CONNECTIONS, Counter, COUNT, "Connections accepted."),
        d(CONNECTIONS_OPEN, Gauge, COUNT, "Connections open."),
        d(
            CONNECTIONS_CLOSED,
            Counter,
            COUNT,
            "Connections the server closed, by reason (idle, aborted, header_timeout, unanswered).",
        ),
        d(UPGRADED, Counter, COUNT, "Connections upgraded."),
        d(UPGRADED_OPEN, Gauge, COUNT, "Upgraded connections open."),
        d(
            TLS_HANDSHAKES_FAILED,
            Counter,
            COUNT,
            "TLS handshakes that did not complete, by reason (failed, timeout, shed).",
        ),
        d(
            PHASE,
            Gauge,
            None,
            "1 for the lifecycle phase the app is in, 0 for the others.",
        ),
        d(
            PHASE_DURATION,
            Gauge,
            SECONDS,
            "How long each phase of the shutdown took, once it has ended.",
        ),
        d(
            SIGNALS,
            Counter,
            COUNT,
            "Signals received that start or force the shutdown.",
        ),
        d(
            RESTARTS,
            Counter,
            COUNT,
            "Restarts by listener handoff this process handed over.",
        ),
        d(
            CALLBACKS,
            Counter,
            COUNT,
            "Shutdown callbacks ended, by outcome (succeeded, failed, panicked, timed-out).",
        ),
        d(
            TASKS,
            Counter,
            COUNT,
            "Background tasks ended, by outcome (finished, stopped, failed, panicked, timed-out, abandoned).",
        ),
    ]
};

/// Tells the recorder installed what each metric is. Called once a
/// recorder is in place, at the start.
pub(crate) fn describe() {
    ::metrics::with_recorder(|recorder| {
        for d in &DESCRIPTIONS {
            let (name, help) = (
                KeyName::from_const_str(d.name),
                SharedString::const_str(d.help),
            );
            match d.kind {
                Kind::Counter => recorder.describe_counter(name, d.unit, help),
                Kind::Gauge => recorder.describe_gauge(name, d.unit, help),
                Kind::Histogram => recorder.describe_histogram(name, d.unit, help),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table in these docs lists every metric described.
    #[test]
    fn the_docs_list_every_metric() {
        let docs = include_str!("mod.rs");
        for d in &DESCRIPTIONS {
            assert!(
                docs.contains(&format!("//! | `{}` |", d.name)),
                "{}",
                d.name
            );
        }
    }
}
