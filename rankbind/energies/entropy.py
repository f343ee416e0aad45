"""Interaction entropy (Duan, Liu, Zhang, Zhang; J. Am. Chem. Soc. 2016, 138, 5722).

    -TΔS = kT ln < exp(β ΔE_int') >,   ΔE_int' = ΔE_int - <ΔE_int>

over frames of the complex trajectory, where ΔE_int is the gas-phase receptor-ligand
interaction energy (Coulomb + Lennard-Jones) of each frame.

Assumptions, stated with every result: frames are an equilibrium (canonical) sample of the
complex at temperature T; the exponential average has converged, which fails when the
fluctuation σ(ΔE_int) exceeds a few kT (the estimate is then dominated by a few frames and
biased; ``converged`` is False above σ = 3.6 kcal/mol, the reliability threshold used in
later benchmarks of the method); for Gaussian ΔE_int the result is σ²/2kT; solvation and conformational entropy changes of receptor and
ligand are not included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rankbind.errors import RankbindError

KB_KJ = 0.0083144626181532  # kJ/mol/K
KJ_PER_KCAL = 4.184
SIGMA_LIMIT_KCAL = 3.6


@dataclass(frozen=True)
class InteractionEntropy:
    """-TΔS (kJ/mol) with a bootstrap standard error, and the σ of ΔE_int it came from."""

    minus_t_delta_s: float
    sem: float
    sigma_interaction: float  # kJ/mol
    temperature: float  # K
    converged: bool
    method: str = "interaction entropy (Duan et al. 2016), gas-phase Coulomb + LJ"

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "minus_T_dS_kJ_per_mol": self.minus_t_delta_s,
            "minus_T_dS_kcal_per_mol": self.minus_t_delta_s / KJ_PER_KCAL,
            "sem_kJ_per_mol": self.sem,
            "sem_kcal_per_mol": self.sem / KJ_PER_KCAL,
            "sigma_dE_int_kcal_per_mol": self.sigma_interaction / KJ_PER_KCAL,
            "temperature_K": self.temperature,
            "converged": self.converged,
        }


def minus_t_delta_s(interaction: np.ndarray, temperature: float) -> float:
    """-TΔS in kJ/mol from per-frame interaction energies (F,) kJ/mol."""
    kt = KB_KJ * temperature
    x = (np.asarray(interaction, float) - np.mean(interaction)) / kt
    m = x.max()
    return float(kt * (m + np.log(np.mean(np.exp(x - m)))))


def interaction_entropy(
    interaction: np.ndarray, temperature: float, n_bootstrap: int = 1000, seed: int = 0
) -> InteractionEntropy:
    """Interaction entropy from per-frame ΔE_int (F,) kJ/mol; bootstrap over frames."""
    interaction = np.asarray(interaction, dtype=float)
    if interaction.ndim != 1 or len(interaction) < 2:
        raise RankbindError(f"interaction entropy needs at least 2 frames (got {interaction.size})")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(interaction), size=(n_bootstrap, len(interaction)))
    boots = [minus_t_delta_s(interaction[i], temperature) for i in idx]
    sigma = float(np.std(interaction, ddof=1))
    return InteractionEntropy(
        minus_t_delta_s=minus_t_delta_s(interaction, temperature),
        sem=float(np.std(boots, ddof=1)),
        sigma_interaction=sigma,
        temperature=temperature,
        converged=sigma / KJ_PER_KCAL <= SIGMA_LIMIT_KCAL,
    )
