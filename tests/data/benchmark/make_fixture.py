"""Make the miniature benchmark sets used by tests/test_benchmark.py (run from the repo root):

    python tests/data/benchmark/make_fixture.py /work/shared/benchmarks

antibody_benchmark/: cases 2DD8 (chains HL:S, insertion codes) and 2W9E (HL:A), both
with an experimental affinity, from Guest et al. 2021 (CC BY 4.0), each structure cut to the residues within
RADIUS Å of the partner in the bound complex (unbound files: of the bound partner, the
pairs are pre-superposed); cases.tsv and affinities.tsv rows copied verbatim.
ab_bind/: 1KTZ (A_B) from AB-Bind (Sirin et al. 2016) cut the same way, with its rows of
ddg.csv for residues kept, plus two rows copied from other complexes' text for the parser
(an insertion code and a multiple mutation) pointing at the same cut structure.
"""

import sys
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

HERE = Path(__file__).parent
RADIUS = 10.0


def atoms(path):
    return [s for s in Path(path).read_text().splitlines() if s.startswith("ATOM")]


def xyz(lines):
    return np.array([[float(s[30:38]), float(s[38:46]), float(s[46:54])] for s in lines])


def near(lines, partner_lines, radius=RADIUS):
    tree = cKDTree(xyz(partner_lines))
    d, _ = tree.query(xyz(lines))
    keep = {(s[21], s[22:27]) for s, di in zip(lines, d, strict=True) if di <= radius}
    return [s for s in lines if (s[21], s[22:27]) in keep]


def widen(lines, kept_lines, window=3):
    """Whole stretches: residues within ``window`` positions of a kept residue (no
    one-residue fragments, which PDBFixer cannot protonate)."""
    order = list(dict.fromkeys((s[21], s[22:27]) for s in lines))
    kept = {(s[21], s[22:27]) for s in kept_lines}
    keep = set()
    for i, key in enumerate(order):
        if key in kept:
            keep.update(k for k in order[max(0, i - window) : i + window + 1] if k[0] == key[0])
    return [s for s in lines if (s[21], s[22:27]) in keep]


def write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines + ["END"]) + "\n")


def main(root):
    root = Path(root)
    ab = root / "antibody_benchmark"
    out = HERE / "antibody_benchmark"
    cases = (ab / "cases.tsv").read_text().splitlines()
    aff = (ab / "affinities.tsv").read_text().splitlines()
    keep_cases = ("2DD8", "2W9E")
    (out / "cases.tsv").parent.mkdir(parents=True, exist_ok=True)
    (out / "cases.tsv").write_text(
        "\n".join([cases[0]] + [c for c in cases[1:] if c[:4] in keep_cases]) + "\n"
    )
    (out / "affinities.tsv").write_text(
        "\n".join([aff[0]] + [a for a in aff[1:] if a[:4] in keep_cases]) + "\n"
    )
    for case in keep_cases:
        rb, lb = atoms(ab / "pdbs" / f"{case}_r_b.pdb"), atoms(ab / "pdbs" / f"{case}_l_b.pdb")
        write(out / "pdbs" / f"{case}_r_b.pdb", near(rb, lb))
        write(out / "pdbs" / f"{case}_l_b.pdb", near(lb, rb))
        ru, lu = atoms(ab / "pdbs" / f"{case}_r_u.pdb"), atoms(ab / "pdbs" / f"{case}_l_u.pdb")
        write(out / "pdbs" / f"{case}_r_u.pdb", near(ru, lb))
        write(out / "pdbs" / f"{case}_l_u.pdb", near(lu, rb))
    bind = root / "ab_bind"
    out = HERE / "ab_bind"
    lines = atoms(bind / "pdbs" / "1KTZ.pdb")
    a = [s for s in lines if s[21] == "A"]
    b = [s for s in lines if s[21] == "B"]
    cut = widen(a, near(a, b, 8.0)) + widen(b, near(b, a, 8.0))
    write(out / "pdbs" / "1KTZ.pdb", cut)
    kept = {(s[21], s[22:26].strip()) for s in cut}
    rows = (bind / "ddg.csv").read_text().splitlines()
    mine = []
    for row in rows[1:]:
        if not row.startswith("1KTZ,"):
            continue
        mut = row.split(",")[4]
        if (mut[0], mut[3:-1]) in kept:
            mine.append(row)
    # parser cases: an insertion code and a multiple mutation, in 1KTZ's cut structure
    # terms (text only; these two rows are not experimental data of 1KTZ)
    extra = [
        '1KTZ,A_B,parser-test,parser-test,"B:I53A,B:T51A",9.9,,,,,,,,,,',
        "1KTZ,A_B,parser-test,parser-test,H:Y100aA,9.9,,,,,,,,,,",
    ]
    (out / "ddg.csv").write_text("\n".join([rows[0]] + mine + extra) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
