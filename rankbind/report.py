"""One Markdown + HTML report (with PNG figures) that answers the project's question:
in a given setting, how much RANKL reaches RANK?

The report collects whatever a run directory holds, found by file name, and says what
is missing:

- ``cited_competition.json`` (+ PNGs) from :mod:`rankbind.competition.cited`: the seed
  scenarios on cited inputs, sensitivities, computed-versus-cited affinities;
- ``*/footprint.json``, ``*/summary.json``, ``*/hbonds.csv``, ``*/salt_bridges.csv``,
  ``competition.json`` (contacts layer): footprints, interface chemistry, PRODIGY;
- ``mmgbsa.json`` (energies layer), ``pmf.json`` (umbrella analysis);
- ``results.json`` with ``scenarios`` (``rankbind compete run``);
- ``*.report.json``: structural summaries from the modelling layer, one section each
  (``{"section", "title", "label", "provenance", "tables": [{"caption", "header",
  "rows"}], "notes": [...], "figures": [png paths relative to the file]}``; sections
  ``same-species``, ``same-species-energies``, ``denosumab-epitope``, ``isoforms``,
  ``threading-validation``);
- ``provenance.json`` / ``protocol.json`` / ``metadata.json``.

Every number is printed with a label: computed (this run, with the file it came from),
cited (source id, see the inputs table) or placeholder. Numbers are copied from those
files; nothing is re-derived except unit conversions, which are stated.
"""

from __future__ import annotations

import csv
import html
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import markdown
import numpy as np
import yaml

from rankbind.fileio import atomic_open, write_text

R_KCAL = 8.314462618 / 4184.0
SECTIONS = (
    "same-species",
    "same-species-energies",
    "denosumab-epitope",
    "isoforms",
    "threading-validation",
)
# MM/GBSA of a known tight binder above this (kcal/mol) is implausible as a binding score
IMPLAUSIBLE_DG_KCAL = 0.0
CSS = """
body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.45;color:#222}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #bbb;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef}
img{max-width:100%;border:1px solid #ddd}
.warning{background:#fff3cd;border-left:4px solid #e0a800;padding:.4em .8em}
.missing{background:#f1f1f1;border-left:4px solid #999;padding:.4em .8em}
em.label{color:#555}
"""


@dataclass
class Report:
    title: str
    out: Path
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)

    def add(self, heading: str, *blocks: str) -> None:
        self.sections.append((heading, [b for b in blocks if b]))

    def figure(self, source: Path, caption: str) -> str:
        target = self.out / "figures" / f"{len(self.figures):02d}_{source.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
        self.figures.append(target)
        return f"![{caption}](figures/{target.name})\n\n*{caption}*"

    def new_figure_path(self, name: str) -> Path:
        path = self.out / "figures" / f"{len(self.figures):02d}_{name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.figures.append(path)
        return path


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _cell(value) -> str:
    text = str(value).replace("|", "/").replace("\n", " ").replace("`", "'")
    return text


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _warn(text: str) -> str:
    return f'<div class="warning" markdown="1">Warning: {html.escape(text)}</div>'


def _missing(text: str) -> str:
    return f'<div class="missing" markdown="1">Not in this run: {html.escape(text)}</div>'


def _num(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    x = float(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def _molar(x) -> str:
    if x is None:
        return "n/a"
    x = float(x)
    if x == 0:
        return "0 M"
    for unit, scale in (("M", 1), ("mM", 1e-3), ("uM", 1e-6), ("nM", 1e-9), ("pM", 1e-12)):
        if abs(x) >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x / 1e-15:.3g} fM"


def _pm(value: float, error: float | None, digits: int = 2, n: int | None = None) -> str:
    if n == 1:
        return f"{value:.{digits}f} (single structure, no sampling error)"
    if error is None or error != error:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} ± {error:.{digits}f}"


def _rel(run: Path, path: Path) -> str:
    try:
        return str(path.relative_to(run))
    except ValueError:
        return path.name


# ---------------------------------------------------------------------------------------
# cited competition
# ---------------------------------------------------------------------------------------


def _cited(report: Report, run: Path) -> dict | None:
    paths = sorted(run.rglob("cited_competition.json"))
    if not paths:
        report.add(
            "How much RANKL reaches RANK",
            _missing(
                "no cited_competition.json (run the cited_competition task or "
                "rankbind compete cited -o DIR inside the run folder)"
            ),
        )
        return None
    path = paths[0]
    data = _load(path)
    src = _rel(run, path)
    rows = []
    for c in data["conclusions"]:
        label = _conclusion_label(c, data)
        rows.append([
            c["scenario"], _molar(c["signalling_molar"]), _num(c["signalling_relative"]),
            _num(c["rank_engaged"]), _num(c["site_fractions"].get("OPG")),
            _num(c["free_trimer_fraction"]), label,
        ])  # fmt: skip
    base = data["conclusions"][0]
    inputs = {i["role"]: i for i in data["inputs"]}
    opg_sites = base["site_fractions"].get("OPG", float("nan"))
    text = (
        f"Answer, as computed by this run (label: computed, from cited inputs where they exist "
        f"and placeholders where they do not; file {src}): at the cited myeloma serum "
        f"concentrations (sRANKL {_molar(inputs['srankl_trimer_molar']['value'])} trimers, "
        f"OPG {_molar(inputs['opg_dimer_molar']['value'])} dimers, both derived from cited "
        f"medians) and the cited OPG dimer Kd ({_molar(inputs['kd_opg']['value'])}), OPG holds "
        f"a fraction {_num(opg_sites)} of sRANKL sites, so RANK signalling is set by RANKL and "
        f"RANK, not by OPG; the OPG sink and TRAIL change it by a factor "
        f"{_num(data['conclusions'][1]['signalling_relative'], 5)} and "
        f"{_num(data['conclusions'][2]['signalling_relative'], 5)}. OPG competes only at local "
        f"concentrations near its Kd (placeholder local OPG "
        f"{_molar(inputs['opg_local']['value'])}: signalling "
        f"{_num(_find(data, 'local OPG')['signalling_relative'])} of baseline). Denosumab at "
        f"both trial regimens leaves a fraction below "
        f"{_num(max(r['signalling_relative'] for r in data['conclusions'] if 'denosumab' in r['scenario']))} "
        "of the signalling at its trough (linear PK: an upper bound for the 60 mg regimen)."
    )
    report.add(
        "How much RANKL reaches RANK",
        text,
        _table(
            [
                "scenario",
                "signalling trimers",
                "relative to myeloma baseline",
                "RANK bound",
                "sRANKL sites held by OPG",
                "free sRANKL trimers",
                "label",
            ],
            rows,
        ),  # fmt: skip
        "Signalling = concentration of sRANKL trimers with at least two RANK bound (a model "
        "proxy). Assumptions:",
        "\n".join(f"- {a}" for a in data["assumptions"]),
        f"Equilibrium network: {data['species']} enumerated species, solved in JAX float64.",
    )
    _inputs_table(report, data)
    _figures_cited(report, path, data)
    _sensitivities(report, data)
    return data


def _find(data: dict, key: str) -> dict:
    return next(c for c in data["conclusions"] if key in c["scenario"])


def _conclusion_label(row: dict, data: dict) -> str:
    kinds = {i["role"]: i["kind"] for i in data["inputs"]}
    used = {"kd_rank", "rank", "kd_opg", "srankl_mass", "opg_mass"}
    name = row["scenario"]
    if "sink" in name:
        used |= {"sink", "kd_sink"}
    if "TRAIL" in name:
        used |= {"trail", "kd_trail"}
    if "LGR4" in name:
        used |= {"lgr4", "kd_lgr4"}
    if "RANK-c" in name:
        used |= {"rank_c"}
    if "RANKL3" in name:
        used |= {"rankl3"}
    if "local OPG" in name:
        used |= {"opg_local"}
    if "denosumab" in name:
        used |= {"kd_dmab", "pk_f", "pk_volume", "pk_clearance", "pk_absorption_half_life"}
    placeholders = sorted(r for r in used if kinds.get(r) == "placeholder")
    if placeholders:
        return "computed; placeholder inputs: " + ", ".join(placeholders)
    return "computed from cited inputs"


def _inputs_table(report: Report, data: dict) -> None:
    rows = []
    for i in data["inputs"]:
        if i["unit"] == "M":
            value = _molar(i["value"])
        else:
            value = f"{_num(i['value'])} {'' if i['unit'] == '1' else i['unit']}".strip()
        prov = i["provenance"] + (f" Note: {i['note']}" if i.get("note") else "")
        rows.append([i["quantity"], value, i["label"], prov])
    report.add(
        "Inputs and their provenance",
        "Every number the competition model uses, with its label: cited (source id and "
        "confidence: primary = the measuring paper, label = a drug label, secondary = a page "
        "reporting another paper's value), derived (formula given), or placeholder (nothing "
        "citable found; the basis says what was searched). Sources are listed in "
        "seeds/competition_inputs.yaml.",
        _table(["quantity", "value", "label", "provenance"], rows),
    )


def _figures_cited(report: Report, path: Path, data: dict) -> None:
    folder = path.parent
    blocks = []
    captions = {
        "cited_myeloma_ratio.png": "RANK signalling (left) and RANK occupancy (right) against "
        "the sRANKL/OPG ratio, at the cited serum OPG and a placeholder local OPG, without and "
        "with the heparan-sulfate sink and TRAIL. Vertical lines: cited healthy and myeloma "
        "medians. Computed; RANK inputs are placeholders.",
        "cited_denosumab_interval.png": "Denosumab over one steady-state dosing interval: serum "
        "concentration from the cited linear PK (left; dotted: label trough), free sRANKL "
        "trimer fraction (middle), RANK signalling relative to no drug (right). Computed.",
        "cited_sink.png": "RANK signalling (left) and OPG occupancy of sRANKL (right) against "
        "the capacity of the myeloma heparan-sulfate OPG sink, at the cited serum OPG and the "
        "placeholder local OPG, without and with TRAIL. Computed; sink capacity and Kd are "
        "placeholders.",
        "cited_decoys.png": "Effect of soluble RANKL3 trimers, RANK-c and LGR4 on sRANKL "
        "signalling. Computed; concentrations and the LGR4 Kd are placeholders.",
    }
    for name in data.get("figures", []):
        if (folder / name).is_file():
            blocks.append(report.figure(folder / name, captions.get(name, name)))
    pk = data["denosumab"]["pk"]
    blocks.append(
        _table(
            ["check of the linear PK model", "model (computed)", "published (cited)"],
            [
                [
                    "steady-state trough, 120 mg every 4 weeks (ug/mL)",
                    _num(pk["trough_120_q4w_model_ug_ml"]),
                    _num(pk["trough_120_q4w_label_ug_ml"]) + " (xgeva_ch)",
                ],
                [
                    "elimination half-life (day)",
                    _num(pk["elimination_half_life_day"]),
                    _num(pk["label_half_life_day"]) + " (xgeva_ch)",
                ],
                [
                    "single-dose peak time (day)",
                    _num(pk["tmax_single_day"]),
                    _num(pk["label_tmax_day"]) + " (chen2018)",
                ],
            ],
        )  # fmt: skip
    )
    rows = [
        [label, _num(reg["peak_ug_per_ml"]), _num(reg["trough_ug_per_ml"]),
         _num(min(reg["free_trimer_fraction"])), _num(max(reg["free_trimer_fraction"])),
         _num(max(reg["signalling_relative"]))]
        for label, reg in data["denosumab"]["regimens"].items()
    ]  # fmt: skip
    blocks.append(
        _table(
            [
                "regimen (Renema 2016 Table 2)",
                "peak ug/mL",
                "trough ug/mL",
                "min free sRANKL fraction",
                "max free sRANKL fraction",
                "max signalling / no drug",
            ],
            rows,
        )  # fmt: skip
    )
    report.add("Signalling left in the seed scenarios", *blocks)


def _sensitivities(report: Report, data: dict) -> None:
    keys = []
    for c in data["conclusions"]:
        for k in c["elasticities"]:
            if k not in keys:
                keys.append(k)
    rows = [
        [c["scenario"]] + [_num(c["elasticities"].get(k), 2) for k in keys]
        for c in data["conclusions"]
    ]
    header = ["conclusion (signalling)"] + [
        k.replace("d/dlnKd:", "Kd ").replace("d/dlnTotal:", "total ") for k in keys
    ]
    report.add(
        "Sensitivity of each conclusion to each input",
        "Elasticities d ln(signalling) / d ln(input), from automatic differentiation through "
        "the equilibrium solve (implicit function theorem). 0.5 means a 2-fold change of the "
        "input changes signalling by about 2^0.5. Inputs at zero are omitted. Computed.",
        _table(header, rows),
    )
    comp = data.get("computed_vs_cited") or []
    if comp:
        rows = [
            [r["binder"], _molar(r["cited_kd_molar"]), r["cited_label"], _molar(r["computed_kd_molar"]),
             f"{r['computed_dg_kcal']:.2f} kcal/mol", r["computed_source"], _num(r["signalling_relative_to_cited"])]
            for r in comp
        ]  # fmt: skip
        report.add(
            "Affinities: cited and computed side by side",
            "Kd used by the competition model (cited or placeholder) next to this run's "
            "structure-based estimate, and the baseline signalling when the computed value "
            "replaces it.",
            _table(
                [
                    "binder",
                    "Kd used",
                    "label",
                    "Kd computed",
                    "dG computed",
                    "computed by",
                    "signalling with computed / with used",
                ],
                rows,
            ),  # fmt: skip
            *[
                _warn(
                    f"{r['binder']}: computed Kd differs from the cited/placeholder value by "
                    f"{abs(math.log10(r['computed_kd_molar'] / r['cited_kd_molar'])):.1f} orders "
                    "of magnitude"
                )
                for r in comp
                if abs(math.log10(r["computed_kd_molar"] / r["cited_kd_molar"])) > 2
            ],
        )


# ---------------------------------------------------------------------------------------
# structural layer
# ---------------------------------------------------------------------------------------


def _footprints(report: Report, run: Path) -> list[dict]:
    prints = []
    for path in sorted(run.rglob("footprint.json")):
        data = _load(path)
        data["_folder"] = path.parent
        prints.append(data)
    if not prints:
        report.add("Footprints on RANKL", _missing("no footprint.json (contacts task)"))
        return prints
    rows = [
        [p["name"], p.get("species", "?"), len(p["residues"]), ",".join(p.get("protomers", [])),
         _num(p.get("buried_sasa_total"), 4), "computed (" + _rel(run, p["_folder"]) + ")"]
        for p in prints
    ]  # fmt: skip
    blocks = [
        "Footprint = RANKL residues with a heavy atom within the contact cutoff of the binder "
        f"(cutoff {prints[0].get('cutoff_nm', '?')} nm), numbered on human RANKL (UniProt "
        "O14788). Computed on the structures named.",
        _table(
            [
                "binder (entry)",
                "RANKL species",
                "residues",
                "protomers",
                "buried SASA (A^2)",
                "label",
            ],
            rows,
        ),  # fmt: skip
    ]
    png = report.new_figure_path("footprints_sequence.png")
    _plot_footprints(png, prints)
    blocks.append(
        f"![footprints](figures/{png.name})\n\n*Footprints on the RANKL sequence (human "
        "UniProt numbering), one row per binder, residue labels on every contact; colour = "
        "buried SASA. Computed.*"
    )
    for comp in sorted(run.rglob("competition.json")):
        data = _load(comp)
        pairs = [
            [p["first"], p["second"], len(p["shared"]), f"{p['jaccard']:.2f}", p["verdict"],
             p.get("steric", {}).get("criterion", "") if isinstance(p.get("steric"), dict) else ""]
            for p in data.get("pairs", [])
        ]  # fmt: skip
        if pairs:
            blocks.append(
                _table(
                    ["binder", "binder", "shared residues", "Jaccard", "verdict", "criterion"],
                    pairs,
                )  # fmt: skip
            )
    report.add("Footprints on RANKL", *blocks)
    _chemistry(report, run, prints)
    return prints


def _plot_footprints(path: Path, prints: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numbers = sorted({r["reference_number"] for p in prints for r in p["residues"]
                      if r.get("reference_number") is not None})  # fmt: skip
    lo, hi = (min(numbers) - 3, max(numbers) + 3) if numbers else (160, 317)
    fig, ax = plt.subplots(figsize=(12, 1.2 + 1.1 * len(prints)))
    cmap = plt.get_cmap("viridis")
    vmax = max((r.get("buried_sasa") or 0 for p in prints for r in p["residues"]), default=1) or 1
    for row, p in enumerate(prints):
        y = len(prints) - 1 - row
        ax.hlines(y, lo, hi, color="#ccc", lw=6, zorder=0)
        best = {}
        for r in p["residues"]:
            n = r.get("reference_number")
            if n is None:
                continue
            sasa = r.get("buried_sasa") or 0  # a residue number recurs across protomers
            if n not in best or sasa > best[n][0]:
                best[n] = sasa, r["resname"]
        for n, (sasa, name) in sorted(best.items()):
            ax.scatter(n, y, s=60, color=cmap(sasa / vmax), zorder=2, edgecolor="k", lw=0.3)
            ax.text(n, y + 0.18, f"{name.title()}{n}", rotation=90, fontsize=6, ha="center",
                    va="bottom")  # fmt: skip
    ax.set_yticks(range(len(prints)), [p["name"] for p in reversed(prints)], fontsize=8)
    ax.set_ylim(-0.6, len(prints) - 0.2 + 0.9)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("RANKL residue (human UniProt O14788 numbering)")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, vmax))
    fig.colorbar(sm, ax=ax, label="buried SASA (A^2)", pad=0.01)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)


def _read_csv(path: Path) -> list[list[str]]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))[1:]


def _chemistry(report: Report, run: Path, prints: list[dict]) -> None:
    blocks = []
    for p in prints:
        folder = p["_folder"]
        hb = _read_csv(folder / "hbonds.csv")
        sb = _read_csv(folder / "salt_bridges.csv")
        if not hb and not sb:
            continue
        blocks.append(f"**{p['name']}** (computed, {_rel(run, folder)}): {len(hb)} hydrogen "
                      f"bonds, {len(sb)} salt bridges (occupancy over {p.get('n_frames', 1)} "
                      "frame(s)).")  # fmt: skip
        top = 15
        hb = sorted(hb, key=lambda r: -float(r[1]))
        sb = sorted(sb, key=lambda r: -float(r[1]))
        rows = [["H-bond", a, _num(float(b))] for a, b in hb[:top]]
        rows += [["salt bridge", a, _num(float(b))] for a, b in sb[:top]]
        blocks.append(_table(["kind", "RANKL -- binder atoms / residues", "occupancy"], rows))
        if len(hb) > top or len(sb) > top:
            blocks.append(f"Highest-occupancy {top} of each shown; all in hbonds.csv and "
                          f"salt_bridges.csv of {_rel(run, folder)}.")  # fmt: skip
    if blocks:
        report.add("Hydrogen bonds and salt bridges", *blocks)


def _structural_sections(
    report: Report, run: Path, prints: list[dict], cited: dict | None = None
) -> None:
    found: dict[str, list[tuple[Path, dict]]] = {s: [] for s in SECTIONS}
    for path in sorted(run.rglob("*.report.json")):
        data = _load(path)
        if data.get("section") in found:
            found[data["section"]].append((path, data))
    seeds = _seed_constructs()
    species = {p["name"]: p.get("species", "?") for p in prints}
    # same-species
    blocks = []
    if len(set(species.values())) > 1:
        blocks.append(
            _warn(
                "the footprints compared here come from different species: "
                + ", ".join(f"{k}: {v}" for k, v in species.items())
                + ". A cross-species difference mixes species and binder."
            )
        )
    blocks += _render_sections(report, run, found["same-species"])
    blocks += _render_sections(report, run, found["same-species-energies"])
    if not found["same-species-energies"]:
        blocks.append(
            _missing(
                "same-species energetics with replica ensembles (PRODIGY, MM/GBSA, "
                "per-residue and alanine side by side): no same-species-energies "
                "*.report.json (gpu_bench/rankl_axis.py writes it)"
            )
        )
    if not found["same-species"]:
        blocks.append(
            _missing(
                "same-species comparisons (human RANKL with human OPG vs human RANK model; "
                "mouse RANKL with mouse RANK vs mouse OPG model) with ensembles: no "
                "same-species *.report.json from the modelling layer"
            )
        )
    report.add("Same-species OPG versus RANK", *blocks)
    # denosumab epitope
    blocks = []
    epitope = (seeds.get("segments") or {}).get("denosumab_epitope")
    if epitope:
        lo, hi = epitope["first"], epitope["last"]
        rows = []
        for p in prints:
            hit = sorted({r["reference_number"] for r in p["residues"]
                          if r.get("reference_number") and lo <= r["reference_number"] <= hi})  # fmt: skip
            rows.append(
                [p["name"], f"{len(hit)} of {hi - lo + 1}", ", ".join(map(str, hit)) or "none"]
            )
        blocks.append(
            f"Cited linear denosumab epitope on human RANKL: residues {lo}-{hi} (cited, "
            f"{epitope.get('source')}, confidence {epitope.get('confidence')}; "
            "seeds/isoform_constructs.yaml). Overlap with each computed receptor footprint:"
        )
        blocks.append(
            _table(["receptor footprint", "epitope residues contacted", "residues"], rows)
        )
    blocks += _render_sections(report, run, found["denosumab-epitope"])
    if not found["denosumab-epitope"]:
        blocks.append(
            _missing(
                "denosumab Fab docking ensemble (epitope overlap per pose, one-groove vs "
                "two-groove exclusion): no denosumab-epitope *.report.json"
            )
        )
    report.add("Denosumab epitope and the receptor footprints", *blocks)
    # isoforms
    blocks = []
    iso = seeds.get("isoforms") or {}
    rows = [
        [k, v.get("description", ""), "yes" if v.get("anchored") else "no", v.get("valency", "?"),
         v.get("modelled_part", ""), v.get("confidence", "?")]
        for k, v in iso.items() if k in ("RANKL1", "RANKL3", "RANK", "RANK-c", "OPG_full_length")
    ]  # fmt: skip
    if rows:
        blocks.append("Constructs (cited; seeds/isoform_constructs.yaml, with confidence):")
        blocks.append(_table(["isoform", "what it is", "membrane-anchored", "binding sites",
                              "modelled part", "confidence"], rows))  # fmt: skip
    if cited:
        base = cited["conclusions"][0]["signalling_molar"]
        at = cited["decoys"]["at_placeholder"]
        used = {i["role"]: i for i in cited["inputs"]}
        what = {
            "RANKL3": ("rankl3", "a second soluble trimer pool with RANKL's site affinities: "
                       "takes RANK, OPG and denosumab from sRANKL, and signals itself when it "
                       "holds two RANK"),
            "RANK-c": ("rank_c", "a soluble monovalent decoy with RANK's Kd (same ectodomain)"),
            "LGR4": ("lgr4", "a second membrane receptor competing with RANK for sites "
                     "(Luo 2016); its own signalling is not modelled"),
        }  # fmt: skip
        rows = []
        for name, (role, text) in what.items():
            r = at[name]
            item = used[role]
            rows.append([
                name, text, f"{_molar(item['value'])} ({item['label']})",
                _num(r["signalling_molar"] / base), _molar(r["rankl3_signalling_molar"]),
            ])  # fmt: skip
        blocks.append("What the competition model does with them (computed; file "
                      "cited_competition.json; figure in the scenarios section):")  # fmt: skip
        blocks.append(
            _table(
                [
                    "species",
                    "modelled as",
                    "total used",
                    "sRANKL signalling / without",
                    "RANKL3 signalling trimers",
                ],
                rows,
            )  # fmt: skip
        )
    blocks += _render_sections(report, run, found["isoforms"])
    if not found["isoforms"]:
        blocks.append(
            _missing(
                "isoform constructs built from sequence data (RANKL3 from M74, RANK "
                "isoform 2) with boundaries checked: no isoforms *.report.json"
            )  # fmt: skip
        )
    report.add("Isoform effects", *blocks)
    if found["threading-validation"]:
        report.add(
            "Threaded models and their validation",
            *_render_sections(report, run, found["threading-validation"]),
        )


def _render_sections(report: Report, run: Path, items) -> list[str]:
    blocks = []
    for path, data in items:
        blocks.append(
            f"**{data.get('title', path.stem)}** (label: {data.get('label', 'computed')}; "
            f"{data.get('provenance', _rel(run, path))})"
        )
        for t in data.get("tables", []):
            if t.get("caption"):
                blocks.append(f"*{t['caption']}*")
            blocks.append(_table(t["header"], t["rows"]))
        blocks += [str(n) for n in data.get("notes", [])]
        for fig in data.get("figures", []):
            f = path.parent / fig
            if f.is_file():
                blocks.append(report.figure(f, data.get("title", f.stem)))
    return blocks


def _seed_constructs() -> dict:
    from rankbind.competition.seeds import seeds_dir

    path = seeds_dir() / "isoform_constructs.yaml"
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _structures(report: Report, run: Path, prints: list[dict]) -> None:
    blocks = []
    for p in prints:
        prov = p.get("provenance", {})
        entry, kind = prov.get("entry"), prov.get("assembly", "interface")
        if not entry:
            continue
        try:
            from rankbind.analysis.contacts_cli import _load as load_structure

            _, chains, traj, _ = load_structure(entry, kind)
        except Exception as exc:  # a structure that cannot be read offline is reported
            blocks.append(_missing(f"{entry} structure could not be read: {exc}"))
            continue
        png = report.new_figure_path(f"structure_{entry}_{kind}.png")
        _plot_structure(png, traj, chains, p)
        blocks.append(
            f"![{entry}](figures/{png.name})\n\n*{p['name']}: C-alpha trace from the "
            f"coordinates ({prov.get('kind', 'structure')} {entry}, {kind} assembly), coloured "
            "by chain; footprint residues on RANKL in red. Rendered offline with matplotlib.*"
        )
    if blocks:
        report.add("Structures", *blocks)


def _plot_structure(path: Path, traj, chains, footprint: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = traj.topology
    xyz = traj.xyz[0] * 10.0
    contact = {(r["chain"], int(r["number"])) for r in footprint["residues"]}
    molecule = {c.chain_id: c.molecule for c in chains}
    centre = xyz[[a.index for a in top.atoms if a.name == "CA"]].mean(axis=0)
    fig = plt.figure(figsize=(6, 5.5))
    ax = fig.add_subplot(projection="3d")
    palette = plt.get_cmap("tab10")
    for k, chain in enumerate(top.chains):
        ca = [a for a in chain.atoms if a.name == "CA"]
        if not ca:
            continue
        cid = getattr(chain, "chain_id", None) or chr(65 + k)
        pts = xyz[[a.index for a in ca]] - centre
        ax.plot(*pts.T, color=palette(k % 10), lw=1.2,
                label=f"{cid} {molecule.get(cid, '')}".strip())  # fmt: skip
        hit = [i for i, a in enumerate(ca) if (cid, a.residue.resSeq) in contact]
        if hit:
            ax.scatter(*pts[hit].T, color="red", s=14, depthshade=False)
    ca_all = xyz[[a.index for a in top.atoms if a.name == "CA"]] - centre
    half = float(np.abs(ca_all).max())
    ax.set_xlim(-half, half)
    ax.set_ylim(-half, half)
    ax.set_zlim(-half, half)
    ax.set_box_aspect((1, 1, 1), zoom=1.3)
    ax.set_axis_off()
    ax.view_init(elev=15, azim=35)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(footprint["name"], fontsize=9)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------------------------
# energies
# ---------------------------------------------------------------------------------------

TIGHT_BINDERS = ("OPG", "RANK", "FAB", "DMAB", "DENOSUMAB")


def _affinities(report: Report, run: Path, cited: dict | None) -> None:
    """Cited (or placeholder) Kd next to every computed estimate found in the run."""
    roles = {"RANK": "kd_rank", "OPG": "kd_opg", "Dmab": "kd_dmab"}
    used = {i["role"]: i for i in (cited or {}).get("inputs", [])}
    computed: dict[str, list[str]] = {}
    for summary in sorted(run.rglob("summary.json")):
        data = _load(summary)
        stats = data.get("prodigy")
        if stats and "binder" in data:
            name = data["binder"].split("/")[0]
            computed.setdefault(name, []).append(
                f"PRODIGY {stats['dg_kcal_per_mol_mean']:.1f} kcal/mol (Kd "
                f"{_molar(stats['kd_molar_of_mean_dg'])}; {data.get('input', '?')})"
            )
    for path in sorted(run.rglob("mmgbsa.json")):
        data = _load(path)
        label = data.get("label", path.parent.name)
        name = label.split()[0]
        name = "Dmab" if name.upper().startswith(("FAB", "DMAB", "DENOSUMAB")) else name
        computed.setdefault(name, []).append(
            f"MM/GBSA score {data['dG_bind']['kcal_per_mol']:.1f} kcal/mol ({label}; not a "
            "free energy)"
        )
    rows = []
    for name, role in roles.items():
        item = used.get(role)
        if item is None and name not in computed:
            continue
        dg = R_KCAL * 298.15 * math.log(item["value"]) if item else None
        rows.append([
            name,
            _molar(item["value"]) if item else "n/a",
            f"{dg:.1f} kcal/mol" if dg is not None else "n/a",
            item["label"] if item else "none",
            "; ".join(computed.get(name, [])) or "none in this run",
        ])  # fmt: skip
    if rows:
        report.add(
            "Affinities: cited and computed",
            "Kd used by the competition model (with its label) and dG = RT ln Kd at 298.15 K "
            "(1 M standard state), next to this run's structure-based estimates (computed; "
            "file names in the PRODIGY and MM/GBSA sections).",
            _table(["binder", "Kd used", "dG used", "label", "computed here"], rows),
        )


def _prodigy(report: Report, run: Path) -> None:
    rows = []
    for summary in sorted(run.rglob("summary.json")):
        data = _load(summary)
        stats = data.get("prodigy")
        if not stats:
            continue
        rows.append([
            data.get("input", summary.parent.name), data.get("binder", "?"),
            _pm(stats["dg_kcal_per_mol_mean"], stats.get("dg_kcal_per_mol_sem")),
            _pm(stats["dg_kj_per_mol_mean"], stats.get("dg_kj_per_mol_sem")),
            _molar(stats["kd_molar_of_mean_dg"]), stats.get("n_frames", 1),
            f"computed ({_rel(run, summary.parent)})",
        ])  # fmt: skip
    if rows:
        report.add(
            "Contact-based affinity (PRODIGY)",
            "IC/NIS model of Vangone & Bonvin, eLife 2015 (25 °C); a structure-based estimate, "
            "not a measurement.",
            _table(
                ["input", "binder", "dG (kcal/mol)", "dG (kJ/mol)", "Kd", "frames", "label"], rows
            ),  # fmt: skip
        )


def _mmgbsa(report: Report, run: Path) -> None:
    results = sorted(run.rglob("mmgbsa.json"))
    if not results:
        report.add("MM/GBSA", _missing("no mmgbsa.json"))
        return
    rows, bars, warnings, blocks = [], [], [], []
    for path in results:
        data = _load(path)
        dg = data["dG_bind"]
        kcal, err = dg["kcal_per_mol"], dg["sem_kcal_per_mol"]
        label = data.get("label", path.parent.name)
        rows.append([
            label, data.get("score_kind", "enthalpy-like score"),
            _pm(kcal, err, n=data.get("n_frames")),
            _pm(dg["kJ_per_mol"], dg["sem_kJ_per_mol"], n=data.get("n_frames")),
            data.get("n_frames", "?"), data.get("frames_source", ""),
            f"computed ({_rel(run, path)})",
        ])  # fmt: skip
        bars.append((label, kcal, err or 0.0))
        if kcal > IMPLAUSIBLE_DG_KCAL and any(t in label.upper() for t in TIGHT_BINDERS):
            warnings.append(
                _warn(
                    f"{label}: MM/GBSA dG = {kcal:+.1f} kcal/mol (> 0) for a binder known to bind "
                    "RANKL tightly (cited Kd in the inputs table). The score is implausible as a "
                    "binding free energy: likely unrelaxed contacts (a 20-iteration vacuum "
                    "relaxation), a single structure, or missing entropy; do not rank on it."
                )
            )
        per = (data.get("decomposition") or {}).get("per_residue") or []
        if per:
            png = report.new_figure_path(f"per_residue_{path.parent.name}.png")
            _per_residue_plot(png, per, label)
            blocks.append(
                f"![per-residue](figures/{png.name})\n\n*{label}: per-residue MM/GBSA "
                "contributions (kcal/mol, mean ± SEM over frames), 25 largest in magnitude. "
                "Computed.*"
            )
    if not any("per_residue" in str(b) for b in blocks):
        blocks.append(_missing("per-residue decomposition (mmgbsa task with decompose: true)"))
    png = report.new_figure_path("mmgbsa.png")
    _bar_chart(png, bars, "MM/GBSA dG (kcal/mol)")
    report.add(
        "MM/GBSA",
        "Single-trajectory MM/GBSA (GB + gamma*SASA), bootstrap standard errors over frames. "
        "Unless the score kind says otherwise this is an enthalpy-like score without entropy, "
        "useful for ranking, not an absolute binding free energy.",
        *warnings,
        _table(
            [
                "system",
                "score kind",
                "dG (kcal/mol)",
                "dG (kJ/mol)",
                "frames",
                "frames from",
                "label",
            ],
            rows,
        ),  # fmt: skip
        f"![MM/GBSA](figures/{png.name})",
        *blocks,
    )


def _per_residue_plot(path: Path, per: list[dict], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per = sorted(per, key=lambda r: -abs(r.get("dG_kcal_per_mol", 0.0)))[:25]
    per = sorted(
        per, key=lambda r: (r.get("side", ""), r.get("chain", ""), int(r.get("residue", 0)))
    )
    labels = [
        f"{r.get('chain', '')}:{str(r.get('name', '')).title()}{r.get('residue', '')}" for r in per
    ]
    values = [r.get("dG_kcal_per_mol", 0.0) for r in per]
    errors = [r.get("sem_kcal_per_mol", 0.0) or 0.0 for r in per]
    colours = ["#4c72b0" if r.get("side") == "receptor" else "#dd8452" for r in per]
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(per)), 3.6))
    ax.bar(range(len(per)), values, yerr=errors, color=colours, capsize=2)
    ax.set_xticks(range(len(per)), labels, rotation=90, fontsize=7)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel("dG contribution (kcal/mol)")
    ax.set_title(f"{title} (blue: RANKL side, orange: binder side)", fontsize=9)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)


def _pmf(report: Report, run: Path) -> None:
    for path in sorted(run.rglob("pmf.json")):
        data = _load(path)
        pmf, binding = data.get("pmf", {}), data.get("binding", {})
        png = report.new_figure_path(f"pmf_{path.parent.name}.png")
        _line_plot(png, pmf.get("centres_nm", []), pmf.get("pmf_kT", []),
                   pmf.get("error_kT", []), "COM separation (nm)", "PMF (kT)")  # fmt: skip
        rows = [[k, _num(v) if isinstance(v, int | float) else str(v)] for k, v in binding.items()
                if not isinstance(v, dict | list)]  # fmt: skip
        report.add(
            f"PMF ({path.parent.name})",
            _table(["quantity", "value (computed)"], rows) if rows else "",
            f"![PMF](figures/{png.name})",
        )


# ---------------------------------------------------------------------------------------
# illustrative competition configurations (rankbind compete run)
# ---------------------------------------------------------------------------------------


def _competition(report: Report, run: Path) -> None:
    for path in sorted(run.rglob("results.json")):
        data = _load(path)
        if "scenarios" not in data or "baseline" not in data:
            continue
        base = data["baseline"]
        totals = base.get("pool_totals_molar") or [None] * len(base["pools"])
        rows = []
        for i, pool in enumerate(base["pools"]):
            site = base["receptor_site_fraction"][i]
            sig = base["signalling_fraction"][i]
            if totals[i] == 0 or site is None:
                rows.append([pool, "0 M", "absent", "absent"])
            else:
                rows.append([pool, _molar(totals[i]), _num(site), _num(sig)])
        config = data.get("config", {})
        inputs = []
        for p in config.get("pools", []):
            inputs.append(
                [
                    p["name"],
                    "trimer total",
                    _molar(p.get("total_trimer_molar")),
                    p.get("source", ""),
                ]
            )
        for b in config.get("binders", []):
            aff = b.get("affinity", {})
            kd = aff.get("kd_molar")
            if kd is None and "dg_kcal" in aff:
                kd = math.exp(aff["dg_kcal"] / (R_KCAL * aff.get("temperature_k", 298.15)))
            inputs.append([b["name"], "total", _molar(b.get("total_molar")), b.get("source", "")])
            inputs.append(
                [
                    b["name"],
                    f"Kd (valency {b.get('valency', 1)})",
                    _molar(kd),
                    aff.get("source", ""),
                ]
            )
        assumptions = data.get("assumptions", {})
        items = assumptions.items() if isinstance(assumptions, dict) else enumerate(assumptions)
        blocks = [
            f"Configuration {_rel(run, path)}: numbers are labelled by their source field; "
            "ILLUSTRATIVE PLACEHOLDER means placeholder.",
            _table(["pool", "total", "RANK-bound sites", "trimers with >= 2 RANK"], rows),
            _table(["component", "quantity", "value", "source (label)"], inputs),
            "\n".join(f"- {k}: {v}" for k, v in items),
        ]
        blocks += [_warn(w) for w in data.get("warnings", [])]
        placeholder = "PLACEHOLDER" in json.dumps(config).upper()
        tag = " (computed from placeholder inputs)" if placeholder else " (computed)"
        for png in sorted(path.parent.glob("*.png")):
            if png.name.startswith("cited_"):
                continue
            blocks.append(report.figure(png, png.stem.replace("_", " ") + tag))
        report.add(f"Competition configuration ({path.parent.name})", *blocks)


def _provenance(report: Report, run: Path) -> None:
    protocol = run / "protocol.json"
    blocks = []
    if protocol.is_file():
        data = _load(protocol)
        blocks.append(
            f"Protocol {data.get('protocol', {}).get('name', '?')} (sha256 "
            f"{str(data.get('sha256', '?'))[:16]}...)."
        )
        systems = data.get("protocol", {}).get("systems", {})
        if systems:
            blocks.append(
                _table(
                    ["system", "entry", "assembly"],
                    [
                        [k, v.get("entry", v.get("file", "?")), v.get("kind", "")]
                        for k, v in systems.items()
                    ],
                )  # fmt: skip
            )
    inputs, seen = [], set()
    for meta in sorted(run.rglob("metadata.json")) + sorted(run.rglob("footprint.json")):
        m = _load(meta)
        prov = m.get("provenance", {})
        if prov and prov.get("entry") not in seen:
            seen.add(prov.get("entry"))
            inputs.append([prov.get("entry", "?"), prov.get("kind", ""), prov.get("citation", ""),
                           str(prov.get("sha256", ""))[:16] + "..."])  # fmt: skip
    if inputs:
        blocks.append(_table(["entry", "kind", "citation", "sha256"], inputs))
    versions = next((_load(p).get("versions") for p in sorted(run.rglob("metadata.json"))), None)
    if versions:
        blocks.append("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    if blocks:
        report.add("Inputs and provenance of the structures", *blocks)


def _bar_chart(path: Path, bars: list[tuple[str, float, float]], ylabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(bars)), 3.5))
    ax.bar(range(len(bars)), [b[1] for b in bars], yerr=[b[2] for b in bars], capsize=4,
           color=["#c44e52" if b[1] > 0 else "#4c72b0" for b in bars])  # fmt: skip
    ax.set_xticks(range(len(bars)), [b[0] for b in bars], rotation=20, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    ax.axhline(0, color="k", lw=0.5)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)


def _line_plot(path: Path, x, y, err, xlabel: str, ylabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(x, y, yerr=err, marker="o", ms=3, capsize=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)


def _markdown(report: Report) -> str:
    parts = [f"# {report.title}", ""]
    for heading, blocks in report.sections:
        parts += [f"## {heading}", ""] + [b + "\n" for b in blocks]
    return "\n".join(parts)


def _html(report: Report, text: str) -> str:
    body = markdown.markdown(text, extensions=["tables", "md_in_html"], output_format="html")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
        + html.escape(report.title)
        + f"</title><style>{CSS}</style></head><body>\n"
        + body
        + "\n</body></html>\n"
    )


def build_report(run_dir: str | Path, out_dir: str | Path, title: str = "rankbind report") -> Path:
    """Write ``report.md``, ``report.html`` and ``figures/`` for ``run_dir`` into ``out_dir``.
    Returns the Markdown path."""
    run, out = Path(run_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(title, out)
    cited = _cited(report, run)
    _affinities(report, run, cited)
    prints = _footprints(report, run)
    _structural_sections(report, run, prints, cited)
    _prodigy(report, run)
    _mmgbsa(report, run)
    _structures(report, run, prints)
    _pmf(report, run)
    _competition(report, run)
    _provenance(report, run)
    text = _markdown(report)
    write_text(out / "report.html", _html(report, text))
    write_text(out / "report.md", text)
    return out / "report.md"


__all__ = ["build_report", "Report"]
