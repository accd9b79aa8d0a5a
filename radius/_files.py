"""Reading user vector files and cells the same way in every loader."""

from __future__ import annotations

import bz2
import math
import re
import stat
import unicodedata
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from radius._errors import InputError
from radius._limits import LIMITS, check_json_depth, check_rows, data_kind, limit, regular_file
from radius.i18n import message

__all__ = [
    "COMPRESSED_OSM_LIMITS",
    "SHAPEFILE_PARTS",
    "ZipLimits",
    "check_unpacked",
    "check_workbook",
    "check_zip_entries",
    "check_zip_sizes",
    "compressed_osm_limits",
    "format_size",
    "parse_number",
    "read_vector_layer",
    "shapefile_in_zip",
]

SHAPEFILE_PARTS: tuple[str, ...] = (".shp", ".shx", ".dbf", ".prj", ".cpg")
"""The files of a Shapefile that radius reads (an upload keeps only these)."""


@dataclass(frozen=True)
class ZipLimits:
    """Limits on a zip archive, checked before anything in it is read or unpacked.

    Attributes
    ----------
    max_entries : int
        Most entries (files and folders) an archive may list.
    max_total_bytes : int
        Most bytes the entries that are read may unpack to.
    max_ratio : float
        Largest ratio of unpacked to packed size, for the entries read together and for
        any one of them larger than ``ratio_floor_bytes``.
    ratio_floor_bytes : int
        Below this unpacked size (bytes) the ratio is not checked: tiny files (a ``.prj``,
        a ``.dbf`` of empty fields) compress very well and are harmless.
    """

    max_entries: int = field(default_factory=lambda: limit("zip_entries"))
    max_total_bytes: int = field(default_factory=lambda: limit("unpacked_bytes"))
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1024 * 1024


def format_size(n_bytes: float) -> str:
    """A byte count for people: ``"512 B"``, ``"3.2 MB"``, ``"1.5 GB"`` (powers of 1024)."""
    value = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover - the loop always returns


def _unsafe_member(member: str) -> bool:
    """Whether a zip member's name is absolute or climbs out of the folder."""
    text = member.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        return True
    return ".." in PurePosixPath(text).parts


def check_zip_entries(
    archive: zipfile.ZipFile, name: str, limits: ZipLimits
) -> list[zipfile.ZipInfo]:
    """Refuse an archive whose entries are too many or unsafe; its files otherwise.

    Every entry is checked, not only those that will be read: an archive that holds an
    absolute path, a ``..`` climbing out of its folder, a symbolic link or a
    password-protected entry was not made by zipping a folder of data.

    Parameters
    ----------
    archive : zipfile.ZipFile
        The open archive (only its directory is read).
    name : str
        The file's name as the user knows it, for messages.
    limits : ZipLimits
        ``max_entries`` is checked here; the sizes by :func:`check_zip_sizes`.

    Returns
    -------
    list of zipfile.ZipInfo
        The file entries, without folders and macOS metadata (``__MACOSX/``).

    Raises
    ------
    InputError
        Naming the file, the entry and the fix.
    """
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise InputError(
            message(
                "zip_too_many_entries",
                file=name,
                entries=f"{len(infos):,}",
                allowed=f"{limits.max_entries:,}",
                env=LIMITS["zip_entries"].env,
            )
        )
    files: list[zipfile.ZipInfo] = []
    for info in infos:
        entry = repr(info.filename)
        if _unsafe_member(info.filename):
            raise InputError(message("zip_unsafe_path", file=name, entry=entry))
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InputError(message("zip_symbolic_link", file=name, entry=entry))
        if info.flag_bits & 0x1:
            raise InputError(message("zip_password", file=name, entry=entry))
        if not info.is_dir() and not info.filename.startswith("__MACOSX/"):
            files.append(info)
    return files


def check_zip_sizes(name: str, infos: Sequence[zipfile.ZipInfo], limits: ZipLimits) -> None:
    """Refuse entries that unpack to too much, or that are compressed like a zip bomb.

    The sizes are those the archive declares: enough to refuse before reading. A reader
    that unpacks must still count the bytes it gets (a forged header can lie).

    Parameters
    ----------
    name : str
        The file's name as the user knows it, for messages.
    infos : sequence of zipfile.ZipInfo
        The entries that will be read together.
    limits : ZipLimits
        The limits.

    Raises
    ------
    InputError
        Naming the file, the (largest) entry and the fix.
    """
    if not infos:
        return
    largest = max(infos, key=lambda info: info.file_size)
    for info in sorted(infos, key=lambda info: -info.file_size):
        if info.file_size > limits.ratio_floor_bytes:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise _zip_bomb(name, "zip_bomb_entry", repr(info.filename), ratio, limits)
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_total_bytes:
        raise InputError(
            message(
                "zip_unpacks_too_much",
                file=name,
                size=format_size(declared),
                allowed=format_size(limits.max_total_bytes),
                entry=repr(largest.filename),
                entry_size=format_size(largest.file_size),
                env=LIMITS["unpacked_bytes"].env,
            )
        )
    if declared > limits.ratio_floor_bytes:
        ratio = declared / max(sum(info.compress_size for info in infos), 1)
        if ratio > limits.max_ratio:
            listed = ", ".join(repr(info.filename) for info in infos[:5])
            entries = f"{listed}{' ...' if len(infos) > 5 else ''}"
            raise _zip_bomb(name, "zip_bomb_entries", entries, ratio, limits)


def _zip_bomb(name: str, key: str, entries: str, ratio: float, limits: ZipLimits) -> InputError:
    return InputError(
        message(
            key,
            file=name,
            entries=entries,
            ratio=f"{ratio:,.0f}",
            max_ratio=f"{limits.max_ratio:g}",
        )
    )


def compressed_osm_limits() -> ZipLimits:
    """Limits on a .osm.bz2/.osm.gz: OSM XML packs 10–20 times, a bomb thousands."""
    return ZipLimits(max_total_bytes=limit("osm_unpacked_bytes"))


COMPRESSED_OSM_LIMITS = ZipLimits(max_total_bytes=LIMITS["osm_unpacked_bytes"].default)
"""The default :func:`compressed_osm_limits` (the app's, whose server is shared)."""


class Readable(Protocol):
    """Anything with ``read(n)`` returning bytes: a file, a BytesIO, a pipe."""

    def read(self, size: int, /) -> bytes: ...


_READ_STEP = 64 * 1024
_UNPACK_STEP = 4 * 1024 * 1024


def check_unpacked(
    name: str,
    stream: Readable,
    packed: int | None,
    limits: ZipLimits,
    *,
    stop_after: int | None = None,
    fix: str = "compressed_get_again",
) -> None:
    """Refuse a bzip2 or gzip file that unpacks to too much or like a decompression bomb.

    The file is read and unpacked in steps and thrown away as it goes (memory stays
    bounded); the check stops at the first step past a limit. Multi-stream files (pbzip2,
    concatenated gzip) are followed to their end.

    Parameters
    ----------
    name : str
        The file's name, for the messages.
    stream : Readable
        The compressed bytes, read from where the stream stands.
    packed : int or None
        The compressed size (bytes): the ratio is the unpacked bytes over it. None: over
        the bytes read so far, which judges the part unpacked on its own (with
        ``stop_after``, the head of a file).
    limits : ZipLimits
        ``max_total_bytes``, ``max_ratio`` and ``ratio_floor_bytes`` apply.
    stop_after : int, optional
        Stop, satisfied, after this many unpacked bytes: a bomb shows itself in its first
        megabytes, so a large genuine file need not be unpacked twice.
    fix : str, optional
        The message id of what to do with a damaged file (``configs/messages.yaml``; by
        default: get the file again).

    Raises
    ------
    InputError
        Naming the file, the size reached and the fix.
    """
    read = 0

    def more() -> bytes:
        nonlocal read
        chunk = stream.read(_READ_STEP)
        read += len(chunk)
        return chunk

    def head_of_next_stream(buffer: bytes) -> bytes:
        # The 3-byte magic number may be split between two reads.
        while len(buffer) < 3 and (chunk := more()):
            buffer += chunk
        return buffer

    unpacked = 0
    buffer = head_of_next_stream(b"")
    while buffer:
        decompressor: bz2.BZ2Decompressor | zlib._Decompress
        if buffer.startswith(b"BZh"):
            decompressor = bz2.BZ2Decompressor()
        elif buffer.startswith(b"\x1f\x8b"):
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        else:
            return  # trailing bytes the reader will judge
        try:
            while not decompressor.eof:
                piece = decompressor.decompress(buffer, _UNPACK_STEP)
                # zlib hands back the input it did not use; bz2 keeps it itself.
                buffer = getattr(decompressor, "unconsumed_tail", b"")
                unpacked += len(piece)
                _check_unpacked(name, unpacked, read if packed is None else packed, limits)
                if stop_after is not None and unpacked >= stop_after:
                    return
                output_pending = len(piece) == _UNPACK_STEP or not getattr(
                    decompressor, "needs_input", True
                )
                if not buffer and not output_pending and not decompressor.eof:
                    buffer = more()
                    if not buffer:
                        return  # truncated: the reader reports it
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(
                message(
                    "compressed_damaged",
                    file=name,
                    reason=str(exc),
                    fix=message(fix),
                )
            ) from None
        buffer = head_of_next_stream(decompressor.unused_data)


def _check_unpacked(name: str, unpacked: int, packed: int, limits: ZipLimits) -> None:
    if unpacked > limits.max_total_bytes:
        raise InputError(
            message(
                "compressed_too_big",
                file=name,
                allowed=format_size(limits.max_total_bytes),
                env=LIMITS["osm_unpacked_bytes"].env,
            )
        )
    ratio = unpacked / max(packed, 1)
    if unpacked > limits.ratio_floor_bytes and ratio > limits.max_ratio:
        raise InputError(
            message(
                "compressed_bomb",
                file=name,
                ratio=f"{ratio:,.0f}",
                packed=format_size(packed),
                unpacked=format_size(unpacked),
                max_ratio=f"{limits.max_ratio:g}",
            )
        )


WORKBOOK_LIMITS = ZipLimits(
    max_entries=10_000,
    max_total_bytes=512 * 1024 * 1024,
    max_ratio=1000.0,
    ratio_floor_bytes=16 * 1024 * 1024,
)
"""Limits on an .xlsx workbook (a zip of XML parts): looser on the ratio than a Shapefile's,
since sheet XML of repetitive tables compresses far better than geometry."""


def check_workbook(path: Path, limits: ZipLimits = WORKBOOK_LIMITS) -> None:
    """Refuse an .xlsx whose parts unpack to too much, before openpyxl reads any of it.

    Raises
    ------
    InputError
        For a file that is not a zip, has too many parts, or unpacks to more than the limits
        (a decompression bomb), naming the file and the fix.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [info for info in archive.infolist() if not info.is_dir()]
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(message("workbook_unreadable", file=str(path), reason=str(exc))) from None
    if len(infos) > limits.max_entries:
        raise InputError(
            message(
                "workbook_too_many_parts",
                file=str(path),
                parts=f"{len(infos):,}",
                allowed=f"{limits.max_entries:,}",
            )
        )
    declared = sum(info.file_size for info in infos)
    ratio = declared / max(sum(info.compress_size for info in infos), 1)
    too_big = declared > limits.max_total_bytes
    if too_big or (declared > limits.ratio_floor_bytes and ratio > limits.max_ratio):
        raise InputError(
            message(
                "workbook_bomb",
                file=str(path),
                size=format_size(declared),
                ratio=f"{ratio:,.0f}",
                allowed=format_size(limits.max_total_bytes),
                max_ratio=f"{limits.max_ratio:g}",
            )
        )


def shapefile_in_zip(
    path: Path, layer: str | None, what: str, limits: ZipLimits | None = None
) -> str:
    """The GDAL path of the Shapefile inside a zip archive, once the archive is checked.

    GDAL reads the archive in place (``/vsizip/``), so the checks an upload gets before it
    is unpacked (:func:`check_zip_entries`, :func:`check_zip_sizes`) are made here on the
    archive's directory: no entry may be absolute, climb out with ``..``, be a symbolic
    link or be password-protected, and the files of the chosen Shapefile (every entry
    beside its ``.shp`` with the same name: ``.shx``, ``.dbf``, ``.prj``, ``.cpg``, and
    indexes GDAL may open) must stay within the size and compression limits.

    Parameters
    ----------
    path : Path
        The zip archive.
    layer : str, optional
        Name (without ``.shp``) of the Shapefile to take when the zip holds several.
    what : str
        What the file holds, for messages (e.g. ``"road lines"``).
    limits : ZipLimits, optional
        The limits (the defaults of :class:`ZipLimits` when omitted).

    Raises
    ------
    InputError
        If the file is not a zip, is unsafe or a zip bomb, holds no Shapefile, or several
        and none was chosen.
    """
    limits = limits or ZipLimits()
    try:
        with zipfile.ZipFile(path) as archive:
            files = check_zip_entries(archive, str(path), limits)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(message("zip_invalid", file=str(path), reason=str(exc))) from None
    members = sorted(info.filename for info in files if info.filename.lower().endswith(".shp"))
    if not members:
        raise InputError(message("zip_no_shapefile", file=str(path), what=data_kind(what)))
    if layer is not None:
        chosen = [m for m in members if Path(m).stem == layer]
        if not chosen:
            stems = ", ".join(Path(m).stem for m in members)
            raise InputError(
                message("zip_no_such_shapefile", file=str(path), layer=layer, stems=stems)
            )
        members = chosen
    if len(members) > 1:
        stems = ", ".join(Path(m).stem for m in members)
        raise InputError(
            message("zip_several_shapefiles", file=str(path), n=len(members), stems=stems)
        )
    stem = members[0][: -len(".shp")].lower()
    parts = [info for info in files if info.filename.lower().startswith(f"{stem}.")]
    check_zip_sizes(str(path), parts, limits)
    return f"/vsizip/{path.resolve().as_posix()}/{members[0]}"


def read_vector_layer(
    path: Path,
    layer: str | None,
    *,
    what: str,
    geometry_kind: str | None = None,
    first_by_default: bool = False,
) -> gpd.GeoDataFrame:
    """Read one layer of a GeoPackage, GeoJSON, Shapefile or zipped Shapefile.

    Parameters
    ----------
    path : Path
        The file.
    layer : str, optional
        Layer (GeoPackage) or Shapefile name (zip) to read.
    what : str
        What the file holds, for messages (e.g. ``"districts"``).
    geometry_kind : str, optional
        With several layers and none chosen, the one layer whose geometry type contains
        this word (e.g. ``"Polygon"``) is taken.
    first_by_default : bool, optional
        With several layers and none chosen or fitting, take the first instead of failing.

    Raises
    ------
    InputError
        If the file cannot be read, holds no layer, or the layer is ambiguous or absent.
    """
    kind = data_kind(what)
    regular_file(path, message("data_kind_file", what=kind))
    dataset = str(path)
    if path.suffix.lower() in (".geojson", ".json"):
        _check_geojson_depth(path)
    if path.suffix.lower() == ".zip":
        dataset = shapefile_in_zip(path, layer, what)
        layer = None
    fix = message("vector_fix", what=kind)
    try:
        layers = pyogrio.list_layers(dataset)
    except pyogrio.errors.DataSourceError as exc:
        raise InputError(
            message("vector_unreadable", file=str(path), reason=str(exc), fix=fix)
        ) from None
    names = [str(name) for name, _ in layers]
    if not names:
        raise InputError(message("vector_no_layer", file=str(path), fix=fix))
    if layer is None and len(names) > 1:
        fitting = [
            str(n)
            for n, kind in layers
            if geometry_kind is not None and kind is not None and geometry_kind in kind
        ]
        if len(fitting) == 1:
            layer = fitting[0]
        elif first_by_default:
            layer = names[0]
        else:
            raise InputError(
                message(
                    "vector_several_layers",
                    file=str(path),
                    n=len(names),
                    names=", ".join(names),
                    what=kind,
                )
            )
    elif layer is not None and layer not in names:
        raise InputError(
            message(
                "vector_no_such_layer", file=str(path), layer=repr(layer), names=", ".join(names)
            )
        )
    try:
        features = pyogrio.read_info(dataset, layer=layer or names[0])["features"]
        if features is not None and features > 0:
            check_rows(path, int(features), what, word="features")
        return gpd.read_file(dataset, layer=layer or names[0], engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputError(
            message("vector_cannot_read", file=str(path), what=kind, reason=str(exc), fix=fix)
        ) from None


def _check_geojson_depth(path: Path) -> None:
    """Refuse GeoJSON nested deeper than the limit (its geometry needs at most 6 levels)."""
    with path.open("rb") as handle:
        head = handle.read(1024 * 1024)
    # The whole file is scanned when it is small; a large one is judged by its first MiB
    # (a deeply nested bomb shows itself there).
    check_json_depth(head.decode("utf-8", errors="replace"), str(path))


def parse_number(value: object) -> float | None:
    """A table cell as a number: NaN when empty, None when it is not a number.

    Full-width digits (１２３), surrounding spaces and thousands separators are accepted;
    booleans and infinities are not numbers.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return math.nan
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        if math.isnan(number):
            return math.nan
        return number if math.isfinite(number) else None
    text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "").replace("_", "")
    if not text:
        return math.nan
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
