"""Energies and forces of one prepared system agree across Reference, CPU and OpenCL."""

from __future__ import annotations

import numpy as np
import openmm
import pytest
from helpers import fragment
from openmm import unit

from rankbind.errors import PlatformError
from rankbind.platforms import available_platforms, minimisation_platform, select_platform


def _energy_forces(prepared, choice):
    integrator = openmm.VerletIntegrator(0.001)
    context = openmm.Context(prepared.system, integrator, choice.platform, choice.properties)
    context.setPositions(prepared.positions)
    state = context.getState(getEnergy=True, getForces=True)
    energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    forces = state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
    return energy, np.asarray(forces)


def test_gbn2_energy_agrees_reference_cpu_opencl(opencl_platform):
    prepared = fragment("implicit", "GBn2")
    ref_e, ref_f = _energy_forces(prepared, select_platform("Reference"))
    for name in ("CPU", "OpenCL"):
        energy, forces = _energy_forces(prepared, select_platform(name))
        assert abs(energy - ref_e) / abs(ref_e) < 1e-4, (name, energy, ref_e)
        rel = np.linalg.norm(forces - ref_f) / np.linalg.norm(ref_f)
        assert rel < 1e-3, (name, rel)


def test_auto_prefers_gpu_and_skips_pocl():
    choice = select_platform("auto")
    have = available_platforms()
    if "CUDA" in have:
        assert choice.name == "CUDA" and choice.properties["Precision"] == "mixed"
    else:
        assert choice.name in ("OpenCL", "CPU")


def test_explicit_requests_work_or_fail_clearly():
    assert select_platform("reference").name == "Reference"
    with pytest.raises(PlatformError, match="unknown platform 'metal'"):
        select_platform("metal")
    if "CUDA" not in available_platforms():
        with pytest.raises(PlatformError, match="CUDA was requested but is not available"):
            select_platform("CUDA")
    with pytest.raises(PlatformError, match="device-index"):
        select_platform("CPU", device_index=1)


def test_pocl_minimises_on_cpu(opencl_platform):
    choice = select_platform("OpenCL", device_index=0)
    assert choice.properties == {"Precision": "mixed", "DeviceIndex": "0"}
    assert minimisation_platform(choice).name in ("CPU", "OpenCL")


def test_named_and_helper_platforms():
    """platform_by_name names what is available on a miss; cpu_platform is CPU (Reference
    without it); single_threaded_cpu pins Contexts to one thread and restores the default."""
    from rankbind.platforms import cpu_platform, platform_by_name, single_threaded_cpu

    assert platform_by_name("Reference").getName() == "Reference"
    with pytest.raises(PlatformError, match="'Metal' unavailable .*Reference"):
        platform_by_name("Metal")
    cpu = cpu_platform()
    assert cpu.getName() == ("CPU" if "CPU" in available_platforms() else "Reference")
    if cpu.getName() != "CPU":
        return
    before = cpu.getPropertyDefaultValue("Threads")
    system = openmm.System()
    system.addParticle(1.0)
    with single_threaded_cpu() as platform:
        context = openmm.Context(system, openmm.VerletIntegrator(0.001), platform)
        assert platform.getPropertyValue(context, "Threads") == "1"
    assert cpu.getPropertyDefaultValue("Threads") == before
