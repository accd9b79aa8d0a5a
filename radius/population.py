"""Residents (demand): resident points with population and households from real data.

Every loader returns a *residents* GeoDataFrame in EPSG:4326 with exactly these columns:

``resident_id`` (str, unique)
    Where the point came from: ``raster/r{row}c{col}``, ``building/osm/w123``,
    ``building/{id}``, ``plot/{id}/{k}`` or ``point/{row}``.
``population`` (float64, persons, ≥ 0)
``households`` (float64, households, ≥ 0)
    Households are first-class: where only population is known, households = population /
    household size; where only households are known, population = households × household size.
``source`` (str)
    ``"raster"``, ``"building"``, ``"plot"`` or ``"points"``.
``area_type`` (str)
    ``"new"``, ``"old"`` or ``""`` when unknown (from an ``area_type`` column when the input
    has one; 新/新区 and 旧/老区/老旧 are understood).
``geometry`` (Point, WGS-84)

Demand-group columns (``aged_60_plus``, ``aged_65_plus``, ``aged_0_3``, ``aged_3_6``,
``disabled``; see ``configs/demand_groups.yaml``) follow ``area_type`` when the input has a
column for them (60岁及以上人口, 0-3岁人口, 残疾人 …; empty cells stay NaN and are later
estimated from the group's share by :func:`radius.groups.complete_groups`).

Defaults (household size, floor area per person, assumed storeys, residential building tags
and land use, plot grid spacing) come from ``configs/population.yaml``; every loader takes
them as keyword arguments that override the file.

Inputs are validated once, here at the boundary: all problems of a file are collected and
raised as one :class:`~radius._errors.InputError` naming the file and, for each problem, the
row (spreadsheet row numbers for CSV/XLSX, the header being row 1), the column, the value and
the fix.
"""

from __future__ import annotations

import math
import numbers
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from radius._errors import CRSError, InputError
from radius._files import check_workbook, parse_number, read_vector_layer
from radius._limits import (
    check_raster_window,
    check_rows,
    check_table_file,
    raster_strips,
    regular_file,
)
from radius._osm import OSM_ERRORS, open_osm, unreadable_osm
from radius._residents import (
    GROUP_COLUMNS,
    WGS84,
    PopulationDefaults,
    _canonical_columns,
    _check_geometries,
    _columns_found,
    _emit,
    _expect_geodataframe,
    _group_counts,
    _id_text,
    _meaning,
    _metric_crs,
    _numbers,
    _Origin,
    _positive,
    _Problems,
    _quantities,
    _require_crs,
    _require_quantity_column,
    _require_rows,
    _residents_frame,
    _row_keys,
    _show,
    _tag_parts,
    load_population_defaults,
)
from radius._residents import _area_types as _area_types
from radius._residents import _column_label as _column_label
from radius.i18n import Message, message

__all__ = [
    "GROUP_COLUMNS",
    "RESIDENT_COLUMNS",
    "SOURCES",
    "PopulationDefaults",
    "buildings_from_osm",
    "estimate_from_osm_buildings",
    "group_from_rasters",
    "load_population_defaults",
    "read_residents",
    "residents_from_buildings",
    "residents_from_osm_buildings",
    "residents_from_plots",
    "residents_from_points",
    "residents_from_raster",
    "summarize_residents",
]

RESIDENT_COLUMNS = ("resident_id", "population", "households", "source", "area_type", "geometry")
"""The columns of every residents frame, in order (demand-group columns such as
``aged_60_plus`` follow ``area_type`` when the input gives them)."""
SOURCES = ("raster", "building", "plot", "points")
"""The values of the ``source`` column."""

MAX_PLOT_POINTS = 5_000_000

PathLike = str | os.PathLike[str]
BBox = tuple[float, float, float, float]


# --- 1. Rasters --------------------------------------------------------------------------------


def _check_bbox(bbox: Sequence[float]) -> BBox:
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise InputError(message("population_bbox_not_numbers", bbox=repr(bbox))) from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise InputError(message("population_bbox_not_finite", bbox=repr(bbox)))
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InputError(message("population_bbox_order", bbox=repr(bbox)))
    return west, south, east, north


def _raster_paths(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        return [Path(paths)]
    files = [Path(p) for p in paths]
    if not files:
        raise InputError(message("population_no_rasters"))
    return files


def _same_grid(a: Any, b: Any) -> bool:
    return bool(
        a.width == b.width
        and a.height == b.height
        and a.crs == b.crs
        and a.transform.almost_equals(b.transform, precision=1e-9)
    )


def _window(src: Any, path: Path, bbox: BBox) -> tuple[int, int, int, int]:
    """Row/column range (row0, row1, col0, col1) of the pixels that may lie in ``bbox``."""
    from rasterio.warp import transform_bounds

    transform = src.transform
    if transform.b != 0 or transform.d != 0:  # rotated grid: read it all, filter afterwards
        return 0, src.height, 0, src.width
    left, bottom, right, top = transform_bounds(WGS84, src.crs, *bbox, densify_pts=21)
    cols = [(x - transform.c) / transform.a for x in (left, right)]
    rows = [(y - transform.f) / transform.e for y in (bottom, top)]
    row0 = max(0, math.floor(min(rows)))
    row1 = min(src.height, math.ceil(max(rows)))
    col0 = max(0, math.floor(min(cols)))
    col1 = min(src.width, math.ceil(max(cols)))
    if row0 >= row1 or col0 >= col1:
        west, south, east, north = transform_bounds(src.crs, WGS84, *src.bounds)
        raise InputError(
            message(
                "population_bbox_outside_raster",
                file=str(path),
                bbox=str(bbox),
                extent=f"({west:.5f}, {south:.5f}, {east:.5f}, {north:.5f})",
            )
        )
    return row0, row1, col0, col1


def residents_from_raster(
    paths: PathLike | Sequence[PathLike],
    *,
    bbox: Sequence[float] | None = None,
    band: int = 1,
    min_value: float = 0.0,
    household_size: float | None = None,
) -> gpd.GeoDataFrame:
    """Residents from population rasters: one point per populated pixel.

    Several rasters on the same grid (e.g. the ten WorldPop age/sex bands) are summed per
    pixel. Nodata, non-finite and negative values are ignored.

    Parameters
    ----------
    paths : str, Path or sequence of them
        One GeoTIFF, or several on exactly the same grid (CRS, size and transform).
    bbox : (west, south, east, north), optional
        Read only the pixels whose centre lies in this box (WGS-84 degrees). Only the
        window covering it is read from disk.
    band : int, default 1
        Band of each file to read (1-based).
    min_value : float, default 0.0
        Pixels whose summed value is ≤ this (persons) are dropped.
    household_size : float, optional
        Persons per household used for ``households = population / household_size``
        (default from ``configs/population.yaml``). For an age-specific raster (e.g. persons
        aged 60+) the households column is only a nominal conversion.

    Returns
    -------
    geopandas.GeoDataFrame
        Residents (see the module docstring), ``resident_id`` = ``raster/r{row}c{col}`` with
        the pixel's row and column in the full raster, points at pixel centres in EPSG:4326.

    Raises
    ------
    InputError
        A file cannot be read, the band does not exist, the rasters are on different grids,
        or the bbox is invalid or outside the raster.
    CRSError
        A raster has no CRS.
    """
    import rasterio
    from rasterio.errors import RasterioIOError
    from rasterio.windows import Window

    files = _raster_paths(paths)
    size = _positive("household_size", household_size, _defaults().household_size, "persons")
    if isinstance(band, bool) or not isinstance(band, numbers.Integral) or band < 1:
        raise InputError(message("population_band_invalid", band=repr(band)))
    if isinstance(min_value, bool) or not isinstance(min_value, numbers.Real):
        raise InputError(message("population_min_value_invalid", value=repr(min_value)))
    box = _check_bbox(bbox) if bbox is not None else None

    with ExitStack() as stack:
        sources = []
        for path in files:
            regular_file(path, "raster file")
            try:
                src = stack.enter_context(rasterio.open(path))
            except RasterioIOError as exc:
                raise InputError(
                    message("population_raster_unreadable", file=str(path), reason=str(exc))
                ) from None
            if src.crs is None:
                raise CRSError(message("population_raster_no_crs", file=str(path)))
            if band > src.count:
                raise InputError(
                    message("population_band_missing", file=str(path), band=band, count=src.count)
                )
            sources.append(src)
        reference = sources[0]
        for path, src in zip(files[1:], sources[1:], strict=True):
            if not _same_grid(reference, src):
                raise InputError(
                    message(
                        "population_rasters_grids",
                        first=str(files[0]),
                        file=str(path),
                        first_grid=f"{reference.width}×{reference.height} {reference.crs}",
                        grid=f"{src.width}×{src.height} {src.crs}",
                    )
                )
        if box is None:
            row0, row1, col0, col1 = 0, reference.height, 0, reference.width
        else:
            row0, row1, col0, col1 = _window(reference, files[0], box)
        width = col1 - col0
        check_raster_window(
            files[0],
            width,
            row1 - row0,
            max(np.dtype(s.dtypes[band - 1]).itemsize for s in sources),
            len(sources),
        )
        # Strips of whole rows: memory stays bounded whatever the window's size.
        found_rows, found_cols, found_values = [], [], []
        for start, stop in raster_strips(row0, row1, width):
            window = Window(col0, start, width, stop - start)
            total = np.zeros((stop - start, width), dtype=np.float64)
            valid = np.zeros(total.shape, dtype=bool)
            for src in sources:
                data = src.read(band, window=window, masked=True)
                values = np.ma.getdata(data).astype(np.float64)
                ok = ~np.ma.getmaskarray(data) & np.isfinite(values) & (values >= 0)
                total += np.where(ok, values, 0.0)
                valid |= ok
            strip_rows, strip_cols = np.nonzero(valid & (total > float(min_value)))
            found_values.append(total[strip_rows, strip_cols])
            found_rows.append(strip_rows + start)
            found_cols.append(strip_cols + col0)
        transform = reference.transform
        crs = pyproj.CRS.from_user_input(reference.crs)

    rows = np.concatenate([np.zeros(0, dtype=np.intp), *found_rows])
    cols = np.concatenate([np.zeros(0, dtype=np.intp), *found_cols])
    population = np.concatenate([np.zeros(0), *found_values])
    x = transform.a * (cols + 0.5) + transform.b * (rows + 0.5) + transform.c
    y = transform.d * (cols + 0.5) + transform.e * (rows + 0.5) + transform.f
    if crs.equals(pyproj.CRS.from_epsg(4326), ignore_axis_order=True):
        lon, lat = x, y
    else:
        to_wgs84 = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)
        lon, lat = to_wgs84.transform(x, y)
        lon, lat = np.asarray(lon), np.asarray(lat)
    if box is not None:
        west, south, east, north = box
        inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
        lon, lat, rows, cols, population = (a[inside] for a in (lon, lat, rows, cols, population))
    ids = [f"raster/r{r}c{c}" for r, c in zip(rows.tolist(), cols.tolist(), strict=True)]
    return _residents_frame(
        ids, population, population / size, "raster", "", shapely.points(lon, lat)
    )


def group_from_rasters(
    residents: gpd.GeoDataFrame,
    paths: PathLike | Sequence[PathLike],
    column: str,
    *,
    bbox: Sequence[float] | None = None,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Counts of one demand group from age/sex rasters, moved onto the resident points.

    The rasters (e.g. the ten WorldPop bands of ages 60+ by sex) are summed per pixel as in
    :func:`residents_from_raster`. Each pixel's count is shared by the resident points whose
    nearest pixel centre it is, in proportion to their residents (equally when they have
    none); the count of a pixel without any such point goes to the resident point nearest
    to it when that point is within 1.5 pixel spacings, else it lies beyond the residents and
    is left out (counted in the notes). The total of the pixels kept is kept exactly.

    Parameters
    ----------
    residents : geopandas.GeoDataFrame
        Resident points (at least one).
    paths : str, Path or sequence of them
        GeoTIFFs on one grid.
    column : str
        The group's column, e.g. ``"aged_60_plus"``.
    bbox : (west, south, east, north), optional
        Pixels to read (WGS-84 degrees); default: the residents' extent plus one pixel.

    Returns
    -------
    residents : geopandas.GeoDataFrame
        A copy with ``column`` set from the rasters.
    notes : list of str
        What was read and moved.

    Raises
    ------
    InputError
        No resident point, unreadable rasters, or rasters that do not reach the residents.
    """
    from scipy.spatial import cKDTree

    if len(residents) == 0:
        raise InputError(message("population_group_no_residents", column=_meaning(column)))
    files = _raster_paths(paths)
    if bbox is None:
        west, south, east, north = residents.to_crs(WGS84).total_bounds
        pad = 0.002  # about two 100 m pixels
        bbox = (west - pad, south - pad, east + pad, north + pad)
    pixels = residents_from_raster(files, bbox=bbox)
    frame = residents.copy()
    if len(pixels) == 0:
        raise InputError(
            message(
                "population_group_no_counts",
                files=", ".join(map(str, files)),
                column=_meaning(column),
            )
        )
    metric = _metric_crs(gpd.GeoDataFrame(geometry=residents.geometry))
    xy_res = shapely.get_coordinates(residents.geometry.to_crs(metric).to_numpy())
    xy_pix = shapely.get_coordinates(pixels.geometry.to_crs(metric).to_numpy())
    counts = pixels["population"].to_numpy(dtype=np.float64)
    _, pixel_of = cKDTree(xy_pix).query(xy_res)
    weight = frame["population"].to_numpy(dtype=np.float64)
    weight_sum = np.bincount(pixel_of, weights=weight, minlength=len(pixels))
    members = np.bincount(pixel_of, minlength=len(pixels))
    share = np.where(
        weight_sum[pixel_of] > 0,
        np.divide(weight, weight_sum[pixel_of], out=np.zeros_like(weight), where=weight > 0),
        1.0 / members[pixel_of],
    )
    values = counts[pixel_of] * share
    orphan = np.flatnonzero(members == 0)
    # Pixels within 1.5 pixel spacings of a resident point give their count to the nearest
    # point; pixels farther out lie beyond the residents (the study area's edge) and are
    # left out, counted in the note.
    spacing = 0.0
    if len(xy_pix) > 1:
        pair_distance = np.asarray(cKDTree(xy_pix).query(xy_pix, k=2)[0], dtype=np.float64)
        spacing = float(np.median(pair_distance[:, 1]))
    limit_m = 1.5 * spacing
    dropped = np.zeros(0, dtype=np.int64)
    if len(orphan):
        found, where = cKDTree(xy_res).query(xy_pix[orphan])
        distance = np.asarray(found, dtype=np.float64)
        nearest = np.asarray(where, dtype=np.int64)
        near = distance <= limit_m
        np.add.at(values, nearest[near], counts[orphan[near]])
        dropped, orphan = orphan[~near], orphan[near]
    frame[column] = values
    kept = counts.sum() - counts[dropped].sum()
    orphans = (
        message("population_group_orphans", persons=f"{counts[orphan].sum():,.0f}", n=len(orphan))
        if len(orphan)
        else ""
    )
    left_out = (
        message(
            "population_group_left_out",
            persons=f"{counts[dropped].sum():,.0f}",
            n=len(dropped),
            limit=f"{limit_m:,.0f}",
        )
        if len(dropped)
        else ""
    )
    notes: list[str] = [
        message(
            "population_group_note",
            column=_meaning(column),
            persons=f"{kept:,.0f}",
            bands=len(files),
            pixels=len(pixels) - len(dropped),
            points=len(frame),
            orphans=orphans,
            left_out=left_out,
        )
    ]
    return frame, notes


# --- 2–3. Buildings ----------------------------------------------------------------------------


def _buildings_to_residents(
    buildings: gpd.GeoDataFrame,
    origin: _Origin,
    household_size: float | None,
    floor_area_per_person_m2: float | None,
    default_levels: float | None,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    defaults = _defaults()
    size = _positive("household_size", household_size, defaults.household_size, "persons")
    per_person = _positive(
        "floor_area_per_person_m2",
        floor_area_per_person_m2,
        defaults.floor_area_per_person_m2,
        "m2_per_person",
    )
    levels_default = _positive("default_levels", default_levels, defaults.default_levels, "storeys")
    _require_crs(buildings, origin)
    _require_rows(buildings, origin, "building")
    frame, original = _canonical_columns(buildings, origin)
    problems = _Problems(origin)
    _check_geometries(frame, origin, problems, ("Polygon", "MultiPolygon"))
    area_type = _area_types(frame, original, origin, problems)
    if "osm_id" in frame.columns and "id" not in frame.columns:
        keys = [f"osm/{_id_text(v)}" for v in frame["osm_id"].to_numpy(dtype=object)]
        if len(set(keys)) != len(keys):
            problems.add(message("population_osm_id_repeated"))
    else:
        keys = _row_keys(frame, original, origin, problems)
    notes: list[str] = []
    given = "population" in frame.columns or "households" in frame.columns
    if given:
        population, households = _quantities(frame, original, origin, problems, size)
    groups = _group_counts(frame, original, origin, problems)
    problems.raise_if_any()
    metric = frame.to_crs(_metric_crs(frame))
    if not given:
        levels = np.full(len(frame), np.nan)
        if "levels" in frame.columns:
            levels = _numbers(frame["levels"]).values
        unusable = ~(levels > 0)
        levels = np.where(unusable, levels_default, levels)
        floor_area = metric.geometry.area.to_numpy(dtype=np.float64) * levels
        population = floor_area / per_person
        households = population / size
        if unusable.any():
            notes.append(
                message(
                    "building_levels_assumed",
                    source=origin.name,
                    n=int(unusable.sum()),
                    total=len(frame),
                    levels=f"{levels_default:g}",
                )
            )
    points = metric.geometry.representative_point().to_crs(WGS84)
    ids = [f"building/{key}" for key in keys]
    residents = _residents_frame(ids, population, households, "building", area_type, points, groups)
    return residents, notes


def residents_from_buildings(
    buildings: gpd.GeoDataFrame,
    *,
    household_size: float | None = None,
    floor_area_per_person_m2: float | None = None,
    default_levels: float | None = None,
) -> gpd.GeoDataFrame:
    """Residents from building footprints: one point per building.

    Each building's population comes, in order of precedence, from

    1. a ``population`` column (人口);
    2. a ``households`` column (户数) × ``household_size``;
    3. else its floor area: footprint area (m², measured in the UTM zone of the data, or in
       the frame's own CRS when that is projected in metres) × levels (a ``levels`` or
       ``building:levels`` column, else ``default_levels``) / ``floor_area_per_person_m2``.

    Parameters
    ----------
    buildings : geopandas.GeoDataFrame
        Polygon/MultiPolygon footprints in any CRS (it must have one). Optional columns:
        ``population``, ``households``, ``levels``/``building:levels``, ``area_type``,
        ``id`` or ``osm_id`` (used in ``resident_id``).
    household_size : float, optional
        Persons per household (default from ``configs/population.yaml``).
    floor_area_per_person_m2 : float, optional
        Residential floor area per person (m²; default from the config).
    default_levels : float, optional
        Storeys assumed for buildings without usable levels (default from the config).

    Returns
    -------
    geopandas.GeoDataFrame
        Residents with ``source="building"``; the point is the footprint's representative
        point (always inside it).

    Raises
    ------
    InputError
        Every bad row at once: negative, missing or non-numeric population/households,
        empty or non-polygon geometries, unknown area types; or an empty frame.
    CRSError
        The frame has no CRS.

    Warns
    -----
    UserWarning
        When buildings without usable levels are given ``default_levels`` (with their count).
    """
    frame = _expect_geodataframe(buildings, "buildings")
    residents, notes = _buildings_to_residents(
        frame,
        _Origin(message("residents_origin_buildings")),
        household_size,
        floor_area_per_person_m2,
        default_levels,
    )
    _emit(notes)
    return residents


def _parse_levels(text: str | None) -> float:
    if text is None:
        return math.nan
    number = parse_number(text)
    if number is None or math.isnan(number) or number <= 0:
        return math.nan
    return number


def _tag_list(value: Iterable[str] | None, default: Iterable[str], not_list: str) -> frozenset[str]:
    if isinstance(value, str):
        raise InputError(message(not_list, tags=repr(value)))
    return frozenset(value if value is not None else default)


class _Areas:
    """Areas of some OSM tags (``key=value`` or a bare ``key``) met while reading a file."""

    def __init__(self, tags: Iterable[str]) -> None:
        self.keys: dict[str, frozenset[str] | None] = {}
        for text in tags:
            parts = _tag_parts(text)
            if parts is None:
                raise InputError(message("population_area_tag_bad", tag=repr(text)))
            key, value = parts
            known = self.keys.get(key, frozenset())
            self.keys[key] = None if value is None or known is None else known | {value}
        self.wkbs: list[str] = []

    def matches(self, tags: Any) -> bool:
        for key, values in self.keys.items():
            value = tags.get(key)
            if value is not None and (values is None or value in values):
                return True
        return False

    def tree(self) -> shapely.STRtree:
        return shapely.STRtree(shapely.from_wkb(np.asarray(self.wkbs, dtype=object)))


def _read_osm_buildings(
    path: Path,
    residential_tags: Iterable[str] | None,
    residential_landuse: Iterable[str] | None = None,
) -> tuple[gpd.GeoDataFrame, Counter[str], int, int]:
    """Residential buildings of an OSM file, the count of every building value, broken areas,
    and how many of the buildings are untyped ones taken by the residential land-use rule."""
    import osmium
    from osmium.geom import WKBFactory

    defaults = _defaults()
    tags = _tag_list(
        residential_tags, defaults.residential_building_tags, "population_tags_not_list"
    )
    landuse = _tag_list(
        residential_landuse, defaults.residential_landuse, "population_landuse_not_list"
    )
    # Untyped buildings are candidates only when the rule is on and `yes` is not already housing.
    rule = bool(landuse) and "yes" not in tags
    residential_areas = _Areas(f"landuse={v}" for v in sorted(landuse))
    vetoes = _Areas(defaults.non_residential_areas)
    own_vetoes = tuple(defaults.non_residential_building_keys)
    area_keys = sorted({*residential_areas.keys, *vetoes.keys}) if rule else []
    factory = WKBFactory()
    values: Counter[str] = Counter()
    osm_ids: list[str] = []
    building: list[str] = []
    levels: list[float] = []
    wkbs: list[str] = []  # hex WKB, as pyosmium's WKBFactory returns it
    candidate: list[bool] = []  # an untyped building, kept only inside residential land use
    # Outlines that should become areas, and those that did: the area assembler silently
    # drops rings it cannot close, e.g. buildings cut by the edge of the extract.
    expected: set[str] = set()
    assembled: set[str] = set()
    broken = 0
    processor = open_osm(path)
    try:
        reader = processor.with_areas().with_filter(osmium.filter.KeyFilter("building", *area_keys))
        for obj in reader:
            if area_keys and isinstance(obj, osmium.osm.Area):
                for areas in (residential_areas, vetoes):
                    if areas.matches(obj.tags):
                        with suppress(RuntimeError):  # a broken ring: not an area
                            areas.wkbs.append(factory.create_multipolygon(obj))
            value = obj.tags.get("building")
            if value is None:
                continue
            if isinstance(obj, osmium.osm.Way):
                if value in tags and len(obj.nodes) >= 4 and obj.is_closed():
                    expected.add(f"w{obj.id}")
                continue
            if isinstance(obj, osmium.osm.Relation):
                if value in tags and obj.tags.get("type") == "multipolygon":
                    expected.add(f"r{obj.id}")
                continue
            if not isinstance(obj, osmium.osm.Area):
                continue
            values[value] += 1
            untyped = rule and value == "yes" and not any(k in obj.tags for k in own_vetoes)
            if value not in tags and not untyped:
                continue
            osm_id = f"{'w' if obj.from_way() else 'r'}{obj.orig_id()}"
            try:
                wkb = factory.create_multipolygon(obj)
            except RuntimeError:
                if not untyped:
                    assembled.add(osm_id)
                    broken += 1
                continue
            if not untyped:
                assembled.add(osm_id)
            osm_ids.append(osm_id)
            building.append(value)
            levels.append(_parse_levels(obj.tags.get("building:levels")))
            wkbs.append(wkb)
            candidate.append(untyped)
    except (*OSM_ERRORS, ValueError) as exc:
        raise unreadable_osm(path, exc) from None
    geometry = shapely.from_wkb(np.asarray(wkbs, dtype=object)) if wkbs else np.empty(0, object)
    keep = ~np.asarray(candidate, dtype=bool)
    if (~keep).any() and residential_areas.wkbs:
        # An untyped building is housing when its representative point lies in residential
        # land use and in none of the non-residential areas.
        points = shapely.point_on_surface(geometry[~keep])
        inside = np.zeros(len(points), dtype=bool)
        inside[residential_areas.tree().query(points, predicate="within")[0]] = True
        if vetoes.wkbs:
            inside[vetoes.tree().query(points, predicate="within")[0]] = False
        keep[np.flatnonzero(~keep)[inside]] = True
    taken = int((keep & np.asarray(candidate, dtype=bool)).sum())
    # A single-polygon multipolygon is returned as a Polygon, the common case.
    geometry = [
        g.geoms[0] if isinstance(g, shapely.MultiPolygon) and len(g.geoms) == 1 else g
        for g in geometry[keep]
    ]
    frame = gpd.GeoDataFrame(
        {
            "osm_id": pd.Series(np.asarray(osm_ids, dtype=object)[keep], dtype=str),
            "building": pd.Series(np.asarray(building, dtype=object)[keep], dtype=str),
            "levels": np.asarray(levels, dtype=np.float64)[keep],
        },
        geometry=gpd.GeoSeries(geometry, crs=WGS84),
        crs=WGS84,
    )
    return frame, values, broken + len(expected - assembled), taken


def _broken_note(path: Path, broken: int) -> list[str]:
    if not broken:
        return []
    return [message("population_outlines_skipped", file=str(path), n=broken)]


def buildings_from_osm(
    path: PathLike,
    *,
    residential_tags: Iterable[str] | None = None,
    residential_landuse: Iterable[str] | None = None,
) -> gpd.GeoDataFrame:
    """Residential buildings from an OSM file (XML, bz2/gz-compressed XML or PBF).

    Closed ways and multipolygon relations tagged ``building=*`` with a value in
    ``residential_tags`` are read with pyosmium's area assembler, and so are untyped ones
    (``building=yes``) whose representative point lies inside a ``landuse=*`` area of a value
    in ``residential_landuse`` (a 小区 mapped as a residential area around untyped
    buildings), unless it also lies in one of the ``non_residential_areas`` of
    ``configs/population.yaml`` (a school, hospital or shopping area) or the building carries
    one of its ``non_residential_building_keys`` (``amenity``, ``shop`` …).

    Parameters
    ----------
    path : str or Path
        The OSM file.
    residential_tags : iterable of str, optional
        ``building`` values treated as residential (default
        ``residential_building_tags`` from ``configs/population.yaml``; ``yes`` is not in it).
    residential_landuse : iterable of str, optional
        ``landuse`` values of the areas inside which ``building=yes`` counts as residential
        (default ``residential_landuse`` from the config, ``["residential"]``); ``[]`` turns
        the rule off.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, columns ``osm_id`` (``"w123"`` for a way, ``"r456"`` for a relation),
        ``building``, ``levels`` (from ``building:levels``; NaN if absent or not a positive
        number) and Polygon/MultiPolygon ``geometry``. May be empty.

    Raises
    ------
    InputError
        The file is missing or not readable OSM data.

    Warns
    -----
    UserWarning
        When outlines cannot be assembled (they are skipped and counted).
    """
    frame, _, broken, _ = _read_osm_buildings(Path(path), residential_tags, residential_landuse)
    _emit(_broken_note(Path(path), broken))
    return frame


def _osm_residents(
    path: Path,
    residential_tags: Iterable[str] | None,
    household_size: float | None,
    floor_area_per_person_m2: float | None,
    default_levels: float | None,
    figures: dict[str, Any] | None = None,
    residential_landuse: Iterable[str] | None = None,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    frame, values, broken, taken = _read_osm_buildings(path, residential_tags, residential_landuse)
    notes = _broken_note(path, broken)
    tags = frozenset(residential_tags or _defaults().residential_building_tags)
    if taken:
        landuse = residential_landuse
        landuse = _defaults().residential_landuse if landuse is None else landuse
        notes.append(
            message(
                "population_landuse_buildings",
                source=str(path),
                n=taken,
                typed=len(frame) - taken,
                landuse="|".join(sorted(landuse)),
            )
        )
    if frame.empty:
        found = ", ".join(f"{v} ({n})" for v, n in values.most_common(10))
        raise InputError(
            message(
                "population_no_residential_buildings",
                file=str(path),
                tags=", ".join(sorted(tags)),
                found=found or message("population_none_found"),
            )
        )
    residents, more = _buildings_to_residents(
        frame,
        _Origin(str(path)),
        household_size,
        floor_area_per_person_m2,
        default_levels,
    )
    if figures is not None:
        footprint = float(frame.to_crs(_metric_crs(frame)).geometry.area.sum()) / 1e6
        figures.update(
            residential_buildings=len(frame),
            without_levels=int((~(frame["levels"].to_numpy(dtype=np.float64) > 0)).sum()),
            landuse_buildings=taken,
            other_buildings=int(sum(n for v, n in values.items() if v not in tags)) - taken,
            footprint_km2=round(footprint, 4),
        )
    return residents, notes + more


def estimate_from_osm_buildings(
    path: PathLike,
    *,
    residential_tags: Iterable[str] | None = None,
    household_size: float | None = None,
    floor_area_per_person_m2: float | None = None,
    default_levels: float | None = None,
    residential_landuse: Iterable[str] | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """:func:`residents_from_osm_buildings` and the figures that judge the estimate.

    Returns
    -------
    residents : geopandas.GeoDataFrame
        As :func:`residents_from_osm_buildings`.
    figures : dict
        ``residential_buildings``, ``without_levels`` (residential buildings given
        ``default_levels``), ``landuse_buildings`` (of the residential buildings, the
        untyped ones counted because they stand in residential land use),
        ``other_buildings`` (buildings of other values, e.g. ``building=yes`` outside
        residential land use, not counted), ``footprint_km2`` (residential footprints).
    """
    figures: dict[str, Any] = {}
    residents, notes = _osm_residents(
        Path(path),
        residential_tags,
        household_size,
        floor_area_per_person_m2,
        default_levels,
        figures,
        residential_landuse,
    )
    _emit(notes)
    return residents, figures


def residents_from_osm_buildings(
    path: PathLike,
    *,
    residential_tags: Iterable[str] | None = None,
    household_size: float | None = None,
    floor_area_per_person_m2: float | None = None,
    default_levels: float | None = None,
    residential_landuse: Iterable[str] | None = None,
) -> gpd.GeoDataFrame:
    """Residents of the residential buildings of an OSM file.

    :func:`buildings_from_osm` followed by :func:`residents_from_buildings` (floor area ×
    levels / floor area per person). ``resident_id`` is ``building/osm/w123``.

    Parameters
    ----------
    path : str or Path
        The OSM file.
    residential_tags : iterable of str, optional
        ``building`` values treated as residential (default from the config).
    household_size, floor_area_per_person_m2, default_levels : float, optional
        See :func:`residents_from_buildings`.
    residential_landuse : iterable of str, optional
        See :func:`buildings_from_osm` (``building=yes`` in residential land use).

    Returns
    -------
    geopandas.GeoDataFrame
        Residents with ``source="building"``.

    Raises
    ------
    InputError
        The file is unreadable or has no residential building (the message lists the
        building values it does have).

    Warns
    -----
    UserWarning
        For buildings given ``default_levels`` and for outlines that could not be assembled.
    """
    residents, notes = _osm_residents(
        Path(path),
        residential_tags,
        household_size,
        floor_area_per_person_m2,
        default_levels,
        residential_landuse=residential_landuse,
    )
    _emit(notes)
    return residents


# --- 4. Plots ----------------------------------------------------------------------------------


def _grid_points(polygon: shapely.Geometry, spacing: float) -> np.ndarray:
    """Points of a square grid (centred on the polygon's bounds) inside ``polygon``."""
    minx, miny, maxx, maxy = polygon.bounds
    axes = []
    for low, high in ((minx, maxx), (miny, maxy)):
        # A width a hair over a whole number of spacings (reprojection noise) is that number.
        count = max(1, math.ceil((high - low) / spacing - 1e-6))
        start = low + ((high - low) - (count - 1) * spacing) / 2.0
        axes.append(start + spacing * np.arange(count))
    xs, ys = np.meshgrid(axes[0], axes[1])
    xs, ys = xs.ravel(), ys.ravel()
    inside = shapely.contains_xy(polygon, xs, ys)
    if not inside.any():
        return np.array([polygon.representative_point()], dtype=object)
    return shapely.points(xs[inside], ys[inside])


def _plots_to_residents(
    plots: gpd.GeoDataFrame,
    origin: _Origin,
    household_size: float | None,
    spacing_m: float | None,
) -> gpd.GeoDataFrame:
    defaults = _defaults()
    size = _positive("household_size", household_size, defaults.household_size, "persons")
    spacing = _positive("spacing_m", spacing_m, defaults.plot_point_spacing_m, "metres")
    _require_crs(plots, origin)
    _require_rows(plots, origin, "plot")
    frame, original = _canonical_columns(plots, origin)
    _require_quantity_column(frame, plots, origin)
    problems = _Problems(origin)
    _check_geometries(frame, origin, problems, ("Polygon", "MultiPolygon"))
    population, households = _quantities(frame, original, origin, problems, size)
    groups = _group_counts(frame, original, origin, problems)
    area_type = _area_types(frame, original, origin, problems)
    keys = _row_keys(frame, original, origin, problems)
    problems.raise_if_any()

    metric_crs = _metric_crs(frame)
    metric = frame.geometry.to_crs(metric_crs)
    expected = float(metric.area.sum()) / spacing**2
    if expected > MAX_PLOT_POINTS:
        raise InputError(
            message(
                "population_plots_too_many_points",
                source=origin.name,
                points=f"{expected:,.0f}",
                spacing=f"{spacing:g}",
            )
        )
    ids: list[str] = []
    parts: list[np.ndarray] = []
    point_population: list[np.ndarray] = []
    point_households: list[np.ndarray] = []
    point_area: list[np.ndarray] = []
    counts = np.zeros(len(frame), dtype=np.int64)
    for i, polygon in enumerate(metric.to_numpy()):
        points = _grid_points(polygon, spacing)
        n = len(points)
        counts[i] = n
        parts.append(points)
        ids.extend(f"plot/{keys[i]}/{k}" for k in range(n))
        point_population.append(np.full(n, population[i] / n))
        point_households.append(np.full(n, households[i] / n))
        point_area.append(np.full(n, area_type[i], dtype=object))
    geometry = gpd.GeoSeries(np.concatenate(parts), crs=metric_crs).to_crs(WGS84)
    return _residents_frame(
        ids,
        np.concatenate(point_population),
        np.concatenate(point_households),
        "plot",
        np.concatenate(point_area),
        geometry,
        {column: np.repeat(values / counts, counts) for column, values in groups.items()},
    )


def residents_from_plots(
    plots: gpd.GeoDataFrame,
    *,
    household_size: float | None = None,
    spacing_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Residents of residential plots, spread evenly over a grid of points in each plot.

    This is how planners describe a new district: plots (地块) with a number of households
    and/or residents. A plot's residents are shared equally by the points of a square grid
    of ``spacing_m`` inside it (the representative point when the plot is too small for any
    grid point), so a large plot is not one demand point.

    Parameters
    ----------
    plots : geopandas.GeoDataFrame
        Polygon/MultiPolygon plots in any CRS (it must have one) with ``households`` (户数)
        and/or ``population`` (人口); optional ``area_type`` (new/old, 新区/老区) and ``id``
        (编号; used in ``resident_id`` ``plot/{id}/{k}``, else the row's index label).
    household_size : float, optional
        Persons per household (default from ``configs/population.yaml``).
    spacing_m : float, optional
        Grid spacing (metres; default ``plot_point_spacing_m`` from the config).

    Returns
    -------
    geopandas.GeoDataFrame
        Residents with ``source="plot"``; each plot's points sum to its population and
        households.

    Raises
    ------
    InputError
        No population/households column (the columns found are listed), or bad rows
        (all listed at once), or an empty frame.
    CRSError
        The frame has no CRS.
    """
    frame = _expect_geodataframe(plots, "plots")
    return _plots_to_residents(
        frame, _Origin(message("residents_origin_plots")), household_size, spacing_m
    )


# --- 5. Points (tables and point layers) -------------------------------------------------------

_TABLE_SUFFIXES = (".csv", ".txt", ".tsv")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm")


def _read_csv(path: Path, encoding: str | None) -> pd.DataFrame:
    encodings = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    for candidate in encodings:
        try:
            # Only an empty cell is missing: "NaN", "NA" or "null" are text the user wrote
            # and are reported as such.
            frame = pd.read_csv(
                path,
                encoding=candidate,
                dtype=str,
                sep=sep,
                skip_blank_lines=False,
                keep_default_na=False,
                na_values=[""],
            )
        except UnicodeDecodeError:
            continue
        except LookupError:
            raise InputError(
                message("population_encoding_unknown", file=str(path), encoding=repr(candidate))
            ) from None
        except pd.errors.EmptyDataError:
            raise InputError(message("population_csv_empty", file=str(path))) from None
        except pd.errors.ParserError as exc:
            raise InputError(
                message("population_csv_unreadable", file=str(path), reason=str(exc))
            ) from None
        return frame
    tried = (
        encodings[0]
        if len(encodings) == 1
        else message("residents_either", first=", ".join(encodings[:-1]), last=encodings[-1])
    )
    raise InputError(message("population_csv_encoding", file=str(path), encodings=tried))


def _read_excel(path: Path) -> pd.DataFrame:
    check_workbook(path)
    try:
        return pd.read_excel(
            path, dtype=object, engine="openpyxl", keep_default_na=False, na_values=[""]
        )
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise InputError(
            message("population_xlsx_unreadable", file=str(path), reason=str(exc))
        ) from None


def _read_vector(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    return read_vector_layer(path, layer, what="residents")


def _read_table(
    path: Path, encoding: str | None, layer: str | None
) -> tuple[pd.DataFrame, _Origin]:
    regular_file(path, "file")
    suffix = path.suffix.lower()
    if suffix in _TABLE_SUFFIXES:
        check_table_file(path, "residents", text=True)
        frame: pd.DataFrame = _read_csv(path, encoding)
        origin = _Origin(str(path), "sheet")
    elif suffix in _EXCEL_SUFFIXES:
        check_table_file(path, "residents", text=False)
        frame = _read_excel(path)
        check_rows(path, len(frame), "residents")
        origin = _Origin(str(path), "sheet")
    elif suffix == ".xls":
        raise InputError(message("population_xls_old", file=str(path)))
    else:
        frame = _read_vector(path, layer)
        origin = _Origin(str(path), "feature")
    frame = frame.reset_index(drop=True)
    geometry_name = _geometry_name(frame)
    attributes = frame.drop(columns=[geometry_name]) if geometry_name else frame
    empty_rows = attributes.isna().all(axis=1).to_numpy()  # blank lines keep their row number
    if geometry_name:
        empty_rows = empty_rows & frame.geometry.isna().to_numpy()
    return frame.loc[~empty_rows], origin


def _geometry_name(frame: pd.DataFrame) -> str | None:
    """Name of the active geometry column, None for a plain table."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return None
    try:
        return str(frame.geometry.name)
    except AttributeError:  # a GeoDataFrame without an active geometry column
        return None


def _points_to_residents(
    table: pd.DataFrame,
    origin: _Origin,
    household_size: float | None,
    crs: Any,
) -> gpd.GeoDataFrame:
    size = _positive("household_size", household_size, _defaults().household_size, "persons")
    _require_rows(table, origin, "point")
    frame, original = _canonical_columns(table, origin)
    _require_quantity_column(frame, table, origin)
    problems = _Problems(origin)
    has_geometry = _geometry_name(frame) is not None
    if has_geometry:
        points = gpd.GeoDataFrame(frame)
        if points.crs is None:
            if crs is None:
                _require_crs(points, origin)
            points = points.set_crs(crs)
        ok = _check_geometries(points, origin, problems, ("Point",))
        geometry = points.geometry
    else:
        if "lon" not in frame.columns or "lat" not in frame.columns:
            raise InputError(
                message(
                    "population_no_coordinates", source=origin.name, found=_columns_found(table)
                )
            )
        source_crs = pyproj.CRS.from_user_input(crs if crs is not None else WGS84)
        coords = {c: _numbers(frame[c]) for c in ("lon", "lat")}
        ok = np.ones(len(frame), dtype=bool)
        labels = frame.index.tolist()
        for column, parsed in coords.items():
            label = _column_label(column, original)
            axis = message(f"population_axis_{column}")
            for i in np.flatnonzero(parsed.bad | parsed.missing):
                where = {"row": origin.row(labels[i]), "column": label, "axis": axis}
                if parsed.missing[i]:
                    problems.add(message("population_coordinate_empty", **where))
                else:
                    problems.add(
                        message("population_coordinate_bad", **where, value=_show(parsed.raw[i]))
                    )
            ok &= ~(parsed.bad | parsed.missing)
        lon, lat = coords["lon"].values, coords["lat"].values
        if source_crs.is_geographic:
            for column, values, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
                label = _column_label(column, original)
                for i in np.flatnonzero(ok & (np.abs(values) > limit)):
                    problems.add(
                        message(
                            "population_coordinate_outside",
                            row=origin.row(labels[i]),
                            column=label,
                            value=_show(values[i]),
                            limit=f"{limit:g}",
                        )
                    )
        geometry = gpd.GeoSeries(shapely.points(lon, lat), index=frame.index, crs=source_crs)
    population, households = _quantities(frame, original, origin, problems, size)
    groups = _group_counts(frame, original, origin, problems)
    area_type = _area_types(frame, original, origin, problems)
    keys = _row_keys(frame, original, origin, problems)
    problems.raise_if_any()
    return _residents_frame(
        [f"point/{key}" for key in keys],
        population,
        households,
        "points",
        area_type,
        geometry.to_crs(WGS84),
        groups,
    )


def residents_from_points(
    path_or_frame: PathLike | pd.DataFrame,
    *,
    household_size: float | None = None,
    crs: Any = None,
    encoding: str | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Residents from a table or layer of points (one resident point per row).

    Parameters
    ----------
    path_or_frame : str, Path, DataFrame or GeoDataFrame
        A CSV, XLSX, GeoJSON, GeoPackage or shapefile, or a frame. Needs ``population`` (人口)
        and/or ``households`` (户数), and either a Point geometry or ``lon``/``lat`` columns
        (经度/纬度). Optional ``area_type`` (类型/区域类型) and ``id`` (编号).
    household_size : float, optional
        Persons per household (default from ``configs/population.yaml``).
    crs : CRS-like, optional
        CRS of the ``lon``/``lat`` columns (default EPSG:4326), or of a point layer that has
        none. Coordinates from Chinese web maps in GCJ-02/BD-09 must be converted to WGS-84
        first; no EPSG code describes them.
    encoding : str, optional
        Text encoding of a CSV; by default UTF-8 (with or without BOM), then GB18030 (a
        superset of GBK/GB2312, what Chinese Excel saves).
    layer : str, optional
        Layer of a multi-layer GeoPackage.

    Returns
    -------
    geopandas.GeoDataFrame
        Residents with ``source="points"``; ``resident_id`` is ``point/{id}`` with the
        ``id`` column, else ``point/{row}`` with the spreadsheet row (header = row 1), the
        feature number of a vector file, or the frame's index label.

    Raises
    ------
    InputError
        Unreadable file; no population/households or coordinate columns (the columns found
        are listed); bad rows (all listed at once with row, column, value and fix).
    CRSError
        A point layer or GeoDataFrame without CRS and no ``crs`` given.
    """
    if isinstance(path_or_frame, pd.DataFrame):
        table = path_or_frame
        origin = _Origin(message("residents_origin_points"))
        _require_rows(table, origin, "point")
    else:
        table, origin = _read_table(Path(path_or_frame), encoding, layer)
    return _points_to_residents(table, origin, household_size, crs)


# --- 6. Dispatch -------------------------------------------------------------------------------

_OSM_SUFFIXES = (".osm", ".pbf", ".o5m")
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _file_kind(path: Path) -> Literal["raster", "osm", "table", "vector"]:
    name = path.name.lower()
    with path.open("rb") as handle:
        head = handle.read(1024)
    if head[:4] in _TIFF_MAGIC or name.endswith((".tif", ".tiff")):
        return "raster"
    stripped = name.removesuffix(".bz2").removesuffix(".gz")
    if stripped.endswith(_OSM_SUFFIXES) or stripped.endswith(".osm.xml"):
        return "osm"
    if b"OSMHeader" in head[:64] or (head.lstrip().startswith(b"<?xml") and b"<osm" in head):
        return "osm"
    if path.suffix.lower() in (*_TABLE_SUFFIXES, *_EXCEL_SUFFIXES, ".xls"):
        return "table"
    return "vector"


def read_residents(
    path: PathLike,
    *,
    layer: str | None = None,
    bbox: Sequence[float] | None = None,
    band: int = 1,
    min_value: float = 0.0,
    residential_tags: Iterable[str] | None = None,
    household_size: float | None = None,
    floor_area_per_person_m2: float | None = None,
    default_levels: float | None = None,
    spacing_m: float | None = None,
    residential_landuse: Iterable[str] | None = None,
    crs: Any = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Residents from any supported file, choosing the loader by the file's content.

    - a GeoTIFF (``.tif``/``.tiff`` or TIFF bytes) -> :func:`residents_from_raster`;
    - an OSM file (``.osm``, ``.osm.bz2``, ``.osm.pbf``, OSM XML) ->
      :func:`residents_from_osm_buildings`;
    - a CSV/XLSX table, or a layer of points -> :func:`residents_from_points`;
    - a layer of polygons with ``population``/``households`` -> :func:`residents_from_plots`;
    - a layer of polygons with only building-like columns (``levels``,
      ``building:levels``, ``building``) -> :func:`residents_from_buildings`.

    Keyword arguments that do not apply to the chosen loader (e.g. ``spacing_m`` for a
    raster) are ignored.

    Parameters
    ----------
    path : str or Path
        The file.
    layer : str, optional
        Layer of a multi-layer vector file.
    bbox, band, min_value
        See :func:`residents_from_raster`.
    residential_tags, residential_landuse
        See :func:`buildings_from_osm`.
    household_size, floor_area_per_person_m2, default_levels
        See :func:`residents_from_buildings`.
    spacing_m
        See :func:`residents_from_plots`.
    crs, encoding
        See :func:`residents_from_points`.

    Returns
    -------
    geopandas.GeoDataFrame
        Residents (see the module docstring).

    Raises
    ------
    InputError
        The file is missing or unreadable, its geometries are mixed or of no usable kind, or
        polygons have neither population/households nor building columns.
    """
    file = Path(path)
    if file.is_dir():
        raise InputError(message("population_is_folder", file=str(file)))
    regular_file(file, "file")
    kind = _file_kind(file)
    notes: list[str] = []
    if kind == "raster":
        return residents_from_raster(
            file, bbox=bbox, band=band, min_value=min_value, household_size=household_size
        )
    if kind == "osm":
        residents, notes = _osm_residents(
            file,
            residential_tags,
            household_size,
            floor_area_per_person_m2,
            default_levels,
            residential_landuse=residential_landuse,
        )
        _emit(notes)
        return residents
    table, origin = _read_table(file, encoding, layer)
    if _geometry_name(table) is None:
        return _points_to_residents(table, origin, household_size, crs)
    frame = gpd.GeoDataFrame(table)
    types = set(frame.geometry.dropna().geom_type.unique().tolist())
    if types <= {"Point"} and types:
        return _points_to_residents(table, origin, household_size, crs)
    if types and types <= {"Polygon", "MultiPolygon"}:
        if crs is not None and frame.crs is None:
            frame = frame.set_crs(crs)
        from radius.regulatory_plan import is_regulatory_plan, residents_from_plan

        if is_regulatory_plan(list(frame.columns)):  # a 控规 plot table
            return residents_from_plan(
                frame, source=str(file), household_size=household_size, spacing_m=spacing_m
            )
        canonical, _ = _canonical_columns(frame, origin)
        if "population" in canonical.columns or "households" in canonical.columns:
            return _plots_to_residents(frame, origin, household_size, spacing_m)
        if "levels" in canonical.columns or "building" in canonical.columns:
            residents, notes = _buildings_to_residents(
                frame, origin, household_size, floor_area_per_person_m2, default_levels
            )
            _emit(notes)
            return residents
        raise InputError(
            message(
                "population_polygons_without_columns", file=str(file), found=_columns_found(frame)
            )
        )
    raise InputError(_mixed_geometry_message(frame, origin, types))


_GEOMETRY_FAMILIES = {"Point": "points", "Polygon": "polygons", "MultiPolygon": "polygons"}


def _mixed_geometry_message(frame: gpd.GeoDataFrame, origin: _Origin, types: set[str]) -> Message:
    """Why a layer is neither all points nor all polygons, naming the features at fault.

    The features named are those outside the most common usable kind (points or polygons).
    """
    kinds = frame.geometry.geom_type
    fix = message("population_one_geometry_kind")
    if not types:
        return message("population_no_geometry", source=origin.name, fix=fix)
    family = kinds.map(_GEOMETRY_FAMILIES)
    counts = family.value_counts()
    kept = counts.index[0] if len(counts) else None
    odd = kinds[kinds.notna() & (family != kept)]
    items = [
        message("population_feature_kind", row=origin.row(label), kind=kind)
        for label, kind in odd.head(5).items()
    ]
    listed: str = items[-1]
    for item in reversed(items[:-1]):
        listed = message("residents_list", first=item, rest=listed)
    more = message("population_more_features", n=len(odd) - 5) if len(odd) > 5 else ""
    said = {"source": origin.name, "kinds": ", ".join(sorted(types)), "listed": listed, "fix": fix}
    if kept is None:
        return message("population_geometry_unusable", **said, more=more)
    family_name = message(f"population_family_{kept}")
    return message("population_geometry_mixed", **said, kept=family_name, more=more)


# --- Summary -----------------------------------------------------------------------------------


def summarize_residents(residents: pd.DataFrame) -> dict[str, Any]:
    """Totals of a residents frame.

    Parameters
    ----------
    residents : pandas.DataFrame
        A residents frame (population, households, source).

    Returns
    -------
    dict
        ``points`` (int), ``population`` (persons), ``households``, and ``by_source``:
        source -> the same three figures.
    """
    by_source: dict[str, dict[str, float | int]] = {}
    for source, group in residents.groupby("source", sort=True):
        by_source[str(source)] = {
            "points": len(group),
            "population": float(group["population"].sum()),
            "households": float(group["households"].sum()),
        }
    return {
        "points": len(residents),
        "population": float(residents["population"].sum()),
        "households": float(residents["households"].sum()),
        "by_source": by_source,
    }


def _defaults() -> PopulationDefaults:
    return load_population_defaults()
