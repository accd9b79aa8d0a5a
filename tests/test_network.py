"""Tests of radius.network: every loader, the network contract, errors, CRS choice."""

from __future__ import annotations

import importlib
import re
import socket
import time
import urllib.request
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import osmium
import osmnx as ox
import pandas as pd
import pyproj
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import pdist
from shapely import LineString, MultiLineString, Point, Polygon

import radius.network as network_module
from radius import _osm
from radius._errors import CRSError, InputError, NetworkUnavailableError
from radius.cli import main
from radius.config import load_walk_rules
from radius.i18n import Message
from radius.network import (
    StreetNetwork,
    choose_metric_crs,
    load_network,
    load_network_online,
    network_from_graph,
    network_from_lines,
    read_graphml_network,
    read_osm_network,
    read_road_lines,
)
from tests.conftest import shared_file
from tests.language_checks import ALLOWED_IN_CHINESE, assert_chinese_error, english_words

NODE_COLUMNS = ["osmid", "lon", "lat", "geometry"]
EDGE_COLUMNS = ["u", "v", "length_m", "highway", "osmid", "geometry"]
UTM50 = "EPSG:32650"
X0, Y0 = 668_000.0, 3_545_000.0
"""A point in Nanjing in UTM zone 50N, origin of the hand-made road plans."""

# file: (EPSG, nodes, edges, components, island edges, main km, island km)
REAL_EXTRACTS: dict[str, tuple[int, int, int, int, int, float, float]] = {
    "cn_nanjing_xinjiekou.osm": (32650, 492, 694, 43, 84, 80.282, 4.195),
    "cn_beijing_haidian_cau.osm": (32650, 469, 654, 13, 48, 58.727, 5.731),
    "cn_shenzhen_longgang.osm": (32650, 676, 913, 37, 64, 156.704, 6.687),
    "cn_shanghai_center_roads.osm": (32651, 3708, 5755, 10, 1118, 750.313, 163.000),
    "cn_shanghai_center_roads.osm.pbf": (32651, 3708, 5755, 10, 1118, 750.313, 163.000),
    "us_west_oakland.osm.bz2": (32610, 49, 63, 3, 2, 8.008, 0.105),
    "fi_helsinki_test_small.osm.pbf": (32635, 525, 662, 3, 2, 58.837, 0.098),
    "fi_helsinki_center.osm.pbf": (32635, 3050, 4100, 44, 90, 87.367, 1.241),
}


# --------------------------------------------------------------------------- helpers

#: Names a Chinese network error shows as they are: a format, a library, the download services.
NETWORK_NAMES = frozenset(
    {"GraphML", "osmnx", "WKT", "XML", "MultiLineString", "Overpass", "Geofabrik", "Nominatim"}
    | {"QGIS", "Python"}
)


def _library_words(note: object) -> set[str]:
    """The English words of the texts an error quotes: a library's (its ``reason`` and
    ``detail`` values) and the name of the data's source the caller gave (``source``),
    in nested messages too."""
    if not isinstance(note, Message):
        return set()
    words: set[str] = set()
    for name, value in note.params.items():
        if isinstance(value, Message):
            words |= _library_words(value)
        elif name in ("reason", "detail", "source"):
            words |= set(english_words(str(value)))
    return words


def assert_chinese(exc: BaseException, *user_texts: str) -> str:
    """:func:`assert_chinese_error`, passing over the network names, the words the error
    quotes from a library and those of ``user_texts`` (values the user gave)."""
    allowed = NETWORK_NAMES | _library_words(exc.args[0] if exc.args else None)
    allowed |= {word for text in user_texts for word in english_words(text)}
    return assert_chinese_error(exc, allowed=allowed)


def load_with_islands(load: Callable[[], StreetNetwork]) -> StreetNetwork:
    """Run a loader whose network has islands, checking it warns about them."""
    with pytest.warns(UserWarning, match="disconnected"):
        return load()


def load_real(name: str, **kwargs: Any) -> StreetNetwork:
    path = shared_file(name)
    return load_with_islands(lambda: load_network(path, **kwargs))


def check_contract(net: StreetNetwork) -> None:
    """Every invariant of a StreetNetwork that holds whatever its source."""
    nodes, edges = net.nodes, net.edges
    assert list(nodes.columns) == NODE_COLUMNS
    assert list(edges.columns) == EDGE_COLUMNS
    assert isinstance(nodes.index, pd.RangeIndex)
    assert isinstance(edges.index, pd.RangeIndex)
    assert nodes.index.equals(pd.RangeIndex(len(nodes)))
    assert edges.index.equals(pd.RangeIndex(len(edges)))
    assert nodes.crs == net.crs
    assert edges.crs == net.crs
    assert net.island_edges.crs == net.crs
    assert net.crs.is_projected
    assert edges["osmid"].dtype == np.int64
    assert nodes["osmid"].dtype == np.int64
    assert (shapely.get_type_id(edges.geometry.to_numpy()) == 1).all()

    # Edges only join nodes of the main component, and every node has an edge.
    u = edges["u"].to_numpy()
    v = edges["v"].to_numpy()
    assert u.min() >= 0
    assert v.min() >= 0
    assert max(u.max(), v.max()) < len(nodes)
    assert np.union1d(u, v).size == len(nodes)
    adjacency = coo_array((np.ones(len(u)), (u, v)), shape=(len(nodes), len(nodes)))
    assert connected_components(adjacency, directed=False)[0] == 1

    # Lengths are the geometry lengths; geometries run from node u to node v.
    lengths = edges["length_m"].to_numpy()
    assert (lengths > 0).all()
    np.testing.assert_allclose(lengths, shapely.length(edges.geometry.to_numpy()), rtol=1e-12)
    node_xy = shapely.get_coordinates(nodes.geometry.to_numpy())
    geometry = edges.geometry.to_numpy()
    start = shapely.get_coordinates(shapely.get_point(geometry, 0))
    end = shapely.get_coordinates(shapely.get_point(geometry, -1))
    np.testing.assert_allclose(start, node_xy[u], rtol=0, atol=1e-6)
    np.testing.assert_allclose(end, node_xy[v], rtol=0, atol=1e-6)

    # lon/lat are the node positions in WGS-84.
    to_wgs84 = pyproj.Transformer.from_crs(net.crs, 4326, always_xy=True)
    lon, lat = to_wgs84.transform(node_xy[:, 0], node_xy[:, 1])
    np.testing.assert_allclose(nodes["lon"], lon, atol=1e-9)
    np.testing.assert_allclose(nodes["lat"], lat, atol=1e-9)

    # No island edge touches a node of the main component.
    islands = net.island_edges
    if len(islands):
        island_ends = shapely.get_coordinates(
            shapely.get_point(islands.geometry.to_numpy(), [[0], [-1]]).ravel()
        )
        main_keys = {tuple(p) for p in np.round(node_xy, 6)}
        assert not main_keys & {tuple(p) for p in np.round(island_ends, 6)}
    summary = net.summary()
    assert summary["islands"]["components"] == net.n_components - 1
    assert islands["component"].nunique() == net.n_components - 1
    assert summary["nodes"] == len(nodes)
    assert summary["edges"] == len(edges)


def total_length_m(net: StreetNetwork) -> float:
    """Length of the main component plus every island (metres)."""
    return float(net.edges["length_m"].sum() + net.island_edges["length_m"].sum())


def line_frame(lines: list[Any], crs: str | None = UTM50, **columns: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=lines, crs=crs)


def plan_line(*points: tuple[float, float]) -> LineString:
    """A line through points given in metres from the plan origin."""
    return LineString([(X0 + x, Y0 + y) for x, y in points])


def write_zipped_shapefile(frame: gpd.GeoDataFrame, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_file(folder / f"{name}.shp", engine="pyogrio")
    archive = folder.parent / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for member in sorted(folder.iterdir()):
            zipped.write(member, arcname=member.name)
    return archive


def write_plan(frame: gpd.GeoDataFrame, folder: Path, kind: str) -> Path:
    """Write a road plan as GeoPackage, GeoJSON (WGS-84), Shapefile or zipped Shapefile."""
    if kind == "shp":
        path = folder / "plan.shp"
        frame.to_file(path, engine="pyogrio")
        return path
    if kind == "gpkg":
        path = folder / "plan.gpkg"
        frame.to_file(path, layer="roads", engine="pyogrio")
        return path
    if kind == "geojson":
        path = folder / "plan.geojson"
        frame.to_crs(4326).to_file(path, driver="GeoJSON", engine="pyogrio")
        return path
    return write_zipped_shapefile(frame, folder / "shp", "plan")


def write_osm(
    path: Path,
    nodes: dict[int, tuple[float, float]],
    ways: list[tuple[int, list[int], dict[str, str]]],
) -> Path:
    """A minimal OSM XML file."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for node_id, (lon, lat) in nodes.items():
        lines.append(f'  <node id="{node_id}" lon="{lon}" lat="{lat}" version="1"/>')
    for way_id, refs, tags in ways:
        lines.append(f'  <way id="{way_id}" version="1">')
        lines.extend(f'    <nd ref="{ref}"/>' for ref in refs)
        lines.extend(f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- real extracts


@pytest.mark.parametrize("name", list(REAL_EXTRACTS))
def test_real_extract_loads_with_pinned_counts(name: str) -> None:
    epsg, n_nodes, n_edges, n_components, n_island_edges, main_km, island_km = REAL_EXTRACTS[name]
    net = load_real(name)
    check_contract(net)
    assert net.crs.to_epsg() == epsg
    assert (net.n_nodes, net.n_edges) == (n_nodes, n_edges)
    assert net.n_components == n_components
    assert len(net.island_edges) == n_island_edges
    summary = net.summary()
    assert summary["length_km"] == pytest.approx(main_km, abs=0.002)
    assert summary["islands"]["length_km"] == pytest.approx(island_km, abs=0.002)
    assert (net.nodes["osmid"] > 0).all()
    assert net.nodes["osmid"].is_unique
    assert (net.edges["osmid"] > 0).all()
    assert (net.edges["highway"] != "").all()


@pytest.mark.parametrize("name", ["cn_nanjing_xinjiekou.osm", "cn_shanghai_center_roads.osm.pbf"])
def test_loading_is_deterministic(name: str) -> None:
    first, second = load_real(name), load_real(name)
    assert_geodataframe_equal(first.nodes, second.nodes)
    assert_geodataframe_equal(first.edges, second.edges)


def test_shanghai_pbf_and_xml_give_the_same_network() -> None:
    from_pbf = load_real("cn_shanghai_center_roads.osm.pbf")
    from_xml = load_real("cn_shanghai_center_roads.osm")
    assert_geodataframe_equal(from_pbf.nodes, from_xml.nodes)
    assert_geodataframe_equal(from_pbf.edges, from_xml.edges)
    assert_geodataframe_equal(from_pbf.island_edges, from_xml.island_edges)


@pytest.mark.parametrize(
    ("name", "epsg"),
    [("cn_shanghai_center_roads.osm.pbf", 4549), ("cn_beijing_haidian_cau.osm", 4548)],
)
def test_cgcs2000_zone_of_real_extracts(name: str, epsg: int) -> None:
    net = load_real(name, crs="cgcs2000")
    assert net.crs.to_epsg() == epsg
    check_contract(net)
    _, n_nodes, n_edges, *_ = REAL_EXTRACTS[name]
    assert (net.n_nodes, net.n_edges) == (n_nodes, n_edges)


@pytest.mark.parametrize("name", list(REAL_EXTRACTS))
def test_ways_read_whole_equal_the_ways_read_node_by_node(name: str) -> None:
    # The OPL + Arrow reader against one Python object per way node: the same runs, ids,
    # classes and coordinates bit for bit (fi_helsinki_center has 722 way nodes without a
    # location, so runs split at the gaps are compared too).
    path = shared_file(name)
    whole = _osm.read_walkable_ways(path, load_walk_rules())
    by_node = _osm._read_walkable_ways_by_node(path, load_walk_rules())
    for column in ("refs", "lon", "lat", "way_start", "way_id", "highway"):
        np.testing.assert_array_equal(
            np.asarray(getattr(whole, column)), np.asarray(getattr(by_node, column)), column
        )


def test_ways_with_missing_nodes_split_alike(tmp_path: Path) -> None:
    # Node 3 and 6 are not in the file: way 10 splits into 1-2 and 4-5, way 11 keeps 7-8
    # (its lone node 9 after the gap is no run), way 12 is a single located node.
    nodes = {1: (118.0, 32.0), 2: (118.001, 32.0), 4: (118.003, 32.0), 5: (118.004, 32.0)}
    nodes |= {7: (118.0, 32.001), 8: (118.001, 32.001), 9: (118.002, 32.001)}
    path = write_osm(
        tmp_path / "gaps.osm",
        nodes,
        [
            (10, [1, 2, 3, 4, 5], {"highway": "residential"}),
            (11, [7, 8, 6, 9], {"highway": "footway", "name": "a b=c,d"}),
            (12, [1], {"highway": "path"}),
        ],
    )
    whole = _osm.read_walkable_ways(path, load_walk_rules())
    by_node = _osm._read_walkable_ways_by_node(path, load_walk_rules())
    assert list(whole.refs) == [1, 2, 4, 5, 7, 8]
    assert list(whole.way_id) == [10, 10, 11]
    for column in ("refs", "lon", "lat", "way_start", "way_id", "highway"):
        np.testing.assert_array_equal(
            np.asarray(getattr(whole, column)), np.asarray(getattr(by_node, column)), column
        )


@pytest.mark.parametrize("name", list(REAL_EXTRACTS))
def test_main_plus_islands_is_every_walkable_way(name: str) -> None:
    path = shared_file(name)
    net = load_with_islands(lambda: read_osm_network(path))
    ways = _osm.read_walkable_ways(path, load_walk_rules())
    # Whole ways (one line per run of located nodes), independent of junction splitting.
    way_of_entry = np.repeat(
        np.arange(len(ways.way_start)), np.diff(np.append(ways.way_start, len(ways.refs)))
    )
    whole_ways = gpd.GeoSeries(
        shapely.linestrings(np.column_stack([ways.lon, ways.lat]), indices=way_of_entry),
        crs=4326,
    ).to_crs(net.crs)
    assert total_length_m(net) == pytest.approx(float(whole_ways.length.sum()), rel=1e-9)
    summary = net.summary()
    main_and_islands_km = summary["length_km"] + summary["islands"]["length_km"]
    assert main_and_islands_km == pytest.approx(total_length_m(net) / 1000, abs=0.002)


# --------------------------------------------------------------------------- walkability


@pytest.mark.parametrize(
    ("tags", "walkable"),
    [
        ({"highway": "footway"}, True),
        ({"highway": "residential"}, True),
        ({"highway": "motorway"}, False),
        ({"highway": "trunk"}, False),
        ({"highway": "motorway", "sidewalk": "both"}, True),
        ({"highway": "motorway", "sidewalk": "no"}, False),
        ({"highway": "trunk", "foot": "yes"}, True),
        ({"highway": "residential", "foot": "no"}, False),
        ({"highway": "residential", "access": "private"}, False),
        ({"highway": "residential", "access": "private", "foot": "yes"}, True),
        ({"highway": "footway", "area": "yes"}, False),
        ({"highway": "construction"}, False),
        ({"building": "yes"}, False),
    ],
)
def test_walk_rules(tags: dict[str, str], walkable: bool) -> None:
    assert load_walk_rules().is_walkable(tags) is walkable


def test_osm_reader_applies_walk_rules(tmp_path: Path) -> None:
    # A star: every way runs from the shared centre node 1 to its own end node.
    tagged = {
        10: {"highway": "footway"},
        11: {"highway": "motorway"},
        12: {"highway": "motorway", "sidewalk": "both"},
        13: {"highway": "trunk", "foot": "yes"},
        14: {"highway": "trunk"},
        15: {"highway": "residential", "foot": "no"},
        16: {"highway": "residential", "access": "private"},
        17: {"highway": "residential", "access": "private", "foot": "yes"},
        18: {"highway": "footway", "area": "yes"},
        19: {"highway": "construction"},
        20: {"highway": "cycleway"},
        21: {"highway": "motorway", "sidewalk": "no"},
        22: {"building": "yes"},
    }
    nodes = {1: (118.78, 32.04)}
    ways = []
    for k, (way_id, tags) in enumerate(tagged.items()):
        nodes[100 + k] = (118.78 + 0.001 * np.cos(k), 32.04 + 0.001 * np.sin(k))
        ways.append((way_id, [1, 100 + k], tags))
    path = write_osm(tmp_path / "star.osm", nodes, ways)
    net = load_network(path)
    check_contract(net)
    assert set(net.edges["osmid"]) == {10, 12, 13, 17, 20}
    assert net.n_nodes == 6
    assert 1 in set(net.nodes["osmid"])


def test_no_motorway_edge_without_foot_permission_in_shenzhen() -> None:
    path = shared_file("cn_shenzhen_longgang.osm")
    rules = load_walk_rules()
    motorway_ids: set[int] = set()
    permitted_ids: set[int] = set()
    n_motorway = 0
    for way in osmium.FileProcessor(str(path), osmium.osm.WAY):
        tags = dict(way.tags)
        n_motorway += tags.get("highway") == "motorway"
        if tags.get("highway") in ("motorway", "motorway_link", "trunk", "trunk_link"):
            motorway_ids.add(way.id)
            if tags.get("foot") in rules.foot_permitted_values or any(
                tags.get(k, "no") not in rules.no_sidewalk_values for k in rules.sidewalk_keys
            ):
                permitted_ids.add(way.id)
    assert n_motorway == 38  # as SOURCES.md counts
    net = load_real("cn_shenzhen_longgang.osm")
    used = set(net.edges["osmid"]) | set(net.island_edges["osmid"])
    assert not (motorway_ids - permitted_ids) & used
    motorway_like = net.edges["highway"].str.startswith(("motorway", "trunk"))
    assert set(net.edges.loc[motorway_like, "osmid"]) <= permitted_ids
    assert {"footway", "steps", "cycleway"} <= set(net.edges["highway"])


# --------------------------------------------------------------------------- road lines


CROSS = [plan_line((0, 0), (100, 0)), plan_line((50, -50), (50, 50))]


@pytest.mark.parametrize("kind", ["gpkg", "geojson", "shp", "zip"])
def test_two_crossing_lines_make_five_nodes_four_edges(tmp_path: Path, kind: str) -> None:
    path = write_plan(line_frame(CROSS, highway=["primary", "footway"]), tmp_path, kind)
    for net in (read_road_lines(path), load_network(path)):
        check_contract(net)
        assert (net.n_nodes, net.n_edges, net.n_components) == (5, 4, 1)
        np.testing.assert_allclose(
            net.edges["length_m"], 50.0, atol=1e-3 if kind != "gpkg" else 1e-9
        )
        assert sorted(net.edges["highway"]) == ["footway", "footway", "primary", "primary"]
        assert (net.edges["osmid"] == -1).all()
        assert (net.nodes["osmid"] == -1).all()
        assert np.bincount(np.r_[net.edges["u"], net.edges["v"]]).max() == 4
        assert net.crs.to_epsg() == 32650


@pytest.mark.parametrize("kind", ["gpkg", "geojson", "zip"])
def test_ends_0_2_m_apart_are_joined(tmp_path: Path, kind: str) -> None:
    lines = [plan_line((0, 0), (100, 0)), plan_line((100.2, 0), (200, 0))]
    path = write_plan(line_frame(lines), tmp_path, kind)
    net = read_road_lines(path)
    check_contract(net)
    assert (net.n_nodes, net.n_edges, net.n_components) == (3, 2, 1)
    assert total_length_m(net) == pytest.approx(200.0, abs=1e-3)


def test_ends_further_apart_than_the_tolerance_stay_apart() -> None:
    lines = [plan_line((0, 0), (100, 0)), plan_line((100.2, 0), (150, 0))]
    net = load_with_islands(
        lambda: network_from_lines(line_frame(lines), source="plan", snap_tolerance_m=0.1)
    )
    assert (net.n_nodes, net.n_edges, net.n_components) == (2, 1, 2)
    assert len(net.island_edges) == 1


@pytest.mark.parametrize(
    "stem_end_y",
    [0.0, 0.3, -0.3],
    ids=["exact", "0.3 m short", "0.3 m over"],
)
def test_t_junction(stem_end_y: float) -> None:
    lines = [plan_line((0, 0), (100, 0)), plan_line((40, 60), (40, stem_end_y))]
    net = network_from_lines(line_frame(lines), source="plan")
    check_contract(net)
    assert (net.n_nodes, net.n_edges) == (4, 3)
    degree = np.bincount(np.r_[net.edges["u"], net.edges["v"]])
    assert sorted(degree) == [1, 1, 1, 3]
    junction = net.nodes.geometry.iloc[int(np.argmax(degree))]
    assert junction.distance(Point(X0 + 40, Y0)) < 1e-9
    assert sorted(np.round(net.edges["length_m"], 6)) == [40.0, 60.0, 60.0]


def test_t_junction_in_a_file(tmp_path: Path) -> None:
    lines = [plan_line((0, 0), (50, 0), (100, 0)), plan_line((40, 60), (40, 0.2))]
    path = write_plan(line_frame(lines, road_class=["main", "branch"]), tmp_path, "gpkg")
    net = read_road_lines(path)
    assert (net.n_nodes, net.n_edges) == (4, 3)
    assert sorted(net.edges["highway"]) == ["branch", "main", "main"]


def test_multilinestrings_are_exploded_and_z_dropped() -> None:
    multi = MultiLineString(
        [[(X0, Y0, 5.0), (X0 + 100, Y0, 5.0)], [(X0 + 100, Y0, 5.0), (X0 + 100, Y0 + 100, 5.0)]]
    )
    net = network_from_lines(line_frame([multi], type=["local"]), source="plan")
    assert (net.n_nodes, net.n_edges) == (3, 2)
    assert not net.edges.geometry.has_z.any()
    assert list(net.edges["highway"]) == ["local", "local"]


def test_walkable_column_drops_lines(tmp_path: Path) -> None:
    lines = [plan_line((0, 0), (100, 0)), plan_line((100, 0), (200, 0)), plan_line((0, 0), (0, 80))]
    frame = line_frame(lines, highway=["road", "expressway", "path"], walkable=[1, 0, 1])
    path = write_plan(frame, tmp_path, "gpkg")
    net = read_road_lines(path)
    assert sorted(net.edges["highway"]) == ["path", "road"]
    assert total_length_m(net) == pytest.approx(180.0)
    as_text = line_frame(lines, walkable=["yes", "no", None])
    assert network_from_lines(as_text, source="plan").n_edges == 2


def test_walkable_column_with_other_values_is_an_error() -> None:
    frame = line_frame(CROSS, walkable=["maybe", 1])
    with pytest.raises(InputError, match=r"(?s)'walkable'.*1 feature.*feature 1 has 'maybe'"):
        network_from_lines(frame, source="plan")
    chinese = assert_chinese(excinfo_of(network_from_lines, frame), "maybe", "walkable")
    assert "第 1 个要素为 'maybe'" in chinese
    many = line_frame([plan_line((0, i), (100, i)) for i in range(12)], walkable=[7] * 12)
    with pytest.raises(InputError) as excinfo:
        network_from_lines(many, source="plan")
    text = str(excinfo.value)
    assert "12 feature(s) hold other values" in text
    assert "feature 10 has 7" in text
    assert "feature 11" not in text
    assert "and 2 more problem(s)" in text
    chinese = assert_chinese(excinfo.value, "walkable")
    assert "有 12 个要素的值不符" in chinese
    assert "另有 2 个" in chinese


def excinfo_of(load: Callable[..., Any], *args: Any) -> BaseException:
    """The error ``load(*args, source="plan")`` raises."""
    with pytest.raises(InputError) as excinfo:
        load(*args, source="plan")
    return excinfo.value


def test_missing_crs_is_an_error(tmp_path: Path) -> None:
    frame = line_frame(CROSS, crs=None)
    with pytest.raises(CRSError, match=r"plan\.gpkg.*no coordinate reference system.*set_crs") as e:
        network_from_lines(frame, source="plan.gpkg")
    assert "道路中心线没有坐标参考系（CRS）" in assert_chinese(e.value)
    folder = tmp_path / "shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        archive = write_zipped_shapefile(line_frame(CROSS, crs=None), folder, "no_prj")
    assert not (folder / "no_prj.prj").exists()
    with pytest.raises(CRSError, match=r"no_prj\.zip.*no coordinate reference system.*\.prj") as e:
        load_network(archive)
    assert ".prj 文件" in assert_chinese(e.value)


def test_wrong_crs_is_an_error() -> None:
    frame = line_frame(CROSS, crs="EPSG:4326")  # metres labelled as degrees
    with pytest.raises(CRSError, match=r"plan: .*EPSG:4326.*probably wrong") as excinfo:
        network_from_lines(frame, source="plan")
    assert "（EPSG:4326）读取时" in assert_chinese(excinfo.value)


def test_non_line_features_are_named(tmp_path: Path) -> None:
    polygon = Polygon([(X0, Y0), (X0 + 10, Y0), (X0 + 10, Y0 + 10)])
    frame = line_frame([CROSS[0], polygon, Point(X0, Y0)])
    path = tmp_path / "mixed.gpkg"
    frame.to_file(path, engine="pyogrio", geometry_type="Unknown")
    with pytest.raises(
        InputError,
        match=r"(?s)mixed\.gpkg.*2 feature.*feature 2 is a Polygon\n.*feature 3 is a Point",
    ) as excinfo:
        read_road_lines(path)
    chinese = assert_chinese(excinfo.value)
    assert "有 2 个要素不是" in chinese
    assert "第 2 个要素是 Polygon" in chinese
    assert "第 3 个要素是 Point" in chinese


def test_features_without_geometry_are_skipped_with_a_warning() -> None:
    frame = line_frame([CROSS[0], None, CROSS[1]])
    with pytest.warns(UserWarning, match=r"1 feature\(s\) without geometry.*feature 2\)"):
        net = network_from_lines(frame, source="plan")
    assert net.n_edges == 4


def test_empty_layer_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(InputError, match=r"empty\.geojson.*no road line") as excinfo:
        load_network(path)
    assert "图层中没有道路线" in assert_chinese(excinfo.value)


def test_road_lines_with_nothing_to_walk_on(tmp_path: Path) -> None:
    path = write_plan(line_frame(CROSS, walkable=[0, 0]), tmp_path, "gpkg")
    with pytest.raises(InputError, match=r"plan\.gpkg: no walkable road line") as excinfo:
        load_network(path)
    assert "没有可步行的道路线" in assert_chinese(excinfo.value)
    dot = line_frame([LineString([(X0, Y0), (X0, Y0)])])
    with pytest.raises(InputError, match="every road line has zero length") as excinfo:
        network_from_lines(dot, source="plan")
    assert "所有道路线的长度均为零" in assert_chinese(excinfo.value)


def test_zip_without_shapefile_is_an_error(tmp_path: Path) -> None:
    archive = tmp_path / "roads.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("readme.txt", "no shapefile here")
    with pytest.raises(InputError, match=r"roads\.zip.*holds no Shapefile"):
        load_network(archive)
    (tmp_path / "broken.zip").write_text("not a zip")
    with pytest.raises(InputError, match="not a valid zip archive"):
        load_network(tmp_path / "broken.zip")


def test_geopackage_layers(tmp_path: Path) -> None:
    path = tmp_path / "plan.gpkg"
    line_frame(CROSS).to_file(path, layer="roads", engine="pyogrio")
    line_frame([Point(X0, Y0)]).to_file(path, layer="schools", engine="pyogrio")
    assert read_road_lines(path).n_edges == 4  # the only line layer is chosen
    line_frame(CROSS[:1]).to_file(path, layer="paths", engine="pyogrio")
    with pytest.raises(InputError, match=r"3 layers .*choose the road lines layer"):
        read_road_lines(path)
    assert load_network(path, layer="paths").n_edges == 1
    with pytest.raises(InputError, match=r"no layer 'streets'.*roads"):
        load_network(path, layer="streets")


def test_bad_snap_tolerance_is_an_error() -> None:
    with pytest.raises(InputError, match=r"snap_tolerance_m must be .*>= 0 metres, got -1") as e:
        network_from_lines(line_frame(CROSS), source="plan", snap_tolerance_m=-1.0)
    assert "不小于 0 米" in assert_chinese(e.value)


def test_plan_in_wgs84_is_projected_to_utm() -> None:
    frame = line_frame(CROSS).to_crs(4326)
    net = network_from_lines(frame, source="plan", crs="cgcs2000")
    assert net.crs.to_epsg() == 4549  # CM 120E: Nanjing (118.8E) is in zone 40
    assert (net.n_nodes, net.n_edges) == (5, 4)


def test_nearly_collinear_lines_are_noded_robustly() -> None:
    # Found by hypothesis: after snapping, floating-point noding of these does not converge.
    lines = [
        plan_line((0, 20), (46, 42)),
        plan_line((0, 20), (46, 42)),
        plan_line((45, 42), (0, 0)),
    ]
    net = network_from_lines(line_frame(lines), source="plan")
    check_contract(net)
    assert net.n_components == 1
    snapped_end = lines[0].interpolate(lines[0].project(Point(X0 + 45, Y0 + 42)))
    expected = lines[0].length + Point(X0, Y0).distance(snapped_end)
    assert total_length_m(net) == pytest.approx(expected, abs=1e-5)


segment_coordinate = st.integers(min_value=0, max_value=60).map(float)
segment_strategy = st.tuples(
    segment_coordinate, segment_coordinate, segment_coordinate, segment_coordinate
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(segment_strategy, min_size=1, max_size=6))
def test_noding_keeps_the_total_length(segments: list[tuple[float, float, float, float]]) -> None:
    lines = [plan_line((x1, y1), (x2, y2)) for x1, y1, x2, y2 in segments if (x1, y1) != (x2, y2)]
    if not lines:
        with pytest.raises(InputError, match="zero length"):
            network_from_lines(line_frame([plan_line((1, 1), (1, 1))]), source="plan")
        return
    noded_length = shapely.node(shapely.multilinestrings(lines)).length
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # random lines often have islands
        net = network_from_lines(line_frame(lines), source="plan", crs=UTM50, snap_tolerance_m=0)
    check_contract(net)
    assert total_length_m(net) == pytest.approx(noded_length, rel=1e-6)
    assert (net.island_edges["length_m"] > 0).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(segment_strategy, min_size=1, max_size=6))
def test_snapping_only_joins(segments: list[tuple[float, float, float, float]]) -> None:
    # On a 1 m grid, distinct ends are too far apart to be joined with each other, so
    # ends only move (by <= 0.5 m) onto lines passing close by.
    lines = [plan_line((x1, y1), (x2, y2)) for x1, y1, x2, y2 in segments if (x1, y1) != (x2, y2)]
    if not lines:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        net = network_from_lines(line_frame(lines), source="plan", crs=UTM50)
    check_contract(net)
    # Moving an end by <= 0.5 m, and the kink where it lands, add < 1.5 m per end;
    # overlaps count once.
    assert total_length_m(net) <= sum(line.length for line in lines) + 2 * 1.5 * len(lines)
    # Distinct nodes are further apart than the merge distance of noded ends.
    node_xy = shapely.get_coordinates(net.nodes.geometry.to_numpy())
    if len(node_xy) > 1:
        assert pdist(node_xy).min() > network_module._NODE_MERGE_M


# --------------------------------------------------------------------------- GraphML


@pytest.fixture(scope="module")
def nanjing_graph() -> Any:
    path = shared_file("cn_nanjing_xinjiekou.osm")
    return ox.graph_from_xml(path, simplify=True, retain_all=False)


@pytest.fixture(scope="module")
def nanjing_graphml(nanjing_graph: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("graphml") / "nanjing.graphml"
    ox.io.save_graphml(nanjing_graph, path)
    return path


def test_graphml_from_osmnx_loads(nanjing_graph: Any, nanjing_graphml: Path) -> None:
    net = load_with_islands(lambda: load_network(nanjing_graphml))
    check_contract(net)
    assert net.crs.to_epsg() == 32650
    assert (net.n_nodes, net.n_edges, net.n_components) == (628, 830, 3)
    assert set(net.nodes["osmid"]) <= set(nanjing_graph.nodes)
    assert net.nodes["osmid"].is_unique

    # One segment per street: no two edges join the same nodes along the same line.
    keys = set()
    for u, v, line in zip(net.edges["u"], net.edges["v"], net.edges.geometry, strict=True):
        coords = np.round(shapely.get_coordinates(line), 6)
        forward, backward = coords.tobytes(), coords[::-1].tobytes()
        key = (u, v, forward) if u <= v else (v, u, backward)
        assert key not in keys
        keys.add(key)

    # Roughly half the directed length of the walkable edges (oneway edges count once).
    rules = load_walk_rules()
    directed_m = sum(
        data["length"]
        for _, _, data in nanjing_graph.edges(data=True)
        if network_module._walkable_highway(data, rules) is not None
    )
    assert 0.5 <= total_length_m(net) / directed_m <= 0.55
    # And close to the OSM reader's main component (retain_all=False dropped the pieces
    # not tied to it by any way).
    from_osm = load_real("cn_nanjing_xinjiekou.osm")
    assert total_length_m(net) == pytest.approx(from_osm.edges["length_m"].sum(), rel=0.01)


def test_graphml_keeps_parallel_streets_and_drops_reverse_edges(tmp_path: Path) -> None:
    # Two ways between nodes 1 and 3 along different lines (a lens), plus two tails.
    nodes = {
        1: (118.780, 32.040),
        2: (118.781, 32.041),
        3: (118.782, 32.040),
        4: (118.781, 32.039),
        5: (118.784, 32.040),
        6: (118.778, 32.040),
    }
    nodes[7] = (118.782, 32.042)
    ways = [
        (10, [1, 2, 3], {"highway": "residential"}),
        (11, [1, 4, 3], {"highway": "footway"}),
        (12, [3, 5], {"highway": "footway"}),
        (13, [6, 1], {"highway": "service", "oneway": "yes"}),
        (14, [3, 7], {"barrier": "wall"}),
    ]
    osm = write_osm(tmp_path / "lens.osm", nodes, ways)
    graph = ox.graph_from_xml(osm, simplify=True, retain_all=True)
    assert graph.number_of_edges() == 9  # 2x3 two-way streets, 1 oneway, 2 wall edges
    path = tmp_path / "lens.graphml"
    ox.io.save_graphml(graph, path)
    net = read_graphml_network(path)
    check_contract(net)
    assert (net.n_nodes, net.n_edges) == (4, 4)
    assert sorted(net.edges["osmid"]) == [10, 11, 12, 13]
    osmid = net.nodes["osmid"].to_numpy()
    pairs = {tuple(sorted(p)) for p in osmid[net.edges[["u", "v"]].to_numpy()].tolist()}
    assert pairs == {(1, 3), (3, 5), (1, 6)}
    assert total_length_m(net) == pytest.approx(total_length_m(read_osm_network(osm)), rel=1e-9)


def test_graph_with_projected_crs_and_no_highway_tags() -> None:
    path = shared_file("us_west_oakland.osm.bz2")
    graph = ox.project_graph(ox.graph_from_xml(path, simplify=True, retain_all=False))
    for _, _, data in graph.edges(data=True):
        data.pop("highway", None)
    net = network_from_graph(graph, source="oakland", crs="auto")
    check_contract(net)
    assert net.crs.to_epsg() == 32610
    assert (net.edges["highway"] == "").all()


def test_graphml_errors(tmp_path: Path, nanjing_graphml: Path) -> None:
    hello = tmp_path / "hello.graphml"
    hello.write_text("hello")
    with pytest.raises(InputError, match=r"hello\.graphml: not a readable osmnx GraphML") as e:
        load_network(hello)
    assert "hello.graphml：不是可读取的 osmnx GraphML 文件" in assert_chinese(e.value)
    truncated = tmp_path / "truncated.graphml"
    text = nanjing_graphml.read_text(encoding="utf-8")
    truncated.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(InputError, match=r"truncated\.graphml: not a readable.*save_graphml") as e:
        load_network(truncated)
    assert "osmnx.save_graphml" in assert_chinese(e.value)
    plain = tmp_path / "plain.graphml"
    plain.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
        '  <graph edgedefault="directed">\n'
        '    <node id="1"/><node id="2"/><edge source="1" target="2"/>\n'
        "  </graph>\n</graphml>\n"
    )
    with pytest.raises(InputError, match=r"plain\.graphml: the graph has no 'crs'") as e:
        load_network(plain)
    assert "不是 osmnx 生成的图" in assert_chinese(e.value)
    with pytest.raises(InputError, match="GraphML file not found") as e:
        read_graphml_network(tmp_path / "absent.graphml")
    assert "absent.graphml：找不到路网文件（GraphML）" in assert_chinese(e.value)
    without_xy = tmp_path / "without_xy.graphml"
    without_xy.write_text(
        plain.read_text().replace(
            '<graph edgedefault="directed">',
            '<key id="d0" for="graph" attr.name="crs" attr.type="string"/>\n'
            '  <graph edgedefault="directed"><data key="d0">epsg:4326</data>',
        )
    )
    with pytest.raises(
        InputError, match=r"without_xy\.graphml: node 1 has no numeric 'x'/'y'"
    ) as e:
        load_network(without_xy)
    assert "节点 1 没有数值型的 x/y 坐标" in assert_chinese(e.value)
    bad_crs = tmp_path / "bad_crs.graphml"
    bad_crs.write_text(without_xy.read_text().replace("epsg:4326", "Nanjing local grid"))
    with pytest.raises(
        CRSError, match=r"bad_crs\.graphml: the graph's crs 'Nanjing local grid'"
    ) as e:
        load_network(bad_crs)
    assert "图的坐标系 'Nanjing local grid' 不是已知的坐标系" in assert_chinese(
        e.value, "Nanjing local grid"
    )


def two_node_graph(**edge: Any) -> Any:
    """An osmnx-like graph of two nodes 100 m apart in Nanjing and one edge between them."""
    import networkx as nx

    graph: Any = nx.MultiDiGraph(crs=UTM50)
    graph.add_node(1, x=X0, y=Y0)
    graph.add_node(2, x=X0 + 100.0, y=Y0)
    graph.add_edge(1, 2, **edge)
    return graph


def test_graph_edge_errors() -> None:
    with pytest.raises(InputError, match=r"g: the graph holds no walkable street edge") as e:
        network_from_graph(two_node_graph(highway="motorway"), source="g")
    assert "network_type='walk'" in assert_chinese(e.value)
    broken = two_node_graph(highway="footway", geometry="LINESTRING (1 2,")
    with pytest.raises(InputError, match=r"g: an edge geometry is not valid WKT") as e:
        network_from_graph(broken, source="g")
    assert "有一条边的几何不是有效的 WKT 文本" in assert_chinese(e.value)
    point = two_node_graph(highway="footway", geometry=Point(X0, Y0))
    with pytest.raises(InputError, match=r"g: an edge geometry is a Point, not a LineString") as e:
        network_from_graph(point, source="g")
    assert "有一条边的几何是 Point，而不是 LineString" in assert_chinese(e.value)


# --------------------------------------------------------------------------- online


@pytest.mark.parametrize(
    ("bbox", "message"),
    [
        ((118.80, 32.02, 118.76, 32.05), "west 118.8 is not less than east"),
        ((118.76, 32.05, 118.80, 32.05), "south 32.05 is not less than north"),
        ((190.0, 32.02, 195.0, 32.05), "longitudes .* outside -180..180"),
        ((118.76, -95.0, 118.80, 32.05), "latitudes .* outside -90..90"),
        ((118.76, 32.02, 118.80), "not four finite numbers"),
        ((118.76, float("nan"), 118.80, 32.05), "not four finite numbers"),
        (("west", 32.02, 118.80, 32.05), "not four numbers"),
    ],
)
def test_online_bbox_is_validated(bbox: Any, message: str) -> None:
    with pytest.raises(InputError, match=f"{message}.*WGS-84 degrees") as excinfo:
        load_network_online(bbox=bbox)
    assert "bbox=(西, 南, 东, 北)" in assert_chinese(excinfo.value, repr(bbox))


def test_online_needs_exactly_one_of_place_and_bbox() -> None:
    with pytest.raises(InputError, match="either place"):
        load_network_online()
    with pytest.raises(InputError, match="either place") as excinfo:
        load_network_online(place="Nanjing", bbox=(118.76, 32.02, 118.80, 32.05))
    assert "二者之一" in assert_chinese(excinfo.value)
    with pytest.raises(InputError, match="place is empty") as excinfo:
        load_network_online(place="  ")
    assert "地名为空" in assert_chinese(excinfo.value)


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(urllib.request, "getproxies", dict)


@pytest.mark.usefixtures("no_proxy")
def test_online_without_internet_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*args: Any, **kwargs: Any) -> socket.socket:
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(ox, "graph_from_bbox", pytest.fail)  # must not be reached
    started = time.perf_counter()
    with pytest.raises(
        NetworkUnavailableError,
        match=r"cannot reach the internet \(cannot connect to .*load_network",
    ) as excinfo:
        load_network_online(bbox=(118.76, 32.02, 118.80, 32.05))
    assert time.perf_counter() - started < 2.0
    assert "本机无法连接互联网（无法连接 " in assert_chinese(excinfo.value)


@pytest.mark.usefixtures("no_proxy")
def test_online_connectivity_check_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(*args: Any, **kwargs: Any) -> socket.socket:
        time.sleep(5)
        raise OSError("too late")

    monkeypatch.setattr(socket, "create_connection", hang)
    monkeypatch.setattr(network_module, "_CONNECT_TIMEOUT_S", 0.2)
    started = time.perf_counter()
    with pytest.raises(
        NetworkUnavailableError, match=r"no answer from overpass-api\.de:443 within 0\.2 s"
    ) as excinfo:
        load_network_online(place="Xuanwu, Nanjing, China")
    assert "overpass-api.de:443 在 0.2 秒内没有应答" in assert_chinese(excinfo.value)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "error",
    [
        lambda: importlib.import_module("requests").exceptions.ConnectionError("Max retries"),
        lambda: ConnectionError("connection reset"),
        lambda: TimeoutError("read timed out"),
    ],
)
def test_online_download_connection_error(
    monkeypatch: pytest.MonkeyPatch, error: Callable[[], Exception]
) -> None:
    saved_tags = list(ox.settings.useful_tags_way)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise error()

    monkeypatch.setattr(network_module, "_check_internet", lambda urls: None)
    monkeypatch.setattr(ox, "graph_from_bbox", fail)
    with pytest.raises(NetworkUnavailableError, match="cannot reach the internet") as excinfo:
        load_network_online(bbox=(118.76, 32.02, 118.80, 32.05))
    assert ox.settings.useful_tags_way == saved_tags
    assert "本机无法连接互联网" in assert_chinese(excinfo.value)


def test_online_download_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ox._errors.ResponseStatusCodeError("Overpass returned 429 Too Many Requests")

    monkeypatch.setattr(network_module, "_check_internet", lambda urls: None)
    monkeypatch.setattr(ox, "graph_from_bbox", refuse)
    with pytest.raises(NetworkUnavailableError, match=r"refused the download \(Overpass.*429") as e:
        load_network_online(bbox=(118.76, 32.02, 118.80, 32.05))
    assert "OpenStreetMap 服务器拒绝了下载请求（Overpass returned 429" in assert_chinese(e.value)


def test_online_place_download_is_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    oakland = shared_file("us_west_oakland.osm.bz2")
    seen: dict[str, Any] = {}

    def fake_download(query: str, **kwargs: Any) -> Any:
        seen.update(query=query, tags=list(ox.settings.useful_tags_way), **kwargs)
        return ox.graph_from_xml(oakland, simplify=True, retain_all=True)

    saved_tags = list(ox.settings.useful_tags_way)
    monkeypatch.setattr(network_module, "_check_internet", lambda urls: None)
    monkeypatch.setattr(ox, "graph_from_place", fake_download)
    net = load_with_islands(lambda: load_network_online(place="West Oakland, California"))
    check_contract(net)
    assert seen["query"] == "West Oakland, California"
    assert seen["network_type"] == "walk"
    assert {"foot", "sidewalk", "access"} <= set(seen["tags"])
    assert ox.settings.useful_tags_way == saved_tags
    assert "West Oakland" in net.source
    assert net.crs.to_epsg() == 32610


def test_online_place_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_found(*args: Any, **kwargs: Any) -> None:
        raise ox._errors.InsufficientResponseError("Nominatim geocoder returned 0 results")

    monkeypatch.setattr(network_module, "_check_internet", lambda urls: None)
    monkeypatch.setattr(ox, "graph_from_place", not_found)
    with pytest.raises(InputError, match=r"'Nowhere at all'.*check the place name") as excinfo:
        load_network_online(place="Nowhere at all")
    chinese = assert_chinese(excinfo.value, "Nowhere at all")
    assert "OpenStreetMap 步行路网（osmnx 下载），地名 'Nowhere at all'：未找到任何内容" in chinese


# --------------------------------------------------------------------------- file errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"absent\.osm: network file not found") as excinfo:
        load_network(tmp_path / "absent.osm")
    assert "absent.osm：找不到路网文件" in assert_chinese(excinfo.value)


def test_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"is a folder.*network file") as excinfo:
        load_network(tmp_path)
    assert "这是文件夹而不是文件；请给出路网文件的路径" in assert_chinese(excinfo.value)


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "roads.csv"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(InputError, match=r"unknown network file type '\.csv'.*\.graphml") as e:
        load_network(path)
    assert "未知的路网文件类型 '.csv'" in assert_chinese(e.value)


def test_text_named_osm(tmp_path: Path) -> None:
    path = tmp_path / "hello.osm"
    path.write_text("hello")
    with pytest.raises(InputError, match=r"hello\.osm: not a readable OSM XML/PBF file") as e:
        load_network(path)
    assert "hello.osm：不是可读取的 OSM XML/PBF 文件" in assert_chinese(e.value)


def test_osm_without_highways(tmp_path: Path) -> None:
    nodes = {1: (118.78, 32.04), 2: (118.781, 32.04), 3: (118.781, 32.041)}
    path = write_osm(tmp_path / "buildings.osm", nodes, [(5, [1, 2, 3, 1], {"building": "yes"})])
    with pytest.raises(InputError, match=r"buildings\.osm: no walkable street") as excinfo:
        load_network(path)
    assert "该 OSM 文件中没有可步行的街道" in assert_chinese(excinfo.value)


def test_node_out_of_range(tmp_path: Path) -> None:
    nodes = {1: (118.78, 32.04), 2: (118.781, 95.5)}
    path = write_osm(tmp_path / "bad_node.osm", nodes, [(5, [1, 2], {"highway": "footway"})])
    with pytest.raises(InputError, match=r"bad_node\.osm: a node's coordinates are out") as e:
        load_network(path)
    assert "纬度应在 -90 至 90 度之间" in assert_chinese(e.value)


@pytest.mark.parametrize(
    ("name", "truncated"),
    [
        ("cn_nanjing_xinjiekou.osm", "truncated.osm"),
        ("cn_nanjing_xinjiekou.osm", "truncated.osm.xml"),
        ("us_west_oakland.osm.bz2", "truncated.osm.bz2"),
    ],
)
def test_truncated_osm_xml(tmp_path: Path, name: str, truncated: str) -> None:
    data = shared_file(name).read_bytes()
    path = tmp_path / truncated
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=rf"{truncated}: not a readable OSM XML/PBF file") as e:
        load_network(path)
    assert f"{truncated}：不是可读取的 OSM XML/PBF 文件" in assert_chinese(e.value)


def test_truncated_pbf(tmp_path: Path) -> None:
    data = shared_file("cn_shanghai_center_roads.osm.pbf").read_bytes()
    path = tmp_path / "truncated.osm.pbf"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        InputError, match=r"truncated\.osm\.pbf: not a readable OSM.*PBF error"
    ) as e:
        load_network(path)
    assert "请从 openstreetmap.org、Overpass 或 Geofabrik 重新导出" in assert_chinese(e.value)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_command_line_says_a_corrupt_network_in_one_language(
    lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = shared_file("cn_shanghai_center_roads.osm.pbf").read_bytes()
    path = tmp_path / "truncated.osm.pbf"
    path.write_bytes(data[: len(data) // 2])
    argv = ["reach", "--lang", lang, "--network", str(path), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    error = capsys.readouterr().err
    with pytest.raises(InputError) as excinfo:
        load_network(path)
    library = excinfo.value.args[0].params["reason"]  # osmium's own words
    assert library in error
    if lang == "zh":
        assert error.startswith(f"radius：错误：{path}：不是可读取的 OSM XML/PBF 文件"), error
        allowed = ALLOWED_IN_CHINESE | NETWORK_NAMES | set(english_words(library))
        assert english_words(error, allowed) == [], error
    else:
        assert error.startswith(f"radius: error: {path}: not a readable OSM XML/PBF file"), error
        assert "export the area again" in error
        assert not re.search(r"[\u4e00-\u9fff]", error), error


def test_segments_without_crs_or_length() -> None:
    with pytest.raises(CRSError, match="s: the street lines have no CRS") as no_crs:
        network_module.network_from_segments(line_frame(CROSS, crs=None), source="s")
    assert "街道线没有坐标系（CRS）" in assert_chinese(no_crs.value)
    with pytest.raises(InputError, match="s: no walkable street") as excinfo:
        network_module.network_from_segments(line_frame([]), source="s")
    assert "没有找到可步行的街道" in assert_chinese(excinfo.value)
    dots = line_frame([LineString([(X0, Y0), (X0, Y0)])] * 2)
    with pytest.raises(InputError, match="s: every street segment has zero length") as excinfo:
        network_module.network_from_segments(dots, source="s")
    assert "所有街道路段的长度均为零" in assert_chinese(excinfo.value)


# --------------------------------------------------------------------------- CRS choice


@pytest.mark.parametrize(
    ("lon", "lat", "crs", "epsg"),
    [
        (118.78, 32.04, "auto", 32650),
        (121.47, 31.23, "utm", 32651),
        (151.21, -33.87, "auto", 32756),  # Sydney, southern hemisphere
        (-58.38, -34.60, None, 32721),  # Buenos Aires
        (121.47, 31.23, "cgcs2000", 4549),  # CM 120E
        (116.35, 40.00, "CGCS2000", 4548),  # CM 117E
        (87.6, 43.8, "cgcs2000", 4538),  # Urumqi, CM 87E
        (118.78, 32.04, "EPSG:4549", 4549),  # an explicit CRS must fit the data
        (118.78, 32.04, pyproj.CRS.from_epsg(3857), 3857),
    ],
)
def test_choose_metric_crs(lon: float, lat: float, crs: Any, epsg: int) -> None:
    assert choose_metric_crs(lon, lat, crs).to_epsg() == epsg


@pytest.mark.parametrize(
    ("lon", "crs", "message", "chinese"),
    [
        (118.78, "EPSG:4326", "not a projected CRS in metres", "不是以米为单位的投影坐标系"),
        (118.78, "EPSG:2263", "not a projected CRS in metres", "坐标系 EPSG:2263 不是"),  # feet
        (118.78, "not a crs", "unknown CRS 'not a crs'", "未知的坐标系 'not a crs'"),
        (10.0, "cgcs2000", "longitude 10.000 lies outside the CGCS2000", "经度 10.000 不在"),
        (-122.3, "cgcs2000", "outside the CGCS2000", "请改用 crs='auto'"),
    ],
)
def test_choose_metric_crs_errors(lon: float, crs: str, message: str, chinese: str) -> None:
    with pytest.raises(CRSError, match=message) as excinfo:
        choose_metric_crs(lon, 30.0, crs)
    assert chinese in assert_chinese(excinfo.value, crs)
