//! Reading the environment: the one place that reads the settings'
//! variables, once, at the start (`GRACEFUL_ADDR_<NAME>`,
//! `GRACEFUL_TLS_CERT_<NAME>` and `GRACEFUL_TLS_KEY_<NAME>`,
//! `GRACEFUL_CALLBACK_TIMEOUT_<NAME>` and `GRACEFUL_TASK_TIMEOUT_<NAME>`
//! into [`Overrides`]).

use std::collections::HashMap;
use std::time::Duration;

use graceful_values::Signal;
use graceful_values::settings::{Setting, Value};

use graceful_values::parse_duration;

use crate::error::Error;

/// Prefix of the per-server address override, `GRACEFUL_ADDR_<NAME>`.
pub const ENV_ADDR_PREFIX: &str = "GRACEFUL_ADDR_";
/// Prefix of a server's TLS certificate chain file (PEM),
/// `GRACEFUL_TLS_CERT_<NAME>`; with `GRACEFUL_TLS_KEY_<NAME>`, the server
/// serves TLS from these files (feature `tls`).
pub const ENV_TLS_CERT_PREFIX: &str = "GRACEFUL_TLS_CERT_";
/// Prefix of a server's TLS private key file (PEM), `GRACEFUL_TLS_KEY_<NAME>`.
pub const ENV_TLS_KEY_PREFIX: &str = "GRACEFUL_TLS_KEY_";
/// Prefix of the per-callback timeout override, `GRACEFUL_CALLBACK_TIMEOUT_<NAME>`.
pub const ENV_CALLBACK_TIMEOUT_PREFIX: &str = "GRACEFUL_CALLBACK_TIMEOUT_";
/// Prefix of the per-task stop budget override, `GRACEFUL_TASK_TIMEOUT_<NAME>`.
pub const ENV_TASK_TIMEOUT_PREFIX: &str = "GRACEFUL_TASK_TIMEOUT_";

/// The name used in `GRACEFUL_ADDR_<NAME>`, `GRACEFUL_CALLBACK_TIMEOUT_<NAME>`
/// and `GRACEFUL_TASK_TIMEOUT_<NAME>`.
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

/// Reads environment variables; a function so that tests need not touch the
/// process environment.
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, as [`Lookup`].
pub(crate) fn process_env(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

/// What the environment says of each server, callback and task by name
/// (`GRACEFUL_ADDR_<NAME>`, `GRACEFUL_CALLBACK_TIMEOUT_<NAME>`,
/// `GRACEFUL_TASK_TIMEOUT_<NAME>`): read once, by the start, so that
/// serving, the callbacks and the tasks read no variable.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    addrs: HashMap<String, String>,
    tls_files: HashMap<String, TlsFiles>,
    callback_timeouts: HashMap<String, Duration>,
    task_timeouts: HashMap<String, Duration>,
}

/// The names whose variables `Overrides::read` reads.
#[derive(Debug, Default)]
pub(crate) struct Named<'n> {
    pub(crate) servers: Vec<&'n str>,
    pub(crate) callbacks: Vec<&'n str>,
    pub(crate) tasks: Vec<&'n str>,
}

impl Overrides {
    /// Reads the variables of these servers, callbacks and tasks; a
    /// malformed timeout is an error naming its variable.
    pub(crate) fn read(env: Lookup<'_>, named: &Named<'_>) -> Result<Self, Error> {
        let mut overrides = Overrides::default();
        for &server in &named.servers {
            if let Some(addr) = env(&format!("{ENV_ADDR_PREFIX}{}", env_suffix(server))) {
                overrides.addrs.insert(server.to_owned(), addr);
            }
            let cert_var = format!("{ENV_TLS_CERT_PREFIX}{}", env_suffix(server));
            let key_var = format!("{ENV_TLS_KEY_PREFIX}{}", env_suffix(server));
            match (env(&cert_var), env(&key_var)) {
                (None, None) => {}
                (Some(cert), Some(key)) => {
                    let files = TlsFiles {
                        cert: cert.into(),
                        key: key.into(),
                    };
                    overrides.tls_files.insert(server.to_owned(), files);
                }
                (Some(value), None) => {
                    return Err(invalid(
                        &cert_var,
                        &value,
                        &format!("{key_var} must be set too"),
                    ));
                }
                (None, Some(value)) => {
                    return Err(invalid(
                        &key_var,
                        &value,
                        &format!("{cert_var} must be set too"),
                    ));
                }
            }
        }
        for &callback in &named.callbacks {
            let var = format!("{ENV_CALLBACK_TIMEOUT_PREFIX}{}", env_suffix(callback));
            if let Some(timeout) = duration_var(env, &var)? {
                overrides
                    .callback_timeouts
                    .insert(callback.to_owned(), timeout);
            }
        }
        for &task in &named.tasks {
            let var = format!("{ENV_TASK_TIMEOUT_PREFIX}{}", env_suffix(task));
            if let Some(timeout) = duration_var(env, &var)? {
                overrides.task_timeouts.insert(task.to_owned(), timeout);
            }
        }
        Ok(overrides)
    }

    /// The address the environment gives `server`, if it gives one.
    pub(crate) fn addr(&self, server: &str) -> Option<&str> {
        self.addrs.get(server).map(String::as_str)
    }

    /// The TLS files the environment gives `server`, if it gives them.
    pub(crate) fn tls_files(&self, server: &str) -> Option<&TlsFiles> {
        self.tls_files.get(server)
    }

    /// The timeout the environment gives `callback`, if it gives one.
    pub(crate) fn callback_timeout(&self, callback: &str) -> Option<Duration> {
        self.callback_timeouts.get(callback).copied()
    }

    /// The stop budget the environment gives `task`, if it gives one.
    pub(crate) fn task_timeout(&self, task: &str) -> Option<Duration> {
        self.task_timeouts.get(task).copied()
    }
}

/// A server's certificate chain and key files, as the environment names
/// them.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    pub(crate) cert: std::path::PathBuf,
    pub(crate) key: std::path::PathBuf,
}

/// Reads one duration variable.
fn duration_var(env: Lookup<'_>, var: &str) -> Result<Option<Duration>, Error> {
    match env(var) {
        None => Ok(None),
        Some(value) => parse_duration(&value)
            .map(Some)
            .map_err(|reason| invalid(var, &value, &reason)),
    }
}

/// Reads the variable of a setting of signals (`GRACEFUL_SIGNALS`,
/// `GRACEFUL_RESTART_SIGNALS`).
pub(crate) fn signals_var(
    env: Lookup<'_>,
    setting: &Setting,
) -> Result<Option<Vec<Signal>>, Error> {
    let var = setting.env;
    match env(var) {
        None => Ok(None),
        Some(value) => setting
            .kind
            .parse(&value)
            .map(Value::into_signals)
            .map_err(|reason| invalid(var, &value, &reason)),
    }
}

pub(crate) fn invalid(var: &str, value: &str, reason: &str) -> Error {
    Error::Config {
        var: var.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}
