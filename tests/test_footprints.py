"""Footprints of OPG and RANK on RANKL, numbering map, competition map."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rankbind.analysis import footprints as fpm
from rankbind.structures import build_assembly

# structures/SOURCES.md (3ME2 section): RANKL residues within 4 Å of RANK R, measured on
# the BIOMT 1 (our chain A) and BIOMT 3 (our chain C) copies, an independent reference.
SOURCES_3ME2 = {
    "A": {179, 180, 234, 236, 240, 247, 248, 252, 253, 281, 283},
    "C": {171, 190, 191, 222, 224, 225, 226, 266, 268, 299, 300, 301, 302},
}


@pytest.fixture(scope="module")
def opg_rank():
    """OPG (3URF) and RANK (4GIQ) footprints with the complexes for the steric test."""
    opg = fpm.entry_footprint(build_assembly("3URF", "interface"), "OPG/R", name="OPG 3URF")
    rank = fpm.entry_footprint(build_assembly("4GIQ", "interface"), "RANK/R", name="RANK 4GIQ")
    return opg, rank


def test_footprints_span_two_protomers_and_reproduce(opg_rank):
    (opg, _), (rank, _) = opg_rank
    for fp in (opg, rank):
        assert len(fp.residues) >= 15
        assert len(fp.protomers) == 2
        per_chain = {c: sum(r.chain == c for r in fp.residues) for c in fp.protomers}
        assert min(per_chain.values()) >= 5, per_chain
        assert fp.buried_sasa_total > 1000.0  # Å², both sides of a receptor-groove interface
        assert all(r.buried_sasa >= -1e-6 for r in fp.residues)
    again, _ = fpm.entry_footprint(build_assembly("3URF", "interface"), "OPG/R", name="OPG 3URF")
    assert json.dumps(again.to_json(), sort_keys=True) == json.dumps(opg.to_json(), sort_keys=True)


def test_3me2_footprint_matches_sources_md():
    assembly = build_assembly("3ME2", "trimer_receptor")
    traj = fpm.protein_trajectory(assembly)
    fp = fpm.footprint(traj, assembly.chains, "RANK/R", cutoff=0.40, with_sasa=False)
    got = {c: {r.number for r in fp.residues if r.chain == c} for c in fp.protomers}
    assert got == SOURCES_3ME2


def test_mouse_to_human_numbering():
    """Mouse RANKL (4GIQ) maps onto human (3URF) with the +1 offset and ~90 % identity
    stated in SOURCES.md (141/156 identical, mouse numbering offset -1)."""
    assembly = build_assembly("4GIQ", "asu")
    traj = fpm.protein_trajectory(assembly)
    nmap = fpm.numbering_for(traj, assembly.chains)
    assert nmap.n_aligned >= 150
    assert 0.88 <= nmap.identity <= 0.93
    assert all(h - m == 1 for m, h in nmap.mapping.items())


def test_opg_and_rank_compete(opg_rank, tmp_path):
    (opg, opg_cx), (rank, rank_cx) = opg_rank
    cmap = fpm.competition_map([opg, rank], [opg_cx, rank_cx])
    (pair,) = cmap.pairs
    assert pair.verdict == "exclusive"
    assert pair.steric["clash_pairs"] >= fpm.CLASH_PAIRS
    assert pair.steric["ca_rmsd_nm"] < 0.3  # mouse and human RANKL superpose well
    assert len(pair.shared) >= 5 and 0.2 < pair.jaccard < 1.0
    assert pair.shared_buried_sasa > 0
    table = cmap.residue_table()
    both = [row["rankl_residue_human"] for row in table if row["binders"].count(";") == 1]
    assert sorted(both) == pair.shared
    fpm.write_residue_csv(tmp_path / "res.csv", cmap)
    fpm.plot_competition(tmp_path / "map.png", cmap)
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((tmp_path / "res.csv").read_text().splitlines()) == len(table) + 1


def test_fallback_overlap_verdict():
    """Without coordinates: disjoint footprints co-bind, identical ones are exclusive."""

    def fake(name, numbers):
        res = [fpm.FootprintResidue("A", n, n, "ALA", 1.0, 10.0) for n in numbers]
        nmap = fpm.identity_numbering(list(numbers), "x")
        return fpm.Footprint(name, name, "human", 0.4, res, float(10 * len(res)), 1, nmap)

    a, b, c = fake("a", range(200, 210)), fake("b", range(250, 260)), fake("c", range(200, 210))
    assert fpm.compare(a, b).verdict == "co-bind" and fpm.compare(a, b).jaccard == 0.0
    same = fpm.compare(a, c)
    assert same.verdict == "exclusive" and same.jaccard == 1.0
    assert np.isclose(same.shared_buried_sasa, 100.0)
