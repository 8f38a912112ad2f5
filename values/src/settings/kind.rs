//! What a setting's value can be, and the parser and checks of each kind.

use std::time::Duration;

use crate::{Signal, check_duration, parse_duration, parse_signals};

/// Which setting: the runtime matches on it exhaustively, so a setting added
/// here and not applied there does not compile.
///
/// Not `#[non_exhaustive]`, on purpose: the exhaustive `match` is the point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Id {
    /// [`SHUTDOWN_TIMEOUT`](super::SHUTDOWN_TIMEOUT).
    ShutdownTimeout,
    /// [`DRAIN_TIMEOUT`](super::DRAIN_TIMEOUT).
    DrainTimeout,
    /// [`CALLBACK_TIMEOUT`](super::CALLBACK_TIMEOUT).
    CallbackTimeout,
    /// [`TASK_TIMEOUT`](super::TASK_TIMEOUT).
    TaskTimeout,
    /// [`PRE_STOP_DELAY`](super::PRE_STOP_DELAY).
    PreStopDelay,
    /// [`READ_GRACE`](super::READ_GRACE).
    ReadGrace,
    /// [`HEADER_GRACE`](super::HEADER_GRACE).
    HeaderGrace,
    /// [`HEADER_READ_TIMEOUT`](super::HEADER_READ_TIMEOUT).
    HeaderReadTimeout,
    /// [`PROGRESS_INTERVAL`](super::PROGRESS_INTERVAL).
    ProgressInterval,
    /// [`UPGRADE_TIMEOUT`](super::UPGRADE_TIMEOUT).
    UpgradeTimeout,
    /// [`TLS_HANDSHAKE_TIMEOUT`](super::TLS_HANDSHAKE_TIMEOUT).
    TlsHandshakeTimeout,
    /// [`TLS_MAX_HANDSHAKES`](super::TLS_MAX_HANDSHAKES).
    TlsMaxHandshakes,
    /// [`SIGNALS`](super::SIGNALS).
    Signals,
    /// [`RESTART_SIGNALS`](super::RESTART_SIGNALS).
    RestartSignals,
    /// [`RESTART_TIMEOUT`](super::RESTART_TIMEOUT).
    RestartTimeout,
    /// [`HEALTH_PATH`](super::HEALTH_PATH).
    HealthPath,
    /// [`METRICS_PATH`](super::METRICS_PATH).
    MetricsPath,
    /// [`ADMIN_ADDR`](super::ADMIN_ADDR).
    AdminAddr,
}

/// What a setting's value is, and so which parser reads its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A duration such as `"3s"`, at most [`MAX_DURATION`](crate::MAX_DURATION);
    /// see [`parse_duration`].
    Duration,
    /// A duration that must be positive.
    Interval,
    /// A comma-separated list of signals such as `"TERM, INT"`; see
    /// [`parse_signals`].
    Signals,
    /// A list of signals, or none at all (`""`): what the signals do is
    /// then turned off.
    SignalsOrNone,
    /// A URL path such as `"/healthz"`; see [`parse_path`].
    Path,
    /// A positive count such as `"1024"`, at most `u32::MAX`.
    Count,
    /// An address to listen on, such as `"0.0.0.0:9090"`; see
    /// [`parse_addr`](crate::addr::parse_addr).
    Addr,
}

/// A parsed value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Of [`Kind::Duration`] and [`Kind::Interval`].
    Duration(Duration),
    /// Of [`Kind::Signals`] and [`Kind::SignalsOrNone`].
    Signals(Vec<Signal>),
    /// Of [`Kind::Path`].
    Path(String),
    /// Of [`Kind::Count`].
    Count(u32),
    /// Of [`Kind::Addr`]: the address as written, checked.
    Addr(String),
}

impl Value {
    /// The duration, if the value is one.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use graceful_values::settings::Value;
    /// assert_eq!(Value::Duration(Duration::ZERO).into_duration(), Some(Duration::ZERO));
    /// ```
    pub fn into_duration(self) -> Option<Duration> {
        match self {
            Value::Duration(duration) => Some(duration),
            _ => None,
        }
    }

    /// The signals, if the value is a list of them.
    ///
    /// ```
    /// # use graceful_values::{Signal, settings::Value};
    /// assert_eq!(Value::Signals(vec![Signal::Term]).into_signals(), Some(vec![Signal::Term]));
    /// ```
    pub fn into_signals(self) -> Option<Vec<Signal>> {
        match self {
            Value::Signals(signals) => Some(signals),
            _ => None,
        }
    }

    /// The path, if the value is one.
    ///
    /// ```
    /// # use graceful_values::settings::Value;
    /// assert_eq!(Value::Path("/healthz".into()).into_path().as_deref(), Some("/healthz"));
    /// ```
    pub fn into_path(self) -> Option<String> {
        match self {
            Value::Path(path) => Some(path),
            _ => None,
        }
    }

    /// The address, if the value is one.
    ///
    /// ```
    /// # use graceful_values::settings::Value;
    /// assert_eq!(Value::Addr("0.0.0.0:9090".into()).into_addr().as_deref(), Some("0.0.0.0:9090"));
    /// ```
    pub fn into_addr(self) -> Option<String> {
        match self {
            Value::Addr(addr) => Some(addr),
            _ => None,
        }
    }

    /// The count, if the value is one.
    ///
    /// ```
    /// # use graceful_values::settings::Value;
    /// assert_eq!(Value::Count(64).into_count(), Some(64));
    /// ```
    pub fn into_count(self) -> Option<u32> {
        match self {
            Value::Count(count) => Some(count),
            _ => None,
        }
    }
}

impl Kind {
    /// Checks a value given in code, as [`Kind::parse`] checks text.
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_values::settings::{Kind, Value};
    ///
    /// assert!(Kind::Duration.check(Value::Duration(Duration::MAX)).is_err());
    /// assert!(Kind::Interval.check(Value::Duration(Duration::ZERO)).is_err());
    /// assert!(Kind::Path.check(Value::Duration(Duration::ZERO)).is_err());
    /// ```
    pub fn check(self, value: Value) -> Result<Value, String> {
        match (self, value) {
            (Kind::Duration, Value::Duration(duration)) => {
                check_duration(duration).map(Value::Duration)
            }
            (Kind::Interval, Value::Duration(duration)) if duration.is_zero() => {
                Err("the interval must be positive".to_owned())
            }
            (Kind::Interval, Value::Duration(duration)) => {
                check_duration(duration).map(Value::Duration)
            }
            (Kind::Signals | Kind::SignalsOrNone, Value::Signals(signals)) => {
                Ok(Value::Signals(signals))
            }
            (Kind::Path, Value::Path(path)) => parse_path(&path).map(Value::Path),
            (Kind::Count, Value::Count(0)) => Err("the count must be positive".to_owned()),
            (Kind::Count, Value::Count(count)) => Ok(Value::Count(count)),
            (Kind::Addr, Value::Addr(addr)) => {
                crate::addr::parse_addr(&addr)?;
                Ok(Value::Addr(addr))
            }
            (kind, value) => Err(format!("{value:?} is not {}", kind.example())),
        }
    }

    /// Parses `text` as a value of this kind.
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_values::settings::{Kind, Value};
    ///
    /// assert_eq!(Kind::Duration.parse("3s"), Ok(Value::Duration(Duration::from_secs(3))));
    /// assert!(Kind::Interval.parse("0s").is_err());
    /// assert!(Kind::Path.parse("healthz").is_err());
    /// assert_eq!(Kind::SignalsOrNone.parse(" "), Ok(Value::Signals(vec![])));
    /// assert!(Kind::Signals.parse("").is_err());
    /// assert_eq!(Kind::Count.parse("64"), Ok(Value::Count(64)));
    /// assert!(Kind::Count.parse("0").is_err());
    /// ```
    pub fn parse(self, text: &str) -> Result<Value, String> {
        match self {
            Kind::Duration => parse_duration(text).map(Value::Duration),
            Kind::Interval => self.check(Value::Duration(parse_duration(text)?)),
            Kind::SignalsOrNone if text.trim().is_empty() => Ok(Value::Signals(Vec::new())),
            Kind::Signals | Kind::SignalsOrNone => parse_signals(text).map(Value::Signals),
            Kind::Path => parse_path(text).map(Value::Path),
            Kind::Count => self.check(Value::Count(parse_count(text)?)),
            Kind::Addr => self.check(Value::Addr(text.trim().to_owned())),
        }
    }

    /// What a value of this kind looks like, for messages.
    ///
    /// ```
    /// use graceful_values::settings::Kind;
    /// assert_eq!(Kind::Path.example(), "a path such as \"/healthz\"");
    /// ```
    pub fn example(self) -> &'static str {
        match self {
            Kind::Duration | Kind::Interval => {
                "a duration string such as \"500ms\", \"3s\" or \"1m\""
            }
            Kind::Signals => "a list of signals such as \"TERM, INT\"",
            Kind::SignalsOrNone => "a list of signals such as \"USR2\", or \"\" for none",
            Kind::Path => "a path such as \"/healthz\"",
            Kind::Count => "a positive count such as 1024",
            Kind::Addr => "an address such as \"0.0.0.0:9090\"",
        }
    }
}

/// A setting's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultValue {
    /// A duration.
    Duration(Duration),
    /// A list of signals.
    Signals(&'static [Signal]),
    /// A count.
    Count(u32),
    /// Unset; the text says what applies then.
    Unset(&'static str),
}

impl DefaultValue {
    /// The default duration; a compile error where evaluated in a constant
    /// for a setting whose default is not a duration.
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_values::settings::DRAIN_TIMEOUT;
    /// const DRAIN: Duration = DRAIN_TIMEOUT.default.duration();
    /// assert_eq!(DRAIN, Duration::from_secs(10));
    /// ```
    pub const fn duration(self) -> Duration {
        match self {
            DefaultValue::Duration(duration) => duration,
            _ => panic!("this setting's default is not a duration"),
        }
    }

    /// The default signals; a compile error where evaluated in a constant
    /// for a setting whose default is not a list of signals.
    ///
    /// ```
    /// use graceful_values::{Signal, settings::SIGNALS};
    /// const DEFAULT: &[Signal] = SIGNALS.default.signals();
    /// assert_eq!(DEFAULT, &Signal::DEFAULT);
    /// ```
    pub const fn signals(self) -> &'static [Signal] {
        match self {
            DefaultValue::Signals(signals) => signals,
            _ => panic!("this setting's default is not a list of signals"),
        }
    }

    /// The default count; a compile error where evaluated in a constant
    /// for a setting whose default is not a count.
    ///
    /// ```
    /// use graceful_values::settings::TLS_MAX_HANDSHAKES;
    /// const MAX: u32 = TLS_MAX_HANDSHAKES.default.count();
    /// assert_eq!(MAX, 1024);
    /// ```
    pub const fn count(self) -> u32 {
        match self {
            DefaultValue::Count(count) => count,
            _ => panic!("this setting's default is not a count"),
        }
    }

    /// The default as the docs write it: `30 s`, `100 ms`, `0`, `TERM,INT`.
    ///
    /// ```
    /// use graceful_values::settings::{READ_GRACE, SIGNALS};
    /// assert_eq!(READ_GRACE.default.to_doc(), "100 ms");
    /// assert_eq!(SIGNALS.default.to_doc(), "`TERM,INT,QUIT,HUP`");
    /// ```
    pub fn to_doc(self) -> String {
        match self {
            DefaultValue::Duration(duration) if duration.is_zero() => "0".to_owned(),
            DefaultValue::Duration(duration) if duration.subsec_nanos() == 0 => {
                format!("{} s", duration.as_secs())
            }
            DefaultValue::Duration(duration) => format!("{} ms", duration.as_millis()),
            DefaultValue::Signals(signals) => {
                let names: Vec<&str> = signals
                    .iter()
                    .map(|signal| signal.name().trim_start_matches("SIG"))
                    .collect();
                format!("`{}`", names.join(","))
            }
            DefaultValue::Count(count) => count.to_string(),
            DefaultValue::Unset(text) => text.to_owned(),
        }
    }
}

/// Parses a count: decimal digits, surrounding spaces allowed.
///
/// ```
/// use graceful_values::settings::parse_count;
/// assert_eq!(parse_count(" 1024 "), Ok(1024));
/// assert!(parse_count("-1").is_err());
/// assert!(parse_count("lots").is_err());
/// ```
pub fn parse_count(text: &str) -> Result<u32, String> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} is not a count (decimal digits, such as \"1024\")"
        ));
    }
    text.parse()
        .map_err(|_| format!("{text:?} is larger than {}", u32::MAX))
}

/// Parses a URL path: it starts with `/`.
///
/// ```
/// use graceful_values::settings::parse_path;
/// assert_eq!(parse_path("/healthz"), Ok("/healthz".to_owned()));
/// assert!(parse_path("healthz").is_err());
/// ```
pub fn parse_path(text: &str) -> Result<String, String> {
    if text.starts_with('/') {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "a path starts with `/`, such as \"/{}\"",
            text.trim_start_matches('/')
        ))
    }
}
