"""GIS files that open styled (QGIS ``layer_styles``) and workbooks laid out for reading."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

from radius._io import gpkg_writer, xlsx_writer
from radius._workbook import display_width, number_format
from radius.gis_styles import STYLE_TABLE, layer_style, qml_for, sld_for
from radius.maps import load_map_style

# The layer_styles fields as QGIS's OGR provider creates them (QgsOgrProviderMetadata::
# saveStyle, src/core/providers/ogr/qgsogrprovidermetadata.cpp): name, OGR type, width.
QGIS_FIELDS = [
    ("f_table_catalog", "TEXT(256)"),
    ("f_table_schema", "TEXT(256)"),
    ("f_table_name", "TEXT(256)"),
    ("f_geometry_column", "TEXT(256)"),
    ("styleName", "TEXT(30)"),
    ("styleQML", "TEXT"),
    ("styleSLD", "TEXT"),
    ("useAsDefault", "BOOLEAN"),
    ("description", "TEXT"),
    ("owner", "TEXT(30)"),
    ("ui", "TEXT(30)"),
    ("update_time", "DATETIME"),
]


def _layers() -> dict[str, gpd.GeoDataFrame]:
    points = [shapely.Point(116.35, 40.0), shapely.Point(116.351, 40.0)]
    return {
        "facilities": gpd.GeoDataFrame(
            {"name": ["店", "馆"], "category": ["convenience_store", "fitness"]},
            geometry=points,
            crs=4326,
        ),
        "districts": gpd.GeoDataFrame(
            {
                "district_id": ["a", "b", "c"],
                "population": [10.0, 0.0, 5.0],
                "r1_pass": [True, True, False],
                "r2_pass": [True, False, False],
            },
            geometry=[shapely.box(116 + i, 40, 116.5 + i, 40.5) for i in range(3)],
            crs=4326,
        ),
        "shortfall": gpd.GeoDataFrame(
            {"category": ["fitness"], "population": [3.0]}, geometry=points[:1], crs=4326
        ),
    }


def test_geopackage_has_the_qgis_layer_styles_table(tmp_path: Path) -> None:
    path = tmp_path / "results.gpkg"
    gpkg_writer(_layers())(path)
    with sqlite3.connect(path) as connection:
        info = connection.execute(f'PRAGMA table_info("{STYLE_TABLE}")').fetchall()
        contents = connection.execute(
            "SELECT data_type FROM gpkg_contents WHERE table_name = ?", (STYLE_TABLE,)
        ).fetchone()
        geometry_columns = dict(
            connection.execute("SELECT table_name, column_name FROM gpkg_geometry_columns")
        )
    assert [(row[1], row[2]) for row in info[1:]] == QGIS_FIELDS
    assert info[0][1] == "id"
    assert info[0][5] == 1
    assert contents == ("attributes",)  # an OGR attribute table, as QGIS makes it
    # QGIS's loadStyle: the OGR layer "layer_styles" filtered like this, default first.
    for name in _layers():
        where = (
            f"f_table_schema='' AND f_table_name='{name}' "
            f"AND f_geometry_column='{geometry_columns[name]}' AND useAsDefault = 1"
        )
        rows = pyogrio.read_dataframe(path, layer=STYLE_TABLE, where=where)
        assert len(rows) == 1, name
        root = ET.fromstring(rows["styleQML"].iloc[0].split("\n", 1)[1])
        assert root.tag == "qgis"
        assert root.find("renderer-v2") is not None
        ET.fromstring(rows["styleSLD"].iloc[0].split("\n", 1)[1])  # well-formed SLD


def test_styles_use_the_map_colours_and_legends(tmp_path: Path) -> None:
    style = load_map_style()
    layers = _layers()
    facilities = ET.fromstring(
        qml_for(layer_style("facilities", layers["facilities"])).split("\n", 1)[1]
    )
    renderer = facilities.find("renderer-v2")
    assert renderer is not None
    assert renderer.get("type") == "categorizedSymbol"
    assert renderer.get("attr") == "category"
    labels = {c.get("value"): c.get("label") for c in renderer.iter("category")}
    assert labels == {
        "convenience_store": "便利店 Convenience store",
        "fitness": "健身设施 Fitness",
    }
    colours = [str(o.get("value")) for o in renderer.iter("Option") if o.get("name") == "color"]
    hexes = [style.categories["convenience_store"], style.categories["fitness"]]
    expected = [",".join(str(int(h[i : i + 2], 16)) for i in (1, 3, 5)) for h in hexes]
    assert [c.rsplit(",", 1)[0] for c in colours] == expected
    districts = ET.fromstring(
        qml_for(layer_style("districts", layers["districts"])).split("\n", 1)[1]
    )
    rules = {str(r.get("label")): str(r.get("filter")) for r in districts.iter("rule")}
    assert list(rules)[:3] == [
        "无居民 no residents",
        "全部达标 every rule met",
        "未达标 1 项 1 rule(s) missed",
    ]
    assert '"r2_pass"' in rules["全部达标 every rule met"]
    fills = [str(o.get("value")) for o in districts.iter("Option") if o.get("name") == "color"]
    assert fills[1].startswith("26,152,80")  # pass_colour #1a9850
    shortfall = layer_style("shortfall", layers["shortfall"])
    assert '"214,39,40,140"' in qml_for(shortfall)  # #d62728 at the map's opacity 0.55
    assert "未覆盖居民 uncovered residents" in sld_for("shortfall", shortfall)


def test_workbook_has_frozen_bold_headers_widths_and_units(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "区域编号 District ID": ["东升街道第一社区"],
            "常住人口 Residents": [5240.0],
            "户数 Households": [2000.0],
            "需求 Required (m²)": [600.0],
            "供需比 Ratio": [0.8333],
            "是否达标 Pass": ["未达标 fail"],
        }
    )
    path = tmp_path / "provision.xlsx"
    xlsx_writer({"elderly": frame})(path)
    sheet = openpyxl.load_workbook(path)["elderly"]
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    formats = [cell.number_format for cell in sheet[2]]
    assert formats[1:5] == ['#,##0" 人"', '#,##0" 户"', '#,##0" m²"', "0%"]
    width = sheet.column_dimensions["A"].width
    assert width >= display_width("东升街道第一社区") == 16
    assert sheet.column_dimensions["F"].width >= display_width("未达标 fail")


@pytest.mark.parametrize(
    ("header", "fmt"),
    [
        ("缺口 Shortfall (beds)", '#,##0" 床"'),
        ("supermarket_dist_m", '#,##0" m"'),
        ("lon", "0.000000"),
        ("名称 Name", None),
    ],
)
def test_number_formats_follow_the_header(header: str, fmt: str | None) -> None:
    values = pd.Series(["x"]) if fmt is None else pd.Series([12.0, 3.0])
    assert number_format(header, values) == fmt
