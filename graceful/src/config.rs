//! Durations, defaults and the environment variables that override them.
//!
//! Every duration of the lifecycle has a default, a builder method on
//! [`App`](crate::App) and an environment variable that overrides both at run
//! time, so an operator can lengthen a drain without a rebuild:
//!
//! | variable | builder method | default |
//! |---|---|---|
//! | `GRACEFUL_SHUTDOWN_TIMEOUT` | [`App::shutdown_timeout`](crate::App::shutdown_timeout) | 30 s |
//! | `GRACEFUL_DRAIN_TIMEOUT` | [`App::drain_timeout`](crate::App::drain_timeout) | 10 s |
//! | `GRACEFUL_CALLBACK_TIMEOUT` | [`App::callback_timeout`](crate::App::callback_timeout) | 3 s |
//! | `GRACEFUL_CALLBACK_TIMEOUT_<NAME>` | [`Callback::timeout`](crate::Callback::timeout) | the above |
//! | `GRACEFUL_PRE_STOP_DELAY` | [`App::pre_stop_delay`](crate::App::pre_stop_delay) | 0 |
//! | `GRACEFUL_READ_GRACE` | [`App::read_grace`](crate::App::read_grace) | 100 ms |
//! | `GRACEFUL_HEADER_GRACE` | [`App::header_grace`](crate::App::header_grace) | 1 s |
//! | `GRACEFUL_HEADER_READ_TIMEOUT` | [`App::header_read_timeout`](crate::App::header_read_timeout) | 30 s |
//! | `GRACEFUL_UPGRADE_TIMEOUT` | [`App::upgrade_timeout`](crate::App::upgrade_timeout) | the drain deadline |
//! | `GRACEFUL_PROGRESS_INTERVAL` | [`App::progress_interval`](crate::App::progress_interval) | 1 s |
//! | `GRACEFUL_SIGNALS` | [`App::signals`](crate::App::signals) | `TERM,INT,QUIT,HUP` |
//! | `GRACEFUL_HEALTH_PATH` | [`App::health_path`](crate::App::health_path) | none |
//! | `GRACEFUL_ADDR_<NAME>` | [`Server::new`](crate::Server::new) | as declared |
//!
//! `<NAME>` is the server's or callback's name in upper case, with every
//! character other than a letter or a digit replaced by `_`: the address of
//! server `api-v2` is `GRACEFUL_ADDR_API_V2`. Durations are written as
//! `500ms`, `3s`, `1m`, `1m 30s` (see [`parse_duration`]). A malformed value
//! stops the start-up with an [`Error::Config`] naming the variable.

use std::time::Duration;

use graceful_values::parse_signals;

use crate::error::Error;
use crate::signals::Signal;

/// Default for [`App::shutdown_timeout`](crate::App::shutdown_timeout): 30 s.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`App::drain_timeout`](crate::App::drain_timeout): 10 s.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`App::callback_timeout`](crate::App::callback_timeout): 3 s.
pub const DEFAULT_CALLBACK_TIMEOUT: Duration = Duration::from_secs(3);
/// Default for [`App::read_grace`](crate::App::read_grace): 100 ms.
pub const DEFAULT_READ_GRACE: Duration = Duration::from_millis(100);
/// Default for [`App::header_grace`](crate::App::header_grace): 1 s.
pub const DEFAULT_HEADER_GRACE: Duration = Duration::from_secs(1);
/// Default for [`App::header_read_timeout`](crate::App::header_read_timeout): 30 s, hyper's.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`App::progress_interval`](crate::App::progress_interval): 1 s.
pub const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

/// `GRACEFUL_SHUTDOWN_TIMEOUT`: the global deadline, from the first signal to a forced exit.
pub const ENV_SHUTDOWN_TIMEOUT: &str = "GRACEFUL_SHUTDOWN_TIMEOUT";
/// `GRACEFUL_DRAIN_TIMEOUT`: how long in-flight requests may take to finish.
pub const ENV_DRAIN_TIMEOUT: &str = "GRACEFUL_DRAIN_TIMEOUT";
/// `GRACEFUL_CALLBACK_TIMEOUT`: the timeout of callbacks that set none.
pub const ENV_CALLBACK_TIMEOUT: &str = "GRACEFUL_CALLBACK_TIMEOUT";
/// `GRACEFUL_PRE_STOP_DELAY`: how long to keep serving after the signal, not ready.
pub const ENV_PRE_STOP_DELAY: &str = "GRACEFUL_PRE_STOP_DELAY";
/// `GRACEFUL_READ_GRACE`: how long a recently active connection may still send a request.
pub const ENV_READ_GRACE: &str = "GRACEFUL_READ_GRACE";
/// `GRACEFUL_HEADER_GRACE`: how long a connection may take to finish sending request headers.
pub const ENV_HEADER_GRACE: &str = "GRACEFUL_HEADER_GRACE";
/// `GRACEFUL_HEADER_READ_TIMEOUT`: how long a connection may take to send a request head while serving.
pub const ENV_HEADER_READ_TIMEOUT: &str = "GRACEFUL_HEADER_READ_TIMEOUT";
/// `GRACEFUL_UPGRADE_TIMEOUT`: how long upgraded connections may stay open once the shutdown begins.
pub const ENV_UPGRADE_TIMEOUT: &str = "GRACEFUL_UPGRADE_TIMEOUT";
/// `GRACEFUL_PROGRESS_INTERVAL`: how often the drain logs what is still in flight.
pub const ENV_PROGRESS_INTERVAL: &str = "GRACEFUL_PROGRESS_INTERVAL";
/// `GRACEFUL_SIGNALS`: the signals that start the shutdown, comma separated (`TERM,INT`).
pub const ENV_SIGNALS: &str = "GRACEFUL_SIGNALS";
/// `GRACEFUL_HEALTH_PATH`: the path of the health endpoint; empty disables it.
pub const ENV_HEALTH_PATH: &str = "GRACEFUL_HEALTH_PATH";
/// `GRACEFUL_LOG_FORMAT`: the default subscriber's format, `text` (the default) or `json`.
pub const ENV_LOG_FORMAT: &str = "GRACEFUL_LOG_FORMAT";
/// Prefix of the per-server address override, `GRACEFUL_ADDR_<NAME>`.
pub const ENV_ADDR_PREFIX: &str = "GRACEFUL_ADDR_";
/// Prefix of the per-callback timeout override, `GRACEFUL_CALLBACK_TIMEOUT_<NAME>`.
pub const ENV_CALLBACK_TIMEOUT_PREFIX: &str = "GRACEFUL_CALLBACK_TIMEOUT_";

pub use graceful_values::{MAX_DURATION, check_duration, parse_duration};

/// The name used in `GRACEFUL_ADDR_<NAME>` and `GRACEFUL_CALLBACK_TIMEOUT_<NAME>`.
///
/// ```
/// assert_eq!(graceful::config::env_suffix("api-v2"), "API_V2");
/// ```
pub fn env_suffix(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The lifecycle's settings, as the builder set them and the environment overrode them.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) shutdown_timeout: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) callback_timeout: Duration,
    pub(crate) pre_stop_delay: Duration,
    pub(crate) read_grace: Duration,
    pub(crate) header_grace: Duration,
    pub(crate) header_read_timeout: Duration,
    pub(crate) upgrade_timeout: Option<Duration>,
    pub(crate) progress_interval: Duration,
    pub(crate) signals: Vec<Signal>,
    pub(crate) health_path: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            callback_timeout: DEFAULT_CALLBACK_TIMEOUT,
            pre_stop_delay: Duration::ZERO,
            read_grace: DEFAULT_READ_GRACE,
            header_grace: DEFAULT_HEADER_GRACE,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            upgrade_timeout: None,
            progress_interval: DEFAULT_PROGRESS_INTERVAL,
            signals: Signal::DEFAULT.to_vec(),
            health_path: None,
        }
    }
}

/// Reads environment variables; a function so that tests need not touch the
/// process environment.
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, as [`Lookup`].
pub(crate) fn process_env(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

impl Config {
    /// Checks the settings as the builder set them: every duration at most
    /// [`MAX_DURATION`], and a positive progress interval.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        for (setting, value) in [
            ("shutdown_timeout", self.shutdown_timeout),
            ("drain_timeout", self.drain_timeout),
            ("callback_timeout", self.callback_timeout),
            ("pre_stop_delay", self.pre_stop_delay),
            ("read_grace", self.read_grace),
            ("header_grace", self.header_grace),
            ("header_read_timeout", self.header_read_timeout),
            ("progress_interval", self.progress_interval),
            ("upgrade_timeout", self.upgrade_timeout.unwrap_or_default()),
        ] {
            check_duration(value).map_err(|reason| Error::Setting {
                setting: setting.to_owned(),
                reason,
            })?;
        }
        Ok(())
    }

    /// Overrides the settings with the environment's.
    pub(crate) fn apply_env(&mut self, env: Lookup<'_>) -> Result<(), Error> {
        for (var, slot) in [
            (ENV_SHUTDOWN_TIMEOUT, &mut self.shutdown_timeout),
            (ENV_DRAIN_TIMEOUT, &mut self.drain_timeout),
            (ENV_CALLBACK_TIMEOUT, &mut self.callback_timeout),
            (ENV_PRE_STOP_DELAY, &mut self.pre_stop_delay),
            (ENV_READ_GRACE, &mut self.read_grace),
            (ENV_HEADER_GRACE, &mut self.header_grace),
            (ENV_HEADER_READ_TIMEOUT, &mut self.header_read_timeout),
            (ENV_PROGRESS_INTERVAL, &mut self.progress_interval),
        ] {
            if let Some(value) = duration_var(env, var)? {
                *slot = value;
            }
        }
        if let Some(value) = duration_var(env, ENV_UPGRADE_TIMEOUT)? {
            self.upgrade_timeout = Some(value);
        }
        if self.progress_interval.is_zero() {
            return Err(invalid(
                ENV_PROGRESS_INTERVAL,
                "0",
                "the progress interval must be positive",
            ));
        }
        if let Some(signals) = signals_var(env)? {
            self.signals = signals;
        }
        if let Some(value) = env(ENV_HEALTH_PATH) {
            self.health_path = match value.as_str() {
                "" => None,
                path if path.starts_with('/') => Some(path.to_owned()),
                _ => {
                    return Err(invalid(
                        ENV_HEALTH_PATH,
                        &value,
                        "a path starts with '/', such as \"/healthz\"",
                    ));
                }
            };
        }
        Ok(())
    }
}

/// Reads one duration variable.
pub(crate) fn duration_var(env: Lookup<'_>, var: &str) -> Result<Option<Duration>, Error> {
    match env(var) {
        None => Ok(None),
        Some(value) => parse_duration(&value)
            .map(Some)
            .map_err(|reason| invalid(var, &value, &reason)),
    }
}

/// Reads `GRACEFUL_SIGNALS`.
pub(crate) fn signals_var(env: Lookup<'_>) -> Result<Option<Vec<Signal>>, Error> {
    match env(ENV_SIGNALS) {
        None => Ok(None),
        Some(value) => parse_signals(&value)
            .map(Some)
            .map_err(|reason| invalid(ENV_SIGNALS, &value, &reason)),
    }
}

pub(crate) fn invalid(var: &str, value: &str, reason: &str) -> Error {
    Error::Config {
        var: var.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
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
        assert_eq!(config.callback_timeout, DEFAULT_CALLBACK_TIMEOUT);
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
        let config = Config {
            drain_timeout: Duration::MAX,
            ..Config::default()
        };
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains("drain_timeout"), "{err}");
    }

    #[test]
    fn env_suffix_upper_cases_and_replaces_punctuation() {
        assert_eq!(env_suffix("service1"), "SERVICE1");
        assert_eq!(env_suffix("api.v2-beta"), "API_V2_BETA");
    }
}
