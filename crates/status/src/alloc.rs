//! Where a new credential's status lives: an index drawn at random, never reused, in one of
//! an issuer's many lists (shards) of at least 2^17 entries (herd privacy: a verifier that
//! fetches a list learns only that the credential is one of its many entries, and indices
//! say nothing of issuing order).

use eid_core::Random;
use eid_core::status::StatusListReference;

use crate::StatusError;

/// The smallest shard eid allocates in: 2^17 entries (the draft's privacy considerations ask
/// for lists large enough that one entry does not single out its holder).
pub const MIN_SHARD_SIZE: u64 = 1 << 17;

/// The most shards one issuer's allocator holds: 2^20 shards of 2^17 entries or more are
/// over 10^11 entries, seventy per resident; a restored index beyond them is refused rather
/// than allocating memory for every shard before it.
pub const MAX_SHARDS: u64 = 1 << 20;

/// Allocation stops in a shard once this share of it (in 1/256ths) is taken, so that a
/// random draw finds a free index within four tries on average, and a new shard opens.
const MAX_FILL_256THS: u64 = 192;

/// An issuer's shards and which of their indices are taken. Shard `n` is published at
/// `{base_uri}/{n}`; a global index `g` is entry `g % shard_size` of shard `g / shard_size`.
#[derive(Debug, Clone)]
pub struct ShardedAllocator {
    base_uri: String,
    shard_size: u64,
    shards: Vec<Shard>,
}

#[derive(Debug, Clone)]
struct Shard {
    taken: Vec<u64>,
    count: u64,
}

impl Shard {
    fn new(size: u64) -> Self {
        Self {
            taken: vec![0; size.div_ceil(64) as usize],
            count: 0,
        }
    }

    fn is_taken(&self, index: u64) -> bool {
        self.taken[(index / 64) as usize] & (1 << (index % 64)) != 0
    }

    fn take(&mut self, index: u64) {
        self.taken[(index / 64) as usize] |= 1 << (index % 64);
        self.count += 1;
    }
}

/// A status entry given to a credential: its global index and where verifiers find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The issuer-wide index (what the issuer stores with the credential).
    pub global: u64,
    /// The list URI and the index in that list (what the credential carries).
    pub reference: StatusListReference,
}

impl ShardedAllocator {
    /// An allocator publishing shards of `shard_size` entries under `base_uri`.
    pub fn new(base_uri: &str, shard_size: u64) -> Result<Self, StatusError> {
        if shard_size < MIN_SHARD_SIZE || shard_size > crate::list::DEFAULT_MAX_INFLATED as u64 * 4
        {
            return Err(StatusError::Malformed(
                "a shard has between 2^17 and 2^26 entries",
            ));
        }
        Ok(Self {
            base_uri: base_uri.trim_end_matches('/').to_owned(),
            shard_size,
            shards: Vec::new(),
        })
    }

    /// Entries per shard.
    pub fn shard_size(&self) -> u64 {
        self.shard_size
    }

    /// How many shards are open.
    pub fn shards(&self) -> u64 {
        self.shards.len() as u64
    }

    /// The URI of shard `n`.
    pub fn shard_uri(&self, n: u64) -> String {
        format!("{}/{n}", self.base_uri)
    }

    /// Where global index `global` is published.
    pub fn locate(&self, global: u64) -> StatusListReference {
        StatusListReference {
            uri: self.shard_uri(global / self.shard_size),
            idx: global % self.shard_size,
        }
    }

    /// Whether `global` has been given out.
    pub fn is_allocated(&self, global: u64) -> bool {
        let (shard, index) = (global / self.shard_size, global % self.shard_size);
        self.shards
            .get(shard as usize)
            .is_some_and(|s| s.is_taken(index))
    }

    /// Marks an index taken (restoring the allocator from storage); taking one twice is an
    /// error, since it would give two credentials one status.
    pub fn mark_taken(&mut self, global: u64) -> Result<(), StatusError> {
        let (shard, index) = (global / self.shard_size, global % self.shard_size);
        if shard >= MAX_SHARDS {
            return Err(StatusError::Malformed(
                "status index beyond the largest shard",
            ));
        }
        while self.shards.len() as u64 <= shard {
            self.shards.push(Shard::new(self.shard_size));
        }
        let s = &mut self.shards[shard as usize];
        if s.is_taken(index) {
            return Err(StatusError::Malformed("status index already taken"));
        }
        s.take(index);
        Ok(())
    }

    /// A fresh index, uniformly at random among the free ones of the open shard.
    pub fn allocate(&mut self, random: &dyn Random) -> Result<Allocation, StatusError> {
        let limit = self.shard_size * MAX_FILL_256THS / 256;
        let open = match self.shards.iter().position(|s| s.count < limit) {
            Some(open) => open,
            None if self.shards.len() as u64 >= MAX_SHARDS => return Err(StatusError::Full),
            None => {
                self.shards.push(Shard::new(self.shard_size));
                self.shards.len() - 1
            }
        };
        let size = self.shard_size;
        // Rejection sampling: uniform over [0, size), then over the free ones.
        let zone = u64::MAX - u64::MAX % size;
        let shard = &mut self.shards[open];
        for _ in 0..10_000 {
            let mut word = [0u8; 8];
            random.fill(&mut word).map_err(|_| StatusError::Random)?;
            let x = u64::from_le_bytes(word);
            if x >= zone {
                continue;
            }
            let index = x % size;
            if !shard.is_taken(index) {
                shard.take(index);
                let global = open as u64 * size + index;
                return Ok(Allocation {
                    global,
                    reference: self.locate(global),
                });
            }
        }
        // At most 3/4 full, 10 000 misses in a row has probability below 10^-1249.
        Err(StatusError::Full)
    }
}

#[cfg(test)]
mod tests {
    use eid_core::OsRandom;

    use super::*;

    #[test]
    fn indices_are_unique_and_shards_open_when_full() {
        let mut a =
            ShardedAllocator::new("https://eid.example.cn/status/4501/", MIN_SHARD_SIZE).unwrap();
        let mut seen = std::collections::HashSet::new();
        let n = MIN_SHARD_SIZE * 3 / 4 + 10;
        for _ in 0..n {
            let got = a.allocate(&OsRandom).unwrap();
            assert!(seen.insert(got.global));
            assert_eq!(a.locate(got.global), got.reference);
            assert!(a.is_allocated(got.global));
        }
        assert_eq!(a.shards(), 2);
        assert_eq!(
            a.locate(MIN_SHARD_SIZE + 5),
            StatusListReference {
                uri: "https://eid.example.cn/status/4501/1".into(),
                idx: 5
            }
        );
        // Not in order: the first 100 indices are not 0..100.
        assert!(seen.iter().filter(|g| **g < 100).count() < 100);
    }

    #[test]
    fn restoring_refuses_a_double_take_and_small_shards() {
        let mut a = ShardedAllocator::new("https://x/s", MIN_SHARD_SIZE).unwrap();
        a.mark_taken(7).unwrap();
        assert!(a.mark_taken(7).is_err());
        assert!(ShardedAllocator::new("https://x/s", 1000).is_err());
        assert!(a.mark_taken(u64::MAX).is_err());
        assert_eq!(a.shards(), 1);
    }
}
