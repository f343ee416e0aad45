"""Denosumab docking helpers: mouse->human RANKL numbering, per-residue MJ energies and the
species difference table (against hand-computed values)."""

from __future__ import annotations

import numpy as np
import pytest

from rankbind.errors import RankbindError
from rankbind.modelling import antibody_docking as ad
from rankbind.modelling import docking as dk
from rankbind.modelling import pair_potential as pp
from rankbind.structures import build_assembly


def test_mouse_numbering_is_human_minus_one_at_the_epitope():
    # 4GIQ numbering is human - 1 over T233-Y241 (isoforms/_epitope_for docstrings)
    m = ad.mouse_to_human()
    assert [m[n] for n in range(232, 241)] == list(range(233, 242))


def test_residue_pair_energies_match_a_hand_sum():
    a = build_assembly("4GIQ", "interface")
    rec = dk.molecule_from_assembly(a, ["A", "B"])
    lig = dk.molecule_from_assembly(a, ["R"])
    per = ad.residue_pair_energies(rec, lig, lig.xyz)
    rc, rt, rk = rec.residue_centres()
    lc, lt, _ = lig.residue_centres()
    e = pp.mj_matrix()
    i = rk.index(next(iter(per)))
    d = np.linalg.norm(lc - rc[i], axis=1)
    assert per[rk[i]] == pytest.approx(float(e[rt[i], lt[d <= 6.5]].sum()))
    assert sum(per.values()) < 0


def test_species_differences_subtracts_by_human_number():
    human = {"poses": [{"mj_rt_by_residue_human_numbering": {"A233": -2.0, "B233": -1.0,
                                                              "A240": -0.5}}]}  # fmt: skip
    mouse = {"poses": [{"mj_rt_by_residue_human_numbering": {"A233": -1.0, "C250": -4.0}}]}
    assert ad.species_differences(human, mouse) == {"233": -2.0, "240": -0.5, "250": 4.0}


# --- statistics over rotation seeds, against numpy / scipy computed here -----------------


def _run(seed, score, buried, mj, shift=0.0, rank_scores=(0.0,)):
    """A synthetic per-seed run: rank-1 pose (plus extra poses) with a 2-atom ligand."""
    ca = [[0.0, 0.0, 0.0], [3.8, 0.0, 0.0]]
    poses = []
    for k, extra in enumerate(rank_scores):
        poses.append({
            "rank": k + 1, "score": score - extra, "rotation": np.eye(3).tolist(),
            "position_angstrom": [shift + 20.0 * k, 0.0, 0.0],
            "fraction_epitope_buried": buried, "overlap_opg_footprint": 0.2,
            "overlap_rank_footprint": 0.5, "epitope_T233_Y241_buried": [233, 234][: int(buried)],
            "mj_rt_by_residue_human_numbering": mj if k == 0 else {},
        })  # fmt: skip
    return {"seed": seed, "ligand_ca_centered_angstrom": ca, "poses": poses}


def test_seed_statistics_match_numpy_and_scipy_bootstrap():
    from scipy.stats import bootstrap

    v = np.random.default_rng(3).normal(0.5, 0.2, 9)
    s = ad.seed_statistics(v, n_boot=20000)
    assert s["mean"] == pytest.approx(v.mean(), abs=1e-4)
    assert s["se"] == pytest.approx(np.std(v, ddof=1) / 3.0, abs=1e-4)
    ref = bootstrap((v,), np.mean, n_resamples=20000, method="percentile",
                    random_state=np.random.default_rng(7)).confidence_interval  # fmt: skip
    assert s["ci95"][0] == pytest.approx(ref.low, abs=0.01)
    assert s["ci95"][1] == pytest.approx(ref.high, abs=0.01)
    assert ad.seed_statistics([1.0])["se"] is None


def test_difference_statistics_standard_error_and_resolution():
    from scipy.stats import t

    a = np.array([1.0, 1.2, 0.9, 1.1, 1.0])
    b = np.array([0.0, 0.3, -0.1, 0.2, 0.1, 0.2])
    d = ad.difference_statistics(a, b)
    se = np.sqrt(np.var(a, ddof=1) / 5 + np.var(b, ddof=1) / 6)
    assert d["difference"] == pytest.approx(a.mean() - b.mean(), abs=1e-4)
    assert d["se"] == pytest.approx(se, abs=1e-4)
    assert d["t_crit"] == pytest.approx(t.ppf(0.975, 4), abs=1e-3)
    assert d["resolved"] and d["ci95"][0] > 0
    # a shift of 2.5 s.e. is below t(0.975, 4) = 2.78 s.e.: not claimed
    assert not ad.difference_statistics(a, a - 2.5 * np.sqrt(2 / 5) * a.std(ddof=1))["resolved"]
    # too few seeds: never claimed, however large the difference
    assert not ad.difference_statistics(a[:4], b[:4] - 5.0)["resolved"]


def test_aggregate_seeds_against_numpy():
    mj_h = [{"A233": -2.0, "B233": -1.0}, {"A233": -4.0}, {"A240": -1.0}]
    mj_m = [{"A233": -1.0}, {"C233": -1.0, "A250": -2.0}, {}]
    runs = {
        "human": [
            _run(s, 100.0 + s, s % 2, mj_h[s], shift=0.5 * s, rank_scores=(0.0, 5.0))
            for s in range(3)
        ],  # fmt: skip
        "mouse": [_run(s, 90.0 - s, 1, mj_m[s]) for s in range(3)],
    }
    out = ad.aggregate_seeds(runs, cluster_rmsd=6.0)
    h = out["targets"]["human"]
    assert h["rank1"]["score"]["mean"] == pytest.approx(101.0)
    assert h["rank1"]["score"]["se"] == pytest.approx(
        np.std([100, 101, 102], ddof=1) / np.sqrt(3), abs=1e-4
    )
    assert h["top5_mean"]["score"]["mean"] == pytest.approx(np.mean([97.5, 98.5, 99.5]), abs=1e-4)
    assert h["epitope_residue_buried_fraction_rank1"]["233"] == pytest.approx(1 / 3, abs=1e-3)
    # residue 233 summed over protomers, 0 where not contacted
    h233, m233 = np.array([-3.0, -4.0, 0.0]), np.array([-1.0, -1.0, 0.0])
    assert h["mj_rt_rank1_by_residue"]["233"]["mean"] == pytest.approx(h233.mean(), abs=1e-4)
    d = out["differences"]["human_minus_mouse"]["mj_rt_rank1_by_residue"]
    assert set(d) == {"233", "240", "250"}
    assert d["233"]["difference"] == pytest.approx(h233.mean() - m233.mean(), abs=1e-4)
    assert d["233"]["se"] == pytest.approx(
        np.sqrt(h233.var(ddof=1) / 3 + m233.var(ddof=1) / 3), abs=1e-4
    )
    # rank-1 poses 0.5 Å apart form one cluster found by every seed; the rank-2 poses
    # (20 Å away) another
    c = h["clusters"]
    assert [(x["n_seeds"], x["n_seeds_rank1"]) for x in c] == [(3, 3), (3, 0)]
    assert c[0]["best"] == {"seed": 2, "rank": 1, "score": 102.0}
    assert "human_on_mouse_minus_mouse" not in out["differences"]


def test_report_section_shows_seed_statistics_with_labels():
    from rankbind.analysis.report_sections import denosumab_epitope, docking_seed_tables

    mj = [{"A233": e} for e in (-2.0, -4.0, -3.0, -2.0, -4.0)]
    runs = {
        "human": [_run(s, 100.0 + s, 0.5 + 0.1 * s, mj[s]) for s in range(5)],
        "mouse": [_run(s, 90.0, 0.3, {}) for s in range(5)],
    }
    summary = {
        "aggregate": ad.aggregate_seeds(runs, 6.0),
        "settings": {"spacing": 1.5, "rotation_spacing_deg": 20.0, "orientation_cone_deg": 60.0,
                     "restraint_weight": 2.88, "restraint_min_atoms": 20, "cluster_rmsd": 6.0},
        "statistics": "mean over seeds", "cpu_s_docking": 60.0, "date_utc": "d", "machine": "m",
        "exclusion_note": "Fv only",
    }  # fmt: skip
    tables, notes = docking_seed_tables(summary)
    v = np.array([0.5, 0.6, 0.7, 0.8, 0.9])
    row = tables[0]["rows"][0]
    assert row[0] == "human RANKL (3URF crystal)" and row[1] == 5
    assert row[2].startswith(f"{v.mean():.2f} ± {np.std(v, ddof=1) / np.sqrt(5):.2f} [")
    assert "computed" in tables[0]["caption"] and "MODEL" in tables[0]["caption"]
    # human - mouse at residue 233: -3 vs 0 with s.e. 1/sqrt(5): resolved
    assert any("233 -3.00 ± 0.45" in n for n in notes)
    diff = {(r[0], r[1]): r for r in tables[2]["rows"]}
    assert diff[("human − mouse", "T233-Y241 buried (fraction of 9)")][3] == "yes"
    deno = {"receptors": [], "species": {}, "label": "x"}
    section = denosumab_epitope(deno, summary)
    assert section["tables"][1:] == tables and "denosumab_docking_seeds" in section["provenance"]


def test_threaded_target_has_human_sequence_on_the_mouse_backbone():
    # the committed human-on-4GIQ trimer against the 3URF construct sequence (FASTA) and
    # the 4GIQ crystal backbone at the aligned positions (mouse number -> human number)
    from rankbind.structures.sequences import chain_residues, fasta_sequence

    model = ad.target_trimer("human_on_mouse")
    mouse = build_assembly("4GIQ", "trimer")
    sequence = fasta_sequence("3URF_constructs.fasta", "3URF_A_core")
    to_human = ad.mouse_to_human()
    for chain in "ABC":
        residues = chain_residues(model, chain)
        assert all(sequence[r.number - 162] == r.code for r in residues) and len(residues) > 140
        ca_model = {a.resseq: np.array(a.xyz) for a in model.atoms
                    if a.chain == chain and a.name == "CA"}  # fmt: skip
        pairs = [(ca_model[to_human[a.resseq]], np.array(a.xyz)) for a in mouse.atoms
                 if a.chain == chain and a.name == "CA" and to_human.get(a.resseq) in ca_model]  # fmt: skip
        d = np.array([np.linalg.norm(x - y) for x, y in pairs])
        assert len(d) > 140 and d.max() < 1.0  # restrained: a register shift is ~3.8 Å
    with pytest.raises(RankbindError, match="use one of"):
        ad.target_trimer("rat")
