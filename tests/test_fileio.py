"""rankbind.fileio: exclusive_lock (the one lock of run and task directories, checked
against a plain fcntl.flock holder in another process) and atomic_link."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rankbind.errors import RankbindError, SimulationError
from rankbind.fileio import atomic_link, exclusive_lock, write_text

HOLDER = """
import fcntl, sys
handle = open(sys.argv[1], "a")
fcntl.flock(handle, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


def test_lock_refuses_while_another_process_holds_it_and_frees_when_it_dies(tmp_path):
    path = tmp_path / ".lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(
            SimulationError, match=r"task x is already being run by another process"
        ):
            with exclusive_lock(path, "task x", SimulationError):
                pass
        with pytest.raises(RankbindError, match=str(path)):  # the default error names the file
            with exclusive_lock(path, "run y"):
                pass
    finally:
        holder.kill()  # a killed holder releases its lock with its file descriptors
        holder.wait()
    entered = []
    with exclusive_lock(path, "task x"):
        entered.append(True)
        with pytest.raises(RankbindError, match="already being run"):  # not re-entrant
            with exclusive_lock(path, "task x"):
                pass
    assert entered == [True]
    with exclusive_lock(path, "task x"):  # released on exit
        pass


def test_lock_file_that_cannot_be_created_is_a_clear_error(tmp_path):
    with pytest.raises(SimulationError, match=r"cannot create the lock file .*missing/\.lock"):
        with exclusive_lock(tmp_path / "missing" / ".lock", "run", SimulationError):
            pass


@pytest.mark.parametrize("hard_links", [True, False])
def test_atomic_link_keeps_the_content_when_the_source_is_replaced(
    tmp_path, monkeypatch, hard_links
):
    if not hard_links:  # a filesystem without hard links: the file is copied

        def no_link(*args, **kwargs):
            raise OSError("hard links not supported")

        monkeypatch.setattr(os, "link", no_link)
    source, target = tmp_path / "state_1.xml", tmp_path / "final_state.xml"
    write_text(source, "first")
    write_text(target, "older")
    atomic_link(source, target)
    assert target.read_text() == "first"
    assert os.path.samefile(source, target) is hard_links
    write_text(source, "second")  # rankbind replaces files, never rewrites them in place
    source.unlink()
    assert target.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final_state.xml"]  # no temporaries
