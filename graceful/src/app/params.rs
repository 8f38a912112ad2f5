//! The parameters of the functions the attributes register, recognised by
//! their type: the generated code asks each parameter's type, through these
//! traits, how it is made, so that a type alias or a full path works as the
//! plain name does, and a type that is no parameter is reported on its token.
//!
//! Each value is looked up once, at assembly ([`Assembly`]); a call then
//! takes a clone of it, or the call's one value (the request, the context).

use crate::app::state::{MissingState, State, States};
use crate::lifecycle::callbacks::ShutdownContext;
use crate::lifecycle::handle::ShutdownHandle;
use crate::lifecycle::tasks::TaskContext;
use crate::serve::Request;

/// What the app has for the functions it assembles.
#[derive(Clone, Copy, Debug)]
pub struct Assembly<'a> {
    /// The states `main`'s body provided.
    pub states: &'a States,
    /// The app's shutdown handle.
    pub handle: &'a ShutdownHandle,
}

/// A parameter of a `#[graceful::server]` handler.
#[diagnostic::on_unimplemented(
    message = "a handler cannot be given a `{Self}`",
    label = "not a handler's parameter",
    note = "a handler takes `Request` (`hyper::Request<Incoming>`) and, optionally, `ShutdownHandle`; shared state comes as a `graceful::State<T>` parameter, handed over by `graceful::provide(value)` in `#[graceful::main]`'s body"
)]
pub trait HandlerParam: Sized {
    /// What is kept, from the assembly, for every call.
    type Kept: Clone + Send + Sync + 'static;
    /// Whether it is the request, which one parameter alone can take.
    const REQUEST: bool = false;
    /// Looks it up, at assembly.
    fn keep(assembly: Assembly<'_>) -> Result<Self::Kept, MissingState>;
    /// Makes it for one call, from what was kept and the call's request.
    fn take(kept: &Self::Kept, request: &mut Option<Request>) -> Self;
}

/// A parameter of a `#[graceful::server]` function returning a service.
#[diagnostic::on_unimplemented(
    message = "a function returning a service cannot be given a `{Self}`",
    label = "not a parameter of a function returning a service",
    note = "a function returning a service may only take `ShutdownHandle` and `graceful::State<T>`s"
)]
pub trait ServiceParam: Sized {
    /// Makes it, at assembly, when the function is called.
    fn make(assembly: Assembly<'_>) -> Result<Self, MissingState>;
}

/// A parameter of a `#[graceful::on_shutdown]` callback.
#[diagnostic::on_unimplemented(
    message = "a shutdown callback cannot be given a `{Self}`",
    label = "not a shutdown callback's parameter",
    note = "a shutdown callback can only be given a `ShutdownContext`, or nothing; shared state comes as a `graceful::State<T>` parameter, handed over by `graceful::provide(value)` in `#[graceful::main]`'s body"
)]
pub trait CallbackParam: Sized {
    /// What is kept, from the assembly, for the one call.
    type Kept: Send + 'static;
    /// Whether it is the context, which one parameter alone can take.
    const CONTEXT: bool = false;
    /// Looks it up, at assembly.
    fn keep(assembly: Assembly<'_>) -> Result<Self::Kept, MissingState>;
    /// Makes it for the call, from what was kept and the call's context.
    fn take(kept: Self::Kept, context: &mut Option<ShutdownContext>) -> Self;
}

/// A parameter of a `#[graceful::task]` background task.
#[diagnostic::on_unimplemented(
    message = "a background task cannot be given a `{Self}`",
    label = "not a background task's parameter",
    note = "a background task can only be given a `TaskContext`, or nothing; shared state comes as a `graceful::State<T>` parameter, handed over by `graceful::provide(value)` in `#[graceful::main]`'s body"
)]
pub trait TaskParam: Sized {
    /// What is kept, from the assembly, for the one run.
    type Kept: Send + 'static;
    /// Whether it is the context, which one parameter alone can take.
    const CONTEXT: bool = false;
    /// Looks it up, at assembly.
    fn keep(assembly: Assembly<'_>) -> Result<Self::Kept, MissingState>;
    /// Makes it for the run, from what was kept and the run's context.
    fn take(kept: Self::Kept, context: &mut Option<TaskContext>) -> Self;
}

impl<T: Clone + Send + Sync + 'static> HandlerParam for State<T> {
    type Kept = State<T>;

    fn keep(assembly: Assembly<'_>) -> Result<Self::Kept, MissingState> {
        State::look_up(assembly.states)
    }

    #[inline]
    fn take(kept: &Self::Kept, _: &mut Option<Request>) -> Self {
        kept.clone()
    }
}

impl<T: Clone + Send + Sync + 'static> ServiceParam for State<T> {
    fn make(assembly: Assembly<'_>) -> Result<Self, MissingState> {
        State::look_up(assembly.states)
    }
}

impl<T: Clone + Send + Sync + 'static> CallbackParam for State<T> {
    type Kept = State<T>;

    fn keep(assembly: Assembly<'_>) -> Result<Self::Kept, MissingState> {
        State::look_up(assembly.states)
    }

    fn take(kept: Self::Kept, _: &mut Option<ShutdownContext>) -> Self {
        kept
    }
}

impl<T: Clone + Send + Sync + 'static> TaskParam for State<T> {
    type Kept = State<T>;

    fn keep(assembly: Assembly<'_>) -> Result<Self::Kept, MissingState> {
        State::look_up(assembly.states)
    }

    fn take(kept: Self::Kept, _: &mut Option<TaskContext>) -> Self {
        kept
    }
}

impl HandlerParam for Request {
    type Kept = ();
    const REQUEST: bool = true;

    fn keep(_: Assembly<'_>) -> Result<(), MissingState> {
        Ok(())
    }

    #[inline]
    fn take((): &(), request: &mut Option<Request>) -> Self {
        match request.take() {
            Some(request) => request,
            // The generated code checks at compile time that one parameter
            // at most is the request, and gives it to each call.
            None => unreachable!("a handler takes the request once"),
        }
    }
}

impl HandlerParam for ShutdownHandle {
    type Kept = ShutdownHandle;

    fn keep(assembly: Assembly<'_>) -> Result<Self::Kept, MissingState> {
        Ok(assembly.handle.clone())
    }

    #[inline]
    fn take(kept: &Self::Kept, _: &mut Option<Request>) -> Self {
        kept.clone()
    }
}

impl ServiceParam for ShutdownHandle {
    fn make(assembly: Assembly<'_>) -> Result<Self, MissingState> {
        Ok(assembly.handle.clone())
    }
}

impl CallbackParam for ShutdownContext {
    type Kept = ();
    const CONTEXT: bool = true;

    fn keep(_: Assembly<'_>) -> Result<(), MissingState> {
        Ok(())
    }

    fn take((): (), context: &mut Option<ShutdownContext>) -> Self {
        match context.take() {
            Some(context) => context,
            // Checked at compile time, as the request is.
            None => unreachable!("a shutdown callback takes its context once"),
        }
    }
}

impl TaskParam for TaskContext {
    type Kept = ();
    const CONTEXT: bool = true;

    fn keep(_: Assembly<'_>) -> Result<(), MissingState> {
        Ok(())
    }

    fn take((): (), context: &mut Option<TaskContext>) -> Self {
        match context.take() {
            Some(context) => context,
            // Checked at compile time, as the request is.
            None => unreachable!("a background task takes its context once"),
        }
    }
}
