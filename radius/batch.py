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
import logging
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from radius import __version__
from radius._batch_district import (
    Status,
    _complete,
    _damaged,
    _fingerprint,
    _Outcome,
    _read_marker,
    _run_district,
    sites_sheet,
)
from radius._batch_inputs import (
    WGS84,
    _crs_of,
    _District,
    _neighbours,
    _plan_districts,
    _selected,
    _short,
    _Task,
    clip_network,
    district_folder_name,
)
from radius._batch_job import (
    BatchJob,
    DensityResidents,
    DistrictsSpec,
    FacilitiesSpec,
    ResidentsSpec,
    SourceSpec,
    check_job,
    load_job,
)
from radius._errors import InputError, RadiusError
from radius._io import Writer, gpkg_writer, json_writer, write_outputs, xlsx_writer
from radius._limits import limit, limit_message_error
from radius.i18n import Language, Message, localize, localize_all, message, message_of, warn
from radius.report import rule_sheets

if TYPE_CHECKING:  # the report modules load matplotlib: imported when reports are asked for
    pass


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

_CONNECT_TIMEOUT_S: Final = 30.0

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
    lang : {"zh", "en"}
        The language ``batch_summary.json`` and the workbook are written in (the job's).
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
    lang: Language = "zh"

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
        """The content of ``batch_summary.json``: notes and errors in :attr:`lang`."""
        data = {
            "job": self.job_name,
            "lang": self.lang,
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
        return dict(localize_all(data, self.lang))


# =========================================================================== scheduling


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
                message("batch_scheduler_unreachable", address=scheduler, reason=str(exc))
            ) from None
        try:
            client.wait_for_workers(1, timeout=limit("worker_wait_s"))
        except TimeoutError:
            client.close()
            raise limit_message_error(
                "batch_no_worker", "worker_wait_s", scheduler=scheduler
            ) from None
        try:
            n = len(client.scheduler_info(n_workers=-1)["workers"])
            yield client, message("batch_cluster_scheduler", address=scheduler), n
        finally:
            client.close()
        return
    errors = _WorkerErrors()
    logging.getLogger("distributed.nanny").addHandler(errors)
    try:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=None,
            # The scheduler serves /health on HTTP even without a dashboard: any free port.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        )
    except RuntimeError as exc:  # "Nanny failed to start.": a worker failed at start
        raise WorkersDiedError(
            message("batch_workers_failed_start", error=errors.last or str(exc))
        ) from None
    finally:
        logging.getLogger("distributed.nanny").removeHandler(errors)
    memory = message("batch_memory_auto") if memory_limit == "auto" else str(memory_limit)
    with cluster, Client(cluster) as client:
        yield client, message("batch_cluster_local", n=workers, memory=memory), workers


class _WorkerErrors(logging.Handler):
    """The last error a worker's nanny logged as it started (the worker's own exception)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last = ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.last = _short(record.exc_info[1])


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
        raise InputError(message("batch_workers_at_least_one", workers=workers))
    limit_m = job.limit_m()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        every, network_crs = _plan_districts(job)
        chosen = _selected(job, every)
        neighbours: dict[int, list[tuple[str, bytes]]] = {}
        if job.residents is not None and job.residents.density is not None:
            crs = network_crs or _crs_of(every, job.crs)
            neighbours = _neighbours(chosen, every, crs, limit_m * job.buffer_factor * 1.05 + 50.0)
    plan_notes = tuple(dict.fromkeys(message_of(w.message) for w in caught))

    statuses: dict[int, DistrictStatus] = {}
    tasks: list[_Task] = []
    damaged: list[str] = []  # done districts whose files no longer match their record
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
        if resume and (damage := _damaged(folder, fingerprint)) is not None:
            name, size, recorded = damage
            damaged.append(
                warn(
                    "batch_district_damaged" if size is not None else "batch_district_missing",
                    district=district.district_id,
                    file=str(folder / name),
                    size=f"{size or 0:,}",
                    recorded=f"{recorded:,}",
                )
            )
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
    cluster_name: str = message("batch_cluster_none")
    n_workers = 0
    compute_started = time.perf_counter()
    if tasks:
        wanted = workers or max(1, min(os.cpu_count() or 1, len(tasks)))
        limit = memory_limit if memory_limit is not None else job.memory_limit
        try:
            with _connect(scheduler, wanted, limit) as (client, cluster_name, n_workers):
                compute_started = time.perf_counter()
                outcomes = _run_tasks(client, tasks, progress, limit, job.lang)
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
        notes=plan_notes + tuple(damaged),
        job_name=job.name,
        lang=job.lang,
    )
    _write_batch(job, report, chosen, rules, started)
    return replace(report, elapsed_s=time.perf_counter() - started)


def _written_before(out: Path, chosen: Sequence[_District], tasks: Sequence[_Task]) -> Message:
    """Which districts were complete on disk when a batch was interrupted."""
    complete = [
        district.district_id
        for district in chosen
        if _read_marker(out / "districts" / district_folder_name(district.district_id))
    ]
    listed = ", ".join(complete[:10]) + (" ..." if len(complete) > 10 else "")
    computed = {task.district.district_id for task in tasks}
    new = sum(d in computed for d in complete)
    folder = str(out / "districts")
    if not complete:
        return message("batch_interrupted_none", folder=folder, total=len(chosen))
    return message(
        "batch_interrupted_written",
        folder=folder,
        complete=len(complete),
        total=len(chosen),
        new=new,
        listed=listed,
    )


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch; ``written`` says which districts were written before it."""

    def __init__(self, written: str) -> None:
        super().__init__(written)
        self.written = written


class WorkersDiedError(RadiusError, RuntimeError):
    """Every dask worker died and none came back: the batch cannot go on."""


_POLL_S: Final = 0.25


def _live_workers(client: Any) -> int:
    try:
        return len(client.scheduler_info(n_workers=-1)["workers"])
    except Exception:  # the scheduler itself is gone
        return 0


def _run_tasks(
    client: Any,
    tasks: list[_Task],
    progress: bool,
    memory_limit: str | int | None = None,
    lang: Language = "zh",
) -> dict[int, _Outcome]:
    """Submit every task and collect the outcomes as they come, with a progress bar.

    The scheduler is asked for its live workers every few seconds: when none has been alive
    for ``RADIUS_MAX_WORKER_WAIT_S`` seconds (workers that die at start, over a too small
    memory limit, are never replaced), the batch ends with :class:`WorkersDiedError`
    instead of waiting forever. So does a district whose worker cannot import radius (every
    other district would fail the same way).
    """
    from distributed import as_completed
    from tqdm import tqdm

    _check_workers_import(client, len(tasks))
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
    wait_s = limit("worker_wait_s")
    alive_at = time.monotonic()
    checked_at = 0.0
    label = message("cli_batch_progress").text(lang)
    with tqdm(total=len(tasks), desc=label, unit="", disable=not progress, file=sys.stderr) as bar:
        while not queue.is_empty():
            ready = queue.next_batch(block=False)
            if not ready:
                now = time.monotonic()
                if now - checked_at >= 2.0:
                    checked_at = now
                    if _live_workers(client):
                        alive_at = now
                    elif now - alive_at > wait_s:
                        client.cancel(list(futures))
                        raise WorkersDiedError(
                            _died_message(memory_limit, outcomes, len(tasks), wait_s)
                        )
                time.sleep(_POLL_S)
                continue
            for future in ready:
                task = futures[future]
                try:
                    outcome: _Outcome = future.result()
                except ImportError as exc:  # the worker's environment lacks radius
                    client.cancel(list(futures))
                    done = sum(o.status == "ok" for o in outcomes.values())
                    raise WorkersDiedError(
                        message(
                            "batch_worker_import_error",
                            error=_short(exc),
                            done=done,
                            total=len(tasks),
                        )
                    ) from None
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


def _check_workers_import(client: Any, n: int) -> None:
    """Refuse workers that cannot import radius before they are sent a district.

    A worker that cannot unpickle a task (its environment lacks radius, or holds another
    version) drops its connection and dies: the scheduler only sees it go, and the error
    stays in that worker's log. ``exec`` of an import is pickled by reference to the
    builtins, so the workers run it whatever they have installed and send back the error.

    Raises
    ------
    WorkersDiedError
        Naming the worker's import error and the fix.
    """
    answers = client.run(exec, "import radius._batch_district", on_error="return")
    for answer in answers.values():
        if isinstance(answer, ImportError):
            raise WorkersDiedError(
                message("batch_worker_import_error", error=_short(answer), done=0, total=n)
            )


def _memory_fix(memory_limit: str | int | None) -> Message:
    if memory_limit is None:
        return message("batch_memory_fix")
    return message("batch_memory_fix_given", limit=str(memory_limit))


def _died_message(
    memory_limit: str | int | None, outcomes: Mapping[int, _Outcome], n: int, wait_s: int
) -> Message:
    done = sum(o.status == "ok" for o in outcomes.values())
    return message(
        "batch_workers_died",
        seconds=wait_s,
        fix=_memory_fix(memory_limit),
        done=done,
        n=n,
    )


def _killed_message(exc: BaseException, memory_limit: str | int | None) -> str:
    if type(exc).__name__ == "KilledWorker":
        return message("batch_worker_killed", fix=_memory_fix(memory_limit))
    return _short(exc)


# =========================================================================== combined tables


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
    """The ``status`` layer: one row per district, its error in the job's language."""
    geometry = [
        shapely.from_wkb(d.geometry_wkb) if d.geometry_wkb is not None else None for d in chosen
    ]
    return gpd.GeoDataFrame(
        {
            "district_id": [d.district_id for d in report.districts],
            "name": [d.name for d in report.districts],
            "status": [d.status for d in report.districts],
            "error": [localize(d.error, report.lang) for d in report.districts],
            "seconds": [round(d.seconds, 3) for d in report.districts],
            "folder": [str(d.folder) for d in report.districts],
        },
        geometry=gpd.GeoSeries(geometry, crs=WGS84),
    )


def _batch_sheets(
    status: gpd.GeoDataFrame,
    combined: gpd.GeoDataFrame,
    rules: list[dict[str, Any]],
    lang: Language = "zh",
) -> dict[str, pd.DataFrame]:
    """Workbook in ``lang``: the batch status, the rules, then one sheet per rule over every
    district."""
    from radius.report_document import one_language_sheets  # loads the report modules

    def text(key: str) -> str:
        return message(key).text(lang)

    batch = pd.DataFrame(
        {
            text("batch_column_district_id"): status["district_id"],
            text("batch_column_name"): status["name"],
            text("batch_column_status"): [text(f"batch_status_{s}") for s in status["status"]],
            text("batch_column_error"): status["error"],
            text("batch_column_seconds"): status["seconds"],
        }
    )
    return one_language_sheets(
        rule_sheets(pd.DataFrame(rules), combined), lang, {text("batch_sheet"): batch}
    )


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
        sheets = _batch_sheets(status, report.combined, rules, job.lang)
        if job.sites:
            sheets.update(sites_sheet(report.sites, job.lang, sheets))
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
    parser.add_argument(
        "--lang",
        choices=["zh", "en"],
        default=None,
        help="language of the lines, workbooks, summaries and reports (default: the job's "
        "lang, else the locale, LC_ALL/LANG: English for an en_* locale, else Chinese)",
    )


def batch_command(args: argparse.Namespace) -> int:
    """Run ``radius batch`` from parsed arguments and print a summary.

    The language is ``--lang``, else the job file's ``lang``, else the locale's; it is set on
    ``args.lang`` for the command line's error lines.

    Returns
    -------
    int
        0 when no district failed, 3 when some failed (they are listed in
        ``batch_summary.json``). Invalid jobs raise :class:`~radius._errors.RadiusError`.
    """
    from radius.i18n import language_from_locale

    job = load_job(args.job)
    if getattr(args, "lang", None) is None and "lang" in job.model_fields_set:
        args.lang = job.lang
    lang: Language = getattr(args, "lang", None) or language_from_locale()
    args.lang = lang
    job = job.model_copy(update={"lang": lang})
    report = run_batch(
        job,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.no_progress,
        memory_limit=args.memory_limit,
        resume=not args.rerun,
    )

    def text(key: str, **values: Any) -> str:
        return message(key, **values).text(lang)

    speed = (
        text("cli_batch_speed", rate=report.districts_per_minute, cluster=report.cluster)
        if report.workers
        else text("cli_batch_nothing")
    )
    print(
        text(
            "cli_batch_summary",
            n=len(report.districts),
            ok=report.count("ok"),
            failed=report.count("failed"),
            skipped=report.count("skipped"),
            seconds=report.elapsed_s,
            speed=speed,
        )
    )
    for district in report.districts:
        if district.status == "failed":
            print(text("cli_batch_failed", district=district.district_id, error=district.error))
    names = ("batch.gpkg", "batch.xlsx", "batch_summary.json")
    written = [name for name in names if (report.out_dir / name).exists()]
    print(text("cli_batch_wrote", files=", ".join(written), out=str(report.out_dir)))
    return 3 if report.count("failed") else 0
