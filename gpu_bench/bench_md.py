"""Benchmark: MD throughput (ns/day) of rankbind's production stage against a plain
OpenMM script doing the same work, on the same platform, in the same run.

Both engines start from the same State (positions + velocities) with the same System
(the prepared System plus rankbind's backbone-restraint force at k = 0, so the force
sets are identical), LangevinMiddleIntegrator with the same temperature, friction and
timestep, the same platform and properties, and the same number of steps. Reporting is
matched: every ``--report-interval`` steps both fetch positions + energies and keep a
trajectory frame and a log row; every checkpoint interval both write an OpenMM State
XML. The plain script uses ``openmm.app.Simulation`` with DCDReporter, StateDataReporter
and ``CheckpointReporter(writeState=True)`` and saves the final State; rankbind runs
``StagedSimulation(prepared, out, SimulationOptions(nvt_ps=0, npt_ps=0, ...),
initial_state=state)``: one app.Simulation with rankbind's reporters; each checkpoint
writes OpenMM's binary checkpoint, the State XML, frame and log chunks and a pointer, and
never rebuilds the Context. The timer covers everything each engine does for the run:
System copy, Context creation, stepping, reporting, checkpoints and final files.

Beside the runs it records the cost of one rankbind checkpoint (median of the
checkpoints of the timed runs: ``capture_s`` and ``wait_previous_s`` on the main thread,
``write_s`` in the background writer that overlaps the next MD steps) and of one
resume through the engine's own path (``StagedSimulation._resume``: a new Simulation
plus loadCheckpoint; and the State-XML fallback with its re-seed), beside plain OpenMM's
own in the same run: its checkpoint (``Simulation.saveState``, what ``CheckpointReporter``
writes) and its resume (a new ``Simulation`` + ``loadState``), as ``ratios_vs_openmm``.

Runs are interleaved (rankbind, OpenMM, OpenMM, rankbind, ...) after one untimed warm-up
Context per platform (kernel compilation caches); medians are reported, with every pair's
ratio and their range. Each run is also split into the seconds inside the integrator's
``step`` (``step_s``) and everything else (``nonstep_s``: setup, reports, checkpoints,
final files), with the 1-minute load average before it: on a shared machine the step
time carries the load noise, the rest is the engines' own work. The split holds on the
CPU and Reference platforms only: OpenCL and CUDA return from ``step`` before the work is
done, which is then waited for in the next ``getState``.
``overhead_ratio_same_step_time`` (derived, not timed) gives both engines the median step
time of all runs plus their own median non-step seconds. Small system on
a CPU-only machine (what produced results/md_cpu_opencl.json)::

    python gpu_bench/bench_md.py --entry 3URF --kind interface \
        --extract RANKL/A:200-260 OPG:80-130 --solvent vacuum --steps 400 \
        --report-interval 50 --checkpoint-interval 100,400 --platforms CPU,OpenCL

On a GPU machine (explicit solvent, PME, 4 fs with hydrogen mass repartitioning)::

    python gpu_bench/bench_md.py --entry 3URF --kind hexamer --solvent explicit \
        --platforms CUDA,OpenCL
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hardware import cpu_model as _cpu_model  # noqa: E402
from hardware import gpu_names  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# defaults per solvent: (steps, report interval, checkpoint intervals)
DEFAULTS = {
    "explicit": (20000, 1000, "2000,10000"),
    "implicit": (2000, 100, "500,2000"),
    "vacuum": (2000, 100, "500,2000"),
}


class StepClock:
    """Seconds spent inside ``LangevinMiddleIntegrator.step`` (both engines' integrator),
    to split each run into MD steps and everything else (reports, checkpoints, setup)."""

    seconds = 0.0

    @classmethod
    def install(cls) -> None:
        import openmm

        step = openmm.LangevinMiddleIntegrator.step

        def timed(self, steps):
            t0 = time.perf_counter()
            try:
                return step(self, steps)
            finally:
                cls.seconds += time.perf_counter() - t0

        openmm.LangevinMiddleIntegrator.step = timed


def timed_run(function, *args, **kwargs) -> dict:
    """Run one engine; adds the 1-minute load average before it, the seconds inside
    integrator steps (``step_s``) and the rest (``nonstep_s``) to its record."""
    load = os.getloadavg()[0]
    before = StepClock.seconds
    run = function(*args, **kwargs)
    run["step_s"] = StepClock.seconds - before
    run["nonstep_s"] = run["seconds"] - run["step_s"]
    run["load_1min_before"] = load
    return run


def build_prepared(args):
    """The PreparedSystem: loaded from ``--prepared`` (a ``rankbind prepare`` output
    directory), or built from the chosen entry, kind, extract and solvent."""
    from rankbind.preparation import PreparationOptions, load_prepared, prepare

    if args.prepared:
        return load_prepared(args.prepared)
    from rankbind.structures import build_assembly
    from rankbind.structures.assembly import extract

    assembly = build_assembly(args.entry, args.kind)
    if args.extract:
        assembly = extract(assembly, args.extract)
    options = PreparationOptions(
        forcefield=args.forcefield,
        solvent=args.solvent,
        gb_model=args.gb,
        implicit_cutoff_nm=args.implicit_cutoff,
    )
    return prepare(assembly, options)


def starting_state(
    prepared, choice, options, equilibrate_steps: int, minimize_iterations: int, without_gb: bool
):
    """Minimised, thermalised State (positions + velocities) shared by all runs.

    Minimisation runs on the CPU-side helper platform (PoCL's minimiser can segfault),
    without the GB force if ``without_gb`` (a CPU CustomGBForce evaluation of a 15k-atom
    complex takes about a minute here); equilibration runs on the benchmarked platform."""
    import openmm
    from openmm import unit

    from rankbind.platforms import minimisation_platform
    from rankbind.simulation import timestep_fs

    def context_for(system, platform_choice):
        integrator = openmm.LangevinMiddleIntegrator(
            options.temperature_K * unit.kelvin,
            options.friction_per_ps / unit.picosecond,
            timestep_fs(options, system) * unit.femtosecond,
        )
        integrator.setRandomNumberSeed(options.seed)
        context = openmm.Context(
            system, integrator, platform_choice.platform, platform_choice.properties
        )
        if system.usesPeriodicBoundaryConditions():
            context.setPeriodicBoxVectors(*prepared.topology.getPeriodicBoxVectors())
        return context

    system = openmm.XmlSerializer.clone(prepared.system)
    if without_gb:
        gb = (openmm.CustomGBForce, openmm.GBSAOBCForce)
        for index in reversed(range(system.getNumForces())):
            if isinstance(system.getForce(index), gb):
                system.removeForce(index)
    minimiser = context_for(system, minimisation_platform(choice))
    minimiser.setPositions(prepared.positions)
    openmm.LocalEnergyMinimizer.minimize(minimiser, 10.0, minimize_iterations)
    context = context_for(openmm.XmlSerializer.clone(prepared.system), choice)
    context.setPositions(minimiser.getState(getPositions=True).getPositions())
    context.setVelocitiesToTemperature(options.temperature_K * unit.kelvin, options.seed)
    context.getIntegrator().step(equilibrate_steps)
    return context.getState(getPositions=True, getVelocities=True, getEnergy=True)


def run_rankbind(prepared, state, choice, options, workdir: Path, resume_costs=None) -> dict:
    """One timed rankbind run; with ``resume_costs`` (a list) also time, untimed for the
    run, one resume from its last checkpoint by binary checkpoint and by State XML."""
    import io

    from rankbind.simulation import StagedSimulation

    start = time.perf_counter()
    simulation = StagedSimulation(
        prepared, workdir, options, choice, initial_state=state, stream=io.StringIO()
    )
    results = simulation.run()
    seconds = time.perf_counter() - start
    (production,) = results
    timings = [
        t | {"main_thread_s": t["capture_s"] + t["wait_previous_s"]}
        for t in simulation.checkpoint_timings
    ]
    run = {
        "seconds": seconds,
        "stage_wall_s": production.wall_s,
        "frames": production.frames,
        "checkpoints": len(timings),
        "checkpoint_s_median": {
            k: statistics.median(t[k] for t in timings) for k in timings[0] if k != "step"
        }
        if timings
        else {},
    }
    if resume_costs is not None:
        resume_costs.append(resume_cost(simulation, workdir / "production"))
    return run


def resume_cost(simulation, stage_dir: Path) -> dict:
    """Seconds for the engine to resume from ``stage_dir``'s checkpoint: by binary
    checkpoint (the normal path) and by State XML (another platform/device/version)."""
    import json

    from rankbind.simulation.reporters import read_pointer

    simulation._record = {}
    info = read_pointer(stage_dir)
    t0 = time.perf_counter()
    sim, how = simulation._resume("production", stage_dir, info)
    sim.context.getState(getEnergy=True)
    t1 = time.perf_counter()
    assert how == "binary checkpoint", how
    del sim
    other = dict(info, openmm="other")
    (stage_dir / "checkpoint.json").write_text(json.dumps(other))
    t2 = time.perf_counter()
    sim, how = simulation._resume("production", stage_dir, other)
    sim.context.getState(getEnergy=True)
    t3 = time.perf_counter()
    return {"binary_checkpoint_s": t1 - t0, "state_xml_reseeded_s": t3 - t2}


def run_openmm(
    prepared, state, choice, options, steps: int, workdir: Path, resume: bool = False
) -> dict:
    """The plain OpenMM script: Simulation + DCD/StateData/Checkpoint reporters; with
    ``resume``, also time (outside the run) a plain resume from its State XML checkpoint."""
    import openmm
    from openmm import app, unit

    from rankbind.simulation import add_backbone_restraints, timestep_fs

    start = time.perf_counter()
    system = openmm.XmlSerializer.clone(prepared.system)
    add_backbone_restraints(system, prepared.topology, prepared.positions)  # k stays 0
    integrator = openmm.LangevinMiddleIntegrator(
        options.temperature_K * unit.kelvin,
        options.friction_per_ps / unit.picosecond,
        timestep_fs(options, system) * unit.femtosecond,
    )
    integrator.setRandomNumberSeed(options.seed)
    t_context = time.perf_counter()
    simulation = app.Simulation(
        prepared.topology, system, integrator, choice.platform, choice.properties
    )
    context_s = time.perf_counter() - t_context
    simulation.context.setPositions(state.getPositions())
    if system.usesPeriodicBoundaryConditions():
        simulation.context.setPeriodicBoxVectors(*state.getPeriodicBoxVectors())
    simulation.context.setVelocities(state.getVelocities())
    with open(workdir / "log.csv", "w") as log:
        simulation.reporters = [
            app.DCDReporter(str(workdir / "production.dcd"), options.report_interval_steps),
            app.StateDataReporter(
                log,
                options.report_interval_steps,
                step=True,
                time=True,
                potentialEnergy=True,
                kineticEnergy=True,
                temperature=True,
                volume=True,
                speed=True,
            ),
            app.CheckpointReporter(
                str(workdir / "checkpoint.xml"), options.checkpoint_interval_steps, True
            ),
        ]
        simulation.step(steps)
        t_save = time.perf_counter()
        simulation.saveState(str(workdir / "final_state.xml"))  # = CheckpointReporter's write
        save_s = time.perf_counter() - t_save
        simulation.reporters.clear()  # DCDReporter closes its file when released
    seconds = time.perf_counter() - start
    run = {"seconds": seconds, "context_creation_s": context_s, "save_state_s": save_s}
    if resume:  # untimed for the run: a plain resume, new Simulation + loadState(XML)
        del simulation
        t0 = time.perf_counter()
        integrator = openmm.LangevinMiddleIntegrator(
            options.temperature_K * unit.kelvin,
            options.friction_per_ps / unit.picosecond,
            timestep_fs(options, system) * unit.femtosecond,
        )
        simulation = app.Simulation(
            prepared.topology, system, integrator, choice.platform, choice.properties
        )
        simulation.loadState(str(workdir / "checkpoint.xml"))
        simulation.context.getState(getEnergy=True)
        run["resume_state_xml_s"] = time.perf_counter() - t0
    return run


def warm_up(prepared, state, choice) -> dict:
    """One untimed Context + a few steps (fills kernel caches); platform properties."""
    import openmm

    context = openmm.Context(
        prepared.system, openmm.VerletIntegrator(0.001), choice.platform, choice.properties
    )
    context.setState(state)
    context.getIntegrator().step(10)
    context.getState(getEnergy=True)
    platform_ = context.getPlatform()
    return {n: platform_.getPropertyValue(context, n) for n in platform_.getPropertyNames()}


def cost_ratios(runs: dict, resumes: list[dict]) -> dict:
    """One rankbind checkpoint and one resume as ratios against plain OpenMM in the same
    run: the checkpoint against ``Simulation.saveState`` (what ``CheckpointReporter``
    with ``writeState=True`` does per checkpoint), the resume against a new plain
    ``Simulation`` + ``loadState`` of that State XML (medians)."""
    parts = {
        k: statistics.median(r["checkpoint_s_median"][k] for r in runs["rankbind"])
        for k in ("main_thread_s", "write_s")
    }
    save = statistics.median(r["save_state_s"] for r in runs["openmm"])
    plain_resume = statistics.median(r["resume_state_xml_s"] for r in runs["openmm"])
    resume = {k: statistics.median(r[k] for r in resumes) for k in resumes[0]}
    return {
        "checkpoint_main_thread_over_openmm_save_state": parts["main_thread_s"] / save,
        "checkpoint_main_thread_plus_background_write_over_openmm_save_state": (
            parts["main_thread_s"] + parts["write_s"]
        )
        / save,
        "resume_binary_checkpoint_over_openmm_resume": resume["binary_checkpoint_s"] / plain_resume,
        "resume_state_xml_reseeded_over_openmm_resume": resume["state_xml_reseeded_s"]
        / plain_resume,
    }


def ns_per_day(steps: int, dt_fs: float, seconds: float) -> float:
    return steps * dt_fs * 1e-6 * 86400.0 / seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entry", default="3URF", help="catalogue entry (3URF, 4GIQ, ...)")
    parser.add_argument(
        "--prepared", type=Path, default=None, help="a `rankbind prepare` output directory"
    )
    parser.add_argument("--kind", default="interface", help="interface, trimer_receptor, ...")
    parser.add_argument(
        "--extract", nargs="*", default=None, help="selections to cut a fragment out"
    )
    parser.add_argument("--solvent", choices=["implicit", "explicit", "vacuum"], default="explicit")
    parser.add_argument("--forcefield", default="amber14")
    parser.add_argument("--gb", choices=["GBn2", "OBC2"], default="GBn2")
    parser.add_argument("--implicit-cutoff", type=float, default=None, help="nm; None: NoCutoff")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--report-interval", type=int, default=None)
    parser.add_argument(
        "--checkpoint-interval", default=None, help="comma-separated checkpoint intervals (steps)"
    )
    parser.add_argument("--timestep-fs", type=float, default=None, help="default: 4 with HMR")
    parser.add_argument("--equilibrate-steps", type=int, default=500)
    parser.add_argument("--minimize-iterations", type=int, default=1000)
    parser.add_argument(
        "--rebuild-repeats",
        type=int,
        default=3,
        help="ignored (no rebuilds since the engine "
        "rewrite); kept so older command lines still run",
    )
    parser.add_argument(
        "--minimize-without-gb", action="store_true", help="implicit: minimise without GB"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--platforms", default="CUDA,OpenCL")
    parser.add_argument("--precision", default="mixed")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--note", default="", help="e.g. whether the machine was shared")
    args = parser.parse_args(argv)

    import openmm

    import rankbind
    from rankbind.fileio import write_json
    from rankbind.platforms import opencl_is_cpu_only, select_platform
    from rankbind.simulation import SimulationOptions, timestep_fs

    d_steps, d_report, d_checkpoints = DEFAULTS[args.solvent]
    steps = args.steps or d_steps
    report = args.report_interval or d_report
    intervals = [int(c) for c in (args.checkpoint_interval or d_checkpoints).split(",")]
    names = args.platforms.split(",")
    output = args.output or Path(f"gpu_bench/results/md_{'_'.join(names).lower()}.json")
    load_before = os.getloadavg()

    t0 = time.perf_counter()
    prepared = build_prepared(args)
    prep_s = time.perf_counter() - t0
    choices = [select_platform(n, precision=args.precision) for n in names]
    base = SimulationOptions(
        nvt_ps=0.0, npt_ps=0.0, report_interval_steps=report, timestep_fs=args.timestep_fs
    )
    dt_fs = timestep_fs(base, prepared.system)
    base = base.replace(production_ps=steps * dt_fs / 1000.0)
    StepClock.install()
    state = starting_state(
        prepared,
        choices[0],
        base,
        args.equilibrate_steps,
        args.minimize_iterations,
        args.minimize_without_gb,
    )
    print(f"{prepared.metadata['n_atoms']} atoms, dt {dt_fs} fs, {steps} steps", flush=True)

    results = []
    for choice in choices:
        properties = warm_up(prepared, state, choice)
        for interval in intervals:
            resumes: list[dict] = []
            options = base.replace(checkpoint_interval_steps=interval)
            runs: dict[str, list[dict]] = {"rankbind": [], "openmm": []}
            for repeat in range(args.repeats):
                order = ("rankbind", "openmm") if repeat % 2 == 0 else ("openmm", "rankbind")
                for engine in order:
                    with tempfile.TemporaryDirectory(prefix="bench_md_") as tmp:
                        if engine == "rankbind":
                            run = timed_run(
                                run_rankbind, prepared, state, choice, options, Path(tmp), resumes
                            )
                        else:
                            run = timed_run(
                                run_openmm, prepared, state, choice, options, steps, Path(tmp), True
                            )
                    run["ns_per_day"] = ns_per_day(steps, dt_fs, run["seconds"])
                    runs[engine].append(run)
                    print(
                        f"{choice.name} checkpoint {interval} {engine}: "
                        f"{run['ns_per_day']:.3f} ns/day ({run['seconds']:.2f} s)",
                        flush=True,
                    )
            median = {e: statistics.median(r["ns_per_day"] for r in runs[e]) for e in runs}
            pairs = [
                o["ns_per_day"] / r["ns_per_day"]
                for r, o in zip(runs["rankbind"], runs["openmm"], strict=True)
            ]
            context_s = statistics.median(r["context_creation_s"] for r in runs["openmm"])
            nonstep = {e: statistics.median(r["nonstep_s"] for r in runs[e]) for e in runs}
            step_s = statistics.median(r["step_s"] for e in runs for r in runs[e])
            checkpoint_s = statistics.median(
                r["checkpoint_s_median"]["main_thread_s"] for r in runs["rankbind"]
            )
            results.append(
                {
                    "platform": choice.describe() | {"resolved_properties": properties},
                    "checkpoint_interval_steps": interval,
                    "rankbind_context_rebuilds": 0,
                    "checkpoints_per_run": runs["rankbind"][0]["checkpoints"],
                    "median_ns_per_day": median,
                    "overhead_ratio": median["openmm"] / median["rankbind"],
                    "overhead_ratio_per_pair_median": statistics.median(pairs),
                    "overhead_ratio_per_pair": pairs,
                    "overhead_ratio_per_pair_min_max": [min(pairs), max(pairs)],
                    "nonstep_s_median": nonstep,
                    "step_s_median_both_engines": step_s,
                    # derived, not a timed ratio: both engines given the same (median) time
                    # in integrator steps, so load noise in the steps cancels out. Only on
                    # CPU and Reference: OpenCL and CUDA queue steps asynchronously, so their
                    # step time shows up in the next getState instead
                    "overhead_ratio_same_step_time": (step_s + nonstep["rankbind"])
                    / (step_s + nonstep["openmm"])
                    if choice.name in ("CPU", "Reference")
                    else None,
                    "context_creation_s_median": context_s,
                    "checkpoint_cost_s_median": checkpoint_s,
                    "checkpoint_cost_parts_s_median": {
                        k: statistics.median(r["checkpoint_s_median"][k] for r in runs["rankbind"])
                        for k in runs["rankbind"][0]["checkpoint_s_median"]
                    },
                    "resume_cost_s_median": {
                        k: statistics.median(r[k] for r in resumes) for k in resumes[0]
                    },
                    "openmm_save_state_s_median": statistics.median(
                        r["save_state_s"] for r in runs["openmm"]
                    ),
                    "openmm_resume_state_xml_s_median": statistics.median(
                        r["resume_state_xml_s"] for r in runs["openmm"]
                    ),
                    "ratios_vs_openmm": cost_ratios(runs, resumes),
                    "measured_extra_s_median": statistics.median(
                        r["seconds"] for r in runs["rankbind"]
                    )
                    - statistics.median(r["seconds"] for r in runs["openmm"]),
                    "runs": runs,
                }
            )
            print(
                f"  overhead ratio {median['openmm'] / median['rankbind']:.3f} (pairs "
                f"{min(pairs):.3f}-{max(pairs):.3f}); non-step s {nonstep}",
                flush=True,
            )

    meta = prepared.metadata
    record = {
        "benchmark": "MD throughput: rankbind StagedSimulation production vs plain OpenMM app",
        "metric": "ns/day over the whole run (Context creation, steps, reports, checkpoints, "
        "final files); overhead_ratio = OpenMM ns/day / rankbind ns/day (target <= 1.05)",
        "command": shlex.join(["python", "gpu_bench/bench_md.py"] + (argv or sys.argv[1:])),
        "system": {
            "assembly": meta["assembly"],
            "assembly_kind": meta["assembly_kind"],
            "prepared_from": str(args.prepared) if args.prepared else None,
            "extract": args.extract,
            "n_atoms": meta["n_atoms"],
            "n_residues": meta["n_residues"],
            "forcefield_files": meta["forcefield_files"],
            "solvation": meta["solvation"],
            "hydrogen_mass_amu": meta["options"]["hydrogen_mass_amu"],
            "constraints": meta["options"]["constraints"],
            "preparation_seconds": prep_s,
        },
        "settings": {
            "steps": steps,
            "timestep_fs": dt_fs,
            "report_interval_steps": report,
            "checkpoint_intervals_steps": intervals,
            "repeats": args.repeats,
            "order": "interleaved: rankbind,openmm then openmm,rankbind, alternating",
            "equilibrate_steps_before": args.equilibrate_steps,
            "minimize_iterations_before": args.minimize_iterations,
            "minimized_without_gb_force": args.minimize_without_gb,
            "temperature_K": base.temperature_K,
            "friction_per_ps": base.friction_per_ps,
            "integrator": "LangevinMiddleIntegrator",
            "backbone_restraint_force": "present in both, k = 0 (production)",
        },
        "results": results,
        "hardware": {
            "machine": platform.machine(),
            "processor": _cpu_model(),
            "logical_cpus": os.cpu_count(),
            "gpu": gpu_names(),
            "opencl_is_pocl_on_cpu": opencl_is_cpu_only(),
            "load_average_before": load_before,
            "nice": os.nice(0),
            "load_average_after": os.getloadavg(),
            "note": args.note,
        },
        "versions": {
            "python": platform.python_version(),
            "openmm": openmm.__version__,
            "rankbind": rankbind.__version__,
            "rankbind_git": _git_describe(),
        },
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(output, record)
    print(f"wrote {output}")
    return 0


def _git_describe() -> str:
    """Commit of the working tree (with '+dirty' for uncommitted changes), or ''."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "status",
                "--porcelain",
                "--",
                "rankbind",
                "gpu_bench/bench_md.py",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return head + ("+dirty" if dirty else "")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
