//! The one description of the lifecycle's settings.
//!
//! Each [`Setting`] is, under one name, a key of `#[graceful::main]`, a
//! builder method of `graceful::App` and an environment variable; its
//! [`Kind`] says which parser reads it. Everything else follows from
//! [`SETTINGS`]:
//!
//! - the attribute macro accepts exactly these keys, parses each value with
//!   its kind's parser at compile time, and emits the builder call of the same
//!   name;
//! - the runtime reads exactly these variables, with the same parsers, and
//!   sets each through one exhaustive `match` on [`Id`];
//! - the defaults of the runtime's configuration are read from here;
//! - the settings tables of the README and of `graceful::config` are rendered
//!   by [`markdown_table`], and a test fails when they differ.
//!
//! `kind` holds what a value can be ([`Kind`], [`Value`], [`DefaultValue`])
//! and how each kind is parsed and checked.

mod kind;

use std::fmt::Write as _;
use std::time::Duration;

use crate::Signal;

pub use kind::{DefaultValue, Id, Kind, Value, parse_count, parse_path};

/// One setting of the lifecycle.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// Which one.
    pub id: Id,
    /// The key of `#[graceful::main]` and the name of the builder method.
    pub name: &'static str,
    /// The environment variable that overrides both at run time.
    pub env: &'static str,
    /// What its value is.
    pub kind: Kind,
    /// Its default.
    pub default: DefaultValue,
    /// What it sets, in a few words, for the settings table.
    pub meaning: &'static str,
}

/// `shutdown_timeout`: the global deadline, from the first signal to a forced exit.
pub const SHUTDOWN_TIMEOUT: Setting = Setting {
    id: Id::ShutdownTimeout,
    name: "shutdown_timeout",
    env: "GRACEFUL_SHUTDOWN_TIMEOUT",
    kind: Kind::Duration,
    default: DefaultValue::Duration(Duration::from_secs(30)),
    meaning: "global deadline, from the first signal",
};

/// `drain_timeout`: how long in-flight requests may take to finish.
pub const DRAIN_TIMEOUT: Setting = Setting {
    id: Id::DrainTimeout,
    name: "drain_timeout",
    env: "GRACEFUL_DRAIN_TIMEOUT",
    kind: Kind::Duration,
    default: DefaultValue::Duration(Duration::from_secs(10)),
    meaning: "drain deadline",
};

/// `callback_timeout`: the timeout of callbacks that set none.
pub const CALLBACK_TIMEOUT: Setting = Setting {
    id: Id::CallbackTimeout,
    name: "callback_timeout",
    env: "GRACEFUL_CALLBACK_TIMEOUT",
    kind: Kind::Duration,
    default: DefaultValue::Duration(Duration::from_secs(3)),
    meaning: "callback timeout",
};

/// `task_timeout`: the stop budget of background tasks that set none.
pub const TASK_TIMEOUT: Setting = Setting {
    id: Id::TaskTimeout,
    name: "task_timeout",
    env: "GRACEFUL_TASK_TIMEOUT",
    kind: Kind::Duration,
    default: DefaultValue::Duration(Duration::from_secs(5)),
    meaning: "task stop budget",
};

/// `pre_stop_delay`: how long to keep serving after the signal, not ready.
pub const PRE_STOP_DELAY: Setting = Setting {
    id: Id::PreStopDelay,
    name: "pre_stop_delay",
    env: "GRACEFUL_PRE_STOP_DELAY",
    kind: Kind::Duration,
    default: DefaultValue::Duration(Duration::ZERO),
    meaning: "keep serving after the signal",
};

/// `read_grace`: how long a recently active connection may still send a request.
pub const READ_GRACE: Setting = Setting {
    id: Id::ReadGrace,
    name: "read_grace",
    env: "GRACEFUL_READ_GRACE",
    kind: Kind::Duration,
    default: DefaultValue::Duration(Duration::from_millis(100)),
    meaning: "read grace of a busy connection",
};

/// `header_grace`: how long a connection asked to close may take to send a request head.
pub const HEADER_GRACE: Setting = Setting {
    id: Id::HeaderGrace,
    name: "header_grace",
    env: "GRACEFUL_HEADER_GRACE",
    kind: Kind::Duration,
    default: DefaultValue::Duration(Duration::from_secs(1)),
    meaning: "header grace while draining",
};

/// `header_read_timeout`: how long a new connection may take to send its
/// first request head while serving; zero turns it off.
pub const HEADER_READ_TIMEOUT: Setting = Setting {
    id: Id::HeaderReadTimeout,
    name: "header_read_timeout",
    env: "GRACEFUL_HEADER_READ_TIMEOUT",
    kind: Kind::Duration,
    default: DefaultValue::Duration(Duration::from_secs(30)),
    meaning: "request head timeout while serving (0: off)",
};

/// `progress_interval`: how often the drain logs what is still in flight.
pub const PROGRESS_INTERVAL: Setting = Setting {
    id: Id::ProgressInterval,
    name: "progress_interval",
    env: "GRACEFUL_PROGRESS_INTERVAL",
    kind: Kind::Interval,
    default: DefaultValue::Duration(Duration::from_secs(1)),
    meaning: "drain progress log",
};

/// `upgrade_timeout`: how long upgraded connections may stay open once the
/// shutdown begins.
pub const UPGRADE_TIMEOUT: Setting = Setting {
    id: Id::UpgradeTimeout,
    name: "upgrade_timeout",
    env: "GRACEFUL_UPGRADE_TIMEOUT",
    kind: Kind::Duration,
    default: DefaultValue::Unset("the drain deadline"),
    meaning: "upgraded connections' budget from the signal",
};

/// `signals`: the signals that start the shutdown.
pub const SIGNALS: Setting = Setting {
    id: Id::Signals,
    name: "signals",
    env: "GRACEFUL_SIGNALS",
    kind: Kind::Signals,
    default: DefaultValue::Signals(&Signal::DEFAULT),
    meaning: "signals that start the shutdown",
};

/// `restart_signals`: the signals that restart by handing the listeners
/// over to a successor.
pub const RESTART_SIGNALS: Setting = Setting {
    id: Id::RestartSignals,
    name: "restart_signals",
    env: "GRACEFUL_RESTART_SIGNALS",
    kind: Kind::SignalsOrNone,
    default: DefaultValue::Signals(&[Signal::Usr2]),
    meaning: "signals that restart by handing the listeners over (empty: none)",
};

/// `restart_timeout`: how long a restart's successor may take to serve.
pub const RESTART_TIMEOUT: Setting = Setting {
    id: Id::RestartTimeout,
    name: "restart_timeout",
    env: "GRACEFUL_RESTART_TIMEOUT",
    kind: Kind::Interval,
    default: DefaultValue::Duration(Duration::from_secs(30)),
    meaning: "a restart's successor's time to serve",
};

/// `health_path`: the path of the health endpoint.
pub const HEALTH_PATH: Setting = Setting {
    id: Id::HealthPath,
    name: "health_path",
    env: "GRACEFUL_HEALTH_PATH",
    kind: Kind::Path,
    default: DefaultValue::Unset("none"),
    meaning: "health endpoint (empty in the environment: none)",
};

/// `metrics_path`: the path of the Prometheus metrics endpoint.
pub const METRICS_PATH: Setting = Setting {
    id: Id::MetricsPath,
    name: "metrics_path",
    env: "GRACEFUL_METRICS_PATH",
    kind: Kind::Path,
    default: DefaultValue::Unset("none"),
    meaning: "Prometheus metrics endpoint (feature `prometheus`; empty in the environment: none)",
};

/// `admin_addr`: where the admin server listens, which answers the health
/// and metrics paths until the report is final.
pub const ADMIN_ADDR: Setting = Setting {
    id: Id::AdminAddr,
    name: "admin_addr",
    env: "GRACEFUL_ADMIN_ADDR",
    kind: Kind::Addr,
    default: DefaultValue::Unset("none"),
    meaning: "admin server for health and metrics, open until the report (feature `prometheus`; empty in the environment: none)",
};

/// `tls_handshake_timeout`: how long a TLS client may take to finish its
/// handshake, from its accept.
pub const TLS_HANDSHAKE_TIMEOUT: Setting = Setting {
    id: Id::TlsHandshakeTimeout,
    name: "tls_handshake_timeout",
    env: "GRACEFUL_TLS_HANDSHAKE_TIMEOUT",
    kind: Kind::Interval,
    default: DefaultValue::Duration(Duration::from_secs(10)),
    meaning: "TLS handshake deadline (feature `tls`)",
};

/// `tls_max_handshakes`: how many TLS handshakes a server carries at once;
/// a connection accepted beyond them is closed at once.
pub const TLS_MAX_HANDSHAKES: Setting = Setting {
    id: Id::TlsMaxHandshakes,
    name: "tls_max_handshakes",
    env: "GRACEFUL_TLS_MAX_HANDSHAKES",
    kind: Kind::Count,
    default: DefaultValue::Count(1024),
    meaning: "TLS handshakes under way per server, at most (feature `tls`)",
};

/// Every setting, in the order the docs list them.
pub const SETTINGS: &[Setting] = &[
    SHUTDOWN_TIMEOUT,
    DRAIN_TIMEOUT,
    CALLBACK_TIMEOUT,
    TASK_TIMEOUT,
    PRE_STOP_DELAY,
    READ_GRACE,
    HEADER_GRACE,
    HEADER_READ_TIMEOUT,
    PROGRESS_INTERVAL,
    UPGRADE_TIMEOUT,
    TLS_HANDSHAKE_TIMEOUT,
    TLS_MAX_HANDSHAKES,
    SIGNALS,
    RESTART_SIGNALS,
    RESTART_TIMEOUT,
    HEALTH_PATH,
    METRICS_PATH,
    ADMIN_ADDR,
];

/// The setting named `name`, as an attribute key or builder method.
///
/// ```
/// use graceful_values::settings::{by_name, Id};
/// assert_eq!(by_name("drain_timeout").map(|s| s.id), Some(Id::DrainTimeout));
/// assert!(by_name("drain").is_none());
/// ```
pub fn by_name(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|setting| setting.name == name)
}

/// The settings table, in Markdown, as the README and `graceful::config`
/// show it.
///
/// ```
/// let table = graceful_values::settings::markdown_table();
/// assert!(table.contains("| drain deadline | `drain_timeout` | `GRACEFUL_DRAIN_TIMEOUT` | 10 s |"));
/// ```
pub fn markdown_table() -> String {
    let mut table = String::from(
        "| setting | `#[graceful::main]` key and `App` method | environment | default |\n\
         |---|---|---|---|\n",
    );
    for setting in SETTINGS {
        let _ = writeln!(
            table,
            "| {} | `{}` | `{}` | {} |",
            setting.meaning,
            setting.name,
            setting.env,
            setting.default.to_doc()
        );
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_variables_are_unique_and_follow_one_rule() {
        for (i, setting) in SETTINGS.iter().enumerate() {
            assert_eq!(
                setting.env,
                format!("GRACEFUL_{}", setting.name.to_ascii_uppercase())
            );
            for other in &SETTINGS[i + 1..] {
                assert_ne!(setting.id, other.id);
                assert_ne!(setting.name, other.name);
            }
        }
    }

    #[test]
    fn every_duration_default_is_within_the_maximum() {
        for setting in SETTINGS {
            if let DefaultValue::Duration(duration) = setting.default {
                assert!(duration <= crate::MAX_DURATION, "{}", setting.name);
                assert!(
                    setting.kind != Kind::Interval || !duration.is_zero(),
                    "{}",
                    setting.name
                );
            }
        }
    }
}
