"""The naive reference of the solver table: the fields as a FiPy user writes them from FiPy's
documentation (``CellVariable``s, terms with variable coefficients, ``eq.solve`` every step for
every field, the Michaelis-Menten uptake linearised and swept to convergence), inside the
engine's own site so that both columns run the same physics functions."""

from __future__ import annotations

import numpy as np


def naive_site_class():
    """The class, defined on first use so that importing the benchmark does not import FiPy."""
    import fipy as fp

    from fields.engine.site import Site
    from fields.model import factors
    from fields.model.oxygen import hypoxia
    from fields.numerics.operator import SECONDS_PER_DAY, fipy_reference_solver

    class NaiveFiPySite(Site):
        """One run's site with its oxygen and factors solved by plain FiPy every step."""

        sweep_tolerance = 1e-12  # of the vessel pO2, per sweep

        def __init__(self, name, params, patches) -> None:
            super().__init__(name, params, patches)  # params carry transport.solver = fipy
            patch = self.patches[0]
            site, mesh, ox = params.sites[name], patch.mesh, params.oxygen
            self.po2 = site.vessel_po2_mmhg
            self.O = fp.CellVariable(mesh=mesh, value=self.po2, hasOld=True)
            # Michaelis-Menten uptake V O/(Km + O), linearised about the current sweep as the
            # FiPy docs teach for source terms: S(O) ~ S(O*) + S'(O*)(O - O*) (Newton sweeps)
            vmax, km = site.o2_uptake_mmhg_per_s, ox.km_mmhg
            slope = vmax * km / (km + self.O) ** 2
            offset = vmax * self.O**2 / (km + self.O) ** 2
            if patch.kind == "krogh":
                self.O.constrain(self.po2, where=patch.wall_faces)
                exchange = fp.CellVariable(mesh=mesh, value=0.0)
            else:
                exchange = fp.CellVariable(mesh=mesh, value=patch.vessel * ox.vessel_exchange_per_s)
            rhs = (
                fp.DiffusionTerm(coeff=ox.diffusivity_um2_per_s)
                - fp.ImplicitSourceTerm(coeff=slope + exchange)
                - offset
                + exchange * self.po2
            )
            # the initial state is steady (as in Site.initialise), steps are transient
            self.eq_oxygen = {"steady": 0 == rhs, "transient": fp.TransientTerm() == rhs}
            self.C, self.k, self.s, self.eq = {}, {}, {}, {}
            for sp, sp_params in params.species.items():
                self.C[sp] = fp.CellVariable(mesh=mesh, value=0.0, hasOld=True)
                self.k[sp] = fp.CellVariable(mesh=mesh, value=0.0)
                self.s[sp] = fp.CellVariable(mesh=mesh, value=0.0)
                rhs = (
                    fp.DiffusionTerm(coeff=sp_params.diffusivity_um2_per_s)
                    - fp.ImplicitSourceTerm(coeff=self.k[sp])
                    + self.s[sp]
                )
                self.eq[sp] = {"steady": 0 == rhs, "transient": fp.TransientTerm() == rhs}
            self.dt_s: float | None = None  # None until the first step: steady solves

            # FiPy's default solver class (sparse LU) at tolerance 1e-12, not its default 1e-5,
            # which accepts a guess within 1e-5 of the RHS unchanged. On a 3D mesh LU fill-in
            # exceeds memory (50^3 cells: > 17 GB), so there it is FiPy's CG + PyAMG.
            self.fipy_solver = fipy_reference_solver("amg" if mesh.dim == 3 else "lu")

        def _solve_oxygen(self, rows=None) -> None:
            self.O.updateOld()
            eq = self.eq_oxygen["steady" if self.dt_s is None else "transient"]
            for _ in range(200):  # sweep the nonlinear uptake to convergence (FiPy docs)
                before = np.array(self.O.value)
                eq.sweep(var=self.O, dt=self.dt_s, solver=self.fipy_solver)
                if (
                    np.max(np.abs(np.asarray(self.O.value) - before))
                    <= self.sweep_tolerance * self.po2
                ):
                    break
            self.state["oxygen"] = np.array(self.O.value, dtype=float)[None, :]
            self.state["hypoxia"] = hypoxia(self.state["oxygen"], self.p.oxygen)

        def _solve_species(self, plasma, dt_days) -> None:
            for sp in self.species:
                sink, terms = self.sink_and_terms(sp, plasma)  # the same physics as the engine
                self.k[sp].setValue(np.broadcast_to(sink, (1, self.k[sp].mesh.numberOfCells))[0])
                source = np.broadcast_to(factors.sum_terms(terms), self.state[sp].shape)
                self.s[sp].setValue(source[0])
                self.C[sp].updateOld()
                if dt_days is None:
                    self.eq[sp]["steady"].solve(var=self.C[sp], solver=self.fipy_solver)
                else:
                    dt = float(np.asarray(dt_days).reshape(-1)[0]) * SECONDS_PER_DAY
                    self.eq[sp]["transient"].solve(var=self.C[sp], dt=dt, solver=self.fipy_solver)
                self.state[sp] = np.maximum(np.array(self.C[sp].value, dtype=float), 0.0)[None, :]

        def step(self, dt, plasma, arrivals) -> None:
            self.dt_s = float(np.asarray(dt).reshape(-1)[0]) * SECONDS_PER_DAY
            self._solve_oxygen()  # every field, every step
            super().step(dt, plasma, arrivals)

    return NaiveFiPySite
