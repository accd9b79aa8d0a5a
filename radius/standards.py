"""Provision standards as validated data: life-circle levels and ratio and coverage rules.

A *standard profile* is a YAML file in ``configs/standards/`` (or anywhere, given its path).
It defines the life-circle levels of GB 50180-2018 and the rules a district is checked
against: a ratio (m² per resident, m² per 100 households, places per 1,000 residents) or a
coverage share (per cent of residents within a category's threshold). Every rule carries its
unit, level, source document and clause, and a status saying how sure the value is.

A profile may ``extends:`` another one (a province on the national profile): it inherits the
levels and rules, changes values, sources, status and notes under ``overrides:`` and may add
rules of its own. Loading validates everything against the facility categories and raises one
:class:`~radius._errors.ConfigError` that names the file and the key path of every problem.

Examples
--------
>>> from radius.standards import load_standard
>>> national = load_standard("national")
>>> rule = national.rule("elderly_rooms_per_100hh")
>>> rule.group  # a per-100-households rule counts households
'households'
>>> rule.required(2000, "new")  # m² of floor area for 2,000 households
600.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from radius._errors import ConfigError, InputError
from radius.config import (
    CONFIG_DIR,
    Category,
    Loc,
    _read_yaml,
    field_path,
    load_categories,
    pydantic_problems,
    yaml_kind,
)
from radius.i18n import Message, error_message, message

__all__ = [
    "GROUPS",
    "STANDARDS_DIR",
    "AreaType",
    "Conversion",
    "Conversions",
    "Group",
    "Level",
    "Metric",
    "Range",
    "Rule",
    "Scope",
    "Source",
    "StandardProfile",
    "Status",
    "Supply",
    "UnitLevel",
    "list_standards",
    "load_standard",
]

STANDARDS_DIR = CONFIG_DIR / "standards"
"""The folder of the named standard profiles (``configs/standards/``)."""

Metric = Literal[
    "per_capita", "per_100_households", "per_1000", "per_1000_residents", "coverage", "unit_share"
]
Supply = Literal["land_area_m2", "floor_area_m2", "beds", "places", "facilities", "units"]
Status = Literal["confirmed", "unverified", "assumed"]
AreaType = Literal["new", "old"]
Group = Literal[
    "residents", "households", "aged_60_plus", "aged_65_plus", "aged_0_3", "aged_3_6", "disabled"
]
"""Demand-group ids (``configs/demand_groups.yaml``): whom a rule counts."""
Scope = Literal["catchment", "jurisdiction"]
"""Whether a rule counts supply within a walking catchment or across the whole jurisdiction."""
UnitLevel = Literal["community", "subdistrict"]
"""The planner's unit a unit-share rule counts: 社区/村 (community) or 街道/乡镇 (subdistrict)."""

GROUPS: tuple[str, ...] = (
    "residents",
    "households",
    "aged_60_plus",
    "aged_65_plus",
    "aged_0_3",
    "aged_3_6",
    "disabled",
)
"""Every demand-group id, in order."""

_ID_PATTERN = r"^[a-z][a-z0-9_]*$"
_LEVEL_ID_PATTERN = r"^[a-z0-9][a-z0-9_]*$"
_OVERRIDABLE = (
    "value_new",
    "value_old",
    "value_max",
    "threshold",
    "includes",
    "min_site",
    "source",
    "status",
    "note",
    "note_zh",
)
_VALUE_FIELDS = frozenset({"value_new", "value_old", "value_max"})
_CONTEXT_KEY = "radius_standard"


@dataclass(frozen=True)
class _Context:
    """What a profile file is checked against while pydantic validates it."""

    categories: Mapping[str, Category]
    levels: frozenset[str]
    base_rules: Mapping[str, Rule] = field(default_factory=dict)
    base_name: str | None = None


def _context(info: ValidationInfo) -> _Context | None:
    if isinstance(info.context, dict):
        value = info.context.get(_CONTEXT_KEY)
        if isinstance(value, _Context):
            return value
    return None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Frozen):
    """Where a level or rule comes from.

    Attributes
    ----------
    document : str
        The document title (standard, plan or policy), e.g.
        ``"GB 50180-2018 城市居住区规划设计标准"`` or ``"宿州市"十四五"公共服务规划"``.
    clause : str
        The chapter, section, box (专栏), clause or table within it; empty when not known.
    quote : str
        The sentence of the document that states the rule, verbatim (a plan in traditional
        characters is quoted as written); empty when not quoted.
    plan : str or None
        The file name, in the plans folder (``../shared/plans/``), of the plain text the
        quote is taken from, e.g. ``"suzhou_anhui_public_services_14th_fyp.txt"``; a test
        checks that every quote of a confirmed rule appears in it.
    """

    document: str = Field(min_length=1)
    clause: str = ""
    quote: str = ""
    plan: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+\.txt$")

    def __str__(self) -> str:
        return f"{self.document} {self.clause}".strip()


class Range(_Frozen):
    """A closed range ``min``–``max`` (equal bounds for a single value)."""

    min: float = Field(ge=0, allow_inf_nan=False)
    max: float = Field(ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.max < self.min:
            raise ValueError(
                message("standard_range_order", max=f"{self.max:g}", min=f"{self.min:g}")
            )
        return self

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int | float) and self.min <= value <= self.max


class Level(_Frozen):
    """A life-circle level (生活圈居住区) of GB 50180-2018.

    Attributes
    ----------
    id : str
        Level id, e.g. ``"15min"`` or ``"block"``.
    name_zh, name_en : str
        Names in Chinese and English.
    walk_m : Range or None
        Walking distance of the level (metres); None for the residential block (居住街坊).
    distance_m : float or None
        The walking distance (metres) this profile tests for the level when thresholds are
        the standard's distances (``threshold_basis="distance"``): within ``walk_m`` (GB 50180
        gives 800–1,000 m for 15 minutes; the profile chooses). It replaces the metres of
        every category threshold with the level's id as label.
    residents : Range
        Resident population of the level (persons).
    households : Range
        Dwellings of the level (GB 50180 counts 套住宅; radius treats them as households).
    source : Source
        Document and clause.
    status : {"confirmed", "unverified", "assumed"}
        How sure the figures and the clause are.
    note, note_zh : str or None
        Remarks in English and in Chinese (both or neither).
    """

    id: str = Field(pattern=_LEVEL_ID_PATTERN)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    walk_m: Range | None = None
    distance_m: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    residents: Range
    households: Range
    source: Source
    status: Status
    note: str | None = None
    note_zh: str | None = None

    @model_validator(mode="after")
    def _distance_within_walk(self) -> Level:
        _both_languages(self.note, self.note_zh)
        if self.distance_m is not None:
            if self.walk_m is None:
                raise ValueError(message("standard_level_no_walk", level=self.id))
            if self.distance_m not in self.walk_m:
                raise ValueError(
                    message(
                        "standard_distance_outside_walk",
                        distance=f"{self.distance_m:g}",
                        low=f"{self.walk_m.min:g}",
                        high=f"{self.walk_m.max:g}",
                    )
                )
        return self


class Rule(_Frozen):
    """A provision rule: a ratio, coverage or unit-share target for one facility category.

    Attributes
    ----------
    id : str
        Rule id, used in output columns (``{id}_required``, ``{id}_shortfall``).
    name_zh, name_en : str
        Names in Chinese and English.
    category : str
        Facility category id (``configs/categories.yaml``).
    metric : {"per_capita", "per_100_households", "per_1000", "per_1000_residents", \
"coverage", "unit_share"}
        How the requirement scales with the rule's demand ``group``: per person (or
        household) of the group, per 100 households, per 1,000 of the group
        (``per_1000_residents`` is the same, kept for older profiles), a share (per cent) of
        the group within the threshold, or a share (per cent) of the planner's units
        (``unit_level``) that meet another rule (``of_rule``) or hold a facility of a
        category inside them (``presence``).
    supply : {"land_area_m2", "floor_area_m2", "beds", "places", "facilities", "units"}
        The facility capacity that counts as supply; ``"facilities"`` for coverage rules,
        ``"units"`` for unit-share rules.
    group : str
        The demand group the rule counts (see :data:`GROUPS`): ratios are per this group
        (beds per 1,000 of ``aged_60_plus``), coverage shares are shares of it. Defaults to
        ``households`` for ``per_100_households`` rules and ``residents`` otherwise.
    value_new, value_old : float
        Targets for new (新区) and old, built-up (老区、已建成) residential areas, in ``unit``.
    value_max : float or None
        An upper option of the target, if the source gives one.
    unit : str
        Unit of the values, e.g. ``"m² per 100 households"`` (data, printed by reports).
    level : str
        The life-circle level (GB 50180 tier) id the rule applies to.
    threshold : str or None
        The category threshold label (e.g. ``"15min"``) whose catchment counts as supply;
        None only for ``presence`` unit-share rules.
    unit_level : {"community", "subdistrict"} or None
        Unit-share rules only: the units whose share is counted.
    of_rule : str or None
        Unit-share rules only: the rule a unit must meet.
    presence : str or None
        Unit-share rules only: the facility category a unit must hold inside it.
    min_site : float or None
        The smallest single facility that counts, in the supply's unit (e.g. 350 m² of floor
        area for an Anhui community elderly room); smaller facilities are reported, not counted.
    includes : tuple of str
        Categories of other GB 50180 tiers that count for this rule too (a profile's choice,
        e.g. day-care centres within the 15-minute elderly circle). Empty by default: tiers
        do not include each other. For a catchment rule each must have the rule's threshold.
    scope : {"catchment", "jurisdiction"}
        ``catchment``: supply within the threshold counts (2SFCA or coverage);
        ``jurisdiction``: a plan's jurisdiction-wide figure (人均体育场地面积, beds per 1,000
        elderly), compared with the supply located inside the districts, not a walking
        catchment.
    source : Source
        Document, section and quoted sentence.
    status : {"confirmed", "unverified", "assumed"}
        ``confirmed``: the quote is found in the cited plan text (``source.plan``);
        ``unverified``: value believed right but not checked against the text; ``assumed``:
        a planning choice of this profile.
    note, note_zh : str or None
        Remarks (caveats, the reasoning behind a choice) in English and in Chinese: a
        report or app in either language prints its own, so a rule with a note has both.
    """

    id: str = Field(pattern=_ID_PATTERN)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    category: str
    metric: Metric
    supply: Supply
    group: Group = "residents"
    value_new: float = Field(ge=0, allow_inf_nan=False)
    value_old: float = Field(ge=0, allow_inf_nan=False)
    value_max: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    unit: str = Field(min_length=1)
    level: str
    threshold: str | None = None
    unit_level: UnitLevel | None = None
    of_rule: str | None = Field(default=None, pattern=_ID_PATTERN)
    presence: str | None = None
    min_site: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    scope: Scope = "catchment"
    includes: tuple[str, ...] = ()
    source: Source
    status: Status
    note: str | None = None
    note_zh: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_group(cls, data: Any) -> Any:
        if isinstance(data, dict) and "group" not in data:
            per_household = data.get("metric") == "per_100_households"
            return {**data, "group": "households" if per_household else "residents"}
        return data

    @field_validator("category", "presence")
    @classmethod
    def _known_category(cls, value: str | None, info: ValidationInfo) -> str | None:
        context = _context(info)
        if value is not None and context is not None and value not in context.categories:
            known = ", ".join(context.categories) or message("standard_none")
            raise ValueError(message("standard_unknown_category", value=repr(value), known=known))
        return value

    @field_validator("supply")
    @classmethod
    def _supply_fits_metric(cls, value: str, info: ValidationInfo) -> str:
        metric = info.data.get("metric")
        wanted = {"coverage": "facilities", "unit_share": "units"}.get(str(metric))
        if wanted is not None and value != wanted:
            raise ValueError(
                message("standard_supply_for_metric", metric=metric, wanted=wanted, value=value)
            )
        if metric is not None and wanted is None and value in ("facilities", "units"):
            raise ValueError(message("standard_supply_capacity", metric=metric, value=value))
        return value

    @field_validator("value_new", "value_old")
    @classmethod
    def _share_at_most_100(cls, value: float, info: ValidationInfo) -> float:
        metric = info.data.get("metric")
        if metric in ("coverage", "unit_share") and value > 100:
            raise ValueError(message("standard_share_over_100", metric=metric, value=f"{value:g}"))
        return value

    @field_validator("value_max")
    @classmethod
    def _max_not_below_new(cls, value: float | None, info: ValidationInfo) -> float | None:
        value_new = info.data.get("value_new")
        if value is not None and value_new is not None and value < value_new:
            raise ValueError(
                message("standard_max_below_new", value=f"{value:g}", value_new=f"{value_new:g}")
            )
        return value

    @field_validator("level")
    @classmethod
    def _known_level(cls, value: str, info: ValidationInfo) -> str:
        context = _context(info)
        if context is not None and value not in context.levels:
            known = ", ".join(sorted(context.levels)) or message("standard_none")
            raise ValueError(message("standard_unknown_level", value=repr(value), known=known))
        return value

    @field_validator("threshold")
    @classmethod
    def _known_threshold(cls, value: str | None, info: ValidationInfo) -> str | None:
        context = _context(info)
        category = context.categories.get(info.data.get("category", "")) if context else None
        if category is not None and value is not None:
            labels = [t.label for t in category.thresholds]
            if value not in labels:
                raise ValueError(
                    message(
                        "standard_not_a_threshold",
                        value=repr(value),
                        category=category.id,
                        labels=", ".join(labels),
                    )
                )
        return value

    @field_validator("includes")
    @classmethod
    def _known_includes(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        context = _context(info)
        if context is None:
            return value
        threshold = info.data.get("threshold")
        for item in value:
            category = context.categories.get(item)
            if category is None:
                known = ", ".join(context.categories) or message("standard_none")
                raise ValueError(
                    message("standard_includes_unknown", value=repr(item), known=known)
                )
            labels = [t.label for t in category.thresholds]
            if info.data.get("scope", "catchment") == "catchment" and threshold not in labels:
                raise ValueError(
                    message(
                        "standard_includes_threshold",
                        category=item,
                        threshold=repr(threshold),
                        labels=", ".join(labels),
                    )
                )
        return value

    @model_validator(mode="after")
    def _fields_fit_metric(self) -> Rule:
        _both_languages(self.note, self.note_zh)
        share_fields = {"unit_level": self.unit_level, "of_rule": self.of_rule}
        share_fields["presence"] = self.presence
        if self.metric == "unit_share":
            if self.unit_level is None:
                raise ValueError(message("standard_unit_share_level"))
            if (self.of_rule is None) == (self.presence is None):
                raise ValueError(message("standard_unit_share_one_of"))
            if self.of_rule is not None and self.threshold is None:
                raise ValueError(message("standard_unit_share_threshold"))
        else:
            given = [key for key, value in share_fields.items() if value is not None]
            if given:
                raise ValueError(message("standard_share_keys_only", keys=", ".join(given)))
            if self.threshold is None and self.scope == "catchment":
                raise ValueError(message("standard_needs_threshold", metric=self.metric))
        if self.category in self.includes:
            raise ValueError(message("standard_includes_own", category=self.category))
        if self.scope == "jurisdiction" and self.metric in ("coverage", "unit_share"):
            raise ValueError(message("standard_jurisdiction_ratio", metric=self.metric))
        if self.min_site is not None and self.supply in ("facilities", "units"):
            raise ValueError(message("standard_min_site_supply"))
        if self.status == "confirmed" and not (self.source.quote and self.source.plan):
            raise ValueError(message("standard_confirmed_quote"))
        return self

    @property
    def categories(self) -> tuple[str, ...]:
        """The facility categories that count for the rule: its own, then ``includes``."""
        return (self.category, *self.includes)

    def value(self, area_type: AreaType) -> float:
        """The target for a new (``"new"``) or old (``"old"``) residential area, in ``unit``."""
        if area_type == "new":
            return self.value_new
        if area_type == "old":
            return self.value_old
        raise InputError(message("standard_area_type", rule=self.id, value=repr(area_type)))

    def required(self, group_count: float, area_type: AreaType) -> float:
        """The supply a residential area needs under this rule, in the rule's ``unit`` basis.

        Parameters
        ----------
        group_count : float
            The count of the rule's ``group`` in the area: persons (residents, aged 60+,
            ...), households for a ``households`` rule, or units for a unit-share rule.
        area_type : {"new", "old"}
            New (新区) or old, built-up (老区) residential area.

        Returns
        -------
        float
            ``per_capita``: value × count; ``per_100_households``: value × count / 100;
            ``per_1000`` (and ``per_1000_residents``): value × count / 1000 (all in the
            supply's own unit, e.g. m² or places); ``coverage``: the persons of the group who
            must live within the threshold, i.e. the target share (per cent) × count;
            ``unit_share``: the units that must meet the rule, share × count.

        Raises
        ------
        InputError
            If ``area_type`` is neither ``"new"`` nor ``"old"``, or the count is negative or
            not finite.
        """
        if not math.isfinite(group_count) or group_count < 0:
            raise InputError(
                message("standard_count_invalid", rule=self.id, group=self.group, count=group_count)
            )
        value = self.value(area_type)
        if self.metric == "per_capita":
            return value * group_count
        if self.metric == "per_100_households":
            return value * group_count / 100.0
        if self.metric in ("per_1000", "per_1000_residents"):
            return value * group_count / 1000.0
        return value / 100.0 * group_count


class Conversion(_Frozen):
    """A conversion factor of a profile (persons per household, floor area per person).

    Attributes
    ----------
    value : float
        The factor, in the unit its key names.
    source : Source
        Where it comes from (census bulletin, plan).
    status : {"confirmed", "unverified", "assumed"}
        How sure it is.
    note, note_zh : str or None
        Remarks in English and in Chinese (both or neither).
    """

    value: float = Field(gt=0, allow_inf_nan=False)
    source: Source
    status: Status
    note: str | None = None
    note_zh: str | None = None

    @model_validator(mode="after")
    def _notes(self) -> Conversion:
        _both_languages(self.note, self.note_zh)
        return self


class Conversions(_Frozen):
    """The factors a profile uses when residents are estimated.

    Attributes
    ----------
    persons_per_household : Conversion or None
        Persons per household: households from residents and back.
    floor_area_per_person_m2 : Conversion or None
        Residential floor area per person (m²): residents from building floor area.
    """

    persons_per_household: Conversion | None = None
    floor_area_per_person_m2: Conversion | None = None

    def merged(self, child: Conversions) -> Conversions:
        """These conversions with the ones ``child`` sets replacing them."""
        return Conversions(
            persons_per_household=child.persons_per_household or self.persons_per_household,
            floor_area_per_person_m2=(
                child.floor_area_per_person_m2 or self.floor_area_per_person_m2
            ),
        )


class _Override(_Frozen):
    """Changes a profile file makes to a rule it inherits."""

    id: str
    value_new: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    value_old: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    value_max: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    threshold: str | None = None
    includes: tuple[str, ...] | None = None
    min_site: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    source: Source | None = None
    status: Status | None = None
    note: str | None = None
    note_zh: str | None = None

    @field_validator("id")
    @classmethod
    def _inherited(cls, value: str, info: ValidationInfo) -> str:
        context = _context(info)
        # Without a base profile the file-level check reports the overrides instead.
        if context is not None and context.base_name and value not in context.base_rules:
            known = ", ".join(context.base_rules) or message("standard_none")
            raise ValueError(
                message(
                    "standard_override_unknown_rule",
                    value=repr(value),
                    base=context.base_name,
                    known=known,
                )
            )
        return value

    @model_validator(mode="after")
    def _values_carry_source(self) -> _Override:
        if ("note" in self.model_fields_set) != ("note_zh" in self.model_fields_set):
            raise ValueError(message("standard_override_note_both"))
        changed = _VALUE_FIELDS & self.model_fields_set
        if changed and not {"source", "status"} <= self.model_fields_set:
            raise ValueError(
                message("standard_override_needs_source", fields=", ".join(sorted(changed)))
            )
        return self

    def updates(self) -> dict[str, Any]:
        """The fields this override sets (``value_max: null`` removes an upper option)."""
        return {key: getattr(self, key) for key in _OVERRIDABLE if key in self.model_fields_set}


class _ProfileFile(_Frozen):
    """One profile YAML file as written."""

    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    description: str | None = None
    documents: tuple[str, ...] = ()
    extends: str | None = None
    conversions: Conversions = Conversions()
    levels: tuple[Level, ...] = ()
    rules: tuple[Rule, ...] = ()
    overrides: tuple[_Override, ...] = ()


class StandardProfile(_Frozen):
    """A resolved standard profile: its levels and rules after every ``extends``.

    Attributes
    ----------
    name : str
        Profile name (the file name without ``.yaml``).
    name_zh, name_en : str
        Names in Chinese and English.
    description : str or None
        What the profile is.
    documents : tuple of str
        The documents (plans, provincial rules) the profile draws on, base profile's first.
    extends : str or None
        Name of the profile it builds on.
    conversions : Conversions
        Persons per household and floor area per person, with their sources, used when
        residents are estimated (a child profile's replace its base's).
    files : tuple of Path
        The files read, base profile first.
    levels : tuple of Level
        Life-circle levels.
    rules : tuple of Rule
        Rules, inherited ones first, in file order.
    """

    name: str
    name_zh: str
    name_en: str
    description: str | None = None
    documents: tuple[str, ...] = ()
    extends: str | None = None
    conversions: Conversions = Conversions()
    files: tuple[Path, ...] = ()
    levels: tuple[Level, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> StandardProfile:
        problems = [
            *_duplicates("level", [level.id for level in self.levels]),
            *_duplicates("rule", [rule.id for rule in self.rules]),
        ]
        level_ids = {level.id for level in self.levels}
        problems.extend(
            message("standard_rule_unknown_level", rule=rule.id, value=repr(rule.level))
            for rule in self.rules
            if rule.level not in level_ids
        )
        rule_ids = {rule.id for rule in self.rules}
        problems.extend(
            message("standard_rule_unknown_of_rule", rule=rule.id, value=repr(rule.of_rule))
            for rule in self.rules
            if rule.of_rule is not None and rule.of_rule not in rule_ids
        )
        if problems:
            note = problems[0]
            for later in problems[1:]:
                note = message("standard_and", first=note, rest=later)
            raise ValueError(note)
        return self

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The rule ids, in order."""
        return tuple(rule.id for rule in self.rules)

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id.

        Raises
        ------
        ConfigError
            If the profile has no such rule.
        """
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise ConfigError(
            message(
                "standard_no_rule",
                name=self.name,
                rule=repr(rule_id),
                known=", ".join(self.rule_ids),
            )
        )

    def level(self, level_id: str) -> Level:
        """The life-circle level with this id.

        Raises
        ------
        ConfigError
            If the profile has no such level.
        """
        for level in self.levels:
            if level.id == level_id:
                return level
        known = ", ".join(level.id for level in self.levels)
        raise ConfigError(
            message("standard_no_level", name=self.name, level=repr(level_id), known=known)
        )

    def value(self, rule_id: str, area_type: AreaType) -> float:
        """The target of a rule for a new or old residential area, in the rule's ``unit``."""
        return self.rule(rule_id).value(area_type)

    def with_distances(self, categories: Sequence[Category]) -> tuple[Category, ...]:
        """The categories with the profile's walking distances (metres) for its levels.

        A category threshold whose label is a level id with ``distance_m`` takes that
        distance; the others keep the metres of ``configs/categories.yaml``.
        """
        chosen = {level.id: level.distance_m for level in self.levels if level.distance_m}
        result = []
        for category in categories:
            thresholds = tuple(
                t.model_copy(update={"metres": chosen[t.label]}) if t.label in chosen else t
                for t in category.thresholds
            )
            result.append(category.model_copy(update={"thresholds": thresholds}))
        return tuple(result)

    def rules_for(self, category: str) -> tuple[Rule, ...]:
        """The rules of one facility category."""
        return tuple(rule for rule in self.rules if rule.category == category)


def _both_languages(note: str | None, note_zh: str | None) -> None:
    """Raise unless a note is given in both languages or in neither."""
    if (note is None) != (note_zh is None):
        missing, given = ("note_zh", "note") if note_zh is None else ("note", "note_zh")
        raise ValueError(message("standard_note_one_language", given=given, missing=missing))


def _duplicates(kind: str, ids: Iterable[str]) -> list[Message]:
    seen: set[str] = set()
    repeated: list[str] = []
    for item in ids:
        if item in seen and item not in repeated:
            repeated.append(item)
        seen.add(item)
    what = message(f"standard_kind_{kind}")
    return [message("standard_id_repeated", kind=what, value=repr(item)) for item in repeated]


def list_standards() -> list[str]:
    """Names of the standard profiles in ``configs/standards/``, sorted."""
    return sorted(path.stem for path in STANDARDS_DIR.glob("*.yaml"))


def load_standard(
    name_or_path: str | Path = "national", *, categories: Sequence[Category] | None = None
) -> StandardProfile:
    """Load, resolve and validate a standard profile.

    Parameters
    ----------
    name_or_path : str or Path
        A profile name in ``configs/standards/`` (see :func:`list_standards`) or the path of
        a profile YAML file.
    categories : sequence of Category, optional
        The facility categories rules may refer to; defaults to
        :func:`radius.config.load_categories`.

    Returns
    -------
    StandardProfile
        Levels and rules after resolving the ``extends`` chain.

    Raises
    ------
    ConfigError
        If a file is missing, not YAML or not a mapping, an ``extends`` chain loops or names
        an unknown profile, or any key is invalid: one error naming the file and the key
        path of every problem (unknown category, threshold or level, metric and supply that
        do not fit, negative values, repeated ids, overrides of unknown rules, ...).
    """
    known = tuple(categories) if categories is not None else load_categories()
    by_id = {category.id: category for category in known}
    path = _resolve(name_or_path, None)
    # Profiles are immutable: one parse per file state serves every later call (the app's
    # what-ifs call this once per click; parsing and validating takes 0.1-0.3 s).
    key = (path, _stamp(path), tuple(category.model_dump_json() for category in known))
    profile = _PROFILES.get(key)
    if profile is None:
        profile = _load(path, by_id, ())
        if len(_PROFILES) >= 32:
            _PROFILES.clear()
        _PROFILES[key] = profile
    return profile


_PROFILES: dict[tuple[Any, ...], StandardProfile] = {}


def _stamp(path: Path) -> tuple[tuple[str, int, int], ...]:
    """The modification times and sizes of a profile and of every profile it may extend."""
    files = {path, *STANDARDS_DIR.glob("*.y*ml"), *path.parent.glob("*.y*ml")}
    stamps = []
    for file in sorted(files):
        try:
            status = file.stat()
            stamps.append((str(file), status.st_mtime_ns, status.st_size))
        except OSError:
            stamps.append((str(file), -1, -1))
    return tuple(stamps)


def _is_path(name_or_path: str | Path) -> bool:
    if isinstance(name_or_path, Path):
        return True
    return "/" in name_or_path or "\\" in name_or_path or name_or_path.endswith((".yaml", ".yml"))


def _resolve(name_or_path: str | Path, relative_to: Path | None) -> Path:
    """The file of a profile name or path; ``relative_to`` is the folder of an extending file."""
    if _is_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        return path.resolve()
    folders = [STANDARDS_DIR] if relative_to is None else [relative_to, STANDARDS_DIR]
    for folder in folders:
        candidate = folder / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(
        message(
            "standard_unknown_profile",
            name=repr(name_or_path),
            folder=str(STANDARDS_DIR),
            known=", ".join(list_standards()) or message("standard_none"),
        )
    )


def _load(
    path: Path, categories: Mapping[str, Category], chain: tuple[Path, ...]
) -> StandardProfile:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(message("standard_not_mapping", file=str(path), kind=yaml_kind(data)))
    base = _load_base(path, data.get("extends"), categories, (*chain, path))
    raw_level_ids = {
        item["id"] for item in _items(data.get("levels")) if isinstance(item.get("id"), str)
    }
    inherited_levels = {level.id for level in base.levels} if base else set()
    context = _Context(
        categories=categories,
        levels=frozenset(raw_level_ids | inherited_levels),
        base_rules={rule.id: rule for rule in base.rules} if base else {},
        base_name=base.name if base else None,
    )
    problems: list[tuple[Loc, Message]] = []
    parsed: _ProfileFile | None = None
    try:
        parsed = _ProfileFile.model_validate(data, context={_CONTEXT_KEY: context})
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc))
    problems.extend(_cross_check(data, base))
    rules, override_problems = _apply_overrides(data.get("overrides"), base, context)
    problems.extend(override_problems)
    if parsed is None or problems:
        raise ConfigError(_format_problems(path, problems))
    rules.update((rule.id, rule) for rule in parsed.rules)
    try:
        return StandardProfile(
            name=path.stem,
            name_zh=parsed.name_zh,
            name_en=parsed.name_en,
            description=parsed.description,
            documents=(*(base.documents if base else ()), *parsed.documents),
            extends=base.name if base else None,
            conversions=base.conversions.merged(parsed.conversions) if base else parsed.conversions,
            files=(*(base.files if base else ()), path),
            levels=(*(base.levels if base else ()), *parsed.levels),
            rules=tuple(rules.values()),
        )
    except ValidationError as exc:  # pragma: no cover - the checks above catch these first
        raise ConfigError(_format_problems(path, _pydantic_problems(exc))) from None


def _load_base(
    path: Path, extends: object, categories: Mapping[str, Category], chain: tuple[Path, ...]
) -> StandardProfile | None:
    if extends is None:
        return None
    if not isinstance(extends, str) or not extends.strip():
        raise ConfigError(message("standard_extends_invalid", file=str(path), value=repr(extends)))
    try:
        base_path = _resolve(extends, path.parent)
    except ConfigError as exc:
        raise ConfigError(
            message("standard_extends_error", file=str(path), problem=error_message(exc))
        ) from None
    if not base_path.is_file():
        raise ConfigError(message("standard_extends_no_file", file=str(path), base=str(base_path)))
    if base_path in chain:
        loop = " → ".join(p.name for p in (*chain[chain.index(base_path) :], base_path))
        raise ConfigError(message("standard_extends_loop", file=str(path), loop=loop))
    return _load(base_path, categories, chain)


def _items(value: object) -> list[dict[str, Any]]:
    """The mapping entries of a raw YAML list (anything else is left to pydantic)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _cross_check(
    data: Mapping[str, Any], base: StandardProfile | None
) -> list[tuple[Loc, Message]]:
    """Problems across entries, which pydantic (one entry at a time) cannot see."""
    problems: list[tuple[Loc, Message]] = []
    inherited = {
        "levels": {level.id for level in base.levels} if base else set(),
        "rules": {rule.id for rule in base.rules} if base else set(),
        "overrides": set(),
    }
    for key, known in inherited.items():
        raw = data.get(key)
        first: dict[str, int] = {}
        for index, item in enumerate(raw if isinstance(raw, list) else []):
            item_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(item_id, str):
                continue
            if item_id in first:
                where = field_path((key, first[item_id], "id"))
                note = message("standard_duplicate_id", value=repr(item_id), where=where)
                problems.append(((key, index, "id"), note))
                continue
            first[item_id] = index
            if base is not None and item_id in known:
                defined = "standard_defined_rule" if key == "rules" else "standard_defined"
                note = message(defined, value=repr(item_id), base=base.name)
                problems.append(((key, index, "id"), note))
    if base is None:
        for key in ("levels", "rules"):
            if not data.get(key):
                problems.append(((key,), message("standard_must_define", key=key)))
        if data.get("overrides"):
            problems.append((("overrides",), message("standard_overrides_need_extends")))
    return problems


def _pydantic_problems(error: ValidationError) -> list[tuple[Loc, Message]]:
    problems: list[tuple[Loc, Message]] = []
    for loc, problem in pydantic_problems(error):
        if problem.key == "pydantic_extra_forbidden" and loc[:1] == ("overrides",):
            problem = message("standard_override_extra", keys=", ".join(_OVERRIDABLE))
        problems.append((loc, problem))
    return problems


def _format_problems(path: Path, problems: Sequence[tuple[Loc, Message]]) -> Message:
    lines = tuple(
        message(
            "standard_problem_line",
            file=str(path),
            field=field_path(loc) or message("config_top_level"),
            problem=problem,
        )
        for loc, problem in problems
    )
    return message("standard_invalid", file=str(path), n=len(lines), problems=lines)


def _apply_overrides(
    raw: object, base: StandardProfile | None, context: _Context
) -> tuple[dict[str, Rule], list[tuple[Loc, Message]]]:
    """The base rules with the file's overrides applied, and the problems of the results.

    Overrides that are invalid in themselves are skipped here: the validation of the whole
    file reports them.
    """
    rules = {rule.id: rule for rule in base.rules} if base else {}
    problems: list[tuple[Loc, Message]] = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        try:
            override = _Override.model_validate(item, context={_CONTEXT_KEY: context})
        except ValidationError:
            continue
        if override.id not in rules:  # no base profile: reported by the file-level checks
            continue
        merged = {**rules[override.id].model_dump(), **_dump(override.updates())}
        try:
            rules[override.id] = Rule.model_validate(merged, context={_CONTEXT_KEY: context})
        except ValidationError as exc:
            problems.extend(
                (("overrides", index, *loc), message) for loc, message in _pydantic_problems(exc)
            )
    return rules, problems


def _dump(updates: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in updates.items()}
