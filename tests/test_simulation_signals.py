"""Stop signals reach the MD engine at a safe point within seconds: in minimisation (at
the next L-BFGS iteration) and in dynamics (between 10-step chunks), leaving a resumable
checkpoint, nothing that looks complete and no atomic-write temporaries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import fragment

from rankbind.platforms import select_platform
from rankbind.preparation import load_prepared
from rankbind.simulation import SimulationOptions, StagedSimulation

TESTS = Path(__file__).parent
ROOT = TESTS.parent
SCRIPT = """
import sys
from rankbind.preparation import load_prepared
from rankbind.interrupts import Interrupted, interruptible
from rankbind.platforms import select_platform
from rankbind.simulation import SimulationOptions, StagedSimulation
options = SimulationOptions(**eval(sys.argv[2]))
prepared = load_prepared(sys.argv[3])
print("ready", flush=True)
try:
    with interruptible():
        StagedSimulation(prepared, sys.argv[1], options, select_platform("Reference")).run()
except Interrupted as exc:
    print(f"interrupted: {exc}", flush=True)
    sys.exit(143)
"""


@pytest.fixture(scope="module")
def prepared_dir(tmp_path_factory):
    from rankbind.preparation import write_prepared

    out = tmp_path_factory.mktemp("prepared")
    write_prepared(fragment("vacuum"), out)
    return out


def _start(out: Path, options: dict, prepared: Path, env_extra=None) -> subprocess.Popen:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]),
        RANKBIND_PROGRESS_INTERVAL_S="0.2",
        **(env_extra or {}),
    )
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(out), repr(options), str(prepared)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_line(proc: subprocess.Popen, needle: str, timeout: float = 120) -> str:
    seen = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return "".join(seen)
    raise AssertionError(f"no '{needle}' in output: {''.join(seen)[-2000:]}")


def _stop(proc: subprocess.Popen, signum) -> tuple[int, float, str]:
    t0 = time.monotonic()
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, time.monotonic() - t0, out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1])
def test_signal_stops_minimisation_within_seconds(tmp_path, signum, prepared_dir):
    options = dict(
        nvt_ps=0, npt_ps=0, production_ps=0.04, minimise_max_iterations=200000,
        minimise_tolerance_kJ_mol_nm=1e-9,
    )  # fmt: skip
    proc = _start(tmp_path / "run", options, prepared_dir)
    _wait_for_line(proc, "minimise: ")
    code, seconds, out = _stop(proc, signum)
    assert code == 143 and f"interrupted: signal {signal.Signals(signum).name}" in out, out
    assert seconds < 10
    assert not (tmp_path / "run/minimise/done.json").exists()
    assert not list((tmp_path / "run").rglob("*.part"))


def test_sigterm_in_dynamics_then_resume_keeps_every_frame_once(tmp_path, prepared_dir):
    options = dict(
        nvt_ps=0, npt_ps=0, production_ps=2.4, report_interval_steps=10,
        checkpoint_interval_steps=50, minimise_max_iterations=20,
    )  # fmt: skip
    run = tmp_path / "run"
    proc = _start(run, options, prepared_dir)
    end = time.monotonic() + 120
    while not (run / "production/checkpoint.json").exists() and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(0.5)
    code, seconds, out = _stop(proc, signal.SIGTERM)
    assert code == 143 and "interrupted: signal SIGTERM" in out, out
    assert seconds < 10
    assert not (run / "production/done.json").exists() and not (run / "production.dcd").exists()
    assert not list(run.rglob("*.part"))
    result = StagedSimulation(
        load_prepared(prepared_dir), run, SimulationOptions(**options), select_platform("Reference")
    ).run()[-1]
    assert 0 < result.resumed_from_step < 600 and result.resumed_with == "binary checkpoint"
    assert result.frames == 60
    rows = (run / "production/log.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == list(range(10, 601, 10))
