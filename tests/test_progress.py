"""rankbind.progress: plain lines (not a TTY) at the interval and at the end with the ETA
of a linear rate (analytic, injected clock); tqdm on a TTY; TaskProgress; the MM/GBSA
frame batches and FFT docking rotation batches report a final line."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from helpers import fixed_segments

from rankbind.progress import Progress, Silent, TaskProgress, interval_default, progress_for


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class Tty(io.StringIO):
    def isatty(self):
        return True


LINE = re.compile(
    r"^(?P<label>.+): (?P<done>\d+)/(?P<total>\d+) (?P<unit>.+?) \((?P<pct>[\d.]+)%\), "
    r"elapsed (?P<elapsed>.+?), ETA (?P<eta>.+?)(?: \| (?P<note>.*))?$"
)


def _lines(stream):
    return [LINE.match(line) for line in stream.getvalue().splitlines()]


def test_plain_lines_at_the_interval_and_the_end_with_linear_eta():
    clock, stream = Clock(), io.StringIO()
    rate, total, interval = 4.0, 1000, 30.0  # units/s; ETA = (total - done) / rate
    progress = Progress("md", total, stream, unit="steps", interval_s=interval, clock=clock)
    written_at = []
    for t in range(1, 251):  # one update a second, 250 s to finish
        clock.t = float(t)
        before = len(stream.getvalue())
        progress.update(int(rate * t), note=f"t={t}")
        if len(stream.getvalue()) > before:
            written_at.append(t)
    progress.close()
    # a line every 30 s (not at the first update) and the final one, nothing at close
    assert written_at == [30, 60, 90, 120, 150, 180, 210, 240, 250]
    lines = _lines(stream)
    assert all(lines) and len(lines) == 9
    for t, m in zip(written_at, lines, strict=True):
        done = int(rate * t)
        assert (m["label"], int(m["done"]), int(m["total"]), m["unit"]) == (
            "md",
            done,
            total,
            "steps",
        )
        assert float(m["pct"]) == pytest.approx(100 * done / total, abs=0.05)
        eta = (total - done) / rate
        assert m["eta"] == (f"{eta:.0f} s" if eta < 120 else f"{eta / 60:.1f} min")
        assert m["note"] == f"t={t}"
    clock.t = 25.0  # 100 units in 25 s
    assert progress.eta_s(100) == pytest.approx((total - 100) / rate)


def test_resumed_work_counts_towards_fraction_not_rate_and_close_writes_the_end():
    clock, stream = Clock(), io.StringIO()
    progress = Progress("nvt", 100, stream, interval_s=60, clock=clock, initial=40)
    clock.t = 10.0
    progress.update(50)  # 10 units in 10 s since the restart: 1 unit/s
    assert progress.eta_s() == pytest.approx(50.0)
    assert stream.getvalue() == ""  # within the interval
    progress.close()  # stopped early: the closing line says how far it got
    (m,) = _lines(stream)
    assert (int(m["done"]), m["pct"], m["eta"]) == (50, "50.0", "50 s")
    progress.close()
    assert len(stream.getvalue().splitlines()) == 1


def test_interval_from_environment(monkeypatch):
    monkeypatch.setenv("RANKBIND_PROGRESS_INTERVAL_S", "5")
    assert interval_default() == 5.0
    monkeypatch.setenv("RANKBIND_PROGRESS_INTERVAL_S", "soon")
    assert interval_default() == 60.0
    monkeypatch.delenv("RANKBIND_PROGRESS_INTERVAL_S")
    assert Progress("x", 1, io.StringIO()).interval_s == 60.0


def test_tty_stream_gets_a_tqdm_bar():
    stream = Tty()
    progress = Progress("production", 1000, stream, unit="steps")
    assert progress.bar is not None and type(progress.bar).__module__.startswith("tqdm")
    progress.update(100)
    progress.update(500, "half")
    progress.write("a message")
    progress.close()
    text = stream.getvalue()
    assert "\r" in text  # redrawn in place
    final = text.split("\r")[-1]
    assert "production" in final and re.search(r"50%.*500/1000 \[\d\d:\d\d<\d\d:\d\d", final)
    assert "a message" in text and "half" in final


def test_task_progress_and_silent():
    clock, stream = Clock(), io.StringIO()
    tasks = TaskProgress(3, stream, interval_s=60, clock=clock)
    for done in range(4):
        clock.t = 100.0 * done
        tasks(done, 3, f"task{done}")
    lines = _lines(stream)
    # t=100, 200 past the interval, the last one the end: three lines
    assert [int(m["done"]) for m in lines] == [1, 2, 3] and lines[-1]["unit"] == "tasks"
    silent = progress_for(False, "x", 10, "frames")
    assert isinstance(silent, Silent)
    with silent:
        silent.advance(3)
    assert silent.done == 3


@pytest.fixture(scope="module")
def dipeptide_pair():
    """Two dipeptide chains of the 3URF interface (RANKL A:237-238, OPG R:114-115)."""
    topology, x = fixed_segments((("A", 237, 238), ("R", 114, 115)))
    chains = [c.id for c in topology.chains()]
    receptor = [a.index for a in topology.atoms() if a.residue.chain.id == chains[0]]
    ligand = [a.index for a in topology.atoms() if a.residue.chain.id == chains[1]]
    return topology, x, receptor, ligand


def test_mmgbsa_reports_frame_evaluations_to_the_stream(dipeptide_pair, capsys):
    from rankbind.energies.mmgbsa import MMGBSASettings, mmgbsa

    topology, x, receptor, ligand = dipeptide_pair
    frames = np.stack([x, x + 0.001])
    settings = MMGBSASettings(engine="openmm", platform="Reference", nonpolar="none")
    stream = io.StringIO()
    result = mmgbsa(topology, frames, receptor, ligand, settings, progress=stream)
    (m,) = _lines(stream)  # tiny job: only the final line
    # OpenMM engine: complex, receptor and ligand per frame = 3 x 2 evaluations
    assert (m["label"], m["done"], m["total"], m["pct"]) == ("MM/GBSA", "6", "6", "100.0")
    assert len(result.delta_total) == 2
    capsys.readouterr()
    mmgbsa(topology, frames, receptor, ligand, settings, progress=False)
    assert "MM/GBSA" not in capsys.readouterr().err


def test_docking_reports_rotation_batches_to_the_stream():
    from rankbind.modelling import docking as dk
    from rankbind.structures import build_assembly

    assembly = build_assembly("4GIQ", "interface")
    rec = dk.molecule_from_assembly(assembly, ["A", "B"])
    lig = dk.molecule_from_assembly(assembly, ["R"])
    rng = np.random.default_rng(3)
    rotations = np.array([dk.random_rotation(rng) for _ in range(5)])
    settings = dk.DockingSettings(spacing=1.6, n_keep=2, batch=2)
    stream = io.StringIO()
    dk.dock(rec, lig, settings, rotations=rotations, progress=stream)
    (m,) = _lines(stream)  # 3 batches (2, 2, 1 + padding): the final line counts 5, not 6
    assert (m["label"], m["done"], m["total"], m["unit"]) == ("docking", "5", "5", "rotations")
