"""Properties of the reach engine on random street grids and random facilities (hypothesis)."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from radius.paths import bounded_distances, nearest_and_counts
from radius.snap import build_routing_graph, snap_points
from radius.synthetic import LATTICE_ORIGIN, lattice_network

X0, Y0 = LATTICE_ORIGIN
NETWORK = lattice_network(8, 6, 100.0)
LIMIT_M = 2000.0

points = st.lists(st.tuples(st.floats(-50, 750), st.floats(-50, 550)), min_size=1, max_size=6)


def nearest_field(facilities: list[tuple[float, float]]) -> np.ndarray:
    """Distance (m) from every lattice node to the nearest of the facilities."""
    geoms = np.array([shapely.Point(X0 + x, Y0 + y) for x, y in facilities], dtype=object)
    snapped = snap_points(NETWORK, geoms, max_snap_m=500.0)
    graph = build_routing_graph(NETWORK, snapped)
    matrix = bounded_distances(
        graph,
        graph.set_nodes[0],
        snapped.owner,
        len(facilities),
        LIMIT_M,
        source_offset_m=snapped.access_m,
    )
    nearest, _, _ = nearest_and_counts(matrix, np.array([LIMIT_M]))
    return nearest[: NETWORK.n_nodes]


@settings(max_examples=40, deadline=None)
@given(existing=points, extra=st.tuples(st.floats(-50, 750), st.floats(-50, 550)))
def test_adding_a_facility_never_increases_a_distance(existing, extra):
    before = nearest_field(existing)
    after = nearest_field([*existing, extra])
    assert np.all(after <= before + 1e-9)


@settings(max_examples=40, deadline=None)
@given(facilities=points)
def test_distances_obey_the_triangle_inequality_along_edges(facilities):
    nearest = nearest_field(facilities)
    u = NETWORK.edges["u"].to_numpy()
    v = NETWORK.edges["v"].to_numpy()
    length = NETWORK.edges["length_m"].to_numpy()
    reached = np.isfinite(nearest[u]) & np.isfinite(nearest[v])
    assert np.all(np.abs(nearest[u] - nearest[v])[reached] <= length[reached] + 1e-9)
    # Within the limit a node is reached whenever a neighbour is reached early enough.
    early = np.isfinite(nearest[u]) & (nearest[u] + length <= LIMIT_M)
    assert np.all(np.isfinite(nearest[v][early]))


@settings(max_examples=30, deadline=None)
@given(facilities=points, threshold=st.floats(50, 1500))
def test_counts_are_monotone_in_the_threshold(facilities, threshold):
    geoms = np.array([shapely.Point(X0 + x, Y0 + y) for x, y in facilities], dtype=object)
    snapped = snap_points(NETWORK, geoms, max_snap_m=500.0)
    graph = build_routing_graph(NETWORK, snapped)
    matrix = bounded_distances(
        graph,
        graph.set_nodes[0],
        snapped.owner,
        len(facilities),
        LIMIT_M,
        source_offset_m=snapped.access_m,
    )
    _, _, counts = nearest_and_counts(matrix, np.array([threshold, threshold + 100.0]))
    assert np.all(counts[:, 0] <= counts[:, 1])
    assert counts.max() <= len(facilities)
