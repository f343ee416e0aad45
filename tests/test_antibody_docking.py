"""Denosumab docking helpers: mouse->human RANKL numbering, per-residue MJ energies and the
species difference table (against hand-computed values)."""

from __future__ import annotations

import numpy as np
import pytest

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
