"""Benchmark: plain OpenMM throughput on a DHFR-sized system with the settings of OpenMM's
own benchmark suite, so figures here can be set beside published OpenMM benchmarks.

The published tests (``examples/benchmarks/benchmark.py`` in the OpenMM repository, the
script behind openmm.org/benchmarks) use DHFR coordinates (``5dfr_solv-cube_equil.pdb``,
23,558 atoms; ``5dfr_minimized.pdb``, 2,489 atoms) that ship with the OpenMM source, not
with the pip wheels, and these machines have no network. So the *system* is matched in
size and the *settings* exactly:

- ``pme``: amber99sb.xml + tip3p.xml, PME, 0.9 nm cutoff, HBonds constraints, hydrogen
  mass 1.5 amu, LangevinMiddleIntegrator 300 K, 1/ps, 4 fs, constraint tolerance 1e-5,
  NVT, single precision (where the platform has the property); water added to a cube
  until the atom count is DHFR's 23,558 (± the ions that neutralise it).
- ``gbsa``: amber99sb.xml + amber99_obc.xml, CutoffNonPeriodic 2.0 nm, HBonds, 1.5 amu,
  LangevinMiddleIntegrator 300 K, 91/ps, 4 fs.

Protein: human RANKL protomer A of 3URF (157 residues; DHFR has 159). Timing as in the
published script: 5 initial steps and an energy call, then ``--steps`` timed steps ending
with an energy call. The system is minimised and run ``--equilibrate-steps`` first.

    python gpu_bench/bench_published.py --platforms CPU,OpenCL --steps 500
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hardware import cpu_model, gpu_names  # noqa: E402

DHFR_ATOMS = {"pme": 23558, "gbsa": 2489}
SETTINGS = {
    "pme": {
        "forcefield": ["amber99sb.xml", "tip3p.xml"],
        "nonbonded_method": "PME",
        "cutoff_nm": 0.9,
        "friction_per_ps": 1.0,
    },
    "gbsa": {
        "forcefield": ["amber99sb.xml", "amber99_obc.xml"],
        "nonbonded_method": "CutoffNonPeriodic",
        "cutoff_nm": 2.0,
        "friction_per_ps": 91.0,
    },
}
COMMON = {
    "constraints": "HBonds",
    "hydrogen_mass_amu": 1.5,
    "timestep_fs": 4.0,
    "temperature_K": 300.0,
    "integrator": "LangevinMiddleIntegrator",
    "constraint_tolerance": 1e-5,
    "ensemble": "NVT",
    "precision": "single",
    "initial_steps": 5,
}


def build(test: str):
    """(topology, positions, System) for ``test`` ('pme' or 'gbsa')."""
    import io

    from openmm import app, unit
    from pdbfixer import PDBFixer

    from rankbind.platforms import cpu_platform
    from rankbind.structures import build_assembly
    from rankbind.structures.assembly import extract

    protomer = extract(build_assembly("3URF", "asu"), ["RANKL/A"])
    fixer = PDBFixer(pdbfile=io.StringIO(protomer.to_pdb_text()), platform=cpu_platform())
    fixer.findMissingResidues()
    fixer.missingResidues = {}
    fixer.findMissingAtoms()
    fixer.addMissingAtoms()
    settings = SETTINGS[test]
    forcefield = app.ForceField(*settings["forcefield"])
    modeller = app.Modeller(fixer.topology, fixer.positions)
    modeller.addHydrogens(app.ForceField("amber99sb.xml"), pH=7.0, platform=cpu_platform())
    if test == "pme":
        protein_atoms = modeller.topology.getNumAtoms()
        waters = (DHFR_ATOMS["pme"] - protein_atoms) // 3
        modeller.addSolvent(forcefield, model="tip3p", numAdded=waters, boxShape="cube")
    method = getattr(app, settings["nonbonded_method"])
    system = forcefield.createSystem(
        modeller.topology,
        nonbondedMethod=method,
        nonbondedCutoff=settings["cutoff_nm"] * unit.nanometer,
        constraints=app.HBonds,
        hydrogenMass=COMMON["hydrogen_mass_amu"] * unit.amu,
    )
    return modeller.topology, modeller.positions, system


def integrator(test: str):
    import openmm
    from openmm import unit

    integ = openmm.LangevinMiddleIntegrator(
        COMMON["temperature_K"] * unit.kelvin,
        SETTINGS[test]["friction_per_ps"] / unit.picosecond,
        COMMON["timestep_fs"] * unit.femtosecond,
    )
    integ.setConstraintTolerance(COMMON["constraint_tolerance"])
    integ.setRandomNumberSeed(1)
    return integ


def equilibrated_state(topology, positions, system, test: str, steps: int):
    """Minimised (CPU platform) and ``steps`` of dynamics: the shared starting State."""
    import openmm

    from rankbind.platforms import cpu_platform

    context = openmm.Context(system, integrator(test), cpu_platform())
    context.setPositions(positions)
    if system.usesPeriodicBoundaryConditions():
        context.setPeriodicBoxVectors(*topology.getPeriodicBoxVectors())
    openmm.LocalEnergyMinimizer.minimize(context, 10.0, 500)
    context.setVelocitiesToTemperature(COMMON["temperature_K"], 1)
    context.getIntegrator().step(steps)
    return context.getState(getPositions=True, getVelocities=True)


def time_platform(system, state, test: str, name: str, steps: int) -> dict:
    """ns/day as the published script measures it (after 5 initial steps)."""
    import openmm

    from rankbind.platforms import platform_by_name

    platform_ = platform_by_name(name)
    properties = {}
    if "Precision" in platform_.getPropertyNames():
        properties["Precision"] = COMMON["precision"]
    t0 = time.perf_counter()
    context = openmm.Context(system, integrator(test), platform_, properties)
    context_s = time.perf_counter() - t0
    context.setState(state)
    context.getIntegrator().step(COMMON["initial_steps"])
    context.getState(getEnergy=True)
    start = time.perf_counter()
    context.getIntegrator().step(steps)
    context.getState(getEnergy=True)
    seconds = time.perf_counter() - start
    resolved = {n: platform_.getPropertyValue(context, n) for n in platform_.getPropertyNames()}
    return {
        "platform": name,
        "properties": resolved,
        "steps": steps,
        "seconds": seconds,
        "ns_per_day": steps * COMMON["timestep_fs"] * 1e-6 * 86400.0 / seconds,
        "context_creation_s": context_s,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", default="pme,gbsa")
    parser.add_argument("--platforms", default="CUDA,OpenCL,CPU")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--equilibrate-steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("gpu_bench/results/published_cpu.json"))
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)

    import openmm

    from rankbind.fileio import write_json
    from rankbind.platforms import available_platforms, opencl_is_cpu_only

    available = set(available_platforms())
    names = [n for n in args.platforms.split(",") if n in available]
    load_start = os.getloadavg()
    tests = []
    for test in args.tests.split(","):
        topology, positions, system = build(test)
        state = equilibrated_state(topology, positions, system, test, args.equilibrate_steps)
        runs = []
        for name in names:
            for _ in range(args.repeats):
                run = time_platform(system, state, test, name, args.steps)
                runs.append(run)
                print(f"{test} {name}: {run['ns_per_day']:.2f} ns/day", flush=True)
        medians = {
            name: statistics.median(r["ns_per_day"] for r in runs if r["platform"] == name)
            for name in names
        }
        tests.append(
            {
                "test": test,
                "published_system": f"DHFR, {DHFR_ATOMS[test]} atoms (OpenMM benchmark '{test}')",
                "n_atoms": system.getNumParticles(),
                "atoms_vs_published": system.getNumParticles() / DHFR_ATOMS[test],
                "settings": SETTINGS[test] | COMMON,
                "median_ns_per_day": medians,
                "runs": runs,
            }
        )
    record = {
        "benchmark": "plain OpenMM on DHFR-sized systems with the OpenMM benchmark-suite settings",
        "source_of_settings": "openmm/openmm examples/benchmarks/benchmark.py (tests 'pme', 'gbsa')",
        "protein": "human RANKL protomer A of 3URF (stand-in for DHFR: same size class)",
        "tests": tests,
        "command": " ".join(["python", "gpu_bench/bench_published.py", *(argv or sys.argv[1:])]),
        "hardware": {
            "cpu": cpu_model(),
            "logical_cpus": os.cpu_count(),
            "gpu": gpu_names(),
            "opencl_is_pocl_on_cpu": opencl_is_cpu_only(),
            "load_average_start": list(load_start),
            "load_average_end": list(os.getloadavg()),
            "note": args.note,
        },
        "versions": {"python": platform.python_version(), "openmm": openmm.__version__},
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(args.out, record)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
