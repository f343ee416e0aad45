"""MM/GBSA rescoring of docked poses on the antibody docking benchmark (issue 16, item 2).

Poses: the stored, cross-validated pose dataset of gpu_bench/docking_scoring.py
(gpu_bench/results/docking_scoring/<mode>/cases/*.npz: per case the 200 best FFT rotations
of the legacy scan from the benchmark's seeded random start, unbound partners where the
benchmark has them). Nothing is docked again and nothing is fitted.

Per case, fixed before any MM/GBSA value was seen:

1. default ranking: the current default scorer, legacy score + ``restraint_weight`` x
   restraint count (DockingSettings defaults, 2.88), then greedy ligand C-alpha clustering
   at ``cluster_rmsd`` (6 Å) as ``dock`` does; the top ``--top`` (10) representatives;
2. each representative is rebuilt (rankbind.benchmark.docking_scoring.pose_frame: start
   ligand from the benchmark seed) and its DockQ, fnat and CAPRI class recomputed against
   the bound complex; the run stops if they differ from the stored values (the check that
   the poses are the stored ones);
3. the docked structure files (unbound where the benchmark has them) are prepared all-atom
   once per case (rankbind.modelling.docking_rescoring.prepare_partner: amber14, hydrogens
   by template at pH 7, missing atoms built, gaps left open; lone residues between two gaps
   removed as the affinity benchmark does); each pose moves the ligand's all-atom
   coordinates by its rigid transform; score_complex (DockingSettings defaults: variant
   obc2_e1_nonp0, 1.0 nm interface trim, 50-iteration restrained relax) scores it;
4. rankings of the representatives: default (1), MM/GBSA (lowest score first; a failed or
   non-finite score last) and consensus (mean of the default and MM/GBSA ranks, ties by
   default rank: rankbind.modelling.docking.rerank); first acceptable-or-better (CAPRI)
   rank and top-1/5/10 success under each.

Usage:
  python gpu_bench/docking_mmgbsa_rescoring.py run [--mode epitope_paratope] [--top 10]
      [--cases 1S78 ...] [--max-cpu-min 60]
  python gpu_bench/docking_mmgbsa_rescoring.py summary [--mode epitope_paratope]
One JSON per case under gpu_bench/results/docking_mmgbsa_rescoring/<mode>/cases/ (a
finished one is kept; one written under other settings stops the run); within a case each
pose's record is checkpointed and reused on a rerun. ``summary`` writes summary.json and
SUMMARY.md. Progress on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from docking_scoring import OUT as POSES  # noqa: E402
from docking_scoring import SUBSETS, all_cases  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from rankbind.analysis import dockq  # noqa: E402
from rankbind.benchmark import docking_scoring as ds  # noqa: E402
from rankbind.fileio import write_json, write_text  # noqa: E402
from rankbind.modelling import docking as dk  # noqa: E402
from rankbind.modelling import docking_rescoring as rs  # noqa: E402
from rankbind.settings import DockingSettings, PreparationOptions  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "gpu_bench/results/docking_mmgbsa_rescoring"
RANKINGS = ("default", "mmgbsa", "consensus")
TOPS = (1, 5, 10)
# prepare_partner's defaults + isolated_residues="remove" (unbound benchmark files have lone
# residues between gaps, which have no template; the affinity benchmark does the same)
PREPARATION = PreparationOptions(
    solvent="vacuum",
    rebuild_internal_loops=False,
    hydrogen_mass_amu=None,
    isolated_residues="remove",
)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_settings(top: int, data_meta: dict) -> dict:
    """Everything a case's result depends on (recorded; a change refuses resume)."""
    d = DockingSettings()
    return {
        "n_top_clusters": top,
        "default_ranking": {
            "score": "legacy (shape - E_elec) + restraint_weight x restraint atoms",
            "restraint_weight": d.restraint_weight,
            "cluster_rmsd_angstrom": d.cluster_rmsd,
        },
        "consensus": "mean of default and MM/GBSA ranks, ties by default rank (docking.rerank)",
        "docking_settings_mmgbsa": rs._checkpoint_key(d),
        "mmgbsa": rs.mmgbsa_settings(d).as_dict(),
        "preparation": PREPARATION.model_dump(mode="json"),
        "pose_dataset_settings": data_meta["settings"],
        "pose_dataset_settings_key": data_meta["settings_key"],
    }


def settings_key(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def all_atom_partner(path: Path, name: str) -> rs.AllAtomPartner:
    """The ATOM records of a benchmark file (first model and alternate location, as the
    docking read them) prepared all-atom by prepare_partner, in the file's frame."""
    from rankbind.benchmark.datasets import chain_ids, read_atoms
    from rankbind.structures.assembly import from_pdb
    from rankbind.structures.catalogue import ChainSpec
    from rankbind.structures.pdbfile import format_atom

    atoms = read_atoms(path)
    chains = chain_ids(atoms)
    with tempfile.TemporaryDirectory() as tmp:
        clean = Path(tmp) / f"{name}.pdb"
        lines = [format_atom(a, k) for k, a in enumerate(atoms, start=1)]
        clean.write_text("\n".join(lines) + "\nEND\n")
        specs = {c: ChainSpec(c, "ANTIGEN", "unknown", None, None) for c in chains}
        assembly = from_pdb(clean, specs, name=name)
    return rs.prepare_partner(assembly, chains, PREPARATION)


def ca_deviation(partner: rs.AllAtomPartner, docked: dockq.Partner) -> float:
    """Max distance (Å) between the prepared partner's C-alpha atoms and the docked
    heavy-atom partner's, matched by (chain, residue number, insertion code)."""
    ref = {(k[0], int(k[1]), str(k[2]) if len(k) > 2 else ""): res["CA"]
           for k, res in zip(docked.keys, docked.atoms, strict=True) if "CA" in res}  # fmt: skip
    dev, n = 0.0, 0
    for atom in partner.topology.atoms():
        if atom.name != "CA":
            continue
        r = atom.residue
        key = (r.chain.id, int(r.id), (r.insertionCode or "").strip())
        if key in ref:
            dev = max(dev, float(np.linalg.norm(partner.positions_nm[atom.index] * 10 - ref[key])))
            n += 1
    if n < 0.9 * len(ref):
        raise SystemExit(f"{partner.record['assembly']}: only {n} of {len(ref)} C-alpha matched")
    return dev


def first_rank(capri: list[int], order: list[int]) -> int | None:
    """First 1-based rank in ``order`` (positions into ``capri``) with CAPRI > 0."""
    return next((k + 1 for k, i in enumerate(order) if capri[i] > 0), None)


def rankings(records: list[dict]) -> dict[str, list[int]]:
    """Positions (0..N-1 in default order) in each ranking's order."""
    n = len(records)
    score = np.array([r["dG_kJ_per_mol"] if r.get("dG_kJ_per_mol") is not None else np.inf
                      for r in records])  # fmt: skip
    default = np.arange(n)
    return {
        "default": default.tolist(),
        "mmgbsa": np.argsort(score, kind="stable").tolist(),
        "consensus": dk.rerank(default, score, "consensus").tolist(),
    }


def finished_case(path: Path, key: str) -> dict | None:
    """The finished case file at ``path`` (None if absent); one written under another
    settings key stops the run."""
    if not path.exists():
        return None
    done = json.loads(path.read_text())
    if done["settings_key"] != key:
        raise SystemExit(f"{path}: written under other settings; move it away")
    return done


def prepared_partners(name: str, case, s: dict) -> dict:
    """The docked structure files of ``case`` (unbound where docked unbound) prepared
    all-atom; stops if a prepared partner's C-alpha moved from the docked one (> 0.01 Å).
    Returns {"rec", "lig", "files", "cpu_s", "ca_dev"}."""
    files = ((case.receptor_unbound, case.ligand_unbound) if s["kind"] == "unbound"
             else (case.receptor_bound, case.ligand_bound))  # fmt: skip
    t = time.process_time()
    rec_aa = all_atom_partner(files[0], f"{name}_rec")
    lig_aa = all_atom_partner(files[1], f"{name}_lig")
    prep_cpu = time.process_time() - t
    ca_dev = {"receptor": ca_deviation(rec_aa, s["rec"]), "ligand": ca_deviation(lig_aa, s["lig"])}
    if max(ca_dev.values()) > 0.01:
        raise SystemExit(f"{name}: prepared partners moved from the docked ones: {ca_dev} Å")
    log(f"{name}: partners prepared ({rec_aa.topology.getNumAtoms()} + "
        f"{lig_aa.topology.getNumAtoms()} atoms, CPU {prep_cpu:.0f} s)")  # fmt: skip
    return {"rec": rec_aa, "lig": lig_aa, "files": files, "cpu_s": prep_cpu, "ca_dev": ca_dev}


def pose_checkpoint(path: Path, key: str) -> dict:
    """Per-pose records of an unfinished case ({"settings_key", "poses": {index: record}});
    one written under another settings key stops the run."""
    if not path.exists():
        return {"settings_key": key, "poses": {}}
    ck = json.loads(path.read_text())
    if ck["settings_key"] != key:
        raise SystemExit(f"{path}: other settings; remove it")
    return ck


def scored_pose(partners: dict, frame, data: dict, index: int, rank: int, score) -> dict:
    """``score(topology, xyz, rec, lig)`` of stored pose ``index`` rebuilt all-atom; an
    exception is recorded as ``{"error": ...}`` (the pose then ranks last); CPU and wall
    seconds added."""
    rot, trans = frame.transform(data["rotations"][index], data["positions"][index])
    pose = dk.Pose(rank=rank, rotation=rot, position=trans, score=0.0, shape=0.0,
                   energy_kcal=0.0, restraint_atoms=0.0)  # fmt: skip
    c0, w0 = time.process_time(), time.perf_counter()
    topology, xyz, rec, lig = rs.complex_of(partners["rec"], partners["lig"], pose, np.zeros(3))
    try:
        record = score(topology, xyz, rec, lig)
    except Exception as err:  # recorded; ranked last
        record = {"error": f"{type(err).__name__}: {err}"}
    return record | {"cpu_s": round(time.process_time() - c0, 1),
                     "wall_s": round(time.perf_counter() - w0, 1)}  # fmt: skip


def case_provenance(settings: dict, key: str, wall0: float) -> dict:
    """The closing fields of a case file: wall time, load, machine, settings, key, date."""
    return {
        "wall_s_this_process": round(time.perf_counter() - wall0, 1),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "machine": "2 CPU cores shared with the lead's test-suite runs (no GPU), nice 10",
        "settings": settings,
        "settings_key": key,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def run_within_budget(names: list[str], max_cpu_min: float, run_one) -> None:
    """``run_one(name)`` for each case until this process has used ``max_cpu_min``."""
    t0 = time.process_time()
    for name in names:
        if (time.process_time() - t0) / 60 > max_cpu_min:
            log(f"CPU budget reached before {name}: stopped (cases from {name} on not run)")
            break
        run_one(name)
    log(f"done: CPU {time.process_time() - t0:.0f} s this process")


def run_case(name: str, mode: str, top: int, out: Path, cases: dict) -> dict | None:
    path = out / "cases" / f"{name}__{mode}.json"
    data = ds.load_case(POSES / mode / "cases" / f"{name}__{mode}.npz")
    settings = run_settings(top, data["meta"])
    key = settings_key(settings)
    if (done := finished_case(path, key)) is not None:
        return done
    cpu0, wall0 = time.process_time(), time.perf_counter()
    case = cases[name]
    frame = ds.pose_frame(case, data)
    s = frame.structures
    d = DockingSettings()
    legacy_restraint = ds.fitted_score(data, [1.0, d.restraint_weight], "legacy_restraint")
    order = np.argsort(-legacy_restraint, kind="stable")
    reps = ds.cluster_representatives(data, order, d.cluster_rmsd, top)
    matching = dockq.match(s["rec"], s["lig"], s["native_rec"], s["native_lig"])
    poses = []
    for k, i in enumerate(reps):
        m = ds.pose_metrics(frame, data, i, matching)
        stored = {"dockq": float(data["dockq"][i]), "fnat": float(data["fnat"][i]),
                  "capri": int(data["capri"][i])}  # fmt: skip
        if (abs(m["dockq"] - stored["dockq"]) > 1e-3 or abs(m["fnat"] - stored["fnat"]) > 1e-3
                or dockq.CAPRI_RANK[m["capri"]] != stored["capri"]):  # fmt: skip
            raise SystemExit(f"{name} pose {i}: not reproduced ({m} vs stored {stored})")
        poses.append({"default_rank": k + 1, "pose_index": int(i),
                      "legacy_restraint_score": round(float(legacy_restraint[i]), 3),
                      "capri": stored["capri"], "capri_class": m["capri"],
                      "dockq": round(stored["dockq"], 4),
                      "dockq_rebuilt": round(float(m["dockq"]), 4),
                      "fnat": round(stored["fnat"], 4)})  # fmt: skip
    check_cpu = time.process_time() - cpu0
    log(f"{name}: {len(reps)} representatives rebuilt, DockQ/fnat/CAPRI equal to the stored "
        f"values; CAPRI {[p['capri'] for p in poses]}")  # fmt: skip

    partners = prepared_partners(name, case, s)
    checkpoint = out / "cases" / f"{name}__{mode}.checkpoint.json"
    ck = pose_checkpoint(checkpoint, key)

    def score(topology, xyz, rec, lig):
        return rs.score_complex(topology, xyz, rec, lig, d)[0]

    for p in poses:
        i = str(p["pose_index"])
        if i not in ck["poses"]:
            record = scored_pose(partners, frame, data, int(i), p["default_rank"], score)
            ck["poses"][i] = record
            write_json(checkpoint, ck)
            dg = record.get("dG_kcal_per_mol")
            log(f"{name}: pose {p['default_rank']}/{len(poses)} CAPRI {p['capri']} "
                f"dG {'failed' if dg is None else f'{dg:+.1f} kcal/mol'}, "
                f"{record.get('atoms_scored')} atoms, CPU {record['cpu_s']} s")  # fmt: skip
        r = ck["poses"][i]
        p["mmgbsa"] = {k: r.get(k) for k in ("dG_kcal_per_mol", "dG_kJ_per_mol",
                       "components_kJ_per_mol", "atoms_scored", "trimmed_residues", "error",
                       "cpu_s", "wall_s")}  # fmt: skip
        p["mmgbsa"]["relax_heavy_atom_rmsd_nm"] = (r.get("relax") or {}).get("heavy_atom_rmsd_nm")
        p["dG_kJ_per_mol"] = r.get("dG_kJ_per_mol")
    orders = rankings(poses)
    capri = [p["capri"] for p in poses]
    for name_r, o in orders.items():
        for rank, pos in enumerate(o, start=1):
            poses[pos][f"{name_r}_rank"] = rank
    for p in poses:
        del p["dG_kJ_per_mol"]
    first = {r: first_rank(capri, orders[r]) for r in RANKINGS}
    meta = data["meta"]
    result = {
        "case": name,
        "mode": mode,
        "category": meta["category"] + (" (bound)" if meta.get("structures") == "bound" else ""),
        "structures": meta.get("structures"),
        "n_representatives": len(poses),
        "n_acceptable_in_representatives": int(sum(c > 0 for c in capri)),
        "first_acceptable_rank": first,
        "success": {
            r: {f"top{n}": first[r] is not None and first[r] <= n for n in TOPS} for r in RANKINGS
        },  # fmt: skip
        "poses": poses,
        "partners": {
            "receptor": partners["rec"].record | {"atoms": partners["rec"].topology.getNumAtoms()},
            "ligand": partners["lig"].record | {"atoms": partners["lig"].topology.getNumAtoms()},
            "files": [str(f) for f in partners["files"]],
            "prepared_vs_docked_ca_max_dev_angstrom": partners["ca_dev"],
        },  # fmt: skip
        "cpu_s": {
            "rebuild_check": round(check_cpu, 1),
            "preparation": round(partners["cpu_s"], 1),
            "mmgbsa_poses": round(
                sum(ck["poses"][str(p["pose_index"])]["cpu_s"] for p in poses), 1
            ),
            "this_process": round(time.process_time() - cpu0, 1),
        },  # fmt: skip
    } | case_provenance(settings, key, wall0)
    write_json(path, result)
    checkpoint.unlink()
    log(f"{name}: first acceptable rank {first}; CPU {result['cpu_s']}")
    return result


def run(args) -> None:
    out = OUT / args.mode
    stored = {p.name.split("__")[0] for p in (POSES / args.mode / "cases").glob("*.npz")}
    names = args.cases or [n for n in SUBSETS[args.mode] if n in stored]
    log(f"{args.mode}: {len(names)} cases in stored order {names}; top {args.top} clusters; "
        f"budget {args.max_cpu_min} CPU-min this process")  # fmt: skip
    cases = all_cases()

    def run_one(name: str) -> None:
        try:
            run_case(name, args.mode, args.top, out, cases)
        except SystemExit:
            raise
        except Exception as err:  # one failing case must not stop the others
            log(f"skip {name}: {type(err).__name__}: {err}")

    run_within_budget(names, args.max_cpu_min, run_one)


RANKL = "RANKL complexes (bound)"


def group_of(row: dict) -> str:
    """Difficulty class; rankbind's RANKL complexes (docked bound) form their own group."""
    return RANKL if row.get("structures") == "bound" else row["category"]


def sign_test(gained: int, lost: int) -> float:
    """Two-sided exact binomial (sign / McNemar) test on the discordant cases."""
    from scipy.stats import binomtest

    n = gained + lost
    return 1.0 if n == 0 else round(float(binomtest(gained, n, 0.5).pvalue), 3)


def bootstrap_diff(a: np.ndarray, b: np.ndarray, n: int = 10000, seed: int = 0) -> list:
    """95 % interval of mean(b) - mean(a) (success rates), cases resampled with replacement."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(n, len(a)))
    d = b[idx].mean(1) - a[idx].mean(1)
    return [round(float(x), 3) for x in np.percentile(d, [2.5, 97.5])]


def summary(args) -> None:
    out = OUT / args.mode
    rows = [json.loads(p.read_text()) for p in sorted((out / "cases").glob("*__*.json"))
            if not p.name.endswith(".checkpoint.json")]  # fmt: skip
    order = {n: k for k, n in enumerate(SUBSETS[args.mode])}
    rows.sort(key=lambda r: order.get(r["case"], 99))
    if not rows:
        raise SystemExit(f"no finished case under {out}")
    settings = rows[0]["settings"]
    groups = {"all": rows}
    for g in ("Rigid", "Medium", "Difficult", RANKL):
        groups[g] = [r for r in rows if group_of(r) == g]
    groups = {g: v for g, v in groups.items() if v}
    table = {}
    for g, rs_ in groups.items():
        table[g] = {rk: {f"top{n}": sum(r["success"][rk][f"top{n}"] for r in rs_) for n in TOPS}
                    | {"n": len(rs_)} for rk in RANKINGS}  # fmt: skip
    stats = {}
    for n in TOPS:
        a = np.array([r["success"]["default"][f"top{n}"] for r in rows], dtype=float)
        for rk in ("mmgbsa", "consensus"):
            b = np.array([r["success"][rk][f"top{n}"] for r in rows], dtype=float)
            stats[f"{rk}_vs_default_top{n}"] = {
                "gained": int(((b == 1) & (a == 0)).sum()),
                "lost": int(((b == 0) & (a == 1)).sum()),
                "rate_difference_bootstrap_95": bootstrap_diff(a, b),
                "sign_test_p_two_sided": sign_test(int(((b == 1) & (a == 0)).sum()),
                                                   int(((b == 0) & (a == 1)).sum())),
            }  # fmt: skip
    # within case, over the rescored representatives: Spearman rho of DockQ with the
    # MM/GBSA score and with the default rank (negative: better poses score lower / rank
    # earlier); cases whose representatives' DockQ all tie are left out
    rho = {"mmgbsa_score": [], "default_rank": []}
    for r in rows:
        q = np.array([p["dockq"] for p in r["poses"]])
        dg = np.array([p["mmgbsa"]["dG_kJ_per_mol"] if p["mmgbsa"]["dG_kJ_per_mol"] is not None
                       else np.inf for p in r["poses"]])  # fmt: skip
        if np.ptp(q) > 0 and np.isfinite(dg).all():
            rho["mmgbsa_score"].append(float(spearmanr(dg, q)[0]))
            rho["default_rank"].append(float(spearmanr(np.arange(len(q)), q)[0]))
    # per MM/GBSA component: mean over acceptable minus mean over incorrect representatives
    # of a case (cases with both), median over cases; and rho(score, atoms scored)
    comp: dict[str, list[float]] = {}
    size_rho = []
    for r in rows:
        ok = [p for p in r["poses"] if p["mmgbsa"]["components_kJ_per_mol"]]
        size_rho.append(float(spearmanr([p["mmgbsa"]["dG_kJ_per_mol"] for p in ok],
                                        [p["mmgbsa"]["atoms_scored"] for p in ok])[0]))  # fmt: skip
        acc, inc = [p for p in ok if p["capri"] > 0], [p for p in ok if p["capri"] == 0]
        if acc and inc:
            for k in ok[0]["mmgbsa"]["components_kJ_per_mol"]:
                mean = [np.mean([p["mmgbsa"]["components_kJ_per_mol"][k] for p in g])
                        for g in (acc, inc)]  # fmt: skip
                comp.setdefault(k, []).append(float(mean[0] - mean[1]))
    comp_summary = {k: {"median_kJ_per_mol": round(float(np.median(v)), 1), "n_cases": len(v)}
                    for k, v in comp.items() if np.any(np.abs(v) > 1e-6)}  # fmt: skip
    rho_summary = {k: {"median": round(float(np.median(v)), 3), "n_cases": len(v),
                       "n_negative": int(sum(x < 0 for x in v))} for k, v in rho.items()}  # fmt: skip
    cpu_pose = [p["mmgbsa"]["cpu_s"] for r in rows for p in r["poses"]]
    atoms = [p["mmgbsa"]["atoms_scored"] for r in rows for p in r["poses"]
             if p["mmgbsa"]["atoms_scored"]]  # fmt: skip
    n_failed = sum(p["mmgbsa"]["dG_kJ_per_mol"] is None for r in rows for p in r["poses"])
    cpu_total = sum(sum(v for k, v in r["cpu_s"].items() if k != "this_process") for r in rows)
    report = {
        "label": "MM/GBSA rescoring of the top clusters of the stored pose dataset",
        "mode": args.mode,
        "cases": [r["case"] for r in rows],
        "table": table,
        "paired": stats,
        "cpu_s_per_pose": {"mean": round(float(np.mean(cpu_pose)), 1),
                           "min": min(cpu_pose), "max": max(cpu_pose), "n": len(cpu_pose)},
        "atoms_scored": {"median": int(np.median(atoms)), "max": int(max(atoms))},
        "n_poses_failed": n_failed,
        "n_cases_with_acceptable_representative": sum(
            r["n_acceptable_in_representatives"] > 0 for r in rows
        ),
        "spearman_dockq_within_case": rho_summary,
        "components_acceptable_minus_incorrect": comp_summary,
        "spearman_score_vs_atoms_scored": {"median": round(float(np.median(size_rho)), 3),
                                           "n_positive": int(sum(x > 0 for x in size_rho)),
                                           "n_cases": len(size_rho)},  # fmt: skip
        "cpu_s_total": round(cpu_total, 1),
        "settings": settings,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }  # fmt: skip
    write_json(out / "summary.json", report)
    ds_settings = settings["pose_dataset_settings"]
    lines = [
        f"# MM/GBSA rescoring of docked poses: antibody benchmark, {args.mode}", "",
        f"Script `gpu_bench/docking_mmgbsa_rescoring.py`; {report['date_utc']}; machine: 2 CPU "
        "cores shared with the lead's test-suite runs, no GPU, run at nice 10.", "",
        "## Settings", "",
        f"- Poses: the stored pose dataset `gpu_bench/results/docking_scoring/{args.mode}/cases/` "
        f"(legacy-score FFT scan, grid {ds_settings['spacing']} Å, rotations "
        f"{ds_settings['rotation_spacing_deg']}°, orientation cone "
        f"{ds_settings['orientation_cone_deg']}°, {ds_settings['n_top']} best rotations per "
        f"case, benchmark random start seed {ds_settings['seed']}, unbound partners where the "
        "benchmark has them). Nothing re-docked.",
        f"- Default ranking: legacy + {settings['default_ranking']['restraint_weight']} x "
        f"restraint atoms (DockingSettings default), greedy ligand C-alpha clustering at "
        f"{settings['default_ranking']['cluster_rmsd_angstrom']} Å; the top "
        f"{settings['n_top_clusters']} representatives are rescored (N fixed beforehand).",
        "- Check: each representative rebuilt from the seed and its DockQ, fnat and CAPRI "
        "class recomputed against the bound complex: all equal to the stored values (the "
        "run stops otherwise); prepared partners' C-alpha within 0.01 Å of the docked ones.",
        f"- MM/GBSA: DockingSettings defaults {settings['docking_settings_mmgbsa']}; partners "
        "prepared once per case (amber14, hydrogens by template at pH 7, missing atoms "
        "built, gaps left open, lone residues between gaps removed).",
        f"- Consensus: {settings['consensus']}. No parameter fitted or tuned: no "
        "cross-validation needed; all choices fixed before the run.", "",
        "## Acceptable-or-better (CAPRI) within the top N, cases", "",
        "| class | cases (with an acceptable rep.) | default top1/5/10 | MM/GBSA top1/5/10 "
        "| consensus top1/5/10 |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    for g, t in table.items():
        cells = " | ".join("/".join(str(t[rk][f"top{n}"]) for n in TOPS) for rk in RANKINGS)
        n_acc = sum(r["n_acceptable_in_representatives"] > 0 for r in groups[g])
        lines.append(f"| {g} | {t['default']['n']} ({n_acc}) | {cells} |")
    lines += ["", "Top 10 is the same under the three rankings by construction (they re-order "
              "the same 10 representatives); its count is the ceiling for top 1 and top 5."]  # fmt: skip
    lines += ["", "Paired by case (all cases): gained / lost against the default ranking, "
              "and the 95 % bootstrap-by-case interval of the success-rate difference "
              "(10 000 resamples):", ""]  # fmt: skip
    for k, v in stats.items():
        lines.append(f"- {k}: +{v['gained']} / -{v['lost']}, "
                     f"{v['rate_difference_bootstrap_95']}, exact sign test on the discordant "
                     f"cases p = {v['sign_test_p_two_sided']}")  # fmt: skip
    lines += ["", "Within case, over the rescored representatives: Spearman ρ of DockQ with "
              "the MM/GBSA score " + ", and with the default rank ".join(
                  f"median {v['median']} over {v['n_cases']} cases ({v['n_negative']} negative)"
                  for v in rho_summary.values()) + " (negative: better poses score lower / "
              "rank earlier)."]  # fmt: skip
    if comp_summary:
        lines += ["", "MM/GBSA components, acceptable minus incorrect representatives (mean "
                  "within a case, median over the cases with both; kJ/mol, negative favours "
                  "the acceptable poses): " + ", ".join(
                      f"{k} {v['median_kJ_per_mol']:+.1f}" for k, v in comp_summary.items())
                  + f" ({next(iter(comp_summary.values()))['n_cases']} cases). Spearman ρ of the "
                  "score with the atoms scored (interface size), within case: median "
                  f"{report['spearman_score_vs_atoms_scored']['median']} "
                  f"({report['spearman_score_vs_atoms_scored']['n_positive']} of "
                  f"{len(rows)} positive)."]  # fmt: skip
    lines += ["", "## Per case: first acceptable-or-better rank among the top "
              f"{settings['n_top_clusters']} clusters (— none)", "",
              "| case | class | acceptable reps | default | MM/GBSA | consensus | CPU s |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        f = ["—" if r["first_acceptable_rank"][k] is None else str(r["first_acceptable_rank"][k])
             for k in RANKINGS]  # fmt: skip
        cpu = sum(v for k, v in r["cpu_s"].items() if k != "this_process")
        lines.append(f"| {r['case']} | {group_of(r)} | {r['n_acceptable_in_representatives']} "
                     f"| {' | '.join(f)} | {cpu:.0f} |")  # fmt: skip
    cp = report["cpu_s_per_pose"]
    lines += ["", f"CPU: {cp['mean']} s per pose on average ({cp['min']}-{cp['max']}, "
              f"{cp['n']} poses; atoms scored after the trim: median "
              f"{report['atoms_scored']['median']}, max {report['atoms_scored']['max']}); "
              f"{report['cpu_s_total']:.0f} CPU-s in all, preparation and rebuild checks "
              f"included; {n_failed} poses failed to score. Load average at the end of each "
              "case in its JSON (`load_average_1m_at_end`)."]  # fmt: skip
    write_text(out / "SUMMARY.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--mode", default="epitope_paratope", choices=sorted(SUBSETS))
    r.add_argument("--top", type=int, default=10)
    r.add_argument("--cases", nargs="+")
    r.add_argument("--max-cpu-min", type=float, default=60.0)
    s = sub.add_parser("summary")
    s.add_argument("--mode", default="epitope_paratope", choices=sorted(SUBSETS))
    args = p.parse_args()
    {"run": run, "summary": summary}[args.cmd](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
