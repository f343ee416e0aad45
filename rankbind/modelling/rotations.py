"""Rotation sets for exhaustive rigid-body search: uniform coverage of SO(3) and its
restriction by restraints.

Samples are super-Fibonacci spirals (M. Alexa, "Super-Fibonacci Spirals: Fast,
Low-Discrepancy Sampling of SO(3)", CVPR 2022), a deterministic quasi-uniform set of any
size. The size for a requested angular spacing is calibrated so that the *median
nearest-neighbour angle* equals the spacing (for a lattice-like set each sample then owns
a geodesic ball of about that diameter; ZDOCK's 6° set has 54 000 rotations, this one
has :func:`count_for_spacing` (6) of the same order).

Angles between rotations are geodesic: ``theta = 2 arccos |q1 . q2|`` for unit quaternions
(the rotation angle of ``R1^T R2``). Nearest neighbours are found with a k-d tree on the
quaternions and their antipodes, so 10^5 rotations take seconds.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from rankbind.errors import RankbindError


def super_fibonacci_quaternions(n: int) -> np.ndarray:
    """(n, 4) unit quaternions (w, x, y, z) spread quasi-uniformly over SO(3)."""
    if n < 1:
        raise RankbindError(f"rotation count must be >= 1, got {n}")
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


def matrix_quaternions(r: np.ndarray) -> np.ndarray:
    """(n, 4) unit quaternions (w >= 0) of (n, 3, 3) rotation matrices (via scipy)."""
    from scipy.spatial.transform import Rotation

    xyzw = Rotation.from_matrix(np.asarray(r)).as_quat()
    q = np.concatenate([xyzw[:, 3:], xyzw[:, :3]], 1)
    return q * np.where(q[:, :1] < 0, -1.0, 1.0)


@functools.lru_cache(maxsize=32)
def count_for_spacing(spacing_deg: float) -> int:
    """Smallest super-Fibonacci size (to 2 %) whose median nearest-neighbour angle is at
    most ``spacing_deg``: found by bisection on measured sets (the median scales only
    roughly as n^(-1/3) for these spirals). 6 degrees -> about 29 000 rotations."""
    if not 2.0 <= spacing_deg <= 60.0:
        raise RankbindError(f"rotation spacing must be 2-60 degrees, got {spacing_deg}")
    target = math.radians(spacing_deg)

    def median(n: int) -> float:
        return float(np.median(nearest_neighbour_angles(super_fibonacci_quaternions(n))))

    lo, hi = max(8, int((2.0 / target) ** 3)), int((4.0 / target) ** 3) + 16
    while median(hi) > target:
        hi *= 2
    while hi - lo > max(1, hi // 50):
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if median(mid) <= target else (mid, hi)
    return hi


def uniform_rotations(spacing_deg: float) -> np.ndarray:
    """(n, 3, 3) quasi-uniform rotation matrices at ``spacing_deg`` median spacing."""
    return quaternion_matrices(super_fibonacci_quaternions(count_for_spacing(spacing_deg)))


def _chord_to_angle(d: np.ndarray) -> np.ndarray:
    # chord d between unit quaternions -> half-angle 2 arcsin(d/2) -> rotation angle x2
    return 4.0 * np.arcsin(np.clip(d / 2.0, 0.0, 1.0))


def nearest_neighbour_angles(q: np.ndarray) -> np.ndarray:
    """Geodesic angle (rad) from each rotation of ``q`` (n, 4) to its nearest other one."""
    from scipy.spatial import cKDTree

    both = np.concatenate([q, -q])
    d, _ = cKDTree(both).query(q, k=2)
    return _chord_to_angle(d[:, 1])


def distance_to_set(q: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """Geodesic angle (rad) from each probe quaternion to the nearest member of ``q``."""
    from scipy.spatial import cKDTree

    d, _ = cKDTree(np.concatenate([q, -q])).query(probes)
    return _chord_to_angle(d)


def random_quaternions(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 4) Haar-uniform random unit quaternions."""
    q = rng.normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def ball_fraction(theta: np.ndarray) -> np.ndarray:
    """Haar measure of a geodesic ball of radius ``theta`` (rad) in SO(3):
    (theta - sin theta) / pi."""
    return (theta - np.sin(theta)) / np.pi


def cone_mask(
    rotations: np.ndarray, ligand_vector: np.ndarray, target_vector: np.ndarray, max_deg: float
) -> np.ndarray:
    """Rotations that turn ``ligand_vector`` within ``max_deg`` of ``target_vector``.

    Used to present a paratope to an epitope: ligand_vector = paratope centroid - ligand
    centroid, target_vector = receptor centroid - epitope centroid (the paratope must face
    back towards the receptor from the epitope side)."""
    u = np.asarray(ligand_vector, float)
    v = np.asarray(target_vector, float)
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    cos = np.einsum("nij,j,i->n", rotations, u, v)
    return cos >= math.cos(math.radians(max_deg))
