"""Rigid-body FFT docking (Katchalski-Katzir) in JAX, with CAPRI evaluation.

Scoring on a cubic grid (spacing ``h`` Å, float32, which is ample for a grid score):

* shape: receptor cells within ``core_radius`` of a receptor heavy atom carry ``rho``
  (penalty), cells within ``surface_radius`` but outside the core carry 1; ligand cells
  within ``core_radius`` of a ligand atom carry 1. Shape score = sum over cells of the
  product (Gabb, Jackson & Sternberg 1997 style).
* electrostatics: receptor Coulomb potential with a distance-dependent dielectric
  (4 for r<=6 Å, 38r-224 for 6<r<8, 80 beyond; r>=2 Å), zero inside the receptor core;
  ligand formal charges (Lys NZ +1, Arg NH1/NH2 +0.5, Asp OD1/OD2 -0.5, Glu OE1/OE2
  -0.5) on their nearest cell. Energy in kcal/mol (332.06 factor); total score =
  shape - ``elec_weight`` * energy.
* restraints (optional): the number of ligand restraint atoms within ``restraint_cutoff``
  Å of receptor epitope atoms, as a third correlation; poses below ``restraint_min_atoms``
  are discarded.

For each rotation of a quasi-uniform set (super-Fibonacci spiral, Alexa 2022) all
translations are scored at once by FFT correlation (``jnp.fft.rfftn``); rotations are
processed in jit-compiled, vmapped batches. The best translation per rotation is kept,
poses are clustered greedily by ligand C-alpha RMSD and cluster representatives ranked.
The numpy reference :func:`score_pose_direct` scores one pose without FFTs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rankbind.errors import StructureError
from rankbind.structures.geometry import pairs_within, superpose

COULOMB_KCAL = 332.06
CHARGES = {
    ("LYS", "NZ"): 1.0,
    ("ARG", "NH1"): 0.5,
    ("ARG", "NH2"): 0.5,
    ("ASP", "OD1"): -0.5,
    ("ASP", "OD2"): -0.5,
    ("GLU", "OE1"): -0.5,
    ("GLU", "OE2"): -0.5,
}


@dataclass(frozen=True)
class DockingSettings:
    """Grid and scoring choices (recorded with every result). Lengths in Å."""

    spacing: float = 1.2
    n_rotations: int = 600
    rotation_seed: int = 0
    core_radius: float = 1.4
    surface_radius: float = 3.4
    rho: float = -15.0
    elec_weight: float = 1.0
    restraint_cutoff: float = 6.0
    restraint_min_atoms: int = 10
    batch: int = 4
    cluster_rmsd: float = 6.0
    n_keep: int = 20
    grid_size: int | None = None  # default: smallest FFT-friendly size that avoids wrap-around


@dataclass
class Molecule:
    """Heavy atoms of one docking partner: coordinates (n, 3) Å, charges (n,), CA mask,
    and (chain, residue number) per atom."""

    xyz: np.ndarray
    charges: np.ndarray
    is_ca: np.ndarray
    is_backbone: np.ndarray
    residues: list[tuple[str, int]]
    restraint: np.ndarray  # bool (n,): atoms of restraint residues


def molecule_from_assembly(assembly, chains: list[str], restraint_residues=None) -> Molecule:
    """Heavy atoms of ``chains``; ``restraint_residues``: set of (chain, number)."""
    restraint_residues = set(restraint_residues or ())
    atoms = [
        a for a in assembly.atoms if a.record == "ATOM" and a.chain in chains and a.element != "H"
    ]
    if not atoms:
        raise StructureError(f"{assembly.name}: no atoms in chains {chains}")
    return Molecule(
        xyz=np.array([a.xyz for a in atoms], dtype=float),
        charges=np.array([CHARGES.get((a.resname, a.name), 0.0) for a in atoms]),
        is_ca=np.array([a.name == "CA" for a in atoms]),
        is_backbone=np.array([a.name in ("N", "CA", "C", "O") for a in atoms]),
        residues=[(a.chain, a.resseq) for a in atoms],
        restraint=np.array([(a.chain, a.resseq) in restraint_residues for a in atoms]),
    )


def super_fibonacci_quaternions(n: int) -> np.ndarray:
    """(n, 4) unit quaternions (w, x, y, z) spread quasi-uniformly over SO(3)."""
    phi = math.sqrt(2.0)
    psi = 1.533751168755204288118041
    s = np.arange(n) + 0.5
    r = np.sqrt(s / n)
    big_r = np.sqrt(1.0 - s / n)
    alpha = 2.0 * np.pi * s / phi
    beta = 2.0 * np.pi * s / psi
    return np.stack(
        [r * np.sin(alpha), r * np.cos(alpha), big_r * np.sin(beta), big_r * np.cos(beta)], 1
    )


def quaternion_matrices(q: np.ndarray) -> np.ndarray:
    """(n, 3, 3) rotation matrices of (n, 4) unit quaternions (w, x, y, z)."""
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        1,
    )


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3x3 rotation matrix."""
    q = rng.normal(size=4)
    return quaternion_matrices((q / np.linalg.norm(q))[None])[0]


def _fft_size(n: int) -> int:
    """Smallest size >= n whose only prime factors are 2, 3 and 5."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _dielectric(r: np.ndarray) -> np.ndarray:
    return np.where(r <= 6.0, 4.0, np.where(r < 8.0, 38.0 * r - 224.0, 80.0))


def receptor_grids(
    receptor: Molecule, settings: DockingSettings, n: int, origin: np.ndarray, method: str = "fft"
):
    """(shape, potential, epitope) grids (n, n, n) float32 for the fixed receptor.

    ``method``: "fft" (periodic convolution with minimum-image distances, for the docking
    grid, which is large enough that images are > 100 Å away) or "direct" (explicit sum,
    the reference for small boxes)."""
    from scipy.spatial import cKDTree

    h = settings.spacing
    axes = [origin[d] + h * np.arange(n) for d in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    tree = cKDTree(receptor.xyz)
    dist, _ = tree.query(grid, distance_upper_bound=settings.surface_radius + 1e-6)
    shape = np.zeros(len(grid), dtype=np.float32)
    shape[dist <= settings.surface_radius] = 1.0
    core = dist <= settings.core_radius
    shape[core] = settings.rho
    # Receptor charges sit on their nearest lattice point (the same lattice for every
    # grid of a run), so the FFT convolution and the direct sum compute the same field.
    charged = np.nonzero(receptor.charges)[0]
    q_cells = np.round((receptor.xyz[charged] - origin) / h).astype(int)
    q_xyz = origin + h * q_cells
    if method == "fft":
        offsets = np.minimum(np.arange(n), n - np.arange(n)) * h
        r = np.sqrt(
            offsets[:, None, None] ** 2 + offsets[None, :, None] ** 2 + offsets[None, None, :] ** 2
        )
        r = np.maximum(r, 2.0)
        kernel = 1.0 / (_dielectric(r) * r)
        qgrid = np.zeros((n, n, n))
        np.add.at(qgrid, tuple(np.mod(q_cells, n).T), receptor.charges[charged])
        potential = np.fft.irfftn(
            np.fft.rfftn(qgrid) * np.fft.rfftn(kernel), s=(n, n, n), axes=(0, 1, 2)
        )
        potential = potential.reshape(-1)
    else:
        potential = np.zeros(len(grid), dtype=np.float64)
        for start in range(0, len(grid), 100_000):
            r = np.linalg.norm(grid[start : start + 100_000, None, :] - q_xyz[None], axis=-1)
            r = np.maximum(r, 2.0)
            potential[start : start + 100_000] = (
                receptor.charges[charged] / (_dielectric(r) * r)
            ).sum(1)
    potential = np.where(core, 0.0, potential * COULOMB_KCAL)
    epitope = np.zeros(len(grid), dtype=np.float32)
    if receptor.restraint.any():
        etree = cKDTree(receptor.xyz[receptor.restraint])
        d, _ = etree.query(grid, distance_upper_bound=settings.restraint_cutoff + 1e-6)
        epitope[d <= settings.restraint_cutoff] = 1.0
    return (
        shape.reshape(n, n, n),
        potential.astype(np.float32).reshape(n, n, n),
        epitope.reshape(n, n, n),
    )


def _stencil(settings: DockingSettings) -> np.ndarray:
    k = int(math.ceil(settings.core_radius / settings.spacing)) + 1
    r = np.arange(-k, k + 1)
    return np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)


def make_scorer(receptor: Molecule, ligand: Molecule, settings: DockingSettings):
    """A jit-compiled function scoring a batch of rotations (b, 3, 3) -> per rotation the
    best (score, shape, energy, restraint count, translation index); plus grid metadata."""
    import jax
    import jax.numpy as jnp

    import rankbind.jaxconfig  # noqa: F401  (x64 on; grids are cast to float32 explicitly)

    h = settings.spacing
    rec_center = receptor.xyz.mean(0)
    lig_xyz = ligand.xyz - ligand.xyz.mean(0)
    lig_radius = float(np.linalg.norm(lig_xyz, axis=1).max())
    rec_extent = float(np.ptp(receptor.xyz, 0).max())
    pad = settings.surface_radius + settings.core_radius + 2 * h
    n = settings.grid_size or _fft_size(int(math.ceil((rec_extent + 2 * lig_radius + 2 * pad) / h)))
    origin = rec_center - h * (n // 2)
    shape_r, pot_r, epi_r = receptor_grids(receptor, settings, n, origin)
    f_shape = jnp.fft.rfftn(jnp.asarray(shape_r))
    f_pot = jnp.fft.rfftn(jnp.asarray(pot_r))
    f_epi = jnp.fft.rfftn(jnp.asarray(epi_r))
    use_restraint = bool(ligand.restraint.any() and receptor.restraint.any())
    stencil = jnp.asarray(_stencil(settings), dtype=jnp.float32)
    lig = jnp.asarray(lig_xyz, dtype=jnp.float32)
    charges = jnp.asarray(ligand.charges, dtype=jnp.float32)
    restraint_w = jnp.asarray(ligand.restraint, dtype=jnp.float32)
    core2 = settings.core_radius**2
    center = n // 2

    def grids(rot):
        xyz = lig @ rot.T / h + center  # grid units, ligand centred on the grid centre
        base = jnp.floor(xyz)
        cells = base[:, None, :] + stencil[None, :, :]
        d2 = jnp.sum((cells - xyz[:, None, :]) ** 2, -1) * h * h
        inside = (d2 <= core2).astype(jnp.float32).reshape(-1)
        idx = jnp.mod(cells.astype(jnp.int32), n).reshape(-1, 3)
        occ = jnp.zeros((n, n, n), jnp.float32).at[idx[:, 0], idx[:, 1], idx[:, 2]].max(inside)
        near = jnp.mod(jnp.round(xyz).astype(jnp.int32), n)
        q = jnp.zeros((n, n, n), jnp.float32).at[near[:, 0], near[:, 1], near[:, 2]].add(charges)
        sub = (
            jnp.zeros((n, n, n), jnp.float32)
            .at[near[:, 0], near[:, 1], near[:, 2]]
            .add(restraint_w)
        )
        return occ, q, sub

    def one(rot):
        occ, q, sub = grids(rot)
        f_occ = jnp.fft.rfftn(occ)
        f_q = jnp.fft.rfftn(q)
        shape = jnp.fft.irfftn(f_shape * jnp.conj(f_occ), s=(n, n, n))
        energy = jnp.fft.irfftn(f_pot * jnp.conj(f_q), s=(n, n, n))
        score = shape - settings.elec_weight * energy
        if use_restraint:
            count = jnp.fft.irfftn(f_epi * jnp.conj(jnp.fft.rfftn(sub)), s=(n, n, n))
            score = jnp.where(count >= settings.restraint_min_atoms - 0.5, score, -jnp.inf)
        else:
            count = jnp.zeros_like(score)
        k = jnp.argmax(score)
        return (
            score.reshape(-1)[k],
            shape.reshape(-1)[k],
            energy.reshape(-1)[k],
            count.reshape(-1)[k],
            k,
        )

    batched = jax.jit(jax.vmap(one))
    meta = {
        "grid_size": n,
        "origin": origin,
        "center_index": center,
        "lig_center": ligand.xyz.mean(0),
    }
    return batched, meta


def translation_from_index(k: int, n: int, h: float) -> np.ndarray:
    """Ligand displacement (Å) of flat correlation index ``k`` (wrapped to [-n/2, n/2))."""
    ijk = np.array(np.unravel_index(int(k), (n, n, n)))
    ijk = np.where(ijk >= n // 2, ijk - n, ijk)
    return ijk * h


@dataclass
class Pose:
    """Ligand placement: x' = rotation @ (x - ligand_center) + position (Å)."""

    rank: int
    rotation: np.ndarray
    position: np.ndarray
    score: float
    shape: float
    energy_kcal: float
    restraint_atoms: float
    cluster_size: int = 1
    metrics: dict = field(default_factory=dict)

    def apply(self, xyz: np.ndarray, ligand_center: np.ndarray) -> np.ndarray:
        return (xyz - ligand_center) @ self.rotation.T + self.position

    def to_dict(self) -> dict:
        return {
            "rank": self.rank,
            "rotation": self.rotation.round(6).tolist(),
            "position_angstrom": self.position.round(4).tolist(),
            "score": round(self.score, 3),
            "shape": round(self.shape, 3),
            "electrostatic_kcal_per_mol": round(self.energy_kcal, 3),
            "restraint_atoms": round(self.restraint_atoms, 1),
            "cluster_size": self.cluster_size,
            **self.metrics,
        }


@dataclass
class DockingResult:
    poses: list[Pose]
    settings: DockingSettings
    grid_size: int
    n_rotations: int
    ligand_center: np.ndarray
    restrained: bool


def dock(
    receptor: Molecule,
    ligand: Molecule,
    settings: DockingSettings = DockingSettings(),
    rotations: np.ndarray | None = None,
) -> DockingResult:
    """FFT docking of ``ligand`` onto the fixed ``receptor``; clustered, ranked poses."""
    import jax.numpy as jnp

    if rotations is None:
        rotations = quaternion_matrices(super_fibonacci_quaternions(settings.n_rotations))
    scorer, meta = make_scorer(receptor, ligand, settings)
    n, h = meta["grid_size"], settings.spacing
    b = settings.batch
    padded = np.concatenate([rotations, np.repeat(np.eye(3)[None], (-len(rotations)) % b, 0)])
    out = []
    for start in range(0, len(padded), b):
        res = scorer(jnp.asarray(padded[start : start + b], dtype=jnp.float32))
        out.append([np.asarray(v) for v in res])
    score, shape, energy, count, index = (
        np.concatenate(c)[: len(rotations)] for c in zip(*out, strict=True)
    )
    rec_center_grid = meta["origin"] + h * meta["center_index"]
    order = np.argsort(-score)
    order = order[np.isfinite(score[order])]
    lig_ca = ligand.xyz[ligand.is_ca] - meta["lig_center"]
    reps: list[tuple[int, np.ndarray]] = []
    sizes: list[int] = []
    for i in order:
        pos = rec_center_grid + translation_from_index(index[i], n, h)
        ca = lig_ca @ rotations[i].T + pos
        for k, (_, ca_rep) in enumerate(reps):
            if np.sqrt(np.mean(np.sum((ca - ca_rep) ** 2, 1))) < settings.cluster_rmsd:
                sizes[k] += 1
                break
        else:
            if len(reps) < settings.n_keep:
                reps.append((i, ca))
                sizes.append(1)
    poses = []
    for rank, ((i, _), size) in enumerate(zip(reps, sizes, strict=True), start=1):
        poses.append(
            Pose(
                rank=rank,
                rotation=np.asarray(rotations[i], dtype=float),
                position=rec_center_grid + translation_from_index(index[i], n, h),
                score=float(score[i]),
                shape=float(shape[i]),
                energy_kcal=float(energy[i]),
                restraint_atoms=float(count[i]),
                cluster_size=size,
            )
        )
    return DockingResult(
        poses=poses,
        settings=settings,
        grid_size=n,
        n_rotations=len(rotations),
        ligand_center=meta["lig_center"],
        restrained=bool(ligand.restraint.any() and receptor.restraint.any()),
    )


def score_pose_direct(
    receptor: Molecule, ligand_xyz: np.ndarray, ligand: Molecule, settings: DockingSettings
) -> dict:
    """Reference score of one placed ligand (Å coordinates) without FFTs or receptor
    grids: the ligand's occupied cells and charge cells are enumerated, and the receptor
    shape value (KD-tree distances) and potential (explicit Coulomb sum over the
    lattice-snapped receptor charges) are evaluated at exactly those cells."""
    from scipy.spatial import cKDTree

    h = settings.spacing
    center = receptor.xyz.mean(0)
    xyz = (ligand_xyz - center) / h  # lattice units, lattice points at integers
    cells = np.floor(xyz)[:, None, :] + _stencil(settings)[None]
    d2 = np.sum((cells - xyz[:, None, :]) ** 2, -1) * h * h
    occupied = np.unique(cells[d2 <= settings.core_radius**2].astype(int), axis=0)
    points = center + h * occupied
    dist, _ = cKDTree(receptor.xyz).query(points)
    value = np.where(dist <= settings.core_radius, settings.rho,
                     np.where(dist <= settings.surface_radius, 1.0, 0.0))  # fmt: skip
    shape = float(value.sum())
    charged = np.nonzero(receptor.charges)[0]
    q_xyz = center + h * np.round((receptor.xyz[charged] - center) / h)
    lig_q = np.nonzero(ligand.charges)[0]
    q_points = center + h * np.round(xyz[lig_q])
    r = np.maximum(np.linalg.norm(q_points[:, None, :] - q_xyz[None], axis=-1), 2.0)
    phi = COULOMB_KCAL * (receptor.charges[charged] / (_dielectric(r) * r)).sum(1)
    in_core = cKDTree(receptor.xyz).query(q_points)[0] <= settings.core_radius
    energy = float((np.where(in_core, 0.0, phi) * ligand.charges[lig_q]).sum())
    return {"shape": shape, "energy_kcal": energy, "score": shape - settings.elec_weight * energy}


# ---------------------------------------------------------------- CAPRI evaluation


def _contacts(a_xyz, a_res, b_xyz, b_res, cutoff: float) -> set:
    return {(a_res[i], b_res[j]) for i, j in pairs_within(a_xyz, b_xyz, cutoff)}


def capri_metrics(receptor: Molecule, ligand: Molecule, native_xyz: np.ndarray,
                  model_xyz: np.ndarray) -> dict:  # fmt: skip
    """CAPRI fnat, L-RMSD and i-RMSD (Å) of a ligand placement; receptor fixed.

    fnat: fraction of native residue contacts (heavy atoms within 5 Å) reproduced.
    L-RMSD: ligand backbone RMSD with the receptor superposed (it is fixed here).
    i-RMSD: backbone RMSD, after optimal superposition, of interface residues (any heavy
    atom within 10 Å of the partner in the native complex). Quality: CAPRI thresholds."""
    native = _contacts(receptor.xyz, receptor.residues, native_xyz, ligand.residues, 5.0)
    model = _contacts(receptor.xyz, receptor.residues, model_xyz, ligand.residues, 5.0)
    fnat = len(native & model) / max(len(native), 1)
    bb = ligand.is_backbone
    l_rmsd = float(np.sqrt(np.mean(np.sum((native_xyz[bb] - model_xyz[bb]) ** 2, 1))))
    near = _contacts(receptor.xyz, receptor.residues, native_xyz, ligand.residues, 10.0)
    rec_if = {a for a, _ in near}
    lig_if = {b for _, b in near}
    rmask = np.array([r in rec_if for r in receptor.residues]) & receptor.is_backbone
    lmask = np.array([r in lig_if for r in ligand.residues]) & ligand.is_backbone
    i_rmsd = superpose(
        np.concatenate([receptor.xyz[rmask], model_xyz[lmask]]),
        np.concatenate([receptor.xyz[rmask], native_xyz[lmask]]),
    ).rmsd
    if fnat >= 0.5 and (l_rmsd <= 1.0 or i_rmsd <= 1.0):
        quality = "high"
    elif fnat >= 0.3 and (l_rmsd <= 5.0 or i_rmsd <= 2.0):
        quality = "medium"
    elif fnat >= 0.1 and (l_rmsd <= 10.0 or i_rmsd <= 4.0):
        quality = "acceptable"
    else:
        quality = "incorrect"
    return {
        "fnat": round(fnat, 3),
        "l_rmsd": round(l_rmsd, 2),
        "i_rmsd": round(i_rmsd, 2),
        "capri": quality,
    }


CAPRI_ORDER = {"incorrect": 0, "acceptable": 1, "medium": 2, "high": 3}


def interface_residues(receptor: Molecule, ligand_xyz: np.ndarray, cutoff: float = 5.0) -> set:
    """Receptor (chain, number) residues with a heavy atom within ``cutoff`` Å of the ligand."""
    return {
        receptor.residues[i]
        for i in np.unique(pairs_within(receptor.xyz, ligand_xyz, cutoff)[:, 0])
    }


# ---------------------------------------------------------------- pipelines and output


def place_ligand(assembly, chains: list[str], pose: Pose, ligand_center: np.ndarray):
    """A copy of ``assembly`` restricted to ``chains`` with the pose applied (Å)."""
    from dataclasses import replace as dc_replace

    from rankbind.modelling.mutations import select_chains

    sub = select_chains(assembly, chains)
    atoms = []
    for a in sub.atoms:
        xyz = pose.apply(np.asarray(a.xyz)[None], ligand_center)[0]
        atoms.append(dc_replace(a, xyz=tuple(float(v) for v in xyz)))
    return dc_replace(sub, atoms=atoms)


def complex_pdb_text(receptor_assembly, receptor_chains, placed_ligand, remarks: list[str]) -> str:
    """PDB text of receptor chains + placed ligand chains, with MODEL remarks first."""
    from dataclasses import replace as dc_replace

    from rankbind.modelling.mutations import select_chains

    rec = select_chains(receptor_assembly, receptor_chains)
    both = dc_replace(
        rec,
        chains=rec.chains + placed_ligand.chains,
        atoms=rec.atoms + placed_ligand.atoms,
        seqres={},
        ssbonds=[],
    )
    head = [f"REMARK 999 {line}" for line in remarks]
    return "\n".join(head) + "\n" + both.to_pdb_text()


def write_ensemble(
    result: DockingResult,
    receptor_assembly,
    receptor_chains: list[str],
    ligand_assembly,
    ligand_chains: list[str],
    out_dir,
    provenance: dict,
    n_write: int = 10,
) -> dict:
    """Write the top ``n_write`` clustered poses as PDB files plus ``ensemble.json``
    (settings, provenance, per-pose scores) into ``out_dir``; returns the JSON data."""
    from pathlib import Path

    from rankbind.fileio import write_json, write_text

    out = Path(out_dir)
    poses = []
    for pose in result.poses[:n_write]:
        placed = place_ligand(ligand_assembly, ligand_chains, pose, result.ligand_center)
        name = f"pose_{pose.rank:02d}.pdb"
        remarks = [
            "MODEL: rigid-body FFT docking pose, not an experimental structure",
            f"rank {pose.rank} score {pose.score:.2f} cluster_size {pose.cluster_size}",
            f"receptor {receptor_assembly.name} ligand {ligand_assembly.name}",
        ]
        write_text(
            out / name, complex_pdb_text(receptor_assembly, receptor_chains, placed, remarks)
        )
        poses.append(pose.to_dict() | {"file": name})
    data = {
        "label": "MODEL: docked complexes (rigid-body FFT docking), not experimental structures",
        "method": "Katchalski-Katzir FFT docking (rankbind.modelling.docking)",
        "settings": result.settings.__dict__,
        "grid_size": result.grid_size,
        "n_rotations": result.n_rotations,
        "restrained": result.restrained,
        "receptor": {"assembly": receptor_assembly.name, "chains": receptor_chains},
        "ligand": {"assembly": ligand_assembly.name, "chains": ligand_chains},
        "provenance": provenance,
        "poses": poses,
    }
    write_json(out / "ensemble.json", data)
    return data
