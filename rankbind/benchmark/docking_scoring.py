"""Docking score terms fitted by leave-one-case-out cross-validation.

Two steps, both on the docking benchmark's cases (:mod:`rankbind.benchmark.docking`: the
same unbound partners, random start and restraint modes):

1. :func:`case_poses` keeps the ``n_top`` best poses of the FFT scan (best translation
   per rotation, ranked by the legacy shape + electrostatics score, before clustering) and
   stores per pose every score term (:data:`FEATURES`) and its DockQ / CAPRI class
   against the bound complex, plus the pose transform, so rankings can be re-clustered.
2. :func:`cross_validate` fits a linear score ``w . features`` on all cases but one
   (:func:`fit_weights`: pairwise logistic ranking loss, acceptable-or-better poses above
   incorrect ones of the same case, every training case weighted equally) and ranks the
   held-out case with it; success rates (acceptable-or-better in the top N clustered
   poses) are compared with the legacy score, PRODIGY-contact rescoring and the consensus
   of the two ranks (:func:`rankbind.modelling.docking.rerank`), and the consensus of the
   fitted and PRODIGY ranks.

The pose set is that of the legacy scan: a fitted score used inside the FFT scan would
also pick other translations per rotation, which this rescoring does not see.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rankbind.analysis.dockq import CAPRI_RANK
from rankbind.errors import RankbindError

# Score terms per pose: shape (grid count), electrostatic energy (kcal/mol), desolvation
# (kcal/mol), MJ pair energy (RT), PRODIGY IC energy (kcal/mol), restraint atoms in contact.
FEATURES = ("shape", "energy_kcal", "desolv_kcal", "pair_rt", "prodigy_ic_kcal", "restraint_atoms")
# Fitted linear scores use FFT terms (they map onto DockingSettings weights): "full" all
# of them, "legacy_restraint" the legacy score (shape - E_elec) plus the restraint count.
MODELS = {
    "full": ("shape", "energy_kcal", "desolv_kcal", "pair_rt", "restraint_atoms"),
    "legacy_restraint": ("legacy", "restraint_atoms"),
}
FIT_FEATURES = MODELS["full"]
# scorer -> model it is fitted with (None: nothing fitted)
SCORERS = {"legacy": None, "fitted": "full", "fitted_restraint": "legacy_restraint",
           "prodigy": None, "consensus": None, "fitted_consensus": "full"}  # fmt: skip


@dataclass(frozen=True)
class ScoringDataSettings:
    """Sampling of the pose dataset (recorded with it; a changed value refuses resume).
    Lengths in Å, angles in degrees."""

    spacing: float = 1.5
    rotation_spacing_deg: float = 20.0
    orientation_cone_deg: float | None = 60.0  # applied where both restraint patches are off-centre
    n_top: int = 200  # FFT poses kept per case (by legacy score, before clustering)
    restraint_cutoff: float = 6.0
    restraint_min_atoms: int = 10
    epitope_cutoff: float = 5.0
    pair_terms: int = 3
    batch: int = 8
    seed: int = 0

    def bench_settings(self, mode: str):
        from rankbind.benchmark.docking import DockingBenchmarkSettings

        return DockingBenchmarkSettings(
            modes=(mode,),
            spacing=self.spacing,
            restraint_cutoff=self.restraint_cutoff,
            restraint_min_atoms=self.restraint_min_atoms,
            epitope_cutoff=self.epitope_cutoff,
            batch=self.batch,
            seed=self.seed,
        )

    def docking_settings(self):
        """The legacy-score scan settings (shape + electrostatics only: desolvation, pair
        and restraint-count weights 0 in the scan, whatever the defaults)."""
        from rankbind.settings import DockingSettings

        return DockingSettings(
            elec_weight=1.0,
            desolv_weight=0.0,
            pair_weight=0.0,
            restraint_weight=0.0,
            spacing=self.spacing,
            rotation_spacing_deg=self.rotation_spacing_deg,
            orientation_cone_deg=self.orientation_cone_deg,
            restraint_cutoff=self.restraint_cutoff,
            restraint_min_atoms=self.restraint_min_atoms,
            pair_terms=self.pair_terms,
            batch=self.batch,
        )

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def case_poses(case, mode: str, settings: ScoringDataSettings) -> dict[str, np.ndarray]:
    """The ``n_top`` legacy-score FFT poses of one case in one mode (benchmark modes), as
    arrays: features (N, len(FEATURES)), dockq/fnat/irmsd/lrmsd (N,), capri (N,) int
    (0 incorrect .. 3 high), rotations (N, 3, 3), positions (N, 3) Å, ligand C-alpha
    coordinates centred on the ligand centre (m, 3) Å (pose CAs = ca @ R.T + position)."""
    import time

    from rankbind.analysis import dockq
    from rankbind.benchmark import docking as bd
    from rankbind.modelling import docking as dk

    bench = settings.bench_settings(mode)
    s = bd.load_structures(case, bench)
    rec_keys, lig_keys, info = bd.restraints(case, s, mode, bench)
    rot0, t0 = bd.random_start(s["lig"].coordinates(), case.name, bench.seed)
    lig_start = s["lig"].transformed(rot0, t0)
    receptor = dk.molecule_from_partner(s["rec"], rec_keys)
    ligand = dk.molecule_from_partner(lig_start, lig_keys)
    ds = settings.docking_settings()
    t_start = time.process_time()
    raw = dk.scan(receptor, ligand, ds, progress=False)
    t_scan = time.process_time()
    order = raw.order()[: settings.n_top]
    terms_settings = ds.replace(desolv_weight=1.0, pair_weight=1.0)
    matching = dockq.match(s["rec"], s["lig"], s["native_rec"], s["native_lig"])
    feats, metrics = [], []
    for i in order:
        placed = raw.placed(ligand, i)
        t = dk.score_pose_direct(receptor, placed, ligand, terms_settings)
        feats.append(
            [t["shape"], t["energy_kcal"], t["desolv_kcal"], t["pair_rt"],
             dk.prodigy_ic_energy(receptor, ligand, placed), raw.restraint_atoms[i]]
        )  # fmt: skip
        model = bd.posed_ligand(s["lig"], rot0, t0, raw.pose(i), raw.ligand_center)
        m = dockq.dockq(s["rec"], model, s["native_rec"], s["native_lig"], matching)
        metrics.append([m["dockq"], m["fnat"], m["irmsd"], m["lrmsd"], CAPRI_RANK[m["capri"]]])
    metrics = np.array(metrics, dtype=float).reshape(-1, 5)
    meta = {
        "case": case.name,
        "mode": mode,
        "category": case.category,
        "structures": s["kind"],
        "restraint_info": info,
        "n_rotations": len(raw.rotations),
        "n_feasible": int(np.isfinite(raw.score).sum()),
        "grid_size": raw.grid_size,
        "notes": raw.notes,
        "cpu_s": {
            "scan": round(t_scan - t_start, 1),
            "terms_dockq": round(time.process_time() - t_scan, 1),
        },  # fmt: skip
        "settings": asdict(settings),
        "settings_key": settings.key(),
    }
    return {
        "features": np.array(feats, dtype=float).reshape(-1, len(FEATURES)),
        "dockq": metrics[:, 0],
        "fnat": metrics[:, 1],
        "irmsd": metrics[:, 2],
        "lrmsd": metrics[:, 3],
        "capri": metrics[:, 4].astype(np.int8),
        "rotations": raw.rotations[order],
        "positions": raw.positions[order],
        "ca": (ligand.xyz - raw.ligand_center)[ligand.is_ca].astype(np.float32),
        "meta": np.array(json.dumps(meta)),
    }


def rescore_at_spacing(case, data: dict, spacing: float) -> dict:
    """The stored poses of ``data`` (one case, :func:`case_poses`) with their FFT score
    terms evaluated on a lattice of ``spacing`` Å (the same poses: only the grid the
    terms are computed on changes; the PRODIGY term, grid-free, is kept). Returns a copy
    of ``data`` with the new features and ``meta["rescored_spacing"]``. A real scan at
    that spacing would also pick other translations per rotation."""
    import time

    from rankbind.benchmark import docking as bd
    from rankbind.modelling import docking as dk

    meta = data["meta"]
    settings = ScoringDataSettings(**meta["settings"])
    bench = settings.bench_settings(meta["mode"])
    s = bd.load_structures(case, bench)
    rec_keys, lig_keys, _ = bd.restraints(case, s, meta["mode"], bench)
    rot0, t0 = bd.random_start(s["lig"].coordinates(), case.name, bench.seed)
    receptor = dk.molecule_from_partner(s["rec"], rec_keys)
    ligand = dk.molecule_from_partner(s["lig"].transformed(rot0, t0), lig_keys)
    terms = settings.docking_settings().replace(spacing=spacing, desolv_weight=1.0,
                                                pair_weight=1.0)  # fmt: skip
    centre = ligand.xyz.mean(0)
    t_start = time.process_time()
    feats = data["features"].copy()
    for k, (rot, pos) in enumerate(zip(data["rotations"], data["positions"], strict=True)):
        placed = (ligand.xyz - centre) @ rot.astype(float).T + pos
        t = dk.score_pose_direct(receptor, placed, ligand, terms)
        for name in ("shape", "energy_kcal", "desolv_kcal", "pair_rt", "restraint_atoms"):
            feats[k, FEATURES.index(name)] = t[name]
    cpu = {"rescore": round(time.process_time() - t_start, 1)}
    return data | {"features": feats,
                   "meta": meta | {"rescored_spacing": spacing, "cpu_s": cpu}}  # fmt: skip


def save_case(path: Path, data: dict) -> None:
    """Compressed npz, written atomically (temporary file + rename)."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, **data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_case(path: Path) -> dict:
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    data["meta"] = json.loads(str(data["meta"]))
    return data


def build(cases, modes, settings: ScoringDataSettings, out_dir, log=print) -> list[Path]:
    """One npz per (case, mode) under ``out_dir``/cases; finished ones are kept (resume),
    and a file written under other settings stops the run (RankbindError). Cases whose
    restraints cannot be built for a mode (no CDRs found) or that fail otherwise are logged
    and skipped (they are retried on resume)."""
    import time

    out = Path(out_dir) / "cases"
    done = []
    for mode in modes:
        for case in cases:
            path = out / f"{case.name}__{mode}.npz"
            if path.is_file():
                meta = load_case(path)["meta"]
                if meta["settings_key"] != settings.key():
                    raise RankbindError(
                        f"{path}: written with other settings ({meta['settings']}); "
                        f"now {asdict(settings)}: move it away or use another directory"
                    )
                done.append(path)
                continue
            t0 = time.process_time()
            try:
                data = case_poses(case, mode, settings)
            except Exception as err:  # one failing case must not stop the others
                log(f"skip {case.name} {mode}: {type(err).__name__}: {err}")
                continue
            save_case(path, data)
            done.append(path)
            n_ok = int((data["capri"] > 0).sum())
            log(f"{case.name} {mode}: {len(data['dockq'])} poses, {n_ok} acceptable+, "
                f"best DockQ {data['dockq'].max(initial=0):.3f}, "
                f"CPU {time.process_time() - t0:.0f} s")  # fmt: skip
    return done


# ------------------------------------------------------------------ fitting and CV


@dataclass
class Dataset:
    """Pose dataset of several cases of one mode (from :func:`load_case` dicts)."""

    cases: list[dict]
    names: list[str] = field(init=False)

    def __post_init__(self):
        self.names = [c["meta"]["case"] for c in self.cases]
        if len(set(self.names)) != len(self.names):
            raise RankbindError(f"duplicate cases in one dataset: {self.names}")


def loco_folds(names: list[str]) -> list[tuple[list[str], str]]:
    """Leave-one-case-out folds: (training case names, held-out case name)."""
    return [([m for m in names if m != n], n) for n in names]


def columns(case: dict, model: str = "full") -> np.ndarray:
    """The (N, k) score terms of ``MODELS[model]``; "legacy" is shape - E_elec."""
    f = case["features"]
    out = []
    for name in MODELS[model]:
        out.append(legacy_score(case) if name == "legacy" else f[:, FEATURES.index(name)])
    return np.stack(out, 1)


def _scale(cases: list[dict], model: str) -> np.ndarray:
    """Per model term: the mean within-case standard deviation (a fixed scale, so the
    fitted score stays one linear combination of raw terms)."""
    sd = np.array([columns(c, model).std(0) for c in cases if len(c["dockq"]) > 1])
    return np.maximum(sd.mean(0), 1e-9)


def fit_weights(cases: list[dict], l2: float = 1e-2, model: str = "full") -> np.ndarray:
    """Weights on the terms of ``MODELS[model]`` (raw units, the first term's weight
    normalised to 1 when positive) minimising the pairwise logistic loss
    log(1 + exp(-(s_pos - s_neg))) over pairs of an acceptable-or-better and an incorrect
    pose of the same case (each case's pairs averaged, cases weighted equally) + ``l2``
    |w|² on scaled terms. Cases without both kinds of pose carry no pairs."""
    from scipy.optimize import minimize

    scale = _scale(cases, model)
    diffs = []
    for c in cases:
        x = columns(c, model) / scale
        pos, neg = x[c["capri"] > 0], x[c["capri"] == 0]
        if len(pos) and len(neg):
            diffs.append((pos[:, None, :] - neg[None, :, :]).reshape(-1, x.shape[1]))
    if not diffs:
        raise RankbindError("no training case has both acceptable and incorrect poses")

    def loss(w):
        total, grad = l2 * w @ w, 2 * l2 * w
        for d in diffs:
            m = d @ w
            total += np.mean(np.logaddexp(0.0, -m)) / len(diffs)
            grad -= (d * (1.0 / (1.0 + np.exp(m)))[:, None]).mean(0) / len(diffs)
        return total, grad

    w0 = np.zeros(len(scale))
    w0[0] = 1.0
    w = minimize(loss, w0, jac=True, method="L-BFGS-B").x / scale
    return w / w[0] if w[0] > 0 else w


def fitted_score(case: dict, weights: np.ndarray, model: str = "full") -> np.ndarray:
    """w . terms per pose (N,), terms of ``MODELS[model]``."""
    return columns(case, model) @ np.asarray(weights)


def weights_to_settings(weights, base, model: str = "full"):
    """DockingSettings ``base`` with the FFT score weights of fitted ``weights`` (first
    weight 1): score = shape - elec_weight E - desolv_weight ΔG_desolv - pair_weight
    E_pair + restraint_weight x restraint atoms, so the energy weights are minus the
    fitted coefficients ("legacy_restraint": elec_weight 1, restraint_weight fitted)."""
    w = np.asarray(weights, dtype=float)
    if not np.isclose(w[0], 1.0):
        raise RankbindError(f"fitted weights need a first weight of 1 for DockingSettings: {w}")
    if model == "legacy_restraint":
        return base.replace(elec_weight=1.0, restraint_weight=w[1])
    return base.replace(
        elec_weight=-w[1], desolv_weight=-w[2], pair_weight=-w[3], restraint_weight=w[4]
    )


def legacy_score(case: dict, elec_weight: float = 1.0) -> np.ndarray:
    """shape - elec_weight x electrostatic energy (the FFT scan's score) per pose."""
    f = case["features"]
    return f[:, FEATURES.index("shape")] - elec_weight * f[:, FEATURES.index("energy_kcal")]


def ranking(case: dict, scorer: str, weights: np.ndarray | None = None) -> np.ndarray:
    """Pose indices in rank order for ``scorer`` (one of SCORERS, ``weights`` those of its
    model); "prodigy" and "consensus" re-rank the legacy order exactly as :func:`dock`
    does with ``rank_by``, "fitted_consensus" the fitted order."""
    from rankbind.modelling.docking import rerank

    legacy = np.argsort(-legacy_score(case), kind="stable")
    if scorer == "legacy":
        return legacy
    if scorer in ("fitted", "fitted_restraint"):
        return np.argsort(-fitted_score(case, weights, SCORERS[scorer]), kind="stable")
    if scorer in ("prodigy", "consensus"):
        prodigy = case["features"][legacy, FEATURES.index("prodigy_ic_kcal")]
        return rerank(legacy, prodigy, scorer)
    if scorer == "fitted_consensus":
        fitted = np.argsort(-fitted_score(case, weights), kind="stable")
        return rerank(fitted, case["features"][fitted, FEATURES.index("prodigy_ic_kcal")],
                      "consensus")  # fmt: skip
    raise RankbindError(f"scorer must be one of {SCORERS}, got {scorer!r}")


def cluster_representatives(case: dict, order: np.ndarray, cluster_rmsd: float = 6.0,
                            n_keep: int = 10) -> list[int]:  # fmt: skip
    """Pose indices of the cluster representatives of ``order``, best first: greedy
    ligand C-alpha RMSD clustering as :func:`rankbind.modelling.docking.dock` does."""
    ca = case["ca"].astype(float)
    reps: list[np.ndarray] = []
    out = []
    for i in order:
        x = ca @ case["rotations"][i].astype(float).T + case["positions"][i]
        if all(np.sqrt(np.mean(np.sum((x - r) ** 2, 1))) >= cluster_rmsd for r in reps):
            reps.append(x)
            out.append(int(i))
            if len(reps) == n_keep:
                break
    return out


def clustered_capri(case: dict, order: np.ndarray, cluster_rmsd: float = 6.0,
                    n_keep: int = 10) -> list[int]:  # fmt: skip
    """CAPRI ranks (0..3) of the cluster representatives of ``order``
    (:func:`cluster_representatives`)."""
    return [int(case["capri"][i])
            for i in cluster_representatives(case, order, cluster_rmsd, n_keep)]  # fmt: skip


@dataclass
class PoseFrame:
    """What the stored poses of one case act on, rebuilt through the benchmark API:
    ``structures`` (:func:`rankbind.benchmark.docking.load_structures`), the random start
    x_start = ``rot0`` @ x + ``t0`` and ``ligand_center`` (Å), the centre of the docked
    heavy-atom ligand Molecule (a pose places x_start as R (x_start - centre) + p)."""

    structures: dict
    rot0: np.ndarray
    t0: np.ndarray
    ligand_center: np.ndarray

    def transform(self, rotation, position) -> tuple[np.ndarray, np.ndarray]:
        """(R, t) with x_model = R @ x + t for x in the frame of the docked structure
        file (unbound partner as read), for a stored pose (``rotation`` (3, 3),
        ``position`` (3,) Å)."""
        rot = np.asarray(rotation, dtype=float)
        return rot @ self.rot0, rot @ (self.t0 - self.ligand_center) + np.asarray(position)


def pose_frame(case, data: dict) -> PoseFrame:
    """The :class:`PoseFrame` of ``data`` (one case, :func:`load_case`); the ligand
    C-alpha atoms it implies must equal the stored ``ca`` (else RankbindError)."""
    from rankbind.benchmark import docking as bd
    from rankbind.modelling import docking as dk

    meta = data["meta"]
    settings = ScoringDataSettings(**meta["settings"])
    bench = settings.bench_settings(meta["mode"])
    s = bd.load_structures(case, bench)
    rot0, t0 = bd.random_start(s["lig"].coordinates(), case.name, bench.seed)
    ligand = dk.molecule_from_partner(s["lig"].transformed(rot0, t0))
    centre = ligand.xyz.mean(0)
    ca = ligand.xyz[ligand.is_ca] - centre
    if ca.shape != data["ca"].shape or not np.allclose(ca, data["ca"], atol=1e-3):
        raise RankbindError(
            f"{case.name} {meta['mode']}: the rebuilt start ligand does not match the stored "
            "C-alpha coordinates (other structures or seed than the pose dataset's)"
        )
    return PoseFrame(s, rot0, t0, centre)


def pose_metrics(frame: PoseFrame, data: dict, i: int, matching=None) -> dict:
    """DockQ metrics (:func:`rankbind.analysis.dockq.dockq`) of stored pose ``i``
    rebuilt by :meth:`PoseFrame.transform` (for a check against the stored values)."""
    from rankbind.analysis import dockq

    s = frame.structures
    rot, t = frame.transform(data["rotations"][i], data["positions"][i])
    model = s["lig"].transformed(rot, t)
    return dockq.dockq(s["rec"], model, s["native_rec"], s["native_lig"], matching)


def cross_validate(dataset: Dataset, tops=(1, 5, 10), l2: float = 1e-2) -> dict:
    """Leave-one-case-out CV of the fitted score against the fixed scorers. Per held-out
    case: first acceptable cluster rank per scorer and the fold's weights; summary: top-N
    acceptable-or-better counts per scorer, overall and per difficulty category (cases
    docked from bound structures, rankbind's RANKL complexes, form their own group)."""
    by_name = dict(zip(dataset.names, dataset.cases, strict=True))
    per_case = []
    for train, test in loco_folds(dataset.names):
        case = by_name[test]
        weights = {}
        for model in MODELS:
            try:
                weights[model] = fit_weights([by_name[n] for n in train], l2, model)
            except RankbindError:
                weights[model] = None
        meta = case["meta"]
        category = meta["category"] + (" (bound)" if meta.get("structures") == "bound" else "")
        row = {"case": test, "category": category,
               "n_acceptable_poses": int((case["capri"] > 0).sum()),
               "weights": {m: None if w is None else [round(float(v), 5) for v in w]
                           for m, w in weights.items()}}  # fmt: skip
        for scorer, model in SCORERS.items():
            w = weights[model] if model else None
            if model and w is None:
                row[scorer] = None
                continue
            classes = clustered_capri(case, ranking(case, scorer, w), n_keep=max(tops))
            row[scorer] = next((k + 1 for k, c in enumerate(classes) if c > 0), None)
        per_case.append(row)
    return {"per_case": per_case, "summary": summarise(per_case, tops)}


def summarise(per_case: list[dict], tops=(1, 5, 10)) -> dict:
    """Per scorer and category ("all" first): cases with an acceptable-or-better cluster
    within the top N, as {"topN": [successes, cases]}."""
    groups = {"all": per_case}
    for row in per_case:
        groups.setdefault(row["category"], []).append(row)
    out = {}
    for scorer in SCORERS:
        out[scorer] = {
            g: {
                f"top{n}": [sum(r[scorer] is not None and r[scorer] <= n for r in rows), len(rows)]
                for n in tops
            }
            for g, rows in groups.items()
        }
    return out
