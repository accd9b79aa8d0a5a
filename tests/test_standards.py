"""Standard profiles: the shipped national and Guangdong data, hand-worked requirements,
and every broken file a user can write."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from radius._errors import ConfigError, InputError
from radius.config import PYDANTIC_TYPES, field_path, load_categories, pydantic_problems
from radius.standards import (
    STANDARDS_DIR,
    Conversion,
    Conversions,
    Level,
    Range,
    Rule,
    Source,
    StandardProfile,
    list_standards,
    load_standard,
)

from .language_checks import assert_chinese_error

REQUIRED_IDS = [
    "elderly_land_per_capita",
    "elderly_rooms_per_100hh",
    "childcare_places_per_1000",
    "sports_ground_per_capita",
    "convenience_store_within_5min",
    "farmers_market_within_10min",
    "supermarket_within_15min",
    "fitness_within_10min",
    "fitness_within_15min",
    "elderly_care_within_15min",
    "elderly_daycare_within_5min",
    "childcare_within_5min",
    "kindergarten_within_5min",
    "community_service_within_5min",
    "health_station_within_5min",
    "health_center_within_15min",
    "culture_station_within_5min",
    "sports_court_within_5min",
    "fitness_square_within_5min",
]


@pytest.fixture(scope="module")
def national() -> StandardProfile:
    return load_standard("national")


@pytest.fixture(scope="module")
def guangdong() -> StandardProfile:
    return load_standard("guangdong")


# ---- the shipped profiles ----------------------------------------------------------------


def test_list_standards():
    names = list_standards()
    assert {"national", "guangdong"} <= set(names)
    assert names == sorted(names)


def test_national_has_every_required_rule(national):
    assert national.name == "national"
    assert national.extends is None
    assert national.files == (STANDARDS_DIR.resolve() / "national.yaml",)
    assert set(REQUIRED_IDS) <= set(national.rule_ids)
    assert len(set(national.rule_ids)) == len(national.rule_ids)


def test_national_levels_follow_gb50180(national):
    assert [level.id for level in national.levels] == ["15min", "10min", "5min", "block"]
    fifteen = national.level("15min")
    assert (fifteen.walk_m.min, fifteen.walk_m.max) == (800, 1000)
    assert (fifteen.residents.min, fifteen.residents.max) == (50_000, 100_000)
    assert (fifteen.households.min, fifteen.households.max) == (17_000, 32_000)
    ten = national.level("10min")
    assert (ten.walk_m.max, ten.residents.min, ten.residents.max) == (500, 15_000, 25_000)
    assert (ten.households.min, ten.households.max) == (5_000, 8_000)
    five = national.level("5min")
    assert (five.walk_m.max, five.residents.min, five.residents.max) == (300, 5_000, 12_000)
    assert (five.households.min, five.households.max) == (1_500, 4_000)
    block = national.level("block")
    assert block.walk_m is None
    assert (block.residents.min, block.residents.max) == (1_000, 3_000)
    assert (block.households.min, block.households.max) == (300, 1_000)
    assert 60_000 in fifteen.residents
    assert 120_000 not in fifteen.residents
    for level in national.levels:
        assert "GB 50180-2018" in level.source.document
        assert "3.0.4" in level.source.clause


def test_national_rules_are_consistent_with_the_categories(national):
    categories = {c.id: c for c in load_categories()}
    level_ids = {level.id for level in national.levels}
    for rule in national.rules:
        if rule.scope == "catchment":
            assert rule.threshold in [t.label for t in categories[rule.category].thresholds]
            assert rule.categories[0] == rule.category
        else:
            assert rule.threshold is None
        # the rule's tier is the GB 50180 tier of its category (fitness serves two circles)
        if len(categories[rule.category].thresholds) == 1:
            assert rule.level == categories[rule.category].tier
        assert rule.level in level_ids
        assert (rule.metric == "coverage") == (rule.supply == "facilities")
        assert rule.unit
        assert rule.source.document
        if rule.status != "confirmed":
            assert rule.note, f"{rule.id}: an unconfirmed value should say why in its note"


def test_national_ratio_values(national):
    elderly_land = national.rule("elderly_land_per_capita")
    assert (elderly_land.value_new, elderly_land.value_old) == (0.1, 0.1)
    assert (elderly_land.category, elderly_land.supply) == ("elderly_care", "land_area_m2")
    assert elderly_land.threshold == "15min"
    assert elderly_land.status == "confirmed"
    rooms = national.rule("elderly_rooms_per_100hh")
    assert (rooms.category, rooms.threshold, rooms.level) == ("elderly_daycare", "5min", "5min")
    assert (rooms.value_new, rooms.value_old) == (30, 20)
    assert (rooms.metric, rooms.supply) == ("per_100_households", "floor_area_m2")
    assert rooms.unit == "m² per 100 households"
    childcare = national.rule("childcare_places_per_1000")
    assert (childcare.value_new, childcare.value_old) == (10, 8)
    assert (childcare.category, childcare.supply) == ("childcare", "places")
    sports = national.rule("sports_ground_per_capita")
    assert (sports.value_new, sports.value_max, sports.category) == (2.6, None, "fitness")
    assert (sports.scope, sports.includes) == ("jurisdiction", ("sports_court", "fitness_square"))
    assert national.value("childcare_places_per_1000", "old") == 8
    rehab = load_standard("anhui").rule("rehabilitation_within_30min")
    assert (rehab.metric, rehab.threshold, rehab.value_new) == ("coverage", "30min", 100)


def test_rules_for_a_category(national):
    assert [r.id for r in national.rules_for("fitness")] == [
        "sports_ground_per_capita",
        "fitness_within_10min",
        "fitness_within_15min",
    ]


# ---- requirements worked by hand ---------------------------------------------------------


@pytest.mark.parametrize(
    ("rule_id", "population", "households", "area_type", "expected"),
    [
        # 2,000 households × 30 m² / 100 = 600 m²; old area 2,000 × 20 / 100 = 400 m²
        ("elderly_rooms_per_100hh", 6_000, 2_000, "new", 600.0),
        ("elderly_rooms_per_100hh", 6_000, 2_000, "old", 400.0),
        # 10,000 residents × 10 / 1,000 = 100 places; old 10,000 × 8 / 1,000 = 80
        ("childcare_places_per_1000", 10_000, 3_300, "new", 100.0),
        ("childcare_places_per_1000", 10_000, 3_300, "old", 80.0),
        # 0.1 m² × 10,000 = 1,000 m² of land, new or old
        ("elderly_land_per_capita", 10_000, 3_300, "new", 1_000.0),
        ("elderly_land_per_capita", 10_000, 3_300, "old", 1_000.0),
        # 2.6 m² × 10,000 = 26,000 m²
        ("sports_ground_per_capita", 10_000, 3_300, "new", 26_000.0),
        # coverage: the residents to be within the threshold, 100 % of 10,000
        ("supermarket_within_15min", 10_000, 3_300, "old", 10_000.0),
        ("elderly_rooms_per_100hh", 0, 0, "new", 0.0),
    ],
)
def test_required_by_hand(national, rule_id, population, households, area_type, expected):
    rule = national.rule(rule_id)
    count = households if rule.group == "households" else population
    assert rule.required(count, area_type) == pytest.approx(expected)


def test_rule_group_defaults_by_metric(national):
    assert national.rule("elderly_rooms_per_100hh").group == "households"
    assert national.rule("childcare_places_per_1000").group == "residents"
    assert national.rule("supermarket_within_15min").group == "residents"


def test_required_rejects_bad_arguments(national):
    rule = national.rule("elderly_rooms_per_100hh")
    with pytest.raises(InputError, match="area_type must be 'new' or 'old', not 'newish'") as bad:
        rule.required(30, "newish")
    said = _assert_chinese(bad.value, "newish")
    assert "area_type 应为 'new'（新区）或 'old'（老区），而不是 'newish'" in said
    with pytest.raises(InputError, match="count of the group Households must be a finite") as bad:
        rule.required(-3, "new")
    assert "规则 elderly_rooms_per_100hh：户数的数量应为不小于 0 的有限数" in _assert_chinese(
        bad.value
    )
    with pytest.raises(
        InputError, match="count of the group Households must be a finite number ≥ 0"
    ):
        rule.required(float("nan"), "new")


def test_unknown_rule_or_level_or_profile(national):
    with pytest.raises(
        ConfigError, match="standard national has no rule 'parks'; its rules: "
    ) as no:
        national.rule("parks")
    assert "标准方案 national 中没有规则 'parks'；其规则为：" in _assert_chinese(no.value)
    with pytest.raises(ConfigError, match="no level '20min'") as no:
        national.level("20min")
    assert "标准方案 national 中没有层级 '20min'；其层级为：" in _assert_chinese(no.value)
    with pytest.raises(
        ConfigError, match=r"unknown standard profile 'atlantis'.*national"
    ) as caught:
        load_standard("atlantis")
    _assert_chinese(caught.value)
    with pytest.raises(ConfigError, match="configuration file not found") as caught:
        load_standard("no/such/file.yaml")
    _assert_chinese(caught.value)


def test_rules_are_frozen(national):
    rule = national.rule("elderly_rooms_per_100hh")
    with pytest.raises(ValueError, match="frozen"):
        rule.value_new = 1


def test_rule_built_by_hand_is_checked_without_categories():
    fields: dict[str, Any] = {
        "id": "parks_within_5min",
        "name_zh": "公园",
        "name_en": "Parks",
        "category": "parks",
        "metric": "coverage",
        "supply": "facilities",
        "value_new": 100,
        "value_old": 100,
        "unit": "%",
        "level": "5min",
        "threshold": "5min",
        "source": {"document": "local plan"},
        "status": "assumed",
    }
    assert Rule.model_validate(fields).required(10, "new") == 10.0
    with pytest.raises(ValueError, match="a coverage target is a share in per cent"):
        Rule.model_validate({**fields, "value_new": 120})


def test_rule_counts_its_group():
    beds = Rule.model_validate(
        _rule(
            id="elderly_beds_per_1000",
            metric="per_1000",
            supply="beds",
            group="aged_60_plus",
            value_new=45.2,
            value_old=45.2,
            unit="beds per 1,000 residents aged 60+",
        )
    )
    # 2,500 residents aged 60+ × 45.2 / 1,000 = 113 beds
    assert beds.group == "aged_60_plus"
    assert beds.required(2_500, "new") == pytest.approx(113.0)
    with pytest.raises(ValueError, match="Input should be 'residents'"):
        Rule.model_validate(_rule(group="pensioners"))


def test_unit_share_rules_are_checked(tmp_path):
    share = _rule(
        id="fitness_circle_communities",
        metric="unit_share",
        supply="units",
        unit_level="community",
        of_rule="elderly_rooms_per_100hh",
        value_new=100,
        value_old=100,
        unit="% of communities",
    )
    rule = Rule.model_validate(share)
    assert (rule.unit_level, rule.of_rule, rule.group) == ("community", rule.of_rule, "residents")
    # 12 communities, 50 % of them must meet the rule: 6
    assert Rule.model_validate({**share, "value_new": 50}).required(12, "new") == 6.0
    presence = {**share, "of_rule": None, "presence": "elderly_care", "threshold": None}
    assert Rule.model_validate(presence).presence == "elderly_care"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"unit_level": None}, "needs unit_level"),
        ({"presence": "elderly_care"}, "exactly one of of_rule"),
        ({"supply": "facilities"}, "a unit_share rule counts units"),
        ({"value_new": 120}, "a unit_share target is a share in per cent"),
    ]
    for changes, message in cases:
        with pytest.raises(ValueError, match=message):
            Rule.model_validate({**share, **changes})
    with pytest.raises(ValueError, match="only unit_share rules take these keys"):
        Rule.model_validate(_rule(unit_level="community"))
    with pytest.raises(ValueError, match="needs threshold"):
        Rule.model_validate(_rule(threshold=None))
    path = _write(tmp_path, "shares", _profile(_rule(), {**share, "of_rule": "nope"}))
    with pytest.raises(ConfigError, match="of_rule 'nope' is not a rule of this profile") as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_a_confirmed_rule_quotes_its_plan():
    with pytest.raises(ValueError, match="a confirmed rule quotes its source"):
        Rule.model_validate(_rule(status="confirmed"))
    source = {"document": "plan", "quote": "每百户不低于30平方米", "plan": "plan.txt"}
    assert Rule.model_validate(_rule(status="confirmed", source=source)).source.plan == "plan.txt"


# ---- the Guangdong profile ---------------------------------------------------------------


def test_guangdong_overrides_elderly_rooms(guangdong):
    rooms = guangdong.rule("elderly_rooms_per_100hh")
    assert (rooms.value_new, rooms.value_old) == (20, 15)
    assert rooms.status == "unverified"
    assert "广东" in rooms.source.document
    assert rooms.required(2_000, "new") == pytest.approx(400.0)
    assert rooms.required(2_000, "old") == pytest.approx(300.0)


def test_guangdong_inherits_everything_else(national, guangdong):
    assert guangdong.name == "guangdong"
    assert guangdong.extends == "national"
    assert [f.name for f in guangdong.files] == ["national.yaml", "guangdong.yaml"]
    assert guangdong.levels == national.levels
    assert guangdong.rule_ids == national.rule_ids
    for rule in national.rules:
        if rule.id != "elderly_rooms_per_100hh":
            assert guangdong.rule(rule.id) == rule
    national_rooms = national.rule("elderly_rooms_per_100hh")
    guangdong_rooms = guangdong.rule("elderly_rooms_per_100hh")
    changed = {"value_new", "value_old", "source", "status", "note", "note_zh"}
    keep = set(Rule.model_fields) - changed
    assert guangdong_rooms.model_dump(include=keep) == national_rooms.model_dump(include=keep)


def test_categories_passed_in_are_the_ones_checked():
    without_rehab = load_categories(ids=["convenience_store", "fitness", "elderly_care"])
    with pytest.raises(ConfigError) as info:
        load_standard("national", categories=without_rehab)
    message = str(info.value)
    assert re.search(
        r"national\.yaml: rules\[\d+\]\.category: unknown category 'kindergarten'", message
    )
    assert "unknown category 'childcare'" in message


# ---- broken files ------------------------------------------------------------------------


def _rule(**changes: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": "elderly_rooms_per_100hh",
        "name_zh": "养老用房",
        "name_en": "Elderly rooms",
        "category": "elderly_care",
        "metric": "per_100_households",
        "supply": "floor_area_m2",
        "value_new": 30,
        "value_old": 20,
        "unit": "m² per 100 households",
        "level": "15min",
        "threshold": "15min",
        "source": {"document": "test", "clause": "1"},
        "status": "assumed",
    }
    rule.update(changes)
    return rule


def _profile(*rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "name_zh": "测试",
        "name_en": "Test",
        "levels": [
            {
                "id": "15min",
                "name_zh": "十五分钟",
                "name_en": "15 minutes",
                "walk_m": {"min": 800, "max": 1000},
                "residents": {"min": 50_000, "max": 100_000},
                "households": {"min": 17_000, "max": 32_000},
                "source": {"document": "GB 50180-2018"},
                "status": "confirmed",
            }
        ],
        "rules": list(rules) or [_rule()],
    }


def _write(folder: Path, name: str, data: Any) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _choices(annotation: Any) -> set[str]:
    """The values of every ``Literal`` inside a type (the choices a key accepts)."""
    if get_origin(annotation) is Literal:
        return {str(value) for value in get_args(annotation)}
    return {value for arg in get_args(annotation) for value in _choices(arg)}


def _profile_words() -> set[str]:
    words = {category.id for category in load_categories()} | set(list_standards())
    words.add("overrides")  # the key of a profile file's changes to inherited rules
    words |= {"new", "old"}  # the area types
    national = load_standard("national")
    words |= {level.id for level in national.levels} | set(national.rule_ids)
    models: list[type[BaseModel]] = [StandardProfile, Level, Rule, Source, Range, Conversion]
    models.append(Conversions)
    for model in models:
        words.update(model.model_fields)
        for field in model.model_fields.values():
            words |= _choices(field.annotation)
    return words


_PROFILE_WORDS = _profile_words()


def _assert_chinese(exc: BaseException, *values: str) -> str:
    """``exc`` reads as Chinese: no English word but the keys and values its files wrote
    (or ``values``), the keys and choices of a profile, and the ids of categories, profiles,
    national levels and rules."""
    words = set(_PROFILE_WORDS) | set(values)
    for name in re.findall(r"[^\s：:]+\.ya?ml", str(exc)):
        if Path(name).is_file():
            words |= set(re.findall(r"[A-Za-z][A-Za-z_]*", Path(name).read_text(encoding="utf-8")))
    return assert_chinese_error(exc, allowed=words)


def _match(path: Path, key_path: str, message: str = "") -> str:
    return re.escape(f"{path}: {key_path}: {message}")


#: A profile breaking one rule of each kind pydantic checks, and the lines that say so.
_BROKEN_EVERYWHERE = """\
name_zh: 5
name_en: ""
documents: plan.txt
levels:
  - {id: 15min, name_zh: 十五分钟, name_en: 15 minutes, walk_m: {min: 800, max: 1000},
     distance_m: .nan, residents: 50000, households: {min: 17000, max: 32000},
     source: {document: GB 50180-2018}, status: sure}
rules:
  - {id: Elderly Rooms, name_zh: 养老用房, name_en: Elderly rooms, category: elderly_care,
     metric: per_100_households, supply: floor_area_m2, value_new: lots, value_old: -5,
     level: 15min, threshold: 15min, source: {clause: '1'}, status: assumed, colour: red}
"""
_BROKEN_LINES = [
    ("name_zh", "Input should be a valid string, not 5", "应为文字，实际为 5"),
    ("name_en", "String should have at least 1 character(s)", "至少应有 1 个字符"),
    ("documents", "Input should be a valid list, not 'plan.txt'", "应为列表，实际为 'plan.txt'"),
    ("levels[0].distance_m", "Input should be a finite number", "应为有限的数字"),
    ("levels[0].residents", "Input should be a mapping of keys", "应为键值映射（键: 值）"),
    ("levels[0].status", "Input should be 'confirmed', 'unverified' or 'assumed', not 'sure'",
     "应为 'confirmed', 'unverified' 或 'assumed'，实际为 'sure'"),
    ("rules[0].id", "String should match pattern '^[a-z][a-z0-9_]*$', not 'Elderly Rooms'",
     "格式不符：应符合正则表达式 '^[a-z][a-z0-9_]*$'，实际为 'Elderly Rooms'"),
    ("rules[0].value_new", "Input should be a valid number, not 'lots'", "应为数字，实际为 'lots'"),
    ("rules[0].value_old", "Input should be greater than or equal to 0, not -5",
     "应大于或等于 0，实际为 -5"),
    ("rules[0].unit", "Field required", "缺少此项（必填）"),
    ("rules[0].source.document", "Field required", "缺少此项（必填）"),
    ("rules[0].colour", "Extra inputs are not permitted", "不认识的键（不允许多余的键）"),
]  # fmt: skip


def test_every_kind_of_problem_names_file_and_key_in_either_language(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(_BROKEN_EVERYWHERE, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_standard(path)
    english = str(caught.value)
    chinese = _assert_chinese(caught.value)
    n = len(_BROKEN_LINES)
    assert english.startswith(f"{path}: invalid standard profile ({n} problem(s)):\n")
    assert chinese.startswith(f"{path}：标准方案文件有 {n} 个问题：\n")
    for key_path, said, said_zh in _BROKEN_LINES:
        assert f"\n  - {path}: {key_path}: {said}" in english
        assert f"\n  - {path}：{key_path}：{said_zh}" in chinese
    assert chinese.endswith("请改正这些键后重新运行。")


class _EveryType(BaseModel):
    """A model meeting each pydantic error type that has a message of its own."""

    model_config = ConfigDict(extra="forbid")

    whole: int
    count: int
    share: int
    number: float
    ratio: float
    speed: float = Field(allow_inf_nan=False)
    flag: bool
    switch: bool
    name: str
    code: str = Field(pattern=r"^[a-z]+$")
    short: str = Field(min_length=2)
    long: str = Field(max_length=2)
    above: float = Field(gt=0)
    at_least: float = Field(ge=1)
    below: float = Field(lt=5)
    at_most: float = Field(le=5)
    some: tuple[int, ...] = Field(min_length=1)
    few: tuple[int, ...] = Field(max_length=1)
    table: dict[str, int]
    items: list[int]
    row: tuple[int, ...]
    tags: set[str]
    kinds: frozenset[str]
    part: Source
    file: Path
    mode: Literal["a", "b", "c"]
    only: Literal["a"]
    checked: str = ""

    @field_validator("checked")
    @classmethod
    def _checked(cls, value: str) -> str:
        raise ValueError("our own words, not a message id")


def test_each_pydantic_error_type_has_a_message_in_both_languages():
    data = {
        "whole": "x", "count": [1], "share": 1.5, "number": "y", "ratio": [1],
        "speed": float("inf"), "flag": "maybe", "switch": [1], "name": 5, "code": "A",
        "short": "a", "long": "abc", "above": 0, "at_least": 0, "below": 5, "at_most": 6,
        "some": [], "few": [1, 2], "table": "t", "items": "i", "row": 5, "tags": 5,
        "kinds": 5, "part": "p", "file": 5, "mode": "d", "only": "z", "checked": "x",
        "extra": 1,
    }  # fmt: skip
    with pytest.raises(ValidationError) as missing:  # name left out
        _EveryType.model_validate({key: value for key, value in data.items() if key != "name"})
    with pytest.raises(ValidationError) as typed:
        _EveryType.model_validate(data)
    types = {item["type"] for item in (*missing.value.errors(), *typed.value.errors())}
    assert types >= PYDANTIC_TYPES  # the model meets every type
    problems = [*pydantic_problems(missing.value), *pydantic_problems(typed.value)]
    keys = {problem.key for _, problem in problems}
    assert {f"pydantic_{kind}" for kind in PYDANTIC_TYPES} <= keys
    assert {"pydantic_literal_error", "pydantic_literal_one", "pydantic_other"} <= keys
    by_key = {problem.key: problem for _, problem in problems}
    assert by_key["pydantic_other"] == "our own words, not a message id"
    assert by_key["pydantic_literal_error"] == "Input should be 'a', 'b' or 'c', not 'd'"
    assert by_key["pydantic_literal_error"].text("zh") == "应为 'a', 'b' 或 'c'，实际为 'd'"
    assert by_key["pydantic_greater_than"] == "Input should be greater than 0, not 0"
    assert by_key["pydantic_too_long"].text("zh") == "最多只能有 1 项，实际为 2 项"
    for loc, problem in problems:
        assert field_path(loc) == loc[0]
        if problem.key != "pydantic_other":  # pydantic's own text, kept as a value
            given = {value for value in data.values() if isinstance(value, str)}
            assert_chinese_error(ValueError(problem), allowed={"b", "c", *given})


def test_field_paths_are_yaml_key_paths():
    assert field_path(("districts", 2, "population")) == "districts[2].population"
    assert field_path(("network", "per_district", "str")) == "network.per_district"
    sized = ("sites", 0, "size", "dict[literal['beds'],constrained-float]", "beds")
    assert field_path(sized) == "sites[0].size.beds"
    assert field_path(("groups", "aged_60_plus", 1)) == "groups.aged_60_plus[1]"
    assert field_path(()) == ""


def test_a_minimal_profile_loads(tmp_path):
    path = _write(tmp_path, "mini", _profile())
    profile = load_standard(path)
    assert profile.name == "mini"
    assert profile.rule_ids == ("elderly_rooms_per_100hh",)
    assert load_standard(str(path)) == profile


@pytest.mark.parametrize(
    ("changes", "key_path", "message"),
    [
        ({"category": "parks"}, "rules[0].category", "unknown category 'parks'; known categories:"),
        (
            {"threshold": "5min"},
            "rules[0].threshold",
            "'5min' is not a threshold of category elderly_care; its thresholds: 15min",
        ),
        ({"metric": "per_head"}, "rules[0].metric", "Input should be 'per_capita'"),
        (
            {"metric": "coverage", "value_new": 100, "value_old": 100},
            "rules[0].supply",
            "a coverage rule counts facilities; set supply: facilities, not floor_area_m2",
        ),
        (
            {"supply": "facilities"},
            "rules[0].supply",
            "a per_100_households rule needs a capacity as supply",
        ),
        ({"supply": "seats"}, "rules[0].supply", "Input should be 'land_area_m2'"),
        ({"value_old": -5}, "rules[0].value_old", "Input should be greater than or equal to 0"),
        ({"value_new": float("nan")}, "rules[0].value_new", "Input should be a finite number"),
        ({"value_max": 25}, "rules[0].value_max", "value_max (25) must be ≥ value_new (30)"),
        ({"level": "20min"}, "rules[0].level", "unknown level '20min'; defined levels: 15min"),
        ({"status": "sure"}, "rules[0].status", "Input should be 'confirmed'"),
        ({"id": "Elderly Rooms"}, "rules[0].id", "String should match pattern"),
        ({"source": {"clause": "3.0.4"}}, "rules[0].source.document", "Field required"),
        ({"colour": "red"}, "rules[0].colour", "Extra inputs are not permitted"),
    ],
)
def test_broken_rule_names_file_and_key_path(tmp_path, changes, key_path, message):
    path = _write(tmp_path, "broken", _profile(_rule(**changes)))
    with pytest.raises(ConfigError, match=_match(path, key_path, message)) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_missing_field(tmp_path):
    rule = _rule()
    del rule["unit"]
    path = _write(tmp_path, "broken", _profile(rule))
    with pytest.raises(
        ConfigError, match=_match(path, "rules[0].unit", "Field required")
    ) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_duplicate_rule_id(tmp_path):
    path = _write(tmp_path, "broken", _profile(_rule(), _rule(value_new=40)))
    with pytest.raises(
        ConfigError,
        match=_match(
            path, "rules[1].id", "duplicate id 'elderly_rooms_per_100hh' (also rules[0].id)"
        ),
    ) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_duplicate_level_id(tmp_path):
    data = _profile()
    data["levels"].append(copy.deepcopy(data["levels"][0]))
    path = _write(tmp_path, "broken", data)
    with pytest.raises(
        ConfigError, match=_match(path, "levels[1].id", "duplicate id '15min'")
    ) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_level_ranges_are_ordered(tmp_path):
    data = _profile()
    data["levels"][0]["residents"] = {"min": 100_000, "max": 50_000}
    path = _write(tmp_path, "broken", data)
    with pytest.raises(
        ConfigError, match=_match(path, "levels[0].residents", "max (50000) must be ≥ min (100000)")
    ) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_a_base_profile_needs_levels_and_rules(tmp_path):
    path = _write(tmp_path, "broken", {"name_zh": "空", "name_en": "Empty"})
    with pytest.raises(ConfigError) as info:
        load_standard(path)
    message = str(info.value)
    assert f"{path}: levels: a profile without extends must define its levels" in message
    assert f"{path}: rules: a profile without extends must define its rules" in message


def test_every_problem_is_named_at_once(tmp_path):
    rule = _rule(category="parks", metric="per_head", value_old=-1)
    del rule["unit"]
    data = _profile(rule, _rule(level="20min"), _rule(id="x", threshold="5min"))
    data["name_en"] = ""
    path = _write(tmp_path, "broken", data)
    with pytest.raises(ConfigError) as info:
        load_standard(path)
    message = str(info.value)
    assert message.startswith(f"{path}: invalid standard profile (8 problem(s)):")
    for key_path in [
        "name_en",
        "rules[0].category",
        "rules[0].metric",
        "rules[0].value_old",
        "rules[0].unit",
        "rules[1].level",
        "rules[1].id",
        "rules[2].threshold",
    ]:
        assert f"{path}: {key_path}: " in message
    assert message.endswith("Fix these keys and run again.")


def test_not_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("rules: [unclosed\n  - {id: x", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: not valid YAML")) as caught:
        load_standard(path)
    # The parser's own words follow (PyYAML's English, kept as it wrote them).
    assert caught.value.args[0].text("zh").startswith(f"{path}：不是有效的 YAML：")


@pytest.mark.parametrize("content", ["- a\n- b\n", "just text\n", ""])
def test_not_a_mapping(tmp_path, content):
    path = tmp_path / "broken.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: expected a mapping")) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


# ---- extends and overrides ---------------------------------------------------------------


def _child(**fields: Any) -> dict[str, Any]:
    return {"name_zh": "省", "name_en": "Province", "extends": "national", **fields}


def _override(**fields: Any) -> dict[str, Any]:
    return {"source": {"document": "provincial rule"}, "status": "unverified", **fields}


def test_extends_finds_the_shipped_profile_and_adds_rules(tmp_path):
    new_rule = _rule(id="elderly_beds_per_1000", metric="per_1000_residents", supply="beds")
    new_rule.update(value_new=40, value_old=40, unit="beds per 1,000 residents")
    data = _child(
        overrides=[_override(id="sports_ground_per_capita", value_new=2.2, value_old=1.8)],
        rules=[new_rule],
    )
    path = _write(tmp_path, "province", data)
    profile = load_standard(path)
    national = load_standard("national")
    assert profile.extends == "national"
    assert profile.rule_ids == (*national.rule_ids, "elderly_beds_per_1000")
    sports = profile.rule("sports_ground_per_capita")
    assert (sports.value_new, sports.value_old, sports.value_max) == (2.2, 1.8, None)
    assert sports.source.document == "provincial rule"
    assert profile.rule("elderly_beds_per_1000").required(10_000, "new") == 400.0


def test_override_can_remove_the_upper_option(tmp_path):
    override = _override(id="sports_ground_per_capita", value_max=None)
    path = _write(tmp_path, "province", _child(overrides=[override]))
    assert load_standard(path).rule("sports_ground_per_capita").value_max is None


def test_extends_chain_of_three(tmp_path):
    _write(
        tmp_path,
        "province",
        _child(overrides=[_override(id="elderly_rooms_per_100hh", value_new=25)]),
    )
    city = _child(
        extends="province", overrides=[_override(id="childcare_places_per_1000", value_old=6)]
    )
    path = _write(tmp_path, "city", city)
    profile = load_standard(path)
    assert profile.extends == "province"
    assert [f.name for f in profile.files] == ["national.yaml", "province.yaml", "city.yaml"]
    assert profile.value("elderly_rooms_per_100hh", "new") == 25
    assert profile.value("childcare_places_per_1000", "old") == 6


def test_override_of_unknown_rule_id(tmp_path):
    path = _write(
        tmp_path, "broken", _child(overrides=[_override(id="parks_per_capita", value_new=1)])
    )
    with pytest.raises(
        ConfigError,
        match=_match(
            path, "overrides[0].id", "unknown rule id 'parks_per_capita': profile national"
        ),
    ) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_override_may_not_change_the_category(tmp_path):
    override = _override(id="elderly_rooms_per_100hh", category="childcare")
    path = _write(tmp_path, "broken", _child(overrides=[override]))
    with pytest.raises(
        ConfigError,
        match=_match(path, "overrides[0].category", "Extra inputs are not permitted; an override"),
    ) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_override_changing_a_value_needs_source_and_status(tmp_path):
    override = {"id": "elderly_rooms_per_100hh", "value_new": 25}
    path = _write(tmp_path, "broken", _child(overrides=[override]))
    with pytest.raises(
        ConfigError,
        match=_match(path, "overrides[0]", "an override that changes value_new must give"),
    ) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_override_result_is_validated(tmp_path):
    override = _override(id="sports_ground_per_capita", value_new=3.0, value_max=2.8)
    path = _write(tmp_path, "broken", _child(overrides=[override]))
    with pytest.raises(
        ConfigError,
        match=_match(path, "overrides[0].value_max", "value_max (2.8) must be ≥ value_new (3)"),
    ) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_negative_override_value(tmp_path):
    override = _override(id="elderly_rooms_per_100hh", value_old=-15)
    path = _write(tmp_path, "broken", _child(overrides=[override]))
    with pytest.raises(
        ConfigError,
        match=_match(path, "overrides[0].value_old", "Input should be greater than or equal to 0"),
    ) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_new_rule_may_not_redefine_an_inherited_one(tmp_path):
    path = _write(tmp_path, "broken", _child(rules=[_rule()]))
    with pytest.raises(
        ConfigError,
        match=_match(
            path, "rules[0].id", "'elderly_rooms_per_100hh' is already defined by profile national"
        ),
    ) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_overrides_need_extends(tmp_path):
    data = _profile()
    data["overrides"] = [_override(id="elderly_rooms_per_100hh", value_new=1)]
    path = _write(tmp_path, "broken", data)
    with pytest.raises(
        ConfigError,
        match=_match(
            path, "overrides", "overrides change inherited rules; set extends: to a base profile"
        ),
    ) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_extends_cycle(tmp_path):
    _write(tmp_path, "a", _child(extends="b"))
    b = _write(tmp_path, "b", _child(extends="a"))
    with pytest.raises(
        ConfigError,
        match=re.escape(f"{b}: extends: the extends chain loops: a.yaml → b.yaml → a.yaml"),
    ) as caught:
        load_standard(tmp_path / "a.yaml")
    _assert_chinese(caught.value)


def test_extends_itself(tmp_path):
    path = _write(tmp_path, "loop", _child(extends="loop.yaml"))
    with pytest.raises(
        ConfigError,
        match=re.escape(f"{path}: extends: the extends chain loops: loop.yaml → loop.yaml"),
    ) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_extends_unknown_profile(tmp_path):
    path = _write(tmp_path, "broken", _child(extends="atlantis"))
    with pytest.raises(
        ConfigError, match=re.escape(f"{path}: extends: unknown standard profile 'atlantis'")
    ) as caught:
        load_standard(path)
    _assert_chinese(caught.value)
    path = _write(tmp_path, "broken", _child(extends="missing/atlantis.yaml"))
    with pytest.raises(ConfigError, match=re.escape(f"{path}: extends: no profile file")) as caught:
        load_standard(path)
    _assert_chinese(caught.value)
    path = _write(tmp_path, "broken", _child(extends=["national"]))
    with pytest.raises(
        ConfigError, match=re.escape(f"{path}: extends: expected a profile name")
    ) as caught:
        load_standard(path)
    _assert_chinese(caught.value)


def test_a_broken_base_is_named_by_its_own_file(tmp_path):
    base = _write(tmp_path, "base", _profile(_rule(metric="per_head")))
    _write(tmp_path, "child", _child(extends="base"))
    with pytest.raises(
        ConfigError, match=_match(base, "rules[0].metric", "Input should be")
    ) as caught:
        load_standard(tmp_path / "child.yaml")
    _assert_chinese(caught.value)


def test_provision_counts_the_rules_group_column():
    import pandas as pd

    from radius.provision import group_column

    beds = Rule.model_validate(
        _rule(metric="per_1000", supply="beds", group="aged_60_plus", unit="beds per 1,000")
    )
    rooms = Rule.model_validate(_rule())
    with_groups = pd.DataFrame({"population": [10.0], "households": [4.0], "aged_60_plus": [2.0]})
    plain = with_groups.drop(columns="aged_60_plus")
    assert group_column(beds, with_groups) == "aged_60_plus"
    assert group_column(beds, plain) == "population"  # fallback until groups are counted
    assert group_column(rooms, plain) == "households"


# ---- every confirmed rule quotes its plan ---------------------------------------------------

PLANS = Path(__file__).resolve().parents[1].parent / "shared" / "plans"


def _normalised(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _quote_found(quote: str, text: str) -> bool:
    """Whether the fragments of ``quote`` (split at "……") appear in ``text`` in order."""
    position = 0
    for fragment in _normalised(quote).split("……"):
        found = text.find(fragment, position)
        if not fragment or found < 0:
            return False
        position = found + len(fragment)
    return True


def _confirmed_rules() -> list[tuple[str, Rule]]:
    return [
        (name, rule)
        for name in list_standards()
        for rule in load_standard(name).rules
        if rule.status == "confirmed"
    ]


@pytest.mark.skipif(not PLANS.is_dir(), reason=f"the plans folder {PLANS} is absent")
@pytest.mark.parametrize(
    ("profile", "rule"), _confirmed_rules(), ids=lambda x: x if isinstance(x, str) else x.id
)
def test_every_confirmed_rule_quote_is_in_its_plan(profile, rule):
    assert rule.source.plan is not None
    plan = PLANS / rule.source.plan
    assert plan.is_file(), f"{profile}/{rule.id}: no plan text {plan}"
    text = _normalised(plan.read_text(encoding="utf-8"))
    assert _quote_found(rule.source.quote, text), (
        f"{profile}/{rule.id}: quote {rule.source.quote!r} not found in {plan.name}"
    )


def test_quote_check_fails_on_a_changed_quote():
    text = _normalised("按照每千人口不少于10个托位标准,规划建设托育服务设施。")
    assert _quote_found("每千人口不少于10个托位……托育服务设施", text)
    assert not _quote_found("每千人口不少于12个托位", text)
    assert not _quote_found("托育服务设施……每千人口", text)  # fragments out of order


def test_profiles_for_the_plans_places():
    assert {"national", "anhui", "zhejiang", "ningxia", "guangdong"} <= set(list_standards())
    anhui = load_standard("anhui")
    confirmed = {rule.id for rule in anhui.rules if rule.status == "confirmed"}
    assert {
        "elderly_rooms_per_100hh",
        "childcare_places_per_1000",
        "sports_ground_per_capita",
        "community_service_per_100hh",
        "elderly_beds_per_1000_aged",
        "fitness_within_15min",
        "elderly_care_within_15min",
        "reading_within_15min",
        "rehabilitation_within_30min",
        "convenience_store_within_5min",
        "farmers_market_within_10min",
        "supermarket_within_15min",
        "fitness_circle_communities",
        "childcare_communities",
    } <= confirmed
    assert anhui.rule("elderly_rooms_per_100hh").min_site == 350
    assert anhui.rule("elderly_rooms_per_100hh").category == "elderly_daycare"
    assert anhui.rule("elderly_beds_per_1000_aged").group == "aged_60_plus"
    assert anhui.rule("rehabilitation_within_30min").group == "disabled"
    zhejiang = load_standard("zhejiang")
    assert zhejiang.rule("sports_ground_per_capita").value_new == 2.8
    assert zhejiang.rule("sports_ground_per_capita").scope == "jurisdiction"
    assert zhejiang.rule("culture_station_subdistricts").unit_level == "subdistrict"
    ningxia = load_standard("ningxia")
    assert ningxia.rule("childcare_communities").value_new == 50
    assert ningxia.rule("elderly_center_subdistricts").presence == "elderly_service_center"
    assert "广东省养老服务条例" in load_standard("guangdong").documents[-1]
    for name in ("anhui", "zhejiang", "ningxia", "guangdong"):
        assert load_standard(name).conversions.persons_per_household is not None


def test_tiers_do_not_include_each_other_unless_the_profile_says_so():
    national = load_standard("national")
    assert national.rule("elderly_care_within_15min").categories == ("elderly_care",)
    assert national.rule("elderly_daycare_within_5min").categories == ("elderly_daycare",)
    assert national.rule("childcare_within_5min").categories == ("childcare",)
    anhui = load_standard("anhui")
    assert "elderly_daycare" in anhui.rule("elderly_care_within_15min").includes


def _two_districts():
    import geopandas as gpd
    import shapely

    return gpd.GeoDataFrame(
        {
            "district_id": ["d1", "d2"],
            "area_type": ["new", "new"],
            "population": [2620.0, 2620.0],
            "households": [1000.0, 1000.0],
        },
        geometry=[
            shapely.box(118.77, 32.03, 118.78, 32.04),
            shapely.box(118.78, 32.03, 118.79, 32.04),
        ],
        crs="EPSG:4326",
    )


def _facilities(category: str, column: str, values: list[float], lons: list[float]):
    import geopandas as gpd
    import shapely

    return gpd.GeoDataFrame(
        {
            "facility_id": [f"{category}:inv/{k}" for k in range(len(values))],
            "category": category,
            column: values,
        },
        geometry=[shapely.Point(lon, 32.035) for lon in lons],
        crs="EPSG:4326",
    )


def _pairs(source, node, distance, n_sources, n_nodes):
    import numpy as np

    from radius.paths import CostMatrix

    return CostMatrix(
        source=np.asarray(source, dtype=np.int64),
        node=np.asarray(node, dtype=np.int64),
        distance_m=np.asarray(distance, dtype=np.float64),
        n_sources=n_sources,
        n_nodes=n_nodes,
        limit_m=1000.0,
    )


def test_facilities_below_the_minimum_site_do_not_count():
    import numpy as np
    import pandas as pd

    from radius.provision import district_provision

    rooms = load_standard("anhui").rule("elderly_rooms_per_100hh")  # min_site 350 m²
    residents = pd.DataFrame({"population": [2620.0, 2620.0], "households": [1000.0, 1000.0]})
    facilities = _facilities("elderly_daycare", "floor_area_m2", [300.0, 500.0], [118.775, 118.785])
    matrix = _pairs([0, 0, 1, 1], [0, 1, 0, 1], [100.0, 200.0, 100.0, 200.0], 2, 2)
    result, _, notes = district_provision(
        [rooms],
        _two_districts(),
        residents,
        np.array([0, 1]),
        facilities,
        {rooms.id: (matrix, np.array([0, 1]), 300.0)},
    )
    # Only the 500 m² room counts; it is shared by both districts' 2,000 households.
    assert result["elderly_rooms_per_100hh_supplied"].sum() == pytest.approx(500.0)
    assert any("smaller than the minimum single site of 350" in n and "inv/0" in n for n in notes)


def test_a_jurisdiction_rule_counts_the_supply_inside_not_within_a_walk():
    import numpy as np
    import pandas as pd

    from radius.paths import CostMatrix
    from radius.provision import district_provision

    sports = load_standard("zhejiang").rule("sports_ground_per_capita")  # 2.8 m² per resident
    residents = pd.DataFrame({"population": [2620.0, 2620.0], "households": [1000.0, 1000.0]})
    # One 8,000 m² ground inside d2; nobody is within any walk of it (empty matrix).
    facilities = _facilities("fitness", "land_area_m2", [8000.0], [118.785])
    empty = np.empty(0, dtype=np.int64)
    matrix = CostMatrix(empty, empty, np.empty(0), 1, 2, 0.0)
    result, _, _ = district_provision(
        [sports],
        _two_districts(),
        residents,
        np.array([0, 1]),
        facilities,
        {sports.id: (matrix, np.array([0]), 0.0)},
    )
    assert list(result["sports_ground_per_capita_required"]) == [7336.0, 7336.0]
    assert list(result["sports_ground_per_capita_supplied"]) == [0.0, 8000.0]
    assert list(result["sports_ground_per_capita_pass"]) == [False, True]


def test_the_profile_chooses_the_walking_distance_within_gb50180s_range(tmp_path):
    national = load_standard("national")
    assert [level.distance_m for level in national.levels] == [1000, 500, 300, None]
    data = _profile()
    data["levels"][0]["distance_m"] = 800
    short = load_standard(_write(tmp_path, "short", data))
    supermarket = short.with_distances(load_categories(ids=["supermarket", "fitness"]))
    assert [t.metres for t in supermarket[0].thresholds] == [800]
    assert [t.metres for t in supermarket[1].thresholds] == [500, 800]  # 10min kept
    data["levels"][0]["distance_m"] = 1200
    with pytest.raises(ConfigError, match=r"distance_m \(1200\) must lie within walk_m") as caught:
        load_standard(_write(tmp_path, "long", data))
    _assert_chinese(caught.value)


# ---- both languages, includes -------------------------------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("name", list_standards())
def test_every_rule_has_its_texts_in_chinese_and_english(name):
    # A Chinese report or app page prints name_zh and note_zh, an English one name_en and
    # note: no rule may leave one language to the other.
    profile = load_standard(name)
    for rule in profile.rules:
        assert CJK.search(rule.name_zh), rule.id
        assert rule.name_en.strip(), rule.id
        assert not CJK.search(rule.name_en), rule.id
        assert rule.note, f"{name}: rule {rule.id} lacks note"
        assert rule.note_zh, f"{name}: rule {rule.id} lacks note_zh"
        assert CJK.search(rule.note_zh), rule.id
        assert rule.note_zh != rule.note, rule.id
    for level in profile.levels:
        assert CJK.search(level.name_zh), level.id
        assert not CJK.search(level.name_en), level.id
        assert (level.note is None) == (level.note_zh is None), level.id
    for key in ("persons_per_household", "floor_area_per_person_m2"):
        conversion = getattr(profile.conversions, key)
        assert conversion is not None, key
        assert conversion.note, key
        assert conversion.note_zh, key
        assert CJK.search(conversion.note_zh), key


def test_an_inherited_rule_keeps_its_chinese_note_where_the_override_keeps_the_note():
    national, anhui = load_standard("national"), load_standard("anhui")
    base = national.rule("kindergarten_within_5min")
    assert anhui.rule("kindergarten_within_5min").note_zh == base.note_zh
    changed = anhui.rule("elderly_rooms_per_100hh")
    assert changed.note_zh != national.rule("elderly_rooms_per_100hh").note_zh
    assert "350" in str(changed.note_zh)
    assert "未核实" in str(changed.note_zh)


def test_a_note_in_one_language_only_is_refused(tmp_path):
    path = _write(tmp_path, "half", _profile(_rule(note="English only")))
    with pytest.raises(ConfigError, match="note is given without note_zh") as caught:
        load_standard(path)
    _assert_chinese(caught.value)
    child = _write(
        tmp_path,
        "child",
        _child(overrides=[_override(id="elderly_rooms_per_100hh", note="English only")]),
    )
    with pytest.raises(ConfigError, match="note and note_zh") as caught:
        load_standard(child)
    _assert_chinese(caught.value)
    both = _child(overrides=[_override(id="elderly_rooms_per_100hh", note="A.", note_zh="备注。")])
    assert load_standard(_write(tmp_path, "both", both)).rule("elderly_rooms_per_100hh").note_zh


@pytest.mark.parametrize("name", list_standards())
def test_included_tiers_carry_the_rules_threshold(name):
    # A catchment rule counts included categories within its own threshold: each must have
    # a threshold of that label (after the profile's walking distances), at the same metres.
    profile = load_standard(name)
    categories = {c.id: c for c in profile.with_distances(load_categories())}
    checked = 0
    for rule in profile.rules:
        if rule.scope != "catchment" or not rule.includes:
            continue
        own = {t.label: t.metres for t in categories[rule.category].thresholds}
        for included in rule.includes:
            theirs = {t.label: t.metres for t in categories[included].thresholds}
            assert rule.threshold in theirs, (rule.id, included)
            assert theirs[rule.threshold] == own[rule.threshold], (rule.id, included)
            checked += 1
    if name in ("national", "anhui", "ningxia"):
        assert checked  # elderly_land_per_capita (and anhui's 15-minute circle) include tiers


def test_an_included_tier_without_the_threshold_is_refused(tmp_path):
    # elderly_daycare has 5min and 15min thresholds; convenience_store only 5min.
    bad = _child(overrides=[{"id": "elderly_care_within_15min", "includes": ["convenience_store"]}])
    with pytest.raises(
        ConfigError, match=r"category convenience_store has no threshold '15min'"
    ) as caught:
        load_standard(_write(tmp_path, "bad", bad))
    _assert_chinese(caught.value)
    rule = _rule(category="elderly_care", includes=["childcare"], threshold="15min")
    with pytest.raises(ConfigError, match=r"category childcare has no threshold '15min'") as caught:
        load_standard(_write(tmp_path, "bad_rule", _profile(rule)))
    _assert_chinese(caught.value)
