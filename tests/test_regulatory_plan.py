"""A 控规 plot table drives `radius analyze` and `radius batch` for a new district.

The plan, on a 1 km × 1 km road grid (100 m blocks) in a metric CRS:

======  =============  ==========  ======  ====================  ========================
plot    用地代码        用地面积      容积率   配套设施 / 户均          hand figures
======  =============  ==========  ======  ====================  ========================
A-01    R21            10000 m²    2.5                           25,000 m² ÷ 95.68 = 261.29 户
B-01    二类居住用地     0.8 公顷     2.0     户均建筑面积 100 m²     16,000 m² ÷ 100 = 160 户
A-02    R22            1600 m²             养老服务站 500 m²        planned elderly day care
B-02    R22            900 m²              托育中心 60 托位         planned childcare
B-03    G1             2000 m²                                   other use (counted)
======  =============  ==========  ======  ====================  ========================

95.68 m²/户 is configs/plan_codes.yaml (36.52 m²/person × 2.62 persons, 2020 census).
Residents = households × 2.62. District A (west half) holds A-01/A-02, B (east) the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import openpyxl
import pytest
import shapely
import yaml

from radius._errors import InputError
from radius.batch import run_batch
from radius.cli import main
from radius.config import load_categories
from radius.facilities import read_inventory
from radius.i18n import Message, RadiusWarning, message_of
from radius.population import read_residents
from radius.regulatory_plan import (
    facilities_from_plan,
    is_regulatory_plan,
    load_plan_codes,
    plan_plots,
    residents_from_plan,
)
from radius.synthetic import LATTICE_CRS, LATTICE_ORIGIN
from tests.language_checks import assert_chinese_error, english_words

X0, Y0 = LATTICE_ORIGIN
HH_A = 25_000 / 95.68
HH_B = 16_000 / 100.0


def box(x: float, y: float, w: float, h: float) -> shapely.Polygon:
    return shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


@pytest.fixture
def plan(tmp_path: Path) -> dict[str, Path]:
    lines, names = [], []
    for k in range(11):
        lines.append(shapely.LineString([(X0, Y0 + 100 * k), (X0 + 1000, Y0 + 100 * k)]))
        names.append(f"纬{k}路")
        lines.append(shapely.LineString([(X0 + 100 * k, Y0), (X0 + 100 * k, Y0 + 1000)]))
        names.append(f"经{k}路")
    roads = tmp_path / "roads.gpkg"
    gpd.GeoDataFrame(
        {"highway": ["residential"] * len(lines), "name": names}, geometry=lines, crs=LATTICE_CRS
    ).to_file(roads)
    plots = gpd.GeoDataFrame(
        {
            "地块编号": ["A-01", "B-01", "A-02", "B-02", "B-03"],
            "用地代码": ["R21", "二类居住用地", "R22", "R22", "G1"],
            "用地面积(公顷)": [1.0, 0.8, 0.16, 0.09, 0.2],
            "容积率": [2.5, 2.0, None, None, None],
            "户均建筑面积": [None, 100.0, None, None, None],
            "配套设施": [None, None, "社区养老服务站", "托育中心", None],
            "建筑面积": [None, None, 500.0, 600.0, None],
            "托位": [None, None, None, 60, None],
        },
        geometry=[
            box(150, 350, 100, 100),
            box(650, 310, 100, 80),
            box(310, 610, 40, 40),
            box(610, 610, 30, 30),
            box(810, 110, 40, 50),
        ],
        crs=LATTICE_CRS,
    )
    plan_path = tmp_path / "控规.gpkg"
    plots.to_file(plan_path)
    districts = gpd.GeoDataFrame(
        {"district_id": ["新区A", "新区B"], "name": ["西区", "东区"]},
        geometry=[box(0, 0, 500, 1000), box(500, 0, 500, 1000)],
        crs=LATTICE_CRS,
    )
    districts_path = tmp_path / "districts.geojson"
    districts.to_crs("EPSG:4326").to_file(districts_path, driver="GeoJSON")
    whole = tmp_path / "whole.geojson"
    gpd.GeoDataFrame(
        {"district_id": ["新区"], "name": ["示范新区"]},
        geometry=[box(0, 0, 1000, 1000)],
        crs=LATTICE_CRS,
    ).to_crs("EPSG:4326").to_file(whole, driver="GeoJSON")
    return {"roads": roads, "plan": plan_path, "districts": districts_path, "whole": whole}


def test_plots_give_floor_area_households_and_facilities(plan: dict[str, Path]) -> None:
    frame = gpd.read_file(plan["plan"])
    assert is_regulatory_plan(list(frame.columns))
    plots = plan_plots(frame).plots.set_index("plot_id")
    assert plots.loc["A-01", "floor_area_m2"] == pytest.approx(25_000.0)
    assert plots.loc["A-01", "households"] == pytest.approx(HH_A)
    assert plots.loc["B-01", "site_area_m2"] == pytest.approx(8_000.0)  # 0.8 公顷
    assert plots.loc["B-01", "households"] == pytest.approx(HH_B)
    assert list(plots["kind"]) == ["residential", "residential", "facility", "facility", "other"]
    assert load_plan_codes().floor_area_per_household_m2 == pytest.approx(36.52 * 2.62, abs=0.01)

    with pytest.warns(
        UserWarning, match=r"2 residential plot\(s\), 41,000 m² .*421.3 households at 95.68 m²"
    ):
        residents = read_residents(plan["plan"])
    assert residents["households"].sum() == pytest.approx(HH_A + HH_B)
    assert residents["population"].sum() == pytest.approx((HH_A + HH_B) * 2.62)
    assert set(residents["area_type"]) == {"new"}
    with pytest.warns(UserWarning, match=r"1 plot\(s\) are neither housing .*G1 x1"):
        facilities = read_inventory(plan["plan"], load_categories())
    assert facilities[["category", "floor_area_m2", "places"]].to_dict("list") == {
        "category": ["elderly_daycare", "childcare"],
        "floor_area_m2": [500.0, 600.0],
        "places": [pytest.approx(float("nan"), nan_ok=True), 60.0],
    }
    assert set(facilities["source"]) == {"proposed"}


def test_bad_plots_are_named(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {
            "地块编号": ["X1", "X2"],
            "用地性质": ["R2", "R2"],
            "用地面积": [5.0, 3.0],
            "容积率": [None, 2.0],
        },
        geometry=[box(0, 0, 100, 100), box(200, 0, 100, 100)],
        crs=LATTICE_CRS,
    )
    with pytest.raises(InputError, match=r"plot 1 \(X1\), column '容积率': residential plot R2"):
        plan_plots(frame)
    frame["容积率"] = [2.0, 2.0]
    with pytest.raises(InputError, match="looks like hectares"):
        plan_plots(frame)


def test_bad_plots_are_named_in_chinese() -> None:
    frame = gpd.GeoDataFrame(
        {
            "地块编号": ["X1", "X2", "X3"],
            "用地性质": ["R2", "二类居住用地", "G1"],
            "用地面积": [10000.0, 8000.0, 2000.0],
            "容积率": [None, 45.0, None],
        },
        geometry=[box(0, 0, 100, 100), box(200, 0, 100, 80), box(400, 0, 40, 50)],
        crs=LATTICE_CRS,
    )
    with pytest.raises(InputError) as caught:
        plan_plots(frame, source="控规.gpkg")
    english = str(caught.value)
    assert english.startswith("控规.gpkg: 2 problem(s) in the regulatory plan's plot table")
    assert "plot 1 (X1), column '容积率': residential plot R2 without a plot ratio" in english
    assert "plot 2 (X2), column '容积率': plot ratio 45 is not between 0 and 30" in english
    chinese = assert_chinese_error(caught.value)
    assert chinese.startswith(
        "控规.gpkg：控规地块表中有 2 个问题（地块按文件中的顺序从 1 开始编号）"
    )
    assert "第 1 个地块（X1），'容积率' 列：居住地块 R2 没有容积率或建筑面积" in chinese
    assert "第 2 个地块（X2），'容积率' 列：容积率 45 不在 0 到 30 之间" in chinese

    frame["容积率"] = [2.0, 2.0, None]
    frame["用地面积"] = [1.0, 0.8, 0.2]  # hectares under a column that says nothing
    with pytest.raises(InputError) as caught:
        plan_plots(frame, source="控规.gpkg")
    english = str(caught.value)
    assert "2 residential plot(s) have a site area under 100 m² (e.g. plot X1: 1)" in english
    assert "the column '用地面积' looks like hectares" in english
    chinese = assert_chinese_error(caught.value)
    assert (
        "2 个居住地块的用地面积小于 100 平方米（如地块 X1：1）；'用地面积' 列似乎以公顷为单位"
        in chinese
    )

    with pytest.raises(InputError) as caught:
        plan_plots(frame.set_crs(None, allow_override=True), source="控规.gpkg")
    assert "控规.gpkg: the plots have no coordinate reference system" in str(caught.value)
    assert "控规.gpkg：地块没有坐标参考系（CRS）" in assert_chinese_error(caught.value, {"QGIS"})


def test_a_plan_without_housing_speaks_chinese() -> None:
    frame = gpd.GeoDataFrame(
        {"地块编号": ["G-01", "G-02", "X-01"], "用地性质": ["G1", "G1", None]},
        geometry=[box(0, 0, 100, 100), box(200, 0, 100, 100), box(400, 0, 50, 50)],
        crs=LATTICE_CRS,
    )
    with pytest.raises(InputError) as caught:
        residents_from_plan(frame, source="绿地.gpkg")
    english = str(caught.value)
    assert "绿地.gpkg: no residential plot (land uses found: G1, (no land use))" in english
    chinese = assert_chinese_error(caught.value)
    assert "绿地.gpkg：没有居住地块（现有用地性质：G1、（无用地性质））" in chinese
    with pytest.warns(RadiusWarning, match="neither housing") as caught_warnings:
        facilities = facilities_from_plan(frame, load_categories(), source="绿地.gpkg")
    assert len(facilities) == 0
    note = message_of(caught_warnings[0].message)
    assert isinstance(note, Message)
    assert "3 plot(s) are neither housing nor a facility" in note
    assert "G1 x2, (no land use) x1" in note
    chinese = note.text("zh")
    assert "G1 x2、（无用地性质） x1" in chinese
    assert english_words(chinese) == [], chinese


def _sheet(path: Path, sheet: str) -> list[dict[str, object]]:
    rows = list(openpyxl.load_workbook(path, read_only=True)[sheet].iter_rows(values_only=True))
    return [dict(zip([str(h) for h in rows[0]], row, strict=True)) for row in rows[1:]]


def test_radius_analyze_from_the_plan(
    plan: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "analyze",
            "--network", str(plan["roads"]),
            "--population", str(plan["plan"]),
            "--facilities", str(plan["plan"]),
            "--districts", str(plan["whole"]),
            "--categories", "elderly_daycare,childcare",
            # the room serves within 5 minutes (GB 50180 tier), too far for 2SFCA here:
            # count the supply planned inside the 新区 (配建)
            "--method", "inside",
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    row = _sheet(out / "provision.xlsx", "社区养老服务用房（每百户建筑面积）")[0]
    assert row["户数"] == pytest.approx(HH_A + HH_B, abs=0.05)
    assert row["常住人口"] == pytest.approx((HH_A + HH_B) * 2.62, abs=0.05)
    # 30 m² per 100 households in a new area (the national profile): 126.4 m² for 421.3 户.
    assert row["需求（m²）"] == pytest.approx(0.3 * (HH_A + HH_B), abs=0.05)
    assert row["供给（m²）"] == pytest.approx(500.0)
    facilities = gpd.read_file(out / "results.gpkg", layer="facilities")
    assert sorted(facilities["category"]) == ["childcare", "elderly_daycare"]


def test_radius_batch_of_new_districts_from_the_plan(plan: dict[str, Path], tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(
        yaml.safe_dump(
            {
                "name": "新区 控规",
                "network": str(plan["roads"]),
                "districts": str(plan["districts"]),
                "area_type": "new",
                "residents": str(plan["plan"]),
                "facilities": {"planned": str(plan["plan"])},
                "categories": ["elderly_daycare", "childcare"],
                "outputs": ["xlsx", "summary"],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    out = tmp_path / "batch"
    report = run_batch(job, out, progress=False)
    assert {d.district_id: d.status for d in report.districts} == {"新区A": "ok", "新区B": "ok"}
    combined = report.combined.set_index("district_id")
    assert combined.loc["新区A", "households"] == pytest.approx(HH_A, abs=0.05)
    assert combined.loc["新区B", "households"] == pytest.approx(HH_B, abs=0.05)
    summary = json.loads((out / "batch_summary.json").read_text(encoding="utf-8"))
    assert summary["ok"] == 2


def test_the_floor_area_source_and_an_unnamed_table_read_in_either_language(
    plan: dict[str, Path],
) -> None:
    """Where the floor area per household comes from is a message (the census derivation of
    configs/plan_codes.yaml, in Chinese from its sources_zh; or the value given), and a
    frame given without ``source`` is "the plot table", 传入的地块表."""
    frame = gpd.read_file(plan["plan"])
    source = plan_plots(frame).floor_area_source
    assert isinstance(source, Message)
    assert source.startswith("95.68 m²/household: Derived from the Seventh National Population")
    chinese = source.text("zh")
    assert chinese.startswith("户均建筑面积 95.68 平方米：由第七次全国人口普查（2020）推算")
    assert english_words(chinese) == [], chinese
    given = plan_plots(frame, floor_area_per_household_m2=100.0).floor_area_source
    assert given == "100 m²/household as given"
    assert given.text("zh") == "户均建筑面积 100 平方米（调用时给出）"

    with pytest.warns(RadiusWarning, match="residential plot") as caught_warnings:
        residents_from_plan(frame)
    (note,) = [message_of(w.message) for w in caught_warnings if "residential" in str(w.message)]
    assert isinstance(note, Message)
    assert note.startswith("the plot table: 2 residential plot(s), 41,000 m² of floor area")
    assert note.text("zh").startswith("传入的地块表：2 个居住地块")
    assert english_words(note.text("zh")) == [], note.text("zh")
    with pytest.raises(InputError) as caught:
        plan_plots(frame.set_crs(None, allow_override=True))
    assert str(caught.value).startswith("the plot table: the plots have no coordinate")
    assert assert_chinese_error(caught.value, {"QGIS"}).startswith(
        "传入的地块表：地块没有坐标参考系"
    )
