"""The app's inputs: uploads read into :class:`~radius.pipeline.AnalysisInputs`, with limits.

:func:`load_inputs` checks and saves the uploads in a private folder
(:func:`radius.uploads.save_upload`), reads everything, and removes the folder; the app
calls it through :func:`load_bounded`, which runs it in a child process with limits on
seconds, memory and bytes unpacked (:mod:`radius.bounded`), so a slow or hostile upload
costs only the session that sent it.

An uploaded facility inventory replaces the OSM facilities of the categories it holds and
keeps the others (``replace_all=False``); with ``replace_all=True`` it replaces them all.
:attr:`Loaded.replaced` and :attr:`Loaded.kept` say which, for the page.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import numpy as np

from radius._errors import RadiusError
from radius._warnings import collect
from radius.bounded import LimitError, Limits, limits_from_env, private_folder, run_bounded
from radius.config import load_categories
from radius.coords import convert_frame, offset_signature
from radius.facilities import facilities_from_osm
from radius.i18n import Message, error_in, error_message, message, t
from radius.network import _is_osm_file
from radius.pipeline import (
    AnalysisInputs,
    AnalyzeConfig,
    ReachConfig,
    append_facilities,
    load_analysis_inputs,
)
from radius.sample import default_network_path
from radius.uploads import (
    DEFAULT_MAX_BYTES,
    UPLOAD_SUFFIXES,
    check_point_table,
    private_dir,
    save_upload,
)

__all__ = [
    "ROLES",
    "Loaded",
    "Upload",
    "facilities_to_wgs84",
    "limit_message",
    "load_bounded",
    "load_inputs",
    "received",
    "replace_paths",
    "upload_types",
]

ROLES = ("network", "facilities", "residents", "districts")
"""The kinds of upload, in the order the page shows them."""


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its role, name, content and the content's SHA-256."""

    role: str
    name: str
    digest: str
    data: bytes = field(repr=False, compare=False)


@dataclass(frozen=True, eq=False)
class Loaded:
    """What was read: the inputs, where they came from, and a coordinate-system hint.

    ``names`` maps the temporary path of each upload to the name the user gave it, so
    that messages never show the server's folders (see :meth:`clean`). ``replaced`` and
    ``kept`` are the category ids whose OSM facilities an uploaded inventory replaced, and
    those whose OSM facilities were kept beside it (both empty without an inventory).
    """

    inputs: AnalysisInputs
    network_label: str
    likely_system: str | None = None
    names: tuple[tuple[str, str], ...] = ()
    replaced: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()

    def clean(self, text: str) -> str:
        """``text`` with every temporary upload path replaced by the uploaded file's name."""
        return replace_paths(text, self.names)


class UploadedFile(Protocol):
    """A file as the page's uploader hands it over (Streamlit's ``UploadedFile``)."""

    @property
    def name(self) -> str: ...

    def getvalue(self) -> bytes: ...


def upload_types(role: str) -> list[str]:
    """The file name endings the uploader of ``role`` accepts (without the dot), sorted."""
    return sorted({suffix.rsplit(".", 1)[-1] for suffix in UPLOAD_SUFFIXES[role]})


def received(role: str, file: UploadedFile, digests: dict[str, str]) -> Upload:
    """An uploaded ``file`` as an :class:`Upload` of ``role``.

    ``digests`` keeps each file's SHA-256 by its upload id (``file_id``, else its name), so
    a file is hashed once, not at every rerun of the page.
    """
    data = file.getvalue()
    file_id = str(getattr(file, "file_id", file.name))
    digest = digests.get(file_id) or hashlib.sha256(data).hexdigest()
    digests[file_id] = digest
    return Upload(role, file.name, digest, data)


def replace_paths(text: str, names: Sequence[tuple[str, str]]) -> str:
    """Replace each ``path`` of ``names`` (longest first) by its ``name`` in ``text``."""
    for path, name in sorted(names, key=lambda item: -len(item[0])):
        text = text.replace(path, name)
    return text


def load_bounded(
    uploads: Sequence[Upload],
    coord_system: str = "wgs84",
    *,
    replace_all: bool = False,
    limits: Limits | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Loaded:
    """:func:`load_inputs` in a child process, within ``limits`` (see :mod:`radius.bounded`).

    Raises
    ------
    LimitError
        When reading takes too long, needs too much memory, is cancelled, or an upload
        unpacks to too much.
    RadiusError
        For any bad upload or input, with the file named.
    """
    limits = limits or limits_from_env()
    with private_folder() as folder:
        return run_bounded(
            load_inputs,
            tuple(uploads),
            coord_system,
            replace_all,
            limits.unpacked_bytes,
            folder,
            limits=limits,
            cancelled=cancelled,
            what=message("bounded_what_uploads"),
        )


def load_inputs(
    uploads: Sequence[Upload],
    coord_system: str = "wgs84",
    replace_all: bool = False,
    max_unpacked_bytes: int | None = None,
    folder: Path | None = None,
) -> Loaded:
    """Check and save the uploads in a private folder, read everything, remove the folder.

    Parameters
    ----------
    uploads : sequence of Upload
        At most one per role; a role without upload uses the default district's data.
    coord_system : {"wgs84", "gcj02", "bd09", "cgcs2000"}
        The system of the uploaded facilities' coordinates; converted to WGS-84.
    replace_all : bool
        Whether an uploaded inventory replaces every OSM facility (else only those of the
        categories it holds).
    max_unpacked_bytes : int, optional
        Largest size a compressed OSM upload may unpack to (see
        :func:`radius.uploads.unpack_osm`).
    folder : Path, optional
        An existing private folder for the uploads, which the caller removes; by default
        one is made and removed here.

    Raises
    ------
    RadiusError
        For any bad upload or input, with the file named.
    """
    own = folder is None
    work = private_dir() if folder is None else Path(folder)
    names: list[tuple[str, str]] = []
    try:
        with collect():
            return _load(uploads, coord_system, work, names, replace_all, max_unpacked_bytes)
    except RadiusError as exc:
        raise _renamed_error(exc, names) from None
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def _load(
    uploads: Sequence[Upload],
    coord_system: str,
    folder: Path,
    names: list[tuple[str, str]],
    replace_all: bool,
    max_unpacked_bytes: int | None,
) -> Loaded:
    """The body of :func:`load_inputs`; fills ``names`` as the uploads are saved."""
    paths: dict[str, Path] = {}
    for upload in uploads:
        path = save_upload(
            upload.name,
            upload.data,
            max_bytes=DEFAULT_MAX_BYTES,
            max_unpacked_bytes=max_unpacked_bytes,
            dest_dir=folder,
            allowed_suffixes=UPLOAD_SUFFIXES[upload.role],
        )
        names.append((str(path), upload.name))
        if upload.role in ("facilities", "residents"):
            check_point_table(path, name=upload.name)
        paths[upload.role] = path
    names.append((str(folder), "upload"))
    network = paths.get("network") or default_network_path()
    names.append((str(network), network.name))
    config = AnalyzeConfig(
        reach=ReachConfig(network=network, facilities=paths.get("facilities")),
        population=(paths["residents"],) if "residents" in paths else (),
        districts=paths.get("districts"),
    )
    inputs = load_analysis_inputs(config)
    likely: str | None = None
    if "facilities" in paths:
        # An Amap/Baidu POI export is converted by its reader (radius.poi_exports) already.
        exported = inputs.facilities["source"].isin(["amap", "baidu"]).to_numpy()
        if coord_system != "wgs84" and not exported.all():
            inputs = replace(
                inputs, facilities=facilities_to_wgs84(inputs.facilities, coord_system)
            )
        else:
            signature = offset_signature(
                inputs.facilities, inputs.network.edges.to_crs("EPSG:4326")
            )
            if signature["likely_system"] in ("gcj02", "bd09"):
                likely = str(signature["likely_system"])
    replaced: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    if "facilities" in paths:
        inputs, replaced, kept = _keep_osm_facilities(inputs, network, replace_all)
    label = next((u.name for u in uploads if u.role == "network"), network.name)
    inputs = replace(inputs, notes=[_clean_note(note, names) for note in inputs.notes])
    return Loaded(
        inputs=inputs,
        network_label=label,
        likely_system=likely,
        names=tuple(names),
        replaced=replaced,
        kept=kept,
    )


def _clean_note(note: str, names: Sequence[tuple[str, str]]) -> str:
    """A note naming the uploaded files, not their temporary copies; a message id stays one."""
    return _renamed(note, names)


def _renamed(value: Any, names: Sequence[tuple[str, str]]) -> Any:
    """``value`` naming the uploaded files, not their temporary copies (:func:`replace_paths`):
    a :class:`Message` stays one, its values renamed (a problem listed in it, a Message or
    a tuple of them, too), so it is still told in each language."""
    if isinstance(value, Message):
        return Message(value.key, **{k: _renamed(v, names) for k, v in value.params.items()})
    if isinstance(value, tuple):
        return tuple(_renamed(item, names) for item in value)
    if isinstance(value, str):
        return replace_paths(value, names)
    return value


def _renamed_error(exc: RadiusError, names: Sequence[tuple[str, str]]) -> RadiusError:
    """The same kind of error, naming the uploaded files instead of their temporary copies,
    with its :class:`Message` (when it has one) kept, so the page tells it in its language."""
    text = _renamed(error_message(exc), names)
    if isinstance(exc, LimitError):
        return LimitError(text, exc.limit)
    try:
        return type(exc)(text)
    except TypeError:  # an error class with other arguments: keep it as it was raised
        return exc


def _keep_osm_facilities(
    inputs: AnalysisInputs, network: Path, replace_all: bool
) -> tuple[AnalysisInputs, tuple[str, ...], tuple[str, ...]]:
    """The uploaded inventory beside the network's OSM facilities of the other categories.

    Returns the inputs, the categories whose OSM facilities the inventory replaced, and
    those whose OSM facilities were kept.
    """
    uploaded = inputs.facilities
    categories = load_categories()
    held = {str(c) for c in uploaded["category"].unique()}
    if replace_all or not _is_osm_file(network):
        return inputs, tuple(c.id for c in categories), ()
    osm = facilities_from_osm(network, categories)
    others = osm[~osm["category"].isin(held)]
    kept = tuple(c.id for c in categories if c.id not in held and c.id in set(others["category"]))
    replaced = tuple(c.id for c in categories if c.id in held)
    if len(others):
        inputs = replace(inputs, facilities=append_facilities(uploaded, others))
    return inputs, replaced, kept


def facilities_to_wgs84(facilities: gpd.GeoDataFrame, system: str) -> gpd.GeoDataFrame:
    """Facilities whose coordinates are in ``system`` (GCJ-02, BD-09, ...) moved to WGS-84."""
    moved = convert_frame(facilities, system, "wgs84")
    entrances = facilities["entrances"]
    present = entrances.notna().to_numpy()
    if present.any():
        values = np.empty(len(facilities), dtype=object)
        values[:] = list(entrances)
        converted = convert_frame(
            gpd.GeoSeries(list(entrances[present]), crs="EPSG:4326"), system, "wgs84"
        )
        values[present] = list(converted)
        moved["entrances"] = values
    return moved


def limit_message(exc: LimitError, lang: str) -> str:
    """A limit reached, in the user's language (a clause: no closing full stop)."""
    limits = limits_from_env()
    if exc.limit == "seconds":
        return t("limit_seconds", lang, seconds=limits.seconds)
    if exc.limit == "memory":
        return t("limit_memory", lang, mb=limits.memory_bytes / 1024 / 1024)
    if exc.limit == "died":
        return t("error_bug", lang)
    if exc.limit in ("cancelled", "shutdown"):
        return t(f"limit_{exc.limit}", lang)
    return error_in(exc, lang)
