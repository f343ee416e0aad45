"""Umbrella restraint forces against numpy/mdtraj geometry on a real 4GIQ interface fragment,
and a tiny run_window job (Reference platform)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

openmm = pytest.importorskip("openmm")
from openmm import app, unit  # noqa: E402

from rankbind.errors import ProtocolError, SelectionError  # noqa: E402
from rankbind.freeenergy.umbrella import (  # noqa: E402
    BORESCH_GROUPS,
    UmbrellaPlan,
    boresch_force,
    centre_of_mass,
    collect_windows,
    make_plan,
    masses_of,
    place_receptor,
    reduced_bias,
    restrained_system,
    restraint_coordinates,
    rmsd_force,
    run_window,
    umbrella_force,
)

# RANKL protomers A, B and RANK residues lining one 4GIQ groove (UniProt numbering)
FRAGMENT = {"A": range(222, 227), "B": range(232, 236), "R": range(94, 99)}
BORESCH = {"A2": "RANKL/A:225-226", "A3": "RANKL/B:232-233", "B2": "RANK:98", "B3": "RANK:95"}


@pytest.fixture(scope="module")
def fragment():
    """(assembly chains, topology, positions nm, System) of a 14-residue vacuum fragment."""
    from pdbfixer import PDBFixer

    from rankbind.structures import build_assembly
    from rankbind.structures.assembly import with_atoms

    assembly = build_assembly("4GIQ", "interface")
    atoms = [
        a
        for a in assembly.atoms
        if a.record == "ATOM" and a.chain in FRAGMENT and a.resseq in FRAGMENT[a.chain]
    ]
    frag = with_atoms(assembly, atoms, name="4GIQ-fragment")
    frag.seqres, frag.ssbonds = {}, []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENMM_DEFAULT_PLATFORM", "Reference")  # PDBFixer minimises internally
        fixer = PDBFixer(pdbfile=io.StringIO(frag.to_pdb_text()))
        fixer.missingResidues = {}
        fixer.findMissingAtoms()
        fixer.addMissingAtoms()
        fixer.addMissingHydrogens(7.0)
    forcefield = app.ForceField("amber14-all.xml", "implicit/gbn2.xml")
    system = forcefield.createSystem(
        fixer.topology, nonbondedMethod=app.NoCutoff, constraints=app.HBonds
    )
    xyz = np.array(fixer.positions.value_in_unit(unit.nanometer))
    return frag.chains, fixer.topology, xyz, system


def energy_and_forces(force, system, xyz):
    """Energy (kJ/mol) and forces (n, 3) of ``force`` alone on the Reference platform."""
    only = openmm.System()
    for i in range(system.getNumParticles()):
        only.addParticle(system.getParticleMass(i))
    only.addForce(force)
    context = openmm.Context(
        only, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference")
    )
    context.setPositions(xyz * unit.nanometer)
    state = context.getState(getEnergy=True, getForces=True)
    return (
        state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole),
        state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer),
    )


def test_umbrella_energy_and_forces_match_numpy_centres_of_mass(fragment):
    chains, topology, xyz, system = fragment
    masses = masses_of(system)
    plan = make_plan(topology, chains, xyz, masses, receptor_selection="RANK", pull_nm=0.4)
    assert plan.n_windows == 5 and all(np.array(plan.force_constants) == 1000.0)
    ligand = np.array(plan.ligand_atoms)
    assert {
        atoms_chain for atoms_chain in (list(topology.atoms())[i].residue.chain.id for i in ligand)
    } == {"A", "B"}
    # independent COM from the System's particle masses (heavy atoms only)
    atoms = list(topology.atoms())
    m = np.array([system.getParticleMass(int(i)).value_in_unit(unit.dalton) for i in ligand])
    assert all(atoms[i].element.symbol != "H" for i in ligand)
    com_l = (xyz[ligand] * m[:, None]).sum(0) / m.sum()
    com_r = centre_of_mass(xyz, masses, plan.receptor_atoms)
    d = np.linalg.norm(com_r - com_l)
    assert d == pytest.approx(plan.centres_nm[0], abs=1e-6)
    for window in (2, 4):
        energy, forces = energy_and_forces(umbrella_force(plan, window), system, xyz)
        k, r0 = plan.force_constants[window], plan.centres_nm[window]
        assert energy == pytest.approx(0.5 * k * (d - r0) ** 2, rel=1e-6)
        # force on receptor atom i: -k (d - r0) m_i / M_receptor along the separation unit vector
        rec = np.array(plan.receptor_atoms)
        unit_vec = (com_r - com_l) / d
        expected = -k * (d - r0) * (masses[rec] / masses[rec].sum())[:, None] * unit_vec
        np.testing.assert_allclose(forces[rec], expected, rtol=1e-5, atol=1e-8)
        assert reduced_bias(plan, np.array([d]))[window, 0] == pytest.approx(
            energy / (0.0083144626181532 * plan.temperature_K), rel=1e-6
        )


def test_ca_atom_set_selects_alpha_carbons(fragment):
    chains, topology, xyz, system = fragment
    plan = make_plan(
        topology, chains, xyz, masses_of(system), receptor_selection="RANK", atom_set="ca"
    )
    assert len(plan.receptor_atoms) == 5 and len(plan.ligand_atoms) == 9
    assert len(plan.mobile_atoms) > 5 * 10
    from rankbind.freeenergy.umbrella import group_atoms

    joined = group_atoms(topology, chains, "RANKL/B + RANKL/A", "ca")
    assert joined == plan.ligand_atoms == sorted(joined)


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_boresch_and_rmsd_restraints_match_numpy_and_mdtraj(fragment):
    import mdtraj

    chains, topology, xyz, system = fragment
    masses = masses_of(system)
    plan = make_plan(
        topology,
        chains,
        xyz,
        masses,
        receptor_selection="RANK",
        boresch_selections=BORESCH,
        boresch_force_constant=80.0,
        rmsd_selection="RANK",
        rmsd_force_constant=500.0,
    )
    refs = plan.boresch.references_rad
    assert set(refs) == set(BORESCH_GROUPS)
    assert energy_and_forces(boresch_force(plan), system, xyz)[0] == pytest.approx(0.0, abs=1e-8)
    # move the receptor: rotate about its centre, shift, and deform it slightly
    rng = np.random.default_rng(7)
    moved = xyz.copy()
    rec = np.array(plan.mobile_atoms)
    centre = moved[rec].mean(0)
    moved[rec] = (moved[rec] - centre) @ random_rotation(rng).T * 0.3 + centre  # partial turn
    moved[rec] = (xyz[rec] - centre) @ random_rotation(rng).T + centre + [0.3, -0.2, 0.1]
    moved[rec] += rng.normal(scale=0.02, size=(rec.size, 3))
    values = restraint_coordinates(plan, moved, masses)
    expected = 0.0
    for name, k in plan.boresch.force_constants.items():
        delta = values[name] - refs[name]
        if name not in ("thetaA", "thetaB"):
            delta = np.arctan2(np.sin(delta), np.cos(delta))
        expected += 0.5 * k * delta**2
    assert expected > 1.0
    energy, _ = energy_and_forces(boresch_force(plan), system, moved)
    assert energy == pytest.approx(expected, rel=1e-6)
    # mdtraj's dihedral convention agrees with ours on the group centres
    traj = mdtraj.Trajectory(
        np.array(
            [
                [
                    centre_of_mass(moved, masses, g)
                    for g in (
                        plan.ligand_atoms,
                        plan.boresch.groups["A2"],
                        plan.boresch.groups["A3"],
                        plan.receptor_atoms,
                    )
                ]
            ]
        ),
        None,
    )
    assert mdtraj.compute_dihedrals(traj, [[2, 1, 0, 3]])[0, 0] == pytest.approx(values["phiA"])
    # RMSD restraint against mdtraj's superposed RMSD of the same atoms
    atoms = np.array(plan.rmsd.atoms)
    ref = mdtraj.Trajectory(xyz[None], mdtraj.Topology.from_openmm(topology))
    cur = mdtraj.Trajectory(moved[None], mdtraj.Topology.from_openmm(topology))
    rmsd = mdtraj.rmsd(cur, ref, atom_indices=atoms, precentered=False)[0]
    assert rmsd > 0.01
    energy, _ = energy_and_forces(rmsd_force(plan, system.getNumParticles()), system, moved)
    assert energy == pytest.approx(0.5 * 500.0 * rmsd**2, rel=1e-4)


def test_plan_round_trip_and_validation(fragment, tmp_path):
    chains, topology, xyz, system = fragment
    plan = make_plan(
        topology,
        chains,
        xyz,
        masses_of(system),
        receptor_selection="RANK",
        boresch_selections=BORESCH,
        rmsd_selection="RANK",
        temperature_K=310.0,
    )
    plan.write(tmp_path / "plan.json")
    again = UmbrellaPlan.read(tmp_path / "plan.json")
    assert again == plan and again.sha256() == plan.sha256()
    data = json.loads((tmp_path / "plan.json").read_text())
    data["force_constants"] = data["force_constants"][:-1]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ProtocolError, match="bad.json.*force_constants"):
        UmbrellaPlan.read(tmp_path / "bad.json")
    with pytest.raises(SelectionError, match="'OPG' matches no chain"):
        make_plan(topology, chains, xyz, masses_of(system), receptor_selection="OPG")
    collinear = {**BORESCH, "A2": "RANKL/A", "A3": "RANKL/B"}  # A1 lies on the A2-A3 line
    with pytest.raises(ProtocolError, match="A3-A2-A1.*collinear"):
        make_plan(
            topology,
            chains,
            xyz,
            masses_of(system),
            receptor_selection="RANK",
            boresch_selections=collinear,
        )
    with pytest.raises(ProtocolError, match="B3"):
        make_plan(
            topology,
            chains,
            xyz,
            masses_of(system),
            receptor_selection="RANK",
            boresch_selections={k: v for k, v in BORESCH.items() if k != "B3"},
        )


def test_run_window_writes_samples_atomically(fragment, tmp_path):
    chains, topology, xyz, system = fragment
    masses = masses_of(system)
    plan = make_plan(
        topology,
        chains,
        xyz,
        masses,
        receptor_selection="RANK",
        pull_nm=0.2,
        boresch_selections=BORESCH,
        samples=4,
        steps_per_sample=5,
        equilibration_steps=10,
        minimisation_iterations=20,
        timestep_ps=0.001,
    )
    placed = place_receptor(plan, xyz, masses, plan.centres_nm[2])
    assert restraint_coordinates(plan, placed, masses)["r_nm"] == pytest.approx(plan.centres_nm[2])
    reference = openmm.Platform.getPlatformByName("Reference")
    npz = run_window(plan, 2, tmp_path, system, xyz, platform=reference, place=True, seed=5)
    meta = json.loads(npz.with_suffix(".json").read_text())
    assert meta["plan_sha256"] == plan.sha256() and meta["platform"] == "Reference"
    with np.load(npz) as data:
        assert data["u_bias_kn"].shape == (plan.n_windows, 4)
        np.testing.assert_allclose(data["u_bias_kn"], reduced_bias(plan, data["r_nm"]))
        assert np.all(np.abs(data["r_nm"] - plan.centres_nm[2]) < 0.15)
        assert np.all(np.isfinite(data["potential_kJ"])) and data["thetaB"].shape == (4,)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["window_002.json", "window_002.npz"]
    # the bias the window saw agrees with OpenMM's own force on the recorded geometry
    assert restrained_system(plan, system, 2).getNumForces() == system.getNumForces() + 2
    with pytest.raises(ProtocolError, match="window 0 is incomplete"):
        collect_windows(plan, tmp_path)
    with pytest.raises(ProtocolError, match="window 9"):
        run_window(plan, 9, tmp_path, system, xyz)


def test_analyse_windows_recovers_closed_form_binding_free_energy(tmp_path):
    """Window files in run_window's format, filled with exact samples of the 3D well of
    test_pmf.py, go through collect_windows -> MBAR -> dG° and the CLI's analyse."""
    import argparse

    from test_pmf import CENTRES, KAPPA, R_SITE, SAMPLES, exact_dG_kT, well

    from rankbind.cli import umbrella as umbrella_cli
    from rankbind.freeenergy.pmf import kT_kJ
    from rankbind.freeenergy.umbrella import analyse_windows, write_window

    kt = kT_kJ(300.0)
    plan = UmbrellaPlan(
        ligand_selection="RANKL",
        receptor_selection="RANK",
        atom_set="heavy",
        ligand_atoms=[0],
        receptor_atoms=[1],
        mobile_atoms=[1],
        centres_nm=CENTRES.tolist(),
        force_constants=[KAPPA * kt] * CENTRES.size,
        temperature_K=300.0,
        samples=SAMPLES,
    )
    rng = np.random.default_rng(99)
    grid = np.linspace(0.0, 1.6, 400001)
    for k, c in enumerate(CENTRES):
        with np.errstate(divide="ignore"):
            log_p = 2 * np.log(grid) - well(grid) - 0.5 * KAPPA * (grid - c) ** 2
        cdf = np.cumsum(np.exp(log_p - log_p.max()))
        r = np.interp(rng.random(SAMPLES), cdf / cdf[-1], grid)
        write_window(plan, k, tmp_path, {"r_nm": r, "u_bias_kn": reduced_bias(plan, r)}, {})
    result = analyse_windows(plan, tmp_path, site_max_nm=R_SITE, bulk_shell_nm=(1.0, 1.1))
    b = result["binding"]
    assert abs(b["dG_kT"] - exact_dG_kT()) < 4 * b["error_kT"]
    assert max(result["windows"]["statistical_inefficiency"]) < 1.5  # iid samples
    assert len(result["pmf"]["pmf_kT"]) == len(result["pmf"]["centres_nm"]) > 20

    plan.write(tmp_path / "plan.json")
    parser = argparse.ArgumentParser()
    umbrella_cli.configure(parser)
    args = parser.parse_args(
        [
            "analyse",
            "--plan",
            str(tmp_path / "plan.json"),
            "--dir",
            str(tmp_path),
            "--site-max",
            str(R_SITE),
            "--bulk-shell",
            "1.0",
            "1.1",
            "--out",
            str(tmp_path / "dg.json"),
        ]
    )
    assert umbrella_cli.run(args) == 0
    saved = json.loads((tmp_path / "dg.json").read_text())
    assert saved["binding"]["dG_kcal_per_mol"] == pytest.approx(b["dG_kcal_per_mol"])
    # a window produced under another plan is refused
    other = UmbrellaPlan.from_dict({**plan.to_dict(), "temperature_K": 310.0})
    with pytest.raises(ProtocolError, match="different plan"):
        analyse_windows(other, tmp_path, site_max_nm=R_SITE, bulk_shell_nm=(1.0, 1.1))


def test_cli_plan_from_pdb_and_system_xml(fragment, tmp_path):
    import argparse

    from rankbind.cli import umbrella as umbrella_cli

    chains, topology, xyz, system = fragment
    with open(tmp_path / "frag.pdb", "w") as handle:
        app.PDBFile.writeFile(topology, xyz * unit.nanometer, handle, keepIds=True)
    (tmp_path / "frag.xml").write_text(openmm.XmlSerializer.serialize(system))
    parser = argparse.ArgumentParser()
    umbrella_cli.configure(parser)
    common = [
        "plan",
        "--entry",
        "4GIQ",
        "--kind",
        "interface",
        "--pdb",
        str(tmp_path / "frag.pdb"),
        "--system",
        str(tmp_path / "frag.xml"),
        "--receptor",
        "RANK",
        "--pull",
        "0.3",
        "--boresch",
        *BORESCH.values(),
        "--out",
        str(tmp_path / "plan.json"),
    ]
    assert umbrella_cli.run(parser.parse_args(common)) == 0
    plan = UmbrellaPlan.read(tmp_path / "plan.json")
    assert plan.n_windows == 4 and plan.boresch.selections == BORESCH
    assert plan.notes["entry"] == "4GIQ"
    bad = parser.parse_args(
        [
            "window",
            "--plan",
            str(tmp_path / "plan.json"),
            "--pdb",
            str(tmp_path / "frag.pdb"),
            "--system",
            str(tmp_path / "missing.xml"),
            "--index",
            "0",
            "--out",
            str(tmp_path),
        ]
    )
    with pytest.raises(ProtocolError, match="missing.xml"):
        umbrella_cli.run(bad)
