"""End-point binding free energies: MM/GBSA, per-residue decomposition, alanine scanning.

Setting (recorded with every result): single-trajectory MM/GBSA. Complex, receptor and
ligand energies are evaluated on the *same* frames; receptor and ligand are the complex's
atoms split by chain/molecule selections, so bonded terms cancel exactly. Electrostatics
and Lennard-Jones use ``NoCutoff`` (all pairs, no periodicity) as implicit-solvent GB
requires; the polar solvation term is OpenMM's GBn2 (Amber igb=8) or OBC2 (igb=5)
``CustomGBForce``; the nonpolar term is γ·SASA with SASA from mdtraj's Shrake-Rupley
(default γ = 0.0072 kcal/mol/Å², probe 1.4 Å) unless the ACE term of the GB force is chosen.

Two engines compute the same energy: :mod:`rankbind.energies.jax_energy` (every parameter
read from the OpenMM System by :mod:`rankbind.energies.parameters`; jit-compiled, batched
over frames, forces by autodiff) and an OpenMM reference (one Context per component).

MM/GBSA scores are enthalpy-like unless an entropy estimate is requested
(:mod:`rankbind.energies.entropy`, interaction entropy); results say which.
"""
