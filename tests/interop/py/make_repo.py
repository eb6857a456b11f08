#!/usr/bin/env python3
"""Write a small consistent-snapshot TUF repository with python-tuf.

Usage:
  make_repo.py OUTDIR

Used to check ngclient_fetch.py itself (and available to tests that need a
known-good repository from the reference implementation). Fresh random
Ed25519 keys every run. Writes:

  OUTDIR/root.json                 root v1: the root to pin/bootstrap from
  OUTDIR/metadata/1.root.json      root v1
  OUTDIR/metadata/2.root.json      root v2: root key rotated, signed by the
                                   old and the new root key
  OUTDIR/metadata/1.targets.json   targets v1 with "hello.txt" and
                                   "dir/nested file.txt"
  OUTDIR/metadata/1.snapshot.json  snapshot v1
  OUTDIR/metadata/timestamp.json   timestamp v1
  OUTDIR/targets/<sha256>.hello.txt, OUTDIR/targets/dir/<sha256>.nested file.txt

All metadata expires 2099-01-01T00:00:00Z.

Exit codes:
  0  written
  1  anything failed (exception on stderr)
  2  usage error
"""

import copy
import hashlib
import os
import sys
from datetime import datetime, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Role,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

EXPIRES = datetime(2099, 1, 1, tzinfo=timezone.utc)
FILES = {"hello.txt": b"hello\n", "dir/nested file.txt": b"nested \xe2\x9c\x93\n"}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = argv[0]
    ser = JSONSerializer(compact=False)
    try:
        meta_dir = os.path.join(out, "metadata")
        os.makedirs(meta_dir, exist_ok=True)
        root_v1_key = CryptoSigner.generate_ed25519()
        root_v2_key = CryptoSigner.generate_ed25519()
        online = CryptoSigner.generate_ed25519()

        root = Root(
            version=1,
            expires=EXPIRES,
            consistent_snapshot=True,
            roles={n: Role([], 1) for n in ("root", "targets", "snapshot", "timestamp")},
        )
        root.add_key(root_v1_key.public_key, "root")
        for role in ("targets", "snapshot", "timestamp"):
            root.add_key(online.public_key, role)
        root_md = Metadata(root)
        root_md.sign(root_v1_key)
        root_md.to_file(os.path.join(meta_dir, "1.root.json"), serializer=ser)
        root_md.to_file(os.path.join(out, "root.json"), serializer=ser)

        root2 = copy.deepcopy(root)
        root2.version = 2
        root2.revoke_key(root_v1_key.public_key.keyid, "root")
        root2.add_key(root_v2_key.public_key, "root")
        root2_md = Metadata(root2)
        root2_md.sign(root_v1_key)
        root2_md.sign(root_v2_key, append=True)
        root2_md.to_file(os.path.join(meta_dir, "2.root.json"), serializer=ser)

        targets = Targets(version=1, expires=EXPIRES)
        for path, data in FILES.items():
            targets.targets[path] = TargetFile.from_data(path, data, ["sha256"])
            dirname, sep, base = path.rpartition("/")
            digest = hashlib.sha256(data).hexdigest()
            local = os.path.join(out, "targets", *(dirname.split("/") if dirname else []), f"{digest}.{base}")
            os.makedirs(os.path.dirname(local), exist_ok=True)
            with open(local, "wb") as f:
                f.write(data)
        targets_md = Metadata(targets)
        targets_md.sign(online)
        targets_bytes = targets_md.to_bytes(ser)
        with open(os.path.join(meta_dir, "1.targets.json"), "wb") as f:
            f.write(targets_bytes)

        snapshot = Snapshot(version=1, expires=EXPIRES)
        snapshot.meta["targets.json"] = MetaFile.from_data(1, targets_bytes, ["sha256"])
        snapshot_md = Metadata(snapshot)
        snapshot_md.sign(online)
        snapshot_bytes = snapshot_md.to_bytes(ser)
        with open(os.path.join(meta_dir, "1.snapshot.json"), "wb") as f:
            f.write(snapshot_bytes)

        timestamp = Timestamp(version=1, expires=EXPIRES)
        timestamp.snapshot_meta = MetaFile.from_data(1, snapshot_bytes, ["sha256"])
        timestamp_md = Metadata(timestamp)
        timestamp_md.sign(online)
        timestamp_md.to_file(os.path.join(meta_dir, "timestamp.json"), serializer=ser)
    except Exception as e:  # noqa: BLE001
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"wrote repository to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
