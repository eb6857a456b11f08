#!/usr/bin/env python3
"""Fetch targets from a TUF repository with python-tuf's ngclient Updater.

Usage:
  ngclient_fetch.py METADATA_URL TARGETS_URL TRUSTED_ROOT_FILE WORKDIR TARGET_PATH...

Bootstraps an Updater from TRUSTED_ROOT_FILE (the pinned root), runs
refresh() (root chain, timestamp, snapshot, top-level targets, all the
client workflow checks including expiry and rollback), then for each
TARGET_PATH looks it up with get_targetinfo() (walking delegations) and
downloads it with download_target(), which checks length and hashes.

METADATA_URL and TARGETS_URL are http(s):// URLs, or file:// URLs of
directories (served by a small local fetcher, so tests need no web server;
a missing file counts as HTTP 404, as ngclient expects). Consistent
snapshots are used as the root says: N.root.json, N.snapshot.json,
targets as <sha256>.<name>.

Local state goes to WORKDIR/metadata (trusted metadata cache) and
WORKDIR/targets/<URL-quoted TARGET_PATH> (downloaded files, one flat
directory, as ngclient names them). Progress is printed to
stdout, one line per step; errors go to stderr.

Exit codes:
  0  refresh succeeded and every TARGET_PATH was downloaded and verified
  1  refresh failed, or a target was not found or failed verification
     (the exception text is printed)
  2  usage error, or TRUSTED_ROOT_FILE cannot be read
"""

import hashlib
import os
import sys
from collections.abc import Iterator
from urllib.parse import urlparse

from tuf.api.exceptions import DownloadHTTPError
from tuf.ngclient import FetcherInterface, Updater


class FileFetcher(FetcherInterface):
    """Serves file:// URLs from the local file system."""

    def _fetch(self, url: str) -> Iterator[bytes]:
        parsed = urlparse(url)
        if parsed.scheme != "file":
            raise DownloadHTTPError(f"not a file:// URL: {url}", 400)
        # ngclient appends target paths to the base URL without
        # percent-encoding them, so the path is taken verbatim.
        path = parsed.path
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise DownloadHTTPError(f"{path} not found", 404) from None
        except IsADirectoryError:
            raise DownloadHTTPError(f"{path} is a directory", 404) from None
        return iter([data])


def main(argv: list[str]) -> int:
    if len(argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    metadata_url, targets_url, root_file, workdir = argv[:4]
    target_paths = argv[4:]
    try:
        with open(root_file, "rb") as f:
            bootstrap = f.read()
    except OSError as e:
        print(f"cannot read trusted root: {e}", file=sys.stderr)
        return 2

    metadata_dir = os.path.join(workdir, "metadata")
    target_dir = os.path.join(workdir, "targets")
    os.makedirs(metadata_dir, exist_ok=True)
    os.makedirs(target_dir, exist_ok=True)
    fetcher = FileFetcher() if metadata_url.startswith("file://") else None

    try:
        updater = Updater(
            metadata_dir=metadata_dir,
            metadata_base_url=metadata_url,
            target_dir=target_dir,
            target_base_url=targets_url,
            fetcher=fetcher,
            bootstrap=bootstrap,
        )
        updater.refresh()
        trusted = updater._trusted_set  # read-only peek, for the log only
        print(
            f"refreshed: root v{trusted.root.version}, "
            f"timestamp v{trusted.timestamp.version}, "
            f"snapshot v{trusted.snapshot.version}, "
            f"targets v{trusted.targets.version}"
        )
    except Exception as e:  # noqa: BLE001
        print(f"FAILED refresh: {type(e).__name__}: {e}", file=sys.stderr)
        return 1

    failed = 0
    for path in target_paths:
        try:
            info = updater.get_targetinfo(path)
            if info is None:
                raise LookupError(f"target {path!r} is not in the repository's metadata")
            # Default file name: ngclient URL-quotes the whole target path
            # into one file name inside target_dir, so hostile paths cannot
            # escape it.
            local = updater.download_target(info)
            with open(local, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            print(f"downloaded {path} ({info.length} bytes, sha256 {digest}) to {local}")
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"FAILED {path}: {type(e).__name__}: {e}", file=sys.stderr)
    if failed:
        print(f"{failed} of {len(target_paths)} targets failed", file=sys.stderr)
        return 1
    print(f"all {len(target_paths)} targets downloaded")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
