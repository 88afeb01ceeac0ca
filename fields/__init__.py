"""fields: continuum model of pre-metastatic niches and tumour-derived signalling fields.

Public interface (DESIGN 6)::

    import fields
    p = fields.Parameters()
    tree = fields.simulate(p, sites=["lung", "bone_marrow"], days=3650, geometry="2d", seed=0)
    ds = fields.sweep("studies/lead_time.toml", store="lead_time.zarr")
"""

from __future__ import annotations

import os

# FiPy picks its solver suite at import time; pin SciPy so runs are reproducible everywhere.
os.environ.setdefault("FIPY_SOLVERS", "scipy")

__version__ = "0.1.0"

from fields import output as _output  # noqa: F401  (simulate's result builder, import-time)
from fields.errors import FieldsInputError, NumericalError, ParameterError
from fields.parameters import Parameters, load_parameters

# Binding the function after the submodule import makes ``fields.simulate`` the function.
from fields.simulate import simulate
from fields.sites import SITE_NAMES
from fields.sweep import sweep

__all__ = [
    "SITE_NAMES",
    "FieldsInputError",
    "NumericalError",
    "ParameterError",
    "Parameters",
    "__version__",
    "load_parameters",
    "simulate",
    "sweep",
]
