"""``rankbind model``: build models (threading, mutants, isoform constructs, denosumab
Fv/Fab) and dock (FFT docking, validation re-docking, denosumab ensembles).

Subcommands::

    rankbind model thread   --entry 4GIQ --kind asu --chain A --fasta 3URF_constructs.fasta \\
                            --record 3URF_A_core --first 162 --species human --out m.pdb
    rankbind model mutate   --entry 3URF --kind asu --chains Z --mutation Z:D182- --out m.pdb
    rankbind model isoform  RANK-c [--out c.pdb]
    rankbind model species  [--out species.json]
    rankbind model fab      --kind fv --out deno_fv.pdb
    rankbind model redock   --entry 3URF [--restrained] --out-dir runs/3urf
    rankbind model denosumab-dock --target human|mouse --out-dir runs/deno_human

Every PDB written carries REMARK lines saying it is a model; a JSON report is written
beside it (same name, ``.json``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rankbind.errors import RankbindError


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="model_command", required=True)
    p = sub.add_parser("thread", help="thread a FASTA record onto a template chain")
    p.add_argument("--entry", required=True)
    p.add_argument("--kind", default="asu")
    p.add_argument("--chain", required=True)
    p.add_argument("--fasta", required=True, help="file in structures/sequences")
    p.add_argument("--record", required=True)
    p.add_argument("--first", type=int, required=True, help="UniProt number of residue 1")
    p.add_argument("--species", required=True)
    p.add_argument("--uniprot", default=None)
    p.add_argument("--out", required=True)
    p = sub.add_parser("mutate", help="point mutations / deletions (CHAIN:WT NUM NEW)")
    p.add_argument("--entry", required=True)
    p.add_argument("--kind", default="asu")
    p.add_argument("--chains", nargs="+", required=True)
    p.add_argument("--mutation", action="append", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("isoform", help="show an isoform's properties; optionally write it")
    p.add_argument("name")
    p.add_argument("--out", default=None)
    p = sub.add_parser("fab", help="denosumab Fv/Fab homology model")
    p.add_argument("--kind", choices=("fv", "fab"), default="fv")
    p.add_argument("--out", required=True)
    p = sub.add_parser("species", help="human vs mouse RANKL differences by region (JSON)")
    p.add_argument("--out", default=None)
    p = sub.add_parser("redock", help="validation: re-dock the receptor of 3URF/4GIQ")
    p.add_argument("--entry", choices=("3URF", "4GIQ", "3ME2"), required=True)
    p.add_argument("--restrained", action="store_true")
    p.add_argument("--rotations", type=int, default=1500)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out-dir", required=True)
    p = sub.add_parser("denosumab-dock", help="dock the denosumab Fv onto a RANKL trimer")
    p.add_argument("--target", choices=("human", "mouse"), default="human")
    p.add_argument("--rotations", type=int, default=1500)
    p.add_argument("--fv-pdb", default=None, help="reuse a denosumab Fv model (PDB)")
    p.add_argument("--out-dir", required=True)
    p = sub.add_parser("fab-complex", help="place the Fab model on a docked Fv pose")
    p.add_argument("--pose", required=True, help="docking pose PDB (RANKL trimer + Fv H/L)")
    p.add_argument("--fab", required=True, help="Fab model PDB (rankbind model fab --kind fab)")
    p.add_argument(
        "--relax-iterations", type=int, default=0, help="C-alpha-restrained clash relief"
    )
    p.add_argument("--out", required=True)


def _write_model(assembly, report: dict, out: str) -> None:
    from rankbind.fileio import write_json, write_text

    text = "REMARK 999 MODEL: built by rankbind.modelling, not an experimental structure\n"
    write_text(out, text + assembly.to_pdb_text())
    write_json(Path(out).with_suffix(".json"), report)


def run(args: argparse.Namespace) -> int:
    from rankbind.modelling import pipelines
    from rankbind.modelling.mutations import mutate, select_chains
    from rankbind.modelling.threading import Target, thread
    from rankbind.structures import build_assembly
    from rankbind.structures.sequences import fasta_sequence

    cmd = args.model_command
    if cmd == "thread":
        template = select_chains(build_assembly(args.entry, args.kind), [args.chain])
        seq = fasta_sequence(args.fasta, args.record)
        target = Target(seq, args.first, args.species, args.uniprot, args.record)
        result = thread(template, {args.chain: target})
        _write_model(result.assembly, result.report, args.out)
    elif cmd == "mutate":
        template = select_chains(build_assembly(args.entry, args.kind), args.chains)
        result = mutate(template, args.mutation)
        _write_model(result.assembly, result.report, args.out)
    elif cmd == "isoform":
        from rankbind.modelling.isoforms import build_construct, isoform_properties

        props = isoform_properties(args.name)
        print(json.dumps(props.__dict__ | {"construct": props.construct.__dict__}, indent=2))
        if args.out:
            assembly = build_construct(args.name)
            _write_model(assembly, assembly.provenance, args.out)
    elif cmd == "fab":
        from rankbind.modelling.fab import build_denosumab_model

        result = build_denosumab_model(args.kind)
        _write_model(result.assembly, result.report, args.out)
    elif cmd == "species":
        data = pipelines.species_comparison()
        if args.out:
            from rankbind.fileio import write_json

            write_json(args.out, data)
        print(json.dumps(data["differences_by_region"], indent=2))
    elif cmd == "redock":
        summary = pipelines.redock(args.entry, args.restrained, args.rotations, args.seed,
                                   args.out_dir)  # fmt: skip
        print(json.dumps(summary, indent=2))
    elif cmd == "denosumab-dock":
        summary = pipelines.denosumab_dock(args.target, args.rotations, args.out_dir, args.fv_pdb)
        print(json.dumps(summary["poses"][:3], indent=2))
    elif cmd == "fab-complex":
        from rankbind.modelling.fab import fab_on_docked_fv
        from rankbind.structures.assembly import read_assembly

        complex_, record = fab_on_docked_fv(
            read_assembly(args.pose),
            read_assembly(args.fab),
            relax_iterations=args.relax_iterations,
        )
        _write_model(complex_, complex_.provenance, args.out)
        print(json.dumps({k: v for k, v in record.items() if k != "relaxation"}, indent=2))
    else:  # pragma: no cover - argparse restricts the choices
        raise RankbindError(f"unknown model command {cmd}")
    return 0
