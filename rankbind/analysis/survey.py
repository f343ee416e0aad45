"""Survey of RANKL complexes: interface contacts, footprint on RANKL, H-bonds, salt bridges,
PRODIGY affinity estimate and (several inputs) the competition map; ``rankbind contacts``
and the ``contacts`` task call :func:`survey`.

Inputs are catalogue entries (``3URF``, ``4GIQ``, ``3ME2``; built as ``kind``) or PDB files
written by rankbind (their ``REMARK 250 CHAIN`` records say what each chain is), optionally
with a trajectory (one PDB input). Every output file is written atomically.
"""

from __future__ import annotations

import csv
import io
import platform
import re
from pathlib import Path

import numpy as np

from rankbind.errors import StructureError
from rankbind.fileio import write_json, write_text


def read_rankbind_pdb(path: Path):
    """(chains, 1-frame protein trajectory) of a PDB written by rankbind."""
    import mdtraj

    from rankbind.structures.assembly import read_chain_records

    if not path.is_file():
        raise StructureError(f"{path}: no such file (and not a catalogue entry)")
    chains = read_chain_records(path)
    if not chains:
        raise StructureError(
            f"{path}: no 'REMARK 250 CHAIN' records; write the structure with rankbind "
            "(Assembly.write_pdb) so the chains' molecules and numbering are known"
        )
    traj = mdtraj.load(str(path))
    return chains, traj.atom_slice(traj.topology.select("protein"))


def _load(name: str, kind: str):
    from rankbind.analysis.footprints import protein_trajectory
    from rankbind.structures import build_assembly, catalogue

    if name.upper() in catalogue():
        assembly = build_assembly(name.upper(), kind)
        return assembly.name, assembly.chains, protein_trajectory(assembly), assembly.provenance
    chains, traj = read_rankbind_pdb(Path(name))
    return Path(name).stem, chains, traj, {"file": name}


def _default_binder(chains, target: str) -> str:
    """The receptor chain R (e.g. 'OPG/R'); without one (a docked antibody), every chain not
    of the target's molecule, e.g. 'FAB_HEAVY/H+FAB_LIGHT/L'."""
    for info in chains:
        if info.chain_id == "R":
            return f"{info.molecule}/R"
    molecule = target.split("/")[0].split(":")[0]
    others = [f"{c.molecule}/{c.chain_id}" for c in chains if c.molecule != molecule]
    if not others:
        raise StructureError(f"no chain besides {molecule}: give the binder (e.g. 'OPG/R')")
    return "+".join(others)


def _csv_text(header: list[str], rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def survey(
    inputs: list[str],
    out: str | Path,
    kind: str = "hexamer",
    binder: str | None = None,
    target: str = "RANKL",
    cutoff_nm: float = 0.40,
    trajectory: str | Path | None = None,
    stride: int = 1,
    chunk: int = 100,
    prodigy_estimate: bool = True,
    labels: list[str] | None = None,
) -> dict:
    """Interface, footprint on ``target``, H-bonds, salt bridges, PRODIGY (optional) of each
    input (catalogue entry built as ``kind``, or a rankbind-written PDB), and the
    competition map when there are several. ``binder`` default: the chains other than
    the target's molecule. ``labels``: one per input (default: the entry name or file stem);
    labels must differ, since each names its output folder. Returns {"summaries": {label: summary.json path},
    "competition": competition.json path or None, "lines": one line per input}."""
    import mdtraj

    from rankbind.analysis import contacts, footprints, interface, prodigy

    out = Path(out)
    if trajectory is not None and len(inputs) != 1:
        raise StructureError("a trajectory needs exactly one PDB input (its topology)")
    if labels is not None and len(labels) != len(inputs):
        raise StructureError(f"{len(labels)} labels for {len(inputs)} inputs")
    prints, complexes, summaries, lines = [], [], {}, []
    for i, name in enumerate(inputs):
        label, chains, traj, provenance = _load(name, kind)
        label = labels[i] if labels is not None else label
        if label in summaries:
            raise StructureError(
                f"{name}: label '{label}' already used by another input (outputs would "
                "overwrite each other); give distinct labels or file names"
            )
        partner_text = binder or _default_binder(chains, target)
        if trajectory is not None:
            frames = mdtraj.load(str(trajectory), top=name, stride=stride)
            frames = frames.atom_slice(frames.topology.select("protein"))
        else:
            frames = traj
        top = frames.topology
        target_atoms = contacts.select(top, chains, target)
        partner = contacts.select(top, chains, partner_text)
        folder = out / re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
        # contact frequencies over every frame (streamed) for a trajectory input
        source = (
            frames
            if trajectory is None
            else mdtraj.iterload(str(trajectory), top=name, chunk=chunk)
        )
        iface = contacts.interface(source, target_atoms, partner, cutoff=cutoff_nm)
        numbering = footprints.numbering_for(frames, chains, "RANKL")
        fp = footprints.footprint(
            frames, chains, partner_text, target, cutoff_nm, numbering,
            name=f"{footprints.binder_label(partner_text)} ({label})",
            species=next((c.species for c in chains if c.molecule == "RANKL"), "unknown"),
        )  # fmt: skip
        fp.provenance = dict(provenance)
        prints.append(fp)
        complexes.append(footprints.Complex(frames[0], chains, partner_text, numbering))
        residues = list(top.residues)
        write_text(
            folder / "interface_pairs.csv",
            _csv_text(
                ["target_residue", "binder_residue", "frequency"],
                (
                    (iface.labels.get(int(i)) or contacts.residue_label(residues[i]),
                     iface.labels.get(int(j)) or contacts.residue_label(residues[j]), f"{f:.4f}")
                    for (i, j), f in zip(iface.pairs, iface.frequency, strict=True)
                ),
            ),
        )  # fmt: skip
        hb = interface.hydrogen_bonds(frames, target_atoms, partner)
        write_text(
            folder / "hbonds.csv",
            _csv_text(["bond", "occupancy"], ((lab, f"{o:.4f}") for lab, o in
                                              zip(hb.labels, hb.occupancy, strict=True))),
        )  # fmt: skip
        sb = interface.salt_bridges(frames, target_atoms, partner)
        write_text(
            folder / "salt_bridges.csv",
            _csv_text(["pair", "occupancy"], ((lab, f"{o:.4f}") for lab, o in
                                              zip(sb.labels, sb.occupancy, strict=True))),
        )  # fmt: skip
        write_json(folder / "footprint.json", fp.to_json())
        summary = {
            "input": name,
            "binder": partner_text,
            "target": target,
            "cutoff_nm": cutoff_nm,
            "scheme": "closest-heavy",
            "n_frames": iface.n_frames,
            "hbond_criterion": hb.criterion,
            "salt_bridge_cutoff_nm": sb.cutoff_nm,
            "buried_sasa_total_A2": fp.buried_sasa_total,
            "provenance": provenance,
            "versions": _versions(),
        }
        if prodigy_estimate:
            results, stats = prodigy.predict_frames(
                frames, [target_atoms, partner], [target, partner_text]
            )
            write_json(
                folder / "prodigy.json",
                {"summary": stats, "frames": [r.to_json() for r in results]},
            )
            summary["prodigy"] = stats
        write_json(folder / "summary.json", summary)
        summaries[label] = folder / "summary.json"
        lines.append(f"{label}: {len(fp.residues)} {target} residues contact {partner_text} "
                     f"(protomers {','.join(fp.protomers)}); outputs in {folder}")  # fmt: skip
    competition = None
    if len(prints) > 1:
        cmap = footprints.competition_map(prints, complexes)
        competition = out / "competition.json"
        write_json(competition, cmap.to_json())
        footprints.write_residue_csv(out / "competition_residues.csv", cmap)
        footprints.plot_competition(out / "competition.png", cmap)
        lines += [f"{p.first} vs {p.second}: {len(p.shared)} shared, Jaccard {p.jaccard:.2f}, "
                  f"{p.verdict}" for p in cmap.pairs]  # fmt: skip
    return {"summaries": summaries, "competition": competition, "lines": lines}


def _versions() -> dict:
    import jax
    import mdtraj

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mdtraj": mdtraj.__version__,
        "jax": jax.__version__,
    }
