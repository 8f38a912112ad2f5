//! The hot path's clock: a request's start and end are stamped with it.
//!
//! Two stamps per request must cost next to nothing, and millisecond
//! precision is plenty: the stamps name a cut-off request's age and tell a
//! connection quiet for the read grace (100 ms by default). On Linux the
//! clock is `CLOCK_MONOTONIC_COARSE`, read from the vDSO without touching the
//! time-stamp counter, at the kernel tick's resolution (1 to 4 ms); elsewhere
//! `Instant`. A stamp is nanoseconds since the clock's origin, so that it
//! fits an `AtomicU64`.

#[cfg(not(target_os = "linux"))]
use std::time::Instant;

/// Stamps: nanoseconds since the clock was made, read at the clock's tick.
#[derive(Debug)]
pub(crate) struct Clock {
    #[cfg(not(target_os = "linux"))]
    origin: Instant,
    #[cfg(target_os = "linux")]
    coarse_origin: u64,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            #[cfg(not(target_os = "linux"))]
            origin: Instant::now(),
            #[cfg(target_os = "linux")]
            coarse_origin: coarse_nanos(),
        }
    }

    /// Now, as a stamp.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        #[cfg(target_os = "linux")]
        {
            coarse_nanos().saturating_sub(self.coarse_origin)
        }
        #[cfg(not(target_os = "linux"))]
        {
            u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
        }
    }
}

#[cfg(target_os = "linux")]
#[inline]
fn coarse_nanos() -> u64 {
    use nix::time::{ClockId, clock_gettime};
    // The call cannot fail for a clock the kernel has had since 2.6.32; if
    // it did, every stamp would read 0 and connections would look quiet.
    clock_gettime(ClockId::CLOCK_MONOTONIC_COARSE).map_or(0, |t| {
        (t.tv_sec() as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(t.tv_nsec() as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_follow_the_monotonic_clock_within_a_tick() {
        let clock = Clock::new();
        let before = clock.now();
        std::thread::sleep(Duration::from_millis(30));
        let after = clock.now();
        let slept = Duration::from_nanos(after - before);
        assert!(
            slept >= Duration::from_millis(20) && slept < Duration::from_millis(500),
            "{slept:?}"
        );
    }
}
