"""radius in the browser: ``streamlit run app.py``.

Thin by design (see ``STYLE.md``): this page collects inputs, calls :mod:`radius.pipeline`,
and shows the results. Every label goes through :func:`radius.i18n.t`; uploads go through
:mod:`radius.uploads`; the map comes from :func:`radius.maps.analysis_map`. Streamlit
caching lives here and only here.

Session state
-------------
``lang``
    ``"zh"`` (default) or ``"en"``, set by the language switch.
``proposals``
    The what-if facilities (a list of :class:`Proposal`), added by clicking the map or by
    the siting suggestion.
``suggest_request``
    A click of "suggest sites" not handled yet: ``(category id, count)``.
``pending_click``
    A map click (``{"lat": ..., "lng": ...}``) not handled yet. A click on the map goes
    through exactly this path (see :func:`on_map_change`); tests and scripts may set it too.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import math
import re
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple, NoReturn, TypeVar

import branca.colormap
import branca.utilities
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import streamlit as st  # noqa: TID251 (app.py is where Streamlit belongs)
import streamlit.components.v1 as components  # noqa: TID251 (app.py is where Streamlit belongs)
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from streamlit_folium import st_folium

from radius._errors import RadiusError
from radius._io import gpkg_writer, write_outputs, xlsx_writer
from radius.config import Category, load_categories, load_speed_profiles
from radius.coords import convert_frame, from_wgs84, offset_signature, to_wgs84
from radius.facilities import CAPACITY_COLUMNS, empty_facilities
from radius.i18n import LANGUAGES, Language, name_of, t
from radius.maps import analysis_map, available_basemaps, basemap_notes, default_rule
from radius.pipeline import (
    AnalysisInputs,
    AnalysisResult,
    AnalyzeConfig,
    ReachConfig,
    analyze,
    append_facilities,
    load_analysis_inputs,
)
from radius.report import provision_sheets
from radius.sample import default_network_path
from radius.standards import list_standards, load_standard
from radius.uploads import (
    DEFAULT_MAX_BYTES,
    UPLOAD_SUFFIXES,
    check_point_table,
    private_dir,
    save_upload,
)

LOG = logging.getLogger("radius.app")
T = TypeVar("T")

ROLES = ("network", "facilities", "residents", "districts")
COORD_SYSTEMS = ("wgs84", "gcj02", "bd09", "cgcs2000")
AREA_TYPES: tuple[str | None, ...] = (None, "new", "old")
METHODS = ("2sfca", "inside")
BASES = ("time", "distance")
MAX_UPLOAD_BYTES = DEFAULT_MAX_BYTES
DEFAULT_CAPACITY = {"floor_area_m2": 1000.0, "land_area_m2": 2000.0, "beds": 50.0, "places": 60.0}
DEFAULT_SUGGESTIONS = 2
MAX_SUGGESTIONS = 20
MAP_HEIGHT = 560
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


# --------------------------------------------------------------------------------------
# Plain data: uploads, settings, proposals
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its role, name, content and the content's SHA-256."""

    role: str
    name: str
    digest: str
    data: bytes = field(repr=False, compare=False)


class Settings(NamedTuple):
    """The analysis parameters chosen in the sidebar (hashable: a cache key)."""

    categories: tuple[str, ...]
    threshold_basis: str
    speed_profile: str
    standard: str
    area_type: str | None
    method: str


class Proposal(NamedTuple):
    """A what-if facility placed on the map."""

    pid: int
    category: str
    lon: float
    lat: float
    name: str
    capacity: tuple[tuple[str, float], ...]


@dataclass(frozen=True, eq=False)
class Loaded:
    """What was read: the inputs, where they came from, and a coordinate-system hint.

    ``names`` maps the temporary path of each upload to the name the user gave it, so
    that messages never show the server's folders (see :meth:`clean`).
    """

    inputs: AnalysisInputs
    network_label: str
    likely_system: str | None = None
    names: tuple[tuple[str, str], ...] = ()

    def clean(self, text: str) -> str:
        """``text`` with every temporary upload path replaced by the uploaded file's name."""
        return replace_paths(text, self.names)


def replace_paths(text: str, names: Sequence[tuple[str, str]]) -> str:
    """Replace each ``path`` of ``names`` (longest first) by its ``name`` in ``text``."""
    for path, name in sorted(names, key=lambda item: -len(item[0])):
        text = text.replace(path, name)
    return text


# --------------------------------------------------------------------------------------
# Pure helpers (no Streamlit): tested directly as well as through the page
# --------------------------------------------------------------------------------------


def analyze_config(settings: Settings, network: Path) -> AnalyzeConfig:
    """The pipeline configuration of the sidebar settings (file paths are not read again)."""
    return AnalyzeConfig(
        reach=ReachConfig(
            network=network,
            categories=settings.categories,
            speed_profile=settings.speed_profile,
            threshold_basis="distance" if settings.threshold_basis == "distance" else "time",
            service_areas=False,
        ),
        standard=settings.standard,
        area_type="new" if settings.area_type == "new" else "old" if settings.area_type else None,
        method="inside" if settings.method == "inside" else "2sfca",
    )


def report_config(settings: Settings, uploads: Sequence[Upload]) -> AnalyzeConfig:
    """The settings and the inputs by name, for the report's data-sources table.

    Uploads are named as uploaded (the server's temporary copies are gone by then);
    inputs not uploaded are the sample's.
    """
    named = {u.role: Path(u.name) for u in uploads}
    config = analyze_config(settings, named.get("network", default_network_path()))
    return replace(
        config,
        reach=replace(config.reach, facilities=named.get("facilities")),
        population=(named["residents"],) if "residents" in named else (),
        districts=named.get("districts"),
    )


def report_pdf_bytes(
    result: AnalysisResult, settings: Settings, uploads: Sequence[Upload], lang: str
) -> bytes:
    """The analysis as the consultant report's PDF (:mod:`radius.report_document`)."""
    # Imported on first use: matplotlib and WeasyPrint would slow every start of the app.
    from radius.report_document import build_report, render_html, render_pdf

    config = report_config(settings, uploads)
    with quiet():
        document = build_report(result, config=config, lang="en" if lang == "en" else "zh")
        return render_pdf(render_html(document))


def suggest_sites(
    loaded: Loaded,
    settings: Settings,
    proposals: Sequence[Proposal],
    *,
    category: str,
    count: int,
    capacity: tuple[tuple[str, float], ...],
    first_pid: int,
    name: Callable[[int], str],
) -> tuple[list[Proposal], dict[str, Any]]:
    """New sites for a category by maximal covering (:mod:`radius.siting`), as proposals.

    The what-if facilities already placed count as built, so the suggestions go where they
    still leave residents unserved. The threshold is the one of the standard's coverage
    rule for the category.

    Returns
    -------
    list of Proposal
        One per chosen site, numbered from ``first_pid`` and named ``name(pid)``.
    dict
        The siting summary (coverage before and after, residents gained, solver).
    """
    # Imported on first use: the MILP solver would slow every start of the app.
    from radius.siting import site_facilities

    inputs = loaded.inputs
    if proposals:
        placed = append_facilities(inputs.facilities, proposals_frame(proposals))
        inputs = replace(inputs, facilities=placed)
    config = analyze_config(settings, Path(loaded.network_label))
    with quiet():
        siting = site_facilities(inputs, config, category=category, count=count)
    pids = range(first_pid, first_pid + len(siting.sites))
    added = [
        Proposal(pid, category, float(point.x), float(point.y), name(pid), capacity)
        for pid, point in zip(pids, siting.sites.geometry, strict=True)
    ]
    return added, siting.summary


def load_inputs(uploads: Sequence[Upload], coord_system: str = "wgs84") -> Loaded:
    """Check and save the uploads in a private folder, read everything, remove the folder.

    Parameters
    ----------
    uploads : sequence of Upload
        At most one per role; a role without upload uses the default district's data.
    coord_system : {"wgs84", "gcj02", "bd09", "cgcs2000"}
        The system of the uploaded facilities' coordinates; converted to WGS-84.

    Raises
    ------
    RadiusError
        For any bad upload or input, with the file named.
    """
    folder = private_dir()
    names: list[tuple[str, str]] = []
    try:
        return _load(uploads, coord_system, folder, names)
    except RadiusError as exc:
        # The same kind of error, naming the uploaded file instead of its temporary copy.
        raise type(exc)(replace_paths(str(exc), names)) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _load(
    uploads: Sequence[Upload], coord_system: str, folder: Path, names: list[tuple[str, str]]
) -> Loaded:
    """The body of :func:`load_inputs`; fills ``names`` as the uploads are saved."""
    paths: dict[str, Path] = {}
    for upload in uploads:
        path = save_upload(
            upload.name,
            upload.data,
            max_bytes=MAX_UPLOAD_BYTES,
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
        if coord_system != "wgs84":
            inputs = replace(
                inputs, facilities=facilities_to_wgs84(inputs.facilities, coord_system)
            )
        else:
            signature = offset_signature(
                inputs.facilities, inputs.network.edges.to_crs("EPSG:4326")
            )
            if signature["likely_system"] in ("gcj02", "bd09"):
                likely = str(signature["likely_system"])
    label = next((u.name for u in uploads if u.role == "network"), network.name)
    inputs = replace(inputs, notes=[replace_paths(note, names) for note in inputs.notes])
    return Loaded(inputs=inputs, network_label=label, likely_system=likely, names=tuple(names))


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


def proposals_frame(proposals: Sequence[Proposal]) -> gpd.GeoDataFrame:
    """Proposed facilities in the :mod:`radius.facilities` layout (``source == "proposed"``)."""
    if not proposals:
        return empty_facilities()
    capacities = {column: [math.nan] * len(proposals) for column in CAPACITY_COLUMNS}
    for row, proposal in enumerate(proposals):
        for column, value in proposal.capacity:
            capacities[column][row] = float(value)
    entrances = np.empty(len(proposals), dtype=object)
    data: dict[str, Any] = {
        "facility_id": [f"{p.category}:proposed/{p.pid}" for p in proposals],
        "name": [p.name for p in proposals],
        "category": [p.category for p in proposals],
        "source": ["proposed"] * len(proposals),
        **{column: pd.Series(values, dtype="float64") for column, values in capacities.items()},
        "entrances": pd.Series(entrances, dtype=object),
    }
    frame = pd.DataFrame(data).astype(
        {"facility_id": "str", "name": "str", "category": "str", "source": "str"}
    )
    geometry = gpd.GeoSeries(
        shapely.points([p.lon for p in proposals], [p.lat for p in proposals]), crs="EPSG:4326"
    )
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")


def coverage(result: AnalysisResult) -> dict[tuple[str, str], float]:
    """Share of residents (0–1) within each category's thresholds, by (category, label)."""
    shares = result.summary()["share_of_residents_within"]
    return {
        (cid, label): float(v) for cid, by_label in shares.items() for label, v in by_label.items()
    }


def failing_districts(result: AnalysisResult) -> int:
    """Number of districts with residents that miss at least one rule."""
    districts = result.districts
    if len(result.rules) == 0 or len(districts) == 0:
        return 0
    passes = np.column_stack(
        [districts[f"{rid}_pass"].to_numpy(dtype=bool) for rid in result.rules["id"]]
    )
    inhabited = districts["population"].to_numpy(dtype=float) > 0
    return int((~passes.all(axis=1) & inhabited).sum())


def threshold_label(category: Category, label: str, basis: str, lang: str) -> str:
    """A threshold as people read it: ``"5 分钟"`` / ``"5 min"``, or ``"300 米"`` / ``"300 m"``."""
    for threshold in category.thresholds:
        if threshold.label == label:
            if basis == "distance":
                return t("within_metres", lang, metres=threshold.metres)
            return t("within_minutes", lang, minutes=threshold.minutes)
    return label


def shortfall_table(result: AnalysisResult, lang: str, *, only_failing: bool) -> pd.DataFrame:
    """District × rule table of required, supplied and shortfall, labelled in ``lang``."""
    districts = result.districts
    standard_rules = {rule.id: rule for rule in result.standard.rules}
    frames = []
    for rule in result.rules.itertuples():
        rid = str(rule.id)
        passed = districts[f"{rid}_pass"].to_numpy(dtype=bool)
        frames.append(
            pd.DataFrame(
                {
                    "district": districts["district_id"].astype(str).to_numpy(),
                    "name": districts["name"].fillna("").astype(str).to_numpy(),
                    "rule": name_of(standard_rules[rid], lang),
                    "area_type": districts["area_type"].map(
                        {"new": t("area_new", lang), "old": t("area_old", lang)}
                    ),
                    "residents": districts["population"].to_numpy(dtype=float).round(0),
                    "required": districts[f"{rid}_required"].to_numpy(dtype=float).round(1),
                    "supplied": districts[f"{rid}_supplied"].to_numpy(dtype=float).round(1),
                    "shortfall": districts[f"{rid}_shortfall"].to_numpy(dtype=float).round(1),
                    "unit": t(f"unit_{rule.supply}", lang),
                    "pass": np.where(passed, t("pass_yes", lang), t("pass_no", lang)),
                    "_passed": passed,
                }
            )
        )
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    if only_failing:
        table = table[~table["_passed"]]
    table = table.sort_values("shortfall", ascending=False, kind="stable").drop(columns="_passed")
    if not table["name"].str.strip().any():
        table = table.drop(columns="name")
    return table.rename(columns=lambda c: t(f"col_{c}", lang)).reset_index(drop=True)


def gpkg_bytes(result: AnalysisResult) -> bytes:
    """The result layers as one GeoPackage (what ``radius analyze`` writes)."""
    facilities = result.reach.facilities.copy()
    facilities["entrances"] = [
        e.wkt if e is not None and not e.is_empty else "" for e in facilities["entrances"]
    ]
    layers = {
        "residents": result.residents,
        "districts": result.districts,
        "facilities": facilities,
        "shortfall": result.shortfall,
        "unroutable": result.reach.unroutable,
    }
    return _written("results.gpkg", gpkg_writer(layers))


def xlsx_bytes(result: AnalysisResult) -> bytes:
    """The provision workbook (bilingual sheets of :func:`radius.report.provision_sheets`)."""
    return _written("provision.xlsx", xlsx_writer(provision_sheets(result)))


def _written(name: str, writer: Callable[[Path], None]) -> bytes:
    folder = Path(tempfile.mkdtemp(prefix="radius-download-"))
    try:
        with quiet():
            (path,) = write_outputs(folder, {name: writer})
        return path.read_bytes()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Map scripts from the installed packages, not from CDNs: the map works offline, on an
# intranet, and where the CDNs folium uses are slow or blocked (as they often are in China)
# --------------------------------------------------------------------------------------

# The local assets come from the XStatic-* packages (pure data, from PyPI). Folium's other
# CDN assets are left out: Bootstrap and Font Awesome (not used by these maps) and
# Leaflet.awesome-markers (replaced by a shim). No bare strings at module level here:
# Streamlit's "magic" would print them on the page.
ASSET_PACKAGES = {
    "leaflet": "xstatic.pkg.leaflet",
    "jquery": "xstatic.pkg.jquery",
    "d3": "xstatic.pkg.d3",
}
ASSET_FILES = {
    "leaflet": ("leaflet", "leaflet.js"),
    "leaflet_css": ("leaflet", "leaflet.css"),
    "jquery": ("jquery", "jquery.min.js"),
    "d3": ("d3", "d3.js"),
}
_DROPPED = (
    "bootstrap",
    "bootstrap_css",
    "glyphicons_css",
    "awesome_markers_font_css",
    "awesome_markers_css",
    "awesome_rotate_css",
)
_AWESOME_MARKERS_SHIM = """
L.AwesomeMarkers = L.AwesomeMarkers || {icon: function (o) {
  var c = (o && o.markerColor) || 'blue';
  return L.divIcon({className: '', iconSize: [16, 16], iconAnchor: [8, 8],
    html: '<div style="width:16px;height:16px;border-radius:50%;border:2px solid #fff;'
      + 'box-shadow:0 0 2px #333;background:' + c + '"></div>'});
}};
"""


def _data_uri(mime: str, content: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(content).decode('ascii')}"


@functools.cache
def asset_dirs() -> dict[str, Path]:
    """Folder of each installed asset package; empty when one is missing (CDNs are used)."""
    import importlib

    dirs = {}
    for key, module in ASSET_PACKAGES.items():
        try:
            dirs[key] = Path(importlib.import_module(module).BASE_DIR)
        except ImportError:
            return {}
    return dirs


def served_assets() -> dict[str, str | None]:
    """Asset URLs served by this Streamlit server, relative to the map's frame.

    Each package folder is declared as a (never rendered) Streamlit component, so the
    server hands out its files at ``component/<name>/<file>``; the map's frame lives at
    ``component/streamlit_folium.st_folium/``, so ``../<name>/<file>`` reaches them under
    any ``server.baseUrlPath``.
    """
    dirs = asset_dirs()
    if not dirs:
        return {}
    names = {
        package: components.declare_component(f"radius_{package}", path=str(folder)).name
        for package, folder in dirs.items()
    }
    urls: dict[str, str | None] = {
        asset: f"../{names[package]}/{file}" for asset, (package, file) in ASSET_FILES.items()
    }
    urls["awesome_markers"] = _data_uri("text/javascript", _AWESOME_MARKERS_SHIM.encode())
    return urls | dict.fromkeys(_DROPPED)


@functools.cache
def inline_assets() -> dict[str, str | None]:
    """The assets as data URIs, for a self-contained HTML file (Leaflet's images inlined)."""
    dirs = asset_dirs()
    if not dirs:
        return {}
    urls: dict[str, str | None] = {}
    for asset, (package, file) in ASSET_FILES.items():
        path = dirs[package] / file
        if file.endswith(".css"):
            css = path.read_text(encoding="utf-8")

            def inline(match: re.Match[str], folder: Path = path.parent) -> str:
                image = folder / match.group(1)
                return f"url({_data_uri('image/png', image.read_bytes())})"

            css = re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css)
            urls[asset] = _data_uri("text/css", css.encode("utf-8"))
        else:
            urls[asset] = _data_uri("text/javascript", path.read_bytes())
    urls["awesome_markers"] = _data_uri("text/javascript", _AWESOME_MARKERS_SHIM.encode())
    return urls | dict.fromkeys(_DROPPED)


class ColorScale(JSCSSMixin, MacroElement):
    """A branca colour-scale legend whose d3 script comes from ``d3_url``.

    streamlit-folium adds CDN links for d3 whenever a map holds a
    :class:`branca.colormap.ColorMap`; this element draws the same legend with the same
    template, without being one.
    """

    def __init__(self, colormap: branca.colormap.ColorMap, d3_url: str) -> None:
        super().__init__()
        self._name = "ColorMap"
        self._id = colormap._id
        self._template = colormap._template
        self.default_js = [("d3", d3_url)]
        self.caption = colormap.caption
        self.text_color = colormap.text_color
        self.width = colormap.width
        self.height = colormap.height
        self.fill_color = getattr(colormap, "fill_color", None)
        vmin, vmax = float(colormap.vmin), float(colormap.vmax)
        self.color_domain = [vmin + (vmax - vmin) * k / 499.0 for k in range(500)]
        self.color_range = [colormap(x) for x in self.color_domain]
        index = [float(i) for i in colormap.index]
        self.tick_labels = (
            colormap.tick_labels
            if colormap.tick_labels is not None
            else branca.utilities.legend_scaler(index, colormap.max_labels)
        )


def use_local_assets(fmap: folium.Map, assets: dict[str, str | None]) -> folium.Map:
    """Point the map's scripts and styles at ``assets`` (in place); no-op when empty.

    Assets mapped to None are left out; assets not in the mapping keep their CDN link.
    """
    if not assets:
        return fmap
    d3 = assets.get("d3")
    stack: list[Any] = [fmap]
    while stack:
        element = stack.pop()
        for attribute in ("default_js", "default_css"):
            links = getattr(element, attribute, None)
            if links:
                kept = [(n, assets.get(n, url)) for n, url in links]
                setattr(element, attribute, [(n, url) for n, url in kept if url is not None])
        children = getattr(element, "_children", {})
        for key, child in list(children.items()):
            if d3 is not None and isinstance(child, branca.colormap.ColorMap):
                scale = ColorScale(child, d3)
                scale._parent = element
                children[key] = scale
            else:
                stack.append(child)
    return fmap


def map_html(fmap: folium.Map) -> bytes:
    """A self-contained HTML page of the map (scripts inlined when available)."""
    return use_local_assets(fmap, inline_assets()).get_root().render().encode("utf-8")


# --------------------------------------------------------------------------------------
# Streamlit: caching (here only), errors, state
# --------------------------------------------------------------------------------------


@st.cache_resource
def _warnings_lock() -> threading.RLock:
    return threading.RLock()


@contextmanager
def quiet() -> Iterator[None]:
    """Silence warnings around pipeline calls: their text is kept in ``result.notes``.

    ``warnings.catch_warnings`` changes process-wide state, so sessions take turns.
    """
    with _warnings_lock(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@st.cache_resource(max_entries=4, show_spinner=False)
def cached_inputs(key: tuple[Any, ...], _uploads: tuple[Upload, ...], coord_system: str) -> Loaded:
    """:func:`load_inputs`, cached on the uploads' digests, the coordinate system and the
    default district's path (``key``)."""
    with quiet():
        return load_inputs(_uploads, coord_system)


@st.cache_resource(max_entries=64, show_spinner=False)
def cached_analysis(
    key: tuple[Any, ...], settings: Settings, proposals: tuple[Proposal, ...], _loaded: Loaded
) -> AnalysisResult:
    """:func:`radius.pipeline.analyze` cached on inputs, settings and proposals."""
    config = analyze_config(settings, Path(_loaded.network_label))
    frame = proposals_frame(proposals) if proposals else None
    with quiet():
        return analyze(_loaded.inputs, config, proposals=frame)


@st.cache_resource(show_spinner=False)
def standard_names() -> dict[str, tuple[str, str]]:
    """Chinese and English name of every standard profile."""
    names = {}
    for name in list_standards():
        profile = load_standard(name)
        names[name] = (profile.name_zh, profile.name_en)
    return names


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
    """Run a pipeline step; show a translated message (never a traceback) if it fails.

    ``clean`` rewrites the error's text (e.g. :meth:`Loaded.clean`).
    """
    try:
        return step()
    except RadiusError as exc:
        fail(t(key, lang, message=clean(str(exc))))
    except Exception:
        LOG.exception("unexpected error in the radius app")
        fail(t("error_unexpected", lang))


def add_proposal_at(lat: float, lng: float, system: str = "wgs84") -> None:
    """Add a what-if facility at a clicked point, with the category and capacity chosen.

    ``lat``/``lng`` are in the map's coordinate system (``system``: GCJ-02 on Gaode
    basemaps), converted to WGS-84 here.
    """
    state = st.session_state
    if not state.get("whatif_place", True):
        return
    category = chosen_category()
    if category is None:
        return
    if state.get("last_click") == (lat, lng):
        return  # the same click reported again
    state["last_click"] = (lat, lng)
    capacity = chosen_capacity(category)
    pid = int(state.get("next_pid", 1))
    state["next_pid"] = pid + 1
    name = str(state.get("whatif_name") or "").strip() or f"P{pid}"
    lon_wgs, lat_wgs = to_wgs84(lng, lat, system)
    proposals = list(state.get("proposals", []))
    proposals.append(Proposal(pid, category.id, float(lon_wgs), float(lat_wgs), name, capacity))
    state["proposals"] = proposals


def chosen_category() -> Category | None:
    """The category chosen in the what-if panel."""
    state = st.session_state
    # The widget's own state holds this run's choice even before the widget is drawn.
    lang = str(state.get("lang", "zh"))
    category_id = state.get(f"whatif_category.{lang}", state.get("whatif_category"))
    return {c.id: c for c in load_categories()}.get(str(category_id)) if category_id else None


def chosen_capacity(category: Category) -> tuple[tuple[str, float], ...]:
    """The capacity entered in the what-if panel, for the fields of ``category``."""
    return tuple(
        (column, float(st.session_state.get(f"capacity_{column}", DEFAULT_CAPACITY[column])))
        for column in category.capacity_fields
    )


def request_suggestion() -> None:
    """ "Suggest sites" button: remember the request; the page runs it (see :func:`main`)."""
    category = chosen_category()
    if category is not None:
        count = int(st.session_state.get("suggest_count", DEFAULT_SUGGESTIONS))
        st.session_state["suggest_request"] = (category.id, count)


def run_suggestion(loaded: Loaded, settings: Settings, lang: str) -> None:
    """Run a pending "suggest sites" request; add its sites to the what-if facilities."""
    state = st.session_state
    request = state.pop("suggest_request", None)
    if request is None:
        return
    category_id, count = request
    category = {c.id: c for c in load_categories()}[category_id]
    proposals = list(state.get("proposals", []))
    first_pid = int(state.get("next_pid", 1))
    with st.spinner(t("suggesting", lang)):
        added, summary = guarded(
            lambda: suggest_sites(
                loaded,
                settings,
                proposals,
                category=category_id,
                count=count,
                capacity=chosen_capacity(category),
                first_pid=first_pid,
                name=lambda pid: t("suggest_name", lang, pid=pid),
            ),
            lang,
            clean=loaded.clean,
        )
    state["proposals"] = proposals + added
    state["next_pid"] = first_pid + len(added)
    label = str(summary["threshold"])
    coverage = summary["coverage"][label]
    state["suggest_message"] = (
        t(
            "suggest_done",
            lang,
            n=len(added),
            category=name_of(category, lang),
            threshold=threshold_label(category, label, settings.threshold_basis, lang),
            gained=float(summary["residents_gained"]),
            before=100.0 * float(coverage["share_before"]),
            after=100.0 * float(coverage["share_after"]),
        )
        if added
        else t("suggest_none", lang, category=name_of(category, lang))
    )


def on_map_change() -> None:
    """st_folium callback: a click on the map becomes a pending click."""
    value = st.session_state.get("map") or {}
    clicked = value.get("last_clicked") if isinstance(value, dict) else None
    if clicked:
        basemap = available_basemaps().get(str(st.session_state.get("basemap", "osm")))
        st.session_state["pending_click"] = {
            "lat": clicked["lat"],
            "lng": clicked["lng"],
            "system": basemap.overlay_system if basemap is not None else "wgs84",
        }


def remove_proposal(pid: int) -> None:
    """Remove one what-if facility."""
    st.session_state["proposals"] = [
        p for p in st.session_state.get("proposals", []) if p.pid != pid
    ]


def remove_all_proposals() -> None:
    """Remove every what-if facility."""
    st.session_state["proposals"] = []
    st.session_state.pop("suggest_message", None)


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
            default="time",
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


class Tile(NamedTuple):
    """One headline figure: label, value, and its change against the base run."""

    label: str
    value: str
    delta: str | None
    change: float
    lower_is_better: bool = False


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
    categories = {c.id: c for c in load_categories()}
    now, before = coverage(result), coverage(base)
    tiles: list[Tile] = []
    for (cid, label), share in now.items():
        points = round((share - before.get((cid, label), share)) * 100, 1)
        category = categories[cid]
        tiles.append(
            Tile(
                t(
                    "metric_label",
                    lang,
                    category=name_of(category, lang),
                    threshold=threshold_label(category, label, settings.threshold_basis, lang),
                ),
                f"{share:.1%}",
                t("delta_pp", lang, value=points) if changed else None,
                points,
            )
        )
    failing, failing_before = failing_districts(result), failing_districts(base)
    tiles.append(
        Tile(
            t("metric_failing", lang),
            t("districts_count", lang, n=failing, total=len(result.districts)),
            t("delta_count", lang, value=failing - failing_before) if changed else None,
            failing - failing_before,
            lower_is_better=True,
        )
    )
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
        help=t("suggest_help", lang),
        icon=":material/add_location_alt:",
    )
    message = st.session_state.get("suggest_message")
    if message:
        st.success(message)
    proposals: list[Proposal] = st.session_state.get("proposals", [])
    if not proposals:
        st.caption(t("whatif_none", lang))
        return
    st.markdown(t("whatif_list", lang, n=len(proposals)))
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
        st.markdown(f"{text}{' · ' + capacity if capacity else ''}")
        st.button(
            t("remove", lang),
            key=f"remove_{proposal.pid}",
            on_click=remove_proposal,
            args=(proposal.pid,),
            icon=":material/delete:",
            type="tertiary",
        )
    st.button(t("remove_all", lang), key="remove_all", on_click=remove_all_proposals)


def downloads(
    result: AnalysisResult,
    make_map: Callable[[], folium.Map],
    lang: str,
    make_report: Callable[[], bytes],
) -> None:
    """GeoPackage, XLSX, HTML map and PDF report downloads, built when clicked."""
    st.subheader(t("downloads_header", lang))
    gpkg, xlsx, html, pdf = st.columns(4)
    gpkg.download_button(
        t("download_gpkg", lang),
        data=lambda: gpkg_bytes(result),
        file_name="radius_results.gpkg",
        mime="application/geopackage+sqlite3",
        key="download_gpkg",
        on_click="ignore",
    )
    xlsx.download_button(
        t("download_xlsx", lang),
        data=lambda: xlsx_bytes(result),
        file_name="radius_provision.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="download_xlsx",
        on_click="ignore",
    )
    html.download_button(
        t("download_html", lang),
        data=lambda: map_html(make_map()),
        file_name="radius_map.html",
        mime="text/html",
        key="download_html",
        on_click="ignore",
    )
    pdf.download_button(
        t("download_pdf", lang),
        data=make_report,
        file_name="radius_report.pdf",
        mime="application/pdf",
        key="download_pdf",
        on_click="ignore",
        help=t("download_pdf_help", lang),
    )


def main() -> None:
    """Build the page."""
    lang_default = str(st.session_state.get("lang", "zh"))
    st.set_page_config(page_title=t("app_title", lang_default), page_icon="🗺️", layout="wide")
    lang, uploads, coord_system, settings, basemap = sidebar(lang_default)
    st.title(t("app_title", lang))
    st.caption(t("app_subtitle", lang))
    if not settings.categories:
        st.warning(t("no_categories", lang))
        st.stop()

    default_path = (
        str(default_network_path()) if not any(u.role == "network" for u in uploads) else ""
    )
    input_key = (default_path, tuple((u.role, u.name, u.digest) for u in uploads), coord_system)
    with st.spinner(t("loading", lang)):
        loaded = guarded(lambda: cached_inputs(input_key, tuple(uploads), coord_system), lang)
    if st.session_state.get("proposals_for") != input_key:
        st.session_state["proposals_for"] = input_key
        st.session_state["proposals"] = []
        st.session_state.pop("suggest_message", None)
    if loaded.likely_system is not None:
        st.warning(t("coord_hint", lang, system=t(f"coord_{loaded.likely_system}", lang)))

    pending = st.session_state.pop("pending_click", None)
    if pending:
        add_proposal_at(
            float(pending["lat"]), float(pending["lng"]), str(pending.get("system", "wgs84"))
        )
    run_suggestion(loaded, settings, lang)
    proposals = tuple(st.session_state.get("proposals", []))

    with st.spinner(t("analysing", lang)):
        base = guarded(
            lambda: cached_analysis(input_key, settings, (), loaded), lang, clean=loaded.clean
        )
        result = (
            guarded(
                lambda: cached_analysis(input_key, settings, proposals, loaded),
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
            with quiet():
                return analysis_map(result, lang=lang, basemap=basemap, rule=rule, proposals=frame)

        fmap = guarded(make_map, lang, "error_map")
        center = None
        if proposals:
            system = available_basemaps()[basemap].overlay_system
            x, y = from_wgs84(proposals[-1].lon, proposals[-1].lat, system)
            center = (float(y), float(x))
        st_folium(
            use_local_assets(fmap, served_assets()),
            key="map",
            height=MAP_HEIGHT,
            use_container_width=True,
            returned_objects=["last_clicked"],
            center=center,
            on_change=on_map_change,
        )
    with whatif_column:
        whatif_panel(settings, lang)

    st.subheader(t("shortfall_header", lang))
    only_failing = st.toggle(t("only_failing", lang), value=True, key="only_failing")
    table = shortfall_table(result, lang, only_failing=only_failing)
    if table.empty:
        st.success(t("shortfall_none", lang))
    else:
        st.dataframe(table, hide_index=True, width="stretch")

    downloads(result, make_map, lang, lambda: report_pdf_bytes(result, settings, uploads, lang))

    if result.notes:
        with st.expander(t("notes_header", lang, n=len(result.notes))):
            st.caption(t("notes_hint", lang))
            for note in result.notes:
                st.text(loaded.clean(note))


if __name__ == "__main__":  # `streamlit run app.py` and AppTest; a plain import defines only
    try:
        main()
    except RadiusError as exc:  # every pipeline call is guarded; this is the backstop
        st.error(t("error_input", str(st.session_state.get("lang", "zh")), message=str(exc)))
    except Exception:
        LOG.exception("unexpected error in the radius app")
        st.error(t("error_unexpected", str(st.session_state.get("lang", "zh"))))
