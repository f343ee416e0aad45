"""Every built-in task kind, run through the local runner on a tiny system: a 16-residue
RANKL-OPG interface fragment of 3URF (139 heavy atoms) given as a rankbind PDB file. Each
test checks one kind's outputs against an independent reading of its inputs."""

from __future__ import annotations

import json
from pathlib import Path

import mdtraj
import numpy as np
import pytest
import yaml

from rankbind.protocols import load_protocol, run_local
from rankbind.protocols.kinds import BUILTIN
from rankbind.structures.assembly import build_assembly, extract

ROOT = Path(__file__).parents[1]
# RANKL A 237 and OPG 115-117 are the residues with most contacts in 3URF (4.5 A)
FRAGMENT = ["RANKL/A:233-240", "OPG:112-119"]
KINDS_TESTED = {
    "prepare", "equilibrate", "simulate", "contacts", "mmgbsa", "alanine_scan",
    "umbrella", "pmf", "competition", "cited_competition", "benchmark", "report",
}  # fmt: skip
MINI_BENCHMARK = ROOT / "tests/data/benchmark/antibody_benchmark"  # 2 cases, see test_benchmark


pytestmark = pytest.mark.slow  # one ~50 s (CPU) run shared by the tests of every kind


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One run of a protocol using every kind (about 50 s of CPU on 2 cores)."""
    tmp = tmp_path_factory.mktemp("kinds")
    extract(build_assembly("3URF", "interface"), FRAGMENT).write_pdb(tmp / "fragment.pdb")
    data = {
        "name": "every_kind",
        "seed": 5,
        "physics": {"temperature": "310 K", "salt": "0.1 M"},
        "platform": {"name": "CPU"},
        "systems": {"frag": {"file": "fragment.pdb"}},
        "stages": [
            {"name": "prepare", "task": "prepare"},
            {"name": "relax", "task": "equilibrate",
             "params": {"length": "0.04 ps", "report_interval": "0.02 ps", "minimize_iterations": 20}},
            {"name": "production", "task": "simulate", "replicas": 2,
             "params": {"length": "0.04 ps", "report_interval": "0.008 ps",
                        "checkpoint_interval": "0.016 ps"}},
            {"name": "contacts", "task": "contacts", "after": ["prepare"]},
            {"name": "mmgbsa", "task": "mmgbsa", "after": ["production"],
             "params": {"receptor": "RANKL", "ligand": "OPG", "variant": "none"}},
            {"name": "scan", "task": "alanine_scan", "after": ["production"],
             "params": {"residues": ["OPG:116-117"], "receptor": "RANKL", "ligand": "OPG"}},
            {"name": "windows", "task": "umbrella", "after": ["relax"],
             "windows": ["1.1 nm", "1.25 nm"],
             "params": {"group1": "RANKL", "group2": "OPG", "force_constant": "100 kJ/mol/nm**2",
                        "length": "0.4 ps", "report_interval": "0.008 ps",
                        "equilibration": "0.008 ps", "minimize_iterations": 5}},
            {"name": "pmf", "task": "pmf",
             "params": {"site_max": "1.15 nm", "bulk_shell": ["1.2 nm", "1.24 nm"],
                        "bin_width": "0.2 nm", "decorrelate": False}},
            {"name": "competition", "task": "competition", "over": "all", "after": ["contacts"],
             "params": {"config": str(ROOT / "protocols/competition/illustrative.yaml"),
                        "affinities": "prodigy"}},
            {"name": "cited", "task": "cited_competition", "over": "all", "after": ["contacts"],
             "params": {"plots": False}},
            {"name": "bench", "task": "benchmark",
             "params": {"kind": "affinity", "dataset": str(MINI_BENCHMARK), "case": "2W9E",
                        "settings": {"estimators": ["prodigy"], "n_bootstrap": 10}}},
            {"name": "report", "task": "report", "over": "all",
             "after": ["mmgbsa", "scan", "pmf", "competition", "cited"]},
        ],
    }  # fmt: skip
    path = tmp / "every_kind.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    run_dir = tmp / "run"
    summary = run_local(load_protocol(path), run_dir)
    assert summary.ok, summary.failed
    return run_dir


def result(run_dir: Path, task: str) -> dict:
    return json.loads((run_dir / task / "provenance.json").read_text())["result"]


def test_every_kind_is_covered():
    # the built-in kinds (test fixtures register kinds of their own in some test modules)
    assert {kind.name for kind in BUILTIN} == KINDS_TESTED


def test_prepare(run):
    res = result(run, "prepare/frag")
    top = mdtraj.load(
        str(run / res["outputs"]["prepared"]).replace("metadata.json", "prepared.pdb")
    )
    assert res["atoms"] == top.n_atoms
    meta = json.loads((run / res["outputs"]["prepared"]).read_text())
    # the run's physics reached preparation: 310 K Debye screening at 0.1 M
    assert meta["solvation"]["kappa_temperature_K"] == 310.0
    assert meta["options"]["ionic_strength_molar"] == 0.1
    built = mdtraj.load(str(run / res["outputs"]["assembly"]))
    assert built.n_atoms == 139  # heavy atoms of the fragment as written


def test_equilibrate_and_simulate(run):
    relax = result(run, "relax/frag")
    assert relax["timestep_fs"] == 4.0  # HMR default -> 4 fs
    for replica in ("frag-r0", "frag-r1"):
        prod = result(run, f"production/{replica}")
        traj = mdtraj.load(
            str(run / prod["outputs"]["trajectory"]), top=str(run / prod["outputs"]["topology"])
        )
        assert traj.n_frames == prod["stages"]["production"]["frames"] == 5  # 40 fs / 8 fs


def test_mmgbsa_uses_every_replica_and_the_run_physics(run):
    res = result(run, "mmgbsa/frag")
    data = json.loads((run / res["outputs"]["result"]).read_text())
    assert data["n_frames"] == 10  # 2 replicas x 5 frames
    assert len(data["frames_source"]) == 2
    assert (
        data["settings"]["temperature"] == 310.0 and data["settings"]["salt_concentration"] == 0.1
    )


def test_alanine_scan(run):
    res = result(run, "scan/frag")
    data = json.loads((run / res["outputs"]["result"]).read_text())
    scanned = [m["mutation"] for m in data["mutants"]] + [s["residue"] for s in data["not_scanned"]]
    assert len(scanned) == 2  # OPG 116 and 117, each scanned or reported
    for mutant in data["mutants"]:
        assert mutant["mutation"].endswith("->ALA")
    # the default variant (fixed by CV): GBn2, eps_in 4, no non-polar term, no salt; the
    # run's temperature
    settings = data["wild_type"]["settings"]
    assert data["variant"] == "gbn2_e4_nonp0"
    assert (settings["solute_dielectric"], settings["nonpolar"]) == (4.0, "none")
    assert (settings["salt_concentration"], settings["temperature"]) == (0.0, 310.0)


def test_contacts_and_competition(run):
    res = result(run, "contacts/frag")
    (name,) = [k for k in res["outputs"] if k.startswith("summary.")]
    summary = json.loads((run / res["outputs"][name]).read_text())
    assert summary["binder"] == "OPG/R" and summary["prodigy"]["dg_kcal_per_mol_mean"] < 0
    comp = result(run, "competition/all")
    assert comp["prodigy_affinities_kcal"]["OPG"] == summary["prodigy"]["dg_kcal_per_mol_mean"]
    assert (run / comp["outputs"]["results"]).is_file()


def test_cited_competition_reads_the_named_prodigy_outputs(run):
    summary_path = next(
        run / rel
        for name, rel in result(run, "contacts/frag")["outputs"].items()
        if name.startswith("summary.")
    )
    dg = json.loads(summary_path.read_text())["prodigy"]["dg_kcal_per_mol_mean"]
    res = result(run, "cited/all")
    assert res["computed"] == ["OPG"]
    assert res["inputs"] == [summary_path.relative_to(run).as_posix()]
    data = json.loads((run / res["outputs"]["results"]).read_text())
    (row,) = data["computed_vs_cited"]
    assert row["binder"] == "OPG" and row["computed_dg_kcal"] == dg


def test_benchmark_case(run):
    res = result(run, "bench/frag")
    stored = json.loads(Path(res["file"]).read_text())
    assert stored["result"]["dg_exp_kcal_per_mol"] == -13.49  # the mini set's affinity table
    assert stored["result"]["estimators"]["prodigy"]["dg_kcal_per_mol"] < 0


def test_umbrella_windows_and_pmf(run):
    centres = []
    for window in (0, 1):
        res = result(run, f"windows/frag-w{window:03d}")
        with np.load(run / res["outputs"]["samples"]) as data:
            r = data["r_nm"]
        assert r.size == 50  # 0.4 ps / 8 fs
        centres.append(res["centre_nm"])
        assert abs(r.mean() - res["centre_nm"]) < 0.3  # restrained near its centre
    assert centres == pytest.approx([1.1, 1.25])
    pmf = json.loads((run / result(run, "pmf/frag")["outputs"]["result"]).read_text())
    assert pmf["windows"]["samples_used"] == [50, 50]
    assert pmf["windows"]["centres_nm"] == pytest.approx(centres)


def test_report(run):
    res = result(run, "report/all")
    assert (run / res["outputs"]["report"]).is_file()
