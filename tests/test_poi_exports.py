"""Amap (高德) and Baidu (百度) POI exports read as facility inventories.

The exports are written by the tests in the documented formats (the Amap web-service
place-search JSON, its CSV; Baidu's place-search JSON), at points inside the Beijing extract
of ../shared/data, shifted to GCJ-02/BD-09 as the services return them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from radius._errors import ConfigError, InputError
from radius.config import load_categories
from radius.coords import wgs84_to_bd09, wgs84_to_gcj02
from radius.facilities import read_inventory
from radius.poi_exports import classify_poi, load_poi_types, poi_export_kind, read_poi_export
from tests.language_checks import assert_chinese_error

CATEGORIES = load_categories()
KNOWN = {c.id for c in CATEGORIES}


def preferred(*ids: str) -> str:
    """The first of ``ids`` the categories define (a GB 50180 tier, else the broader one)."""
    return next(i for i in ids if i in KNOWN)


# (name, type, typecode, expected category or None, WGS-84 lon, lat): inside the
# bounds of cn_beijing_haidian_cau.osm (116.3440-116.3597 E, 39.9977-40.0089 N).
AMAP_POIS = [
    (
        "便利蜂(学清路店)",
        "购物服务;便民商店/便利店;便民商店/便利店",
        "060200",
        "convenience_store",
        116.3462,
        39.9991,
    ),
    (
        "7-ELEVEn(清华东路店)",
        "购物服务;便民商店/便利店;7-ELEVEn便利店",
        "060201",
        "convenience_store",
        116.3511,
        40.0032,
    ),
    ("物美超市(学院路店)", "购物服务;超级市场;超市", "060400", "supermarket", 116.3555, 40.0061),
    ("东升菜市场", "购物服务;综合市场;蔬菜市场", "060705", "farmers_market", 116.3480, 40.0075),
    (
        "蓝天幼儿园",
        "科教文化服务;学校;幼儿园",
        "141204",
        preferred("kindergarten", "childcare"),
        116.3590,
        40.0003,
    ),
    (
        "东升社区养老服务驿站",
        "生活服务;生活服务场所;生活服务场所",
        "070000",
        "elderly_daycare",
        116.3449,
        40.0050,
    ),
    ("海淀区图书馆(分馆)", "科教文化服务;图书馆;图书馆", "140500", "reading", 116.3530, 39.9985),
    ("乐动健身中心", "体育休闲服务;运动场馆;健身中心", "080111", "fitness", 116.3502, 40.0083),
    ("老北京炸酱面", "餐饮服务;中餐厅;中餐厅", "050100", None, 116.3470, 40.0011),
    ("老北京涮肉", "餐饮服务;中餐厅;中餐厅", "050100", None, 116.3473, 40.0014),
    ("中国农业大学东校区", "科教文化服务;学校;高等院校", "141201", None, 116.3577, 40.0020),
]


def _gcj(lon: float, lat: float) -> tuple[float, float]:
    x, y = wgs84_to_gcj02(lon, lat)
    return float(x), float(y)


def _amap_json(path: Path) -> Path:
    """A v3 place-search response, as the web service writes it (empty fields as [])."""
    pois = []
    for i, (name, kind, code, _, lon, lat) in enumerate(AMAP_POIS):
        x, y = _gcj(lon, lat)
        pois.append(
            {
                "id": f"B0FFTEST{i:02d}",
                "name": name,
                "type": kind,
                "typecode": code,
                "address": [] if i % 2 else "学院路",
                "location": f"{x:.6f},{y:.6f}",
                "tel": [],
                "pname": "北京市",
                "cityname": "北京市",
                "adname": "海淀区",
            }
        )
    data = {"status": "1", "count": str(len(pois)), "info": "OK", "infocode": "10000", "pois": pois}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _check_amap(frame: gpd.GeoDataFrame, *, tolerance_deg: float = 2e-6) -> None:
    expected = [p for p in AMAP_POIS if p[3] is not None]
    assert list(frame["name"]) == [p[0] for p in expected]
    assert list(frame["category"]) == [p[3] for p in expected]
    assert set(frame["source"]) == {"amap"}
    # The GCJ-02 offset in Beijing is about 600 m; converted back the points lie within
    # the 6-decimal rounding of the export (< 0.2 m) of their WGS-84 positions.
    lon = np.array([p[4] for p in expected])
    lat = np.array([p[5] for p in expected])
    assert np.abs(frame.geometry.x.to_numpy() - lon).max() < tolerance_deg
    assert np.abs(frame.geometry.y.to_numpy() - lat).max() < tolerance_deg
    assert frame.crs.to_epsg() == 4326
    assert frame.attrs["unmapped_types"] == {
        "餐饮服务;中餐厅;中餐厅 (050100)": 2,
        "科教文化服务;学校;高等院校 (141201)": 1,
    }
    assert frame.attrs["pois"] == len(AMAP_POIS)
    assert "V1.2" in frame.attrs["type_table"]


def test_amap_place_search_json(tmp_path: Path) -> None:
    path = _amap_json(tmp_path / "amap_pois.json")
    assert poi_export_kind(path) == "amap"
    with pytest.warns(UserWarning, match=r"3 of 11 amap POIs .*中餐厅 \(050100\) x2"):
        frame = read_inventory(path, CATEGORIES)
    _check_amap(frame)
    assert frame["facility_id"].iloc[0] == "convenience_store:amap/B0FFTEST00"


def test_amap_v5_json_list_of_pois(tmp_path: Path) -> None:
    """v5 keeps the same fields; a bare list of POIs (as scrapers save it) is read too."""
    data = json.loads(_amap_json(tmp_path / "a.json").read_text(encoding="utf-8"))
    path = tmp_path / "v5.json"
    path.write_text(json.dumps(data["pois"], ensure_ascii=False), encoding="utf-8")
    with pytest.warns(UserWarning, match="maps to no facility category"):
        _check_amap(read_inventory(path, CATEGORIES))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_amap_csv(tmp_path: Path, encoding: str) -> None:
    lines = ["name,type,typecode,address,location"]
    for name, kind, code, _, lon, lat in AMAP_POIS:
        x, y = _gcj(lon, lat)
        lines.append(f'{name},{kind},{code},学院路,"{x:.6f},{y:.6f}"')
    path = tmp_path / "amap_export.csv"
    path.write_bytes("\n".join(lines).encode(encoding))
    assert poi_export_kind(path) == "amap"
    with pytest.warns(UserWarning, match="3 of 11 amap POIs"):
        _check_amap(read_inventory(path, CATEGORIES))


def test_amap_xlsx_with_chinese_headers_and_lon_lat_columns(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["名称", "类型", "类型编码", "经度", "纬度"])
    for name, kind, code, _, lon, lat in AMAP_POIS:
        x, y = _gcj(lon, lat)
        sheet.append([name, kind, code, round(x, 6), round(y, 6)])
    path = tmp_path / "amap.xlsx"
    book.save(path)
    with pytest.warns(UserWarning, match="maps to no facility category"):
        _check_amap(read_inventory(path, CATEGORIES))


def test_baidu_place_search_json_is_bd09(tmp_path: Path) -> None:
    results = []
    for i, (name, tag, lon, lat) in enumerate(
        [
            ("好邻居便利店", "购物;便利店", 116.3462, 39.9991),
            ("华联超市", "购物;超市", 116.3555, 40.0061),
            ("全民健身中心", "运动健身;健身中心", 116.3502, 40.0083),
            ("兰州拉面", "美食;中餐厅", 116.3470, 40.0011),
        ]
    ):
        x, y = wgs84_to_bd09(lon, lat)
        results.append(
            {
                "name": name,
                "location": {"lat": round(float(y), 6), "lng": round(float(x), 6)},
                "uid": f"uid{i}",
                "detail_info": {"tag": tag, "type": "shopping"},
            }
        )
    path = tmp_path / "baidu.json"
    path.write_text(json.dumps({"status": 0, "results": results}, ensure_ascii=False), "utf-8")
    assert poi_export_kind(path) == "baidu"
    with pytest.warns(UserWarning, match=r"1 of 4 baidu POIs .*美食;中餐厅 x1"):
        frame = read_inventory(path, CATEGORIES)
    assert list(frame["category"]) == ["convenience_store", "supermarket", "fitness"]
    assert np.allclose(frame.geometry.x, [116.3462, 116.3555, 116.3502], atol=2e-6)
    assert np.allclose(frame.geometry.y, [39.9991, 40.0061, 40.0083], atol=2e-6)
    assert frame.attrs["coordinate_system"] == "bd09"


def test_already_converted_export_is_not_shifted_again(tmp_path: Path) -> None:
    path = tmp_path / "wgs.csv"
    path.write_text(
        'name,type,typecode,location\n便利店,购物服务;便民商店/便利店;便民商店/便利店,060200,"116.3462,39.9991"\n',
        encoding="utf-8",
    )
    frame = read_inventory(path, CATEGORIES, crs="EPSG:4326")
    assert (frame.geometry.x.iloc[0], frame.geometry.y.iloc[0]) == (116.3462, 39.9991)
    assert read_poi_export(path, CATEGORIES).geometry.x.iloc[0] != 116.3462


def test_bad_locations_are_listed_by_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "name,type,typecode,location\n"
        '甲,购物服务;超级市场;超市,060400,"116.35"\n'
        '乙,购物服务;超级市场;超市,060400,"39.99,116.35"\n'
        '丙,餐饮服务;中餐厅;中餐厅,050100,""\n',
        encoding="utf-8",
    )
    with pytest.raises(
        InputError, match=r"(?s)2 POI\(s\).*row 2: location '116.35'.*row 3: .*swapped"
    ):
        read_inventory(path, CATEGORIES)


def test_radius_inventory_and_geojson_are_not_taken_for_exports(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.csv"
    inventory.write_text("name,category,lon,lat\n店,便利店,116.35,40.0\n", encoding="utf-8")
    geojson = tmp_path / "f.json"
    geojson.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    assert poi_export_kind(inventory) is None
    assert poi_export_kind(geojson) is None
    assert read_inventory(inventory, CATEGORIES)["source"].tolist() == ["inventory"]


def test_type_table_names_known_categories_and_its_version() -> None:
    table = load_poi_types(categories=CATEGORIES)
    assert re.search(r"V1\.2", table.amap_version)
    optional = set(table.optional_categories)
    assert all(set(r.category) <= KNOWN | optional for r in table.rules)
    # the longest code prefix wins; name rules only within their codes
    assert classify_poi("amap", "060201", "罗森", table, known=KNOWN) == "convenience_store"
    assert classify_poi("amap", "060700", "综合市场", table, known=KNOWN) is None
    assert classify_poi("amap", "060700", "西苑菜市场", table, known=KNOWN) == "farmers_market"
    assert classify_poi("amap", "160000", "养老保险服务中心", table, known=KNOWN) is None
    assert classify_poi("amap", "090100|141204", "某康复医院", table) == "rehabilitation"
    # a GB 50180 tier where the categories define it, else the broader category
    assert classify_poi("amap", "141204", "幼儿园", table, known={"childcare"}) == "childcare"
    tiers = {"childcare", "kindergarten"}
    assert classify_poi("amap", "141204", "幼儿园", table, known=tiers) == "kindergarten"
    assert classify_poi("amap", "090300", "社区卫生服务站", table, known=KNOWN) == (
        "health_station" if "health_station" in KNOWN else None
    )


def test_readme_documents_the_codes_used() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = load_poi_types()
    for rule in table.rules:
        for code in rule.amap_codes:
            if not rule.keywords:
                assert code in readme, f"README does not list Amap code {code}"


def test_amap_csv_drives_radius_analyze_on_beijing(
    beijing_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """POIs placed on street nodes of the Beijing extract, exported in GCJ-02 as Amap does:
    once converted they sit on the streets (access < 1 m); read as if already WGS-84 they lie
    the GCJ-02 offset (hundreds of metres) away."""
    import warnings

    import geopandas as gpd

    from radius.cli import main
    from radius.network import load_network

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extract's islands
        nodes = load_network(beijing_osm).nodes.sample(5, random_state=1)
    kinds = [
        ("便利店", "购物服务;便民商店/便利店;便民商店/便利店", "060200"),
        ("超市", "购物服务;超级市场;超市", "060400"),
        ("便利店二", "购物服务;便民商店/便利店;便民商店/便利店", "060200"),
        ("饭店", "餐饮服务;中餐厅;中餐厅", "050100"),
        ("超市二", "购物服务;超级市场;超市", "060400"),
    ]
    lines = ["name,type,typecode,location"]
    for (name, kind, code), lon, lat in zip(kinds, nodes["lon"], nodes["lat"], strict=True):
        x, y = _gcj(float(lon), float(lat))
        lines.append(f'{name},{kind},{code},"{x:.6f},{y:.6f}"')
    export = tmp_path / "amap_beijing.csv"
    export.write_text("\n".join(lines), encoding="utf-8")
    access = {}
    for label, extra in (("converted", []), ("as_given", ["--facilities-crs", "wgs84"])):
        out = tmp_path / label
        status = main(
            [
                "analyze",
                "--network", str(beijing_osm),
                "--facilities", str(export),
                "--categories", "convenience_store,supermarket",
                *extra,
                "--out", str(out),
            ]
        )  # fmt: skip
        err = capsys.readouterr().err
        assert status == 0, err
        assert "050100" in err  # the restaurant is listed as unmapped, not dropped silently
        facilities = gpd.read_file(out / "results.gpkg", layer="facilities")
        assert sorted(facilities["category"]) == ["convenience_store"] * 2 + ["supermarket"] * 2
        access[label] = facilities["access_m"].to_numpy(dtype=float)
    assert np.nanmax(access["converted"]) < 1.0
    # (a point shifted ~600 m can still fall near another street: the median tells)
    assert np.nanmedian(access["as_given"]) > 30.0


# --------------------------------------------------------------------------------------
# One language at a time (issue #14): every export error is a message id


def test_bad_coordinates_of_an_amap_csv_are_listed_in_chinese(tmp_path: Path) -> None:
    path = tmp_path / "高德导出.csv"
    rows = [
        "name,type,typecode,location",
        '甲超市,购物服务;超级市场;超市,060400,"116.35"',  # row 2: not lon,lat
        "乙超市,购物服务;超级市场;超市,060400,",  # row 3: no coordinates
        '丙超市,购物服务;超级市场;超市,060400,"39.99,116.35"',  # row 4: swapped
        '丁超市,购物服务;超级市场;超市,060400,"2.35,48.86"',  # row 5: Paris
    ]
    path.write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    with pytest.raises(InputError) as caught:
        read_inventory(path, CATEGORIES)
    english = str(caught.value)
    assert english.startswith(f"{path}: 4 POI(s) of the Amap export without usable coordinates")
    assert "row 2: location '116.35' is not 'lon,lat'" in english
    assert "row 3: missing or non-numeric coordinates" in english
    assert "row 4: lon 39.99, lat 116.35: longitude and latitude look swapped" in english
    assert "row 5: (2.35, 48.86) lies outside China" in english
    chinese = assert_chinese_error(caught.value)
    assert chinese.startswith(f"{path}：高德导出文件中有 4 个 POI 没有可用的坐标（行号即电子表格")
    assert "第 2 行：坐标 '116.35' 不是“经度,纬度”的格式" in chinese
    assert "第 3 行：坐标缺失或不是数字" in chinese
    assert "第 4 行：经度 39.99、纬度 116.35：经纬度似乎填反了" in chinese
    assert "第 5 行：（2.35, 48.86）位于中国境外" in chinese


def test_bad_coordinates_of_a_baidu_json_are_counted_by_poi(tmp_path: Path) -> None:
    path = tmp_path / "百度.json"
    results = [
        {
            "name": "甲超市",
            "uid": "b1",
            "location": {"lng": "北纬", "lat": 40.0},
            "tag": "购物;超市",
        },
        {
            "name": "乙超市",
            "uid": "b2",
            "location": {"lng": 116.35, "lat": 40.0},
            "tag": "购物;超市",
        },
    ]
    path.write_text(json.dumps({"results": results}, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_inventory(path, CATEGORIES)
    english = str(caught.value)
    assert "1 POI(s) of the Baidu export without usable coordinates (POIs are counted" in english
    assert "POI 1: missing or non-numeric coordinates" in english
    chinese = assert_chinese_error(caught.value)
    assert "百度导出文件中有 1 个 POI 没有可用的坐标（POI 按文件中的顺序从 1 开始编号）" in chinese
    assert "第 1 个 POI：坐标缺失或不是数字" in chinese


def test_an_empty_export_and_a_file_that_is_none_speak_chinese(tmp_path: Path) -> None:
    empty = tmp_path / "空.json"
    empty.write_text('{"status": "1", "pois": []}', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_inventory(empty, CATEGORIES)
    assert "空.json: the Amap export holds no POI" in str(caught.value)
    assert "空.json：该高德导出文件中没有 POI" in assert_chinese_error(caught.value)
    inventory = tmp_path / "清单.csv"
    inventory.write_text("名称,类别,经度,纬度\n店,便利店,116.35,40.0\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_poi_export(inventory, CATEGORIES)
    assert "清单.csv: not an Amap or Baidu POI export; an Amap export has name, type" in str(
        caught.value
    )
    # the column names of the exports are shown as the services write them
    columns = {"name", "type", "typecode", "location", "pois", "tag"}
    said = assert_chinese_error(caught.value, columns)
    assert "清单.csv：不是高德或百度的 POI 导出文件" in said


def test_a_type_table_naming_an_unknown_category_speaks_chinese(tmp_path: Path) -> None:
    original = Path(__file__).resolve().parents[1] / "configs" / "poi_types.yaml"
    text = original.read_text(encoding="utf-8")
    assert "- category: supermarket\n" in text
    path = tmp_path / "poi_types.yaml"
    path.write_text(text.replace("- category: supermarket\n", "- category: 面包店\n", 1), "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_poi_types(path, categories=CATEGORIES)
    assert "poi_types.yaml: rules name unknown categories 面包店; use ids of" in str(caught.value)
    said = assert_chinese_error(caught.value, KNOWN)  # the ids the file may use
    assert "poi_types.yaml：规则中有未知的设施类别 面包店" in said
