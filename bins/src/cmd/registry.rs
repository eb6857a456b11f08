//! `airlock registry ...` and `airlock publish`: the registry's and the
//! publisher's commands, over `airlock_bundles::registry`.

use crate::exit::{refused, usage};
use crate::io::read_input;
use crate::io::{ensure_absent, write_new};
use crate::secrets::{load_signer, PassphraseArgs};
use crate::steps::{transcript_step, StepLog};
use airlock_bundles::registry::{
    self, describe_targets_change, list_root_files, ArtifactSpec, ErrorKind, NewPublisher, OwnershipChange,
    PublishRequest, Registry, RegistryError,
};
use airlock_core::provenance::Provenance;
use airlock_core::text::for_terminal as safe;
use airlock_core::{KeyId, PublicKey, Timestamp};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Registry commands.
#[derive(Subcommand)]
pub enum RegistryCommand {
    /// Create a registry repository from a finalized root chain.
    Init(InitArgs),
    /// Propose changes to publishers and their namespaces (drafts the
    /// custodians sign), and list them.
    #[command(subcommand)]
    Publisher(PublisherCommand),
    /// Propose a renewal of top-level targets, or publish a signed draft.
    #[command(subcommand)]
    Targets(TargetsCommand),
    /// Verify a publisher's submission and countersign it.
    Accept(AcceptArgs),
    /// Take in new root versions from a ceremony.
    UpdateRoot(UpdateRootArgs),
    /// Re-sign snapshot and timestamp with new expiry, content unchanged.
    Refresh(KeyArgs),
    /// Check the whole repository as a client would; report every problem.
    Verify(ViewArgs),
    /// Versions, expiry, publishers and counts.
    Status(ViewArgs),
}

/// Publisher commands. Each change writes a draft of the next top-level
/// targets for the custodians to sign (`airlock ceremony sign DRAFT`);
/// `airlock registry targets finalize DRAFT` publishes it.
#[derive(Subcommand)]
pub enum PublisherCommand {
    /// Propose delegating namespaces to a publisher (a terminating delegation).
    Add(PublisherAddArgs),
    /// Propose removing a publisher's delegation.
    Remove(PublisherRemoveArgs),
    /// Propose replacing a publisher's keys (a publisher key rotation).
    Rekey(PublisherRekeyArgs),
    /// List publishers.
    List(ViewArgs),
}

/// Top-level targets commands.
#[derive(Subcommand)]
pub enum TargetsCommand {
    /// Propose the next top-level targets with no change but a renewed expiry.
    Propose(DraftArgs),
    /// Publish a targets draft signed by a threshold of the custodians,
    /// countersigned by the index key (new snapshot and timestamp).
    Finalize(FinalizeArgs),
}

/// Where a proposal is written.
#[derive(Args)]
pub struct DraftArgs {
    /// The registry directory.
    #[arg(long)]
    pub repo: PathBuf,
    /// Where to write the targets draft (must not exist).
    #[arg(long)]
    pub out: PathBuf,
    /// The transcript to append to (default: transcript.jsonl beside the draft).
    #[arg(long)]
    pub transcript: Option<PathBuf>,
    /// The time (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    pub at: Option<String>,
}

/// Arguments of `registry targets finalize`.
#[derive(Args)]
pub struct FinalizeArgs {
    /// The signed targets draft.
    pub draft: PathBuf,
    /// The transcript to append to (default: transcript.jsonl beside the draft).
    #[arg(long)]
    pub transcript: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Arguments of `registry init`.
#[derive(Args)]
pub struct InitArgs {
    /// The registry directory to create.
    pub dir: PathBuf,
    /// The ceremony directory holding N.root.json from version 1.
    #[arg(long)]
    pub root_dir: PathBuf,
    /// The first top-level targets, signed by the custodians (default:
    /// 1.targets.json in the ceremony directory).
    #[arg(long)]
    pub targets: Option<PathBuf>,
    /// The index key (encrypted key file).
    #[arg(long)]
    pub key: PathBuf,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// The time (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    pub at: Option<String>,
}

/// The index key and the registry, for commands that sign.
#[derive(Args)]
pub struct KeyArgs {
    /// The registry directory.
    #[arg(long)]
    pub repo: PathBuf,
    /// The index key (encrypted key file).
    #[arg(long)]
    pub key: PathBuf,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// The time (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    pub at: Option<String>,
}

/// Arguments of `registry accept`.
#[derive(Args)]
pub struct AcceptArgs {
    /// The submission directory written by `airlock publish`.
    pub submission: PathBuf,
    /// The Sigstore trusted_root.json to verify publishers' Sigstore
    /// bundles against (default: REG/registry/sigstore-trusted-root.json
    /// if present; without one they are left to the importer).
    #[arg(long, value_name = "FILE")]
    pub sigstore_trusted_root: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print the report as JSON (docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `registry update-root`.
#[derive(Args)]
pub struct UpdateRootArgs {
    /// The ceremony directory holding the new N.root.json files.
    #[arg(long)]
    pub root_dir: PathBuf,
    /// A targets draft signed for the new root, when the new root changes
    /// who signs top-level targets.
    #[arg(long)]
    pub targets: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Arguments of `registry publisher add`.
#[derive(Args)]
pub struct PublisherAddArgs {
    /// The publisher's name, which is its role name.
    pub name: String,
    /// The publisher's public key (PEM; repeatable).
    #[arg(long = "public-key", alias = "key", required = true, value_name = "PEM")]
    pub keys: Vec<PathBuf>,
    /// A namespace pattern (repeatable); `*` does not cross `/`.
    #[arg(long = "namespace", required = true)]
    pub namespaces: Vec<String>,
    /// How many of its keys must sign.
    #[arg(long, default_value_t = 1)]
    pub threshold: u64,
    /// Allow a namespace that overlaps another publisher's.
    #[arg(long)]
    pub allow_overlap: bool,
    #[command(flatten)]
    pub draft: DraftArgs,
}

/// Arguments of `registry publisher remove`.
#[derive(Args)]
pub struct PublisherRemoveArgs {
    /// The publisher's name.
    pub name: String,
    #[command(flatten)]
    pub draft: DraftArgs,
}

/// Arguments of `registry publisher rekey`.
#[derive(Args)]
pub struct PublisherRekeyArgs {
    /// The publisher's name.
    pub name: String,
    /// The publisher's new public key (PEM; repeatable). Keys not given are removed.
    #[arg(long = "public-key", alias = "key", required = true, value_name = "PEM")]
    pub keys: Vec<PathBuf>,
    /// How many of its keys must sign.
    #[arg(long, default_value_t = 1)]
    pub threshold: u64,
    #[command(flatten)]
    pub draft: DraftArgs,
}

/// Arguments of read-only commands.
#[derive(Args)]
pub struct ViewArgs {
    /// The registry directory.
    #[arg(long)]
    pub repo: PathBuf,
    /// The time (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `publish`.
#[derive(Args)]
pub struct PublishArgs {
    /// The publisher's role name.
    #[arg(long)]
    pub role: String,
    /// The publisher's encrypted key file.
    #[arg(long)]
    pub key: PathBuf,
    /// The publisher's current role metadata (its last release), if any: a
    /// role file, or a directory (such as the registry's `metadata/`)
    /// holding `ROLE.json` or versioned `N.ROLE.json` files, the highest
    /// version taken. A role with hash bins finds its bins beside it.
    #[arg(long)]
    pub current: Option<PathBuf>,
    /// Split the role into N hash bins (a power of two, 2 to 16384), so
    /// that a release re-signs only the bins its artifacts fall in
    /// (docs/FORMAT.md 5.6). Needed once; later releases keep the layout.
    #[arg(long, value_name = "N")]
    pub bins: Option<u32>,
    /// FILE=TARGET_PATH (repeatable).
    #[arg(long = "artifact", required_unless_present = "artifact_dirs", value_name = "FILE=TARGET")]
    pub artifacts: Vec<String>,
    /// DIR=TARGET_PREFIX: every regular file under DIR, as TARGET_PREFIX/
    /// and its path under DIR (repeatable; for releases too large to list).
    #[arg(long = "artifact-dir", value_name = "DIR=TARGET_PREFIX")]
    pub artifact_dirs: Vec<String>,
    /// The Sigstore bundle (`*.sigstore.json`) of an artifact, made by its
    /// CI: TARGET=FILE, or just FILE with one --artifact (repeatable). It is
    /// published as TARGET.sigstore.json and bound to the artifact by its
    /// SHA-256 in the signed role.
    #[arg(long = "sigstore-bundle", value_name = "[TARGET=]FILE")]
    pub sigstore_bundles: Vec<String>,
    /// The artifacts were generated (wholly or partly) by an AI system.
    #[arg(long)]
    pub ai_generated: bool,
    /// The generating tool.
    #[arg(long)]
    pub tool: Option<String>,
    /// The model.
    #[arg(long)]
    pub model: Option<String>,
    /// Who reviewed the artifacts.
    #[arg(long)]
    pub reviewed_by: Option<String>,
    /// When they were reviewed (YYYY-MM-DDTHH:MM:SSZ).
    #[arg(long, requires = "reviewed_by")]
    pub reviewed_at: Option<String>,
    /// A free attribute K=V (repeatable).
    #[arg(long = "attr", value_name = "K=V")]
    pub attributes: Vec<String>,
    /// Days until the role expires.
    #[arg(long, default_value_t = 90)]
    pub expires_days: u32,
    /// The submission directory to write (a new or empty directory).
    #[arg(long = "out-dir", alias = "out", value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// The time (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    pub at: Option<String>,
}

/// The exit code the library's error kind calls for.
pub(crate) fn registry_error(e: RegistryError) -> anyhow::Error {
    match e.kind() {
        ErrorKind::Refused => refused(e.to_string()),
        ErrorKind::Config => usage(e.to_string()),
        ErrorKind::Io => anyhow::anyhow!(e.to_string()),
    }
}

fn roots_in(dir: &std::path::Path) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let files = list_root_files(dir).map_err(registry_error)?;
    files.into_iter().map(|(_, p)| Ok((p.clone(), read_input(&p)?))).collect()
}

pub(crate) fn open_writing(repo: &std::path::Path, now: Timestamp) -> Result<Registry> {
    Registry::open_for_writing(repo, now).map_err(registry_error)
}

/// Runs a registry command.
pub fn run(cmd: RegistryCommand) -> Result<()> {
    match cmd {
        RegistryCommand::Init(a) => {
            let now = super::now_or(a.at.as_deref())?;
            let roots = roots_in(&a.root_dir)?;
            let targets_path = a.targets.clone().unwrap_or_else(|| a.root_dir.join("1.targets.json"));
            let targets = (targets_path.clone(), read_input(&targets_path)?);
            let signer = load_signer(&a.key, &a.passphrase)?;
            let r = Registry::init(&a.dir, roots, targets, signer.as_ref(), now).map_err(registry_error)?;
            println!("registry {} created at {}", safe(&r.registry), a.dir.display());
            println!("  identity {}", airlock_core::identity::grouped(&r.identity));
            println!("  root version {}, index key {}", r.root_version, r.index_key.short());
            Ok(())
        }
        RegistryCommand::Publisher(PublisherCommand::Add(a)) => {
            let p = NewPublisher {
                name: a.name.clone(),
                keys: read_keys(&a.keys)?,
                namespaces: a.namespaces.clone(),
                threshold: a.threshold,
                allow_overlap: a.allow_overlap,
            };
            propose(&a.draft, &OwnershipChange::Add(p))
        }
        RegistryCommand::Publisher(PublisherCommand::Remove(a)) => {
            propose(&a.draft, &OwnershipChange::Remove(a.name.clone()))
        }
        RegistryCommand::Publisher(PublisherCommand::Rekey(a)) => {
            let change = OwnershipChange::Rekey {
                name: a.name.clone(),
                keys: read_keys(&a.keys)?,
                threshold: a.threshold,
            };
            propose(&a.draft, &change)
        }
        RegistryCommand::Targets(TargetsCommand::Propose(a)) => propose(&a, &OwnershipChange::Renew),
        RegistryCommand::Targets(TargetsCommand::Finalize(a)) => finalize(a),
        RegistryCommand::Publisher(PublisherCommand::List(a)) => {
            let reg = Registry::open(&a.repo).map_err(registry_error)?;
            let list = reg.publishers();
            if a.json {
                let v: Vec<_> = list
                    .iter()
                    .map(|p| serde_json::json!({"name": p.name, "namespaces": p.namespaces, "keyids": p.keyids, "threshold": p.threshold, "accepted_version": p.accepted_version}))
                    .collect();
                let j = serde_json::json!({"format": "airlock-registry-publishers-v1", "publishers": v});
                println!("{}", serde_json::to_string_pretty(&j)?);
            } else {
                for p in list {
                    println!(
                        "{}  {}  threshold {} of {}  accepted v{}",
                        safe(&p.name),
                        safe(&p.namespaces.join(",")),
                        p.threshold,
                        p.keyids.len(),
                        p.accepted_version.map_or("-".into(), |v| v.to_string())
                    );
                }
            }
            Ok(())
        }
        RegistryCommand::Accept(a) => {
            let now = super::now_or(a.key.at.as_deref())?;
            let signer = load_signer(&a.key.key, &a.key.passphrase)?;
            let mut reg = open_writing(&a.key.repo, now)?;
            if let Some(p) = &a.sigstore_trusted_root {
                reg.set_sigstore_root(read_input(p)?);
            }
            let r = reg.accept(&a.submission, signer.as_ref(), now).map_err(registry_error)?;
            if a.json {
                let mut j = serde_json::to_value(&r)?;
                j["format"] = "airlock-registry-accept-v1".into();
                println!("{}", serde_json::to_string_pretty(&j)?);
                return Ok(());
            }
            println!(
                "accepted {} version {} ({} new target(s)); role sha256 {}; snapshot v{}, timestamp v{}",
                r.role,
                r.version,
                r.targets_added.len(),
                &r.sha256[..16],
                r.snapshot_version,
                r.timestamp_version
            );
            if r.bins > 0 {
                let bins: Vec<(String, u64)> = r
                    .roles
                    .iter()
                    .filter(|x| x.role != r.role)
                    .map(|x| (x.role.clone(), x.version))
                    .collect();
                println!(
                    "  {} of {} hash bin(s) re-signed: {}",
                    bins.len(),
                    r.bins,
                    role_versions(&r.role, &bins)
                );
            }
            for s in &r.sigstore {
                println!(
                    "  Sigstore: {} signed by {} (issuer {})",
                    airlock_core::text::for_terminal(&s.target),
                    airlock_core::text::for_terminal(&s.san),
                    airlock_core::text::for_terminal(&s.issuer)
                );
            }
            Ok(())
        }
        RegistryCommand::UpdateRoot(a) => {
            let now = super::now_or(a.key.at.as_deref())?;
            let roots = roots_in(&a.root_dir)?;
            let signer = load_signer(&a.key.key, &a.key.passphrase)?;
            let draft = match &a.targets {
                Some(p) => Some(super::ownership::load_draft(p)?),
                None => None,
            };
            let mut reg = open_writing(&a.key.repo, now)?;
            let r = reg.update_root(roots, draft.as_ref(), signer.as_ref(), now).map_err(registry_error)?;
            let added: Vec<String> = r.roots_added.iter().map(|v| v.to_string()).collect();
            println!(
                "root version(s) added: {}; snapshot v{}, timestamp v{}",
                if added.is_empty() { "none".to_owned() } else { added.join(", ") },
                r.snapshot_version,
                r.timestamp_version
            );
            Ok(())
        }
        RegistryCommand::Refresh(a) => {
            let now = super::now_or(a.at.as_deref())?;
            let signer = load_signer(&a.key, &a.passphrase)?;
            let mut reg = open_writing(&a.repo, now)?;
            let r = reg.refresh(signer.as_ref(), now).map_err(registry_error)?;
            println!("refreshed: snapshot v{}, timestamp v{}", r.snapshot_version, r.timestamp_version);
            Ok(())
        }
        RegistryCommand::Verify(a) => {
            let now = super::now_or(a.at.as_deref())?;
            let report = registry::verify(&a.repo, now);
            if a.json {
                let mut j = serde_json::to_value(&report)?;
                j["format"] = "airlock-registry-verify-v1".into();
                println!("{}", serde_json::to_string_pretty(&j)?);
            } else {
                for p in &report.problems {
                    println!("PROBLEM  {}: {}", safe(&p.subject), safe(&p.detail));
                }
                println!(
                    "checked root v{}, snapshot v{}, {} role(s), {} target file(s)",
                    report.root_version.unwrap_or(0),
                    report.snapshot_version.unwrap_or(0),
                    report.roles_checked,
                    report.targets_checked
                );
            }
            if report.ok() {
                Ok(())
            } else {
                Err(refused(format!("{}: {} problem(s) found", a.repo.display(), report.problems.len())))
            }
        }
        RegistryCommand::Status(a) => {
            let now = super::now_or(a.at.as_deref())?;
            let s = registry::status(&a.repo, now).map_err(registry_error)?;
            if a.json {
                let mut j = serde_json::to_value(&s)?;
                j["format"] = "airlock-registry-status-v1".into();
                println!("{}", serde_json::to_string_pretty(&j)?);
            } else {
                println!(
                    "registry {} ({})",
                    safe(&s.registry),
                    airlock_core::identity::grouped(&s.identity[..16])
                );
                let role_line = |r: &registry::RoleStatus| {
                    let state = if r.expired { "EXPIRED" } else { "expires" };
                    format!("version {}, {state} {}", r.version, r.expires)
                };
                for r in &s.roles {
                    println!("  {:<10} {}", r.role, role_line(r));
                }
                for p in &s.publishers {
                    println!(
                        "  publisher {}: {} ({} of {} key(s): {})",
                        safe(&p.name),
                        safe(&p.namespaces.join(", ")),
                        p.threshold,
                        p.keyids.len(),
                        p.keyids.iter().map(|k| k.short()).collect::<Vec<_>>().join(", ")
                    );
                    match &p.role {
                        Some(r) => println!(
                            "    role {}; {} target(s), {} byte(s); last accepted {}",
                            role_line(r),
                            p.targets,
                            p.target_bytes,
                            p.last_accepted_at.map_or_else(|| "never".to_owned(), |t| t.to_string())
                        ),
                        None => println!("    nothing accepted yet"),
                    }
                }
            }
            Ok(())
        }
    }
}

/// Reads PEM public keys.
fn read_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>> {
    paths
        .iter()
        .map(|k| {
            let text =
                String::from_utf8(read_input(k)?).map_err(|_| usage(format!("{}: not PEM", k.display())))?;
            PublicKey::from_spki_pem(&text).map_err(|e| usage(format!("{}: {e}", k.display())))
        })
        .collect()
}

/// Writes a draft of the next top-level targets with `change`, shows the
/// review a custodian will see, and records the proposal.
fn propose(a: &DraftArgs, change: &OwnershipChange) -> Result<()> {
    let now = super::now_or(a.at.as_deref())?;
    ensure_absent(&a.out)?;
    let reg = Registry::open(&a.repo).map_err(registry_error)?;
    let draft = reg.propose_targets(change, now).map_err(registry_error)?;
    let changes = describe_targets_change(draft.base.as_ref().map(|b| b.signed()), draft.proposed.signed());
    for line in &changes {
        println!("  {}", safe(line));
    }
    write_new(&a.out, &draft.to_bytes())?;
    println!(
        "wrote targets draft {} (version {}), payload hash {}",
        a.out.display(),
        draft.proposed.signed().version,
        super::ceremony::short_hash(&draft.proposed.payload())
    );
    println!(
        "next: custodians review and sign it offline (airlock ceremony sign {} --root NEWEST.root.json --key CUSTODIAN.key), then airlock registry targets finalize {} --repo {} --key INDEX.key",
        a.out.display(),
        a.out.display(),
        a.repo.display()
    );
    transcript_step(StepLog {
        transcript: a
            .transcript
            .clone()
            .unwrap_or_else(|| super::ceremony::dir_of(&a.out).join("transcript.jsonl")),
        step: "registry propose targets",
        now,
        rehearsal: false,
        allow_online: true,
        key_ids: Vec::new(),
        files: vec![a.out.clone()],
        details: serde_json::json!({"targets_version": draft.proposed.signed().version, "changes": changes}),
    })
}

/// Publishes a signed targets draft.
fn finalize(a: FinalizeArgs) -> Result<()> {
    let now = super::now_or(a.key.at.as_deref())?;
    let draft = super::ownership::load_draft(&a.draft)?;
    let signer = load_signer(&a.key.key, &a.key.passphrase)?;
    let mut reg = open_writing(&a.key.repo, now)?;
    let r = reg.finalize_targets(&draft, signer.as_ref(), now).map_err(registry_error)?;
    let signed_by: Vec<KeyId> = draft.proposed.signatures().iter().map(|s| s.keyid.clone()).collect();
    println!(
        "top-level targets version {} published (signed by {} custodian key(s)); snapshot v{}, timestamp v{}",
        r.targets_version.unwrap_or(0),
        signed_by.len(),
        r.snapshot_version,
        r.timestamp_version
    );
    // The custodians' signing steps that travelled with the draft first.
    let transcript =
        a.transcript.unwrap_or_else(|| super::ceremony::dir_of(&a.draft).join("transcript.jsonl"));
    crate::steps::merge_travelling(&a.draft, &transcript)?;
    transcript_step(StepLog {
        transcript,
        step: "registry finalize targets",
        now,
        rehearsal: false,
        allow_online: true,
        key_ids: signed_by,
        files: vec![a.draft.clone()],
        details: serde_json::json!({"targets_version": r.targets_version, "snapshot_version": r.snapshot_version}),
    })
}

/// Runs `airlock publish` on the publisher's machine.
pub fn publish(a: PublishArgs) -> Result<()> {
    let now = super::now_or(a.at.as_deref())?;
    let mut artifacts = Vec::new();
    for spec in &a.artifacts {
        let (file, target) = spec
            .split_once('=')
            .ok_or_else(|| usage(format!("--artifact {spec:?}: expected FILE=TARGET")))?;
        artifacts.push(ArtifactSpec {
            source: PathBuf::from(file),
            target: target.to_owned(),
            sigstore: None,
        });
    }
    for spec in &a.artifact_dirs {
        let (dir, prefix) = spec
            .split_once('=')
            .ok_or_else(|| usage(format!("--artifact-dir {spec:?}: expected DIR=TARGET_PREFIX")))?;
        let prefix = prefix.trim_end_matches('/');
        for entry in walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name() {
            let entry = entry.map_err(|e| usage(format!("--artifact-dir {dir}: {e}")))?;
            if entry.file_type().is_dir() {
                continue;
            }
            let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
            let rel = rel.to_str().ok_or_else(|| {
                usage(format!("--artifact-dir {dir}: {} is not UTF-8", entry.path().display()))
            })?;
            if !entry.file_type().is_file() {
                return Err(usage(format!(
                    "--artifact-dir {dir}: {} is not a regular file",
                    entry.path().display()
                )));
            }
            artifacts.push(ArtifactSpec {
                source: entry.path().to_path_buf(),
                target: format!("{prefix}/{rel}"),
                sigstore: None,
            });
        }
    }
    for spec in &a.sigstore_bundles {
        let (target, file) = match spec.split_once('=') {
            Some((t, f)) => (t.to_owned(), f),
            None if artifacts.len() == 1 => (artifacts[0].target.clone(), spec.as_str()),
            None => {
                return Err(usage(format!(
                    "--sigstore-bundle {spec:?}: with several --artifact, give TARGET=FILE"
                )))
            }
        };
        let art = artifacts.iter_mut().find(|x| x.target == target).ok_or_else(|| {
            usage(format!("--sigstore-bundle {spec:?}: no --artifact has target {target:?}"))
        })?;
        if art.sigstore.replace(PathBuf::from(file)).is_some() {
            return Err(usage(format!("--sigstore-bundle: two bundles for {target:?}")));
        }
    }
    let mut attributes = BTreeMap::new();
    for kv in &a.attributes {
        let (k, v) = kv.split_once('=').ok_or_else(|| usage(format!("--attr {kv:?}: expected K=V")))?;
        attributes.insert(k.to_owned(), v.to_owned());
    }
    let reviewed_at = match &a.reviewed_at {
        Some(t) => Some(Timestamp::parse(t).map_err(|e| usage(format!("--reviewed-at: {e}")))?),
        None => None,
    };
    let provenance = Provenance {
        ai_generated: a.ai_generated,
        tool: a.tool.clone(),
        model: a.model.clone(),
        reviewed_by: a.reviewed_by.clone(),
        reviewed_at,
        attributes,
    };
    let (current, current_bins) = match &a.current {
        Some(p) => {
            let (path, bytes) = current_role(p, &a.role)?;
            let bins = current_bins(&path, &bytes)?;
            (Some((path, bytes)), bins)
        }
        None => (None, BTreeMap::new()),
    };
    let signer = load_signer(&a.key, &a.passphrase)?;
    let req = PublishRequest {
        role: &a.role,
        current: current.as_ref().map(|(p, b)| (p.as_path(), b.as_slice())),
        current_bins: &current_bins,
        bins: a.bins,
        artifacts: &artifacts,
        provenance: &provenance,
        expires: now.plus_secs(i64::from(a.expires_days) * 86_400),
        now,
    };
    let r = registry::publish(&req, signer.as_ref(), &a.out).map_err(registry_error)?;
    if r.bins == 0 {
        println!(
            "{} version {} signed, {} new target(s); submission {}",
            r.role,
            r.version,
            r.targets_added.len(),
            a.out.display()
        );
    } else {
        let files: Vec<(String, u64)> = r.signed.iter().map(|x| (x.role.clone(), x.version)).collect();
        println!(
            "{} ({} hash bins, {} target(s) in all): signed {}; {} new target(s); submission {}",
            r.role,
            r.bins,
            r.targets_total,
            role_versions(&r.role, &files),
            r.targets_added.len(),
            a.out.display()
        );
    }
    Ok(())
}

/// Role files and versions for people: each named when there are a few,
/// else the role and a count of bins.
fn role_versions(role: &str, files: &[(String, u64)]) -> String {
    if files.len() <= 8 {
        return files.iter().map(|(r, v)| format!("{} v{v}", safe(r))).collect::<Vec<_>>().join(", ");
    }
    let top = files.iter().find(|(r, _)| r == role).map(|(_, v)| format!("{} v{v} and ", safe(role)));
    let bins = files.iter().filter(|(r, _)| r != role).count();
    format!("{}{bins} bins", top.unwrap_or_default())
}

/// The newest file of each role in `dir`, by role name: the highest
/// version among `N.ROLE.json`, or else `ROLE.json`. One listing, however
/// many roles (a role can have thousands of bins).
fn newest_role_files(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut best: BTreeMap<String, (Option<u64>, PathBuf)> = BTreeMap::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("{}: cannot list", dir.display()))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        let Some(stem) = name.strip_suffix(".json") else { continue };
        let (version, role) = match stem.split_once('.') {
            Some((v, role)) => match v.parse::<u64>() {
                Ok(v) => (Some(v), role),
                Err(_) => continue,
            },
            None => (None, stem),
        };
        let slot = best.entry(role.to_owned()).or_insert((version, entry.path()));
        if version > slot.0 {
            *slot = (version, entry.path());
        }
    }
    Ok(best.into_iter().map(|(role, (_, path))| (role, path)).collect())
}

/// `--current`: the role file given, or the newest one in the directory given.
fn current_role(given: &Path, role: &str) -> Result<(PathBuf, Vec<u8>)> {
    if !given.is_dir() {
        return Ok((given.to_path_buf(), read_input(given)?));
    }
    let path = newest_role_files(given)?.remove(role).ok_or_else(|| {
        usage(format!("--current {}: no {role}.json or N.{role}.json in it", given.display()))
    })?;
    let bytes = read_input(&path)?;
    Ok((path, bytes))
}

/// The current bins of a role with hash bins: each bin it names, the newest
/// file beside the role file. A role that does not parse is left to
/// `publish`, which names the error.
fn current_bins(role_file: &Path, bytes: &[u8]) -> Result<BTreeMap<String, (PathBuf, Vec<u8>)>> {
    let mut out = BTreeMap::new();
    let Ok(md) = airlock_core::Metadata::<airlock_core::metadata::Targets>::from_bytes(bytes) else {
        return Ok(out);
    };
    let Some(d) = &md.signed().delegations else { return Ok(out) };
    let dir = role_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut files = newest_role_files(dir)?;
    for bin in &d.roles {
        if let Some(path) = files.remove(&bin.name) {
            let bytes = read_input(&path)?;
            out.insert(bin.name.clone(), (path, bytes));
        }
    }
    Ok(out)
}
