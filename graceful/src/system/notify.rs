//! The service manager's notification protocol (systemd's `sd_notify(3)`),
//! spoken when the service manager asks for it by setting `NOTIFY_SOCKET`
//! (`Type=notify` in a systemd unit). The protocol itself is the
//! `sd-notify` crate's.
//!
//! | when | message |
//! |---|---|
//! | every listener is bound and the start-up hook has run | `READY=1`, `STATUS=serving …` |
//! | the first signal | `STOPPING=1`, `STATUS=stopping …` |
//! | the drain, at its start and every `progress_interval` | `STATUS=draining: N requests in flight …` |
//! | the callbacks | `STATUS=running shutdown callbacks` |
//! | every `progress_interval` of the shutdown | `EXTEND_TIMEOUT_USEC=…`, up to the `shutdown_timeout` |
//! | every half of `WATCHDOG_USEC`, while the runtime runs | `WATCHDOG=1` |
//! | a restart's successor serves (see `restart`) | `MAINPID=`, then silence |
//!
//! `EXTEND_TIMEOUT_USEC` keeps a service manager whose stop timeout is
//! shorter than the shutdown's own budget from killing a shutdown that is
//! within it; it is sent by a task on the runtime, so a stalled runtime stops
//! asking, and it never reaches past the `shutdown_timeout`, which the
//! watchdog thread enforces anyway. `WATCHDOG=1` is sent the same way: a
//! runtime that no longer runs its tasks stops petting, and the service
//! manager restarts the service.
//!
//! A message that cannot be sent is logged at debug level and otherwise
//! ignored: the service runs the same without a listener.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Speaks to the service manager, if it listens.
#[derive(Clone, Debug)]
pub(crate) struct Notifier {
    /// Whether `NOTIFY_SOCKET` was set at the start, and this process is
    /// still the service's main one (not after a handover).
    on: Arc<AtomicBool>,
    /// The service manager's watchdog period (`WATCHDOG_USEC`), if it is
    /// for this process.
    watchdog: Option<Duration>,
}

/// One message's parts.
#[derive(Debug)]
pub(crate) enum Note<'a> {
    Ready,
    Stopping,
    Status(&'a str),
    ExtendTimeout(Duration),
    Watchdog,
    MainPid(u32),
}

impl Notifier {
    /// Reads the service manager's variables of this process.
    pub(crate) fn from_env() -> Notifier {
        Notifier {
            on: Arc::new(AtomicBool::new(
                std::env::var_os("NOTIFY_SOCKET").is_some_and(|path| !path.is_empty()),
            )),
            watchdog: watchdog_period(),
        }
    }

    /// Whether the service manager listens.
    pub(crate) fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Hands the service over to `successor` (`MAINPID=`), and falls
    /// silent: the successor speaks for the service from now on.
    pub(crate) fn hand_over(&self, successor: u32) {
        let status = format!("handed over to pid {successor}");
        self.send(&[Note::MainPid(successor), Note::Status(&status)]);
        self.on.store(false, Ordering::Relaxed);
    }

    /// Sends `notes` as one message.
    pub(crate) fn send(&self, notes: &[Note<'_>]) {
        if !self.is_on() {
            return;
        }
        if let Err(err) = send(notes) {
            tracing::debug!(error = %err, "cannot notify the service manager");
        }
    }

    /// `READY=1`, with a status naming each server.
    pub(crate) fn ready<'a>(&self, servers: impl Iterator<Item = (&'a str, String)>) {
        if !self.is_on() {
            return;
        }
        let servers: Vec<String> = servers
            .map(|(name, addr)| format!("{name} on {addr}"))
            .collect();
        let status = format!(
            "serving {} {}: {}",
            servers.len(),
            if servers.len() == 1 {
                "server"
            } else {
                "servers"
            },
            servers.join(", ")
        );
        self.send(&[Note::Ready, Note::Status(&status)]);
    }

    /// Asks for more time before the service manager's stop timeout, every
    /// `every`, each time up to three periods ahead and never past
    /// `deadline`. Runs until dropped.
    pub(crate) async fn extend_until(&self, deadline: Instant, every: Duration) {
        if !self.is_on() {
            return std::future::pending().await;
        }
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return std::future::pending().await;
            }
            // The extension counts from now; one second more than what is
            // left gives the forced exit, at the deadline, time to report.
            self.send(&[Note::ExtendTimeout(
                (every * 3).min(left + Duration::from_secs(1)),
            )]);
        }
    }

    /// Pets the service manager's watchdog at half its period, for as long
    /// as the runtime runs this task. Returns at once if there is none.
    pub(crate) async fn pet_watchdog(self) {
        let Some(period) = self.watchdog.filter(|_| self.is_on()) else {
            return;
        };
        let every = period / 2;
        if every < MIN_PET_INTERVAL {
            tracing::warn!(watchdog = ?period, petted_every = ?MIN_PET_INTERVAL, "the service manager's watchdog period is too short to honour; petting at the floor");
        }
        let mut ticks = tokio::time::interval(every.max(MIN_PET_INTERVAL));
        // A stalled runtime must not catch up with a burst of pets.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // Silent after a handover: `send` checks.
            self.send(&[Note::Watchdog]);
        }
    }
}

#[cfg(unix)]
fn send(notes: &[Note<'_>]) -> std::io::Result<()> {
    use sd_notify::NotifyState;
    let states: Vec<NotifyState<'_>> = notes
        .iter()
        .map(|note| match note {
            Note::Ready => NotifyState::Ready,
            Note::Stopping => NotifyState::Stopping,
            Note::Status(text) => NotifyState::Status(text),
            Note::ExtendTimeout(by) => {
                NotifyState::ExtendTimeoutUsec(u32::try_from(by.as_micros()).unwrap_or(u32::MAX))
            }
            Note::Watchdog => NotifyState::Watchdog,
            Note::MainPid(pid) => NotifyState::MainPid(*pid),
        })
        .collect();
    sd_notify::notify(&states)
}

#[cfg(not(unix))]
fn send(_notes: &[Note<'_>]) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// The watchdog is petted at most this often, whatever its period: a
/// period of a few microseconds would be a busy loop.
const MIN_PET_INTERVAL: Duration = Duration::from_millis(10);

/// `WATCHDOG_USEC`, if it is for this process; zero is no watchdog, as
/// `sd_watchdog_enabled(3)` reads it.
#[cfg(unix)]
fn watchdog_period() -> Option<Duration> {
    sd_notify::watchdog_enabled().filter(|period| {
        if period.is_zero() {
            tracing::warn!("WATCHDOG_USEC=0 is no watchdog period; not petting");
        }
        !period.is_zero()
    })
}

#[cfg(not(unix))]
fn watchdog_period() -> Option<Duration> {
    None
}
