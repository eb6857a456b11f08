#!/usr/bin/env python3
"""Ask python-tuf whether a delegator's keys sign a piece of metadata.

Usage:
  verify_delegate.py ROOT_JSON ROLE_NAME METADATA_JSON

Loads both files with tuf.api.metadata.Metadata.from_bytes and calls
Root.verify_delegate(ROLE_NAME, <canonical signed bytes>, <signatures>),
i.e. checks that METADATA_JSON carries a threshold of valid signatures from
the keys ROOT_JSON assigns to ROLE_NAME (one of root, targets, snapshot,
timestamp). For the top-level roles it also checks that the metadata's
"_type" is ROLE_NAME, as a TUF client would.

Expiry and versions are NOT checked: this is a signature check only.

Exit codes:
  0  verified (prints "OK: ...")
  1  not verified, or a file is not valid TUF metadata; the exception text
     is printed to stderr
  2  usage error (wrong number of arguments, unreadable file)
"""

import sys

from tuf.api.metadata import Metadata, Root

TOP_LEVEL = {"root", "targets", "snapshot", "timestamp"}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    root_path, role, md_path = argv
    try:
        with open(root_path, "rb") as f:
            root_bytes = f.read()
        with open(md_path, "rb") as f:
            md_bytes = f.read()
    except OSError as e:
        print(f"cannot read input: {e}", file=sys.stderr)
        return 2
    try:
        root_md = Metadata.from_bytes(root_bytes)
        if not isinstance(root_md.signed, Root):
            raise TypeError(f"{root_path} is {root_md.signed.type} metadata, not root")
        md = Metadata.from_bytes(md_bytes)
        if role in TOP_LEVEL and md.signed.type != role:
            raise TypeError(f"{md_path} is {md.signed.type} metadata, expected {role}")
        root_md.signed.verify_delegate(role, md.signed_bytes, md.signatures)
    except Exception as e:  # noqa: BLE001 - any failure is a refusal
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"OK: {role} v{md.signed.version} verified by root v{root_md.signed.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
