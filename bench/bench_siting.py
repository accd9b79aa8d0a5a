"""Print how long siting takes: the exact MILP (HiGHS) against greedy, and ``radius site``.

Two kinds of case:

- **lattice**: a street lattice with 100 m blocks, demand points at random points near
  the streets (random residents per point), candidate sites at random street nodes, and the
  candidate × demand walking distances within the threshold, as :func:`site_facilities`
  builds them. Maximal covering of ``--count`` sites is solved by greedy and by the MILP;
  the table shows each one's residents covered, its bound and gap, and its seconds.
- **Nanjing**: :func:`radius.siting.site_facilities` on the default district (the
  analysis before and after included), as ``radius site`` and the app's "suggest sites"
  run it.

Prints figures; never asserts. Run: ``python bench/bench_siting.py [--sizes 5000x300,...]``.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import geopandas as gpd
import numpy as np

from radius.covering import SitingMethod, coverage_from_costs, maximal_covering
from radius.paths import bounded_distances, restrict_to_nodes
from radius.pipeline import AnalyzeConfig, ReachConfig, load_analysis_inputs
from radius.sample import default_network_path
from radius.siting import site_facilities
from radius.snap import build_routing_graph, snap_points
from radius.synthetic import lattice_network, random_facilities


def lattice_instance(
    n_demand: int, n_candidates: int, threshold_m: float, seed: int
) -> tuple[object, np.ndarray, float]:
    """Coverage (candidates × demand), residents per demand point, and seconds to build."""
    started = time.perf_counter()
    side = max(10, math.ceil(math.sqrt(n_demand / 2.0)))
    network = lattice_network(side, side, 100.0)
    demand_points = random_facilities(network, {"demand": n_demand}, seed=seed)
    rng = np.random.default_rng(seed)
    nodes = network.nodes.geometry.to_numpy()
    chosen = rng.choice(len(nodes), size=min(n_candidates, len(nodes)), replace=False)
    candidate_points = gpd.GeoSeries(nodes[chosen], crs=network.crs)
    candidates = snap_points(network, candidate_points)
    demand = snap_points(network, demand_points.geometry.to_crs(network.crs))
    graph = build_routing_graph(network, candidates, demand)
    matrix = bounded_distances(
        graph,
        graph.set_nodes[0],
        candidates.owner,
        len(candidate_points),
        threshold_m,
        source_offset_m=candidates.access_m,
    )
    costs = restrict_to_nodes(matrix, graph.set_nodes[1], demand.access_m)
    coverage = coverage_from_costs(costs, threshold_m)
    weights = rng.integers(1, 200, size=coverage.shape[1]).astype(np.float64)
    return coverage, weights, time.perf_counter() - started


def main() -> None:
    """Time greedy and the MILP on lattice instances, then site_facilities on Nanjing."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sizes",
        default="5000x300,20000x1000,50000x3000",
        help="demand points x candidates per lattice case (default 5000x300,20000x1000,50000x3000)",
    )
    parser.add_argument("--count", type=int, default=20, help="sites to choose (default 20)")
    parser.add_argument(
        "--threshold", type=float, default=500.0, help="walking threshold, m (default 500)"
    )
    parser.add_argument("--time-limit", type=float, default=60.0, help="MILP limit, s (60)")
    parser.add_argument("--no-nanjing", action="store_true", help="skip the Nanjing case")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    print(
        f"lattice cases: 100 m blocks, threshold {args.threshold:g} m, {args.count} sites, "
        f"MILP time limit {args.time_limit:g} s"
    )
    header = (
        f"{'demand x cand.':>16} {'pairs':>9} {'build s':>8}  {'method':<7} {'status':<11}"
        f" {'covered':>11} {'bound':>11} {'gap':>7} {'seconds':>8}"
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes.split(","):
        n_demand, n_candidates = (int(part) for part in size.lower().split("x"))
        coverage, weights, build_s = lattice_instance(n_demand, n_candidates, args.threshold, 0)
        pairs = int(coverage.nnz)  # type: ignore[attr-defined]
        results = {}
        for method in ("greedy", "milp"):
            solution = maximal_covering(
                coverage, weights, args.count, method=method, time_limit_s=args.time_limit
            )
            results[method] = solution
            print(
                f"{size:>16} {pairs:>9,} {build_s:>8.2f}  {method:<7} {solution.status:<11}"
                f" {solution.objective:>11,.0f} {solution.bound:>11,.0f}"
                f" {100 * solution.gap:>6.2f}% {solution.seconds:>8.2f}"
            )
        best = max(results["milp"].objective, 1e-9)
        print(
            f"{'':>16} greedy reaches {100 * results['greedy'].objective / best:.2f} % of the MILP"
        )

    if args.no_nanjing:
        return
    config = AnalyzeConfig(reach=ReachConfig(network=default_network_path(), service_areas=False))
    inputs = load_analysis_inputs(config)
    print(f"\nsite_facilities on {config.reach.network} (analysis before and after included)")
    cases: tuple[tuple[str, int, SitingMethod], ...] = (
        ("convenience_store", 2, "auto"),
        ("convenience_store", 5, "milp"),
        ("elderly_care", 3, "milp"),
    )
    for category, count, method in cases:
        started = time.perf_counter()
        result = site_facilities(inputs, config, category=category, count=count, method=method)
        seconds = time.perf_counter() - started
        solution = result.solution
        coverage = result.summary["coverage"][result.summary["threshold"]]
        print(
            f"  {category} x{count} ({method}): {seconds:.2f} s, of which solve "
            f"{solution.seconds:.3f} s by {solution.method} ({solution.status}); "
            f"{result.summary['candidates']} candidates; coverage "
            f"{100 * coverage['share_before']:.1f}% -> {100 * coverage['share_after']:.1f}%"
        )


if __name__ == "__main__":
    main()
