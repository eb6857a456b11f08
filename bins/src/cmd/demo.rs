//! `airlock demo`: the whole path in a temporary directory, printing each
//! step and what it proved, then one attack being refused.
//!
//! It runs this same binary's commands as child processes, exactly as a
//! person would type them, with throwaway passphrases from the environment.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::Command;

/// Arguments of `demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Keep the demo directory instead of deleting it.
    #[arg(long)]
    pub keep: bool,
}

struct Demo {
    exe: PathBuf,
    dir: PathBuf,
    step: usize,
    /// The demo witness's public key, for the import policy.
    witness_key: String,
}

const AT: &str = "2026-11-23T12:00:00Z";

impl Demo {
    fn run(&mut self, title: &str, proves: &str, args: &[&str]) -> Result<String> {
        if !title.is_empty() {
            self.step += 1;
            println!("\n[{}] {title}", self.step);
        }
        println!("    $ airlock {}", args.join(" "));
        let out = self.cmd(args)?;
        if !out.status.success() {
            bail!(
                "step {} failed: {}",
                self.step,
                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("no message")
            );
        }
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        for line in stdout.lines().take(12) {
            println!("      {line}");
        }
        if !proves.is_empty() {
            println!("    => {proves}");
        }
        Ok(stdout)
    }

    fn refused(&mut self, title: &str, proves: &str, args: &[&str]) -> Result<()> {
        self.step += 1;
        println!("\n[{}] ATTACK: {title}", self.step);
        println!("    $ airlock {}", args.join(" "));
        let out = self.cmd(args)?;
        if out.status.code() != Some(1) {
            bail!("the attack was not refused (exit {:?})", out.status.code());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        println!("      {}", err.lines().last().unwrap_or(""));
        println!("    => refused with exit 1: {proves}");
        Ok(())
    }

    fn cmd(&self, args: &[&str]) -> Result<std::process::Output> {
        Command::new(&self.exe)
            .args(args)
            .current_dir(&self.dir)
            // Throwaway keys for a demo: a fixed passphrase and a cheap work factor.
            .env("AIRLOCK_PASSPHRASE", "demo passphrase, never for real keys")
            .env("AIRLOCK_INSECURE_TEST_SCRYPT_LOG_N", "10")
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("running {}", self.exe.display()))
    }

    /// A namespace-ownership change, as custodians make it: the registry
    /// proposes with `propose` (its arguments up to `--out`), `signers`
    /// review and sign offline, and the registry publishes the draft.
    fn ownership_change(
        &mut self,
        title: &str,
        propose: &[&str],
        draft: &str,
        ceremony: &str,
        signers: &[&str],
        repo: &str,
    ) -> Result<()> {
        let at = ["--at", AT];
        let out = self.run(title, "", &[propose, &["--out", draft], &at].concat())?;
        let hash = payload_hash(&out)?;
        let root = format!("{ceremony}/1.root.json");
        for who in signers {
            let key = format!("{ceremony}/keys/{who}.key");
            self.run(
                "",
                "",
                &[
                    &[
                        "ceremony",
                        "sign",
                        draft,
                        "--root",
                        &root,
                        "--key",
                        &key,
                        "--confirm",
                        &hash,
                        "--allow-online",
                    ][..],
                    &at,
                ]
                .concat(),
            )?;
        }
        let index = format!("{ceremony}/keys/index.key");
        self.run(
            "",
            "a threshold of custodians signed the change offline; the index key only countersigns it",
            &[&["registry", "targets", "finalize", draft, "--repo", repo, "--key", &index][..], &at].concat(),
        )?;
        Ok(())
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        let p = self.dir.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(&p, bytes).with_context(|| p.display().to_string())
    }
}

/// The payload hash a command printed (`payload hash XXXX XXXX ...`).
fn payload_hash(out: &str) -> Result<String> {
    out.lines()
        .find_map(|l| l.split_once("payload hash ").map(|(_, h)| h.trim().to_owned()))
        .context("no payload hash in the output")
}

/// Runs the demo.
pub fn run(a: DemoArgs) -> Result<()> {
    let tmp = tempfile::Builder::new().prefix("airlock-demo-").tempdir()?;
    let dir = tmp.path().to_path_buf();
    println!("airlock demo in {}", dir.display());
    println!(
        "(throwaway keys and passphrases; ceremonies pass --allow-online because this machine may be online)"
    );
    let mut d = Demo { exe: std::env::current_exe()?, dir: dir.clone(), step: 0, witness_key: String::new() };
    let result = steps(&mut d);
    if a.keep {
        let kept = tmp.keep();
        println!("\nkept {}", kept.display());
    }
    result?;
    println!("\ndemo complete: every step above was checked, and every attack was refused.");
    Ok(())
}

fn steps(d: &mut Demo) -> Result<()> {
    let at = ["--at", AT];
    // 1. The key ceremony: three custodians, two must sign every root.
    d.run(
        "key ceremony: 3 custodians, threshold 2, index key generated",
        "root version 1 is signed by all custodians; the registry identity is fixed",
        &[
            &[
                "ceremony",
                "init",
                "--registry",
                "example",
                "--custodian",
                "alice",
                "--custodian",
                "bob",
                "--custodian",
                "carol",
                "--threshold",
                "2",
                "--out-dir",
                "ceremony",
                "--allow-online",
            ][..],
            &at,
        ]
        .concat(),
    )?;
    d.run(
        "verify the root from the registry identity, as a client would",
        "the root chain verifies from the identity printed at the ceremony",
        &[
            "root",
            "verify",
            "ceremony",
            "--identity",
            std::fs::read_to_string(d.dir.join("ceremony/identity.txt"))?.trim(),
            "--at",
            AT,
        ],
    )?;
    // 2. The registry and two publishers.
    d.run(
        "registry init from the ceremony's root and first targets",
        "top-level targets (who owns which namespace) is signed by the custodians; the index key signs only snapshot and timestamp",
        &[&["registry", "init", "registry", "--root-dir", "ceremony", "--key", "ceremony/keys/index.key"][..], &at].concat(),
    )?;
    for (name, ns) in [("acme", "acme/*"), ("beta", "beta/*")] {
        d.run(&format!("publisher {name} generates a key"), "", &["key", "generate", "--out", name])?;
        let key = format!("{name}.pub");
        d.ownership_change(
            &format!("custodians delegate {ns} to {name} (propose, review and sign offline, finalize)"),
            &[
                "registry",
                "publisher",
                "add",
                name,
                "--public-key",
                &key,
                "--namespace",
                ns,
                "--repo",
                "registry",
            ],
            &format!("add-{name}.draft.json"),
            "ceremony",
            &["alice", "bob"],
            "registry",
        )?;
    }
    d.run("", "", &["key", "generate", "--out", "mallory"])?;
    d.run(
        "",
        "",
        &[
            &[
                "registry",
                "publisher",
                "add",
                "mallory",
                "--key",
                "mallory.pub",
                "--namespace",
                "acme/*",
                "--allow-overlap",
                "--repo",
                "registry",
                "--out",
                "steal-acme.draft.json",
            ][..],
            &at,
        ]
        .concat(),
    )?;
    d.refused(
        "with only the registry's online index key, give acme/* to mallory",
        "namespace ownership needs a threshold of the custodians' offline keys; the index key alone cannot change it",
        &[
            &["registry", "targets", "finalize", "steal-acme.draft.json", "--repo", "registry", "--key", "ceremony/keys/index.key"][..],
            &at,
        ]
        .concat(),
    )?;
    // 3. A publication with generation provenance, countersigned.
    d.write("artifacts/tool-1.0.tar.gz", b"acme tool 1.0: the bytes a release officer carries across\n")?;
    d.write("artifacts/lib-2.1.txt", b"beta library 2.1\n")?;
    // A real public release signed by a GitHub Actions workflow through
    // Sigstore (tests/data/sigstore: from the Sigstore conformance suite).
    d.write("artifacts/a.txt", SIGSTORE_ARTIFACT)?;
    d.write("artifacts/a.txt.sigstore.json", SIGSTORE_BUNDLE)?;
    d.write("sigstore-trusted-root.json", SIGSTORE_TRUSTED_ROOT)?;
    d.run(
        "acme signs a release at packaging time, recording generation provenance and attaching its CI's Sigstore bundle",
        "the publisher's own key signs each artifact's length, hash and provenance, and binds the Sigstore bundle by its hash",
        &[
            &[
                "publish",
                "--role",
                "acme",
                "--key",
                "acme.key",
                "--artifact",
                "artifacts/tool-1.0.tar.gz=acme/tool-1.0.tar.gz",
                "--artifact",
                "artifacts/a.txt=acme/attested-a.txt",
                "--sigstore-bundle",
                "acme/attested-a.txt=artifacts/a.txt.sigstore.json",
                "--ai-generated",
                "--tool",
                "codegen",
                "--model",
                "example-model-1",
                "--reviewed-by",
                "alice@acme",
                "--reviewed-at",
                AT,
                "--out-dir",
                "sub-acme",
            ][..],
            &at,
        ]
        .concat(),
    )?;
    d.run(
        "beta signs a release",
        "",
        &[
            &[
                "publish",
                "--role",
                "beta",
                "--key",
                "beta.key",
                "--artifact",
                "artifacts/lib-2.1.txt=beta/lib-2.1.txt",
                "--out-dir",
                "sub-beta",
            ][..],
            &at,
        ]
        .concat(),
    )?;
    for sub in ["sub-beta", "sub-acme"] {
        if sub == "sub-acme" {
            // Kept for the history-rewrite attack below: the operator's
            // copy of the registry as it was before acme's release.
            println!(
                "\n    (the registry operator quietly keeps a copy)\n    $ cp -r registry registry-fork"
            );
            copy_dir(&d.dir.join("registry"), &d.dir.join("registry-fork"))?;
        }
        d.run(
            &format!("registry verifies and countersigns {sub}"),
            "publisher signature, namespace and version checked, then the snapshot pins the role's exact hash and the log records the role version",
            &[
                &["registry", "accept", sub, "--repo", "registry", "--key", "ceremony/keys/index.key"][..],
                &["--sigstore-trusted-root", "sigstore-trusted-root.json"],
                &at,
            ]
            .concat(),
        )?;
    }
    d.run(
        "registry verify",
        "the whole repository checks out as a TUF client sees it",
        &["registry", "verify", "--repo", "registry", "--at", AT],
    )?;
    // 4. The bundle for the air gap.
    d.run(
        "bundle the registry for transfer",
        "a deterministic, self-contained archive; metadata first, then artifacts",
        &["bundle", "create", "--repo", "registry", "--out", "transfer.tar", "--at", AT],
    )?;
    d.run(
        "verify the bundle against the pinned root (one streaming pass)",
        "every hash and signature holds from the pinned root",
        &["bundle", "verify", "transfer.tar", "--pins", "ceremony/1.root.json", "--at", AT],
    )?;
    std::fs::create_dir_all(d.dir.join("discs"))?;
    d.run(
        "the same snapshot split onto discs, the volume index signed by the index key",
        "fixed-size volumes and an index with every volume's hash, signed, to go on every disc",
        &[
            &["bundle", "create", "--repo", "registry", "--out", "discs/transfer", "--volume-size", "16K"][..],
            &["--key", "ceremony/keys/index.key", "--at", AT],
        ]
        .concat(),
    )?;
    d.run(
        "check one disc alone, before burning or after carrying it",
        "the index authenticates from the pinned root on its own, and the disc matches it",
        &["bundle", "verify-volume", "discs/transfer.001", "--pins", "ceremony/1.root.json", "--at", AT],
    )?;
    d.run(
        "a witness, on its own offline machine, cosigns the bundle's log checkpoint",
        "the registry's log extends nothing the witness saw before; its cosignature goes beside the bundle",
        &["witness", "init", "witness", "--name", "witness.example", "--json"],
    )
    .and_then(|out| {
        let public = serde_json::from_str::<serde_json::Value>(&out)?["public"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        d.witness_key = public;
        d.run(
            "",
            "",
            &[
                "witness",
                "cosign",
                "transfer.tar",
                "--witness",
                "witness",
                "--pins",
                "ceremony/1.root.json",
                "--at",
                AT,
            ],
        )
    })?;
    // 5. The isolated side: pins, policy, import.
    let map = r#"{"repositories": {"example": ["dvd://example"]}, "mapping": [{"paths": ["acme/*", "beta/*"], "repositories": ["example"], "terminating": true, "threshold": 1}]}"#;
    d.write("pins/map.json", map.as_bytes())?;
    d.write("pins/example/root.json", &std::fs::read(d.dir.join("ceremony/1.root.json"))?)?;
    d.write("pins/sigstore/trusted_root.json", SIGSTORE_TRUSTED_ROOT)?;
    let policy = format!(
        "ai_generated = \"require-review\"\nclock_skew = \"5m\"\nrequired_witnesses = 1\n\n{}\n[[witness]]\nname = \"witness.example\"\nkey = \"{}\"\n",
        sigstore_rule(SIGSTORE_SAN),
        d.witness_key
    );
    d.write("policy.toml", policy.as_bytes())?;
    d.run(
        "mirror init with namespace pins and policy",
        "acme/* and beta/* may come only from the pinned registry; AI-generated targets need a recorded review; acme/attested-* must be Sigstore-signed by the named CI workflow; the witness must have cosigned",
        &["mirror", "init", "mirror", "--pins", "pins", "--policy", "policy.toml"],
    )?;
    d.run(
        "import the bundle into the offline mirror",
        "verified (with the log's inclusion proofs and the witness's cosignature) into staging, then published by rename, timestamp last, under a lock",
        &["mirror", "import", "mirror", "transfer.tar", "--at", AT],
    )?;
    d.run(
        "mirror verify",
        "every file and signature of the mirror re-checked",
        &["mirror", "verify", "mirror", "--at", AT],
    )?;
    d.write("other-identity.toml", sigstore_rule(OTHER_SAN).as_bytes())?;
    d.run("", "", &["mirror", "init", "mirror-other", "--pins", "pins", "--policy", "other-identity.toml"])?;
    d.refused(
        "import into a mirror whose policy names another CI identity for acme/attested-*",
        "the Sigstore certificate names another workflow than the policy's",
        &["mirror", "import", "mirror-other", "transfer.tar", "--at", AT],
    )?;
    // 6. An attack: a registry that is not pinned for acme/* ships acme/tool.
    d.run(
        "meanwhile, an attacker runs a registry of their own",
        "",
        &[
            &[
                "ceremony",
                "init",
                "--registry",
                "rogue",
                "--custodian",
                "mallory",
                "--threshold",
                "1",
                "--out-dir",
                "rogue-ceremony",
                "--allow-online",
            ][..],
            &at,
        ]
        .concat(),
    )?;
    d.run(
        "",
        "",
        &[
            &[
                "registry",
                "init",
                "rogue",
                "--root-dir",
                "rogue-ceremony",
                "--key",
                "rogue-ceremony/keys/index.key",
            ][..],
            &at,
        ]
        .concat(),
    )?;
    d.ownership_change(
        "",
        &[
            "registry",
            "publisher",
            "add",
            "mallory",
            "--key",
            "mallory.pub",
            "--namespace",
            "acme/*",
            "--repo",
            "rogue",
        ],
        "rogue-add-mallory.draft.json",
        "rogue-ceremony",
        &["mallory"],
        "rogue",
    )?;
    d.write("artifacts/evil.tar.gz", b"a trojan with the same name\n")?;
    d.run(
        "",
        "",
        &[
            &[
                "publish",
                "--role",
                "mallory",
                "--key",
                "mallory.key",
                "--artifact",
                "artifacts/evil.tar.gz=acme/tool-1.0.tar.gz",
                "--out-dir",
                "sub-evil",
            ][..],
            &at,
        ]
        .concat(),
    )?;
    d.run(
        "",
        "",
        &[
            &["registry", "accept", "sub-evil", "--repo", "rogue", "--key", "rogue-ceremony/keys/index.key"]
                [..],
            &at,
        ]
        .concat(),
    )?;
    d.run(
        "",
        "every signature in it is valid",
        &["bundle", "create", "--repo", "rogue", "--out", "rogue.tar", "--at", AT],
    )?;
    d.refused(
        "import the rogue registry's acme/tool-1.0.tar.gz",
        "its registry is not pinned at all, and acme/* belongs to the pinned registry",
        &["mirror", "import", "mirror", "rogue.tar", "--at", AT],
    )?;
    rewrite_history(d)?;
    d.run("mirror log", "the refusals are in the hash-chained audit log", &["mirror", "log", "mirror"])?;
    Ok(())
}

/// The registry operator, holding the index key and acme's key, replaces
/// acme's released tool in the copy kept before the release and moves on
/// from there: every signature holds, but the log forks.
fn rewrite_history(d: &mut Demo) -> Result<()> {
    let at = ["--at", AT];
    let size = std::fs::read_to_string(d.dir.join("registry/log/checkpoint"))?
        .lines()
        .nth(1)
        .unwrap_or("0")
        .to_owned();
    d.write("artifacts/tool-backdoored.tar.gz", b"acme tool 1.0 with a backdoor\n")?;
    d.write("artifacts/tool-1.1.tar.gz", b"acme tool 1.1\n")?;
    d.run(
        "meanwhile, the registry operator rewrites history with the index key and acme's key",
        "",
        &[
            &["publish", "--role", "acme", "--key", "acme.key", "--artifact"][..],
            &["artifacts/tool-backdoored.tar.gz=acme/tool-1.0.tar.gz", "--out-dir", "sub-rewrite-1"],
            &at,
        ]
        .concat(),
    )?;
    let index = ["--repo", "registry-fork", "--key", "ceremony/keys/index.key"];
    d.run("", "", &[&["registry", "accept", "sub-rewrite-1"][..], &index, &at].concat())?;
    d.run(
        "",
        "",
        &[
            &[
                "publish",
                "--role",
                "acme",
                "--key",
                "acme.key",
                "--artifact",
                "artifacts/tool-1.1.tar.gz=acme/tool-1.1.tar.gz",
            ][..],
            &["--current", "registry-fork/metadata/1.acme.json", "--out-dir", "sub-rewrite-2"],
            &at,
        ]
        .concat(),
    )?;
    d.run("", "", &[&["registry", "accept", "sub-rewrite-2"][..], &index, &at].concat())?;
    d.run(
        "",
        "every signature in it is valid, and its log proves consistency from the mirror's checkpoint size",
        &[
            "bundle",
            "create",
            "--repo",
            "registry-fork",
            "--out",
            "rewritten.tar",
            "--since-checkpoint",
            &size,
            "--at",
            AT,
        ],
    )?;
    d.refused(
        "the witness is shown the rewritten history",
        "the fork's log does not extend the tree the witness cosigned: a split view, recorded",
        &[
            "witness",
            "cosign",
            "rewritten.tar",
            "--witness",
            "witness",
            "--pins",
            "ceremony/1.root.json",
            "--at",
            AT,
        ],
    )?;
    d.refused(
        "import the rewritten history",
        "no witness cosigned it, and its log does not extend the checkpoint the mirror holds",
        &["mirror", "import", "mirror", "rewritten.tar", "--at", AT],
    )
}

/// The demo's Sigstore-attested release: a real public artifact, its
/// bundle and the public-good trusted root (tests/data/sigstore/README.md).
const SIGSTORE_ARTIFACT: &[u8] = include_bytes!("../../../tests/data/sigstore/a.txt");
const SIGSTORE_BUNDLE: &[u8] = include_bytes!("../../../tests/data/sigstore/a.txt.sigstore.json");
const SIGSTORE_TRUSTED_ROOT: &[u8] = include_bytes!("../../../tests/data/sigstore/trusted_root.json");
/// The workflow that signed it.
const SIGSTORE_SAN: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
/// Another workflow, for the refusal.
const OTHER_SAN: &str = "https://github.com/acme/tool/.github/workflows/release.yml@refs/tags/*";

/// A policy rule: acme/attested-* must carry a Sigstore bundle by `san`.
fn sigstore_rule(san: &str) -> String {
    format!(
        "[[sigstore]]\nnamespace = \"acme/attested-*\"\nmode = \"require\"\nissuer = \"https://token.actions.githubusercontent.com\"\nsan = \"{san}\"\n"
    )
}

/// Copies a directory tree (the operator's `cp -r`).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type()?.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}
