//! The checks the airlock-core fuzz targets run on each input, shared with
//! the regression test `core/tests/fuzz_regressions.rs` (which includes
//! this file with `#[path]`), so a saved crash is replayed through exactly
//! the code that found it. Only `airlock_core`, `serde_json` and `base64`
//! are used: all are available to airlock-core's integration tests.
//!
//! Each function takes arbitrary bytes and panics only when an invariant
//! fails (or the code under test panics).

use airlock_core::bundle::{BundleManifest, VolumeIndex};
use airlock_core::extension::RootExtension;
use airlock_core::metadata::{AnyMetadata, Role, Root, Snapshot, Targets, TimestampRole};
use airlock_core::pins::Pins;
use airlock_core::policy::{Policy, MAX_CLOCK_SKEW_SECS};
use airlock_core::{parse_strict, to_canonical_bytes, to_log_line, Metadata, Timestamp};
use std::collections::BTreeMap;

/// `BundleManifest::from_bytes`; a manifest that parses writes canonical
/// bytes that parse again to an equal manifest, and those bytes are stable.
pub fn manifest(data: &[u8]) {
    let Ok(manifest) = BundleManifest::from_bytes(data) else { return };
    // `to_bytes` cannot write a manifest whose unknown members hold a value
    // canonical JSON refuses (a float, an integer beyond 64 bits): it then
    // writes an empty document. Round-trip only what can be encoded; see
    // docs/FUZZING.md.
    let value = serde_json::to_value(&manifest).expect("a parsed manifest serialises");
    if to_canonical_bytes(&value).is_err() {
        return;
    }
    let bytes = manifest.to_bytes();
    let again = BundleManifest::from_bytes(&bytes).unwrap_or_else(|e| {
        panic!("written manifest does not parse: {e}\n{}", String::from_utf8_lossy(&bytes))
    });
    assert_eq!(manifest, again, "manifest changed in a round trip");
    assert_eq!(bytes, again.to_bytes(), "manifest bytes are not stable");
}

/// `parse_strict`, then both canonical writers: they succeed or fail
/// together (only on numbers); a log line holds no control character, reads
/// back to exactly the same value, and re-encodes to the same bytes.
pub fn canonical_json(data: &[u8]) {
    let Ok(value) = parse_strict(data) else { return };
    let canonical = to_canonical_bytes(&value);
    let line = to_log_line(&value);
    assert_eq!(canonical.is_ok(), line.is_ok(), "canonical and log encodings disagree on {value:?}");
    let Ok(line) = line else { return };
    assert!(
        !line.iter().any(|b| *b < 0x20 || *b == 0x7f),
        "log line holds a control character: {:?}",
        String::from_utf8_lossy(&line)
    );
    let back = parse_strict(&line)
        .unwrap_or_else(|e| panic!("log line does not parse: {e}: {:?}", String::from_utf8_lossy(&line)));
    assert_eq!(back, value, "log line does not read back exactly");
    assert_eq!(to_log_line(&back).ok(), Some(line), "log encoding is not stable");
}

fn metadata_of<T: Role>(data: &[u8]) -> Option<Metadata<T>> {
    let md = Metadata::<T>::from_bytes(data).ok()?;
    let bytes = md.to_bytes();
    let again = Metadata::<T>::from_bytes(&bytes)
        .unwrap_or_else(|e| panic!("written {} metadata does not parse: {e}", T::TYPE));
    assert_eq!(md.signed_value(), again.signed_value(), "signed content changed in a round trip");
    assert_eq!(md.payload(), again.payload(), "payload changed in a round trip");
    assert_eq!(md.signatures().len(), again.signatures().len(), "signatures changed in a round trip");
    if let Err(e) = AnyMetadata::from_bytes(data) {
        panic!("{} metadata parses but not as AnyMetadata: {e}", T::TYPE);
    }
    Some(md)
}

/// `Metadata::<T>::from_bytes` for each top-level role type, and
/// `RootExtension::of` on a root. Metadata that parses writes bytes that
/// parse again with the same signed content and signatures, and
/// `AnyMetadata` accepts it too.
pub fn metadata(data: &[u8]) {
    if let Some(root) = metadata_of::<Root>(data) {
        let _ = RootExtension::of(root.signed());
    }
    metadata_of::<Targets>(data);
    metadata_of::<Snapshot>(data);
    metadata_of::<TimestampRole>(data);
}

/// `Pins::repository_names`, then `Pins::from_parts` with `root` pinned
/// under every name it returned; `from_parts` refuses every map
/// `repository_names` refuses.
pub fn pins(data: &[u8], root: &[u8]) {
    let names = Pins::repository_names(data);
    let roots: BTreeMap<String, Vec<u8>> = match &names {
        Ok(names) => names.iter().map(|n| (n.clone(), root.to_vec())).collect(),
        Err(_) => BTreeMap::new(),
    };
    let pins = Pins::from_parts(data, roots);
    if names.is_err() {
        assert!(pins.is_err(), "from_parts accepted a map repository_names refused");
    }
    if let Ok(pins) = pins {
        let _ = pins.describe();
        for repo in pins.repositories() {
            let _ = pins.root(&repo.name);
        }
        let _ = pins.authorize("acme/tool-1.0.tar.gz", "example");
    }
}

/// `Policy::from_toml` on UTF-8 input, then the arithmetic a policy does
/// with its durations at extreme times.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(policy) = Policy::from_toml(text) else { return };
    let _ = policy.max_metadata_age();
    assert!(policy.clock_skew() <= MAX_CLOCK_SKEW_SECS, "clock skew above the maximum");
    let _ = policy.witness_keys();
    for now in [Timestamp::from_unix(0), Timestamp::from_unix(1_795_000_000), Timestamp::from_unix(i64::MAX)]
    {
        let _ = policy.effective_now(now);
        let _ = policy.check_age(Some(Timestamp::from_unix(0)), now);
        let _ = policy.check_age(Some(Timestamp::from_unix(i64::MIN)), now);
        let _ = policy.check_age(None, now);
    }
}

/// `VolumeIndex::from_bytes`; an index that parses names only plain files
/// and serialises to JSON that parses to an equal index.
pub fn volume_index(data: &[u8]) {
    let Ok(index) = VolumeIndex::from_bytes(data) else { return };
    for v in &index.volumes {
        assert!(
            !v.name.is_empty() && !v.name.contains(['/', '\\', '\0']) && !v.name.starts_with('.'),
            "volume name {:?} is not a plain file name",
            v.name
        );
    }
    let bytes = serde_json::to_vec(&index).expect("an index serialises");
    let again =
        VolumeIndex::from_bytes(&bytes).unwrap_or_else(|e| panic!("written index does not parse: {e}"));
    assert_eq!(index, again, "index changed in a round trip");
    // A signed index: authentication decides without panicking, pinned to
    // any root it carries, and never accepts an index nobody signed.
    let Some(auth) = &index.authentication else { return };
    use base64::Engine;
    let pins = auth.roots.iter().filter_map(|r| base64::engine::general_purpose::STANDARD.decode(r).ok());
    for pinned in pins.filter_map(|b| Metadata::<Root>::from_bytes(&b).ok()).take(4) {
        let at = Timestamp::parse("2026-06-01T00:00:00Z").expect("a fixed instant");
        let r = airlock_core::volume_auth::authenticate_index(&index, &pinned, at);
        assert!(!(auth.signatures.is_empty() && r.is_ok()), "an index without signatures authenticated");
    }
}

/// Inputs that hit a bug still open (docs/FUZZING.md, "Findings"). The fuzz
/// targets step around them so fuzzing goes on past a known bug; the
/// regression test replays the saved inputs through the full checks above.
pub mod open_bugs {
    use std::sync::OnceLock;

    /// Whether the targets step around open bugs: yes, unless
    /// `AIRLOCK_FUZZ_STRICT` is set (to reproduce or minimise one with
    /// `cargo fuzz tmin`, or to see whether it still reproduces).
    pub fn step_around() -> bool {
        static STEP_AROUND: OnceLock<bool> = OnceLock::new();
        *STEP_AROUND.get_or_init(|| std::env::var_os("AIRLOCK_FUZZ_STRICT").is_none())
    }

    // Finding 1 (a manifest that could not be written again) is fixed:
    // no open bug to step around.
}
