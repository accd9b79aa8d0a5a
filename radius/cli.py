"""Command line: ``radius reach ...``. Errors are printed without a traceback."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from radius import __version__
from radius._errors import InputError, RadiusError
from radius.i18n import message

if TYPE_CHECKING:
    from radius._io import Writer
    from radius.pipeline import AnalysisResult, AnalyzeConfig, ReachConfig, ReachResult
    from radius.report_job import ReportJob

# Imports by need: each command imports what it uses when it runs (radius reach never
# loads dask, folium, matplotlib or WeasyPrint), and the parser fills in only the
# arguments of the command given.

__all__ = ["main", "run"]

SINGLE_THREADED_BLAS = frozenset({"reach"})
"""Commands that start OpenBLAS with one thread unless ``OPENBLAS_NUM_THREADS`` is set.

A reach does no dense linear algebra, yet OpenBLAS starts one spinning worker per core when
numpy loads: 2.8-3.3 % of the CPU samples of ``radius reach`` on Shanghai (#17).
"""


def _limit_blas_threads(command: str | None) -> None:
    """Set ``OPENBLAS_NUM_THREADS=1`` for ``command`` before numpy loads, if the user has not.

    OpenBLAS reads the variable once, when numpy (or scipy) is first imported; later the
    setting has no effect, so this runs first thing in :func:`main`.
    """
    if command in SINGLE_THREADED_BLAS:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; the arguments of ``radius batch`` only when ``command`` is ``"batch"``.

    ``radius batch``'s arguments come from :mod:`radius.batch`, which the other commands
    never import.
    """
    parser = argparse.ArgumentParser(
        prog="radius",
        description="Community life-circle (社区生活圈) walking reach on real street networks.",
    )
    parser.add_argument("--version", action="version", version=f"radius {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True)

    reach = commands.add_parser(
        "reach",
        help="walking distance from every street node to the nearest facility of each category",
        description=(
            "Walking distance and time from every street node to the nearest facility of "
            "each category, facilities within each threshold, and service areas. Writes "
            "OUT/reach.gpkg and OUT/summary.json."
        ),
    )
    _add_reach_arguments(reach, service_areas_default=True)
    reach.add_argument("--out", type=Path, required=True, help="output folder")

    analyze = commands.add_parser(
        "analyze",
        help="check provision standards district by district (reach, ratios, shortfalls)",
        description=(
            "Residents' walking reach to every category, and the provision rules of a "
            "standard profile checked per district with 2SFCA supply sharing. Writes "
            "OUT/results.gpkg, OUT/provision.xlsx and OUT/summary.json."
        ),
    )
    _add_reach_arguments(analyze, service_areas_default=False)
    _add_analysis_arguments(analyze)
    analyze.add_argument("--out", type=Path, required=True, help="output folder")

    site = commands.add_parser(
        "site",
        help="choose sites for new facilities of a category (maximal or set covering)",
        description=(
            "Choose new facility sites on the street network: maximal covering (--count K) "
            "or the fewest sites covering everyone reachable (--objective set_cover), "
            "optionally capacitated and spaced, solved exactly (HiGHS MILP) or greedily for "
            "very large cases. Existing facilities stay. Writes OUT/sites.gpkg and "
            "OUT/summary.json (coverage and shortfall before and after)."
        ),
    )
    _add_reach_arguments(site, service_areas_default=False)
    _add_analysis_arguments(site)
    site.add_argument("--category", required=True, help="category id of the new facilities")
    site.add_argument("--count", type=int, help="number of new sites (maximal covering)")
    site.add_argument(
        "--objective",
        choices=["max_cover", "set_cover"],
        default="max_cover",
        help="maximise residents newly covered by --count sites, or cover all with fewest",
    )
    site.add_argument(
        "--candidates",
        type=Path,
        help="candidate points or plots (GPKG, GeoJSON, zipped SHP); default: street nodes "
        "near uncovered residents",
    )
    site.add_argument("--threshold", help="threshold label, e.g. 15min (default: the rule's)")
    site.add_argument(
        "--capacity",
        help="capacity of every candidate (a number), or the candidates' column holding it",
    )
    site.add_argument(
        "--per-resident",
        type=float,
        help="capacity needed per resident (e.g. 0.1 m²), to turn capacity into residents",
    )
    site.add_argument(
        "--min-spacing", type=float, help="least network distance between new sites (m)"
    )
    site.add_argument(
        "--solver", choices=["auto", "milp", "greedy"], default="auto", help="default auto"
    )
    site.add_argument("--time-limit", type=float, default=30.0, help="MILP time limit (s)")
    site.add_argument(
        "--district",
        action="append",
        dest="site_districts",
        metavar="ID",
        help="site for this district only (repeatable): its residents are the demand and "
        "the sites lie inside it",
    )
    site.add_argument(
        "--size",
        action="append",
        dest="site_size",
        metavar="[SUPPLY=]VALUE",
        help="size of each new site in the supply of the category's ratio rules: a number "
        "for every supply, or e.g. floor_area_m2=300 (repeatable; supplies floor_area_m2, "
        "land_area_m2, beds, places); default what closes the shortfall of the site's unit",
    )
    site.add_argument("--out", type=Path, required=True, help="output folder")

    report = commands.add_parser(
        "report",
        help="consultant report: coverage, compliance, suggested sites (HTML, PDF, XLSX, GPKG)",
        description=(
            "Analyse a district, choose sites for new facilities (--site), and write a "
            "report a planning bureau can file: OUT/report.html, OUT/report.pdf, "
            "OUT/report.xlsx and OUT/results.gpkg. Give the job as flags or as a YAML job "
            "file (--job; then only --out, --lang, --title, --author and --study-area may be "
            "added)."
        ),
    )
    report.add_argument("--job", type=Path, help="YAML report job (see README)")
    _add_reach_arguments(report, service_areas_default=False)
    _add_analysis_arguments(report)
    report.add_argument(
        "--site",
        action="append",
        default=[],
        metavar="CATEGORY[:COUNT]",
        help="suggest COUNT new sites of CATEGORY (maximal covering), or without COUNT the "
        "fewest sites covering everyone (set covering); repeatable",
    )
    report.add_argument("--title", help="report title (default: the standard title)")
    report.add_argument("--author", help="who prepared the report (the cover's author field)")
    report.add_argument(
        "--study-area", help="the study area named on the cover (default: network and units)"
    )
    report.add_argument(
        "--formats",
        default="html,pdf,xlsx,gpkg",
        help="comma-separated outputs among html, pdf, xlsx, gpkg (default all four)",
    )
    report.add_argument("--out", type=Path, required=True, help="output folder")
    report.set_defaults(lang=None)

    batch = commands.add_parser(
        "batch",
        help="check many districts from a YAML job, locally or on a Dask cluster",
        description=(
            "One analysis per district of a YAML job (network clipped to the district plus "
            "its largest threshold), on a local Dask cluster or a running one; resumable. "
            "Writes OUT/districts/<id>/, OUT/batch.gpkg, OUT/batch.xlsx and "
            "OUT/batch_summary.json."
        ),
    )
    if command == "batch":
        from radius.batch import add_batch_arguments

        add_batch_arguments(batch)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named in ``argv``: its first word (the global options take no value)."""
    return next((word for word in argv if not word.startswith("-")), None)


def _add_analysis_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--population",
        type=Path,
        nargs="+",
        default=(),
        help="residents: population raster(s) (GeoTIFF bands on one grid are summed), "
        "building footprints, residential plots with households/population, points "
        "(CSV/XLSX/GeoJSON/GPKG), or an OSM file; "
        "default: residential buildings of the OSM network file",
    )
    command.add_argument(
        "--districts",
        type=Path,
        help="community (社区/居委会/行政村) polygons (GPKG, GeoJSON, zipped SHP), optionally "
        "with statistics (常住人口, 户数, 60岁及以上人口, 0-3岁人口 ...) spread over their "
        "buildings, and area_type new/old; default: blocks bounded by arterial roads, plus "
        "remainder units so that every resident lies in one",
    )
    command.add_argument(
        "--subdistricts",
        type=Path,
        help="sub-district (街道/乡镇) polygons, optionally with statistics; communities nest "
        "in them and 街道 rules are checked on them",
    )
    command.add_argument(
        "--group-raster",
        action="append",
        default=[],
        metavar="GROUP=FILE[,FILE...]",
        help="age/sex rasters of a demand group, bands on one grid summed, e.g. "
        "aged_60_plus=pop_60_f.tif,pop_60_m.tif (repeatable)",
    )
    command.add_argument(
        "--district-mode",
        choices=["blocks", "hexagons"],
        default="blocks",
        help="automatic districts when --districts is not given (default blocks)",
    )
    command.add_argument(
        "--hexagon-size", type=float, default=500.0, help="hexagon side in metres (default 500)"
    )
    command.add_argument(
        "--standard",
        default="national",
        help="standard profile name in configs/standards/ or a YAML path (default national)",
    )
    command.add_argument(
        "--area-type",
        choices=["new", "old"],
        help="treat every district as a new or an old residential area",
    )
    command.add_argument(
        "--method",
        choices=["2sfca", "inside"],
        default="2sfca",
        help="supply counted by two-step floating catchment (default) or inside each district",
    )
    command.add_argument(
        "--household-size", type=float, help="persons per household (default 2.62)"
    )


def _add_reach_arguments(command: argparse.ArgumentParser, *, service_areas_default: bool) -> None:
    from radius.config import DEFAULT_THRESHOLD_BASIS, load_speed_profiles
    from radius.defaults import DEFAULT_BUFFER_M, DEFAULT_MAX_SNAP_M

    command.add_argument(
        "--network",
        type=Path,
        help="OSM file (.osm, .osm.bz2, .osm.pbf), GraphML, or road centre lines "
        "(.gpkg, .geojson, zipped .shp); default: the embedded sample district",
    )
    command.add_argument(
        "--facilities",
        type=Path,
        help="facility inventory (CSV, XLSX, GeoJSON, GPKG, zipped SHP) with name, category, "
        "lon, lat; default: facilities tagged in the OSM network file",
    )
    command.add_argument(
        "--facilities-crs",
        help="coordinates of the inventory: a CRS such as EPSG:4490 (CGCS2000), or gcj02 "
        "(Gaode/Amap, Tencent) or bd09 (Baidu); default WGS-84",
    )
    command.add_argument(
        "--categories",
        help="comma-separated category ids (default: all in configs/categories.yaml)",
    )
    profiles = load_speed_profiles()
    command.add_argument(
        "--speed-profile",
        choices=sorted(profiles.profiles),
        help=f"walking-speed profile (default {profiles.default}: "
        f"{profiles.profiles[profiles.default].speed_m_s} m/s)",
    )
    command.add_argument("--speed", type=float, help="walking speed in m/s (overrides the profile)")
    command.add_argument(
        "--threshold-basis",
        choices=["time", "distance"],
        default=DEFAULT_THRESHOLD_BASIS,
        help="thresholds at the GB 50180-2018 walking distances (distance: 5 min ≈ 300 m, "
        "10 min ≈ 500 m, 15 min 800–1,000 m as the standard profile chooses) or minutes × "
        f"walking speed, each demand group at its own speed (time); default "
        f"{DEFAULT_THRESHOLD_BASIS}",
    )
    command.add_argument(
        "--max-snap",
        type=float,
        default=DEFAULT_MAX_SNAP_M,
        help=f"largest distance in metres from a point to the street it joins "
        f"(default {DEFAULT_MAX_SNAP_M:g})",
    )
    command.add_argument(
        "--buffer",
        type=float,
        default=DEFAULT_BUFFER_M,
        help=f"half-width in metres of service-area polygons (default {DEFAULT_BUFFER_M:g})",
    )
    command.add_argument(
        "--crs",
        default="auto",
        help="metric CRS for the analysis: auto (UTM), cgcs2000 (3° Gauss–Krüger) or EPSG:XXXX",
    )
    command.add_argument(
        "--map", action="store_true", help="also write OUT/map.html, a standalone web map"
    )
    command.add_argument(
        "--lang",
        choices=["zh", "en"],
        default=None,
        help="language of the messages and the map (default: the locale, LC_ALL/LANG: "
        "English for an en_* locale, else Chinese)",
    )
    command.add_argument(
        "--basemap",
        default="osm",
        help="basemap of the map: osm, gaode (GCJ-02 handled) or tianditu (needs TIANDITU_KEY)",
    )
    command.add_argument(
        "--facility-areas",
        action="store_true",
        help="service areas also per facility and threshold, not only per category (slower)",
    )
    if service_areas_default:
        command.add_argument(
            "--no-service-areas", action="store_true", help="skip service-area lines and polygons"
        )
    else:
        command.add_argument(
            "--service-areas", action="store_true", help="also build service-area polygons"
        )


def _shares(shares: dict[str, float], lang: str) -> str:
    from radius.i18n import t

    return t("cli_list_sep", lang).join(
        t("cli_share", lang, label=label, share=share) for label, share in shares.items()
    )


def _wrote(out: Path, lang: str, files: Sequence[str] | None = None) -> str:
    from radius.i18n import t

    names = sorted(files) if files is not None else sorted(p.name for p in out.iterdir())
    return t("cli_wrote", lang, files=", ".join(names), out=out)


def _print_summary(result: ReachResult, out: Path, stream: TextIO, lang: str = "zh") -> None:
    from radius.i18n import category_label, t

    summary = result.summary()
    network = summary["network"]
    print(
        t(
            "cli_network",
            lang,
            nodes=network["nodes"],
            edges=network["edges"],
            km=network["length_km"],
            components=network["components"],
            crs=network["crs"],
            source=network["source"],
        ),
        file=stream,
    )
    print(t(f"cli_speed_{result.threshold_basis}", lang, speed=result.speed_m_s), file=stream)
    for cid, item in summary["categories"].items():
        print(
            t(
                "cli_category_nodes",
                lang,
                category=category_label(cid, lang),
                n=item["facilities"],
                unroutable=item["unroutable_facilities"],
                shares=_shares(item["share_of_nodes_within"], lang),
            ),
            file=stream,
        )
    print(_wrote(out, lang), file=stream)


def _reach_config(args: argparse.Namespace, *, service_areas: bool) -> ReachConfig:
    from radius.pipeline import ReachConfig
    from radius.sample import default_network_path

    return ReachConfig(
        network=args.network or default_network_path(),
        facilities=args.facilities,
        categories=tuple(c.strip() for c in args.categories.split(",") if c.strip())
        if args.categories
        else None,
        speed_profile=args.speed_profile,
        speed_m_s=args.speed,
        threshold_basis=args.threshold_basis,
        max_snap_m=args.max_snap,
        buffer_m=args.buffer,
        crs=args.crs,
        facilities_crs=args.facilities_crs,
        service_areas=service_areas,
        facility_areas=args.facility_areas,
    )


def _timed_summary(
    summary: dict[str, Any],
    started: float,
    write_started: float,
    lang: str = "zh",
    *,
    timings: dict[str, float] | None = None,
) -> Writer:
    """A summary writer that records the write and total times when it runs (last); its
    notes in ``lang``.

    ``timings``, when given, are the run's stage times as they are then (a stage that ran
    beside the writing, such as ``radius reach``'s service areas, is known only by then).
    """
    from radius._io import json_writer
    from radius.i18n import localize_all

    def write(path: Path) -> None:
        now = time.perf_counter()
        if timings is not None:
            summary["timings_s"].update({k: round(v, 3) for k, v in timings.items()})
        summary["timings_s"]["write"] = round(now - write_started, 3)
        summary["timings_s"]["total"] = round(now - started, 3)
        json_writer({"lang": lang, **localize_all(summary, lang)})(path)

    return write


def _reach(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from radius._io import gpkg_writer, write_outputs
    from radius.pipeline import run_reach, start_service_areas
    from radius.report import displayable_facilities

    # The service areas are built while the other layers are written: on two cores the
    # unions and the writing share the machine. Not with a map (it needs them first) nor
    # with per-facility polygons (their memory is checked with the searches').
    deferred = not args.no_service_areas and not args.map and not args.facility_areas
    config = _reach_config(args, service_areas=not args.no_service_areas and not deferred)
    result = run_reach(config)
    layers: dict[str, Any] = {
        "facilities": displayable_facilities(result.facilities),
        "nodes": result.nodes,
        "service_areas": result.service_areas,
        "reached_streets": result.reached_streets,
        "unroutable": result.unroutable,
        "islands": result.network.island_edges.to_crs("EPSG:4326"),
    }
    if deferred:
        pending = start_service_areas(
            result,
            buffer_m=config.buffer_m,
            facility_areas=config.facility_areas,
            timings=result.timings,
        )
        # Written last, each when it is ready.
        del layers["service_areas"], layers["reached_streets"]
        layers["reached_streets"] = pending.streets
        layers["service_areas"] = pending.areas
    files: dict[str, Writer] = {"reach.gpkg": gpkg_writer(layers)}
    if args.map:
        from radius.maps import map_writer, reach_map

        files["map.html"] = map_writer(reach_map(result, lang=args.lang, basemap=args.basemap))
    write_started = time.perf_counter()
    files["summary.json"] = _timed_summary(
        result.summary(), started, write_started, args.lang, timings=result.timings
    )
    write_outputs(args.out, files)
    _print_summary(result, args.out, sys.stdout, args.lang)
    return 0


def _analyze_config(args: argparse.Namespace) -> AnalyzeConfig:
    from radius.pipeline import AnalyzeConfig

    return AnalyzeConfig(
        reach=_reach_config(args, service_areas=args.service_areas),
        population=tuple(args.population),
        districts=args.districts,
        district_mode=args.district_mode,
        hexagon_size_m=args.hexagon_size,
        standard=args.standard,
        area_type=args.area_type,
        method=args.method,
        household_size=args.household_size,
        subdistricts=getattr(args, "subdistricts", None),
        group_rasters=_group_rasters(getattr(args, "group_raster", [])),
    )


def _group_rasters(specs: list[str]) -> tuple[tuple[str, tuple[Path, ...]], ...]:
    """``GROUP=FILE[,FILE...]`` options as (group id, paths)."""
    from radius.groups import load_demand_groups

    groups = load_demand_groups()
    parsed: list[tuple[str, tuple[Path, ...]]] = []
    for spec in specs:
        group_id, sep, files = spec.partition("=")
        if not sep or not files.strip():
            raise InputError(message("cli_group_raster_syntax", spec=repr(spec)))
        groups.group(group_id.strip())  # raises naming the known groups
        parsed.append(
            (group_id.strip(), tuple(Path(f.strip()) for f in files.split(",") if f.strip()))
        )
    return tuple(parsed)


def _analyze(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from radius._io import gpkg_writer, uncovered_view, write_outputs, xlsx_writer
    from radius.pipeline import run_analysis
    from radius.report import displayable_facilities
    from radius.report_document import provision_workbook

    result = run_analysis(_analyze_config(args))
    layers = {
        "residents": result.residents,
        "districts": result.districts,
        "facilities": displayable_facilities(result.reach.facilities),
        "shortfall": result.shortfall,
        "unroutable": result.reach.unroutable,
    }
    if args.service_areas:
        layers["service_areas"] = result.reach.service_areas
    # The uncovered residents are a view of the residents layer: the same rows without
    # writing every resident point once per missed threshold (767 MB at 500,000 points).
    uncovered = uncovered_view(
        "residents",
        result.residents,
        result.shortfall,
        [
            (reach.category.id, label, float(metres))
            for reach in result.reach.categories
            for label, metres in zip(reach.labels, reach.thresholds_m, strict=True)
        ],
    )
    views = {"shortfall": uncovered} if uncovered is not None else {}
    files: dict[str, Writer] = {
        "results.gpkg": gpkg_writer(layers, views),
        "provision.xlsx": xlsx_writer(provision_workbook(result, args.lang)),
    }
    if args.map:
        from radius.maps import analysis_map, map_writer

        files["map.html"] = map_writer(analysis_map(result, lang=args.lang, basemap=args.basemap))
    write_started = time.perf_counter()
    files["summary.json"] = _timed_summary(result.summary(), started, write_started, args.lang)
    write_outputs(args.out, files)
    _print_analysis(result, args.out, sys.stdout, args.lang)
    return 0


def _print_analysis(result: AnalysisResult, out: Path, stream: TextIO, lang: str = "zh") -> None:
    from radius.i18n import category_label, group_label, localize, t

    summary = result.summary()
    residents = summary["residents"]
    print(
        t(
            "cli_residents",
            lang,
            population=residents["population"],
            households=residents["households"],
            points=residents["points"],
            districts=summary["districts"],
            standard=summary["standard"],
        ),
        file=stream,
    )
    for cid, shares in summary["share_of_residents_within"].items():
        print(
            t(
                "cli_residents_within",
                lang,
                category=category_label(cid, lang),
                shares=_shares(shares, lang),
            ),
            file=stream,
        )
    print(t("cli_units", lang, text=localize(summary["units"]["formed"], lang)), file=stream)
    for gid, group in summary["residents"]["groups"].items():
        name = group_label(gid, lang)
        if group["origin"] in ("share", "partly_share"):
            key = "cli_group_share" if group["origin"] == "share" else "cli_group_partly"
            print(t(key, lang, group=name, total=group["total"], share=group["share"]), file=stream)
        elif group["origin"] == "raster":
            print(t("cli_group_raster", lang, group=name, total=group["total"]), file=stream)
    for rid, item in summary["share_of_group_within"].items():
        if item["group"] != "residents" and item["share"] is not None:
            key = (
                "cli_group_within_estimated" if item["estimated_from_share"] else "cli_group_within"
            )
            print(
                t(
                    key,
                    lang,
                    rule=rid,
                    group=group_label(str(item["group"]), lang),
                    threshold=item["threshold"],
                    share=item["share"],
                ),
                file=stream,
            )
    for rid, item in summary["rules"].items():
        rate = "-" if item["attainment_rate"] is None else f"{item['attainment_rate']:g} %"
        print(
            t(
                "cli_rule",
                lang,
                rule=rid,
                group=group_label(str(item["group"]), lang),
                passing=item["districts_passing"],
                applicable=item["districts_applicable"],
                rate=rate,
                na=item["districts_not_applicable"],
                shortfall=item["shortfall"],
                unit=_text_or(f"cli_unit_{item['unit']}", lang, str(item["unit"])),
            ),
            file=stream,
        )
    for rid, item in summary["unit_shares"].items():
        share = "-" if item["share"] is None else f"{item['share']:g} %"
        level = str(item["unit_level"])
        verdict = str(item["verdict"])
        print(
            t(
                "cli_unit_share",
                lang,
                rule=rid,
                meeting=item["meeting"],
                applicable=item["applicable"],
                level=_text_or(f"cli_level_{level}", lang, level),
                share=share,
                target=item["target"],
                verdict=_text_or(f"cli_verdict_{verdict}", lang, verdict),
            ),
            file=stream,
        )
    plausibility = summary.get("plausibility")
    warned = "warnings_zh" if lang == "zh" else "warnings"
    for warning in (plausibility or {}).get(warned, []):
        print(t("cli_plausibility", lang, text=localize(warning, lang)), file=stream)
    print(_wrote(out, lang), file=stream)


def _text_or(key: str, lang: str, default: str) -> str:
    """The text of ``key`` in ``lang``, or ``default`` when there is no such key."""
    from radius.i18n import keys, t

    return t(key, lang) if key in keys() else default


def _site_size(values: Sequence[str] | None) -> float | dict[str, float] | None:
    """``--size 300`` (every supply) or ``--size floor_area_m2=300 --size beds=20``."""
    if not values:
        return None
    from radius.facilities import CAPACITY_COLUMNS

    sizes: dict[str, float] = {}
    for text in values:
        supply, _, number = text.rpartition("=")
        try:
            value = float(number)
        except ValueError:
            raise InputError(message("cli_size_number", text=text)) from None
        if not supply:
            if len(values) > 1:
                raise InputError(message("cli_size_alone", text=text))
            return value
        if supply.strip() not in CAPACITY_COLUMNS:
            raise InputError(
                message(
                    "cli_size_supply",
                    text=text,
                    supply=repr(supply.strip()),
                    known=", ".join(CAPACITY_COLUMNS),
                )
            )
        sizes[supply.strip()] = value
    return sizes


def _site(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    size = _site_size(args.site_size)
    from radius._io import gpkg_writer, write_outputs
    from radius.pipeline import load_analysis_inputs
    from radius.report_job import site_request
    from radius.siting import run_site_request

    config = _analyze_config(args)
    inputs = load_analysis_inputs(config)
    capacity: str | float | None = args.capacity
    if isinstance(capacity, str):
        with contextlib.suppress(ValueError):  # else a column name of the candidates
            capacity = float(capacity)
    request = site_request(
        "radius site",
        category=args.category,
        count=args.count,
        objective=args.objective,
        threshold=args.threshold,
        candidates=args.candidates,
        capacity=capacity,
        per_resident=args.per_resident,
        min_spacing_m=args.min_spacing,
        method=args.solver,
        time_limit_s=args.time_limit,
        districts=args.site_districts,
        size=size,
    )
    result = run_site_request(inputs, config, request, lang=args.lang)
    files: dict[str, Writer] = {
        "sites.gpkg": gpkg_writer(
            {
                "sites": result.sites,
                "districts_before": result.before.districts,
                "districts_after": result.after.districts,
            }
        )
    }
    if args.map:
        from radius.maps import analysis_map, map_writer

        files["map.html"] = map_writer(
            analysis_map(result.after, lang=args.lang, basemap=args.basemap, proposals=result.sites)
        )
    summary = dict(result.summary)
    summary["timings_s"] = {}
    write_started = time.perf_counter()
    files["summary.json"] = _timed_summary(summary, started, write_started, args.lang)
    write_outputs(args.out, files)
    solution = result.solution
    from radius.i18n import category_label, t

    print(
        t(
            "cli_sites",
            args.lang,
            n=len(result.sites),
            category=category_label(args.category, args.lang),
            **_solver_words(solution.method, solution.status, args.lang),
            before=solution.covered_before,
            after=solution.covered_after,
        ),
        file=sys.stdout,
    )
    print(_wrote(args.out, args.lang))
    return 0


def _solver_words(method: str, status: str, lang: str) -> dict[str, str]:
    """The solver's method and status in ``lang`` (``cli_method_*``, ``cli_status_*``); one
    without a text as it is."""
    from radius.i18n import keys, t

    known = set(keys())
    return {
        name: t(f"cli_{name}_{value}", lang) if f"cli_{name}_{value}" in known else value
        for name, value in (("method", method), ("status", status))
    }


_REPORT_OPTIONS = (
    "job",
    "out",
    "lang",
    "title",
    "author",
    "study_area",
    "formats",
    "debug",
    "command",
)
_FORMATS = ("html", "pdf", "xlsx", "gpkg")


def _report_job(args: argparse.Namespace) -> ReportJob:
    """The job of ``radius report``: the --job file, or one made from the flags."""
    from radius.report_job import ReportJob, load_report_job, parse_site_flag

    if args.job is not None:
        defaults = vars(_build_parser().parse_args(["report", "--out", "."]))
        given = [
            f"--{key.replace('_', '-')}"
            for key, value in vars(args).items()
            if key not in _REPORT_OPTIONS and value != defaults.get(key)
        ]
        if given:
            raise InputError(
                message("cli_job_and_flags", job=str(args.job), given=", ".join(given))
            )
        job = load_report_job(args.job)
    else:
        config = _analyze_config(args)
        reach = config.reach
        job = ReportJob(
            network=reach.network,
            facilities=reach.facilities,
            facilities_crs=reach.facilities_crs,
            population=config.population,
            districts=config.districts,
            subdistricts=config.subdistricts,
            group_rasters={group: paths for group, paths in config.group_rasters},
            district_mode=config.district_mode,
            hexagon_size_m=config.hexagon_size_m,
            standard=config.standard,
            area_type=config.area_type,
            method=config.method,
            household_size=config.household_size,
            categories=reach.categories,
            speed_profile=reach.speed_profile,
            speed_m_s=reach.speed_m_s,
            threshold_basis=reach.threshold_basis,
            max_snap_m=reach.max_snap_m,
            crs=reach.crs,
            sites=tuple(parse_site_flag(text) for text in args.site),
        )
        job.check("radius report")
    updates: dict[str, Any] = {}
    if args.lang is not None:
        updates["lang"] = args.lang
    elif "lang" not in job.model_fields_set:  # neither --lang nor the job's: the locale's
        from radius.i18n import language_from_locale

        updates["lang"] = language_from_locale()
    args.lang = updates.get("lang", job.lang)  # the error lines in the report's language
    if args.title is not None:
        updates["title"] = args.title
    for key in ("author", "study_area"):
        if getattr(args, key, None) is not None:
            updates[key] = getattr(args, key)
    return job.model_copy(update=updates)


def _report(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from radius._io import write_outputs
    from radius.pipeline import analyze, load_analysis_inputs
    from radius.report_document import build_report, input_files, report_writers
    from radius.siting import run_site_request

    formats = [f.strip().lower() for f in args.formats.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(_FORMATS))
    if unknown or not formats:
        raise InputError(
            message(
                "cli_formats",
                formats=args.formats,
                unknown=", ".join(unknown) or "-",
                known=", ".join(_FORMATS),
            )
        )
    job = _report_job(args)
    config = job.analyze_config()
    inputs = load_analysis_inputs(config)
    result = analyze(inputs, config)
    sitings = [run_site_request(inputs, config, request, lang=job.lang) for request in job.sites]
    candidates = [r.candidates for r in job.sites if r.candidates is not None]
    document = build_report(
        result,
        sitings,
        config=config,
        inputs=input_files(config, candidates),
        lang=job.lang,
        title=job.title,
        author=job.author,
        study_area=job.study_area,
    )
    files = report_writers(result, sitings, document, formats=formats)
    if args.map:
        from radius.maps import analysis_map, map_writer

        files["map.html"] = map_writer(analysis_map(result, lang=job.lang, basemap=args.basemap))
    write_outputs(args.out, files)
    seconds = time.perf_counter() - started
    from radius.i18n import category_label, t

    for siting in sitings:
        summary = siting.summary
        print(
            t(
                "cli_report_sites",
                job.lang,
                n=len(siting.sites),
                category=category_label(str(summary["category"]), job.lang),
                **_solver_words(siting.solution.method, siting.solution.status, job.lang),
                gained=summary["residents_gained"],
            ),
            file=sys.stdout,
        )
    print(
        t(
            "cli_wrote_seconds",
            job.lang,
            files=", ".join(sorted(files)),
            out=args.out,
            seconds=seconds,
        ),
        file=sys.stdout,
    )
    return 0


def _batch(args: argparse.Namespace) -> int:
    from radius.batch import batch_command

    return batch_command(args)


_NUMBERS = (
    ("buffer", "--buffer", "buffer"),
    ("max_snap", "--max-snap", "max_snap"),
    ("speed", "--speed", "speed"),
    ("hexagon_size", "--hexagon-size", "hexagon_size"),
    ("household_size", "--household-size", "household_size"),
    ("count", "--count", "count"),
    ("per_resident", "--per-resident", "per_resident"),
    ("min_spacing", "--min-spacing", "min_spacing"),
    ("time_limit", "--time-limit", "time_limit"),
    ("workers", "--workers", "workers"),
)
"""Numeric flags (argparse dest, flag, parameter of radius._validate) checked before a run."""
_PATHS = (
    ("network", "--network", "network"),
    ("facilities", "--facilities", "facilities"),
    ("districts", "--districts", "districts"),
    ("candidates", "--candidates", "candidates"),
    ("job", "--job", "job"),
)


def _check_args(args: argparse.Namespace) -> None:
    """Refuse non-finite or out-of-range numbers and input paths that are not regular files."""
    from radius._limits import regular_file
    from radius._validate import check_number

    for dest, flag, name in _NUMBERS:
        check_number(flag, getattr(args, dest, None), name)
    from radius.i18n import Message

    inputs: list[tuple[Any, Message]] = [
        (
            getattr(args, dest, None),
            message("file_kind_job", command=args.command)
            if kind == "job"
            else message(f"file_kind_{kind}"),
        )
        for dest, _, kind in _PATHS
    ]
    inputs += [
        (path, message("file_kind_residents")) for path in getattr(args, "population", ()) or ()
    ]
    for path, what in inputs:
        if path is not None and not Path(path).is_dir():  # a folder is the readers' to judge
            regular_file(path, what)


COMMANDS = {
    "reach": _reach,
    "analyze": _analyze,
    "site": _site,
    "report": _report,
    "batch": _batch,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input, 1 internal error)."""
    words = sys.argv[1:] if argv is None else list(argv)
    command = _command_of(words)
    _limit_blas_threads(command)
    parser = _build_parser(command)
    args = parser.parse_args(words)
    from radius.i18n import language_from_locale, localize, t

    lang = getattr(args, "lang", None) or language_from_locale()
    if args.command in ("reach", "analyze", "site"):
        args.lang = lang
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _check_args(args)
            code = COMMANDS[args.command](args)
        except RadiusError as exc:
            lang = getattr(args, "lang", None) or lang  # a batch job's own
            _flush_warnings(caught, lang)
            if args.debug:
                raise
            text = localize(exc.args[0], lang) if exc.args else str(exc)
            print(t("cli_error", lang, text=text), file=sys.stderr)
            return 2
        except KeyboardInterrupt as exc:
            lang = getattr(args, "lang", None) or lang  # a batch job's own
            _flush_warnings(caught, lang)
            written = getattr(exc, "written", None)
            text = localize(written, lang) if written else t("cli_nothing_written", lang)
            print(t("cli_interrupted", lang, text=text), file=sys.stderr)
            return 130
        except MemoryError:
            lang = getattr(args, "lang", None) or lang  # a batch job's own
            _flush_warnings(caught, lang)
            if args.debug:
                raise
            print(t("cli_out_of_memory", lang), file=sys.stderr)
            return 2
        except OSError as exc:
            lang = getattr(args, "lang", None) or lang  # a batch job's own
            _flush_warnings(caught, lang)
            if args.debug:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            print(t("cli_os_error", lang, where=where, text=exc.strerror or exc), file=sys.stderr)
            return 2
        except Exception as exc:
            lang = getattr(args, "lang", None) or lang  # a batch job's own
            _flush_warnings(caught, lang)
            if args.debug:
                raise
            print(t("cli_internal_error", lang, kind=type(exc).__name__, text=exc), file=sys.stderr)
            return 1
        lang = getattr(args, "lang", None) or lang
        _flush_warnings(caught, lang)
    return code


def _flush_warnings(caught: list[warnings.WarningMessage], lang: str) -> None:
    """Print each warning once, in ``lang`` (notes of the core are messages of any language)."""
    from radius.i18n import localize, message_of, t

    seen: set[str] = set()
    for item in caught:
        text = str(item.message)
        if text not in seen:
            seen.add(text)
            note = localize(message_of(item.message), lang)
            print(t("cli_warning", lang, text=note), file=sys.stderr)


RUN_GC_THRESHOLDS = (50_000, 20, 10)
"""Garbage-collector thresholds of :func:`run` (CPython's default is 700, 10, 10).

Building a run's frames and geometries allocates millions of objects: at the default a
``radius reach`` on Shanghai made 670 collections costing 0.3-0.4 s of CPU, at these 8
costing 0.09 s (#17). Memory is freed by reference counting as before; only cycles wait
longer.
"""

RUN_MALLOC_ARENAS = 2
"""glibc malloc arenas of :func:`run` (glibc's default is 8 per CPU).

The service areas' unions run on threads of their own; with an arena per thread the memory
one union frees is not reused by the next one on another thread and stays in the process.
On the 1M-node county (``bench/bench_county.py``) two arenas lowered the peak resident
memory from 3,914 MB to 3,777 MB at the same wall time (#17).
"""


def _limit_malloc_arenas() -> None:
    """Ask glibc for :data:`RUN_MALLOC_ARENAS` arenas (nothing elsewhere, or if set already)."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return
    import ctypes

    m_arena_max = -8  # glibc's malloc.h
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(m_arena_max, RUN_MALLOC_ARENAS)


ENDS_WITHOUT_TEARDOWN = frozenset({"reach", "analyze", "site"})
"""Commands whose process :func:`run` ends once their outputs are in place, skipping the
interpreter's teardown (freeing every frame, geometry and module one by one: 0.3-0.4 s of
CPU after a ``radius reach`` on Shanghai, #17)."""


def run() -> None:
    """The ``radius`` command (console entry point): :func:`main` in a process of its own.

    It raises the garbage collector's thresholds (:data:`RUN_GC_THRESHOLDS`) and, on glibc,
    limits malloc's arenas (:data:`RUN_MALLOC_ARENAS`) for the run.
    After a successful :data:`ENDS_WITHOUT_TEARDOWN` command it ends the process at once
    with ``os._exit(0)``, only when every output is complete and renamed into place
    (:func:`radius._io.outputs_settled`), no other thread is still running, logging is
    shut down and stdout and stderr are flushed; otherwise, and for every other command or
    exit code, it exits as Python does (``sys.exit``). :func:`main` itself always returns,
    so it can be called in process (tests, scripts).
    """
    gc.set_threshold(*RUN_GC_THRESHOLDS)
    _limit_malloc_arenas()
    code = main()
    if code == 0 and _command_of(sys.argv[1:]) in ENDS_WITHOUT_TEARDOWN and _settled():
        os._exit(0)
    sys.exit(code)


def _settled() -> bool:
    """Whether the process can end now: outputs in place, other threads done, streams out."""
    written = sys.modules.get("radius._io")
    if written is None or not written.outputs_settled():
        return False
    current = threading.current_thread()
    for thread in threading.enumerate():  # as the interpreter would: wait for them
        if thread is not current and not thread.daemon:
            thread.join()
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # e.g. a closed pipe: let Python report it as it exits
        return False
    return True


if __name__ == "__main__":
    run()
