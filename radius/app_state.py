"""The app's session logic without Streamlit: what-if facilities, suggestions, messages.

``app.py`` draws the page; what a click or a button does to a session lives here, on the
session's state as a plain mapping (Streamlit's ``st.session_state`` is one), so it is
tested directly (``tests/test_app_state.py``).

What-ifs on the shared default district run in the server process, bounded by
construction: the district is the one shipped (its size is fixed), a what-if recomputes
only the categories of its facilities (:func:`radius.whatif.whatif_analysis`), a session
holds at most :data:`MAX_PROPOSALS` of them (more are refused with a message), and a
suggestion picks at most ``MAX_SUGGESTIONS`` sites with the solver's time limit
(:func:`radius.siting.site_facilities`, 30 s, then greedy). Uploaded data is analysed in
bounded worker processes (:mod:`radius.bounded`).

Session state
-------------
``lang``
    ``"zh"`` (default) or ``"en"``, set by the language switch.
``proposals``, ``next_pid``, ``proposals_for``
    The what-if facilities (a list of :class:`~radius.whatif.Proposal`), added by clicking
    the map or by the siting suggestion; the id of the next one; the inputs they were
    placed on (:func:`reset_for_inputs`).
``suggest_request``
    A click of "suggest sites" not handled yet: ``(category id, count)``.
``suggest_message``, ``suggest_error``, ``whatif_message``
    What the last suggestion did or why it failed; why a what-if was refused (the cap):
    ``{lang: text}`` in each language, so a switch of language shows it in the new one
    (:func:`radius.app_view.panel_messages`).
``pending_click``, ``last_click``
    A map click (``{"lat": ..., "lng": ...}``) not handled yet; the last one handled. A
    click on the map goes through exactly this path (:func:`map_clicked`); tests may set it.
``downloads``
    Prepared downloads: ``{kind: (key, bytes)}``, the key naming what they were made from
    (:func:`radius.app_view.kept_downloads`).
``upload_digests``
    Each upload's SHA-256 by its upload id (:func:`radius.app_inputs.received`).
``upload_failed``
    The uploads that failed to read, ``{key: error}`` (one at most), told again without
    reading them again (:func:`inputs_for`).
``_cache``
    The session's cache of inputs and analyses (:class:`radius.session_cache.ByteLRU`).
``{name}``, ``{name}.{lang}``
    A choice's value and its widget in each language (:class:`radius.app_view.Choice`);
    the what-if panel's own widgets: ``whatif_place``, ``whatif_name``,
    ``capacity_{field}``, ``suggest_count``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Hashable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from radius._errors import RadiusError
from radius.app_inputs import Loaded, Upload, limit_message, load_bounded
from radius.bounded import LimitError, run_bounded
from radius.config import Category, load_categories
from radius.coords import from_wgs84, to_wgs84
from radius.i18n import LANGUAGES, error_in, message, name_of, t
from radius.maps import available_basemaps
from radius.pipeline import AnalysisResult
from radius.sample import default_network_path
from radius.session_cache import ByteLRU, session_cache_bytes
from radius.whatif import (
    DEFAULT_CAPACITY,
    Proposal,
    Settings,
    suggest_sites,
    suggestion_message,
    whatif_analysis,
)

__all__ = [
    "DEFAULT_SUGGESTIONS",
    "MAX_PROPOSALS",
    "MAX_SUGGESTIONS",
    "Failure",
    "add_proposal_at",
    "analysis_failed",
    "analysis_for",
    "as_on_the_page",
    "chosen_capacity",
    "chosen_category",
    "error_text",
    "facilities_message",
    "follow_language",
    "in_each_language",
    "inputs_for",
    "map_center",
    "map_clicked",
    "proposal_lines",
    "remove_all_proposals",
    "remove_proposal",
    "request_suggestion",
    "reset_for_inputs",
    "run_suggestion",
    "seconds_ticker",
    "session_cache",
    "session_watch",
    "take_pending_click",
    "upload_key",
]

State = MutableMapping[Any, Any]
LOG = logging.getLogger("radius.app")
DEFAULT_SUGGESTIONS = 2
MAX_SUGGESTIONS = 20
MAX_PROPOSALS = 40
"""Most what-if facilities one session holds (a click or suggestion beyond is refused)."""


def _categories() -> dict[str, Category]:
    return {c.id: c for c in load_categories()}


def chosen_category(state: State) -> Category | None:
    """The category chosen in the what-if panel."""
    # The widget's own state holds this run's choice even before the widget is drawn.
    lang = str(state.get("lang", "zh"))
    category_id = state.get(f"whatif_category.{lang}", state.get("whatif_category"))
    return _categories().get(str(category_id)) if category_id else None


def chosen_capacity(state: State, category: Category) -> tuple[tuple[str, float], ...]:
    """The capacity entered in the what-if panel, for the fields of ``category``."""
    return tuple(
        (column, float(state.get(f"capacity_{column}", DEFAULT_CAPACITY[column])))
        for column in category.capacity_fields
    )


def _room(state: State, wanted: int) -> int:
    """How many of ``wanted`` new what-if facilities fit under :data:`MAX_PROPOSALS`.

    When fewer fit, the what-if panel's message says so (``whatif_message``).
    """
    free = max(0, MAX_PROPOSALS - len(state.get("proposals", [])))
    if free < wanted:
        state["whatif_message"] = in_each_language(
            lambda lang: t("whatif_too_many", lang, n=MAX_PROPOSALS)
        )
    return min(free, wanted)


def add_proposal_at(state: State, lat: float, lng: float, system: str = "wgs84") -> None:
    """Add a what-if facility at a clicked point, with the category and capacity chosen.

    ``lat``/``lng`` are in the map's coordinate system (``system``: GCJ-02 on Gaode
    basemaps), converted to WGS-84 here. Refused (with a message) beyond
    :data:`MAX_PROPOSALS`.
    """
    if not state.get("whatif_place", True):
        return
    category = chosen_category(state)
    if category is None:
        return
    if state.get("last_click") == (lat, lng):
        return  # the same click reported again
    state["last_click"] = (lat, lng)
    state.pop("whatif_message", None)
    if not _room(state, 1):
        return
    pid = int(state.get("next_pid", 1))
    state["next_pid"] = pid + 1
    name = str(state.get("whatif_name") or "").strip() or f"P{pid}"
    lon_wgs, lat_wgs = to_wgs84(lng, lat, system)
    capacity = chosen_capacity(state, category)
    proposal = Proposal(pid, category.id, float(lon_wgs), float(lat_wgs), name, capacity)
    state["proposals"] = [*state.get("proposals", []), proposal]


def map_center(proposals: Sequence[Proposal], basemap: str) -> tuple[float, float] | None:
    """Where the map centres: the last what-if facility, in the basemap's system
    (``(lat, lng)``), or None (the map's own view)."""
    if not proposals:
        return None
    system = available_basemaps()[basemap].overlay_system
    x, y = from_wgs84(proposals[-1].lon, proposals[-1].lat, system)
    return (float(y), float(x))


def map_clicked(state: State, value: Any) -> None:
    """The map's click (``{"last_clicked": {"lat", "lng"}}``) becomes ``pending_click``."""
    clicked = value.get("last_clicked") if isinstance(value, dict) else None
    if clicked:
        basemap = available_basemaps().get(str(state.get("basemap", "osm")))
        state["pending_click"] = {
            "lat": clicked["lat"],
            "lng": clicked["lng"],
            "system": basemap.overlay_system if basemap is not None else "wgs84",
        }


def take_pending_click(state: State) -> None:
    """Handle a map click not handled yet (``pending_click``)."""
    pending = state.pop("pending_click", None)
    if pending:
        add_proposal_at(
            state, float(pending["lat"]), float(pending["lng"]), str(pending.get("system", "wgs84"))
        )


def remove_proposal(state: State, pid: int) -> None:
    """Remove one what-if facility."""
    state["proposals"] = [p for p in state.get("proposals", []) if p.pid != pid]
    state.pop("whatif_message", None)


def remove_all_proposals(state: State) -> None:
    """Remove every what-if facility."""
    state["proposals"] = []
    for key in ("suggest_message", "whatif_message"):
        state.pop(key, None)


def reset_for_inputs(state: State, input_key: Hashable) -> None:
    """Other inputs (an upload, the default district again): the what-ifs start afresh."""
    if state.get("proposals_for") != input_key:
        state["proposals_for"] = input_key
        state["proposals"] = []
        for key in ("suggest_message", "whatif_message"):
            state.pop(key, None)


def request_suggestion(state: State) -> None:
    """ "Suggest sites" button: remember the request; the page runs it (:func:`run_suggestion`)."""
    category = chosen_category(state)
    if category is not None:
        count = int(state.get("suggest_count", DEFAULT_SUGGESTIONS))
        state["suggest_request"] = (category.id, min(max(count, 1), MAX_SUGGESTIONS))


def run_suggestion(state: State, loaded: Loaded, settings: Settings, lang: str) -> None:
    """Run a pending "suggest sites" request; add its sites to the what-if facilities.

    A failure is kept as the what-if panel's message (where the planner clicked); the page
    goes on.
    """
    request = state.pop("suggest_request", None)
    if request is None:
        return
    category_id, count = request
    category = _categories()[category_id]
    for key in ("suggest_message", "suggest_error", "whatif_message"):
        state.pop(key, None)
    count = _room(state, int(count))
    if not count:
        return
    proposals = list(state.get("proposals", []))
    first_pid = int(state.get("next_pid", 1))
    try:
        added, summary = suggest_sites(
            loaded.inputs,
            loaded.network_label,
            settings,
            proposals,
            category=category_id,
            count=count,
            capacity=chosen_capacity(state, category),
            first_pid=first_pid,
            name=lambda pid: t("suggest_name", lang, pid=pid),
        )
    except Exception as exc:
        if not isinstance(exc, RadiusError):
            LOG.exception("suggesting sites failed")
        failed = exc
        state["suggest_error"] = in_each_language(
            lambda lang: error_text(failed, lang, "error_suggest", loaded.clean)
        )
        return
    state["proposals"] = proposals + added
    state["next_pid"] = first_pid + len(added)
    state["suggest_message"] = in_each_language(
        lambda lang: suggestion_message(
            summary, category, len(added), settings.threshold_basis, lang
        )
    )


_UPLOADERS = re.compile(r"--(population|districts|facilities|network)(?![\w-])")
_ROLE_OF_OPTION = {"population": "residents"}


def as_on_the_page(text: str, lang: str) -> str:
    """A note, warning or error of the core as the page says it: where it names the command
    line's option for an input (``--districts``, ``--population``, ``--facilities``,
    ``--network``), the sidebar's uploader of that input (“分析区域”上传, the Districts
    upload), which is what a planner in the app uses; other options stay as written."""

    def uploader(match: re.Match[str]) -> str:
        label = t(f"upload_{_ROLE_OF_OPTION.get(match[1], match[1])}", lang)
        return t("upload_named", lang, label=label)

    return _UPLOADERS.sub(uploader, text)


def in_each_language(text: Callable[[str], str]) -> dict[str, str]:
    """A message of the page in each language (``{lang: text(lang)}``), kept in the
    session's state so that it follows a switch of language."""
    return {lang: text(lang) for lang in LANGUAGES}


def follow_language(state: State, lang: str) -> None:
    """The what-if facilities named by a suggestion (``suggest_name``) in another language
    are named in ``lang``: after a switch of language, "建议选址 3" is "Suggested site 3".
    A name the planner typed, or a click's ``P3``, stays as it is."""
    proposals = state.get("proposals", [])
    renamed = [
        p._replace(name=t("suggest_name", lang, pid=p.pid))
        if p.name != t("suggest_name", lang, pid=p.pid)
        and any(p.name == t("suggest_name", other, pid=p.pid) for other in LANGUAGES)
        else p
        for p in proposals
    ]
    if renamed != list(proposals):
        state["proposals"] = renamed


def error_text(
    exc: BaseException,
    lang: str,
    key: str = "error_input",
    clean: Callable[[str], str] = str,
    **params: Any,
) -> str:
    """What the page says about a failure, in ``lang``, never a traceback.

    An input error under ``key``: the error's own message in ``lang``
    (:func:`radius.i18n.error_in`, a :class:`~radius.i18n.Message` in the user's language),
    rewritten by ``clean`` (e.g. :meth:`Loaded.clean`); ``params`` fill the key's other
    placeholders. A limit with the limit's own message (under ``error_limit`` for an
    upload, whose page goes on with the default district). Anything else is a bug, told
    as one in ``lang`` (``error_unexpected`` for the page's own steps), its traceback only
    in the server's log.
    """
    if isinstance(exc, LimitError):
        limit = limit_message(exc, lang)
        if key == "error_upload":
            return t("error_limit", lang, message=limit)
        return t(key, lang, message=limit, **params)
    if isinstance(exc, RadiusError):
        told = as_on_the_page(clean(error_in(exc, lang)), lang)
        return t(key, lang, message=told, **params)
    if key == "error_input":
        return t("error_unexpected", lang)
    return t(key, lang, message=t("error_bug", lang), **params)


def proposal_lines(proposals: Sequence[Proposal], lang: str) -> list[str]:
    """One line per what-if facility: name, category, position and size, in ``lang``."""
    categories = _categories()
    lines = []
    for proposal in proposals:
        capacity = ", ".join(
            t(f"capacity_short_{column}", lang, value=value) for column, value in proposal.capacity
        )
        text = t(
            "proposal_item",
            lang,
            name=proposal.name,
            category=name_of(categories[proposal.category], lang),
            lon=proposal.lon,
            lat=proposal.lat,
        )
        lines.append(f"{text}{' · ' + capacity if capacity else ''}")
    return lines


def facilities_message(loaded: Loaded, lang: str) -> str | None:
    """Which categories an uploaded facility file replaced and which it kept, or None."""
    if not loaded.replaced:
        return None
    if not loaded.kept:
        return t("facilities_replaced", lang, replaced=t("all_categories", lang))
    categories = _categories()
    sep = "、" if lang == "zh" else ", "

    def names(ids: Sequence[str]) -> str:
        return sep.join(name_of(categories[c], lang) for c in ids)

    return (
        t("facilities_replaced", lang, replaced=names(loaded.replaced))
        + " "
        + t("facilities_kept", lang, kept=names(loaded.kept))
    )


def upload_key(
    default_path: str, uploads: Sequence[Upload], coord_system: str, replace_all: bool
) -> tuple[Any, ...]:
    """What a session's inputs are made of: the cache key of its uploads (or the default)."""
    if not uploads:
        return ("default", default_path)
    files = tuple((u.role, u.name, u.digest) for u in uploads)
    return ("upload", default_path, files, coord_system, replace_all)


def inputs_for(
    uploads: Sequence[Upload],
    coord_system: str,
    replace_all: bool,
    lang: str,
    *,
    shared: Callable[[str], Loaded],
    read: Callable[[Hashable, Callable[[Callable[[], bool]], Loaded]], Loaded],
    failed: MutableMapping[Hashable, Failure] | None = None,
) -> tuple[Loaded, tuple[Any, ...], str | None]:
    """A session's inputs: the shared default district, or its uploads read with limits.

    Parameters
    ----------
    uploads : sequence of Upload
        The session's uploads (none: the default district).
    coord_system : str
        The coordinate system of an uploaded facility file.
    replace_all : bool
        Whether an uploaded inventory replaces every OSM facility.
    lang : str
        The language of the message on a failing upload.
    shared : callable
        ``shared(path)``: the default district's inputs, read once for every session.
    read : callable
        ``read(key, load)``: the uploads' inputs kept under ``key`` (:func:`upload_key`),
        ``load(cancelled)`` reading them (:func:`radius.app_inputs.load_bounded`) if they
        are not kept yet; ``cancelled`` ends the job (the session closed).
    failed : mutable mapping, optional
        The session's failed upload (``upload_failed``): its key and :class:`Failure`
        (reading it, or analysing it: :func:`analysis_failed`). The same
        uploads fail again at once, in the page's language, without being read again at
        each rerun of the page (a click would otherwise wait for the bad file anew, up to
        the job's time limit); other uploads replace it. A job cancelled or stopped by a
        shutdown is not kept (the file was not at fault).

    Returns
    -------
    tuple
        The inputs, their key and None; on a failing upload the default district, its key
        and the message (``error_upload``, or the limit reached), so the page goes on.
    """
    default_path = str(default_network_path())
    key = upload_key(default_path, uploads, coord_system, replace_all)
    if not uploads:
        if failed is not None:
            failed.clear()  # the file removed: uploaded again, it is read again
        return shared(default_path), key, None

    def load(cancelled: Callable[[], bool]) -> Loaded:
        return load_bounded(uploads, coord_system, replace_all=replace_all, cancelled=cancelled)

    def instead(failure: Failure) -> tuple[Loaded, tuple[Any, ...], str | None]:
        default_key = upload_key(default_path, (), coord_system, False)
        return shared(default_path), default_key, failure.text(lang)

    if failed is not None and key in failed:
        return instead(failed[key])  # told again, not read again (nor raised: no traceback)
    try:
        loaded = read(key, load)
    except Exception as exc:
        if not isinstance(exc, RadiusError):
            LOG.exception("reading the uploads failed")
        if failed is not None:
            failed.clear()
            if not (isinstance(exc, LimitError) and exc.limit in ("cancelled", "shutdown")):
                failed[key] = Failure(exc.with_traceback(None))
        return instead(Failure(exc))
    if failed is not None:
        failed.clear()
    return loaded, key, None


@dataclass(frozen=True)
class Failure:
    """Why a session's uploads cannot be used: the error and the page's sentence for it
    (``error_upload``: reading them; ``error_upload_analysis``: analysing them)."""

    error: BaseException
    key: str = "error_upload"

    def text(self, lang: str) -> str:
        """What the page says, in ``lang``."""
        return error_text(self.error, lang, self.key)


def analysis_failed(
    failed: MutableMapping[Hashable, Failure], input_key: Hashable, exc: BaseException
) -> bool:
    """The analysis of uploaded data failed: keep it as the uploads' failure (the page then
    runs again on the default district and says why below the uploaders, as for a file
    that cannot be read) and return True; False when it should not be kept (a job
    cancelled or stopped by a shutdown: the data was not at fault)."""
    if isinstance(exc, LimitError) and exc.limit in ("cancelled", "shutdown"):
        return False
    if not isinstance(exc, RadiusError):
        LOG.exception("analysing the uploads failed", exc_info=exc)
    failed.clear()
    failed[input_key] = Failure(exc.with_traceback(None), "error_upload_analysis")
    return True


def analysis_for(
    loaded: Loaded,
    input_key: tuple[Any, ...],
    settings: Settings,
    proposals: tuple[Proposal, ...],
    base: AnalysisResult | None,
    *,
    shared: Callable[[str, Settings], AnalysisResult],
    keep: Callable[[Hashable, Callable[[], AnalysisResult]], AnalysisResult],
    watch: Callable[[], Callable[[], bool]],
) -> AnalysisResult:
    """The analysis of a session's inputs with its what-if facilities, and where it runs.

    The default district without proposals: ``shared(path, settings)``, computed once for
    every session. The default district with proposals: this session's (``keep``), in this
    process, recomputing only what they change against ``base``
    (:func:`radius.whatif.whatif_analysis`). Uploaded data: this session's, analysed in a
    bounded job (:func:`radius.bounded.run_bounded`) cancelled by ``watch()`` (the session
    ended), so the uploader's session waits and no other.

    Parameters
    ----------
    loaded : Loaded
        The session's inputs.
    input_key : tuple
        What they are made of (:func:`upload_key`).
    settings : Settings
        The sidebar's settings.
    proposals : tuple of Proposal
        The what-if facilities.
    base : AnalysisResult or None
        The analysis without them (None: not computed yet).
    shared : callable
        ``shared(path, settings)``: the default district's analysis, shared read-only.
    keep : callable
        ``keep(key, compute)``: ``compute()`` kept in the session's cache under ``key``.
    watch : callable
        ``watch()``: a new ``cancelled`` callback for a job.
    """
    if input_key[0] == "default" and not proposals:
        return shared(str(input_key[1]), settings)
    args = (loaded.inputs, settings, proposals, loaded.network_label)
    key = (input_key, settings, proposals)
    if input_key[0] == "default":
        return keep(key, lambda: whatif_analysis(*args, base=base))
    return keep(
        key,
        lambda: run_bounded(
            whatif_analysis, *args, cancelled=watch(), what=message("bounded_what_analysis")
        ),
    )


def session_cache(state: State) -> ByteLRU:
    """The session's cache of inputs and analyses (``_cache``), made on first use, bounded
    by ``RADIUS_SESSION_CACHE_MB`` (:func:`radius.session_cache.session_cache_bytes`)."""
    cache = state.get("_cache")
    if not isinstance(cache, ByteLRU):
        cache = ByteLRU(session_cache_bytes())
        state["_cache"] = cache
    return cache


def seconds_ticker(
    show: Callable[[int], object], clock: Callable[[], float] = time.monotonic
) -> Callable[[], None]:
    """A ``tick`` for :func:`session_watch`: ``show(seconds)``, the whole seconds spent
    since the ticker was made, at each poll where that number has grown."""
    started = clock()
    shown = [0]

    def tick() -> None:
        seconds = int(clock() - started)
        if seconds > shown[0]:
            shown[0] = seconds
            show(seconds)

    return tick


def session_watch(
    is_active: Callable[[], bool], tick: Callable[[], object] | None = None
) -> Callable[[], bool]:
    """A ``cancelled`` callback for :func:`radius.bounded.run_bounded`: true once the
    session has ended (``is_active()`` false: the browser tab closed, its websocket gone).

    ``tick`` is called on each poll first (the page shows the seconds spent); a session
    that ends while its job runs has the job killed at the next poll, whether or not the
    page can still draw.
    """

    def cancelled() -> bool:
        if tick is not None:
            tick()
        return not is_active()

    return cancelled
