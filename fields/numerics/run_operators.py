"""Field solves for a batch of runs, each run with its own operator (um, s, pg/mL or mmHg).

The engine uses them on 2d and 3d grids, and on Krogh meshes with the plain-FiPy reference
solver (``transport.solver = "fipy"``); Krogh meshes with the fast solver use the batched
tridiagonal solves of :mod:`fields.numerics.tridiagonal`. Run r keeps its own
:class:`~fields.numerics.operator.DiffusionReactionOperator`, so its linear responses and solves
do not depend on the other runs of its batch (the same factorisation of the same matrix). Runs
on one patch with one diffusivity share their factorisations: an LDL^T factor (2d) or a
cosine-preconditioned CG (3d) is built once for every run whose sink and step are the same, and
each of them then costs a solve on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fields.numerics.fipy_system import SystemProbe
from fields.numerics.operator import DiffusionReactionOperator
from fields.numerics.oxygen import solve_oxygen


def row(value, r: int):
    """Run r's value of a batch quantity: a scalar, or an array of shape (runs, ...) or
    (1, ...) (shared by every run); a single number comes back as a float."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return value
    out = arr[0] if arr.shape[0] == 1 else arr[r]
    return float(out.reshape(())) if out.size == 1 and out.ndim <= 1 else out


class RunOperators:
    """Solves of one field for every run of a batch (``probes[r]``: run r's mesh probe, as for
    :class:`~fields.numerics.tridiagonal.BatchTridiagonal`; ``diffusivity``: a number or one per
    run, um^2/s or the caller's units; ``solver``: "fast" or the plain-FiPy reference "fipy")."""

    def __init__(self, probes: Sequence[SystemProbe], diffusivity, solver: str = "fast") -> None:
        values = np.broadcast_to(np.asarray(diffusivity, dtype=float).reshape(-1), (len(probes),))
        first: dict[tuple[int, float], DiffusionReactionOperator] = {}
        self.operators: list[DiffusionReactionOperator] = []
        for probe, d in zip(probes, values, strict=True):
            key = (id(probe), float(d))
            op = DiffusionReactionOperator(
                probe.mesh,
                float(d),
                probe.wall_faces,
                solver,
                probe=probe,
                share_with=first.get(key) if solver == "fast" else None,
            )
            first.setdefault(key, op)
            self.operators.append(op)

    @property
    def runs(self) -> int:
        return len(self.operators)

    @property
    def n(self) -> int:
        return self.operators[0].n

    @property
    def factorisations(self) -> int:
        return sum(op.factorisations for op in self.operators)

    def take(self, keep: np.ndarray) -> None:
        """Keep only the runs ``keep`` (indices): runs that left the batch."""
        self.operators = [self.operators[i] for i in keep]

    def solve(
        self,
        sink,
        source,
        *,
        wall_value=0.0,
        dt: np.ndarray | None = None,
        previous=0.0,
    ) -> np.ndarray:
        """u (runs, n); ``dt`` None means quasi-steady. Units follow the caller's D, k, s, dt."""
        out = np.empty((self.runs, self.n))
        for r, op in enumerate(self.operators):
            out[r] = op.solve(
                row(sink, r),
                row(source, r),
                wall_value=row(wall_value, r),
                dt=None if dt is None else row(dt, r),
                previous=row(previous, r),
            )
        return out

    def superpose(self, sink, terms) -> np.ndarray:
        """Each run's quasi-steady field as a sum of its kept linear responses
        (:meth:`DiffusionReactionOperator.superpose`), (runs, n)."""
        out = np.empty((self.runs, self.n))
        for r, op in enumerate(self.operators):
            mine = [(row(c, r), tag, row(values, r)) for c, tag, values in terms]
            out[r] = op.superpose(row(sink, r), mine)
        return out

    def oxygen(self, patches, p, vessel_po2, uptake, initial, rows) -> np.ndarray:
        """Steady oxygen (mmHg, (runs, n)) of the runs ``rows`` (a boolean per run), each by
        :func:`~fields.numerics.oxygen.solve_oxygen` as alone; the others keep ``initial``."""
        out = np.array(initial, dtype=float)
        for r in np.nonzero(rows)[0]:
            start = out[r] if out[r].any() else None
            member = _OxygenRow(p, r)
            out[r] = solve_oxygen(
                self.operators[r],
                patches[r],
                member,  # type: ignore[arg-type]  # what solve_oxygen reads of the parameters
                row(vessel_po2, r),
                row(uptake, r),
                initial=start,
            ).oxygen
        return out


class _OxygenRow:
    """Run r's oxygen parameters, as :func:`solve_oxygen` reads them."""

    def __init__(self, p, r: int) -> None:
        self.km_mmhg = row(p.km_mmhg, r)
        self.vessel_exchange_per_s = row(p.vessel_exchange_per_s, r)
