"""Benchmark outputs: ``results.json`` (settings, every per-case number, summary),
``SUMMARY.md`` and plots (predicted vs experimental with fit and r; success rate vs rank)."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np

from rankbind.fileio import write_json, write_text


def _fmt(stat: dict | None, digits: int = 2) -> str:
    if not stat or stat.get("value") is None:
        return "n/a"
    lo, hi = stat["ci95"]
    return f"{stat['value']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _rate(entry: dict) -> str:
    if entry["rate"] is None:
        return "n/a"
    return f"{entry['n']}/{entry['of']} ({100 * entry['rate']:.0f} %)"


def write_results(out_dir, kind: str, dataset: str, settings: dict, records: list[dict],
                  summary: dict, planned: int | None = None,
                  ignored: dict | None = None) -> dict:  # fmt: skip
    """``results.json`` with everything needed to recompute the summary. The records were
    all produced with ``settings`` (each case file also stores them; not repeated here).
    ``ignored``: case id -> why its file was left out (produced with other settings)."""
    from rankbind import __version__

    data = {
        "benchmark": kind,
        "dataset": dataset,
        "rankbind_version": __version__,
        "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()} {platform.processor()} ({platform.system()})",
        "settings": settings,
        "n_tasks_planned": planned if planned is not None else len(records),
        "n_cases": len(records),
        "n_ok": sum(r["status"] == "ok" for r in records),
        "cpu_s_total": round(sum(r.get("cpu_s", 0.0) for r in records), 1),
        "errors": {r["case_id"]: r["error"] for r in records if r["status"] != "ok"},
        "ignored_case_files": ignored or {},
        "summary": summary,
        "cases": [{k: v for k, v in r.items() if k != "settings"} for r in records],
    }
    write_json(Path(out_dir) / "results.json", data)
    return data


def _settings_lines(settings: dict) -> list[str]:
    out = []
    for key, value in settings.items():
        if isinstance(value, dict) and key != "extra":
            continue
        out.append(f"`{key}`={value}")
    return ["Settings: " + ", ".join(out), ""]


def markdown(data: dict) -> str:
    kind = data["benchmark"]
    lines = [
        f"# rankbind benchmark: {kind}",
        "",
        f"Dataset: `{data['dataset']}`; {data['n_ok']} tasks finished ok of "
        f"{data['n_cases']} run and {data['n_tasks_planned']} planned; "
        f"CPU {data['cpu_s_total'] / 60:.1f} min in all; written {data['written_utc']} "
        f"(rankbind {data['rankbind_version']}, {data['machine']}).",
        "",
        *_settings_lines(data["settings"]),
    ]
    s = data["summary"]
    if kind == "docking":
        lines += [
            "Success = at least one pose of CAPRI class acceptable-or-better (acc) or "
            "medium-or-better (med) among the top N ranked poses (DockQ/CAPRI vs the bound "
            "complex).",
            "",
        ]
        for mode, by_source in s.items():
            for source, groups in by_source.items():
                lines += [f"## {mode} — {source}", ""]
                tops = sorted({int(k[3:].split("_")[0]) for g in groups.values()
                               for k in g["success"]})  # fmt: skip
                head = "| class | cases | " + " | ".join(f"top{t} acc | top{t} med" for t in tops)
                lines += [head + " |", "|" + "---|" * (2 + 2 * len(tops))]
                for name, g in groups.items():
                    cells = []
                    for t in tops:
                        cells += [
                            _rate(g["success"][f"top{t}_acceptable"]),
                            _rate(g["success"][f"top{t}_medium"]),
                        ]
                    lines.append(f"| {name} | {g['n_cases']} | " + " | ".join(cells) + " |")
                lines.append("")
        lines += ["## Per case (best DockQ in the top 10, rank of the first acceptable pose)", ""]
        lines += ["| case | mode | class | structures | best DockQ | first acc. rank |", "|---|---|---|---|---|---|"]  # fmt: skip
        for r in data["cases"]:
            if r["status"] != "ok":
                lines.append(f"| {r['case_id']} | | | error | {r['error'][:80]} | |")
                continue
            res = r["result"]
            first = next((p["rank"] for p in res["poses"] if p["capri"] != "incorrect"), None)
            lines.append(
                f"| {res['case']} | {res['mode']} | {res['category']} | {res['structures']} | "
                f"{res['best_dockq_top10']:.3f} | {first or '—'} |"
            )
    elif kind in ("affinity", "ddg"):
        what = "ΔG" if kind == "affinity" else "ΔΔG"
        if s.get("headline_markdown"):  # the variant fixed before evaluation, nested CV beside
            lines += ["## Headline", "", *s["headline_markdown"]]
        lines += [
            f"Predicted {what} vs experiment (kcal/mol). Values: point estimate "
            "[bootstrap 95 % interval]. `LOCO RMSE`: RMSE after a linear calibration fitted "
            "leaving out the complex being predicted.",
            "",
            "| estimator | subset | n | Pearson r | Spearman ρ | Kendall τ | RMSE raw | LOCO RMSE |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, block in s.get("estimators", s).items():
            subsets = block if kind == "ddg" else {"all": block}
            for subset, st in subsets.items():
                if not st or not st.get("raw"):
                    lines.append(f"| {name} | {subset} | 0 | | | | | |")
                    continue
                raw, cal = st["raw"], st.get("loco_calibrated", {})
                lines.append(
                    f"| {name} | {subset} | {raw['n']} | {_fmt(raw.get('pearson'))} | "
                    f"{_fmt(raw.get('spearman'))} | {_fmt(raw.get('kendall'))} | "
                    f"{_fmt(raw.get('rmse'))} | {_fmt(cal.get('rmse'))} |"
                )
        if kind == "ddg":
            lines += ["", "Hot spots (ΔΔG ≥ 1 kcal/mol):", ""]
            lines += ["| estimator | subset | n | exp. hot spots | precision | recall | ROC AUC |", "|---|---|---|---|---|---|---|"]  # fmt: skip
            for name, block in s.get("estimators", {}).items():
                for subset, st in block.items():
                    h = (st or {}).get("hotspots")
                    if not h:
                        continue
                    f = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
                    lines.append(
                        f"| {name} | {subset} | {h['n']} | {h['n_hotspots_exp']} | "
                        f"{f(h['precision'])} | {f(h['recall'])} | {f(h['roc_auc'])} |"
                    )
    if s.get("variants_markdown"):  # affinity/ddg: named MM/GBSA variants, LOCO, nested choice
        lines += ["", "## MM/GBSA variants", "", *s["variants_markdown"]]
    if data["errors"]:
        lines += ["", "## Errors", ""]
        lines += [f"- `{k}`: {v[:300]}" for k, v in data["errors"].items()]
    if data.get("ignored_case_files"):
        lines += ["", "## Case files left out (produced with other settings)", ""]
        lines += [f"- `{k}`: {v[:300]}" for k, v in data["ignored_case_files"].items()]
    return "\n".join(lines) + "\n"


def scatter_plot(path, predicted, experimental, title: str, xlabel: str, ylabel: str) -> None:
    """Predicted vs experimental with the least-squares line and Pearson r."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.asarray(predicted, float)
    y = np.asarray(experimental, float)
    fig, ax = plt.subplots(figsize=(4.6, 4.2), dpi=120)
    ax.scatter(x, y, s=14, alpha=0.75)
    if len(x) > 2 and np.ptp(x) > 0:
        a, b = np.polyfit(x, y, 1)
        xs = np.linspace(x.min(), x.max(), 50)
        r = np.corrcoef(x, y)[0, 1]
        ax.plot(xs, a * xs + b, "r-", lw=1, label=f"fit y={a:.2f}x{b:+.2f}, r={r:.2f} (n={len(x)})")
        ax.legend(fontsize=7, loc="best")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def success_plot(path, curves: dict, title: str) -> None:
    """Success rate vs number of top-ranked poses; ``curves`` = {label: curve dict}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.0), dpi=120)
    for label, curve in curves.items():
        acc = [100 * (v or 0) for v in curve["acceptable"]]
        med = [100 * (v or 0) for v in curve["medium"]]
        line = ax.plot(curve["rank"], acc, "-o", ms=3, label=f"{label} acceptable+")[0]
        ax.plot(curve["rank"], med, "--", color=line.get_color(), label=f"{label} medium+")
    ax.set_xlabel("top N poses")
    ax.set_ylabel("cases with a hit (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def write_report(out_dir, data: dict) -> list[Path]:
    """SUMMARY.md plus the plots of ``data`` (the results.json content) in ``out_dir``."""
    out = Path(out_dir)
    files = [out / "SUMMARY.md"]
    write_text(files[0], markdown(data))
    kind, s = data["benchmark"], data["summary"]
    if kind == "docking":
        curves = {}
        for mode, by_source in s.items():
            for source, groups in by_source.items():
                if "all" in groups:
                    curves[f"{mode} ({source.split(' ')[0]})"] = groups["all"]["curve"]
        if curves:
            files.append(out / "docking_success_vs_rank.png")
            success_plot(files[-1], curves, f"Docking success vs rank ({data['dataset']})")
    else:
        estimators = s.get("estimators", s)
        for name, block in estimators.items():
            st = (
                block.get("all_single", block.get("all_alanine", block)) if kind == "ddg" else block
            )
            if not st or not st.get("predicted"):
                continue
            what = "ΔG" if kind == "affinity" else "ΔΔG"
            files.append(out / f"{kind}_{name}_vs_experiment.png")
            scatter_plot(
                files[-1], st["predicted"], st["experimental"],
                f"{name}: predicted vs experimental {what}",
                f"predicted {what} (kcal/mol)", f"experimental {what} (kcal/mol)",
            )  # fmt: skip
    return files
