"""FiPy's form of a diffusion-reaction field and the probe that reads its linear pieces.

Every diffusing field solves, on a patch mesh,

    [u - u_old] / dt = div(D grad u) - k(x) u + s(x)        (transient)
                   0 = div(D grad u) - k(x) u + s(x)        (quasi-steady)

optionally with u fixed on some faces (the Krogh capillary wall). FiPy assembles the system.
Because it is linear in k, s, u_old, 1/dt and the wall value, :class:`SystemProbe` asks FiPy once
for the pieces (diffusion matrix, wall vector, unit-source vector, reaction and transient
diagonals) at unit diffusivity, so one probe serves every field on the mesh.
"""

from __future__ import annotations

import fipy as fp
import numpy as np
import scipy.sparse as sp


class FiPySystem:
    """The FiPy form of one field: u (with an optional fixed wall value), sink k, source s,
    steady ``0 = div(D grad u) - k u + s`` and transient ``du/dt = ...`` equations."""

    def __init__(
        self, mesh: fp.meshes.mesh.Mesh, diffusivity: float, wall_faces: object | None
    ) -> None:
        self.var = fp.CellVariable(mesh=mesh, value=0.0, hasOld=True)
        self.wall = fp.Variable(value=0.0)
        if wall_faces is not None:
            self.var.constrain(self.wall, where=wall_faces)
        self.sink = fp.CellVariable(mesh=mesh, value=0.0)
        self.source = fp.CellVariable(mesh=mesh, value=0.0)
        rhs = (
            fp.DiffusionTerm(coeff=diffusivity)
            - fp.ImplicitSourceTerm(coeff=self.sink)
            + self.source
        )
        self.equations = {"steady": 0 == rhs, "transient": fp.TransientTerm() == rhs}


class SystemProbe:
    """The linear pieces of FiPy's system on one mesh (and wall), read at unit diffusivity.

    FiPy may scale or negate the whole system depending on the terms present, so each form
    (steady, transient) is probed on its own:
    A(D, k, dt) = D A_d + diag(d_k k + d_t / dt),  b = D b_w w + b_s s + b_o u_old / dt.
    The diffusion pieces are linear in D, so one probe serves every field on the mesh; each form
    is probed on first use (3 assemblies steady, 5 transient).
    """

    def __init__(self, mesh: fp.meshes.mesh.Mesh, wall_faces: object | None = None) -> None:
        self.mesh = mesh
        self.n = int(mesh.numberOfCells)
        self.wall_faces = wall_faces
        self._sys = FiPySystem(mesh, 1.0, wall_faces)
        self._pieces: dict[str, dict[str, object]] = {}
        self.assemblies = 0

    def _assemble(self, form: str, dt: float | None = None) -> tuple[sp.csr_matrix, np.ndarray]:
        eq = self._sys.equations[form]
        eq.cacheMatrix()
        eq.cacheRHSvector()
        eq.justResidualVector(var=self._sys.var, dt=dt)
        self.assemblies += 1
        return eq.matrix.matrix.tocsr().copy(), np.array(eq.RHSvector, dtype=float)

    def _set(self, k: float = 0.0, s: float = 0.0, wall: float = 0.0, old: float = 0.0) -> None:
        self._sys.sink.setValue(k)
        self._sys.source.setValue(s)
        self._sys.wall.setValue(wall)
        self._sys.var.setValue(old)
        self._sys.var.updateOld()

    def pieces(self, form: str) -> dict[str, object]:
        if form not in self._pieces:
            self._pieces[form] = self._probe(form)
        return self._pieces[form]

    def _probe(self, form: str) -> dict[str, object]:
        dt1 = 1.0 if form == "transient" else None
        self._set()
        a_1, b_0 = self._assemble(form, dt1)
        if form == "transient":
            a_2, _ = self._assemble(form, 2.0)
            d_time = 2.0 * (a_1 - a_2).diagonal()
            a_d = (a_1 - sp.diags(d_time)).tocsr()
        else:
            d_time = np.zeros(self.n)
            a_d = a_1
        self._set(k=1.0, s=1.0)  # k only enters the matrix, s only the right-hand side
        a_k, b_s = self._assemble(form, dt1)
        self._set(wall=1.0)
        _, b_w = self._assemble(form, dt1)
        pieces = {
            "a_diffusion": a_d,
            "d_reaction": (a_k - a_1).diagonal(),
            "d_time": d_time,
            "b_wall": b_w - b_0,
            "b_source": b_s - b_0,
        }
        if form == "transient":
            self._set(old=1.0)
            _, b_o = self._assemble(form, dt1)
            pieces["b_old"] = b_o - b_0
        self._set()
        return pieces
