//! Generates a registry tree for benchmarks (see docs/BENCHMARKS.md and
//! scripts/bench):
//!
//! ```text
//! cargo run --release -p airlock-bundles --example bench_repo -- OUT_DIR COUNT TOTAL_BYTES
//! ```
//!
//! writes `OUT_DIR/metadata/` (1.root.json, 1.targets.json, 1.acme.json,
//! 1.beta.json, 1.snapshot.json, timestamp.json) and
//! `OUT_DIR/targets/<role>/<sha256>.artifact-NNNNN.bin`: COUNT artifacts whose
//! sizes sum to exactly TOTAL_BYTES, alternately signed by two publisher
//! roles (`acme`, `beta`) that the top-level targets role delegates to.
//!
//! Everything is deterministic: Ed25519 keys from fixed seeds (test keys, not
//! secret), metadata expiring in 2099, artifact bytes from a seeded xorshift
//! stream (fast, not cryptographic: the point is incompressible bytes, not
//! unpredictable ones). Artifacts are written and hashed in 1 MiB chunks, so
//! memory does not grow with TOTAL_BYTES.

use airlock_core::client::meta_file_for;
use airlock_core::metadata::{
    DelegatedRole, Delegations, Metadata, Role, RoleKeys, Root, Snapshot, TargetFile, Targets, TimestampRole,
    TOP_LEVEL_ROLES,
};
use airlock_core::{Ed25519Signer, Signer, Timestamp};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const EXPIRES: &str = "2099-01-01T00:00:00Z";
const ROOT: u8 = 1;
const INDEX: u8 = 2;
const PUBLISHERS: [(&str, u8); 2] = [("acme", 3), ("beta", 4)];
const CHUNK: usize = 1 << 20;

type Error = Box<dyn std::error::Error>;

fn signer(seed: u8) -> Ed25519Signer {
    Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
}

fn sign<R: Role>(r: R, seed: u8) -> Result<Vec<u8>, Error> {
    let mut md = Metadata::new(r)?;
    md.sign(&signer(seed))?;
    Ok(md.to_bytes())
}

fn role_keys(seed: u8) -> RoleKeys {
    RoleKeys {
        keyids: vec![signer(seed).key_id()],
        threshold: 1,
        retiring: Default::default(),
        extra: Default::default(),
    }
}

fn root_v1(expires: Timestamp) -> Root {
    let keys = [ROOT, INDEX].iter().map(|&s| (signer(s).key_id(), signer(s).public_key().clone())).collect();
    Root {
        type_: "root".into(),
        spec_version: "1.0.31".into(),
        consistent_snapshot: Some(true),
        version: 1,
        expires,
        keys,
        roles: TOP_LEVEL_ROLES
            .iter()
            .map(|n| (n.to_string(), role_keys(if matches!(*n, "root" | "targets") { ROOT } else { INDEX })))
            .collect(),
        extra: Default::default(),
    }
}

/// xorshift64*: a fast deterministic byte stream.
struct XorShift(u64);

impl XorShift {
    fn fill(&mut self, buf: &mut [u8]) {
        for word in buf.chunks_mut(8) {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            let v = x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            word.copy_from_slice(&v[..word.len()]);
        }
    }
}

/// Writes `len` pseudo-random bytes to `dir/<sha256>.<name>`, returning the
/// signed description.
fn write_artifact(dir: &Path, name: &str, len: u64, seed: u64, buf: &mut [u8]) -> Result<TargetFile, Error> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".partial.{name}"));
    let mut out = File::create(&tmp)?;
    let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut hash = Sha256::new();
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(buf.len() as u64))?;
        rng.fill(&mut buf[..n]);
        hash.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    drop(out);
    let sha = hex::encode(hash.finalize());
    std::fs::rename(&tmp, dir.join(format!("{sha}.{name}")))?;
    Ok(TargetFile {
        length: len,
        hashes: [("sha256".to_owned(), sha)].into_iter().collect(),
        custom: None,
        extra: Default::default(),
    })
}

fn generate(out: &Path, count: u64, total: u64) -> Result<(), Error> {
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        return Err(format!("{}: exists and is not empty", out.display()).into());
    }
    let expires = Timestamp::parse(EXPIRES)?;
    let meta = out.join("metadata");
    std::fs::create_dir_all(&meta)?;
    std::fs::write(meta.join("1.root.json"), sign(root_v1(expires), ROOT)?)?;

    // Top-level targets delegates `acme/*` and `beta/*`, terminating.
    let mut top = Targets::new(1, expires);
    top.delegations = Some(Delegations {
        keys: PUBLISHERS.iter().map(|&(_, s)| (signer(s).key_id(), signer(s).public_key().clone())).collect(),
        roles: PUBLISHERS
            .iter()
            .map(|&(name, seed)| DelegatedRole {
                name: name.into(),
                keyids: vec![signer(seed).key_id()],
                threshold: 1,
                terminating: true,
                paths: Some(vec![format!("{name}/*")]),
                path_hash_prefixes: None,
                extra: Default::default(),
            })
            .collect(),
        extra: Default::default(),
    });

    // COUNT artifacts, sizes as even as possible, summing to TOTAL.
    let mut roles: Vec<Targets> = PUBLISHERS.iter().map(|_| Targets::new(1, expires)).collect();
    let mut buf = vec![0u8; CHUNK];
    let (base, extra) = (total / count, total % count);
    for i in 0..count {
        let len = base + u64::from(i < extra);
        let p = usize::try_from(i % PUBLISHERS.len() as u64)?;
        let role = PUBLISHERS[p].0;
        let name = format!("artifact-{i:05}.bin");
        let info = write_artifact(&out.join("targets").join(role), &name, len, i + 1, &mut buf)?;
        roles[p].targets.insert(format!("{role}/{name}"), info);
    }

    let mut signed: BTreeMap<String, (u64, Vec<u8>)> = BTreeMap::new();
    // Namespace ownership is the custodians' (offline) key, as airlock requires.
    signed.insert("targets".into(), (1, sign(top, ROOT)?));
    for (md, &(name, seed)) in roles.into_iter().zip(PUBLISHERS.iter()) {
        signed.insert(name.into(), (md.version, sign(md, seed)?));
    }
    for (name, (v, bytes)) in &signed {
        std::fs::write(meta.join(format!("{v}.{name}.json")), bytes)?;
    }
    let snap_meta = signed.iter().map(|(n, (v, b))| (format!("{n}.json"), meta_file_for(b, *v))).collect();
    let snap = sign(Snapshot::new(1, expires, snap_meta), INDEX)?;
    std::fs::write(meta.join("1.snapshot.json"), &snap)?;
    let ts = sign(TimestampRole::new(1, expires, meta_file_for(&snap, 1)), INDEX)?;
    std::fs::write(meta.join("timestamp.json"), ts)?;
    Ok(())
}

fn parse_args() -> Result<(PathBuf, u64, u64), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, count, total] = args.as_slice() else {
        return Err("usage: bench_repo OUT_DIR COUNT TOTAL_BYTES".into());
    };
    let count: u64 = count.parse().map_err(|e| format!("COUNT {count:?}: {e}"))?;
    let total: u64 = total.parse().map_err(|e| format!("TOTAL_BYTES {total:?}: {e}"))?;
    if count == 0 || count > 999_999 {
        return Err("COUNT must be between 1 and 999999".into());
    }
    Ok((PathBuf::from(out), count, total))
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|(out, count, total)| {
        generate(&out, count, total)?;
        println!("wrote {}: {count} artifacts, {total} bytes, roles acme and beta", out.display());
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_repo: {e}");
            ExitCode::FAILURE
        }
    }
}
