"""OpenMM platform selection: CUDA, then OpenCL, then CPU, in mixed precision where
supported. An explicit request either works or fails with a clear error.

PoCL (OpenCL on a CPU) is never chosen by ``auto``: it is slower than OpenMM's own CPU
platform, and PoCL 3.1 was seen to segfault inside ``minimizeEnergy``. When it is
requested explicitly, minimisation runs on the CPU platform instead (see
:func:`minimisation_platform`), and dynamics continue on OpenCL. Helper minimisations
inside PDBFixer and Modeller (new atoms, hydrogens) always run on :func:`cpu_platform`.

This module is the only place that looks platforms up: everything else asks
:func:`select_platform`, :func:`platform_by_name` or :func:`cpu_platform`.
"""

from __future__ import annotations

import contextlib
import glob
from collections.abc import Iterator
from dataclasses import dataclass, field

import openmm

from rankbind.errors import PlatformError

PREFERENCE = ("CUDA", "OpenCL", "CPU")
KNOWN = ("CUDA", "OpenCL", "CPU", "Reference", "HIP")


def available_platforms() -> list[str]:
    """Names of the OpenMM platforms that loaded on this machine."""
    return [
        openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())
    ]


def platform_by_name(name: str) -> openmm.Platform:
    """The OpenMM platform called exactly ``name``; :class:`PlatformError` listing the
    available platforms when it did not load here."""
    have = available_platforms()
    if name not in have:
        raise PlatformError(f"OpenMM platform '{name}' unavailable (available: {', '.join(have)})")
    return openmm.Platform.getPlatformByName(name)


def cpu_platform() -> openmm.Platform:
    """OpenMM's CPU platform (Reference where CPU did not load) for helper minimisations
    (PDBFixer, Modeller, restrained clean-ups). Left to choose, OpenMM would pick PoCL
    OpenCL where it is installed, and PoCL's ``minimizeEnergy`` segfaults."""
    return openmm.Platform.getPlatformByName(
        "CPU" if "CPU" in available_platforms() else "Reference"
    )


@contextlib.contextmanager
def single_threaded_cpu() -> Iterator[openmm.Platform]:
    """:func:`cpu_platform` whose Contexts use one thread inside the block (the previous
    default is restored after). The multi-threaded CPU platform sums forces in an order
    that varies run to run (~1e-5 nm after a minimisation); one thread is bit-reproducible.
    For helpers such as Modeller.addHydrogens that create their own Context."""
    platform = cpu_platform()
    if platform.getName() != "CPU":
        yield platform
        return
    previous = platform.getPropertyDefaultValue("Threads")
    platform.setPropertyDefaultValue("Threads", "1")
    try:
        yield platform
    finally:
        platform.setPropertyDefaultValue("Threads", previous)


def opencl_is_cpu_only() -> bool:
    """True when every installed OpenCL ICD is PoCL (OpenCL executed on the CPU)."""
    icds = glob.glob("/etc/OpenCL/vendors/*.icd")
    return bool(icds) and all("pocl" in open(path).read().lower() for path in icds)


@dataclass(frozen=True)
class PlatformChoice:
    """A chosen platform with the properties to create a Context with."""

    name: str
    properties: dict[str, str] = field(default_factory=dict)
    reason: str = ""

    @property
    def platform(self) -> openmm.Platform:
        return platform_by_name(self.name)

    def describe(self) -> dict:
        return {"platform": self.name, "properties": dict(self.properties), "reason": self.reason}


def _properties(name: str, precision: str, device_index: int | None) -> dict[str, str]:
    props: dict[str, str] = {}
    if name in ("CUDA", "OpenCL", "HIP"):
        props["Precision"] = precision
        if device_index is not None:
            props["DeviceIndex"] = str(device_index)
    elif device_index is not None:
        raise PlatformError(f"--device-index applies to GPU platforms, not {name}")
    return props


def select_platform(
    name: str = "auto", device_index: int | None = None, precision: str = "mixed"
) -> PlatformChoice:
    """Choose a platform. ``name``: ``auto`` or one of CUDA, OpenCL, CPU, Reference, HIP
    (case-insensitive). ``precision``: single, mixed or double (GPU platforms)."""
    if precision not in ("single", "mixed", "double"):
        raise PlatformError(f"unknown precision '{precision}' (single, mixed or double)")
    have = available_platforms()
    if name.lower() == "auto":
        for candidate in PREFERENCE:
            if candidate not in have:
                continue
            if candidate == "OpenCL" and opencl_is_cpu_only():
                continue
            reason = f"auto: first available of {PREFERENCE} (available: {have})"
            if "OpenCL" in have and opencl_is_cpu_only():
                reason += "; OpenCL skipped because it runs on the CPU (PoCL)"
            return PlatformChoice(
                candidate, _properties(candidate, precision, device_index), reason
            )
        raise PlatformError(f"no usable OpenMM platform (available: {have})")
    canonical = {k.lower(): k for k in KNOWN}.get(name.lower())
    if canonical is None:
        raise PlatformError(f"unknown platform '{name}'; choose auto or one of {', '.join(KNOWN)}")
    if canonical not in have:
        raise PlatformError(
            f"platform {canonical} was requested but is not available on this machine "
            f"(available: {', '.join(have)}); install the matching OpenMM plugin "
            "(e.g. pip install 'rankbind[cuda12]') or choose another platform"
        )
    return PlatformChoice(canonical, _properties(canonical, precision, device_index), "requested")


def minimisation_platform(choice: PlatformChoice) -> PlatformChoice:
    """The platform to minimise on: the dynamics platform, except PoCL OpenCL, where
    ``minimizeEnergy`` was seen to segfault (a crash no Python handler can catch); there
    the CPU platform minimises and the state is handed to OpenCL for dynamics."""
    if choice.name == "OpenCL" and opencl_is_cpu_only() and "CPU" in available_platforms():
        return PlatformChoice(
            "CPU", {}, "PoCL OpenCL: minimisation on CPU (PoCL minimizeEnergy fault)"
        )
    return choice
