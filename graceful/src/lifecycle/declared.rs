//! What a shutdown callback and a background task share as they are
//! declared: a name, a moment, a phase, a timeout of their own if given,
//! where they were declared, and the function run with their context; and
//! the one way a list of them is checked and put in order.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use graceful_values::When;

use crate::config;
use crate::error::Error;
use crate::hook::HookResult;
use crate::site::Site;

/// The function of a callback or a task, given its context `C`.
pub(crate) type HookFn<C> =
    Box<dyn FnOnce(C) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send>;

/// A callback or a task as declared (the context `C` tells which).
pub(crate) struct Declared<C> {
    pub(crate) name: String,
    /// When it runs (a callback) or is told to stop (a task).
    pub(crate) when: When,
    pub(crate) phase: i32,
    /// Its own timeout, if given in code.
    pub(crate) timeout: Option<Duration>,
    pub(crate) source: Site,
    pub(crate) run: HookFn<C>,
}

impl<C> Declared<C> {
    /// Named `name`, running `f`, declared where the caller's caller is.
    #[track_caller]
    pub(crate) fn new<F, Fut>(name: String, f: F) -> Self
    where
        F: FnOnce(C) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HookResult,
    {
        Declared {
            name,
            when: When::default(),
            phase: 0,
            timeout: None,
            source: Site::caller(),
            run: Box::new(move |ctx| {
                let fut = f(ctx);
                Box::pin(async move { fut.await.into_result() })
            }),
        }
    }

    /// Its fields for a `Debug` form named `kind`, the moment named `moment`.
    pub(crate) fn debug(
        &self,
        f: &mut fmt::Formatter<'_>,
        kind: &str,
        moment: &str,
    ) -> fmt::Result {
        f.debug_struct(kind)
            .field("name", &self.name)
            .field(moment, &self.when)
            .field("phase", &self.phase)
            .field("timeout", &self.timeout)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl<C> fmt::Debug for Declared<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.debug(f, "Declared", "when")
    }
}

/// Why a list could not be put in order.
#[derive(Debug)]
pub(crate) enum Disorder {
    /// Two were declared with one name.
    SameName {
        name: String,
        first: Site,
        second: Site,
    },
    /// One has an empty name.
    NoName { source: Site },
    /// A timeout given in code is out of range.
    BadTimeout { name: String, reason: String },
}

/// Checks that the names are unique and not empty and the timeouts given
/// in code are in range; sorts by moment, phase and name (so that runs are
/// deterministic); and resolves each timeout: `overridden` (the
/// environment's) first, then its own, then `default`.
pub(crate) fn in_order<C>(
    mut declared: Vec<Declared<C>>,
    default: Duration,
    overridden: impl Fn(&str) -> Option<Duration>,
) -> Result<Vec<(Declared<C>, Duration)>, Disorder> {
    // Sorted by name, repeats are neighbours.
    declared.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = declared
        .windows(2)
        .find(|pair| pair[0].name == pair[1].name)
    {
        return Err(Disorder::SameName {
            name: pair[0].name.clone(),
            first: pair[0].source,
            second: pair[1].source,
        });
    }
    if let Some(one) = declared.iter().find(|d| d.name.is_empty()) {
        return Err(Disorder::NoName { source: one.source });
    }
    declared.sort_by(|a, b| (a.when, a.phase, &a.name).cmp(&(b.when, b.phase, &b.name)));
    declared
        .into_iter()
        .map(|one| {
            if let Some(timeout) = one.timeout {
                config::check_duration(timeout).map_err(|reason| Disorder::BadTimeout {
                    name: one.name.clone(),
                    reason,
                })?;
            }
            let timeout = overridden(&one.name).or(one.timeout).unwrap_or(default);
            Ok((one, timeout))
        })
        .collect()
}

impl Disorder {
    /// The start-up error, for a list of `what`s (`"callback"`, `"task"`);
    /// `same_name` makes the error of two with one name.
    pub(crate) fn into_error(
        self,
        what: &str,
        same_name: impl FnOnce(String, Site, Site) -> Error,
    ) -> Error {
        match self {
            Disorder::SameName {
                name,
                first,
                second,
            } => same_name(name, first, second),
            Disorder::NoName { source } => Error::Setting {
                setting: format!("name of the {what} declared at {source}"),
                reason: format!("a {what}'s name cannot be empty"),
            },
            Disorder::BadTimeout { name, reason } => Error::Setting {
                setting: format!("timeout of {what} {name:?}"),
                reason,
            },
        }
    }
}
