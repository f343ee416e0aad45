"""Fetch coordinates from the RCSB (or a mirror) into a local cache.

The cache holds ``<ID>.pdb`` and ``<ID>.sha256``; a cached file whose checksum no longer
matches is refused rather than silently re-used. Downloads are written atomically.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from rankbind.errors import ChecksumError, StructureError
from rankbind.fileio import atomic_open, sha256_file, write_text

RCSB_URL = "https://files.rcsb.org/download"


def default_cache() -> Path:
    """``$RANKBIND_CACHE`` or ``~/.cache/rankbind/pdb``."""
    return Path(os.environ.get("RANKBIND_CACHE", Path.home() / ".cache" / "rankbind" / "pdb"))


def fetch_pdb(
    pdb_id: str, cache: str | Path | None = None, base_url: str = RCSB_URL, timeout_s: float = 30.0
) -> Path:
    """Path of ``<pdb_id>.pdb`` in the cache, downloading ``{base_url}/{ID}.pdb`` if absent."""
    if not re.fullmatch(r"[0-9][A-Za-z0-9]{3}", pdb_id):
        raise StructureError(f"'{pdb_id}' is not a 4-character PDB ID")
    pdb_id = pdb_id.upper()
    cache = Path(cache) if cache else default_cache()
    target, digest = cache / f"{pdb_id}.pdb", cache / f"{pdb_id}.sha256"
    if target.is_file() and digest.is_file():
        expected = digest.read_text().split()[0]
        if sha256_file(target) != expected:
            raise ChecksumError(
                f"{target}: cached file does not match {digest}; delete both to re-fetch"
            )
        return target
    url = f"{base_url.rstrip('/')}/{pdb_id}.pdb"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            data = response.read()
    except urllib.error.HTTPError as exc:
        raise StructureError(f"{url}: HTTP {exc.code} ({exc.reason})") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise StructureError(f"{url}: cannot download ({getattr(exc, 'reason', exc)})") from None
    if b"ATOM  " not in data and b"HETATM" not in data:
        raise StructureError(f"{url}: response holds no ATOM/HETATM records")
    with atomic_open(target, "wb") as handle:
        handle.write(data)
    write_text(digest, f"{sha256_file(target)}  {target.name}\n")
    return target
