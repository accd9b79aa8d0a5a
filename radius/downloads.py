"""The app's downloads as bytes: GeoPackage, XLSX workbook, PDF report (the HTML map is
:func:`radius.map_assets.map_html`).

Built in a private temporary folder and read back (outputs are written to a temporary file
and renamed, as everywhere in radius), so they can be handed to a browser. No Streamlit.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from radius._errors import RadiusError
from radius._io import gpkg_writer, write_outputs, xlsx_writer
from radius._warnings import collect
from radius.app_inputs import Upload
from radius.facilities import CAPACITY_COLUMNS
from radius.i18n import Language, error_in, t
from radius.pipeline import AnalysisInputs, AnalysisResult, AnalyzeConfig
from radius.sample import default_network_path
from radius.whatif import Proposal, Settings, analyze_config, proposals_frame

if TYPE_CHECKING:
    from radius.siting import SitingResult

__all__ = [
    "Download",
    "gpkg_bytes",
    "page_downloads",
    "prepared",
    "proposal_sitings",
    "report_config",
    "report_pdf_bytes",
    "xlsx_bytes",
]

LOG = logging.getLogger("radius.app")


class Download(NamedTuple):
    """One download of the page: its kind, file name, type and how its bytes are made."""

    kind: str
    file_name: str
    mime: str
    make: Callable[[], bytes]
    help: str | None = None


def page_downloads(
    result: AnalysisResult,
    base: AnalysisResult,
    settings: Settings,
    uploads: Sequence[Upload],
    lang: str,
    *,
    map_bytes: Callable[[], bytes],
    sitings: Callable[[], Sequence[SitingResult]],
) -> tuple[Download, ...]:
    """The page's downloads: results GeoPackage, provision workbook, map, PDF report.

    ``result`` is the analysis shown (with the what-if facilities), ``base`` the one
    without them: the report counts only existing facilities as existing and shows the
    what-ifs (``sitings()``, :func:`proposal_sitings`) as proposed sites.
    """
    return (
        Download(
            "gpkg",
            "radius_results.gpkg",
            "application/geopackage+sqlite3",
            lambda: gpkg_bytes(result),
        ),
        Download(
            "xlsx",
            "radius_provision.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            lambda: xlsx_bytes(result, lang),
        ),
        Download("html", "radius_map.html", "text/html", map_bytes),
        Download(
            "pdf",
            "radius_report.pdf",
            "application/pdf",
            lambda: report_pdf_bytes(base, settings, uploads, lang, sitings=sitings()),
            t("download_pdf_help", lang),
        ),
    )


def prepared(item: Download, lang: str) -> tuple[bytes | None, str | None]:
    """The download's bytes, or the message (in ``lang``) saying why they could not be made."""
    what = t(f"download_{item.kind}", lang)
    try:
        return item.make(), None
    except RadiusError as exc:
        return None, t("error_download", lang, what=what, message=error_in(exc, lang))
    except Exception:
        LOG.exception("preparing the %s download failed", item.kind)
        return None, t("error_download", lang, what=what, message=t("error_bug", lang))


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
    result: AnalysisResult,
    settings: Settings,
    uploads: Sequence[Upload],
    lang: str,
    *,
    sitings: Sequence[SitingResult] = (),
) -> bytes:
    """The analysis as the consultant report's PDF (:mod:`radius.report_document`).

    With what-if facilities, pass the analysis without them as ``result`` and their
    :func:`proposal_sitings` as ``sitings``: the report then counts only existing facilities
    as existing and shows the proposed ones in its siting section, with the figures before
    and after them.
    """
    # Imported on first use: matplotlib and WeasyPrint would slow every start of the app.
    from radius.report_document import build_report, render_html, render_pdf

    config = report_config(settings, uploads)
    with collect():
        document = build_report(
            result, config=config, lang="en" if lang == "en" else "zh", sitings=sitings
        )
        return render_pdf(render_html(document))


def proposal_sitings(
    inputs: AnalysisInputs, network_label: str, settings: Settings, proposals: Sequence[Proposal]
) -> list[SitingResult]:
    """The what-if facilities as siting results, one per category, for the report.

    Each category's proposals are the candidates of :func:`radius.siting.site_facilities`
    and all of them are kept (``keep_all``), with their own sizes, so the report's siting
    section lists every one as a proposed site, with zero gain when it newly covers
    nobody, and coverage and shortfall before and after.
    """
    from radius.siting import site_facilities

    config = analyze_config(settings, Path(network_label))
    sitings = []
    for category in dict.fromkeys(p.category for p in proposals):
        mine = [p for p in proposals if p.category == category]
        frame = proposals_frame(mine)
        candidates = frame[["name", *CAPACITY_COLUMNS, "geometry"]].dropna(axis=1, how="all")
        with collect():
            sitings.append(
                site_facilities(
                    inputs,
                    config,
                    category=category,
                    count=len(mine),
                    candidates=candidates,
                    keep_all=True,
                )
            )
    return sitings


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


def xlsx_bytes(result: AnalysisResult, lang: str = "zh") -> bytes:
    """The provision workbook in ``lang`` only: sheet names, headers and notes (what
    ``radius analyze --lang`` writes, :func:`radius.report_document.provision_workbook`)."""
    # Imported on first use: the report modules would slow every start of the app.
    from radius.report_document import provision_workbook

    language: Language = "en" if lang == "en" else "zh"
    return _written("provision.xlsx", xlsx_writer(provision_workbook(result, language)))


def _written(name: str, writer: Callable[[Path], None]) -> bytes:
    folder = Path(tempfile.mkdtemp(prefix="radius-download-"))
    try:
        with collect():
            (path,) = write_outputs(folder, {name: writer})
        return path.read_bytes()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
