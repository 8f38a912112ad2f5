//! [`When`]: the moment of the shutdown at which a task is told to stop,
//! or a callback runs.

use std::fmt;
use std::str::FromStr;

/// A moment of the shutdown: when a background task is told to stop
/// (`#[graceful::task(stop = "...")]`), or when a shutdown callback runs
/// (`#[graceful::on_shutdown(when = "...")]`).
///
/// ```
/// use graceful_values::When;
///
/// assert_eq!("signal".parse::<When>(), Ok(When::Signal));
/// assert_eq!("drained".parse::<When>(), Ok(When::Drained));
/// assert_eq!(When::default(), When::Drained);
/// assert!("later".parse::<When>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum When {
    /// At the first signal, as the app stops being ready and the pre-stop
    /// window opens: for work that pulls from outside (a queue consumer)
    /// and must stop taking new work while the instance leaves, or a
    /// callback that deregisters it from service discovery.
    Signal,
    /// Once every server has drained: for work the handlers feed (a
    /// channel, an outbox), so that nothing a handler accepted is left
    /// behind; the shutdown callbacks run then too.
    #[default]
    Drained,
}

impl When {
    /// The name written in an attribute, such as `"signal"`.
    ///
    /// ```
    /// assert_eq!(graceful_values::When::Drained.name(), "drained");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            When::Signal => "signal",
            When::Drained => "drained",
        }
    }

    /// The variant's name, such as `"Signal"`, for generated code.
    ///
    /// ```
    /// assert_eq!(graceful_values::When::Signal.variant(), "Signal");
    /// ```
    pub fn variant(self) -> &'static str {
        match self {
            When::Signal => "Signal",
            When::Drained => "Drained",
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for When {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "signal" => Ok(When::Signal),
            "drained" => Ok(When::Drained),
            other => Err(format!(
                "unknown moment {other:?}; expected \"signal\" (at the first signal) or \"drained\" (once every server has drained)"
            )),
        }
    }
}
