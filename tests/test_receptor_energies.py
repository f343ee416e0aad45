"""Same-species energetics (rankbind.analysis.receptor_energies): per-residue components
against OpenMM's engine (a direct evaluation, at ε_in 1 and 4), the protomer sum against
a plain loop, the resolvability verdicts on synthetic numbers with known answers, and the
committed result against its own report section."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import fragment

from rankbind.analysis.receptor_energies import (
    by_rankl_number,
    compare_species,
    residue_components,
    resolve,
    variant_values,
)
from rankbind.energies.mmgbsa import COMPONENTS, ComplexModel, mmgbsa, selection_atoms
from rankbind.energies.variants import settings_for
from rankbind.errors import RankbindError

KCAL = 4.184
ROOT = Path(__file__).parents[1]


def test_residue_components_match_openmm_at_two_dielectrics():
    """JAX per-residue components summed over residues = OpenMM Reference engine's ΔG
    components (ε_in 1); rescaled to ε_in 4 they equal a direct OpenMM evaluation at 4."""
    prepared = fragment()
    top = prepared.topology
    x0 = np.asarray(prepared.positions.value_in_unit(prepared.positions.unit))
    frames = x0[None] + np.random.default_rng(3).normal(0.0, 0.003, (2, *x0.shape))
    rec = selection_atoms(top, prepared.chains, "RANKL")
    lig = selection_atoms(top, prepared.chains, "OPG")
    e1 = settings_for("gbn2_e1", n_bootstrap=10)
    residues, comps = residue_components(ComplexModel(top, rec, lig, e1), frames)
    assert comps.shape == (2, len(residues), len(COMPONENTS))
    assert {r[3] for r in residues} == {"receptor", "ligand"}
    reference = mmgbsa(top, frames, rec, lig, e1.replace(engine="openmm"), progress=False)
    for k, c in enumerate(COMPONENTS):
        np.testing.assert_allclose(comps[..., k].sum(axis=1), reference.delta[c], atol=0.05)
    e4 = settings_for("gbn2_e4", n_bootstrap=10, engine="openmm")
    direct = mmgbsa(top, frames, rec, lig, e4, progress=False)
    rescaled = variant_values(comps, "gbn2_e4").sum(axis=1)
    np.testing.assert_allclose(rescaled, direct.delta_total, atol=0.05)
    assert abs(direct.delta_total[0] - reference.delta_total[0]) > 1.0  # ε_in matters here
    with pytest.raises(RankbindError, match="solute_dielectric=4.0"):
        residue_components(ComplexModel(top, rec, lig, e4.replace(engine="jax")), frames)


def test_by_rankl_number_sums_protomers():
    residues = [("A", "180", "LYS", "receptor"), ("C", "180", "LYS", "receptor"),
                ("A", "181", "GLU", "receptor"), ("R", "180", "ASP", "ligand")]  # fmt: skip
    values = np.arange(8.0).reshape(2, 4)
    out = by_rankl_number(residues, values)
    assert sorted(out) == [180, 181]
    np.testing.assert_array_equal(out[180], values[:, 0] + values[:, 1])
    np.testing.assert_array_equal(out[181], values[:, 2])
    np.testing.assert_array_equal(by_rankl_number(residues, values, "ligand")[180], values[:, 3])


BAD = {"pearson_ci95_low": -0.2, "rmse_kcal": 2.4}
GOOD = {"pearson_ci95_low": 0.3, "rmse_kcal": 1.0}


@pytest.mark.parametrize(
    ("d", "sigma", "spread", "bench", "verdict"),
    [
        (1.5, 1.0, None, None, "not resolved: within sampling uncertainty"),
        (-2.0, 1.0, None, None, "not resolved: within sampling uncertainty"),  # |d| = 2σ
        (3.0, 1.0, 4.0, None, "not resolved: within structure spread"),
        (-3.0, 1.0, 2.0, BAD, "resolved by sampling; not supported by the benchmark"),
        (
            3.0,
            1.0,
            2.0,
            {"pearson_ci95_low": 0.3, "rmse_kcal": 3.5},
            "resolved by sampling; not supported by the benchmark",
        ),  # fmt: skip
        (3.0, 1.0, 2.0, GOOD, "resolved"),
        # slope 0.25 puts d = 3 at 0.75 kcal/mol on the experimental scale: below RMSE 1
        (
            3.0,
            1.0,
            2.0,
            GOOD | {"calibration_slope": 0.25},
            "resolved by sampling; not supported by the benchmark",
        ),
        (-5.0, 1.0, 2.0, GOOD | {"calibration_slope": 0.25}, "resolved"),  # 1.25 > 1
        (3.0, 1.0, None, None, "resolved"),
        (
            1.2,
            0.0,
            None,
            None,
            "not resolved: no sampling uncertainty (replicas identical or too few)",
        ),
    ],
)
def test_resolve_verdicts(d, sigma, spread, bench, verdict):
    assert resolve(d, sigma, spread, bench)["verdict"] == verdict


def test_resolve_rejects_bad_sigma():
    with pytest.raises(RankbindError, match="sigma -1"):
        resolve(1.0, -1.0)


def _estimate(mean, sem):
    return {"kcal_per_mol": mean, "sem_kcal_per_mol": sem}


def test_compare_species_pools_structures():
    """OPG -10 ± 0.5 (one structure) vs RANK -6 ± 0.3 and -8 ± 0.4: RANK pooled -7 with
    s.e. sqrt(0.3² + 0.4²)/2 = 0.25, spread 2; OPG - RANK = -3, σ = hypot(0.5, 0.25)."""
    opg = [{"label": "o", "dG": {"mmgbsa/x": _estimate(-10, 0.5)},
            "alanine": {"v": {"5": _estimate(2.0, 0.2), "6": _estimate(0.1, 0.1)}}}]  # fmt: skip
    rank = [
        {"label": "r1", "dG": {"mmgbsa/x": _estimate(-6, 0.3)}, "alanine": {"v": {"5": _estimate(0.4, 0.1)}}},
        {"label": "r2", "dG": {"mmgbsa/x": _estimate(-8, 0.4)}, "alanine": {"v": {"5": _estimate(0.6, 0.1)}}},
    ]  # fmt: skip
    footprint = {"residues": [{"rankl_residue": 5, "status": "shared"}]}
    out = compare_species(opg, rank, footprint, {"dG": {"mmgbsa/x": BAD}, "ddG": {"v": GOOD}})
    d = out["dG"]["mmgbsa/x"]
    assert d["RANK_kcal_per_mol"] == pytest.approx(-7.0)
    assert d["RANK_sem"] == pytest.approx(0.25)
    assert d["structure_spread_kcal_per_mol"] == pytest.approx(2.0)
    assert d["difference_kcal_per_mol"] == pytest.approx(-3.0)
    assert d["sigma_kcal_per_mol"] == pytest.approx(math.hypot(0.5, 0.25))
    assert d["verdict"] == "resolved by sampling; not supported by the benchmark"
    rows = {r["rankl_residue"]: r for r in out["residues"]["alanine/v"]}
    # 2.0 - 0.5 = 1.5 > spread 0.2, > 2σ, > benchmark RMSE 1.0 with r > 0: resolved
    assert rows[5]["difference_kcal_per_mol"] == pytest.approx(1.5)
    assert rows[5]["verdict"] == "resolved"
    assert rows[5]["hotspot_OPG"] and not rows[5]["hotspot_RANK"]
    assert rows[5]["footprint"] == "shared"
    assert rows[6]["verdict"] == "not compared: missing in a structure"
    assert rows[6]["footprint"] == "not in footprint"


def test_report_renders_the_energy_section(tmp_path):
    """A section built from synthetic records: the report shows its difference, verdict,
    residue rows and figure (numbers checked against compare_species' own output)."""
    from rankbind.analysis.report_sections import write_energy_section
    from rankbind.report import build_report

    def record(label, dg, ala):
        est = _estimate(dg, 0.2) | {"per_replica_kcal_per_mol": [dg - 0.1, dg + 0.1]}
        per = {"gbn2_e4_nonp0": {"5": _estimate(-1.5, 0.1)}}
        return {"label": label, "kind": "model", "dG": {"mmgbsa/gbn2_e4": est},
                "per_residue": per, "alanine": {"gbn2_e4_nonp0": {"5": _estimate(ala, 0.1)}},
                "cpu_seconds": {"total": 60.0}}  # fmt: skip

    bench = {
        "dG": {"mmgbsa/gbn2_e4": BAD | {"pearson": 0.2, "pearson_ci95_high": 0.6, "n": 16}},
        "ddG": {"gbn2_e4_nonp0": GOOD | {"pearson": 0.06, "pearson_ci95_high": 0.1, "n": 189,
                                         "hotspot_roc_auc": 0.63}},
        "note": "benchmark settings differ",
    }  # fmt: skip
    species = {}
    records = {}
    for sp, o, r in (("human", -12.0, -7.0), ("mouse", -9.0, -9.5)):
        opg, rank = record(f"{sp} OPG", o, 2.5), record(f"{sp} RANK", r, 0.5)
        records |= {opg["label"]: opg, rank["label"]: rank}
        species[sp] = compare_species([opg], [rank], None, bench)
    ens = {"n_frames": 2, "md_steps": 100, "timestep_ps": 0.002, "temperature_K": 300.0,
           "restraint_k": 500.0, "minimise_iterations": 100}  # fmt: skip
    mm = {"electrostatics": "eps 1", "salt_concentration": 0.0, "nonpolar": "sasa", "trim_nm": 1.0}
    summary = {
        "settings": {
            "ensemble": ens,
            "mmgbsa": mm,
            "mmgbsa_evaluated_variants": ["gbn2_e1"],
            "dG_chosen_variant": "gbn2_e4",
            "ddG_chosen_variant": "gbn2_e4_nonp0",
        },
        "complexes": records,
        "benchmark_accuracy": bench,
        "species": species,
        "cpu_seconds_total": 240.0,
    }
    source, figure = tmp_path / "axis.json", tmp_path / "bars.png"
    source.write_text(json.dumps(summary))
    figure.write_bytes(b"\x89PNG\r\n\x1a\n")
    run = tmp_path / "run" / "models"
    run.mkdir(parents=True)
    write_energy_section(source, figure, run)
    build_report(run.parent, tmp_path / "report", "t")
    text = (tmp_path / "report" / "report.md").read_text()
    human = species["human"]["dG"]["mmgbsa/gbn2_e4"]
    assert human["difference_kcal_per_mol"] == pytest.approx(-5.0)
    assert "| human | mmgbsa/gbn2_e4 | -12.0 ± 0.2 | -7.0 ± 0.2 | -5.0 |" in text
    assert "resolved by sampling; not supported by the benchmark" in text
    assert "| mouse | mmgbsa/gbn2_e4 | -9.0 ± 0.2 | -9.5 ± 0.2 | 0.5 |" in text
    assert "not resolved: within sampling uncertainty" in text
    assert "| 5 | not in footprint | -1.5 | -1.5 | 2.5 | 0.5 | 2.0 ± 0.1 | resolved |" in text
    assert "same-species energetics with replica ensembles" not in text  # not reported missing
    assert list((tmp_path / "report" / "figures").glob("*.png"))


def test_trimmed_complex_can_be_sampled():
    """Replicas of an interface-trimmed (cut) complex: the whole-topology template match
    fails on the cut residues, matching without external bonds works, and the heavy-atom
    restraints keep every replica near the start (RMSD from numpy, not the sampler)."""
    from rankbind.energies.ensembles import EnsembleSettings, sample
    from rankbind.energies.mmgbsa import subtopology, trim_residues

    prepared = fragment()
    top = prepared.topology
    x0 = np.asarray(prepared.positions.value_in_unit(prepared.positions.unit))
    rec = selection_atoms(top, prepared.chains, "RANKL")
    lig = selection_atoms(top, prepared.chains, "OPG")
    keep = set(trim_residues(top, x0, rec, lig, 1.2))  # 7 of 24 residues
    assert 0 < len(keep) < top.getNumResidues()
    atoms = np.array([a.index for a in top.atoms() if a.residue.index in keep])
    sub = subtopology(top, atoms)
    settings = EnsembleSettings(n_frames=2, md_steps=5, minimise_iterations=5)
    with pytest.raises(RankbindError, match="cannot parametrise"):
        sample(sub, x0[atoms], settings)
    frames, record = sample(sub, x0[atoms], settings, ignore_external_bonds=True)
    assert frames.shape == (2, len(atoms), 3)
    heavy = [a.index for a in sub.atoms() if a.element.symbol != "H"]
    rmsd = np.sqrt(((frames[:, heavy] - x0[atoms][heavy]) ** 2).sum(-1).mean(-1))
    np.testing.assert_allclose(rmsd, record["heavy_atom_rmsd_to_start_nm"], rtol=1e-6)
    assert rmsd.max() < 0.05
    assert not np.allclose(frames[0], frames[1])  # independent replicas differ


def test_sample_trimmed_maps_the_partners():
    """sample_trimmed keeps exactly trim_residues' residues, and its receptor / ligand
    indices point at the same atoms (name, residue, chain) as in the full topology."""
    from rankbind.energies.ensembles import EnsembleSettings, sample_trimmed
    from rankbind.energies.mmgbsa import trim_residues

    prepared = fragment()
    top = prepared.topology
    x0 = np.asarray(prepared.positions.value_in_unit(prepared.positions.unit))
    rec = selection_atoms(top, prepared.chains, "RANKL")
    lig = selection_atoms(top, prepared.chains, "OPG")
    settings = EnsembleSettings(n_frames=2, md_steps=5, minimise_iterations=5)
    out = sample_trimmed(top, prepared.positions, rec, lig, 1.2, settings)
    keep = set(trim_residues(top, x0, rec, lig, 1.2))
    full_atoms = list(top.atoms())
    assert {full_atoms[a].residue.index for a in out.atoms} == keep
    sub_atoms = list(out.topology.atoms())
    key = lambda a: (a.name, a.residue.name, a.residue.id, a.residue.chain.id)  # noqa: E731
    for local, full in ((out.receptor, rec), (out.ligand, lig)):
        assert [key(sub_atoms[k]) for k in local] == [
            key(full_atoms[a]) for a in full if a in set(out.atoms.tolist())
        ]
    assert out.frames.shape == (2, len(out.atoms), 3)
    assert out.record["n_atoms_sampled"] == len(out.atoms)


def test_crystal_against_model_is_flagged_with_the_stronger_kind():
    from rankbind.analysis.report_sections import _crystal_model_notes

    data = {
        "complexes": {"a": {"label": "o", "kind": "crystal"}, "b": {"label": "r", "kind": "model"},
                      "c": {"label": "o2", "kind": "crystal"}},
        "species": {
            "human": {"structures": {"OPG": ["o"], "RANK": ["r"]},
                      "dG": {"mmgbsa/v": {"difference_kcal_per_mol": 5.0}}},
            "mouse": {"structures": {"OPG": ["o2"], "RANK": ["o2"]},
                      "dG": {"mmgbsa/v": {"difference_kcal_per_mol": -5.0}}},
        },
    }  # fmt: skip
    (note,) = _crystal_model_notes(data, "v")
    assert "human: the model (RANK)" in note and "mouse" not in note
    data["species"]["human"]["dG"]["mmgbsa/v"]["difference_kcal_per_mol"] = -1.0
    assert "human: the crystal (OPG)" in _crystal_model_notes(data, "v")[0]
    assert _crystal_model_notes(data, "other") == []
