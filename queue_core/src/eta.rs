//! Wait estimates that know what limits the line.
//!
//! The line moves at the configured rate unless the booking site is full: with `max_active`
//! places, each held for a session, admissions can go no faster than places free up (Little's
//! law: `max_active / mean session length` a second). Skipped tickets (who left or stopped
//! polling) take no place, so the cursor passes positions faster than it admits people.
//!
//! What is measured are plain counters the admission tick adds to while people keep waiting
//! (`LineMeter`): positions passed, people admitted, time. Every backend keeps the same counters
//! (the Redis scripts add to them atomically) and every estimate comes from `Line::estimate`.
//!
//! Before enough is measured the range spans what the settings allow — from the configured rate
//! (at best) to every place held for a full `session_seconds` (at worst) — and says `measuring`.
//! Once known, the speed is the measured one: positions passed per second the line was backed
//! up, counted from when the booking site first filled and a place freed again (before that,
//! admissions ran at the rate into free places, then stood still until the first sessions
//! ended: neither says how fast places free up from then on) and from the last change of the
//! rate by an operator (the old rate says nothing about the new one). A full site's pace is
//! `known` only after many turnovers of its places, a site not yet full is known to stay so only
//! after a whole `session_seconds` (the sessions still running may be the long ones), and the
//! skipped share only once measured closely: until then the estimate says `measuring`.

/// Measured time after which an estimate can be `known`.
const KNOWN_AFTER_SECONDS: f64 = 15.0;
/// A full booking site's pace is `known` once its places turned over this often while measured
/// (Little's law: admissions of `max_active` each take one mean session length).
const FULL_TURNOVERS: u64 = 12;
/// ... and once this many were admitted while measured: ends of sessions come by chance, and a
/// count of a hundred is good to about a tenth.
const FULL_ADMISSIONS: u64 = 100;
/// Skipped shares are taken from the measurement once this many positions were passed.
const SKIPS_AFTER_PASSED: u64 = 10;
/// Length of each of the two stretches the recent skipped share is counted over (the recent
/// window spans one to two of them, two to four minutes): those who wait longer give up more often, so the share
/// skipped ahead of a visitor grows while the line is long, and a share since the start lags.
pub const RECENT_STRETCH_MICROS: i64 = 120_000_000;
/// How closely the skipped share must be measured (relative standard error) before an
/// estimate is `known`: with many skips, a few seconds' count of them is luck.
const SKIPS_WITHIN: f64 = 0.04;
/// Admissions below this share of the rate mean the booking site, not the rate, limits.
const CAPACITY_BINDS_BELOW: f64 = 0.9;
/// Half-width of a known range: a floor for what the model leaves out, plus the counting noise
/// of the measurement; capped so that `high / low` stays at most 2.
const KNOWN_SPREAD_FLOOR: f64 = 0.1;
const KNOWN_SPREAD_NOISE: f64 = 1.5;
const KNOWN_SPREAD_MAX: f64 = 1.0 / 3.0;
/// While measuring, the point estimate weighs the rate like this much measured time.
const GUESS_PRIOR_SECONDS: f64 = 60.0;
/// Half-width of a range not yet known: until it is measured, visitors who leave or stop polling
/// may make the line up to twice as fast as the admissions alone (surges lose a fifth to two
/// fifths of their visitors on the way), and a rate-limited line's pace is not yet confirmed.
const UNMEASURED_SPREAD: f64 = 0.5;

/// What an estimate rests on, as the status says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The configured rate limits the line.
    Rate,
    /// The booking site is full: the line moves as fast as sessions end.
    Capacity,
    /// As `Capacity`, but no session was ever reported finished: places free up only when
    /// passes expire (in handoff mode the booking site did not send `complete`).
    Expiry,
    /// An operator paused admissions: nothing moves until they resume.
    Paused,
    /// Too little measured yet: the range spans what the settings allow.
    Measuring,
}

pub const REASONS: [Reason; 5] = [Reason::Rate, Reason::Capacity, Reason::Expiry, Reason::Paused, Reason::Measuring];

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Rate => "rate",
            Reason::Capacity => "capacity",
            Reason::Expiry => "expiry",
            Reason::Paused => "paused",
            Reason::Measuring => "measuring",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub low: f64,
    pub seconds: f64,
    pub high: f64,
    pub known: bool,
    pub reason: Reason,
    /// Admissions a second the estimate assumes (0 when not a wait in the line).
    pub admit_per_second: f64,
}

impl Estimate {
    pub fn zero() -> Self {
        Self { low: 0.0, seconds: 0.0, high: 0.0, known: true, reason: Reason::Rate, admit_per_second: 0.0 }
    }
}

/// What the admission tick measured while people kept waiting, since the booking site first
/// filled and since the last rate change. Plain counters, so that any backend can keep them
/// atomically and the estimate is computed from them alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineMeter {
    /// Queue positions the cursor passed (admitted or skipped).
    pub passed: u64,
    /// Of those, the people admitted.
    pub admitted: u64,
    pub micros: i64,
    /// Whether the booking site was ever full since the line was backed up: measurement
    /// restarted then.
    pub filled: bool,
    /// The same counters over the stretch being measured now and the one before it (each
    /// `RECENT_STRETCH_MICROS` long): the recent skipped share.
    pub recent: Stretch,
    pub earlier: Stretch,
}

/// Counters over one stretch of the measurement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stretch {
    pub passed: u64,
    pub admitted: u64,
    pub micros: i64,
}

impl LineMeter {
    /// Records one tick's interval of `micros` in which the line stayed backed up; `full` says
    /// the booking site's places were all taken after it. The first time they are, what was
    /// measured (admissions at the rate into free places) is dropped.
    pub fn record(&mut self, passed: u64, admitted: u64, micros: i64, full: bool) {
        if micros <= 0 {
            return;
        }
        if full && !self.filled {
            *self = Self { filled: true, ..Self::default() };
            return;
        }
        if self.filled && self.passed == 0 && passed == 0 {
            // Full, and no place freed yet: until the first session ends nothing moves, for as
            // long as the first sessions last; the line's pace starts with the first one.
            return;
        }
        self.passed += passed;
        self.admitted += admitted;
        self.micros += micros;
        self.recent.passed += passed;
        self.recent.admitted += admitted;
        self.recent.micros += micros;
        if self.recent.micros >= RECENT_STRETCH_MICROS {
            self.earlier = std::mem::take(&mut self.recent);
        }
    }

    /// Share of passed positions that took a place since measuring (re)started, once enough
    /// were passed (else 1: nobody known to skip).
    #[allow(clippy::cast_precision_loss)]
    fn keep(&self) -> f64 {
        keep_share(self.passed, self.admitted)
    }

    /// The same share over the last one to two stretches, once a whole stretch was measured
    /// (before that, the share since the start).
    fn recent_keep(&self) -> f64 {
        if self.earlier.micros == 0 {
            return self.keep();
        }
        keep_share(self.recent.passed + self.earlier.passed, self.recent.admitted + self.earlier.admitted)
    }

    /// An operator changed the rate: what was measured at the old one no longer tells.
    pub fn restart(&mut self) {
        *self = Self { filled: self.filled, ..Self::default() };
    }

    #[allow(clippy::cast_precision_loss)]
    fn seconds(&self) -> f64 {
        self.micros as f64 / 1e6
    }
}

/// Share of `passed` positions that took a place, once enough were passed (else 1).
#[allow(clippy::cast_precision_loss)]
fn keep_share(passed: u64, admitted: u64) -> f64 {
    if passed >= SKIPS_AFTER_PASSED {
        // At most 1: counters from another process (Redis) are not held to the tick's rule.
        (admitted as f64 / passed as f64).clamp(0.05, 1.0)
    } else {
        1.0
    }
}

/// Everything an estimate rests on: the settings, the room's state and the measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub admit_per_second: f64,
    pub max_active: u32,
    pub session_seconds: f64,
    pub active: u32,
    pub paused: bool,
    /// Sessions the booking site reported complete (the room's `completed` count): none while
    /// the site is full means its signal is missing, and places free as passes expire.
    pub ended_early: u64,
    /// Sessions that ended by their pass expiring.
    pub expired: u64,
    pub meter: LineMeter,
}

impl Line {
    /// Admissions a second if every place is held for a whole session.
    fn full_sessions_per_second(&self) -> f64 {
        f64::from(self.max_active) / self.session_seconds.max(1e-9)
    }

    /// The slowest the settings allow: every place held for a whole session, nobody skipped.
    pub fn slowest_per_second(&self) -> f64 {
        self.admit_per_second.max(1e-9).min(self.full_sessions_per_second())
    }

    /// The longest wait the settings allow for the `distance`-th in line, nobody skipped: the
    /// free places go at the rate, then each place frees at the latest when its pass expires,
    /// one session after another (`max_active` admissions per `session_seconds`).
    #[allow(clippy::cast_precision_loss)]
    fn longest_wait(&self, distance: u64) -> f64 {
        let by_rate = distance as f64 / self.admit_per_second.max(1e-9);
        let free = u64::from(self.max_active.saturating_sub(self.active));
        let after_free = distance.saturating_sub(free);
        let places = u64::from(self.max_active.max(1));
        let by_places = after_free.div_ceil(places) as f64 * self.session_seconds;
        by_rate.max(by_places)
    }

    /// Positions passed a second while the line was backed up, once anything was measured.
    #[allow(clippy::cast_precision_loss)]
    pub fn measured_per_second(&self) -> Option<f64> {
        (self.meter.micros > 0).then(|| self.meter.passed as f64 / self.meter.seconds())
    }

    /// Estimate for a ticket `distance` positions from the cursor (1 = next in line).
    #[allow(clippy::cast_precision_loss)]
    pub fn estimate(&self, distance: u64) -> Estimate {
        if distance == 0 {
            return Estimate::zero();
        }
        let d = distance as f64;
        let rate = self.admit_per_second.max(1e-9);
        let meter = &self.meter;
        // Share of passed positions that take a place; skipped ones speed the line up.
        let keep = meter.keep();
        // The share skipped drifts (longer waits, more give up): positions pass faster, for the
        // same admissions, by how much more is skipped now than on average since the start.
        let recent_keep = meter.recent_keep();
        let drift = keep / recent_keep;
        let best = rate / recent_keep;
        // The pace while the rate limits, for the point of a range: the measured one, drawn
        // towards the rate as if `GUESS_PRIOR_SECONDS` at the rate had been measured too.
        let at_rate =
            drift * (meter.passed as f64 + rate * GUESS_PRIOR_SECONDS) / (meter.seconds() + GUESS_PRIOR_SECONDS);
        let full_sessions = self.full_sessions_per_second();
        let worst = self.slowest_per_second();
        // The booking site cannot be the limit, or this ticket's turn comes while places are
        // still free: the rate is what it rests on.
        let free = f64::from(self.max_active.saturating_sub(self.active));
        let rate_only = full_sessions >= rate || (!meter.filled && d * recent_keep <= free);
        // Long enough, and the skipped share known to within `SKIPS_WITHIN` (its standard error
        // relative to the share that takes a place).
        let skips_known = (1.0 - keep) <= SKIPS_WITHIN * SKIPS_WITHIN * keep * meter.passed as f64;
        let measured_long_enough = meter.seconds() >= KNOWN_AFTER_SECONDS && skips_known;
        let places = u64::from(self.max_active);
        let seen_enough = if meter.filled {
            // A full site's pace, measured over several whole session lengths: sessions that
            // started together end together, and a shorter window catches one such wave.
            meter.admitted >= (FULL_TURNOVERS * places).max(FULL_ADMISSIONS)
        } else {
            // Not full yet, and it will not fill at this pace once it did not within a whole
            // `session_seconds`: by then every session has had the time to last as long as it
            // can (sooner, the sessions still running may be the long ones that fill it).
            meter.seconds() >= self.session_seconds
        };
        let measured = self.measured_per_second();
        let paused = |e: Estimate| if self.paused { Estimate { known: false, reason: Reason::Paused, ..e } } else { e };
        if rate_only && !(measured_long_enough && meter.filled) {
            let seconds = d / at_rate;
            let (spread, known) =
                if measured_long_enough { (KNOWN_SPREAD_FLOOR, true) } else { (UNMEASURED_SPREAD, false) };
            return paused(Estimate {
                low: seconds * (1.0 - spread),
                seconds,
                high: seconds * (1.0 + spread),
                known,
                reason: Reason::Rate,
                admit_per_second: rate,
            });
        }
        if !(measured_long_enough && seen_enough) {
            // The point of the range (it paces the polls): while places are free the rate; once
            // the site is full the measured speed, drawn towards the rate as if
            // `GUESS_PRIOR_SECONDS` at the rate had been measured too (a count of a few
            // admissions says little).
            let guess = if meter.filled {
                ((meter.passed as f64 + best * GUESS_PRIOR_SECONDS) / (meter.seconds() + GUESS_PRIOR_SECONDS))
                    .clamp(worst, best)
            } else {
                at_rate
            };
            let seconds = d / guess;
            return paused(Estimate {
                low: d / best * (1.0 - UNMEASURED_SPREAD),
                seconds,
                // The longest the settings allow assumes free places fill at the rate; a pace
                // measured slower than that (few free places turning over) must stay inside.
                high: self.longest_wait(distance).max(seconds),
                known: false,
                reason: Reason::Measuring,
                admit_per_second: guess * recent_keep,
            });
        }
        let speed = measured.map_or(best, |pace| pace * drift).max(worst);
        let seconds = d / speed;
        let spread = (KNOWN_SPREAD_FLOOR + KNOWN_SPREAD_NOISE / (meter.passed as f64).sqrt()).min(KNOWN_SPREAD_MAX);
        let admitting = speed * recent_keep;
        let reason = if admitting >= CAPACITY_BINDS_BELOW * rate {
            Reason::Rate
        } else if self.ended_early == 0 {
            Reason::Expiry
        } else {
            Reason::Capacity
        };
        paused(Estimate {
            low: seconds * (1.0 - spread),
            seconds,
            high: seconds * (1.0 + spread),
            known: true,
            reason,
            admit_per_second: admitting.min(rate),
        })
    }
}

/// Before the draw nobody knows their place: the honest answer is the opening time plus anything
/// from no wait to the whole pre-queue's (`waiting` entries, at the longest the settings allow).
pub fn prequeue_estimate(opens_in_seconds: f64, waiting: u64, line: &Line) -> Estimate {
    let rate = line.admit_per_second.max(1e-9);
    let reason = if line.paused { Reason::Paused } else { Reason::Measuring };
    Estimate {
        low: opens_in_seconds,
        #[allow(clippy::cast_precision_loss)]
        seconds: opens_in_seconds + waiting as f64 / rate / 2.0,
        high: opens_in_seconds + line.longest_wait(waiting),
        known: false,
        reason,
        admit_per_second: rate,
    }
}

#[cfg(test)]
#[path = "eta/tests.rs"]
mod tests;
