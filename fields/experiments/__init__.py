"""Experiments: one run (:func:`simulate`), studies and their sweeps on Dask (a sweep is a
``run`` dimension), and Sobol sensitivity analysis."""

from fields.experiments.run import simulate
from fields.experiments.store import STATUS_DONE, STATUS_FAILED, failed_runs, open_sweep
from fields.experiments.study import Study, load_study, study_from_dict
from fields.experiments.sweep import sweep

__all__ = [
    "STATUS_DONE",
    "STATUS_FAILED",
    "Study",
    "failed_runs",
    "load_study",
    "open_sweep",
    "simulate",
    "study_from_dict",
    "sweep",
]
