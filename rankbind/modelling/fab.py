"""Denosumab Fv/Fab homology model and CDR identification.

CDRs use the **Kabat** definitions, located on the sequence with the published
sequence rules of A.C.R. Martin (bioinf.org.uk "How to identify the CDRs by looking at a
sequence"): L1 follows the Cys near position 23 and precedes W-[YLF]-[QLH]; L2 starts 16
after L1 and has 7 residues; L3 starts 33 after L2 and precedes F-G-x-G; H1 starts 9
after the Cys near position 22 and precedes W-[VIA]; H2 starts 15 after H1 and precedes
[KR]-[LIVFTA]-[TSIA]; H3 starts 33 after H2 and precedes W-G-x-G. Positions are
reported 1-based along the chain (sequential), not in Kabat numbering.

Single-domain antibodies (camelid VHH, nanobodies) follow the same heavy-chain rules with
two adaptations: Kabat position 37, after Trp36, is a VHH hallmark residue, mostly Phe or
Tyr instead of Val (Muyldermans 2013, *Annu. Rev. Biochem.* 82:775, hallmarks
F/Y37-E44-R45-G/L/F47), so H1 precedes W-[VIAFY]; and CDR-H3 is often long (up to 24+
residues in VHH, Muyldermans 2013), so W-G-x-G is searched up to 32 residues after the
H3 start. Where the residue after CDR-H2 is not K/R (e.g. IGHV5's Q66), H2's end is
placed by the same fixed Kabat FR3 length the H3 rule uses: 29 residues before Cys92 (the
Cys 3 before CDR-H3). Shark VNAR domains have no CDR2 and are outside these rules.

Model: VH and VL templates are the Fab templates of the catalogue with the highest
identity to each domain. The VL template is superposed (C-alpha of aligned framework
residues) onto the light chain of the VH template, which supplies the VH/VL packing and,
for a Fab, the CH1/CL constant domains. Sequences are then threaded
(:mod:`rankbind.modelling.threading`); CDR loops of different length are rebuilt by
PDBFixer and the whole model is minimised with heavy-atom restraints on template atoms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from rankbind.errors import StructureError
from rankbind.modelling.threading import Target, ThreadingResult, thread
from rankbind.structures import Assembly, build_assembly, catalogue
from rankbind.structures.geometry import nearest_distances, superpose
from rankbind.structures.sequences import align, chain_residues, fasta_sequence

DENOSUMAB_FASTA = "denosumab.fasta"
J_LIGHT = 10  # F-G-x-G-T-K-V-E-I-K: the light-chain J segment after CDR-L3
J_HEAVY = 11  # W-G-x-G-T-L-V-T-V-S-S: the heavy-chain J segment after CDR-H3


@dataclass(frozen=True)
class CDR:
    """One CDR: 1-based inclusive sequential positions and its sequence."""

    name: str
    start: int
    end: int
    sequence: str


def _find(pattern: str, seq: str, lo: int, hi: int, what: str) -> int:
    for k in range(max(lo, 0), min(hi, len(seq)) + 1):
        if re.match(pattern, seq[k:]):
            return k
    raise StructureError(f"CDR rules: {what} not found (pattern {pattern}) in {seq}")


def light_cdrs(seq: str) -> list[CDR]:
    """Kabat CDR-L1/L2/L3 of a light-chain (variable) sequence."""
    cys = _find("C", seq, 19, 25, "Cys before CDR-L1")
    l1s = cys + 1
    trp = _find("W[YLF][QLH]", seq, l1s + 10, l1s + 17, "W-[YLF]-[QLH] after CDR-L1")
    l1e = trp - 1
    l2s, l2e = l1e + 16, l1e + 22
    l3s = l2e + 33
    fgxg = _find("FG.G", seq, l3s + 7, l3s + 11, "F-G-x-G after CDR-L3")
    return [
        CDR("L1", l1s + 1, l1e + 1, seq[l1s : l1e + 1]),
        CDR("L2", l2s + 1, l2e + 1, seq[l2s : l2e + 1]),
        CDR("L3", l3s + 1, fgxg, seq[l3s:fgxg]),
    ]


def heavy_cdrs(seq: str) -> list[CDR]:
    """Kabat CDR-H1/H2/H3 of a heavy-chain (variable) sequence."""
    cys = _find("C", seq, 19, 25, "Cys before CDR-H1")
    h1s = cys + 9
    trp = _find("W[VIAFY]", seq, h1s + 5, h1s + 7, "W-[VIAFY] after CDR-H1")
    h1e = trp - 1
    h2s = h1e + 15
    try:
        after = _find("[KR][LIVFTA][TSIA]", seq, h2s + 16, h2s + 19, "K/R-x-x after CDR-H2")
    except StructureError:  # H2 end from Cys92 (FR3: 66-94 with 82A-C, 29 before Cys92)
        after = _find("C", seq, h2s + 45, h2s + 48, "K/R-x-x after CDR-H2 or Cys92") - 29
    h2e = after - 1
    h3s = h2e + 33
    if seq[h3s - 3] != "C":
        raise StructureError(f"CDR rules: no Cys 3 residues before CDR-H3 at {h3s + 1} in {seq}")
    wgxg = _find("WG.G", seq, h3s + 3, h3s + 32, "W-G-x-G after CDR-H3")
    return [
        CDR("H1", h1s + 1, h1e + 1, seq[h1s : h1e + 1]),
        CDR("H2", h2s + 1, h2e + 1, seq[h2s : h2e + 1]),
        CDR("H3", h3s + 1, wgxg, seq[h3s:wgxg]),
    ]


def variable_length(seq: str, chain: str) -> int:
    """Length of the variable domain (through the J segment) of a heavy or light chain."""
    if chain == "H":
        return heavy_cdrs(seq)[-1].end + J_HEAVY
    return light_cdrs(seq)[-1].end + J_LIGHT


def denosumab_sequences() -> dict[str, str]:
    """VH, VL, light chain and Fab heavy chain (VH + IgG2 CH1 + ERK) of denosumab."""
    return {
        "VH": fasta_sequence(DENOSUMAB_FASTA, "denosumab_VH"),
        "VL": fasta_sequence(DENOSUMAB_FASTA, "denosumab_VL"),
        "LC": fasta_sequence(DENOSUMAB_FASTA, "denosumab_LC"),
        "Fab_HC": fasta_sequence(DENOSUMAB_FASTA, "denosumab_Fab_HC_ASSEMBLED_UNVERIFIED"),
    }


def template_identities() -> list[dict]:
    """Identity of denosumab VH/VL to the variable domain of every Fab template."""
    seqs = denosumab_sequences()
    rows = []
    for name, entry in catalogue().items():
        if entry.kind != "fab_template":
            continue
        fab = build_assembly(name, "fab")
        row = {"template": name}
        for chain, key in (("H", "VH"), ("L", "VL")):
            tseq = "".join(r.code for r in chain_residues(fab, chain))
            vseq = tseq[: variable_length(tseq, chain)]
            row[f"{key}_identity"] = round(align(seqs[key], vseq).identity, 4)
        rows.append(row)
    return rows


def composite_template(vh_template: str, vl_template: str, fab: bool) -> tuple[Assembly, dict]:
    """Heavy chain of ``vh_template`` + the VL of ``vl_template`` superposed onto the VL of
    ``vh_template`` (+ its CL for a Fab). Returns the assembly and a superposition record."""
    frame = build_assembly(vh_template, "fab")
    donor = build_assembly(vl_template, "fab")
    f_res, d_res = chain_residues(frame, "L"), chain_residues(donor, "L")
    f_seq, d_seq = "".join(r.code for r in f_res), "".join(r.code for r in d_res)
    nf, nd = variable_length(f_seq, "L"), variable_length(d_seq, "L")
    h_res = chain_residues(frame, "H")
    nh = variable_length("".join(r.code for r in h_res), "H")
    ca = {(a.chain, a.resseq, a.icode): a.xyz for a in frame.atoms if a.name == "CA"}
    dca = {(a.chain, a.resseq, a.icode): a.xyz for a in donor.atoms if a.name == "CA"}
    aln = align(d_seq[:nd], f_seq[:nf]).query_to_reference()
    pairs = [(d_res[q], f_res[r]) for q, r in aln.items()]
    mob = np.array([dca[("L", d.number, d.icode)] for d, _ in pairs])
    tgt = np.array([ca[("L", f.number, f.icode)] for _, f in pairs])
    fit = superpose(mob, tgt)
    rot, trans, rmsd = fit.rotation, fit.translation, fit.rmsd
    keep_vl = {(r.number, r.icode) for r in d_res[:nd]}
    keep_h = {(r.number, r.icode) for r in (h_res if fab else h_res[:nh])}
    keep_cl = {(r.number, r.icode) for r in f_res[nf:]} if fab else set()
    atoms = [
        a
        for a in frame.atoms
        if a.record == "ATOM" and a.chain == "H" and (a.resseq, a.icode) in keep_h
    ]
    light = [
        replace(a, xyz=tuple(np.asarray(a.xyz) @ rot.T + trans), resseq=k)
        for k, a in _sequential(donor, keep_vl)
    ]
    offset = len(keep_vl)
    light += [replace(a, resseq=offset + k) for k, a in _sequential(frame, keep_cl, chain="L")]
    record = {
        "vh_template": vh_template,
        "vl_template": vl_template,
        "vl_superposition_ca_rmsd_angstrom": round(rmsd, 3),
        "vl_superposition_n_ca": len(pairs),
        "constant_domains_from": vh_template if fab else None,
    }
    assembly = Assembly(
        name=f"{vh_template}H+{vl_template}VL" + (f"+{vh_template}CL" if fab else ""),
        kind="fab",
        chains=frame.chains,
        atoms=atoms + light,
        provenance={"composite_template": record, "frame": frame.provenance},
    )
    return assembly, record


def _sequential(assembly: Assembly, keys: set, chain: str = "L"):
    """(new 1-based number, atom) for atoms of the residues ``keys`` of ``chain``."""
    order: dict[tuple[int, str], int] = {}
    for a in assembly.atoms:
        if a.record == "ATOM" and a.chain == chain and (a.resseq, a.icode) in keys:
            order.setdefault((a.resseq, a.icode), len(order) + 1)
            yield order[(a.resseq, a.icode)], replace(a, icode="")


def build_denosumab_model(
    kind: str = "fv", minimize: bool = True, vh_template: str | None = None
) -> ThreadingResult:
    """Denosumab Fv (VH + VL) or Fab (+ IgG2 CH1 + kappa CL) homology model.

    Chains H and L numbered 1..n along the modelled sequence. The report holds template
    identities, the chosen templates, CDRs (Kabat, by sequence rules) and the threading
    report (changed residues, rebuilt loops, clashes). ``vh_template``: the Fab template
    of the heavy chain (and VH/VL packing); default the one of highest VH identity. The
    VL template is always the one of highest VL identity."""
    if kind not in ("fv", "fab"):
        raise StructureError(f"denosumab model kind must be 'fv' or 'fab', not '{kind}'")
    seqs = denosumab_sequences()
    identities = template_identities()
    names = [r["template"] for r in identities]
    if vh_template is not None and vh_template not in names:
        raise StructureError(f"vh_template {vh_template!r} is not a Fab template: {names}")
    vh_t = vh_template or max(identities, key=lambda r: r["VH_identity"])["template"]
    vl_t = max(identities, key=lambda r: r["VL_identity"])["template"]
    template, record = composite_template(vh_t, vl_t, fab=kind == "fab")
    heavy = seqs["Fab_HC"] if kind == "fab" else seqs["VH"]
    light = seqs["LC"] if kind == "fab" else seqs["VL"]
    targets = {
        "H": Target(heavy, 1, "human", None, f"denosumab {kind} heavy"),
        "L": Target(light, 1, "human", None, f"denosumab {kind} light"),
    }
    result = thread(template, targets, name=f"denosumab_{kind}", minimize=minimize)
    cdrs = heavy_cdrs(seqs["VH"]) + light_cdrs(seqs["VL"])
    result.report["denosumab"] = {
        "kind": kind,
        "template_identities": identities,
        "composite_template": record,
        "cdr_scheme": "Kabat, located by Martin's sequence rules; 1-based sequential positions",
        "cdrs": [c.__dict__ for c in cdrs],
        "sequence_sources": {
            "VH/VL/LC": "DrugBank DB06643 via structures/sequences/denosumab.fasta",
            "CH1": "IgG2 CH1 + ERK, identical to UniProt P01859 1-101 (structures/SOURCES.md)",
        },
        "label": "MODEL: homology model, not an experimental structure",
    }
    result.assembly.provenance["denosumab"] = result.report["denosumab"]
    return result


FAB_CHAINS = ("H", "L")


def fab_on_docked_fv(
    pose: Assembly, fab: Assembly, clash_angstrom: float = 3.0, relax_iterations: int = 0
) -> tuple[Assembly, dict]:
    """The Fab model placed on a docked Fv pose: a Fab–antigen complex MODEL.

    The Fab (chains H, L, numbered 1..n along its sequence, so its variable domains carry
    the Fv model's numbers) is superposed onto the pose's Fv by the C-alpha atoms of the
    residues both share (same chain, number and residue name); the pose's antigen chains
    are kept and the Fv is replaced. The record gives the superposition RMSD (Å), how
    many C-alpha atoms it used, and the constant-domain heavy atoms within
    ``clash_angstrom`` of the antigen (rigid placement: a clash is reported, not fixed).
    ``relax_iterations`` > 0 then relieves the clashes of the rigid pose (the docked
    interface, the Fab model's own) by C-alpha-restrained minimisation
    (:func:`rankbind.modelling.threading.relax`), recorded under ``relaxation``."""
    for name, assembly in (("pose", pose), ("Fab", fab)):
        missing = [c for c in FAB_CHAINS if c not in assembly.chain_ids()]
        if missing:
            raise StructureError(f"{assembly.name} ({name}): no chain(s) {missing} (H, L)")
    ca_pose = {
        (a.chain, a.resseq): a for a in pose.atoms if a.name == "CA" and a.chain in FAB_CHAINS
    }
    pairs = []
    for a in fab.atoms:
        key = (a.chain, a.resseq)
        if a.name == "CA" and key in ca_pose:
            if ca_pose[key].resname != a.resname:
                raise StructureError(
                    f"{fab.name} {a.chain}{a.resseq} is {a.resname} but the pose's Fv has "
                    f"{ca_pose[key].resname}: the Fab and the docked Fv are not numbered alike"
                )
            pairs.append((a.xyz, ca_pose[key].xyz))
    if len(pairs) < 50:
        raise StructureError(
            f"only {len(pairs)} C-alpha atoms shared by {fab.name} and {pose.name}'s Fv"
        )
    mobile, target = (np.array(x, dtype=float) for x in zip(*pairs, strict=True))
    fit = superpose(mobile, target)
    rot, trans, rmsd = fit.rotation, fit.translation, fit.rmsd
    placed = [
        replace(a, xyz=tuple(np.asarray(a.xyz) @ rot.T + trans))
        for a in fab.atoms
        if a.record == "ATOM"
    ]
    antigen = [c for c in pose.chains if c.chain_id not in FAB_CHAINS]
    antigen_ids = {c.chain_id for c in antigen}
    antigen_atoms = [a for a in pose.atoms if a.record == "ATOM" and a.chain in antigen_ids]
    constant = np.array(
        [a.xyz for a in placed if (a.chain, a.resseq) not in ca_pose and a.element != "H"]
    )
    heavy = np.array([a.xyz for a in antigen_atoms if a.element != "H"])
    nearest = nearest_distances(constant, heavy)  # (n_constant,) Å to the closest antigen atom
    record = {
        "label": "MODEL: Fab homology model placed rigidly on a docked Fv pose",
        "fv_superposition_ca_rmsd_angstrom": round(rmsd, 3),
        "fv_superposition_n_ca": len(pairs),
        "constant_domain_clash_cutoff_angstrom": clash_angstrom,
        "constant_domain_atoms_clashing": int((nearest < clash_angstrom).sum()),
        "constant_domain_min_distance_angstrom": round(float(nearest.min()), 2),
        "pose": pose.name,
        "fab": fab.name,
    }
    fab_chains = tuple(fab.chain(c) for c in FAB_CHAINS)
    complex_ = Assembly(
        name=f"{fab.name}+{pose.name}",
        kind="fab_complex",
        chains=tuple(antigen) + fab_chains,
        atoms=antigen_atoms + placed,
        seqres={c: s for c, s in pose.seqres.items() if c in antigen_ids}
        | {c: s for c, s in fab.seqres.items() if c in FAB_CHAINS},
        ssbonds=[b for b in pose.ssbonds if b[0][0] in antigen_ids] + list(fab.ssbonds),
        provenance={"fab_on_docked_fv": record, "pose": pose.provenance, "fab": fab.provenance},
    )
    if relax_iterations > 0:
        from rankbind.modelling.threading import relax

        complex_, record["relaxation"] = relax(complex_, max_iterations=relax_iterations)
        complex_.provenance["fab_on_docked_fv"] = record
    return complex_, record
