//! The worker example (`examples/sqlite/worker.rs`), run as a user would: a
//! handler that answers `202` for a job put on a queue, and a background
//! task that commits the queue to SQLite. Sixteen clients post jobs, the
//! SIGTERM arrives mid-stream, and after the exit every job that was
//! answered `202` is in the database. A poisoned job panics the consumer:
//! the service takes itself down, readiness first, and exits with code 5.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nix::sys::signal::Signal::SIGTERM;
use support::{Fixture, JSON, Outcome, connect, get, has, send};
use tokio::sync::Notify;

const CLIENTS: usize = 16;
const JOBS_PER_CLIENT: usize = 400;
const ACCEPTED_BEFORE_SIGTERM: usize = 1_500;

/// A fresh directory for one run's database.
fn fresh_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "graceful-worker-{name}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// The worker, with its database at `db`.
fn worker(db: &Path, env: &[(&str, &str)]) -> Fixture {
    let db = db.to_str().expect("a UTF-8 temporary path");
    let mut all = vec![
        ("GRACEFUL_ADDR_API", "127.0.0.1:0"),
        ("WORKER_DB", db),
        JSON,
    ];
    all.extend_from_slice(env);
    Fixture::example("worker", &all)
}

/// The numbers of the jobs in the database.
fn committed(db: &Path) -> BTreeSet<u64> {
    let db = rusqlite::Connection::open(db).expect("open the database");
    let mut query = db.prepare("SELECT id FROM jobs").expect("the jobs table");
    query
        .query_map([], |row| row.get(0))
        .expect("read the jobs")
        .collect::<Result<_, _>>()
        .expect("every id")
}

/// Posts jobs until the server stops answering; records the numbers that
/// were answered `202`, and returns what went wrong.
async fn post_until_refused(
    addr: std::net::SocketAddr,
    client: usize,
    accepted: Arc<Mutex<BTreeSet<u64>>>,
    enough: Arc<Notify>,
) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut i = 0;
    'connections: while i < JOBS_PER_CLIENT {
        let Ok(mut sender) = connect(addr).await else {
            return wrong;
        };
        while i < JOBS_PER_CLIENT {
            let body: &'static [u8] = Box::leak(
                format!("job {i} of client {client}")
                    .into_bytes()
                    .into_boxed_slice(),
            );
            match send(&mut sender, "POST", "/jobs", body).await {
                Outcome::Answered(a) if a.status == 202 => {
                    let Ok(id) = a.text().trim().parse::<u64>() else {
                        wrong.push(format!("a 202 without a job number: {a:?}"));
                        continue 'connections;
                    };
                    let mut accepted = accepted.lock().expect("the accepted set");
                    accepted.insert(id);
                    if accepted.len() == ACCEPTED_BEFORE_SIGTERM {
                        enough.notify_one();
                    }
                    i += 1;
                    if a.closes() {
                        continue 'connections;
                    }
                }
                // Refused before it was processed: clean.
                Outcome::Answered(a) if a.status == 503 => continue 'connections,
                Outcome::NotSent => continue 'connections,
                Outcome::Answered(a) => {
                    wrong.push(format!("unexpected answer: {a:?}"));
                    continue 'connections;
                }
                Outcome::Failed(err) => {
                    wrong.push(format!("a job failed dirty: {err}"));
                    continue 'connections;
                }
            }
        }
    }
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_answered_202_is_in_the_database_after_a_sigterm_mid_stream() {
    let dir = fresh_dir("sigterm");
    let db = dir.join("jobs.sqlite3");
    // Each job's work takes long enough that a backlog is queued at the
    // SIGTERM: the consumer must empty the queue before it returns.
    let mut app = worker(&db, &[("WORKER_JOB_COST", "200us")]);
    let addr = app.addr("api").await;

    let accepted = Arc::new(Mutex::new(BTreeSet::new()));
    let enough = Arc::new(Notify::new());
    let enough_now = enough.notified();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            tokio::spawn(post_until_refused(
                addr,
                c,
                Arc::clone(&accepted),
                Arc::clone(&enough),
            ))
        })
        .collect();
    tokio::time::timeout(support::PATIENCE, enough_now)
        .await
        .expect("jobs flow");
    app.signal(SIGTERM);
    let mut wrong = Vec::new();
    for client in clients {
        wrong.extend(client.await.expect("a client"));
    }
    let (code, _) = app.exit().await;
    let log = app.log();
    assert!(wrong.is_empty(), "{wrong:#?}\n{log}");
    assert_eq!(code, 0, "{log}");
    let accepted = accepted.lock().expect("the accepted set").clone();
    let committed = committed(&db);
    std::fs::remove_dir_all(&dir).ok();
    eprintln!(
        "{} jobs accepted, {} committed",
        accepted.len(),
        committed.len()
    );
    let lost: Vec<_> = accepted.difference(&committed).collect();
    assert!(
        lost.is_empty(),
        "jobs answered 202 and not committed: {lost:?}"
    );
    // The consumer was told once the servers had drained, and stopped.
    let consume = app.task_report("consume");
    assert!(
        has(&consume, &[("stop", "drained"), ("outcome", "stopped")]),
        "{consume}; log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_job_panics_the_consumer_and_takes_the_service_down_with_exit_code_5() {
    let dir = fresh_dir("poison");
    let db = dir.join("jobs.sqlite3");
    let mut app = worker(
        &db,
        &[
            ("GRACEFUL_HEALTH_PATH", "/healthz"),
            ("GRACEFUL_PRE_STOP_DELAY", "2s"),
        ],
    );
    let addr = app.addr("api").await;
    assert_eq!(get(addr, "/healthz").await.status, 200);
    let mut sender = connect(addr).await.expect("connect");
    let poisoned = send(&mut sender, "POST", "/jobs", b"poison").await;
    assert!(
        matches!(&poisoned, Outcome::Answered(a) if a.status == 202),
        "{poisoned:?}"
    );
    // The consumer's panic starts the shutdown: not ready at once.
    let trigger = app.wait_for_event_with(&["trigger"]).await;
    assert_eq!(get(addr, "/healthz").await.status, 503, "{}", app.log());
    let (code, _) = app.exit().await;
    std::fs::remove_dir_all(&dir).ok();
    let log = app.log();
    assert_eq!(code, graceful::exit_code::APP_FAILED.code(), "{log}");
    let trigger = trigger["trigger"].as_str().unwrap_or_default().to_owned();
    assert!(
        trigger.starts_with("task consume failed: job ") && trigger.ends_with(" is poisoned"),
        "{trigger}; log:\n{log}"
    );
    let consume = app.task_report("consume");
    assert!(has(&consume, &[("outcome", "panicked")]), "{consume}");
}
