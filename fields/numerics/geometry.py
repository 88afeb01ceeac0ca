"""FiPy meshes of a representative tissue patch and their capillary layouts (lengths in um).

- ``2d``: a square patch (default 1000 x 1000 um at 10 um); capillaries run perpendicular to the
  plane through voxels placed on a jittered lattice with the site's intercapillary spacing
  (seeded RNG, so a layout is fully defined by parameters and seed).
- ``krogh``: the axisymmetric Krogh cylinder, a ``CylindricalGrid1D`` from the capillary wall r_c
  to R = half the intercapillary spacing; the wall is a boundary.
- ``3d``: a cube (default 500 um at 10 um) crossed by straight capillaries along z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import fipy as fp
import numpy as np
from scipy import ndimage

from fields.core.errors import FieldsInputError
from fields.parameters import GEOMETRIES, GeometryParameters, SiteParameters


@dataclass
class Patch:
    """A meshed tissue patch with its capillaries. Arrays are in FiPy cell order."""

    kind: str
    mesh: fp.meshes.mesh.Mesh
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    coords: dict[str, np.ndarray]
    cell_volumes: np.ndarray
    vessel: np.ndarray  # bool: cell holds (2d/3d) or touches (krogh) a capillary
    exchange_area_per_volume: np.ndarray  # um^-1: capillary wall area per cell volume
    distance_to_wall_um: np.ndarray
    wall_faces: object | None = None  # krogh: FiPy face mask of the capillary wall
    extra: dict = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        return int(self.cell_volumes.size)

    @property
    def volume_fraction(self) -> np.ndarray:
        """Cell volumes normalised to sum to one (weights for patch means)."""
        return self.cell_volumes / self.cell_volumes.sum()

    def to_grid(self, values: np.ndarray) -> np.ndarray:
        """FiPy cell order -> array shaped like ``dims``."""
        return np.asarray(values).reshape(self.shape)


def _jittered_lattice(length: float, spacing: float, rng: np.random.Generator) -> np.ndarray:
    """Capillary centres (n, 2) in a square of side ``length`` at mean ``spacing``."""
    n = max(1, round(length / spacing))
    step = length / n
    centres = (np.arange(n) + 0.5) * step
    xx, yy = np.meshgrid(centres, centres, indexing="xy")
    points = np.column_stack([xx.ravel(), yy.ravel()])
    points += rng.uniform(-0.3 * step, 0.3 * step, size=points.shape)
    return np.clip(points, 0.0, np.nextafter(length, 0.0))


def make_2d(site: SiteParameters, g: GeometryParameters, seed: int) -> Patch:
    h = g.resolution_um
    n = max(2, round(g.domain_um / h))
    mesh = fp.Grid2D(nx=n, ny=n, dx=h, dy=h)
    rng = np.random.default_rng(seed)
    points = _jittered_lattice(n * h, site.capillary_spacing_um, rng)
    ij = np.floor(points / h).astype(int)
    vessel2 = np.zeros((n, n), dtype=bool)
    vessel2[ij[:, 1], ij[:, 0]] = True
    dist = ndimage.distance_transform_edt(~vessel2) * h
    wall = np.maximum(dist - g.capillary_radius_um, 0.0)
    area = np.where(vessel2, 2.0 * math.pi * g.capillary_radius_um / h**2, 0.0)
    centres = (np.arange(n) + 0.5) * h
    return Patch(
        kind="2d",
        mesh=mesh,
        dims=("y", "x"),
        shape=(n, n),
        coords={"y": centres, "x": centres.copy()},
        cell_volumes=np.asarray(mesh.cellVolumes, dtype=float),
        vessel=vessel2.ravel(),
        exchange_area_per_volume=area.ravel(),
        distance_to_wall_um=wall.ravel(),
    )


def make_krogh(site: SiteParameters, g: GeometryParameters) -> Patch:
    rc = g.capillary_radius_um
    outer = site.capillary_spacing_um / 2.0
    n = g.krogh_cells
    dr = (outer - rc) / n
    mesh = fp.CylindricalGrid1D(nr=n, dr=dr, origin=rc)
    r = np.asarray(mesh.cellCenters[0], dtype=float)
    vols = np.asarray(mesh.cellVolumes, dtype=float)  # r * dr: per radian and unit length
    vessel = np.zeros(n, dtype=bool)
    vessel[0] = True
    area = np.zeros(n)
    area[0] = rc / vols[0]  # wall area r_c (per radian, unit length) over first-cell volume
    return Patch(
        kind="krogh",
        mesh=mesh,
        dims=("r",),
        shape=(n,),
        coords={"r": r},
        cell_volumes=vols,
        vessel=vessel,
        exchange_area_per_volume=area,
        distance_to_wall_um=r - rc,
        wall_faces=mesh.facesLeft,
    )


def make_3d(site: SiteParameters, g: GeometryParameters, seed: int) -> Patch:
    h = g.resolution_um
    n = max(2, round(g.domain_3d_um / h))
    mesh = fp.Grid3D(nx=n, ny=n, nz=n, dx=h, dy=h, dz=h)
    rng = np.random.default_rng(seed)
    points = _jittered_lattice(n * h, site.capillary_spacing_um, rng)
    ij = np.floor(points / h).astype(int)
    plane = np.zeros((n, n), dtype=bool)
    plane[ij[:, 1], ij[:, 0]] = True
    vessel3 = np.broadcast_to(plane, (n, n, n)).copy()
    dist = ndimage.distance_transform_edt(~plane) * h
    wall = np.broadcast_to(np.maximum(dist - g.capillary_radius_um, 0.0), (n, n, n))
    area = np.where(vessel3, 2.0 * math.pi * g.capillary_radius_um / h**2, 0.0)
    centres = (np.arange(n) + 0.5) * h
    return Patch(
        kind="3d",
        mesh=mesh,
        dims=("z", "y", "x"),
        shape=(n, n, n),
        coords={"z": centres, "y": centres.copy(), "x": centres.copy()},
        cell_volumes=np.asarray(mesh.cellVolumes, dtype=float),
        vessel=vessel3.ravel(),
        exchange_area_per_volume=area.ravel(),
        distance_to_wall_um=np.ascontiguousarray(wall).ravel(),
    )


def make_patch(kind: str, site: SiteParameters, g: GeometryParameters, seed: int) -> Patch:
    """Build the patch of one site in the requested geometry (mesh limits are checked before,
    by :func:`fields.parameters.check_geometry`)."""
    if kind == "2d":
        return make_2d(site, g, seed)
    if kind == "krogh":
        return make_krogh(site, g)
    if kind == "3d":
        return make_3d(site, g, seed)
    raise FieldsInputError(f"geometry = {kind!r} is not allowed: one of {', '.join(GEOMETRIES)}")
