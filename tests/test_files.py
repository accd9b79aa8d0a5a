"""Zipped Shapefiles read in place (radius._files): the checks an upload gets, before GDAL.

The command line and the library hand a ``.zip`` to GDAL (``/vsizip/``) without
unpacking it, so :func:`radius._files.shapefile_in_zip` checks the archive's directory
first, with the same code and limits as the app's uploads (:mod:`radius.uploads`).
Every archive here is a real, tiny zip built in ``tmp_path``.
"""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

from radius import uploads
from radius._errors import InputError
from radius._files import ZipLimits, check_workbook, read_vector_layer, shapefile_in_zip
from radius.config import load_categories
from radius.districts import read_districts
from radius.facilities import read_inventory
from radius.network import load_network
from radius.population import read_residents
from tests.language_checks import assert_chinese_error, english_words

BLOCK = shapely.box(118.775, 32.035, 118.795, 32.050)


def _parts(folder: Path, frame: gpd.GeoDataFrame, stem: str) -> dict[str, bytes]:
    """The files of ``frame`` saved as a Shapefile named ``stem``, by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_file(folder / f"{stem}.shp", engine="pyogrio")
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.stem == stem}


def _districts(folder: Path) -> dict[str, bytes]:
    frame = gpd.GeoDataFrame({"id": ["D1"]}, geometry=[BLOCK], crs="EPSG:4326")
    return _parts(folder / "shp", frame, "districts")


def _write_zip(
    path: Path, entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED
) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def test_a_clean_zipped_shapefile_in_a_folder_is_read(tmp_path):
    parts = {f"layers/{name}": data for name, data in _districts(tmp_path).items()}
    path = _write_zip(tmp_path / "ok.zip", {**parts, "__MACOSX/layers/._districts.shp": b"x"})
    assert shapefile_in_zip(path, None, "districts").endswith("ok.zip/layers/districts.shp")
    districts = read_districts(path)
    assert list(districts["district_id"]) == ["D1"]


def test_zip_bomb_is_refused_naming_the_entry(tmp_path):
    # 20 MiB of zeros pack into about 20 kB: a ratio near 1,000.
    path = _write_zip(
        tmp_path / "bomb.zip", {**_districts(tmp_path), "districts.dbf": bytes(20 * 1024**2)}
    )
    assert path.stat().st_size < 100_000
    with pytest.raises(
        InputError,
        match=r"bomb\.zip: the zip entry 'districts\.dbf' is compressed [\d,]+ times, more "
        r"than the 100 times .*zip bomb and was refused\. Zip the Shapefile again",
    ) as caught:
        read_districts(path)
    assert_chinese_error(caught.value)


def test_parts_that_together_compress_like_a_bomb_are_refused(tmp_path):
    # Each part stays under the 1 MiB below which one entry's ratio is not checked.
    zeros = bytes(900 * 1024)
    entries = {"roads.shp": zeros, "roads.shx": zeros, "roads.dbf": zeros}
    path = _write_zip(tmp_path / "parts.zip", entries)
    with pytest.raises(
        InputError, match=r"parts\.zip: the zip entries 'roads\.\w+', .* are compressed"
    ) as caught:
        shapefile_in_zip(path, None, "road lines")
    assert_chinese_error(caught.value)


def test_declared_size_over_the_limit_is_refused(tmp_path):
    entries = {"roads.shp": b"\x01" * 600_000, "roads.dbf": b"\x02" * 700_000}
    path = _write_zip(tmp_path / "big.zip", entries, compression=zipfile.ZIP_STORED)
    with pytest.raises(
        InputError,
        match=r"big\.zip: the zip archive unpacks to 1\.2 MB, more than the 976\.6 KB allowed "
        r"\(largest entry 'roads\.dbf': 683\.6 KB\); cut the area down, or save the data as a "
        r"GeoPackage",
    ) as caught:
        shapefile_in_zip(path, None, "road lines", ZipLimits(max_total_bytes=1_000_000))
    assert_chinese_error(caught.value)


def test_only_the_files_of_the_chosen_shapefile_are_measured(tmp_path):
    zeros = bytes(20 * 1024**2)
    parts = _districts(tmp_path)
    # GDAL may open a spatial index beside the .shp: it counts.
    sidecar = _write_zip(tmp_path / "qix.zip", {**parts, "districts.qix": zeros})
    with pytest.raises(InputError, match=r"qix\.zip: the zip entry 'districts\.qix'") as caught:
        read_districts(sidecar)
    assert_chinese_error(caught.value)
    # Another file is never read, so it is not measured (an upload drops it).
    beside = _write_zip(tmp_path / "beside.zip", {**parts, "notes/readme.txt": zeros})
    assert list(read_districts(beside)["district_id"]) == ["D1"]


def test_too_many_entries_are_refused(tmp_path):
    entries = {**_districts(tmp_path), **{f"junk/{i}.txt": b"" for i in range(30)}}
    path = _write_zip(tmp_path / "many.zip", entries)
    with pytest.raises(
        InputError,
        match=r"many\.zip: the zip archive lists 3\d entries, more than the 20 allowed; "
        "zip only the Shapefile's files",
    ) as caught:
        shapefile_in_zip(path, None, "districts", ZipLimits(max_entries=20))
    assert_chinese_error(caught.value)
    assert list(read_districts(path)["district_id"]) == ["D1"]  # within the default 1,000


def _entry(name: str, data: bytes = b"x", **attributes: Any) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo("placeholder")
    info.filename = name  # ZipInfo() would clean an absolute or Windows path
    for key, value in attributes.items():
        setattr(info, key, value)
    return info, data


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (_entry("../../outside.shp"), r"unsafe path \('\.\./\.\./outside\.shp'"),
        (_entry("layers/../../up.dbf"), r"unsafe path \('layers/\.\./\.\./up\.dbf'"),
        (_entry("/etc/cron.d/evil"), r"unsafe path \('/etc/cron\.d/evil'"),
        (_entry("C:/Windows/evil.shp"), r"unsafe path \('C:/Windows/evil\.shp'"),
        (
            _entry("districts.prj", b"/etc/passwd", create_system=3,
                   external_attr=(stat.S_IFLNK | 0o777) << 16),
            r"symbolic link \('districts\.prj'\); it was refused\. Zip the files themselves",
        ),
    ],
    ids=["dot-dot", "dot-dot inside", "absolute", "windows drive", "symlink"],
)  # fmt: skip
def test_unsafe_entries_are_refused(tmp_path, entry, message):
    path = tmp_path / "unsafe.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in _districts(tmp_path).items():
            if name != entry[0].filename:
                archive.writestr(name, data)
        archive.writestr(*entry)
    with pytest.raises(
        InputError, match=rf"unsafe\.zip: the zip archive (holds|is) .*{message}"
    ) as caught:
        read_vector_layer(path, None, what="districts")
    assert_chinese_error(caught.value)


def test_password_protected_entry_is_refused(tmp_path):
    path = _write_zip(tmp_path / "locked.zip", _districts(tmp_path))
    data = bytearray(path.read_bytes())
    # Set the "encrypted" flag of districts.dbf in the central directory, as a password
    # would (zipfile cannot write encrypted entries).
    start = 0
    while (start := data.find(b"PK\x01\x02", start + 1)) >= 0:
        length = int.from_bytes(data[start + 28 : start + 30], "little")
        if data[start + 46 : start + 46 + length] == b"districts.dbf":
            data[start + 8] |= 0x1
    path.write_bytes(bytes(data))
    with pytest.raises(
        InputError,
        match=r"locked\.zip: the zip archive is password-protected \('districts\.dbf'\); zip "
        "the files again without a password",
    ) as caught:
        read_districts(path)
    assert_chinese_error(caught.value)


def _network(path: Path) -> object:
    return load_network(path)


def _inventory(path: Path) -> object:
    return read_inventory(path, load_categories())


@pytest.mark.parametrize(
    "reader",
    [read_districts, _inventory, read_residents, _network],
    ids=["districts", "facilities", "residents", "network"],
)
def test_every_reader_of_a_zip_checks_it(tmp_path, reader: Callable[[Path], object]):
    path = _write_zip(tmp_path / "slip.zip", {**_districts(tmp_path), "../x.shp": b"x"})
    with pytest.raises(InputError, match=r"slip\.zip: .*unsafe path \('\.\./x\.shp'") as caught:
        reader(path)
    assert_chinese_error(caught.value)


def test_uploads_and_readers_share_one_implementation(tmp_path):
    assert uploads.ZipLimits is ZipLimits
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("../x.shp", b"x")
    upload_error = ""
    with pytest.raises(InputError) as info:
        uploads.save_upload("slip.zip", data.getvalue(), dest_dir=tmp_path)
    upload_error = str(info.value)
    path = tmp_path / "slip.zip"
    path.write_bytes(data.getvalue())
    with pytest.raises(InputError) as info:
        shapefile_in_zip(path, None, "districts")
    assert str(info.value) == upload_error.replace("slip.zip", str(path), 1)


def _workbook_with_a_bomb(path: Path) -> Path:
    """A real workbook (openpyxl) with one more part: 20 MB of zeros packed by bzip2."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["名称", "类别", "经度", "纬度"])
    book.active.append(["便利店", "convenience_store", 118.79, 32.04])
    book.save(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_BZIP2) as archive:
        archive.writestr("xl/media/filler.xml", b"\0" * (20 * 1024 * 1024))
    return path


def test_a_plain_workbook_passes_the_workbook_check(tmp_path):
    import openpyxl

    path = tmp_path / "ok.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["name", "category", "lon", "lat"])
    book.save(path)
    check_workbook(path)


def test_workbook_bomb_is_refused_before_openpyxl_reads_it(tmp_path):
    path = _workbook_with_a_bomb(tmp_path / "设施.xlsx")
    with pytest.raises(InputError, match=r"设施\.xlsx: the workbook unpacks to 20\.0 MB") as caught:
        check_workbook(path)
    assert_chinese_error(caught.value)
    with pytest.raises(InputError, match="decompression bomb") as caught:
        read_inventory(path, load_categories())
    assert_chinese_error(caught.value)
    with pytest.raises(InputError, match="save it as CSV"):
        uploads.check_point_table(path)


def test_workbook_over_the_size_limit_is_refused(tmp_path):
    import openpyxl

    path = tmp_path / "big.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["x"] * 50)
    book.save(path)
    with pytest.raises(InputError, match=r"at most 1\.0 KB") as caught:
        check_workbook(path, ZipLimits(max_total_bytes=1024))
    assert_chinese_error(caught.value)


LAYER_NAMES = {"districts", "other", "north", "south", "roads"}
"""The layers and Shapefiles of the files below: the user's own names, shown as they are."""


def _two_shapefiles(folder: Path) -> Path:
    other = gpd.GeoDataFrame({"id": ["D2"]}, geometry=[BLOCK.buffer(0.001)], crs="EPSG:4326")
    entries = {**_districts(folder), **_parts(folder / "other", other, "other")}
    return _write_zip(folder / "two.zip", entries)


def _two_layers(folder: Path) -> Path:
    path = folder / "two.gpkg"
    for name in ("north", "south"):
        frame = gpd.GeoDataFrame({"id": [name]}, geometry=[BLOCK], crs="EPSG:4326")
        frame.to_file(path, layer=name, engine="pyogrio")
    return path


@pytest.mark.parametrize(
    ("build", "layer", "said"),
    [
        (lambda f: _write_zip(f / "empty.zip", {"notes.txt": b"x"}), None,
         r"empty\.zip: the zip archive holds no Shapefile \(\.shp\); zip the \.shp of the "
         r"districts together with its \.shx"),
        (lambda f: (f / "cut.zip").write_bytes(b"PK\x03\x04 cut short") and f / "cut.zip", None,
         r"cut\.zip: not a valid zip archive \(.+\); zip the Shapefile again"),
        (_two_shapefiles, None,
         r"two\.zip: the zip archive holds 2 Shapefiles \(districts, other\); choose one"),
        (_two_shapefiles, "roads", r"two\.zip: no Shapefile named roads\.shp in the zip; it "
         r"holds districts, other"),
        (_two_layers, None, r"two\.gpkg: holds 2 layers \(north, south\); choose the districts "
         r"layer with layer="),
        (_two_layers, "roads", r"two\.gpkg: has no layer 'roads'; its layers are north, south"),
        (lambda f: (f / "text.geojson").write_text("not json", encoding="utf-8") and
         f / "text.geojson", None,
         r"text\.geojson: not a readable vector file \(.+\); save the districts as GeoPackage"),
    ],
    ids=["no shapefile", "damaged zip", "two shapefiles", "no such shapefile", "two layers",
         "no such layer", "not a vector file"],
)  # fmt: skip
def test_a_bad_vector_file_is_named_in_both_languages(tmp_path, build, layer, said):
    """The English names the file and the fix; the Chinese has no English word but the
    file's own layer names and, in brackets, the words of GDAL or zipfile."""
    path = build(tmp_path)
    with pytest.raises(InputError, match=said) as caught:
        read_vector_layer(path, layer, what="districts")
    params = caught.value.args[0].params
    library = set(english_words(params.get("reason", "")))
    text = assert_chinese_error(caught.value, allowed={*LAYER_NAMES, *library})
    assert path.name in text


def test_a_damaged_or_crowded_workbook_is_named_in_both_languages(tmp_path):
    fake = tmp_path / "fake.xlsx"
    fake.write_text("名称,类别\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"fake\.xlsx: not a readable XLSX workbook") as caught:
        check_workbook(fake)
    assert "请用 Excel 或 WPS 另存为 .xlsx" in caught.value.args[0].text("zh")
    crowded = _write_zip(tmp_path / "crowded.xlsx", {f"xl/part{i}.xml": b"<x/>" for i in range(5)})
    with pytest.raises(
        InputError, match=r"crowded\.xlsx: the workbook holds 5 parts, more than the 4 allowed; "
        r"if the table is genuine, save it as CSV"
    ) as caught:  # fmt: skip
        check_workbook(crowded, ZipLimits(max_entries=4))
    assert "超过允许的 4 个" in assert_chinese_error(caught.value)
