"""FFT docking throughput (rotations/s): JAX (jit + vmap) vs a numpy baseline, same run.

Case: 3URF interface assembly (two human RANKL protomers as receptor, OPG CRD1-4 as
ligand), grid spacing 1.2 Å. Writes gpu_bench/results/docking_cpu.json with hardware and
versions. Usage: python gpu_bench/bench_docking.py [--rotations 16] [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hardware import cpu_model, gpu_names  # noqa: E402

from rankbind.fileio import write_json  # noqa: E402
from rankbind.modelling import docking as dk  # noqa: E402
from rankbind.structures import build_assembly  # noqa: E402


def numpy_receptor(receptor, settings, n):
    """Receptor grid transforms for the numpy baseline (not timed)."""
    origin = receptor.xyz.mean(0) - settings.spacing * (n // 2)
    shape_r, pot_r, _ = dk.receptor_grids(receptor, settings, n, origin)
    return np.fft.rfftn(shape_r), np.fft.rfftn(pot_r)


def numpy_scores(ligand, settings, rotations, n, fs, fp):
    """Baseline: the same shape + electrostatics correlation with numpy FFTs."""
    h = settings.spacing
    stencil = dk._stencil(settings)
    lig = ligand.xyz - ligand.xyz.mean(0)
    best = []
    for rot in rotations:
        xyz = lig @ rot.T / h + n // 2
        cells = np.floor(xyz)[:, None, :] + stencil[None]
        d2 = np.sum((cells - xyz[:, None, :]) ** 2, -1) * h * h
        c = np.mod(cells[d2 <= settings.core_radius**2].astype(int), n)
        occ = np.zeros((n, n, n), np.float32)
        occ[c[:, 0], c[:, 1], c[:, 2]] = 1.0
        q = np.zeros((n, n, n), np.float32)
        near = np.mod(np.round(xyz).astype(int), n)
        np.add.at(q, (near[:, 0], near[:, 1], near[:, 2]), ligand.charges)
        score = np.fft.irfftn(
            fs * np.conj(np.fft.rfftn(occ)), s=(n, n, n)
        ) - settings.elec_weight * (np.fft.irfftn(fp * np.conj(np.fft.rfftn(q)), s=(n, n, n)))
        best.append(score.max())
    return np.array(best)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rotations", type=int, default=16)
    parser.add_argument("--note", default="", help="e.g. whether the machine was shared")
    parser.add_argument("--baseline-rotations", type=int, default=4)
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "docking_cpu.json")
    )
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp

    assembly = build_assembly("3URF", "interface")
    rec_chains = [c for c in assembly.chain_ids() if c != "R"]
    receptor = dk.molecule_from_assembly(assembly, rec_chains)
    ligand = dk.molecule_from_assembly(assembly, ["R"])
    settings = dk.DockingSettings()
    rotations = dk.quaternion_matrices(dk.super_fibonacci_quaternions(args.rotations))
    t0 = time.perf_counter()
    scorer, meta = dk.make_scorer(receptor, ligand, settings)
    setup_s = time.perf_counter() - t0
    n, b = meta["grid_size"], settings.batch
    first = jnp.asarray(rotations[:b], dtype=jnp.float32)
    t0 = time.perf_counter()
    jax.block_until_ready(scorer(first))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax_best = []
    for start in range(0, len(rotations), b):
        out = scorer(jnp.asarray(rotations[start : start + b], dtype=jnp.float32))
        jax_best.append(np.asarray(out[0]))
    jax_s = time.perf_counter() - t0
    jax_best = np.concatenate(jax_best)
    fs, fp = numpy_receptor(receptor, settings, n)
    t0 = time.perf_counter()
    base = numpy_scores(ligand, settings, rotations[: args.baseline_rotations], n, fs, fp)
    numpy_s = time.perf_counter() - t0
    agree = float(np.max(np.abs(base - jax_best[: len(base)]) / np.maximum(np.abs(base), 1.0)))
    result = {
        "benchmark": "FFT docking rotational scan, 3URF interface (RANKL x2 + OPG), 1.2 A grid",
        "grid_size": n,
        "batch": b,
        "n_rotations_jax": len(rotations),
        "n_rotations_numpy": len(base),
        "jax_setup_s (receptor grids)": round(setup_s, 3),
        "jax_compile_s": round(compile_s, 3),
        "jax_rotations_per_s": round(len(rotations) / jax_s, 3),
        "numpy_rotations_per_s": round(len(base) / numpy_s, 3),
        "speedup_jax_vs_numpy": round((len(rotations) / jax_s) / (len(base) / numpy_s), 3),
        "max_relative_difference_best_score": agree,
        "hardware": {
            "machine": platform.machine(),
            "processor": cpu_model(),
            "cpu_count": os.cpu_count(),
            "gpu": gpu_names(),
            "load_average_1m": os.getloadavg()[0],
            "jax_devices": [str(d) for d in jax.devices()],
        },
        "versions": {
            "python": platform.python_version(),
            "jax": jax.__version__,
            "numpy": np.__version__,
        },
        "note": args.note,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(args.out, result)
    print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
