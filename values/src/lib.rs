//! The one description of `graceful`'s settings ([`settings`]) and the one
//! parser of each kind of value: durations, signal names, paths and server
//! names, and the moments of the shutdown ([`When`]). The runtime reads them from the environment and the builder,
//! the attribute macros from their arguments at compile time; both call these
//! functions, so a value means the same and fails with the same message
//! wherever it is written. Depend on `graceful`, which re-exports what users
//! need, not on this crate.

#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod addr;
pub mod settings;
mod when;

pub use when::When;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The longest any duration setting may be: one year. Longer values are
/// refused at start-up (or at compile time) rather than overflowing a
/// deadline mid-shutdown.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses a human-readable duration such as `500ms`, `3s`, `1m` or `1m 30s`,
/// at most [`MAX_DURATION`].
///
/// A bare number is refused: `30` could mean seconds or milliseconds.
///
/// ```
/// use std::time::Duration;
/// use graceful_values::parse_duration;
///
/// assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
/// assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
/// assert!(parse_duration("30").is_err());
/// assert!(parse_duration("2y").is_err()); // longer than MAX_DURATION
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let duration = humantime::parse_duration(text).map_err(|err| {
        format!("{err}; write a duration with a unit, such as \"500ms\", \"3s\" or \"1m\"")
    })?;
    check_duration(duration)
}

/// Checks that a duration is at most [`MAX_DURATION`].
///
/// ```
/// # use std::time::Duration;
/// assert!(graceful_values::check_duration(Duration::MAX).is_err());
/// ```
pub fn check_duration(duration: Duration) -> Result<Duration, String> {
    if duration > MAX_DURATION {
        return Err(format!(
            "{duration:?} is longer than the longest allowed, 365 days"
        ));
    }
    Ok(duration)
}

/// Parses a comma-separated list of signals, such as `"TERM, INT"`.
///
/// ```
/// use graceful_values::{Signal, parse_signals};
///
/// assert_eq!(parse_signals("TERM, SIGINT"), Ok(vec![Signal::Term, Signal::Int]));
/// assert!(parse_signals(",").is_err());
/// ```
pub fn parse_signals(text: &str) -> Result<Vec<Signal>, String> {
    let signals = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<Vec<Signal>, _>>()?;
    if signals.is_empty() {
        return Err("name at least one signal, such as \"TERM,INT\"".to_owned());
    }
    Ok(signals)
}

/// The longest server name: systemd's limit for a listener's name
/// (`FileDescriptorName=`, `LISTEN_FDNAMES`).
pub const MAX_NAME: usize = 255;

/// Checks a server's name: it names the server's listener when a restart
/// hands it over (systemd's `LISTEN_FDNAMES`, which separates names with
/// `:`), so it is printable ASCII without `:`, from 1 to [`MAX_NAME`]
/// characters.
///
/// ```
/// use graceful_values::check_name;
///
/// assert!(check_name("api-v2").is_ok());
/// assert!(check_name("api:v2").is_err());
/// assert!(check_name("").is_err());
/// assert!(check_name("café").is_err());
/// ```
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a name cannot be empty".to_owned());
    }
    if name.len() > MAX_NAME {
        return Err(format!("a name has at most {MAX_NAME} characters"));
    }
    match name
        .chars()
        .find(|&c| c == ':' || !(' '..='~').contains(&c))
    {
        Some(':') => Err(
            "a name cannot hold `:`, which separates the names of listeners a restart hands over"
                .to_owned(),
        ),
        Some(c) => Err(format!(
            "a name is printable ASCII (it names the server's listener to the service manager), not {c:?}"
        )),
        None => Ok(()),
    }
}

/// A signal that can start the shutdown.
///
/// ```
/// use graceful_values::Signal;
///
/// let signal: Signal = "SIGTERM".parse().unwrap();
/// assert_eq!(signal, Signal::Term);
/// assert_eq!("term".parse::<Signal>().unwrap(), Signal::Term);
/// assert_eq!(signal.to_string(), "SIGTERM");
/// assert!("KILL".parse::<Signal>().is_err()); // can never be caught
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// `SIGTERM`: the polite request to stop (Kubernetes, systemd, `kill`).
    Term,
    /// `SIGINT`: Ctrl-C in a terminal.
    Int,
    /// `SIGQUIT`: Ctrl-\ in a terminal.
    Quit,
    /// `SIGHUP`: the controlling terminal went away.
    Hup,
    /// `SIGUSR1`.
    Usr1,
    /// `SIGUSR2`.
    Usr2,
}

impl Signal {
    /// The signals that start the shutdown unless configured otherwise.
    pub const DEFAULT: [Signal; 4] = [Signal::Term, Signal::Int, Signal::Quit, Signal::Hup];

    /// The conventional name, such as `"SIGTERM"`.
    ///
    /// ```
    /// assert_eq!(graceful_values::Signal::Hup.name(), "SIGHUP");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Signal::Term => "SIGTERM",
            Signal::Int => "SIGINT",
            Signal::Quit => "SIGQUIT",
            Signal::Hup => "SIGHUP",
            Signal::Usr1 => "SIGUSR1",
            Signal::Usr2 => "SIGUSR2",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Signal {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let upper = text.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        Ok(match bare {
            "TERM" => Signal::Term,
            "INT" => Signal::Int,
            "QUIT" => Signal::Quit,
            "HUP" => Signal::Hup,
            "USR1" => Signal::Usr1,
            "USR2" => Signal::Usr2,
            "KILL" | "STOP" => {
                return Err(format!(
                    "SIG{bare} can never be caught: the kernel acts on it without telling the process"
                ));
            }
            _ => {
                return Err(format!(
                    "unknown signal {text:?}; expected one of TERM, INT, QUIT, HUP, USR1, USR2"
                ));
            }
        })
    }
}

impl Signal {
    /// The variant's name, such as `"Term"`, for generated code.
    ///
    /// ```
    /// assert_eq!(graceful_values::Signal::Usr1.variant(), "Usr1");
    /// ```
    pub fn variant(self) -> &'static str {
        match self {
            Signal::Term => "Term",
            Signal::Int => "Int",
            Signal::Quit => "Quit",
            Signal::Hup => "Hup",
            Signal::Usr1 => "Usr1",
            Signal::Usr2 => "Usr2",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_longer_than_the_maximum_are_refused() {
        assert_eq!(parse_duration("365days"), Ok(MAX_DURATION));
        for text in ["366days", "18446744073709551615s", "300000000000y"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn no_string_makes_a_parser_panic(text in ".*") {
            let _ = parse_duration(&text);
            let _ = parse_signals(&text);
            let _ = text.parse::<Signal>();
            let _ = text.parse::<When>();
        }

        #[test]
        fn no_number_and_unit_makes_a_parser_panic(
            n in proptest::num::u64::ANY,
            unit in "(ns|us|ms|s|m|h|d|w|M|y|days|years)",
        ) {
            if let Ok(duration) = parse_duration(&format!("{n}{unit}")) {
                proptest::prop_assert!(duration <= MAX_DURATION);
            }
        }
    }
}
