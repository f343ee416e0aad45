"""RANKL-axis competitive binding: inputs with provenance, builders, outputs, IC50.

Units: concentrations in mol/L (M) at the interface; the solver works in nM.
Every dissociation constant is an intrinsic per-site (monovalent) or per-arm
(bivalent) constant carried with its source in an :class:`Affinity`.

Modelling choices (documented defaults, recorded in every :class:`Equilibrium`):

* RANKL is a trimer with three equivalent sites, independent by default; optional
  pairwise cooperativity omega for a monovalent binder (e.g. RANK): each pair of its
  molecules on one trimer multiplies the weight by omega (user-given, with source).
  Any other soluble trimer pool (e.g. RANKL3) has the same site affinities:
  RANKL3 is modelled as a separate pool of soluble trimers that competes for the
  binders; mixed membrane/soluble trimers are not modelled.
* Membrane RANK enters as an effective 3D concentration (default input), or from a
  surface density with :func:`concentration_from_surface_density`.
* Bivalent binders (denosumab IgG, OPG dimer) bind one site with either arm; the
  second arm either closes on another site of the same trimer with a user-given
  effective concentration ``c_eff_intra`` (loops are off when it is not given), or
  bridges a second trimer (``bridging``), truncated at two trimers per complex
  (see :mod:`rankbind.competition.network`).
* Signalling-competent proxy: a trimer with at least two RANK bound (two receptors
  brought together by one ligand trimer). This is a modelling proxy, not a measured
  threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property

import jax
import jax.numpy as jnp
import numpy as np

import rankbind.jaxconfig  # noqa: F401
from rankbind.competition.network import BinderSpec, Network, PoolSpec, build_network
from rankbind.competition.solver import relative_residual, solve_log_free
from rankbind.errors import RankbindError

R_KCAL = 8.314462618 / 4184.0  # gas constant, kcal/(mol K) (CODATA 2018 R; 4184 J/kcal)
AVOGADRO = 6.02214076e23  # 1/mol (SI exact)
UNIT_M = 1e-9  # solver concentration unit: nM
ZERO_TOTAL_M = 1e-24  # a zero total is replaced by this (log-space solver needs > 0)
# Per-pool outputs: fraction of the pool's sites held by the receptor; fraction of the
# pool's trimers with >= signalling_min_receptors receptors; fraction of all receptor
# molecules bound to the pool; concentration (M) of the pool's signalling trimers.
OUTPUTS = ("receptor_sites", "signalling", "receptor_engaged", "signalling_molar")


class CompetitionError(RankbindError):
    """Invalid competitive-binding input (named field) or an unreachable IC50."""


@dataclass(frozen=True)
class Affinity:
    """Dissociation constant (M, 1 M standard state) with its provenance.

    ``uncertainty_kcal``: 1-sigma uncertainty of the corresponding ΔG (kcal/mol).
    """

    kd_molar: float
    source: str
    uncertainty_kcal: float | None = None
    temperature_k: float = 298.15

    def __post_init__(self):
        if not (math.isfinite(self.kd_molar) and self.kd_molar > 0):
            raise CompetitionError(f"Affinity.kd_molar must be > 0, got {self.kd_molar!r}")
        if not self.source.strip():
            raise CompetitionError("Affinity.source must name where the value came from")
        if self.uncertainty_kcal is not None and self.uncertainty_kcal < 0:
            raise CompetitionError(
                f"Affinity.uncertainty_kcal must be >= 0: {self.uncertainty_kcal}"
            )

    @classmethod
    def from_dg(
        cls,
        dg_kcal: float,
        source: str,
        uncertainty_kcal: float | None = None,
        temperature_k: float = 298.15,
    ) -> Affinity:
        """From a binding free energy ΔG (kcal/mol, 1 M standard state):
        Kd = exp(ΔG / RT)."""
        return cls(
            math.exp(dg_kcal / (R_KCAL * temperature_k)), source, uncertainty_kcal, temperature_k
        )

    @property
    def dg_kcal(self) -> float:
        """ΔG = RT ln Kd (kcal/mol)."""
        return R_KCAL * self.temperature_k * math.log(self.kd_molar)

    def kd_interval(self) -> tuple[float, float]:
        """Kd at ΔG -/+ 1 sigma (M); (kd, kd) when no uncertainty is known."""
        s = self.uncertainty_kcal or 0.0
        rt = R_KCAL * self.temperature_k
        return self.kd_molar * math.exp(-s / rt), self.kd_molar * math.exp(s / rt)


def concentration_from_surface_density(
    density_per_um2: float, confinement_length_nm: float
) -> float:
    """Effective 3D concentration (M) of a membrane protein at surface density
    σ (molecules/µm²) confined to a layer of thickness h (nm): c = σ / (N_A h).
    h has no default: it must be given (and cited) by the user."""
    if density_per_um2 < 0 or confinement_length_nm <= 0:
        raise CompetitionError(
            "surface density must be >= 0 and confinement length > 0, got "
            f"{density_per_um2} per um^2, {confinement_length_nm} nm"
        )
    per_m2 = density_per_um2 * 1e12
    per_m3 = per_m2 / (confinement_length_nm * 1e-9)
    return per_m3 / AVOGADRO / 1e3  # mol/m^3 -> mol/L


@dataclass(frozen=True)
class Binder:
    """A RANKL binder. ``affinity`` is per site (valency 1) or per arm (valency 2).
    ``c_eff_intra_molar``: effective concentration for the second arm on the same
    trimer (None: no intramolecular loops). ``bridging``: a bivalent binder may join
    two trimers. ``target``: the name of another binder this one binds instead of
    RANKL (a partner: TRAIL or a heparan-sulfate sink for OPG), 1:1, exclusive of the
    target's RANKL binding; ``affinity`` is then the partner-target Kd."""

    name: str
    total_molar: float
    affinity: Affinity
    valency: int = 1
    c_eff_intra_molar: float | None = None
    c_eff_source: str = ""
    bridging: bool = False
    cooperativity: float | None = None
    cooperativity_source: str = ""
    target: str | None = None

    def __post_init__(self):
        if self.target is not None and (
            self.valency != 1 or self.bridging or self.c_eff_intra_molar is not None
        ):
            raise CompetitionError(f"partner {self.name}: binds its target 1:1 (valency 1)")
        if self.valency not in (1, 2):
            raise CompetitionError(f"binder {self.name}: valency must be 1 or 2")
        if self.cooperativity is not None:
            if self.valency != 1 or not self.cooperativity > 0:
                raise CompetitionError(
                    f"binder {self.name}: cooperativity must be > 0 and needs valency 1"
                )
            if not self.cooperativity_source.strip():
                raise CompetitionError(
                    f"binder {self.name}: cooperativity_source must say where omega came from"
                )
        if not (math.isfinite(self.total_molar) and self.total_molar >= 0):
            raise CompetitionError(f"binder {self.name}: total_molar must be >= 0")
        if self.valency == 1 and (self.c_eff_intra_molar is not None or self.bridging):
            raise CompetitionError(f"binder {self.name}: loops/bridging need valency 2")
        if self.c_eff_intra_molar is not None:
            if not self.c_eff_intra_molar > 0:
                raise CompetitionError(f"binder {self.name}: c_eff_intra_molar must be > 0")
            if not self.c_eff_source.strip():
                raise CompetitionError(
                    f"binder {self.name}: c_eff_source must say where c_eff_intra came from"
                )


@dataclass(frozen=True)
class LigandPool:
    """A pool of ligand trimers, total given as trimers (M)."""

    name: str
    total_trimer_molar: float
    sites: int = 3

    def __post_init__(self):
        if not (math.isfinite(self.total_trimer_molar) and self.total_trimer_molar >= 0):
            raise CompetitionError(f"pool {self.name}: total_trimer_molar must be >= 0")
        if self.sites < 1:
            raise CompetitionError(f"pool {self.name}: sites must be >= 1")


@dataclass(frozen=True)
class System:
    """Ligand pools and binders; ``receptor`` names the signalling binder (RANK)."""

    pools: tuple[LigandPool, ...]
    binders: tuple[Binder, ...]
    receptor: str = "RANK"
    signalling_min_receptors: int = 2

    def __post_init__(self):
        names = [p.name for p in self.pools] + [b.name for b in self.binders]
        if len(set(names)) != len(names):
            raise CompetitionError(f"pool and binder names must be unique: {names}")
        if not self.pools:
            raise CompetitionError("a system needs at least one ligand pool")
        receptor = [b for b in self.binders if b.name == self.receptor]
        if not receptor:
            raise CompetitionError(f"receptor {self.receptor!r} is not among the binders")
        if receptor[0].valency != 1:
            raise CompetitionError(f"receptor {self.receptor!r} must be monovalent")
        if receptor[0].target is not None:
            raise CompetitionError(f"receptor {self.receptor!r} must bind RANKL, not a binder")
        trimer_binders = {b.name for b in self.binders if b.target is None}
        for b in self.binders:
            if b.target is not None and b.target not in trimer_binders:
                raise CompetitionError(
                    f"partner {b.name}: target {b.target!r} is not a RANKL binder "
                    f"(have {sorted(trimer_binders)})"
                )

    def with_total(self, name: str, total_molar: float) -> System:
        """Copy with one pool or binder total replaced."""
        pools = tuple(
            replace(p, total_trimer_molar=total_molar) if p.name == name else p for p in self.pools
        )
        binders = tuple(
            replace(b, total_molar=total_molar) if b.name == name else b for b in self.binders
        )
        if pools == self.pools and binders == self.binders and name not in self.component_names:
            raise CompetitionError(f"no pool or binder named {name!r}")
        return replace(self, pools=pools, binders=binders)

    @property
    def component_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pools) + tuple(b.name for b in self.binders)

    def totals_molar(self) -> np.ndarray:
        """(C,) totals in component order (pools as trimers, then binders)."""
        return np.array(
            [p.total_trimer_molar for p in self.pools] + [b.total_molar for b in self.binders]
        )

    def log_kd_molar(self) -> np.ndarray:
        """(B,) ln Kd (M) per binder."""
        return np.log([b.affinity.kd_molar for b in self.binders])

    def log_aux(self) -> np.ndarray:
        """ln c_eff_intra (M) per binder that can loop, then ln omega per cooperative
        binder (binder order)."""
        ceff = [b.c_eff_intra_molar for b in self.binders if b.c_eff_intra_molar]
        omega = [b.cooperativity for b in self.binders if b.cooperativity is not None]
        return np.log(np.array(ceff + omega, dtype=float))

    def topology(self) -> tuple[tuple[PoolSpec, ...], tuple[BinderSpec, ...]]:
        return (
            tuple(PoolSpec(p.name, p.sites) for p in self.pools),
            tuple(
                BinderSpec(
                    b.name,
                    b.valency,
                    b.c_eff_intra_molar is not None,
                    b.bridging,
                    b.cooperativity is not None,
                    None if b.target is None else [x.name for x in self.binders].index(b.target),
                )
                for b in self.binders
            ),
        )


@dataclass(frozen=True)
class Equilibrium:
    """Solved state. Per-pool arrays have shape (P,), in ``pool_names`` order.

    ``receptor_site_fraction``: fraction of the pool's sites held by the receptor.
    ``signalling_fraction``: fraction of the pool's trimers with at least
    ``signalling_min_receptors`` receptors bound. ``receptor_engaged_fraction``: fraction
    of all receptor molecules bound to the pool. ``signalling_molar``: concentration (M)
    of the pool's signalling trimers. ``receptor_bound_fraction``: fraction of the
    receptor bound to any pool. ``bridged_trimer_fraction``: trimers in two-trimer
    complexes; when it is not small, larger (not enumerated) clusters may matter.
    ``free_molar``: free concentration of every component. ``species_molar`` (S,):
    every species, in ``EquilibriumModel.network.labels`` order.
    ``max_relative_residual``: worst conservation error.
    """

    pool_names: tuple[str, ...]
    receptor_site_fraction: np.ndarray
    signalling_fraction: np.ndarray
    receptor_engaged_fraction: np.ndarray
    signalling_molar: np.ndarray
    receptor_bound_fraction: float
    free_molar: dict[str, float]
    species_molar: np.ndarray
    max_relative_residual: float
    bridged_trimer_fraction: np.ndarray
    assumptions: dict[str, str] = field(default_factory=dict)


class EquilibriumModel:
    """A system's network, built once; totals and Kd's can then vary freely.

    ``outputs(log_kd, log_aux, totals_molar)`` is a pure JAX function (jit-able,
    differentiable) returning a tuple of (P,) arrays in :data:`OUTPUTS` order.
    """

    def __init__(self, system: System):
        self.system = system
        pools, binders = system.topology()
        self.network: Network = build_network(pools, binders)
        net = self.network
        P = len(pools)
        r = system.component_names.index(system.receptor) - P
        self._receptor = r
        self._stoich = jnp.asarray(net.stoich, dtype=jnp.float64)
        self._log_mult = jnp.asarray(net.log_mult)
        self._params = jnp.asarray(net.params_count, dtype=jnp.float64)
        self._sites = jnp.asarray(net.site_count[:, :, r])  # (S, P)
        self._signalling = jnp.asarray(
            np.stack(
                [net.count_on_trimer(r, system.signalling_min_receptors, p) for p in range(P)],
                axis=1,
            )
        )  # (S, P)
        self._pool_sites = jnp.asarray([p.sites for p in pools], dtype=jnp.float64)
        self._n_loops = sum(1 for b in binders if b.valency == 2 and b.loops)
        self._dose_cache: dict = {}

    def log_beta(self, log_kd, log_aux):
        """(S,) ln formation constants in nM units from ln Kd (M) and ``log_aux``:
        ln c_eff (M) per looping binder, then ln omega per cooperative binder."""
        log_k = -(log_kd - math.log(UNIT_M))  # ln(1/Kd) in 1/nM
        shift = jnp.where(jnp.arange(log_aux.shape[0]) < self._n_loops, math.log(UNIT_M), 0.0)
        return self._log_mult + self._params @ jnp.concatenate([log_k, log_aux - shift])

    def _solve_nm(self, log_kd, log_aux, totals_molar):
        totals = jnp.maximum(totals_molar, ZERO_TOTAL_M) / UNIT_M
        log_beta = self.log_beta(log_kd, log_aux)
        u = solve_log_free(self._stoich, log_beta, totals)
        return u, log_beta, totals

    def _state(self, log_kd, log_aux, totals_molar):
        u, log_beta, totals = self._solve_nm(log_kd, log_aux, totals_molar)
        c = jnp.exp(log_beta + self._stoich @ u)
        P = len(self.system.pools)
        pool_totals = totals[:P]
        site_fraction = (c @ self._sites) / (self._pool_sites * pool_totals)
        signalling = (c @ self._signalling) / pool_totals
        engaged = (c @ self._sites) / totals[P + self._receptor]
        signalling_molar = (c @ self._signalling) * UNIT_M
        residual = jnp.max(jnp.abs(relative_residual(u, self._stoich, log_beta, totals)))
        return (site_fraction, signalling, engaged, signalling_molar), u, c, residual

    def outputs(self, log_kd, log_aux, totals_molar):
        """Tuple of (P,) arrays in :data:`OUTPUTS` order; pure JAX."""
        return self._state(log_kd, log_aux, totals_molar)[0]

    def default_inputs(self, system: System | None = None):
        s = system or self.system
        if (s.topology(), s.receptor, s.signalling_min_receptors) != (
            self.system.topology(),
            self.system.receptor,
            self.system.signalling_min_receptors,
        ):
            raise CompetitionError(
                "system differs in pools, binders, valencies, loops, bridging, "
                "cooperativity or receptor from the one this model was built for"
            )
        return (
            jnp.asarray(s.log_kd_molar()),
            jnp.asarray(s.log_aux()),
            jnp.asarray(s.totals_molar()),
        )

    def solve(self, system: System | None = None) -> Equilibrium:
        """Solve ``system`` (default: the one the model was built for; same topology)."""
        s = system or self.system
        log_kd, log_aux, totals = self.default_inputs(s)
        (site_fraction, signalling, engaged, sig_molar), u, c, residual = self._state_jit(
            log_kd, log_aux, totals
        )
        residual = float(residual)
        if not residual < 1e-10:
            raise CompetitionError(f"equilibrium solve did not converge (residual {residual:.2e})")
        c = np.asarray(c) * UNIT_M
        receptor_total = s.binders[self._receptor].total_molar
        free = dict(zip(s.component_names, np.exp(np.asarray(u)) * UNIT_M, strict=True))
        bound = max(receptor_total - free[s.receptor], 0.0)
        # a pool with zero total has no sites: its fractions are undefined (NaN), not the
        # occupancy a vanishing trace of trimers would have
        absent = np.array([p.total_trimer_molar <= 0 for p in s.pools])
        site_fraction = np.where(absent, np.nan, np.asarray(site_fraction))
        signalling = np.where(absent, np.nan, np.asarray(signalling))
        return Equilibrium(
            pool_names=tuple(p.name for p in s.pools),
            receptor_site_fraction=site_fraction,
            signalling_fraction=signalling,
            receptor_engaged_fraction=np.asarray(engaged),
            signalling_molar=np.asarray(sig_molar),
            receptor_bound_fraction=bound / receptor_total if receptor_total > 0 else 0.0,
            free_molar={k: float(v) for k, v in free.items()},
            species_molar=c,
            bridged_trimer_fraction=self._bridged_fraction(c, s),
            max_relative_residual=residual,
            assumptions=describe_assumptions(s),
        )

    def site_fractions(self, eq: Equilibrium, system: System | None = None) -> dict:
        """{binder name: (P,) fraction of each pool's sites it holds} at ``eq``, and
        "free": the sites nobody holds (NaN for an absent pool)."""
        s = system or self.system
        totals = np.array([p.total_trimer_molar * p.sites for p in s.pools])
        held = np.einsum("s,spb->pb", eq.species_molar, self.network.site_count)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(totals[:, None] > 0, held / totals[:, None], np.nan)
        out = {b.name: frac[:, i] for i, b in enumerate(s.binders) if b.target is None}
        out["free"] = 1.0 - np.nansum(frac, axis=1) + np.where(totals > 0, 0.0, np.nan)
        return out

    def free_trimer_fraction(self, eq: Equilibrium, system: System | None = None):
        """(P,) fraction of each pool's trimers with no binder at all (NaN if absent)."""
        s = system or self.system
        totals = np.array([p.total_trimer_molar for p in s.pools])
        free = np.array([eq.free_molar[p.name] for p in s.pools])
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, free / totals, np.nan)

    def _bridged_fraction(self, species_molar: np.ndarray, system: System) -> np.ndarray:
        """(P,) fraction of each pool's trimers held in two-trimer (bridged) complexes."""
        out = np.zeros(len(system.pools))
        for conc, trimers in zip(species_molar, self.network.trimer_states, strict=True):
            if len(trimers) == 2:
                for p, _ in trimers:
                    out[p] += conc
        totals = np.array([p.total_trimer_molar for p in system.pools])
        return np.divide(out, totals, out=np.zeros_like(out), where=totals > 0)

    @cached_property
    def _state_jit(self):
        return jax.jit(self._state)

    @cached_property
    def _batched(self):
        return jax.jit(jax.vmap(self.outputs, in_axes=(None, None, 0)))

    def scan(self, totals_molar: np.ndarray, system: System | None = None):
        """Outputs over a batch of totals (N, C) (M): {output name: (N, P) array}."""
        log_kd, log_aux, _ = self.default_inputs(system)
        values = self._batched(log_kd, log_aux, jnp.asarray(totals_molar))
        return {name: np.asarray(v) for name, v in zip(OUTPUTS, values, strict=True)}

    def dose_value_and_slope(self, index: int, pool: int):
        """Jitted (log_kd, log_aux, totals, onehot, ln dose) -> (output, d output/d ln dose)
        with the component selected by ``onehot`` set to exp(ln dose)."""
        key = (index, pool)
        if key not in self._dose_cache:

            def g(log_kd, log_aux, totals, onehot, x):
                t = totals * (1 - onehot) + onehot * jnp.exp(x)
                return self.outputs(log_kd, log_aux, t)[index][pool]

            self._dose_cache[key] = jax.jit(jax.value_and_grad(g, argnums=4))
        return self._dose_cache[key]

    def _sensitivity_fn(self, index: int, pool: int):
        key = ("sensitivity", index, pool)
        if key not in self._dose_cache:

            def f(lkd, log_aux, lt):
                return self.outputs(lkd, log_aux, jnp.exp(lt))[index][pool]

            self._dose_cache[key] = jax.jit(jax.grad(f, argnums=(0, 2)))
        return self._dose_cache[key]

    def sensitivities(
        self, system: System | None = None, output: str = "signalling", pool: int = 0
    ):
        """Autodiff (implicit function theorem) sensitivities of one output:
        {"d/dlnKd:<binder>": ..., "d/dlnTotal:<component>": ...}."""
        log_kd, log_aux, totals = self.default_inputs(system)
        grad = self._sensitivity_fn(_output_index(output), pool)
        g_kd, g_t = grad(log_kd, log_aux, jnp.log(jnp.maximum(totals, ZERO_TOTAL_M)))
        s = system or self.system
        out = {f"d/dlnKd:{b.name}": float(v) for b, v in zip(s.binders, g_kd, strict=True)}
        out |= {f"d/dlnTotal:{n}": float(v) for n, v in zip(s.component_names, g_t, strict=True)}
        return out

    def propagated_uncertainty(
        self, system: System | None = None, output: str = "signalling", pool: int = 0
    ) -> float:
        """1-sigma uncertainty of one output from the Affinity ΔG uncertainties, by
        linear propagation with the autodiff sensitivities, Kd errors independent:
        sigma = sqrt(sum_i (d out / d ln Kd_i * sigma_dG_i / RT_i) ** 2)."""
        s = system or self.system
        grads = self.sensitivities(s, output, pool)
        total = 0.0
        for b in s.binders:
            sigma = b.affinity.uncertainty_kcal or 0.0
            rt = R_KCAL * b.affinity.temperature_k
            total += (grads[f"d/dlnKd:{b.name}"] * sigma / rt) ** 2
        return math.sqrt(total)


def _output_index(output: str) -> int:
    if output not in OUTPUTS:
        raise CompetitionError(f"output must be one of {OUTPUTS}, got {output!r}")
    return OUTPUTS.index(output)


def describe_assumptions(system: System) -> dict[str, str]:
    """The physics choices of a system, as text, for recording with results."""
    notes = {
        "sites": "equivalent sites per trimer; independent unless a cooperativity is listed",
        "signalling_proxy": f"trimer with >= {system.signalling_min_receptors} "
        f"{system.receptor} bound",
        "standard_state": "1 M; Kd = exp(dG/RT)",
    }
    for b in system.binders:
        notes[f"Kd:{b.name}"] = f"{b.affinity.kd_molar:.4g} M ({b.affinity.source})"
        if b.target is not None:
            notes[f"partner:{b.name}"] = (
                f"binds free {b.target} 1:1; the {b.target}.{b.name} complex cannot bind RANKL"
            )
        if b.valency == 2:
            loop = (
                f"c_eff_intra {b.c_eff_intra_molar:.4g} M ({b.c_eff_source})"
                if b.c_eff_intra_molar
                else "no same-trimer loops"
            )
            bridge = "bridges two trimers (max 2 trimers/complex)" if b.bridging else "no bridges"
            notes[f"valency:{b.name}"] = f"bivalent, per-arm Kd; {loop}; {bridge}"
        if b.cooperativity is not None:
            notes[f"cooperativity:{b.name}"] = (
                f"pairwise factor {b.cooperativity:.4g} per pair on one trimer "
                f"({b.cooperativity_source})"
            )
    return notes


def ic50(
    model: EquilibriumModel,
    inhibitor: str,
    system: System | None = None,
    output: str = "signalling",
    pool: int = 0,
    lo_molar: float = 1e-15,
    hi_molar: float = 1e-3,
    rtol: float = 1e-12,
) -> float:
    """Total inhibitor concentration (M) that halves ``output`` of ``pool`` relative to
    zero inhibitor. Safeguarded Newton on ln(dose) (autodiff slope, bisection
    fallback) inside a bracket that must contain the crossing."""
    s = system or model.system
    names = s.component_names
    if inhibitor not in names:
        raise CompetitionError(f"no binder named {inhibitor!r}")
    j = names.index(inhibitor)
    index = _output_index(output)
    log_kd, log_aux, totals = model.default_inputs(s)
    onehot = jnp.zeros(len(names)).at[j].set(1.0)
    value_and_slope = model.dose_value_and_slope(index, pool)

    def evaluate(x: float) -> tuple[float, float]:
        v, d = value_and_slope(log_kd, log_aux, totals, onehot, x)
        return float(v), float(d)

    base = float(model._state_jit(log_kd, log_aux, totals * (1 - onehot))[0][index][pool])
    target = 0.5 * base
    a, b = math.log(lo_molar), math.log(hi_molar)
    fa = evaluate(a)[0] - target
    fb = evaluate(b)[0] - target
    if not (fa > 0 > fb):
        raise CompetitionError(
            f"IC50 of {inhibitor}: output does not cross half of {base:.3g} between "
            f"{lo_molar:g} and {hi_molar:g} M (values {fa + target:.3g}, {fb + target:.3g})"
        )
    x = 0.5 * (a + b)
    for _ in range(200):
        f, slope = evaluate(x)
        f -= target
        if f > 0:
            a = x
        else:
            b = x
        step = -f / slope if slope < 0 else math.inf
        x_new = x + step
        if not (a < x_new < b):
            x_new = 0.5 * (a + b)
        if abs(x_new - x) < rtol or b - a < rtol:
            return math.exp(x_new)
        x = x_new
    raise CompetitionError(f"IC50 of {inhibitor}: root search did not converge")
