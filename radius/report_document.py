"""The consultant report: one document built from an analysis and its siting runs.

:func:`build_report` turns an :class:`~radius.pipeline.AnalysisResult` and any
:class:`~radius.siting.SitingResult` into a :class:`ReportDocument`: sections of headings,
paragraphs, tables and static maps, in Chinese or English, with every figure taken from the
results. :func:`render_html` writes it as one self-contained HTML page (maps embedded) and
:func:`render_pdf` prints that page to PDF with WeasyPrint, Chinese set in an installed CJK
font. :func:`report_sheets` and :func:`report_layers` give the same content as workbook
sheets and GeoPackage layers, and :func:`report_writers` the four files of ``radius report``.

Sections: summary; data and method (sources and dates, CRS, speed, snapping, the standard
with the source of every rule); coverage per category with maps; compliance per district
and rule; suggested sites with their gains and a map; unroutable points and data-quality
notes; an appendix of the rules whose status is not confirmed.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd

from radius import __version__
from radius._errors import RadiusError
from radius._io import Writer, gpkg_writer, xlsx_writer
from radius._osm import osm_data_date
from radius.config import load_speed_profiles
from radius.facilities import CAPACITY_COLUMNS
from radius.i18n import Language, Message, category_label, group_label, localize, name_of, t
from radius.i18n import report_text as _t
from radius.pipeline import AnalysisResult, AnalyzeConfig
from radius.report import RULE_HEADERS, displayable_facilities, provision_sheets, sites_table
from radius.report_layout import file_names_only, street_names, unit_label, verdict_matrix
from radius.report_maps import cjk_font_names, compliance_png, coverage_png, sites_png
from radius.siting import SitingResult

__all__ = [
    "Block",
    "FontMissingError",
    "InputFile",
    "ReportDocument",
    "Section",
    "build_report",
    "input_files",
    "one_language",
    "one_language_sheets",
    "provision_workbook",
    "render_html",
    "render_pdf",
    "report_layers",
    "report_sheets",
    "report_writers",
    "sites_sheet_of",
]

_TEMPLATES = Path(__file__).parent / "templates"
_OSM_SUFFIXES = (".osm", ".pbf", ".bz2", ".gz", ".xml")


class FontMissingError(RadiusError, RuntimeError):
    """No font with Chinese glyphs is installed, so the PDF would show empty boxes."""


@dataclass(frozen=True)
class Block:
    """One element of a section.

    Attributes
    ----------
    kind : {"heading", "paragraph", "list", "table", "figure"}
        What it is.
    text : str
        Heading or paragraph text; a table's or figure's caption.
    items : tuple of str
        List items.
    header : tuple of str
        Table column headings.
    rows : tuple of tuple of str
        Table cells, already formatted.
    row_classes : tuple of str
        Per row ``"pass"``, ``"fail"`` or ``""`` (styling).
    cell_classes : tuple of str
        Per column ``"num"`` (right-aligned), ``"result"`` or ``""``.
    png : bytes
        A figure's image.
    cell_styles : tuple of tuple of str
        Per row and cell a class (the verdict matrix: ``pass``, ``fail``, ``na``); when
        empty, ``cell_classes`` applies.
    """

    kind: Literal["heading", "paragraph", "list", "table", "figure"]
    text: str = ""
    items: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    row_classes: tuple[str, ...] = ()
    cell_classes: tuple[str, ...] = ()
    png: bytes = b""
    cell_styles: tuple[tuple[str, ...], ...] = ()

    def cell_class(self, row: int, column: int) -> str:
        """The class of one cell: its own style, else its column's."""
        if self.cell_styles and self.cell_styles[row][column]:
            return self.cell_styles[row][column]
        return self.cell_classes[column] if column < len(self.cell_classes) else ""

    @property
    def caption(self) -> str:
        """The caption of a table or figure."""
        return self.text

    @property
    def base64(self) -> str:
        """The figure as base64, for a data URI."""
        return base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class Section:
    """A numbered section: an anchor id, a title and its blocks."""

    id: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class ReportDocument:
    """The whole report, ready to render.

    Attributes
    ----------
    title : str
        Report title.
    lang : {"zh", "en"}
        Language.
    generated : str
        The generation line (date and radius version).
    sections : tuple of Section
        The sections in order.
    attribution : str
        Data attribution printed at the end.
    """

    title: str
    lang: Language
    generated: str
    sections: tuple[Section, ...]
    attribution: str
    version: str = __version__
    cover: tuple[tuple[str, str], ...] = ()
    cover_sources: Block | None = None
    author_label: str = ""
    author: str = ""
    signature_label: str = ""

    @property
    def lang_tag(self) -> str:
        """The HTML language tag."""
        return "zh-CN" if self.lang == "zh" else "en"

    @property
    def contents_title(self) -> str:
        """Title of the table of contents."""
        return _t("contents", self.lang)

    @property
    def footer(self) -> str:
        """Page footer text, safe inside a CSS string."""
        return "".join(ch for ch in self.title if ch not in '"\\<>&\n')[:80]

    def text(self) -> str:
        """Every heading, paragraph, list item and table cell as plain text (for search)."""
        parts = [self.title]
        for section in self.sections:
            parts.append(section.title)
            for block in section.blocks:
                parts += [block.text, *block.items, *block.header]
                parts += [cell for row in block.rows for cell in row]
        return "\n".join(p for p in parts if p)


@dataclass(frozen=True)
class InputFile:
    """An input of the analysis, for the data-sources table."""

    role: str
    path: Path | None
    description: str = ""


@dataclass
class _Builder:
    result: AnalysisResult
    lang: Language
    blocks: list[Block] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.blocks.append(Block("heading", text))

    def paragraph(self, text: str) -> None:
        self.blocks.append(Block("paragraph", text))

    def items(self, items: Sequence[str]) -> None:
        self.blocks.append(Block("list", items=tuple(items)))

    def figure(self, caption: str, png: bytes) -> None:
        self.blocks.append(Block("figure", caption, png=png))

    def table(
        self,
        caption: str,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        numeric: Sequence[int] = (),
        result_column: int | None = None,
        row_classes: Sequence[str] | None = None,
        short: Sequence[int] = (),
        cell_styles: Sequence[Sequence[str]] = (),
    ) -> None:
        cell_classes = [
            "num"
            if k in numeric
            else "result"
            if k == result_column
            else "short"
            if k in short
            else ""
            for k in range(len(header))
        ]
        self.blocks.append(
            Block(
                "table",
                caption,
                header=tuple(header),
                rows=tuple(tuple(row) for row in rows),
                row_classes=tuple(row_classes or [""] * len(rows)),
                cell_classes=tuple(cell_classes),
                cell_styles=tuple(tuple(r) for r in cell_styles),
            )
        )

    def section(self, section_id: str, title_key: str) -> Section:
        section = Section(section_id, _t(title_key, self.lang), tuple(self.blocks))
        self.blocks = []
        return section


def _number(value: float, digits: int = 0) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value:,.{digits}f}"


def _share(value: float) -> str:
    return f"{value:.1%}" if np.isfinite(value) else "–"


def _minutes(label: str) -> str:
    return label.removesuffix("min")


def _within(threshold: Any, lang: Language) -> str:
    """A rule's walking threshold (``"10min"``) as text; ``-`` for a rule without one
    (a per-capita or per-household ratio)."""
    if threshold is None or (isinstance(threshold, float) and not np.isfinite(threshold)):
        return "-"
    label = str(threshold).strip()
    if not label or label.lower() in ("nan", "none"):
        return "-"
    return _t("within", lang, minutes=_minutes(label))


def build_report(
    result: AnalysisResult,
    sitings: Sequence[SitingResult] = (),
    *,
    config: AnalyzeConfig | None = None,
    inputs: Sequence[InputFile] = (),
    lang: Language = "zh",
    title: str | None = None,
    maps: bool = True,
    now: dt.datetime | None = None,
    author: str | None = None,
    study_area: str | None = None,
) -> ReportDocument:
    """Assemble the report of an analysis and its siting runs.

    Parameters
    ----------
    result : AnalysisResult
        The analysis of every category.
    sitings : sequence of SitingResult
        Siting runs to report (may be empty).
    config : AnalyzeConfig, optional
        The settings used (speed profile name, snapping distance, provision method).
    inputs : sequence of InputFile
        The input files for the data-sources table (default: from ``config``).
    lang : {"zh", "en"}
        Language of the text (table values such as facility names stay as they are).
    title : str, optional
        Title (default: the standard title in ``lang``).
    maps : bool
        Draw the static maps (turn off for a quick text-only build).
    now : datetime, optional
        Generation time printed on the report (default: now, UTC).
    author : str, optional
        Who prepared the report (the cover's author field; a blank line to sign when
        omitted).
    study_area : str, optional
        The study area named on the cover (default: the network file and the units).

    Returns
    -------
    ReportDocument
    """
    when = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    builder = _Builder(result, lang)
    if not inputs and config is not None:
        inputs = input_files(config)
    elif not inputs:
        inputs = [InputFile("role_network", Path(result.reach.network.source))]
    sections = [
        _verdicts(builder),
        _summary(builder, sitings),
        _data_method(builder, config, inputs),
        _coverage(builder, maps),
        _compliance(builder, maps),
        _sites(builder, sitings, maps),
        _quality(builder),
        _appendix(builder),
    ]
    data_section = next(s for s in sections if s.id == "data")
    sources = next((b for b in data_section.blocks if b.kind == "table"), None)
    return ReportDocument(
        title=title or _t("default_title", lang),
        lang=lang,
        generated=_t("generated", lang, when=when, version=__version__),
        sections=tuple(sections),
        attribution=_t("attribution", lang),
        cover=tuple(_cover_rows(result, config, lang, when[:10], study_area)),
        cover_sources=sources,
        author_label=_t("cover_author", lang),
        author=author or "",
        signature_label=_t("cover_signature", lang),
    )


def _cover_rows(
    result: AnalysisResult,
    config: AnalyzeConfig | None,
    lang: Language,
    date: str,
    study_area: str | None,
) -> list[tuple[str, str]]:
    """The cover's fields: study area, date, standard, profile and settings."""
    network = Path(str(result.reach.network.source)).name
    units = len(result.districts)
    area = study_area or _t("cover_study_area_value", lang, network=network, units=units)
    standard = result.standard
    area_type = config.area_type if config is not None else None
    profile = " · ".join(
        part
        for part in (
            standard.name,
            _t(f"area_{area_type}", lang) if area_type in ("new", "old") else "",
            _speed_line(config, result.reach.speed_m_s, lang),
            _t(f"basis_{result.reach.threshold_basis}", lang),
        )
        if part
    )
    return [
        (_t("cover_study_area", lang), area),
        (_t("cover_date", lang), date),
        (_t("cover_standard", lang), name_of(standard, lang)),
        (_t("cover_profile", lang), profile),
    ]


def _verdicts(b: _Builder) -> Section:
    """The one-page verdict matrix: every unit with residents × every rule."""
    result, lang = b.result, b.lang
    words = {
        "pass": _t("verdict_pass", lang),
        "fail": _t("verdict_fail", lang),
        "na": _t("verdict_na", lang),
        "unit": _t("unit_column", lang),
    }
    header, rows, styles, key = verdict_matrix(result.districts, result.rules, words, lang)
    b.paragraph(_t("verdicts_intro", lang))
    b.table(
        "",
        header,
        rows,
        short=range(1, len(header)),
        cell_styles=styles,
    )
    b.table(
        _t("verdict_key", lang).rstrip("：:"),
        [_t("rule_code", lang), _t("rule", lang)],
        [list(item) for item in key],
        short=(0,),
    )
    return b.section("verdicts", "verdicts")


def input_files(config: AnalyzeConfig, candidates: Sequence[Path] = ()) -> list[InputFile]:
    """The input files of an analysis and of its siting candidates, with their roles."""
    reach = config.reach
    files = [InputFile("role_network", reach.network)]
    files.append(InputFile("role_facilities", reach.facilities, "from_network_file"))
    if config.population:
        files += [InputFile("role_population", path) for path in config.population]
    else:
        files.append(InputFile("role_population", None, "from_buildings"))
    files.append(
        InputFile(
            "role_districts",
            config.districts,
            "from_hexagons" if config.district_mode == "hexagons" else "from_blocks",
        )
    )
    files += [InputFile("role_candidates", path) for path in candidates]
    return files


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------


def _category_name(result: AnalysisResult, category: str, lang: Language) -> str:
    for reach in result.reach.categories:
        if reach.category.id == category:
            return name_of(reach.category, lang)
    return category


def _rule_name(rule: Mapping[Any, Any], lang: Language) -> str:
    return str(rule["name_zh"] if lang == "zh" else rule["name_en"])


def _target_unit(rule: Mapping[Any, Any], lang: Language) -> str:
    """The unit of a rule's target: the standard's own (English) text, or in Chinese
    from the metric and supply (平方米/人, 平方米/百户, 托位/千人, %)."""
    if lang == "en":
        return str(rule.get("target_unit", rule.get("unit", "")))
    metric, supply = str(rule.get("metric", "")), str(rule.get("supply", ""))
    if metric in ("coverage", "unit_share"):
        return "%"
    return _t(f"target_{metric}", lang, unit=_t(f"supply_short_{supply}", lang))


def _supply_unit(rule: Mapping[Any, Any], lang: Language) -> str:
    """The unit of a rule's required, supplied and shortfall totals (m², places, residents)."""
    if lang == "en":
        return str(rule.get("unit", ""))
    return _t(f"supply_unit_{rule.get('supply', '')}", lang)


def _summary(b: _Builder, sitings: Sequence[SitingResult]) -> Section:
    result, lang = b.result, b.lang
    summary = result.summary()
    residents = summary["residents"]
    b.paragraph(
        _t(
            "summary_residents",
            lang,
            population=_number(residents["population"]),
            households=_number(residents["households"]),
            points=_number(residents["points"]),
            districts=summary["districts"],
            standard=name_of(result.standard, lang),
        )
    )
    rules = summary["rules"]
    all_pass = sum(
        1
        for item in rules.values()
        if item["districts_passing"] == item.get("districts_applicable", item["districts"])
    )
    failing = _failing_districts(result)
    b.paragraph(
        _t("summary_rules", lang, rules=len(rules), all_pass=all_pass, failing=int(failing.sum()))
    )
    _attainment(b, summary)
    for siting in sitings:
        b.paragraph(_siting_sentence(result, siting, lang))
    header, rows = _coverage_rows(result, lang)
    b.table(_t("headline_table", lang), header, rows, numeric=range(1, len(header)))
    return b.section("summary", "summary")


def _failing_districts(result: AnalysisResult) -> np.ndarray:
    columns = [f"{rid}_verdict" for rid in result.rules["id"]]
    if not columns or columns[0] not in result.districts.columns:
        columns = [f"{rid}_pass" for rid in result.rules["id"]]
        if not columns:
            return np.zeros(len(result.districts), dtype=bool)
        passes = result.districts[columns].to_numpy(dtype=bool)
        return np.asarray(~passes.all(axis=1))
    # A unit fails when it fails a rule; not applicable is neither pass nor fail.
    return np.asarray((result.districts[columns].to_numpy() == "fail").any(axis=1))


def _attainment(b: _Builder, summary: Mapping[str, Any]) -> None:
    """The share of units meeting each rule, and the unit-share targets."""
    lang = b.lang
    rules = {str(r["id"]): r for r in b.result.rules.to_dict("records")}
    rows = []
    for rid, item in summary["rules"].items():
        if "districts_applicable" not in item:
            continue
        rate = item["attainment_rate"]
        rows.append(
            [
                _rule_name(rules[rid], lang),
                group_label(str(item.get("group", "")), lang),
                f"{item['districts_passing']}/{item['districts_applicable']}",
                "-" if rate is None else f"{rate:g} %",
                str(item["districts_not_applicable"]),
            ]
        )
    if rows:
        header = [
            _t("rule", lang),
            _t("group", lang),
            _t("attainment_units", lang),
            _t("attainment_rate", lang),
            _t("not_applicable", lang),
        ]
        b.table(_t("attainment_table", lang), header, rows, numeric=(3, 4))
    shares = summary.get("unit_shares", {})
    if shares:
        header = [_t("rule", lang), _t("attainment_units", lang), _t("share_target", lang)]
        rows = [
            [
                str(item["name_zh"] if lang == "zh" else item["name_en"]),
                f"{item['meeting']}/{item['applicable']}",
                ("-" if item["share"] is None else f"{item['share']:g} %")
                + f" / {item['target']:g} %",
            ]
            for item in shares.values()
        ]
        b.table(_t("unit_shares_table", lang), header, rows)


def _siting_sentence(result: AnalysisResult, siting: SitingResult, lang: Language) -> str:
    summary = siting.summary
    label = str(summary["threshold"])
    coverage = summary["coverage"][label]
    return _t(
        "summary_sites",
        lang,
        sites=len(siting.sites),
        category=_category_name(result, str(summary["category"]), lang),
        threshold=_t("within", lang, minutes=_minutes(label)),
        gained=_number(float(summary["residents_gained"])),
        before=_share(coverage["share_before"]),
        after=_share(coverage["share_after"]),
    )


def _coverage_rows(result: AnalysisResult, lang: Language) -> tuple[list[str], list[list[str]]]:
    """One row per category: facilities, then the share within each of its thresholds."""
    shares = result.summary()["share_of_residents_within"]
    labels = sorted(
        {label for item in shares.values() for label in item}, key=lambda x: float(_minutes(x))
    )
    header = [
        _t("category", lang),
        _t("facilities_count", lang),
        *(_t("within", lang, minutes=_minutes(label)) for label in labels),
    ]
    facilities = result.reach.facilities["category"].value_counts()
    rows = []
    for reach in result.reach.categories:
        cid = reach.category.id
        rows.append(
            [
                name_of(reach.category, lang),
                _number(int(facilities.get(cid, 0))),
                *(_share(shares[cid][label]) if label in shares[cid] else "" for label in labels),
            ]
        )
    return header, rows


def _data_method(b: _Builder, config: AnalyzeConfig | None, inputs: Sequence[InputFile]) -> Section:
    result, lang = b.result, b.lang
    rows = []
    for item in inputs:
        if item.path is None:
            description = _t(item.description, lang, size=_hexagon_size(config))
            rows.append([_t(item.role, lang), description, "", ""])
            continue
        data_date = osm_data_date(item.path) if _is_osm(item.path) else None
        date = data_date or _t("not_stated", lang)
        rows.append([_t(item.role, lang), item.path.name, date, _modified(item.path)])
    for path in result.standard.files:
        rows.append([_t("role_standard", lang), Path(path).name, "", _modified(path)])
    header = [_t("input", lang), _t("file", lang), _t("data_date", lang), _t("modified", lang)]
    b.table(_t("data_sources", lang), header, rows)
    _demand_lines(b)

    network = result.reach.network.summary()
    islands = network["islands"]
    speed = result.reach.speed_m_s
    profile_line = _speed_line(config, speed, lang)
    settings = [
        [_t("crs", lang), f"{result.reach.network.crs.name} ({network['crs']})"],
        [
            _t("network_size", lang),
            _t(
                "network_size_value",
                lang,
                nodes=_number(network["nodes"]),
                edges=_number(network["edges"]),
                km=_number(network["length_km"], 2),
                islands=islands["components"],
                island_km=_number(islands["length_km"], 2),
            ),
        ],
        [_t("speed", lang), profile_line],
        [_t("basis", lang), _t(f"basis_{result.reach.threshold_basis}", lang)],
        [
            _t("snapping", lang),
            _t(
                "snapping_value",
                lang,
                max_snap=_number(config.reach.max_snap_m if config else float("nan")),
            ),
        ],
        [
            _t("provision_method", lang),
            _t(
                "method_containment" if config and config.method == "inside" else "method_2sfca",
                lang,
            ),
        ],
        [
            _t("standard_profile", lang),
            " — ".join(
                part
                for part in (
                    name_of(result.standard, lang),
                    result.standard.description if lang == "en" else "",
                )
                if part
            ),
        ],
    ]
    b.table(_t("method_settings", lang), [_t("setting", lang), _t("value", lang)], settings)

    header = [
        _t("rule", lang),
        _t("target_new", lang),
        _t("target_old", lang),
        _t("unit", lang),
        _t("threshold", lang),
        _t("source", lang),
        _t("status", lang),
    ]
    rows = [
        [
            _rule_name(rule, lang),
            f"{rule['value_new']:g}",
            f"{rule['value_old']:g}",
            _target_unit(rule, lang),
            _within(rule["threshold"], lang),
            str(rule["source"]),
            _t(f"status_{rule['status']}", lang),
        ]
        for rule in result.rules.to_dict("records")
    ]
    b.table(_t("standard_rules", lang), header, rows, numeric=(1, 2), short=(3, 4, 6))
    return b.section("data", "data_method")


def _demand_lines(b: _Builder) -> None:
    """How the units were formed, which groups are estimated, and the residents check."""
    result, lang = b.result, b.lang
    lines = []
    if result.units_note:
        lines.append(_t("units_formed", lang, note=localize(result.units_note, lang)))
    for gid, source in result.group_sources.items():
        if source.estimated:
            if isinstance(source.note, Message):  # it names the group itself, in ``lang``
                lines.append(source.note.text(lang))
            else:
                lines.append(
                    _t("group_estimated", lang, group=group_label(gid, lang), note=source.note)
                )
    if lines:
        b.items([file_names_only(line) for line in lines])  # no server folders
    check = result.plausibility
    if check is not None:
        b.heading(_t("residents_check", lang))
        if check.warnings:
            b.items(check.messages(lang))
        else:
            b.paragraph(_t("residents_check_ok", lang, density=_number(check.residents_per_km2)))


def _modified(path: Path) -> str:
    if not path.exists():
        return ""
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).strftime("%Y-%m-%d")


def _is_osm(path: Path) -> bool:
    return any(part in _OSM_SUFFIXES for part in (s.lower() for s in path.suffixes))


def _hexagon_size(config: AnalyzeConfig | None) -> str:
    return _number(config.hexagon_size_m) if config is not None else "–"


def _speed_line(config: AnalyzeConfig | None, speed: float, lang: Language) -> str:
    profiles = load_speed_profiles()
    name = (config.reach.speed_profile if config else None) or profiles.default
    explicit = config is not None and config.reach.speed_m_s is not None
    profile = profiles.profiles.get(name)
    if profile is None or explicit:
        return f"{speed:g} m/s"
    source = profile.source_zh if lang == "zh" and profile.source_zh else profile.source
    return _t("speed_value", lang, name=name_of(profile, lang), speed=f"{speed:g}", source=source)


def _coverage(b: _Builder, maps: bool) -> Section:
    result, lang = b.result, b.lang
    header, rows = _coverage_rows(result, lang)
    b.table("", header, rows, numeric=range(1, len(header)))
    if maps:
        b.paragraph(_t("coverage_intro", lang))
        for reach in result.reach.categories:
            b.figure(
                _t("coverage_map", lang, category=name_of(reach.category, lang)),
                coverage_png(result, reach.category.id, lang),
            )
    return b.section("coverage", "coverage")


def _compliance(b: _Builder, maps: bool) -> Section:
    result, lang = b.result, b.lang
    b.paragraph(_t("compliance_intro", lang))
    if maps and len(result.districts):
        b.figure(_t("compliance_map", lang), compliance_png(result, lang))
    rules = result.rules.to_dict("records")
    header = [
        _t("rule", lang),
        _t("required", lang),
        _t("supplied", lang),
        _t("shortfall", lang),
        _t("unit", lang),
        _t("result", lang),
        _t("source", lang),
    ]
    districts = result.districts
    for row in districts.itertuples(index=False):
        record = row._asdict()
        if not float(record["population"]) > 0:
            continue
        cells, classes = [], []
        for rule in rules:
            rid = str(rule["id"])
            if record.get(f"{rid}_verdict") == "not_applicable":
                continue  # none of the rule's group lives here: 不适用, not a pass
            passed = bool(record[f"{rid}_pass"])
            cells.append(
                [
                    _rule_name(rule, lang),
                    _number(float(record[f"{rid}_required"]), 1),
                    _number(float(record[f"{rid}_supplied"]), 1),
                    _number(float(record[f"{rid}_shortfall"]), 1),
                    _supply_unit(rule, lang),
                    _t("pass" if passed else "fail", lang),
                    str(rule["source"]),
                ]
            )
            classes.append("pass" if passed else "fail")
        area = (
            _t(f"area_{record['area_type']}", lang) if record["area_type"] in ("new", "old") else ""
        )
        caption = (
            f"{_t('district', lang)} {unit_label(record['district_id'], record.get('name'))}"
            + (f" · {area}" if area else "")
            + f" · {_t('residents', lang)} {_number(float(record['population']))}"
        )
        b.table(
            caption,
            header,
            cells,
            numeric=(1, 2, 3),
            result_column=5,
            row_classes=classes,
            short=(4,),
        )
    return b.section("compliance", "compliance")


def _sites(b: _Builder, sitings: Sequence[SitingResult], maps: bool) -> Section:
    result, lang = b.result, b.lang
    if not sitings:
        b.paragraph(_t("no_sites", lang))
    for siting in sitings:
        summary, solution = siting.summary, siting.solution
        category = _category_name(result, str(summary["category"]), lang)
        label = str(summary["threshold"])
        b.heading(f"{category} · {_t('within', lang, minutes=_minutes(label))}")
        b.paragraph(_siting_sentence(result, siting, lang))
        source = str(summary["candidate_source"])
        b.paragraph(
            _t(
                "sites_intro",
                lang,
                candidates=_t(
                    "candidates_network" if source == "network" else "candidates_user", lang
                ),
                n=summary["candidates"],
                method=_t(f"method_{solution.method}", lang),
                status=_solver_status(solution.status, lang),
                gap=_share(solution.gap) if np.isfinite(solution.gap) else "–",
                bound=_number(solution.bound, 1),
            )
        )
        if solution.method == "greedy" and solution.status != "optimal":
            b.paragraph(_t("greedy_label", lang))
        streets = street_names(result.reach.network, siting.sites.geometry)
        header = [
            _t("rank", lang),
            _t("street", lang),
            _t("lon", lang),
            _t("lat", lang),
            _t("gained", lang),
            _t("capacity", lang),
            _t("site_size", lang),
            _t("access", lang),
        ]
        rows = [
            [
                str(site.rank),
                streets[k] or _t("street_unknown", lang),
                f"{site.geometry.x:.6f}",
                f"{site.geometry.y:.6f}",
                _number(float(site.residents_gained)),
                _number(float(site.capacity)),
                _site_size(site, lang),
                _number(float(site.access_m), 1),
            ]
            for k, site in enumerate(siting.sites.itertuples())
        ]
        b.table(_t("site", lang), header, rows, numeric=(0, 2, 3, 4, 5, 7), short=(6,))
        b.table(
            _t("before_after", lang),
            ["", _t("before", lang), _t("after", lang)],
            _before_after_rows(result, siting, lang),
            numeric=(1, 2),
        )
        if maps:
            b.figure(_t("sites_map", lang, category=category), sites_png(siting, lang))
    return b.section("sites", "sites")


def _site_size(site: Any, lang: Language) -> str:
    """A new site's size in each supply it carries, e.g. "建筑面积 268 平方米"."""
    parts = [
        t(f"capacity_short_{column}", lang, value=float(getattr(site, column)))
        for column in CAPACITY_COLUMNS
        if np.isfinite(float(getattr(site, column, np.nan)))
    ]
    return _t("list_separator", lang).join(parts) or "–"


def _rule_note(rule: Any, lang: Language) -> str:
    """A rule's note in ``lang``: profiles write ``note`` in English (and may add
    ``note_zh``); a Chinese report without a Chinese note points to the English one."""
    note = getattr(rule, "note", None)
    if lang == "en" or not note:
        return note or ""
    return getattr(rule, "note_zh", None) or _t("note_in_english", lang)


def _solver_status(status: str, lang: Language) -> str:
    known = ("optimal", "time_limit", "greedy", "incomplete")
    return _t(f"solver_{status}", lang) if status in known else status


def _before_after_rows(
    result: AnalysisResult, siting: SitingResult, lang: Language
) -> list[list[str]]:
    summary = siting.summary
    rows = [
        [
            _t("coverage_row", lang, minutes=_minutes(label)),
            _share(item["share_before"]),
            _share(item["share_after"]),
        ]
        for label, item in summary["coverage"].items()
    ]
    records = {str(r["id"]): r for r in result.rules.to_dict("records")}
    for rid, item in summary["rules"].items():
        record = records.get(rid)
        rule = _rule_name(record, lang) if record else rid
        unit = _supply_unit(record, lang) if record else str(item["unit"])
        rows.append(
            [
                _t("shortfall_row", lang, rule=rule, unit=unit),
                _number(item["shortfall_before"], 1),
                _number(item["shortfall_after"], 1),
            ]
        )
        rows.append(
            [
                _t("passing_row", lang, rule=rule),
                f"{item['districts_passing_before']}/{item['districts']}",
                f"{item['districts_passing_after']}/{item['districts']}",
            ]
        )
    return rows


def _quality(b: _Builder) -> Section:
    result, lang = b.result, b.lang
    unroutable = result.reach.unroutable
    b.heading(_t("unroutable_facilities", lang))
    if len(unroutable):
        rows = [
            [
                str(row.facility_id),
                str(row.name or ""),
                _category_name(result, str(row.category), lang),
                localize(row.reason, lang),
            ]
            for row in unroutable.itertuples()
        ]
        header = ["ID", _t("name", lang), _t("category", lang), _t("reason", lang)]
        b.table("", header, rows)
    else:
        b.paragraph(_t("unroutable_none", lang))
    lost = result.reach.demand_unroutable
    if len(lost):
        population = result.residents["population"].to_numpy(dtype=np.float64)
        owners = lost["owner"].to_numpy(dtype=np.int64)
        b.paragraph(
            _t(
                "unroutable_residents",
                lang,
                points=_number(len(lost)),
                population=_number(float(population[owners].sum())),
            )
        )
    b.heading(_t("notes", lang))
    if result.notes:
        b.items([file_names_only(localize(note, lang)) for note in result.notes])
    else:
        b.paragraph(_t("notes_none", lang))
    return b.section("quality", "quality")


def _appendix(b: _Builder) -> Section:
    """Every rule of the standard with its document, clause, quoted sentence and status."""
    lang = b.lang
    rules = b.result.standard.rules
    open_rules = [r for r in rules if r.status != "confirmed"]
    b.paragraph(_t("appendix_intro", lang))
    if not open_rules:
        b.paragraph(_t("appendix_none", lang))
    header = [
        _t("rule", lang),
        _t("status", lang),
        _t("target_new", lang),
        _t("target_old", lang),
        _t("unit", lang),
        _t("source", lang),
        _t("clause", lang),
        _t("quote", lang),
        _t("note", lang),
    ]
    rows = [
        [
            name_of(rule, lang),
            _t(f"status_{rule.status}", lang),
            f"{rule.value_new:g}",
            f"{rule.value_old:g}",
            _target_unit({"unit": rule.unit, "metric": rule.metric, "supply": rule.supply}, lang),
            rule.source.document,
            rule.source.clause,
            rule.source.quote,
            _rule_note(rule, lang),
        ]
        for rule in rules
    ]
    b.table("", header, rows, numeric=(2, 3), short=(1,))
    return b.section("appendix", "appendix")


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(document: ReportDocument) -> str:
    """The report as one self-contained HTML page (maps embedded as data URIs)."""
    return _environment().get_template("report.html.j2").render(doc=document)


def render_pdf(html: str) -> bytes:
    """Print the report's HTML to PDF (A4) with WeasyPrint.

    Raises
    ------
    FontMissingError
        When no CJK font is installed: Chinese would print as empty boxes.
    """
    if not cjk_font_names():
        raise FontMissingError(
            "no font with Chinese glyphs is installed, so the PDF cannot show Chinese text; "
            "install one (Debian/Ubuntu: apt-get install fonts-noto-cjk, or `make system`) "
            "and run again"
        )
    import weasyprint  # type: ignore[import-untyped]  # imported here: it loads Pango, which only the PDF needs

    return bytes(weasyprint.HTML(string=html, base_url=str(_TEMPLATES)).write_pdf())


def report_sheets(
    result: AnalysisResult, sitings: Sequence[SitingResult], document: ReportDocument
) -> dict[str, pd.DataFrame]:
    """Workbook sheets: the report's tables (summary, sources, sites), then provision sheets."""
    sheets: dict[str, pd.DataFrame] = {}
    for section in document.sections:
        for block in section.blocks:
            if block.kind != "table" or section.id == "compliance":
                continue
            name = block.caption or section.title
            frame = pd.DataFrame(list(block.rows), columns=_unique(block.header))
            sheets[_sheet_title(name, sheets)] = frame
    lang = document.lang
    for siting in sitings:
        category = _category_name(result, str(siting.summary["category"]), lang)
        title = _t("sites_sheet", lang, category=category)
        sheets[_sheet_title(title, sheets)] = _sites_sheet(sites_table(siting.sites), lang)
    return provision_workbook(result, lang, sheets)


def provision_workbook(
    result: AnalysisResult, lang: Language, sheets: Mapping[str, pd.DataFrame] | None = None
) -> dict[str, pd.DataFrame]:
    """The provision sheets (rules, attainment, one per rule) in ``lang`` only.

    Parameters
    ----------
    result : AnalysisResult
        The analysis.
    lang : {"zh", "en"}
        The language of sheet names, headers and notes.
    sheets : mapping, optional
        Sheets that come first (their names are kept unique against the new ones).
    """
    out = dict(sheets or {})
    bilingual = provision_sheets(result)
    rule_titles = _rule_sheet_titles(bilingual, lang)
    for name, frame in bilingual.items():
        group = "服务对象 Group"
        if group in frame.columns:  # demand group ids, shown by their names
            frame = frame.assign(**{group: [group_label(str(g), lang) for g in frame[group]]})
        title = rule_titles.get(name) or one_language(name, lang)
        out[_sheet_title(title, out)] = _one_language_frame(frame, lang)
    return out


def one_language_sheets(
    sheets: Mapping[str, pd.DataFrame],
    lang: Language,
    first: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, pd.DataFrame]:
    """Bilingual provision sheets (:func:`radius.report.rule_sheets`) in ``lang`` only.

    Parameters
    ----------
    sheets : mapping
        Sheets with bilingual names, headers and labels (``"规则 Rules"``).
    lang : {"zh", "en"}
        The language.
    first : mapping, optional
        Sheets that come first, already in ``lang``.
    """
    out = dict(first or {})
    rule_titles = _rule_sheet_titles(sheets, lang)
    for name, frame in sheets.items():
        title = rule_titles.get(name) or one_language(name, lang)
        out[_sheet_title(title, out)] = _one_language_frame(frame, lang)
    return out


def _rule_sheet_titles(sheets: Mapping[str, pd.DataFrame], lang: Language) -> dict[str, str]:
    """Sheet titles of the rules' own sheets, by rule id, from the bilingual rules sheet.

    A rule's sheet is keyed by its id, which is English: a Chinese workbook names it by the
    rule's Chinese name instead (each fits Excel's 31 characters), so its tabs are Chinese.
    """
    rules = sheets.get("规则 Rules")
    id_column, name_column = RULE_HEADERS["id"], RULE_HEADERS["name_zh"]
    if lang != "zh" or rules is None or not {id_column, name_column} <= set(rules.columns):
        return {}
    return {
        str(rid): str(name)
        for rid, name in zip(rules[id_column], rules[name_column], strict=True)
        if rid in sheets and isinstance(name, str) and name.strip()
    }


def sites_sheet_of(
    sites: gpd.GeoDataFrame, title: str, lang: Language, sheets: Mapping[str, Any]
) -> dict[str, pd.DataFrame]:
    """The suggested sites as one sheet named ``title`` (unique among ``sheets``), in ``lang``."""
    return {_sheet_title(title, sheets): _sites_sheet(sites_table(sites), lang)}


_SITE_COLUMNS = (
    "site_id",
    "rank",
    "category",
    "residents_gained",
    "capacity",
    "candidate_id",
    "access_m",
    "district_id",
    "floor_area_m2",
    "land_area_m2",
    "beds",
    "places",
    "size_basis",
    "lon",
    "lat",
)


def _sites_sheet(frame: pd.DataFrame, lang: Language) -> pd.DataFrame:
    """The suggested sites with headers and size bases in ``lang``."""
    out = frame.copy()
    if "size_basis" in out.columns:
        out["size_basis"] = [
            "; ".join(_basis_label(part, lang) for part in str(value).split("; ") if part)
            for value in out["size_basis"]
        ]
    names = {c: _t(f"site_column_{c}", lang) for c in _SITE_COLUMNS if c in out.columns}
    return out.rename(columns=names)


def _basis_label(part: str, lang: Language) -> str:
    column, _, basis = part.rpartition("=")
    label = _t(f"size_basis_{basis}", lang) if basis in _SIZE_BASES else basis
    if not column:
        return label
    return f"{t(f'capacity_{column}', lang)}={label}" if column in CAPACITY_COLUMNS else part


_SIZE_BASES = ("user", "candidates", "shortfall", "min_site", "none")
_BILINGUAL = re.compile(r"^(?P<zh>[^A-Za-z]*[\u4e00-\u9fff][^A-Za-z]*?)\s+(?P<en>[A-Za-z].*)$")


def one_language(label: str, lang: Language) -> str:
    """One language of a bilingual label such as ``"规则编号 Rule ID"`` or ``"达标 pass"``.

    The Chinese part (with a trailing unit in brackets kept, ``"单位内配建（m²）"``) or the
    English part; any other text as it is.
    """
    match = _BILINGUAL.match(label)
    if match is None:
        return label
    zh, en = match.group("zh").strip(), match.group("en").strip()
    if lang == "en":
        return en
    unit = re.search(r"\(([^()]*)\)$", en)
    if unit and not re.search(r"[A-Za-z]{2,}", unit.group(1)):
        return f"{zh}（{unit.group(1)}）"
    return zh


def _one_language_frame(frame: pd.DataFrame, lang: Language) -> pd.DataFrame:
    """A provision sheet with bilingual headers and labels reduced to ``lang``.

    The rule sheet keeps the rule names of ``lang`` only, and shows categories, metrics,
    supplies, demand groups and statuses by their names in it, not by their ids (Chinese
    units from the metric and supply, as the report does).
    """
    out = frame.copy()
    other = RULE_HEADERS["name_en" if lang == "zh" else "name_zh"]
    if other in out.columns:
        out = out.drop(columns=other)
    status = RULE_HEADERS["status"]
    if status in out.columns:
        out[status] = [_t(f"status_{v}", lang) for v in out[status]]
    group_header = RULE_HEADERS.get("group", "服务对象 Demand group")
    out = out.rename(columns={"group": group_header})
    metric, supply = RULE_HEADERS["metric"], RULE_HEADERS["supply"]
    if metric in out.columns and supply in out.columns:
        rules = [{"metric": m, "supply": u} for m, u in zip(out[metric], out[supply], strict=True)]
        # The standard's own unit texts are English; a Chinese sheet renders them anew.
        for key, render in (("target_unit", _target_unit), ("unit", _supply_unit)):
            if lang == "zh" and RULE_HEADERS[key] in out.columns:
                out[RULE_HEADERS[key]] = [render(rule, lang) for rule in rules]
        out[metric] = [_t(f"metric_{m}", lang) for m in out[metric]]
        out[supply] = [_t(f"supply_short_{u}", lang) for u in out[supply]]
        if RULE_HEADERS["category"] in out.columns:
            out[RULE_HEADERS["category"]] = [
                category_label(str(c), lang) for c in out[RULE_HEADERS["category"]]
            ]
        if group_header in out.columns:
            out[group_header] = [group_label(str(g), lang) for g in out[group_header]]
    for column in out.columns:
        values = list(out[column])
        if str(column) not in _VERBATIM_COLUMNS and any(isinstance(v, str) for v in values):
            out[column] = [one_language(v, lang) if isinstance(v, str) else v for v in values]
    return out.rename(columns=lambda c: one_language(str(c), lang))


_VERBATIM_COLUMNS = frozenset(
    {
        RULE_HEADERS["id"],
        RULE_HEADERS["name_zh"],
        RULE_HEADERS["name_en"],
        RULE_HEADERS["source"],
        "区域编号 District ID",
        "名称 Name",
    }
)
"""Columns of text shown as written: a citation such as "…采用，见宿州市规划 专栏11" or a
unit named "新街口 Xinjiekou" would otherwise be cut where a Latin word follows a space."""


def _unique(header: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for name in header:
        count = seen.get(name, 0)
        seen[name] = count + 1
        names.append(name if count == 0 else f"{name} ({count + 1})")
    return names


def _sheet_title(name: str, existing: Mapping[str, Any]) -> str:
    base = name.strip() or "sheet"
    candidate, k = base, 2
    while candidate in existing:
        candidate, k = f"{base} {k}", k + 1
    return candidate


def report_layers(
    result: AnalysisResult, sitings: Sequence[SitingResult]
) -> dict[str, gpd.GeoDataFrame]:
    """GeoPackage layers: residents, districts, facilities, shortfall, unroutable, sites."""
    layers: dict[str, gpd.GeoDataFrame] = {
        "residents": result.residents,
        "districts": result.districts,
        "facilities": displayable_facilities(result.reach.facilities),
        "shortfall": result.shortfall,
        "unroutable": result.reach.unroutable,
    }
    if sitings:
        layers["sites"] = gpd.GeoDataFrame(
            pd.concat([s.sites for s in sitings], ignore_index=True), crs=sitings[0].sites.crs
        )
    return layers


def report_writers(
    result: AnalysisResult,
    sitings: Sequence[SitingResult],
    document: ReportDocument,
    *,
    formats: Sequence[str] = ("html", "pdf", "xlsx", "gpkg"),
) -> dict[str, Writer]:
    """Writers of ``report.html``, ``report.pdf``, ``report.xlsx`` and ``results.gpkg``.

    The HTML is rendered once and printed to PDF from that same text.
    """
    html = render_html(document)
    writers: dict[str, Writer] = {}
    makers: dict[str, tuple[str, Callable[[], Writer]]] = {
        "html": ("report.html", lambda: _text_writer(html)),
        "pdf": ("report.pdf", lambda: _pdf_writer(html)),
        "xlsx": ("report.xlsx", lambda: xlsx_writer(report_sheets(result, sitings, document))),
        "gpkg": ("results.gpkg", lambda: gpkg_writer(report_layers(result, sitings))),
    }
    for kind in formats:
        name, make = makers[kind]
        writers[name] = make()
    return writers


def _text_writer(text: str) -> Writer:
    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    return write


def _pdf_writer(html: str) -> Writer:
    def write(path: Path) -> None:
        path.write_bytes(render_pdf(html))

    return write
