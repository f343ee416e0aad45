"""Interface chemistry: hydrogen bonds and salt bridges across an interface (with
occupancy over frames) and buried solvent-accessible surface area.

Distances in nm, areas in Å² (converted from mdtraj's nm²), angles in degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import mdtraj
import numpy as np

from rankbind.errors import SelectionError

# Heavy-atom donor/acceptor tables (used when the topology has no hydrogens).
DONORS = {
    "ARG": ("NE", "NH1", "NH2"),
    "ASN": ("ND2",),
    "GLN": ("NE2",),
    "HIS": ("ND1", "NE2"),
    "LYS": ("NZ",),
    "SER": ("OG",),
    "THR": ("OG1",),
    "TYR": ("OH",),
    "TRP": ("NE1",),
}
ACCEPTORS = {
    "ASP": ("OD1", "OD2"),
    "GLU": ("OE1", "OE2"),
    "ASN": ("OD1",),
    "GLN": ("OE1",),
    "HIS": ("ND1", "NE2"),
    "SER": ("OG",),
    "THR": ("OG1",),
    "TYR": ("OH",),
}
ACIDIC = {"ASP": ("OD1", "OD2"), "GLU": ("OE1", "OE2")}
BASIC = {"LYS": ("NZ",), "ARG": ("NE", "NH1", "NH2")}
HEAVY_HBOND_CUTOFF_NM = 0.35
SALT_BRIDGE_CUTOFF_NM = 0.40


def _atoms_of(topology, residues: np.ndarray) -> np.ndarray:
    wanted = set(int(r) for r in residues)
    return np.array([a.index for a in topology.atoms if a.residue.index in wanted], dtype=np.int64)


def _cross_atom_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x, y = np.meshgrid(a, b, indexing="ij")
    return np.stack([x.ravel(), y.ravel()], axis=1)


@dataclass
class HydrogenBonds:
    """Cross-interface hydrogen bonds. ``atoms``: (n, 3) donor, hydrogen (-1 in the
    heavy-atom criterion), acceptor atom indices; ``occupancy``: (n,) fraction of frames;
    ``labels``: one 'DONOR -- ACCEPTOR' text per bond; ``criterion``: how they were found."""

    atoms: np.ndarray
    occupancy: np.ndarray
    labels: list[str]
    criterion: str
    n_frames: int


def _label(topology, index: int) -> str:
    atom = topology.atom(int(index))
    res = atom.residue
    return f"{res.chain.chain_id}:{res.name}{res.resSeq}:{atom.name}"


def _polar_heavy(topology, residues, table, backbone: str | None) -> np.ndarray:
    wanted = set(int(r) for r in residues)
    out = []
    for atom in topology.atoms:
        res = atom.residue
        if res.index not in wanted:
            continue
        if atom.name in table.get(res.name, ()) or (
            backbone == "N" and atom.name == "N" and res.name != "PRO"
        ):
            out.append(atom.index)
        elif backbone == "O" and atom.name in ("O", "OXT"):
            out.append(atom.index)
    return np.array(out, dtype=np.int64)


def _has_hydrogens(topology, atoms: np.ndarray) -> bool:
    return any(
        topology.atom(int(i)).element is not None and topology.atom(int(i)).element.symbol == "H"
        for i in atoms
    )


def hydrogen_bonds(
    trajectory: mdtraj.Trajectory,
    residues_a: np.ndarray,
    residues_b: np.ndarray,
    periodic: bool = True,
    distance_cutoff: float = 0.25,
    angle_cutoff: float = 120.0,
) -> HydrogenBonds:
    """Hydrogen bonds between residue groups a and b (either direction).

    With hydrogens: the Baker–Hubbard criterion of :func:`mdtraj.baker_hubbard`
    (H···A < ``distance_cutoff`` nm and D–H···A > ``angle_cutoff``°; donors are N/O bonded
    to H, acceptors all N and O). Without hydrogens (crystal structures): donor–acceptor
    heavy-atom distance <= 0.35 nm over the DONORS/ACCEPTORS tables (+ backbone N, O)."""
    top = trajectory.topology
    atoms = np.concatenate([_atoms_of(top, residues_a), _atoms_of(top, residues_b)])
    if not _has_hydrogens(top, atoms):
        return _heavy_hbonds(trajectory, residues_a, residues_b, periodic)
    in_a = set(_atoms_of(top, residues_a).tolist())
    in_b = set(_atoms_of(top, residues_b).tolist())
    donors_h = []  # (donor, hydrogen)
    for bond in top.bonds:
        for d, h in ((bond[0], bond[1]), (bond[1], bond[0])):
            if (
                h.element is not None
                and h.element.symbol == "H"
                and d.element is not None
                and d.element.symbol in ("N", "O")
            ):
                donors_h.append((d.index, h.index))
    acceptors = [
        a.index for a in top.atoms if a.element is not None and a.element.symbol in ("N", "O")
    ]
    triplets = []
    for side, other in ((in_a, in_b), (in_b, in_a)):
        dh = [p for p in donors_h if p[0] in side]
        acc = [a for a in acceptors if a in other]
        for d, h in dh:
            triplets.extend((d, h, a) for a in acc)
    triplets = np.array(triplets, dtype=np.int64).reshape(-1, 3)
    hit = np.zeros((len(trajectory), len(triplets)), dtype=bool)
    for start in range(0, len(triplets), 200_000):
        t = triplets[start : start + 200_000]
        dist = mdtraj.compute_distances(trajectory, t[:, 1:], periodic=periodic)
        close = dist < distance_cutoff
        cols = np.nonzero(close.any(axis=0))[0]
        if cols.size:
            angle = mdtraj.compute_angles(trajectory, t[cols], periodic=periodic)
            hit[:, start + cols] = close[:, cols] & (np.degrees(angle) > angle_cutoff)
    keep = hit.any(axis=0)
    labels = [f"{_label(top, d)} -- {_label(top, a)}" for d, _, a in triplets[keep]]
    return HydrogenBonds(
        triplets[keep],
        hit[:, keep].mean(axis=0),
        labels,
        f"Baker-Hubbard: H...A < {distance_cutoff} nm, D-H...A > {angle_cutoff} deg",
        len(trajectory),
    )


def _heavy_hbonds(trajectory, residues_a, residues_b, periodic) -> HydrogenBonds:
    top = trajectory.topology
    pairs = []
    for don, acc in ((residues_a, residues_b), (residues_b, residues_a)):
        d = _polar_heavy(top, don, DONORS, "N")
        a = _polar_heavy(top, acc, ACCEPTORS, "O")
        pairs.append(_cross_atom_pairs(d, a))
    pairs = np.concatenate(pairs)
    dist = mdtraj.compute_distances(trajectory, pairs, periodic=periodic)
    hit = dist <= HEAVY_HBOND_CUTOFF_NM
    keep = hit.any(axis=0)
    kept = pairs[keep]
    atoms = np.stack([kept[:, 0], np.full(len(kept), -1), kept[:, 1]], axis=1)
    labels = [f"{_label(top, d)} -- {_label(top, a)}" for d, a in kept]
    return HydrogenBonds(
        atoms,
        hit[:, keep].mean(axis=0),
        labels,
        f"heavy-atom donor-acceptor distance <= {HEAVY_HBOND_CUTOFF_NM} nm (no hydrogens)",
        len(trajectory),
    )


@dataclass
class SaltBridges:
    """Residue pairs (acidic, basic) with any carboxylate O – Lys NZ / Arg NE,NH1,NH2
    distance <= ``cutoff_nm``. ``pairs``: (n, 2) residue indices; ``occupancy``: (n,)."""

    pairs: np.ndarray
    occupancy: np.ndarray
    labels: list[str]
    cutoff_nm: float
    n_frames: int


def salt_bridges(
    trajectory: mdtraj.Trajectory,
    residues_a: np.ndarray,
    residues_b: np.ndarray,
    cutoff: float = SALT_BRIDGE_CUTOFF_NM,
    periodic: bool = True,
) -> SaltBridges:
    """Salt bridges across groups a and b (either group acidic). His is not counted."""
    top = trajectory.topology
    atom_pairs, res_pairs = [], []
    for acid_side, base_side in ((residues_a, residues_b), (residues_b, residues_a)):
        o = _polar_heavy(top, acid_side, ACIDIC, None)
        n = _polar_heavy(top, base_side, BASIC, None)
        for p in _cross_atom_pairs(o, n):
            atom_pairs.append(p)
            res_pairs.append((top.atom(int(p[0])).residue.index, top.atom(int(p[1])).residue.index))
    if not atom_pairs:
        return SaltBridges(np.zeros((0, 2), int), np.zeros(0), [], cutoff, len(trajectory))
    dist = mdtraj.compute_distances(trajectory, np.array(atom_pairs), periodic=periodic)
    res_pairs = np.array(res_pairs)
    unique, inverse = np.unique(res_pairs, axis=0, return_inverse=True)
    hit = np.zeros((len(trajectory), len(unique)), dtype=bool)
    for col in range(len(unique)):
        hit[:, col] = (dist[:, inverse.ravel() == col] <= cutoff).any(axis=1)
    keep = hit.any(axis=0)
    residues = list(top.residues)
    labels = [
        f"{residues[i].chain.chain_id}:{residues[i].name}{residues[i].resSeq} -- "
        f"{residues[j].chain.chain_id}:{residues[j].name}{residues[j].resSeq}"
        for i, j in unique[keep]
    ]
    return SaltBridges(unique[keep], hit[:, keep].mean(axis=0), labels, cutoff, len(trajectory))


@dataclass
class BuriedSASA:
    """Buried SASA = SASA(partner alone) - SASA(complex), per residue and in total.

    ``residues``: (n,) residue indices of both groups; ``per_residue``: (n_frames, n) Å²;
    ``total``: (n_frames,) Å² summed over both partners; ``side``: (n,) 0 for a, 1 for b."""

    residues: np.ndarray
    side: np.ndarray
    per_residue: np.ndarray
    total: np.ndarray
    probe_radius_nm: float
    n_sphere_points: int

    def mean_by_residue(self) -> dict[int, float]:
        return {
            int(r): float(v) for r, v in zip(self.residues, self.per_residue.mean(0), strict=True)
        }


def residue_sasa(
    trajectory: mdtraj.Trajectory,
    atoms: np.ndarray,
    probe_radius: float = 0.14,
    n_sphere_points: int = 960,
) -> tuple[np.ndarray, np.ndarray]:
    """(residue indices (n,), SASA (n_frames, n) in Å²) of the sub-system made of ``atoms``
    alone (everything else removed), by mdtraj's Shrake–Rupley."""
    sub = trajectory.atom_slice(atoms)
    per_atom = mdtraj.shrake_rupley(sub, probe_radius=probe_radius, n_sphere_points=n_sphere_points)
    owner = np.array([trajectory.topology.atom(int(i)).residue.index for i in atoms])
    residues, col = np.unique(owner, return_inverse=True)
    out = np.zeros((len(trajectory), len(residues)))
    np.add.at(out, (slice(None), col.ravel()), per_atom * 100.0)
    return residues, out


def buried_sasa(
    trajectory: mdtraj.Trajectory,
    residues_a: np.ndarray,
    residues_b: np.ndarray,
    probe_radius: float = 0.14,
    n_sphere_points: int = 960,
) -> BuriedSASA:
    """Buried SASA of the a–b interface (other chains are removed first)."""
    top = trajectory.topology
    atoms_a, atoms_b = _atoms_of(top, residues_a), _atoms_of(top, residues_b)
    if not atoms_a.size or not atoms_b.size:
        raise SelectionError("buried SASA needs two non-empty residue groups")
    res_c, sasa_c = residue_sasa(
        trajectory, np.concatenate([atoms_a, atoms_b]), probe_radius, n_sphere_points
    )
    res_a, sasa_a = residue_sasa(trajectory, atoms_a, probe_radius, n_sphere_points)
    res_b, sasa_b = residue_sasa(trajectory, atoms_b, probe_radius, n_sphere_points)
    alone = dict(zip(res_a.tolist(), sasa_a.T, strict=True)) | dict(
        zip(res_b.tolist(), sasa_b.T, strict=True)
    )
    per_residue = np.stack([alone[int(r)] for r in res_c], axis=1) - sasa_c
    side = np.array([0 if r in set(res_a.tolist()) else 1 for r in res_c])
    return BuriedSASA(
        res_c, side, per_residue, per_residue.sum(axis=1), probe_radius, n_sphere_points
    )
