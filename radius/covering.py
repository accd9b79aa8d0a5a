"""Covering problems on a network cost matrix: maximal, set and capacitated covering.

Pure matrix solvers (spopt's ``from_cost_matrix`` is the model): a candidate × demand
coverage relation taken from a *network* cost matrix, residents per demand point, and the
points existing facilities already cover. Solved exactly with :func:`scipy.optimize.milp`
(HiGHS) under a time limit, or greedily with a reported bound for very large instances.
:mod:`radius.siting` builds the matrices from real data and runs the whole chain.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, milp

from radius._errors import InfeasibleError, InputError
from radius.i18n import message
from radius.paths import CostMatrix, bounded_distances, restrict_to_nodes
from radius.snap import (
    RoutingGraph,
)

__all__ = [
    "DEFAULT_MILP_SIZE_LIMIT",
    "DEFAULT_MIP_REL_GAP",
    "SitingMethod",
    "SitingObjective",
    "SitingSolution",
    "candidate_distances",
    "capacitated_covering",
    "check_count",
    "coverage_from_costs",
    "maximal_covering",
    "set_covering",
    "spacing_conflicts",
]


SitingMethod = Literal["auto", "milp", "greedy"]
SitingObjective = Literal["max_cover", "set_cover"]

DEFAULT_MILP_SIZE_LIMIT = 100_000
"""Model size (variables + coefficients, after reduction) above which ``"auto"`` is greedy."""
DEFAULT_MIP_REL_GAP = 1e-6
"""Relative gap at which HiGHS stops as optimal (its own default, 1e-4, is coarser)."""

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
            message(
                "covering_threshold_over_limit",
                threshold=f"{threshold_m:g}",
                limit=f"{matrix.limit_m:g}",
            )
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
            message("covering_spacing_not_square", rows=costs.n_sources, columns=costs.n_nodes)
        )
    if min_spacing_m > costs.limit_m + _TOLERANCE_M:
        raise InputError(
            message(
                "covering_spacing_over_limit",
                spacing=f"{min_spacing_m:g}",
                limit=f"{costs.limit_m:g}",
            )
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
        raise InputError(message("covering_cost_matrix_given"))
    given = sparse.csr_array(coverage)
    given.sum_duplicates()
    matrix = sparse.csr_array(
        ((given.data != 0).astype(np.float64), given.indices, given.indptr), shape=given.shape
    )
    matrix.eliminate_zeros()
    n_candidates, n_demand = matrix.shape
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if len(w) != n_demand:
        raise InputError(message("covering_weights_length", n=len(w), points=n_demand))
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError(message("covering_weights_invalid"))
    is_covered = np.zeros(n_demand, dtype=bool) if covered is None else np.asarray(covered, bool)
    if is_covered.shape != (n_demand,):
        raise InputError(message("covering_covered_length", n=is_covered.size, points=n_demand))
    conflicts = np.empty((0, 2), dtype=np.int64)
    if min_spacing_m:
        if spacing_costs is None:
            raise InputError(message("covering_spacing_without_costs"))
        if spacing_costs.n_sources != n_candidates:
            raise InputError(
                message(
                    "covering_spacing_candidates",
                    spacing=spacing_costs.n_sources,
                    coverage=n_candidates,
                )
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
            return message("covering_most_servable_failed", reason=str(most.message))
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
        raise InputError(message("covering_method", given=repr(settings.method)))
    if not settings.time_limit_s > 0:
        raise InputError(message("covering_time_limit", given=settings.time_limit_s))
    if not 0 <= settings.mip_rel_gap < 1:
        raise InputError(message("covering_mip_gap", given=settings.mip_rel_gap))

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
        notes = [message("covering_greedy_incomplete")]
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
        raise InfeasibleError(message("covering_spacing_infeasible"))
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
        notes = [message("milp_stopped_unproven", reason=str(result.message))]
        if maximise:
            greedy_better = found.objective > solved.objective
        else:
            greedy_better = comparable and found.objective < solved.objective
        if not greedy_better:
            return done(solved, "milp", "time_limit", bound, notes=notes)
        notes.append(message("greedy_better_than_milp"))
    else:
        notes = [message("milp_no_solution", reason=str(result.message))]
    return done(found, "greedy", "time_limit", bound, notes=notes)


def check_count(count: int | None) -> int:
    """A maximal-covering site count, checked (a whole number ≥ 0)."""
    if count is None:
        raise InputError(message("covering_count_missing"))
    if isinstance(count, bool) or int(count) != count or count < 0:
        raise InputError(message("covering_count_invalid", given=repr(count)))
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
    k = check_count(count)
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
    k = None if count is None else check_count(count)
    cap_all = np.asarray(capacity, dtype=np.float64).reshape(-1)
    n_candidates = np.shape(coverage)[0]
    if len(cap_all) != n_candidates:
        raise InputError(
            message("covering_capacities_length", n=len(cap_all), candidates=n_candidates)
        )
    bad = np.flatnonzero(~np.isfinite(cap_all) | (cap_all < 0))
    if len(bad):
        listed = ", ".join(str(int(b)) for b in bad[:_MAX_LISTED])
        raise InputError(message("covering_capacities_invalid", rows=listed))
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
