"""SLURM submission. The first tests check the generated scripts and sbatch arguments;
the ``slurm`` ones submit through the CLI to a real single-node cluster on localhost
(.ci/slurm-up.sh) and compare with a local run, including a task killed with scancel and
requeued with scontrol, which must resume from its checkpoint."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import require

from rankbind.protocols import load_protocol, run_local
from rankbind.protocols.runner import DONE, FAILED, REPO_ROOT
from rankbind.protocols.slurm import SlurmOptions, array_spec, sbatch_command, sbatch_script
from rankbind.protocols.status import task_states

TESTS = Path(__file__).parent
EVIL = "run $(touch PWNED1); touch PWNED2 `touch PWNED3` 'q\"d"

DISPATCH = "import sys, rankbind.cli as cli\nsys.exit(cli.main(sys.argv[1:]))\n"


def rankbind_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", DISPATCH, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
    )


def write_protocol(tmp_path: Path, stages: list[dict], systems: dict, slurm=None) -> Path:
    data = {
        "name": "tiny",
        "seed": 3,
        "plugins": ["protocol_fixtures"],
        "systems": systems,
        "stages": stages,
    }
    if slurm:
        data["slurm"] = slurm
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


HUMAN = {"human": {"entry": "3URF", "kind": "asu"}}
BOTH = {**HUMAN, "mouse": {"entry": "4GIQ", "kind": "asu"}}


def outputs_of(run_dir: Path) -> dict[str, dict]:
    return {
        str(p.parent.relative_to(run_dir)): json.loads(p.read_text())["outputs"]
        for p in sorted(run_dir.rglob(DONE))
    }


# ------------------------------------------------------------------ no cluster needed


def test_array_spec():
    assert array_spec([0, 1, 2, 3], None) == "0-3"
    assert array_spec([0, 2, 3, 4, 7], 2) == "0,2-4,7%2"
    assert array_spec([5], None) == "5"


def test_script_quotes_everything(tmp_path, monkeypatch):
    run_dir = tmp_path / EVIL
    script = sbatch_script(run_dir, "md")
    path = tmp_path / "s.sh"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    exec_line = next(line for line in script.splitlines() if line.startswith("exec "))
    assert shlex.split(exec_line)[1:] == [
        sys.executable,
        "-m",
        "rankbind.cli.task",
        str(run_dir),
        "md",
    ]
    # run the script with a stand-in python: the words arrive intact, nothing executes
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "argv.py").write_text("import sys, json; print(json.dumps(sys.argv[1:]))")
    script = script.replace(
        shlex.quote(sys.executable),
        f"{shlex.quote(sys.executable)} {shlex.quote(str(fake / 'argv.py'))}",
    )
    run_dir.mkdir()
    path.write_text(script)
    out = subprocess.run(["bash", str(path)], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["-m", "rankbind.cli.task", str(run_dir), "md"]
    assert not list(tmp_path.rglob("PWNED*"))


def test_sbatch_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    stages = [
        {"name": "md", "task": "frames", "params": {"frames": 2}},
        {"name": "where", "task": "where", "over": "all"},
    ]
    protocol = load_protocol(
        write_protocol(
            tmp_path,
            stages,
            BOTH,
            slurm={"partition": "gpu", "account": "bone", "array_throttle": 3},
        )
    )
    options = SlurmOptions(gres="gpu:a100:1", time="00:30:00")
    md = sbatch_command(protocol, tmp_path, "md", [0, 1], [], options)
    assert "--array=0-1%3" in md and "--partition=gpu" in md and "--account=bone" in md
    assert "--requeue" in md and "--time=00:30:00" in md and "--signal=B:USR1@120" in md
    assert not any(a.startswith("--gres") for a in md)  # frames is a CPU kind
    assert not any(a.startswith("--dependency") for a in md)
    where = sbatch_command(protocol, tmp_path, "where", [0], ["41"], SlurmOptions(partition="big"))
    assert "--gres=gpu:1" in where and "--partition=big" in where  # GPU kind; CLI wins
    assert "--dependency=afterok:41" in where and "--time=00:05:00" in where
    stages[0]["resources"] = {"cpus": 4, "memory": "2G", "gpu": True, "time": "3:00:00"}
    protocol = load_protocol(write_protocol(tmp_path, stages, BOTH))
    md = sbatch_command(protocol, tmp_path, "md", [0], [], SlurmOptions())
    assert {"--cpus-per-task=4", "--mem=2G", "--gres=gpu:1", "--time=3:00:00"} <= set(md)


# ------------------------------------------------------------------ real cluster


def _cluster() -> tuple[str | None, str]:
    """SLURM_CONF of a responsive cluster: the environment's, else one started by
    .ci/slurm-up.sh (idempotent; needs root and slurm-wlm + munge)."""
    if shutil.which("sbatch") is None:
        return None, "sbatch not installed (apt-get install slurm-wlm munge)"
    if os.environ.get("SLURM_CONF"):
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
        if "UP" in ping.stdout:
            return os.environ["SLURM_CONF"], ""
    up = subprocess.run(
        [str(REPO_ROOT / ".ci/slurm-up.sh")], capture_output=True, text=True, timeout=120
    )
    for line in up.stdout.splitlines():
        if line.startswith("SLURM_CONF="):
            return line.split("=", 1)[1], ""
    return None, f".ci/slurm-up.sh failed: {up.stderr.strip()[-500:]}"


@pytest.fixture(scope="module")
def slurm_env():
    conf, why = _cluster()
    require("slurm", conf is not None, why)
    env = dict(os.environ, SLURM_CONF=conf, PYTHONPATH=str(TESTS))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SLURM_CONF", conf)
        patch.setenv("PYTHONPATH", str(TESTS))
        yield env


def _wait(predicate, timeout: float, what: str, interval: float = 0.5, diagnose=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    detail = f"\n{diagnose()}" if diagnose else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")


def _released_when_pending(job: str) -> bool:
    """slurmctld holds a requeued job back ~2 min (reason BeginTime), but sets that begin
    time only once the cancelled run has finished completing, which under load can be
    after `scontrol requeue` returns: so release it whenever it is seen pending on it.
    Returns False (a predicate that never ends the wait by itself)."""
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%T %r", "-j", job], capture_output=True, text=True
    )
    if out.stdout.split() == ["PENDING", "BeginTime"]:
        subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=False)
    return False


def _job_diagnosis(job: str, run_dir: Path) -> str:
    show = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True)
    logs = "".join(p.read_text()[-2000:] for p in run_dir.rglob("*.out"))
    return f"scontrol show job {job}:\n{show.stdout}{show.stderr}\njob logs:\n{logs}"


def _slurm_state(job: str) -> str:
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%T", "-j", job], capture_output=True, text=True
    )
    return out.stdout.strip()


@pytest.mark.slurm
def test_submit_matches_local_run(slurm_env, tmp_path):
    stages = [
        {
            "name": "md",
            "task": "frames",
            "replicas": 2,
            "params": {"frames": 10, "steps_per_frame": 10, "checkpoint_every": 3},
        },
        {"name": "mean", "task": "average", "over": "all"},
    ]
    path = write_protocol(tmp_path, stages, BOTH, slurm={"array_throttle": 2})
    local = tmp_path / "local"
    assert run_local(path, local).ok
    run_dir = tmp_path / EVIL
    out = rankbind_cli(
        "submit",
        str(path),
        "--scheduler",
        "slurm",
        "-o",
        str(run_dir),
        "--time",
        "00:10:00",
        env=slurm_env,
    )
    assert out.returncode == 0, out.stderr
    jobs = dict(line.split(": job ") for line in out.stdout.splitlines() if ": job " in line)
    assert set(jobs) == {"md", "mean"}
    busy = rankbind_cli("submit", str(path), "-o", str(run_dir), env=slurm_env)
    assert busy.returncode == 2 and "still has queued or running jobs" in busy.stderr

    def finished():
        states = [_slurm_state(f"{jobs['md']}_{i}") for i in range(4)]
        states.append(_slurm_state(f"{jobs['mean']}_0"))
        bad = [s for s in states if s in ("FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL")]
        assert not bad, f"{states}: {[p.read_text() for p in run_dir.rglob('*.out')]}"
        return (run_dir / "mean/all" / DONE).exists()

    _wait(finished, 150, "the SLURM run to finish")
    assert outputs_of(run_dir) == outputs_of(local)  # identical results
    record = json.loads((run_dir / "mean/all/provenance.json").read_text())
    assert record["host"]["slurm"]["SLURM_ARRAY_JOB_ID"] == jobs["mean"]
    md_records = [json.loads(p.read_text()) for p in run_dir.glob("md/*/provenance.json")]
    assert {r["host"]["slurm"]["SLURM_ARRAY_JOB_ID"] for r in md_records} == {jobs["md"]}
    assert min(r["finished"] for r in md_records) <= record["started"]  # afterok held it
    assert not list(tmp_path.rglob("PWNED*")) and not list(REPO_ROOT.glob("PWNED*"))
    status = rankbind_cli("status", str(run_dir), env=slurm_env)
    assert status.returncode == 0, status.stderr
    rows = {line.split()[0]: line.split()[1:] for line in status.stdout.splitlines()[1:3]}
    assert rows == {"md": ["4"] + ["0"] * 5, "mean": ["1"] + ["0"] * 5}
    again = rankbind_cli("submit", str(path), "-o", str(run_dir), env=slurm_env)
    assert again.returncode == 0 and "nothing submitted" in again.stdout


@pytest.mark.slurm
def test_scancel_then_requeue_resumes_from_checkpoint(slurm_env, tmp_path):
    stages = [
        {
            "name": "md",
            "task": "frames",
            "params": {
                "frames": 60,
                "steps_per_frame": 50,
                "checkpoint_every": 5,
                "residues": 6,
                "frame_delay_s": 0.1,
            },  # >= 5 s left after the first checkpoint: scancel lands mid-run
        }
    ]
    path = write_protocol(tmp_path, stages, HUMAN)
    local = tmp_path / "local"
    assert run_local(path, local).ok
    run_dir = tmp_path / "slurm"
    out = rankbind_cli("submit", str(path), "-o", str(run_dir), env=slurm_env)
    assert out.returncode == 0, out.stderr
    job = out.stdout.split("md: job ")[1].split()[0] + "_0"
    task_dir = run_dir / "md/human"
    _wait(lambda: (task_dir / ".checkpoint.json").exists(), 90, "the first checkpoint", 0.05)
    time.sleep(0.3)
    subprocess.run(["scancel", job], check=True)
    _wait(lambda: _slurm_state(job) == "CANCELLED", 60, "the cancellation")
    _wait(lambda: (task_dir / FAILED).exists(), 30, "the task to record the interruption")
    assert not (task_dir / DONE).exists()
    killed_at = len((task_dir / "frames.log").read_text().splitlines())
    assert 0 < killed_at < 60, "scancel must land mid-run"
    subprocess.run(["scontrol", "requeue", job], check=True)
    state = task_states(run_dir)["md/human"]
    assert state["state"] == "pending" and "requeued after: interrupted" in state["detail"], state
    _wait(
        lambda: _released_when_pending(job) or (task_dir / DONE).exists(),
        120,
        "the requeued task to finish",
        diagnose=lambda: _job_diagnosis(job, run_dir),
    )
    log = (task_dir / "frames.log").read_text()
    assert [int(line.split()[0]) for line in log.splitlines()] == list(range(60))
    assert log == (local / "md/human/frames.log").read_text()  # no lost or duplicated frames
    record = json.loads((task_dir / "provenance.json").read_text())
    assert record["host"]["slurm"]["SLURM_RESTART_COUNT"] == "1"
    logs = "".join(p.read_text() for p in (run_dir / "slurm/logs").glob("*.out"))
    assert "interrupted" in logs and "md[0] done" in logs


@pytest.mark.slurm
def test_real_engine_scancelled_requeued_and_sigkilled_resumes_bitwise(slurm_env, tmp_path):
    """The real MD engine (StagedSimulation, Reference) as a SLURM array task: cancelled
    with SIGTERM mid-production and requeued, then SIGKILLed (no signal handler runs) and
    resubmitted. Every frame appears once and the trajectory equals a local run's bytes."""
    stages = [
        {"name": "md", "task": "engine", "params": {"steps": 6000, "report": 50, "checkpoint": 250}}
    ]
    path = write_protocol(tmp_path, stages, HUMAN)
    local = tmp_path / "local"
    assert run_local(path, local).ok
    run_dir = tmp_path / "slurm"
    out = rankbind_cli("submit", str(path), "-o", str(run_dir), env=slurm_env)
    assert out.returncode == 0, out.stderr
    job = out.stdout.split("md: job ")[1].split()[0] + "_0"
    task_dir = run_dir / "md/human"
    production = task_dir / "production"

    def pointer_step() -> int:
        try:
            return json.loads((production / "checkpoint.json").read_text())["step"]
        except (OSError, ValueError, KeyError):
            return 0

    _wait(lambda: pointer_step() > 0, 120, "the first checkpoint", 0.05)
    subprocess.run(["scancel", job], check=True)
    _wait(lambda: _slurm_state(job) == "CANCELLED", 60, "the cancellation")
    _wait(lambda: (task_dir / FAILED).exists(), 30, "the task to record the interruption")
    first_stop = pointer_step()
    assert 0 < first_stop < 6000, "scancel must land mid-production"
    assert not (production / "done.json").exists() and not list(run_dir.rglob("*.part"))
    subprocess.run(["scontrol", "requeue", job], check=True)
    _wait(
        lambda: _released_when_pending(job) or pointer_step() > first_stop,
        120,
        "the requeued task to checkpoint",
        0.05,
        diagnose=lambda: _job_diagnosis(job, run_dir),
    )
    running = json.loads((task_dir / ".running").read_text())
    os.kill(int(running["pid"]), 9)  # SIGKILL: nothing runs on the way out
    _wait(lambda: _slurm_state(job) in ("FAILED", "CANCELLED", ""), 60, "the killed job to end")
    assert not (production / "done.json").exists()
    again = rankbind_cli("submit", str(path), "-o", str(run_dir), env=slurm_env)
    assert again.returncode == 0 and "--array" not in again.stderr, again.stderr
    _wait(lambda: (task_dir / DONE).exists(), 180, "the resubmitted task to finish")
    dcd = "production/production.dcd"
    assert (task_dir / dcd).read_bytes() == (local / "md/human" / dcd).read_bytes()

    def rows(directory):  # every column but the wall-clock speed
        lines = (directory / "production/log.csv").read_text().splitlines()[1:]
        return [line.rsplit(",", 1)[0] for line in lines]

    assert rows(task_dir) == rows(local / "md/human")
    assert [int(r.split(",")[0]) for r in rows(task_dir)] == list(range(50, 6001, 50))
    record = json.loads((task_dir / "simulation.json").read_text())
    resumes = [r["resumed"]["production"] for r in record["runs"] if "resumed" in r]
    assert len(resumes) == 2 and {r["with"] for r in resumes} == {"binary checkpoint"}
    assert not list(run_dir.rglob("*.part"))
