"""The seed scenarios on cited inputs: how much RANKL reaches RANK.

Every number comes from ``seeds/competition_inputs.yaml`` through a role (see
:data:`ROLES`); a role can be re-pointed to another input id or to an inline value that
carries its own provenance (:func:`rankbind.competition.inputs.resolve`), never to a
bare number. Results are labelled with the kinds of the inputs they depend on.

Scenarios (the seeds: PMID 15359989 abstract, Renema 2016 Table 2 and Figure 1):

* ``myeloma_ratio``: RANK occupancy and signalling as the sRANKL/OPG ratio rises from
  the healthy to the myeloma median and beyond, without and with an OPG sink (myeloma
  heparan sulfate) and TRAIL;
* ``denosumab``: free-RANKL fraction and RANK signalling over one steady-state dosing
  interval of 120 mg every 4 weeks and 60 mg every 6 months;
* ``decoys``: RANKL3 (soluble trimers), RANK-c (soluble receptor) and LGR4 (second
  receptor) at rising concentrations;
* ``sensitivities``: d(conclusion)/d ln(input) for every Kd and total (autodiff).

Modelling choices (also in every result's ``assumptions``): serum concentrations stand
in for the bone-marrow interface; the RANKL pool is the soluble sRANKL trimer; OPG is
one binder with the apparent Kd of the full-length dimer (avidity folded in);
denosumab is bivalent with the cited Kd per arm and may bridge two trimers; TRAIL and
the sink bind free OPG 1:1 and the complexes cannot bind RANKL; signalling = RANKL
trimers with at least two RANK bound.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rankbind.competition.inputs import (
    Input,
    derived,
    load_inputs,
    mass_to_molar,
    resolve,
)
from rankbind.competition.model import (
    Affinity,
    Binder,
    EquilibriumModel,
    LigandPool,
    System,
)
from rankbind.competition.pk import LinearPK

ROLES: dict[str, str] = {
    "kd_rank": "kd_rank_rankl",
    "kd_opg": "kd_opg_dimer_rankl",
    "kd_dmab": "kd_dmab_rankl",
    "kd_trail": "kd_opgfc_trail",
    "kd_lgr4": "kd_lgr4_rankl",
    "kd_sink": "kd_sink_opg",
    "rank": "rank_effective_molar",
    "lgr4": "lgr4_effective_molar",
    "sink": "sink_effective_molar",
    "trail": "trail_molar",
    "rankl3": "rankl3_trimer_molar",
    "rank_c": "rank_c_molar",
    "srankl_mass": "srankl_serum_myeloma_ug_l",
    "opg_mass": "opg_serum_myeloma_ug_l",
    "opg_local": "opg_local_molar",
    "ratio_myeloma": "ratio_srankl_opg_myeloma",
    "ratio_healthy": "ratio_srankl_opg_healthy",
    "mw_opg": "mw_opg_dimer_g_mol",
    "mw_rankl": "mw_srankl_monomer_g_mol",
    "mw_dmab": "mw_denosumab_g_mol",
    "pk_f": "dmab_bioavailability",
    "pk_absorption_half_life": "dmab_absorption_half_life_d",
    "pk_volume": "dmab_central_volume_l",
    "pk_clearance": "dmab_linear_clearance_ml_h",
    "pk_trough_label": "dmab_trough_ss_120q4w_ug_ml",
    "pk_half_life_label": "dmab_half_life_d",
    "pk_tmax_label": "dmab_tmax_single_d",
    "dose_120": "dose_120mg_q4w",
    "dose_60": "dose_60mg_q6m",
}
REGIMENS = (("120 mg every 4 weeks", "dose_120", 28.0), ("60 mg every 6 months", "dose_60", 182.0))
ASSUMPTIONS = (
    "serum concentrations stand in for the bone-marrow interface",
    "RANKL pool = soluble sRANKL trimers (ELISA mass / (3 x monomer mass)); RANKL3 a second soluble pool with the same site affinities",
    "OPG = one binder per dimer with the apparent Kd of full-length dimeric OPG (avidity folded in)",
    "denosumab bivalent, cited Kd per arm, may bridge two trimers (complexes of at most two trimers enumerated)",
    "TRAIL and the heparan-sulfate sink bind free OPG 1:1; OPG.TRAIL and OPG.sink cannot bind RANKL (the sink models trapping and internalisation by myeloma cells)",
    "membrane RANK, LGR4 and the sink given as effective 3D concentrations",
    "signalling = concentration of RANKL trimers with >= 2 RANK bound (a proxy, not a measured threshold)",
    "denosumab exposure: linear one-compartment PK (target-mediated elimination omitted: late-interval concentrations are upper bounds)",
)
BINDERS = ("RANK", "OPG", "Dmab", "RANKc", "LGR4", "TRAIL", "Sink")


def _affinity(item: Input) -> Affinity:
    return Affinity(item.value, f"{item.id}: {item.label}")


class CitedModel:
    """All species of the cited scenarios in one network (built once)."""

    def __init__(self, values: dict[str, Input], model: EquilibriumModel | None = None):
        self.v = values
        self.rankl_trimer_molar = derived(
            "srankl_trimer_molar",
            "sRANKL trimer, myeloma serum",
            mass_to_molar(values["srankl_mass"], values["mw_rankl"]) / 3.0,
            "M",
            [values["srankl_mass"], values["mw_rankl"]],
            "mass / (monomer g/mol) / 3",
        )
        self.opg_molar = derived(
            "opg_dimer_molar",
            "OPG dimer, myeloma serum",
            mass_to_molar(values["opg_mass"], values["mw_opg"]),
            "M",
            [values["opg_mass"], values["mw_opg"]],
            "mass / (dimer g/mol)",
        )
        self.system = self._system(
            {"RANKL": self.rankl_trimer_molar.value, "RANK": values["rank"].value,
             "OPG": self.opg_molar.value}
        )  # fmt: skip
        # a model is reusable for any Kd's and totals of the same topology (no re-jit)
        self.model = model or EquilibriumModel(self.system)

    def _system(self, totals: dict[str, float]) -> System:
        v = self.v
        t = {name: 0.0 for name in ("RANKL", "RANKL3", *BINDERS)} | totals
        return System(
            (LigandPool("RANKL", t["RANKL"]), LigandPool("RANKL3", t["RANKL3"])),
            (
                Binder("RANK", t["RANK"], _affinity(v["kd_rank"])),
                Binder("OPG", t["OPG"], _affinity(v["kd_opg"])),
                Binder("Dmab", t["Dmab"], _affinity(v["kd_dmab"]), valency=2, bridging=True),
                Binder("RANKc", t["RANKc"], _affinity(v["kd_rank"])),
                Binder("LGR4", t["LGR4"], _affinity(v["kd_lgr4"])),
                Binder("TRAIL", t["TRAIL"], _affinity(v["kd_trail"]), target="OPG"),
                Binder("Sink", t["Sink"], _affinity(v["kd_sink"]), target="OPG"),
            ),
        )

    def baseline_totals(self) -> dict[str, float]:
        return {
            "RANKL": self.rankl_trimer_molar.value,
            "RANK": self.v["rank"].value,
            "OPG": self.opg_molar.value,
        }

    def solve(self, totals: dict[str, float]) -> dict:
        s = self._system(totals)
        eq = self.model.solve(s)
        sites = self.model.site_fractions(eq, s)
        return {
            "signalling_molar": float(eq.signalling_molar[0]),
            "signalling_fraction": float(eq.signalling_fraction[0]),
            "rank_engaged": float(eq.receptor_engaged_fraction[0]),
            "rank_bound": float(eq.receptor_bound_fraction),
            "free_trimer_fraction": float(self.model.free_trimer_fraction(eq, s)[0]),
            "site_fractions": {k: float(x[0]) for k, x in sites.items()},
            "rankl3_signalling_molar": float(eq.signalling_molar[1]),
            "residual": eq.max_relative_residual,
        }

    def sensitivities(self, totals: dict[str, float], output: str = "signalling_molar"):
        """Elasticities d(output)/d ln(input) / output for Kd's and nonzero totals."""
        s = self._system(totals)
        grads = self.model.sensitivities(s, output=output, pool=0)
        value = getattr(self.model.solve(s), {"signalling_molar": "signalling_molar",
                                              "signalling": "signalling_fraction",
                                              "receptor_engaged": "receptor_engaged_fraction"}[output])[0]  # fmt: skip
        present = {n for n, t in zip(s.component_names, s.totals_molar(), strict=True) if t > 0}
        out = {}
        for key, g in grads.items():
            name = key.split(":", 1)[1]
            if key.startswith("d/dlnTotal") and name not in present:
                continue
            if key.startswith("d/dlnKd") and name not in present:
                continue
            out[key] = float(g) / float(value) if value else float("nan")
        return out


def _kinds(values: dict[str, Input], roles: list[str]) -> str:
    kinds = sorted({values[r].kind for r in roles})
    return "placeholder-dependent" if "placeholder" in kinds else "cited"


def myeloma_ratio(cm: CitedModel, ratios: np.ndarray) -> dict:
    """Sweep the reported sRANKL/OPG mass ratio at a fixed OPG level: the cited myeloma
    serum OPG, and a local bone-marrow OPG (placeholder); each without and with the OPG
    sink (and TRAIL)."""
    v = cm.v
    base = cm.baseline_totals()
    opg_levels = {
        "serum OPG (cited)": cm.opg_molar.value,
        "local OPG (placeholder)": v["opg_local"].value,
    }
    variants = {
        "no sink": {},
        "sink": {"Sink": v["sink"].value},
        "sink + TRAIL": {"Sink": v["sink"].value, "TRAIL": v["trail"].value},
    }
    mass_ratio_to_molar = v["mw_opg"].value / (3.0 * v["mw_rankl"].value)
    curves = {}
    for level, opg in opg_levels.items():
        rankl_trimer = ratios * mass_ratio_to_molar * opg
        for label, extra in variants.items():
            rows = [cm.solve(base | extra | {"OPG": opg, "RANKL": float(r)}) for r in rankl_trimer]
            curves[f"{level}, {label}"] = {
                "opg_molar": opg,
                "signalling_molar": [r["signalling_molar"] for r in rows],
                "rank_engaged": [r["rank_engaged"] for r in rows],
                "signalling_fraction": [r["signalling_fraction"] for r in rows],
                "opg_sites": [r["site_fractions"]["OPG"] for r in rows],
            }
    marks = {
        "healthy median (kraj2005)": v["ratio_healthy"].value,
        "myeloma median (xu2010)": v["ratio_myeloma"].value,
    }
    return {
        "ratio": ratios.tolist(),
        "mass_ratio_to_molar": mass_ratio_to_molar,
        "curves": curves,
        "marks": marks,
        "depends_on": _kinds(v, ["kd_rank", "rank", "sink", "kd_sink", "trail", "opg_local"]),
    }


def sink_sweep(cm: CitedModel, sinks: np.ndarray) -> dict:
    """RANK signalling against the capacity of the myeloma OPG sink, at the cited serum
    OPG and at the placeholder local OPG (myeloma sRANKL), without and with TRAIL."""
    v = cm.v
    base = cm.baseline_totals()
    out = {"sink_molar": sinks.tolist(), "curves": {}}
    for level, opg in (("serum OPG (cited)", cm.opg_molar.value),
                       ("local OPG (placeholder)", v["opg_local"].value)):  # fmt: skip
        ref = cm.solve(base | {"OPG": opg})["signalling_molar"]
        for label, extra in (("", {}), (" + TRAIL", {"TRAIL": v["trail"].value})):
            rows = [cm.solve(base | extra | {"OPG": opg, "Sink": float(x)}) for x in sinks]
            out["curves"][level + label] = {
                "signalling_relative": [r["signalling_molar"] / ref for r in rows],
                "opg_sites": [r["site_fractions"]["OPG"] for r in rows],
            }
    return out


def pk_model(v: dict[str, Input]) -> LinearPK:
    return LinearPK(
        v["pk_f"].value,
        v["pk_absorption_half_life"].value,
        v["pk_volume"].value,
        v["pk_clearance"].value * 24.0 / 1000.0,  # mL/h -> L/day
    )


def denosumab(cm: CitedModel, n_points: int = 29) -> dict:
    """Steady-state dosing intervals of both regimens on the myeloma baseline."""
    v = cm.v
    pk = pk_model(v)
    base = cm.baseline_totals()
    ref = cm.solve(base)
    out = {
        "pk": {
            "model": "one-compartment, first-order absorption, linear elimination (Gibiansky 2012 linear part)",
            "elimination_half_life_day": pk.elimination_half_life_day,
            "label_half_life_day": v["pk_half_life_label"].value,
            "tmax_single_day": pk.tmax_single_day(),
            "label_tmax_day": v["pk_tmax_label"].value,
        },
        "no_drug_signalling_molar": ref["signalling_molar"],
        "regimens": {},
    }
    for label, role, interval in REGIMENS:
        t, c = pk.steady_state_interval(v[role].value, interval, n_points)
        dmab = c * 1e-3 / v["mw_dmab"].value
        rows = [cm.solve(base | {"Dmab": float(x)}) for x in dmab]
        out["regimens"][label] = {
            "dose_mg": v[role].value,
            "interval_day": interval,
            "t_day": t.tolist(),
            "serum_ug_per_ml": c.tolist(),
            "dmab_molar": dmab.tolist(),
            "free_trimer_fraction": [r["free_trimer_fraction"] for r in rows],
            "dmab_sites": [r["site_fractions"]["Dmab"] for r in rows],
            "signalling_relative": [r["signalling_molar"] / ref["signalling_molar"] for r in rows],
            "trough_ug_per_ml": float(c[-1]),
            "peak_ug_per_ml": float(c.max()),
        }
    out["pk"]["trough_120_q4w_model_ug_ml"] = out["regimens"][REGIMENS[0][0]]["trough_ug_per_ml"]
    out["pk"]["trough_120_q4w_label_ug_ml"] = v["pk_trough_label"].value
    return out


def decoys(cm: CitedModel, doses: np.ndarray) -> dict:
    """RANKL3 trimers, RANK-c and LGR4 swept one at a time on the myeloma baseline."""
    base = cm.baseline_totals()
    ref = cm.solve(base)
    out = {"dose_molar": doses.tolist(), "no_decoy_signalling_molar": ref["signalling_molar"]}
    for name, key in (("RANKL3", "RANKL3"), ("RANK-c", "RANKc"), ("LGR4", "LGR4")):
        rows = [cm.solve(base | {key: float(d)}) for d in doses]
        out[name] = {
            "membrane_signalling_relative": [
                r["signalling_molar"] / ref["signalling_molar"] for r in rows
            ],
            "rankl3_signalling_molar": [r["rankl3_signalling_molar"] for r in rows],
            "rank_engaged": [r["rank_engaged"] for r in rows],
        }
    v = cm.v
    out["at_placeholder"] = {
        "RANKL3": cm.solve(base | {"RANKL3": v["rankl3"].value}),
        "RANK-c": cm.solve(base | {"RANKc": v["rank_c"].value}),
        "LGR4": cm.solve(base | {"LGR4": v["lgr4"].value}),
    }
    return out


def conclusions(cm: CitedModel) -> list[dict]:
    """The signalling left in each seed scenario, with its autodiff sensitivities."""
    v = cm.v
    base = cm.baseline_totals()
    pk = pk_model(v)
    cases = [
        ("myeloma serum baseline (cited sRANKL, OPG)", base),
        ("myeloma + OPG sink", base | {"Sink": v["sink"].value}),
        ("myeloma + OPG sink + TRAIL", base | {"Sink": v["sink"].value, "TRAIL": v["trail"].value}),
        ("myeloma sRANKL, local OPG", base | {"OPG": v["opg_local"].value}),
        (
            "myeloma sRANKL, local OPG + sink",
            base | {"OPG": v["opg_local"].value, "Sink": v["sink"].value},
        ),
        ("myeloma + LGR4", base | {"LGR4": v["lgr4"].value}),
        ("myeloma + RANK-c", base | {"RANKc": v["rank_c"].value}),
        ("myeloma + RANKL3", base | {"RANKL3": v["rankl3"].value}),
    ]
    for label, role, interval in REGIMENS:
        _, c = pk.steady_state_interval(v[role].value, interval, 2)
        cases.append(
            (
                f"denosumab {label}, trough",
                base | {"Dmab": float(c[-1]) * 1e-3 / v["mw_dmab"].value},
            )
        )
    ref = cm.solve(base)["signalling_molar"]
    rows = []
    for label, totals in cases:
        r = cm.solve(totals)
        rows.append(
            {
                "scenario": label,
                "totals_molar": totals,
                "signalling_molar": r["signalling_molar"],
                "signalling_relative": r["signalling_molar"] / ref,
                "rank_engaged": r["rank_engaged"],
                "free_trimer_fraction": r["free_trimer_fraction"],
                "site_fractions": r["site_fractions"],
                "elasticities": cm.sensitivities(totals),
            }
        )
    return rows


def computed_comparison(cm: CitedModel, computed: dict[str, dict]) -> list[dict]:
    """Baseline signalling with this project's computed Kd's in place of the cited or
    placeholder ones. ``computed``: {"RANK"|"OPG"|"Dmab": {"dg_kcal", "source"}}."""
    rows = []
    role_of = {"RANK": "kd_rank", "OPG": "kd_opg", "Dmab": "kd_dmab"}
    base = cm.baseline_totals()
    ref = cm.solve(base)["signalling_molar"]
    for name, data in computed.items():
        if name not in role_of:
            continue
        kd = Affinity.from_dg(data["dg_kcal"], data["source"]).kd_molar
        alt = CitedModel(
            cm.v | {role_of[name]: Input(role_of[name], f"Kd {name}", kd, "M", "computed",
                                         source=data["source"])},
            cm.model,
        )  # fmt: skip
        r = alt.solve(base)
        cited = cm.v[role_of[name]]
        rows.append(
            {
                "binder": name,
                "cited_kd_molar": cited.value,
                "cited_label": cited.label,
                "computed_kd_molar": kd,
                "computed_dg_kcal": data["dg_kcal"],
                "computed_source": data["source"],
                "signalling_relative_to_cited": r["signalling_molar"] / ref,
            }
        )
    return rows


def run_cited(
    inputs_path=None,
    roles: dict | None = None,
    computed: dict[str, dict] | None = None,
    out_dir: str | Path | None = None,
    plots: bool = True,
    n_ratio: int = 25,
    n_time: int = 29,
) -> dict:
    """Run every cited scenario; write ``cited_competition.json`` (+ PNGs) to ``out_dir``."""
    inputs = load_inputs(inputs_path)
    values = resolve(ROLES | (roles or {}), inputs, "cited scenarios")
    cm = CitedModel(values)
    ratio = myeloma_ratio(cm, np.logspace(-2, 2, n_ratio))
    sink = sink_sweep(cm, np.logspace(-11, -6, max(3, n_ratio // 2)))
    dmab = denosumab(cm, n_time)
    dec = decoys(cm, np.logspace(-12, -7, 21))
    result = {
        "question": "how much RANKL reaches RANK (signalling trimers) in the seed scenarios",
        "assumptions": list(ASSUMPTIONS),
        "inputs": [
            {
                "role": role,
                "id": item.id,
                "quantity": item.quantity,
                "value": item.value,
                "unit": item.unit,
                "kind": item.kind,
                "label": item.label,
                "provenance": item.provenance,
                "note": item.note,
            }
            for role, item in values.items()
        ]
        + [
            {
                "role": d.id,
                "id": d.id,
                "quantity": d.quantity,
                "value": d.value,
                "unit": d.unit,
                "kind": d.kind,
                "label": d.label,
                "provenance": d.basis,
                "note": "",
            }
            for d in (cm.rankl_trimer_molar, cm.opg_molar)
        ],  # fmt: skip
        "species": len(cm.model.network.labels),
        "conclusions": conclusions(cm),
        "myeloma_ratio": ratio,
        "sink_sweep": sink,
        "denosumab": dmab,
        "decoys": dec,
        "computed_vs_cited": computed_comparison(cm, computed or {}),
    }
    if out_dir is not None:
        from rankbind.fileio import write_json

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if plots:
            result["figures"] = _plots(result, out)
        write_json(out / "cited_competition.json", _finite(result))
    return result


def _finite(value):
    if isinstance(value, dict):
        return {k: _finite(x) for k, x in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(x) for x in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _finite(value.item())
    return value


def _plots(result: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rankbind.fileio import atomic_open

    def save(fig, name):
        with atomic_open(out / name, "wb") as handle:
            fig.savefig(handle, format="png", dpi=110)
        plt.close(fig)
        return name

    names = []
    r = result["myeloma_ratio"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    styles = {"no sink": "-", "sink": "--", "sink + TRAIL": ":"}
    colours = {"serum OPG (cited)": "tab:blue", "local OPG (placeholder)": "tab:red"}
    for label, c in r["curves"].items():
        level, variant = label.split(", ", 1)
        kw = {"color": colours[level], "ls": styles[variant], "label": label, "lw": 1.5}
        axes[0].plot(r["ratio"], np.array(c["signalling_molar"]) * 1e12, **kw)
        axes[1].plot(r["ratio"], c["rank_engaged"], **kw)
    axes[0].set_yscale("log")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("sRANKL/OPG ratio (reported mass ratio, OPG fixed)")
        for name, x in r["marks"].items():
            ax.axvline(x, color="grey", ls=":", lw=1)
            ax.text(x, 0.02, name, rotation=90, fontsize=7, va="bottom",
                    transform=ax.get_xaxis_transform())  # fmt: skip
    axes[0].set_ylabel("signalling trimers (>= 2 RANK bound), pM")
    axes[1].set_ylabel("fraction of RANK bound to RANKL")
    axes[1].legend(fontsize=7, loc="center right")
    fig.suptitle(
        "Myeloma sRANKL/OPG ratio: signalling and RANK occupancy (RANK inputs placeholder)"
    )
    fig.tight_layout()
    names.append(save(fig, "cited_myeloma_ratio.png"))

    d = result["denosumab"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for label, reg in d["regimens"].items():
        frac_t = np.array(reg["t_day"]) / reg["interval_day"]
        axes[0].plot(reg["t_day"], reg["serum_ug_per_ml"], label=label)
        axes[1].plot(frac_t, reg["free_trimer_fraction"], label=label)
        axes[2].plot(frac_t, reg["signalling_relative"], label=label)
    axes[0].axhline(d["pk"]["trough_120_q4w_label_ug_ml"], color="grey", ls=":", lw=1)
    axes[0].text(1, d["pk"]["trough_120_q4w_label_ug_ml"], "label trough 120 mg q4w", fontsize=7)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("days after a steady-state dose")
    axes[0].set_ylabel("serum denosumab, ug/mL (linear PK)")
    for ax in axes[1:]:
        ax.set_xlabel("fraction of the dosing interval")
        ax.set_yscale("log")
    axes[1].set_ylabel("free RANKL trimer fraction")
    axes[2].set_ylabel("RANK signalling / no drug")
    axes[0].legend(fontsize=7)
    fig.suptitle("Denosumab at the trial regimens (Renema 2016 Table 2), myeloma baseline")
    fig.tight_layout()
    names.append(save(fig, "cited_denosumab_interval.png"))

    sk = result["sink_sweep"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for label, c in sk["curves"].items():
        ls = "--" if "TRAIL" in label else "-"
        colour = "tab:red" if "local" in label else "tab:blue"
        axes[0].plot(sk["sink_molar"], c["signalling_relative"], ls=ls, color=colour, label=label)
        axes[1].plot(sk["sink_molar"], c["opg_sites"], ls=ls, color=colour, label=label)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("OPG sink capacity (M, placeholder scale)")
    axes[0].set_ylabel("RANK signalling / without sink")
    axes[1].set_ylabel("fraction of sRANKL sites held by OPG")
    axes[1].legend(fontsize=7)
    fig.suptitle("Myeloma OPG sink (heparan sulfate): how trapping OPG shifts RANK signalling")
    fig.tight_layout()
    names.append(save(fig, "cited_sink.png"))

    dec = result["decoys"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name in ("RANKL3", "RANK-c", "LGR4"):
        ax.plot(dec["dose_molar"], dec[name]["membrane_signalling_relative"], label=name)
    ax.set_xscale("log")
    ax.set_xlabel("decoy / second receptor total (M)")
    ax.set_ylabel("sRANKL signalling / without it")
    ax.legend(fontsize=8)
    ax.set_title("Isoform and LGR4 effects on RANK signalling (placeholder Kd's)")
    fig.tight_layout()
    names.append(save(fig, "cited_decoys.png"))
    return names


def cited_competition_task(ctx) -> dict:
    """Protocol task kind ``cited_competition``: the cited seed scenarios, with this run's
    computed affinities (the upstream contacts tasks' named ``summary.<label>`` outputs,
    read through :func:`rankbind.protocols.tasks.upstream_outputs`) side by side.

    params: ``inputs`` (optional inputs file), ``plots`` (default true). Uses only
    ``ctx.directory``, ``ctx.params`` and ``ctx.inputs``."""
    import json

    from rankbind.protocols.tasks import upstream_outputs  # named outputs, no folder scans

    computed = {}
    used = []
    for _, _, path in upstream_outputs(ctx, "summary."):
        data = json.loads(path.read_text())
        stats = data.get("prodigy")
        if not stats or "binder" not in data:
            continue
        molecule = data["binder"].split("/")[0]
        computed[molecule] = {
            "dg_kcal": stats["dg_kcal_per_mol_mean"],
            "source": f"PRODIGY on {data.get('input', '?')} (computed by this run)",
        }
        used.append(path)
    result = run_cited(
        ctx.params.get("inputs"),
        computed=computed,
        out_dir=ctx.directory,
        plots=bool(ctx.params.get("plots", True)),
    )
    out = Path(ctx.directory) / "cited_competition.json"
    run_dir = Path(getattr(ctx, "run_dir", ctx.directory)).resolve()

    def rel(path: Path) -> str:
        path = Path(path).resolve()
        return path.relative_to(run_dir).as_posix() if path.is_relative_to(run_dir) else str(path)

    return {
        "outputs": {"results": rel(out)},
        "inputs": [rel(p) for p in used],
        "conclusions": len(result["conclusions"]),
        "computed": sorted(computed),
    }
