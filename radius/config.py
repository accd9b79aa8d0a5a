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
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from radius._errors import ConfigError
from radius._limits import load_yaml
from radius.i18n import Message, message

__all__ = [
    "CONFIG_DIR",
    "DEFAULT_THRESHOLD_BASIS",
    "Category",
    "Loc",
    "SpeedProfile",
    "SpeedProfiles",
    "Threshold",
    "ThresholdBasis",
    "WalkRules",
    "field_path",
    "key_problem",
    "load_categories",
    "load_speed_profiles",
    "load_walk_rules",
    "pydantic_problem",
    "pydantic_problems",
    "resolve_speed",
    "validate_file",
    "yaml_kind",
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
            raise ValueError(message("config_thresholds_order"))
        metres = [t.metres for t in value]
        if metres != sorted(set(metres)):
            shown = ", ".join(f"{m:g}" for m in metres)
            raise ValueError(message("config_threshold_metres_order", metres=shown))
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
            raise ValueError(message("config_category_ids_repeated", ids=", ".join(duplicates)))
        owner: dict[str, str] = {}
        for category in self.categories:
            for name in (category.id, category.name_zh, category.name_en, *category.aliases):
                key = unicodedata.normalize("NFKC", name).strip().casefold()
                if owner.setdefault(key, category.id) != category.id:
                    raise ValueError(
                        message(
                            "config_category_name_taken",
                            name=repr(name),
                            category_id=category.id,
                            owner=owner[key],
                        )
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
            raise ValueError(
                message(
                    "config_default_profile_unknown",
                    name=repr(self.default),
                    known=", ".join(self.profiles),
                )
            )
        unknown = {g: p for g, p in self.groups.items() if p not in self.profiles}
        if unknown:
            listed = ", ".join(f"{g}: {p}" for g, p in unknown.items())
            raise ValueError(
                message(
                    "config_group_profiles_unknown", unknown=listed, known=", ".join(self.profiles)
                )
            )
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


class TagLookup(Protocol):
    """What :meth:`WalkRules.is_walkable` reads of a way's tags: a ``dict`` or pyosmium's
    own ``TagList`` (looked up in place, without copying the tags)."""

    def get(self, key: str, /) -> str | None: ...

    def __contains__(self, key: str, /) -> bool: ...

    def __getitem__(self, key: str, /) -> str: ...


class WalkRules(_Frozen):
    """Which OSM ways count as walkable (see ``configs/walkable.yaml``)."""

    include: frozenset[str]
    include_with_sidewalk: frozenset[str] = frozenset()
    sidewalk_keys: tuple[str, ...] = ()
    no_sidewalk_values: frozenset[str] = frozenset()
    foot_permitted_values: frozenset[str] = frozenset()
    exclude_tags: dict[str, frozenset[str]] = Field(default_factory=dict)

    def is_walkable(self, tags: TagLookup) -> bool:
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


# --------------------------------------------------------------------------------------
# pydantic's problems as message ids: a YAML file's errors in the user's language
# --------------------------------------------------------------------------------------

Loc = tuple[str | int, ...]
"""Where a problem is in a YAML file: keys and list positions, outermost first."""

#: The ``loc`` parts pydantic adds for the member of a union it tried (``str``,
#: ``dict[str,...]``, ``function-after[...]``); they are no keys of the file.
_UNION_MEMBERS = frozenset(
    {"str", "int", "float", "bool", "bytes", "none", "list", "dict", "tuple", "set", "frozenset"}
)
_UNION_MEMBER_PREFIXES = ("constrained-", "function-", "lax-or-strict", "json-or-python")

#: pydantic error types with a message ``pydantic_<type>`` of their own.
PYDANTIC_TYPES = frozenset(
    {
        *("missing", "extra_forbidden", "int_parsing", "int_type", "int_from_float"),
        *("float_parsing", "float_type", "finite_number", "bool_parsing", "bool_type"),
        *("string_type", "string_pattern_mismatch", "string_too_short", "string_too_long"),
        *("greater_than", "greater_than_equal", "less_than", "less_than_equal"),
        *("too_short", "too_long", "dict_type", "list_type", "tuple_type", "set_type"),
        *("frozen_set_type", "model_type", "path_type"),
    }
)
_LIMITS = ("gt", "ge", "lt", "le")
_SHOWN_CHARS = 60


def _is_union_member(part: str | int) -> bool:
    return isinstance(part, str) and (
        part in _UNION_MEMBERS or "[" in part or part.startswith(_UNION_MEMBER_PREFIXES)
    )


def field_path(loc: Sequence[str | int]) -> str:
    """The YAML key path of a pydantic ``loc``: ``("districts", 2, "population")`` ->
    ``"districts[2].population"`` (union members pydantic tried left out; ``""`` for the
    top level)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _is_union_member(part):
            text += f".{part}" if text else str(part)
    return text


def _field(loc: Sequence[str | int]) -> str | Message:
    return field_path(loc) or message("config_top_level")


def key_problem(loc: Sequence[str | int], problem: str) -> Message:
    """One line of a file's problem list: ``  - key.path: problem``."""
    return message("config_problem_line", field=_field(loc), problem=problem)


def yaml_kind(value: object) -> str:
    """What a YAML value is, in words (for "expected a mapping, got a list")."""
    kinds = {list: "list", str: "text", bool: "bool", int: "number", float: "number"}
    kind = kinds.get(type(value))
    if value is None:
        return message("yaml_kind_empty")
    if kind is None:
        return type(value).__name__
    return message(f"yaml_kind_{kind}")


def _shown(value: object) -> str | Message:
    """A value the user wrote, as a message shows it (long values cut short)."""
    if value is None:
        return message("yaml_kind_empty")
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _choices(expected: str, value: object) -> Message:
    """A literal or enum error: pydantic's ``"'a', 'b' or 'c'"`` as a list of choices."""
    head, _, last = expected.rpartition(" or ")
    if not head:
        return message("pydantic_literal_one", expected=expected, value=_shown(value))
    return message("pydantic_literal_error", choices=head, last=last, value=_shown(value))


def pydantic_problem(item: ErrorDetails) -> Message:
    """What one pydantic error says, as a message id (without where it is).

    A problem our own validators raise (``ValueError(message(...))``) is that message; the
    common pydantic types each have a message ``pydantic_<type>`` (with the limit, length
    or pattern of the error and the value the user gave); any other type keeps pydantic's
    own English text as a value of ``pydantic_other``.
    """
    kind = item["type"]
    ctx: dict[str, Any] = dict(item.get("ctx") or {})
    if kind in ("value_error", "assertion_error"):
        error = ctx.get("error")
        note = error.args[0] if isinstance(error, BaseException) and error.args else None
        if isinstance(note, Message):
            return note
    if kind in ("literal_error", "enum") and isinstance(ctx.get("expected"), str):
        return _choices(ctx["expected"], item.get("input"))
    if kind in PYDANTIC_TYPES:
        params: dict[str, Any] = {"value": _shown(item.get("input"))}
        params.update((name, ctx[name]) for name in ctx if name.endswith("_length"))
        params.update(("limit", _number(ctx[name])) for name in _LIMITS if name in ctx)
        if "pattern" in ctx:
            params["pattern"] = ctx["pattern"]
        try:
            return message(f"pydantic_{kind}", **params)
        except ConfigError:  # a ctx this pydantic version words differently
            pass
    text = item["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message("pydantic_other", text=text)


def pydantic_problems(error: ValidationError, prefix: Loc = ()) -> tuple[tuple[Loc, Message], ...]:
    """Every problem of a :class:`~pydantic.ValidationError`: where (``prefix`` + its
    ``loc``) and what, as message ids (see :func:`pydantic_problem`)."""
    return tuple(
        ((*prefix, *item["loc"]), pydantic_problem(item))
        for item in error.errors(include_url=False)
    )


def _problem_lines(error: ValidationError) -> tuple[Message, ...]:
    return tuple(key_problem(loc, problem) for loc, problem in pydantic_problems(error))


def _read_yaml(path: Path) -> Any:
    return load_yaml(path, "configuration file", ConfigError)


def validate_file(model: type[ModelT], path: Path, context: dict[str, Any] | None = None) -> ModelT:
    """Read a YAML file and validate it with ``model``; errors name the file and keys.

    ``context`` is handed to the model's validators (e.g. ``base_dir`` for relative paths).
    """
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(message("config_not_mapping", file=str(path), kind=yaml_kind(data)))
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        lines = _problem_lines(exc)
        raise ConfigError(
            message("config_invalid", file=str(path), n=len(lines), problems=lines)
        ) from None


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
            message(
                "config_unknown_category_ids",
                ids=", ".join(map(repr, unknown)),
                file=str(resolved),
                known=", ".join(by_id),
            )
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
            raise ConfigError(message("config_speed_implausible", speed=speed_m_s))
        return float(speed_m_s)
    profiles = load_speed_profiles()
    name = profile or profiles.default
    if name not in profiles.profiles:
        raise ConfigError(
            message(
                "config_speed_profile_unknown", name=repr(name), known=", ".join(profiles.profiles)
            )
        )
    return profiles.profiles[name].speed_m_s


@lru_cache(maxsize=16)
def _load_walk_rules_cached(path: Path) -> WalkRules:
    return validate_file(WalkRules, path)


def load_walk_rules(path: str | Path | None = None) -> WalkRules:
    """Load the walkability rules (default ``configs/walkable.yaml``)."""
    resolved = Path(path) if path is not None else CONFIG_DIR / "walkable.yaml"
    return _load_walk_rules_cached(resolved.resolve())
