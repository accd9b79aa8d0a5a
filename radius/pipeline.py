"""One reach run: configuration in, :class:`ReachResult` out. Pure: no UI, no file writing."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from radius._errors import InputError
from radius._validate import check_number
from radius._warnings import collect
from radius.config import (
    DEFAULT_THRESHOLD_BASIS,
    Category,
    ThresholdBasis,
    load_categories,
    load_speed_profiles,
    resolve_speed,
)
from radius.coords import convert_frame, offset_signature_on_tree
from radius.facilities import empty_facilities, facilities_from_osm, read_inventory
from radius.groups import GroupSource, complete_groups
from radius.i18n import message, message_of, warn
from radius.network import StreetNetwork, _is_osm_file, load_network
from radius.paths import CostMatrix, nearest_and_counts, restrict_to_nodes
from radius.plausibility import Plausibility
from radius.poi_exports import poi_export_kind, read_poi_export
from radius.reach import (
    FACILITY_AREA_BYTES_PER_PAIR,
    CategoryReach,
    ReachPlan,
    check_reach_memory,
    reach_category,
)
from radius.service_areas import (
    DEFAULT_BUFFER_M,
    EdgeCoordinates,
    reached_lines,
    reached_pieces,
    reached_polygons,
)
from radius.snap import (
    DEFAULT_MAX_SNAP_M,
    RoutingGraph,
    Snapped,
    build_routing_graph,
    facility_access_points,
    snap_points,
)

if TYPE_CHECKING:
    from radius.provision import ProvisionMethod
    from radius.standards import StandardProfile

# The analysis-only modules (demand, districts, provision, standards) are imported where an
# analysis uses them, so ``radius reach`` does not load them (0.14 s of CPU at load 13).

__all__ = [
    "AnalysisInputs",
    "AnalysisResult",
    "AnalyzeConfig",
    "PendingServiceAreas",
    "ReachConfig",
    "ReachResult",
    "analyze",
    "append_facilities",
    "compute_reach",
    "facility_service_areas",
    "load_analysis_inputs",
    "run_analysis",
    "run_reach",
    "start_service_areas",
]

WGS84 = "EPSG:4326"
SUPPLY_UNITS = {
    "land_area_m2": "m²",
    "floor_area_m2": "m²",
    "beds": "beds",
    "places": "places",
    "facilities": "residents",
    "units": "units",
}
"""Unit of a rule's required, supplied and shortfall totals, by the supply it counts."""


@dataclass(frozen=True)
class ReachConfig:
    """Everything a reach run needs.

    Attributes
    ----------
    network : Path
        Network file (OSM, GraphML or road centre lines).
    facilities : Path, optional
        Facility inventory; without it facilities come from the OSM network file.
    categories : tuple of str, optional
        Category ids; all categories of the config when omitted.
    speed_profile : str, optional
        Named walking-speed profile (``configs/speed_profiles.yaml``).
    speed_m_s : float, optional
        Explicit walking speed (m/s); wins over ``speed_profile``.
    threshold_basis : {"distance", "time"}
        ``"distance"`` (the default): the standard's walking distances (metres; GB 50180-2018,
        the profile choosing within each level's range); ``"time"``: minutes × the walking
        speed, each rule's demand group at its own speed (the elderly circle at the elderly
        speed).
    max_snap_m : float
        Largest access leg (metres) between a point and the street it joins.
    buffer_m : float
        Half-width (metres) of the service-area band around reached streets.
    crs : str
        Metric CRS: ``"auto"`` (UTM), ``"cgcs2000"`` or an EPSG code.
    facilities_crs : str, optional
        CRS of lon/lat columns in the inventory (default WGS-84).
    service_areas : bool
        Whether to build service-area lines and polygons.
    facility_areas : bool
        Whether to build a polygon per facility and threshold as well as per category
        (slower: see :func:`facility_service_areas` for them on demand).
    """

    network: Path
    facilities: Path | None = None
    categories: tuple[str, ...] | None = None
    speed_profile: str | None = None
    speed_m_s: float | None = None
    threshold_basis: ThresholdBasis = DEFAULT_THRESHOLD_BASIS
    max_snap_m: float = DEFAULT_MAX_SNAP_M
    buffer_m: float = DEFAULT_BUFFER_M
    crs: str = "auto"
    facilities_crs: str | None = None
    service_areas: bool = True
    facility_areas: bool = False

    def __post_init__(self) -> None:
        check_number("max_snap_m", self.max_snap_m, "max_snap")
        check_number("buffer_m", self.buffer_m, "buffer")
        check_number("speed_m_s", self.speed_m_s, "speed")


@dataclass(frozen=True, eq=False)
class ReachResult:
    """The outcome of a reach run; every frame is in WGS-84 for display.

    Attributes
    ----------
    network : StreetNetwork
        The analysed network (metric CRS).
    graph : RoutingGraph
        The routing graph (edges split at joined points).
    categories : tuple of CategoryReach
        Reach of each category.
    facilities : geopandas.GeoDataFrame
        Facilities with ``routable``, ``access_m`` and ``unroutable_reason`` columns.
    nodes : geopandas.GeoDataFrame
        Network nodes with ``{category}_dist_m``, ``{category}_min`` and
        ``{category}_n_{T}min`` columns: a property, made from ``categories`` on first use
        and kept (an analysis never needs it, and at a county's million nodes it holds
        430 MB).
    service_areas : geopandas.GeoDataFrame
        One polygon per category and threshold (``level == "category"``), and per
        facility and threshold (``level == "facility"``) when ``facility_areas`` was asked.
    reached_streets : geopandas.GeoDataFrame
        Reached street parts per category and threshold (the union over facilities).
    unroutable : geopandas.GeoDataFrame
        Facilities that could not join the network, with the reason.
    speed_m_s : float
        Walking speed used (m/s).
    threshold_basis : {"time", "distance"}
        How thresholds were turned into metres.
    demand_nodes : numpy.ndarray
        Per demand point, its join node in ``graph`` (-1 when unroutable).
    demand_access_m : numpy.ndarray
        Per demand point, its access leg (metres; NaN when unroutable).
    demand_unroutable : pandas.DataFrame
        Demand points that could not join: ``owner`` (position), ``reason``,
        ``nearest_street_m``.
    timings : dict
        Seconds per stage.
    notes : list of str
        Warnings raised during the run, for the summary.
    node_table : geopandas.GeoDataFrame, optional
        ``nodes`` once made (or given); None until then.
    """

    network: StreetNetwork
    graph: RoutingGraph
    categories: tuple[CategoryReach, ...]
    facilities: gpd.GeoDataFrame
    service_areas: gpd.GeoDataFrame
    reached_streets: gpd.GeoDataFrame
    unroutable: gpd.GeoDataFrame
    speed_m_s: float
    threshold_basis: ThresholdBasis
    demand_nodes: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    demand_access_m: np.ndarray = field(default_factory=lambda: np.empty(0))
    demand_unroutable: pd.DataFrame = field(default_factory=pd.DataFrame)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    node_table: gpd.GeoDataFrame | None = field(default=None, repr=False)

    @property
    def nodes(self) -> gpd.GeoDataFrame:
        """Network nodes with each category's distance, minutes and counts (see the class)."""
        table = self.node_table
        if table is None:
            table = _node_table(self.network, self.categories, self.speed_m_s)
            # Frozen for its users; the cache is filled once, on first use.
            object.__setattr__(self, "node_table", table)
        return table

    def summary(self) -> dict[str, Any]:
        """Network size, per-category facility counts and node shares, and timings."""
        per_category: dict[str, Any] = {}
        n_nodes = self.network.n_nodes
        for reach in self.categories:
            cid = reach.category.id
            rows = reach.facility_rows
            routable = int(self.facilities["routable"].to_numpy()[rows].sum()) if len(rows) else 0
            shares = {
                label: round(float((reach.counts[:n_nodes, i] > 0).mean()), 4)
                for i, label in enumerate(reach.labels)
            }
            per_category[cid] = {
                "name_zh": reach.category.name_zh,
                "name_en": reach.category.name_en,
                "facilities": len(rows),
                "routable_facilities": routable,
                "unroutable_facilities": len(rows) - routable,
                "thresholds": [
                    {"label": label, "minutes": t.minutes, "metres": round(float(m), 1)}
                    for label, t, m in zip(
                        reach.labels, reach.category.thresholds, reach.thresholds_m, strict=True
                    )
                ],
                "share_of_nodes_within": shares,
            }
        return {
            "network": self.network.summary(),
            "speed_m_s": self.speed_m_s,
            "threshold_basis": self.threshold_basis,
            "categories": per_category,
            "unroutable_facilities": len(self.unroutable),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "notes": list(self.notes),
            "attribution": "© OpenStreetMap contributors (ODbL) where the data is from OSM",
        }


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def run_reach(config: ReachConfig) -> ReachResult:
    """Load the inputs named in ``config`` and compute reach and service areas.

    Parameters
    ----------
    config : ReachConfig
        The run's inputs and parameters.

    Returns
    -------
    ReachResult

    Raises
    ------
    RadiusError
        For any bad input, with a message naming the file and the fix.
    """
    timings: dict[str, float] = {}
    categories = load_categories(ids=config.categories)
    speed = resolve_speed(config.speed_profile, config.speed_m_s)
    with collect() as caught:
        with _timed(timings, "read_network"):
            network = load_network(config.network, crs=config.crs)
        with _timed(timings, "read_facilities"):
            facilities = _read_facilities(config, categories, network)
        result = compute_reach(
            network,
            facilities,
            categories,
            speed_m_s=speed,
            threshold_basis=config.threshold_basis,
            max_snap_m=config.max_snap_m,
            buffer_m=config.buffer_m,
            service_areas=config.service_areas,
            facility_areas=config.facility_areas,
            timings=timings,
            source=config.facilities or config.network,
        )
    for item in caught:
        warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
        if str(item.message) not in result.notes:
            result.notes.append(message_of(item.message))
    return result


def compute_reach(
    network: StreetNetwork,
    facilities: gpd.GeoDataFrame,
    categories: tuple[Category, ...],
    *,
    speed_m_s: float,
    threshold_basis: ThresholdBasis = DEFAULT_THRESHOLD_BASIS,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    buffer_m: float = DEFAULT_BUFFER_M,
    service_areas: bool = True,
    facility_areas: bool = False,
    demand: gpd.GeoSeries | None = None,
    timings: dict[str, float] | None = None,
    threads: int | None = None,
    streets: bool = True,
    source: str | os.PathLike[str] | None = None,
) -> ReachResult:
    """Compute reach for categories on an already loaded network and facilities.

    Parameters
    ----------
    network : StreetNetwork
        The walkable network.
    facilities : geopandas.GeoDataFrame
        Facilities in the :mod:`radius.facilities` layout.
    categories : tuple of Category
        Categories to compute.
    speed_m_s : float
        Walking speed (m/s).
    threshold_basis : {"time", "distance"}
        How thresholds turn into metres.
    max_snap_m : float
        Largest access leg (metres).
    buffer_m : float
        Half-width (metres) of service-area polygons.
    service_areas : bool
        Whether to build service-area lines and polygons.
    facility_areas : bool
        Whether the service areas include one polygon per facility and threshold.
    demand : geopandas.GeoSeries, optional
        Demand points (residents); their results are on ``categories[i].demand_*``.
    timings : dict, optional
        Filled with seconds per stage.
    threads : int, optional
        Threads for the path searches.
    streets : bool
        Whether the service areas include the reached street pieces as lines
        (``ReachResult.reached_streets``); an analysis writes only the polygons, and at a
        county's size the lines cost seconds and gigabytes.
    source : str or Path, optional
        The file the facilities came from, named when the run would take more memory than
        ``RADIUS_MAX_REACH_BYTES`` allows.

    Returns
    -------
    ReachResult

    Raises
    ------
    InputError
        If the walking distances would take more memory than ``RADIUS_MAX_REACH_BYTES``
        (estimated before the searches: :func:`radius.reach.check_reach_memory`).
    """
    timings = {} if timings is None else timings
    notes: list[str] = []
    wanted = {c.id for c in categories}
    facilities = facilities[facilities["category"].isin(wanted)].reset_index(drop=True)

    with _timed(timings, "snap"):
        access_owner, access_points = facility_access_points(network, facilities)
        snapped = snap_points(
            network,
            access_points,
            max_snap_m=max_snap_m,
            owner=access_owner,
            n_owners=len(facilities),
        )
        if demand is not None:
            demand_snapped = snap_points(network, demand, max_snap_m=max_snap_m)
            graph = build_routing_graph(network, snapped, demand_snapped)
        else:
            demand_snapped = None
            graph = build_routing_graph(network, snapped)
    facilities = _facilities_with_access(facilities, snapped)

    reaches: list[CategoryReach] = []
    with _timed(timings, "reach"):
        category_values = facilities["category"].to_numpy()
        plans: list[ReachPlan] = []
        for category in categories:
            rows = np.flatnonzero(category_values == category.id)
            if len(rows) == 0:
                notes.append(
                    warn("category_without_facilities", stacklevel=2, category=category.id)
                )
            position_of_row = np.full(len(facilities), -1, dtype=np.int64)
            position_of_row[rows] = np.arange(len(rows))
            mine = position_of_row[snapped.owner] >= 0
            plans.append(
                ReachPlan(
                    category,
                    rows,
                    graph.set_nodes[0][mine],
                    position_of_row[snapped.owner[mine]],
                    snapped.access_m[mine],
                    max(t.distance_m(speed_m_s, threshold_basis) for t in category.thresholds),
                )
            )
        # Refused before the searches spend the memory (RADIUS_MAX_REACH_BYTES).
        check_reach_memory(
            graph,
            plans,
            source=None if source is None else str(source),
            facility_bytes_per_pair=FACILITY_AREA_BYTES_PER_PAIR
            if service_areas and facility_areas
            else 0,
        )
        for plan in plans:
            reaches.append(
                reach_category(
                    graph,
                    plan.category,
                    facility_rows=plan.facility_rows,
                    access_nodes=plan.access_nodes,
                    access_owner=plan.access_owner,
                    access_m=plan.access_m,
                    speed_m_s=speed_m_s,
                    basis=threshold_basis,
                    demand_nodes=graph.set_nodes[1] if demand_snapped is not None else None,
                    demand_access_m=demand_snapped.access_m if demand_snapped else None,
                    threads=threads,
                )
            )
    with _timed(timings, "service_areas"):
        if service_areas:
            areas, reached = _service_areas(
                network,
                graph,
                facilities,
                reaches,
                buffer_m,
                facility_areas=facility_areas,
                streets=streets,
            )
        else:
            areas = _empty_areas()
            reached = _empty_streets()
    unroutable_mask = ~facilities["routable"].to_numpy(dtype=bool)
    unroutable = facilities.loc[
        unroutable_mask, ["facility_id", "name", "category", "unroutable_reason", "geometry"]
    ].rename(columns={"unroutable_reason": "reason"})
    if unroutable_mask.any():
        notes.append(warn("facilities_unroutable", stacklevel=2, n=int(unroutable_mask.sum())))
    n_demand = 0 if demand is None else len(demand)
    demand_nodes = np.full(n_demand, -1, dtype=np.int64)
    demand_access = np.full(n_demand, np.nan)
    demand_unroutable = pd.DataFrame(columns=["owner", "reason", "nearest_street_m"])
    if demand_snapped is not None:
        demand_nodes[demand_snapped.owner] = graph.set_nodes[1]
        demand_access[demand_snapped.owner] = demand_snapped.access_m
        demand_unroutable = demand_snapped.unroutable
    return ReachResult(
        network=network,
        graph=graph,
        categories=tuple(reaches),
        facilities=facilities,
        service_areas=areas,
        reached_streets=reached,
        unroutable=gpd.GeoDataFrame(unroutable, geometry="geometry", crs=facilities.crs),
        speed_m_s=speed_m_s,
        threshold_basis=threshold_basis,
        demand_nodes=demand_nodes,
        demand_access_m=demand_access,
        demand_unroutable=demand_unroutable,
        timings=timings,
        notes=notes,
    )


def _facilities_with_access(facilities: gpd.GeoDataFrame, snapped: Snapped) -> gpd.GeoDataFrame:
    result = facilities.copy() if len(facilities) else empty_facilities()
    access = np.full(len(result), np.inf)
    np.minimum.at(access, snapped.owner, snapped.access_m)
    result["routable"] = np.isfinite(access)
    result["access_m"] = np.where(np.isfinite(access), access, np.nan)
    reasons = np.full(len(result), "", dtype=object)
    for owner, reason in zip(
        snapped.unroutable["owner"], snapped.unroutable["reason"], strict=True
    ):
        reasons[int(owner)] = reason
    # object dtype: a reason is a Message, shown in the output's language
    result["unroutable_reason"] = pd.Series(reasons, index=result.index, dtype="object")
    if result.crs is None:
        result = result.set_crs(WGS84)
    return result.to_crs(WGS84)


def _node_table(
    network: StreetNetwork, reaches: Sequence[CategoryReach], speed_m_s: float
) -> gpd.GeoDataFrame:
    n = network.n_nodes
    columns: dict[str, Any] = {
        "node_id": np.arange(n),
        "osmid": network.nodes["osmid"].to_numpy(),
    }
    for reach in reaches:
        cid = reach.category.id
        dist = reach.nearest_m[:n]
        dist = np.where(np.isfinite(dist), dist, np.nan)
        columns[f"{cid}_dist_m"] = np.round(dist, 3)
        columns[f"{cid}_min"] = np.round(dist / speed_m_s / 60.0, 3)
        for i, label in enumerate(reach.labels):
            columns[f"{cid}_n_{label}"] = reach.counts[:n, i]
    geometry = shapely.points(network.nodes["lon"].to_numpy(), network.nodes["lat"].to_numpy())
    return gpd.GeoDataFrame(columns, geometry=geometry, crs=WGS84)


def _service_areas(
    network: StreetNetwork,
    graph: RoutingGraph,
    facilities: gpd.GeoDataFrame,
    reaches: list[CategoryReach],
    buffer_m: float,
    *,
    facility_areas: bool = False,
    streets: bool = True,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Polygons per category and threshold (and per facility when asked), reached streets
    (none unless ``streets``).

    A category's polygon is built from the pieces of its nearest-facility field, each
    reached street piece once, so its cost follows the reached street length and not the
    number of overlapping facility catchments.
    """
    pending = _start_service_areas(
        network,
        graph,
        facilities,
        reaches,
        buffer_m,
        facility_areas=facility_areas,
        streets=streets,
    )
    return pending.areas(), pending.streets()


@dataclass(frozen=True, eq=False)
class PendingServiceAreas:
    """Service areas being computed on threads of their own (see :func:`start_service_areas`).

    The polygons' unions (GEOS, which releases the GIL) and the reached streets run while
    the caller goes on, e.g. writing the other layers; :meth:`areas` and :meth:`streets`
    wait for their part.
    """

    _areas: Future[gpd.GeoDataFrame]
    _streets: Future[gpd.GeoDataFrame]

    def areas(self) -> gpd.GeoDataFrame:
        """The polygons, in the layout of ``ReachResult.service_areas`` (waits for them)."""
        return self._areas.result()

    def streets(self) -> gpd.GeoDataFrame:
        """The reached streets, as ``ReachResult.reached_streets`` (waits for them)."""
        return self._streets.result()

    def done(self) -> bool:
        """Whether both parts are ready."""
        return self._areas.done() and self._streets.done()


def start_service_areas(
    result: ReachResult,
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
    facility_areas: bool = False,
    timings: dict[str, float] | None = None,
) -> PendingServiceAreas:
    """Start the service areas of a reach run made without them, on threads of their own.

    ``radius reach`` uses it to write the other layers while the polygons are built (on
    two cores, the unions and the writing then share the machine instead of taking turns).
    The result is the same as ``compute_reach(..., service_areas=True)``'s.

    Parameters
    ----------
    result : ReachResult
        A reach run (``service_areas=False``).
    buffer_m : float, optional
        Half-width (metres) of the band around the reached streets.
    facility_areas : bool, optional
        Whether to add one polygon per facility and threshold.
    timings : dict, optional
        Given ``service_areas`` (seconds from the start until both parts are ready) when
        they are.

    Returns
    -------
    PendingServiceAreas
    """
    return _start_service_areas(
        result.network,
        result.graph,
        result.facilities,
        list(result.categories),
        buffer_m,
        facility_areas=facility_areas,
        timings=timings,
    )


def _start_service_areas(
    network: StreetNetwork,
    graph: RoutingGraph,
    facilities: gpd.GeoDataFrame,
    reaches: list[CategoryReach],
    buffer_m: float,
    *,
    facility_areas: bool = False,
    streets: bool = True,
    timings: dict[str, float] | None = None,
) -> PendingServiceAreas:
    started = time.perf_counter()
    computed = [reach for reach in reaches if len(reach.facility_rows)]
    if not computed:
        empty_areas: Future[gpd.GeoDataFrame] = Future()
        empty_areas.set_result(_empty_areas())
        empty_streets: Future[gpd.GeoDataFrame] = Future()
        empty_streets.set_result(_empty_streets())
        return PendingServiceAreas(empty_areas, empty_streets)
    edges = EdgeCoordinates.of(network)
    union_pieces = [
        reached_pieces(graph, _union_matrix(reach), reach.thresholds_m) for reach in computed
    ]
    first_group = np.cumsum([0] + [len(reach.thresholds_m) for reach in computed])

    def polygons() -> gpd.GeoDataFrame:
        # One call for every category and threshold, so the unions share the threads.
        pieces = union_pieces[0]
        for more in union_pieces[1:]:
            pieces = pieces.then(more)
        shapes = reached_polygons(
            edges,
            pieces,
            np.concatenate(
                [first + p.threshold for first, p in zip(first_group, union_pieces, strict=False)]
            ),
            int(first_group[-1]),
            buffer_m=buffer_m,
            # Each polygon is reprojected by the worker that made it, while the other
            # unions still run, not all of them after the last (0.08 s on Shanghai).
            finish=lambda shape: gpd.GeoSeries([shape], crs=network.crs).to_crs(WGS84).iloc[0],
        )
        del pieces
        area_frames: list[pd.DataFrame] = []
        for reach, first, category_pieces in zip(computed, first_group, union_pieces, strict=False):
            n_thresholds = len(reach.thresholds_m)
            union_length = np.bincount(
                category_pieces.threshold,
                weights=category_pieces.end_m - category_pieces.start_m,
                minlength=n_thresholds,
            )
            area_frames.append(
                pd.DataFrame(
                    {
                        "level": "category",
                        "category": reach.category.id,
                        "facility_id": "",
                        "threshold": list(reach.labels),
                        "threshold_m": reach.thresholds_m,
                        "street_length_m": union_length,
                        "geometry": shapes[first : first + n_thresholds],
                    }
                )
            )
        if facility_areas:
            area_frames.extend(
                _facility_areas(network, graph, facilities, reach, buffer_m, edges)
                for reach in computed
            )
        return gpd.GeoDataFrame(
            pd.concat(area_frames, ignore_index=True), geometry="geometry", crs=WGS84
        )

    def reached() -> gpd.GeoDataFrame:
        if not streets:
            return _empty_streets()
        street_frames: list[pd.DataFrame] = []
        for reach, category_pieces in zip(computed, union_pieces, strict=True):
            union_lines = gpd.GeoSeries(reached_lines(edges, category_pieces), crs=network.crs)
            street_frames.append(
                pd.DataFrame(
                    {
                        "category": reach.category.id,
                        "threshold": np.asarray(reach.labels)[category_pieces.threshold],
                        "threshold_m": reach.thresholds_m[category_pieces.threshold],
                        "edge": category_pieces.edge,
                        "from_m": category_pieces.start_m,
                        "to_m": category_pieces.end_m,
                        "geometry": union_lines.to_crs(WGS84).to_numpy(),
                    }
                )
            )
            del union_lines
        return gpd.GeoDataFrame(
            pd.concat(street_frames, ignore_index=True), geometry="geometry", crs=WGS84
        )

    finished: list[float] = []

    def timed(job: Callable[[], gpd.GeoDataFrame]) -> Callable[[], gpd.GeoDataFrame]:
        def run() -> gpd.GeoDataFrame:
            frame = job()
            # Recorded before the frame is handed over, so whoever waits for both sees it.
            finished.append(time.perf_counter())
            if timings is not None and len(finished) == 2:
                timings["service_areas"] = max(finished) - started
            return frame

        return run

    # The unions start first (their own pool, GEOS releases the GIL); the streets are made
    # meanwhile on a thread of their own, and the caller goes on.
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="radius-areas")
    areas_future = pool.submit(timed(polygons))
    streets_future = pool.submit(timed(reached))
    pool.shutdown(wait=False)
    return PendingServiceAreas(areas_future, streets_future)


def _facility_areas(
    network: StreetNetwork,
    graph: RoutingGraph,
    facilities: gpd.GeoDataFrame,
    reach: CategoryReach,
    buffer_m: float,
    edges: EdgeCoordinates,
) -> pd.DataFrame:
    """One polygon per facility and threshold of a category (``level == "facility"``)."""
    n_thresholds = len(reach.thresholds_m)
    n_groups = len(reach.facility_rows) * n_thresholds
    pieces = reached_pieces(graph, reach.matrix, reach.thresholds_m)
    group = pieces.source * n_thresholds + pieces.threshold
    polygons = reached_polygons(edges, pieces, group, n_groups, buffer_m=buffer_m)
    polygons = gpd.GeoSeries(polygons, crs=network.crs).to_crs(WGS84).to_numpy()
    reached_length = np.bincount(group, weights=pieces.end_m - pieces.start_m, minlength=n_groups)
    source_of_group = np.repeat(np.arange(len(reach.facility_rows)), n_thresholds)
    threshold_of_group = np.tile(np.arange(n_thresholds), len(reach.facility_rows))
    rows = reach.facility_rows[source_of_group]
    return pd.DataFrame(
        {
            "level": "facility",
            "category": reach.category.id,
            "facility_id": facilities["facility_id"].to_numpy()[rows],
            "threshold": np.asarray(reach.labels)[threshold_of_group],
            "threshold_m": reach.thresholds_m[threshold_of_group],
            "street_length_m": reached_length,
            "geometry": polygons,
        }
    )


def facility_service_areas(
    result: ReachResult,
    categories: tuple[str, ...] | None = None,
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
) -> gpd.GeoDataFrame:
    """Service-area polygons of each facility and threshold, on demand (e.g. for the app).

    Runs do not build them unless asked (``ReachConfig.facility_areas``, the CLI's
    ``--facility-areas``): they cost as much as all the catchments' overlapping bands.

    Parameters
    ----------
    result : ReachResult
        A finished reach run.
    categories : tuple of str, optional
        Category ids; all computed categories when omitted.
    buffer_m : float, optional
        Half-width (metres) of the band around the reached streets.

    Returns
    -------
    geopandas.GeoDataFrame
        Rows with ``level == "facility"`` in the layout of ``ReachResult.service_areas``.
    """
    wanted = [
        reach
        for reach in result.categories
        if len(reach.facility_rows) and (categories is None or reach.category.id in categories)
    ]
    if not wanted:
        return _empty_areas()
    edges = EdgeCoordinates.of(result.network)
    frames = [
        _facility_areas(result.network, result.graph, result.facilities, reach, buffer_m, edges)
        for reach in wanted
    ]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=WGS84)


def _union_matrix(reach: CategoryReach) -> CostMatrix:
    """The category's nearest-facility field as a one-source matrix."""
    reached = np.flatnonzero(np.isfinite(reach.nearest_m))
    return CostMatrix(
        source=np.zeros(len(reached), dtype=np.int64),
        node=reached,
        distance_m=reach.nearest_m[reached],
        n_sources=1,
        n_nodes=reach.matrix.n_nodes,
        limit_m=reach.matrix.limit_m,
    )


def _empty_areas() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "level": pd.Series(dtype=object),
            "category": pd.Series(dtype=object),
            "facility_id": pd.Series(dtype=object),
            "threshold": pd.Series(dtype=object),
            "threshold_m": pd.Series(dtype=float),
            "street_length_m": pd.Series(dtype=float),
        },
        geometry=gpd.GeoSeries([], crs=WGS84),
    )


def _empty_streets() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "category": pd.Series(dtype=object),
            "threshold": pd.Series(dtype=object),
            "threshold_m": pd.Series(dtype=float),
            "edge": pd.Series(dtype="int64"),
            "from_m": pd.Series(dtype=float),
            "to_m": pd.Series(dtype=float),
        },
        geometry=gpd.GeoSeries([], crs=WGS84),
    )


DistrictMode = Literal["blocks", "hexagons"]


@dataclass(frozen=True)
class AnalyzeConfig:
    """Everything an ``analyze`` run needs: reach inputs plus residents, districts, standard.

    Attributes
    ----------
    reach : ReachConfig
        Network, facilities, categories, speed and snapping settings.
    population : tuple of Path
        Residents: population raster bands on one grid (summed), an OSM file (residential
        buildings), building footprints, residential plots with households/population, or
        points. Without it,
        residents are estimated from the residential buildings of the OSM network file.
    districts : Path, optional
        District polygons (optional ``area_type`` column); without it ``district_mode``.
    district_mode : {"blocks", "hexagons"}
        Automatic districts: blocks bounded by arterial roads, or a hexagon grid.
    hexagon_size_m : float
        Side of the hexagons (metres).
    standard : str
        Standard profile name (``configs/standards/``) or path.
    area_type : {"new", "old"}, optional
        Overrides every district's area type.
    method : {"2sfca", "inside"}
        How supply is counted for ratio rules.
    household_size : float, optional
        Persons per household (default from ``configs/population.yaml``).
    subdistricts : Path, optional
        Sub-district (街道/乡镇) polygons, optionally with statistics; communities given as
        ``districts`` nest in them.
    group_rasters : tuple of (group id, paths)
        Age/sex rasters per demand group (bands on one grid summed), e.g.
        ``(("aged_60_plus", (pop_60_f.tif, pop_60_m.tif, ...)),)``.
    """

    reach: ReachConfig
    population: tuple[Path, ...] = ()
    districts: Path | None = None
    district_mode: DistrictMode = "blocks"
    hexagon_size_m: float = 500.0
    standard: str = "national"
    area_type: Literal["new", "old"] | None = None
    method: ProvisionMethod = "2sfca"
    household_size: float | None = None
    subdistricts: Path | None = None
    group_rasters: tuple[tuple[str, tuple[Path, ...]], ...] = ()


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """The outcome of an analyze run; frames in WGS-84.

    Attributes
    ----------
    reach : ReachResult
        Reach of every category, residents included as demand points.
    standard : StandardProfile
        The standard profile applied.
    residents : geopandas.GeoDataFrame
        Resident points with ``district_id`` and per category ``{category}_dist_m``,
        ``{category}_min``, ``{category}_n_{T}min``, ``{category}_covered_{T}min``, and
        per ratio rule the 2SFCA score ``{rule}_access``.
    districts : geopandas.GeoDataFrame
        Districts with ``population``, ``households`` and per rule ``{rule}_required``,
        ``{rule}_supplied``, ``{rule}_ratio``, ``{rule}_shortfall``, ``{rule}_pass``.
    shortfall : geopandas.GeoDataFrame
        Uncovered residents: one row per resident point, category and threshold not met.
    rules : pandas.DataFrame
        The rules checked, with unit, level, group, source and status.
    notes : list of str
        Warnings and data-quality notes.
    subdistricts : geopandas.GeoDataFrame or None
        Sub-districts (街道) with the same rule columns, when given.
    unit_shares : pandas.DataFrame
        Unit-share rules: the share of 社区/街道 units meeting a rule or holding a facility.
    group_sources : dict
        Demand group id -> where its counts came from (data, rasters or a share).
    units_note : str
        How the units were formed.
    plausibility : Plausibility or None
        The check of residents estimated from OSM buildings.
    """

    reach: ReachResult
    standard: StandardProfile
    residents: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    shortfall: gpd.GeoDataFrame
    rules: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    subdistricts: gpd.GeoDataFrame | None = None
    unit_shares: pd.DataFrame = field(default_factory=lambda: _empty_unit_shares())
    group_sources: dict[str, GroupSource] = field(default_factory=dict)
    units_note: str = ""
    plausibility: Plausibility | None = None

    def summary(self) -> dict[str, Any]:
        """Headline figures: group coverage per category, units meeting each rule."""
        from radius.demand import units_summary
        from radius.provision import attainment

        population = self.residents["population"].to_numpy(dtype=np.float64)
        total = float(population.sum())
        coverage: dict[str, dict[str, float]] = {}
        for reach in self.reach.categories:
            cid = reach.category.id
            coverage[cid] = {
                label: round(
                    float(population[self.residents[f"{cid}_covered_{label}"].to_numpy()].sum())
                    / total,
                    4,
                )
                if total > 0
                else 0.0
                for label in reach.labels
            }
        rules: dict[str, Any] = {}
        for rule in self.rules.itertuples():
            rid = str(rule.id)
            rated = attainment(self.districts, rid)
            rules[rid] = {
                "unit": rule.unit,
                "group": rule.group,
                "districts_passing": rated["passing"],
                "districts": rated["units"],
                "districts_applicable": rated["applicable"],
                "districts_not_applicable": rated["not_applicable"],
                "attainment_rate": rated["rate"],
                "required": round(float(self.districts[f"{rid}_required"].sum()), 3),
                "supplied": round(float(self.districts[f"{rid}_supplied"].sum()), 3),
                "shortfall": round(float(self.districts[f"{rid}_shortfall"].sum()), 3),
            }
            for supply in ("inside", "access"):
                column = f"{rid}_supplied_{supply}"
                if column in self.districts.columns:
                    rules[rid][f"supplied_{supply}"] = round(float(self.districts[column].sum()), 3)
            if self.subdistricts is not None and f"{rid}_verdict" in self.subdistricts:
                rules[rid]["subdistricts"] = attainment(self.subdistricts, rid)
        group_coverage = _group_coverage(self)
        groups = {
            gid: {
                "total": round(float(self.residents[_column(gid)].sum()), 1),
                **source.as_dict(),
            }
            for gid, source in self.group_sources.items()
            if _column(gid) in self.residents.columns
        }
        unit_shares = {
            str(row["id"]): {k: _plain(v) for k, v in row.items() if k != "id"}
            for row in self.unit_shares.to_dict("records")
        }
        return {
            "network": self.reach.network.summary(),
            "standard": self.standard.name,
            "speed_m_s": self.reach.speed_m_s,
            "threshold_basis": self.reach.threshold_basis,
            "residents": {
                "points": len(self.residents),
                "population": round(total, 1),
                "households": round(float(self.residents["households"].sum()), 1),
                "unroutable_points": len(self.reach.demand_unroutable),
                "groups": groups,
            },
            "plausibility": None if self.plausibility is None else self.plausibility.as_dict(),
            "districts": len(self.districts),
            "units": units_summary(self.residents, self.districts, self.units_note),
            "share_of_residents_within": coverage,
            "share_of_group_within": group_coverage,
            "rules": rules,
            "unit_shares": unit_shares,
            "timings_s": {k: round(v, 3) for k, v in self.reach.timings.items()},
            "notes": list(self.notes),
            "attribution": "© OpenStreetMap contributors (ODbL) where the data is from OSM",
        }


def _column(group_id: str) -> str:
    return "population" if group_id == "residents" else group_id


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _group_coverage(result: AnalysisResult) -> dict[str, Any]:
    """Per coverage rule, the share (0–1) of the rule's group within its threshold."""
    out: dict[str, Any] = {}
    for rule in result.rules.itertuples():
        if rule.metric != "coverage":
            continue
        column = _column(str(rule.group))
        covered = f"{rule.category}_covered_{rule.threshold}"
        if column not in result.residents.columns or covered not in result.residents.columns:
            continue
        weight = result.residents[column].to_numpy(dtype=np.float64)
        total = float(weight.sum())
        within = float(weight[result.residents[covered].to_numpy(dtype=bool)].sum())
        out[str(rule.id)] = {
            "group": str(rule.group),
            "threshold": str(rule.threshold),
            "share": round(within / total, 4) if total > 0 else None,
            "estimated_from_share": bool(
                result.group_sources.get(str(rule.group), GroupSource("", "input")).estimated
            ),
        }
    return out


@dataclass(frozen=True, eq=False)
class AnalysisInputs:
    """Everything an analysis reads from files, loaded once and reused (e.g. by the app).

    Attributes
    ----------
    network : StreetNetwork
        The walkable network.
    facilities : geopandas.GeoDataFrame
        Facilities of every category.
    residents : geopandas.GeoDataFrame
        Resident points (see :mod:`radius.population`).
    districts : geopandas.GeoDataFrame
        Districts (see :mod:`radius.districts`).
    timings : dict
        Seconds spent reading.
    notes : list of str
        Warnings raised while reading.
    """

    network: StreetNetwork
    facilities: gpd.GeoDataFrame
    residents: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    subdistricts: gpd.GeoDataFrame | None = None
    group_sources: dict[str, GroupSource] = field(default_factory=dict)
    units_note: str = ""
    plausibility: Plausibility | None = None


def load_analysis_inputs(config: AnalyzeConfig) -> AnalysisInputs:
    """Read the network, facilities, residents and districts named in ``config``.

    Raises
    ------
    RadiusError
        For any bad input, with a message naming the file and the fix.
    """
    from radius.demand import load_demand

    reach_config = config.reach
    timings: dict[str, float] = {}
    household_size, floor_area_per_person_m2 = _conversions(config)
    with collect() as caught:
        with _timed(timings, "read_network"):
            network = load_network(reach_config.network, crs=reach_config.crs)
        with _timed(timings, "read_facilities"):
            facilities = _read_facilities(reach_config, load_categories(), network)
        with _timed(timings, "read_residents"):
            demand = load_demand(
                network,
                network_path=Path(reach_config.network),
                population=config.population,
                districts=config.districts,
                subdistricts=config.subdistricts,
                group_rasters=config.group_rasters,
                district_mode=config.district_mode,
                hexagon_size_m=config.hexagon_size_m,
                household_size=household_size,
                floor_area_per_person_m2=floor_area_per_person_m2,
            )
    return AnalysisInputs(
        network=network,
        facilities=facilities,
        residents=demand.residents,
        districts=demand.districts,
        timings=timings,
        notes=_replay(caught, list(demand.notes)),
        subdistricts=demand.subdistricts,
        group_sources=demand.group_sources,
        units_note=demand.units_note,
        plausibility=demand.plausibility,
    )


def _conversions(config: AnalyzeConfig) -> tuple[float | None, float | None]:
    """Persons per household and floor area per person (m²): the run's, else the profile's."""
    from radius.standards import load_standard

    conversions = load_standard(config.standard, categories=load_categories()).conversions
    household = conversions.persons_per_household
    floor_area = conversions.floor_area_per_person_m2
    return (
        config.household_size
        if config.household_size is not None
        else (household.value if household else None),
        floor_area.value if floor_area else None,
    )


def _replay(caught: list[warnings.WarningMessage], notes: list[str]) -> list[str]:
    """Warn again what was recorded, and add each new message to ``notes``."""
    for item in caught:
        warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
        if str(item.message) not in notes:
            notes.append(message_of(item.message))
    return notes


def append_facilities(facilities: gpd.GeoDataFrame, extra: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``facilities`` followed by ``extra`` (planned, proposed), in the former's columns and CRS.

    Parameters
    ----------
    facilities, extra : geopandas.GeoDataFrame
        Facilities in the :mod:`radius.facilities` layout; columns of ``facilities`` that
        ``extra`` lacks are left empty.

    Returns
    -------
    geopandas.GeoDataFrame
    """
    crs = facilities.crs or WGS84
    added = extra.to_crs(crs).reindex(columns=facilities.columns)
    return gpd.GeoDataFrame(
        pd.concat([facilities, added], ignore_index=True), geometry="geometry", crs=crs
    )


def analyze(
    inputs: AnalysisInputs,
    config: AnalyzeConfig,
    *,
    proposals: gpd.GeoDataFrame | None = None,
) -> AnalysisResult:
    """Reach and provision on loaded inputs, optionally with proposed facilities added.

    Parameters
    ----------
    inputs : AnalysisInputs
        What :func:`load_analysis_inputs` read.
    config : AnalyzeConfig
        Parameters: categories, speed, thresholds, snapping, standard, area type, method
        (its file paths are not read again).
    proposals : geopandas.GeoDataFrame, optional
        Proposed facilities in the :mod:`radius.facilities` layout (``source`` is set to
        ``"proposed"``); they count like existing ones.

    Returns
    -------
    AnalysisResult
    """
    from radius.standards import load_standard

    reach_config = config.reach
    timings = dict(inputs.timings)
    standard = load_standard(config.standard, categories=load_categories())
    # The profile chooses the walking distance of each level within GB 50180's range.
    categories = standard.with_distances(load_categories(ids=reach_config.categories))
    speed = resolve_speed(reach_config.speed_profile, reach_config.speed_m_s)
    facilities = inputs.facilities
    if proposals is not None and len(proposals):
        facilities = append_facilities(facilities, proposals.assign(source="proposed"))
    districts = inputs.districts
    subdistricts = inputs.subdistricts
    if config.area_type is not None:
        districts = districts.assign(area_type=config.area_type)
        if subdistricts is not None:
            subdistricts = subdistricts.assign(area_type=config.area_type)
    residents, sources = inputs.residents, dict(inputs.group_sources)
    if not sources:  # inputs made elsewhere (batch, app): every group from its share
        residents, sources = complete_groups(residents)
    with collect() as caught:
        result = compute_reach(
            inputs.network,
            facilities,
            categories,
            speed_m_s=speed,
            threshold_basis=reach_config.threshold_basis,
            max_snap_m=reach_config.max_snap_m,
            buffer_m=reach_config.buffer_m,
            service_areas=reach_config.service_areas,
            facility_areas=reach_config.facility_areas,
            demand=inputs.residents.geometry,
            timings=timings,
            streets=False,  # an analysis shows and writes the polygons only
            source=reach_config.facilities,
        )
        with _timed(timings, "provision"):
            analysis = _provision(config, standard, result, residents, districts, subdistricts)
    notes = _replay(caught, list(inputs.notes) + list(analysis.notes))
    return AnalysisResult(
        reach=analysis.reach,
        standard=standard,
        residents=analysis.residents,
        districts=analysis.districts,
        shortfall=analysis.shortfall,
        rules=analysis.rules,
        notes=notes,
        subdistricts=analysis.subdistricts,
        unit_shares=analysis.unit_shares,
        group_sources=sources,
        units_note=inputs.units_note,
        plausibility=inputs.plausibility,
    )


def run_analysis(config: AnalyzeConfig) -> AnalysisResult:
    """Load everything named in ``config`` and check the standard district by district.

    Parameters
    ----------
    config : AnalyzeConfig
        Inputs and parameters.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    RadiusError
        For any bad input, with a message naming the file and the fix.
    """
    from radius.standards import load_standard

    # Parameters are checked before the (slower) reading of the inputs.
    load_categories(ids=config.reach.categories)
    load_standard(config.standard, categories=load_categories())
    resolve_speed(config.reach.speed_profile, config.reach.speed_m_s)
    return analyze(load_analysis_inputs(config), config)


def _read_facilities(
    config: ReachConfig, categories: tuple[Category, ...], network: StreetNetwork
) -> gpd.GeoDataFrame:
    if config.facilities is not None:
        system = (config.facilities_crs or "").lower().replace("-", "").replace("_", "")
        if poi_export_kind(config.facilities) is not None:
            # An Amap/Baidu export: read_poi_export converts its GCJ-02/BD-09 itself.
            return read_poi_export(
                config.facilities, load_categories(), system=config.facilities_crs
            )
        chinese = system in CHINESE_SYSTEMS
        # All categories are known to the inventory reader, so an inventory listing more
        # categories than this run computes is valid; compute_reach keeps the wanted ones.
        facilities = read_inventory(
            config.facilities,
            load_categories(),
            crs=None if chinese else config.facilities_crs,
        )
        if chinese:
            return convert_frame(facilities, system, "wgs84")
        _warn_if_offset(config.facilities, facilities, network)
        return facilities
    if _is_osm_file(Path(config.network)):
        return facilities_from_osm(config.network, categories)
    raise InputError(message("pipeline_facilities_need_osm", file=str(config.network)))


_SIGNATURE_SAMPLE = 1000
"""Facilities (evenly spread through the inventory) whose distances to the streets are tested."""

CHINESE_SYSTEMS = ("gcj02", "bd09")
"""Coordinate systems of Chinese map services accepted for inventories (no EPSG code)."""


def _warn_if_offset(path: Path, facilities: gpd.GeoDataFrame, network: StreetNetwork) -> None:
    """Warn when inventory points look like unconverted GCJ-02 or BD-09 coordinates."""
    if len(facilities) == 0:
        return
    points = facilities.geometry
    if len(points) > _SIGNATURE_SAMPLE:
        points = points.iloc[np.linspace(0, len(points) - 1, _SIGNATURE_SAMPLE).astype(int)]
    # Against the network's own edge index (in its metric CRS, built once for snapping):
    # on a county network, reprojecting the streets near the points twice (to WGS-84 and to
    # the UTM zone again) cost more than the whole reach.
    signature = offset_signature_on_tree(points, network.edge_tree, network.crs)
    likely = signature.get("likely_system")
    if likely in CHINESE_SYSTEMS:
        warn(
            "facilities_look_shifted",
            stacklevel=3,
            source=str(path),
            given=f"{signature['median_m_as_given']:.0f}",
            shifted=f"{signature[f'median_m_as_{likely}']:.0f}",
            system=likely.upper(),
            crs=likely,
        )


def _empty_unit_shares() -> pd.DataFrame:
    from radius.provision import UNIT_SHARE_COLUMNS

    return pd.DataFrame(columns=list(UNIT_SHARE_COLUMNS))


@dataclass(frozen=True, eq=False)
class _Provision:
    reach: ReachResult
    residents: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    shortfall: gpd.GeoDataFrame
    rules: pd.DataFrame
    notes: list[str]
    subdistricts: gpd.GeoDataFrame | None
    unit_shares: pd.DataFrame


def _merged_pairs(
    matrices: Sequence[CostMatrix], rows: Sequence[np.ndarray], threshold_m: float
) -> tuple[CostMatrix, np.ndarray, float]:
    """One facilities × residents matrix of several categories (a rule's ``includes``)."""
    if len(matrices) == 1:
        return matrices[0], rows[0], threshold_m
    offsets = np.cumsum([0, *(m.n_sources for m in matrices)])
    merged = CostMatrix(
        source=np.concatenate([m.source + o for m, o in zip(matrices, offsets, strict=False)]),
        node=np.concatenate([m.node for m in matrices]),
        distance_m=np.concatenate([m.distance_m for m in matrices]),
        n_sources=int(offsets[-1]),
        n_nodes=matrices[0].n_nodes,
        limit_m=min(m.limit_m for m in matrices),
    )
    return merged, np.concatenate(list(rows)), threshold_m


def _unit_positions(unit_ids: pd.Series, assigned: pd.Series) -> np.ndarray:
    """The row of each resident's unit among ``unit_ids`` (-1 when none).

    A repeated id stands for its last row (as a dict of the ids would). One index lookup
    instead of a Python loop over the residents (1 s for 125,000 of them).
    """
    ids = pd.Index(unit_ids.astype(str).to_numpy(dtype=object))
    rows = pd.Series(np.arange(len(ids), dtype=np.int64), index=ids)
    rows = rows[~ids.duplicated(keep="last")]
    found = rows.index.get_indexer(pd.Index(assigned.astype(str).to_numpy(dtype=object)))
    return np.where(found >= 0, rows.to_numpy()[np.maximum(found, 0)], -1).astype(np.int64)


def _provision(
    config: AnalyzeConfig,
    standard: StandardProfile,
    reach: ReachResult,
    residents: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame,
    subdistricts: gpd.GeoDataFrame | None = None,
) -> _Provision:
    from radius.districts import assign_residents, district_totals
    from radius.provision import district_provision, unit_share_verdicts

    notes: list[str] = []
    n_residents = len(residents)
    routable = np.flatnonzero(reach.demand_nodes >= 0)
    resident_table = residents.copy()
    district_id = assign_residents(residents, districts)
    resident_table["district_id"] = district_id.to_numpy()
    resident_district = _unit_positions(districts["district_id"], district_id)
    totals = district_totals(residents, districts)

    pairs_by_category: dict[str, CostMatrix] = {}
    shortfall_rows: list[pd.DataFrame] = []
    for category_reach in reach.categories:
        cid = category_reach.category.id
        restricted = restrict_to_nodes(
            category_reach.matrix, reach.demand_nodes[routable], reach.demand_access_m[routable]
        )
        pairs = CostMatrix(
            source=restricted.source,
            node=routable[restricted.node],
            distance_m=restricted.distance_m,
            n_sources=restricted.n_sources,
            n_nodes=n_residents,
            limit_m=restricted.limit_m,
        )
        pairs_by_category[cid] = pairs
        nearest, _, counts = nearest_and_counts(pairs, category_reach.thresholds_m)
        distance = np.where(np.isfinite(nearest), nearest, np.nan)
        # Many categories add many columns: consolidate the frame before adding theirs.
        resident_table = resident_table.copy()
        resident_table[f"{cid}_dist_m"] = np.round(distance, 3)
        resident_table[f"{cid}_min"] = np.round(distance / reach.speed_m_s / 60.0, 3)
        for index, label in enumerate(category_reach.labels):
            covered = counts[:, index] > 0
            resident_table[f"{cid}_n_{label}"] = counts[:, index]
            resident_table[f"{cid}_covered_{label}"] = covered
            uncovered = ~covered
            if uncovered.any():
                shortfall_rows.append(
                    pd.DataFrame(
                        {
                            "resident_id": residents["resident_id"].to_numpy()[uncovered],
                            "district_id": district_id.to_numpy()[uncovered],
                            "category": cid,
                            "threshold": label,
                            "threshold_m": float(category_reach.thresholds_m[index]),
                            "population": residents["population"].to_numpy()[uncovered],
                            "households": residents["households"].to_numpy()[uncovered],
                            "dist_m": distance[uncovered],
                            "geometry": residents.geometry.to_numpy()[uncovered],
                        }
                    )
                )

    computed = {c.category.id: c for c in reach.categories}
    spatial = [rule for rule in standard.rules if rule.metric != "unit_share"]
    # A rule is checked when any category it counts (its own or an included one) was computed.
    rules = [rule for rule in spatial if any(c in computed for c in rule.categories)]
    skipped = [rule.id for rule in spatial if rule not in rules]
    if skipped:
        notes.append(message("rules_not_checked", rules=", ".join(skipped)))
    pairs_by_rule: dict[str, tuple[CostMatrix, np.ndarray, float]] = {}
    speeds = load_speed_profiles()
    walked_at: dict[str, tuple[str, float]] = {}
    for rule in rules:
        counted = [c for c in rule.categories if c in computed]
        if len(counted) < len(rule.categories):
            missing = ", ".join(c for c in rule.categories if c not in computed)
            notes.append(
                message(
                    "rule_categories_not_computed",
                    rule=rule.id,
                    rule_zh=rule.name_zh,
                    listed=missing,
                )
            )
        if rule.scope == "jurisdiction":
            # A jurisdiction-wide figure: the supply inside the districts, no catchment.
            rows = np.concatenate([computed[c].facility_rows for c in counted])
            empty = np.empty(0, dtype=np.int64)
            pairs_by_rule[rule.id] = (
                CostMatrix(empty, empty, np.empty(0), len(rows), n_residents, 0.0),
                rows,
                0.0,
            )
            continue
        category_reach = computed[counted[0]]
        if rule.threshold not in category_reach.labels:
            raise InputError(
                message(
                    "pipeline_rule_threshold",
                    rule=rule.id,
                    threshold=repr(rule.threshold),
                    category=counted[0],  # the category whose thresholds are listed
                    known=", ".join(category_reach.labels),
                )
            )
        threshold_m = float(
            category_reach.thresholds_m[category_reach.labels.index(str(rule.threshold))]
        )
        if reach.threshold_basis == "time":
            # The time-based view: the rule's group walks at its own speed.
            speed = speeds.group_speed(rule.group, reach.speed_m_s)
            if speed < reach.speed_m_s:
                threshold_m *= speed / reach.speed_m_s
                walked_at[rule.id] = (rule.group, speed)
        pairs_by_rule[rule.id] = _merged_pairs(
            [pairs_by_category[c] for c in counted],
            [computed[c].facility_rows for c in counted],
            threshold_m,
        )
    if walked_at:
        listed = "; ".join(f"{rid} ({g}, {v:g} m/s)" for rid, (g, v) in walked_at.items())
        notes.append(message("group_walking_speeds", listed=listed))
    provided, access, provision_notes = district_provision(
        rules,
        totals,
        residents,
        resident_district,
        reach.facilities,
        pairs_by_rule,
        method=config.method,
    )
    notes.extend(provision_notes)
    sub_provided = None
    if subdistricts is not None and len(subdistricts):
        sub_id = assign_residents(residents, subdistricts)
        sub_provided, _, _ = district_provision(
            rules,
            district_totals(residents, subdistricts),
            residents,
            _unit_positions(subdistricts["district_id"], sub_id),
            reach.facilities,
            pairs_by_rule,
            method=config.method,
        )
    share_rules = [rule for rule in standard.rules if rule.metric == "unit_share"]
    levels = districts["level"].astype(str) if "level" in districts.columns else pd.Series()
    by_level: dict[str, gpd.GeoDataFrame | None] = {
        "community": provided,
        "subdistrict": sub_provided
        if sub_provided is not None
        else (provided if len(levels) and (levels == "subdistrict").all() else None),
    }
    unit_shares = unit_share_verdicts(share_rules, by_level, reach.facilities)
    if share_rules and not (len(levels) and (levels == "community").all()):
        notes.append(
            "unit-share rules of 社区 are counted on the units of this run ("
            + ", ".join(sorted(set(levels.tolist())))
            + "), not on communities; give 社区 boundaries with --districts"
        )
    resident_table = pd.concat(
        [resident_table.drop(columns=list(access.columns), errors="ignore"), access.round(6)],
        axis=1,
    )
    shortfall = (
        gpd.GeoDataFrame(pd.concat(shortfall_rows, ignore_index=True), crs=residents.crs)
        if shortfall_rows
        else gpd.GeoDataFrame(
            {"resident_id": pd.Series(dtype=object)}, geometry=gpd.GeoSeries([], crs=WGS84)
        )
    )
    rule_table = pd.DataFrame(
        [
            {
                "id": rule.id,
                "name_zh": rule.name_zh,
                "name_en": rule.name_en,
                "category": rule.category,
                "metric": rule.metric,
                "group": rule.group,
                "supply": rule.supply,
                "value_new": rule.value_new,
                "value_old": rule.value_old,
                "target_unit": rule.unit,
                # Required, supplied and shortfall are totals in the supply's own unit (m²,
                # beds, places); coverage rules count residents.
                "unit": SUPPLY_UNITS[rule.supply],
                "level": rule.level,
                "threshold": rule.threshold,
                "source": f"{rule.source.document} {rule.source.clause}".strip(),
                "status": rule.status,
            }
            for rule in rules
        ]
    )
    return _Provision(
        reach=reach,
        residents=gpd.GeoDataFrame(resident_table, geometry="geometry", crs=residents.crs).to_crs(
            WGS84
        ),
        districts=gpd.GeoDataFrame(provided, geometry="geometry", crs=districts.crs).to_crs(WGS84),
        shortfall=shortfall.to_crs(WGS84),
        rules=rule_table,
        notes=notes,
        subdistricts=None
        if sub_provided is None
        else gpd.GeoDataFrame(sub_provided, geometry="geometry", crs=WGS84),
        unit_shares=unit_shares,
    )
