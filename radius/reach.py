"""Reach per category: nearest facility and facilities within each threshold.

For every category, from all its facilities at once: the network distance (metres) and
walking time (minutes) from every node and every demand point to the nearest facility,
and the number of facilities within each threshold, all cut off at the category's largest
threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radius.config import DEFAULT_THRESHOLD_BASIS, Category, ThresholdBasis
from radius.paths import CostMatrix, bounded_distances, nearest_and_counts
from radius.snap import RoutingGraph

__all__ = [
    "BYTES_PER_PAIR",
    "FACILITY_AREA_BYTES_PER_PAIR",
    "CategoryReach",
    "ReachPlan",
    "check_reach_memory",
    "estimate_pairs",
    "reach_category",
]


@dataclass(frozen=True, eq=False)
class CategoryReach:
    """Reach results of one category.

    Attributes
    ----------
    category : Category
        The category.
    thresholds_m : numpy.ndarray
        Threshold distances used (metres), ascending.
    speed_m_s : float
        Walking speed (m/s) used to turn distances into minutes.
    facility_rows : numpy.ndarray
        Row positions (in the facilities frame) of the category's facilities; source
        ``i`` of ``matrix`` is ``facility_rows[i]``.
    matrix : CostMatrix
        Distances from each facility to every routing-graph node within the limit.
    nearest_m : numpy.ndarray
        Per routing-graph node, distance (metres) to the nearest facility; ``inf`` beyond
        the largest threshold.
    nearest_facility : numpy.ndarray
        Per node, row position of the nearest facility, -1 when none is in reach.
    counts : numpy.ndarray
        Per node and threshold, the number of facilities within the threshold.
    demand_nearest_m, demand_nearest_facility, demand_counts : numpy.ndarray
        The same for each demand point (access leg included); empty without demand.
    """

    category: Category
    thresholds_m: np.ndarray
    speed_m_s: float
    facility_rows: np.ndarray
    matrix: CostMatrix
    nearest_m: np.ndarray
    nearest_facility: np.ndarray
    counts: np.ndarray
    demand_nearest_m: np.ndarray
    demand_nearest_facility: np.ndarray
    demand_counts: np.ndarray

    @property
    def limit_m(self) -> float:
        """The largest threshold (metres)."""
        return float(self.thresholds_m[-1])

    @property
    def labels(self) -> tuple[str, ...]:
        """Column labels of the thresholds, e.g. ``("10min", "15min")``."""
        return tuple(t.label for t in self.category.thresholds)


def reach_category(
    graph: RoutingGraph,
    category: Category,
    *,
    facility_rows: np.ndarray,
    access_nodes: np.ndarray,
    access_owner: np.ndarray,
    access_m: np.ndarray,
    speed_m_s: float,
    basis: ThresholdBasis = DEFAULT_THRESHOLD_BASIS,
    demand_nodes: np.ndarray | None = None,
    demand_access_m: np.ndarray | None = None,
    threads: int | None = None,
) -> CategoryReach:
    """Compute the reach of one category from all its facilities at once.

    Parameters
    ----------
    graph : RoutingGraph
        The routing graph with facilities and demand points joined.
    category : Category
        The category; its thresholds are converted with ``speed_m_s`` and ``basis``.
    facility_rows : numpy.ndarray
        Row positions of the category's facilities in the facilities frame.
    access_nodes : numpy.ndarray
        Routing-graph node of each access point of these facilities.
    access_owner : numpy.ndarray
        Index into ``facility_rows`` of the facility each access point belongs to.
    access_m : numpy.ndarray
        Access-leg length (metres) of each access point.
    speed_m_s : float
        Walking speed (m/s).
    basis : {"time", "distance"}
        Thresholds from minutes × speed, or from the standard's walking distances.
    demand_nodes : numpy.ndarray, optional
        Join node of each demand point.
    demand_access_m : numpy.ndarray, optional
        Access leg (metres) of each demand point.
    threads : int, optional
        Threads for the path searches.

    Returns
    -------
    CategoryReach
    """
    thresholds = np.array([t.distance_m(speed_m_s, basis) for t in category.thresholds])
    limit = float(thresholds[-1])
    matrix = bounded_distances(
        graph,
        access_nodes,
        access_owner,
        len(facility_rows),
        limit,
        source_offset_m=access_m,
        threads=threads,
    )
    nearest, nearest_source, counts = nearest_and_counts(matrix, thresholds)
    rows = np.asarray(facility_rows, dtype=np.int64)
    nearest_facility = _rows_of(rows, nearest_source)
    if demand_nodes is not None and len(demand_nodes):
        d_near, d_source, d_counts = nearest_and_counts(
            matrix, thresholds, nodes=demand_nodes, node_offset_m=demand_access_m
        )
        d_facility = _rows_of(rows, d_source)
    else:
        d_near = np.empty(0)
        d_facility = np.empty(0, dtype=np.int64)
        d_counts = np.empty((0, len(thresholds)), dtype=np.int32)
    return CategoryReach(
        category=category,
        thresholds_m=thresholds,
        speed_m_s=speed_m_s,
        facility_rows=rows,
        matrix=matrix,
        nearest_m=nearest,
        nearest_facility=nearest_facility,
        counts=counts,
        demand_nearest_m=d_near,
        demand_nearest_facility=d_facility,
        demand_counts=d_counts,
    )


BYTES_PER_PAIR = 24
"""Bytes one (facility, node) pair of a cost matrix holds: facility, node and metres. While a
category is searched its pairs take twice that (the searches' parts and the joined matrix:
1.99 and 1.92 times on Nanjing with 10,000 and 20,000 rehabilitation facilities, 38 M and
150 M pairs, peaks of 2.1 and 7.2 GB)."""

FACILITY_AREA_BYTES_PER_PAIR = 700
"""Further bytes per pair when the service areas of every facility are built (their reached
pieces and polygons): 2,000 rehabilitation facilities on Nanjing, 1.9 M pairs, took the
service-area stage from 0.37 to 1.70 GB (695 bytes per pair)."""

SAMPLE_FACILITIES = 256
"""Facilities of a category searched to estimate its pairs (:func:`estimate_pairs`)."""


def estimate_pairs(
    graph: RoutingGraph,
    *,
    n_facilities: int,
    access_nodes: np.ndarray,
    access_owner: np.ndarray,
    access_m: np.ndarray,
    limit_m: float,
    sample: int = SAMPLE_FACILITIES,
) -> int:
    """The (facility, node) pairs :func:`reach_category` would store, estimated.

    The searches of ``sample`` facilities spread evenly over the category (all of them
    when there are fewer) are run, and their mean number of reached nodes is multiplied
    by the number of facilities (256 searches of a category of 20,000: 1.3 % of its time),
    before its memory is spent. On Nanjing with 20,000 rehabilitation facilities: 156.5 M
    estimated, 149.5 M stored (+4.7 %); with 1,000: within 10 % (tests/test_hostile.py).

    Parameters
    ----------
    graph : RoutingGraph
        The routing graph with the facilities joined.
    n_facilities : int
        Facilities of the category (sources ``0..n_facilities-1``).
    access_nodes, access_owner, access_m : numpy.ndarray
        As for :func:`reach_category`: each access point's node, facility and leg (metres).
    limit_m : float
        The category's largest threshold (metres).
    sample : int
        Facilities searched.

    Returns
    -------
    int
        Estimated pairs (exact when ``n_facilities <= sample``).
    """
    if n_facilities == 0:
        return 0
    chosen = np.unique(np.linspace(0, n_facilities - 1, min(sample, n_facilities)).round())
    chosen = chosen.astype(np.int64)
    owner = np.asarray(access_owner, dtype=np.int64)
    mine = np.isin(owner, chosen)
    matrix = bounded_distances(
        graph,
        np.asarray(access_nodes)[mine],
        np.searchsorted(chosen, owner[mine]),
        len(chosen),
        limit_m,
        source_offset_m=np.asarray(access_m, dtype=float)[mine],
        threads=1,
    )
    return round(len(matrix.node) * n_facilities / len(chosen))


@dataclass(frozen=True, eq=False)
class ReachPlan:
    """What :func:`reach_category` is given for one category, before it runs."""

    category: Category
    facility_rows: np.ndarray
    access_nodes: np.ndarray
    access_owner: np.ndarray
    access_m: np.ndarray
    limit_m: float


def check_reach_memory(
    graph: RoutingGraph,
    plans: list[ReachPlan],
    *,
    facility_bytes_per_pair: int = 0,
    source: str | None = None,
) -> int:
    """Refuse a run whose cost matrices would take more memory than ``reach_bytes``.

    The estimate is :data:`BYTES_PER_PAIR` for every pair of every category, as much again
    for the largest category (searched last, or first: its parts and its matrix are held
    together), and ``facility_bytes_per_pair`` for every pair.

    The matrices of every category are held together (coverage, provision and the service
    areas read them), so their pairs are summed. Nothing is searched when even every
    facility reaching every node fits; otherwise the pairs are estimated from a sample
    (:func:`estimate_pairs`).

    Parameters
    ----------
    graph : RoutingGraph
        The routing graph with the facilities joined.
    plans : list of ReachPlan
        The categories about to be searched.
    facility_bytes_per_pair : int
        Further bytes per pair (the per-facility service areas, when asked).
    source : str, optional
        The file the facilities came from, first in the message when given.

    Returns
    -------
    int
        The estimated bytes (0 when the bound needed no estimate).

    Raises
    ------
    InputError
        Naming the facilities, the estimate, the limit and how to raise it.
    """
    from radius._limits import limit, limit_message_error

    most = limit("reach_bytes")
    facilities = [len(plan.facility_rows) for plan in plans]
    per_pair = BYTES_PER_PAIR + facility_bytes_per_pair
    # Bound first: no facility reaches more than every node.
    if (sum(facilities) + max(facilities, default=0)) * graph.n_nodes * per_pair <= most:
        return 0
    pairs = [
        estimate_pairs(
            graph,
            n_facilities=len(plan.facility_rows),
            access_nodes=plan.access_nodes,
            access_owner=plan.access_owner,
            access_m=plan.access_m,
            limit_m=plan.limit_m,
        )
        for plan in plans
    ]
    # Every category's matrix is held, the one being searched twice over.
    estimate = sum(pairs) * per_pair + max(pairs) * BYTES_PER_PAIR
    if estimate > most:
        values = {"source": source} if source else {}
        raise limit_message_error(
            "limit_reach_bytes_of_file" if source else "limit_reach_bytes",
            "reach_bytes",
            estimate=estimate,
            facilities=sum(facilities),
            categories=sum(n > 0 for n in facilities),
            pairs=sum(pairs),
            **values,
        )
    return estimate


def _rows_of(rows: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Facility rows of source positions, -1 where there is no source."""
    result = np.full(len(source), -1, dtype=np.int64)
    found = source >= 0
    result[found] = rows[source[found]]
    return result
