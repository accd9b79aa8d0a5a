"""QGIS layer styles stored in every GeoPackage radius writes, so GIS files open styled.

QGIS keeps the styles of a GeoPackage's layers in its ``layer_styles`` table: one row per
style with the layer (``f_table_name``, ``f_geometry_column``), the style as QML
(``styleQML``, what QGIS applies) and SLD (``styleSLD``), and ``useAsDefault``. QGIS creates
that table through OGR as an attribute table with these fields (its OGR provider's
``saveStyle``) and, when a layer is opened, applies the default style of the row whose
``f_table_schema`` is ``''`` and whose table and geometry column are the layer's.
:func:`add_layer_styles` writes the same table the same way (through OGR), with styles of
the colours and legends of the app's map (``configs/map_style.yaml``,
``configs/categories.yaml``):

- facilities, sites: a colour per category (sites drawn as stars);
- service areas and reached streets: the category's colour, areas filled at the map's
  opacity;
- districts (any layer with ``{rule}_pass`` columns): green when every rule passes, the
  map's failure colours for one, two, three or more rules missed, grey without residents;
- uncovered residents (``shortfall``): red; unroutable facilities: black crosses;
- batch ``status``: a colour per status.

Labels carry the Chinese and the English name: a GeoPackage has no language of its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import pandas as pd

from radius.config import load_categories
from radius.map_style import MapStyle, load_map_style

__all__ = ["STYLE_TABLE", "add_layer_styles", "layer_style", "qml_for", "sld_for"]

STYLE_TABLE = "layer_styles"
"""The table QGIS reads layer styles from."""

QGIS_VERSION = "3.28.0-Firenze"
"""The QGIS version the QML is written for (read by QGIS 3.x)."""

CREATE_STYLE_TABLE = """CREATE TABLE "layer_styles" (
 "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
 "f_table_catalog" TEXT(256),
 "f_table_schema" TEXT(256),
 "f_table_name" TEXT(256),
 "f_geometry_column" TEXT(256),
 "styleName" TEXT(30),
 "styleQML" TEXT,
 "styleSLD" TEXT,
 "useAsDefault" BOOLEAN,
 "description" TEXT,
 "owner" TEXT(30),
 "ui" TEXT(30),
 "update_time" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)"""
"""The table as QGIS's OGR provider creates it in a GeoPackage (fields, widths, default)."""

_PASS_SUFFIX = "_pass"
_STATUS_COLOURS = {"ok": "#1a9850", "skipped": "#bdbdbd", "failed": "#d73027", "error": "#d73027"}


@dataclass(frozen=True)
class _Symbol:
    kind: str  # marker, fill, line
    colour: str
    outline: str = "#ffffff"
    opacity: float = 1.0
    size_mm: float = 3.0
    width_mm: float = 0.3
    shape: str = "circle"


@dataclass(frozen=True)
class _Class:
    symbol: _Symbol
    label: str
    value: str | None = None  # categorized
    sld_filter: str = ""  # OGC filter XML for the SLD rule
    qgis_filter: str = ""  # QGIS expression for the rule-based renderer


@dataclass(frozen=True)
class LayerStyle:
    """One layer's style: a renderer (single, categorized or rule-based) and its classes."""

    renderer: str
    classes: tuple[_Class, ...]
    attribute: str = ""


def _rgba(colour: str, opacity: float = 1.0) -> str:
    colour = colour.lstrip("#")
    r, g, b = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(255 * opacity)}"


def _symbol_xml(symbol: _Symbol, name: str) -> str:
    if symbol.kind == "marker":
        layer_class = "SimpleMarker"
        props = {
            "color": _rgba(symbol.colour, symbol.opacity),
            "name": symbol.shape,
            "outline_color": _rgba(symbol.outline),
            "outline_style": "solid",
            "outline_width": f"{symbol.width_mm:g}",
            "outline_width_unit": "MM",
            "size": f"{symbol.size_mm:g}",
            "size_unit": "MM",
            "scale_method": "diameter",
        }
    elif symbol.kind == "fill":
        layer_class = "SimpleFill"
        props = {
            "color": _rgba(symbol.colour, symbol.opacity),
            "style": "solid",
            "outline_color": _rgba(symbol.outline),
            "outline_style": "solid",
            "outline_width": f"{symbol.width_mm:g}",
            "outline_width_unit": "MM",
        }
    else:
        layer_class = "SimpleLine"
        props = {
            "line_color": _rgba(symbol.colour, symbol.opacity),
            "line_style": "solid",
            "line_width": f"{symbol.width_mm:g}",
            "line_width_unit": "MM",
            "capstyle": "round",
            "joinstyle": "round",
        }
    options = "".join(
        f'<Option name="{k}" type="QString" value={quoteattr(v)}/>' for k, v in props.items()
    )
    legacy = "".join(f"<prop k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in props.items())
    return (
        f'<symbol type="{symbol.kind}" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
        f'<layer class="{layer_class}" enabled="1" locked="0" pass="0">'
        f'<Option type="Map">{options}</Option>{legacy}</layer></symbol>'
    )


def qml_for(style: LayerStyle) -> str:
    """The QML document (QGIS style file) of a layer style.

    Parameters
    ----------
    style : LayerStyle

    Returns
    -------
    str
        A ``<qgis>`` document with the symbology (``renderer-v2``).
    """
    symbols = "".join(_symbol_xml(c.symbol, str(i)) for i, c in enumerate(style.classes))
    if style.renderer == "categorizedSymbol":
        categories = "".join(
            f'<category render="true" symbol="{i}" value={quoteattr(c.value or "")} '
            f"label={quoteattr(c.label)}/>"
            for i, c in enumerate(style.classes)
        )
        body = (
            f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(style.attribute)} '
            'symbollevels="0" enableorderby="0" forceraster="0">'
            f"<categories>{categories}</categories><symbols>{symbols}</symbols></renderer-v2>"
        )
    elif style.renderer == "RuleRenderer":
        rules = "".join(
            f'<rule key="{{radius-{i}}}" symbol="{i}" label={quoteattr(c.label)} '
            f"filter={quoteattr(c.qgis_filter)}/>"
            for i, c in enumerate(style.classes)
        )
        body = (
            '<renderer-v2 type="RuleRenderer" symbollevels="0" enableorderby="0" '
            f'forceraster="0"><rules key="{{radius-root}}">{rules}</rules>'
            f"<symbols>{symbols}</symbols></renderer-v2>"
        )
    else:
        body = (
            '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" '
            f'forceraster="0"><symbols>{symbols}</symbols></renderer-v2>'
        )
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="{QGIS_VERSION}" styleCategories="Symbology">{body}</qgis>\n'
    )


def _sld_symbolizer(symbol: _Symbol) -> str:
    if symbol.kind == "marker":
        shape = {"circle": "circle", "star": "star", "cross": "x"}.get(symbol.shape, "circle")
        return (
            "<se:PointSymbolizer><se:Graphic><se:Mark>"
            f"<se:WellKnownName>{shape}</se:WellKnownName>"
            f'<se:Fill><se:SvgParameter name="fill">{symbol.colour}</se:SvgParameter>'
            f'<se:SvgParameter name="fill-opacity">{symbol.opacity:g}</se:SvgParameter></se:Fill>'
            f'<se:Stroke><se:SvgParameter name="stroke">{symbol.outline}</se:SvgParameter>'
            "</se:Stroke></se:Mark>"
            f"<se:Size>{symbol.size_mm * 3.78:.0f}</se:Size></se:Graphic></se:PointSymbolizer>"
        )
    if symbol.kind == "fill":
        return (
            "<se:PolygonSymbolizer>"
            f'<se:Fill><se:SvgParameter name="fill">{symbol.colour}</se:SvgParameter>'
            f'<se:SvgParameter name="fill-opacity">{symbol.opacity:g}</se:SvgParameter></se:Fill>'
            f'<se:Stroke><se:SvgParameter name="stroke">{symbol.outline}</se:SvgParameter>'
            f'<se:SvgParameter name="stroke-width">{symbol.width_mm * 3.78:.1f}</se:SvgParameter>'
            "</se:Stroke></se:PolygonSymbolizer>"
        )
    return (
        "<se:LineSymbolizer>"
        f'<se:Stroke><se:SvgParameter name="stroke">{symbol.colour}</se:SvgParameter>'
        f'<se:SvgParameter name="stroke-width">{symbol.width_mm * 3.78:.1f}</se:SvgParameter>'
        "</se:Stroke></se:LineSymbolizer>"
    )


def sld_for(layer: str, style: LayerStyle) -> str:
    """The SLD 1.1 document of a layer style (rules with OGC filters)."""
    rules = []
    for c in style.classes:
        rules.append(
            f"<se:Rule><se:Name>{escape(c.label)}</se:Name>"
            f"<se:Description><se:Title>{escape(c.label)}</se:Title></se:Description>"
            f"{c.sld_filter}{_sld_symbolizer(c.symbol)}</se:Rule>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<StyledLayerDescriptor version="1.1.0" xmlns="http://www.opengis.net/sld" '
        'xmlns:ogc="http://www.opengis.net/ogc" xmlns:se="http://www.opengis.net/se" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<NamedLayer><se:Name>{escape(layer)}</se:Name><UserStyle>"
        f"<se:Name>{escape(layer)}</se:Name><se:FeatureTypeStyle>{''.join(rules)}"
        "</se:FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>\n"
    )


def _equal(column: str, value: object) -> str:
    return (
        f"<ogc:PropertyIsEqualTo><ogc:PropertyName>{escape(column)}</ogc:PropertyName>"
        f"<ogc:Literal>{escape(str(value))}</ogc:Literal></ogc:PropertyIsEqualTo>"
    )


def _filter(body: str) -> str:
    return f'<ogc:Filter xmlns:ogc="http://www.opengis.net/ogc">{body}</ogc:Filter>'


def _kind(frame: gpd.GeoDataFrame) -> str:
    types = set(frame.geometry.dropna().geom_type.unique().tolist()) if len(frame) else set()
    if types & {"Polygon", "MultiPolygon"}:
        return "fill"
    if types & {"LineString", "MultiLineString"}:
        return "line"
    if types:
        return "marker"
    return "fill" if "area" in str(frame.geometry.name) else "marker"


def _category_names() -> dict[str, str]:
    return {c.id: f"{c.name_zh} {c.name_en}" for c in load_categories()}


def _category_colours(style: MapStyle, ids: Sequence[str]) -> dict[str, str]:
    colours = dict(style.categories)
    palette = list(style.palette)
    extra = [i for i in ids if i not in colours]
    for n, category in enumerate(extra):
        colours[category] = palette[n % len(palette)]
    return colours


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _district_style(frame: pd.DataFrame, style: MapStyle) -> LayerStyle:
    passes = [c for c in frame.columns if str(c).endswith(_PASS_SUFFIX)]
    d = style.districts
    missed_terms = []
    for c in passes:
        verdict = str(c).removesuffix(_PASS_SUFFIX) + "_verdict"
        if verdict in frame.columns:  # not applicable (不适用) is not a rule missed
            missed_terms.append(f"if({_quote(verdict)} = 'fail', 1, 0)")
        else:
            missed_terms.append(f"if(coalesce({_quote(c)}, 1), 0, 1)")
    missed = " + ".join(missed_terms) or "0"
    populated = f"coalesce({_quote('population')}, 0) > 0" if "population" in frame else "true"
    empty_sld = _filter(
        "<ogc:PropertyIsLessThanOrEqualTo><ogc:PropertyName>population</ogc:PropertyName>"
        "<ogc:Literal>0</ogc:Literal></ogc:PropertyIsLessThanOrEqualTo>"
    )
    all_pass = "".join(_equal(c, 1) for c in passes)
    any_fail = "".join(_equal(c, 0) for c in passes)
    classes = [
        _Class(
            _Symbol("fill", d.no_residents_colour, d.outline, d.fill_opacity, width_mm=0.26),
            "无居民 no residents",
            qgis_filter=f"NOT ({populated})",
            sld_filter=empty_sld if "population" in frame else "",
        ),
        _Class(
            _Symbol("fill", d.pass_colour, d.outline, d.fill_opacity, width_mm=0.26),
            "全部达标 every rule met",
            qgis_filter=f"({populated}) AND ({missed}) = 0",
            sld_filter=_filter(f"<ogc:And>{all_pass}</ogc:And>" if len(passes) > 1 else all_pass)
            if passes
            else "",
        ),
    ]
    fails = list(d.fail_colours)
    for n, colour in enumerate(fails, start=1):
        last = n == len(fails)
        test = f">= {n}" if last else f"= {n}"
        label = f"未达标 {n}{'+' if last else ''} 项 {n}{'+' if last else ''} rule(s) missed"
        classes.append(
            _Class(
                _Symbol("fill", colour, d.outline, d.fill_opacity, width_mm=0.26),
                label,
                qgis_filter=f"({populated}) AND ({missed}) {test}",
                sld_filter=_filter(f"<ogc:Or>{any_fail}</ogc:Or>" if len(passes) > 1 else any_fail)
                if passes and n == 1
                else "",
            )
        )
    if not passes:
        classes = classes[:2]
    return LayerStyle("RuleRenderer", tuple(classes))


def _categorized(
    frame: pd.DataFrame, column: str, kind: str, style: MapStyle, *, shape: str = "circle"
) -> LayerStyle:
    values = sorted({str(v) for v in frame[column].dropna().unique()})
    names = _category_names()
    ids = list(dict.fromkeys([*style.categories, *names, *values]))
    colours = _category_colours(style, ids)
    shown = [v for v in ids if v in values] or list(style.categories)
    classes = []
    for value in shown:
        colour = colours.get(value, "#636363")
        if kind == "fill":
            symbol = _Symbol("fill", colour, colour, style.service_area.fill_opacity, width_mm=0.26)
        elif kind == "line":
            symbol = _Symbol("line", colour, width_mm=0.6)
        elif shape == "star":
            symbol = _Symbol("marker", colour, style.proposed.outline, 1.0, 5.0, 0.3, "star")
        else:
            f = style.facility
            symbol = _Symbol("marker", colour, f.outline, f.fill_opacity, 3.0, 0.4, shape)
        classes.append(
            _Class(
                symbol, names.get(value, value), value, sld_filter=_filter(_equal(column, value))
            )
        )
    return LayerStyle("categorizedSymbol", tuple(classes), column)


def layer_style(name: str, frame: gpd.GeoDataFrame, style: MapStyle | None = None) -> LayerStyle:
    """The style radius gives a layer, from its name, geometry and columns.

    Parameters
    ----------
    name : str
        The layer name (``facilities``, ``districts``, ``shortfall``, ...).
    frame : geopandas.GeoDataFrame
        The layer's features.
    style : MapStyle, optional
        Colours (default ``configs/map_style.yaml``).

    Returns
    -------
    LayerStyle
    """
    style = style if style is not None else load_map_style()
    kind = _kind(frame)
    columns = set(map(str, frame.columns))
    if any(c.endswith(_PASS_SUFFIX) for c in columns) and kind == "fill":
        return _district_style(frame, style)
    if name == "unroutable":
        symbol = _Symbol(
            "marker", style.facility.unroutable_outline, "#000000", 1.0, 3.0, 0.5, "cross"
        )
        return LayerStyle("singleSymbol", (_Class(symbol, "无法接入路网 unroutable"),))
    if name in ("shortfall", "uncovered"):
        u = style.uncovered
        symbol = (
            _Symbol("fill", u.colour, u.colour, u.fill_opacity, width_mm=0.2)
            if kind == "fill"
            else _Symbol("marker", u.colour, u.colour, u.fill_opacity, 2.0, 0.2)
        )
        return LayerStyle("singleSymbol", (_Class(symbol, "未覆盖居民 uncovered residents"),))
    if name == "status" and "status" in columns:
        classes = tuple(
            _Class(
                _Symbol("fill", colour, "#525252", 0.45, width_mm=0.26)
                if kind == "fill"
                else _Symbol("marker", colour),
                value,
                value,
                sld_filter=_filter(_equal("status", value)),
            )
            for value, colour in _STATUS_COLOURS.items()
        )
        return LayerStyle("categorizedSymbol", classes, "status")
    if "category" in columns:
        shape = "star" if name.startswith("sites") or name == "proposed" else "circle"
        return _categorized(frame, "category", kind, style, shape=shape)
    grey = {
        "marker": _Symbol("marker", "#636363", "#636363", 0.6, 1.2, 0.1),
        "fill": _Symbol("fill", "#bdbdbd", "#525252", 0.3, width_mm=0.26),
        "line": _Symbol("line", "#969696", width_mm=0.3),
    }[kind]
    return LayerStyle("singleSymbol", (_Class(grey, name),))


def _geometry_columns(path: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT table_name, column_name FROM gpkg_geometry_columns")
        return {str(t): str(c) for t, c in rows.fetchall()}


def add_layer_styles(
    path: Path, layers: Mapping[str, gpd.GeoDataFrame], style: MapStyle | None = None
) -> None:
    """Add (or replace) the ``layer_styles`` table of a GeoPackage, one default per layer.

    Parameters
    ----------
    path : Path
        A GeoPackage holding ``layers`` (already written).
    layers : mapping of str to GeoDataFrame
        Layer name -> its features (for the geometry kind and the columns).
    style : MapStyle, optional
        Colours (default ``configs/map_style.yaml``).
    """
    geometry_columns = _geometry_columns(path)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    rows = []
    for name, frame in layers.items():
        if name not in geometry_columns:
            continue
        chosen = layer_style(name, frame, style)
        rows.append(
            {
                "f_table_catalog": "",
                "f_table_schema": "",
                "f_table_name": name,
                "f_geometry_column": geometry_columns[name],
                "styleName": name[:30],
                "styleQML": qml_for(chosen),
                "styleSLD": sld_for(name, chosen),
                "useAsDefault": 1,
                "description": "radius: colours and legend of its map 配色与图例同 radius 地图",
                "owner": "",
                "ui": None,
                "update_time": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
        )
    if not rows:
        return
    columns = list(rows[0])
    # Without syncs and journal when the file is write_outputs' temporary one.
    from radius._io import sqlite_connection

    with contextlib.closing(sqlite_connection(path)) as connection, connection:
        connection.execute(f'DROP TABLE IF EXISTS "{STYLE_TABLE}"')
        connection.execute(CREATE_STYLE_TABLE)
        connection.executemany(
            f'INSERT INTO "{STYLE_TABLE}" ({", ".join(columns)}) '
            f"VALUES ({', '.join('?' for _ in columns)})",
            [tuple(row[c] for c in columns) for row in rows],
        )
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        connection.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (STYLE_TABLE,))
        connection.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, last_change) "
            "VALUES (?, 'attributes', ?, ?)",
            (STYLE_TABLE, STYLE_TABLE, stamp),
        )
        has_ogr_contents = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'"
        ).fetchone()
        if has_ogr_contents:
            connection.execute("DELETE FROM gpkg_ogr_contents WHERE table_name = ?", (STYLE_TABLE,))
            connection.execute(
                "INSERT INTO gpkg_ogr_contents (table_name, feature_count) VALUES (?, ?)",
                (STYLE_TABLE, len(rows)),
            )
