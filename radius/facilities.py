"""Facilities of each category, from OSM tags or from a user's inventory file.

Both readers return the same layout, one row per facility and category, in EPSG:4326:

============== ========= ===========================================================
column         dtype     meaning
============== ========= ===========================================================
facility_id    str       unique per row: ``"{category}:osm/{n|w|r}{id}"`` or
                         ``"{category}:inv/{id or row number}"``
name           str       the facility's name, ``""`` when unknown
category       str       a category id
source         str       ``"osm"`` or ``"inventory"``
floor_area_m2  float64   building floor area (square metres), NaN when unknown
land_area_m2   float64   site area (square metres), NaN when unknown
beds           float64   beds (elderly care, rehabilitation), NaN when unknown
places         float64   childcare places, NaN when unknown
entrances      object    a shapely MultiPoint (WGS-84) of the tagged entrances, or None
geometry       geometry  Point, Polygon or MultiPolygon (WGS-84)
============== ========= ===========================================================

A feature that matches several categories gives one row per category.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from radius._errors import CRSError, InputError
from radius._files import check_workbook, parse_number, read_vector_layer
from radius._limits import check_rows, check_table_file, limit, regular_file
from radius._osm import OSM_ERRORS, open_osm, unreadable_osm
from radius.config import Category
from radius.i18n import Message, message, warn

__all__ = [
    "CAPACITY_COLUMNS",
    "FACILITY_COLUMNS",
    "INVENTORY_SUFFIXES",
    "empty_facilities",
    "facilities_from_osm",
    "read_inventory",
]

WGS84 = "EPSG:4326"

FACILITY_COLUMNS: tuple[str, ...] = (
    "facility_id",
    "name",
    "category",
    "source",
    "floor_area_m2",
    "land_area_m2",
    "beds",
    "places",
    "entrances",
    "geometry",
)
"""The columns of every facilities frame, in order."""

CAPACITY_COLUMNS: tuple[str, ...] = ("floor_area_m2", "land_area_m2", "beds", "places")
"""Capacity columns (float64, NaN when unknown); units: m², m², beds, places."""

INVENTORY_SUFFIXES: Mapping[str, str] = MappingProxyType(
    {
        ".csv": "table",
        ".txt": "table",
        ".xlsx": "sheet",
        ".geojson": "vector",
        ".json": "vector",
        ".gpkg": "vector",
        ".zip": "vector",
    }
)
"""Inventory file suffixes and how each is read."""

MAX_LISTED_PROBLEMS = 20
"""How many problems an inventory error lists before "... and N more"."""

_GEOD = pyproj.Geod(ellps="WGS84")
_OSM_TYPE_ORDER: Mapping[str, int] = MappingProxyType({"n": 0, "w": 1, "r": 2})
_NAME_TAGS = ("name", "name:zh", "name:en")

_COLUMN_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "name": ("name", "名称"),
        "category": ("category", "类别", "类型"),
        "lon": ("lon", "longitude", "lng", "x", "经度"),
        "lat": ("lat", "latitude", "y", "纬度"),
        "id": ("id", "编号"),
        "floor_area_m2": ("floor_area_m2", "建筑面积"),
        "land_area_m2": ("land_area_m2", "用地面积"),
        "beds": ("beds", "床位", "床位数"),
        "places": ("places", "托位", "托位数"),
    }
)
_UNIT_SUFFIX = re.compile(r"\s*[(（\[].*[)）\]]\s*$")
_CSV_ENCODINGS = ("utf-8-sig", "gb18030")


# --------------------------------------------------------------------------------------
# The common layout
# --------------------------------------------------------------------------------------


def empty_facilities() -> gpd.GeoDataFrame:
    """A facilities frame with no rows, with the columns and dtypes of the layout.

    Returns
    -------
    geopandas.GeoDataFrame
        Empty, in EPSG:4326.
    """
    return _facility_frame([])


@dataclass
class _Row:
    facility_id: str
    name: str
    category: str
    source: str
    geometry: BaseGeometry
    entrances: BaseGeometry | None = None
    capacities: dict[str, float] = field(default_factory=dict)


def _facility_frame(rows: Sequence[_Row]) -> gpd.GeoDataFrame:
    data: dict[str, pd.Series] = {
        "facility_id": pd.Series([r.facility_id for r in rows], dtype="str"),
        "name": pd.Series([r.name for r in rows], dtype="str"),
        "category": pd.Series([r.category for r in rows], dtype="str"),
        "source": pd.Series([r.source for r in rows], dtype="str"),
    }
    for column in CAPACITY_COLUMNS:
        values = [r.capacities.get(column, math.nan) for r in rows]
        data[column] = pd.Series(values, dtype="float64")
    entrances = np.empty(len(rows), dtype=object)
    entrances[:] = [r.entrances for r in rows]
    data["entrances"] = pd.Series(entrances, dtype=object)
    geometry = gpd.GeoSeries([r.geometry for r in rows], crs=WGS84)
    return gpd.GeoDataFrame(data, geometry=geometry, crs=WGS84)


def _is_missing(value: object) -> bool:
    """Whether a cell is empty: None, NaN, pd.NA or NaT."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def _geodesic_area_m2(geometry: BaseGeometry) -> float:
    """Area (square metres) of a WGS-84 polygon on the WGS84 ellipsoid."""
    oriented = shapely.orient_polygons(geometry, exterior_cw=False)
    area, _ = _GEOD.geometry_area_perimeter(oriented)
    return abs(float(area))


def _polygonal(geometry: BaseGeometry) -> BaseGeometry | None:
    """A valid Polygon or MultiPolygon from any geometry, or None if it has no area."""
    if geometry.is_empty:
        return None
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    parts = shapely.get_parts(shapely.get_parts(geometry))
    polygons = [p for p in parts if p.geom_type == "Polygon" and not p.is_empty and p.area > 0]
    if not polygons:
        return None
    if len(polygons) == 1:
        return polygons[0]
    return shapely.MultiPolygon(polygons)


# --------------------------------------------------------------------------------------
# OSM
# --------------------------------------------------------------------------------------


@dataclass
class _OsmFeature:
    osm_type: Literal["n", "w", "r"]
    osm_id: int
    tags: dict[str, str]
    categories: list[int]
    geometry: BaseGeometry
    entrance_refs: list[int] = field(default_factory=list)


@dataclass
class _WayCandidate:
    tags: dict[str, str]
    categories: list[int]
    refs: list[int]
    coords: list[tuple[float, float] | None]


@dataclass
class _AreaRings:
    rings: list[tuple[list[tuple[float, float]], list[list[tuple[float, float]]]]]
    refs: set[int]


@dataclass
class _OsmProblems:
    no_area: list[str] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)
    unassembled: list[str] = field(default_factory=list)


def facilities_from_osm(path: str | Path, categories: Sequence[Category]) -> gpd.GeoDataFrame:
    """Facilities of the given categories tagged in an OSM file.

    Nodes become Points; closed ways and multipolygon relations become Polygons or
    MultiPolygons (their tagged entrances on the outline are kept in ``entrances``).
    Open ways (e.g. a running track drawn as a line) and ways cut by the edge of the
    extract become a Point on their located nodes. Capacities come from tags: ``beds``
    fills ``beds``; ``capacity`` fills the column named by the category's
    ``osm_capacity_field`` in ``configs/categories.yaml`` (places for childcare, beds for
    elderly care and rehabilitation); a polygon without a
    ``building`` tag gets its geodesic area as ``land_area_m2``, a building with
    ``building:levels`` its footprint times the levels as ``floor_area_m2``. Numeric tags
    that are not plain numbers (``"about 50"``) give NaN.

    Parameters
    ----------
    path : str or Path
        An OSM XML (``.osm``, optionally ``.bz2``/``.gz`` compressed) or PBF file.
    categories : sequence of Category
        The categories to look for; the row order follows this order.

    Returns
    -------
    geopandas.GeoDataFrame
        The facilities layout (see :mod:`radius.facilities`), sorted by category, then
        OSM type (node, way, relation) and id.

    Raises
    ------
    InputError
        If the file is missing or is not a readable OSM file.

    Warns
    -----
    UserWarning
        For matching objects that were skipped (a polygon with no area, a relation that
        could not be assembled) or placed at a point because the extract cuts them.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(message("inventory_osm_not_found", file=str(path)))
    keys = sorted({k for c in categories for f in c.osm_tags for k, v in f.items() if v})
    try:
        entrances = _entrance_nodes(path)
        if not keys:
            return empty_facilities()
        features, problems = _read_osm_features(path, categories, keys)
    except OSM_ERRORS as exc:
        raise unreadable_osm(path, exc) from None
    _warn_osm_problems(path, problems)
    rows: list[tuple[tuple[int, int, int], _Row]] = []
    for feature in features:
        rows.extend(_osm_rows(feature, categories, entrances))
    rows.sort(key=lambda item: item[0])
    return _facility_frame([row for _, row in rows])


def _entrance_nodes(path: Path) -> dict[int, tuple[float, float]]:
    """Location of every node tagged ``entrance=*`` (other than ``no``), by node id."""
    processor = open_osm(path, osmium.osm.NODE).with_filter(osmium.filter.KeyFilter("entrance"))
    entrances: dict[int, tuple[float, float]] = {}
    for node in processor:
        if not isinstance(node, osmium.osm.Node):
            continue
        if node.tags.get("entrance") == "no" or not node.location.valid():
            continue
        entrances[node.id] = (node.location.lon, node.location.lat)
    return entrances


def _matching(categories: Sequence[Category], tags: Mapping[str, str]) -> list[int]:
    return [i for i, category in enumerate(categories) if category.matches(tags)]


def _read_osm_features(
    path: Path, categories: Sequence[Category], keys: Sequence[str]
) -> tuple[list[_OsmFeature], _OsmProblems]:
    """Second pass: matching nodes, ways, relations and the areas built from them."""
    processor = (
        open_osm(path)
        .with_areas(osmium.filter.KeyFilter(*keys))
        .with_filter(osmium.filter.KeyFilter(*keys))
    )
    features: list[_OsmFeature] = []
    ways: dict[int, _WayCandidate] = {}
    relations: dict[int, tuple[dict[str, str], list[int]]] = {}
    areas: dict[tuple[str, int], _AreaRings] = {}
    for obj in processor:
        tags = dict(obj.tags)
        matched = _matching(categories, tags)
        if not matched:
            continue
        if isinstance(obj, osmium.osm.Node):
            if obj.location.valid():
                point = shapely.Point(obj.location.lon, obj.location.lat)
                features.append(_OsmFeature("n", obj.id, tags, matched, point))
        elif isinstance(obj, osmium.osm.Way):
            refs = [node.ref for node in obj.nodes]
            coords = [
                (node.location.lon, node.location.lat) if node.location.valid() else None
                for node in obj.nodes
            ]
            ways[obj.id] = _WayCandidate(tags, matched, refs, coords)
        elif isinstance(obj, osmium.osm.Relation):
            relations[obj.id] = (tags, matched)
        elif isinstance(obj, osmium.osm.Area):
            key = ("w" if obj.from_way() else "r", obj.orig_id())
            areas[key] = _area_rings(obj)
    problems = _OsmProblems()
    for way_id, way in ways.items():
        feature = _way_feature(way_id, way, areas.get(("w", way_id)), problems)
        if feature is not None:
            features.append(feature)
    for relation_id, (tags, matched) in relations.items():
        rings = areas.get(("r", relation_id), _AreaRings([], set()))
        polygon = _polygon_from_rings(rings)
        if polygon is None:
            problems.unassembled.append(f"r{relation_id}")
            continue
        features.append(_OsmFeature("r", relation_id, tags, matched, polygon, sorted(rings.refs)))
    return features, problems


def _area_rings(area: osmium.osm.Area) -> _AreaRings:
    rings = []
    refs: set[int] = set()
    for outer in area.outer_rings():
        outer_coords = [(node.lon, node.lat) for node in outer]
        refs.update(node.ref for node in outer)
        inners = []
        for inner in area.inner_rings(outer):
            inners.append([(node.lon, node.lat) for node in inner])
            refs.update(node.ref for node in inner)
        rings.append((outer_coords, inners))
    return _AreaRings(rings, refs)


def _polygon_from_rings(area: _AreaRings) -> BaseGeometry | None:
    polygons = []
    for outer, inners in area.rings:
        if len(outer) < 4:
            continue
        polygons.append(shapely.Polygon(outer, [ring for ring in inners if len(ring) >= 4]))
    if not polygons:
        return None
    geometry = polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
    return _polygonal(geometry)


def _way_feature(
    way_id: int, way: _WayCandidate, rings: _AreaRings | None, problems: _OsmProblems
) -> _OsmFeature | None:
    """A way's facility geometry: its area, else its own ring, else a point on it."""
    label = f"w{way_id}"
    if rings is not None and rings.rings:
        polygon = _polygon_from_rings(rings)
        if polygon is None:
            problems.no_area.append(label)
            return None
        return _OsmFeature("w", way_id, way.tags, way.categories, polygon, sorted(rings.refs))
    located = [c for c in way.coords if c is not None]
    complete = len(located) == len(way.coords)
    closed = len(way.refs) >= 4 and way.refs[0] == way.refs[-1]
    if complete and closed and way.tags.get("area") != "no":
        # An area the assembler rejected (e.g. a self-crossing outline): repair it.
        polygon = _polygonal(shapely.Polygon(located))
        if polygon is None:
            problems.no_area.append(label)
            return None
        return _OsmFeature("w", way_id, way.tags, way.categories, polygon, sorted(set(way.refs)))
    if not located:
        problems.cut.append(f"{label} (skipped: no node in the file)")
        return None
    if not complete:
        problems.cut.append(label)
    line = shapely.LineString(located) if len(located) > 1 else shapely.Point(located[0])
    point = shapely.point_on_surface(line)
    return _OsmFeature("w", way_id, way.tags, way.categories, point)


def _warn_osm_problems(path: Path, problems: _OsmProblems) -> None:
    if problems.no_area:
        warn(
            "osm_polygons_without_area",
            stacklevel=3,
            source=str(path),
            n=len(problems.no_area),
            ids=_id_list(problems.no_area),
        )
    if problems.cut:
        warn(
            "osm_ways_cut",
            stacklevel=3,
            source=str(path),
            n=len(problems.cut),
            ids=_id_list(problems.cut),
        )
    if problems.unassembled:
        warn(
            "osm_relations_unassembled",
            stacklevel=3,
            source=str(path),
            n=len(problems.unassembled),
            ids=_id_list(problems.unassembled),
        )


def _id_list(ids: Sequence[str], limit: int = MAX_LISTED_PROBLEMS) -> str:
    shown = ", ".join(ids[:limit])
    return shown if len(ids) <= limit else f"{shown} ... and {len(ids) - limit} more"


def _osm_rows(
    feature: _OsmFeature,
    categories: Sequence[Category],
    entrances: Mapping[int, tuple[float, float]],
) -> Iterable[tuple[tuple[int, int, int], _Row]]:
    tags = feature.tags
    name = next((tags[k] for k in _NAME_TAGS if tags.get(k, "").strip()), "").strip()
    is_area = feature.geometry.geom_type in ("Polygon", "MultiPolygon")
    entrance_points = [entrances[ref] for ref in feature.entrance_refs if ref in entrances]
    entrance_geometry = shapely.MultiPoint(entrance_points) if entrance_points else None
    shared: dict[str, float] = {}
    if is_area:
        if tags.get("building", "no") == "no":
            shared["land_area_m2"] = _geodesic_area_m2(feature.geometry)
        else:
            levels = _non_negative(tags.get("building:levels"))
            if not math.isnan(levels) and levels > 0:
                shared["floor_area_m2"] = _geodesic_area_m2(feature.geometry) * levels
    beds = _non_negative(tags.get("beds"))
    capacity = _non_negative(tags.get("capacity"))
    for index in feature.categories:
        category = categories[index]
        capacities = dict(shared, beds=beds)
        capacity_field = category.osm_capacity_field
        if capacity_field is not None and math.isnan(capacities.get(capacity_field, math.nan)):
            capacities[capacity_field] = capacity
        row = _Row(
            facility_id=f"{category.id}:osm/{feature.osm_type}{feature.osm_id}",
            name=name,
            category=category.id,
            source="osm",
            geometry=feature.geometry,
            entrances=entrance_geometry,
            capacities=capacities,
        )
        yield (index, _OSM_TYPE_ORDER[feature.osm_type], feature.osm_id), row


def _non_negative(value: str | None) -> float:
    number = parse_number(value)
    if number is None or number < 0:
        return math.nan
    return number


# --------------------------------------------------------------------------------------
# Inventory files
# --------------------------------------------------------------------------------------


@dataclass
class _Table:
    """A user's table: raw cell values, a label per row and optional geometries."""

    frame: pd.DataFrame
    labels: list[Message]
    geometry: list[BaseGeometry | None] | None = None
    crs: pyproj.CRS | None = None
    of_features: bool = False
    """Whether the rows are a layer's features (counted from 1), not spreadsheet rows."""


def read_inventory(
    path: str | Path,
    categories: Sequence[Category],
    *,
    crs: str | int | pyproj.CRS | None = None,
    layer: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a user's facility list and check it.

    Columns (matched case-insensitively): ``name`` (名称), ``category`` (类别, 类型) and
    either ``lon``/``lat`` (经度/纬度; also longitude/lng/x and latitude/y) or a geometry;
    optional ``id`` (编号), ``floor_area_m2`` (建筑面积, m²), ``land_area_m2`` (用地面积,
    m²), ``beds`` (床位, 床位数) and ``places`` (托位, 托位数). A unit in brackets after
    a column name, e.g. ``建筑面积(m²)``, is ignored. Categories may be given by id or by
    their Chinese or English name (``便利店``, ``Convenience store``).

    An Amap (高德) or Baidu (百度) POI export (place-search JSON, or CSV/XLSX with
    ``typecode``/``tag`` and ``location``) is recognised and read by
    :func:`radius.poi_exports.read_poi_export`: categories from its type codes, GCJ-02/BD-09
    converted to WGS-84.

    Parameters
    ----------
    path : str or Path
        A ``.csv``/``.txt`` (UTF-8, UTF-8 with BOM or GBK/GB18030), ``.xlsx``,
        ``.geojson``/``.json``, ``.gpkg`` or zipped Shapefile (``.zip``).
    categories : sequence of Category
        The known categories.
    crs : str, int or pyproj.CRS, optional
        CRS of the ``lon``/``lat`` columns (default EPSG:4326), e.g. ``"EPSG:4490"``
        (CGCS2000) or a projected CRS for x/y in metres. For a geometry file that has no
        CRS of its own it is used as the file's CRS.
    layer : str, optional
        GeoPackage layer, Shapefile name (without ``.shp``) inside a zip, or XLSX sheet;
        the first one when omitted.
    encoding : str, optional
        Text encoding of a CSV file; by default UTF-8 (with or without BOM), then GB18030.

    Returns
    -------
    geopandas.GeoDataFrame
        The facilities layout (see :mod:`radius.facilities`) in file order.

    Raises
    ------
    InputError
        If the file is missing, unreadable or empty, or has any invalid rows; the message
        lists every problem with its row, column, value and fix.
    CRSError
        If a geometry file has no CRS and none is given, or ``crs`` is not a valid CRS.
    """
    path = regular_file(path, message("file_kind_facilities"))
    kind = INVENTORY_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            message(
                "inventory_format",
                file=str(path),
                suffix=repr(path.suffix),
                suffixes=", ".join(INVENTORY_SUFFIXES),
            )
        )
    from radius.poi_exports import poi_export_kind, read_poi_export

    if poi_export_kind(path) is not None:
        # An Amap/Baidu POI export: categories from its type codes, coordinates from its
        # own system (GCJ-02/BD-09) unless a WGS-84/CGCS2000 CRS says it was converted.
        already = crs is not None and _user_crs(crs).is_geographic
        return read_poi_export(
            path, categories, system="wgs84" if already else None, layer=layer, encoding=encoding
        )
    lonlat_crs = _user_crs(crs)
    if kind == "table":
        check_table_file(path, "facilities", text=True)
        table = _read_csv(path, encoding)
    elif kind == "sheet":
        check_table_file(path, "facilities", text=False)
        table = _read_xlsx(path, layer)
    else:
        table = _read_vector(path, layer, lonlat_crs if crs is not None else None)
        from radius.regulatory_plan import facilities_from_plan, is_regulatory_plan

        if table.geometry is not None and is_regulatory_plan(list(table.frame.columns)):
            plots = gpd.GeoDataFrame(table.frame, geometry=table.geometry, crs=table.crs)
            return facilities_from_plan(plots, categories, source=str(path))
    if len(table.frame) == 0:
        empty = "inventory_empty_layer" if table.of_features else "inventory_empty_table"
        raise InputError(message(empty, file=str(path)))
    return _validated_facilities(path, table, categories, lonlat_crs)


def _user_crs(crs: str | int | pyproj.CRS | None) -> pyproj.CRS:
    if crs is None:
        return pyproj.CRS.from_epsg(4326)
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(message("inventory_crs_invalid", crs=repr(crs), reason=str(exc))) from None


def _read_csv(path: Path, encoding: str | None) -> _Table:
    raw = path.read_bytes()
    text: str | None = None
    for candidate in (encoding,) if encoding else _CSV_ENCODINGS:
        try:
            text = raw.decode(candidate)
            break
        except UnicodeDecodeError:
            continue
        except LookupError:
            raise InputError(
                message("inventory_encoding_unknown", file=str(path), encoding=repr(candidate))
            ) from None
    if text is None:
        if encoding:
            raise InputError(message("inventory_not_decoded", file=str(path), encoding=encoding))
        first, second = _CSV_ENCODINGS
        raise InputError(
            message("inventory_not_decoded_default", file=str(path), first=first, second=second)
        )
    text = text.removeprefix("\ufeff")
    header = text.split("\n", 1)[0]
    separator = max([",", "\t", ";"], key=header.count)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=separator,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except pd.errors.ParserError as exc:
        raise InputError(message("inventory_not_csv", file=str(path), reason=str(exc))) from None
    return _drop_blank_rows(frame.astype(object), start=2)


def _read_xlsx(path: Path, sheet: str | None) -> _Table:
    import openpyxl

    check_workbook(path)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InputError(message("inventory_not_xlsx", file=str(path), reason=str(exc))) from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise InputError(
                message(
                    "inventory_no_sheet",
                    file=str(path),
                    sheet=repr(sheet),
                    sheets=", ".join(workbook.sheetnames),
                )
            )
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        rows = []
        most = limit("table_rows") + 1  # and the header
        for values in worksheet.iter_rows(values_only=True):
            rows.append(list(values))
            if len(rows) > most:
                check_rows(path, len(rows) - 1, "facilities")
    finally:
        workbook.close()
    if not rows:
        return _Table(pd.DataFrame(), [])
    header = ["" if value is None else str(value).strip() for value in rows[0]]
    keep = [i for i, name in enumerate(header) if name]
    body = [[row[i] if i < len(row) else None for i in keep] for row in rows[1:]]
    frame = pd.DataFrame(body, columns=[header[i] for i in keep], dtype=object)
    return _drop_blank_rows(frame, start=2)


def _drop_blank_rows(frame: pd.DataFrame, start: int) -> _Table:
    """Drop rows with no value; label the rest with their spreadsheet row number."""
    labels = [message("inventory_row", n=start + i) for i in range(len(frame))]
    if len(frame.columns) == 0:
        return _Table(pd.DataFrame(), [])
    blank = frame.map(lambda v: v is None or (isinstance(v, str) and not v.strip()))
    keep = ~blank.all(axis=1).to_numpy()
    kept = frame.loc[keep].reset_index(drop=True)
    return _Table(kept, [label for label, k in zip(labels, keep, strict=True) if k])


def _read_vector(path: Path, layer: str | None, fallback_crs: pyproj.CRS | None) -> _Table:
    frame = read_vector_layer(path, layer, what="facilities", first_by_default=True)
    geometry: list[BaseGeometry | None] | None = None
    crs: pyproj.CRS | None = None
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.notna().any():
        crs = frame.crs if frame.crs is not None else fallback_crs
        if crs is None:
            raise CRSError(message("inventory_no_crs", file=str(path)))
        geometry = list(frame.geometry.to_numpy())
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    labels = [message("inventory_feature", n=i + 1) for i in range(len(frame))]
    return _Table(frame.astype(object), labels, geometry, crs, of_features=True)


@dataclass
class _Problems:
    """Problems found in an inventory, listed in row order (file-level ones first)."""

    labels: Sequence[Message]
    found: list[tuple[int, Message]] = field(default_factory=list)
    notes: list[Message] = field(default_factory=list)

    def add(self, label: Message, column: str | Message, problem: Message) -> None:
        """A problem of one row: ``column`` is the user's column name, or a Message."""
        position = self._positions.get(label, -1)
        shown = column if isinstance(column, Message) else repr(column)
        self.found.append(
            (position, message("inventory_problem", where=label, column=shown, text=problem))
        )

    def add_file_level(self, problem: Message) -> None:
        self.found.append((-1, problem))

    def note(self, text: Message) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @property
    def items(self) -> list[Message]:
        return [text for _, text in sorted(self.found, key=lambda item: item[0])]

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}


def _match_columns(columns: Sequence[object]) -> dict[str, str]:
    """Map canonical field names to the user's column names."""
    normalised: dict[str, str] = {}
    for column in columns:
        text = unicodedata.normalize("NFKC", str(column)).strip().casefold()
        normalised.setdefault(text, str(column))
    without_unit: dict[str, str] = {}
    for text, column in normalised.items():
        without_unit.setdefault(_UNIT_SUFFIX.sub("", text), column)
    mapping: dict[str, str] = {}
    for canonical, aliases in _COLUMN_ALIASES.items():
        for lookup in (normalised, without_unit):
            found = next((lookup[a.casefold()] for a in aliases if a.casefold() in lookup), None)
            if found is not None:
                mapping[canonical] = found
                break
    return mapping


def _column_hint(canonical: str) -> str:
    return "/".join(_COLUMN_ALIASES[canonical])


def _category_lookup(categories: Sequence[Category]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for category in categories:
        for text in (category.id, category.name_zh, category.name_en, *category.aliases):
            lookup.setdefault(unicodedata.normalize("NFKC", text).strip().casefold(), category.id)
    return lookup


def _cell_text(value: object) -> str:
    if _is_missing(value):
        return ""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _validated_facilities(
    path: Path, table: _Table, categories: Sequence[Category], lonlat_crs: pyproj.CRS
) -> gpd.GeoDataFrame:
    problems = _Problems(table.labels)
    frame = table.frame
    columns = _match_columns(list(frame.columns))
    found = ", ".join(map(str, frame.columns)) or message("inventory_no_columns")
    use_geometry = table.geometry is not None
    required = ["name", "category"] if use_geometry else ["name", "category", "lon", "lat"]
    for canonical in required:
        if canonical not in columns:
            coordinate = canonical in ("lon", "lat")  # required only without a geometry
            problems.add_file_level(
                message(
                    "inventory_no_coordinate_column" if coordinate else "inventory_no_column",
                    column=message(f"inventory_column_{canonical}"),
                    found=found,
                    aliases=_column_hint(canonical),
                )
            )
    n_rows = len(frame)
    labels = table.labels
    cells = {c: frame[name].tolist() for c, name in columns.items()}

    names = [_cell_text(v) for v in cells.get("name", [""] * n_rows)]
    category_ids = _check_categories(cells, columns, labels, categories, problems)
    capacities = _check_capacities(cells, columns, labels, problems)
    ids = _check_ids(cells, columns, labels, problems)
    if table.geometry is not None and table.crs is not None:
        geometries = _check_geometries(table.geometry, table.crs, labels, problems)
    else:
        geometries = _check_coordinates(cells, columns, labels, lonlat_crs, problems)
    if problems.found:
        raise InputError(_problem_message(path, table, problems))
    rows = [
        _Row(
            facility_id=f"{category_ids[i]}:inv/{ids[i]}",
            name=names[i],
            category=category_ids[i],
            source="inventory",
            geometry=geometries[i],
            capacities={c: values[i] for c, values in capacities.items()},
        )
        for i in range(n_rows)
    ]
    return _facility_frame(rows)


def _problem_message(path: Path, table: _Table, problems: _Problems) -> Message:
    items = problems.items
    lines = [message("problem_line", text=item) for item in items[:MAX_LISTED_PROBLEMS]]
    if len(items) > MAX_LISTED_PROBLEMS:
        lines.append(message("inventory_problems_more", n=len(items) - MAX_LISTED_PROBLEMS))
    lines.extend(problems.notes)
    key = "inventory_problems_features" if table.of_features else "inventory_problems_rows"
    return message(key, file=str(path), count=len(items), lines=tuple(lines))


def _check_categories(
    cells: Mapping[str, list[Any]],
    columns: Mapping[str, str],
    labels: Sequence[Message],
    categories: Sequence[Category],
    problems: _Problems,
) -> list[str]:
    if "category" not in cells:
        return [""] * len(labels)
    lookup = _category_lookup(categories)
    # The listing differs by language (ids and both names; the Chinese names alone, quoted
    # as some hold a 、): a Message shows source_zh in place of source in Chinese.
    known = message(
        "inventory_known_categories",
        source=", ".join(f"{c.id} ({c.name_zh}, {c.name_en})" for c in categories),
        source_zh="、".join(f"“{c.name_zh}”" for c in categories),
    )
    result = []
    for label, value in zip(labels, cells["category"], strict=True):
        text = _cell_text(value)
        category_id = lookup.get(unicodedata.normalize("NFKC", text).casefold())
        if category_id is None:
            problem = (
                message("inventory_category_unknown", value=repr(text))
                if text
                else message("inventory_category_missing")
            )
            problems.add(label, columns["category"], problem)
            problems.note(known)
            category_id = ""
        result.append(category_id)
    return result


def _check_capacities(
    cells: Mapping[str, list[Any]],
    columns: Mapping[str, str],
    labels: Sequence[Message],
    problems: _Problems,
) -> dict[str, list[float]]:
    result: dict[str, list[float]] = {}
    for canonical in CAPACITY_COLUMNS:
        if canonical not in cells:
            continue
        values = []
        for label, value in zip(labels, cells[canonical], strict=True):
            number = parse_number(value)
            if number is None:
                problems.add(
                    label, columns[canonical], message("inventory_not_number", value=repr(value))
                )
                number = math.nan
            elif number < 0:
                problems.add(
                    label, columns[canonical], message("inventory_negative", value=repr(value))
                )
            values.append(number)
        result[canonical] = values
    return result


def _check_ids(
    cells: Mapping[str, list[Any]],
    columns: Mapping[str, str],
    labels: Sequence[Message],
    problems: _Problems,
) -> list[str]:
    """Each row's id: the user's id, else its row number (or feature index)."""
    fallback = [str(label.params["n"]) for label in labels]
    if "id" not in cells:
        return fallback
    ids = [_cell_text(v) or fallback[i] for i, v in enumerate(cells["id"])]
    rows_of: dict[str, list[Message]] = {}
    for label, value in zip(labels, ids, strict=True):
        rows_of.setdefault(value, []).append(label)
    for value, rows in rows_of.items():
        for label in rows[1:] if len(rows) > 1 else []:
            problems.add(
                label,
                columns["id"],
                message("inventory_duplicate_id", value=repr(value), first=rows[0]),
            )
    return ids


def _check_coordinates(
    cells: Mapping[str, list[Any]],
    columns: Mapping[str, str],
    labels: Sequence[Message],
    lonlat_crs: pyproj.CRS,
    problems: _Problems,
) -> list[BaseGeometry]:
    n_rows = len(labels)
    if "lon" not in cells or "lat" not in cells:
        return [shapely.Point()] * n_rows
    lon = np.full(n_rows, np.nan)
    lat = np.full(n_rows, np.nan)
    geographic = lonlat_crs.is_geographic
    for i, label in enumerate(labels):
        values: dict[str, float] = {}
        for canonical, example in (("lon", "118.78"), ("lat", "32.04")):
            raw = cells[canonical][i]
            number = parse_number(raw)
            if number is None or math.isnan(number):
                unit = message(f"inventory_unit_{canonical}")
                problem = (
                    message("inventory_degrees_missing", unit=unit, example=example)
                    if number is not None
                    else message(
                        "inventory_degrees_not_number", value=repr(raw), unit=unit, example=example
                    )
                )
                problems.add(label, columns[canonical], problem)
            else:
                values[canonical] = number
        if len(values) < 2:
            continue
        x, y = values["lon"], values["lat"]
        if geographic and not (-180 <= x <= 180 and -90 <= y <= 90):
            if -90 <= x <= 90 and -180 <= y <= 180:
                problems.add(
                    label,
                    f"{columns['lon']}/{columns['lat']}",
                    message("inventory_lon_lat_swapped", lon=f"{x:g}", lat=f"{y:g}"),
                )
                continue
            for canonical, value, limit in (("lon", x, 180), ("lat", y, 90)):
                if not -limit <= value <= limit:
                    problems.add(
                        label,
                        columns[canonical],
                        message("inventory_degrees_range", value=f"{value:g}", limit=limit),
                    )
            continue
        lon[i], lat[i] = x, y
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=lonlat_crs)
    if not lonlat_crs.equals(pyproj.CRS.from_epsg(4326)):
        points = points.to_crs(WGS84)
        bad = ~np.isfinite(points.x.to_numpy()) & np.isfinite(lon) & np.isfinite(lat)
        for j in np.flatnonzero(bad).tolist():
            problems.add(
                labels[j],
                f"{columns['lon']}/{columns['lat']}",
                message(
                    "inventory_not_convertible",
                    x=f"{lon[j]:g}",
                    y=f"{lat[j]:g}",
                    crs=lonlat_crs.name,
                ),
            )
    return list(points.to_numpy())


def _check_geometries(
    geometries: Sequence[BaseGeometry | None],
    crs: pyproj.CRS,
    labels: Sequence[Message],
    problems: _Problems,
) -> list[BaseGeometry]:
    converted = gpd.GeoSeries(list(geometries), crs=crs).to_crs(WGS84).to_numpy()
    result: list[BaseGeometry] = []
    for label, geometry in zip(labels, converted, strict=True):
        fixed, problem = _facility_geometry(geometry)
        if problem is None and fixed is not None:
            minx, miny, maxx, maxy = fixed.bounds
            if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
                problem = message(
                    "inventory_geometry_range", bounds=str(fixed.bounds), crs=crs.name
                )
        if problem is not None or fixed is None:
            column = message("inventory_column_geometry")
            problems.add(label, column, problem or message("inventory_geometry_empty"))
            result.append(shapely.Point())
        else:
            result.append(fixed)
    return result


def _facility_geometry(
    geometry: BaseGeometry | None,
) -> tuple[BaseGeometry | None, Message | None]:
    """A facility geometry (Point, Polygon, MultiPolygon) or the reason there is none."""
    if geometry is None or geometry.is_empty:
        return None, message("inventory_geometry_empty")
    geometry = shapely.force_2d(geometry)
    kind = geometry.geom_type
    if kind == "Point":
        return geometry, None
    if kind == "MultiPoint":
        if len(geometry.geoms) == 1:
            return geometry.geoms[0], None
        return None, message("inventory_multipoint", n=len(geometry.geoms))
    if kind in ("Polygon", "MultiPolygon"):
        polygon = _polygonal(geometry)
        if polygon is None:
            return None, message("inventory_no_area", kind=kind)
        return polygon, None
    return None, message("inventory_geometry_kind", kind=kind)
