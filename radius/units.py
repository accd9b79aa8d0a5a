"""The planner's units: communities (社区/居委会/行政村) and sub-districts (街道/乡镇).

A *units* frame is a districts frame (:mod:`radius.districts`) plus

``level`` (str)
    ``"community"`` or ``"subdistrict"`` (user units), ``"block"``, ``"remainder"`` or
    ``"hexagon"`` (units formed by radius).
``parent_id`` (str)
    The sub-district a community lies in (largest overlap), ``""`` when none is given.
``population``, ``households``, ``aged_60_plus`` … (float)
    The unit's statistics where the file gives them (常住人口, 户数, 60岁及以上人口 …), NaN
    where it does not.

The statistics are first-class: :func:`spread_unit_totals` spreads each unit's totals over
its residential buildings (or other resident points inside it) in proportion to their
estimated residents, or over a grid of the unit's land when none lies inside (dasymetric
mapping), keeping the unit's totals exactly. Without user units :func:`cover_residents`
completes the automatic blocks so that every resident lies in a unit, and says how the units
were formed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from radius._errors import InputError
from radius._files import read_vector_layer
from radius._residents import (
    GROUP_COLUMNS,
    WGS84,
    _canonical_columns,
    _column_label,
    _numbers,
    _Origin,
    _Problems,
    _residents_frame,
    _show,
    load_population_defaults,
)
from radius.districts import _assign, districts_from_frame
from radius.i18n import Message, message, warn
from radius.network import choose_metric_crs
from radius.population import _grid_points

__all__ = [
    "STATISTIC_COLUMNS",
    "UNIT_LEVELS",
    "cover_residents",
    "nest_units",
    "read_units",
    "spread_unit_totals",
    "unit_statistics",
    "units_from_frame",
]

UnitLevel = Literal["community", "subdistrict"]
UNIT_LEVELS: Final = ("community", "subdistrict")
"""Levels of user units: 社区/居委会/行政村 and 街道/乡镇."""
STATISTIC_COLUMNS: Final = ("population", "households", *GROUP_COLUMNS)
"""Statistics a unit may carry, in the residents frame's column names."""
_LEVEL_WORDS: Final = {"community": "社区 community", "subdistrict": "街道 sub-district"}
_MAX_LISTED: Final = 20


def unit_statistics(
    frame: pd.DataFrame, *, source: str | None = None, household_size: float | None = None
) -> pd.DataFrame:
    """The statistics columns of a unit table (常住人口, 户数, 60岁及以上人口 …).

    Parameters
    ----------
    frame : pandas.DataFrame
        The unit table as read (rows in file order; features counted from 1).
    source : str, optional
        Name of the file, for messages (default "units", 传入的单元数据).
    household_size : float, optional
        Persons per household, to derive population from households (or the reverse) where
        only one is given (default from ``configs/population.yaml``).

    Returns
    -------
    pandas.DataFrame
        One row per unit (same order), columns :data:`STATISTIC_COLUMNS`; NaN where the file
        gives no figure (an empty cell, or no such column).

    Raises
    ------
    InputError
        Cells that are not numbers or are negative, all listed at once with row and column.
    """
    origin = _Origin(source if source is not None else message("units_source_frame"), "feature")
    plain = frame.reset_index(drop=True)
    renamed, original = _canonical_columns(plain, origin)
    problems = _Problems(origin)
    out = pd.DataFrame(index=plain.index)
    for column in STATISTIC_COLUMNS:
        if column not in renamed.columns:
            out[column] = np.nan
            continue
        parsed = _numbers(renamed[column])
        label = _column_label(column, original)
        for i in np.flatnonzero(parsed.bad):
            problems.add(
                message(
                    "units_statistic_not_number",
                    row=origin.row(i),
                    column=label,
                    value=_show(parsed.raw[i]),
                )
            )
        for i in np.flatnonzero(parsed.values < 0):
            problems.add(
                message(
                    "units_statistic_negative",
                    row=origin.row(i),
                    column=label,
                    value=_show(parsed.values[i]),
                )
            )
        out[column] = parsed.values
    problems.raise_if_any()
    size = household_size or load_population_defaults().household_size
    population = out["population"].to_numpy(dtype=np.float64)
    households = out["households"].to_numpy(dtype=np.float64)
    out["population"] = np.where(np.isnan(population), households * size, population)
    out["households"] = np.where(np.isnan(households), population / size, households)
    return out


def units_from_frame(
    frame: gpd.GeoDataFrame,
    *,
    level: UnitLevel = "community",
    source: str | None = None,
    household_size: float | None = None,
    allow_overlap: bool = False,
) -> gpd.GeoDataFrame:
    """Validate unit polygons with their statistics and return a units frame.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Polygons in any CRS with optional statistics columns (常住人口, 户数, 60岁及以上人口,
        0-3岁人口 …, see ``configs/demand_groups.yaml``), id, name and area_type.
    level : {"community", "subdistrict"}
        社区/居委会/行政村 or 街道/乡镇.
    source : str, optional
        Name of the file, for messages (default "units", 传入的单元数据).
    household_size : float, optional
        See :func:`unit_statistics`.
    allow_overlap : bool
        See :func:`radius.districts.read_districts`.

    Returns
    -------
    geopandas.GeoDataFrame
        The units frame (see the module docstring), in EPSG:4326.

    Raises
    ------
    InputError
        Every problem of the polygons or the statistics.
    """
    if level not in UNIT_LEVELS:
        raise InputError(
            message("units_level_unknown", value=repr(level), known=", ".join(UNIT_LEVELS))
        )
    plain = frame.reset_index(drop=True)
    source = source if source is not None else message("units_source_frame")
    districts = districts_from_frame(plain, source=source, allow_overlap=allow_overlap)
    statistics = unit_statistics(
        plain.drop(columns=plain.geometry.name), source=source, household_size=household_size
    )
    units = districts.assign(level=level, parent_id="")
    for column in STATISTIC_COLUMNS:
        units[column] = statistics[column].to_numpy()
    return gpd.GeoDataFrame(units, geometry="geometry", crs=WGS84)


def read_units(
    path: str | Path,
    *,
    level: UnitLevel = "community",
    layer: str | None = None,
    household_size: float | None = None,
    allow_overlap: bool = False,
) -> gpd.GeoDataFrame:
    """Read communities or sub-districts with their statistics from a vector file.

    Parameters
    ----------
    path : str or Path
        GeoPackage, GeoJSON or (zipped) Shapefile of polygons, see
        :func:`radius.districts.read_districts`.
    level : {"community", "subdistrict"}
        社区/居委会/行政村 or 街道/乡镇.
    layer : str, optional
        Layer to read.
    household_size : float, optional
        See :func:`unit_statistics`.
    allow_overlap : bool
        See :func:`radius.districts.read_districts`.

    Returns
    -------
    geopandas.GeoDataFrame
        The units frame.

    Raises
    ------
    InputError
        The file is missing or unreadable, or a polygon or a statistic is invalid.
    """
    file_path = Path(path)
    if not file_path.exists():
        raise InputError(
            message("file_not_found", file=str(file_path), what=message("file_kind_units"))
        )
    frame = read_vector_layer(file_path, layer, what="units", geometry_kind="Polygon")
    return units_from_frame(
        frame,
        level=level,
        source=str(file_path),
        household_size=household_size,
        allow_overlap=allow_overlap,
    )


def has_statistics(units: pd.DataFrame) -> bool:
    """Whether any unit gives population or households."""
    return bool("population" in units.columns and units["population"].notna().to_numpy().any())


def _metric(frame: gpd.GeoDataFrame) -> tuple[pyproj.CRS, gpd.GeoSeries]:
    minx, miny, maxx, maxy = frame.to_crs(WGS84).total_bounds
    crs = choose_metric_crs((minx + maxx) / 2.0, (miny + maxy) / 2.0)
    return crs, frame.geometry.to_crs(crs)


def nest_units(communities: gpd.GeoDataFrame, subdistricts: gpd.GeoDataFrame) -> pd.Series:
    """The sub-district of every community: the one it overlaps most.

    Parameters
    ----------
    communities, subdistricts : geopandas.GeoDataFrame
        Units (or districts) frames.

    Returns
    -------
    pandas.Series
        ``district_id`` of the sub-district per community (``""`` when it overlaps none),
        indexed like ``communities``, named ``parent_id``.

    Warns
    -----
    UserWarning
        Naming communities that lie partly (more than 5 % of their area) outside their
        sub-district, or outside every sub-district.
    """
    crs, community_geometry = _metric(communities)
    sub_geometry = subdistricts.geometry.to_crs(crs)
    sub_array = np.asarray(sub_geometry.array, dtype=object)
    com_array = np.asarray(community_geometry.array, dtype=object)
    left, right = shapely.STRtree(sub_array).query(com_array, predicate="intersects")
    overlap = shapely.area(shapely.intersection(com_array[left], sub_array[right]))
    parent = np.full(len(communities), "", dtype=object)
    share = np.zeros(len(communities))
    area = shapely.area(com_array)
    ids = subdistricts["district_id"].astype(str).to_numpy()
    for c, s, a in zip(left, right, overlap, strict=True):
        if area[c] > 0 and a / area[c] > share[c]:
            share[c] = a / area[c]
            parent[c] = ids[s]
    names = communities["district_id"].astype(str).to_numpy()
    loose = [
        message("units_community_inside", id=repr(names[i]), share=f"{share[i]:.0%}")
        for i in np.flatnonzero(share < 0.95)
    ]
    if loose:
        warn("communities_outside_subdistricts", n=len(loose), listed=_listed(loose[:_MAX_LISTED]))
    return pd.Series(parent, index=communities.index, name="parent_id", dtype="str")


def _listed(items: Sequence[Message]) -> Message:
    """``items`` as one list in any language (``a, b, c``, in Chinese ``a、b、c``)."""
    listed = items[-1]
    for item in reversed(items[:-1]):
        listed = message("residents_list", first=item, rest=listed)
    return listed


def spread_unit_totals(
    residents: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    spacing_m: float | None = None,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Spread each unit's statistics over the resident points inside it (dasymetric).

    For a unit that gives ``population`` (and so ``households``), the resident points inside
    it (residential buildings, raster cells, plot points …) keep their share of the unit's
    estimated residents and are scaled so that they sum to the unit's figures exactly; a
    group count the unit gives (``aged_60_plus`` …) is spread in proportion to residents.
    A unit with figures but no resident point inside gets a grid of points over its land
    (``spacing_m``), sharing its figures equally. Points in units without figures, and
    points outside every unit, keep their estimate.

    Parameters
    ----------
    residents : geopandas.GeoDataFrame
        Resident points (:mod:`radius.population`); may be empty.
    units : geopandas.GeoDataFrame
        A units frame with statistics columns.
    spacing_m : float, optional
        Grid spacing over a unit's land (metres; default ``plot_point_spacing_m`` of
        ``configs/population.yaml``).

    Returns
    -------
    residents : geopandas.GeoDataFrame
        The residents with the units' figures (group columns given by any unit are added,
        NaN where no unit gives them).
    notes : list of str
        How the figures were spread.
    """
    spacing = spacing_m or load_population_defaults().plot_point_spacing_m
    frame = residents.to_crs(WGS84).reset_index(drop=True)
    given_groups = [c for c in GROUP_COLUMNS if c in units.columns and units[c].notna().any()]
    for column in given_groups:
        if column not in frame.columns:
            frame[column] = np.nan
    points = np.asarray(frame.geometry.array, dtype=object)
    position = _assign(points, units.reset_index(drop=True)) if len(frame) else np.array([])
    unit_ids = units["district_id"].astype(str).to_numpy()
    population = frame["population"].to_numpy(dtype=np.float64).copy()
    households = frame["households"].to_numpy(dtype=np.float64).copy()
    groups = {c: frame[c].to_numpy(dtype=np.float64).copy() for c in given_groups}
    added: list[gpd.GeoDataFrame] = []
    by_buildings = by_land = 0
    for k, unit in enumerate(units.itertuples(index=False)):
        total = float(getattr(unit, "population", math.nan))
        if math.isnan(total):
            continue
        inside = np.flatnonzero(position == unit_ids[k]) if len(frame) else np.array([], int)
        weights = population[inside]
        if len(inside) and weights.sum() <= 0:
            weights = np.ones(len(inside))
        if len(inside) == 0:
            if total > 0:
                added.append(_land_points(unit, units.crs, spacing, given_groups))
                by_land += 1
            continue
        share = weights / weights.sum()
        population[inside] = total * share
        households[inside] = float(unit.households) * share
        for column in given_groups:
            value = float(getattr(unit, column))
            if not math.isnan(value):
                groups[column][inside] = value * share
        by_buildings += 1
    frame["population"] = population
    frame["households"] = households
    for column, values in groups.items():
        frame[column] = values
    if added:
        frame = gpd.GeoDataFrame(
            pd.concat([frame, *added], ignore_index=True), geometry="geometry", crs=WGS84
        )
    notes: list[str] = []
    with_figures = int(units["population"].notna().sum())
    if with_figures:
        notes.append(
            message(
                "unit_totals_spread",
                n=with_figures,
                by_buildings=by_buildings,
                spacing=spacing,
                by_land=by_land,
            )
        )
    return frame, notes


def _land_points(
    unit: Any, crs: object, spacing: float, given_groups: Sequence[str]
) -> gpd.GeoDataFrame:
    """A grid of points over one unit's land sharing its figures equally."""
    geometry = gpd.GeoSeries([unit.geometry], crs=crs)
    metric_crs, metric = _metric(gpd.GeoDataFrame(geometry=geometry))
    grid = _grid_points(metric.iloc[0], spacing)
    n = len(grid)
    uid = str(unit.district_id)
    counts = {
        c: np.full(n, float(getattr(unit, c)) / n)
        for c in given_groups
        if not math.isnan(float(getattr(unit, c)))
    }
    return _residents_frame(
        [f"unit/{uid}/{k}" for k in range(n)],
        np.full(n, float(unit.population) / n),
        np.full(n, float(unit.households) / n),
        "unit",
        "",
        gpd.GeoSeries(grid, crs=metric_crs).to_crs(WGS84),
        counts,
    )


def cover_residents(
    units: gpd.GeoDataFrame, residents: gpd.GeoDataFrame, *, margin_m: float = 50.0
) -> tuple[gpd.GeoDataFrame, str]:
    """Complete automatic units so that every resident lies in one.

    The land outside the given units (within ``margin_m`` of the convex hull of units and
    residents) is split into its connected parts; each part holding residents becomes a
    unit of kind ``"remainder"`` (``rest-1``, ``rest-2`` …, numbered north to south).

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Districts (e.g. :func:`radius.districts.block_districts`).
    residents : geopandas.GeoDataFrame
        Resident points.
    margin_m : float
        Margin (metres) around the hull.

    Returns
    -------
    units : geopandas.GeoDataFrame
        ``units`` followed by the remainder units (same columns; ``level`` set).
    description : str
        How the units were formed, for the run's notes and summary.
    """
    base = units.reset_index(drop=True).copy()
    if "level" not in base.columns:
        base["level"] = base["kind"].astype(str)
    if "parent_id" not in base.columns:
        base["parent_id"] = ""
    points = np.asarray(residents.to_crs(WGS84).geometry.array, dtype=object)
    outside = _assign(points, base) == ""
    kind = str(base["kind"].iloc[0]) if len(base) else "block"
    what = kind if kind in ("block", "hexagon") else "unit"
    if not outside.any():
        return base, message(f"units_{what}_all", n=len(base))
    crs, metric_units = _metric(base)
    metric_points = gpd.GeoSeries(points, crs=WGS84).to_crs(crs).to_numpy()
    hull = shapely.convex_hull(
        shapely.union_all(np.concatenate([metric_units.to_numpy(), metric_points]))
    ).buffer(margin_m)
    rest = shapely.difference(hull, shapely.union_all(metric_units.to_numpy()))
    parts = shapely.get_parts(rest)
    parts = parts[shapely.area(parts) > 0]
    tree = shapely.STRtree(parts)
    _, part_pos = tree.query(metric_points[outside], predicate="intersects")
    holding = np.unique(part_pos)
    kept = parts[holding]
    centroids = shapely.centroid(kept)
    order = np.lexsort((shapely.get_x(centroids), -shapely.get_y(centroids)))
    kept = kept[order]
    ids = [f"rest-{k + 1}" for k in range(len(kept))]
    area_type = str(base["area_type"].iloc[0]) if len(base) else "new"
    extra = gpd.GeoDataFrame(
        {
            "district_id": ids,
            "name": [""] * len(ids),
            "area_type": [area_type] * len(ids),
            "kind": ["remainder"] * len(ids),
            "level": ["remainder"] * len(ids),
            "parent_id": [""] * len(ids),
        },
        geometry=gpd.GeoSeries(kept, crs=crs).to_crs(WGS84).to_numpy(),
        crs=WGS84,
    )
    extra = extra.reindex(columns=base.columns)
    combined = gpd.GeoDataFrame(
        pd.concat([base, extra], ignore_index=True), geometry="geometry", crs=WGS84
    )
    population = residents["population"].to_numpy(dtype=np.float64)
    described = message(
        f"units_{what}_with_remainder",
        n=len(base),
        rest=len(ids),
        ids=", ".join(ids[:_MAX_LISTED]),
        points=int(outside.sum()),
        residents=f"{population[outside].sum():,.0f}",
    )
    return combined, described


def level_label(level: str) -> str:
    """The bilingual label of a unit level, e.g. ``"社区 community"``."""
    return _LEVEL_WORDS.get(level, level)
