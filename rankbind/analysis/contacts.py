"""Residue–residue contact distances in JAX, batched over frames and streamed in chunks.

The numbers equal :func:`mdtraj.compute_contacts` for the same frames, residue pairs and
scheme (``closest-heavy``, ``closest``, ``ca``), with the same minimum-image convention
(rectangular boxes; triclinic boxes in OpenMM's reduced lower-triangular form, where the
nearest of the 27 neighbouring images is taken after reduction).
Distances are in nm. Memory is bounded by ``chunk_frames`` x ``max_elements``, never by
the trajectory length: pass an iterable of Trajectory chunks (e.g. :func:`mdtraj.iterload`)
for long trajectories.

Kernel: residues are padded to a few atom-block widths (padding repeats a residue's own
atoms, so the minimum is unchanged and no mask is needed); residue pairs are grouped by
(width, width) so that each group is one dense, jit-compiled min-over-block reduction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

import rankbind.jaxconfig  # noqa: F401  (float64 available; kernels cast explicitly)
from rankbind.errors import SelectionError
from rankbind.structures.selection import select_union

SCHEMES = ("closest-heavy", "closest", "ca")
_WIDTHS = (1, 4, 8, 16, 24, 32, 48, 64)  # few widths -> few jit compilations
_IMAGES = np.array(
    [(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], dtype=float
)


def _width(n: int) -> int:
    for w in _WIDTHS:
        if n <= w:
            return w
    return int(np.ceil(n / 32) * 32)


def residue_atoms(topology, scheme: str) -> list[list[int]]:
    """Atom indices of every residue of an mdtraj ``topology`` used by ``scheme``."""
    if scheme not in SCHEMES:
        raise SelectionError(f"unknown contact scheme '{scheme}'; choose from {', '.join(SCHEMES)}")
    out = []
    for residue in topology.residues:
        if scheme == "ca":
            atoms = [a.index for a in residue.atoms if a.name == "CA"]
        elif scheme == "closest-heavy":
            atoms = [a.index for a in residue.atoms if a.element is None or a.element.symbol != "H"]
        else:
            atoms = [a.index for a in residue.atoms]
        out.append(atoms)
    return out


@dataclass(frozen=True)
class ContactPlan:
    """Precomputed padded atom blocks for a fixed list of residue pairs.

    ``pairs``: (n_pairs, 2) residue indices. ``groups``: per (width1, width2) block shape,
    (positions of its pairs in ``pairs``, (n, width1) atom indices, (n, width2) atom indices).
    """

    pairs: np.ndarray
    scheme: str
    groups: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]
    n_atoms: int


def make_plan(topology, pairs: np.ndarray | Sequence, scheme: str = "closest-heavy") -> ContactPlan:
    """Plan the contact calculation of residue ``pairs`` ((n_pairs, 2) residue indices).
    A listed residue with no atom for the scheme (e.g. no CA for ``ca``) is an error
    (mdtraj drops such pairs with a warning)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    members = residue_atoms(topology, scheme)
    n_res = len(members)
    if pairs.size and (pairs.min() < 0 or pairs.max() >= n_res):
        raise SelectionError(f"residue pair index out of range (topology has {n_res} residues)")
    residues = list(topology.residues)
    for r in np.unique(pairs):
        n = len(members[r])
        if n == 0 or (scheme == "ca" and n != 1):
            raise SelectionError(
                f"residue {residues[r]} (index {r}) has {n} atoms for contact scheme '{scheme}'"
            )
    widths = np.array([_width(len(m)) for m in members])
    blocks = np.zeros((n_res, widths.max(initial=1)), dtype=np.int64)
    for r, (m, w) in enumerate(zip(members, widths, strict=True)):
        if m:
            blocks[r, :w] = (m * (w // len(m) + 1))[:w]
    # order each pair so the wider block comes first (distance is symmetric)
    first = np.where(widths[pairs[:, 0]] >= widths[pairs[:, 1]], pairs[:, 0], pairs[:, 1])
    second = np.where(widths[pairs[:, 0]] >= widths[pairs[:, 1]], pairs[:, 1], pairs[:, 0])
    keys = widths[first] * 1000 + widths[second]
    groups = []
    for key in np.unique(keys):
        where = np.nonzero(keys == key)[0]
        idx1 = blocks[first[where], : key // 1000]
        idx2 = blocks[second[where], : key % 1000]
        groups.append((where, idx1, idx2))
    return ContactPlan(pairs, scheme, tuple(groups), topology.n_atoms)


def _box_kind(boxes: np.ndarray | None) -> str:
    if boxes is None:
        return "none"
    off = boxes.copy()
    off[:, [0, 1, 2], [0, 1, 2]] = 0.0
    return "ortho" if np.all(off == 0.0) else "triclinic"


@partial(jax.jit, static_argnames=("box_kind",))
def _block_min(xyz, boxes, idx1, idx2, box_kind: str):
    """(F, P) minimum distance between atom blocks idx1 (P, M1) and idx2 (P, M2).

    xyz is (F, 3, N) and each Cartesian component is handled as its own (F, P, M1, M2)
    array (about 4x faster on CPU than a trailing length-3 axis)."""
    d = [xyz[:, k][:, idx1][:, :, :, None] - xyz[:, k][:, idx2][:, :, None, :] for k in range(3)]
    if box_kind == "ortho":
        for k in range(3):
            length = boxes[:, k, k][:, None, None, None]
            d[k] = d[k] - length * jnp.round(d[k] / length)
        d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
    elif box_kind == "triclinic":
        for i in (2, 1, 0):  # reduce by c, then b, then a (OpenMM/mdtraj order)
            n = jnp.round(d[i] / boxes[:, i, i][:, None, None, None])
            d = [d[k] - n * boxes[:, i, k][:, None, None, None] for k in range(3)]
        shifts = jnp.einsum("sk,fkx->fxs", jnp.asarray(_IMAGES, d[0].dtype), boxes)  # F,3,27
        e = [d[k][..., None] + shifts[:, k][:, None, None, None, :] for k in range(3)]
        d2 = (e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).min(axis=-1)  # nearest of 27 images
    else:
        d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
    return jnp.sqrt(d2.min(axis=-1).min(axis=-1))


def _distances_chunk(
    plan: ContactPlan,
    xyz: np.ndarray,
    boxes: np.ndarray | None,
    dtype,
    chunk_frames: int,
    max_elements: int,
) -> np.ndarray:
    n_frames = xyz.shape[0]
    kind = _box_kind(boxes)
    out = np.empty((n_frames, len(plan.pairs)), dtype=np.float32 if dtype == "float32" else float)
    for start in range(0, n_frames, chunk_frames):
        stop = min(start + chunk_frames, n_frames)
        sel = np.arange(start, start + chunk_frames).clip(max=stop - 1)  # pad: fixed shapes
        frames = jnp.asarray(np.transpose(xyz[sel], (0, 2, 1)), dtype=dtype)
        box = jnp.asarray(
            boxes[sel] if boxes is not None else np.zeros((chunk_frames, 3, 3)), dtype=dtype
        )
        for where, idx1, idx2 in plan.groups:
            per_pair = (
                chunk_frames * idx1.shape[1] * idx2.shape[1] * (27 if kind == "triclinic" else 1)
            )
            n_steps = -(-len(where) // max(1, max_elements // per_pair))
            step = -(-len(where) // n_steps)  # equal steps: little pair padding
            step = -(-step // 8) * 8 if step > 8 else step
            for p0 in range(0, len(where), step):
                rows = np.arange(p0, p0 + step).clip(max=len(where) - 1)
                block = _block_min(frames, box, idx1[rows], idx2[rows], box_kind=kind)
                n = min(step, len(where) - p0)
                out[start:stop, where[p0 : p0 + n]] = np.asarray(block)[: stop - start, :n]
    return out


def _frame_block(chunk_frames: int, n_frames: int) -> int:
    """Frames per kernel call: ``chunk_frames``, or the next power of two above a shorter
    chunk (padded), so few distinct shapes are compiled."""
    return min(chunk_frames, 1 << max(0, int(np.ceil(np.log2(max(n_frames, 1))))))


def _as_chunks(trajectory) -> Iterator:
    if hasattr(trajectory, "xyz"):
        yield trajectory
    else:
        yield from trajectory


def _iter_blocks(trajectory, pairs, scheme, periodic, precision, chunk_frames, max_elements):
    """Yield (topology, (n_frames_in_chunk, n_pairs) distances) per trajectory chunk."""
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision must be 'float32' or 'float64', not '{precision}'")
    plan = None
    for chunk in _as_chunks(trajectory):
        if plan is None:
            plan = make_plan(chunk.topology, pairs, scheme)
        elif chunk.n_atoms != plan.n_atoms:
            raise SelectionError(
                f"trajectory chunk has {chunk.n_atoms} atoms, the first had {plan.n_atoms}"
            )
        boxes = chunk.unitcell_vectors if periodic else None
        yield (
            chunk.topology,
            _distances_chunk(
                plan,
                chunk.xyz,
                boxes,
                precision,
                _frame_block(chunk_frames, len(chunk)),
                max_elements,
            ),
        )


def iter_contacts(
    trajectory,
    pairs: np.ndarray | Sequence,
    scheme: str = "closest-heavy",
    periodic: bool = True,
    precision: str = "float32",
    chunk_frames: int = 16,
    max_elements: int = 1 << 22,
) -> Iterator[np.ndarray]:
    """Yield (n_frames_in_chunk, n_pairs) distances (nm) for each chunk of ``trajectory``
    (an mdtraj Trajectory or an iterable of them, e.g. ``mdtraj.iterload(...)``).
    ``precision``: 'float32' (as mdtraj) or 'float64'. Peak memory scales with
    ``chunk_frames`` x ``max_elements``, not with the trajectory length."""
    for _, block in _iter_blocks(
        trajectory, pairs, scheme, periodic, precision, chunk_frames, max_elements
    ):
        yield block


def compute_contacts(
    trajectory,
    pairs: np.ndarray | Sequence,
    scheme: str = "closest-heavy",
    periodic: bool = True,
    precision: str = "float32",
    chunk_frames: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """(distances (n_frames, n_pairs) in nm, pairs (n_pairs, 2)), as mdtraj.compute_contacts."""
    parts = list(iter_contacts(trajectory, pairs, scheme, periodic, precision, chunk_frames))
    return np.concatenate(parts, axis=0), np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def contact_frequency(
    trajectory,
    pairs: np.ndarray | Sequence,
    cutoff: float = 0.45,
    scheme: str = "closest-heavy",
    periodic: bool = True,
    chunk_frames: int = 16,
) -> tuple[np.ndarray, int]:
    """(fraction of frames with distance < ``cutoff`` nm per pair (n_pairs,), n_frames),
    streamed so memory does not grow with the trajectory."""
    counts = np.zeros(len(np.asarray(pairs).reshape(-1, 2)), dtype=np.int64)
    n_frames = 0
    for block in iter_contacts(trajectory, pairs, scheme, periodic, chunk_frames=chunk_frames):
        counts += (block < cutoff).sum(axis=0)
        n_frames += block.shape[0]
    return counts / max(n_frames, 1), n_frames


def contact_map(distances: np.ndarray, pairs: np.ndarray, n_residues: int, cutoff: float = 0.45):
    """(n_residues, n_residues) contact frequency matrix from (n_frames, n_pairs) distances."""
    freq = (np.asarray(distances) < cutoff).mean(axis=0)
    out = np.zeros((n_residues, n_residues))
    out[pairs[:, 0], pairs[:, 1]] = freq
    out[pairs[:, 1], pairs[:, 0]] = freq
    return out


# --- residue selections -----------------------------------------------------------------


def residue_index(topology) -> dict[tuple[str, int], int]:
    """(chain id, residue number) -> residue index for the protein residues of ``topology``."""
    out = {}
    for residue in topology.residues:
        if residue.is_protein:
            out[(residue.chain.chain_id, residue.resSeq)] = residue.index
    return out


def select(topology, chains, texts: str | Sequence[str]) -> np.ndarray:
    """Protein residue indices matching selection text(s) like ``"RANKL"``,
    ``"RANKL/B:233-241"`` or a union ``"FAB_HEAVY/H+FAB_LIGHT/L"`` (grammar of
    :mod:`rankbind.structures.selection`); ``chains`` are the structure's ChainInfo records."""
    index = residue_index(topology)
    by_chain: dict[str, list[int]] = {}
    for chain_id, number in index:
        by_chain.setdefault(chain_id, []).append(number)
    out = {index[key] for key in select_union(chains, by_chain, texts)}
    return np.array(sorted(out), dtype=np.int64)


def cross_pairs(residues_a: np.ndarray, residues_b: np.ndarray) -> np.ndarray:
    """(n_a * n_b, 2) residue pairs between two disjoint residue sets."""
    common = np.intersect1d(residues_a, residues_b)
    if common.size:
        raise SelectionError(f"the two residue groups overlap ({common.size} residues in both)")
    a, b = np.meshgrid(residues_a, residues_b, indexing="ij")
    return np.stack([a.ravel(), b.ravel()], axis=1)


@dataclass
class Interface:
    """Residues at the interface of two groups. ``pairs``: (n, 2) residue indices (group a,
    group b) in contact in at least one frame; ``frequency``: (n,) fraction of frames;
    ``residues_a``/``residues_b``: residue indices with per-residue frequency (fraction of
    frames in which the residue has any contact); ``labels``: residue index -> 'CHAIN:NAME NUM'."""

    pairs: np.ndarray
    frequency: np.ndarray
    residues_a: dict[int, float]
    residues_b: dict[int, float]
    labels: dict[int, str]
    cutoff_nm: float
    scheme: str
    n_frames: int


def residue_label(residue) -> str:
    return f"{residue.chain.chain_id}:{residue.name}{residue.resSeq}"


def interface(
    trajectory,
    residues_a: np.ndarray,
    residues_b: np.ndarray,
    cutoff: float = 0.45,
    scheme: str = "closest-heavy",
    periodic: bool = True,
    chunk_frames: int = 16,
) -> Interface:
    """Residues of group a within ``cutoff`` nm of group b (per ``scheme``), with the
    fraction of frames each pair and each residue is in contact. Every a x b pair is
    computed (no distance pre-screen)."""
    residues_a = np.asarray(residues_a, dtype=np.int64)
    residues_b = np.asarray(residues_b, dtype=np.int64)
    pairs = cross_pairs(residues_a, residues_b)  # a-major: row i * n_b + j
    counts = np.zeros(len(pairs), dtype=np.int64)
    hits_a = np.zeros(len(residues_a), dtype=np.int64)
    hits_b = np.zeros(len(residues_b), dtype=np.int64)
    n_frames = 0
    topologies = []
    for topology, block in _iter_blocks(
        trajectory, pairs, scheme, periodic, "float32", chunk_frames, 1 << 22
    ):
        topologies = topologies or [topology]
        hit = (block < cutoff).reshape(len(block), len(residues_a), len(residues_b))
        counts += hit.reshape(len(block), -1).sum(axis=0)
        hits_a += hit.any(axis=2).sum(axis=0)
        hits_b += hit.any(axis=1).sum(axis=0)
        n_frames += len(block)
    if n_frames == 0:
        raise SelectionError("empty trajectory: no frames to analyse")
    keep = counts > 0
    residues = list(topologies[0].residues)
    fa = {int(r): c / n_frames for r, c in zip(residues_a, hits_a, strict=True) if c}
    fb = {int(r): c / n_frames for r, c in zip(residues_b, hits_b, strict=True) if c}
    labels = {r: residue_label(residues[r]) for r in list(fa) + list(fb)}
    return Interface(pairs[keep], counts[keep] / n_frames, fa, fb, labels, cutoff, scheme, n_frames)
