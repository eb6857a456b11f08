//! A small registry tree for bundle tests: root v1 whose custodian key
//! signs root and top-level targets, an index key for snapshot and
//! timestamp, two publishers with terminating delegations, one artifact each.

use airlock_core::client::meta_file_for;
use airlock_core::hash::sha256_hex;
use airlock_core::metadata::{
    DelegatedRole, Delegations, Metadata, Role, RoleKeys, Root, Snapshot, TargetFile, Targets, TimestampRole,
    TOP_LEVEL_ROLES,
};
use airlock_core::{Ed25519Signer, Signer, Timestamp};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const NOW: &str = "2026-06-01T00:00:00Z";
pub const FAR: &str = "2030-01-01T00:00:00Z";

pub fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub fn signer(seed: u8) -> Ed25519Signer {
    Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
}

fn sign<R: Role>(r: R, seed: u8) -> Vec<u8> {
    let mut md = Metadata::new(r).unwrap();
    md.sign(&signer(seed)).unwrap();
    md.to_bytes()
}

pub const ROOT: u8 = 1;
pub const INDEX: u8 = 2;
pub const ACME: u8 = 3;
pub const BETA: u8 = 4;

pub fn root_v1(index: u8) -> Root {
    root_with(index, ROOT)
}

/// Root v1 with `index` for snapshot and timestamp and `targets` for top-level targets.
pub fn root_with(index: u8, targets: u8) -> Root {
    let mut keys = BTreeMap::new();
    for s in [ROOT, index, targets] {
        keys.insert(signer(s).key_id(), signer(s).public_key().clone());
    }
    let role = |s: u8| RoleKeys {
        keyids: vec![signer(s).key_id()],
        threshold: 1,
        retiring: Default::default(),
        extra: Default::default(),
    };
    Root {
        type_: "root".into(),
        spec_version: "1.0.31".into(),
        consistent_snapshot: Some(true),
        version: 1,
        expires: t(FAR),
        keys,
        roles: TOP_LEVEL_ROLES
            .iter()
            .map(|n| {
                let who = match *n {
                    "root" => ROOT,
                    "targets" => targets,
                    _ => index,
                };
                (n.to_string(), role(who))
            })
            .collect(),
        extra: Default::default(),
    }
}

/// A registry tree under `dir`.
pub struct Repo {
    pub dir: PathBuf,
    pub version: u64,
    pub roles: BTreeMap<String, (u64, Vec<u8>)>,
    /// The key that signs snapshot and timestamp.
    pub index: u8,
}

pub fn target_file(bytes: &[u8]) -> TargetFile {
    TargetFile {
        length: bytes.len() as u64,
        hashes: [("sha256".to_owned(), sha256_hex(bytes))].into_iter().collect(),
        custom: None,
        extra: Default::default(),
    }
}

impl Repo {
    pub fn new(dir: &Path) -> Self {
        Self::build(dir, INDEX, ROOT)
    }

    /// A repository whose index key is `index` (another registry).
    pub fn new_with_index(dir: &Path, index: u8) -> Self {
        Self::build(dir, index, ROOT)
    }

    /// A repository whose top-level targets is signed by `targets`.
    pub fn new_with_targets_signer(dir: &Path, targets: u8) -> Self {
        Self::build(dir, INDEX, targets)
    }

    fn build(dir: &Path, index: u8, targets: u8) -> Self {
        std::fs::create_dir_all(dir.join("metadata")).unwrap();
        std::fs::create_dir_all(dir.join("targets")).unwrap();
        std::fs::write(dir.join("metadata/1.root.json"), sign(root_with(index, targets), ROOT)).unwrap();
        let mut r = Repo { dir: dir.to_path_buf(), version: 0, roles: BTreeMap::new(), index };
        let mut top = Targets::new(1, t(FAR));
        let deleg = |name: &str, seed: u8| DelegatedRole {
            name: name.into(),
            keyids: vec![signer(seed).key_id()],
            threshold: 1,
            terminating: true,
            paths: Some(vec![format!("{name}/*")]),
            path_hash_prefixes: None,
            extra: Default::default(),
        };
        top.delegations = Some(Delegations {
            keys: [ACME, BETA]
                .iter()
                .map(|&s| (signer(s).key_id(), signer(s).public_key().clone()))
                .collect(),
            roles: vec![deleg("acme", ACME), deleg("beta", BETA)],
            extra: Default::default(),
        });
        r.index = index;
        r.put_role("targets", top, targets);
        r.publish("acme", ACME, 1, &[("acme/tool-1.0.tar.gz", b"acme tool one".as_slice())]);
        r.publish("beta", BETA, 1, &[("beta/lib.txt", b"beta library".as_slice())]);
        r.snapshot();
        r
    }

    pub fn put_role(&mut self, name: &str, md: Targets, seed: u8) {
        let v = md.version;
        let bytes = sign(md, seed);
        std::fs::write(self.dir.join(format!("metadata/{v}.{name}.json")), &bytes).unwrap();
        self.roles.insert(name.into(), (v, bytes));
    }

    /// Adds artifacts to a publisher role (carrying its earlier targets).
    pub fn publish(&mut self, role: &str, seed: u8, version: u64, files: &[(&str, &[u8])]) {
        let mut md = match self.roles.get(role) {
            Some((_, b)) => Metadata::<Targets>::from_bytes(b).unwrap().signed().clone(),
            None => Targets::new(version, t(FAR)),
        };
        md.version = version;
        for (path, bytes) in files {
            let info = target_file(bytes);
            let (dir, name) = path.rsplit_once('/').unwrap();
            let p = self
                .dir
                .join(format!("targets/{dir}/{}.{name}", info.hashes.get("sha256").unwrap_or_default()));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
            md.targets.insert(path.to_string(), info);
        }
        self.put_role(role, md, seed);
    }

    pub fn snapshot(&mut self) {
        self.version += 1;
        let meta = self.roles.iter().map(|(n, (v, b))| (format!("{n}.json"), meta_file_for(b, *v))).collect();
        let snap = sign(Snapshot::new(self.version, t(FAR), meta), self.index);
        std::fs::write(self.dir.join(format!("metadata/{}.snapshot.json", self.version)), &snap).unwrap();
        let ts =
            sign(TimestampRole::new(self.version, t(FAR), meta_file_for(&snap, self.version)), self.index);
        std::fs::write(self.dir.join("metadata/timestamp.json"), ts).unwrap();
    }

    pub fn root(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("metadata/1.root.json")).unwrap()
    }
}
