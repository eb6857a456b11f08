//! A Merkle tree kept in memory with every complete subtree hash, so that
//! roots and proofs cost O(log² n) hash lookups instead of rehashing the
//! leaves: the registry proves every role version a bundle carries.

use super::merkle::{leaf_hash, node, split, Hash, ProofError};
use sha2::{Digest, Sha256};

/// An RFC 6962 tree: `levels[j][k]` is the hash of leaves `k·2^j .. (k+1)·2^j`.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Tree { levels: vec![Vec::new()] }
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends the leaf with these data bytes (hashed as an RFC 6962 leaf).
    pub fn push(&mut self, data: &[u8]) {
        self.push_hash(leaf_hash(data));
    }

    /// Appends a leaf hash.
    fn push_hash(&mut self, leaf: Hash) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let mut j = 0;
        // A newly completed pair at level j completes one node at level j + 1.
        while self.levels[j].len().is_multiple_of(2) {
            let l = &self.levels[j];
            let parent = node(&l[l.len() - 2], &l[l.len() - 1]);
            if self.levels.len() == j + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[j + 1].push(parent);
            j += 1;
        }
    }

    /// The hash of leaves `start..end` (non-empty, inside the tree).
    fn range(&self, start: usize, end: usize) -> Hash {
        let len = end - start;
        if len.is_power_of_two() && start.is_multiple_of(len) {
            return self.levels[len.trailing_zeros() as usize][start / len];
        }
        let k = split(len);
        node(&self.range(start, start + k), &self.range(start + k, end))
    }

    /// The root hash of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        let n = self.size();
        if size > n {
            return Err(ProofError::SizeDecreased { old: n, new: size });
        }
        Ok(if size == 0 { Sha256::digest([]).into() } else { self.range(0, size as usize) })
    }

    /// The root hash of the whole tree.
    pub fn root(&self) -> Hash {
        self.root_at(self.size()).unwrap_or_default()
    }

    /// The inclusion proof of leaf `index` in the whole tree.
    pub fn inclusion_proof(&self, index: u64) -> Result<Vec<Hash>, ProofError> {
        let size = self.size();
        if index >= size {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        let mut out = Vec::new();
        let (mut start, mut end, m) = (0usize, size as usize, index as usize);
        // Walk down from the root, collecting the sibling of each step; the
        // proof lists them from the leaf up.
        while end - start > 1 {
            let k = split(end - start);
            if m < start + k {
                out.push(self.range(start + k, end));
                end = start + k;
            } else {
                out.push(self.range(start, start + k));
                start += k;
            }
        }
        out.reverse();
        Ok(out)
    }

    /// The consistency proof from the first `old_size` leaves to the whole tree.
    pub fn consistency_proof(&self, old_size: u64) -> Result<Vec<Hash>, ProofError> {
        let size = self.size();
        if old_size > size {
            return Err(ProofError::SizeDecreased { old: old_size, new: size });
        }
        let mut out = Vec::new();
        if old_size == 0 {
            return Ok(out);
        }
        // RFC 6962 2.1.2 SUBPROOF, iteratively, from the top down.
        let (mut start, mut end, mut m, mut complete) = (0usize, size as usize, old_size as usize, true);
        loop {
            if m == end - start {
                if !complete {
                    out.push(self.range(start, end));
                }
                break;
            }
            let k = split(end - start);
            if m <= k {
                out.push(self.range(start + k, end));
                end = start + k;
            } else {
                out.push(self.range(start, start + k));
                start += k;
                m -= k;
                complete = false;
            }
        }
        // SUBPROOF lists the deepest hash first.
        out.reverse();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::merkle::{consistency_proof, inclusion_proof, root_hash};
    use super::*;

    #[test]
    fn matches_the_recursive_definitions_for_every_size() {
        let mut tree = Tree::new();
        let mut leaves = Vec::new();
        assert_eq!(tree.root(), root_hash(&[]));
        for n in 1..=40u64 {
            let data = n.to_be_bytes();
            tree.push(&data);
            leaves.push(leaf_hash(&data));
            assert_eq!(tree.size(), n);
            assert_eq!(tree.root(), root_hash(&leaves), "root at {n}");
            for i in 0..n {
                assert_eq!(
                    tree.inclusion_proof(i).unwrap(),
                    inclusion_proof(&leaves, i as usize).unwrap(),
                    "inclusion {i} of {n}"
                );
            }
            for m in 0..=n {
                assert_eq!(tree.root_at(m).unwrap(), root_hash(&leaves[..m as usize]));
                assert_eq!(
                    tree.consistency_proof(m).unwrap(),
                    consistency_proof(&leaves, m as usize).unwrap(),
                    "consistency {m} -> {n}"
                );
            }
        }
        assert!(tree.inclusion_proof(40).is_err());
        assert!(tree.consistency_proof(41).is_err());
        assert!(tree.root_at(41).is_err());
    }
}
