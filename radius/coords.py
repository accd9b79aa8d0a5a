"""Chinese map coordinate systems: WGS-84, GCJ-02 (Gaode/Amap, Tencent) and BD-09 (Baidu).

Web maps in mainland China do not use WGS-84. Gaode (Amap) and Tencent publish tiles and
POI coordinates in **GCJ-02**, WGS-84 moved by a non-linear, deliberately obscured offset of
roughly 300–700 m; Baidu adds a second transform on top of it, **BD-09**. OpenStreetMap,
GPS receivers and Tianditu use WGS-84 (Tianditu: CGCS2000, which is WGS-84 to within a few
centimetres). Points in the wrong system land a few hundred metres away — across a street,
in the next block — which is larger than a 5-minute life circle's 300 m.

The forward transforms are the standard published formulas: GCJ-02 with the Krasovsky 1940
ellipsoid (``a = 6378245`` m, ``e² = 0.00669342162296594323``) and BD-09 with
``x_pi = π·3000/180``. No closed-form inverse exists; :func:`gcj02_to_wgs84`,
:func:`bd09_to_gcj02` and :func:`bd09_to_wgs84` invert the forward transform by fixed-point
iteration to better than 1 mm (the offset's derivative is about 10⁻³, so each iteration gains
about three digits; six iterations are plenty, and the loop stops when the step is below
10⁻¹¹ degree, about 1 µm).

Outside mainland China (the usual bounding box: longitude 72.004–137.8347°E, latitude
0.8293–55.8271°N) GCJ-02 equals WGS-84. The box is coarse: it includes Taiwan, Korea and part
of Japan and Mongolia, as the published algorithm does. BD-09 is defined on top of GCJ-02 and
is applied everywhere.

Every function is vectorised: ``lon`` and ``lat`` may be scalars or arrays of any (broadcast)
shape; the results are float64 arrays of that shape (0-dimensional for scalars: use
``float()``).

Examples
--------
>>> from radius.coords import gcj02_to_wgs84, wgs84_to_gcj02
>>> lon, lat = wgs84_to_gcj02(116.391275, 39.906217)  # Tiananmen
>>> round(float(lon), 6), round(float(lat), 6)
(116.397516, 39.907618)
>>> back = gcj02_to_wgs84(lon, lat)
>>> round(float(back[0]), 9), round(float(back[1]), 9)
(116.391275, 39.906217)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, get_args

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from radius._errors import CRSError, InputError
from radius.i18n import message

__all__ = [
    "MIN_SIGNATURE_POINTS",
    "CoordinateSystem",
    "FloatArray",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert",
    "convert_frame",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_mainland_china",
    "offset_signature",
    "offset_signature_on_tree",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

CoordinateSystem = Literal["wgs84", "gcj02", "bd09", "cgcs2000"]
"""A geographic coordinate system: ``cgcs2000`` (EPSG:4490) is taken as WGS-84."""

FloatArray = npt.NDArray[np.float64]

_A = 6378245.0
"""Semi-major axis (metres) of the Krasovsky 1940 ellipsoid used by GCJ-02."""
_EE = 0.00669342162296594323
"""First eccentricity squared of the Krasovsky 1940 ellipsoid."""
_X_PI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006
_CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)
"""West, south, east, north (degrees) of the box in which GCJ-02 differs from WGS-84."""
_TOLERANCE_DEG = 1e-11
"""Stop iterating an inverse when every step is below this (degrees, about 1 µm)."""
_MAX_ITERATIONS = 30
_SYSTEMS: tuple[str, ...] = get_args(CoordinateSystem)
MIN_SIGNATURE_POINTS = 5
"""Fewest points :func:`offset_signature` needs to name a likely system."""
_SIGNATURE_RATIO = 0.6
_SIGNATURE_GAP_M = 10.0


def _arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return x.copy(), y.copy()


def in_mainland_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Whether points lie in the box where GCJ-02 differs from WGS-84.

    Parameters
    ----------
    lon, lat : array_like
        Longitude and latitude (degrees).

    Returns
    -------
    numpy.ndarray of bool
        True inside the box (longitude 72.004–137.8347°E, latitude 0.8293–55.8271°N).
    """
    x, y = _arrays(lon, lat)
    west, south, east, north = _CHINA_BOX
    inside: npt.NDArray[np.bool_] = (x >= west) & (x <= east) & (y >= south) & (y <= north)
    return inside


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 minus WGS-84 (degrees) at WGS-84 points, without the China test."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    periodic_x = (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    d_lat += periodic_x
    d_lat += (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * math.pi) + 320.0 * np.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    d_lon += periodic_x
    d_lon += (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * math.pi) + 300.0 * np.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * math.pi)
    return d_lon, d_lat


def _invert(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    lon: FloatArray,
    lat: FloatArray,
    start: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Solve ``forward(x, y) == (lon, lat)`` by fixed-point iteration.

    The transforms are the identity plus a slowly varying shift, so ``x += lon - f(x)``
    converges geometrically (by a factor of about 10⁻³ per step). NaN stays NaN.
    """
    x, y = (lon.copy(), lat.copy()) if start is None else (start[0].copy(), start[1].copy())
    for _ in range(_MAX_ITERATIONS):
        fx, fy = forward(x, y)
        step_x = lon - fx
        step_y = lat - fy
        x += step_x
        y += step_y
        # NaN compares False, so missing coordinates never keep the loop going.
        if not np.any(np.fmax(np.abs(step_x), np.abs(step_y)) > _TOLERANCE_DEG):
            break
    return _out(x), _out(y)


def _out(values: FloatArray) -> FloatArray:
    """Always an array (0-dimensional for scalar input), never a numpy scalar."""
    return np.asarray(values, dtype=np.float64)


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS-84 to GCJ-02 (Gaode/Amap, Tencent); unchanged outside mainland China.

    Parameters
    ----------
    lon, lat : array_like
        WGS-84 longitude and latitude (degrees).

    Returns
    -------
    lon, lat : numpy.ndarray
        GCJ-02 longitude and latitude (degrees), of the broadcast shape of the inputs.
    """
    x, y = _arrays(lon, lat)
    d_lon, d_lat = _gcj_offset(x, y)
    inside = in_mainland_china(x, y)
    return _out(np.where(inside, x + d_lon, x)), _out(np.where(inside, y + d_lat, y))


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 to WGS-84, the exact inverse of :func:`wgs84_to_gcj02` (iterative, < 1 mm).

    A point is moved when its WGS-84 solution lies in mainland China (then it is the
    solution); otherwise it is returned unchanged. Within a few hundred metres of the edge of
    the box, where a GCJ-02 point can have two WGS-84 pre-images, the one in China is taken.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitude and latitude (degrees).

    Returns
    -------
    lon, lat : numpy.ndarray
        WGS-84 longitude and latitude (degrees).
    """
    x, y = _arrays(lon, lat)

    def forward(wx: FloatArray, wy: FloatArray) -> tuple[FloatArray, FloatArray]:
        d_lon, d_lat = _gcj_offset(wx, wy)
        return wx + d_lon, wy + d_lat

    wx, wy = _invert(forward, x, y)
    inside = in_mainland_china(wx, wy)
    return _out(np.where(inside, wx, x)), _out(np.where(inside, wy, y))


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 to BD-09 (Baidu).

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitude and latitude (degrees).

    Returns
    -------
    lon, lat : numpy.ndarray
        BD-09 longitude and latitude (degrees).
    """
    x, y = _arrays(lon, lat)
    bx, by = _gcj_to_bd(x, y)
    return _out(bx), _out(by)


def _gcj_to_bd(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """BD-09 (Baidu) to GCJ-02, the exact inverse of :func:`gcj02_to_bd09` (iterative).

    The widely copied closed-form inverse is only approximate (errors up to about 0.2 m,
    6 cm typically); it is the starting point here, refined until the step is below
    10⁻¹¹ degree.

    Parameters
    ----------
    lon, lat : array_like
        BD-09 longitude and latitude (degrees).

    Returns
    -------
    lon, lat : numpy.ndarray
        GCJ-02 longitude and latitude (degrees).
    """
    x, y = _arrays(lon, lat)
    # The published approximate inverse, as a starting point.
    sx = x - _BD_DLON
    sy = y - _BD_DLAT
    z = np.sqrt(sx * sx + sy * sy) - 0.00002 * np.sin(sy * _X_PI)
    theta = np.arctan2(sy, sx) - 0.000003 * np.cos(sx * _X_PI)
    gx, gy = z * np.cos(theta), z * np.sin(theta)
    return _invert(_gcj_to_bd, x, y, start=(gx, gy))


def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS-84 to BD-09 (Baidu), through GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        WGS-84 longitude and latitude (degrees).

    Returns
    -------
    lon, lat : numpy.ndarray
        BD-09 longitude and latitude (degrees).
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """BD-09 (Baidu) to WGS-84, through GCJ-02 (both steps exact inverses, < 1 mm).

    Parameters
    ----------
    lon, lat : array_like
        BD-09 longitude and latitude (degrees).

    Returns
    -------
    lon, lat : numpy.ndarray
        WGS-84 longitude and latitude (degrees).
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _check_system(system: str) -> str:
    name = str(system).lower().replace("-", "").replace("_", "").replace(":", "")
    aliases = {"epsg4326": "wgs84", "epsg4490": "cgcs2000", "bd09ll": "bd09", "amap": "gcj02"}
    name = aliases.get(name, name)
    if name not in _SYSTEMS:
        raise InputError(
            message("coords_unknown_system", system=repr(system), known=", ".join(_SYSTEMS))
        )
    return "wgs84" if name == "cgcs2000" else name


def to_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, system: CoordinateSystem | str
) -> tuple[FloatArray, FloatArray]:
    """Coordinates in ``system`` to WGS-84.

    Parameters
    ----------
    lon, lat : array_like
        Longitude and latitude (degrees) in ``system``.
    system : {"wgs84", "gcj02", "bd09", "cgcs2000"}
        The system of the input. CGCS2000 (EPSG:4490) is taken as WGS-84: the two differ by
        a few centimetres at most, far below the accuracy of any facility inventory.

    Returns
    -------
    lon, lat : numpy.ndarray
        WGS-84 longitude and latitude (degrees).

    Raises
    ------
    InputError
        For an unknown system name.
    """
    return convert(lon, lat, system, "wgs84")


def from_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, system: CoordinateSystem | str
) -> tuple[FloatArray, FloatArray]:
    """WGS-84 coordinates to ``system`` (the inverse of :func:`to_wgs84`).

    Parameters
    ----------
    lon, lat : array_like
        WGS-84 longitude and latitude (degrees).
    system : {"wgs84", "gcj02", "bd09", "cgcs2000"}
        The wanted system (CGCS2000 is taken as WGS-84).

    Returns
    -------
    lon, lat : numpy.ndarray
        Longitude and latitude (degrees) in ``system``.
    """
    return convert(lon, lat, "wgs84", system)


_FORWARD: dict[
    tuple[str, str], Callable[[npt.ArrayLike, npt.ArrayLike], tuple[FloatArray, FloatArray]]
] = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
}


def convert(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    from_system: CoordinateSystem | str,
    to_system: CoordinateSystem | str,
) -> tuple[FloatArray, FloatArray]:
    """Coordinates from one system to another.

    Parameters
    ----------
    lon, lat : array_like
        Longitude and latitude (degrees) in ``from_system``.
    from_system, to_system : {"wgs84", "gcj02", "bd09", "cgcs2000"}
        The systems (CGCS2000 is taken as WGS-84).

    Returns
    -------
    lon, lat : numpy.ndarray
        Longitude and latitude (degrees) in ``to_system``.

    Raises
    ------
    InputError
        For an unknown system name.
    """
    source = _check_system(from_system)
    target = _check_system(to_system)
    if source == target:
        return _arrays(lon, lat)
    return _FORWARD[(source, target)](lon, lat)


def convert_frame(
    frame: gpd.GeoDataFrame | gpd.GeoSeries,
    from_system: CoordinateSystem | str,
    to_system: CoordinateSystem | str,
) -> Any:
    """A copy of a frame with every geometry moved from one system to another.

    Works for any geometry type (points, lines, polygons, multi-parts, collections; empty
    and missing geometries stay as they are); Z values are kept unchanged. Every geometry
    column of a GeoDataFrame is moved (geometries kept in plain object columns are not).
    The CRS label is
    kept: there is no EPSG code for GCJ-02 or BD-09, so a converted frame is still labelled
    as geographic (EPSG:4326), and only its caller knows which system it holds.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame or geopandas.GeoSeries
        Longitude/latitude geometries (CRS EPSG:4326, EPSG:4490, another geographic CRS
        or none).
    from_system, to_system : {"wgs84", "gcj02", "bd09", "cgcs2000"}
        The systems (CGCS2000 is taken as WGS-84).

    Returns
    -------
    geopandas.GeoDataFrame or geopandas.GeoSeries
        Of the same type and index as ``frame``.

    Raises
    ------
    CRSError
        If the frame is in a projected CRS (its coordinates are not degrees).
    InputError
        For an unknown system name.
    """
    source = _check_system(from_system)
    target = _check_system(to_system)
    crs = frame.crs
    if crs is not None and not pyproj.CRS.from_user_input(crs).is_geographic:
        raise CRSError(message("coords_frame_projected", crs=str(crs)))
    result = frame.copy()
    if source == target or len(frame) == 0:
        return result
    forward = _FORWARD[(source, target)]
    if isinstance(result, gpd.GeoDataFrame):
        for column in result.columns[result.dtypes == "geometry"]:
            result[column] = _moved(result[column], forward)
        return result
    return _moved(result, forward)


def _moved(
    series: gpd.GeoSeries,
    forward: Callable[[npt.ArrayLike, npt.ArrayLike], tuple[FloatArray, FloatArray]],
) -> gpd.GeoSeries:
    """``series`` with every vertex moved by ``forward`` (Z values kept)."""

    def move(coords: FloatArray) -> FloatArray:
        lon, lat = forward(coords[:, 0], coords[:, 1])
        moved = coords.copy()
        moved[:, 0] = lon
        moved[:, 1] = lat
        return moved

    geometry = np.asarray(series.array, dtype=object)
    has_z = shapely.has_z(geometry)
    moved = np.empty(len(geometry), dtype=object)
    for flag in (False, True):
        mask = has_z == flag
        if mask.any():
            moved[mask] = shapely.transform(geometry[mask], move, include_z=flag)
    return gpd.GeoSeries(moved, index=series.index, crs=series.crs, name=series.name)


def offset_signature(
    points_wgs84: gpd.GeoDataFrame | gpd.GeoSeries,
    street_lines_wgs84: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    metric_crs: Any = None,
) -> dict[str, Any]:
    """How far points lie from the streets as given, and if they were GCJ-02 or BD-09.

    Shops and services sit beside a street, so correctly placed points are typically
    10–20 m from the nearest street centre line. Points from Gaode/Amap, Tencent or Baidu
    that were never converted are moved 300–700 m, to random places among the blocks, and
    lie farther from the streets; converting them as if they were GCJ-02 (or BD-09) brings
    them back. Callers can warn ("points look like unconverted GCJ-02") when
    ``likely_system`` is not ``"wgs84"``.

    Only point geometries are used: outlines (polygons, lines) are not geocoded positions,
    and the distance of a polygon or of a point inside a large one (a park, a sports
    ground) says nothing about an offset. The test is statistical: it needs at least
    :data:`MIN_SIGNATURE_POINTS` points, and on a dense network of footpaths the gap between
    the medians narrows (about 13 m as given against 32–36 m when shifted, in the Beijing
    and Nanjing extracts).

    Parameters
    ----------
    points_wgs84 : geopandas.GeoDataFrame or geopandas.GeoSeries
        Facility or resident locations, taken to be WGS-84 (any CRS; converted to
        EPSG:4326 first).
    street_lines_wgs84 : geopandas.GeoDataFrame or geopandas.GeoSeries
        Street centre lines (e.g. ``network.edges``; any CRS).
    metric_crs : optional
        Metric CRS to measure in (anything ``pyproj.CRS`` accepts, e.g. ``network.crs``);
        estimated from the streets (their UTM zone) when omitted. Streets already in it are
        used as they are, without a round trip through WGS-84 (on Shanghai's centre the
        estimate and the round trip were three quarters of the check's time).

    Returns
    -------
    dict
        ``n_points`` (point geometries used); ``median_m_as_given``, ``median_m_as_gcj02``
        and ``median_m_as_bd09``: the median distance (metres) from a point to the nearest
        street with the points as given, converted from GCJ-02 to WGS-84, and converted
        from BD-09 to WGS-84 (NaN without points or streets); ``likely_system``:
        ``"gcj02"`` or ``"bd09"`` when that conversion brings the points to at most 0.6
        times their median distance and at least 10 m closer, ``"wgs84"`` otherwise, and
        None with fewer than :data:`MIN_SIGNATURE_POINTS` points.

    Raises
    ------
    CRSError
        If either input has no CRS.
    """
    points = _geographic(points_wgs84, "points_wgs84")
    given = (
        street_lines_wgs84.geometry
        if isinstance(street_lines_wgs84, gpd.GeoDataFrame)
        else street_lines_wgs84
    )
    metric = None if metric_crs is None else pyproj.CRS.from_user_input(metric_crs)
    if metric is not None and given.crs is not None and pyproj.CRS(given.crs) == metric:
        streets = given
    else:
        streets = _geographic(street_lines_wgs84, "street_lines_wgs84")
    points = points[(points.geom_type == "Point") & ~points.is_empty]
    streets = streets[~(streets.isna() | streets.is_empty)]
    result = _no_signature(len(points))
    if len(points) == 0 or len(streets) == 0:
        return result
    if metric is None:
        metric = streets.estimate_utm_crs()
    tree = shapely.STRtree(np.asarray(streets.to_crs(metric).array, dtype=object))
    return _signature(points, tree, metric, result)


def offset_signature_on_tree(
    points_wgs84: gpd.GeoDataFrame | gpd.GeoSeries, streets: shapely.STRtree, crs: Any
) -> dict[str, Any]:
    """:func:`offset_signature` against streets already indexed in a metric CRS.

    A loaded network has its edges in a metric CRS and their spatial index built for
    snapping; testing the points against that index spares reprojecting the streets twice
    (on a county network, seconds and a gigabyte).

    Parameters
    ----------
    points_wgs84 : geopandas.GeoDataFrame or geopandas.GeoSeries
        Facility or resident locations, taken to be WGS-84 (any CRS; converted first).
    streets : shapely.STRtree
        Index of the street centre lines, in ``crs``.
    crs : pyproj.CRS or CRS-like
        The projected metric CRS of ``streets``.

    Returns
    -------
    dict
        As :func:`offset_signature`.

    Raises
    ------
    CRSError
        If the points have no CRS.
    """
    points = _geographic(points_wgs84, "points_wgs84")
    points = points[(points.geom_type == "Point") & ~points.is_empty]
    result = _no_signature(len(points))
    if len(points) == 0 or len(streets) == 0:
        return result
    return _signature(points, streets, crs, result)


def _no_signature(n_points: int) -> dict[str, Any]:
    """The signature before any distance is measured: NaN medians, no likely system."""
    return {
        "n_points": n_points,
        "median_m_as_given": math.nan,
        "median_m_as_gcj02": math.nan,
        "median_m_as_bd09": math.nan,
        "likely_system": None,
    }


def _signature(
    points: gpd.GeoSeries, tree: shapely.STRtree, metric: Any, result: dict[str, Any]
) -> dict[str, Any]:
    """Fill ``result`` with the medians and the likely system (points in EPSG:4326)."""
    lon = points.x.to_numpy()
    lat = points.y.to_numpy()
    medians: dict[str, float] = {}
    for system in ("wgs84", "gcj02", "bd09"):
        x, y = to_wgs84(lon, lat, system)
        located = gpd.GeoSeries(shapely.points(x, y), crs="EPSG:4326").to_crs(metric)
        _, distance = tree.query_nearest(
            np.asarray(located.array, dtype=object), return_distance=True, all_matches=False
        )
        medians[system] = float(np.median(distance))
    result["median_m_as_given"] = round(medians["wgs84"], 3)
    result["median_m_as_gcj02"] = round(medians["gcj02"], 3)
    result["median_m_as_bd09"] = round(medians["bd09"], 3)
    if len(points) < MIN_SIGNATURE_POINTS:
        return result
    best = min(("gcj02", "bd09"), key=lambda system: medians[system])
    given = medians["wgs84"]
    closer = medians[best] <= _SIGNATURE_RATIO * given and given - medians[best] >= _SIGNATURE_GAP_M
    result["likely_system"] = best if closer else "wgs84"
    return result


def _geographic(frame: gpd.GeoDataFrame | gpd.GeoSeries, name: str) -> gpd.GeoSeries:
    series = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    if series.crs is None:
        raise CRSError(message("coords_no_crs", name=name))
    return series.to_crs("EPSG:4326")
