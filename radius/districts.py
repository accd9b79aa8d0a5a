"""Districts: the units in which provision is checked (社区、街道、新区，街区，六边形网格).

A *districts* frame is a GeoDataFrame in EPSG:4326 with the columns

``district_id`` (str, unique)
    The id of the district.
``name`` (str)
    Its name, ``""`` when unknown.
``area_type`` (``"new"`` or ``"old"``)
    New districts (新区) and old, built-up ones (老区、老旧小区) follow different standards;
    the district's type rules over the residents' own ``area_type``.
``kind`` (str)
    ``"user"`` (drawn by the user), ``"block"`` (bounded by arterial roads) or
    ``"hexagon"`` (a regular grid cell).
``geometry``
    A Polygon or MultiPolygon. Districts never overlap, so no resident is counted twice.

Three ways to get one: :func:`read_districts` (user polygons from a GeoPackage, GeoJSON or
zipped Shapefile, validated at the boundary), :func:`block_districts` (the blocks enclosed
by the arterial roads of a street network) and :func:`hexagon_districts` (a regular grid).
:func:`assign_residents` and :func:`district_totals` then put residents into districts.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final, Literal, NoReturn

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from radius._errors import CRSError, InputError
from radius._files import read_vector_layer
from radius._residents import GROUP_COLUMNS
from radius.i18n import Message, message, warn
from radius.network import StreetNetwork, choose_metric_crs

__all__ = [
    "AREA_TYPE_WORDS",
    "ARTERIAL_HIGHWAYS",
    "DISTRICT_COLUMNS",
    "DISTRICT_KINDS",
    "assign_residents",
    "block_districts",
    "district_totals",
    "districts_from_frame",
    "hexagon_districts",
    "read_districts",
]

AreaType = Literal["new", "old"]

WGS84: Final = pyproj.CRS.from_epsg(4326)
DISTRICT_COLUMNS: Final = ("district_id", "name", "area_type", "kind", "geometry")
"""Columns of a districts frame, in order."""
DISTRICT_KINDS: Final = ("user", "block", "hexagon")
"""Values of the ``kind`` column."""
ARTERIAL_HIGHWAYS: Final = (
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
)
"""OSM ``highway`` classes that bound blocks in :func:`block_districts` (城市干路与支路以上)."""
AREA_TYPE_WORDS: Final[dict[str, AreaType]] = {
    "new": "new",
    "新": "new",
    "新区": "new",
    "新建": "new",
    "old": "old",
    "旧": "old",
    "老区": "old",
    "老旧小区": "old",
    "既有": "old",
}
"""Accepted ``area_type`` values (English ones case-insensitive) and what they mean."""

_ID_COLUMNS: Final = ("district_id", "district_i", "id", "编号", "code")
"""Columns taken as the district id, first present wins (case-insensitive); ``district_i`` is
``district_id`` cut to the 10 characters a Shapefile allows."""
_NAME_COLUMNS: Final = (
    "name",
    "名称",
    "社区",
    "社区名称",
    "居委会",
    "村",
    "街道",
    "街道名称",
    "乡镇",
    "district_name",
    "district_n",
)
"""Columns taken as the district name, first present wins (case-insensitive)."""
_AREA_TYPE_COLUMN: Final = "area_type"
_KIND_COLUMN: Final = "kind"
_SUFFIXES: Final = (".gpkg", ".geojson", ".json", ".shp", ".zip")
_POLYGON_TYPE_IDS: Final = (3, 6)
"""shapely type ids of Polygon and MultiPolygon."""
_OVERLAP_TOLERANCE_M2: Final = 1.0
_OVERLAP_TOLERANCE_SHARE: Final = 0.001
"""An overlap of at most 1 m² *and* at most 0.1 % of the smaller district is digitising
noise; anything larger in either sense is an overlap."""
_MAX_LISTED: Final = 50
"""At most this many problems (or districts) are spelled out in one message."""
_MAX_HEXAGONS: Final = 200_000
"""More cells than this means a size far too small for the extent."""
_HEX_VERTICES: Final = np.array([(2, 0), (1, 1), (-1, 1), (-2, 0), (-1, -1), (1, -1), (2, 0)])
"""Corners of a flat-topped hexagon about its centre, in (R/2, R·√3/2) lattice units."""


# --------------------------------------------------------------------------- user polygons


def read_districts(
    path: str | Path,
    *,
    layer: str | None = None,
    default_area_type: str = "new",
    id_column: str | None = None,
    name_column: str | None = None,
    allow_overlap: bool = False,
) -> gpd.GeoDataFrame:
    """Read user-drawn districts (communities, sub-districts, new districts) from a file.

    Parameters
    ----------
    path : str or Path
        A GeoPackage (``.gpkg``), GeoJSON (``.geojson``, ``.json``), Shapefile (``.shp``) or
        zipped Shapefile (``.zip`` holding the ``.shp`` with its ``.shx``, ``.dbf`` and
        ``.prj``) of polygons, in any CRS.
    layer : str, optional
        The layer to read (GeoPackage), or the Shapefile's name without ``.shp`` when a zip
        holds several. A file with a single polygon layer needs none.
    default_area_type : str, optional
        ``area_type`` of districts without one (no ``area_type`` column, or a blank cell):
        ``"new"`` or ``"old"`` (or one of the Chinese words of :data:`AREA_TYPE_WORDS`).
    id_column : str, optional
        Column holding the district ids. Default: the first of ``district_id``, ``id``,
        ``编号``, ``code`` present (any case), else the row number (1, 2, ...).
    name_column : str, optional
        Column holding the district names. Default: the first of ``name``, ``名称``,
        ``社区``, ``district_name`` present (any case), else ``""``.
    allow_overlap : bool, optional
        Warn about overlapping districts instead of raising.

    Returns
    -------
    geopandas.GeoDataFrame
        A districts frame (see the module docstring) in EPSG:4326 with ``kind`` ``"user"``
        (or the file's own ``kind`` column when it holds only valid kinds, as in a frame
        written by this module), one row per feature in file order.

    Raises
    ------
    InputError
        If the file is missing or unreadable, the layer is empty, or any feature is
        invalid; every problem is named with its row (1-based, in file order), column,
        value and fix. See :func:`districts_from_frame` for the checks.
    CRSError
        If the file has no CRS (the message also lists any other problem).

    Warns
    -----
    UserWarning
        If invalid polygons were repaired, or districts overlap and ``allow_overlap``.
    """
    file_path = Path(path)
    if not file_path.exists():
        raise InputError(message("districts_not_found", file=str(file_path)))
    if file_path.is_dir():
        raise InputError(message("districts_is_folder", file=str(file_path)))
    if file_path.suffix.lower() not in _SUFFIXES:
        raise InputError(
            message("districts_file_type", file=str(file_path), suffix=repr(file_path.suffix))
        )
    frame = read_vector_layer(file_path, layer, what="districts", geometry_kind="Polygon")
    return _districts_from_frame(
        frame,
        source=str(file_path),
        default_area_type=default_area_type,
        id_column=id_column,
        name_column=name_column,
        allow_overlap=allow_overlap,
        stacklevel=3,
    )


def districts_from_frame(
    frame: gpd.GeoDataFrame,
    *,
    source: str | None = None,
    default_area_type: str = "new",
    id_column: str | None = None,
    name_column: str | None = None,
    allow_overlap: bool = False,
) -> gpd.GeoDataFrame:
    """Validate user polygons and turn them into a districts frame.

    Every problem is collected first, then all of them are raised in one error naming the
    row (1-based, in frame order), column, value and fix. Checked: a CRS is set and
    coordinates fit it, every geometry is a non-empty Polygon/MultiPolygon, invalid
    polygons can be repaired (``shapely.make_valid``), ids are present and unique,
    ``area_type`` values are known, and no two districts overlap by more than 1 m² or
    more than 0.1 % of the smaller one (measured in the UTM zone of the districts' centre).
    Smaller overlaps are digitising noise and pass.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Polygons in any CRS.
    source : str, optional
        Where the polygons came from, for messages (a file name, or a
        :class:`~radius.i18n.Message`); default "districts" (传入的分析区域数据).
    default_area_type, id_column, name_column, allow_overlap
        See :func:`read_districts`.

    Returns
    -------
    geopandas.GeoDataFrame
        A districts frame in EPSG:4326, indexed ``0..N-1`` in frame order.

    Raises
    ------
    InputError
        If the frame is empty or any row is invalid.
    CRSError
        If the frame has no CRS, or its coordinates cannot be in its CRS.
    """
    return _districts_from_frame(
        frame,
        source=source if source is not None else message("districts_source_frame"),
        default_area_type=default_area_type,
        id_column=id_column,
        name_column=name_column,
        allow_overlap=allow_overlap,
        stacklevel=3,
    )


def _districts_from_frame(
    frame: gpd.GeoDataFrame,
    *,
    source: str,
    default_area_type: str,
    id_column: str | None,
    name_column: str | None,
    allow_overlap: bool,
    stacklevel: int,
) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(message("districts_not_geodataframe", source=source))
    if len(frame) == 0:
        raise InputError(message("districts_empty", source=source))
    default = _area_type_word(default_area_type)
    if default is None:
        raise InputError(
            message(
                "districts_default_area_type",
                source=source,
                value=repr(default_area_type),
                accepted=", ".join(AREA_TYPE_WORDS),
            )
        )
    problems: list[str] = []
    crs_problem = False
    if frame.crs is None:
        problems.append(message("districts_no_crs"))
        crs_problem = True

    columns = {str(c).lower(): c for c in frame.columns if c != frame.geometry.name}
    ids = _district_ids(frame, columns, id_column, source, problems)
    names = _district_names(frame, columns, name_column, source)
    area_types = _area_types(frame, columns, default, problems)
    kinds = _kinds(frame, columns)
    geometry, repaired = _check_geometry(frame, problems)
    if not crs_problem:
        crs_problem = _check_crs_extent(frame, geometry, problems)

    geometry_wgs: np.ndarray | None = None
    pairs: list[tuple[int, int, float]] = []
    if not crs_problem:
        geometry_wgs = np.asarray(
            gpd.GeoSeries(geometry, crs=frame.crs).to_crs(WGS84).array, dtype=object
        )
        pairs = _overlapping_pairs(geometry_wgs)
        if pairs and not allow_overlap:
            problems.append(
                message("districts_overlap", n=len(pairs), listed=_overlap_pairs(pairs, ids))
            )
    if problems or geometry_wgs is None:
        _raise_problems(source, problems, crs_problem)

    if repaired:
        warn(
            "districts_repaired",
            stacklevel=stacklevel,
            source=source,
            n=len(repaired),
            listed=_joined(repaired[:_MAX_LISTED]),
        )
    if pairs:
        warn(
            "districts_overlap_allowed",
            stacklevel=stacklevel,
            source=source,
            n=len(pairs),
            listed=_overlap_pairs(pairs, ids),
        )
    return gpd.GeoDataFrame(
        {
            "district_id": pd.array(ids, dtype="str"),
            "name": pd.array(names, dtype="str"),
            "area_type": pd.array(area_types, dtype="str"),
            "kind": pd.array(kinds, dtype="str"),
        },
        geometry=geometry_wgs,
        crs=WGS84,
    )


def _find_column(
    frame: pd.DataFrame,
    columns: dict[str, Hashable],
    given: str | None,
    candidates: Sequence[str],
    what: str,
    source: str,
) -> Hashable | None:
    """The column named ``given`` (must exist), else the first candidate present."""
    if given is not None:
        if given in frame.columns:
            return given
        if given.lower() in columns:
            return columns[given.lower()]
        available = ", ".join(str(c) for c in columns.values()) or "none"
        raise InputError(
            message(
                "districts_no_column",
                source=source,
                what=message(f"districts_column_{what}"),
                given=repr(given),
                available=available,
            )
        )
    for candidate in candidates:
        if candidate.lower() in columns:
            return columns[candidate.lower()]
    return None


def _district_ids(
    frame: pd.DataFrame,
    columns: dict[str, Hashable],
    id_column: str | None,
    source: str,
    problems: list[str],
) -> list[str]:
    column = _find_column(frame, columns, id_column, _ID_COLUMNS, "id", source)
    if column is None:
        return [str(row + 1) for row in range(len(frame))]
    ids = _as_text(frame[column])
    rows_of: dict[str, list[int]] = {}
    for row, value in enumerate(ids):
        if value == "":
            problems.append(message("districts_id_empty", row=row + 1, column=repr(column)))
        else:
            rows_of.setdefault(value, []).append(row + 1)
    for value, rows in rows_of.items():
        if len(rows) > 1:
            problems.append(
                message(
                    "districts_id_duplicate",
                    rows=", ".join(map(str, rows)),
                    column=repr(column),
                    value=repr(value),
                )
            )
    return ids


def _district_names(
    frame: pd.DataFrame,
    columns: dict[str, Hashable],
    name_column: str | None,
    source: str,
) -> list[str]:
    column = _find_column(frame, columns, name_column, _NAME_COLUMNS, "name", source)
    if column is None:
        return [""] * len(frame)
    return _as_text(frame[column])


def _as_text(values: pd.Series) -> list[str]:
    """Cells as text: missing -> "", whole floats (Shapefile numbers) without ".0"."""
    out: list[str] = []
    for value in values.to_list():
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            out.append("")
        elif isinstance(value, float | np.floating) and float(value).is_integer():
            out.append(str(int(value)))
        else:
            out.append(str(value).strip())
    return out


def _area_type_word(value: Any) -> AreaType | None:
    text = str(value).strip()
    return AREA_TYPE_WORDS.get(text, AREA_TYPE_WORDS.get(text.lower()))


def _area_types(
    frame: pd.DataFrame,
    columns: dict[str, Hashable],
    default: AreaType,
    problems: list[str],
) -> list[str]:
    column = columns.get(_AREA_TYPE_COLUMN)
    if column is None:
        return [default] * len(frame)
    out: list[str] = []
    accepted = ", ".join(AREA_TYPE_WORDS)
    for row, value in enumerate(_as_text(frame[column])):
        if value == "":
            out.append(default)
            continue
        word = _area_type_word(value)
        if word is None:
            problems.append(
                message(
                    "districts_area_type",
                    row=row + 1,
                    column=repr(column),
                    value=repr(value),
                    accepted=accepted,
                    default=repr(default),
                )
            )
            out.append(default)
        else:
            out.append(word)
    return out


def _kinds(frame: pd.DataFrame, columns: dict[str, Hashable]) -> list[str]:
    column = columns.get(_KIND_COLUMN)
    if column is not None:
        kinds = _as_text(frame[column])
        if all(kind in DISTRICT_KINDS for kind in kinds):
            return kinds
    return ["user"] * len(frame)


def _check_geometry(
    frame: gpd.GeoDataFrame, problems: list[str]
) -> tuple[np.ndarray, list[Message]]:
    """2-D polygons, invalid ones repaired; problems appended, repairs described.

    Rows with a problem get a missing geometry, so later checks skip them.
    """
    column = frame.geometry.name
    geometry = np.asarray(frame.geometry.array, dtype=object).copy()
    repaired: list[Message] = []
    for row, geom in enumerate(frame.geometry.array):
        geometry[row] = None
        where = {"row": row + 1, "column": repr(column)}
        if geom is None or shapely.is_missing(geom) or geom.is_empty:
            problems.append(message("districts_geometry_empty", **where))
            continue
        geom = shapely.force_2d(geom)
        if shapely.get_type_id(geom) not in _POLYGON_TYPE_IDS:
            problems.append(message("districts_not_polygon", **where, kind=geom.geom_type))
            continue
        if not shapely.is_valid(geom):
            reason = shapely.is_valid_reason(geom)
            fixed = _polygonal_part(shapely.make_valid(geom))
            if fixed is None:
                problems.append(message("districts_unrepairable", **where, reason=reason))
                continue
            repaired.append(message("districts_repaired_row", row=row + 1, reason=reason))
            geom = fixed
        geometry[row] = geom
    return geometry, repaired


def _polygonal_part(geom: shapely.Geometry) -> shapely.Geometry | None:
    """The polygons of a geometry as one (Multi)Polygon, or None when it has no area."""
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in _POLYGON_TYPE_IDS]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    if merged.is_empty or merged.area <= 0 or shapely.get_type_id(merged) not in _POLYGON_TYPE_IDS:
        return None
    return merged


def _check_crs_extent(frame: gpd.GeoDataFrame, geometry: np.ndarray, problems: list[str]) -> bool:
    """Geographic coordinates must lie within ±180°/±90°; True when they do not."""
    crs = pyproj.CRS.from_user_input(frame.crs)
    if not crs.is_geographic:
        return False
    present = [
        g for g in geometry if g is not None and not shapely.is_missing(g) and not g.is_empty
    ]
    if not present:
        return False
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(present, dtype=object))
    if minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90:
        return False
    problems.append(
        message(
            "districts_crs_not_degrees",
            crs=crs.to_string(),
            extent=f"({minx:.0f}, {miny:.0f})–({maxx:.0f}, {maxy:.0f})",
        )
    )
    return True


def _raise_problems(source: str, problems: list[str], crs_problem: bool) -> NoReturn:
    listed = [message("problem_line", text=p) for p in problems[:_MAX_LISTED]]
    more = len(problems) - len(listed)
    if more:
        listed.append(message("problems_more", n=more))
    said = message("districts_problems", source=source, n=len(problems), lines=tuple(listed))
    raise (CRSError if crs_problem else InputError)(said)


def _overlapping_pairs(geometry_wgs: np.ndarray) -> list[tuple[int, int, float]]:
    """Row pairs (i < j) of WGS-84 polygons overlapping beyond the tolerance, with m².

    Rows whose geometry is missing (already reported as problems) are skipped. Areas are
    measured in the UTM zone of the polygons' centre.
    """
    present = np.flatnonzero(~shapely.is_missing(geometry_wgs))
    if len(present) < 2:
        return []
    minx, miny, maxx, maxy = shapely.total_bounds(geometry_wgs[present])
    metric_crs = choose_metric_crs((minx + maxx) / 2.0, (miny + maxy) / 2.0)
    metric = np.asarray(
        gpd.GeoSeries(geometry_wgs[present], crs=WGS84).to_crs(metric_crs).array, dtype=object
    )
    left, right = shapely.STRtree(metric).query(metric, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if len(left) == 0:
        return []
    overlap = shapely.area(shapely.intersection(metric[left], metric[right]))
    smaller = np.minimum(shapely.area(metric[left]), shapely.area(metric[right]))
    bad = (overlap > _OVERLAP_TOLERANCE_M2) | (overlap > _OVERLAP_TOLERANCE_SHARE * smaller)
    left, right, overlap = present[left[bad]], present[right[bad]], overlap[bad]
    order = np.lexsort((right, left))
    return [
        (int(i), int(j), float(a))
        for i, j, a in zip(left[order], right[order], overlap[order], strict=True)
    ]


def _joined(items: Sequence[str]) -> str:
    """``items`` as one list in any language (``a; b; c``, in Chinese ``a；b；c``)."""
    if not items:
        return ""
    listed = items[-1]
    for item in reversed(items[:-1]):
        listed = message("districts_list", first=item, rest=listed)
    return listed


def _overlap_pairs(pairs: list[tuple[int, int, float]], ids: list[str]) -> str:
    """The overlapping pairs (at most :data:`_MAX_LISTED`), each with its rows, ids and m²."""
    described: list[str] = [
        message(
            "districts_overlap_pair",
            first=i + 1,
            second=j + 1,
            first_id=repr(ids[i]),
            second_id=repr(ids[j]),
            area=f"{a:,.1f}",
        )
        for i, j, a in pairs[:_MAX_LISTED]
    ]
    if len(pairs) > _MAX_LISTED:
        described.append(message("districts_overlap_more", n=len(pairs) - _MAX_LISTED))
    return _joined(described)


# --------------------------------------------------------------------------- blocks


def block_districts(
    network: StreetNetwork,
    *,
    arterial: Iterable[str] = ARTERIAL_HIGHWAYS,
    min_area_m2: float = 10_000.0,
    min_width_m: float = 20.0,
    area_type: str = "new",
) -> gpd.GeoDataFrame:
    """The blocks enclosed by the arterial roads of a street network, as districts.

    The arterial edges (main component and islands alike) are noded together
    (``shapely.union_all``), so every crossing is a corner, and polygonized in the
    network's metric CRS. Faces smaller than ``min_area_m2``, and faces narrower than
    ``min_width_m`` (the strips between the two carriageways of a dual road, slip-road
    islands), are dropped. Blocks share their boundaries and never overlap; land outside
    every closed ring of arterial roads belongs to no block.

    Only roads in the walkable network bound blocks: a trunk road without a sidewalk is not
    walkable, so it is not in the network and does not split blocks. Roads that cross on
    different levels (a flyover) are treated as crossing.

    Parameters
    ----------
    network : StreetNetwork
        The street network, see :func:`radius.network.load_network`.
    arterial : str or iterable of str, optional
        ``highway`` classes that bound blocks (main component and islands alike).
    min_area_m2 : float, optional
        Smallest block kept, square metres.
    min_width_m : float, optional
        Smallest width kept, metres: the diameter of the largest circle inside the block.
        0 keeps every face.
    area_type : str, optional
        ``area_type`` of every block (``"new"`` or ``"old"``).

    Returns
    -------
    geopandas.GeoDataFrame
        A districts frame in EPSG:4326 with ``kind`` ``"block"``, ids ``block-001``,
        ``block-002``, ... ordered from north to south, then west to east, by the blocks'
        centroids (in the metric CRS); ``name`` is ``""``.

    Raises
    ------
    InputError
        If the network has no arterial road, or the arterial roads enclose no block of at
        least ``min_area_m2`` and ``min_width_m``.
    """
    chosen_type = _checked_area_type(area_type)
    if not (math.isfinite(min_area_m2) and min_area_m2 >= 0):
        raise InputError(message("districts_min_area", value=min_area_m2))
    if not (math.isfinite(min_width_m) and min_width_m >= 0):
        raise InputError(message("districts_min_width", value=min_width_m))
    classes = {arterial} if isinstance(arterial, str) else {str(a) for a in arterial}
    edges = pd.concat(
        [network.edges[["highway", "geometry"]], network.island_edges[["highway", "geometry"]]],
        ignore_index=True,
    )
    lines = np.asarray(edges.geometry.array, dtype=object)[edges["highway"].isin(classes)]
    fix = message("districts_blocks_fix")
    if len(lines) == 0:
        found = ", ".join(sorted(map(str, edges["highway"].unique()))[:12])
        raise InputError(
            message(
                "districts_no_arterial",
                source=network.source,
                classes=", ".join(sorted(classes)),
                found=found,
                fix=fix,
            )
        )
    noded = shapely.union_all(lines)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    areas = shapely.area(faces)
    keep = areas >= min_area_m2
    if min_width_m > 0 and keep.any():
        radius = shapely.length(shapely.maximum_inscribed_circle(faces[keep], 0.5))
        keep[np.flatnonzero(keep)[2.0 * radius < min_width_m]] = False
    blocks = faces[keep]
    if len(blocks) == 0:
        raise InputError(
            message(
                "districts_no_blocks",
                source=network.source,
                segments=len(lines),
                area=f"{min_area_m2:,.0f}",
                width=f"{min_width_m:g}",
                faces=len(faces),
                fix=fix,
            )
        )
    centroids = shapely.centroid(blocks)
    order = np.lexsort((shapely.get_x(centroids), -shapely.get_y(centroids)))
    blocks = blocks[order]
    width = max(3, len(str(len(blocks))))
    ids = [f"block-{k + 1:0{width}d}" for k in range(len(blocks))]
    return _district_frame(ids, blocks, network.crs, chosen_type, "block")


def _checked_area_type(area_type: str) -> AreaType:
    word = _area_type_word(area_type)
    if word is None:
        raise InputError(
            message(
                "districts_area_type_word",
                value=repr(area_type),
                accepted=", ".join(AREA_TYPE_WORDS),
            )
        )
    return word


def _district_frame(
    ids: list[str], geometry: np.ndarray, crs: pyproj.CRS, area_type: AreaType, kind: str
) -> gpd.GeoDataFrame:
    n = len(ids)
    return gpd.GeoDataFrame(
        {
            "district_id": pd.array(ids, dtype="str"),
            "name": pd.array([""] * n, dtype="str"),
            "area_type": pd.array([area_type] * n, dtype="str"),
            "kind": pd.array([kind] * n, dtype="str"),
        },
        geometry=gpd.GeoSeries(geometry, crs=crs).to_crs(WGS84).to_numpy(),
        crs=WGS84,
    )


# --------------------------------------------------------------------------- hexagons


def hexagon_districts(
    bounds_or_geometry: tuple[float, float, float, float]
    | Sequence[float]
    | shapely.Geometry
    | gpd.GeoSeries
    | gpd.GeoDataFrame,
    *,
    size_m: float = 500.0,
    crs_metric: str | pyproj.CRS | None = None,
    area_type: str = "new",
) -> gpd.GeoDataFrame:
    """A grid of flat-topped regular hexagons covering an extent, as districts.

    The hexagons are *flat-topped* (two horizontal edges, corners pointing east and west)
    with circumradius = side = ``size_m``: each is ``2·size_m`` wide and ``√3·size_m``
    tall, with an area of ``(3√3/2)·size_m²``. The grid is laid out in a metric CRS and
    anchored at its origin, so grids of the same size and CRS line up whatever the extent.
    Every cell whose interior meets the extent is kept whole (not clipped), so cells tile
    the extent without gaps or overlaps; corners are computed on an exact lattice, so
    neighbours share their edges exactly.

    Parameters
    ----------
    bounds_or_geometry : tuple, shapely geometry, GeoSeries or GeoDataFrame
        ``(min_lon, min_lat, max_lon, max_lat)`` in WGS-84 degrees; a shapely geometry in
        WGS-84; or a GeoSeries/GeoDataFrame in any CRS (it must have one), e.g. a
        network's edges.
    size_m : float, optional
        Circumradius (= side) of each hexagon, metres.
    crs_metric : str or pyproj.CRS, optional
        Metric CRS of the grid, see :func:`radius.network.choose_metric_crs`; default the
        UTM zone of the extent's centre.
    area_type : str, optional
        ``area_type`` of every cell (``"new"`` or ``"old"``).

    Returns
    -------
    geopandas.GeoDataFrame
        A districts frame in EPSG:4326 with ``kind`` ``"hexagon"``, ids ``hex-0001``,
        ``hex-0002``, ... ordered from north to south, then west to east; ``name`` is
        ``""``.

    Raises
    ------
    InputError
        If the bounds are malformed, the extent is empty, ``size_m`` is not positive, or
        the grid would have more than 200,000 cells.
    CRSError
        If a GeoSeries has no CRS or ``crs_metric`` is not metric.
    """
    chosen_type = _checked_area_type(area_type)
    if not (isinstance(size_m, int | float) and math.isfinite(size_m) and size_m > 0):
        raise InputError(message("districts_hexagon_size", value=repr(size_m)))
    parts_wgs = _extent_wgs84(bounds_or_geometry)
    minx, miny, maxx, maxy = shapely.total_bounds(parts_wgs)
    metric_crs = choose_metric_crs((minx + maxx) / 2.0, (miny + maxy) / 2.0, crs_metric)
    parts = np.asarray(gpd.GeoSeries(parts_wgs, crs=WGS84).to_crs(metric_crs).array, dtype=object)
    ex_min_x, ex_min_y, ex_max_x, ex_max_y = shapely.total_bounds(parts)

    half = size_m / 2.0  # lattice step along x
    tall = size_m * math.sqrt(3.0) / 2.0  # lattice step along y
    # centre of cell (c, r): x = 3c·half, y = (2r + c mod 2)·tall
    c_lo = math.floor((ex_min_x - size_m) / (3 * half))
    c_hi = math.ceil((ex_max_x + size_m) / (3 * half))
    r_lo = math.floor((ex_min_y - 2 * tall) / (2 * tall))
    r_hi = math.ceil((ex_max_y + 2 * tall) / (2 * tall))
    n_candidates = (c_hi - c_lo + 1) * (r_hi - r_lo + 1)
    if n_candidates > _MAX_HEXAGONS:
        raise InputError(
            message(
                "districts_too_many_hexagons",
                size=f"{size_m:g}",
                cells=f"{n_candidates:,}",
                most=f"{_MAX_HEXAGONS:,}",
            )
        )
    col_grid, row_grid = np.meshgrid(
        np.arange(c_lo, c_hi + 1, dtype=np.int64), np.arange(r_lo, r_hi + 1, dtype=np.int64)
    )
    cols, rows = col_grid.ravel(), row_grid.ravel()
    centre_i = 3 * cols
    centre_j = 2 * rows + (cols % 2)
    corner_i = centre_i[:, None] + _HEX_VERTICES[None, :, 0]
    corner_j = centre_j[:, None] + _HEX_VERTICES[None, :, 1]
    coords = np.stack([corner_i * half, corner_j * tall], axis=-1)
    cells = shapely.polygons(coords)
    # A cell is kept when its interior meets a polygon's interior, or meets a line or point
    # of the extent at all (a line along a cell edge keeps both cells).
    cell_pos, part_pos = shapely.STRtree(parts).query(cells, predicate="intersects")
    areal = shapely.area(parts[part_pos]) > 0
    meets = ~areal | shapely.relate_pattern(cells[cell_pos], parts[part_pos], "T********")
    inside = np.zeros(len(cells), dtype=bool)
    inside[cell_pos[meets]] = True
    if not inside.any():
        raise InputError(message("districts_extent_no_hexagon"))
    order = np.lexsort((centre_i[inside], -centre_j[inside]))
    kept = cells[inside][order]
    width = max(4, len(str(len(kept))))
    ids = [f"hex-{k + 1:0{width}d}" for k in range(len(kept))]
    return _district_frame(ids, kept, metric_crs, chosen_type, "hexagon")


def _extent_wgs84(value: object) -> np.ndarray:
    """The extent to cover as an array of single-part geometries in WGS-84."""
    if isinstance(value, gpd.GeoDataFrame | gpd.GeoSeries):
        if value.crs is None:
            raise CRSError(message("districts_extent_no_crs"))
        if len(value) == 0:
            raise InputError(message("districts_extent_no_geometry"))
        geom = np.asarray(value.geometry.to_crs(WGS84).array, dtype=object)
        geom = geom[~shapely.is_missing(geom)]
    elif isinstance(value, shapely.Geometry):
        geom = value
    elif isinstance(value, Sequence) and not isinstance(value, str):
        geom = _bounds_box(value)
    else:
        raise InputError(message("districts_extent_type", kind=type(value).__name__))
    parts = shapely.get_parts(geom)
    parts = parts[~shapely.is_empty(parts)]
    if len(parts) == 0:
        raise InputError(message("districts_extent_empty"))
    minx, miny, maxx, maxy = shapely.total_bounds(parts)
    if not (minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90):
        raise CRSError(
            message(
                "districts_extent_not_degrees",
                extent=f"({minx:.0f}, {miny:.0f}, {maxx:.0f}, {maxy:.0f})",
            )
        )
    return parts


def _bounds_box(value: Sequence[Any]) -> shapely.Geometry:
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(v) for v in numbers):
        raise InputError(message("districts_bounds_numbers", bounds=repr(tuple(value))))
    min_lon, min_lat, max_lon, max_lat = numbers
    if not (min_lon < max_lon and min_lat < max_lat):
        raise InputError(message("districts_bounds_order", bounds=repr(tuple(numbers))))
    box = shapely.box(min_lon, min_lat, max_lon, max_lat)
    # Densify so the box keeps its curved outline once projected.
    return shapely.segmentize(box, max(max_lon - min_lon, max_lat - min_lat) / 64.0)


# --------------------------------------------------------------------------- residents


def assign_residents(residents: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> pd.Series:
    """The district of every resident.

    A resident inside or on the boundary of a district belongs to it. A point on a border
    shared by several districts (or inside an overlap, when overlaps were allowed) goes to
    exactly one of them: the one listed first in ``districts``.

    Parameters
    ----------
    residents : geopandas.GeoDataFrame
        Points with a CRS (the residents contract of :mod:`radius.population`).
    districts : geopandas.GeoDataFrame
        A districts frame.

    Returns
    -------
    pandas.Series
        ``district_id`` (str) per resident, ``""`` for residents outside every district;
        indexed like ``residents``, named ``district_id``.

    Raises
    ------
    InputError
        If a frame lacks required columns, or a resident is not a point.
    CRSError
        If either frame has no CRS.
    """
    _check_districts_frame(districts)
    points = _resident_points(residents, districts.crs, required=())
    return pd.Series(
        _assign(points, districts), index=residents.index, name="district_id", dtype="str"
    )


def _assign(points: np.ndarray, districts: gpd.GeoDataFrame) -> np.ndarray:
    ids = districts["district_id"].astype(str).to_numpy()
    out = np.full(len(points), "", dtype=object)
    if len(points) == 0 or len(districts) == 0:
        return out
    tree = shapely.STRtree(np.asarray(districts.geometry.array, dtype=object))
    point_pos, district_pos = tree.query(points, predicate="intersects")
    if len(point_pos):
        order = np.lexsort((district_pos, point_pos))
        point_pos, district_pos = point_pos[order], district_pos[order]
        first = np.r_[True, point_pos[1:] != point_pos[:-1]]
        out[point_pos[first]] = ids[district_pos[first]]
    return out


def district_totals(residents: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Population, households and residents counted per district.

    Residents are assigned as in :func:`assign_residents`. Their own ``area_type`` is not
    used: the district's ``area_type`` rules.

    Parameters
    ----------
    residents : geopandas.GeoDataFrame
        The residents contract: points with ``population`` and ``households`` (persons and
        households, ≥ 0).
    districts : geopandas.GeoDataFrame
        A districts frame.

    Returns
    -------
    geopandas.GeoDataFrame
        ``districts`` (same index and columns) plus ``population`` (persons, float),
        ``households`` (float), the demand-group columns the residents have
        (``aged_60_plus`` …) and ``n_residents`` (int, the number of resident rows).

    Raises
    ------
    InputError
        If a frame lacks required columns, or a resident is not a point.
    CRSError
        If either frame has no CRS.

    Warns
    -----
    UserWarning
        Naming the districts that hold no resident (they stay, with zeros), and giving the
        count and population of residents outside every district (left out of the totals).
    """
    _check_districts_frame(districts)
    points = _resident_points(residents, districts.crs, required=("population", "households"))
    assigned = _assign(points, districts)
    population = pd.to_numeric(residents["population"], errors="coerce").to_numpy(dtype=float)
    households = pd.to_numeric(residents["households"], errors="coerce").to_numpy(dtype=float)
    groups = [c for c in GROUP_COLUMNS if c in residents.columns]
    frame = pd.DataFrame(
        {
            "district_id": assigned,
            "population": population,
            "households": households,
            **{
                c: pd.to_numeric(residents[c], errors="coerce").to_numpy(dtype=float)
                for c in groups
            },
        }
    )
    inside = frame["district_id"] != ""
    sums = (
        frame[inside]
        .groupby("district_id", sort=False)
        .agg(
            population=("population", "sum"),
            households=("households", "sum"),
            n_residents=("population", "size"),
            **{c: (c, "sum") for c in groups},
        )
    )
    ids = districts["district_id"].astype(str)
    out = districts.copy()
    for column in ("population", "households", *groups):
        out[column] = ids.map(sums[column]).fillna(0.0).astype(float).to_numpy()
    out["n_residents"] = ids.map(sums["n_residents"]).fillna(0).astype(np.int64).to_numpy()

    empty = ids[out["n_residents"].to_numpy() == 0].to_list()
    if empty:
        listed = ", ".join(repr(i) for i in empty[:_MAX_LISTED])
        if len(empty) > _MAX_LISTED:
            listed += f", ... and {len(empty) - _MAX_LISTED} more"
        warn(
            "districts_without_residents",
            stacklevel=2,
            n=len(empty),
            total=len(districts),
            listed=listed,
        )
    outside = ~inside.to_numpy()
    if outside.any():
        warn(
            "residents_outside_districts",
            stacklevel=2,
            n=int(outside.sum()),
            population=f"{np.nansum(population[outside]):,.1f}",
        )
    return out


def _check_districts_frame(districts: gpd.GeoDataFrame) -> None:
    if not isinstance(districts, gpd.GeoDataFrame) or "district_id" not in districts.columns:
        raise InputError(message("districts_frame_required"))
    if districts.crs is None:
        raise CRSError(message("districts_frame_no_crs"))


def _resident_points(residents: gpd.GeoDataFrame, crs: Any, required: Sequence[str]) -> np.ndarray:
    """The residents' points in ``crs``, after checking columns and geometry types."""
    if not isinstance(residents, gpd.GeoDataFrame):
        raise InputError(message("districts_residents_not_frame"))
    missing = [c for c in required if c not in residents.columns]
    if missing:
        raise InputError(message("districts_residents_columns", columns=", ".join(missing)))
    if residents.crs is None:
        raise CRSError(message("districts_residents_no_crs"))
    geometry = residents.geometry
    if len(residents):
        types = shapely.get_type_id(np.asarray(geometry.array, dtype=object))
        bad = np.flatnonzero((types != 0) | np.asarray(geometry.is_empty))
        if len(bad):
            rows = ", ".join(str(r + 1) for r in bad[:_MAX_LISTED])
            raise InputError(
                message("districts_residents_not_points", rows=rows, column=repr(geometry.name))
            )
    if not pyproj.CRS.from_user_input(residents.crs).equals(pyproj.CRS.from_user_input(crs)):
        geometry = geometry.to_crs(crs)
    return np.asarray(geometry.array, dtype=object)
