"""Parameters as data: the schema of every leaf (unit, source, confidence, allowed values), the
defaults, the organ-site and species data files, loading, validation and the bibliography."""

from fields.parameters.datafiles import Provenance, catalog
from fields.parameters.dissemination import AssayParameters, DisseminationParameters
from fields.parameters.groups import (
    TVDT_PRESETS_DAYS,
    DTCParameters,
    LesionParameters,
    OxygenParameters,
    PrimaryParameters,
    StromaParameters,
)
from fields.parameters.limits import GEOMETRIES, check_geometry
from fields.parameters.loading import load_parameters, read_toml
from fields.parameters.settings import (
    GeometryParameters,
    SteppingParameters,
    TransportParameters,
)
from fields.parameters.sites import SiteParameters
from fields.parameters.species import SpeciesParameters
from fields.parameters.therapies import InterventionParameters, TherapyWindow, VesselNormalisation
from fields.parameters.tree import Parameters
from fields.parameters.updates import flatten

#: The packaged organ sites, in order.
SITE_NAMES: tuple[str, ...] = catalog()["sites"]
#: The packaged diffusing factors, in order.
SPECIES_NAMES: tuple[str, ...] = catalog()["species"]

__all__ = [
    "GEOMETRIES",
    "SITE_NAMES",
    "SPECIES_NAMES",
    "TVDT_PRESETS_DAYS",
    "AssayParameters",
    "DTCParameters",
    "DisseminationParameters",
    "GeometryParameters",
    "InterventionParameters",
    "LesionParameters",
    "OxygenParameters",
    "Parameters",
    "PrimaryParameters",
    "Provenance",
    "SiteParameters",
    "SpeciesParameters",
    "SteppingParameters",
    "StromaParameters",
    "TherapyWindow",
    "TransportParameters",
    "VesselNormalisation",
    "check_geometry",
    "flatten",
    "load_parameters",
    "read_toml",
]
