"""Validated, frozen configuration: facility categories, walking speeds, walk rules.

Standards are data: every threshold and tag filter lives in ``configs/*.yaml``. This module
loads those files with ``yaml.safe_load``, validates them with pydantic and returns frozen
objects. Errors name the file and the key path of every problem.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from radius._errors import ConfigError
from radius._limits import load_yaml

__all__ = [
    "CONFIG_DIR",
    "DEFAULT_THRESHOLD_BASIS",
    "Category",
    "SpeedProfile",
    "SpeedProfiles",
    "Threshold",
    "ThresholdBasis",
    "WalkRules",
    "load_categories",
    "load_speed_profiles",
    "load_walk_rules",
    "resolve_speed",
    "validate_file",
]


CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
"""The ``configs/`` folder of the source tree (also shipped beside an editable install)."""

ThresholdBasis = Literal["time", "distance"]
DEFAULT_THRESHOLD_BASIS: ThresholdBasis = "distance"
"""Compliance is checked at GB 50180-2018's walking distances unless ``"time"`` is asked
(5 min ≈ 300 m, 10 min ≈ 500 m, 15 min 800–1,000 m, the profile choosing within the range)."""
ModelT = TypeVar("ModelT", bound=BaseModel)
TagValue = str | list[str] | bool
CapacityField = Literal["floor_area_m2", "land_area_m2", "beds", "places"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Threshold(_Frozen):
    """One life-circle level of a category.

    Attributes
    ----------
    minutes : float
        Walking time of the level (minutes); also the level's label in column names.
    metres : float
        The walking distance the standard gives for the level (metres).
    """

    minutes: float = Field(gt=0)
    metres: float = Field(gt=0)

    @property
    def label(self) -> str:
        """Label used in column names, e.g. ``"5min"`` or ``"7.5min"``."""
        value = f"{self.minutes:g}"
        return f"{value}min"

    def distance_m(
        self, speed_m_s: float, basis: ThresholdBasis = DEFAULT_THRESHOLD_BASIS
    ) -> float:
        """Walking distance of this level in metres.

        Parameters
        ----------
        speed_m_s : float
            Walking speed (m/s), used when ``basis == "time"``.
        basis : {"time", "distance"}
            ``"time"`` converts the minutes with the speed; ``"distance"`` uses the metres.
        """
        if basis == "distance":
            return self.metres
        return self.minutes * 60.0 * speed_m_s


class Category(_Frozen):
    """A facility category with its names, GB 50180 tier, thresholds and OSM tag filters.

    ``tier`` is the GB 50180-2018 life-circle level the facility type belongs to (附录 B:
    ``5min``, ``10min``, ``15min``); ``aliases`` are everyday type names an inventory may
    write for it (养老院, 托儿所, 菜市场, ...).
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    tier: str | None = None
    aliases: tuple[str, ...] = ()
    thresholds: tuple[Threshold, ...] = Field(min_length=1)
    osm_tags: tuple[dict[str, TagValue], ...] = ()
    capacity_fields: tuple[CapacityField, ...] = ()
    osm_capacity_field: CapacityField | None = None
    """Which capacity column the OSM ``capacity=*`` tag fills for this category."""

    @field_validator("thresholds")
    @classmethod
    def _ascending(cls, value: tuple[Threshold, ...]) -> tuple[Threshold, ...]:
        minutes = [t.minutes for t in value]
        if minutes != sorted(set(minutes)):
            raise ValueError("thresholds must be listed once each, in ascending minutes")
        metres = [t.metres for t in value]
        if metres != sorted(set(metres)):
            raise ValueError(
                "threshold metres must grow with the minutes (a longer walk is a longer "
                f"distance); got {metres}"
            )
        return value

    def max_distance_m(
        self, speed_m_s: float, basis: ThresholdBasis = DEFAULT_THRESHOLD_BASIS
    ) -> float:
        """The largest threshold of the category in metres."""
        return max(t.distance_m(speed_m_s, basis) for t in self.thresholds)

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Whether an OSM feature with these tags belongs to the category."""
        return any(_filter_matches(f, tags) for f in self.osm_tags)


def _filter_matches(tag_filter: Mapping[str, TagValue], tags: Mapping[str, str]) -> bool:
    for key, wanted in tag_filter.items():
        value = tags.get(key)
        if wanted is False:
            # `key: false` means the feature must not carry the key at all.
            if value is not None:
                return False
            continue
        if value is None:
            return False
        if wanted is True:
            continue
        allowed = [wanted] if isinstance(wanted, str) else wanted
        if value not in allowed:
            return False
    return True


class _CategoryFile(_Frozen):
    categories: tuple[Category, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> _CategoryFile:
        ids = [c.id for c in self.categories]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"category ids must be unique; repeated: {', '.join(duplicates)}")
        owner: dict[str, str] = {}
        for category in self.categories:
            for name in (category.id, category.name_zh, category.name_en, *category.aliases):
                key = unicodedata.normalize("NFKC", name).strip().casefold()
                if owner.setdefault(key, category.id) != category.id:
                    raise ValueError(
                        f"type name {name!r} of category {category.id} is already a name of "
                        f"category {owner[key]}: an inventory's 类别 must name one category"
                    )
        return self


class SpeedProfile(_Frozen):
    """A named walking speed."""

    speed_m_s: float = Field(gt=0.1, lt=5.0)
    name_zh: str
    name_en: str
    source: str
    source_zh: str | None = None


class SpeedProfiles(_Frozen):
    """All walking-speed profiles and the name of the default one."""

    default: str
    profiles: dict[str, SpeedProfile] = Field(min_length=1)
    groups: dict[str, str] = Field(default_factory=dict)
    """Demand-group id -> the profile of its walking speed in the time-based view."""

    @model_validator(mode="after")
    def _default_exists(self) -> SpeedProfiles:
        if self.default not in self.profiles:
            raise ValueError(f"default profile {self.default!r} is not among the profiles")
        unknown = {g: p for g, p in self.groups.items() if p not in self.profiles}
        if unknown:
            raise ValueError(f"groups name unknown speed profiles: {unknown}")
        return self

    def group_speed(self, group: str, run_speed_m_s: float) -> float:
        """The walking speed (m/s) of a demand group: its profile's, if slower than the run's.

        A group without a profile of its own (residents, households) walks at the run's
        speed; a group's speed never exceeds the run's, whose reach was computed.
        """
        name = self.groups.get(group)
        if name is None:
            return run_speed_m_s
        return min(self.profiles[name].speed_m_s, run_speed_m_s)


class WalkRules(_Frozen):
    """Which OSM ways count as walkable (see ``configs/walkable.yaml``)."""

    include: frozenset[str]
    include_with_sidewalk: frozenset[str] = frozenset()
    sidewalk_keys: tuple[str, ...] = ()
    no_sidewalk_values: frozenset[str] = frozenset()
    foot_permitted_values: frozenset[str] = frozenset()
    exclude_tags: dict[str, frozenset[str]] = Field(default_factory=dict)

    def is_walkable(self, tags: Mapping[str, str]) -> bool:
        """Whether a way with these tags may be walked on."""
        highway = tags.get("highway")
        if highway is None:
            return False
        foot_permitted = tags.get("foot") in self.foot_permitted_values
        if highway in self.exclude_tags.get("highway", frozenset()):
            return False
        if not foot_permitted:
            for key, values in self.exclude_tags.items():
                if key != "highway" and tags.get(key) in values:
                    return False
        if highway in self.include:
            return True
        if highway in self.include_with_sidewalk:
            if foot_permitted:
                return True
            return any(
                k in tags and tags[k] not in self.no_sidewalk_values for k in self.sidewalk_keys
            )
        return False


def _format_validation_error(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: invalid configuration ({error.error_count()} problem(s)):"]
    for item in error.errors():
        key_path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  - {key_path}: {item['msg']}")
    lines.append("Fix these keys and run again.")
    return "\n".join(lines)


def _read_yaml(path: Path) -> Any:
    return load_yaml(path, "configuration file", ConfigError)


def validate_file(model: type[ModelT], path: Path, context: dict[str, Any] | None = None) -> ModelT:
    """Read a YAML file and validate it with ``model``; errors name the file and keys.

    ``context`` is handed to the model's validators (e.g. ``base_dir`` for relative paths).
    """
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(path, exc)) from None


@lru_cache(maxsize=16)
def _load_categories_cached(path: Path) -> tuple[Category, ...]:
    return validate_file(_CategoryFile, path).categories


def load_categories(
    path: str | Path | None = None, ids: Sequence[str] | None = None
) -> tuple[Category, ...]:
    """Load and validate the facility categories.

    Parameters
    ----------
    path : str or Path, optional
        A categories YAML file; defaults to ``configs/categories.yaml``.
    ids : sequence of str, optional
        Keep only these category ids, in this order.

    Returns
    -------
    tuple of Category

    Raises
    ------
    ConfigError
        If the file is invalid or an id is unknown.
    """
    resolved = Path(path) if path is not None else CONFIG_DIR / "categories.yaml"
    categories = _load_categories_cached(resolved.resolve())
    if ids is None:
        return categories
    by_id = {c.id: c for c in categories}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise ConfigError(
            f"unknown category id(s) {', '.join(map(repr, unknown))}; "
            f"known ids in {resolved}: {', '.join(by_id)}"
        )
    return tuple(by_id[i] for i in ids)


@lru_cache(maxsize=16)
def _load_speed_profiles_cached(path: Path) -> SpeedProfiles:
    return validate_file(SpeedProfiles, path)


def load_speed_profiles(path: str | Path | None = None) -> SpeedProfiles:
    """Load the walking-speed profiles (default ``configs/speed_profiles.yaml``)."""
    resolved = Path(path) if path is not None else CONFIG_DIR / "speed_profiles.yaml"
    return _load_speed_profiles_cached(resolved.resolve())


def resolve_speed(profile: str | None = None, speed_m_s: float | None = None) -> float:
    """Walking speed (m/s) from an explicit value or a named profile.

    Parameters
    ----------
    profile : str, optional
        A profile name from ``configs/speed_profiles.yaml``; the default profile if omitted.
    speed_m_s : float, optional
        An explicit speed (m/s); wins over ``profile``.
    """
    if speed_m_s is not None:
        if not 0.1 < speed_m_s < 5.0:
            raise ConfigError(f"walking speed {speed_m_s} m/s is implausible; use 0.1–5 m/s")
        return float(speed_m_s)
    profiles = load_speed_profiles()
    name = profile or profiles.default
    if name not in profiles.profiles:
        raise ConfigError(
            f"unknown speed profile {name!r}; choose one of {', '.join(profiles.profiles)}"
        )
    return profiles.profiles[name].speed_m_s


@lru_cache(maxsize=16)
def _load_walk_rules_cached(path: Path) -> WalkRules:
    return validate_file(WalkRules, path)


def load_walk_rules(path: str | Path | None = None) -> WalkRules:
    """Load the walkability rules (default ``configs/walkable.yaml``)."""
    resolved = Path(path) if path is not None else CONFIG_DIR / "walkable.yaml"
    return _load_walk_rules_cached(resolved.resolve())
