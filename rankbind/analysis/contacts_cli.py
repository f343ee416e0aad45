"""``rankbind contacts``: interface, footprint, interface chemistry, PRODIGY and the
competition map of one or more RANKL complexes.

Inputs are catalogue entries (``3URF``, ``4GIQ``, ``3ME2``; built as ``--kind``) or PDB files
written by rankbind (their ``REMARK 250 CHAIN`` records say what each chain is), optionally
with a trajectory (``--traj``, one PDB input). Every output file is written atomically.
"""

from __future__ import annotations

import argparse
import csv
import io
import platform
import re
from pathlib import Path

import numpy as np

from rankbind.errors import StructureError
from rankbind.fileio import write_json, write_text


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="ENTRY_OR_PDB")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--kind", default="hexamer", help="assembly kind for catalogue entries")
    parser.add_argument(
        "--binder",
        help="binder selection, e.g. 'OPG/R' or 'FAB_HEAVY/H+FAB_LIGHT/L' "
        "(default: the molecule of chain R, '/R')",
    )
    parser.add_argument("--target", default="RANKL", help="target selection (default RANKL)")
    parser.add_argument("--cutoff", type=float, default=0.40, help="contact cutoff, nm")
    parser.add_argument("--traj", type=Path, help="trajectory for a single PDB input")
    parser.add_argument("--stride", type=int, default=1, help="frame stride for SASA/H-bonds")
    parser.add_argument("--chunk", type=int, default=100, help="frames per streamed chunk")
    parser.add_argument("--no-prodigy", action="store_true", help="skip the PRODIGY estimate")


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


def _default_binder(chains, name: str) -> str:
    for info in chains:
        if info.chain_id == "R":
            return f"{info.molecule}/R"
    raise StructureError(
        f"{name}: no receptor chain R; give the binder with --binder (e.g. 'FAB_HEAVY/H')"
    )


def _csv_text(header: list[str], rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _stream(args, topology_file: str):
    import mdtraj

    return mdtraj.iterload(str(args.traj), top=topology_file, chunk=args.chunk)


def run(args) -> int:
    import mdtraj

    from rankbind.analysis import contacts, footprints, interface, prodigy

    if args.traj is not None and len(args.inputs) != 1:
        raise StructureError("--traj needs exactly one PDB input (its topology)")
    prints, complexes = [], []
    for name in args.inputs:
        label, chains, traj, provenance = _load(name, args.kind)
        binder = args.binder or _default_binder(chains, name)
        if args.traj is not None:
            frames = mdtraj.load(str(args.traj), top=name, stride=args.stride)
            frames = frames.atom_slice(frames.topology.select("protein"))
        else:
            frames = traj
        top = frames.topology
        target = contacts.select(top, chains, args.target)
        partner = contacts.select(top, chains, binder)
        folder = args.out / re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
        # contact frequencies over every frame (streamed) for a trajectory input
        source = frames if args.traj is None else _stream(args, name)
        iface = contacts.interface(source, target, partner, cutoff=args.cutoff)
        numbering = footprints.numbering_for(frames, chains, "RANKL")
        fp = footprints.footprint(
            frames, chains, binder, args.target, args.cutoff, numbering,
            name=f"{footprints.binder_label(binder)} ({label})",
            species=next((c.species for c in chains if c.molecule == "RANKL"), "unknown"),
        )  # fmt: skip
        fp.provenance = dict(provenance)
        prints.append(fp)
        complexes.append(footprints.Complex(frames[0], chains, binder, numbering))
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
        hb = interface.hydrogen_bonds(frames, target, partner)
        write_text(
            folder / "hbonds.csv",
            _csv_text(["bond", "occupancy"], ((lab, f"{o:.4f}") for lab, o in
                                              zip(hb.labels, hb.occupancy, strict=True))),
        )  # fmt: skip
        sb = interface.salt_bridges(frames, target, partner)
        write_text(
            folder / "salt_bridges.csv",
            _csv_text(["pair", "occupancy"], ((lab, f"{o:.4f}") for lab, o in
                                              zip(sb.labels, sb.occupancy, strict=True))),
        )  # fmt: skip
        write_json(folder / "footprint.json", fp.to_json())
        summary = {
            "input": name,
            "binder": binder,
            "target": args.target,
            "cutoff_nm": args.cutoff,
            "scheme": "closest-heavy",
            "n_frames": iface.n_frames,
            "hbond_criterion": hb.criterion,
            "salt_bridge_cutoff_nm": sb.cutoff_nm,
            "buried_sasa_total_A2": fp.buried_sasa_total,
            "provenance": provenance,
            "versions": _versions(),
        }
        if not args.no_prodigy:
            results, stats = prodigy.predict_frames(
                frames, [target, partner], [args.target, binder]
            )
            write_json(
                folder / "prodigy.json",
                {"summary": stats, "frames": [r.to_json() for r in results]},
            )
            summary["prodigy"] = stats
        write_json(folder / "summary.json", summary)
        print(f"{label}: {len(fp.residues)} {args.target} residues contact {binder} "
              f"(protomers {','.join(fp.protomers)}); outputs in {folder}")  # fmt: skip
    if len(prints) > 1:
        cmap = footprints.competition_map(prints, complexes)
        write_json(args.out / "competition.json", cmap.to_json())
        footprints.write_residue_csv(args.out / "competition_residues.csv", cmap)
        footprints.plot_competition(args.out / "competition.png", cmap)
        for p in cmap.pairs:
            print(f"{p.first} vs {p.second}: {len(p.shared)} shared, Jaccard {p.jaccard:.2f}, "
                  f"{p.verdict}")  # fmt: skip
    return 0


def _versions() -> dict:
    import jax
    import mdtraj

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mdtraj": mdtraj.__version__,
        "jax": jax.__version__,
    }
