"""Map scripts from the installed packages, not from CDNs.

The map works offline, on an intranet, and where the CDNs folium uses are slow or blocked
(as they often are in China). The local assets come from the XStatic-* packages (pure data,
from PyPI). Folium's other CDN assets are left out: Bootstrap and Font Awesome (not used by
these maps) and Leaflet.awesome-markers (replaced by a shim).

Two ways to point a folium map at them: :func:`served_assets` (URLs of a running Streamlit
server, which the app declares as components) and :func:`inline_assets` (data URIs, for a
self-contained HTML download, see :func:`map_html`). No Streamlit here.
"""

from __future__ import annotations

import base64
import functools
import importlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import branca.colormap
import branca.utilities
import folium
from branca.element import MacroElement
from folium.elements import JSCSSMixin

__all__ = [
    "ASSET_FILES",
    "ASSET_PACKAGES",
    "ColorScale",
    "MapPayload",
    "asset_dirs",
    "inline_assets",
    "map_html",
    "rendered_map",
    "served_assets",
    "use_local_assets",
]

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
    dirs = {}
    for key, module in ASSET_PACKAGES.items():
        try:
            dirs[key] = Path(importlib.import_module(module).BASE_DIR)
        except ImportError:
            return {}
    return dirs


def served_assets(names: Mapping[str, str]) -> dict[str, str | None]:
    """Asset URLs served by a Streamlit server, relative to the map's frame.

    Parameters
    ----------
    names : mapping
        Per asset package (``leaflet``, ``jquery``, ``d3``), the name of the Streamlit
        component the app declared on its folder (:func:`asset_dirs`). The server hands out
        a component's files at ``component/<name>/<file>``; the map's frame lives at
        ``component/streamlit_folium.st_folium/``, so ``../<name>/<file>`` reaches them under
        any ``server.baseUrlPath``.

    Returns
    -------
    dict
        Empty when a package is missing (the CDN links are kept).
    """
    if not names or set(names) != set(ASSET_PACKAGES):
        return {}
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
    jQuery and the awesome-markers shim are left out when no element of the map calls them
    (:func:`_unused_scripts`); d3 is linked only by a colour-scale legend.
    """
    if not assets:
        return fmap
    assets = dict(assets) | dict.fromkeys(_unused_scripts(fmap))
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


def _unused_scripts(fmap: folium.Map) -> set[str]:
    """Scripts folium links into every map that this map's elements do not call.

    jQuery is called only by ``folium.Popup`` (it builds each popup's DOM with ``$``) and by
    objects kept in front; the Leaflet.awesome-markers shim only by ``folium.Icon``. The
    radius maps use neither (:mod:`radius.maps` binds popups as strings), so a page does
    not load, parse and run 87 KB of jQuery it never calls.
    """
    used = set()
    stack: list[Any] = [fmap]
    while stack:
        element = stack.pop()
        if isinstance(element, folium.Popup) or getattr(element, "objects_to_stay_in_front", None):
            used.add("jquery")
        if isinstance(element, folium.Icon):
            used.add("awesome_markers")
        stack.extend(getattr(element, "_children", {}).values())
    return {"jquery", "awesome_markers"} - used


def map_html(fmap: folium.Map) -> bytes:
    """A self-contained HTML page of the map (scripts inlined when available)."""
    return use_local_assets(fmap, inline_assets()).get_root().render().encode("utf-8")


class MapPayload(NamedTuple):
    """What ``st_folium`` sends the browser for a map, computed once per map."""

    script: str
    header: str
    html: str
    id: str
    css_links: tuple[str, ...]
    js_links: tuple[str, ...]


def rendered_map(fmap: folium.Map) -> MapPayload:
    """The rendered map as ``st_folium`` renders it (the same steps, streamlit-folium 0.27).

    Rendering a map is most of a page run's time; the app renders the default district's
    map once and hands the payload to every session, so a new session does not render
    again. (``streamlit_folium``'s HTML helpers are imported on first use.)
    """
    import streamlit_folium

    fmap.get_root().render()
    fmap.render()
    html = streamlit_folium._get_html(fmap)
    header = streamlit_folium._get_header(fmap)
    script = streamlit_folium._get_map_string(fmap)
    css: list[str] = []
    js: list[str] = []
    stack: list[Any] = [fmap]
    while stack:  # the same depth-first order as streamlit-folium's walk
        element = stack.pop(0)
        css.extend(href for _, href in getattr(element, "default_css", []))
        js.extend(src for _, src in getattr(element, "default_js", []))
        stack[:0] = list(getattr(element, "_children", {}).values())
    return MapPayload(
        script,
        header,
        html,
        streamlit_folium.get_full_id(fmap),
        tuple(dict.fromkeys(css)),
        tuple(dict.fromkeys(js)),
    )
