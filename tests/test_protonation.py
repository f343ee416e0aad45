"""Protonation fit for scoring: PDB2PQR/PROPKA choices applied as recorded, amide flips
checked against the plain exchange of the input's OE1/NE2 positions, the 3URF Gln237 …
OPG Glu116 polar H–H contact removed, audit checked against brute-force numpy, implicit
relaxation keeps heavy atoms near their start."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from openmm import app, unit

from rankbind.errors import PreparationError, SettingsError
from rankbind.platforms import cpu_platform as helper_platform
from rankbind.preparation import PreparationOptions, prepare
from rankbind.protonation import (
    POLAR_HH_NM,
    applied_states,
    apply_plan,
    audit,
    plan_protonation,
)
from rankbind.structures.assembly import build_assembly, extract

pytest.importorskip("pdb2pqr")
# RANKL Gln237 faces OPG Glu116 across the 3URF interface (issue 15: 1.38 Å H–H contact)
SEGMENTS = ["RANKL/A:235-241", "OPG:112-118"]


@lru_cache(maxsize=1)
def _heavy():
    import io

    from pdbfixer import PDBFixer

    assembly = extract(build_assembly("3URF", "interface"), SEGMENTS)
    fixer = PDBFixer(pdbfile=io.StringIO(assembly.to_pdb_text()), platform=helper_platform())
    fixer.findMissingResidues()
    fixer.missingResidues = {}
    fixer.findMissingAtoms()
    fixer.addMissingAtoms()
    return fixer.topology, fixer.positions


def _residue(topology, chain_name_number):
    name, number = chain_name_number
    return next(r for r in topology.residues() if r.name == name and r.id == number)


def test_flip_is_the_exchange_of_amide_positions_and_states_applied():
    topology, positions = _heavy()
    plan = plan_protonation(topology, positions, ph=7.0)
    gln = next(c for c in plan.choices if c.name == "GLN" and c.residue == "237")
    assert gln.flipped, "PDB2PQR's network optimiser flips RANKL Gln237"
    flipped, variants = apply_plan(topology, positions, plan)
    x0 = np.array(positions.value_in_unit(unit.nanometer))
    x1 = np.array(flipped.value_in_unit(unit.nanometer))
    for residue in topology.residues():
        choice = plan.by_key().get(
            (residue.chain.id, residue.id, (residue.insertionCode or "").strip())
        )
        idx = {a.name: a.index for a in residue.atoms()}
        if choice is not None and choice.flipped and residue.name in ("ASN", "GLN"):
            a, b = ("OD1", "ND2") if residue.name == "ASN" else ("OE1", "NE2")
            np.testing.assert_array_equal(x1[idx[a]], x0[idx[b]])
            np.testing.assert_array_equal(x1[idx[b]], x0[idx[a]])
        else:  # nothing else moved
            np.testing.assert_array_equal(x1[list(idx.values())], x0[list(idx.values())])
    modeller = app.Modeller(topology, flipped)
    modeller.addHydrogens(
        app.ForceField("amber14-all.xml"), pH=7.0, variants=variants, platform=helper_platform()
    )
    states = applied_states(modeller.topology)
    recorded = {c.key: c.state for c in plan.choices if c.key in states}
    assert recorded and {k: states[k] for k in recorded} == recorded
    record = plan.as_dict()
    assert record["n_flipped"] >= 1 and record["ph"] == 7.0
    assert all("pka" in r and "state" in r for r in record["residues"])


def _polar_hh_brute_force(topology, x):
    """Polar H pairs in different residues closer than 0.16 nm, all pairs by numpy."""
    bonded = {}
    for a, b in topology.bonds():
        bonded.setdefault(a.index, []).append(b)
        bonded.setdefault(b.index, []).append(a)
    polar = [
        a
        for a in topology.atoms()
        if a.element.symbol == "H" and bonded[a.index][0].element.symbol in ("N", "O", "S")
    ]
    idx = np.array([a.index for a in polar])
    d = np.linalg.norm(x[idx][:, None] - x[idx][None], axis=-1)
    out = set()
    for i, j in zip(*np.nonzero(np.triu(d < POLAR_HH_NM, 1)), strict=True):
        if polar[i].residue is not polar[j].residue:
            out.add(frozenset((polar[i].index, polar[j].index)))
    return out


def test_prepare_with_propka_removes_gln237_contact_and_relaxes_in_gb():
    assembly = extract(build_assembly("3URF", "interface"), SEGMENTS)
    options = PreparationOptions(
        solvent="implicit", protonation="propka", relax="implicit", relax_max_iterations=50
    )
    prepared = prepare(assembly, options)
    meta = prepared.metadata
    assert meta["protonation"]["method"].startswith("PDB2PQR")
    gln = next(r for r in meta["protonation"]["residues"] if r["label"].startswith("GLN237"))
    assert gln["flipped"] is True
    x = np.array(prepared.positions.value_in_unit(unit.nanometer))
    gln_h = [
        a.index
        for a in _residue(prepared.topology, ("GLN", "237")).atoms()
        if a.name in ("HE21", "HE22")
    ]
    glu_h = [a.index for a in _residue(prepared.topology, ("GLU", "116")).atoms() if a.name == "H"]
    assert len(gln_h) == 2 and len(glu_h) == 1
    assert np.linalg.norm(x[gln_h] - x[glu_h], axis=1).min() > 0.16
    # the audit's polar H–H list equals a brute-force numpy search, and is empty here
    brute = _polar_hh_brute_force(prepared.topology, x)
    flagged = meta["audit"]["polar_hh_contacts"]
    assert len(flagged) == len(brute) == 0
    # relaxed in implicit solvent, heavy atoms held near the crystal
    relax = meta["relaxation"]
    assert "implicit solvent" in relax["method"]
    assert relax["energy_after_kJ_per_mol"] < relax["energy_before_kJ_per_mol"]
    assert relax["heavy_atom_rmsd_nm"] < 0.05
    # states in the topology are the recorded ones
    states = applied_states(prepared.topology)
    for r in meta["protonation"]["residues"]:
        key = (r["chain"], r["residue"], r["insertion"])
        if key in states:
            assert states[key] == r["state"], r["label"]


def test_audit_flags_a_planted_polar_contact_like_brute_force():
    topology, positions = _heavy()
    modeller = app.Modeller(topology, positions)
    modeller.addHydrogens(app.ForceField("amber14-all.xml"), pH=7.0, platform=helper_platform())
    x = np.array(modeller.positions.value_in_unit(unit.nanometer))
    gln = _residue(modeller.topology, ("GLN", "237"))
    glu = _residue(modeller.topology, ("GLU", "116"))
    h1 = next(a.index for a in gln.atoms() if a.name == "HE21")
    h2 = next(a.index for a in glu.atoms() if a.name == "H")
    x[h1] = x[h2] + np.array([0.12, 0.0, 0.0])  # plant a 1.2 Å polar H–H contact
    report = audit(modeller.topology, x)
    found = {
        frozenset(
            next(
                a.index
                for a in modeller.topology.atoms()
                if f"{a.residue.name}{a.residue.id}/{a.residue.chain.id}:{a.name}" == lab
            )
            for lab in c["atoms"]
        )
        for c in report["polar_hh_contacts"]
    }
    assert found == _polar_hh_brute_force(modeller.topology, x)
    assert frozenset((h1, h2)) in found
    assert any(r.startswith("GLN237") for r in report["flagged_residues"])


def test_bad_protonation_options_are_named():
    with pytest.raises(SettingsError, match="protonation.*'magic'"):
        PreparationOptions(protonation="magic")
    topology, positions = _heavy()
    with pytest.raises(PreparationError, match="pH 15"):
        plan_protonation(topology, positions, ph=15.0)


def test_a_chain_split_in_pieces_with_one_id_gets_the_same_plan():
    """Two pieces of one chain id (as PDBFixer makes at a gap) are planned under temporary
    ids and mapped back: the same states and flips as with distinct ids."""
    topology, positions = _heavy()
    plan = plan_protonation(topology, positions, ph=7.0)
    renamed = app.Modeller(topology, positions)
    ids = [c.id for c in renamed.topology.chains()]
    for chain in renamed.topology.chains():
        chain.id = ids[0]  # both segments now carry one id (residue numbers stay unique)
    split = plan_protonation(renamed.topology, renamed.positions, ph=7.0)
    key = lambda c: (c.residue, c.name, c.state, c.flipped)  # noqa: E731
    assert sorted(map(key, split.choices)) == sorted(map(key, plan.choices))
    assert {c.chain for c in split.choices} == {ids[0]}
