//! No acknowledged write is lost: clients write concurrently, the shutdown
//! arrives mid-stream, and after the exit the database holds exactly the
//! writes that were acknowledged. Run for SIGTERM, SIGINT and the
//! programmatic trigger; and with a flush timeout too short, the loss is
//! reported and the exit code says so.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use nix::sys::signal::Signal::{SIGINT, SIGTERM};
use support::{Fixture, JSON, Outcome, connect, send};
use tokio::sync::Notify;

const CLIENTS: usize = 16;
const WRITES_PER_CLIENT: usize = 400;
const ACKED_BEFORE_SHUTDOWN: usize = 1_500;

enum Trigger {
    Signal(nix::sys::signal::Signal),
    Endpoint,
}

/// Writes `k-<client>-<i>` = `v-<client>-<i>` until the server stops
/// answering; returns what was acknowledged.
async fn write_until_refused(
    addr: std::net::SocketAddr,
    client: usize,
    acked: Arc<Mutex<BTreeMap<String, String>>>,
    enough: Arc<Notify>,
) -> Vec<String> {
    let mut failed = Vec::new();
    let mut i = 0;
    'connections: while i < WRITES_PER_CLIENT {
        let Ok(mut sender) = connect(addr).await else {
            return failed;
        };
        while i < WRITES_PER_CLIENT {
            let (key, value) = (format!("k-{client}-{i}"), format!("v-{client}-{i}"));
            let body: &'static [u8] = Box::leak(value.clone().into_bytes().into_boxed_slice());
            match send(&mut sender, "PUT", &format!("/items/{key}"), body).await {
                Outcome::Answered(a) if a.status == 201 => {
                    let mut acked = acked.lock().unwrap();
                    acked.insert(key, value);
                    if acked.len() == ACKED_BEFORE_SHUTDOWN {
                        enough.notify_one();
                    }
                    i += 1;
                    if a.closes() {
                        continue 'connections;
                    }
                }
                Outcome::Answered(a) if a.status == 503 => continue 'connections,
                Outcome::NotSent => continue 'connections,
                Outcome::Answered(a) => {
                    failed.push(format!("unexpected answer to {key}: {a:?}"));
                    continue 'connections;
                }
                Outcome::Failed(err) => {
                    failed.push(format!("{key} failed dirty: {err}"));
                    continue 'connections;
                }
            }
        }
    }
    failed
}

fn rows(db: &Path) -> BTreeMap<String, String> {
    let db = rusqlite::Connection::open(db).expect("open the database");
    let mut query = db.prepare("SELECT key, value FROM items").unwrap();
    query
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Runs the example with the database in a fresh directory, logging JSON;
/// returns the exit code, the acknowledged writes, the rows, and the
/// exited example (its log and events).
async fn run(
    trigger: Trigger,
    env: &[(&str, &str)],
) -> (
    i32,
    BTreeMap<String, String>,
    BTreeMap<String, String>,
    Fixture,
) {
    let dir = std::env::temp_dir().join(format!(
        "graceful-write-behind-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("items.sqlite3");
    let db_text = db.to_string_lossy().into_owned();
    let mut all_env = vec![
        ("GRACEFUL_ADDR_API", "127.0.0.1:0"),
        ("WRITE_BEHIND_DB", db_text.as_str()),
        JSON,
    ];
    all_env.extend_from_slice(env);
    let mut app = Fixture::example("write_behind", &all_env);
    let addr = app.addr("api").await;

    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let enough = Arc::new(Notify::new());
    let enough_now = enough.notified();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            tokio::spawn(write_until_refused(
                addr,
                c,
                Arc::clone(&acked),
                Arc::clone(&enough),
            ))
        })
        .collect();
    tokio::time::timeout(support::PATIENCE, enough_now)
        .await
        .expect("writes flow");
    match trigger {
        Trigger::Signal(signal) => app.signal(signal),
        Trigger::Endpoint => {
            let mut sender = connect(addr).await.unwrap();
            assert!(
                matches!(send(&mut sender, "POST", "/admin/shutdown", b"").await, Outcome::Answered(a) if a.status == 202)
            );
        }
    }
    let mut failed = Vec::new();
    for client in clients {
        failed.extend(client.await.unwrap());
    }
    let (code, _) = app.exit().await;
    assert!(failed.is_empty(), "{failed:#?}\n{}", app.log());
    let acked = acked.lock().unwrap().clone();
    let rows = rows(&db);
    std::fs::remove_dir_all(&dir).ok();
    (code, acked, rows, app)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

async fn nothing_acknowledged_is_lost(trigger: Trigger) {
    let (code, acked, rows, app) = run(trigger, &[]).await;
    let log = app.log();
    eprintln!("{} writes acknowledged, {} rows", acked.len(), rows.len());
    assert_eq!(code, 0, "{log}");
    assert!(acked.len() >= ACKED_BEFORE_SHUTDOWN);
    assert_eq!(
        rows, acked,
        "the database holds exactly the acknowledged writes"
    );
    let close = app.callback_report("close_database");
    assert!(
        support::has(&close, &[("phase", "1"), ("outcome", "ok")]),
        "{close}; log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_on_sigterm() {
    nothing_acknowledged_is_lost(Trigger::Signal(SIGTERM)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_on_sigint() {
    nothing_acknowledged_is_lost(Trigger::Signal(SIGINT)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_on_the_programmatic_trigger() {
    nothing_acknowledged_is_lost(Trigger::Endpoint).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_that_runs_out_of_time_reports_what_it_lost() {
    let (code, acked, rows, app) = run(
        Trigger::Signal(SIGTERM),
        &[
            // No background flush, one item per transaction, and no time.
            ("WRITE_BEHIND_INTERVAL", "1h"),
            ("WRITE_BEHIND_BATCH", "1"),
            ("GRACEFUL_CALLBACK_TIMEOUT_FLUSH_CACHE", "1ms"),
        ],
    )
    .await;
    let log = app.log();
    assert_eq!(code, graceful::exit_code::CALLBACK_FAILED, "{log}");
    let lost = acked.len() - rows.len();
    assert!(lost > 0, "the flush should not have finished: {log}");
    let outcome = app.callback_report("flush_cache")["outcome"].clone();
    assert!(
        outcome.as_str().is_some_and(
            |outcome| outcome.starts_with(&format!("timed out: {lost} items not flushed ("))
        ),
        "the report says exactly what was lost ({} acknowledged, {} rows): {log}",
        acked.len(),
        rows.len()
    );
    assert!(
        rows.iter().all(|(k, v)| acked.get(k) == Some(v)),
        "what was written was acknowledged"
    );
}
