"""Resource limits of every reader: what one input may make radius read, unpack or hold.

Each limit has a default that a whole real county fits in, an environment variable that
raises it (``RADIUS_MAX_...``, see the README), and a message that names the limit, the
file and both fixes: cut the input down, or raise the limit. Readers also accept only
regular files: a device (``/dev/zero``), a FIFO or a socket is refused before it is opened,
so no input can be read without end or block forever.

The limits (name: environment variable, default):

- ``raster_pixels``: ``RADIUS_MAX_RASTER_PIXELS``, 50,000,000 pixels in the window read
  from a population raster (a 7,000 × 7,000 window: a county of 5,000 km² at 10 m, all of
  China's largest prefectures at 100 m). The window is read in strips, never whole.
- ``raster_bytes``: ``RADIUS_MAX_RASTER_BYTES``, 2 GiB of pixel values that window holds
  over all the rasters summed (pixels × bytes per pixel × files).
- ``table_rows``: ``RADIUS_MAX_TABLE_ROWS``, 200,000 rows (or features) per table or
  layer: a county's facility inventory or resident points.
- ``table_bytes``: ``RADIUS_MAX_TABLE_BYTES``, 256 MiB per CSV or workbook file.
- ``zip_entries``: ``RADIUS_MAX_ZIP_ENTRIES``, 1,000 entries per zip archive.
- ``unpacked_bytes``: ``RADIUS_MAX_UNPACKED_BYTES``, 1 GiB unpacked from one zip archive
  (4 GiB for a compressed OSM extract, ``RADIUS_MAX_OSM_UNPACKED_BYTES``).
- ``nesting``: ``RADIUS_MAX_NESTING``, 64 levels of nested lists and mappings per YAML or
  JSON file.
- ``text_bytes``: ``RADIUS_MAX_TEXT_BYTES``, 16 MiB per YAML/JSON job or configuration file.
- ``reach_bytes``: ``RADIUS_MAX_REACH_BYTES``, 2 GiB of walking distances (the cost
  matrices: every facility-node pair within the thresholds) one run may hold, estimated
  before the searches from a sample of facilities (:func:`radius.reach.check_reach_memory`).
  A county of 4,000 facilities holds 0.7 M pairs (34 MB); 20,000 rehabilitation facilities
  (1,800 m) on the Nanjing extract would hold 150 M (7.2 GB measured).
- ``worker_wait_s``: ``RADIUS_MAX_WORKER_WAIT_S``, 30 seconds a batch waits for a dask worker:
  the first one of a running scheduler (``--scheduler``), and any live one while it runs
  (workers that die at start are never replaced).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from radius._errors import InputError, RadiusError

__all__ = [
    "LIMITS",
    "LimitSpec",
    "check_json_depth",
    "check_raster_window",
    "check_rows",
    "check_table_file",
    "count_lines",
    "limit",
    "limit_error",
    "limit_message_error",
    "load_yaml",
    "raster_strips",
    "read_limited_text",
    "regular_file",
]


@dataclass(frozen=True)
class LimitSpec:
    """One resource limit: its variable, default, unit and what it bounds."""

    env: str
    default: int
    unit: str
    bounds: str


_MIB: Final = 1024 * 1024
LIMITS: Final[dict[str, LimitSpec]] = {
    "raster_pixels": LimitSpec(
        "RADIUS_MAX_RASTER_PIXELS", 50_000_000, "pixels", "pixels read from a raster"
    ),
    "raster_bytes": LimitSpec(
        "RADIUS_MAX_RASTER_BYTES", 2048 * _MIB, "bytes", "bytes of raster values read"
    ),
    "table_rows": LimitSpec("RADIUS_MAX_TABLE_ROWS", 200_000, "rows", "rows of one table"),
    "table_bytes": LimitSpec("RADIUS_MAX_TABLE_BYTES", 256 * _MIB, "bytes", "size of a table"),
    "zip_entries": LimitSpec("RADIUS_MAX_ZIP_ENTRIES", 1000, "entries", "entries of a zip archive"),
    "unpacked_bytes": LimitSpec(
        "RADIUS_MAX_UNPACKED_BYTES", 1024 * _MIB, "bytes", "bytes unpacked from an archive"
    ),
    "osm_unpacked_bytes": LimitSpec(
        "RADIUS_MAX_OSM_UNPACKED_BYTES",
        4096 * _MIB,
        "bytes",
        "bytes unpacked from a compressed OSM file",
    ),
    "nesting": LimitSpec("RADIUS_MAX_NESTING", 64, "levels", "nesting of a YAML/JSON file"),
    "text_bytes": LimitSpec(
        "RADIUS_MAX_TEXT_BYTES", 16 * _MIB, "bytes", "size of a YAML/JSON job or config file"
    ),
    "reach_bytes": LimitSpec(
        "RADIUS_MAX_REACH_BYTES", 2048 * _MIB, "bytes", "bytes of walking distances of a run"
    ),
    "worker_wait_s": LimitSpec(
        "RADIUS_MAX_WORKER_WAIT_S", 30, "seconds", "seconds a batch waits for a dask worker"
    ),
}


def limit(name: str) -> int:
    """The limit in force: the environment variable's value, else the default.

    Raises
    ------
    InputError
        If the variable is set to anything but a positive whole number.
    """
    spec = LIMITS[name]
    text = os.environ.get(spec.env, "").strip().replace("_", "").replace(",", "")
    if not text:
        return spec.default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(
            f"{spec.env}={os.environ[spec.env]!r}: give a whole number of {spec.unit} "
            f"(1 or more), e.g. {spec.env}={spec.default * 2}; unset it for the default "
            f"{spec.default:,}"
        )
    return value


def _amount(value: int, unit: str) -> str:
    if unit == "bytes":
        from radius._files import format_size

        return format_size(value)
    return f"{value:,} {unit}"


def limit_error(subject: str, found: str, name: str, fix: str) -> InputError:
    """The error of an input over a limit, naming the limit and both fixes.

    Parameters
    ----------
    subject : str
        The file (or ``--flag``) at fault, first in the message.
    found : str
        What was found, e.g. ``"the table has 1,000,001 rows"``.
    name : str
        The limit's key in :data:`LIMITS`.
    fix : str
        How to cut the input down.
    """
    spec = LIMITS[name]
    value = limit(name)
    return InputError(
        f"{subject}: {found}, more than the {_amount(value, spec.unit)} allowed (limit "
        f"{spec.env}); {fix}, or raise the limit, e.g. {spec.env}={value * 4} (environment "
        "variable)"
    )


def limit_message_error(key: str, name: str, **params: Any) -> InputError:
    """The error of a limit whose text is a message id (``configs/messages.yaml``).

    Parameters
    ----------
    key : str
        The message id; its text may use ``{allowed}`` (the limit in force), ``{env}`` (its
        variable) and ``{example}`` (four times the limit), besides ``params``.
    name : str
        The limit's key in :data:`LIMITS`.
    **params
        The message's other values; whole numbers are written with thousands separators
        and ``estimate`` (bytes, or the limit's unit) as an amount.
    """
    from radius.i18n import message

    spec = LIMITS[name]
    value = limit(name)
    shown = {
        k: _amount(v, spec.unit) if k == "estimate" else f"{v:,}" if isinstance(v, int) else v
        for k, v in params.items()
    }
    return InputError(
        message(key, allowed=_amount(value, spec.unit), env=spec.env, example=value * 4, **shown)
    )


# --------------------------------------------------------------------------- files


def regular_file(path: str | os.PathLike[str], what: str = "input") -> Path:
    """The path, once it is known to be an existing regular file (symbolic links followed).

    Nothing is opened: a FIFO would block and a device (``/dev/zero``) never ends.

    Raises
    ------
    InputError
        If the path is missing, a folder, or not a regular file.
    """
    from radius.i18n import message

    file = Path(path)
    try:
        mode = file.stat().st_mode
    except FileNotFoundError:
        raise InputError(message("file_not_found", file=str(file), what=what)) from None
    except PermissionError:
        raise InputError(message("file_permission_denied", file=str(file), what=what)) from None
    except OSError as exc:
        raise InputError(
            message("file_unreadable", file=str(file), what=what, reason=exc.strerror)
        ) from None
    if stat.S_ISDIR(mode):
        raise InputError(message("file_is_folder", file=str(file), what=what))
    if not stat.S_ISREG(mode):
        kind = (
            "a FIFO (named pipe)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        raise InputError(
            f"{file}: is {kind}, not a regular file; radius reads only regular files as "
            f"the {what}: save the data to a file and give its path"
        )
    return file


def read_limited_text(path: str | os.PathLike[str], what: str) -> str:
    """The UTF-8 text of a small regular file (a job or config), within ``text_bytes``.

    Raises
    ------
    InputError
        If the file is missing, not a regular file, larger than the limit or not UTF-8.
    """
    file = regular_file(path, what)
    most = limit("text_bytes")
    try:
        with file.open("rb") as handle:
            data = handle.read(most + 1)
    except PermissionError:
        raise InputError(
            f"{file}: permission denied reading the {what}; make it readable (chmod u+r {file})"
        ) from None
    if len(data) > most:
        raise limit_error(
            str(file),
            f"the {what} is larger than {_amount(most, 'bytes')}",
            "text_bytes",
            "a job or configuration file is a few kilobytes: check that this is the right file",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{file}: not UTF-8 text ({exc}); save it as UTF-8") from None


# --------------------------------------------------------------------------- YAML and JSON


def _too_deep(subject: str, depth: int, where: str) -> InputError:
    return limit_error(
        subject,
        f"lists and mappings are nested {depth:,} levels deep{where}",
        "nesting",
        "a job or configuration file needs a few levels: check the brackets and indentation",
    )


def load_yaml(
    path: str | os.PathLike[str], what: str, error: type[RadiusError] = InputError
) -> Any:
    """Parse a YAML (or JSON) file within the size and nesting limits.

    The nesting is measured on PyYAML's event stream, which is produced without
    recursion, before the document is composed (composing recurses once per level).

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What the file is, for messages (``"batch job file"``).
    error : type
        The error class raised (``ConfigError`` for configuration files).

    Raises
    ------
    RadiusError
        Of class ``error``: missing, not a regular file, too large, too deeply nested, not
        UTF-8 or not valid YAML; the message names the file and the fix.
    """
    import yaml

    try:
        text = read_limited_text(path, what)
    except InputError as exc:
        raise error(str(exc)) from None
    most = limit("nesting")
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        # libyaml parses ten times faster than PyYAML's own parser (the same documents:
        # every file of configs/ compared); any error is reported by the pure-Python path
        # below, whose messages and positions name the problem (libyaml's scanner stops at
        # its own nesting limit before the first event reaches the depth check).
        try:
            return _load_checked(text, fast, most, str(path), error)
        except yaml.YAMLError:
            pass
    try:
        return _load_checked(text, yaml.SafeLoader, most, str(path), error)
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise error(str(_too_deep(str(path), most + 1, ""))) from None


def _load_checked(text: str, loader: Any, most: int, path: str, error: type[RadiusError]) -> Any:
    """The document of ``text``, refused when nested deeper than ``most`` levels."""
    import yaml

    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > most:
                mark = event.start_mark
                where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
                raise error(str(_too_deep(path, depth, where)))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return yaml.load(text, Loader=loader)


def check_json_depth(text: str, subject: str) -> None:
    """Refuse JSON text nested deeper than the ``nesting`` limit (strings are skipped).

    Raises
    ------
    InputError
        Naming ``subject``, the depth and the limit.
    """
    most = limit("nesting")
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > most:
                raise _too_deep(subject, depth, "")
        elif char in "]}":
            depth -= 1


# --------------------------------------------------------------------------- tables


def count_lines(path: Path) -> int:
    """Lines of a text file, counted in 1 MiB steps (memory stays bounded)."""
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(_MIB):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def check_table_file(path: Path, what: str, *, text: bool) -> None:
    """Refuse a table file larger than ``table_bytes``, or (text) with too many lines.

    Raises
    ------
    InputError
        Naming the file, the size or rows, the limit and the fix.
    """
    size = regular_file(path, f"{what} file").stat().st_size
    if size > limit("table_bytes"):
        raise limit_error(
            str(path),
            f"the {what} file is {_amount(size, 'bytes')}",
            "table_bytes",
            f"keep only the {what} of the area studied",
        )
    if text:
        # Every line counts (a quoted cell may hold a line break: an upper bound); the
        # bytes are bounded above, so this stays quick.
        rows = count_lines(path) - 1  # less the header
        check_rows(path, rows, what, word="rows")


def check_rows(path: str | os.PathLike[str], rows: int, what: str, *, word: str = "rows") -> None:
    """Refuse a table or layer of more than ``table_rows`` rows (features).

    Raises
    ------
    InputError
        Naming the file, the count, the limit and the fix.
    """
    if rows > limit("table_rows"):
        raise limit_error(
            str(path),
            f"the {what} table has {rows:,} {word}",
            "table_rows",
            f"keep only the {what} of the area studied",
        )


# --------------------------------------------------------------------------- rasters

_STRIP_PIXELS: Final = 4 * _MIB
"""Pixels read at once from a raster window (a strip of whole rows): 32 MiB as float64."""


def check_raster_window(
    path: str | os.PathLike[str], width: int, height: int, bytes_per_pixel: int, files: int
) -> None:
    """Refuse a raster window of more pixels, or bytes, than the limits.

    Parameters
    ----------
    path : str or Path
        The (first) raster, for the message.
    width, height : int
        The window's size in pixels.
    bytes_per_pixel : int
        Bytes of one pixel value (its data type).
    files : int
        Rasters summed over the window.

    Raises
    ------
    InputError
        Naming the file, the window, the limit and the fixes (a bbox, a clip, the limit).
    """
    pixels = width * height
    fix = (
        "give a bbox around the study area, or clip the raster to it (e.g. gdal_translate "
        "-projwin WEST NORTH EAST SOUTH in.tif out.tif)"
    )
    if pixels > limit("raster_pixels"):
        raise limit_error(
            str(path),
            f"the raster window is {width:,} × {height:,} = {pixels:,} pixels",
            "raster_pixels",
            fix,
        )
    total = pixels * bytes_per_pixel * files
    if total > limit("raster_bytes"):
        raise limit_error(
            str(path),
            f"the raster window holds {_amount(total, 'bytes')} of values ({files} file(s) of "
            f"{width:,} × {height:,} pixels, {bytes_per_pixel} bytes each)",
            "raster_bytes",
            fix,
        )


def raster_strips(row0: int, row1: int, width: int) -> list[tuple[int, int]]:
    """Row ranges ``[start, stop)`` covering ``row0:row1`` in strips of bounded pixels."""
    step = max(1, _STRIP_PIXELS // max(width, 1))
    return [(start, min(start + step, row1)) for start in range(row0, row1, step)]
