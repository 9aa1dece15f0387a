//! What a replay stopped by damage leaves out: the whole records that follow the damaged bytes,
//! found by scanning for the next record whose checksum matches and that decodes, and read as
//! far as they go (bookings by code, cancellations, joins, admissions).
//!
//! This is also the rule that tells a torn tail from damage. A crash tears only what was being
//! written last: nothing whole follows it, and cutting it loses nothing a visitor was told
//! under `fsync = "always"`. Whole records after the damaged bytes (in the same file or in a
//! later one) were written after it, and some may have been answered: cutting them would
//! silently take back bookings, so the restore is refused until an operator repairs it.

use crate::events::Event;
use crate::inventory::{Inventory, SlotState};
use crate::journal::{find_frame, read_journal_header};

/// A booking made by a record that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnappliedBooking {
    /// The code as the visitor was shown it.
    pub code: String,
    /// The slot, when the state before the damage or the records after it name it.
    pub slot: Option<String>,
}

/// The whole records after damage, decoded as far as they go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unapplied {
    pub records: u64,
    pub bookings: Vec<UnappliedBooking>,
    /// Slots whose booking was cancelled (returned).
    pub cancelled: Vec<String>,
    /// Tickets that joined.
    pub joined: Vec<u32>,
    /// Tickets that were admitted (got a pass).
    pub admitted: Vec<u32>,
}

impl Unapplied {
    /// The records of `segments[first]` from byte `from` on, and of every segment after it.
    /// `known` is the inventory as restored up to the damage, if any: it names the slots that
    /// the records refer to by index.
    pub fn scan(segments: &[&[u8]], first: usize, from: usize, known: Option<&Inventory>) -> Unapplied {
        let mut reader = Scan { found: Unapplied::default(), known, added: Vec::new() };
        for (index, segment) in segments.iter().enumerate().skip(first) {
            let start = if index == first {
                from
            } else {
                // A later file's header damaged too: its records are still searched for.
                read_journal_header(segment).ok().flatten().map_or(0, |(_, start)| start)
            };
            reader.segment(segment, start);
        }
        reader.found
    }

    /// Every record of whole journal files (for journals that cannot be applied at all).
    pub fn of_journals(segments: &[&[u8]]) -> Unapplied {
        let mut found = Unapplied::default();
        if !segments.is_empty() {
            let start = read_journal_header(segments[0]).ok().flatten().map_or(0, |(_, start)| start);
            found = Unapplied::scan(segments, 0, start, None);
        }
        found
    }
}

struct Scan<'a> {
    found: Unapplied,
    known: Option<&'a Inventory>,
    /// Slots added by the records read: they follow the known ones, in this order.
    added: Vec<String>,
}

impl Scan<'_> {
    fn segment(&mut self, data: &[u8], mut at: usize) {
        while let Some((_, payload, next)) = find_frame(data, at, |payload| Event::decode(payload).is_ok()) {
            if let Ok(event) = Event::decode(payload) {
                self.note(event);
            }
            at = next;
        }
    }

    fn slot_name(&self, index: u32) -> Option<String> {
        let known = self.known.map_or(0, Inventory::len);
        match (index as usize).checked_sub(known) {
            None => self.known.and_then(|inventory| inventory.slot_id_at(index)),
            Some(added) => self.added.get(added).cloned(),
        }
    }

    fn note(&mut self, event: Event<'_>) {
        self.found.records += 1;
        match event {
            Event::SlotsAdded { slots } => self.added.extend(slots.iter().map(|slot| slot.id.clone())),
            Event::SlotSet { index, code, .. } if code != 0 => {
                let code = Inventory::code_text(code);
                if !self.found.bookings.iter().any(|booking| booking.code == code) {
                    let slot = self.slot_name(index);
                    self.found.bookings.push(UnappliedBooking { code, slot });
                }
            }
            Event::SlotSet { index, word, .. } if Inventory::state_of_word(word) == SlotState::Returned => {
                let slot = self.slot_name(index).unwrap_or_else(|| format!("#{index}"));
                self.found.cancelled.push(slot);
            }
            Event::Joined { ticket, .. } => self.found.joined.push(ticket),
            Event::Admitted { ticket, .. } => self.found.admitted.push(ticket),
            _ => {}
        }
    }
}
