//! The index from slot id to slot number: an open-addressing table of 8-byte buckets holding a
//! hash tag and the slot's number, the id itself staying in the slot. Half the memory of a map
//! that owns its keys and one cache miss per insertion instead of two, which is what lets a
//! million slots load in a fraction of a second.
//!
//! Ids come from visitors' requests, so they are hashed with the seeded SipHash of the standard
//! library: nobody can aim requests at one chain of buckets.

use std::hash::{BuildHasher, RandomState};

const EMPTY: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// The high half of the id's hash; its low bits also pick the home bucket.
    tag: u32,
    /// The slot's number, or `EMPTY`.
    slot: u32,
}

const VACANT: Bucket = Bucket { tag: 0, slot: EMPTY };

#[derive(Debug, Default)]
pub(super) struct IdIndex {
    hasher: RandomState,
    /// A power of two in length, at most half full; empty before the first slot.
    buckets: Vec<Bucket>,
    len: usize,
}

impl IdIndex {
    fn tag(&self, id: &str) -> u32 {
        (self.hasher.hash_one(id) >> 32) as u32
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    /// The number of the slot with this id; `id_of` reads the id of a slot number.
    pub(super) fn find<'a>(&self, id: &str, id_of: impl Fn(u32) -> &'a str) -> Option<u32> {
        if self.buckets.is_empty() {
            return None;
        }
        let tag = self.tag(id);
        let mask = self.mask();
        let mut at = tag as usize & mask;
        loop {
            let bucket = self.buckets[at];
            if bucket.slot == EMPTY {
                return None;
            }
            if bucket.tag == tag && id_of(bucket.slot) == id {
                return Some(bucket.slot);
            }
            at = (at + 1) & mask;
        }
    }

    /// Makes room for `additional` more ids without growing during an insertion batch, so that
    /// `forget_last` can undo a batch exactly.
    pub(super) fn reserve(&mut self, additional: usize) {
        let wanted = (self.len + additional).saturating_mul(2).max(16).next_power_of_two();
        if wanted <= self.buckets.len() {
            return;
        }
        let old = std::mem::replace(&mut self.buckets, vec![VACANT; wanted]);
        let mask = self.mask();
        for bucket in old.into_iter().filter(|b| b.slot != EMPTY) {
            let mut at = bucket.tag as usize & mask;
            while self.buckets[at].slot != EMPTY {
                at = (at + 1) & mask;
            }
            self.buckets[at] = bucket;
        }
    }

    /// Enters `slot` under `id`, or returns the slot that has the id already. Room must have
    /// been reserved. Returns the bucket used, for `forget_last`.
    pub(super) fn insert<'a>(&mut self, id: &str, slot: u32, id_of: impl Fn(u32) -> &'a str) -> Result<usize, u32> {
        debug_assert!(self.len < self.buckets.len() / 2);
        let tag = self.tag(id);
        let mask = self.mask();
        let mut at = tag as usize & mask;
        loop {
            let bucket = self.buckets[at];
            if bucket.slot == EMPTY {
                self.buckets[at] = Bucket { tag, slot };
                self.len += 1;
                return Ok(at);
            }
            if bucket.tag == tag && id_of(bucket.slot) == id {
                return Err(bucket.slot);
            }
            at = (at + 1) & mask;
        }
    }

    /// Undoes an insertion. Undoing insertions in the reverse of their order restores the
    /// table exactly: each went into a bucket that was empty, and no later one is left that
    /// could have probed past it.
    pub(super) fn forget_last(&mut self, bucket: usize) {
        self.buckets[bucket] = VACANT;
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_and_undoes_a_batch() {
        let ids: Vec<String> = (0..5_000).map(|i| format!("slot-{i}")).collect();
        let id_of = |slot: u32| ids[slot as usize].as_str();
        let mut index = IdIndex::default();
        assert_eq!(index.find("slot-1", id_of), None);
        index.reserve(1_000);
        for slot in 0..1_000 {
            index.insert(&ids[slot as usize], slot, id_of).unwrap();
        }
        index.reserve(4_000);
        let mut batch = Vec::new();
        for slot in 1_000..5_000 {
            batch.push(index.insert(&ids[slot as usize], slot, id_of).unwrap());
        }
        assert_eq!(index.insert("slot-42", 7, id_of), Err(42));
        for bucket in batch.into_iter().rev() {
            index.forget_last(bucket);
        }
        assert_eq!(index.len, 1_000);
        assert!((0..1_000).all(|slot| index.find(&ids[slot as usize], id_of) == Some(slot)));
        assert!((1_000..5_000).all(|slot| index.find(&ids[slot as usize], id_of).is_none()));
    }
}
