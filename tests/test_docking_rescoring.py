"""MM/GBSA rescoring of docked poses (rankbind.modelling.docking_rescoring).

Reference: OpenMM directly (amber14-all.xml + the variant's implicit-solvent XML,
NoCutoff, no constraints, no surface term, Reference platform, double precision):
E(complex) - E(receptor) - E(ligand) of the same coordinates.

System: a 21-residue fragment of the 3URF RANKL/OPG interface (RANKL segments A-C, OPG
segments D-E, each its own chain), prepared with PDBFixer (missing atoms, hydrogens at
pH 7); ~340 atoms, so every evaluation takes milliseconds."""

from __future__ import annotations

import functools

import numpy as np
import openmm
import pytest
from helpers import fixed_segments
from openmm import app, unit

from rankbind.energies.mmgbsa import subtopology
from rankbind.errors import RankbindError
from rankbind.modelling import docking as dk
from rankbind.modelling import docking_rescoring as rs
from rankbind.settings import DockingSettings

XML = {"obc2_e1_nonp0": "implicit/obc2.xml", "gbn2_e1_nonp0": "implicit/gbn2.xml"}


@pytest.fixture(scope="module")
def partners():
    topology, x = fixed_segments()
    out = []
    for chains in ("ABC", "DE"):
        atoms = [a.index for a in topology.atoms() if a.residue.chain.id in chains]
        out.append(rs.AllAtomPartner(subtopology(topology, atoms), x[atoms]))
    return tuple(out)


def _molecule(partner: rs.AllAtomPartner) -> dk.Molecule:
    """Heavy-atom docking Molecule of a partner (Å), as molecule_from_assembly builds it."""
    atoms = [a for a in partner.topology.atoms() if a.element.symbol != "H"]
    idx = [a.index for a in atoms]
    return dk.Molecule(
        xyz=partner.positions_nm[idx] * 10.0,
        charges=np.array([dk.CHARGES.get((a.residue.name, a.name), 0.0) for a in atoms]),
        is_ca=np.array([a.name == "CA" for a in atoms]),
        is_backbone=np.array([a.name in ("N", "CA", "C", "O") for a in atoms]),
        residues=[(a.residue.chain.id, int(a.residue.id)) for a in atoms],
        restraint=np.zeros(len(atoms), dtype=bool),
        atom_names=[a.name for a in atoms],
        resnames=[a.residue.name for a in atoms],
        elements=[a.element.symbol for a in atoms],
    )


@functools.lru_cache
def _forcefield(xml: str) -> app.ForceField:
    return app.ForceField("amber14-all.xml", xml)


def _reference_dg_kj(receptor, ligand_topology, ligand_xyz, xml: str, eps_in=1.0) -> float:
    """OpenMM ΔE = E(complex) - E(receptor) - E(ligand), kJ/mol (independent of rankbind).
    ``eps_in``: solute dielectric of the GB force (OpenMM's soluteDielectric) and of Coulomb
    (NonbondedForce charges / √ε_in, exception charge products / ε_in)."""
    ff = _forcefield(xml)
    platform = openmm.Platform.getPlatformByName("Reference")

    def energy(topology, xyz):
        system = ff.createSystem(topology, nonbondedMethod=app.NoCutoff, constraints=None,
                                 soluteDielectric=eps_in, solventDielectric=78.5,
                                 sasaMethod=None)  # fmt: skip
        for force in system.getForces():
            if isinstance(force, openmm.NonbondedForce):
                for i in range(force.getNumParticles()):
                    q, sig, eps = force.getParticleParameters(i)
                    force.setParticleParameters(i, q / np.sqrt(eps_in), sig, eps)
                for i in range(force.getNumExceptions()):
                    a, b, qq, sig, eps = force.getExceptionParameters(i)
                    force.setExceptionParameters(i, a, b, qq / eps_in, sig, eps)
        context = openmm.Context(system, openmm.VerletIntegrator(0.001), platform)
        context.setPositions(xyz * unit.nanometer)
        e = context.getState(getEnergy=True).getPotentialEnergy()
        return e.value_in_unit(unit.kilojoule_per_mole)

    both = app.Modeller(receptor.topology, receptor.positions_nm * unit.nanometer)
    both.add(ligand_topology, ligand_xyz * unit.nanometer)
    xyz = np.concatenate([receptor.positions_nm, ligand_xyz])
    return (
        energy(both.topology, xyz)
        - energy(receptor.topology, receptor.positions_nm)
        - energy(ligand_topology, ligand_xyz)
    )


def _poses(receptor, ligand):
    """The native placement (FFT rank 1) and the ligand pulled 8, 4 and 2 Å away from
    the receptor (ranks 2-4). In this fragment (charged segment termini, ε_in = 1, no
    relax) the desolvation penalty grows with contact, so MM/GBSA reverses ranks 1-3."""
    center = ligand.positions_nm.mean(0) * 10.0
    away = center - receptor.positions_nm.mean(0) * 10.0
    away /= np.linalg.norm(away)
    poses = []
    for rank, shift in enumerate((0.0, 8.0, 4.0, 2.0), start=1):
        poses.append(dk.Pose(rank=rank, rotation=np.eye(3), position=center + shift * away,
                             score=0.0, shape=0.0, energy_kcal=0.0, restraint_atoms=0.0,
                             ligand_center=center))  # fmt: skip
    return poses


@pytest.mark.parametrize("variant", ["obc2_e1_nonp0", "gbn2_e1_nonp0"])
def test_rescoring_equals_openmm_and_ranks_by_it(partners, variant):
    receptor, ligand = partners
    settings = DockingSettings(rank_by="mmgbsa", mmgbsa_variant=variant, mmgbsa_rescore_top=3,
                               mmgbsa_trim_nm=0.0, mmgbsa_relax_iterations=0,
                               mmgbsa_platform="Reference")  # fmt: skip
    poses = _poses(receptor, ligand)
    placed = {p.rank: p.apply(ligand.positions_nm * 10.0) / 10.0 for p in poses}
    result = dk.DockingResult(poses=poses, settings=settings, grid_size=0, n_rotations=0,
                              ligand_center=poses[0].ligand_center, restrained=False)  # fmt: skip
    out = rs.rescore_mmgbsa(result, receptor, ligand, progress=False)
    rescored = out.poses[:3]
    for pose in rescored:
        ref = _reference_dg_kj(receptor, ligand.topology, placed[pose.mmgbsa["previous_rank"]],
                               XML[variant])  # fmt: skip
        assert pose.mmgbsa["dG_kJ_per_mol"] == pytest.approx(ref, rel=1e-6, abs=1e-3)
        assert pose.mmgbsa["dG_kcal_per_mol"] == pytest.approx(ref / 4.184, rel=1e-6, abs=1e-3)
        assert pose.mmgbsa["variant"] == variant and pose.mmgbsa["cpu_s"] >= 0
    scores = [p.mmgbsa["dG_kJ_per_mol"] for p in rescored]
    assert scores == sorted(scores)
    # the reference numbers order the three rescored poses (FFT ranks 1-3) the same way
    refs = {r: _reference_dg_kj(receptor, ligand.topology, placed[r], XML[variant]) for r in (1, 2, 3)}  # fmt: skip
    assert [p.mmgbsa["previous_rank"] for p in rescored] == sorted(refs, key=refs.get)
    assert sorted(refs, key=refs.get) != [1, 2, 3]  # the rescoring had to re-order
    assert [p.rank for p in out.poses] == [1, 2, 3, 4]
    last = out.poses[3]  # beyond mmgbsa_rescore_top: not rescored, stays behind
    assert last.mmgbsa is None and "mmgbsa" not in last.to_dict()
    assert "mmgbsa" in rescored[0].to_dict()


def test_relaxed_trimmed_score_equals_openmm_on_relaxed_coordinates(partners):
    receptor, ligand = partners
    settings = DockingSettings(mmgbsa_trim_nm=5.0, mmgbsa_relax_iterations=20,
                               mmgbsa_platform="Reference")  # fmt: skip
    pose = _poses(receptor, ligand)[0]  # native placement
    topology, xyz, rec, lig = rs.complex_of(receptor, ligand, pose)
    record, relaxed = rs.score_complex(topology, xyz, rec, lig, settings)
    assert record["trimmed_residues"] == topology.getNumResidues()  # 5 nm keeps all
    heavy = [a.index for a in topology.atoms() if a.element.symbol != "H"]
    moved = np.linalg.norm(relaxed[heavy] - xyz[heavy], axis=1)
    assert 0 < moved.max() < 0.05  # restrained: heavy atoms move, but < 0.5 Å
    assert record["relax"]["energy_after_kJ_per_mol"] < record["relax"]["energy_before_kJ_per_mol"]
    lig_relaxed = relaxed[lig]
    rec_partner = rs.AllAtomPartner(receptor.topology, relaxed[rec])
    ref = _reference_dg_kj(rec_partner, ligand.topology, lig_relaxed, XML["obc2_e1_nonp0"])
    assert record["dG_kJ_per_mol"] == pytest.approx(ref, rel=1e-6, abs=1e-3)


def test_several_variants_from_one_structure_equal_openmm(partners):
    """score_complex(variants=...): each named fixed-ε_in variant on the same structure
    equals a direct OpenMM evaluation at that GB model and ε_in (Coulomb and GB both
    scaled), and the scoring variant's entry equals the record's own score."""
    receptor, ligand = partners
    settings = DockingSettings(mmgbsa_trim_nm=0.0, mmgbsa_relax_iterations=0,
                               mmgbsa_platform="Reference")  # fmt: skip
    pose = _poses(receptor, ligand)[0]
    topology, xyz, rec, lig = rs.complex_of(receptor, ligand, pose)
    names = ["obc2_e4_nonp0", "gbn2_e2_nonp0", "obc2_e1_nonp0"]
    record, _ = rs.score_complex(topology, xyz, rec, lig, settings, variants=names)
    assert list(record["variants"]) == names
    for name, xml, eps in (("obc2_e4_nonp0", XML["obc2_e1_nonp0"], 4.0),
                           ("gbn2_e2_nonp0", XML["gbn2_e1_nonp0"], 2.0)):  # fmt: skip
        ref = _reference_dg_kj(receptor, ligand.topology, xyz[lig], xml, eps)
        entry = record["variants"][name]
        assert entry["dG_kJ_per_mol"] == pytest.approx(ref, rel=1e-6, abs=1e-3)
        assert entry["dG_kcal_per_mol"] == pytest.approx(ref / 4.184, rel=1e-6, abs=1e-3)
    e1 = _reference_dg_kj(receptor, ligand.topology, xyz[lig], XML["obc2_e1_nonp0"])
    assert abs(record["variants"]["obc2_e4_nonp0"]["dG_kJ_per_mol"] - e1) > 1.0  # ε_in matters
    same = record["variants"]["obc2_e1_nonp0"]["dG_kJ_per_mol"]
    assert same == pytest.approx(record["dG_kJ_per_mol"], rel=1e-9, abs=1e-6)
    with pytest.raises(RankbindError, match="obc2_eres"):
        rs.score_complex(topology, xyz, rec, lig, settings, variants=["obc2_eres"])


def test_dock_ranks_by_mmgbsa(partners):
    """dock(rank_by="mmgbsa") rescores its best clusters: the records equal a direct
    score_complex of the same poses and the ranks follow the scores."""
    receptor, ligand = partners
    rec_mol, lig_mol = _molecule(receptor), _molecule(ligand)
    rng = np.random.default_rng(3)
    rotations = np.concatenate([np.eye(3)[None], [dk.random_rotation(rng) for _ in range(7)]])
    settings = DockingSettings(spacing=1.5, rank_by="mmgbsa", mmgbsa_rescore_top=3,
                               mmgbsa_relax_iterations=5, mmgbsa_platform="Reference",
                               cluster_rmsd=2.0)  # fmt: skip
    result = dk.dock(rec_mol, lig_mol, settings, rotations, progress=False,
                     partners=(receptor, ligand))  # fmt: skip
    top = result.poses[:3]
    assert all(p.mmgbsa is not None for p in top)
    assert all(p.mmgbsa is None for p in result.poses[3:])
    scores = [p.mmgbsa["dG_kJ_per_mol"] for p in top]
    assert scores == sorted(scores)
    for pose in top:
        record, _ = rs.score_complex(*rs.complex_of(receptor, ligand, pose), settings)
        assert record["dG_kJ_per_mol"] == pytest.approx(pose.mmgbsa["dG_kJ_per_mol"], abs=1e-6)


def test_bad_input_is_reported(partners):
    with pytest.raises(RankbindError, match=r"mmgbsa_variant.*obc3_e1"):
        DockingSettings(mmgbsa_variant="obc3_e1")
    with pytest.raises(RankbindError, match=r"mmgbsa_variant.*gbn2_eres"):
        DockingSettings(mmgbsa_variant="gbn2_eres")  # residue-type eps: mutations only
    with pytest.raises(RankbindError, match="partners"):
        dk.dock(_molecule(partners[0]), _molecule(partners[1]),
                DockingSettings(rank_by="mmgbsa"), np.eye(3)[None], progress=False)  # fmt: skip
    with pytest.raises(RankbindError, match="positions have shape"):
        rs.AllAtomPartner(partners[0].topology, partners[0].positions_nm[:-1])


def test_trimmed_terminal_disulfide_cysteine_gets_terminal_parameters():
    """A chain that starts with a disulfide-bonded cysteine (4GIQ RANK C35-C47), cut after
    its first 14 residues and parametrised without external bonds (as a trimmed MM/GBSA
    System is): the N-terminal cysteine carries the charges OpenMM's own template matching
    gives it in the whole chain (NCYX), not those of an internal CYX."""
    from rankbind.energies.mmgbsa import build_system
    from rankbind.energies.variants import settings_for
    from rankbind.structures import build_assembly

    chain = rs.prepare_partner(build_assembly("4GIQ", "hexamer"), ["R"])
    first = list(chain.topology.residues())[0]
    assert first.name == "CYS" and {"H2", "H3"} <= {a.name for a in first.atoms()}
    head = [a.index for r in list(chain.topology.residues())[:14] for a in r.atoms()]
    cut = build_system(subtopology(chain.topology, head), settings_for("obc2_e1_nonp0"),
                       ignore_external_bonds=True)  # fmt: skip
    whole = _forcefield("implicit/obc2.xml").createSystem(chain.topology, constraints=None)

    def charges(system, atoms):
        force = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
        return [force.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
                for i in atoms]  # fmt: skip

    atoms = [a.index for a in first.atoms()]
    assert charges(cut, atoms) == pytest.approx(charges(whole, atoms), abs=1e-9)
    assert sum(charges(cut, atoms)) == pytest.approx(1.0, abs=1e-6)  # NH3+ terminus


def test_checkpoint_resumes_and_refuses_other_settings(partners, tmp_path, monkeypatch):
    receptor, ligand = partners
    settings = DockingSettings(mmgbsa_rescore_top=2, mmgbsa_trim_nm=0.0,
                               mmgbsa_relax_iterations=0, mmgbsa_platform="Reference")  # fmt: skip

    def result():
        poses = _poses(receptor, ligand)
        return dk.DockingResult(poses=poses, settings=settings, grid_size=0, n_rotations=0,
                                ligand_center=poses[0].ligand_center, restrained=False)  # fmt: skip

    path = tmp_path / "rescoring.checkpoint.json"
    first = rs.rescore_mmgbsa(result(), receptor, ligand, progress=False, checkpoint=path)
    direct = rs.rescore_mmgbsa(result(), receptor, ligand, progress=False)
    assert [p.mmgbsa["dG_kJ_per_mol"] for p in first.poses[:2]] == pytest.approx(
        [p.mmgbsa["dG_kJ_per_mol"] for p in direct.poses[:2]], abs=1e-9
    )

    def fail(*args, **kwargs):
        raise AssertionError("a checkpointed pose was scored again")

    monkeypatch.setattr(rs, "score_complex", fail)
    again = rs.rescore_mmgbsa(result(), receptor, ligand, progress=False, checkpoint=path)
    assert [p.mmgbsa for p in again.poses] == [p.mmgbsa for p in first.poses]
    other = settings.replace(mmgbsa_variant="gbn2_e1_nonp0")
    with pytest.raises(RankbindError, match="checkpoint of other settings"):
        rs.rescore_mmgbsa(result(), receptor, ligand, other, progress=False, checkpoint=path)
