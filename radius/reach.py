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

__all__ = ["CategoryReach", "reach_category"]


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


def _rows_of(rows: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Facility rows of source positions, -1 where there is no source."""
    result = np.full(len(source), -1, dtype=np.int64)
    found = source >= 0
    result[found] = rows[source[found]]
    return result
