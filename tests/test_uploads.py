"""Safe handling of uploaded files (radius.uploads): limits, names, zips, content, lat/lon."""

from __future__ import annotations

import bz2
import gzip
import io
import re
import stat
import zipfile
from pathlib import Path

import pytest

from radius._errors import InputError
from radius._files import check_unpacked
from radius.config import load_categories
from radius.facilities import read_inventory
from radius.network import load_network
from radius.uploads import (
    UPLOAD_SUFFIXES,
    ZipLimits,
    _extract,
    check_point_table,
    check_unpacked_size,
    format_size,
    private_dir,
    sanitise_name,
    save_upload,
    suffix_of,
)
from tests.conftest import shared_file
from tests.language_checks import assert_chinese_error, english_words

NANJING_CSV = "name,category,lon,lat\n新街口便利店,convenience_store,118.7841,32.0416\n"


def _zip(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _shapefile_zip(tmp_path: Path) -> bytes:
    import geopandas as gpd
    import shapely

    frame = gpd.GeoDataFrame(
        {"name": ["A"], "category": ["supermarket"]},
        geometry=[shapely.Point(118.78, 32.04)],
        crs="EPSG:4326",
    )
    folder = tmp_path / "shp"
    folder.mkdir()
    frame.to_file(folder / "shops.shp", engine="pyogrio")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(folder.iterdir()):
            archive.write(part, arcname=f"layers/{part.name}")
        archive.writestr("readme.html", b"<html>not kept</html>")
        archive.writestr("__MACOSX/layers/._shops.shp", b"junk")
    return buffer.getvalue()


def test_private_dir_is_owner_only():
    folder = private_dir()
    try:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    finally:
        folder.rmdir()


def test_saved_file_is_private_and_kept_inside(tmp_path):
    path = save_upload("shops.csv", NANJING_CSV.encode(), max_bytes=10_000, dest_dir=tmp_path)
    assert path.parent == tmp_path
    assert path.read_text(encoding="utf-8") == NANJING_CSV
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.csv", "passwd.csv"),
        ("..\\..\\windows\\evil.csv", "evil.csv"),
        ("/abs/path/设施 清单.csv", "设施 清单.csv"),
        ("..csv", "upload.csv"),
        ("a\x00b;rm -rf.osm.pbf", "a_b_rm -rf.osm.pbf"),
        ("....", "upload"),
    ],
)
def test_names_are_sanitised(name, expected):
    cleaned = sanitise_name(name)
    assert cleaned == expected
    assert "/" not in cleaned
    assert "\\" not in cleaned
    assert ".." not in cleaned


def test_two_uploads_with_one_name_do_not_overwrite(tmp_path):
    first = save_upload("a.csv", NANJING_CSV.encode(), dest_dir=tmp_path)
    second = save_upload("../a.csv", NANJING_CSV.encode(), dest_dir=tmp_path)
    assert first != second
    assert {first.name, second.name} == {"a.csv", "a-2.csv"}


def test_compound_suffixes():
    assert suffix_of("xinjiekou.osm.pbf") == ".osm.pbf"
    assert suffix_of("X.OSM.BZ2") == ".osm.bz2"
    assert suffix_of("roads.geojson") == ".geojson"
    assert suffix_of("notes.docx") == ".docx"


def test_oversized_upload_names_file_size_and_limit(tmp_path):
    data = b"name,category,lon,lat\n" + b"x" * 3 * 1024 * 1024
    with pytest.raises(
        ValueError, match=r"big\.csv: the file is 3\.0 MB, larger than the upload limit of 1\.0 MB"
    ):
        save_upload("big.csv", data, max_bytes=1024 * 1024, dest_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_empty_upload_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"empty\.csv: the file is empty"):
        save_upload("empty.csv", b"", dest_dir=tmp_path)


def test_suffix_not_accepted_for_role(tmp_path):
    with pytest.raises(ValueError, match=r"roads\.docx: files of type '\.docx' are not accepted"):
        save_upload(
            "roads.docx",
            b"PK\x03\x04",
            dest_dir=tmp_path,
            allowed_suffixes=UPLOAD_SUFFIXES["network"],
        )
    with pytest.raises(ValueError, match=r"'\.csv' are not accepted here; upload one of"):
        save_upload(
            "d.csv", b"a,b\n", dest_dir=tmp_path, allowed_suffixes=UPLOAD_SUFFIXES["districts"]
        )


def test_html_saved_as_osm_is_refused(tmp_path):
    page = b"<!DOCTYPE html>\n<html><head><title>Login</title></head><body>...</body></html>"
    with pytest.raises(ValueError, match=r"district\.osm: this is a web page \(HTML\)"):
        save_upload("district.osm", page, dest_dir=tmp_path)


def test_osm_xml_without_osm_element_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"a\.osm: not OSM XML"):
        save_upload("a.osm", b'<?xml version="1.0"?>\n<gpx></gpx>', dest_dir=tmp_path)
    ok = save_upload(
        "b.osm", b'<?xml version="1.0"?>\n<osm version="0.6"></osm>', dest_dir=tmp_path
    )
    assert ok.exists()


def test_not_a_zip_zip_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"roads\.zip: not a zip archive"):
        save_upload("roads.zip", b"this is plain text, not a zip", dest_dir=tmp_path)


def test_truncated_zip_is_refused(tmp_path):
    data = _zip({"a.shp": b"x" * 1000})[:-30]
    with pytest.raises(ValueError, match=r"cut\.zip: not a valid zip archive"):
        save_upload("cut.zip", data, dest_dir=tmp_path)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a.xlsx", b"name,category\n", r"a\.xlsx: not an Excel workbook"),
        ("a.gpkg", b"{}", r"a\.gpkg: not a GeoPackage"),
        ("a.geojson", b"PK\x03\x04", r"a\.geojson: not GeoJSON"),
        ("a.osm.pbf", b"<osm>", r"a\.osm\.pbf: not an OSM PBF file"),
        ("a.osm.bz2", b"<osm>", r"a\.osm\.bz2: not a bzip2-compressed file"),
        ("a.csv", b"PK\x03\x04rest", r"a\.csv: this is an Excel workbook"),
        ("a.csv", b"n\x00a\x00m\x00e\x00", r"a\.csv: a binary file"),
        ("a.tif", b"not a tiff", r"a\.tif: not a GeoTIFF"),
    ],
)
def test_content_must_match_suffix(tmp_path, name, data, message):
    with pytest.raises(ValueError, match=message):
        save_upload(name, data, dest_dir=tmp_path)


def test_zip_bomb_is_refused(tmp_path):
    # 200 MB of zeros compress to about 200 kB: a ratio of about 1000.
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("bomb.shp", "w", force_zip64=True) as entry,
    ):
        block = bytes(16 * 1024 * 1024)
        for _ in range(200 // 16):
            entry.write(block)
        entry.write(bytes(8 * 1024 * 1024))
    data = buffer.getvalue()
    assert len(data) < 1024 * 1024
    with pytest.raises(ValueError, match=r"bomb\.zip: .*compressed [\d,]+ times.*zip bomb"):
        save_upload("bomb.zip", data, dest_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_zip_over_total_size_is_refused(tmp_path):
    data = _zip({"a.shp": b"\x01" * 600_000, "a.dbf": b"\x02" * 600_000}, compression=0)
    limits = ZipLimits(max_total_bytes=1_000_000)
    with pytest.raises(
        ValueError, match=r"big\.zip: the zip archive unpacks to 1\.1 MB, more than"
    ):
        save_upload("big.zip", data, dest_dir=tmp_path, zip_limits=limits)


def test_zip_whose_header_lies_is_stopped_while_unpacking(tmp_path):
    data = bytearray(_zip({"a.shp": b"\x05" * 5000}, compression=0))
    # Forge the declared sizes (local header and central directory) to 10 bytes.
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    data[22:26] = (10).to_bytes(4, "little")
    with pytest.raises(ValueError, match=r"forged\.zip: (cannot unpack|the zip entry)"):
        save_upload("forged.zip", bytes(data), dest_dir=tmp_path)


def test_zip_slip_entry_is_refused(tmp_path):
    data = _zip({"roads.shp": b"x", "../evil.txt": b"owned"})
    with pytest.raises(ValueError, match=r"slip\.zip: .*unsafe path \('\.\./evil\.txt'"):
        save_upload("slip.zip", data, dest_dir=tmp_path)
    assert not (tmp_path.parent / "evil.txt").exists()


def test_absolute_zip_entry_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("roads.shp")
        archive.writestr(info, b"x")
        info = zipfile.ZipInfo("placeholder")
        info.filename = "/etc/cron.d/evil"
        archive.writestr(info, b"x")
    with pytest.raises(ValueError, match=r"abs\.zip: .*unsafe path"):
        save_upload("abs.zip", buffer.getvalue(), dest_dir=tmp_path)


def test_zip_symlink_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("roads.shp")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(ValueError, match=r"link\.zip: .*symbolic link"):
        save_upload("link.zip", buffer.getvalue(), dest_dir=tmp_path)


def test_zip_with_too_many_entries_is_refused(tmp_path):
    data = _zip({f"f{i}.dbf": b"" for i in range(30)})
    with pytest.raises(ValueError, match=r"many\.zip: the zip archive lists 30 entries, more than"):
        save_upload("many.zip", data, dest_dir=tmp_path, zip_limits=ZipLimits(max_entries=20))


def test_zip_without_shapefile_is_refused(tmp_path):
    data = _zip({"roads.geojson": b"{}", "notes.txt": b"hello"})
    with pytest.raises(ValueError, match=r"noshp\.zip: the zip archive holds no Shapefile"):
        save_upload("noshp.zip", data, dest_dir=tmp_path)


def test_zipped_shapefile_is_repacked_with_only_its_parts(tmp_path):
    data = _shapefile_zip(tmp_path)
    dest = tmp_path / "dest"
    dest.mkdir()
    path = save_upload(
        "商店.zip", data, dest_dir=dest, allowed_suffixes=UPLOAD_SUFFIXES["facilities"]
    )
    assert path.name == "商店.zip"
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
    assert names == sorted(f"layers/shops{s}" for s in (".cpg", ".dbf", ".prj", ".shp", ".shx"))
    assert [p.name for p in dest.iterdir()] == ["商店.zip"]  # nothing else left behind
    facilities = read_inventory(path, load_categories())
    assert list(facilities["category"]) == ["supermarket"]


def test_gbk_csv_is_saved_checked_and_read(tmp_path):
    text = "名称,类别,经度,纬度,建筑面积(平方米)\n新街口超市,超市,118.7841,32.0416,1200\n"
    data = text.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    path = save_upload("设施.csv", data, dest_dir=tmp_path)
    check_point_table(path)
    facilities = read_inventory(path, load_categories())
    assert facilities.loc[0, "name"] == "新街口超市"
    assert facilities.loc[0, "category"] == "supermarket"
    assert facilities.loc[0, "floor_area_m2"] == 1200.0


def test_swapped_lat_lon_is_detected(tmp_path):
    rows = ["name,category,lon,lat"] + [
        f"shop {i},convenience_store,{32.04 + i / 1000:.4f},{118.78 + i / 1000:.4f}"
        for i in range(5)
    ]
    path = tmp_path / "swapped.csv"
    path.write_text("\n".join(rows), encoding="utf-8")
    with pytest.raises(ValueError, match=r"upload\.csv: the columns 'lon' and 'lat' look swapped"):
        check_point_table(path, name="upload.csv")


def test_swapped_chinese_headers_in_gbk_are_detected(tmp_path):
    text = "名称,类别,经度,纬度\n甲,超市,39.9,116.4\n乙,超市,39.91,116.41\n"
    path = tmp_path / "gbk.csv"
    path.write_bytes(text.encode("gbk"))
    with pytest.raises(ValueError, match=r"gbk\.csv: the columns '经度' and '纬度' look swapped"):
        check_point_table(path)


def test_chinese_swap_within_90_degrees_is_detected(tmp_path):
    # Latitudes 18–54 in the lon column and longitudes 73–90 (Xinjiang) in the lat column.
    path = tmp_path / "xinjiang.csv"
    path.write_text("name,category,lng,latitude\na,supermarket,43.8,87.6\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"'lng' and 'latitude' look swapped"):
        check_point_table(path)


def test_swapped_lat_lon_in_xlsx_is_detected(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["name", "category", "lon", "lat"])
    sheet.append(["a", "supermarket", 32.04, 118.78])
    path = tmp_path / "swapped.xlsx"
    workbook.save(path)
    with pytest.raises(
        ValueError, match=r"swapped\.xlsx: the columns 'lon' and 'lat' look swapped"
    ):
        check_point_table(path)


def test_correct_tables_pass(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(NANJING_CSV, encoding="utf-8")
    check_point_table(path)
    no_coordinates = tmp_path / "plain.csv"
    no_coordinates.write_text("name,category\na,b\n", encoding="utf-8")
    check_point_table(no_coordinates)
    check_point_table(tmp_path / "missing.geojson")  # not a table: left to the readers


def test_format_size():
    assert format_size(512) == "512 B"
    assert format_size(3 * 1024 * 1024) == "3.0 MB"
    assert format_size(5 * 1024**3) == "5.0 GB"


@pytest.mark.parametrize(
    ("suffix", "pack"),
    [(".osm.bz2", bz2.compress), (".osm.gz", gzip.compress)],
)
def test_compressed_osm_bomb_is_refused(tmp_path, suffix, pack):
    bomb = pack(b"<osm>" + bytes(64 * 1024 * 1024))
    with pytest.raises(InputError, match=r"looks like a decompression bomb") as caught:
        save_upload(f"city{suffix}", bomb, dest_dir=tmp_path)
    assert f"city{suffix}" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_real_compressed_osm_passes_the_unpacked_size_check(tmp_path):
    data = shared_file("us_west_oakland.osm.bz2").read_bytes()
    check_unpacked_size("oakland.osm.bz2", data, ZipLimits())
    two_streams = data + gzip.compress(b"<osm></osm>")
    check_unpacked_size("two.osm.bz2", two_streams, ZipLimits())
    with pytest.raises(InputError, match=r"more than 1\.0 KB"):
        check_unpacked_size("oakland.osm.bz2", data, ZipLimits(max_total_bytes=1024))


def test_truncated_gzip_does_not_hang_the_check():
    data = gzip.compress(b"<osm>" + b"x" * 100_000)[:-20]
    check_unpacked_size("cut.osm.gz", data, ZipLimits())


class _Trickle(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes per read, like a slow pipe."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._step, self._at = data, step, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        end = self._at + min(self._step, size if size >= 0 else self._step)
        piece = self._data[self._at : end]
        self._at += len(piece)
        return piece


@pytest.mark.parametrize("step", [1, 1000, 1 << 20])
def test_streamed_check_follows_every_stream_whatever_the_reads(step: int) -> None:
    data = shared_file("us_west_oakland.osm.bz2").read_bytes()
    streams = data + gzip.compress(b"<osm></osm>") + bz2.compress(b"<osm/>")
    check_unpacked("oakland.osm.bz2", _Trickle(streams, step), len(streams), ZipLimits())
    # The last stream is unpacked too: a limit it alone crosses is caught.
    unpacked = len(bz2.decompress(data)) + len(b"<osm></osm>") + len(b"<osm/>")
    with pytest.raises(InputError, match=r"unpacks to more than"):
        check_unpacked(
            "oakland.osm.bz2",
            _Trickle(streams, step),
            len(streams),
            ZipLimits(max_total_bytes=unpacked - 3),
        )


def test_streamed_check_stops_after_the_head_it_was_asked_for() -> None:
    bomb = gzip.compress(b"<osm>" + bytes(64 << 20))
    with pytest.raises(InputError, match=r"looks like a decompression bomb"):
        check_unpacked("bomb.osm.gz", io.BytesIO(bomb), len(bomb), ZipLimits())
    # Below the ratio floor nothing is judged: a head of 512 KiB passes.
    check_unpacked("bomb.osm.gz", io.BytesIO(bomb), len(bomb), ZipLimits(), stop_after=1 << 19)


def test_a_large_bomb_is_judged_on_the_bytes_read_not_on_its_whole_size() -> None:
    # 1,000 gzip members of 1 MiB of zeros: 1 GiB from about 1 MiB.
    member = gzip.compress(bytes(1 << 20))
    data = member * 1000
    # Its first 64 MiB are only about 64 times the whole file's size...
    check_unpacked("x.osm.gz", io.BytesIO(data), len(data), ZipLimits(), stop_after=64 << 20)
    # ... but far more than 100 times the bytes they were unpacked from.
    with pytest.raises(InputError, match=r"looks like a decompression bomb"):
        check_unpacked("x.osm.gz", io.BytesIO(data), None, ZipLimits(), stop_after=64 << 20)


def test_command_line_refuses_a_local_gzip_bomb_before_osmium_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "city.osm.gz"
    path.write_bytes(gzip.compress(b"<?xml version='1.0'?><osm version='0.6'>" + bytes(64 << 20)))
    with pytest.raises(InputError, match=r"city\.osm\.gz: unpacks to more than [\d,]+ times"):
        load_network(path)


# --------------------------------------------------------------------------------------
# One language at a time (issue #14): every upload error is a message id
# --------------------------------------------------------------------------------------


def _reason_words(exc: BaseException) -> set[str]:
    """The English words of the system's own reason, shown in brackets as Python gave it."""
    note = exc.args[0]
    return {word for value in note.params.values() for word in english_words(str(value))}


@pytest.mark.parametrize(
    ("name", "data", "english", "chinese"),
    [
        (
            "空.csv",
            b"",
            "空.csv: the file is empty (0 bytes); upload it again",
            "空.csv：文件为空（0 字节）；请重新上传",
        ),
        (
            "道路.docx",
            b"PK\x03\x04",
            "道路.docx: files of type '.docx' are not accepted here; upload one of .csv, ",
            "道路.docx：此处不接受 '.docx' 类型的文件；请上传以下类型之一：.csv, ",
        ),
        (
            "数据",
            b"x",
            "数据: files of type '(no suffix)' are not accepted here; upload one of .csv, ",
            "数据：此处不接受没有后缀的文件；请上传以下类型之一：.csv, ",
        ),
        (
            "片区.osm",
            b"<!DOCTYPE html><html><body>Please log in</body></html>",
            "片区.osm: this is a web page (HTML), not a .osm file; the download probably failed",
            "片区.osm：这是网页（HTML），不是 .osm 文件；可能是下载失败或需要登录",
        ),
        (
            "设施.xlsx",
            b"name,category\n",
            "设施.xlsx: not an Excel workbook (.xlsx) (its content does not start like one); "
            "save it from Excel or WPS as .xlsx",
            "设施.xlsx：不是 Excel 工作簿（.xlsx），其内容的开头与工作簿不符；请用 Excel 或 WPS",
        ),
        (
            "街区.zip",
            b"plain text",
            "街区.zip: not a zip archive (its content does not start like one); zip the "
            "Shapefile (.shp, .shx, .dbf, .prj) again",
            "街区.zip：不是 ZIP 压缩包，其内容的开头与压缩包不符；请重新压缩 Shapefile",
        ),
        (
            "路网.osm",
            b'<?xml version="1.0"?>\n<gpx></gpx>',
            "路网.osm: not OSM XML (no <osm> element at the start); export the area again",
            "路网.osm：不是 OSM XML（开头没有 `<osm>` 元素）；请从 openstreetmap.org",
        ),
        (
            "路网.osm.bz2",
            b"<osm>",
            "路网.osm.bz2: not a bzip2-compressed file; upload the .osm.bz2 again",
            "路网.osm.bz2：不是 bzip2 压缩文件；请重新上传该 .osm.bz2 文件",
        ),
        (
            "路网.osm.gz",
            b"<osm>",
            "路网.osm.gz: not a gzip-compressed file; upload the .osm.gz again",
            "路网.osm.gz：不是 gzip 压缩文件；请重新上传该 .osm.gz 文件",
        ),
        (
            "路网.osm.pbf",
            b"<osm>",
            "路网.osm.pbf: not an OSM PBF file (no OSMHeader block at the start)",
            "路网.osm.pbf：不是 OSM PBF 文件（开头没有 `OSMHeader` 数据块）",
        ),
        (
            "社区.gpkg",
            b"{}",
            "社区.gpkg: not a GeoPackage (a GeoPackage is an SQLite database); save the layer "
            "again as GeoPackage, e.g. in QGIS with Export > Save Features As",
            "社区.gpkg：不是 GeoPackage（GeoPackage 是 SQLite 数据库）；请把图层重新保存为 "
            "GeoPackage，例如在 QGIS 中用“导出 > 要素另存为”",
        ),
        (
            "社区.geojson",
            b"PK\x03\x04",
            "社区.geojson: not GeoJSON (a GeoJSON file starts with '{'); save the layer again",
            "社区.geojson：不是 GeoJSON（GeoJSON 文件以 '{' 开头）；请把图层重新保存为 GeoJSON",
        ),
        (
            "人口.tif",
            b"not a tiff",
            "人口.tif: not a GeoTIFF; save the population raster as GeoTIFF",
            "人口.tif：不是 GeoTIFF 文件；请把人口栅格保存为 GeoTIFF",
        ),
        (
            "路网.graphml",
            b'<?xml version="1.0"?>\n<osm version="0.6"></osm>',
            "路网.graphml: not GraphML (no <graphml> element at the start)",
            "路网.graphml：不是 GraphML 文件（开头没有 `<graphml>` 元素）",
        ),
        (
            "设施.csv",
            b"PK\x03\x04rest",
            "设施.csv: this is an Excel workbook (or another zip archive) named .csv; upload it "
            "as .xlsx, or save it from Excel as CSV",
            "设施.csv：这是 Excel 工作簿（或其他 ZIP 压缩包），却以 .csv 为后缀",
        ),
        (
            "设施.csv",
            "名称,类别\n".encode("utf-16-le"),
            "设施.csv: a binary file, not a CSV text table (UTF-16 text is not read); save it "
            "as CSV in UTF-8 or GBK",
            "设施.csv：这是二进制文件，不是 CSV 文本表格（不读取 UTF-16 编码的文本）",
        ),
    ],
    ids=[
        "empty",
        "docx",
        "no suffix",
        "web page",
        "xlsx",
        "zip",
        "osm",
        "bz2",
        "gz",
        "pbf",
        "gpkg",
        "geojson",
        "tif",
        "graphml",
        "csv zip",
        "csv utf-16",
    ],
)
def test_a_file_that_is_not_what_its_name_says_is_refused_in_chinese(
    tmp_path, name, data, english, chinese
):
    with pytest.raises(InputError) as caught:
        save_upload(name, data, dest_dir=tmp_path)
    assert str(caught.value).startswith(english)
    assert chinese in assert_chinese_error(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_an_upload_over_the_limit_names_both_sizes_in_chinese(tmp_path):
    with pytest.raises(InputError) as caught:
        save_upload("大.csv", b"x" * 3 * 1024 * 1024, max_bytes=1024 * 1024, dest_dir=tmp_path)
    assert str(caught.value) == (
        "大.csv: the file is 3.0 MB, larger than the upload limit of 1.0 MB; cut the area down "
        "(e.g. export a smaller extract) or run the command-line tool on the file instead"
    )
    assert assert_chinese_error(caught.value) == (
        "大.csv：文件大小为 3.0 MB，超过上传上限 1.0 MB；请缩小范围（例如导出更小的范围），"
        "或改用命令行工具处理该文件"
    )


MiB = 1024 * 1024
GiB = 1024 * MiB
_OSM_XML = b"<?xml version='1.0'?>\n<osm version='0.6'>\n"


def _nodes(n: int) -> bytes:
    return b"".join(b'<node id="%d" lat="32.04" lon="118.78"/>\n' % i for i in range(n))


@pytest.mark.parametrize(
    ("data", "limit", "english", "chinese"),
    [
        (
            gzip.compress(_OSM_XML + _nodes(40_000) + b"</osm>\n"),
            MiB,
            "片区.osm.gz: unpacks to more than 1.0 MB, the most an upload may unpack to here",
            "片区.osm.gz：解压后超过 1.0 MB，即此处上传文件解压后允许的最大值；请上传范围更小的",
        ),
        (
            gzip.compress(_OSM_XML + _nodes(10) + b" " * (5 * 1024 * 1024) + b"</osm>\n"),
            GiB,
            "片区.osm.gz: unpacks to 5.0 MB in a row without any OSM node, way or relation "
            "(after 5.0 MB): it is padded or not OSM data and was refused",
            "片区.osm.gz：解压后（已解压 5.0 MB）连续 5.0 MB 的内容中没有任何 OSM 节点、路径或关系",
        ),
        (
            gzip.compress(b"hello " * 1000),
            GiB,
            "片区.osm.gz: does not unpack to OSM XML (it should begin with <?xml ...> and <osm>)",
            "片区.osm.gz：解压后不是 OSM XML（应以 `<?xml ...>` 和 `<osm>` 开头）",
        ),
        (
            b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4,
            GiB,
            "片区.osm.gz: a damaged compressed file (",
            "片区.osm.gz：压缩文件已损坏（",
        ),
    ],
    ids=["over the limit", "padding", "not OSM", "damaged"],
)
def test_a_compressed_extract_refused_while_unpacking_speaks_chinese(
    tmp_path, data, limit, english, chinese
):
    with pytest.raises(InputError) as caught:
        save_upload("片区.osm.gz", data, dest_dir=tmp_path, max_unpacked_bytes=limit)
    assert str(caught.value).startswith(english)
    assert chinese in assert_chinese_error(caught.value, _reason_words(caught.value))
    assert list(tmp_path.iterdir()) == []


def test_zip_problems_are_refused_in_chinese(tmp_path):
    def refused(name: str, data: bytes, **limits: int) -> tuple[str, str]:
        with pytest.raises(InputError) as caught:
            save_upload(name, data, dest_dir=tmp_path, zip_limits=ZipLimits(**limits))
        assert list(tmp_path.iterdir()) == []
        return str(caught.value), assert_chinese_error(caught.value, _reason_words(caught.value))

    english, chinese = refused("街区.zip", _zip({"roads.geojson": b"{}", "notes.txt": b"hi"}))
    assert english == (
        "街区.zip: the zip archive holds no Shapefile (.shp); zip the .shp together with its "
        ".shx, .dbf, .prj (and .cpg) files"
    )
    assert chinese == (
        "街区.zip：ZIP 压缩包中没有 Shapefile（.shp）；请把 .shp 与其 .shx、.dbf、.prj（及 .cpg）"
        "文件一起压缩"
    )

    english, chinese = refused("截断.zip", _zip({"a.shp": b"x" * 1000})[:-30])
    assert english.startswith("截断.zip: not a valid zip archive (")
    assert english.endswith("); zip the Shapefile again")
    assert chinese.startswith("截断.zip：不是有效的 ZIP 压缩包（")

    # A flipped byte of stored data: the CRC check fails while unpacking.
    data = bytearray(_zip({"a.shp": b"\x05" * 5000}, compression=0))
    data[100] ^= 0xFF
    english, chinese = refused("损坏.zip", bytes(data))
    assert english.startswith("损坏.zip: cannot unpack 'a.shp' (")
    assert english.endswith("); zip the Shapefile again")
    assert chinese.startswith("损坏.zip：无法解压 'a.shp'（")
    assert chinese.endswith("）；请重新压缩 Shapefile")

    # 2 MB of zeros packed to a few kB: a zip bomb (the check of radius._files).
    english, chinese = refused("炸弹.zip", _zip({"a.shp": bytes(2 * MiB)}))
    assert re.match(r"炸弹\.zip: the zip entry 'a\.shp' is compressed [\d,]+ times", english)
    assert re.match(r"炸弹\.zip：ZIP 条目 'a\.shp' 的压缩比为 [\d,]+ 倍", chinese)
    assert "ZIP 炸弹，已拒绝读取" in chinese


class _Lying:
    """An archive whose member holds more bytes than its header says (Python's zipfile cuts
    a member at its declared size; a reader that does not must still be stopped)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def open(self, info: zipfile.ZipInfo) -> io.BytesIO:
        return io.BytesIO(self.data)


def test_bytes_counted_while_unpacking_are_judged_in_chinese(tmp_path):
    info = zipfile.ZipInfo("道路.shp")
    info.file_size = 10
    with pytest.raises(InputError) as caught:
        _extract(_Lying(b"x" * 5000), info, tmp_path / "a", 0, "伪造.zip", ZipLimits())  # type: ignore[arg-type]
    assert str(caught.value) == (
        "伪造.zip: the zip entry '道路.shp' unpacks to more than its header says; the archive "
        "is damaged or forged and was refused"
    )
    assert assert_chinese_error(caught.value) == (
        "伪造.zip：ZIP 条目 '道路.shp' 解压后比其文件头记载的大小更大；压缩包已损坏或被伪造，"
        "已拒绝读取"
    )
    info.file_size = 3 * MiB
    limits = ZipLimits(max_total_bytes=MiB)
    with pytest.raises(InputError) as caught:
        _extract(_Lying(bytes(3 * MiB)), info, tmp_path / "b", 0, "大.zip", limits)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "大.zip: the zip archive unpacks to more than 1.0 MB; upload a smaller area"
    )
    assert assert_chinese_error(caught.value) == (
        "大.zip：ZIP 压缩包解压后超过 1.0 MB；请上传范围更小的数据"
    )


def test_swapped_columns_are_named_in_chinese(tmp_path):
    path = tmp_path / "设施.csv"
    path.write_bytes(
        "名称,类别,经度,纬度\n甲,超市,39.9,116.4\n乙,超市,39.91,116.41\n".encode("gbk")
    )
    with pytest.raises(InputError) as caught:
        check_point_table(path, name="上传的设施.csv")
    assert str(caught.value) == (
        "上传的设施.csv: the columns '经度' and '纬度' look swapped: most '纬度' values look "
        "like longitudes (e.g. 116.4) and most '经度' values like latitudes (e.g. 39.9); swap "
        "the two column names (longitude is east-west, about 73–135 in China; latitude about "
        "18–54)"
    )
    assert assert_chinese_error(caught.value) == (
        "上传的设施.csv：'经度' 列与 '纬度' 列似乎填反了：'纬度' 列的多数值像经度（例如 116.4），"
        "'经度' 列的多数值像纬度（例如 39.9）；请交换这两列的列名（经度为东西方向，在中国约为 "
        "73–135；纬度约为 18–54）"
    )
    path = tmp_path / "shops.csv"
    path.write_text("name,category,lng,latitude\na,supermarket,43.8,87.6\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        check_point_table(path)
    said = assert_chinese_error(caught.value)  # the English column names are quoted values
    assert said.startswith("shops.csv：'lng' 列与 'latitude' 列似乎填反了")
