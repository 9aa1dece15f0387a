//! The values the inventory takes and hands out. They own their strings, so callers may keep
//! them without holding anything of the inventory.

use crate::errors::{CoreError, CoreResult};
use crate::limits;

/// A slot to add: `id` is unique in the inventory, `group` is what visitors choose between (a
/// centre on a day), `starts_at` orders the slots of a group (microseconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotSpec {
    pub id: String,
    pub group: String,
    pub starts_at: i64,
}

impl SlotSpec {
    /// The id, the group and the start against their rules (see `limits`): `InvalidArgument`
    /// naming the slot and what is wrong.
    pub fn validate(&self) -> CoreResult<()> {
        let check = || -> Result<(), String> {
            limits::SLOT_ID.check(&self.id)?;
            limits::GROUP.check(&self.group)?;
            limits::TIMES.check("starts_at", self.starts_at)
        };
        check().map_err(|reason| {
            if limits::SLOT_ID.accepts(&self.id) {
                CoreError::InvalidArgument(format!("slot {:?}: {reason}", self.id))
            } else {
                CoreError::InvalidArgument(reason)
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    Free,
    /// Held for one visitor while they choose; claimable by others once `until` has passed.
    Held,
    /// Offered to one visitor from the waiting list; nobody else may claim it, even after
    /// `until`, until the room passes it on.
    Offered,
    Booked,
    /// Cancelled; waits for a release window or an offer.
    Returned,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlotInfo {
    pub id: String,
    pub group: String,
    pub starts_at: i64,
    pub state: SlotState,
    pub holder: Option<u32>,
    /// The deadline of a hold or offer.
    pub until: Option<i64>,
}

/// A granted hold (or the view of a live offer to the same visitor). `until` is the deadline as
/// stored: the requested one rounded up to a whole second after the inventory's epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Hold {
    pub slot: String,
    pub group: String,
    pub starts_at: i64,
    pub holder: u32,
    pub until: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    /// Canonical spelling, e.g. "7K3QD-X9M2A".
    pub code: String,
    pub slot: String,
    pub group: String,
    pub starts_at: i64,
    pub holder: u32,
    /// When it was cancelled; `None` while it stands.
    pub cancelled_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupAvailability {
    pub group: String,
    pub free: u64,
    /// Includes holds that have expired but were not swept or taken over yet.
    pub held: u64,
    pub offered: u64,
    pub booked: u64,
    pub returned: u64,
}

/// True once slots were loaded and none is free, held or offered any more: a hold or an offer
/// may still lapse, and returned slots waiting for a release window do not count as free. The
/// one rule of "sold out", from the counts either backend keeps.
pub fn sold_out(groups: &[GroupAvailability]) -> bool {
    !groups.is_empty() && groups.iter().all(|g| g.free == 0 && g.held == 0 && g.offered == 0)
}
