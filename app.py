"""radius in the browser: ``streamlit run app.py``.

The page only (see ``STYLE.md``): layout, widgets and Streamlit caching. What it computes
lives in :mod:`radius`: uploads and their limits in :mod:`radius.app_inputs` and
:mod:`radius.bounded`, what a click or button does to the session (what-ifs, suggestions,
messages) in :mod:`radius.app_state`, what-if analyses and the page's figures in
:mod:`radius.whatif`, downloads as bytes in :mod:`radius.downloads`, the map's scripts and
rendered payload in :mod:`radius.map_assets`, each session's results in
:mod:`radius.session_cache`.

Many planners share one server: nothing on a page's path takes a process-wide lock. The
default district's inputs and analyses are computed once and shared read-only
(``st.cache_resource``); what a session uploads is read in a child process with limits
(seconds, memory, bytes unpacked) and kept, with its analyses, in that session's own
byte-bounded cache, dropped when the session ends; a session's running job is killed when
the session ends (its tab closed). What-ifs on the default district run here, bounded by
construction (see :mod:`radius.app_state`). On shutdown (SIGTERM) running jobs are stopped
and upload folders removed.

Session state
-------------
``lang``
    ``"zh"`` (default) or ``"en"``, set by the language switch.
``proposals``
    The what-if facilities (a list of :class:`~radius.whatif.Proposal`), added by clicking
    the map or by the siting suggestion.
``suggest_request``
    A click of "suggest sites" not handled yet: ``(category id, count)``.
``suggest_message``, ``suggest_error``, ``whatif_message``
    What the last suggestion did or why it failed; why a what-if was refused (the cap).
``pending_click``
    A map click (``{"lat": ..., "lng": ...}``) not handled yet. A click on the map goes
    through exactly this path (:func:`radius.app_state.map_clicked`); tests may set it.
``downloads``
    Prepared downloads: ``{kind: (key, bytes)}``, the key naming what they were made from.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any, NoReturn, TypeVar

import folium
import streamlit as st  # noqa: TID251 (app.py is where Streamlit belongs)
import streamlit.components.v1 as components  # noqa: TID251 (app.py is where Streamlit belongs)
import streamlit_folium
from streamlit.runtime import Runtime  # noqa: TID251
from streamlit.runtime.scriptrunner import get_script_run_ctx  # noqa: TID251

from radius import downloads as files
from radius._errors import RadiusError
from radius._warnings import collect
from radius.app_inputs import ROLES, Loaded, Upload, load_bounded, load_inputs
from radius.app_state import (
    DEFAULT_SUGGESTIONS,
    MAX_SUGGESTIONS,
    error_text,
    facilities_message,
    map_center,
    map_clicked,
    proposal_lines,
    remove_all_proposals,
    remove_proposal,
    request_suggestion,
    reset_for_inputs,
    run_suggestion,
    session_watch,
    take_pending_click,
    upload_key,
)
from radius.bounded import run_bounded, start_service
from radius.config import DEFAULT_THRESHOLD_BASIS, load_categories, load_speed_profiles
from radius.i18n import LANGUAGES, Language, name_of, t
from radius.map_assets import (
    MapPayload,
    asset_dirs,
    map_html,
    rendered_map,
    served_assets,
    use_local_assets,
)
from radius.maps import analysis_map, available_basemaps, basemap_notes, default_rule
from radius.pipeline import AnalysisResult
from radius.sample import default_network_path
from radius.session_cache import ByteLRU, session_cache_bytes
from radius.standards import list_standards, load_standard
from radius.uploads import UPLOAD_SUFFIXES
from radius.whatif import (
    DEFAULT_CAPACITY,
    Proposal,
    Settings,
    attainment_lines,
    headline_tiles,
    page_notes,
    proposals_frame,
    shortfall_table,
    whatif_analysis,
)

LOG = logging.getLogger("radius.app")
T = TypeVar("T")

COORD_SYSTEMS = ("wgs84", "gcj02", "bd09", "cgcs2000")
AREA_TYPES: tuple[str | None, ...] = (None, "new", "old")
METHODS = ("2sfca", "inside")
BASES = ("distance", "time")
MAP_HEIGHT = 560
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
TRIM_EVERY_S = 15.0
UPLOADER_ZH_CSS = """<style>
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"],
[data-testid="stFileUploaderDropzoneInstructions"] > div > span {display: none;}
[data-testid="stFileUploaderDropzone"] button [data-has-shortcut]::after {content: "上传";}
[data-testid="stFileUploaderDropzoneInstructions"] > div::after {
  content: "单个文件不超过 200 MB"; font-size: 0.8em; opacity: 0.7;}
</style>"""


# --------------------------------------------------------------------------------------
# Shared, read-only: the default district (computed once for every session)
# --------------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def default_inputs(path: str) -> Loaded:
    """The default district's inputs, read once for all sessions (``path`` is the key)."""
    return load_inputs([])


@st.cache_resource(max_entries=16, show_spinner=False)
def default_analysis(path: str, settings: Settings) -> AnalysisResult:
    """The default district's analysis for ``settings``, computed once and shared read-only."""
    loaded = default_inputs(path)
    return whatif_analysis(loaded.inputs, settings, (), loaded.network_label)


@st.cache_resource(show_spinner=False)
def standard_names() -> dict[str, tuple[str, str]]:
    """Chinese and English name of every standard profile."""
    names = {}
    for name in list_standards():
        profile = load_standard(name)
        names[name] = (profile.name_zh, profile.name_en)
    return names


@st.cache_resource(show_spinner=False)
def asset_urls() -> dict[str, str | None]:
    """The map's scripts served by this server: each package folder declared a component."""
    names = {
        package: components.declare_component(f"radius_{package}", path=str(folder)).name
        for package, folder in asset_dirs().items()
    }
    return served_assets(names)


def map_payload(fmap: folium.Map) -> MapPayload:
    """The rendered map with this server's local scripts (:func:`rendered_map`)."""
    return rendered_map(use_local_assets(fmap, asset_urls()))


@st.cache_resource(max_entries=32, show_spinner=False)
def default_map(
    path: str, settings: Settings, lang: Language, basemap: str, rule: str | None
) -> MapPayload:
    """The default district's map without what-if facilities, rendered once and shared."""
    result = default_analysis(path, settings)
    with collect():
        return map_payload(analysis_map(result, lang=lang, basemap=basemap, rule=rule))


def show_map(payload: MapPayload, center: tuple[float, float] | None) -> None:
    """Draw a map payload as ``st_folium`` does; a click becomes a pending click."""
    key = "map"
    hash_key = streamlit_folium.generate_js_hash(payload.script, key, False)

    def changed() -> None:
        st.session_state[key] = st.session_state.get(hash_key, {})
        map_clicked(st.session_state, st.session_state[key])

    streamlit_folium._component_func(
        script=payload.script,
        header=payload.header,
        html=payload.html,
        id=payload.id,
        key=hash_key,
        height=MAP_HEIGHT,
        width=None,
        returned_objects=["last_clicked"],
        default={"last_clicked": None},
        zoom=None,
        center=center,
        feature_group=None,
        return_on_hover=False,
        layer_control=None,
        pixelated=False,
        css_links=list(payload.css_links),
        js_links=list(payload.js_links),
        on_change=changed,
        wrap_longitude=False,
    )


@st.cache_resource(show_spinner=False)
def service() -> bool:
    """Once per server: the memory trimmer, the shutdown hook, a warm worker process."""
    start_service()
    return True


# --------------------------------------------------------------------------------------
# Per session: this session's uploads and results, bounded, gone with the session
# --------------------------------------------------------------------------------------


def session_cache() -> ByteLRU:
    """This session's cache of inputs and analyses (``RADIUS_SESSION_CACHE_MB``)."""
    cache = st.session_state.get("_cache")
    if not isinstance(cache, ByteLRU):
        cache = ByteLRU(session_cache_bytes())
        st.session_state["_cache"] = cache
    return cache


def keep(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` kept in this session's cache under ``key``."""
    return session_cache().get(key, compute)


def session_active() -> Callable[[], bool]:
    """Whether this session is still open (false once its browser tab closed)."""
    ctx = get_script_run_ctx()
    runtime = Runtime.instance() if Runtime.exists() else None
    if ctx is None or runtime is None:  # a bare run (AppTest): never ends by itself
        return lambda: True
    session_id = ctx.session_id
    return lambda: runtime.is_active_session(session_id)


def watch(lang: str | None) -> Callable[[], bool]:
    """A ``cancelled`` callback for a job: true once this session has ended (its browser
    tab closed), so the job is killed then; with ``lang``, shows the seconds spent.

    Drawing also gives Streamlit the chance to stop this run when the session reruns; it
    does so by raising, and :func:`radius.bounded.run_bounded` then kills the job.
    """
    if lang is None:
        return session_watch(session_active())
    placeholder = st.empty()
    started = time.monotonic()
    shown = [0]

    def tick() -> None:
        seconds = int(time.monotonic() - started)
        if seconds > shown[0]:
            shown[0] = seconds
            placeholder.caption(t("reading_seconds", lang, seconds=seconds))

    return session_watch(session_active(), tick)


def fail(message: str) -> NoReturn:
    """Show an error and stop this run of the page."""
    st.error(message)
    st.stop()


def guarded(
    step: Callable[[], T],
    lang: str,
    key: str = "error_input",
    clean: Callable[[str], str] = str,
) -> T:
    """Run a pipeline step; show a translated message (never a traceback) if it fails."""
    try:
        return step()
    except Exception as exc:
        if not isinstance(exc, RadiusError):
            LOG.exception("unexpected error in the radius app")
        fail(error_text(exc, lang, key, clean))


# --------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------


def choice(
    widget: Callable[..., Any],
    name: str,
    label: str,
    options: Sequence[Any],
    lang: str,
    *,
    default: Any,
    **kwargs: Any,
) -> Any:
    """A radio, selectbox or multiselect whose choice survives a language switch.

    The options' labels change with the language, and Streamlit keeps a widget's choice
    by its label, so each language has its own widget (key ``"{name}.{lang}"``); the choice
    itself is kept under ``name`` in session state and handed to the widget shown.
    """
    state = st.session_state
    current = state.get(name, default)
    key = f"{name}.{lang}"
    if widget is st.multiselect:
        kept = [option for option in current if option in options]
        value = widget(label, options, default=kept, key=key, **kwargs)
    else:
        if current not in options:
            current = default if default in options else options[0]
        value = widget(label, options, index=list(options).index(current), key=key, **kwargs)
    state[name] = value
    return value


def sidebar(lang_default: str) -> tuple[Language, list[Upload], str, Settings, str]:
    """The sidebar: language, data, settings. Returns what the page needs."""
    with st.sidebar:
        lang = st.radio(
            t("language", lang_default),
            LANGUAGES,
            format_func=LANGUAGE_NAMES.__getitem__,
            key="lang",
            horizontal=True,
        )
        st.header(t("data_header", lang))
        st.caption(t("data_hint", lang))
        uploads: list[Upload] = []
        digests: dict[str, str] = st.session_state.setdefault("upload_digests", {})
        coord_system = "wgs84"
        for role in ROLES:
            types = sorted({suffix.rsplit(".", 1)[-1] for suffix in UPLOAD_SUFFIXES[role]})
            uploaded = st.file_uploader(
                t(f"upload_{role}", lang),
                type=types,
                key=f"upload_{role}",
                help=t(f"upload_{role}_help", lang),
            )
            if uploaded is not None:
                data = uploaded.getvalue()
                file_id = str(getattr(uploaded, "file_id", uploaded.name))
                digest = digests.get(file_id) or hashlib.sha256(data).hexdigest()
                digests[file_id] = digest
                uploads.append(Upload(role, uploaded.name, digest, data))
            if role == "facilities":
                st.toggle(
                    t("replace_all_facilities", lang),
                    value=False,
                    key="replace_all",
                    help=t("replace_all_help", lang),
                )
                coord_system = choice(
                    st.selectbox,
                    "coord_system",
                    t("coord_system", lang),
                    COORD_SYSTEMS,
                    lang,
                    default="wgs84",
                    format_func=lambda s: t(f"coord_{s}", lang),
                    help=t("coord_system_help", lang),
                )

        st.header(t("settings_header", lang))
        categories = load_categories()
        by_id = {c.id: c for c in categories}
        chosen = choice(
            st.multiselect,
            "categories",
            t("categories", lang),
            list(by_id),
            lang,
            default=list(by_id),
            format_func=lambda cid: name_of(by_id[cid], lang),
        )
        basis = choice(
            st.radio,
            "threshold_basis",
            t("threshold_basis", lang),
            BASES,
            lang,
            default=DEFAULT_THRESHOLD_BASIS,
            format_func=lambda b: t(f"basis_{b}", lang),
            help=t("threshold_basis_help", lang),
        )
        profiles = load_speed_profiles()
        names = list(profiles.profiles)
        speed_profile = choice(
            st.selectbox,
            "speed_profile",
            t("speed_profile", lang),
            names,
            lang,
            default=profiles.default,
            format_func=lambda p: t(
                "speed_option",
                lang,
                name=name_of(profiles.profiles[p], lang),
                speed=profiles.profiles[p].speed_m_s,
            ),
            disabled=basis == "distance",
        )
        standards = standard_names()
        standard_ids = list(standards)
        standard = choice(
            st.selectbox,
            "standard",
            t("standard", lang),
            standard_ids,
            lang,
            default="national",
            format_func=lambda s: standards[s][0 if lang == "zh" else 1],
        )
        area_type = choice(
            st.selectbox,
            "area_type",
            t("area_type", lang),
            AREA_TYPES,
            lang,
            default=None,
            format_func=lambda a: t(f"area_{a or 'from_data'}", lang),
            help=t("area_type_help", lang),
        )
        method = choice(
            st.radio,
            "method",
            t("method", lang),
            METHODS,
            lang,
            default="2sfca",
            format_func=lambda m: t(f"method_{m}", lang),
            help=t("method_help", lang),
        )
        basemaps = available_basemaps()
        basemap = choice(
            st.selectbox,
            "basemap",
            t("basemap", lang),
            list(basemaps),
            lang,
            default="osm",
            format_func=lambda b: basemaps[b].name(lang),
            help="\n\n".join(basemap_notes(lang=lang)) or None,
        )
        st.caption(t("attribution", lang))
    settings = Settings(
        categories=tuple(chosen),
        threshold_basis=str(basis),
        speed_profile=str(speed_profile),
        standard=str(standard),
        area_type=area_type,
        method=str(method),
    )
    language: Language = "en" if lang == "en" else "zh"
    return language, uploads, str(coord_system), settings, str(basemap)


def headline(
    result: AnalysisResult,
    base: AnalysisResult,
    settings: Settings,
    lang: str,
    *,
    changed: bool,
    network: str,
) -> None:
    """Coverage per category and threshold, and districts missing a target (st.metric).

    With what-if facilities each figure shows its change against the run without them.
    """
    st.subheader(t("headline_header", lang))
    tiles = headline_tiles(result, base, settings, lang, changed=changed)
    per_row = 5
    for start in range(0, len(tiles), per_row):
        columns = st.columns(per_row)
        for column, tile in zip(columns, tiles[start : start + per_row], strict=False):
            still = tile.change == 0
            column.metric(
                tile.label,
                tile.value,
                delta=tile.delta,
                delta_color="off" if still else "inverse" if tile.lower_is_better else "normal",
                delta_arrow="off" if still else "auto",
                help=t("metric_help", lang),
            )
    summary = result.summary()["residents"]
    st.caption(
        t(
            "residents_summary",
            lang,
            network=network,
            population=summary["population"],
            points=summary["points"],
            districts=len(result.districts),
        )
    )
    # Beside the headline figures: whether the residents behind them are plausible, and the
    # share of units meeting each rule (units without any of its group counted apart).
    if result.plausibility is not None:
        for warning in result.plausibility.messages(lang):
            st.warning(warning)
    lines = attainment_lines(result, lang)
    if lines:
        with st.expander(t("attainment_title", lang)):
            st.markdown("\n".join(f"- {line}" for line in lines))


def whatif_panel(settings: Settings, lang: str) -> None:
    """Category and capacity for the next click, and the list of proposals."""
    st.subheader(t("whatif_header", lang))
    st.caption(t("whatif_hint", lang))
    categories = {c.id: c for c in load_categories()}
    st.toggle(t("whatif_place", lang), value=True, key="whatif_place")
    options = list(settings.categories)
    category_id = choice(
        st.selectbox,
        "whatif_category",
        t("whatif_category", lang),
        options,
        lang,
        default=options[0],
        format_func=lambda cid: name_of(categories[cid], lang),
    )
    st.text_input(
        t("whatif_name", lang), key="whatif_name", placeholder=t("whatif_name_hint", lang)
    )
    if category_id is not None:
        for column in categories[category_id].capacity_fields:
            st.number_input(
                t(f"capacity_{column}", lang),
                min_value=0.0,
                value=DEFAULT_CAPACITY[column],
                step=10.0,
                key=f"capacity_{column}",
            )
    st.number_input(
        t("suggest_count", lang),
        min_value=1,
        max_value=MAX_SUGGESTIONS,
        value=DEFAULT_SUGGESTIONS,
        step=1,
        key="suggest_count",
    )
    st.button(
        t("suggest_button", lang),
        key="suggest",
        on_click=request_suggestion,
        args=(st.session_state,),
        help=t("suggest_help", lang),
        icon=":material/add_location_alt:",
    )
    state = st.session_state
    if state.get("suggest_message"):
        st.success(state["suggest_message"])
    for key in ("suggest_error", "whatif_message"):
        if state.get(key):
            st.error(state[key])
    proposals: list[Proposal] = state.get("proposals", [])
    if not proposals:
        st.caption(t("whatif_none", lang))
        return
    st.markdown(t("whatif_list", lang, n=len(proposals)))
    for proposal, line in zip(proposals, proposal_lines(proposals, lang), strict=True):
        st.markdown(line)
        st.button(
            t("remove", lang),
            key=f"remove_{proposal.pid}",
            on_click=remove_proposal,
            args=(st.session_state, proposal.pid),
            icon=":material/delete:",
            type="tertiary",
        )
    st.button(
        t("remove_all", lang),
        key="remove_all",
        on_click=remove_all_proposals,
        args=(st.session_state,),
    )


def downloads(items: Sequence[files.Download], key: Hashable, lang: str) -> None:
    """One column per download: "prepare" builds the file, then it can be downloaded.

    The bytes are built when asked for, in this run, so a failure shows a message in the
    download's own column (in the user's language) and the rest of the page goes on.
    ``key`` names what the files are made from; prepared files of another key are dropped.
    """
    st.subheader(t("downloads_header", lang))
    state = st.session_state
    prepared: dict[str, tuple[Hashable, bytes]] = {
        kind: value for kind, value in state.get("downloads", {}).items() if value[0] == key
    }
    for column, item in zip(st.columns(len(items)), items, strict=True):
        what = t(f"download_{item.kind}", lang)
        with column:
            if st.button(
                t("download_prepare", lang, what=what), key=f"prepare_{item.kind}", help=item.help
            ):
                with st.spinner(t("analysing", lang)):
                    made, error = files.prepared(item, lang)
                if made is not None:
                    prepared[item.kind] = (key, made)
                if error:
                    st.error(error)
            if item.kind in prepared:
                st.download_button(
                    t("download_ready", lang, what=what),
                    data=prepared[item.kind][1],
                    file_name=item.file_name,
                    mime=item.mime,
                    key=f"download_{item.kind}",
                    on_click="ignore",
                    type="primary",
                )
    state["downloads"] = prepared


def read_uploads(
    uploads: list[Upload], coord_system: str, lang: str
) -> tuple[Loaded, tuple[Any, ...]]:
    """The inputs: the shared default district, or this session's uploads read with limits.

    A failing upload shows its message in the sidebar beside the uploaders and the page
    goes on with the default district.
    """
    default_path = str(default_network_path())
    replace_all = bool(st.session_state.get("replace_all", False))
    key = upload_key(default_path, uploads, coord_system, replace_all)
    if not uploads:
        return default_inputs(default_path), key
    try:
        with st.spinner(t("loading", lang)):
            loaded = keep(
                key,
                lambda: load_bounded(
                    uploads, coord_system, replace_all=replace_all, cancelled=watch(lang)
                ),
            )
        return loaded, key
    except Exception as exc:
        if not isinstance(exc, RadiusError):
            LOG.exception("reading the uploads failed")
        st.sidebar.error(error_text(exc, lang, "error_upload"))
    return default_inputs(default_path), upload_key(default_path, (), coord_system, False)


def analysis(
    loaded: Loaded,
    input_key: tuple[Any, ...],
    settings: Settings,
    proposals: tuple[Proposal, ...] = (),
    base: AnalysisResult | None = None,
) -> AnalysisResult:
    """The analysis of the inputs with ``proposals``.

    The default district without proposals: shared by all sessions. With proposals: this
    session's, recomputing only what they change against ``base``. Uploaded data: analysed
    in a bounded job (:func:`radius.bounded.run_bounded`); the uploader's session waits,
    and the job is killed if the session ends meanwhile.
    """
    if input_key[0] == "default" and not proposals:
        return default_analysis(str(input_key[1]), settings)
    args = (loaded.inputs, settings, proposals, loaded.network_label)
    if input_key[0] == "default":
        return keep((input_key, settings, proposals), lambda: whatif_analysis(*args, base=base))
    return keep(
        (input_key, settings, proposals),
        lambda: run_bounded(
            whatif_analysis,
            *args,
            cancelled=watch(None),
            what="the analysis of the uploaded files",
        ),
    )


def main() -> None:
    """Build the page."""
    service()
    lang_default = str(st.session_state.get("lang", "zh"))
    st.set_page_config(page_title=t("app_title", lang_default), page_icon="🗺️", layout="wide")
    lang, uploads, coord_system, settings, basemap = sidebar(lang_default)
    if lang == "zh":  # Streamlit's uploader speaks English: its words, in Chinese
        st.html(UPLOADER_ZH_CSS)
    st.title(t("app_title", lang))
    st.caption(t("app_subtitle", lang))
    if not settings.categories:
        st.warning(t("no_categories", lang))
        st.stop()

    loaded, input_key = read_uploads(uploads, coord_system, lang)
    state = st.session_state
    reset_for_inputs(state, input_key)
    if loaded.likely_system is not None:
        st.warning(t("coord_hint", lang, system=t(f"coord_{loaded.likely_system}", lang)))
    replaced = facilities_message(loaded, lang)
    if replaced:
        st.info(replaced)
    take_pending_click(state)
    with st.spinner(t("suggesting", lang)):
        run_suggestion(state, loaded, settings, lang)
    proposals = tuple(st.session_state.get("proposals", []))

    with st.spinner(t("analysing", lang)):
        base = guarded(lambda: analysis(loaded, input_key, settings, ()), lang, clean=loaded.clean)
        result = (
            guarded(
                lambda: analysis(loaded, input_key, settings, proposals, base),
                lang,
                clean=loaded.clean,
            )
            if proposals
            else base
        )

    headline(result, base, settings, lang, changed=bool(proposals), network=loaded.network_label)

    rules = {rule.id: rule for rule in result.standard.rules}
    rule_ids = [str(r) for r in result.rules["id"]]
    default = default_rule(result)
    map_column, whatif_column = st.columns([3, 1])
    with map_column:
        rule = (
            choice(
                st.selectbox,
                "map_rule",
                t("map_rule", lang),
                rule_ids,
                lang,
                default=default,
                format_func=lambda r: name_of(rules[r], lang),
            )
            if rule_ids
            else None
        )
        frame = proposals_frame(proposals) if proposals else None

        def make_map() -> folium.Map:
            with collect():
                return analysis_map(result, lang=lang, basemap=basemap, rule=rule, proposals=frame)

        if input_key[0] == "default" and not proposals:  # rendered once for every session
            payload = guarded(
                lambda: default_map(str(input_key[1]), settings, lang, basemap, rule),
                lang,
                "error_map",
            )
        else:
            payload = guarded(lambda: map_payload(make_map()), lang, "error_map")
        show_map(payload, map_center(proposals, basemap))
    with whatif_column:
        whatif_panel(settings, lang)

    st.subheader(t("shortfall_header", lang))
    only_failing = st.toggle(t("only_failing", lang), value=True, key="only_failing")
    table = shortfall_table(result, lang, only_failing=only_failing)
    if table.empty:
        st.success(t("shortfall_none", lang))
    else:
        st.dataframe(table, hide_index=True, width="stretch")

    downloads(
        files.page_downloads(
            result,
            base,
            settings,
            uploads,
            lang,
            map_bytes=lambda: map_html(make_map()),
            sitings=lambda: files.proposal_sitings(
                loaded.inputs, loaded.network_label, settings, proposals
            ),
        ),
        (input_key, settings, proposals, lang, basemap, rule),
        lang,
    )

    notes = page_notes(result, lang)
    if notes:
        with st.expander(t("notes_header", lang, n=len(notes))):
            st.caption(t("notes_hint", lang))
            for note in notes:
                st.text(loaded.clean(note))


if __name__ == "__main__":  # `streamlit run app.py` and AppTest; a plain import defines only
    try:
        main()
    except RadiusError as exc:  # every pipeline call is guarded; this is the backstop
        st.error(t("error_input", str(st.session_state.get("lang", "zh")), message=str(exc)))
    except Exception:
        LOG.exception("unexpected error in the radius app")
        st.error(t("error_unexpected", str(st.session_state.get("lang", "zh"))))
