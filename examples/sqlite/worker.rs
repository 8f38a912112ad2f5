//! Run with: `cargo run -p graceful-examples-sqlite --example worker`, then
//! `curl -i -X POST 127.0.0.1:8091/jobs -d 'resize photo 7'` and Ctrl-C.
//!
//! Background work fed by the handlers. `POST /jobs` puts a job on a queue
//! and answers `202 Accepted` with its number; a background task, `consume`,
//! takes the jobs off the queue and commits them to SQLite in batches.
//!
//! The task is told to stop once every server has drained (`stop =
//! "drained"`, the default): by then every job a handler answered `202` for
//! is on the queue, so the task empties it, commits, and returns; nothing
//! accepted is left behind. A job whose body is `poison` makes the consumer
//! panic: the service then takes itself down (readiness answers `503` at
//! once, the requests in flight drain) and exits with code 5.
//!
//! Settings, from the environment:
//! - `WORKER_DB`: the database file (default `worker.sqlite3`);
//! - `WORKER_JOB_COST`: how long each job's work takes before it is
//!   committed (default `0ms`; with more, a backlog builds up on the queue);
//! - `GRACEFUL_TASK_TIMEOUT_CONSUME`: how long the consumer may take to
//!   stop (default 10 s, from the attribute).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use graceful::hyper::{Method, StatusCode};
use graceful::{Request, State, TaskContext};
use http_body_util::BodyExt;
use rusqlite::Connection;
use tokio::sync::mpsc;

/// Jobs committed in one transaction, at most.
const BATCH: usize = 256;

/// A job: its number and what to do.
struct Job {
    id: u64,
    body: String,
}

/// The queue between the handlers and the consumer, shared as
/// `State<Arc<Queue>>`.
struct Queue {
    sender: mpsc::Sender<Job>,
    /// Taken once, by the consumer.
    receiver: Mutex<Option<mpsc::Receiver<Job>>>,
    /// The next job's number.
    next: AtomicU64,
}

/// The database, shared as `State<Arc<Database>>`, and how long each job's
/// work takes.
struct Database {
    connection: Mutex<Connection>,
    job_cost: Duration,
}

impl Database {
    /// Commits `jobs` in one transaction, on the blocking pool.
    async fn commit(self: &Arc<Self>, jobs: Vec<Job>) -> Result<(), String> {
        // The jobs' work, before their results are committed.
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

#[graceful::server(name = "api", addr = "127.0.0.1:8091", path = "/jobs")]
async fn jobs(
    req: Request,
    State(queue): State<Arc<Queue>>,
) -> Result<(StatusCode, String), String> {
    if req.method() != Method::POST {
        return Ok((StatusCode::METHOD_NOT_ALLOWED, "POST a job\n".into()));
    }
    let body = req.into_body().collect().await.map_err(|e| e.to_string())?;
    let body = String::from_utf8(body.to_bytes().to_vec()).map_err(|e| e.to_string())?;
    let id = queue.next.fetch_add(1, Ordering::Relaxed);
    // On the queue before the answer: a `202` is a promise.
    match queue.sender.send(Job { id, body }).await {
        Ok(()) => Ok((StatusCode::ACCEPTED, format!("{id}\n"))),
        Err(_) => Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            "the worker is gone\n".into(),
        )),
    }
}

/// Takes jobs off the queue into the database until told to stop, then
/// empties the queue. At its timeout it says how many jobs it left.
#[graceful::task(timeout = "10s")]
async fn consume(
    ctx: TaskContext,
    State(queue): State<Arc<Queue>>,
    State(db): State<Arc<Database>>,
) -> Result<(), String> {
    let mut jobs = queue
        .receiver
        .lock()
        .map_err(|e| e.to_string())?
        .take()
        .ok_or("the queue has one consumer")?;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            biased;
            () = ctx.stopping() => break,
            taken = jobs.recv_many(&mut batch, BATCH) => if taken == 0 { break },
        }
        commit(&db, &mut batch).await?;
    }
    // Every server has drained: what was accepted is on the queue.
    jobs.close();
    while jobs.recv_many(&mut batch, BATCH).await > 0 {
        if ctx.is_cancelled() {
            return Err(format!("{} jobs not committed", batch.len() + jobs.len()));
        }
        commit(&db, &mut batch).await?;
    }
    Ok(())
}

/// Commits the batch and empties it; a poisoned job panics the consumer.
async fn commit(db: &Arc<Database>, batch: &mut Vec<Job>) -> Result<(), String> {
    if let Some(job) = batch.iter().find(|job| job.body == "poison") {
        panic!("job {} is poisoned", job.id);
    }
    db.commit(std::mem::take(batch)).await
}

#[graceful::main]
async fn main() -> Result<(), String> {
    let path = std::env::var("WORKER_DB").unwrap_or_else(|_| "worker.sqlite3".to_owned());
    let cost = std::env::var("WORKER_JOB_COST").unwrap_or_else(|_| "0ms".to_owned());
    let job_cost =
        graceful::config::parse_duration(&cost).map_err(|e| format!("WORKER_JOB_COST: {e}"))?;
    let db = Connection::open(&path).map_err(|e| format!("cannot open {path}: {e}"))?;
    db.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
    )
    .map_err(|e| format!("cannot prepare {path}: {e}"))?;
    let last: u64 = db
        .query_row("SELECT COALESCE(MAX(id), 0) FROM jobs", [], |row| {
            row.get(0)
        })
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    let (sender, receiver) = mpsc::channel(4 * BATCH);
    graceful::provide(Arc::new(Queue {
        sender,
        receiver: Mutex::new(Some(receiver)),
        next: AtomicU64::new(last + 1),
    }));
    graceful::provide(Arc::new(Database {
        connection: Mutex::new(db),
        job_cost,
    }));
    Ok(())
}
