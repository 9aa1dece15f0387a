//! The state of one slot packed into one `u64`, so that every transition is a single
//! compare-and-swap and of any number of concurrent claims exactly one wins.
//!
//! Layout, from the high bits: state (3 bits) | until (29 bits) | holder (32 bits). `until` is in
//! whole seconds since the inventory's epoch, which covers 17 years of deadlines.

use super::SlotState;
use crate::clock::MICROS_PER_SECOND;
use crate::errors::{CoreError, CoreResult};

const STATE_SHIFT: u32 = 61;
const UNTIL_SHIFT: u32 = 32;
const UNTIL_BITS: u32 = 29;
/// The largest deadline a word can carry, in seconds since the epoch.
pub(super) const UNTIL_MAX_SECS: u32 = (1 << UNTIL_BITS) - 1;

const FREE: u64 = 0;
const HELD: u64 = 1;
const OFFERED: u64 = 2;
const BOOKED: u64 = 3;
const RETURNED: u64 = 4;

/// The decoded form of a slot's word. Deadlines stay in epoch seconds; `Deadlines` converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Word {
    Free,
    Held { holder: u32, until: u32 },
    Offered { holder: u32, until: u32 },
    Booked { holder: u32 },
    Returned,
}

impl Word {
    pub(super) fn pack(self) -> u64 {
        let (state, until, holder) = match self {
            Word::Free => (FREE, 0, 0),
            Word::Held { holder, until } => (HELD, until, holder),
            Word::Offered { holder, until } => (OFFERED, until, holder),
            Word::Booked { holder } => (BOOKED, 0, holder),
            Word::Returned => (RETURNED, 0, 0),
        };
        debug_assert!(until <= UNTIL_MAX_SECS);
        (state << STATE_SHIFT) | (u64::from(until) << UNTIL_SHIFT) | u64::from(holder)
    }

    // The holder is the low 32 bits of the word; the cast takes them on purpose.
    #[allow(clippy::cast_possible_truncation)]
    pub(super) fn unpack(raw: u64) -> Word {
        let holder = raw as u32;
        let until = ((raw >> UNTIL_SHIFT) as u32) & UNTIL_MAX_SECS;
        match raw >> STATE_SHIFT {
            FREE => Word::Free,
            HELD => Word::Held { holder, until },
            OFFERED => Word::Offered { holder, until },
            BOOKED => Word::Booked { holder },
            // Only the five codes above are ever written; anything else would be Returned.
            _ => Word::Returned,
        }
    }

    pub(super) fn state(self) -> SlotState {
        match self {
            Word::Free => SlotState::Free,
            Word::Held { .. } => SlotState::Held,
            Word::Offered { .. } => SlotState::Offered,
            Word::Booked { .. } => SlotState::Booked,
            Word::Returned => SlotState::Returned,
        }
    }

    pub(super) fn holder(self) -> Option<u32> {
        match self {
            Word::Held { holder, .. } | Word::Offered { holder, .. } | Word::Booked { holder } => Some(holder),
            Word::Free | Word::Returned => None,
        }
    }

    /// States a slot can leave for Free only through a recorded transition; listings may skip
    /// a run of them (see `Group::scan_from`). A held slot is not one: it frees itself by expiry.
    pub(super) fn is_parked(self) -> bool {
        matches!(self, Word::Offered { .. } | Word::Booked { .. } | Word::Returned)
    }
}

/// Converts deadlines between microseconds and the whole seconds since the epoch that a word
/// holds, rounding up so that a hold never ends before the moment it was granted for.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadlines {
    epoch_micros: i64,
}

impl Deadlines {
    pub(super) fn new(epoch_micros: i64) -> Self {
        Self { epoch_micros }
    }

    pub(super) fn to_secs(self, until_micros: i64) -> CoreResult<u32> {
        let since = i128::from(until_micros) - i128::from(self.epoch_micros);
        if since < 0 {
            return Err(CoreError::InvalidArgument(format!(
                "deadline {until_micros} lies before the inventory's epoch {}",
                self.epoch_micros
            )));
        }
        let secs = (since + i128::from(MICROS_PER_SECOND) - 1) / i128::from(MICROS_PER_SECOND);
        match u32::try_from(secs) {
            Ok(secs) if secs <= UNTIL_MAX_SECS => Ok(secs),
            _ => Err(CoreError::InvalidArgument(format!(
                "deadline {until_micros} lies more than {UNTIL_MAX_SECS} s after the inventory's epoch"
            ))),
        }
    }

    pub(super) fn epoch_micros(self) -> i64 {
        self.epoch_micros
    }

    pub(super) fn to_micros(self, secs: u32) -> i64 {
        self.epoch_micros.saturating_add(i64::from(secs) * MICROS_PER_SECOND)
    }

    /// A hold or offer is live while `now` is before its deadline.
    pub(super) fn is_live(self, until_secs: u32, now_micros: i64) -> bool {
        now_micros < self.to_micros(until_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        let words = [
            Word::Free,
            Word::Held { holder: u32::MAX, until: UNTIL_MAX_SECS },
            Word::Held { holder: 0, until: 0 },
            Word::Offered { holder: 7, until: 12345 },
            Word::Booked { holder: 42 },
            Word::Returned,
        ];
        for word in words {
            assert_eq!(Word::unpack(word.pack()), word);
        }
        assert_eq!(Word::Free.pack(), 0);
    }

    #[test]
    fn deadlines_round_up_and_stay_in_range() {
        let d = Deadlines::new(1_000_000);
        assert_eq!(d.to_secs(1_000_000).unwrap(), 0);
        assert_eq!(d.to_secs(1_000_001).unwrap(), 1);
        assert_eq!(d.to_secs(2_000_000).unwrap(), 1);
        assert_eq!(d.to_micros(1), 2_000_000);
        assert!(d.to_secs(999_999).is_err());
        let last = 1_000_000 + i64::from(UNTIL_MAX_SECS) * MICROS_PER_SECOND;
        assert_eq!(d.to_secs(last).unwrap(), UNTIL_MAX_SECS);
        assert!(matches!(d.to_secs(last + 1), Err(CoreError::InvalidArgument(_))));
        assert!(d.to_secs(i64::MAX).is_err());
        assert!(d.is_live(1, 1_999_999));
        assert!(!d.is_live(1, 2_000_000));
    }
}
