"""Demand of a run: residents with every demand group, and the units that hold them.

One stage between loading and provision. It reads the planner's units (communities and
sub-districts with their statistics), the residents (a file, or the OSM buildings of the
network, or the units' own figures spread dasymetrically), the age/sex rasters of a group,
fills every group (from the data, the rasters, else a census share) and forms the default
units so that every resident lies in one. It says how each figure was obtained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from radius._errors import InputError
from radius.districts import _assign, block_districts, hexagon_districts
from radius.groups import GroupSource, complete_groups, load_demand_groups
from radius.i18n import message
from radius.network import StreetNetwork, _is_osm_file
from radius.plausibility import Plausibility, check_building_estimate
from radius.population import (
    estimate_from_osm_buildings,
    group_from_rasters,
    read_residents,
    residents_from_raster,
)
from radius.units import cover_residents, has_statistics, nest_units, read_units, spread_unit_totals

__all__ = ["Demand", "load_demand", "units_summary"]

WGS84 = "EPSG:4326"


@dataclass(frozen=True, eq=False)
class Demand:
    """Residents and units of a run.

    Attributes
    ----------
    residents : geopandas.GeoDataFrame
        Resident points with ``population``, ``households`` and every group column.
    districts : geopandas.GeoDataFrame
        The finest units (communities, or the default units) with ``level`` and ``parent_id``.
    subdistricts : geopandas.GeoDataFrame or None
        Sub-districts (街道/乡镇) when given.
    group_sources : dict
        Group id -> :class:`~radius.groups.GroupSource`.
    units_note : str
        How the units were formed.
    plausibility : Plausibility or None
        The check of residents estimated from OSM buildings.
    notes : list of str
        How the figures were obtained.
    """

    residents: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    subdistricts: gpd.GeoDataFrame | None = None
    group_sources: dict[str, GroupSource] = field(default_factory=dict)
    units_note: str = ""
    plausibility: Plausibility | None = None
    notes: list[str] = field(default_factory=list)


def load_demand(
    network: StreetNetwork,
    *,
    network_path: Path,
    population: Sequence[Path] = (),
    districts: Path | None = None,
    subdistricts: Path | None = None,
    group_rasters: Sequence[tuple[str, Sequence[Path]]] = (),
    district_mode: str = "blocks",
    hexagon_size_m: float = 500.0,
    household_size: float | None = None,
    floor_area_per_person_m2: float | None = None,
) -> Demand:
    """Read and form the residents and units of a run.

    Parameters
    ----------
    network : StreetNetwork
        The walkable network (its extent bounds the rasters read; blocks follow its roads).
    network_path : Path
        The network file (its OSM buildings estimate residents when no residents are given).
    population : sequence of Path
        Residents files (see :func:`radius.pipeline.AnalyzeConfig`).
    districts, subdistricts : Path, optional
        Communities (社区/居委会/行政村) and sub-districts (街道/乡镇), optionally with
        statistics (常住人口, 户数, 60岁及以上人口 …).
    group_rasters : sequence of (group id, paths)
        Age/sex rasters of a group, bands summed (e.g. ``aged_60_plus`` and ten WorldPop
        bands).
    district_mode : {"blocks", "hexagons"}
        Default units when no communities or sub-districts are given.
    hexagon_size_m : float
        Side of the hexagons (metres).
    household_size : float, optional
        Persons per household.
    floor_area_per_person_m2 : float, optional
        Residential floor area per person (m²) when residents are estimated from buildings
        (the standard profile's conversion; default ``configs/population.yaml``).

    Returns
    -------
    Demand
    """
    groups = load_demand_groups()
    notes: list[str] = []
    communities = (
        read_units(districts, level="community", household_size=household_size)
        if districts is not None
        else None
    )
    subs = (
        read_units(subdistricts, level="subdistrict", household_size=household_size)
        if subdistricts is not None
        else None
    )
    with_figures = [u for u in (subs, communities) if u is not None and has_statistics(u)]
    figures: dict[str, Any] | None = None
    if population:
        residents = _residents_file(population, network, household_size, floor_area_per_person_m2)
    elif with_figures:
        residents = _weights(network_path, household_size)
    elif _is_osm_file(network_path):
        residents, figures = estimate_from_osm_buildings(
            network_path,
            household_size=household_size,
            floor_area_per_person_m2=floor_area_per_person_m2,
        )
    else:
        raise InputError(message("demand_estimate_needs_osm", file=str(network_path)))
    residents = residents.reset_index(drop=True)
    for units in with_figures:
        residents, more = spread_unit_totals(residents, units)
        notes.extend(more)
    given: dict[str, Any] = {}
    for group_id, paths in group_rasters:
        # The files' own columns come first: the rasters fill only the points without them.
        column = groups.group(group_id).column
        before = residents[column].to_numpy(dtype=np.float64) if column in residents else None
        residents, more = group_from_rasters(residents, list(paths), column)
        if before is not None and not np.isnan(before).all():
            residents[column] = np.where(np.isnan(before), residents[column], before)
            more.append(message("demand_group_counts_kept", column=column))
        notes.extend(more)
        given[group_id] = "raster"
    if not with_figures and (len(residents) == 0 or float(residents["population"].sum()) <= 0):
        files = ", ".join(map(str, population or [network_path]))
        raise InputError(message("demand_no_residents", files=files))
    residents, sources = complete_groups(residents.reset_index(drop=True), given=given)
    for source in sources.values():
        if source.estimated:
            notes.append(source.note)
    units, units_note = _units(
        network, residents, communities, subs, district_mode, hexagon_size_m, districts
    )
    notes.append(message("units_note", units=units_note))
    plausibility = None
    if figures is not None:
        plausibility = check_building_estimate(
            float(residents["population"].sum()), _study_area_km2(network), figures
        )
        notes.extend(plausibility.warnings)
    return Demand(
        residents=residents,
        districts=units,
        subdistricts=subs if communities is not None else None,
        group_sources=sources,
        units_note=units_note,
        plausibility=plausibility,
        notes=notes,
    )


def _residents_file(
    paths: Sequence[Path],
    network: StreetNetwork,
    household_size: float | None,
    floor_area_per_person_m2: float | None = None,
) -> gpd.GeoDataFrame:
    files = [Path(p) for p in paths]
    if all(p.suffix.lower() in (".tif", ".tiff") for p in files):
        # Bands on one grid are summed; only the cells around the network are read.
        west, south, east, north = network.nodes.total_bounds
        lon_lat = gpd.GeoSeries([shapely.box(west, south, east, north)], crs=network.crs).to_crs(
            WGS84
        )
        bbox = tuple(float(v) for v in lon_lat.total_bounds)
        return residents_from_raster(files, bbox=bbox, household_size=household_size)
    if len(files) == 1:
        return read_residents(
            files[0],
            household_size=household_size,
            floor_area_per_person_m2=floor_area_per_person_m2,
        )
    raise InputError(message("demand_several_files", files=", ".join(map(str, files))))


def _weights(network_path: Path, household_size: float | None) -> gpd.GeoDataFrame:
    """Residential buildings of the OSM network file as weights, else no point at all."""
    from radius._residents import _residents_frame

    if _is_osm_file(network_path):
        try:
            residents, _ = estimate_from_osm_buildings(network_path, household_size=household_size)
            return residents
        except InputError:
            pass
    empty = np.empty(0)
    return _residents_frame([], empty, empty, "unit", "", np.empty(0, dtype=object))


def _units(
    network: StreetNetwork,
    residents: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame | None,
    subdistricts: gpd.GeoDataFrame | None,
    district_mode: str,
    hexagon_size_m: float,
    districts_path: Path | None,
) -> tuple[gpd.GeoDataFrame, str]:
    if communities is not None:
        units = communities.copy()
        name = districts_path.name if districts_path is not None else "--districts"
        nested: str = ""
        if subdistricts is not None:
            units["parent_id"] = nest_units(communities, subdistricts).to_numpy()
            nested = message("units_nested", n=len(subdistricts))
        note = message(
            "units_communities",
            n=len(units),
            name=name,
            nested=nested,
            outside=_outside_note(residents, units),
        )
        return units.reset_index(drop=True), note
    if subdistricts is not None:
        units = subdistricts.copy()
        note = message("units_subdistricts", n=len(units), outside=_outside_note(residents, units))
        return units.reset_index(drop=True), note
    if district_mode == "hexagons":
        base = hexagon_districts(residents.geometry, size_m=hexagon_size_m)
    else:
        base = block_districts(network)
    covered, covered_note = cover_residents(base, residents)
    return covered.reset_index(drop=True), covered_note


def _outside_note(residents: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> str:
    outside = _assign(np.asarray(residents.to_crs(WGS84).geometry.array, dtype=object), units)
    mask = outside == ""
    if not mask.any():
        return message("units_all_inside")
    population = residents["population"].to_numpy(dtype=np.float64)[mask].sum()
    return message("units_some_outside", points=int(mask.sum()), population=f"{population:,.0f}")


def _study_area_km2(network: StreetNetwork) -> float:
    """Area (km²) of the convex hull of the network's nodes, in its metric CRS."""
    nodes = network.nodes.geometry
    hull = shapely.convex_hull(shapely.union_all(np.asarray(nodes.array, dtype=object)))
    return float(hull.area) / 1e6


def units_summary(
    residents: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, note: str
) -> dict[str, Any]:
    """How the units were formed and how many residents lie outside every unit."""
    outside = _assign(np.asarray(residents.to_crs(WGS84).geometry.array, dtype=object), districts)
    mask = outside == ""
    population = residents["population"].to_numpy(dtype=np.float64)
    ids = districts["district_id"].astype(str).to_numpy()
    held = {str(i) for i, w in zip(outside, population, strict=True) if i and w > 0}
    populated = np.array([i in held for i in ids], dtype=bool)
    levels = districts["level"].astype(str) if "level" in districts.columns else None
    return {
        "formed": note,
        "units": len(districts),
        "with_residents": int(populated.sum()),
        "without_residents": int((~populated).sum()),
        "by_level": {}
        if levels is None
        else {str(k): int(v) for k, v in levels.value_counts().items()},
        "points_outside": int(mask.sum()),
        "residents_outside": round(float(population[mask].sum()), 1),
    }
