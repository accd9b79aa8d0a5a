"""Plausible residents: a check of residents estimated from OSM buildings.

OSM buildings give residents as footprint × storeys / floor area per person. In Chinese
extracts most housing is often tagged ``building=yes`` (not counted) and most buildings have
no ``building:levels`` (six storeys assumed), so the estimate can be far from the truth. This
module measures the estimate (residents per km² of the built-up study area, the share of
buildings without storeys, the share of buildings not counted as housing) and words a
warning a planner can act on, naming the input that would fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["DENSITY_RANGE", "Plausibility", "check_building_estimate"]

DENSITY_RANGE: Final = (3_000.0, 60_000.0)
"""Residents per km² of a built-up Chinese urban study area taken as plausible. Chinese city
districts hold roughly 10,000–30,000 residents per km² of built-up land (central districts
more); below 3,000 or above 60,000 the estimate is very likely wrong (an assumption of radius,
not a standard)."""
MAX_SHARE_WITHOUT_LEVELS: Final = 0.5
MAX_SHARE_UNCOUNTED: Final = 0.5


@dataclass(frozen=True)
class Plausibility:
    """The figures of the check and its warnings.

    Attributes
    ----------
    residents : float
        Residents estimated.
    study_area_km2 : float
        Area of the study area (km²): the convex hull of the street network.
    residents_per_km2 : float
        ``residents / study_area_km2``.
    residential_buildings, without_levels, other_buildings : int
        Buildings counted as housing, those of them without storeys, and buildings of other
        ``building`` values (``yes``, shops …) not counted.
    warnings, warnings_zh : list of str
        Planner's words in English and Chinese; empty when the estimate looks plausible.
    """

    residents: float
    study_area_km2: float
    residents_per_km2: float
    residential_buildings: int
    without_levels: int
    other_buildings: int
    warnings: list[str] = field(default_factory=list)
    warnings_zh: list[str] = field(default_factory=list)

    def messages(self, lang: str = "en") -> list[str]:
        """The warnings in Chinese (``"zh"``) or English."""
        return list(self.warnings_zh if lang == "zh" else self.warnings)

    def as_dict(self) -> dict[str, Any]:
        """For summary.json."""
        return {
            "residents": round(self.residents, 1),
            "study_area_km2": round(self.study_area_km2, 3),
            "residents_per_km2": round(self.residents_per_km2, 1),
            "residential_buildings": self.residential_buildings,
            "without_levels": self.without_levels,
            "other_buildings": self.other_buildings,
            "plausible": not self.warnings,
            "warnings": list(self.warnings),
            "warnings_zh": list(self.warnings_zh),
        }


def check_building_estimate(
    residents: float, study_area_km2: float, figures: dict[str, Any]
) -> Plausibility:
    """Judge residents estimated from OSM buildings.

    Parameters
    ----------
    residents : float
        Residents estimated (persons).
    study_area_km2 : float
        The built-up study area (km²), e.g. the convex hull of the street network.
    figures : dict
        ``residential_buildings``, ``without_levels`` and ``other_buildings`` of
        :func:`radius.population.estimate_from_osm_buildings`.

    Returns
    -------
    Plausibility
    """
    buildings = int(figures.get("residential_buildings", 0))
    without = int(figures.get("without_levels", 0))
    other = int(figures.get("other_buildings", 0))
    density = residents / study_area_km2 if study_area_km2 > 0 else 0.0
    low, high = DENSITY_RANGE
    warnings: list[str] = []
    warnings_zh: list[str] = []
    fix_en = (
        "Give the residents of each community (--districts with a population "
        "column), a population raster or residential plots with households (--population) "
        "to replace the estimate"
    )
    fix_zh = (
        "请提供各社区常住人口（--districts，含“常住人口”列）、人口栅格或含户数的居住地块"
        "（--population）以替代估算"
    )
    if study_area_km2 > 0 and density < low:
        warnings.append(
            f"The residents estimated from OSM buildings, {residents:,.0f} on "
            f"{study_area_km2:,.2f} km², are {density:,.0f} per km²: far fewer than a built-up "
            f"Chinese city area holds (usually {low:,.0f}–{high:,.0f} per km² and more), so "
            f"the shortfalls of this run are likely understated. {fix_en}."
        )
        warnings_zh.append(
            f"由 OSM 建筑估算的居民为 {residents:,.0f} 人，"
            f"分布在 {study_area_km2:,.2f} 平方千米内，"
            f"每平方千米仅 {density:,.0f} 人，远低于城市建成区的常见水平（每平方千米 "
            f"{low:,.0f}–{high:,.0f} 人或更高），本次的缺口很可能被低估。{fix_zh}。"
        )
    elif density > high:
        warnings.append(
            f"The residents estimated from OSM buildings, {residents:,.0f} on "
            f"{study_area_km2:,.2f} km², are {density:,.0f} per km²: more than even a dense "
            f"Chinese city area holds (about {high:,.0f} per km²). Check the storeys "
            f"(building:levels) of the tallest buildings. {fix_en}."
        )
        warnings_zh.append(
            f"由 OSM 建筑估算的居民为每平方千米 {density:,.0f} 人，高于高密度城区的水平（约 "
            f"{high:,.0f} 人），请核对高层建筑的层数（building:levels）。{fix_zh}。"
        )
    total = buildings + other
    if total and other / total > MAX_SHARE_UNCOUNTED:
        warnings.append(
            f"{other} of {total} OSM buildings ({other / total:.0%}) are not tagged as housing "
            "(building=yes and others) and hold no residents in this estimate; many of them "
            f"are probably homes. {fix_en}."
        )
        warnings_zh.append(
            f"{total} 栋 OSM 建筑中有 {other} 栋（{other / total:.0%}）未标注为住宅"
            f"（building=yes 等），估算中不计居民，其中很可能有不少是住宅。{fix_zh}。"
        )
    if buildings and without / buildings > MAX_SHARE_WITHOUT_LEVELS:
        warnings.append(
            f"{without} of {buildings} residential buildings ({without / buildings:.0%}) have "
            "no number of storeys in OSM and are assumed to have 6; their residents are a "
            "guess. Add building:levels to the buildings, or give the residents of each "
            "community (--districts with a population column)."
        )
        warnings_zh.append(
            f"{buildings} 栋住宅中有 {without} 栋（{without / buildings:.0%}）在 OSM 中没有层数，"
            "按 6 层估算，居民数只是推测。请补充 building:levels，或提供各社区常住人口"
            "（--districts，含“常住人口”列）。"
        )
    return Plausibility(
        residents=residents,
        study_area_km2=study_area_km2,
        residents_per_km2=density,
        residential_buildings=buildings,
        without_levels=without,
        other_buildings=other,
        warnings=warnings,
        warnings_zh=warnings_zh,
    )
