"""Denosumab docked onto RANKL with the issue-16 protocol, and what the poses touch.

:func:`denosumab_on_rankl` docks the denosumab Fv model (structures/models/denosumab_fv)
onto a RANKL trimer (human 3URF or mouse 4GIQ crystal, or human RANKL threaded on the
4GIQ trimer: :func:`target_trimer`) with the published epitope
(RANKL T233-Y241 on one protomer, mapped to mouse numbering by alignment) and the Kabat
CDRs as one required restraint, the orientation cone and the issue-16 scoring. For each
top cluster it reports the epitope residues buried, the overlap with the OPG (3URF) and
RANK (4GIQ) footprints, and the per-RANKL-residue Miyazawa-Jernigan contact energy.
With conformer lists it docks an ensemble (issue 16 item 4): RANKL conformers of one
species (:data:`RANKL_CONFORMERS`, superposed by :func:`superposed_trimer`) x Fv CDR-H3
variants (:func:`fv_conformers`, one per VH template), merged by
:func:`rankbind.modelling.docking.dock_ensemble`.

Residue numbers are reported in human numbering: mouse residues are mapped through a
global alignment of 4GIQ chain A to 3URF chain A (:mod:`rankbind.structures.sequences`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from rankbind.modelling import docking as dk
from rankbind.modelling import restraints as rs

ENTRIES = {"human": "3URF", "mouse": "4GIQ", "human_on_mouse": "human RANKL on 4GIQ (model)",
           "mouse_3ME2": "3ME2"}  # fmt: skip
SPECIES = {"human": "human", "mouse": "mouse", "human_on_mouse": "human", "mouse_3ME2": "mouse"}
# RANKL conformers of each species in the shipped data (no unbound RANKL structure is
# shipped): human = 3URF crystal (OPG-bound) + human RANKL threaded on 4GIQ (RANK-bound
# backbone); mouse = 4GIQ and 3ME2 crystals (both RANK-bound)
RANKL_CONFORMERS = {"human": ("human", "human_on_mouse"), "mouse": ("mouse", "mouse_3ME2")}
FV_DEFAULT = "models/denosumab_fv/denosumab_fv_model.pdb"
FV_ENSEMBLE = "models/denosumab_fv_ensemble"
DISTINCT_H3_ANGSTROM = 0.5  # CDR-H3 C-alpha RMSD below which two Fv variants are one
PARTNER = {"3URF": "OPG", "4GIQ": "RANK"}
THREADED_TRIMER = "models/denosumab_docking_seeds/human_rankl_on_4GIQ_trimer.pdb"


def target_trimer(target: str):
    """The RANKL trimer docked as ``target``: "human" (3URF crystal), "mouse" (4GIQ
    crystal), "mouse_3ME2" (3ME2 crystal) or "human_on_mouse" (MODEL: human RANKL 162-317 threaded on all three 4GIQ
    protomers by :func:`rankbind.modelling.threading.thread`, minimised; human numbering;
    built once and kept in ``structures/`` :data:`THREADED_TRIMER`, with the threading
    report beside it as JSON). The threaded trimer
    has the mouse backbone and the human sequence, so docking it against the mouse crystal
    separates the sequence from the backbone."""
    from rankbind.errors import RankbindError
    from rankbind.fileio import write_json
    from rankbind.structures import build_assembly, structures_dir
    from rankbind.structures.assembly import read_assembly

    if target not in ENTRIES:
        raise RankbindError(f"denosumab docking target {target!r}: use one of {sorted(ENTRIES)}")
    if target != "human_on_mouse":
        return build_assembly(ENTRIES[target], "trimer")
    path = structures_dir() / THREADED_TRIMER
    if not path.is_file():
        from rankbind.modelling.threading import Target, thread
        from rankbind.structures.sequences import fasta_sequence

        sequence = fasta_sequence("3URF_constructs.fasta", "3URF_A_core")
        target_seq = Target(sequence, 162, "human", "O14788", "human RANKL 162-317")
        result = thread(build_assembly("4GIQ", "trimer"), dict.fromkeys("ABC", target_seq),
                        name="human_RANKL_on_4GIQ_trimer")  # fmt: skip
        write_json(path.with_suffix(".json"), {"label": "MODEL: threaded, not a crystal",
                                               "threading": result.report})  # fmt: skip
        result.assembly.write_pdb(path)
    return read_assembly(path)


def superposed_trimer(trimer, reference) -> tuple:
    """``trimer`` moved onto ``reference`` by Kabsch superposition of the C-alpha atoms of
    the residues both have (same chain and residue number); returns (moved copy, record
    with the RMSD in Å and the number of C-alpha atoms). Protomers are matched by chain
    ID; a fit above 3 Å (a protomer mismatch) is an error."""
    from dataclasses import replace

    from rankbind.errors import StructureError
    from rankbind.structures.geometry import superpose

    ref = {(a.chain, a.resseq): a.xyz for a in reference.atoms if a.name == "CA"}
    mob = {(a.chain, a.resseq): a.xyz for a in trimer.atoms if a.name == "CA"}
    common = sorted(set(ref) & set(mob))
    fit = superpose(np.array([mob[k] for k in common]), np.array([ref[k] for k in common]))
    if fit.rmsd > 3.0:
        raise StructureError(f"{trimer.name} on {reference.name}: C-alpha RMSD {fit.rmsd:.2f} "
                             "Å over common residues; protomers do not match by chain")  # fmt: skip
    atoms = [replace(a, xyz=tuple(np.asarray(a.xyz) @ fit.rotation.T + fit.translation))
             for a in trimer.atoms]  # fmt: skip
    record = {"reference": reference.name, "ca_rmsd_angstrom": round(fit.rmsd, 3),
              "n_ca": len(common)}  # fmt: skip
    return replace(trimer, atoms=atoms), record


def read_fv(path):
    """The denosumab Fv model (chains H, L) at ``path`` as an Assembly."""
    from rankbind.structures import ChainSpec, from_pdb

    return from_pdb(str(path), {
        "H": ChainSpec("H", "FAB_HEAVY", "human", None, None),
        "L": ChainSpec("L", "FAB_LIGHT", "human", None, None),
    })  # fmt: skip


def fv_variant_rmsd(fv, reference) -> dict:
    """C-alpha RMSDs (Å) of one denosumab Fv model to another (same sequential numbering)
    after superposing the framework (every C-alpha outside the Kabat CDRs): framework,
    CDR-H3 and all six CDRs."""
    from rankbind.modelling.fab import denosumab_sequences, heavy_cdrs, light_cdrs
    from rankbind.structures.geometry import superpose

    seqs = denosumab_sequences()
    cdrs = [("H", c) for c in heavy_cdrs(seqs["VH"])] + [("L", c) for c in light_cdrs(seqs["VL"])]
    loop = {(ch, n) for ch, c in cdrs for n in range(c.start, c.end + 1)}
    h3 = {("H", n) for ch, c in cdrs if c.name == "H3" for n in range(c.start, c.end + 1)}
    a = {(x.chain, x.resseq): x.xyz for x in fv.atoms if x.name == "CA"}
    b = {(x.chain, x.resseq): x.xyz for x in reference.atoms if x.name == "CA"}
    common = sorted(set(a) & set(b))
    frame = [k for k in common if k not in loop]
    fit = superpose(np.array([a[k] for k in frame]), np.array([b[k] for k in frame]))

    def rmsd(keys):
        moved = np.array([a[k] for k in keys]) @ fit.rotation.T + fit.translation
        return round(float(np.sqrt(np.mean(np.sum((moved - [b[k] for k in keys]) ** 2, 1)))), 3)

    return {"framework": round(fit.rmsd, 3), "cdr_h3": rmsd(sorted(h3 & set(common))),
            "all_cdrs": rmsd(sorted(loop & set(common))), "n_framework_ca": len(frame)}  # fmt: skip


def _heavy_atom_list(fv) -> list[tuple]:
    return [(a.chain, a.resseq, a.resname, a.name) for a in fv.atoms if a.element != "H"]


def build_fv_ensemble() -> dict:
    """Denosumab Fv variants, one per VH Fab template (VL template: the default's), built
    with :func:`rankbind.modelling.fab.build_denosumab_model` where missing and kept in
    ``structures/`` :data:`FV_ENSEMBLE` (PDB + threading report JSON each; MODEL,
    placeholder confidence); the default template's variant is the committed default
    model (:data:`FV_DEFAULT`). Measures every pair (:func:`fv_variant_rmsd`), checks the
    heavy-atom lists, keeps the variants with the default's heavy-atom list (docking an
    ensemble needs one) whose CDR-H3 differs by at least :data:`DISTINCT_H3_ANGSTROM` from
    every variant kept before (default first), and writes it all to ``ensemble.json``."""
    from dataclasses import replace

    from rankbind.fileio import write_json
    from rankbind.modelling.fab import build_denosumab_model, template_identities
    from rankbind.structures import structures_dir

    root = structures_dir() / FV_ENSEMBLE
    identities = template_identities()
    default = max(identities, key=lambda r: r["VH_identity"])["template"]
    paths = {default: structures_dir() / FV_DEFAULT}
    order = {k: i for i, k in enumerate(_heavy_atom_list(read_fv(paths[default])))}
    for row in sorted(identities, key=lambda r: -r["VH_identity"]):
        t = row["template"]
        path = root / f"denosumab_fv_vh_{t}.pdb"
        if t != default and not path.is_file():
            result = build_denosumab_model("fv", vh_template=t)
            write_json(path.with_suffix(".json"), {
                "label": "MODEL: homology model, not an experimental structure",
                "confidence": "placeholder: CDR-H3 variant for docking, not validated",
                "atom_order": "atoms of each residue in the default model's order",
                **result.report})  # fmt: skip
            atoms = result.assembly.atoms  # threading keeps template atoms first: reorder
            key = [order.get((a.chain, a.resseq, a.resname, a.name), len(order) + i)
                   for i, a in enumerate(atoms)]  # fmt: skip
            atoms = [atoms[i] for i in np.argsort(key, kind="stable")]
            replace(result.assembly, atoms=atoms).write_pdb(path)
        paths.setdefault(t, path)
    models = {t: read_fv(p) for t, p in paths.items()}
    atoms = {t: _heavy_atom_list(m) for t, m in models.items()}
    pairs = {f"{a}_vs_{b}": fv_variant_rmsd(models[a], models[b])
             for i, a in enumerate(paths) for b in list(paths)[i + 1:]}  # fmt: skip
    kept, excluded = [default], {}
    for t in list(paths)[1:]:
        missing = sorted(set(atoms[default]) - set(atoms[t]))
        close = [
            k
            for k in kept
            if fv_variant_rmsd(models[t], models[k])["cdr_h3"] < DISTINCT_H3_ANGSTROM
        ]
        if atoms[t] != atoms[default]:
            excluded[t] = f"heavy-atom list differs from {default}'s (missing {missing[:3]}...)"
        elif close:
            excluded[t] = f"CDR-H3 within {DISTINCT_H3_ANGSTROM} Å of {close[0]}"
        else:
            kept.append(t)
    root_dir = structures_dir()
    data = {
        "label": "MODEL: denosumab Fv homology models, one per VH template (CDR-H3 "
        "variants); placeholder confidence",
        "method": "rankbind.modelling.antibody_docking.build_fv_ensemble",
        "template_identities": identities,
        "vl_template": max(identities, key=lambda r: r["VL_identity"])["template"],
        "variants": {t: str(p.relative_to(root_dir)) for t, p in paths.items()},
        "heavy_atom_list_identical_to_default": {t: v == atoms[default] for t, v in atoms.items()},
        "n_heavy_atoms": {t: len(v) for t, v in atoms.items()},
        "ca_rmsd_after_framework_superposition_angstrom": pairs,
        "distinct_h3_threshold_angstrom": DISTINCT_H3_ANGSTROM,
        "kept": kept,
        "excluded": excluded,
    }
    write_json(root / "ensemble.json", data)
    return data


def fv_conformers() -> dict[str, Path]:
    """{"fv_<VH template>": PDB path} of the distinct Fv variants (:func:`build_fv_ensemble`,
    built when its ``ensemble.json`` is missing), the default model first."""
    import json

    from rankbind.structures import structures_dir

    path = structures_dir() / FV_ENSEMBLE / "ensemble.json"
    data = json.loads(path.read_text()) if path.is_file() else build_fv_ensemble()
    return {f"fv_{t}": structures_dir() / data["variants"][t] for t in data["kept"]}


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
                       fv_pdb: str | None = None, n_report: int = 5,
                       assess=None, n_write: int = 10, rankl_conformers: list[str] | None = None,
                       fv_pdbs: dict[str, str] | None = None) -> dict:  # fmt: skip
    """Dock the denosumab Fv onto the ``target`` (:func:`target_trimer`) RANKL trimer with
    the epitope + CDR restraint; returns (and writes to ``out_dir``) the clustered poses
    with their epitope burial, OPG/RANK footprint overlap and per-residue MJ energies.
    ``assess`` (optional): called with each of the top ``n_report`` complexes (trimer +
    placed Fv, an Assembly); its dict is added to that pose's metrics. ``n_write``: poses
    written as PDB to ``out_dir``.

    Ensemble: ``rankl_conformers`` (target names of one species, ``target`` first: the
    others are superposed on it, :func:`superposed_trimer`) and/or ``fv_pdbs`` ({name: PDB
    path} of Fv models with identical heavy-atom lists, e.g. :func:`fv_conformers`) dock
    every pair with :func:`rankbind.modelling.docking.dock_ensemble`; each pose's metrics
    use the conformers it came from, named in the pose as ``receptor_conformer`` and
    ``ligand_conformer``. Without them: one run on ``target`` and ``fv_pdb``."""
    from dataclasses import replace

    from rankbind.errors import RankbindError, StructureError
    from rankbind.modelling.fab import denosumab_sequences

    root = Path(__file__).resolve().parents[2]
    names = list(rankl_conformers or [target])
    if names[0] != target or any(SPECIES.get(n) != SPECIES.get(target) for n in names):
        raise RankbindError(f"rankl_conformers {names}: the first must be the target "
                            f"{target!r}, all of species {SPECIES[target]!r}")  # fmt: skip
    ensemble = rankl_conformers is not None or fv_pdbs is not None
    fv_paths = fv_pdbs or {"fv": fv_pdb or str(root / "structures" / FV_DEFAULT)}
    trimers, superposition = {}, {}
    for n in names:
        trimer = target_trimer(n)
        if trimers:
            trimer, superposition[n] = superposed_trimer(trimer, trimers[target])
        trimers[n] = trimer
    chains = [c.chain_id for c in trimers[target].chains]
    entry = ENTRIES[target]
    fvs = {k: read_fv(p) for k, p in fv_paths.items()}
    first_fv = next(iter(fvs.values()))
    for k, fv in fvs.items():
        if _heavy_atom_list(fv) != _heavy_atom_list(first_fv):
            raise StructureError(f"Fv conformer {k} ({fv_paths[k]}): heavy-atom list differs "
                                 f"from {next(iter(fv_paths))}'s; an ensemble needs one")  # fmt: skip
    epitope = rs.denosumab_epitope([chains[0]])
    to_human = mouse_to_human() if SPECIES[target] == "mouse" else None
    if to_human:
        to_mouse = {h: m for m, h in to_human.items()}
        epitope = rs.InterfaceRestraint(
            receptor=frozenset((c, to_mouse[n]) for c, n in epitope.receptor if n in to_mouse),
            min_atoms=epitope.min_atoms, name=epitope.name + " (mouse equivalent)")  # fmt: skip
    seqs = denosumab_sequences()
    restraint = rs.combine(epitope, rs.cdr_paratope(seqs["VH"], seqs["VL"]))
    lig0 = dk.molecule_from_assembly(first_fv, ["H", "L"])
    receptors, ligands = {}, {}
    for n, trimer in trimers.items():
        receptors[n], _, run_settings = rs.apply(
            restraint, dk.molecule_from_assembly(trimer, chains), lig0, settings
        )
    for k, fv in fvs.items():
        _, ligands[k], _ = rs.apply(
            restraint, receptors[target], dk.molecule_from_assembly(fv, ["H", "L"]), settings
        )
    settings = run_settings
    t0 = time.perf_counter()
    if ensemble:
        result = dk.dock_ensemble(list(receptors.items()), list(ligands.items()), settings)
    else:
        result = dk.dock(receptors[target], ligands["fv"], settings)
    elapsed = time.perf_counter() - t0
    footprints = receptor_footprints(target)
    human_epitope = set(range(233, 242))

    def human(n):
        return to_human.get(n, n) if to_human else n

    def conformers(pose):
        return (pose.provenance.get("receptor_conformer", target),
                pose.provenance.get("ligand_conformer", "fv"))  # fmt: skip

    for pose in result.poses:
        rn, ln = conformers(pose)
        receptor, ligand = receptors[rn], ligands[ln]
        placed = pose.apply(ligand.xyz)
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
    if assess is not None:
        for pose in top:
            rn, ln = conformers(pose)
            fab = dk.place_ligand(fvs[ln], ["H", "L"], pose)
            trimer = trimers[rn]
            both = replace(
                trimer, chains=trimer.chains + fab.chains, atoms=trimer.atoms + fab.atoms
            )
            pose.metrics |= assess(both)

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
        "ligand_ca_centered_angstrom": (lig0.xyz - lig0.xyz.mean(0))[lig0.is_ca].round(3).tolist(),
        "top_clusters_spread": {
            k: spread(k)
            for k in ("fraction_epitope_buried", "overlap_opg_footprint", "overlap_rank_footprint")
        },
    }
    if ensemble:
        summary["conformers"] = {
            "rankl": {n: {"entry": ENTRIES[n], **superposition.get(n, {"frame": True})}
                      for n in names},
            "fv": {k: str(Path(p).resolve().relative_to(root)) if Path(p).resolve()
                   .is_relative_to(root) else str(p) for k, p in fv_paths.items()},
            "ligand_ca_centered_angstrom": {
                k: (m.xyz - m.xyz.mean(0))[m.is_ca].round(3).tolist() for k, m in ligands.items()
            },
        }  # fmt: skip
    if out_dir:
        dk.write_ensemble(result, trimers if ensemble else trimers[target], chains,
                          fvs if ensemble else first_fv, ["H", "L"], out_dir,
                          {"pipeline": "rankbind.modelling.antibody_docking", **summary},
                          n_write=n_write)  # fmt: skip
    return summary | {"poses": [p.to_dict() for p in result.poses]}


def _by_number(per_residue: dict) -> dict[int, float]:
    """{"A233": e, "B233": e2, ...} -> {233: e + e2}: summed over protomers."""
    out: dict[int, float] = {}
    for k, v in per_residue.items():
        out[int(k[1:])] = out.get(int(k[1:]), 0.0) + v
    return out


def species_differences(human: dict, mouse: dict, rank: int = 1) -> dict:
    """Per RANKL residue (human numbering): MJ contact energy of the rank-``rank`` pose
    on human minus that on mouse RANKL. Different poses on the two species make this a
    comparison of two docking answers, not a mutational effect."""
    hn = _by_number(human["poses"][rank - 1]["mj_rt_by_residue_human_numbering"])
    mn = _by_number(mouse["poses"][rank - 1]["mj_rt_by_residue_human_numbering"])
    return {
        str(n): round(hn.get(n, 0.0) - mn.get(n, 0.0), 2)
        for n in sorted(set(hn) | set(mn))
        if abs(hn.get(n, 0.0) - mn.get(n, 0.0)) >= 0.01
    }


# ------------------------------------------------------------ statistics over rotation seeds

SEED_DESCRIPTORS = (
    "score",
    "fraction_epitope_buried",
    "overlap_opg_footprint",
    "overlap_rank_footprint",
    "grooves_excluded_opg",
    "grooves_excluded_rank",
)
N_BOOT = 4000


def seed_statistics(values, n_boot: int = N_BOOT, rng_seed: int = 0) -> dict:
    """Mean over independent seeds, its standard error (sample sd / sqrt n) and the 95 %
    percentile bootstrap interval of the mean (``n_boot`` resamples of the seeds)."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    out = {"mean": round(float(v.mean()), 4), "n": n, "se": None, "ci95": None}
    if n > 1:
        boot = v[np.random.default_rng(rng_seed).integers(0, n, (n_boot, n))].mean(axis=1)
        out["se"] = round(float(v.std(ddof=1) / np.sqrt(n)), 4)
        out["ci95"] = [round(float(q), 4) for q in np.quantile(boot, [0.025, 0.975])]
    return out


MIN_SEEDS_FOR_CLAIM = 5


def difference_statistics(a, b, n_boot: int = N_BOOT, rng_seed: int = 0) -> dict:
    """mean(a) - mean(b) over two independent sets of seeds: standard error
    sqrt(se_a² + se_b²), 95 % bootstrap interval (each set resampled on its own), and
    ``resolved``: both sets have at least :data:`MIN_SEEDS_FOR_CLAIM` seeds and
    |difference| > t(0.975, min(n_a, n_b) - 1) x s.e. (conservative Welch test; with no
    spread in either set, any nonzero difference)."""
    from scipy.stats import t as student_t

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = float(a.mean() - b.mean())
    out = {"difference": round(d, 4), "n": [len(a), len(b)], "se": None, "ci95": None,
           "t_crit": None, "resolved": False}  # fmt: skip
    if len(a) > 1 and len(b) > 1:
        rng = np.random.default_rng(rng_seed)
        ba = a[rng.integers(0, len(a), (n_boot, len(a)))].mean(axis=1)
        bb = b[rng.integers(0, len(b), (n_boot, len(b)))].mean(axis=1)
        se = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))
        t_crit = float(student_t.ppf(0.975, min(len(a), len(b)) - 1))
        out["se"] = round(se, 4)
        out["t_crit"] = round(t_crit, 3)
        out["ci95"] = [round(float(q), 4) for q in np.quantile(ba - bb, [0.025, 0.975])]
        enough = min(len(a), len(b)) >= MIN_SEEDS_FOR_CLAIM
        out["resolved"] = bool(enough and abs(d) > t_crit * se and abs(d) > 1e-9)
    return out


def cross_seed_clusters(runs: list[dict], cluster_rmsd: float, top: int = 5) -> list[dict]:
    """Pool the ``top`` poses of every seed's run (one target) and cluster them greedily
    by ligand C-alpha RMSD (Å) in order of decreasing score: a cluster found by many
    seeds is a docking answer that does not depend on the rotation set. Each run needs
    ``seed``, ``ligand_ca_centered_angstrom`` (n, 3) and ``poses`` with ``rotation``,
    ``position_angstrom``, ``score`` and the :data:`SEED_DESCRIPTORS`; an ensemble run's
    pose is placed with its own ``ligand_conformer``'s C-alpha atoms (``conformers``)."""
    members = []
    for run in runs:
        by_conformer = run.get("conformers", {}).get("ligand_ca_centered_angstrom", {})
        for q in run["poses"][:top]:
            ca = by_conformer.get(q.get("ligand_conformer"), run["ligand_ca_centered_angstrom"])
            xyz = np.asarray(ca) @ np.asarray(q["rotation"]).T + np.asarray(q["position_angstrom"])
            members.append((q["score"], run["seed"], q["rank"], xyz, q))
    members.sort(key=lambda m: -m[0])
    clusters: list[list] = []
    for m in members:
        for c in clusters:
            if np.sqrt(((c[0][3] - m[3]) ** 2).sum(axis=1).mean()) <= cluster_rmsd:
                c.append(m)
                break
        else:
            clusters.append([m])
    n_seeds = len({r["seed"] for r in runs})
    out = []
    for c in clusters:
        seeds = {m[1] for m in c}
        out.append(
            {
                "best": {"seed": c[0][1], "rank": c[0][2], "score": c[0][0]},
                "n_poses": len(c),
                "n_seeds": len(seeds),
                "fraction_of_seeds": round(len(seeds) / n_seeds, 3),
                "n_seeds_rank1": len({m[1] for m in c if m[2] == 1}),
                **{
                    d: seed_statistics([m[4][d] for m in c])
                    for d in SEED_DESCRIPTORS
                    if all(d in m[4] for m in c)
                },
            }
        )
    return out


def _residue_values(runs: list[dict], numbers) -> dict[int, list[float]]:
    """Per residue number: the rank-1 pose's MJ energy (RT, summed over protomers; 0 where
    not in contact) of each run."""
    per = [_by_number(r["poses"][0]["mj_rt_by_residue_human_numbering"]) for r in runs]
    return {n: [p.get(n, 0.0) for p in per] for n in numbers}


def aggregate_seeds(runs: dict[str, list[dict]], cluster_rmsd: float,
                    pairs=(("human", "mouse"), ("human_on_mouse", "mouse"),
                           ("human", "human_on_mouse"))) -> dict:  # fmt: skip
    """Statistics over rotation seeds of the docking runs ``runs`` {target: [run per seed]}
    (each run as :func:`denosumab_on_rankl` returns it, with ``seed``): per target the
    rank-1 and top-5-mean descriptors (:func:`seed_statistics`), the cross-seed clusters,
    how often each epitope residue T233-Y241 is buried by the rank-1 pose, and the rank-1
    per-residue MJ energies; per target pair present, the differences
    (:func:`difference_statistics`) of the descriptors and of every residue's MJ energy."""
    out: dict = {"targets": {}, "differences": {}}
    for target, seed_runs in runs.items():
        first = [r["poses"][0] for r in seed_runs]
        numbers = sorted({n for r in seed_runs
                          for n in _by_number(r["poses"][0]["mj_rt_by_residue_human_numbering"])})  # fmt: skip
        out["targets"][target] = {
            "seeds": [r["seed"] for r in seed_runs],
            "rank1": {
                d: seed_statistics([q[d] for q in first])
                for d in SEED_DESCRIPTORS
                if all(d in q for q in first)
            },  # fmt: skip
            "top5_mean": {
                d: seed_statistics([np.mean([q[d] for q in r["poses"][:5]]) for r in seed_runs])
                for d in SEED_DESCRIPTORS
                if all(d in q for r in seed_runs for q in r["poses"][:5])
            },
            "epitope_residue_buried_fraction_rank1": {
                str(n): round(
                    sum(n in q["epitope_T233_Y241_buried"] for q in first) / len(first), 3
                )
                for n in range(233, 242)
            },
            "clusters": cross_seed_clusters(seed_runs, cluster_rmsd),
            "mj_rt_rank1_by_residue": {
                str(n): seed_statistics(v) for n, v in _residue_values(seed_runs, numbers).items()
            },
        }
    for a, b in pairs:
        if a not in runs or b not in runs:
            continue
        fa = [r["poses"][0] for r in runs[a]]
        fb = [r["poses"][0] for r in runs[b]]
        numbers = sorted(
            {int(n) for t in (a, b) for n in out["targets"][t]["mj_rt_rank1_by_residue"]}
        )
        va, vb = _residue_values(runs[a], numbers), _residue_values(runs[b], numbers)
        out["differences"][f"{a}_minus_{b}"] = {
            "rank1": {
                d: difference_statistics([q[d] for q in fa], [q[d] for q in fb])
                for d in SEED_DESCRIPTORS
                if all(d in q for q in fa + fb)
            },  # fmt: skip
            "mj_rt_rank1_by_residue": {
                str(n): difference_statistics(va[n], vb[n]) for n in numbers
            },
        }
    return out
