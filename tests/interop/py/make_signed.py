#!/usr/bin/env python3
"""Write root and targets metadata signed by python-tuf, with mixed key types.

Usage:
  make_signed.py OUTDIR

Fresh random keys every run. Writes (creating OUTDIR if needed):

  root.json             root v1, consistent_snapshot true, expires
                        2099-01-01T00:00:00Z. Roles:
                          root:      1 Ed25519 key, threshold 1
                          targets:   1 Ed25519 + 1 ECDSA P-256 key
                                     (ecdsa-sha2-nistp256), threshold 2
                          snapshot, timestamp: 1 Ed25519 key, threshold 1
                        Signed by the root key.
  targets.json          targets v1 (one target "hello.txt"), signed by both
                        targets keys: meets the threshold.
  targets-one-sig.json  the same targets, signed by the ECDSA key only:
                        below the threshold, must be refused.
  root-rsa.json         root v1 as above but the root role is one RSA key and
                        the targets role one other RSA key (keytype "rsa",
                        scheme "rsassa-pss-sha256", 3072 bits), threshold 1
                        each. Signed by its RSA root key.
  targets-rsa.json      targets v1 signed by the RSA targets key.

Key ids are the ones securesystemslib computes (SHA-256 of the canonical
public key object). Private keys are not written anywhere.

Exit codes:
  0  all files written
  1  anything failed (exception on stderr)
  2  usage error
"""

import os
import sys
from datetime import datetime, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    Metadata,
    Role,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

EXPIRES = datetime(2099, 1, 1, tzinfo=timezone.utc)
PRETTY = JSONSerializer(compact=False)


def make_root(root_signer, targets_signers, targets_threshold, online_signer):
    root = Root(
        version=1,
        expires=EXPIRES,
        consistent_snapshot=True,
        roles={
            name: Role([], 1)
            for name in (Root.type, Targets.type, Snapshot.type, Timestamp.type)
        },
    )
    root.add_key(root_signer.public_key, Root.type)
    for s in targets_signers:
        root.add_key(s.public_key, Targets.type)
    root.roles[Targets.type].threshold = targets_threshold
    root.add_key(online_signer.public_key, Snapshot.type)
    root.add_key(online_signer.public_key, Timestamp.type)
    md = Metadata(root)
    md.sign(root_signer)
    return md


def make_targets(signers):
    data = b"hello\n"
    targets = Targets(version=1, expires=EXPIRES)
    targets.targets["hello.txt"] = TargetFile.from_data("hello.txt", data, ["sha256"])
    md = Metadata(targets)
    for s in signers:
        md.sign(s, append=True)
    return md


def write(md, outdir, name):
    md.to_file(os.path.join(outdir, name), serializer=PRETTY)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    outdir = argv[0]
    try:
        os.makedirs(outdir, exist_ok=True)
        root_key = CryptoSigner.generate_ed25519()
        online_key = CryptoSigner.generate_ed25519()
        t_ed = CryptoSigner.generate_ed25519()
        t_ec = CryptoSigner.generate_ecdsa()  # ecdsa-sha2-nistp256
        assert t_ec.public_key.scheme == "ecdsa-sha2-nistp256"

        write(make_root(root_key, [t_ed, t_ec], 2, online_key), outdir, "root.json")
        write(make_targets([t_ed, t_ec]), outdir, "targets.json")
        write(make_targets([t_ec]), outdir, "targets-one-sig.json")

        rsa_root = CryptoSigner.generate_rsa(scheme="rsassa-pss-sha256")
        rsa_targets = CryptoSigner.generate_rsa(scheme="rsassa-pss-sha256")
        write(make_root(rsa_root, [rsa_targets], 1, online_key), outdir, "root-rsa.json")
        write(make_targets([rsa_targets]), outdir, "targets-rsa.json")
        # Self-check with python-tuf before anyone relies on the files.
        for root_name, t_name, ok in (
            ("root.json", "targets.json", True),
            ("root.json", "targets-one-sig.json", False),
            ("root-rsa.json", "targets-rsa.json", True),
        ):
            r = Metadata.from_file(os.path.join(outdir, root_name))
            t = Metadata.from_file(os.path.join(outdir, t_name))
            r.signed.verify_delegate("root", r.signed_bytes, r.signatures)
            result = r.signed.get_verification_result("targets", t.signed_bytes, t.signatures)
            if bool(result) != ok:
                raise RuntimeError(f"self-check of {t_name} against {root_name} gave {bool(result)}")
    except Exception as e:  # noqa: BLE001
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"wrote root.json targets.json targets-one-sig.json root-rsa.json targets-rsa.json to {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
