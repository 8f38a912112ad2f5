//! Settings: their defaults, and the environment variables that override them.
//!
//! Every setting of the lifecycle has a default, a key of
//! `#[graceful::main]`, a builder method of [`App`](crate::App) of the same
//! name, and an environment variable that overrides both at run time, so an
//! operator can lengthen a drain without a rebuild. All follow from one
//! description, [`SETTINGS`]:
//!
//! <!-- settings table: generated from graceful_values::settings, checked by a test -->
//! | setting | `#[graceful::main]` key and `App` method | environment | default |
//! |---|---|---|---|
//! | global deadline, from the first signal | `shutdown_timeout` | `GRACEFUL_SHUTDOWN_TIMEOUT` | 30 s |
//! | drain deadline | `drain_timeout` | `GRACEFUL_DRAIN_TIMEOUT` | 10 s |
//! | callback timeout | `callback_timeout` | `GRACEFUL_CALLBACK_TIMEOUT` | 3 s |
//! | task stop budget | `task_timeout` | `GRACEFUL_TASK_TIMEOUT` | 5 s |
//! | keep serving after the signal | `pre_stop_delay` | `GRACEFUL_PRE_STOP_DELAY` | 0 |
//! | read grace of a busy connection | `read_grace` | `GRACEFUL_READ_GRACE` | 100 ms |
//! | header grace while draining | `header_grace` | `GRACEFUL_HEADER_GRACE` | 1 s |
//! | request head timeout while serving (0: off) | `header_read_timeout` | `GRACEFUL_HEADER_READ_TIMEOUT` | 30 s |
//! | drain progress log | `progress_interval` | `GRACEFUL_PROGRESS_INTERVAL` | 1 s |
//! | upgraded connections' budget from the signal | `upgrade_timeout` | `GRACEFUL_UPGRADE_TIMEOUT` | the drain deadline |
//! | TLS handshake deadline (feature `tls`) | `tls_handshake_timeout` | `GRACEFUL_TLS_HANDSHAKE_TIMEOUT` | 10 s |
//! | TLS handshakes under way per server, at most (feature `tls`) | `tls_max_handshakes` | `GRACEFUL_TLS_MAX_HANDSHAKES` | 1024 |
//! | signals that start the shutdown | `signals` | `GRACEFUL_SIGNALS` | `TERM,INT,QUIT,HUP` |
//! | signals that restart by handing the listeners over (empty: none) | `restart_signals` | `GRACEFUL_RESTART_SIGNALS` | `USR2` |
//! | a restart's successor's time to serve | `restart_timeout` | `GRACEFUL_RESTART_TIMEOUT` | 30 s |
//! | health endpoint (empty in the environment: none) | `health_path` | `GRACEFUL_HEALTH_PATH` | none |
//! | Prometheus metrics endpoint (feature `prometheus`; empty in the environment: none) | `metrics_path` | `GRACEFUL_METRICS_PATH` | none |
//! | admin server for health and metrics, open until the report (feature `prometheus`; empty in the environment: none) | `admin_addr` | `GRACEFUL_ADMIN_ADDR` | none |
//! <!-- end of settings table -->
//!
//! Names that vary have a variable each; a restart and the default subscriber
//! have their own:
//!
//! | setting | in code | environment | default |
//! |---|---|---|---|
//! | one callback's timeout | [`Callback::timeout`](crate::Callback::timeout) | `GRACEFUL_CALLBACK_TIMEOUT_<NAME>` | `callback_timeout` |
//! | one task's stop budget | [`Task::timeout`](crate::Task::timeout) | `GRACEFUL_TASK_TIMEOUT_<NAME>` | `task_timeout` |
//! | a server's address | [`Server::new`](crate::Server::new) | `GRACEFUL_ADDR_<NAME>` | as declared |
//! | a server's TLS certificate chain and key, PEM (feature `tls`; both or neither) | `Server::tls` | `GRACEFUL_TLS_CERT_<NAME>`, `GRACEFUL_TLS_KEY_<NAME>` | as in code; none |
//! | the program a restart runs | (a wrapper script's `$0`) | `GRACEFUL_RESTART_PROGRAM` | the path the process was started as |
//! | the default subscriber's format | (your own subscriber) | `GRACEFUL_LOG_FORMAT` (`text`, `json`) | `text` |
//! | the default subscriber's filter | (your own subscriber) | `RUST_LOG` | `info` |
//!
//! `<NAME>` is the server's, callback's or task's name in upper case, with every
//! character other than a letter or a digit replaced by `_`: the address of
//! server `api-v2` is `GRACEFUL_ADDR_API_V2`. Durations are written as
//! `500ms`, `3s`, `1m`, `1m 30s` (see [`parse_duration`]), at most
//! [`MAX_DURATION`]. A malformed value stops the start-up with an
//! [`Error::Config`] naming the variable; a value out of range given in code,
//! with an [`Error::Setting`] naming the setting.

use std::time::Duration;

use graceful_values::settings::{self, Id, Kind, Setting, Value};

mod env;

use crate::error::Error;

pub use env::{
    ENV_ADDR_PREFIX, ENV_CALLBACK_TIMEOUT_PREFIX, ENV_TASK_TIMEOUT_PREFIX, ENV_TLS_CERT_PREFIX,
    ENV_TLS_KEY_PREFIX, env_suffix,
};
pub(crate) use env::{Lookup, Named, Overrides, TlsFiles, invalid, process_env, signals_var};
use graceful_values::Signal;

pub use graceful_values::settings::{SETTINGS, markdown_table};
pub use graceful_values::{MAX_DURATION, check_duration, parse_duration};

/// `GRACEFUL_LOG_FORMAT`: the default subscriber's format, `text` (the default) or `json`.
pub const ENV_LOG_FORMAT: &str = "GRACEFUL_LOG_FORMAT";
/// The lifecycle's settings, as the builder set them and the environment
/// overrode them; each field is a setting of [`SETTINGS`], set through
/// [`Config::set`].
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) shutdown_timeout: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) callback_timeout: Duration,
    pub(crate) task_timeout: Duration,
    pub(crate) pre_stop_delay: Duration,
    pub(crate) read_grace: Duration,
    pub(crate) header_grace: Duration,
    pub(crate) header_read_timeout: Duration,
    pub(crate) progress_interval: Duration,
    pub(crate) upgrade_timeout: Option<Duration>,
    pub(crate) tls_handshake_timeout: Duration,
    pub(crate) tls_max_handshakes: u32,
    pub(crate) signals: Vec<Signal>,
    pub(crate) restart_signals: Vec<Signal>,
    pub(crate) restart_timeout: Duration,
    pub(crate) health_path: Option<String>,
    pub(crate) metrics_path: Option<String>,
    pub(crate) admin_addr: Option<String>,
    /// The first value the builder was given that its setting refuses:
    /// reported when the app starts, since builder methods cannot fail.
    refused: Option<(&'static Setting, String)>,
}

/// What bounds a TLS server's handshakes: read by each TLS server (and so
/// by nothing without the `tls` feature).
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) struct TlsLimits {
    /// How long a handshake may take from the accept.
    pub(crate) handshake_timeout: Duration,
    /// How many handshakes a server carries at once.
    pub(crate) max_handshakes: u32,
}

impl Default for Config {
    /// Every default, read from the description at compile time.
    fn default() -> Self {
        Config {
            shutdown_timeout: const { settings::SHUTDOWN_TIMEOUT.default.duration() },
            drain_timeout: const { settings::DRAIN_TIMEOUT.default.duration() },
            callback_timeout: const { settings::CALLBACK_TIMEOUT.default.duration() },
            task_timeout: const { settings::TASK_TIMEOUT.default.duration() },
            pre_stop_delay: const { settings::PRE_STOP_DELAY.default.duration() },
            read_grace: const { settings::READ_GRACE.default.duration() },
            header_grace: const { settings::HEADER_GRACE.default.duration() },
            header_read_timeout: const { settings::HEADER_READ_TIMEOUT.default.duration() },
            progress_interval: const { settings::PROGRESS_INTERVAL.default.duration() },
            upgrade_timeout: None,
            tls_handshake_timeout: const { settings::TLS_HANDSHAKE_TIMEOUT.default.duration() },
            tls_max_handshakes: const { settings::TLS_MAX_HANDSHAKES.default.count() },
            signals: const { settings::SIGNALS.default.signals() }.to_vec(),
            restart_signals: const { settings::RESTART_SIGNALS.default.signals() }.to_vec(),
            restart_timeout: const { settings::RESTART_TIMEOUT.default.duration() },
            health_path: None,
            metrics_path: None,
            admin_addr: None,
            refused: None,
        }
    }
}

impl Config {
    /// Sets one setting to a value of its kind: the one place where a
    /// setting meets its field, for the builder and the environment alike.
    /// The `match` is exhaustive: a setting added to the description and
    /// not applied here does not compile.
    fn apply(&mut self, id: Id, value: Value) {
        /// Stores a value of the right kind (`Kind::check` and `Kind::parse`
        /// give no other).
        fn store<T>(slot: &mut T, value: Option<T>) {
            debug_assert!(value.is_some(), "a setting of the wrong kind");
            if let Some(value) = value {
                *slot = value;
            }
        }
        match id {
            Id::ShutdownTimeout => store(&mut self.shutdown_timeout, value.into_duration()),
            Id::DrainTimeout => store(&mut self.drain_timeout, value.into_duration()),
            Id::CallbackTimeout => store(&mut self.callback_timeout, value.into_duration()),
            Id::TaskTimeout => store(&mut self.task_timeout, value.into_duration()),
            Id::PreStopDelay => store(&mut self.pre_stop_delay, value.into_duration()),
            Id::ReadGrace => store(&mut self.read_grace, value.into_duration()),
            Id::HeaderGrace => store(&mut self.header_grace, value.into_duration()),
            Id::HeaderReadTimeout => store(&mut self.header_read_timeout, value.into_duration()),
            Id::ProgressInterval => store(&mut self.progress_interval, value.into_duration()),
            Id::UpgradeTimeout => store(&mut self.upgrade_timeout, value.into_duration().map(Some)),
            Id::TlsHandshakeTimeout => {
                store(&mut self.tls_handshake_timeout, value.into_duration())
            }
            Id::TlsMaxHandshakes => store(&mut self.tls_max_handshakes, value.into_count()),
            Id::Signals => store(&mut self.signals, value.into_signals()),
            Id::RestartSignals => store(&mut self.restart_signals, value.into_signals()),
            Id::RestartTimeout => store(&mut self.restart_timeout, value.into_duration()),
            Id::HealthPath => store(&mut self.health_path, value.into_path().map(Some)),
            Id::MetricsPath => store(&mut self.metrics_path, value.into_path().map(Some)),
            Id::AdminAddr => store(&mut self.admin_addr, value.into_addr().map(Some)),
        }
    }

    /// Sets `setting` from the builder. A value its kind refuses (a duration
    /// longer than [`MAX_DURATION`], a zero interval) is kept aside and
    /// reported by [`Config::validate`] when the app starts.
    pub(crate) fn set(&mut self, setting: &'static Setting, value: Value) {
        match setting.kind.check(value) {
            Ok(value) => self.apply(setting.id, value),
            Err(reason) => {
                self.refused.get_or_insert((setting, reason));
            }
        }
    }

    /// The bounds of every TLS server's handshakes.
    pub(crate) fn tls_limits(&self) -> TlsLimits {
        TlsLimits {
            handshake_timeout: self.tls_handshake_timeout,
            max_handshakes: self.tls_max_handshakes,
        }
    }

    /// Fails with the first value the builder was given that its setting refuses.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        match &self.refused {
            None => Ok(()),
            Some((setting, reason)) => Err(Error::Setting {
                setting: setting.name.to_owned(),
                reason: reason.clone(),
            }),
        }
    }

    /// Settings that contradict each other: a signal that would both start
    /// the shutdown and restart; one path for health and metrics; a metrics
    /// path in a build that cannot serve it.
    pub(crate) fn check_together(&self) -> Result<(), Error> {
        if self.admin_addr.is_some() {
            let reason = if !cfg!(feature = "prometheus") {
                Some("the admin server needs the `prometheus` feature of graceful")
            } else if self.metrics_path.is_none() && self.health_path.is_none() {
                Some("the admin server answers the health and metrics paths: set one of them")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(Error::Setting {
                    setting: settings::ADMIN_ADDR.name.to_owned(),
                    reason: reason.to_owned(),
                });
            }
        }
        if let Some(path) = &self.metrics_path {
            if !cfg!(feature = "prometheus") {
                return Err(Error::Setting {
                    setting: settings::METRICS_PATH.name.to_owned(),
                    reason: "serving metrics needs the `prometheus` feature of graceful".to_owned(),
                });
            }
            if self.health_path.as_ref() == Some(path) {
                return Err(Error::Setting {
                    setting: settings::METRICS_PATH.name.to_owned(),
                    reason: format!("{path} is the health path too: give each endpoint its own"),
                });
            }
        }
        match self
            .restart_signals
            .iter()
            .find(|signal| self.signals.contains(signal))
        {
            None => Ok(()),
            Some(signal) => Err(Error::Setting {
                setting: settings::RESTART_SIGNALS.name.to_owned(),
                reason: format!(
                    "{signal} also starts the shutdown ({}): give each signal one job",
                    settings::SIGNALS.name
                ),
            }),
        }
    }

    /// Overrides the settings with the environment's: every variable of
    /// [`SETTINGS`], read with its kind's parser.
    pub(crate) fn apply_env(&mut self, env: Lookup<'_>) -> Result<(), Error> {
        for setting in SETTINGS {
            let Some(text) = env(setting.env) else {
                continue;
            };
            if matches!(setting.kind, Kind::Path | Kind::Addr) && text.is_empty() {
                // An empty path or address turns the endpoint off.
                match setting.id {
                    Id::MetricsPath => self.metrics_path = None,
                    Id::AdminAddr => self.admin_addr = None,
                    _ => self.health_path = None,
                }
                continue;
            }
            let value = setting
                .kind
                .parse(&text)
                .map_err(|reason| invalid(setting.env, &text, &reason))?;
            self.apply(setting.id, value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |var| {
            pairs
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn environment_overrides_durations_signals_and_health_path() {
        let mut config = Config::default();
        let env = env_of(&[
            ("GRACEFUL_SHUTDOWN_TIMEOUT", "45s"),
            ("GRACEFUL_DRAIN_TIMEOUT", "1m 5s"),
            ("GRACEFUL_PRE_STOP_DELAY", "250ms"),
            ("GRACEFUL_SIGNALS", "TERM, SIGUSR1"),
            ("GRACEFUL_HEALTH_PATH", "/healthz"),
        ]);
        config.apply_env(&env).unwrap();
        assert_eq!(config.shutdown_timeout, Duration::from_secs(45));
        assert_eq!(config.drain_timeout, Duration::from_secs(65));
        assert_eq!(config.pre_stop_delay, Duration::from_millis(250));
        assert_eq!(config.callback_timeout, Duration::from_secs(3));
        assert_eq!(config.signals, vec![Signal::Term, Signal::Usr1]);
        assert_eq!(config.health_path.as_deref(), Some("/healthz"));
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for (var, value) in [
            ("GRACEFUL_DRAIN_TIMEOUT", "ten seconds"),
            ("GRACEFUL_DRAIN_TIMEOUT", "10"),
            ("GRACEFUL_SIGNALS", "KILL"),
            ("GRACEFUL_SIGNALS", ","),
            ("GRACEFUL_HEALTH_PATH", "healthz"),
            ("GRACEFUL_PROGRESS_INTERVAL", "0s"),
        ] {
            let env = move |v: &str| (v == var).then(|| value.to_owned());
            let err = Config::default().apply_env(&env).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(var), "{message}");
            assert!(matches!(err, Error::Config { .. }));
        }
    }

    #[test]
    fn a_builder_duration_longer_than_the_maximum_is_refused() {
        let mut config = Config::default();
        config.set(&settings::DRAIN_TIMEOUT, Value::Duration(Duration::MAX));
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains("drain_timeout"), "{err}");
    }

    #[test]
    fn every_setting_of_the_description_is_read_from_the_environment() {
        for setting in SETTINGS {
            let text = match setting.kind {
                Kind::Duration | Kind::Interval => "7s",
                Kind::Signals | Kind::SignalsOrNone => "USR1",
                Kind::Path => "/ready",
                Kind::Count => "7",
                Kind::Addr => "127.0.0.1:9090",
            };
            let env = move |var: &str| (var == setting.env).then(|| text.to_owned());
            let mut config = Config::default();
            config.apply_env(&env).unwrap();
            assert_ne!(
                format!("{config:?}"),
                format!("{:?}", Config::default()),
                "{} changed nothing",
                setting.env
            );
        }
    }

    #[test]
    fn a_refused_builder_value_fails_the_start_naming_the_setting() {
        let mut config = Config::default();
        config.set(
            &settings::PROGRESS_INTERVAL,
            Value::Duration(Duration::ZERO),
        );
        config.set(&settings::DRAIN_TIMEOUT, Value::Duration(Duration::MAX));
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains("progress_interval"), "{err}");
        assert_eq!(config.progress_interval, Duration::from_secs(1));
    }

    /// Where the settings table is in `text`: the lines between its markers.
    fn table_in(text: &str) -> std::ops::Range<usize> {
        let start = text
            .find("<!-- settings table")
            .and_then(|at| text[at..].find('\n').map(|end| at + end + 1))
            .expect("the table's start marker");
        let end = text
            .find("<!-- end of settings table -->")
            .expect("the end marker");
        let end = text[..end].rfind('\n').map_or(end, |at| at + 1);
        start..end
    }

    /// The README's and this module's settings tables are the description's.
    /// `GRACEFUL_BLESS=1 cargo test -p graceful --lib` rewrites them.
    #[test]
    fn the_settings_tables_follow_the_description() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        for (file, prefix) in [("README.md", ""), ("graceful/src/config/mod.rs", "//! ")] {
            let table: String = markdown_table()
                .lines()
                .map(|line| format!("{prefix}{line}\n"))
                .collect();
            let path = format!("{root}/{file}");
            let mut text = std::fs::read_to_string(&path).unwrap();
            let range = table_in(&text);
            if text[range.clone()] == table {
                continue;
            }
            if std::env::var_os("GRACEFUL_BLESS").is_some() {
                text.replace_range(range, &table);
                std::fs::write(&path, text).unwrap();
            } else {
                panic!("{file}'s settings table differs; expected:\n{table}");
            }
        }
    }

    /// Each builder method's doc names its variable and its default.
    #[test]
    fn every_builder_method_documents_its_variable_and_default() {
        let app = include_str!("../app/settings.rs");
        for setting in SETTINGS {
            let at = app
                .find(&format!("pub fn {}(", setting.name))
                .unwrap_or_else(|| panic!("App::{} is missing", setting.name));
            let doc: String = app[..at]
                .lines()
                .rev()
                .skip(1)
                .take_while(|line| line.trim_start().starts_with("///"))
                .collect::<Vec<_>>()
                .join(" ");
            let doc = doc.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                doc.contains(setting.env),
                "App::{}: {}",
                setting.name,
                setting.env
            );
            let default = setting.default.to_doc();
            assert!(
                doc.contains(&format!("Default {default}"))
                    || doc.contains(&format!("Default: {default}")),
                "App::{}'s doc does not say `Default {default}`",
                setting.name
            );
        }
    }

    #[test]
    fn env_suffix_upper_cases_and_replaces_punctuation() {
        assert_eq!(env_suffix("service1"), "SERVICE1");
        assert_eq!(env_suffix("api.v2-beta"), "API_V2_BETA");
    }
}
