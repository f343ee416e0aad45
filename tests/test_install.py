"""A non-editable install (``pip install .`` into a fresh virtualenv) works from any
directory: the wheel ships structures/, protocols/ and seeds/ as package data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("rankbind", "structures", "protocols", "seeds", "pyproject.toml", "setup.py",
           "MANIFEST.in", "README.md")  # fmt: skip


def _run(cmd: list[str], cwd: Path, env: dict, timeout: int = 600) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_non_editable_install_finds_its_data_from_another_directory(tmp_path):
    """Without the data in the wheel this fails with 'catalogue.yaml not found'. The venv
    sees the system site-packages (openmm, jax: no downloads) but rankbind is the wheel's
    copy; the build uses the installed setuptools (no build isolation, no index)."""
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".*"))  # fmt: skip
        else:
            shutil.copy2(ROOT / name, source / name)
    venv = tmp_path / "venv"
    env = {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("RANKBIND_")
    }
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp_path, env)
    python, rankbind = venv / "bin" / "python", venv / "bin" / "rankbind"
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
          "--no-index", str(source)], tmp_path, env)  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run(
        [str(python), "-c",
         "import rankbind, rankbind.fileio as f; print(rankbind.__file__); "
         "print(*(f.data_dir(n) for n in f.DATA_FOLDERS), sep='\\n')"],
        elsewhere, env,
    ).split()  # fmt: skip
    package = Path(where[0]).parent
    assert package.is_relative_to(venv), where  # the installed copy, not the checkout
    assert [Path(p) for p in where[1:]] == [
        package / "_data" / n for n in ("structures", "protocols", "seeds")
    ]
    out = _run([str(rankbind), "prepare", "3URF", "--solvent", "vacuum", "--out", "prep"],
               elsewhere, env)  # fmt: skip
    assert "prepared 3URF/interface" in out
    assert (elsewhere / "prep" / "system.xml").is_file()
    checked = _run([str(rankbind), "run", "quick", "--check"], elsewhere, env)
    assert "prepare: 2 task(s)" in checked and "competition:" in checked


def test_data_dir_order_and_errors(tmp_path, monkeypatch):
    from rankbind.errors import RankbindError
    from rankbind.fileio import data_dir, shipped_file

    for name in ("RANKBIND_STRUCTURES", "RANKBIND_PROTOCOLS", "RANKBIND_SEEDS"):
        monkeypatch.delenv(name, raising=False)
    assert (data_dir("structures") / "catalogue.yaml").is_file()  # the checkout's
    assert shipped_file("protocols/quick.yaml", "protocols") == data_dir("protocols") / "quick.yaml"
    assert shipped_file("quick", "protocols") == data_dir("protocols") / "quick.yaml"
    assert shipped_file("no_such_protocol", "protocols") is None
    monkeypatch.setenv("RANKBIND_SEEDS", str(tmp_path))
    assert data_dir("seeds") == tmp_path
    monkeypatch.setenv("RANKBIND_SEEDS", str(tmp_path / "missing"))
    with pytest.raises(RankbindError, match="RANKBIND_SEEDS=.*missing is not a folder"):
        data_dir("seeds")
    with pytest.raises(RankbindError, match="unknown data folder 'pdbs'"):
        data_dir("pdbs")
