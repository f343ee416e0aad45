"""JAX kernels for the implicit-solvent Amber energy of an OpenMM System (float64).

The energy is OpenMM's, term by term, with parameters from
:func:`rankbind.energies.parameters.extract_parameters`:

* bonds ``k/2 (r-r0)^2``, angles ``k/2 (θ-θ0)^2``, torsions ``k (1+cos(nφ-φ0))``,
  CMAP (bicubic patches with OpenMM's periodic-spline derivatives);
* Coulomb ``138.935457 q_i q_j / r`` and Lennard-Jones ``4ε((σ/r)^12-(σ/r)^6)`` over all
  pairs (NoCutoff) with Lorentz-Berthelot mixing, the exception list replacing excluded and
  scaled 1-4 pairs;
* GB (OpenMM ``CustomGBForce``, OBC1/OBC2/GBn/GBn2): per-atom integral ``I_i`` summed over
  all j≠i (HCT pair integral, plus the GBn/GBn2 neck term with OpenMM's interpolated d0/m0
  tables), Born radius ``B = 1/(1/or - tanh(αψ-βψ²+γψ³)/(or+offset))`` with ``ψ = I·or``,
  self term ``-½·138.935485(1/ε_in - e^{-κB}/ε_out) q²/B``, pair term
  ``-138.935485(1/ε_in - e^{-κf}/ε_out) q_i q_j / f`` with
  ``f = sqrt(r² + B_iB_j exp(-r²/4B_iB_j))``, and optionally the ACE nonpolar term
  ``28.3919551 (or+offset+0.14)² ((or+offset)/B)^6``.

Per-atom energies: a pair term gives half to each atom, an angle a third to each of its
atoms, a torsion or CMAP term a quarter/eighth, self terms all to their atom; so per-atom
energies sum to the total. Pairs are processed in row blocks (memory O(block·N) per frame),
frames in fixed-size vmapped batches. Units: nm in, kJ/mol out.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import rankbind.jaxconfig  # noqa: F401  (float64 before any array is made)
from rankbind.energies.parameters import ONE_4PI_EPS0, EnergyParameters

COMPONENTS = ("bond", "angle", "torsion", "cmap", "coulomb", "lj", "gb", "ace")


def _exclusion_table(params: EnergyParameters, n_pad: int) -> np.ndarray:
    partners: list[list[int]] = [[] for _ in range(n_pad)]
    for i, j in params.exception_atoms:
        partners[i].append(int(j))
        partners[j].append(int(i))
    width = max(1, max(len(p) for p in partners))
    table = np.full((n_pad, width), n_pad, dtype=np.int64)
    for i, p in enumerate(partners):
        table[i, : len(p)] = p
    return table


def _dihedral(p0, p1, p2, p3):
    b1, b2, b3 = p1 - p0, p2 - p1, p3 - p2
    n1, n2 = jnp.cross(b1, b2), jnp.cross(b2, b3)
    b2n = jnp.linalg.norm(b2, axis=-1)
    y = b2n * jnp.sum(b1 * n2, axis=-1)
    x = jnp.sum(n1 * n2, axis=-1)
    return jnp.arctan2(y, x)


def _cmap_coefficients(maps: np.ndarray) -> np.ndarray:
    """Bicubic coefficients (n_maps, size, size, 4, 4) as OpenMM's CMAPTorsionForceImpl:
    derivatives from periodic cubic splines through rows/columns, then per-patch bicubic."""
    from scipy.interpolate import CubicSpline

    n_maps, size, _ = maps.shape
    delta = 2 * np.pi / size
    grid = np.arange(size + 1) * delta
    out = np.zeros((n_maps, size, size, 4, 4))
    wt = np.array(
        [
            [1, 0, -3, 2, 0, 0, 0, 0, -3, 0, 9, -6, 2, 0, -6, 4],
            [0, 0, 0, 0, 0, 0, 0, 0, 3, 0, -9, 6, -2, 0, 6, -4],
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, -6, 0, 0, -6, 4],
            [0, 0, 3, -2, 0, 0, 0, 0, 0, 0, -9, 6, 0, 0, 6, -4],
            [0, 0, 0, 0, 1, 0, -3, 2, -2, 0, 6, -4, 1, 0, -3, 2],
            [0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 3, -2, 1, 0, -3, 2],
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -3, 2, 0, 0, 3, -2],
            [0, 0, 0, 0, 0, 0, 3, -2, 0, 0, -6, 4, 0, 0, 3, -2],
            [0, 1, -2, 1, 0, 0, 0, 0, 0, -3, 6, -3, 0, 2, -4, 2],
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 3, -6, 3, 0, -2, 4, -2],
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -3, 3, 0, 0, 2, -2],
            [0, 0, -1, 1, 0, 0, 0, 0, 0, 0, 3, -3, 0, 0, -2, 2],
            [0, 0, 0, 0, 0, 1, -2, 1, 0, -2, 4, -2, 0, 1, -2, 1],
            [0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 2, -1, 0, 1, -2, 1],
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, -1, 0, 0, -1, 1],
            [0, 0, 0, 0, 0, 0, -1, 1, 0, 0, 2, -2, 0, 0, -1, 1],
        ],
        dtype=float,
    )
    for m in range(n_maps):
        e = maps[m]
        d1 = np.zeros_like(e)
        d2 = np.zeros_like(e)
        d12 = np.zeros_like(e)
        for j in range(size):  # d/dφ along each ψ column
            col = np.append(e[:, j], e[0, j])
            d1[:, j] = CubicSpline(grid, col, bc_type="periodic")(grid[:-1], 1)
        for i in range(size):  # d/dψ along each φ row
            row = np.append(e[i, :], e[i, 0])
            d2[i, :] = CubicSpline(grid, row, bc_type="periodic")(grid[:-1], 1)
        for j in range(size):  # d²/dφdψ: spline of dE/dψ along φ
            col = np.append(d2[:, j], d2[0, j])
            d12[:, j] = CubicSpline(grid, col, bc_type="periodic")(grid[:-1], 1)
        for i in range(size):
            for j in range(size):
                ip, jp = (i + 1) % size, (j + 1) % size
                corners = [(i, j), (ip, j), (ip, jp), (i, jp)]
                x = np.zeros(16)
                for k, (a, b) in enumerate(corners):
                    x[k] = e[a, b]
                    x[k + 4] = d1[a, b] * delta
                    x[k + 8] = d2[a, b] * delta
                    x[k + 12] = d12[a, b] * delta * delta
                out[m, i, j] = (x @ wt).reshape(4, 4)
    return out


def make_energy_function(params: EnergyParameters, block: int = 256) -> tuple[Callable, Callable]:
    """Two single-frame functions (not jitted; :class:`EnergyModel` wraps them):

    ``energy(positions (N,3) nm, group (N,) int) -> {component: (N,) kJ/mol}`` per-atom
    energies where only atoms of the same ``group`` interact (all zeros: the whole System;
    0/1: receptor and ligand each alone, in one pass). Components are :data:`COMPONENTS`;
    absent forces give zeros.

    ``pair_matrix(positions, rows_onehot (N,Ra), cols_onehot (N,Rb)) -> (Ra, Rb)`` direct
    Coulomb + LJ + GB pair energies between groups of atoms (e.g. residues) in the whole
    System, kJ/mol."""
    n = params.n_atoms
    block = int(min(block, max(8, n)))
    n_pad = -(-n // block) * block
    excl = jnp.asarray(_exclusion_table(params, n_pad))

    def pad(x, value=0.0):
        x = np.asarray(x, dtype=float)
        return jnp.asarray(np.concatenate([x, np.full(n_pad - n, value)]))

    valid = jnp.asarray(np.arange(n_pad) < n)
    q, sig, eps = pad(params.charge), pad(params.sigma), pad(params.epsilon)
    ea = jnp.asarray(params.exception_atoms.reshape(-1, 2))
    eqq = jnp.asarray(params.exception_charge_product)
    esig, eeps = jnp.asarray(params.exception_sigma), jnp.asarray(params.exception_epsilon)
    ba, br0, bk = (jnp.asarray(x) for x in (params.bond_atoms, params.bond_length, params.bond_k))
    aa, at0, ak = (
        jnp.asarray(x) for x in (params.angle_atoms, params.angle_theta0, params.angle_k)
    )
    ta = jnp.asarray(params.torsion_atoms)
    tn, tph, tk = (
        jnp.asarray(x) for x in (params.torsion_periodicity, params.torsion_phase, params.torsion_k)
    )
    gb = params.gb
    if gb is not None:
        gq, gor, gsr = pad(gb.charge), pad(gb.offset_radius, 1.0), pad(gb.scaled_radius)
        gal, gbe, gga = pad(gb.alpha), pad(gb.beta), pad(gb.gamma)
        grad_index = jnp.asarray(np.concatenate([gb.radius_index, np.zeros(n_pad - n, int)]))
        d0, m0 = jnp.asarray(gb.d0), jnp.asarray(gb.m0)
        inv_in, inv_out = 1.0 / gb.solute_dielectric, 1.0 / gb.solvent_dielectric
    cmap = params.cmap
    if cmap is not None:
        coeff = jnp.asarray(_cmap_coefficients(cmap.maps))
        c_idx, c_atoms = jnp.asarray(cmap.map_index), jnp.asarray(cmap.atoms)
        c_size = cmap.maps.shape[1]

    def per_atom(index, values, count):
        out = jnp.zeros(n_pad)
        for k in range(count):
            out = out.at[index[:, k]].add(values / count)
        return out

    def block_geometry(x, group, start):
        rows = start + jnp.arange(block)
        xi = jax.lax.dynamic_slice_in_dim(x, start, block)
        d = xi[:, None, :] - x[None, :, :]
        r2 = jnp.sum(d * d, axis=-1)
        pair = (rows[:, None] != jnp.arange(n_pad)[None, :]) & valid[None, :]
        pair = pair & valid[rows][:, None] & (group[rows][:, None] == group[None, :])
        r = jnp.sqrt(jnp.where(pair, r2, 1.0))
        return rows, r, pair

    def born_radii(x, group):
        off = gb.offset

        def integral(start):
            rows, r, pair = block_geometry(x, group, start)
            or1 = gor[rows][:, None]
            sr2 = gsr[None, :]
            # OpenMM's select() skips pairs with r + sr2 < or1; guard the untaken branch,
            # where U can be <= 0 (negative GBn2 sulfur screen), so its gradient stays finite
            inside = r + sr2 - or1 >= 0
            D = jnp.abs(r - sr2)
            L = jnp.where(inside, jnp.maximum(or1, D), 1.0)
            U = jnp.where(inside, r + sr2, 2.0)
            ivdw = 0.5 * (
                1 / L
                - 1 / U
                + 0.25 * (r - sr2**2 / r) * (1 / U**2 - 1 / L**2)
                + 0.5 * jnp.log(L / U) / r
            )
            value = jnp.where(inside, ivdw, 0.0)
            if gb.neck:
                ri, rj = grad_index[rows][:, None], grad_index[None, :]
                dd, mm = d0[ri, rj], m0[ri, rj]
                neck = mm / (1 + 100 * (r - dd) ** 2 + 0.3 * 1000000 * (r - dd) ** 6)
                reach = or1 + off + gor[None, :] + off + gb.neck_cut - r
                value = value + gb.neck_scale * jnp.where(reach >= 0, neck, 0.0)
            return jnp.sum(jnp.where(pair, value, 0.0), axis=1)

        big_i = jax.lax.map(integral, jnp.arange(0, n_pad, block)).reshape(n_pad)
        psi = big_i * gor
        radius = gor + off
        return 1 / (1 / gor - jnp.tanh(gal * psi - gbe * psi**2 + gga * psi**3) / radius)

    def pair_block(x, group, B, start):
        """Rows start..start+block of the (Coulomb, LJ, GB) pair-energy matrices."""
        rows, r, pair = block_geometry(x, group, start)
        exc = jnp.zeros((block, n_pad + 1), bool)
        exc = exc.at[jnp.arange(block)[:, None], excl[rows]].set(True)[:, :n_pad]
        normal = pair & ~exc
        inv_r = 1 / r
        coul = ONE_4PI_EPS0 * q[rows][:, None] * q[None, :] * inv_r
        s = 0.5 * (sig[rows][:, None] + sig[None, :])
        e = jnp.sqrt(eps[rows][:, None] * eps[None, :])
        s6 = (s * inv_r) ** 6
        out = [jnp.where(normal, coul, 0.0), jnp.where(normal, 4 * e * (s6 * s6 - s6), 0.0)]
        if gb is not None:
            bb = B[rows][:, None] * B[None, :]
            f = jnp.sqrt(r**2 + bb * jnp.exp(-(r**2) / (4 * bb)))
            screen = inv_in - jnp.exp(-gb.kappa * f) * inv_out
            e_gb = -gb.prefactor * screen * gq[rows][:, None] * gq[None, :] / f
            out.append(jnp.where(pair, e_gb, 0.0))
        return out

    def prepare(positions, group):
        x = jnp.zeros((n_pad, 3), positions.dtype).at[:n].set(positions)
        g = jnp.zeros(n_pad, jnp.int64).at[:n].set(group)
        return x, g

    def energy(positions, group):
        x, g = prepare(positions, group)
        out = {c: jnp.zeros(n_pad) for c in COMPONENTS}
        if ba.shape[0]:
            r = jnp.linalg.norm(x[ba[:, 0]] - x[ba[:, 1]], axis=-1)
            out["bond"] = per_atom(ba, 0.5 * bk * (r - br0) ** 2, 2)
        if aa.shape[0]:
            u, v = x[aa[:, 0]] - x[aa[:, 1]], x[aa[:, 2]] - x[aa[:, 1]]
            theta = jnp.arctan2(jnp.linalg.norm(jnp.cross(u, v), axis=-1), jnp.sum(u * v, axis=-1))
            out["angle"] = per_atom(aa, 0.5 * ak * (theta - at0) ** 2, 3)
        if ta.shape[0]:
            phi = _dihedral(*(x[ta[:, k]] for k in range(4)))
            out["torsion"] = per_atom(ta, tk * (1 + jnp.cos(tn * phi - tph)), 4)
        if cmap is not None:
            phi = _dihedral(*(x[c_atoms[:, k]] for k in range(4)))
            psi = _dihedral(*(x[c_atoms[:, k]] for k in range(4, 8)))
            delta = 2 * jnp.pi / c_size
            a = jnp.mod(phi, 2 * jnp.pi) / delta
            b = jnp.mod(psi, 2 * jnp.pi) / delta
            ia = jnp.clip(jnp.floor(a).astype(int), 0, c_size - 1)
            ib = jnp.clip(jnp.floor(b).astype(int), 0, c_size - 1)
            c = coeff[c_idx, ia, ib]  # (n, 4, 4)
            pa = jnp.stack([(a - ia) ** k for k in range(4)], axis=-1)
            pb = jnp.stack([(b - ib) ** k for k in range(4)], axis=-1)
            out["cmap"] = per_atom(c_atoms, jnp.einsum("ni,nij,nj->n", pa, c, pb), 8)
        if ea.shape[0]:
            r = jnp.linalg.norm(x[ea[:, 0]] - x[ea[:, 1]], axis=-1)
            s6 = (esig / r) ** 6
            same = g[ea[:, 0]] == g[ea[:, 1]]
            out["coulomb"] = per_atom(ea, jnp.where(same, ONE_4PI_EPS0 * eqq / r, 0.0), 2)
            out["lj"] = per_atom(ea, jnp.where(same, 4 * eeps * (s6 * s6 - s6), 0.0), 2)
        B = born_radii(x, g) if gb is not None else None

        def rows_energy(start):
            return jnp.stack([0.5 * jnp.sum(m, axis=1) for m in pair_block(x, g, B, start)])

        res = jax.lax.map(rows_energy, jnp.arange(0, n_pad, block))  # (blocks, k, block)
        rows = jnp.transpose(res, (1, 0, 2)).reshape(res.shape[1], n_pad)
        out["coulomb"] = out["coulomb"] + rows[0]
        out["lj"] = out["lj"] + rows[1]
        if gb is not None:
            self_e = -0.5 * gb.prefactor * (inv_in - jnp.exp(-gb.kappa * B) * inv_out) * gq**2 / B
            out["gb"] = rows[2] + jnp.where(valid, self_e, 0.0)
            if gb.ace:
                radius = gor + gb.offset
                ace = gb.ace_constant * (radius + gb.ace_probe) ** 2 * (radius / B) ** 6
                out["ace"] = jnp.where(valid, ace, 0.0)
        return {k: v[:n] for k, v in out.items()}

    def pair_matrix(positions, rows_onehot, cols_onehot):
        """(Ra, Rb) Coulomb + LJ + GB pair energy between row groups and column groups
        (one-hot (N, Ra) and (N, Rb)), summed over both atom orders."""
        x, g = prepare(positions, jnp.zeros(n, jnp.int64))
        B = born_radii(x, g) if gb is not None else None
        ra = jnp.zeros((n_pad, rows_onehot.shape[1])).at[:n].set(rows_onehot)
        rb = jnp.zeros((n_pad, cols_onehot.shape[1])).at[:n].set(cols_onehot)

        def block_matrix(start):
            e = sum(pair_block(x, g, B, start))
            oa = jax.lax.dynamic_slice_in_dim(ra, start, block)
            ob = jax.lax.dynamic_slice_in_dim(rb, start, block)
            return oa.T @ e @ rb + (ob.T @ e @ ra).T

        blocks = jax.lax.map(block_matrix, jnp.arange(0, n_pad, block))
        return 0.5 * jnp.sum(blocks, axis=0)

    return energy, pair_matrix


class EnergyModel:
    """Jit-compiled, frame-batched energies and forces of one System.

    ``EnergyModel(extract_parameters(system))``. ``group`` (N,) int restricts interactions
    to atoms of equal group (default: one group, the whole System). :meth:`per_atom` gives
    ``{component: (F, N)}`` kJ/mol, :meth:`components` ``{component: (F,)}``,
    :meth:`forces` (F, N, 3) kJ/mol/nm = -dE/dx by autodiff, :meth:`pair_matrix`
    (F, Ra, Rb) kJ/mol. Frames are evaluated ``batch_size`` at a time (vmapped; the last
    batch is padded so one compilation serves every call). Pair work runs in row blocks of
    ``block`` atoms (default: sized so one pair intermediate holds ~8M numbers per batch);
    energies need O(batch·block·N) memory, forces (reverse mode) O(batch·N²)."""

    def __init__(self, params: EnergyParameters, batch_size: int = 8, block: int | None = None):
        self.params = params
        self.batch_size = int(batch_size)
        if block is None:  # ~2^23 pair elements per intermediate across the batch
            per_row = max(1, params.n_atoms * self.batch_size)
            block = max(16, min(512, (1 << 23) // per_row // 8 * 8))
        self.block = int(block)
        energy, pair_matrix = make_energy_function(params, block=block)
        self._per_atom = jax.jit(jax.vmap(energy, in_axes=(0, None)))
        self._pairs = jax.jit(jax.vmap(pair_matrix, in_axes=(0, None, None)))

        def total(x, group):
            return sum(jnp.sum(v) for v in energy(x, group).values())

        self._forces = jax.jit(jax.vmap(lambda x, g: -jax.grad(total)(x, g), in_axes=(0, None)))

    def _group(self, group) -> jax.Array:
        if group is None:
            return jnp.zeros(self.params.n_atoms, jnp.int64)
        group = np.asarray(group, dtype=np.int64)
        if group.shape != (self.params.n_atoms,):
            raise ValueError(f"group has shape {group.shape}, expected ({self.params.n_atoms},)")
        return jnp.asarray(group)

    def _batched(self, fn, frames: np.ndarray, *args, progress=None):
        frames = np.asarray(frames, dtype=float)
        if frames.ndim == 2:
            frames = frames[None]
        if frames.shape[1:] != (self.params.n_atoms, 3):
            raise ValueError(
                f"frames have shape {frames.shape}, expected (F, {self.params.n_atoms}, 3) in nm"
            )
        results = []
        for start in range(0, len(frames), self.batch_size):
            chunk = frames[start : start + self.batch_size]
            k = len(chunk)
            if k < self.batch_size:  # pad to the compiled batch shape
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], self.batch_size - k, 0)])
            out = jax.device_get(fn(jnp.asarray(chunk), *args))
            results.append(jax.tree_util.tree_map(lambda a, k=k: np.asarray(a)[:k], out))
            if progress is not None:
                progress.advance(k)
        return jax.tree_util.tree_map(lambda *a: np.concatenate(a), *results)

    def per_atom(self, frames: np.ndarray, group=None, progress=None) -> dict[str, np.ndarray]:
        """{component: (F, N)} kJ/mol for frames (F, N, 3) nm. ``progress``: a
        :class:`rankbind.progress.Progress` advanced by the frames of each batch."""
        return self._batched(self._per_atom, frames, self._group(group), progress=progress)

    def components(self, frames: np.ndarray, group=None) -> dict[str, np.ndarray]:
        """{component: (F,)} kJ/mol."""
        return {k: v.sum(axis=1) for k, v in self.per_atom(frames, group).items()}

    def forces(self, frames: np.ndarray, group=None) -> np.ndarray:
        """(F, N, 3) kJ/mol/nm."""
        return self._batched(self._forces, frames, self._group(group))

    def pair_matrix(self, frames: np.ndarray, rows_onehot, cols_onehot) -> np.ndarray:
        """(F, Ra, Rb) kJ/mol direct pair energies between atom groups (see
        :func:`make_energy_function`)."""
        return self._batched(
            self._pairs, frames, jnp.asarray(rows_onehot, float), jnp.asarray(cols_onehot, float)
        )
