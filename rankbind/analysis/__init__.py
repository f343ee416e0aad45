"""Analysis of structures and trajectories: contacts, interfaces, energies."""
