"""Safe handling of uploaded files (radius.uploads): limits, names, zips, content, lat/lon."""

from __future__ import annotations

import bz2
import gzip
import io
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
    check_point_table,
    check_unpacked_size,
    format_size,
    private_dir,
    sanitise_name,
    save_upload,
    suffix_of,
)
from tests.conftest import shared_file

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
