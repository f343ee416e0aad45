"""Progress of long work, one implementation for every caller: MD stages and
minimisation, umbrella windows, the protocol runner's task list, benchmark cases,
MM/GBSA frame batches and alanine/mutation scans, FFT docking rotation batches.

On a terminal (the stream is a TTY): a tqdm bar with rate and ETA, redrawn in place.
Elsewhere (a log file, a SLURM ``--output``, a pipe): a plain line at most every
``interval_s`` seconds (environment ``RANKBIND_PROGRESS_INTERVAL_S``, default 60) and one
at the end, so a batch log shows how far a job got without flooding it. Both go to
stderr unless a stream is given.

ETA in plain lines: the remaining units at the mean rate since the Progress was created,
counting only units done after ``initial`` (a resumed stage starts at its checkpoint).
"""

from __future__ import annotations

import math
import os
import sys
import time

INTERVAL_ENV = "RANKBIND_PROGRESS_INTERVAL_S"


def interval_default() -> float:
    """Seconds between plain progress lines: ``RANKBIND_PROGRESS_INTERVAL_S`` or 60."""
    try:
        value = float(os.environ.get(INTERVAL_ENV, "60"))
    except ValueError:
        return 60.0
    return value if math.isfinite(value) and value >= 0 else 60.0


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def format_eta(seconds: float) -> str:
    """``?`` when unknown, else seconds below 2 min, then minutes, then hours."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """Progress of ``total`` units of work labelled ``label``.

    ``update(done, note)`` with the units done so far (or ``advance(n)``), ``write(line)``
    for a message that must not break the bar, ``close()`` at the end (also as a context
    manager). ``unit`` names the units ("steps", "iterations", "tasks", "frames").
    ``initial``: units already done when the work (re)starts; they count towards the
    fraction, not the rate. ``clock``: seconds, injectable for tests (plain lines only;
    tqdm keeps its own clock)."""

    def __init__(
        self,
        label: str,
        total: int,
        stream=None,
        unit: str = "steps",
        interval_s: float | None = None,
        clock=time.monotonic,
        initial: int = 0,
    ):
        self.label, self.unit = label, unit
        self.total = max(int(total), 1)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _is_tty(self.stream)
        self.interval_s = interval_default() if interval_s is None else float(interval_s)
        self.clock = clock
        self.start = clock()
        self.initial = self.done = int(initial)
        self.last_line = self.start
        self.final_written = False
        self.closed = False
        self.bar = None
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                initial=self.done,
                desc=label,
                unit=f" {unit}",
                file=self.stream,
                dynamic_ncols=True,
                leave=True,
            )

    def eta_s(self, done: int | None = None) -> float:
        """Seconds left at the mean rate since the start (nan while nothing is done)."""
        done = self.done if done is None else done
        elapsed = self.clock() - self.start
        worked = done - self.initial
        if elapsed <= 0 or worked <= 0:
            return float("nan")
        return max(self.total - done, 0) * elapsed / worked

    def update(self, done: int, note: str = "") -> None:
        done = int(done)
        self.done = done
        if self.bar is not None:
            if self.bar.total != self.total:
                self.bar.total = self.total
            if note:
                self.bar.set_postfix_str(note[:80], refresh=False)
            self.bar.update(done - self.bar.n)
            return
        now = self.clock()
        final = done >= self.total and not self.final_written
        if final or now - self.last_line >= self.interval_s:
            self._line(now, note)
            self.final_written = self.final_written or final

    def advance(self, n: int = 1, note: str = "") -> None:
        self.update(self.done + int(n), note)

    def _line(self, now: float, note: str = "") -> None:
        self.last_line = now
        frac = min(self.done / self.total, 1.0)
        self.stream.write(
            f"{self.label}: {self.done}/{self.total} {self.unit} ({100 * frac:.1f}%), "
            f"elapsed {format_eta(now - self.start)}, ETA {format_eta(self.eta_s())}"
            + (f" | {note}" if note else "")
            + "\n"
        )
        self.stream.flush()

    def write(self, message: str) -> None:
        """A line of its own (above the bar on a terminal), whatever the interval."""
        if self.bar is not None:
            self.bar.write(message, file=self.stream)
        else:
            self.stream.write(message.rstrip("\n") + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Ends the bar, or writes the closing plain line unless the final one is out."""
        if self.closed:
            return
        self.closed = True
        if self.bar is not None:
            self.bar.close()
        elif not self.final_written:
            self._line(self.clock())
            self.final_written = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class TaskProgress:
    """The protocol runner's task list: callable(done, total, message)."""

    def __init__(self, total: int, stream=None, interval_s: float | None = None, clock=None):
        kwargs = {} if clock is None else {"clock": clock}
        self.progress = Progress(
            "tasks", total, stream, unit="tasks", interval_s=interval_s, **kwargs
        )

    def __call__(self, done: int, total: int, message: str = "") -> None:
        self.progress.total = max(int(total), 1)
        self.progress.update(done, message)
        if done >= total:
            self.progress.close()


class Silent:
    """A Progress that reports nothing (same methods)."""

    total = done = initial = 0

    def update(self, done: int, note: str = "") -> None:
        self.done = int(done)

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done += int(n)

    def write(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> Silent:
        return self

    def __exit__(self, *exc) -> None:
        pass


def progress_for(progress, label: str, total: int, unit: str) -> Progress | Silent:
    """The Progress an API call reports to, from its ``progress`` argument: True (stderr),
    False or None (:class:`Silent`), or a text stream to write to."""
    if progress is False or progress is None:
        return Silent()
    return Progress(label, total, None if progress is True else progress, unit=unit)
