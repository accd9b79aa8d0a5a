"""Service areas: the streets reached within a threshold, and polygons around them.

A street piece is reached from both of its ends; where the remaining distance runs out
in the middle of a piece, the piece is cut at that exact point. The polygon of a service
area is a buffer of its reached lines (never a convex hull), so it follows the streets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

import numpy as np
import shapely
from numba import njit
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from radius.defaults import DEFAULT_BUFFER_M as _DEFAULT_BUFFER_M
from radius.network import StreetNetwork
from radius.paths import CostMatrix
from radius.snap import RoutingGraph

__all__ = [
    "DEFAULT_BUFFER_M",
    "EdgeCoordinates",
    "ReachedPieces",
    "reached_lines",
    "reached_pieces",
    "reached_polygons",
    "service_polygons",
    "substrings",
]

DEFAULT_BUFFER_M = _DEFAULT_BUFFER_M
"""Default half-width (metres) of the band around reached streets that forms a polygon."""
_EPS_M = 1e-9


@dataclass(frozen=True, eq=False)
class EdgeCoordinates:
    """The vertices of all edge geometries as flat arrays, for cutting edges fast."""

    coords: np.ndarray
    position: np.ndarray
    edge_first: np.ndarray
    edge_last: np.ndarray
    edge_base: np.ndarray

    @classmethod
    def of(cls, network: StreetNetwork) -> EdgeCoordinates:
        """Flatten the edge geometries of ``network``."""
        geoms = network.edges.geometry.to_numpy()
        coords, edge_of_vertex = shapely.get_coordinates(geoms, return_index=True)
        step = np.hypot(*np.diff(coords, axis=0).T)
        step[edge_of_vertex[1:] != edge_of_vertex[:-1]] = 0.0
        cumulative = np.concatenate([[0.0], np.cumsum(step)])
        counts = np.bincount(edge_of_vertex, minlength=len(geoms))
        edge_first = _starts(counts).astype(np.int64)
        edge_last = edge_first + counts - 1
        # Position along the whole concatenation: each edge starts 1 m after the last ended,
        # so one sorted array serves searches on every edge.
        start_of_edge = cumulative[edge_first]
        within = cumulative - start_of_edge[edge_of_vertex]
        lengths = within[edge_last]
        edge_base = np.concatenate([[0.0], np.cumsum(lengths + 1.0)[:-1]])
        return cls(
            coords=coords,
            position=within + edge_base[edge_of_vertex],
            edge_first=edge_first,
            edge_last=edge_last,
            edge_base=edge_base,
        )


def substrings(
    edges: EdgeCoordinates, edge: np.ndarray, start_m: np.ndarray, end_m: np.ndarray
) -> np.ndarray:
    """Cut edges between two distances along them, for many requests at once.

    Parameters
    ----------
    edges : EdgeCoordinates
        Flattened edge geometries.
    edge : numpy.ndarray
        Edge of each request.
    start_m, end_m : numpy.ndarray
        Distances (metres) from the edge's start, ``start_m < end_m``.

    Returns
    -------
    numpy.ndarray
        LineStrings, one per request.
    """
    coords, n_points = _substring_coords(edges, edge, start_m, end_m)
    if len(n_points) == 0:
        return np.empty(0, dtype=object)
    return shapely.linestrings(coords, indices=np.repeat(np.arange(len(n_points)), n_points))


def _substring_coords(
    edges: EdgeCoordinates, edge: np.ndarray, start_m: np.ndarray, end_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The vertices of :func:`substrings` laid end to end, and the vertex count of each."""
    edge = np.asarray(edge, dtype=np.int64)
    if len(edge) == 0:
        return np.empty((0, 2)), np.empty(0, dtype=np.int64)
    base = edges.edge_base[edge]
    first = edges.edge_first[edge]
    last = edges.edge_last[edge]
    after_start = np.searchsorted(edges.position, base + start_m, side="right")
    after_start = np.clip(after_start, first + 1, last)
    at_end = np.searchsorted(edges.position, base + end_m, side="left")
    at_end = np.clip(at_end, first + 1, last)
    start_xy = _interpolate(edges, after_start, base + start_m)
    end_xy = _interpolate(edges, at_end, base + end_m)
    n_inner = np.maximum(at_end - after_start, 0)
    n_points = n_inner + 2
    total = int(n_points.sum())
    out = np.empty((total, 2))
    line_start = _starts(n_points)
    out[line_start] = start_xy
    out[line_start + n_points - 1] = end_xy
    inner_line = np.repeat(np.arange(len(edge)), n_inner)
    inner_rank = np.arange(int(n_inner.sum())) - np.repeat(_starts(n_inner), n_inner)
    out[line_start[inner_line] + 1 + inner_rank] = edges.coords[
        after_start[inner_line] + inner_rank
    ]
    return out, n_points


def _starts(counts: np.ndarray) -> np.ndarray:
    """Where each run starts when runs of ``counts`` items are laid end to end."""
    return np.cumsum(counts) - counts


def _interpolate(
    edges: EdgeCoordinates, vertex_after: np.ndarray, position: np.ndarray
) -> np.ndarray:
    lo = edges.position[vertex_after - 1]
    hi = edges.position[vertex_after]
    span = np.where(hi > lo, hi - lo, 1.0)
    t = np.clip((position - lo) / span, 0.0, 1.0)[:, None]
    return edges.coords[vertex_after - 1] * (1.0 - t) + edges.coords[vertex_after] * t


@dataclass(frozen=True, eq=False)
class ReachedPieces:
    """Reached parts of street pieces, per source and threshold.

    Attributes
    ----------
    source : numpy.ndarray
        Source (facility position, or 0 for a category's union) of each part.
    threshold : numpy.ndarray
        Index of the threshold of each part.
    edge : numpy.ndarray
        Network edge of each part.
    start_m, end_m : numpy.ndarray
        Where the part starts and ends along its edge (metres from ``u``).
    """

    source: np.ndarray
    threshold: np.ndarray
    edge: np.ndarray
    start_m: np.ndarray
    end_m: np.ndarray

    def __len__(self) -> int:
        return len(self.source)

    def then(self, other: ReachedPieces) -> ReachedPieces:
        """These pieces followed by ``other``'s."""
        return ReachedPieces(
            *(
                np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                for f in fields(ReachedPieces)
            )
        )


def reached_pieces(
    graph: RoutingGraph, matrix: CostMatrix, thresholds_m: np.ndarray
) -> ReachedPieces:
    """Reached parts of the routing graph's pieces for every source and threshold.

    Parameters
    ----------
    graph : RoutingGraph
        The routing graph the matrix was computed on.
    matrix : CostMatrix
        Distances from each source to each reached node.
    thresholds_m : numpy.ndarray
        Thresholds (metres), each at most ``matrix.limit_m``.

    Returns
    -------
    ReachedPieces
    """
    n_pieces = len(graph.piece_u)
    # Which pieces touch each node: a CSR of node -> pieces.
    ends = np.concatenate([graph.piece_u, graph.piece_v])
    piece_of_end = np.concatenate([np.arange(n_pieces), np.arange(n_pieces)])
    order = np.argsort(ends, kind="stable")
    node_ptr = np.zeros(graph.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=graph.n_nodes), out=node_ptr[1:])
    pieces_by_node = piece_of_end[order]

    n_touching = node_ptr[matrix.node + 1] - node_ptr[matrix.node]
    pair_source = np.repeat(matrix.source, n_touching)
    pair_rank = np.arange(int(n_touching.sum())) - np.repeat(_starts(n_touching), n_touching)
    pair_piece = pieces_by_node[np.repeat(node_ptr[matrix.node], n_touching) + pair_rank]
    pair_key = np.unique(pair_source * n_pieces + pair_piece)
    source = pair_key // n_pieces
    piece = pair_key % n_pieces

    lookup_key = matrix.source * graph.n_nodes + matrix.node
    lookup_order = np.argsort(lookup_key)
    sorted_keys = lookup_key[lookup_order]
    sorted_dist = matrix.distance_m[lookup_order]

    def distance_at(nodes: np.ndarray) -> np.ndarray:
        keys = source * graph.n_nodes + nodes
        pos = np.clip(np.searchsorted(sorted_keys, keys), 0, max(len(sorted_keys) - 1, 0))
        found = sorted_keys[pos] == keys if len(sorted_keys) else np.zeros(len(keys), bool)
        return np.where(found, sorted_dist[pos] if len(sorted_dist) else np.inf, np.inf)

    dist_u = distance_at(graph.piece_u[piece])
    dist_v = distance_at(graph.piece_v[piece])
    length = graph.piece_to_m[piece] - graph.piece_from_m[piece]
    begin = graph.piece_from_m[piece]
    finish = graph.piece_to_m[piece]

    parts: list[tuple[np.ndarray, ...]] = []
    for index, threshold in enumerate(np.asarray(thresholds_m, dtype=float)):
        left = threshold - dist_u
        right = threshold - dist_v
        full = left + right >= length - _EPS_M
        from_u = ~full & (left > _EPS_M)
        from_v = ~full & (right > _EPS_M)
        for mask, lo, hi in (
            (full, begin, finish),
            (from_u, begin, begin + np.minimum(left, length)),
            (from_v, finish - np.minimum(right, length), finish),
        ):
            keep = mask & (hi - lo > _EPS_M) if mask is not full else mask & (length > 0)
            parts.append(
                (
                    source[keep],
                    np.full(int(keep.sum()), index, dtype=np.int64),
                    graph.piece_edge[piece[keep]],
                    lo[keep],
                    hi[keep],
                )
            )
    if not parts:
        empty_i = np.empty(0, dtype=np.int64)
        empty_f = np.empty(0, dtype=np.float64)
        return ReachedPieces(empty_i, empty_i, empty_i, empty_f, empty_f)
    stacked = [np.concatenate(column) for column in zip(*parts, strict=True)]
    order = np.lexsort((stacked[3], stacked[2], stacked[1], stacked[0]))
    return ReachedPieces(*(column[order] for column in stacked))


def reached_lines(edges: EdgeCoordinates, pieces: ReachedPieces) -> np.ndarray:
    """LineStrings of reached pieces (network CRS)."""
    return substrings(edges, pieces.edge, pieces.start_m, pieces.end_m)


def service_polygons(
    lines: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
    threads: int | None = None,
) -> np.ndarray:
    """Polygons around the reached lines of each group (e.g. facility and threshold).

    Parameters
    ----------
    lines : numpy.ndarray
        Reached (Multi)LineStrings.
    group : numpy.ndarray
        Group (0..n_groups-1) of each line.
    n_groups : int
        Number of groups; groups with no line get an empty polygon.
    buffer_m : float, optional
        Half-width (metres) of the band around the streets.
    threads : int, optional
        Threads for the unions; defaults to the number of CPUs.

    Returns
    -------
    numpy.ndarray
        One (Multi)Polygon per group.

    See Also
    --------
    reached_polygons : the same from reached pieces, without making a line per piece.
    """
    parts, part_of = shapely.get_parts(np.asarray(lines, dtype=object), return_index=True)
    coords, vertex_of = shapely.get_coordinates(parts, return_index=True)
    n_points = np.bincount(vertex_of, minlength=len(parts)).astype(np.int64)
    return _polygons(
        coords, n_points, np.asarray(group, dtype=np.int64)[part_of], n_groups, buffer_m, threads
    )


def reached_polygons(
    edges: EdgeCoordinates,
    pieces: ReachedPieces,
    group: np.ndarray,
    n_groups: int,
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
    threads: int | None = None,
    finish: Callable[[shapely.Geometry], shapely.Geometry] | None = None,
) -> np.ndarray:
    """Polygons around the reached pieces of each group: :func:`service_polygons` of their lines.

    Parameters
    ----------
    edges : EdgeCoordinates
        Flattened edge geometries.
    pieces : ReachedPieces
        Reached pieces.
    group : numpy.ndarray
        Group (0..n_groups-1) of each piece.
    n_groups : int
        Number of groups; groups with no piece get an empty polygon.
    buffer_m : float, optional
        Half-width (metres) of the band around the streets.
    threads : int, optional
        Threads for the unions; defaults to the number of CPUs.
    finish : callable, optional
        Applied to each group's polygon on the thread that made it, as soon as it is made
        (e.g. a reprojection: it then runs beside the other unions instead of after the
        last); not to the empty polygons of groups without pieces.

    Returns
    -------
    numpy.ndarray
        One (Multi)Polygon per group.
    """
    coords, n_points = _substring_coords(edges, pieces.edge, pieces.start_m, pieces.end_m)
    return _polygons(
        coords, n_points, np.asarray(group, dtype=np.int64), n_groups, buffer_m, threads, finish
    )


def _polygons(
    coords: np.ndarray,
    n_points: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    buffer_m: float,
    threads: int | None,
    finish: Callable[[shapely.Geometry], shapely.Geometry] | None = None,
) -> np.ndarray:
    """Union of the bands around lines given as vertices laid end to end, per group
    (``finish`` applied to each, see :func:`reached_polygons`)."""
    result = np.full(n_groups, shapely.Polygon(), dtype=object)
    usable = n_points >= 2
    if not usable.any():
        return result
    by_group = np.argsort(group[usable], kind="stable")
    line_first = _starts(n_points)[usable][by_group]
    n_points = n_points[usable][by_group]
    group = group[usable][by_group]
    present, first_line = np.unique(group, return_index=True)
    last_line = np.append(first_line[1:], len(group))

    def union(lines_of_group: tuple[int, int]) -> shapely.Geometry:
        lo, hi = lines_of_group
        # Everything is made group by group, on the group's own thread, so only the
        # groups in hand are in memory. The union of many small bands is what costs:
        # joining pieces that continue each other into one line first gives GEOS 3 to 8
        # times fewer, longer bands for the same area; buffering one MultiLineString per
        # group instead is several times slower.
        vertex, chain_of_vertex, _ = _chains(
            coords, line_first[lo:hi], n_points[lo:hi], np.zeros(hi - lo, dtype=np.int64)
        )
        lines = shapely.linestrings(coords[vertex], indices=chain_of_vertex)
        polygon = _union_of_bands(lines, buffer_m)
        return polygon if finish is None else finish(polygon)

    # GEOS releases the GIL, so the unions of different groups run on all cores.
    workers = max(1, min(threads or os.cpu_count() or 1, len(present)))
    spans = list(zip(first_line.tolist(), last_line.tolist(), strict=True))
    if workers == 1:
        polygons = [union(span) for span in spans]
    else:
        # Largest groups first, so no worker is left with a big one at the end.
        size = np.add.reduceat(n_points, first_line)
        by_size = np.argsort(-size, kind="stable").tolist()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = dict(zip(by_size, pool.map(union, [spans[k] for k in by_size]), strict=True))
        polygons = [done[k] for k in range(len(spans))]
    for value, polygon in zip(present, polygons, strict=True):
        result[value] = polygon
    return result


def _union_of_bands(lines: np.ndarray, buffer_m: float) -> shapely.Geometry:
    """The union of the bands around ``lines``, cluster by cluster.

    Lines whose bands cannot touch (more than two buffers apart) never meet in the union,
    so the lines are split into clusters of lines linked by nearness and each cluster
    is unioned on its own; the clusters' polygons are disjoint and together form the
    result. A single ``union_all`` of the whole group gives the same polygon, but GEOS then
    nodes the far-apart catchments against each other at every level of its cascade: on a
    county's 500 separate catchments per category that costs 2 to 3 times as much.
    """
    bands = shapely.buffer(lines, buffer_m, quad_segs=4)
    if len(lines) < 2:
        return shapely.union_all(bands)
    # A band reaches at most buffer_m from its line, so lines whose boxes, widened by two
    # buffers, do not meet have bands that cannot touch. Boxes may link more lines than
    # touch (that only makes fewer, larger clusters), but on a county they cost a
    # thirtieth of an exact distance test (0.05 s against 1.5 s at 27,000 lines).
    reach = 2.02 * buffer_m
    x_min, y_min, x_max, y_max = shapely.bounds(lines).T
    near, other = shapely.STRtree(lines).query(
        shapely.box(x_min - reach, y_min - reach, x_max + reach, y_max + reach)
    )
    links = coo_array((np.ones(len(near), np.int8), (near, other)), shape=(len(lines),) * 2)
    n_clusters, cluster = connected_components(links, directed=False)
    if n_clusters == 1:
        return shapely.union_all(bands)
    by_cluster = np.argsort(cluster, kind="stable")
    cuts = np.flatnonzero(np.diff(cluster[by_cluster])) + 1
    parts = shapely.get_parts(
        np.array(
            [shapely.union_all(bands[members]) for members in np.split(by_cluster, cuts)],
            dtype=object,
        )
    )
    parts = parts[~shapely.is_empty(parts)]
    return parts[0] if len(parts) == 1 else shapely.multipolygons(parts)


_JOIN_MIN_COS = 0.5
"""Pieces are joined where the street turns by at most 60° (cosine of the turn ≥ 0.5).

Any join gives the same area; sharp ones are left apart because a line that folds back
on itself is slow and fragile to buffer.
"""


def _chains(
    coords: np.ndarray, line_first: np.ndarray, n_points: np.ndarray, group: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join lines of the same group that meet end to end and run on straight, into chains.

    At each point where lines of a group end, two ends are joined when each is the other's
    straightest continuation (and the turn is at most 60°).

    Parameters
    ----------
    coords : numpy.ndarray
        Vertices of all lines, laid end to end.
    line_first, n_points : numpy.ndarray
        First vertex and number of vertices (at least 2) of each line.
    group : numpy.ndarray
        Group of each line.

    Returns
    -------
    vertex : numpy.ndarray
        Vertices (rows of ``coords``) of the chains, laid end to end, chains in group order.
    chain_of_vertex : numpy.ndarray
        Chain of each of them.
    chain_group : numpy.ndarray
        Group of each chain (non-decreasing).
    """
    n = len(n_points)
    line_last = line_first + n_points - 1
    # End k < n is the start of line k, end n + k its end.
    end_xy = np.concatenate([coords[line_first], coords[line_last]])
    inward = np.concatenate([coords[line_first + 1], coords[line_last - 1]]) - end_xy
    with np.errstate(invalid="ignore", divide="ignore"):
        inward /= np.hypot(inward[:, 0], inward[:, 1])[:, None]
    end_group = np.concatenate([group, group])
    order = np.lexsort((end_xy[:, 1], end_xy[:, 0], end_group))
    same = (
        (end_group[order[1:]] == end_group[order[:-1]])
        & (end_xy[order[1:], 0] == end_xy[order[:-1], 0])
        & (end_xy[order[1:], 1] == end_xy[order[:-1], 1])
    )
    run_start = np.flatnonzero(np.concatenate([[True], ~same]))
    run_length = np.diff(np.append(run_start, len(order)))
    best = _straightest_continuation(order, run_start, run_length, inward, n, _JOIN_MIN_COS)
    partner = np.full(2 * n, -1, dtype=np.int64)
    has = best >= 0
    mutual = np.flatnonzero(has)[best[best[has]] == np.flatnonzero(has)]
    partner[mutual] = best[mutual]
    return _walk_chains(partner, line_first, n_points, group, np.argsort(group, kind="stable"))


@njit(cache=True, nogil=True)
def _straightest_continuation(
    order: np.ndarray,
    run_start: np.ndarray,
    run_length: np.ndarray,
    inward: np.ndarray,
    n: int,
    min_cos: float,
) -> np.ndarray:  # pragma: no cover - compiled
    """Per line end, the end of another line at the same point that continues it straightest
    (cosine of the turn at least ``min_cos``; the lower end number on a tie), else -1.

    The ends at one point are ``order[run_start[r]:run_start[r] + run_length[r]]``; ends
    ``k`` and ``n + k`` belong to line ``k``. Every pair at a point is looked at, as many as
    the ends there squared, without making arrays of the pairs.
    """
    best = np.full(2 * n, -1, dtype=np.int64)
    best_cos = np.full(2 * n, -np.inf)
    for r in range(len(run_start)):
        first = run_start[r]
        for i in range(first, first + run_length[r]):
            a = order[i]
            for j in range(first, first + run_length[r]):
                b = order[j]
                if a % n == b % n:
                    continue
                # Inward directions opposed: the street runs on through the point.
                cos_turn = -(inward[a, 0] * inward[b, 0] + inward[a, 1] * inward[b, 1])
                if cos_turn >= min_cos and (
                    cos_turn > best_cos[a] or (cos_turn == best_cos[a] and b < best[a])
                ):
                    best[a] = b
                    best_cos[a] = cos_turn
    return best


@njit(cache=True, nogil=True)
def _walk_chains(
    partner: np.ndarray,
    line_first: np.ndarray,
    n_points: np.ndarray,
    group: np.ndarray,
    visit: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    n = len(n_points)
    seen = np.zeros(n, dtype=np.bool_)
    vertex = np.empty(int(n_points.sum()), dtype=np.int64)
    chain_of_vertex = np.empty(len(vertex), dtype=np.int64)
    chain_group = np.empty(n, dtype=np.int64)
    n_vertices = 0
    n_chains = 0
    for p in visit:
        if seen[p]:
            continue
        # Back to the chain's first line; around a closed chain, back to p's successor.
        line, entry = p, 0
        while True:
            other = partner[entry * n + line]
            if other < 0 or other % n == p:
                break
            line, entry = other % n, 1 - other // n
        first_line = True
        while True:
            seen[line] = True
            count = n_points[line]
            skip = 0 if first_line else 1
            for k in range(skip, count):
                rank = k if entry == 0 else count - 1 - k
                vertex[n_vertices] = line_first[line] + rank
                chain_of_vertex[n_vertices] = n_chains
                n_vertices += 1
            first_line = False
            other = partner[(1 - entry) * n + line]
            if other < 0 or seen[other % n]:
                break
            line, entry = other % n, other // n
        chain_group[n_chains] = group[p]
        n_chains += 1
    return vertex[:n_vertices], chain_of_vertex[:n_vertices], chain_group[:n_chains]
