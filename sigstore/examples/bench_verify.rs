//! Times `airlock_sigstore::verify` on the real Sigstore bundles of
//! `tests/data/sigstore` (issue 16's benchmark "verify time per Sigstore bundle").
//!
//! ```sh
//! cargo run --release -p airlock-sigstore --example bench_verify [N]
//! ```
//!
//! For each bundle (the message signature `a.txt.sigstore.json` and the DSSE
//! envelope `a.txt.intoto.sigstore.json`), and for the artifact given as bytes
//! and as its SHA-256 digest, runs `verify` N times (200 unless given) after one
//! warm-up call and prints the median, p90, min and max per call. `verify`
//! parses the trusted root JSON on every call, so the cost is then split: the
//! stages `verify` runs, timed one at a time with the same inputs (parse the
//! trusted root, build the verifier from it, parse the bundle, and the
//! verification proper with the root, verifier and bundle prepared once).
//!
//! Nothing is fetched; the inputs are read from `tests/data/sigstore`.

use airlock_sigstore::{verify, ArtifactRef, IdentityPolicy};
use sha2::Digest as _;
use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::types::{Bundle, Sha256Hash};
use sigstore_verify::{VerificationPolicy, Verifier};
use std::path::Path;
use std::time::{Duration, Instant};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const SAN: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";

fn data(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/sigstore").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs `f` once to warm up, then `n` times; returns the sorted durations.
fn time<T>(n: usize, mut f: impl FnMut() -> T) -> Vec<Duration> {
    std::hint::black_box(f());
    let mut out: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    out.sort();
    out
}

/// The nearest-rank percentile `p` (0..=100) of sorted durations.
fn pct(sorted: &[Duration], p: usize) -> Duration {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn row(what: &str, sorted: &[Duration]) {
    println!(
        "| {what} | {} | {} | {} | {} |",
        ms(pct(sorted, 50)),
        ms(pct(sorted, 90)),
        ms(sorted[0]),
        ms(sorted[sorted.len() - 1])
    );
}

fn main() {
    let n: usize = match std::env::args().nth(1) {
        Some(s) => s.parse().expect("N must be a positive integer"),
        None => 200,
    };
    assert!(n > 0, "N must be a positive integer");
    let artifact = data("a.txt");
    let digest: [u8; 32] = sha2::Sha256::digest(&artifact).into();
    let root_json = data("trusted_root.json");
    let policy = IdentityPolicy::exact(ISSUER, SAN);
    let bundles = [
        ("message signature", data("a.txt.sigstore.json")),
        ("DSSE in-toto", data("a.txt.intoto.sigstore.json")),
    ];

    println!(
        "inputs: a.txt {} bytes; trusted_root.json {} bytes; a.txt.sigstore.json {} bytes; \
         a.txt.intoto.sigstore.json {} bytes; N = {n} per row (after 1 warm-up)",
        artifact.len(),
        root_json.len(),
        bundles[0].1.len(),
        bundles[1].1.len()
    );
    println!();
    println!(
        "| `airlock_sigstore::verify` (root JSON parsed per call) | median ms | p90 ms | min ms | max ms |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (name, bundle) in &bundles {
        for (how, art) in [("bytes", ArtifactRef::Bytes(&artifact)), ("digest", ArtifactRef::Sha256(digest))]
        {
            // Refuse to time a failing path.
            let v = verify(bundle, art, &root_json, &policy).expect("the bundle verifies");
            assert!(v.checks.identity && v.checks.tlog && v.checks.sct && v.checks.certificate_chain);
            let t = time(n, || verify(bundle, art, &root_json, &policy).unwrap());
            row(&format!("{name}, artifact as {how}"), &t);
        }
    }

    println!();
    println!("| stage (same inputs, one at a time) | median ms | p90 ms | min ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    let root_text = std::str::from_utf8(&root_json).unwrap();
    let t = time(n, || TrustedRoot::from_json(root_text).unwrap());
    row("parse trusted root (`TrustedRoot::from_json`)", &t);
    let root = TrustedRoot::from_json(root_text).unwrap();
    let t = time(n, || Verifier::new(&root).unwrap());
    row("build verifier from it (`Verifier::new`)", &t);
    let verifier = Verifier::new(&root).unwrap();
    let lib_policy = VerificationPolicy::any_identity();
    for (name, bundle) in &bundles {
        let text = std::str::from_utf8(bundle).unwrap();
        let t = time(n, || Bundle::from_json(text).unwrap());
        row(&format!("{name}: parse bundle (`Bundle::from_json`)"), &t);
        let parsed = Bundle::from_json(text).unwrap();
        let t = time(n, || verifier.verify(Sha256Hash::new(digest), &parsed, &lib_policy).unwrap());
        row(&format!("{name}: verify proper, digest (prepared root and bundle)"), &t);
        let t = time(n, || verifier.verify(artifact.as_slice(), &parsed, &lib_policy).unwrap());
        row(&format!("{name}: verify proper, bytes (prepared root and bundle)"), &t);
    }
}
