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
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
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
# The files
# --------------------------------------------------------------------------------------


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
    category a successful command line run must report.
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
    ),
    Case(
        "invalid (self-crossing) district polygon",
        "districts",
        invalid_polygon,
        "warning",
        (r"row 1", r"repaired", r"check these boundaries"),
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
    ),
    Case(
        "GBK-encoded CSV with Chinese headers",
        "facilities",
        gbk_csv,
        "ok",
        facilities={"convenience_store": 2, "supermarket": 1},
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


def _says(message: str, case: Case, name: str) -> None:
    """The message names the file, the row, field or entry, and the fix."""
    assert name in message, message
    for pattern in case.said:
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


def _check_app(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared_file(NANJING)  # the app's default district
    inputs, temp = tmp_path / "in", tmp_path / "tmp"
    inputs.mkdir()
    temp.mkdir()
    path = case.build(inputs)
    if case.app_max_bytes is not None:
        monkeypatch.setattr("radius.uploads.DEFAULT_MAX_BYTES", case.app_max_bytes)
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
        assert message.startswith("无法完成分析："), message
        _says(message, case, path.name)
    else:
        assert not at.error, shown
        assert at.metric, "the analysis did not run"
        if case.outcome == "warning":
            noted = [text for text in _shown_texts(at) if path.name in text]
            assert noted, shown
            _says("\n".join(noted), case, path.name)
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
