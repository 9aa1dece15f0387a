//! A room's personal data and how it is forgotten. What is personal: the identity index (kept
//! as pseudonyms, see `pseudonym`, but each still tells a returning person from others), the
//! labels visitors' clients sent, and the booking codes visitors were shown (each leads to a
//! booking, so to a person's appointment). An entry room's vouched identity (`sub`) is not kept:
//! the room reads it from the visitor's token. Ticket numbers, states and times, slots and the
//! audit log's counts stay: with the rest gone they say nothing about who held them.
//!
//! When: `RoomConfig::personal_data_due_at`, checked by the server's background task through
//! `forget_personal_data_if_due`; or at once by the operator (`forget_personal_data`), but only
//! in a room that has closed, since an open room needs its identities to keep one person to
//! one place.

use super::Room;
use crate::errors::{CoreError, CoreResult};
use crate::queue::QueueState;

/// The audit log's action for a deletion of personal data.
pub const FORGET_ACTION: &str = "forget_personal_data";
/// The audit log's actor when the retention ran out.
pub const RETENTION_ACTOR: &str = "retention";

/// What a deletion removed, by kind: counts, never the values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forgotten {
    pub identities: u64,
    pub labels: u64,
    pub booking_codes: u64,
}

impl Forgotten {
    pub fn total(&self) -> u64 {
        self.identities + self.labels + self.booking_codes
    }

    /// The audit entry's reason: the counts by kind, so the log shows what went without
    /// keeping any of it.
    pub fn audit_reason(&self) -> String {
        format!(
            "personal data deleted: {} identities, {} labels, {} booking codes",
            self.identities, self.labels, self.booking_codes
        )
    }
}

impl Room {
    /// When this room's personal data is due for deletion (see
    /// `RoomConfig::personal_data_due_at`), in micros; `None` for a room that never closes.
    pub fn personal_data_due_at(&self) -> Option<i64> {
        let last_slot_start = self.inventory.last_slot_start();
        self.queue.lock().config.personal_data_due_at(last_slot_start)
    }

    /// The operator's deletion: refused (`RoomNotClosed`) while the room has not closed.
    /// Audited as `forget_personal_data` by `actor`, with the counts.
    pub fn forget_personal_data(&self, actor: &str) -> CoreResult<Forgotten> {
        super::check_audit(actor, None)?;
        let now = self.now();
        let forgotten = {
            let mut queue = self.queue.lock();
            queue.advance_phase(now);
            if !queue.closed {
                return Err(CoreError::RoomNotClosed);
            }
            self.forget_locked(&mut queue, now)
        };
        self.audit(FORGET_ACTION, actor, forgotten.total(), Some(forgotten.audit_reason()));
        Ok(forgotten)
    }

    /// The retention's deletion: once `personal_data_due_at` has come, deletes what personal
    /// data there is, audited with the actor `retention`. `None` when it is not due or there
    /// is nothing to delete, so that running it often adds no audit entries.
    pub fn forget_personal_data_if_due(&self) -> Option<Forgotten> {
        let now = self.now();
        // The earliest it can be due (the slots can only make it later) and whether there is
        // anything, before the slots are looked at: the retention task asks every few seconds.
        {
            let queue = self.queue.lock();
            let earliest = queue.config.personal_data_due_at(None);
            if earliest.is_none_or(|due| now < due) || !(queue.holds_personal_data() || self.inventory.holds_codes()) {
                return None;
            }
        }
        if self.personal_data_due_at().is_none_or(|due| now < due) {
            return None;
        }
        let forgotten = {
            let mut queue = self.queue.lock();
            queue.advance_phase(now);
            if !queue.closed || !(queue.holds_personal_data() || self.inventory.holds_codes()) {
                return None;
            }
            self.forget_locked(&mut queue, now)
        };
        self.audit(FORGET_ACTION, RETENTION_ACTOR, forgotten.total(), Some(forgotten.audit_reason()));
        Some(forgotten)
    }

    fn forget_locked(&self, queue: &mut QueueState, now: i64) -> Forgotten {
        // The queue's record first: replay then meets the codes' records after it.
        let (identities, labels) = queue.forget_personal_data(now);
        let booking_codes = self.inventory.forget_codes();
        Forgotten { identities, labels, booking_codes }
    }
}
