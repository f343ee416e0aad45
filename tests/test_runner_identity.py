"""Stable task identity and content-addressed staleness in the protocol runner.

Tasks are the tiny fixtures of protocol_fixtures.py (a ~50-atom OpenMM run on the
Reference platform). The systems are listed out of name order on purpose: the first
runner numbered tasks by the YAML order and a reopened run directory by sorted names."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from rankbind.protocols import expand, load_protocol, run_local
from rankbind.protocols.runner import (
    DONE,
    TaskInterrupted,
    materialize,
    open_run,
    outputs,
    pending_tasks,
    task_state,
)
from rankbind.protocols.slurm import SlurmOptions, submit_slurm
from rankbind.protocols.status import task_states

TESTS = Path(__file__).parent
ROOT = TESTS.parent
SYSTEMS = {"mouse": {"entry": "4GIQ", "kind": "asu"}, "human": {"entry": "3URF", "kind": "asu"}}
STAGES = [
    {"name": "md", "task": "frames", "params": {"frames": 4, "steps_per_frame": 5}},
    {"name": "where", "task": "where", "after": ["md"]},
    {"name": "mean", "task": "average", "over": "all", "after": ["md"]},
]


@pytest.fixture(autouse=True)
def plugin_path(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(TESTS))


def write(tmp_path: Path, systems=SYSTEMS, stages=STAGES, name="order") -> Path:
    data = {
        "name": name,
        "seed": 5,
        "plugins": ["protocol_fixtures"],
        "physics": {"timestep": "2 fs", "temperature": "300 K"},
        "systems": systems,
        "stages": stages,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def results(run_dir: Path) -> dict[str, dict]:
    """task dir -> output checksums recomputed from the files (not the markers)."""
    return {
        str(p.parent.relative_to(run_dir)): outputs(p.parent) for p in sorted(run_dir.rglob(DONE))
    }


def test_index_and_id_do_not_depend_on_listing_order(tmp_path):
    listed = expand(load_protocol(write(tmp_path)))
    reverse = dict(reversed(list(SYSTEMS.items())))
    other = expand(load_protocol(write(tmp_path, systems=reverse, name="other")))
    for plan in (listed, other):
        assert [(t.index, t.id) for t in plan.stages["md"]] == [(0, "human"), (1, "mouse")]
    run_dir = tmp_path / "run"
    materialize(write(tmp_path), run_dir)
    reopened = open_run(run_dir)  # from protocol.json, whose keys are sorted
    assert [(t.key, t.index) for t in reopened.tasks()] == [
        (t.key, t.index) for t in listed.tasks()
    ]
    assert reopened.task("md", "mouse").index == 1 and reopened.task("md", 1).id == "mouse"


class Stop:
    """A progress callback that interrupts the runner once ``after`` tasks are settled."""

    def __init__(self, after: int):
        self.after = after

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if done >= self.after:
            raise TaskInterrupted(f"test stop after {done} task(s)")


def test_interrupt_after_each_task_then_rerun_completes_identically(tmp_path):
    path = write(tmp_path)
    reference = tmp_path / "reference"
    assert run_local(path, reference).ok
    expected = results(reference)
    assert len(expected) == 5
    for k in range(1, 5):
        run_dir = tmp_path / f"run{k}"
        with pytest.raises(TaskInterrupted):
            run_local(path, run_dir, progress=Stop(k))
        assert len(results(run_dir)) == k
        again = run_local(path, run_dir)
        assert again.ok and len(again.skipped) == k and len(again.done) == 5 - k, again
        assert results(run_dir) == expected


def test_deleted_corrupt_and_changed_outputs_redo_exactly_what_depends_on_them(tmp_path):
    path = write(tmp_path)
    run_dir = tmp_path / "run"
    assert run_local(path, run_dir).ok
    expected = results(run_dir)
    # deleted task directory: redone; identical outputs leave dependants up to date
    import shutil

    shutil.rmtree(run_dir / "where/mouse")
    assert task_states(run_dir)["where/mouse"]["state"] == "pending"
    summary = run_local(path, run_dir)
    assert summary.done == ["where/mouse"] and results(run_dir) == expected
    # an edited output: corrupt, redone, restored
    (run_dir / "md/human/frames.log").write_text("0 5 1.0\n")
    states = task_states(run_dir)
    assert states["md/human"]["state"] == "corrupt"
    assert "frames.log" in states["md/human"]["detail"]
    assert states["where/human"]["state"] == "stale" and states["mean/all"]["state"] == "stale"
    assert states["md/mouse"]["state"] == "done" and states["where/mouse"]["state"] == "done"
    summary = run_local(path, run_dir)
    assert summary.done == ["md/human"], summary  # same bytes again: nothing downstream
    assert results(run_dir) == expected
    # a task redone with DIFFERENT outputs (as a non-deterministic platform would):
    # exactly its dependants are stale and redone
    log = run_dir / "md/human/frames.log"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(["0 5 -1.000000", *lines[1:]]) + "\n")
    marker = json.loads((run_dir / "md/human" / DONE).read_text())
    marker["outputs"] = outputs(run_dir / "md/human")
    (run_dir / "md/human" / DONE).write_text(json.dumps(marker))
    plan = open_run(run_dir)
    states = {t.key: task_state(plan, t, run_dir)[0] for t in plan.tasks()}
    assert states == {
        "md/human": "done",
        "md/mouse": "done",
        "where/human": "stale",
        "where/mouse": "done",
        "mean/all": "stale",
    }
    assert [t.key for t in pending_tasks(plan, run_dir)] == ["where/human", "mean/all"]
    summary = run_local(path, run_dir)
    assert sorted(summary.done) == ["mean/all", "where/human"]
    mean = json.loads((run_dir / "mean/all/mean_energy.json").read_text())
    energies = [float(line.split()[2]) for line in log.read_text().splitlines()]
    assert mean["human"] == pytest.approx(sum(energies) / len(energies))


def test_slurm_resubmission_sends_the_stable_indices(tmp_path):
    """A fake sbatch records its arguments: after a deleted task, the resubmission's
    --array names that task's index in the reopened run directory, for this stage and
    its dependants only."""
    path = write(tmp_path)
    run_dir = tmp_path / "run"
    assert run_local(path, run_dir).ok
    import shutil

    shutil.rmtree(run_dir / "md/mouse")
    calls = tmp_path / "calls.jsonl"
    fake = tmp_path / "sbatch"
    fake.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "print(len(open(" + repr(str(calls)) + ").readlines()) + 100)\n"
    )
    fake.chmod(0o755)
    dry = submit_slurm(path, run_dir, SlurmOptions(sbatch=str(fake)), dry_run=True)
    assert set(dry) == {"md", "where", "mean"}
    jobs = submit_slurm(path, run_dir, SlurmOptions(sbatch=str(fake)))
    argv = [json.loads(line) for line in calls.read_text().splitlines()]
    arrays = {a[-1].rsplit("/", 1)[1]: next(x for x in a if x.startswith("--array=")) for a in argv}
    plan = open_run(run_dir)
    mouse = {s: plan.task(s, "mouse").index for s in ("md", "where")}
    assert mouse == {"md": 1, "where": 1}
    assert arrays == {
        "md.sbatch": "--array=1",
        "where.sbatch": "--array=1",
        "mean.sbatch": "--array=0",
    }
    assert jobs == {"md": "101", "where": "102", "mean": "103"}
    # the task the array index names is the deleted one
    env = dict(os.environ, SLURM_ARRAY_TASK_ID="1", PYTHONPATH=f"{ROOT}{os.pathsep}{TESTS}")
    out = subprocess.run(
        [sys.executable, "-m", "rankbind.protocols.task_cli", str(run_dir), "md"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and "md[1] done" in out.stdout, out.stderr
    assert (run_dir / "md/mouse" / DONE).exists()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_sigterm_to_parallel_run_leaves_no_process_behind(tmp_path):
    stages = [
        {
            "name": "md",
            "task": "frames",
            "params": {"frames": 400, "steps_per_frame": 50, "checkpoint_every": 5},
        }
    ]
    path = write(tmp_path, stages=stages, name="long")
    run_dir = tmp_path / "run"
    code = (
        "import sys\nfrom rankbind.protocols import run_local\n"
        "from rankbind.protocols.runner import TaskInterrupted\n"
        "try:\n    run_local(sys.argv[1], sys.argv[2], jobs=2)\n"
        "except TaskInterrupted:\n    sys.exit(143)\n"
    )
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{TESTS}")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path), str(run_dir)], env=env)
    end = time.monotonic() + 90
    while time.monotonic() < end and not all(
        (run_dir / f"md/{s}/.checkpoint.json").exists() for s in ("human", "mouse")
    ):
        time.sleep(0.05)
    children = _children(proc.pid)
    assert len(children) == 2
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert time.monotonic() - t0 < 20
    assert not [c for c in children if _alive(c)]
    for system in ("human", "mouse"):
        failed = json.loads((run_dir / f"md/{system}/.failed").read_text())
        assert failed["interrupted"] and "SIGTERM" in failed["error"]
        assert not (run_dir / f"md/{system}" / DONE).exists()
    assert not list(run_dir.rglob("*.part"))
    states = task_states(run_dir)
    assert {states[k]["state"] for k in ("md/human", "md/mouse")} == {"failed"}
