//! Run with: `cargo run --example write_behind`, then
//! `curl -X PUT 127.0.0.1:8090/items/a -d hello`, `curl 127.0.0.1:8090/items/a`, and Ctrl-C.
//!
//! State that must survive a shutdown: writes are acknowledged into an
//! in-memory cache and flushed to SQLite behind the client's back, in the
//! background and, at shutdown, by a phase-0 callback once every request has
//! drained. A phase-1 callback then checkpoints the write-ahead log and
//! closes the database. An item leaves the cache only once its transaction
//! has committed, so an acknowledged write is never lost silently: if the
//! flush runs out of time, the report says how many items were not flushed
//! and the exit code is non-zero.
//!
//! Settings, from the environment:
//! - `WRITE_BEHIND_DB`: the database file (default `write-behind.sqlite3`);
//! - `WRITE_BEHIND_INTERVAL`: how often the background flush runs (default `100ms`);
//! - `WRITE_BEHIND_BATCH`: items per transaction (default 500);
//! - `GRACEFUL_CALLBACK_TIMEOUT_FLUSH_CACHE`: the final flush's timeout (default 5 s).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use graceful::hyper::{Method, StatusCode};
use graceful::{Request, ShutdownContext, ShutdownHandle};
use http_body_util::BodyExt;
use rusqlite::Connection;

/// Acknowledged writes not yet committed: key -> (value, version).
static PENDING: Mutex<Option<HashMap<String, (String, u64)>>> = Mutex::new(None);
/// The database; `None` once closed.
static DB: OnceLock<Mutex<Option<Connection>>> = OnceLock::new();
static BATCH: OnceLock<usize> = OnceLock::new();

fn pending<T>(f: impl FnOnce(&mut HashMap<String, (String, u64)>) -> T) -> T {
    let mut guard = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(HashMap::new))
}

#[graceful::server(name = "api", addr = "127.0.0.1:8090", path = "/items/")]
async fn items(req: Request) -> Result<(StatusCode, String), String> {
    let key = req.uri().path().trim_start_matches("/items/").to_owned();
    if key.is_empty() {
        return Ok((StatusCode::BAD_REQUEST, "a key, please\n".into()));
    }
    match *req.method() {
        Method::PUT => {
            let body = req.into_body().collect().await.map_err(|e| e.to_string())?;
            let value = String::from_utf8(body.to_bytes().to_vec()).map_err(|e| e.to_string())?;
            pending(|p| {
                let version = p.get(&key).map_or(0, |(_, v)| v + 1);
                p.insert(key, (value, version));
            });
            Ok((StatusCode::CREATED, "stored\n".into()))
        }
        Method::GET => {
            if let Some((value, _)) = pending(|p| p.get(&key).cloned()) {
                return Ok((StatusCode::OK, value));
            }
            let value = tokio::task::spawn_blocking(move || read(&key))
                .await
                .map_err(|e| e.to_string())??;
            Ok(match value {
                Some(value) => (StatusCode::OK, value),
                None => (StatusCode::NOT_FOUND, "no such item\n".into()),
            })
        }
        _ => Ok((StatusCode::METHOD_NOT_ALLOWED, "PUT or GET\n".into())),
    }
}

/// Starts the same shutdown as a signal: for operators, and for the tests.
#[graceful::server(name = "api", path = "/admin/shutdown")]
async fn admin_shutdown(_req: Request, shutdown: ShutdownHandle) -> StatusCode {
    shutdown.shutdown();
    StatusCode::ACCEPTED
}

fn read(key: &str) -> Result<Option<String>, String> {
    let db = DB
        .get()
        .ok_or("no database")?
        .lock()
        .map_err(|e| e.to_string())?;
    let db = db.as_ref().ok_or("the database is closed")?;
    db.query_row("SELECT value FROM items WHERE key = ?1", [key], |row| {
        row.get(0)
    })
    .map(Some)
    .or_else(|err| match err {
        rusqlite::Error::QueryReturnedNoRows => Ok(None),
        err => Err(err.to_string()),
    })
}

/// Commits up to one batch of pending items; removes from the cache only
/// what committed (and was not overwritten meanwhile). Returns how many.
fn flush_batch() -> Result<usize, String> {
    let mut db = DB
        .get()
        .ok_or("no database")?
        .lock()
        .map_err(|e| e.to_string())?;
    let db = db.as_mut().ok_or("the database is closed")?;
    let batch: Vec<(String, String, u64)> = pending(|p| {
        p.iter()
            .take(*BATCH.get().unwrap_or(&500))
            .map(|(k, (v, version))| (k.clone(), v.clone(), *version))
            .collect()
    });
    if batch.is_empty() {
        return Ok(0);
    }
    let tx = db.transaction().map_err(|e| e.to_string())?;
    for (key, value, _) in &batch {
        tx.execute(
            "INSERT INTO items (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )
        .map_err(|e| e.to_string())?;
    }
    tx.commit().map_err(|e| e.to_string())?;
    pending(|p| {
        for (key, _, version) in &batch {
            if p.get(key).is_some_and(|(_, v)| v == version) {
                p.remove(key);
            }
        }
    });
    Ok(batch.len())
}

async fn flush_some() -> Result<usize, String> {
    tokio::task::spawn_blocking(flush_batch)
        .await
        .map_err(|e| e.to_string())?
}

/// The final flush, after every request has drained: batch by batch until
/// the cache is empty or the timeout fires. A batch in progress completes
/// (the callback has a short wind-down for it), so the count is exact.
#[graceful::on_shutdown(name = "flush_cache", phase = 0, timeout = "5s")]
async fn flush_cache(ctx: ShutdownContext) -> Result<(), String> {
    let mut flushed = 0;
    loop {
        let left = pending(|p| p.len());
        if left == 0 {
            tracing::info!(flushed, "cache flushed");
            return Ok(());
        }
        if ctx.is_cancelled() {
            return Err(format!(
                "{left} items not flushed ({flushed} flushed in time)"
            ));
        }
        flushed += flush_some().await?;
    }
}

/// Checkpoints the write-ahead log into the database file and closes it.
#[graceful::on_shutdown(name = "close_database", phase = 1, timeout = "5s")]
async fn close_database() -> Result<(), String> {
    tokio::task::spawn_blocking(|| {
        let db = DB
            .get()
            .ok_or("no database")?
            .lock()
            .map_err(|e| e.to_string())?
            .take();
        let db = db.ok_or("the database was already closed")?;
        db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| e.to_string())?;
        db.close().map_err(|(_, e)| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

fn setting(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

#[graceful::main]
async fn main() -> Result<(), String> {
    let path = setting("WRITE_BEHIND_DB", "write-behind.sqlite3");
    let interval = graceful::config::parse_duration(&setting("WRITE_BEHIND_INTERVAL", "100ms"))?;
    let batch = setting("WRITE_BEHIND_BATCH", "500")
        .parse()
        .map_err(|e| format!("WRITE_BEHIND_BATCH: {e}"))?;
    BATCH.get_or_init(|| batch);

    let db = Connection::open(&path).map_err(|e| format!("cannot open {path}: {e}"))?;
    db.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         CREATE TABLE IF NOT EXISTS items (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    )
    .map_err(|e| format!("cannot prepare {path}: {e}"))?;
    DB.get_or_init(|| Mutex::new(Some(db)));

    // The background flush, until the shutdown begins; the final flush is the callback's.
    tokio::spawn(async move {
        let shutdown = graceful::shutdown_handle();
        let mut ticks = tokio::time::interval(interval);
        loop {
            tokio::select! {
                () = shutdown.shutting_down() => break,
                _ = ticks.tick() => {
                    if let Err(err) = flush_some().await {
                        tracing::error!(error = %err, "background flush failed");
                    }
                }
            }
        }
    });
    Ok(())
}
