"""Denosumab serum exposure over a dosing interval: one-compartment, first-order
absorption, linear elimination, doses superposed.

Parameters are the linear part of a published population model (Gibiansky et al. 2012:
bioavailability F, absorption half-life, central volume V, linear clearance CL; see
``seeds/competition_inputs.yaml``). Omitted, and said so with every result: the
peripheral compartment and the target-mediated (RANKL-bound) elimination, which
speeds the fall at low concentrations, so late-interval concentrations of the
60 mg every-6-months regimen are upper bounds.

C(t) = F D ka / (V (ka - ke)) * sum_n [exp(-ke (t - t_n)) - exp(-ka (t - t_n))],
summed over the doses given at t_n <= t (Bateman function), ke = CL / V.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rankbind.competition.model import CompetitionError


@dataclass(frozen=True)
class LinearPK:
    """F (1), absorption half-life (day), V (L), CL (L/day)."""

    bioavailability: float
    absorption_half_life_day: float
    volume_l: float
    clearance_l_per_day: float

    def __post_init__(self):
        if not (0 < self.bioavailability <= 1):
            raise CompetitionError(f"bioavailability must be in (0, 1], got {self.bioavailability}")
        for name in ("absorption_half_life_day", "volume_l", "clearance_l_per_day"):
            if not getattr(self, name) > 0:
                raise CompetitionError(f"{name} must be > 0, got {getattr(self, name)}")
        if math.isclose(self.ka, self.ke):
            raise CompetitionError("absorption and elimination rates must differ")

    @property
    def ka(self) -> float:
        return math.log(2) / self.absorption_half_life_day

    @property
    def ke(self) -> float:
        return self.clearance_l_per_day / self.volume_l

    @property
    def elimination_half_life_day(self) -> float:
        return math.log(2) / self.ke

    def concentration_mg_per_l(self, t_day, dose_mg: float, dose_times_day) -> np.ndarray:
        """Serum concentration (mg/L = ug/mL) at times ``t_day`` (N,) for doses of
        ``dose_mg`` given at ``dose_times_day``."""
        t = np.asarray(t_day, dtype=float)[:, None]
        tn = np.asarray(dose_times_day, dtype=float)[None, :]
        dt = t - tn
        on = dt >= 0
        dt = np.where(on, dt, 0.0)
        scale = self.bioavailability * dose_mg * self.ka / (self.volume_l * (self.ka - self.ke))
        terms = np.where(on, np.exp(-self.ke * dt) - np.exp(-self.ka * dt), 0.0)
        return scale * terms.sum(axis=1)

    def steady_state_interval(
        self, dose_mg: float, interval_day: float, n_points: int = 49, n_previous: int | None = None
    ):
        """(t (N,) in days from a dose, C (N,) mg/L) over one interval at steady state:
        the dose at t=0 preceded by ``n_previous`` doses (default: enough for the
        accumulation to converge to 1e-9)."""
        if n_previous is None:
            n_previous = max(1, math.ceil(math.log(1e9) / (self.ke * interval_day)))
        t = np.linspace(0.0, interval_day, n_points)
        times = -interval_day * np.arange(n_previous, -1, -1)
        return t, self.concentration_mg_per_l(t, dose_mg, times)

    def tmax_single_day(self) -> float:
        """Time of the single-dose peak, ln(ka/ke)/(ka-ke)."""
        return math.log(self.ka / self.ke) / (self.ka - self.ke)
