//! A publication: the figures of the moment, handed to the recorder.
//!
//! Counters are set to their absolute values (the runtime's counters never
//! go down), gauges to theirs; so a publication may come at any time, as
//! often as scrapes do, and none is lost by coming late.

use metrics::{counter, gauge, histogram};

use super::names::*;
use crate::lifecycle::Trigger;
use crate::lifecycle::report::{PhaseReport, ServerReport, ShutdownPhase};
use crate::serve::accounts::durations::{self, Ended};

/// Every phase, in the order the app goes through them, as the `phase`
/// label says it.
pub(crate) const PHASES: [&str; 7] = [
    "running",
    "not-ready",
    "refuse",
    "drain",
    "tasks",
    "callbacks",
    "done",
];

/// The `phase` label of a shutdown phase.
pub(crate) fn phase_label(phase: ShutdownPhase) -> &'static str {
    match phase {
        ShutdownPhase::NotReady => PHASES[1],
        ShutdownPhase::Refuse => PHASES[2],
        ShutdownPhase::Drain => PHASES[3],
        ShutdownPhase::Tasks => PHASES[4],
        ShutdownPhase::Callbacks => PHASES[5],
    }
}

/// One server's figures at a publication.
#[derive(Debug)]
pub(crate) struct ServerFigures {
    /// Its counts, as the report has them.
    pub(crate) report: ServerReport,
    /// Its connections open.
    pub(crate) open_connections: u64,
}

/// What one publication reads.
#[derive(Debug)]
pub(crate) struct Sources {
    /// Each server's figures.
    pub(crate) servers: Vec<ServerFigures>,
    /// The phase the app is in: one of [`PHASES`].
    pub(crate) phase: &'static str,
    /// The phases that have ended, with their durations.
    pub(crate) phases: Vec<PhaseReport>,
    /// The triggers so far.
    pub(crate) triggers: Vec<Trigger>,
    /// The outcome of each callback that has ended.
    pub(crate) callbacks: Vec<&'static str>,
    /// The outcome of each task that has ended.
    pub(crate) tasks: Vec<&'static str>,
}

/// Hands `sources` to the recorder installed (if none is, this does nothing
/// but look it up).
pub(crate) fn publish(sources: &Sources) {
    for server in &sources.servers {
        publish_server(server);
    }
    durations::take_new(|labels, seconds, count| {
        let (ended_key, ended) = match labels.ended {
            Ended::Status(status) => ("http.response.status_code", status.to_string()),
            Ended::Error(error) => ("error.type", error.to_owned()),
        };
        let mut all = vec![
            ("server", labels.server.to_owned()),
            ("http.request.method", labels.method.to_owned()),
            ("network.protocol.version", labels.version.to_owned()),
            (ended_key, ended),
        ];
        if let Some(route) = labels.route {
            all.push(("http.route", route.to_owned()));
        }
        histogram!(REQUEST_DURATION, &all).record_many(seconds, count);
    });
    for phase in PHASES {
        gauge!(PHASE, "phase" => phase).set(if phase == sources.phase { 1.0 } else { 0.0 });
    }
    for phase in &sources.phases {
        gauge!(PHASE_DURATION, "phase" => phase_label(phase.name))
            .set(phase.duration.as_secs_f64());
    }
    let mut signals: Vec<(String, u64)> = Vec::new();
    let mut restarts = 0;
    for trigger in &sources.triggers {
        match trigger {
            Trigger::Signal(signal) => {
                let name = signal.to_string();
                match signals.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, count)) => *count += 1,
                    None => signals.push((name, 1)),
                }
            }
            Trigger::HandedOver => restarts += 1,
            _ => {}
        }
    }
    for (signal, count) in signals {
        counter!(SIGNALS, "signal" => signal).absolute(count);
    }
    counter!(RESTARTS).absolute(restarts);
    for (name, outcomes, all) in [
        (CALLBACKS, &sources.callbacks, CALLBACK_OUTCOMES.as_slice()),
        (TASKS, &sources.tasks, TASK_OUTCOMES.as_slice()),
    ] {
        for &outcome in all {
            let count = outcomes.iter().filter(|&&o| o == outcome).count();
            counter!(name, "outcome" => outcome).absolute(count as u64);
        }
    }
}

/// The outcomes a callback may end with.
const CALLBACK_OUTCOMES: [&str; 4] = ["succeeded", "failed", "panicked", "timed-out"];

/// The outcomes a task may end with.
const TASK_OUTCOMES: [&str; 6] = [
    "finished",
    "stopped",
    "failed",
    "panicked",
    "timed-out",
    "abandoned",
];

fn publish_server(figures: &ServerFigures) {
    let s = &figures.report;
    let server = || ("server", s.name.clone());
    let with = |key: &'static str, value: &'static str| [server(), (key, value.to_owned())];
    gauge!(ACTIVE_REQUESTS, &[server()]).set(s.in_flight as f64);
    // The report counts what is still in flight as cut off (at the end,
    // it is); a live publication does not.
    let outcomes = [
        ("served", s.served),
        ("drained", s.drained),
        ("refused", s.refused),
        ("cut_off", s.cut_off.saturating_sub(s.in_flight)),
        ("disconnected", s.disconnected),
        ("panicked", s.panicked),
    ];
    for (outcome, count) in outcomes {
        counter!(REQUESTS, &with("outcome", outcome)).absolute(count);
    }
    counter!(CONNECTIONS, &[server()]).absolute(s.connections);
    gauge!(CONNECTIONS_OPEN, &[server()]).set(figures.open_connections as f64);
    let closed = [
        ("idle", s.idle_closed),
        ("aborted", s.connections_aborted),
        ("header_timeout", s.header_timeouts),
        ("unanswered", s.unanswered),
    ];
    for (reason, count) in closed {
        counter!(CONNECTIONS_CLOSED, &with("reason", reason)).absolute(count);
    }
    counter!(UPGRADED, &[server()]).absolute(s.upgraded);
    let upgraded_open = s
        .upgraded
        .saturating_sub(s.upgraded_closed + s.upgraded_cut_off);
    gauge!(UPGRADED_OPEN, &[server()]).set(upgraded_open as f64);
    let handshakes = [
        ("failed", s.tls_handshakes_failed),
        ("timeout", s.tls_handshake_timeouts),
        ("shed", s.tls_handshakes_shed),
    ];
    for (reason, count) in handshakes {
        counter!(TLS_HANDSHAKES_FAILED, &with("reason", reason)).absolute(count);
    }
}
