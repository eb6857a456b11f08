//! An offline witness (docs/FORMAT.md 10.5): a key that cosigns a log's
//! checkpoints, and per log the last tree it cosigned. It cosigns a new
//! checkpoint only if it extends that tree, so two views of one log that
//! cannot both be true never both carry its cosignature; a split view it
//! is shown is refused and kept as evidence.

use crate::filelock::{FileLock, LockError};
use airlock_core::hash::sha256_hex;
use airlock_core::log::{check_extends, cosign, Checkpoint, Consistency, LogError, SignedNote};
use airlock_core::{Signer, Timestamp};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `format` of `witness.json`.
pub const WITNESS_FORMAT: &str = "airlock-witness-v1";
/// `format` of each `logs/*.json`.
pub const LOG_STATE_FORMAT: &str = "airlock-witness-log-v1";
/// The witness's encrypted private key, in its directory.
pub const KEY_FILE: &str = "witness.key";
/// Its public key (PEM), in its directory.
pub const PUB_FILE: &str = "witness.pub";
const CONFIG_FILE: &str = "witness.json";
const LOGS_DIR: &str = "logs";
const LOCK_FILE: &str = "lock";

/// Why a witness command failed.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The directory is not a witness, or its files do not read.
    #[error("{path}: {detail}")]
    NotAWitness {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A key name a signed note cannot carry.
    #[error("witness name {0:?} must be non-empty, without spaces or '+'")]
    BadName(String),
    /// The checkpoint does not extend the tree this witness cosigned
    /// before (recorded as a split view), or its proof is missing.
    #[error("refused to cosign: {0}")]
    Refused(#[from] LogError),
    /// This witness has not seen the log: a bare checkpoint cannot be
    /// checked (the witness learns a log's keys from a verified bundle).
    #[error("log {0}: this witness has not seen it; cosign a bundle of it first")]
    UnknownLog(String),
    /// The key given is not this witness's.
    #[error("the key given is not this witness's key ({expected})")]
    WrongKey {
        /// The witness's public key, hex.
        expected: String,
    },
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signer(String),
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WitnessError + '_ {
    move |source| WitnessError::Io { path: path.into(), source }
}

/// `witness.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// [`WITNESS_FORMAT`].
    pub format: String,
    /// The key name of its cosignatures.
    pub name: String,
    /// Its Ed25519 public key, hex (what a policy's `[[witness]] key` lists).
    pub public: String,
}

/// A split view the witness was shown and refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitView {
    /// When.
    pub at: Timestamp,
    /// The tree it had cosigned: size.
    pub seen_size: u64,
    /// Its root hash, hex.
    pub seen_root: String,
    /// The checkpoint offered, as a signed note (the log's signature is the evidence).
    pub offered: String,
    /// Why it does not extend the tree seen.
    pub detail: String,
}

/// What a witness keeps of one log: `logs/<sha256(origin)>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogState {
    /// [`LOG_STATE_FORMAT`].
    pub format: String,
    /// The log's origin.
    pub origin: String,
    /// The size of the last tree cosigned.
    pub size: u64,
    /// Its root hash, hex.
    pub root: String,
    /// The last checkpoint cosigned, as a signed note with this witness's cosignature.
    pub checkpoint: String,
    /// The log's Ed25519 keys (hex) as the last verified root listed them.
    pub log_keys: Vec<String>,
    /// How many of them must sign a checkpoint.
    pub threshold: u64,
    /// When it last cosigned.
    pub cosigned_at: Timestamp,
    /// Split views refused, oldest first.
    #[serde(default)]
    pub split_views: Vec<SplitView>,
}

impl LogState {
    /// The log keys, as the checkpoint check takes them.
    pub fn keys(&self) -> (Vec<[u8; 32]>, u64) {
        let keys = self
            .log_keys
            .iter()
            .filter_map(|h| hex::decode(h).ok().and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok()))
            .collect();
        (keys, self.threshold)
    }
}

/// A witness directory, locked while open.
#[derive(Debug)]
pub struct Witness {
    dir: PathBuf,
    config: WitnessConfig,
    _lock: FileLock,
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WitnessError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir).map_err(io(path))?;
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(fs::Permissions::from_mode(0o644)).map_err(io(path))?;
    }
    tmp.write_all(bytes).and_then(|_| tmp.as_file().sync_all()).map_err(io(path))?;
    tmp.persist(path).map_err(|e| WitnessError::Io { path: path.into(), source: e.error })?;
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

impl Witness {
    /// Writes `witness.json` for witness `name` with `public` (the key
    /// files are the caller's) in `dir`, which must exist.
    pub fn init(dir: &Path, name: &str, public: &[u8; 32]) -> Result<(), WitnessError> {
        if !valid_name(name) {
            return Err(WitnessError::BadName(name.to_owned()));
        }
        let config = WitnessConfig {
            format: WITNESS_FORMAT.into(),
            name: name.to_owned(),
            public: hex::encode(public),
        };
        let logs = dir.join(LOGS_DIR);
        fs::create_dir_all(&logs).map_err(io(&logs))?;
        let mut bytes = serde_json::to_vec_pretty(&config).unwrap_or_default();
        bytes.push(b'\n');
        write_atomic(&dir.join(CONFIG_FILE), &bytes)
    }

    /// Opens the witness in `dir`, taking its lock.
    pub fn open(dir: &Path) -> Result<Self, WitnessError> {
        let p = dir.join(CONFIG_FILE);
        let not = |detail: String| WitnessError::NotAWitness { path: p.clone(), detail };
        let bytes = fs::read(&p).map_err(|e| not(format!("{e} (make one with `airlock witness init`)")))?;
        let config: WitnessConfig = serde_json::from_slice(&bytes).map_err(|e| not(e.to_string()))?;
        if config.format != WITNESS_FORMAT || !valid_name(&config.name) {
            return Err(not(format!("not a {WITNESS_FORMAT} file")));
        }
        let lock_path = dir.join(LOCK_FILE);
        let lock = FileLock::take(&lock_path, std::time::Duration::ZERO).map_err(|e| match e {
            LockError::Held => not("another witness command is using this witness".into()),
            LockError::Io(source) => WitnessError::Io { path: lock_path.clone(), source },
        })?;
        Ok(Witness { dir: dir.into(), config, _lock: lock })
    }

    /// Its configuration.
    pub fn config(&self) -> &WitnessConfig {
        &self.config
    }

    fn state_path(&self, origin: &str) -> PathBuf {
        self.dir.join(LOGS_DIR).join(format!("{}.json", sha256_hex(origin.as_bytes())))
    }

    /// What it keeps of log `origin`, if it has seen it.
    pub fn log(&self, origin: &str) -> Result<Option<LogState>, WitnessError> {
        let p = self.state_path(origin);
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| WitnessError::NotAWitness { path: p.clone(), detail: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(WitnessError::Io { path: p, source: e }),
        }
    }

    /// Every log it has seen.
    pub fn logs(&self) -> Result<Vec<LogState>, WitnessError> {
        let d = self.dir.join(LOGS_DIR);
        let mut out = Vec::new();
        for e in fs::read_dir(&d).map_err(io(&d))? {
            let p = e.map_err(io(&d))?.path();
            if p.extension().is_some_and(|x| x == "json") {
                let b = fs::read(&p).map_err(io(&p))?;
                out.push(
                    serde_json::from_slice(&b)
                        .map_err(|e| WitnessError::NotAWitness { path: p.clone(), detail: e.to_string() })?,
                );
            }
        }
        out.sort_by(|a: &LogState, b| a.origin.cmp(&b.origin));
        Ok(out)
    }

    fn save(&self, state: &LogState) -> Result<(), WitnessError> {
        let mut bytes = serde_json::to_vec_pretty(state).unwrap_or_default();
        bytes.push(b'\n');
        write_atomic(&self.state_path(&state.origin), &bytes)
    }

    /// Cosigns the verified checkpoint `note` (`cp` its body) of a log whose
    /// keys are `keys`, if it extends the tree this witness cosigned last
    /// (`consistency`: proofs from earlier sizes). A checkpoint that does
    /// not is recorded as a split view and refused. Returns the note with
    /// this witness's cosignature added.
    pub fn cosign(
        &self,
        note: &SignedNote,
        cp: &Checkpoint,
        consistency: &[Consistency],
        keys: &(Vec<[u8; 32]>, u64),
        signer: &dyn Signer,
        now: Timestamp,
    ) -> Result<SignedNote, WitnessError> {
        let public =
            signer.public_key().ed25519_verifying_key().map_err(|e| WitnessError::Signer(e.to_string()))?;
        if hex::encode(public.to_bytes()) != self.config.public {
            return Err(WitnessError::WrongKey { expected: self.config.public.clone() });
        }
        let prior = self.log(&cp.origin)?;
        let mut split_views = Vec::new();
        if let Some(p) = &prior {
            let root: airlock_core::log::Hash =
                hex::decode(&p.root).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| {
                    WitnessError::NotAWitness { path: self.state_path(&cp.origin), detail: "bad root".into() }
                })?;
            let proof = consistency.iter().find(|c| c.from_size == p.size);
            if let Err(e) = check_extends((p.size, &root), cp, proof) {
                if matches!(e, LogError::SplitView { .. } | LogError::Shrunk { .. }) {
                    let mut state = p.clone();
                    state.split_views.push(SplitView {
                        at: now,
                        seen_size: p.size,
                        seen_root: p.root.clone(),
                        offered: String::from_utf8_lossy(&note.to_bytes()).into_owned(),
                        detail: e.to_string(),
                    });
                    self.save(&state)?;
                }
                return Err(WitnessError::Refused(e));
            }
            split_views = p.split_views.clone();
        }
        let mut out = note.clone();
        let own = airlock_core::log::cosignature_key_id(&self.config.name, &public.to_bytes());
        out.signatures.retain(|s| !(s.name == self.config.name && s.key_id == own));
        cosign(&mut out, &self.config.name, signer, now).map_err(|e| WitnessError::Signer(e.to_string()))?;
        self.save(&LogState {
            format: LOG_STATE_FORMAT.into(),
            origin: cp.origin.clone(),
            size: cp.size,
            root: hex::encode(cp.root),
            checkpoint: String::from_utf8_lossy(&out.to_bytes()).into_owned(),
            log_keys: keys.0.iter().map(hex::encode).collect(),
            threshold: keys.1,
            cosigned_at: now,
            split_views,
        })?;
        Ok(out)
    }
}

#[cfg(test)]
#[path = "witness_tests.rs"]
mod tests;
