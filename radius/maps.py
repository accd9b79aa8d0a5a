"""Standalone interactive maps (folium/Leaflet) of reach and provision results.

:func:`reach_map` draws a :class:`~radius.pipeline.ReachResult`: facilities per category and
their service areas per threshold. :func:`analysis_map` draws an
:class:`~radius.pipeline.AnalysisResult`: the same, plus the residents left uncovered per
category and threshold and the districts coloured by the shortfall of one rule, with a
legend. :func:`save_map` writes a map as one HTML file, atomically.

Every layer is a named, switchable overlay (names in Chinese or English); the map has a
layer control, a scale bar and the OpenStreetMap attribution. Basemaps come from
``configs/basemaps.yaml`` and colours from ``configs/map_style.yaml``. Results are in
WGS-84; on a GCJ-02 basemap (Gaode/Amap) every overlay is moved into GCJ-02 with
:mod:`radius.coords` before it is drawn, so layers and tiles line up on every basemap.

The HTML loads Leaflet and the tiles from the internet when it is opened; building and
rendering a map (``m.get_root().render()``) needs no network.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import branca.colormap
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template
from pydantic import BaseModel, ConfigDict, Field, field_validator

from radius._errors import CRSError, InputError
from radius._io import Writer, write_outputs
from radius.config import CONFIG_DIR, Category, load_categories, validate_file
from radius.coords import convert_frame, from_wgs84
from radius.i18n import localize, message
from radius.map_style import MapStyle, _DistrictStyle, load_map_style
from radius.pipeline import AnalysisResult, ReachResult

__all__ = [
    "Basemap",
    "Language",
    "MapStyle",
    "analysis_map",
    "available_basemaps",
    "basemap_notes",
    "default_rule",
    "load_basemaps",
    "load_map_style",
    "map_writer",
    "reach_map",
    "save_map",
    "uncovered_layers",
]

Language = Literal["zh", "en"]
BasemapSystem = Literal["wgs84", "cgcs2000", "gcj02"]
_HEX = r"^#[0-9a-fA-F]{6}$"
_DECIMALS = 7
"""Coordinates are written with 7 decimals (about 1 cm)."""
_SIMPLIFY_DEG = 5e-6
"""Polygon outlines are simplified by this tolerance (degrees, about 0.5 m) for display."""
_CAPACITY_FIELDS = ("floor_area_m2", "land_area_m2", "beds", "places")


# --- configuration -------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Basemap(_Frozen):
    """A tiled basemap (see ``configs/basemaps.yaml``).

    Attributes
    ----------
    id : str
        Identifier, e.g. ``"osm"``, ``"gaode"``, ``"tianditu"``.
    name_zh, name_en : str
        Display names.
    system : {"wgs84", "cgcs2000", "gcj02"}
        The coordinate system the tiles are drawn in.
    tiles : str
        Leaflet URL template of the tiles.
    labels : str, optional
        URL template of an annotation layer drawn above the tiles.
    subdomains : str
        Values of ``{s}`` in the templates.
    attribution : str
        Attribution HTML of the tiles.
    max_zoom : int
        Deepest zoom level served.
    key_env : str, optional
        Environment variable holding the user key substituted for ``{key}``.
    note_zh, note_en : str
        Why the basemap is unavailable when its key is missing.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    system: BasemapSystem
    tiles: str = Field(min_length=1)
    labels: str | None = None
    subdomains: str = "abc"
    attribution: str = Field(min_length=1)
    max_zoom: int = Field(default=18, ge=1, le=22)
    key_env: str | None = None
    note_zh: str = ""
    note_en: str = ""

    def name(self, lang: Language = "zh") -> str:
        """The display name in ``lang``."""
        return self.name_zh if lang == "zh" else self.name_en

    @property
    def overlay_system(self) -> Literal["wgs84", "gcj02"]:
        """The system overlays must be drawn in on this basemap."""
        return "gcj02" if self.system == "gcj02" else "wgs84"


class _BasemapFile(_Frozen):
    basemaps: tuple[Basemap, ...] = Field(min_length=1)

    @field_validator("basemaps")
    @classmethod
    def _unique(cls, value: tuple[Basemap, ...]) -> tuple[Basemap, ...]:
        ids = [b.id for b in value]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"basemap ids must be unique; repeated: {', '.join(repeated)}")
        return value


@lru_cache(maxsize=8)
def _load_basemaps_cached(path: Path) -> tuple[Basemap, ...]:
    return validate_file(_BasemapFile, path).basemaps


def load_basemaps(path: str | Path | None = None) -> tuple[Basemap, ...]:
    """Every basemap of ``configs/basemaps.yaml`` (or ``path``), available or not.

    Raises
    ------
    ConfigError
        If the file is invalid (the message names the file and keys).
    """
    resolved = Path(path) if path is not None else CONFIG_DIR / "basemaps.yaml"
    return _load_basemaps_cached(resolved.resolve())


def available_basemaps(environ: Mapping[str, str] | None = None) -> dict[str, Basemap]:
    """The basemaps usable now: those needing a key only when the key is set.

    Parameters
    ----------
    environ : mapping, optional
        Where keys are looked up (default ``os.environ``, read at call time).

    Returns
    -------
    dict
        Basemap id -> :class:`Basemap`, in the order of the config file.
    """
    env = os.environ if environ is None else environ
    return {b.id: b for b in load_basemaps() if b.key_env is None or env.get(b.key_env, "").strip()}


def basemap_notes(environ: Mapping[str, str] | None = None, *, lang: Language = "zh") -> list[str]:
    """Why each unavailable basemap was left out (e.g. Tianditu without ``TIANDITU_KEY``).

    Parameters
    ----------
    environ : mapping, optional
        Where keys are looked up (default ``os.environ``).
    lang : {"zh", "en"}
        Language of the notes.

    Returns
    -------
    list of str
        One note per basemap left out; empty when all are available.
    """
    _check_lang(lang)
    available = available_basemaps(environ)
    notes = []
    for basemap in load_basemaps():
        if basemap.id in available:
            continue
        note = basemap.note_zh if lang == "zh" else basemap.note_en
        if not note:  # a basemap file without notes: say which variable to set
            note = message("maps_basemap_set_key", name=basemap.name(lang), env=basemap.key_env)
        notes.append(localize(note, lang))
    return notes


def _resolve_basemap(basemap: str, environ: Mapping[str, str]) -> tuple[Basemap, str | None]:
    known = {b.id: b for b in load_basemaps()}
    if basemap not in known:
        raise InputError(
            message("maps_unknown_basemap", basemap=repr(basemap), known=", ".join(known))
        )
    chosen = known[basemap]
    key = env_key = None
    if chosen.key_env is not None:
        env_key = chosen.key_env
        key = environ.get(env_key, "").strip() or None
        if key is None:
            # The note is the basemap file's own, in both languages: source and source_zh.
            raise InputError(
                message(
                    "maps_basemap_needs_key",
                    basemap=repr(basemap),
                    env=env_key,
                    source=chosen.note_en,
                    source_zh=chosen.note_zh,
                )
            )
    return chosen, key


# --- texts -----------------------------------------------------------------------------------

_TEXT: dict[str, dict[Language, str]] = {
    "facilities": {"zh": "设施 · {name}", "en": "Facilities · {name}"},
    "service_area": {
        "zh": "服务范围 · {name} {minutes}分钟",
        "en": "Service area · {name} {minutes} min",
    },
    "uncovered": {
        "zh": "未覆盖居民 · {name} {minutes}分钟",
        "en": "Uncovered residents · {name} {minutes} min",
    },
    "uncovered_what": {"zh": "{name} {minutes}分钟", "en": "{name} {minutes} min"},
    "districts": {"zh": "片区达标 · {rule}", "en": "Districts · {rule}"},
    "name": {"zh": "名称", "en": "Name"},
    "category": {"zh": "类别", "en": "Category"},
    "source": {"zh": "来源", "en": "Source"},
    "existing": {"zh": "现状", "en": "existing"},
    "proposed": {"zh": "拟建", "en": "proposed"},
    "access_m": {"zh": "接入路网距离", "en": "Access to street"},
    "unroutable": {"zh": "无法接入路网", "en": "Not on the walkable network"},
    "floor_area_m2": {"zh": "建筑面积 (m²)", "en": "Floor area (m²)"},
    "land_area_m2": {"zh": "用地面积 (m²)", "en": "Land area (m²)"},
    "beds": {"zh": "床位", "en": "Beds"},
    "places": {"zh": "托位", "en": "Places"},
    "district_id": {"zh": "片区编号", "en": "District ID"},
    "population": {"zh": "常住人口", "en": "Residents"},
    "required": {"zh": "需求", "en": "Required"},
    "supplied": {"zh": "供给", "en": "Supplied"},
    "shortfall": {"zh": "缺口", "en": "Shortfall"},
    "ratio": {"zh": "供需比", "en": "Supplied / required"},
    "status": {"zh": "是否达标", "en": "Pass"},
    "pass": {"zh": "达标", "en": "pass"},
    "fail": {"zh": "未达标", "en": "fail"},
    "no_residents": {"zh": "无居民", "en": "no residents"},
    "distance": {"zh": "最近设施步行距离", "en": "Walk to nearest"},
    "beyond": {"zh": "超出范围", "en": "beyond reach"},
    "legend_title": {"zh": "图例", "en": "Legend"},
    "legend_caption": {"zh": "缺口 ({unit})", "en": "Shortfall ({unit})"},
    "legend_fail": {"zh": "未达标（颜色越深缺口越大）", "en": "fail (darker: larger shortfall)"},
    "legend_scale": {"zh": "{caption}：0 – {top}", "en": "{caption}: 0 – {top}"},
    "uncovered_legend": {
        "zh": "未覆盖居民（圆越大人越多）",
        "en": "uncovered residents (size: people)",
    },
}


def _text(key: str, lang: Language, **fields: object) -> str:
    return _TEXT[key][lang].format(**fields)


def _check_lang(lang: str) -> None:
    if lang not in ("zh", "en"):
        raise InputError(message("maps_unknown_language", given=repr(lang)))


def _escape(value: object) -> str:
    """HTML-escaped text that is also safe inside a JavaScript template literal."""
    return html.escape(str(value)).replace("`", "&#96;").replace("$", "&#36;")


def _minutes(label: str) -> str:
    """``"7.5min"`` -> ``"7.5"``."""
    return label.removesuffix("min")


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


# --- geometry ----------------------------------------------------------------------------------


def _display(frame: gpd.GeoDataFrame, system: str, *, simplify: bool = False) -> gpd.GeoDataFrame:
    """WGS-84 ``frame`` in the basemap's system, rounded (and simplified) for display."""
    frame = frame.to_crs("EPSG:4326") if frame.crs is not None else frame
    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    if simplify and len(frame):
        frame = frame.set_geometry(
            shapely.simplify(
                np.asarray(frame.geometry.array), _SIMPLIFY_DEG, preserve_topology=True
            )
        )
    moved = convert_frame(frame, "wgs84", system)
    rounded = shapely.transform(np.asarray(moved.geometry.array), lambda c: np.round(c, _DECIMALS))
    return moved.set_geometry(gpd.GeoSeries(rounded, index=moved.index, crs=moved.crs))


def _anchors(frame: gpd.GeoDataFrame, system: str) -> tuple[np.ndarray, np.ndarray]:
    """Marker positions (lon, lat) in ``system``: the point, or a point inside a shape."""
    points = frame.geometry.to_crs("EPSG:4326").representative_point()
    lon, lat = from_wgs84(points.x.to_numpy(), points.y.to_numpy(), system)
    return np.round(lon, _DECIMALS), np.round(lat, _DECIMALS)


def _feature_collection(frame: gpd.GeoDataFrame, columns: Sequence[str]) -> dict[str, Any]:
    features = []
    geometries = shapely.to_geojson(np.asarray(frame.geometry.array))
    records = frame[list(columns)].to_dict("records")
    for geometry, properties in zip(geometries, records, strict=True):
        features.append(
            {"type": "Feature", "geometry": json.loads(geometry), "properties": properties}
        )
    return {"type": "FeatureCollection", "features": features}


# --- map pieces ----------------------------------------------------------------------------


class _Attribution(MacroElement):
    """Adds an attribution to the map's attribution control, whatever layers are shown."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text_js }});
        {% endmacro %}
        """
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text_js = _js_string(text)


class _ScaleBar(MacroElement):
    """A metric scale bar (``folium.Map(control_scale=True)`` also shows feet and miles)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.control.scale({"metric": true, "imperial": false, "maxWidth": 200})
                .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "ScaleBar"


class _Popup(MacroElement):
    """A popup bound to its parent marker as an HTML string.

    Leaflet builds the popup's DOM when it is first opened; ``folium.Popup`` builds every
    popup's DOM when the map loads, with jQuery (which the map then does not need at all).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.bindPopup({{ this.html_js }}, {{ this.options_js }});
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, max_width: int) -> None:
        super().__init__()
        self._name = "Popup"
        self.html_js = _js_string(html_text)
        self.options_js = json.dumps({"maxWidth": max_width})


def _js_string(text: str) -> str:
    """``text`` as a JavaScript string literal that is safe inside an HTML ``<script>``."""
    return json.dumps(text, ensure_ascii=False).replace("</", "<\\/")


class _Legend(MacroElement):
    """A small fixed legend box (bottom left) of coloured symbols and labels."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div class="radius-legend" style="position: fixed; bottom: 48px; left: 10px;
             z-index: 9999; background: rgba(255,255,255,0.9); padding: 6px 8px;
             border-radius: 4px; box-shadow: 0 0 4px rgba(0,0,0,0.3);
             font: 12px/1.4 sans-serif; max-height: 45%; overflow-y: auto;">
          <div style="font-weight: bold; margin-bottom: 2px;">{{ this.title }}</div>
          {% for swatch, label in this.items %}
          <div>{{ swatch }} {{ label }}</div>
          {% endfor %}
        </div>
        {% endmacro %}
        """
    )

    def __init__(self, title: str, items: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self._name = "Legend"
        self.title = _escape(title)
        self.items = list(items)


def _gradient(colours: Sequence[str]) -> str:
    """A colour bar from the first colour (left) to the last, as the districts are filled.

    Drawn with CSS: branca's colour-scale legend would need d3 in every page.
    """
    stops = ", ".join(colours)
    return (
        f'<span class="radius-scale" style="display: inline-block; width: 48px; height: 12px; '
        f"background: linear-gradient(to right, {stops}); border: 1px solid #555; "
        f'vertical-align: middle;"></span>'
    )


def _swatch(colour: str, *, round_: bool = False, symbol: str | None = None) -> str:
    if symbol is not None:
        return (
            f'<span style="color: {colour}; font-size: 14px; '
            f'text-shadow: 0 0 1px #000, 0 0 1px #000;">{_escape(symbol)}</span>'
        )
    radius = "50%" if round_ else "2px"
    return (
        f'<span style="display: inline-block; width: 12px; height: 12px; '
        f"background: {colour}; border: 1px solid #555; border-radius: {radius}; "
        f'vertical-align: middle;"></span>'
    )


def _base_map(
    basemap: Basemap, key: str | None, bounds: np.ndarray, lang: Language, style: MapStyle
) -> folium.Map:
    west, south, east, north = bounds
    lon, lat = from_wgs84([west, east], [south, north], basemap.overlay_system)
    corners = [[float(lat[0]), float(lon[0])], [float(lat[1]), float(lon[1])]]
    centre = [(corners[0][0] + corners[1][0]) / 2.0, (corners[0][1] + corners[1][1]) / 2.0]
    if not all(math.isfinite(v) for v in centre):
        centre = [0.0, 0.0]
    fmap = folium.Map(
        location=centre,
        zoom_start=15,
        tiles=None,
        control_scale=False,  # _ScaleBar: metres only
        prefer_canvas=True,
        max_zoom=basemap.max_zoom,
    )
    for layer in _tile_layers(basemap, key, lang, shown=True):
        layer.add_to(fmap)
    # Other basemaps drawn in the same system can be switched to without moving overlays.
    for other in available_basemaps().values():
        if other.id != basemap.id and other.overlay_system == basemap.overlay_system:
            _, other_key = _resolve_basemap(other.id, os.environ)
            for layer in _tile_layers(other, other_key, lang, shown=False):
                layer.add_to(fmap)
    _Attribution(style.data_attribution).add_to(fmap)
    _ScaleBar().add_to(fmap)
    if all(math.isfinite(v) for row in corners for v in row) and corners[0] != corners[1]:
        fmap.fit_bounds(corners)
    return fmap


def _tile_layers(basemap: Basemap, key: str | None, lang: Language, *, shown: bool) -> list[Any]:
    def url(template: str) -> str:
        return template.replace("{key}", key) if key is not None else template

    layers = [
        folium.TileLayer(
            tiles=url(basemap.tiles),
            attr=basemap.attribution,
            name=basemap.name(lang),
            subdomains=basemap.subdomains,
            max_zoom=basemap.max_zoom,
            max_native_zoom=basemap.max_zoom,
            overlay=False,
            control=True,
            show=shown,
        )
    ]
    if basemap.labels and shown:
        layers.append(
            folium.TileLayer(
                tiles=url(basemap.labels),
                attr=basemap.attribution,
                name=f"{basemap.name(lang)} · labels",
                subdomains=basemap.subdomains,
                max_zoom=basemap.max_zoom,
                max_native_zoom=basemap.max_zoom,
                overlay=True,
                control=False,
                show=True,
            )
        )
    return layers


@dataclass(frozen=True)
class _Context:
    lang: Language
    system: str
    style: MapStyle
    colours: dict[str, str]
    names: dict[str, Category]

    def category_name(self, cid: str) -> str:
        category = self.names.get(cid)
        if category is None:
            return cid
        return category.name_zh if self.lang == "zh" else category.name_en


def _context(lang: Language, system: str, category_ids: Sequence[str]) -> _Context:
    names = {c.id: c for c in load_categories()}
    style = load_map_style()
    ordered = list(dict.fromkeys([*names, *category_ids]))
    return _Context(
        lang=lang,
        system=system,
        style=style,
        colours=style.category_colours(ordered),
        names=names,
    )


def _facility_popup(row: Mapping[str, Any], ctx: _Context, proposed: bool) -> str:
    lang = ctx.lang
    rows = [
        (
            _text("name", lang),
            _escape(
                row.get("name") if isinstance(row.get("name"), str) and row.get("name") else "—"
            ),
        ),
        (_text("category", lang), _escape(ctx.category_name(str(row.get("category"))))),
        (_text("source", lang), _text("proposed" if proposed else "existing", lang)),
    ]
    for column in _CAPACITY_FIELDS:
        value = row.get(column)
        if value is not None and isinstance(value, int | float) and math.isfinite(value):
            rows.append((_text(column, lang), _number(float(value))))
    access = row.get("access_m")
    routable = row.get("routable")
    if isinstance(routable, bool | np.bool_) and not routable:
        reason = localize(row.get("unroutable_reason") or "", lang)
        rows.append((_text("unroutable", lang), _escape(reason)))
    elif isinstance(access, int | float) and math.isfinite(access):
        rows.append((_text("access_m", lang), f"{access:,.0f} m"))
    cells = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table style="font-size: 12px;">{cells}</table>'


def _add_facilities(
    fmap: folium.Map,
    facilities: gpd.GeoDataFrame,
    category_ids: Sequence[str],
    extra_proposals: gpd.GeoDataFrame | None,
    ctx: _Context,
) -> None:
    frame = facilities[facilities.geometry.notna() & ~facilities.geometry.is_empty]
    source = frame["source"] if "source" in frame.columns else pd.Series("", index=frame.index)
    proposed_mask = (source.astype(str) == "proposed").to_numpy()
    parts = [frame.assign(_proposed=proposed_mask)]
    if extra_proposals is not None and len(extra_proposals):
        if extra_proposals.crs is None:
            raise CRSError(message("maps_proposals_no_crs"))
        extra = extra_proposals.to_crs("EPSG:4326")
        if extra.geometry.name != "geometry":
            extra = extra.rename_geometry("geometry")
        extra = extra[extra.geometry.notna() & ~extra.geometry.is_empty]
        extra = _new_proposals(extra, frame[proposed_mask])
        parts.append(extra.assign(_proposed=True))
    everything = gpd.GeoDataFrame(
        pd.concat(parts, ignore_index=True), geometry="geometry", crs="EPSG:4326"
    )
    ids = list(dict.fromkeys([*category_ids, *everything["category"].astype(str)]))
    style = ctx.style
    for cid in ids:
        rows = everything[everything["category"].astype(str) == cid]
        if len(rows) == 0:
            continue
        group = folium.FeatureGroup(
            name=_text("facilities", ctx.lang, name=ctx.category_name(cid)), show=True
        )
        colour = ctx.colours.get(cid, style.palette[0])
        lon, lat = _anchors(rows, ctx.system)
        records = rows.drop(columns=["geometry"]).to_dict("records")
        for x, y, record in zip(lon, lat, records, strict=True):
            proposed = bool(record["_proposed"])
            popup = _Popup(_facility_popup(record, ctx, proposed), max_width=320)
            name = record.get("name")
            named = isinstance(name, str) and name.strip() != ""  # NaN or empty: unnamed
            tooltip = _escape(name if named else ctx.category_name(cid))
            if proposed:
                size = style.proposed.size_px
                icon = folium.DivIcon(
                    html=(
                        f'<div style="color: {colour}; font-size: {size}px; '
                        f"line-height: {size}px; text-align: center; "
                        f"text-shadow: 0 0 2px {style.proposed.outline}, "
                        f'0 0 2px {style.proposed.outline};">{_escape(style.proposed.symbol)}</div>'
                    ),
                    icon_size=(size, size),
                    icon_anchor=(size // 2, size // 2),
                    class_name="radius-proposed",
                )
                marker = folium.Marker([float(y), float(x)], icon=icon, tooltip=tooltip)
                popup.add_to(marker)
                marker.add_to(group)
                continue
            routable = record.get("routable")
            on_network = routable is None or bool(routable)
            marker = folium.CircleMarker(
                [float(y), float(x)],
                radius=style.facility.radius_px,
                color=style.facility.outline if on_network else style.facility.unroutable_outline,
                weight=style.facility.weight_px,
                dash_array=None if on_network else "3,3",
                fill=True,
                fill_color=colour,
                fill_opacity=style.facility.fill_opacity,
                tooltip=tooltip,
            )
            popup.add_to(marker)
            marker.add_to(group)
        group.add_to(fmap)


def _new_proposals(extra: gpd.GeoDataFrame, already: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The proposals not already among the result's proposed facilities."""
    if "category" not in extra.columns:
        raise InputError(message("maps_proposals_no_category"))
    if len(already) == 0:
        return extra

    def keys(frame: gpd.GeoDataFrame) -> list[tuple[str, float, float]]:
        points = frame.geometry.representative_point()
        return [
            (str(c), round(float(x), 6), round(float(y), 6))
            for c, x, y in zip(frame["category"], points.x, points.y, strict=True)
        ]

    seen = set(keys(already))
    keep = [key not in seen for key in keys(extra)]
    return extra[keep]


def _add_service_areas(
    fmap: folium.Map, areas: gpd.GeoDataFrame, shown: tuple[str, str] | None, ctx: _Context
) -> None:
    if len(areas) == 0 or "level" not in areas.columns:
        return
    categories = areas[areas["level"] == "category"]
    categories = categories[~(categories.geometry.isna() | categories.geometry.is_empty)]
    if len(categories) == 0:
        return
    if shown is None:
        first = categories.iloc[0]
        shown = (str(first["category"]), str(first["threshold"]))
    display = _display(categories, ctx.system, simplify=True)
    style = ctx.style.service_area
    for (cid, label), rows in display.groupby(["category", "threshold"], sort=False):
        name = _text(
            "service_area", ctx.lang, name=ctx.category_name(str(cid)), minutes=_minutes(label)
        )
        colour = ctx.colours.get(str(cid), ctx.style.palette[0])
        group = folium.FeatureGroup(name=name, show=(str(cid), str(label)) == shown)
        data = _feature_collection(rows.assign(layer=_escape(name)), ["layer"])
        folium.GeoJson(
            data,
            style_function=_constant_style(
                {
                    "color": colour,
                    "weight": style.weight_px,
                    "fillColor": colour,
                    "fillOpacity": style.fill_opacity,
                }
            ),
            tooltip=folium.GeoJsonTooltip(["layer"], labels=False),
            control=False,
        ).add_to(group)
        group.add_to(fmap)


def _constant_style(style: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    def function(_: Any) -> dict[str, Any]:
        return style

    return function


def _add_uncovered(
    fmap: folium.Map,
    shortfall: gpd.GeoDataFrame,
    shown: tuple[str, str] | None,
    ctx: _Context,
    only: Collection[tuple[str, str]] | None = None,
) -> None:
    """One layer of uncovered residents per category and threshold (``only``: just those)."""
    needed = {"category", "threshold", "population"}
    if len(shortfall) == 0 or not needed <= set(shortfall.columns):
        return
    if only is not None:
        pairs = pd.MultiIndex.from_arrays(
            [shortfall["category"].astype(str), shortfall["threshold"].astype(str)]
        )
        shortfall = shortfall[pairs.isin(list(only))]
        if len(shortfall) == 0:
            return
    style = ctx.style.uncovered
    display = _display(shortfall, ctx.system)
    population = display["population"].to_numpy(dtype=np.float64)
    radius = np.clip(
        np.round(np.sqrt(np.maximum(population, 0.0)) * style.px_per_sqrt_person),
        style.min_radius_px,
        style.max_radius_px,
    )
    distance = (
        display["dist_m"].to_numpy(dtype=np.float64)
        if "dist_m" in display.columns
        else np.full(len(display), np.nan)
    )
    beyond = _text("beyond", ctx.lang)
    display = display.assign(
        radius=radius,
        people=[_number(v) for v in population],
        district=[
            _escape(v) for v in display.get("district_id", pd.Series("", index=display.index))
        ],
        walk=[f"{v:,.0f} m" if math.isfinite(v) else beyond for v in distance],
    )
    for (cid, label), rows in display.groupby(["category", "threshold"], sort=False):
        name = _text(
            "uncovered", ctx.lang, name=ctx.category_name(str(cid)), minutes=_minutes(label)
        )
        show = only is not None or (str(cid), str(label)) == shown
        group = folium.FeatureGroup(name=name, show=show)
        data = _feature_collection(rows, ["radius", "people", "district", "walk"])
        folium.GeoJson(
            data,
            marker=folium.CircleMarker(
                radius=style.min_radius_px,
                color=style.colour,
                weight=1,
                fill=True,
                fill_color=style.colour,
                fill_opacity=style.fill_opacity,
            ),
            style_function=_radius_style,
            tooltip=folium.GeoJsonTooltip(
                ["people", "district", "walk"],
                aliases=[
                    _text("population", ctx.lang),
                    _text("district_id", ctx.lang),
                    _text("distance", ctx.lang),
                ],
            ),
            control=False,
        ).add_to(group)
        group.add_to(fmap)


def _radius_style(feature: Mapping[str, Any]) -> dict[str, Any]:
    return {"radius": feature["properties"]["radius"]}


def default_rule(result: AnalysisResult) -> str | None:
    """The rule a district map shows by default.

    The first ratio rule (m² or places per resident or household) with any shortfall, else
    the first ratio rule, else the first rule; None when no rule was checked.
    """
    rules = result.rules
    if len(rules) == 0:
        return None
    ratio = rules[rules["metric"] != "coverage"]
    for rid in ratio["id"].astype(str):
        column = f"{rid}_shortfall"
        if column in result.districts.columns and float(result.districts[column].sum()) > 0:
            return rid
    return str(ratio["id"].iloc[0]) if len(ratio) else str(rules["id"].iloc[0])


def _add_districts(
    fmap: folium.Map, result: AnalysisResult, rule_id: str, ctx: _Context
) -> tuple[branca.colormap.LinearColormap, str]:
    rule = result.rules[result.rules["id"].astype(str) == rule_id].iloc[0]
    lang = ctx.lang
    unit = _total_unit(rule, lang)
    style = ctx.style.districts
    districts = result.districts
    required = districts[f"{rule_id}_required"].to_numpy(dtype=np.float64)
    supplied = districts[f"{rule_id}_supplied"].to_numpy(dtype=np.float64)
    ratio = districts[f"{rule_id}_ratio"].to_numpy(dtype=np.float64)
    shortfall = districts[f"{rule_id}_shortfall"].to_numpy(dtype=np.float64)
    passed = districts[f"{rule_id}_pass"].to_numpy(dtype=bool)
    population = districts["population"].to_numpy(dtype=np.float64)
    empty = ~(population > 0)
    if f"{rule_id}_verdict" in districts.columns:  # none of the rule's group: not applicable
        empty |= districts[f"{rule_id}_verdict"].to_numpy() == "not_applicable"
    failing = ~passed & ~empty
    top = float(shortfall[failing].max()) if failing.any() else 1.0
    colormap = branca.colormap.LinearColormap(
        list(style.fail_colours), vmin=0.0, vmax=top if top > 0 else 1.0
    )
    colormap.caption = _text("legend_caption", lang, unit=unit)
    fill = np.where(empty, style.no_residents_colour, style.pass_colour).astype(object)
    for index in np.flatnonzero(failing):
        fill[index] = colormap.rgb_hex_str(float(shortfall[index]))
    status = np.where(empty, _text("no_residents", lang), _text("pass", lang)).astype(object)
    status[failing] = _text("fail", lang)
    rule_name = str(rule["name_zh"] if lang == "zh" else rule["name_en"])
    frame = districts.assign(
        fill=fill,
        district=[_escape(v) for v in districts["district_id"]],
        label=[
            _escape(v) if isinstance(v, str) else ""
            for v in districts.get("name", pd.Series("", index=districts.index))
        ],
        people=[_number(v) for v in population],
        required_text=[f"{_number(v)} {_escape(unit)}" for v in required],
        supplied_text=[f"{_number(v)} {_escape(unit)}" for v in supplied],
        shortfall_text=[f"{_number(v)} {_escape(unit)}" for v in shortfall],
        ratio_text=[f"{v:.0%}" if math.isfinite(v) else "—" for v in ratio],
        status=status,
    )
    display = _display(frame, ctx.system, simplify=True)
    name = _text("districts", lang, rule=rule_name)
    group = folium.FeatureGroup(name=name, show=True)
    fields = [
        "district",
        "label",
        "people",
        "required_text",
        "supplied_text",
        "shortfall_text",
        "ratio_text",
        "status",
    ]
    aliases = [
        _text("district_id", lang),
        _text("name", lang),
        _text("population", lang),
        _text("required", lang),
        _text("supplied", lang),
        _text("shortfall", lang),
        _text("ratio", lang),
        _text("status", lang),
    ]
    folium.GeoJson(
        _feature_collection(display, ["fill", *fields]),
        style_function=_district_style(style),
        highlight_function=_constant_style({"weight": 3, "fillOpacity": 0.7}),
        tooltip=folium.GeoJsonTooltip(fields, aliases=aliases),
        control=False,
    ).add_to(group)
    group.add_to(fmap)
    return colormap, name


_TOTAL_UNITS: dict[str, dict[Language, str]] = {
    "land_area_m2": {"zh": "m²", "en": "m²"},
    "floor_area_m2": {"zh": "m²", "en": "m²"},
    "beds": {"zh": "床", "en": "beds"},
    "places": {"zh": "托位", "en": "places"},
    "facilities": {"zh": "处", "en": "facilities"},
}


def _total_unit(rule: pd.Series, lang: Language) -> str:
    """Unit of a district's required, supplied and shortfall amounts under ``rule``.

    These are totals in the supply's own unit (m², beds, places; residents for coverage
    rules), not the rule's ratio unit such as m²/resident (see ``Rule.required``).
    """
    if rule["metric"] == "coverage":
        return "人" if lang == "zh" else "residents"
    supply = str(rule["supply"])
    return _TOTAL_UNITS.get(supply, {"zh": supply, "en": supply})[lang]


def _district_style(style: _DistrictStyle) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    def function(feature: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "fillColor": feature["properties"]["fill"],
            "color": style.outline,
            "weight": style.weight_px,
            "fillOpacity": style.fill_opacity,
        }

    return function


def _finish(fmap: folium.Map, legend: Sequence[tuple[str, str]], ctx: _Context) -> folium.Map:
    if legend:
        _Legend(_text("legend_title", ctx.lang), legend).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap


def _facility_legend(ids: Sequence[str], proposed: bool, ctx: _Context) -> list[tuple[str, str]]:
    items = [
        (
            _swatch(ctx.colours.get(cid, ctx.style.palette[0]), round_=True),
            _escape(ctx.category_name(cid)),
        )
        for cid in ids
    ]
    if proposed:
        items.append(
            (_swatch("#ffffff", symbol=ctx.style.proposed.symbol), _text("proposed", ctx.lang))
        )
    return items


def _bounds(*frames: gpd.GeoDataFrame) -> np.ndarray:
    boxes = [
        f.to_crs("EPSG:4326").total_bounds
        for f in frames
        if len(f) and f.crs is not None and not f.geometry.is_empty.all()
    ]
    if not boxes:
        return np.array([math.nan] * 4)
    stacked = np.vstack(boxes)
    return np.array(
        [
            np.nanmin(stacked[:, 0]),
            np.nanmin(stacked[:, 1]),
            np.nanmax(stacked[:, 2]),
            np.nanmax(stacked[:, 3]),
        ]
    )


# --- public maps ---------------------------------------------------------------------------


def reach_map(result: ReachResult, *, lang: Language = "zh", basemap: str = "osm") -> folium.Map:
    """An interactive map of a reach run: facilities and service areas.

    Layers: one per category with facilities (a circle per facility, coloured by
    category, with a popup of name, category, source, capacity and access leg; unroutable
    ones dashed; proposed ones as a star), and one per category and threshold with the
    service area (``level == "category"`` polygons, semi-transparent; only the first is
    shown at first). A layer control, a scale bar and the OpenStreetMap attribution.

    Parameters
    ----------
    result : ReachResult
        What :func:`radius.pipeline.run_reach` returned.
    lang : {"zh", "en"}
        Language of layer names, popups and legends.
    basemap : str
        A basemap id of ``configs/basemaps.yaml`` (``"osm"``, ``"gaode"``,
        ``"gaode_satellite"``, ``"tianditu"``). On GCJ-02 basemaps every overlay is
        converted to GCJ-02.

    Returns
    -------
    folium.Map

    Raises
    ------
    InputError
        For an unknown language or basemap, or a basemap whose key is not set.
    """
    _check_lang(lang)
    chosen, key = _resolve_basemap(basemap, os.environ)
    ids = [reach.category.id for reach in result.categories]
    ctx = _context(lang, chosen.overlay_system, ids)
    fmap = _base_map(chosen, key, _bounds(result.nodes, result.facilities), lang, ctx.style)
    _add_service_areas(fmap, result.service_areas, None, ctx)
    _add_facilities(fmap, result.facilities, ids, None, ctx)
    with_facilities = [cid for cid in ids if (result.facilities["category"] == cid).any()]
    proposed = bool((result.facilities.get("source", pd.Series(dtype=str)) == "proposed").any())
    return _finish(fmap, _facility_legend(with_facilities, proposed, ctx), ctx)


def analysis_map(
    result: AnalysisResult,
    *,
    lang: Language = "zh",
    basemap: str = "osm",
    rule: str | None = None,
    proposals: gpd.GeoDataFrame | None = None,
    uncovered: Collection[tuple[str, str]] | None = None,
) -> folium.Map:
    """An interactive map of an analysis: districts, uncovered residents, facilities.

    Layers, bottom to top: the districts coloured by the shortfall of ``rule`` (green:
    pass; grey: no residents; failing ones from light to dark red by shortfall, with a
    colour legend), with a tooltip of district id, name, residents, required, supplied and
    shortfall (in the rule's unit) and pass/fail; the service areas per category and
    threshold when the run built them; the uncovered residents per category and threshold
    (red circles sized by population); the facilities per category, proposed ones as a
    star. The layers of ``rule``'s category and threshold are shown at first, the others
    can be switched on in the layer control.

    Parameters
    ----------
    result : AnalysisResult
        What :func:`radius.pipeline.run_analysis` or :func:`radius.pipeline.analyze`
        returned.
    lang : {"zh", "en"}
        Language of layer names, popups and legends.
    basemap : str
        A basemap id of ``configs/basemaps.yaml``; on GCJ-02 basemaps every overlay is
        converted to GCJ-02.
    rule : str, optional
        The rule colouring the districts; default :func:`default_rule`.
    proposals : geopandas.GeoDataFrame, optional
        Proposed sites to draw as stars (``category`` and geometry, optional ``name`` and
        capacity columns), e.g. the output of a siting run. Sites already in the result
        (analysed with ``analyze(..., proposals=...)``) are drawn once.
    uncovered : collection of (str, str), optional
        Which layers of uncovered residents to draw, as (category id, threshold label)
        pairs such as ``("convenience_store", "5min")`` (see :func:`uncovered_layers`).
        Default: every one, ``rule``'s shown at first and the others listed in the layer
        control. When given, only ``rule``'s layer and these are drawn, all shown: a page
        that lets its user pick them sends the browser a fraction of the map (on the
        default district the 16 hidden layers were three quarters of it).

    Returns
    -------
    folium.Map

    Raises
    ------
    InputError
        For an unknown language, basemap, rule or uncovered layer, or a basemap whose key
        is not set.
    """
    _check_lang(lang)
    chosen, key = _resolve_basemap(basemap, os.environ)
    rule_ids = [str(r) for r in result.rules["id"]] if len(result.rules) else []
    if rule is not None and rule not in rule_ids:
        raise InputError(message("maps_unknown_rule", rule=repr(rule), known=", ".join(rule_ids)))
    rule_id = rule if rule is not None else default_rule(result)
    reach = result.reach
    ids = [category_reach.category.id for category_reach in reach.categories]
    ctx = _context(lang, chosen.overlay_system, ids)
    fmap = _base_map(
        chosen, key, _bounds(result.districts, reach.nodes, reach.facilities), lang, ctx.style
    )
    shown: tuple[str, str] | None = None
    legend: list[tuple[str, str]] = []
    if rule_id is not None:
        row = result.rules[result.rules["id"].astype(str) == rule_id].iloc[0]
        shown = (str(row["category"]), str(row["threshold"]))
        colormap, _ = _add_districts(fmap, result, rule_id, ctx)
        style = ctx.style.districts
        scale = _text(
            "legend_scale", lang, caption=colormap.caption, top=_number(float(colormap.vmax))
        )
        legend += [
            (_swatch(style.pass_colour), _text("pass", lang)),
            (_gradient(style.fail_colours), _text("legend_fail", lang)),
            ("", _escape(scale)),
            (_swatch(style.no_residents_colour), _text("no_residents", lang)),
        ]
    _add_service_areas(fmap, reach.service_areas, shown, ctx)
    only = None if uncovered is None else _uncovered_pairs(result, uncovered, shown)
    _add_uncovered(fmap, result.shortfall, shown, ctx, only)
    if len(result.shortfall):
        legend.append(
            (_swatch(ctx.style.uncovered.colour, round_=True), _text("uncovered_legend", lang))
        )
    _add_facilities(fmap, reach.facilities, ids, proposals, ctx)
    with_facilities = [cid for cid in ids if (reach.facilities["category"] == cid).any()]
    source = reach.facilities.get("source", pd.Series(dtype=str))
    proposed = bool((source == "proposed").any()) or (proposals is not None and len(proposals) > 0)
    legend += _facility_legend(with_facilities, proposed, ctx)
    return _finish(fmap, legend, ctx)


def uncovered_layers(
    result: AnalysisResult, *, lang: Language = "zh"
) -> dict[tuple[str, str], str]:
    """The layers of uncovered residents an analysis map can draw (``uncovered=``).

    Parameters
    ----------
    result : AnalysisResult
        The analysis.
    lang : {"zh", "en"}
        Language of the labels.

    Returns
    -------
    dict
        (category id, threshold label) -> its category and walking time (e.g.
        ``"便利店 5分钟"``; the layer is named ``"未覆盖居民 · 便利店 5分钟"``), for every
        category and threshold with uncovered residents, in the result's order.
    """
    _check_lang(lang)
    shortfall = result.shortfall
    if len(shortfall) == 0 or not {"category", "threshold"} <= set(shortfall.columns):
        return {}
    ctx = _context(lang, "wgs84", [])
    pairs = dict.fromkeys(
        zip(shortfall["category"].astype(str), shortfall["threshold"].astype(str), strict=True)
    )
    return {
        (cid, label): _text(
            "uncovered_what", lang, name=ctx.category_name(cid), minutes=_minutes(label)
        )
        for cid, label in pairs
    }


def _uncovered_pairs(
    result: AnalysisResult,
    uncovered: Collection[tuple[str, str]],
    shown: tuple[str, str] | None,
) -> set[tuple[str, str]]:
    """The uncovered layers asked for plus ``rule``'s; an unknown pair is refused."""
    known = set(uncovered_layers(result))
    if len(result.rules):  # a rule's layer may have no uncovered residents; some have none
        pairs = zip(result.rules["category"], result.rules["threshold"], strict=True)
        known |= {(c, t) for c, t in pairs if isinstance(c, str) and isinstance(t, str)}
    asked = {(str(cid), str(label)) for cid, label in uncovered}
    unknown = sorted(asked - known)
    if unknown:
        names = ", ".join(f"{c}/{t}" for c, t in unknown)
        choices = ", ".join(f"{c}/{t}" for c, t in sorted(known)) or message("maps_no_layers")
        raise InputError(message("maps_unknown_uncovered", names=names, known=choices))
    return asked | ({shown} if shown is not None else set())


def save_map(fmap: folium.Map, path: str | Path) -> Path:
    """Write a map as one standalone HTML file, atomically.

    The file is written under a temporary name beside ``path`` and renamed into place, so
    a failure never leaves a half-written map. The page is self-contained: Leaflet, jQuery
    and d3 are embedded from the installed XStatic packages (no CDN), so only the basemap
    tiles need the internet.

    Parameters
    ----------
    fmap : folium.Map
        A map from :func:`reach_map` or :func:`analysis_map`.
    path : str or Path
        The HTML file to write (its folder is created when missing).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    InputError
        If the folder cannot be created.
    """
    target = Path(path)
    (written,) = write_outputs(target.parent, {target.name: map_writer(fmap)})
    return written


def map_writer(fmap: folium.Map) -> Writer:
    """A writer (for :func:`radius._io.write_outputs`) of a map as one self-contained HTML.

    The scripts and styles are embedded (:func:`radius.map_assets.map_html`); only the
    basemap tiles are loaded from the internet.
    """

    def write(temporary: Path) -> None:
        from radius.map_assets import map_html  # Leaflet, jQuery, d3 inlined from XStatic

        temporary.write_bytes(map_html(fmap))

    return write
