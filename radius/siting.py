"""Siting of new facilities on the network cost matrix: maximal, set and capacitated covering.

The core works on matrices only (spopt's ``from_cost_matrix`` is the model): a candidate ×
demand coverage relation from a *network* cost matrix (walking distance within the
threshold), residents per demand point, and the points existing facilities already cover
(they stay covered and gain nothing). :func:`maximal_covering` (MCLP) picks ``count`` sites
newly covering the most demand; :func:`set_covering` (LSCP) the fewest sites covering every
point some candidate reaches (the others are reported as ``uncoverable``);
:func:`capacitated_covering` serves demand up to each site's capacity. An optional minimum
walking spacing forbids two new sites closer than it.

Each problem is solved exactly with :func:`scipy.optimize.milp` (HiGHS) under a time limit,
or greedily for very large instances, labelled as such, with a bound: for MCLP greedy
reaches at least ``1 − 1/e`` of the optimum (without spacing) and its upper bound is the
least of ``covered + the count largest marginal gains`` over the steps (at the first step:
the simple bound), ``greedy / (1 − 1/e)`` and a Lagrangian bound that approaches the LP
relaxation's value. A MILP stopped by the time limit returns the better of its best
solution and greedy's, with the gap to HiGHS's bound. Demand points reached by the same
candidates are merged first; the optimum is unchanged.

:func:`site_facilities` runs the chain on loaded inputs: base analysis, candidates (a user
layer, or network nodes in under-served areas), the candidate × resident cost matrix, the
solve, and the analysis again with the sites added, for coverage and shortfall before and
after.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, milp

from radius._errors import CRSError, InfeasibleError, InputError
from radius.facilities import CAPACITY_COLUMNS, FACILITY_COLUMNS
from radius.network import StreetNetwork
from radius.paths import CostMatrix, bounded_distances, restrict_to_nodes
from radius.pipeline import AnalysisInputs, AnalysisResult, AnalyzeConfig, analyze
from radius.snap import (
    DEFAULT_MAX_SNAP_M,
    RoutingGraph,
    Snapped,
    build_routing_graph,
    snap_points,
)

__all__ = [
    "DEFAULT_MAX_CANDIDATES",
    "DEFAULT_MILP_SIZE_LIMIT",
    "DEFAULT_MIP_REL_GAP",
    "Candidates",
    "SitingMethod",
    "SitingObjective",
    "SitingResult",
    "SitingSolution",
    "candidate_distances",
    "candidates_from_frame",
    "candidates_from_network",
    "capacitated_covering",
    "coverage_from_costs",
    "maximal_covering",
    "set_covering",
    "site_facilities",
    "spacing_conflicts",
]

WGS84 = "EPSG:4326"

SitingMethod = Literal["auto", "milp", "greedy"]
SitingObjective = Literal["max_cover", "set_cover"]

DEFAULT_MILP_SIZE_LIMIT = 100_000
"""Model size (variables + coefficients, after reduction) above which ``"auto"`` is greedy."""
DEFAULT_MIP_REL_GAP = 1e-6
"""Relative gap at which HiGHS stops as optimal (its own default, 1e-4, is coarser)."""
DEFAULT_MAX_CANDIDATES = 1000
"""Most network-node candidates :func:`candidates_from_network` keeps."""

_TOLERANCE_M = 1e-9
"""Slack (metres) on threshold comparisons, the same as :mod:`radius.paths` uses."""
_MAX_LISTED = 20


# --------------------------------------------------------------------------------------
# Solutions
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SitingSolution:
    """The outcome of one siting problem.

    Attributes
    ----------
    problem : {"max_cover", "set_cover"}
        Most demand with ``count`` sites, or fewest sites.
    capacitated : bool
        Whether sites serve at most their capacity.
    chosen : numpy.ndarray
        Candidate positions chosen, ranked: in choice order for greedy; for the MILP by
        marginal gain (each next site adds the most to those before it), or by assigned
        demand when capacitated.
    gains : numpy.ndarray
        Per chosen site, the demand it newly covers after the sites ranked before it, or
        the demand assigned to it when capacitated.
    covered_before, covered_after : float
        Demand covered by the existing facilities, and with the chosen sites too.
    total_demand : float
        Sum of the demand vector.
    method : {"milp", "greedy"}
        How the solution was found.
    status : str
        ``"optimal"`` (proven, by HiGHS or by greedy meeting its bound); ``"time_limit"``
        (the best solution found by then, the MILP's or greedy's); ``"greedy"`` (with its
        bound); ``"incomplete"`` (greedy set covering blocked by the spacing).
    objective : float
        Newly covered (or assigned) demand for ``max_cover``; sites for ``set_cover``.
    bound : float
        Bound on the optimum: upper for ``max_cover``, lower for ``set_cover``.
    gap : float
        ``|bound − objective| / |objective|`` (as HiGHS); ``inf`` when the objective is 0.
    seconds : float
        Wall time of the solve.
    served : numpy.ndarray
        Per demand point, the demand newly served by the chosen sites.
    uncoverable : numpy.ndarray
        Positions of points with demand, not covered, that no candidate reaches.
    notes : tuple of str
        What happened on the way (time limit, greedy preferred, ...).
    """

    problem: SitingObjective
    capacitated: bool
    chosen: np.ndarray
    gains: np.ndarray
    covered_before: float
    covered_after: float
    total_demand: float
    method: Literal["milp", "greedy"]
    status: str
    objective: float
    bound: float
    gap: float
    seconds: float
    served: np.ndarray
    uncoverable: np.ndarray
    notes: tuple[str, ...] = ()

    @property
    def newly_covered(self) -> float:
        """Demand covered (or served) by the chosen sites and not before."""
        return self.covered_after - self.covered_before

    def summary(self) -> dict[str, Any]:
        """The headline figures as plain values (for JSON)."""
        figures = {
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "seconds": self.seconds,
            "covered_before": self.covered_before,
            "covered_after": self.covered_after,
            "total_demand": self.total_demand,
        }
        return {
            "problem": self.problem,
            "capacitated": self.capacitated,
            "method": self.method,
            "status": self.status,
            "sites": len(self.chosen),
            **{k: round(float(v), 6) if math.isfinite(v) else None for k, v in figures.items()},
            "uncoverable_points": len(self.uncoverable),
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------------------
# Matrices
# --------------------------------------------------------------------------------------


def coverage_from_costs(matrix: CostMatrix, threshold_m: float) -> sparse.csr_array:
    """Coverage relation of a network cost matrix: source within ``threshold_m`` of node.

    Parameters
    ----------
    matrix : CostMatrix
        Walking distances, candidates × demand points (e.g. from ``restrict_to_nodes``).
    threshold_m : float
        Walking threshold (metres), at most ``matrix.limit_m`` (1e-9 m slack, as paths).

    Returns
    -------
    scipy.sparse.csr_array
        Boolean, ``matrix.n_sources × matrix.n_nodes``.
    """
    if threshold_m > matrix.limit_m + _TOLERANCE_M:
        raise InputError(
            f"threshold {threshold_m:g} m exceeds the cost matrix's limit "
            f"({matrix.limit_m:g} m); build the matrix with a larger limit"
        )
    within = matrix.distance_m <= threshold_m + _TOLERANCE_M
    coverage = sparse.csr_array(
        (np.ones(int(within.sum())), (matrix.source[within], matrix.node[within])),
        shape=(matrix.n_sources, matrix.n_nodes),
    )
    coverage.sum_duplicates()
    return coverage.astype(bool)


def candidate_distances(
    graph: RoutingGraph,
    candidate_nodes: np.ndarray,
    candidate_access_m: np.ndarray,
    limit_m: float,
    *,
    threads: int | None = None,
) -> CostMatrix:
    """Walking distances between candidates (for the minimum spacing).

    Parameters
    ----------
    graph : RoutingGraph
        Routing graph with a join node per candidate.
    candidate_nodes, candidate_access_m : numpy.ndarray
        Join node and access leg (metres, counted at both ends) of each candidate.
    limit_m : float
        Largest distance searched (metres), e.g. the minimum spacing.
    threads : int, optional
        Threads for the path searches.

    Returns
    -------
    CostMatrix
        Candidates × candidates within ``limit_m``.
    """
    nodes = np.asarray(candidate_nodes, dtype=np.int64)
    access = np.asarray(candidate_access_m, dtype=np.float64)
    owner = np.arange(len(nodes))
    matrix = bounded_distances(
        graph, nodes, owner, len(nodes), limit_m, source_offset_m=access, threads=threads
    )
    return restrict_to_nodes(matrix, nodes, access)


def spacing_conflicts(costs: CostMatrix, min_spacing_m: float) -> np.ndarray:
    """Pairs of candidates closer than the minimum spacing (they cannot both be chosen).

    Parameters
    ----------
    costs : CostMatrix
        Candidate × candidate walking distances (:func:`candidate_distances`).
    min_spacing_m : float
        Minimum walking distance (metres) between two new sites; closer pairs conflict.

    Returns
    -------
    numpy.ndarray
        ``(m, 2)`` int64 pairs ``(a, b)``, ``a < b``, sorted, without repeats.
    """
    if costs.n_sources != costs.n_nodes:
        raise InputError(
            "the spacing cost matrix must be candidates × candidates, got "
            f"{costs.n_sources} × {costs.n_nodes}"
        )
    if min_spacing_m > costs.limit_m + _TOLERANCE_M:
        raise InputError(
            f"minimum spacing {min_spacing_m:g} m exceeds the spacing cost matrix's limit "
            f"({costs.limit_m:g} m); build it with a limit of at least the spacing"
        )
    close = (costs.distance_m < min_spacing_m) & (costs.source != costs.node)
    a = np.minimum(costs.source[close], costs.node[close])
    b = np.maximum(costs.source[close], costs.node[close])
    return np.unique(np.column_stack([a, b]).astype(np.int64), axis=0).reshape(-1, 2)


# --------------------------------------------------------------------------------------
# The reduced problem every solver works on
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Reduced:
    """Open demand that some candidate reaches, identical columns merged into groups.

    ``matrix`` is useful candidates × groups (float 0/1); ``active`` maps its rows to
    candidate positions and ``group`` each demand point to its group (-1: not in play).
    """

    matrix: sparse.csr_array
    by_group: sparse.csc_array
    weight: np.ndarray
    active: np.ndarray
    group: np.ndarray
    conflicts: np.ndarray
    weights: np.ndarray
    covered: np.ndarray
    uncoverable: np.ndarray

    @property
    def n_active(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_groups(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def tolerance(self) -> float:
        return 1e-9 * max(1.0, float(self.weights.sum()))

    def neighbours(self) -> list[np.ndarray] | None:
        """Per active candidate, those it conflicts with; None without spacing."""
        if not len(self.conflicts):
            return None
        both = np.concatenate([self.conflicts, self.conflicts[:, ::-1]])
        adjacency = sparse.csr_array(
            (np.ones(len(both)), (both[:, 0], both[:, 1])), shape=(self.n_active,) * 2
        )
        return [
            adjacency.indices[adjacency.indptr[j] : adjacency.indptr[j + 1]]
            for j in range(self.n_active)
        ]

    def rows(self, chosen: np.ndarray) -> np.ndarray:
        """Groups reached by the chosen active rows (with repeats)."""
        return _gather(self.matrix.indptr, self.matrix.indices, chosen)


def _reduce(
    coverage: Any,
    weights: Any,
    covered: Any,
    min_spacing_m: float | None,
    spacing_costs: CostMatrix | None,
    usable: np.ndarray | None = None,
) -> _Reduced:
    if isinstance(coverage, CostMatrix):
        raise InputError("pass coverage_from_costs(matrix, threshold_m), not a cost matrix")
    given = sparse.csr_array(coverage)
    given.sum_duplicates()
    matrix = sparse.csr_array(
        ((given.data != 0).astype(np.float64), given.indices, given.indptr), shape=given.shape
    )
    matrix.eliminate_zeros()
    n_candidates, n_demand = matrix.shape
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if len(w) != n_demand:
        raise InputError(f"{len(w)} demand weights given for {n_demand} demand points")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError("demand weights must be finite and non-negative (residents per point)")
    is_covered = np.zeros(n_demand, dtype=bool) if covered is None else np.asarray(covered, bool)
    if is_covered.shape != (n_demand,):
        raise InputError(f"'covered' has {is_covered.size} values for {n_demand} demand points")
    conflicts = np.empty((0, 2), dtype=np.int64)
    if min_spacing_m:
        if spacing_costs is None:
            raise InputError(
                "a minimum spacing needs the candidate × candidate network distances: pass "
                "spacing_costs (see candidate_distances)"
            )
        if spacing_costs.n_sources != n_candidates:
            raise InputError(
                f"the spacing cost matrix has {spacing_costs.n_sources} candidates, the "
                f"coverage relation {n_candidates}"
            )
        conflicts = spacing_conflicts(spacing_costs, float(min_spacing_m))
    open_demand = ~is_covered & (w > 0)
    reached = np.bincount(matrix.indices, minlength=n_demand) > 0
    in_play = np.flatnonzero(open_demand & reached)
    sub = sparse.csc_array(matrix[:, in_play])
    sub.sort_indices()
    group_of_column, first = _merge_identical_columns(sub)
    merged = sparse.csr_array(sub[:, first])
    useful = np.diff(merged.indptr) > 0
    active = np.flatnonzero(useful if usable is None else useful & usable)
    merged = sparse.csr_array(merged[active])
    merged.sort_indices()
    position = np.full(n_candidates, -1, dtype=np.int64)
    position[active] = np.arange(len(active))
    mapped = position[conflicts]
    group = np.full(n_demand, -1, dtype=np.int64)
    group[in_play] = group_of_column
    return _Reduced(
        matrix=merged,
        by_group=sparse.csc_array(merged),
        weight=np.bincount(group_of_column, weights=w[in_play], minlength=len(first)),
        active=active,
        group=group,
        conflicts=mapped[(mapped >= 0).all(axis=1)],
        weights=w,
        covered=is_covered,
        uncoverable=np.flatnonzero(open_demand & ~reached),
    )


def _merge_identical_columns(sub: sparse.csc_array) -> tuple[np.ndarray, np.ndarray]:
    """Group of each column (same rows, same group) and the first column of each group."""
    indptr, indices = sub.indptr, sub.indices
    groups: dict[bytes, int] = {}
    group_of_column = np.empty(sub.shape[1], dtype=np.int64)
    for column in range(sub.shape[1]):
        key = indices[indptr[column] : indptr[column + 1]].tobytes()
        group_of_column[column] = groups.setdefault(key, len(groups))
    _, first = np.unique(group_of_column, return_index=True)
    return group_of_column, first.astype(np.int64)


def _gather(indptr: np.ndarray, indices: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Concatenated ``indices[indptr[i]:indptr[i + 1]]`` over ``items``."""
    items = np.asarray(items, dtype=np.int64)
    starts = indptr[items]
    lengths = indptr[items + 1] - starts
    total = int(lengths.sum())
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return np.asarray(indices[offsets + np.arange(total)], dtype=np.int64)


# --------------------------------------------------------------------------------------
# Solving: greedy, MILP, and the choice between them
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Found:
    """A candidate solution on the reduced problem (``order``: active rows, ranked)."""

    order: np.ndarray
    gains: np.ndarray
    group_served: np.ndarray
    objective: float
    complete: bool = True


@dataclass(frozen=True, eq=False)
class _Model:
    cost: np.ndarray
    constraints: list[LinearConstraint]
    integrality: np.ndarray
    bounds: Bounds
    decode: Callable[[np.ndarray], _Found]


def _top_sum(values: np.ndarray, k: int) -> float:
    """Sum of the ``k`` largest values, negatives counted as 0."""
    positive = np.maximum(values, 0.0)
    if k <= 0:
        return 0.0
    if k >= len(positive):
        return float(positive.sum())
    return float(np.partition(positive, len(positive) - k)[len(positive) - k :].sum())


def _gap(objective: float, bound: float) -> float:
    difference = abs(bound - objective)
    if difference <= 1e-9 * max(1.0, abs(bound)):
        return 0.0
    return difference / abs(objective) if objective else math.inf


def _covered_groups(reduced: _Reduced, order: np.ndarray) -> np.ndarray:
    served = np.zeros(reduced.n_groups)
    hit = reduced.rows(order)
    served[hit] = reduced.weight[hit]
    return served


def _ranked_cover(reduced: _Reduced, chosen: np.ndarray, problem: SitingObjective) -> _Found:
    """Chosen active rows ranked by marginal gain, each after those ranked before it."""
    remaining = [int(j) for j in chosen]
    open_group = np.ones(reduced.n_groups, dtype=bool)
    indptr, indices = reduced.matrix.indptr, reduced.matrix.indices
    order: list[int] = []
    gains: list[float] = []
    while remaining:
        step = [
            float(reduced.weight[g[open_group[g]]].sum())
            for g in (indices[indptr[j] : indptr[j + 1]] for j in remaining)
        ]
        best = remaining.pop(int(np.argmax(step)))
        open_group[indices[indptr[best] : indptr[best + 1]]] = False
        order.append(best)
        gains.append(max(step))
    ranked = np.asarray(order, dtype=np.int64)
    served = _covered_groups(reduced, ranked)
    objective = float(served.sum()) if problem == "max_cover" else float(len(ranked))
    return _Found(ranked, np.asarray(gains), served, objective, bool(open_group.sum() == 0))


def _greedy_cover(reduced: _Reduced, count: int | None) -> tuple[_Found, float]:
    """Greedy maximal covering (``count``) or set covering (``count=None``), with a bound.

    Maximal covering takes the largest demand gain; set covering the most uncovered groups
    (then the most demand). Ties go to the lowest position. Gains are kept up to date by
    subtracting each newly covered group from the candidates that reach it.
    """
    n_a = reduced.n_active
    csr, csc, weight = reduced.matrix, reduced.by_group, reduced.weight
    gains = np.asarray(csr @ weight, dtype=np.float64)
    counts = np.diff(csr.indptr).astype(np.float64)
    largest = int(counts.max()) if n_a else 0
    open_group = np.ones(reduced.n_groups, dtype=bool)
    allowed = np.ones(n_a, dtype=bool)
    taken = np.zeros(n_a, dtype=bool)
    neighbours = reduced.neighbours()
    limit = n_a if count is None else count
    covered = 0.0
    bound = float(weight.sum())
    order: list[int] = []
    step_gains: list[float] = []
    while len(order) < limit:
        if count is not None:
            # Submodularity: the optimum is at most what is covered plus the best gains.
            bound = min(bound, covered + _top_sum(gains[~taken], count))
            score = np.where(allowed, gains, -np.inf)
            j = int(np.argmax(score)) if n_a else -1
            if j < 0 or score[j] <= reduced.tolerance:
                break
        else:
            score = np.where(allowed, counts, 0.0)
            if not n_a or score.max() <= 0:
                break
            j = int(np.argmax(np.where(score == score.max(), gains, -np.inf)))
        reached = csr.indices[csr.indptr[j] : csr.indptr[j + 1]]
        new = reached[open_group[reached]]
        open_group[new] = False
        lengths = csc.indptr[new + 1] - csc.indptr[new]
        rows = _gather(csc.indptr, csc.indices, new)
        gains -= np.bincount(rows, weights=np.repeat(weight[new], lengths), minlength=n_a)
        counts -= np.bincount(rows, minlength=n_a)
        covered += float(weight[new].sum())
        taken[j] = True
        allowed[j] = False
        if neighbours is not None:
            allowed[neighbours[j]] = False
        order.append(j)
        step_gains.append(float(weight[new].sum()))
    ranked = np.asarray(order, dtype=np.int64)
    served = _covered_groups(reduced, ranked)
    complete = not open_group.any()
    if count is not None:
        bound = min(bound, covered + _top_sum(gains[~taken], count))
        if neighbours is None and covered > 0:
            bound = min(bound, covered / (1.0 - 1.0 / math.e))
        if n_a and bound - covered > reduced.tolerance:
            bound = min(bound, _lagrangian_bound(reduced, count, covered))
        found = _Found(ranked, np.asarray(step_gains), served, covered, complete)
        return found, max(bound, covered)
    lower = float(math.ceil(reduced.n_groups / largest)) if largest else 0.0
    if neighbours is None and order:
        # Greedy uses at most H(d) times the optimum, d the largest set (Chvátal 1979).
        harmonic = float(np.sum(1.0 / np.arange(1, largest + 1)))
        lower = max(lower, float(math.ceil(len(order) / harmonic - 1e-9)))
    return _Found(ranked, np.asarray(step_gains), served, float(len(order)), complete), lower


def _lagrangian_bound(reduced: _Reduced, count: int, lower: float, steps: int = 200) -> float:
    """Upper bound on maximal covering from relaxing ``z_i ≤ Σ_j a_ij y_j`` with ``λ_i``.

    ``L(λ) = Σ_i (w_i − λ_i) + (sum of the count largest (Aλ)_j)`` for ``0 ≤ λ ≤ w`` bounds
    the optimum (``λ = w`` gives the first-step bound); its minimum, sought by subgradient
    steps (Polyak's rule towards ``lower``), is the LP relaxation's value.
    """
    weight, matrix = reduced.weight, reduced.matrix
    multipliers = weight.copy()
    best = math.inf
    scale, since_best = 2.0, 0
    for _ in range(steps):
        gains = np.asarray(matrix @ multipliers)
        kept = min(count, len(gains))
        top = np.argpartition(gains, len(gains) - kept)[len(gains) - kept :]
        value = float((weight - multipliers).sum() + np.maximum(gains[top], 0.0).sum())
        if value < best * (1.0 - 1e-9):
            best, since_best = value, 0
        else:
            since_best += 1
            if since_best >= 10:
                scale, since_best = scale / 2.0, 0
        subgradient = np.bincount(reduced.rows(top), minlength=reduced.n_groups) - 1.0
        # Projected: no step out of the box 0 ≤ λ ≤ w.
        subgradient[(multipliers >= weight) & (subgradient < 0)] = 0.0
        subgradient[(multipliers <= 0) & (subgradient > 0)] = 0.0
        norm = float(subgradient @ subgradient)
        if norm == 0 or best - lower <= reduced.tolerance or scale < 1e-4:
            break
        step = scale * max(value - lower, reduced.tolerance) / norm
        multipliers = np.clip(multipliers - step * subgradient, 0.0, weight)
    return best


def _greedy_capacitated(
    reduced: _Reduced, cap: np.ndarray, count: int | None
) -> tuple[_Found, float]:
    """Greedy: each next site serves the most it can; points with fewest options go first."""
    n_a = reduced.n_active
    csr = reduced.matrix
    remaining = reduced.weight.copy()
    options = np.diff(reduced.by_group.indptr)
    allowed = np.ones(n_a, dtype=bool)
    neighbours = reduced.neighbours()
    first_gains = np.minimum(cap, csr @ remaining)
    order: list[int] = []
    assigned: list[float] = []
    while len(order) < (n_a if count is None else count):
        score = np.where(allowed, np.minimum(cap, csr @ remaining), -np.inf)
        j = int(np.argmax(score)) if n_a else -1
        if j < 0 or score[j] <= reduced.tolerance:
            break
        groups = csr.indices[csr.indptr[j] : csr.indptr[j + 1]]
        groups = groups[np.lexsort((groups, options[groups]))]
        take = remaining[groups]
        amount = np.clip(cap[j] - (np.cumsum(take) - take), 0.0, take)
        remaining[groups] -= amount
        allowed[j] = False
        if neighbours is not None:
            allowed[neighbours[j]] = False
        order.append(j)
        assigned.append(float(amount.sum()))
    served = float(sum(assigned))
    top = np.sort(np.maximum(first_gains, 0.0))[::-1]
    if count is not None:
        # No site serves more than its first-step gain.
        bound = max(min(float(reduced.weight.sum()), float(top[:count].sum())), served)
        objective = served
    else:
        # Serving as much as greedy did takes at least as many sites as the best gains need.
        needed = int(np.searchsorted(np.cumsum(top), served - reduced.tolerance)) + 1
        bound = float(min(needed, len(order))) if served > 0 else 0.0
        objective = float(len(order))
    found = _Found(
        np.asarray(order, dtype=np.int64),
        np.asarray(assigned),
        reduced.weight - remaining,
        objective,
    )
    return found, bound


def _spacing_rows(reduced: _Reduced, n_variables: int) -> list[LinearConstraint]:
    pairs = reduced.conflicts
    if not len(pairs):
        return []
    rows = np.repeat(np.arange(len(pairs)), 2)
    matrix = sparse.csr_array(
        (np.ones(2 * len(pairs)), (rows, pairs.ravel())), shape=(len(pairs), n_variables)
    )
    return [LinearConstraint(matrix, -np.inf, 1.0)]


def _sum_row(columns: np.ndarray, n_variables: int) -> sparse.csr_array:
    return sparse.csr_array(
        (np.ones(len(columns)), (np.zeros(len(columns), dtype=np.int64), columns)),
        shape=(1, n_variables),
    )


def _cover_model(reduced: _Reduced, count: int | None) -> _Model:
    """MCLP: max w·z, z_i ≤ Σ a_ij y_j, Σ y ≤ count; LSCP: min Σ y, Σ a_ij y_j ≥ 1."""
    n_a, n_g = reduced.n_active, reduced.n_groups
    spacing = _spacing_rows(reduced, n_a + (n_g if count is not None else 0))
    if count is None:
        return _Model(
            cost=np.ones(n_a),
            constraints=[
                LinearConstraint(sparse.csr_array(reduced.matrix.T), 1.0, np.inf),
                *spacing,
            ],
            integrality=np.ones(n_a),
            bounds=Bounds(0.0, 1.0),
            decode=lambda x: _ranked_cover(reduced, np.flatnonzero(x > 0.5), "set_cover"),
        )
    link = sparse.hstack([-reduced.matrix.T, sparse.eye_array(n_g)], format="csr")
    return _Model(
        cost=np.concatenate([np.zeros(n_a), -reduced.weight]),
        constraints=[
            LinearConstraint(link, -np.inf, 0.0),
            LinearConstraint(_sum_row(np.arange(n_a), n_a + n_g), -np.inf, float(count)),
            *spacing,
        ],
        integrality=np.concatenate([np.ones(n_a), np.zeros(n_g)]),
        bounds=Bounds(0.0, 1.0),
        decode=lambda x: _ranked_cover(reduced, np.flatnonzero(x[:n_a] > 0.5), "max_cover"),
    )


def _capacitated_model(
    reduced: _Reduced, cap: np.ndarray, count: int | None, time_limit_s: float, gap: float
) -> _Model | str:
    """Variables y_j (open) and x_ij (demand of group i served by j, in [0, w_i]).

    Σ_j x_ij ≤ w_i; Σ_i x_ij ≤ c_j y_j; x_ij ≤ w_i y_j (redundant, but it tightens the
    relaxation a lot). With ``count``: Σ y ≤ count, max Σ x. Without: first the most the
    candidates can serve together (an LP), then min Σ y serving that much. Returns a
    message instead when that LP does not finish.
    """
    n_a, n_g = reduced.n_active, reduced.n_groups
    pairs = sparse.coo_array(reduced.matrix)
    site, group = pairs.row.astype(np.int64), pairs.col.astype(np.int64)
    n_x = len(site)
    n_var = n_a + n_x
    x_col = n_a + np.arange(n_x)
    ones = np.ones(n_x)
    w_of_pair = reduced.weight[group]
    demand_rows = sparse.csr_array((ones, (group, x_col)), shape=(n_g, n_var))
    capacity_rows = sparse.csr_array(
        (
            np.concatenate([-cap, ones]),
            (np.concatenate([np.arange(n_a), site]), np.concatenate([np.arange(n_a), x_col])),
        ),
        shape=(n_a, n_var),
    )
    link_rows = sparse.csr_array(
        (
            np.concatenate([ones, -w_of_pair]),
            (np.tile(np.arange(n_x), 2), np.concatenate([x_col, site])),
        ),
        shape=(n_x, n_var),
    )
    constraints = [
        LinearConstraint(demand_rows, -np.inf, reduced.weight),
        LinearConstraint(capacity_rows, -np.inf, 0.0),
        LinearConstraint(link_rows, -np.inf, 0.0),
        *_spacing_rows(reduced, n_var),
    ]
    upper = np.concatenate([np.ones(n_a), w_of_pair])
    most_served = np.concatenate([np.zeros(n_a), -ones])
    if count is not None:
        constraints.append(LinearConstraint(_sum_row(np.arange(n_a), n_var), -np.inf, count))
        cost = most_served
    else:
        every_site = Bounds(np.concatenate([np.ones(n_a), np.zeros(n_x)]), upper)
        most = _run_milp(most_served, constraints, np.zeros(n_var), every_site, time_limit_s, gap)
        if most.status != 0:
            return f"the most servable demand could not be computed ({most.message})"
        servable = -float(most.fun)
        target = servable - max(reduced.tolerance, 1e-7 * servable)
        cost = np.concatenate([np.ones(n_a), np.zeros(n_x)])
    base_constraints = list(constraints)
    if count is None:
        constraints.append(LinearConstraint(_sum_row(x_col, n_var), target, np.inf))

    def decode(x: np.ndarray) -> _Found:
        y = x[:n_a] > 0.5
        if count is None:
            # The sites serve at least the target; serve all they can (an LP, sites fixed).
            fixed = Bounds(np.concatenate([y, np.zeros(n_x)]), np.concatenate([y, upper[n_a:]]))
            most = _run_milp(most_served, base_constraints, np.zeros(n_var), fixed, 60.0, 0.0)
            x = np.asarray(most.x) if most.x is not None else x
        amounts = np.where(y[site], np.clip(x[n_a:], 0.0, None), 0.0)
        per_site = np.bincount(site, weights=amounts, minlength=n_a)
        chosen = np.flatnonzero(y)
        ranked = chosen[np.lexsort((chosen, -per_site[chosen]))]
        served = np.minimum(np.bincount(group, weights=amounts, minlength=n_g), reduced.weight)
        objective = float(per_site.sum()) if count is not None else float(len(ranked))
        return _Found(ranked, per_site[ranked], served, objective)

    return _Model(
        cost=cost,
        constraints=constraints,
        integrality=np.concatenate([np.ones(n_a), np.zeros(n_x)]),
        bounds=Bounds(np.zeros(n_var), upper),
        decode=decode,
    )


def _run_milp(
    cost: np.ndarray,
    constraints: list[LinearConstraint],
    integrality: np.ndarray,
    bounds: Bounds,
    time_limit_s: float,
    mip_rel_gap: float,
) -> OptimizeResult:
    return milp(
        cost,
        constraints=constraints,
        integrality=integrality,
        bounds=bounds,
        options={"time_limit": max(float(time_limit_s), 0.01), "mip_rel_gap": mip_rel_gap},
    )


@dataclass(frozen=True)
class _Settings:
    problem: SitingObjective
    capacitated: bool
    method: SitingMethod
    time_limit_s: float
    mip_rel_gap: float
    milp_size_limit: int


def _solve(
    reduced: _Reduced,
    settings: _Settings,
    greedy: tuple[_Found, float],
    model: Callable[[float], _Model | str],
    started: float,
) -> SitingSolution:
    """Greedy, or the MILP with greedy as the fall-back when it stops without proof."""
    if settings.method not in ("auto", "milp", "greedy"):
        raise InputError(f"method must be 'auto', 'milp' or 'greedy', got {settings.method!r}")
    if not settings.time_limit_s > 0:
        raise InputError(f"time_limit_s must be positive seconds, got {settings.time_limit_s}")
    if not 0 <= settings.mip_rel_gap < 1:
        raise InputError(f"mip_rel_gap must be in [0, 1), got {settings.mip_rel_gap}")

    def done(
        found: _Found,
        method: Literal["milp", "greedy"],
        status: str,
        bound: float,
        gap: float | None = None,
        notes: Sequence[str] = (),
    ) -> SitingSolution:
        served = np.zeros(len(reduced.weights))
        in_play = np.flatnonzero(reduced.group >= 0)
        weight = reduced.weight[reduced.group[in_play]]
        share = np.divide(
            found.group_served[reduced.group[in_play]],
            weight,
            out=np.zeros(len(weight)),
            where=weight > 0,
        )
        served[in_play] = reduced.weights[in_play] * np.clip(share, 0.0, 1.0)
        before = float(reduced.weights[reduced.covered].sum())
        return SitingSolution(
            problem=settings.problem,
            capacitated=settings.capacitated,
            chosen=reduced.active[found.order],
            gains=np.asarray(found.gains, dtype=np.float64),
            covered_before=before,
            covered_after=before + float(served.sum()),
            total_demand=float(reduced.weights.sum()),
            method=method,
            status=status,
            objective=found.objective,
            bound=float(bound),
            gap=_gap(found.objective, bound) if gap is None else gap,
            seconds=time.perf_counter() - started,
            served=served,
            uncoverable=reduced.uncoverable,
            notes=tuple(notes),
        )

    maximise = settings.problem == "max_cover"
    found, greedy_bound = greedy
    size = reduced.n_active + reduced.n_groups + reduced.matrix.nnz * (1 + 2 * settings.capacitated)
    method = settings.method
    if method == "auto":
        method = "milp" if size <= settings.milp_size_limit else "greedy"
    if method == "greedy":
        if found.complete or maximise:
            return done(found, "greedy", "greedy", greedy_bound)
        notes = ["greedy could not cover every coverable point"]
        return done(found, "greedy", "incomplete", greedy_bound, notes=notes)
    # Greedy capacitated set covering may serve less than the most servable: never final.
    comparable = maximise or (found.complete and not settings.capacitated)
    if settings.method == "auto" and comparable and _gap(found.objective, greedy_bound) == 0:
        return done(found, "greedy", "optimal", greedy_bound, 0.0)  # greedy met its bound
    if reduced.n_active == 0 or reduced.n_groups == 0:
        return done(found, "milp", "optimal", found.objective, 0.0)
    built = model(settings.time_limit_s - (time.perf_counter() - started))
    if isinstance(built, str):
        return done(found, "greedy", "time_limit", greedy_bound, notes=[built])
    seconds_left = settings.time_limit_s - (time.perf_counter() - started)
    result = _run_milp(
        built.cost,
        built.constraints,
        built.integrality,
        built.bounds,
        seconds_left,
        settings.mip_rel_gap,
    )
    if result.status == 2:
        raise InfeasibleError(
            "no set of new sites the minimum spacing apart covers every coverable point (or "
            "serves all the servable demand); lower the spacing, add candidates, or give a count"
        )
    dual = float(result.mip_dual_bound) if result.mip_dual_bound is not None else math.nan
    dual = (-dual if maximise else dual) + 0.0  # no -0.0
    bound = greedy_bound
    if math.isfinite(dual):
        bound = min(dual, greedy_bound) if maximise else max(dual, greedy_bound)
    if result.x is not None and result.status in (0, 1):
        solved = built.decode(np.asarray(result.x))
        if result.status == 0:
            gap = result.mip_gap if result.mip_gap is not None else math.nan
            return done(solved, "milp", "optimal", dual, gap if math.isfinite(gap) else None)
        notes = [f"the MILP stopped before proving optimality: {result.message}"]
        if maximise:
            greedy_better = found.objective > solved.objective
        else:
            greedy_better = comparable and found.objective < solved.objective
        if not greedy_better:
            return done(solved, "milp", "time_limit", bound, notes=notes)
        notes.append("the greedy solution is better than the MILP's best and is returned")
    else:
        notes = [f"the MILP found no solution ({result.message}); the greedy one is returned"]
    return done(found, "greedy", "time_limit", bound, notes=notes)


def _check_count(count: int | None) -> int:
    if count is None:
        raise InputError("give the number of new sites (count)")
    if isinstance(count, bool) or int(count) != count or count < 0:
        raise InputError(f"the number of new sites must be a whole number ≥ 0, got {count!r}")
    return int(count)


# --------------------------------------------------------------------------------------
# The three problems
# --------------------------------------------------------------------------------------


def maximal_covering(
    coverage: Any,
    weights: Any,
    count: int,
    *,
    covered: Any = None,
    min_spacing_m: float | None = None,
    spacing_costs: CostMatrix | None = None,
    method: SitingMethod = "auto",
    time_limit_s: float = 30.0,
    mip_rel_gap: float = DEFAULT_MIP_REL_GAP,
    milp_size_limit: int = DEFAULT_MILP_SIZE_LIMIT,
) -> SitingSolution:
    """At most ``count`` new sites newly covering the most demand (MCLP).

    Parameters
    ----------
    coverage : scipy.sparse array or numpy.ndarray
        Candidates × demand points, non-zero where the candidate is within the walking
        threshold of the point on the network (see :func:`coverage_from_costs`).
    weights : array_like
        Demand of each point (residents), non-negative.
    count : int
        Most new sites; fewer are chosen when more would add nothing.
    covered : array_like of bool, optional
        Points covered by existing facilities: they stay covered and gain nothing.
    min_spacing_m : float, optional
        Minimum walking distance (metres) between two new sites.
    spacing_costs : CostMatrix, optional
        Candidate × candidate walking distances up to at least ``min_spacing_m`` (see
        :func:`candidate_distances`); required with ``min_spacing_m``.
    method : {"auto", "milp", "greedy"}
        Exact MILP (HiGHS), greedy, or MILP up to ``milp_size_limit`` and greedy above.
    time_limit_s : float
        Time limit (seconds); the best solution found by then is returned with its gap.
    mip_rel_gap : float
        Relative gap at which HiGHS stops as optimal.
    milp_size_limit : int
        Model size (variables + coefficients) above which ``"auto"`` uses greedy.

    Returns
    -------
    SitingSolution
        ``objective``: newly covered demand; ``bound``: upper bound on its optimum.
    """
    started = time.perf_counter()
    k = _check_count(count)
    reduced = _reduce(coverage, weights, covered, min_spacing_m, spacing_costs)
    settings = _Settings("max_cover", False, method, time_limit_s, mip_rel_gap, milp_size_limit)
    greedy = _greedy_cover(reduced, k)
    return _solve(reduced, settings, greedy, lambda _: _cover_model(reduced, k), started)


def set_covering(
    coverage: Any,
    weights: Any,
    *,
    covered: Any = None,
    min_spacing_m: float | None = None,
    spacing_costs: CostMatrix | None = None,
    method: SitingMethod = "auto",
    time_limit_s: float = 30.0,
    mip_rel_gap: float = DEFAULT_MIP_REL_GAP,
    milp_size_limit: int = DEFAULT_MILP_SIZE_LIMIT,
) -> SitingSolution:
    """The fewest new sites covering every uncovered point some candidate reaches (LSCP).

    Points with demand that no candidate reaches are listed in ``uncoverable``; points
    without demand need no cover. Parameters are those of :func:`maximal_covering`.

    Returns
    -------
    SitingSolution
        ``objective``: number of sites; ``bound``: lower bound on its optimum.

    Raises
    ------
    InfeasibleError
        When the minimum spacing makes covering every coverable point impossible.
    """
    started = time.perf_counter()
    reduced = _reduce(coverage, weights, covered, min_spacing_m, spacing_costs)
    settings = _Settings("set_cover", False, method, time_limit_s, mip_rel_gap, milp_size_limit)
    greedy = _greedy_cover(reduced, None)
    return _solve(reduced, settings, greedy, lambda _: _cover_model(reduced, None), started)


def capacitated_covering(
    coverage: Any,
    weights: Any,
    capacity: Any,
    count: int | None = None,
    *,
    covered: Any = None,
    min_spacing_m: float | None = None,
    spacing_costs: CostMatrix | None = None,
    method: SitingMethod = "auto",
    time_limit_s: float = 30.0,
    mip_rel_gap: float = DEFAULT_MIP_REL_GAP,
    milp_size_limit: int = DEFAULT_MILP_SIZE_LIMIT,
) -> SitingSolution:
    """Serve uncovered demand from new sites within their threshold, each up to its capacity.

    With ``count``: at most ``count`` sites, the most demand served (``"max_cover"``).
    Without: the fewest sites serving all the demand the candidates together can serve
    (``"set_cover"``). A point's demand may be split between sites. Other parameters are
    those of :func:`maximal_covering`.

    Parameters
    ----------
    capacity : array_like
        Per candidate, the demand it can serve in persons (convert places or m² with a
        per-resident ratio first), non-negative.
    count : int, optional
        Most new sites.

    Returns
    -------
    SitingSolution
        ``gains``: demand assigned to each site; ``served``: per demand point.
    """
    started = time.perf_counter()
    k = None if count is None else _check_count(count)
    cap_all = np.asarray(capacity, dtype=np.float64).reshape(-1)
    n_candidates = np.shape(coverage)[0]
    if len(cap_all) != n_candidates:
        raise InputError(f"{len(cap_all)} capacities given for {n_candidates} candidates")
    bad = np.flatnonzero(~np.isfinite(cap_all) | (cap_all < 0))
    if len(bad):
        raise InputError(
            "capacities must be finite and non-negative (persons); check candidates "
            + ", ".join(str(int(b)) for b in bad[:_MAX_LISTED])
        )
    reduced = _reduce(coverage, weights, covered, min_spacing_m, spacing_costs, cap_all > 0)
    cap = cap_all[reduced.active]
    problem: SitingObjective = "max_cover" if k is not None else "set_cover"
    settings = _Settings(problem, True, method, time_limit_s, mip_rel_gap, milp_size_limit)
    greedy = _greedy_capacitated(reduced, cap, k)

    def model(seconds_left: float) -> _Model | str:
        return _capacitated_model(reduced, cap, k, seconds_left, mip_rel_gap)

    return _solve(reduced, settings, greedy, model, started)


# --------------------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Candidates:
    """Candidate sites joined to the network.

    Attributes
    ----------
    sites : geopandas.GeoDataFrame
        One Point per candidate (WGS-84): ``candidate_id``, ``source`` (``"layer"`` or
        ``"network"``), ``routable``, ``access_m``, ``unroutable_reason``, and the layer's
        own columns, or ``node_id``, ``osmid`` and ``potential`` (uncovered demand within
        the threshold) for network nodes.
    snapped : Snapped
        The candidates joined to the network (``owner``: row position in ``sites``).
    """

    sites: gpd.GeoDataFrame
    snapped: Snapped

    def __len__(self) -> int:
        return len(self.sites)


def _joined(network: StreetNetwork, sites: gpd.GeoDataFrame, max_snap_m: float) -> Candidates:
    """Join WGS-84 candidate points to the network as facility points are joined."""
    snapped = snap_points(network, sites.geometry, max_snap_m=max_snap_m)
    access = np.full(len(sites), np.nan)
    access[snapped.owner] = snapped.access_m
    reasons = np.full(len(sites), "", dtype=object)
    reasons[snapped.unroutable["owner"].to_numpy(dtype=np.int64)] = snapped.unroutable["reason"]
    if len(snapped.unroutable):
        warnings.warn(
            f"{len(snapped.unroutable)} of {len(sites)} candidate sites could not join the "
            "walkable network and cannot be chosen (see their 'unroutable_reason')",
            stacklevel=3,
        )
    sites = sites.assign(routable=np.isfinite(access), access_m=access, unroutable_reason=reasons)
    return Candidates(sites=sites, snapped=snapped)


def candidates_from_frame(
    network: StreetNetwork,
    frame: gpd.GeoDataFrame,
    *,
    id_column: str | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> Candidates:
    """Candidate sites from a user layer of points or plots, joined to the network.

    A plot (polygon) stands at its representative point (a point inside it), joined to
    the nearest walkable street like a facility point, with its access leg.

    Parameters
    ----------
    network : StreetNetwork
        The network.
    frame : geopandas.GeoDataFrame
        Candidate points or plots, with a CRS.
    id_column : str, optional
        Column of unique ids; default the first of ``candidate_id``, ``site_id``, ``id``,
        ``编号`` present, else the row number (from 1).
    max_snap_m : float
        Largest access leg (metres); farther candidates are unroutable (kept, never chosen).

    Returns
    -------
    Candidates
        Plots also get ``plot_area_m2`` (square metres; NaN for points).

    Raises
    ------
    CRSError
        When the layer has no CRS.
    InputError
        For rows without a location, or missing or repeated ids.
    """
    if frame.crs is None:
        raise CRSError(
            "the candidate layer has no coordinate reference system; save it with one "
            "(e.g. EPSG:4326) or set it with GeoDataFrame.set_crs"
        )
    geometry = frame.geometry.to_numpy()
    missing = np.flatnonzero(shapely.is_missing(geometry) | shapely.is_empty(geometry))
    if len(missing):
        raise InputError(
            "candidate rows without a location (empty or missing geometry): "
            + _listed(missing + 1)
            + "; remove them or give them a point or plot"
        )
    types = shapely.get_type_id(geometry)
    points = np.where(types == 0, geometry, shapely.point_on_surface(geometry))
    data = pd.DataFrame(frame.drop(columns=frame.geometry.name)).reset_index(drop=True)
    data.insert(0, "candidate_id", _candidate_ids(frame, id_column))
    data["source"] = "layer"
    is_area = (types == 3) | (types == 6)
    if is_area.any():
        area = np.full(len(frame), np.nan)
        area[is_area] = frame.geometry[is_area].to_crs(network.crs).area.to_numpy()
        data["plot_area_m2"] = area
    wgs = gpd.GeoSeries(points, crs=frame.crs).to_crs(WGS84)
    return _joined(network, gpd.GeoDataFrame(data, geometry=wgs.to_numpy(), crs=WGS84), max_snap_m)


def _listed(values: np.ndarray | list[str]) -> str:
    items = [str(v) for v in values]
    more = len(items) - _MAX_LISTED
    return ", ".join(items[:_MAX_LISTED]) + (f" ... and {more} more" if more > 0 else "")


def _candidate_ids(frame: gpd.GeoDataFrame, id_column: str | None) -> list[str]:
    if id_column is not None and id_column not in frame.columns:
        raise InputError(
            f"the candidate layer has no column {id_column!r}; its columns are "
            + ", ".join(str(c) for c in frame.columns)
        )
    names = ("candidate_id", "site_id", "id", "编号")
    column = id_column or next((c for c in names if c in frame.columns), None)
    if column is None:
        return [str(k + 1) for k in range(len(frame))]
    ids = [str(v).strip() if pd.notna(v) else "" for v in frame[column]]
    blank = [str(k + 1) for k, i in enumerate(ids) if not i]
    if blank:
        raise InputError(f"candidate ids missing in column {column!r} at rows {_listed(blank)}")
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise InputError(
            f"candidate ids repeated in column {column!r}: {_listed(repeated)}; give each "
            "candidate its own id"
        )
    return ids


def candidates_from_network(
    network: StreetNetwork,
    uncovered_points: gpd.GeoSeries,
    *,
    threshold_m: float,
    weights: Any = None,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> Candidates:
    """Walkable network nodes in under-served areas, as candidate sites.

    The candidates are the network nodes within ``threshold_m`` of walking of at least one
    uncovered demand point; a node's ``potential`` is the uncovered demand within that
    walk. Beyond ``max_candidates`` they are thinned deterministically: on a square grid
    each cell keeps its node of highest potential (lowest node position on ties), the
    cells growing by 10 % until at most ``max_candidates`` remain.

    Parameters
    ----------
    network : StreetNetwork
        The network.
    uncovered_points : geopandas.GeoSeries
        Demand points not yet covered, with a CRS.
    threshold_m : float
        Walking threshold (metres).
    weights : array_like, optional
        Demand of each point (default 1 each).
    max_candidates : int
        Most candidates returned.
    max_snap_m : float
        Largest access leg (metres) of the demand points.

    Returns
    -------
    Candidates
        In node order.
    """
    if max_candidates < 1:
        raise InputError(f"max_candidates must be at least 1, got {max_candidates}")
    if not threshold_m > 0:
        raise InputError(f"threshold_m must be positive metres, got {threshold_m}")
    n_points = len(uncovered_points)
    if uncovered_points.crs is None and n_points:
        raise CRSError("the uncovered demand points have no coordinate reference system")
    w = np.ones(n_points) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    if len(w) != n_points:
        raise InputError(f"{len(w)} weights given for {n_points} demand points")
    n_nodes = network.n_nodes
    potential: np.ndarray = np.zeros(n_nodes)
    reached = np.zeros(n_nodes, dtype=bool)
    if n_points:
        snapped = snap_points(network, uncovered_points, max_snap_m=max_snap_m)
        graph = build_routing_graph(network, snapped)
        offsets = snapped.access_m
        matrix = bounded_distances(
            graph, graph.set_nodes[0], snapped.owner, n_points, threshold_m, source_offset_m=offsets
        )
        on_network = matrix.node < n_nodes
        reached[matrix.node[on_network]] = True
        potential = np.bincount(
            matrix.node[on_network], weights=w[matrix.source[on_network]], minlength=n_nodes
        )
    chosen = np.flatnonzero(reached)
    if len(chosen) > max_candidates:
        geometry = network.nodes.geometry.to_numpy()[chosen]
        xy = np.column_stack([shapely.get_x(geometry), shapely.get_y(geometry)])
        chosen = chosen[_thin(xy, potential[chosen], max_candidates)]
    nodes = network.nodes.iloc[chosen]
    osmid = nodes["osmid"].to_numpy()
    sites = gpd.GeoDataFrame(
        {
            "candidate_id": [
                f"node/{o}" if o >= 0 else f"node#{n}" for o, n in zip(osmid, chosen, strict=True)
            ],
            "node_id": chosen,
            "osmid": osmid,
            "potential": np.round(potential[chosen], 6),
            "source": "network",
        },
        geometry=shapely.points(nodes["lon"].to_numpy(), nodes["lat"].to_numpy()),
        crs=WGS84,
    )
    return _joined(network, sites, max_snap_m)


def _thin(xy: np.ndarray, score: np.ndarray, n_max: int) -> np.ndarray:
    """Positions kept: the best-scoring point per grid cell, cells grown until ≤ n_max."""
    low = xy.min(axis=0)
    size = float(max(np.ptp(xy[:, 0]), np.ptp(xy[:, 1]), 1.0)) / (2.0 * math.sqrt(n_max))
    index = np.arange(len(xy))
    while True:
        cells = np.floor((xy - low) / size).astype(np.int64)
        key = cells[:, 0] * (int(cells[:, 1].max()) + 1) + cells[:, 1]
        order = np.lexsort((index, -score, key))
        first = np.ones(len(order), dtype=bool)
        first[1:] = key[order][1:] != key[order][:-1]
        if int(first.sum()) <= n_max:
            return np.sort(order[first])
        size *= 1.1


# --------------------------------------------------------------------------------------
# The whole chain
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SitingResult:
    """New sites for one category, with the analysis before and after adding them.

    Attributes
    ----------
    sites : geopandas.GeoDataFrame
        The chosen sites (WGS-84 points): ``site_id``, ``rank`` (1 first), ``category``,
        ``residents_gained`` (marginal gain, or residents assigned when capacitated),
        ``capacity`` (persons; NaN when uncapacitated), ``candidate_id``, ``access_m``.
    solution : SitingSolution
        The solver's outcome (positions refer to ``candidates.sites``).
    summary : dict
        Category, threshold, candidates, solver figures, coverage before and after per
        threshold, and district shortfalls before and after for the category's rules.
    before, after : AnalysisResult
        The analysis of the category without and with the new sites.
    candidates : Candidates
        The candidates considered.
    """

    sites: gpd.GeoDataFrame
    solution: SitingSolution
    summary: dict[str, Any]
    before: AnalysisResult
    after: AnalysisResult
    candidates: Candidates


def site_facilities(
    inputs: AnalysisInputs,
    config: AnalyzeConfig,
    *,
    category: str,
    count: int | None = None,
    threshold: str | float | None = None,
    candidates: gpd.GeoDataFrame | Candidates | None = None,
    capacity: str | float | Sequence[float] | np.ndarray | None = None,
    per_resident: float | None = None,
    min_spacing_m: float | None = None,
    objective: SitingObjective = "max_cover",
    method: SitingMethod = "auto",
    time_limit_s: float = 30.0,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
    mip_rel_gap: float = DEFAULT_MIP_REL_GAP,
    milp_size_limit: int = DEFAULT_MILP_SIZE_LIMIT,
) -> SitingResult:
    """Choose new sites for one category; report coverage and shortfall before and after.

    Analyses the category, solves on the candidate × resident walking-distance matrix
    (both joined to the streets as in the analysis), and analyses again with the sites.

    Parameters
    ----------
    inputs : AnalysisInputs
        What :func:`radius.pipeline.load_analysis_inputs` read.
    config : AnalyzeConfig
        Analysis parameters; only ``category`` is computed.
    category : str
        Category id of the new facilities.
    count : int, optional
        Number of new sites; required for ``objective="max_cover"``.
    threshold : str or float, optional
        Threshold label (e.g. ``"5min"``) or minutes; default the threshold of the
        standard's coverage rule for the category, else its first.
    candidates : geopandas.GeoDataFrame or Candidates, optional
        Candidate points or plots; default network nodes within the threshold of
        uncovered residents (:func:`candidates_from_network`).
    capacity : str, float or array_like, optional
        Capacity of each candidate: a column of the candidates, one number for all, or one
        per candidate; in persons, or in places/m² with ``per_resident``.
    per_resident : float, optional
        Capacity units one resident needs (e.g. 0.1 m²): persons = capacity / per_resident.
    min_spacing_m : float, optional
        Minimum walking distance (metres) between two new sites.
    objective : {"max_cover", "set_cover"}
        Most residents newly covered by ``count`` sites, or fewest sites covering every
        coverable resident (with capacity: serving all that can be served).
    method, time_limit_s, mip_rel_gap, milp_size_limit
        Solver settings (see :func:`maximal_covering`).
    max_candidates : int
        Most network-node candidates when ``candidates`` is not given.

    Returns
    -------
    SitingResult

    Raises
    ------
    InputError
        For an unknown category or threshold, a missing or extra count, bad capacities.
    InfeasibleError
        When covering every coverable resident under the minimum spacing is impossible.
    """
    started = time.perf_counter()
    if objective not in ("max_cover", "set_cover"):
        raise InputError(f"objective must be 'max_cover' or 'set_cover', got {objective!r}")
    if objective == "max_cover":
        _check_count(count)
    elif count is not None:
        raise InputError("set covering finds the number of sites itself: give no count")
    if min_spacing_m is not None and not min_spacing_m >= 0:
        raise InputError(f"min_spacing_m must be non-negative metres, got {min_spacing_m}")
    run_config = dataclasses.replace(
        config, reach=dataclasses.replace(config.reach, categories=(category,))
    )
    before = analyze(inputs, run_config)
    label, threshold_m = _resolve_threshold(before, category, threshold)
    network, residents = inputs.network, inputs.residents
    max_snap_m = config.reach.max_snap_m
    weights = residents["population"].to_numpy(dtype=np.float64)
    covered = before.residents[f"{category}_covered_{label}"].to_numpy(dtype=bool)

    demand = snap_points(network, residents.geometry, max_snap_m=max_snap_m)
    if candidates is None:
        open_rows = demand.owner[~covered[demand.owner] & (weights[demand.owner] > 0)]
        site_candidates = candidates_from_network(
            network,
            residents.geometry.iloc[open_rows],
            threshold_m=threshold_m,
            weights=weights[open_rows],
            max_candidates=max_candidates,
            max_snap_m=max_snap_m,
        )
    elif isinstance(candidates, Candidates):
        site_candidates = candidates
    else:
        site_candidates = candidates_from_frame(network, candidates, max_snap_m=max_snap_m)
    n_candidates = len(site_candidates)
    joined = site_candidates.snapped
    graph = build_routing_graph(network, joined, demand)
    matrix = bounded_distances(
        graph,
        graph.set_nodes[0],
        joined.owner,
        n_candidates,
        threshold_m,
        source_offset_m=joined.access_m,
    )
    to_residents = restrict_to_nodes(matrix, graph.set_nodes[1], demand.access_m)
    costs = dataclasses.replace(
        to_residents, node=demand.owner[to_residents.node], n_nodes=len(residents)
    )
    spacing_costs = None
    if min_spacing_m:
        between = candidate_distances(graph, graph.set_nodes[0], joined.access_m, min_spacing_m)
        spacing_costs = dataclasses.replace(
            between,
            source=joined.owner[between.source],
            node=joined.owner[between.node],
            n_sources=n_candidates,
            n_nodes=n_candidates,
        )
    capacities = _capacities(site_candidates, capacity, per_resident)
    options: dict[str, Any] = {
        "covered": covered,
        "min_spacing_m": min_spacing_m or None,
        "spacing_costs": spacing_costs,
        "method": method,
        "time_limit_s": time_limit_s,
        "mip_rel_gap": mip_rel_gap,
        "milp_size_limit": milp_size_limit,
    }
    coverage = coverage_from_costs(costs, threshold_m)
    if capacities is not None:
        solution = capacitated_covering(coverage, weights, capacities, count, **options)
    elif objective == "max_cover":
        solution = maximal_covering(coverage, weights, _check_count(count), **options)
    else:
        solution = set_covering(coverage, weights, **options)

    sites = _site_frame(site_candidates, solution, category, capacities)
    chosen = site_candidates.sites.iloc[solution.chosen]
    after = analyze(inputs, run_config, proposals=_proposals(inputs.facilities, chosen, sites))
    summary = {
        "category": category,
        "threshold": label,
        "threshold_m": round(threshold_m, 3),
        "candidates": n_candidates,
        "routable_candidates": int(site_candidates.sites["routable"].sum()),
        "candidate_source": ",".join(sorted(set(site_candidates.sites["source"]))) or "none",
        "solution": solution.summary(),
        "residents_gained": round(solution.newly_covered, 3),
        **_before_after(before, after, category),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return SitingResult(sites, solution, summary, before, after, site_candidates)


def _resolve_threshold(
    before: AnalysisResult, category: str, threshold: str | float | None
) -> tuple[str, float]:
    reach = before.reach.categories[0]
    labels = reach.labels
    if threshold is None:
        coverage_rules = [
            rule.threshold
            for rule in before.standard.rules
            if rule.category == category and rule.metric == "coverage"
        ]
        label = next((t for t in coverage_rules if t in labels), labels[0])
    else:
        label = threshold.strip() if isinstance(threshold, str) else f"{float(threshold):g}min"
    if label not in labels:
        raise InputError(
            f"category {category} has no threshold {label!r}; its thresholds are "
            + ", ".join(labels)
        )
    return label, float(reach.thresholds_m[labels.index(label)])


def _capacities(
    candidates: Candidates,
    capacity: str | float | Sequence[float] | np.ndarray | None,
    per_resident: float | None,
) -> np.ndarray | None:
    """Capacity of each candidate in persons; None when uncapacitated."""
    if capacity is None:
        if per_resident is not None:
            raise InputError("per_resident converts a capacity: give the capacity too")
        return None
    n = len(candidates)
    if isinstance(capacity, str):
        if capacity not in candidates.sites.columns:
            raise InputError(
                f"the candidates have no capacity column {capacity!r}; their columns are "
                + ", ".join(str(c) for c in candidates.sites.columns if c != "geometry")
            )
        values = pd.to_numeric(candidates.sites[capacity], errors="coerce").to_numpy(np.float64)
    else:
        values = np.broadcast_to(np.asarray(capacity, dtype=np.float64), (n,)).copy()
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if len(bad):
        raise InputError(
            "capacities must be non-negative numbers; check candidates "
            + _listed(list(candidates.sites["candidate_id"].astype(str).to_numpy()[bad]))
        )
    if per_resident is not None:
        if not per_resident > 0:
            raise InputError(f"per_resident must be positive, got {per_resident}")
        values = values / float(per_resident)
    return values


def _site_frame(
    candidates: Candidates,
    solution: SitingSolution,
    category: str,
    capacities: np.ndarray | None,
) -> gpd.GeoDataFrame:
    rank = np.arange(1, len(solution.chosen) + 1)
    chosen = candidates.sites.iloc[solution.chosen]
    return gpd.GeoDataFrame(
        {
            "site_id": [f"{category}:proposed/{r}" for r in rank],
            "rank": rank,
            "category": category,
            "residents_gained": np.round(solution.gains, 6),
            "capacity": np.nan if capacities is None else capacities[solution.chosen],
            "candidate_id": chosen["candidate_id"].astype(str).to_numpy(),
            "access_m": chosen["access_m"].to_numpy(dtype=np.float64),
        },
        geometry=chosen.geometry.to_numpy(),
        crs=WGS84,
    )


def _proposals(
    facilities: gpd.GeoDataFrame, chosen: gpd.GeoDataFrame, sites: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """The chosen sites in the facilities layout (for :func:`radius.pipeline.analyze`).

    Capacity columns of the layout (``floor_area_m2``, ``beds``, ...) present among the
    candidates' columns are carried over, so ratio rules count the new supply.
    """
    names = chosen["name"].fillna("").astype(str) if "name" in chosen.columns else None
    data: dict[str, Any] = {
        "facility_id": sites["site_id"].to_numpy(),
        "name": [
            (names.iloc[k] if names is not None else "") or f"proposed site {k + 1}"
            for k in range(len(sites))
        ],
        "category": sites["category"].to_numpy(),
        "source": "proposed",
    }
    for column in CAPACITY_COLUMNS:
        data[column] = (
            pd.to_numeric(chosen[column], errors="coerce").to_numpy(np.float64)
            if column in chosen.columns
            else np.full(len(sites), np.nan)
        )
    data["entrances"] = np.full(len(sites), None, dtype=object)
    frame = gpd.GeoDataFrame(data, geometry=sites.geometry.to_numpy(), crs=WGS84)
    extra = [c for c in facilities.columns if c not in FACILITY_COLUMNS]
    return frame.assign(**{c: pd.NA for c in extra})[[*FACILITY_COLUMNS, *extra]]


def _before_after(before: AnalysisResult, after: AnalysisResult, category: str) -> dict[str, Any]:
    """Coverage per threshold and the category's rules' district shortfalls, before/after."""
    coverage: dict[str, Any] = {}
    total = float(before.residents["population"].sum())
    for label in before.reach.categories[0].labels:
        column = f"{category}_covered_{label}"
        item: dict[str, float] = {}
        for when, result in (("before", before), ("after", after)):
            covered = result.residents[column].to_numpy(dtype=bool)
            residents = float(result.residents["population"].to_numpy(np.float64)[covered].sum())
            item[f"residents_{when}"] = round(residents, 3)
            item[f"share_{when}"] = round(residents / total, 4) if total > 0 else 0.0
        coverage[label] = item
    rules: dict[str, Any] = {}
    for rule in before.rules.itertuples():
        if rule.category != category:
            continue
        rid = str(rule.id)
        rules[rid] = {"unit": rule.unit, "districts": len(before.districts)}
        for when, result in (("before", before), ("after", after)):
            districts = result.districts
            rules[rid][f"shortfall_{when}"] = round(float(districts[f"{rid}_shortfall"].sum()), 3)
            rules[rid][f"districts_passing_{when}"] = int(districts[f"{rid}_pass"].sum())
    return {"coverage": coverage, "rules": rules}
