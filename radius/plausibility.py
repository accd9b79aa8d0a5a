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

from radius.i18n import Message, message

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
    landuse_buildings : int
        Of the buildings counted as housing, the untyped ones (``building=yes``) counted
        because they stand in residential land use (``residential_landuse`` of
        ``configs/population.yaml``).
    warnings, warnings_zh : list of str
        Planner's words in English and Chinese; empty when the estimate looks plausible.
    """

    residents: float
    study_area_km2: float
    residents_per_km2: float
    residential_buildings: int
    without_levels: int
    other_buildings: int
    landuse_buildings: int = 0
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
            "landuse_buildings": self.landuse_buildings,
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
        ``residential_buildings``, ``without_levels``, ``other_buildings`` and
        ``landuse_buildings`` of :func:`radius.population.estimate_from_osm_buildings`.

    Returns
    -------
    Plausibility
    """
    buildings = int(figures.get("residential_buildings", 0))
    without = int(figures.get("without_levels", 0))
    other = int(figures.get("other_buildings", 0))
    landuse = int(figures.get("landuse_buildings", 0))
    density = residents / study_area_km2 if study_area_km2 > 0 else 0.0
    low, high = DENSITY_RANGE
    warnings: list[Message] = []
    if study_area_km2 > 0 and density < low:
        warnings.append(
            message(
                "estimate_too_sparse",
                residents=f"{residents:,.0f}",
                km2=f"{study_area_km2:,.2f}",
                density=f"{density:,.0f}",
                low=f"{low:,.0f}",
                high=f"{high:,.0f}",
            )
        )
    elif density > high:
        warnings.append(
            message(
                "estimate_too_dense",
                residents=f"{residents:,.0f}",
                km2=f"{study_area_km2:,.2f}",
                density=f"{density:,.0f}",
                high=f"{high:,.0f}",
            )
        )
    total = buildings + other
    if total and other / total > MAX_SHARE_UNCOUNTED:
        warnings.append(
            message("buildings_not_housing", other=other, total=total, share=f"{other / total:.0%}")
        )
    if buildings and without / buildings > MAX_SHARE_WITHOUT_LEVELS:
        warnings.append(
            message(
                "buildings_without_storeys",
                without=without,
                buildings=buildings,
                share=f"{without / buildings:.0%}",
            )
        )
    return Plausibility(
        residents=residents,
        study_area_km2=study_area_km2,
        residents_per_km2=density,
        residential_buildings=buildings,
        without_levels=without,
        other_buildings=other,
        landuse_buildings=landuse,
        warnings=list[str](warnings),
        warnings_zh=[w.text("zh") for w in warnings],
    )
