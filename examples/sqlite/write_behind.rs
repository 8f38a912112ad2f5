//! Run with: `cargo run -p graceful-examples-sqlite --example write_behind`, then
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
use std::sync::{Arc, Mutex};

use graceful::hyper::{Method, StatusCode};
use graceful::{Request, ShutdownContext, ShutdownHandle, State};
use http_body_util::BodyExt;
use rusqlite::Connection;

/// The write-behind store, shared as `State<Arc<Store>>`.
struct Store {
    /// Acknowledged writes not yet committed: key -> (value, version).
    pending: Mutex<HashMap<String, (String, u64)>>,
    /// The database; `None` once closed.
    db: Mutex<Option<Connection>>,
    /// Items per transaction.
    batch: usize,
}

impl Store {
    fn pending<T>(&self, f: impl FnOnce(&mut HashMap<String, (String, u64)>) -> T) -> T {
        f(&mut self.pending.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn read(&self, key: &str) -> Result<Option<String>, String> {
        let db = self.db.lock().map_err(|e| e.to_string())?;
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
    fn flush_batch(&self) -> Result<usize, String> {
        let mut db = self.db.lock().map_err(|e| e.to_string())?;
        let db = db.as_mut().ok_or("the database is closed")?;
        let batch: Vec<(String, String, u64)> = self.pending(|p| {
            p.iter()
                .take(self.batch)
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
        self.pending(|p| {
            for (key, _, version) in &batch {
                if p.get(key).is_some_and(|(_, v)| v == version) {
                    p.remove(key);
                }
            }
        });
        Ok(batch.len())
    }

    /// Checkpoints the write-ahead log into the database file and closes it.
    fn close(&self) -> Result<(), String> {
        let db = self.db.lock().map_err(|e| e.to_string())?.take();
        let db = db.ok_or("the database was already closed")?;
        db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| e.to_string())?;
        db.close().map_err(|(_, e)| e.to_string())
    }
}

/// SQLite blocks: every database call runs on the blocking pool.
async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| e.to_string())?
}

#[graceful::server(name = "api", addr = "127.0.0.1:8090", path = "/items/")]
async fn items(
    req: Request,
    State(store): State<Arc<Store>>,
) -> Result<(StatusCode, String), String> {
    let key = req.uri().path().trim_start_matches("/items/").to_owned();
    if key.is_empty() {
        return Ok((StatusCode::BAD_REQUEST, "a key, please\n".into()));
    }
    match *req.method() {
        Method::PUT => {
            let body = req.into_body().collect().await.map_err(|e| e.to_string())?;
            let value = String::from_utf8(body.to_bytes().to_vec()).map_err(|e| e.to_string())?;
            store.pending(|p| {
                let version = p.get(&key).map_or(0, |(_, v)| v + 1);
                p.insert(key, (value, version));
            });
            Ok((StatusCode::CREATED, "stored\n".into()))
        }
        Method::GET => {
            if let Some((value, _)) = store.pending(|p| p.get(&key).cloned()) {
                return Ok((StatusCode::OK, value));
            }
            Ok(
                match blocking(&store, move |store| store.read(&key)).await? {
                    Some(value) => (StatusCode::OK, value),
                    None => (StatusCode::NOT_FOUND, "no such item\n".into()),
                },
            )
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

/// The final flush, after every request has drained: batch by batch until
/// the cache is empty or the timeout fires. A batch in progress completes
/// (the callback has a short wind-down for it), so the count is exact.
#[graceful::on_shutdown(name = "flush_cache", phase = 0, timeout = "5s")]
async fn flush_cache(ctx: ShutdownContext, State(store): State<Arc<Store>>) -> Result<(), String> {
    let mut flushed = 0;
    loop {
        let left = store.pending(|p| p.len());
        if left == 0 {
            tracing::info!(flushed, "cache flushed");
            return Ok(());
        }
        if ctx.is_cancelled() {
            return Err(format!(
                "{left} items not flushed ({flushed} flushed in time)"
            ));
        }
        flushed += blocking(&store, Store::flush_batch).await?;
    }
}

/// Closes the database once the flush has ended.
#[graceful::on_shutdown(name = "close_database", phase = 1, timeout = "5s")]
async fn close_database(State(store): State<Arc<Store>>) -> Result<(), String> {
    blocking(&store, Store::close).await
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

    let db = Connection::open(&path).map_err(|e| format!("cannot open {path}: {e}"))?;
    db.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         CREATE TABLE IF NOT EXISTS items (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    )
    .map_err(|e| format!("cannot prepare {path}: {e}"))?;
    let store = Arc::new(Store {
        pending: Mutex::default(),
        db: Mutex::new(Some(db)),
        batch,
    });
    graceful::provide(Arc::clone(&store));

    // The background flush, until the shutdown begins; the final flush is the callback's.
    tokio::spawn(async move {
        let shutdown = graceful::shutdown_handle();
        let mut ticks = tokio::time::interval(interval);
        loop {
            tokio::select! {
                () = shutdown.shutting_down() => break,
                _ = ticks.tick() => {
                    if let Err(err) = blocking(&store, Store::flush_batch).await {
                        tracing::error!(error = %err, "background flush failed");
                    }
                }
            }
        }
    });
    Ok(())
}
