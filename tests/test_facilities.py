"""Facilities from real OSM extracts (read in place) and from inventories written in tmp_path."""

from __future__ import annotations

import csv
import io
import math
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from radius._errors import CRSError, InputError
from radius.config import Category, load_categories
from radius.facilities import (
    CAPACITY_COLUMNS,
    FACILITY_COLUMNS,
    empty_facilities,
    facilities_from_osm,
    read_inventory,
)
from tests.language_checks import assert_chinese_error, english_words

CATEGORIES = load_categories()
XINJIEKOU = (118.7784, 32.0411)


def only(*ids: str) -> tuple[Category, ...]:
    return load_categories(ids=ids)


def counts(frame: gpd.GeoDataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame.groupby("category").size().items()}


def check_contract(frame: gpd.GeoDataFrame) -> None:
    """The column layout every other module relies on."""
    assert tuple(frame.columns) == FACILITY_COLUMNS
    assert frame.crs == "EPSG:4326"
    expected = empty_facilities().dtypes
    pd.testing.assert_series_equal(frame.dtypes, expected)
    for column in ("facility_id", "name", "category", "source"):
        assert pd.api.types.is_string_dtype(frame[column])
        assert frame[column].notna().all()
    for column in CAPACITY_COLUMNS:
        assert frame[column].dtype == np.float64
    assert frame["entrances"].dtype == object
    assert frame["facility_id"].is_unique
    assert set(frame.geom_type) <= {"Point", "Polygon", "MultiPolygon"}
    assert frame.geometry.is_valid.all()
    assert isinstance(frame.index, pd.RangeIndex)
    for entrance in frame["entrances"]:
        assert entrance is None or entrance.geom_type == "MultiPoint"


# --------------------------------------------------------------------------------------
# OSM extracts
# --------------------------------------------------------------------------------------


def test_empty_frame_has_the_contract_columns() -> None:
    frame = empty_facilities()
    assert len(frame) == 0
    check_contract(frame)


def test_beijing_has_17_convenience_stores(beijing_osm: Path) -> None:
    frame = facilities_from_osm(beijing_osm, CATEGORIES)
    check_contract(frame)
    stores = frame[frame["category"] == "convenience_store"]
    assert len(stores) == 17
    assert (stores.geom_type == "Point").all()
    assert stores["facility_id"].str.fullmatch(r"convenience_store:osm/n\d+").all()
    assert (frame["source"] == "osm").all()
    assert counts(frame)["supermarket"] == 2


def test_nanjing_shops_and_polygon_facilities(nanjing_osm: Path) -> None:
    frame = facilities_from_osm(nanjing_osm, CATEGORIES)
    check_contract(frame)
    found = counts(frame)
    assert found["convenience_store"] == 7
    assert found["supermarket"] == 9
    supermarkets = frame[frame["category"] == "supermarket"]
    assert list(supermarkets.geom_type).count("Polygon") == 1
    assert "盒马鲜生" in set(supermarkets["name"])

    areas = frame[frame.geom_type.isin(["Polygon", "MultiPolygon"])]
    assert len(areas) >= 25
    fitness_areas = areas[areas["category"] == "fitness"]
    # Pitches and sports centres without a building tag carry their land area.
    plain = fitness_areas[fitness_areas["land_area_m2"].notna()]
    assert len(plain) >= 20
    assert (plain["land_area_m2"] > 0).all()
    # The multipolygon relation of the extract is assembled too.
    relation = frame[frame["facility_id"] == "fitness:osm/r2598326"]
    assert relation.geom_type.tolist() == ["Polygon"]
    assert relation["land_area_m2"].iloc[0] > 1000


def test_land_area_is_geodesic(nanjing_osm: Path) -> None:
    frame = facilities_from_osm(nanjing_osm, only("farmers_market"))
    metric = frame.to_crs(frame.estimate_utm_crs())
    np.testing.assert_allclose(frame["land_area_m2"], metric.area, rtol=2e-3)


def test_helsinki_centre_has_9_convenience_stores(helsinki_center_pbf: Path) -> None:
    frame = facilities_from_osm(helsinki_center_pbf, only("convenience_store"))
    assert len(frame) == 9
    assert set(frame["category"]) == {"convenience_store"}


def test_helsinki_centre_entrances_floor_area_and_cut_way(helsinki_center_pbf: Path) -> None:
    with pytest.warns(UserWarning, match=r"nodes missing from the file.*w570654271"):
        frame = facilities_from_osm(helsinki_center_pbf, CATEGORIES)
    check_contract(frame)
    # The market hall cut by the extract edge is kept, at a point on its located nodes.
    cut = frame.set_index("facility_id").loc["farmers_market:osm/w570654271"]
    assert cut.geometry.geom_type == "Point"
    # Tagged entrances lie on the outline they belong to.
    with_entrances = frame[frame["entrances"].notna()]
    assert len(with_entrances) >= 3
    for entrances, outline in zip(
        with_entrances["entrances"], with_entrances.geometry.boundary, strict=True
    ):
        assert max(outline.distance(p) for p in entrances.geoms) < 1e-9
    hall = frame.set_index("facility_id").loc["farmers_market:osm/w123814071"]
    assert len(hall["entrances"].geoms) == 8
    # The Oodi library is a 4-level building: floor area = footprint × 4, no land area.
    oodi = frame.set_index("facility_id").loc["reading:osm/w596937289"]
    footprint = gpd.GeoSeries([oodi.geometry], crs=4326).to_crs(3067).area.iloc[0]
    assert oodi["floor_area_m2"] == pytest.approx(4 * footprint, rel=5e-3)
    assert math.isnan(oodi["land_area_m2"])


def test_oakland_bz2_has_1_convenience_store(oakland_bz2: Path) -> None:
    frame = facilities_from_osm(oakland_bz2, CATEGORIES)
    check_contract(frame)
    assert counts(frame) == {"convenience_store": 1}


def test_helsinki_small_childcare_and_kindergarten_apart(
    helsinki_small_pbf: Path,
) -> None:
    # 托育 (ages 0–3, amenity=childcare) and 幼儿园 (ages 3–6, amenity=kindergarten) are
    # different GB 50180 facilities: neither counts as the other.
    categories = only("childcare", "kindergarten", "convenience_store")
    frame = facilities_from_osm(helsinki_small_pbf, categories)
    check_contract(frame)
    young = frame[frame["category"].isin(["childcare", "kindergarten"])]
    assert len(young) == 2
    assert sorted(young.geom_type) == ["Point", "Polygon"]
    assert counts(frame)["convenience_store"] == 1


def test_roads_only_extract_gives_the_empty_frame(shanghai_pbf: Path) -> None:
    frame = facilities_from_osm(shanghai_pbf, CATEGORIES)
    assert len(frame) == 0
    check_contract(frame)


def test_order_is_deterministic_and_follows_the_categories(nanjing_osm: Path) -> None:
    first = facilities_from_osm(nanjing_osm, CATEGORIES)
    second = facilities_from_osm(str(nanjing_osm), CATEGORIES)
    assert_geodataframe_equal(first, second)
    ids = first["facility_id"].str.extract(r"^(\w+):osm/([nwr])(\d+)$")
    position = {c.id: i for i, c in enumerate(CATEGORIES)}
    keys = list(
        zip(
            ids[0].map(position),
            ids[1].map({"n": 0, "w": 1, "r": 2}),
            ids[2].astype(int),
            strict=True,
        )
    )
    assert keys == sorted(keys)
    reordered = facilities_from_osm(nanjing_osm, only("supermarket", "convenience_store"))
    assert reordered["category"].tolist() == ["supermarket"] * 9 + ["convenience_store"] * 7


# Tiny hand-made OSM files for tag and geometry edge cases whose answers are known.
EDGE_CASES_OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
 <node id="1" lat="32.0400" lon="118.7800"/>
 <node id="2" lat="32.0400" lon="118.7810"><tag k="entrance" v="main"/></node>
 <node id="3" lat="32.0410" lon="118.7800"/>
 <node id="4" lat="32.0410" lon="118.7810"><tag k="entrance" v="no"/></node>
 <node id="5" lat="32.0400" lon="118.7820"/>
 <node id="7" lat="32.0405" lon="118.7805">
  <tag k="amenity" v="kindergarten"/><tag k="capacity" v="about 50"/><tag k="name:en" v="Sunny"/>
 </node>
 <node id="8" lat="32.0406" lon="118.7805">
  <tag k="amenity" v="nursing_home"/><tag k="healthcare" v="rehabilitation"/>
  <tag k="capacity" v="120"/><tag k="name:zh" v="康养中心"/><tag k="name:en" v="Care"/>
 </node>
 <node id="9" lat="32.0407" lon="118.7805">
  <tag k="amenity" v="nursing_home"/><tag k="capacity" v="120"/><tag k="beds" v="80"/>
 </node>
 <way id="10">
  <nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
  <tag k="shop" v="convenience"/>
 </way>
 <way id="11">
  <nd ref="1"/><nd ref="2"/><nd ref="4"/><nd ref="3"/><nd ref="1"/>
  <tag k="leisure" v="track"/><tag k="area" v="no"/>
 </way>
 <way id="12"><nd ref="1"/><nd ref="2"/><nd ref="4"/><nd ref="3"/><nd ref="1"/></way>
 <way id="14">
  <nd ref="1"/><nd ref="2"/><nd ref="5"/><nd ref="1"/><tag k="leisure" v="pitch"/>
 </way>
 <way id="15">
  <nd ref="1"/><nd ref="2"/><nd ref="4"/><nd ref="3"/><nd ref="1"/>
  <tag k="amenity" v="kindergarten"/><tag k="building" v="yes"/>
  <tag k="building:levels" v="3"/><tag k="capacity" v="60"/><tag k="name" v="阳光幼儿园"/>
 </way>
 <way id="16">
  <nd ref="1"/><nd ref="2"/><nd ref="4"/><nd ref="3"/><nd ref="1"/>
  <tag k="amenity" v="kindergarten"/><tag k="building" v="yes"/>
  <tag k="building:levels" v="three"/><tag k="capacity" v="-5"/>
 </way>
 <relation id="20">
  <member type="way" ref="12" role="outer"/>
  <tag k="type" v="multipolygon"/><tag k="leisure" v="pitch"/>
 </relation>
 <relation id="21">
  <member type="way" ref="77" role="outer"/>
  <tag k="type" v="multipolygon"/><tag k="leisure" v="pitch"/>
 </relation>
</osm>
"""


@pytest.fixture
def edge_cases_osm(tmp_path: Path) -> Path:
    path = tmp_path / "edge_cases.osm"
    path.write_text(EDGE_CASES_OSM, encoding="utf-8")
    return path


def read_edge_cases(path: Path) -> gpd.GeoDataFrame:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = facilities_from_osm(path, CATEGORIES)
    messages = " | ".join(str(w.message) for w in caught)
    assert len(caught) == 2, messages
    assert "polygon has no area even after repair: w14" in messages
    assert "could not be built into polygons" in messages
    assert "r21" in messages
    return frame.set_index("facility_id")


def test_capacity_tags_per_category(edge_cases_osm: Path) -> None:
    frame = read_edge_cases(edge_cases_osm)
    # capacity -> places for kindergartens (幼儿园, ages 3–6); "about 50" is not a number.
    assert frame.loc["kindergarten:osm/w15", "places"] == 60
    assert math.isnan(frame.loc["kindergarten:osm/n7", "places"])
    assert frame.loc["kindergarten:osm/n7", "name"] == "Sunny"
    # capacity -> beds for elderly care and rehabilitation, one row per category.
    assert frame.loc["elderly_care:osm/n8", "beds"] == 120
    assert frame.loc["rehabilitation:osm/n8", "beds"] == 120
    assert frame.loc["elderly_care:osm/n8", "name"] == "康养中心"
    # An explicit beds tag wins over capacity.
    assert frame.loc["elderly_care:osm/n9", "beds"] == 80
    assert frame.loc["elderly_care:osm/n9", "name"] == ""
    # Negative and unparseable numbers give NaN.
    assert math.isnan(frame.loc["kindergarten:osm/w16", "places"])
    assert frame.loc["kindergarten:osm/w15", "name"] == "阳光幼儿园"


def test_building_floor_area_and_land_area(edge_cases_osm: Path) -> None:
    frame = read_edge_cases(edge_cases_osm)
    square = frame.loc["fitness:osm/r20"]
    assert square.geometry.geom_type == "Polygon"
    metric = gpd.GeoSeries([square.geometry], crs=4326).to_crs(32650).area.iloc[0]
    assert square["land_area_m2"] == pytest.approx(metric, rel=2e-3)
    assert math.isnan(square["floor_area_m2"])
    building = frame.loc["kindergarten:osm/w15"]
    assert building["floor_area_m2"] == pytest.approx(3 * square["land_area_m2"])
    assert math.isnan(building["land_area_m2"])
    # Unparseable building:levels: no floor area, and a building has no land area.
    assert math.isnan(frame.loc["kindergarten:osm/w16", "floor_area_m2"])
    assert math.isnan(frame.loc["kindergarten:osm/w16", "land_area_m2"])


def test_invalid_polygons_are_repaired_and_entrances_kept(edge_cases_osm: Path) -> None:
    frame = read_edge_cases(edge_cases_osm)
    check_contract(frame.reset_index()[list(FACILITY_COLUMNS)])
    bowtie = frame.loc["convenience_store:osm/w10"]
    assert bowtie.geometry.geom_type == "MultiPolygon"
    assert bowtie.geometry.is_valid
    # Node 2 is entrance=main; node 4 (entrance=no) is not an entrance.
    assert list(bowtie["entrances"].geoms) == [shapely.Point(118.781, 32.04)]
    # A closed running track tagged area=no is a line: it becomes a point on it.
    track = frame.loc["fitness:osm/w11"]
    assert track.geometry.geom_type == "Point"
    assert track["entrances"] is None
    # The degenerate pitch (w14) and the relation with a missing member (r21) are skipped.
    assert "fitness:osm/w14" not in frame.index
    assert "fitness:osm/r21" not in frame.index


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.osm", b"hello, this is not OSM"),
        ("empty.osm", b""),
        ("page.osm", b"<html><body>Too many requests</body></html>"),
        ("unknown.dat", b"<osm version='0.6'/>"),
    ],
)
def test_unreadable_osm_file(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=rf"{name}: not a readable OSM XML/PBF file"):
        facilities_from_osm(path, CATEGORIES)


def test_truncated_pbf(tmp_path: Path, helsinki_small_pbf: Path) -> None:
    path = tmp_path / "cut.osm.pbf"
    path.write_bytes(helsinki_small_pbf.read_bytes()[:50_000])
    with pytest.raises(InputError, match=r"cut\.osm\.pbf: not a readable OSM XML/PBF file"):
        facilities_from_osm(path, CATEGORIES)


def test_missing_osm_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nowhere\.osm: OSM file not found"):
        facilities_from_osm(tmp_path / "nowhere.osm", CATEGORIES)


# --------------------------------------------------------------------------------------
# Inventory files
# --------------------------------------------------------------------------------------

CHINESE_TABLE = pd.DataFrame(
    {
        "编号": ["A1", "A2", "A3"],
        "名称": ["新街口便利店", "苏果超市", "阳光托育"],
        "类别": ["便利店", "Supermarket", "childcare"],
        "经度": [118.7784, 118.7801, 118.7822],
        "纬度": [32.0411, 32.0420, 32.0433],
        "建筑面积": [80.0, 1200.0, None],
        "床位数": [None, None, None],
        "托位": [None, None, 45.0],
    }
)


def check_chinese_table(frame: gpd.GeoDataFrame) -> None:
    check_contract(frame)
    assert frame["facility_id"].tolist() == [
        "convenience_store:inv/A1",
        "supermarket:inv/A2",
        "childcare:inv/A3",
    ]
    assert frame["name"].tolist() == ["新街口便利店", "苏果超市", "阳光托育"]
    assert (frame["source"] == "inventory").all()
    assert frame["floor_area_m2"].iloc[1] == 1200.0
    assert frame["places"].iloc[2] == 45.0
    assert frame["beds"].isna().all()
    assert frame["entrances"].isna().all()
    np.testing.assert_allclose(frame.geometry.x, CHINESE_TABLE["经度"])
    np.testing.assert_allclose(frame.geometry.y, CHINESE_TABLE["纬度"])


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_with_chinese_headers_in_each_encoding(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "设施.csv"
    CHINESE_TABLE.to_csv(path, index=False, encoding=encoding)
    check_chinese_table(read_inventory(path, CATEGORIES))


def test_csv_with_english_headers_in_any_case(tmp_path: Path) -> None:
    path = tmp_path / "facilities.txt"
    path.write_text(
        "Name\tCATEGORY\tLongitude\tLatitude\tBeds (count)\n"
        "Golden Years\telderly_care\t118.78\t32.04\t40\n"
        "Corner shop\tconvenience store\t118.79\t32.05\t\n",
        encoding="utf-8",
    )
    frame = read_inventory(path, CATEGORIES)
    check_contract(frame)
    assert frame["category"].tolist() == ["elderly_care", "convenience_store"]
    assert frame["beds"].tolist()[0] == 40  # a unit in brackets after the name is ignored
    # Without an id column the spreadsheet row number is the id.
    assert frame["facility_id"].tolist() == ["elderly_care:inv/2", "convenience_store:inv/3"]


def test_csv_encoding_keyword(tmp_path: Path) -> None:
    path = tmp_path / "utf16.csv"
    CHINESE_TABLE.to_csv(path, index=False, encoding="utf-16")
    with pytest.raises(InputError, match="cannot decode the file as utf-8-sig and gb18030"):
        read_inventory(path, CATEGORIES)
    check_chinese_table(read_inventory(path, CATEGORIES, encoding="utf-16"))


def test_xlsx_with_chinese_headers(tmp_path: Path) -> None:
    path = tmp_path / "设施.xlsx"
    CHINESE_TABLE.to_excel(path, index=False, sheet_name="设施")
    check_chinese_table(read_inventory(path, CATEGORIES))
    check_chinese_table(read_inventory(path, CATEGORIES, layer="设施"))
    with pytest.raises(InputError, match="no sheet 'other'; the sheets are 设施"):
        read_inventory(path, CATEGORIES, layer="other")


def test_cgcs2000_lon_lat(tmp_path: Path) -> None:
    path = tmp_path / "cgcs2000.csv"
    CHINESE_TABLE.to_csv(path, index=False)
    frame = read_inventory(path, CATEGORIES, crs="EPSG:4490")
    check_contract(frame)
    # CGCS2000 and WGS-84 agree to well under a metre.
    np.testing.assert_allclose(frame.geometry.x, CHINESE_TABLE["经度"], atol=1e-5)
    np.testing.assert_allclose(frame.geometry.y, CHINESE_TABLE["纬度"], atol=1e-5)


def test_projected_x_y_with_crs(tmp_path: Path) -> None:
    projected = gpd.GeoSeries(gpd.points_from_xy(*zip(XINJIEKOU, strict=True)), crs=4326)
    xy = projected.to_crs(4549).iloc[0]  # CGCS2000 / 3-degree Gauss-Kruger CM 120E
    path = tmp_path / "xy.csv"
    path.write_text(f"name,category,x,y\nShop,convenience_store,{xy.x},{xy.y}\n", encoding="utf-8")
    frame = read_inventory(path, CATEGORIES, crs="EPSG:4549")
    point = frame.geometry.iloc[0]
    assert (point.x, point.y) == pytest.approx(XINJIEKOU, abs=1e-6)


def vector_inventory() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "Name": ["Pitch", "Shop", "Nursery"],
            "Category": ["fitness", "便利店", "childcare"],
            "places": [None, None, 30.0],
            "id": ["p1", "s1", "k1"],
        },
        geometry=[
            shapely.box(118.780, 32.040, 118.781, 32.041),
            shapely.MultiPoint([XINJIEKOU]),
            shapely.Point(118.782, 32.043),
        ],
        crs=4326,
    )


def check_vector_inventory(frame: gpd.GeoDataFrame) -> None:
    check_contract(frame)
    assert frame["facility_id"].tolist() == [
        "fitness:inv/p1",
        "convenience_store:inv/s1",
        "childcare:inv/k1",
    ]
    assert frame.geom_type.tolist() == ["Polygon", "Point", "Point"]
    assert frame["places"].iloc[2] == 30.0
    assert frame.geometry.iloc[1].equals(shapely.Point(XINJIEKOU))


def test_geojson(tmp_path: Path) -> None:
    path = tmp_path / "facilities.geojson"
    source = vector_inventory()
    source.loc[0, "Name"] = None
    source.to_file(path)
    frame = read_inventory(path, CATEGORIES)
    check_vector_inventory(frame)
    assert frame["name"].tolist() == ["", "Shop", "Nursery"]


def test_geopackage_first_or_named_layer(tmp_path: Path) -> None:
    path = tmp_path / "facilities.gpkg"
    vector_inventory().to_file(path, layer="facilities")
    vector_inventory().iloc[:1].to_file(path, layer="pitches")
    check_vector_inventory(read_inventory(path, CATEGORIES))
    assert len(read_inventory(path, CATEGORIES, layer="pitches")) == 1
    with pytest.raises(InputError, match="no layer 'parks'; its layers are facilities, pitches"):
        read_inventory(path, CATEGORIES, layer="parks")


def zipped_shapefile(frame: gpd.GeoDataFrame, folder: Path, inside: str = "") -> Path:
    """Write a Shapefile with geopandas, then zip its parts (optionally in a sub-folder)."""
    folder.mkdir()
    frame.to_file(folder / "facilities.shp")
    path = folder / "facilities.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for part in sorted(folder.glob("facilities.*")):
            if part.suffix != ".zip":
                archive.write(part, f"{inside}{part.name}")
    return path


@pytest.mark.parametrize("inside", ["", "export/"])
def test_zipped_shapefile_in_a_projected_crs(tmp_path: Path, inside: str) -> None:
    points = vector_inventory().iloc[[2]].to_crs(4549)
    frame = read_inventory(zipped_shapefile(points, tmp_path / "shp", inside), CATEGORIES)
    check_contract(frame)
    assert frame["facility_id"].tolist() == ["childcare:inv/k1"]
    point = frame.geometry.iloc[0]
    assert (point.x, point.y) == pytest.approx((118.782, 32.043), abs=1e-7)


def test_shapefile_without_crs(tmp_path: Path) -> None:
    points = vector_inventory().iloc[[2]].set_crs(None, allow_override=True)
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        path = zipped_shapefile(points, tmp_path / "shp")
    with pytest.raises(CRSError, match=r"facilities\.zip: the file has no coordinate reference"):
        read_inventory(path, CATEGORIES)
    # A CRS given by the caller stands in for the missing one.
    frame = read_inventory(path, CATEGORIES, crs="EPSG:4326")
    assert frame.geometry.iloc[0].equals(shapely.Point(118.782, 32.043))


def test_unsupported_geometry_types_name_the_feature(tmp_path: Path) -> None:
    frame = vector_inventory()
    frame.loc[1, "geometry"] = shapely.LineString([(118.78, 32.04), (118.79, 32.05)])
    frame.loc[2, "geometry"] = shapely.MultiPoint([(118.78, 32.04), (118.79, 32.05)])
    path = tmp_path / "lines.geojson"
    frame.to_file(path)
    with pytest.raises(InputError) as caught:
        read_inventory(path, CATEGORIES)
    message = str(caught.value)
    assert "2 problem(s)" in message
    assert "feature 2, column 'geometry': LineString geometry is not supported" in message
    assert "feature 3, column 'geometry': MultiPoint with 2 points" in message


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.csv"
    path.write_text(text, encoding="utf-8")
    return path


HEADER = "name,category,lon,lat,beds,id\n"
GOOD = "Shop,convenience_store,118.78,32.04,,s1\n"


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        (
            "Shop,bakery,118.78,32.04,,s2\n",
            r"row 3, column 'category': unknown category 'bakery'.*"
            r"Known categories: convenience_store \(便利店, Convenience store\)",
        ),
        (
            "Shop,supermarket,,32.04,,s2\n",
            r"row 3, column 'lon': missing longitude",
        ),
        (
            "Shop,supermarket,118.78,north,,s2\n",
            r"row 3, column 'lat': 'north' is not a number",
        ),
        (
            "Shop,supermarket,32.04,118.78,,s2\n",
            r"row 3, column 'lon/lat': lon 32.04, lat 118.78: lon and lat look swapped",
        ),
        (
            "Shop,supermarket,250,32.04,,s2\n",
            r"row 3, column 'lon': 250 is outside \[-180, 180\]",
        ),
        (
            "Home,elderly_care,118.78,32.04,-20,s2\n",
            r"row 3, column 'beds': '-20' is negative",
        ),
        (
            "Home,elderly_care,118.78,32.04,about 50,s2\n",
            r"row 3, column 'beds': 'about 50' is not a number",
        ),
        (
            "Shop,supermarket,118.78,32.04,,s1\n",
            r"row 3, column 'id': duplicate id 's1' \(also in row 2\)",
        ),
    ],
)
def test_each_row_problem_names_row_and_column(tmp_path: Path, rows: str, match: str) -> None:
    path = write_csv(tmp_path, HEADER + GOOD + rows)
    with pytest.raises(InputError, match=rf"(?s)inventory\.csv: 1 problem\(s\).*{match}"):
        read_inventory(path, CATEGORIES)


def test_missing_columns_list_the_columns_found(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "名字,类型,lon\nShop,便利店,118.78\n")
    with pytest.raises(InputError) as caught:
        read_inventory(path, CATEGORIES)
    message = str(caught.value)
    assert "missing required column 'name' (columns found: 名字, 类型, lon)" in message
    assert "missing required column 'lat'" in message
    assert "missing required column 'category'" not in message  # 类型 is an alias


@pytest.mark.parametrize("text", ["", "name,category,lon,lat\n", "name,category,lon,lat\n,,,\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(InputError, match=r"inventory\.csv: the facility inventory is empty"):
        read_inventory(write_csv(tmp_path, text), CATEGORIES)


def test_all_problems_are_collected_and_listed_in_row_order(tmp_path: Path) -> None:
    rows = "".join(f"Shop {i},bakery,118.78,32.04,,b{i}\n" for i in range(23))
    path = write_csv(tmp_path, HEADER + rows + "Home,elderly_care,abc,32.04,-1,b0\n")
    with pytest.raises(InputError) as caught:
        read_inventory(path, CATEGORIES)
    lines = str(caught.value).splitlines()
    assert lines[0].endswith(
        "26 problem(s) in the facility inventory (rows are spreadsheet rows, the header is row 1):"
    )
    listed = [line for line in lines if line.startswith("  - ")]
    assert len(listed) == 20
    assert listed[0].startswith("  - row 2, column 'category'")
    assert listed[-1].startswith("  - row 21, column 'category'")
    assert "  ... and 6 more" in lines


def test_xlsx_problems_use_spreadsheet_rows(tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    table = CHINESE_TABLE.copy()
    table.loc[2, "托位"] = -3
    table.loc[0, "经度"] = None
    table.to_excel(path, index=False)
    with pytest.raises(InputError) as caught:
        read_inventory(path, CATEGORIES)
    message = str(caught.value)
    assert "row 2, column '经度': missing longitude" in message
    assert "row 4, column '托位': -3 is negative" in message


def test_unreadable_inventory_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"none\.csv: facility inventory not found"):
        read_inventory(tmp_path / "none.csv", CATEGORIES)
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError, match=r"old\.xls: unsupported inventory format '\.xls'"):
        read_inventory(old, CATEGORIES)
    fake = tmp_path / "fake.xlsx"
    fake.write_text("name,category\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"fake\.xlsx: not a readable XLSX workbook"):
        read_inventory(fake, CATEGORIES)
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.geojson: not a readable vector file"):
        read_inventory(broken, CATEGORIES)
    with pytest.raises(CRSError, match="'EPSG:99999' is not a valid CRS"):
        read_inventory(write_csv(tmp_path, HEADER + GOOD), CATEGORIES, crs="EPSG:99999")


# --------------------------------------------------------------------------------------
# Property-based: any inventory, any encoding, any header language; any bytes


_NAME_CHARACTERS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -·()（）"
    "便利店超市菜场农贸市场社区养老服务中心幼儿园托育健身广场图书馆卫生站南京新街口鼓楼玄武秦淮路号"
)
_CATEGORY_IDS = ["convenience_store", "supermarket", "elderly_care", "childcare", "fitness"]


@st.composite
def inventories(draw: st.DrawFn) -> list[tuple[str, str, float, float]]:
    """Rows of (name, category id, lon, lat) inside China's extent."""
    n_rows = draw(st.integers(1, 8))
    rows = []
    for _ in range(n_rows):
        name = draw(st.text(_NAME_CHARACTERS, min_size=1, max_size=20)).strip() or "店"
        category = draw(st.sampled_from(_CATEGORY_IDS))
        lon = round(draw(st.floats(90.0, 134.7)), 6)
        lat = round(draw(st.floats(18.2, 53.5)), 6)
        rows.append((name, category, lon, lat))
    return rows


def _decodes_as_utf8_differently(data: bytes, encoding: str) -> bool:
    try:
        return data.decode("utf-8") != data.decode(encoding)
    except UnicodeDecodeError:
        return False


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=inventories(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk", "gb18030"]),
    chinese_header=st.booleans(),
    category_by_name=st.booleans(),
)
def test_any_inventory_reads_back_in_any_encoding_and_header_language(
    rows: list[tuple[str, str, float, float]],
    encoding: str,
    chinese_header: bool,
    category_by_name: bool,
    tmp_path: Path,
) -> None:
    by_id = {c.id: c for c in CATEGORIES}
    header = (
        ["名称", "类别", "经度", "纬度"] if chinese_header else ["name", "category", "lon", "lat"]
    )
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    for name, category, lon, lat in rows:
        label = by_id[category].name_zh if category_by_name else category
        writer.writerow([name, label, repr(lon), repr(lat)])
    data = text.getvalue().encode(encoding)
    # A GBK file whose bytes also spell valid UTF-8 (one '贸' is C3 B3, UTF-8's 'ó') is read
    # as UTF-8, as every reader does; no rule can tell the two apart.
    assume(encoding.startswith("utf") or not _decodes_as_utf8_differently(data, encoding))
    path = tmp_path / f"inventory-{encoding}.csv"
    path.write_bytes(data)
    frame = read_inventory(path, CATEGORIES)
    check_contract(frame)
    assert frame["name"].tolist() == [name for name, *_ in rows]
    assert frame["category"].tolist() == [category for _, category, *_ in rows]
    np.testing.assert_array_equal(frame.geometry.x, [lon for *_, lon, _ in rows])
    np.testing.assert_array_equal(frame.geometry.y, [lat for *_, lat in rows])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=600))
def test_any_bytes_give_an_inventory_or_an_input_error(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "inventory.csv"
    path.write_bytes(b"name,category,lon,lat\n" + content)
    error: InputError | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warnings are tested elsewhere
        try:
            frame = read_inventory(path, CATEGORIES)
        except InputError as caught:
            error = caught
    if error is not None:
        assert str(error).startswith(str(path)), error
    else:
        check_contract(frame)


def test_inventory_with_everyday_chinese_type_names(tmp_path: Path) -> None:
    # Planners write the type as they say it; configs/categories.yaml maps it to a category.
    table = pd.DataFrame(
        {
            "名称": [
                "幸福养老院",
                "小太阳托儿所",
                "康乐日间照料中心",
                "东门菜市场",
                "中心健身广场",
                "新街口卫生站",
            ],
            "类别": ["养老院", "托儿所", "日间照料中心", "菜市场", "健身广场", "社区卫生服务站"],
            "经度": [118.7784, 118.7801, 118.7822, 118.7790, 118.7795, 118.7800],
            "纬度": [32.0411, 32.0420, 32.0433, 32.0415, 32.0418, 32.0425],
        }
    )
    path = tmp_path / "设施.csv"
    table.to_csv(path, index=False, encoding="utf-8-sig")
    frame = read_inventory(path, CATEGORIES)
    check_contract(frame)
    assert frame["category"].tolist() == [
        "elderly_care",
        "childcare",
        "elderly_daycare",
        "farmers_market",
        "fitness_square",
        "health_station",
    ]
    unknown = table.assign(
        类别=["养老院", "托儿所", "老干部活动室", "菜市场", "健身广场", "卫生站"]
    )
    unknown.to_csv(path, index=False, encoding="utf-8-sig")
    with pytest.raises(InputError, match="unknown category '老干部活动室'"):
        read_inventory(path, CATEGORIES)


def test_a_type_name_names_one_category_only() -> None:
    from radius.config import _CategoryFile

    rows = [c.model_dump() for c in CATEGORIES]
    rows[1]["aliases"] = [*rows[1]["aliases"], "养老院"]
    with pytest.raises(ValueError, match=r"type name '养老院' of category .* is already a name"):
        _CategoryFile.model_validate({"categories": rows})


# --------------------------------------------------------------------------------------
# One language at a time (issue #14): every inventory error is a message id


def library_words(error: BaseException, *params: str) -> set[str]:
    """The English words of the parameters that hold another library's or the user's words
    (an exception's text, a CRS name), which the Chinese text quotes as they are."""
    note = error.args[0]
    return {word for name in params for word in english_words(str(note.params.get(name, "")))}


def test_inventory_problems_are_listed_in_chinese(tmp_path: Path) -> None:
    """A GBK CSV with Chinese headers and one problem of each kind a row can have."""
    path = tmp_path / "设施清单.csv"
    rows = [
        "名称,类别,经度,纬度,床位,编号",
        "新街口便利店,便利店,约118.78,32.04,,A1",  # row 2: not a number
        "老干部活动室,老干部活动室,118.78,32.04,,A2",  # row 3: unknown category
        "无名设施,,118.78,32.04,,A3",  # row 4: no category
        "苏果超市,超市,118.78,,,A4",  # row 5: no latitude
        "阳光托育,托育,32.04,118.78,,A5",  # row 6: swapped
        "东门菜市场,菜市场,250,32.04,,A6",  # row 7: out of range
        "幸福养老院,养老院,118.78,32.04,-20,A7",  # row 8: negative
        "康乐养老院,养老院,118.78,32.04,五十,A8",  # row 9: not a number
        "第二便利店,便利店,118.79,32.05,,A1",  # row 10: duplicate id
    ]
    path.write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    with pytest.raises(InputError) as caught:
        read_inventory(path, CATEGORIES)
    english = str(caught.value)
    assert english.startswith(f"{path}: 9 problem(s) in the facility inventory (rows are")
    for fact in [
        "row 2, column '经度': '约118.78' is not a number; write the longitude",
        "row 3, column '类别': unknown category '老干部活动室'",
        "row 4, column '类别': missing category",
        "row 5, column '纬度': missing latitude",
        "row 6, column '经度/纬度': lon 32.04, lat 118.78: lon and lat look swapped",
        "row 7, column '经度': 250 is outside [-180, 180]",
        "row 8, column '床位': '-20' is negative",
        "row 9, column '床位': '五十' is not a number",
        "row 10, column '编号': duplicate id 'A1' (also in row 2)",
        "Known categories: convenience_store (便利店, Convenience store)",
    ]:
        assert fact in english, fact
    chinese = assert_chinese_error(caught.value)
    assert chinese.startswith(f"{path}：设施清单中有 9 个问题（行号即电子表格的行号")
    for fact in [
        "第 2 行，'经度' 列：'约118.78' 不是数字；请以十进制度填写经度，例如 118.78",
        "第 3 行，'类别' 列：未知的类别 '老干部活动室'",
        "第 4 行，'类别' 列：类别为空",
        "第 5 行，'纬度' 列：纬度为空",
        "第 6 行，'经度/纬度' 列：经度 32.04、纬度 118.78：经纬度似乎填反了",
        "第 7 行，'经度' 列：250 超出 [-180, 180] 的范围",
        "第 8 行，'床位' 列：'-20' 为负数",
        "第 9 行，'床位' 列：'五十' 不是数字",
        "第 10 行，'编号' 列：编号 'A1' 重复（第 2 行已使用）",
        "已知类别：“便利店”、“菜市场”、“超市”",
        "请修正后重新运行。",
    ]:
        assert fact in chinese, fact


def test_more_than_twenty_problems_are_counted_in_chinese(tmp_path: Path) -> None:
    rows = "".join(f"店{i},面包店,118.78,32.04\n" for i in range(23))
    with pytest.raises(InputError) as caught:
        read_inventory(write_csv(tmp_path, "名称,类别,经度,纬度\n" + rows), CATEGORIES)
    assert "  ... and 3 more" in str(caught.value).splitlines()
    chinese = assert_chinese_error(caught.value)
    assert "设施清单中有 23 个问题" in chinese
    assert "  ……另有 3 个问题" in chinese.splitlines()


def test_missing_columns_are_named_in_chinese(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "名字,类型,经度\n便利店,便利店,118.78\n")
    with pytest.raises(InputError) as caught:
        read_inventory(path, CATEGORIES)
    english = str(caught.value)
    assert "missing required column 'name' (columns found: 名字, 类型, 经度)" in english
    assert "missing required column 'lat' and no geometry" in english
    chinese = assert_chinese_error(caught.value)
    assert "缺少必需的“名称”列（现有的列：名字, 类型, 经度）" in chinese
    assert "缺少必需的“纬度”列，也没有几何" in chinese
    assert "lat/latitude/y/纬度" in chinese  # the names the reader accepts


def test_feature_problems_are_listed_in_chinese(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"名称": ["运动场", "便利店", "托育"], "类别": ["健身设施", "便利店", "托育"]},
        geometry=[
            shapely.LineString([(118.78, 32.04), (118.79, 32.05)]),
            shapely.MultiPoint([(118.78, 32.04), (118.79, 32.05)]),
            shapely.Polygon([(118.78, 32.04), (118.79, 32.04), (118.80, 32.04)]),
        ],
        crs=4326,
    )
    path = tmp_path / "设施.geojson"
    frame.to_file(path)
    with pytest.raises(InputError) as caught:
        read_inventory(path, CATEGORIES)
    english = str(caught.value)
    assert "3 problem(s) in the facility inventory (features are counted from 1" in english
    assert "feature 1, column 'geometry': LineString geometry is not supported" in english
    assert "feature 2, column 'geometry': MultiPoint with 2 points" in english
    assert "feature 3, column 'geometry': Polygon has no area even after repair" in english
    chinese = assert_chinese_error(caught.value)
    assert "（要素按文件中的顺序从 1 开始编号）" in chinese
    assert "第 1 个要素，“几何” 列：不支持 LineString 几何" in chinese
    assert "第 2 个要素，“几何” 列：该要素为含 2 个点的多点" in chinese
    assert "第 3 个要素，“几何” 列：Polygon 修复后仍没有面积" in chinese


def test_coordinates_that_do_not_convert_are_named_in_chinese(tmp_path: Path) -> None:
    # The CRS's own name (EPSG's words) and the infinite coordinates are shown as they are.
    quoted = {*english_words(pyproj.CRS.from_epsg(4547).name), "inf"}
    table = write_csv(tmp_path, "名称,类别,x,y\n便利店,便利店,1e30,5e29\n")
    with pytest.raises(InputError) as caught:
        read_inventory(table, CATEGORIES, crs="EPSG:4547")
    assert "(1e+30, 5e+29) cannot be converted from CGCS2000" in str(caught.value)
    assert "（1e+30, 5e+29）无法从 CGCS2000" in assert_chinese_error(caught.value, quoted)
    layer = tmp_path / "设施.gpkg"
    far = shapely.Point(1e30, 5e29)
    gpd.GeoDataFrame({"名称": ["便利店"], "类别": ["便利店"]}, geometry=[far], crs=4547).to_file(
        layer
    )
    with pytest.raises(InputError) as caught:
        read_inventory(layer, CATEGORIES)
    assert "are outside the WGS-84 range after conversion from CGCS2000" in str(caught.value)
    assert "转换后超出 WGS-84 的范围" in assert_chinese_error(caught.value, quoted)


def test_file_errors_speak_chinese(tmp_path: Path) -> None:
    """Each error about the file as a whole, from a real bad file."""
    gbk = tmp_path / "清单.csv"
    gbk.write_bytes("名称,类别,经度,纬度\n新街口便利店,便利店,118.78,32.04\n".encode("gbk"))
    cases: list[tuple[Path, dict[str, Any], type[Exception], str, str]] = []
    cases.append(
        (
            gbk,
            {"encoding": "utf-8"},
            InputError,
            "cannot decode the file as utf-8;",
            "无法按 utf-8 编码读取",
        )
    )
    cases.append(
        (
            gbk,
            {"encoding": "utf-9"},
            InputError,
            "unknown text encoding 'utf-9'",
            "未知的文本编码 'utf-9'",
        )
    )
    utf16 = tmp_path / "utf16.csv"
    CHINESE_TABLE.to_csv(utf16, index=False, encoding="utf-16")
    cases.append(
        (
            utf16,
            {},
            InputError,
            "cannot decode the file as utf-8-sig and gb18030",
            "无法按 utf-8-sig 或 gb18030 编码读取",
        )
    )
    quote = tmp_path / "引号.csv"  # a quote never closed
    quote.write_text('名称,类别,经度,纬度\n"便利店,便利店,118.78,32.04\n', encoding="utf-8")
    cases.append((quote, {}, InputError, "not a readable CSV file (", "不是可读取的 CSV 文件（"))
    fake = tmp_path / "假.xlsx"  # a zip archive, but no workbook inside
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("说明.txt", "这不是工作簿")
    cases.append((fake, {}, InputError, "not a readable XLSX workbook", "不是可读取的 XLSX 工作簿"))
    sheet = tmp_path / "设施.xlsx"
    CHINESE_TABLE.to_excel(sheet, index=False, sheet_name="设施")
    cases.append(
        (
            sheet,
            {"layer": "现状"},
            InputError,
            "no sheet '现状'; the sheets are 设施",
            "没有名为 '现状' 的工作表；现有工作表为 设施",
        )
    )
    old = tmp_path / "旧.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    cases.append(
        (
            old,
            {},
            InputError,
            "unsupported inventory format '.xls'; save it as one of .csv",
            "不支持的设施清单格式 '.xls'",
        )
    )
    empty = tmp_path / "空.csv"
    empty.write_text("名称,类别,经度,纬度\n,,,\n", encoding="utf-8")
    cases.append(
        (
            empty,
            {},
            InputError,
            "the facility inventory is empty (no data rows)",
            "设施清单为空（没有数据行）",
        )
    )
    cases.append(
        (
            gbk,
            {"crs": "EPSG:99999"},
            CRSError,
            "'EPSG:99999' is not a valid CRS",
            "'EPSG:99999' 不是有效的坐标系",
        )
    )
    for path, options, kind, english, chinese in cases:
        with pytest.raises(kind) as caught:
            read_inventory(path, CATEGORIES, **options)
        assert english in str(caught.value), (english, str(caught.value))
        said = assert_chinese_error(caught.value, library_words(caught.value, "reason"))
        assert chinese in said, (chinese, said)


def test_empty_layer_and_layer_without_crs_speak_chinese(tmp_path: Path) -> None:
    layer = tmp_path / "空.gpkg"
    vector_inventory().iloc[:0].to_file(layer)
    with pytest.raises(InputError) as caught:
        read_inventory(layer, CATEGORIES)
    assert "the facility inventory is empty (no data features)" in str(caught.value)
    assert "设施清单为空（没有要素）" in assert_chinese_error(caught.value)
    points = vector_inventory().iloc[[2]].set_crs(None, allow_override=True)
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        path = zipped_shapefile(points, tmp_path / "shp")
    with pytest.raises(CRSError) as caught:
        read_inventory(path, CATEGORIES)
    assert "the file has no coordinate reference system (CRS); set one" in str(caught.value)
    said = assert_chinese_error(caught.value, {"QGIS"})
    assert "文件没有坐标参考系（CRS）" in said
    assert "--facilities-crs" in said


def test_missing_osm_file_speaks_chinese(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        facilities_from_osm(tmp_path / "无.osm", CATEGORIES)
    assert "无.osm: OSM file not found; check the path" in str(caught.value)
    assert "无.osm：找不到 OSM 文件，请检查路径" in assert_chinese_error(caught.value)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_command_line_inventory_error_in_one_language(
    lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """radius reach --facilities with a bad GBK table: the error is in --lang alone."""
    from radius.cli import main

    bad = tmp_path / "bad.csv"
    bad.write_bytes("名称,类别,经度,纬度\n新街口便利店,便利店,约118.78,32.04\n".encode("gbk"))
    code = main(["reach", "--lang", lang, "--facilities", str(bad), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    if lang == "zh":
        assert err.startswith(f"radius：错误：{bad}：设施清单中有 1 个问题"), err
        assert "第 2 行，'经度' 列：'约118.78' 不是数字" in err
        assert english_words(err) == [], err
    else:
        assert err.startswith(f"radius: error: {bad}: 1 problem(s) in the facility inventory")
        assert "row 2, column '经度': '约118.78' is not a number" in err
        # Chinese only in what the user wrote: the file's name, its column and its value.
        rest = err.replace(str(bad), "").replace("经度", "").replace("约118.78", "")
        assert not re.search(r"[\u4e00-\u9fff]", rest), err
