//! The service manager's side of a running app, from the announcement to
//! the exit: the notifier, the task that pets the watchdog, and the task
//! that serves restarts. The notify protocol and the restart meet here, and
//! only here: a process that is a restart's successor tells its
//! predecessor, not the service manager, that it serves.

use std::sync::Arc;

use tokio_util::task::AbortOnDropHandle;

use crate::lifecycle::Lifecycle;
use crate::system::notify::Notifier;
use crate::system::restart::{Restarter, Setup, is_successor, tell_predecessor_ready};

/// The service manager's side of a running app; its tasks end when it is
/// dropped, at the exit.
#[derive(Debug)]
pub(crate) struct Supervision {
    notifier: Notifier,
    /// Pets the service manager's watchdog while the runtime runs.
    _pets: AbortOnDropHandle<()>,
    /// Serves restart requests (see `restart`), while the app serves.
    _restarter: Option<AbortOnDropHandle<()>>,
}

impl Supervision {
    /// Says that the app serves, if it does (to the service manager:
    /// `READY=1`; or, in a restart's successor, to its predecessor, which
    /// names this process to the service manager with `MAINPID=`), then
    /// pets the watchdog and serves restarts. A shutdown that began during
    /// the start announces nothing and serves no restart.
    pub(crate) fn start<'a>(
        lifecycle: &Arc<Lifecycle>,
        serves: Option<impl Iterator<Item = (&'a str, String)>>,
        restarts: Setup,
    ) -> Self {
        let notifier = Notifier::from_env();
        let serving = serves.is_some();
        if let Some(servers) = serves {
            if is_successor() {
                tell_predecessor_ready();
            } else {
                notifier.ready(servers);
            }
        }
        let pets = AbortOnDropHandle::new(tokio::spawn(notifier.clone().pet_watchdog()));
        let restarter = serving.then(|| {
            let restarter = Restarter::new(restarts, Arc::clone(lifecycle), notifier.clone());
            AbortOnDropHandle::new(tokio::spawn(restarter.run()))
        });
        Supervision {
            notifier,
            _pets: pets,
            _restarter: restarter,
        }
    }

    /// Speaks to the service manager through the shutdown.
    pub(crate) fn notifier(&self) -> &Notifier {
        &self.notifier
    }
}
