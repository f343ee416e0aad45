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
    # Debye screening, OpenMM/Amber convention (0.73 x the Debye-Hueckel kappa), at 300 K
    assert meta["solvation"]["debye_kappa_per_nm"] == pytest.approx(
        0.73 * _debye_huckel_kappa(0.15, 300.0), rel=1e-3
    )
    assert meta["solvation"]["kappa_convention"] == "openmm-amber"
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


def test_a_residue_alone_between_gaps_fails_clearly_or_is_removed():
    """3MJ9's heavy chain has PRO 200 between two unbuilt gaps: a free amino acid, which
    amber14 has no template for. Here RANKL GLN 237 alone after a gap (236 left out)."""
    from openmm import unit

    assembly = extract(build_assembly("3URF", "interface"),
                       ["RANKL/A:233-234", "RANKL/A:237", "OPG:114-115"])  # fmt: skip
    options = PreparationOptions(solvent="vacuum", rebuild_internal_loops=False)
    with pytest.raises(PreparationError, match=r"A:GLN237 stand alone .*no template"):
        prepare(assembly, options)
    prepared = prepare(assembly, options.replace(isolated_residues="remove"))
    assert prepared.metadata["isolated_residues_removed"] == ["A:GLN237"]
    # the crystal's other residues are kept, at their crystal coordinates (Å -> nm)
    kept = [(r.chain.id, int(r.id)) for r in prepared.topology.residues()]
    assert kept == [("A", 233), ("A", 234), ("R", 114), ("R", 115)]
    xyz = prepared.positions.value_in_unit(unit.nanometer)
    ca = {(a.residue.chain.id, int(a.residue.id)): xyz[a.index] for a in prepared.topology.atoms()
          if a.name == "CA"}  # fmt: skip
    crystal = {(a.chain, a.resseq): np.array(a.xyz) / 10 for a in assembly.atoms
               if a.name == "CA"}  # fmt: skip
    for key, value in ca.items():
        np.testing.assert_allclose(value, crystal[key], atol=2e-4)


def _debye_huckel_kappa(molar: float, kelvin: float, eps_r: float = 78.5) -> float:
    """Inverse Debye length (1/nm) of a 1:1 salt from CODATA constants:
    kappa^2 = 2 N_A e^2 I / (eps0 eps_r k_B T), I in mol/m^3."""
    from scipy import constants as c

    ionic = molar * 1000.0
    return float(np.sqrt(2 * c.N_A * c.e**2 * ionic / (c.epsilon_0 * eps_r * c.k * kelvin)) * 1e-9)


def _system_kappa(system: openmm.System) -> float:
    """The kappa written into the energy expressions of the System's CustomGBForce."""
    import re

    (force,) = [f for f in system.getForces() if isinstance(f, openmm.CustomGBForce)]
    values = {
        float(m)
        for i in range(force.getNumEnergyTerms())
        for m in re.findall(r"kappa=([-+0-9.eE]+)", force.getEnergyTermParameters(i)[0])
    }
    assert len(values) == 1
    return values.pop()


def test_debye_kappa_conventions_against_the_debye_huckel_formula():
    from rankbind.debye import debye_kappa

    for molar, kelvin in [(0.15, 300.0), (0.15, 310.0), (0.5, 298.15)]:
        reference = _debye_huckel_kappa(molar, kelvin)
        # Amber's 50.33355 constant agrees with CODATA to 9e-4
        assert debye_kappa(molar, kelvin, "debye-huckel") == pytest.approx(reference, rel=1e-3)
        assert debye_kappa(molar, kelvin) == pytest.approx(0.73 * reference, rel=1e-3)
    assert debye_kappa(0.15, 300.0) == pytest.approx(0.927, abs=1e-3)
    assert debye_kappa(0.0, 300.0) == 0.0
    with pytest.raises(SettingsError, match="convention 'amber'"):
        debye_kappa(0.15, 300.0, "amber")


def test_kappa_is_equal_in_preparation_and_mmgbsa_at_the_run_temperature():
    """Both layers build Systems with the same kappa for the same salt and temperature
    (read back from the CustomGBForce expressions), equal to 0.73 x Debye-Hueckel."""
    from rankbind.energies.mmgbsa import MMGBSASettings, build_system

    assembly = extract(build_assembly("3URF", "interface"), list(FRAGMENT))
    options = PreparationOptions(solvent="implicit", temperature_K=310.0, ionic_strength_molar=0.15)
    prepared = prepare(assembly, options)
    settings = MMGBSASettings(salt_concentration=0.15, temperature=310.0)
    kappa_mm = _system_kappa(build_system(prepared.topology, settings))
    kappa_prep = _system_kappa(prepared.system)
    assert kappa_prep == pytest.approx(kappa_mm, rel=1e-12)
    assert settings.kappa == pytest.approx(kappa_prep, rel=1e-12)
    assert kappa_prep == pytest.approx(0.73 * _debye_huckel_kappa(0.15, 310.0), rel=1e-3)
    assert prepared.metadata["solvation"]["kappa_temperature_K"] == 310.0


_REPRODUCE = """
import sys
import numpy as np
from openmm import unit
from rankbind.preparation import PreparationOptions, prepare
from rankbind.structures.assembly import build_assembly, extract

assembly = extract(build_assembly("3URF", "interface"), ["RANKL/A:230-240", "OPG:100-112"])
prepared = prepare(assembly, PreparationOptions(solvent="vacuum", seed=int(sys.argv[2])))
np.save(sys.argv[1], np.array(prepared.positions.value_in_unit(unit.nanometer)))
"""


def test_preparation_is_reproducible_across_processes(tmp_path):
    """Same inputs and seed in two fresh processes (different hash seeds): identical
    coordinates, bit for bit; the seed is recorded."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = []
    for k, hash_seed in enumerate(["1", "2"]):
        path = tmp_path / f"x{k}.npy"
        env = os.environ | {"PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(root)}
        subprocess.run(
            [sys.executable, "-c", _REPRODUCE, str(path), "7"],
            check=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
        )
        out.append(np.load(path))
    assert out[0].shape[0] > 300  # hydrogens were added
    np.testing.assert_array_equal(out[0], out[1])
    assert fragment().metadata["random_seed"]["seed"] == PreparationOptions().seed
