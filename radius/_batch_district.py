"""Batch districts: one district's task on a worker, its outputs, and its done record.

:func:`_run_district` analyses one district (its clipped inputs from
:mod:`radius._batch_inputs`), runs the job's siting requests for it, writes
``OUT/districts/<district_id>/`` atomically and renames ``done.json`` into place last. The
done record holds the fingerprint of the job and inputs and every output file's size and
SHA-256, so a rerun (:func:`_complete`) tells an intact district from a damaged one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from radius import __version__
from radius._batch_inputs import (
    _LOADS,
    WGS84,
    _District,
    _district_inputs,
    _file_key,
    _short,
    _Task,
)
from radius._batch_job import (
    OUTPUT_FILES,
    BatchJob,
    SourceSpec,
)
from radius._errors import InfeasibleError, InputError
from radius._io import Writer, gpkg_writer, json_writer, write_outputs, xlsx_writer
from radius._limits import check_json_depth, limit
from radius.i18n import Language, error_message, localize_all, message, message_of
from radius.pipeline import (
    AnalysisInputs,
    AnalysisResult,
    AnalyzeConfig,
    ReachConfig,
    analyze,
    append_facilities,
)
from radius.report import displayable_facilities
from radius.siting import SitingResult, run_site_request

if TYPE_CHECKING:  # the report modules load matplotlib: imported when reports are asked for
    from radius.report_document import InputFile


MARKER: Final = "done.json"
"""The file renamed into a district's folder last; its presence marks the folder complete."""

Status = Literal["ok", "failed", "skipped"]

# =========================================================================== the task


@dataclass(frozen=True)
class _Outcome:
    index: int
    status: Status
    error: str
    seconds: float
    notes: tuple[str, ...]
    loads: dict[str, int]
    worker: str


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
            notes.extend(message_of(w.message) for w in caught)
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
    notes.extend(message_of(w.message) for w in caught)
    inputs = replace(inputs, notes=list(dict.fromkeys(notes)))
    network_path = job.network.path_for(district.district_id)
    config = _analysis_config(job, network_path)
    result = analyze(inputs, config, proposals=planned)
    siting_notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sitings = _district_sitings(task, inputs, planned, config, siting_notes)
    siting_notes += [message_of(w.message) for w in caught]
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
            scoped = request.model_copy(update=scope)
            sitings.append(run_site_request(inputs, config, scoped, lang=task.job.lang))
        except InfeasibleError as exc:
            notes.append(
                message(
                    "batch_no_siting", k=k, category=request.category, reason=error_message(exc)
                )
            )
    return sitings


def _sites_layer(sitings: Sequence[SitingResult], district_id: str) -> gpd.GeoDataFrame:
    """The sites of every siting of one district, with the district's id, WGS-84."""
    frames = [s.sites for s in sitings]
    sites = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=WGS84)
    # The sites may name their unit already (the district itself): keep one such column.
    columns = [c for c in frames[0].columns if c != "district_id"]
    return sites.assign(district_id=district_id)[["district_id", *columns]]


# ===================================================================== outputs and the done record


def sites_sheet(
    sites: gpd.GeoDataFrame, lang: Language, sheets: Mapping[str, Any]
) -> dict[str, pd.DataFrame]:
    """The suggested sites as a workbook sheet in ``lang`` (its name unique among ``sheets``),
    in the district's and the batch's workbook."""
    from radius.report_document import sites_sheet_of  # loads the report modules

    return sites_sheet_of(sites, message("batch_sites_sheet").text(lang), lang, sheets)


_OUTSIDE_NOTE = "residents_outside_districts"


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
    notes = [n for n in result.notes if getattr(n, "key", None) != _OUTSIDE_NOTE]
    notes.append(message("batch_residents_around", n=int((~mine).sum()), metres=f"{reach_m:,.0f}"))
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
        from radius.report_document import provision_workbook  # loads the report modules

        sheets = provision_workbook(own, job.lang)
        if sites is not None:
            sheets.update(sites_sheet(sites, job.lang, sheets))
        files[OUTPUT_FILES["xlsx"][0]] = xlsx_writer(sheets)
    if "summary" in job.outputs:
        files[OUTPUT_FILES["summary"][0]] = json_writer(
            {"lang": job.lang, **localize_all(summary, job.lang)}
        )
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


def _damaged(folder: Path, fingerprint: str) -> tuple[str, int | None, int] | None:
    """The first file a done record of this fingerprint lists that no longer matches it.

    Returns
    -------
    tuple or None
        The file's name, its size now (bytes; None when it is missing) and the size the
        record holds; None when there is no such record or every file matches.
    """
    marker = _read_marker(folder)
    if marker is None or marker.get("fingerprint") != fingerprint:
        return None
    files = marker.get("files")
    if not isinstance(files, dict):
        return None
    for name, record in files.items():
        recorded = record.get("bytes") if isinstance(record, dict) else None
        if not isinstance(recorded, int):
            continue
        path = folder / str(name)
        try:
            size = path.stat().st_size
            if size != recorded or _sha256(path) != record.get("sha256"):
                return str(name), size, recorded
        except OSError:
            return str(name), None, recorded
    return None


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
