"""Debye screening of generalized Born electrostatics: one κ for preparation and MM/GBSA.

κ depends on the ionic strength, the solvent dielectric and the run temperature, and two
conventions are in use; :func:`debye_kappa` names its convention."""

from __future__ import annotations

import numpy as np

from rankbind.errors import SettingsError

#: Conventions of :func:`debye_kappa`.
KAPPA_CONVENTIONS = ("openmm-amber", "debye-huckel")
#: Amber's conversion constant, 1/Å for c in mol/L and T in K: 1/sqrt(ε0 kB / (2 NA e² 1000)).
AMBER_KAPPA_CONSTANT = 50.33355
#: Ion-exclusion factor of the OpenMM/Amber convention.
ION_EXCLUSION_FACTOR = 0.73


def debye_kappa(
    ionic_strength_molar: float,
    temperature_K: float,
    convention: str = "openmm-amber",
    solvent_dielectric: float = 78.5,
) -> float:
    """Debye screening parameter κ (1/nm) of a 1:1 salt for generalized Born.

    ``convention``:

    - ``"openmm-amber"`` (default, what every rankbind System uses): κ as OpenMM's
      ``AmberPrmtopFile.createSystem`` and ``CharmmPsfFile.createSystem`` compute it from a
      salt concentration, i.e. Amber's ``saltcon``: the Debye–Hückel κ times the ion
      exclusion factor 0.73, ``κ = 0.73 · 10 · 50.33355 · sqrt(I / (ε_r T))`` nm⁻¹. OpenMM's
      GBSA forces (``GBSAOBCForce``, ``GBSAGBn2Force`` in ``app/internal/customgbforces``)
      take κ as given and screen with ``exp(-κ f_GB)``.
    - ``"debye-huckel"``: the bare inverse Debye length,
      ``κ² = 2 N_A e² I · 1000 / (ε0 ε_r k_B T)``.

    At 0.15 M, 300 K and ε_r = 78.5: 0.927 nm⁻¹ (openmm-amber), 1.270 nm⁻¹ (debye-huckel).
    ``temperature_K`` is the run temperature (κ depends on it)."""
    if convention not in KAPPA_CONVENTIONS:
        raise SettingsError(
            f"Debye kappa convention '{convention}' unknown; choose {', '.join(KAPPA_CONVENTIONS)}"
        )
    if ionic_strength_molar < 0 or temperature_K <= 0 or solvent_dielectric <= 0:
        raise SettingsError(
            f"debye_kappa needs ionic strength >= 0 (got {ionic_strength_molar} M), "
            f"temperature > 0 (got {temperature_K} K), dielectric > 0 (got {solvent_dielectric})"
        )
    kappa = (
        10.0
        * AMBER_KAPPA_CONSTANT
        * float(np.sqrt(ionic_strength_molar / (solvent_dielectric * temperature_K)))
    )
    return ION_EXCLUSION_FACTOR * kappa if convention == "openmm-amber" else kappa
