"""Same-species RANKL–receptor complexes as MODELS, and the validation of the method.

No human RANK and no mouse OPG structure exists here, so both species' complexes are
completed by modelling:

- **human RANK** (Q9Y6Q6 30–212) threaded onto mouse RANK of 4GIQ or 3ME2, paired with
  the human RANKL crystal (3URF chain A) superposed onto the template's mouse RANKL;
- **mouse OPG** (O08712 22–186) threaded onto human OPG of 3URF, paired with the mouse
  RANKL crystal (4GIQ chain A) superposed onto the template's human RANKL.

Method (:func:`build_complex_model`, recorded in each model's JSON):

1. The template's asymmetric unit (one RANKL protomer A + one receptor, renamed R).
2. :func:`rankbind.modelling.threading.thread` puts the receptor sequence on R (identical
   residues keep all template atoms, substitutions keep backbone + CB, PDBFixer rebuilds
   the rest); no minimisation yet.
3. The partner-species RANKL crystal chain is superposed (Kabsch on the C-alpha atoms of
   aligned residues) onto the template's RANKL and replaces it.
4. The hexamer is built with the template's REMARK 350 operators (the receptor binds the
   groove between two protomers, so clashes can only be judged on the assembly) and relaxed
   with :func:`rankbind.modelling.threading.relax` (PDBFixer hydrogens, C-alpha-restrained
   minimisation, interlocked side chains rebuilt).
5. Chains A and R of the relaxed hexamer are written with the template's BIOMT operators,
   so ``build_assembly(<model entry>, kind)`` gives every assembly kind (``asu``,
   ``trimer``, ``trimer_receptor``, ``interface``, ``hexamer``) as for a crystal.

Validation on a known answer (:func:`validate_rankl_threading`): the same threading puts
human RANKL on mouse RANKL (4GIQ), and the model is compared with the human RANKL crystal
(3URF): C-alpha and side-chain RMSD, and the OPG interface contacts recovered (CAPRI fnat
definition, heavy atoms within 5 Å) when the model replaces RANKL in the 3URF complex.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rankbind.errors import StructureError
from rankbind.modelling.mutations import select_chains
from rankbind.modelling.threading import Target, clash_report, relax, thread
from rankbind.structures import Assembly, ChainInfo, ChainSpec, build_assembly
from rankbind.structures.catalogue import Entry
from rankbind.structures.geometry import nearest_distances, superpose
from rankbind.structures.pdbfile import read_pdb
from rankbind.structures.sequences import align, chain_residues, fasta_sequence

MODELS_SUBDIR = "models/species_complexes"
SIDE_CHAIN_EXCLUDED = ("N", "CA", "C", "O", "OXT")
FNAT_CUTOFF_ANGSTROM = 5.0
DISULFIDE_MAX_ANGSTROM = 2.5

CONFIDENCE = (
    "MODEL, not an experimental structure. Backbone: the template crystal's (receptor "
    "sequence identity {identity:.0%} to the template over {n_aligned} aligned residues, "
    "no gaps in the aligned core); RANKL: the partner-species crystal superposed. "
    "Side chains of the {n_changed} substituted receptor residues are rebuilt by PDBFixer "
    "and minimised: expect side-chain placements to be the least reliable part (see the "
    "validation: human RANKL threaded on mouse RANKL vs its crystal). Confidence: high for "
    "the fold and the groove position, medium for interface side-chain contacts."
)


@dataclass(frozen=True)
class ComplexModelSpec:
    """What to build: receptor sequence on a template complex, partner RANKL crystal."""

    name: str  # catalogue entry name of the model
    template: str  # crystal providing the receptor backbone and the BIOMT operators
    template_receptor_chain: str
    receptor_molecule: str  # RANK or OPG
    receptor_species: str
    receptor_uniprot: str
    receptor_fasta: str  # structures/sequences file (one UniProt record, numbered from 1)
    receptor_range: tuple[int, int]  # UniProt residues threaded (terminal overhangs dropped)
    ligand_entry: str  # crystal whose RANKL chain A replaces the template's RANKL
    ligand_species: str
    ligand_uniprot: str

    @property
    def file(self) -> str:
        return f"{MODELS_SUBDIR}/{self.name}.pdb"


MODEL_SPECS: dict[str, ComplexModelSpec] = {
    "HUMAN_RANK_4GIQ": ComplexModelSpec(
        "HUMAN_RANK_4GIQ", "4GIQ", "R", "RANK", "human", "Q9Y6Q6",
        "uniprot_human_RANK_Q9Y6Q6.fasta", (30, 212), "3URF", "human", "O14788",
    ),
    "HUMAN_RANK_3ME2": ComplexModelSpec(
        "HUMAN_RANK_3ME2", "3ME2", "R", "RANK", "human", "Q9Y6Q6",
        "uniprot_human_RANK_Q9Y6Q6.fasta", (30, 212), "3URF", "human", "O14788",
    ),
    "MOUSE_OPG_3URF": ComplexModelSpec(
        "MOUSE_OPG_3URF", "3URF", "Z", "OPG", "mouse", "O08712",
        "uniprot_mouse_OPG_O08712.fasta", (22, 186), "4GIQ", "mouse", "O35235",
    ),
}  # fmt: skip
HUMAN_RANK_DEFAULT = "HUMAN_RANK_4GIQ"


def _spec(name: str) -> ComplexModelSpec:
    key = name.upper()
    if key not in MODEL_SPECS:
        raise StructureError(f"unknown complex model '{name}' (known: {', '.join(MODEL_SPECS)})")
    return MODEL_SPECS[key]


def uniprot_sequence(file: str) -> str:
    """The single UniProt record of ``structures/sequences/<file>`` (numbered from 1)."""
    return fasta_sequence(file, "sp")


def uniprot_disulfides(accession: str) -> list[tuple[int, int]]:
    """Disulfide bonds of a UniProt feature table in ``structures/sequences/uniprot_features``."""
    from rankbind.modelling.isoforms import uniprot_features

    return [
        (f["start"], f["end"]) for f in uniprot_features(accession) if f["type"] == "Disulfide bond"
    ]


def _rename_chain(assembly: Assembly, old: str, new: str) -> Assembly:
    if old == new:
        return assembly
    atoms = [replace(a, chain=new) if a.chain == old else a for a in assembly.atoms]
    chains = tuple(replace(c, chain_id=new) if c.chain_id == old else c for c in assembly.chains)
    seqres = {(new if k == old else k): v for k, v in assembly.seqres.items()}
    ssbonds = [tuple((new if c == old else c, n) for c, n in pair) for pair in assembly.ssbonds]
    return replace(assembly, atoms=atoms, chains=chains, seqres=seqres, ssbonds=ssbonds)


def superpose_chain(
    mobile: Assembly, mobile_chain: str, target: Assembly, target_chain: str
) -> tuple[list, dict]:
    """Heavy ATOM records of ``mobile_chain`` moved onto ``target_chain`` by the C-alpha
    atoms of residues aligned between the two (global alignment of the observed
    sequences); returns (atoms, record with RMSD in Å and the number of C-alpha pairs)."""
    mres, tres = chain_residues(mobile, mobile_chain), chain_residues(target, target_chain)
    aln = align("".join(r.code for r in mres), "".join(r.code for r in tres))
    mca = {
        (a.resseq, a.icode): a.xyz
        for a in mobile.atoms
        if a.chain == mobile_chain and a.name == "CA"
    }
    tca = {
        (a.resseq, a.icode): a.xyz
        for a in target.atoms
        if a.chain == target_chain and a.name == "CA"
    }
    pairs = [
        (mca[(mres[q].number, mres[q].icode)], tca[(tres[r].number, tres[r].icode)])
        for q, r in aln.query_to_reference().items()
    ]
    if len(pairs) < 20:
        raise StructureError(
            f"only {len(pairs)} aligned C-alpha atoms between {mobile.name} {mobile_chain} "
            f"and {target.name} {target_chain}"
        )
    x, y = (np.array(v, dtype=float) for v in zip(*pairs, strict=True))
    fit = superpose(x, y)
    rot, trans, rmsd = fit.rotation, fit.translation, fit.rmsd
    atoms = [
        replace(a, xyz=tuple(float(v) for v in np.asarray(a.xyz) @ rot.T + trans))
        for a in mobile.atoms
        if a.record == "ATOM" and a.chain == mobile_chain and a.element != "H"
    ]
    return atoms, {
        "ca_rmsd_angstrom": round(rmsd, 3),
        "n_ca": len(pairs),
        "identity": round(aln.identity, 4),
    }


def _biomt_lines(path: Path) -> list[str]:
    return [
        line.rstrip("\n") for line in path.read_text().splitlines() if line.startswith("REMARK 350")
    ]


def model_pdb_text(asu: Assembly, template_path: Path, remarks: list[str]) -> str:
    """PDB text of a model ASU: MODEL remarks, the template's REMARK 350 operators, then
    :meth:`Assembly.to_pdb_text` (SEQRES, SSBOND, ATOM)."""
    head = [f"REMARK 999 {line}"[:80] for line in remarks]
    return "\n".join(head + _biomt_lines(template_path)) + "\n" + asu.to_pdb_text()


def _entry_for(path: Path, name: str, chains: tuple[ChainInfo, ...], provenance: dict) -> Entry:
    specs = {c.chain_id: ChainSpec(c.chain_id, c.molecule, c.species, c.uniprot, 0) for c in chains}
    return Entry(
        name=name, path=path, sha256="", title=provenance.get("title", name), method="MODEL",
        resolution_angstrom=None, citation="rankbind model", source="rankbind.modelling.complexes",
        kind="model", chains=specs,
    )  # fmt: skip


def expected_disulfides(
    spec: ComplexModelSpec, template: Assembly, model: Assembly
) -> tuple[list, str]:
    """Disulfides the receptor model must have: the UniProt feature table of the receptor
    where one is shipped, else the template chain's SSBOND records mapped onto the model's
    numbering through the alignment of the two chains (each pair must be Cys-Cys)."""
    from rankbind.modelling.isoforms import uniprot_features

    try:
        feats = uniprot_features(spec.receptor_uniprot)
        return (
            [(f["start"], f["end"]) for f in feats if f["type"] == "Disulfide bond"],
            f"UniProt {spec.receptor_uniprot} feature table (Disulfide bond)",
        )
    except StructureError:
        pass
    tres, mres = chain_residues(template, "R"), chain_residues(model, "R")
    mapping = align(
        "".join(r.code for r in tres), "".join(r.code for r in mres)
    ).query_to_reference()
    number = {tres[q].number: mres[r].number for q, r in mapping.items()}
    pairs = [
        (number[i], number[j])
        for (ci, i), (cj, j) in template.ssbonds
        if ci == cj == "R" and i in number and j in number
    ]
    return pairs, (
        f"template {spec.template} chain {spec.template_receptor_chain} SSBOND records mapped "
        f"by alignment (no UniProt feature table for {spec.receptor_uniprot} here)"
    )


def disulfide_check(
    assembly: Assembly, chain_id: str, accession: str, expected: tuple[list, str] | None = None
) -> dict:
    """SG–SG distance (Å) of every expected disulfide whose two Cys are modelled
    (``expected``: (pairs, source); default: the UniProt feature table of ``accession``)."""
    pairs, source = expected or (
        uniprot_disulfides(accession),
        f"UniProt {accession} feature table (Disulfide bond)",
    )
    sg = {
        a.resseq: np.asarray(a.xyz)
        for a in assembly.atoms
        if a.chain == chain_id and a.name == "SG" and a.resname in ("CYS", "CYX")
    }
    rows, intact = [], True
    for i, j in pairs:
        if i in sg and j in sg:
            d = float(np.linalg.norm(sg[i] - sg[j]))
            intact &= d <= DISULFIDE_MAX_ANGSTROM
            rows.append([i, j, round(d, 3)])
    return {
        "expected_from": source,
        "n_expected": len(pairs),
        "modelled": rows,
        "n_modelled": len(rows),
        "all_intact": bool(intact),
        "max_sg_sg_angstrom": DISULFIDE_MAX_ANGSTROM,
    }


def assembly_clashes(assembly: Assembly) -> dict:
    """clash_report of an assembly after PDBFixer adds hydrogens (the bonded topology)."""
    from rankbind.modelling.threading import _fix

    fixer, _ = _fix(assembly.to_pdb_text())
    report = clash_report(fixer.topology, fixer.positions)
    return {k: v for k, v in report.items() if k != "disulfides"}


def build_complex_model(name: str, max_iterations: int = 500) -> tuple[Assembly, dict, str]:
    """Build model ``name`` (a key of :data:`MODEL_SPECS`): (ASU assembly, report, PDB text).

    The ASU holds RANKL chain A and receptor chain R in UniProt numbering; the PDB text
    carries the template's BIOMT operators (write it and catalogue it to build assemblies)."""
    from rankbind.structures import get_entry

    spec = _spec(name)
    template_entry = get_entry(spec.template)
    template = select_chains(
        build_assembly(template_entry, "asu"), ["A", spec.template_receptor_chain]
    )
    template = _rename_chain(template, spec.template_receptor_chain, "R")
    full = uniprot_sequence(spec.receptor_fasta)
    lo, hi = spec.receptor_range
    target = Target(
        full[lo - 1 : hi], lo, spec.receptor_species, spec.receptor_uniprot,
        f"{spec.receptor_species} {spec.receptor_molecule} {spec.receptor_uniprot} {lo}-{hi}",
    )  # fmt: skip
    threaded = thread(template, {"R": target}, name=spec.name, minimize=False)
    ligand = build_assembly(spec.ligand_entry, "asu")
    ligand_atoms, superposition = superpose_chain(ligand, "A", threaded.assembly, "A")
    receptor_atoms = [a for a in threaded.assembly.atoms if a.chain == "R"]
    chain_a = replace(ligand.chain("A"), species=spec.ligand_species, uniprot=spec.ligand_uniprot)
    chains = (chain_a, threaded.assembly.chain("R"))
    asu = Assembly(
        spec.name, "asu", chains, ligand_atoms + receptor_atoms,
        seqres={"A": [r.resname for r in chain_residues(ligand, "A")],
                "R": threaded.assembly.seqres["R"]},
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "asu.pdb"
        path.write_text(model_pdb_text(asu, template_entry.path, ["unrelaxed"]))
        hexamer = build_assembly(_entry_for(path, spec.name, chains, {}), "hexamer")
    relaxed, relaxation = relax(hexamer, max_iterations=max_iterations)
    keep, symmetry = symmetric_asu(relaxed, read_pdb(template_entry.path).biomt[:3])
    model = replace(asu, atoms=keep, provenance={"model": True})
    expected = expected_disulfides(spec, template, model)
    model.ssbonds = [
        (("R", i), ("R", j))
        for i, j, d in disulfide_check(model, "R", spec.receptor_uniprot, expected)["modelled"]
    ]
    remarks = [
        f"MODEL {spec.name}: {target.label} threaded on {spec.template} "
        f"{spec.template_receptor_chain}; RANKL from {spec.ligand_entry} A superposed",
        "built by rankbind.modelling.complexes.build_complex_model; not an experimental structure",
    ]
    text = model_pdb_text(model, template_entry.path, remarks)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pdb"
        path.write_text(text)
        entry = _entry_for(path, spec.name, chains, {})
        trimer_receptor = build_assembly(entry, "trimer_receptor")
        hexamer_out = build_assembly(entry, "hexamer")
    chain_report = threaded.report["chains"]["R"]
    report = {
        "label": "MODEL",
        "name": spec.name,
        "confidence": CONFIDENCE.format(
            identity=chain_report["identity"],
            n_aligned=chain_report["n_aligned"],
            n_changed=len(chain_report["changed_residues"]),
        ),
        "method": __doc__.split("Method (")[1].split("Validation on")[0].strip(),
        "template": spec.template,
        "template_citation": template_entry.citation,
        "receptor": {
            "molecule": spec.receptor_molecule,
            "species": spec.receptor_species,
            "uniprot": spec.receptor_uniprot,
            "sequence_file": f"structures/sequences/{spec.receptor_fasta}",
            "range_threaded": list(spec.receptor_range),
        },
        "threading": {k: v for k, v in chain_report.items() if k != "target"},
        "ligand": {
            "entry": spec.ligand_entry,
            "species": spec.ligand_species,
            "uniprot": spec.ligand_uniprot,
            "superposition_on_template_rankl": superposition,
        },
        "symmetric_asu": symmetry,
        "relaxation": {k: v for k, v in relaxation.items() if k not in ("clashes_after",)}
        | {
            "clashes_after": {
                k: v for k, v in relaxation["clashes_after"].items() if k != "disulfides"
            }
        },  # fmt: skip
        "checks": {
            "disulfides": disulfide_check(model, "R", spec.receptor_uniprot, expected),
            "clashes_trimer_receptor": assembly_clashes(trimer_receptor),
            "clashes_hexamer_from_biomt": {
                k: v for k, v in assembly_clashes(hexamer_out).items() if k != "clashes"
            },
            "receptor_sequence_equals_uniprot": _sequence_matches(model, "R", full),
        },
    }
    return model, report, text


def symmetric_asu(hexamer: Assembly, operators, cutoff: float = 6.0) -> tuple[list, dict]:
    """Chains A and R of a relaxed hexamer, made consistent with the BIOMT operators.

    Relaxation treats every copy independently, so the copies stop being exact images of
    each other, and rebuilding the hexamer from (A, R) alone would pair faces that were
    relaxed against different neighbours. Each interface of the rebuilt assembly is
    therefore taken from one relaxed pair: for every pair (A, R), (X, R) (X: the second
    protomer lining R's groove) and (A, B), the residues within ``cutoff`` Å of the partner
    come from the relaxed chain that carries them, mapped back into A's frame with that
    copy's operator (x_A = R^T (x - t)); the remaining residues come from A. Where one
    residue lies on two faces, the receptor faces win (listed as conflicts)."""
    heavy = [a for a in hexamer.atoms if a.record == "ATOM" and a.element != "H"]

    def near(chain: str, partner: str) -> set[int]:
        atoms = [a for a in heavy if a.chain == chain]
        d = nearest_distances(
            np.array([a.xyz for a in atoms]), np.array([a.xyz for a in heavy if a.chain == partner])
        )
        return {a.resseq for a, dist in zip(atoms, d, strict=True) if dist < cutoff}

    faces = {c: near(c, "R") for c in ("B", "C")}
    other = max(faces, key=lambda c: len(faces[c]))
    sources = [  # (chain providing the residues, residues) in priority order
        ("A", near("A", "R")),
        (other, faces[other]),
        ("A", near("A", "B")),
        ("B", near("B", "A")),
    ]
    chosen: dict[int, str] = {}
    conflicts = set()
    for chain, residues in sources:
        for n in residues:
            if n in chosen and chosen[n] != chain:
                conflicts.add(n)
            chosen.setdefault(n, chain)
    by_chain: dict[str, dict[int, list]] = {}
    for a in heavy:
        by_chain.setdefault(a.chain, {}).setdefault(a.resseq, []).append(a)
    chain_a = []
    for n, atoms in by_chain["A"].items():
        source = chosen.get(n, "A")
        if source == "A":
            chain_a += atoms
            continue
        op = operators["ABC".index(source)]
        for a in by_chain[source][n]:
            xyz = op.rotation.T @ (np.asarray(a.xyz) - op.translation)
            chain_a.append(replace(a, chain="A", xyz=tuple(float(v) for v in xyz)))
    record = {
        "method": " ".join(symmetric_asu.__doc__.split("\n\n")[1].split()),
        "second_protomer_in_groove": other,
        "residues_from": {
            c: sorted(n for n, src in chosen.items() if src == c)
            for c in sorted(set(chosen.values()))
        },
        "cutoff_angstrom": cutoff,
        "residues_on_two_faces": sorted(conflicts),
    }
    return chain_a + [a for a in heavy if a.chain == "R"], record


def _sequence_matches(assembly: Assembly, chain_id: str, full: str) -> bool:
    residues = chain_residues(assembly, chain_id)
    return all(full[r.number - 1] == r.code for r in residues)


def write_complex_model(name: str, max_iterations: int = 500) -> dict:
    """Build model ``name`` and write ``structures/<spec.file>`` and its ``.json`` report
    (atomically). Returns the report with the file's sha256 (for the catalogue)."""
    from rankbind.fileio import sha256_file, write_json, write_text
    from rankbind.structures import structures_dir

    spec = _spec(name)
    _, report, text = build_complex_model(name, max_iterations)
    path = structures_dir() / spec.file
    write_text(path, text)
    report["file"] = f"structures/{spec.file}"
    report["sha256"] = sha256_file(path)
    report["validation"] = validation_block()
    write_json(path.with_suffix(".json"), report)
    return report


def validation_block() -> dict | None:
    """The headline validation figures (and the crystal noise floor) from the committed
    ``validation_human_rankl_on_4GIQ.json``, for a model's report; None if not written."""
    import json

    from rankbind.structures import structures_dir

    path = structures_dir() / MODELS_SUBDIR / "validation_human_rankl_on_4GIQ.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    noise = data["noise_floor"]
    return {
        "file": f"structures/{MODELS_SUBDIR}/{path.name}",
        "case": data["minimised"]["case"],
        "figures": data["summary"],
        "noise_floor_two_mouse_rankl_crystals": {
            "ca_rmsd_angstrom": noise["comparison_to_crystal"]["ca_rmsd_angstrom"],
            "side_chain_rmsd_angstrom": noise["comparison_to_crystal"]["side_chain_rmsd_angstrom"],
            "interface_fnat": noise["interface_contacts"]["fnat"],
        },
    }


def load_complex_model(name: str, kind: str = "trimer_receptor") -> Assembly:
    """A committed complex model as an assembly of ``kind`` (through the catalogue)."""
    spec = _spec(name)
    return build_assembly(spec.name, kind)


def human_rank_model(kind: str = "trimer_receptor", template: str = "4GIQ") -> Assembly:
    """The human RANKL–human RANK complex MODEL (RANK threaded on ``template``: 4GIQ or
    3ME2) as an assembly of ``kind``."""
    return load_complex_model(f"HUMAN_RANK_{template.upper()}", kind)


def mouse_opg_model(kind: str = "trimer_receptor") -> Assembly:
    """The mouse RANKL–mouse OPG complex MODEL (OPG threaded on 3URF) of ``kind``."""
    return load_complex_model("MOUSE_OPG_3URF", kind)


# --- validation on a known answer --------------------------------------------------------


def _atom_map(assembly: Assembly, chain_id: str) -> dict[tuple[int, str], tuple[str, np.ndarray]]:
    return {
        (a.resseq, a.name): (a.resname, np.asarray(a.xyz, dtype=float))
        for a in assembly.atoms
        if a.record == "ATOM" and a.chain == chain_id and a.element != "H"
    }


def _rmsd(d: list[np.ndarray]) -> float | None:
    return round(float(np.sqrt(np.mean(np.sum(np.square(d), axis=1)))), 3) if d else None


def compare_to_crystal(
    model: Assembly, crystal: Assembly, chain_id: str, changed: set[int], interface: set[int]
) -> dict:
    """C-alpha RMSD and side-chain heavy-atom RMSD (Å) of ``model`` vs ``crystal`` (same
    chain, same numbering) after C-alpha superposition; side chains by group: all,
    identical-to-template residues, substituted residues (``changed``), and ``interface``
    residues. Symmetric side chains (Asp, Glu, Phe, Tyr, Arg) are compared with their
    equivalent atoms swapped where that is closer."""
    m, c = _atom_map(model, chain_id), _atom_map(crystal, chain_id)
    common_ca = sorted(k for k in m if k in c and k[1] == "CA")
    x = np.array([m[k][1] for k in common_ca])
    y = np.array([c[k][1] for k in common_ca])
    fit = superpose(x, y)
    rot, trans = fit.rotation, fit.translation
    moved = {k: (v[0], v[1] @ rot.T + trans) for k, v in m.items()}
    groups: dict[str, list[np.ndarray]] = {
        "all": [],
        "identical": [],
        "substituted": [],
        "interface": [],
    }
    residues: dict[int, list[tuple[str, str]]] = {}
    for (n, name), (resname, _) in c.items():
        if name not in SIDE_CHAIN_EXCLUDED and (n, name) in moved:
            residues.setdefault(n, []).append((resname, name))
    per_residue = {}
    for n, atoms in residues.items():
        d = _symmetric_deltas(n, atoms, moved, c)
        per_residue[n] = _rmsd(d)
        groups["all"] += d
        groups["substituted" if n in changed else "identical"] += d
        if n in interface:
            groups["interface"] += d
    ca_dev = np.linalg.norm(x @ rot.T + trans - y, axis=1)
    return {
        "n_ca": len(common_ca),
        "ca_rmsd_angstrom": _rmsd(list(x @ rot.T + trans - y)),
        "ca_rmsd_without_deviations_over_2_angstrom": _rmsd(
            [v for v, dev in zip(x @ rot.T + trans - y, ca_dev, strict=True) if dev <= 2.0]
        ),
        "worst_ca_deviations": sorted(
            ([k[0], round(float(v), 2)] for k, v in zip(common_ca, ca_dev, strict=True)),
            key=lambda t: -t[1],
        )[:10],
        "side_chain_rmsd_angstrom": {k: _rmsd(v) for k, v in groups.items()},
        "side_chain_atoms": {k: len(v) for k, v in groups.items()},
        "worst_side_chains": sorted(
            ([n, v] for n, v in per_residue.items() if v is not None), key=lambda t: -t[1]
        )[:10],
    }


_SWAPS = {
    "ASP": (("OD1", "OD2"),), "GLU": (("OE1", "OE2"),), "PHE": (("CD1", "CD2"), ("CE1", "CE2")),
    "TYR": (("CD1", "CD2"), ("CE1", "CE2")), "ARG": (("NH1", "NH2"),),
}  # fmt: skip


def _symmetric_deltas(n, atoms, moved, crystal) -> list[np.ndarray]:
    resname = atoms[0][0]
    names = [name for _, name in atoms]
    direct = [moved[(n, a)][1] - crystal[(n, a)][1] for a in names]
    swaps = _SWAPS.get(resname)
    if not swaps:
        return direct
    swap = {a: b for pair in swaps for a, b in (pair, pair[::-1])}
    alt = [
        moved[(n, swap.get(a, a))][1] - crystal[(n, a)][1]
        if (n, swap.get(a, a)) in moved
        else moved[(n, a)][1] - crystal[(n, a)][1]
        for a in names
    ]
    return alt if sum(np.sum(np.square(alt), 1)) < sum(np.sum(np.square(direct), 1)) else direct


def _residue_contacts(a_atoms: list, b_atoms: list, cutoff: float) -> set:
    from rankbind.modelling.docking import _contacts

    a_xyz = np.array([a.xyz for a in a_atoms])
    b_xyz = np.array([b.xyz for b in b_atoms])
    return _contacts(
        a_xyz,
        [(a.chain, a.resseq) for a in a_atoms],
        b_xyz,
        [(b.chain, b.resseq) for b in b_atoms],
        cutoff,
    )


def interface_recovery(model_chain: Assembly, chain_id: str, complex_entry: str = "3URF") -> dict:
    """Fraction of the crystal's RANKL–receptor residue contacts (heavy atoms within
    FNAT_CUTOFF_ANGSTROM, CAPRI fnat definition) recovered when every RANKL protomer of
    the ``complex_entry`` trimer_receptor assembly is replaced by ``model_chain``
    superposed onto it (receptor kept from the crystal)."""
    crystal = build_assembly(complex_entry, "trimer_receptor")
    heavy = [a for a in crystal.atoms if a.record == "ATOM" and a.element != "H"]
    receptor = [a for a in heavy if a.chain == "R"]
    native_ligand = [a for a in heavy if a.chain in ("A", "B", "C")]
    placed = []
    for protomer in ("A", "B", "C"):
        single = _rename_chain(select_chains(model_chain, [chain_id]), chain_id, protomer)
        atoms, _ = superpose_chain(single, protomer, crystal, protomer)
        placed += atoms
    native = _residue_contacts(native_ligand, receptor, FNAT_CUTOFF_ANGSTROM)
    model = _residue_contacts(placed, receptor, FNAT_CUTOFF_ANGSTROM)
    modelled = {(a.chain, a.resseq) for a in placed}
    native_in_model = {p for p in native if p[0] in modelled}
    return {
        "complex": f"{complex_entry} trimer_receptor (receptor chain R from the crystal)",
        "cutoff_angstrom": FNAT_CUTOFF_ANGSTROM,
        "n_native_contacts": len(native),
        "n_native_contacts_with_modelled_residues": len(native_in_model),
        "n_model_contacts": len(model),
        "fnat": round(len(native_in_model & model) / max(len(native_in_model), 1), 3),
        "fraction_non_native": round(len(model - native) / max(len(model), 1), 3),
        "interface_rankl_residues": sorted({n for (_, n), _ in native}),
    }


def validate_rankl_threading(minimize: bool = True, max_iterations: int = 300) -> dict:
    """Thread human RANKL (3URF construct 162–317) onto mouse RANKL (4GIQ chain A) with
    :func:`thread` and compare with the human RANKL crystal (3URF chain A). Reports the
    baseline too: the mouse template itself against the human crystal (same backbone,
    mouse side chains), so the gain from threading is visible."""
    mouse = select_chains(build_assembly("4GIQ", "asu"), ["A"])
    human = select_chains(build_assembly("3URF", "asu"), ["A"])
    sequence = fasta_sequence("3URF_constructs.fasta", "3URF_A_core")
    result = thread(
        mouse, {"A": Target(sequence, 162, "human", "O14788", "human RANKL 162-317")},
        name="human_RANKL_on_4GIQ", minimize=minimize, max_iterations=max_iterations,
    )  # fmt: skip
    chain = result.report["chains"]["A"]
    changed = {
        int("".join(ch for ch in c.split(">")[1] if ch.isdigit()))
        for c in chain["changed_residues"]
    }
    recovery = interface_recovery(result.assembly, "A")
    interface = set(recovery["interface_rankl_residues"])
    comparison = compare_to_crystal(result.assembly, human, "A", changed, interface)
    return {
        "label": "validation of the threading method on a known answer",
        "case": "human RANKL (3URF construct) threaded on mouse RANKL (4GIQ A) vs the human "
        "RANKL crystal (3URF A)",
        "settings": {
            "minimize": minimize,
            "max_iterations": max_iterations,
            "restraint_k_kj_per_mol_nm2": 1000.0,
            "forcefield": "amber14-all, reaction field 1.0 nm (threading.minimise default)",
        },
        "identity_to_template": chain["identity"],
        "n_substituted": len(changed),
        "substituted_residues": chain["changed_residues"],
        "comparison_to_crystal": comparison,
        "interface_contacts": recovery,
        "clashes_after": result.report["clashes_after"]["n_clashes"],
    }


def validation_summary(minimised: dict, unminimised: dict) -> dict:
    """The JSON block committed next to the models: both variants' headline figures."""

    def head(v: dict) -> dict:
        c = v["comparison_to_crystal"]
        return {
            "ca_rmsd_angstrom": c["ca_rmsd_angstrom"],
            "side_chain_rmsd_angstrom": c["side_chain_rmsd_angstrom"],
            "interface_fnat": v["interface_contacts"]["fnat"],
            "interface_fraction_non_native": v["interface_contacts"]["fraction_non_native"],
        }

    return {"minimised": head(minimised), "pdbfixer_only": head(unminimised)}


def crystal_noise_floor() -> dict:
    """The same figures between two crystals of one sequence (mouse RANKL, 3ME2 chain A
    against 4GIQ chain A; fnat of 3ME2's RANKL placed in the 4GIQ RANKL–RANK complex):
    what two experimental structures of one protein differ by."""
    a = select_chains(build_assembly("3ME2", "asu"), ["A"])
    b = select_chains(build_assembly("4GIQ", "asu"), ["A"])
    recovery = interface_recovery(a, "A", complex_entry="4GIQ")
    comparison = compare_to_crystal(a, b, "A", set(), set(recovery["interface_rankl_residues"]))
    return {
        "case": "mouse RANKL 3ME2 A vs 4GIQ A (two crystals); interface: 4GIQ RANKL-RANK",
        "comparison_to_crystal": comparison,
        "interface_contacts": recovery,
    }


def write_validation(max_iterations: int = 300) -> dict:
    """Write ``structures/models/species_complexes/validation_human_rankl_on_4GIQ.json``:
    the threading validation (minimised and PDBFixer-only) and the crystal noise floor."""
    from rankbind.fileio import write_json
    from rankbind.structures import structures_dir

    minimised = validate_rankl_threading(True, max_iterations)
    unminimised = validate_rankl_threading(False)
    data = {
        "label": "validation of rankbind.modelling.threading on a known answer",
        "summary": validation_summary(minimised, unminimised),
        "noise_floor": crystal_noise_floor(),
        "minimised": minimised,
        "pdbfixer_only": unminimised,
        "reading": (
            "The C-alpha RMSD is that of the mouse template backbone against the human crystal "
            "(threading keeps the template backbone); side-chain RMSDs of substituted residues "
            "measure the rebuild. Compare each figure with the noise floor (two crystals of "
            "the same mouse RANKL)."
        ),
    }
    write_json(structures_dir() / MODELS_SUBDIR / "validation_human_rankl_on_4GIQ.json", data)
    return data


def species_model(entry: str, species: str, kind: str = "interface") -> Assembly:
    """The committed model that puts crystal ``entry`` into ``species`` (a protocol's
    ``model: {species: ...}`` on a system): 4GIQ or 3ME2 + human -> human RANK model,
    3URF + mouse -> mouse OPG model. Raises for combinations without a model."""
    for spec in MODEL_SPECS.values():
        if spec.template == entry.upper() and spec.receptor_species == species:
            return load_complex_model(spec.name, kind)
    known = ", ".join(f"{s.template}+{s.receptor_species}" for s in MODEL_SPECS.values())
    raise StructureError(f"no {species} model of entry '{entry}' (models exist for: {known})")
