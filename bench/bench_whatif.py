"""Print how long a what-if takes on the default district: analyze() with one proposed site.

The app reruns exactly this when a planner clicks the map (issue: a what-if on the default
district recomputes in under 1 s). Prints figures; never asserts.

Run: ``python bench/bench_whatif.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import geopandas as gpd
import numpy as np
import shapely

from radius.pipeline import AnalyzeConfig, ReachConfig, analyze, load_analysis_inputs
from radius.sample import default_network_path


def main() -> None:
    """Time loading once, the base analysis, and what-ifs with one proposed facility."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=10, help="what-ifs to time (default 10)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    config = AnalyzeConfig(reach=ReachConfig(network=default_network_path(), service_areas=False))
    started = time.perf_counter()
    inputs = load_analysis_inputs(config)
    print(f"district: {config.reach.network}")
    print(f"load inputs (once, cached by the app): {time.perf_counter() - started:.3f} s")
    started = time.perf_counter()
    analyze(inputs, config)
    first = time.perf_counter() - started
    print(f"first analysis (includes loading the compiled kernels): {first:.3f} s")
    west, south, east, north = inputs.residents.total_bounds
    rng = np.random.default_rng(0)
    seconds = []
    for k in range(args.repeat):
        proposal = gpd.GeoDataFrame(
            {
                "facility_id": [f"proposed/{k}"],
                "name": [f"what-if {k}"],
                "category": ["convenience_store"],
                "source": ["proposed"],
                "floor_area_m2": [np.nan],
                "land_area_m2": [np.nan],
                "beds": [np.nan],
                "places": [np.nan],
                "entrances": [None],
            },
            geometry=[shapely.Point(rng.uniform(west, east), rng.uniform(south, north))],
            crs="EPSG:4326",
        )
        started = time.perf_counter()
        analyze(inputs, config, proposals=proposal)
        seconds.append(time.perf_counter() - started)
    print(
        f"what-if with one proposed facility, {args.repeat} runs: median "
        f"{statistics.median(seconds):.3f} s, max {max(seconds):.3f} s (target < 1 s)"
    )


if __name__ == "__main__":
    main()
