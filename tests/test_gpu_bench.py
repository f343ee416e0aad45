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
    from summarize import DEFAULT_INTERVAL, projected_overhead

    result = {
        "runs": {
            "openmm": [{"seconds": 12.0, "context_creation_s": 2.0},
                       {"seconds": 14.0, "context_creation_s": 2.0}],
            "rankbind": [{"seconds": 16.0}, {"seconds": 18.0}],
        },
        "rebuild_breakdown_s_median": {"context_creation_s": 1.0, "state_xml_set_state_s": 0.5,
                                       "system_xml_round_trip_s": 9.0},  # no longer made
        "rankbind_context_rebuilds": 2,
    }  # fmt: skip
    got = projected_overhead(result, steps=100, interval=DEFAULT_INTERVAL)
    step = 0.11  # median of 10/100 and 12/100 s
    assert got["openmm_step_s"] == pytest.approx(step)
    assert got["fixed_extra_s"] == pytest.approx(17.0 - 13.0 - 2 * 1.5)
    assert got["one_interval_ratio"] == pytest.approx(1 + 1.0 / (DEFAULT_INTERVAL * step))
    assert got["long_run_ratio"] == pytest.approx(1 + 1.5 / (DEFAULT_INTERVAL * step))
