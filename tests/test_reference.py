"""Distances checked against an independent networkx computation on every real extract.

The reference builds its own networkx graph from the network's edges, splits each edge at
the same join points (same snapping) itself, and runs ``single_source_dijkstra`` with a
cutoff from a super-source tied to each facility's access points by its access legs.
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import shapely

from radius.network import StreetNetwork, load_network
from radius.paths import bounded_distances, nearest_and_counts
from radius.snap import Snapped, build_routing_graph, snap_points
from tests.conftest import shared_file

EXTRACTS = [
    "cn_nanjing_xinjiekou.osm",
    "cn_beijing_haidian_cau.osm",
    "cn_shenzhen_longgang.osm",
    "us_west_oakland.osm.bz2",
    "fi_helsinki_test_small.osm.pbf",
    pytest.param("fi_helsinki_center.osm.pbf", marks=pytest.mark.slow),
    pytest.param("cn_shanghai_center_roads.osm.pbf", marks=pytest.mark.slow),
]
LIMIT_M = 1000.0
TOLERANCE_M = 0.01


def load_quietly(path: Path) -> StreetNetwork:
    """Load a real extract; its islands warning is expected and checked elsewhere."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return load_network(path)


def random_points(network: StreetNetwork, count: int, seed: int) -> np.ndarray:
    """Points scattered over the network's extent, many of them off the streets."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = network.edges.total_bounds
    return shapely.points(rng.uniform(x0, x1, count), rng.uniform(y0, y1, count))


def reference_graph(network: StreetNetwork, snapped_sets: list[Snapped]) -> nx.MultiGraph:
    """The network as a networkx graph, each edge split at the join points on it."""
    cuts: dict[int, list[tuple[float, object]]] = {}
    for set_index, snapped in enumerate(snapped_sets):
        for k in range(len(snapped)):
            cuts.setdefault(int(snapped.edge[k]), []).append(
                (float(snapped.offset_m[k]), ("join", set_index, k))
            )
    graph: nx.MultiGraph[object] = nx.MultiGraph()
    for edge, (u, v, length) in enumerate(
        zip(network.edges["u"], network.edges["v"], network.edges["length_m"], strict=True)
    ):
        stops: list[tuple[float, object]] = [(0.0, int(u))]
        stops += sorted(cuts.get(edge, []), key=lambda item: item[0])
        stops.append((float(length), int(v)))
        for (a_pos, a), (b_pos, b) in itertools.pairwise(stops):
            graph.add_edge(a, b, weight=b_pos - a_pos)
    return graph


@pytest.mark.parametrize("name", EXTRACTS)
def test_distances_match_networkx_at_every_node(name: str) -> None:
    network = load_quietly(shared_file(name))
    facilities = snap_points(network, random_points(network, 12, seed=1), max_snap_m=300.0)
    demand = snap_points(network, random_points(network, 200, seed=2), max_snap_m=300.0)
    assert len(facilities) >= 3, "too few facilities joined to make a meaningful check"
    graph = build_routing_graph(network, facilities, demand)
    matrix = bounded_distances(
        graph,
        graph.set_nodes[0],
        np.arange(len(facilities)),
        len(facilities),
        LIMIT_M,
        source_offset_m=facilities.access_m,
    )
    reference = reference_graph(network, [facilities, demand])

    nearest_reference = np.full(network.n_nodes, np.inf)
    demand_reference = np.full(len(demand), np.inf)
    checked = 0
    for f in range(len(facilities)):
        reference.add_edge("source", ("join", 0, f), weight=float(facilities.access_m[f]))
        lengths = nx.single_source_dijkstra_path_length(
            reference, "source", cutoff=LIMIT_M, weight="weight"
        )
        reference.remove_node("source")
        mine = matrix.source == f
        ours = dict(zip(matrix.node[mine].tolist(), matrix.distance_m[mine].tolist(), strict=True))
        for key, distance in lengths.items():
            if isinstance(key, int):
                node = key
                nearest_reference[node] = min(nearest_reference[node], distance)
            elif key != "source":
                _, set_index, k = key
                node = int(graph.set_nodes[set_index][k])
                if set_index == 1:
                    demand_reference[k] = min(
                        demand_reference[k], distance + float(demand.access_m[k])
                    )
            else:
                continue
            assert node in ours, f"{name}: node {key} reached by networkx at {distance} m only"
            assert abs(ours[node] - distance) <= TOLERANCE_M
            checked += 1
        reached_reference = sum(1 for k in lengths if k != "source")
        assert mine.sum() == reached_reference, f"{name}: facility {f} reaches other nodes"
    assert checked > 100

    nearest, _, counts = nearest_and_counts(matrix, np.array([500.0, LIMIT_M]))
    finite = np.isfinite(nearest_reference)
    np.testing.assert_array_equal(np.isfinite(nearest[: network.n_nodes]), finite)
    np.testing.assert_allclose(
        nearest[: network.n_nodes][finite], nearest_reference[finite], atol=TOLERANCE_M
    )
    demand_nearest, _, _ = nearest_and_counts(
        matrix,
        np.array([LIMIT_M]),
        nodes=graph.set_nodes[1],
        node_offset_m=demand.access_m,
    )
    within = demand_reference <= LIMIT_M
    np.testing.assert_array_equal(np.isfinite(demand_nearest), within)
    np.testing.assert_allclose(demand_nearest[within], demand_reference[within], atol=TOLERANCE_M)
    assert counts[: network.n_nodes, 1].sum() >= counts[: network.n_nodes, 0].sum()


def test_join_points_are_the_nearest_points_of_the_nearest_edges(nanjing_osm: Path) -> None:
    network = load_quietly(nanjing_osm)
    points = random_points(network, 300, seed=3)
    snapped = snap_points(network, points, max_snap_m=300.0)
    edges = network.edges.geometry.to_numpy()
    # Brute force over all edges for each joined point.
    for k in range(0, len(snapped), 7):
        distances = shapely.distance(edges, snapped.points[k])
        assert snapped.access_m[k] == pytest.approx(distances.min(), abs=1e-6)
        joined = shapely.line_interpolate_point(edges[snapped.edge[k]], snapped.offset_m[k])
        assert shapely.distance(joined, snapped.points[k]) == pytest.approx(
            snapped.access_m[k], abs=1e-6
        )
    # Node snapping would be farther for most points.
    node_tree = shapely.STRtree(network.nodes.geometry.to_numpy())
    _, node_distance = node_tree.query_nearest(snapped.points, return_distance=True)
    assert np.mean(node_distance > snapped.access_m + 1.0) > 0.5
