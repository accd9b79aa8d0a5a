"""Batch inputs: a job's districts, the shared inputs a worker reads once, each district's clip.

The districts come from a polygon file (validated row by row, so one broken district does not
stop a batch) or from the arterial blocks of the network. A worker process reads each shared
input file (network, residents, inventories) once and keeps it in a small cache keyed on path,
size and modification time; a district's task clips the network, residents and facilities to
the district plus a buffer of the largest walking threshold (metres). Used by
:mod:`radius.batch` (planning, on the client) and :mod:`radius._batch_district` (the worker).
"""

from __future__ import annotations

import hashlib
import re
import threading
import warnings
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from radius._batch_job import (
    BatchJob,
    DensityResidents,
    DistrictsSpec,
    SourceSpec,
)
from radius._errors import ConfigError, InputError, RadiusError
from radius.config import load_categories
from radius.districts import _ID_COLUMNS, block_districts, districts_from_frame
from radius.facilities import empty_facilities, facilities_from_osm, read_inventory
from radius.i18n import Message, RadiusWarning, error_message, message, message_of
from radius.network import (
    StreetNetwork,
    _is_osm_file,
    choose_metric_crs,
    load_network,
    network_from_segments,
)
from radius.pipeline import (
    AnalysisInputs,
)
from radius.population import read_residents, residents_from_plots, residents_from_raster

if TYPE_CHECKING:  # the report modules load matplotlib: imported when reports are asked for
    pass

__all__ = [
    "clip_network",
    "district_folder_name",
]


WGS84: Final = "EPSG:4326"

_CACHE_SIZE: Final = 8
"""Inputs (networks, residents, inventories) kept per worker process."""

_MAX_ERROR_CHARS: Final = 2000

_RASTER_SUFFIXES: Final = (".tif", ".tiff")

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


def _short(exc: BaseException) -> str:
    """What a district's error says: the message of a RadiusError (a :class:`Message` is
    kept whole, to be written in the job's language), else the exception's type and text."""
    if isinstance(exc, RadiusError) and isinstance(error_message(exc), Message):
        return error_message(exc)
    text = str(exc) if isinstance(exc, RadiusError) else f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def _read_district_file(spec: DistrictsSpec) -> list[_District]:
    """Districts of a polygon file; a row that fails validation is kept with its error."""
    from radius._files import read_vector_layer

    assert spec.file is not None
    path = spec.file
    if not path.exists():
        raise InputError(
            message("file_not_found", file=str(path), what=message("file_kind_districts"))
        )
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
                    frame.iloc[[k]],
                    source=message("batch_district_row", file=str(spec.file), row=k + 1),
                    **options,
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
            if isinstance(note, Message):
                warnings.warn(RadiusWarning(note), stacklevel=2)
            else:
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
                message(
                    "batch_unknown_ids",
                    unknown=", ".join(map(repr, unknown)),
                    known=", ".join(d.district_id for d in districts[:20])
                    + (" ..." if len(districts) > 20 else ""),
                )
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


def _crs_of(districts: list[_District], crs: str) -> pyproj.CRS:
    shapes = [shapely.from_wkb(d.geometry_wkb) for d in districts if d.geometry_wkb is not None]
    west, south, east, north = shapely.bounds(shapely.union_all(shapes))
    return choose_metric_crs((west + east) / 2.0, (south + north) / 2.0, crs)


# ========================================================== shared inputs, once per worker process


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
        entry = _Cached(value, tuple(dict.fromkeys(message_of(w.message) for w in caught)))
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
        raise InputError(message("batch_no_street", source=str(label)))
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


# =========================================================================== one district's inputs


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
        source=f"{full.source} [{district.district_id}]",
    )
    area = gpd.GeoSeries([shape.buffer(reach_m)], crs=full.crs).to_crs(WGS84).iloc[0]
    residents = _clip(_residents(task, full, area, notes), area)
    existing = _clip(_facilities(job, "existing", district.district_id, network_path, notes), area)
    planned = _clip(_facilities(job, "planned", district.district_id, network_path, notes), area)
    inside = residents.sindex.query(shape_wgs, predicate="intersects") if len(residents) else []
    if len(inside) == 0:
        raise InputError(
            message(
                "batch_no_residents_inside",
                district=repr(district.district_id),
                n=len(residents),
                metres=f"{reach_m:,.0f}",
            )
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
            raise InputError(message("batch_residents_need_osm", file=str(path)))
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
        raise InputError(message("batch_residents_one_file", files=", ".join(map(str, paths))))
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
            notes.append(
                message(
                    "batch_no_inventory",
                    file=str(path),
                    kind=message(f"batch_kind_{kind}"),
                    district=repr(district_id),
                )
            )
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
