//! The slots themselves, their groups and the indexes over them. The table changes shape only
//! when slots are added (under the inventory's write lock); every other change is to the atomic
//! words inside it, under a read lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use super::id_index::IdIndex;
use super::word::Word;
use super::{SlotSpec, SlotState};
use crate::errors::{CoreError, CoreResult};

/// A slot's (or group's) index as stored. `Table::add` refuses more slots than a u32 counts, and
/// every group holds a slot, so this never fails; were it to, failing beats wrapping into the
/// index of another slot.
pub(super) fn slot_index(index: usize) -> u32 {
    u32::try_from(index).expect("Table::add keeps the slot count within u32")
}

pub(super) struct Slot {
    pub(super) id: Box<str>,
    pub(super) starts_at: i64,
    pub(super) group: u32,
    /// Position in the group's `order`.
    pub(super) position: u32,
    pub(super) word: AtomicU64,
    /// The booking code while the slot is booked, else 0. Read and written only under the code
    /// book's lock, which covers every transition into and out of Booked.
    pub(super) code: AtomicU64,
}

impl Slot {
    pub(super) fn load(&self) -> (u64, Word) {
        let raw = self.word.load(Ordering::Acquire);
        (raw, Word::unpack(raw))
    }

    /// The one way a slot changes state: `Err` carries the word found instead.
    pub(super) fn swap(&self, seen: u64, next: Word) -> Result<(), u64> {
        self.word.compare_exchange(seen, next.pack(), Ordering::AcqRel, Ordering::Acquire).map(drop)
    }
}

/// How many slots of a group are in each state, kept up to date by every transition so that
/// availability costs one read per group. Padded to a cache line: groups are claimed in parallel.
#[repr(align(64))]
#[derive(Debug, Default)]
pub(super) struct StateCounts([AtomicI64; 5]);

impl StateCounts {
    fn cell(&self, state: SlotState) -> &AtomicI64 {
        &self.0[state as usize]
    }

    pub(super) fn shift(&self, from: SlotState, to: SlotState) {
        if from != to {
            self.cell(to).fetch_add(1, Ordering::Relaxed);
            self.cell(from).fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Sets every count at once, for a restored inventory that nobody uses yet.
    pub(super) fn set_all(&self, counts: [i64; 5]) {
        for (cell, count) in self.0.iter().zip(counts) {
            cell.store(count, Ordering::Relaxed);
        }
    }

    /// The count of one state. A transition raises the new state's count after its swap, so a
    /// reader racing it may see the old state's count one short; never below zero.
    pub(super) fn get(&self, state: SlotState) -> u64 {
        self.cell(state).load(Ordering::Relaxed).max(0).cast_unsigned()
    }
}

pub(super) struct Group {
    pub(super) name: Arc<str>,
    /// Slot indices sorted by (starts_at, id): the order of listings and alternatives.
    pub(super) order: Vec<u32>,
    pub(super) counts: StateCounts,
    /// Generation (high 32 bits) and position (low 32 bits): every slot before the position is
    /// offered, booked or returned, so a search for free slots may start there. Those states
    /// become free only through `note_freed`, which moves the position back and bumps the
    /// generation; a scan may move the position forward only if the generation it started from
    /// is still current, so it can never skip a slot freed while it looked.
    scan_hint: AtomicU64,
}

impl Group {
    fn new(name: Arc<str>) -> Self {
        Self { name, order: Vec::new(), counts: StateCounts::default(), scan_hint: AtomicU64::new(0) }
    }

    // The scan hint packs a generation (high 32 bits) and a position (low 32 bits); the casts
    // to u32 below take the low half on purpose.
    /// Where a search for free slots may start, and the snapshot to pass to `advance_scan`.
    #[allow(clippy::cast_possible_truncation)]
    pub(super) fn scan_from(&self) -> (u64, usize) {
        let hint = self.scan_hint.load(Ordering::SeqCst);
        (hint, (hint as u32 as usize).min(self.order.len()))
    }

    /// Records that every slot before `position` was found parked during a scan that started
    /// from `snapshot`.
    #[allow(clippy::cast_possible_truncation)]
    pub(super) fn advance_scan(&self, snapshot: u64, position: usize) {
        if position > snapshot as u32 as usize {
            let next = (snapshot & !u64::from(u32::MAX)) | position as u64;
            // Losing this race only means a later scan starts earlier.
            let _ = self.scan_hint.compare_exchange(snapshot, next, Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    /// Must follow every swap into Free.
    #[allow(clippy::cast_possible_truncation)]
    pub(super) fn note_freed(&self, position: u32) {
        let _ = self.scan_hint.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |hint| {
            let generation = (hint >> 32).wrapping_add(1);
            Some((generation << 32) | u64::from((hint as u32).min(position)))
        });
    }

    pub(super) fn reset_scan(&mut self) {
        let generation = (*self.scan_hint.get_mut() >> 32).wrapping_add(1);
        *self.scan_hint.get_mut() = generation << 32;
    }
}

#[derive(Default)]
pub(super) struct Table {
    pub(super) slots: Vec<Slot>,
    by_id: IdIndex,
    pub(super) groups: Vec<Group>,
    group_by_name: HashMap<Arc<str>, u32>,
    /// Group indices sorted by name.
    pub(super) groups_by_name: Vec<u32>,
}

impl Table {
    pub(super) fn index_of(&self, slot_id: &str) -> CoreResult<u32> {
        let slots = &self.slots;
        self.by_id
            .find(slot_id, |index| &slots[index as usize].id)
            .ok_or_else(|| CoreError::UnknownSlot(slot_id.to_owned()))
    }

    pub(super) fn slot(&self, index: u32) -> &Slot {
        &self.slots[index as usize]
    }

    pub(super) fn group_of(&self, slot: &Slot) -> &Group {
        &self.groups[slot.group as usize]
    }

    pub(super) fn group_named(&self, name: &str) -> Option<&Group> {
        self.group_by_name.get(name).map(|&g| &self.groups[g as usize])
    }

    /// Adds all slots or none. New slots are Free. The slots' ids, groups and starts are
    /// checked where they arrive (`Inventory::add_slots`), not here: saved slots come back as
    /// they were saved.
    pub(super) fn add(&mut self, specs: Vec<SlotSpec>) -> CoreResult<usize> {
        if self.slots.len() + specs.len() > u32::MAX as usize {
            return Err(CoreError::InvalidArgument("too many slots for one inventory".into()));
        }
        self.claim_ids(&specs)?;
        let first_new = self.slots.len();
        self.slots.reserve(specs.len());
        let mut touched = vec![false; self.groups.len()];
        // Slots usually come grouped: remember the last group instead of looking each one up.
        let mut last_group: Option<u32> = None;
        for spec in specs {
            let group = match last_group {
                Some(g) if *self.groups[g as usize].name == *spec.group => g,
                _ => self.group_index(spec.group),
            };
            last_group = Some(group);
            if touched.len() <= group as usize {
                touched.resize(group as usize + 1, false);
            }
            touched[group as usize] = true;
            self.groups[group as usize].order.push(slot_index(self.slots.len()));
            self.slots.push(Slot {
                id: spec.id.into_boxed_str(),
                starts_at: spec.starts_at,
                group,
                position: 0,
                word: AtomicU64::new(Word::Free.pack()),
                code: AtomicU64::new(0),
            });
        }
        for (group, _) in touched.iter().enumerate().filter(|(_, &t)| t) {
            self.reindex_group(group, first_new);
        }
        Ok(self.slots.len() - first_new)
    }

    /// Enters the new ids into the id index, or none of them if one repeats.
    fn claim_ids(&mut self, specs: &[SlotSpec]) -> CoreResult<()> {
        let first_new = self.slots.len();
        let slots = &self.slots;
        let id_of = |index: u32| match (index as usize).checked_sub(first_new) {
            Some(new) => specs[new].id.as_str(),
            None => &*slots[index as usize].id,
        };
        self.by_id.reserve(specs.len());
        let mut entered = Vec::with_capacity(specs.len());
        for (offset, spec) in specs.iter().enumerate() {
            match self.by_id.insert(&spec.id, slot_index(first_new + offset), id_of) {
                Ok(bucket) => entered.push(bucket),
                Err(_) => {
                    for bucket in entered.into_iter().rev() {
                        self.by_id.forget_last(bucket);
                    }
                    return Err(CoreError::DuplicateSlot(spec.id.clone()));
                }
            }
        }
        Ok(())
    }

    fn group_index(&mut self, name: String) -> u32 {
        if let Some(&group) = self.group_by_name.get(name.as_str()) {
            return group;
        }
        let group = slot_index(self.groups.len());
        let name: Arc<str> = Arc::from(name);
        let at = self.groups_by_name.partition_point(|&g| *self.groups[g as usize].name < *name);
        self.groups_by_name.insert(at, group);
        self.groups.push(Group::new(Arc::clone(&name)));
        self.group_by_name.insert(name, group);
        group
    }

    /// Sorts a group after new slots were appended to it and counts the new ones as free.
    fn reindex_group(&mut self, group: usize, first_new: usize) {
        let slots = &mut self.slots;
        let target = &mut self.groups[group];
        // Stable sort: the old part is one sorted run, so this is close to a merge.
        target.order.sort_by(|&a, &b| {
            let (a, b) = (&slots[a as usize], &slots[b as usize]);
            a.starts_at.cmp(&b.starts_at).then_with(|| a.id.cmp(&b.id))
        });
        let mut added = 0;
        for (position, &index) in target.order.iter().enumerate() {
            slots[index as usize].position = slot_index(position);
            if index as usize >= first_new {
                added += 1;
            }
        }
        target.counts.cell(SlotState::Free).fetch_add(added, Ordering::Relaxed);
        // Positions moved: start scans from the front again.
        target.reset_scan();
    }
}
