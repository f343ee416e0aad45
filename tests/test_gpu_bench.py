"""gpu_bench bookkeeping: the committed summary is generated from the committed JSON, and
the derived quantities (log-log slopes, projected overhead) follow their formulas."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "gpu_bench"
sys.path.insert(0, str(BENCH))


def test_committed_summary_is_generated_from_the_json():
    import summarize

    committed = (BENCH / "results" / "SUMMARY.md").read_text()
    assert committed == summarize.summary(BENCH / "results"), (
        "gpu_bench/results/SUMMARY.md is stale or hand-edited: run python gpu_bench/summarize.py"
    )


def test_loglog_slope_recovers_power_laws():
    from bench_scaling import slope

    x = [10.0, 20.0, 40.0, 80.0]
    assert slope(x, [3 * v**2 for v in x]) == pytest.approx(2.0)
    # fixed cost at the first point is outside the fitted window (last three points)
    assert slope(x, [100.0, 0.5 * 20, 0.5 * 40, 0.5 * 80]) == pytest.approx(1.0)


def test_projected_overhead_from_step_and_rebuild_times():
    from bench_md import projected_overhead

    from rankbind.simulation import SimulationOptions

    interval = SimulationOptions().checkpoint_interval_steps
    runs = [
        {"seconds": 12.0, "context_creation_s": 2.0},
        {"seconds": 14.0, "context_creation_s": 2.0},
    ]
    got = projected_overhead(runs, steps=100, rebuild_s=3.0)
    step = 0.11  # median of (10/100, 12/100)
    assert got["openmm_step_s_median"] == pytest.approx(step)
    assert got["ratio"] == pytest.approx(1 + 3.0 / (interval * step))
