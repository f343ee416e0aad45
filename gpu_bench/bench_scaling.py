"""Benchmark: how each analysis's cost grows with frames and with system size (log-log).

Every point times the rankbind JAX path and its baseline on the same inputs in the same
run (steady state: each JAX shape is compiled by one untimed call first):

- contacts (JAX vs ``mdtraj.compute_contacts``, closest-heavy): frames at a fixed pair
  list; size = number of residue pairs (nested subsets of the 3URF hexamer RANKL–OPG
  pairs closer than 1.2 nm), at fixed frames. Synthetic frames: crystal + N(0, 0.05 nm).
- MM/GBSA GBn2 (JAX vs a per-frame OpenMM CPU Context loop over complex, receptor and
  ligand): frames at a fixed fragment; size = atoms of nested 3URF RANKL/OPG interface
  fragments (vacuum-prepared, H added), at fixed frames. Frames: N(0, 0.002 nm) jitter.
- MBAR (JAX vs pymbar 4): total samples at a fixed number of states; states at a fixed
  number of samples per state. Synthetic harmonic states (``bench_mbar.harmonic_data``).
- FFT docking (JAX vs numpy): rotations at a fixed grid; size = FFT grid points (grid
  spacing 1.6 → 0.9 Å on the 3URF interface), at fixed rotations.

The slope of log(seconds) against log(size) is fitted per series (last three points, where
fixed costs matter least). Writes JSON (every time, hardware, versions) and a PNG.

    python gpu_bench/bench_scaling.py [--quick] [--out gpu_bench/results/scaling_cpu.json]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_docking import numpy_receptor, numpy_scores  # noqa: E402
from bench_mbar import harmonic_data  # noqa: E402
from bench_mmgbsa import openmm_loop  # noqa: E402
from hardware import cpu_model, gpu_names  # noqa: E402


def best_of(fn, repeats: int = 2) -> float:
    """Minimum wall seconds of ``repeats`` calls (after the caller's warm-up)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def slope(x: list[float], y: list[float]) -> float:
    """Least-squares slope of log y on log x over the last three points."""
    return float(np.polyfit(np.log(x[-3:]), np.log(y[-3:]), 1)[0])


def series(name, unit, xs, rankbind_s, baseline_s, diffs, baseline, fixed, diff_unit) -> dict:
    """One series; ``diffs``: the largest difference between the two codes' results at
    each point (recorded, not asserted: a benchmark run is not stopped by it)."""
    return {
        "name": name,
        "x_unit": unit,
        "x": xs,
        "fixed": fixed,
        "rankbind_jax_s": rankbind_s,
        "baseline": baseline,
        "baseline_s": baseline_s,
        "ratio_baseline_over_rankbind": [
            b / r for b, r in zip(baseline_s, rankbind_s, strict=True)
        ],
        "max_difference_vs_baseline": diffs,
        "difference_unit": diff_unit,
        "loglog_slope_rankbind": slope(xs, rankbind_s),
        "loglog_slope_baseline": slope(xs, baseline_s),
    }


# --------------------------------------------------------------------------- contacts
def contacts_series(frames_list: list[int], pair_counts: list[int], fixed_frames: int) -> list:
    import jax
    import mdtraj

    from rankbind.analysis import contacts
    from rankbind.analysis.footprints import protein_trajectory
    from rankbind.structures import build_assembly

    assembly = build_assembly("3URF", "hexamer")
    crystal = protein_trajectory(assembly)
    crystal = crystal.atom_slice(crystal.topology.select("not element H"))
    top = crystal.topology
    every = contacts.cross_pairs(
        contacts.select(top, assembly.chains, "RANKL"), contacts.select(top, assembly.chains, "OPG")
    )
    d0, _ = contacts.compute_contacts(crystal, every)
    pairs = every[d0[0] < 1.2]
    order = np.random.default_rng(1).permutation(len(pairs))
    rng = np.random.default_rng(2024)
    noise = rng.normal(0.0, 0.05, (max(frames_list), *crystal.xyz.shape[1:])).astype(np.float32)
    frames_all = mdtraj.Trajectory(crystal.xyz + noise, top)

    def point(n_frames: int, chosen: np.ndarray) -> tuple[float, float]:
        traj = frames_all[:n_frames]

        def ours():
            jax.block_until_ready(contacts.compute_contacts(traj, chosen)[0])

        def theirs():
            mdtraj.compute_contacts(traj, chosen, scheme="closest-heavy")

        ours()  # compile this shape
        ref = mdtraj.compute_contacts(traj, chosen, scheme="closest-heavy")[0]
        diff = np.abs(contacts.compute_contacts(traj, chosen)[0] - ref).max()
        return best_of(ours), best_of(theirs), float(diff)

    out = []
    times = [point(f, pairs) for f in frames_list]
    out.append(
        series(
            "contacts vs frames", "frames", frames_list, *map(list, zip(*times, strict=True)),
            "mdtraj",
            {"residue_pairs": int(len(pairs))}, "nm",
        )
    )  # fmt: skip
    counts = [c for c in pair_counts if c <= len(pairs)]
    times = [point(fixed_frames, pairs[np.sort(order[:c])]) for c in counts]
    out.append(
        series(
            "contacts vs residue pairs", "residue pairs", counts, *map(list, zip(*times, strict=True)),
            "mdtraj", {"frames": fixed_frames}, "nm",
        )
    )  # fmt: skip
    return out


# --------------------------------------------------------------------------- MM/GBSA
FRAGMENTS = [  # nested 3URF interface fragments: (RANKL/A range, OPG range)
    ((224, 236), (100, 112)),
    ((215, 245), (92, 120)),
    ((200, 260), (80, 130)),
    ((180, 290), (60, 150)),
]


def mmgbsa_models(fragments):
    from openmm import unit

    from rankbind.energies.mmgbsa import ComplexModel, MMGBSASettings
    from rankbind.preparation import PreparationOptions, prepare
    from rankbind.structures import build_assembly
    from rankbind.structures.assembly import extract

    assembly = build_assembly("3URF", "interface")
    settings = MMGBSASettings(gb_model="GBn2", nonpolar="none", batch_size=4)
    models = []
    for (a0, a1), (r0, r1) in fragments:
        part = extract(assembly, [f"RANKL/A:{a0}-{a1}", f"OPG:{r0}-{r1}"])
        prepared = prepare(part, PreparationOptions(solvent="vacuum", hydrogen_mass_amu=None))
        top = prepared.topology
        rec = [a.index for a in top.atoms() if a.residue.chain.id == "A"]
        lig = [a.index for a in top.atoms() if a.residue.chain.id != "A"]
        x0 = np.array(prepared.positions.value_in_unit(unit.nanometer))
        models.append((ComplexModel(top, rec, lig, settings), x0))
    return models


def mmgbsa_series(frames_list: list[int], fixed_frames: int, fragments) -> list:
    import jax

    models = mmgbsa_models(fragments)
    rng = np.random.default_rng(0)

    def point(model, x0, n_frames):
        frames = (x0[None] + rng.normal(0.0, 0.002, (n_frames, *x0.shape)))[:, model.atoms]

        def ours():
            bound = model.model.per_atom(frames)
            apart = model.model.per_atom(frames, model.group)
            jax.block_until_ready(list(bound.values()) + list(apart.values()))
            return sum(v.sum(axis=1) for v in bound.values()) - sum(
                v.sum(axis=1) for v in apart.values()
            )

        dg = np.asarray(ours())  # compile
        seconds, dg_ref = openmm_loop(model, frames, "CPU")
        diff = float(np.abs(dg - dg_ref).max())
        return best_of(ours), min(seconds, openmm_loop(model, frames, "CPU")[0]), diff

    model, x0 = models[-2]
    times = [point(model, x0, f) for f in frames_list]
    out = [
        series(
            "MM/GBSA vs frames", "frames", frames_list, *map(list, zip(*times, strict=True)),
            "OpenMM CPU Context loop", {"atoms": len(model.atoms), "gb": "GBn2, NoCutoff"},
            "kJ/mol (ΔG per frame)",
        )
    ]  # fmt: skip
    sizes = [len(m.atoms) for m, _ in models]
    times = [point(m, x, fixed_frames) for m, x in models]
    out.append(
        series(
            "MM/GBSA vs atoms", "atoms", sizes, *map(list, zip(*times, strict=True)),
            "OpenMM CPU Context loop", {"frames": fixed_frames, "gb": "GBn2, NoCutoff"},
            "kJ/mol (ΔG per frame)",
        )
    )  # fmt: skip
    return out


# --------------------------------------------------------------------------- MBAR
def mbar_series(samples_list: list[int], states_list: list[int], fixed_states: int,
                samples_per_state: int) -> list:  # fmt: skip
    import pymbar

    from rankbind.freeenergy.mbar import MBAR

    logging.getLogger("pymbar").setLevel(logging.ERROR)

    def point(states: int, samples: int):
        u_kn, n_k = harmonic_data(states, samples)

        def ours():
            return MBAR(u_kn, n_k).compute_free_energy_differences()

        def theirs():
            m = pymbar.MBAR(u_kn, n_k, relative_tolerance=1e-12)
            return m.compute_free_energy_differences()

        a, b = ours(), theirs()  # warm-up + agreement
        diff = float(np.abs(a["Delta_f"] - b["Delta_f"]).max())
        return best_of(ours), best_of(theirs), diff

    times = [point(fixed_states, n) for n in samples_list]
    out = [
        series(
            "MBAR vs samples", "samples (total)", samples_list, *map(list, zip(*times, strict=True)),
            "pymbar 4", {"states": fixed_states}, "kT (Delta_f)",
        )
    ]  # fmt: skip
    times = [point(k, k * samples_per_state) for k in states_list]
    out.append(
        series(
            "MBAR vs states", "states", states_list, *map(list, zip(*times, strict=True)),
            "pymbar 4", {"samples_per_state": samples_per_state}, "kT (Delta_f)",
        )
    )  # fmt: skip
    return out


# --------------------------------------------------------------------------- docking
def docking_series(rotations_list: list[int], spacings: list[float], fixed_rotations: int) -> list:
    import jax
    import jax.numpy as jnp

    from rankbind.modelling import docking as dk
    from rankbind.structures import build_assembly

    assembly = build_assembly("3URF", "interface")
    receptor = dk.molecule_from_assembly(assembly, [c for c in assembly.chain_ids() if c != "R"])
    ligand = dk.molecule_from_assembly(assembly, ["R"])

    def point(spacing: float, n_rot: int):
        settings = dk.DockingSettings(spacing=spacing)
        rotations = dk.quaternion_matrices(dk.super_fibonacci_quaternions(n_rot))
        scorer, meta = dk.make_scorer(receptor, ligand, settings)
        n, b = meta["grid_size"], settings.batch

        def ours():
            best = []
            for start in range(0, n_rot, b):
                out = scorer(jnp.asarray(rotations[start : start + b], dtype=jnp.float32))
                best.append(np.asarray(jax.block_until_ready(out[0])))
            return np.concatenate(best)

        fs, fp = numpy_receptor(receptor, settings, n)

        def theirs():
            return numpy_scores(ligand, settings, rotations, n, fs, fp)

        a, c = ours(), theirs()
        rel = float(np.max(np.abs(a - c) / np.maximum(np.abs(c), 1.0)))
        return best_of(ours, 1), best_of(theirs, 1), rel, n

    times = [point(1.2, r) for r in rotations_list]
    out = [
        series(
            "docking vs rotations", "rotations", rotations_list,
            [t[0] for t in times], [t[1] for t in times], [t[2] for t in times], "numpy FFT",
            {"grid_spacing_angstrom": 1.2, "grid_points": times[0][3] ** 3},
            "relative (best score per rotation; float32 JAX vs float64 numpy FFT)",
        )
    ]  # fmt: skip
    times = [point(s, fixed_rotations) for s in spacings]
    out.append(
        series(
            "docking vs grid points", "grid points", [t[3] ** 3 for t in times],
            [t[0] for t in times], [t[1] for t in times], [t[2] for t in times], "numpy FFT",
            {"rotations": fixed_rotations, "spacings_angstrom": spacings},
            "relative (best score per rotation; float32 JAX vs float64 numpy FFT)",
        )
    )  # fmt: skip
    return out


# --------------------------------------------------------------------------- plot
def plot(all_series: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    cols = 4
    rows = -(-len(all_series) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    for ax, s in zip(axes.flat, all_series, strict=False):
        ax.loglog(
            s["x"],
            s["rankbind_jax_s"],
            "o-",
            label=f"rankbind JAX ({s['loglog_slope_rankbind']:.2f})",
        )
        ax.loglog(
            s["x"],
            s["baseline_s"],
            "s--",
            label=f"{s['baseline']} ({s['loglog_slope_baseline']:.2f})",
        )
        ax.set_title(s["name"], fontsize=10)
        ax.set_xlabel(s["x_unit"])
        ax.set_ylabel("seconds")
        ax.legend(fontsize=7, title="log-log slope", title_fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_minor_formatter(NullFormatter())
    for ax in list(axes.flat)[len(all_series) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu_bench/results/scaling_cpu.json"))
    parser.add_argument("--only", default="contacts,mmgbsa,mbar,docking")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)

    import jax
    import mdtraj
    import openmm
    import pymbar

    from rankbind.fileio import write_json

    only = set(args.only.split(","))
    load_start = os.getloadavg()
    q = args.quick
    found: list[dict] = []
    if "contacts" in only:
        frames = [16, 64, 256] if q else [32, 128, 512, 2048]
        counts = [100, 300, 1000] if q else [100, 300, 1000, 2745]
        found += contacts_series(frames, counts, 64 if q else 256)
        print("contacts done", flush=True)
    if "mmgbsa" in only:
        fragments = FRAGMENTS[:3] if q else FRAGMENTS
        found += mmgbsa_series([1, 2, 4] if q else [1, 2, 4, 8, 16], 2 if q else 4, fragments)
        print("MM/GBSA done", flush=True)
    if "mbar" in only:
        found += mbar_series(
            [1000, 4000, 16000] if q else [2000, 8000, 32000, 128000],
            [5, 10, 20] if q else [10, 20, 40, 80],
            20,
            200 if q else 500,
        )
        print("MBAR done", flush=True)
    if "docking" in only:
        found += docking_series(
            [4, 8, 16] if q else [4, 8, 16, 32],
            [1.6, 1.4, 1.2] if q else [1.6, 1.4, 1.2, 0.9],
            4 if q else 8,
        )
        print("docking done", flush=True)

    record = {
        "benchmark": "analysis cost against frames and system size, rankbind JAX vs baselines",
        "metric": "wall seconds, best of repeats after one untimed call per shape (JIT compile "
        "excluded); log-log slope fitted over the last three points of each series",
        "command": " ".join(["python", "gpu_bench/bench_scaling.py", *(argv or sys.argv[1:])]),
        "series": found,
        "hardware": {
            "cpu": cpu_model(),
            "logical_cpus": os.cpu_count(),
            "gpu": gpu_names(),
            "jax_devices": [str(d) for d in jax.devices()],
            "load_average_start": list(load_start),
            "load_average_end": list(os.getloadavg()),
            "note": args.note,
        },
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "jax": jax.__version__,
            "mdtraj": mdtraj.__version__,
            "openmm": openmm.__version__,
            "pymbar": pymbar.__version__,
        },
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(args.out, record)
    png = args.out.with_suffix(".png")
    plot(found, png, f"{cpu_model()}, {os.cpu_count()} logical CPUs, JAX on {jax.devices()[0]}")
    for s in found:
        print(
            f"{s['name']}: slopes rankbind {s['loglog_slope_rankbind']:.2f}, "
            f"{s['baseline']} {s['loglog_slope_baseline']:.2f}; ratios "
            + " ".join(f"{r:.2f}" for r in s["ratio_baseline_over_rankbind"])
        )
    print(f"wrote {args.out} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
