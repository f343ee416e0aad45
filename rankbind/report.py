"""One Markdown + HTML report (with PNG figures) from a run directory.

The report collects whatever the run produced, found by file name:

- ``competition.json`` / ``competition.png`` / ``*/footprint.json`` / ``*/summary.json``
  (contacts layer): footprints on RANKL, the competition map, PRODIGY estimates;
- ``mmgbsa.json`` (energies layer): MM/GBSA scores with bootstrap uncertainty;
- ``pmf.json`` (umbrella analysis): PMFs and ΔG°;
- ``results.json`` with ``scenarios`` (competition layer): occupancy figures;
- ``provenance.json`` / ``protocol.json``: inputs, checksums, versions.

Numbers are copied from those files with their uncertainties and labels (e.g. MM/GBSA is
an enthalpy-like score unless an entropy estimate was requested); nothing is re-derived.
"""

from __future__ import annotations

import html
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from rankbind.fileio import atomic_open, write_text


@dataclass
class Report:
    title: str
    sections: list[tuple[str, list[str]]] = field(
        default_factory=list
    )  # (heading, markdown blocks)
    figures: list[Path] = field(default_factory=list)

    def add(self, heading: str, *blocks: str) -> None:
        self.sections.append((heading, [b for b in blocks if b]))


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _pm(value: float, error: float | None, digits: int = 2, n: int | None = None) -> str:
    if n == 1:
        return f"{value:.{digits}f} (single structure, no sampling error)"
    if error is None or error != error:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} ± {error:.{digits}f}"


def _figure(report: Report, source: Path, out: Path, caption: str) -> str:
    target = out / "figures" / f"{len(report.figures):02d}_{source.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    report.figures.append(target)
    return f"![{caption}](figures/{target.name})\n\n*{caption}*"


def _footprints(report: Report, run: Path, out: Path) -> None:
    for comp in sorted(run.rglob("competition.json")):
        data = _load(comp)
        prints = data.get("footprints", [])
        rows = [
            [f["name"], len(f["residues"]), ",".join(f.get("protomers", [])),
             f"{f.get('buried_sasa_total', float('nan')):.0f}"]
            for f in prints
        ]  # fmt: skip
        pairs = [
            [p["first"], p["second"], len(p["shared"]), f"{p['jaccard']:.2f}", p["verdict"]]
            for p in data.get("pairs", [])
        ]
        blocks = [
            f"Reference numbering: {data.get('reference_numbering', '?')}. Source: `{comp.relative_to(run)}`.",
            _table(["binder (entry)", "RANKL residues", "protomers", "buried SASA (Å²)"], rows),
            _table(["binder", "binder", "shared residues", "Jaccard", "verdict"], pairs),
            f"Criterion: {data.get('criterion', '')}",
        ]
        png = comp.with_name("competition.png")
        if png.is_file():
            blocks.append(
                _figure(report, png, out, "Footprints on the RANKL sequence and competition matrix")
            )
        report.add("Footprints and competition map", *blocks)
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
            f"{stats['kd_molar_of_mean_dg']:.2e}",
            stats.get("n_frames", 1),
        ])  # fmt: skip
    if rows:
        report.add(
            "Contact-based affinity (PRODIGY)",
            "IC/NIS model of Vangone & Bonvin, eLife 2015 (25 °C); a structure-based estimate, "
            "not a measurement.",
            _table(["input", "binder", "ΔG (kcal/mol)", "ΔG (kJ/mol)", "Kd (M)", "frames"], rows),
        )


def _mmgbsa(report: Report, run: Path, out: Path) -> None:
    results = sorted(run.rglob("mmgbsa.json"))
    if not results:
        return
    rows, bars = [], []
    for path in results:
        data = _load(path)
        dg = data["dG_bind"]
        kcal, err = dg["kcal_per_mol"], dg["sem_kcal_per_mol"]
        label = data.get("label", path.parent.name)
        rows.append(
            [
                label,
                data.get("score_kind", "?"),
                _pm(kcal, err, n=data.get("n_frames")),
                _pm(dg["kJ_per_mol"], dg["sem_kJ_per_mol"], n=data.get("n_frames")),
                data.get("n_frames", "?"),
            ]
        )
        bars.append((label, kcal, err or 0.0))
    png = out / "figures" / "mmgbsa.png"
    _bar_chart(png, bars, "MM/GBSA ΔG (kcal/mol)")
    report.figures.append(png)
    report.add(
        "MM/GBSA",
        "Single-trajectory MM/GBSA (GB + γ·SASA), bootstrap standard errors over frames. Unless "
        "the score kind says otherwise this is an enthalpy-like score without entropy, useful "
        "for ranking, not an absolute binding free energy.",
        _table(["system", "score kind", "ΔG (kcal/mol)", "ΔG (kJ/mol)", "frames"], rows),
        f"![MM/GBSA](figures/{png.name})",
    )


def _pmf(report: Report, run: Path, out: Path) -> None:
    for path in sorted(run.rglob("pmf.json")):
        data = _load(path)
        pmf, binding = data.get("pmf", {}), data.get("binding", {})
        png = out / "figures" / f"pmf_{path.parent.name}.png"
        _line_plot(
            png,
            pmf.get("centres_nm", []),
            pmf.get("pmf_kT", []),
            pmf.get("error_kT", []),
            "COM separation (nm)",
            "PMF (kT)",
        )
        report.figures.append(png)
        report.add(
            f"PMF ({path.parent.name})",
            f"```\n{json.dumps(binding, indent=1)[:2000]}\n```",
            f"![PMF](figures/{png.name})",
        )


def _competition(report: Report, run: Path, out: Path) -> None:
    for path in sorted(run.rglob("results.json")):
        data = _load(path)
        if "scenarios" not in data or "baseline" not in data:
            continue
        base = data["baseline"]
        blocks = [
            _table(["pool", "RANK-bound sites", "trimers with ≥2 RANK"],
                   [[p, f"{s:.3f}", f"{g:.3f}"] for p, s, g in
                    zip(base["pools"], base["receptor_site_fraction"], base["signalling_fraction"], strict=True)]),
            "Inputs and their sources:\n\n```\n" + json.dumps(data.get("config", {}), indent=1)[:4000] + "\n```",
            "Assumptions: " + "; ".join(data.get("assumptions", [])) if isinstance(data.get("assumptions"), list)
            else f"Assumptions: {data.get('assumptions', '')}",
        ]  # fmt: skip
        blocks += [f"Warning: {w}" for w in data.get("warnings", [])]
        for png in sorted(path.parent.glob("*.png")):
            blocks.append(_figure(report, png, out, png.stem.replace("_", " ")))
        report.add("Competitive binding", *blocks)


def _provenance(report: Report, run: Path) -> None:
    protocol = run / "protocol.json"
    blocks = []
    if protocol.is_file():
        data = _load(protocol)
        blocks.append(
            f"Protocol `{data.get('protocol', {}).get('name', '?')}` (sha256 {data.get('sha256', '?')[:16]}…)."
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
                )
            )
    inputs = []
    for meta in sorted(run.rglob("metadata.json")):
        m = _load(meta)
        prov = m.get("provenance", {})
        if prov:
            inputs.append(
                [
                    prov.get("entry", "?"),
                    prov.get("citation", ""),
                    prov.get("sha256", "")[:16] + "…",
                    m.get("options", {}).get("forcefield", ""),
                    m.get("solvation", {}).get(
                        "gb_model", m.get("solvation", {}).get("solvent", "")
                    ),
                ]
            )
    if inputs:
        blocks.append(_table(["entry", "citation", "sha256", "force field", "solvent"], inputs))
    versions = next((_load(p).get("versions") for p in sorted(run.rglob("metadata.json"))), None)
    if versions:
        blocks.append("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    report.add("Inputs and provenance", *blocks)


def _bar_chart(path: Path, bars: list[tuple[str, float, float]], ylabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(bars)), 3.5))
    ax.bar(
        range(len(bars)),
        [b[1] for b in bars],
        yerr=[b[2] for b in bars],
        capsize=4,
        color="#4c72b0",
    )
    ax.set_xticks(range(len(bars)), [b[0] for b in bars], rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.axhline(0, color="k", lw=0.5)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)


def _line_plot(path: Path, x, y, err, xlabel: str, ylabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(x, y, yerr=err, marker="o", ms=3, capsize=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)


def _markdown(report: Report) -> str:
    parts = [f"# {report.title}", ""]
    for heading, blocks in report.sections:
        parts += [f"## {heading}", ""] + [b + "\n" for b in blocks]
    return "\n".join(parts)


def _html(report: Report) -> str:
    body = [f"<h1>{html.escape(report.title)}</h1>"]
    for heading, blocks in report.sections:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        for block in blocks:
            if block.startswith("|"):
                rows = [
                    r.strip("|").split("|") for r in block.splitlines() if not r.startswith("|---")
                ]
                cells = "".join(
                    "<tr>"
                    + "".join(
                        f"<{'th' if i == 0 else 'td'}>{html.escape(c.strip())}</{'th' if i == 0 else 'td'}>"
                        for c in row
                    )
                    + "</tr>"
                    for i, row in enumerate(rows)
                )
                body.append(f"<table border='1' cellpadding='3'>{cells}</table>")
            elif block.startswith("!["):
                caption, src = block[2:].split("](", 1)
                src = src.split(")", 1)[0]
                body.append(
                    f"<figure><img src='{html.escape(src)}' style='max-width:100%'><figcaption>{html.escape(caption)}</figcaption></figure>"
                )
            elif block.startswith("```"):
                body.append(f"<pre>{html.escape(block.strip('`'))}</pre>")
            else:
                body.append(f"<p>{html.escape(block)}</p>")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
        + html.escape(report.title)
        + "</title></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def build_report(run_dir: str | Path, out_dir: str | Path, title: str = "rankbind report") -> Path:
    """Write ``report.md``, ``report.html`` and ``figures/`` for ``run_dir`` into ``out_dir``.
    Returns the Markdown path."""
    run, out = Path(run_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(title)
    _provenance(report, run)
    _footprints(report, run, out)
    _mmgbsa(report, run, out)
    _pmf(report, run, out)
    _competition(report, run, out)
    write_text(out / "report.html", _html(report))
    write_text(out / "report.md", _markdown(report))
    return out / "report.md"
