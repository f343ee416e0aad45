"""Build step that ships the repository's data folders inside the wheel.

``structures/``, ``protocols/`` and ``seeds/`` stay at the top of the repository (that
layout is fixed); a wheel built from it (``pip install .``) carries copies of them as
``rankbind/_data/<folder>``, where :func:`rankbind.fileio.data_dir` finds them. Editable
installs (``pip install -e .``) copy nothing: there ``data_dir`` reads the checkout.
Everything else about the package is in ``pyproject.toml``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("structures", "protocols", "seeds")


class BuildPyWithData(build_py):
    """build_py, then copy the data folders into ``<build_lib>/rankbind/_data``."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "rankbind" / "_data"
        for name in DATA_FOLDERS:
            destination = target / name
            if destination.exists():
                shutil.rmtree(destination)
            shutil.copytree(
                root / name, destination, ignore=shutil.ignore_patterns("__pycache__", ".*")
            )


setup(cmdclass={"build_py": BuildPyWithData})
