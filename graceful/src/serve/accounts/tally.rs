//! A server's request counters, striped by thread: a request's start and end
//! each add one to the stripe of the thread that runs it, so no cache line is
//! written by two threads, however many cores serve; a reader sums the
//! stripes. The stripes live as long as the server, so the sum is exact at
//! any instant (a forced exit reads it while requests run), with nothing to
//! fold when a connection or a thread ends. This is the shape of Linux's
//! per-CPU counters and Java's `LongAdder`.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// The per-request counters of one thread (or of the threads that share
/// its stripe), alone on their cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Stripe {
    /// Requests whose handler started, or whose refusal was decided.
    pub(crate) started: AtomicU64,
    pub(crate) served: AtomicU64,
    pub(crate) drained: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) cut_off: AtomicU64,
    pub(crate) disconnected: AtomicU64,
    pub(crate) panicked: AtomicU64,
}

/// How many stripes a server has: a power of two, so that a thread's number
/// picks one with a mask. Up to this many threads (the runtime's workers,
/// and the blocking threads that end a request) never share one; beyond, a
/// few do.
const STRIPES: usize = 64;
const _: () = assert!(STRIPES.is_power_of_two() && STRIPES <= 256);

/// A server's stripes (8 KiB, of which only the lines of the threads that
/// serve it are ever touched).
#[derive(Debug)]
pub(crate) struct Tally {
    stripes: Box<[Stripe; STRIPES]>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            stripes: Box::new(std::array::from_fn(|_| Stripe::default())),
        }
    }
}

thread_local! {
    /// This thread's number, handed out on first use.
    static THREAD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The next thread number.
static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

/// This thread's number: one thread-local read once it has one.
#[inline]
fn thread_number() -> usize {
    THREAD.with(|number| {
        let n = number.get();
        if n != usize::MAX {
            return n;
        }
        let n = NEXT_THREAD.fetch_add(1, Relaxed);
        number.set(n);
        n
    })
}

impl Tally {
    /// The stripe this thread writes.
    #[inline]
    pub(crate) fn mine(&self) -> &Stripe {
        self.stripe(Tally::my_stripe())
    }

    /// The number of the stripe this thread writes, for a request to end on
    /// the stripe it started on without asking again (if it ends on another
    /// thread, which is rare, the two threads share that line once).
    #[inline]
    pub(crate) fn my_stripe() -> u8 {
        // STRIPES fits a byte.
        (thread_number() % STRIPES) as u8
    }

    /// A stripe by its number.
    #[inline]
    pub(crate) fn stripe(&self, number: u8) -> &Stripe {
        &self.stripes[usize::from(number) % STRIPES]
    }

    /// One counter, summed over every stripe.
    pub(crate) fn sum(&self, counter: impl Fn(&Stripe) -> &AtomicU64) -> u64 {
        self.stripes
            .iter()
            .map(|stripe| counter(stripe).load(Relaxed))
            .sum()
    }

    /// The counts, each summed once, the ends before the starts: a request
    /// that ends while they are read is either ended or in flight, never
    /// both, so the ends and `in_flight` add up to the starts.
    pub(crate) fn counts(&self) -> Counts {
        let mut counts = Counts {
            served: self.sum(|s| &s.served),
            drained: self.sum(|s| &s.drained),
            refused: self.sum(|s| &s.refused),
            cut_off: self.sum(|s| &s.cut_off),
            disconnected: self.sum(|s| &s.disconnected),
            panicked: self.sum(|s| &s.panicked),
            in_flight: 0,
        };
        // A request starts before it ends: read last, the starts cover
        // every end read above (saturating, should a clock of the memory
        // model ever say otherwise).
        counts.in_flight = self.sum(|s| &s.started).saturating_sub(counts.ended());
        counts
    }
}

/// A server's request counts at one reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) served: u64,
    pub(crate) drained: u64,
    pub(crate) refused: u64,
    pub(crate) cut_off: u64,
    pub(crate) disconnected: u64,
    pub(crate) panicked: u64,
    /// Started and not ended.
    pub(crate) in_flight: u64,
}

impl Counts {
    fn ended(&self) -> u64 {
        self.served + self.drained + self.refused + self.cut_off + self.disconnected + self.panicked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_sum_exactly() {
        let tally = Tally::default();
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        tally.mine().started.fetch_add(1, Relaxed);
                        tally.mine().served.fetch_add(1, Relaxed);
                    }
                });
            }
        });
        tally.mine().started.fetch_add(1, Relaxed);
        assert_eq!(tally.sum(|s| &s.served), 8000);
        assert_eq!(tally.counts().in_flight, 1);
        assert_eq!(tally.counts().served, 8000);
    }

    #[test]
    fn threads_get_different_stripes() {
        let tally = Tally::default();
        let here = tally.mine() as *const Stripe as usize;
        let there = std::thread::scope(|scope| {
            scope
                .spawn(|| tally.mine() as *const Stripe as usize)
                .join()
                .unwrap()
        });
        assert_ne!(here, there);
        assert_eq!(std::mem::align_of::<Stripe>(), 128);
    }
}
