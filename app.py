"""radius in the browser: ``streamlit run app.py``.

The page only (see ``STYLE.md``): layout, widgets and Streamlit caching. What it computes
lives in :mod:`radius`: what the page shows (its choices, figures, messages) in
:mod:`radius.app_view`, uploads and their limits in :mod:`radius.app_inputs` and
:mod:`radius.bounded`, what a click or button does to the session (what-ifs, suggestions,
messages; its keys are documented there) in :mod:`radius.app_state`, what-if analyses in
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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import folium
import pandas as pd
import streamlit as st  # noqa: TID251 (app.py is where Streamlit belongs)
import streamlit.components.v1 as components  # noqa: TID251 (app.py is where Streamlit belongs)
import streamlit_folium
from streamlit.runtime import Runtime  # noqa: TID251
from streamlit.runtime.scriptrunner import get_script_run_ctx  # noqa: TID251

from radius import app_state as session
from radius import app_view as view
from radius import downloads as files
from radius._errors import RadiusError
from radius._warnings import collect
from radius.app_inputs import ROLES, Loaded, Upload, load_inputs, received, upload_types
from radius.app_state import map_center, map_clicked
from radius.bounded import start_service
from radius.i18n import LANGUAGES, Language, t
from radius.map_assets import (
    MapPayload,
    asset_dirs,
    map_html,
    rendered_map,
    served_assets,
    use_local_assets,
)
from radius.maps import analysis_map, uncovered_layers
from radius.pipeline import AnalysisResult
from radius.whatif import Proposal, Settings, proposals_frame, shortfall_table, whatif_analysis

LOG = logging.getLogger("radius.app")
T = TypeVar("T")
MAP_HEIGHT = 560
QUIET_PLACEHOLDERS = """<style>
[data-testid="stSkeleton"] {animation: none !important;}
</style>"""
"""Streamlit's placeholders (the map's frame, 560 px high, until the map has loaded, and
every widget of the sidebar until its code has loaded) pulse at every frame; without a GPU
(a server's headless Chromium) each frame is drawn in software. Still grey boxes cost
nothing (bench/README.md, the app's section); the style is the page's first element, so
they are still from the start."""


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


standard_names = st.cache_resource(show_spinner=False)(view.standard_names)


@st.cache_resource(max_entries=32, show_spinner=False)
def default_headline(path: str, settings: Settings, lang: Language, network: str) -> view.Headline:
    """The default district's headline without what-ifs, built once and shared read-only
    (with the shortfall table, most of the server's work of every new page)."""
    result = default_analysis(path, settings)
    return view.headline(result, result, settings, lang, changed=False, network=network)


@st.cache_resource(max_entries=32, show_spinner=False)
def default_shortfall(
    path: str, settings: Settings, lang: Language, only_failing: bool
) -> pd.DataFrame:
    """The default district's shortfall table without what-ifs, shared read-only."""
    return shortfall_table(default_analysis(path, settings), lang, only_failing=only_failing)


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
    path: str,
    settings: Settings,
    lang: Language,
    basemap: str,
    rule: str | None,
    uncovered: tuple[tuple[str, str], ...],
) -> MapPayload:
    """The default district's map without what-if facilities, rendered once and shared."""
    result = default_analysis(path, settings)
    with collect():
        fmap = analysis_map(result, lang=lang, basemap=basemap, rule=rule, uncovered=uncovered)
        return map_payload(fmap)


def uncovered_picker(
    result: AnalysisResult, rule: str | None, lang: Language
) -> tuple[tuple[str, str], ...]:
    """The layers of uncovered residents the user adds to the map (the rule's is always on).

    The map sends the browser only the layers asked for: on the default district the 16
    others were three quarters of the map's bytes and of its work in every new page.
    """
    labels = uncovered_layers(result, lang=lang)
    rules = result.rules[result.rules["id"].astype(str) == rule]
    own = {(str(r["category"]), str(r["threshold"])) for _, r in rules.iterrows()}
    options = [pair for pair in labels if pair not in own]
    if not options:
        return ()
    kept = [pair for pair in st.session_state.get("map_uncovered", []) if pair in options]
    chosen = st.multiselect(
        t("map_uncovered", lang),
        options,
        default=kept,
        format_func=labels.__getitem__,
        key=f"map_uncovered.{lang}",  # one widget per language, as view.Choice does
        placeholder=t("map_uncovered_placeholder", lang),
        help=t("map_uncovered_help", lang),
    )
    st.session_state["map_uncovered"] = chosen
    return tuple(chosen)


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


def keep(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` kept in this session's cache under ``key`` (bounded by bytes)."""
    return session.session_cache(st.session_state).get(key, compute)


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
        return session.session_watch(session_active())
    placeholder = st.empty()
    shown = session.seconds_ticker(
        lambda seconds: placeholder.caption(t("reading_seconds", lang, seconds=seconds))
    )
    return session.session_watch(session_active(), shown)


def say(messages: Sequence[view.Said]) -> None:
    """Show each message as its kind says (``st.success``, ``st.info``, ...)."""
    for kind, text in messages:
        getattr(st, kind)(text)


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
        st.error(session.error_text(exc, lang, key, clean))
        st.stop()


def attempted(step: Callable[[], T], lang: str, key: str) -> T | None:
    """Run a step the rest of the page does not need (the map); if it fails, show a
    translated message where it would have been and go on without it (None)."""
    try:
        return step()
    except Exception as exc:
        if not isinstance(exc, RadiusError):
            LOG.exception("unexpected error in the radius app")
        st.error(session.error_text(exc, lang, key))
        return None


# --------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------


def choice(option: view.Choice, lang: str, values: dict[str, Any] | None = None) -> Any:
    """Draw a :class:`~radius.app_view.Choice` (its widget of ``lang``) and keep its value,
    also in ``values`` (the choices made before it on the page: one may disable it)."""
    widget: dict[str, Callable[..., Any]] = {
        "radio": st.radio,
        "selectbox": st.selectbox,
        "multiselect": st.multiselect,
    }
    args = option.widget_args(st.session_state, lang, values or {})
    value = widget[option.kind](option.label, option.options, **args)
    st.session_state[option.name] = value
    if values is not None:
        values[option.name] = value
    return value


def sidebar(lang_default: str) -> tuple[Language, list[Upload], str, Settings, str, Any]:
    """The sidebar: language, data, settings. Returns what the page needs, and the place
    below the uploaders for what the page says about the uploads."""
    with st.sidebar:
        chosen = st.radio(
            t("language", lang_default),
            LANGUAGES,
            format_func=view.LANGUAGE_NAMES.__getitem__,
            key="lang",
            horizontal=True,
        )
        lang: Language = "en" if chosen == "en" else "zh"
        st.header(t("data_header", lang))
        st.caption(t("data_hint", lang))
        uploads: list[Upload] = []
        digests: dict[str, str] = st.session_state.setdefault("upload_digests", {})
        coord_system = "wgs84"
        for role in ROLES:
            uploaded = st.file_uploader(
                t(f"upload_{role}", lang),
                type=upload_types(role),
                key=f"upload_{role}",
                help=t(f"upload_{role}_help", lang),
            )
            if uploaded is not None:
                uploads.append(received(role, uploaded, digests))
            if role == "facilities":
                st.toggle(
                    t("replace_all_facilities", lang),
                    value=False,
                    key="replace_all",
                    help=t("replace_all_help", lang),
                )
                coord_system = choice(view.coord_system_choice(lang), lang)
        upload_slot = st.container()  # a failing upload says why here, where it was made

        st.header(t("settings_header", lang))
        values: dict[str, Any] = {}
        for option in view.setting_choices(lang, standard_names()):
            choice(option, lang, values)
        st.caption(t("attribution", lang))
    settings = view.settings_from(values)
    return lang, uploads, str(coord_system), settings, str(values["basemap"]), upload_slot


def headline(shown: view.Headline, lang: str) -> None:
    """The headline figures (st.metric) and, beside them, where the residents come from,
    whether they are plausible, and the share of units meeting each rule."""
    st.subheader(t("headline_header", lang), help=shown.help)  # one help for every figure
    for row in shown.rows:
        for column, figure in zip(st.columns(view.TILES_PER_ROW), row, strict=False):
            column.metric(
                figure.label,
                figure.value,
                delta=figure.delta,
                delta_color=figure.delta_color,
                delta_arrow=figure.delta_arrow,
            )
    st.caption(shown.caption)
    for warning in shown.warnings:
        st.warning(warning)
    if shown.attainment:
        with st.expander(t("attainment_title", lang)):
            st.markdown(shown.attainment)


def whatif_panel(settings: Settings, lang: str) -> None:
    """Category and capacity for the next click, and the list of proposals."""
    state = st.session_state
    st.subheader(t("whatif_header", lang))
    st.caption(t("whatif_hint", lang))
    st.toggle(t("whatif_place", lang), value=True, key="whatif_place")
    category_id = choice(view.whatif_category_choice(settings, lang), lang)
    st.text_input(
        t("whatif_name", lang), key="whatif_name", placeholder=t("whatif_name_hint", lang)
    )
    for field in view.capacity_inputs(category_id, lang):
        st.number_input(field.label, min_value=0.0, value=field.default, step=10.0, key=field.key)
    st.number_input(
        t("suggest_count", lang),
        min_value=1,
        max_value=session.MAX_SUGGESTIONS,
        value=session.DEFAULT_SUGGESTIONS,
        step=1,
        key="suggest_count",
    )
    st.button(
        t("suggest_button", lang),
        key="suggest",
        on_click=session.request_suggestion,
        args=(state,),
        help=t("suggest_help", lang),
        icon=":material/add_location_alt:",
    )
    say(view.panel_messages(state, lang))
    proposals: list[Proposal] = state.get("proposals", [])
    if not proposals:
        st.caption(t("whatif_none", lang))
        return
    st.markdown(t("whatif_list", lang, n=len(proposals)))
    for proposal, line in zip(proposals, session.proposal_lines(proposals, lang), strict=True):
        st.markdown(line)
        st.button(
            t("remove", lang),
            key=f"remove_{proposal.pid}",
            on_click=session.remove_proposal,
            args=(state, proposal.pid),
            icon=":material/delete:",
            type="tertiary",
        )
    st.button(
        t("remove_all", lang),
        key="remove_all",
        on_click=session.remove_all_proposals,
        args=(state,),
    )


def downloads(items: Sequence[files.Download], key: Hashable, lang: str) -> None:
    """One column per download: "prepare" builds the file, then it can be downloaded.

    The bytes are built when asked for, in this run, so a failure shows a message in the
    download's own column (in the user's language) and the rest of the page goes on.
    ``key`` names what the files are made from; prepared files of another key are dropped.
    """
    st.subheader(t("downloads_header", lang))
    state = st.session_state
    prepared = view.kept_downloads(state.get("downloads"), key)
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
    uploads: list[Upload], coord_system: str, lang: str, slot: Any
) -> tuple[Loaded, tuple[Any, ...]]:
    """The inputs (:func:`radius.app_state.inputs_for`): the shared default district, or
    this session's uploads read with limits and kept in its cache. A failing upload shows
    its message in ``slot``, the sidebar below the uploaders (not at the sidebar's end,
    out of sight below the settings); the page goes on with the default."""

    def read(key: Hashable, load: Callable[[Callable[[], bool]], Loaded]) -> Loaded:
        with st.spinner(t("loading", lang)):
            return keep(key, lambda: load(watch(lang)))

    replace_all = bool(st.session_state.get("replace_all", False))
    loaded, key, error = session.inputs_for(
        uploads,
        coord_system,
        replace_all,
        lang,
        shared=default_inputs,
        read=read,
        failed=st.session_state.setdefault("upload_failed", {}),
    )
    if error:
        slot.error(error)
    return loaded, key


def main() -> None:
    """Build the page."""
    service()
    lang_default = str(st.session_state.get("lang", "zh"))
    st.set_page_config(page_title=t("app_title", lang_default), page_icon="🗺️", layout="wide")
    st.html(QUIET_PLACEHOLDERS)  # style only: takes no room on the page
    lang, uploads, coord_system, settings, basemap, upload_slot = sidebar(lang_default)
    css = view.uploader_css(lang)  # Streamlit's uploader speaks English: its words, in Chinese
    if css:
        st.html(css)
    st.title(t("app_title", lang))
    st.caption(t("app_subtitle", lang))
    if not settings.categories:
        st.warning(t("no_categories", lang))
        st.stop()

    loaded, input_key = read_uploads(uploads, coord_system, lang, upload_slot)
    state = st.session_state
    session.reset_for_inputs(state, input_key)
    session.follow_language(state, lang)
    say(view.input_messages(loaded, lang))
    session.take_pending_click(state)
    with st.spinner(t("suggesting", lang)):
        session.run_suggestion(state, loaded, settings, lang)
    proposals = tuple(state.get("proposals", []))

    def analysis(added: tuple[Proposal, ...], base: AnalysisResult | None) -> AnalysisResult:
        return session.analysis_for(
            loaded,
            input_key,
            settings,
            added,
            base,
            shared=default_analysis,
            keep=keep,
            watch=lambda: watch(None),
        )

    def analysed(added: tuple[Proposal, ...], base: AnalysisResult | None) -> AnalysisResult:
        if input_key[0] == "upload" and not added:
            # Uploads that cannot be analysed fail as a bad file does: the page runs again
            # on the default district and says why below the uploaders.
            try:
                return analysis(added, base)
            except Exception as exc:
                failed = st.session_state.setdefault("upload_failed", {})
                if session.analysis_failed(failed, input_key, exc):
                    st.rerun()
                st.error(session.error_text(exc, lang, clean=loaded.clean))  # cancelled
                st.stop()
        return guarded(lambda: analysis(added, base), lang, clean=loaded.clean)

    with st.spinner(t("analysing", lang)):
        base = analysed((), None)
        result = analysed(proposals, base) if proposals else base

    network = loaded.network_label
    shared = input_key[0] == "default" and not proposals  # the page every new session sees
    path = str(input_key[1])
    headline(
        default_headline(path, settings, lang, network)
        if shared
        else view.headline(result, base, settings, lang, changed=bool(proposals), network=network),
        lang,
    )

    rule_option = view.rule_choice(result, lang)
    map_column, whatif_column = st.columns([3, 1])
    with map_column:
        rule = choice(rule_option, lang) if rule_option else None
        frame = proposals_frame(proposals) if proposals else None
        map_slot = st.container()  # the map above its layer picker, drawn once it is known
        uncovered = uncovered_picker(result, rule, lang)

        def make_map(layers: tuple[tuple[str, str], ...] | None = uncovered) -> folium.Map:
            with collect():
                return analysis_map(
                    result,
                    lang=lang,
                    basemap=basemap,
                    rule=rule,
                    proposals=frame,
                    uncovered=layers,
                )

        with map_slot:  # a map that fails says so here; the panel, table and downloads go on
            if shared:  # rendered once for every session
                payload = attempted(
                    lambda: default_map(path, settings, lang, basemap, rule, uncovered),
                    lang,
                    "error_map",
                )
            else:
                payload = attempted(lambda: map_payload(make_map()), lang, "error_map")
            if payload is not None:
                show_map(payload, map_center(proposals, basemap))
    with whatif_column:
        whatif_panel(settings, lang)

    st.subheader(t("shortfall_header", lang))
    only_failing = st.toggle(t("only_failing", lang), value=True, key="only_failing")
    table = (
        default_shortfall(path, settings, lang, only_failing)
        if shared
        else shortfall_table(result, lang, only_failing=only_failing)
    )
    if table.empty:
        st.success(t("shortfall_none", lang))
    else:
        st.html(view.table_html(table, lang))

    downloads(
        files.page_downloads(
            result,
            base,
            settings,
            uploads,
            lang,
            map_bytes=lambda: map_html(make_map(None)),  # the file: every layer
            sitings=lambda: files.proposal_sitings(
                loaded.inputs, loaded.network_label, settings, proposals
            ),
        ),
        (input_key, settings, proposals, lang, basemap, rule),
        lang,
    )

    notes = view.notes(result, lang, loaded.clean)
    if notes:
        with st.expander(t("notes_header", lang, n=len(notes))):
            st.caption(t("notes_hint", lang))
            st.text("\n\n".join(notes))  # one element, not one per note


if __name__ == "__main__":  # `streamlit run app.py` and AppTest; a plain import defines only
    try:
        main()
    except Exception as exc:  # every pipeline call is guarded; this is the backstop
        if not isinstance(exc, RadiusError):
            LOG.exception("unexpected error in the radius app")
        st.error(session.error_text(exc, str(st.session_state.get("lang", "zh"))))
