//! airlock carried across by airlock (issue 17 item 5): `airlock-import
//! self-check` verifies a newer airlock from a bundle against the
//! compiled-in pins and writes exactly the bytes the pinned registry signed;
//! anything the pinned registry did not sign is refused, nothing written.

use crate::threats::World;

const AT: &str = "2026-11-23T12:00:00Z";
const TARGET: &str = "acme/airlock_1.2.0_amd64.deb";
const DEB: &[u8] = b"!<arch>\na newer airlock, as a .deb\n";

fn self_check(w: &World, bundle: &str, out: &str) -> crate::support::Run {
    w.import_tool(&["self-check", bundle, "--target", TARGET, "--out", out, "--at", AT])
}

/// Expects exit `code` and an `airlock-import: error:` line naming `needles`.
#[track_caller]
fn refused(run: &crate::support::Run, code: i32, needles: &[&str]) {
    assert_eq!(run.code, code, "{run:?}");
    let line = run.stderr.lines().find(|l| l.starts_with("airlock-import: error: ")).unwrap_or_default();
    for n in needles {
        assert!(line.contains(n), "{n:?} not in {line:?}");
    }
}

#[test]
fn a_newer_airlock_signed_by_the_pinned_registry_is_verified_and_written() {
    let w = World::new();
    w.release("reg", "ceremony", "acme", TARGET, DEB);
    w.bundle("reg", "release.tar");
    let r = self_check(&w, "release.tar", "airlock.deb");
    assert!(r.ok().stdout.contains(&format!("verified {TARGET}")), "{r:?}");
    assert_eq!(w.sb.read("airlock.deb"), DEB);
    // It never overwrites.
    refused(&self_check(&w, "release.tar", "airlock.deb"), 2, &["already exists"]);
}

#[test]
fn an_airlock_the_pinned_registry_did_not_sign_is_refused_and_nothing_written() {
    let w = World::new();
    // The bundle of the pinned registry does not carry it.
    w.bundle("reg", "without.tar");
    refused(&self_check(&w, "without.tar", "a.deb"), 1, &["carries no target", TARGET]);
    // Another registry, pinned only for other/*, signs one under acme/*: the
    // pins give acme/* to the example registry alone.
    w.publisher("other", "other-ceremony", "mallory", "acme/*", &[]);
    w.release("other", "other-ceremony", "mallory", TARGET, b"a trojan\n");
    w.bundle("other", "other.tar");
    refused(&self_check(&w, "other.tar", "b.deb"), 1, &[TARGET]);
    // The pinned registry's release with its bytes changed in transit.
    w.release("reg", "ceremony", "acme", TARGET, DEB);
    w.bundle("reg", "release.tar");
    let tampered = crate::threats::rewrite(&w.sb.read("release.tar"), |p, d| {
        if p.ends_with(".airlock_1.2.0_amd64.deb") {
            d[0] ^= 1;
        }
    });
    w.sb.write("tampered.tar", tampered);
    refused(&self_check(&w, "tampered.tar", "c.deb"), 1, &["airlock_1.2.0_amd64.deb"]);
    for f in ["a.deb", "b.deb", "c.deb"] {
        assert!(!w.sb.exists(f), "{f} was written");
    }
    let leftovers: Vec<_> = std::fs::read_dir(w.sb.root())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".airlock-self-check-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}
