//! RFC 6962 Merkle tree hashing; inclusion and consistency proofs built as
//! RFC 6962 section 2.1 defines them and verified with the algorithms of
//! RFC 9162 sections 2.1.3.2 and 2.1.4.2.

use sha2::{Digest, Sha256};

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The older tree is larger than the newer one.
    #[error("tree size {old} is larger than {new}")]
    SizeDecreased {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
    },
    /// The proof has the wrong number of hashes.
    #[error("proof has the wrong length")]
    WrongLength,
    /// The proof computes a different root.
    #[error("proof does not lead to the expected root hash")]
    RootMismatch,
}

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

pub(super) fn node(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (n >= 2).
pub(super) fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The root hash of the tree over `leaves` (already leaf-hashed).
pub fn root_hash(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node(&root_hash(&leaves[..k]), &root_hash(&leaves[k..]))
        }
    }
}

/// The inclusion proof of leaf `index` in the tree over `leaves`.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Result<Vec<Hash>, ProofError> {
    if index >= leaves.len() {
        return Err(ProofError::IndexOutOfRange { index: index as u64, size: leaves.len() as u64 });
    }
    fn path(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
        if d.len() <= 1 {
            return;
        }
        let k = split(d.len());
        if m < k {
            path(m, &d[..k], out);
            out.push(root_hash(&d[k..]));
        } else {
            path(m - k, &d[k..], out);
            out.push(root_hash(&d[..k]));
        }
    }
    let mut out = Vec::new();
    path(index, leaves, &mut out);
    Ok(out)
}

/// The consistency proof from the first `old_size` leaves to all `leaves`.
pub fn consistency_proof(leaves: &[Hash], old_size: usize) -> Result<Vec<Hash>, ProofError> {
    if old_size > leaves.len() {
        return Err(ProofError::SizeDecreased { old: old_size as u64, new: leaves.len() as u64 });
    }
    fn sub(m: usize, d: &[Hash], complete: bool, out: &mut Vec<Hash>) {
        if m == d.len() {
            if !complete {
                out.push(root_hash(d));
            }
            return;
        }
        let k = split(d.len());
        if m <= k {
            sub(m, &d[..k], complete, out);
            out.push(root_hash(&d[k..]));
        } else {
            sub(m - k, &d[k..], false, out);
            out.push(root_hash(&d[..k]));
        }
    }
    let mut out = Vec::new();
    if old_size > 0 {
        sub(old_size, leaves, true, &mut out);
    }
    Ok(out)
}

/// Verifies that `leaf` (a leaf hash) is at `index` in the tree of `size` with `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `old_size` with `old_root` is a prefix of the
/// tree of `new_size` with `new_root`.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizeDecreased { old: old_size, new: new_size });
    }
    if old_size == 0 {
        // Every tree extends the empty one.
        return if proof.is_empty() { Ok(()) } else { Err(ProofError::WrongLength) };
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node(c, &fr);
            sr = node(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(
            hex::encode(root_hash(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let l = leaves(1);
        assert_eq!(root_hash(&l), l[0]);
    }

    #[test]
    fn every_inclusion_proof_verifies_and_tampering_fails() {
        for n in 1..=33 {
            let l = leaves(n);
            let root = root_hash(&l);
            for i in 0..n {
                let proof = inclusion_proof(&l, i).unwrap();
                verify_inclusion(&l[i], i as u64, n as u64, &proof, &root).unwrap();
                let other = leaf_hash(b"other");
                assert!(verify_inclusion(&other, i as u64, n as u64, &proof, &root).is_err());
                if !proof.is_empty() {
                    let mut bad = proof.clone();
                    bad[0][0] ^= 1;
                    assert!(verify_inclusion(&l[i], i as u64, n as u64, &bad, &root).is_err());
                    assert!(verify_inclusion(&l[i], i as u64, n as u64, &proof[1..], &root).is_err());
                }
            }
            assert!(verify_inclusion(&l[0], n as u64, n as u64, &[], &root).is_err());
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_rewrites_fail() {
        for n in 1..=33 {
            let l = leaves(n);
            let root = root_hash(&l);
            for m in 0..=n {
                let proof = consistency_proof(&l, m).unwrap();
                let old_root = root_hash(&l[..m]);
                verify_consistency(m as u64, n as u64, &old_root, &root, &proof).unwrap();
                if m > 0 && m < n {
                    // History rewritten: change one old leaf.
                    let mut forged = l.clone();
                    forged[0] = leaf_hash(b"rewritten");
                    let forged_root = root_hash(&forged);
                    assert!(verify_consistency(m as u64, n as u64, &old_root, &forged_root, &proof).is_err());
                    let mut bad = proof.clone();
                    bad[0][5] ^= 0x80;
                    assert!(verify_consistency(m as u64, n as u64, &old_root, &root, &bad).is_err());
                }
            }
            assert!(verify_consistency(n as u64 + 1, n as u64, &root, &root, &[]).is_err());
        }
    }

    #[test]
    fn known_rfc6962_vector() {
        // Certificate Transparency's reference test vector: leaves are the
        // empty string and bytes 0x00, 0x10, 0x2021, ... ; the root of 8.
        let data: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
        ];
        let l: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
        assert_eq!(
            hex::encode(root_hash(&l)),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        );
        assert_eq!(
            hex::encode(root_hash(&l[..1])),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }
}
