"""Denosumab Fv model and CDR identification."""

from __future__ import annotations

import pytest

from rankbind.errors import StructureError
from rankbind.modelling.fab import (
    build_denosumab_model,
    denosumab_sequences,
    heavy_cdrs,
    light_cdrs,
    template_identities,
)
from rankbind.structures.sequences import chain_sequence


def test_denosumab_kabat_cdrs():
    seqs = denosumab_sequences()
    h = {c.name: (c.start, c.end, c.sequence) for c in heavy_cdrs(seqs["VH"])}
    l_ = {c.name: (c.start, c.end, c.sequence) for c in light_cdrs(seqs["VL"])}
    # Kabat positions by hand: H1 31-35, H2 50-65 (+1 insertion 52a), H3 95-102 (+ins)
    assert h == {
        "H1": (31, 35, "SYAMS"),
        "H2": (50, 66, "GITGSGGSTYYADSVKG"),
        "H3": (99, 111, "DPGTTVIMSWFDP"),
    }
    assert l_ == {
        "L1": (24, 35, "RASQSVRGRYLA"),
        "L2": (51, 57, "GASSRAT"),
        "L3": (90, 98, "QQYGSSPRT"),
    }
    with pytest.raises(StructureError, match="CDR rules"):
        light_cdrs("A" * 100)


# Single-domain antibodies of the antibody_benchmark (unbound structures 4QGY, 5SV4, 6CWK;
# cases 4Y7M, 5SV3, 6CWG). Expected Kabat CDRs by hand from the conserved anchors of every
# V domain, counted along the sequence: Cys22 and Trp36 frame H1 (Kabat 31-35, the 5
# residues before Trp36); H2 starts 14 after Trp36 (Kabat 50) and ends before the
# R-F-x of Kabat 66-67 (16-19 residues with 52A-C insertions); Cys92 is followed by the
# two residues 93-94 (A-A / A-V), so H3 (Kabat 95-102) runs from Cys92 + 3 to the residue
# before Trp103 of W-G-x-G. Each VHH has the hallmark Phe37 after Trp36 (W-F-R-Q), which
# the VH rule W-[VIA] missed. Cys/Trp positions (1-based): 4Y7M C22 W36 C96 W119;
# 5SV3 C22 W36 C96 W116; 6CWG C22 W36 C98 W119.
NANOBODIES = {
    "4Y7M": (
        "QVQLVESGGGLVQAGGSLRLSCAASGFTFEDYAIGWFRQAPGKEREGVSCISNLDGSTYYPDSVKGRFTASSDKAKNMVYLQMN"
        "SLKPEDTAVYYCAAVNAQGIYCTDYIIGPYGMDYWGKGTQVTVSSHHHHHH",
        {"H1": (31, 35, "DYAIG"), "H2": (50, 66, "CISNLDGSTYYPDSVKG"),
         "H3": (99, 118, "VNAQGIYCTDYIIGPYGMDY")},
    ),
    "5SV3": (
        "EVQLVESGGGLVQAGDSLRLSCTASGRTLGDYGVAWFRQAPGKEREFVSVISRSTIITDYADSVRGRFSISADSAKNTVYLQMN"
        "SLKPEDTAVYYCAVIANPVYATSRNSDDYGHWGQGTQVTVSS",
        {"H1": (31, 35, "DYGVA"), "H2": (50, 66, "VISRSTIITDYADSVRG"),
         "H3": (99, 115, "IANPVYATSRNSDDYGH")},
    ),
    "6CWG": (
        "QVQLAESGGGLVQAGGSLKLSCAASGRDFSMYMLAWFRQAPGKEREFVAAIMCSGGGGGTYYADSMQGRFTISRDNAKKTVALQ"
        "MNSLKPEDTAVYYCAASTTYCSATTYSSDRLYDFWGQGTQVTVSS",
        {"H1": (31, 35, "MYMLA"), "H2": (50, 68, "AIMCSGGGGGTYYADSMQG"),
         "H3": (101, 118, "STTYCSATTYSSDRLYDF")},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(NANOBODIES))
def test_nanobody_kabat_cdrs(name):
    seq, expected = NANOBODIES[name]
    got = {c.name: (c.start, c.end, c.sequence) for c in heavy_cdrs(seq)}
    assert got == expected
    for start, end, cdr in expected.values():  # the positions are the sequences' own
        assert seq[start - 1 : end] == cdr


def test_heavy_cdr2_end_from_cys92_when_no_k_r():
    """IGHV5-51 (antibody M116 of case 5WK3) has Q-V-T after CDR-H2, not K/R-x-x: H2's end
    comes from Cys92 (29 residues before it, the fixed Kabat FR3). By hand: Cys22, Trp36,
    H2 = Kabat 50-65 + 52A (17 residues from 50), Cys92 at 96, H3 between C-A-R and W-G-Q-G."""
    seq = (
        "EVQLVQSGAEVKKPGESLKISCKGSGYSFTSYWIGWVRQMPGKGLEWMGIIDPSDSDTRYSPSFQGQVTISADKSISTAYLQW"
        "SSLKASDTAMYYCARVGPADVWDSFDYWGQGTLVTVSS"
    )
    assert seq[95] == "C" and seq[66:69] == "QVT"
    got = {c.name: (c.start, c.end, c.sequence) for c in heavy_cdrs(seq)}
    assert got == {
        "H1": (31, 35, "SYWIG"),
        "H2": (50, 66, "IIDPSDSDTRYSPSFQG"),
        "H3": (99, 110, "VGPADVWDSFDY"),
    }
    # a shark VNAR (case 2I25) has no CDR2: outside the Kabat rules, a clear error
    vnar = (
        "RVDQTPQRITKETGESLTINCVVRDSRCVLSTGYWYRKPPGSRNEESISDGGRYVETVNRGSKSFSLRINDLTVKDSGTYRC"
        "KPESRYGSYDAVCAALNDQYGGGTVVTVNAA"
    )
    with pytest.raises(StructureError, match="CDR rules"):
        heavy_cdrs(vnar)


def test_template_choice_by_identity():
    rows = {r["template"]: r for r in template_identities()}
    assert max(rows, key=lambda t: rows[t]["VH_identity"]) == "3BN9"
    assert max(rows, key=lambda t: rows[t]["VL_identity"]) == "2NYY"
    assert rows["3BN9"]["VH_identity"] > 0.85


@pytest.mark.slow
def test_denosumab_fv_model():
    result = build_denosumab_model("fv")
    seqs = denosumab_sequences()
    assert chain_sequence(result.assembly, "H") == seqs["VH"]
    assert chain_sequence(result.assembly, "L") == seqs["VL"]
    report = result.report
    assert report["denosumab"]["composite_template"]["vh_template"] == "3BN9"
    assert report["denosumab"]["composite_template"]["vl_superposition_ca_rmsd_angstrom"] < 2.0
    # the two intrachain V-domain disulfides (H22-H96, L23-L89) are intact
    ss = {(a, b) for a, b, d in report["clashes_after"]["disulfides"] if d < 2.3}
    assert {("H:96", "H:22"), ("L:89", "L:23")} <= ss | {(b, a) for a, b in ss}
    rebuilt = report["chains"]["H"]["rebuilt_segments"]
    assert any(99 <= lo <= 111 for lo, _ in rebuilt)  # CDR-H3 is longer than in 3BN9
    assert result.assembly.provenance["model"] is True


def _docked(species: str, pose: int):
    from rankbind.structures import structures_dir
    from rankbind.structures.assembly import read_assembly

    models = structures_dir() / "models"
    return (
        read_assembly(models / f"denosumab_docking/{species}/pose_{pose:02d}.pdb"),
        read_assembly(models / "denosumab_fab/denosumab_fab_model.pdb"),
    )


def test_fab_on_docked_fv_superposes_variable_domains():
    import numpy as np

    from rankbind.modelling.fab import fab_on_docked_fv

    pose, fab = _docked("human", 1)
    complex_, record = fab_on_docked_fv(pose, fab)
    assert [c.chain_id for c in complex_.chains] == ["A", "B", "C", "H", "L"]
    assert [c.molecule for c in complex_.chains][3:] == ["FAB_HEAVY", "FAB_LIGHT"]
    n_antigen = sum(a.chain in "ABC" for a in pose.atoms if a.record == "ATOM")
    assert len(complex_.atoms) == n_antigen + sum(a.record == "ATOM" for a in fab.atoms)
    # independent check: C-alpha deviations recomputed from the placed coordinates
    pose_ca = {(a.chain, a.resseq): a.xyz for a in pose.atoms if a.name == "CA" and a.chain in "HL"}
    placed_ca = {
        (a.chain, a.resseq): a.xyz for a in complex_.atoms if a.name == "CA" and a.chain in "HL"
    }
    shared = sorted(set(pose_ca) & set(placed_ca))
    d = np.array([np.subtract(pose_ca[k], placed_ca[k]) for k in shared])
    assert len(shared) == record["fv_superposition_n_ca"] > 200
    assert np.sqrt((d**2).sum(1).mean()) == pytest.approx(
        record["fv_superposition_ca_rmsd_angstrom"], abs=1e-3
    )
    assert record["fv_superposition_ca_rmsd_angstrom"] < 1.0  # Fv and Fab models share templates
    # clash count against a k-d tree on a pose whose constant domains do hit RANKL
    pose, fab = _docked("mouse", 2)
    complex_, record = fab_on_docked_fv(pose, fab)
    antigen = np.array([a.xyz for a in complex_.atoms if a.chain in "ABC" and a.element != "H"])
    constant = [
        a.xyz
        for a in complex_.atoms
        if a.chain in "HL" and (a.chain, a.resseq) not in pose_ca and a.element != "H"
    ]
    # brute force, one constant-domain atom at a time
    hits = sum(bool((np.linalg.norm(antigen - x, axis=1) < 3.0).any()) for x in constant)
    assert record["constant_domain_atoms_clashing"] == hits > 0


def test_fab_on_docked_fv_rejects_misnumbered_fab():
    from dataclasses import replace

    from rankbind.modelling.fab import fab_on_docked_fv

    pose, fab = _docked("human", 1)
    shifted = replace(fab, atoms=[replace(a, resseq=a.resseq + 1) for a in fab.atoms])
    with pytest.raises(StructureError, match=r"H\d+ is [A-Z]{3} but the pose's Fv has"):
        fab_on_docked_fv(pose, shifted)
    with pytest.raises(StructureError, match=r"no chain\(s\) \['H', 'L'\]"):
        fab_on_docked_fv(replace(pose, chains=pose.chains[:3]), fab)


def test_relax_separates_interlocked_side_chains():
    """The Fab model's VH W108 / VL Y37 rings overlap (2.2 Å, listed in its clash report) and
    survive minimisation; relax rebuilds both side chains and the rings part."""
    import numpy as np

    from rankbind.modelling.threading import relax
    from rankbind.structures.assembly import extract

    _, fab = _docked("human", 1)
    piece = extract(fab, ["FAB_HEAVY/H:100-112", "FAB_LIGHT/L:30-45"])

    def ring_gap(atoms):
        ring = {"CG", "CD1", "CD2", "CE1", "CE2", "CE3", "CZ", "CZ2", "CZ3", "CH2", "OH", "NE1"}
        w = np.array([a.xyz for a in atoms if (a.chain, a.resseq) == ("H", 108) and a.name in ring])
        y = np.array([a.xyz for a in atoms if (a.chain, a.resseq) == ("L", 37) and a.name in ring])
        return np.sqrt(((w[:, None] - y[None]) ** 2).sum(-1)).min()

    assert ring_gap(piece.atoms) < 2.5
    relaxed, record = relax(piece, max_iterations=200)
    assert record["side_chains_rebuilt"] == ["H:108", "L:37"]
    assert record["clashes_after"]["n_clashes"] == 0
    assert ring_gap(relaxed.atoms) > 3.0
    assert record["ca_rmsd_moved_angstrom"] < 1.0  # C-alpha restrained (1000 kJ/mol/nm²)
