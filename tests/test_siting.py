"""Siting: covering MILPs against brute force, greedy bounds, candidates, and end to end."""

from __future__ import annotations

import dataclasses
import itertools
import math
import warnings
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy import sparse
from scipy.sparse.csgraph import maximum_flow

from radius._errors import CRSError, InfeasibleError, InputError
from radius.i18n import localize
from radius.paths import CostMatrix, bounded_distances, restrict_to_nodes
from radius.pipeline import AnalyzeConfig, ReachConfig, load_analysis_inputs
from radius.siting import (
    Candidates,
    candidate_distances,
    candidates_from_frame,
    candidates_from_network,
    capacitated_covering,
    coverage_from_costs,
    maximal_covering,
    set_covering,
    site_facilities,
    spacing_conflicts,
)
from radius.snap import build_routing_graph, snap_points
from radius.synthetic import LATTICE_CRS, LATTICE_ORIGIN, lattice_network
from tests.language_checks import ALLOWED_IN_CHINESE, assert_chinese_error

X0, Y0 = LATTICE_ORIGIN
SEEDS = range(12)


# --------------------------------------------------------------------------------------
# Small random instances and brute force
# --------------------------------------------------------------------------------------


def instance(seed: int, n_candidates: int = 10, n_demand: int = 30):
    """Coverage (dense bool), integer demand and 20 % of points already covered."""
    rng = np.random.default_rng(seed)
    coverage = rng.random((n_candidates, n_demand)) < 0.2
    weights = rng.integers(0, 20, n_demand).astype(float)
    covered = rng.random(n_demand) < 0.2
    return coverage, weights, covered


def newly(coverage, weights, covered, chosen) -> float:
    hit = coverage[list(chosen)].any(axis=0) if len(chosen) else np.zeros(len(weights), bool)
    return float(weights[hit & ~covered].sum())


def allowed(chosen, conflicts) -> bool:
    pairs = {tuple(p) for p in conflicts.tolist()}
    return not any((a, b) in pairs for a, b in itertools.combinations(sorted(chosen), 2))


NO_CONFLICTS = np.empty((0, 2), dtype=np.int64)


def brute_max_cover(coverage, weights, covered, k, conflicts=NO_CONFLICTS) -> float:
    return max(
        newly(coverage, weights, covered, combo)
        for size in range(k + 1)
        for combo in itertools.combinations(range(len(coverage)), size)
        if allowed(combo, conflicts)
    )


def brute_set_cover(coverage, weights, covered, conflicts=NO_CONFLICTS) -> int | None:
    target = newly(coverage, weights, covered, range(len(coverage)))
    for size in range(len(coverage) + 1):
        for combo in itertools.combinations(range(len(coverage)), size):
            if allowed(combo, conflicts) and newly(coverage, weights, covered, combo) == target:
                return size
    return None


def max_served(coverage, weights, covered, capacity, chosen) -> int:
    """Most demand the chosen sites can serve, by max flow (integer demand and capacity)."""
    n_c, n_d = coverage.shape
    source, sink = n_c + n_d, n_c + n_d + 1
    arcs = []  # (from, to, capacity): source → site → open point → sink
    for j in chosen:
        arcs.append((source, j, int(capacity[j])))
        arcs.extend((j, n_c + i, int(weights[i])) for i in np.flatnonzero(coverage[j] & ~covered))
    arcs.extend((n_c + i, sink, int(weights[i])) for i in np.flatnonzero(~covered))
    tail, head, caps = (np.array(column, dtype=np.int32) for column in zip(*arcs, strict=True))
    graph = sparse.csr_array((caps, (tail, head)), shape=(sink + 1, sink + 1))
    return int(maximum_flow(graph, source, sink).flow_value)


def random_spacing(seed: int, n: int) -> CostMatrix:
    """Symmetric candidate × candidate distances between 0 and 1,000 m."""
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 1000, (n, n))
    d = np.minimum(d, d.T)
    np.fill_diagonal(d, 0.0)
    a, b = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return CostMatrix(
        source=a.ravel(),
        node=b.ravel(),
        distance_m=d.ravel(),
        n_sources=n,
        n_nodes=n,
        limit_m=1000.0,
    )


# --------------------------------------------------------------------------------------
# Exact solutions equal brute force
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_maximal_covering_milp_equals_brute_force(seed: int) -> None:
    coverage, weights, covered = instance(seed)
    for k in (1, 2, 3):
        solution = maximal_covering(coverage, weights, k, covered=covered, method="milp")
        best = brute_max_cover(coverage, weights, covered, k)
        assert solution.method == "milp"
        assert solution.status == "optimal"
        assert solution.objective == pytest.approx(best, abs=1e-6)
        assert newly(coverage, weights, covered, solution.chosen) == pytest.approx(best)
        assert len(solution.chosen) <= k
        assert solution.gains.sum() == pytest.approx(best)
        assert solution.newly_covered == pytest.approx(best)
        assert solution.gap <= 1e-6
        assert solution.bound >= best - 1e-6


@pytest.mark.parametrize("seed", SEEDS)
def test_set_covering_milp_equals_brute_force(seed: int) -> None:
    coverage, weights, covered = instance(seed)
    solution = set_covering(coverage, weights, covered=covered, method="milp")
    assert solution.status == "optimal"
    assert solution.objective == brute_set_cover(coverage, weights, covered)
    # Every coverable point is covered; the others are listed, not infeasible.
    everything = newly(coverage, weights, covered, range(len(coverage)))
    assert newly(coverage, weights, covered, solution.chosen) == everything
    open_points = ~covered & (weights > 0)
    unreachable = np.flatnonzero(open_points & ~coverage.any(axis=0))
    assert list(solution.uncoverable) == list(unreachable)
    assert solution.covered_after == pytest.approx(weights.sum() - weights[unreachable].sum())


@pytest.mark.parametrize("seed", SEEDS)
def test_capacitated_covering_milp_equals_brute_force(seed: int) -> None:
    coverage, weights, covered = instance(seed)
    capacity = np.random.default_rng(100 + seed).integers(0, 40, len(coverage)).astype(float)
    sites = range(len(coverage))
    for k in (1, 2, 3):
        solution = capacitated_covering(
            coverage, weights, capacity, k, covered=covered, method="milp"
        )
        best = max(
            max_served(coverage, weights, covered, capacity, combo)
            for combo in itertools.combinations(sites, k)
        )
        assert solution.status == "optimal"
        assert solution.objective == pytest.approx(best, abs=1e-5)
        assert len(solution.chosen) <= k
    # Without a count: the fewest sites serving all that every site together can serve.
    fewest = capacitated_covering(coverage, weights, capacity, covered=covered, method="milp")
    most = max_served(coverage, weights, covered, capacity, sites)
    needed = next(
        size
        for size in range(len(coverage) + 1)
        for combo in itertools.combinations(sites, size)
        if max_served(coverage, weights, covered, capacity, combo) == most
    )
    assert fewest.problem == "set_cover"
    assert fewest.objective == needed
    assert fewest.newly_covered == pytest.approx(most, abs=1e-5)


# --------------------------------------------------------------------------------------
# Existing coverage, capacity, spacing
# --------------------------------------------------------------------------------------


def test_already_covered_demand_adds_nothing() -> None:
    # Candidate 0 reaches the big, already covered point; candidate 1 two small open ones.
    coverage = np.array([[1, 1, 0, 0], [0, 0, 1, 1]], dtype=bool)
    weights = np.array([100.0, 5.0, 3.0, 4.0])
    covered = np.array([True, False, False, False])
    solution = maximal_covering(coverage, weights, 1, covered=covered)
    assert list(solution.chosen) == [1]
    assert solution.objective == 7.0
    assert solution.covered_before == 100.0
    assert solution.covered_after == 107.0
    assert solution.served.tolist() == [0.0, 0.0, 3.0, 4.0]
    ignored = maximal_covering(coverage, weights, 1)
    assert list(ignored.chosen) == [0]
    # Set covering needs both candidates only when nothing is covered yet.
    assert set_covering(coverage, weights, covered=[True, True, False, False]).objective == 1
    assert set_covering(coverage, weights).objective == 2


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("method", ["milp", "greedy"])
def test_capacity_is_honoured(seed: int, method: Literal["milp", "greedy"]) -> None:
    coverage, weights, covered = instance(seed)
    capacity = np.random.default_rng(seed).uniform(0, 30, len(coverage))
    solution = capacitated_covering(coverage, weights, capacity, 3, covered=covered, method=method)
    assert np.all(solution.gains <= capacity[solution.chosen] + 1e-6)
    assert np.all(solution.served <= weights + 1e-6)
    assert np.all(solution.served[covered] == 0)
    reached = coverage[solution.chosen].any(axis=0) if len(solution.chosen) else False
    assert np.all(solution.served[~reached] == 0)
    assert solution.served.sum() == pytest.approx(solution.gains.sum())
    assert solution.objective == pytest.approx(solution.gains.sum())
    assert solution.bound >= solution.objective - 1e-6


@pytest.mark.parametrize("seed", SEEDS)
def test_minimum_spacing_is_honoured(seed: int) -> None:
    coverage, weights, covered = instance(seed)
    costs = random_spacing(seed, len(coverage))
    conflicts = spacing_conflicts(costs, 400.0)
    assert len(conflicts) > 0
    assert np.all(conflicts[:, 0] < conflicts[:, 1])
    options = {"covered": covered, "min_spacing_m": 400.0, "spacing_costs": costs}
    for k in (2, 3):
        best = brute_max_cover(coverage, weights, covered, k, conflicts)
        exact = maximal_covering(coverage, weights, k, method="milp", **options)
        assert exact.objective == pytest.approx(best)
        assert allowed(exact.chosen, conflicts)
        assert allowed(
            maximal_covering(coverage, weights, k, method="greedy", **options).chosen, conflicts
        )
    capacity = np.full(len(coverage), 25.0)
    served = capacitated_covering(coverage, weights, capacity, 3, method="milp", **options)
    assert allowed(served.chosen, conflicts)
    fewest = brute_set_cover(coverage, weights, covered, conflicts)
    if fewest is None:
        with pytest.raises(InfeasibleError, match="minimum spacing apart"):
            set_covering(coverage, weights, method="milp", **options)
    else:
        solution = set_covering(coverage, weights, method="milp", **options)
        assert solution.objective == fewest
        assert allowed(solution.chosen, conflicts)


def test_spacing_makes_set_covering_infeasible() -> None:
    coverage = np.array([[1, 0], [0, 1]], dtype=bool)
    costs = CostMatrix(
        source=np.array([0, 1]),
        node=np.array([1, 0]),
        distance_m=np.array([50.0, 50.0]),
        n_sources=2,
        n_nodes=2,
        limit_m=300.0,
    )
    with pytest.raises(InfeasibleError, match="lower the spacing"):
        set_covering(coverage, [1, 1], min_spacing_m=300.0, spacing_costs=costs, method="milp")
    greedy = set_covering(coverage, [1, 1], min_spacing_m=300, spacing_costs=costs, method="greedy")
    assert greedy.status == "incomplete"
    assert len(greedy.chosen) == 1


# --------------------------------------------------------------------------------------
# Greedy and the time limit
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_greedy_is_within_its_guarantee_and_bound(seed: int) -> None:
    coverage, weights, covered = instance(seed, n_candidates=12, n_demand=40)
    for k in (1, 2, 3):
        best = brute_max_cover(coverage, weights, covered, k)
        greedy = maximal_covering(coverage, weights, k, covered=covered, method="greedy")
        assert greedy.method == "greedy"
        assert greedy.objective >= (1 - 1 / math.e) * best - 1e-9
        assert greedy.objective <= best + 1e-9
        assert greedy.bound >= best - 1e-9
        # The bound is at most the k largest first-step gains and greedy / (1 - 1/e).
        first = np.sort([newly(coverage, weights, covered, [j]) for j in range(12)])[::-1]
        assert greedy.bound <= first[:k].sum() + 1e-9
        assert greedy.bound <= greedy.objective / (1 - 1 / math.e) + 1e-9
        assert greedy.gap == pytest.approx(
            (greedy.bound - greedy.objective) / greedy.objective if greedy.objective else 0.0
        )
        # Choice order: marginal gains never increase (coverage is submodular).
        assert np.all(np.diff(greedy.gains) <= 1e-9)
        assert greedy.gains.sum() == pytest.approx(greedy.objective)
    fewest = brute_set_cover(coverage, weights, covered)
    assert fewest is not None
    greedy_cover = set_covering(coverage, weights, covered=covered, method="greedy")
    assert greedy_cover.objective >= fewest
    assert greedy_cover.bound <= fewest


def test_time_limit_returns_a_solution_with_its_gap() -> None:
    rng = np.random.default_rng(0)
    coverage = sparse.random_array((400, 4000), density=0.02, rng=rng, format="csr")
    weights = rng.integers(1, 100, 4000).astype(float)
    solution = maximal_covering(coverage, weights, 25, method="milp", time_limit_s=0.3)
    assert solution.status == "time_limit"
    assert solution.gap > 0
    assert solution.bound > solution.objective > 0
    assert len(solution.chosen) <= 25
    assert any("stopped" in note or "no solution" in note for note in solution.notes)
    greedy = maximal_covering(coverage, weights, 25, method="greedy")
    # The better of the MILP's best and greedy's is returned.
    assert solution.objective >= greedy.objective
    assert solution.seconds < 10


def test_auto_uses_greedy_above_the_size_limit() -> None:
    coverage, weights, covered = instance(3, n_candidates=12, n_demand=40)
    small = maximal_covering(coverage, weights, 3, covered=covered, milp_size_limit=10**6)
    large = maximal_covering(coverage, weights, 3, covered=covered, milp_size_limit=10)
    assert small.method in ("milp", "greedy")
    assert small.status == "optimal"
    assert large.method == "greedy"
    assert large.status in ("greedy", "optimal")


def test_empty_and_trivial_problems() -> None:
    diagonal = np.eye(3, dtype=bool)
    for method in ("milp", "greedy", "auto"):
        nothing = maximal_covering(diagonal, np.ones(3), 0, method=method)
        assert len(nothing.chosen) == 0
        assert nothing.objective == 0
        assert nothing.gap == 0
    no_candidates = maximal_covering(np.zeros((0, 3)), np.ones(3), 2)
    assert no_candidates.uncoverable.tolist() == [0, 1, 2]
    done = set_covering(diagonal, np.ones(3), covered=[True, True, True], method="milp")
    assert done.objective == 0
    # Capacity 1, 1 and 0.5 for one resident each: three sites serve 2.5 residents.
    fewest = capacitated_covering(diagonal, np.ones(3), [1.0, 1.0, 0.5], method="milp")
    assert fewest.objective == 3
    assert fewest.newly_covered == pytest.approx(2.5)


def test_bad_arguments_are_named() -> None:
    coverage, weights, _ = instance(0)
    with pytest.raises(InputError, match="number of new sites"):
        maximal_covering(coverage, weights, -1)
    with pytest.raises(InputError, match="non-negative"):
        maximal_covering(coverage, -weights - 1, 2)
    with pytest.raises(InputError, match="demand weights given for 30"):
        maximal_covering(coverage, weights[:5], 2)
    with pytest.raises(InputError, match="spacing_costs"):
        maximal_covering(coverage, weights, 2, min_spacing_m=100.0)
    with pytest.raises(InputError, match="capacities given"):
        capacitated_covering(coverage, weights, [1.0, 2.0], 2)
    with pytest.raises(InputError, match="method must be"):
        maximal_covering(coverage, weights, 2, method="exact")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="time_limit_s"):
        set_covering(coverage, weights, time_limit_s=0)


# --------------------------------------------------------------------------------------
# On a lattice: hand-checkable
# --------------------------------------------------------------------------------------


def lattice_point(x: float, y: float) -> shapely.Point:
    return shapely.Point(X0 + x, Y0 + y)


def test_lattice_centre_site_covers_its_four_neighbours() -> None:
    # 5 × 5 nodes, 100 m blocks, one resident at every node, a 150 m threshold.
    network = lattice_network(5, 5, 100.0)
    residents = gpd.GeoSeries(
        [lattice_point(100 * i, 100 * j) for i in range(5) for j in range(5)], crs=LATTICE_CRS
    )
    sites = [lattice_point(200, 200), lattice_point(0, 0), lattice_point(400, 200)]
    site_points = gpd.GeoSeries(sites, crs=LATTICE_CRS)
    candidates = snap_points(network, site_points)
    demand = snap_points(network, residents)
    graph = build_routing_graph(network, candidates, demand)
    matrix = bounded_distances(
        graph, graph.set_nodes[0], candidates.owner, 3, 150.0, source_offset_m=candidates.access_m
    )
    coverage = coverage_from_costs(restrict_to_nodes(matrix, graph.set_nodes[1]), 150.0)
    # Centre: itself and 4 neighbours; corner: 3 nodes; middle of the east side: 4 nodes.
    assert coverage.sum(axis=1).tolist() == [5, 3, 4]
    centre = [5 * i + j for i, j in [(2, 2), (1, 2), (3, 2), (2, 1), (2, 3)]]
    assert sorted(coverage[[0]].indices.tolist()) == sorted(centre)
    weights = np.ones(25)
    one = maximal_covering(coverage, weights, 1)
    assert list(one.chosen) == [0]
    assert one.objective == 5
    # With the centre's block already served, the east side (4, 2) adds (3, 2)'s
    # neighbours only: (4, 1), (4, 2), (4, 3).
    covered = np.zeros(25, dtype=bool)
    covered[centre] = True
    after = maximal_covering(coverage, weights, 1, covered=covered)
    assert after.objective == 3  # corner (3 nodes) or east side (4 nodes, one covered)
    # Spacing: centre and east side are 200 m apart on the streets.
    between = candidate_distances(graph, graph.set_nodes[0], candidates.access_m, 250.0)
    assert spacing_conflicts(between, 250.0).tolist() == [[0, 2]]
    spaced = maximal_covering(
        coverage, weights, 2, min_spacing_m=250.0, spacing_costs=between, method="milp"
    )
    assert sorted(spaced.chosen.tolist()) == [0, 1]
    assert spaced.objective == 8


def test_network_candidates_are_nodes_near_uncovered_points() -> None:
    network = lattice_network(5, 5, 100.0)
    corner = gpd.GeoSeries([lattice_point(0, 0)], crs=LATTICE_CRS)
    found = candidates_from_network(network, corner, threshold_m=150.0)
    assert isinstance(found, Candidates)
    assert found.sites["node_id"].tolist() == [0, 1, 5]  # (0, 0), (0, 1), (1, 0)
    assert found.sites["routable"].all()
    assert found.sites["access_m"].max() < 1e-6
    everywhere = gpd.GeoSeries(
        [lattice_point(100 * i, 100 * j) for i in range(5) for j in range(5)], crs=LATTICE_CRS
    )
    thinned = candidates_from_network(network, everywhere, threshold_m=150.0, max_candidates=4)
    again = candidates_from_network(network, everywhere, threshold_m=150.0, max_candidates=4)
    assert 1 <= len(thinned) <= 4
    assert thinned.sites["node_id"].tolist() == again.sites["node_id"].tolist()


def test_candidates_from_a_layer_of_plots_and_points() -> None:
    network = lattice_network(5, 5, 100.0)
    plot = shapely.box(X0 + 120, Y0 + 120, X0 + 180, Y0 + 180)
    layer = gpd.GeoDataFrame(
        {"id": ["a", "b", "far"], "places": [30, 40, 50]},
        geometry=[plot, lattice_point(200, 50), lattice_point(5000, 5000)],
        crs=LATTICE_CRS,
    )
    with pytest.warns(UserWarning, match="1 of 3 candidate sites could not join"):
        found = candidates_from_frame(network, layer)
    assert found.sites.crs.to_epsg() == 4326
    assert found.sites["candidate_id"].tolist() == ["a", "b", "far"]
    assert found.sites["routable"].tolist() == [True, True, False]
    assert found.sites["plot_area_m2"].iloc[0] == pytest.approx(3600.0)
    inside = gpd.GeoSeries([found.sites.geometry.iloc[0]], crs=4326).to_crs(LATTICE_CRS)
    assert plot.contains(inside.iloc[0])
    assert found.sites["access_m"].iloc[1] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(CRSError, match="no coordinate reference system"):
        candidates_from_frame(network, gpd.GeoDataFrame(layer[["id"]], geometry=[plot] * 3))
    with pytest.raises(InputError, match="repeated"):
        candidates_from_frame(network, layer.assign(id=["a", "a", "b"]))


# --------------------------------------------------------------------------------------
# End to end on the real Nanjing extract
# --------------------------------------------------------------------------------------


def nanjing(path: Path):
    config = AnalyzeConfig(reach=ReachConfig(network=path, service_areas=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return config, load_analysis_inputs(config)


@pytest.mark.slow
def test_two_convenience_stores_in_nanjing(nanjing_osm: Path) -> None:
    config, inputs = nanjing(nanjing_osm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = site_facilities(inputs, config, category="convenience_store", count=2)
    sites = result.sites
    assert len(sites) == 2
    assert list(sites.columns[:5]) == [
        "site_id",
        "rank",
        "category",
        "residents_gained",
        "capacity",
    ]
    assert sites.crs.to_epsg() == 4326
    assert sites["rank"].tolist() == [1, 2]
    solution = result.solution
    assert solution.status == "optimal"  # by the MILP, or by greedy meeting its bound
    assert solution.gap == pytest.approx(0.0, abs=1e-6)
    assert solution.objective > 0
    coverage = result.summary["coverage"]["5min"]
    assert coverage["residents_after"] > coverage["residents_before"]
    # What the solver promised is what the analysis with the sites added reports.
    population = result.after.residents["population"].to_numpy()
    after = population[result.after.residents["convenience_store_covered_5min"].to_numpy(bool)]
    assert after.sum() == pytest.approx(solution.covered_after, rel=1e-9)
    before = population[result.before.residents["convenience_store_covered_5min"].to_numpy(bool)]
    assert before.sum() == pytest.approx(solution.covered_before, rel=1e-9)
    assert sites["residents_gained"].sum() == pytest.approx(solution.newly_covered, rel=1e-6)
    proposed = result.after.reach.facilities
    assert (proposed["source"] == "proposed").sum() == 2
    rule = result.summary["rules"]["convenience_store_within_5min"]
    assert rule["shortfall_after"] < rule["shortfall_before"]
    # No two network candidates are the same node, and the chosen ones are candidates.
    assert set(sites["candidate_id"]) <= set(result.candidates.sites["candidate_id"])


@pytest.mark.slow
def test_capacitated_and_spaced_sites_from_a_layer_in_nanjing(nanjing_osm: Path) -> None:
    config, inputs = nanjing(nanjing_osm)
    nodes = inputs.network.nodes.iloc[::10]
    layer = gpd.GeoDataFrame(
        {"name": [f"地块{k}" for k in range(len(nodes))], "floor_area_m2": 50.0},
        geometry=nodes.geometry.buffer(15.0).to_numpy(),
        crs=inputs.network.crs,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = site_facilities(
            inputs,
            config,
            category="convenience_store",
            count=3,
            candidates=layer,
            capacity="floor_area_m2",
            per_resident=0.1,
            min_spacing_m=400.0,
        )
    solution = result.solution
    assert solution.capacitated
    assert result.sites["capacity"].tolist() == pytest.approx([500.0] * 3)
    assert np.all(result.sites["residents_gained"] <= 500.0 + 1e-6)
    assert 0 < solution.objective <= 1500.0 + 1e-6
    chosen = result.sites.to_crs(inputs.network.crs).geometry
    for a, b in itertools.combinations(chosen, 2):
        assert a.distance(b) > 0  # distinct sites; network spacing checked below
    points = result.sites.geometry.to_crs(inputs.network.crs)
    snapped = snap_points(inputs.network, points)
    graph = build_routing_graph(inputs.network, snapped)
    between = candidate_distances(graph, graph.set_nodes[0], snapped.access_m, 400.0)
    assert len(spacing_conflicts(between, 400.0)) == 0
    assert (result.after.reach.facilities["name"].str.startswith("地块")).sum() == 3


@pytest.mark.slow
def test_siting_for_one_district_counts_its_residents_and_sites_inside_it(
    nanjing_osm: Path,
) -> None:
    config, inputs = nanjing(nanjing_osm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = site_facilities(inputs, config, category="convenience_store", count=1)
    residents = whole.before.residents
    uncovered = residents[
        ~residents["convenience_store_covered_5min"].to_numpy(bool)
        & (residents["district_id"].astype(str) != "").to_numpy()
    ]
    # The district with the most uncovered residents: its own siting has work to do.
    district = str(uncovered.groupby("district_id")["population"].sum().idxmax())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        own = site_facilities(
            inputs, config, category="convenience_store", count=2, districts=[district]
        )
    shape = own.before.districts.set_index("district_id").geometry.loc[district]
    assert len(own.sites) == 2
    assert own.sites.geometry.intersects(shape).all(), "a site outside the district"
    assert own.candidates.sites.geometry.intersects(shape).all()
    # Gains and coverage count the district's residents only.
    mine = own.after.residents["district_id"].astype(str).to_numpy() == district
    population = own.after.residents["population"].to_numpy()
    gained_after = own.after.residents["convenience_store_covered_5min"].to_numpy(bool)
    gained_before = own.before.residents["convenience_store_covered_5min"].to_numpy(bool)
    newly = population[mine & gained_after & ~gained_before].sum()
    assert own.summary["residents_gained"] == pytest.approx(newly, rel=1e-6)
    assert newly > 0
    coverage = own.summary["coverage"]["5min"]
    assert coverage["residents_after"] == pytest.approx(population[mine & gained_after].sum())
    assert coverage["share_before"] == pytest.approx(
        population[mine & gained_before].sum() / population[mine].sum(), abs=1e-4
    )
    rule = own.summary["rules"]["convenience_store_within_5min"]
    assert rule["districts"] == 1
    far = gpd.GeoDataFrame(geometry=[shapely.Point(0.0, 0.0)], crs="EPSG:4326")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InputError, match=r"'x': no such district.*districts are block-"):
            site_facilities(inputs, config, category="convenience_store", count=1, districts=["x"])
        with pytest.raises(InfeasibleError, match=r"none of the 1 candidates lies in district"):
            site_facilities(
                inputs,
                config,
                category="convenience_store",
                count=1,
                candidates=far,
                districts=[district],
            )


# --------------------------------------------------------------------------------------
# Site sizes: new sites carry supply, so ratio figures change after siting (issue #14)
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sites_sized_by_their_unit_shortfall_change_the_per_capita_figures() -> None:
    from radius.sample import default_network_path

    config, inputs = nanjing(default_network_path())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sized = site_facilities(inputs, config, category="elderly_daycare", count=2)
        unsized = site_facilities(
            inputs,
            config,
            category="elderly_daycare",
            count=2,
            size={"land_area_m2": 0.0, "floor_area_m2": 0.0},
        )
    # Day-care centres make the 5-minute rooms and count for the land of every tier.
    sites = sized.sites
    assert sites["size_basis"].tolist() == ["shortfall", "shortfall"]
    # Each site takes the shortfall of the district it lies in (on a street between two
    # blocks: one of them), shared by the unit's new sites.
    districts = sized.before.districts.set_index("district_id")
    for site in sites.itertuples():
        unit = districts.loc[site.district_id]
        assert (
            unit.geometry.distance(
                gpd.GeoSeries([site.geometry], crs=4326).to_crs(sized.before.districts.crs).iloc[0]
            )
            < 1e-6
        )
    in_unit = sites.groupby("district_id").size()
    for rule, column in (
        ("elderly_land_per_capita", "land_area_m2"),
        ("elderly_rooms_per_100hh", "floor_area_m2"),
    ):
        short = districts[f"{rule}_shortfall"]
        expected = [short[u] / in_unit[u] for u in sites["district_id"]]
        assert sites[column].tolist() == pytest.approx(expected, abs=1e-3)
        assert sites[column].gt(0).all()
        before = sized.summary["rules"][rule]["shortfall_before"]
        assert sized.summary["rules"][rule]["shortfall_after"] < before
        # Sites of size 0 add no supply: the same figure before and after.
        assert unsized.summary["rules"][rule]["shortfall_after"] == pytest.approx(before)
    assert unsized.sites["size_basis"].tolist() == ["user", "user"]
    proposed = sized.after.reach.facilities.query("source == 'proposed'")
    assert proposed["land_area_m2"].tolist() == pytest.approx(sites["land_area_m2"].tolist())


@pytest.mark.slow
def test_a_user_size_closes_the_shortfall_and_unknown_supplies_are_refused() -> None:
    from radius.sample import default_network_path

    config, inputs = nanjing(default_network_path())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # sited for the 15-minute circle, as far as the land rule counts day care; three sites
        # of 3,000 m² for the 43,553 residents (two of 1,000 m² leave 2,355 m² of 4,355)
        result = site_facilities(
            inputs, config, category="elderly_daycare", count=3, size=3000.0, threshold="15min"
        )
        assert result.sites["floor_area_m2"].tolist() == [3000.0, 3000.0, 3000.0]
        rule = result.summary["rules"]["elderly_land_per_capita"]
        assert rule["shortfall_before"] > 0
        assert rule["shortfall_after"] == pytest.approx(0.0)
        with pytest.raises(InputError, match="unknown supply volume"):
            site_facilities(
                inputs, config, category="elderly_daycare", count=1, size={"volume": 1.0}
            )


@pytest.mark.slow
def test_sites_are_at_least_the_standards_minimum_site(tmp_path: Path) -> None:
    import dataclasses

    from radius.sample import default_network_path

    profile = tmp_path / "min_site.yaml"
    profile.write_text(
        """name_zh: 最小规模测试
name_en: Minimum site test
extends: national
rules:
  - id: elderly_room_min_site
    name_zh: 养老服务用房（最小规模）
    name_en: Elderly-care rooms (minimum site)
    category: elderly_care
    metric: per_100_households
    supply: floor_area_m2
    value_new: 1
    value_old: 1
    unit: m² per 100 households
    level: 15min
    threshold: 15min
    min_site: 5000
    source: {document: test profile}
    status: assumed
""",
        encoding="utf-8",
    )
    config, inputs = nanjing(default_network_path())
    config = dataclasses.replace(config, standard=str(profile))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = site_facilities(inputs, config, category="elderly_care", count=2)
        assert result.sites["floor_area_m2"].tolist() == [5000.0, 5000.0]
        assert (
            result.sites["size_basis"].tolist()
            == ["floor_area_m2=min_site; land_area_m2=shortfall"] * 2
        )
        # land has no minimum: it stays the unit's shortfall
        assert (result.sites["land_area_m2"] < 5000.0).all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        site_facilities(inputs, config, category="elderly_care", count=1, size=100.0)
    assert any("below the standard's minimum site of 5000" in str(w.message) for w in caught)


# --------------------------------------------------------------------------------------
# Errors in the user's language (issue #14): each bad input, with real data
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_district():
    """The default district (Xinjiekou, shipped in data/), loaded once for these tests."""
    from radius.sample import default_network_path

    return nanjing(default_network_path())


def test_bad_siting_arguments_are_refused_in_both_languages(default_district) -> None:
    config, inputs = default_district

    def refused(match: str, **options) -> str:
        with pytest.raises(InputError, match=match) as excinfo:
            site_facilities(inputs, config, category="convenience_store", **options)
        return assert_chinese_error(excinfo.value, allowed={"cover"})  # the value given

    text = refused(r"objective must be 'max_cover' or 'set_cover', got 'cover'", objective="cover")
    assert "'cover'" in text
    assert "集合覆盖" in text
    text = refused("set covering finds the number of sites itself", objective="set_cover", count=2)
    assert "不要给出选址数量" in text
    text = refused("min_spacing_m must be non-negative metres, got -50", count=1, min_spacing_m=-50)
    assert "-50" in text


def test_a_threshold_the_category_lacks_is_named_with_its_thresholds(default_district) -> None:
    config, inputs = default_district
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(
            InputError, match=r"category convenience_store has no threshold '7min'"
        ) as excinfo:
            site_facilities(inputs, config, category="convenience_store", count=1, threshold="7min")
    assert "its thresholds are 5min" in str(excinfo.value)
    text = assert_chinese_error(excinfo.value)
    assert text.startswith("“便利店”类没有阈值 '7min'")
    assert "5min" in text


def test_bad_capacities_and_sizes_name_the_candidates_and_supplies(
    default_district, tmp_path: Path
) -> None:
    config, inputs = default_district
    nodes = inputs.network.nodes.iloc[::40]
    layer = gpd.GeoDataFrame(
        {"id": [f"c{k}" for k in range(len(nodes))], "places": -1.0},
        geometry=nodes.geometry.to_numpy(),
        crs=inputs.network.crs,
    )
    path = tmp_path / "candidates.geojson"
    layer.to_crs(4326).to_file(path)
    from_file = gpd.read_file(path)

    def refused(match: str, **options) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(InputError, match=match) as excinfo:
                site_facilities(
                    inputs, config, category="convenience_store", candidates=from_file, **options
                )
        # the candidates' columns and the supplies asked for are the user's words
        words = {"id", "places", "source", "routable", "beds", "volume"}
        return assert_chinese_error(excinfo.value, allowed=words)

    text = refused(
        "no capacity column 'beds'; their columns are candidate_id", count=1, capacity="beds"
    )
    assert "没有容量列 'beds'" in text
    assert "places" in text
    text = refused(
        r"capacities must be non-negative numbers; check candidates c0, c1",
        count=1,
        capacity="places",
    )
    assert "c0, c1" in text
    text = refused("per_resident converts a capacity", count=1, per_resident=0.1)
    assert "请同时给出容量" in text
    text = refused("per_resident must be positive, got 0", count=1, capacity=5.0, per_resident=0)
    assert "正数" in text
    text = refused(
        "site size: unknown supply volume; give one of floor_area_m2, land_area_m2",
        count=1,
        size={"volume": 1.0},
    )
    assert "未知的供给 volume" in text
    text = refused(
        "site size floor_area_m2: give a number ≥ 0, not -5", count=1, size={"floor_area_m2": -5.0}
    )
    assert text.startswith("新址的建筑面积（平方米）")
    assert "-5" in text


def test_bad_candidate_layers_name_their_rows_and_ids(default_district, tmp_path: Path) -> None:
    _, inputs = default_district
    network = inputs.network
    nodes = network.nodes.iloc[:30]
    path = tmp_path / "candidates.geojson"
    ids = [f"地块{k % 25}" for k in range(30)]  # 地块0 ... 地块4 twice
    gpd.GeoDataFrame({"编号": ids}, geometry=nodes.geometry.to_numpy(), crs=network.crs).to_crs(
        4326
    ).to_file(path)
    layer = gpd.read_file(path)

    with pytest.raises(
        InputError, match="candidate ids repeated in column '编号': 地块0, 地块1"
    ) as excinfo:
        candidates_from_frame(network, layer)
    text = assert_chinese_error(excinfo.value)
    assert "'编号' 列中的候选点编号重复：地块0, 地块1, 地块2, 地块3, 地块4" in text

    blank = layer.assign(编号=[""] * 25 + ids[25:])
    with pytest.raises(
        InputError, match=r"missing in column '编号' at rows 1, 2, .*and 5 more"
    ) as excinfo:
        candidates_from_frame(network, blank)
    text = assert_chinese_error(excinfo.value)
    assert "第 1, 2, 3" in text
    assert "等（另有 5 个）" in text

    with pytest.raises(
        InputError, match="no column 'site'; its columns are 编号, geometry"
    ) as excinfo:
        candidates_from_frame(network, layer, id_column="site")
    assert_chinese_error(excinfo.value, allowed={"site", "geometry"})  # the layer's words

    holes = layer.copy()
    holes.loc[[2, 7], "geometry"] = None
    with pytest.raises(InputError, match=r"without a location .*: 3, 8; remove them") as excinfo:
        candidates_from_frame(network, holes)
    assert "第 3, 8 行候选点没有位置" in assert_chinese_error(excinfo.value)

    with pytest.raises(
        CRSError, match="candidate layer has no coordinate reference system"
    ) as excinfo:
        candidates_from_frame(network, layer.set_crs(None, allow_override=True))
    assert "EPSG:4326" in assert_chinese_error(excinfo.value)


def test_bad_network_candidate_options_are_refused_in_both_languages(default_district) -> None:
    _config, inputs = default_district
    residents = inputs.residents.geometry.iloc[:50]
    with pytest.raises(InputError, match="max_candidates must be at least 1, got 0") as excinfo:
        candidates_from_network(inputs.network, residents, threshold_m=300.0, max_candidates=0)
    assert "至少为 1，当前为 0" in assert_chinese_error(excinfo.value)
    with pytest.raises(
        InputError, match="threshold_m must be positive metres, got -300"
    ) as excinfo:
        candidates_from_network(inputs.network, residents, threshold_m=-300.0)
    assert "-300" in assert_chinese_error(excinfo.value)
    with pytest.raises(InputError, match="3 weights given for 50 demand points") as excinfo:
        candidates_from_network(inputs.network, residents, threshold_m=300.0, weights=[1, 2, 3])
    assert "给出了 3 个权重，但需求点有 50 个" in assert_chinese_error(excinfo.value)
    no_crs = gpd.GeoSeries(residents.to_numpy())
    with pytest.raises(CRSError, match="uncovered demand points have no coordinate") as excinfo:
        candidates_from_network(inputs.network, no_crs, threshold_m=300.0)
    assert_chinese_error(excinfo.value)


@pytest.mark.parametrize("bad", ["threshold", "candidates", "spacing"])
def test_radius_site_says_a_bad_input_in_one_language(
    bad: str, default_district, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    from radius.cli import main
    from tests.language_checks import english_words

    argv = ["site", "--category", "convenience_store", "--count", "2"]
    if bad == "spacing":  # no sites 3 km apart cover every resident the candidates reach
        argv = [*argv[:3], "--objective", "set_cover", "--min-spacing", "3000", "--solver", "milp"]
        english, chinese = (
            "no set of new sites the minimum spacing apart covers every coverable point",
            "按最小间距布置的新址无法覆盖所有可覆盖的居民点",
        )
    elif bad == "threshold":
        argv += ["--threshold", "7min"]
        english, chinese = (
            "has no threshold '7min'; its thresholds are 5min",
            "“便利店”类没有阈值 '7min'",
        )
    else:
        nodes = default_district[1].network.nodes.iloc[:3]
        path = tmp_path / "candidates.geojson"
        frame = gpd.GeoDataFrame({"id": ["p1", "p2", "p1"]}, geometry=nodes.geometry.to_numpy())
        frame.set_crs(nodes.crs).to_crs(4326).to_file(path)
        argv += ["--candidates", str(path)]
        english, chinese = (
            "candidate ids repeated in column 'id': p1",
            "'id' 列中的候选点编号重复：p1",
        )
    assert main([*argv, "--lang", "zh", "--out", str(tmp_path / "zh")]) == 2
    said = capsys.readouterr().err
    assert f"radius：错误：{chinese}" in said
    # building:levels in a warning is the OSM tag, as written; 'id' is the file's column.
    assert english_words(said, ALLOWED_IN_CHINESE | {"building", "levels", "id"}) == [], said
    assert main([*argv, "--lang", "en", "--out", str(tmp_path / "en")]) == 2
    said = capsys.readouterr().err
    assert "radius: error: " in said
    assert english in said
    assert not re.search(r"[\u4e00-\u9fff]", said), said


@pytest.fixture(scope="module")
def district_matrices(default_district):
    """The default district's walking distances: every 20th node as a candidate × the
    residents within 400 m, and candidate × candidate within 300 m (for the spacing)."""
    _, inputs = default_district
    network = inputs.network
    candidates = snap_points(network, network.nodes.geometry.iloc[::20])
    demand = snap_points(network, inputs.residents.geometry)
    graph = build_routing_graph(network, candidates, demand)
    n = len(candidates.owner)
    matrix = bounded_distances(
        graph, graph.set_nodes[0], candidates.owner, n, 400.0, source_offset_m=candidates.access_m
    )
    costs = restrict_to_nodes(matrix, graph.set_nodes[1], demand.access_m)
    between = candidate_distances(graph, graph.set_nodes[0], candidates.access_m, 300.0)
    weights = inputs.residents["population"].to_numpy(np.float64)[demand.owner]
    return costs, between, weights


METHODS = ("auto", "milp", "greedy")


def test_bad_covering_inputs_on_real_distances_say_what_to_fix(district_matrices) -> None:
    costs, between, weights = district_matrices
    coverage = coverage_from_costs(costs, 400.0)
    n_candidates, n_demand = coverage.shape
    assert n_candidates > 5
    assert n_demand > 50

    def refused(call, match: str, *args, **options) -> str:
        with pytest.raises(InputError, match=match) as excinfo:
            call(*args, **options)
        # an argument's name and the values of `method`, as a user types them
        return assert_chinese_error(excinfo.value, allowed={"covered", "count", "exact", *METHODS})

    text = refused(coverage_from_costs, r"threshold 500 m exceeds .*limit \(400 m\)", costs, 500.0)
    assert "阈值 500 米超过了成本矩阵的上限（400 米）" in text
    text = refused(
        spacing_conflicts, rf"candidates × candidates, got {n_candidates} × ", costs, 1.0
    )
    assert f"当前为 {n_candidates} × {costs.n_nodes}" in text
    text = refused(spacing_conflicts, r"minimum spacing 350 m exceeds .*\(300 m\)", between, 350.0)
    assert "最小间距 350 米" in text
    refused(maximal_covering, "pass coverage_from_costs", costs, weights, 1)
    text = refused(
        maximal_covering, f"5 demand weights given for {n_demand}", coverage, weights[:5], 1
    )
    assert f"给出了 5 个需求权重，但需求点有 {n_demand} 个" in text
    refused(maximal_covering, "finite and non-negative", coverage, -weights, 1)
    text = refused(
        maximal_covering,
        f"'covered' has 3 values for {n_demand}",
        coverage,
        weights,
        1,
        covered=[1, 0, 1],
    )
    assert "covered" in text
    refused(maximal_covering, "pass spacing_costs", coverage, weights, 2, min_spacing_m=200.0)
    small = dataclasses.replace(
        between,
        n_sources=3,
        n_nodes=3,
        source=between.source[:0],
        node=between.node[:0],
        distance_m=between.distance_m[:0],
    )
    text = refused(
        maximal_covering,
        f"spacing cost matrix has 3 candidates, the coverage relation {n_candidates}",
        coverage,
        weights,
        2,
        min_spacing_m=200.0,
        spacing_costs=small,
    )
    assert f"间距成本矩阵有 3 个候选点，而覆盖关系有 {n_candidates} 个" in text
    text = refused(
        maximal_covering,
        "method must be 'auto', 'milp' or 'greedy', got 'exact'",
        coverage,
        weights,
        1,
        method="exact",
    )
    assert "'exact'" in text
    refused(
        set_covering,
        "time_limit_s must be positive seconds, got 0",
        coverage,
        weights,
        time_limit_s=0,
    )
    text = refused(
        set_covering,
        r"mip_rel_gap must be in \[0, 1\), got 1.0",
        coverage,
        weights,
        mip_rel_gap=1.0,
    )
    assert "[0, 1)" in text
    text = refused(
        maximal_covering, r"give the number of new sites \(count\)", coverage, weights, None
    )
    assert "选址数量" in text
    text = refused(maximal_covering, "whole number ≥ 0, got 1.5", coverage, weights, 1.5)
    assert "整数，当前为 1.5" in text
    text = refused(
        capacitated_covering,
        f"2 capacities given for {n_candidates} candidates",
        coverage,
        weights,
        [1.0, 2.0],
        1,
    )
    assert f"给出了 2 个容量，但候选点有 {n_candidates} 个" in text
    capacity = np.full(n_candidates, 100.0)
    capacity[[1, 4]] = [-1.0, np.nan]
    text = refused(
        capacitated_covering, r"\(persons\); check candidates 1, 4", coverage, weights, capacity, 1
    )
    assert "1, 4" in text


def test_an_impossible_spacing_on_real_distances_is_infeasible_in_both_languages(
    district_matrices,
) -> None:
    costs, between, weights = district_matrices
    coverage = coverage_from_costs(costs, 400.0)
    with pytest.raises(InfeasibleError, match="lower the spacing, add candidates") as excinfo:
        set_covering(coverage, weights, min_spacing_m=300.0, spacing_costs=between, method="milp")
    assert "请减小间距、增加候选点" in assert_chinese_error(excinfo.value)
    greedy = set_covering(
        coverage, weights, min_spacing_m=300.0, spacing_costs=between, method="greedy"
    )
    assert greedy.status == "incomplete"
    assert greedy.notes == ("greedy could not cover every coverable point",)
    assert localize(greedy.notes[0], "zh") == "贪心算法未能覆盖所有可覆盖的居民点"


def test_unnamed_sites_are_named_in_the_runs_language(default_district) -> None:
    """A chosen site without a name is 拟建设施 k in a Chinese run, proposed site k in an
    English one: in the analysis after and in the web map's popups and tooltips."""
    from radius.maps import analysis_map
    from tests.language_checks import english_words

    config, inputs = default_district
    names = {}
    for lang in ("zh", "en"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = site_facilities(inputs, config, category="elderly_care", count=2, lang=lang)
        facilities = result.after.reach.facilities
        names[lang] = facilities.loc[facilities["source"] == "proposed", "name"].tolist()
        html = analysis_map(result.after, lang=lang, proposals=result.sites).get_root().render()
        assert f"<td>{names[lang][0]}<" in html  # the popup
        if lang == "zh":
            assert "proposed site" not in html
            assert all(english_words(name) == [] for name in names[lang])
    assert names == {
        "zh": ["拟建设施 1", "拟建设施 2"],
        "en": ["proposed site 1", "proposed site 2"],
    }


def test_radius_site_speaks_one_language_in_its_line_and_map(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """radius site --lang zh: the summary line names the solver in Chinese (贪心算法，已证明最优,
    not greedy, optimal) and the map names the new sites 拟建设施 k; --lang en as before."""
    from radius.cli import main
    from tests.language_checks import english_words

    base = ["site", "--category", "elderly_care", "--count", "1", "--map"]
    lines = {}
    for lang in ("zh", "en"):
        out = tmp_path / lang
        assert main([*base, "--lang", lang, "--out", str(out)]) == 0
        lines[lang] = capsys.readouterr().out.splitlines()[0]
        html = (out / "map.html").read_text(encoding="utf-8")
        assert ("拟建设施 1" if lang == "zh" else "proposed site 1") in html
    assert lines["zh"].startswith("养老院、老年养护院：新增 1 处选址（"), lines["zh"]
    assert english_words(lines["zh"]) == [], lines["zh"]
    assert lines["en"].startswith("1 site(s) for Nursing home by "), lines["en"]
    assert " by milp (" in lines["en"] or " by greedy (" in lines["en"], lines["en"]
