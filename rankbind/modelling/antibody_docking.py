"""Denosumab docked onto RANKL with the issue-16 protocol, and what the poses touch.

:func:`denosumab_on_rankl` docks the denosumab Fv model (structures/models/denosumab_fv)
onto a RANKL trimer (human 3URF or mouse 4GIQ crystal) with the published epitope
(RANKL T233-Y241 on one protomer, mapped to mouse numbering by alignment) and the Kabat
CDRs as one required restraint, the orientation cone and the issue-16 scoring. For each
top cluster it reports the epitope residues buried, the overlap with the OPG (3URF) and
RANK (4GIQ) footprints, and the per-RANKL-residue Miyazawa-Jernigan contact energy.

Residue numbers are reported in human numbering: mouse residues are mapped through a
global alignment of 4GIQ chain A to 3URF chain A (:mod:`rankbind.structures.sequences`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from rankbind.modelling import docking as dk
from rankbind.modelling import restraints as rs

ENTRIES = {"human": "3URF", "mouse": "4GIQ"}
PARTNER = {"3URF": "OPG", "4GIQ": "RANK"}


def mouse_to_human() -> dict[int, int]:
    """Mouse RANKL residue number (4GIQ chain A) -> human number (3URF chain A)."""
    from rankbind.structures import build_assembly
    from rankbind.structures.sequences import align, chain_residues

    hr = chain_residues(build_assembly("3URF", "asu"), "A")
    mr = chain_residues(build_assembly("4GIQ", "asu"), "A")
    mapping = align("".join(r.code for r in mr), "".join(r.code for r in hr)).query_to_reference()
    return {mr[i].number: hr[j].number for i, j in mapping.items()}


def receptor_footprints(target: str) -> dict[str, set[int]]:
    """RANKL residues (human numbering, any protomer) within 5 Å of OPG (3URF hexamer)
    and of RANK (4GIQ hexamer), as residue numbers."""
    from rankbind.structures import build_assembly

    to_human = mouse_to_human()
    out = {}
    for entry, partner in PARTNER.items():
        hexamer = build_assembly(entry, "hexamer")
        rankl = [c.chain_id for c in hexamer.chains if c.molecule == "RANKL"]
        other = [c.chain_id for c in hexamer.chains if c.molecule != "RANKL"]
        rec = dk.molecule_from_assembly(hexamer, rankl)
        lig = dk.molecule_from_assembly(hexamer, other)
        numbers = {n for _, n in dk.interface_residues(rec, lig.xyz, 5.0)}
        if entry == "4GIQ":
            numbers = {to_human[n] for n in numbers if n in to_human}
        out[partner] = numbers
    return out


def residue_pair_energies(receptor: dk.Molecule, ligand: dk.Molecule, ligand_xyz, cutoff=6.5):
    """Per receptor residue (chain, number): the summed MJ contact energy (RT, full
    matrix) with ligand residue centres within ``cutoff`` Å of its centre."""
    from dataclasses import replace

    from rankbind.modelling.pair_potential import mj_matrix

    e = mj_matrix()
    rc, rt_, rkeys = receptor.residue_centres()
    lc, lt, _ = replace(ligand, xyz=ligand_xyz).residue_centres()
    d = np.linalg.norm(rc[:, None, :] - lc[None, :, :], axis=-1)
    out = {}
    for i, j in zip(*np.nonzero(d <= cutoff), strict=True):
        out[rkeys[i]] = out.get(rkeys[i], 0.0) + float(e[rt_[i], lt[j]])
    return out


def denosumab_on_rankl(target: str, settings: dk.DockingSettings, out_dir: str | None = None,
                       fv_pdb: str | None = None, n_report: int = 5) -> dict:  # fmt: skip
    """Dock the denosumab Fv onto the ``target`` ("human" or "mouse") RANKL trimer with
    the epitope + CDR restraint; returns (and writes to ``out_dir``) the clustered poses
    with their epitope burial, OPG/RANK footprint overlap and per-residue MJ energies."""
    from rankbind.modelling.fab import denosumab_sequences
    from rankbind.structures import ChainSpec, build_assembly, from_pdb

    root = Path(__file__).resolve().parents[2]
    entry = ENTRIES[target]
    trimer = build_assembly(entry, "trimer")
    chains = [c.chain_id for c in trimer.chains]
    fv_pdb = fv_pdb or str(root / "structures/models/denosumab_fv/denosumab_fv_model.pdb")
    fv = from_pdb(fv_pdb, {
        "H": ChainSpec("H", "FAB_HEAVY", "human", None, None),
        "L": ChainSpec("L", "FAB_LIGHT", "human", None, None),
    })  # fmt: skip
    epitope = rs.denosumab_epitope([chains[0]])
    to_human = mouse_to_human() if target == "mouse" else None
    if to_human:
        to_mouse = {h: m for m, h in to_human.items()}
        epitope = rs.InterfaceRestraint(
            receptor=frozenset((c, to_mouse[n]) for c, n in epitope.receptor if n in to_mouse),
            min_atoms=epitope.min_atoms, name=epitope.name + " (mouse equivalent)")  # fmt: skip
    seqs = denosumab_sequences()
    restraint = rs.combine(epitope, rs.cdr_paratope(seqs["VH"], seqs["VL"]))
    receptor = dk.molecule_from_assembly(trimer, chains)
    ligand = dk.molecule_from_assembly(fv, ["H", "L"])
    receptor, ligand, settings = rs.apply(restraint, receptor, ligand, settings)
    t0 = time.perf_counter()
    result = dk.dock(receptor, ligand, settings)
    elapsed = time.perf_counter() - t0
    footprints = receptor_footprints(target)
    human_epitope = set(range(233, 242))

    def human(n):
        return to_human.get(n, n) if to_human else n

    for pose in result.poses:
        placed = pose.apply(ligand.xyz, result.ligand_center)
        contacts = {human(n) for _, n in dk.interface_residues(receptor, placed, 5.0)}
        per_res = residue_pair_energies(receptor, ligand, placed)
        pose.metrics = {
            "rankl_contact_residues": len(contacts),
            "epitope_T233_Y241_buried": sorted(contacts & human_epitope),
            "fraction_epitope_buried": round(len(contacts & human_epitope) / 9, 3),
            **{
                f"overlap_{p.lower()}_footprint": round(
                    len(contacts & fp) / max(len(contacts), 1), 3
                )
                for p, fp in footprints.items()
            },
            "mj_rt_by_residue_human_numbering": {
                f"{c}{human(n)}": round(v, 2) for (c, n), v in sorted(per_res.items())
            },
        }
    top = result.poses[:n_report]

    def spread(key):
        vals = np.array([p.metrics[key] for p in top], dtype=float)
        return {"mean": round(float(vals.mean()), 3), "sd": round(float(vals.std(ddof=1)), 3)
                if len(vals) > 1 else None, "n_clusters": len(vals)}  # fmt: skip

    summary = {
        "target": target,
        "entry": entry,
        "restraint": restraint.to_dict(),
        "notes": result.notes,
        "timings_s": result.seconds | {"total": round(elapsed, 1)},
        "footprint_sizes": {k: len(v) for k, v in footprints.items()},
        "top_clusters_spread": {
            k: spread(k)
            for k in ("fraction_epitope_buried", "overlap_opg_footprint", "overlap_rank_footprint")
        },
    }
    if out_dir:
        dk.write_ensemble(result, trimer, chains, fv, ["H", "L"], out_dir,
                          {"pipeline": "rankbind.modelling.antibody_docking", **summary})  # fmt: skip
    return summary | {"poses": [p.to_dict() for p in result.poses]}


def species_differences(human: dict, mouse: dict, rank: int = 1) -> dict:
    """Per RANKL residue (human numbering): MJ contact energy of the rank-``rank`` pose
    on human minus that on mouse RANKL. Different poses on the two species make this a
    comparison of two docking answers, not a mutational effect."""
    h = human["poses"][rank - 1]["mj_rt_by_residue_human_numbering"]
    m = mouse["poses"][rank - 1]["mj_rt_by_residue_human_numbering"]

    def by_number(d):
        out = {}
        for k, v in d.items():
            out[int(k[1:])] = out.get(int(k[1:]), 0.0) + v
        return out

    hn, mn = by_number(h), by_number(m)
    return {
        str(n): round(hn.get(n, 0.0) - mn.get(n, 0.0), 2)
        for n in sorted(set(hn) | set(mn))
        if abs(hn.get(n, 0.0) - mn.get(n, 0.0)) >= 0.01
    }
