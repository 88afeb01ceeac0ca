"""fields: continuum model of pre-metastatic niches and tumour-derived signalling fields.

Public interface::

    import fields
    p = fields.Parameters()
    tree = fields.simulate(p, sites=["lung", "bone_marrow"], days=3650, geometry="2d", seed=0)
    ds = fields.sweep("studies/organotropism.toml", store="organotropism.zarr")
    cohort = fields.cohort("studies/lead_time.toml", store="lead_time.zarr")
    fit = fields.calibrate("studies/lead_time_calibration.toml")

The package is layered, data flowing one way: ``core`` -> ``parameters`` -> ``model`` ->
``numerics`` -> ``engine`` -> ``io`` -> ``experiments`` -> ``plot``, ``bench``, ``cli``.
"""

from __future__ import annotations

import os

# FiPy picks its solver suite at import time; pin SciPy so runs are reproducible everywhere.
os.environ.setdefault("FIPY_SOLVERS", "scipy")

from fields.core.errors import FieldsInputError, NumericalError, ParameterError
from fields.core.version import __version__
from fields.parameters import SITE_NAMES, SPECIES_NAMES, Parameters, load_parameters


def __getattr__(name: str):
    """``fields.simulate`` and ``fields.sweep`` load the engine (FiPy) on first use."""
    if name == "simulate":
        from fields.experiments.run import simulate

        return simulate
    if name == "simulate_batch":
        from fields.experiments.run import simulate_batch

        return simulate_batch
    if name == "sweep":
        from fields.experiments.sweep import sweep

        return sweep
    if name == "cohort":
        from fields.experiments.population.cohort import cohort

        return cohort
    if name == "calibrate":
        from fields.experiments.population.calibration import calibrate

        return calibrate
    raise AttributeError(f"module 'fields' has no attribute {name!r}")


__all__ = [
    "SITE_NAMES",
    "SPECIES_NAMES",
    "FieldsInputError",
    "NumericalError",
    "ParameterError",
    "Parameters",
    "__version__",
    "calibrate",
    "cohort",
    "load_parameters",
    "simulate",
    "simulate_batch",
    "sweep",
]
