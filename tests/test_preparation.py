"""Preparation: disulfides from SSBOND, recorded choices, solvation, force fields."""

from __future__ import annotations

import json

import numpy as np
import openmm
import pytest
from helpers import FRAGMENT, fragment

from rankbind.errors import PreparationError, SettingsError
from rankbind.preparation import PreparationOptions, load_prepared, prepare, write_prepared
from rankbind.structures import build_assembly, get_entry
from rankbind.structures.assembly import extract


def _ssbond_records(entry: str) -> int:
    return sum(
        1 for line in get_entry(entry).path.read_text().splitlines() if line.startswith("SSBOND")
    )


@pytest.mark.parametrize(("entry", "receptor"), [("3URF", "OPG"), ("4GIQ", "RANK")])
def test_every_ssbond_becomes_a_disulfide(entry, receptor):
    """Cysteine-rich receptors: the prepared topology has one SG-SG bond per SSBOND record,
    and those cysteines are CYX (no HG) so amber parameterises them as bridged."""
    assembly = extract(build_assembly(entry, "asu"), [receptor])
    prepared = prepare(assembly, PreparationOptions(solvent="vacuum"))
    expected = _ssbond_records(entry)
    assert expected in (9, 10)
    assert prepared.disulfide_count() == expected
    assert prepared.metadata["disulfide_bonds"] == prepared.metadata["ssbond_records"] == expected
    bridged = {a.residue for a, b in prepared.topology.bonds() if a.name == b.name == "SG"}
    assert all(not any(at.name == "HG" for at in res.atoms()) for res in bridged)


def test_choices_recorded_and_round_trip(tmp_path):
    prepared = fragment("implicit", "OBC2")
    out = write_prepared(prepared, tmp_path / "prep")
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["options"]["gb_model"] == "OBC2"
    assert meta["options"]["ph"] == 7.0
    assert meta["forcefield_files"] == ["amber14-all.xml", "implicit/obc2.xml"]
    # Debye screening from first principles: kappa^2 = 2 N_A e^2 I / (eps0 eps_r k_B T)
    from scipy import constants as c

    ionic = 0.15 * 1000.0  # mol/m^3
    kappa = np.sqrt(2 * c.N_A * c.e**2 * ionic / (c.epsilon_0 * 78.5 * c.k * 300.0)) * 1e-9
    assert meta["solvation"]["debye_kappa_per_nm"] == pytest.approx(kappa, rel=1e-3)
    assert meta["versions"]["openmm"] == openmm.__version__
    assert meta["assembly"].startswith("3URF/interface[")
    loaded = load_prepared(out)
    assert loaded.topology.getNumAtoms() == prepared.topology.getNumAtoms()
    assert (out / "prepared.cif").stat().st_size > 0
    # the PDB says what each chain is, for the contacts/MM-GBSA CLIs
    from rankbind.structures.assembly import read_chain_records

    assert read_chain_records(out / "prepared.pdb") == prepared.chains
    assert {c.chain_id for c in prepared.chains} == {c.id for c in loaded.topology.chains()}
    forces = {type(f).__name__ for f in loaded.system.getForces()}
    assert "CustomGBForce" in forces
    # hydrogen mass repartitioning to 1.5 amu is recorded and applied
    masses = [
        loaded.system.getParticleMass(i)._value for i in range(loaded.system.getNumParticles())
    ]
    assert min(m for m in masses if m > 0) == pytest.approx(1.5)


def test_explicit_solvent_amber19_opc():
    assembly = extract(build_assembly("3URF", "interface"), ["RANKL/A:233-236"])
    prepared = prepare(
        assembly,
        PreparationOptions(
            forcefield="amber19", solvent="explicit", padding_nm=0.8, box_shape="cube"
        ),
    )
    meta = prepared.metadata
    assert meta["options"]["water_model"] == "opc"
    assert meta["forcefield_files"] == ["amber19-all.xml", "amber19/opc.xml"]
    residues = [r.name for r in prepared.topology.residues()]
    assert residues.count("HOH") == meta["solvation"]["n_waters"] > 100
    # OPC is a 4-site model: each water has a virtual site
    assert (
        sum(1 for a in next(r for r in prepared.topology.residues() if r.name == "HOH").atoms())
        == 4
    )
    # 0.15 M NaCl plus neutralisation: at least one ion of some kind, and a net-neutral system
    nb = next(f for f in prepared.system.getForces() if isinstance(f, openmm.NonbondedForce))
    charge = sum(nb.getParticleParameters(i)[0]._value for i in range(nb.getNumParticles()))
    assert abs(charge) < 1e-4
    assert nb.getNonbondedMethod() == openmm.NonbondedForce.PME


def test_bad_options_are_named():
    with pytest.raises(
        SettingsError, match=r"gb_model: Input should be 'GBn2' or 'OBC2' \(got 'GBn7'\)"
    ):
        PreparationOptions(gb_model="GBn7")
    with pytest.raises(SettingsError, match="water_model"):
        PreparationOptions(forcefield="amber14", water_model="spc")
    with pytest.raises(SettingsError, match="ph: Input should be less than or equal to 14"):
        PreparationOptions(ph=15)
    with pytest.raises(SettingsError, match="finite"):
        PreparationOptions(padding_nm=float("nan"))


def test_glycan_kept_fails_clearly():
    assembly = extract(build_assembly("3URF", "asu"), list(FRAGMENT[1:]))
    assembly.atoms.extend(a for a in build_assembly("3URF", "asu").atoms if a.resname == "NAG")
    with pytest.raises(PreparationError, match="NAG|template"):
        prepare(assembly, PreparationOptions(solvent="vacuum", remove_glycans=False))
