"""The open collections of the parameter tree: group name -> schema of one member."""

from __future__ import annotations

from fields.parameters.sites import SiteParameters
from fields.parameters.species import SpeciesParameters

COLLECTIONS: dict[str, type] = {"species": SpeciesParameters, "sites": SiteParameters}
