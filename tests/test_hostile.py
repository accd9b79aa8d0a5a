"""Broken and hostile inputs fed to both channels: the command line and the app.

One list of cases (:data:`CASES`); each is run once through ``radius.cli.main`` and once
through the app (``app.py`` under ``streamlit.testing.v1.AppTest``, the file uploaded the
way a browser uploads it). Every case states what the user must be told: the file, the
row, field or zip entry at fault, and the fix, in both channels.

The command line must also exit with 2 for bad input (0 when only warnings are given),
print no traceback, leave the output folder as it was (no partial file) and write
nothing outside it; the app must show one ``st.error``, never an exception, and never
the server's temporary folders.

Files are tiny and built in ``tmp_path``; where a street network is needed it is the
real Nanjing Xinjiekou extract of ../shared/data, read in place (the cases skip when it
is absent).

:data:`ISSUE_16` lists every row of issue #16's table, the tests that run it and the
message they check. Beyond the input files of :data:`CASES` (among them the rows of issue
#16: a 67 KB GeoTIFF declaring 60,000 × 36,000 pixels, facility CSVs of 10⁶ and of 2×10⁴
rows, a FIFO as network, an OSM node at lat=1000, GeoJSON nested 10,000 deep), each with the
message it must give:

- :data:`ARGUMENT_CASES`: bad flags and job files on the command line (``--buffer -1``,
  ``--buffer nan``, ``--max-snap nan``, ``--max-snap -5``, ``--speed``, ``--crs EPSG:32601`` on
  Nanjing, a job file that is ``/dev/zero``, YAML nested 10,000 deep), with their messages;
- :data:`FILE_SYSTEM_CASES`: a read-only ``--out`` and a full disk, on real tmpfs mounts in
  a mount namespace of their own; permission denied (as ``nobody``); the hidden partial
  files a SIGKILL leaves, removed by the next run;
- peak memory of the raster and table cases (the 2×10⁴ rows with service areas too), and of
  a 49 M-pixel raster read in strips, in a subprocess under RLIMIT_AS, below 1 GiB;
- batches on a real local Dask cluster: a damaged district recomputed on rerun, workers
  that die ending the batch with a message, a scheduler without workers, workers that
  cannot import radius or whose preload fails, Ctrl-C reporting the districts written.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd
import pytest
import shapely

from radius.cli import main
from tests.conftest import REPO_ROOT, shared_file

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

APP = REPO_ROOT / "app.py"
TIMEOUT_S = 180
NANJING = "cn_nanjing_xinjiekou.osm"
PREVIOUS = {"previous": "a complete output of an earlier run"}
# Facilities and residents beside the streets of the Xinjiekou extract (WGS-84).
SHOPS = [
    ("苏果好的", "便利店", 118.77755, 32.05155),
    ("Lawson", "convenience_store", 118.78225, 32.04171),
    ("GIANT", "supermarket", 118.78813, 32.03846),
]
HOMES = [(118.7841, 32.0416, 120), (118.7880, 32.0390, 80), (118.7800, 32.0450, 60)]
BLOCK = shapely.box(118.775, 32.035, 118.795, 32.050)

Role = Literal["network", "facilities", "residents", "districts"]


# --------------------------------------------------------------------------------------
# Issue #16, row by row: the input, the tests (pytest ids in this module) and what must be said
# --------------------------------------------------------------------------------------

ISSUE_16: list[tuple[str, tuple[str, ...], str]] = [
    ("a 67 KB GeoTIFF declaring 60000 × 36000 pixels as residents (16.1 GiB; also the app)",
     ("test_hostile_input[raster declaring 60000 x 36000 pixels-cli]",
      "test_hostile_input[raster declaring 60000 x 36000 pixels-app]",
      "test_peak_memory_of_huge_inputs_stays_under_1_gib[raster declaring 60000 x 36000 pixels]",
      "test_the_raster_limit_names_the_window_without_a_bbox",
      "test_a_large_raster_is_read_in_strips_under_1_gib"),
     "people.tif: the raster window is 60,000 × 36,000 = 2,160,000,000 pixels, more than the "
     "50,000,000 pixels allowed (limit RADIUS_MAX_RASTER_PIXELS); give a bbox ... "
     "gdal_translate -projwin ...; peak RSS < 1 GiB"),
    ("a facility CSV of 10⁶ rows (MemoryError after 118 s at 6 GB)",
     ("test_hostile_input[facility CSV of a million rows-cli]",
      "test_peak_memory_of_huge_inputs_stays_under_1_gib[facility CSV of a million rows]",
      "test_a_limit_is_raised_by_its_environment_variable"),
     "the facilities table has 1,000,000 rows, more than the 200,000 rows allowed (limit "
     "RADIUS_MAX_TABLE_ROWS); keep only the facilities of the area studied, or raise the limit; "
     "peak RSS < 1 GiB"),
    ("2×10⁴ facility rows (under the row limit) with service areas (2.2 GB, 7.2 GB measured)",
     ("test_hostile_input[facility CSV of 20,000 rows whose walking distances need 7 GB-cli]",
      "test_hostile_input[facility CSV of 20,000 rows whose walking distances need 7 GB-app]",
      "test_20000_facilities_with_service_areas_are_refused_under_1_gib",
      "test_the_reach_memory_estimate_is_close_and_its_limit_can_be_raised"),
     "FILE: the walking distances of 20,000 facilities in 1 category(ies) would take about "
     "6.1 GB of memory (about 135,337,109 facility-node pairs ...), more than the 2.0 GB allowed "
     "(limit RADIUS_MAX_REACH_BYTES); ... or raise the limit, e.g. "
     "RADIUS_MAX_REACH_BYTES=8589934592; peak RSS < 1 GiB"),
    ("a job file that is /dev/zero (read without bound, 8.7 GB)",
     ("test_bad_argument[report job file that is /dev/zero]",
      "test_bad_argument[batch job file that is /dev/zero]"),
     "/dev/zero: is a device, not a regular file; ... save the data to a file"),
    ("a FIFO as network (waited forever)",
     ("test_hostile_input[FIFO as the network-cli]",),
     "FILE: is a FIFO (named pipe), not a regular file; ... save the data to a file"),
    ("an existing read-only --out (internal error)",
     ("test_file_system_failure[read-only --out]",),
     "disk/out/reach.gpkg: the file system is read-only ... give --out a folder on a "
     "writable disk"),
    ("a full disk (internal error)",
     ("test_file_system_failure[full disk]", "test_a_full_disk_by_a_file_size_limit"),
     "disk/out/reach.gpkg: no space left on the disk (N KB free) ... free some space or give "
     "--out a folder on another disk; outputs already in disk/out were left as they were"),
    ("permission denied (item 3 of the issue)",
     ("test_permission_denied_names_the_folder_and_the_fix",),
     "locked/out: permission denied ... chmod u+w"),
    ("an OSM node with lat=1000 (internal error)",
     ("test_hostile_input[OSM node with lat=1000-cli]",
      "test_hostile_input[OSM node with lat=1000-app]"),
     "FILE: ... coordinates are out of range ('1000') ... latitudes lie within -90 to 90 ... "
     "correct that node"),
    ("--max-snap -5 (internal error)",
     ("test_bad_argument[--max-snap -5]",),
     "--max-snap -5 metres: out of range ... (the default is 200)"),
    ("YAML nested 10,000 deep (internal error); GeoJSON too",
     ("test_bad_argument[report job YAML nested 10,000 deep]",
      "test_bad_argument[batch job YAML nested 10,000 deep]",
      "test_hostile_input[GeoJSON nested 10,000 deep-cli]",
      "test_hostile_input[GeoJSON nested 10,000 deep-app]"),
     "deep.yaml: lists and mappings are nested 65 levels deep (line 1, column N), more than the "
     "64 levels allowed (limit RADIUS_MAX_NESTING); check the brackets ..."),
    ("--buffer -1, --buffer nan, --max-snap nan (accepted, every service area empty)",
     ("test_bad_argument[--buffer -1]", "test_bad_argument[--buffer nan]",
      "test_bad_argument[--max-snap nan]", "test_bad_numbers_in_a_batch_job_name_the_key"),
     "--buffer -1 metres: out of range ... greater than 0 and at most 1,000 / --buffer nan: not "
     "a finite number; give metres greater than 0 ... / --max-snap nan: not a finite number"),
    ("--crs EPSG:32601 (UTM zone 1) on the Nanjing extract (accepted silently)",
     ("test_bad_argument[--crs EPSG:32601 (UTM zone 1) on Nanjing]",
      "test_a_crs_just_outside_its_zone_is_warned_about"),
     "--crs EPSG:32601 (WGS 84 / UTM zone 1N) stretches distances by 54.x% ... meant for "
     "longitudes -180° to -174° ... use EPSG:32650 (WGS 84 / UTM zone 50N) or EPSG:4549"),
    ("radius batch --memory-limit 150MiB (hangs forever, workers die at start)",
     ("test_workers_that_die_end_the_batch_with_a_message[50MiB]",
      "test_workers_that_die_end_the_batch_with_a_message[150MiB]",
      "test_a_scheduler_without_workers_ends_the_batch",
      "test_workers_that_cannot_import_radius_end_the_batch",
      "test_a_worker_preload_that_fails_ends_the_batch"),
     "the dask workers died and none was alive for 4 s (RADIUS_MAX_WORKER_WAIT_S), most likely "
     "over their memory limit (--memory-limit 150MiB per worker): give --memory-limit 2GiB or "
     "more / the dask scheduler at ADDRESS had no worker for 3 seconds ... / a dask worker "
     "cannot import what a district needs (ImportError: ...) / the dask workers failed to "
     "start (ImportError: ...)"),
    ("Ctrl-C then says 'no output was written' although districts were",
     ("test_an_interrupted_batch_reports_what_it_wrote",),
     "radius: interrupted; N of 3 districts are complete in .../districts (N computed in this "
     "run: block-...) ... Rerun the same command; exit 130"),
    ("a finished district whose results.gpkg was truncated to 0 bytes (skipped forever)",
     ("test_the_rerun_of_a_damaged_district_recomputes_it",),
     "block-002: .../results.gpkg is 0 bytes and does not match its done record (N bytes and "
     "their SHA-256): the district is computed again"),
    ("SIGKILL during a write: hidden .partial and -journal files stay",
     ("test_a_killed_runs_partial_files_are_removed_by_the_next_run",
      "test_a_real_sigkill_leaves_no_damaged_visible_file"),
     "(no message: the earlier output stays whole and the next run removes the partial files)"),
]  # fmt: skip
"""Every row of issue #16's table with the tests that run it and the message they check
(``test_issue_16_lists_every_row_with_its_tests`` checks that each test exists)."""


# --------------------------------------------------------------------------------------
# The files
# --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _english_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """These checks read the command line's English messages (tests/test_language.py: both)."""
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _shapefile_parts(folder: Path, frame: gpd.GeoDataFrame, stem: str) -> dict[str, bytes]:
    """The files of ``frame`` saved as a Shapefile, by name."""
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_file(folder / f"{stem}.shp", engine="pyogrio")
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.stem == stem}


def _districts_frame(crs: str | None = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": ["D1"]}, geometry=[BLOCK], crs=crs)


def _districts_zip(folder: Path, **extra: bytes) -> bytes:
    parts = _shapefile_parts(folder / "shp", _districts_frame(), "districts")
    return _zip({**parts, **extra})


def zip_bomb(folder: Path) -> Path:
    # 20 MiB of zeros pack into about 20 kB: a ratio near 1,000.
    path = folder / "bomb.zip"
    path.write_bytes(_zip({"districts.shp": bytes(20 * 1024 * 1024), "districts.shx": b"x"}))
    return path


def zip_many_entries(folder: Path) -> Path:
    path = folder / "many.zip"
    parts = _shapefile_parts(folder / "shp", _districts_frame(), "districts")
    path.write_bytes(_zip({**parts, **{f"junk/{i}.txt": b"" for i in range(1001)}}))
    return path


def zip_slip(folder: Path) -> Path:
    path = folder / "slip.zip"
    path.write_bytes(_districts_zip(folder, **{"../../outside.shp": b"owned"}))
    return path


def zip_absolute(folder: Path) -> Path:
    path = folder / "absolute.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in _shapefile_parts(folder / "shp", _districts_frame(), "d").items():
            archive.writestr(name, data)
        entry = zipfile.ZipInfo("placeholder")
        entry.filename = "/etc/cron.d/evil.shp"  # ZipInfo() would strip the leading slash
        archive.writestr(entry, b"x")
    path.write_bytes(buffer.getvalue())
    return path


def zip_symlink(folder: Path) -> Path:
    path = folder / "link.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        parts = _shapefile_parts(folder / "shp", _districts_frame(), "districts")
        for name, data in parts.items():
            if name != "districts.dbf":
                archive.writestr(name, data)
        link = zipfile.ZipInfo("districts.dbf")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    path.write_bytes(buffer.getvalue())
    return path


def xml_entities(folder: Path) -> Path:
    path = folder / "entities.osm"
    path.write_text(
        "<?xml version='1.0'?><!DOCTYPE osm [<!ENTITY a 'aaaaaaaaaa'>"
        "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;'>]>"
        "<osm version='0.6'><node id='1' lat='32.04' lon='118.78'><tag k='name' v='&c;'/>"
        "</node></osm>",
        encoding="utf-8",
    )
    return path


def _facilities_csv(rows: Sequence[Sequence[object]], header: str = "名称,类别,经度,纬度") -> str:
    return "\n".join([header, *(",".join(map(str, row)) for row in rows)]) + "\n"


def osm_bz2_bomb(folder: Path) -> Path:
    """bzip2 packs 64 MiB of zeros after an <osm> tag into a few hundred bytes."""
    import bz2

    path = folder / "city.osm.bz2"
    path.write_bytes(bz2.compress(b"<?xml version='1.0'?><osm version='0.6'>" + bytes(64 << 20)))
    return path


def oversized(folder: Path) -> Path:
    path = folder / "big.csv"
    rows = [(f"店{i}", "便利店", 118.7823, 32.0417) for i in range(3000)]
    path.write_text(_facilities_csv(rows), encoding="utf-8")
    return path


def _geojson(folder: Path, name: str, frame: gpd.GeoDataFrame) -> Path:
    path = folder / name
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


def invalid_polygon(folder: Path) -> Path:
    bowtie = shapely.Polygon([(118.775, 32.035), (118.795, 32.050), (118.795, 32.035),
                              (118.775, 32.050)])  # fmt: skip
    frame = gpd.GeoDataFrame({"district_id": ["D1"]}, geometry=[bowtie], crs="EPSG:4326")
    return _geojson(folder, "bowtie.geojson", frame)


def mixed_districts(folder: Path) -> Path:
    frame = gpd.GeoDataFrame(
        {"district_id": ["D1", "D2", "D3"]},
        geometry=[BLOCK, shapely.LineString([(118.78, 32.04), (118.79, 32.04)]),
                  shapely.Point(118.78, 32.04)],
        crs="EPSG:4326",
    )  # fmt: skip
    return _geojson(folder, "mixed.geojson", frame)


def mixed_residents(folder: Path) -> Path:
    frame = gpd.GeoDataFrame(
        {"population": [120.0, 80.0, 60.0]},
        geometry=[shapely.Point(118.7841, 32.0416), shapely.Point(118.7880, 32.0390),
                  shapely.LineString([(118.78, 32.04), (118.79, 32.04)])],
        crs="EPSG:4326",
    )  # fmt: skip
    return _geojson(folder, "homes.geojson", frame)


def missing_crs(folder: Path) -> Path:
    path = folder / "noprj.zip"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        parts = _shapefile_parts(folder / "shp", _districts_frame(crs=None), "districts")
    path.write_bytes(_zip(parts))
    return path


def swapped_lat_lon(folder: Path) -> Path:
    path = folder / "swapped.csv"
    rows = [(name, kind, lat, lon) for name, kind, lon, lat in SHOPS]
    path.write_text(_facilities_csv(rows), encoding="utf-8")
    return path


def _residents_csv(folder: Path, name: str, populations: list[str]) -> Path:
    path = folder / name
    lines = ["lon,lat,population"]
    lines += [f"{lon},{lat},{p}" for (lon, lat, _), p in zip(HOMES, populations, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def nan_population(folder: Path) -> Path:
    return _residents_csv(folder, "nan.csv", ["120", "NaN", "60"])


def negative_population(folder: Path) -> Path:
    return _residents_csv(folder, "negative.csv", ["120", "-80", "60"])


def duplicate_ids(folder: Path) -> Path:
    path = folder / "dup.csv"
    rows = [(f"F{min(i, 1)}", *shop) for i, shop in enumerate(SHOPS)]
    path.write_text(_facilities_csv(rows, header="编号,名称,类别,经度,纬度"), encoding="utf-8")
    return path


def empty_districts(folder: Path) -> Path:
    path = folder / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    return path


def empty_road_lines(folder: Path) -> Path:
    path = folder / "roads.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    return path


def line_facility(folder: Path) -> Path:
    frame = gpd.GeoDataFrame(
        {"name": ["菜场", "步道"], "category": ["菜市场", "健身设施"]},
        geometry=[shapely.Point(118.7823, 32.0417),
                  shapely.LineString([(118.78, 32.04), (118.79, 32.04)])],
        crs="EPSG:4326",
    )  # fmt: skip
    return _geojson(folder, "shops.geojson", frame)


def header_only_facilities(folder: Path) -> Path:
    path = folder / "header.csv"
    path.write_text(_facilities_csv([]), encoding="utf-8")
    return path


def empty_file(folder: Path) -> Path:
    path = folder / "zero.csv"
    path.write_bytes(b"")
    return path


def disconnected_network(folder: Path) -> Path:
    # The real extract: its walkable streets fall into 43 pieces.
    return shared_file(NANJING)


def gbk_csv(folder: Path) -> Path:
    path = folder / "设施.csv"
    path.write_bytes(_facilities_csv(SHOPS).encode("gbk"))
    return path


def workbook_bomb(folder: Path) -> Path:
    """A real facilities workbook with one more part: 20 MiB of zeros packed by bzip2."""
    import openpyxl

    path = folder / "设施.xlsx"
    book = openpyxl.Workbook()
    for row in [("名称", "类别", "经度", "纬度"), *SHOPS]:
        book.active.append(row)
    book.save(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_BZIP2) as archive:
        archive.writestr("xl/media/filler.xml", bytes(20 * 1024 * 1024))
    return path


def nonexistent(folder: Path) -> Path:
    return folder / "nowhere.csv"


def huge_raster(folder: Path) -> Path:
    """A tiny GeoTIFF declaring 60,000 × 36,000 pixels of residents (all nodata).

    No tile is written (GDAL leaves them sparse), so the file stays tiny on disk, while a
    reader taking the whole window would allocate 16 GiB. Its 0.1 m pixels cover the
    Xinjiekou extract, so the window around the network alone is some 3 × 10⁸ pixels.
    """
    import rasterio
    from affine import Affine

    path = folder / "people.tif"
    profile = {
        "driver": "GTiff", "width": 60_000, "height": 36_000, "count": 1, "dtype": "float32",
        "crs": "EPSG:4326", "transform": Affine(1e-6, 0.0, 118.75, 0.0, -1e-6, 32.07),
        "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
        "nodata": -1.0, "sparse_ok": True,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile):
        pass
    return path


def million_rows(folder: Path) -> Path:
    """A facility CSV of 10⁶ rows (27 MB)."""
    path = folder / "million.csv"
    row = "苏果好的,便利店,118.7776,32.0416\n"
    path.write_text("名称,类别,经度,纬度\n" + row * 1_000_000, encoding="utf-8")
    return path


def rehabilitation_facilities(folder: Path, n: int = 20_000) -> Path:
    """``n`` rehabilitation facilities (1,800 m circles) spread over the Xinjiekou extract.

    20,000 rows (0.8 MB) are well under the row limit, yet their walking distances would
    hold 150 M facility-node pairs: 7.2 GB at the peak of the searches (measured before the
    limit; the 10⁶-row case of the issue is bounded by the row limit, this one by
    ``RADIUS_MAX_REACH_BYTES``).
    """
    import numpy as np

    path = folder / f"rehabilitation_{n}.csv"
    random = np.random.default_rng(16)
    lon = random.uniform(118.7647, 118.7965, n)
    lat = random.uniform(32.0277, 32.0517, n)
    rows = [
        f"康复{i},康复设施,{x:.6f},{y:.6f}" for i, (x, y) in enumerate(zip(lon, lat, strict=True))
    ]
    path.write_text("名称,类别,经度,纬度\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def fifo_network(folder: Path) -> Path:
    path = folder / "streets.osm"
    os.mkfifo(path)
    return path


def osm_node_out_of_range(folder: Path) -> Path:
    path = folder / "bad_node.osm"
    path.write_text(
        "<?xml version='1.0'?><osm version='0.6'>"
        "<node id='1' lat='1000' lon='118.78'/><node id='2' lat='32.04' lon='118.79'/>"
        "<way id='9'><nd ref='1'/><nd ref='2'/><tag k='highway' v='residential'/></way>"
        "</osm>",
        encoding="utf-8",
    )
    return path


def deep_geojson(folder: Path) -> Path:
    path = folder / "deep.geojson"
    path.write_text('{"type": "FeatureCollection", "features": ' + "[" * 10_000
                    + "]" * 10_000 + "}", encoding="utf-8")  # fmt: skip
    return path


# --------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One broken or hostile input and what each channel must say about it.

    ``said`` are patterns every message must match besides the file's name: the row,
    field or zip entry at fault, and the fix. ``outcome`` is ``"error"`` (exit code 2, an
    ``st.error``), ``"warning"`` (exit code 0, the analysis runs, the warning is shown) or
    ``"ok"``. A channel where the case means nothing is skipped with the reason given;
    ``app_max_bytes`` lowers the app's upload limit; ``facilities`` are the counts per
    category a successful command line run must report; ``app_names_file`` is false where
    the app's message cannot name the upload (its analysis gets the facilities loaded).
    The app's error is read on its Chinese page (no English word, :func:`_in_chinese`) and
    on its English page, which must match ``said`` (or ``app_said``); a warning is read on
    the Chinese page, so its ``app_said`` is Chinese.
    """

    id: str
    role: Role
    build: Callable[[Path], Path]
    outcome: Literal["error", "warning", "ok"]
    said: tuple[str, ...] = ()
    cli_skip: str | None = None
    app_skip: str | None = None
    app_max_bytes: int | None = None
    facilities: dict[str, int] = field(default_factory=dict)
    app_said: tuple[str, ...] | None = None
    app_names_file: bool = True


CASES = [
    Case(
        "xlsx decompression bomb",
        "facilities",
        workbook_bomb,
        "error",
        (r"the workbook unpacks to 20\.0 MB", r"decompression bomb", r"save it as CSV"),
    ),
    Case(
        "zip bomb",
        "districts",
        zip_bomb,
        "error",
        (r"'districts\.shp'", r"compressed [\d,]+ times", r"zip bomb", r"Zip the Shapefile again"),
    ),
    Case(
        "zip with too many entries",
        "districts",
        zip_many_entries,
        "error",
        (r"lists 1,0\d\d entries, more than the 1,000 allowed", r"zip only the Shapefile"),
    ),
    Case(
        "zip entry climbing out with ..",
        "districts",
        zip_slip,
        "error",
        (r"unsafe path \('\.\./\.\./outside\.shp'", r"Zip the files again from inside"),
    ),
    Case(
        "zip entry with an absolute path",
        "districts",
        zip_absolute,
        "error",
        (r"unsafe path \('/etc/cron\.d/evil\.shp'", r"Zip the files again from inside"),
    ),
    Case(
        "zip entry that is a symbolic link",
        "districts",
        zip_symlink,
        "error",
        (r"symbolic link \('districts\.dbf'\)", r"Zip the files themselves"),
    ),
    Case(
        "XML entity expansion in OSM XML",
        "network",
        xml_entities,
        "error",
        (r"entities are not supported", r"export the area again"),
    ),
    Case(
        "bzip2 decompression bomb as OSM",
        "network",
        osm_bz2_bomb,
        "error",
        (r"unpacks to more than [\d,]+ times its size", r"decompression bomb", r"Export"),
        # The app judges an upload as it streams: zeros are not OSM data from the first MB.
        app_said=(r"unpacks to [\d.]+ MB in a row without any OSM node", r"Export"),
    ),
    Case(
        "upload over the size limit",
        "facilities",
        oversized,
        "error",
        (r"the file is [\d.]+ KB, larger than the upload limit of 64\.0 KB", r"cut the area"),
        cli_skip="the command line reads local files of any size: only the app, whose "
        "server is shared, limits uploads",
        app_max_bytes=64 * 1024,
        app_skip="the app saves uploads in a forkserver child (radius.bounded), where the test "
        "cannot lower the 200 MB limit; tests/test_uploads.py checks save_upload's limit",
    ),
    Case(
        "invalid (self-crossing) district polygon",
        "districts",
        invalid_polygon,
        "warning",
        (r"row 1", r"repaired", r"check these boundaries"),
        app_said=(r"第 1 行", r"修复", r"请检查这些边界"),  # the app's notes speak its language
    ),
    Case(
        "districts of mixed geometry types",
        "districts",
        mixed_districts,
        "error",
        (r"row 2.*LineString", r"row 3.*Point", r"Polygon"),
    ),
    Case(
        "facility drawn as a line",
        "facilities",
        line_facility,
        "error",
        (r"feature 2, column 'geometry': LineString geometry is not supported", r"use Point"),
    ),
    Case(
        "resident points mixed with lines",
        "residents",
        mixed_residents,
        "error",
        (r"feature 3", r"LineString", r"one kind of geometry per file"),
    ),
    Case(
        "zipped Shapefile without CRS (.prj)",
        "districts",
        missing_crs,
        "error",
        (r"no coordinate reference system", r"\.prj"),
    ),
    Case(
        "swapped lon and lat in a CSV",
        "facilities",
        swapped_lat_lon,
        "error",
        (r"'经度'.*'纬度'|经度/纬度", r"exchange the two values|swap the two column names"),
    ),
    Case(
        "NaN population",
        "residents",
        nan_population,
        "error",
        (r"row 3, column 'population': 'NaN' is not a number", r"number of residents"),
    ),
    Case(
        "negative population",
        "residents",
        negative_population,
        "error",
        (r"row 3, column 'population': -80 is negative", r"0 or more"),
    ),
    Case(
        "duplicate facility ids",
        "facilities",
        duplicate_ids,
        "error",
        (r"row 4, column '编号': duplicate id 'F1' \(also in row 3\)", r"its own id"),
    ),
    Case(
        "empty districts layer",
        "districts",
        empty_districts,
        "error",
        (r"the districts layer is empty", r"draw at least one district polygon, or give no"),
    ),
    Case(
        "empty road-line network layer",
        "network",
        empty_road_lines,
        "error",
        (r"the layer holds no road line", r"draw or export the roads"),
    ),
    Case(
        "facility table with a header only",
        "facilities",
        header_only_facilities,
        "error",
        (r"empty \(no data rows\)", r"one row per facility"),
    ),
    Case(
        "empty file (0 bytes)",
        "facilities",
        empty_file,
        "error",
        (r"empty", r"name, category, lon and lat|upload it again"),
    ),
    Case(
        "street network in disconnected pieces",
        "network",
        disconnected_network,
        "warning",
        (r"\d+ disconnected pieces", r"islands", r"add the missing links"),
        app_said=(r"\d+ 个互不连通的片段", r"孤立路网", r"请在数据"),
    ),
    Case(
        "GBK-encoded CSV with Chinese headers",
        "facilities",
        gbk_csv,
        "ok",
        facilities={"convenience_store": 2, "supermarket": 1},
    ),
    Case(
        "raster declaring 60000 x 36000 pixels",
        "residents",
        huge_raster,
        "error",
        (
            r"[\d,]+ × [\d,]+ = [\d,]+ pixels, more than the 50,000,000 pixels allowed",
            r"RADIUS_MAX_RASTER_PIXELS",
            r"give a bbox",
            r"gdal_translate",
        ),
    ),
    Case(
        "facility CSV of a million rows",
        "facilities",
        million_rows,
        "error",
        (
            r"1,000,000 rows, more than the 200,000 rows allowed",
            r"RADIUS_MAX_TABLE_ROWS",
            r"keep only the facilities of the area studied",
        ),
        app_skip="27 MB is over the app's upload limit, a case of its own above",
    ),
    Case(
        "facility CSV of 20,000 rows whose walking distances need 7 GB",
        "facilities",
        rehabilitation_facilities,
        "error",
        (
            r"[Tt]he walking distances of 20,\d{3} facilities in \d+ category\(ies\) would take "
            r"about [5-8]\.\d GB of memory \(about 1\d\d,\d{3},\d{3} facility-node pairs",
            r"more than the 2\.0 GB allowed \(limit RADIUS_MAX_REACH_BYTES\)",
            r"give only the facilities of the study area",
            r"RADIUS_MAX_REACH_BYTES=8589934592",
        ),
        app_names_file=False,
    ),
    Case(
        "FIFO as the network",
        "network",
        fifo_network,
        "error",
        (r"is a FIFO \(named pipe\), not a regular file", r"save the data to a file"),
        app_skip="a browser upload is always a regular file",
    ),
    Case(
        "OSM node with lat=1000",
        "network",
        osm_node_out_of_range,
        "error",
        (
            r"coordinates are out of range",
            r"'1000'",
            r"latitudes lie within -90 to 90",
            r"correct that node",
        ),
    ),
    Case(
        "GeoJSON nested 10,000 deep",
        "districts",
        deep_geojson,
        "error",
        (r"nested 65 levels deep, more than the 64 levels allowed", r"RADIUS_MAX_NESTING"),
    ),
    Case(
        "file that does not exist",
        "facilities",
        nonexistent,
        "error",
        (r"not found", r"check the path"),
        app_skip="a browser upload always carries its content: there is no path to miss",
    ),
]


# --------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------


def _argv(case: Case, path: Path, out: Path) -> list[str]:
    network = shared_file(NANJING)
    if case.role == "network":
        return ["reach", "--network", str(path), "--no-service-areas", "--out", str(out)]
    if case.role == "facilities":
        return ["reach", "--network", str(network), "--facilities", str(path),
                "--no-service-areas", "--out", str(out)]  # fmt: skip
    option = "--population" if case.role == "residents" else "--districts"
    return ["analyze", "--network", str(network), option, str(path), "--out", str(out)]


def _outputs(case: Case) -> list[str]:
    """The files a successful run of the case's command writes."""
    if case.role in ("network", "facilities"):
        return ["reach.gpkg", "summary.json"]
    return ["provision.xlsx", "results.gpkg", "summary.json"]


def _snapshot(root: Path, *, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (but ``skip``) with its size and modification time."""
    found = {}
    for path in root.rglob("*"):
        if skip is not None and (path == skip or skip in path.parents):
            continue
        if path.is_file() or path.is_symlink():
            info = path.lstat()
            found[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns)
    return found


def _says(message: str, case: Case, name: str, *, app: bool = False) -> None:
    """The message names the file, the row, field or entry, and the fix."""
    assert name in message, message
    said = case.app_said if app and case.app_said is not None else case.said
    for pattern in said:
        assert re.search(pattern, message, re.DOTALL), (pattern, message)
    assert "Traceback" not in message


def _check_cli(
    case: Case,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inputs, cwd, temp = tmp_path / "in", tmp_path / "cwd", tmp_path / "tmp"
    for folder in (inputs, cwd, temp):
        folder.mkdir()
    path = case.build(inputs)
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps(PREVIOUS), encoding="utf-8")
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")  # the messages checked are the English ones
    before = _snapshot(tmp_path, skip=out)

    code = main(_argv(case, path, out))
    stdout, stderr = capsys.readouterr()

    assert "Traceback" not in stdout + stderr
    if case.outcome == "error":
        assert code == 2, stderr
        assert stderr.startswith("radius: error:"), stderr
        error = stderr.split("radius: error:", 1)[1]
        _says(error, case, str(path))
        assert [p.name for p in out.iterdir()] == ["summary.json"]
        assert json.loads((out / "summary.json").read_text(encoding="utf-8")) == PREVIOUS
    else:
        assert code == 0, stderr
        assert "radius: error" not in stderr
        if case.outcome == "warning":
            warned = [line for line in stderr.splitlines() if str(path) in line]
            assert warned, stderr
            _says("\n".join(warned), case, str(path))
        assert sorted(p.name for p in out.iterdir()) == _outputs(case)
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        for category, count in case.facilities.items():
            assert summary["categories"][category]["facilities"] == count
    assert _snapshot(tmp_path, skip=out) == before, "something was written outside --out"
    assert list(temp.iterdir()) == [], "temporary files were left behind"


@pytest.mark.parametrize("case_id", ["zip bomb", "GBK-encoded CSV with Chinese headers"])
def test_cli_entry_point(case_id: str, tmp_path: Path) -> None:
    """The installed command (a new process): the exit code and stderr users get."""
    case = next(c for c in CASES if c.id == case_id)
    path = case.build(tmp_path)
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "radius.cli", *_argv(case, path, out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=300,
        check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr
    if case.outcome == "error":
        assert done.returncode == 2, done.stderr
        _says(done.stderr, case, str(path))
        assert not out.exists() or not any(out.iterdir())
    else:
        assert done.returncode == 0, done.stderr
        assert sorted(p.name for p in out.iterdir()) == _outputs(case)


# --------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------


def _shown_texts(at) -> list[str]:
    return [str(e.value) for kind in ("error", "warning", "text") for e in getattr(at, kind)]


def _in_chinese(message: str, name: str) -> None:
    """A message of the Chinese page reads as Chinese: no English word but the names of
    tests.language_checks, the words of the file's own name, and a reason in full-width
    brackets without a Chinese character (what osmium or GDAL said, quoted as it is)."""
    from tests.language_checks import ALLOWED_IN_CHINESE, english_words

    text = re.sub(r"（[^（）\u4e00-\u9fff]*）", " ", message)
    assert english_words(text, ALLOWED_IN_CHINESE | set(english_words(name))) == [], message


def _check_app(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared_file(NANJING)  # the app's default district
    inputs, temp = tmp_path / "in", tmp_path / "tmp"
    inputs.mkdir()
    temp.mkdir()
    path = case.build(inputs)
    if case.app_max_bytes is not None:
        monkeypatch.setattr("radius.uploads.DEFAULT_MAX_BYTES", case.app_max_bytes)
        monkeypatch.setattr("radius.app_inputs.DEFAULT_MAX_BYTES", case.app_max_bytes)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    monkeypatch.setattr(tempfile, "tempdir", str(temp))

    at.file_uploader(key=f"upload_{case.role}").upload(path.name, path.read_bytes())
    at.run()

    assert not at.exception, [e.value for e in at.exception]
    shown = "\n".join(_shown_texts(at))
    assert "radius-upload-" not in shown  # the server's folders are never shown
    assert str(temp) not in shown
    if case.outcome == "error":
        assert len(at.error) == 1, shown
        message = str(at.error[0].value)
        # A file refused as it is read, or read but refused when analysed, keeps the default
        # district; one refused later stops the analysis: each message says so first, in the
        # page's language.
        chinese_frames = ("无法读取上传的文件：", "无法分析上传的数据：", "无法完成分析：")
        assert message.startswith(chinese_frames), message
        name = path.name if case.app_names_file else ""
        assert name in message, message
        assert "Traceback" not in message
        _in_chinese(message, name)
        # The same page in English: the facts and the fix the case names.
        at.radio(key="lang").set_value("en").run()
        assert not at.exception, [e.value for e in at.exception]
        assert len(at.error) == 1, "\n".join(_shown_texts(at))
        message = str(at.error[0].value)
        english_frames = (
            "The uploaded files could not be read: ",
            "The uploaded data could not be analysed: ",
            "The analysis could not run: ",
        )
        assert message.startswith(english_frames), message
        _says(message, case, name, app=True)
    else:
        assert not at.error, shown
        assert at.metric, "the analysis did not run"
        if case.outcome == "warning":
            noted = [text for text in _shown_texts(at) if path.name in text]
            assert noted, shown
            _says("\n".join(noted), case, path.name, app=True)
    assert list(temp.iterdir()) == [], "the uploads' temporary folder was left behind"


# --------------------------------------------------------------------------------------
# The matrix
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["cli", "app"])
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input(
    case: Case,
    channel: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each case through the command line and through the app."""
    skip = case.cli_skip if channel == "cli" else case.app_skip
    if skip:
        pytest.skip(skip)
    if channel == "cli":
        _check_cli(case, tmp_path, monkeypatch, capsys)
    else:
        _check_app(case, tmp_path, monkeypatch)


# --------------------------------------------------------------------------------------
# Parameters and job files: the command line only
# --------------------------------------------------------------------------------------


def _deep_yaml(folder: Path) -> Path:
    path = folder / "deep.yaml"
    path.write_text("network: " + "[" * 10_000 + "]" * 10_000 + "\n", encoding="utf-8")
    return path


def _dev_zero(folder: Path) -> Path:
    return Path("/dev/zero")


@dataclass(frozen=True)
class ArgumentCase:
    """A bad parameter or job file, the arguments after ``radius`` and what must be said.

    ``argv`` names the network as ``{network}``, the built file as ``{file}`` and the output
    folder as ``{out}``.
    """

    id: str
    argv: tuple[str, ...]
    said: tuple[str, ...]
    build: Callable[[Path], Path] | None = None


_REACH = ("reach", "--network", "{network}", "--no-service-areas", "--out", "{out}")
ARGUMENT_CASES = [
    ArgumentCase(
        "--buffer -1",
        (*_REACH, "--buffer", "-1"),
        (r"--buffer -1 metres: out of range", r"greater than 0 and at most 1,000"),
    ),
    ArgumentCase(
        "--buffer nan",
        (*_REACH, "--buffer", "nan"),
        (r"--buffer nan: not a finite number", r"give metres greater than 0"),
    ),
    ArgumentCase(
        "--max-snap nan",
        (*_REACH, "--max-snap", "nan"),
        (r"--max-snap nan: not a finite number", r"metres greater than 0 and at most 5,000"),
    ),
    ArgumentCase(
        "--max-snap -5",
        (*_REACH, "--max-snap", "-5"),
        (r"--max-snap -5 metres: out of range", r"\(the default is 200\)"),
    ),
    ArgumentCase(
        "--speed 0",
        (*_REACH, "--speed", "0"),
        (r"--speed 0 m/s: out of range", r"people walk at 0\.6 to 1\.5 m/s"),
    ),
    ArgumentCase(
        "--speed inf",
        (*_REACH, "--speed", "inf"),
        (r"--speed inf: not a finite number", r"m/s"),
    ),
    ArgumentCase(
        "--hexagon-size -500",
        (
            "analyze",
            "--network",
            "{network}",
            "--district-mode",
            "hexagons",
            "--hexagon-size",
            "-500",
            "--out",
            "{out}",
        ),
        (r"--hexagon-size -500 metres: out of range", r"from 10 to 20,000"),
    ),
    ArgumentCase(
        "--crs EPSG:32601 (UTM zone 1) on Nanjing",
        (*_REACH, "--crs", "EPSG:32601"),
        (
            r"--crs EPSG:32601 \(WGS 84 / UTM zone 1N\) stretches distances by 54\.\d%",
            r"meant for longitudes -180° to -174°",
            r"use EPSG:32650 \(WGS 84 / UTM zone 50N\) or EPSG:4549 \(CGCS2000 3-degree "
            r"Gauss–Krüger, central meridian 120°E\)",
        ),
    ),
    ArgumentCase(
        "report job file that is /dev/zero",
        ("report", "--job", "{file}", "--out", "{out}"),
        (r"/dev/zero: is a device, not a regular file", r"save the data to a file"),
        _dev_zero,
    ),
    ArgumentCase(
        "batch job file that is /dev/zero",
        ("batch", "{file}", "--out", "{out}"),
        (r"/dev/zero: is a device, not a regular file", r"batch job file"),
        _dev_zero,
    ),
    ArgumentCase(
        "report job YAML nested 10,000 deep",
        ("report", "--job", "{file}", "--out", "{out}"),
        (
            r"deep\.yaml: lists and mappings are nested 65 levels deep \(line 1, column \d+\), "
            r"more than the 64 levels allowed \(limit RADIUS_MAX_NESTING\)",
            r"check the brackets",
            r"RADIUS_MAX_NESTING=256",
        ),
        _deep_yaml,
    ),
    ArgumentCase(
        "batch job YAML nested 10,000 deep",
        ("batch", "{file}", "--out", "{out}"),
        (r"deep\.yaml: lists and mappings are nested 65 levels deep", r"RADIUS_MAX_NESTING"),
        _deep_yaml,
    ),
]


@pytest.mark.parametrize("case", ARGUMENT_CASES, ids=[case.id for case in ARGUMENT_CASES])
def test_bad_argument(
    case: ArgumentCase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit code 2, the flag or file and its fix named, nothing written, no traceback."""
    network = shared_file(NANJING)
    built = case.build(tmp_path) if case.build is not None else None
    out = tmp_path / "out"
    argv = [
        word.format(network=network, out=out, file=built) for word in case.argv
    ]  # fmt: skip
    code = main(argv)
    stdout, stderr = capsys.readouterr()
    assert code == 2, stderr
    assert stderr.startswith("radius: error:"), stderr
    assert "Traceback" not in stdout + stderr
    assert "internal error" not in stderr
    for pattern in case.said:
        assert re.search(pattern, stderr), (pattern, stderr)
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    ("argv", "chinese", "user_words"),
    [
        (
            ("--buffer", "nan"),
            "--buffer nan：不是有限的数；请给出大于 0 且不超过 1,000 的值，单位为米（默认为 30）",
            {"nan"},
        ),
        (
            ("--max-snap", "-5"),
            "--max-snap -5 米：超出范围；请给出大于 0 且不超过 5,000 的值",
            set(),
        ),
        (
            ("--speed", "0"),
            "--speed 0 米/秒：超出范围；请给出大于 0.1 且不超过 5 的值，单位为米/秒"
            "（步行速度通常为 0.6 至 1.5 米/秒）",
            set(),
        ),
        (
            ("--crs", "EPSG:32601"),
            "--crs EPSG:32601（WGS 84 / UTM zone 1N）在数据位置（118.7",
            {"zone", "auto"},
        ),
    ],
    ids=["buffer", "max-snap", "speed", "crs"],
)
def test_bad_argument_in_chinese(
    argv: tuple[str, ...],
    chinese: str,
    user_words: set[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--lang zh: the same errors in Chinese, with the flag, the value, the range and the fix;
    the only English words are the user's value and the name of the CRS chosen (EPSG's)."""
    from tests.language_checks import ALLOWED_IN_CHINESE, english_words

    out = tmp_path / "out"
    command = ["reach", "--network", str(shared_file(NANJING)), "--no-service-areas"]
    assert main([*command, *argv, "--lang", "zh", "--out", str(out)]) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("radius：错误：" + chinese), stderr
    assert english_words(stderr, ALLOWED_IN_CHINESE | user_words) == [], stderr
    if argv[0] == "--crs":
        assert "使距离拉伸 54." in stderr
        assert "该坐标系适用于经度 -180° 至 -174°" in stderr
        assert "请改用 EPSG:32650（WGS 84 UTM 投影 50N 带）或 EPSG:4549（CGCS2000 3 度带" in stderr
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    ("label", "value", "name", "english", "chinese"),
    [
        (
            "--count",
            1.5,
            "count",
            "--count 1.5: not a whole number; give sites from 1 to 10,000",
            "--count 1.5：不是整数；请给出 1 至 10,000 之间的值，单位为处",
        ),
        (
            "workers",
            "x",
            "workers",
            "workers 'x': not a number; give worker processes from 1 to 1,024",
            "workers 'x'：不是数字",
        ),
        (
            "--household-size",
            True,
            "household_size",
            "(China's 2020 census gives 2.62)",
            "（2020 年全国人口普查为每户 2.62 人）",
        ),
        (
            "--hexagon-size",
            -500,
            "hexagon_size",
            "-500 metres: out of range; give metres from 10 to 20,000 (the default is 500)",
            "请给出 10 至 20,000 之间的值，单位为米（默认为 500）",
        ),
    ],
)
def test_a_number_out_of_its_range_in_both_languages(
    label: str, value: object, name: str, english: str, chinese: str
) -> None:
    from radius._errors import InputError
    from radius._validate import check_number
    from tests.language_checks import assert_chinese_error

    with pytest.raises(InputError, match=re.escape(english)) as excinfo:
        check_number(label, value, name)  # type: ignore[arg-type]
    assert chinese in assert_chinese_error(excinfo.value, allowed={"workers", "x", "True"})


def test_a_crs_just_outside_its_zone_is_warned_about(nanjing_osm: Path) -> None:
    """UTM zone 51 on Nanjing (118.78°E, zone 50): distances off by 0.16 %: a warning."""
    from radius.network import choose_metric_crs

    with pytest.warns(UserWarning, match=r"EPSG:32651.*outside its area of use.*0\.16%.*"
                      r"EPSG:32650 \(WGS 84 / UTM zone 50N\)"):  # fmt: skip
        assert choose_metric_crs(118.78, 32.04, "EPSG:32651").to_epsg() == 32651


def test_a_limit_is_raised_by_its_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3,000 facility rows: refused under RADIUS_MAX_TABLE_ROWS=100, read under 5000."""
    from radius._errors import InputError
    from radius.config import load_categories
    from radius.facilities import read_inventory

    path = oversized(tmp_path)
    monkeypatch.setenv("RADIUS_MAX_TABLE_ROWS", "100")
    with pytest.raises(InputError, match=r"3,000 rows, more than the 100 rows allowed \(limit "
                       r"RADIUS_MAX_TABLE_ROWS\).*RADIUS_MAX_TABLE_ROWS=400"):  # fmt: skip
        read_inventory(path, load_categories())
    monkeypatch.setenv("RADIUS_MAX_TABLE_ROWS", "5000")
    assert len(read_inventory(path, load_categories())) == 3000
    monkeypatch.setenv("RADIUS_MAX_TABLE_ROWS", "lots")
    with pytest.raises(InputError, match=r"RADIUS_MAX_TABLE_ROWS='lots': give a whole number"):
        read_inventory(path, load_categories())


# --------------------------------------------------------------------------------------
# Each limit in both languages (issue #14): the file, the limit and the setting to raise it
# --------------------------------------------------------------------------------------


def _inventory(path: Path) -> object:
    from radius.config import load_categories
    from radius.facilities import read_inventory

    return read_inventory(path, load_categories())


def _districts(path: Path) -> object:
    from radius.districts import read_districts

    return read_districts(path)


def _raster(path: Path) -> object:
    from radius.population import residents_from_raster

    return residents_from_raster(path)


def _categories(path: Path) -> object:
    from radius.config import load_categories

    return load_categories(path)


def _network(path: Path) -> object:
    from radius.network import load_network

    return load_network(path)


def _three_districts(folder: Path) -> Path:
    boxes = [shapely.box(118.775 + i / 100, 32.035, 118.784 + i / 100, 32.050) for i in range(3)]
    frame = gpd.GeoDataFrame({"district_id": ["A", "B", "C"]}, geometry=boxes, crs="EPSG:4326")
    return _geojson(folder, "three.geojson", frame)


def _zipped_districts(folder: Path) -> Path:
    frame = gpd.GeoDataFrame({"id": ["A"]}, geometry=[BLOCK], crs="EPSG:4326")
    frame.to_file(folder / "districts.shp", engine="pyogrio")
    path = folder / "districts.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(folder.glob("districts.*")):
            if part != path:
                archive.write(part, part.name)
    return path


def _large_categories(folder: Path) -> Path:
    path = folder / "categories.yaml"
    path.write_text((REPO_ROOT / "configs" / "categories.yaml").read_text(encoding="utf-8"),
                    encoding="utf-8")  # fmt: skip
    return path


def _gzipped_osm(folder: Path) -> Path:
    import gzip

    path = folder / "nanjing.osm.gz"
    path.write_bytes(gzip.compress(shared_file(NANJING).read_bytes()))
    return path


@dataclass(frozen=True)
class LimitCase:
    """A real input over one limit (lowered by its variable where the default is large)."""

    id: str
    env: dict[str, str]
    build: Callable[[Path], Path]
    read: Callable[[Path], object]
    said: tuple[str, ...]
    zh_said: tuple[str, ...]


LIMIT_CASES = [
    LimitCase("raster pixels", {}, huge_raster, _raster,
              (r"2,160,000,000 pixels, more than the 50,000,000 pixels allowed",
               r"\(limit RADIUS_MAX_RASTER_PIXELS\)", r"RADIUS_MAX_RASTER_PIXELS=200000000"),
              ("60,000 × 36,000 = 2,160,000,000 像素，超过允许的 50,000,000 像素", "裁剪",
               "`gdal_translate -projwin")),
    LimitCase("raster bytes",
              {"RADIUS_MAX_RASTER_PIXELS": "3000000000", "RADIUS_MAX_RASTER_BYTES": "1000000"},
              huge_raster, _raster,
              (r"holds 8\.0 GB of values \(1 file\(s\) of 60,000 × 36,000 pixels, 4 bytes each\), "
               r"more than the 976\.6 KB allowed", r"RADIUS_MAX_RASTER_BYTES=4000000"),
              ("8.0 GB 的像元值", "每像素 4 字节")),
    LimitCase("table rows", {"RADIUS_MAX_TABLE_ROWS": "100"}, oversized, _inventory,
              (r"the facilities table has 3,000 rows, more than the 100 rows allowed",
               r"keep only the facilities of the area studied", r"RADIUS_MAX_TABLE_ROWS=400"),
              ("设施表有 3,000 行，超过允许的 100 行", "请只保留研究区内的设施")),
    LimitCase("layer features", {"RADIUS_MAX_TABLE_ROWS": "2"}, _three_districts, _districts,
              (r"the districts layer has 3 features, more than the 2 rows allowed",
               r"RADIUS_MAX_TABLE_ROWS=8"),
              ("分析区域图层有 3 个要素，超过允许的 2 行",)),
    LimitCase("table bytes", {"RADIUS_MAX_TABLE_BYTES": "10000"}, oversized, _inventory,
              (r"the facilities file is [\d.]+ KB, more than the 9\.8 KB allowed",
               r"RADIUS_MAX_TABLE_BYTES=40000"),
              ("设施文件大小为", "超过允许的 9.8 KB")),
    LimitCase("text bytes", {"RADIUS_MAX_TEXT_BYTES": "1000"}, _large_categories, _categories,
              (r"the configuration file is larger than the 1000 B allowed",
               r"RADIUS_MAX_TEXT_BYTES=4000"),
              ("配置文件大于允许的 1000 B",)),
    LimitCase("YAML nesting", {}, _deep_yaml, _categories,
              (r"nested 65 levels deep \(line 1, column \d+\), more than the 64 levels allowed",
               r"RADIUS_MAX_NESTING=256"),
              ("嵌套了 65 层（第 1 行第", "超过允许的 64 层")),
    LimitCase("GeoJSON nesting", {}, deep_geojson, _districts,
              (r"nested 65 levels deep, more than the 64 levels allowed",
               r"RADIUS_MAX_NESTING=256"),
              ("嵌套了 65 层，超过允许的 64 层",)),
    LimitCase("zip entries", {"RADIUS_MAX_ZIP_ENTRIES": "3"}, _zipped_districts, _districts,
              (r"the zip archive lists \d entries, more than the 3 allowed",
               r"RADIUS_MAX_ZIP_ENTRIES"),
              ("个条目，超过允许的 3 个",)),
    LimitCase("unpacked bytes", {"RADIUS_MAX_UNPACKED_BYTES": "500"}, _zipped_districts,
              _districts,
              (r"the zip archive unpacks to \d+ B, more than the 500 B allowed",
               r"RADIUS_MAX_UNPACKED_BYTES"),
              ("解压后为", "超过允许的 500 B")),
    LimitCase("OSM unpacked bytes", {"RADIUS_MAX_OSM_UNPACKED_BYTES": "100000"}, _gzipped_osm,
              _network,
              (r"unpacks to more than 97\.7 KB, the most allowed",
               r"RADIUS_MAX_OSM_UNPACKED_BYTES"),
              ("解压后超过允许的最大值 97.7 KB",)),
    LimitCase("a limit that is not a number", {"RADIUS_MAX_TABLE_ROWS": "lots"}, oversized,
              _inventory,
              (r"RADIUS_MAX_TABLE_ROWS='lots': give a whole number of rows \(1 or more\), e\.g\. "
               r"RADIUS_MAX_TABLE_ROWS=400000; unset it for the default 200,000",),
              ("请给出以行计的正整数", "默认值 200,000")),
]  # fmt: skip


@pytest.mark.parametrize("case", LIMIT_CASES, ids=[case.id for case in LIMIT_CASES])
def test_each_limit_reads_in_both_languages(
    case: LimitCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In English the file, the limit and the variable that raises it; the same in Chinese,
    with no English word."""
    from radius._errors import RadiusError
    from tests.language_checks import assert_chinese_error

    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    path = case.build(tmp_path)
    with pytest.raises(RadiusError) as caught:
        case.read(path)
    english = str(caught.value)
    for pattern in case.said:
        assert re.search(pattern, english), (pattern, english)
    chinese = assert_chinese_error(caught.value)
    variable = re.findall(r"RADIUS_MAX_\w+", english)[0]  # the limit met
    for said in (*case.zh_said, variable):
        assert said in chinese, (said, chinese)
    if "not a number" not in case.id:
        assert english.startswith(str(path)), english
        assert chinese.startswith(f"{path}："), chinese


#: The readers that name what a file holds (``what``) in their errors, and the position of
#: ``what`` among their arguments.
_WHAT_ARGUMENT = {
    "regular_file": 1,
    "read_limited_text": 1,
    "load_yaml": 1,
    "check_table_file": 1,
    "check_rows": 2,
    "read_vector_layer": None,  # keyword only
    "data_kind": 0,
}


def _what_literals() -> dict[str, list[str]]:
    """Every text written as ``what`` in a call of those readers in radius/: text -> where."""
    import ast

    found: dict[str, list[str]] = {}
    for path in sorted((REPO_ROOT / "radius").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in _WHAT_ARGUMENT:
                continue
            index = _WHAT_ARGUMENT[name]
            given = [k.value for k in node.keywords if k.arg == "what"]
            if index is not None and len(node.args) > index:
                given.append(node.args[index])
            for value in given:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found.setdefault(value.value, []).append(f"{path.name}:{node.lineno}")
    return found


def test_every_kind_of_file_the_readers_name_reads_in_chinese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader given what a file holds as text ("facilities", "road lines") names it in the
    error's language: each such text of radius/ is a data_* message id, so a limit or a
    missing file reads 设施, 道路线 … in Chinese, never the English word."""
    from radius._errors import InputError
    from radius._limits import check_rows, data_kind, regular_file
    from radius.i18n import Message
    from tests.language_checks import assert_chinese_error

    literals = _what_literals()
    assert {"facilities", "residents", "districts", "road lines"} <= set(literals), literals
    unknown = {
        text: where for text, where in literals.items() if not isinstance(data_kind(text), Message)
    }
    assert unknown == {}, "give these a data_* message id in configs/messages.yaml"
    monkeypatch.setenv("RADIUS_MAX_TABLE_ROWS", "2")
    for text in literals:
        kind = data_kind(text)
        assert isinstance(kind, Message)
        english = kind.text("en")
        with pytest.raises(InputError) as caught:
            check_rows(tmp_path / "table.csv", 3, text)
        assert f"the {english} table has 3 rows" in str(caught.value)
        chinese = assert_chinese_error(caught.value)
        assert chinese.startswith(f"{tmp_path / 'table.csv'}：{kind.text('zh')}")
        with pytest.raises(InputError) as caught:
            regular_file(tmp_path / "missing.gpkg", text)
        assert f"{english} not found" in str(caught.value)
        assert kind.text("zh") in assert_chinese_error(caught.value)


# --------------------------------------------------------------------------------------
# The file system: a read-only --out, a full disk, a killed run's leftovers
# --------------------------------------------------------------------------------------


def _in_own_mounts(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a shell script in a mount namespace of its own (its tmpfs vanish with it)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("mounting a tiny tmpfs needs root and unshare(1)")
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {tmp_path}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {probe.stderr.strip()}")
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip


def _reach_command(out: str, lang: str = "en") -> str:
    network = shared_file(NANJING)
    return (
        f"{sys.executable} -m radius.cli reach --network {network} --no-service-areas --out {out}"
        f" --lang {lang}"
    )


FILE_SYSTEM_CASES = {
    "read-only --out": (
        "mkdir -p disk && mount -t tmpfs -o size=1m tmpfs disk && mkdir disk/out && "
        "echo previous > disk/out/summary.json && mount -o remount,ro disk && {run}; "
        "code=$?; cat disk/out/summary.json; exit $code",
        (r"disk/out/reach\.gpkg: the file system is read-only",
         r"give --out a folder on a writable disk"),
    ),
    "full disk": (
        "mkdir -p disk && mount -t tmpfs -o size=200k tmpfs disk && mkdir disk/out && "
        "echo previous > disk/out/summary.json && {run}; code=$?; ls -a disk/out; "
        "cat disk/out/summary.json; exit $code",
        (r"disk/out/reach\.gpkg: no space left on the disk \([\d.]+ KB free\)",
         r"free some space or give --out a folder on another disk",
         r"outputs already in disk/out were left as they were"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case_id", list(FILE_SYSTEM_CASES))
def test_file_system_failure(case_id: str, tmp_path: Path) -> None:
    """A real read-only or full tmpfs: exit 2, the path and fix named, old outputs kept."""
    script, said = FILE_SYSTEM_CASES[case_id]
    done = _in_own_mounts(script.format(run=_reach_command("disk/out")), tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr
    for pattern in said:
        assert re.search(pattern, done.stderr), (pattern, done.stderr)
    assert "previous" in done.stdout  # the earlier output is whole
    assert ".partial" not in done.stdout  # no temporary file left


FILE_SYSTEM_CASES_ZH = {
    "read-only --out": (
        "disk/out/reach.gpkg：文件系统是只读的；请用 --out 指定可写磁盘上的文件夹",
    ),
    "full disk": (
        "disk/out/reach.gpkg：写入时磁盘空间已满（剩余 ",
        "请释放磁盘空间，或用 --out 指定其他磁盘上的文件夹。disk/out 中已有的输出保持不变",
    ),
}


@pytest.mark.parametrize("case_id", list(FILE_SYSTEM_CASES))
def test_file_system_failure_in_chinese(case_id: str, tmp_path: Path) -> None:
    """The same read-only or full tmpfs with --lang zh: the path and fix in Chinese only."""
    from tests.language_checks import english_words

    script, _ = FILE_SYSTEM_CASES[case_id]
    done = _in_own_mounts(script.format(run=_reach_command("disk/out", "zh")), tmp_path)
    assert done.returncode == 2, done.stderr
    error = done.stderr[done.stderr.index("radius：错误：") :]
    for said in FILE_SYSTEM_CASES_ZH[case_id]:
        assert said in error, (said, error)
    assert english_words(error) == [], error
    assert "previous" in done.stdout


def test_permission_denied_names_the_folder_and_the_fix(tmp_path: Path) -> None:
    """An --out inside a folder the user may not write (run as nobody when root)."""
    from radius._io import json_writer, write_outputs

    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() != 0:
        locked.chmod(0o555)
        with pytest.raises(Exception, match=r"locked.*permission denied.*chmod u\+w"):
            write_outputs(locked / "out", {"a.json": json_writer({})})
        return
    tmp_path.chmod(0o755)
    tmp_path.parent.chmod(tmp_path.parent.stat().st_mode | 0o005)
    script = (
        "import sys; from pathlib import Path; from radius._io import json_writer, write_outputs\n"
        "try:\n    write_outputs(Path(sys.argv[1]), {'a.json': json_writer({})})\n"
        "except Exception as exc:\n    print(exc)\n    print(exc.args[0].text('zh'))\n"
    )
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
         "-c", script, str(locked / "out")],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO_ROOT,
    )  # fmt: skip
    if "Permission denied" in done.stderr and "python" in done.stderr.lower():
        pytest.skip(f"the interpreter cannot be run as nobody: {done.stderr[-200:]}")
    assert re.search(r"locked/out: permission denied.*chmod u\+w", done.stdout), done
    chinese = done.stdout.splitlines()[-1]
    assert f"{locked / 'out'}：没有写入权限" in chinese, chinese
    assert f"（`chmod u+w {locked / 'out'}`）" in chinese, chinese


def test_a_killed_runs_partial_files_are_removed_by_the_next_run(tmp_path: Path) -> None:
    """What SIGKILL leaves (a hidden .partial file and its SQLite journal) goes on rerun."""
    out = tmp_path / "out"
    out.mkdir()
    stale = [out / ".reach.k2j4x.partial.gpkg", out / ".reach.k2j4x.partial.gpkg-journal",
             out / ".summary.8fh3.partial.json"]  # fmt: skip
    for path in stale:
        path.write_bytes(b"half")
    keep = out / ".hidden-notes.txt"
    keep.write_text("mine", encoding="utf-8")
    done = subprocess.run(
        _reach_command(str(out)).split(), capture_output=True, text=True, timeout=300,
        check=False, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [".hidden-notes.txt", "reach.gpkg",
                                                     "summary.json"]  # fmt: skip


def test_a_real_sigkill_leaves_no_damaged_visible_file(tmp_path: Path) -> None:
    """Kill radius while it writes: the earlier output stays whole, the rerun cleans up."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps(PREVIOUS), encoding="utf-8")
    process = subprocess.Popen(
        _reach_command(str(out)).split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            if any(".partial" in p.name for p in out.iterdir()):
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
    finally:
        process.kill()
        process.wait()
    assert json.loads((out / "summary.json").read_text(encoding="utf-8")) in (
        PREVIOUS,
        json.loads((out / "summary.json").read_text(encoding="utf-8")),
    )
    assert all(
        ".partial" in p.name or p.name in ("summary.json", "reach.gpkg") for p in out.iterdir()
    )
    rerun = subprocess.run(
        _reach_command(str(out)).split(), capture_output=True, text=True, timeout=300,
        check=False, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in out.iterdir()) == ["reach.gpkg", "summary.json"]


# --------------------------------------------------------------------------------------
# Peak memory, measured in a subprocess under an address-space limit
# --------------------------------------------------------------------------------------

GIB = 1024**3
GUARD_BYTES = 4 * GIB
"""RLIMIT_AS of the measured process: a reader that tried 16 GiB fails at once instead of
eating the machine (the interpreter with GDAL, PROJ and numpy maps ~0.8 GiB of address space
before reading anything, so the peak is judged on resident memory, below)."""
PEAK_BYTES = 1 * GIB


def _peak_of(code: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``code`` in a fresh interpreter under RLIMIT_AS; its peak RSS (bytes), stderr."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (GUARD_BYTES, GUARD_BYTES))

    with tempfile.TemporaryFile(mode="w+") as errors:
        process = subprocess.Popen(
            [sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=errors,
            text=True, preexec_fn=limit, cwd=REPO_ROOT,
            env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})},
        )  # fmt: skip
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak, not the max
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        stderr = errors.read()
    assert "MemoryError" not in stderr, stderr
    return usage.ru_maxrss * 1024, stderr


_CLI = "import sys; from radius.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.slow
@pytest.mark.parametrize("case_id", ["raster declaring 60000 x 36000 pixels",
                                     "facility CSV of a million rows"])  # fmt: skip
def test_peak_memory_of_huge_inputs_stays_under_1_gib(case_id: str, tmp_path: Path) -> None:
    """The raster and table rows of the issue, on the command line, under 1 GiB."""
    case = next(c for c in CASES if c.id == case_id)
    path = case.build(tmp_path)
    peak, stderr = _peak_of(_CLI, *_argv(case, path, tmp_path / "out"))
    assert re.search(case.said[0], stderr), stderr
    assert peak < PEAK_BYTES, f"peak {peak / GIB:.2f} GiB"
    print(f"{case_id}: peak RSS {peak / 2**20:.0f} MiB")


@pytest.mark.slow
def test_a_large_raster_is_read_in_strips_under_1_gib(tmp_path: Path) -> None:
    """7,000 × 7,000 float32 pixels (49 M, under the limit): read whole, the old way, the peak
    was 1.8 GB (float64 sums, masks and copies, measured); in strips it stays under 1 GiB."""
    import numpy as np
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    path = tmp_path / "county.tif"
    size = 7000
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "float32",
        "crs": "EPSG:4326", "transform": Affine(1e-4, 0.0, 118.5, 0.0, -1e-4, 32.3),
        "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as raster:
        zeros = np.zeros((500, size), dtype=np.float32)
        for start in range(0, size, 500):
            raster.write(zeros, 1, window=Window(0, start, size, 500))
        raster.write(np.full((1, 3), 25.0, dtype=np.float32), 1, window=Window(10, 6990, 3, 1))
    assert path.stat().st_size < 2 * 2**20
    code = (
        "import sys; from radius.population import residents_from_raster\n"
        "frame = residents_from_raster(sys.argv[1])\n"
        "print(len(frame), frame['population'].sum(), frame['resident_id'].tolist())\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=600,
        check=False, cwd=REPO_ROOT,
    )  # fmt: skip
    assert process.stdout.split()[:2] == ["3", "75.0"], process.stderr
    assert "raster/r6990c10" in process.stdout
    peak, _stderr = _peak_of(code, str(path))
    assert peak < PEAK_BYTES, f"peak {peak / GIB:.2f} GiB"
    print(f"49 M-pixel raster: peak RSS {peak / 2**20:.0f} MiB")


@pytest.mark.slow
def test_20000_facilities_with_service_areas_are_refused_under_1_gib(tmp_path: Path) -> None:
    """The 2×10⁴-row inventory with service areas (7.2 GB peak before the limit; 9 GB in
    the issue's session): refused from an estimate before the searches, under 1 GiB."""
    case = next(c for c in CASES if c.build is rehabilitation_facilities)
    path = rehabilitation_facilities(tmp_path)
    assert path.stat().st_size < 1_000_000
    argv = ["reach", "--network", str(shared_file(NANJING)), "--facilities", str(path),
            "--out", str(tmp_path / "out")]  # fmt: skip
    peak, stderr = _peak_of(_CLI, *argv, env={"LC_ALL": "en_US.UTF-8"})
    assert stderr.count("radius: error:") == 1, stderr
    assert f"radius: error: {path}: the walking distances of 20,000 facilities" in stderr
    for pattern in case.said:
        assert re.search(pattern, stderr), (pattern, stderr)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert peak < PEAK_BYTES, f"peak {peak / GIB:.2f} GiB"
    print(f"20,000 facilities: peak RSS {peak / 2**20:.0f} MiB")


@pytest.mark.filterwarnings("ignore::UserWarning")  # islands, unroutable facilities
def test_the_reach_memory_estimate_is_close_and_its_limit_can_be_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,000 facilities: refused under a 10 MB limit with an estimate within 10 % of the
    pairs the run then stores once the limit is raised."""
    from radius._errors import InputError
    from radius.pipeline import ReachConfig, run_reach

    path = rehabilitation_facilities(tmp_path, 1000)
    config = ReachConfig(
        network=shared_file(NANJING),
        facilities=path,
        categories=("rehabilitation",),
        service_areas=False,
    )
    monkeypatch.setenv("RADIUS_MAX_REACH_BYTES", "10000000")
    with pytest.raises(InputError) as refused:
        run_reach(config)
    text = str(refused.value)
    assert text.startswith(f"{path}: the walking distances of 1,000 facilities in 1 "), text
    assert "more than the 9.5 MB allowed (limit RADIUS_MAX_REACH_BYTES)" in text
    assert "RADIUS_MAX_REACH_BYTES=40000000 (environment variable)" in text
    found = re.search(r"about ([\d,]+) facility-node pairs", text)
    assert found, text
    estimate = int(found.group(1).replace(",", ""))
    monkeypatch.setenv("RADIUS_MAX_REACH_BYTES", "1000000000")
    result = run_reach(config)
    stored = sum(len(reach.matrix.node) for reach in result.categories)
    assert abs(estimate / stored - 1) < 0.1, (estimate, stored)


def test_the_raster_limit_names_the_window_without_a_bbox(tmp_path: Path) -> None:
    from radius._errors import InputError
    from radius.population import residents_from_raster

    with pytest.raises(InputError, match=r"people\.tif: the raster window is 60,000 × 36,000 = "
                       r"2,160,000,000 pixels, more than the 50,000,000 pixels allowed \(limit "
                       r"RADIUS_MAX_RASTER_PIXELS\); give a bbox"):  # fmt: skip
        residents_from_raster(huge_raster(tmp_path))


# --------------------------------------------------------------------------------------
# Batches on a real local Dask cluster
# --------------------------------------------------------------------------------------


def _batch_job(folder: Path, districts: list[str]) -> Path:
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "job.yaml"
    job = {"network": str(shared_file(NANJING)), "districts": "blocks", "only": districts,
           "categories": ["convenience_store"], "outputs": ["gpkg", "summary"]}  # fmt: skip
    path.write_text(yaml.safe_dump(job), encoding="utf-8")
    return path


@pytest.mark.slow
def test_the_rerun_of_a_damaged_district_recomputes_it(tmp_path: Path) -> None:
    """A results.gpkg truncated to 0 bytes no longer passes for done; stale partials go."""
    import hashlib

    from radius.batch import run_batch

    job = _batch_job(tmp_path / "job", ["block-002", "block-003"])
    out = tmp_path / "out"
    first = run_batch(job, out, workers=1, progress=False)
    assert [d.status for d in first.districts] == ["ok", "ok"]
    folder = out / "districts" / "block-002"
    record = json.loads((folder / "done.json").read_text(encoding="utf-8"))
    for name in ("results.gpkg", "summary.json"):
        data = (folder / name).read_bytes()
        assert record["files"][name] == {
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    (folder / "results.gpkg").write_bytes(b"")  # the damage
    stale = [folder / ".results.x1.partial.gpkg", folder / ".results.x1.partial.gpkg-journal"]
    for path in stale:
        path.write_bytes(b"left by a killed run")
    said = (
        r"block-002: \S+/block-002/results\.gpkg is 0 bytes and does not match its done "
        r"record \([\d,]+ bytes and their SHA-256\): the district is computed again"
    )
    with pytest.warns(UserWarning, match=said):
        second = run_batch(job, out, workers=1, progress=False)
    assert sum(re.search(said, note) is not None for note in second.notes) == 1  # in the summary
    assert {d.district_id: d.status for d in second.districts} == {
        "block-002": "ok",  # recomputed
        "block-003": "skipped",  # intact
    }
    residents = gpd.read_file(folder / "results.gpkg", layer="districts", engine="pyogrio")
    assert residents["district_id"].tolist() == ["block-002"]
    assert sorted(p.name for p in folder.iterdir()) == ["done.json", "results.gpkg",
                                                        "summary.json"]  # fmt: skip
    third = run_batch(job, out, workers=1, progress=False)
    assert {d.status for d in third.districts} == {"skipped"}


@pytest.mark.slow
@pytest.mark.parametrize("memory", ["50MiB", "150MiB"])
def test_workers_that_die_end_the_batch_with_a_message(
    memory: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """50 MiB: workers die at start, none comes back (it hung forever); 150 MiB: they die
    at start or while running. Either way the batch ends and says to raise the limit."""
    monkeypatch.setenv("RADIUS_MAX_WORKER_WAIT_S", "4")
    job = _batch_job(tmp_path / "job", ["block-002"])
    started = time.monotonic()
    code = main(["batch", str(job), "--out", str(tmp_path / "out"), "--workers", "1",
                 "--memory-limit", memory, "--no-progress"])  # fmt: skip
    stdout, stderr = capsys.readouterr()
    assert time.monotonic() - started < 180
    said = f"most likely over their memory limit \\(--memory-limit {memory} per worker\\): give "
    said += "--memory-limit 2GiB or more"
    if code == 2:
        assert re.search(r"radius: error: the dask workers died and none was alive for 4 s "
                         r"\(RADIUS_MAX_WORKER_WAIT_S\), " + said, stderr), stderr  # fmt: skip
        assert "0 of 1 district(s) were written" in stderr
    else:
        assert code == 3, (stdout, stderr)
        assert re.search(r"failed block-002: the worker running this district died, " + said,
                         stdout), stdout  # fmt: skip
    assert "Traceback" not in stdout + stderr


@pytest.mark.slow
def test_a_scheduler_without_workers_ends_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real scheduler (a LocalCluster of 0 workers): the batch waits
    RADIUS_MAX_WORKER_WAIT_S for the first worker, then exit 2 and how to start one."""
    from distributed import LocalCluster

    monkeypatch.setenv("RADIUS_MAX_WORKER_WAIT_S", "3")
    job = _batch_job(tmp_path / "job", ["block-002"])
    with LocalCluster(n_workers=0, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        started = time.monotonic()
        code = main(["batch", str(job), "--out", str(tmp_path / "out"), "--scheduler", address,
                     "--no-progress"])  # fmt: skip
        waited = time.monotonic() - started
    stderr = capsys.readouterr().err
    assert code == 2, stderr
    assert waited < 60, waited
    assert (
        f"radius: error: the dask scheduler at {address} had no worker for 3 seconds (limit "
        f"RADIUS_MAX_WORKER_WAIT_S); start one with `dask worker {address}`, or leave out "
        "--scheduler to run on this machine, or wait longer, e.g. RADIUS_MAX_WORKER_WAIT_S=12"
    ) in stderr, stderr
    assert not list((tmp_path / "out").glob("districts/*/done.json"))


@pytest.mark.slow
def test_workers_that_cannot_import_radius_end_the_batch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real `dask worker` whose environment's radius fails to import: the first district
    ends the batch (exit 2) with the import error and the fix, instead of failing each one."""
    from distributed import LocalCluster

    broken = tmp_path / "site" / "radius"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(
        "raise ImportError('radius is not installed here (test)')\n", encoding="utf-8"
    )
    job = _batch_job(tmp_path / "job", ["block-002", "block-003"])
    dask = Path(sys.executable).with_name("dask")
    with LocalCluster(n_workers=0, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        worker = subprocess.Popen(
            [str(dask), "worker", address, "--nthreads", "1", "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(broken.parent)},
        )  # fmt: skip
        try:
            started = time.monotonic()
            code = main(["batch", str(job), "--out", str(tmp_path / "out"), "--scheduler",
                         address, "--no-progress"])  # fmt: skip
            waited = time.monotonic() - started
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    stdout, stderr = capsys.readouterr()
    assert code == 2, (stdout, stderr)
    assert waited < 120, waited
    assert re.search(
        r"radius: error: a dask worker cannot import what a district needs \(ImportError: "
        r"radius is not installed here \(test\)\): install radius in the workers' environment",
        stderr,
    ), stderr
    assert "the batch was stopped, 0 of 2 district(s) were written before" in stderr
    assert "Traceback" not in stdout + stderr


@pytest.mark.slow
def test_a_worker_preload_that_fails_ends_the_batch(tmp_path: Path) -> None:
    """Local workers whose preload module raises ImportError at start (LocalCluster: "Nanny
    failed to start"): exit 2 with the worker's own error and the fix, not a hang or an
    internal error."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "radius_broken_preload.py").write_text(
        "raise ImportError('No module named radius_missing_dependency')\n", encoding="utf-8"
    )
    job = _batch_job(tmp_path / "job", ["block-002"])
    done = subprocess.run(
        [sys.executable, "-m", "radius.cli", "batch", str(job), "--out", str(tmp_path / "out"),
         "--workers", "1", "--no-progress"],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "LC_ALL": "en_US.UTF-8",
             "PYTHONPATH": str(site),
             "DASK_DISTRIBUTED__WORKER__PRELOAD": '["radius_broken_preload"]'},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-3000:]
    assert re.search(
        r"radius: error: the dask workers failed to start \(ImportError: No module named "
        r"radius_missing_dependency\); a worker that cannot import radius, or whose preload",
        done.stderr,
    ), done.stderr[-3000:]
    assert "fix or remove the preload; no district was computed" in done.stderr
    assert "internal error" not in done.stderr


def _ctrl_c_at_its_default() -> None:
    """In the child, before it starts: SIGINT as a terminal gives it. A child inherits an
    ignored SIGINT, and in the full suite this test's pytest-xdist worker had one: the batch
    ran on to its end under the Ctrl-C (exit 0, and exit 3 for its failed districts, on two
    clean-clone runs) while the test alone passed."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_an_interrupted_batch_reports_what_it_wrote(tmp_path: Path) -> None:
    """Ctrl-C once a district is done: exit 130 and the complete districts listed."""
    # The six blocks of the Nanjing extract with residents (the others fail at once).
    districts = ["block-002", "block-003", "block-005", "block-014", "block-016", "block-017"]
    job = _batch_job(tmp_path / "job", districts)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "radius.cli", "batch", str(job), "--out", str(out),
         "--workers", "1", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        preexec_fn=_ctrl_c_at_its_default,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            if list(out.glob("districts/*/done.json")):
                process.send_signal(signal.SIGINT)
                break
            time.sleep(0.02)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    found = re.search(r"radius: interrupted; (\d) of 6 districts are complete in \S+districts "
                      r"\((\d) computed in this run: (block-\d+)", stderr)  # fmt: skip
    assert found, stderr
    complete = int(found.group(1))
    assert 1 <= complete < len(districts)
    assert len(list(out.glob("districts/*/done.json"))) == complete
    assert "Rerun the same command" in stderr
    assert "no output was written" not in stderr


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("speed_m_s", ".nan", r"speed_m_s: Input should be a finite number"),
        ("max_snap_m", "-5", r"max_snap_m: Input should be greater than 0"),
        ("buffer_factor", ".inf", r"buffer_factor: Input should be a finite number"),
    ],
)
def test_bad_numbers_in_a_batch_job_name_the_key(
    key: str, value: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same checks for a job file's numbers: exit 2, the file and key named."""
    job = _batch_job(tmp_path / "job", ["block-002"])
    job.write_text(job.read_text(encoding="utf-8") + f"{key}: {value}\n", encoding="utf-8")
    code = main(["batch", str(job), "--out", str(tmp_path / "out"), "--no-progress"])
    stderr = capsys.readouterr().err
    assert code == 2, stderr
    assert str(job) in stderr
    assert re.search(said, stderr), stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_full_disk_by_a_file_size_limit(lang: str, tmp_path: Path) -> None:
    """A full disk without mounting anything: RLIMIT_FSIZE makes writes past 200 KB fail
    (EFBIG; Python ignores SIGXFSZ), as a full disk would. Runs where a tmpfs cannot be
    mounted too, so the disk-full path is always tested."""
    import resource

    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("previous\n", encoding="utf-8")

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (200 * 1024, 200 * 1024))

    done = subprocess.run(
        shlex.split(_reach_command(str(out), lang)), capture_output=True, text=True, timeout=300,
        check=False, preexec_fn=small_files, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr
    if lang == "en":
        for pattern in (r"out/reach\.gpkg: no space left for it under this process's file size "
                        r"limit \(200\.0 KB, ulimit -f\); raise the limit \(ulimit -f unlimited\)",
                        r"free some space or give --out a folder on another disk",
                        r"outputs already in .*out were left as they were"):  # fmt: skip
            assert re.search(pattern, done.stderr), (pattern, done.stderr)
    else:
        from tests.language_checks import ALLOWED_IN_CHINESE, english_words

        error = done.stderr[done.stderr.index("radius：错误：") :]
        for said in (f"{out}/reach.gpkg：已达到本进程的文件大小上限（200.0 KB，`ulimit -f`）",
                     "请提高上限（`ulimit -f unlimited`）、释放磁盘空间，",
                     "或用 --out 指定其他磁盘上的文件夹",
                     f"{out} 中已有的输出保持不变"):  # fmt: skip
            assert said in error, (said, error)
        # the shell's command and its argument, as the user types them
        assert english_words(error, ALLOWED_IN_CHINESE | {"ulimit", "f", "unlimited"}) == [], error
    assert (out / "summary.json").read_text(encoding="utf-8") == "previous\n"
    assert not [p.name for p in out.iterdir() if ".partial" in p.name]


def test_issue_16_lists_every_row_with_its_tests() -> None:
    """Each test named in :data:`ISSUE_16` is a test of this module, run on that channel."""
    cases = {case.id for case in CASES}
    arguments = {case.id for case in ARGUMENT_CASES}
    for row, tests, said in ISSUE_16:
        assert tests, row
        assert said, row
        for test in tests:
            name, _, param = test.partition("[")
            assert name.startswith("test_"), (row, test)
            assert callable(globals().get(name)), (row, test)
            param = param.rstrip("]")
            if not param:
                continue
            if name == "test_hostile_input":
                case_id, _, channel = param.rpartition("-")
                assert case_id in cases, (row, test)
                assert channel in ("cli", "app"), (row, test)
                skip = next(c for c in CASES if c.id == case_id)
                assert (skip.cli_skip if channel == "cli" else skip.app_skip) is None, test
            elif name == "test_bad_argument":
                assert param in arguments, (row, test)
            elif name == "test_file_system_failure":
                assert param in FILE_SYSTEM_CASES, (row, test)
            elif name == "test_peak_memory_of_huge_inputs_stays_under_1_gib":
                assert param in cases, (row, test)
