//! What a replay stopped by damage leaves out: the records from the damaged one on, read as
//! far as they go (bookings by code, cancellations, joins, admissions). The damaged record
//! itself counts as unreadable, and so does any other stepped over on the way: each was written
//! whole once. If its payload still decodes, what it seems to book is named, as possibly
//! booked (its checksum fails, so the code may be garbled). After a damaged record, the next
//! whole one is found by scanning for a frame whose checksum matches and that decodes.
//!
//! This is also the rule that tells a torn tail from damage. A crash tears only what was being
//! written last: its frame runs past the end of the file (or the file is zeros from it on), and
//! nothing whole follows it; cutting it loses nothing a visitor was told under
//! `fsync = "always"`. A frame that is all there but fails its checksum, or whole records
//! after the damaged bytes (in the same file or in a later one), mean damage: cutting there
//! would silently take back what was written, bookings included, so the restore is refused
//! until an operator repairs it.

use crate::events::Event;
use crate::inventory::{Inventory, SlotState};
use crate::journal::{find_frame, next_frame, read_journal_header, BadFrame, FORMAT_VERSION, OLDEST_READABLE_VERSION};

/// A booking made by a record that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnappliedBooking {
    /// The code as the visitor was shown it.
    pub code: String,
    /// The slot, when the state before the damage or the records after it name it.
    pub slot: Option<String>,
}

/// The records after damage, decoded as far as they go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unapplied {
    /// Every record left out: the whole ones and the unreadable ones.
    pub records: u64,
    /// Records that were written whole but fail their checksum now (or no longer decode):
    /// counted in `records`, and read only as far as `possible_bookings` goes.
    pub unreadable: u64,
    pub bookings: Vec<UnappliedBooking>,
    /// Bookings that an unreadable record seems to make: its payload decodes, but as its
    /// checksum fails, the code (or the slot) may be garbled.
    pub possible_bookings: Vec<UnappliedBooking>,
    /// Slots whose booking was cancelled (returned).
    pub cancelled: Vec<String>,
    /// Tickets that joined.
    pub joined: Vec<u32>,
    /// Tickets that were admitted (got a pass).
    pub admitted: Vec<u32>,
}

impl Unapplied {
    /// The records of `segments[first]` from the one at byte `at` (the damaged one) on, and
    /// of every segment after it. `known` is the inventory as restored up to the damage, if
    /// any: it names the slots that the records refer to by index. Empty when the damaged
    /// record is unfinished and nothing whole follows: a torn tail.
    pub fn after_damage(segments: &[&[u8]], first: usize, at: usize, known: Option<&Inventory>) -> Unapplied {
        Scan::new(known).run(segments, first, Some(at))
    }

    /// The records of `segments[first]`, whose header cannot be read, and of every segment
    /// after it.
    pub fn after_header(segments: &[&[u8]], first: usize, known: Option<&Inventory>) -> Unapplied {
        Scan::new(known).run(segments, first, None)
    }

    /// Every record of whole journal files (for journals that cannot be applied at all).
    pub fn of_journals(segments: &[&[u8]]) -> Unapplied {
        let first = segments.first().copied().unwrap_or_default();
        Scan::new(None).run(segments, 0, record_start(first).map(|(start, _)| start))
    }
}

/// Where the records of a journal file start and the format they are in, or None when its
/// header cannot be read (the file is then searched for whole records).
fn record_start(segment: &[u8]) -> Option<(usize, u16)> {
    read_journal_header(segment).ok().flatten().map(|(header, start)| (start, header.version))
}

/// A record of a segment in format `version`; of a segment whose header cannot be read, in
/// whichever format this build reads it decodes in, newest first.
fn decode(payload: &[u8], version: Option<u16>) -> Option<Event<'_>> {
    match version {
        Some(version) => Event::decode_as(payload, version).ok(),
        None => (OLDEST_READABLE_VERSION..=FORMAT_VERSION).rev().find_map(|v| Event::decode_as(payload, v).ok()),
    }
}

struct Scan<'a> {
    found: Unapplied,
    known: Option<&'a Inventory>,
    /// Slots added by the records read: they follow the known ones, in this order.
    added: Vec<String>,
    /// An unfinished frame that nothing whole has followed yet: at the very end it is a torn
    /// tail, written by nobody; with something whole after it, a record lost in the middle.
    unfinished: bool,
}

impl<'a> Scan<'a> {
    fn new(known: Option<&'a Inventory>) -> Self {
        Scan { found: Unapplied::default(), known, added: Vec::new(), unfinished: false }
    }

    /// `at`: where a record should start in `segments[first]`; None to search it from its
    /// start. Later segments are read from the end of their header (searched when it is
    /// damaged).
    fn run(mut self, segments: &[&[u8]], first: usize, at: Option<usize>) -> Unapplied {
        for (index, segment) in segments.iter().enumerate().skip(first) {
            let header = record_start(segment);
            let version = header.map(|(_, version)| version);
            self.segment(segment, if index == first { at } else { header.map(|(start, _)| start) }, version);
        }
        self.found
    }

    fn segment(&mut self, data: &[u8], expected: Option<usize>, version: Option<u16>) {
        let decodes = |payload: &[u8]| decode(payload, version).is_some();
        let mut search_from = 0;
        let mut expected = expected;
        loop {
            if let Some(at) = expected {
                match next_frame(data, at) {
                    Ok(None) => return,
                    Ok(Some((payload, next))) => {
                        if let Some(event) = decode(payload, version) {
                            self.whole(event);
                            expected = Some(next);
                            continue;
                        }
                        self.unreadable(None);
                    }
                    Err(bad) => self.bad(data, &bad, version),
                }
                search_from = at + 1;
            }
            let Some((_, payload, next)) = find_frame(data, search_from, decodes) else { return };
            if let Some(event) = decode(payload, version) {
                self.whole(event);
            }
            expected = Some(next);
        }
    }

    fn bad(&mut self, data: &[u8], bad: &BadFrame, version: Option<u16>) {
        if bad.unfinished {
            self.unfinished = true;
            return;
        }
        let payload = bad.payload.clone().and_then(|range| data.get(range));
        self.unreadable(payload.and_then(|payload| decode(payload, version)).as_ref());
    }

    fn unreadable(&mut self, decoded: Option<&Event<'_>>) {
        self.found.records += 1;
        self.found.unreadable += 1;
        if let Some(&Event::SlotSet { index, code, .. }) = decoded {
            if code != 0 {
                let booking = UnappliedBooking { code: Inventory::code_text(code), slot: self.slot_name(index) };
                self.found.possible_bookings.push(booking);
            }
        }
    }

    fn whole(&mut self, event: Event<'_>) {
        if std::mem::take(&mut self.unfinished) {
            self.unreadable(None);
        }
        self.note(event);
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
