"""The committed modelling results as report sections (``*.report.json``).

The modelling helpers compute and commit, in ``structures/models/species_complexes/``,
the same-species footprint comparison (``footprints_same_species.json``), the denosumab
epitope relations (``denosumab_epitope_relations.json``), the isoform constructs
(``isoform_constructs.json``) and the threading validation
(``validation_human_rankl_on_4GIQ.json``). :func:`write_report_sections` turns each into
the section format :mod:`rankbind.report` renders (``section``, ``title``, ``label``,
``provenance``, ``tables`` of ``caption``/``header``/``rows``, ``notes``, ``figures``),
written beside its JSON. The denosumab section also shows the docking repeated over
rotation seeds (:data:`DOCKING_SEEDS`, written by ``gpu_bench/denosumab_docking.py``)
with its seed-to-seed uncertainties, when that summary is committed. It only reads the JSON (no recomputation); the writers
(:func:`rankbind.analysis.receptor_comparison.write_comparisons`) call it after writing.

The same-species energetics (``gpu_bench/results/rankl_axis/rankl_axis.json``, written by
``gpu_bench/rankl_axis.py``) become ``same_species_energies.report.json`` in the same
folder, with its per-residue figure (:func:`write_energy_section`).
"""

from __future__ import annotations

import json
from pathlib import Path

LABEL = "computed (committed model, see provenance)"
SOURCES = {
    "same-species": "footprints_same_species.json",
    "denosumab-epitope": "denosumab_epitope_relations.json",
    "isoforms": "isoform_constructs.json",
    "threading-validation": "validation_human_rankl_on_4GIQ.json",
}


DOCKING_SEEDS = "gpu_bench/results/denosumab_docking_seeds/summary.json"
TARGET_NAMES = {
    "human": "human RANKL (3URF crystal)",
    "mouse": "mouse RANKL (4GIQ crystal)",
    "human_on_mouse": "human RANKL threaded on 4GIQ (MODEL)",
}
DESCRIPTOR_NAMES = {
    "fraction_epitope_buried": "T233-Y241 buried (fraction of 9)",
    "overlap_opg_footprint": "contacts in OPG footprint (fraction)",
    "overlap_rank_footprint": "contacts in RANK footprint (fraction)",
    "grooves_excluded_opg": "grooves closed to OPG (of 3)",
    "grooves_excluded_rank": "grooves closed to RANK (of 3)",
    "score": "rank-1 docking score",
}
SPECIES_STATEMENT = (
    "What the docking can and cannot tell about species specificity: the restraint requires "
    "the Fv on T233-Y241 (or its mouse equivalent), so every run finds a pose there on both "
    "species; the docking therefore cannot say whether denosumab binds mouse RANKL, and its "
    "scores are not binding free energies (different receptors: scores are not comparable "
    "as affinities). It can say whether the restrained binding mode fits both surfaces, and "
    "which residues contribute differently in the docked poses beyond the seed-to-seed "
    "uncertainty. Human-threaded-on-mouse against the mouse crystal isolates the sequence "
    "(same backbone); human crystal against the threaded model isolates the backbone."
)


def _pm(s: dict, digits: int = 2) -> str:
    """mean ± s.e. [95 % CI] of :func:`rankbind.modelling.antibody_docking.seed_statistics`."""
    if s.get("se") is None:
        return f"{s['mean']:.{digits}f} (one seed)"
    lo, hi = s["ci95"]
    return f"{s['mean']:.{digits}f} ± {s['se']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _delta(d: dict, digits: int = 2) -> str:
    if d.get("se") is None:
        return f"{d['difference']:+.{digits}f} (one seed)"
    return f"{d['difference']:+.{digits}f} ± {d['se']:.{digits}f}"


def docking_seed_tables(summary: dict) -> tuple[list[dict], list[str]]:
    """Tables and notes of the docking-over-seeds summary (``summary.json`` of
    gpu_bench/denosumab_docking.py): per target the rank-1 descriptors and the most
    reproducible cross-seed clusters, per target pair the descriptor differences and the
    per-residue MJ differences resolved by
    :func:`rankbind.modelling.antibody_docking.difference_statistics`."""
    agg, st = summary["aggregate"], summary["settings"]
    setting = (
        f"grid {st['spacing']} Å, {st['rotation_spacing_deg']}° rotations in a "
        f"{st['orientation_cone_deg']}° cone, restraint_weight {st['restraint_weight']}, "
        f"restraint required (≥ {st['restraint_min_atoms']} atoms)"
    )
    names = [d for d in DESCRIPTOR_NAMES if d != "score"]
    rows = []
    for target, b in agg["targets"].items():
        top = max(b["clusters"], key=lambda c: (c["n_seeds_rank1"], c["n_seeds"]))
        rows.append(
            [TARGET_NAMES.get(target, target), len(b["seeds"])]
            + [_pm(b["rank1"][d]) for d in names if d in b["rank1"]]
            + [f"{top['n_seeds_rank1']} of {len(b['seeds'])}"]
        )
    tables = [
        {
            "caption": "Docked denosumab Fv (MODEL), rank-1 pose over rotation seeds: mean ± "
            f"s.e. [95 % bootstrap CI] (computed; {setting})",
            "header": ["target", "seeds"]
            + [DESCRIPTOR_NAMES[d] for d in names]
            + ["seeds whose rank 1 is the modal cluster"],
            "rows": rows,
        },
        {
            "caption": "Cross-seed clusters (top-5 poses of every seed pooled, ligand Cα RMSD "
            f"≤ {st['cluster_rmsd']} Å; computed, MODEL): the three found by most seeds",
            "header": ["target", "seeds finding it", "seeds with it at rank 1", "best score"]
            + [DESCRIPTOR_NAMES[d] for d in names[:3]],
            "rows": [
                [TARGET_NAMES.get(t, t), c["n_seeds"], c["n_seeds_rank1"], c["best"]["score"]]
                + [_pm(c[d]) for d in names[:3]]
                for t, b in agg["targets"].items()
                for c in sorted(b["clusters"], key=lambda c: -c["n_seeds"])[:3]
            ],
        },
    ]
    diff_rows, notes = [], []
    for pair, d in agg["differences"].items():
        a, b = pair.split("_minus_")
        for k, v in d["rank1"].items():
            diff_rows.append([f"{a} − {b}", DESCRIPTOR_NAMES.get(k, k), _delta(v),
                              "yes" if v["resolved"] else "no"])  # fmt: skip
        res = {n: v for n, v in d["mj_rt_rank1_by_residue"].items() if v["resolved"]}
        notes.append(
            f"Per-residue MJ contact energy of the rank-1 pose, {a} − {b} (RT, human "
            f"numbering; computed, MODEL): {len(res)} of {len(d['mj_rt_rank1_by_residue'])} "
            "residues resolved: "
            + (", ".join(f"{n} {_delta(v)}" for n, v in res.items()) or "none")
            + f" (at the 5 % level about {0.05 * len(d['mj_rt_rank1_by_residue']):.0f} would "
            "pass by chance)"
        )
    tables.append(
        {
            "caption": "Target against target, rank-1 descriptors: difference of means ± s.e. "
            "over seeds; resolved when both have ≥ 5 seeds and |Δ| > t(0.975, n − 1) s.e. "
            "(computed, MODEL)",
            "header": ["pair", "descriptor", "Δ ± s.e.", "resolved"],
            "rows": diff_rows,
        }
    )
    notes += [
        f"Docking over seeds: {summary['statistics']}; {summary['cpu_s_docking']:.0f} CPU s "
        f"of docking ({summary['date_utc']}, {summary['machine']}).",
        summary["exclusion_note"],
        SPECIES_STATEMENT,
    ]
    return tables, notes


def _provenance(name: str, writer: str) -> str:
    return (
        f"structures/models/species_complexes/{name}, committed; written by {writer} "
        "(not recomputed by this run)"
    )


def _residues(values) -> str:
    return ", ".join(str(v) for v in values) or "none"


def same_species(data: dict) -> dict:
    tables = []
    notes = []
    for species in ("human", "mouse"):
        block = data[species]
        structures = [
            [receptor, s["label"], s["kind"], len(s["footprint"]), s["buried_sasa_total_angstrom2"]]
            for receptor, items in block["structures"].items()
            for s in items
        ]
        tables.append(
            {
                "caption": f"{species} RANKL: structures compared (footprint at "
                f"{data['main_cutoff_nm']} nm)",
                "header": [
                    "receptor",
                    "structure",
                    "kind",
                    "footprint residues",
                    "buried SASA (Å²)",
                ],
                "rows": structures,
            }
        )
        tables.append(
            {
                "caption": f"{species} RANKL: OPG versus RANK footprint, residue by residue "
                "(yes/no at every cutoff and in every structure; marginal otherwise)",
                "header": [
                    "RANKL residue",
                    "human no.",
                    "OPG",
                    "RANK",
                    "status",
                    "buried OPG (Å²)",
                    "buried RANK (Å²)",
                ],
                "rows": [
                    [
                        r["rankl_residue"],
                        r["human_number"],
                        r["OPG"],
                        r["RANK"],
                        r["status"],
                        r["buried_sasa_opg_angstrom2"],
                        r["buried_sasa_rank_angstrom2"],
                    ]
                    for r in block["residues"]
                ],
            }
        )
        notes.append(
            f"{species}: OPG {block['n_opg']} and RANK {block['n_rank']} footprint residues, "
            f"Jaccard {block['jaccard_opg_vs_rank']}; resolved shared "
            f"{len(block['resolved_shared'])}, OPG-only {_residues(block['resolved_opg_only'])}, "
            f"RANK-only {_residues(block['resolved_rank_only'])}; "
            f"{len(block['unresolved'])} residues not resolvable by this method."
        )
    for key in ("noise_floor", "model_template_spread"):
        spread = data.get(key)
        if spread:
            only = [f"{k}: {_residues(v)}" for k, v in spread.items() if k.startswith("only")]
            notes.append(
                f"{key.replace('_', ' ')} ({spread['pair']}): Jaccard {spread['jaccard']}; "
                + "; ".join(only)
            )
    return {
        "section": "same-species",
        "title": "Same-species footprints: OPG versus RANK on human and on mouse RANKL",
        "label": LABEL,
        "provenance": _provenance(
            SOURCES["same-species"],
            "rankbind.analysis.receptor_comparison.write_comparisons "
            "(human RANK and mouse OPG are threaded MODELS)",
        ),
        "tables": tables,
        "notes": notes,
        "figures": [],
    }


def denosumab_epitope(data: dict, docking: dict | None = None) -> dict:
    """The Fab-complex epitope relations (``data``) and, when given, the docking over
    rotation seeds (``docking``: :data:`DOCKING_SEEDS`)."""
    rows = []
    for r in data["receptors"]:
        excluded = ["+".join(g["protomers"]) for g in r["grooves"] if g["excluded"]]
        rows.append(
            [
                r["receptor"],
                _residues(r["epitope"]),
                "+".join(r["epitope_protomers"]),
                f"{r['n_grooves_excluded']} of {len(r['grooves'])}",
                _residues(excluded),
                r["superposition"]["ca_rmsd_angstrom"],
            ]
        )
    species = data.get("species") or {}
    tables = [
        {
            "caption": "One bound denosumab Fab against each receptor: grooves it excludes",
            "header": [
                "receptor",
                "Fab epitope (RANKL)",
                "epitope protomers",
                "grooves excluded",
                "excluded groove",
                "superposition Cα RMSD (Å)",
            ],
            "rows": rows,
        }
    ]
    for key, caption in (
        ("docked_epitope_human_vs_mouse", "Docked Fab epitope, human vs mouse RANKL"),
        (
            "literature_epitope_233_241_human_vs_mouse",
            f"Cited epitope 233-241 ({species.get('literature_epitope_source', '?')}), "
            "human vs mouse RANKL",
        ),
    ):
        if species.get(key):
            tables.append(
                {
                    "caption": caption,
                    "header": ["human", "mouse", "identical"],
                    "rows": [
                        [r["human"], r["mouse"], "yes" if r["identical"] else "no"]
                        for r in species[key]
                    ],
                }
            )
    notes = [data.get("label", "")]
    notes += sorted({r["criterion"] for r in data["receptors"]})
    if species.get("binding"):
        notes.append(f"Species (cited): {species['binding']}")
    provenance = _provenance(
        SOURCES["denosumab-epitope"],
        "rankbind.analysis.receptor_comparison.write_comparisons from the docked Fab "
        f"complex {data.get('fab_complex', '?')}",
    )
    if docking:
        more, more_notes = docking_seed_tables(docking)
        tables += more
        notes += more_notes
        provenance += f"; docking over rotation seeds: {DOCKING_SEEDS}, committed; written by "
        provenance += "gpu_bench/denosumab_docking.py (not recomputed by this run)"
    return {
        "section": "denosumab-epitope",
        "title": "Denosumab epitope against the OPG and RANK footprints",
        "label": LABEL,
        "provenance": provenance,
        "tables": tables,
        "notes": [n for n in notes if n],
        "figures": [],
    }


def isoforms(data: dict) -> dict:
    rows = []
    for name, iso in data["isoforms"].items():
        c = iso["construct"]
        rows.append(
            [
                name,
                iso["protein"],
                iso.get("uniprot", ""),
                _residues(f"{a}-{b}" for a, b in iso["retained"]),
                iso["length"],
                "yes" if iso["membrane_anchored"] else "no",
                iso.get("valency", "?"),
                iso["binding_sites_remaining"],
                f"{len(iso['binding_residues']) - len(iso['binding_residues_lost'])} of "
                f"{len(iso['binding_residues'])}",
                f"{c['entry']} {c['kind']} {c['first']}-{c['last']}",
                iso["confidence"],
            ]
        )
    notes = [data.get("label", "")]
    notes += [
        f"{name}: modelled part: {iso['modelled_part']}; binding residues from "
        f"{iso['binding_residues_from']}"
        for name, iso in data["isoforms"].items()
    ]
    return {
        "section": "isoforms",
        "title": "Isoforms as constructs: what each keeps",
        "label": LABEL,
        "provenance": _provenance(
            SOURCES["isoforms"], "rankbind.modelling.isoforms.isoform_effects"
        ),
        "tables": [
            {
                "caption": "Isoform constructs from UniProt sequence data (VSP features)",
                "header": [
                    "isoform",
                    "protein",
                    "UniProt",
                    "residues kept",
                    "length",
                    "membrane-anchored",
                    "valency",
                    "binding sites remaining",
                    "binding residues kept",
                    "construct",
                    "confidence",
                ],
                "rows": rows,
            }
        ],
        "notes": [n for n in notes if n],
        "figures": [],
    }


def threading_validation(data: dict) -> dict:
    rows = []
    for name, s in (data.get("summary") or {}).items():
        sc = s["side_chain_rmsd_angstrom"]
        rows.append(
            [
                f"human RANKL threaded on 4GIQ mouse RANKL ({name})",
                s["ca_rmsd_angstrom"],
                sc.get("all"),
                sc.get("interface"),
                sc.get("substituted"),
                s.get("interface_fnat"),
            ]
        )
    floor = (data.get("noise_floor") or {}).get("comparison_to_crystal")
    if floor:
        sc = floor["side_chain_rmsd_angstrom"]
        rows.append(
            [
                f"noise floor: {data['noise_floor']['case']}",
                floor["ca_rmsd_angstrom"],
                sc.get("all"),
                sc.get("interface"),
                sc.get("substituted"),
                None,
            ]
        )
    return {
        "section": "threading-validation",
        "title": "Threading validated on a known answer: human RANKL vs its 3URF crystal",
        "label": LABEL,
        "provenance": _provenance(
            SOURCES["threading-validation"], "rankbind.modelling.complexes.write_validation"
        ),
        "tables": [
            {
                "caption": "Model against crystal (Å; fnat: native interface contacts kept)",
                "header": [
                    "comparison",
                    "Cα RMSD",
                    "side-chain RMSD all",
                    "interface",
                    "substituted",
                    "interface fnat",
                ],
                "rows": rows,
            }
        ],
        "notes": [n for n in (data.get("label"), data.get("reading")) if n],
        "figures": [],
    }


def _f(value, sem=None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if sem is None else f"{value:.{digits}f} ± {sem:.{digits}f}"


ENERGY_SOURCE = "gpu_bench/results/rankl_axis/rankl_axis.json"
ENERGY_FIGURE = "same_species_energies.png"


def _crystal_model_notes(data: dict, variant: str) -> list[str]:
    """Warnings where OPG and RANK of one species come from structures of different kinds
    (crystal against threaded model), with which kind scores stronger in ``variant``."""
    kind = {c["label"]: c["kind"] for c in data["complexes"].values()}
    estimator = f"mmgbsa/{variant}"
    stronger = []
    for species, block in data["species"].items():
        kinds = {r: {kind.get(label) for label in block["structures"][r]} for r in ("OPG", "RANK")}
        d = block["dG"].get(estimator)
        if kinds["OPG"] == kinds["RANK"] or d is None:
            continue
        winner = "OPG" if d["difference_kcal_per_mol"] < 0 else "RANK"
        stronger.append(f"{species}: the {'/'.join(sorted(kinds[winner]))} ({winner})")
    if not stronger:
        return []
    return [
        "OPG and RANK come from different kinds of structure (crystal against threaded "
        f"model), so a {estimator} difference may be a scoring bias between the kinds, not "
        f"biology; the stronger scorer per species: {'; '.join(stronger)}."
    ]


def same_species_energies(data: dict) -> dict:
    """Section of the same-species energetics: ΔG per complex and estimator, OPG - RANK
    with its resolvability, and RANKL residue by residue (per-residue ΔG and alanine ΔΔG
    side by side); settings, benchmark accuracy and CPU time in the notes."""
    s = data["settings"]
    ens = s["ensemble"]
    # residue tables: per-residue decomposition and alanine ΔΔG side by side, both in the
    # variant the ΔΔG benchmark cross-validation fixed
    residue_variant = f"per_residue/{s['ddG_chosen_variant']}"
    alanine_variant = f"alanine/{s['ddG_chosen_variant']}"
    complexes = list(data["complexes"].values())
    estimators = list(complexes[0]["dG"])
    tables = [
        {
            "caption": "ΔG estimates per complex (kcal/mol, mean ± s.e. over replicas; "
            "MM/GBSA: enthalpy-like scores, not free energies)",
            "header": ["complex", "kind", *estimators, "CPU s"],
            "rows": [
                [c["label"], c["kind"]]
                + [
                    _f(c["dG"][e]["kcal_per_mol"], c["dG"][e]["sem_kcal_per_mol"])
                    for e in estimators
                ]
                + [round(c["cpu_seconds"]["total"])]
                for c in complexes
            ],
        },
        {
            "caption": "OPG − RANK per species (kcal/mol; negative: OPG scores as the stronger "
            "binder); σ: sampling s.e. of the difference; spread: between two structures of "
            "one complex",
            "header": [
                "species",
                "estimator",
                "OPG",
                "RANK",
                "OPG − RANK",
                "σ",
                "spread",
                "verdict",
            ],
            "rows": [
                [
                    species,
                    est,
                    _f(d["OPG_kcal_per_mol"], d["OPG_sem"]),
                    _f(d["RANK_kcal_per_mol"], d["RANK_sem"]),
                    _f(d["difference_kcal_per_mol"]),
                    _f(d["sigma_kcal_per_mol"]),
                    _f(d["structure_spread_kcal_per_mol"]),
                    d["verdict"],
                ]
                for species, block in data["species"].items()
                for est, d in block["dG"].items()
            ],
        },
    ]
    for species, block in data["species"].items():
        per = {r["rankl_residue"]: r for r in block["residues"].get(residue_variant, [])}
        ala = {r["rankl_residue"]: r for r in block["residues"].get(alanine_variant, [])}
        rows = []
        for n in sorted(set(per) | set(ala)):
            p, a = per.get(n, {}), ala.get(n, {})
            if n not in ala and max(abs(v or 0.0) for v in p["OPG"] + p["RANK"]) < 0.5:
                continue  # neither scanned nor contributing 0.5 kcal/mol
            rows.append(
                [
                    n,
                    (p or a)["footprint"],
                    ", ".join(_f(v) for v in p.get("OPG", [])) or "–",
                    ", ".join(_f(v) for v in p.get("RANK", [])) or "–",
                    ", ".join(_f(v) for v in a.get("OPG", [])) or "–",
                    ", ".join(_f(v) for v in a.get("RANK", [])) or "–",
                    _f(a.get("difference_kcal_per_mol"), a.get("sigma_kcal_per_mol")),
                    a.get("verdict", "not scanned"),
                ]
            )
        structures = block["structures"]
        tables.append(
            {
                "caption": f"{species} RANKL residue by residue (kcal/mol; one value per "
                f"structure: OPG {', '.join(structures['OPG'])}; RANK "
                f"{', '.join(structures['RANK'])}). Per-residue ΔG: variant "
                f"{residue_variant.split('/')[1]}, both protomers of the groove summed; "
                f"alanine ΔΔG: variant {alanine_variant.split('/')[1]}, the residue "
                "truncated on both protomers; hot spot: ΔΔG ≥ 1",
                "header": [
                    "RANKL residue",
                    "footprint",
                    "per-residue OPG",
                    "per-residue RANK",
                    "alanine OPG",
                    "alanine RANK",
                    "alanine OPG − RANK",
                    "verdict",
                ],
                "rows": rows,
            }
        )
    b = data["benchmark_accuracy"]
    figures = [(f"ΔG {k}", v) for k, v in b["dG"].items()]
    figures += [(f"alanine ΔΔG {k}", v) for k, v in b["ddG"].items()]
    accuracy = "; ".join(
        f"{k}: Pearson r {v['pearson']:.2f} [{v['pearson_ci95_low']:.2f}, "
        f"{v['pearson_ci95_high']:.2f}], LOCO RMSE {v['rmse_kcal']:.2f} kcal/mol (n {v['n']})"
        + (f", hot-spot ROC AUC {v['hotspot_roc_auc']:.2f}" if "hotspot_roc_auc" in v else "")
        for k, v in figures
    )
    above_zero = [k for k, v in figures if v["pearson_ci95_low"] > 0]
    support = (
        f"only {', '.join(above_zero)} have a correlation interval above zero"
        if above_zero
        else "no correlation interval excludes zero"
    )
    notes = [
        f"Settings: one groove per complex (two RANKL protomers + one receptor), prepared "
        f"in vacuum with PROPKA protonation; "
        f"{ens['n_frames']} independent replicas ({ens['md_steps']} steps × "
        f"{ens['timestep_ps']} ps restrained OBC2 Langevin at {ens['temperature_K']} K, heavy "
        f"atoms at {ens['restraint_k']} kJ/mol/nm², then {ens['minimise_iterations']} "
        f"minimisation iterations); uncertainties are iid-bootstrap standard errors over "
        f"replicas. MM/GBSA ε_in = 1 components of {', '.join(s['mmgbsa_evaluated_variants'])} "
        f"evaluated ({s['mmgbsa']['electrostatics']}; salt {s['mmgbsa']['salt_concentration']} M; "
        f"interface trim {s['mmgbsa']['trim_nm']} nm), every variant derived by exact "
        "rescaling; gbn2_eres: ε_in 1/2/4 by the mutated residue's type; _nonp0: no "
        f"non-polar term. Variants fixed by the benchmark cross-validation: ΔG "
        f"{s['dG_chosen_variant']}, ΔΔG and per-residue {s['ddG_chosen_variant']}. PRODIGY "
        "IC-NIS on every replica.",
        "Verdicts: 'resolved by sampling' needs |OPG − RANK| > 2σ and more than the spread "
        "between two structures of one complex (human RANK: models on 4GIQ and 3ME2; mouse "
        "RANK: the 4GIQ and 3ME2 crystals); 'resolved' also needs the estimator's benchmark "
        "correlation interval above zero and the difference, put on the experimental "
        "scale by the benchmark's calibration slope, above its out-of-fold RMSE.",
        f"Measured accuracy of these estimators: {accuracy}. {support[0].upper()}{support[1:]}; "
        "an affinity difference is supported only where the verdict says 'resolved'; "
        f"{b['note']}.",
        f"CPU time {data['cpu_seconds_total'] / 60:.1f} min in all (2-core machine shared "
        "with other jobs; process CPU time).",
    ]
    notes += _crystal_model_notes(data, s["dG_chosen_variant"])
    if data.get("not_run"):
        notes.append(
            f"Not run (CPU budget): {', '.join(data['not_run'])}. Where a complex has one "
            "structure here, its verdicts cannot include the spread between structures "
            "(spread '–')."
        )
    return {
        "section": "same-species-energies",
        "title": "Same-species energetics: OPG versus RANK with replica ensembles",
        "label": "computed (committed result, see provenance); human RANK and mouse OPG "
        "are threaded MODELS",
        "provenance": f"{ENERGY_SOURCE}, committed; written by gpu_bench/rankl_axis.py "
        "(not recomputed by this run)",
        "tables": tables,
        "notes": notes,
        "figures": [ENERGY_FIGURE],
    }


def write_energy_section(
    source: str | Path, figure: str | Path | None = None, directory: str | Path | None = None
) -> Path:
    """Write ``same_species_energies.report.json`` (and copy ``figure`` beside it as
    :data:`ENERGY_FIGURE`) into ``directory`` (default
    ``structures/models/species_complexes``) from the summary JSON ``source``."""
    import shutil

    from rankbind.fileio import write_json
    from rankbind.structures import structures_dir

    out = Path(directory) if directory else structures_dir() / "models" / "species_complexes"
    section = same_species_energies(json.loads(Path(source).read_text(encoding="utf-8")))
    if figure is None or not Path(figure).is_file():
        section["figures"] = []
    else:
        shutil.copyfile(figure, out / ENERGY_FIGURE)
    path = out / "same_species_energies.report.json"
    write_json(path, section)
    return path


CONVERTERS = {
    "same-species": same_species,
    "denosumab-epitope": denosumab_epitope,
    "isoforms": isoforms,
    "threading-validation": threading_validation,
}


def write_report_sections(directory: str | Path) -> list[Path]:
    """Write ``<stem>.report.json`` beside each committed JSON of ``directory`` that exists
    (:data:`SOURCES`); returns the paths written."""
    from rankbind.fileio import write_json

    directory = Path(directory)
    written = []
    for section, name in SOURCES.items():
        source = directory / name
        if not source.is_file():
            continue
        data = json.loads(source.read_text(encoding="utf-8"))
        if section == "denosumab-epitope":
            seeds = Path(__file__).resolve().parents[2] / DOCKING_SEEDS
            docking = json.loads(seeds.read_text(encoding="utf-8")) if seeds.is_file() else None
            data = denosumab_epitope(data, docking)
        else:
            data = CONVERTERS[section](data)
        path = source.with_name(source.stem + ".report.json")
        write_json(path, data)
        written.append(path)
    return written
