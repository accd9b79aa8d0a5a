"""What the app's page shows, without Streamlit: its choices, figures, messages and notes.

``app.py`` draws; this module decides what is drawn, in the user's language (every text
through a message id of ``configs/i18n.yaml``), so it is tested directly
(``tests/test_app_view.py``). A :class:`Choice` is one radio, selectbox or multiselect of
the page: its options, their labels, its default and where its value is kept; the page
draws it with one helper. :func:`headline` gives the headline figures and the texts beside
them, :func:`panel_messages` the what-if panel's messages, :func:`kept_downloads` the
prepared downloads still valid.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any, Literal, NamedTuple

import pandas as pd

from radius.app_inputs import Loaded
from radius.app_state import as_on_the_page, facilities_message
from radius.config import DEFAULT_THRESHOLD_BASIS, load_categories, load_speed_profiles
from radius.i18n import Language, name_of, t
from radius.maps import available_basemaps, basemap_notes, default_rule
from radius.pipeline import AnalysisResult
from radius.standards import list_standards, load_standard
from radius.whatif import (
    DEFAULT_CAPACITY,
    Settings,
    Tile,
    attainment_lines,
    headline_tiles,
    page_notes,
)

__all__ = [
    "AREA_TYPES",
    "BASES",
    "COORD_SYSTEMS",
    "LANGUAGE_NAMES",
    "METHODS",
    "TILES_PER_ROW",
    "CapacityInput",
    "Choice",
    "Figure",
    "Headline",
    "Said",
    "capacity_inputs",
    "coord_system_choice",
    "headline",
    "input_messages",
    "kept_downloads",
    "notes",
    "panel_messages",
    "rule_choice",
    "setting_choices",
    "settings_from",
    "standard_names",
    "uploader_css",
    "whatif_category_choice",
]

COORD_SYSTEMS = ("wgs84", "gcj02", "bd09", "cgcs2000")
"""The coordinate systems an uploaded facility file may be in."""
AREA_TYPES: tuple[str | None, ...] = (None, "new", "old")
"""The area type of every unit: from the data (None), new or old areas."""
METHODS = ("2sfca", "inside")
BASES = ("distance", "time")
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
"""Each language named in itself (the language switch)."""
TILES_PER_ROW = 5
"""Headline figures per row."""

Kind = Literal["radio", "selectbox", "multiselect"]


class Said(NamedTuple):
    """A message of the page: its kind (``st.success``, ``st.error``, ...) and text."""

    kind: Literal["success", "info", "warning", "error"]
    text: str


@dataclass(frozen=True)
class Choice:
    """One choice of the page: a radio, selectbox or multiselect, in one language.

    The options' labels change with the language and Streamlit keeps a widget's value by
    its label, so each language has its own widget (:meth:`key`); the value itself is kept
    under ``name`` in session state and handed to the widget shown (:meth:`current`).

    Parameters
    ----------
    name : str
        The session-state key of the value (a multiselect's value is a list).
    kind : {"radio", "selectbox", "multiselect"}
        The widget.
    label : str
        The widget's label, in the language.
    options : tuple
        The values offered.
    labels : Mapping
        The label of each option, in the language.
    default : Any
        The value before any choice (a list for a multiselect).
    help : str or None
        The widget's help text.
    disabled_if : tuple of (str, Any), optional
        ``(name, value)``: the widget is disabled while the choice ``name`` holds ``value``.
    """

    name: str
    kind: Kind
    label: str
    options: tuple[Any, ...]
    labels: Mapping[Any, str] = field(repr=False)
    default: Any
    help: str | None = None
    disabled_if: tuple[str, Any] | None = None

    def key(self, lang: str) -> str:
        """The widget's key in ``lang``: ``"{name}.{lang}"``."""
        return f"{self.name}.{lang}"

    def label_of(self, option: Any) -> str:
        """The label of ``option`` (the widget's ``format_func``)."""
        return self.labels[option]

    def current(self, state: Mapping[Any, Any]) -> Any:
        """The value to show: the one kept in ``state`` if still offered, else the default.

        For a multiselect, the kept values still offered; otherwise the kept value, the
        default if that is not offered, or the first option.
        """
        value = state.get(self.name, self.default)
        if self.kind == "multiselect":
            return [option for option in value if option in self.options]
        if value in self.options:
            return value
        return self.default if self.default in self.options else self.options[0]

    def widget_args(
        self, state: Mapping[Any, Any], lang: str, values: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The widget's arguments after its label and options, in ``lang``: its key, labels,
        help, whether disabled (by ``values``, the choices made before it), and the value
        to show (:meth:`current`: a multiselect's ``default``, else its ``index``)."""
        current = self.current(state)
        shown = (
            {"default": current}
            if self.kind == "multiselect"
            else {"index": self.options.index(current)}
        )
        return {
            **shown,
            "format_func": self.label_of,
            "key": self.key(lang),
            "help": self.help,
            "disabled": self.disabled(values),
        }

    def disabled(self, values: Mapping[str, Any]) -> bool:
        """Whether the widget is disabled, given the values chosen before it (``values``)."""
        return (
            self.disabled_if is not None
            and values.get(self.disabled_if[0]) == (self.disabled_if[1])
        )


def _choice(
    name: str,
    kind: Kind,
    label: str,
    labels: Mapping[Any, str],
    default: Any,
    help: str | None = None,
    disabled_if: tuple[str, Any] | None = None,
) -> Choice:
    return Choice(name, kind, label, tuple(labels), labels, default, help, disabled_if)


def standard_names() -> dict[str, tuple[str, str]]:
    """The Chinese and English name of every standard profile (``configs/standards``)."""
    names = {}
    for name in list_standards():
        profile = load_standard(name)
        names[name] = (profile.name_zh, profile.name_en)
    return names


def coord_system_choice(lang: str) -> Choice:
    """The coordinate system of an uploaded facility file (WGS-84 unless chosen)."""
    return _choice(
        "coord_system",
        "selectbox",
        t("coord_system", lang),
        {s: t(f"coord_{s}", lang) for s in COORD_SYSTEMS},
        "wgs84",
        t("coord_system_help", lang),
    )


def setting_choices(lang: Language, standards: Mapping[str, tuple[str, str]]) -> tuple[Choice, ...]:
    """The sidebar's settings, in the order shown: categories, threshold basis, walking
    speed, standard, area type, method, basemap.

    Parameters
    ----------
    lang : {"zh", "en"}
        The page's language.
    standards : Mapping
        The Chinese and English name of each standard profile (:func:`standard_names`).

    Returns
    -------
    tuple of Choice
        Their values make the analysis' settings (:func:`settings_from`) and the basemap.
    """
    categories = {c.id: name_of(c, lang) for c in load_categories()}
    profiles = load_speed_profiles()
    speeds = {
        p: t("speed_option", lang, name=name_of(profile, lang), speed=profile.speed_m_s)
        for p, profile in profiles.profiles.items()
    }
    basemaps = available_basemaps()
    return (
        _choice("categories", "multiselect", t("categories", lang), categories, list(categories)),
        _choice(
            "threshold_basis",
            "radio",
            t("threshold_basis", lang),
            {b: t(f"basis_{b}", lang) for b in BASES},
            DEFAULT_THRESHOLD_BASIS,
            t("threshold_basis_help", lang),
        ),
        _choice(
            "speed_profile",
            "selectbox",
            t("speed_profile", lang),
            speeds,
            profiles.default,
            disabled_if=("threshold_basis", "distance"),
        ),
        _choice(
            "standard",
            "selectbox",
            t("standard", lang),
            {s: names[0 if lang == "zh" else 1] for s, names in standards.items()},
            "national",
        ),
        _choice(
            "area_type",
            "selectbox",
            t("area_type", lang),
            {a: t(f"area_{a or 'from_data'}", lang) for a in AREA_TYPES},
            None,
            t("area_type_help", lang),
        ),
        _choice(
            "method",
            "radio",
            t("method", lang),
            {m: t(f"method_{m}", lang) for m in METHODS},
            "2sfca",
            t("method_help", lang),
        ),
        _choice(
            "basemap",
            "selectbox",
            t("basemap", lang),
            {b: basemap.name(lang) for b, basemap in basemaps.items()},
            "osm",
            "\n\n".join(basemap_notes(lang=lang)) or None,
        ),
    )


def settings_from(values: Mapping[str, Any]) -> Settings:
    """The analysis' settings from the values of :func:`setting_choices` (by name)."""
    return Settings(
        categories=tuple(values["categories"]),
        threshold_basis=str(values["threshold_basis"]),
        speed_profile=str(values["speed_profile"]),
        standard=str(values["standard"]),
        area_type=values["area_type"],
        method=str(values["method"]),
    )


def whatif_category_choice(settings: Settings, lang: str) -> Choice:
    """The category of the next what-if facility: one of those analysed (the first first)."""
    names = {c.id: name_of(c, lang) for c in load_categories()}
    labels = {cid: names[cid] for cid in settings.categories}
    return _choice(
        "whatif_category", "selectbox", t("whatif_category", lang), labels, settings.categories[0]
    )


def rule_choice(result: AnalysisResult, lang: str) -> Choice | None:
    """The rule the map shows (:func:`radius.maps.default_rule` first), or None without any."""
    rules = {rule.id: rule for rule in result.standard.rules}
    labels = {str(r): name_of(rules[str(r)], lang) for r in result.rules["id"]}
    if not labels:
        return None
    return _choice("map_rule", "selectbox", t("map_rule", lang), labels, default_rule(result))


class CapacityInput(NamedTuple):
    """One size field of the next what-if facility: its widget key, label and default."""

    key: str
    label: str
    default: float


def capacity_inputs(category_id: str | None, lang: str) -> list[CapacityInput]:
    """The size fields of a what-if facility of ``category_id`` (none without a category)."""
    if category_id is None:
        return []
    (category,) = load_categories(ids=[category_id])
    return [
        CapacityInput(f"capacity_{column}", t(f"capacity_{column}", lang), DEFAULT_CAPACITY[column])
        for column in category.capacity_fields
    ]


DeltaColor = Literal["normal", "inverse", "off"]
DeltaArrow = Literal["auto", "off"]


def _delta_style(tile: Tile) -> tuple[DeltaColor, DeltaArrow]:
    """A figure's delta colour and arrow (``st.metric``): grey without a change; a rise is
    green, or red where lower is better."""
    if tile.change == 0:
        return "off", "off"
    return ("inverse" if tile.lower_is_better else "normal"), "auto"


class Figure(NamedTuple):
    """One headline figure as drawn: a :class:`~radius.whatif.Tile` and its delta style."""

    label: str
    value: str
    delta: str | None
    delta_color: DeltaColor
    delta_arrow: DeltaArrow


@dataclass(frozen=True)
class Headline:
    """The headline: its figures by row and the texts beside them, in one language.

    Attributes
    ----------
    rows : list of list of Figure
        Coverage per category and threshold, then the units missing a target, at most
        :data:`TILES_PER_ROW` a row.
    help : str
        Every figure's help text.
    caption : str
        Where the residents come from and how many.
    warnings : list of str
        Whether the residents behind the figures are plausible.
    attainment : str or None
        The share of units meeting each rule, as a Markdown list.
    """

    rows: list[list[Figure]]
    help: str
    caption: str
    warnings: list[str]
    attainment: str | None


def headline(
    result: AnalysisResult,
    base: AnalysisResult,
    settings: Settings,
    lang: str,
    *,
    changed: bool,
    network: str,
) -> Headline:
    """The headline figures of ``result`` and the texts beside them, in ``lang``.

    Parameters
    ----------
    result, base : AnalysisResult
        The analysis shown and the one without what-if facilities.
    settings : Settings
        The analysis' settings (the threshold basis names the thresholds).
    lang : str
        The page's language.
    changed : bool
        Whether there are what-if facilities: then each figure shows its change to ``base``.
    network : str
        Where the street network comes from (the caption names it).
    """
    figures = [
        Figure(tile.label, tile.value, tile.delta, *_delta_style(tile))
        for tile in headline_tiles(result, base, settings, lang, changed=changed)
    ]
    summary = result.summary()["residents"]
    lines = attainment_lines(result, lang)
    return Headline(
        rows=[
            figures[start : start + TILES_PER_ROW]
            for start in range(0, len(figures), TILES_PER_ROW)
        ],
        help=t("metric_help", lang),
        caption=t(
            "residents_summary",
            lang,
            network=network,
            population=summary["population"],
            points=summary["points"],
            districts=len(result.districts),
        ),
        warnings=[]
        if result.plausibility is None
        else [as_on_the_page(text, lang) for text in result.plausibility.messages(lang)],
        attainment="\n".join(f"- {line}" for line in lines) if lines else None,
    )


def input_messages(loaded: Loaded, lang: str) -> list[Said]:
    """What the page says about its inputs: uploaded facilities that look like another
    coordinate system (a warning), which categories an uploaded inventory replaced."""
    shown: list[Said] = []
    if loaded.likely_system is not None:
        system = t(f"coord_{loaded.likely_system}", lang)
        shown.append(Said("warning", t("coord_hint", lang, system=system)))
    replaced = facilities_message(loaded, lang)
    if replaced:
        shown.append(Said("info", replaced))
    return shown


def panel_messages(state: Mapping[Any, Any], lang: str = "zh") -> list[Said]:
    """The what-if panel's messages in ``lang``: what the last suggestion did, why it or a
    what-if failed (``suggest_message``, ``suggest_error``, ``whatif_message``; each
    ``{lang: text}``, :func:`radius.app_state.in_each_language`, or a text)."""

    def text(key: str) -> str:
        value = state.get(key)
        if isinstance(value, Mapping):
            return str(value.get(lang, ""))
        return str(value or "")

    shown: list[Said] = []
    if text("suggest_message"):
        shown.append(Said("success", text("suggest_message")))
    for key in ("suggest_error", "whatif_message"):
        if text(key):
            shown.append(Said("error", text(key)))
    return shown


def kept_downloads(
    prepared: Mapping[str, tuple[Hashable, bytes]] | None, key: Hashable
) -> dict[str, tuple[Hashable, bytes]]:
    """The prepared downloads (``{kind: (key, bytes)}``) made from ``key``; others dropped."""
    return {kind: value for kind, value in (prepared or {}).items() if value[0] == key}


def notes(result: AnalysisResult, lang: str, clean: Callable[[str], str] = str) -> list[str]:
    """The engine's notes on ``result`` in ``lang``, each rewritten by ``clean`` (e.g. to
    name uploads, not the server's folders: :meth:`radius.app_inputs.Loaded.clean`)."""
    return [as_on_the_page(clean(note), lang) for note in page_notes(result, lang)]


def uploader_css(lang: str) -> str | None:
    """Streamlit's file uploader speaks English: CSS putting its words in Chinese (zh only)."""
    if lang != "zh":
        return None
    return f"""<style>
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"],
[data-testid="stFileUploaderDropzoneInstructions"] > div > span {{display: none;}}
[data-testid="stFileUploaderDropzone"] button [data-has-shortcut]::after {{
  content: "{t("uploader_button", lang)}";}}
[data-testid="stFileUploaderDropzoneInstructions"] > div::after {{
  content: "{t("uploader_limit", lang)}"; font-size: 0.8em; opacity: 0.7;}}
</style>"""


#: Rows the page's shortfall table shows; the workbook download holds every row.
TABLE_ROWS = 300
_TABLE_STYLE = """<style>
.radius-table {border-collapse: collapse; font-size: 0.875rem; width: 100%;}
.radius-table th, .radius-table td {border-bottom: 1px solid rgba(49, 51, 63, 0.1);
  padding: 0.25rem 0.5rem; text-align: left;}
.radius-table th {font-weight: 600; position: sticky; top: 0; background: #fff;}
.radius-table td.number {text-align: right; font-variant-numeric: tabular-nums;}
.radius-table td:first-child {white-space: nowrap;}
.radius-table-scroll {max-height: 420px; overflow: auto;}
</style>"""


def table_html(table: pd.DataFrame, lang: str, *, max_rows: int = TABLE_ROWS) -> str:
    """A table as static HTML: its first ``max_rows`` rows, cells escaped, numbers right
    aligned with thousands separators (a column of whole numbers without decimals, any
    other to one decimal).

    The page's shortfall table is drawn this way, not with ``st.dataframe``: Streamlit's
    data grid brings 1.7 MB of JavaScript that every new session's browser compiles while
    it draws its map (bench/README.md, the app's section); a list of targets missed needs
    no grid. Past ``max_rows`` a line says how many rows are shown and that the workbook
    holds them all.
    """
    shown = table.head(max_rows)
    numeric = [pd.api.types.is_numeric_dtype(dtype) for dtype in shown.dtypes]

    whole = [
        bool(n) and bool(((shown[c].dropna() % 1) == 0).all())
        for c, n in zip(shown.columns, numeric, strict=True)
    ]

    def cell(value: Any, is_number: bool, is_whole: bool) -> str:
        if not is_number:
            return f"<td>{escape('' if pd.isna(value) else str(value))}</td>"
        if pd.isna(value):
            return '<td class="number"></td>'
        return f'<td class="number">{float(value):,.{0 if is_whole else 1}f}</td>'

    header = "".join(
        f'<th class="number">{escape(str(c))}</th>' if n else f"<th>{escape(str(c))}</th>"
        for c, n in zip(shown.columns, numeric, strict=True)
    )
    rows = "".join(
        "<tr>"
        + "".join(cell(v, n, w) for v, n, w in zip(row, numeric, whole, strict=True))
        + "</tr>"
        for row in shown.itertuples(index=False, name=None)
    )
    more = ""
    if len(table) > len(shown):
        told = t("table_rows_shown", lang, shown=len(shown), total=len(table))
        more = f"<p>{escape(told)}</p>"
    return (
        f'{_TABLE_STYLE}<div class="radius-table-scroll"><table class="radius-table">'
        f"<thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table></div>{more}"
    )
