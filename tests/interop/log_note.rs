//! airlock's signed notes and checkpoints against the reference
//! implementation of C2SP signed notes, Go's `golang.org/x/mod/sumdb/note`
//! (what the `go` command checks sum.golang.org with), both ways:
//!
//! - Go makes a key and signs a checkpoint; airlock parses Go's verifier key
//!   and verifies the checkpoint (library and `airlock log verify-checkpoint`)
//!   and refuses it once a byte of it changes;
//! - airlock signs a checkpoint and writes its verifier key; Go parses the
//!   key (and writes the same one from the public key) and opens the note,
//!   and refuses it once a byte of it changes.
//!
//! The Go side is `tests/interop/go/notecheck.go`, built offline in GOPATH
//! mode against Debian's `golang-golang-x-mod-dev` (the package's source in
//! `/usr/share/gocode`, or `AIRLOCK_INTEROP_GOPATH`); `scripts/test`
//! installs `golang-go` and that package. Without them these tests skip,
//! except under `CI=true` (see `support.rs`).

use crate::support::{self, repo_root};
use airlock_core::log::{
    format_verifier_key, leaf_hash, root_hash, sign_note, Checkpoint, NoteError, SignatureStatus, VerifierKey,
};
use airlock_core::Ed25519Signer;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");

/// Where Debian puts Go library sources (`golang-*-dev` packages).
const DEBIAN_GOPATH: &str = "/usr/share/gocode";

/// The built `notecheck`, or `None` after [`support::skip`].
fn notecheck() -> Option<PathBuf> {
    let go = support::require_tool("go")?;
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let gopath = std::env::var_os("AIRLOCK_INTEROP_GOPATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEBIAN_GOPATH));
        if !gopath.join("src/golang.org/x/mod/sumdb/note/note.go").is_file() {
            return Err(format!(
                "golang.org/x/mod/sumdb/note is not in {} (Debian: golang-golang-x-mod-dev)",
                gopath.display()
            ));
        }
        // In Cargo's scratch directory for integration tests, with Go's build
        // cache: built under a name of this process, then renamed into
        // place, so that test processes running at once never see half a
        // program.
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("notecheck");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let exe = dir.join("notecheck");
        let building = dir.join(format!("notecheck.{}", std::process::id()));
        let src = repo_root().join("tests/interop/go/notecheck.go");
        let out = Command::new(go)
            .args(["build", "-o"])
            .arg(&building)
            .arg(&src)
            // GOPATH mode: the library from the Debian package, no module
            // download, no network.
            .env("GO111MODULE", "off")
            .env("GOPATH", &gopath)
            .env("GOPROXY", "off")
            .env("GOFLAGS", "")
            .env("GOTOOLCHAIN", "local")
            .env("GOCACHE", dir.join("cache"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run go: {e}"))?;
        if !out.status.success() {
            // The tools are there but the program does not build: a failure,
            // not a reason to skip.
            panic!("go build {}: {}", src.display(), String::from_utf8_lossy(&out.stderr));
        }
        std::fs::rename(&building, &exe).map_err(|e| format!("{}: {e}", exe.display()))?;
        Ok(exe)
    });
    match built {
        Ok(exe) => Some(exe.clone()),
        Err(reason) => support::skip(reason),
    }
}

fn run(exe: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
    let mut input = child.stdin.take().expect("piped");
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    out
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn checkpoint_text(origin: &str, size: usize) -> (String, [u8; 32]) {
    let leaves: Vec<_> = (0..size).map(|i| leaf_hash(format!("entry {i}").as_bytes())).collect();
    let root = root_hash(&leaves);
    let cp =
        Checkpoint { origin: origin.into(), size: size as u64, root, extensions: vec!["ext line".into()] };
    (cp.to_text(), root)
}

/// Changes the tree size in a signed checkpoint, leaving the signature.
fn forge(note: &str, size: usize) -> String {
    note.replacen(&format!("\n{size}\n"), &format!("\n{}\n", size + 1), 1)
}

#[test]
fn airlock_verifies_checkpoints_signed_by_go() {
    let Some(go) = notecheck() else { return };
    let name = "go.interop.example/log";
    let keys = ok(run(&go, &["keygen", name], b""), "notecheck keygen");
    let (skey, vkey) = keys.split_once('\n').expect("two lines");
    let vkey = vkey.trim();
    let (text, root) = checkpoint_text(name, 13);
    let note = ok(run(&go, &["sign", skey], text.as_bytes()), "notecheck sign");

    // The library.
    let key = VerifierKey::parse(vkey).unwrap_or_else(|e| panic!("Go's key {vkey}: {e}"));
    assert_eq!(key.to_string(), vkey, "airlock writes Go's key back unchanged");
    let (cp, _, checks) = Checkpoint::open(note.as_bytes(), &key, &[]).expect("Go's checkpoint verifies");
    assert_eq!((cp.origin.as_str(), cp.size, cp.root), (name, 13, root));
    assert_eq!(cp.extensions, vec!["ext line".to_owned()]);
    assert_eq!(checks[0].status, SignatureStatus::Verified);
    assert_eq!(
        Checkpoint::open(forge(&note, 13).as_bytes(), &key, &[]).unwrap_err(),
        NoteError::BadSignature(name.into())
    );

    // The command.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cp"), &note).unwrap();
    std::fs::write(dir.path().join("forged"), forge(&note, 13)).unwrap();
    let out = Command::new(AIRLOCK)
        .current_dir(dir.path())
        .args(["log", "verify-checkpoint", "cp", "--key", vkey])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = ok(out, "airlock log verify-checkpoint (Go's checkpoint)");
    assert!(shown.contains(&hex::encode(root)), "{shown}");
    let out = Command::new(AIRLOCK)
        .current_dir(dir.path())
        .args(["log", "verify-checkpoint", "forged", "--key", vkey])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not verify"));
}

#[test]
fn go_verifies_checkpoints_signed_by_airlock() {
    let Some(go) = notecheck() else { return };
    let name = "airlock.interop.example/log";
    let signing = ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]);
    let public = signing.verifying_key().to_bytes();
    let signer = Ed25519Signer::new(signing);
    let vkey = format_verifier_key(name, &public).unwrap();

    // Go writes the same verifier key for the same name and public key.
    let go_vkey = ok(run(&go, &["vkey", name, &hex::encode(public)], b""), "notecheck vkey");
    assert_eq!(go_vkey.trim(), vkey);

    let (text, _) = checkpoint_text(name, 21);
    let note = String::from_utf8(sign_note(&text, name, &signer).unwrap().to_bytes()).unwrap();
    let out = run(&go, &["verify", &vkey], note.as_bytes());
    let id = VerifierKey::parse(&vkey).unwrap().key_id();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(said.contains(&format!("verified {name}+{id:08x}")), "{said}");
    assert_eq!(ok(out, "notecheck verify (airlock's checkpoint)"), text, "Go returns the signed text");

    // A changed checkpoint, and another key: refused by Go.
    let out = run(&go, &["verify", &vkey], forge(&note, 21).as_bytes());
    assert!(!out.status.success(), "Go accepted a forged checkpoint");
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid signature"), "{out:?}");
    let other = format_verifier_key(
        name,
        &ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes(),
    )
    .unwrap();
    let out = run(&go, &["verify", &other], note.as_bytes());
    assert!(!out.status.success(), "Go accepted a note under another key");

    // A witness cosignature line (type 0x04) that Go does not know is
    // ignored by Go, as C2SP requires of unknown keys.
    let mut cosigned = airlock_core::log::SignedNote::parse(note.as_bytes()).unwrap();
    airlock_core::log::cosign(
        &mut cosigned,
        "witness.example",
        &Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[9; 32])),
        airlock_core::Timestamp::from_unix(1_700_000_000),
    )
    .unwrap();
    let out = run(&go, &["verify", &vkey], &cosigned.to_bytes());
    assert_eq!(ok(out, "notecheck verify (cosigned checkpoint)"), text);
}
