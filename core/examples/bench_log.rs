//! Measures the cost of the transparency log (docs/BENCHMARKS.md,
//! "Transparency log"; docs/FORMAT.md 10):
//!
//! ```text
//! cargo run --release -p airlock-core --example bench_log
//! ```
//!
//! For logs of N = 1,000 and 100,000 leaves (role versions) it builds the
//! in-memory [`Tree`], then the `log/proof.json` of a bundle carrying K role
//! versions (K = 1,000 spread evenly over the log, and K = N, every leaf)
//! with the 64 consistency proofs a full bundle carries (from sizes N-1 ..
//! N-64), and times the reader's work (parse + `verify_inclusion`), one
//! mirror consistency check (`check_extends`) and the checkpoint signature
//! check (`verify_checkpoint_with_keys` with one key). Prints markdown
//! tables. The input is deterministic: leaf `i` is role `pNNNNN` (i mod
//! 1,000) at version i / 1,000 + 1 with the SHA-256 of `i` as its hash.
//! Times are the best of a few runs, from `std::time::Instant`.

use airlock_core::hash::sha256_hex;
use airlock_core::log::{
    check_extends, entry_leaf, sign_note, verify_checkpoint_with_keys, Checkpoint, Hash, LogProof, Tree,
};
use airlock_core::{Ed25519Signer, Signer};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The log origin of the checkpoints signed here.
const ORIGIN: &str = "airlock/bench";
/// How many recent checkpoints a full bundle proves consistency from.
const RECENT: u64 = 64;
/// How many publishers the leaves cycle through.
const PUBLISHERS: u64 = 1_000;

/// Errors of this program.
type Error = Box<dyn std::error::Error>;

/// Leaf `i`: (role, version, sha256 hex).
fn leaf(i: u64) -> (String, u64, String) {
    (format!("p{:05}", i % PUBLISHERS), i / PUBLISHERS + 1, sha256_hex(&i.to_be_bytes()))
}

/// Runs `f` `reps` times; the shortest time and the last result.
fn best<T>(reps: u32, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut min = Duration::MAX;
    let mut out = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        let v = black_box(f());
        min = min.min(t.elapsed());
        out = Some(v);
    }
    (min, out.expect("at least one run"))
}

/// Formats a duration in the unit that suits it.
fn fmt(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

/// Formats an integer with thousands separators.
fn num(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The figures for one log size.
struct LogRow {
    /// Leaves.
    n: u64,
    /// Time to build the tree from the leaf data.
    build_tree: Duration,
    /// Bytes of `log/proof.json` with the 64 consistency proofs and no inclusion proof.
    consistency_bytes: usize,
    /// One `check_extends` (the mirror's check), averaged over the 64 proofs.
    check_extends: Duration,
    /// One `verify_checkpoint_with_keys`.
    checkpoint: Duration,
    /// Bytes of the signed checkpoint note.
    checkpoint_bytes: usize,
}

/// The figures for one bundle.
struct ProofRow {
    /// Leaves.
    n: u64,
    /// Role versions carried.
    k: u64,
    /// Bytes of `log/proof.json`.
    bytes: usize,
    /// Time to build the proof.
    build: Duration,
    /// Time to parse `log/proof.json` alone.
    parse: Duration,
    /// Time to parse and check every inclusion proof.
    verify: Duration,
}

/// Measures one log size and its bundles.
fn measure(
    n: u64,
    signer: &Ed25519Signer,
    logs: &mut Vec<LogRow>,
    proofs: &mut Vec<ProofRow>,
) -> Result<(), Error> {
    let reps = if n > 10_000 { 3 } else { 20 };
    let leaves: Vec<(String, u64, String)> = (0..n).map(leaf).collect();
    let (build_tree, tree) = best(reps, || {
        let mut t = Tree::new();
        for (role, version, sha) in &leaves {
            t.push(&entry_leaf(role, *version, sha));
        }
        t
    });
    let since: Vec<u64> = (1..=RECENT).filter(|d| *d < n).map(|d| n - d).collect();
    let cp = Checkpoint { origin: ORIGIN.into(), size: n, root: tree.root(), extensions: Vec::new() };
    let consistency_only = LogProof::build(&tree, &[], &since)?;
    let consistency_bytes = consistency_only.to_bytes().len();

    // The mirror: each stored size (N-1 .. N-64) against the new checkpoint.
    let olds: Vec<(u64, Hash)> =
        since.iter().map(|s| Ok((*s, tree.root_at(*s)?))).collect::<Result<_, Error>>()?;
    let rounds = 200u32;
    let (all, ok) = best(3, || {
        let mut ok = true;
        for _ in 0..rounds {
            for (size, root) in &olds {
                let proof = consistency_only.consistency.iter().find(|c| c.from_size == *size);
                ok &= check_extends((*size, root), &cp, proof).is_ok();
            }
        }
        ok
    });
    if !ok {
        return Err("a consistency proof did not verify".into());
    }
    let check_extends = all / (rounds * olds.len() as u32);

    // The checkpoint signature.
    let note = sign_note(&cp.to_text(), ORIGIN, signer)?.to_bytes();
    let keys = (vec![signer.public_key().ed25519_verifying_key()?.to_bytes()], 1u64);
    let iters = 500u32;
    let (all, ok) = best(3, || (0..iters).all(|_| verify_checkpoint_with_keys(&note, ORIGIN, &keys).is_ok()));
    if !ok {
        return Err("the checkpoint did not verify".into());
    }
    logs.push(LogRow {
        n,
        build_tree,
        consistency_bytes,
        check_extends,
        checkpoint: all / iters,
        checkpoint_bytes: note.len(),
    });

    let mut ks = vec![PUBLISHERS.min(n), n];
    ks.dedup();
    for k in ks {
        let step = n / k;
        let carried_idx: Vec<u64> = (0..k).map(|j| j * step).collect();
        let entries: Vec<(u64, String, u64, String)> = carried_idx
            .iter()
            .map(|i| {
                let (r, v, s) = leaves[*i as usize].clone();
                (*i, r, v, s)
            })
            .collect();
        let carried: Vec<(String, u64, String)> =
            carried_idx.iter().map(|i| leaves[*i as usize].clone()).collect();
        let (build, bytes) = best(reps, || LogProof::build(&tree, &entries, &since).map(|p| p.to_bytes()));
        let bytes = bytes?;
        // verify_inclusion looks each proved entry up in the carried list,
        // so it grows with K²: one run when K is large.
        let vreps = if k > 10_000 { 1 } else { reps };
        let (verify, res) =
            best(vreps, || LogProof::parse(&bytes).and_then(|p| p.verify_inclusion(&cp, &carried)));
        res?;
        let (parse, _) = best(vreps, || LogProof::parse(&bytes).map(|p| p.inclusion.len()));
        proofs.push(ProofRow { n, k, bytes: bytes.len(), build, parse, verify });
    }
    Ok(())
}

/// Runs the measurements and prints the tables.
fn main() -> Result<(), Error> {
    let signer = Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[7; 32]));
    let (mut logs, mut proofs) = (Vec::new(), Vec::new());
    for n in [1_000, 100_000] {
        measure(n, &signer, &mut logs, &mut proofs)?;
    }
    println!("| log leaves N | build tree | 64 consistency proofs (bytes) | one `check_extends` | checkpoint note (bytes) | `verify_checkpoint_with_keys` |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for r in &logs {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            num(r.n),
            fmt(r.build_tree),
            num(r.consistency_bytes as u64),
            fmt(r.check_extends),
            num(r.checkpoint_bytes as u64),
            fmt(r.checkpoint)
        );
    }
    println!();
    println!("| log leaves N | carried K | proof.json bytes | bytes per carried version | build proof | parse alone | parse + `verify_inclusion` |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for r in &proofs {
        let consistency = logs.iter().find(|l| l.n == r.n).map_or(0, |l| l.consistency_bytes);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            num(r.n),
            num(r.k),
            num(r.bytes as u64),
            num((r.bytes.saturating_sub(consistency) as u64) / r.k),
            fmt(r.build),
            fmt(r.parse),
            fmt(r.verify)
        );
    }
    Ok(())
}
