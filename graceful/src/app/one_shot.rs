//! The callbacks and the tasks the attributes registered: one shape
//! ([`OneShotRegistration`], a function run once with its context), one way
//! to assemble them into the app.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::app::App;
use crate::app::params::Assembly;
use crate::app::state::{MissingState, States};
use crate::error::Problem;
use crate::lifecycle::callbacks::{Callback, ShutdownContext};
use crate::lifecycle::handle::ShutdownHandle;
use crate::lifecycle::tasks::{Task, TaskContext};
use crate::site::Site;
use graceful_values::When;

/// The future a generated callback or task wrapper returns.
pub type CallbackFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
/// A callback with the states it asked for.
pub type CallbackRun = Box<dyn FnOnce(ShutdownContext) -> CallbackFuture + Send>;
/// A background task with the states it asked for.
pub type TaskRun = Box<dyn FnOnce(TaskContext) -> CallbackFuture + Send>;
/// A generated callback factory: looks up the callback's parameters.
pub(crate) type MakeCallback = fn(Assembly<'_>) -> Result<CallbackRun, MissingState>;
/// A generated task factory: looks up the task's parameters.
pub(crate) type MakeTask = fn(Assembly<'_>) -> Result<TaskRun, MissingState>;

/// One `#[graceful::on_shutdown]` or `#[graceful::task]` function; `M`, its
/// generated factory, tells which.
#[derive(Debug)]
pub struct OneShotRegistration<M> {
    /// Its name.
    pub name: &'static str,
    /// When it runs (a callback) or is told to stop (a task).
    pub when: When,
    /// Its phase among those of the same moment.
    pub phase: i32,
    /// Its timeout, if the attribute gives one.
    pub timeout: Option<Duration>,
    /// The function's name.
    pub function: &'static str,
    /// Where it is declared.
    pub file: &'static str,
    /// Where it is declared.
    pub line: u32,
    /// The generated factory.
    pub run: M,
}

/// One `#[graceful::on_shutdown]` function.
pub type CallbackRegistration = OneShotRegistration<MakeCallback>;
/// One `#[graceful::task]` function.
pub type TaskRegistration = OneShotRegistration<MakeTask>;

inventory::collect!(CallbackRegistration);
inventory::collect!(TaskRegistration);

impl<M> OneShotRegistration<M> {
    fn site(&self) -> Site {
        Site::function(self.function, self.file, self.line)
    }
}

/// Adds the registered callbacks and tasks to `app`; what does not fit
/// (a name declared twice, a state nothing provided) goes to `problems`.
pub(crate) fn add_registered(
    mut app: App,
    handle: &ShutdownHandle,
    states: &States,
    problems: &mut Vec<Problem>,
) -> App {
    let same_callback = |name, first, second| Problem::SameCallbackName {
        name,
        first,
        second,
    };
    for (registration, run) in assembled::<MakeCallback, _>(handle, states, problems, same_callback)
    {
        let mut callback = Callback::new(registration.name, run)
            .when(registration.when)
            .phase(registration.phase)
            .declared_at(registration.site());
        if let Some(timeout) = registration.timeout {
            callback = callback.timeout(timeout);
        }
        app = app.on_shutdown(callback);
    }
    let same_task = |name, first, second| Problem::SameTaskName {
        name,
        first,
        second,
    };
    for (registration, run) in assembled::<MakeTask, _>(handle, states, problems, same_task) {
        let mut task = Task::new(registration.name, run)
            .stop(registration.when)
            .phase(registration.phase)
            .declared_at(registration.site());
        if let Some(timeout) = registration.timeout {
            task = task.timeout(timeout);
        }
        app = app.task(task);
    }
    app
}

/// The registrations of one kind, sorted (by name, then source location:
/// the same every run), each with what its factory made; repeated names
/// and missing states go to `problems`.
fn assembled<M, R>(
    handle: &ShutdownHandle,
    states: &States,
    problems: &mut Vec<Problem>,
    same_name: impl Fn(String, Site, Site) -> Problem,
) -> Vec<(&'static OneShotRegistration<M>, R)>
where
    OneShotRegistration<M>: inventory::Collect,
    M: Fn(Assembly<'_>) -> Result<R, MissingState>,
{
    let mut registrations: Vec<&OneShotRegistration<M>> =
        inventory::iter::<OneShotRegistration<M>>().collect();
    registrations.sort_by_key(|r| (r.name, r.file, r.line));
    for pair in registrations
        .windows(2)
        .filter(|pair| pair[0].name == pair[1].name)
    {
        problems.push(same_name(
            pair[0].name.to_owned(),
            pair[0].site(),
            pair[1].site(),
        ));
    }
    let mut made = Vec::with_capacity(registrations.len());
    for registration in registrations {
        match (registration.run)(Assembly { states, handle }) {
            Ok(run) => made.push((registration, run)),
            Err(missing) => problems.push(Problem::MissingState {
                function: registration.site(),
                state: missing.type_name,
            }),
        }
    }
    made
}
