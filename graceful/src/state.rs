//! Shared state: built in `#[graceful::main]`'s body, handed over with
//! [`provide`], and asked for by type with a [`State`] parameter in handlers,
//! server functions and shutdown callbacks.
//!
//! The state is looked up once, when the app is assembled (after `main`'s
//! body, before anything is bound): a function asking for a state nobody
//! provided is a start-up error naming the type and the function. A request
//! then costs a `clone` of the state, as in axum.

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// A piece of shared state, asked for by type.
///
/// Provide it in `#[graceful::main]`'s body with [`provide`]; take it as a
/// parameter of a handler, a server function or a shutdown callback. `T` is
/// cloned for every call that takes it: wrap what is costly to clone in an
/// `Arc` (a pool or a client usually is one already).
///
/// ```no_run
/// use std::sync::Arc;
/// use graceful::{Request, State};
///
/// #[derive(Default)]
/// struct Store {/* a pool, a cache... */}
///
/// #[graceful::server(addr = "127.0.0.1:8080")]
/// async fn count(_req: Request, store: State<Arc<Store>>) -> String {
///     format!("{} references", Arc::strong_count(&store))
/// }
///
/// #[graceful::on_shutdown(phase = 1)]
/// async fn close(store: State<Arc<Store>>) {
///     drop(store); // flush, close the pool...
/// }
///
/// #[graceful::main]
/// async fn main() {
///     graceful::provide(Arc::new(Store::default()));
/// }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct State<T>(pub T);

impl<T> Deref for State<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for State<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// Hands `value` to the app assembled by the attributes: every [`State<T>`]
/// parameter gets a clone of it. Call it in `#[graceful::main]`'s body, which
/// runs before any server function, handler or callback is assembled.
/// Providing a type again replaces the earlier value.
///
/// ```
/// #[derive(Clone)]
/// struct Config {
///     greeting: String,
/// }
///
/// graceful::provide(Config { greeting: "hello".into() });
/// ```
pub fn provide<T: Clone + Send + Sync + 'static>(value: T) {
    global()
        .values
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(TypeId::of::<T>(), Arc::new(value));
}

/// The states provided, by type.
#[derive(Default)]
pub struct States {
    values: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl fmt::Debug for States {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("States").finish_non_exhaustive()
    }
}

/// The states of the app the attributes assemble.
pub(crate) fn global() -> &'static States {
    static GLOBAL: OnceLock<States> = OnceLock::new();
    GLOBAL.get_or_init(States::default)
}

/// A state a function asked for and nobody provided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingState {
    /// The type asked for, such as `my_app::Store`.
    pub type_name: &'static str,
}

/// What a [`State`] parameter can be built from: implemented by `State<T>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a state the app can provide",
    note = "take shared state as `graceful::State<T>`, and hand it over with `graceful::provide(value)` in `#[graceful::main]`'s body"
)]
pub trait FromStates: Sized {
    /// Looks the state up.
    fn from_states(states: &States) -> Result<Self, MissingState>;
}

impl<T: Clone + Send + Sync + 'static> FromStates for State<T> {
    fn from_states(states: &States) -> Result<Self, MissingState> {
        let values = states.values.lock().unwrap_or_else(PoisonError::into_inner);
        values
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
            .map(|value| State(value.clone()))
            .ok_or(MissingState {
                type_name: type_name::<T>(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provided_state_is_found_by_type_and_a_missing_one_named() {
        let states = States::default();
        states
            .values
            .lock()
            .unwrap()
            .insert(TypeId::of::<u32>(), Arc::new(7u32));
        assert_eq!(State::<u32>::from_states(&states), Ok(State(7)));
        assert_eq!(
            State::<String>::from_states(&states),
            Err(MissingState {
                type_name: "alloc::string::String"
            })
        );
    }
}
