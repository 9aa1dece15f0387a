//! Time enters the core only through a `Clock`, so tests and surge replays can drive a virtual
//! one. All instants are microseconds since the Unix epoch, UTC.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub const MICROS_PER_SECOND: i64 = 1_000_000;

pub trait Clock: Send + Sync {
    fn now_micros(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct WallClock;

impl Clock for WallClock {
    fn now_micros(&self) -> i64 {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
    }
}

/// A clock that moves only when told to. Shared by reference so that every room driven by it
/// sees the same time.
#[derive(Debug, Default)]
pub struct VirtualClock {
    micros: AtomicI64,
}

impl VirtualClock {
    pub fn new(start_micros: i64) -> Self {
        Self { micros: AtomicI64::new(start_micros) }
    }

    /// Moves the clock forward; a negative step is ignored because time never runs backwards.
    pub fn advance_micros(&self, delta: i64) {
        if delta > 0 {
            self.micros.fetch_add(delta, Ordering::SeqCst);
        }
    }

    /// Sets the clock; refuses to go backwards so that no rule ever sees time reversed.
    pub fn set_micros(&self, micros: i64) -> bool {
        self.micros.fetch_max(micros, Ordering::SeqCst) <= micros
    }
}

impl Clock for VirtualClock {
    fn now_micros(&self) -> i64 {
        self.micros.load(Ordering::SeqCst)
    }
}

pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_only_moves_forward() {
        let c = VirtualClock::new(1_000);
        c.advance_micros(500);
        assert_eq!(c.now_micros(), 1_500);
        c.advance_micros(-100);
        assert_eq!(c.now_micros(), 1_500);
        assert!(!c.set_micros(10));
        assert_eq!(c.now_micros(), 1_500);
        assert!(c.set_micros(2_000));
        assert_eq!(c.now_micros(), 2_000);
    }

    #[test]
    fn wall_clock_is_after_2020() {
        assert!(WallClock.now_micros() > 1_577_836_800 * MICROS_PER_SECOND);
    }
}
