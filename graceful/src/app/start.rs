//! The start conductor: settings checked, the signal handlers installed,
//! the start-up hook run, every listener bound or adopted, then served, and
//! the service manager told; what it hands the shutdown is [`Running`].

use std::future::Future;
use std::sync::Arc;

use super::App;
use crate::app::books::Books;
use crate::app::shutdown::{Parts, Running};
use crate::config::{Config, Lookup, Named, Overrides};
use crate::error::{BoxError, Error};
use crate::lifecycle::Phase;
use crate::lifecycle::callbacks::{Callback, Plan};
use crate::lifecycle::handle::ShutdownHandle;
use crate::lifecycle::sentinel::{ForcedReport, Sentinel};
use crate::lifecycle::tasks::{Crew, Task, TaskFailure, TaskPlan};
use crate::serve::{self, Bound, Server, accounts::ServerShared};
use crate::system::restart::{Handed, Setup, Sharing};
use crate::system::supervision::Supervision;
use graceful_values::When;
use tokio::task::JoinHandle;

impl App {
    /// [`App::start`], with the environment and the start-up hook given.
    /// The hook need not be `Send`: it runs inside this future.
    pub(crate) async fn start_with<S>(
        self,
        env: Lookup<'_>,
        startup: Option<S>,
    ) -> Result<Running, Error>
    where
        S: Future<Output = Result<(), BoxError>>,
    {
        let lifecycle = Arc::clone(self.handle.lifecycle());
        let started = self.start_inner(env, startup).await;
        if started.is_err() {
            lifecycle.set_ready(Vec::new(), false);
        }
        started
    }

    /// The start, step by step: each step's failure fails the start, and
    /// `start_with` says so to whoever waits for it.
    async fn start_inner<S>(self, env: Lookup<'_>, startup: Option<S>) -> Result<Running, Error>
    where
        S: Future<Output = Result<(), BoxError>>,
    {
        let App {
            mut config,
            servers,
            callbacks,
            tasks,
            startup: _,
            report_hook,
            handle,
            sentinel,
            owns_process,
        } = self;
        let lifecycle = Arc::clone(handle.lifecycle());
        // 1. Everything that can be checked before anything starts.
        config.validate()?;
        config.apply_env(env)?;
        config.check_together()?;
        let named = Named {
            servers: servers.iter().map(Server::name).collect(),
            callbacks: callbacks.iter().map(Callback::name).collect(),
            tasks: tasks.iter().map(Task::name).collect(),
        };
        let overrides = Overrides::read(env, &named)?;
        let plan = Plan::new(callbacks, config.callback_timeout, &overrides)?;
        let task_plan = TaskPlan::new(tasks, config.task_timeout, &overrides)?;
        serve::validate(&servers)?;
        warn_of_budget(&config, &plan, &task_plan);
        // The recorder, before anything starts: a recorder of another kind
        // in the way fails the start here.
        #[cfg(feature = "metrics")]
        let metrics = super::metrics::Metrics::start(&config)?;

        // 2. The signal handlers: from here on, a signal goes through the
        // lifecycle.
        let sentinel = match sentinel {
            Some(sentinel) => sentinel,
            None => Sentinel::start(&config.signals, &config.restart_signals, &handle)?,
        };

        // 3. The start-up hook; a signal meanwhile ends the start.
        if let Some(startup) = startup {
            tokio::select! {
                result = startup => result.map_err(Error::Startup)?,
                () = lifecycle.begun() => {}
            }
        }

        // 4. Every listener bound or adopted, before any serves, then the
        // background tasks started, so that a handler never meets a task
        // that is not there yet; none if the shutdown began during the
        // start. A task that fails as it starts fails the start.
        let mut bound = Vec::new();
        let mut crew = None;
        #[cfg(feature = "prometheus")]
        let mut admin = None;
        if lifecycle.phase() == Phase::Running {
            bound = serve::bind_all(servers, &overrides, config.tls_limits()).await?;
            #[cfg(feature = "prometheus")]
            if let Some(addr) = &config.admin_addr {
                admin = Some(crate::serve::admin::bind(addr).await?);
            }
            let started = Crew::start(task_plan, &handle);
            started
                .arm()
                .await
                .map_err(|TaskFailure { task, error }| Error::Task { task, error })?;
            crew = Some(started);
        }
        let crew = Arc::new(crew.unwrap_or_else(|| Crew::start(TaskPlan::none(), &handle)));
        let during_startup = lifecycle.phase() != Phase::Running;
        if during_startup {
            // Never ready: release the listeners without serving.
            drop(bound);
            #[cfg(feature = "prometheus")]
            drop(admin.take());
            tracing::info!(
                during_startup = true,
                "shutdown requested during start-up; no server was started"
            );
            bound = Vec::new();
        }
        let handed = handed(&bound);

        // 5. Serving.
        let sharing = Arc::new(Sharing::default());
        let prepared = prepare_all(
            bound,
            &config,
            &handle,
            &sharing,
            #[cfg(feature = "prometheus")]
            metrics.exposition(),
        );
        let servers: Vec<Arc<ServerShared>> = prepared.iter().map(|(_, s)| Arc::clone(s)).collect();
        lifecycle.set_ready(
            servers
                .iter()
                .map(|s| (Arc::clone(&s.name), s.addr.clone()))
                .collect(),
            !during_startup,
        );
        let books = Arc::new(Books::new(
            Arc::clone(&lifecycle),
            servers,
            plan.ledger(),
            crew.ledger(),
            during_startup,
        ));
        // The metrics read the books from the first request on.
        #[cfg(feature = "metrics")]
        metrics.publish_from(&books);
        let accept_loops = serve_all(prepared);
        #[cfg(feature = "prometheus")]
        let admin = admin.map(|listener| {
            listener.serve(crate::serve::admin::Answers {
                health_path: config.health_path.as_deref().map(Box::from),
                metrics: metrics.exposition(),
                lifecycle: Arc::clone(&lifecycle),
            })
        });
        sentinel.arm(
            config.shutdown_timeout,
            Arc::clone(&books) as Arc<dyn ForcedReport>,
            owns_process,
        );

        // 6. The announcement: to the service manager, or to the
        // predecessor of a restart; then restarts are served.
        let serves = (!during_startup).then(|| {
            books
                .servers()
                .iter()
                .map(|s| (&*s.name, s.addr.to_string()))
        });
        let supervision = Supervision::start(
            &lifecycle,
            serves,
            Setup {
                listeners: handed,
                timeout: config.restart_timeout,
                sharing,
                asks: Arc::clone(handle.restarts()),
            },
        );
        Ok(Running::new(
            handle,
            books,
            Parts {
                accept_loops,
                tasks: crew,
                callbacks: plan,
                sentinel,
                config,
                report_hook,
                #[cfg(feature = "prometheus")]
                admin,
            },
            supervision,
        ))
    }
}

/// Warns when the shutdown's phases do not fit its global deadline. The
/// tasks told at the signal stop while the app drains; the others, after.
fn warn_of_budget(config: &Config, plan: &Plan, tasks: &TaskPlan) {
    let not_ready = config.pre_stop_delay.max(plan.budget(When::Signal));
    let serving = not_ready + config.drain_timeout;
    let budget = serving.max(tasks.budget(When::Signal))
        + tasks.budget(When::Drained)
        + plan.budget(When::Drained);
    if budget > config.shutdown_timeout {
        tracing::warn!(
            pre_stop_delay = ?config.pre_stop_delay,
            drain_timeout = ?config.drain_timeout,
            tasks_at_signal = ?tasks.budget(When::Signal),
            tasks_once_drained = ?tasks.budget(When::Drained),
            callbacks_at_signal = ?plan.budget(When::Signal),
            callbacks = ?plan.budget(When::Drained),
            shutdown_timeout = ?config.shutdown_timeout,
            "the shutdown budget exceeds shutdown_timeout: a slow shutdown would be forced mid-cleanup"
        );
    }
}

/// Each listener, for a restart's successor.
fn handed(bound: &[Bound]) -> Vec<Handed> {
    #[cfg(unix)]
    return bound
        .iter()
        .map(|b| Handed {
            name: Arc::clone(&b.name),
            fd: b.raw_fd(),
            managed: b.managed,
        })
        .collect();
    #[cfg(not(unix))]
    {
        let _ = bound;
        Vec::new()
    }
}

/// Each bound listener with its server's books, not yet serving.
fn prepare_all(
    bound: Vec<Bound>,
    config: &Config,
    handle: &ShutdownHandle,
    sharing: &Arc<Sharing>,
    #[cfg(feature = "prometheus")] metrics: Option<Arc<crate::serve::exposition::Exposition>>,
) -> Vec<(Bound, Arc<ServerShared>)> {
    let health_path: Option<Box<str>> = config.health_path.as_deref().map(Box::from);
    let mut prepared = Vec::with_capacity(bound.len());
    for b in bound {
        let mut shared = ServerShared::new(
            Arc::clone(&b.name),
            b.addr.clone(),
            Arc::clone(handle.lifecycle()),
            config.read_grace,
            config.header_grace,
            config.header_read_timeout,
            health_path.clone(),
        );
        shared.managed = b.managed;
        shared.sharing = Arc::clone(sharing);
        shared.restarts = Arc::clone(handle.restarts());
        shared.reloads = Arc::clone(handle.reloads());
        #[cfg(feature = "prometheus")]
        {
            shared.metrics = metrics.clone();
        }
        prepared.push((b, Arc::new(shared)));
    }
    prepared
}

/// Serves every prepared listener; returns each accept loop.
fn serve_all(prepared: Vec<(Bound, Arc<ServerShared>)>) -> Vec<JoinHandle<()>> {
    prepared
        .into_iter()
        .map(|(b, shared)| {
            match &b.inherited {
                Some(inherited) => {
                    tracing::info!(name = %b.name, addr = %b.addr, inherited = %inherited, "listening");
                }
                None => tracing::info!(name = %b.name, addr = %b.addr, "listening"),
            }
            b.serve(shared)
        })
        .collect()
}
