//! Damaged journals (a torn last record, a flipped byte, a file of a newer format) and journals
//! written by many threads at once.

use std::thread;

use super::tests::{assert_same, signer, slots, Fixture, OPEN};
use super::{Room, Unapplied, UnappliedBooking};
use crate::clock::{SharedClock, MICROS_PER_SECOND as S};
use crate::errors::CoreError;
use crate::events::Event;
use crate::inventory::SlotState;
use crate::journal::{journal_header, next_frame, FORMAT_VERSION};
use crate::room_config::test_config;

/// A journal of a few joins and a booking, the byte offset where each record ends, and the
/// booking's code.
fn journal_with_boundaries() -> (Fixture, Vec<usize>, String) {
    let mut config = test_config(OPEN);
    config.max_active = 50;
    let mut fixture = Fixture::new(config, OPEN + S);
    fixture.room.add_slots(slots(0, 5), "config").unwrap();
    for i in 0..5 {
        fixture.room.join(Some(&format!("phone:{i}")), None).unwrap();
    }
    let pass = fixture.room.status_of(0, fixture.room.now()).unwrap().pass_token.unwrap();
    fixture.room.hold("s1", &pass).unwrap();
    let code = fixture.room.confirm("s1", &pass).unwrap().code;
    fixture.drain();
    let mut ends = Vec::new();
    let mut at = journal_header("kiel", 0).len();
    while let Some((_, next)) = next_frame(&fixture.journal, at).unwrap() {
        ends.push(next);
        at = next;
    }
    (fixture, ends, code)
}

fn restore(fixture: &Fixture, journal: &[u8]) -> (Option<Room>, super::RestoreReport) {
    let clock: SharedClock = fixture.clock.clone();
    Room::restore(signer(), clock, None, &[journal]).unwrap()
}

#[test]
fn a_torn_tail_is_cut_at_the_last_whole_record() {
    let (fixture, ends, _) = journal_with_boundaries();
    let start = ends[ends.len() - 4];
    for len in start..fixture.journal.len() {
        let (room, report) = restore(&fixture, &fixture.journal[..len]);
        let whole = ends.iter().filter(|&&end| end <= len).count();
        assert_eq!(report.records, whole as u64, "cut at {len}");
        let last_good = ends[whole - 1];
        match &report.cut {
            None => assert_eq!(len, last_good),
            Some(cut) => {
                assert_eq!((cut.offset, cut.dropped_bytes), (last_good, len - last_good));
                assert!(cut.reason.contains("torn"), "{}", cut.reason);
            }
        }
        assert!(room.is_some());
    }
    // The whole journal, restored, is the room.
    let (room, report) = restore(&fixture, &fixture.journal);
    assert_eq!(report.cut, None);
    assert_same(&fixture.room, &room.unwrap());
}

#[test]
fn a_flipped_byte_cuts_the_journal_before_its_record() {
    let (fixture, ends, _) = journal_with_boundaries();
    for (record, window) in ends.windows(2).enumerate().skip(2) {
        // The last byte of the length field, the checksum, the payload's last byte.
        for byte in [window[0] + 3, window[0] + 5, window[1] - 1] {
            let mut damaged = fixture.journal.clone();
            damaged[byte] ^= 0x40;
            let (room, report) = restore(&fixture, &damaged);
            let cut = report.cut.expect("the damage was not found");
            assert_eq!((cut.offset, report.records), (window[0], record as u64 + 1), "flip at {byte}");
            assert_eq!(cut.dropped_bytes, damaged.len() - window[0]);
            // The damaged record, written whole, is dropped too, and counted: even the last
            // one is damage, not a torn tail.
            let after = ends.len() - record - 2;
            assert_eq!((cut.unapplied.records, cut.unapplied.unreadable), (after as u64 + 1, 1), "flip at {byte}");
            assert!(!cut.torn_tail(), "flip at {byte}");
            assert!(room.is_some());
        }
    }
    // A booking whose record was cut is not half there: no code, and the hold before it stays.
    let booking = ends
        .iter()
        .position(|&end| {
            let start = ends.iter().rev().find(|&&e| e < end).copied().unwrap_or(journal_header("kiel", 0).len());
            let (payload, _) = next_frame(&fixture.journal, start).unwrap().unwrap();
            matches!(Event::decode(payload).unwrap(), Event::SlotSet { code, .. } if code != 0)
        })
        .unwrap();
    let (room, report) = restore(&fixture, &fixture.journal[..ends[booking - 1]]);
    assert!(report.cut.is_none());
    let room = room.unwrap();
    assert_eq!(room.inventory().booking_count(), 0);
    assert_eq!(room.inventory().slot("s1").unwrap().state, SlotState::Held);
}

#[test]
fn a_torn_tail_leaves_nothing_unapplied() {
    let (fixture, ends, _) = journal_with_boundaries();
    let (_, report) = restore(&fixture, &fixture.journal[..ends[ends.len() - 1] - 3]);
    let cut = report.cut.unwrap();
    assert!(cut.torn_tail() && cut.unapplied == Unapplied::default(), "{cut:?}");
}

#[test]
fn what_follows_mid_journal_damage_is_read_as_far_as_it_goes() {
    let (fixture, ends, code) = journal_with_boundaries();
    // The fourth record (after the creation, the identity key and the slots) is a join;
    // everything after it was written whole.
    let mut damaged = fixture.journal.clone();
    damaged[ends[2] + 9] ^= 0x01;
    let (_, report) = restore(&fixture, &damaged);
    let cut = report.cut.unwrap();
    assert!(!cut.torn_tail());
    assert_eq!((cut.unapplied.records, cut.unapplied.unreadable), ((ends.len() - 3) as u64, 1));
    let unapplied = &cut.unapplied;
    assert_eq!(unapplied.bookings, vec![UnappliedBooking { code, slot: Some("s1".into()) }]);
    assert!(!unapplied.joined.is_empty() && unapplied.joined.windows(2).all(|w| w[0] < w[1]));
    assert!(unapplied.admitted.contains(&0));
    // A second damaged record further on is stepped over too, and counted.
    damaged[ends[ends.len() - 3] + 9] ^= 0x01;
    let (_, report) = restore(&fixture, &damaged);
    let unapplied = report.cut.unwrap().unapplied;
    assert_eq!((unapplied.records, unapplied.unreadable), ((ends.len() - 3) as u64, 2));
}

#[test]
fn the_damaged_record_is_named_as_possibly_booking_its_code() {
    let (fixture, ends, code) = journal_with_boundaries();
    let header = journal_header("kiel", 0).len();
    let starts: Vec<usize> = std::iter::once(header).chain(ends.iter().copied()).collect();
    let booking = (0..ends.len())
        .find(|&i| {
            let (payload, _) = next_frame(&fixture.journal, starts[i]).unwrap().unwrap();
            matches!(Event::decode(payload).unwrap(), Event::SlotSet { code, .. } if code != 0)
        })
        .unwrap();
    let mut damaged = fixture.journal.clone();
    // A byte of the slot's state word: the payload still decodes, with the code intact.
    damaged[starts[booking] + 8 + 6] ^= 0x01;
    let (_, report) = restore(&fixture, &damaged);
    let unapplied = report.cut.unwrap().unapplied;
    assert_eq!(unapplied.possible_bookings, vec![UnappliedBooking { code, slot: Some("s1".into()) }]);
    assert!(unapplied.bookings.is_empty());
    assert_eq!((unapplied.records, unapplied.unreadable), ((ends.len() - booking) as u64, 1));
    // A damaged length field: nothing to decode, still one unreadable record.
    let mut damaged = fixture.journal.clone();
    damaged[starts[booking] + 1] ^= 0x01;
    let (_, report) = restore(&fixture, &damaged);
    let unapplied = report.cut.unwrap().unapplied;
    assert_eq!((unapplied.records, unapplied.unreadable), ((ends.len() - booking) as u64, 1));
    assert!(unapplied.possible_bookings.is_empty());
}

#[test]
fn zeros_after_the_last_record_are_a_torn_tail() {
    let (fixture, ends, _) = journal_with_boundaries();
    let mut padded = fixture.journal.clone();
    padded.extend_from_slice(&[0; 4096]);
    let (_, report) = restore(&fixture, &padded);
    let cut = report.cut.unwrap();
    assert!(cut.torn_tail() && cut.unapplied == Unapplied::default(), "{cut:?}");
    assert_eq!((cut.offset, report.records), (fixture.journal.len(), ends.len() as u64));
    // The last record half written, the rest of it zeros: its frame is all there, and it
    // fails its checksum, so it is refused as damage (its record may have been answered).
    let mut half = fixture.journal.clone();
    let last = ends[ends.len() - 2];
    half[last + 4..].fill(0);
    let (_, report) = restore(&fixture, &half);
    assert!(!report.cut.unwrap().torn_tail());
}

#[test]
fn a_damaged_header_lists_every_record_of_its_file() {
    let (fixture, ends, code) = journal_with_boundaries();
    let header = journal_header("kiel", 0).len();
    for byte in 0..header {
        let mut damaged = fixture.journal.clone();
        damaged[byte] ^= 0x02;
        let (room, report) = restore(&fixture, &damaged);
        let cut = report.cut.unwrap_or_else(|| panic!("flip at {byte} not found"));
        assert!(room.is_none() && report.records == 0);
        assert_eq!((cut.segment, cut.offset, cut.dropped_bytes), (0, 0, damaged.len()));
        assert!(!cut.torn_tail(), "flip at {byte}: {cut:?}");
        assert_eq!((cut.unapplied.records, cut.unapplied.unreadable), (ends.len() as u64, 0), "flip at {byte}");
        assert_eq!(cut.unapplied.bookings, vec![UnappliedBooking { code: code.clone(), slot: Some("s1".into()) }]);
    }
    // A later file's damaged header, after a whole one.
    let split = ends[ends.len() - 3];
    let mut second = journal_header("kiel", 1);
    second[9] ^= 0x10;
    second.extend_from_slice(&fixture.journal[split..]);
    let clock: SharedClock = fixture.clock.clone();
    let (_, report) = Room::restore(signer(), clock, None, &[&fixture.journal[..split], &second]).unwrap();
    let cut = report.cut.unwrap();
    assert!(cut.reason.contains("header is damaged"), "{}", cut.reason);
    assert_eq!((cut.segment, cut.offset, cut.unapplied.records, cut.torn_tail()), (1, 0, 2, false));
}

#[test]
fn records_in_a_later_journal_make_damage_of_an_earlier_one() {
    let (fixture, ends, _) = journal_with_boundaries();
    let split = ends[ends.len() - 2];
    let first = &fixture.journal[..split - 2];
    let mut second = journal_header("kiel", 1);
    second.extend_from_slice(&fixture.journal[split..]);
    let clock: SharedClock = fixture.clock.clone();
    let (_, report) = Room::restore(signer(), clock.clone(), None, &[first, &second]).unwrap();
    let cut = report.cut.unwrap();
    // The record torn in the first file was whole once: it counts as unreadable.
    assert_eq!((cut.segment, cut.segments_skipped, cut.unapplied.records, cut.unapplied.unreadable), (0, 1, 2, 1));
    assert!(!cut.torn_tail());
    // A later file holding only its header: nothing is lost, a torn tail.
    let (_, report) = Room::restore(signer(), clock.clone(), None, &[first, &journal_header("kiel", 1)]).unwrap();
    assert!(report.cut.unwrap().torn_tail());
    // An empty newest file is what a crash right after creating it leaves.
    let (room, report) = Room::restore(signer(), clock, None, &[&fixture.journal, &[]]).unwrap();
    let cut = report.cut.unwrap();
    assert!(cut.torn_tail() && cut.reason.contains("empty") && room.is_some());
}

#[test]
fn unapplied_whole_journals_are_read_too() {
    let (fixture, ends, code) = journal_with_boundaries();
    let found = Unapplied::of_journals(&[&fixture.journal]);
    assert_eq!(found.records, ends.len() as u64);
    assert_eq!(found.bookings, vec![UnappliedBooking { code, slot: Some("s1".into()) }]);
    assert_eq!(found.joined, vec![0, 1, 2, 3, 4]);
    assert_eq!(Unapplied::of_journals(&[]), Unapplied::default());
}

#[test]
fn a_repair_is_audited() {
    let (fixture, _, _) = journal_with_boundaries();
    fixture.room.record_repair("operator", 12, "journal-00000000.pqj damaged at byte 80").unwrap();
    let entry = fixture.room.audit_log().pop().unwrap();
    assert_eq!((entry.action.as_str(), entry.count), ("journal_repair", 12));
    assert_eq!(entry.reason.as_deref(), Some("journal-00000000.pqj damaged at byte 80"));
}

#[test]
fn a_newer_format_is_refused_with_what_to_do() {
    let (fixture, _, _) = journal_with_boundaries();
    let header = journal_header("kiel", 0).len();
    let newer = written_as_version(&fixture.journal, header, FORMAT_VERSION + 1);
    let clock: SharedClock = fixture.clock.clone();
    let error = Room::restore(signer(), clock.clone(), None, &[&newer]).err().unwrap();
    assert_eq!(error, CoreError::JournalIncompatible { found: FORMAT_VERSION + 1, supported: FORMAT_VERSION });
    assert!(error.to_string().contains("move the room's data directory away"), "{error}");
    // A later format may lay its header out otherwise: its checksum is no help, still refused.
    let mut other_layout = fixture.journal.clone();
    other_layout[4..6].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    other_layout[14] = 200;
    let error = Room::restore(signer(), clock.clone(), None, &[&other_layout]).err().unwrap();
    assert_eq!(error.code(), "journal_incompatible");
    let (snapshot, _) = fixture.room.snapshot(1);
    // Magic, version, generation, room id, body length and checksum, header checksum.
    let snapshot = written_as_version(&snapshot, 4 + 2 + 8 + 1 + 4 + 8 + 4 + 4, 0);
    let error = Room::restore(signer(), clock, Some(&snapshot), &[]).err().unwrap();
    assert_eq!(error.code(), "journal_incompatible");
}

/// `file` as a writer of format `version` would have written it: the version in its header and
/// the header's checksum (its last 4 of `header` bytes) over that.
fn written_as_version(file: &[u8], header: usize, version: u16) -> Vec<u8> {
    let mut out = file.to_vec();
    out[4..6].copy_from_slice(&version.to_le_bytes());
    let crc = crc32fast::hash(&out[..header - 4]);
    out[header - 4..header].copy_from_slice(&crc.to_le_bytes());
    out
}

#[test]
fn racing_claims_and_sweeps_are_journaled_in_the_order_they_took_effect() {
    // A wrong order shows only when a thread is preempted at the wrong moment: try a few times.
    for _ in 0..4 {
        race_and_restore();
    }
}

fn race_and_restore() {
    let mut config = test_config(OPEN);
    config.max_active = 400;
    config.admit_per_minute = 60_000.0;
    config.hold_seconds = 1;
    config.max_bookings_per_identity = 3;
    let mut fixture = Fixture::new(config, OPEN + S);
    fixture.room.add_slots(slots(0, 40), "config").unwrap();
    let passes: Vec<String> = (0..200)
        .map(|_| {
            let ticket = fixture.room.join(None, None).unwrap();
            fixture.room.status(&ticket.token).unwrap().pass_token.expect("admitted at once")
        })
        .collect();
    let room = &fixture.room;
    let clock = &fixture.clock;
    thread::scope(|scope| {
        for (worker, chunk) in passes.chunks(25).enumerate() {
            scope.spawn(move || {
                for round in 0..40 {
                    for (i, pass) in chunk.iter().enumerate() {
                        // A few hot slots, so that threads keep changing the same ones.
                        let slot = format!("s{}", (worker + i + round / 2) % 6);
                        match (round + i) % 4 {
                            0 | 2 => _ = room.hold(&slot, pass),
                            1 => _ = room.release_hold(&slot, pass),
                            _ => _ = room.confirm(&slot, pass),
                        }
                    }
                }
            });
        }
        // Holds lapse and are swept or taken over while the claims go on.
        scope.spawn(move || {
            for _ in 0..60 {
                clock.advance_micros(S / 4);
                room.tick();
            }
        });
    });
    fixture.drain();
    let restored = fixture.restore(None, &[&fixture.journal]);
    assert_same(&fixture.room, &restored);
    assert!(fixture.room.inventory().booking_count() > 0);
}

#[test]
fn a_token_of_a_lost_ticket_does_not_open_the_place_of_the_next_one() {
    let mut fixture = Fixture::new(test_config(OPEN), OPEN - 100 * S);
    fixture.room.join(None, None).unwrap();
    fixture.drain();
    let kept = fixture.journal.len();
    fixture.clock.advance_micros(3 * S);
    let lost = fixture.room.join(None, None).unwrap();
    fixture.drain();
    // The second join's record is lost (say, cut from a damaged journal).
    let restored = fixture.restore(None, &[&fixture.journal[..kept]]);
    fixture.clock.advance_micros(2 * S);
    let next = restored.join(None, None).unwrap();
    assert_eq!(next.ticket, lost.ticket, "the id is given out again");
    assert_eq!(restored.status(&lost.token).err(), Some(CoreError::UnknownTicket));
    assert_eq!(restored.leave(&lost.token).err(), Some(CoreError::UnknownTicket));
    assert_eq!(restored.status(&next.token).unwrap().view.ticket, next.ticket);
}

#[test]
fn a_pass_of_a_lost_admission_is_refused_to_booking_sites() {
    let mut fixture = Fixture::new(test_config(OPEN), OPEN + S);
    fixture.room.join(None, None).unwrap();
    fixture.drain();
    let kept = fixture.journal.len();
    fixture.clock.advance_micros(3 * S);
    // Nobody waits, so the join is admitted at once and its status carries the pass.
    let lost = fixture.room.join(None, None).unwrap();
    let pass = fixture.room.status(&lost.token).unwrap().pass_token.expect("admitted");
    assert_eq!(fixture.room.verify_pass(&pass).unwrap().ticket, lost.ticket);
    fixture.drain();
    // The join and its admission are lost; the id is given out again and admitted later.
    let restored = fixture.restore(None, &[&fixture.journal[..kept]]);
    fixture.clock.advance_micros(2 * S);
    let next = restored.join(None, None).unwrap();
    assert_eq!(next.ticket, lost.ticket, "the id is given out again");
    let new_pass = restored.status(&next.token).unwrap().pass_token.expect("admitted");
    assert_eq!(restored.verify_pass(&pass).err(), Some(CoreError::TokenExpired));
    assert_eq!(restored.verify_pass(&new_pass).unwrap().ticket, next.ticket);
}
