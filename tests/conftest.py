"""Shared fixtures. Environment switches set by .ci/run:

RANKBIND_REQUIRE_OPENCL=1  a test needing the OpenCL platform fails instead of skipping.
RANKBIND_REQUIRE_SLURM=1   a test needing a SLURM cluster fails instead of skipping.
"""

from __future__ import annotations

import os

import pytest


def require(capability: str, available: bool, why: str) -> None:
    """Skip (developer machine) or fail (CI) when ``capability`` is unavailable."""
    if available:
        return
    if os.environ.get(f"RANKBIND_REQUIRE_{capability.upper()}") == "1":
        pytest.fail(f"{capability} required in this run but unavailable: {why}")
    pytest.skip(f"{capability} unavailable: {why}")


@pytest.fixture
def opencl_platform():
    """The OpenMM OpenCL platform (PoCL on CPU is fine)."""
    import openmm

    names = [
        openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())
    ]
    require("opencl", "OpenCL" in names, f"OpenMM platforms: {names}")
    return openmm.Platform.getPlatformByName("OpenCL")
