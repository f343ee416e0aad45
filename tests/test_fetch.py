"""RCSB fetch with a local cache, against a loopback HTTP server (never the network)."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest

from rankbind.errors import ChecksumError, StructureError
from rankbind.fileio import sha256_file
from rankbind.structures import get_entry
from rankbind.structures.fetch import fetch_pdb


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(get_entry("4GIQ").path, root / "4GIQ.pdb")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd
    httpd.shutdown()


def test_fetch_downloads_caches_and_verifies(server, tmp_path):
    url, httpd = server
    cache = tmp_path / "cache"
    path = fetch_pdb("4giq", cache, base_url=url)
    assert sha256_file(path) == get_entry("4GIQ").sha256
    httpd.shutdown()  # second call must come from the cache
    assert fetch_pdb("4GIQ", cache, base_url=url) == path
    path.write_text(path.read_text() + "REMARK tampered\n")
    with pytest.raises(ChecksumError, match="4GIQ.pdb"):
        fetch_pdb("4GIQ", cache, base_url=url)


def test_fetch_missing_entry_is_a_clear_error(server, tmp_path):
    url, _ = server
    with pytest.raises(StructureError, match="HTTP 404"):
        fetch_pdb("9ZZZ", tmp_path / "cache", base_url=url)
    assert not (tmp_path / "cache" / "9ZZZ.pdb").exists()
    with pytest.raises(StructureError, match="not a 4-character PDB ID"):
        fetch_pdb("../etc", tmp_path / "cache", base_url=url)
