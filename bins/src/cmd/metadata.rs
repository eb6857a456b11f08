//! `airlock metadata sign|verify`: one TUF metadata file by hand.

use crate::exit::{refused, usage};
use crate::io::{read_input, write_atomic};
use crate::secrets::{load_signer, PassphraseArgs};
use airlock_core::metadata::{AnyMetadata, Root, Targets};
use airlock_core::{Authorization, Metadata, ThresholdError, ThresholdReport};
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Sign and verify single metadata files.
#[derive(Subcommand)]
pub enum MetadataCommand {
    /// Add (or replace) one signature on a metadata file, in place.
    Sign(SignArgs),
    /// Check a metadata file's signatures against the keys that may sign it.
    Verify(VerifyArgs),
}

/// Arguments of `metadata sign`.
#[derive(Args)]
pub struct SignArgs {
    /// The metadata file; it is replaced atomically.
    pub file: PathBuf,
    /// The encrypted private key file.
    #[arg(long)]
    pub key: PathBuf,
    /// The root that authorises the role; the key must be one of its keys
    /// for this role and not retiring.
    #[arg(long)]
    pub root: PathBuf,
    /// For a delegated role: the targets file that delegates to it.
    #[arg(long, requires = "role")]
    pub delegator: Option<PathBuf>,
    /// For a delegated role: its name in the delegator.
    #[arg(long, requires = "delegator")]
    pub role: Option<String>,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// Arguments of `metadata verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The metadata file to check.
    pub file: PathBuf,
    /// The root whose keys decide top-level roles (and root itself).
    #[arg(long)]
    pub root: PathBuf,
    /// For a delegated role: the targets file that delegates to it.
    #[arg(long, requires = "role")]
    pub delegator: Option<PathBuf>,
    /// For a delegated role: its name in the delegator.
    #[arg(long, requires = "delegator")]
    pub role: Option<String>,
    /// Check at this instant (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a metadata command.
pub fn run(cmd: MetadataCommand) -> Result<()> {
    match cmd {
        MetadataCommand::Sign(a) => sign(a),
        MetadataCommand::Verify(a) => verify(a),
    }
}

fn load_any(path: &Path) -> Result<AnyMetadata> {
    AnyMetadata::from_bytes(&read_input(path)?).map_err(|e| refused(format!("{}: {e}", path.display())))
}

fn load_root(path: &Path) -> Result<Metadata<Root>> {
    Metadata::<Root>::from_bytes(&read_input(path)?).map_err(|e| usage(format!("{}: {e}", path.display())))
}

fn load_delegator(d: &Path) -> Result<Metadata<Targets>> {
    Metadata::<Targets>::from_bytes(&read_input(d)?).map_err(|e| usage(format!("{}: {e}", d.display())))
}

fn sign(a: SignArgs) -> Result<()> {
    let mut md = load_any(&a.file)?;
    let root = load_root(&a.root)?;
    let role = a.role.clone().unwrap_or_else(|| md.type_name().to_owned());
    let (keyids, retiring): (Vec<airlock_core::KeyId>, std::collections::BTreeMap<_, _>) = match &a.delegator
    {
        Some(d) => {
            let delegator = load_delegator(d)?;
            let r = delegator
                .signed()
                .delegations
                .as_ref()
                .and_then(|dl| dl.role(&role))
                .ok_or_else(|| usage(format!("{}: no delegated role {role:?}", d.display())))?;
            (r.keyids.clone(), Default::default())
        }
        None => {
            let keys = root
                .signed()
                .role(&role)
                .ok_or_else(|| usage(format!("{}: root defines no role {role:?}", a.root.display())))?;
            (keys.keyids.clone(), keys.retiring.clone())
        }
    };
    let signer = load_signer(&a.key, &a.passphrase)?;
    let id = signer.key_id();
    // A new root may also be signed by the keys it introduces (spec 5.3.4).
    let own_root_key = matches!(&md, AnyMetadata::Root(r) if r.signed().role("root").is_some_and(|k| k.keyids.contains(&id)));
    if !keyids.contains(&id) && !own_root_key {
        return Err(usage(format!(
            "{}: key {} is not a {role} key of {}",
            a.key.display(),
            id.short(),
            a.root.display()
        )));
    }
    if retiring.contains_key(&id) {
        return Err(usage(format!(
            "{}: key {} is retiring in {} and may no longer sign; sign with the active key",
            a.key.display(),
            id.short(),
            a.root.display()
        )));
    }
    md.sign(signer.as_ref()).map_err(|e| anyhow::anyhow!("{}: {e}", a.key.display()))?;
    // Check the new signature against the expected key at once.
    let sig = md.signatures().iter().find(|s| s.keyid == id).map(|s| s.sig.clone()).unwrap_or_default();
    signer
        .public_key()
        .verify(&md.payload(), &sig)
        .map_err(|e| anyhow::anyhow!("new signature does not verify: {e}"))?;
    write_atomic(&a.file, &md.to_bytes())?;
    eprintln!("signed {} ({} v{}) with key {}", a.file.display(), role, md.version(), id.grouped());
    Ok(())
}

fn verify(a: VerifyArgs) -> Result<()> {
    let now = super::now_or(a.at.as_deref())?;
    let md = load_any(&a.file)?;
    let root = load_root(&a.root)?;
    let delegator;
    let auth = match (&a.delegator, &a.role) {
        (Some(d), Some(name)) => {
            delegator = load_delegator(d)?;
            let dl = delegator
                .signed()
                .delegations
                .as_ref()
                .ok_or_else(|| usage(format!("{}: delegates to no role", d.display())))?;
            let role =
                dl.role(name).ok_or_else(|| usage(format!("{}: no delegated role {name:?}", d.display())))?;
            Authorization::delegated(dl, role)
        }
        _ => Authorization::top_level(root.signed(), md.type_name())
            .map_err(|e| usage(format!("{}: {e}", a.root.display())))?,
    };
    let result = auth.verify(md.signatures(), &md.payload(), now);
    let report = match &result {
        Ok(r) => r.clone(),
        Err(ThresholdError::NotMet { report, .. }) => (**report).clone(),
        Err(e) => return Err(usage(format!("{}: {e}", a.root.display()))),
    };
    let expired = md.expires() <= now;
    let ok = result.is_ok() && !expired;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "format": "airlock-metadata-verify-v1",
                "file": a.file.display().to_string(),
                "type": md.type_name(),
                "version": md.version(),
                "expires": md.expires().to_string(),
                "checked_at": now.to_string(),
                "expired": expired,
                "signatures": report,
                "verified": ok,
            }))?
        );
    } else {
        print_report(&a.file, &md, &report, expired);
    }
    if let Err(e) = result {
        return Err(refused(format!("{}: {e}", a.file.display())));
    }
    if expired {
        return Err(refused(format!("{}: expired at {}", a.file.display(), md.expires())));
    }
    Ok(())
}

fn print_report(file: &Path, md: &AnyMetadata, r: &ThresholdReport, expired: bool) {
    println!(
        "{}: {} version {}, expires {}{}",
        file.display(),
        md.type_name(),
        md.version(),
        md.expires(),
        if expired { " (EXPIRED)" } else { "" }
    );
    println!(
        "role {}: threshold {}, valid signatures from {} distinct key(s)",
        r.role,
        r.threshold,
        r.counted.len()
    );
    for k in &r.counted {
        println!("  good          {}", k.grouped());
    }
    for (k, why) in &r.invalid {
        println!("  BAD           {}  ({why})", k.grouped());
    }
    for k in &r.unauthorised {
        println!("  not in role   {}", k.grouped());
    }
    for k in &r.duplicate {
        println!("  duplicate     {}", k.grouped());
    }
    for k in &r.retired {
        println!("  retired key   {}", k.grouped());
    }
}
