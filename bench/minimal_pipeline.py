"""The least a reach can do: read, graph, edge snap, nearest distance; nothing else.

The yardstick of ``bench_end_to_end.py``: it reads the walkable ways of an OSM file with
pyosmium, builds the street graph from consecutive way nodes (metric UTM coordinates,
pyproj), joins every facility of a CSV inventory (``name, category, lon, lat``) to the
nearest street segment at its foot point (shapely STRtree), and computes for every node the
walking distance to the nearest facility of each category, bounded by the category's largest
threshold (scipy's Dijkstra from one source per category, linked to its facilities by their
access legs). It imports nothing from radius, writes nothing, and prints one line of counts
so the work cannot be skipped.

Run as a script::

    python bench/minimal_pipeline.py NETWORK.osm.pbf FACILITIES.csv [--speed 1.0]

The walkability rule is the plain part of ``configs/walkable.yaml`` (the included highway
values, trunks and motorways only with a sidewalk or foot permission, and the excluded
access tags); thresholds are read from ``configs/categories.yaml``.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import pyproj
import shapely
import yaml
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
MAX_SNAP_M = 200.0
_dijkstra: Any = dijkstra  # scipy's stubs reject a csr_array argument


def _walk_rules() -> tuple[set[str], set[str], dict[str, set[str]], set[str]]:
    rules = yaml.safe_load((CONFIGS / "walkable.yaml").read_text(encoding="utf-8"))
    exclude = {k: {str(v) for v in vs} for k, vs in rules["exclude_tags"].items()}
    return (
        set(rules["include"]),
        set(rules["include_with_sidewalk"]),
        exclude,
        set(rules["foot_permitted_values"]),
    )


def _walkable(tags: osmium.osm.TagList, rules: tuple[Any, ...]) -> bool:
    include, with_sidewalk, exclude, foot_ok = rules
    highway = tags.get("highway")
    if highway is None or highway in exclude.get("highway", ()):
        return False
    foot = tags.get("foot") in foot_ok
    if not foot and any(tags.get(k) in vs for k, vs in exclude.items() if k != "highway"):
        return False
    if highway in include:
        return True
    if highway in with_sidewalk:
        return foot or any(
            tags.get(k) not in (None, "no", "none", "separate")
            for k in ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right")
        )
    return False


def read_ways(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Node refs, lon, lat of every walkable way node, and the way of each."""
    rules = _walk_rules()
    refs: list[int] = []
    lon: list[float] = []
    lat: list[float] = []
    way: list[int] = []
    processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
    reader = processor.with_locations().with_filter(osmium.filter.KeyFilter("highway"))
    count = 0
    for obj in reader:
        if not isinstance(obj, osmium.osm.Way) or not _walkable(obj.tags, rules):
            continue
        for node in obj.nodes:
            if node.location.valid():
                refs.append(node.ref)
                lon.append(node.location.lon)
                lat.append(node.location.lat)
                way.append(count)
        count += 1
    return np.array(refs), np.array(lon), np.array(lat), np.array(way)


def _networkx_graph(graph: csr_array) -> Any:
    import networkx as nx

    coo = graph.tocoo()
    result: Any = nx.DiGraph()
    result.add_weighted_edges_from(
        zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
    )
    return result


def _networkx_distances(graph: Any, source: int, limit: float, n_nodes: int) -> np.ndarray:
    import networkx as nx

    found = nx.single_source_dijkstra_path_length(graph, source, cutoff=limit)
    dist = np.full(n_nodes, np.inf)
    for node, value in found.items():
        if node < n_nodes:
            dist[node] = value
    return dist


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("network", type=Path)
    parser.add_argument("facilities", type=Path)
    parser.add_argument("--speed", type=float, default=1.0, help="walking speed (m/s)")
    parser.add_argument(
        "--engine",
        choices=["scipy", "networkx"],
        default="scipy",
        help="shortest paths by scipy's Dijkstra (default) or networkx's, a peer for comparison",
    )
    args = parser.parse_args(argv)

    # Read.
    refs, lon, lat, way = read_ways(args.network)

    # Graph: one node per OSM node, one edge per pair of consecutive nodes of a way.
    zone = int((float(np.mean(lon)) + 180.0) // 6.0) + 1
    epsg = (32600 if float(np.mean(lat)) >= 0 else 32700) + zone
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    keys, node = np.unique(refs, return_inverse=True)
    x, y = to_metric.transform(lon, lat)
    node_x = np.zeros(len(keys))
    node_y = np.zeros(len(keys))
    node_x[node], node_y[node] = x, y
    same_way = way[1:] == way[:-1]
    seg_u, seg_v = node[:-1][same_way], node[1:][same_way]
    seg_len = np.hypot(node_x[seg_v] - node_x[seg_u], node_y[seg_v] - node_y[seg_u])
    n_nodes = len(keys)

    # Edge snap: each facility joins its nearest segment at the foot point.
    with open(args.facilities, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    fx, fy = to_metric.transform(
        np.array([float(r["lon"]) for r in rows]), np.array([float(r["lat"]) for r in rows])
    )
    category = np.array([r["category"] for r in rows])
    segments = shapely.linestrings(
        np.stack(
            [
                np.column_stack([node_x[seg_u], node_y[seg_u]]),
                np.column_stack([node_x[seg_v], node_y[seg_v]]),
            ],
            axis=1,
        )
    )
    points = shapely.points(fx, fy)
    (point_of, segment_of), access = shapely.STRtree(segments).query_nearest(
        points, max_distance=MAX_SNAP_M, return_distance=True, all_matches=False
    )
    along = shapely.line_locate_point(segments[segment_of], points[point_of])

    # Nearest distance: per category one source linked to its facilities' foot points.
    thresholds = {
        c["id"]: max(t["minutes"] for t in c["thresholds"]) * 60.0 * args.speed
        for c in yaml.safe_load((CONFIGS / "categories.yaml").read_text("utf-8"))["categories"]
    }
    names = sorted(set(category.tolist()))
    n_snapped = len(point_of)
    foot = n_nodes + np.arange(n_snapped)
    source = n_nodes + n_snapped + np.arange(len(names))
    cat_of = np.searchsorted(names, category[point_of])
    lo = np.concatenate([seg_u, seg_v, foot, foot, source[cat_of]])
    hi = np.concatenate([seg_v, seg_u, seg_u[segment_of], seg_v[segment_of], foot])
    weight = np.concatenate([seg_len, seg_len, along, seg_len[segment_of] - along, access + 1e-9])
    size = n_nodes + n_snapped + len(names)
    # Where two ways share a segment, keep one copy (the sparse matrix would add them up).
    order = np.lexsort((weight, hi, lo))
    lo, hi, weight = lo[order], hi[order], weight[order]
    first = np.concatenate([[True], (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])])
    graph = csr_array((np.maximum(weight[first], 1e-9), (lo[first], hi[first])), shape=(size, size))
    nx_graph = _networkx_graph(graph) if args.engine == "networkx" else None
    reached = 0
    total = 0.0
    for k, name in enumerate(names):
        limit = thresholds.get(name, 1800.0)
        if args.engine == "networkx":
            dist = _networkx_distances(nx_graph, int(source[k]), limit, n_nodes)
        else:
            dist = np.asarray(_dijkstra(graph, directed=True, indices=int(source[k]), limit=limit))
            dist = dist[:n_nodes]
        finite = np.isfinite(dist)
        reached += int(finite.sum())
        total += float(dist[finite].sum())
    print(
        f"{n_nodes} nodes, {len(seg_u)} segments, {n_snapped}/{len(rows)} facilities joined, "
        f"{len(names)} categories, {reached} (node, category) reached, "
        f"mean {total / max(reached, 1):.1f} m"
    )
    return 0 if math.isfinite(total) else 1


if __name__ == "__main__":
    sys.exit(main())
