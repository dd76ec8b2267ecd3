"""Fetch the Alibaba GPU trace v2023 ("openb") CSVs that the packing benchmark replays.

The trace is public but not ours to ship in the product tree (see ``doc/source/scheduling.md``):
a user gets it with ``python -m bench.trace_fetch``, which downloads each CSV from
``alibaba/clusterdata`` at a pinned commit and keeps it only if its SHA-256 matches
``bench/data/openb-SHA256SUMS`` (the bytes the benchmark's reference numbers were measured on).
A file that does not match is refused and nothing is left in the destination.

``--base-url`` takes any URL urllib reads (``file://`` included), so a mirror, a local copy or the
tests' tiny trace can stand in for GitHub on machines without internet access.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
#: alibaba/clusterdata at the commit the benchmark's checksums were taken from.
COMMIT = "7a6c496e4f4b6ce6150be8f881cb051bf2abff42"
BASE_URL = (
    "https://raw.githubusercontent.com/alibaba/clusterdata/%s/cluster-trace-gpu-v2023/csv" % COMMIT
)
MANIFEST = os.path.join(HERE, "data", "openb-SHA256SUMS")
#: where the benchmark looks first when neither --nodes/--pods nor POOLING_TRACE_DIR say otherwise.
DEFAULT_DEST = os.path.join(HERE, "data", "openb")


class ChecksumError(Exception):
    """A fetched file's SHA-256 is not the one the manifest pins."""


def read_manifest(path: str = MANIFEST) -> dict[str, str]:
    """``{file name: sha256}`` from a ``sha256sum``-style manifest."""
    sums = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                digest, name = line.split(None, 1)
                sums[os.path.basename(name.lstrip("*"))] = digest.lower()
    return sums


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(names, dest: str = DEFAULT_DEST, base_url: str = BASE_URL, manifest: str = MANIFEST,
          timeout: float = 60.0, log=print) -> list[str]:
    """Download ``names`` into ``dest``, each checked against ``manifest``; return their paths.

    Files already in ``dest`` with the right checksum are kept. A download is written to a
    temporary file in ``dest`` and renamed only after its checksum matched, so an interrupted or
    corrupted fetch never leaves a file the benchmark would read.
    """
    sums = read_manifest(manifest)
    unknown = sorted(set(names) - set(sums))
    if unknown:
        raise KeyError("not in the manifest %s: %s" % (manifest, ", ".join(unknown)))
    os.makedirs(dest, exist_ok=True)
    paths = []
    for name in names:
        path = os.path.join(dest, name)
        if os.path.exists(path) and sha256(path) == sums[name]:
            log("%s: already here, checksum ok" % name)
            paths.append(path)
            continue
        url = "%s/%s" % (base_url.rstrip("/"), name)
        fd, tmp = tempfile.mkstemp(prefix=".%s." % name, dir=dest)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                while block := resp.read(1 << 20):
                    out.write(block)
            got = sha256(tmp)
            if got != sums[name]:
                raise ChecksumError(
                    "%s: SHA-256 %s does not match the pinned %s; refused (from %s)"
                    % (name, got, sums[name], url)
                )
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        log("%s: fetched, checksum ok" % name)
        paths.append(path)
    return paths


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.trace_fetch", description=__doc__.split("\n")[0]
    )
    p.add_argument("names", nargs="*", help="CSV file names (default: every file of the manifest)")
    p.add_argument("--dest", default=DEFAULT_DEST, help="where to put them (%(default)s)")
    p.add_argument("--base-url", default=BASE_URL, help="where to read them (%(default)s)")
    p.add_argument("--manifest", default=MANIFEST, help="sha256sum-style manifest (%(default)s)")
    args = p.parse_args(argv)
    names = args.names or sorted(read_manifest(args.manifest))
    try:
        fetch(names, args.dest, args.base_url, args.manifest)
    except (ChecksumError, KeyError, OSError, urllib.error.URLError) as exc:
        print("trace_fetch: %s" % exc, file=sys.stderr)
        return 1
    print("trace in %s" % args.dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
