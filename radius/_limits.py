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
    "data_kind",
    "limit",
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
        from radius.i18n import message

        raise InputError(
            message(
                "limit_not_a_number",
                env=spec.env,
                given=repr(os.environ[spec.env]),
                unit=message(f"limit_unit_{spec.unit}"),
                example=spec.default * 2,
                default=f"{spec.default:,}",
            )
        )
    return value


def _amount(value: int, unit: str) -> str:
    """``value`` of ``unit`` for people: a size (``"2.0 GB"``) or a count with its unit."""
    if unit == "bytes":
        from radius._files import format_size

        return format_size(value)
    from radius.i18n import message

    return message("limit_amount", value=f"{value:,}", unit=message(f"limit_unit_{unit}"))


def data_kind(what: str) -> str:
    """What a file holds, for a message: a :class:`~radius.i18n.Message` as it is, the id of
    a kind of data (``"facilities"``, ``"raster file"``: the ``data_*`` keys of
    ``configs/messages.yaml``) as its message, any other text as it is."""
    from radius.i18n import Message, message

    if isinstance(what, Message):
        return what
    key = "data_" + what.lower().replace(" ", "_").replace("-", "_")
    if key in _message_keys():
        return message(key)
    return what


def _message_keys() -> frozenset[str]:
    from radius.i18n import MESSAGES_FILE, load_strings

    return frozenset(load_strings(MESSAGES_FILE))


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
        k: _amount(v, spec.unit)
        if k == "estimate"
        else f"{v:,}"
        if isinstance(v, int) and not isinstance(v, bool)
        else v
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
        raise InputError(message("file_not_found", file=str(file), what=data_kind(what))) from None
    except PermissionError:
        raise InputError(
            message("file_permission_denied", file=str(file), what=data_kind(what))
        ) from None
    except OSError as exc:
        raise InputError(
            message("file_unreadable", file=str(file), what=data_kind(what), reason=exc.strerror)
        ) from None
    if stat.S_ISDIR(mode):
        raise InputError(message("file_is_folder", file=str(file), what=data_kind(what)))
    if not stat.S_ISREG(mode):
        kind = (
            "fifo"
            if stat.S_ISFIFO(mode)
            else "device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "socket"
            if stat.S_ISSOCK(mode)
            else "other"
        )
        raise InputError(
            message(
                "file_not_regular",
                file=str(file),
                kind=message(f"file_special_{kind}"),
                what=data_kind(what),
            )
        )
    return file


def read_limited_text(path: str | os.PathLike[str], what: str) -> str:
    """The UTF-8 text of a small regular file (a job or config), within ``text_bytes``.

    Raises
    ------
    InputError
        If the file is missing, not a regular file, larger than the limit or not UTF-8.
    """
    from radius.i18n import message

    file = regular_file(path, what)
    most = limit("text_bytes")
    try:
        with file.open("rb") as handle:
            data = handle.read(most + 1)
    except PermissionError:
        raise InputError(
            message("file_permission_denied", file=str(file), what=data_kind(what))
        ) from None
    if len(data) > most:
        raise limit_message_error(
            "limit_text_bytes", "text_bytes", file=str(file), what=data_kind(what)
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(message("text_not_utf8", file=str(file), reason=str(exc))) from None


# --------------------------------------------------------------------------- YAML and JSON


def _too_deep(
    subject: str, depth: int, line: int | None = None, column: int | None = None
) -> InputError:
    from radius.i18n import message

    where = "" if line is None else message("limit_nesting_where", line=line, column=column)
    return limit_message_error("limit_nesting", "nesting", file=subject, depth=depth, where=where)


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
        raise error(exc.args[0]) from None
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
        from radius.i18n import message

        raise error(message("yaml_invalid", file=str(path), reason=str(exc))) from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise error(_too_deep(str(path), most + 1).args[0]) from None


def _load_checked(text: str, loader: Any, most: int, path: str, error: type[RadiusError]) -> Any:
    """The document of ``text``, refused when nested deeper than ``most`` levels."""
    import yaml

    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > most:
                mark = event.start_mark
                if mark:
                    raise error(_too_deep(path, depth, mark.line + 1, mark.column + 1).args[0])
                raise error(_too_deep(path, depth).args[0])
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
                raise _too_deep(subject, depth)
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
    from radius.i18n import message

    size = regular_file(path, message("data_kind_file", what=data_kind(what))).stat().st_size
    if size > limit("table_bytes"):
        raise limit_message_error(
            "limit_table_bytes", "table_bytes", file=str(path), what=data_kind(what), estimate=size
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
        key = "limit_table_rows" if word == "rows" else "limit_layer_features"
        raise limit_message_error(
            key, "table_rows", file=str(path), what=data_kind(what), rows=rows
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
    window = {"file": str(path), "width": width, "height": height}
    if pixels > limit("raster_pixels"):
        raise limit_message_error("limit_raster_pixels", "raster_pixels", pixels=pixels, **window)
    total = pixels * bytes_per_pixel * files
    if total > limit("raster_bytes"):
        raise limit_message_error(
            "limit_raster_bytes",
            "raster_bytes",
            estimate=total,
            files=files,
            bytes_per_pixel=bytes_per_pixel,
            **window,
        )


def raster_strips(row0: int, row1: int, width: int) -> list[tuple[int, int]]:
    """Row ranges ``[start, stop)`` covering ``row0:row1`` in strips of bounded pixels."""
    step = max(1, _STRIP_PIXELS // max(width, 1))
    return [(start, min(start + step, row1)) for start in range(row0, row1, step)]
