"""Stopping long work at a safe point on SIGTERM, SIGINT or SIGUSR1.

SLURM sends SIGTERM at a time limit or on ``scancel`` and (with ``--signal=USR1@...``)
SIGUSR1 before pre-emption; a terminal sends SIGINT on Ctrl-C. Inside
:func:`interruptible` these raise :class:`Interrupted` at the next Python bytecode, so
atomic writes in progress are discarded (``rankbind.fileio.atomic_open``) and no
completion marker is written.

Python runs signal handlers only between bytecodes, never inside a long OpenMM call, so
the engine keeps those calls short (MD steps in chunks of about a second, minimisation
with a ``MinimizationReporter`` that is asked after every iteration). Inside
:func:`deferred` (code that must not be interrupted half-way, such as a callback from
OpenMM's C++ code) the signal is only recorded; :func:`stop_requested` reports it and the
exception is raised when the outermost ``deferred`` block ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


class Interrupted(BaseException):  # noqa: N818 (not an error: a request to stop)
    """A stop signal arrived (SLURM time limit, pre-emption, scancel, Ctrl-C)."""


_state: dict = {"depth": 0, "pending": None, "installed": 0}


def _name(signum: int) -> str:
    return signal.Signals(signum).name


def _handler(signum, _frame):
    if _state["depth"]:
        _state["pending"] = signum
        return
    raise Interrupted(f"signal {_name(signum)}")


def stop_requested() -> bool:
    """True when a stop signal arrived inside a :func:`deferred` block."""
    return _state["pending"] is not None


def check() -> None:
    """Raise :class:`Interrupted` if a stop signal is pending."""
    pending = _state["pending"]
    if pending is not None:
        _state["pending"] = None
        raise Interrupted(f"signal {_name(pending)}")


@contextlib.contextmanager
def deferred():
    """Record stop signals instead of raising; raise at the end of the block."""
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
    if _state["depth"] == 0:
        check()


@contextlib.contextmanager
def interruptible(signals=SIGNALS):
    """Turn ``signals`` into :class:`Interrupted` for the duration of the block (main
    thread only; elsewhere the block runs unchanged). Nested use is allowed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _handler) for s in signals}
    _state["installed"] += 1
    try:
        yield
    finally:
        _state["installed"] -= 1
        for s, handler in old.items():
            signal.signal(s, handler)
        if not _state["installed"]:
            _state["pending"] = None
