//! How many holds and bookings each ticket has, for the per-visitor limit.
//!
//! The count is raised before the compare-and-swap that grants a hold or booking and lowered
//! only after the one that ends it, so at every instant it is at least the true number. Checking
//! and raising it under the holder's shard lock therefore enforces the limit exactly, however
//! many claims of one visitor race. Whoever performs the swap that ends a hold or booking lowers
//! the count, exactly once.
//!
//! Each entry also lists the slots the ticket holds (not booked), so that a visitor whose hold
//! expired can claim again at once instead of waiting for the next sweep.

use std::collections::HashMap;

use parking_lot::{Mutex, MutexGuard};

use super::int_hash::IntBuildHasher;

const SHARDS: usize = 64;

const INLINE_HOLDS: usize = 2;

/// One ticket's share of the inventory: 24 bytes, since the ledger has one per visitor who
/// holds or booked anything.
#[derive(Debug, Default)]
pub(super) struct Entry {
    /// Holds plus bookings.
    pub(super) count: u32,
    /// The slot indices of its holds: the first ones inline, since a visitor holds one or two
    /// slots at a time, the rest on the heap. Whoever ends a hold removes one occurrence, so a
    /// slot held, taken over and held again is listed no more often than it has holds to end.
    inline_len: u32,
    inline: [u32; INLINE_HOLDS],
    /// Not empty only while `inline` is full.
    #[allow(clippy::box_collection, reason = "one pointer instead of a vector's three words")]
    spilled: Option<Box<Vec<u32>>>,
}

impl Entry {
    pub(super) fn push_hold(&mut self, slot: u32) {
        let len = self.inline_len as usize;
        if len < INLINE_HOLDS {
            self.inline[len] = slot;
            self.inline_len += 1;
        } else {
            self.spilled.get_or_insert_with(Box::default).push(slot);
        }
    }

    pub(super) fn remove_hold(&mut self, slot: u32) {
        let len = self.inline_len as usize;
        if let Some(at) = self.inline[..len].iter().position(|&s| s == slot) {
            if let Some(moved) = self.spilled.as_mut().and_then(|more| more.pop()) {
                self.inline[at] = moved;
            } else {
                self.inline_len -= 1;
                self.inline[at] = self.inline[len - 1];
            }
        } else if let Some(more) = self.spilled.as_mut() {
            if let Some(at) = more.iter().position(|&s| s == slot) {
                more.swap_remove(at);
            }
        }
        if self.spilled.as_ref().is_some_and(|more| more.is_empty()) {
            self.spilled = None;
        }
    }

    pub(super) fn holds(&self) -> Vec<u32> {
        let more = self.spilled.as_deref().map_or(&[][..], Vec::as_slice);
        self.inline[..self.inline_len as usize].iter().chain(more).copied().collect()
    }

    fn is_idle(&self) -> bool {
        self.count == 0 && self.inline_len == 0
    }
}

type Entries = HashMap<u32, Entry, IntBuildHasher>;

#[repr(align(64))]
#[derive(Debug, Default)]
struct Shard(Mutex<Entries>);

#[derive(Debug)]
pub(super) struct HolderLedger {
    shards: Box<[Shard]>,
}

impl Default for HolderLedger {
    fn default() -> Self {
        Self { shards: (0..SHARDS).map(|_| Shard::default()).collect() }
    }
}

/// A locked shard of the ledger.
pub(super) struct LedgerGuard<'a> {
    entries: MutexGuard<'a, Entries>,
}

impl LedgerGuard<'_> {
    pub(super) fn entry(&mut self, holder: u32) -> &mut Entry {
        self.entries.entry(holder).or_default()
    }

    /// Takes back a count raised by `reserve` for a claim that did not happen.
    pub(super) fn undo_reservation(&mut self, holder: u32) {
        let entry = self.entry(holder);
        entry.count = entry.count.saturating_sub(1);
        self.forget_if_idle(holder);
    }

    pub(super) fn end_hold(&mut self, holder: u32, slot: u32) {
        let entry = self.entry(holder);
        entry.count = entry.count.saturating_sub(1);
        entry.remove_hold(slot);
        self.forget_if_idle(holder);
    }

    pub(super) fn hold_became_booking(&mut self, holder: u32, slot: u32) {
        self.entry(holder).remove_hold(slot);
    }

    pub(super) fn add_booking(&mut self, holder: u32) {
        self.entry(holder).count += 1;
    }

    pub(super) fn end_booking(&mut self, holder: u32) {
        let entry = self.entry(holder);
        entry.count = entry.count.saturating_sub(1);
        self.forget_if_idle(holder);
    }

    /// Drops the entry of a ticket with nothing left, so the ledger stays as small as the set of
    /// tickets that hold or booked something.
    pub(super) fn forget_if_idle(&mut self, holder: u32) {
        if self.entries.get(&holder).is_some_and(Entry::is_idle) {
            self.entries.remove(&holder);
        }
    }
}

impl HolderLedger {
    fn shard_index(holder: u32) -> usize {
        // Ticket ids are sequential: the low bits spread them evenly.
        holder as usize % SHARDS
    }

    pub(super) fn same_shard(a: u32, b: u32) -> bool {
        Self::shard_index(a) == Self::shard_index(b)
    }

    pub(super) fn lock(&self, holder: u32) -> LedgerGuard<'_> {
        LedgerGuard { entries: self.shards[Self::shard_index(holder)].0.lock() }
    }

    pub(super) fn count(&self, holder: u32) -> u32 {
        self.lock(holder).entries.get(&holder).map_or(0, |e| e.count)
    }

    pub(super) fn end_hold(&self, holder: u32, slot: u32) {
        self.lock(holder).end_hold(holder, slot);
    }

    pub(super) fn hold_became_booking(&self, holder: u32, slot: u32) {
        self.lock(holder).hold_became_booking(holder, slot);
    }

    pub(super) fn add_booking(&self, holder: u32) {
        self.lock(holder).add_booking(holder);
    }

    pub(super) fn end_booking(&self, holder: u32) {
        self.lock(holder).end_booking(holder);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_lists_holds_inline_then_spills() {
        assert_eq!(std::mem::size_of::<Entry>(), 24);
        let mut entry = Entry::default();
        for slot in [1, 2, 3, 2, 5] {
            entry.push_hold(slot);
        }
        entry.remove_hold(2);
        entry.remove_hold(9);
        let mut left = entry.holds();
        left.sort_unstable();
        assert_eq!(left, [1, 2, 3, 5]);
        for slot in [1, 5, 3, 2] {
            entry.remove_hold(slot);
        }
        assert!(entry.holds().is_empty() && entry.spilled.is_none());
        assert!(entry.is_idle());
    }
}
