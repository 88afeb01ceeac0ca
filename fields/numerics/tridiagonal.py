"""Diffusion-reaction solves for a batch of runs on 1D (Krogh) meshes: one tridiagonal system
per run, factorised once and reused while its operator is unchanged.

For run r: A_r = D_r A_d + diag(d_k k_r + d_t / dt_r), b_r = D_r b_w w_r + b_s s_r + b_o u_r / dt_r,
the same pieces FiPy assembles (:class:`~fields.numerics.fipy_system.SystemProbe`), so a batch
solve equals the per-run solve of :class:`~fields.numerics.operator.DiffusionReactionOperator`
to round-off. A quasi-steady field whose sink has not changed costs one forward and one back
substitution, O(n) per run: the linear response to any source on a reused factorisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fields.core.errors import FieldsInputError
from fields.numerics import kernels
from fields.numerics.fipy_system import SystemProbe


def _bands(matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    coo = matrix.tocoo()
    if np.any(np.abs(coo.row - coo.col) > 1):
        raise FieldsInputError("a batched 1D solve needs a tridiagonal operator (a Krogh mesh)")
    csr = matrix.tocsr()
    return csr.diagonal(-1), csr.diagonal(0), csr.diagonal(1)


class BatchTridiagonal:
    """Solves of one field for every run of a batch; ``probes[r]`` is run r's mesh probe."""

    def __init__(self, probes: Sequence[SystemProbe], diffusivity: np.ndarray) -> None:
        self.runs = len(probes)
        self.diffusivity = np.asarray(diffusivity, dtype=float).reshape(-1, 1)
        self._pieces: dict[str, dict[str, np.ndarray]] = {}
        self._probes = probes
        self._cache: dict[str, tuple[np.ndarray, tuple[np.ndarray, ...]]] = {}
        self._offdiagonal: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.factorisations = 0

    def _stacked(self, form: str) -> dict[str, np.ndarray]:
        if form not in self._pieces:
            unique: dict[int, dict[str, np.ndarray]] = {}
            rows = []
            for probe in self._probes:
                if id(probe) not in unique:
                    pc = probe.pieces(form)
                    lo, di, up = _bands(pc["a_diffusion"])
                    unique[id(probe)] = {
                        "lo": lo,
                        "di": di,
                        "up": up,
                        **{k: np.asarray(pc[k], dtype=float) for k in pc if k != "a_diffusion"},
                    }
                rows.append(unique[id(probe)])
            keys = rows[0].keys()
            if len(unique) == 1:  # one mesh for the whole batch: broadcast one row
                self._pieces[form] = {k: rows[0][k][None, :] for k in keys}
            else:
                self._pieces[form] = {k: np.stack([row[k] for row in rows]) for k in keys}
        return self._pieces[form]

    @property
    def n(self) -> int:
        return int(self._probes[0].n)

    def take(self, keep: np.ndarray) -> None:
        """Keep only the runs ``keep`` (indices): runs that left the batch."""
        self.runs = int(keep.size)
        if self.diffusivity.shape[0] > 1:
            self.diffusivity = self.diffusivity[keep]
        self._probes = [self._probes[i] for i in keep]
        for form, pieces in self._pieces.items():
            if next(iter(pieces.values())).shape[0] > 1:
                self._pieces[form] = {k: v[keep] for k, v in pieces.items()}
        self._cache = {
            form: (diag[keep], tuple(f[keep] for f in factors))
            for form, (diag, factors) in self._cache.items()
        }
        self._offdiagonal = {}

    def _factor(self, form: str, diag: np.ndarray, lower: np.ndarray, upper: np.ndarray):
        cached = self._cache.get(form)
        if cached is not None and cached[0].shape == diag.shape and np.array_equal(cached[0], diag):
            return cached[1]
        cprime, inv = kernels.thomas_factor(lower, diag, upper)
        factors = (lower, cprime, inv)
        self._cache[form] = (diag, factors)
        self.factorisations += 1
        return factors

    def solve(
        self,
        sink: np.ndarray | float,
        source: np.ndarray | float,
        *,
        wall_value: np.ndarray | float = 0.0,
        dt: np.ndarray | None = None,
        previous: np.ndarray | float = 0.0,
    ) -> np.ndarray:
        """u (runs, n); ``dt`` None means quasi-steady. Units follow the caller's D, k, s, dt."""
        form = "steady" if dt is None else "transient"
        pc = self._stacked(form)
        shape = (self.runs, pc["di"].shape[1])
        d = self.diffusivity
        diag = d * pc["di"] + pc["d_reaction"] * sink
        if dt is not None:
            diag = diag + pc["d_time"] / dt
        diag = kernels.contiguous(diag, shape)
        if form not in self._offdiagonal:  # fixed while the batch keeps its runs
            bands = (shape[0], shape[1] - 1)
            self._offdiagonal[form] = (
                kernels.contiguous(d * pc["lo"], bands),
                kernels.contiguous(d * pc["up"], bands),
            )
        lower_, cprime, inv = self._factor(form, diag, *self._offdiagonal[form])
        b = pc["b_source"] * source
        if np.any(wall_value != 0.0):
            b = b + pc["b_wall"] * (d * wall_value)
        if dt is not None:
            b = b + pc["b_old"] * (np.asarray(previous, dtype=float) / dt)
        return kernels.thomas_solve(lower_, cprime, inv, kernels.contiguous(b, shape))
