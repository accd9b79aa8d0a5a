"""Siting of new facilities on real data: candidates, the cost matrix, before and after.

The matrix solvers below live in :mod:`radius.covering` and are re-exported here.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from radius._batch_job import SiteRequest
from radius._errors import CRSError, InfeasibleError, InputError
from radius._files import read_vector_layer
from radius.covering import (
    DEFAULT_MILP_SIZE_LIMIT,
    DEFAULT_MIP_REL_GAP,
    SitingMethod,
    SitingObjective,
    SitingSolution,
    candidate_distances,
    capacitated_covering,
    check_count,
    coverage_from_costs,
    maximal_covering,
    set_covering,
    spacing_conflicts,
)
from radius.facilities import CAPACITY_COLUMNS, FACILITY_COLUMNS
from radius.i18n import Language, message, warn
from radius.network import StreetNetwork
from radius.paths import bounded_distances, restrict_to_nodes
from radius.pipeline import AnalysisInputs, AnalysisResult, AnalyzeConfig, analyze
from radius.snap import (
    DEFAULT_MAX_SNAP_M,
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
    "run_site_request",
    "set_covering",
    "site_facilities",
    "spacing_conflicts",
]

WGS84 = "EPSG:4326"


DEFAULT_MAX_CANDIDATES = 1000
"""Most network-node candidates :func:`candidates_from_network` keeps."""

_MAX_LISTED = 20


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
        warn("candidates_unroutable", stacklevel=3, n=len(snapped.unroutable), total=len(sites))
    reason = pd.Series(reasons, index=sites.index, dtype="object")  # Messages, kept so
    sites = sites.assign(routable=np.isfinite(access), access_m=access, unroutable_reason=reason)
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
        raise CRSError(message("siting_candidates_no_crs"))
    geometry = frame.geometry.to_numpy()
    missing = np.flatnonzero(shapely.is_missing(geometry) | shapely.is_empty(geometry))
    if len(missing):
        raise InputError(message("siting_candidates_no_location", rows=_listed(missing + 1)))
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
    """The first :data:`_MAX_LISTED` values, comma-separated; a message saying how many
    more there are when there are more (it is localised with the error it is part of)."""
    items = [str(v) for v in values]
    more = len(items) - _MAX_LISTED
    shown = ", ".join(items[:_MAX_LISTED])
    return message("siting_listed_more", items=shown, more=more) if more > 0 else shown


def _candidate_ids(frame: gpd.GeoDataFrame, id_column: str | None) -> list[str]:
    if id_column is not None and id_column not in frame.columns:
        raise InputError(
            message(
                "siting_candidates_no_id_column",
                column=repr(id_column),
                available=", ".join(str(c) for c in frame.columns),
            )
        )
    names = ("candidate_id", "site_id", "id", "编号")
    column = id_column or next((c for c in names if c in frame.columns), None)
    if column is None:
        return [str(k + 1) for k in range(len(frame))]
    ids = [str(v).strip() if pd.notna(v) else "" for v in frame[column]]
    blank = [str(k + 1) for k, i in enumerate(ids) if not i]
    if blank:
        raise InputError(
            message("siting_candidate_ids_missing", column=repr(column), rows=_listed(blank))
        )
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise InputError(
            message("siting_candidate_ids_repeated", column=repr(column), ids=_listed(repeated))
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
    within: shapely.Geometry | None = None,
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
    within : shapely.Geometry, optional
        An area (WGS-84): only nodes inside it or on its edge are candidates.

    Returns
    -------
    Candidates
        In node order.
    """
    if max_candidates < 1:
        raise InputError(message("siting_max_candidates", given=max_candidates))
    if not threshold_m > 0:
        raise InputError(message("siting_threshold_not_positive", given=threshold_m))
    n_points = len(uncovered_points)
    if uncovered_points.crs is None and n_points:
        raise CRSError(message("siting_demand_no_crs"))
    w = np.ones(n_points) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    if len(w) != n_points:
        raise InputError(message("siting_weights_length", n=len(w), points=n_points))
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
    if within is not None:
        nodes = network.nodes
        reached &= shapely.intersects_xy(
            within, nodes["lon"].to_numpy(np.float64), nodes["lat"].to_numpy(np.float64)
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
    districts: Sequence[str] | None = None,
    size: float | Mapping[str, float] | None = None,
    keep_all: bool = False,
    lang: Language = "zh",
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
    districts : sequence of str, optional
        Site for these districts (ids of ``inputs.districts``) only: only their residents
        count as demand, in the solve and in the coverage before and after, only
        candidates inside them are considered, and only their rows enter the shortfalls.
        Residents around them still take part in the analysis (2SFCA). Default: all.
    size : float or mapping, optional
        Size of every new site, in the supply of the category's ratio rules
        (``floor_area_m2``, ``land_area_m2``, ``beds``, ``places``): one number for each
        such supply, or a mapping supply → number. Without it a site takes the candidates'
        own column of that supply when given, else what closes the shortfall of its unit
        (the district it lies in, or the nearest) under the category's rules, shared
        among the unit's new sites and at least the rules' minimum site (``min_site``);
        ``size_basis`` of the sites says which. The sizes
        count as supply in the analysis after, so per-capita figures change.
    keep_all : bool
        Every candidate becomes a site (a what-if: the planner's own sites). The solver
        ranks them; candidates that newly cover nobody follow with zero gain instead of
        being left out, so a report lists every proposed site.
    lang : {"zh", "en"}
        Language of the names given to unnamed sites in the analysis after (拟建设施 1,
        proposed site 1): the language of the run's map and tables.

    Returns
    -------
    SitingResult

    Raises
    ------
    InputError
        For an unknown category or threshold, a missing or extra count, bad capacities,
        or unknown district ids.
    InfeasibleError
        When no candidate lies inside the districts, or covering every coverable resident
        under the minimum spacing is impossible.
    """
    started = time.perf_counter()
    if objective not in ("max_cover", "set_cover"):
        raise InputError(message("siting_objective", given=repr(objective)))
    if objective == "max_cover":
        check_count(count)
    elif count is not None:
        raise InputError(message("siting_count_with_set_cover"))
    if min_spacing_m is not None and not min_spacing_m >= 0:
        raise InputError(message("siting_spacing_negative", given=min_spacing_m))
    run_config = dataclasses.replace(
        config, reach=dataclasses.replace(config.reach, categories=(category,))
    )
    before = analyze(inputs, run_config)
    label, threshold_m = _resolve_threshold(before, category, threshold)
    network, residents = inputs.network, inputs.residents
    max_snap_m = config.reach.max_snap_m
    counted, area = _district_scope(before, districts)
    weights = np.where(counted, residents["population"].to_numpy(dtype=np.float64), 0.0)
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
            within=area,
        )
    elif isinstance(candidates, Candidates):
        site_candidates = candidates
    else:
        site_candidates = candidates_from_frame(
            network, _inside(candidates, area, districts), max_snap_m=max_snap_m
        )
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
        solution = maximal_covering(coverage, weights, check_count(count), **options)
    else:
        solution = set_covering(coverage, weights, **options)

    if keep_all:
        solution = _with_every_candidate(solution, n_candidates)
    sites = _site_frame(site_candidates, solution, category, capacities)
    chosen = site_candidates.sites.iloc[solution.chosen]
    units = _site_units(before, sites) if len(sites) else np.zeros(0, dtype=np.int64)
    sizes, basis = _site_sizes(before, category, chosen, sites, size, units)
    unit_ids = before.districts["district_id"].astype(str).to_numpy()[units]
    sites = sites.assign(district_id=unit_ids, **sizes, size_basis=basis)
    proposals = _proposals(inputs.facilities, chosen, sites, lang)
    after = analyze(inputs, run_config, proposals=proposals)
    summary = {
        "category": category,
        "threshold": label,
        "threshold_m": round(threshold_m, 3),
        "candidates": n_candidates,
        "routable_candidates": int(site_candidates.sites["routable"].sum()),
        "candidate_source": ",".join(sorted(set(site_candidates.sites["source"]))) or "none",
        "solution": solution.summary(),
        "residents_gained": round(solution.newly_covered, 3),
        **_before_after(before, after, category, counted, districts),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return SitingResult(sites, solution, summary, before, after, site_candidates)


def run_site_request(
    inputs: AnalysisInputs, config: AnalyzeConfig, request: SiteRequest, *, lang: Language = "zh"
) -> SitingResult:
    """:func:`site_facilities` for a siting request of a job file or the command line.

    Parameters
    ----------
    inputs : AnalysisInputs
        What :func:`radius.pipeline.load_analysis_inputs` read.
    config : AnalyzeConfig
        Analysis parameters.
    request : SiteRequest
        The request; its candidates file, if any, is read here.
    lang : {"zh", "en"}
        Language of the run's outputs (see :func:`site_facilities`).

    Returns
    -------
    SitingResult
    """
    candidates = (
        read_vector_layer(request.candidates, None, what="candidates")
        if request.candidates is not None
        else None
    )
    return site_facilities(
        inputs,
        config,
        category=request.category,
        count=request.count,
        threshold=request.threshold,
        candidates=candidates,
        capacity=request.capacity,
        per_resident=request.per_resident,
        min_spacing_m=request.min_spacing_m,
        objective=request.objective,
        method=request.method,
        time_limit_s=request.time_limit_s,
        districts=request.districts,
        size=request.size
        if not isinstance(request.size, dict)
        else {str(k): v for k, v in request.size.items()},
        lang=lang,
    )


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
            message(
                "siting_unknown_threshold",
                category=category,
                threshold=repr(label),
                known=", ".join(labels),
            )
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
            raise InputError(message("siting_per_resident_without_capacity"))
        return None
    n = len(candidates)
    if isinstance(capacity, str):
        if capacity not in candidates.sites.columns:
            raise InputError(
                message(
                    "siting_no_capacity_column",
                    column=repr(capacity),
                    available=", ".join(
                        str(c) for c in candidates.sites.columns if c != "geometry"
                    ),
                )
            )
        values = pd.to_numeric(candidates.sites[capacity], errors="coerce").to_numpy(np.float64)
    else:
        values = np.broadcast_to(np.asarray(capacity, dtype=np.float64), (n,)).copy()
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if len(bad):
        ids = list(candidates.sites["candidate_id"].astype(str).to_numpy()[bad])
        raise InputError(message("siting_capacities_invalid", ids=_listed(ids)))
    if per_resident is not None:
        if not per_resident > 0:
            raise InputError(message("siting_per_resident_not_positive", given=per_resident))
        values = values / float(per_resident)
    return values


def _with_every_candidate(solution: SitingSolution, n_candidates: int) -> SitingSolution:
    """``solution`` with the candidates it did not choose appended, in order, gaining 0."""
    rest = np.setdiff1d(np.arange(n_candidates), solution.chosen, assume_unique=False)
    if not len(rest):
        return solution
    return dataclasses.replace(
        solution,
        chosen=np.concatenate([np.asarray(solution.chosen, dtype=np.int64), rest]),
        gains=np.concatenate([np.asarray(solution.gains, dtype=np.float64), np.zeros(len(rest))]),
    )


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


def _ratio_supplies(before: AnalysisResult, category: str) -> dict[str, list[str]]:
    """Supply column → ids of the category's ratio rules (not coverage) counting it."""
    supplies: dict[str, list[str]] = {}
    for rule in before.standard.rules:
        # A rule counts the category when it is its own or one it includes (another tier).
        if category in rule.categories and rule.supply in CAPACITY_COLUMNS:
            supplies.setdefault(str(rule.supply), []).append(rule.id)
    return supplies


def _site_sizes(
    before: AnalysisResult,
    category: str,
    chosen: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    size: float | Mapping[str, float] | None,
    units: np.ndarray,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """The size of each new site per supply column, and how it was found (``size_basis``).

    ``units``: row position in ``before.districts`` of each site's unit.

    A user ``size`` first, then the candidates' own column, then what closes the
    shortfall of the site's unit (largest over the rules counting that supply), shared
    equally among the new sites in the unit, and at least the standard's minimum site
    (``min_site`` of those rules). ``size_basis``: ``user``, ``candidates``, ``shortfall``
    or ``min_site``, per supply (``"floor_area_m2=min_site; land_area_m2=shortfall"``)
    when they differ.
    """
    supplies = _ratio_supplies(before, category)
    if isinstance(size, Mapping):
        unknown = sorted(set(size) - set(CAPACITY_COLUMNS))
        if unknown:
            raise InputError(
                message(
                    "siting_size_unknown_supply",
                    unknown=", ".join(unknown),
                    known=", ".join(CAPACITY_COLUMNS),
                )
            )
        supplies = {**{c: supplies.get(c, []) for c in size}, **supplies}
    n = len(sites)
    sizes: dict[str, np.ndarray] = {}
    bases: dict[str, np.ndarray] = {}
    for column, rule_ids in supplies.items():
        values = np.full(n, np.nan)
        basis = np.full(n, "none", dtype=object)
        given = size.get(column) if isinstance(size, Mapping) else size
        if given is not None:
            if not (math.isfinite(float(given)) and float(given) >= 0):
                raise InputError(message("siting_size_negative", supply=column, given=given))
            values[:] = float(given)
            basis[:] = "user"
        else:
            if column in chosen.columns:
                own = pd.to_numeric(chosen[column], errors="coerce").to_numpy(np.float64)
                values = np.where(np.isfinite(own) & (own >= 0), own, np.nan)
                basis[np.isfinite(values)] = "candidates"
            open_ = ~np.isfinite(values)
            if open_.any() and rule_ids:
                shortfall = np.zeros(n)
                per_unit = np.bincount(units, minlength=len(before.districts)).astype(np.float64)
                for rid in rule_ids:
                    column_name = f"{rid}_shortfall"
                    if column_name not in before.districts.columns:
                        continue
                    unit_short = before.districts[column_name].to_numpy(np.float64)[units]
                    shortfall = np.maximum(shortfall, unit_short / per_unit[units])
                least = _least_site(before, rule_ids)
                values[open_] = np.round(np.maximum(shortfall[open_], least), 3)
                by_minimum = open_ & (shortfall < least)
                basis[open_] = np.where(by_minimum[open_], "min_site", "shortfall")
        least = _least_site(before, rule_ids)
        small = np.isfinite(values) & (values < least)
        if small.any():
            warn(
                "site_below_min_site",
                stacklevel=3,
                n=int(small.sum()),
                category=category,
                supply=column,
                least=f"{least:g}",
            )
        sizes[column] = values
        bases[column] = basis
    return sizes, [_basis_text({c: b[k] for c, b in bases.items()}) for k in range(n)]


def _basis_text(by_column: Mapping[str, str]) -> str:
    """``"shortfall"`` when every supply was sized alike, else ``"floor_area_m2=min_site; ..."``."""
    if len(set(by_column.values())) <= 1:
        return next(iter(by_column.values()), "none")
    return "; ".join(f"{column}={basis}" for column, basis in sorted(by_column.items()))


def _least_site(before: AnalysisResult, rule_ids: Sequence[str]) -> float:
    """The largest ``min_site`` of the rules (0 when none sets one)."""
    wanted = set(rule_ids)
    return max(
        (float(r.min_site) for r in before.standard.rules if r.id in wanted and r.min_site),
        default=0.0,
    )


def _site_units(before: AnalysisResult, sites: gpd.GeoDataFrame) -> np.ndarray:
    """Row position in ``before.districts`` of the unit each site lies in, or the nearest."""
    districts = before.districts
    metric = before.reach.network.crs
    units = gpd.GeoDataFrame(geometry=districts.geometry.to_crs(metric).to_numpy(), crs=metric)
    points = gpd.GeoDataFrame(geometry=sites.geometry.to_crs(metric).to_numpy(), crs=metric)
    joined = gpd.sjoin_nearest(points, units, how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    return joined["index_right"].to_numpy(dtype=np.int64)


def _proposals(
    facilities: gpd.GeoDataFrame,
    chosen: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    lang: Language,
) -> gpd.GeoDataFrame:
    """The chosen sites in the facilities layout (for :func:`radius.pipeline.analyze`).

    A site keeps its candidate's name; an unnamed one is "proposed site k" (拟建设施 k) in
    ``lang``, the language of the run's outputs.

    Capacity columns of the layout (``floor_area_m2``, ``beds``, ...) come from the sites'
    sizes (:func:`_site_sizes`), else from the candidates' own columns, so ratio rules
    count the new supply.
    """
    names = chosen["name"].fillna("").astype(str) if "name" in chosen.columns else None
    data: dict[str, Any] = {
        "facility_id": sites["site_id"].to_numpy(),
        "name": [
            (names.iloc[k] if names is not None else "")
            or message("siting_proposed_site", k=k + 1).text(lang)
            for k in range(len(sites))
        ],
        "category": sites["category"].to_numpy(),
        "source": "proposed",
    }
    for column in CAPACITY_COLUMNS:
        source = sites if column in sites.columns else chosen
        data[column] = (
            pd.to_numeric(source[column], errors="coerce").to_numpy(np.float64)
            if column in source.columns
            else np.full(len(sites), np.nan)
        )
    data["entrances"] = np.full(len(sites), None, dtype=object)
    frame = gpd.GeoDataFrame(data, geometry=sites.geometry.to_numpy(), crs=WGS84)
    extra = [c for c in facilities.columns if c not in FACILITY_COLUMNS]
    return frame.assign(**{c: pd.NA for c in extra})[[*FACILITY_COLUMNS, *extra]]


def _district_scope(
    before: AnalysisResult, districts: Sequence[str] | None
) -> tuple[np.ndarray, shapely.Geometry | None]:
    """Residents counted as demand, and the area (WGS-84) new sites must lie in (None: any)."""
    if districts is None:
        return np.ones(len(before.residents), dtype=bool), None
    wanted = [str(d) for d in districts]
    known = before.districts["district_id"].astype(str)
    known_ids = set(known)
    unknown = [d for d in wanted if d not in known_ids]
    if not wanted or unknown:
        if unknown:
            raise InputError(
                message(
                    "siting_unknown_districts",
                    named=_listed([repr(d) for d in unknown]),
                    known=_listed(known.tolist()),
                )
            )
        raise InputError(message("siting_no_districts", known=_listed(known.tolist())))
    chosen = before.districts[known.isin(wanted).to_numpy()]
    area = shapely.union_all(chosen.to_crs(WGS84).geometry.to_numpy())
    counted = before.residents["district_id"].astype(str).isin(wanted).to_numpy()
    return counted, area


def _inside(
    frame: gpd.GeoDataFrame, area: shapely.Geometry | None, districts: Sequence[str] | None
) -> gpd.GeoDataFrame:
    """The candidate rows that touch ``area``; all of them when there is no area."""
    if area is None or frame.crs is None:
        return frame
    touching = frame.geometry.to_crs(WGS84).intersects(area).to_numpy()
    if not touching.any():
        raise InfeasibleError(
            message(
                "siting_no_candidate_inside",
                n=len(frame),
                districts=_listed(list(districts or ())),
            )
        )
    return frame[touching]


def _before_after(
    before: AnalysisResult,
    after: AnalysisResult,
    category: str,
    counted: np.ndarray,
    districts: Sequence[str] | None,
) -> dict[str, Any]:
    """Coverage per threshold and the category's rules' district shortfalls, before/after.

    Only the ``counted`` residents and the rows of ``districts`` (default all) are summed.
    """
    coverage: dict[str, Any] = {}
    population = before.residents["population"].to_numpy(np.float64)
    total = float(population[counted].sum())
    for label in before.reach.categories[0].labels:
        column = f"{category}_covered_{label}"
        item: dict[str, float] = {}
        for when, result in (("before", before), ("after", after)):
            covered = result.residents[column].to_numpy(dtype=bool) & counted
            residents = float(population[covered].sum())
            item[f"residents_{when}"] = round(residents, 3)
            item[f"share_{when}"] = round(residents / total, 4) if total > 0 else 0.0
        coverage[label] = item
    wanted = None if districts is None else [str(d) for d in districts]

    def scoped(rows: pd.DataFrame) -> pd.DataFrame:
        return rows if wanted is None else rows[rows["district_id"].astype(str).isin(wanted)]

    rules: dict[str, Any] = {}
    counting = {r.id for r in before.standard.rules if category in r.categories}
    for rule in before.rules.itertuples():
        if rule.id not in counting:
            continue
        rid = str(rule.id)
        rules[rid] = {"unit": rule.unit, "districts": len(scoped(before.districts))}
        for when, result in (("before", before), ("after", after)):
            rows = scoped(result.districts)
            rules[rid][f"shortfall_{when}"] = round(float(rows[f"{rid}_shortfall"].sum()), 3)
            rules[rid][f"districts_passing_{when}"] = int(rows[f"{rid}_pass"].sum())
    return {"coverage": coverage, "rules": rules}
