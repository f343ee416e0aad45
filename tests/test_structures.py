"""Catalogue, checksums, BIOMT assemblies and residue addressing against the crystal files."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from helpers import kabsch

from rankbind.errors import ChecksumError, SelectionError, StructureError
from rankbind.fileio import sha256_file
from rankbind.structures import build_assembly, catalogue, get_entry, select_residues
from rankbind.structures.catalogue import structures_dir
from rankbind.structures.selection import atom_indices

CRYSTALS = ("3URF", "4GIQ", "3ME2")


def test_every_catalogue_checksum_matches_the_file():
    entries = catalogue()
    assert {"3URF", "4GIQ", "3ME2", "1N8Z", "2NYY", "3BDY", "3BN9"} <= set(entries)
    for entry in entries.values():
        assert sha256_file(entry.path) == entry.sha256, entry.name


def test_sources_md_checksums_agree_with_catalogue():
    text = (structures_dir() / "SOURCES.md").read_text()
    for name in CRYSTALS:
        assert catalogue()[name].sha256 in text


def test_checksum_mismatch_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "structures"
    shutil.copytree(structures_dir(), copy)
    pdb = copy / "pdb" / "4GIQ_mouse_RANKL_RANK.pdb"
    pdb.write_text(
        pdb.read_text().replace("ATOM      1  N  ", "ATOM      1  N  ", 1) + "REMARK 999\n"
    )
    monkeypatch.setenv("RANKBIND_STRUCTURES", str(copy))
    with pytest.raises(ChecksumError, match="4GIQ_mouse_RANKL_RANK.pdb"):
        get_entry("4GIQ")


@pytest.mark.parametrize("name", CRYSTALS)
def test_hexamer_is_c3_symmetric(name):
    """The rotation taking protomer A onto B also takes B->C, C->A and R->S->T->R."""
    assembly = build_assembly(name, "hexamer")
    ca = {
        c: np.array(
            [
                a.xyz
                for a in assembly.atoms
                if a.chain == c and a.name == "CA" and a.record == "ATOM"
            ]
        )
        for c in "ABCRST"
    }
    rotation, translation = kabsch(ca["A"], ca["B"])
    for src, dst in ("AB", "BC", "CA", "RS", "ST", "TR"):
        moved = ca[src] @ rotation.T + translation
        rmsd_nm = np.sqrt(((moved - ca[dst]) ** 2).sum(1).mean()) / 10.0
        assert rmsd_nm < 0.01, (name, src, dst, rmsd_nm)
    # a proper 3-fold: rotation angle 120 degrees
    angle = np.degrees(np.arccos((np.trace(rotation) - 1) / 2))
    assert angle == pytest.approx(120.0, abs=0.01)


def _min_distance(a, b):
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    return float(np.sqrt(d2.min()))


@pytest.mark.parametrize(("name", "groove"), [("3URF", "AC"), ("4GIQ", "AB"), ("3ME2", "AC")])
def test_receptor_sits_in_groove_between_two_protomers(name, groove):
    """SOURCES.md: 4GIQ RANK touches the BIOMT 1 and 2 copies, 3ME2 RANK the 1 and 3 copies."""
    full = build_assembly(name, "trimer_receptor")
    receptor = full.coordinates(["R"], heavy=True)
    distances = {c: _min_distance(full.coordinates([c], heavy=True), receptor) for c in "ABC"}
    touching = {c for c, d in distances.items() if d < 4.0}
    assert touching == set(groove), distances
    far = ({"A", "B", "C"} - set(groove)).pop()
    assert distances[far] > 15.0
    interface = build_assembly(name, "interface")
    assert interface.chain_ids() == sorted(groove) + ["R"]


def test_uniprot_numbering_matches_dbref():
    """4GIQ RANK PDB 5-168 is UniProt 35-198; 3ME2 RANK is already UniProt (34-199)."""
    rank_4giq = build_assembly("4GIQ", "asu").residue_numbers("R")
    rank_3me2 = build_assembly("3ME2", "asu").residue_numbers("R")
    assert (rank_4giq[0], rank_4giq[-1]) == (35, 198)
    assert (rank_3me2[0], rank_3me2[-1]) == (34, 199)
    opg = build_assembly("3URF", "asu").residue_numbers("Z")
    assert opg[0] == 5 + 21


def test_same_address_same_residue_across_entries():
    """RANK:128 is the same residue type in 4GIQ and 3ME2 (identical sequences, different numbering)."""
    names = {}
    for entry in ("4GIQ", "3ME2"):
        assembly = build_assembly(entry, "asu")
        chain, number = select_residues(
            assembly.chains, {"R": assembly.residue_numbers("R")}, "RANK:128"
        )[0]
        names[entry] = next(
            a.resname for a in assembly.atoms if a.chain == chain and a.resseq == number
        )
    assert names["4GIQ"] == names["3ME2"]


def test_selection_errors_name_the_problem():
    assembly = build_assembly("3URF", "interface")
    top = assembly.to_mdtraj().topology
    assert len(atom_indices(top, assembly.chains, "RANKL/A:233")) > 0
    with pytest.raises(SelectionError, match="RANKL:999"):
        atom_indices(top, assembly.chains, "RANKL:999")
    with pytest.raises(SelectionError, match="unknown molecule"):
        atom_indices(top, assembly.chains, "TNF:12")
    with pytest.raises(SelectionError, match="matches no chain"):
        atom_indices(top, assembly.chains, "RANK:100")


def test_selection_unions_resolve_once_in_every_layer():
    """'A+B', a list and the union's parts agree, each residue once; the reference is a
    walk over the mdtraj topology by chain and residue number."""
    from rankbind.analysis.contacts import select
    from rankbind.energies.mmgbsa import selection_atoms
    from rankbind.structures.assembly import extract
    from rankbind.structures.selection import select_union, split_union

    assembly = build_assembly("3URF", "interface")
    top = assembly.to_mdtraj().topology
    union = "RANKL/A:233-236 + OPG:100-102+RANKL/A:235"
    assert split_union(union) == ["RANKL/A:233-236", "OPG:100-102", "RANKL/A:235"]
    opg = next(c.chain_id for c in assembly.chains if c.molecule == "OPG")
    wanted = {("A", n) for n in range(233, 237)} | {(opg, n) for n in range(100, 103)}
    expected = sorted(
        a.index for a in top.atoms if (a.residue.chain.chain_id, a.residue.resSeq) in wanted
    )
    as_list = ["RANKL/A:233-236", "OPG:100-102+RANKL/A:235"]
    assert atom_indices(top, assembly.chains, union) == expected
    assert atom_indices(top, assembly.chains, as_list) == expected
    assert selection_atoms(top, assembly.chains, union) == expected
    residues = select(top, assembly.chains, union)
    assert sorted(
        (top.residue(i).chain.chain_id, top.residue(i).resSeq) for i in residues
    ) == sorted(wanted)
    present = {c.chain_id: assembly.residue_numbers(c.chain_id) for c in assembly.chains}
    keys = select_union(assembly.chains, present, union)
    assert len(keys) == len(set(keys)) == 7 and set(keys) == wanted
    fragment = extract(assembly, as_list)
    assert {(a.chain, a.resseq) for a in fragment.atoms} == wanted
    with pytest.raises(SelectionError, match="empty residue selection"):
        split_union(" + ")


def test_fab_templates_give_heavy_and_light_chains():
    for name in ("1N8Z", "2NYY", "3BDY", "3BN9"):
        fab = build_assembly(name, "fab")
        assert [c.molecule for c in fab.chains] == ["FAB_HEAVY", "FAB_LIGHT"]
        assert len(fab.residue_numbers("H")) > 200 and len(fab.residue_numbers("L")) > 200


def test_unknown_assembly_kind():
    with pytest.raises(StructureError, match="unknown assembly kind"):
        build_assembly("3URF", "dimer")


def test_assembly_pdb_text_round_trips_through_the_parser(tmp_path):
    """What rankbind writes (SSBOND, SEQRES, TER) it reads back: same atoms, same disulfides."""
    from rankbind.structures.pdbfile import read_pdb

    assembly = build_assembly("3URF", "trimer_receptor")
    path = tmp_path / "assembly.pdb"
    assembly.write_pdb(path)
    parsed = read_pdb(path)
    assert len(parsed.ssbonds) == len(assembly.ssbonds) == 9
    assert {(a[0], a[1]) for a, _ in parsed.ssbonds} == {a for a, _ in assembly.ssbonds}
    assert len(parsed.atoms) == len(assembly.atoms)
    assert np.allclose([a.xyz for a in parsed.atoms], [a.xyz for a in assembly.atoms], atol=1e-3)


def test_expression_tags_are_left_out():
    """3URF's OPG construct (UniProt 22-186, structures/sequences/3URF_constructs.fasta)
    ends in a His6 tag, three residues of which are observed: assemblies stop at 186."""
    from rankbind.structures.sequences import fasta_sequence

    core = fasta_sequence("3URF_constructs.fasta", "3URF_Z_core")
    assembly = build_assembly("3URF", "asu")
    opg = assembly.residue_numbers("Z")
    assert max(opg) == 21 + len(core) == 186
    removed = assembly.provenance["expression_tag_residues_removed_pdb_numbering"]
    assert removed == {"Z": [166, 167, 168]}


def test_seqadv_expression_tag_residues_are_left_out(tmp_path):
    from rankbind.structures import ChainSpec, from_pdb

    lines = [
        "SEQADV 9XYZ GLY A    3  UNP  P00000              EXPRESSION TAG",
        "ATOM      1  CA  ALA A   1       0.000   0.000   0.000  1.00  0.00           C",
        "ATOM      2  CA  ALA A   2       3.800   0.000   0.000  1.00  0.00           C",
        "ATOM      3  CA  GLY A   3       7.600   0.000   0.000  1.00  0.00           C",
        "END",
    ]
    path = tmp_path / "tagged.pdb"
    path.write_text("\n".join(lines) + "\n")
    assembly = from_pdb(path, {"A": ChainSpec("A", "RANKL", "human", None, None)})
    assert assembly.residue_numbers("A") == [1, 2]
    assert assembly.provenance["expression_tag_residues_removed_pdb_numbering"] == {"A": [3]}


def test_one_aligner_with_free_end_gaps_for_sequences_and_numbering():
    """A fragment inside a longer reference aligns at its offset with no penalty for the
    overhangs: the score is the BLOSUM62 diagonal sum (read from biopython's matrix file),
    and the numbering map (footprints' API) is the same alignment."""
    from Bio.Align import substitution_matrices

    from rankbind.analysis.footprints import align_numbering as footprint_numbering
    from rankbind.structures.sequences import align, align_numbering, fasta_sequence

    reference = fasta_sequence("3URF_constructs.fasta", "3URF_A_core")  # O14788 162-317
    query = reference[20:120]
    aln = align(query, reference)
    blosum = substitution_matrices.load("BLOSUM62")
    assert aln.score == sum(blosum[a][a] for a in query)
    assert aln.query_to_reference() == {i: i + 20 for i in range(len(query))}
    numbers = footprint_numbering(
        (list(range(1, 101)), query), (list(range(162, 162 + len(reference))), reference)
    )
    assert footprint_numbering is align_numbering
    assert numbers.mapping == {n: n + 181 for n in range(1, 101)}
    assert numbers.identity == 1.0 and numbers.n_aligned == 100
