"""Same-species complex models (human RANK, mouse OPG), the threading validation, isoform
constructs and the structural comparisons (rankbind.modelling.complexes / isoforms,
rankbind.analysis.receptor_comparison)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial import cKDTree

from rankbind.modelling import complexes as cx
from rankbind.modelling.isoforms import (
    apply_isoforms,
    build_construct,
    isoform_effects,
    isoform_sequence,
)
from rankbind.modelling.mutations import select_chains
from rankbind.modelling.threading import Target, thread
from rankbind.structures import build_assembly, structures_dir
from rankbind.structures.sequences import chain_residues, chain_sequence

MODELS = structures_dir() / cx.MODELS_SUBDIR


def _canonical(file: str) -> str:
    """The UniProt record read directly (independent of rankbind's FASTA reader)."""
    lines = (structures_dir() / "sequences" / file).read_text().splitlines()
    return "".join(line.strip() for line in lines[1:] if not line.startswith(">"))


def test_threading_identity_on_rank_chain_reproduces_template():
    rank = select_chains(build_assembly("4GIQ", "asu"), ["R"])
    seq = chain_sequence(rank, "R")
    first = chain_residues(rank, "R")[0].number
    model = thread(rank, {"R": Target(seq, first, "mouse", "O35305")}, minimize=False)
    ref = {(a.resseq, a.name): a.xyz for a in rank.atoms if a.name != "OXT"}
    got = {(a.resseq, a.name): a.xyz for a in model.assembly.atoms if (a.resseq, a.name) in ref}
    assert len(got) == len(ref)
    assert max(np.abs(np.subtract(got[k], ref[k])).max() for k in ref) < 1e-3


@pytest.mark.parametrize("name", ["HUMAN_RANK_4GIQ", "HUMAN_RANK_3ME2"])
def test_human_rank_model_sequence_disulfides_clashes(name):
    spec = cx.MODEL_SPECS[name]
    model = build_assembly(name, "trimer_receptor")  # checksum-verified catalogue entry
    human = _canonical(spec.receptor_fasta)
    residues = chain_residues(model, "R")
    assert len(residues) >= 160
    assert all(human[r.number - 1] == r.code for r in residues)  # the human sequence
    assert model.chain("R").species == "human" and model.chain("A").species == "human"
    # RANKL: the 3URF human crystal residues
    rankl = _canonical("uniprot_human_RANKL_O14788.fasta")
    assert all(rankl[r.number - 1] == r.code for r in chain_residues(model, "A"))
    # every UniProt disulfide (feature table, read here) with both Cys modelled is bonded
    gff = structures_dir() / "sequences/uniprot_features/UniProt2019_Q9Y6Q6_TNFRSF11A.gff"
    bonds = [
        (int(f[3]), int(f[4]))
        for f in (line.split("\t") for line in gff.read_text().splitlines())
        if len(f) > 4 and f[2] == "Disulfide bond"
    ]
    sg = {a.resseq: np.array(a.xyz) for a in model.atoms if a.chain == "R" and a.name == "SG"}
    modelled = [(i, j) for i, j in bonds if i in sg and j in sg]
    assert len(modelled) == 10
    assert max(np.linalg.norm(sg[i] - sg[j]) for i, j in modelled) < 2.2
    # no inter-chain heavy-atom pair closer than 2.2 Å (0.7 x the smallest Bondi sum, O-O)
    xyz = {c: np.array([a.xyz for a in model.atoms if a.chain == c]) for c in "ABCR"}
    for c in "ABC":
        assert cKDTree(xyz[c]).query(xyz["R"])[0].min() > 2.2
    report = json.loads((MODELS / f"{name}.json").read_text())
    assert report["label"] == "MODEL" and "confidence" in report
    assert report["checks"]["clashes_trimer_receptor"]["n_clashes"] == 0
    assert report["checks"]["clashes_hexamer_from_biomt"]["n_clashes"] == 0


def test_mouse_opg_model_sequence_and_assemblies():
    model = build_assembly("MOUSE_OPG_3URF", "interface")
    mouse = _canonical("uniprot_mouse_OPG_O08712.fasta")
    assert all(mouse[r.number - 1] == r.code for r in chain_residues(model, "R"))
    assert sorted(c.molecule for c in model.chains) == ["OPG", "RANKL", "RANKL"]
    assert {c.species for c in model.chains} == {"mouse"}
    report = json.loads((MODELS / "MOUSE_OPG_3URF.json").read_text())
    assert report["checks"]["disulfides"]["all_intact"]


def test_rankl_validation_figure_is_recomputed():
    committed = json.loads((MODELS / "validation_human_rankl_on_4GIQ.json").read_text())
    fast = cx.validate_rankl_threading(minimize=False)
    ref = committed["pdbfixer_only"]
    got = fast["comparison_to_crystal"]
    assert got["ca_rmsd_angstrom"] == pytest.approx(
        ref["comparison_to_crystal"]["ca_rmsd_angstrom"], abs=0.01
    )
    for group, value in ref["comparison_to_crystal"]["side_chain_rmsd_angstrom"].items():
        assert got["side_chain_rmsd_angstrom"][group] == pytest.approx(value, abs=0.02)
    assert fast["interface_contacts"]["fnat"] == pytest.approx(
        ref["interface_contacts"]["fnat"], abs=0.02
    )
    # independent check of the C-alpha figure: numpy SVD superposition of the two chains
    # the threaded backbone is the 4GIQ template's; mouse RANKL 161-316 aligns to human
    # 162-317 without gaps (structures/SOURCES.md), so template residue n is model n + 1
    model = {a.resseq + 1: a.xyz for a in fast_model_atoms() if a.name == "CA"}
    crystal = {a.resseq: a.xyz for a in build_assembly("3URF", "asu").atoms
               if a.chain == "A" and a.name == "CA"}  # fmt: skip
    keys = sorted(set(model) & set(crystal))
    x, y = np.array([model[k] for k in keys]), np.array([crystal[k] for k in keys])
    x0, y0 = x - x.mean(0), y - y.mean(0)
    u, s, vt = np.linalg.svd(x0.T @ y0)
    d = np.sign(np.linalg.det(u @ vt))
    e = (x0**2).sum() + (y0**2).sum() - 2 * (s[0] + s[1] + d * s[2])
    assert np.sqrt(e / len(keys)) == pytest.approx(got["ca_rmsd_angstrom"], abs=0.01)


def fast_model_atoms():
    return [a for a in build_assembly("4GIQ", "asu").atoms if a.chain == "A"]


def test_isoform_boundaries_match_uniprot_data():
    rank_c, numbers = isoform_sequence("RANK-c")
    derived = _canonical("human_RANK_isoform2_del206-522_DERIVED.fasta")
    assert rank_c == derived and len(rank_c) == 299
    assert numbers[204] == 205 and numbers[205] == 523
    rankl3, numbers = isoform_sequence("RANKL3")
    canonical = _canonical("uniprot_human_RANKL_O14788.fasta")
    assert numbers[0] == 74 and rankl3[0] == "M" and rankl3 == canonical[73:]
    effects = isoform_effects("RANK-c")
    assert effects["transmembrane_segments"] == ["213-233"]
    assert not effects["membrane_anchored"] and effects["anchored_agrees_with_seeds"]
    assert effects["binding_residues"] and not effects["binding_residues_lost"]
    effects = isoform_effects("RANKL3")
    assert effects["transmembrane_segments"] == ["48-68"] and not effects["membrane_anchored"]
    assert effects["valency"] == 3 and not effects["binding_residues_lost"]


def test_isoform_constructs_are_systems():
    rank_c = build_construct("RANK-c")
    assert rank_c.chain("R").species == "human"
    assert max(rank_c.residue_numbers("R")) <= 205
    system = build_assembly("HUMAN_RANK_4GIQ", "interface")
    applied = apply_isoforms(system, {"RANK": "RANK-c"})
    assert applied.residue_numbers("R") == system.residue_numbers("R")  # ECD inside 1-205
    assert applied.provenance["isoforms"][0]["isoform"] == "RANK-c"
    with pytest.raises(Exception, match="RANKL isoform"):
        apply_isoforms(system, {"RANK": "RANKL3"})


def test_footprint_status_logic():
    from rankbind.analysis.receptor_comparison import CUTOFFS_NM, _compare_species

    def s(label, *sets):
        return {"label": label, "entry": label, "kind": "x",
                "sets": dict(zip(CUTOFFS_NM, sets, strict=True)),
                "buried": {}, "human_number": {}, "buried_total_angstrom2": 0.0}  # fmt: skip

    data = {
        "OPG": [s("o", {1, 2}, {1, 2, 3}, {1, 2, 3, 4})],
        "RANK": [s("r1", {1, 5}, {1, 5}, {1, 5}), s("r2", {1}, {1, 5}, {1, 5})],
    }
    out = _compare_species(data)
    # 1: everywhere -> shared; 2: OPG at all cutoffs, never RANK -> OPG_only;
    # 3, 4: OPG only at larger cutoffs -> unresolved; 5: missing in r2 at 0.35 -> unresolved
    assert out["resolved_shared"] == [1] and out["resolved_opg_only"] == [2]
    assert out["unresolved"] == [3, 4, 5] and out["resolved_rank_only"] == []


def test_denosumab_exclusion_on_a_constructed_case():
    """A 'Fab' made of two OPG copies of the 3URF hexamer must exclude OPG from exactly
    those two grooves (it occupies them) and not from the third."""
    from dataclasses import replace

    from rankbind.analysis.receptor_comparison import denosumab_exclusion

    hexamer = build_assembly("3URF", "hexamer")
    rename = {"R": "H", "S": "L"}
    atoms = [replace(a, chain=rename.get(a.chain, a.chain)) for a in hexamer.atoms
             if a.record == "ATOM" and a.chain != "T"]  # fmt: skip
    chains = tuple(
        replace(c, chain_id=rename[c.chain_id], molecule="FAB_HEAVY" if c.chain_id == "R" else "FAB_LIGHT")
        if c.chain_id in rename else c
        for c in hexamer.chains if c.chain_id != "T"
    )  # fmt: skip
    fake = replace(hexamer, atoms=atoms, chains=chains)
    out = denosumab_exclusion(fake, hexamer, "OPG vs itself")
    assert out["superposition"]["ca_rmsd_angstrom"] < 1e-3
    assert out["n_grooves_excluded"] == 2
    assert [g["excluded"] for g in out["grooves"]] == [True, True, False]


def test_committed_mouse_rank_footprints_match_mdtraj():
    """The noise-floor footprints (4GIQ, 3ME2 crystals) against an mdtraj neighbour search."""
    import mdtraj

    data = json.loads((MODELS / "footprints_same_species.json").read_text())
    rows = {s["entry"]: set(s["footprint"]) for s in data["mouse"]["structures"]["RANK"]}
    for entry in ("4GIQ", "3ME2"):
        traj = build_assembly(entry, "trimer_receptor").to_mdtraj()
        top = traj.topology
        rank = top.select("chainid 3 and not element H")
        rankl = top.select("chainid 0 1 2 and not element H")
        near = mdtraj.compute_neighbors(traj, 0.40, rank, haystack_indices=rankl)[0]
        assert {top.atom(i).residue.resSeq for i in near} == rows[entry]
    a, b = rows["4GIQ"], rows["3ME2"]
    assert data["noise_floor"]["jaccard"] == pytest.approx(len(a & b) / len(a | b), abs=1e-3)
