//! The one place that reads the wall clock. Everything else asks a [`Clock`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// A source of the current time, injected so that tests can fix or move it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;

    /// The current instant as whole seconds since the Unix epoch (the form stored in the database).
    fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }
}

/// A shared, dynamically chosen clock.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until told to move; for tests and simulations.
#[derive(Debug)]
pub struct FixedClock {
    unix_nanos: AtomicI64,
}

impl FixedClock {
    /// A clock fixed at `at`.
    pub fn new(at: OffsetDateTime) -> Self {
        Self {
            unix_nanos: AtomicI64::new(nanos_of(at)),
        }
    }

    /// A clock fixed at `unix` seconds since the epoch.
    pub fn at_unix(unix: i64) -> Self {
        Self {
            unix_nanos: AtomicI64::new(unix.saturating_mul(1_000_000_000)),
        }
    }

    /// Moves the clock forward (or backward, with a negative duration).
    pub fn advance(&self, by: time::Duration) {
        let by = i64::try_from(by.whole_nanoseconds()).unwrap_or(i64::MAX);
        self.unix_nanos.fetch_add(by, Ordering::SeqCst);
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: OffsetDateTime) {
        self.unix_nanos.store(nanos_of(at), Ordering::SeqCst);
    }
}

fn nanos_of(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        let nanos = self.unix_nanos.load(Ordering::SeqCst);
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// A clock that follows the system clock shifted by an adjustable offset.
///
/// Used by servers started for tests, so that a test can jump past an expiry without sleeping
/// while the server keeps running in real time otherwise.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset_nanos: AtomicI64,
}

impl OffsetClock {
    /// Moves this clock forward by `by` relative to the system clock.
    pub fn advance(&self, by: time::Duration) {
        let by = i64::try_from(by.whole_nanoseconds()).unwrap_or(i64::MAX);
        self.offset_nanos.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> OffsetDateTime {
        SystemClock.now() + time::Duration::nanoseconds(self.offset_nanos.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let clock = FixedClock::at_unix(1_700_000_000);
        assert_eq!(clock.unix(), 1_700_000_000);
        clock.advance(time::Duration::seconds(61));
        assert_eq!(clock.unix(), 1_700_000_061);
    }

    #[test]
    fn offset_clock_runs_ahead_of_the_system_clock() {
        let clock = OffsetClock::default();
        clock.advance(time::Duration::hours(2));
        let ahead = clock.unix() - SystemClock.unix();
        assert!((7199..=7201).contains(&ahead), "offset was {ahead}");
    }
}
