//! Wait estimates. The admission cursor's speed (queue positions passed per second, skipped ones
//! included) is measured in one-second buckets and smoothed with an exponential moving average
//! whose prior is the configured rate, so the estimate starts honest and moves slowly: polls a
//! few seconds apart see nearly the same figure (in Saarland the estimate jumped wildly).

const TIME_CONSTANT_SECONDS: f64 = 60.0;
/// Buckets shorter than this are too noisy at low rates (a tick admits 0 or 1).
const BUCKET_MICROS: i64 = 1_000_000;
/// After this much measured time the estimate is reported as `known`.
const KNOWN_AFTER_SECONDS: f64 = 15.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub low: f64,
    pub seconds: f64,
    pub high: f64,
    pub known: bool,
}

impl Estimate {
    pub fn zero() -> Self {
        Self { low: 0.0, seconds: 0.0, high: 0.0, known: true }
    }
}

/// Everything a `CursorSpeed` has measured, so that a restarted room goes on from the same
/// estimate instead of jumping back to the configured rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeedState {
    pub mean: f64,
    pub variance: f64,
    pub measured_seconds: f64,
    pub bucket_passed: u64,
    pub bucket_micros: i64,
}

#[derive(Debug, Clone)]
pub struct CursorSpeed {
    mean: f64,
    variance: f64,
    measured_seconds: f64,
    bucket_passed: u64,
    bucket_micros: i64,
}

impl CursorSpeed {
    pub fn new(configured_per_second: f64) -> Self {
        Self { mean: configured_per_second, variance: 0.0, measured_seconds: 0.0, bucket_passed: 0, bucket_micros: 0 }
    }

    pub fn from_state(state: SpeedState) -> Self {
        Self {
            mean: state.mean,
            variance: state.variance,
            measured_seconds: state.measured_seconds,
            bucket_passed: state.bucket_passed,
            bucket_micros: state.bucket_micros,
        }
    }

    /// The speed as another process measured it (the Redis backend keeps the three counters in
    /// the room's hash): what an estimate needs, without the open bucket.
    pub fn measured(mean: f64, variance: f64, measured_seconds: f64) -> Self {
        Self { mean, variance: variance.max(0.0), measured_seconds, bucket_passed: 0, bucket_micros: 0 }
    }

    pub fn state(&self) -> SpeedState {
        SpeedState {
            mean: self.mean,
            variance: self.variance,
            measured_seconds: self.measured_seconds,
            bucket_passed: self.bucket_passed,
            bucket_micros: self.bucket_micros,
        }
    }

    /// The configured rate changed: keep what was measured, but let the prior follow when
    /// nothing was measured yet.
    pub fn reconfigure(&mut self, configured_per_second: f64) {
        if self.measured_seconds == 0.0 {
            self.mean = configured_per_second;
        }
    }

    /// Records that the cursor passed `passed` positions in `micros` while the queue was
    /// backed up (demand-limited or paused intervals must not be recorded: they say nothing
    /// about how fast the queue moves).
    pub fn record(&mut self, passed: u64, micros: i64) {
        if micros <= 0 {
            return;
        }
        self.bucket_passed += passed;
        self.bucket_micros += micros;
        if self.bucket_micros < BUCKET_MICROS {
            return;
        }
        let bucket_seconds = self.bucket_micros as f64 / 1e6;
        let sample = self.bucket_passed as f64 / bucket_seconds;
        let alpha = 1.0 - (-bucket_seconds / TIME_CONSTANT_SECONDS).exp();
        let delta = sample - self.mean;
        self.mean += alpha * delta;
        self.variance = (1.0 - alpha) * (self.variance + alpha * delta * delta);
        self.measured_seconds += bucket_seconds;
        self.bucket_passed = 0;
        self.bucket_micros = 0;
    }

    pub fn per_second(&self) -> f64 {
        self.mean
    }

    pub fn known(&self) -> bool {
        self.measured_seconds >= KNOWN_AFTER_SECONDS
    }

    /// Estimate for a ticket `distance` positions from the cursor (1 = next in line). The range
    /// widens with the measured spread of the speed, and is wide while nothing is known.
    pub fn estimate(&self, distance: u64) -> Estimate {
        if distance == 0 {
            return Estimate::zero();
        }
        let speed = self.mean.max(1e-6);
        let seconds = distance as f64 / speed;
        let spread = if self.known() {
            let cv = self.variance.sqrt() / speed;
            (0.1 + cv / 2.0).min(0.5)
        } else {
            0.5
        };
        Estimate { low: seconds * (1.0 - spread), seconds, high: seconds * (1.0 + spread), known: self.known() }
    }
}

/// Before the draw nobody knows their place: the honest answer is the opening time plus anything
/// from no wait to the whole pre-queue's (`waiting` entries at `admit_per_second`).
pub fn prequeue_estimate(opens_in_seconds: f64, waiting: u64, admit_per_second: f64) -> Estimate {
    #[allow(clippy::cast_precision_loss)]
    let whole = waiting as f64 / admit_per_second;
    Estimate {
        low: opens_in_seconds,
        seconds: opens_in_seconds + whole / 2.0,
        high: opens_in_seconds + whole,
        known: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_from_the_configured_rate_and_is_not_known() {
        let s = CursorSpeed::new(10.0);
        let e = s.estimate(100);
        assert!(!e.known);
        assert!((e.seconds - 10.0).abs() < 1e-9);
        assert!(e.low < e.seconds && e.seconds < e.high);
    }

    #[test]
    fn converges_to_the_measured_speed_slowly() {
        let mut s = CursorSpeed::new(10.0);
        s.record(5, 1_000_000);
        let after_one = s.per_second();
        assert!(after_one < 10.0 && after_one > 9.8, "moved too fast: {after_one}");
        for _ in 0..600 {
            s.record(5, 1_000_000);
        }
        assert!((s.per_second() - 5.0).abs() < 0.01);
        assert!(s.known());
        // A steady speed gives a tight range.
        let e = s.estimate(50);
        assert!((e.seconds - 10.0).abs() < 0.1);
        assert!(e.high / e.seconds < 1.15);
    }

    #[test]
    fn sub_bucket_records_accumulate() {
        let mut s = CursorSpeed::new(1.0);
        for _ in 0..10 {
            s.record(1, 100_000);
        }
        assert!(s.per_second() > 1.0);
    }

    #[test]
    fn zero_distance_is_now() {
        assert_eq!(CursorSpeed::new(3.0).estimate(0), Estimate::zero());
    }
}
