"""DAG expansion and the local runner: completion markers, provenance, resume after
SIGTERM, failures, full disk, device assignment. Tasks are the real but tiny fixtures
in protocol_fixtures.py (a ~100-atom OpenMM simulation on the Reference platform)."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from rankbind.errors import ProtocolError, RankbindError
from rankbind.fileio import sha256_file
from rankbind.protocols import DevicePool, expand, load_protocol, run_local, run_task
from rankbind.protocols.runner import DONE, FAILED, RUNNING, is_done, task_command
from rankbind.protocols.status import status, task_states
from rankbind.structures.catalogue import get_entry

TESTS = Path(__file__).parent
ROOT = TESTS.parent


@pytest.fixture(autouse=True)
def plugin_path(monkeypatch):
    """Task processes must find protocol_fixtures (tests/) like this process does."""
    monkeypatch.setenv("PYTHONPATH", str(TESTS))


def write_protocol(tmp_path: Path, stages: list[dict], name="tiny", systems=None) -> Path:
    data = {
        "name": name,
        "seed": 7,
        "plugins": ["protocol_fixtures"],
        "physics": {"timestep": "2 fs", "temperature": "300 K"},
        "systems": systems
        or {"human": {"entry": "3URF", "kind": "asu"}, "mouse": {"entry": "4GIQ", "kind": "asu"}},
        "stages": stages,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


FRAMES = {
    "name": "md",
    "task": "frames",
    "replicas": 2,
    "params": {"frames": 12, "steps_per_frame": 10, "checkpoint_every": 4},
}
MEAN = {"name": "mean", "task": "average", "over": "all"}


def outputs_of(run_dir: Path) -> dict[str, dict]:
    return {
        str(p.parent.relative_to(run_dir)): json.loads(p.read_text())["outputs"]
        for p in sorted(run_dir.rglob(DONE))
    }


def test_expand_quick_protocol_dependencies():
    plan = expand(load_protocol(ROOT / "protocols" / "quick.yaml"))
    assert [len(plan.stages[s]) for s in ("prepare", "relax", "footprints")] == [2, 2, 1]
    relax = {t.id: t for t in plan.stages["relax"]}
    assert relax["rankl_rank_mouse"].deps == ("prepare/rankl_rank_mouse",)
    assert set(plan.stages["footprints"][0].deps) == {
        "prepare/rankl_rank_mouse",
        "prepare/rankl_opg_human",
    }
    assert plan.stages["mmgbsa_rank"][0].deps == ("relax/rankl_rank_mouse",)
    assert plan.stages["competition"][0].deps == ("footprints/all",)
    assert set(plan.stages["report"][0].deps) == {
        "footprints/all",
        "mmgbsa_rank/rankl_rank_mouse",
        "mmgbsa_opg/rankl_opg_human",
        "competition/all",
        "cited_competition/all",
    }
    assert plan.stages["cited_competition"][0].deps == ("footprints/all",)
    seeds = [t.seed for t in plan.tasks()]
    assert len(set(seeds)) == len(seeds)  # distinct per task
    assert seeds == [
        t.seed for t in expand(load_protocol(ROOT / "protocols" / "quick.yaml")).tasks()
    ]


def test_run_local_markers_provenance_and_skip(tmp_path):
    path = write_protocol(tmp_path, [FRAMES, MEAN])
    run_dir = tmp_path / "run"
    summary = run_local(path, run_dir)
    assert summary.ok and len(summary.done) == 5
    # every .done lists the real checksums of the outputs beside it
    for key, files in outputs_of(run_dir).items():
        for rel, digest in files.items():
            assert sha256_file(run_dir / key / rel) == digest
    log = (run_dir / "md/human-r0/frames.log").read_text().splitlines()
    assert [int(line.split()[0]) for line in log] == list(range(12))
    assert [int(line.split()[1]) for line in log] == [10 * (i + 1) for i in range(12)]
    # the analysis really averaged the upstream frames
    energies = [float(line.split()[2]) for line in log]
    means = json.loads((run_dir / "mean/all/mean_energy.json").read_text())
    assert means["human-r0"] == pytest.approx(sum(energies) / len(energies))
    # provenance: resolved protocol, versions, seeds, input checksums, wall time
    record = json.loads((run_dir / "md/human-r0/provenance.json").read_text())
    assert record["protocol"]["physics"]["timestep"] == "2.0 fs"
    assert (
        record["seeds"]["protocol"] == 7
        and record["seeds"]["task"] == expand(load_protocol(path)).stages["md"][0].seed
    )
    assert (
        record["software"]["openmm"] and record["software"]["python"] == platform.python_version()
    )
    assert "jax" in record["software"] and record["host"]["hostname"]
    entry = get_entry("3URF")
    assert record["inputs"]["structures"]["human"] == {
        f"catalogue:3URF:{entry.path.name}": entry.sha256
    }
    assert record["wall_time_s"] > 0 and record["result"]["frames"] == 12
    mean_record = json.loads((run_dir / "mean/all/provenance.json").read_text())
    assert mean_record["inputs"]["upstream"]["md/human-r0"] == outputs_of(run_dir)["md/human-r0"]
    # rerun: everything skipped, nothing rewritten
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()}
    again = run_local(path, run_dir)
    assert again.skipped and not again.done
    assert before == {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()}
    # a changed output makes the task stale: it is rerun and restored
    (run_dir / "mean/all/mean_energy.json").write_text("{}")
    assert not is_done(run_dir / "mean/all", verify=True)
    third = run_local(path, run_dir)
    assert third.done == ["mean/all"]
    assert json.loads((run_dir / "mean/all/mean_energy.json").read_text()) == means
    zero = dict.fromkeys(("stale", "corrupt", "running", "failed", "pending"), 0)
    assert status(run_dir) == {"md": {**zero, "done": 4}, "mean": {**zero, "done": 1}}


def test_parallel_process_pool_gives_identical_results(tmp_path):
    path = write_protocol(
        tmp_path, [FRAMES, MEAN], systems={"human": {"entry": "3URF", "kind": "asu"}}
    )
    assert run_local(path, tmp_path / "serial").ok
    parallel = run_local(path, tmp_path / "parallel", jobs=2)
    assert parallel.ok
    assert outputs_of(tmp_path / "serial") == outputs_of(tmp_path / "parallel")


def test_device_pool_round_robin():
    pool = DevicePool(["0", "1"])
    assert [pool.acquire(), pool.acquire(), pool.acquire()] == ["0", "1", None]
    pool.release("0")
    assert pool.acquire() == "0"
    pool.release("1")
    pool.release("0")
    assert pool.acquire() == "1"  # round-robin continues after the last handed out
    assert pool.acquire() == "0"
    three = DevicePool([2, 5, 7])
    assert [three.acquire() for _ in range(3)] == ["2", "5", "7"]
    three.release("5")
    assert three.acquire() == "5"
    with pytest.raises(ValueError):
        DevicePool([])


def test_independent_tasks_go_to_separate_devices(tmp_path):
    path = write_protocol(tmp_path, [{"name": "where", "task": "where"}])
    summary = run_local(path, tmp_path / "run", devices=["0", "1"])
    assert summary.ok
    seen = {}
    for system in ("human", "mouse"):
        record = json.loads((tmp_path / f"run/where/{system}/device.json").read_text())
        assert (
            record["device"] == record["cuda_visible_devices"] == summary.devices[f"where/{system}"]
        )
        seen[system] = record["device"]
        provenance = json.loads((tmp_path / f"run/where/{system}/provenance.json").read_text())
        assert provenance["host"]["cuda_visible_devices"] == record["device"]
    assert sorted(seen.values()) == ["0", "1"]


def _start_task(run_dir: Path, stage: str, index: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]))
    return subprocess.Popen(
        task_command(run_dir, stage, index),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(predicate, timeout=60.0, what=""):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigterm_mid_run_then_resume_without_lost_or_duplicated_frames(tmp_path):
    frames = {
        "name": "md",
        "task": "frames",
        # 0.1 s per frame: the task is still running ~5 s after its first checkpoint, so
        # the SIGTERM below always lands mid-run, however loaded the machine is
        "params": {
            "frames": 60,
            "steps_per_frame": 50,
            "checkpoint_every": 5,
            "residues": 6,
            "frame_delay_s": 0.1,
        },
    }
    path = write_protocol(tmp_path, [frames], systems={"human": {"entry": "3URF", "kind": "asu"}})
    reference = tmp_path / "reference"
    assert run_local(path, reference).ok
    run_dir = tmp_path / "run"
    from rankbind.protocols import materialize

    materialize(path, run_dir)
    task_dir = run_dir / "md/human"
    proc = _start_task(run_dir, "md", 0)
    _wait_for(lambda: (task_dir / ".checkpoint.json").exists(), what="first checkpoint")
    assert task_states(run_dir)["md/human"]["state"] == "running"
    with pytest.raises(RankbindError, match="md/human is already being run by another process"):
        run_task(run_dir, "md", 0)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    assert "interrupted" in out and "rerun to resume" in out
    assert not (task_dir / DONE).exists() and not (task_dir / RUNNING).exists()
    failed = json.loads((task_dir / FAILED).read_text())
    assert failed["interrupted"] and "SIGTERM" in failed["error"]
    partial = (task_dir / "frames.log").read_text().splitlines()
    assert 0 < len(partial) < 60, "the kill must land mid-run"
    assert task_states(run_dir)["md/human"]["state"] == "failed"
    assert run_task(run_dir, "md", 0) == "done"
    log = (task_dir / "frames.log").read_text()
    assert [int(line.split()[0]) for line in log.splitlines()] == list(range(60))
    assert log == (reference / "md/human/frames.log").read_text()  # bit-identical continuation
    assert not (task_dir / FAILED).exists()
    assert outputs_of(run_dir) == outputs_of(reference)


def test_sigterm_mid_write_leaves_nothing_looking_complete(tmp_path):
    write = {"name": "w", "task": "write", "params": {"chunks": 200, "pause": 0.05}}
    path = write_protocol(tmp_path, [write], systems={"human": {"entry": "3URF", "kind": "asu"}})
    run_dir = tmp_path / "run"
    from rankbind.protocols import materialize

    materialize(path, run_dir)
    task_dir = run_dir / "w/human"
    proc = _start_task(run_dir, "w", 0)
    _wait_for(lambda: (task_dir / ".writing").exists(), what="write to start")
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    names = sorted(p.name for p in task_dir.iterdir())
    assert names == [".failed", ".lock", ".writing"], names  # no blob.bin, temp file or .done


def test_full_disk_gives_clear_error_and_no_marker(tmp_path, monkeypatch):
    write = {"name": "w", "task": "write", "params": {"chunks": 64, "chunk_bytes": 65536}}
    path = write_protocol(tmp_path, [write], systems={"human": {"entry": "3URF", "kind": "asu"}})
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(disk)], capture_output=True
        ).returncode
        == 0
    )
    if not mounted:  # not root: make the final flush report a full disk instead
        import errno

        import rankbind.fileio

        def full(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(rankbind.fileio.os, "fsync", full)
    try:
        summary = run_local(path, disk / "run")
        message = summary.failed["w/human"]
        assert "no space left on device" in message and "w/human" in message
        task_dir = disk / "run/w/human"
        assert not (task_dir / DONE).exists() and not (task_dir / "blob.bin").exists()
        assert not [p for p in task_dir.iterdir() if p.name.endswith(".part")]
        assert "no space left" in json.loads((task_dir / FAILED).read_text())["error"]
    finally:
        if mounted:
            subprocess.run(["umount", str(disk)], check=True)


def test_failure_blocks_dependants_only(tmp_path):
    stages = [
        {"name": "bad", "task": "boom", "over": ["human"]},
        {"name": "after_bad", "task": "average", "over": ["human"], "after": ["bad"]},
        {
            "name": "md",
            "task": "frames",
            "after": [],
            "params": {"frames": 3, "steps_per_frame": 5},
        },
    ]
    path = write_protocol(tmp_path, stages)
    summary = run_local(path, tmp_path / "run")
    assert "deliberate failure in bad/human" in summary.failed["bad/human"]
    assert "ValueError" in summary.failed["bad/human"]
    assert summary.blocked == ["after_bad/human"]
    assert sorted(summary.done) == ["md/human", "md/mouse"]
    marker = json.loads((tmp_path / "run/bad/human" / FAILED).read_text())
    assert "ValueError: deliberate failure" in marker["traceback"]
    states = task_states(tmp_path / "run")
    assert states["bad/human"]["state"] == "failed"
    assert states["after_bad/human"]["state"] == "pending"
    with pytest.raises(ProtocolError, match="upstream task.* not complete: bad/human"):
        run_task(tmp_path / "run", "after_bad", 0)


def test_unimplemented_kind_and_reused_run_dir(tmp_path):
    path = write_protocol(tmp_path, [{"name": "pmf", "task": "declared_only", "over": ["human"]}])
    summary = run_local(path, tmp_path / "run")
    assert (
        "task kind 'declared_only' has no implementation registered" in summary.failed["pmf/human"]
    )
    other = write_protocol(
        tmp_path, [{"name": "pmf", "task": "declared_only", "over": ["mouse"]}], name="other"
    )
    with pytest.raises(ProtocolError, match="already holds a run of protocol 'tiny'"):
        run_local(other, tmp_path / "run")
    with pytest.raises(ProtocolError, match="not a rankbind run directory"):
        run_task(tmp_path, "pmf", 0)
    with pytest.raises(RankbindError, match=r"stage 'pmf' has tasks 0-0, not 3"):
        run_task(tmp_path / "run", "pmf", 3)


def test_cli_run_check_and_errors(tmp_path, monkeypatch, capsys):
    from rankbind import cli

    assert cli.main(["run", str(ROOT / "protocols" / "umbrella_pmf.yaml"), "--check"]) == 0
    out = capsys.readouterr().out
    assert "windows: 24 task(s) of umbrella: rankl_rank-w000" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nsystems: {m: {entry: 4GIQ}}\nstages: [{name: a, task: simulate, "
        "params: {length: 4 m}}]\n"
    )
    assert cli.main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"rankbind run: error: {bad}: stages[0].params.length: unit 'm' in "
        "'4 m' is not a time unit (units: fs, ps, ns, us, µs)"
    )
    path = write_protocol(tmp_path, [{"name": "bad", "task": "boom"}])
    assert cli.main(["run", str(path), "-o", str(tmp_path / "run"), "--devices", "0,1"]) == 1
    out = capsys.readouterr().out
    assert "0 done, 0 already complete, 2 failed" in out and "deliberate failure" in out
    assert cli.main(["status", str(tmp_path / "run")]) == 1
    assert "failed   bad/human  ValueError: deliberate failure" in capsys.readouterr().out
    assert cli.main(["task", str(tmp_path / "run"), "bad", "--index", "5"]) == 2
    assert "stage 'bad' has tasks 0-1, not 5" in capsys.readouterr().err


def test_windows_and_replicas_reach_the_task(tmp_path):
    stages = [
        {
            "name": "win",
            "task": "where",
            "over": ["human"],
            "replicas": 2,
            "windows": ["1 nm", "25 A"],
        },
        {"name": "per_replica", "task": "where", "over": ["human"], "replicas": 2},
    ]
    path = write_protocol(tmp_path, stages)
    assert run_local(path, tmp_path / "run").ok
    record = json.loads((tmp_path / "run/win/human-r1-w001/device.json").read_text())
    assert record["window_nm"] == pytest.approx(2.5) and record["replica"] == 1
    assert record["device"] is None
    # same replica count downstream: replica r depends on the windows of replica r only
    record = json.loads((tmp_path / "run/per_replica/human-r1/device.json").read_text())
    assert record["inputs"] == {"win": ["human-r1-w000", "human-r1-w001"]}
