"""Free-energy estimators and the umbrella-sampling (geometric) binding route.

- :mod:`rankbind.freeenergy.mbar`: the multistate Bennett acceptance ratio (MBAR) in JAX,
  float64, with asymptotic (Shirts & Chodera 2008) and bootstrap uncertainties.
- :mod:`rankbind.freeenergy.umbrella`: umbrella-window plans (centre-of-mass separation of one
  receptor from the RANKL trimer, optional Boresch-style orientational and RMSD conformational
  restraints), the OpenMM restraint forces, and one independent job per window.
- :mod:`rankbind.freeenergy.pmf`: the separation PMF and the standard binding free energy
  (1 M standard state) from the umbrella data.
"""
