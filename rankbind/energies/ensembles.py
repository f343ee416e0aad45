"""Ensembles for MM/GBSA: several structures per complex instead of one.

Three modes (:class:`rankbind.settings.EnsembleSettings` ``mode``), all in OBC2 implicit solvent (``implicit/obc2.xml``'s
CustomGBForce turned into OpenMM's native ``GBSAOBCForce`` by
:func:`rankbind.energies.mmgbsa.native_obc2`: the same energy, 6-9x faster per evaluation on
this CPU for 1,140-2,420-atom grooves) with heavy atoms held
by harmonic restraints to the prepared structure, so a short run samples side chains,
hydrogens and local relaxation without the complex drifting apart:

* ``"replicas"`` (CPU default): ``n_frames`` independent replicas, each ``md_steps`` of
  Langevin dynamics from its own random velocities (seed + replica) and then minimised.
  Replicas are independent: uncertainty by the iid bootstrap.
* ``"md"``: one restrained trajectory, ``equilibration_steps`` discarded, then a frame
  every ``interval_steps``. Frames are correlated: uncertainty by the moving-block
  bootstrap (``MMGBSASettings(uncertainty="block")``).
* ``"trajectory"``: frames read from an existing trajectory (e.g. a GPU production run),
  :func:`load_frames`; evaluated by the JAX engine in compiled batches.

:func:`ensemble_mmgbsa` runs one of these and scores it, recording CPU time per stage.
Units: nm, ps, K, kJ/mol/nm².
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import openmm
from openmm import app, unit

from rankbind.errors import RankbindError
from rankbind.settings import EnsembleSettings


def _sampling_context(
    topology, x0, settings: EnsembleSettings, ignore_external_bonds: bool = False
) -> openmm.Context:
    from rankbind.energies.mmgbsa import cut_residue_templates, native_obc2

    ff = app.ForceField(settings.forcefield, "implicit/obc2.xml")
    try:
        system = ff.createSystem(
            topology,
            nonbondedMethod=app.NoCutoff,
            constraints=app.HBonds,
            ignoreExternalBonds=ignore_external_bonds,
            residueTemplates=cut_residue_templates(topology) if ignore_external_bonds else {},
        )
    except ValueError as exc:
        raise RankbindError(f"ensemble sampling: cannot parametrise: {exc}") from exc
    restraint = openmm.CustomExternalForce("0.5*k_restr*((x-x0)^2+(y-y0)^2+(z-z0)^2)")
    restraint.addGlobalParameter("k_restr", settings.restraint_k)
    for name in ("x0", "y0", "z0"):
        restraint.addPerParticleParameter(name)
    for atom in topology.atoms():
        if atom.element is not None and atom.element.symbol != "H":
            restraint.addParticle(atom.index, x0[atom.index].tolist())
    system.addForce(restraint)
    integrator = openmm.LangevinMiddleIntegrator(
        settings.temperature_K, settings.friction_per_ps, settings.timestep_ps
    )
    integrator.setRandomNumberSeed(settings.seed + 1)
    try:
        platform = openmm.Platform.getPlatformByName(settings.platform)
    except openmm.OpenMMException as exc:
        raise RankbindError(f"ensemble platform '{settings.platform}': {exc}") from exc
    context = openmm.Context(native_obc2(system), integrator, platform)
    context.setPositions(x0)
    openmm.LocalEnergyMinimizer.minimize(context, 10.0, settings.minimise_iterations)
    return context


def sample(
    topology: app.Topology, positions, settings: EnsembleSettings, ignore_external_bonds=False
) -> tuple[np.ndarray, dict]:
    """Frames (F, N, 3) nm and a record (settings, CPU seconds). ``ignore_external_bonds``:
    the topology is an interface-trimmed complex (cut chains, e.g.
    :func:`rankbind.energies.mmgbsa.subtopology` of :func:`~rankbind.energies.mmgbsa.trim_residues`);
    residues are matched to templates without their inter-residue bonds, as
    :class:`~rankbind.energies.mmgbsa.ComplexModel` does, and the restraints hold the cut
    ends."""
    if settings.mode == "trajectory":
        raise RankbindError("mode 'trajectory' reads frames: use load_frames()")
    x0 = np.asarray(
        positions.value_in_unit(unit.nanometer) if unit.is_quantity(positions) else positions,
        dtype=float,
    )
    t0 = time.process_time()
    context = _sampling_context(topology, x0, settings, ignore_external_bonds)
    start = context.getState(getPositions=True).getPositions(asNumpy=True)
    frames = []
    if settings.mode == "replicas":
        for r in range(settings.n_frames):
            context.setPositions(start)
            context.setVelocitiesToTemperature(settings.temperature_K, settings.seed + 17 * r + 1)
            context.getIntegrator().step(settings.md_steps)
            openmm.LocalEnergyMinimizer.minimize(context, 10.0, settings.minimise_iterations)
            state = context.getState(getPositions=True)
            frames.append(state.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    else:
        context.setVelocitiesToTemperature(settings.temperature_K, settings.seed + 1)
        context.getIntegrator().step(settings.equilibration_steps)
        for _ in range(settings.n_frames):
            context.getIntegrator().step(settings.interval_steps)
            state = context.getState(getPositions=True)
            frames.append(state.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    frames = np.array(frames)
    heavy = [a.index for a in topology.atoms() if a.element is not None and a.element.symbol != "H"]
    rmsd = np.sqrt(np.mean(np.sum((frames[:, heavy] - x0[heavy]) ** 2, axis=-1), axis=1))
    record = settings.as_dict() | {
        "sampler": "OBC2 implicit solvent (GBSAOBCForce), NoCutoff, HBonds constraints, "
        "LangevinMiddle, heavy-atom harmonic restraints",
        "cpu_s_sampling": time.process_time() - t0,
        "heavy_atom_rmsd_to_start_nm": rmsd.tolist(),
        "uncertainty": "iid bootstrap" if settings.mode == "replicas" else "moving-block bootstrap",
        "system": "interface-trimmed (templates without external bonds)"
        if ignore_external_bonds
        else "whole topology",
    }
    return frames, record


@dataclass(frozen=True)
class TrimmedEnsemble:
    """Replicas of an interface-trimmed complex: ``topology`` of the kept ``atoms`` (n,)
    (indices into the full topology), ``receptor`` / ``ligand`` atom indices into the
    trimmed topology, ``frames`` (F, n, 3) nm, and the sampler's ``record``."""

    topology: app.Topology
    atoms: np.ndarray
    receptor: list[int]
    ligand: list[int]
    frames: np.ndarray
    record: dict


def sample_trimmed(
    topology: app.Topology,
    positions,
    receptor,
    ligand,
    trim_nm: float,
    settings: EnsembleSettings,
) -> TrimmedEnsemble:
    """Sample only the residues within ``trim_nm`` of the partner
    (:func:`rankbind.energies.mmgbsa.trim_residues`) as a cut complex: residues matched to
    templates without external bonds, heavy-atom restraints holding the cut ends (see
    :func:`sample`). ``receptor``/``ligand``: atom indices into ``topology``."""
    from rankbind.energies.mmgbsa import subtopology, trim_residues

    x = np.asarray(
        positions.value_in_unit(unit.nanometer) if unit.is_quantity(positions) else positions,
        dtype=float,
    )
    region = set(trim_residues(topology, x, receptor, ligand, trim_nm))
    atoms = np.array([a.index for a in topology.atoms() if a.residue.index in region])
    sub = subtopology(topology, atoms)
    local = {int(a): k for k, a in enumerate(atoms)}
    frames, record = sample(sub, x[atoms], settings, ignore_external_bonds=True)
    return TrimmedEnsemble(
        topology=sub,
        atoms=atoms,
        receptor=[local[a] for a in receptor if a in local],
        ligand=[local[a] for a in ligand if a in local],
        frames=frames,
        record=record | {"trim_nm": trim_nm, "n_atoms_sampled": int(len(atoms))},
    )


def load_frames(
    trajectory: str, topology_file: str, stride: int = 1
) -> tuple[app.Topology, np.ndarray]:
    """(OpenMM Topology, frames (F, N, 3) nm) of a trajectory (DCD, XTC, ...) via mdtraj."""
    import mdtraj

    try:
        traj = mdtraj.load(trajectory, top=topology_file, stride=stride)
    except (OSError, ValueError) as exc:
        raise RankbindError(
            f"cannot read trajectory {trajectory} with {topology_file}: {exc}"
        ) from exc
    return traj.topology.to_openmm(), np.asarray(traj.xyz, dtype=float)


def ensemble_mmgbsa(
    topology: app.Topology,
    positions,
    receptor,
    ligand,
    mmgbsa_settings=None,
    ensemble: EnsembleSettings | None = None,
    frames: np.ndarray | None = None,
    decompose: bool = False,
    progress=True,
):
    """Sample (unless ``frames`` are given) and score an ensemble; the uncertainty method
    follows the mode (given frames without ``ensemble``: a trajectory, block bootstrap).
    ``progress`` goes to :func:`rankbind.energies.mmgbsa.mmgbsa`. Returns (MMGBSAResult,
    record)."""

    from rankbind.energies.mmgbsa import MMGBSASettings, mmgbsa

    given = ensemble
    ensemble = ensemble or EnsembleSettings()
    settings = mmgbsa_settings or MMGBSASettings()
    record: dict = {}
    if frames is None:
        frames, record = sample(topology, positions, ensemble)
        mode = ensemble.mode
    else:  # given frames: sampled with ``ensemble`` if passed, else a trajectory
        mode = given.mode if given is not None else "trajectory"
        record = {"mode": mode, "n_frames": int(len(frames)), "frames": "given"}
    uncertainty = "iid" if mode == "replicas" else "block"
    settings = settings.replace(uncertainty=uncertainty)
    t0 = time.process_time()
    result = mmgbsa(
        topology, frames, receptor, ligand, settings, decompose=decompose, progress=progress
    )
    record["cpu_s_scoring"] = time.process_time() - t0
    result.info["ensemble"] = record
    return result, record
