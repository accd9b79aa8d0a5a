"""Static maps (PNG) for the printed report, drawn with matplotlib on the street network.

Every map is drawn in the network's metric CRS (true distances, a scale bar in metres) on
the streets themselves rather than web tiles, so a report builds offline and its maps print
sharp. Text uses an installed CJK font (Noto Sans CJK from ``fonts-noto-cjk``) so Chinese
names render; colours come from ``configs/map_style.yaml`` like the interactive maps.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import fontManager
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from radius.i18n import Language
from radius.i18n import report_text as _text
from radius.map_style import MapStyle, load_map_style
from radius.network import StreetNetwork
from radius.pipeline import AnalysisResult
from radius.siting import SitingResult

__all__ = ["cjk_font_names", "compliance_png", "coverage_png", "sites_png"]

FIGURE_INCHES = (7.0, 5.6)
DPI = 150
_STREET_COLOUR = "#9e9e9e"
_ISLAND_COLOUR = "#d9d9d9"
_REACH_COLOURS = ("#00441b", "#238b45", "#74c476", "#c7e9c0")
_COVERED_COLOUR = "#a6bddb"
_NEWLY_COVERED_COLOUR = "#fd8d3c"


_KNOWN_CJK_FAMILIES = ("WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Source Han Sans SC")
_FONT_SUFFIXES = (".ttf", ".ttc", ".otf")


def _cjk_names_known_to_matplotlib() -> list[str]:
    names = {f.name for f in fontManager.ttflist}
    return [n for n in names if "CJK" in n or n in _KNOWN_CJK_FAMILIES]


def _fontconfig_cjk_files() -> list[str]:
    """Files of fonts with Chinese glyphs as fontconfig lists them (``fc-list :lang=zh``)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        listing = subprocess.run(
            [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = {line.strip().rstrip(":").strip() for line in listing.splitlines()}
    return sorted(f for f in files if f.lower().endswith(_FONT_SUFFIXES) and Path(f).is_file())


def _system_cjk_files() -> list[str]:
    """Font files under the system font folders whose name says CJK (no fontconfig needed)."""
    return sorted(
        f
        for f in font_manager.findSystemFonts()
        if any(key in Path(f).name.lower() for key in ("cjk", "wqy", "sourcehansans"))
    )


@lru_cache(maxsize=1)
def cjk_font_names() -> tuple[str, ...]:
    """Installed font families with Chinese glyphs, Simplified-Chinese faces first.

    matplotlib keeps its font list in a cache written on its first run; a CJK font
    installed after that (``make system`` after ``make install``) is not in it. So when
    the cached list has no CJK face, the font files that fontconfig (or a scan of the
    system font folders) reports are added to matplotlib's font manager for this
    process, whatever the cache says.
    """
    cjk = _cjk_names_known_to_matplotlib()
    if not cjk:
        for path in _fontconfig_cjk_files() or _system_cjk_files():
            with contextlib.suppress(Exception):  # an unreadable font file is skipped
                fontManager.addfont(path)
        cjk = _cjk_names_known_to_matplotlib()
    return tuple(sorted(set(cjk), key=lambda n: (" SC" not in n, "Sans" not in n, n)))


@contextmanager
def _fonts() -> Iterator[None]:
    with mpl.rc_context({"font.family": [*cjk_font_names(), "DejaVu Sans"], "font.size": 8}):
        yield


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.05)
    return buffer.getvalue()


def _canvas(network: StreetNetwork, focus: gpd.GeoSeries | None) -> tuple[Figure, Axes]:
    """A figure with the streets (islands paler), framed on ``focus`` when given."""
    figure = Figure(figsize=FIGURE_INCHES, layout="constrained")
    axes = figure.add_subplot()
    if len(network.island_edges):
        network.island_edges.to_crs(network.crs).plot(ax=axes, color=_ISLAND_COLOUR, lw=0.4)
    network.edges.plot(ax=axes, color=_STREET_COLOUR, lw=0.5)
    bounds = network.edges.total_bounds
    if focus is not None and len(focus) and not focus.is_empty.all():
        lo = np.minimum(bounds[:2], focus.total_bounds[:2])
        hi = np.maximum(bounds[2:], focus.total_bounds[2:])
        bounds = np.concatenate([lo, hi])
    margin = 0.03 * max(bounds[2] - bounds[0], bounds[3] - bounds[1], 1.0)
    axes.set_xlim(bounds[0] - margin, bounds[2] + margin)
    axes.set_ylim(bounds[1] - margin, bounds[3] + margin)
    axes.set_aspect("equal")
    axes.set_axis_off()
    axes.add_patch(_frame(axes))
    return figure, axes


def _frame(axes: Axes) -> Rectangle:
    """A thin border around the map (the axes themselves are off: no ticks, no labels)."""
    return Rectangle((0, 0), 1, 1, transform=axes.transAxes, fill=False, lw=0.6, ec="#555555")


def _finish(axes: Axes, style: MapStyle, lang: Language) -> None:
    """Scale bar, north arrow and the data attribution."""
    x0, x1 = axes.get_xlim()
    y0, y1 = axes.get_ylim()
    width = x1 - x0
    nice = [50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000]
    metres = max((n for n in nice if n <= width / 4), default=nice[0])
    bar_x, bar_y = x0 + 0.04 * width, y0 + 0.05 * (y1 - y0)
    axes.plot([bar_x, bar_x + metres], [bar_y, bar_y], color="black", lw=2.5)
    axes.text(
        bar_x + metres / 2, bar_y + 0.015 * (y1 - y0), _text("scale", lang, metres=metres),
        ha="center", va="bottom", fontsize=7,
    )  # fmt: skip
    axes.annotate(
        "N", xy=(0.96, 0.95), xytext=(0.96, 0.86), xycoords="axes fraction",
        ha="center", fontsize=9, arrowprops={"arrowstyle": "-|>", "color": "black"},
    )  # fmt: skip
    attribution = style.data_attribution
    plain = "© OpenStreetMap contributors" if "OpenStreetMap" in attribution else attribution
    axes.text(
        0.99, 0.01, plain, transform=axes.transAxes, ha="right", va="bottom", fontsize=6,
        color="#444444", bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1},
    )  # fmt: skip


def _sizes(population: np.ndarray) -> np.ndarray:
    """Marker areas (points²) growing with the square root of the residents."""
    return np.clip(4.0 + 2.0 * np.sqrt(np.nan_to_num(population, nan=0.0)), 4.0, 120.0)


def _legend(axes: Axes, items: Sequence[tuple[str, str, str]]) -> None:
    handles = [
        Line2D([], [], ls="", marker=marker, color=colour, markersize=7, label=label)
        for label, colour, marker in items
    ]
    axes.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.85)


def _facilities_of(result: AnalysisResult, category: str, crs: object) -> gpd.GeoDataFrame:
    facilities = result.reach.facilities
    return facilities[facilities["category"] == category].to_crs(crs)


def coverage_png(result: AnalysisResult, category: str, lang: Language = "zh") -> bytes:
    """Residents coloured by walking minutes to the nearest facility of ``category``.

    Parameters
    ----------
    result : AnalysisResult
        An analysis that computed ``category``.
    category : str
        Category id.
    lang : {"zh", "en"}
        Language of the legend.

    Returns
    -------
    bytes
        The map as PNG.
    """
    style = load_map_style()
    network = result.reach.network
    reach = next(r for r in result.reach.categories if r.category.id == category)
    residents = result.residents.to_crs(network.crs)
    minutes = residents[f"{category}_min"].to_numpy(dtype=np.float64)
    bins = [t.minutes for t in reach.category.thresholds]
    with _fonts():
        figure, axes = _canvas(network, residents.geometry)
        items: list[tuple[str, str, str]] = []
        previous = -np.inf
        for limit, colour in zip(bins, _REACH_COLOURS, strict=False):
            inside = (minutes > previous) & (minutes <= limit)
            _points(axes, residents[inside], colour)
            items.append((_text("legend_minutes", lang, minutes=f"{limit:g}"), colour, "o"))
            previous = limit
        beyond = ~(minutes <= previous)
        _points(axes, residents[beyond], style.uncovered.colour)
        items.append((_text("legend_unreached", lang), style.uncovered.colour, "o"))
        colour = style.category_colours([category])[category]
        facilities = _facilities_of(result, category, network.crs)
        if len(facilities):
            facilities.plot(ax=axes, color=colour, marker="^", markersize=36, ec="white", lw=0.6)
        items.append((_text("legend_existing", lang), colour, "^"))
        _legend(axes, items)
        # no title on the image: the report's figure caption names the map (once)
        _finish(axes, style, lang)
        return _png(figure)


def _points(axes: Axes, frame: gpd.GeoDataFrame, colour: str) -> None:
    if len(frame):
        population = frame["population"].to_numpy(dtype=np.float64)
        frame.plot(ax=axes, color=colour, markersize=_sizes(population), alpha=0.85, lw=0)


def compliance_png(result: AnalysisResult, lang: Language = "zh") -> bytes:
    """Districts coloured by the number of provision rules they fail.

    Returns
    -------
    bytes
        The map as PNG.
    """
    style = load_map_style().districts
    network = result.reach.network
    districts = result.districts.to_crs(network.crs)
    pass_columns = [f"{rid}_pass" for rid in result.rules["id"] if f"{rid}_pass" in districts]
    verdicts = [c.replace("_pass", "_verdict") for c in pass_columns]
    if pass_columns and all(c in districts for c in verdicts):  # not applicable is no fail
        fails = (districts[verdicts].to_numpy() == "fail").sum(axis=1)
    else:
        fails = (
            (~districts[pass_columns].astype(bool)).sum(axis=1).to_numpy() if pass_columns else 0
        )
    fails = np.broadcast_to(np.asarray(fails), (len(districts),))
    empty = districts["population"].to_numpy(dtype=np.float64) <= 0
    palette = style.fail_colours
    top = max(int(fails.max()) if len(fails) else 0, 1)
    colours = [
        style.no_residents_colour
        if no_one
        else style.pass_colour
        if n == 0
        else palette[min(int((n - 1) * len(palette) / top), len(palette) - 1)]
        for n, no_one in zip(fails, empty, strict=True)
    ]
    with _fonts():
        figure, axes = _canvas(network, districts.geometry)
        districts.plot(ax=axes, color=colours, alpha=style.fill_opacity, ec=style.outline, lw=0.6)
        if len(districts) <= 60:
            # units named as in the user's file (the id where a unit has no name)
            names = districts.get("name", pd.Series("", index=districts.index))
            labels = [
                str(n) if isinstance(n, str) and n.strip() else str(i)
                for n, i in zip(names, districts["district_id"], strict=True)
            ]
            for point, text in zip(districts.geometry.representative_point(), labels, strict=True):
                axes.annotate(str(text), (point.x, point.y), fontsize=5, ha="center")
        items = [(_text("legend_pass_all", lang), style.pass_colour, "s")]
        for n in sorted(
            {int(n) for n, no_one in zip(fails, empty, strict=True) if n and not no_one}
        ):
            colour = palette[min(int((n - 1) * len(palette) / top), len(palette) - 1)]
            items.append((_text("legend_fails", lang, n=n), colour, "s"))
        _legend(axes, items)
        # no title on the image: the report's figure caption names the map (once)
        _finish(axes, load_map_style(), lang)
        return _png(figure)


def sites_png(siting: SitingResult, lang: Language = "zh") -> bytes:
    """Suggested sites (numbered stars), the residents they newly cover, those left out.

    Returns
    -------
    bytes
        The map as PNG.
    """
    style = load_map_style()
    before, after = siting.before, siting.after
    network = before.reach.network
    category = str(siting.summary["category"])
    column = f"{category}_covered_{siting.summary['threshold']}"
    residents = before.residents.to_crs(network.crs)
    was = before.residents[column].to_numpy(dtype=bool)
    now = after.residents[column].to_numpy(dtype=bool)
    sites = siting.sites.to_crs(network.crs)
    colour = style.category_colours([category])[category]
    with _fonts():
        figure, axes = _canvas(network, residents.geometry)
        _points(axes, residents[was], _COVERED_COLOUR)
        _points(axes, residents[now & ~was], _NEWLY_COVERED_COLOUR)
        _points(axes, residents[~now], style.uncovered.colour)
        facilities = _facilities_of(before, category, network.crs)
        if len(facilities):
            facilities.plot(ax=axes, color=colour, marker="^", markersize=36, ec="white", lw=0.6)
        if len(sites):
            sites.plot(ax=axes, color="gold", marker="*", markersize=220, ec="black", lw=0.8)
            for point, rank in zip(sites.geometry, sites["rank"], strict=True):
                axes.annotate(
                    str(rank), (point.x, point.y), xytext=(6, 6), textcoords="offset points",
                    fontsize=8, weight="bold",
                )  # fmt: skip
        _legend(
            axes,
            [
                (_text("legend_new_site", lang), "gold", "*"),
                (_text("legend_existing", lang), colour, "^"),
                (_text("legend_covered", lang), _COVERED_COLOUR, "o"),
                (_text("legend_covered_new", lang), _NEWLY_COVERED_COLOUR, "o"),
                (_text("legend_uncovered", lang), style.uncovered.colour, "o"),
            ],
        )
        # no title on the image: the report's figure caption names the map (once)
        _finish(axes, style, lang)
        return _png(figure)
