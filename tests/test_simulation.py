"""Staged simulation: exact restart equivalence, frame counts, divergence handling."""

from __future__ import annotations

import io
import json
import random
import re
from dataclasses import replace

import mdtraj
import numpy as np
import openmm
import pytest
from helpers import fragment

from rankbind.errors import SettingsError, SimulationError
from rankbind.platforms import select_platform
from rankbind.progress import Progress
from rankbind.simulation import SimulationOptions, StagedSimulation, timestep_fs
from rankbind.simulation.reporters import AtomicCheckpointReporter

N_STEPS, INTERVAL, CHECKPOINT = 100, 10, 50
OPTIONS = SimulationOptions(
    nvt_ps=0.08,
    npt_ps=0,
    production_ps=N_STEPS * 4 / 1000,
    report_interval_steps=INTERVAL,
    checkpoint_interval_steps=CHECKPOINT,
    seed=7,
    minimise_max_iterations=100,
)


class Killed(Exception):
    pass


def _load(run_dir):
    return mdtraj.load(
        str(run_dir / "production" / "production.dcd"), top=str(run_dir / "topology.pdb")
    )


def test_restart_equals_uninterrupted_run(tmp_path, monkeypatch):
    """Killed right after a checkpoint (with a stray chunk beyond it): the resume loads the
    binary checkpoint and the trajectory, log and final state are bit-identical."""
    prepared = fragment("vacuum")
    reference = select_platform("Reference")
    straight = StagedSimulation(prepared, tmp_path / "straight", OPTIONS, reference)
    assert straight.dt_fs == 4.0  # HMR -> 4 fs
    straight.run()

    save = AtomicCheckpointReporter.save

    def kill_after_half(self, simulation, step):
        record = save(self, simulation, step)
        if self.directory.name == "production" and step == N_STEPS // 2:
            # a frame chunk beyond the checkpoint, as a kill mid-write would leave
            chunk = self.directory / "chunks" / f"frames_{step + INTERVAL:012d}.npz"
            chunk.write_bytes(b"partial")
            raise Killed
        return record

    monkeypatch.setattr(AtomicCheckpointReporter, "save", kill_after_half)
    broken = StagedSimulation(prepared, tmp_path / "broken", OPTIONS, reference)
    with pytest.raises(Killed):
        broken.run()
    monkeypatch.undo()
    assert not (tmp_path / "broken" / "production" / "done.json").exists()
    results = StagedSimulation(prepared, tmp_path / "broken", OPTIONS, reference).run()
    assert results[-1].resumed_from_step == N_STEPS // 2
    assert results[-1].resumed_with == "binary checkpoint"

    a, b = _load(tmp_path / "straight"), _load(tmp_path / "broken")
    assert a.n_frames == b.n_frames == N_STEPS // INTERVAL
    assert np.array_equal(a.xyz, b.xyz)  # bit-identical continuation
    for name in ("production/production.dcd", "production/final_state.xml"):
        assert (tmp_path / "broken" / name).read_bytes() == (
            tmp_path / "straight" / name
        ).read_bytes()
    rows = (tmp_path / "broken" / "production" / "log.csv").read_text().splitlines()[1:]
    steps = [int(r.split(",")[0]) for r in rows]
    assert steps == list(range(INTERVAL, N_STEPS + 1, INTERVAL))

    def energies(d):
        return [r.split(",")[2] for r in (d / "production/log.csv").read_text().splitlines()]

    assert energies(tmp_path / "broken") == energies(tmp_path / "straight")
    record = json.loads((tmp_path / "broken" / "simulation.json").read_text())
    assert (
        len(record["runs"]) == 2 and record["runs"][1]["resumed"]["production"]["from_step"] == 50
    )


class KillAt:
    """Raises Killed from the log reporter at ``step`` (frames and rows since the last
    checkpoint are lost, as with SIGKILL)."""

    def __init__(self, step):
        self.step = step

    def install(self, monkeypatch):
        from rankbind.simulation.reporters import CSVLogReporter

        report = CSVLogReporter.report
        target = self.step

        def killing(self, simulation, state):
            if self.chunk_dir.parent.name == "production" and simulation.currentStep == target:
                raise Killed
            report(self, simulation, state)

        monkeypatch.setattr(CSVLogReporter, "report", killing)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_frame_and_row_counts_exact_after_kills_at_random_steps(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    prepared = fragment("vacuum")
    reference = select_platform("Reference")
    options = SimulationOptions(
        nvt_ps=0, npt_ps=0, production_ps=0.24, report_interval_steps=5,
        checkpoint_interval_steps=15, seed=seed, minimise_max_iterations=20,
    )  # fmt: skip
    kills = sorted(rng.sample(range(5, 61, 5), 2))
    for kill in kills:
        with monkeypatch.context() as patch:
            KillAt(kill).install(patch)
            with pytest.raises(Killed):
                StagedSimulation(prepared, tmp_path / "run", options, reference).run()
    StagedSimulation(prepared, tmp_path / "run", options, reference).run()
    StagedSimulation(prepared, tmp_path / "straight", options, reference).run()
    a, b = _load(tmp_path / "straight"), _load(tmp_path / "run")
    assert a.n_frames == b.n_frames == 12
    assert np.array_equal(a.xyz, b.xyz), kills
    rows = (tmp_path / "run" / "production" / "log.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == list(range(5, 61, 5))


def test_xml_resume_reseeds_and_says_so(tmp_path, monkeypatch):
    """A checkpoint from another OpenMM version/device: resumed from the State XML with a
    new seed, labelled in the log; the continuation differs but samples the same
    ensemble (mean temperature over the resumed part within 20 K of the uninterrupted run)."""
    prepared = fragment("vacuum")
    reference = select_platform("Reference")
    options = SimulationOptions(
        nvt_ps=0, npt_ps=0, production_ps=2.0, report_interval_steps=10,
        checkpoint_interval_steps=250, seed=4, minimise_max_iterations=50,
    )  # fmt: skip
    straight = tmp_path / "straight"
    StagedSimulation(prepared, straight, options, reference).run()
    KillAt(260).install(monkeypatch)
    with pytest.raises(Killed):
        StagedSimulation(prepared, tmp_path / "run", options, reference).run()
    monkeypatch.undo()
    pointer = tmp_path / "run" / "production" / "checkpoint.json"
    info = json.loads(pointer.read_text())
    pointer.write_text(json.dumps(info | {"openmm": "0.0-other"}))
    stream = io.StringIO()
    results = StagedSimulation(prepared, tmp_path / "run", options, reference, stream=stream).run()
    assert results[-1].resumed_from_step == 250
    assert results[-1].resumed_with.startswith("state XML, re-seeded")
    assert "new random seed" in stream.getvalue() and "0.0-other" in stream.getvalue()
    events = (tmp_path / "run" / "production" / "events.log").read_text()
    assert "resumed at step 250: state XML, re-seeded" in events
    a, b = _load(straight), _load(tmp_path / "run")
    assert a.n_frames == b.n_frames == 50
    assert np.array_equal(a.xyz[:25], b.xyz[:25]) and not np.array_equal(a.xyz[25:], b.xyz[25:])

    def temperature(run):
        rows = (run / "production" / "log.csv").read_text().splitlines()[1:]
        return np.array([float(r.split(",")[4]) for r in rows])[25:]

    assert abs(temperature(straight).mean() - temperature(tmp_path / "run").mean()) < 20.0


def test_resume_refuses_other_settings_or_system_and_extends_on_request(tmp_path):
    prepared = fragment("vacuum")
    reference = select_platform("Reference")
    options = SimulationOptions(
        nvt_ps=0, npt_ps=0, production_ps=0.08, report_interval_steps=5,
        checkpoint_interval_steps=10, minimise_max_iterations=20,
    )  # fmt: skip
    StagedSimulation(prepared, tmp_path, options, reference).run()
    record = (tmp_path / "simulation.json").read_text()
    hotter = options.replace(temperature_K=310.0)
    with pytest.raises(SimulationError, match=r"other settings \(temperature_K 300.0 -> 310.0"):
        StagedSimulation(prepared, tmp_path, hotter, reference).run()
    sparse = options.replace(report_interval_steps=10)
    with pytest.raises(SimulationError, match="report_interval_steps 5 -> 10"):
        StagedSimulation(prepared, tmp_path, sparse, reference).run()
    system = openmm.XmlSerializer.clone(prepared.system)
    system.setParticleMass(0, system.getParticleMass(0) * 1.5)
    with pytest.raises(SimulationError, match="another system"):
        StagedSimulation(replace(prepared, system=system), tmp_path, options, reference).run()
    longer = options.replace(production_ps=0.16)
    with pytest.raises(SimulationError, match="pass --extend"):
        StagedSimulation(prepared, tmp_path, longer, reference).run()
    assert (tmp_path / "simulation.json").read_text() == record  # refusals change nothing
    results = StagedSimulation(prepared, tmp_path, longer, reference, extend=True).run()
    assert results[-1].steps == 40 and results[-1].frames == 8
    assert results[-1].resumed_from_step == 20
    StagedSimulation(prepared, tmp_path / "long", longer, reference).run()
    a, b = _load(tmp_path), _load(tmp_path / "long")
    assert np.array_equal(a.xyz, b.xyz)  # extension = one longer run
    record = json.loads((tmp_path / "simulation.json").read_text())
    assert record["options"]["production_ps"] == 0.16
    assert record["extensions"][0]["production_ps_from"] == 0.08
    shorter = options.replace(production_ps=0.04)
    with pytest.raises(SimulationError, match="shorter production"):
        StagedSimulation(prepared, tmp_path, shorter, reference, extend=True).run()


def test_rerun_of_finished_run_changes_nothing(tmp_path):
    prepared = fragment("vacuum")
    options = SimulationOptions(
        nvt_ps=0.04,
        npt_ps=0,
        production_ps=0.08,
        report_interval_steps=10,
        checkpoint_interval_steps=10,
    )
    StagedSimulation(prepared, tmp_path, options, select_platform("Reference")).run()
    before = _load(tmp_path)
    results = StagedSimulation(prepared, tmp_path, options, select_platform("Reference")).run()
    after = _load(tmp_path)  # coordinates, not bytes: a DCD header holds its creation time
    assert after.n_frames == before.n_frames == 2
    np.testing.assert_array_equal(after.xyz, before.xyz)
    assert [r.stage for r in results] == ["minimise", "nvt", "production"]
    record = json.loads((tmp_path / "simulation.json").read_text())
    assert record["timestep_fs"] == 4.0 and record["hydrogen_mass_repartitioning"] is True
    assert record["restrained_atoms"] == 4 * 24  # N, CA, C, O of 24 residues


def test_crash_after_last_checkpoint_finishes_without_new_steps(tmp_path):
    """Killed between the final checkpoint and done.json: the re-run takes no steps, keeps
    every frame once, and its final State is that checkpoint's."""
    prepared = fragment("vacuum")
    options = SimulationOptions(
        nvt_ps=0, npt_ps=0, production_ps=0.08, report_interval_steps=5,
        checkpoint_interval_steps=10,
    )  # fmt: skip
    StagedSimulation(prepared, tmp_path, options, select_platform("Reference")).run()
    stage = tmp_path / "production"
    frames = _load(tmp_path)
    checkpoint = json.loads((stage / "checkpoint.json").read_text())
    (stage / "done.json").unlink()
    (stage / "final_state.xml").unlink()
    (stage / "production.dcd").unlink()
    results = StagedSimulation(prepared, tmp_path, options, select_platform("Reference")).run()
    assert results[-1].resumed_from_step == checkpoint["step"] == 20
    # coordinates, not bytes: the DCD header holds its creation time
    rebuilt = _load(tmp_path)
    assert rebuilt.n_frames == frames.n_frames == 4  # 20 steps, a frame every 5
    np.testing.assert_array_equal(rebuilt.xyz, frames.xyz)
    assert (stage / "final_state.xml").read_text() == (stage / checkpoint["state"]).read_text()


def test_temperature_is_thermostatted(tmp_path):
    """Langevin at 300 K: mean kinetic temperature over a short run within 15% of target."""
    prepared = fragment("vacuum")
    options = SimulationOptions(
        nvt_ps=2.0,
        npt_ps=0,
        production_ps=0,
        report_interval_steps=25,
        checkpoint_interval_steps=250,
        friction_per_ps=5.0,
    )
    StagedSimulation(prepared, tmp_path, options, select_platform("CPU")).run()
    rows = (tmp_path / "nvt" / "log.csv").read_text().splitlines()[1:]
    temps = np.array([float(r.split(",")[4]) for r in rows])
    assert abs(temps[len(temps) // 2 :].mean() - 300.0) < 45.0


@pytest.mark.parametrize(
    "interval, message",
    [(5, r"stage nvt, step \d+: potential energy"),  # caught at a report
     (500, r"stage nvt, step 1-500: OpenMM stopped: .*NaN")],  # raised inside step()
)  # fmt: skip
def test_explosion_stops_with_stage_and_step(tmp_path, interval, message):
    prepared = fragment("vacuum")
    options = SimulationOptions(
        nvt_ps=40.0,
        npt_ps=0,
        production_ps=0,
        timestep_fs=40.0,
        report_interval_steps=interval,
        checkpoint_interval_steps=interval,
        restraint_k_kJ_mol_nm2=0.0,
    )
    with pytest.raises(SimulationError, match=message) as info:
        StagedSimulation(prepared, tmp_path, options, select_platform("CPU")).run()
    assert not (tmp_path / "nvt" / "done.json").exists()
    if "last good checkpoint" in str(info.value):
        checkpoint = json.loads((tmp_path / "nvt" / "checkpoint.json").read_text())
        assert (tmp_path / "nvt" / checkpoint["state"]).is_file()


def test_progress_bar_shows_eta():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    progress = Progress("production", 1000, stream)
    progress.update(100)
    progress.update(500)
    progress.close()
    # tqdm's bar: fraction, count, then [elapsed<remaining (the ETA), rate]
    final = stream.getvalue().split("\r")[-1]
    assert re.search(r"50%.*500/1000 \[\d\d:\d\d<\d\d:\d\d", final), final


def test_checkpoint_interval_must_be_multiple_of_report_interval():
    with pytest.raises(SettingsError, match="multiple"):
        SimulationOptions(report_interval_steps=30, checkpoint_interval_steps=100)


def test_explicit_solvent_npt_stage_runs_with_pme(tmp_path):
    """Explicit TIP3P box: restrained NVT then NPT (MC barostat); the NPT log records a
    finite, changing box volume and the production stage follows."""
    from rankbind.preparation import PreparationOptions, prepare
    from rankbind.structures import build_assembly
    from rankbind.structures.assembly import extract

    peptide = extract(build_assembly("3URF", "interface"), ["RANKL/A:233-236"])
    prepared = prepare(
        peptide, PreparationOptions(solvent="explicit", padding_nm=0.7, box_shape="cube")
    )
    options = SimulationOptions(
        nvt_ps=0.04,
        npt_ps=0.4,
        production_ps=0.04,
        report_interval_steps=10,
        checkpoint_interval_steps=50,
        minimise_max_iterations=50,
    )
    results = StagedSimulation(prepared, tmp_path, options, select_platform("CPU")).run()
    assert [r.stage for r in results] == ["minimise", "nvt", "npt", "production"]
    rows = (tmp_path / "npt" / "log.csv").read_text().splitlines()[1:]
    volumes = np.array([float(r.split(",")[5]) for r in rows])
    assert np.all(np.isfinite(volumes)) and len(set(volumes)) > 1
    box0 = prepared.topology.getPeriodicBoxVectors()
    v0 = float(np.linalg.det(np.array([[c._value for c in v] for v in box0])))
    assert abs(volumes[-1] - v0) / v0 < 0.2
    # HMR is detected although rigid water keeps 1.008 amu hydrogens: 4 fs steps
    masses = {
        (a.residue.name == "HOH", a.element.symbol): prepared.system.getParticleMass(a.index)._value
        for a in prepared.topology.atoms()
        if a.element.symbol == "H"
    }
    assert masses[(True, "H")] == pytest.approx(1.008, abs=1e-3) and masses[(False, "H")] == 1.5
    record = json.loads((tmp_path / "simulation.json").read_text())
    assert record["timestep_fs"] == 4.0 and record["hydrogen_mass_repartitioning"] is True
    plain = prepare(peptide, PreparationOptions(solvent="explicit", padding_nm=0.7,
                                                box_shape="cube", hydrogen_mass_amu=None))  # fmt: skip
    assert timestep_fs(SimulationOptions(), plain.system) == 2.0


def test_stop_signal_as_the_checkpoint_writer_starts_leaves_no_partial_file(tmp_path, monkeypatch):
    """A real SIGTERM delivered just as a background checkpoint write starts (what CI's
    scancel hit: 'cannot join thread before it is started', and the abandoned writer's
    temporary file left behind). The stop must surface as Interrupted once the writer has
    started, the write must complete, and a rerun resumes from that checkpoint bit for bit."""
    import os
    import signal
    import threading

    from rankbind import interrupts

    prepared = fragment("vacuum")
    reference = select_platform("Reference")
    straight = StagedSimulation(prepared, tmp_path / "straight", OPTIONS, reference)
    straight.run()
    start = threading.Thread.start
    target = N_STEPS // 2

    def signalled_start(thread):
        writer = getattr(thread, "_target", None)
        reporter = getattr(writer, "__self__", None)
        if isinstance(reporter, AtomicCheckpointReporter) and (
            reporter.directory.name == "production" and thread._args[3] == target
        ):
            os.kill(os.getpid(), signal.SIGTERM)  # handled at the next bytecode
        return start(thread)

    monkeypatch.setattr(threading.Thread, "start", signalled_start)
    broken = StagedSimulation(prepared, tmp_path / "broken", OPTIONS, reference)
    with interrupts.interruptible(), pytest.raises(interrupts.Interrupted):
        broken.run()
    monkeypatch.undo()
    assert not list((tmp_path / "broken").rglob("*.part"))
    pointers = [
        json.loads(p.read_text())["step"] for p in (tmp_path / "broken").rglob("checkpoint.json")
    ]
    assert target in pointers  # the write the signal met completed
    results = StagedSimulation(prepared, tmp_path / "broken", OPTIONS, reference).run()
    assert results[-1].resumed_from_step == target
    name = "production/production.dcd"
    assert (tmp_path / "broken" / name).read_bytes() == (tmp_path / "straight" / name).read_bytes()
