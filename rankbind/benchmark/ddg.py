"""ΔΔG benchmark: predicted binding-energy changes of mutations against AB-Bind.

Estimator ``alanine``: :func:`rankbind.energies.alanine.alanine_scan` (single-structure
MM/GBSA, side chains truncated at Cβ, every mutated residue of a variant truncated
together) on the AB-Bind complex prepared once per structure by
:func:`rankbind.benchmark.affinity.prepared_complex` (amber14, GBn2, hydrogens at pH 7, no
minimisation). Only variants whose every substitution is to alanine are computed; other
substitutions are reported as not supported: :func:`rankbind.modelling.mutations.mutate`
refuses chains with insertion codes (most antibody chains here) and rebuilds by threading
plus minimisation, which does not fit this machine for 500 variants (see the report).
GLY/PRO wild types cannot be truncated and are recorded as errors.

Tasks: one per variant (resumable); the prepared structure and the wild-type ΔG of each
complex are cached under ``<out>/prepared/``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rankbind.benchmark import metrics
from rankbind.benchmark.affinity import KJ_PER_KCAL, AffinitySettings, mmgbsa_settings, sides
from rankbind.benchmark.datasets import Variant, icode_matches, read_atoms
from rankbind.errors import RankbindError
from rankbind.fileio import write_json, write_text
from rankbind.structures.sequences import THREE_TO_ONE

PROTONATION_NAMES = {"HID": "HIS", "HIE": "HIS", "HIP": "HIS", "CYX": "CYS", "ASH": "ASP",
                     "GLH": "GLU", "LYN": "LYS"}  # fmt: skip
SUBSETS = ("single_alanine", "multiple_alanine", "all_alanine")


@dataclass(frozen=True)
class DDGSettings:
    """ΔΔG benchmark choices (recorded with every result)."""

    alanine_only: bool = True
    singles_only: bool = False
    include_homology_models: bool = True  # AB-Bind's HM_ files
    mmgbsa_gb_model: str = "GBn2"
    mmgbsa_salt_molar: float = 0.15
    mmgbsa_nonpolar: str = "sasa"
    mmgbsa_engine: str = "jax"  # "jax" or "openmm" (same energies; openmm needs no JIT)
    mmgbsa_platform: str = "Reference"  # OpenMM platform when mmgbsa_engine="openmm"
    mmgbsa_trim_nm: float = 0.0  # interface trim, shared by wild type and mutant; 0 = off
    forcefield: str = "amber14"
    ph: float = 7.0
    hotspot_kcal_per_mol: float = 1.0
    n_bootstrap: int = 2000
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def affinity_settings(self) -> AffinitySettings:
        return AffinitySettings(
            estimators=("mmgbsa",),
            mmgbsa_gb_model=self.mmgbsa_gb_model,
            mmgbsa_salt_molar=self.mmgbsa_salt_molar,
            mmgbsa_nonpolar=self.mmgbsa_nonpolar,
            mmgbsa_engine=self.mmgbsa_engine,
            mmgbsa_platform=self.mmgbsa_platform,
            mmgbsa_trim_nm=self.mmgbsa_trim_nm,
            forcefield=self.forcefield,
            ph=self.ph,
            seed=self.seed,
        )

    def as_dict(self) -> dict:
        return asdict(self)


def select(variants: list[Variant], settings: DDGSettings) -> list[Variant]:
    out = [
        v
        for v in variants
        if (v.is_alanine or not settings.alanine_only)
        and (v.is_single or not settings.singles_only)
        and (settings.include_homology_models or not v.complex.startswith("HM_"))
    ]
    # smallest structures first, so most complexes finish early
    sizes = {v.structure: v.structure.stat().st_size for v in out}
    return sorted(out, key=lambda v: (sizes[v.structure], v.complex, v.row))


def tasks(variants: list[Variant], settings: DDGSettings):
    from rankbind.benchmark.runner import Task

    return [Task(f"{v.complex}__row{v.row}", v) for v in select(variants, settings)]


def _prepared(variant: Variant, settings: DDGSettings, cache: Path):
    """(topology, positions nm, wild-type ΔG record) of the variant's complex, cached."""
    from openmm import app, unit

    from rankbind.benchmark.affinity import prepared_complex
    from rankbind.energies.mmgbsa import mmgbsa

    chains = variant.partner_a + variant.partner_b
    stem = f"{variant.complex}_{''.join(variant.partner_a)}_{''.join(variant.partner_b)}"
    pdb = cache / f"{stem}_prepared.pdb"
    from rankbind.benchmark.docking import plain
    from rankbind.benchmark.runner import settings_hash
    from rankbind.energies.mmgbsa import MMGBSASettings

    physics = settings_hash(plain(mmgbsa_settings(settings.affinity_settings())),
                            plain(MMGBSASettings()))  # fmt: skip
    wt_file = cache / f"{stem}_wild_type_{physics}.json"
    if pdb.is_file():
        structure = app.PDBFile(str(pdb))
        topology = structure.topology
        xyz = np.array(structure.positions.value_in_unit(unit.nanometer))
        if not wt_file.is_file():
            rec, lig = sides(topology, variant.partner_a, variant.partner_b)
            wt = mmgbsa(
                topology,
                xyz[None],
                rec,
                lig,
                mmgbsa_settings(settings.affinity_settings()),
                progress=False,
            )
            write_json(wt_file, {"dg_kcal_per_mol": wt.binding.mean / KJ_PER_KCAL,
                                 "n_atoms": topology.getNumAtoms()})  # fmt: skip
        return topology, xyz, json.loads(wt_file.read_text())
    atoms = [a for a in read_atoms(variant.structure) if a.chain in chains]
    missing = set(chains) - {a.chain for a in atoms}
    if missing:
        raise RankbindError(f"{variant.structure}: partner chains {sorted(missing)} not found")
    from rankbind.structures.pdbfile import format_atom

    clean = cache / f"{stem}_input.pdb"
    write_text(clean, "\n".join(format_atom(a, k) for k, a in enumerate(atoms, 1)) + "\nEND\n")
    topology, xyz, meta = prepared_complex(clean, list(chains), settings.affinity_settings(),
                                           stem)  # fmt: skip
    rec, lig = sides(topology, variant.partner_a, variant.partner_b)
    wt = mmgbsa(topology, xyz[None], rec, lig, mmgbsa_settings(settings.affinity_settings()),
                progress=False)  # fmt: skip
    record = {"dg_kcal_per_mol": wt.binding.mean / KJ_PER_KCAL, "n_atoms": topology.getNumAtoms()}
    import io

    buf = io.StringIO()
    app.PDBFile.writeFile(topology, xyz * unit.nanometer, buf, keepIds=True)
    write_text(pdb, buf.getvalue())
    write_json(wt_file, record)
    return topology, xyz, record


def residue_index(topology, mutation) -> int:
    """Topology residue index of a mutation (chain, number, insertion code), checking the
    wild-type amino acid."""
    for res in topology.residues():
        if (
            res.chain.id == mutation.chain
            and res.id.strip() == str(mutation.number)
            and icode_matches(res.insertionCode or "", mutation.icode)
        ):
            name = PROTONATION_NAMES.get(res.name, res.name)
            if THREE_TO_ONE.get(name, "?") != mutation.wild_type:
                raise RankbindError(
                    f"mutation {mutation}: residue {res.chain.id}:{res.name}{res.id}"
                    f"{res.insertionCode or ''} is not {mutation.wild_type}"
                )
            return res.index
    raise RankbindError(f"mutation {mutation}: residue not found in the structure")


def run_case(variant: Variant, settings: DDGSettings, cache_dir: str | Path) -> dict:
    """ΔΔG (kcal/mol) of one variant by alanine scanning."""
    from rankbind.energies.alanine import truncate_to_alanine
    from rankbind.energies.mmgbsa import mmgbsa, trim_residues

    out = {
        "complex": variant.complex,
        "mutations": variant.label,
        "n_mutations": len(variant.mutations),
        "ddg_exp_kcal_per_mol": variant.ddg_exp_kcal_per_mol,
        "homology_model": variant.complex.startswith("HM_"),
        "estimators": {},
    }
    if not variant.is_alanine:
        out["estimators"]["alanine"] = {"ddg_kcal_per_mol": None,
                                        "error": "not an alanine variant (not supported)"}  # fmt: skip
        return out
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    topology, xyz, wt = _prepared(variant, settings, cache)
    group = [residue_index(topology, m) for m in variant.mutations]
    rec, lig = sides(topology, variant.partner_a, variant.partner_b)
    # alanine_scan's computation for one frame, with the cached wild-type ΔG; a trimmed
    # mutant keeps the wild type's residues (the wild type's own trim), as alanine_scan does
    keep = None
    if settings.mmgbsa_trim_nm > 0:
        keep = trim_residues(topology, xyz[None], rec, lig, settings.mmgbsa_trim_nm)
        if not set(group) <= set(keep):
            out["estimators"]["alanine"] = {
                "ddg_kcal_per_mol": 0.0,
                "dg_wild_type_kcal_per_mol": wt["dg_kcal_per_mol"],
                "outside_trim": True,
                "method": f"mutated residue beyond the {settings.mmgbsa_trim_nm} nm interface "
                "trim: predicted 0 (no interface contribution)",
            }
            return out
    mutant = truncate_to_alanine(topology, xyz[None], group)
    result = mmgbsa(mutant.topology, mutant.positions, mutant.atoms_from(rec),
                    mutant.atoms_from(lig), mmgbsa_settings(settings.affinity_settings()),
                    keep_residues=keep, progress=False)  # fmt: skip
    ddg = result.binding.mean / KJ_PER_KCAL - wt["dg_kcal_per_mol"]
    out["estimators"]["alanine"] = {
        "outside_trim": False,
        "ddg_kcal_per_mol": ddg,
        "dg_wild_type_kcal_per_mol": wt["dg_kcal_per_mol"],
        "residues": mutant.label,
        "method": "Cβ truncation (rankbind.energies.alanine.truncate_to_alanine) + "
        "single-structure MM/GBSA; ΔΔG = ΔG(mutant) - ΔG(wild type)",
    }
    return out


def summarise(records: list[dict], settings: DDGSettings) -> dict:
    rows = [r["result"] for r in records if r["status"] == "ok"]
    est: dict = {"alanine": {}}
    subsets = {
        "single_alanine": lambda r: r["n_mutations"] == 1,
        "multiple_alanine": lambda r: r["n_mutations"] > 1,
        "all_alanine": lambda r: True,
        "crystal_structures_only": lambda r: not r["homology_model"],
    }
    for subset, keep in subsets.items():
        pairs = [
            (
                r["estimators"]["alanine"]["ddg_kcal_per_mol"],
                r["ddg_exp_kcal_per_mol"],
                r["complex"],
            )  # fmt: skip
            for r in rows
            if keep(r) and r["estimators"].get("alanine", {}).get("ddg_kcal_per_mol") is not None
        ]
        if len(pairs) < 3:
            est["alanine"][subset] = {"n": len(pairs)}
            continue
        pred, exp, groups = (np.array(v) for v in zip(*pairs, strict=True))
        calibrated = metrics.cross_validated_calibration(pred, exp, groups)
        ok = np.isfinite(calibrated)
        est["alanine"][subset] = {
            "raw": metrics.correlations(
                pred,
                exp,
                settings.n_bootstrap,
                settings.seed,
                ("pearson", "spearman", "kendall", "rmse"),
            ),  # fmt: skip
            "loco_calibrated": metrics.correlations(
                calibrated[ok], exp[ok], settings.n_bootstrap, settings.seed, ("rmse",)
            ),
            "hotspots": metrics.hotspot_classification(pred, exp, settings.hotspot_kcal_per_mol),
            "hotspots_loco_calibrated": metrics.hotspot_classification(
                calibrated[ok], exp[ok], settings.hotspot_kcal_per_mol
            ),
            "n_complexes": len(set(groups.tolist())),
            "complexes": groups.tolist(),
            "predicted": pred.tolist(),
            "experimental": exp.tolist(),
        }
    return {"estimators": est}
