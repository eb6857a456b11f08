//! Reading the importer's pins and policy, and importing with them; shared
//! by `airlock mirror` and `airlock-import`. Every decision is made by
//! `airlock_core::admission::admit`; nothing here decides trust.

use crate::exit::{refused, usage};
use airlock_bundles::bundle::{
    authenticate_volume_index, index_of_volume, index_path, read_volume_index, BundleError, VolumeReader,
    MAX_INDEX_BYTES,
};
use airlock_bundles::mirror::{import_bundle, Importer, Mirror, MirrorError};
use airlock_core::pins::Pins;
use airlock_core::policy::Policy;
use airlock_core::text::for_terminal as safe;
use airlock_core::Timestamp;
use anyhow::Result;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Files of a pins directory: (relative path, bytes).
pub type PinFiles = Vec<(String, Vec<u8>)>;

/// Where a pins directory keeps the Sigstore trusted root (docs/PINS.md §4.2).
pub const SIGSTORE_TRUSTED_ROOT: &str = "sigstore/trusted_root.json";

/// Reads a pins directory: `map.json`, `<repo>/root.json` per repository and
/// the optional Sigstore trusted root. Returns the validated pins and the files.
pub fn read_pins_dir(dir: &Path) -> Result<(Pins, PinFiles)> {
    let map_path = dir.join("map.json");
    let map = std::fs::read(&map_path).map_err(|e| usage(format!("{}: {e}", map_path.display())))?;
    let names = Pins::repository_names(&map).map_err(|e| usage(format!("{}: {e}", map_path.display())))?;
    let mut roots = BTreeMap::new();
    let mut files = vec![("map.json".to_owned(), map.clone())];
    for name in names {
        let p = dir.join(&name).join("root.json");
        let bytes = std::fs::read(&p).map_err(|e| usage(format!("{}: {e}", p.display())))?;
        files.push((format!("{name}/root.json"), bytes.clone()));
        roots.insert(name, bytes);
    }
    let mut pins = Pins::from_parts(&map, roots).map_err(|e| usage(format!("{}: {e}", dir.display())))?;
    // The Sigstore trusted root publisher provenance is checked against (optional).
    let sigstore = dir.join(SIGSTORE_TRUSTED_ROOT);
    match std::fs::read(&sigstore) {
        Ok(bytes) => {
            files.push((SIGSTORE_TRUSTED_ROOT.to_owned(), bytes.clone()));
            pins = pins.with_sigstore_root(bytes);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(usage(format!("{}: {e}", sigstore.display()))),
    }
    Ok((pins, files))
}

/// Reads a policy file, or the default policy when there is none.
pub fn read_policy(path: Option<&Path>) -> Result<(Policy, Option<Vec<u8>>)> {
    match path {
        None => Ok((Policy::from_toml("").map_err(|e| usage(e.to_string()))?, None)),
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| usage(format!("{}: {e}", p.display())))?;
            let text =
                String::from_utf8(bytes.clone()).map_err(|_| usage(format!("{}: not UTF-8", p.display())))?;
            let policy = Policy::from_toml(&text).map_err(|e| usage(format!("{}: {e}", p.display())))?;
            Ok((policy, Some(bytes)))
        }
    }
}

/// The bundles named on a command line, each with the volume index it
/// is read through: each path alone, except that volume files (`FILE.NNN`
/// beside `FILE.volumes.json`) of one index, given one after another in any
/// order, are one bundle.
fn group_volumes(paths: &[PathBuf]) -> Vec<(Option<PathBuf>, Vec<PathBuf>)> {
    let mut groups: Vec<(Option<PathBuf>, Vec<PathBuf>)> = Vec::new();
    for p in paths {
        let index = index_of_volume(p).filter(|i| i.is_file());
        // Each disc carries its own copy of the index: the same bytes are
        // the same bundle.
        let small = |p: &PathBuf| std::fs::metadata(p).is_ok_and(|m| m.len() <= MAX_INDEX_BYTES);
        let same = |a: &PathBuf, b: &PathBuf| {
            a == b
                || (small(a)
                    && small(b)
                    && std::fs::read(a).ok().is_some_and(|x| std::fs::read(b).ok() == Some(x)))
        };
        match (groups.last_mut(), &index) {
            (Some((Some(last), members)), Some(i)) if same(last, i) => members.push(p.clone()),
            _ => groups.push((index, vec![p.clone()])),
        }
    }
    groups
}

/// Opens one bundle: `paths[0]` alone (a file, a base name or a volume
/// index) when `index` is `None`, else the volume files `paths`, in any
/// order, read through `index`. Returns the name to report it by and the
/// stream, with a progress bar labelled `what`. A path that cannot be
/// opened is a usage error; a volume not given or unreadable is I/O (exit
/// 3); one the index does not list, or given twice, is refused (exit 1).
pub fn open_bundle_input(
    index: Option<PathBuf>,
    paths: &[PathBuf],
    what: &str,
) -> Result<(PathBuf, crate::progress::ProgressRead<Box<dyn std::io::Read>>)> {
    match index {
        None => {
            let one = &paths[0];
            let input = crate::progress::open_bundle(one, what)
                .map_err(|e| usage(format!("{}: {e}", one.display())))?;
            Ok((one.clone(), input))
        }
        Some(index) => {
            let reader = VolumeReader::open_list(&index, paths).map_err(|e| match e {
                airlock_bundles::bundle::BundleError::Io(m) => anyhow::anyhow!("{}: {m}", index.display()),
                other => refused(format!("{}: {other}", index.display())),
            })?;
            Ok((index, crate::progress::reading(Box::new(reader), &format!("{what} volumes"))))
        }
    }
}

/// The volume index a bundle given as `paths` is read through, if it is
/// split: the index of its volume files, the `.volumes.json` named, or the
/// one beside a base name.
pub fn volume_index_file(paths: &[PathBuf]) -> Option<PathBuf> {
    match paths {
        [one] if one.to_string_lossy().ends_with(".volumes.json") => Some(one.clone()),
        [one] if !one.is_file() => Some(index_path(one)).filter(|i| i.is_file()),
        [] | [_] => None,
        [first, ..] => index_of_volume(first),
    }
}

/// Authenticates a signed volume index before any volume is read, against
/// the newest root `mirror` trusts for the registry it names, or its pinned
/// root on a first import (docs/FORMAT.md 7.5): a signed index that does
/// not authenticate is refused, and one signed by an index key a newer
/// trusted root revoked does not. An unsigned index, or one of a registry
/// not pinned, is left to the verification of the bundle itself, which
/// refuses what is not authentic either way.
pub fn check_signed_index(
    index_file: &Path,
    mirror: &Mirror,
    pins: &Pins,
    now: Timestamp,
) -> Result<(), BundleError> {
    let index = read_volume_index(index_file)?;
    let Some(auth) = &index.authentication else { return Ok(()) };
    let Some(repo) = pins.repository_for_identity(&auth.registry) else { return Ok(()) };
    let trusted = mirror.state_dir(repo).join("root.json");
    let root = match std::fs::read(&trusted) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => pins.root(repo).unwrap_or_default().to_vec(),
        Err(e) => return Err(BundleError::Io(format!("{}: {e}", trusted.display()))),
    };
    authenticate_volume_index(&index, &root, now).map(|_| ())
}

/// The witness cosignatures collected beside a bundle (`FILE.checkpoint`).
pub fn companion(bundle: &Path) -> Result<Vec<airlock_core::log::SignedNote>> {
    let path = airlock_bundles::bundle::companion_checkpoint_path(bundle);
    airlock_bundles::bundle::read_companion_checkpoint(bundle).map(|n| n.into_iter().collect()).map_err(|e| {
        match e {
            airlock_bundles::bundle::BundleError::Io(m) => anyhow::anyhow!("{m}"),
            other => refused(format!("{}: {other}", path.display())),
        }
    })
}

/// Imports bundles in order with `rules`, printing a report for each and
/// stopping at the first refusal; each waits up to `wait` seconds for
/// another writer's lock. Shared by `airlock mirror import` and
/// `airlock-import import`.
pub fn import_all(
    mirror: &Mirror,
    importer: &Importer,
    bundles: &[PathBuf],
    now: Timestamp,
    wait: u64,
    json: bool,
) -> Result<()> {
    for (index, group) in group_volumes(bundles) {
        if let Some(file) = index.clone().or_else(|| volume_index_file(&group)) {
            check_signed_index(&file, mirror, &importer.pins, now).map_err(|e| {
                let msg = format!("{}: {e}; the mirror is unchanged", file.display());
                match e {
                    BundleError::Io(_) => anyhow::anyhow!(msg),
                    _ => refused(msg),
                }
            })?;
        }
        let (b, mut input) = open_bundle_input(index, &group, "importing")?;
        let b = &b;
        let label = b.display().to_string();
        let cosigned = companion(b)?;
        match import_bundle(
            mirror,
            &mut input,
            &label,
            importer,
            &cosigned,
            now,
            std::time::Duration::from_secs(wait),
        ) {
            Ok(r) => {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(
                            &json!({"format": "airlock-mirror-import-v1", "bundle": b.display().to_string(), "imported": true, "report": r})
                        )?
                    );
                } else {
                    println!(
                        "imported {} into {}: snapshot {} -> {}, {} target(s)",
                        b.display(),
                        r.repo,
                        r.snapshot_from.map_or("none".to_owned(), |v| v.to_string()),
                        r.snapshot_to,
                        r.targets.len()
                    );
                    if !r.new_roots.is_empty() {
                        let v: Vec<String> = r.new_roots.iter().map(|v| v.to_string()).collect();
                        println!("  new root version(s): {}", v.join(", "));
                    }
                    if !r.omitted_roles.is_empty() {
                        println!("  roles not carried: {}", safe(&some_of(&r.omitted_roles, 8)));
                    }
                    for c in &r.delegation_changes {
                        println!(
                            "  delegation {} -> {} {} (signed in {} version {})",
                            safe(&c.delegator),
                            safe(&c.name),
                            c.change,
                            safe(&c.delegator),
                            c.by_version
                        );
                    }
                    for rec in &r.recoveries {
                        println!(
                            "  fast-forward recovery: {} version {} -> {} (keys revoked: {})",
                            rec.role,
                            rec.from,
                            rec.to,
                            rec.revoked.join(", ")
                        );
                    }
                }
            }
            Err(e) => {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(
                            &json!({"format": "airlock-mirror-import-v1", "bundle": b.display().to_string(), "imported": false, "error": e.to_string()})
                        )?
                    );
                }
                let refusal = e.is_refusal();
                let msg = format!("{}: {e}; the mirror is unchanged", b.display());
                return Err(match e {
                    MirrorError::Locked { .. } | MirrorError::Layout(_) => usage(msg),
                    _ if refusal => refused(msg),
                    _ => anyhow::anyhow!(msg),
                });
            }
        }
    }
    Ok(())
}

/// The first `shown` of `names`, comma-separated, then how many more: a
/// delta into a registry of thousands of hash bins leaves thousands of
/// roles out, and one line naming them all helps no one (`--json` has them).
fn some_of(names: &[String], shown: usize) -> String {
    let mut text = names.iter().take(shown).map(String::as_str).collect::<Vec<_>>().join(", ");
    if names.len() > shown {
        text.push_str(&format!(" and {} more", names.len() - shown));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::some_of;

    #[test]
    fn a_long_list_is_cut_and_counted() {
        let names: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
        assert_eq!(some_of(&names[..3], 8), "r0, r1, r2");
        assert_eq!(some_of(&names[..8], 8), "r0, r1, r2, r3, r4, r5, r6, r7");
        assert_eq!(some_of(&names, 8), "r0, r1, r2, r3, r4, r5, r6, r7 and 2 more");
    }
}
