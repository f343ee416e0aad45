"""Docking pipelines: validation re-docking of crystal complexes and denosumab ensembles."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from rankbind.modelling import docking as dk
from rankbind.modelling.isoforms import segment
from rankbind.structures import build_assembly


def randomised_ligand(ligand: dk.Molecule, seed: int) -> tuple[dk.Molecule, np.ndarray, np.ndarray]:
    """A copy of ``ligand`` rotated by a random rotation about its centroid and shifted by
    a random 20-40 Å offset; returns (molecule, rotation, shift)."""
    rng = np.random.default_rng(seed)
    rot = dk.random_rotation(rng)
    shift = rng.normal(size=3)
    shift *= rng.uniform(20.0, 40.0) / np.linalg.norm(shift)
    center = ligand.xyz.mean(0)
    moved = replace(ligand, xyz=(ligand.xyz - center) @ rot.T + center + shift)
    return moved, rot, shift


def redock_case(
    entry: str,
    restrained: bool,
    settings: dk.DockingSettings,
    seed: int = 1,
    rotations: np.ndarray | None = None,
) -> dict:
    """Re-dock receptor chain R of ``entry`` onto the RANKL trimer from a randomised
    orientation. The trimer has three equivalent grooves, so each pose is scored against
    all three crystal receptor copies (hexamer chains R, S, T) and the best is kept.
    Restraint: RANKL residues within 5 Å of R in the crystal (one groove's epitope) must
    have >= ``settings.restraint_min_atoms`` ligand atoms within
    ``settings.restraint_cutoff`` Å. Returns CAPRI metrics of every clustered pose."""
    assembly = build_assembly(entry, "hexamer")
    rec_chains = [c.chain_id for c in assembly.chains if c.molecule == "RANKL"]
    natives = [dk.molecule_from_assembly(assembly, [c]).xyz for c in ("R", "S", "T")]
    receptor = dk.molecule_from_assembly(assembly, rec_chains)
    ligand = dk.molecule_from_assembly(assembly, ["R"])
    epitope = dk.interface_residues(receptor, ligand.xyz, 5.0) if restrained else None
    receptor = dk.molecule_from_assembly(assembly, rec_chains, epitope)
    ligand = dk.molecule_from_assembly(
        assembly, ["R"], set(ligand.residues) if restrained else None
    )
    start, rot, shift = randomised_ligand(ligand, seed)
    t0 = time.perf_counter()
    result = dk.dock(receptor, start, settings, rotations=rotations)
    elapsed = time.perf_counter() - t0
    poses = []
    for pose in result.poses:
        model = pose.apply(start.xyz, result.ligand_center)
        options = [dk.capri_metrics(receptor, ligand, native, model) for native in natives]
        pose.metrics = max(options, key=lambda m: (dk.CAPRI_ORDER[m["capri"]], m["fnat"]))
        pose.metrics["groove"] = "RST"[options.index(pose.metrics)]
        poses.append(pose)
    ranks = [p.rank for p in poses if p.metrics["capri"] != "incorrect"]
    return {
        "entry": entry,
        "receptor": "RANKL trimer (A, B, C); ligand: receptor chain R",
        "restrained": restrained,
        "epitope_residues": sorted(epitope) if epitope else None,
        "seed": seed,
        "start_rotation": rot.round(6).tolist(),
        "start_shift_angstrom": shift.round(3).tolist(),
        "grid_size": result.grid_size,
        "n_rotations": result.n_rotations,
        "seconds": round(elapsed, 1),
        "first_acceptable_rank": ranks[0] if ranks else None,
        "poses": [p.to_dict() for p in poses],
        "_result": result,
        "_assembly": assembly,
        "_start_transform": (rot, shift, ligand.xyz.mean(0)),
    }


def redock(entry: str, restrained: bool, n_rotations: int, seed: int, out_dir: str) -> dict:
    """CLI pipeline: :func:`redock_case` + ensemble files in ``out_dir``."""
    from dataclasses import replace

    settings = dk.DockingSettings(n_rotations=n_rotations)
    case = redock_case(entry, restrained, settings, seed)
    assembly = case.pop("_assembly")
    result = case.pop("_result")
    rot, shift, center = case.pop("_start_transform")
    # The ligand assembly in its randomised start orientation (what the poses act on).
    moved = [
        replace(a, xyz=tuple((np.asarray(a.xyz) - center) @ rot.T + center + shift))
        if a.chain == "R"
        else a
        for a in assembly.atoms
    ]
    start_assembly = replace(assembly, atoms=moved)
    assembly = replace(assembly, atoms=[a for a in assembly.atoms if a.chain not in "ST"])
    rec_chains = [c.chain_id for c in assembly.chains if c.molecule == "RANKL"]
    dk.write_ensemble(result, assembly, rec_chains, start_assembly, ["R"], out_dir,
                      {"validation": {k: v for k, v in case.items() if k != "poses"}})  # fmt: skip
    return {k: v for k, v in case.items() if k != "poses"} | {"top10": case["poses"][:10]}


def _epitope_for(target: str, chains: list[str]) -> tuple[set, dict]:
    """Denosumab epitope residues on a RANKL trimer of species ``target``.

    Human: T233-Y241 (Schieferdecker 2014). Mouse: the residues aligned to them
    (4GIQ numbering is human - 1 in this region), from a global alignment."""
    from rankbind.structures.sequences import align, chain_residues

    seg = segment("denosumab_epitope")
    human = build_assembly("3URF", "asu")
    numbers = list(range(seg["first"], seg["last"] + 1))
    if target == "human":
        return {(c, n) for c in chains for n in numbers}, seg
    mouse = build_assembly("4GIQ", "asu")
    hr, mr = chain_residues(human, "A"), chain_residues(mouse, "A")
    mapping = align("".join(r.code for r in hr), "".join(r.code for r in mr)).query_to_reference()
    mapped = [
        mr[mapping[k]].number for k, r in enumerate(hr) if r.number in numbers and k in mapping
    ]
    return {(c, n) for c in chains for n in mapped}, seg | {"mouse_equivalent": mapped}


def denosumab_dock(target: str, n_rotations: int, out_dir: str, fv_pdb: str | None = None) -> dict:
    """Dock the denosumab Fv model onto the human (3URF) or mouse (4GIQ crystal) RANKL
    trimer with the literature epitope (RANKL 233-241) and the CDRs as restraints; write
    a ranked, clustered ensemble (PDB + ensemble.json), each labelled as a model."""
    from rankbind.modelling.fab import (
        build_denosumab_model,
        denosumab_sequences,
        heavy_cdrs,
        light_cdrs,
    )

    entry = "3URF" if target == "human" else "4GIQ"
    trimer = build_assembly(entry, "trimer")
    chains = [c.chain_id for c in trimer.chains]
    epitope, seg = _epitope_for(target, chains)
    if fv_pdb:
        from rankbind.structures import ChainSpec, from_pdb

        fv = from_pdb(fv_pdb, {
            "H": ChainSpec("H", "FAB_HEAVY", "human", None, None),
            "L": ChainSpec("L", "FAB_LIGHT", "human", None, None),
        })  # fmt: skip
        fv_report = {"fv_pdb": fv_pdb}
    else:
        built = build_denosumab_model("fv")
        fv, fv_report = built.assembly, built.report
    seqs = denosumab_sequences()
    paratope = {("H", n) for c in heavy_cdrs(seqs["VH"]) for n in range(c.start, c.end + 1)}
    paratope |= {("L", n) for c in light_cdrs(seqs["VL"]) for n in range(c.start, c.end + 1)}
    receptor = dk.molecule_from_assembly(trimer, chains, epitope)
    ligand = dk.molecule_from_assembly(fv, ["H", "L"], paratope)
    settings = dk.DockingSettings(n_rotations=n_rotations, restraint_min_atoms=20)
    t0 = time.perf_counter()
    result = dk.dock(receptor, ligand, settings)
    elapsed = time.perf_counter() - t0
    exon5 = segment("exon5")
    for pose in result.poses:
        placed = pose.apply(ligand.xyz, result.ligand_center)
        contacts = dk.interface_residues(receptor, placed, 5.0)
        pose.metrics = {
            "rankl_contact_residues": len(contacts),
            "epitope_contacts": sorted(f"{c}{n}" for c, n in contacts & epitope),
            "fraction_contacts_in_exon5_segment": round(
                sum(exon5["first"] - (target == "mouse") <= n <= exon5["last"] for _, n in contacts)
                / max(len(contacts), 1),
                3,
            ),
        }
    provenance = {
        "target": target,
        "receptor_entry": entry,
        "receptor_note": "mouse: 4GIQ crystal trimer"
        if target == "mouse"
        else "3URF crystal trimer",
        "epitope_restraint": seg,
        "paratope_restraint": "Kabat CDRs H1-H3, L1-L3 (rankbind.modelling.fab)",
        "exon5_segment": exon5,
        "fv_model": {k: v for k, v in fv_report.items() if k != "template_provenance"},
        "seconds": round(elapsed, 1),
    }
    return dk.write_ensemble(result, trimer, chains, fv, ["H", "L"], out_dir, provenance)


def species_comparison() -> dict:
    """Human vs mouse RANKL (3URF vs 4GIQ observed residues): identity and differing
    residues by region. Regions (human numbering): the denosumab epitope and the exon-5
    segment (seeds/isoform_constructs.yaml, with their confidence), the OPG-contact residues of
    3URF (within 5 Å, trimer + OPG) and everything else. ``rank``: human vs mouse RANK
    (:func:`rank_species_comparison`)."""
    from rankbind.structures.sequences import chain_residues, compare

    human, mouse = build_assembly("3URF", "asu"), build_assembly("4GIQ", "asu")
    hexamer = build_assembly("3URF", "trimer_receptor")
    rec = dk.molecule_from_assembly(hexamer, ["A", "B", "C"])
    opg = dk.molecule_from_assembly(hexamer, ["R"])
    contacts = sorted({n for _, n in dk.interface_residues(rec, opg.xyz, 5.0)})
    epitope, exon5 = segment("denosumab_epitope"), segment("exon5")
    hr, mr = chain_residues(human, "A"), chain_residues(mouse, "A")
    regions = {"denosumab_epitope": (epitope["first"], epitope["last"])}
    regions |= {f"opg_contact_{n}": (n, n) for n in contacts}
    regions |= {"exon5_segment_approx": (exon5["first"], exon5["last"])}
    comp = compare(
        "".join(r.code for r in hr), [r.number for r in hr],
        "".join(r.code for r in mr), [r.number for r in mr],
        regions, "human RANKL (3URF A)", "mouse RANKL (4GIQ A)",
    )  # fmt: skip
    by_region = comp.by_region()
    opg_contact = [d for k, v in by_region.items() if k.startswith("opg_contact_") for d in v]
    out = comp.to_dict()
    out["differences_by_region"] = {
        "denosumab_epitope (233-241)": by_region.get("denosumab_epitope", []),
        "opg_contact (3URF, 5 A)": opg_contact,
        "exon5_segment_approx (233-317; boundaries confidence unknown)": by_region.get(
            "exon5_segment_approx", []
        ),
        "other": by_region.get("other", []),
    }
    out["opg_contact_residues"] = contacts
    out["rank"] = rank_species_comparison()
    return out


def rank_species_comparison() -> dict:
    """Human RANK (Q9Y6Q6 extracellular domain 30-212) vs mouse RANK (4GIQ chain R,
    observed 35-198): identity and differing residues, split into RANKL-contact residues
    (mouse RANK residues within 5 Å of the RANKL trimer in 4GIQ, mapped to human numbers
    by the alignment) and the rest."""
    from rankbind.structures.sequences import align, chain_residues, compare, fasta_sequence

    human = fasta_sequence("uniprot_human_RANK_Q9Y6Q6.fasta", "sp")[29:212]
    numbers_h = list(range(30, 213))
    hexamer = build_assembly("4GIQ", "trimer_receptor")
    mr = chain_residues(hexamer, "R")
    seq_m = "".join(r.code for r in mr)
    rec = dk.molecule_from_assembly(hexamer, ["R"])
    rankl = dk.molecule_from_assembly(hexamer, ["A", "B", "C"])
    mouse_contacts = sorted({n for _, n in dk.interface_residues(rec, rankl.xyz, 5.0)})
    mapping = align(seq_m, human).query_to_reference()
    human_contacts = [numbers_h[mapping[k]] for k, r in enumerate(mr)
                      if r.number in mouse_contacts and k in mapping]  # fmt: skip
    comp = compare(human, numbers_h, seq_m, [r.number for r in mr],
                   {f"rankl_contact_{n}": (n, n) for n in human_contacts},
                   "human RANK (Q9Y6Q6 30-212)", "mouse RANK (4GIQ R)")  # fmt: skip
    by_region = comp.by_region()
    out = comp.to_dict()
    out["differences_by_region"] = {
        "rankl_contact (4GIQ, 5 A)": [d for k, v in by_region.items()
                                      if k.startswith("rankl_contact_") for d in v],
        "other": by_region.get("other", []),
    }  # fmt: skip
    out["rankl_contact_residues_mouse"] = mouse_contacts
    out["rankl_contact_residues_human"] = human_contacts
    out["numbering_note"] = (
        "aligned without gaps over the mouse observed range; human n = mouse n - 1"
    )
    return out


def hurankl_chimera(minimize: bool = True):
    """The "huRANKL" chimera (Kostenuik 2009): mouse RANKL (4GIQ chain A) carrying the
    human exon-5 segment. Segment boundaries come from ``seeds/isoform_constructs.yaml`` (confidence
    'unknown', see its ``basis``); mouse boundaries are the residues aligned to them.
    Returns a :class:`~rankbind.modelling.threading.ThreadingResult`."""
    from rankbind.modelling.mutations import select_chains, swap_segment
    from rankbind.structures.sequences import align, chain_residues

    seg = segment("exon5")
    human, mouse = (
        build_assembly("3URF", "asu"),
        select_chains(build_assembly("4GIQ", "asu"), ["A"]),
    )
    hr, mr = chain_residues(human, "A"), chain_residues(mouse, "A")
    mapping = align("".join(r.code for r in hr), "".join(r.code for r in mr)).query_to_reference()
    inside = [k for k, r in enumerate(hr) if seg["first"] <= r.number <= seg["last"]]
    first, last = mr[mapping[inside[0]]].number, mr[mapping[inside[-1]]].number
    human_seq = "".join(hr[k].code for k in inside)
    result = swap_segment(
        mouse, "A", first, last, human_seq, f"human RANKL {seg['first']}-{seg['last']} (3URF)",
        minimize=minimize,
    )  # fmt: skip
    result.assembly.provenance["chimera"] = {
        "name": "huRANKL",
        "segment": seg,
        "mouse_range_replaced": [first, last],
    }
    return result
