//! What a run measures: the servers, the sizes of a run, and what is measured for each.

use std::collections::BTreeMap;

use serde::Serialize;

/// A server under test: its name and its binary beside this one.
pub(crate) const PEERS: [(&str, &str); 6] = [
    ("graceful", "serve-graceful"),
    ("hyper", "serve-hyper"),
    ("axum", "serve-axum"),
    ("graceful-builder", "serve-graceful-builder"),
    ("graceful-routed", "serve-graceful-routed"),
    ("actix-web", "serve-actix"),
];

/// The runtime alternatives (`-- runtimes`): graceful's builder and bare
/// hyper each on one current-thread runtime, as actix-web runs one per core,
/// against the multi-threaded runtime they run on otherwise.
pub(crate) const RUNTIMES: [(&str, &str); 5] = [
    ("graceful-builder", "serve-graceful-builder"),
    ("hyper", "serve-hyper"),
    ("graceful-current", "serve-graceful-current"),
    ("hyper-current", "serve-hyper-current"),
    ("actix-web", "serve-actix"),
];

/// The sizes of one run.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct Plan {
    pub(crate) rounds: usize,
    pub(crate) seconds: f64,
    pub(crate) connections: usize,
    pub(crate) drain_connections: usize,
    pub(crate) slow_requests: usize,
    pub(crate) warm_up_requests: u64,
    pub(crate) memory_connections: usize,
    pub(crate) scale_connections: usize,
    /// Requests for the instruction count (0: not counted).
    pub(crate) instruction_requests: u64,
    /// Keep-alive clients of the rolling restart behind nginx.
    pub(crate) rolling_clients: usize,
    /// Time between its restarts, in ms.
    pub(crate) rolling_pause_ms: u64,
}

pub(crate) const FULL: Plan = Plan {
    rounds: 161,
    seconds: 0.3,
    connections: 32,
    drain_connections: 32,
    slow_requests: 8,
    warm_up_requests: 5_000,
    memory_connections: 1_000,
    scale_connections: 10_000,
    instruction_requests: 2_000,
    rolling_clients: 16,
    rolling_pause_ms: 1_000,
};

pub(crate) const SMOKE: Plan = Plan {
    rounds: 2,
    seconds: 0.5,
    connections: 8,
    drain_connections: 8,
    slow_requests: 2,
    warm_up_requests: 200,
    memory_connections: 100,
    scale_connections: 300,
    instruction_requests: 100,
    rolling_clients: 4,
    rolling_pause_ms: 200,
};

/// Everything measured for one server.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Measured {
    /// Requests per second, one per round.
    pub(crate) throughput: Vec<f64>,
    /// Throughput / bare hyper's in the same round, one per round.
    pub(crate) vs_hyper: Vec<f64>,
    pub(crate) p50_us: Vec<u64>,
    pub(crate) p99_us: Vec<u64>,
    pub(crate) drain: Option<Drain>,
    pub(crate) idle_exit_ms: Vec<f64>,
    pub(crate) second_signal: Option<SecondSignal>,
    pub(crate) memory: Option<Memory>,
    pub(crate) scale: Option<Scale>,
    /// User-space instructions per `GET /`, counted by callgrind, if installed.
    pub(crate) instructions: Option<f64>,
    /// A rolling restart of three replicas behind nginx, if installed,
    /// each stopped and started again, nginx retrying another upstream.
    pub(crate) rolling: Option<crate::scenarios::rolling::Rolling>,
    /// The same without nginx's retries.
    pub(crate) rolling_no_retry: Option<crate::scenarios::rolling::Rolling>,
    /// The same without retries, each replica restarted by listener handoff
    /// (graceful only).
    pub(crate) rolling_handoff: Option<crate::scenarios::rolling::Rolling>,
    /// One restart under direct load, stopped and started again.
    pub(crate) restart_stop_start: Option<crate::scenarios::restart::Restarted>,
    /// One restart under direct load, by listener handoff (graceful only).
    pub(crate) restart_handoff: Option<crate::scenarios::restart::Restarted>,
}

/// Whether a server restarts by listener handoff (`SIGUSR2`).
pub(crate) fn hands_over(name: &str) -> bool {
    name.starts_with("graceful")
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Drain {
    pub(crate) ok: u64,
    pub(crate) refused: u64,
    pub(crate) dirty: u64,
    pub(crate) dirty_examples: Vec<String>,
    pub(crate) slow_ok: usize,
    pub(crate) slow_total: usize,
    pub(crate) signal_to_exit_ms: f64,
    pub(crate) exit_code: i32,
}

#[derive(Debug, Serialize)]
pub(crate) struct Memory {
    pub(crate) idle_kib: u64,
    pub(crate) connections_kib: u64,
    /// From SIGTERM to exit with those connections idle.
    pub(crate) exit_ms: f64,
    pub(crate) exit_code: i32,
}

impl Memory {
    /// Resident memory per idle connection, in KiB.
    pub(crate) fn per_connection_kib(&self, connections: usize) -> f64 {
        self.connections_kib.saturating_sub(self.idle_kib) as f64 / connections.max(1) as f64
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Scale {
    pub(crate) exit_ms: f64,
    pub(crate) exit_code: i32,
}

#[derive(Debug, Serialize)]
pub(crate) struct SecondSignal {
    pub(crate) exit_ms: f64,
    pub(crate) exit_code: i32,
}

#[derive(Serialize)]
pub(crate) struct Results<'a> {
    pub(crate) plan: Plan,
    pub(crate) machine: String,
    pub(crate) command: String,
    pub(crate) servers: &'a BTreeMap<&'static str, Measured>,
    pub(crate) ratio_per_round: Vec<f64>,
    pub(crate) ratio_median: f64,
}
