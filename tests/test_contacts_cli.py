"""``rankbind contacts`` (rankbind.cli.contacts) on a rankbind-written PDB + DCD."""

from __future__ import annotations

import argparse
import csv
import json

import mdtraj
import numpy as np
import pytest

from rankbind.cli import contacts as contacts_cli
from rankbind.errors import StructureError
from rankbind.structures import build_assembly


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    contacts_cli.configure(parser)
    return contacts_cli.run(parser.parse_args(argv))


@pytest.mark.slow
def test_pdb_with_trajectory(tmp_path):
    pdb = tmp_path / "groove.pdb"
    build_assembly("3URF", "interface").write_pdb(pdb)
    ref = mdtraj.load(str(pdb))
    rng = np.random.default_rng(3)
    xyz = ref.xyz + rng.normal(0.0, 0.02, (3, *ref.xyz.shape[1:])).astype(np.float32)
    mdtraj.Trajectory(xyz, ref.topology).save_dcd(str(tmp_path / "traj.dcd"))
    out = tmp_path / "out"
    assert _run([str(pdb), "--traj", str(tmp_path / "traj.dcd"), "--out", str(out),
                 "--chunk", "2", "--no-prodigy"]) == 0  # fmt: skip
    folder = out / "groove"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["n_frames"] == 3 and summary["binder"] == "OPG/R"
    footprint = json.loads((folder / "footprint.json").read_text())
    assert footprint["protomers"] == ["A", "C"] and footprint["n_frames"] == 3
    rows = list(csv.DictReader((folder / "interface_pairs.csv").open()))
    assert rows and all(0.0 < float(r["frequency"]) <= 1.0 for r in rows)
    assert {p.name for p in folder.iterdir()} == {
        "summary.json", "footprint.json", "interface_pairs.csv", "hbonds.csv",
        "salt_bridges.csv",
    }  # fmt: skip
    assert not list(out.rglob("*.part"))


def test_pdb_without_chain_records_is_a_clear_error(tmp_path):
    pdb = tmp_path / "plain.pdb"
    pdb.write_text(
        "ATOM      1  CA  ALA A   1       0.000   0.000   0.000  1.00  0.00           C\nEND\n"
    )
    with pytest.raises(StructureError, match="plain.pdb.*REMARK 250 CHAIN"):
        _run([str(pdb), "--out", str(tmp_path / "o")])
