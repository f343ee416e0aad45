"""Bad inputs get a clear error naming the problem, exit status 2, and no output."""

from __future__ import annotations

import shutil

import pytest

from rankbind.cli import main
from rankbind.structures import get_entry
from rankbind.structures.catalogue import structures_dir

CHAINS = ["--chain", "A=RANKL", "--chain", "R=RANK:30"]


def _run(argv, capsys):
    status = main(argv)
    return status, capsys.readouterr().err


@pytest.fixture
def asu_text():
    return get_entry("4GIQ").path.read_text()


def _write(tmp_path, text):
    path = tmp_path / "input.pdb"
    path.write_text(text)
    return path


def _atom_line_index(lines, residue="LYS A 180"):
    return next(
        i for i, line in enumerate(lines) if line.startswith("ATOM") and line[17:26] == residue
    )


def test_truncated_pdb(tmp_path, capsys, asu_text):
    cut = asu_text[: asu_text.index("ATOM   1000") + 40]
    out = tmp_path / "out"
    status, err = _run(["prepare", str(_write(tmp_path, cut)), *CHAINS, "--out", str(out)], capsys)
    assert status == 2 and "input.pdb" in err and "truncated" in err
    assert not out.exists()


def test_truncated_at_line_boundary(tmp_path, capsys, asu_text):
    lines = asu_text.splitlines(keepends=True)
    out = tmp_path / "out"
    status, err = _run(
        ["prepare", str(_write(tmp_path, "".join(lines[:1500]))), *CHAINS, "--out", str(out)],
        capsys,
    )
    assert status == 2 and "no END record" in err
    assert not out.exists()


def test_unknown_chain(tmp_path, capsys, asu_text):
    out = tmp_path / "out"
    status, err = _run(
        ["prepare", str(_write(tmp_path, asu_text)), "--chain", "A=RANKL", "--out", str(out)],
        capsys,
    )
    assert status == 2 and "chain 'R'" in err
    assert not out.exists()


def test_nan_coordinates(tmp_path, capsys, asu_text):
    lines = asu_text.splitlines(keepends=True)
    i = _atom_line_index(lines)
    lines[i] = lines[i][:30] + "     nan" + lines[i][38:]
    out = tmp_path / "out"
    status, err = _run(
        ["prepare", str(_write(tmp_path, "".join(lines))), *CHAINS, "--out", str(out)], capsys
    )
    assert status == 2 and f"input.pdb:{i + 1}" in err and "x coordinate is nan" in err
    assert not out.exists()


def test_unknown_residue(tmp_path, capsys, asu_text):
    text = "".join(
        line[:17] + "XYZ" + line[20:]
        if line.startswith("ATOM") and line[17:26] == "LYS A 180"
        else line
        for line in asu_text.splitlines(keepends=True)
    )
    out = tmp_path / "out"
    status, err = _run(["prepare", str(_write(tmp_path, text)), *CHAINS, "--out", str(out)], capsys)
    assert status == 2 and "unknown residue XYZ A:180" in err
    assert not out.exists()


def test_checksum_mismatch(tmp_path, capsys, monkeypatch):
    copy = tmp_path / "structures"
    shutil.copytree(structures_dir(), copy)
    with open(copy / "pdb" / "3URF_human_RANKL_OPG.pdb", "a") as handle:
        handle.write("REMARK extra\n")
    monkeypatch.setenv("RANKBIND_STRUCTURES", str(copy))
    out = tmp_path / "out"
    status, err = _run(["prepare", "3URF", "--out", str(out)], capsys)
    assert status == 2 and "sha256" in err and "3URF_human_RANKL_OPG.pdb" in err
    assert not out.exists()


def test_unknown_platform(tmp_path, capsys):
    out = tmp_path / "out"
    status, err = _run(
        ["simulate", str(tmp_path), "--out", str(out), "--platform", "metal"], capsys
    )
    assert status == 2 and "PlatformSettings.name: Input should be 'auto', 'CUDA'" in err
    assert "(got 'metal')" in err
    assert not out.exists()


def test_unknown_catalogue_entry(tmp_path, capsys):
    status, err = _run(["prepare", "1ABC", "--out", str(tmp_path / "out")], capsys)
    assert status == 2 and "no catalogue entry '1ABC'" in err
