"""Shortest walking distances on the routing graph, cut off at a distance limit.

The core is a compiled (numba) Dijkstra on the CSR graph that runs once per facility,
stops at the limit, and touches only the nodes it reaches, so its cost follows the size
of the catchments rather than the size of the network. Its output is the sparse network
cost matrix (facility, node, metres) that coverage, provision, 2SFCA and siting all use.
Runs are spread over threads (the compiled code releases the GIL).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.sparse import csr_array

from radius.snap import RoutingGraph

__all__ = [
    "CostMatrix",
    "bounded_distances",
    "nearest_and_counts",
    "restrict_to_nodes",
]

_TOLERANCE_M = 1e-9
"""Slack (metres) on threshold comparisons so a facility exactly at a threshold counts."""


@njit(cache=True, nogil=True)
def _heap_push(
    heap_d: np.ndarray, heap_n: np.ndarray, size: int, distance: float, node: int
) -> int:  # pragma: no cover - compiled
    i = size
    heap_d[i] = distance
    heap_n[i] = node
    while i > 0:
        parent = (i - 1) >> 1
        if heap_d[parent] <= heap_d[i]:
            break
        heap_d[parent], heap_d[i] = heap_d[i], heap_d[parent]
        heap_n[parent], heap_n[i] = heap_n[i], heap_n[parent]
        i = parent
    return size + 1


@njit(cache=True, nogil=True)
def _heap_pop(heap_d: np.ndarray, heap_n: np.ndarray, size: int) -> int:  # pragma: no cover
    size -= 1
    heap_d[0] = heap_d[size]
    heap_n[0] = heap_n[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        right = left + 1
        if right < size and heap_d[right] < heap_d[left]:
            child = right
        if heap_d[i] <= heap_d[child]:
            break
        heap_d[child], heap_d[i] = heap_d[i], heap_d[child]
        heap_n[child], heap_n[i] = heap_n[i], heap_n[child]
        i = child
    return size


@njit(cache=True, nogil=True)
def _dijkstra_runs(
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    n_nodes: int,
    run_ptr: np.ndarray,
    source_nodes: np.ndarray,
    source_dist: np.ndarray,
    first_run: int,
    last_run: int,
    limit: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    dist = np.full(n_nodes, np.inf)
    touched = np.empty(n_nodes, dtype=np.int64)
    heap_capacity = len(indices) + len(source_nodes) + 1
    heap_d = np.empty(heap_capacity, dtype=np.float64)
    heap_n = np.empty(heap_capacity, dtype=np.int64)
    capacity = 1024
    out_run = np.empty(capacity, dtype=np.int64)
    out_node = np.empty(capacity, dtype=np.int64)
    out_dist = np.empty(capacity, dtype=np.float64)
    n_out = 0
    for run in range(first_run, last_run):
        n_touched = 0
        size = 0
        for k in range(run_ptr[run], run_ptr[run + 1]):
            node = source_nodes[k]
            d0 = source_dist[k]
            if d0 <= limit and d0 < dist[node]:
                if dist[node] == np.inf:
                    touched[n_touched] = node
                    n_touched += 1
                dist[node] = d0
                size = _heap_push(heap_d, heap_n, size, d0, node)
        while size > 0:
            d = heap_d[0]
            u = heap_n[0]
            size = _heap_pop(heap_d, heap_n, size)
            if d > dist[u]:
                continue
            if n_out == capacity:
                capacity *= 2
                grown_run = np.empty(capacity, dtype=np.int64)
                grown_node = np.empty(capacity, dtype=np.int64)
                grown_dist = np.empty(capacity, dtype=np.float64)
                grown_run[:n_out] = out_run[:n_out]
                grown_node[:n_out] = out_node[:n_out]
                grown_dist[:n_out] = out_dist[:n_out]
                out_run, out_node, out_dist = grown_run, grown_node, grown_dist
            out_run[n_out] = run
            out_node[n_out] = u
            out_dist[n_out] = d
            n_out += 1
            for k in range(indptr[u], indptr[u + 1]):
                v = indices[k]
                nd = d + weights[k]
                if nd <= limit and nd < dist[v]:
                    if dist[v] == np.inf:
                        touched[n_touched] = v
                        n_touched += 1
                    dist[v] = nd
                    size = _heap_push(heap_d, heap_n, size, nd, v)
        for i in range(n_touched):
            dist[touched[i]] = np.inf
    return out_run[:n_out], out_node[:n_out], out_dist[:n_out]


@dataclass(frozen=True, eq=False)
class CostMatrix:
    """Sparse walking distances from sources (facilities) to routing-graph nodes.

    Only pairs within ``limit_m`` are stored. Each facility may start from several
    nodes (entrances), each with its own access leg.

    Attributes
    ----------
    source : numpy.ndarray
        Source (facility) position of each stored pair.
    node : numpy.ndarray
        Routing-graph node of each stored pair.
    distance_m : numpy.ndarray
        Shortest walking distance (metres), access legs included.
    n_sources, n_nodes : int
        Shape of the matrix.
    limit_m : float
        Distances beyond this (metres) were not searched.
    """

    source: np.ndarray
    node: np.ndarray
    distance_m: np.ndarray
    n_sources: int
    n_nodes: int
    limit_m: float

    def to_sparse(self, offset_m: float = 1.0) -> csr_array:
        """The matrix as ``scipy.sparse.csr_array`` (sources × nodes).

        Stored values are ``distance_m + offset_m`` so that a distance of zero is not
        lost as an implicit zero; subtract ``offset_m`` from ``.data`` to read metres.
        """
        return csr_array(
            (self.distance_m + offset_m, (self.source, self.node)),
            shape=(self.n_sources, self.n_nodes),
        )


def bounded_distances(
    graph: RoutingGraph,
    source_nodes: np.ndarray,
    source_owner: np.ndarray,
    n_sources: int,
    limit_m: float,
    *,
    source_offset_m: np.ndarray | None = None,
    threads: int | None = None,
) -> CostMatrix:
    """Walking distances from each source to every node within ``limit_m``.

    Parameters
    ----------
    graph : RoutingGraph
        The CSR routing graph.
    source_nodes : numpy.ndarray
        Start node of each access point.
    source_owner : numpy.ndarray
        Source (0..n_sources-1) each access point belongs to, sorted ascending.
    n_sources : int
        Number of sources; sources without access points reach nothing.
    limit_m : float
        Largest distance searched (metres).
    source_offset_m : numpy.ndarray, optional
        Distance already walked at each access point (the access leg, metres).
    threads : int, optional
        Worker threads; defaults to the number of CPUs.

    Returns
    -------
    CostMatrix
    """
    owner = np.asarray(source_owner, dtype=np.int64)
    if len(owner) > 1 and np.any(np.diff(owner) < 0):
        order = np.argsort(owner, kind="stable")
        owner = owner[order]
        source_nodes = np.asarray(source_nodes)[order]
        if source_offset_m is not None:
            source_offset_m = np.asarray(source_offset_m)[order]
    offsets = (
        np.zeros(len(owner)) if source_offset_m is None else np.asarray(source_offset_m, float)
    )
    run_ptr = np.zeros(n_sources + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n_sources), out=run_ptr[1:])
    workers = max(1, threads or os.cpu_count() or 1)
    n_chunks = min(n_sources, workers * 4) if n_sources else 0
    bounds = np.linspace(0, n_sources, n_chunks + 1).astype(np.int64)

    def run(chunk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _dijkstra_runs(
            graph.indptr,
            graph.indices,
            graph.weights,
            graph.n_nodes,
            run_ptr,
            np.asarray(source_nodes, dtype=np.int64),
            offsets,
            int(bounds[chunk]),
            int(bounds[chunk + 1]),
            float(limit_m),
        )

    if n_chunks == 0:
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    elif workers == 1 or n_chunks == 1:
        parts = [run(c) for c in range(n_chunks)]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(run, range(n_chunks)))
    if parts:
        source = np.concatenate([p[0] for p in parts])
        node = np.concatenate([p[1] for p in parts])
        distance = np.concatenate([p[2] for p in parts])
    else:
        source = np.empty(0, dtype=np.int64)
        node = np.empty(0, dtype=np.int64)
        distance = np.empty(0, dtype=np.float64)
    return CostMatrix(
        source=source,
        node=node,
        distance_m=distance,
        n_sources=n_sources,
        n_nodes=graph.n_nodes,
        limit_m=float(limit_m),
    )


@njit(cache=True, nogil=True)
def _reduce(
    source: np.ndarray,
    node: np.ndarray,
    distance: np.ndarray,
    n_nodes: int,
    thresholds: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    nearest = np.full(n_nodes, np.inf)
    nearest_source = np.full(n_nodes, -1, dtype=np.int64)
    counts = np.zeros((n_nodes, len(thresholds)), dtype=np.int32)
    for i in range(len(node)):
        n = node[i]
        d = distance[i]
        if d < nearest[n] or (d == nearest[n] and source[i] < nearest_source[n]):
            nearest[n] = d
            nearest_source[n] = source[i]
        for t in range(len(thresholds)):
            if d <= thresholds[t]:
                counts[n, t] += 1
    return nearest, nearest_source, counts


def nearest_and_counts(
    matrix: CostMatrix,
    thresholds_m: np.ndarray,
    *,
    node_offset_m: np.ndarray | None = None,
    nodes: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest source and number of sources within each threshold, per node.

    Parameters
    ----------
    matrix : CostMatrix
        Distances from sources to nodes.
    thresholds_m : numpy.ndarray
        Thresholds (metres); each must not exceed ``matrix.limit_m``.
    node_offset_m : numpy.ndarray, optional
        With ``nodes``: distance (metres) still to walk from each node to its demand
        point (the access leg), added before comparing with the thresholds.
    nodes : numpy.ndarray, optional
        Report only these nodes, in this order (e.g. the join nodes of demand points).

    Returns
    -------
    nearest_m : numpy.ndarray
        Distance (metres) to the nearest source; ``inf`` beyond the limit.
    nearest_source : numpy.ndarray
        Position of that source, -1 when none is in reach.
    counts : numpy.ndarray
        ``(n, len(thresholds_m))`` counts of sources within each threshold.
    """
    thresholds = np.asarray(thresholds_m, dtype=np.float64) + _TOLERANCE_M
    if nodes is None:
        return _reduce(matrix.source, matrix.node, matrix.distance_m, matrix.n_nodes, thresholds)
    restricted = restrict_to_nodes(matrix, nodes, node_offset_m)
    nearest, nearest_source, counts = _reduce(
        restricted.source, restricted.node, restricted.distance_m, len(nodes), thresholds
    )
    beyond = nearest > matrix.limit_m + _TOLERANCE_M
    nearest[beyond] = np.inf
    nearest_source[beyond] = -1
    return nearest, nearest_source, counts


def restrict_to_nodes(
    matrix: CostMatrix, nodes: np.ndarray, node_offset_m: np.ndarray | None = None
) -> CostMatrix:
    """The matrix's columns for some nodes only, e.g. the join nodes of demand points.

    Parameters
    ----------
    matrix : CostMatrix
        Distances from sources to routing-graph nodes.
    nodes : numpy.ndarray
        Distinct nodes to keep; column ``k`` of the result is ``nodes[k]``.
    node_offset_m : numpy.ndarray, optional
        Distance (metres) still to walk from each kept node to its point (the access
        leg), added to the distances; pairs then beyond ``matrix.limit_m`` are dropped.

    Returns
    -------
    CostMatrix
        Sources × ``len(nodes)``.
    """
    position = np.full(matrix.n_nodes, -1, dtype=np.int64)
    position[np.asarray(nodes, dtype=np.int64)] = np.arange(len(nodes))
    keep = position[matrix.node] >= 0
    target = position[matrix.node[keep]]
    distance = matrix.distance_m[keep]
    source = matrix.source[keep]
    if node_offset_m is not None:
        distance = distance + np.asarray(node_offset_m, dtype=np.float64)[target]
        within = distance <= matrix.limit_m + _TOLERANCE_M
        source, target, distance = source[within], target[within], distance[within]
    return CostMatrix(
        source=source,
        node=target,
        distance_m=distance,
        n_sources=matrix.n_sources,
        n_nodes=len(nodes),
        limit_m=matrix.limit_m,
    )
