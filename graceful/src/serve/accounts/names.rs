//! What a request is called in the report: an HTTP/2 stream's name, kept
//! by its connection's task, and an HTTP/1 connection's current request,
//! recorded in place.

use std::cell::{OnceCell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use http::Method;

use super::roster::Roster;
use crate::lifecycle::report::OpenRequest;

/// The name of an HTTP/2 stream's request.
#[derive(Debug)]
pub(crate) struct StreamName {
    method: Method,
    path: String,
    /// A [`Clock`](crate::lifecycle::clock::Clock) stamp.
    started: u64,
}

impl StreamName {
    pub(super) fn new(method: Method, path: String, started: u64) -> Self {
        StreamName {
            method,
            path,
            started,
        }
    }

    /// The request's name in the report, at `now`.
    pub(super) fn named(&self, server: &str, now: u64) -> OpenRequest {
        OpenRequest {
            server: server.to_owned(),
            method: Some(self.method.clone()),
            path: self.path.clone(),
            age: Duration::from_nanos(now.saturating_sub(self.started)),
        }
    }
}

/// The names of an HTTP/2 connection's streams, kept by its task, which
/// alone enters them; handed in to the connection when the task ends (see
/// [`ConnState::hand_in_streams`]).
#[derive(Debug, Default)]
/// Made at the first HTTP/2 request: an HTTP/1 connection carries one
/// pointer's room of it.
pub(crate) struct Streams(OnceCell<Box<RefCell<Roster<StreamName>>>>);

impl Streams {
    /// Enters a stream's name.
    pub(super) fn enter(&self, name: &Arc<StreamName>) {
        self.0
            .get_or_init(Box::default)
            .borrow_mut()
            .enter(Arc::downgrade(name));
    }

    /// The roster, for the connection to keep once its task has ended.
    pub(crate) fn take(&mut self) -> Option<Roster<StreamName>> {
        self.0.take().map(|roster| roster.into_inner())
    }
}

/// The name of an HTTP/1 connection's current request: its method, the
/// start of its path and its start time, in plain relaxed stores (no
/// allocation, no shared reference count, no lock).
#[derive(Debug, Default)]
pub(crate) struct CurrentRequest {
    pub(super) started: AtomicU64,
    method: AtomicU8,
    /// Path bytes, little-endian, and their count (the high bit: truncated).
    path: [AtomicU64; PATH_WORDS],
    path_len: AtomicU8,
}

const PATH_WORDS: usize = 4;
const PATH_BYTES: usize = PATH_WORDS * 8;
const TRUNCATED: u8 = 0x80;

/// The methods a request name records by index; 0 stands for any other.
const METHODS: [Method; 9] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
    Method::PATCH,
    Method::CONNECT,
    Method::TRACE,
];

impl CurrentRequest {
    #[inline]
    pub(super) fn record(&self, method: &Method, path: &str, started: u64) {
        let mut len = path.len().min(PATH_BYTES);
        while !path.is_char_boundary(len) {
            len -= 1;
        }
        // One copy of a fixed size, then whole words.
        let mut bytes = [0u8; PATH_BYTES];
        bytes[..len].copy_from_slice(&path.as_bytes()[..len]);
        for (word, chunk) in self.path.iter().zip(bytes.chunks_exact(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(chunk);
            word.store(u64::from_le_bytes(le), Relaxed);
        }
        let truncated = if len < path.len() { TRUNCATED } else { 0 };
        self.path_len.store(len as u8 | truncated, Relaxed);
        let index = METHODS
            .iter()
            .position(|m| m == method)
            .map_or(0, |i| i + 1);
        self.method.store(index as u8, Relaxed);
        self.started.store(started, Relaxed);
    }

    fn method(&self) -> Option<Method> {
        match usize::from(self.method.load(Relaxed)) {
            0 => None,
            i => METHODS.get(i - 1).cloned(),
        }
    }

    /// The request's name in the report, at `now`.
    pub(super) fn named(&self, server: &str, now: u64) -> OpenRequest {
        OpenRequest {
            server: server.to_owned(),
            method: self.method(),
            path: self.path(),
            age: Duration::from_nanos(now.saturating_sub(self.started.load(Relaxed))),
        }
    }

    fn path(&self) -> String {
        let mut bytes = [0u8; PATH_BYTES];
        for (i, word) in self.path.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&word.load(Relaxed).to_le_bytes());
        }
        let len = self.path_len.load(Relaxed);
        let mut path =
            String::from_utf8_lossy(&bytes[..usize::from(len & !TRUNCATED)]).into_owned();
        if len & TRUNCATED != 0 {
            path.push('…');
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_current_request_keeps_its_method_and_the_start_of_its_path() {
        let current = CurrentRequest::default();
        current.record(&Method::PATCH, "/users/42", 7);
        assert_eq!(
            (current.method(), current.path()),
            (Some(Method::PATCH), "/users/42".to_owned())
        );
        assert_eq!(current.started.load(Relaxed), 7);

        let long = format!("/{}", "é".repeat(40));
        current.record(&Method::from_bytes(b"PURGE").unwrap(), &long, 9);
        let path = current.path();
        assert!(
            path.ends_with('…') && long.starts_with(path.trim_end_matches('…')),
            "{path}"
        );
        assert_eq!(current.method(), None);
    }
}
