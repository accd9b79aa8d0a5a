"""Ways of building one category's service-area polygon, timed side by side (#17, point 2).

Run as a script::

    python bench/bench_area_methods.py CASE [--methods clustered,single,mls,...] [--groups ID@M,...]

``CASE`` is ``shanghai`` (the Shanghai centre network, 60 facilities in each of the 17
categories, as ``bench_reach.py`` places them), ``lattice:SIDE`` (``radius.synthetic``'s
exact lattice of ``SIDE × SIDE`` nodes in UTM, as ``bench_reach.py`` makes it) or
``county:SIDE`` (the lattice of ``bench_county.py``: written in WGS-84 as an OSM PBF file and
read by ``radius.network.load_network``, so its streets are projected and not exactly
axis-parallel). Lattices get the 8 categories of #17 with one facility per 2,000 nodes.

For every category and threshold it takes the reached pieces of the category's
nearest-facility field (``reached_pieces`` of ``pipeline._union_matrix``, as the pipeline
does) and builds the polygon with each method on one thread, rotating the order from group
to group; it prints each method's CPU seconds, whether the result is valid and its
symmetric difference against the first method's polygon (divided by that area), then the
totals and the load average. The garbage collector is off while timing (the ``radius``
command raises its thresholds; the methods make few Python objects anyway).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

from radius.service_areas import DEFAULT_BUFFER_M, _chains, _starts, _union_of_bands

QUAD_SEGS = 4


def _chain_lines(coords: np.ndarray, n_points: np.ndarray) -> np.ndarray:
    vertex, chain_of_vertex, _ = _chains(
        coords, _starts(n_points), n_points, np.zeros(len(n_points), np.int64)
    )
    return shapely.linestrings(coords[vertex], indices=chain_of_vertex)


def _piece_lines(coords: np.ndarray, n_points: np.ndarray) -> np.ndarray:
    return shapely.linestrings(coords, indices=np.repeat(np.arange(len(n_points)), n_points))


def _single(coords: np.ndarray, n_points: np.ndarray) -> shapely.Geometry:
    """radius.service_areas until the clusters: chains, a band around each, one ``union_all``."""
    bands = shapely.buffer(_chain_lines(coords, n_points), DEFAULT_BUFFER_M, quad_segs=QUAD_SEGS)
    return shapely.union_all(bands)


def _mls(coords: np.ndarray, n_points: np.ndarray) -> shapely.Geometry:
    """One buffer of the MultiLineString of the chains (GEOS BufferBuilder nodes all at once)."""
    lines = shapely.multilinestrings(_chain_lines(coords, n_points))
    return shapely.buffer(lines, DEFAULT_BUFFER_M, quad_segs=QUAD_SEGS)


def _mls_pieces(coords: np.ndarray, n_points: np.ndarray) -> shapely.Geometry:
    """One buffer of the MultiLineString of the pieces (no chains)."""
    lines = shapely.multilinestrings(_piece_lines(coords, n_points))
    return shapely.buffer(lines, DEFAULT_BUFFER_M, quad_segs=QUAD_SEGS)


def _merged(coords: np.ndarray, n_points: np.ndarray) -> shapely.Geometry:
    """``line_merge`` of the pieces, then one buffer."""
    lines = shapely.line_merge(shapely.multilinestrings(_piece_lines(coords, n_points)))
    return shapely.buffer(lines, DEFAULT_BUFFER_M, quad_segs=QUAD_SEGS)


def _precise(grid: float) -> Callable[[np.ndarray, np.ndarray], shapely.Geometry]:
    def build(coords: np.ndarray, n_points: np.ndarray) -> shapely.Geometry:
        """The chains' MultiLineString on a grid (snap-rounding buffer), then one buffer."""
        lines = shapely.set_precision(
            shapely.multilinestrings(_chain_lines(coords, n_points)), grid
        )
        return shapely.buffer(lines, DEFAULT_BUFFER_M, quad_segs=QUAD_SEGS)

    return build


def _tiled(size_m: float) -> Callable[[np.ndarray, np.ndarray], shapely.Geometry]:
    def build(coords: np.ndarray, n_points: np.ndarray) -> shapely.Geometry:
        """Per tile: chains clipped to the tile + 31 m, one buffer, cut to the tile, 1 mm
        grid; then ``coverage_union_all`` of the tiles."""
        chains = _chain_lines(coords, n_points)
        x0, y0, x1, y1 = shapely.total_bounds(chains) + np.array([-1, -1, 1, 1]) * DEFAULT_BUFFER_M
        xs = np.arange(x0, x1 + size_m, size_m)
        ys = np.arange(y0, y1 + size_m, size_m)
        tree = shapely.STRtree(chains)
        margin = DEFAULT_BUFFER_M + 1.0
        tiles = []
        for left, right in itertools.pairwise(xs):
            for bottom, top in itertools.pairwise(ys):
                wide = (left - margin, bottom - margin, right + margin, top + margin)
                near = tree.query(shapely.box(*wide))
                if len(near) == 0:
                    continue
                lines = shapely.clip_by_rect(chains[near], *wide)
                lines = shapely.get_parts(lines[~shapely.is_empty(lines)])
                if len(lines) == 0:
                    continue
                band = shapely.buffer(
                    shapely.multilinestrings(lines), DEFAULT_BUFFER_M, quad_segs=QUAD_SEGS
                )
                tile = shapely.set_precision(
                    shapely.clip_by_rect(band, left, bottom, right, top), 1e-3
                )
                if not tile.is_empty:
                    tiles.append(tile)
        return shapely.coverage_union_all(tiles)

    return build


def _clustered(coords: np.ndarray, n_points: np.ndarray) -> shapely.Geometry:
    """radius.service_areas as it is: chains, a band around each, one ``union_all`` per
    cluster of chains whose bands may touch."""
    return _union_of_bands(_chain_lines(coords, n_points), DEFAULT_BUFFER_M)


METHODS: dict[str, Callable[[np.ndarray, np.ndarray], shapely.Geometry]] = {
    "single": _single,
    "mls": _mls,
    "mls_pieces": _mls_pieces,
    "merged": _merged,
    "prec2": _precise(1e-2),
    "prec3": _precise(1e-3),
    "prec4": _precise(1e-4),
    "tiles1km": _tiled(1000.0),
    "clustered": _clustered,
}


def _case(name: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, vertices, vertex counts) of the reached pieces of every category and threshold."""
    from bench_county import CATEGORIES, write_lattice_pbf
    from bench_reach import SHANGHAI_PER_CATEGORY, _facilities_for, _reach_all

    from radius.config import load_categories
    from radius.network import StreetNetwork, load_network
    from radius.pipeline import _union_matrix
    from radius.service_areas import EdgeCoordinates, _substring_coords, reached_pieces
    from radius.snap import (
        DEFAULT_MAX_SNAP_M,
        build_routing_graph,
        facility_access_points,
        snap_points,
    )
    from radius.synthetic import lattice_network

    categories = list(load_categories())
    network: StreetNetwork
    if name == "shanghai":
        path = Path(__file__).resolve().parents[2] / "shared/data/cn_shanghai_center_roads.osm.pbf"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            network = load_network(path)
        per_category = SHANGHAI_PER_CATEGORY
    else:
        kind, _, side_text = name.partition(":")
        side = int(side_text)
        if kind == "county":
            pbf = Path(os.environ.get("TMPDIR", "/tmp")) / f"radius_county_lattice_{side}.osm.pbf"
            if not pbf.exists():
                write_lattice_pbf(side, pbf)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                network = load_network(pbf)
        else:
            network = lattice_network(side, side, 100.0)
        categories = [c for c in categories if c.id in CATEGORIES]
        per_category = max(1, side * side // 2000)
    facilities = _facilities_for(network, categories, per_category)
    owner, points = facility_access_points(network, facilities)
    snapped = snap_points(
        network, points, max_snap_m=DEFAULT_MAX_SNAP_M, owner=owner, n_owners=len(facilities)
    )
    graph = build_routing_graph(network, snapped)
    reaches = _reach_all(graph, facilities, categories, snapped.owner, snapped.access_m, 1.0)
    edges = EdgeCoordinates.of(network)
    groups = []
    for reach in reaches:
        pieces = reached_pieces(graph, _union_matrix(reach), reach.thresholds_m)
        for index, threshold in enumerate(reach.thresholds_m):
            mine = pieces.threshold == index
            coords, n_points = _substring_coords(
                edges, pieces.edge[mine], pieces.start_m[mine], pieces.end_m[mine]
            )
            groups.append((f"{reach.category.id}@{threshold:g}", coords, n_points))
    return groups


def main(argv: list[str] | None = None) -> None:
    """Compare the methods on one case (see the module's doc)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("case")
    parser.add_argument("--methods", default="clustered,single,mls")
    parser.add_argument("--groups", default="")
    args = parser.parse_args(argv)
    methods = args.methods.split(",")
    wanted = set(filter(None, args.groups.split(",")))
    print(f"{args.case}: load average {os.getloadavg()}", flush=True)
    total = dict.fromkeys(methods, 0.0)
    gc.disable()
    for k, (label, coords, n_points) in enumerate(_case(args.case)):
        if wanted and label not in wanted:
            continue
        results: dict[str, tuple[float, shapely.Geometry]] = {}
        for name in methods[k % len(methods) :] + methods[: k % len(methods)]:
            started = time.process_time()
            polygon = METHODS[name](coords, n_points)
            results[name] = (time.process_time() - started, polygon)
        reference = results[methods[0]][1]
        cells = []
        for name in methods:
            seconds, polygon = results[name]
            total[name] += seconds
            off = shapely.symmetric_difference(polygon, reference).area / reference.area
            cells.append(f"{name} {seconds:.2f} s valid={polygon.is_valid} sd={off:.1e}")
        print(f"{label} ({len(n_points)} pieces): " + " | ".join(cells), flush=True)
    gc.enable()
    print("total CPU s:", {name: round(s, 2) for name, s in total.items()})
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
