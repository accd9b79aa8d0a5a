"""Batches: check many districts against one standard, one task per district, on dask.

A *job file* (YAML, validated on load by :class:`BatchJob`; paths relative to the job file)
names the street network (one file, or a road-line plan per district), the residents, the
existing and planned facilities, the districts (polygons, or the arterial blocks of the
network) and the analysis parameters::

    network: ../data/roads.osm.pbf          # or {per_district: plans/{district_id}.gpkg}
    residents: {density_per_ha: 250}        # or a file, or {per_district: ...}; default:
                                            # residential buildings of an OSM network
    facilities: {existing: inventory.csv, planned: [planned.csv]}
    districts: blocks                       # or a polygon file, or {file: ..., layer: ...}
    limit: 40
    standard: national
    categories: [convenience_store, supermarket]
    sites: [{category: convenience_store, count: 1}]   # optional: suggest sites per district
    outputs: [gpkg, xlsx, summary]

:func:`run_batch` runs one task per district on a :class:`dask.distributed.LocalCluster` of
single-threaded worker processes, or on a running cluster given its scheduler address. A
task clips the network to the district plus a buffer of the largest walking threshold
(metres at the run's speed) and rebuilds it, clips residents and facilities to the same
buffer (facilities outside still serve the district; residents around it share them in
2SFCA), runs :func:`radius.pipeline.analyze` on a districts frame of one row, runs each
siting request for the district alone (:func:`radius.siting.run_site_request`), and writes
``OUT/districts/<district_id>/`` atomically with ``done.json`` renamed into place last.
Shared input files are read once per worker process (a cache keyed on path, size and
modification time). A rerun skips districts whose outputs are complete for the same job and
inputs. A failing district is recorded with its error while the others finish. Then come the
combined tables, identical whatever the number of workers: ``OUT/batch.gpkg`` (layers
``districts``, ``status`` and, with siting, ``sites``), ``OUT/batch.xlsx`` and
``OUT/batch_summary.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import math
import os
import re
import sys
import threading
import time
import warnings
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from radius import __version__
from radius._batch_job import (
    OUTPUT_FILES,
    BatchJob,
    DensityResidents,
    DistrictsSpec,
    FacilitiesSpec,
    ResidentsSpec,
    SourceSpec,
    check_job,
    load_job,
)
from radius._errors import ConfigError, InfeasibleError, InputError, RadiusError
from radius._io import Writer, gpkg_writer, json_writer, write_outputs, xlsx_writer
from radius._limits import check_json_depth, limit
from radius.config import load_categories
from radius.districts import _ID_COLUMNS, block_districts, districts_from_frame
from radius.facilities import empty_facilities, facilities_from_osm, read_inventory
from radius.network import (
    StreetNetwork,
    _is_osm_file,
    choose_metric_crs,
    load_network,
    network_from_segments,
)
from radius.pipeline import (
    AnalysisInputs,
    AnalysisResult,
    AnalyzeConfig,
    ReachConfig,
    analyze,
    append_facilities,
)
from radius.population import read_residents, residents_from_plots, residents_from_raster
from radius.report import displayable_facilities, provision_sheets, rule_sheets, sites_table
from radius.siting import SitingResult, run_site_request

if TYPE_CHECKING:  # the report modules load matplotlib: imported when reports are asked for
    from radius.report_document import InputFile

__all__ = [
    "BatchInterrupted",
    "BatchJob",
    "BatchReport",
    "DensityResidents",
    "DistrictStatus",
    "DistrictsSpec",
    "FacilitiesSpec",
    "ResidentsSpec",
    "SourceSpec",
    "WorkersDiedError",
    "add_batch_arguments",
    "batch_command",
    "clip_network",
    "district_folder_name",
    "load_job",
    "run_batch",
]

WGS84: Final = "EPSG:4326"
MARKER: Final = "done.json"
"""The file renamed into a district's folder last; its presence marks the folder complete."""
Status = Literal["ok", "failed", "skipped"]
_CACHE_SIZE: Final = 8
"""Inputs (networks, residents, inventories) kept per worker process."""
_CONNECT_TIMEOUT_S: Final = 30.0
_MAX_ERROR_CHARS: Final = 2000
_RASTER_SUFFIXES: Final = (".tif", ".tiff")


# =========================================================================== results


@dataclass(frozen=True)
class DistrictStatus:
    """What happened to one district.

    Attributes
    ----------
    district_id : str
        The district's id.
    name : str
        Its name.
    status : {"ok", "failed", "skipped"}
        ``skipped``: complete outputs from an earlier run were kept.
    error : str
        Why it failed (``""`` otherwise).
    seconds : float
        Time of its task (seconds; 0 when skipped or rejected before running).
    folder : Path
        Its output folder.
    notes : tuple of str
        Warnings and data-quality notes of its run.
    worker : str
        The worker that ran it.
    """

    district_id: str
    name: str
    status: Status
    error: str = ""
    seconds: float = 0.0
    folder: Path = Path()
    notes: tuple[str, ...] = ()
    worker: str = ""


@dataclass(frozen=True, eq=False)
class BatchReport:
    """The outcome of :func:`run_batch`.

    Attributes
    ----------
    out_dir : Path
        The output folder.
    districts : tuple of DistrictStatus
        Every district of the batch, in job order.
    combined : geopandas.GeoDataFrame
        Provision rows of every completed district (ok or skipped), in job order (WGS-84):
        the ``districts`` layer of ``batch.gpkg``.
    sites : geopandas.GeoDataFrame
        The suggested sites of every completed district (the job's ``sites``), with their
        ``district_id`` (WGS-84): the ``sites`` layer of ``batch.gpkg``.
    elapsed_s : float
        Wall time of the whole run (seconds).
    compute_s : float
        Wall time from the first task submitted to the last result (seconds).
    cluster : str
        Where the tasks ran.
    workers : int
        Number of workers.
    input_loads : dict of str to int
        How often each kind of shared input was read from file (over all workers).
    notes : tuple of str
        Notes raised while planning (reading districts, the network for blocks).
    job_name : str
        The job's name.
    """

    out_dir: Path
    districts: tuple[DistrictStatus, ...]
    combined: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    elapsed_s: float
    compute_s: float
    cluster: str
    workers: int
    input_loads: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    job_name: str = ""

    def count(self, status: Status) -> int:
        """Number of districts with this status."""
        return sum(1 for d in self.districts if d.status == status)

    @property
    def districts_per_minute(self) -> float:
        """Districts computed (ok or failed, not skipped) per minute of compute time."""
        done = self.count("ok") + self.count("failed")
        if done == 0 or self.compute_s <= 0:
            return 0.0
        return done / (self.compute_s / 60.0)

    def summary(self) -> dict[str, Any]:
        """The content of ``batch_summary.json``."""
        return {
            "job": self.job_name,
            "radius_version": __version__,
            "cluster": self.cluster,
            "workers": self.workers,
            "districts": len(self.districts),
            "ok": self.count("ok"),
            "failed": self.count("failed"),
            "skipped": self.count("skipped"),
            "elapsed_s": round(self.elapsed_s, 3),
            "compute_s": round(self.compute_s, 3),
            "districts_per_minute": round(self.districts_per_minute, 2),
            "input_loads": dict(sorted(self.input_loads.items())),
            "per_district": [
                asdict(d) | {"seconds": round(d.seconds, 3), "folder": str(d.folder)}
                for d in self.districts
            ],
            "notes": list(self.notes),
        }


# =========================================================================== districts


def district_folder_name(district_id: str) -> str:
    """A file-system-safe folder name for a district id (the id itself when it is safe).

    Ids of letters (any script), digits, ``_``, ``-`` and ``.`` are kept; other ids get
    their unsafe characters replaced and a short hash appended, so names stay unique.
    """
    if re.fullmatch(r"[\w\-.]{1,120}", district_id) and not district_id.startswith("."):
        return district_id
    cleaned = re.sub(r"[^\w\-.]", "_", district_id)[:80].lstrip(".") or "district"
    digest = hashlib.sha1(district_id.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned}-{digest}"


@dataclass(frozen=True)
class _District:
    """A district of the plan: valid (``geometry`` set) or rejected (``error`` set)."""

    position: int
    district_id: str
    name: str
    area_type: str
    kind: str
    geometry_wkb: bytes | None
    error: str = ""


def _read_district_file(spec: DistrictsSpec) -> list[_District]:
    """Districts of a polygon file; a row that fails validation is kept with its error."""
    from radius._files import read_vector_layer

    assert spec.file is not None
    path = spec.file
    if not path.exists():
        raise InputError(f"{path}: districts file not found; check the path")
    frame = read_vector_layer(path, spec.layer, what="districts", geometry_kind="Polygon")
    options: dict[str, Any] = {
        "default_area_type": spec.default_area_type,
        "id_column": spec.id_column,
        "name_column": spec.name_column,
    }
    try:
        valid = districts_from_frame(
            frame, source=str(path), allow_overlap=spec.allow_overlap, **options
        )
    except InputError as whole_error:
        return _read_rows(frame, spec, options, whole_error)
    return [_district_of(k, row) for k, row in enumerate(valid.itertuples(index=False))]


def _district_of(position: int, row: Any) -> _District:
    return _District(
        position=position,
        district_id=str(row.district_id),
        name=str(row.name),
        area_type=str(row.area_type),
        kind=str(row.kind),
        geometry_wkb=shapely.to_wkb(row.geometry),
    )


def _read_rows(
    frame: gpd.GeoDataFrame, spec: DistrictsSpec, options: dict[str, Any], whole: InputError
) -> list[_District]:
    """Validate a districts file row by row, so one broken district does not stop a batch."""
    columns = {str(c).lower(): c for c in frame.columns if c != frame.geometry.name}
    id_column = spec.id_column
    if id_column is None:
        id_column = next((columns[c] for c in _ID_COLUMNS if c in columns), None)
    if id_column is None:
        frame = frame.assign(district_id=[str(k + 1) for k in range(len(frame))])
        id_column = "district_id"
    options = options | {"id_column": id_column}
    out: list[_District] = []
    good_rows: list[int] = []
    for k in range(len(frame)):
        raw_id = frame.iloc[k][id_column]
        label = str(k + 1) if raw_id is None or pd.isna(raw_id) else str(raw_id).strip()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                one = districts_from_frame(
                    frame.iloc[[k]], source=f"{spec.file} (row {k + 1})", **options
                )
            except InputError as exc:
                out.append(_District(k, label, "", "", "user", None, error=_short(exc)))
                continue
        out.append(_district_of(k, next(one.itertuples(index=False))))
        good_rows.append(k)
    if not good_rows or len(good_rows) == len(frame):
        # The problem is with the file as a whole (CRS, duplicate ids, overlaps).
        raise whole
    # Checks across rows (duplicate ids, overlaps) on the rows that are valid on their own.
    districts_from_frame(
        frame.iloc[good_rows], source=str(spec.file), allow_overlap=spec.allow_overlap, **options
    )
    return out


def _plan_districts(job: BatchJob) -> tuple[list[_District], pyproj.CRS | None]:
    """Every district of the job (before ``limit``/``only``) and the network's CRS, if read."""
    if job.districts.blocks is not None:
        assert job.network.file is not None
        network = _cached_network(job.network.file, job.crs, job.network.layer)
        for note in network.notes:
            warnings.warn(note, UserWarning, stacklevel=2)
        blocks = block_districts(
            network.value,
            min_area_m2=job.districts.blocks.min_area_m2,
            min_width_m=job.districts.blocks.min_width_m,
            area_type=job.area_type or "new",
        )
        rows = [_district_of(k, row) for k, row in enumerate(blocks.itertuples(index=False))]
        return rows, network.value.crs
    return _read_district_file(job.districts), None


def _selected(job: BatchJob, districts: list[_District]) -> list[_District]:
    chosen = districts
    if job.only is not None:
        ids = {d.district_id for d in districts}
        unknown = [i for i in job.only if i not in ids]
        if unknown:
            raise ConfigError(
                f"only: unknown district id(s) {', '.join(map(repr, unknown))}; the districts "
                f"are {', '.join(d.district_id for d in districts[:20])}"
                + (" ..." if len(districts) > 20 else "")
            )
        wanted = set(job.only)
        chosen = [d for d in districts if d.district_id in wanted]
    if job.limit is not None:
        chosen = chosen[: job.limit]
    return chosen


def _neighbours(
    chosen: list[_District], every: list[_District], crs: pyproj.CRS, reach_m: float
) -> dict[int, list[tuple[str, bytes]]]:
    """Per chosen district, the districts within ``reach_m`` of it (itself included)."""
    valid = [d for d in every if d.geometry_wkb is not None]
    geometry = gpd.GeoSeries(shapely.from_wkb([d.geometry_wkb for d in valid]), crs=WGS84).to_crs(
        crs
    )
    tree = shapely.STRtree(np.asarray(geometry.array, dtype=object))
    by_id = {d.district_id: k for k, d in enumerate(valid)}
    out: dict[int, list[tuple[str, bytes]]] = {}
    for district in chosen:
        if district.geometry_wkb is None:
            continue
        own = geometry.iloc[by_id[district.district_id]]
        hits = np.sort(tree.query(own.buffer(reach_m), predicate="intersects"))
        out[district.position] = [(valid[k].district_id, valid[k].geometry_wkb) for k in hits]
    return out


# =========================================================================== worker side


@dataclass(frozen=True)
class _Cached:
    value: Any
    notes: tuple[str, ...]


_CACHE: OrderedDict[tuple[Any, ...], _Cached] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_LOADS: Counter[str] = Counter()
"""How often each kind of input was read from file in this process."""


def _file_key(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (str(path), -1, -1)
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _cached(
    kind: str, paths: Sequence[Path], extra: tuple[Any, ...], load: Callable[[], Any]
) -> _Cached:
    """``load()`` once per process for these files (path, size and mtime) and arguments."""
    key = (kind, tuple(_file_key(p) for p in paths), *extra)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = load()
        entry = _Cached(value, tuple(dict.fromkeys(str(w.message) for w in caught)))
        _LOADS[kind] += 1
        _CACHE[key] = entry
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return entry


def _cached_network(path: Path, crs: str, layer: str | None) -> _Cached:
    return _cached(
        "network", [path], (crs, layer), lambda: load_network(path, crs=crs, layer=layer)
    )


def clip_network(
    network: StreetNetwork, area: shapely.Geometry, *, source: str | None = None
) -> StreetNetwork:
    """The streets of a network that intersect an area, as a network of their own.

    Edges of the main component that intersect ``area`` are kept whole and rebuilt with
    :func:`radius.network.network_from_segments`: nodes keep their identity (OSM ids when
    the network has them), and when clipping cuts the streets into pieces, the largest one
    is the new main component and the others are its islands.

    Parameters
    ----------
    network : StreetNetwork
        The network to clip.
    area : shapely.Geometry
        The area, in ``network.crs`` (metres), e.g. a district buffered by the largest
        walking threshold.
    source : str, optional
        Description for reports and errors (default: the network's source).

    Returns
    -------
    StreetNetwork
        In the same CRS as ``network``.

    Raises
    ------
    InputError
        If no street intersects the area.

    Warns
    -----
    UserWarning
        If the clipped streets fall into several disconnected pieces.
    """
    label = source or network.source
    edges = network.edges
    hits = np.sort(edges.sindex.query(area, predicate="intersects"))
    if len(hits) == 0:
        raise InputError(
            f"{label}: no walkable street within the district and its surroundings; check "
            "that the district lies on the network (same place, right CRS)"
        )
    osmid = network.nodes["osmid"].to_numpy()
    if len(osmid) and osmid.min() >= 0 and len(np.unique(osmid)) == len(osmid):
        keys = osmid.astype(np.int64)
    else:
        keys = -1 - np.arange(network.n_nodes, dtype=np.int64)
    chosen = edges.iloc[hits]
    segments = gpd.GeoDataFrame(
        {"highway": chosen["highway"].to_numpy(), "osmid": chosen["osmid"].to_numpy()},
        geometry=chosen.geometry.to_numpy(),
        crs=network.crs,
    )
    return network_from_segments(
        segments,
        source=label,
        crs=network.crs,
        u_keys=keys[chosen["u"].to_numpy()],
        v_keys=keys[chosen["v"].to_numpy()],
    )


@dataclass(frozen=True)
class _Task:
    """Everything a worker needs for one district (small and picklable)."""

    index: int
    job: BatchJob
    district: _District
    folder: Path
    fingerprint: str
    limit_m: float
    neighbours: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class _Outcome:
    index: int
    status: Status
    error: str
    seconds: float
    notes: tuple[str, ...]
    loads: dict[str, int]
    worker: str


def _short(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, RadiusError) else f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _run_district(task: _Task) -> _Outcome:
    """Analyse one district and write its outputs; never raises for a district's problem."""
    started = time.perf_counter()
    loads_before = Counter(_LOADS)
    notes: list[str] = []
    status: Status = "ok"
    error = ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            notes = _analyse_district(task, started)
        except Exception as exc:
            status, error = "failed", _short(exc)
            notes.extend(str(w.message) for w in caught)
    loads = Counter(_LOADS)
    loads.subtract(loads_before)
    return _Outcome(
        index=task.index,
        status=status,
        error=error,
        seconds=time.perf_counter() - started,
        notes=tuple(dict.fromkeys(notes)),
        loads={k: v for k, v in loads.items() if v},
        worker=_worker_name(),
    )


def _analysis_config(job: BatchJob, network_path: Path) -> AnalyzeConfig:
    return AnalyzeConfig(
        reach=ReachConfig(
            network=network_path,
            categories=job.categories,
            speed_profile=job.speed_profile,
            speed_m_s=job.speed_m_s,
            threshold_basis=job.threshold_basis,
            max_snap_m=job.max_snap_m,
            crs=job.crs,
            facilities_crs=job.facilities.crs,
            service_areas=job.service_areas,
        ),
        standard=job.standard,
        area_type=job.area_type,
        method=job.method,
        household_size=job.household_size,
    )


def _analyse_district(task: _Task, started: float) -> list[str]:
    """Analyse and write one district; returns its notes."""
    job, district = task.job, task.district
    (task.folder / MARKER).unlink(missing_ok=True)  # outputs are incomplete from here on
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inputs, planned, reach_m = _district_inputs(task, notes)
    notes.extend(str(w.message) for w in caught)
    inputs = replace(inputs, notes=list(dict.fromkeys(notes)))
    network_path = job.network.path_for(district.district_id)
    config = _analysis_config(job, network_path)
    result = analyze(inputs, config, proposals=planned)
    siting_notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sitings = _district_sitings(task, inputs, planned, config, siting_notes)
    siting_notes += [str(w.message) for w in caught]
    result = replace(result, notes=[*result.notes, *siting_notes])
    return _write_district(task, result, inputs, planned, reach_m, started, sitings)


def _district_sitings(
    task: _Task,
    inputs: AnalysisInputs,
    planned: gpd.GeoDataFrame,
    config: AnalyzeConfig,
    notes: list[str],
) -> list[SitingResult]:
    """The job's siting requests for one district: its residents, new sites inside it.

    A request that cannot be met here (no candidate inside the district, spacing that makes
    covering everyone impossible) is left out with a note: the district's analysis stands.
    """
    if not task.job.sites:
        return []
    if len(planned):
        # Planned facilities will be built: new sites go where they leave residents unserved.
        inputs = replace(inputs, facilities=append_facilities(inputs.facilities, planned))
    scope = {"districts": (task.district.district_id,)}
    sitings = []
    for k, request in enumerate(task.job.sites):
        try:
            sitings.append(run_site_request(inputs, config, request.model_copy(update=scope)))
        except InfeasibleError as exc:
            notes.append(f"sites.{k} ({request.category}): no siting in this district: {exc}")
    return sitings


def _sites_layer(sitings: Sequence[SitingResult], district_id: str) -> gpd.GeoDataFrame:
    """The sites of every siting of one district, with the district's id, WGS-84."""
    frames = [s.sites for s in sitings]
    sites = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=WGS84)
    # The sites may name their unit already (the district itself): keep one such column.
    columns = [c for c in frames[0].columns if c != "district_id"]
    return sites.assign(district_id=district_id)[["district_id", *columns]]


def _district_inputs(
    task: _Task, notes: list[str]
) -> tuple[AnalysisInputs, gpd.GeoDataFrame, float]:
    """The clipped network, residents and facilities of one district, and the buffer (m)."""
    job, district = task.job, task.district
    assert district.geometry_wkb is not None
    network_path = job.network.path_for(district.district_id)
    loaded = _cached_network(network_path, job.crs, job.network.layer)
    notes.extend(loaded.notes)
    full: StreetNetwork = loaded.value
    shape_wgs = shapely.from_wkb(district.geometry_wkb)
    shape = gpd.GeoSeries([shape_wgs], crs=WGS84).to_crs(full.crs).iloc[0]
    reach_m = task.limit_m * job.buffer_factor
    # Streets a little further out than the buffer: a facility in the buffer joins the
    # street it would join in the whole network (at most max_snap_m away).
    network = clip_network(
        full,
        shape.buffer(reach_m + job.max_snap_m),
        source=f"{full.source} around district {district.district_id}",
    )
    area = gpd.GeoSeries([shape.buffer(reach_m)], crs=full.crs).to_crs(WGS84).iloc[0]
    residents = _clip(_residents(task, full, area, notes), area)
    existing = _clip(_facilities(job, "existing", district.district_id, network_path, notes), area)
    planned = _clip(_facilities(job, "planned", district.district_id, network_path, notes), area)
    inside = residents.sindex.query(shape_wgs, predicate="intersects") if len(residents) else []
    if len(inside) == 0:
        raise InputError(
            f"district {district.district_id!r}: no residents inside it ({len(residents)} "
            f"within {reach_m:,.0f} m around it); check that the residents cover the district"
        )
    one = gpd.GeoDataFrame(
        {
            "district_id": pd.array([district.district_id], dtype="str"),
            "name": pd.array([district.name], dtype="str"),
            "area_type": pd.array([district.area_type], dtype="str"),
            "kind": pd.array([district.kind], dtype="str"),
        },
        geometry=[shape_wgs],
        crs=WGS84,
    )
    inputs = AnalysisInputs(
        network=network, facilities=existing, residents=residents, districts=one
    )
    return inputs, planned, reach_m


def _clip(frame: gpd.GeoDataFrame, area_wgs: shapely.Geometry) -> gpd.GeoDataFrame:
    if len(frame) == 0:
        return frame
    hits = np.sort(frame.sindex.query(area_wgs, predicate="intersects"))
    return frame.iloc[hits].reset_index(drop=True)


def _residents(
    task: _Task, network: StreetNetwork, area_wgs: shapely.Geometry, notes: list[str]
) -> gpd.GeoDataFrame:
    job, district_id = task.job, task.district.district_id
    spec = job.residents
    if spec is None:
        path = job.network.path_for(district_id)
        if not _is_osm_file(path):
            raise InputError(
                f"{path}: residents can only be estimated from an OSM network file's "
                "buildings; give 'residents' in the job (a file, per_district or density_per_ha)"
            )
        loaded = _cached(
            "residents",
            [path],
            (job.household_size,),
            lambda: read_residents(path, household_size=job.household_size),
        )
        notes.extend(loaded.notes)
        return loaded.value
    if spec.density is not None:
        return _density_residents(task.neighbours, spec.density, network.crs)
    paths = list(spec.file) if spec.file is not None else [spec.source().path_for(district_id)]  # type: ignore[union-attr]
    if all(p.suffix.lower() in _RASTER_SUFFIXES for p in paths):
        bbox = tuple(float(v) for v in shapely.bounds(area_wgs))
        return residents_from_raster(paths, bbox=bbox, household_size=job.household_size)
    if len(paths) > 1:
        raise InputError(
            f"{', '.join(map(str, paths))}: several residents files are only accepted as "
            "population raster bands on one grid (summed); give one file otherwise"
        )
    loaded = _cached(
        "residents",
        paths,
        (job.household_size,),
        lambda: read_residents(paths[0], household_size=job.household_size),
    )
    notes.extend(loaded.notes)
    return loaded.value


def _density_residents(
    neighbours: Sequence[tuple[str, bytes]], density: DensityResidents, crs: pyproj.CRS
) -> gpd.GeoDataFrame:
    """Residents spread at a density over the districts around one district."""
    ids = [district_id for district_id, _ in neighbours]
    shapes = gpd.GeoSeries(shapely.from_wkb([wkb for _, wkb in neighbours]), crs=WGS84)
    population = shapes.to_crs(crs).area.to_numpy() / 10_000.0 * density.density_per_ha
    plots = gpd.GeoDataFrame({"id": ids, "population": population}, geometry=shapes, crs=WGS84)
    return residents_from_plots(
        plots, household_size=density.household_size, spacing_m=density.spacing_m
    )


def _facilities(
    job: BatchJob, kind: str, district_id: str, network_path: Path, notes: list[str]
) -> gpd.GeoDataFrame:
    specs: list[SourceSpec] = getattr(job.facilities, kind)
    if not specs:
        if kind == "existing" and not job.facilities.planned and _is_osm_file(network_path):
            loaded = _cached(
                "facilities",
                [network_path],
                ("osm",),
                lambda: facilities_from_osm(network_path, load_categories()),
            )
            notes.extend(loaded.notes)
            return loaded.value
        return empty_facilities()
    frames: list[gpd.GeoDataFrame] = []
    for spec in specs:
        path = spec.path_for(district_id)
        if spec.per_district is not None and not path.exists():
            notes.append(f"{path}: no {kind} facilities inventory for district {district_id!r}")
            continue
        loaded = _cached(
            "facilities",
            [path],
            (job.facilities.crs,),
            lambda path=path: read_inventory(path, load_categories(), crs=job.facilities.crs),  # type: ignore[misc]
        )
        notes.extend(loaded.notes)
        frame: gpd.GeoDataFrame = loaded.value
        if len(specs) > 1:
            frame = frame.assign(facility_id=f"{path.stem}/" + frame["facility_id"].astype(str))
        frames.append(frame)
    if not frames:
        return empty_facilities()
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=WGS84)


SITES_SHEET: Final = "选址 Sites"
"""Workbook sheet of the suggested sites, in the district's and the batch's workbook."""

_OUTSIDE_NOTE = re.compile(r"lie outside every district")


def _write_district(
    task: _Task,
    result: AnalysisResult,
    inputs: AnalysisInputs,
    planned: gpd.GeoDataFrame,
    reach_m: float,
    started: float,
    sitings: Sequence[SitingResult],
) -> list[str]:
    job, district_id = task.job, task.district.district_id
    mine = result.residents["district_id"].astype(str).to_numpy() == district_id
    own_shortfall = result.shortfall["district_id"].astype(str).to_numpy() == district_id
    # Residents around the district take part (they share facilities in 2SFCA) but are
    # outside its one-row districts frame; that is by design, not a data problem.
    notes = [n for n in result.notes if not _OUTSIDE_NOTE.search(n)]
    notes.append(
        f"{int((~mine).sum())} resident point(s) within {reach_m:,.0f} m around the district "
        "share its facilities but are not counted in it"
    )
    own = replace(
        result,
        residents=result.residents[mine].reset_index(drop=True),
        shortfall=result.shortfall[own_shortfall].reset_index(drop=True),
        notes=notes,
    )
    summary = own.summary()
    summary["batch"] = {
        "district_id": district_id,
        "buffer_m": round(reach_m, 1),
        "network_buffer_m": round(reach_m + job.max_snap_m, 1),
        "resident_points_in_buffer": len(inputs.residents),
        "existing_facilities_in_buffer": len(inputs.facilities),
        "planned_facilities_in_buffer": len(planned),
    }
    sites = _sites_layer(sitings, district_id) if sitings else None
    if sitings:
        summary["sites"] = [siting.summary for siting in sitings]
    files: dict[str, Writer] = {}
    if "gpkg" in job.outputs:
        layers = {
            "residents": own.residents,
            "districts": own.districts,
            "facilities": displayable_facilities(own.reach.facilities),
            "shortfall": own.shortfall,
            "unroutable": own.reach.unroutable,
        }
        if job.service_areas:
            layers["service_areas"] = own.reach.service_areas
        if sites is not None:
            layers["sites"] = sites
        files[OUTPUT_FILES["gpkg"][0]] = gpkg_writer(layers)
    if "xlsx" in job.outputs:
        sheets = provision_sheets(own)
        if sites is not None:
            sheets[SITES_SHEET] = sites_table(sites)
        files[OUTPUT_FILES["xlsx"][0]] = xlsx_writer(sheets)
    if "summary" in job.outputs:
        files[OUTPUT_FILES["summary"][0]] = json_writer(summary)
    if "report" in job.outputs:
        files.update(_report_writers(task, own, sitings))
    write_outputs(task.folder, files)
    marker: dict[str, Any] = {
        "district_id": district_id,
        "fingerprint": task.fingerprint,
        "files": {name: _file_record(task.folder / name) for name in files},
        "record": _record(own.districts.iloc[0]),
        "rules": [_plain_row(row) for row in own.rules.to_dict(orient="records")],
        "sites": [] if sites is None else [_record(row) for _, row in sites.iterrows()],
        "seconds": round(time.perf_counter() - started, 3),
        "notes": list(dict.fromkeys(notes)),
        "radius_version": __version__,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    # The marker comes last, once the outputs are whole on disk: it holds their sizes and
    # hashes, so a rerun can tell an intact district from a damaged one.
    write_outputs(task.folder, {MARKER: json_writer(marker)})
    return list(marker["notes"])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _file_record(path: Path) -> dict[str, Any]:
    """What a done record keeps of one output file: its size (bytes) and SHA-256."""
    return {"bytes": path.stat().st_size, "sha256": _sha256(path)}


def _report_writers(
    task: _Task, own: AnalysisResult, sitings: Sequence[SitingResult]
) -> dict[str, Writer]:
    """The district's report.html and report.pdf (the report of ``radius report``)."""
    # Imported here: matplotlib and WeasyPrint load only when a job asks for reports.
    from radius.i18n import report_text
    from radius.report_document import build_report, report_writers

    job, district = task.job, task.district
    network_path = job.network.path_for(district.district_id)
    label = " ".join(part for part in (district.district_id, district.name) if part)
    document = build_report(
        own,
        sitings,
        config=_analysis_config(job, network_path),
        inputs=_report_inputs(job, district.district_id),
        lang=job.lang,
        title=f"{report_text('default_title', job.lang)} · {label}",
        study_area=label,
    )
    html_name, pdf_name = OUTPUT_FILES["report"]
    writers = report_writers(own, sitings, document, formats=("html", "pdf"))
    return {html_name: writers["report.html"], pdf_name: writers["report.pdf"]}


def _report_inputs(job: BatchJob, district_id: str) -> list[InputFile]:
    """The input files of one district, with their roles, for its report."""
    from radius.report_document import InputFile

    specs: list[tuple[str, SourceSpec]] = [("role_network", job.network)]
    inputs: list[InputFile] = []
    if job.residents is None:
        inputs.append(InputFile("role_population", None, "from_buildings"))
    elif job.residents.density is not None:
        inputs.append(InputFile("role_population", None, "from_density"))
    elif job.residents.file is not None:
        inputs += [InputFile("role_population", path) for path in job.residents.file]
    elif (per_district := job.residents.source()) is not None:
        specs.append(("role_population", per_district))
    for kind in ("existing", "planned"):
        specs += [("role_facilities", spec) for spec in getattr(job.facilities, kind)]
    for role, spec in specs:
        with contextlib.suppress(InputError):  # a district without its own file has none
            inputs.append(InputFile(role, spec.path_for(district_id)))
    if job.districts.file is not None:
        inputs.append(InputFile("role_districts", job.districts.file))
    else:
        inputs.append(InputFile("role_districts", None, "from_blocks"))
    inputs += [
        InputFile("role_candidates", request.candidates)
        for request in job.sites
        if request.candidates is not None
    ]
    return inputs


def _plain(value: Any) -> Any:
    """A cell as a JSON value (numpy scalars unwrapped, NaN as null)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is None:
        return None
    return value


def _plain_row(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): _plain(v) for k, v in row.items()}


def _record(row: pd.Series) -> dict[str, Any]:
    """A district row as JSON: its cells, and its geometry as WKB (hex, exact)."""
    out = {str(k): _plain(v) for k, v in row.items() if k != "geometry"}
    out["geometry_wkb"] = shapely.to_wkb(row["geometry"], hex=True)
    return out


# =========================================================================== the client


def _fingerprint(job: BatchJob, district: _District) -> str:
    """What a district's outputs depend on: parameters, input files, the district itself."""
    parameters = job.model_dump(mode="json", exclude={"name", "limit", "only", "memory_limit"})
    files = {key: _file_key(path) for key, path in job.shared_files().items()}
    own: dict[str, Any] = {}
    specs: list[tuple[str, SourceSpec]] = [("network", job.network)]
    if job.residents is not None and job.residents.per_district is not None:
        specs.append(("residents", job.residents.source()))  # type: ignore[arg-type]
    for kind in ("existing", "planned"):
        specs += [(f"facilities.{kind}", s) for s in getattr(job.facilities, kind)]
    for key, spec in specs:
        if spec.per_district is not None:
            with contextlib.suppress(InputError):
                own[key] = _file_key(spec.path_for(district.district_id))
    payload = {
        "radius": __version__,
        "parameters": parameters,
        "files": files,
        "district_files": own,
        "district": [
            district.district_id,
            district.name,
            district.area_type,
            district.kind,
            (district.geometry_wkb or b"").hex(),
        ],
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _complete(folder: Path, fingerprint: str) -> dict[str, Any] | None:
    """The marker of a complete output folder for this fingerprint, else None.

    Complete means: the marker is whole, made for the same job and inputs, and every file
    it lists is there with the size and SHA-256 it recorded. Anything else (a file
    truncated, changed or missing, a marker without hashes) is recomputed.
    """
    marker = _read_marker(folder)
    if marker is None or marker.get("fingerprint") != fingerprint:
        return None
    files = marker.get("files")
    if not isinstance(files, dict) or not files:
        return None
    for name, record in files.items():
        path = folder / str(name)
        try:
            if not isinstance(record, dict) or path.stat().st_size != record.get("bytes"):
                return None
            if _sha256(path) != record.get("sha256"):
                return None
        except OSError:
            return None
    return marker


def _read_marker(folder: Path) -> dict[str, Any] | None:
    """A district's done record, or None when it is absent or damaged."""
    path = folder / MARKER
    try:
        if not path.is_file() or path.stat().st_size > limit("text_bytes"):
            return None
        text = path.read_text(encoding="utf-8")
        check_json_depth(text, str(path))
        marker = json.loads(text)
    except (OSError, ValueError, InputError):
        return None
    return marker if isinstance(marker, dict) else None


@contextlib.contextmanager
def _connect(
    scheduler: str | None, workers: int, memory_limit: str | int
) -> Iterator[tuple[Any, str, int]]:
    """A dask client on a running scheduler, or on a local cluster of worker processes."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=_CONNECT_TIMEOUT_S)
        except OSError as exc:
            raise InputError(
                f"cannot reach the dask scheduler at {scheduler} ({exc}); start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS`, or leave out "
                "--scheduler to run on this machine"
            ) from None
        try:
            client.wait_for_workers(1, timeout=_CONNECT_TIMEOUT_S)
        except TimeoutError:
            client.close()
            raise InputError(
                f"the dask scheduler at {scheduler} has no worker; start one with "
                f"`dask worker {scheduler}`"
            ) from None
        try:
            n = len(client.scheduler_info(n_workers=-1)["workers"])
            yield client, f"scheduler {scheduler}", n
        finally:
            client.close()
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=None,
            # The scheduler serves /health on HTTP even without a dashboard: any free port.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client, f"LocalCluster ({workers} worker process(es), memory {memory_limit})", workers


def run_batch(
    job_path_or_model: str | Path | BatchJob,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    memory_limit: str | int | None = None,
    resume: bool = True,
) -> BatchReport:
    """Run a batch: one task per district on dask, then the combined tables.

    Parameters
    ----------
    job_path_or_model : str, Path or BatchJob
        A job file, or a job built in Python (its relative paths are taken from the
        current folder).
    out_dir : str or Path
        Output folder; with ``scheduler``, one every worker can write to.
    workers : int, optional
        Worker processes of the local cluster (one thread each); default: the number of
        CPUs, at most the number of districts to run. Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``); its workers must see
        the job's input files and ``out_dir`` at the same paths.
    progress : bool
        Show a progress bar on standard error.
    memory_limit : str or int, optional
        Memory per local worker (``"2GiB"``, bytes or ``"auto"``); overrides the job's.
    resume : bool
        Skip districts whose outputs are complete for the same job and inputs.

    Returns
    -------
    BatchReport

    Raises
    ------
    ConfigError
        If the job is invalid.
    InputError
        If the districts cannot be read as a whole, or the scheduler cannot be reached.
    """
    started = time.perf_counter()
    if isinstance(job_path_or_model, BatchJob):
        job = job_path_or_model
        check_job(job, "batch job")
    else:
        job = load_job(job_path_or_model)
    out = Path(out_dir)
    if workers is not None and workers < 1:
        raise InputError(f"workers must be at least 1, not {workers}")
    limit_m = job.limit_m()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        every, network_crs = _plan_districts(job)
        chosen = _selected(job, every)
        neighbours: dict[int, list[tuple[str, bytes]]] = {}
        if job.residents is not None and job.residents.density is not None:
            crs = network_crs or _crs_of(every, job.crs)
            neighbours = _neighbours(chosen, every, crs, limit_m * job.buffer_factor * 1.05 + 50.0)
    plan_notes = tuple(dict.fromkeys(str(w.message) for w in caught))

    statuses: dict[int, DistrictStatus] = {}
    tasks: list[_Task] = []
    for index, district in enumerate(chosen):
        folder = out / "districts" / district_folder_name(district.district_id)
        if district.geometry_wkb is None:
            statuses[index] = DistrictStatus(
                district.district_id, district.name, "failed", district.error, folder=folder
            )
            continue
        fingerprint = _fingerprint(job, district)
        if resume and _complete(folder, fingerprint) is not None:
            statuses[index] = DistrictStatus(
                district.district_id, district.name, "skipped", folder=folder
            )
            continue
        tasks.append(
            _Task(
                index=index,
                job=job,
                district=district,
                folder=folder,
                fingerprint=fingerprint,
                limit_m=limit_m,
                neighbours=tuple(neighbours.get(district.position, ())),
            )
        )

    loads: Counter[str] = Counter()
    cluster_name, n_workers = "none (nothing to run)", 0
    compute_started = time.perf_counter()
    if tasks:
        wanted = workers or max(1, min(os.cpu_count() or 1, len(tasks)))
        limit = memory_limit if memory_limit is not None else job.memory_limit
        try:
            with _connect(scheduler, wanted, limit) as (client, cluster_name, n_workers):
                compute_started = time.perf_counter()
                outcomes = _run_tasks(client, tasks, progress, limit)
        except KeyboardInterrupt:
            raise BatchInterrupted(_written_before(out, chosen, tasks)) from None
        for task in tasks:
            outcome = outcomes[task.index]
            loads.update(outcome.loads)
            statuses[task.index] = DistrictStatus(
                task.district.district_id,
                task.district.name,
                outcome.status,
                outcome.error,
                outcome.seconds,
                task.folder,
                outcome.notes,
                outcome.worker,
            )
    compute_s = time.perf_counter() - compute_started if tasks else 0.0

    ordered = tuple(statuses[k] for k in range(len(chosen)))
    combined, sites, rules = _combined(ordered)
    report = BatchReport(
        out_dir=out,
        districts=ordered,
        combined=combined,
        sites=sites,
        elapsed_s=0.0,
        compute_s=compute_s,
        cluster=cluster_name,
        workers=n_workers,
        input_loads=dict(loads),
        notes=plan_notes,
        job_name=job.name,
    )
    _write_batch(job, report, chosen, rules, started)
    return replace(report, elapsed_s=time.perf_counter() - started)


def _written_before(out: Path, chosen: Sequence[_District], tasks: Sequence[_Task]) -> str:
    """Which districts were complete on disk when a batch was interrupted."""
    complete = [
        district.district_id
        for district in chosen
        if _read_marker(out / "districts" / district_folder_name(district.district_id))
    ]
    listed = ", ".join(complete[:10]) + (" ..." if len(complete) > 10 else "")
    computed = {task.district.district_id for task in tasks}
    new = sum(d in computed for d in complete)
    return (
        f"{len(complete)} of {len(chosen)} districts are complete in {out / 'districts'} "
        f"({new} computed in this run{': ' + listed if complete else ''}); batch.gpkg, "
        "batch.xlsx and batch_summary.json were not written. Rerun the same command to "
        "compute the rest and the combined tables"
    )


def _crs_of(districts: list[_District], crs: str) -> pyproj.CRS:
    shapes = [shapely.from_wkb(d.geometry_wkb) for d in districts if d.geometry_wkb is not None]
    west, south, east, north = shapely.bounds(shapely.union_all(shapes))
    return choose_metric_crs((west + east) / 2.0, (south + north) / 2.0, crs)


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch; ``written`` says which districts were written before it."""

    def __init__(self, written: str) -> None:
        super().__init__(written)
        self.written = written


class WorkersDiedError(RadiusError, RuntimeError):
    """Every dask worker died and none came back: the batch cannot go on."""


_NO_WORKER_S: Final = 20.0
"""A batch with no live worker for this long (seconds) ends with :class:`WorkersDiedError`."""
_POLL_S: Final = 0.25


def _live_workers(client: Any) -> int:
    try:
        return len(client.scheduler_info(n_workers=-1)["workers"])
    except Exception:  # the scheduler itself is gone
        return 0


def _run_tasks(
    client: Any, tasks: list[_Task], progress: bool, memory_limit: str | int | None = None
) -> dict[int, _Outcome]:
    """Submit every task and collect the outcomes as they come, with a progress bar.

    The scheduler is asked for its live workers every few seconds: when none has been alive
    for :data:`_NO_WORKER_S` (workers that die at start, over a too small memory limit or
    on an import error, are never replaced), the batch ends with :class:`WorkersDiedError`
    instead of waiting forever.
    """
    from distributed import as_completed
    from tqdm import tqdm

    futures = {
        client.submit(
            _run_district,
            task,
            key=f"radius-district-{task.index}-{task.fingerprint[:16]}",
            pure=False,
        ): task
        for task in tasks
    }
    outcomes: dict[int, _Outcome] = {}
    failed = 0
    queue = as_completed(futures)
    alive_at = time.monotonic()
    checked_at = 0.0
    with tqdm(
        total=len(tasks), desc="districts", unit="district", disable=not progress, file=sys.stderr
    ) as bar:
        while not queue.is_empty():
            ready = queue.next_batch(block=False)
            if not ready:
                now = time.monotonic()
                if now - checked_at >= 2.0:
                    checked_at = now
                    if _live_workers(client):
                        alive_at = now
                    elif now - alive_at > _NO_WORKER_S:
                        client.cancel(list(futures))
                        raise WorkersDiedError(_died_message(memory_limit, outcomes, len(tasks)))
                time.sleep(_POLL_S)
                continue
            for future in ready:
                task = futures[future]
                try:
                    outcome: _Outcome = future.result()
                except Exception as exc:  # the worker died (e.g. over its memory limit)
                    outcome = _Outcome(
                        task.index, "failed", _killed_message(exc, memory_limit), 0.0, (), {}, ""
                    )
                finally:
                    future.release()
                outcomes[task.index] = outcome
                failed += outcome.status == "failed"
                bar.update(1)
                bar.set_postfix(failed=failed, refresh=False)
    return outcomes


def _memory_fix(memory_limit: str | int | None) -> str:
    given = f" (--memory-limit {memory_limit} per worker)" if memory_limit is not None else ""
    return (
        f"most likely over their memory limit{given}: give --memory-limit 2GiB or more (a "
        "district needs about 1 GiB), fewer --workers, or check the workers' logs for an "
        "import error"
    )


def _died_message(memory_limit: str | int | None, outcomes: Mapping[int, _Outcome], n: int) -> str:
    done = sum(o.status == "ok" for o in outcomes.values())
    return (
        f"the dask workers died and none was alive for {_NO_WORKER_S:.0f} s, "
        f"{_memory_fix(memory_limit)}. "
        f"{done} of {n} district(s) were written before; rerun the same command to compute "
        "the rest"
    )


def _killed_message(exc: BaseException, memory_limit: str | int | None) -> str:
    if type(exc).__name__ == "KilledWorker":
        return f"the worker running this district died, {_memory_fix(memory_limit)}"
    return _short(exc)


def _combined(
    statuses: Sequence[DistrictStatus],
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[dict[str, Any]]]:
    """Provision rows and sites of the completed districts (from their markers), in job order."""
    records: list[dict[str, Any]] = []
    site_records: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    for status in statuses:
        if status.status not in ("ok", "skipped"):
            continue
        marker = _read_marker(status.folder)
        if marker is None or "record" not in marker:
            continue
        records.append(marker["record"])
        site_records += marker.get("sites", [])
        if not rules:
            rules = list(marker.get("rules", []))
    return _frame_of(records), _frame_of(site_records), rules


def _frame_of(records: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """Rows written by :func:`_record` as a WGS-84 frame (an empty one for no rows)."""
    if not records:
        return gpd.GeoDataFrame(
            {"district_id": pd.Series(dtype=object)}, geometry=gpd.GeoSeries([], crs=WGS84)
        )
    frame = pd.DataFrame.from_records(records)
    geometry = shapely.from_wkb(frame.pop("geometry_wkb").to_numpy())
    for column in frame.columns:
        frame[column] = _typed(frame[column])
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=WGS84)


def _typed(values: pd.Series) -> pd.Series:
    """A column of JSON values with one dtype: bool, int64, float64, else str/object."""
    present = [v for v in values.tolist() if v is not None]
    if not present:
        return values.astype(object)
    if all(isinstance(v, bool) for v in present):
        return values.astype(bool) if len(present) == len(values) else values.astype(object)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        if all(isinstance(v, int) for v in present) and len(present) == len(values):
            return values.astype(np.int64)
        return pd.to_numeric(values, errors="coerce").astype(np.float64)
    return values.astype(object)


def _status_frame(report: BatchReport, chosen: Sequence[_District]) -> gpd.GeoDataFrame:
    geometry = [
        shapely.from_wkb(d.geometry_wkb) if d.geometry_wkb is not None else None for d in chosen
    ]
    return gpd.GeoDataFrame(
        {
            "district_id": [d.district_id for d in report.districts],
            "name": [d.name for d in report.districts],
            "status": [d.status for d in report.districts],
            "error": [d.error for d in report.districts],
            "seconds": [round(d.seconds, 3) for d in report.districts],
            "folder": [str(d.folder) for d in report.districts],
        },
        geometry=gpd.GeoSeries(geometry, crs=WGS84),
    )


def _batch_sheets(
    status: gpd.GeoDataFrame, combined: gpd.GeoDataFrame, rules: list[dict[str, Any]]
) -> dict[str, pd.DataFrame]:
    """Workbook: the batch status, the rules, then one sheet per rule over every district."""
    sheets: dict[str, pd.DataFrame] = {
        "批次 Batch": pd.DataFrame(
            {
                "区域编号 District ID": status["district_id"],
                "名称 Name": status["name"],
                "状态 Status": status["status"],
                "错误 Error": status["error"],
                "用时 Seconds": status["seconds"],
            }
        )
    }
    sheets.update(rule_sheets(pd.DataFrame(rules), combined))
    return sheets


def _write_batch(
    job: BatchJob,
    report: BatchReport,
    chosen: Sequence[_District],
    rules: list[dict[str, Any]],
    started: float,
) -> None:
    status = _status_frame(report, chosen)
    files: dict[str, Writer] = {}
    if "gpkg" in job.outputs:
        layers = {"districts": report.combined, "status": status}
        if job.sites:
            layers["sites"] = report.sites
        files["batch.gpkg"] = gpkg_writer(layers)
    if "xlsx" in job.outputs:
        sheets = _batch_sheets(status, report.combined, rules)
        if job.sites:
            sheets[SITES_SHEET] = sites_table(report.sites)
        files["batch.xlsx"] = xlsx_writer(sheets)

    def summary(path: Path) -> None:
        data = replace(report, elapsed_s=time.perf_counter() - started).summary()
        json_writer(data)(path)

    files["batch_summary.json"] = summary
    write_outputs(report.out_dir, files)


# =========================================================================== command line


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``radius batch`` to a (sub)parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``batch`` subparser.
    """
    parser.add_argument("job", type=Path, help="batch job file (YAML)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--workers",
        type=int,
        help="local worker processes, one thread each (default: CPUs, at most the districts)",
    )
    parser.add_argument(
        "--scheduler",
        help="address of a running dask scheduler (tcp://host:8786) instead of local workers; "
        "the workers must see the input files and --out at the same paths",
    )
    parser.add_argument(
        "--memory-limit",
        help="memory per local worker, e.g. 2GiB (default: the job's memory_limit, 'auto')",
    )
    parser.add_argument(
        "--rerun", action="store_true", help="recompute every district, even complete ones"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def batch_command(args: argparse.Namespace) -> int:
    """Run ``radius batch`` from parsed arguments and print a summary.

    Returns
    -------
    int
        0 when no district failed, 3 when some failed (they are listed in
        ``batch_summary.json``). Invalid jobs raise :class:`~radius._errors.RadiusError`.
    """
    report = run_batch(
        args.job,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.no_progress,
        memory_limit=args.memory_limit,
        resume=not args.rerun,
    )
    speed = (
        f"{report.districts_per_minute:.1f} districts per minute on {report.cluster}"
        if report.workers
        else "nothing left to compute"
    )
    print(
        f"{len(report.districts)} districts: {report.count('ok')} ok, "
        f"{report.count('failed')} failed, {report.count('skipped')} skipped (complete "
        f"earlier) in {report.elapsed_s:.1f} s; {speed}"
    )
    for district in report.districts:
        if district.status == "failed":
            print(f"  failed {district.district_id}: {district.error}")
    names = ("batch.gpkg", "batch.xlsx", "batch_summary.json")
    written = [name for name in names if (report.out_dir / name).exists()]
    print(f"wrote {', '.join(written)} and districts/ in {report.out_dir}")
    return 3 if report.count("failed") else 0
