//! The on-disk framing of a room's saved state, and the buffer its changes are journaled into.
//!
//! The core does no I/O: a journaled room appends encoded records to a `JournalSink`, and the
//! embedding program drains the bytes, writes them to a file and syncs it. The formats:
//!
//! - a journal segment is a header, then records. Header: magic `PYQJ`, format version (u16),
//!   generation (u64), room id (length u8 + bytes), CRC-32 of the header bytes before it.
//!   Record: payload length (u32) | CRC-32 of the payload (u32) | payload (one event). All
//!   numbers little-endian. A crash can leave the last record unfinished: its frame runs past
//!   the end of the file, or the file is zeros from it on (space the file system had not
//!   filled). A frame that is all there but fails its checksum was written whole and damaged
//!   since: that is damage wherever it is, the end of the file included.
//! - a snapshot is a header (magic `PYQS`, version, generation, room id, body length (u64),
//!   body CRC-32, header CRC-32) and the encoded state. It is written whole (to a temporary file
//!   that is then renamed), so any damage means the file cannot be used.
//!
//! The version follows the magic directly, so that any later format, however its header looks,
//! is refused as incompatible rather than misread.

use std::ops::Range;

use parking_lot::{Mutex, MutexGuard};

use crate::errors::{CoreError, CoreResult};
use crate::events::Event;

/// The format of journals and snapshots this build writes. Version 2: ticks and snapshots
/// carry the line's measurement (`eta::LineMeter`) where version 1 had a smoothed cursor speed.
pub const FORMAT_VERSION: u16 = 2;
/// The oldest format this build reads. Version 1 differs only in the measurement, which cannot
/// be turned into the meter: it is read past and the measurement starts again (see
/// `format_v1`), so that an upgrade keeps every room's queue and bookings. A room read from
/// version 1 goes on in new files of the current version: the embedding program starts a new
/// generation (journal and snapshot) at every start, and never appends to a file it read.
pub const OLDEST_READABLE_VERSION: u16 = 1;

/// Whether this build reads files of format `version`.
pub fn readable(version: u16) -> bool {
    (OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version)
}

const JOURNAL_MAGIC: [u8; 4] = *b"PYQJ";
const SNAPSHOT_MAGIC: [u8; 4] = *b"PYQS";
const FRAME_HEADER: usize = 8;
/// No single record comes near this; a larger length field is damage.
const MAX_RECORD: usize = 1 << 30;

/// What a journal or snapshot header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub room: String,
    pub generation: u64,
    /// The format the file was written in (one that `readable` accepts): its records and body
    /// are decoded as that version wrote them.
    pub version: u16,
}

/// Where and why replay stopped before the end of a journal segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// Length of the good part: the file may be truncated to it.
    pub offset: usize,
    pub reason: String,
}

/// The header of a new journal segment.
pub fn journal_header(room: &str, generation: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + room.len());
    start_header(&mut out, JOURNAL_MAGIC, room, generation);
    finish_header(&mut out, 0);
    out
}

fn start_header(out: &mut Vec<u8>, magic: [u8; 4], room: &str, generation: u64) {
    out.extend_from_slice(&magic);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&generation.to_le_bytes());
    // Room ids are at most 64 bytes (`limits::ROOM_ID`).
    out.push(u8::try_from(room.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(&room.as_bytes()[..room.len().min(255)]);
}

fn finish_header(out: &mut Vec<u8>, from: usize) {
    let crc = crc32fast::hash(&out[from..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Reads the magic and version and, if they are ours, the rest of a header. `Ok(None)` when the
/// data ends inside the header: a segment whose creation was cut short holds nothing yet.
fn read_header(data: &[u8], magic: [u8; 4], what: &str, extra: usize) -> CoreResult<Option<(Header, usize)>> {
    if data.len() < 4 {
        return if magic.starts_with(data) {
            Ok(None)
        } else {
            Err(CoreError::JournalCorrupt(format!("this is not a pyqueue {what} file")))
        };
    }
    let version = data.get(4..6).map(|v| u16::from_le_bytes([v[0], v[1]]));
    if data[..4] != magic || version.is_some_and(|version| !readable(version)) {
        if ours_but_damaged(data, magic, extra) {
            return Err(CoreError::JournalCorrupt(format!(
                "the {what} header is damaged: its magic or format version bytes changed after it was written"
            )));
        }
        if data[..4] != magic {
            return Err(CoreError::JournalCorrupt(format!("this is not a pyqueue {what} file")));
        }
    }
    let Some(version) = version else { return Ok(None) };
    if !readable(version) {
        return Err(CoreError::JournalIncompatible { found: version, supported: FORMAT_VERSION });
    }
    let Some(&room_len) = data.get(14) else { return Ok(None) };
    let end = 15 + usize::from(room_len) + extra;
    let Some(crc) = data.get(end..end + 4) else { return Ok(None) };
    if crc32fast::hash(&data[..end]).to_le_bytes() != crc {
        return Err(CoreError::JournalCorrupt(format!("the {what} header is damaged: its checksum does not match")));
    }
    let generation = u64::from_le_bytes(data[6..14].try_into().unwrap_or([0; 8]));
    let room = std::str::from_utf8(&data[15..15 + usize::from(room_len)])
        .map_err(|_| CoreError::JournalCorrupt(format!("the {what} header's room id is not UTF-8")))?;
    Ok(Some((Header { room: room.to_owned(), generation, version }, end + 4)))
}

/// Whether a header whose magic or version is not ours was ours when written: with them put
/// back (the version as any this build reads), its checksum (which covers them) matches. A
/// flipped byte there is damage to show and repair; a file of another format or of a version
/// this build does not read fails this (but by a chance of one in 2^32), and is refused as such.
fn ours_but_damaged(data: &[u8], magic: [u8; 4], extra: usize) -> bool {
    let mut restored = data[..data.len().min(15 + 255 + extra + 4)].to_vec();
    if restored.len() < 6 {
        return false;
    }
    restored[..4].copy_from_slice(&magic);
    (OLDEST_READABLE_VERSION..=FORMAT_VERSION).any(|version| {
        restored[4..6].copy_from_slice(&version.to_le_bytes());
        matches!(read_header(&restored, magic, "", extra), Ok(Some(_)))
    })
}

/// The header of a journal segment and where its records start; `None` if it is incomplete.
pub fn read_journal_header(data: &[u8]) -> CoreResult<Option<(Header, usize)>> {
    read_header(data, JOURNAL_MAGIC, "journal", 0)
}

/// A whole snapshot file: header plus `body`.
pub fn snapshot_file(room: &str, generation: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(40 + room.len() + body.len());
    start_header(&mut out, SNAPSHOT_MAGIC, room, generation);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    finish_header(&mut out, 0);
    out.extend_from_slice(body);
    out
}

/// The header and body of a snapshot file, checked whole.
pub fn read_snapshot_file(data: &[u8]) -> CoreResult<(Header, &[u8])> {
    let incomplete = || CoreError::JournalCorrupt("the snapshot file is incomplete".into());
    let (header, body_at) = read_header(data, SNAPSHOT_MAGIC, "snapshot", 12)?.ok_or_else(incomplete)?;
    let fields = &data[body_at - 16..body_at - 4];
    let len = u64::from_le_bytes(fields[..8].try_into().unwrap_or([0; 8]));
    let crc = &fields[8..12];
    let body = usize::try_from(len)
        .ok()
        .and_then(|len| data.get(body_at..body_at.checked_add(len)?))
        .ok_or_else(incomplete)?;
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err(CoreError::JournalCorrupt("the snapshot's checksum does not match".into()));
    }
    Ok((header, body))
}

/// Appends one record whose payload `encode` writes.
pub fn write_frame(out: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    encode(out);
    // A wrapped length would make every later record unreadable; no record comes near 4 GiB.
    let len = u32::try_from(out.len() - start - FRAME_HEADER).expect("a journal record is under 4 GiB");
    let crc = crc32fast::hash(&out[start + FRAME_HEADER..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Why the data at some offset is not a good record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFrame {
    pub reason: String,
    /// What an append cut short by a crash leaves: the frame runs past the end of the data, or
    /// the data is zeros from the frame on. Otherwise the frame was written whole and damaged
    /// since (a checksum that does not match, a length no record has).
    pub unfinished: bool,
    /// Where the payload would be, when the data holds all of it: damaged, it may still decode.
    pub payload: Option<Range<usize>>,
}

impl BadFrame {
    fn unfinished(reason: String) -> Self {
        Self { reason, unfinished: true, payload: None }
    }

    fn damaged(reason: String, payload: Option<Range<usize>>) -> Self {
        Self { reason, unfinished: false, payload }
    }
}

/// The record at `at` and where the next one starts; `Ok(None)` at the clean end of the data,
/// `Err` for an unfinished or damaged record.
pub fn next_frame(data: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, BadFrame> {
    if at == data.len() {
        return Ok(None);
    }
    if data.get(at..).is_some_and(|rest| rest.iter().all(|&byte| byte == 0)) {
        return Err(BadFrame::unfinished(format!(
            "the last {} bytes are zeros (space the file system had not filled)",
            data.len() - at
        )));
    }
    let Some(head) = data.get(at..at + FRAME_HEADER) else {
        return Err(BadFrame::unfinished(format!(
            "the last record is torn: {} of its 8 header bytes were written",
            data.len() - at
        )));
    };
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let crc = [head[4], head[5], head[6], head[7]];
    if len == 0 {
        // Every event has at least its tag.
        return Err(BadFrame::damaged("a record of length zero".into(), None));
    }
    if len > MAX_RECORD {
        return Err(BadFrame::damaged(format!("a record claims an impossible length of {len} bytes"), None));
    }
    let start = at + FRAME_HEADER;
    let Some(payload) = data.get(start..start + len) else {
        return Err(BadFrame::unfinished(format!(
            "the last record is torn: {} of its {len} bytes were written",
            data.len() - start
        )));
    };
    if crc32fast::hash(payload).to_le_bytes() != crc {
        return Err(BadFrame::damaged("a record's checksum does not match".into(), Some(start..start + len)));
    }
    Ok(Some((payload, start + len)))
}

/// The first offset at or after `from` where a whole record with a matching checksum starts
/// and `accept` takes its payload. After damage, whether any follows tells a torn tail (none:
/// the crash came mid-write) from damage in the middle of the data (some: records that were
/// written whole, and perhaps confirmed, lie beyond it).
///
/// `accept` is asked before the checksum is computed: it rejects most garbage at once, so that
/// scanning damaged data costs about its length, not its length times a claimed record's.
pub fn find_frame(data: &[u8], from: usize, accept: impl Fn(&[u8]) -> bool) -> Option<(usize, &[u8], usize)> {
    (from..data.len()).find_map(|at| {
        let head = data.get(at..at + FRAME_HEADER)?;
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let candidate = data.get(at + FRAME_HEADER..at + FRAME_HEADER + len)?;
        if !accept(candidate) {
            return None;
        }
        match next_frame(data, at) {
            Ok(Some((payload, next))) => Some((at, payload, next)),
            _ => None,
        }
    })
}

/// Where a journaled room puts its records until the embedding program drains them.
///
/// The buffer's mutex also orders the room's changes: a change and the appending of its record
/// happen under it whenever two changes could race on the same state (slot claims), so the
/// records come out in the order the changes took effect.
#[derive(Debug, Default)]
pub struct JournalSink {
    buffer: Mutex<Vec<u8>>,
}

impl JournalSink {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn append(&self, event: &Event<'_>) {
        let mut buffer = self.buffer.lock();
        write_frame(&mut buffer, |out| event.encode(out));
    }

    /// Locks the buffer, for a change that must be recorded in the order it took effect.
    pub fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.buffer.lock()
    }

    /// Everything recorded since the last drain.
    pub fn drain(&self) -> Vec<u8> {
        std::mem::take(&mut *self.buffer.lock())
    }

    pub fn pending_bytes(&self) -> usize {
        self.buffer.lock().len()
    }
}

/// Appends an already encoded record body (see `write_frame`) under an existing lock.
pub fn append_encoded(buffer: &mut Vec<u8>, event: &Event<'_>) {
    write_frame(buffer, |out| event.encode(out));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `header` as a writer of format `version` would have written it: the checksum covers
    /// the version (a changed version byte alone is damage).
    fn written_as(header: &[u8], version: u16) -> Vec<u8> {
        let mut other = header.to_vec();
        other[4..6].copy_from_slice(&version.to_le_bytes());
        let crc_at = header.len() - 4;
        let crc = crc32fast::hash(&other[..crc_at]);
        other[crc_at..].copy_from_slice(&crc.to_le_bytes());
        other
    }

    #[test]
    fn headers_read_back_and_refuse_other_versions() {
        let header = journal_header("kiel", 7);
        let (read, at) = read_journal_header(&header).unwrap().unwrap();
        assert_eq!(read, Header { room: "kiel".into(), generation: 7, version: FORMAT_VERSION });
        assert_eq!(at, header.len());
        for cut in 0..header.len() {
            assert_eq!(read_journal_header(&header[..cut]).unwrap(), None, "cut at {cut}");
        }
        // A later version, whose writer computed the header's checksum over its version, and
        // the version before the first, are refused.
        for version in [FORMAT_VERSION + 1, OLDEST_READABLE_VERSION - 1, u16::MAX] {
            assert_eq!(
                read_journal_header(&written_as(&header, version)),
                Err(CoreError::JournalIncompatible { found: version, supported: FORMAT_VERSION }),
                "version {version}"
            );
        }
    }

    #[test]
    fn version_1_headers_read_with_their_version() {
        let header = written_as(&journal_header("kiel", 7), 1);
        let (read, at) = read_journal_header(&header).unwrap().unwrap();
        assert_eq!((read, at), (Header { room: "kiel".into(), generation: 7, version: 1 }, header.len()));
        for cut in 0..header.len() {
            assert_eq!(read_journal_header(&header[..cut]).unwrap(), None, "cut at {cut}");
        }
        // A version byte of a version 1 header changed since is damage, not another version.
        for (byte, flip) in [(4, 0x02), (4, 0x01), (5, 0x80)] {
            let mut flipped = header.clone();
            flipped[byte] ^= flip;
            let error = read_journal_header(&flipped).err();
            assert!(
                matches!(&error, Some(CoreError::JournalCorrupt(m)) if m.contains("header is damaged")),
                "flip {flip:#x} at {byte}: {error:?}"
            );
        }
        let snapshot = snapshot_file("kiel", 3, b"state");
        let header_len = snapshot.len() - 5;
        let mut older = written_as(&snapshot[..header_len], 1);
        older.extend_from_slice(b"state");
        let (read, body) = read_snapshot_file(&older).unwrap();
        assert_eq!((read.version, read.generation, body), (1, 3, &b"state"[..]));
    }

    #[test]
    fn damaged_headers_are_damage() {
        let header = journal_header("kiel", 7);
        // A flipped byte anywhere in the header is damage, the magic and version included.
        let mut journal = header.clone();
        write_frame(&mut journal, |out| out.extend_from_slice(b"a record"));
        for byte in 0..header.len() {
            let mut flipped = journal.clone();
            flipped[byte] ^= 0x02;
            let error = read_journal_header(&flipped).err();
            assert!(
                matches!(&error, Some(CoreError::JournalCorrupt(m)) if m.contains("header is damaged")),
                "flip at {byte}: {error:?}"
            );
        }
        assert!(matches!(read_journal_header(b"GIF89a"), Err(CoreError::JournalCorrupt(_))));
        assert!(matches!(read_journal_header(b"PYQS"), Err(CoreError::JournalCorrupt(_))));
        // A snapshot where a journal should be is another kind of file, not damage.
        let snapshot = snapshot_file("kiel", 7, b"state");
        assert!(
            matches!(read_journal_header(&snapshot), Err(CoreError::JournalCorrupt(m)) if m.contains("not a pyqueue"))
        );
    }

    #[test]
    fn frames_read_back_and_damage_is_found() {
        let mut data = Vec::new();
        write_frame(&mut data, |out| out.extend_from_slice(b"one"));
        write_frame(&mut data, |out| out.extend_from_slice(b"second"));
        let (first, next) = next_frame(&data, 0).unwrap().unwrap();
        assert_eq!(first, b"one");
        let (second, end) = next_frame(&data, next).unwrap().unwrap();
        assert_eq!((second, end), (&b"second"[..], data.len()));
        assert_eq!(next_frame(&data, end).unwrap(), None);
        for cut in next + 1..data.len() {
            let bad = next_frame(&data[..cut], next).unwrap_err();
            assert!(bad.unfinished && bad.reason.contains("torn"), "cut at {cut}: {bad:?}");
        }
        for byte in next..data.len() {
            let mut damaged = data.clone();
            damaged[byte] ^= 0x10;
            assert!(next_frame(&damaged, next).is_err(), "flip at {byte} not found");
        }
        let zeros = next_frame(&[0u8; 16], 0).unwrap_err();
        assert!(zeros.unfinished && zeros.reason.contains("zeros"), "{zeros:?}");
    }

    #[test]
    fn a_whole_last_frame_with_a_bad_checksum_is_damage_not_unfinished() {
        let mut data = Vec::new();
        write_frame(&mut data, |out| out.extend_from_slice(b"one"));
        let last = data.len();
        write_frame(&mut data, |out| out.extend_from_slice(b"second"));
        for byte in last + 4..data.len() {
            let mut damaged = data.clone();
            damaged[byte] ^= 0x10;
            let bad = next_frame(&damaged, last).unwrap_err();
            assert!(!bad.unfinished, "flip at {byte}: {bad:?}");
            assert_eq!(bad.payload, Some(last + 8..data.len()));
        }
        // A length field flipped to run past the end looks like a torn record.
        let mut longer = data.clone();
        longer[last] ^= 0x10;
        assert!(next_frame(&longer, last).unwrap_err().unfinished);
        // A length of zero with data after it is no unfilled space.
        let mut zero = data.clone();
        zero[last..last + 4].fill(0);
        assert!(!next_frame(&zero, last).unwrap_err().unfinished);
        // Zeros after the last whole record are.
        let mut padded = data.clone();
        padded.extend_from_slice(&[0; 100]);
        assert!(next_frame(&padded, data.len()).unwrap_err().unfinished);
    }

    #[test]
    fn whole_records_are_found_after_damage() {
        let mut data = Vec::new();
        write_frame(&mut data, |out| out.extend_from_slice(b"one"));
        let second = data.len();
        write_frame(&mut data, |out| out.extend_from_slice(b"second"));
        let third = data.len();
        write_frame(&mut data, |out| out.extend_from_slice(b"third"));
        data[second + 9] ^= 0x04;
        assert!(next_frame(&data, second).is_err());
        let (at, payload, next) = find_frame(&data, second + 1, |_| true).unwrap();
        assert_eq!((at, payload, next), (third, &b"third"[..], data.len()));
        assert_eq!(find_frame(&data, second + 1, |p| p != b"third"), None);
        // Nothing whole after a torn last record.
        assert_eq!(find_frame(&data[..data.len() - 2], second + 1, |_| true), None);
        assert_eq!(find_frame(&[0u8; 64], 0, |_| true), None);
        // Garbage whose length fields claim records yields none.
        let garbage: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert_eq!(find_frame(&garbage, 0, |payload| payload.first() == Some(&7)), None);
    }

    #[test]
    fn snapshots_are_checked_whole() {
        let file = snapshot_file("kiel", 3, b"state");
        let (header, body) = read_snapshot_file(&file).unwrap();
        assert_eq!((header.generation, body), (3, &b"state"[..]));
        assert!(read_snapshot_file(&file[..file.len() - 1]).is_err());
        for byte in 0..file.len() {
            let mut damaged = file.clone();
            damaged[byte] ^= 0x01;
            let error = read_snapshot_file(&damaged).err();
            assert!(matches!(error, Some(CoreError::JournalCorrupt(_))), "flip at {byte}: {error:?}");
        }
    }
}
