"""rankbind.benchmark.runner: the resume key covers only non-default settings, each case
file stores its settings, and a resume under changed settings redoes the case; docking
task order interleaves difficulty classes."""

from __future__ import annotations

import json
from pathlib import Path

from rankbind.benchmark import datasets, docking, runner, suite
from rankbind.settings import DOCKING_MODES

MINI = Path(__file__).parent / "data" / "benchmark"


class Extended(docking.DockingBenchmarkSettings):
    """The docking settings as they would be after adding a field with a default."""

    new_option: float = 1.0


def _hash(settings) -> str:
    return runner.settings_hash(*suite.case_key(settings))


def test_defaulted_new_field_keeps_the_hash_and_a_changed_value_changes_it():
    base = docking.DockingBenchmarkSettings(spacing=2.0, n_rotations=96)
    assert _hash(Extended(spacing=2.0, n_rotations=96)) == _hash(base)
    assert _hash(Extended(spacing=2.0, n_rotations=96, new_option=2.0)) != _hash(base)
    assert _hash(docking.DockingBenchmarkSettings(spacing=2.0, n_rotations=97)) != _hash(base)
    # the modes run as separate processes into one directory: not part of the key
    assert _hash(docking.DockingBenchmarkSettings(spacing=2.0, n_rotations=96,
                                                  modes=("paratope",))) == _hash(base)  # fmt: skip
    # an extra DockingSettings entry at its default is no change, a changed one is
    same = docking.DockingBenchmarkSettings(spacing=2.0, n_rotations=96,
                                            extra={"orientation_cone_deg": None})  # fmt: skip
    cone = docking.DockingBenchmarkSettings(spacing=2.0, n_rotations=96,
                                            extra={"orientation_cone_deg": 45.0})  # fmt: skip
    assert _hash(same) == _hash(base) != _hash(cone)
    # canonical: 2 and 2.0 are the same value
    assert _hash(docking.DockingBenchmarkSettings(spacing=2, n_rotations=96)) == _hash(base)
    # the key: what differs from DockingBenchmarkSettings() (batch 8, n_keep 10 are its
    # defaults, passed on to DockingSettings, so they are no change)
    assert runner.non_default(*suite.case_key(cone)) == {
        "spacing": 2,
        "n_rotations": 96,
        "docking_settings": {"spacing": 2, "n_rotations": 96, "orientation_cone_deg": 45},
    }


def _count_calls(tmp_path, settings: dict, defaults: dict, calls: list) -> dict:
    def fn(payload):
        calls.append(payload)
        return {"value": payload}

    return runner.run_tasks([runner.Task("c1", 1)], fn, settings, defaults, tmp_path,
                            stream=open("/dev/null", "w"))[0]  # fmt: skip


def test_resume_reuses_same_settings_and_redoes_changed_ones(tmp_path):
    defaults = {"a": 1, "b": {"x": 0.5}}
    calls: list = []
    first = _count_calls(tmp_path, {"a": 2, "b": {"x": 0.5}}, defaults, calls)
    stored = json.loads(runner.case_path(tmp_path, "c1").read_text())
    assert stored["settings"] == {"a": 2, "b": {"x": 0.5}} and len(calls) == 1
    assert stored["settings_hash"] == first["settings_hash"]
    # same settings, and the same plus a new key at its default: reused
    assert _count_calls(tmp_path, {"a": 2, "b": {"x": 0.5}}, defaults, calls)["skipped"]
    assert _count_calls(tmp_path, {"a": 2, "b": {"x": 0.5}, "c": 0},
                        defaults | {"c": 0}, calls)["skipped"]  # fmt: skip
    assert len(calls) == 1
    # a changed value (nested too): redone, and collect-side check names the key
    record = json.loads(runner.case_path(tmp_path, "c1").read_text())
    why = runner.mismatch(record, {"a": 2, "b": {"x": 0.7}}, defaults)
    assert why is not None and "b.x: 0.5 (case) vs 0.7 (now)" in why
    assert "skipped" not in _count_calls(tmp_path, {"a": 2, "b": {"x": 0.7}}, defaults, calls)
    assert len(calls) == 2
    # a changed default (same non-default part, so the same hash): the stored full
    # settings disagree, so the case is redone, not silently reused
    again = {"a": 2, "b": {"x": 0.9}}
    _count_calls(tmp_path, again, defaults | {"b": {"x": 0.9}}, calls)  # now stored x 0.9
    assert len(calls) == 3
    redo = _count_calls(tmp_path, {"a": 2, "b": {"x": 0.5}}, {"a": 1, "b": {"x": 0.5}}, calls)
    assert len(calls) == 4 and "skipped" not in redo
    # the default changes again, but the run states the case's value explicitly: the
    # stored settings equal today's value by value, so the case is reused
    kept = _count_calls(tmp_path, {"a": 2, "b": {"x": 0.5}}, {"a": 1, "b": {"x": 0.3}}, calls)
    assert len(calls) == 4 and kept["skipped"]
    # a field added since the case ran, not at its default: redone, and named
    record = json.loads(runner.case_path(tmp_path, "c1").read_text())
    why = runner.mismatch(record, {"a": 2, "b": {"x": 0.5, "y": 1}}, {"a": 1, "b": {"y": 0}})
    assert why == "settings differ: b.y: absent (case) vs 1 (now)"


def test_collect_lists_case_files_of_other_settings(tmp_path):
    settings = docking.DockingBenchmarkSettings(modes=("unrestrained",), spacing=2.0,
                                                n_rotations=4, n_keep=2, unbound=False)  # fmt: skip
    suite.run_benchmark("docking", MINI / "antibody_benchmark", tmp_path, settings, limit=1)
    other = docking.DockingBenchmarkSettings(modes=("unrestrained",), spacing=2.0,
                                             n_rotations=5, n_keep=2, unbound=False)  # fmt: skip
    data = suite.collect("docking", MINI / "antibody_benchmark", tmp_path, other)
    assert data["n_cases"] == 0
    (why,) = data["ignored_case_files"].values()
    assert "n_rotations: 4 (case) vs 5 (now)" in why
    assert "left out" in (tmp_path / "SUMMARY.md").read_text()
    assert suite.collect("docking", MINI / "antibody_benchmark", tmp_path, settings)["n_ok"] == 1


def test_docking_tasks_interleave_difficulty_classes():
    """6 Rigid, 3 Medium, 1 Difficult cases given class by class: the order spreads each
    class over the run (k-th of n at (k + 0.5) / n), so every prefix is in proportion."""
    from dataclasses import replace

    (case, *_) = datasets.load_antibody_benchmark(MINI / "antibody_benchmark")
    classes = ["Rigid"] * 6 + ["Medium"] * 3 + ["Difficult"]
    cases = [replace(case, name=f"C{k}", category=cat) for k, cat in enumerate(classes)]
    order = [c.name for c in docking.interleaved(cases)]
    # positions: Rigid 1/12, 3/12, ...; Medium 1/6, 1/2, 5/6; Difficult 1/2 (ties: given order)
    assert order == ["C0", "C6", "C1", "C2", "C7", "C9", "C3", "C4", "C8", "C5"]
    ids = [
        t.case_id for t in docking.tasks(cases[:1] + cases[6:7], docking.DockingBenchmarkSettings())
    ]
    assert ids == [f"C0__{m}" for m in DOCKING_MODES] + [f"C6__{m}" for m in DOCKING_MODES]
    # no antibody, no paratope task (rankbind's RANKL complexes)
    rankl = replace(case, name="3URF", source="rankbind catalogue (bound docking only)")
    ids = [t.case_id for t in docking.tasks([rankl], docking.DockingBenchmarkSettings())]
    assert ids == ["3URF__unrestrained", "3URF__epitope_paratope"]


def test_case_files_without_stored_settings_match_by_their_full_hash(tmp_path):
    """Files written before settings were stored (hash of the full settings dict, e.g.
    the committed AB-Bind ΔΔG cases) are still reused under identical settings."""
    import hashlib

    settings = {"a": 2, "b": {"x": 0.5}}
    full = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    legacy = {"case_id": "c1", "status": "ok", "settings_hash": full, "result": {}}
    assert runner.mismatch(legacy, settings, {"a": 1, "b": {"x": 0.5}}) is None
    assert "hash differs" in runner.mismatch(legacy, {"a": 3, "b": {"x": 0.5}}, {"a": 1})


ACCURACY = Path(__file__).parents[1] / "gpu_bench" / "results" / "accuracy"
# the relaxed-variants runs' options (gpu_bench/ACCURACY.md), and the ones the CV used
RELAXED = ["--mmgbsa-engine", "openmm", "--mmgbsa-platform", "CPU", "--salt", "0", "--trim",
           "1.0", "--relax-iterations", "50", "--protonation", "propka", "--bootstrap", "1000"]  # fmt: skip


def _cli_settings(*argv: str):
    import argparse

    from rankbind.cli import benchmark

    parser = argparse.ArgumentParser()
    benchmark.configure(parser)
    return benchmark.settings_from_args(parser.parse_args(list(argv)))


def test_committed_affinity_case_files_resume_under_todays_settings():
    """The relaxed-variants affinity run's case files (written before case files stored
    their settings, hashed with the 'extra' dict dropped since) count as done under the
    command that made them, under today's defaults (its protocol) with any headline
    variant, and not under a changed physics setting."""
    record = json.loads((ACCURACY / "affinity_relaxed_variants/cases/1S78.json").read_text())
    assert "settings" not in record and record["status"] == "ok"
    command = _cli_settings("affinity", "d", "-o", "x", *RELAXED, "--extra-gb", "OBC2")
    assert runner.mismatch(record, *suite.case_key(command)) is None
    # without the dropped no-op restored, the legacy hash would not match
    assert record["settings_hash"] != runner._legacy_hash(suite.case_settings(command))
    defaults = _cli_settings("affinity", "d", "-o", "x", "--bootstrap", "1000")
    assert runner.mismatch(record, *suite.case_key(defaults)) is None
    other_variant = defaults.replace(variant="gbn2_e4_nonp0")
    assert runner.mismatch(record, *suite.case_key(other_variant)) is None
    assert runner.mismatch(record, *suite.case_key(defaults.replace(mmgbsa_trim_nm=0.8)))
    # the old default protocol (template protonation, 0.15 M, no relax) is another run
    old = defaults.replace(protonation="template", variant="gbn2_e1")
    assert runner.mismatch(record, *suite.case_key(old)) is not None


def test_committed_ddg_case_file_resumes_with_the_runs_command():
    record = json.loads((ACCURACY / "ddg_relaxed_variants/cases/1AK4__row12.json").read_text())
    command = _cli_settings("ddg", "d", "-o", "x", *RELAXED, "--singles-only",
                            "--all-substitutions", "--mutant-start", "relaxed_wild_type")  # fmt: skip
    assert runner.mismatch(record, *suite.case_key(command)) is None
    # made with the asymmetric protocol (mutant from the relaxed wild type): the default
    # symmetric protocol must not reuse it
    why = runner.mismatch(record, *suite.case_key(command.replace(mutant_start="prepared")))
    assert why is not None and "mutant_start" in why
    assert runner.mismatch(record, *suite.case_key(command.replace(mmgbsa_salt_molar=0.15,
                                                                   variant="gbn2_e1")))  # fmt: skip


def test_ddg_selection_fields_do_not_invalidate_finished_mutations():
    """A mutation finished in a singles-only alanine run counts as done in a wider run
    (all substitutions, multiples too): selection and summary fields are no part of its
    key; a physics field (the trim) still is."""
    from rankbind.benchmark.suite import case_key, case_settings
    from rankbind.settings import DDGSettings

    narrow = DDGSettings(singles_only=True, alanine_only=True, hotspot_kcal_per_mol=1.5)
    record = {"settings": json.loads(json.dumps(case_settings(narrow)))}
    wide = DDGSettings(singles_only=False, alanine_only=False, include_homology_models=False)
    assert runner.mismatch(record, *case_key(wide)) is None
    why = runner.mismatch(record, *case_key(wide.replace(mmgbsa_trim_nm=0.8)))
    assert why is not None and "mmgbsa_trim_nm" in why
