"""The reach engine on graphs with hand-worked answers: snapping, paths, reach, service areas."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from radius.config import Category, Threshold, load_categories
from radius.i18n import Message
from radius.network import network_from_segments
from radius.paths import bounded_distances, nearest_and_counts
from radius.reach import reach_category
from radius.service_areas import EdgeCoordinates, reached_lines, reached_pieces, service_polygons
from radius.snap import build_routing_graph, facility_access_points, snap_points
from radius.synthetic import LATTICE_ORIGIN, lattice_network
from tests.language_checks import english_words

X0, Y0 = LATTICE_ORIGIN


def point(x: float, y: float) -> shapely.Point:
    """A point in lattice coordinates (metres from the lattice origin)."""
    return shapely.Point(X0 + x, Y0 + y)


def category(minutes: tuple[float, ...], metres: tuple[float, ...]) -> Category:
    return Category(
        id="test",
        name_zh="测试",
        name_en="Test",
        thresholds=tuple(
            Threshold(minutes=m, metres=d) for m, d in zip(minutes, metres, strict=True)
        ),
    )


def distances_from(network, points, limit):
    snapped = snap_points(network, np.array(points, dtype=object))
    graph = build_routing_graph(network, snapped)
    matrix = bounded_distances(
        graph,
        graph.set_nodes[0],
        snapped.owner,
        len(points),
        limit,
        source_offset_m=snapped.access_m,
    )
    return snapped, graph, matrix


def test_lattice_corner_facility_gives_manhattan_distances():
    network = lattice_network(10, 10, 100.0)
    _, _, matrix = distances_from(network, [point(0, 0)], 5000.0)
    nearest, source, counts = nearest_and_counts(matrix, np.array([300.0]))
    for i in range(10):
        for j in range(10):
            assert nearest[i * 10 + j] == pytest.approx(100.0 * (i + j), abs=1e-9)
    assert set(source[: network.n_nodes]) == {0}
    # Nodes with i + j <= 3 are within 300 m: 1 + 2 + 3 + 4 = 10 of them.
    assert int(counts[: network.n_nodes, 0].sum()) == 10


def test_facility_in_the_middle_of_an_edge():
    network = lattice_network(10, 10, 100.0)
    # Halfway between nodes (4, 4) and (5, 4), on the street.
    _, _, matrix = distances_from(network, [point(450, 400)], 5000.0)
    nearest, _, _ = nearest_and_counts(matrix, np.array([1000.0]))
    for i in range(10):
        for j in range(10):
            dx = 4 - i if i <= 4 else i - 5
            expected = 50.0 + 100.0 * (dx + abs(j - 4))
            assert nearest[i * 10 + j] == pytest.approx(expected, abs=1e-9)


def test_access_leg_counts_as_walking_distance():
    network = lattice_network(10, 10, 100.0)
    # 30 m off the street halfway along the edge (2, 0)-(2, 1): joins at (200, 50).
    snapped, _, matrix = distances_from(network, [point(230, 50)], 5000.0)
    assert snapped.access_m[0] == pytest.approx(30.0)
    assert snapped.offset_m[0] == pytest.approx(50.0)
    nearest, _, _ = nearest_and_counts(matrix, np.array([1000.0]))
    assert nearest[2 * 10 + 0] == pytest.approx(80.0)
    assert nearest[2 * 10 + 1] == pytest.approx(80.0)
    assert nearest[3 * 10 + 1] == pytest.approx(180.0)


def test_snapping_is_to_the_edge_not_the_node():
    network = lattice_network(3, 3, 100.0)
    snapped = snap_points(network, np.array([point(40, 10)], dtype=object))
    # The nearest node (0, 0) is 41 m away, the edge (0,0)-(1,0) only 10 m.
    assert snapped.access_m[0] == pytest.approx(10.0)
    assert snapped.offset_m[0] == pytest.approx(40.0)


def test_point_beyond_max_snap_is_unroutable_with_a_reason():
    network = lattice_network(3, 3, 100.0)
    snapped = snap_points(
        network, np.array([point(50, 0), point(50, 500)], dtype=object), max_snap_m=200.0
    )
    assert list(snapped.owner) == [0]
    assert list(snapped.unroutable["owner"]) == [1]
    reason = snapped.unroutable["reason"].iloc[0]
    assert "maximum snap distance (200 m)" in reason
    assert "300 m away" in reason
    assert snapped.unroutable["nearest_street_m"].iloc[0] == pytest.approx(300.0)
    assert isinstance(reason, Message)  # told in the output's language (#14)
    chinese = reason.text("zh")
    assert chinese.startswith(
        "距路网中任何可步行道路都超过最大连接距离 200 米（最近的道路在 300 米外）"
    )
    assert english_words(chinese) == [], chinese


def test_point_nearest_an_island_says_so():
    lines = [
        shapely.LineString([(X0, Y0), (X0 + 1000, Y0)]),
        shapely.LineString([(X0, Y0 + 500), (X0 + 50, Y0 + 500)]),
    ]
    frame = gpd.GeoDataFrame(
        {"highway": ["residential", "footway"]}, geometry=lines, crs="EPSG:32651"
    )
    with pytest.warns(UserWarning, match="2 disconnected pieces"):
        network = network_from_segments(frame, source="two pieces", crs="EPSG:32651")
    assert network.n_edges == 1
    assert len(network.island_edges) == 1
    snapped = snap_points(network, np.array([point(20, 480)], dtype=object), max_snap_m=200.0)
    reason = snapped.unroutable["reason"].iloc[0]
    assert "disconnected" in reason
    assert isinstance(reason, Message)
    assert reason.text("zh").startswith("最近的道路（20 米外）位于与主路网不连通的路网片段上")
    assert english_words(reason.text("zh")) == []
    empty = snap_points(network, np.array([shapely.Point()], dtype=object), max_snap_m=200.0)
    reason = empty.unroutable["reason"].iloc[0]
    assert reason == "no location (empty or missing geometry)"
    assert isinstance(reason, Message)
    assert reason.text("zh") == "没有位置（几何为空或缺失）"


def test_counts_within_thresholds_from_several_facilities():
    network = lattice_network(10, 10, 100.0)
    facilities = [point(0, 0), point(900, 900), point(400, 400)]
    _, _, matrix = distances_from(network, facilities, 2000.0)
    nearest, _, counts = nearest_and_counts(matrix, np.array([400.0, 1000.0]))
    node = 2 * 10 + 2  # (200, 200): 400 m from (0, 0) and from (400, 400), 1400 m from the third
    assert nearest[node] == pytest.approx(400.0)
    assert counts[node, 0] == 2
    assert counts[node, 1] == 2
    node = 4 * 10 + 4  # 0 m, 800 m and exactly 1000 m: a threshold includes its own value
    assert nearest[node] == 0.0
    assert list(counts[node]) == [1, 3]
    node = 3 * 10 + 3  # 200 m, 600 m and 1200 m
    assert list(counts[node]) == [1, 2]


def test_multiple_entrances_take_the_nearest():
    network = lattice_network(10, 10, 100.0)
    block = shapely.box(X0 + 300, Y0 + 300, X0 + 400, Y0 + 400)
    frame = gpd.GeoDataFrame(
        {
            "facility_id": ["a", "b"],
            "entrances": [
                shapely.MultiPoint([point(300, 350), point(400, 350)]),
                None,
            ],
        },
        geometry=[block, shapely.box(X0 + 610, Y0 + 10, X0 + 690, Y0 + 90)],
        crs="EPSG:32651",
    ).to_crs("EPSG:4326")
    frame["entrances"] = (
        gpd.GeoSeries(
            [shapely.MultiPoint([point(300, 350), point(400, 350)]), None], crs="EPSG:32651"
        )
        .to_crs("EPSG:4326")
        .to_numpy()
    )
    owner, access = facility_access_points(network, frame)
    assert list(owner) == [0, 0, 1]
    xy = shapely.get_coordinates(access)
    assert xy[0] == pytest.approx([X0 + 300, Y0 + 350], abs=1e-6)
    assert xy[1] == pytest.approx([X0 + 400, Y0 + 350], abs=1e-6)
    # The second polygon has no entrance: it joins at its boundary point nearest a street,
    # 10 m from the streets around block (6..7, 0..1).
    snapped = snap_points(network, access, owner=owner, n_owners=2)
    assert snapped.access_m[2] == pytest.approx(10.0, abs=1e-6)


def test_reach_category_minutes_and_metres_basis():
    network = lattice_network(10, 10, 100.0)
    snapped = snap_points(network, np.array([point(0, 0)], dtype=object))
    demand = snap_points(network, np.array([point(310, 20), point(900, 980)], dtype=object))
    graph = build_routing_graph(network, snapped, demand)
    cat = category((5.0, 10.0), (300.0, 500.0))
    kwargs: dict[str, Any] = dict(
        facility_rows=np.array([7]),
        access_nodes=graph.set_nodes[0],
        access_owner=np.zeros(1, dtype=np.int64),
        access_m=snapped.access_m,
        demand_nodes=graph.set_nodes[1],
        demand_access_m=demand.access_m,
    )
    by_time = reach_category(graph, cat, speed_m_s=1.0, basis="time", **kwargs)
    assert list(by_time.thresholds_m) == [300.0, 600.0]
    by_distance = reach_category(graph, cat, speed_m_s=1.0, basis="distance", **kwargs)
    assert list(by_distance.thresholds_m) == [300.0, 500.0]
    # Demand point (310, 20) joins edge (3,0)-(3,1) at 20 m with a 10 m access leg: 330 m.
    assert by_time.demand_nearest_m[0] == pytest.approx(330.0)
    assert list(by_time.demand_counts[0]) == [0, 1]
    assert by_time.demand_nearest_facility[0] == 7
    # The far demand point is beyond the 600 m limit.
    assert np.isinf(by_time.demand_nearest_m[1])
    assert by_time.demand_nearest_facility[1] == -1


def test_service_area_cuts_edges_at_the_exact_remaining_distance():
    network = lattice_network(10, 10, 100.0)
    _, graph, matrix = distances_from(network, [point(450, 400)], 1000.0)
    thresholds = np.array([250.0])
    pieces = reached_pieces(graph, matrix, thresholds)
    lines = reached_lines(EdgeCoordinates.of(network), pieces)
    assert np.allclose(shapely.length(lines), pieces.end_m - pieces.start_m)
    nearest, _, _ = nearest_and_counts(matrix, np.array([1000.0]))

    def network_distance(p: shapely.Point) -> float:
        # Distance of a point on a lattice edge from the nearest facility, via the edge ends.
        edge = int(network.edges.sindex.query(p.buffer(1e-6))[0])
        u, v = network.edges[["u", "v"]].iloc[edge]
        geom = network.edges.geometry.iloc[edge]
        s = geom.project(p)
        return min(nearest[u] + s, nearest[v] + geom.length - s)

    # The reached length, checked by sampling every edge each 0.5 m.
    total = 0.0
    for geom, u, v in zip(
        network.edges.geometry, network.edges["u"], network.edges["v"], strict=True
    ):
        s = np.arange(0.25, geom.length, 0.5)
        d = np.minimum(nearest[u] + s, nearest[v] + geom.length - s)
        # the facility's own edge is split: both halves start at 50 m from the facility
        total += 0.5 * np.count_nonzero(d <= 250.0)
    assert float((pieces.end_m - pieces.start_m).sum()) == pytest.approx(total, abs=1.0)
    # Every cut end lies exactly at the threshold.
    for line in lines:
        for end in (shapely.get_point(line, 0), shapely.get_point(line, -1)):
            d = network_distance(end)
            assert d <= 250.0 + 1e-6
    ends = [shapely.get_point(line, -1) for line in lines] + [
        shapely.get_point(line, 0) for line in lines
    ]
    assert any(abs(network_distance(e) - 250.0) < 1e-6 for e in ends)
    # By hand: node (i, j) is 50 + 100 * (steps to (4,4) or (5,4)) away. An edge is whole
    # within 250 m when its nearer end is at most one step out: the facility's edge, 6
    # edges from (4,4) and (5,4), 14 outward edges from the six one-step nodes and the two
    # edges (4,3)-(5,3) and (4,5)-(5,5): 23 edges of 100 m. Nothing is cut, since the
    # two-step nodes are at exactly 250 m.
    assert float((pieces.end_m - pieces.start_m).sum()) == pytest.approx(2300.0, abs=1e-6)
    pieces_cut = reached_pieces(graph, matrix, np.array([210.0]))
    # At 210 m: 1 + 6 whole edges (700 m), 60 m into each of the 14 outward edges, and the
    # two cross edges whole, reached 60 m from both ends (200 m).
    assert float((pieces_cut.end_m - pieces_cut.start_m).sum()) == pytest.approx(
        700.0 + 14 * 60.0 + 200.0, abs=1e-6
    )


def test_service_polygon_follows_streets_not_a_hull():
    network = lattice_network(10, 10, 100.0)
    _, graph, matrix = distances_from(network, [point(0, 0)], 1000.0)
    pieces = reached_pieces(graph, matrix, np.array([400.0]))
    lines = reached_lines(EdgeCoordinates.of(network), pieces)
    polygon = service_polygons(lines, np.zeros(len(lines), dtype=np.int64), 1, buffer_m=30.0)[0]
    assert polygon.contains(shapely.union_all(lines))
    # The middle of block (1..2, 0..1) lies inside the reached area's hull, 50 m from the
    # nearest street: outside a 30 m band.
    assert shapely.convex_hull(shapely.union_all(lines)).contains(point(150, 50))
    assert not polygon.contains(point(150, 50))
    assert polygon.contains(point(150, 10))


def test_default_categories_have_the_required_ids_and_levels():
    categories = {c.id: c for c in load_categories()}
    expected = {
        "convenience_store": [5],
        "farmers_market": [10],
        "supermarket": [15],
        "fitness": [10, 15],
        "elderly_care": [15],
        "childcare": [5],
        "reading": [15],
        "rehabilitation": [30],
    }
    for cid, minutes in expected.items():
        assert [t.minutes for t in categories[cid].thresholds] == minutes
    assert categories["childcare"].thresholds[0].metres == 300


def test_empty_category_gives_unreached_nodes():
    network = lattice_network(3, 3, 100.0)
    graph = build_routing_graph(network)
    reach = reach_category(
        graph,
        category((5.0,), (300.0,)),
        facility_rows=np.empty(0, dtype=np.int64),
        access_nodes=np.empty(0, dtype=np.int64),
        access_owner=np.empty(0, dtype=np.int64),
        access_m=np.empty(0),
        speed_m_s=1.0,
    )
    assert np.isinf(reach.nearest_m).all()
    assert (reach.counts == 0).all()


def test_cost_matrix_to_sparse_keeps_zero_distances():
    network = lattice_network(3, 3, 100.0)
    _, _, matrix = distances_from(network, [point(0, 0)], 150.0)
    sparse = matrix.to_sparse()
    assert sparse.shape == (1, matrix.n_nodes)
    assert sparse.nnz == len(matrix.node)
    assert float(sparse[0, 0]) - 1.0 == pytest.approx(0.0)
    frame = pd.DataFrame({"node": matrix.node, "d": matrix.distance_m}).set_index("node")
    assert frame.loc[1, "d"] == pytest.approx(100.0)


def test_threshold_metres_must_grow_with_the_minutes():
    with pytest.raises(ValueError, match="threshold metres must grow with the minutes"):
        category((10.0, 15.0), (800.0, 500.0))


def test_snap_answers_each_point_as_alone() -> None:
    # Points are queried in a space-filling-curve order: each answer must be the one the
    # point gets when snapped alone, and unroutable owners (one query for all of them)
    # keep their reason and nearest distance.
    network = lattice_network(30, 30)
    rng = np.random.default_rng(7)
    x0, y0 = LATTICE_ORIGIN
    xy = np.column_stack([x0 + rng.uniform(-300, 3200, 400), y0 + rng.uniform(-300, 3200, 400)])
    points = shapely.points(xy)
    points[5] = None
    owner = np.repeat(np.arange(200), 2)
    together = snap_points(network, points, max_snap_m=30.0, owner=owner, n_owners=201)
    for k in rng.choice(len(points), 40, replace=False):
        alone = snap_points(network, points[k : k + 1], max_snap_m=30.0)
        mine = np.flatnonzero((together.owner == owner[k]) & np.isin(together.points, points[k]))
        if len(alone):
            assert len(mine) == 1
            assert together.edge[mine[0]] == alone.edge[0]
            assert together.offset_m[mine[0]] == alone.offset_m[0]
            assert together.access_m[mine[0]] == alone.access_m[0]
        else:
            assert len(mine) == 0
    assert np.all(np.diff(together.owner) >= 0)  # in the order of the input
    unroutable = together.unroutable.set_index("owner")
    assert 200 in unroutable.index  # an owner without any point
    for o in unroutable.index:
        own = points[owner == o] if o < 200 else np.empty(0, dtype=object)
        own = own[~shapely.is_missing(own)] if len(own) else own
        if len(own) == 0:
            assert unroutable.loc[o, "reason"].startswith("no location")
            continue
        nearest = min(float(network.edges.geometry.distance(p).min()) for p in own)
        assert unroutable.loc[o, "nearest_street_m"] == pytest.approx(nearest, abs=1e-6)
        assert nearest > 30.0
