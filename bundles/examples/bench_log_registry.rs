//! Builds a real registry, through the library API, for the transparency
//! log benchmark (docs/BENCHMARKS.md, "Transparency log"):
//!
//! ```text
//! cargo run --release -p airlock-bundles --example bench_log_registry -- OUT_DIR PUBLISHERS VERSIONS
//! ```
//!
//! `Registry::init` with root version 1 (custodians 1 and 2, threshold 2,
//! index key 10) and the custodians' first targets, then PUBLISHERS
//! publishers `p00000`, `p00001`, ... each added by its own top-level
//! targets change (signed by both custodians) and each accepting VERSIONS
//! role versions of one tiny artifact (`pNNNNN/a-V.bin`, a few bytes).
//! Every change is a real `Registry::finalize_targets` or
//! `Registry::accept`, so the registry's log (`OUT_DIR/log/`) has one leaf
//! per published role version: 1 root, 1 + PUBLISHERS targets versions and
//! PUBLISHERS × VERSIONS publisher role versions.
//!
//! Deterministic: Ed25519 keys from fixed seeds (test keys, not secret),
//! the clock fixed at 2026-06-01T00:00:00Z (make and verify bundles with
//! `--at 2026-06-01T00:00:00Z`). Prints the log's size and the time taken.

use airlock_bundles::registry::{
    publish, ArtifactSpec, NewPublisher, OwnershipChange, PublishRequest, Registry, RegistryLog,
};
use airlock_core::metadata::Targets;
use airlock_core::provenance::Provenance;
use airlock_core::{Ed25519Signer, Metadata, Signer, Timestamp};
use airlock_keyceremony::rotation::{initial_root, InitialRoot};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// The fixed clock of every change.
const NOW: &str = "2026-06-01T00:00:00Z";
/// Seconds in a day.
const DAY: i64 = 86_400;

/// Errors of this program.
type Error = Box<dyn std::error::Error>;

/// The Ed25519 test key whose seed is `tag` (little-endian) and zeros.
fn key(tag: u64) -> Ed25519Signer {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&tag.to_le_bytes());
    seed[31] = 0xa5;
    Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// The seed tag of publisher `i`'s key.
fn publisher_key(i: u64) -> Ed25519Signer {
    key(1_000 + i)
}

/// The name (role) of publisher `i`.
fn publisher_name(i: u64) -> String {
    format!("p{i:05}")
}

/// Root version 1, signed by both custodians.
fn root_v1(custodians: &[Ed25519Signer], index: &Ed25519Signer, now: Timestamp) -> Result<Vec<u8>, Error> {
    let init = InitialRoot {
        registry: "bench".into(),
        custodians: custodians
            .iter()
            .enumerate()
            .map(|(i, k)| (format!("c{i}"), k.public_key().clone()))
            .collect(),
        threshold: 2,
        index_key: index.public_key().clone(),
        expiry_days: Default::default(),
        rehearsal: false,
    };
    let mut md = Metadata::new(initial_root(&init, now)?)?;
    for c in custodians {
        md.sign(c)?;
    }
    Ok(md.to_bytes())
}

/// The first top-level targets, signed by both custodians.
fn targets_v1(custodians: &[Ed25519Signer], now: Timestamp) -> Result<Vec<u8>, Error> {
    let mut md = Metadata::new(Targets::new(1, now.plus_secs(365 * DAY)))?;
    for c in custodians {
        md.sign(c)?;
    }
    Ok(md.to_bytes())
}

/// Builds the registry; see the module documentation.
fn build(out: &Path, publishers: u64, versions: u64) -> Result<(), Error> {
    let now = Timestamp::parse(NOW)?;
    let custodians = [key(1), key(2)];
    let index = key(10);
    let reg = out.join("reg");
    let work = out.join("work");
    fs::create_dir_all(&work)?;
    let roots = vec![(work.join("1.root.json"), root_v1(&custodians, &index, now)?)];
    let t1 = (work.join("1.targets.json"), targets_v1(&custodians, now)?);
    let start = Instant::now();
    Registry::init(&reg, roots, t1, &index, now)?;
    for i in 0..publishers {
        let p = NewPublisher {
            name: publisher_name(i),
            keys: vec![publisher_key(i).public_key().clone()],
            namespaces: vec![format!("{}/*", publisher_name(i))],
            threshold: 1,
            allow_overlap: false,
        };
        let mut r = Registry::open_for_writing(&reg, now)?;
        let mut draft = r.propose_targets(&OwnershipChange::Add(p), now)?;
        for c in &custodians {
            draft.proposed.sign(c)?;
        }
        r.finalize_targets(&draft, &index, now)?;
    }
    let added = start.elapsed();
    let src = work.join("artifact");
    let prov = Provenance::default();
    for v in 1..=versions {
        for i in 0..publishers {
            let role = publisher_name(i);
            fs::write(&src, format!("{role} {v}\n"))?;
            let specs =
                [ArtifactSpec { source: src.clone(), target: format!("{role}/a-{v}.bin"), sigstore: None }];
            let current_path = reg.join("metadata").join(format!("{}.{role}.json", v - 1));
            let current = if v > 1 { Some(fs::read(&current_path)?) } else { None };
            let sub = work.join("sub");
            if sub.exists() {
                fs::remove_dir_all(&sub)?;
            }
            let req = PublishRequest {
                role: &role,
                current: current.as_deref().map(|b| (current_path.as_path(), b)),
                current_bins: &Default::default(),
                bins: None,
                artifacts: &specs,
                provenance: &prov,
                expires: now.plus_secs(90 * DAY),
                now,
            };
            publish(&req, &publisher_key(i), &sub)?;
            Registry::open_for_writing(&reg, now)?.accept(&sub, &index, now)?;
        }
    }
    let total = start.elapsed();
    let log = RegistryLog::open(&reg)?;
    println!(
        "registry {}: {publishers} publishers x {versions} versions; log {} leaves; \
         publishers added in {:.1} s, all done in {:.1} s",
        reg.display(),
        log.tree().size(),
        added.as_secs_f64(),
        total.as_secs_f64()
    );
    Ok(())
}

/// Parses the arguments and builds the registry.
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [out, p, v] => p.parse::<u64>().ok().zip(v.parse::<u64>().ok()).map(|pv| (PathBuf::from(out), pv)),
        _ => None,
    };
    let Some((out, (publishers, versions))) =
        parsed.filter(|(_, (p, v))| (1..=99_999).contains(p) && *v >= 1)
    else {
        eprintln!("usage: bench_log_registry OUT_DIR PUBLISHERS(1..=99999) VERSIONS(>=1)");
        return ExitCode::from(2);
    };
    match build(&out, publishers, versions) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_log_registry: {e}");
            ExitCode::FAILURE
        }
    }
}
