//! Saving and restoring the inventory. Its durable state is the slots (id, group, start) and
//! each slot's word and booking code; everything else (counts per group, the per-visitor
//! ledger, the code book, scan hints) follows from the words and is rebuilt once they are all in
//! place, instead of being kept in step through every replayed change.

use std::sync::atomic::Ordering;

use super::booking_code::{format_code, Cancelled, CodeBook};
use super::holders::HolderLedger;
use super::table::slot_index;
use super::word::Word;
use super::{Inventory, SlotSpec, SlotState};
use crate::codec::{Put, Reader};
use crate::errors::{CoreError, CoreResult};

fn corrupt(message: String) -> CoreError {
    CoreError::JournalCorrupt(message)
}

impl Inventory {
    /// The id of the slot at `index`: journal records name slots by their index.
    pub(crate) fn slot_id_at(&self, index: u32) -> Option<String> {
        self.table.read().slots.get(index as usize).map(|slot| slot.id.to_string())
    }

    /// What a journaled slot word says: the state it puts the slot in.
    pub(crate) fn state_of_word(word: u64) -> SlotState {
        Word::unpack(word).state()
    }

    /// A journaled booking code as visitors were shown it.
    pub(crate) fn code_text(code: u64) -> String {
        format_code(code)
    }

    /// Writes the slots with their words and codes (to `out`) and the cancelled bookings (to
    /// `cancelled`, nothing when there are none), then drains the journal, with every slot
    /// change held off meanwhile (claims swap under the journal's lock, bookings and
    /// cancellations under the code book's), so that the state written and the records drained
    /// meet exactly. Returns the records drained: changes made before the state was read, not
    /// yet taken by `drain`.
    pub(crate) fn encode_and_drain(&self, out: &mut Vec<u8>, cancelled: &mut Vec<u8>) -> Vec<u8> {
        let table = self.table.read();
        let codes = self.codes.lock();
        let journal = self.journal.as_ref().map(|journal| journal.lock());
        out.put_i64(self.deadlines.epoch_micros());
        out.put_varint(table.groups.len() as u64);
        for group in &table.groups {
            out.put_str(&group.name);
        }
        out.put_varint(table.slots.len() as u64);
        for slot in &table.slots {
            out.put_str(&slot.id);
            out.put_u32(slot.group);
            out.put_i64(slot.starts_at);
            out.extend_from_slice(&slot.word.load(Ordering::Acquire).to_le_bytes());
            out.put_varint(slot.code.load(Ordering::Relaxed));
        }
        let gone = codes.cancelled_by_code();
        if !gone.is_empty() {
            cancelled.put_varint(gone.len() as u64);
            for (code, booking) in gone {
                cancelled.put_varint(code);
                cancelled.put_u32(booking.slot);
                cancelled.put_u32(booking.holder);
                cancelled.put_i64(booking.at);
            }
        }
        drop(codes);
        journal.map(|mut buffer| std::mem::take(&mut *buffer)).unwrap_or_default()
    }

    /// An inventory as `encode_and_drain` wrote it, without a journal.
    pub(crate) fn decode(reader: &mut Reader<'_>) -> CoreResult<Inventory> {
        let mut inventory = Inventory::new(reader.i64()?);
        let group_count = reader.count(1)?;
        let groups = (0..group_count).map(|_| reader.str()).collect::<CoreResult<Vec<_>>>()?;
        let slot_count = reader.count(18)?;
        let mut specs = Vec::with_capacity(slot_count);
        let mut words = Vec::with_capacity(slot_count);
        for _ in 0..slot_count {
            let id = reader.str()?.to_owned();
            let group = groups.get(reader.u32()? as usize).ok_or_else(|| corrupt("a slot of no group".into()))?;
            let starts_at = reader.i64()?;
            let word = u64::from_le_bytes(reader.bytes(8)?.try_into().unwrap_or([0; 8]));
            words.push((word, reader.varint()?));
            specs.push(SlotSpec { id, group: (*group).to_owned(), starts_at });
        }
        inventory.table.get_mut().add(specs).map_err(|e| corrupt(format!("the saved slots: {e}")))?;
        for (index, (word, code)) in words.into_iter().enumerate() {
            inventory.set_word(slot_index(index), word, code)?;
        }
        inventory.rebuild()?;
        Ok(inventory)
    }

    /// Reads the cancelled bookings `encode_and_drain` wrote.
    pub(crate) fn decode_cancelled(&mut self, reader: &mut Reader<'_>) -> CoreResult<()> {
        for _ in 0..reader.count(17)? {
            let (code, slot, holder, at) = (reader.varint()?, reader.u32()?, reader.u32()?, reader.i64()?);
            self.replay_cancelled(code, slot, holder, at)?;
        }
        Ok(())
    }

    /// Notes a cancelled booking as journaled (or saved in a snapshot).
    pub(crate) fn replay_cancelled(&mut self, code: u64, slot: u32, holder: u32, at: i64) -> CoreResult<()> {
        if code == 0 || slot as usize >= self.table.get_mut().slots.len() {
            return Err(corrupt(format!(
                "a cancelled booking of slot {slot}, which was never added, or without a code"
            )));
        }
        self.codes.get_mut().note_cancelled(code, Cancelled { slot, holder, at });
        Ok(())
    }

    /// Puts a slot's word and code in place as journaled, with nothing derived kept in step:
    /// `rebuild` follows once replay is done.
    pub(crate) fn set_word(&mut self, index: u32, word: u64, code: u64) -> CoreResult<()> {
        if Word::unpack(word).pack() != word {
            return Err(corrupt(format!("slot {index} has an unknown state word {word:#x}")));
        }
        let slot = self
            .table
            .get_mut()
            .slots
            .get_mut(index as usize)
            .ok_or_else(|| corrupt(format!("a change to slot {index}, which was never added")))?;
        *slot.word.get_mut() = word;
        *slot.code.get_mut() = code;
        Ok(())
    }

    /// Recomputes what follows from the words: counts per group, the holds and bookings of each
    /// visitor, the live booking codes; and lets listings scan every group from its start.
    pub(crate) fn rebuild(&mut self) -> CoreResult<()> {
        let table = self.table.get_mut();
        let holders = HolderLedger::default();
        let mut codes = CodeBook::default();
        let mut counts = vec![[0i64; 5]; table.groups.len()];
        for (index, slot) in table.slots.iter().enumerate() {
            let word = Word::unpack(slot.word.load(Ordering::Relaxed));
            counts[slot.group as usize][word.state() as usize] += 1;
            let code = slot.code.load(Ordering::Relaxed);
            match word {
                Word::Held { holder, .. } => {
                    let mut guard = holders.lock(holder);
                    let entry = guard.entry(holder);
                    entry.count += 1;
                    entry.push_hold(slot_index(index));
                }
                Word::Booked { holder } => {
                    holders.add_booking(holder);
                    // Code 0: the booking's code was forgotten with the room's personal data.
                    if code != 0 {
                        if codes.slot_of(code).is_some() {
                            return Err(corrupt(format!("booked slot {:?} has no booking code of its own", slot.id)));
                        }
                        codes.insert(code, slot_index(index));
                    }
                }
                _ => {}
            }
            if !matches!(word, Word::Booked { .. }) && code != 0 {
                return Err(corrupt(format!("slot {:?} has a booking code but is {:?}", slot.id, word.state())));
            }
        }
        for (group, counts) in table.groups.iter_mut().zip(counts) {
            group.counts.set_all(counts);
            group.reset_scan();
        }
        self.holders = holders;
        codes.take_cancelled(self.codes.get_mut());
        *self.codes.get_mut() = codes;
        Ok(())
    }

    /// Every slot's id, state word and code in the order added, for comparing inventories.
    #[cfg(test)]
    pub(crate) fn words(&self) -> Vec<(String, super::SlotState, u64, u64)> {
        let table = self.table.read();
        table
            .slots
            .iter()
            .map(|slot| {
                let raw = slot.word.load(Ordering::Acquire);
                (slot.id.to_string(), Word::unpack(raw).state(), raw, slot.code.load(Ordering::Relaxed))
            })
            .collect()
    }
}
