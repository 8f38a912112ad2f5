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

use crate::site::Site;

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
///
/// One value per type: providing a type twice is a start-up error naming
/// both places (exit code 2), never a silent replacement. Two values of one
/// type (a read pool and a write pool) are told apart by types of their own:
/// `struct ReadPool(Pool); struct WritePool(Pool);`.
///
/// ```
/// #[derive(Clone)]
/// struct Config {
///     greeting: String,
/// }
///
/// graceful::provide(Config { greeting: "hello".into() });
/// ```
#[track_caller]
pub fn provide<T: Clone + Send + Sync + 'static>(value: T) {
    global().provide(value, Site::caller());
}

/// The states provided, by type.
#[derive(Default)]
pub struct States {
    values: Mutex<HashMap<TypeId, Provided>>,
    /// Types provided more than once: each, and where.
    twice: Mutex<Vec<ProvidedTwice>>,
}

/// A state, and where it was provided.
struct Provided {
    value: Arc<dyn Any + Send + Sync>,
    at: Site,
}

/// A type provided twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProvidedTwice {
    /// The type, such as `my_app::Pool`.
    pub(crate) state: &'static str,
    pub(crate) first: Site,
    pub(crate) second: Site,
}

impl States {
    fn provide<T: Clone + Send + Sync + 'static>(&self, value: T, at: Site) {
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        let provided = Provided {
            value: Arc::new(value),
            at,
        };
        if let Some(first) = values.get(&TypeId::of::<T>()) {
            self.twice
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(ProvidedTwice {
                    state: type_name::<T>(),
                    first: first.at,
                    second: at,
                });
            return;
        }
        values.insert(TypeId::of::<T>(), provided);
    }

    /// The types provided twice, found at assembly.
    pub(crate) fn provided_twice(&self) -> Vec<ProvidedTwice> {
        self.twice
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
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

impl<T: Clone + Send + Sync + 'static> State<T> {
    /// Looks the state up, at assembly.
    pub(crate) fn look_up(states: &States) -> Result<Self, MissingState> {
        let values = states.values.lock().unwrap_or_else(PoisonError::into_inner);
        values
            .get(&TypeId::of::<T>())
            .and_then(|provided| provided.value.downcast_ref::<T>())
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
        states.provide(7u32, Site::caller());
        assert_eq!(State::<u32>::look_up(&states), Ok(State(7)));
        assert_eq!(
            State::<String>::look_up(&states),
            Err(MissingState {
                type_name: "alloc::string::String"
            })
        );
    }

    #[test]
    fn a_type_provided_twice_keeps_the_first_and_names_both_places() {
        let states = States::default();
        let first = Site::caller();
        states.provide(1u32, first);
        let second = Site::caller();
        states.provide(2u32, second);
        assert_eq!(State::<u32>::look_up(&states), Ok(State(1)));
        assert_eq!(
            states.provided_twice(),
            vec![ProvidedTwice {
                state: "u32",
                first,
                second
            }]
        );
    }
}
