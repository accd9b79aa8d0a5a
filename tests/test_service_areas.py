"""Service-area polygons: pieces joined into chains give the same area as one band per piece."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import shapely

from radius.network import load_network
from radius.paths import bounded_distances
from radius.service_areas import (
    EdgeCoordinates,
    _chains,
    _union_of_bands,
    reached_lines,
    reached_pieces,
    reached_polygons,
    service_polygons,
)
from radius.snap import build_routing_graph, snap_points
from tests.conftest import shared_file


def chains_of(lines: list[list[tuple[float, float]]], group: list[int]) -> list[np.ndarray]:
    """The chains :func:`_chains` makes of ``lines``, each as its vertex coordinates."""
    n_points = np.array([len(line) for line in lines], dtype=np.int64)
    coords = np.array([xy for line in lines for xy in line], dtype=float)
    line_first = np.concatenate([[0], np.cumsum(n_points)[:-1]]).astype(np.int64)
    vertex, chain_of_vertex, chain_group = _chains(
        coords, line_first, n_points, np.array(group, dtype=np.int64)
    )
    assert np.all(np.diff(chain_group) >= 0), "chains must come in group order"
    assert np.all(np.diff(chain_of_vertex) >= 0)
    return [coords[vertex[chain_of_vertex == k]] for k in range(len(chain_group))]


def test_pieces_of_a_straight_street_join_into_one_line_whatever_their_order():
    # Five 10 m pieces of one street, given shuffled and some reversed.
    pieces = [
        [(20.0, 0.0), (30.0, 0.0)],
        [(10.0, 0.0), (0.0, 0.0)],
        [(40.0, 0.0), (50.0, 0.0)],
        [(20.0, 0.0), (10.0, 0.0)],
        [(40.0, 0.0), (35.0, 0.0), (30.0, 0.0)],
    ]
    (chain,) = chains_of(pieces, [0] * 5)
    xs = chain[:, 0] if chain[0, 0] == 0.0 else chain[::-1, 0]
    assert xs.tolist() == [0.0, 10.0, 20.0, 30.0, 35.0, 40.0, 50.0]
    assert np.all(chain[:, 1] == 0.0)


def test_a_ring_of_pieces_closes_and_keeps_every_vertex():
    angles = np.linspace(0.0, 2.0 * np.pi, 13)[:-1]
    ring = np.column_stack([100.0 * np.cos(angles), 100.0 * np.sin(angles)])
    pieces = [[tuple(ring[k]), tuple(ring[(k + 1) % 12])] for k in range(12)]
    (chain,) = chains_of(pieces, [0] * 12)
    assert len(chain) == 13
    assert np.array_equal(chain[0], chain[-1])
    assert {tuple(xy) for xy in chain} == {tuple(xy) for xy in ring}


def test_sharp_turns_and_other_groups_stay_apart():
    # A straight street through (10, 0) with a side street leaving it at right angles, and
    # a piece of another group continuing the street.
    pieces = [
        [(0.0, 0.0), (10.0, 0.0)],
        [(10.0, 0.0), (20.0, 0.0)],
        [(10.0, 0.0), (10.0, 10.0)],
        [(20.0, 0.0), (30.0, 0.0)],
    ]
    chains = chains_of(pieces, [0, 0, 0, 1])
    as_sets = sorted(sorted(map(tuple, chain)) for chain in chains)
    assert as_sets == [
        [(0.0, 0.0), (10.0, 0.0), (20.0, 0.0)],
        [(10.0, 0.0), (10.0, 10.0)],
        [(20.0, 0.0), (30.0, 0.0)],
    ]


def test_three_way_junction_joins_the_straightest_pair():
    # Through (0, 0), the second piece continues the first with a 20° bend and the third
    # with a 30° bend: both joinable, but only the straighter pair is joined.
    bend = np.radians(20.0)
    side = np.radians(130.0)
    pieces = [
        [(-10.0, 0.0), (0.0, 0.0)],
        [(0.0, 0.0), (10.0 * np.cos(bend), 10.0 * np.sin(bend))],
        [(0.0, 0.0), (10.0 * np.cos(side), -10.0 * np.sin(side))],
    ]
    chains = chains_of(pieces, [0, 0, 0])
    assert sorted(len(chain) for chain in chains) == [2, 3]


def test_bands_are_unioned_by_cluster_into_the_same_valid_polygon():
    # Parallel streets 59 m apart: their 30 m bands overlap by 1 m and must merge; a third
    # street 61 m further on stays apart, and a fourth far away is a cluster of its own.
    lines = shapely.linestrings(
        [
            [(0.0, 0.0), (500.0, 0.0)],
            [(0.0, 59.0), (500.0, 59.0)],
            [(0.0, 120.0), (500.0, 120.0)],
            [(5000.0, 0.0), (5000.0, 400.0)],
            [(5000.0, 400.0), (5300.0, 400.0)],
        ]
    )
    polygon = _union_of_bands(lines, 30.0)
    reference = shapely.union_all(shapely.buffer(lines, 30.0, quad_segs=4))
    assert polygon.is_valid
    assert shapely.get_num_geometries(polygon) == shapely.get_num_geometries(reference) == 3
    assert shapely.symmetric_difference(polygon, reference).area <= 1e-9 * reference.area
    assert _union_of_bands(lines[:1], 30.0).equals(shapely.buffer(lines[0], 30.0, quad_segs=4))


def test_category_polygons_of_separate_catchments_equal_one_union(nanjing_osm: Path) -> None:
    # Twenty sites in one group at 300 m: many catchments, some merging, some apart.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        network = load_network(nanjing_osm)
    rng = np.random.default_rng(5)
    edges = network.edges.geometry.to_numpy()[rng.choice(len(network.edges), 20, replace=False)]
    snapped = snap_points(network, shapely.line_interpolate_point(edges, 0.5, normalized=True))
    graph = build_routing_graph(network, snapped)
    matrix = bounded_distances(graph, graph.set_nodes[0], snapped.owner, 20, 300.0)
    pieces = reached_pieces(graph, matrix, np.array([300.0]))
    coordinates = EdgeCoordinates.of(network)
    (polygon,) = reached_polygons(
        coordinates, pieces, np.zeros(len(pieces.edge), np.int64), 1, buffer_m=30.0
    )
    lines = reached_lines(coordinates, pieces)
    reference = shapely.union_all(shapely.buffer(lines, 30.0, quad_segs=4))
    assert shapely.get_num_geometries(reference) > 1
    assert polygon.is_valid
    assert shapely.get_num_geometries(polygon) == shapely.get_num_geometries(reference)
    assert shapely.symmetric_difference(polygon, reference).area <= 1e-4 * reference.area


@pytest.mark.parametrize("name", ["cn_nanjing_xinjiekou.osm", "us_west_oakland.osm.bz2"])
def test_polygons_from_chains_equal_the_union_of_one_band_per_piece(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        network = load_network(shared_file(name))
    rng = np.random.default_rng(3)
    edges = network.edges.geometry.to_numpy()[rng.choice(len(network.edges), 6, replace=False)]
    sites = shapely.line_interpolate_point(edges, 0.5, normalized=True)
    snapped = snap_points(network, sites)
    graph = build_routing_graph(network, snapped)
    thresholds = np.array([300.0, 800.0])
    matrix = bounded_distances(graph, graph.set_nodes[0], snapped.owner, len(sites), 800.0)
    pieces = reached_pieces(graph, matrix, thresholds)
    group = pieces.source * len(thresholds) + pieces.threshold
    n_groups = len(sites) * len(thresholds)
    coordinates = EdgeCoordinates.of(network)

    joined = reached_polygons(coordinates, pieces, group, n_groups, buffer_m=30.0)
    from_lines = service_polygons(
        reached_lines(coordinates, pieces), group, n_groups, buffer_m=30.0
    )
    # The reference: a band around every piece, unioned group by group, without chains.
    lines = reached_lines(coordinates, pieces)
    one_band_each = np.array(
        [
            shapely.union_all(shapely.buffer(lines[group == k], 30.0, quad_segs=4))
            for k in range(n_groups)
        ],
        dtype=object,
    )

    area = shapely.area(one_band_each)
    assert np.all(area > 0.0)
    difference = shapely.area(shapely.symmetric_difference(joined, one_band_each))
    # Only the arcs' polygonal approximation at the joins differs: square metres in
    # hundreds of thousands.
    assert np.all(difference <= 1e-4 * area)
    assert np.all(shapely.is_valid(joined))
    assert np.allclose(shapely.area(from_lines), shapely.area(joined), rtol=1e-9)

    # A finishing step (``radius reach``: the reprojection to WGS-84) runs on each union's
    # thread as it ends; the polygons are exactly those of applying it afterwards.
    def moved(polygon: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(polygon, lambda xy: xy * 0.5 + 7.0)

    finished = reached_polygons(
        coordinates, pieces, group, n_groups, buffer_m=30.0, threads=2, finish=moved
    )
    assert all(
        shapely.equals_exact(got, moved(polygon), tolerance=0.0)
        for got, polygon in zip(finished, joined, strict=True)
    )


def test_category_polygons_equal_the_union_of_the_facilities_polygons(
    nanjing_osm: Path,
) -> None:
    # A category's polygon is built from its nearest-facility field, each reached piece
    # once; it must cover what the facilities' own polygons cover together.
    from radius.pipeline import ReachConfig, facility_service_areas, run_reach

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = run_reach(ReachConfig(network=nanjing_osm, categories=("supermarket", "fitness")))
        asked = run_reach(
            ReachConfig(network=nanjing_osm, categories=("fitness",), facility_areas=True)
        )
    assert set(result.service_areas["level"]) == {"category"}
    facility = facility_service_areas(result).to_crs(result.network.crs)
    assert set(facility["level"]) == {"facility"}
    assert len(facility) == sum(
        len(r.facility_rows) * len(r.thresholds_m) for r in result.categories
    )
    category = result.service_areas.to_crs(result.network.crs)
    for (cid, label), rows in facility.groupby(["category", "threshold"]):
        union = shapely.union_all(rows.geometry.to_numpy())
        (polygon,) = category[
            (category["category"] == cid) & (category["threshold"] == label)
        ].geometry.to_numpy()
        area = shapely.area(polygon)
        assert area > 0.0
        assert shapely.area(shapely.symmetric_difference(polygon, union)) <= 1e-3 * area
    # Asked for in the run, the facilities' polygons are the same as on demand.
    from_run = asked.service_areas[asked.service_areas["level"] == "facility"]
    on_demand = facility_service_areas(asked, ("fitness",))
    assert list(from_run["facility_id"]) == list(on_demand["facility_id"])
    assert np.allclose(
        shapely.area(from_run.geometry.to_numpy()), shapely.area(on_demand.geometry.to_numpy())
    )
