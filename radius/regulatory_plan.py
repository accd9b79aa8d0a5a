"""Planned districts from a 控规 (regulatory detailed plan) plot table.

A new district arrives as the plots of its 控规: polygons with a plot id (地块编号), a land-use
code (用地代码: R1/R2/R21 …, 0701 …, or its name 二类居住用地), the site area (用地面积, m² or
公顷/ha by the header's unit), the plot ratio (容积率) or the floor area (计容建筑面积), and for
planned facilities the facility (配套设施 养老, 托育 …) with its planned floor area, beds or
places. From them:

- residential plots give floor area = 用地面积 × 容积率 (or the floor area given), households =
  floor area ÷ floor area per household (the plot's 户均建筑面积, else
  ``configs/plan_codes.yaml``, with its source), residents = households × household size
  (``configs/population.yaml``), spread over the plot like any residential plot
  (:func:`radius.population.residents_from_plots`), area type ``new``;
- facility plots give planned facilities (``source = "proposed"``) of the category their
  facility or land use names, with the planned floor area, land area, beds and places;
- plots of other uses (roads, green space, business …) are counted by use in a note.

:func:`radius.population.read_residents` and :func:`radius.facilities.read_inventory`
recognise a plot table by its columns, so the same file drives ``--population`` and
``--facilities`` (and a batch job's residents and planned facilities).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pydantic import Field

from radius._errors import InputError
from radius._files import parse_number
from radius.config import CONFIG_DIR, Category, _Frozen, validate_file
from radius.i18n import Message, message, warn

__all__ = [
    "PlanCodes",
    "PlanPlots",
    "facilities_from_plan",
    "is_regulatory_plan",
    "load_plan_codes",
    "plan_plots",
    "residents_from_plan",
]

WGS84 = "EPSG:4326"
MAX_LISTED = 20

_ALIASES: Mapping[str, tuple[str, ...]] = {
    "plot_id": ("地块编号", "地块号", "地块代码", "plot_id", "plot", "编号", "id"),
    "land_use": (
        "用地代码",
        "用地性质",
        "用地类型",
        "用地性质代码",
        "用地分类",
        "地类",
        "land_use",
        "landuse",
        "use_code",
    ),
    "site_area": ("用地面积", "地块面积", "site_area", "site_area_m2", "land_area_m2", "area_m2"),
    "far": ("容积率", "far", "plot_ratio"),
    "floor_area": (
        "计容建筑面积",
        "总建筑面积",
        "规划建筑面积",
        "建筑面积",
        "设施建筑面积",
        "floor_area_m2",
        "gfa",
    ),
    "households": ("户数", "规划户数", "households"),
    "per_household": ("户均建筑面积", "户均面积", "floor_area_per_household_m2"),
    "facility": (
        "配套设施",
        "设施",
        "设施类型",
        "设施名称",
        "公共服务设施",
        "facility",
        "facility_type",
    ),
    "name": ("地块名称", "名称", "name"),
    "beds": ("床位", "床位数", "beds"),
    "places": ("托位", "托位数", "places"),
}
_UNIT = re.compile(r"\s*[(（\[]\s*([^)）\]]*)\s*[)）\]]\s*$")
_HECTARE_UNITS = ("ha", "公顷", "hm²", "hm2", "hectare", "hectares")
_TEN_THOUSAND_M2 = ("万m²", "万m2", "万平方米")


class PlanCodes(_Frozen):
    """``configs/plan_codes.yaml``: residential codes, facility words, floor per household."""

    residential_codes: tuple[str, ...]
    not_residential_codes: tuple[str, ...] = ()
    residential_words: tuple[str, ...]
    facility_words: dict[str, tuple[str, ...]]
    facility_codes: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    floor_area_per_household_m2: float
    sources: dict[str, str]
    sources_zh: dict[str, str] = Field(default_factory=dict)


@lru_cache(maxsize=4)
def _load_cached(path: Path) -> PlanCodes:
    return validate_file(PlanCodes, path)


def load_plan_codes(path: str | Path | None = None) -> PlanCodes:
    """Load ``configs/plan_codes.yaml`` (or another file of that form)."""
    file = Path(path) if path is not None else CONFIG_DIR / "plan_codes.yaml"
    return _load_cached(file.resolve())


def _normal(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip()


def _columns(columns: Sequence[object]) -> dict[str, tuple[str, float]]:
    """Canonical field -> (the file's column, factor to m² for area columns)."""
    found: dict[str, tuple[str, float]] = {}
    for column in columns:
        text = _normal(column)
        unit_match = _UNIT.search(text)
        unit = unit_match.group(1).strip().casefold() if unit_match else ""
        bare = _UNIT.sub("", text).casefold()
        factor = 1.0
        if unit in _HECTARE_UNITS or unit in _TEN_THOUSAND_M2:
            factor = 10_000.0
        for canonical, aliases in _ALIASES.items():
            if canonical not in found and bare in (a.casefold() for a in aliases):
                found[canonical] = (str(column), factor)
    return found


def is_regulatory_plan(columns: Sequence[object]) -> bool:
    """Whether a table's columns are those of a 控规 plot table.

    A land-use column (用地代码/用地性质 …) with a plot ratio (容积率) or a floor-area column
    (计容建筑面积/建筑面积) and a site-area column (用地面积).
    """
    found = _columns(columns)
    return (
        "land_use" in found
        and ("far" in found or "floor_area" in found)
        and ("site_area" in found or "floor_area" in found)
    )


@dataclass(frozen=True)
class PlanPlots:
    """The plots of a 控规 table, classified.

    Attributes
    ----------
    plots : geopandas.GeoDataFrame
        One row per plot (WGS-84) with ``plot_id``, ``land_use``, ``kind`` ("residential",
        "facility", "other"), ``category`` (facility plots), ``site_area_m2``,
        ``floor_area_m2``, ``floor_area_per_household_m2``, ``households``, ``population``,
        ``beds``, ``places``.
    other_uses : dict
        Land use (``""`` for a plot without one) -> number of plots that are neither
        housing nor a facility.
    floor_area_source : Message
        Where the floor area per household comes from (``.text(lang)`` in either
        language; its English text as a ``str``).
    floor_area_per_household_m2 : float
        The default floor area per household (m²) of plots without their own.
    """

    plots: gpd.GeoDataFrame
    other_uses: dict[str, int]
    floor_area_source: Message
    floor_area_per_household_m2: float


def _starts(code: str, prefixes: Sequence[str]) -> bool:
    upper = code.upper()
    return any(upper.startswith(p.upper()) for p in prefixes)


def _residential(land_use: str, codes: PlanCodes) -> bool:
    first = re.split(r"[/、,，+＋]", land_use)[0].strip()
    if _starts(first, codes.not_residential_codes):
        return False
    if re.match(r"^[A-Za-z]", first):
        return _starts(first, codes.residential_codes)
    if re.match(r"^\d", first):
        return _starts(first, codes.residential_codes)
    return any(word in land_use for word in codes.residential_words) or "居住" in land_use


def _facility_category(text: str, land_use: str, codes: PlanCodes, known: set[str]) -> str | None:
    for source in (text, land_use):
        if not source:
            continue
        for category, words in codes.facility_words.items():
            if category in known and any(w in source for w in words):
                return category
    first = re.split(r"[/、,，+＋]", land_use)[0].strip()
    for category, prefixes in codes.facility_codes.items():
        if category in known and first and _starts(first, prefixes):
            return category
    return None


def _number(value: object) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, str) and not value.strip():
        return math.nan
    number = parse_number(value)
    return math.nan if number is None else float(number)


def plan_plots(
    frame: gpd.GeoDataFrame,
    categories: Sequence[Category] | None = None,
    *,
    source: str | None = None,
    household_size: float | None = None,
    floor_area_per_household_m2: float | None = None,
    codes: PlanCodes | None = None,
) -> PlanPlots:
    """Classify the plots of a 控规 table and compute floor area, households and residents.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Polygons (any CRS; it must have one) with the plot columns (module docstring).
    categories : sequence of Category, optional
        The known facility categories (default ``configs/categories.yaml``).
    source : str, optional
        The file's name, for messages (default "the plot table", 传入的地块表).
    household_size : float, optional
        Persons per household (default ``configs/population.yaml``).
    floor_area_per_household_m2 : float, optional
        m² of floor area per household where the plot gives no 户均建筑面积 (default
        ``configs/plan_codes.yaml``).
    codes : PlanCodes, optional
        The code table (default ``configs/plan_codes.yaml``).

    Returns
    -------
    PlanPlots

    Raises
    ------
    InputError
        Listing every plot with a missing or bad value (row, column, value, fix).
    """
    from radius.config import load_categories
    from radius.population import load_population_defaults

    source = _source(source)
    codes = codes if codes is not None else load_plan_codes()
    known = {c.id for c in (categories if categories is not None else load_categories())}
    size = household_size or load_population_defaults().household_size
    if frame.crs is None:
        raise InputError(message("plan_no_crs", source=source))
    columns = _columns(list(frame.columns))
    per_default = floor_area_per_household_m2 or codes.floor_area_per_household_m2
    given = floor_area_per_household_m2 is not None
    key = "floor_area_per_household_m2"
    floor_source = (
        message("plan_floor_area_given", value=f"{per_default:g}")
        if given
        else message(
            "plan_floor_area_default",
            value=f"{per_default:g}",
            source=codes.sources[key],
            source_zh=codes.sources_zh.get(key) or codes.sources[key],
        )
    )

    def cell(canonical: str, row: Mapping[str, Any]) -> Any:
        return row[columns[canonical][0]] if canonical in columns else None

    problems: list[Message] = []
    records: list[dict[str, Any]] = []
    other: Counter[str] = Counter()
    metric = frame.geometry.to_crs(frame.estimate_utm_crs()) if len(frame) else frame.geometry
    for i, row in enumerate(frame.to_dict("records")):
        land_use = _normal(cell("land_use", row) or "") if "land_use" in columns else ""
        if land_use in ("nan", "None"):
            land_use = ""
        plot_id = _normal(cell("plot_id", row)) if "plot_id" in columns else str(i + 1)
        if plot_id in ("", "nan", "None"):
            plot_id = str(i + 1)
        facility_text = _normal(cell("facility", row) or "") if "facility" in columns else ""
        facility_text = "" if facility_text in ("nan", "None") else facility_text
        area_factor = columns["site_area"][1] if "site_area" in columns else 1.0
        site_area = _number(cell("site_area", row)) * area_factor
        if math.isnan(site_area):
            site_area = float(metric.iloc[i].area)
        floor_factor = columns["floor_area"][1] if "floor_area" in columns else 1.0
        floor_area = _number(cell("floor_area", row)) * floor_factor
        far = _number(cell("far", row))
        residential = bool(land_use) and _residential(land_use, codes)
        category = (
            None if residential else _facility_category(facility_text, land_use, codes, known)
        )
        kind = "residential" if residential else ("facility" if category else "other")
        if kind == "other":
            other[land_use] += 1
        if kind == "residential" and math.isnan(floor_area):
            where = {"n": i + 1, "plot": plot_id}
            if math.isnan(far):
                column = columns.get("far", ("容积率", 1.0))[0]
                problem = message("plan_no_plot_ratio", land_use=land_use)
                problems.append(message("plan_problem", **where, column=repr(column), text=problem))
                continue
            if far < 0 or far > 30:
                problem = message("plan_plot_ratio_range", far=f"{far:g}")
                column = repr(columns["far"][0])
                problems.append(message("plan_problem", **where, column=column, text=problem))
                continue
            floor_area = site_area * far
        if kind == "facility" and math.isnan(floor_area) and not math.isnan(far):
            floor_area = site_area * far
        per_household = _number(cell("per_household", row))
        if math.isnan(per_household) or per_household <= 0:
            per_household = per_default
        households = _number(cell("households", row))
        if kind == "residential" and math.isnan(households):
            households = floor_area / per_household
        if kind != "residential":
            households = 0.0
        records.append(
            {
                "plot_id": plot_id,
                "name": _normal(cell("name", row) or "") if "name" in columns else "",
                "land_use": land_use,
                "facility": facility_text,
                "kind": kind,
                "category": category or "",
                "site_area_m2": site_area,
                "floor_area_m2": floor_area,
                "floor_area_per_household_m2": per_household if kind == "residential" else math.nan,
                "households": households,
                "population": households * size,
                "beds": _number(cell("beds", row)),
                "places": _number(cell("places", row)),
                "geometry": frame.geometry.iloc[i],
            }
        )
    if problems:
        lines = [message("problem_line", text=problem) for problem in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            lines.append(message("inventory_problems_more", n=len(problems) - MAX_LISTED))
        raise InputError(
            message("plan_problems", source=source, count=len(problems), lines=tuple(lines))
        )
    small = [r for r in records if r["kind"] == "residential" and 0 < r["site_area_m2"] < 100]
    if small and "site_area" in columns and columns["site_area"][1] == 1.0:
        raise InputError(
            message(
                "plan_site_area_hectares",
                source=source,
                n=len(small),
                plot=small[0]["plot_id"],
                area=f"{small[0]['site_area_m2']:g}",
                column=repr(columns["site_area"][0]),
            )
        )
    plots = gpd.GeoDataFrame(records, geometry="geometry", crs=frame.crs).to_crs(WGS84)
    return PlanPlots(plots, dict(other.most_common()), floor_source, per_default)


def residents_from_plan(
    frame: gpd.GeoDataFrame,
    *,
    source: str | None = None,
    household_size: float | None = None,
    floor_area_per_household_m2: float | None = None,
    spacing_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Residents of the residential plots of a 控规 table (see :func:`plan_plots`).

    Returns
    -------
    geopandas.GeoDataFrame
        Residents (``source="plot"``, area type ``new``), each plot's points summing to its
        households and residents.

    Raises
    ------
    InputError
        For bad plots, or a table without any residential plot.
    """
    from radius.population import residents_from_plots

    source = _source(source)
    plan = plan_plots(
        frame,
        source=source,
        household_size=household_size,
        floor_area_per_household_m2=floor_area_per_household_m2,
    )
    housing = plan.plots[plan.plots["kind"] == "residential"]
    if len(housing) == 0:
        uses = _uses_listing(plan.other_uses, counted=False)
        raise InputError(message("plan_no_residential", source=source, uses=uses))
    warn(
        "plan_residential_plots",
        source=_file_name(source),
        plots=len(housing),
        floor=f"{housing['floor_area_m2'].sum():,.0f}",
        households=f"{housing['households'].sum():,.1f}",
        per_household=f"{plan.floor_area_per_household_m2:g} m²",
    )
    plots = gpd.GeoDataFrame(
        {
            "id": housing["plot_id"].astype(str).to_numpy(),
            "households": housing["households"].to_numpy(dtype=float),
            "population": housing["population"].to_numpy(dtype=float),
            "area_type": "new",
        },
        geometry=housing.geometry.to_numpy(),
        crs=WGS84,
    )
    return residents_from_plots(plots, household_size=household_size, spacing_m=spacing_m)


def facilities_from_plan(
    frame: gpd.GeoDataFrame, categories: Sequence[Category], *, source: str | None = None
) -> gpd.GeoDataFrame:
    """The planned facilities of a 控规 table (``source = "proposed"``).

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        The plots.
    categories : sequence of Category
        The known categories.
    source : str, optional
        The file's name, for messages (default "the plot table", 传入的地块表).

    Returns
    -------
    geopandas.GeoDataFrame
        The facilities layout of :mod:`radius.facilities` (the plot polygons), with the
        planned floor area, site area, beds and places; empty when no plot is a facility.
    """
    from radius.facilities import _facility_frame, _Row

    source = _source(source)
    plan = plan_plots(frame, categories, source=source)
    rows = []
    for record in plan.plots[plan.plots["kind"] == "facility"].to_dict("records"):
        capacities = {
            "floor_area_m2": record["floor_area_m2"],
            "land_area_m2": record["site_area_m2"],
            "beds": record["beds"],
            "places": record["places"],
        }
        name = record["facility"] or record["name"] or f"{record['land_use']} {record['plot_id']}"
        rows.append(
            _Row(
                facility_id=f"{record['category']}:plan/{record['plot_id']}",
                name=name,
                category=record["category"],
                source="proposed",
                geometry=shapely.make_valid(record["geometry"]),
                capacities={k: float(v) for k, v in capacities.items() if not np.isnan(v)},
            )
        )
    if plan.other_uses:
        warn(
            "plan_other_plots",
            source=_file_name(source),
            n=sum(plan.other_uses.values()),
            listed=_uses_listing(plan.other_uses, counted=True),
        )
    return _facility_frame(rows)


def _source(source: str | None) -> str:
    """What the plots are named by in messages: the file, else "the plot table" (传入的地块表)."""
    return source if source is not None else message("plan_source_frame")


def _file_name(source: str) -> str:
    """A file's name without its folders; a :class:`~radius.i18n.Message` as it is."""
    return source if isinstance(source, Message) else Path(source).name


def _uses_listing(uses: Mapping[str, int], *, counted: bool) -> Message:
    """The land uses (and plot counts) of ``uses`` listed in each language: a plot without
    a land use is named in words, so the list is a Message (source_zh shown in Chinese)."""
    if not uses:
        return message("plan_no_land_uses")

    def listed(lang: str) -> str:
        unnamed = message("plan_no_land_use").text(lang)
        shown = list(uses.items())[:MAX_LISTED]
        items = [(use or unnamed) + (f" x{n}" if counted else "") for use, n in shown]
        return (", " if lang == "en" else "、").join(items)

    return message("plan_land_uses", source=listed("en"), source_zh=listed("zh"))
