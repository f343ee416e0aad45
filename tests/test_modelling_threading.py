"""Sequences, threading, mutations and isoform data (rankbind.modelling)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from openmm import unit

from rankbind.errors import SelectionError, StructureError
from rankbind.modelling.isoforms import build_construct, isoform_properties, segment
from rankbind.modelling.mutations import mutate, select_chains, swap_segment, truncate
from rankbind.modelling.threading import Target, thread
from rankbind.structures import build_assembly
from rankbind.structures.sequences import (
    chain_residues,
    chain_sequence,
    compare,
    fasta_sequence,
    uniprot_alignment,
)

BACKBONE_CB = ("N", "CA", "C", "O", "CB")


@pytest.fixture(scope="module")
def mouse_rankl():
    return select_chains(build_assembly("4GIQ", "asu"), ["A"])


@pytest.fixture(scope="module")
def human_from_mouse(mouse_rankl):
    human = fasta_sequence("3URF_constructs.fasta", "3URF_A_core")
    return thread(mouse_rankl, {"A": Target(human, 162, "human", "O14788", "human RANKL")})


def test_constructs_align_to_uniprot_numbering():
    human = build_assembly("3URF", "asu")
    ref = fasta_sequence("3URF_constructs.fasta", "3URF_Z_core")
    report = uniprot_alignment(human, "Z", ref, 22)
    assert report["identity"] == 1.0 and report["numbering_consistent"]
    mouse = build_assembly("4GIQ", "asu")
    report = uniprot_alignment(
        mouse, "R", fasta_sequence("4GIQ_constructs.fasta", "4GIQ_R_core"), 31
    )
    assert report["numbering_consistent"] and report["n_aligned"] == 164


def test_human_mouse_rankl_identity_and_epitope_difference():
    h, m = build_assembly("3URF", "asu"), build_assembly("4GIQ", "asu")
    c = compare(
        chain_sequence(h, "A"),
        [r.number for r in chain_residues(h, "A")],
        chain_sequence(m, "A"),
        [r.number for r in chain_residues(m, "A")],
        {"denosumab_epitope": (233, 241)},
    )
    # SOURCES.md (independent count): 141/156 identical over human 162-317 vs mouse 161-316;
    # mouse 161 is unobserved in 4GIQ, so 140/155 here.
    assert (c.alignment.n_identical, c.alignment.n_aligned) == (140, 155)
    assert c.by_region()["denosumab_epitope"] == ["E234/D233"]


def test_threading_identity_reproduces_template(mouse_rankl):
    seq = chain_sequence(mouse_rankl, "A")
    model = thread(mouse_rankl, {"A": Target(seq, 162, "mouse", "O35235")}, minimize=False)
    ref = {(a.resseq, a.name): a.xyz for a in mouse_rankl.atoms if a.name != "OXT"}
    got = {(a.resseq, a.name): a.xyz for a in model.assembly.atoms if (a.resseq, a.name) in ref}
    assert len(got) == len(ref)
    assert max(np.abs(np.subtract(got[k], ref[k])).max() for k in ref) < 1e-3
    assert model.report["chains"]["A"]["changed_residues"] == []


def test_human_from_mouse_rankl_model(human_from_mouse):
    model, report = human_from_mouse.assembly, human_from_mouse.report
    human = fasta_sequence("3URF_constructs.fasta", "3URF_A_core")
    assert chain_sequence(model, "A") == human[1:]  # 162 has no template residue
    assert report["chains"]["A"]["terminal_residues_not_modelled"] == [162]
    assert len(report["chains"]["A"]["changed_residues"]) == 15
    assert report["clashes_before_minimisation"]["n_clashes"] > 0
    assert report["clashes_after"]["n_clashes"] == 0
    assert report["kept_heavy_atom_rmsd_angstrom"] < 0.5
    assert model.provenance["model"] is True


def test_mutation_api_keeps_disulfides_and_numbering():
    opg = select_chains(build_assembly("3URF", "asu"), ["Z"])
    with pytest.raises(SelectionError, match="is D, not K"):
        mutate(opg, ["Z:K182A"])
    with pytest.raises(SelectionError, match="bad mutation"):
        mutate(opg, ["Z182A"])
    result = mutate(opg, ["Z:D182-"], minimize=True)
    numbers = result.assembly.residue_numbers("Z")
    assert 182 not in numbers and 181 in numbers and 183 in numbers
    assert result.report["chains"]["Z"]["rebuilt_segments"] == [[181, 181], [183, 183]]
    assert len(result.report["clashes_after"]["disulfides"]) == 9  # 3URF: 9 SSBONDs in Z
    assert all(d[2] < 2.3 for d in result.report["clashes_after"]["disulfides"])
    assert result.assembly.provenance["edits"] == [{"mutations": ["Z:D182-"]}]


def test_truncation_and_segment_swap(mouse_rankl):
    short = truncate(mouse_rankl, "A", 200, 250)
    assert short.residue_numbers("A") == list(range(200, 251))
    with pytest.raises(SelectionError):
        truncate(mouse_rankl, "A", 400, 500)
    seg = segment("denosumab_epitope")
    human = fasta_sequence("3URF_constructs.fasta", "3URF_A_core")
    # human 233-241 onto mouse 232-240 (mouse numbering is human - 1 here)
    swapped = swap_segment(
        mouse_rankl, "A", 232, 240, human[233 - 162 : 242 - 162], "human RANKL", minimize=False
    )
    assert seg["confidence"] == "high"
    assert chain_sequence(swapped.assembly, "A")[232 - 162 : 241 - 162] == "TEYLQLMVY"


def test_isoform_properties():
    rankl3 = isoform_properties("RANKL3")
    assert (rankl3.anchored, rankl3.valency) == (False, 3)
    rank_c = isoform_properties("RANK-c")
    # boundaries from UniProt isoform 2 (VSP_046901); its identity with RANK-c is medium
    assert (rank_c.anchored, rank_c.valency, rank_c.boundaries_confidence) == (False, 1, "medium")
    assert rank_c.construct.entry == "HUMAN_RANK_4GIQ"
    assert isoform_properties("OPG_full_length").valency == 2
    assert isoform_properties("RANKL1").anchored
    assert segment("exon5")["confidence"] == "unknown"
    with pytest.raises(StructureError, match="unknown isoform"):
        isoform_properties("RANKL9")
    opg = build_construct("OPG_CRD1-4")
    assert opg.residue_numbers("Z")[0] == 26 and opg.provenance["isoform"] == "OPG_CRD1-4"


def test_hurankl_chimera_segment_from_data():
    from rankbind.modelling.pipelines import hurankl_chimera

    result = hurankl_chimera(minimize=False)
    chimera = chain_sequence(result.assembly, "A")
    human = fasta_sequence("3URF_constructs.fasta", "3URF_A_core")
    mouse = chain_sequence(select_chains(build_assembly("4GIQ", "asu"), ["A"]), "A")
    assert result.assembly.provenance["chimera"]["mouse_range_replaced"] == [232, 316]
    assert chimera.endswith(human[233 - 162 :])  # human 233-317 at the C-terminus
    assert chimera[: 232 - 162] == mouse[: 232 - 162]  # mouse 162-231 unchanged
    assert result.assembly.provenance["chimera"]["segment"]["confidence"] == "unknown"


def test_model_cli_isoform_and_bad_record(capsys, tmp_path):
    import argparse

    from rankbind.cli import model as model_cli

    parser = argparse.ArgumentParser()
    model_cli.configure(parser)
    assert model_cli.run(parser.parse_args(["isoform", "RANKL3"])) == 0
    assert '"anchored": false' in capsys.readouterr().out
    args = parser.parse_args(
        ["thread", "--entry", "4GIQ", "--chain", "A", "--fasta", "3URF_constructs.fasta",
         "--record", "nope", "--first", "162", "--species", "human",
         "--out", str(tmp_path / "m.pdb")]
    )  # fmt: skip
    with pytest.raises(StructureError, match="no record 'nope'"):
        model_cli.run(args)
    assert not (tmp_path / "m.pdb").exists()


def test_rebuild_with_clash_relief_dynamics_is_reproduced_by_its_seed():
    """PDBFixer relieves clashes of rebuilt atoms with Langevin dynamics. Here they must
    run: RANKL 230-236 stripped to N, CA, C, O, CB, next to a full copy of itself shifted
    by 0.6 Å, so every rebuilt side chain lands in the copy's atoms. The same seed gives the
    same coordinates bit for bit (single-threaded CPU); another seed, another rebuild."""
    from rankbind.modelling.threading import _fix
    from rankbind.structures.pdbfile import format_atom

    atoms = [
        a
        for a in build_assembly("3URF", "interface").atoms
        if a.record == "ATOM" and a.chain == "A" and 230 <= a.resseq <= 236
    ]
    lines = [format_atom(a, k + 1) for k, a in enumerate(atoms) if a.name in BACKBONE_CB]
    lines.append("TER")
    for a in atoms:
        shifted = replace(a, chain="B", xyz=tuple(np.add(a.xyz, (0.6, 0.0, 0.0))))
        lines.append(format_atom(shifted, len(lines) + 1))
    text = "\n".join(lines + ["TER", "END"]) + "\n"

    def rebuilt(seed):
        fixer, _ = _fix(text, seed)
        return np.array(fixer.positions.value_in_unit(unit.nanometer))

    first = rebuilt(1)
    assert np.array_equal(first, rebuilt(1))
    assert np.abs(first - rebuilt(2)).max() > 0.01  # nm: the dynamics ran, seeded
