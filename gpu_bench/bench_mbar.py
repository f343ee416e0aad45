"""Benchmark: rankbind's JAX MBAR against pymbar 4 on the same synthetic harmonic data.

K harmonic states (spring constants 1..4 kT/length², centres spread over [0, 5]), N samples
in total drawn exactly from them; both estimators solve for f_k and compute the asymptotic
uncertainties (compute_free_energy_differences). Each is run once to warm up (JIT
compilation), then timed over --repeats runs; the JSON records medians, the ratio
pymbar / rankbind, the largest |Delta f| and |dDelta f| difference between the two, and
hardware and versions. Not a test: timing on a shared machine is noisy, see load_average.

    python gpu_bench/bench_mbar.py --states 100 --samples 10000 --out gpu_bench/results/mbar_cpu.json
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

from hardware import cpu_model, gpu_names  # noqa: E402

from rankbind.fileio import write_json  # noqa: E402
from rankbind.freeenergy.mbar import MBAR  # noqa: E402


def harmonic_data(states: int, samples: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    spring = np.linspace(1.0, 4.0, states)
    centre = np.linspace(0.0, 5.0, states)
    n_k = np.full(states, samples // states)
    n_k[: samples - n_k.sum()] += 1
    x = np.concatenate(
        [rng.normal(c, 1 / np.sqrt(k), n) for k, c, n in zip(spring, centre, n_k, strict=True)]
    )
    return 0.5 * spring[:, None] * (x[None, :] - centre[:, None]) ** 2, n_k


def timed(fn, repeats: int) -> tuple[list[float], object]:
    result = fn()  # warm-up (JIT compilation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=100)
    parser.add_argument("--samples", type=int, default=10000, help="total samples N")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--note", default="", help="e.g. whether the machine was shared")
    parser.add_argument("--out", type=Path, default=Path("gpu_bench/results/mbar_cpu.json"))
    args = parser.parse_args()

    import jax
    import pymbar

    logging.getLogger("pymbar").setLevel(logging.ERROR)
    u_kn, n_k = harmonic_data(args.states, args.samples)

    def ours():
        m = MBAR(u_kn, n_k)
        return m.compute_free_energy_differences()

    def theirs():
        m = pymbar.MBAR(u_kn, n_k, relative_tolerance=1e-12)
        return m.compute_free_energy_differences()

    t_ours, r_ours = timed(ours, args.repeats)
    t_ref, r_ref = timed(theirs, args.repeats)
    result = {
        "benchmark": "MBAR solve + asymptotic uncertainties, synthetic harmonic states",
        "states": args.states,
        "samples_total": int(n_k.sum()),
        "u_kn_shape": list(u_kn.shape),
        "repeats": args.repeats,
        "rankbind_jax_s": t_ours,
        "pymbar_s": t_ref,
        "rankbind_median_s": float(np.median(t_ours)),
        "pymbar_median_s": float(np.median(t_ref)),
        "speedup_pymbar_over_rankbind": float(np.median(t_ref) / np.median(t_ours)),
        "max_abs_delta_f_diff_kT": float(np.abs(r_ours["Delta_f"] - r_ref["Delta_f"]).max()),
        "max_abs_ddelta_f_diff_kT": float(np.abs(r_ours["dDelta_f"] - r_ref["dDelta_f"]).max()),
        "hardware": {
            "cpu": cpu_model(),
            "logical_cpus": os.cpu_count(),
            "gpu": gpu_names(),
            "load_average_1_5_15": list(os.getloadavg()),
            "jax_devices": [str(d) for d in jax.devices()],
            "note": args.note,
        },
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "jax": jax.__version__,
            "pymbar": pymbar.__version__,
            "pymbar_backend": "pymbar 4 uses JAX (x64) for its solver when JAX is installed",
        },
    }
    result["date_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_json(args.out, result)
    print(
        f"K={args.states} N={int(n_k.sum())}: rankbind {result['rankbind_median_s']:.3f} s, "
        f"pymbar {result['pymbar_median_s']:.3f} s, ratio {result['speedup_pymbar_over_rankbind']:.2f}, "
        f"max |dF| diff {result['max_abs_delta_f_diff_kT']:.1e} kT"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
