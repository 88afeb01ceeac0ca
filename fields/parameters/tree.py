"""The typed, validated parameter tree: every value with its unit, its source and a confidence.

Keys are dotted paths (``primary.tvdt_days``, ``sites.lung.capillary_spacing_um``,
``species.vegf.diffusivity_um2_per_s``) and are the same in Python
(:meth:`Parameters.with_updates`), TOML files (:func:`fields.load_parameters`) and at the CLI
(``--set key=value``). ``sites`` and ``species`` are open collections filled from data files; a
new member is declared by giving all of its required keys.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fields.core.errors import FieldsInputError, ParameterError
from fields.parameters import datafiles
from fields.parameters.collections import COLLECTIONS
from fields.parameters.datafiles import USER, Provenance
from fields.parameters.dissemination import AssayParameters, DisseminationParameters
from fields.parameters.groups import (
    DTCParameters,
    LesionParameters,
    OxygenParameters,
    PrimaryParameters,
    StromaParameters,
)
from fields.parameters.settings import (
    GeometryParameters,
    SteppingParameters,
    TransportParameters,
)
from fields.parameters.sites import SiteParameters
from fields.parameters.spec import validate_dataclass
from fields.parameters.species import SpeciesParameters
from fields.parameters.therapies import THERAPIES, InterventionParameters
from fields.parameters.updates import apply_updates, flatten, get_dotted

GROUPS = (
    "primary",
    "dissemination",
    "assays",
    "oxygen",
    "stroma",
    "dtc",
    "lesions",
    "geometry",
    "transport",
    "stepping",
    "interventions",
    "species",
    "sites",
)


def _packaged(kind: str) -> tuple[dict[str, Any], dict[str, Provenance]]:
    values: dict[str, Any] = {}
    provenance: dict[str, Provenance] = {}
    for name in datafiles.catalog()[kind]:
        values[name], inner = datafiles.packaged(kind, name)
        provenance.update(inner)
    return values, provenance


def default_species() -> dict[str, SpeciesParameters]:
    """The packaged diffusing factors, keyed by name."""
    return {name: SpeciesParameters(**v) for name, v in _packaged("species")[0].items()}


def default_sites() -> dict[str, SiteParameters]:
    """The packaged organ sites, keyed by name."""
    return {name: SiteParameters(**v) for name, v in _packaged("sites")[0].items()}


def default_provenance() -> dict[str, Provenance]:
    """Sources of the packaged site and species values, keyed by dotted path."""
    return {**_packaged("species")[1], **_packaged("sites")[1]}


@dataclass(frozen=True)
class Parameters:
    """The full, validated parameter tree. Immutable: use :meth:`with_updates`."""

    primary: PrimaryParameters = field(default_factory=PrimaryParameters)
    dissemination: DisseminationParameters = field(default_factory=DisseminationParameters)
    assays: AssayParameters = field(default_factory=AssayParameters)
    oxygen: OxygenParameters = field(default_factory=OxygenParameters)
    stroma: StromaParameters = field(default_factory=StromaParameters)
    dtc: DTCParameters = field(default_factory=DTCParameters)
    lesions: LesionParameters = field(default_factory=LesionParameters)
    geometry: GeometryParameters = field(default_factory=GeometryParameters)
    transport: TransportParameters = field(default_factory=TransportParameters)
    stepping: SteppingParameters = field(default_factory=SteppingParameters)
    interventions: InterventionParameters = field(default_factory=InterventionParameters)
    species: Mapping[str, SpeciesParameters] = field(default_factory=default_species)
    sites: Mapping[str, SiteParameters] = field(default_factory=default_sites)
    #: dotted key -> where its value comes from, for values whose source is not the schema's
    provenance: Mapping[str, Provenance] = field(
        default_factory=default_provenance, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for name in GROUPS:
            if name in COLLECTIONS:
                for member, value in getattr(self, name).items():
                    _validate_tree(value, f"{name}.{member}")
            else:
                _validate_tree(getattr(self, name), name)
        check_consistency(self)

    # ----------------------------------------------------------------------------- conversion
    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict of every value (None for 'none')."""
        return {name: _to_plain(getattr(self, name)) for name in GROUPS}

    def to_json(self) -> str:
        """The full resolved tree as JSON (stored in every output's root attributes)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Parameters:
        """Defaults updated with a (possibly partial, nested or dotted) dict, e.g. a tree stored
        by :meth:`to_json`; values equal to the defaults keep their sources."""
        return cls().with_updates(flatten(values))

    @classmethod
    def from_json(cls, text: str) -> Parameters:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FieldsInputError(f"parameters JSON does not parse: {exc}") from None
        if not isinstance(data, dict):
            raise FieldsInputError("parameters JSON is not an object of parameter groups")
        return cls.from_dict(data)

    def with_updates(self, updates: Mapping[str, Any]) -> Parameters:
        """A new tree with dotted keys replaced, e.g. ``{"primary.tvdt_days": 80.0}``.

        A value may be a ``{value, source, confidence}`` table; a plain value is recorded as set
        by the user (confidence ``user``)."""
        tree, provenance = apply_updates(self.to_dict(), dict(self.provenance), updates)
        return _build(tree, provenance)

    def get(self, key: str) -> Any:
        """Value at a dotted key."""
        return get_dotted(self.to_dict(), key)

    def leaves(self) -> Iterator[tuple[str, Any, str, str]]:
        """(dotted key, value, unit, source) for every leaf, in tree order."""
        for key, value, unit, source, _confidence in self.sourced_leaves():
            yield key, value, unit, source

    def sourced_leaves(self) -> Iterator[tuple[str, Any, str, str, str]]:
        """(dotted key, value, unit, source, confidence) for every leaf, in tree order."""
        for name in GROUPS:
            group = getattr(self, name)
            if name in COLLECTIONS:
                for member, value in group.items():
                    yield from self._leaves(value, f"{name}.{member}")
            else:
                yield from self._leaves(group, name)

    def _leaves(self, obj: Any, prefix: str) -> Iterator[tuple[str, Any, str, str, str]]:
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            key = f"{prefix}.{f.name}"
            if dataclasses.is_dataclass(value):
                yield from self._leaves(value, key)
                continue
            meta = f.metadata
            items = value.items() if meta["kind"] is dict else [(None, value)]
            for sub, item in items:
                full = key if sub is None else f"{key}.{sub}"
                known = self.provenance.get(full)
                source, confidence = known or (meta["source"], meta["confidence"])
                yield full, item, str(meta["unit"]), str(source), str(confidence)

    @property
    def species_names(self) -> tuple[str, ...]:
        """The declared diffusing factors, in order."""
        return tuple(self.species)


def check_consistency(p: Parameters) -> None:
    """Raise :class:`ParameterError` naming the first key that contradicts another."""
    if not p.species:
        raise ParameterError("species", {}, "at least one declared diffusing factor")
    if not p.sites:
        raise ParameterError("sites", {}, "at least one organ site")
    for name, s in p.species.items():
        needs = {
            "linear": ("doubling_burden_cells",),
            "saturating": ("plasma_max_increase_pg_per_ml", "half_saturation_cells"),
        }.get(s.plasma_source_law, ())
        for key in needs:
            if getattr(s, key) is None:
                raise ParameterError(
                    f"species.{name}.{key}",
                    None,
                    f"a value: the {s.plasma_source_law} plasma source law needs it",
                )
    radius = p.geometry.capillary_radius_um
    for name, site in p.sites.items():
        if site.capillary_spacing_um / 2.0 <= radius:
            raise ParameterError(
                f"sites.{name}.capillary_spacing_um",
                site.capillary_spacing_um,
                f"more than twice geometry.capillary_radius_um ({radius:g} um)",
            )
        for factor, rate in site.resident_secretion_pg_per_ml_per_s.items():
            if factor not in p.species:
                raise ParameterError(
                    f"sites.{name}.resident_secretion_pg_per_ml_per_s.{factor}",
                    rate,
                    "a rate of a declared species: " + ", ".join(p.species),
                )
    for name in THERAPIES:
        window = getattr(p.interventions, name)
        if window.end_day is not None and window.duration_days is not None:
            raise ParameterError(
                f"interventions.{name}.duration_days",
                window.duration_days,
                f"none when interventions.{name}.end_day is given ({window.end_day:g} day): "
                "a window ends at end_day or after duration_days, not both",
            )
        if window.start_day is not None and window.end_day is not None:
            if window.end_day < window.start_day:
                raise ParameterError(
                    f"interventions.{name}.end_day",
                    window.end_day,
                    f">= interventions.{name}.start_day ({window.start_day:g} day)",
                )
    if p.stepping.dt_min_days > p.stepping.dt_max_days:
        raise ParameterError(
            "stepping.dt_min_days",
            p.stepping.dt_min_days,
            f"<= stepping.dt_max_days ({p.stepping.dt_max_days:g} day)",
        )
    if p.primary.initial_cells >= p.primary.carrying_capacity_cells:
        raise ParameterError(
            "primary.initial_cells",
            p.primary.initial_cells,
            f"< primary.carrying_capacity_cells ({p.primary.carrying_capacity_cells:g})",
        )


# --------------------------------------------------------------------------------- helpers
def _validate_tree(obj: Any, prefix: str) -> None:
    validate_dataclass(obj, prefix)
    for f in dataclasses.fields(obj):
        child = getattr(obj, f.name)
        if dataclasses.is_dataclass(child):
            _validate_tree(child, f"{prefix}.{f.name}")


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: _to_plain(v) for k, v in obj.items()}
    return obj


def _member(schema: type, key: str, values: Any) -> Any:
    """A collection member from its values; missing or unknown keys are one clear error."""
    if not isinstance(values, Mapping):
        raise ParameterError(key, values, f"a table of {schema.__name__} keys")
    fields_ = {f.name: f for f in dataclasses.fields(schema)}
    unknown = sorted(set(values) - set(fields_))
    if unknown:
        raise ParameterError(
            f"{key}.{unknown[0]}",
            values[unknown[0]],
            f"a key of {key.split('.')[0]}: {', '.join(fields_)}",
            unknown=True,
        )
    missing = [
        n
        for n, f in fields_.items()
        if n not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ParameterError(
            f"{key}.{missing[0]}",
            None,
            f"a value: a new member of '{key.split('.')[0]}' needs every required key "
            f"({', '.join(missing)} missing)",
        )
    return schema(**values)


def _build(tree: dict[str, Any], provenance: Mapping[str, Provenance]) -> Parameters:
    kwargs: dict[str, Any] = {}
    types = {f.name: f for f in dataclasses.fields(Parameters)}
    for name in GROUPS:
        if name in COLLECTIONS:
            kwargs[name] = {
                member: _member(COLLECTIONS[name], f"{name}.{member}", values)
                for member, values in tree[name].items()
            }
        elif name == "interventions":
            iv = tree[name]
            windows = {f.name: f for f in dataclasses.fields(InterventionParameters)}
            kwargs[name] = InterventionParameters(
                **{key: type(f.default_factory())(**iv[key]) for key, f in windows.items()}  # type: ignore[misc]
            )
        else:
            cls = type(types[name].default_factory())  # type: ignore[misc]
            kwargs[name] = cls(**tree[name])
    return Parameters(**kwargs, provenance=dict(provenance))


__all__ = ["COLLECTIONS", "GROUPS", "USER", "Parameters", "default_sites", "default_species"]
