//! A fast hasher for the integer keys of the inventory's maps: ticket ids, which the room hands
//! out itself, and booking codes, which are random. Neither is a visitor's choice, so the
//! flooding resistance of the default SipHash buys nothing there. (Slot ids and group names,
//! which visitors send, keep SipHash.)

use std::hash::{BuildHasherDefault, Hasher};

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Debug, Default, Clone, Copy)]
pub(super) struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        // MurmurHash3's finaliser: the map takes its tags from the top bits and its buckets
        // from the bottom ones, so every input bit must reach both.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        h ^ (h >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(MULTIPLIER).rotate_left(29);
    }
}

pub(super) type IntBuildHasher = BuildHasherDefault<IntHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    #[test]
    fn sequential_ids_use_every_tag_and_bucket_bit() {
        let hash = |i: u32| IntBuildHasher::default().hash_one(i);
        let tags: HashSet<u64> = (0..10_000).map(|i| hash(i) >> 57).collect();
        assert_eq!(tags.len(), 128);
        let buckets: HashSet<u64> = (0..4_096).map(|i| hash(i) & 4_095).collect();
        assert!(buckets.len() > 2_400, "{} of 4096 buckets", buckets.len());
    }
}
