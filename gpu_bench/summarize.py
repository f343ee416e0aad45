"""Write gpu_bench/results/SUMMARY.md from the JSON results: one table per benchmark, each
row with its date, hardware (CPU, GPU and driver) and the measured ratio. Only numbers
found in the JSON files are written.

    python gpu_bench/summarize.py [--results gpu_bench/results]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rankbind.simulation import SimulationOptions  # noqa: E402

DEFAULT_INTERVAL = SimulationOptions().checkpoint_interval_steps


def _hw(d: dict) -> str:
    h = d.get("hardware", {})
    cpu = h.get("cpu") or h.get("processor") or "?"
    cores = h.get("logical_cpus") or h.get("logical_cpus_visible") or h.get("cpu_count")
    gpu = ", ".join(h.get("gpu") or []) or "no GPU"
    return f"{cpu} ×{cores}; {gpu}"


def _date(d: dict) -> str:
    return (d.get("date_utc") or "?")[:10]


def projected_overhead(result: dict, steps: int, interval: int) -> dict:
    """Derived, not timed: the overhead of a production run ``interval`` steps long (one
    default checkpoint interval) and of a long run (one Context rebuild per interval), from
    one benchmark result: the OpenMM step time (run less Context creation), rankbind's fixed
    extra seconds per run (measured difference less the rebuilds it made) and the cost of
    one rebuild (``rebuild_breakdown_s_median``)."""
    runs = result["runs"]
    step_s = statistics.median(
        (r["seconds"] - r["context_creation_s"]) / steps for r in runs["openmm"]
    )
    if "rebuild_breakdown_s_median" in result:  # engine with a Context rebuild per checkpoint
        # results before 2026-11-23 also timed a System XML round trip no longer made
        pieces = result["rebuild_breakdown_s_median"]
        rebuild_s = sum(v for k, v in pieces.items() if k != "system_xml_round_trip_s")
    else:  # no rebuilds: the per-interval cost is one whole rankbind checkpoint (an upper
        # bound: the plain OpenMM script writes a State XML per checkpoint too)
        rebuild_s = result.get("checkpoint_cost_s_median", 0.0)
    extra = statistics.median(r["seconds"] for r in runs["rankbind"]) - statistics.median(
        r["seconds"] for r in runs["openmm"]
    )
    per_run = result["rankbind_context_rebuilds"] or result.get("checkpoints_per_run", 0)
    fixed_s = extra - per_run * rebuild_s
    return {
        "openmm_step_s": step_s,
        "fixed_extra_s": fixed_s,
        "rebuild_s": rebuild_s,
        "one_interval_ratio": 1.0 + fixed_s / (interval * step_s),
        "long_run_ratio": 1.0 + rebuild_s / (interval * step_s),
    }


def md_rows(name: str, d: dict) -> list[str]:
    s = d["system"]
    rows = []
    for r in d["results"]:
        p = r["platform"]
        pocl = p.get("platform") == "OpenCL" and d["hardware"].get("opencl_is_pocl_on_cpu")
        label = p.get("platform", "?") + (" (PoCL on CPU)" if pocl else "")
        med = r["median_ns_per_day"]
        proj = projected_overhead(r, d["settings"]["steps"], DEFAULT_INTERVAL)
        projected = (
            f"{proj['fixed_extra_s']:.1f} s, {proj['rebuild_s']:.2f} s | "
            f"{proj['one_interval_ratio']:.3f} / {proj['long_run_ratio']:.3f}"
        )
        rows.append(
            f"| {s.get('assembly') or s.get('entry')} | {s['solvation'].get('solvent')} | "
            f"{s['n_atoms']} | {label} | {d['settings']['steps']} | "
            f"{r['checkpoint_interval_steps']} | {med['openmm']:.3g} | {med['rankbind']:.3g} | "
            f"{r['overhead_ratio']:.2f} | {projected} | "
            f"{_date(d)} | {_hw(d)} | `{name}` |"
        )
    return rows


def _ratio(value: float | None) -> str:
    return f"{value:.3g}" if value is not None else "-"


def cost_rows(name: str, d: dict) -> list[str]:
    """One rankbind checkpoint and one resume (results that timed them), beside plain
    OpenMM's saveState and new Simulation + loadState where the same run timed those."""
    s, rows = d["system"], []
    h = d["hardware"]
    load = "-"
    if h.get("load_average_before") and h.get("load_average_after"):
        load = f"{h['load_average_before'][0]:.1f} / {h['load_average_after'][0]:.1f}"
    for r in d["results"]:
        if "resume_cost_s_median" not in r:
            continue
        p = r["platform"]
        pocl = p.get("platform") == "OpenCL" and h.get("opencl_is_pocl_on_cpu")
        label = p.get("platform", "?") + (" (PoCL on CPU)" if pocl else "")
        parts = r["checkpoint_cost_parts_s_median"]
        resume = r["resume_cost_s_median"]
        ratios = r.get("ratios_vs_openmm", {})
        if "main_thread_s" in parts:
            checkpoint = f"{parts['main_thread_s']:.3g} + {parts['write_s']:.3g}"
        else:  # before the background writer: the whole checkpoint on the main thread
            checkpoint = f"{r['checkpoint_cost_s_median']:.3g} + 0 (no background writer)"
        save = r.get("openmm_save_state_s_median")
        plain = r.get("openmm_resume_state_xml_s_median")
        rows.append(
            f"| {s.get('assembly') or s.get('entry')} | {s['solvation'].get('solvent')} | "
            f"{s['n_atoms']} | {label} | {d['settings']['steps']} | "
            f"{r['checkpoint_interval_steps']} | {checkpoint} | "
            f"{f'{save:.3g}' if save is not None else '-'} | "
            f"{_ratio(ratios.get('checkpoint_main_thread_over_openmm_save_state'))} / "
            f"{_ratio(ratios.get('checkpoint_main_thread_plus_background_write_over_openmm_save_state'))} | "
            f"{resume['binary_checkpoint_s']:.3g} / {resume['state_xml_reseeded_s']:.3g} | "
            f"{f'{plain:.3g}' if plain is not None else '-'} | "
            f"{_ratio(ratios.get('resume_binary_checkpoint_over_openmm_resume'))} / "
            f"{_ratio(ratios.get('resume_state_xml_reseeded_over_openmm_resume'))} | "
            f"{load} | {_date(d)} | {_hw(d)} | `{name}` |"
        )
    return rows


def published_rows(name: str, d: dict) -> list[str]:
    rows = []
    for t in d["tests"]:
        for platform in t["median_ns_per_day"]:
            # from the runs: the first results file stored the upper of two as the median
            rate = statistics.median(
                r["ns_per_day"] for r in t["runs"] if r["platform"] == platform
            )
            pocl = platform == "OpenCL" and d["hardware"].get("opencl_is_pocl_on_cpu")
            label = platform + (" (PoCL on CPU)" if pocl else "")
            rows.append(
                f"| {t['test']} | {t['published_system']} | {t['n_atoms']} | {label} | "
                f"{rate:.3g} | {_date(d)} | {_hw(d)} | `{name}` |"
            )
    return rows


def analysis_row(name: str, d: dict) -> str | None:
    if name.startswith("contacts"):
        what = f"contacts, {d['n_frames']} frames × {d['n_residue_pairs']} pairs"
        ratio, base = d["ratio_jax_over_mdtraj_steady"], "mdtraj"
    elif name.startswith("mmgbsa"):
        base_rows = d["openmm_context_loop"]
        what = f"MM/GBSA, {d['system']['complex_atoms']} atoms × {d['frames']} frames"
        base = "OpenMM CPU loop"
        ratio = base_rows["CPU"]["jax_speedup"]
    elif name.startswith("mbar"):
        what = f"MBAR, {d['states']} states × {d['samples_total']} samples"
        ratio, base = d["speedup_pymbar_over_rankbind"], "pymbar"
    elif name.startswith("docking") and "grid_size" in d:  # one grid; not the Fab scan
        what = f"FFT docking, grid {d['grid_size']}³"
        ratio, base = d["speedup_jax_vs_numpy"], "numpy"
    else:
        return None
    return f"| {what} | {base} | {ratio:.2f}× | {_date(d)} | {_hw(d)} | `{name}` |"


def _max_diff(s: dict) -> str:
    diffs = s.get("max_difference_vs_baseline")
    return f"{max(diffs):.1e} {s['difference_unit']}" if diffs else "-"


def scaling_rows(name: str, d: dict) -> list[str]:
    rows = []
    for s in d["series"]:
        ratios = s["ratio_baseline_over_rankbind"]
        rows.append(
            f"| {s['name']} | {s['x'][0]:g}–{s['x'][-1]:g} | {s['loglog_slope_rankbind']:.2f} | "
            f"{s['baseline']} {s['loglog_slope_baseline']:.2f} | "
            f"{min(ratios):.2f}–{max(ratios):.2f}× | {_max_diff(s)} | {_date(d)} | `{name}` |"
        )
    return rows


def summary(results: Path) -> str:
    files = sorted(results.glob("*.json"))
    data = {f.name: json.loads(f.read_text()) for f in files}
    gpu_seen = any(
        (d.get("hardware", {}).get("gpu") or []) or "cuda" in str(d.get("hardware", {})).lower()
        for d in data.values()
    )
    out = ["# gpu_bench results (generated by gpu_bench/summarize.py from the JSON here)", ""]
    if not gpu_seen:
        out += ["**GPU figures are pending**: every file here was measured without a GPU.", ""]
    out += [
        "## MD throughput: rankbind production vs plain OpenMM (same run)",
        "",
        "| system | solvent | atoms | platform | steps | checkpoint every | OpenMM ns/day | "
        "rankbind ns/day | overhead | rankbind extra per run, per rebuild | "
        "projected: one interval / long run | date | hardware | JSON |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, d in data.items():
        if name.startswith("md_"):
            out += md_rows(name, d)
    out += [
        "",
        "overhead = OpenMM ns/day ÷ rankbind ns/day over whole runs (target ≤ 1.05). "
        f"Projected (derived from the measured step time, rankbind's fixed extra seconds per "
        f"run and the Context-rebuild cost; not timed): a production run of one default "
        f"checkpoint interval ({DEFAULT_INTERVAL} steps), and a long run (one rebuild per "
        "interval).",
        "",
        "## One checkpoint and one resume: rankbind vs plain OpenMM (same run)",
        "",
        "| system | solvent | atoms | platform | steps | checkpoint every | rankbind "
        "checkpoint s: main thread "
        "+ background write | OpenMM saveState s | ratio: main / main + write | rankbind "
        "resume s: binary / State XML | OpenMM resume s | ratio: binary / XML | load avg "
        "start / end | date | hardware | JSON |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, d in data.items():
        if name.startswith("md_"):
            out += cost_rows(name, d)
    out += [
        "",
        "Medians. rankbind's checkpoint: `capture_s + wait_previous_s` on the main thread, "
        "`write_s` (binary checkpoint, State XML, frame and log chunks) in the background "
        "writer that overlaps the next MD steps. Plain OpenMM's checkpoint is "
        "`Simulation.saveState` (what `CheckpointReporter(writeState=True)` writes). Resume: "
        "rankbind's `StagedSimulation._resume` (new Simulation + loadCheckpoint; State XML "
        "with re-seed), plain OpenMM's new `Simulation` + `loadState`, each up to one energy "
        "evaluation. `-`: not timed in that run.",
        "",
        "## Published-settings system (plain OpenMM)",
        "",
        "| test | published system | atoms here | platform | ns/day | date | hardware | JSON |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, d in data.items():
        if name.startswith("published"):
            out += published_rows(name, d)
    out += [
        "",
        "## Analyses: rankbind JAX vs baseline (same run, same data)",
        "",
        "| benchmark | baseline | speed-up | date | hardware | JSON |",
        "|---|---|---|---|---|---|",
    ]
    out += [row for name, d in data.items() if (row := analysis_row(name, d))]
    out += [
        "",
        "## Scaling (log-log slopes of seconds vs size; last three points)",
        "",
        "| series | range | rankbind slope | baseline slope | baseline ÷ rankbind | "
        "max difference vs baseline | date | JSON |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, d in data.items():
        if name.startswith("scaling"):
            out += scaling_rows(name, d)
            out += [""]
            out += [f"![{name}]({Path(name).with_suffix('.png').name})"]
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    from rankbind.fileio import write_text

    path = args.results / "SUMMARY.md"
    write_text(path, summary(args.results))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
