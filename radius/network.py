"""Load a walkable street network and put it in a metric CRS.

A :class:`StreetNetwork` is undirected (walking ignores ``oneway``), projected to a metric
CRS chosen from the data (UTM by default, CGCS2000 3° Gauss–Krüger when asked), and reduced
to its largest connected component; everything on smaller islands is kept aside in
``island_edges`` and counted in :meth:`StreetNetwork.summary` so it is never silently lost.

Sources: OSM files (``.osm``, ``.osm.bz2``, ``.osm.pbf``, read with pyosmium), GraphML
written by osmnx, road centre lines (GeoPackage, GeoJSON, zipped Shapefile) and, with
internet access, osmnx downloads by place name or bounding box.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from radius._errors import CRSError, InputError
from radius.config import WalkRules, load_walk_rules

__all__ = [
    "OSM_SUFFIXES",
    "StreetNetwork",
    "choose_metric_crs",
    "load_network",
    "network_from_segments",
    "read_osm_network",
]

WGS84 = pyproj.CRS.from_epsg(4326)
OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf", ".xml", ".osm.xml")
_NODE_KEY_PRECISION_M = 1e-3
"""Endpoints closer than this (metres) are the same node when no node ids are given."""
_EDGE_COLUMNS = ["u", "v", "length_m", "highway", "osmid", "geometry"]


@dataclass(frozen=True, eq=False)
class StreetNetwork:
    """An undirected walkable street network in a projected metric CRS.

    Attributes
    ----------
    nodes : geopandas.GeoDataFrame
        One row per node of the main component, indexed ``0..N-1``; columns ``osmid``
        (OSM node id, -1 when the source has none), ``lon`` and ``lat`` (WGS-84) and point
        ``geometry`` in ``crs``.
    edges : geopandas.GeoDataFrame
        One row per street segment of the main component, indexed ``0..E-1``; columns
        ``u`` and ``v`` (node positions; the geometry runs from ``u`` to ``v``),
        ``length_m`` (metres, the length of the geometry), ``highway``, ``osmid`` (OSM way
        id or -1) and LineString ``geometry`` in ``crs``.
    island_edges : geopandas.GeoDataFrame
        The segments of every smaller component, with a ``component`` column.
    crs : pyproj.CRS
        The projected metric CRS of all geometries.
    source : str
        Where the network came from (a path or a query).
    n_components : int
        Number of connected components before the main one was kept.
    """

    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    island_edges: gpd.GeoDataFrame
    crs: pyproj.CRS
    source: str
    n_components: int

    @property
    def n_nodes(self) -> int:
        """Number of nodes of the main component."""
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        """Number of street segments of the main component."""
        return len(self.edges)

    def summary(self) -> dict[str, Any]:
        """Size of the network and of what was left on islands.

        Returns
        -------
        dict
            ``nodes``, ``edges``, ``length_km``, ``components``, ``crs``, ``source`` and
            ``islands`` (``components``, ``edges``, ``length_km``).
        """
        island_length = float(self.island_edges["length_m"].sum()) if len(self.island_edges) else 0
        return {
            "source": self.source,
            "crs": self.crs.to_string(),
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "length_km": round(float(self.edges["length_m"].sum()) / 1000.0, 3),
            "components": self.n_components,
            "islands": {
                "components": max(self.n_components - 1, 0),
                "edges": len(self.island_edges),
                "length_km": round(island_length / 1000.0, 3),
            },
        }


def choose_metric_crs(lon: float, lat: float, crs: str | pyproj.CRS | None = "auto") -> pyproj.CRS:
    """Pick a projected metric CRS for data centred at ``(lon, lat)``.

    Parameters
    ----------
    lon, lat : float
        Centre of the data in WGS-84 degrees.
    crs : {"auto", "utm", "cgcs2000"} or CRS-like, optional
        ``"auto"``/``"utm"``/None: the UTM zone of the centre (WGS-84 datum).
        ``"cgcs2000"``: the CGCS2000 3-degree Gauss–Krüger zone of the centre
        (EPSG:4534–4554, central meridians 75°E–135°E). Anything else is taken as a CRS
        and must be projected with metre units.

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    CRSError
        If the requested CRS is unknown, geographic, or outside the CGCS2000 zones.
    """
    mode = crs.lower() if isinstance(crs, str) else crs
    if mode in (None, "auto", "utm"):
        zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
        return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
    if mode == "cgcs2000":
        central_meridian = 3 * round(lon / 3.0)
        if not 75 <= central_meridian <= 135:
            raise CRSError(
                f"longitude {lon:.3f} lies outside the CGCS2000 3-degree Gauss–Krüger zones "
                "(central meridians 75°E–135°E); use crs='auto' (UTM) instead"
            )
        return pyproj.CRS.from_epsg(4534 + (central_meridian - 75) // 3)
    try:
        chosen = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(f"unknown CRS {crs!r}: {exc}; give e.g. 'EPSG:4547' or 'auto'") from None
    units = {axis.unit_name for axis in chosen.axis_info}
    if not chosen.is_projected or not units <= {"metre", "meter"}:
        raise CRSError(
            f"CRS {chosen.to_string()} is not a projected CRS in metres; analysis needs "
            "metres, e.g. 'auto' (UTM), 'cgcs2000' or 'EPSG:4547'"
        )
    return chosen


def network_from_segments(
    segments: gpd.GeoDataFrame,
    *,
    source: str,
    crs: str | pyproj.CRS | None = "auto",
    u_keys: np.ndarray | None = None,
    v_keys: np.ndarray | None = None,
) -> StreetNetwork:
    """Build a :class:`StreetNetwork` from street segments whose ends are the nodes.

    Parameters
    ----------
    segments : geopandas.GeoDataFrame
        LineStrings in any CRS, one per segment between two nodes; optional columns
        ``highway`` and ``osmid``.
    source : str
        Description of where the segments came from (for reports and errors).
    crs : str or pyproj.CRS, optional
        Target metric CRS, see :func:`choose_metric_crs`.
    u_keys, v_keys : numpy.ndarray, optional
        Integer ids of each segment's start and end node (e.g. OSM node ids). Without
        them, ends closer than 1 mm are taken as the same node.

    Returns
    -------
    StreetNetwork

    Raises
    ------
    InputError
        If there is no segment with a length.
    """
    if segments.crs is None:
        raise CRSError(f"{source}: the street lines have no CRS; set one (e.g. EPSG:4326)")
    if len(segments) == 0:
        raise InputError(f"{source}: no walkable street found; check the file covers streets")
    lon_min, lat_min, lon_max, lat_max = segments.to_crs(WGS84).total_bounds
    metric = choose_metric_crs((lon_min + lon_max) / 2.0, (lat_min + lat_max) / 2.0, crs)
    geometry = segments.geometry.to_crs(metric).to_numpy()
    frame = pd.DataFrame(
        {
            "highway": _column_or(segments, "highway", ""),
            "osmid": _column_or(segments, "osmid", -1).astype("int64"),
        }
    )
    starts = shapely.get_coordinates(shapely.get_point(geometry, 0))
    ends = shapely.get_coordinates(shapely.get_point(geometry, -1))
    if u_keys is None or v_keys is None:
        u_keys, v_keys = _coordinate_keys(starts, ends)
    keys = np.concatenate([u_keys, v_keys])
    unique_keys, first_seen, inverse = np.unique(keys, return_index=True, return_inverse=True)
    n_segments = len(geometry)
    u = inverse[:n_segments]
    v = inverse[n_segments:]
    node_xy = np.concatenate([starts, ends])[first_seen]
    length = shapely.length(geometry)

    useful = ~((u == v) & (length <= 0.0))
    if not useful.any():
        raise InputError(f"{source}: every street segment has zero length; nothing to walk on")
    n_nodes = len(unique_keys)
    adjacency = coo_array(
        (np.ones(int(useful.sum())), (u[useful], v[useful])), shape=(n_nodes, n_nodes)
    )
    n_components, labels = connected_components(adjacency, directed=False)
    # Isolated keys can only come from dropped zero-length loops; they are not streets.
    component_of_edge = labels[u]
    node_counts = np.bincount(labels, minlength=n_components)
    edge_counts = np.bincount(component_of_edge[useful], minlength=n_components)
    lengths = np.bincount(component_of_edge[useful], weights=length[useful], minlength=n_components)
    # Keys left without an edge come from dropped zero-length loops; they are not streets.
    node_counts[edge_counts == 0] = -1
    main = int(np.lexsort((lengths, node_counts))[-1])

    in_main_edge = useful & (component_of_edge == main)
    main_nodes = np.flatnonzero(labels == main)
    new_index = np.full(n_nodes, -1, dtype=np.int64)
    new_index[main_nodes] = np.arange(len(main_nodes))
    node_keys = unique_keys[main_nodes] if u_keys.dtype.kind in "iu" else None

    lonlat = gpd.GeoSeries(shapely.points(node_xy[main_nodes]), crs=metric).to_crs(WGS84)
    nodes = gpd.GeoDataFrame(
        {
            "osmid": node_keys if node_keys is not None and _keys_are_osm(u_keys) else -1,
            "lon": lonlat.x.to_numpy(),
            "lat": lonlat.y.to_numpy(),
        },
        geometry=shapely.points(node_xy[main_nodes]),
        crs=metric,
    )
    edges = gpd.GeoDataFrame(
        {
            "u": new_index[u[in_main_edge]],
            "v": new_index[v[in_main_edge]],
            "length_m": length[in_main_edge],
            "highway": frame["highway"].to_numpy()[in_main_edge],
            "osmid": frame["osmid"].to_numpy()[in_main_edge],
        },
        geometry=geometry[in_main_edge],
        crs=metric,
    )
    on_island = useful & (component_of_edge != main)
    island_edges = gpd.GeoDataFrame(
        {
            "component": component_of_edge[on_island],
            "length_m": length[on_island],
            "highway": frame["highway"].to_numpy()[on_island],
            "osmid": frame["osmid"].to_numpy()[on_island],
        },
        geometry=geometry[on_island],
        crs=metric,
    )
    n_real_components = len(np.unique(component_of_edge[useful]))
    if n_real_components > 1:
        warnings.warn(
            f"{source}: the walkable network has {n_real_components} disconnected pieces; "
            f"the largest ({len(main_nodes)} nodes) is analysed and {len(island_edges)} "
            f"segments ({island_edges['length_m'].sum() / 1000:.2f} km) on "
            f"{n_real_components - 1} smaller pieces are reported as islands",
            stacklevel=2,
        )
    return StreetNetwork(
        nodes=nodes,
        edges=edges,
        island_edges=island_edges,
        crs=metric,
        source=source,
        n_components=n_real_components,
    )


def _keys_are_osm(keys: np.ndarray) -> bool:
    return bool(keys.dtype.kind in "iu" and keys.size and keys.min() >= 0)


def _column_or(frame: pd.DataFrame, column: str, default: object) -> pd.Series:
    if column in frame.columns:
        values = frame[column]
        if isinstance(default, str):
            return values.fillna(default).astype(str).reset_index(drop=True)
        return pd.to_numeric(values, errors="coerce").fillna(default).reset_index(drop=True)
    return pd.Series([default] * len(frame))


def _coordinate_keys(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer node keys from end coordinates rounded to the key precision."""
    points = np.concatenate([starts, ends])
    rounded = np.round(points / _NODE_KEY_PRECISION_M).astype(np.int64)
    _, inverse = np.unique(rounded, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1).astype(np.int64)
    # Negative keys mark coordinate-derived ids, so they are never taken for OSM ids.
    keys = -1 - inverse
    return keys[: len(starts)], keys[len(starts) :]


def _is_osm_file(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(suffix) for suffix in OSM_SUFFIXES)


def read_osm_network(
    path: str | Path,
    *,
    crs: str | pyproj.CRS | None = "auto",
    walk_rules: WalkRules | None = None,
) -> StreetNetwork:
    """Read the walkable streets of an OSM file (``.osm``, ``.osm.bz2``, ``.osm.pbf``).

    Ways are split at every node they share with another walkable way, so intersections
    are nodes; the geometry keeps every intermediate vertex.

    Parameters
    ----------
    path : str or Path
        The OSM file.
    crs : str or pyproj.CRS, optional
        Target metric CRS, see :func:`choose_metric_crs`.
    walk_rules : WalkRules, optional
        Which ways are walkable; defaults to ``configs/walkable.yaml``.

    Returns
    -------
    StreetNetwork

    Raises
    ------
    InputError
        If the file is missing, not OSM data, or holds no walkable way.
    """
    from radius import _osm

    file_path = Path(path)
    rules = walk_rules or load_walk_rules()
    ways = _osm.read_walkable_ways(file_path, rules)
    if not ways.refs:
        raise InputError(
            f"{file_path}: no walkable street (highway=* way a pedestrian may use) in this "
            "OSM file; check that it covers the district and holds highway ways"
        )
    segments, u_keys, v_keys = _osm.split_ways_at_junctions(ways)
    return network_from_segments(
        segments, source=str(file_path), crs=crs, u_keys=u_keys, v_keys=v_keys
    )


def load_network(
    source: str | Path,
    *,
    crs: str | pyproj.CRS | None = "auto",
    walk_rules: WalkRules | None = None,
    layer: str | None = None,
) -> StreetNetwork:
    """Load a walkable network from a file, choosing the reader by the file name.

    Parameters
    ----------
    source : str or Path
        An OSM file (``.osm``, ``.osm.bz2``, ``.osm.pbf``), an osmnx GraphML file
        (``.graphml``), or road centre lines (``.gpkg``, ``.geojson``, ``.json``,
        ``.shp`` or a zipped Shapefile ``.zip``).
    crs : str or pyproj.CRS, optional
        Target metric CRS, see :func:`choose_metric_crs`.
    walk_rules : WalkRules, optional
        Walkability rules for OSM data; defaults to ``configs/walkable.yaml``.
    layer : str, optional
        Layer of a multi-layer file (GeoPackage).

    Returns
    -------
    StreetNetwork

    Raises
    ------
    InputError
        If the file is missing, of an unknown kind, or holds no walkable street.
    """
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: network file not found; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a network file")
    if _is_osm_file(path):
        return read_osm_network(path, crs=crs, walk_rules=walk_rules)
    suffix = path.suffix.lower()
    if suffix == ".graphml":
        return read_graphml_network(path, crs=crs)
    if suffix in _LINE_SUFFIXES:
        return read_road_lines(path, crs=crs, layer=layer)
    raise InputError(
        f"{path}: unknown network file type {suffix!r}; use an OSM file (.osm, .osm.bz2, "
        ".osm.pbf), GraphML (.graphml) or road centre lines (.gpkg, .geojson, zipped .shp)"
    )


_LINE_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".zip")


def read_graphml_network(path: Path, *, crs: str | pyproj.CRS | None = "auto") -> StreetNetwork:
    """Read an osmnx GraphML file as an undirected walkable network."""
    raise NotImplementedError  # replaced below by the GraphML reader


def read_road_lines(
    path: Path, *, crs: str | pyproj.CRS | None = "auto", layer: str | None = None
) -> StreetNetwork:
    """Read road centre lines as a network."""
    raise NotImplementedError  # replaced below by the road-line reader


def _as_sequence(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
