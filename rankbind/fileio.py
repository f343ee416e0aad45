"""Atomic file output (a reader never sees a half-written file under its final name), and
the one lookup of rankbind's data folders (:func:`data_dir`)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only if the
    block finishes without an exception (fsync'd first). On error the temporary
    file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike, owner: str, error: type[Exception] | None = None):
    """Hold an exclusive ``flock`` on the file ``path`` (created if missing) for the block:
    two processes never work on what it guards (a run or task directory). Raises ``error``
    (default :class:`~rankbind.errors.RankbindError`) saying that ``owner`` is already
    being run by another process when the lock is held, or naming the file when it cannot
    be created. The lock goes with the process, so a killed holder never leaves it held."""
    from rankbind.errors import RankbindError

    error = error or RankbindError
    path = Path(path)
    try:
        handle = open(path, "a")
    except OSError as exc:
        raise error(f"cannot create the lock file {path}: {exc.strerror or exc}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise error(f"{owner} is already being run by another process ({path})") from None
        yield


def atomic_link(source: str | os.PathLike, path: str | os.PathLike) -> None:
    """Make ``path`` a hard link to the complete file ``source`` (no bytes copied),
    replacing ``path`` atomically; copies (atomically) where hard links are not allowed.
    Only for files that are replaced, never rewritten in place, as all of rankbind's are."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.link.part"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.link(source, tmp)
    except OSError:  # filesystems without hard links
        with open(source, "rb") as src, atomic_open(path, "wb") as handle:
            shutil.copyfileobj(src, handle)
        return
    os.replace(tmp, path)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write ``text`` to ``path``."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Atomically write ``data`` as indented, key-sorted JSON."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: The repository's data folders and the environment variables that override them.
DATA_FOLDERS = {
    "structures": "RANKBIND_STRUCTURES",
    "protocols": "RANKBIND_PROTOCOLS",
    "seeds": "RANKBIND_SEEDS",
}


def data_dir(name: str) -> Path:
    """The data folder ``name`` (``structures``, ``protocols`` or ``seeds``).

    Looked up in this order: the environment variable (``$RANKBIND_STRUCTURES``,
    ``$RANKBIND_PROTOCOLS``, ``$RANKBIND_SEEDS``); the copy shipped inside an installed wheel
    (``rankbind/_data/<name>``, written by ``setup.py`` at build time); the folder of the
    source checkout the package runs from (editable installs, ``PYTHONPATH=checkout``).
    Raises :class:`~rankbind.errors.RankbindError` naming every place it looked."""
    from rankbind.errors import RankbindError

    if name not in DATA_FOLDERS:
        raise RankbindError(f"unknown data folder '{name}' (known: {', '.join(DATA_FOLDERS)})")
    env = os.environ.get(DATA_FOLDERS[name])
    if env:
        if not Path(env).is_dir():
            raise RankbindError(f"${DATA_FOLDERS[name]}={env} is not a folder")
        return Path(env)
    package = Path(__file__).resolve().parent
    candidates = (package / "_data" / name, package.parent / name)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise RankbindError(
        f"rankbind data folder '{name}' not found (looked in {', '.join(map(str, candidates))}); "
        f"set ${DATA_FOLDERS[name]}, or reinstall rankbind (`pip install .` ships it)"
    )


def shipped_file(path: str | os.PathLike, folder: str) -> Path | None:
    """``path`` as a file shipped in data folder ``folder``, or None. Accepts the name
    relative to the folder (``quick.yaml``), with the folder prefix (``protocols/quick.yaml``)
    and, for protocols, without the suffix (``quick``)."""
    from rankbind.errors import RankbindError

    relative = Path(path)
    if relative.is_absolute():
        return None
    if relative.parts and relative.parts[0] == folder:
        relative = Path(*relative.parts[1:]) if len(relative.parts) > 1 else Path()
    try:
        root = data_dir(folder)
    except RankbindError:
        return None
    for candidate in (root / relative, root / relative.with_suffix(".yaml")):
        if relative.parts and candidate.is_file():
            return candidate
    return None
