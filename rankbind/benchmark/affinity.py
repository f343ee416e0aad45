"""Binding-affinity benchmark: predicted ΔG of bound complexes against experiment.

Estimators per case (each timed; each can be switched off in the settings):

* ``prodigy``: rankbind's IC-NIS model (:mod:`rankbind.analysis.prodigy`) on the bound
  complex (heavy atoms as deposited).
* ``prodigy_prot``: the reference ``prodigy`` program (pip ``prodigy-prot``) on the same
  file, ``prodigy FILE --selection REC LIG -q``, the peer baseline.
* ``mmgbsa``: single-structure MM/GBSA (:func:`rankbind.energies.mmgbsa.mmgbsa`) of the
  complex prepared by :func:`rankbind.preparation.prepare` (amber14, GBn2, hydrogens added
  at pH 7, missing side-chain atoms built, internal gaps left open, residues alone between
  two gaps removed and listed, no minimisation).

The summary gives Pearson, Spearman, Kendall and RMSE with bootstrap 95 % intervals for
each estimator, raw and after a linear calibration fitted with leave-one-complex-out
cross-validation (the only fitted parameters). Its headline is the MM/GBSA variant fixed
before evaluation (``AffinitySettings.variant``), beside the nested-CV choice; every other
exact variant follows.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from rankbind.benchmark import metrics
from rankbind.benchmark.datasets import DockingCase
from rankbind.errors import RankbindError
from rankbind.settings import AffinitySettings

KJ_PER_KCAL = 4.184
HEADLINE = "ΔG of MM/GBSA variant {}, fixed before evaluation, and the nested-CV choice"


def complex_pdb(case: DockingCase, out: Path) -> Path:
    """Bound receptor + ligand ATOM records of the case chains in one PDB file."""
    from rankbind.fileio import write_text

    lines = []
    for path, chains in (
        (case.receptor_bound, case.receptor_chains),
        (case.ligand_bound, case.ligand_chains),
    ):
        for chain in chains:
            rows = [
                s
                for s in Path(path).read_text().splitlines()
                if s.startswith("ATOM") and s[21] == chain
            ]
            if not rows:
                raise RankbindError(f"{path}: no ATOM records of chain {chain!r}")
            lines += rows + ["TER"]
    write_text(out, "\n".join(lines + ["END"]) + "\n")
    return out


def prodigy_rankbind(path: Path, receptor: tuple, ligand: tuple) -> dict:
    import mdtraj

    from rankbind.analysis import prodigy

    traj = mdtraj.load(str(path))
    top = traj.topology
    groups = [
        np.array([r.index for r in top.residues if r.chain.chain_id in side])
        for side in (receptor, ligand)
    ]
    result = prodigy.predict(traj, groups, ["receptor", "ligand"])
    return {"dg_kcal_per_mol": result.dg_kcal_per_mol, "n_contacts": result.n_contacts}


_PRODIGY_DG = re.compile(r"(-?\d+\.\d+)\s*$")


def prodigy_prot(path: Path, receptor: tuple, ligand: tuple, command: str = "prodigy") -> dict:
    """The reference PRODIGY program; ΔG (kcal/mol) from its ``-q`` output."""
    exe = shutil.which(command) or command
    cmd = [exe, str(path), "--selection", ",".join(receptor), ",".join(ligand), "-q"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RankbindError(f"prodigy-prot failed to run ({' '.join(cmd)}): {exc}") from None
    m = _PRODIGY_DG.search(proc.stdout.strip())
    if proc.returncode != 0 or not m:
        raise RankbindError(
            f"prodigy-prot ({' '.join(cmd)}) exit {proc.returncode}: "
            f"{(proc.stderr or proc.stdout).strip()[-300:]}"
        )
    return {"dg_kcal_per_mol": float(m[1]), "command": " ".join(["prodigy", *cmd[1:]])}


def prepared_complex(path: Path, chains: list[str], settings: AffinitySettings, name: str):
    """(topology, positions nm (N, 3)) of ``path`` prepared for implicit-solvent MM/GBSA."""
    from openmm import unit

    from rankbind.preparation import PreparationOptions, prepare
    from rankbind.structures.assembly import from_pdb
    from rankbind.structures.catalogue import ChainSpec

    specs = {c: ChainSpec(c, "ANTIGEN", "unknown", None, None) for c in chains}
    assembly = from_pdb(path, specs, name=name)
    options = PreparationOptions(
        forcefield=settings.forcefield,
        solvent="implicit",
        gb_model=settings.mmgbsa_gb_model,
        ph=settings.ph,
        protonation=settings.protonation,
        ionic_strength_molar=settings.mmgbsa_salt_molar,
        rebuild_internal_loops=False,
        isolated_residues="remove",  # a lone residue between two gaps has no template
        hydrogen_mass_amu=None,
    )
    prepared = prepare(assembly, options)
    xyz = np.array(prepared.positions.value_in_unit(unit.nanometer))
    return prepared.topology, xyz, prepared.metadata


def mmgbsa_settings(settings: AffinitySettings, gb_model: str | None = None):
    """The MM/GBSA settings of the benchmark (ε_in = 1), with ``gb_model`` if given."""
    from rankbind.energies.mmgbsa import MMGBSASettings

    return MMGBSASettings(
        gb_model=gb_model or settings.mmgbsa_gb_model,
        salt_concentration=settings.mmgbsa_salt_molar,
        nonpolar=settings.mmgbsa_nonpolar,
        engine=settings.mmgbsa_engine,
        platform=settings.mmgbsa_platform,
        trim_nm=settings.mmgbsa_trim_nm,
        n_bootstrap=1,
        seed=settings.seed,
    )


def sides(topology, receptor: tuple, ligand: tuple) -> tuple[list[int], list[int]]:
    rec = [a.index for a in topology.atoms() if a.residue.chain.id in receptor]
    lig = [a.index for a in topology.atoms() if a.residue.chain.id in ligand]
    return rec, lig


def scored_components(topology, xyz, rec, lig, settings: AffinitySettings, keep=None,
                      free_atoms=()) -> dict:  # fmt: skip
    """Relax (``settings.mmgbsa_relax_iterations`` > 0) and score one structure.

    xyz (N, 3) nm of ``topology``; ``keep``: the interface-trim residues (None: those of
    ``settings.mmgbsa_trim_nm``, or the whole complex); ``free_atoms``: topology atoms left
    unrestrained in the relax (e.g. a rebuilt side chain). The relax runs in the trimmed
    MM/GBSA System of the primary GB model. Returns {"components": {gb_model: {component:
    kJ/mol}} at ε_in = 1 for the primary and extra GB models, "positions": xyz after the
    relax, "relax": record or None, "keep": trim residues, "atoms": scored atom count}."""
    from rankbind.energies.mmgbsa import ComplexModel, mmgbsa, trim_residues

    base = mmgbsa_settings(settings)
    if keep is None and settings.mmgbsa_trim_nm > 0:
        keep = trim_residues(topology, xyz[None], rec, lig, settings.mmgbsa_trim_nm)
    model = ComplexModel(topology, rec, lig, base, keep)
    x = np.array(xyz, dtype=float)
    relax = None
    if settings.mmgbsa_relax_iterations > 0:
        local = {int(a): k for k, a in enumerate(model.atoms)}
        free = [local[int(a)] for a in free_atoms if int(a) in local]
        x[model.atoms], relax = model.relax(
            x[model.atoms], settings.mmgbsa_relax_restraint_k,
            settings.mmgbsa_relax_iterations, free,
        )  # fmt: skip
    components = {}
    for gb in (settings.mmgbsa_gb_model, *settings.mmgbsa_extra_gb_models):
        gb_settings = base.replace(gb_model=gb)
        result = mmgbsa(topology, x[None], rec, lig, gb_settings, keep_residues=keep,
                        model=model if gb == base.gb_model else None, progress=False)  # fmt: skip
        components[gb] = {k: float(v.mean()) for k, v in result.delta.items()}
    return {"components": components, "positions": x, "relax": relax, "keep": keep,
            "atoms": int(len(model.atoms))}  # fmt: skip


def mmgbsa_single(path: Path, receptor: tuple, ligand: tuple, settings: AffinitySettings,
                  name: str) -> dict:  # fmt: skip
    topology, xyz, meta = prepared_complex(path, list(receptor + ligand), settings, name)
    rec, lig = sides(topology, receptor, ligand)
    scored = scored_components(topology, xyz, rec, lig, settings)
    primary = scored["components"][settings.mmgbsa_gb_model]
    return {
        "dg_kcal_per_mol": sum(primary.values()) / KJ_PER_KCAL,
        "components_kcal_per_mol": {k: v / KJ_PER_KCAL for k, v in primary.items()},
        "components_eps1_kJ_per_mol": scored["components"],
        "relax": scored["relax"],
        "n_atoms": int(topology.getNumAtoms()),
        "n_atoms_scored": scored["atoms"],
        "trimmed_residues": None if scored["keep"] is None else len(scored["keep"]),
        "missing_atoms_added": len(meta.get("missing_atoms_added", {})),
        "isolated_residues_removed": meta["isolated_residues_removed"],
        "protonation": {k: meta["protonation"].get(k) for k in ("method", "ph")},
        "score_kind": "MM/GBSA enthalpy-like score at eps_in = 1 (no solute entropy)",
    }


def run_case(case: DockingCase, settings: AffinitySettings) -> dict:
    """Every estimator of ``settings`` on one case; per-estimator value, time or error."""
    out: dict = {
        "case": case.name,
        "source": case.source,
        "category": case.category,
        "dg_exp_kcal_per_mol": case.dg_exp_kcal_per_mol,
        "kd_exp_nM": case.kd_exp_nM,
        "estimators": {},
    }
    with tempfile.TemporaryDirectory(prefix="rankbind-affinity-") as tmp:
        path = complex_pdb(case, Path(tmp) / f"{case.name}_complex.pdb")
        jobs = {
            "prodigy": lambda: prodigy_rankbind(path, case.receptor_chains, case.ligand_chains),
            "prodigy_prot": lambda: prodigy_prot(
                path, case.receptor_chains, case.ligand_chains, settings.prodigy_command
            ),
            "mmgbsa": lambda: mmgbsa_single(
                path, case.receptor_chains, case.ligand_chains, settings, case.name
            ),
        }
        for name in settings.estimators:
            cpu0 = time.process_time()
            try:
                value = jobs[name]()
            except Exception as exc:  # one estimator failing does not lose the others
                value = {"dg_kcal_per_mol": None, "error": f"{type(exc).__name__}: {exc}"}
            value["cpu_s"] = round(time.process_time() - cpu0, 2)
            out["estimators"][name] = value
    return out


def summarise(records: list[dict], settings: AffinitySettings) -> dict:
    """Correlations per estimator over cases with an experimental ΔG, and every named
    MM/GBSA variant (:mod:`rankbind.energies.variants`) with leave-one-complex-out
    calibration and the nested variant choice."""
    rows = [
        r["result"]
        for r in records
        if r["status"] == "ok" and r["result"].get("dg_exp_kcal_per_mol") is not None
    ]
    out = {}
    for name in settings.estimators:
        pairs = [
            (r["estimators"][name]["dg_kcal_per_mol"], r["dg_exp_kcal_per_mol"], r["case"])
            for r in rows
            if r["estimators"].get(name, {}).get("dg_kcal_per_mol") is not None
        ]
        if not pairs:
            out[name] = {"n": 0}
            continue
        pred, exp, cases = (np.array(v) for v in zip(*pairs, strict=True))
        calibrated = metrics.cross_validated_calibration(pred, exp, cases)
        ok = np.isfinite(calibrated)
        out[name] = {
            "raw": metrics.correlations(pred, exp, settings.n_bootstrap, settings.seed),
            "loco_calibrated": metrics.correlations(
                calibrated[ok], exp[ok], settings.n_bootstrap, settings.seed, ("rmse",)
            ),
            "fit_all": dict(zip(("slope", "intercept"), metrics.linear_fit(pred, exp), strict=True))
            if len(pred) > 1
            else None,
            "cases": cases.tolist(),
            "predicted": pred.tolist(),
            "experimental": exp.tolist(),
        }
    summary = {"estimators": out}
    with_components = [
        r for r in rows if r["estimators"].get("mmgbsa", {}).get("components_eps1_kJ_per_mol")
    ]
    if len(with_components) >= 3:
        from rankbind.energies import variants

        gbs = (settings.mmgbsa_gb_model, *settings.mmgbsa_extra_gb_models)
        names = variants.exact_variants(gbs, settings.mmgbsa_salt_molar)
        comps = [r["estimators"]["mmgbsa"]["components_eps1_kJ_per_mol"] for r in with_components]
        scores = variants.variant_scores(comps, [None] * len(comps), names)
        mmgbsa_names = list(scores)
        for peer in ("prodigy", "prodigy_prot"):  # the peers on the same cases
            if all(r["estimators"].get(peer, {}).get("dg_kcal_per_mol") is not None
                   for r in with_components):  # fmt: skip
                scores[peer] = np.array(
                    [r["estimators"][peer]["dg_kcal_per_mol"] for r in with_components]
                )
        section = variants.evaluate_variants(
            scores,
            [r["dg_exp_kcal_per_mol"] for r in with_components],
            [r["case"] for r in with_components],
            None,
            settings.n_bootstrap,
            settings.seed,
            select_from=mmgbsa_names,
        )
        section["cases"] = [r["case"] for r in with_components]
        summary["variants"] = section
        summary["headline"] = variants.headline(section, settings.variant)
        summary["headline_markdown"] = variants.headline_table(
            section, settings.variant, HEADLINE.format(settings.variant), None
        )
        summary["variants_markdown"] = variants.markdown_table(
            section, "MM/GBSA variants (ε_in = 1 components rescaled) and peers, same cases", None
        )
    return summary
