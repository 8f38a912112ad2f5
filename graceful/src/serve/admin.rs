//! The admin server (`admin_addr`, the `prometheus` feature): the health
//! and metrics paths on a listener of their own, which the shutdown does not
//! drain. It answers from the start until the report is final, so that a
//! scrape sees the drain, the tasks and the callbacks to their end; then it
//! closes, its connections with it. It serves nothing else (`404`), and it
//! counts nothing: it is not one of the app's servers.

use std::convert::Infallible;
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::task::JoinSet;
use tokio_util::task::AbortOnDropHandle;

use super::answers;
use super::bind::resolve;
use super::exposition::Exposition;
use super::listen::Listener;
use super::response::Body;
use crate::addr::ListenAddr;
use crate::error::Error;
use crate::lifecycle::{Lifecycle, Phase};

/// The name the admin server goes by, in its errors and its log lines.
pub(crate) const ADMIN: &str = "admin";

/// The admin server's listener, bound with the others.
#[derive(Debug)]
pub(crate) struct AdminListener {
    listener: Listener,
    addr: ListenAddr,
}

/// What the admin server answers.
#[derive(Debug)]
pub(crate) struct Answers {
    pub(crate) health_path: Option<Box<str>>,
    pub(crate) metrics: Option<Arc<Exposition>>,
    pub(crate) lifecycle: Arc<Lifecycle>,
}

/// Binds the admin server's listener at `addr`.
pub(crate) async fn bind(addr: &str) -> Result<AdminListener, Error> {
    let failed = |addr: ListenAddr| {
        move |source| Error::Bind {
            server: ADMIN.to_owned(),
            addr,
            source,
        }
    };
    let wanted = resolve(addr)
        .await
        .map_err(failed(ListenAddr::Tcp(([0, 0, 0, 0], 0).into())))?;
    let listener = Listener::bind(&wanted)
        .await
        .map_err(failed(wanted.clone()))?;
    let addr = listener.local_addr().map_err(failed(wanted))?;
    Ok(AdminListener { listener, addr })
}

impl AdminListener {
    /// Serves `answers` until the returned handle is dropped.
    pub(crate) fn serve(self, answers: Answers) -> AbortOnDropHandle<()> {
        let AdminListener { listener, addr } = self;
        tracing::info!(name = ADMIN, addr = %addr, "listening");
        let answers = Arc::new(answers);
        AbortOnDropHandle::new(tokio::spawn(async move {
            // Dropped with this task: every connection ends with it.
            let mut connections = JoinSet::new();
            loop {
                let stream = match std::future::poll_fn(|cx| listener.poll_accept(cx)).await {
                    Ok(stream) => stream,
                    Err(err) => {
                        tracing::warn!(server = ADMIN, error = %err, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                while connections.try_join_next().is_some() {}
                let answers = Arc::clone(&answers);
                connections.spawn(async move {
                    let service = service_fn(move |req| {
                        let answer = answer(&answers, &req);
                        async move { Ok::<_, Infallible>(answer) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }))
    }
}

fn answer(answers: &Answers, req: &Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    if answers.health_path.as_deref() == Some(path) {
        let lifecycle = &answers.lifecycle;
        let ready = lifecycle.phase() == Phase::Running || lifecycle.is_handed_over();
        return answers::health(ready, false, |body| body);
    }
    if let Some(metrics) = answers.metrics.as_ref().filter(|m| &*m.path == path) {
        return answers::metrics(metrics.render(), false, |body| body);
    }
    let mut response = Response::new(Body::from("not found\n"));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}
