#!/usr/bin/env python3
"""Canonical JSON as securesystemslib writes it, for comparison with airlock.

Usage:
  canonical.py FILE...        batch mode: print one JSON object to stdout that
                              maps each FILE argument (exactly as given) to
                                {"ok": true,  "hex": "<canonical bytes, hex>"}
                              or
                                {"ok": false, "stage": "parse"|"encode",
                                 "error": "<exception text>"}
  canonical.py --raw FILE     write the canonical bytes of one document to
                              stdout, nothing else. FILE may be "-" for stdin.

Each document is read as UTF-8, parsed with json.loads (what python-tuf's
Metadata.from_bytes does) and encoded with
securesystemslib.formats.encode_canonical, then encoded as UTF-8.

Exit codes:
  0  batch mode: every file was processed (refusals are reported in the map,
     not by the exit code); --raw mode: the document was encoded.
  1  --raw mode: the document could not be parsed or encoded (reason on
     stderr).
  2  usage error, or a file could not be read.
"""

import json
import sys

from securesystemslib.formats import encode_canonical


def read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as f:
        return f.read()


def canonical(data: bytes) -> tuple[str, bytes | str]:
    """Returns ("ok", bytes) or (stage, error text)."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except Exception as e:  # noqa: BLE001 - report any refusal
        return "parse", f"{type(e).__name__}: {e}"
    try:
        return "ok", encode_canonical(obj).encode("utf-8")
    except Exception as e:  # noqa: BLE001
        return "encode", f"{type(e).__name__}: {e}"


def main(argv: list[str]) -> int:
    if not argv or argv == ["--raw"]:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        if argv[0] == "--raw":
            if len(argv) != 2:
                print("--raw takes exactly one FILE", file=sys.stderr)
                return 2
            stage, result = canonical(read(argv[1]))
            if stage != "ok":
                print(f"refused at {stage}: {result}", file=sys.stderr)
                return 1
            sys.stdout.buffer.write(result)
            return 0
        out = {}
        for path in argv:
            stage, result = canonical(read(path))
            if stage == "ok":
                out[path] = {"ok": True, "hex": result.hex()}
            else:
                out[path] = {"ok": False, "stage": stage, "error": result}
    except OSError as e:
        print(f"cannot read input: {e}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
