"""Same-species receptor footprints on RANKL, and where a bound denosumab Fab sits
relative to them (structural comparisons only; energies come from rankbind.energies).

Footprints are :func:`rankbind.analysis.footprints.entry_footprint` (RANKL residues with a
heavy atom within ``cutoff`` nm of one receptor copy) on ``trimer_receptor`` assemblies.

**Resolvable differences.** A residue that one receptor contacts and the other does not
counts as *resolved* only when (1) the call is the same at the three cutoffs
``CUTOFFS_NM`` (not a marginal contact), and (2) it is the same in every structure of a
complex available here (mouse RANK: crystals 4GIQ and 3ME2; human RANK: the models on
both). The 4GIQ-vs-3ME2 footprint difference (two crystals of one complex) is reported as
the noise floor of a footprint comparison.

**Denosumab.** The receptor hexamer (three receptor copies) is superposed onto the RANKL
trimer of the Fab–RANKL complex model (C-alpha atoms, best cyclic protomer assignment);
for each groove the receptor copy's heavy atoms are tested against the Fab's
(``footprints.CLASH_DISTANCE_NM``, ``footprints.CLASH_PAIRS``) and epitope/footprint
residues shared on the same protomers are listed. A Fab excludes the receptor from every
groove where the test finds a clash.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rankbind.analysis import footprints as fp
from rankbind.structures import Assembly, build_assembly
from rankbind.structures.geometry import count_pairs_within, nearest_distances, superpose

CUTOFFS_NM = (0.35, 0.40, 0.45)
CUTOFF_NM = 0.40
FAB_BINDER = "FAB_HEAVY/H+FAB_LIGHT/L"
DENOSUMAB_COMPLEX = "models/denosumab_fab_rankl/denosumab_fab_human_rankl_pose01.pdb"

# (label, catalogue entry, binder selection, kind of structure)
STRUCTURES = {
    "human": {
        "OPG": [("OPG 3URF crystal", "3URF", "OPG/R", "crystal")],
        "RANK": [
            ("RANK model on 4GIQ", "HUMAN_RANK_4GIQ", "RANK/R", "model"),
            ("RANK model on 3ME2", "HUMAN_RANK_3ME2", "RANK/R", "model"),
        ],
    },
    "mouse": {
        "OPG": [("OPG model on 3URF", "MOUSE_OPG_3URF", "OPG/R", "model")],
        "RANK": [
            ("RANK 4GIQ crystal", "4GIQ", "RANK/R", "crystal"),
            ("RANK 3ME2 crystal", "3ME2", "RANK/R", "crystal"),
        ],
    },
}


def _footprint_sets(entry: str, binder: str) -> tuple[dict[float, set[int]], fp.Footprint]:
    """Own-species RANKL numbers contacted (any protomer) at each cutoff; the footprint
    at CUTOFF_NM (with buried SASA and human numbering)."""
    assembly = build_assembly(entry, "trimer_receptor")
    sets = {}
    main = None
    for cutoff in CUTOFFS_NM:
        f, _ = fp.entry_footprint(assembly, binder, cutoff=cutoff)
        sets[cutoff] = {r.number for r in f.residues}
        if cutoff == CUTOFF_NM:
            main = f
    return sets, main


def _jaccard(a: set, b: set) -> float:
    return round(len(a & b) / len(a | b), 3) if a | b else 1.0


def same_species_footprints() -> dict:
    """OPG versus RANK footprints on RANKL, per species, with the noise floor and the
    per-residue resolvability (see the module docstring). Numbers are the species' own
    UniProt RANKL numbers; human numbers are added for mouse residues."""
    out: dict = {
        "definition": __doc__.split("**Denosumab.**")[0].strip(),
        "cutoffs_nm": list(CUTOFFS_NM),
        "main_cutoff_nm": CUTOFF_NM,
    }
    for species, receptors in STRUCTURES.items():
        data: dict = {}
        for receptor, rows in receptors.items():
            data[receptor] = []
            for label, entry, binder, kind in rows:
                sets, main = _footprint_sets(entry, binder)
                data[receptor].append(
                    {
                        "label": label,
                        "entry": entry,
                        "kind": kind,
                        "sets": sets,
                        "buried": {r.number: round(r.buried_sasa, 1) for r in main.residues},
                        "human_number": {r.number: r.reference_number for r in main.residues},
                        "buried_total_angstrom2": round(main.buried_sasa_total or 0.0, 1),
                    }
                )
        out[species] = _compare_species(data)
    # Noise floor: two crystals of mouse RANK (4GIQ vs 3ME2) at the main cutoff.
    m = out["mouse"]["structures"]["RANK"]
    a, b = set(m[0]["footprint"]), set(m[1]["footprint"])
    out["noise_floor"] = {
        "pair": "mouse RANK footprints, 4GIQ vs 3ME2 crystals (same complex, two crystal forms)",
        "jaccard": _jaccard(a, b),
        "only_4GIQ": sorted(a - b),
        "only_3ME2": sorted(b - a),
    }
    h = out["human"]["structures"]["RANK"]
    a, b = set(h[0]["footprint"]), set(h[1]["footprint"])
    out["model_template_spread"] = {
        "pair": "human RANK model footprints, 4GIQ vs 3ME2 templates",
        "jaccard": _jaccard(a, b),
        "only_4GIQ_template": sorted(a - b),
        "only_3ME2_template": sorted(b - a),
    }
    return out


def _compare_species(data: dict) -> dict:
    """Shared / OPG-only / RANK-only residues with resolvability and buried SASA."""
    main = {r: [s["sets"][CUTOFF_NM] for s in data[r]] for r in ("OPG", "RANK")}  # per structure
    union = {r: set().union(*main[r]) for r in main}
    rows = []
    anywhere = {
        n for r in ("OPG", "RANK") for st in data[r] for v in st["sets"].values() for n in v
    }
    for n in sorted(anywhere):
        calls = {}
        for r in ("OPG", "RANK"):
            per_structure = [
                [n in s["sets"][c] for c in CUTOFFS_NM] for s in data[r]
            ]  # structures x cutoffs
            flat = [v for row in per_structure for v in row]
            calls[r] = "yes" if all(flat) else "no" if not any(flat) else "marginal"
        if calls["OPG"] == "yes" and calls["RANK"] == "yes":
            status = "shared"
        elif "marginal" in calls.values():
            status = "unresolved"
        else:
            status = "OPG_only" if calls["OPG"] == "yes" else "RANK_only"
        human = next(
            (
                s["human_number"][n]
                for r in ("OPG", "RANK")
                for s in data[r]
                if n in s["human_number"]
            ),
            None,
        )
        rows.append(
            {
                "rankl_residue": n,
                "human_number": human,
                "OPG": calls["OPG"],
                "RANK": calls["RANK"],
                "status": status,
                "buried_sasa_opg_angstrom2": max(
                    (s["buried"].get(n, 0.0) for s in data["OPG"]), default=0.0
                ),
                "buried_sasa_rank_angstrom2": max(
                    (s["buried"].get(n, 0.0) for s in data["RANK"]), default=0.0
                ),
            }
        )
    a, b = union["OPG"], union["RANK"]
    first = {r: main[r][0] for r in main}
    return {
        "structures": {
            r: [
                {
                    "label": s["label"],
                    "entry": s["entry"],
                    "kind": s["kind"],
                    "footprint": sorted(s["sets"][CUTOFF_NM]),
                    "buried_sasa_total_angstrom2": s["buried_total_angstrom2"],
                }
                for s in data[r]
            ]
            for r in data
        },
        "n_opg": len(first["OPG"]),
        "n_rank": len(first["RANK"]),
        "shared": sorted(first["OPG"] & first["RANK"]),
        "jaccard_opg_vs_rank": _jaccard(first["OPG"], first["RANK"]),
        "resolved_shared": [r["rankl_residue"] for r in rows if r["status"] == "shared"],
        "resolved_opg_only": [r["rankl_residue"] for r in rows if r["status"] == "OPG_only"],
        "resolved_rank_only": [r["rankl_residue"] for r in rows if r["status"] == "RANK_only"],
        "unresolved": [r["rankl_residue"] for r in rows if r["status"] == "unresolved"],
        "union_jaccard": _jaccard(a, b),
        "residues": rows,
    }


def residue_table_markdown(species_block: dict, species: str) -> str:
    """A small Markdown table of the per-residue comparison of one species."""
    lines = [
        f"| {species} RANKL | human no. | OPG | RANK | status | buried OPG (Å²) | buried RANK (Å²) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in species_block["residues"]:
        lines.append(
            f"| {r['rankl_residue']} | {r['human_number']} | {r['OPG']} | {r['RANK']} | "
            f"{r['status']} | {r['buried_sasa_opg_angstrom2']} | {r['buried_sasa_rank_angstrom2']} |"
        )
    return "\n".join(lines) + "\n"


# --- denosumab ----------------------------------------------------------------------------


def _heavy(assembly: Assembly, chains) -> tuple[np.ndarray, list[tuple[str, int]]]:
    atoms = [
        a for a in assembly.atoms if a.record == "ATOM" and a.chain in chains and a.element != "H"
    ]
    return np.array([a.xyz for a in atoms], dtype=float), [(a.chain, a.resseq) for a in atoms]


def _near_residues(xyz, keys, other_xyz, cutoff_angstrom: float) -> set[tuple[str, int]]:
    d = nearest_distances(xyz, other_xyz)
    return {k for k, dist in zip(keys, d, strict=True) if dist < cutoff_angstrom}


def _superpose_trimer(mobile: Assembly, target: Assembly) -> tuple[np.ndarray, np.ndarray, dict]:
    """Rotation/translation putting ``mobile``'s RANKL trimer on ``target``'s (C-alpha of
    common numbers; best of the three cyclic chain assignments)."""

    def ca(a: Assembly):
        return {
            (x.chain, x.resseq): np.asarray(x.xyz)
            for x in a.atoms
            if x.name == "CA" and x.chain in "ABC"
        }

    cm, ct = ca(mobile), ca(target)
    best = None
    for shift in range(3):
        order = "ABC"[shift:] + "ABC"[:shift]
        pairs = [
            (cm[(m, n)], ct[(t, n)])
            for m, t in zip(order, "ABC", strict=True)
            for (c, n) in ct
            if c == t and (m, n) in cm
        ]
        x, y = (np.array(v) for v in zip(*pairs, strict=True))
        fit = superpose(x, y)
        rot, trans, rmsd = fit.rotation, fit.translation, fit.rmsd
        if best is None or rmsd < best[2]["ca_rmsd_angstrom"]:
            best = (rot, trans, {"assignment": dict(zip(order, "ABC", strict=True)),
                                 "ca_rmsd_angstrom": round(rmsd, 3), "n_ca": len(pairs)})  # fmt: skip
    return best


def denosumab_exclusion(
    fab_complex: Assembly, receptor_hexamer: Assembly, label: str, contact_angstrom: float = 4.0
) -> dict:
    """Per groove: Fab–receptor heavy-atom clash pairs, minimum distance, and RANKL residues
    (protomer, number) in both the Fab epitope and that receptor copy's footprint."""
    rot, trans, sup = _superpose_trimer(receptor_hexamer, fab_complex)
    fab_xyz, _ = _heavy(fab_complex, ("H", "L"))
    rankl_xyz, rankl_keys = _heavy(fab_complex, ("A", "B", "C"))
    epitope = _near_residues(rankl_xyz, rankl_keys, fab_xyz, contact_angstrom)
    rec_rankl_xyz, rec_rankl_keys = _heavy(receptor_hexamer, ("A", "B", "C"))
    grooves = []
    for copy in ("R", "S", "T"):
        xyz, _ = _heavy(receptor_hexamer, (copy,))
        moved = xyz @ rot.T + trans
        footprint = {
            (sup["assignment"][c], n)
            for c, n in _near_residues(rec_rankl_xyz, rec_rankl_keys, xyz, contact_angstrom)
        }
        n_clash = count_pairs_within(moved, fab_xyz, fp.CLASH_DISTANCE_NM * 10.0)
        dmin = float(nearest_distances(moved, fab_xyz).min())
        grooves.append(
            {
                "receptor_copy": copy,
                "protomers": sorted({c for c, _ in footprint}),
                "clash_pairs": n_clash,
                "min_distance_angstrom": round(dmin, 2),
                "excluded": n_clash >= fp.CLASH_PAIRS,
                "shared_residues": sorted(f"{c}{n}" for c, n in footprint & epitope),
                "n_footprint": len(footprint),
            }
        )
    return {
        "receptor": label,
        "superposition": sup,
        "epitope": sorted(f"{c}{n}" for c, n in epitope),
        "epitope_protomers": sorted({c for c, _ in epitope}),
        "grooves": grooves,
        "n_grooves_excluded": sum(g["excluded"] for g in grooves),
        "criterion": f"excluded if >= {fp.CLASH_PAIRS} Fab-receptor heavy-atom pairs closer "
        f"than {fp.CLASH_DISTANCE_NM * 10:.1f} Å; shared residues: RANKL heavy atom within "
        f"{contact_angstrom} Å of both",
    }


def epitope_species_table(epitope_numbers: list[int]) -> list[dict]:
    """Human RANKL epitope residues against mouse RANKL at the aligned positions
    (3URF chain A vs 4GIQ chain A, global alignment)."""
    from rankbind.structures.sequences import align, chain_residues

    human, mouse = build_assembly("3URF", "asu"), build_assembly("4GIQ", "asu")
    hr, mr = chain_residues(human, "A"), chain_residues(mouse, "A")
    mapping = align("".join(r.code for r in hr), "".join(r.code for r in mr)).query_to_reference()
    rows = []
    for k, r in enumerate(hr):
        if r.number in epitope_numbers:
            m = mr[mapping[k]] if k in mapping else None
            rows.append(
                {
                    "human": f"{r.code}{r.number}",
                    "mouse": f"{m.code}{m.number}" if m else "-",
                    "identical": bool(m and m.code == r.code),
                }
            )
    return rows


def denosumab_relations(fab_complex_path: str | Path | None = None) -> dict:
    """The Fab–RANKL model against human OPG (3URF crystal) and human RANK (model), and
    the epitope residue by residue in human vs mouse RANKL."""
    from rankbind.modelling.isoforms import segment
    from rankbind.structures import structures_dir
    from rankbind.structures.assembly import read_assembly

    path = Path(fab_complex_path) if fab_complex_path else structures_dir() / DENOSUMAB_COMPLEX
    fab = read_assembly(path)
    rows = [
        denosumab_exclusion(fab, build_assembly("3URF", "hexamer"), "human OPG (3URF crystal)"),
        denosumab_exclusion(
            fab, build_assembly("HUMAN_RANK_4GIQ", "hexamer"), "human RANK (model on 4GIQ)"
        ),
    ]
    epitope_numbers = sorted({int(e[1:]) for e in rows[0]["epitope"]})
    seg = segment("denosumab_epitope")
    literature = list(range(seg["first"], seg["last"] + 1))
    return {
        "label": "MODEL-based: the Fab-RANKL complex is a docked model (low confidence in the "
        "binding mode); the RANK complex is a threaded model",
        "fab_complex": str(path.relative_to(structures_dir()))
        if path.is_relative_to(structures_dir())
        else str(path),
        "receptors": rows,
        "species": {
            "docked_epitope_human_vs_mouse": epitope_species_table(epitope_numbers),
            "literature_epitope_233_241_human_vs_mouse": epitope_species_table(literature),
            "literature_epitope_source": seg.get("source"),
            "binding": "Denosumab binds human RANKL but not murine RANKL in direct binding "
            "assays; exchanging murine RANKL exon 5 for the human one (huRANKL knock-in "
            "mice) makes mice respond to denosumab (Kostenuik PJ et al., J Bone Miner Res "
            "2009, doi 10.1359/jbmr.081112, abstract).",
        },
    }


def write_comparisons(out_dir: str | Path | None = None) -> dict:
    """Write ``footprints_same_species.json`` (+ one Markdown table per species) and
    ``denosumab_epitope_relations.json`` into ``structures/models/species_complexes``, and
    the ``*.report.json`` sections of the folder's JSON (rankbind.analysis.report_sections)."""
    from rankbind.fileio import write_json, write_text
    from rankbind.structures import structures_dir

    out = Path(out_dir) if out_dir else structures_dir() / "models" / "species_complexes"
    same = same_species_footprints()
    write_json(out / "footprints_same_species.json", same)
    for species in ("human", "mouse"):
        write_text(
            out / f"footprints_same_species_{species}.md",
            residue_table_markdown(same[species], species),
        )
    deno = denosumab_relations()
    write_json(out / "denosumab_epitope_relations.json", deno)
    from rankbind.analysis.report_sections import write_report_sections

    write_report_sections(out)  # the report's sections, beside the JSON
    return {"same_species": same, "denosumab": deno}
