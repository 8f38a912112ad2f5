//! Classified load: back-to-back requests on keep-alive connections, each
//! counted as answered, refused cleanly, or lost ("dirty").

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::client::{self, Dial, Outcome};

/// The request each connection repeats, and the body a success answers.
#[derive(Clone, Copy, Debug)]
pub struct Repeat {
    /// The method.
    pub method: &'static str,
    /// The path.
    pub path: &'static str,
    /// The request body.
    pub body: &'static [u8],
    /// The body of a `200` that counts as answered.
    pub expect: &'static str,
}

/// What the requests came to.
#[derive(Debug, Default)]
pub struct Tally {
    /// Answered `200` with the expected body.
    pub ok: AtomicU64,
    /// Refused cleanly: `503`, a connection closed before the request was
    /// written, or a connection refused.
    pub refused: AtomicU64,
    /// Lost: written, then a reset, an end of stream, a cut body or another status.
    pub dirty: Mutex<Vec<String>>,
    /// Notified once `ok` reaches `milestone`.
    pub reached: Notify,
    milestone: u64,
}

impl Tally {
    /// A tally that notifies [`Tally::reached`] once `milestone` requests were answered.
    pub fn with_milestone(milestone: u64) -> Tally {
        Tally {
            milestone,
            ..Tally::default()
        }
    }

    /// The lost requests so far.
    pub fn dirty(&self) -> Vec<String> {
        self.dirty.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Counts one answered request, and notifies [`Tally::reached`] at the
    /// milestone.
    pub fn answered(&self) {
        if self.ok.fetch_add(1, Relaxed) + 1 == self.milestone {
            self.reached.notify_one();
        }
    }

    /// Records one lost request.
    pub fn lost(&self, what: String) {
        if let Ok(mut dirty) = self.dirty.lock() {
            dirty.push(what);
        }
    }
}

/// Repeats `repeat` on one keep-alive connection at a time, reconnecting
/// whenever the server closes one, until `stop` is set, `bound` has passed,
/// or (unless `keep_connecting`) a connection is refused.
pub async fn hammer(
    dial: impl Into<Dial>,
    repeat: Repeat,
    tally: &Tally,
    keep_connecting: bool,
    stop: &AtomicBool,
    bound: Duration,
) {
    let dial = dial.into();
    let deadline = Instant::now() + bound;
    while !stop.load(Relaxed) && Instant::now() < deadline {
        let mut sender = match dial.connect().await {
            Ok(sender) => sender,
            Err(err) => {
                if client::refused(&err) {
                    tally.refused.fetch_add(1, Relaxed);
                } else {
                    tally.lost(format!("connect: {err}"));
                }
                if !keep_connecting {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        loop {
            match client::send(&mut sender, repeat.method, repeat.path, repeat.body).await {
                Outcome::Answered(a) if a.status == 200 && a.text() == repeat.expect => {
                    tally.answered();
                    if a.closes() {
                        break;
                    }
                }
                Outcome::Answered(a) if a.status == 503 => {
                    tally.refused.fetch_add(1, Relaxed);
                    break;
                }
                Outcome::NotSent => {
                    tally.refused.fetch_add(1, Relaxed);
                    break;
                }
                Outcome::Answered(a) => {
                    tally.lost(format!("unexpected answer: {} {:?}", a.status, a.text()));
                    break;
                }
                Outcome::Failed(err) => {
                    tally.lost(err);
                    break;
                }
            }
        }
    }
}
