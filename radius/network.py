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
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from radius._errors import CRSError, InputError, NetworkUnavailableError
from radius._files import read_vector_layer
from radius._limits import regular_file
from radius._validate import check_crs_fits
from radius.config import WalkRules, load_walk_rules
from radius.i18n import Message, message, warn

__all__ = [
    "OSM_SUFFIXES",
    "StreetNetwork",
    "choose_metric_crs",
    "load_network",
    "load_network_online",
    "network_from_graph",
    "network_from_lines",
    "network_from_segments",
    "read_graphml_network",
    "read_osm_network",
    "read_road_lines",
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

    @cached_property
    def edge_tree(self) -> shapely.STRtree:
        """Spatial index of ``edges.geometry`` (built once, on first use)."""
        return shapely.STRtree(self.edges.geometry.to_numpy())

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
    # Names are compared only as text: comparing a pyproj.CRS with a string parses it (slow).
    name = crs.lower() if isinstance(crs, str) else None
    if crs is None or name in ("auto", "utm"):
        zone = math.floor((lon + 180.0) / 6.0) % 60 + 1
        return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
    if name == "cgcs2000":
        central_meridian = 3 * round(lon / 3.0)
        if not 75 <= central_meridian <= 135:
            raise CRSError(message("network_cgcs2000_outside", lon=lon))
        return pyproj.CRS.from_epsg(4534 + (central_meridian - 75) // 3)
    try:
        chosen = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(message("network_crs_unknown", crs=repr(crs), reason=str(exc))) from None
    units = {axis.unit_name for axis in chosen.axis_info}
    if not chosen.is_projected or not units <= {"metre", "meter"}:
        raise CRSError(message("network_crs_not_metric", crs=chosen.to_string()))
    if isinstance(crs, str):  # chosen by the user: it must fit the data
        check_crs_fits(chosen, lon, lat, crs)
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
        raise CRSError(message("network_segments_no_crs", source=source))
    if len(segments) == 0:
        raise InputError(message("network_no_street", source=source))
    # The bounds are reprojected, not the lines: at a million segments a WGS-84 copy of
    # every line costs seconds and a gigabyte only to find the centre.
    metric = _metric_crs_of_bounds(segments.crs, segments.total_bounds, crs)
    if pyproj.CRS(segments.crs).equals(metric):
        geometry = segments.geometry.to_numpy()
    else:
        geometry = segments.geometry.to_crs(metric).to_numpy()
    frame = pd.DataFrame(
        {
            "highway": _column_or(segments, "highway", ""),
            "osmid": _column_or(segments, "osmid", -1).astype("int64"),
        }
    )
    coords, line_of_vertex = shapely.get_coordinates(geometry, return_index=True)
    vertex_counts = np.bincount(line_of_vertex, minlength=len(geometry))
    last_vertex = np.cumsum(vertex_counts) - 1
    starts = coords[last_vertex - vertex_counts + 1]
    ends = coords[last_vertex]
    del coords, line_of_vertex
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
        raise InputError(message("network_zero_length", source=source))
    n_nodes = len(unique_keys)
    adjacency = coo_array(
        (np.ones(int(useful.sum())), (u[useful], v[useful])), shape=(n_nodes, n_nodes)
    )
    n_components, labels = connected_components(adjacency, directed=False)
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

    main_xy = node_xy[main_nodes]
    lon, lat = pyproj.Transformer.from_crs(metric, WGS84, always_xy=True).transform(
        main_xy[:, 0], main_xy[:, 1]
    )
    nodes = gpd.GeoDataFrame(
        {
            "osmid": node_keys if node_keys is not None and _keys_are_osm(u_keys) else -1,
            "lon": np.asarray(lon, dtype=np.float64),
            "lat": np.asarray(lat, dtype=np.float64),
        },
        geometry=shapely.points(main_xy),
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
        warn(
            "network_islands",
            stacklevel=2,
            source=source,
            pieces=n_real_components,
            nodes=len(main_nodes),
            edges=len(island_edges),
            km=f"{island_edges['length_m'].sum() / 1000:.2f}",
            smaller=n_real_components - 1,
        )
    return StreetNetwork(
        nodes=nodes,
        edges=edges,
        island_edges=island_edges,
        crs=metric,
        source=source,
        n_components=n_real_components,
    )


def _metric_crs_of_bounds(
    source_crs: Any, bounds: Sequence[float], crs: str | pyproj.CRS | None
) -> pyproj.CRS:
    """:func:`choose_metric_crs` for data within ``bounds`` (in ``source_crs``)."""
    to_lonlat = pyproj.Transformer.from_crs(source_crs, WGS84, always_xy=True)
    x_min, y_min, x_max, y_max = (float(b) for b in bounds)
    lon_min, lat_min, lon_max, lat_max = to_lonlat.transform_bounds(
        x_min, y_min, x_max, y_max, densify_pts=21
    )
    return choose_metric_crs((lon_min + lon_max) / 2.0, (lat_min + lat_max) / 2.0, crs)


def _keys_are_osm(keys: np.ndarray) -> bool:
    return bool(keys.dtype.kind in "iu" and keys.size and keys.min() >= 0)


def _column_or(frame: pd.DataFrame, column: str, default: str | int) -> pd.Series:
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
    if len(ways.refs) == 0:
        raise InputError(message("network_osm_no_street", file=str(file_path)))
    # The metric CRS is chosen from the node coordinates (the bounds of the segments, the
    # same choice network_from_segments makes) and the lines are built in it directly: at a
    # county's two million segments a WGS-84 set of lines made only to be reprojected cost
    # seconds and a gigabyte.
    lon = np.asarray(ways.lon, dtype=np.float64)
    lat = np.asarray(ways.lat, dtype=np.float64)
    bounds = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
    metric = _metric_crs_of_bounds(WGS84, bounds, crs)
    del lon, lat
    segments, u_keys, v_keys = _osm.split_ways_at_junctions(ways, crs=metric)
    del ways
    return network_from_segments(
        segments, source=str(file_path), crs=metric, u_keys=u_keys, v_keys=v_keys
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
        Walkability rules for OSM and GraphML data (road-line plans are taken as drawn,
        less lines marked ``walkable`` false); defaults to ``configs/walkable.yaml``.
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
    regular_file(path, message("file_kind_network"))
    if _is_osm_file(path):
        return read_osm_network(path, crs=crs, walk_rules=walk_rules)
    suffix = path.suffix.lower()
    if suffix == ".graphml":
        return read_graphml_network(path, crs=crs, walk_rules=walk_rules)
    if suffix in _LINE_SUFFIXES:
        return read_road_lines(path, crs=crs, layer=layer)
    raise InputError(message("network_file_type", file=str(path), suffix=repr(suffix)))


_LINE_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".zip")
_HIGHWAY_COLUMNS = ("highway", "road_class", "type", "class")
"""Columns giving a road line's class, the first one present wins (case-insensitive)."""
_TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y"})
_FALSE_WORDS = frozenset({"0", "false", "f", "no", "n"})
_LINE_TYPE_IDS = (1, 2, 5)
"""shapely type ids of LineString, LinearRing and MultiLineString."""
_NODE_MERGE_M = 1e-6
"""Ends of noded road lines closer than this (metres) are one node: floating-point noise."""
_MAX_LISTED = 10
"""At most this many offending features are named in one error message."""
_CONNECT_TIMEOUT_S = 3.0
_OSMNX_SETTINGS_LOCK = threading.Lock()


# --------------------------------------------------------------------------- GraphML


def read_graphml_network(
    path: str | Path,
    *,
    crs: str | pyproj.CRS | None = "auto",
    walk_rules: WalkRules | None = None,
) -> StreetNetwork:
    """Read a GraphML file written by osmnx as an undirected walkable network.

    See :func:`network_from_graph` for how the graph's edges become street segments.

    Parameters
    ----------
    path : str or Path
        A ``.graphml`` file written by ``osmnx.save_graphml``.
    crs : str or pyproj.CRS, optional
        Target metric CRS, see :func:`choose_metric_crs`.
    walk_rules : WalkRules, optional
        Which edges are walkable; defaults to ``configs/walkable.yaml``.

    Returns
    -------
    StreetNetwork

    Raises
    ------
    InputError
        If the file is missing, broken, not an osmnx graph, or holds no walkable edge.
    """
    import osmnx as ox

    file_path = Path(path)
    regular_file(file_path, message("file_kind_graphml"))
    try:
        graph = ox.io.load_graphml(file_path)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise InputError(
            message("network_graphml_unreadable", file=str(file_path), reason=reason)
        ) from None
    except Exception as exc:
        if not type(exc).__module__.startswith("networkx"):
            raise
        raise InputError(
            message("network_graphml_unreadable", file=str(file_path), reason=str(exc))
        ) from None
    return network_from_graph(graph, source=str(file_path), crs=crs, walk_rules=walk_rules)


def network_from_graph(
    graph: Any,
    *,
    source: str,
    crs: str | pyproj.CRS | None = "auto",
    walk_rules: WalkRules | None = None,
) -> StreetNetwork:
    """Turn an osmnx graph into an undirected :class:`StreetNetwork`.

    Every street becomes one segment even when the graph holds it in both directions:
    an edge is dropped when an edge between the same two nodes with the same geometry
    (in either direction) was already taken, while parallel edges along different lines
    are kept. An edge's ``geometry`` is used when present, else the straight line between
    its nodes' ``x``/``y``. Node ids become ``nodes.osmid``.

    When the edges carry ``highway`` tags, edges without one (building or land-use
    outlines in a graph built from a full OSM export) are dropped and the others are
    filtered with the walk rules, using whatever tags the edges carry. osmnx keeps no
    ``sidewalk`` or ``foot`` tags by default, so trunk and motorway edges then count as
    without sidewalk. A graph without any ``highway`` tag is taken as all walkable.

    Parameters
    ----------
    graph : networkx.MultiDiGraph or networkx.MultiGraph
        An osmnx graph: ``graph.graph["crs"]``, nodes with ``x`` and ``y``.
    source : str
        Description of where the graph came from (for reports and errors).
    crs : str or pyproj.CRS, optional
        Target metric CRS, see :func:`choose_metric_crs`.
    walk_rules : WalkRules, optional
        Which edges are walkable; defaults to ``configs/walkable.yaml``.

    Returns
    -------
    StreetNetwork

    Raises
    ------
    InputError
        If the graph has no CRS or node coordinates, or no walkable edge.
    """
    graph_crs = graph.graph.get("crs")
    if graph_crs is None:
        raise InputError(message("network_graph_no_crs", source=source))
    try:
        input_crs = pyproj.CRS.from_user_input(graph_crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(
            message(
                "network_graph_crs_unknown", source=source, crs=repr(graph_crs), reason=str(exc)
            )
        ) from None
    node_ids = list(graph.nodes)
    position = {node: i for i, node in enumerate(node_ids)}
    node_xy = np.full((len(node_ids), 2), np.nan)
    for i, (node, data) in enumerate(graph.nodes(data=True)):
        try:
            node_xy[i] = float(data["x"]), float(data["y"])
        except (KeyError, TypeError, ValueError):
            raise InputError(
                message("network_graph_node_xy", source=source, node=repr(node))
            ) from None

    rules = walk_rules or load_walk_rules()
    edges = list(graph.edges(data=True))
    has_highway = any("highway" in data for _, _, data in edges)
    seen: set[tuple[int, int, bytes]] = set()
    coordinates: list[np.ndarray] = []
    highways: list[str] = []
    osmids: list[int] = []
    u_index: list[int] = []
    v_index: list[int] = []
    for u, v, data in edges:
        highway = _walkable_highway(data, rules) if has_highway else ""
        if highway is None:
            continue
        iu, iv = position[u], position[v]
        coords = _edge_coordinates(data.get("geometry"), node_xy[iu], node_xy[iv], source)
        if coords is None:
            continue
        key = _undirected_key(iu, iv, coords)
        if key in seen:
            continue
        seen.add(key)
        coordinates.append(coords)
        highways.append(highway)
        osmids.append(_first_int(data.get("osmid")))
        u_index.append(iu)
        v_index.append(iv)
    if not coordinates:
        raise InputError(message("network_graph_no_street", source=source))
    counts = [len(c) for c in coordinates]
    lines = shapely.linestrings(
        np.concatenate(coordinates), indices=np.repeat(np.arange(len(counts)), counts)
    )
    segments = gpd.GeoDataFrame(
        {"highway": highways, "osmid": np.asarray(osmids, dtype=np.int64)},
        geometry=lines,
        crs=input_crs,
    )
    if all(isinstance(n, int | np.integer) and not isinstance(n, bool) for n in node_ids):
        keys = np.asarray(node_ids, dtype=np.int64)
    else:
        keys = -1 - np.arange(len(node_ids), dtype=np.int64)
    return network_from_segments(
        segments,
        source=source,
        crs=crs,
        u_keys=keys[np.asarray(u_index, dtype=np.int64)],
        v_keys=keys[np.asarray(v_index, dtype=np.int64)],
    )


def _walkable_highway(data: dict[str, Any], rules: WalkRules) -> str | None:
    """The first walkable ``highway`` value of an osmnx edge, or None if it is not walkable."""
    values = data.get("highway")
    if values is None:
        return None
    tags: dict[str, str] = {}
    for key, value in data.items():
        first = value[0] if isinstance(value, list) and value else value
        if isinstance(first, str):
            tags[key] = first
    for value in values if isinstance(values, list) else [values]:
        if rules.is_walkable({**tags, "highway": str(value)}):
            return str(value)
    return None


def _edge_coordinates(
    geometry: object, start: np.ndarray, end: np.ndarray, source: str
) -> np.ndarray | None:
    """An edge's coordinates running from its ``u`` node to its ``v`` node.

    The ends are set to the node coordinates exactly; None for a zero-length edge.
    """
    if isinstance(geometry, str):
        try:
            geometry = shapely.from_wkt(geometry)
        except shapely.errors.GEOSException as exc:
            raise InputError(message("network_edge_wkt", source=source, reason=str(exc))) from None
    if geometry is None or (isinstance(geometry, float) and math.isnan(geometry)):
        coords = np.array([start, end])
    elif isinstance(geometry, shapely.LineString) and not geometry.is_empty:
        coords = shapely.get_coordinates(geometry).copy()
        if np.hypot(*(coords[0] - end)) < np.hypot(*(coords[0] - start)):
            coords = coords[::-1].copy()
        coords[0] = start
        coords[-1] = end
    else:
        kind = getattr(geometry, "geom_type", type(geometry).__name__)
        raise InputError(message("network_edge_not_line", source=source, kind=kind))
    if (coords == coords[0]).all():
        return None
    return coords


def _undirected_key(iu: int, iv: int, coords: np.ndarray) -> tuple[int, int, bytes]:
    """The same key for an edge and its reverse; different for different geometries."""
    rounded = np.round(coords, 9) + 0.0  # + 0.0 turns -0.0 into 0.0
    forward = rounded.tobytes()
    backward = rounded[::-1].tobytes()
    if iu < iv:
        return iu, iv, forward
    if iu > iv:
        return iv, iu, backward
    return iu, iv, min(forward, backward)


def _first_int(value: object) -> int:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return -1


# --------------------------------------------------------------------------- road lines


def read_road_lines(
    path: str | Path,
    *,
    crs: str | pyproj.CRS | None = "auto",
    layer: str | None = None,
    snap_tolerance_m: float = 0.5,
) -> StreetNetwork:
    """Read road centre lines (a district's road plan) as a network.

    The lines are joined where they meet and split where they cross, see
    :func:`network_from_lines`.

    Parameters
    ----------
    path : str or Path
        A GeoPackage (``.gpkg``), GeoJSON (``.geojson``, ``.json``), Shapefile (``.shp``)
        or zipped Shapefile (``.zip`` holding the ``.shp`` with its ``.shx``, ``.dbf``
        and ``.prj``).
    crs : str or pyproj.CRS, optional
        Target metric CRS, see :func:`choose_metric_crs`.
    layer : str, optional
        The layer to read (GeoPackage), or the Shapefile's name without ``.shp`` when a
        zip holds several. A file whose only line layer is unambiguous needs none.
    snap_tolerance_m : float, optional
        Line ends closer than this (metres) to each other, or to another line, are joined.

    Returns
    -------
    StreetNetwork

    Raises
    ------
    InputError
        If the file is missing or unreadable, a zip holds no Shapefile, the layer is
        empty, or a feature is not a line.
    CRSError
        If the file has no CRS.
    """
    file_path = Path(path)
    regular_file(file_path, message("file_kind_road_lines"))
    frame = read_vector_layer(file_path, layer, what="road lines", geometry_kind="LineString")
    return network_from_lines(
        frame, source=str(file_path), crs=crs, snap_tolerance_m=snap_tolerance_m
    )


def network_from_lines(
    lines: gpd.GeoDataFrame,
    *,
    source: str,
    crs: str | pyproj.CRS | None = "auto",
    snap_tolerance_m: float = 0.5,
) -> StreetNetwork:
    """Build a :class:`StreetNetwork` from road centre lines drawn as a plan.

    Lines are projected to the metric CRS, then joined and split:

    1. line ends within ``snap_tolerance_m`` of each other are moved to their mean
       position, so lines drawn almost to the same point meet;
    2. a line end within ``snap_tolerance_m`` of another line's interior is moved onto
       that line (a T-junction drawn a little short or a little long);
    3. all lines are split wherever they cross or touch (``shapely.node``), so every
       crossing is a junction. Overpasses must therefore be drawn as separate lines
       that end before the crossing, or left out.

    Parameters
    ----------
    lines : geopandas.GeoDataFrame
        LineStrings or MultiLineStrings with a CRS. The first column present among
        ``highway``, ``road_class``, ``type`` and ``class`` (any case) becomes
        ``highway``; a ``walkable`` column (true/false, 1/0, yes/no; empty means true)
        drops the lines marked false.
    source : str
        Description of where the lines came from (for reports and errors).
    crs : str or pyproj.CRS, optional
        Target metric CRS, see :func:`choose_metric_crs`.
    snap_tolerance_m : float, optional
        Joining distance (metres); 0 joins only ends that coincide exactly.

    Returns
    -------
    StreetNetwork
        Node ``osmid`` and edge ``osmid`` are -1.

    Raises
    ------
    InputError
        If there is no feature, a feature is not a line (every one is named, by its
        position counted from 1), or the ``walkable`` column holds other values.
    CRSError
        If the lines have no CRS.
    """
    if not (math.isfinite(snap_tolerance_m) and snap_tolerance_m >= 0):
        raise InputError(message("network_snap_tolerance", value=snap_tolerance_m))
    if lines.crs is None:
        raise CRSError(message("network_lines_no_crs", source=source))
    if len(lines) == 0:
        raise InputError(message("network_lines_empty", source=source))
    geometry = np.asarray(lines.geometry.to_numpy(), dtype=object)
    missing = shapely.is_missing(geometry) | shapely.is_empty(geometry)
    not_line = np.flatnonzero(~missing & ~np.isin(shapely.get_type_id(geometry), _LINE_TYPE_IDS))
    if not_line.size:
        named = [
            message("network_feature_kind", feature=int(i) + 1, kind=geometry[i].geom_type)
            for i in not_line
        ]
        raise InputError(
            message(
                "network_lines_not_lines",
                source=source,
                n=int(not_line.size),
                lines=_listed(named),
            )
        )
    if missing.any():
        warn(
            "network_features_without_geometry",
            stacklevel=2,
            source=source,
            n=int(missing.sum()),
            first=int(np.flatnonzero(missing)[0]) + 1,
        )
    keep = np.flatnonzero(~missing & _walkable_flags(lines, source))
    if keep.size == 0:
        raise InputError(message("network_lines_none_walkable", source=source))
    highway = _highway_values(lines)

    parts, part_row = shapely.get_parts(geometry[keep], return_index=True)
    filled = ~shapely.is_empty(parts)
    parts, part_row = parts[filled], keep[part_row[filled]]
    coords, coord_part = shapely.get_coordinates(parts, return_index=True)
    to_wgs84 = pyproj.Transformer.from_crs(lines.crs, WGS84, always_xy=True)
    lon, lat = to_wgs84.transform(coords[:, 0], coords[:, 1])
    with np.errstate(invalid="ignore"):
        in_range = (np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0)
    if not in_range.all():
        raise CRSError(message("network_lines_crs_wrong", source=source, crs=lines.crs.to_string()))
    metric = choose_metric_crs(
        (float(lon.min()) + float(lon.max())) / 2.0,
        (float(lat.min()) + float(lat.max())) / 2.0,
        crs,
    )
    to_metric = pyproj.Transformer.from_crs(lines.crs, metric, always_xy=True)
    x, y = to_metric.transform(coords[:, 0], coords[:, 1])
    metric_lines = shapely.linestrings(np.column_stack([x, y]), indices=coord_part)
    has_length = shapely.length(metric_lines) > 0
    metric_lines, part_row = metric_lines[has_length], part_row[has_length]
    if metric_lines.size == 0:
        raise InputError(message("network_lines_zero_length", source=source))
    if snap_tolerance_m > 0:
        metric_lines = _snap_line_ends(metric_lines, snap_tolerance_m)
        has_length = shapely.length(metric_lines) > 0
        metric_lines, part_row = metric_lines[has_length], part_row[has_length]
    pieces, piece_line = _node_lines(metric_lines)
    pieces, u_keys, v_keys = _merge_piece_ends(pieces, _NODE_MERGE_M)
    segments = gpd.GeoDataFrame(
        {"highway": highway[part_row[piece_line]], "osmid": np.full(len(pieces), -1)},
        geometry=pieces,
        crs=metric,
    )
    return network_from_segments(segments, source=source, crs=metric, u_keys=u_keys, v_keys=v_keys)


def _columns_by_lower_name(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    geometry_name = frame.geometry.name
    return {str(c).lower(): c for c in frame.columns if c != geometry_name}


def _highway_values(lines: gpd.GeoDataFrame) -> np.ndarray:
    """The road class of every row as text ("" when unknown)."""
    columns = _columns_by_lower_name(lines)
    for name in _HIGHWAY_COLUMNS:
        if name in columns:
            values = lines[columns[name]]
            return np.asarray(values.astype(object).where(values.notna(), "").astype(str))
    return np.full(len(lines), "", dtype=object)


def _walkable_flags(lines: gpd.GeoDataFrame, source: str) -> np.ndarray:
    """Whether each row may be walked on, from an optional ``walkable`` column."""
    flags = np.ones(len(lines), dtype=bool)
    column = _columns_by_lower_name(lines).get("walkable")
    if column is None:
        return flags
    bad: list[Message] = []
    for i, value in enumerate(lines[column].to_numpy()):
        if isinstance(value, bool | np.bool_):
            flags[i] = bool(value)
        elif isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
            flags[i] = value.strip().lower() in _TRUE_WORDS
        elif isinstance(value, int | float | np.number) and value in (0, 1):
            flags[i] = bool(value)
        elif value is None or (not isinstance(value, str) and pd.isna(value)):
            continue
        else:
            shown = value.item() if isinstance(value, np.generic) else value  # 7, not np.int64(7)
            bad.append(message("network_feature_value", feature=i + 1, value=repr(shown)))
    if bad:
        raise InputError(
            message(
                "network_walkable_values",
                source=source,
                column=repr(column),
                n=len(bad),
                lines=_listed(bad),
            )
        )
    return flags


def _listed(items: Sequence[Message]) -> tuple[Message, ...]:
    """The first :data:`_MAX_LISTED` items as lines of an error, and how many more."""
    lines = [message("problem_line", text=item) for item in items[:_MAX_LISTED]]
    if len(items) > _MAX_LISTED:
        lines.append(message("problems_more", n=len(items) - _MAX_LISTED))
    return tuple(lines)


def _cluster_points(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Cluster label of each point; points within ``tolerance`` (chained) share one."""
    from scipy.spatial import KDTree

    pairs = KDTree(points).query_pairs(tolerance, output_type="ndarray")
    n = len(points)
    graph = coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _line_ends(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates of all lines, their line index, and each line's first and last position."""
    coords, index = shapely.get_coordinates(lines, return_index=True)
    counts = np.bincount(index, minlength=len(lines))
    last = np.cumsum(counts) - 1
    first = last - counts + 1
    return coords, index, first, last


def _snap_line_ends(lines: np.ndarray, tolerance: float) -> np.ndarray:
    """Join line ends lying within ``tolerance`` of each other or of another line."""
    coords, _, first, last = _line_ends(lines)
    n_lines = len(lines)
    ends = np.concatenate([coords[first], coords[last]])
    labels = _cluster_points(ends, tolerance)
    sizes = np.bincount(labels)
    centre = (
        np.column_stack(
            [np.bincount(labels, weights=ends[:, 0]), np.bincount(labels, weights=ends[:, 1])]
        )
        / sizes[:, None]
    )
    start_label, end_label = labels[:n_lines], labels[n_lines:]

    # A joined end near the interior of a line it does not end on moves onto that line.
    points = shapely.points(centre)
    end_of, line_of = shapely.STRtree(lines).query(points, predicate="dwithin", distance=tolerance)
    foreign = (start_label[line_of] != end_of) & (end_label[line_of] != end_of)
    end_of, line_of = end_of[foreign], line_of[foreign]
    if end_of.size:
        distance = shapely.distance(points[end_of], lines[line_of])
        order = np.lexsort((line_of, distance, end_of))
        end_of, line_of = end_of[order], line_of[order]
        nearest = np.unique(end_of, return_index=True)[1]
        end_of, line_of = end_of[nearest], line_of[nearest]
        along = shapely.line_locate_point(lines[line_of], points[end_of])
        on_line = shapely.line_interpolate_point(lines[line_of], along)
        centre[end_of] = shapely.get_coordinates(on_line)

    coords = coords.copy()
    coords[first] = centre[start_label]
    coords[last] = centre[end_label]
    per_line = np.split(coords, first[1:])
    for end, line in zip(end_of.tolist(), line_of.tolist(), strict=True):
        per_line[line] = _insert_vertex(per_line[line], centre[end])
    counts = [len(c) for c in per_line]
    return np.asarray(
        shapely.linestrings(np.concatenate(per_line), indices=np.repeat(np.arange(n_lines), counts))
    )


def _insert_vertex(coords: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Coordinates of a line with ``point`` inserted into its nearest segment."""
    if (coords == point).all(axis=1).any():
        return coords
    start, step = coords[:-1], np.diff(coords, axis=0)
    squared = (step**2).sum(axis=1)
    along = np.divide(
        ((point - start) * step).sum(axis=1), squared, where=squared > 0, out=np.zeros(len(step))
    )
    nearest = start + np.clip(along, 0.0, 1.0)[:, None] * step
    segment = int(np.argmin(np.hypot(*(nearest - point).T)))
    return np.insert(coords, segment + 1, point, axis=0)


def _node_lines(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split lines at every crossing and touch; the source line of each piece.

    Exact floating-point noding first; when that does not converge (nearly collinear
    overlapping lines), snap-rounding on a grid of ``_NODE_MERGE_M`` metres, which always
    succeeds and moves vertices by at most half the grid.
    """
    try:
        noded = shapely.node(shapely.multilinestrings(lines))
    except shapely.errors.GEOSException:
        noded = shapely.union_all(lines, grid_size=_NODE_MERGE_M)
    pieces = shapely.get_parts(noded)
    pieces = pieces[shapely.length(pieces) > 0]
    middle = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    piece_of, line_of = shapely.STRtree(lines).query_nearest(middle, all_matches=True)
    source_line = np.full(len(pieces), len(lines), dtype=np.int64)
    np.minimum.at(source_line, piece_of, line_of)
    return pieces, source_line


def _merge_piece_ends(
    pieces: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Give ends within ``tolerance`` one exact position; their (negative) node keys."""
    coords, index, first, last = _line_ends(pieces)
    n_pieces = len(pieces)
    ends = np.concatenate([coords[first], coords[last]])
    labels = _cluster_points(ends, tolerance)
    representative = ends[np.unique(labels, return_index=True)[1]]
    coords = coords.copy()
    coords[first] = representative[labels[:n_pieces]]
    coords[last] = representative[labels[n_pieces:]]
    keys = -1 - labels.astype(np.int64)
    merged = np.asarray(shapely.linestrings(coords, indices=index))
    return merged, keys[:n_pieces], keys[n_pieces:]


# --------------------------------------------------------------------------- online


def load_network_online(
    *,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    crs: str | pyproj.CRS | None = "auto",
    walk_rules: WalkRules | None = None,
) -> StreetNetwork:
    """Download the walk network of a place or a bounding box with osmnx.

    Needs internet access (Overpass, and Nominatim for a place name). Connectivity is
    checked first with a 3-second connection attempt, so an offline machine gets a
    clear error at once. The graph is converted as in :func:`network_from_graph`; the
    ``foot``, ``sidewalk`` and access tags the walk rules look at are requested too.

    Parameters
    ----------
    place : str, optional
        A place name osmnx can geocode, e.g. ``"Xuanwu District, Nanjing, China"``.
    bbox : tuple of float, optional
        ``(west, south, east, north)`` in WGS-84 degrees. Give ``place`` or ``bbox``.
    crs : str or pyproj.CRS, optional
        Target metric CRS, see :func:`choose_metric_crs`.
    walk_rules : WalkRules, optional
        Which edges are walkable; defaults to ``configs/walkable.yaml``.

    Returns
    -------
    StreetNetwork

    Raises
    ------
    NetworkUnavailableError
        If the internet (or the OSM servers) cannot be reached.
    InputError
        If neither or both of ``place`` and ``bbox`` are given, the bounding box is
        invalid, the place is not found, or it holds no walkable street.
    """
    if (place is None) == (bbox is None):
        raise InputError(message("network_online_place_or_bbox"))
    if place is not None and not place.strip():
        raise InputError(message("network_online_place_empty"))
    box = _validate_bbox(bbox) if bbox is not None else None
    import osmnx as ox

    servers = [ox.settings.overpass_url]
    if place is not None:
        servers.append(ox.settings.nominatim_url)
    _check_internet(servers)
    rules = walk_rules or load_walk_rules()
    wanted_tags = ["foot", *rules.sidewalk_keys, *rules.exclude_tags]
    area = (
        message("network_online_place", place=repr(place))
        if box is None
        else message("network_online_bbox", bbox=str(box))
    )
    source = message("network_online_source", area=area)
    try:
        with _OSMNX_SETTINGS_LOCK:
            saved = ox.settings.useful_tags_way
            ox.settings.useful_tags_way = list(dict.fromkeys([*saved, *wanted_tags]))
            try:
                if place is not None:
                    graph = ox.graph_from_place(place, network_type="walk", retain_all=True)
                elif box is not None:
                    graph = ox.graph_from_bbox(box, network_type="walk", retain_all=True)
            finally:
                ox.settings.useful_tags_way = saved
    except OSError as exc:
        if isinstance(exc, ConnectionError | TimeoutError) or _is_http_error(exc):
            raise NetworkUnavailableError(message("network_no_internet", detail=str(exc))) from None
        raise
    except ox._errors.ResponseStatusCodeError as exc:
        raise NetworkUnavailableError(
            message("network_download_refused", reason=str(exc))
        ) from None
    except (ox._errors.InsufficientResponseError, TypeError) as exc:
        raise InputError(
            message("network_online_nothing_found", source=source, reason=str(exc))
        ) from None
    return network_from_graph(graph, source=source, crs=crs, walk_rules=rules)


def _validate_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` as floats, or InputError saying what is wrong."""
    hint = message("network_bbox_hint")
    try:
        values = tuple(float(v) for v in bbox)
    except (TypeError, ValueError):
        raise InputError(message("network_bbox_not_numbers", bbox=repr(bbox), hint=hint)) from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InputError(message("network_bbox_not_finite", bbox=repr(bbox), hint=hint))
    west, south, east, north = values
    if not (-180.0 <= west <= 180.0 and -180.0 <= east <= 180.0):
        raise InputError(message("network_bbox_longitudes", west=west, east=east, hint=hint))
    if not (-90.0 <= south <= 90.0 and -90.0 <= north <= 90.0):
        raise InputError(message("network_bbox_latitudes", south=south, north=north, hint=hint))
    if west >= east:
        raise InputError(message("network_bbox_west_east", west=west, east=east, hint=hint))
    if south >= north:
        raise InputError(message("network_bbox_south_north", south=south, north=north, hint=hint))
    return west, south, east, north


def _is_http_error(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in {"requests", "urllib3"}


def _check_internet(urls: Sequence[str]) -> None:
    """Raise NetworkUnavailableError unless every server (or the proxy) answers in time."""
    import urllib.request
    from urllib.parse import urlsplit

    proxies = urllib.request.getproxies()
    for url in urls:
        parts = urlsplit(url)
        proxy = proxies.get(parts.scheme)
        target = urlsplit(proxy) if proxy else parts
        port = target.port or (443 if target.scheme == "https" else 80)
        problem = _connection_problem(target.hostname or "", port, _CONNECT_TIMEOUT_S)
        if problem is not None:
            raise NetworkUnavailableError(message("network_no_internet", detail=problem))


def _connection_problem(host: str, port: int, timeout_s: float) -> Message | None:
    """Why a TCP connection to ``host:port`` fails within ``timeout_s`` seconds, or None.

    The attempt runs in a daemon thread so a slow name lookup cannot hold the caller
    past the timeout.
    """
    outcome: list[OSError | None] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=attempt, name="radius-connectivity-check", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not outcome:
        return message("network_no_answer", host=host, port=port, timeout=timeout_s)
    if outcome[0] is not None:
        return message("network_cannot_connect", host=host, port=port, reason=str(outcome[0]))
    return None
