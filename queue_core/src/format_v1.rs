//! What format version 1 of journals and snapshots wrote differently: the wait estimate's
//! measurement. Version 1 kept a smoothed cursor speed (`SpeedState`: mean, variance and
//! measured seconds as f64, then the current bucket's passed positions as a varint and its
//! length in microseconds as an i64), in every `Ticked` record after the allowance and in the
//! queue's snapshot after the flags. The line's meter (`eta::LineMeter`) that replaced it counts
//! other things, which the speed cannot be turned into: it is read past, and the meter starts
//! empty, so the estimate says `measuring` until the line has been measured again. Everything
//! else of version 1 reads as the current format does.

use crate::codec::Reader;
use crate::errors::CoreResult;
use crate::eta::LineMeter;

/// Reads past a version 1 speed; the meter that takes its place starts empty.
pub fn read_speed(reader: &mut Reader<'_>) -> CoreResult<LineMeter> {
    let (_mean, _variance, _measured_seconds) = (reader.f64()?, reader.f64()?, reader.f64()?);
    let (_bucket_passed, _bucket_micros) = (reader.varint()?, reader.i64()?);
    Ok(LineMeter::default())
}

/// A speed as version 1's `put_speed` wrote it, for tests that build version 1 data.
#[cfg(test)]
pub(crate) fn put_speed(out: &mut Vec<u8>) {
    use crate::codec::Put;
    out.put_f64(9.5);
    out.put_f64(0.25);
    out.put_f64(31.0);
    out.put_varint(300);
    out.put_i64(400);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_speed_is_read_past_and_the_meter_starts_empty() {
        let mut out = Vec::new();
        put_speed(&mut out);
        out.push(7);
        let mut reader = Reader::new(&out);
        assert_eq!(read_speed(&mut reader).unwrap(), LineMeter::default());
        assert_eq!(reader.u8().unwrap(), 7);
        reader.finish().unwrap();
        for cut in 0..out.len() - 1 {
            assert!(read_speed(&mut Reader::new(&out[..cut])).is_err(), "cut at {cut}");
        }
    }
}
