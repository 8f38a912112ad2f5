//! The app's settings, as builder methods: one for each setting of the one
//! description (`graceful_values::settings`), which says its variable and
//! its default.

use std::time::Duration;

use graceful_values::settings::{self, Value};

use super::App;
use crate::lifecycle::signals::Signal;

impl App {
    /// The global deadline, from the first signal to a forced exit with
    /// code 1. Default 30 s; `GRACEFUL_SHUTDOWN_TIMEOUT`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().shutdown_timeout(Duration::from_secs(45));
    /// # drop(app);
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config
            .set(&settings::SHUTDOWN_TIMEOUT, Value::Duration(timeout));
        self
    }

    /// How long in-flight requests may take to finish once the listeners are
    /// closed; then they are cut off. Default 10 s; `GRACEFUL_DRAIN_TIMEOUT`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().drain_timeout(Duration::from_secs(20));
    /// # drop(app);
    /// ```
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.config
            .set(&settings::DRAIN_TIMEOUT, Value::Duration(timeout));
        self
    }

    /// The timeout of callbacks that set none. Default 3 s;
    /// `GRACEFUL_CALLBACK_TIMEOUT`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().callback_timeout(Duration::from_secs(5));
    /// # drop(app);
    /// ```
    pub fn callback_timeout(mut self, timeout: Duration) -> Self {
        self.config
            .set(&settings::CALLBACK_TIMEOUT, Value::Duration(timeout));
        self
    }

    /// The stop budget of background tasks that set none: how long a task
    /// may take to return once told to stop, before its context is
    /// cancelled (then it has [`CALLBACK_WIND_DOWN`](crate::CALLBACK_WIND_DOWN)
    /// before it is aborted). Default 5 s; `GRACEFUL_TASK_TIMEOUT`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().task_timeout(Duration::from_secs(10));
    /// # drop(app);
    /// ```
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.config
            .set(&settings::TASK_TIMEOUT, Value::Duration(timeout));
        self
    }

    /// How long to keep accepting and serving after the signal while the
    /// health endpoint already answers 503, so load balancers stop sending
    /// traffic first (the Kubernetes endpoint-removal race). Responses carry
    /// `Connection: close` meanwhile. Default 0; `GRACEFUL_PRE_STOP_DELAY`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().pre_stop_delay(Duration::from_secs(5));
    /// # drop(app);
    /// ```
    pub fn pre_stop_delay(mut self, delay: Duration) -> Self {
        self.config
            .set(&settings::PRE_STOP_DELAY, Value::Duration(delay));
        self
    }

    /// How long an HTTP/1 keep-alive connection that was just active may
    /// still deliver a request once the shutdown has begun. A request already
    /// on its way is served (with `Connection: close`) instead of meeting a
    /// closed socket. Default 100 ms; `GRACEFUL_READ_GRACE`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().read_grace(Duration::from_millis(250));
    /// # drop(app);
    /// ```
    pub fn read_grace(mut self, grace: Duration) -> Self {
        self.config
            .set(&settings::READ_GRACE, Value::Duration(grace));
        self
    }

    /// How long a connection asked to close may take to send a complete
    /// request before it is dropped: one that never sends anything, or sends
    /// its headers a byte at a time, cannot hold the drain open. Default 1 s;
    /// `GRACEFUL_HEADER_GRACE`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().header_grace(Duration::from_millis(500));
    /// # drop(app);
    /// ```
    pub fn header_grace(mut self, grace: Duration) -> Self {
        self.config
            .set(&settings::HEADER_GRACE, Value::Duration(grace));
        self
    }

    /// How long a new connection may take, while serving, to send its first
    /// complete request head: a client that connects and sends nothing, or
    /// trickles its headers, is disconnected. An idle keep-alive connection
    /// between requests is not timed: its client closes it (closing it under
    /// a load balancer's own idle timeout would race its next request).
    /// Zero turns it off. Default 30 s; `GRACEFUL_HEADER_READ_TIMEOUT`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().header_read_timeout(Duration::from_secs(10));
    /// # drop(app);
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config
            .set(&settings::HEADER_READ_TIMEOUT, Value::Duration(timeout));
        self
    }

    /// How long upgraded connections (WebSocket and the like) may stay open
    /// once the shutdown begins, counted from the first signal: they are
    /// told at once (the upgrade request carries the [`ShutdownHandle`](crate::ShutdownHandle)),
    /// and cut off at this deadline even while requests still drain.
    /// Default: the drain deadline, which they then share;
    /// `GRACEFUL_UPGRADE_TIMEOUT`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().upgrade_timeout(Duration::from_secs(2));
    /// # drop(app);
    /// ```
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.config
            .set(&settings::UPGRADE_TIMEOUT, Value::Duration(timeout));
        self
    }

    /// How long a client of a TLS server may take to finish its handshake,
    /// counted from its accept; one that has not is closed, so that silent
    /// clients cannot hold connections open. Default 10 s;
    /// `GRACEFUL_TLS_HANDSHAKE_TIMEOUT`. Without the `tls` feature, nothing
    /// reads it.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().tls_handshake_timeout(Duration::from_secs(5));
    /// # drop(app);
    /// ```
    pub fn tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config
            .set(&settings::TLS_HANDSHAKE_TIMEOUT, Value::Duration(timeout));
        self
    }

    /// How many TLS handshakes a server carries at once. A connection
    /// accepted while that many are under way is closed at once, without a
    /// handshake, and counted (`tls_handshakes_shed`): a flood of clients
    /// that never finish their handshake can hold neither the memory nor
    /// the accept loop, and clients that do finish free their place within
    /// a round trip or two. Default 1024; `GRACEFUL_TLS_MAX_HANDSHAKES`.
    /// Zero fails the start. Without the `tls` feature, nothing reads it.
    ///
    /// ```
    /// let app = graceful::App::new().tls_max_handshakes(256);
    /// # drop(app);
    /// ```
    pub fn tls_max_handshakes(mut self, max: u32) -> Self {
        self.config
            .set(&settings::TLS_MAX_HANDSHAKES, Value::Count(max));
        self
    }

    /// How often the drain logs what is still in flight. Default 1 s;
    /// `GRACEFUL_PROGRESS_INTERVAL`. Zero fails the start.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().progress_interval(Duration::from_millis(500));
    /// # drop(app);
    /// ```
    pub fn progress_interval(mut self, interval: Duration) -> Self {
        self.config
            .set(&settings::PROGRESS_INTERVAL, Value::Duration(interval));
        self
    }

    /// The signals that start the shutdown (a second one forces the exit).
    /// Default `TERM,INT,QUIT,HUP`; `GRACEFUL_SIGNALS`.
    ///
    /// ```
    /// use graceful::Signal;
    /// let app = graceful::App::new().signals([Signal::Term, Signal::Int]);
    /// # drop(app);
    /// ```
    pub fn signals(mut self, signals: impl IntoIterator<Item = Signal>) -> Self {
        self.config.set(
            &settings::SIGNALS,
            Value::Signals(signals.into_iter().collect()),
        );
        self
    }

    /// The signals that restart by handing the listeners over to a
    /// successor (see [`ShutdownHandle::restart`](crate::ShutdownHandle::restart)); none may also start the
    /// shutdown. Default `USR2`; `GRACEFUL_RESTART_SIGNALS`.
    ///
    /// ```
    /// use graceful::Signal;
    /// let app = graceful::App::new().restart_signals([Signal::Usr1]);
    /// # drop(app);
    /// ```
    pub fn restart_signals(mut self, signals: impl IntoIterator<Item = Signal>) -> Self {
        self.config.set(
            &settings::RESTART_SIGNALS,
            Value::Signals(signals.into_iter().collect()),
        );
        self
    }

    /// How long a restart's successor may take to serve before it is
    /// killed and this process keeps serving. Default 30 s;
    /// `GRACEFUL_RESTART_TIMEOUT`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let app = graceful::App::new().restart_timeout(Duration::from_secs(60));
    /// # drop(app);
    /// ```
    pub fn restart_timeout(mut self, timeout: Duration) -> Self {
        self.config
            .set(&settings::RESTART_TIMEOUT, Value::Duration(timeout));
        self
    }

    /// Serves a health endpoint at `path` on every server: `200` while
    /// running, `503` from the first signal on. Health requests are not
    /// counted. Default none; `GRACEFUL_HEALTH_PATH` (empty turns it off).
    /// The path starts with `/`: another is refused at the start
    /// ([`Error::Setting`](crate::Error::Setting), exit code 2), as the
    /// attribute and the environment refuse it.
    ///
    /// ```
    /// let app = graceful::App::new().health_path("/healthz");
    /// # drop(app);
    /// ```
    pub fn health_path(mut self, path: impl Into<String>) -> Self {
        self.config
            .set(&settings::HEALTH_PATH, Value::Path(path.into()));
        self
    }

    /// Serves the metrics in Prometheus' text format at `path` on every
    /// server, through the pre-stop window (the `graceful::metrics` module
    /// says what is measured). Once the listeners close, only a connection
    /// still open can ask; an [`admin_addr`](App::admin_addr) server
    /// answers until the report is final. Needs the `prometheus` feature: without it, a
    /// metrics path is a start-up error ([`Error::Setting`](crate::Error::Setting),
    /// exit code 2). Scrapes are not counted as requests. Default none;
    /// `GRACEFUL_METRICS_PATH` (empty turns it off).
    ///
    /// ```
    /// let app = graceful::App::new().metrics_path("/metrics");
    /// # drop(app);
    /// ```
    pub fn metrics_path(mut self, path: impl Into<String>) -> Self {
        self.config
            .set(&settings::METRICS_PATH, Value::Path(path.into()));
        self
    }

    /// Starts an admin server at `addr` that answers the health and metrics
    /// paths, and nothing else, from the start until the report is final:
    /// it is not drained with the others, so a scrape sees the drain, the
    /// tasks and the callbacks to their end. Needs the `prometheus` feature
    /// and a health or metrics path; an address that cannot be bound fails
    /// the start (exit code 2), as any server's does. Default none;
    /// `GRACEFUL_ADMIN_ADDR` (empty turns it off).
    ///
    /// ```
    /// let app = graceful::App::new()
    ///     .metrics_path("/metrics")
    ///     .admin_addr("127.0.0.1:9090");
    /// # drop(app);
    /// ```
    pub fn admin_addr(mut self, addr: impl Into<String>) -> Self {
        self.config
            .set(&settings::ADMIN_ADDR, Value::Addr(addr.into()));
        self
    }
}

#[cfg(test)]
mod tests {
    use crate::{App, Error, Server};
    use hyper::service::service_fn;

    fn app() -> App {
        App::new().server(Server::new(
            "api",
            "127.0.0.1:0",
            service_fn(|_req: crate::Request| async {
                Ok::<_, std::convert::Infallible>(hyper::Response::new(String::new()))
            }),
        ))
    }

    /// The builder judges a health path as the attribute and the
    /// environment do: one without its `/` is refused, not repaired.
    #[tokio::test]
    async fn a_health_path_without_its_slash_is_refused_as_everywhere() {
        let err = app()
            .health_path("healthz")
            .start()
            .await
            .expect_err("refused");
        let Error::Setting { setting, reason } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(setting, "health_path");
        assert_eq!(
            Err(reason.clone()),
            graceful_values::settings::parse_path("healthz")
        );
        let env = |var: &str| (var == "GRACEFUL_HEALTH_PATH").then(|| "healthz".to_owned());
        let from_env = app()
            .start_with(&env, None::<NoHook>)
            .await
            .expect_err("refused");
        assert!(from_env.to_string().contains(reason.as_str()), "{from_env}");
    }

    type NoHook = std::future::Ready<Result<(), crate::error::BoxError>>;
}
