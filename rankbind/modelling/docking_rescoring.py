"""MM/GBSA rescoring of docked poses (issue 16, item 2).

The clustered, ranked poses of :func:`rankbind.modelling.docking.dock` are rebuilt as
all-atom complexes and re-ranked by single-structure MM/GBSA. Per pose (cluster
representatives, best first, at most ``DockingSettings.mmgbsa_rescore_top``):

1. the prepared all-atom ligand (:class:`AllAtomPartner`, in the frame of the heavy-atom
   :class:`~rankbind.modelling.docking.Molecule` that was docked) is moved by the pose's
   rigid-body transform and joined to the prepared receptor;
2. the complex is trimmed to the residues with a heavy atom within ``mmgbsa_trim_nm`` of
   the partner (:func:`rankbind.energies.mmgbsa.trim_residues`; 0 keeps it whole);
3. :meth:`rankbind.energies.mmgbsa.ComplexModel.relax`: ``mmgbsa_relax_iterations``
   L-BFGS steps, heavy atoms held by ``mmgbsa_relax_restraint_k``, native OBC2 whatever
   the scoring variant (the relax of the affinity-benchmark calibration runs);
4. :func:`rankbind.energies.mmgbsa.mmgbsa` in the named variant ``mmgbsa_variant``
   (:func:`rankbind.energies.variants.settings_for`; default ``obc2_e1_nonp0``, the
   variant the benchmark's leave-one-complex-out CV chose for absolute ΔG,
   gpu_bench/results/accuracy/affinity_relaxed_variants), OpenMM engine on
   ``mmgbsa_platform``; optionally every other fixed-ε_in variant on the same relaxed
   structure (``score_complex(..., variants=...)``: one evaluation per GB model).

Rescored poses are ranked by their score, lowest first; poses not rescored follow in
their earlier order. Each rescored pose records ``Pose.mmgbsa`` (score in kcal/mol and
kJ/mol, variant, previous rank, atoms scored, relax record, CPU seconds). The score is
enthalpy-like (no solute entropy) and of one relaxed structure: a ranking score between
poses of the same two partners, not a binding free energy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from openmm import app, unit

from rankbind.errors import RankbindError
from rankbind.progress import progress_for
from rankbind.settings import FIXED_EPS_VARIANTS, DockingSettings, PreparationOptions

KJ_PER_KCAL = 4.184


@dataclass
class AllAtomPartner:
    """A docking partner prepared all-atom (hydrogens, missing atoms built): OpenMM
    ``topology`` and ``positions_nm`` (n, 3) nm, in the frame of the heavy-atom Molecule
    that was docked (a ligand pose moves these coordinates); ``record``: how it was made."""

    topology: app.Topology
    positions_nm: np.ndarray
    record: dict = field(default_factory=dict)

    def __post_init__(self):
        self.positions_nm = np.asarray(self.positions_nm, dtype=float)
        if self.positions_nm.shape != (self.topology.getNumAtoms(), 3):
            raise RankbindError(
                f"AllAtomPartner: positions have shape {self.positions_nm.shape}, expected "
                f"({self.topology.getNumAtoms()}, 3) nm"
            )


def prepare_partner(assembly, chains: list[str], options: PreparationOptions | None = None):
    """``chains`` of ``assembly`` prepared by :func:`rankbind.preparation.prepare` as an
    :class:`AllAtomPartner` (deposited heavy atoms stay where they are). Default options:
    amber14, vacuum (MM/GBSA builds its own System), hydrogens by template at pH 7, internal
    gaps left open, no relax."""
    from rankbind.modelling.mutations import select_chains
    from rankbind.preparation import prepare

    options = options or PreparationOptions(
        solvent="vacuum", rebuild_internal_loops=False, hydrogen_mass_amu=None
    )
    prepared = prepare(select_chains(assembly, chains), options)
    meta = prepared.metadata
    record = {
        "assembly": assembly.name,
        "chains": list(chains),
        "preparation": options.model_dump(),
        "missing_atoms_added": len(meta.get("missing_atoms_added", {})),
        "protonation": {k: meta["protonation"].get(k) for k in ("method", "ph")},
    }
    xyz = np.array(prepared.positions.value_in_unit(unit.nanometer))
    return AllAtomPartner(prepared.topology, xyz, record)


def complex_of(receptor: AllAtomPartner, ligand: AllAtomPartner, pose, ligand_center=None):
    """(topology, positions (N, 3) nm, receptor atoms, ligand atoms) of the complex with
    the ligand placed by ``pose`` (:meth:`Pose.apply`, Å); receptor atoms first."""
    placed = pose.apply(ligand.positions_nm * 10.0, ligand_center) / 10.0
    modeller = app.Modeller(receptor.topology, receptor.positions_nm * unit.nanometer)
    modeller.add(ligand.topology, placed * unit.nanometer)
    n_rec = receptor.topology.getNumAtoms()
    xyz = np.concatenate([receptor.positions_nm, placed])
    return (
        modeller.topology,
        xyz,
        list(range(n_rec)),
        list(range(n_rec, n_rec + ligand.topology.getNumAtoms())),
    )


def mmgbsa_settings(settings: DockingSettings):
    """The :class:`~rankbind.settings.MMGBSASettings` of the rescoring: the named variant
    (κ = 0) with the interface trim, OpenMM engine on ``mmgbsa_platform``, one structure."""
    from rankbind.energies.variants import settings_for

    return settings_for(
        settings.mmgbsa_variant,
        trim_nm=settings.mmgbsa_trim_nm,
        engine="openmm",
        platform=settings.mmgbsa_platform,
        n_bootstrap=1,
    )


def score_complex(
    topology: app.Topology,
    xyz_nm: np.ndarray,
    receptor_atoms,
    ligand_atoms,
    settings: DockingSettings,
    variants: Sequence[str] = (),
) -> tuple[dict, np.ndarray]:
    """Trim, relax and score one complex (``xyz_nm`` (N, 3) of ``topology``) with the
    MM/GBSA choices of ``settings``. ``variants``: further named fixed-ε_in variants scored
    on the same relaxed structure (:func:`variant_records`), recorded under
    ``record["variants"]``. Returns (record, positions (N, 3) nm after the relax: atoms
    outside the trim unchanged)."""
    from rankbind.energies.mmgbsa import ComplexModel, mmgbsa, trim_residues

    unknown = sorted(set(variants) - set(FIXED_EPS_VARIANTS))
    if unknown:
        raise RankbindError(
            f"MM/GBSA rescoring variants {unknown}: not fixed-eps_in variants "
            f"(choose from {list(FIXED_EPS_VARIANTS)})"
        )
    mm = mmgbsa_settings(settings)
    x = np.array(xyz_nm, dtype=float)
    keep = None
    if settings.mmgbsa_trim_nm > 0:
        keep = trim_residues(topology, x[None], receptor_atoms, ligand_atoms, mm.trim_nm)
        if not keep:
            raise RankbindError(
                f"MM/GBSA rescoring: no residue within mmgbsa_trim_nm={mm.trim_nm} nm of the "
                "partner (the partners do not touch in this pose)"
            )
    model = ComplexModel(topology, receptor_atoms, ligand_atoms, mm, keep)
    relax = None
    if settings.mmgbsa_relax_iterations > 0:
        x[model.atoms], relax = model.relax(
            x[model.atoms], settings.mmgbsa_relax_restraint_k, settings.mmgbsa_relax_iterations
        )
    result = mmgbsa(topology, x[None], receptor_atoms, ligand_atoms, mm, model=model,
                    keep_residues=keep, progress=False)  # fmt: skip
    total = float(result.delta_total[0])
    record = {
        "dG_kcal_per_mol": total / KJ_PER_KCAL if math.isfinite(total) else None,
        "dG_kJ_per_mol": total if math.isfinite(total) else None,
        "components_kJ_per_mol": {k: float(v[0]) for k, v in result.delta.items()},
        "variant": settings.mmgbsa_variant,
        "score_kind": "single-structure MM/GBSA, enthalpy-like (no solute entropy)",
        "atoms_scored": int(len(model.atoms)),
        "trimmed_residues": None if keep is None else len(keep),
        "relax": relax,
    }
    if variants:
        record["variants"] = variant_records(
            topology, x, receptor_atoms, ligand_atoms, keep, settings, variants
        )
    return record, x


def variant_records(
    topology: app.Topology,
    xyz_nm: np.ndarray,
    receptor_atoms,
    ligand_atoms,
    keep_residues,
    settings: DockingSettings,
    variants: Sequence[str],
) -> dict[str, dict]:
    """{variant: record (dG kJ/mol and kcal/mol, components kJ/mol)} of the named
    fixed-ε_in ``variants`` for one structure ``xyz_nm`` (N, 3) nm (already relaxed),
    trimmed to ``keep_residues`` (None: whole). One OpenMM evaluation per GB model, at
    ε_in 1 and κ = 0 (with the γ·SASA term when a variant has it); every variant follows
    exactly by :func:`rankbind.energies.variants.variant_components` (Coulomb and GB
    linear in 1/ε_in without salt)."""
    from rankbind.energies.mmgbsa import ComplexModel, mmgbsa
    from rankbind.energies.variants import VARIANTS, settings_for, variant_components

    out: dict[str, dict] = {}
    for gb in sorted({VARIANTS[v]["gb_model"] for v in variants}):
        names = [v for v in variants if VARIANTS[v]["gb_model"] == gb]
        sasa = any(VARIANTS[v]["nonpolar"] == "sasa" for v in names)
        mm = settings_for(f"{gb.lower()}_e1{'' if sasa else '_nonp0'}",
                          trim_nm=settings.mmgbsa_trim_nm, engine="openmm",
                          platform=settings.mmgbsa_platform, n_bootstrap=1)  # fmt: skip
        model = ComplexModel(topology, receptor_atoms, ligand_atoms, mm, keep_residues)
        result = mmgbsa(topology, np.asarray(xyz_nm, float)[None], receptor_atoms,
                        ligand_atoms, mm, model=model, keep_residues=keep_residues,
                        progress=False)  # fmt: skip
        e1 = {k: float(v[0]) for k, v in result.delta.items()}
        for name in names:
            c = variant_components(e1, name)
            total = float(sum(c.values()))
            finite = math.isfinite(total)
            out[name] = {
                "dG_kJ_per_mol": total if finite else None,
                "dG_kcal_per_mol": total / KJ_PER_KCAL if finite else None,
                "components_kJ_per_mol": c,
            }
    return {v: out[v] for v in variants}


def _checkpoint_key(settings: DockingSettings) -> dict:
    """The settings a pose's record depends on (not how many poses are rescored)."""
    skip = {"mmgbsa_rescore_top"}
    return {
        k: v
        for k, v in settings.model_dump(mode="json").items()
        if k.startswith("mmgbsa_") and k not in skip
    }


def rescore_mmgbsa(
    result,
    receptor: AllAtomPartner,
    ligand: AllAtomPartner,
    settings: DockingSettings | None = None,
    progress=True,
    checkpoint=None,
):
    """``result`` (a :class:`~rankbind.modelling.docking.DockingResult`) with its best
    ``mmgbsa_rescore_top`` poses scored by :func:`score_complex` and all poses re-ranked:
    rescored ones by score (lowest first; a non-finite score last), then the rest in their
    earlier order. ``settings``: the MM/GBSA choices (default ``result.settings``); the
    returned result carries them. Poses are updated in place (``rank``, ``mmgbsa``).
    ``checkpoint``: a JSON file of the records done so far, written atomically after each
    pose; a rerun reuses the records of the same poses (rotation and position) and stops
    if the file holds other ``mmgbsa_*`` settings."""
    import json
    from dataclasses import replace
    from pathlib import Path

    from rankbind.fileio import write_json

    settings = settings or result.settings
    top = result.poses[: settings.mmgbsa_rescore_top]
    done: dict = {"settings": _checkpoint_key(settings), "poses": {}}
    if checkpoint is not None and Path(checkpoint).exists():
        stored = json.loads(Path(checkpoint).read_text())
        if stored.get("settings") != done["settings"]:
            raise RankbindError(
                f"{checkpoint}: MM/GBSA rescoring checkpoint of other settings "
                f"({stored.get('settings')}); remove it or use those settings"
            )
        done = stored
    t_start = time.perf_counter()
    with progress_for(progress, "MM/GBSA rescoring", len(top), "poses") as bar:
        for pose in top:
            key = [np.round(pose.rotation, 6).tolist(), np.round(pose.position, 4).tolist()]
            entry = done["poses"].get(str(pose.rank))
            if entry is not None and entry["pose"] == key:
                pose.mmgbsa = entry["record"]
                bar.advance(1)
                continue
            center = pose.ligand_center if pose.ligand_center is not None else result.ligand_center
            cpu0, wall0 = time.process_time(), time.perf_counter()
            topology, xyz, rec, lig = complex_of(receptor, ligand, pose, center)
            record, _ = score_complex(topology, xyz, rec, lig, settings)
            pose.mmgbsa = record | {
                "previous_rank": pose.rank,
                "cpu_s": round(time.process_time() - cpu0, 2),
                "wall_s": round(time.perf_counter() - wall0, 2),
            }
            if checkpoint is not None:
                done["poses"][str(pose.rank)] = {"pose": key, "record": pose.mmgbsa}
                write_json(checkpoint, done)
            bar.advance(1)
    scores = [p.mmgbsa["dG_kJ_per_mol"] for p in top]
    key = np.array([s if s is not None else np.inf for s in scores])
    order = [top[i] for i in np.argsort(key, kind="stable")]
    poses = order + list(result.poses[len(top) :])
    for rank, pose in enumerate(poses, start=1):
        pose.rank = rank
    return replace(
        result,
        poses=poses,
        settings=settings,
        notes=result.notes
        + [f"top {len(top)} poses re-ranked by MM/GBSA ({settings.mmgbsa_variant})"],
        seconds=result.seconds | {"mmgbsa_rescore": round(time.perf_counter() - t_start, 2)},
    )
