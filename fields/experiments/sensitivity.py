"""Sobol sensitivity indices of a sweep's outputs (SALib), with 95 % confidence intervals."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from fields.experiments.study import Study

#: Expected lesion numbers below this count as this in log10 (one patient in a million).
LESION_FLOOR = 1e-6


def sensitivity_output(study: Study, ds: xr.Dataset, name: str) -> dict[str, np.ndarray]:
    """Scalar per run for Sobol analysis, labelled 'site/name' or 'name'.

    Series use their last value; cell counts (``*_total``, ``tumour_cells``) are analysed as
    log10(max(count, 1)) and expected lesions as log10(max(n, 1e-6)) because they span many
    decades; a time that never happens (NaN) counts
    as the horizon (right-censored), so every run has a finite output.
    """
    da = ds[name]
    if "time" in da.dims:
        da = da.isel(time=-1)
    if da.attrs.get("units") == "day":
        da = da.fillna(study.days)
    if name.endswith("_total") or name == "tumour_cells":
        da = np.log10(np.maximum(da, 1.0))
        name = f"log10_{name}"
    elif name.endswith("_lesions"):  # expected numbers of lesions span decades below one too
        da = np.log10(np.maximum(da, LESION_FLOOR))
        name = f"log10_{name}"
    if "site" in da.dims:
        return {f"{s}/{name}": da.sel(site=s).values for s in ds["site"].values}
    return {name: da.values}


def sobol_indices(study: Study, ds: xr.Dataset) -> xr.Dataset:
    """First-order and total Sobol indices with 95 % confidence intervals (SALib)."""
    from SALib.analyze import sobol

    problem = study.salib_problem()
    labels, rows = [], {"S1": [], "S1_conf": [], "ST": [], "ST_conf": []}
    for name in study.sensitivity_outputs:
        for label, y in sensitivity_output(study, ds, name).items():
            y = np.asarray(y, dtype=float)
            if np.ptp(y) == 0.0:
                res = {k: np.zeros(problem["num_vars"]) for k in rows}
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    res = sobol.analyze(
                        problem,
                        y,
                        calc_second_order=False,
                        conf_level=0.95,
                        seed=study.seed,
                        print_to_console=False,
                    )
            labels.append(label)
            for key in rows:
                rows[key].append(np.asarray(res[key], dtype=float))
    coords = {
        "sobol_output": xr.Variable(
            ("sobol_output",), np.array(labels, dtype=str), attrs={"long_name": "output analysed"}
        ),
        "parameter": xr.Variable(
            ("parameter",),
            np.array(problem["names"], dtype=str),
            attrs={"long_name": "varied parameter"},
        ),
    }
    long = {
        "S1": "first-order Sobol index",
        "S1_conf": "95 % confidence half-width of the first-order Sobol index",
        "ST": "total-order Sobol index",
        "ST_conf": "95 % confidence half-width of the total-order Sobol index",
    }
    data = {
        f"sobol_{key}": xr.Variable(
            ("sobol_output", "parameter"),
            np.array(values),
            attrs={"units": "1", "long_name": long[key]},
        )
        for key, values in rows.items()
    }
    return xr.Dataset(data, coords=coords)
