"""rankbind.energies.variants: residue-type classes of protonation states (checked against
the net charges of amber14's residue templates) and the headline of the fixed variant."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from openmm import app
from scipy import stats

from rankbind.energies.variants import headline, headline_table, residue_class
from rankbind.errors import RankbindError
from rankbind.structures.sequences import one_letter


def _ff14sb_net_charges() -> dict[str, float]:
    """Net charge of every internal amino-acid residue template of ff14SB (OpenMM's XML)."""
    path = os.path.join(os.path.dirname(app.__file__), "data", "amber14", "protein.ff14SB.xml")
    out = {}
    for residue in ET.parse(path).getroot().iter("Residue"):
        name = residue.get("name")
        if len(name) == 3 and name not in ("ACE", "NME", "NHE"):
            out[name] = sum(float(a.get("charge")) for a in residue.iter("Atom"))
    return out


def test_residue_class_follows_the_charge_of_the_protonation_state():
    charges = _ff14sb_net_charges()
    # the protonation states of the force field are all there (HID/HIE/HIP, ASH, GLH, LYN, CYX)
    assert {"HID", "HIE", "HIP", "ASH", "GLH", "LYN", "CYX"} <= set(charges)
    for name, charge in charges.items():
        if one_letter(name) == "X" and name != "CYM":  # HYP (hydroxyproline): not classed
            continue
        charged = abs(charge) > 0.5
        assert (residue_class(name) == "charged") == charged, (name, charge)
    # neutral states keep their side chain's class: the neutral acids and base are polar,
    # neutral His is polar like HIS, a disulfide Cys non-polar like CYS
    assert [residue_class(n) for n in ("ASH", "GLH", "LYN", "HID", "HIE", "CYX", "MSE")] == [
        "polar", "polar", "polar", "polar", "polar", "nonpolar", "nonpolar"
    ]  # fmt: skip
    for name in ("HOH", "HYP"):
        with pytest.raises(RankbindError, match=f"'{name}': not an amino acid"):
            residue_class(name)


def test_headline_is_the_fixed_variants_figures_beside_the_nested_choice():
    from rankbind.energies.variants import evaluate_variants

    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(6), 5).astype(str)
    y = rng.normal(size=30)
    scores = {"obc2_e1": y + rng.normal(0, 0.5, 30), "gbn2_e1": rng.normal(size=30)}
    section = evaluate_variants(scores, y, groups, None, n_bootstrap=100)
    top = headline(section, "gbn2_e1")
    assert top["variant"] == "gbn2_e1"
    pearson = top["raw"]["figures"]["pearson"]["value"]
    assert pearson == pytest.approx(stats.pearsonr(scores["gbn2_e1"], y)[0])
    # the nested choice is made on the data, whatever variant was fixed
    assert top["nested_selection"]["final_choice"] == "obc2_e1"
    table = "\n".join(headline_table(section, "gbn2_e1", "t", None))
    assert "gbn2_e1 (fixed before evaluation)" in table and "obc2_e1 (fixed" not in table
    assert "error" in headline(section, "gbn2_e4")
    assert "not computed" in "\n".join(headline_table(section, "gbn2_e4", "t", None))
