"""FFT docking throughput (rotations/s): JAX (jit + vmap) vs a numpy baseline, same run.

Case "3urf" (default): 3URF interface assembly (two human RANKL protomers as receptor,
OPG CRD1-4 as ligand), grid spacing 1.2 Å. Writes gpu_bench/results/docking_cpu.json with
hardware and versions. Usage: python gpu_bench/bench_docking.py [--rotations 16] [--out PATH]

Case "fab_trimer": the denosumab Fab model (structures/models/denosumab_fab) against the
human RANKL trimer (3URF), the issue-16 workload. For each grid spacing (--spacings) the
JAX scan runs with the earlier scoring (shape + electrostatics) and with the issue-16
scoring (+ desolvation + MJ pair terms), each at two rotation counts (scaling with the
rotation count), and the numpy baseline (shape + electrostatics) on a few rotations in
the same run; the rates give the projected wall time of a full 6° scan (and of the
epitope-cone-restricted scan). Usage: python gpu_bench/bench_docking.py --case fab_trimer
[--spacings 1.2 1.6 2.0] [--rotations 8] [--out PATH]
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
            fs * np.conj(np.fft.rfftn(occ)), s=(n, n, n), axes=(0, 1, 2)
        ) - settings.elec_weight * (
            np.fft.irfftn(fp * np.conj(np.fft.rfftn(q)), s=(n, n, n), axes=(0, 1, 2))
        )
        best.append(score.max())
    return np.array(best)


def _hardware():
    import jax

    return {
        "machine": platform.machine(),
        "processor": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": gpu_names(),
        "load_average_1m": os.getloadavg()[0],
        "jax_devices": [str(d) for d in jax.devices()],
    }


def _rate(scorer, rotations, b):
    import jax
    import jax.numpy as jnp

    n = len(rotations)
    rotations = np.concatenate([rotations, np.repeat(np.eye(3)[None], (-n) % b, 0)])
    t0 = time.perf_counter()
    best = []
    for start in range(0, len(rotations), b):
        out = scorer(jnp.asarray(rotations[start : start + b], dtype=jnp.float32))
        best.append(np.asarray(jax.block_until_ready(out[0])))
    return n / (time.perf_counter() - t0), np.concatenate(best)[:n]


def fab_trimer(args) -> dict:
    """Denosumab Fab vs human RANKL trimer: rates, scaling and the 6° projection."""
    import jax
    import jax.numpy as jnp

    from rankbind.modelling import restraints as rs
    from rankbind.modelling import rotations as rt
    from rankbind.modelling.fab import denosumab_sequences
    from rankbind.structures import ChainSpec, from_pdb

    root = Path(__file__).resolve().parents[1]
    trimer = build_assembly("3URF", "trimer")
    chains = [c.chain_id for c in trimer.chains]
    fab = from_pdb(str(root / "structures/models/denosumab_fab/denosumab_fab_model.pdb"), {
        "H": ChainSpec("H", "FAB_HEAVY", "human", None, None),
        "L": ChainSpec("L", "FAB_LIGHT", "human", None, None),
    })  # fmt: skip
    receptor = dk.molecule_from_assembly(trimer, chains)
    ligand = dk.molecule_from_assembly(fab, ["H", "L"])
    n6 = rt.count_for_spacing(6.0)
    # cone fraction for one protomer's epitope + the CDRs (denosumab restraint)
    seqs = denosumab_sequences()
    restraint = rs.combine(
        rs.denosumab_epitope([chains[0]]), rs.cdr_paratope(seqs["VH"], seqs["VL"])
    )
    rec_r, lig_r, _ = rs.apply(restraint, receptor, ligand, dk.DockingSettings())
    cone = dk.DockingSettings(rotation_spacing_deg=6.0, orientation_cone_deg=60.0)
    n_cone = len(dk.search_rotations(rec_r, lig_r, cone)[0])
    rotations = rt.uniform_rotations(30.0)
    points = []
    for spacing in args.spacings:
        point = {"spacing_angstrom": spacing}
        for label, settings in (
            ("shape_elec", dk.DockingSettings(spacing=spacing, batch=args.batch)),
            ("issue16", dk.recommended_settings(spacing=spacing, batch=args.batch)),
        ):
            t0 = time.perf_counter()
            scorer, meta = dk.make_scorer(receptor, ligand, settings)
            setup = time.perf_counter() - t0
            t0 = time.perf_counter()
            jax.block_until_ready(scorer(jnp.asarray(rotations[: args.batch], jnp.float32)))
            compile_s = time.perf_counter() - t0
            rates = {}
            for count in (args.rotations // 2, args.rotations):
                rates[count], best = _rate(scorer, rotations[:count], args.batch)
            rate = rates[args.rotations]
            point[label] = {
                "grid_size": meta["grid_size"],
                "setup_s": round(setup, 2),
                "compile_s": round(compile_s, 2),
                "rotations_per_s_by_count": {str(k): round(v, 3) for k, v in rates.items()},
                "projected_full_6deg_scan_s": round(n6 / rate, 0),
                "projected_6deg_epitope_cone_scan_s": round(n_cone / rate, 0),
            }
            if label == "shape_elec":
                fs, fp = numpy_receptor(receptor, settings, meta["grid_size"])
                k = args.baseline_rotations
                t0 = time.perf_counter()
                base = numpy_scores(ligand, settings, rotations[:k], meta["grid_size"], fs, fp)
                numpy_rate = k / (time.perf_counter() - t0)
                point[label] |= {
                    "numpy_rotations_per_s": round(numpy_rate, 3),
                    "speedup_jax_vs_numpy": round(rate / numpy_rate, 2),
                    "max_relative_difference_best_score": float(np.max(
                        np.abs(base - best[:k]) / np.maximum(np.abs(base), 1.0))),
                }  # fmt: skip
            print(spacing, label, point[label], flush=True)
        points.append(point)
    return {
        "benchmark": "FFT docking, denosumab Fab model vs human RANKL trimer (3URF)",
        "n_rotations_full_6deg": n6,
        "n_rotations_6deg_epitope_cone_60deg": n_cone,
        "batch": args.batch,
        "points": points,
        "hardware": _hardware(),
        "versions": {
            "python": platform.python_version(),
            "jax": jax.__version__,
            "numpy": np.__version__,
        },  # fmt: skip
        "note": args.note,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=["3urf", "fab_trimer"], default="3urf")
    parser.add_argument("--spacings", type=float, nargs="+", default=[1.2, 1.6, 2.0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rotations", type=int, default=16)
    parser.add_argument("--note", default="", help="e.g. whether the machine was shared")
    parser.add_argument("--baseline-rotations", type=int, default=4)
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "docking_cpu.json")
    )
    args = parser.parse_args()
    if args.case == "fab_trimer":
        out = args.out.replace("docking_cpu.json", "docking_fab_trimer_cpu.json")
        result = fab_trimer(args)
        write_json(out, result)
        return 0

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
