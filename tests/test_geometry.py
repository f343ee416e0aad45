"""Superposition and pair counting (rankbind.structures.geometry) against analytic
rotations, scipy's Rotation.align_vectors and brute-force numpy distances."""

from __future__ import annotations

import numpy as np
import pytest

from rankbind.structures.geometry import (
    count_pairs_within,
    nearest_distances,
    pairs_within,
    self_pairs_within,
    superpose,
)


def _rotation(axis, angle: float) -> np.ndarray:
    """Rodrigues: rotation by ``angle`` (rad) about unit ``axis``."""
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def test_superpose_recovers_an_analytic_rotation_and_translation():
    rng = np.random.default_rng(1)
    mobile = rng.normal(size=(40, 3)) * 10.0
    rotation = _rotation([1.0, -2.0, 0.5], 2.1)
    translation = np.array([3.0, -7.0, 11.0])
    target = mobile @ rotation.T + translation
    fit = superpose(mobile, target)
    np.testing.assert_allclose(fit.rotation, rotation, atol=1e-12)
    np.testing.assert_allclose(fit.translation, translation, atol=1e-10)
    assert fit.rmsd == pytest.approx(0.0, abs=1e-10)
    np.testing.assert_allclose(fit.apply(mobile), target, atol=1e-10)
    # a 90 degree turn about z, by hand
    square = np.array([[1.0, 0, 0], [0, 2, 0], [0, 0, 3], [1, 1, 1]])
    turned = square @ np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]).T
    np.testing.assert_allclose(superpose(square, turned).apply(square), turned, atol=1e-12)


def test_superpose_with_noise_matches_scipy_and_never_reflects():
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(2)
    mobile = rng.normal(size=(30, 3)) * 5.0
    target = mobile @ _rotation([0.3, 0.4, 1.0], -0.7).T + rng.normal(scale=0.3, size=(30, 3))
    fit = superpose(mobile, target)
    reference, _ = Rotation.align_vectors(target - target.mean(0), mobile - mobile.mean(0))
    np.testing.assert_allclose(fit.rotation, reference.as_matrix(), atol=1e-10)
    moved = (mobile - mobile.mean(0)) @ reference.as_matrix().T + target.mean(0)
    assert fit.rmsd == pytest.approx(np.sqrt(np.mean(np.sum((moved - target) ** 2, 1))))
    mirrored = mobile * np.array([1.0, 1.0, -1.0])  # no rotation maps a set on its mirror
    assert np.linalg.det(superpose(mobile, mirrored).rotation) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="equal"):
        superpose(mobile, target[:10])


def test_pair_queries_match_brute_force():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0, 20, size=(300, 3)), rng.uniform(0, 20, size=(250, 3))
    d = np.linalg.norm(a[:, None] - b[None], axis=-1)
    for cutoff in (1.0, 2.5, 4.0):
        assert count_pairs_within(a, b, cutoff) == int((d < cutoff).sum())
        np.testing.assert_array_equal(pairs_within(a, b, cutoff), np.argwhere(d < cutoff))
    self_d = np.linalg.norm(a[:, None] - a[None], axis=-1)
    expected = np.argwhere(np.triu(self_d < 2.0, k=1))
    np.testing.assert_array_equal(self_pairs_within(a, 2.0), expected)
    np.testing.assert_allclose(nearest_distances(a, b), d.min(axis=1))
    # strictly closer than the cutoff: a pair exactly at the cutoff is not counted
    assert count_pairs_within([[0.0, 0, 0]], [[3.0, 0, 0]], 3.0) == 0
    assert count_pairs_within(np.zeros((0, 3)), b, 3.0) == 0
    assert pairs_within(np.zeros((0, 3)), b, 3.0).shape == (0, 2)
