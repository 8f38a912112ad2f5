//! Run with: `cargo run --release -p graceful-bench --bin worker-tgs`, then
//! `curl -i -X POST 127.0.0.1:8092/jobs -d 'resize photo 7'` and Ctrl-C.
//!
//! The worker of `examples/sqlite/worker.rs` written with
//! tokio-graceful-shutdown's subsystems and hyper, the way that crate's own
//! hyper example serves (a listener subsystem, connections on a
//! `TaskTracker`, each told to shut down gracefully), and with the consumer
//! stopped after the HTTP subsystem as its sequential-shutdown example
//! orders subsystems: the careful version, for the side-by-side in the
//! README (`cargo run --release -p graceful-bench -- worker`).
//!
//! The same settings as the example: `WORKER_DB`, `WORKER_JOB_COST`, and
//! `WORKER_ADDR` (default `127.0.0.1:8092`).

use std::convert::Infallible;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use miette::{IntoDiagnostic, Result};
use rusqlite::Connection;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_graceful_shutdown::errors::CancelledByShutdown;
use tokio_graceful_shutdown::{
    FutureExt, SubsystemBuilder, SubsystemFinishedFuture, SubsystemHandle, Toplevel,
};
use tokio_util::task::TaskTracker;

/// Jobs committed in one transaction, at most.
const BATCH: usize = 256;

/// A job: its number and what to do.
struct Job {
    id: u64,
    body: String,
}

/// The database, and how long each job's work takes.
struct Database {
    connection: Mutex<Connection>,
    job_cost: Duration,
}

impl Database {
    /// Commits `jobs` in one transaction, on the blocking pool.
    async fn commit(self: &Arc<Self>, jobs: Vec<Job>) -> Result<(), String> {
        let jobs_count = u32::try_from(jobs.len()).unwrap_or(u32::MAX);
        tokio::time::sleep(self.job_cost.saturating_mul(jobs_count)).await;
        let db = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut db = db.connection.lock().map_err(|e| e.to_string())?;
            let tx = db.transaction().map_err(|e| e.to_string())?;
            for job in &jobs {
                tx.execute(
                    "INSERT INTO jobs (id, body) VALUES (?1, ?2)",
                    rusqlite::params![job.id, job.body],
                )
                .map_err(|e| e.to_string())?;
            }
            tx.commit().map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

/// The queue's sending side and the next job's number, for the handler.
#[derive(Clone)]
struct Queue {
    sender: mpsc::Sender<Job>,
    next: Arc<AtomicU64>,
}

fn answer(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
}

async fn jobs(
    req: Request<hyper::body::Incoming>,
    queue: Queue,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() != "/jobs" || req.method() != Method::POST {
        return Ok(answer(StatusCode::NOT_FOUND, "POST /jobs\n".into()));
    }
    let Ok(body) = req.into_body().collect().await else {
        return Ok(answer(StatusCode::BAD_REQUEST, "a body, please\n".into()));
    };
    let Ok(body) = String::from_utf8(body.to_bytes().to_vec()) else {
        return Ok(answer(StatusCode::BAD_REQUEST, "UTF-8, please\n".into()));
    };
    let id = queue.next.fetch_add(1, Ordering::Relaxed);
    // On the queue before the answer: a `202` is a promise.
    Ok(match queue.sender.send(Job { id, body }).await {
        Ok(()) => answer(StatusCode::ACCEPTED, format!("{id}\n")),
        Err(_) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "the worker is gone\n".into(),
        ),
    })
}

/// Accepts until the shutdown, then waits for every connection, each told
/// to finish its request in flight and close.
async fn http(subsys: &mut SubsystemHandle, listener: TcpListener, queue: Queue) -> Result<()> {
    let connections = TaskTracker::new();
    loop {
        let (tcp, _) = match listener.accept().cancel_on_shutdown(subsys).await {
            Ok(accepted) => accepted.into_diagnostic()?,
            Err(CancelledByShutdown) => break,
        };
        let stop = subsys.create_cancellation_token();
        let queue = queue.clone();
        connections.spawn(async move {
            let service = service_fn(move |req| jobs(req, queue.clone()));
            let mut connection =
                pin!(http1::Builder::new().serve_connection(TokioIo::new(tcp), service));
            let _ = tokio::select! {
                served = connection.as_mut() => served,
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// Takes jobs off the queue into the database; once the shutdown is asked
/// for and the HTTP subsystem has finished, empties the queue.
async fn consume(
    subsys: &mut SubsystemHandle,
    mut jobs: mpsc::Receiver<Job>,
    db: Arc<Database>,
    http_finished: SubsystemFinishedFuture,
) -> Result<()> {
    let asked = subsys.create_cancellation_token();
    let mut stop = pin!(async move {
        tokio::join!(asked.cancelled(), http_finished);
    });
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            taken = jobs.recv_many(&mut batch, BATCH) => if taken == 0 { break },
        }
        commit(&db, &mut batch).await?;
    }
    jobs.close();
    while jobs.recv_many(&mut batch, BATCH).await > 0 {
        commit(&db, &mut batch).await?;
    }
    Ok(())
}

/// Commits the batch and empties it; a poisoned job panics the consumer.
async fn commit(db: &Arc<Database>, batch: &mut Vec<Job>) -> Result<()> {
    if let Some(job) = batch.iter().find(|job| job.body == "poison") {
        panic!("job {} is poisoned", job.id);
    }
    db.commit(std::mem::take(batch))
        .await
        .map_err(|e| miette::miette!("{e}"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let path = std::env::var("WORKER_DB").unwrap_or_else(|_| "worker.sqlite3".to_owned());
    let cost = std::env::var("WORKER_JOB_COST").unwrap_or_else(|_| "0ms".to_owned());
    let job_cost = graceful::config::parse_duration(&cost).map_err(|e| miette::miette!("{e}"))?;
    let addr = std::env::var("WORKER_ADDR").unwrap_or_else(|_| "127.0.0.1:8092".to_owned());
    let db = Connection::open(&path).into_diagnostic()?;
    db.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
    )
    .into_diagnostic()?;
    let last: u64 = db
        .query_row("SELECT COALESCE(MAX(id), 0) FROM jobs", [], |row| {
            row.get(0)
        })
        .into_diagnostic()?;
    let db = Arc::new(Database {
        connection: Mutex::new(db),
        job_cost,
    });
    let listener = TcpListener::bind(&addr).await.into_diagnostic()?;
    eprintln!(
        "listening addr={}",
        listener.local_addr().into_diagnostic()?
    );
    let (sender, receiver) = mpsc::channel(4 * BATCH);
    let queue = Queue {
        sender,
        next: Arc::new(AtomicU64::new(last + 1)),
    };
    Toplevel::new(async move |s: &mut SubsystemHandle| {
        let http = s.start(SubsystemBuilder::new(
            "http",
            async move |s: &mut SubsystemHandle| http(s, listener, queue).await,
        ));
        let http_finished = http.finished();
        s.start(SubsystemBuilder::new(
            "consume",
            async move |s: &mut SubsystemHandle| consume(s, receiver, db, http_finished).await,
        ));
    })
    .catch_signals()
    .handle_shutdown_requests(Duration::from_secs(10))
    .await
    .map_err(Into::into)
}
