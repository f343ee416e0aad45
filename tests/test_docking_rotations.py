"""Rotation sets: uniform coverage of SO(3), nearest-neighbour angles vs expectation, and
the cone restriction vs its analytic fraction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rankbind.errors import RankbindError
from rankbind.modelling import rotations as rt


def test_six_degree_set_spacing_and_coverage():
    n = rt.count_for_spacing(6.0)
    q = rt.super_fibonacci_quaternions(n)
    r = rt.quaternion_matrices(q)
    assert np.allclose(np.linalg.det(r[::97]), 1.0)
    nn = np.degrees(rt.nearest_neighbour_angles(q))
    assert np.median(nn) <= 6.0
    # no clumps: every sample has its nearest neighbour at > 0.6x the median spacing
    assert nn.min() > 0.6 * np.median(nn)
    # coverage: the largest gap seen by 20 000 Haar-random probes (measured 6.9 degrees:
    # super-Fibonacci spirals are not a lattice) stays within 1.2x the spacing
    probes = rt.random_quaternions(20_000, np.random.default_rng(3))
    gap = np.degrees(rt.distance_to_set(q, probes))
    assert gap.max() < 1.2 * 6.0
    # expectation: balls of radius theta around the samples are disjoint while
    # 2 theta < min NN, so the probe fraction within theta is n x Haar measure of a ball
    theta = math.radians(0.45 * nn.min())
    expected = n * rt.ball_fraction(theta)
    assert np.mean(np.radians(gap) <= theta) == pytest.approx(expected, abs=0.01)


def test_nearest_neighbour_distribution_narrow_unlike_random():
    """Voronoi cells of the quasi-uniform set are nearly equal (probe counts per sample),
    and its nearest-neighbour angles are far narrower than a Haar-random set's, whose
    distribution follows P(NN > t) = (1 - F(t))^(n-1), F = (t - sin t)/pi."""
    n = 300
    q = rt.super_fibonacci_quaternions(n)
    rng = np.random.default_rng(5)
    probes = rt.random_quaternions(60_000, rng)
    from scipy.spatial import cKDTree

    _, idx = cKDTree(np.concatenate([q, -q])).query(probes)
    cells = np.bincount(idx % n, minlength=n)
    assert cells.std() / cells.mean() < 0.15  # Poisson noise alone is ~0.07
    rand = rt.random_quaternions(n, rng)
    nn_rand = rt.nearest_neighbour_angles(rand)
    t = np.median(nn_rand)
    expected_survival = (1 - rt.ball_fraction(t)) ** (n - 1)
    assert np.mean(nn_rand > t) == pytest.approx(expected_survival, abs=0.1)
    nn = rt.nearest_neighbour_angles(q)
    assert nn.std() / nn.mean() < 0.5 * nn_rand.std() / nn_rand.mean()


def test_cone_keeps_the_analytic_fraction():
    r = rt.uniform_rotations(10.0)
    keep = rt.cone_mask(r, [0.0, 0.0, 5.0], [1.0, 1.0, 0.0], 60.0)
    # a Haar-random rotation sends a fixed vector uniformly over the sphere: cap fraction
    assert keep.mean() == pytest.approx((1 - math.cos(math.radians(60))) / 2, abs=0.01)
    v = np.einsum("nij,j->ni", r[keep], [0.0, 0.0, 1.0])
    assert np.all(v @ (np.array([1.0, 1.0, 0.0]) / math.sqrt(2)) >= 0.5 - 1e-9)


def test_bad_spacing_is_a_clear_error():
    with pytest.raises(RankbindError, match="spacing"):
        rt.count_for_spacing(0.1)


def test_rotation_seed_offsets_the_set_without_changing_its_spacing():
    """rotation_seed: the set times one random rotation; nearest-neighbour angles are
    unchanged (right multiplication is an isometry of SO(3)), the samples are not."""
    from rankbind.modelling import docking as dk
    from rankbind.settings import DockingSettings

    mol = dk.Molecule(np.zeros((1, 3)), np.zeros(1), np.ones(1, bool), np.ones(1, bool),
                      [("A", 1)], np.zeros(1, bool))  # fmt: skip
    base, _ = dk.search_rotations(mol, mol, DockingSettings(rotation_spacing_deg=30.0))
    moved, notes = dk.search_rotations(
        mol, mol, DockingSettings(rotation_spacing_deg=30.0, rotation_seed=7)
    )
    assert "seed 7" in notes[-1] and moved.shape == base.shape
    assert np.allclose(np.einsum("nij,nkj->nik", moved, moved), np.eye(3), atol=1e-9)
    nn = [np.sort(rt.nearest_neighbour_angles(rt.matrix_quaternions(r))) for r in (base, moved)]
    assert np.allclose(nn[0], nn[1], atol=1e-6)
    angle = np.degrees(rt.distance_to_set(rt.matrix_quaternions(moved),
                                          rt.matrix_quaternions(base)))  # fmt: skip
    assert np.median(angle) > 1.0
