"""Make the DockQ reference fixture (run from the repository root):

    python tests/data/dockq/make_fixture.py /work/shared/benchmarks/antibody_benchmark

Writes, per model, a native and a model PDB with each partner merged into one chain
(A = antibody, B = antigen; residues renumbered 1..n so no insertion codes), runs DockQ 2.1.3
from its own venv (``python3 -m venv /work/venvs/dockq && /work/venvs/dockq/bin/pip install
DockQ==2.1.3``; it pins numpy<2) as ``DockQ --mapping AB:AB --json out.json MODEL NATIVE`` and
stores its fnat, iRMSD, LRMSD and DockQ in reference.json. Only the natives are kept (gzip);
the tests rebuild each model from its native and the stored transform. Models: bound complexes with the
antigen rigidly perturbed (rotation about its centroid + translation), fixed seeds.
"""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
DOCKQ = "/work/venvs/dockq/bin/DockQ"
CASES = [  # case, rotation (deg), translation (Å)
    ("1AHW", 0.0, 0.0),
    ("1AHW", 10.0, 2.0),
    ("2FD6", 25.0, 4.0),
    ("3RVW", 5.0, 1.0),
    ("1JPS", 40.0, 8.0),
    ("5KOV", 15.0, 3.0),
]


def rotation(axis, deg):
    axis = axis / np.linalg.norm(axis)
    a = np.radians(deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def merged_lines(path, chains, new_chain, transform=None):
    """ATOM lines of ``chains`` (in that order) as one chain, residues renumbered."""
    lines = [line for line in Path(path).read_text().splitlines() if line.startswith("ATOM")]
    out, number, last = [], 0, None
    for chain in chains:
        for line in lines:
            if line[21] != chain or line[16] not in " A":
                continue
            key = (line[21], line[22:27])
            if key != last:
                number += 1
                last = key
            xyz = np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])])
            if transform is not None:
                xyz = transform(xyz)
            out.append(
                f"{line[:16]} {line[17:21]}{new_chain}{number:>4} "
                f"   {xyz[0]:8.3f}{xyz[1]:8.3f}{xyz[2]:8.3f}{line[54:]}"
            )
    return out


def main(bench):
    bench = Path(bench)
    rows = {}
    for line in (bench / "cases.tsv").read_text().splitlines()[1:]:
        code, chains = line.split("\t")[0].split("_")
        rows[code] = chains.split(":")
    rng = np.random.default_rng(7)
    refs = []
    for k, (case, deg, shift) in enumerate(CASES):
        rec_chains, lig_chains = rows[case]
        rec = merged_lines(bench / "pdbs" / f"{case}_r_b.pdb", rec_chains, "A")
        lig = merged_lines(bench / "pdbs" / f"{case}_l_b.pdb", lig_chains, "B")
        centre = np.mean([[float(s[30:38]), float(s[38:46]), float(s[46:54])] for s in lig], 0)
        rot = rotation(rng.normal(size=3), deg)
        t = rng.normal(size=3)
        t = shift * t / np.linalg.norm(t)
        native_name = f"{case}_native.pdb"
        model_name = f"{case}_model{k}.pdb"
        native_text = "\n".join(rec + ["TER"] + lig + ["TER", "END"]) + "\n"
        (HERE / native_name).write_text(native_text)
        moved = merged_lines(
            bench / "pdbs" / f"{case}_l_b.pdb",
            lig_chains,
            "B",
            lambda x, rot=rot, centre=centre, t=t: rot @ (x - centre) + centre + t,
        )
        (HERE / model_name).write_text("\n".join(rec + ["TER"] + moved + ["TER", "END"]) + "\n")
        out = HERE / "out.json"
        cmd = [
            DOCKQ,
            "--mapping",
            "AB:AB",
            "--json",
            str(out),
            str(HERE / model_name),
            str(HERE / native_name),
        ]
        subprocess.run(cmd, check=True, capture_output=True)
        data = json.loads(out.read_text())
        out.unlink()
        (HERE / model_name).unlink()  # the test rebuilds it from the native + transform
        with gzip.open(HERE / (native_name + ".gz"), "wt") as fh:
            fh.write(native_text)
        (HERE / native_name).unlink()
        interface = next(iter(data["best_result"].values()))
        refs.append(
            {
                "case": case,
                "model": model_name,
                "native": native_name,
                "rotation_deg": deg,
                "translation_angstrom": shift,
                "transform": {
                    "rotation": rot.tolist(),
                    "centre": centre.tolist(),
                    "translation": t.tolist(),
                    "applies_to": "chain B: x' = rotation @ (x - centre) + centre + translation",
                },
                "command": " ".join(
                    ["DockQ", "--mapping", "AB:AB", "--json", "out.json", model_name, native_name]
                ),
                **{key: interface[key] for key in ("DockQ", "fnat", "iRMSD", "LRMSD", "fnonnat")},
            }
        )
        print(refs[-1])
    (HERE / "reference.json").write_text(
        json.dumps(
            {
                "dockq_version": "2.1.3",
                "generator": "tests/data/dockq/make_fixture.py",
                "models": refs,
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main(sys.argv[1])
