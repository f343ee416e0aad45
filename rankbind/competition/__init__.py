"""Competitive binding on the RANKL axis: how much RANK signalling is left when OPG,
denosumab, RANK-c and soluble RANKL3 compete for RANKL trimers.

* :mod:`.network`: enumerated species, stoichiometry, statistical weights.
* :mod:`.solver`: JAX float64 Newton on log free concentrations, implicit derivatives.
* :mod:`.model`: inputs with provenance (:class:`Affinity`), systems, outputs, IC50.
* :mod:`.scenarios`: RANKL/OPG sweep, decoys at equal molar doses, RANKL3 co-expression.
* :mod:`.config` / :mod:`.runs`: YAML configurations and running them (``rankbind compete``).
* :mod:`.plots`: occupancy curves and dose-response surfaces (PNG).
* :mod:`.seeds`: the curated literature data in ``seeds/``.
"""

from rankbind.competition.model import (
    OUTPUTS,
    Affinity,
    Binder,
    CompetitionError,
    Equilibrium,
    EquilibriumModel,
    LigandPool,
    System,
    concentration_from_surface_density,
    ic50,
)

__all__ = [
    "OUTPUTS",
    "Affinity",
    "Binder",
    "CompetitionError",
    "Equilibrium",
    "EquilibriumModel",
    "LigandPool",
    "System",
    "concentration_from_surface_density",
    "ic50",
]
