//! Rooms saved in format version 1 (a smoothed speed where the line's meter is now) restore
//! with everything but the measurement, which starts again, and go on in the current format.

use super::tests::{assert_same, config, driven_room, signer, slots, Driver, Fixture, OPEN};
use super::Room;
use crate::clock::{SharedClock, MICROS_PER_SECOND as S};
use crate::codec::{put_config, Put};
use crate::errors::CoreError;
use crate::eta::LineMeter;
use crate::events::{put_meter, Event};
use crate::format_v1;
use crate::journal::{
    journal_header, next_frame, read_journal_header, read_snapshot_file, snapshot_file, write_frame, FORMAT_VERSION,
};
use crate::room_config::ReturnedSlots;

/// `file` with the version in its header set to `version` and the header's checksum (its last
/// 4 of `header` bytes) over that, as a writer of that version wrote it.
fn with_version(file: &[u8], header: usize, version: u16) -> Vec<u8> {
    let mut out = file.to_vec();
    out[4..6].copy_from_slice(&version.to_le_bytes());
    let crc = crc32fast::hash(&out[..header - 4]);
    out[header - 4..header].copy_from_slice(&crc.to_le_bytes());
    out
}

fn meter_bytes(meter: &LineMeter) -> usize {
    let mut out = Vec::new();
    put_meter(&mut out, meter);
    out.len()
}

/// A journal segment (header and records) as version 1 wrote it: each tick with a speed where
/// its meter is, every other record as it is. Returns the segment and how many ticks it has.
fn journal_as_version_1(segment: &[u8]) -> (Vec<u8>, usize) {
    let (header, start) = read_journal_header(segment).unwrap().unwrap();
    let mut out = with_version(&journal_header(&header.room, header.generation), start, 1);
    let (mut at, mut ticks) = (start, 0);
    while let Some((payload, next)) = next_frame(segment, at).unwrap() {
        if let Event::Ticked { meter, .. } = Event::decode(payload).unwrap() {
            ticks += 1;
            let kept = payload.len() - meter_bytes(&meter);
            write_frame(&mut out, |out| {
                out.extend_from_slice(&payload[..kept]);
                format_v1::put_speed(out);
            });
        } else {
            write_frame(&mut out, |out| out.extend_from_slice(payload));
        }
        at = next;
    }
    (out, ticks)
}

/// The room's snapshot of `generation` as version 1 wrote it: a speed where the queue's meter
/// is. (The records it hands over end the journal before it, which the tests do not read.)
fn snapshot_as_version_1(room: &Room, generation: u64) -> Vec<u8> {
    let (file, _) = room.snapshot(generation);
    let (header, body) = read_snapshot_file(&file).unwrap();
    let queue = room.queue.lock();
    let mut before_queue = Vec::new();
    put_config(&mut before_queue, &queue.config, room.handoff_url().as_deref());
    let mut encoded_queue = Vec::new();
    queue.encode(&mut encoded_queue);
    let mut counters = Vec::new();
    let c = &queue.counters;
    for count in [c.joined, c.admitted, c.abandoned, c.left, c.completed, c.expired] {
        counters.put_varint(count);
    }
    let meter_at = before_queue.len() + encoded_queue.len() - counters.len() - meter_bytes(&queue.meter);
    let mut old = body[..meter_at].to_vec();
    format_v1::put_speed(&mut old);
    old.extend_from_slice(&body[meter_at + meter_bytes(&queue.meter)..]);
    let file = snapshot_file(&header.room, generation, &old);
    // Magic, version, generation, room id, body length and checksum, header checksum.
    with_version(&file, 4 + 2 + 8 + 1 + header.room.len() + 8 + 4 + 4, 1)
}

/// Asserts that `restored` is `original` but for the measurement, which starts empty.
fn assert_same_but_the_meter(original: &Room, restored: &Room) {
    let measured = original.queue.lock().meter;
    assert_eq!(std::mem::replace(&mut restored.queue.lock().meter, measured), LineMeter::default());
    assert_same(original, restored);
}

#[test]
fn version_1_journals_and_snapshots_restore_all_but_the_measurement() {
    for seed in 0..4u64 {
        let (fixture, _, file, at) = driven_room(seed, |room| snapshot_as_version_1(room, 1));
        assert_ne!(fixture.room.queue.lock().meter, LineMeter::default(), "nothing was measured");

        let (whole, ticks) = journal_as_version_1(&fixture.journal);
        assert!(ticks > 20, "{ticks} ticks");
        let from_journal = fixture.restore(None, &[&whole]);
        assert_same_but_the_meter(&fixture.room, &from_journal);

        let mut after = journal_header(fixture.room.id(), 1);
        after.extend_from_slice(&fixture.journal[at..]);
        let (after, _) = journal_as_version_1(&after);
        let from_snapshot = fixture.restore(Some(&file), &[&after]);
        assert_same_but_the_meter(&fixture.room, &from_snapshot);
        // A version 1 snapshot followed by a journal of the current version: the generation
        // a restart begins after reading version 1 files.
        let file = snapshot_as_version_1(&fixture.room, 2);
        let mut next = journal_header(fixture.room.id(), 2);
        fixture.room.join(Some("after-the-upgrade"), None).unwrap();
        next.extend_from_slice(&fixture.room.drain_journal());
        let upgraded = fixture.restore(Some(&file), &[&next]);
        assert_same_but_the_meter(&fixture.room, &upgraded);
    }
}

#[test]
fn a_room_read_from_version_1_goes_on_in_the_current_format() {
    let mut fixture = Fixture::new(config(ReturnedSlots::Windows, 3), OPEN - 120 * S);
    fixture.room.add_slots(slots(0, 30), "config").unwrap();
    let mut driver = Driver::new(3);
    for _ in 0..1500 {
        driver.step(&fixture);
    }
    fixture.drain();
    let (old, _) = journal_as_version_1(&fixture.journal);
    let restored = fixture.restore(None, &[&old]);
    assert_eq!(restored.queue.lock().meter, LineMeter::default());
    // It serves on: joins, and its line is measured again by the ticks that follow.
    restored.resume("ops").unwrap();
    for i in 0..20 {
        restored.join(Some(&format!("after-the-upgrade-{i}")), None).unwrap();
    }
    for _ in 0..40 {
        fixture.clock.advance_micros(S);
        restored.tick();
    }
    assert_ne!(restored.queue.lock().meter, LineMeter::default(), "the line was not measured again");
    // The records the snapshot hands over end the version 1 journal, which is not read again.
    let (file, _) = restored.snapshot(1);
    let mut next = journal_header(restored.id(), 1);
    restored.join(Some("after-the-snapshot"), None).unwrap();
    next.extend_from_slice(&restored.drain_journal());
    let (header, _) = read_snapshot_file(&file).unwrap();
    assert_eq!(header.version, FORMAT_VERSION);
    // Its new files read as the current format, with what it measured since.
    let again = fixture.restore(Some(&file), &[&next]);
    assert_same(&restored, &again);
}

#[test]
fn a_version_1_file_with_a_current_tick_or_other_versions_is_refused() {
    let mut fixture = Fixture::new(config(ReturnedSlots::Windows, 1), OPEN - 120 * S);
    fixture.room.add_slots(slots(0, 30), "config").unwrap();
    let mut driver = Driver::new(1);
    for _ in 0..1500 {
        driver.step(&fixture);
    }
    fixture.drain();
    let header = journal_header(fixture.room.id(), 0).len();
    let clock: SharedClock = fixture.clock.clone();
    // Records of the current format under a version 1 header do not fit: the restore stops
    // rather than guess.
    let mislabelled = with_version(&fixture.journal, header, 1);
    let error = Room::restore(signer(), clock.clone(), None, &[&mislabelled]).err().unwrap();
    assert!(matches!(&error, CoreError::JournalCorrupt(m) if m.contains("record at byte")), "{error}");
    for version in [0, FORMAT_VERSION + 1] {
        let other = with_version(&fixture.journal, header, version);
        let error = Room::restore(signer(), clock.clone(), None, &[&other]).err().unwrap();
        assert_eq!(error, CoreError::JournalIncompatible { found: version, supported: FORMAT_VERSION });
        assert!(error.to_string().contains("reads versions 1 to 2"), "{error}");
    }
}
