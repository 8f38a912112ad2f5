//! The shutdown, phase by phase: the conductor that [`Running::wait`] runs
//! once the first trigger has come.
//!
//! 1. **Not ready**: health answers 503, responses close their connections,
//!    for the `pre_stop_delay`.
//! 2. **Refuse**: every listener closes (what the kernel accepted is served).
//! 3. **Drain**: until no connection is left, or the drain deadline cuts off
//!    the rest.
//! 4. **Tasks**: the background tasks told to stop once drained, phase by
//!    phase (those told at the signal were told in phase 1, and are waited
//!    for here).
//! 5. **Callbacks**, phase by phase.
//!
//! A forced exit (a second signal, the global deadline, both owned by the
//! sentinel) interrupts any phase: whatever runs is cut off and reported.
//! The report is built by [`Books`] on both paths.

use std::fmt;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::task::AbortOnDropHandle;

use crate::addr::ListenAddr;
use crate::app::books::Books;
use crate::config::Config;
use crate::lifecycle::callbacks::Plan;
use crate::lifecycle::handle::ShutdownHandle;
use crate::lifecycle::report::{CallbackReport, Report, ReportHook, ShutdownPhase};
use crate::lifecycle::sentinel::Sentinel;
use crate::lifecycle::tasks::Crew;
use crate::lifecycle::{ForcedBy, Lifecycle, Phase, Trigger};
use crate::serve::accounts::{Cut, ServerShared};
use crate::system::notify::{Note, Notifier};
use crate::system::supervision::Supervision;
use graceful_values::When;

/// How long aborted connections get to end (and be counted) once cut off,
/// at the drain deadline or a forced exit. A task blocking its thread does
/// not end: it is reported as abandoned.
const ABORT_WAIT: Duration = Duration::from_millis(200);

/// A started app: every listener is bound and serving.
///
/// ```
/// # use graceful::hyper::{Response, service::service_fn};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let svc = service_fn(|_req| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) });
/// let running = graceful::App::new()
///     .server(graceful::Server::new("api", "127.0.0.1:0", svc))
///     .start()
///     .await
///     .unwrap();
/// for (name, addr) in running.local_addrs() {
///     println!("{name} listens on {addr}");
/// }
/// running.handle().shutdown();
/// let report = running.wait().await;
/// assert_eq!(report.exit_code(), 0);
/// # }
/// ```
pub struct Running {
    /// The app's lifecycle, and where its restarts are asked for.
    handle: ShutdownHandle,
    /// Every server's books, and the report's.
    books: Arc<Books>,
    /// What the phases of the shutdown work with.
    parts: Parts,
    /// The service manager's side, until the exit.
    supervision: Supervision,
}

/// What the start hands the shutdown's phases.
pub(crate) struct Parts {
    /// Phase 2 waits for them: each server's accept loop, which ends once
    /// its listener is closed.
    pub(crate) accept_loops: Vec<JoinHandle<()>>,
    /// Phases 1 and 4: the background tasks, told at their moments.
    pub(crate) tasks: Arc<Crew>,
    /// Phase 4: the callbacks, in their order.
    pub(crate) callbacks: Plan,
    /// The bound on all of it: the thread that forces the exit at the
    /// global deadline or a second signal.
    pub(crate) sentinel: Sentinel,
    /// The settings the phases read.
    pub(crate) config: Config,
    /// The app's hook for the final report, if it has one.
    pub(crate) report_hook: Option<ReportHook>,
    /// The admin server, if the app has one: closed once the report is final.
    #[cfg(feature = "prometheus")]
    pub(crate) admin: Option<tokio_util::task::AbortOnDropHandle<()>>,
}

impl fmt::Debug for Running {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Running")
            .field("servers", &self.local_addrs().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Running {
    /// What the start conductor hands over once the app serves.
    pub(crate) fn new(
        handle: ShutdownHandle,
        books: Arc<Books>,
        parts: Parts,
        supervision: Supervision,
    ) -> Self {
        Running {
            handle,
            books,
            parts,
            supervision,
        }
    }

    /// The TCP address the named server listens on, with the port it
    /// really got; `None` for a Unix socket (see [`Running::listen_addr`]).
    ///
    /// ```
    /// # fn f(running: &graceful::Running) {
    /// let addr = running.local_addr("api").expect("a server named api");
    /// # }
    /// ```
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.listen_addr(name).and_then(ListenAddr::tcp)
    }

    /// Where the named server listens, TCP or Unix socket.
    ///
    /// ```
    /// # fn f(running: &graceful::Running) {
    /// println!("api listens on {}", running.listen_addr("api").expect("a server named api"));
    /// # }
    /// ```
    pub fn listen_addr(&self, name: &str) -> Option<&ListenAddr> {
        self.local_addrs()
            .find(|(n, _)| *n == name)
            .map(|(_, addr)| addr)
    }

    /// Every server's name and address, in declaration order.
    ///
    /// ```
    /// # fn f(running: &graceful::Running) {
    /// let addrs: Vec<_> = running.local_addrs().collect();
    /// # }
    /// ```
    pub fn local_addrs(&self) -> impl Iterator<Item = (&str, &ListenAddr)> + '_ {
        self.books.servers().iter().map(|s| (&*s.name, &s.addr))
    }

    /// A handle on this app's shutdown.
    ///
    /// ```
    /// # fn f(running: &graceful::Running) {
    /// running.handle().shutdown();
    /// # }
    /// ```
    pub fn handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Serves until the first signal (or [`ShutdownHandle::shutdown`]), then
    /// runs the shutdown and returns its report. A second signal, or the
    /// global `shutdown_timeout`, ends it at once with a forced report.
    ///
    /// ```
    /// # async fn f(running: graceful::Running) {
    /// let report = running.wait().await;
    /// std::process::exit(report.exit_code().code());
    /// # }
    /// ```
    pub async fn wait(self) -> Report {
        let Running {
            handle,
            books,
            parts,
            supervision,
        } = self;
        let Parts {
            accept_loops,
            tasks,
            callbacks,
            sentinel,
            config,
            report_hook,
            #[cfg(feature = "prometheus")]
            admin,
        } = parts;
        let lifecycle = &**handle.lifecycle();
        let notifier = supervision.notifier();
        // Signals reach the lifecycle through the sentinel's thread.
        lifecycle.begun().await;
        let trigger = books.first_trigger();
        tracing::info!(trigger = %trigger, "shutdown started");
        notifier.send(&[
            Note::Stopping,
            Note::Status(&format!("stopping ({trigger})")),
        ]);
        let conductor = Conductor {
            books: &books,
            lifecycle,
            config: &config,
            notifier,
            tasks: &tasks,
        };
        let _upgrade_deadline = conductor.upgrade_deadline();
        let deadline = lifecycle
            .first_trigger()
            .map_or_else(Instant::now, |(_, at)| at)
            + config.shutdown_timeout;
        let report = tokio::select! {
            biased;
            () = lifecycle.forced() => conductor.forced().await,
            report = conductor.sequence(accept_loops, callbacks) => report,
            () = notifier.extend_until(deadline.into(), config.progress_interval) => unreachable!("extends until dropped"),
        };
        let report = books.finish(report);
        report.log();
        // The last publication, before the hook that may flush an exporter.
        #[cfg(feature = "metrics")]
        books.publish_metrics();
        if let Some(hook) = report_hook {
            // Still under the sentinel: the hook has what is left of the
            // global deadline, at most `callback_timeout`, and none after a
            // forced exit.
            let left = deadline.saturating_duration_since(Instant::now());
            hook.run(&report, config.callback_timeout.min(left)).await;
        }
        // Scraped to the end: the admin server closes only now.
        #[cfg(feature = "prometheus")]
        drop(admin);
        sentinel.stop();
        report
    }
}

/// Runs the phases of one shutdown.
struct Conductor<'a> {
    books: &'a Books,
    lifecycle: &'a Lifecycle,
    config: &'a Config,
    notifier: &'a Notifier,
    tasks: &'a Arc<Crew>,
}

impl Conductor<'_> {
    /// Phases 1 to 5, each logged with its duration.
    async fn sequence(&self, accept_loops: Vec<JoinHandle<()>>, mut plan: Plan) -> Report {
        let at_signal = self.tell_tasks_at_signal();
        self.not_ready(&mut plan).await;
        self.refuse(accept_loops).await;
        self.drain().await;
        self.stop_tasks(at_signal).await;
        let callbacks = self.callbacks(plan).await;
        self.books.completed(callbacks)
    }

    /// Tells the tasks of the signal to stop, phase by phase, beside the
    /// phases that follow; the returned task ends once they all have.
    fn tell_tasks_at_signal(&self) -> AbortOnDropHandle<()> {
        let names = self.tasks.ledger().told_at(When::Signal).join(", ");
        if !names.is_empty() {
            self.notifier
                .send(&[Note::Status(&format!("stopping tasks: {names}"))]);
        }
        self.tasks.tell_first_phase(When::Signal);
        let tasks = Arc::clone(self.tasks);
        AbortOnDropHandle::new(tokio::spawn(async move { tasks.stop(When::Signal).await }))
    }

    /// Tells the tasks of the drained moment to stop, phase by phase, and
    /// waits for them and for those told at the signal.
    async fn stop_tasks(&self, at_signal: AbortOnDropHandle<()>) {
        let names = self.tasks.ledger().told_at(When::Drained).join(", ");
        let started = if names.is_empty() {
            Instant::now()
        } else {
            self.books.phase_started(ShutdownPhase::Tasks)
        };
        if !names.is_empty() {
            self.notifier
                .send(&[Note::Status(&format!("stopping tasks: {names}"))]);
        }
        self.tasks.stop(When::Drained).await;
        let _ = at_signal.await;
        if !names.is_empty() {
            self.books.phase_ended(ShutdownPhase::Tasks, started);
        }
    }

    /// Health answers 503, clients are told to move on; new connections are
    /// still served for the `pre_stop_delay`. After a handover, a successor serves: there is nothing to announce,
    /// and no delay to wait.
    /// The callbacks of the signal run meanwhile: the listeners stay open
    /// until they have ended.
    async fn not_ready(&self, plan: &mut Plan) {
        let started = self.books.phase_started(ShutdownPhase::NotReady);
        let delay = if self.lifecycle.is_handed_over() {
            Duration::ZERO
        } else {
            self.config.pre_stop_delay
        };
        tracing::info!(pre_stop_delay = ?delay, "phase not-ready: health checks fail, responses close their connections");
        let callbacks = async {
            if !plan.is_empty(When::Signal) {
                plan.run(When::Signal).await;
            }
        };
        tokio::join!(tokio::time::sleep(delay), callbacks);
        self.books.phase_ended(ShutdownPhase::NotReady, started);
    }

    /// Closes every listener; the accept loops serve what the kernel had
    /// accepted first.
    async fn refuse(&self, accept_loops: Vec<JoinHandle<()>>) {
        let started = self.books.phase_started(ShutdownPhase::Refuse);
        self.lifecycle.advance(Phase::Refusing);
        for accept_loop in accept_loops {
            let _ = accept_loop.await;
        }
        self.books.phase_ended(ShutdownPhase::Refuse, started);
    }

    /// Waits until no connection is left, or the drain deadline, which cuts
    /// off what remains.
    async fn drain(&self) {
        let started = self.books.phase_started(ShutdownPhase::Drain);
        let servers = self.books.servers();
        for server in servers {
            server.tasks.close();
        }
        let mut drained = pin!(async {
            for server in servers {
                server.tasks.wait().await;
            }
        });
        let config = self.config;
        let deadline = tokio::time::Instant::now() + config.drain_timeout;
        self.drain_status();
        let mut progress = tokio::time::interval_at(
            tokio::time::Instant::now() + config.progress_interval,
            config.progress_interval,
        );
        loop {
            tokio::select! {
                () = &mut drained => break,
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(drain_timeout = ?config.drain_timeout, "drain deadline passed: cutting off what remains");
                    self.cut_off().await;
                    break;
                }
                _ = progress.tick() => {
                    self.drain_status();
                    for server in servers {
                        tracing::info!(
                            server = %server.name,
                            in_flight = server.stats.in_flight(),
                            connections = server.stats.open_connections.load(Relaxed),
                            "draining"
                        );
                    }
                }
            }
        }
        self.books.phase_ended(ShutdownPhase::Drain, started);
    }

    /// Tells the service manager how much is left to drain.
    fn drain_status(&self) {
        if !self.notifier.is_on() {
            return;
        }
        let servers = self.books.servers();
        let in_flight: u64 = servers.iter().map(|s| s.stats.in_flight()).sum();
        let connections: u64 = servers
            .iter()
            .map(|s| s.stats.open_connections.load(Relaxed))
            .sum();
        self.notifier.send(&[Note::Status(&format!(
            "draining: {in_flight} requests in flight, {connections} connections open"
        ))]);
    }

    /// Runs the callbacks of the drained moment, phase by phase; returns
    /// every callback's report, those of the signal too.
    async fn callbacks(&self, mut plan: Plan) -> Vec<CallbackReport> {
        if plan.is_empty(When::Drained) {
            return plan.reports();
        }
        let started = self.books.phase_started(ShutdownPhase::Callbacks);
        self.notifier
            .send(&[Note::Status("running the shutdown callbacks")]);
        let callbacks = plan.run(When::Drained).await;
        self.books.phase_ended(ShutdownPhase::Callbacks, started);
        callbacks
    }

    /// A forced exit: logs what still runs, cuts it off, reports.
    async fn forced(&self) -> Report {
        let by = self
            .lifecycle
            .forced_by()
            .cloned()
            .unwrap_or(ForcedBy::Trigger(Trigger::Handle));
        tracing::error!(forced_by = %by, phase = ?self.lifecycle.phase(), "forced exit");
        self.books.log_still_running();
        self.cut_off().await;
        self.books.forced(by)
    }

    /// Moves to `CutOff`: every task still running is aborted (it ends
    /// at its next poll; one blocking its thread never does, and is reported
    /// as abandoned), every upgraded connection is cut off. Waits for them
    /// for [`ABORT_WAIT`] at most.
    async fn cut_off(&self) {
        self.lifecycle.advance(Phase::CutOff);
        let servers = self.books.servers();
        for server in servers {
            server.cut_upgraded(Cut::DrainDeadline);
            server.tasks.close();
        }
        let all = async {
            for server in servers {
                server.tasks.wait().await;
            }
        };
        let _ = tokio::time::timeout(ABORT_WAIT, all).await;
    }

    /// Upgraded connections have a budget of their own, if set: a task that
    /// cuts them off at `upgrade_timeout` from the first trigger.
    fn upgrade_deadline(&self) -> Option<AbortOnDropHandle<()>> {
        let timeout = self.config.upgrade_timeout?;
        let at = self
            .lifecycle
            .first_trigger()
            .map_or_else(Instant::now, |(_, at)| at);
        let servers: Vec<Arc<ServerShared>> = self.books.servers().to_vec();
        Some(AbortOnDropHandle::new(tokio::spawn(async move {
            tokio::time::sleep_until((at + timeout).into()).await;
            for server in &servers {
                server.cut_upgraded(Cut::UpgradeDeadline);
            }
        })))
    }
}
