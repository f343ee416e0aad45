"""Benchmark: JAX residue contacts (rankbind.analysis.contacts) vs mdtraj.compute_contacts.

System: the 3URF RANKL trimer + 3 OPG receptors (hexamer, protein heavy atoms), a synthetic
trajectory of Gaussian perturbations (sigma 0.05 nm per atom per frame) of the crystal
coordinates. Pairs: every RANKL–receptor residue pair whose closest heavy-atom distance is
< ``--pair-cutoff`` nm in the crystal frame -- a fixed list given to *both* codes, which then
compute every listed pair in every frame (no per-frame screening). Scheme closest-heavy,
no unit cell. Both are run in the same process on the same frames; results are compared.

    python gpu_bench/bench_contacts.py [--frames 1000] [--out gpu_bench/results/contacts_cpu.json]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import mdtraj  # noqa: E402
from hardware import cpu_model, gpu_names  # noqa: E402

from rankbind.analysis import contacts  # noqa: E402
from rankbind.analysis.footprints import protein_trajectory  # noqa: E402
from rankbind.fileio import write_json  # noqa: E402
from rankbind.structures import build_assembly  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1024)
    parser.add_argument("--chunk", type=int, default=128, help="frames per streamed chunk")
    parser.add_argument("--chunk-frames", type=int, default=32, help="frames per kernel call")
    parser.add_argument("--pair-cutoff", type=float, default=1.2)
    parser.add_argument("--out", type=Path, default=Path("gpu_bench/results/contacts_cpu.json"))
    parser.add_argument("--note", default="")
    args = parser.parse_args()

    load_start = os.getloadavg()
    assembly = build_assembly("3URF", "hexamer")
    crystal = protein_trajectory(assembly)
    crystal = crystal.atom_slice(crystal.topology.select("not element H"))
    top = crystal.topology
    rankl = contacts.select(top, assembly.chains, "RANKL")
    receptors = contacts.select(top, assembly.chains, "OPG")
    every = contacts.cross_pairs(rankl, receptors)
    d0, _ = contacts.compute_contacts(crystal, every)
    pairs = every[d0[0] < args.pair_cutoff]

    rng = np.random.default_rng(2024)

    def chunks():
        for start in range(0, args.frames, args.chunk):
            n = min(args.chunk, args.frames - start)
            noise = rng.normal(0.0, 0.05, (n, *crystal.xyz.shape[1:])).astype(np.float32)
            yield mdtraj.Trajectory(crystal.xyz + noise, top)

    frames = list(chunks())  # same frames for both codes, generated before timing

    # JAX, streamed through one iterator (one plan); the first chunk is timed separately
    # because it includes jit compilation
    stream = contacts.iter_contacts(iter(frames), pairs, chunk_frames=args.chunk_frames)
    t0, c0 = time.perf_counter(), time.process_time()
    first = next(stream)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = [first, *stream]
    t_jax_rest = time.perf_counter() - t0
    cpu_jax = time.process_time() - c0
    n_rest = args.frames - len(frames[0])

    t0, c0 = time.perf_counter(), time.process_time()
    ref = [mdtraj.compute_contacts(c, pairs, scheme="closest-heavy")[0] for c in frames]
    t_mdtraj = time.perf_counter() - t0
    cpu_mdtraj = time.process_time() - c0

    ours_all, ref_all = np.concatenate(ours), np.concatenate(ref)
    max_diff = float(np.abs(ours_all - ref_all).max())
    d64 = next(contacts.iter_contacts(frames[0], pairs, precision="float64", chunk_frames=32))
    f32_vs_f64 = float(np.abs(first - d64).max())

    jax_fps_steady = n_rest / t_jax_rest
    jax_fps_total = args.frames / (t_first + t_jax_rest)
    mdtraj_fps = args.frames / t_mdtraj
    result = {
        "benchmark": "residue contacts, closest-heavy, 3URF hexamer (RANKL x3 + OPG x3)",
        "n_frames": args.frames,
        "n_atoms": int(top.n_atoms),
        "n_residue_pairs": int(len(pairs)),
        "pair_list": (
            f"RANKL-OPG residue pairs with closest heavy-atom distance < {args.pair_cutoff} nm "
            f"in the crystal ({len(pairs)} of {len(every)}); same list for both codes"
        ),
        "trajectory": "synthetic: crystal + N(0, 0.05 nm) per atom per frame, seed 2024",
        "chunk_frames_streamed": args.chunk,
        "jax_frames_per_kernel_call": args.chunk_frames,
        "jax_seconds_first_chunk_incl_compile": t_first,
        "jax_seconds_remaining_chunks": t_jax_rest,
        "jax_frames_per_s_steady": jax_fps_steady,
        "jax_frames_per_s_incl_compile": jax_fps_total,
        "mdtraj_seconds": t_mdtraj,
        "cpu_seconds_jax_all_threads_incl_compile": cpu_jax,
        "cpu_seconds_mdtraj_all_threads": cpu_mdtraj,
        "mdtraj_frames_per_s": mdtraj_fps,
        "ratio_jax_over_mdtraj_steady": jax_fps_steady / mdtraj_fps,
        "ratio_jax_over_mdtraj_incl_compile": jax_fps_total / mdtraj_fps,
        "max_abs_diff_vs_mdtraj_nm": max_diff,
        "max_abs_diff_float32_vs_float64_nm": f32_vs_f64,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "hardware": {
            "cpu": cpu_model(),
            "logical_cpus_visible": os.cpu_count(),
            "gpu": gpu_names(),
            "jax_devices": [str(d) for d in jax.devices()],
            "load_average_start": load_start,
            "load_average_end": os.getloadavg(),
        },
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "jax": jax.__version__,
            "mdtraj": mdtraj.__version__,
        },
        "note": args.note,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(args.out, result)
    for key in (
        "n_residue_pairs",
        "jax_frames_per_s_steady",
        "jax_frames_per_s_incl_compile",
        "mdtraj_frames_per_s",
        "ratio_jax_over_mdtraj_steady",
        "ratio_jax_over_mdtraj_incl_compile",
        "max_abs_diff_vs_mdtraj_nm",
    ):
        print(f"{key}: {result[key]}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
