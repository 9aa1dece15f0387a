//! Reading the inventory: single slots and bookings, listings and counts. Nothing here changes
//! a slot, except that listings move a group's scan hint.

use super::booking_code::parse_code;
use super::records::{Booking, GroupAvailability, SlotInfo, SlotState};
use super::table::{Group, Slot};
use super::word::Word;
use super::{scan, Inventory};
use crate::errors::{CoreError, CoreResult};

impl Inventory {
    /// Looks a booking up by its code, typed in any case, with or without the dash; a cancelled
    /// one answers with `cancelled_at`.
    pub fn booking(&self, code: &str) -> CoreResult<Booking> {
        let code = parse_code(code).ok_or(CoreError::UnknownBooking)?;
        let table = self.table.read();
        let codes = self.codes.lock();
        let Some(index) = codes.slot_of(code) else {
            return codes
                .cancelled(code)
                .map(|c| Self::cancelled_booking_of(&table, code, c))
                .ok_or(CoreError::UnknownBooking);
        };
        let slot = table.slot(index);
        match slot.load().1 {
            Word::Booked { holder } => Ok(Self::booking_of(&table, slot, holder, code)),
            _ => Err(CoreError::UnknownBooking),
        }
    }

    /// Returned slot ids, earliest `starts_at` first (then by id): the order in which the
    /// waiting list is offered them.
    pub fn returned_slots(&self) -> Vec<String> {
        let table = self.table.read();
        let mut returned: Vec<&Slot> = Vec::new();
        for group in table.groups.iter().filter(|g| g.counts.get(SlotState::Returned) > 0) {
            let slots = group.order.iter().map(|&index| table.slot(index));
            returned.extend(slots.filter(|slot| slot.load().1 == Word::Returned));
        }
        returned.sort_by(|a, b| a.starts_at.cmp(&b.starts_at).then_with(|| a.id.cmp(&b.id)));
        returned.into_iter().map(|slot| slot.id.to_string()).collect()
    }

    /// Slot counts by state for each group, groups sorted by name.
    pub fn availability(&self) -> Vec<GroupAvailability> {
        let table = self.table.read();
        table
            .groups_by_name
            .iter()
            .map(|&g| {
                let group = &table.groups[g as usize];
                let count = |state| group.counts.get(state);
                GroupAvailability {
                    group: group.name.to_string(),
                    free: count(SlotState::Free),
                    held: count(SlotState::Held),
                    offered: count(SlotState::Offered),
                    booked: count(SlotState::Booked),
                    returned: count(SlotState::Returned),
                }
            })
            .collect()
    }

    /// Claimable slots ordered by (group, starts_at, id), optionally of one group, paged by
    /// `offset` and `limit`. A hold that lapsed by `now` is listed as Free: the next claim takes
    /// it over.
    pub fn free_slots(&self, group: Option<&str>, now: i64, offset: usize, limit: usize) -> Vec<SlotInfo> {
        let table = self.table.read();
        let groups: Vec<&Group> = match group {
            Some(name) => table.group_named(name).into_iter().collect(),
            None => table.groups_by_name.iter().map(|&g| &table.groups[g as usize]).collect(),
        };
        let mut listed = Vec::new();
        let mut skipped = 0;
        for group in groups {
            if listed.len() >= limit {
                break;
            }
            scan::claimable(&table, group, self.deadlines, now, |slot| {
                if skipped < offset {
                    skipped += 1;
                } else {
                    listed.push(SlotInfo {
                        id: slot.id.to_string(),
                        group: group.name.to_string(),
                        starts_at: slot.starts_at,
                        state: SlotState::Free,
                        holder: None,
                        until: None,
                    });
                }
                listed.len() < limit
            });
        }
        listed
    }

    /// The exact state of one slot.
    pub fn slot(&self, slot_id: &str) -> CoreResult<SlotInfo> {
        let table = self.table.read();
        let slot = table.slot(table.index_of(slot_id)?);
        let word = slot.load().1;
        let until = match word {
            Word::Held { until, .. } | Word::Offered { until, .. } => Some(self.deadlines.to_micros(until)),
            _ => None,
        };
        Ok(SlotInfo {
            id: slot.id.to_string(),
            group: table.group_of(slot).name.to_string(),
            starts_at: slot.starts_at,
            state: word.state(),
            holder: word.holder(),
            until,
        })
    }

    /// The holds (lapsed ones included until swept or taken over) and bookings of a ticket.
    pub fn holds_and_bookings_of(&self, holder: u32) -> u32 {
        self.holders.count(holder)
    }

    /// True once slots were loaded and none is free, held or offered any more (`sold_out`).
    pub fn sold_out(&self) -> bool {
        super::records::sold_out(&self.availability())
    }

    /// How many bookings are live (booked and not cancelled).
    pub fn booking_count(&self) -> usize {
        self.codes.lock().len()
    }
}
