"""One run: the engine's time loop, returned as the output DataTree."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import xarray as xr

from fields.core.errors import FieldsInputError, NumericalError
from fields.engine.loop import DEFAULT_SITES, run
from fields.io.tree import build_tree
from fields.parameters import Parameters
from fields.parameters.batch import ParameterBatch


def simulate(
    params: Parameters | None = None,
    sites: Sequence[str] = DEFAULT_SITES,
    days: float = 3650.0,
    geometry: str = "2d",
    seed: int = 0,
    output_every_days: float = 30.0,
    store_fields: bool = True,
    progress: bool | None = False,
    checkpoint: str | Path | None = None,
    checkpoint_every_days: float | None = None,
    resume: bool = False,
) -> xr.DataTree:
    """Run the coupled model and return its DataTree (see :mod:`fields.io.tree`).

    Parameters
    ----------
    params
        The parameter tree; default :class:`fields.Parameters()`.
    sites
        Organ-site names declared in ``params.sites``.
    days
        Horizon (day).
    geometry
        ``2d``, ``krogh`` or ``3d``; only this geometry's mesh limits are checked.
    seed
        Fixes the capillary layouts (the only randomness of a run).
    output_every_days
        Outputs land exactly on multiples of this (day) and on the last day.
    store_fields
        False keeps only time series and scalars.
    progress
        Show a bar (None: only on a terminal).
    checkpoint, checkpoint_every_days, resume
        A file to which the full state is written (atomically) every ``checkpoint_every_days``
        (default 365 day); with ``resume=True`` an existing checkpoint of the same run is
        continued, bit for bit as if never interrupted.

    Raises
    ------
    fields.FieldsInputError
        Bad input (unknown site or geometry, a mesh beyond its limit, ...).
    fields.NumericalError
        NaN, Inf or a bound violation, naming the site, variable, day and likely cause.
    """
    p = Parameters() if params is None else params
    if not isinstance(p, Parameters):
        raise FieldsInputError(f"params = {type(p).__name__} is not allowed: a fields.Parameters")
    record = run(  # a batch of one: the same code path as every run of simulate_batch
        p,
        sites=sites,
        days=days,
        geometry=geometry,
        seed=seed,
        output_every_days=output_every_days,
        store_fields=store_fields,
        keep="full",
        progress=progress,
        checkpoint=checkpoint,
        checkpoint_every_days=checkpoint_every_days,
        resume=resume,
    )
    if record.errors:
        raise NumericalError(record.errors[0])
    return build_tree(record.run_record(0))


def simulate_batch(
    params: Sequence[Parameters] | ParameterBatch,
    sites: Sequence[str] = DEFAULT_SITES,
    days: float = 3650.0,
    geometry: str = "krogh",
    seed: int = 0,
    output_every_days: float = 30.0,
    store_fields: bool = True,
    progress: bool | None = False,
) -> list[xr.DataTree]:
    """Run many parameter sets as one batch (any geometry) and return one DataTree per run,
    each equal to :func:`simulate`'s of the same set. The sets may differ only in numbers.

    Raises
    ------
    fields.FieldsInputError
        Bad input, or sets that differ in more than numbers.
    fields.NumericalError
        The first run that failed a numerical guard (its index in the message).
    """
    record = run(
        params,
        sites=sites,
        days=days,
        geometry=geometry,
        seed=seed,
        output_every_days=output_every_days,
        store_fields=store_fields,
        keep="full",
        progress=progress,
    )
    if record.errors:
        first = min(record.errors)
        raise NumericalError(f"run {first}: {record.errors[first]}")
    return [build_tree(record.run_record(i)) for i in range(record.size)]
