//! Booking codes: 50 random bits written as ten characters of Crockford's base32 in two groups
//! of five ("7K3QD-X9M2A"). That is short enough to read out on the phone, has no letters that
//! look alike, and at 2^50 possible codes cannot be guessed for the few hundred thousand that
//! are live at once.

use std::collections::HashMap;

use super::int_hash::IntBuildHasher;
use crate::errors::{CoreError, CoreResult};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const SYMBOLS: usize = 10;
#[allow(clippy::cast_possible_truncation)] // 10 symbols
const CODE_BITS: u32 = 5 * SYMBOLS as u32;
const CODE_MASK: u64 = (1 << CODE_BITS) - 1;

/// The canonical spelling of a code: upper case, with the dash.
pub(super) fn format_code(code: u64) -> String {
    let mut text = String::with_capacity(SYMBOLS + 1);
    for position in 0..SYMBOLS {
        if position == SYMBOLS / 2 {
            text.push('-');
        }
        let shift = 5 * (SYMBOLS - 1 - position);
        text.push(char::from(ALPHABET[((code >> shift) & 31) as usize]));
    }
    text
}

/// Reads a code as a person may type it: any case, with or without dashes, and with the
/// look-alikes Crockford allows (I and L for 1, O for 0). `None` for anything else.
pub(super) fn parse_code(text: &str) -> Option<u64> {
    let mut code = 0u64;
    let mut symbols = 0;
    for byte in text.trim().bytes() {
        if byte == b'-' {
            continue;
        }
        let value = symbol_value(byte)?;
        symbols += 1;
        if symbols > SYMBOLS {
            return None;
        }
        code = (code << 5) | u64::from(value);
    }
    (symbols == SYMBOLS).then_some(code)
}

fn symbol_value(byte: u8) -> Option<u8> {
    let upper = match byte.to_ascii_uppercase() {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    };
    ALPHABET.iter().position(|&symbol| symbol == upper).and_then(|index| u8::try_from(index).ok())
}

/// A booking that was cancelled: its slot (index), its holder and when. Kept so that its code
/// answers with what became of the booking instead of looking as if it never existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cancelled {
    pub(crate) slot: u32,
    pub(crate) holder: u32,
    pub(crate) at: i64,
}

/// The live booking codes and the slot each belongs to, and the cancelled ones. It sits behind
/// one mutex in the inventory, and every transition into or out of Booked happens under that
/// mutex, so a booked slot's code is always settled for whoever holds it.
#[derive(Debug, Default)]
pub(super) struct CodeBook {
    slots_by_code: HashMap<u64, u32, IntBuildHasher>,
    /// One entry per cancellation, which took a booking: bounded by the bookings ever made.
    cancelled: HashMap<u64, Cancelled, IntBuildHasher>,
    /// Random words fetched from the operating system in bulk: one system call per 64 codes
    /// instead of one per booking.
    pool: Vec<u64>,
}

const POOL_WORDS: usize = 64;

impl CodeBook {
    /// A fresh code that no booking, live or cancelled, uses. Nothing is reserved until `insert`.
    pub(super) fn draw_unused(&mut self) -> CoreResult<u64> {
        loop {
            let code = self.next_random()? & CODE_MASK;
            // Zero is kept free so that a slot's code cell can use it for "none".
            if code != 0 && !self.slots_by_code.contains_key(&code) && !self.cancelled.contains_key(&code) {
                return Ok(code);
            }
        }
    }

    fn next_random(&mut self) -> CoreResult<u64> {
        if let Some(word) = self.pool.pop() {
            return Ok(word);
        }
        let mut bytes = [0u8; POOL_WORDS * 8];
        getrandom::fill(&mut bytes).map_err(|error| CoreError::EntropyUnavailable(error.to_string()))?;
        self.pool.extend(bytes.chunks_exact(8).map(|chunk| u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]))));
        // The pool was just filled with POOL_WORDS words.
        Ok(self.pool.pop().unwrap_or(0))
    }

    pub(super) fn insert(&mut self, code: u64, slot: u32) {
        self.slots_by_code.insert(code, slot);
    }

    pub(super) fn slot_of(&self, code: u64) -> Option<u32> {
        self.slots_by_code.get(&code).copied()
    }

    pub(super) fn remove(&mut self, code: u64) -> Option<u32> {
        self.slots_by_code.remove(&code)
    }

    pub(super) fn note_cancelled(&mut self, code: u64, cancelled: Cancelled) {
        self.cancelled.insert(code, cancelled);
    }

    pub(super) fn cancelled(&self, code: u64) -> Option<Cancelled> {
        self.cancelled.get(&code).copied()
    }

    /// The cancelled bookings, by code (for a snapshot).
    pub(super) fn cancelled_by_code(&self) -> Vec<(u64, Cancelled)> {
        let mut all: Vec<(u64, Cancelled)> = self.cancelled.iter().map(|(&code, &c)| (code, c)).collect();
        all.sort_unstable_by_key(|(code, _)| *code);
        all
    }

    /// Moves the cancelled bookings of `other` here (a rebuild keeps them: no slot word says
    /// them).
    pub(super) fn take_cancelled(&mut self, other: &mut CodeBook) {
        self.cancelled = std::mem::take(&mut other.cancelled);
    }

    pub(super) fn len(&self) -> usize {
        self.slots_by_code.len()
    }

    /// How many cancelled bookings still answer by their code.
    pub(super) fn cancelled_len(&self) -> usize {
        self.cancelled.len()
    }

    /// Forgets the cancelled bookings (a room's personal data is deleted).
    pub(super) fn forget_cancelled(&mut self) {
        self.cancelled = HashMap::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_in_every_accepted_spelling() {
        let code = 0x3_1234_5678_9ABC & CODE_MASK;
        let text = format_code(code);
        assert_eq!(text.len(), 11);
        assert_eq!(text.as_bytes()[5], b'-');
        assert_eq!(parse_code(&text), Some(code));
        assert_eq!(parse_code(&text.to_lowercase()), Some(code));
        assert_eq!(parse_code(&text.replace('-', "")), Some(code));
        assert_eq!(parse_code(&format!("  {text} ")), Some(code));
    }

    #[test]
    fn crockford_look_alikes_are_accepted() {
        assert_eq!(parse_code("OOOOO-IIIII"), parse_code("00000-11111"));
        assert_eq!(parse_code("ooooo-lllll"), parse_code("00000-11111"));
        assert_eq!(format_code(parse_code("00000-11111").unwrap()), "00000-11111");
        assert_eq!(format_code(CODE_MASK), "ZZZZZ-ZZZZZ");
    }

    #[test]
    fn malformed_codes_are_refused() {
        for text in ["", "ABCDE", "ABCDE-FGHJK1", "ABCDE-FGHJU", "ABCDE_FGHJK", "ÄBCDE-FGHJK"] {
            assert_eq!(parse_code(text), None, "{text:?}");
        }
    }

    #[test]
    fn drawn_codes_are_fresh_and_in_range() {
        let mut book = CodeBook::default();
        for slot in 0..500 {
            let code = book.draw_unused().unwrap();
            assert!(code != 0 && code <= CODE_MASK);
            assert_eq!(book.slot_of(code), None);
            book.insert(code, slot);
        }
        assert_eq!(book.len(), 500);
    }
}
