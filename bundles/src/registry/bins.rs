//! Hash bins (docs/FORMAT.md 5.6): a publisher's role may hand its targets
//! to N bin roles, each delegated a contiguous range of SHA-256(path)
//! prefixes (TUF `path_hash_prefixes`), so that adding one artifact re-signs
//! one small bin instead of a role that lists everything.
//!
//! The layout is fixed by N alone and checked exactly: the registry rebuilds
//! the delegations a layout of N bins must have (names, prefixes, the
//! publisher's own keys and threshold as the custodians delegated them,
//! terminating) and compares them whole, so a publisher cannot hand a bin
//! to another key, give a path to two bins, or leave one out.

use airlock_core::metadata::{DelegatedRole, Delegations};
use std::collections::BTreeMap;

/// Fewest bins a layout may have.
pub const MIN_BINS: u32 = 2;
/// Most bins a layout may have (4 hex digits of prefix, 4 per bin at most).
pub const MAX_BINS: u32 = 16_384;
/// What separates the publisher's name from the bin's first prefix.
const INFIX: &str = "-bin-";

/// N bins over the SHA-256 of target paths: N is a power of two; each bin
/// takes `16^L / N` consecutive prefixes of `L` hex digits, `L` the fewest
/// digits that give every bin at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinLayout {
    count: u32,
}

impl BinLayout {
    /// The layout of `count` bins, or why there is none.
    pub fn new(count: u32) -> Result<Self, String> {
        if !(MIN_BINS..=MAX_BINS).contains(&count) || !count.is_power_of_two() {
            return Err(format!("{count} bins: give a power of two from {MIN_BINS} to {MAX_BINS}"));
        }
        Ok(BinLayout { count })
    }

    /// How many bins.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Hex digits in each prefix.
    fn digits(self) -> usize {
        (self.count.trailing_zeros() as usize).div_ceil(4)
    }

    /// Prefixes in each bin.
    fn per_bin(self) -> u32 {
        (1u32 << (4 * self.digits())) / self.count
    }

    fn prefix(self, n: u32) -> String {
        format!("{n:0width$x}", width = self.digits())
    }

    /// The name of bin `index`: `PUBLISHER-bin-` and its first prefix.
    pub fn bin_name(self, publisher: &str, index: u32) -> String {
        format!("{publisher}{INFIX}{}", self.prefix(index * self.per_bin()))
    }

    /// The bin of a path, given the path's lowercase hex SHA-256.
    pub fn index_of(self, path_hash: &str) -> u32 {
        let head = path_hash.get(..self.digits()).unwrap_or("0");
        u32::from_str_radix(head, 16).unwrap_or(0) / self.per_bin()
    }

    /// The delegations a publisher role with this layout must carry: one
    /// terminating role per bin, in order, each signed by exactly the keys
    /// and threshold that `delegation` (the custodians' delegation of the
    /// publisher, whose keys are in `owner`) gives the publisher.
    pub fn delegations(
        self,
        publisher: &str,
        owner: &Delegations,
        delegation: &DelegatedRole,
    ) -> Delegations {
        let keys: BTreeMap<_, _> = delegation
            .keyids
            .iter()
            .filter_map(|id| owner.keys.get(id).map(|k| (id.clone(), k.clone())))
            .collect();
        let roles = (0..self.count)
            .map(|i| DelegatedRole {
                name: self.bin_name(publisher, i),
                keyids: delegation.keyids.clone(),
                threshold: delegation.threshold,
                terminating: true,
                paths: None,
                path_hash_prefixes: Some(
                    (i * self.per_bin()..(i + 1) * self.per_bin()).map(|n| self.prefix(n)).collect(),
                ),
                extra: BTreeMap::new(),
            })
            .collect();
        Delegations { keys, roles, extra: BTreeMap::new() }
    }

    /// The layout `found` (a publisher role's delegations) follows, checked
    /// against the delegations that layout must have, or the first way it
    /// differs.
    pub fn of(
        publisher: &str,
        found: &Delegations,
        owner: &Delegations,
        delegation: &DelegatedRole,
    ) -> Result<Self, String> {
        let count = u32::try_from(found.roles.len()).unwrap_or(u32::MAX);
        let layout = Self::new(count)?;
        let expected = layout.delegations(publisher, owner, delegation);
        if found.keys != expected.keys {
            return Err("its delegated keys are not exactly the publisher's keys".into());
        }
        if !found.extra.is_empty() {
            return Err("its delegations carry members a bin layout does not have".into());
        }
        for (f, e) in found.roles.iter().zip(&expected.roles) {
            if f != e {
                return Err(format!(
                    "delegation {} is not bin {} of {count} (expected {:?} with prefixes {:?}, the publisher's keys, threshold {}, terminating)",
                    f.name,
                    e.name,
                    e.name,
                    e.path_hash_prefixes.as_deref().unwrap_or_default(),
                    e.threshold
                ));
            }
        }
        Ok(layout)
    }
}

/// The publisher a bin role belongs to, if `name` is a bin's name
/// (`acme` for `acme-bin-0f`). Publisher names may not look like this
/// (`check_publisher_name`), so a bin's name never collides with one.
pub fn bin_publisher(name: &str) -> Option<&str> {
    let (publisher, prefix) = name.rsplit_once(INFIX)?;
    let hex =
        (1..=4).contains(&prefix.len()) && prefix.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    (hex && !publisher.is_empty()).then_some(publisher)
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_core::paths::TargetPath;
    use airlock_core::{Ed25519Signer, PublicKey, Signer};

    fn key(seed: u8) -> PublicKey {
        Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32])).public_key().clone()
    }

    fn owner() -> (Delegations, DelegatedRole) {
        let key = key(7);
        let id = key.key_id();
        let role = DelegatedRole {
            name: "acme".into(),
            keyids: vec![id.clone()],
            threshold: 1,
            terminating: true,
            paths: Some(vec!["acme/*".into()]),
            path_hash_prefixes: None,
            extra: BTreeMap::new(),
        };
        (Delegations { keys: [(id, key)].into(), roles: vec![role.clone()], extra: BTreeMap::new() }, role)
    }

    #[test]
    fn counts_must_be_powers_of_two_in_range() {
        for bad in [0, 1, 3, 24, MAX_BINS * 2] {
            assert!(BinLayout::new(bad).is_err(), "{bad}");
        }
        for good in [2, 16, 32, 256, MAX_BINS] {
            assert_eq!(BinLayout::new(good).unwrap().count(), good);
        }
    }

    #[test]
    fn every_path_falls_in_exactly_the_bin_index_of_names() {
        let (o, d) = owner();
        for n in [2, 16, 32, 4096, MAX_BINS] {
            let l = BinLayout::new(n).unwrap();
            let dl = l.delegations("acme", &o, &d);
            assert_eq!(dl.roles.len(), n as usize);
            let prefixes: Vec<&String> =
                dl.roles.iter().flat_map(|r| r.path_hash_prefixes.iter().flatten()).collect();
            assert_eq!(prefixes.len(), 1 << (4 * l.digits()), "{n}: every prefix once");
            assert!(prefixes.windows(2).all(|w| w[0] < w[1]), "{n}: in order, no repeat");
            for i in 0..200 {
                let path = format!("acme/file-{i}");
                let q = TargetPath::new(&path);
                let covering: Vec<usize> =
                    dl.roles.iter().enumerate().filter(|(_, r)| q.covered_by(r)).map(|(i, _)| i).collect();
                assert_eq!(covering, vec![l.index_of(q.hash()) as usize], "{n} {path}");
            }
        }
    }

    #[test]
    fn bin_names_are_recognised_and_publisher_names_are_not() {
        let l = BinLayout::new(32).unwrap();
        assert_eq!(l.bin_name("acme", 1), "acme-bin-08");
        assert_eq!(bin_publisher("acme-bin-08"), Some("acme"));
        assert_eq!(bin_publisher("a-bin-x-bin-0f"), Some("a-bin-x"));
        for not in ["acme", "acme-bin-", "acme-bin-0g", "acme-bin-00000", "-bin-00", "acme-bin-0F"] {
            assert_eq!(bin_publisher(not), None, "{not}");
        }
    }

    #[test]
    fn a_layout_differing_anywhere_is_named() {
        let (o, d) = owner();
        let l = BinLayout::new(16).unwrap();
        let good = l.delegations("acme", &o, &d);
        assert_eq!(BinLayout::of("acme", &good, &o, &d), Ok(l));
        let mut other_key = good.clone();
        let k = key(8);
        other_key.keys = [(k.key_id(), k)].into();
        assert!(BinLayout::of("acme", &other_key, &o, &d).unwrap_err().contains("publisher's keys"));
        let mut swapped = good.clone();
        swapped.roles.swap(0, 1);
        assert!(BinLayout::of("acme", &swapped, &o, &d).unwrap_err().contains("is not bin acme-bin-0"));
        let mut wider = good.clone();
        wider.roles[3].path_hash_prefixes = Some(vec!["3".into(), "4".into()]);
        assert!(BinLayout::of("acme", &wider, &o, &d).is_err());
        let mut not_terminating = good.clone();
        not_terminating.roles[0].terminating = false;
        assert!(BinLayout::of("acme", &not_terminating, &o, &d).is_err());
        let mut odd = good.clone();
        odd.roles.pop();
        assert!(BinLayout::of("acme", &odd, &o, &d).unwrap_err().contains("power of two"));
    }
}
