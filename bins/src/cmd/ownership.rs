//! The custodians' side of a namespace-ownership change: review and sign a
//! targets draft (`airlock ceremony sign|add-signature` on a targets draft).
//!
//! A custodian sees the change (publishers, namespaces, key fingerprints,
//! thresholds, search order) against the base the draft carries, whether
//! that base is signed by the custodians of the root given, and the whole
//! resulting delegation list; confirms a short hash of the exact payload;
//! signs; and the signature is checked at once. Every step is recorded in
//! the ceremony transcript.

use super::ceremony::{
    banner, drop_stale, keyid_arg, read_back, read_signature, stale_signatures, threshold_json,
    AddSignatureArgs, SignArgs,
};
use crate::cmd::root::load_root;
use crate::exit::{refused, usage};
use crate::io::{read_input, write_atomic};
use crate::secrets::load_signer;
use crate::steps::{check_airgap, record_step, transcript_json, travelling_transcript, StepLog};
use airlock_bundles::registry::{delegation_table, describe_targets_change, TargetsDraft};
use airlock_core::extension::RootExtension;
use airlock_core::hash::sha256_hex;
use airlock_core::metadata::{Root, Signature};
use airlock_core::text::for_terminal as safe;
use airlock_core::{Authorization, KeyId, Metadata, PublicKey, Timestamp};
use anyhow::Result;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// As in `ceremony`: human lines on stdout, or on stderr under `--json`.
macro_rules! println {
    ($($arg:tt)*) => { $crate::steps::human(format_args!($($arg)*), true) };
}

/// Reads a targets draft, mapping its errors to exit codes.
pub fn load_draft(path: &Path) -> Result<TargetsDraft> {
    TargetsDraft::from_bytes(path, &read_input(path)?).map_err(|e| usage(e.to_string()))
}

/// The root whose targets keys sign (`--root`, required here) and the draft.
fn load_with_root(root: Option<&Path>, draft: &Path) -> Result<(Metadata<Root>, TargetsDraft)> {
    let root =
        root.ok_or_else(|| usage("a targets draft needs --root, the root whose targets keys sign it"))?;
    Ok((load_root(root)?, load_draft(draft)?))
}

/// The key `id` of `root`'s targets role.
fn targets_key(root: &Root, id: &KeyId) -> Option<PublicKey> {
    root.role("targets").filter(|k| k.keyids.contains(id)).and_then(|_| root.keys.get(id).cloned())
}

/// Prints the review: the change against the base, and the whole result.
fn review(root: &Metadata<Root>, draft: &TargetsDraft, now: Timestamp) {
    let ext = RootExtension::of(root.signed()).ok();
    banner(ext.as_ref().is_some_and(|e| e.rehearsal));
    println!(
        "registry {} (root version {}): namespace ownership change",
        safe(ext.as_ref().map_or("(unnamed)", |e| e.registry.as_str())),
        root.signed().version
    );
    match &draft.base {
        Some(b) => {
            let auth = Authorization::top_level(root.signed(), "targets");
            match auth.and_then(|a| a.verify(b.signatures(), &b.payload(), now)) {
                Ok(r) => println!(
                    "base: targets version {}, signed by {} of this root's targets keys ({} needed)",
                    b.signed().version,
                    r.counted.len(),
                    r.threshold
                ),
                Err(e) => println!(
                    "base: targets version {} is NOT signed by this root's targets keys ({e}); do not rely on the change list, review the whole list below",
                    b.signed().version
                ),
            }
        }
        None => println!("base: none given; review the whole list below"),
    }
    let base = draft.base.as_ref().map(|b| b.signed());
    println!("changes:");
    // Names and namespaces come from the draft: rendered for the terminal.
    for line in describe_targets_change(base, draft.proposed.signed()) {
        println!("  {}", safe(&line));
    }
    println!("publishers after the change, in search order:");
    for line in delegation_table(draft.proposed.signed()) {
        println!("  {}", safe(&line));
    }
}

/// How many of `root`'s targets keys have signed the proposal.
fn count(root: &Root, draft: &TargetsDraft, now: Timestamp) -> (usize, u64) {
    Authorization::top_level(root, "targets")
        .map(|a| {
            let r = a.count(draft.proposed.signatures(), &draft.proposed.payload(), now);
            (r.counted.len(), r.threshold)
        })
        .unwrap_or((0, 0))
}

/// What a signing step's JSON says of a targets draft: its version and
/// payload hash, the signatures counted against the root's targets keys,
/// and whether the registry could now publish it (`complete`).
fn facts(path: &Path, root: &Metadata<Root>, draft: &TargetsDraft, now: Timestamp) -> Result<Value> {
    let payload = draft.proposed.payload();
    let ext = RootExtension::of(root.signed()).ok();
    let report = threshold_json(root.signed(), "targets", draft.proposed.signatures(), &payload, now)?;
    Ok(json!({
        "draft": path.display().to_string(),
        "kind": "targets",
        "registry": ext.as_ref().map(|e| e.registry.clone()),
        "rehearsal": ext.as_ref().is_some_and(|e| e.rehearsal),
        "root_version": root.signed().version,
        "version": draft.proposed.signed().version,
        "payload_sha256": sha256_hex(&payload),
        "signatures": draft.proposed.signatures().len(),
        "complete": report["met"] == true,
        "thresholds": [report],
    }))
}

/// `ceremony sign` on a targets draft.
pub fn sign(a: SignArgs) -> Result<Value> {
    let now = super::now_or(a.common.at.as_deref())?;
    check_airgap(a.common.allow_online)?;
    let (root, mut draft) = load_with_root(a.root.as_deref(), &a.draft)?;
    if draft.proposed.signed().expires <= now {
        return Err(refused(format!(
            "{}: the proposal expires {}, not after now",
            a.draft.display(),
            draft.proposed.signed().expires
        )));
    }
    review(&root, &draft, now);
    let stale = stale_signatures(draft.proposed.signatures(), &draft.proposed.payload(), |id| {
        targets_key(root.signed(), id)
    });
    let names = airlock_core::extension::custodian_names([root.signed()]);
    let removed = stale.clone();
    drop_stale(&mut draft.proposed, stale, &a.draft, a.remove_stale, |id| names.get(id).cloned())?;
    let payload = draft.proposed.payload();
    read_back(a.confirm.as_deref(), &payload)?;
    let signer = load_signer(&a.key, &a.passphrase)?;
    let id = signer.key_id();
    let key = targets_key(root.signed(), &id).ok_or_else(|| {
        usage(format!(
            "{}: key {} is not a targets key of root version {}",
            a.key.display(),
            id.short(),
            root.signed().version
        ))
    })?;
    draft.proposed.sign(signer.as_ref()).map_err(|e| anyhow::anyhow!("{}: {e}", a.key.display()))?;
    let sig =
        draft.proposed.signatures().iter().find(|s| s.keyid == id).map(|s| s.sig.clone()).unwrap_or_default();
    key.verify(&payload, &sig).map_err(|e| anyhow::anyhow!("the new signature does not verify: {e}"))?;
    write_atomic(&a.draft, &draft.to_bytes())?;
    let who = RootExtension::of(root.signed()).ok().and_then(|e| e.custodians.get(&id).cloned());
    println!(
        "signed by {} ({}); signature checked",
        safe(who.as_deref().unwrap_or("(unnamed)")),
        id.grouped()
    );
    let (counted, threshold) = count(root.signed(), &draft, now);
    println!("valid targets signatures now: {counted} of {threshold} needed");
    let transcript = a.common.transcript.unwrap_or_else(|| travelling_transcript(&a.draft));
    let rec = record_step(StepLog {
        transcript: transcript.clone(),
        step: "ceremony sign targets",
        now,
        rehearsal: RootExtension::of(root.signed()).is_ok_and(|e| e.rehearsal),
        allow_online: a.common.allow_online,
        key_ids: vec![id.clone()],
        files: vec![a.draft.clone()],
        details: serde_json::json!({
            "targets_version": draft.proposed.signed().version,
            "payload_sha256": sha256_hex(&payload),
            "changes": describe_targets_change(draft.base.as_ref().map(|b| b.signed()), draft.proposed.signed()),
        }),
    })?;
    let mut j = facts(&a.draft, &root, &draft, now)?;
    j["keyid"] = json!(id);
    j["signer"] = json!(who);
    j["removed_stale"] = json!(removed);
    j["transcript"] = transcript_json(&transcript, &rec);
    Ok(j)
}

/// `ceremony add-signature` on a targets draft.
pub fn add_signature(a: AddSignatureArgs) -> Result<Value> {
    let now = super::now_or(a.common.at.as_deref())?;
    check_airgap(a.common.allow_online)?;
    let (root, mut draft) = load_with_root(a.root.as_deref(), &a.draft)?;
    let id = keyid_arg(&a.keyid, root.signed().keys.keys())?;
    let key = targets_key(root.signed(), &id).ok_or_else(|| {
        usage(format!("key {} is not a targets key of root version {}", id.short(), root.signed().version))
    })?;
    let sig_hex = read_signature(&a.signature)?;
    key.verify(&draft.proposed.payload(), &sig_hex).map_err(|e| {
        refused(format!(
            "{}: signature by {} over {}: {e}",
            a.signature.display(),
            id.short(),
            a.draft.display()
        ))
    })?;
    draft.proposed.add_signature(Signature { keyid: id.clone(), sig: sig_hex, extra: BTreeMap::new() });
    write_atomic(&a.draft, &draft.to_bytes())?;
    let (counted, threshold) = count(root.signed(), &draft, now);
    println!("added signature by {}; signature checked; {counted} of {threshold} needed", id.grouped());
    let transcript = a.common.transcript.unwrap_or_else(|| travelling_transcript(&a.draft));
    let rec = record_step(StepLog {
        transcript: transcript.clone(),
        step: "ceremony add-signature targets",
        now,
        rehearsal: RootExtension::of(root.signed()).is_ok_and(|e| e.rehearsal),
        allow_online: a.common.allow_online,
        key_ids: vec![id.clone()],
        files: vec![a.draft.clone()],
        details: serde_json::json!({"targets_version": draft.proposed.signed().version}),
    })?;
    let mut j = facts(&a.draft, &root, &draft, now)?;
    j["keyid"] = json!(id);
    j["signer"] = json!(RootExtension::of(root.signed()).ok().and_then(|e| e.custodians.get(&id).cloned()));
    j["signature_file"] = a.signature.display().to_string().into();
    j["transcript"] = transcript_json(&transcript, &rec);
    Ok(j)
}
