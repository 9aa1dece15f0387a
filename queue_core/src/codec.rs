//! The byte encoding shared by journal records and snapshots: little-endian fixed-width numbers
//! for times and floats, LEB128 varints for counts and ids (most are small), and length-prefixed
//! UTF-8 strings. Reading checks every bound, so damaged bytes give an error, never a panic.

use crate::errors::{CoreError, CoreResult};
use crate::room_config::{IdentityMode, PrequeueMode, ReturnedSlots, RoomConfig, DEFAULT_RETAIN_PERSONAL_DATA_HOURS};

/// Appends encoded values to a byte vector.
pub trait Put {
    fn put_u8(&mut self, value: u8);
    fn put_varint(&mut self, value: u64);
    fn put_i64(&mut self, value: i64);
    fn put_f64(&mut self, value: f64);
    fn put_str(&mut self, value: &str);

    fn put_bool(&mut self, value: bool) {
        self.put_u8(u8::from(value));
    }

    fn put_u32(&mut self, value: u32) {
        self.put_varint(u64::from(value));
    }

    fn put_opt_str(&mut self, value: Option<&str>) {
        self.put_bool(value.is_some());
        if let Some(value) = value {
            self.put_str(value);
        }
    }

    fn put_opt_i64(&mut self, value: Option<i64>) {
        self.put_bool(value.is_some());
        if let Some(value) = value {
            self.put_i64(value);
        }
    }

    fn put_u32s(&mut self, values: &[u32]) {
        self.put_varint(values.len() as u64);
        for &value in values {
            self.put_u32(value);
        }
    }
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, value: u8) {
        self.push(value);
    }

    fn put_varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.push(value.to_le_bytes()[0] | 0x80);
            value >>= 7;
        }
        self.push(value.to_le_bytes()[0]);
    }

    fn put_i64(&mut self, value: i64) {
        self.extend_from_slice(&value.to_le_bytes());
    }

    fn put_f64(&mut self, value: f64) {
        self.extend_from_slice(&value.to_le_bytes());
    }

    fn put_str(&mut self, value: &str) {
        self.put_varint(value.len() as u64);
        self.extend_from_slice(value.as_bytes());
    }
}

/// Reads encoded values from a byte slice; strings are borrowed from it.
pub struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

fn damaged(what: &str) -> CoreError {
    CoreError::JournalCorrupt(what.to_owned())
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    pub fn position(&self) -> usize {
        self.at
    }

    pub fn is_empty(&self) -> bool {
        self.at >= self.data.len()
    }

    /// Fails unless every byte was read: trailing bytes mean the encoding is not what we think.
    pub fn finish(&self) -> CoreResult<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(damaged("unexpected bytes after the end of a record"))
        }
    }

    pub fn bytes(&mut self, len: usize) -> CoreResult<&'a [u8]> {
        let end = self.at.checked_add(len).filter(|&end| end <= self.data.len()).ok_or_else(|| damaged("truncated"))?;
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> CoreResult<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> CoreResult<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub fn bool(&mut self) -> CoreResult<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(damaged("a flag is neither 0 nor 1")),
        }
    }

    pub fn varint(&mut self) -> CoreResult<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(damaged("a number is too long"))
    }

    pub fn u32(&mut self) -> CoreResult<u32> {
        u32::try_from(self.varint()?).map_err(|_| damaged("a 32-bit number is out of range"))
    }

    /// A count of items that follow, each at least `min_item_bytes` long: a damaged count
    /// cannot make the reader reserve more memory than the input could fill.
    pub fn count(&mut self, min_item_bytes: usize) -> CoreResult<usize> {
        let count = usize::try_from(self.varint()?).map_err(|_| damaged("a count is out of range"))?;
        let left = self.data.len() - self.at;
        if count.saturating_mul(min_item_bytes.max(1)) > left {
            return Err(damaged("a count is larger than the data"));
        }
        Ok(count)
    }

    pub fn i64(&mut self) -> CoreResult<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    pub fn f64(&mut self) -> CoreResult<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    pub fn str(&mut self) -> CoreResult<&'a str> {
        let len = self.count(1)?;
        std::str::from_utf8(self.bytes(len)?).map_err(|_| damaged("a text is not UTF-8"))
    }

    pub fn opt_str(&mut self) -> CoreResult<Option<&'a str>> {
        if self.bool()? {
            self.str().map(Some)
        } else {
            Ok(None)
        }
    }

    pub fn opt_i64(&mut self) -> CoreResult<Option<i64>> {
        if self.bool()? {
            self.i64().map(Some)
        } else {
            Ok(None)
        }
    }

    pub fn u32s(&mut self) -> CoreResult<Vec<u32>> {
        let len = self.count(1)?;
        (0..len).map(|_| self.u32()).collect()
    }
}

/// Set on the pre-queue byte when settings added after format version 1 follow the handoff URL.
/// A room that uses none of them is written exactly as before, so saved state stays readable by
/// the versions that wrote it.
const EXTENDED: u8 = 0x80;
/// Set on the identity-mode byte when `retain_personal_data_hours` (not the default) follows the
/// settings of `EXTENDED`; a room keeping the default is written as before the setting existed.
const RETENTION: u8 = 0x80;

/// A room's configuration, with the handoff URL that the bindings keep beside it.
pub fn put_config(out: &mut Vec<u8>, config: &RoomConfig, handoff_url: Option<&str>) {
    let extended = config.challenge_max_number != 0;
    let retention = config.retain_personal_data_hours != DEFAULT_RETAIN_PERSONAL_DATA_HOURS;
    out.put_str(&config.id);
    out.put_i64(config.opens_at);
    out.put_opt_i64(config.closes_at);
    out.put_opt_i64(config.prequeue_opens_at);
    out.put_f64(config.admit_per_minute);
    for value in [
        config.max_active,
        config.session_seconds,
        config.heartbeat_timeout_seconds,
        config.max_bookings_per_identity,
        config.hold_seconds,
        config.offer_seconds,
    ] {
        out.put_u32(value);
    }
    let prequeue = match config.prequeue {
        PrequeueMode::Shuffle => 0,
        PrequeueMode::Fifo => 1,
    };
    out.put_u8(if extended { prequeue | EXTENDED } else { prequeue });
    let identity = match config.identity {
        IdentityMode::Optional => 0,
        IdentityMode::Required => 1,
        IdentityMode::Entry => 2,
    };
    out.put_u8(if retention { identity | RETENTION } else { identity });
    out.put_u8(match config.returned_slots {
        ReturnedSlots::Windows => 0,
        ReturnedSlots::Waitlist => 1,
    });
    out.put_varint(config.release_windows.len() as u64);
    for window in &config.release_windows {
        out.put_str(window);
    }
    out.put_str(&config.timezone);
    out.put_varint(config.seed);
    out.put_opt_str(handoff_url);
    if extended {
        out.put_varint(u64::from(config.challenge_max_number));
    }
    if retention {
        out.put_varint(u64::from(config.retain_personal_data_hours));
    }
}

pub fn read_config<'a>(reader: &mut Reader<'a>) -> CoreResult<(RoomConfig, Option<&'a str>)> {
    let id = reader.str()?.to_owned();
    let opens_at = reader.i64()?;
    let closes_at = reader.opt_i64()?;
    let prequeue_opens_at = reader.opt_i64()?;
    let admit_per_minute = reader.f64()?;
    let mut numbers = [0u32; 6];
    for number in &mut numbers {
        *number = reader.u32()?;
    }
    let [max_active, session_seconds, heartbeat_timeout_seconds, max_bookings_per_identity, hold_seconds, offer_seconds] =
        numbers;
    let prequeue_byte = reader.u8()?;
    let extended = prequeue_byte & EXTENDED != 0;
    let prequeue = match prequeue_byte & !EXTENDED {
        0 => PrequeueMode::Shuffle,
        1 => PrequeueMode::Fifo,
        _ => return Err(damaged("unknown pre-queue mode")),
    };
    let identity_byte = reader.u8()?;
    let retention = identity_byte & RETENTION != 0;
    let identity = match identity_byte & !RETENTION {
        0 => IdentityMode::Optional,
        1 => IdentityMode::Required,
        2 => IdentityMode::Entry,
        _ => return Err(damaged("unknown identity mode")),
    };
    let returned_slots = match reader.u8()? {
        0 => ReturnedSlots::Windows,
        1 => ReturnedSlots::Waitlist,
        _ => return Err(damaged("unknown returned-slots mode")),
    };
    let windows = reader.count(1)?;
    let release_windows = (0..windows).map(|_| reader.str().map(str::to_owned)).collect::<CoreResult<_>>()?;
    let timezone = reader.str()?.to_owned();
    let seed = reader.varint()?;
    let handoff_url = reader.opt_str()?;
    let challenge_max_number = if extended {
        u32::try_from(reader.varint()?).map_err(|_| damaged("challenge difficulty out of range"))?
    } else {
        0
    };
    let retain_personal_data_hours = if retention {
        u32::try_from(reader.varint()?).map_err(|_| damaged("personal data retention out of range"))?
    } else {
        DEFAULT_RETAIN_PERSONAL_DATA_HOURS
    };
    let config = RoomConfig {
        id,
        opens_at,
        closes_at,
        prequeue_opens_at,
        admit_per_minute,
        max_active,
        session_seconds,
        heartbeat_timeout_seconds,
        prequeue,
        identity,
        returned_slots,
        release_windows,
        timezone,
        max_bookings_per_identity,
        hold_seconds,
        offer_seconds,
        seed,
        challenge_max_number,
        retain_personal_data_hours,
    };
    Ok((config, handoff_url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room_config::test_config;

    #[test]
    fn values_read_back() {
        let mut out = Vec::new();
        for value in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            out.put_varint(value);
        }
        out.put_i64(-5);
        out.put_f64(2.5);
        out.put_opt_str(Some("kiel"));
        out.put_opt_str(None);
        out.put_u32s(&[3, 1_000_000]);
        let mut reader = Reader::new(&out);
        for value in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(reader.varint().unwrap(), value);
        }
        assert_eq!(reader.i64().unwrap(), -5);
        assert_eq!(reader.f64().unwrap(), 2.5);
        assert_eq!(reader.opt_str().unwrap(), Some("kiel"));
        assert_eq!(reader.opt_str().unwrap(), None);
        assert_eq!(reader.u32s().unwrap(), vec![3, 1_000_000]);
        reader.finish().unwrap();
    }

    #[test]
    fn damaged_input_is_an_error_not_a_panic() {
        let mut reader = Reader::new(&[0xff; 11]);
        assert!(matches!(reader.varint(), Err(CoreError::JournalCorrupt(_))));
        let mut reader = Reader::new(&[200, 1]);
        assert!(reader.str().is_err());
        let mut reader = Reader::new(&[2, 0xc3, 0x28]);
        assert!(reader.str().is_err(), "invalid UTF-8 accepted");
        let mut reader = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(reader.u32s().is_err());
    }

    #[test]
    fn configs_read_back() {
        let mut config = test_config(1_000);
        config.closes_at = Some(5_000);
        config.release_windows = vec!["Mon-Fri 07:00".into()];
        config.seed = u64::MAX;
        let mut out = Vec::new();
        put_config(&mut out, &config, Some("https://book.example/"));
        let mut reader = Reader::new(&out);
        let (back, url) = read_config(&mut reader).unwrap();
        reader.finish().unwrap();
        assert_eq!(format!("{back:?}"), format!("{config:?}"));
        assert_eq!(url, Some("https://book.example/"));
    }

    #[test]
    fn a_challenge_difficulty_reads_back_and_leaves_other_rooms_as_they_were() {
        let plain = test_config(1_000);
        let mut before = Vec::new();
        put_config(&mut before, &plain, None);
        let mut with_challenge = plain.clone();
        with_challenge.challenge_max_number = 100_000;
        let mut out = Vec::new();
        put_config(&mut out, &with_challenge, None);
        assert!(out.len() > before.len());
        let mut reader = Reader::new(&out);
        let (back, _) = read_config(&mut reader).unwrap();
        reader.finish().unwrap();
        assert_eq!(back.challenge_max_number, 100_000);
        // A room without the challenge is written as version 1 wrote it, byte for byte.
        let mut reader = Reader::new(&before);
        assert_eq!(read_config(&mut reader).unwrap().0.challenge_max_number, 0);
        reader.finish().unwrap();
    }

    #[test]
    fn a_retention_reads_back_and_the_default_is_written_as_before() {
        let plain = test_config(1_000);
        let mut before = Vec::new();
        put_config(&mut before, &plain, None);
        for (challenge, hours) in [(0, 0), (0, 8_760), (100_000, 1)] {
            let mut config = plain.clone();
            config.challenge_max_number = challenge;
            config.retain_personal_data_hours = hours;
            let mut out = Vec::new();
            put_config(&mut out, &config, None);
            let mut reader = Reader::new(&out);
            let (back, _) = read_config(&mut reader).unwrap();
            reader.finish().unwrap();
            assert_eq!((back.challenge_max_number, back.retain_personal_data_hours), (challenge, hours));
        }
        let mut reader = Reader::new(&before);
        assert_eq!(read_config(&mut reader).unwrap().0.retain_personal_data_hours, DEFAULT_RETAIN_PERSONAL_DATA_HOURS);
        reader.finish().unwrap();
    }
}
