"""The output contract: a finished run as an ``xarray.DataTree`` with CF attributes.

``/`` holds the systemic series (dim ``time``, days: the primary, plasma factors, and the
patient's ``p_metastatic``, ``expected_detectable_lesions``, ``metastatic_burden_cells``), the
scalars ``diagnosis_day``, ``resection_day`` and ``death_day`` (NaN when the event does not
happen) and the run's provenance in attributes (``parameters`` as JSON, ``seed``,
``fields_version``, ``created``, ``species``, the ``steps`` taken and the largest local error
estimate ``max_local_error`` of the step controller); ``/<site>`` holds the site's series (among them
``expected_detectable_lesions``, ``p_detectable_metastasis``, ``metastasis_cells``), its
``lesion_density`` (dims ``time``, ``lesion_size``), its static capillary mask, its fields (dims
``time`` then ``y, x`` (2d), ``r`` (krogh) or ``z, y, x`` (3d), coordinates in um) and
``time_to_outgrowth_days``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
from typing import Any

import numpy as np
import xarray as xr

with contextlib.suppress(ImportError):  # xarray imports dask on first use when it is installed;
    import dask.array  # noqa: F401  # pay that at import, not inside the first simulation

from fields.core.version import __version__
from fields.engine.record import RunRecord
from fields.io.attrs import attrs_for


def build_tree(run: RunRecord) -> xr.DataTree:
    """Assemble the result tree from a finished run."""
    p = run.params
    attrs = attrs_for(p)

    def var(name: str, dims: tuple[str, ...], data: Any) -> xr.Variable:
        units, long_name = attrs[name]
        return xr.Variable(dims, data, attrs={"units": units, "long_name": long_name})

    def coord(name: str, values: np.ndarray) -> xr.Variable:
        return var(name, (name,), np.asarray(values, dtype=float))

    time = coord("time", np.array(run.times))
    scalars = {
        "diagnosis_day": run.resection_day,
        "resection_day": run.resection_day,
        "death_day": run.death_day,
    }
    root = xr.Dataset(
        {
            **{name: var(name, ("time",), np.array(v)) for name, v in run.systemic.items()},
            **{name: var(name, (), float(value)) for name, value in scalars.items()},
        },
        coords={"time": time},
        attrs={
            "title": "fields: pre-metastatic niche simulation",
            "Conventions": "CF-1.10",
            "parameters": p.to_json(),
            "seed": int(run.seed),
            "fields_version": __version__,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "geometry": run.geometry,
            "sites": ",".join(run.sites),
            "species": ",".join(p.species),
            "days": float(run.days),
            "events": json.dumps([[float(t), label] for t, label in run.events]),
            "dissemination_onset_day": (
                float(run.onset_day) if math.isfinite(run.onset_day) else -1.0
            ),
            "steps": int(run.steps),
            "step_controller": p.stepping.controller,
            "max_local_error": float(run.max_error),
        },
    )
    children: dict[str, xr.Dataset] = {"/": root}
    for name, patch in run.patches.items():
        variables: dict[str, xr.Variable] = {
            key: var(key, ("time",), np.array(values))
            for key, values in run.site_series[name].items()
        }
        variables["vessel"] = var("vessel", patch.dims, patch.to_grid(patch.vessel.astype(np.int8)))
        variables["time_to_outgrowth_days"] = var(
            "time_to_outgrowth_days", (), float(run.outgrowth[name])
        )
        if name in run.density:  # a sweep's runs keep the series only
            variables["lesion_density"] = var(
                "lesion_density", ("time", "lesion_size"), np.array(run.density[name])
            )
        for key, frames in run.fields.get(name, {}).items():
            variables[key] = var(key, ("time", *patch.dims), np.asarray(frames))  # a view
        coords = {dim: coord(dim, patch.coords[dim]) for dim in patch.dims}
        coords["lesion_size"] = coord("lesion_size", run.lesion_sizes)
        site = p.sites[name]
        children[f"/{name}"] = xr.Dataset(
            variables,
            coords=coords,
            attrs={
                "site": name,
                "organ_volume_ml": site.organ_volume_ml,
                "baseline_stiffness_kpa": site.baseline_stiffness_kpa,
                "vessel_po2_mmhg": site.vessel_po2_mmhg,
            },
        )
    return xr.DataTree.from_dict(children)
