"""The benchmark API: :func:`run_benchmark` (a whole set, resumable) and
:func:`benchmark_task` (one case, for the protocol runner or a SLURM array).

Kinds: ``docking`` and ``affinity`` read an antibody_benchmark directory (and/or
rankbind's own crystal complexes 3URF, 4GIQ, 3ME2 with ``include_rankbind``/dataset
``rankbind``); ``ddg`` reads an ab_bind directory. Outputs in ``out_dir``:
``cases/<id>.json`` per case, ``results.json``, ``SUMMARY.md`` and plots.
"""

from __future__ import annotations

from pathlib import Path

from rankbind.benchmark import affinity, datasets, ddg, docking, report, runner
from rankbind.errors import RankbindError

KINDS = ("docking", "affinity", "ddg")
SETTINGS = {
    "docking": docking.DockingBenchmarkSettings,
    "affinity": affinity.AffinitySettings,
    "ddg": ddg.DDGSettings,
}


def load_cases(kind: str, dataset: str | Path, out_dir: str | Path, include_rankbind: bool,
               only: list[str] | None = None) -> list:  # fmt: skip
    """Cases of ``kind``: DockingCase list (docking/affinity) or Variant list (ddg).
    ``dataset`` "rankbind" means rankbind's crystal complexes only."""
    if kind not in KINDS:
        raise RankbindError(f"benchmark kind {kind!r} unknown; choose from {KINDS}")
    cases: list = []
    if kind == "ddg":
        cases = datasets.load_ab_bind(dataset)
    else:
        if str(dataset) != "rankbind":
            cases = datasets.load_antibody_benchmark(dataset)
            if kind == "affinity":
                cases = [c for c in cases if c.dg_exp_kcal_per_mol is not None]
        if include_rankbind or str(dataset) == "rankbind":
            cases += datasets.rankbind_cases(Path(out_dir) / "rankbind_structures")
    if only:
        wanted = set(only)
        names = {getattr(c, "name", None) or getattr(c, "complex", None) for c in cases}
        unknown = wanted - names
        if unknown:
            raise RankbindError(f"cases {sorted(unknown)} not in {dataset}")
        cases = [c for c in cases if (getattr(c, "name", None) or c.complex) in wanted]
    return cases


def case_settings(settings) -> dict:
    """The settings one case's result depends on (stored in its file; their non-default
    part is its resume key)."""
    return settings.case_dict() if hasattr(settings, "case_dict") else settings.as_dict()


def case_key(settings) -> tuple[dict, dict]:
    """(case settings, the same for the defaults of their class): the runner's resume key."""
    return case_settings(settings), case_settings(type(settings)())


def make_tasks(kind: str, cases: list, settings) -> list[runner.Task]:
    if kind == "docking":
        return docking.tasks(cases, settings)
    if kind == "affinity":  # smallest complexes first
        size = {c.name: c.receptor_bound.stat().st_size + c.ligand_bound.stat().st_size
                for c in cases}  # fmt: skip
        return [runner.Task(c.name, c) for c in sorted(cases, key=lambda c: size[c.name])]
    return ddg.tasks(cases, settings)


def _function(kind: str, settings, out_dir: Path):
    if kind == "docking":
        return lambda payload: docking.run_case(payload, settings)
    if kind == "affinity":
        return lambda payload: affinity.run_case(payload, settings)
    return lambda payload: ddg.run_case(payload, settings, out_dir / "prepared")


def summarise(kind: str, records: list[dict], settings) -> dict:
    return {"docking": docking.summarise, "affinity": affinity.summarise,
            "ddg": ddg.summarise}[kind](records, settings)  # fmt: skip


def run_benchmark(
    kind: str,
    dataset: str | Path,
    out_dir: str | Path,
    settings=None,
    include_rankbind: bool = False,
    only: list[str] | None = None,
    limit: int | None = None,
    stream=None,
) -> dict:
    """Run (or resume) a whole benchmark and write results.json, SUMMARY.md and plots.
    ``limit``: run only the first N tasks (the summary covers the finished ones)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = settings or SETTINGS[kind]()
    cases = load_cases(kind, dataset, out, include_rankbind, only)
    tasks = make_tasks(kind, cases, settings)
    if limit is not None:
        tasks = tasks[:limit]
    records = runner.run_tasks(tasks, _function(kind, settings, out), *case_key(settings), out,
                               label=kind, stream=stream)  # fmt: skip
    return finish(kind, dataset, out, settings, records, len(tasks))


def finish(kind: str, dataset, out_dir, settings, records: list[dict], planned: int,
           ignored: dict | None = None) -> dict:  # fmt: skip
    data = report.write_results(out_dir, kind, str(dataset), settings.as_dict(), records,
                                summarise(kind, records, settings), planned, ignored)  # fmt: skip
    report.write_report(out_dir, data)
    return data


def collect(kind: str, dataset, out_dir, settings=None, include_rankbind: bool = False) -> dict:
    """Rebuild results.json/SUMMARY.md/plots from the finished case files (e.g. after a
    SLURM array of :func:`benchmark_task`), without running anything. Case files produced
    with other settings are left out and listed (with the differing keys) as ``ignored``."""
    settings = settings or SETTINGS[kind]()
    cases = load_cases(kind, dataset, out_dir, include_rankbind)
    key = case_key(settings)
    tasks = make_tasks(kind, cases, settings)
    records, ignored = [], {}
    for task in tasks:
        record = runner.read_case(out_dir, task.case_id)
        if record is None:
            continue
        why = runner.mismatch(record, *key)
        if why is None:
            records.append(record)
        else:
            ignored[task.case_id] = why
    return finish(kind, dataset, out_dir, settings, records, len(tasks), ignored)


def settings_from_params(kind: str, params: dict):
    """Settings of ``kind`` from a plain dict (tuples given as lists are accepted)."""
    cls = SETTINGS[kind]
    unknown = set(params) - set(cls.model_fields)
    if unknown:
        raise RankbindError(f"benchmark {kind}: unknown settings {sorted(unknown)}")
    return cls(**params)


def benchmark_task(ctx) -> dict:
    """Protocol task kind ``benchmark``: one case of one benchmark.

    ``ctx.params``: ``kind`` (docking|affinity|ddg), ``dataset`` (directory or
    "rankbind"), ``case`` (task id as in ``cases/<id>.json``, e.g. ``1AHW__paratope``,
    ``1S78``, ``1T83__row12``), optional ``settings`` (dict of the kind's settings fields)
    and ``include_rankbind``. Writes ``ctx.directory/cases/<id>.json`` atomically (skipped
    when already done with the same settings) and returns its record without the per-pose
    detail. A SLURM array runs one task per case; :func:`collect` then writes the summary."""
    params = dict(ctx.params)
    kind = params["kind"]
    settings = settings_from_params(kind, params.get("settings", {}))
    out = Path(ctx.directory)
    cases = load_cases(kind, params["dataset"], out, bool(params.get("include_rankbind")))
    by_id = {t.case_id: t for t in make_tasks(kind, cases, settings)}
    if params["case"] not in by_id:
        raise RankbindError(f"benchmark {kind}: no case {params['case']!r} in {params['dataset']}")
    record = runner.run_one(by_id[params["case"]], _function(kind, settings, out),
                            *case_key(settings), out)  # fmt: skip
    return {k: v for k, v in record.items() if k != "result"} | {
        "file": str(runner.case_path(out, params["case"]))
    }
