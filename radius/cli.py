"""Command line: ``radius reach ...``. Errors are printed without a traceback."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import geopandas as gpd

from radius import __version__
from radius._errors import RadiusError
from radius._io import gpkg_writer, json_writer, write_outputs
from radius.config import load_speed_profiles
from radius.pipeline import ReachConfig, ReachResult, run_reach
from radius.sample import default_network_path
from radius.service_areas import DEFAULT_BUFFER_M
from radius.snap import DEFAULT_MAX_SNAP_M

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
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
    reach.add_argument(
        "--network",
        type=Path,
        help="OSM file (.osm, .osm.bz2, .osm.pbf), GraphML, or road centre lines "
        "(.gpkg, .geojson, zipped .shp); default: the embedded sample district",
    )
    reach.add_argument(
        "--facilities",
        type=Path,
        help="facility inventory (CSV, XLSX, GeoJSON, GPKG, zipped SHP) with name, category, "
        "lon, lat; default: facilities tagged in the OSM network file",
    )
    reach.add_argument(
        "--facilities-crs",
        help="CRS of the inventory's lon/lat columns (default WGS-84, e.g. EPSG:4490)",
    )
    reach.add_argument(
        "--categories",
        help="comma-separated category ids (default: all in configs/categories.yaml)",
    )
    profiles = load_speed_profiles()
    reach.add_argument(
        "--speed-profile",
        choices=sorted(profiles.profiles),
        help=f"walking-speed profile (default {profiles.default}: "
        f"{profiles.profiles[profiles.default].speed_m_s} m/s)",
    )
    reach.add_argument("--speed", type=float, help="walking speed in m/s (overrides the profile)")
    reach.add_argument(
        "--threshold-basis",
        choices=["time", "distance"],
        default="time",
        help="thresholds from minutes × speed (time) or the GB 50180 walking distances "
        "(distance); default time",
    )
    reach.add_argument(
        "--max-snap",
        type=float,
        default=DEFAULT_MAX_SNAP_M,
        help=f"largest distance in metres from a point to the street it joins "
        f"(default {DEFAULT_MAX_SNAP_M:g})",
    )
    reach.add_argument(
        "--buffer",
        type=float,
        default=DEFAULT_BUFFER_M,
        help=f"half-width in metres of service-area polygons (default {DEFAULT_BUFFER_M:g})",
    )
    reach.add_argument(
        "--crs",
        default="auto",
        help="metric CRS for the analysis: auto (UTM), cgcs2000 (3° Gauss–Krüger) or EPSG:XXXX",
    )
    reach.add_argument(
        "--no-service-areas", action="store_true", help="skip service-area lines and polygons"
    )
    reach.add_argument("--out", type=Path, required=True, help="output folder")
    return parser


def _print_summary(result: ReachResult, out: Path, stream: TextIO) -> None:
    summary = result.summary()
    network = summary["network"]
    print(
        f"network: {network['nodes']} nodes, {network['edges']} edges, "
        f"{network['length_km']} km, {network['components']} component(s) "
        f"[{network['crs']}] from {network['source']}",
        file=stream,
    )
    print(
        f"walking speed {result.speed_m_s} m/s, thresholds by {result.threshold_basis}", file=stream
    )
    for cid, item in summary["categories"].items():
        shares = ", ".join(
            f"{label}: {share:.1%}" for label, share in item["share_of_nodes_within"].items()
        )
        print(
            f"  {cid:<18} {item['facilities']:>4} facilities "
            f"({item['unroutable_facilities']} unroutable)  nodes within {shares}",
            file=stream,
        )
    print(f"wrote {out / 'reach.gpkg'} and {out / 'summary.json'}", file=stream)


def _reach(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    network = args.network or default_network_path()
    config = ReachConfig(
        network=network,
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
        service_areas=not args.no_service_areas,
    )
    result = run_reach(config)
    write_start = time.perf_counter()
    layers = {
        "facilities": _displayable(result.facilities),
        "nodes": result.nodes,
        "service_areas": result.service_areas,
        "reached_streets": result.reached_streets,
        "unroutable": result.unroutable,
        "islands": result.network.island_edges.to_crs("EPSG:4326"),
    }
    summary = result.summary()
    summary["timings_s"]["write"] = 0.0
    files = {"reach.gpkg": gpkg_writer(layers)}
    write_outputs(args.out, files)
    summary["timings_s"]["write"] = round(time.perf_counter() - write_start, 3)
    summary["timings_s"]["total"] = round(time.perf_counter() - started, 3)
    write_outputs(args.out, {"summary.json": json_writer(summary)})
    _print_summary(result, args.out, sys.stdout)
    return 0


def _displayable(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Facilities with the entrances as WKT text (a GeoPackage layer has one geometry)."""
    frame = facilities.copy()
    if "entrances" in frame.columns:
        frame["entrances"] = [
            e.wkt if e is not None and not e.is_empty else "" for e in frame["entrances"]
        ]
    return frame


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input, 1 internal error)."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = _reach(args) if args.command == "reach" else 2
        except RadiusError as exc:
            _flush_warnings(caught)
            if args.debug:
                raise
            print(f"radius: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("radius: interrupted; no output was written", file=sys.stderr)
            return 130
        except Exception as exc:
            _flush_warnings(caught)
            if args.debug:
                raise
            print(
                f"radius: internal error: {type(exc).__name__}: {exc}\n"
                "No output was written. Rerun with --debug for the traceback and report it.",
                file=sys.stderr,
            )
            return 1
        _flush_warnings(caught)
    return code


def _flush_warnings(caught: list[warnings.WarningMessage]) -> None:
    seen: set[str] = set()
    for item in caught:
        text = str(item.message)
        if text not in seen:
            seen.add(text)
            print(f"radius: warning: {text}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
