//! The request duration histogram (`http.server.request.duration`, the
//! `metrics` feature), kept per thread: a request's end adds its duration
//! to the bucket of its labels in its thread's own shard (a thread-local
//! lookup among the few label sets that thread has seen, then two plain
//! stores to lines no other thread writes: no lock, no atomic
//! read-modify-write, no shared cache line). A publication reads every
//! shard, and hands the recorder what is new in each bucket as one
//! `record_many` of the bucket's mean: the recorder's buckets, which are
//! these bounds, get exact counts, and its sum the exact sum.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::{Method, Version};

/// The bucket bounds OpenTelemetry's HTTP conventions advise, in seconds.
pub(crate) const BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
const BUCKETS: usize = BOUNDS.len() + 1;

/// [`BOUNDS`] in nanoseconds.
const BOUNDS_NS: [u64; BOUNDS.len()] = {
    let mut ns = [0; BOUNDS.len()];
    let mut i = 0;
    while i < BOUNDS.len() {
        ns[i] = (BOUNDS[i] * 1e9) as u64;
        i += 1;
    }
    ns
};

/// How a request ended, for its labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// With a response of this status.
    Status(u16),
    /// Without one: OpenTelemetry's `error.type`.
    Error(&'static str),
}

/// A request's labels, as compact as they are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    /// The server's name, by its address.
    server: usize,
    method: u8,
    version: u8,
    ended: Ended,
    /// The route's pattern, by its address (0: none).
    route: usize,
}

/// The methods the conventions name, then `_OTHER` (any other is not a
/// label value: the labels stay bounded).
const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER",
];

/// A method's number in [`METHODS`] (a comparison of `http`'s own tags,
/// not of the names).
#[inline]
pub(crate) fn method_number(method: &Method) -> u8 {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::CONNECT,
        Method::OPTIONS,
        Method::TRACE,
        Method::PATCH,
    ];
    KNOWN
        .iter()
        .position(|m| m == method)
        .map_or(9, |i| i as u8)
}

/// A version's number, for [`Labels::version`].
pub(crate) fn version_number(version: Version) -> u8 {
    match version {
        Version::HTTP_09 => 0,
        Version::HTTP_10 => 1,
        Version::HTTP_2 => 3,
        Version::HTTP_3 => 4,
        _ => 2,
    }
}

/// One bucket of one label set.
#[derive(Debug, Default)]
struct Bucket {
    /// Written by the shard's thread alone.
    count: AtomicU64,
    sum_ns: AtomicU64,
    /// What the publications have handed on (written by them alone).
    published_count: AtomicU64,
    published_sum_ns: AtomicU64,
}

/// One label set's buckets, in one thread's shard.
#[derive(Debug)]
struct Entry {
    key: Key,
    server: Arc<str>,
    route: Option<&'static str>,
    buckets: [Bucket; BUCKETS],
}

/// One thread's entries: pushed by that thread (under the lock, once per
/// new label set), read by the publications.
#[derive(Debug, Default)]
struct Shard {
    entries: Mutex<Vec<Arc<Entry>>>,
}

/// Every thread's shard, for as long as the process runs.
static SHARDS: Mutex<Vec<Arc<Shard>>> = Mutex::new(Vec::new());

/// One publication at a time.
static PUBLISHING: Mutex<()> = Mutex::new(());

/// A thread's shard, and its own list of the entries it writes.
struct Local {
    shard: Arc<Shard>,
    entries: Vec<Arc<Entry>>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
    /// The route the router matched for the request it was just given,
    /// until the request's guard takes it (on the same thread, at once).
    static MATCHED: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Says which route pattern serves the request being dispatched.
#[inline]
pub(crate) fn matched(route: &'static str) {
    let _ = MATCHED.try_with(|matched| matched.set(Some(route)));
}

/// The route [`matched`] said, if any, taken.
#[inline]
pub(crate) fn take_matched() -> Option<&'static str> {
    MATCHED.try_with(Cell::take).ok().flatten()
}

/// What a request's labels are, besides its server.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request {
    pub(crate) method: u8,
    pub(crate) version: u8,
    pub(crate) route: Option<&'static str>,
}

/// Counts a request of `server` that took `took`.
#[inline]
pub(crate) fn record(server: &Arc<str>, request: Request, ended: Ended, took: Duration) {
    let Request {
        method,
        version,
        route,
    } = request;
    let key = Key {
        server: Arc::as_ptr(server).cast::<u8>() as usize,
        method,
        version,
        ended,
        route: route.map_or(0, |r| r.as_ptr() as usize),
    };
    let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
    let bucket = BOUNDS_NS
        .iter()
        .position(|&b| ns <= b)
        .unwrap_or(BOUNDS.len());
    // At a thread's teardown its local is gone: that request goes uncounted.
    let _ = LOCAL.try_with(|local| {
        let Ok(mut local) = local.try_borrow_mut() else {
            return;
        };
        let local = local.get_or_insert_with(new_local);
        let entry = match local.entries.iter().find(|e| e.key == key) {
            Some(entry) => entry,
            None => local.add(key, server, route),
        };
        let b = &entry.buckets[bucket];
        // This thread alone writes them: a load and a store each.
        b.count.store(b.count.load(Relaxed) + 1, Relaxed);
        b.sum_ns
            .store(b.sum_ns.load(Relaxed).saturating_add(ns), Relaxed);
    });
}

#[cold]
fn new_local() -> Local {
    let shard = Arc::new(Shard::default());
    SHARDS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Arc::clone(&shard));
    Local {
        shard,
        entries: Vec::new(),
    }
}

impl Local {
    #[cold]
    fn add(&mut self, key: Key, server: &Arc<str>, route: Option<&'static str>) -> &Arc<Entry> {
        let entry = Arc::new(Entry {
            key,
            server: Arc::clone(server),
            route,
            buckets: std::array::from_fn(|_| Bucket::default()),
        });
        self.shard
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&entry));
        self.entries.push(entry);
        self.entries.last().expect("just pushed")
    }
}

/// The labels of what a publication hands on.
#[derive(Debug)]
pub(crate) struct Labels<'a> {
    pub(crate) server: &'a str,
    pub(crate) method: &'static str,
    /// `network.protocol.version`: `1.0`, `1.1`, `2`.
    pub(crate) version: &'static str,
    pub(crate) ended: Ended,
    /// `http.route`: the pattern of the handler that served it.
    pub(crate) route: Option<&'static str>,
}

/// Hands `each` what is new in every bucket since the last publication: its
/// labels, the mean of its new durations in seconds (within the bucket's
/// bounds), and how many there are.
pub(crate) fn take_new(mut each: impl FnMut(&Labels<'_>, f64, usize)) {
    let _one = PUBLISHING.lock().unwrap_or_else(PoisonError::into_inner);
    let shards = SHARDS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for shard in shards {
        let entries = shard
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for entry in entries {
            let labels = Labels {
                server: &entry.server,
                method: METHODS[usize::from(entry.key.method)],
                version: ["0.9", "1.0", "1.1", "2", "3"][usize::from(entry.key.version)],
                ended: entry.key.ended,
                route: entry.route,
            };
            for (i, b) in entry.buckets.iter().enumerate() {
                let (count, sum) = (b.count.load(Relaxed), b.sum_ns.load(Relaxed));
                let new = count.saturating_sub(b.published_count.load(Relaxed));
                if new == 0 {
                    continue;
                }
                let new_sum = sum.saturating_sub(b.published_sum_ns.load(Relaxed));
                b.published_count.store(count, Relaxed);
                b.published_sum_ns.store(sum, Relaxed);
                let mean = new_sum as f64 / new as f64 / 1e9;
                each(
                    &labels,
                    within(i, mean),
                    usize::try_from(new).unwrap_or(usize::MAX),
                );
            }
        }
    }
}

/// `mean` kept inside bucket `i` (a request counted between the two reads
/// of its count and its sum could move it out).
fn within(i: usize, mean: f64) -> f64 {
    let upper = BOUNDS.get(i).copied().unwrap_or(f64::MAX);
    let lower = if i == 0 { 0.0 } else { BOUNDS[i - 1] };
    // Above the lower bound, which belongs to the bucket below.
    mean.clamp(lower + (upper - lower).min(1.0) * 1e-6, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_recorded_is_handed_on_once_in_its_bucket() {
        let server: Arc<str> = Arc::from("durations-test");
        let get = method_number(&Method::GET);
        let h2 = version_number(Version::HTTP_2);
        let request = |method| Request {
            method,
            version: h2,
            route: None,
        };
        for ms in [1, 3, 40, 40, 12_000] {
            record(
                &server,
                request(get),
                Ended::Status(200),
                Duration::from_millis(ms),
            );
        }
        let other = method_number(&Method::from_bytes(b"BREW").expect("a method"));
        let brew = request(other);
        record(
            &server,
            brew,
            Ended::Error("cut_off"),
            Duration::from_secs(2),
        );
        matched("/users/");
        let routed = Request {
            route: take_matched(),
            ..request(get)
        };
        assert_eq!(take_matched(), None, "taken once");
        record(
            &server,
            routed,
            Ended::Status(200),
            Duration::from_millis(100),
        );
        let mut seen = Vec::new();
        take_new(|labels, mean, n| {
            if labels.server == "durations-test" {
                seen.push((labels.method, labels.route, labels.ended, mean, n));
            }
        });
        seen.sort_by(|a, b| a.3.total_cmp(&b.3));
        let ok = Ended::Status(200);
        assert_eq!(
            seen,
            [
                ("GET", None, ok, 0.002, 2),
                ("GET", None, ok, 0.04, 2),
                ("GET", Some("/users/"), ok, 0.1, 1),
                ("_OTHER", None, Ended::Error("cut_off"), 2.0, 1),
                ("GET", None, ok, 12.0, 1),
            ]
        );
        let mut again = 0;
        take_new(|labels, _, _| again += usize::from(labels.server == "durations-test"));
        assert_eq!(again, 0, "handed on once");
    }

    #[test]
    fn a_mean_stays_in_its_bucket() {
        assert_eq!(within(0, 0.002), 0.002);
        assert!(within(1, 0.004) > 0.005 && within(1, 0.004) <= 0.01);
        assert_eq!(within(2, 0.5), 0.025);
        assert_eq!(within(BOUNDS.len(), 30.0), 30.0);
    }
}
