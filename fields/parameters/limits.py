"""Mesh-size limits, checked for the geometry a run uses and for no other.

Beyond these a run needs more memory than it should take (measured: a 3d 50^3 lung patch peaks
at about 1 GiB, and sparse LU fill-in grows faster than the cell count in 2d).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fields.core.errors import FieldsInputError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from fields.parameters.tree import Parameters

GEOMETRIES = ("2d", "krogh", "3d")
MAX_CELLS = {"2d": 4.0e6, "krogh": 1.0e5, "3d": 1.0e6}


def mesh_cells(p: Parameters, geometry: str) -> tuple[float, tuple[str, ...]]:
    """Cells of the patch mesh of ``geometry`` and the keys that set that number."""
    g = p.geometry
    if geometry == "2d":
        return (g.domain_um / g.resolution_um) ** 2, (
            "geometry.resolution_um",
            "geometry.domain_um",
        )
    if geometry == "3d":
        cells = (g.domain_3d_um / g.resolution_um) ** 3
        return cells, ("geometry.resolution_um", "geometry.domain_3d_um")
    if geometry == "krogh":
        return float(g.krogh_cells), ("geometry.krogh_cells",)
    raise FieldsInputError(
        f"geometry = {geometry!r} is not allowed: one of {', '.join(GEOMETRIES)}"
    )


def check_geometry(p: Parameters, geometry: str) -> None:
    """Refuse a mesh of ``geometry`` beyond its cell limit, naming the key that sets it."""
    from fields.parameters.tree import Parameters

    cells, keys = mesh_cells(p, geometry)
    limit = MAX_CELLS[geometry]
    if cells > limit:
        defaults = Parameters()
        changed = [k for k in keys if p.get(k) != defaults.get(k)]
        key = (changed or keys)[0]  # name the value the user set
        together = (
            f" together with {', '.join(k for k in keys if k != key)}" if len(keys) > 1 else ""
        )
        raise ParameterError(
            key,
            p.get(key),
            f"a value giving at most {limit:.0e} cells in the {geometry} geometry{together} "
            f"(this gives {cells:.3g}; a finer mesh needs more memory than a run should take)",
        )
