"""Atomic output: every file is written under a temporary name, then renamed into place."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import fcntl
import json
import os
import re
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from radius._errors import InputError, RadiusError
from radius._files import format_size
from radius._workbook import write_workbook
from radius.i18n import message

__all__ = [
    "UNCOVERED_FIELDS",
    "UncoveredView",
    "Writer",
    "file_system_error",
    "gpkg_writer",
    "json_writer",
    "outputs_settled",
    "sqlite_connection",
    "stale_partials",
    "uncovered_view",
    "write_outputs",
    "xlsx_writer",
]

Writer = Callable[[Path], None]

_UNDER_WAY_LOCK = threading.Lock()
_UNDER_WAY = 0
"""Calls of :func:`write_outputs` started and not yet returned or failed (any thread)."""
_RENAMED: list[Path] = []
"""The files the last finished :func:`write_outputs` call renamed into place (a command
line run makes one such call; a long-lived process keeps no growing list)."""


def gpkg_writer(
    layers: Mapping[str, gpd.GeoDataFrame | Callable[[], gpd.GeoDataFrame]],
    views: Mapping[str, UncoveredView] | None = None,
) -> Writer:
    """A writer that puts each frame in its own layer of one GeoPackage, with QGIS styles.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame or callable
        Layer name -> features, in the order they are written; a callable is called for
        its frame when that layer's turn comes (e.g. the service areas of ``radius reach``,
        built while the layers before them are written).
    views : mapping of str to UncoveredView, optional
        Layers of ``layers`` stored as a view of another layer instead of as a table of
        their own (same features and fields; see :func:`uncovered_view`).
    """
    views = dict(views or {})

    def write(path: Path) -> None:
        from radius.gis_styles import add_layer_styles

        frames: dict[str, gpd.GeoDataFrame] = {}
        for name, layer in layers.items():
            frames[name] = frame = layer() if callable(layer) else layer
            if name not in views:
                _write_layer(frame, path, name)
        for name, view in views.items():
            _create_view(path, name, view)
        add_layer_styles(path, frames)  # QGIS opens every layer styled

    return write


def _write_layer(frame: gpd.GeoDataFrame, path: Path, name: str) -> None:
    """One layer, through Arrow when the frame converts (2-3 times faster), else row-wise."""
    try:
        import pyarrow
    except ImportError:  # pragma: no cover - pyarrow comes with pandas' optional stack
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        return
    try:
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio", use_arrow=True)
    except pyarrow.ArrowException:  # e.g. an object column of mixed types: nothing written
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")


@dataclass(frozen=True)
class UncoveredView:
    """A layer of uncovered points kept as a view of the points layer (no copy of them).

    One feature per point and (category, threshold) the point is not covered for, with
    the fields ``resident_id, district_id, category, threshold, threshold_m, population,
    households, dist_m`` and the point: the long table ``AnalysisResult.shortfall``,
    selected from the points layer's ``{category}_covered_{threshold}`` and
    ``{category}_dist_m`` columns (so ``dist_m`` is rounded to the millimetre as there).

    Attributes
    ----------
    source : str
        The points layer (written as a table in the same GeoPackage).
    thresholds : tuple of (str, str, float)
        (category, threshold label, threshold in metres), in the order of the features.
    """

    source: str
    thresholds: tuple[tuple[str, str, float], ...]


UNCOVERED_FIELDS = (
    "resident_id",
    "district_id",
    "category",
    "threshold",
    "threshold_m",
    "population",
    "households",
    "dist_m",
)
"""Fields of the uncovered-residents layer (``AnalysisResult.shortfall``), in order."""


def uncovered_view(
    source: str,
    points: gpd.GeoDataFrame,
    uncovered: gpd.GeoDataFrame,
    thresholds: Sequence[tuple[str, str, float]],
) -> UncoveredView | None:
    """The view that stands for ``uncovered``, or None when it would not hold the same rows.

    Parameters
    ----------
    source : str
        Layer name of ``points`` in the GeoPackage.
    points : geopandas.GeoDataFrame
        The resident points with ``{category}_covered_{label}`` and ``{category}_dist_m``.
    uncovered : geopandas.GeoDataFrame
        The uncovered residents, one row per point and (category, threshold).
    thresholds : sequence of (str, str, float)
        (category, label, metres) of every threshold computed, in the rows' order.

    Returns
    -------
    UncoveredView or None
    """
    columns = set(map(str, points.columns))
    needed = {"resident_id", "district_id", "population", "households"}
    if list(map(str, uncovered.columns)) != [*UNCOVERED_FIELDS, "geometry"]:
        return None
    if uncovered.crs != points.crs or not needed <= columns:
        return None
    rows = 0
    for category, label, _ in thresholds:
        covered, dist = f"{category}_covered_{label}", f"{category}_dist_m"
        if covered not in columns or dist not in columns:
            return None
        if not pd.api.types.is_bool_dtype(points[covered].dtype):
            return None
        rows += int((~points[covered].to_numpy(dtype=bool)).sum())
    if rows != len(uncovered):
        return None
    return UncoveredView(source, tuple((c, lb, float(m)) for c, lb, m in thresholds))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _create_view(path: Path, name: str, view: UncoveredView) -> None:
    """Create the view, register it as a feature layer with its source's extent and CRS."""
    keys = f"{name}_thresholds"
    source = _quoted(view.source)
    with contextlib.closing(sqlite_connection(path)) as connection, connection:
        geometry, kind, srs, z, m = connection.execute(
            "SELECT column_name, geometry_type_name, srs_id, z, m FROM gpkg_geometry_columns "
            "WHERE table_name = ?",
            (view.source,),
        ).fetchone()
        connection.execute(f"DROP TABLE IF EXISTS {_quoted(keys)}")
        connection.execute(
            f"CREATE TABLE {_quoted(keys)} (k INTEGER PRIMARY KEY, category TEXT, "
            "threshold TEXT, threshold_m REAL)"
        )
        connection.executemany(
            f"INSERT INTO {_quoted(keys)} VALUES (?, ?, ?, ?)",
            [(k, c, label, metres) for k, (c, label, metres) in enumerate(view.thresholds)],
        )
        count = max(len(view.thresholds), 1)
        # Columns taken straight from tables keep their declared types, which GDAL reads
        # as the layer's field types (a literal in the SELECT would have none).
        selects = [
            f"SELECT r.fid * {count} + t.k AS fid, r.resident_id, r.district_id, t.category, "
            f"t.threshold, t.threshold_m, r.population, r.households, "
            f"r.{_quoted(f'{c}_dist_m')} AS dist_m, r.{_quoted(geometry)} AS {_quoted(geometry)} "
            f"FROM {source} AS r JOIN {_quoted(keys)} AS t ON t.k = {k} "
            f"WHERE NOT r.{_quoted(f'{c}_covered_{label}')}"
            for k, (c, label, _) in enumerate(view.thresholds)
        ] or [
            f"SELECT r.fid AS fid, r.resident_id, r.district_id, t.category, t.threshold, "
            f"t.threshold_m, r.population, r.households, NULL AS dist_m, "
            f"r.{_quoted(geometry)} AS {_quoted(geometry)} FROM {source} AS r "
            f"JOIN {_quoted(keys)} AS t WHERE 0"
        ]
        connection.execute(f"CREATE VIEW {_quoted(name)} AS " + " UNION ALL ".join(selects))
        extent = connection.execute(
            "SELECT min_x, min_y, max_x, max_y, last_change FROM gpkg_contents "
            "WHERE table_name = ?",
            (view.source,),
        ).fetchone()
        connection.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
            "min_x, min_y, max_x, max_y, last_change, srs_id) "
            "VALUES (?, 'features', ?, '', ?, ?, ?, ?, ?, ?)",
            (name, name, *extent, srs),
        )
        connection.execute(
            "INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, ?, ?)",
            (name, geometry, kind, srs, z, m),
        )


def xlsx_writer(sheets: Mapping[str, pd.DataFrame]) -> Writer:
    """A workbook with a sheet per frame (names cut to 31 characters), laid out by
    :func:`radius._workbook.write_workbook`: frozen bold headers, widths, units."""

    def write(path: Path) -> None:
        used: set[str] = set()
        write_workbook(path, {_sheet_name(name, used): frame for name, frame in sheets.items()})

    return write


def _sheet_name(name: str, used: set[str]) -> str:
    """An Excel-safe, unique sheet name of at most 31 characters."""
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "sheet"
    candidate = cleaned
    counter = 2
    while candidate.lower() in used:
        suffix = f"~{counter}"
        candidate = cleaned[: 31 - len(suffix)] + suffix
        counter += 1
    used.add(candidate.lower())
    return candidate


def json_writer(data: Any) -> Writer:
    """A writer of UTF-8 JSON (Chinese kept readable)."""

    def write(path: Path) -> None:
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")

    return write


_PARTIAL = re.compile(r"^\..+\.partial(\.[^/]*)?$")
"""Hidden names of :func:`write_outputs`' temporary files, and of their SQLite companions
(``-journal``, ``-wal``, ``-shm``) that GDAL leaves beside a GeoPackage being written."""


def stale_partials(out_dir: Path) -> list[Path]:
    """Temporary files a killed run left in ``out_dir`` (none of a finished run remain)."""
    try:
        return sorted(p for p in out_dir.iterdir() if _PARTIAL.match(p.name) and p.is_file())
    except OSError:
        return []


@contextlib.contextmanager
def _folder_lock(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder itself (no lock file) while writing into it.

    Two runs writing into one folder take turns, so a run that removes stale partial files
    never removes those of a run still writing.
    """
    try:
        handle = os.open(out_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield  # e.g. a file system without directory handles: no lock
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def _fsync(path: Path) -> None:
    """Flush a written file (or folder) to the disk, so a crash cannot leave it short."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    handle = os.open(path, flags)
    try:
        os.fsync(handle)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # a file system without fsync
            raise
    finally:
        os.close(handle)


def _read_only(out_dir: Path) -> bool:
    try:
        return bool(os.statvfs(out_dir).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _disk_full(out_dir: Path, exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
    text = str(exc).lower()
    if any(
        words in text
        for words in ("no space left", "disk is full", "disk full", "file too large", "quota")
    ):
        return True
    # GDAL reports a full disk as a failed write or commit: judge by the space left.
    try:
        usage = shutil.disk_usage(out_dir)
    except OSError:
        return False
    return usage.free < max(1024 * 1024, usage.total // 100)


def _file_size_limit() -> int | None:
    """This process's limit on the size of a file it writes (bytes; ``ulimit -f``), if any."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    except (ImportError, OSError, ValueError):
        return None
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _past_file_size_limit(exc: BaseException) -> int | None:
    """The file size limit a failed write ran into (EFBIG, or SQLite's I/O error), if any."""
    size_limit = _file_size_limit()
    if size_limit is None:
        return None
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return size_limit
    text = str(exc).lower()
    return size_limit if "file too large" in text or "disk i/o error" in text else None


def file_system_error(
    out_dir: Path, name: str | None, exc: BaseException, *, disk_full: bool | None = None
) -> InputError:
    """The error of an output that could not be written, naming the path and the fix.

    ``disk_full``, when given, is whether the disk was full, judged by the caller when the
    write failed (the free space may have changed since); otherwise it is judged now.
    """
    path = str(out_dir / name if name else out_dir)
    folder = str(out_dir)
    if (size_limit := _past_file_size_limit(exc)) is not None:
        return InputError(
            message("io_file_size_limit", file=path, limit=format_size(size_limit), folder=folder)
        )
    if (isinstance(exc, OSError) and exc.errno == errno.EROFS) or _read_only(out_dir):
        return InputError(message("io_read_only", file=path))
    if disk_full is None:
        disk_full = _disk_full(out_dir, exc)
    if disk_full:
        try:
            free: str = message("io_disk_free", size=format_size(shutil.disk_usage(out_dir).free))
        except OSError:
            free = ""
        return InputError(message("io_disk_full", file=path, free=free, folder=folder))
    if isinstance(exc, PermissionError) or (
        isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM)
    ):
        return InputError(message("io_permission_denied", file=path, folder=folder))
    reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
    return InputError(message("io_cannot_write", file=path, reason=reason))


def write_outputs(out_dir: Path, files: Mapping[str, Writer]) -> list[Path]:
    """Write several files into ``out_dir`` so that none is ever half-written.

    Every file is first written to a hidden temporary name in ``out_dir`` and flushed to
    the disk (fsync); only when all of them are complete are they renamed into place, and
    the folder is flushed too. On any error the temporary files are removed and the
    existing outputs are left as they were. Temporary files a killed run left behind are
    removed first; the folder is locked meanwhile, so concurrent runs take turns.

    Parameters
    ----------
    out_dir : Path
        Output folder (created if missing).
    files : mapping of str to callable
        File name -> function writing that file at the path it is given.

    Returns
    -------
    list of Path
        The written files.

    Raises
    ------
    InputError
        If the folder cannot be created or written (read-only, permission, disk full),
        naming the path and the fix.
    """
    global _UNDER_WAY
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise file_system_error(out_dir, None, exc) from None
    with _UNDER_WAY_LOCK:
        _UNDER_WAY += 1
        _RENAMED.clear()
    try:
        with _folder_lock(out_dir):
            for stale in stale_partials(out_dir):
                with contextlib.suppress(OSError):
                    stale.unlink()
            written = _write_all(out_dir, files)
            _RENAMED[:] = written
            return written
    finally:
        with _UNDER_WAY_LOCK:
            _UNDER_WAY -= 1


def outputs_settled() -> bool:
    """Whether every output of this process is complete and in place.

    True when no :func:`write_outputs` call is under way, the last one renamed its files
    into place, each of them is there under its final name and no temporary file is left
    in their folder. ``radius.cli.run`` ends the process without the
    interpreter's teardown only then.
    """
    if _UNDER_WAY or not _RENAMED:
        return False
    folders = {path.parent for path in _RENAMED}
    return all(path.is_file() for path in _RENAMED) and not any(
        stale_partials(folder) for folder in folders
    )


UNSYNCED_SQLITE = {"OGR_SQLITE_SYNCHRONOUS": "OFF", "OGR_SQLITE_JOURNAL": "OFF"}
"""GDAL configuration while :func:`write_outputs` writes its temporary files.

SQLite then neither waits for the disk after each transaction nor keeps a rollback journal
(GeoPackage writing: 273 fsyncs for a ``radius reach`` on Shanghai, 3 with these). Safe
because each file is a temporary one: removed if anything fails, flushed to the disk whole
(:func:`_fsync`) and only then renamed into place. GDAL's configuration is global to the
process, so concurrent writers (the app's sessions) share one setting, counted.
"""
_UNSYNCED_LOCK = threading.Lock()
_unsynced_users = 0
_synced_before: dict[str, Any] = {}
_WRITING_TEMPORARY: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "radius_writing_temporary", default=False
)
"""True while this thread's :func:`write_outputs` writer runs (on a temporary file)."""


def sqlite_connection(path: Path) -> sqlite3.Connection:
    """``sqlite3.connect(path)``; inside a :func:`write_outputs` writer, without syncs and
    rollback journal, as GDAL's writing there (:data:`UNSYNCED_SQLITE`)."""
    connection = sqlite3.connect(path)
    if _WRITING_TEMPORARY.get():
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA journal_mode = OFF")
    return connection


@contextlib.contextmanager
def _unsynced_sqlite() -> Iterator[None]:
    """:data:`UNSYNCED_SQLITE` set while the block runs (the previous values restored when
    the last concurrent block ends)."""
    global _unsynced_users
    from pyogrio import get_gdal_config_option, set_gdal_config_options

    with _UNSYNCED_LOCK:
        if _unsynced_users == 0:
            _synced_before.clear()
            _synced_before.update({key: get_gdal_config_option(key) for key in UNSYNCED_SQLITE})
            set_gdal_config_options(UNSYNCED_SQLITE)
        _unsynced_users += 1
    token = _WRITING_TEMPORARY.set(True)
    try:
        yield
    finally:
        _WRITING_TEMPORARY.reset(token)
        with _UNSYNCED_LOCK:
            _unsynced_users -= 1
            if _unsynced_users == 0:
                set_gdal_config_options(dict(_synced_before))


def _write_all(out_dir: Path, files: Mapping[str, Writer]) -> list[Path]:
    temporaries: dict[str, Path] = {}
    name: str | None = None
    try:
        for name, writer in files.items():
            suffix = "".join(Path(name).suffixes)
            handle, temp_name = tempfile.mkstemp(
                prefix=f".{Path(name).stem}.", suffix=f".partial{suffix}", dir=out_dir
            )
            os.close(handle)
            temp_path = Path(temp_name)
            temp_path.unlink()  # GDAL drivers want to create the file themselves
            temporaries[name] = temp_path
            try:
                with _unsynced_sqlite():
                    writer(temp_path)
            except RadiusError:
                raise
            except Exception as exc:
                full = _disk_full(out_dir, exc)  # judged while the partial file holds its space
                if (
                    isinstance(exc, OSError)
                    or full
                    or _read_only(out_dir)
                    or _past_file_size_limit(exc) is not None
                ):
                    # The space left is told once the temporary files are gone (written
                    # without a journal, a file that filled the disk holds all of it).
                    _remove_temporaries(temporaries.values())
                    raise file_system_error(out_dir, name, exc, disk_full=full) from None
                raise
            _fsync(temp_path)
        written = []
        for name, temp_path in temporaries.items():
            final = out_dir / name
            os.replace(temp_path, final)
            written.append(final)
        _fsync(out_dir)
        return written
    except OSError as exc:
        full = _disk_full(out_dir, exc)
        _remove_temporaries(temporaries.values())
        raise file_system_error(out_dir, name, exc, disk_full=full) from None
    finally:
        _remove_temporaries(temporaries.values())


def _remove_temporaries(paths: Iterable[Path]) -> None:
    """Remove temporary files and their SQLite companions, those that exist."""
    for temp_path in paths:
        for leftover in (temp_path, *temp_path.parent.glob(f"{temp_path.name}-*")):
            with contextlib.suppress(OSError):
                if leftover.exists():
                    leftover.unlink()
