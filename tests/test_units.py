"""The planner's units and demand groups on a hand-worked case, and the default units.

The case: a street lattice with 100 m blocks, x 0–2,200 m and y 0–600 m (UTM 51N). Two
communities of one 街道 S1 give their statistics: C1 (x 0–600) 3,000 residents, 1,000
households, 600 aged 60+; C2 (x 1,600–2,200) 2,000 residents, 800 households, 500 aged 60+.
A third community C3 (x 2,300–2,600, in 街道 S2) has no residents. The units' figures are
spread over a 50 m grid of their land (no buildings in the network file). An elderly-care
centre at (300, 300) in C1 (400 m², 30 beds) and a supermarket at (1,900, 300) in C2; with
the standard's walking distances (15 min = 1,000 m) the centre reaches every point of C1 and
none of C2 (at least 1,000 m of street further), the supermarket all of C2 and none of C1.

Hand figures, rule by rule:

- households rule, 30 m² per 100 households: C1 needs 300 m² and gets the centre's 400 m²
  (2SFCA: its whole catchment is C1) -> pass; C2 needs 240 m², gets 0 -> fail, shortfall 240.
- aged 60+ rule, 40 beds per 1,000 aged 60+: C1 needs 24, gets 30 -> pass; C2 needs 20,
  gets 0 -> fail.
- residents rule, 90 % of residents within 15 min of a supermarket: C1 0 % -> fail (needs
  2,700 covered); C2 100 % -> pass (2,000 of 1,800 needed).
- aged 60+ circle, 90 % of the 60+ within 15 min of elderly care: C1 600 of 600 -> pass; C2
  0 of 500 -> fail.
- C3 is not applicable for every rule; every attainment rate is 1 of 2 = 50 %.
- unit shares: 50 % of communities meeting the elderly circle (target 50) -> pass; every
  街道 holding an elderly-care facility: S1 yes, S2 not applicable -> 100 % -> pass.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from radius.groups import GROUP_IDS, complete_groups, load_demand_groups
from radius.pipeline import AnalyzeConfig, ReachConfig, analyze, load_analysis_inputs
from radius.plausibility import check_building_estimate
from radius.population import residents_from_points
from radius.units import cover_residents, read_units, spread_unit_totals
from tests.conftest import shared_file
from tests.language_checks import assert_chinese_error, english_words

UTM51 = "EPSG:32651"
X0, Y0 = 350_000.0, 3_450_000.0

PROFILE = """
name_zh: 手算
name_en: Hand-worked
levels:
  - id: 15min
    name_zh: 十五分钟
    name_en: 15 minutes
    walk_m: {min: 1000, max: 1000}
    residents: {min: 0, max: 100000}
    households: {min: 0, max: 40000}
    source: {document: test}
    status: assumed
rules:
  - id: rooms_per_100hh
    name_zh: 每百户养老用房
    name_en: Elderly rooms per 100 households
    category: elderly_care
    metric: per_100_households
    supply: floor_area_m2
    value_new: 30
    value_old: 30
    unit: m² per 100 households
    level: 15min
    threshold: 15min
    source: {document: test}
    status: assumed
  - id: beds_per_1000_aged
    name_zh: 每千名老年人床位
    name_en: Beds per 1,000 aged 60+
    category: elderly_care
    metric: per_1000
    group: aged_60_plus
    supply: beds
    value_new: 40
    value_old: 40
    unit: beds per 1,000 aged 60+
    level: 15min
    threshold: 15min
    source: {document: test}
    status: assumed
  - id: supermarket_circle
    name_zh: 超市覆盖
    name_en: Supermarket circle
    category: supermarket
    metric: coverage
    supply: facilities
    value_new: 90
    value_old: 90
    unit: "% of residents"
    level: 15min
    threshold: 15min
    source: {document: test}
    status: assumed
  - id: elderly_circle
    name_zh: 养老服务圈
    name_en: Elderly circle
    category: elderly_care
    metric: coverage
    group: aged_60_plus
    supply: facilities
    value_new: 90
    value_old: 90
    unit: "% of residents aged 60+"
    level: 15min
    threshold: 15min
    source: {document: test}
    status: assumed
  - id: communities_in_circle
    name_zh: 社区养老服务圈覆盖率
    name_en: Communities in the elderly circle
    category: elderly_care
    metric: unit_share
    supply: units
    unit_level: community
    of_rule: elderly_circle
    value_new: 50
    value_old: 50
    unit: "% of communities"
    level: 15min
    threshold: 15min
    source: {document: test}
    status: assumed
  - id: subdistricts_with_centre
    name_zh: 街道养老服务中心
    name_en: Sub-districts with an elderly-care centre
    category: elderly_care
    metric: unit_share
    supply: units
    unit_level: subdistrict
    presence: elderly_care
    value_new: 100
    value_old: 100
    unit: "% of sub-districts"
    level: 15min
    source: {document: test}
    status: assumed
"""


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def lattice_file(path: Path, columns: int, rows: int, spacing: float = 100.0) -> Path:
    lines = []
    for i in range(columns):
        for j in range(rows):
            x, y = X0 + i * spacing, Y0 + j * spacing
            if i + 1 < columns:
                lines.append(shapely.LineString([(x, y), (x + spacing, y)]))
            if j + 1 < rows:
                lines.append(shapely.LineString([(x, y), (x, y + spacing)]))
    frame = gpd.GeoDataFrame({"highway": ["residential"] * len(lines)}, geometry=lines, crs=UTM51)
    frame.to_file(path, driver="GPKG")
    return path


@pytest.fixture
def hand_case(tmp_path: Path) -> AnalyzeConfig:
    network = lattice_file(tmp_path / "streets.gpkg", 23, 7)
    communities = gpd.GeoDataFrame(
        {
            "编号": ["C1", "C2", "C3"],
            "社区名称": ["一社区", "二社区", "三社区"],
            "常住人口": [3000, 2000, 0],
            "户数": [1000, 800, 0],
            "60岁及以上人口": [600, 500, 0],
        },
        geometry=[box(0, 0, 600, 600), box(1600, 0, 2200, 600), box(2300, 0, 2600, 600)],
        crs=UTM51,
    )
    communities.to_file(tmp_path / "communities.geojson", driver="GeoJSON")
    subdistricts = gpd.GeoDataFrame(
        {"编号": ["S1", "S2"], "街道名称": ["甲街道", "乙街道"]},
        geometry=[box(-50, -50, 2250, 650), box(2250, -50, 2700, 650)],
        crs=UTM51,
    )
    subdistricts.to_file(tmp_path / "subdistricts.geojson", driver="GeoJSON")
    at = gpd.GeoSeries(
        [shapely.Point(X0 + 300, Y0 + 300), shapely.Point(X0 + 1900, Y0 + 300)], crs=UTM51
    ).to_crs("EPSG:4326")
    pd.DataFrame(
        {
            "name": ["养老服务中心", "超市"],
            "category": ["elderly_care", "supermarket"],
            "lon": at.x,
            "lat": at.y,
            "floor_area_m2": [400, None],
            "beds": [30, None],
        }
    ).to_csv(tmp_path / "facilities.csv", index=False)
    (tmp_path / "hand.yaml").write_text(PROFILE, encoding="utf-8")
    return AnalyzeConfig(
        reach=ReachConfig(
            network=network,
            facilities=tmp_path / "facilities.csv",
            categories=("elderly_care", "supermarket"),
            threshold_basis="distance",
            service_areas=False,
        ),
        districts=tmp_path / "communities.geojson",
        subdistricts=tmp_path / "subdistricts.geojson",
        standard=str(tmp_path / "hand.yaml"),
    )


def test_hand_worked_communities_give_the_hand_figures(hand_case: AnalyzeConfig) -> None:
    inputs = load_analysis_inputs(hand_case)
    with pytest.warns(UserWarning, match="hold no residents"):  # C3 and S2
        result = analyze(inputs, hand_case)
    units = result.districts.set_index("district_id")
    # The units' statistics are kept exactly by the dasymetric spreading.
    assert units.loc["C1", ["population", "households", "aged_60_plus"]].tolist() == (
        pytest.approx([3000, 1000, 600])
    )
    assert units.loc["C2", ["population", "households", "aged_60_plus"]].tolist() == (
        pytest.approx([2000, 800, 500])
    )
    assert units.loc["C3", "population"] == 0
    assert units.loc["C1", "parent_id"] == "S1"
    assert units.loc["C3", "parent_id"] == "S2"
    assert result.group_sources["aged_60_plus"].origin == "input"
    # households rule
    assert units.loc["C1", "rooms_per_100hh_required"] == pytest.approx(300)
    assert units.loc["C1", "rooms_per_100hh_supplied"] == pytest.approx(400)
    assert units.loc["C1", "rooms_per_100hh_supplied_access"] == pytest.approx(400)
    assert units.loc["C1", "rooms_per_100hh_supplied_inside"] == pytest.approx(400)
    assert units.loc["C2", "rooms_per_100hh_required"] == pytest.approx(240)
    assert units.loc["C2", "rooms_per_100hh_shortfall"] == pytest.approx(240)
    # aged 60+ ratio rule
    assert units.loc["C1", "beds_per_1000_aged_required"] == pytest.approx(24)
    assert units.loc["C1", "beds_per_1000_aged_supplied"] == pytest.approx(30)
    assert units.loc["C2", "beds_per_1000_aged_required"] == pytest.approx(20)
    assert units.loc["C2", "beds_per_1000_aged_supplied"] == pytest.approx(0)
    # residents rule
    assert units.loc["C1", "supermarket_circle_required"] == pytest.approx(2700)
    assert units.loc["C1", "supermarket_circle_share"] == pytest.approx(0)
    assert units.loc["C2", "supermarket_circle_supplied"] == pytest.approx(2000)
    assert units.loc["C2", "supermarket_circle_share"] == pytest.approx(100)
    # aged 60+ circle
    assert units.loc["C1", "elderly_circle_supplied"] == pytest.approx(600)
    assert units.loc["C2", "elderly_circle_required"] == pytest.approx(450)
    assert units.loc["C2", "elderly_circle_supplied"] == pytest.approx(0)
    verdicts = {
        rule: units[f"{rule}_verdict"].to_dict()
        for rule in (
            "rooms_per_100hh",
            "beds_per_1000_aged",
            "supermarket_circle",
            "elderly_circle",
        )
    }
    assert verdicts == {
        "rooms_per_100hh": {"C1": "pass", "C2": "fail", "C3": "not_applicable"},
        "beds_per_1000_aged": {"C1": "pass", "C2": "fail", "C3": "not_applicable"},
        "supermarket_circle": {"C1": "fail", "C2": "pass", "C3": "not_applicable"},
        "elderly_circle": {"C1": "pass", "C2": "fail", "C3": "not_applicable"},
    }
    assert not units.loc["C3", [f"{r}_pass" for r in verdicts]].any()  # never a pass
    summary = result.summary()
    for rule in verdicts:
        item = summary["rules"][rule]
        assert (item["districts_passing"], item["districts_applicable"]) == (1, 2)
        assert item["districts_not_applicable"] == 1
        assert item["attainment_rate"] == 50.0
    assert summary["share_of_group_within"]["elderly_circle"]["share"] == pytest.approx(
        600 / 1100, abs=1e-4
    )
    shares = summary["unit_shares"]
    assert shares["communities_in_circle"]["meeting"] == 1
    assert shares["communities_in_circle"]["applicable"] == 2
    assert shares["communities_in_circle"]["share"] == 50.0
    assert shares["communities_in_circle"]["verdict"] == "pass"
    assert shares["subdistricts_with_centre"]["applicable"] == 1  # S2 has nobody
    assert shares["subdistricts_with_centre"]["not_applicable"] == 1
    assert shares["subdistricts_with_centre"]["share"] == 100.0
    assert summary["units"]["residents_outside"] == 0
    sub = result.subdistricts
    assert sub is not None
    assert sub.set_index("district_id").loc["S1", "population"] == pytest.approx(5000)
    # The workbook: attainment rates, unit shares, verdicts with 不适用, both supplies.
    from radius.report import provision_sheets

    sheets = provision_sheets(result)
    assert list(sheets)[:2] == ["规则 Rules", "达标率 Attainment"]
    rates = sheets["达标率 Attainment"]
    units_rows = rates[rates["单位层级 Unit level"] == "社区/单元 units"]
    assert set(units_rows["达标率 Attainment rate (%)"]) == {50.0}
    assert set(units_rows["不适用 Not applicable"]) == {1}
    sheet = sheets["rooms_per_100hh"].set_index("区域编号 District ID")
    assert sheet.loc["C3", "是否达标 Pass"] == "不适用 not applicable"
    assert sheet.loc["C1", "单位内配建 Supply inside the unit (m²)"] == pytest.approx(400)
    assert sheet.loc["C1", "可达供给 Accessible supply, 2SFCA (m²)"] == pytest.approx(400)
    assert "单位占比 Unit shares" in sheets
    # The report: the attainment table in the summary, the units in the data section.
    from radius.report_document import build_report, render_html

    html = render_html(build_report(result, lang="zh", maps=False))
    assert "各规则单位达标率" in html
    assert "1/2" in html
    assert "个社区单元" in html
    assert "community unit(s)" not in html


def test_groups_are_data_with_sources() -> None:
    groups = load_demand_groups()
    assert set(GROUP_IDS) <= set(groups.ids)
    aliases = groups.aliases()
    assert aliases["常住人口"] == "population"
    assert aliases["户数"] == "households"
    assert aliases["60岁及以上人口"] == "aged_60_plus"
    assert aliases["0-3岁人口"] == "aged_0_3"
    for gid in ("aged_60_plus", "aged_65_plus", "aged_0_3", "aged_3_6", "disabled"):
        group = groups.group(gid)
        assert group.share is not None
        assert group.share_source
    assert groups.group("aged_60_plus").speed_profile == "elderly"


def test_group_columns_from_points_and_shares(tmp_path: Path) -> None:
    table = tmp_path / "points.csv"
    table.write_text(
        "编号,经度,纬度,常住人口,60岁及以上人口\na,118.78,32.04,100,30\nb,118.79,32.04,50,\n",
        encoding="utf-8",
    )
    residents = residents_from_points(table)
    assert np.isnan(residents["aged_60_plus"].iloc[1])
    completed, sources = complete_groups(residents)
    assert completed["aged_60_plus"].tolist() == pytest.approx([30, 50 * 0.187])
    assert sources["aged_60_plus"].origin == "partly_share"
    assert sources["aged_0_3"].origin == "share"
    assert sources["aged_0_3"].estimated
    assert completed["aged_0_3"].tolist() == pytest.approx([100 * 0.0297, 50 * 0.0297])


def test_units_reject_bad_statistics(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"编号": ["C1", "C2"], "常住人口": ["many", -3]},
        geometry=[box(0, 0, 100, 100), box(200, 0, 300, 100)],
        crs=UTM51,
    )
    frame.to_file(tmp_path / "bad.geojson", driver="GeoJSON")
    with pytest.raises(Exception, match=r"feature 1, column '常住人口'.*not a number") as info:
        read_units(tmp_path / "bad.geojson")
    assert "feature 2" in str(info.value)
    assert "negative" in str(info.value)


def test_spreading_keeps_unit_totals_over_weights() -> None:
    units = read_units_frame()
    points = gpd.GeoDataFrame(
        {
            "resident_id": ["a", "b", "c"],
            "population": [10.0, 30.0, 5.0],
            "households": [4.0, 12.0, 2.0],
            "source": ["building"] * 3,
            "area_type": [""] * 3,
        },
        geometry=[
            shapely.Point(X0 + 10, Y0 + 10),
            shapely.Point(X0 + 50, Y0 + 50),
            shapely.Point(X0 + 5000, Y0 + 5000),  # outside every unit: kept as it is
        ],
        crs=UTM51,
    ).to_crs("EPSG:4326")
    spread, notes = spread_unit_totals(points, units)
    assert spread["population"].tolist()[:3] == pytest.approx([100, 300, 5])
    assert spread["aged_60_plus"].tolist()[:2] == pytest.approx([20, 60])
    assert np.isnan(spread["aged_60_plus"].iloc[2])
    # U2 has figures but no point: a grid over its land carries them.
    land = spread[spread["resident_id"].str.startswith("unit/U2/")]
    assert len(land) > 0
    assert land["population"].sum() == pytest.approx(50)
    assert notes


def read_units_frame() -> gpd.GeoDataFrame:
    from radius.units import units_from_frame

    return units_from_frame(
        gpd.GeoDataFrame(
            {"id": ["U1", "U2"], "population": [400, 50], "60岁及以上人口": [80, None]},
            geometry=[box(0, 0, 100, 100), box(200, 0, 300, 100)],
            crs=UTM51,
        )
    )


def test_cover_residents_leaves_nobody_outside() -> None:
    blocks = read_units_frame()[["district_id", "name", "area_type", "kind", "geometry"]]
    blocks = blocks.assign(kind="block")
    residents = gpd.GeoDataFrame(
        {"population": [1.0, 2.0, 3.0]},
        geometry=[
            shapely.Point(X0 + 50, Y0 + 50),
            shapely.Point(X0 + 150, Y0 + 50),
            shapely.Point(X0 + 900, Y0 + 900),
        ],
        crs=UTM51,
    ).to_crs("EPSG:4326")
    units, note = cover_residents(blocks, residents)
    assert (units["kind"] == "remainder").sum() == 1
    assert "2 resident point(s)" in note
    assert "every resident lies in one unit" in note
    from radius.districts import assign_residents

    assert (assign_residents(residents, units) != "").all()


# The extracts' data-quality warnings (islands, buildings without levels) are not the point.
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", ["cn_nanjing_xinjiekou.osm", "cn_beijing_haidian_cau.osm"])
def test_default_units_hold_every_resident(name: str) -> None:
    path = shared_file(name)
    config = AnalyzeConfig(
        reach=ReachConfig(network=path, categories=("supermarket",), service_areas=False)
    )
    inputs = load_analysis_inputs(config)
    from radius.demand import units_summary

    summary = units_summary(inputs.residents, inputs.districts, inputs.units_note)
    assert summary["points_outside"] == 0
    assert summary["residents_outside"] == 0
    assert "every resident lies in one unit" in inputs.units_note or (
        "every resident lies in one of them" in inputs.units_note
    )
    assert inputs.plausibility is not None
    assert inputs.plausibility.residents_per_km2 > 0


def test_plausibility_warns_in_a_planners_words() -> None:
    low = check_building_estimate(
        7205, 9.34, {"residential_buildings": 88, "without_levels": 82, "other_buildings": 1189}
    )
    assert low.residents_per_km2 == pytest.approx(7205 / 9.34)
    assert len(low.warnings) == 3
    assert "常住人口" in low.messages("zh")[0]
    assert "per km²" in low.warnings[0]
    fine = check_building_estimate(
        40_000, 2.0, {"residential_buildings": 100, "without_levels": 10, "other_buildings": 20}
    )
    assert fine.warnings == []


@pytest.mark.slow
def test_wuhan_rasters_give_the_elderly_circle_its_elderly(tmp_path: Path) -> None:
    """The real WorldPop 60+ bands of Wuhan on a synthetic street lattice over Wuhan.

    The rasters overlap no OSM extract, so the streets are a 2 km × 2 km lattice with 100 m
    blocks laid out in UTM 50N at 114.30 E, 30.58 N (central Wuchang); one community unit
    of 20,000 residents covers it and an elderly-care centre stands at its centre.
    """
    folder = shared_file("worldpop_wuhan_age60plus")
    bands = sorted(folder.glob("pop_*_wuhan.tif"))
    assert len(bands) == 10
    import pyproj

    x0, y0 = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True).transform(
        114.30, 30.58
    )
    lines = []
    for i in range(21):
        for j in range(21):
            x, y = x0 + 100 * i, y0 + 100 * j
            if i < 20:
                lines.append(shapely.LineString([(x, y), (x + 100, y)]))
            if j < 20:
                lines.append(shapely.LineString([(x, y), (x, y + 100)]))
    gpd.GeoDataFrame(
        {"highway": ["residential"] * len(lines)}, geometry=lines, crs="EPSG:32650"
    ).to_file(tmp_path / "wuhan.gpkg", driver="GPKG")
    gpd.GeoDataFrame(
        {"编号": ["W1"], "常住人口": [20_000]},
        geometry=[shapely.box(x0, y0, x0 + 2000, y0 + 2000)],
        crs="EPSG:32650",
    ).to_file(tmp_path / "community.geojson", driver="GeoJSON")
    centre = gpd.GeoSeries([shapely.Point(x0 + 1000, y0 + 1000)], crs="EPSG:32650").to_crs(
        "EPSG:4326"
    )
    pd.DataFrame(
        {
            "name": ["养老服务中心"],
            "category": ["elderly_care"],
            "lon": centre.x,
            "lat": centre.y,
            "floor_area_m2": [500],
            "beds": [40],
        }
    ).to_csv(tmp_path / "facilities.csv", index=False)
    (tmp_path / "hand.yaml").write_text(PROFILE, encoding="utf-8")
    config = AnalyzeConfig(
        reach=ReachConfig(
            network=tmp_path / "wuhan.gpkg",
            facilities=tmp_path / "facilities.csv",
            categories=("elderly_care", "supermarket"),
            threshold_basis="distance",
            service_areas=False,
        ),
        districts=tmp_path / "community.geojson",
        group_rasters=(("aged_60_plus", tuple(bands)),),
        standard=str(tmp_path / "hand.yaml"),
    )
    inputs = load_analysis_inputs(config)
    with pytest.warns(UserWarning, match="'supermarket' has no facilities"):
        result = analyze(inputs, config)
    assert result.group_sources["aged_60_plus"].origin == "raster"
    residents = result.residents
    elderly = residents["aged_60_plus"].to_numpy()
    # Not a share of residents: the raster's own elderly, unevenly spread.
    assert elderly.sum() > 0
    assert not np.allclose(elderly, residents["population"].to_numpy() * 0.187)
    from radius.population import residents_from_raster

    west, south, east, north = residents.total_bounds
    pixels = residents_from_raster(
        bands, bbox=(west - 0.002, south - 0.002, east + 0.002, north + 0.002)
    )
    # Kept whole: every pixel nearest to a resident point (empty pixels are absent, so that
    # may be far), and every other pixel within 1.5 pixel spacings of a resident point.
    from scipy.spatial import cKDTree

    xy_res = shapely.get_coordinates(residents.geometry.to_crs("EPSG:32650").to_numpy())
    xy_pix = shapely.get_coordinates(pixels.geometry.to_crs("EPSG:32650").to_numpy())
    pairs = np.asarray(cKDTree(xy_pix).query(xy_pix, k=2)[0], dtype=np.float64)
    spacing = float(np.median(pairs[:, 1]))
    near = np.asarray(cKDTree(xy_res).query(xy_pix)[0], dtype=np.float64) <= 1.5 * spacing
    near[np.asarray(cKDTree(xy_pix).query(xy_res)[1], dtype=np.int64)] = True
    assert 70 < spacing < 100  # WorldPop's 3-arc-second pixel: about 80 m east-west at 30.6° N
    assert elderly.sum() == pytest.approx(pixels["population"].to_numpy()[near].sum(), rel=1e-9)
    covered = residents["elderly_care_covered_15min"].to_numpy(dtype=bool)
    share = result.summary()["share_of_group_within"]["elderly_circle"]
    assert share["group"] == "aged_60_plus"
    assert not share["estimated_from_share"]
    assert share["share"] == pytest.approx(elderly[covered].sum() / elderly.sum(), abs=1e-4)
    unit = result.districts.iloc[0]
    assert unit["elderly_circle_required"] == pytest.approx(0.9 * elderly.sum(), rel=1e-6)
    assert unit["beds_per_1000_aged_required"] == pytest.approx(40 * elderly.sum() / 1000, rel=1e-6)


def test_sample_community_table_runs_from_the_command_line(tmp_path: Path) -> None:
    """examples/: two communities of one 街道 with statistics and a business quarter."""
    import json

    from radius.cli import main

    examples = Path(__file__).resolve().parent.parent / "examples"
    units = read_units(examples / "communities_xinjiekou.geojson")
    assert units["population"].tolist() == [9800, 7400, 0]
    assert np.isnan(units["aged_0_3"].iloc[1])
    out = tmp_path / "out"
    code = main(
        [
            "analyze",
            "--districts",
            str(examples / "communities_xinjiekou.geojson"),
            "--subdistricts",
            str(examples / "subdistricts_xinjiekou.geojson"),
            "--categories",
            "supermarket,fitness",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    item = summary["rules"]["supermarket_within_15min"]
    assert (item["districts_applicable"], item["districts_not_applicable"]) == (2, 1)
    assert summary["residents"]["groups"]["aged_60_plus"]["origin"] == "partly_share"
    districts = gpd.read_file(out / "results.gpkg", layer="districts").set_index("district_id")
    assert districts.loc["C1", "aged_60_plus"] == pytest.approx(2150)
    assert districts.loc["C3", "supermarket_within_15min_verdict"] == "not_applicable"
    assert districts.loc["C1", "parent_id"] == "S1"


# --------------------------------------------------------------------------------------
# Errors and warnings of the units and the demand groups file in one language (#14)
# --------------------------------------------------------------------------------------


def test_units_problems_read_in_chinese(tmp_path: Path) -> None:
    from radius._errors import InputError
    from radius.units import units_from_frame

    frame = gpd.GeoDataFrame(
        {"编号": ["C1", "C2"], "常住人口": ["many", -3]},
        geometry=[box(0, 0, 100, 100), box(200, 0, 300, 100)],
        crs=UTM51,
    )
    frame.to_file(tmp_path / "bad.geojson", driver="GeoJSON")
    with pytest.raises(InputError) as info:
        read_units(tmp_path / "bad.geojson")
    english = str(info.value)
    assert "feature 1, column '常住人口' (population): 'many' is not a number" in english
    assert "enter the unit's count as a plain number" in english
    assert "feature 2, column '常住人口' (population): -3 is negative" in english
    chinese = assert_chinese_error(info.value)
    assert "第 1 个要素，'常住人口'（人口） 列：'many' 不是数字" in chinese
    assert "第 2 个要素，'常住人口'（人口） 列：-3 是负数" in chinese

    with pytest.raises(InputError) as info:
        units_from_frame(frame)  # no source: "units", 传入的单元数据
    assert str(info.value).startswith("units: 2 problem(s) in the residents data:")
    assert assert_chinese_error(info.value).startswith("传入的单元数据：居民数据有 2 个问题：")

    with pytest.raises(InputError, match=r"units file not found; check the path") as info:
        read_units(tmp_path / "missing.gpkg")
    assert "找不到社区/街道单元文件" in assert_chinese_error(info.value)
    with pytest.raises(InputError, match=r"unit level 'street' is not one of community") as info:
        units_from_frame(frame, level="street")  # type: ignore[arg-type]
    chinese = assert_chinese_error(info.value, allowed={"community", "subdistrict", "street"})
    assert "单元层级 'street' 不是" in chinese


def test_communities_outside_subdistricts_warn_in_chinese() -> None:
    from radius.i18n import RadiusWarning
    from radius.units import nest_units

    subdistricts = gpd.GeoDataFrame(
        {"district_id": ["S1"]}, geometry=[box(0, 0, 1000, 1000)], crs=UTM51
    )
    communities = gpd.GeoDataFrame(
        {"district_id": ["C1", "C2", "C3"]},
        geometry=[box(0, 0, 500, 500), box(800, 0, 1200, 400), box(2000, 0, 2100, 100)],
        crs=UTM51,
    )
    with pytest.warns(RadiusWarning) as caught:
        parents = nest_units(communities, subdistricts)
    assert parents.tolist() == ["S1", "S1", ""]
    (note,) = [w.message.message for w in caught if isinstance(w.message, RadiusWarning)]
    assert "'C2' (50% inside), 'C3' (0% inside)" in note
    chinese = note.text("zh")
    assert "'C2'（50% 位于街道内）、'C3'（0% 位于街道内）" in chinese
    assert english_words(chinese) == []


def _groups_file(tmp_path: Path, edit: str) -> Path:
    """``configs/demand_groups.yaml`` with one thing broken (``edit``)."""
    import yaml

    source = Path(__file__).resolve().parents[1] / "configs" / "demand_groups.yaml"
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    groups = {group["id"]: group for group in data["groups"]}
    if edit == "no source":
        groups["aged_60_plus"]["share_source"] = " "
    elif edit == "missing id":
        groups["disabled"]["id"] = "handicapped"
    elif edit == "repeated id":
        data["groups"].append(dict(groups["disabled"], column="disabled_2", aliases=["dd"]))
    elif edit == "header twice":
        groups["households"]["aliases"].append("Pop")
    elif edit == "speed profile":
        groups["aged_60_plus"]["speed_profile"] = "snail"
    elif edit == "fixed column":
        groups["households"]["column"] = "homes"
    path = tmp_path / "demand_groups.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "english", "chinese"),
    [
        (
            "no source",
            "groups[2]: group aged_60_plus: a share needs its share_source",
            "人群 `aged_60_plus`：给出了占比 `share`，须同时给出其来源 `share_source`",
        ),
        (
            "missing id",
            "groups: missing the group id(s) disabled",
            "`groups`：缺少人群编号 disabled",
        ),
        (
            "repeated id",
            "groups: every id must be given once",
            "`groups`：每个人群编号只能出现一次",
        ),
        (
            "header twice",
            "groups: header 'Pop' is given for both residents and households",
            "`groups`：表头 'Pop' 同时给了 `residents` 和 `households` 两个人群",
        ),
        (
            "speed profile",
            "group aged_60_plus: unknown speed_profile 'snail'; known: adult",
            "人群 `aged_60_plus`：未知的步行速度方案（`speed_profile`）'snail'；现有方案：adult",
        ),
        (
            "fixed column",
            "group households: its column must be 'households'",
            "人群 `households`：其列（`column`）必须为 'households'",
        ),
    ],
)
def test_broken_demand_groups_file_names_the_problem_in_either_language(
    tmp_path: Path, edit: str, english: str, chinese: str
) -> None:
    from radius._errors import ConfigError
    from radius.config import load_speed_profiles

    path = _groups_file(tmp_path, edit)
    with pytest.raises(ConfigError) as info:
        load_demand_groups(path)
    assert str(info.value).startswith(str(path))
    assert english in str(info.value)
    profiles = set(load_speed_profiles().profiles)
    text_zh = assert_chinese_error(info.value, allowed={"disabled", "snail", *profiles})
    assert chinese in text_zh


def test_unknown_demand_group_reads_in_chinese() -> None:
    from radius._errors import InputError

    with pytest.raises(
        InputError, match=r"unknown demand group 'pets'; known groups: resi"
    ) as info:
        load_demand_groups().group("pets")
    chinese = assert_chinese_error(info.value, allowed={"pets", *GROUP_IDS})
    assert chinese.startswith("未知的服务人群 'pets'；现有人群：residents, households")
