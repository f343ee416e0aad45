"""Enumerated-species mass-action network for ligand trimers and their binders.

Components (conserved totals) are the ligand pools (RANKL trimers, soluble RANKL3
trimers, ...) and the binders (RANK, OPG, denosumab, Fab, RANK-c). Every species is
a product of free components, ``c_s = beta_s * prod_j x_j ** A[s, j]``, with

    log beta_s = log_mult[s] + params_count[s] @ theta,

where ``theta`` holds log association constants (one per binder, per site/arm), log
effective concentrations (one per bivalent binder that may close a ring on one
trimer) and log pairwise cooperativity factors omega (one per cooperative monovalent
binder; omega = 1 is independent sites, the default: no parameter). ``log_mult`` is the statistical factor: the number of labelled microstates
(labelled sites, labelled arms, labelled molecules) divided by the permutations of
identical molecules, so independent sites give exact binomial/multinomial statistics.

Site states of a trimer: free; bound by a monovalent binder; bound by one arm of a
bivalent binder whose other arm is free ("dangling"); two sites of the same trimer
held by both arms of one bivalent binder ("loop", weight K * K * c_eff_intra);
one site held by a bivalent binder whose other arm holds a site of a second trimer
("bridge", weight K * K, no c_eff: an intermolecular bond).

Approximation (truncation): a complex holds at most two trimers joined by exactly
one bridge. Chains of three or more trimers and doubly bridged trimer pairs are not
enumerated; they matter only when bridging binders are in excess over free sites
and bind with K * [free sites] >> 1. Each enumerated species is exact; the totals
are conserved exactly over the enumerated set.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

# site-state kinds
MONO, DANGLING, LOOP, BRIDGE = "mono", "dangling", "loop", "bridge"


@dataclass(frozen=True)
class PoolSpec:
    """A pool of ligand trimers (``sites`` equivalent, independent binding sites)."""

    name: str
    sites: int = 3


@dataclass(frozen=True)
class BinderSpec:
    """A binder: ``valency`` 1 (one site) or 2 (two identical arms).

    ``loops``: a bivalent binder may hold two sites of one trimer (needs c_eff_intra).
    ``bridging``: a bivalent binder may join two trimers.
    ``cooperative``: a monovalent binder gets a pairwise factor omega for every pair of
    its molecules on one trimer (parameter ``logomega:<name>``).
    ``target``: a *partner* (e.g. TRAIL or a heparan-sulfate sink for OPG) binds only
    free molecules of binder ``target``, 1:1, with its own Kd (``logK:<name>``); the
    complex cannot bind a trimer (competitive with the target's trimer binding).
    """

    name: str
    valency: int = 1
    loops: bool = False
    bridging: bool = False
    cooperative: bool = False
    target: int | None = None  # index of the binder this one binds (a partner), else None


# A per-trimer state: sorted tuple of (kind, binder_index) with repetition; a loop
# appears once but covers two sites.
TrimerState = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Network:
    """Stoichiometry and statistical weights of an enumerated network.

    Shapes: S species, C = P pools + B binders components, Q = B + L parameters.
    ``stoich`` (S, C) int; ``log_mult`` (S,); ``params_count`` (S, Q) int;
    ``site_count`` (S, P, B): sites of pool p's trimers held by binder b in species s;
    ``trimer_states``: per species a tuple of (pool index, TrimerState), one per trimer.
    """

    pools: tuple[PoolSpec, ...]
    binders: tuple[BinderSpec, ...]
    param_names: tuple[str, ...]
    stoich: np.ndarray
    log_mult: np.ndarray
    params_count: np.ndarray
    site_count: np.ndarray
    trimer_states: tuple[tuple[tuple[int, TrimerState], ...], ...]
    labels: tuple[str, ...]

    @property
    def component_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pools) + tuple(b.name for b in self.binders)

    def count_on_trimer(self, binder: int, minimum: int, pool: int) -> np.ndarray:
        """(S,) number of pool-``pool`` trimers in each species with at least ``minimum``
        sites held by ``binder``."""
        out = np.zeros(len(self.labels))
        for s, trimers in enumerate(self.trimer_states):
            for p, state in trimers:
                if p == pool and _sites_held(state, binder) >= minimum:
                    out[s] += 1
        return out


def _sites_held(state: TrimerState, binder: int) -> int:
    return sum((2 if kind == LOOP else 1) for kind, b in state if b == binder)


def _single_site_kinds(binders: tuple[BinderSpec, ...]) -> list[tuple[str, int]]:
    kinds: list[tuple[str, int]] = []
    for i, b in enumerate(binders):
        if b.target is not None:
            continue
        kinds.append((MONO if b.valency == 1 else DANGLING, i))
    return kinds


def _trimer_states(
    sites: int, binders: tuple[BinderSpec, ...], bridge: int | None
) -> list[TrimerState]:
    """All per-trimer states (free sites implicit); ``bridge`` is the index of the
    binder holding one site as a bridge (None: no bridge)."""
    single = _single_site_kinds(binders)
    loop_binders = [
        i for i, b in enumerate(binders) if b.valency == 2 and b.loops and b.target is None
    ]
    n_bridge = 0 if bridge is None else 1
    out: set[TrimerState] = set()
    for n_loops in range(0, (sites - n_bridge) // 2 + 1):
        for loops in itertools.combinations_with_replacement(loop_binders, n_loops):
            rest = sites - n_bridge - 2 * n_loops
            for n_occ in range(rest + 1):
                for occ in itertools.combinations_with_replacement(single, n_occ):
                    state = [(LOOP, b) for b in loops] + list(occ)
                    if bridge is not None:
                        state.append((BRIDGE, bridge))
                    out.add(tuple(sorted(state)))
    return sorted(out)


def trimer_multiplicity(sites: int, state: TrimerState) -> float:
    """Labelled microstates of one trimer in ``state`` per identical-molecule
    permutation: multinomial over site assignments (a loop is an unordered site
    pair) times 2 arm choices for every dangling arm and every loop."""
    counts: dict[tuple[str, int], int] = {}
    for item in state:
        counts[item] = counts.get(item, 0) + 1
    used = sum(2 if kind == LOOP else 1 for kind, _ in state)
    denominator = math.factorial(sites - used)
    arms = 1
    for (kind, _), n in counts.items():
        denominator *= math.factorial(n)
        if kind == LOOP:
            denominator *= 2**n
        if kind in (DANGLING, LOOP):
            arms *= 2**n
    return math.factorial(sites) / denominator * arms


def _state_label(pools, binders, pool: int, state: TrimerState) -> str:
    parts = [f"{kind}:{binders[b].name}" for kind, b in state]
    return f"{pools[pool].name}[{','.join(parts)}]"


def build_network(pools: tuple[PoolSpec, ...], binders: tuple[BinderSpec, ...]) -> Network:
    """Enumerate all species of ``pools`` x ``binders`` (see module docstring)."""
    names = [p.name for p in pools] + [b.name for b in binders]
    if len(set(names)) != len(names):
        raise ValueError(f"component names must be unique, got {names}")
    for b in binders:
        if b.valency not in (1, 2):
            raise ValueError(f"binder {b.name!r}: valency must be 1 or 2, got {b.valency}")
        if b.cooperative and b.valency != 1:
            raise ValueError(f"binder {b.name!r}: cooperativity needs valency 1")
        if b.target is not None:
            if not (0 <= b.target < len(binders)) or binders[b.target].target is not None:
                raise ValueError(f"binder {b.name!r}: target must be a trimer binder")
            if b.valency != 1 or b.loops or b.bridging or b.cooperative:
                raise ValueError(f"partner {b.name!r}: must be monovalent, no loops/bridges")
    P, B = len(pools), len(binders)
    loop_idx = [i for i, b in enumerate(binders) if b.valency == 2 and b.loops]
    coop_idx = [i for i, b in enumerate(binders) if b.cooperative]
    param_names = (
        tuple(f"logK:{b.name}" for b in binders)
        + tuple(f"logceff:{binders[i].name}" for i in loop_idx)
        + tuple(f"logomega:{binders[i].name}" for i in coop_idx)
    )
    Q = len(param_names)

    rows_stoich, rows_mult, rows_params, rows_sites, rows_states, labels = [], [], [], [], [], []

    def add_species(stoich, log_mult, params, sites, states, label):
        rows_stoich.append(stoich)
        rows_mult.append(log_mult)
        rows_params.append(params)
        rows_sites.append(sites)
        rows_states.append(states)
        labels.append(label)

    def trimer_terms(pool: int, state: TrimerState):
        stoich = np.zeros(P + B, dtype=np.int64)
        params = np.zeros(Q, dtype=np.int64)
        sites = np.zeros((P, B), dtype=np.int64)
        stoich[pool] += 1
        for kind, b in state:
            if kind == BRIDGE:  # molecule and bonds counted once per complex
                sites[pool, b] += 1
                continue
            stoich[P + b] += 1
            if kind == LOOP:
                params[b] += 2
                params[B + loop_idx.index(b)] += 1
                sites[pool, b] += 2
            else:
                params[b] += 1
                sites[pool, b] += 1
        for n, b in enumerate(coop_idx):
            bound = sum(1 for kind, i in state if i == b)
            params[B + len(loop_idx) + n] += bound * (bound - 1) // 2
        return stoich, params, sites

    # free binders
    for i, b in enumerate(binders):
        stoich = np.zeros(P + B, dtype=np.int64)
        stoich[P + i] = 1
        add_species(stoich, 0.0, np.zeros(Q, dtype=np.int64), np.zeros((P, B)), (), b.name)
    # partner complexes: target binder . partner (1:1, off the trimers)
    for i, b in enumerate(binders):
        if b.target is None:
            continue
        stoich = np.zeros(P + B, dtype=np.int64)
        stoich[P + i] = 1
        stoich[P + b.target] = 1
        params = np.zeros(Q, dtype=np.int64)
        params[i] = 1
        add_species(stoich, 0.0, params, np.zeros((P, B)), (), f"{binders[b.target].name}.{b.name}")
    # single-trimer complexes
    for p, pool in enumerate(pools):
        for state in _trimer_states(pool.sites, binders, None):
            stoich, params, sites = trimer_terms(p, state)
            mult = trimer_multiplicity(pool.sites, state)
            add_species(
                stoich,
                math.log(mult),
                params,
                sites,
                ((p, state),),
                _state_label(pools, binders, p, state),
            )
    # two trimers joined by one bridging binder
    for b, spec in enumerate(binders):
        if not (spec.valency == 2 and spec.bridging) or spec.target is not None:
            continue
        halves = [
            (p, st) for p, pool in enumerate(pools) for st in _trimer_states(pool.sites, binders, b)
        ]
        for i, j in itertools.combinations_with_replacement(range(len(halves)), 2):
            (p1, s1), (p2, s2) = halves[i], halves[j]
            st1, pa1, si1 = trimer_terms(p1, s1)
            st2, pa2, si2 = trimer_terms(p2, s2)
            stoich = st1 + st2
            stoich[P + b] += 1
            params = pa1 + pa2
            params[b] += 2
            symmetry = 0.5 if (p1 == p2 and s1 == s2) else 1.0
            mult = (
                trimer_multiplicity(pools[p1].sites, s1)
                * trimer_multiplicity(pools[p2].sites, s2)
                * 2.0
                * symmetry
            )
            label = (
                _state_label(pools, binders, p1, s1)
                + f"~{spec.name}~"
                + _state_label(pools, binders, p2, s2)
            )
            add_species(stoich, math.log(mult), params, si1 + si2, ((p1, s1), (p2, s2)), label)

    return Network(
        pools=tuple(pools),
        binders=tuple(binders),
        param_names=param_names,
        stoich=np.array(rows_stoich, dtype=np.int64),
        log_mult=np.array(rows_mult, dtype=np.float64),
        params_count=np.array(rows_params, dtype=np.int64),
        site_count=np.array(rows_sites, dtype=np.float64),
        trimer_states=tuple(rows_states),
        labels=tuple(labels),
    )
