"""Umbrella windows run on the engine's reporters (app.Simulation + a sampling
reporter, platform rules, minimisation progress): on Reference the samples equal a plain
OpenMM loop doing the same steps, bit for bit."""

from __future__ import annotations

import numpy as np
import openmm
import pytest
from openmm import unit
from test_umbrella import BORESCH, fragment  # noqa: F401 (fixture)

from rankbind.freeenergy.umbrella import (
    make_plan,
    masses_of,
    place_receptor,
    restrained_system,
    restraint_coordinates,
    run_window,
)


def test_window_equals_plain_openmm_loop(fragment, tmp_path):  # noqa: F811
    chains, topology, xyz, system = fragment
    masses = masses_of(system)
    plan = make_plan(
        topology, chains, xyz, masses, receptor_selection="RANK", pull_nm=0.2,
        boresch_selections=BORESCH, samples=3, steps_per_sample=5, equilibration_steps=10,
        minimisation_iterations=15, timestep_ps=0.001,
    )  # fmt: skip
    npz = run_window(plan, 1, tmp_path, system, xyz, platform="Reference", place=True, seed=9)
    # the plain loop, as the window code was written before the engine existed
    start = place_receptor(plan, np.asarray(xyz, float), masses, plan.centres_nm[1])
    integrator = openmm.LangevinMiddleIntegrator(
        plan.temperature_K * unit.kelvin,
        plan.friction_per_ps / unit.picosecond,
        plan.timestep_ps * unit.picosecond,
    )
    integrator.setRandomNumberSeed(9)
    context = openmm.Context(
        restrained_system(plan, system, 1),
        integrator,
        openmm.Platform.getPlatformByName("Reference"),
    )
    context.setPositions(start * unit.nanometer)
    openmm.LocalEnergyMinimizer.minimize(context, 10.0, plan.minimisation_iterations)
    context.setVelocitiesToTemperature(plan.temperature_K * unit.kelvin, 9)
    integrator.step(plan.equilibration_steps)
    r, energies = [], []
    for _ in range(plan.samples):
        integrator.step(plan.steps_per_sample)
        state = context.getState(getPositions=True, getEnergy=True)
        energies.append(state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
        frame = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        r.append(restraint_coordinates(plan, frame, masses)["r_nm"])
    with np.load(npz) as data:
        assert np.array_equal(data["r_nm"], np.array(r))
        assert np.array_equal(data["potential_kJ"], np.array(energies))
    with pytest.raises(Exception, match="not available|unknown platform"):
        run_window(plan, 1, tmp_path, system, xyz, platform="NoSuchPlatform")
