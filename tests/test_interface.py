"""H-bonds, salt bridges and buried SASA across the 3URF OPG–RANKL groove."""

from __future__ import annotations

import mdtraj
import numpy as np
import openmm
import pytest
from openmm import unit
from openmm.app import Modeller

from rankbind.analysis import contacts, interface
from rankbind.structures import build_assembly


@pytest.fixture(scope="module")
def groove():
    """3URF groove with hydrogens added by OpenMM (CPU platform), protein only."""
    assembly = build_assembly("3URF", "interface")
    top, pos = assembly.to_openmm()
    modeller = Modeller(top, pos)
    modeller.addHydrogens(pH=7.0, platform=openmm.Platform.getPlatformByName("CPU"))
    xyz = np.array(modeller.positions.value_in_unit(unit.nanometer))[None]
    traj = mdtraj.Trajectory(xyz, mdtraj.Topology.from_openmm(modeller.topology))
    traj = traj.atom_slice(traj.topology.select("protein"))
    rankl = contacts.select(traj.topology, assembly.chains, "RANKL")
    opg = contacts.select(traj.topology, assembly.chains, "OPG")
    return traj, rankl, opg


def test_hbonds_equal_mdtraj_baker_hubbard(groove):
    traj, rankl, opg = groove
    found = interface.hydrogen_bonds(traj, rankl, opg)
    opg_atoms = {a.index for a in traj.topology.atoms if a.residue.index in set(opg.tolist())}
    ref = {  # the system is RANKL + OPG only: cross-interface = exactly one end in OPG
        tuple(t)
        for t in mdtraj.baker_hubbard(traj, freq=0.0, periodic=False)
        if (t[0] in opg_atoms) != (t[2] in opg_atoms)
    }
    assert {tuple(t) for t in found.atoms} == ref
    assert len(ref) >= 2 and np.all(found.occupancy == 1.0)


def test_salt_bridges_brute_force(groove):
    traj, rankl, opg = groove
    found = interface.salt_bridges(traj, rankl, opg)
    top, xyz = traj.topology, traj.xyz[0]
    charged = {"ASP": "OD1 OD2", "GLU": "OE1 OE2", "LYS": "NZ", "ARG": "NE NH1 NH2"}
    expected = set()
    for i in rankl:
        for j in opg:
            ri, rj = top.residue(int(i)), top.residue(int(j))
            acid = {"ASP", "GLU"}
            if {ri.name in acid, rj.name in acid} != {True, False}:
                continue
            if ri.name not in charged or rj.name not in charged:
                continue
            a = [x.index for x in ri.atoms if x.name in charged[ri.name].split()]
            b = [x.index for x in rj.atoms if x.name in charged[rj.name].split()]
            if np.linalg.norm(xyz[a][:, None] - xyz[b][None], axis=-1).min() <= 0.4:
                expected.add((int(i), int(j)) if ri.name in acid else (int(j), int(i)))
    assert {tuple(map(int, p)) for p in found.pairs} == expected
    assert len(expected) >= 2


def test_buried_sasa_is_partner_minus_complex(groove):
    traj, rankl, opg = groove
    bsa = interface.buried_sasa(traj, rankl, opg, n_sphere_points=240)
    sasa = {}
    for name, res in (("a", rankl), ("b", opg), ("ab", np.concatenate([rankl, opg]))):
        keep = set(res.tolist())
        atoms = [a.index for a in traj.topology.atoms if a.residue.index in keep]
        sasa[name] = 100.0 * mdtraj.shrake_rupley(traj.atom_slice(atoms), n_sphere_points=240).sum()
    # mdtraj's SASA is float32, summed over ~7k atoms in a thread-dependent order: rel 1e-5
    assert bsa.total[0] == pytest.approx(sasa["a"] + sasa["b"] - sasa["ab"], rel=1e-5)
    assert 1000.0 < bsa.total[0] < 5000.0  # Å², one receptor in one groove
    far = contacts.interface(traj, rankl, opg, cutoff=1.0)
    remote = [
        k for k, r in enumerate(bsa.residues) if int(r) not in far.residues_a | far.residues_b
    ]
    assert np.allclose(bsa.per_residue[0, remote], 0.0, atol=1e-6)
