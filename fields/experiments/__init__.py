"""Experiments: one run (:func:`simulate`), studies and their sweeps on Dask (a sweep is a
``run`` dimension), Sobol sensitivity analysis, virtual patient cohorts (a ``patient``
dimension), their survival curves, and calibration against published targets."""

from fields.experiments.population.calibration import calibrate
from fields.experiments.population.calibration_file import load_calibration
from fields.experiments.population.cohort import cohort, open_cohort
from fields.experiments.population.cohort_file import load_cohort
from fields.experiments.run import simulate
from fields.experiments.store import STATUS_DONE, STATUS_FAILED, failed_runs, open_sweep
from fields.experiments.study import Study, load_study, study_from_dict
from fields.experiments.sweep import sweep

__all__ = [
    "STATUS_DONE",
    "STATUS_FAILED",
    "Study",
    "calibrate",
    "cohort",
    "failed_runs",
    "load_calibration",
    "load_cohort",
    "load_study",
    "open_cohort",
    "open_sweep",
    "simulate",
    "study_from_dict",
    "sweep",
]
