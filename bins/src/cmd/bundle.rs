//! `airlock bundle create|verify|inspect`.

use crate::exit::{refused, usage};
use crate::io::{ensure_absent, read_input};
use airlock_bundles::bundle::{
    authenticate_volume_index, create_bundle, index_path, inspect_bundle, open_volumes, read_volume_index,
    verify_bundle, BundleError, BundleOptions, NoSink, VerifyOptions, VolumeWriter, BUNDLE_FILE_MODE,
};
use airlock_core::text::for_terminal as safe;
use airlock_core::volume_auth::{sign_index, unsigned_auth, VolumeAuthError};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bundle commands.
#[derive(Subcommand)]
pub enum BundleCommand {
    /// Pack a registry's consistent snapshot into a bundle for the air gap.
    Create(CreateArgs),
    /// Verify a bundle in one streaming pass against pinned roots.
    Verify(VerifyArgs),
    /// List what a bundle holds, verifying nothing.
    Inspect(InspectArgs),
    /// Check one volume of a split bundle alone against its index (the
    /// FILE.volumes.json that goes on every disc): before burning, or
    /// after carrying, one disc at a time.
    VerifyVolume(VerifyVolumeArgs),
}

/// Arguments of `bundle verify-volume`.
#[derive(Args)]
pub struct VerifyVolumeArgs {
    /// The volume file (FILE.NNN).
    pub volume: PathBuf,
    /// The volume index (default: FILE.volumes.json beside the volume).
    #[arg(long = "volume-index", alias = "index", value_name = "FILE")]
    pub index: Option<PathBuf>,
    /// Also authenticate the disc alone: the pins directory (map.json and
    /// NAME/root.json) or one pinned root file of the registry, against
    /// which the signed volume index is checked.
    #[arg(long, value_name = "PATH")]
    pub pins: Option<PathBuf>,
    /// Check the root chain at this instant (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long, requires = "pins")]
    pub at: Option<String>,
    /// Print the result as JSON (docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `bundle create`.
#[derive(Args)]
pub struct CreateArgs {
    /// The registry repository (holding metadata/ and targets/).
    #[arg(long)]
    pub repo: PathBuf,
    /// The bundle file to write (or the base name of its volumes).
    #[arg(long)]
    pub out: PathBuf,
    /// Compress with gzip.
    #[arg(long)]
    pub gzip: bool,
    /// Carry only targets matching this pattern (repeatable).
    #[arg(long = "namespace")]
    pub namespaces: Vec<String>,
    /// Carry only what is new since this snapshot version (a delta bundle).
    #[arg(long)]
    pub since_snapshot: Option<u64>,
    /// Prove the log consistent from this tree size (the receiving mirror's
    /// or witness's last checkpoint: `mirror status`, `witness status`;
    /// repeatable). A delta adds its base snapshot's size itself.
    #[arg(long = "since-checkpoint", value_name = "SIZE")]
    pub since_checkpoints: Vec<u64>,
    /// Split into volumes of this size: bytes, or with K, M or G (powers of 1024).
    #[arg(long)]
    pub volume_size: Option<String>,
    /// The creation time recorded (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    pub at: Option<String>,
    /// First re-sign snapshot and timestamp to stay valid this many days
    /// (a courier trip), with the registry's index key (--key).
    #[arg(long = "expires-days", alias = "expires", value_name = "DAYS", requires = "key")]
    pub expires: Option<u32>,
    /// The registry's active index key (a key file or pkcs11: URI): signs
    /// the refreshed metadata (--expires-days) and, with --volume-size, the
    /// volume index, so that each disc can be authenticated alone.
    #[arg(long)]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub passphrase: crate::secrets::PassphraseArgs,
    /// Print the result as JSON (docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `bundle verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The bundle file, or the base name (or .volumes.json index) of its
    /// volumes, or every volume file (FILE.NNN) in any order.
    #[arg(required = true, num_args = 1..)]
    pub bundle: Vec<PathBuf>,
    /// The pins directory (map.json and NAME/root.json, as `mirror init`
    /// takes it), or one pinned root file of the registry.
    #[arg(long)]
    pub pins: PathBuf,
    /// Check at this instant (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `bundle inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// The bundle file, or the base name of its volumes.
    pub bundle: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a bundle command.
pub fn run(cmd: BundleCommand) -> Result<()> {
    match cmd {
        BundleCommand::Create(a) => create(a),
        BundleCommand::Verify(a) => verify(a),
        BundleCommand::Inspect(a) => inspect(a),
        BundleCommand::VerifyVolume(a) => verify_volume(a),
    }
}

/// Parses `4480M`-style sizes.
pub fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().and_then(|n| n.checked_mul(mult)).filter(|n| *n >= 1024).ok_or_else(|| {
        usage(format!("volume size {s:?}: a number of bytes of at least 1024, optionally with K, M or G"))
    })
}

/// When a bundle is made: `--at`, else `SOURCE_DATE_EPOCH` (the
/// reproducible-builds convention: seconds since 1970), else now. The
/// bytes of a bundle depend only on the registry and this instant.
fn created_at(at: Option<&str>) -> Result<airlock_core::Timestamp> {
    if at.is_some() {
        return super::now_or(at);
    }
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|s| *s >= 0)
            .map(airlock_core::Timestamp::from_unix)
            .ok_or_else(|| usage(format!("SOURCE_DATE_EPOCH {v:?}: not a number of seconds since 1970"))),
        _ => super::now_or(None),
    }
}

pub(crate) fn bundle_error(path: &Path, e: BundleError) -> anyhow::Error {
    match e {
        BundleError::Io(m) => anyhow::anyhow!("{}: {m}", path.display()),
        other => refused(format!("{}: {other}", path.display())),
    }
}

fn create(a: CreateArgs) -> Result<()> {
    let created = created_at(a.at.as_deref())?;
    let opts = BundleOptions {
        gzip: a.gzip,
        namespaces: a.namespaces,
        since_snapshot: a.since_snapshot,
        created,
        since_checkpoints: a.since_checkpoints,
    };
    if !a.repo.join("metadata").is_dir() {
        return Err(usage(format!("{}: not a registry repository (no metadata/)", a.repo.display())));
    }
    if a.key.is_some() && a.expires.is_none() && a.volume_size.is_none() {
        return Err(usage(
            "--key signs the refreshed metadata (--expires-days DAYS) or the volume index (--volume-size SIZE): give one of them",
        ));
    }
    // Loaded, and checked to be the active index key, before anything is
    // written (with --expires-days the refresh checks it, on the registry
    // it opens anyway).
    let signer = match &a.key {
        None => None,
        Some(key) => {
            let signer = crate::secrets::load_signer(key, &a.passphrase)?;
            if a.expires.is_none() {
                let reg = airlock_bundles::registry::Registry::open(&a.repo)
                    .map_err(super::registry::registry_error)?;
                airlock_bundles::registry::check_index_key(reg.roots(), &signer.key_id())
                    .map_err(super::registry::registry_error)?;
            }
            Some(signer)
        }
    };
    if let (Some(days), Some(signer)) = (a.expires, &signer) {
        let mut reg = super::registry::open_writing(&a.repo, created)?;
        let r = reg
            .refresh_for_trip(signer.as_ref(), created, Some(days))
            .map_err(super::registry::registry_error)?;
        if !a.json {
            println!(
                "refreshed for a {days}-day trip: snapshot v{}, timestamp v{}",
                r.snapshot_version, r.timestamp_version
            );
        }
    }
    let io_fail = |e: BundleError| match e {
        BundleError::Io(m) => usage(format!("{}: {m}", a.repo.display())),
        other => refused(format!("{}: {other}", a.repo.display())),
    };
    match &a.volume_size {
        None => {
            ensure_absent(&a.out)?;
            // Write beside the target and rename, so a failed run leaves nothing.
            let dir = a.out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("{}: cannot write", dir.display()))?;
            let out = crate::progress::ProgressWrite::new(std::io::BufWriter::new(tmp), "writing");
            let (plan, file) = create_bundle(&a.repo, &opts, out).map_err(io_fail)?;
            let tmp = file
                .into_inner()
                .into_inner()
                .map_err(|e| anyhow::anyhow!("{}: {}", a.out.display(), e.error()))?;
            {
                use std::os::unix::fs::PermissionsExt;
                tmp.as_file().set_permissions(std::fs::Permissions::from_mode(BUNDLE_FILE_MODE))?;
            }
            tmp.as_file().sync_all()?;
            tmp.persist_noclobber(&a.out).map_err(|e| usage(format!("{}: {}", a.out.display(), e.error)))?;
            report(&a.out, &plan.manifest, &a.repo, created, a.json, None)?;
        }
        Some(size) => {
            let size = parse_size(size)?;
            ensure_absent(&index_path(&a.out))?;
            let w = VolumeWriter::new(&a.out, size).map_err(io_fail)?;
            let w = crate::progress::ProgressWrite::new(w, "writing volumes");
            let (plan, w) = create_bundle(&a.repo, &opts, w).map_err(io_fail)?;
            let mut w = w.into_inner();
            w.flush()?;
            let index = w
                .finish_with(|index| {
                    let Some(signer) = &signer else { return Ok(()) };
                    let m = &plan.manifest;
                    let auth = unsigned_auth(
                        &m.registry,
                        m.snapshot_version,
                        plan.timestamp_expires,
                        &plan.root_files(),
                    );
                    index.authentication = Some(auth);
                    let sig =
                        sign_index(index, signer.as_ref()).map_err(|e| BundleError::Io(e.to_string()))?;
                    if let Some(auth) = &mut index.authentication {
                        auth.signatures.push(sig);
                    }
                    Ok(())
                })
                .map_err(io_fail)?;
            report(&a.out, &plan.manifest, &a.repo, created, a.json, Some(&index))?;
            if a.json {
                return Ok(());
            }
            println!(
                "split into {} volume(s) of at most {size} bytes; index {} ({})",
                index.volumes.len(),
                index_path(&a.out).display(),
                if index.authentication.is_some() {
                    "signed by the index key: each disc can be authenticated alone"
                } else {
                    "unsigned: give --key INDEX.key to let each disc be authenticated alone"
                }
            );
            for v in &index.volumes {
                println!("  {}  {} bytes  sha256 {}", v.name, v.length, v.sha256);
            }
        }
    }
    Ok(())
}

/// When a bundle of `repo` stops being importable: the earliest expiry of
/// the roles it carries (all of them, for a full bundle).
fn importable_until(repo: &Path, now: airlock_core::Timestamp) -> Option<(airlock_core::Timestamp, String)> {
    let s = airlock_bundles::registry::status(repo, now).ok()?;
    let publishers = s.publishers.iter().filter_map(|p| p.role.as_ref());
    s.roles.iter().chain(publishers).map(|r| (r.expires, r.role.clone())).min()
}

fn report(
    out: &Path,
    m: &airlock_core::bundle::BundleManifest,
    repo: &Path,
    created: airlock_core::Timestamp,
    json: bool,
    volumes: Option<&airlock_core::bundle::VolumeIndex>,
) -> Result<()> {
    let targets = m.entries.iter().filter(|e| e.kind == airlock_core::bundle::EntryKind::Target).count();
    let until = importable_until(repo, created);
    if json {
        let j = json!({
            "format": "airlock-bundle-create-v1",
            "out": out.display().to_string(),
            "registry": m.registry,
            "created": m.created,
            "snapshot_version": m.snapshot_version,
            "base_snapshot_version": m.base_snapshot_version,
            "entries": m.entries.len() + 1,
            "artifacts": targets,
            "omitted_roles": m.omitted_roles,
            "importable_until": until.as_ref().map(|(t, _)| t.to_string()),
            "expiring_role": until.as_ref().map(|(_, r)| r.clone()),
            "volumes": volumes.map(|v| &v.volumes),
            "index": volumes.map(|_| index_path(out).display().to_string()),
            "index_signed": volumes.map(|v| v.authentication.is_some()),
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(());
    }
    println!(
        "wrote {}: registry {}, snapshot version {}",
        out.display(),
        &m.registry[..16],
        m.snapshot_version
    );
    println!("  {} entries, {} artifact(s)", m.entries.len() + 1, targets);
    if let Some(b) = m.base_snapshot_version {
        println!("  delta since snapshot version {b}");
    }
    if !m.omitted_roles.is_empty() {
        println!("  roles left out: {}", safe(&m.omitted_roles.join(", ")));
    }
    if let Some((until, role)) = until {
        println!(
            "  importable until {until} (when its {} metadata expires; `--expires-days DAYS --key INDEX.key` refreshes it for a longer trip)",
            safe(&role)
        );
    }
    Ok(())
}

fn verify(a: VerifyArgs) -> Result<()> {
    let now = super::now_or(a.at.as_deref())?;
    let (bundle, result) = verify_paths(&a.bundle, &a.pins, now)?;
    match result {
        Ok(v) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "format": "airlock-bundle-verify-v1",
                        "bundle": bundle.display().to_string(),
                        "verified": true,
                        "checked_at": now.to_string(),
                        "registry": v.manifest().registry,
                        "snapshot_version": v.manifest().snapshot_version,
                        "base_snapshot_version": v.manifest().base_snapshot_version,
                        "omitted_roles": v.manifest().omitted_roles,
                        "checks": v.checks(),
                        "importable_until": v.trusted().earliest_expiry().0.to_string(),
                        "expiring_role": v.trusted().earliest_expiry().1,
                        "targets": v.targets().iter().map(|(t, f, r)| json!({"path": t, "length": f.length, "role": r})).collect::<Vec<_>>(),
                    }))?
                );
            } else {
                for c in v.checks() {
                    println!("ok  {:<24} {}", c.check, safe(&c.detail));
                }
                println!(
                    "bundle verified: {} artifact(s) from registry {}",
                    v.each_target().count(),
                    &v.manifest().registry[..16]
                );
                let (until, role) = v.trusted().earliest_expiry();
                println!("importable until {until} (when its {} metadata expires)", safe(&role));
            }
            Ok(())
        }
        Err(e) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "format": "airlock-bundle-verify-v1",
                        "bundle": bundle.display().to_string(),
                        "verified": false,
                        "checked_at": now.to_string(),
                        "error": e.to_string(),
                    }))?
                );
            }
            Err(bundle_error(&bundle, e))
        }
    }
}

/// Opens the bundle given as `paths` (one file, base name or volume index,
/// or every volume `FILE.NNN` in any order) and verifies it from the root
/// `pins` gives ([`pinned_root`]). Errors opening it are returned; the
/// verification's outcome is the caller's to report.
pub(crate) fn verify_paths(
    paths: &[PathBuf],
    pins: &Path,
    now: airlock_core::Timestamp,
) -> Result<(PathBuf, Result<airlock_bundles::bundle::VerifiedBundle, BundleError>)> {
    let index = match paths {
        [_] => None,
        volumes => Some(airlock_bundles::bundle::index_of_volume(&volumes[0]).ok_or_else(|| {
            usage(format!("{}: several paths must all be volumes (FILE.NNN)", volumes[0].display()))
        })?),
    };
    let (bundle, input) = crate::rules::open_bundle_input(index, paths, "verifying")?;
    // A signed volume index is authenticated before any volume is read
    // (with several pins, the one for the registry it names); an unsigned
    // one is left to the verification of the bundle itself.
    let signed = match crate::rules::volume_index_file(paths).map(|f| (read_volume_index(&f), f)) {
        Some((Ok(ix), f)) if ix.authentication.is_some() => Some((ix, f)),
        Some((Err(e), _)) => return Ok((bundle, Err(e))),
        _ => None,
    };
    let pinned = match &signed {
        Some((ix, f)) if pins.is_dir() => pinned_root_for_index(pins, ix, f)?,
        _ => pinned_root(pins, &bundle)?,
    };
    if let Some(Err(e)) = signed.map(|(ix, _)| authenticate_volume_index(&ix, &pinned, now)) {
        return Ok((bundle, Err(e)));
    }
    let result = verify_bundle(input, &pinned, &VerifyOptions::at(now), &mut NoSink);
    Ok((bundle, result))
}

/// The pinned root to verify `bundle` against: the file `pins`, or from the
/// pins directory `pins` the root of the one pinned registry, or (with
/// several) of the registry the bundle's manifest names, which costs one
/// more read of the bundle.
pub(crate) fn pinned_root(pins: &Path, bundle: &Path) -> Result<Vec<u8>> {
    if !pins.is_dir() {
        return read_input(pins);
    }
    let (pins_map, _) = crate::rules::read_pins_dir(pins)?;
    let repos: Vec<_> = pins_map.repositories().collect();
    if let [one] = repos.as_slice() {
        return Ok(one.root().to_vec());
    }
    let input = open_volumes(bundle).map_err(|e| usage(format!("{}: {e}", bundle.display())))?;
    let claimed = inspect_bundle(input).map_err(|e| bundle_error(bundle, e))?.manifest.registry;
    root_pinned_for(&pins_map, pins, bundle, &claimed)
}

/// The root `pins_map` (read from the directory `pins`) pins for the
/// registry `identity` that `subject` names; refused when none does.
fn root_pinned_for(
    pins_map: &airlock_core::pins::Pins,
    pins: &Path,
    subject: &Path,
    identity: &str,
) -> Result<Vec<u8>> {
    let repo = pins_map.repository_for_identity(identity).ok_or_else(|| {
        refused(format!(
            "{}: registry {} is not pinned in {}",
            subject.display(),
            safe(identity.get(..16).unwrap_or(identity)),
            pins.display()
        ))
    })?;
    Ok(pins_map.root(repo).unwrap_or_default().to_vec())
}

fn verify_volume(a: VerifyVolumeArgs) -> Result<()> {
    let index =
        a.index.clone().or_else(|| airlock_bundles::bundle::index_of_volume(&a.volume)).ok_or_else(|| {
            usage(format!(
                "{}: not a volume name (FILE.NNN); give --volume-index FILE.volumes.json",
                a.volume.display()
            ))
        })?;
    // The index is read once and authenticated first: the disc is checked
    // against the very index authenticated (a forged one would prove nothing).
    let (who, result) = match (&a.pins, read_volume_index(&index)) {
        (_, Err(e)) => (None, Err(e)),
        (None, Ok(parsed)) => (None, airlock_bundles::bundle::check_volume(&a.volume, &parsed, &index)),
        (Some(pins), Ok(parsed)) => {
            let now = super::now_or(a.at.as_deref())?;
            let pinned = pinned_root_for_index(pins, &parsed, &index)?;
            match authenticate_volume_index(&parsed, &pinned, now) {
                Ok(w) => (Some(w), airlock_bundles::bundle::check_volume(&a.volume, &parsed, &index)),
                Err(e) => (None, Err(e)),
            }
        }
    };
    let who = who.as_ref();
    if a.json {
        let mut j = json!({
            "format": "airlock-bundle-verify-volume-v1",
            "volume": a.volume.display().to_string(),
            "intact": result.is_ok(),
            "authenticated": a.pins.as_ref().map(|_| who.is_some()),
            "registry": who.map(|w| w.registry.clone()),
            "snapshot_version": who.map(|w| w.snapshot_version),
            "root_version": who.map(|w| w.root_version),
            "index_expires": who.map(|w| w.expires.to_string()),
        });
        match &result {
            Ok(c) => {
                j["number"] = json!(c.number);
                j["of"] = json!(c.of);
                j["length"] = json!(c.length);
                j["bundle_sha256"] = json!(c.bundle_sha256);
                j["index_signed"] = json!(c.index_signed);
            }
            Err(e) => j["error"] = json!(e.to_string()),
        }
        if matches!(result, Err(BundleError::VolumeIndex(_))) {
            j["intact"] = serde_json::Value::Null;
        }
        println!("{}", serde_json::to_string_pretty(&j)?);
    }
    let c = result.map_err(|e| bundle_error(&a.volume, e))?;
    if !a.json {
        println!(
            "volume {} of {} ({}): {} bytes, intact (matches {})",
            c.number,
            c.of,
            a.volume.display(),
            c.length,
            index.display()
        );
        match (who, c.index_signed) {
            (Some(w), _) => println!(
                "authenticated alone: the index is signed by registry {}'s index key (root version {}, snapshot version {}), valid until {}",
                &w.registry[..16],
                w.root_version,
                w.snapshot_version,
                w.expires
            ),
            (None, true) => println!("the index is signed: give --pins to authenticate this disc alone"),
            (None, false) => {
                println!("the index is unsigned: the full `bundle verify` of every volume checks signatures")
            }
        }
    }
    Ok(())
}

/// The pinned root a signed volume index (`parsed`, read from `index`) is
/// checked against: the file `pins`, or from the pins directory `pins` the
/// root of the registry the index names (a lone disc has no manifest to ask).
fn pinned_root_for_index(
    pins: &Path,
    parsed: &airlock_core::bundle::VolumeIndex,
    index: &Path,
) -> Result<Vec<u8>> {
    if !pins.is_dir() {
        return read_input(pins);
    }
    let (pins_map, _) = crate::rules::read_pins_dir(pins)?;
    let Some(auth) = &parsed.authentication else {
        return Err(refused(format!("{}: volume index: {}", index.display(), VolumeAuthError::Unsigned)));
    };
    root_pinned_for(&pins_map, pins, index, &auth.registry)
}

fn inspect(a: InspectArgs) -> Result<()> {
    let input = open_volumes(&a.bundle).map_err(|e| usage(format!("{}: {e}", a.bundle.display())))?;
    let i = inspect_bundle(input).map_err(|e| bundle_error(&a.bundle, e))?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"format": "airlock-bundle-inspect-v1", "verified": false, "inspection": i})
            )?
        );
        return Ok(());
    }
    // Everything below comes from the unverified bundle: rendered for the
    // terminal, so no name in it can move the cursor or forge a line.
    println!("NOTHING HERE IS VERIFIED: this lists what the bundle claims. Use `airlock bundle verify`.");
    let m = &i.manifest;
    println!(
        "registry {}  snapshot version {}  created {}",
        safe(&m.registry),
        m.snapshot_version,
        m.created
    );
    if let Some(b) = m.base_snapshot_version {
        println!("delta since snapshot version {b}");
    }
    if let Some(ns) = &m.namespaces {
        println!("namespaces: {}", safe(&ns.join(", ")));
    }
    println!("metadata:");
    for (name, ty, version, expires) in &i.metadata {
        println!(
            "  {:<28} {:<10} v{version:<5} expires {}",
            safe(name),
            safe(ty),
            safe(&expires.to_string())
        );
    }
    println!("targets:");
    for (path, len, role, custom) in &i.targets {
        let prov = custom
            .as_ref()
            .and_then(|c| c.get("airlock"))
            .and_then(|c| c.get("provenance"))
            .map(|p| format!("  provenance {p}"))
            .unwrap_or_default();
        println!("  {}  {len} bytes  (role {}){}", safe(path), safe(role), safe(&prov));
    }
    Ok(())
}
