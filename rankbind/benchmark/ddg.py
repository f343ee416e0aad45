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
from pathlib import Path

import numpy as np

from rankbind.benchmark import metrics
from rankbind.benchmark.affinity import KJ_PER_KCAL, mmgbsa_settings, sides
from rankbind.benchmark.datasets import Variant, icode_matches, read_atoms
from rankbind.errors import RankbindError
from rankbind.fileio import write_json, write_text
from rankbind.settings import DDGSettings
from rankbind.structures.sequences import ONE_TO_THREE, THREE_TO_ONE, standard_name

SUBSETS = ("single_alanine", "multiple_alanine", "all_alanine")


def select(variants: list[Variant], settings: DDGSettings) -> list[Variant]:
    out = [
        v
        for v in variants
        if (v.is_alanine or not settings.alanine_only)
        and (v.is_single or not settings.singles_only)
        and (settings.include_homology_models or not v.complex.startswith("HM_"))
    ]
    # alanine variants first (the primary set), then smallest structures first, so most
    # complexes finish early
    sizes = {v.structure: v.structure.stat().st_size for v in out}
    return sorted(out, key=lambda v: (not v.is_alanine, sizes[v.structure], v.complex, v.row))


def tasks(variants: list[Variant], settings: DDGSettings):
    from rankbind.benchmark.runner import Task

    return [Task(f"{v.complex}__row{v.row}", v) for v in select(variants, settings)]


_WILD_TYPES: dict[str, tuple] = {}  # in-process cache: one wild type per complex and physics


def _prepared(variant: Variant, settings: DDGSettings, cache: Path):
    """(topology, positions nm (N, 3) after the wild type's relax, wild-type record with
    its ε_in = 1 components and trim residues, prepared positions (N, 3) before the relax)
    of the variant's complex, cached on disk (prepared PDB per protonation; relaxed
    positions and record per physics hash)."""
    from openmm import app, unit

    from rankbind.benchmark.affinity import prepared_complex, scored_components
    from rankbind.benchmark.runner import settings_hash
    from rankbind.structures.pdbfile import format_atom

    aff = settings.affinity_settings()
    chains = variant.partner_a + variant.partner_b
    stem = f"{variant.complex}_{''.join(variant.partner_a)}_{''.join(variant.partner_b)}"
    physics = settings_hash(mmgbsa_settings(aff).model_dump(mode="json") | {
        k: v for k, v in settings.as_dict().items()
        if k.startswith(("mmgbsa_relax", "mmgbsa_extra", "protonation"))
    }, {})  # fmt: skip
    key = f"{stem}_{physics}"
    if key in _WILD_TYPES:
        return _WILD_TYPES[key]
    pdb = cache / f"{stem}_{settings.protonation}_prepared.pdb"
    wt_file = cache / f"{key}_wild_type.json"
    xyz_file = cache / f"{key}_wild_type_positions.npy"
    if pdb.is_file():
        structure = app.PDBFile(str(pdb))
        topology = structure.topology
        xyz = np.array(structure.positions.value_in_unit(unit.nanometer))
    else:
        atoms = [a for a in read_atoms(variant.structure) if a.chain in chains]
        missing = set(chains) - {a.chain for a in atoms}
        if missing:
            raise RankbindError(f"{variant.structure}: partner chains {sorted(missing)} not found")
        clean = cache / f"{stem}_input.pdb"
        text = "\n".join(format_atom(a, k) for k, a in enumerate(atoms, 1)) + "\nEND\n"
        write_text(clean, text)
        topology, xyz, _ = prepared_complex(clean, list(chains), aff, stem)
        import io

        buf = io.StringIO()
        app.PDBFile.writeFile(topology, xyz * unit.nanometer, buf, keepIds=True)
        write_text(pdb, buf.getvalue())
        # reread, so a fresh and a cached preparation give identical (PDB-rounded) inputs
        structure = app.PDBFile(str(pdb))
        topology = structure.topology
        xyz = np.array(structure.positions.value_in_unit(unit.nanometer))
    start = xyz
    if wt_file.is_file() and xyz_file.is_file():
        record = json.loads(wt_file.read_text())
        xyz = np.load(xyz_file)
    else:
        rec, lig = sides(topology, variant.partner_a, variant.partner_b)
        scored = scored_components(topology, xyz, rec, lig, aff)
        xyz = scored["positions"]
        primary = scored["components"][settings.mmgbsa_gb_model]
        record = {
            "dg_kcal_per_mol": sum(primary.values()) / KJ_PER_KCAL,
            "components_eps1_kJ_per_mol": scored["components"],
            "keep": scored["keep"],
            "relax": scored["relax"],
            "n_atoms": topology.getNumAtoms(),
            "n_atoms_scored": scored["atoms"],
        }
        from rankbind.fileio import atomic_open

        with atomic_open(xyz_file, "wb") as handle:
            np.save(handle, xyz)
        write_json(wt_file, record)
    _WILD_TYPES[key] = (topology, xyz, record, start)
    return _WILD_TYPES[key]


def residue_index(topology, mutation) -> int:
    """Topology residue index of a mutation (chain, number, insertion code), checking the
    wild-type amino acid."""
    for res in topology.residues():
        if (
            res.chain.id == mutation.chain
            and res.id.strip() == str(mutation.number)
            and icode_matches(res.insertionCode or "", mutation.icode)
        ):
            name = standard_name(res.name)
            if THREE_TO_ONE.get(name, "?") != mutation.wild_type:
                raise RankbindError(
                    f"mutation {mutation}: residue {res.chain.id}:{res.name}{res.id}"
                    f"{res.insertionCode or ''} is not {mutation.wild_type}"
                )
            return res.index
    raise RankbindError(f"mutation {mutation}: residue not found in the structure")


def run_case(variant: Variant, settings: DDGSettings, cache_dir: str | Path) -> dict:
    """ΔΔG (kcal/mol) of one variant: ΔG(mutant) − ΔG(wild type), each relaxed and scored
    in the wild type's interface trim (:func:`rankbind.benchmark.affinity.scored_components`);
    the mutant is built from ``settings.mutant_start`` (default: the prepared wild type, the
    start of the wild type's own relax).
    Substitutions to ALA of truncatable residues: Cβ truncation; others (incl. GLY/PRO to
    ALA): side chains rebuilt by :func:`rankbind.modelling.mutations.substitute`."""
    from rankbind.benchmark.affinity import scored_components
    from rankbind.energies.alanine import Mutant, truncatable, truncate_to_alanine
    from rankbind.modelling.mutations import substitute

    out = {
        "complex": variant.complex,
        "mutations": variant.label,
        "n_mutations": len(variant.mutations),
        "ddg_exp_kcal_per_mol": variant.ddg_exp_kcal_per_mol,
        "homology_model": variant.complex.startswith("HM_"),
        "alanine": variant.is_alanine,
        "estimators": {},
    }
    if variant.unparsed:
        out["estimators"]["mmgbsa"] = {"ddg_kcal_per_mol": None,
                                       "error": f"unparsed mutation {variant.unparsed!r}"}  # fmt: skip
        return out
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    topology, relaxed, wt, start = _prepared(variant, settings, cache)
    # the mutant's starting structure: the prepared wild type, so that wild type and mutant
    # get the same relax from the same start (settings.mutant_start)
    xyz = start if settings.mutant_start == "prepared" else relaxed
    group = [residue_index(topology, m) for m in variant.mutations]
    residues = list(topology.residues())
    wt_names = [standard_name(residues[r].name) for r in group]
    rec, lig = sides(topology, variant.partner_a, variant.partner_b)
    keep = wt["keep"]
    entry: dict = {"wt_residues": wt_names, "dg_wild_type_kcal_per_mol": wt["dg_kcal_per_mol"]}
    if keep is not None and not set(group) <= set(keep):
        zero = {gb: dict.fromkeys(c, 0.0) for gb, c in wt["components_eps1_kJ_per_mol"].items()}
        out["estimators"]["mmgbsa"] = entry | {
            "ddg_kcal_per_mol": 0.0,
            "components_eps1_kJ_per_mol": zero,
            "outside_trim": True,
            "method": f"mutated residue beyond the {settings.mmgbsa_trim_nm} nm interface "
            "trim: predicted 0 (no interface contribution)",
        }
        return out
    if variant.is_alanine and all(truncatable(topology, r) is None for r in group):
        mutant = truncate_to_alanine(topology, xyz[None], group)
        free: list[int] = []
        method = "Cβ truncation (rankbind.energies.alanine.truncate_to_alanine)"
    else:
        new = dict(zip(group, [ONE_TO_THREE[m.new] for m in variant.mutations], strict=True))
        top, x, parent, free = substitute(topology, xyz, new, seed=settings.seed)
        mutant = Mutant(top, x[None], parent, variant.label)
        method = "side chain rebuilt (rankbind.modelling.mutations.substitute), free in the relax"
    mrec, mlig = mutant.atoms_from(rec), mutant.atoms_from(lig)
    scored = scored_components(mutant.topology, mutant.positions[0], mrec, mlig,
                               settings.affinity_settings(), keep, free)  # fmt: skip
    ddg = {
        gb: {k: v - wt["components_eps1_kJ_per_mol"][gb][k] for k, v in comps.items()}
        for gb, comps in scored["components"].items()
    }
    out["estimators"]["mmgbsa"] = entry | {
        "outside_trim": False,
        "ddg_kcal_per_mol": sum(ddg[settings.mmgbsa_gb_model].values()) / KJ_PER_KCAL,
        "components_eps1_kJ_per_mol": ddg,
        "residues": mutant.label,
        "relax": scored["relax"],
        "method": method + "; single-structure MM/GBSA at eps_in = 1, "
        "ΔΔG = ΔG(mutant) - ΔG(wild type)",
    }
    return out


SUBSETS = {
    "single_alanine": lambda r: r["n_mutations"] == 1 and r["alanine"],
    "multiple_alanine": lambda r: r["n_mutations"] > 1 and r["alanine"],
    "single_other": lambda r: r["n_mutations"] == 1 and not r["alanine"],
    "all_single": lambda r: r["n_mutations"] == 1,
    "crystal_single": lambda r: r["n_mutations"] == 1 and not r["homology_model"],
}
VARIANT_SUBSETS = ("single_alanine", "single_other", "all_single")
HEADLINE = "ΔΔG of MM/GBSA variant {}, fixed before evaluation, and the nested-CV choice: {}"


def _group(complex_name: str) -> str:
    """Cross-validation group: AB-Bind's homology models (HM_) belong to their crystal."""
    return complex_name.removeprefix("HM_")


def summarise(records: list[dict], settings: DDGSettings) -> dict:
    """Direct estimator figures per subset, and every named MM/GBSA variant with
    leave-one-complex-out calibration, hot spots and the nested variant choice."""
    rows = [
        r["result"]
        for r in records
        if r["status"] == "ok"
        and r["result"]["estimators"].get("mmgbsa", {}).get("ddg_kcal_per_mol") is not None
    ]
    est: dict = {"mmgbsa": {}}
    thr = settings.hotspot_kcal_per_mol
    for subset, keep in SUBSETS.items():
        sub = [r for r in rows if keep(r)]
        if len(sub) < 3:
            est["mmgbsa"][subset] = {"n": len(sub)}
            continue
        pred = np.array([r["estimators"]["mmgbsa"]["ddg_kcal_per_mol"] for r in sub])
        exp = np.array([r["ddg_exp_kcal_per_mol"] for r in sub])
        groups = np.array([_group(r["complex"]) for r in sub])
        calibrated = metrics.cross_validated_calibration(pred, exp, groups)
        ok = np.isfinite(calibrated)
        est["mmgbsa"][subset] = {
            "raw": metrics.correlations(pred, exp, settings.n_bootstrap, settings.seed),
            "loco_calibrated": metrics.correlations(
                calibrated[ok], exp[ok], settings.n_bootstrap, settings.seed, ("rmse",)
            ),
            "hotspots": metrics.hotspot_classification(pred, exp, thr),
            "hotspots_loco_calibrated": metrics.hotspot_classification(
                calibrated[ok], exp[ok], thr
            ),
            "n_complexes": len(set(groups.tolist())),
            "n_outside_trim_predicted_zero": sum(
                bool(r["estimators"]["mmgbsa"].get("outside_trim")) for r in sub
            ),
            "complexes": [r["complex"] for r in sub],
            "mutations": [r["mutations"] for r in sub],
            "predicted": pred.tolist(),
            "experimental": exp.tolist(),
        }
    summary: dict = {"estimators": est, "variants": {}}
    from rankbind.energies import variants

    gbs = (settings.mmgbsa_gb_model, *settings.mmgbsa_extra_gb_models)
    names = variants.exact_variants(gbs, settings.mmgbsa_salt_molar)
    lines: list[str] = []
    headline: list[str] = []
    summary["headline"] = {}
    for subset in VARIANT_SUBSETS:
        sub = [r for r in rows if SUBSETS[subset](r)
               and r["estimators"]["mmgbsa"].get("components_eps1_kJ_per_mol")]  # fmt: skip
        if len({_group(r["complex"]) for r in sub}) < 3:
            continue
        comps = [r["estimators"]["mmgbsa"]["components_eps1_kJ_per_mol"] for r in sub]
        # residue-type ε_in by the (first) mutated wild-type residue
        res = [r["estimators"]["mmgbsa"]["wt_residues"][0] for r in sub]
        scores = variants.variant_scores(comps, res, names)
        section = variants.evaluate_variants(
            scores,
            [r["ddg_exp_kcal_per_mol"] for r in sub],
            [_group(r["complex"]) for r in sub],
            thr,
            settings.n_bootstrap,
            settings.seed,
        )
        summary["variants"][subset] = section
        summary["headline"][subset] = variants.headline(section, settings.variant)
        headline += variants.headline_table(
            section, settings.variant, HEADLINE.format(settings.variant, subset), thr
        )
        lines += variants.markdown_table(section, f"MM/GBSA variants: {subset}", thr)
    summary["variants_markdown"] = lines
    summary["headline_markdown"] = headline
    return summary
