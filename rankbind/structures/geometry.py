"""Superposition and pair counting: the one home of both.

Coordinates are (n, 3) arrays in any one length unit (Å for assemblies, nm for
trajectories); results are in the same unit. Pair queries use a k-d tree
(``scipy.spatial.cKDTree``), so memory stays linear in the number of atoms.

- :func:`superpose`: optimal rigid superposition (Kabsch 1976, with the reflection
  correction), as a :class:`Superposition` with ``apply`` and the RMSD.
- :func:`count_pairs_within`, :func:`pairs_within`, :func:`self_pairs_within`: atom pairs
  closer than a cutoff between two sets, or within one set.
- :func:`nearest_distances`: distance from each point to the closest reference point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _points(xyz, name: str) -> np.ndarray:
    out = np.asarray(xyz, dtype=float)
    if out.ndim != 2 or out.shape[1] != 3:
        raise ValueError(f"{name}: expected an (n, 3) coordinate array, got shape {out.shape}")
    return out


@dataclass(frozen=True)
class Superposition:
    """x -> x @ rotation.T + translation moves ``mobile`` onto ``target``; ``rmsd`` after
    the move, over the ``n`` fitted points."""

    rotation: np.ndarray  # (3, 3), proper (det +1)
    translation: np.ndarray  # (3,)
    rmsd: float
    n: int

    def apply(self, xyz) -> np.ndarray:
        """``xyz`` (n, 3) moved by this superposition."""
        return np.asarray(xyz, dtype=float) @ self.rotation.T + self.translation


def superpose(mobile, target) -> Superposition:
    """The rotation and translation minimising the RMSD of ``mobile`` onto ``target``
    (both (n, 3), paired row by row; n >= 3). Kabsch: SVD of the covariance of the centred
    sets, with the sign of the last singular vector flipped when needed so the result is a
    rotation, never a reflection."""
    mobile, target = _points(mobile, "mobile"), _points(target, "target")
    if mobile.shape != target.shape or len(mobile) < 3:
        raise ValueError(
            f"superpose needs two equal (n >= 3, 3) arrays, got {mobile.shape} and {target.shape}"
        )
    mc, tc = mobile.mean(0), target.mean(0)
    u, _, vt = np.linalg.svd((mobile - mc).T @ (target - tc))
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    rotation = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    translation = tc - mc @ rotation.T
    moved = mobile @ rotation.T + translation
    rmsd = float(np.sqrt(np.mean(np.sum((moved - target) ** 2, axis=1))))
    return Superposition(rotation, translation, rmsd, len(mobile))


def _tree(xyz):
    from scipy.spatial import cKDTree

    return cKDTree(xyz)


def _strict(cutoff: float) -> float:
    """The largest float below ``cutoff``: k-d tree queries count d <= r; the pair
    functions here count d < cutoff."""
    if cutoff <= 0:
        raise ValueError(f"cutoff must be positive, got {cutoff}")
    return float(np.nextafter(cutoff, 0.0))


def count_pairs_within(a, b, cutoff: float) -> int:
    """Number of pairs (i in ``a``, j in ``b``) closer than ``cutoff`` (strictly)."""
    a, b = _points(a, "a"), _points(b, "b")
    if len(a) == 0 or len(b) == 0:
        return 0
    return int(_tree(a).count_neighbors(_tree(b), _strict(cutoff)))


def pairs_within(a, b, cutoff: float) -> np.ndarray:
    """(n_pairs, 2) index pairs (i into ``a``, j into ``b``) closer than ``cutoff``,
    sorted by i then j."""
    a, b = _points(a, "a"), _points(b, "b")
    if len(a) == 0 or len(b) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    matrix = _tree(a).sparse_distance_matrix(_tree(b), _strict(cutoff), output_type="ndarray")
    out = np.stack([matrix["i"], matrix["j"]], axis=1).astype(np.int64)
    return out[np.lexsort((out[:, 1], out[:, 0]))]


def self_pairs_within(xyz, cutoff: float) -> np.ndarray:
    """(n_pairs, 2) index pairs i < j of ``xyz`` closer than ``cutoff``, sorted."""
    xyz = _points(xyz, "xyz")
    if len(xyz) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = _tree(xyz).query_pairs(_strict(cutoff), output_type="ndarray").astype(np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))] if len(pairs) else pairs.reshape(0, 2)


def nearest_distances(points, reference) -> np.ndarray:
    """(n,) distance from each of ``points`` to the closest point of ``reference``."""
    points, reference = _points(points, "points"), _points(reference, "reference")
    if len(reference) == 0:
        raise ValueError("nearest_distances: the reference set is empty")
    if len(points) == 0:
        return np.zeros(0)
    return _tree(reference).query(points)[0]
