"""Safe handling of uploaded files: size limits, file names, zip archives, content checks.

Pure functions with no user-interface code: the app (``app.py``) passes the name and bytes
of each uploaded file to :func:`save_upload`, which writes it into a private temporary
folder and returns the path the readers of :mod:`radius.pipeline` take.

What is checked, each with an :class:`~radius._errors.InputError` that names the file (its
text a message id, ``upload_*`` of ``configs/messages.yaml``, in Chinese or English):

- the size (``max_bytes``);
- the file name: only its last component is kept, path separators, ``..`` and control
  characters are removed, so a name can never point outside the folder;
- the kind of file, from its name (only the suffixes a role accepts, see
  :data:`UPLOAD_SUFFIXES`) and from its first bytes where that is cheap: a web page (HTML)
  saved as ``.osm``, a ``.zip`` or ``.xlsx`` that is not a zip archive, a ``.gpkg`` that is
  not SQLite, a ``.pbf`` without an OSM header, and so on;
- zip archives (zipped Shapefiles) are unpacked with limits: no absolute paths, no ``..``
  escaping the folder, no symbolic links, no encrypted entries, at most
  :attr:`ZipLimits.max_entries` entries, at most :attr:`ZipLimits.max_total_bytes`
  unpacked (counted while unpacking, not trusted from the archive's header) and a
  compression ratio of at most :attr:`ZipLimits.max_ratio` (zip bombs). Only the parts of
  a Shapefile are kept and packed again into a clean archive. The checks of the archive's
  directory are those of :mod:`radius._files`, which the command line and library readers
  make before GDAL reads a zip in place.

:func:`check_point_table` finds longitude and latitude columns that look swapped in a CSV
or XLSX table of points.
"""

from __future__ import annotations

import io
import os
import re
import stat
import tempfile
import unicodedata
import zipfile
from collections.abc import Collection, Mapping
from pathlib import Path, PurePosixPath
from types import MappingProxyType

import numpy as np
import pandas as pd

from radius._errors import InputError
from radius._files import (
    COMPRESSED_OSM_LIMITS,
    SHAPEFILE_PARTS,
    ZipLimits,
    check_unpacked,
    check_workbook,
    check_zip_entries,
    check_zip_sizes,
    format_size,
    parse_number,
)
from radius.i18n import message

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SHAPEFILE_PARTS",
    "UPLOAD_SUFFIXES",
    "ZipLimits",
    "check_point_table",
    "check_unpacked_size",
    "format_size",
    "private_dir",
    "sanitise_name",
    "save_upload",
    "suffix_of",
    "unpack_osm",
]

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
"""Default largest upload (bytes): 200 MiB, the same as Streamlit's ``server.maxUploadSize``."""

_VECTOR = (".geojson", ".json", ".gpkg", ".zip")
_TABLE = (".csv", ".txt", ".xlsx")
_OSM = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf", ".osm.xml")

UPLOAD_SUFFIXES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "network": (*_OSM, ".graphml", *_VECTOR),
        "facilities": (*_TABLE, *_VECTOR),
        "residents": (".tif", ".tiff", *_OSM, *_TABLE, *_VECTOR),
        "districts": _VECTOR,
    }
)
"""The file suffixes each kind of upload accepts (``.zip`` is a zipped Shapefile)."""

_KNOWN_SUFFIXES = tuple(
    sorted({s for suffixes in UPLOAD_SUFFIXES.values() for s in suffixes}, key=len, reverse=True)
)
_CHUNK = 1024 * 1024
_MAX_NAME_CHARS = 120
_HEAD_BYTES = 4096
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def private_dir(prefix: str = "radius-upload-") -> Path:
    """A new temporary folder only the current user can read (mode 0o700).

    The caller removes it (e.g. :func:`shutil.rmtree`) when the files are no longer needed.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(stat.S_IRWXU)
    return path


def suffix_of(name: str) -> str:
    """The known (possibly compound) suffix of a file name, lower case: ``".osm.pbf"``.

    Falls back to the last suffix (``Path.suffix``) for names no role accepts.
    """
    lowered = name.lower()
    for suffix in _KNOWN_SUFFIXES:
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            return suffix
    return Path(lowered).suffix


def sanitise_name(name: str) -> str:
    """A safe file name from an uploaded file's name.

    Keeps only the last path component (splitting on ``/`` and ``\\``), normalises Unicode
    (NFKC), replaces control characters and anything but letters (Chinese included),
    digits, ``.``, ``-``, ``_``, spaces and brackets with ``_``, removes leading dots (no
    hidden files, no ``..``) and shortens long names, keeping the suffix.

    Parameters
    ----------
    name : str
        The name the browser reported.

    Returns
    -------
    str
        A non-empty name without path separators; ``"upload"`` (plus the suffix) when
        nothing usable is left.
    """
    last = re.split(r"[/\\]", unicodedata.normalize("NFKC", name))[-1]
    cleaned = "".join(
        ch if (ch.isalnum() or ch in "._- ()[]") and ch.isprintable() else "_" for ch in last
    )
    cleaned = re.sub(r"\.{2,}", ".", cleaned).strip(" _")
    lowered = cleaned.lower()
    suffix = next((s for s in _KNOWN_SUFFIXES if lowered.endswith(s)), "")
    suffix = suffix or Path(lowered.lstrip(".")).suffix
    stem = cleaned[: len(cleaned) - len(suffix)] if suffix else cleaned
    stem = stem.strip(" ._") or "upload"
    stem = stem[: max(1, _MAX_NAME_CHARS - len(suffix))]
    return f"{stem}{suffix}"


def save_upload(
    name: str,
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    dest_dir: Path,
    allowed_suffixes: Collection[str] | None = None,
    zip_limits: ZipLimits | None = None,
    max_unpacked_bytes: int | None = None,
) -> Path:
    """Check an uploaded file and write it into ``dest_dir``.

    Parameters
    ----------
    name : str
        The file's name as uploaded (only used after :func:`sanitise_name`).
    data : bytes
        The file's content.
    max_bytes : int
        Largest accepted size (bytes).
    dest_dir : Path
        An existing private folder, e.g. from :func:`private_dir`.
    allowed_suffixes : collection of str, optional
        Accepted suffixes (``".csv"``, ``".osm.pbf"``, ...), e.g. ``UPLOAD_SUFFIXES[role]``;
        every suffix of :data:`UPLOAD_SUFFIXES` when omitted.
    zip_limits : ZipLimits, optional
        Limits for zip archives (the defaults of :class:`ZipLimits` when omitted).
    max_unpacked_bytes : int, optional
        With it, a ``.osm.bz2``/``.osm.gz`` is unpacked into ``dest_dir`` as ``.osm`` by
        :func:`unpack_osm`: refused as soon as it unpacks to more than this, or to megabytes
        holding no OSM element (padding). Without it, only the ratio check of
        :func:`check_unpacked_size` runs and the compressed file is kept.

    Returns
    -------
    Path
        The written file inside ``dest_dir``. For a zip archive, a clean archive holding
        only the Shapefile parts (:data:`SHAPEFILE_PARTS`), unpacked and packed again.

    Raises
    ------
    InputError
        If the file is too large, of a kind not accepted, its content does not match its
        name, or it is an unsafe or malformed zip archive; the message names the file, what
        is wrong and the fix.
    """
    size = len(data)
    if size > max_bytes:
        raise InputError(
            message(
                "upload_too_large",
                file=name,
                size=format_size(size),
                limit=format_size(max_bytes),
            )
        )
    if size == 0:
        raise InputError(message("upload_empty", file=name))
    safe = sanitise_name(name)
    suffix = suffix_of(safe)
    accepted = tuple(allowed_suffixes) if allowed_suffixes is not None else _KNOWN_SUFFIXES
    if suffix not in accepted:
        raise InputError(
            message(
                "upload_suffix_refused" if suffix else "upload_suffix_missing",
                file=name,
                suffix=repr(suffix),
                accepted=", ".join(sorted(accepted)),
            )
        )
    _check_content(name, suffix, data)
    dest_dir = Path(dest_dir)
    if suffix in (".osm.bz2", ".osm.gz"):
        if max_unpacked_bytes is None:
            check_unpacked_size(name, data, COMPRESSED_OSM_LIMITS)
        else:
            # Unpacked here, once, judged as it streams; the reader gets the plain XML.
            target = _unique_path(dest_dir, safe[: len(safe) - len(suffix)] + ".osm")
            unpack_osm(name, data, target, max_bytes=max_unpacked_bytes)
            return target
    if suffix == ".zip":
        return _clean_zip(name, data, dest_dir, safe, zip_limits or ZipLimits())
    target = _unique_path(dest_dir, safe)
    _write_private(target, data)
    return target


# --------------------------------------------------------------------------------------
# Content checks
# --------------------------------------------------------------------------------------


def _looks_like_html(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        b"<html" in text[:1024]
    )


def check_unpacked_size(name: str, data: bytes, limits: ZipLimits) -> None:
    """Refuse an uploaded bzip2 or gzip file that unpacks to too much or like a bomb.

    :func:`radius._files.check_unpacked` on the whole upload.

    Raises
    ------
    InputError
        Naming the file, the size reached and the fix.
    """
    check_unpacked(name, io.BytesIO(data), len(data), limits, fix="compressed_upload_again")


_OSM_ELEMENTS = (b"<node", b"<way", b"<relation")
PADDING_WINDOW_BYTES = 4 * 1024 * 1024
"""Unpacked OSM XML is refused when this many bytes in a row hold no ``<node``, ``<way`` or
``<relation``: real data starts an element every few hundred bytes (a long way every few
tens of kilobytes), padding never does."""


def unpack_osm(name: str, data: bytes, target: Path, *, max_bytes: int) -> int:
    """Unpack an uploaded ``.osm.bz2``/``.osm.gz`` into ``target``, judging it as it streams.

    What the file unpacks to is judged, not its ratio: it must begin like OSM XML, hold an
    OSM element in every :data:`PADDING_WINDOW_BYTES` (so padding added to pass a ratio
    check is caught in its first megabytes), and unpack to at most ``max_bytes``. Memory
    stays bounded (a few MB at a time); multi-stream files are followed to their end.

    Returns
    -------
    int
        Bytes written.

    Raises
    ------
    InputError
        Naming the file, what it unpacked to and the fix; ``target`` is removed.
    """
    import bz2
    import zlib

    step = 1024 * 1024
    written = 0
    since_element = 0
    tail = b""
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            buffer = data
            while buffer:
                decompressor: bz2.BZ2Decompressor | zlib._Decompress
                if buffer.startswith(b"BZh"):
                    decompressor = bz2.BZ2Decompressor()
                elif buffer.startswith(b"\x1f\x8b"):
                    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                else:
                    break  # trailing bytes: the reader judges the XML
                try:
                    while not decompressor.eof:
                        if isinstance(decompressor, bz2.BZ2Decompressor):
                            piece = decompressor.decompress(buffer, step)
                            buffer = b""
                            if not piece and decompressor.needs_input:
                                break  # truncated: the reader reports it
                        else:
                            piece = decompressor.decompress(buffer, step)
                            buffer = decompressor.unconsumed_tail
                            if not piece and not buffer:
                                break
                        if written == 0 and piece:
                            _check_osm_head(name, piece)
                        written += len(piece)
                        if written > max_bytes:
                            raise InputError(
                                message(
                                    "upload_unpacks_too_much",
                                    file=name,
                                    limit=format_size(max_bytes),
                                )
                            )
                        window = tail + piece
                        if any(tag in window for tag in _OSM_ELEMENTS):
                            last = max(window.rfind(tag) for tag in _OSM_ELEMENTS)
                            since_element = len(window) - last
                        else:
                            since_element += len(piece)
                        tail = window[-16:]
                        if since_element > PADDING_WINDOW_BYTES:
                            raise InputError(
                                message(
                                    "upload_padded",
                                    file=name,
                                    run=format_size(since_element),
                                    written=format_size(written),
                                )
                            )
                        handle.write(piece)
                except (OSError, EOFError, zlib.error) as exc:
                    raise InputError(
                        message(
                            "compressed_damaged",
                            file=name,
                            reason=str(exc),
                            fix=message("compressed_upload_again"),
                        )
                    ) from None
                buffer = buffer or decompressor.unused_data
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return written


def _check_osm_head(name: str, head: bytes) -> None:
    text = head[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not (text.startswith(b"<?xml") or text.startswith(b"<osm")) or b"<osm" not in text:
        raise InputError(message("upload_unpacked_not_osm", file=name))


def _check_content(name: str, suffix: str, data: bytes) -> None:
    """Raise InputError when the first bytes do not fit the suffix."""
    head = data[:_HEAD_BYTES]
    if _looks_like_html(head):
        raise InputError(message("upload_web_page", file=name, suffix=suffix))
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if suffix in (".zip", ".xlsx"):
        if not head.startswith(_ZIP_MAGIC):
            key = "upload_not_xlsx" if suffix == ".xlsx" else "upload_not_zip"
            raise InputError(message(key, file=name))
    elif suffix in (".osm", ".osm.xml"):
        if not (stripped.startswith(b"<") and b"<osm" in head):
            raise InputError(message("upload_not_osm_xml", file=name))
    elif suffix == ".osm.bz2":
        if not head.startswith(b"BZh"):
            raise InputError(message("upload_not_bzip2", file=name))
    elif suffix == ".osm.gz":
        if not head.startswith(b"\x1f\x8b"):
            raise InputError(message("upload_not_gzip", file=name))
    elif suffix in (".osm.pbf", ".pbf"):
        if b"OSMHeader" not in head[:64]:
            raise InputError(message("upload_not_pbf", file=name))
    elif suffix == ".gpkg":
        if not head.startswith(b"SQLite format 3\x00"):
            raise InputError(message("upload_not_gpkg", file=name))
    elif suffix in (".geojson", ".json"):
        if not stripped.startswith(b"{"):
            raise InputError(message("upload_not_geojson", file=name))
    elif suffix in (".tif", ".tiff"):
        if head[:4] not in _TIFF_MAGIC:
            raise InputError(message("upload_not_geotiff", file=name))
    elif suffix == ".graphml":
        if b"<graphml" not in head:
            raise InputError(message("upload_not_graphml", file=name))
    elif suffix in (".csv", ".txt"):
        if head.startswith(_ZIP_MAGIC):
            raise InputError(message("upload_table_is_zip", file=name, suffix=suffix))
        if b"\x00" in head:
            raise InputError(message("upload_table_binary", file=name))


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _unique_path(folder: Path, name: str) -> Path:
    """``folder / name``, or ``stem-2.suffix`` and so on when that exists."""
    candidate = folder / name
    suffix = suffix_of(name)
    stem = name[: len(name) - len(suffix)] if suffix else name
    counter = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{counter}{suffix}"
        counter += 1
    return candidate


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` (never overwriting) readable by the owner only, and write ``data``."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _clean_zip(name: str, data: bytes, dest_dir: Path, safe: str, limits: ZipLimits) -> Path:
    """Unpack a zip archive with limits, keep the Shapefile parts and pack them again."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError(message("zip_invalid", file=name, reason=str(exc))) from None
    with archive:
        files = check_zip_entries(archive, name, limits)
        kept = [
            info
            for info in files
            if PurePosixPath(info.filename.replace("\\", "/")).suffix.lower() in SHAPEFILE_PARTS
        ]
        check_zip_sizes(name, kept, limits)
        if not any(info.filename.lower().endswith(".shp") for info in kept):
            raise InputError(message("upload_zip_no_shapefile", file=name))
        unpacked = private_dir(prefix="radius-unzip-")
        try:
            total = 0
            written: list[tuple[Path, str]] = []
            for info in kept:
                parts = PurePosixPath(info.filename.replace("\\", "/")).parts
                relative = "/".join(sanitise_name(part) for part in parts)
                target = unpacked / f"{len(written):04d}"
                total = _extract(archive, info, target, total, name, limits)
                written.append((target, relative))
            result = _unique_path(dest_dir, safe)
            descriptor = os.open(
                result, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR
            )
            with (
                os.fdopen(descriptor, "wb") as handle,
                zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as clean,
            ):
                for path, relative in written:
                    clean.write(path, arcname=relative)
        finally:
            for child in unpacked.iterdir():
                child.unlink()
            unpacked.rmdir()
    return result


def _extract(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    target: Path,
    total: int,
    name: str,
    limits: ZipLimits,
) -> int:
    """Copy one member to ``target`` counting real bytes; returns the running total."""
    entry = 0
    try:
        with (
            archive.open(info) as source,
            os.fdopen(
                os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR),
                "wb",
            ) as sink,
        ):
            while chunk := source.read(_CHUNK):
                entry += len(chunk)
                total += len(chunk)
                if total > limits.max_total_bytes:
                    raise InputError(
                        message(
                            "upload_zip_too_much",
                            file=name,
                            limit=format_size(limits.max_total_bytes),
                        )
                    )
                if entry > info.file_size:
                    raise InputError(
                        message("upload_zip_entry_forged", file=name, entry=repr(info.filename))
                    )
                sink.write(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
        raise InputError(
            message(
                "upload_zip_entry_unreadable",
                file=name,
                entry=repr(info.filename),
                reason=str(exc),
            )
        ) from None
    return total


# --------------------------------------------------------------------------------------
# Point tables
# --------------------------------------------------------------------------------------

_LON_NAMES = ("lon", "longitude", "lng", "long", "x", "经度")
_LAT_NAMES = ("lat", "latitude", "y", "纬度")
_CSV_ENCODINGS = ("utf-8-sig", "gb18030")
_UNIT = re.compile(r"\s*[(（\[].*[)）\]]\s*$")


def _read_table_head(path: Path, max_rows: int) -> pd.DataFrame | None:
    """The first rows of a CSV (UTF-8 or GBK) or XLSX table as text; None if unreadable."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        raw = path.read_bytes()
        for encoding in _CSV_ENCODINGS:
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            return None
        header = text.split("\n", 1)[0]
        separator = max([",", "\t", ";"], key=header.count)
        try:
            return pd.read_csv(
                io.StringIO(text), sep=separator, dtype=str, nrows=max_rows, keep_default_na=False
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError):
            return None
    if suffix == ".xlsx":
        import openpyxl

        check_workbook(path)
        try:
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            return None
        try:
            rows = []
            for index, row in enumerate(workbook.worksheets[0].iter_rows(values_only=True)):
                if index > max_rows:
                    break
                rows.append(list(row))
        finally:
            workbook.close()
        if not rows:
            return None
        names = ["" if v is None else str(v).strip() for v in rows[0]]
        return pd.DataFrame(rows[1:], columns=pd.Index(names), dtype=object)
    return None


def _find_column(columns: list[str], names: tuple[str, ...]) -> str | None:
    lookup: dict[str, str] = {}
    for column in columns:
        text = unicodedata.normalize("NFKC", str(column)).strip().casefold()
        lookup.setdefault(text, column)
        lookup.setdefault(_UNIT.sub("", text), column)
    return next((lookup[n] for n in names if n in lookup), None)


def check_point_table(path: Path, *, name: str | None = None, max_rows: int = 5000) -> None:
    """Raise when the longitude and latitude columns of a point table look swapped.

    Longitude and latitude columns are found by name (``lon``/``longitude``/``lng``/``x``/
    ``经度`` and ``lat``/``latitude``/``y``/``纬度``, case-insensitive, a unit in brackets
    ignored). They look swapped when most "latitude" values lie outside ±90°, or when most
    of them lie within 73–135 (mainland China's longitudes) while most "longitude" values
    lie within 18–54 (its latitudes). Files that are not CSV/XLSX, cannot be read, or have
    no such columns pass: the readers report those problems with row numbers.

    Parameters
    ----------
    path : Path
        A ``.csv``/``.txt`` (UTF-8 or GBK) or ``.xlsx`` table.
    name : str, optional
        The name to show in the message (default: the file name).
    max_rows : int
        How many rows to look at.

    Raises
    ------
    InputError
        If the columns look swapped; the message names both columns and the fix.
    """
    shown = name or Path(path).name
    table = _read_table_head(Path(path), max_rows)
    if table is None or table.empty:
        return
    columns = [str(c) for c in table.columns]
    lon_column = _find_column(columns, _LON_NAMES)
    lat_column = _find_column(columns, _LAT_NAMES)
    if lon_column is None or lat_column is None or lon_column == lat_column:
        return
    lon = _numbers(table[lon_column])
    lat = _numbers(table[lat_column])
    both = np.isfinite(lon) & np.isfinite(lat)
    if both.sum() == 0:
        return
    lon, lat = lon[both], lat[both]
    lat_out_of_range = np.mean(np.abs(lat) > 90) > 0.5
    lon_as_latitude = np.mean(np.abs(lon) <= 90) > 0.5
    chinese_swap = (
        np.mean((lat >= 73) & (lat <= 135)) > 0.5 and np.mean((lon >= 18) & (lon <= 54)) > 0.5
    )
    if (lat_out_of_range and lon_as_latitude) or chinese_swap:
        raise InputError(
            message(
                "upload_lon_lat_swapped",
                file=shown,
                lon=repr(lon_column),
                lat=repr(lat_column),
                lat_example=f"{lat[0]:g}",
                lon_example=f"{lon[0]:g}",
            )
        )


def _numbers(values: pd.Series) -> np.ndarray:
    parsed = [parse_number(v) for v in values.tolist()]
    return np.array([np.nan if v is None else v for v in parsed], dtype=np.float64)
