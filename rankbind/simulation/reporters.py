"""Progress reporting for long work: MD stages, minimisation, the runner's task list.

On a terminal: one bar with percentage and ETA, redrawn in place. Elsewhere (a log file,
a SLURM ``--output``): a plain line at most every ``interval_s`` seconds and at the end,
so a batch log shows how far a job got.
"""

from __future__ import annotations

import math
import os
import sys
import time


def _interval_default() -> float:
    try:
        return float(os.environ.get("RANKBIND_PROGRESS_INTERVAL_S", "60"))
    except ValueError:
        return 60.0


class Progress:
    """Progress of ``total`` units of work labelled ``label``.

    ``update(done)`` with the units done so far; ``close()`` at the end. ``unit`` names
    the units in plain lines ("steps", "iterations", "tasks")."""

    def __init__(
        self,
        label: str,
        total: int,
        stream=None,
        unit: str = "steps",
        interval_s: float | None = None,
        clock=time.monotonic,
    ):
        self.label, self.total, self.unit = label, max(int(total), 1), unit
        self.stream = stream or sys.stderr
        try:
            self.tty = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.tty = False
        self.enabled = True
        self.interval_s = _interval_default() if interval_s is None else interval_s
        self.clock = clock
        self.start = clock()
        self.first: int | None = None
        self.last_line = -math.inf
        self.done = 0

    def eta_s(self, done: int) -> float:
        """Seconds left at the rate since the first update (nan before any progress)."""
        if self.first is None:
            return float("nan")
        elapsed = self.clock() - self.start
        rate = (done - self.first) / elapsed if elapsed > 0 and done > self.first else 0.0
        return (self.total - done) / rate if rate > 0 else float("nan")

    def update(self, done: int, note: str = "") -> None:
        if self.first is None:
            self.first = done
        self.done = done
        frac = min(done / self.total, 1.0)
        eta = self.eta_s(done)
        eta_text = f"{eta:6.0f}s" if math.isfinite(eta) else "   ?  "
        if self.tty:
            bar = "#" * int(30 * frac)
            self.stream.write(
                f"\r{self.label:>10} [{bar:<30}] {100 * frac:5.1f}% ETA {eta_text} {note}"[:160]
            )
            self.stream.flush()
            return
        now = self.clock()
        if now - self.last_line >= self.interval_s or done >= self.total:
            self.last_line = now
            self.stream.write(
                f"{self.label}: {done}/{self.total} {self.unit} ({100 * frac:.1f}%), "
                f"elapsed {now - self.start:.0f} s, ETA {eta_text.strip()}"
                + (f" {note}" if note else "")
                + "\n"
            )
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


class TaskProgress:
    """The runner's task list: callable(done, total, message)."""

    def __init__(self, total: int, stream=None, interval_s: float | None = None):
        self.progress = Progress("tasks", total, stream, unit="tasks", interval_s=interval_s)

    def __call__(self, done: int, total: int, message: str = "") -> None:
        self.progress.total = max(total, 1)
        self.progress.update(done, message)
        if done >= total:
            self.progress.close()
