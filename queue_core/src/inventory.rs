//! The slot inventory: which appointment slots are free, held while a visitor chooses, offered
//! to someone on the waiting list, booked, or returned by a cancellation.
//!
//! Each slot's state is one atomic word and every transition is a compare-and-swap on it, so of
//! any number of concurrent claims exactly one wins and the others learn at once that the slot
//! is taken, with free alternatives from the same group. Nobody reaches the end of the queue to
//! read "already taken" because two people were promised the same slot.
//!
//! Returned slots never become free by themselves: the room frees them at a release window
//! (`release_returned`) or offers them one by one to its waiting list (`offer`).

mod booking_code;
mod holders;
mod id_index;
mod int_hash;
mod queries;
mod records;
mod restore;
mod scan;
mod table;
mod word;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod stress_tests;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::errors::{CoreError, CoreResult};
use crate::events::Event;
use crate::journal::{append_encoded, write_frame, JournalSink};
use booking_code::{format_code, parse_code, Cancelled, CodeBook};
use holders::{HolderLedger, LedgerGuard};
use std::sync::atomic::Ordering;
use table::{Slot, Table};
use word::{Deadlines, Word};

pub use records::{sold_out, Booking, GroupAvailability, Hold, SlotInfo, SlotSpec, SlotState};

/// How many free slots a `SlotTaken` error suggests instead.
pub const MAX_ALTERNATIVES: usize = 5;

/// The slots of one room. Every method takes `&self` and the inventory is `Send + Sync`.
///
/// Locks, outermost first: the table (shared by everything but `add_slots`), the code book
/// (bookings and cancellations), one shard of the per-visitor counts. A claim takes only the
/// table's shared lock and its visitor's shard, so claims run in parallel, on the same slot too.
pub struct Inventory {
    deadlines: Deadlines,
    table: RwLock<Table>,
    holders: HolderLedger,
    /// Live booking codes. Every transition into or out of Booked happens under this lock.
    codes: Mutex<CodeBook>,
    /// Where slot transitions are recorded, when the room is journaled.
    journal: Option<Arc<JournalSink>>,
}

/// What a claim on a slot would do, judged from the word it found.
enum Claim {
    /// The visitor already holds it (or has it offered), live: the claim is answered as is.
    Own {
        until: u32,
    },
    /// The visitor's own hold has lapsed: it is renewed without touching the counts.
    Renew,
    /// The slot is free, or held by someone whose hold lapsed (`previous`).
    New {
        previous: Option<u32>,
    },
    Taken,
}

impl Inventory {
    /// `epoch_micros` anchors the deadlines of holds and offers, which are stored in whole
    /// seconds after it and may lie at most 2^29 − 1 s (17 years) beyond it.
    pub fn new(epoch_micros: i64) -> Self {
        Self {
            deadlines: Deadlines::new(epoch_micros),
            table: RwLock::new(Table::default()),
            holders: HolderLedger::default(),
            codes: Mutex::new(CodeBook::default()),
            journal: None,
        }
    }

    /// Records every later change in `journal`.
    pub fn attach_journal(&mut self, journal: Arc<JournalSink>) {
        self.journal = Some(journal);
    }

    /// Adds slots, all or nothing: `DuplicateSlot(id)` if an id repeats in the batch or exists
    /// already; `InvalidArgument` for an id, group or start outside its rule (`limits`).
    pub fn add_slots(&self, slots: Vec<SlotSpec>) -> CoreResult<usize> {
        for spec in &slots {
            spec.validate()?;
        }
        let Some(journal) = &self.journal else { return self.table.write().add(slots) };
        // Encoded before the slots move into the table; recorded only if they were added, while
        // the table is still locked, so no record of a change to them can come first.
        let mut record = Vec::new();
        write_frame(&mut record, |out| Event::SlotsAdded { slots: Cow::Borrowed(&slots) }.encode(out));
        let mut table = self.table.write();
        let added = table.add(slots)?;
        journal.lock().extend_from_slice(&record);
        drop(table);
        Ok(added)
    }

    /// Adds slots as a journal recorded them: the rules of `SlotSpec::validate` are the rules
    /// of input, and a slot loaded before a rule was narrowed must still come back.
    pub(crate) fn replay_slots_added(&mut self, slots: Vec<SlotSpec>) -> CoreResult<usize> {
        self.table.get_mut().add(slots)
    }

    pub fn len(&self) -> usize {
        self.table.read().slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Claims a slot for `holder` until `until`. Holding again a slot one holds returns the
    /// existing hold unchanged; a lapsed hold of anyone is taken over.
    ///
    /// Errors: `InvalidArgument` if `until` is not after `now` or out of range; `UnknownSlot`;
    /// `SlotTaken` with up to five free slots of the same group, earliest first; `LimitReached`
    /// when `holder` already has `limit` holds and bookings.
    pub fn hold(&self, slot_id: &str, holder: u32, now: i64, until: i64, limit: u32) -> CoreResult<Hold> {
        if until <= now {
            return Err(CoreError::InvalidArgument(format!("a hold must end after now (until {until} <= now {now})")));
        }
        let until_secs = self.deadlines.to_secs(until)?;
        let table = self.table.read();
        let index = table.index_of(slot_id)?;
        let slot = table.slot(index);
        let wanted = Word::Held { holder, until: until_secs };
        let (mut seen, _) = slot.load();
        // Some while this claim has a count reserved in the holder's (locked) ledger shard.
        let mut reserved: Option<LedgerGuard<'_>> = None;
        loop {
            let claim = self.judge_claim(Word::unpack(seen), holder, now);
            if !matches!(claim, Claim::New { .. }) {
                if let Some(mut guard) = reserved.take() {
                    guard.undo_reservation(holder);
                }
            }
            match claim {
                Claim::Own { until } => return Ok(self.hold_of(&table, slot, holder, until)),
                Claim::Taken => return Err(self.slot_taken(&table, slot, now)),
                Claim::Renew => match self.swap(slot, index, seen, wanted, 0) {
                    Ok(()) => return Ok(self.hold_of(&table, slot, holder, until_secs)),
                    Err(found) => seen = found,
                },
                Claim::New { previous } => {
                    let mut guard = match reserved.take() {
                        Some(guard) => guard,
                        None => self.reserve(&table, holder, limit, now)?,
                    };
                    if let Err(found) = self.swap(slot, index, seen, wanted, 0) {
                        seen = found;
                        reserved = Some(guard);
                        continue;
                    }
                    guard.entry(holder).push_hold(index);
                    match previous {
                        None => Self::record(&table, slot, SlotState::Free, SlotState::Held),
                        Some(lapsed) if HolderLedger::same_shard(lapsed, holder) => guard.end_hold(lapsed, index),
                        Some(lapsed) => {
                            drop(guard);
                            self.holders.end_hold(lapsed, index);
                        }
                    }
                    return Ok(self.hold_of(&table, slot, holder, until_secs));
                }
            }
        }
    }

    /// Books a slot that `holder` holds or has been offered, before the deadline, under a new
    /// code. Confirming one's own booked slot again returns the same booking.
    ///
    /// Errors: `UnknownSlot`; `NoHold` (free or returned); `NotHolder` (someone else's);
    /// `HoldExpired` (one's own, past its deadline).
    pub fn confirm(&self, slot_id: &str, holder: u32, now: i64) -> CoreResult<Booking> {
        self.confirm_within(slot_id, holder, now, u32::MAX)
    }

    /// `confirm`, where booking an offer must keep the holder within `limit` holds and
    /// bookings (`LimitReached` otherwise; lapsed holds of the holder are ended first).
    pub fn confirm_within(&self, slot_id: &str, holder: u32, now: i64, limit: u32) -> CoreResult<Booking> {
        let table = self.table.read();
        let index = table.index_of(slot_id)?;
        let slot = table.slot(index);
        let (mut seen, _) = slot.load();
        loop {
            let word = Word::unpack(seen);
            match word {
                Word::Free | Word::Returned => return Err(CoreError::NoHold),
                Word::Booked { holder: owner } if owner != holder => return Err(CoreError::NotHolder),
                Word::Booked { .. } => {
                    let codes = self.codes.lock();
                    let current = slot.word.load(Ordering::Acquire);
                    if current == seen {
                        let code = slot.code.load(Ordering::Relaxed);
                        return Ok(Self::booking_of(&table, slot, holder, code));
                    }
                    // Cancelled meanwhile: judge the new state.
                    drop(codes);
                    seen = current;
                }
                Word::Held { holder: owner, until } | Word::Offered { holder: owner, until } => {
                    if owner != holder {
                        return Err(CoreError::NotHolder);
                    }
                    if !self.deadlines.is_live(until, now) {
                        return Err(CoreError::HoldExpired);
                    }
                    let from = word.state();
                    let mut codes = self.codes.lock();
                    let code = codes.draw_unused()?;
                    // An offer does not count until booked; then it counts like any claim: a
                    // waiting visitor admitted meanwhile may have used the limit up with holds.
                    if from == SlotState::Offered {
                        let mut guard = self.holders.lock(holder);
                        if guard.entry(holder).count >= limit {
                            self.end_lapsed_holds(&table, &mut guard, holder, now);
                        }
                        if guard.entry(holder).count >= limit {
                            guard.forget_if_idle(holder);
                            return Err(CoreError::LimitReached { limit });
                        }
                        guard.add_booking(holder);
                    }
                    if let Err(found) = self.swap(slot, index, seen, Word::Booked { holder }, code) {
                        if from == SlotState::Offered {
                            self.holders.end_booking(holder);
                        }
                        seen = found;
                        continue;
                    }
                    codes.insert(code, index);
                    slot.code.store(code, Ordering::Relaxed);
                    drop(codes);
                    Self::record(&table, slot, from, SlotState::Booked);
                    if from == SlotState::Held {
                        self.holders.hold_became_booking(holder, index);
                    }
                    return Ok(Self::booking_of(&table, slot, holder, code));
                }
            }
        }
    }

    /// Gives up one's own hold (the slot becomes Free) or offer (it goes back to Returned, for
    /// the next person). Returns the state the slot went to. `NotHolder` if someone else holds
    /// it, `NoHold` if nobody does.
    pub fn release_hold(&self, slot_id: &str, holder: u32) -> CoreResult<SlotState> {
        let table = self.table.read();
        let index = table.index_of(slot_id)?;
        let slot = table.slot(index);
        let (mut seen, _) = slot.load();
        loop {
            let word = Word::unpack(seen);
            let to = match word {
                Word::Held { holder: owner, .. } | Word::Offered { holder: owner, .. } if owner != holder => {
                    return Err(CoreError::NotHolder)
                }
                Word::Booked { holder: owner } if owner != holder => return Err(CoreError::NotHolder),
                Word::Free | Word::Returned | Word::Booked { .. } => return Err(CoreError::NoHold),
                Word::Held { .. } => Word::Free,
                Word::Offered { .. } => Word::Returned,
            };
            match self.swap(slot, index, seen, to, 0) {
                Ok(()) => {
                    Self::record(&table, slot, word.state(), to.state());
                    if to == Word::Free {
                        self.holders.end_hold(holder, index);
                    }
                    return Ok(to.state());
                }
                Err(found) => seen = found,
            }
        }
    }

    /// Cancels a booking at `now`: the slot becomes Returned and the code is spent; it answers
    /// with the cancelled booking from then on, a second cancel too (which changes nothing).
    /// The flag says whether this call cancelled it (false: it was cancelled before), so that a
    /// cancellation is counted once however often it is asked for. `UnknownBooking` for a code
    /// that is malformed or unknown.
    pub fn cancel(&self, code: &str, now: i64) -> CoreResult<(Booking, bool)> {
        let code = parse_code(code).ok_or(CoreError::UnknownBooking)?;
        let table = self.table.read();
        let mut codes = self.codes.lock();
        let Some(index) = codes.slot_of(code) else {
            return codes
                .cancelled(code)
                .map(|c| (Self::cancelled_booking_of(&table, code, c), false))
                .ok_or(CoreError::UnknownBooking);
        };
        let slot = table.slot(index);
        let (seen, word) = slot.load();
        // Under the code book's lock a slot with a live code is booked and stays so.
        let Word::Booked { holder } = word else {
            return Err(CoreError::UnknownBooking);
        };
        if self.swap(slot, index, seen, Word::Returned, 0).is_err() {
            return Err(CoreError::UnknownBooking);
        }
        codes.remove(code);
        let cancelled = Cancelled { slot: index, holder, at: now };
        codes.note_cancelled(code, cancelled);
        if let Some(journal) = &self.journal {
            // After the slot's own record, under the code book's lock as the swap was.
            let event = Event::BookingCancelled { code, slot: index, holder, at: now };
            append_encoded(&mut journal.lock(), &event);
        }
        slot.code.store(0, Ordering::Relaxed);
        drop(codes);
        Self::record(&table, slot, SlotState::Booked, SlotState::Returned);
        self.holders.end_booking(holder);
        Ok((Self::cancelled_booking_of(&table, code, cancelled), true))
    }

    /// Forgets every live booking code, so that the codes visitors hold no longer lead to their
    /// bookings; the slots stay booked (with code 0, which no code a visitor types can be).
    /// Returns how many codes there were.
    pub fn forget_codes(&self) -> u64 {
        let table = self.table.read();
        // Under the code book's lock a slot with a live code is booked and stays so.
        let mut codes = self.codes.lock();
        let mut forgotten = 0;
        for (index, slot) in table.slots.iter().enumerate() {
            if slot.code.load(Ordering::Relaxed) == 0 {
                continue;
            }
            slot.code.store(0, Ordering::Relaxed);
            if let Some(journal) = &self.journal {
                let (word, index) = (slot.load().0, table::slot_index(index));
                append_encoded(&mut journal.lock(), &Event::SlotSet { index, word, code: 0 });
            }
            forgotten += 1;
        }
        forgotten += codes.cancelled_len() as u64;
        *codes = CodeBook::default();
        forgotten
    }

    /// Replays a deletion of personal data for the cancelled bookings: the live codes' records
    /// (`SlotSet` with no code) follow it in the journal, the cancelled ones have none of their own.
    pub(crate) fn replay_forgotten(&mut self) {
        self.codes.get_mut().forget_cancelled();
    }

    /// Whether any booking, live or cancelled, has a code.
    pub fn holds_codes(&self) -> bool {
        let codes = self.codes.lock();
        codes.len() > 0 || codes.cancelled_len() > 0
    }

    /// The start of the latest slot, if there are slots.
    pub fn last_slot_start(&self) -> Option<i64> {
        self.table.read().slots.iter().map(|slot| slot.starts_at).max()
    }

    /// Frees every returned slot (a release window has come); returns how many.
    pub fn release_returned(&self) -> usize {
        let table = self.table.read();
        let mut released = 0;
        for group in table.groups.iter().filter(|g| g.counts.get(SlotState::Returned) > 0) {
            for &index in &group.order {
                let slot = table.slot(index);
                let (seen, word) = slot.load();
                if word == Word::Returned && self.swap(slot, index, seen, Word::Free, 0).is_ok() {
                    Self::record(&table, slot, SlotState::Returned, SlotState::Free);
                    released += 1;
                }
            }
        }
        released
    }

    /// Returned → Free for one slot (a waiting-list slot that nobody is left to be offered).
    /// Returns whether it changed; `UnknownSlot` for unknown ids.
    pub fn release_returned_slot(&self, slot_id: &str) -> CoreResult<bool> {
        let table = self.table.read();
        let index = table.index_of(slot_id)?;
        let slot = table.slot(index);
        let (seen, word) = slot.load();
        if word == Word::Returned && self.swap(slot, index, seen, Word::Free, 0).is_ok() {
            Self::record(&table, slot, SlotState::Returned, SlotState::Free);
            return Ok(true);
        }
        Ok(false)
    }

    /// Offers a returned slot to `holder` until `until`: nobody else may claim it meanwhile.
    /// The offer does not count toward the holder's limit (the waiting list chose them); the
    /// booking it turns into does. `NoHold` if the slot is not Returned.
    pub fn offer(&self, slot_id: &str, holder: u32, until: i64) -> CoreResult<i64> {
        let until_secs = self.deadlines.to_secs(until)?;
        let table = self.table.read();
        let index = table.index_of(slot_id)?;
        let slot = table.slot(index);
        let (mut seen, mut word) = slot.load();
        while word == Word::Returned {
            match self.swap(slot, index, seen, Word::Offered { holder, until: until_secs }, 0) {
                Ok(()) => {
                    Self::record(&table, slot, SlotState::Returned, SlotState::Offered);
                    return Ok(self.deadlines.to_micros(until_secs));
                }
                Err(found) => (seen, word) = (found, Word::unpack(found)),
            }
        }
        Err(CoreError::NoHold)
    }

    /// Ends what lapsed by `now`: expired holds become Free, expired offers Returned (to be
    /// offered to the next person). Returns (slot id, holder, new state) for each.
    pub fn sweep(&self, now: i64) -> Vec<(String, u32, SlotState)> {
        let table = self.table.read();
        let mut ended = Vec::new();
        let busy = |g: &&table::Group| g.counts.get(SlotState::Held) + g.counts.get(SlotState::Offered) > 0;
        for group in table.groups.iter().filter(busy) {
            for &index in &group.order {
                let slot = table.slot(index);
                let (seen, word) = slot.load();
                let (holder, to) = match word {
                    Word::Held { holder, until } if !self.deadlines.is_live(until, now) => (holder, Word::Free),
                    Word::Offered { holder, until } if !self.deadlines.is_live(until, now) => (holder, Word::Returned),
                    _ => continue,
                };
                if self.swap(slot, index, seen, to, 0).is_ok() {
                    Self::record(&table, slot, word.state(), to.state());
                    if to == Word::Free {
                        self.holders.end_hold(holder, index);
                    }
                    ended.push((slot.id.to_string(), holder, to.state()));
                }
            }
        }
        ended
    }

    fn judge_claim(&self, word: Word, holder: u32, now: i64) -> Claim {
        match word {
            Word::Free => Claim::New { previous: None },
            Word::Held { holder: owner, until } => {
                let live = self.deadlines.is_live(until, now);
                match (owner == holder, live) {
                    (true, true) => Claim::Own { until },
                    (true, false) => Claim::Renew,
                    (false, false) => Claim::New { previous: Some(owner) },
                    (false, true) => Claim::Taken,
                }
            }
            Word::Offered { holder: owner, until } if owner == holder && self.deadlines.is_live(until, now) => {
                Claim::Own { until }
            }
            Word::Offered { .. } | Word::Booked { .. } | Word::Returned => Claim::Taken,
        }
    }

    /// Locks the holder's ledger shard and counts one more hold, unless that would pass the
    /// limit. Lapsed holds of the holder are ended first: they should not block a new claim.
    fn reserve(&self, table: &Table, holder: u32, limit: u32, now: i64) -> CoreResult<LedgerGuard<'_>> {
        let mut guard = self.holders.lock(holder);
        let entry = guard.entry(holder);
        if entry.count < limit {
            entry.count += 1;
            return Ok(guard);
        }
        self.end_lapsed_holds(table, &mut guard, holder, now);
        let entry = guard.entry(holder);
        if entry.count < limit {
            entry.count += 1;
            return Ok(guard);
        }
        guard.forget_if_idle(holder);
        Err(CoreError::LimitReached { limit })
    }

    fn end_lapsed_holds(&self, table: &Table, guard: &mut LedgerGuard<'_>, holder: u32, now: i64) {
        for index in guard.entry(holder).holds() {
            let slot = table.slot(index);
            let (seen, word) = slot.load();
            let lapsed = matches!(word, Word::Held { holder: owner, until }
                if owner == holder && !self.deadlines.is_live(until, now));
            // A hold that is live, or was ended by someone else (who will remove it), stays.
            if lapsed && self.swap(slot, index, seen, Word::Free, 0).is_ok() {
                Self::record(table, slot, SlotState::Held, SlotState::Free);
                let entry = guard.entry(holder);
                entry.count = entry.count.saturating_sub(1);
                entry.remove_hold(index);
            }
        }
    }

    /// The one way a slot changes state (see `Slot::swap`). In a journaled room the swap and its
    /// record happen under the journal's lock, so two transitions of one slot are recorded in
    /// the order they took effect (a sweep's "free" cannot land after the next claim's "held").
    fn swap(&self, slot: &Slot, index: u32, seen: u64, next: Word, code: u64) -> Result<(), u64> {
        let Some(journal) = &self.journal else { return slot.swap(seen, next) };
        let mut buffer = journal.lock();
        slot.swap(seen, next)?;
        append_encoded(&mut buffer, &Event::SlotSet { index, word: next.pack(), code });
        Ok(())
    }

    /// Keeps the group's counts (and its scan hint) in step with a transition just made.
    fn record(table: &Table, slot: &Slot, from: SlotState, to: SlotState) {
        let group = table.group_of(slot);
        group.counts.shift(from, to);
        if to == SlotState::Free {
            group.note_freed(slot.position);
        }
    }

    fn slot_taken(&self, table: &Table, slot: &Slot, now: i64) -> CoreError {
        let mut alternatives = Vec::new();
        scan::claimable(table, table.group_of(slot), self.deadlines, now, |candidate| {
            if candidate.position != slot.position {
                alternatives.push(candidate.id.to_string());
            }
            alternatives.len() < MAX_ALTERNATIVES
        });
        CoreError::SlotTaken { slot: slot.id.to_string(), alternatives }
    }

    fn hold_of(&self, table: &Table, slot: &Slot, holder: u32, until: u32) -> Hold {
        Hold {
            slot: slot.id.to_string(),
            group: table.group_of(slot).name.to_string(),
            starts_at: slot.starts_at,
            holder,
            until: self.deadlines.to_micros(until),
        }
    }

    fn booking_of(table: &Table, slot: &Slot, holder: u32, code: u64) -> Booking {
        Booking {
            code: format_code(code),
            slot: slot.id.to_string(),
            group: table.group_of(slot).name.to_string(),
            starts_at: slot.starts_at,
            holder,
            cancelled_at: None,
        }
    }

    fn cancelled_booking_of(table: &Table, code: u64, cancelled: Cancelled) -> Booking {
        let slot = table.slot(cancelled.slot);
        Booking { cancelled_at: Some(cancelled.at), ..Self::booking_of(table, slot, cancelled.holder, code) }
    }
}
