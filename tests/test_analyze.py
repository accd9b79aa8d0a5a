"""`radius analyze` end to end: residents, districts, standards, shortfalls, workbook."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

from radius.cli import main
from radius.synthetic import LATTICE_CRS, LATTICE_ORIGIN

X0, Y0 = LATTICE_ORIGIN


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def sheet_rows(path: Path, sheet: str) -> list[dict[str, object]]:
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book[sheet].iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def test_analyze_default_district_writes_results(
    nanjing_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nanjing"
    code, stdout, stderr = run(
        ["analyze", "--network", str(nanjing_osm), "--out", str(out)], capsys
    )
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "provision.xlsx",
        "results.gpkg",
        "summary.json",
    ]
    layers = {name for name, _ in pyogrio.list_layers(out / "results.gpkg")}
    assert layers == {
        "residents",
        "districts",
        "facilities",
        "shortfall",
        "unroutable",
        "layer_styles",
    }
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    residents = gpd.read_file(out / "results.gpkg", layer="residents")
    # 488 residential buildings: 88 tagged so (76 residential, 11 apartments, 1 house) and
    # 400 building=yes in landuse=residential (configs/population.yaml residential_landuse).
    assert len(residents) == summary["residents"]["points"] == 488
    assert summary["plausibility"]["residential_buildings"] == 488
    assert summary["plausibility"]["landuse_buildings"] == 400
    assert summary["units"]["with_residents"] == 7  # 5 by the tagged buildings alone
    assert summary["residents"]["population"] == pytest.approx(
        residents["population"].sum(), abs=0.1
    )
    for column in (
        "district_id",
        "supermarket_dist_m",
        "supermarket_covered_15min",
        "fitness_n_10min",
        "elderly_land_per_capita_access",
    ):
        assert column in residents.columns
    share = summary["share_of_residents_within"]["supermarket"]["15min"]
    covered = residents.loc[residents["supermarket_covered_15min"].astype(bool), "population"].sum()
    assert share == pytest.approx(covered / residents["population"].sum(), abs=1e-4)
    districts = gpd.read_file(out / "results.gpkg", layer="districts")
    # 17 arterial blocks of Nanjing and one remainder unit for the residents outside them
    assert len(districts) == summary["districts"] == 18
    assert summary["units"]["residents_outside"] == 0
    assert (districts["kind"] == "remainder").sum() == 1
    for rule in (
        "elderly_rooms_per_100hh",
        "childcare_places_per_1000",
        "convenience_store_within_5min",
    ):
        for suffix in ("required", "supplied", "shortfall", "pass", "ratio"):
            assert f"{rule}_{suffix}" in districts.columns
    shortfall = gpd.read_file(out / "results.gpkg", layer="shortfall")
    uncovered = residents[~residents["convenience_store_covered_5min"].astype(bool)]
    assert (shortfall["category"] == "convenience_store").sum() == len(uncovered)
    book = openpyxl.load_workbook(out / "provision.xlsx", read_only=True)
    assert book.sheetnames[0] == "规则"
    # a Chinese workbook's tabs are the rules' Chinese names, not their (English) ids
    assert "社区养老服务用房（每百户建筑面积）" in book.sheetnames
    assert not any(re.search(r"[A-Za-z]", name) for name in book.sheetnames)
    # every rule's source is cited whole: none cut where a Latin word follows a space
    from radius.standards import load_standard

    sources = {r.id: str(r.source) for r in load_standard("national").rules}
    cited = {str(r["规则编号"]): r["依据"] for r in sheet_rows(out / "provision.xlsx", "规则")}
    assert cited == {rid: sources[rid] for rid in cited}
    rows = sheet_rows(out / "provision.xlsx", "社区养老服务用房（每百户建筑面积）")
    assert len(rows) == 18
    assert "区域编号" in rows[0]
    assert "缺口（m²）" in rows[0]
    assert "elderly_rooms_per_100hh" in stdout


@pytest.fixture
def new_district(tmp_path: Path) -> dict[str, Path]:
    """A 1 km × 1 km road plan, one plot of 2,000 households, one 500 m² elderly room."""
    lines = []
    for k in range(11):
        lines.append(shapely.LineString([(X0, Y0 + 100 * k), (X0 + 1000, Y0 + 100 * k)]))
        lines.append(shapely.LineString([(X0 + 100 * k, Y0), (X0 + 100 * k, Y0 + 1000)]))
    roads = gpd.GeoDataFrame(
        {"highway": ["residential"] * len(lines)}, geometry=lines, crs=LATTICE_CRS
    )
    roads_path = tmp_path / "roads.gpkg"
    roads.to_file(roads_path, driver="GPKG")
    plot = gpd.GeoDataFrame(
        {"id": ["p1"], "households": [2000]},
        geometry=[shapely.box(X0 + 310, Y0 + 310, X0 + 690, Y0 + 690)],
        crs=LATTICE_CRS,
    )
    plot_path = tmp_path / "plots.gpkg"
    plot.to_file(plot_path, driver="GPKG")
    district = gpd.GeoDataFrame(
        {"district_id": ["新区A"], "name": ["示范新区"], "area_type": ["新区"]},
        geometry=[shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)],
        crs=LATTICE_CRS,
    )
    district_path = tmp_path / "districts.geojson"
    district.to_crs("EPSG:4326").to_file(district_path, driver="GeoJSON")
    room = gpd.GeoDataFrame(
        {"name": ["社区养老服务站"], "category": ["社区养老服务站"], "floor_area_m2": [500.0]},
        geometry=[shapely.Point(X0 + 505, Y0 + 500)],
        crs=LATTICE_CRS,
    ).to_crs("EPSG:4326")
    room["lon"] = room.geometry.x
    room["lat"] = room.geometry.y
    inventory = tmp_path / "facilities.csv"
    pd.DataFrame(room.drop(columns="geometry")).to_csv(inventory, index=False, encoding="utf-8-sig")
    return {
        "roads": roads_path,
        "plots": plot_path,
        "districts": district_path,
        "facilities": inventory,
    }


@pytest.mark.parametrize(
    ("area_type", "required", "shortfall", "passed"),
    [(None, 600.0, 100.0, "未达标"), ("old", 400.0, 0.0, "达标")],
)
def test_new_district_of_2000_households_through_the_cli(
    new_district: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    area_type: str | None,
    required: float,
    shortfall: float,
    passed: str,
) -> None:
    out = tmp_path / f"out-{area_type}"
    argv = [
        "analyze",
        "--network",
        str(new_district["roads"]),
        "--facilities",
        str(new_district["facilities"]),
        "--population",
        str(new_district["plots"]),
        "--districts",
        str(new_district["districts"]),
        "--categories",
        "elderly_care,elderly_daycare",
        "--out",
        str(out),
    ]
    if area_type:
        argv += ["--area-type", area_type]
    code, _, stderr = run(argv, capsys)
    assert code == 0, stderr
    rows = sheet_rows(out / "provision.xlsx", "社区养老服务用房（每百户建筑面积）")
    assert len(rows) == 1
    row = rows[0]
    assert row["区域编号"] == "新区A"
    assert row["户数"] == pytest.approx(2000.0)
    assert row["常住人口"] == pytest.approx(5240.0)
    assert row["需求（m²）"] == pytest.approx(required)
    assert row["供给（m²）"] == pytest.approx(500.0)
    assert row["缺口（m²）"] == pytest.approx(shortfall)
    assert row["是否达标"] == passed
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    # Every plot point lies within 15 minutes (900 m) of the room in the middle.
    assert summary["share_of_residents_within"]["elderly_daycare"]["15min"] == 1.0
    # 0.1 m² of land per resident needs 524 m²; the room has no land area: all of it missing.
    land = gpd.read_file(out / "results.gpkg", layer="districts").iloc[0]
    assert land["elderly_land_per_capita_required"] == pytest.approx(524.0)
    assert land["elderly_land_per_capita_shortfall"] == pytest.approx(524.0)
    assert "缺少用地面积" in stderr  # the warning in the locale's language (Chinese by default)


def test_guangdong_profile_and_inside_method(
    new_district: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gd"
    code, _, stderr = run(
        [
            "analyze",
            "--network",
            str(new_district["roads"]),
            "--facilities",
            str(new_district["facilities"]),
            "--population",
            str(new_district["plots"]),
            "--districts",
            str(new_district["districts"]),
            "--categories",
            "elderly_care,elderly_daycare",
            "--standard",
            "guangdong",
            "--method",
            "inside",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, stderr
    district = gpd.read_file(out / "results.gpkg", layer="districts").iloc[0]
    # Guangdong: 20 m² per 100 households in new areas -> 400 m², met by the 500 m² room.
    assert district["elderly_rooms_per_100hh_required"] == pytest.approx(400.0)
    assert district["elderly_rooms_per_100hh_supplied"] == pytest.approx(500.0)
    assert bool(district["elderly_rooms_per_100hh_pass"])


def test_overlapping_districts_and_bad_population_fail_cleanly(
    new_district: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overlapping = gpd.GeoDataFrame(
        {"district_id": ["a", "b"]},
        geometry=[
            shapely.box(X0, Y0, X0 + 600, Y0 + 1000),
            shapely.box(X0 + 400, Y0, X0 + 1000, Y0 + 1000),
        ],
        crs=LATTICE_CRS,
    )
    path = tmp_path / "overlap.gpkg"
    overlapping.to_file(path, driver="GPKG")
    base = [
        "analyze",
        "--network",
        str(new_district["roads"]),
        "--facilities",
        str(new_district["facilities"]),
        "--categories",
        "elderly_care",
    ]
    out = tmp_path / "bad"
    code, _, stderr = run(
        [
            *base,
            "--population",
            str(new_district["plots"]),
            "--districts",
            str(path),
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 2
    assert "有 1 对区域重叠" in stderr  # no --lang, no locale: Chinese
    assert str(path) in stderr
    assert not out.exists() or not any(out.iterdir())

    negative = tmp_path / "people.csv"
    pd.DataFrame({"lon": [121.44, 121.45], "lat": [31.17, 31.17], "population": [10, -5]}).to_csv(
        negative, index=False
    )
    code, _, stderr = run([*base, "--population", str(negative), "--out", str(out)], capsys)
    assert code == 2
    assert "第 3 行，'population' 列：-5 是负数" in stderr  # no --lang, no locale: Chinese
    assert "Traceback" not in stderr

    code, _, stderr = run(
        [
            *base,
            "--population",
            str(new_district["plots"]),
            "--standard",
            "atlantis",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 2
    assert "atlantis" in stderr
    assert not out.exists() or not any(out.iterdir())


def test_worldpop_rasters_as_residents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The ten real WorldPop 60+ bands of Wuhan, summed, as residents of a road plan there."""
    import numpy as np
    import rasterio

    from tests.conftest import SHARED_DATA

    folder = SHARED_DATA / "worldpop_wuhan_age60plus"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent: the WorldPop rasters live in ../shared/data")
    bands = sorted(folder.glob("pop_*_wuhan.tif"))
    assert len(bands) == 10
    centre = gpd.GeoSeries([shapely.Point(114.30, 30.60)], crs="EPSG:4326").to_crs("EPSG:32650")
    cx, cy = float(centre.x.iloc[0]), float(centre.y.iloc[0])
    lines = []
    for k in range(11):
        lines.append(
            shapely.LineString([(cx - 1000, cy - 1000 + 200 * k), (cx + 1000, cy - 1000 + 200 * k)])
        )
        lines.append(
            shapely.LineString([(cx - 1000 + 200 * k, cy - 1000), (cx - 1000 + 200 * k, cy + 1000)])
        )
    roads = tmp_path / "wuhan_roads.geojson"
    gpd.GeoDataFrame(geometry=lines, crs="EPSG:32650").to_crs("EPSG:4326").to_file(roads)
    homes = tmp_path / "homes.csv"
    pd.DataFrame(
        {
            "name": ["养老院"],
            "category": ["elderly_care"],
            "lon": [114.30],
            "lat": [30.60],
            "beds": [120],
        }
    ).to_csv(homes, index=False)
    out = tmp_path / "wuhan"
    code, _, stderr = run(
        [
            "analyze",
            "--network",
            str(roads),
            "--facilities",
            str(homes),
            "--categories",
            "elderly_care",
            "--population",
            *map(str, bands),
            "--district-mode",
            "hexagons",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    # Independent sum: every valid pixel whose centre lies in the network's extent.
    network_box = gpd.GeoSeries(
        [shapely.box(cx - 1000, cy - 1000, cx + 1000, cy + 1000)], crs="EPSG:32650"
    ).to_crs("EPSG:4326")
    west, south, east, north = network_box.total_bounds
    expected = 0.0
    for band in bands:
        with rasterio.open(band) as src:
            values = src.read(1)
            rows, cols = np.indices(values.shape)
            xs, ys = rasterio.transform.xy(src.transform, rows.ravel(), cols.ravel())
            xs = np.asarray(xs).reshape(values.shape)
            ys = np.asarray(ys).reshape(values.shape)
            inside = (xs >= west) & (xs <= east) & (ys >= south) & (ys <= north) & (values > 0)
            expected += float(values[inside].sum(dtype=np.float64))
    assert expected > 1000
    assert summary["residents"]["population"] == pytest.approx(expected, rel=1e-4)
    # Every resident cell within 15 minutes of the home in the middle is covered; corners
    # of the 2 km plan are 2 km away along the streets: not all are covered.
    share = summary["share_of_residents_within"]["elderly_care"]["15min"]
    assert 0.0 < share < 1.0
    districts = gpd.read_file(out / "results.gpkg", layer="districts")
    assert districts["population"].sum() == pytest.approx(expected, rel=1e-4)


def test_a_nursing_home_alone_meets_the_15_minute_rule_not_the_5_minute_rooms(
    new_district: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same 2,000-household plot, but the only elderly facility in the middle is a 养老院
    # (a 15-minute facility of GB 50180) of 500 m²: it does not make the 5-minute community
    # elderly rooms (日间照料中心, 社区养老服务站), whatever its floor area.
    home = pd.read_csv(new_district["facilities"], encoding="utf-8-sig")
    home = home.assign(name="某某养老院", category="养老院").rename(columns={"category": "类别"})
    inventory = tmp_path / "home.csv"
    home.to_csv(inventory, index=False, encoding="utf-8-sig")
    out = tmp_path / "home"
    code, _, stderr = run(
        [
            "analyze",
            "--network",
            str(new_district["roads"]),
            "--facilities",
            str(inventory),
            "--population",
            str(new_district["plots"]),
            "--districts",
            str(new_district["districts"]),
            "--categories",
            "elderly_care,elderly_daycare",
            "--standard",
            "anhui",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, stderr
    district = gpd.read_file(out / "results.gpkg", layer="districts").iloc[0]
    assert district["elderly_rooms_per_100hh_required"] == pytest.approx(600.0)
    assert district["elderly_rooms_per_100hh_supplied"] == pytest.approx(0.0)
    assert not bool(district["elderly_rooms_per_100hh_pass"])
    assert not bool(district["elderly_daycare_within_5min_pass"])
    # ... while every resident lives within 15 minutes of it.
    assert district["elderly_care_within_15min_supplied"] == pytest.approx(
        district["elderly_care_within_15min_required"]
    )
    assert bool(district["elderly_care_within_15min_pass"])


def test_compliance_is_checked_by_distance_unless_the_time_view_is_asked(
    new_district: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GB 50180's walking distances by default; the time view walks each rule's group at its
    # own speed: the elderly circle at 0.8 m/s (720 m in 15 minutes), not the run's 1.0 m/s.
    base = [
        "analyze",
        "--network",
        str(new_district["roads"]),
        "--facilities",
        str(new_district["facilities"]),
        "--population",
        str(new_district["plots"]),
        "--districts",
        str(new_district["districts"]),
        "--categories",
        "elderly_care,elderly_daycare,convenience_store",
        "--lang",
        "en",
    ]
    said = {}
    for basis in ("default", "time"):
        out = tmp_path / basis
        extra = [] if basis == "default" else ["--threshold-basis", "time"]
        code, _, stderr = run([*base, *extra, "--out", str(out)], capsys)
        assert code == 0, stderr
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        said[basis] = (summary["threshold_basis"], json.dumps(summary["notes"]))
    assert said["default"][0] == "distance"
    assert "walking speed" not in said["default"][1]
    assert said["time"][0] == "time"
    assert "elderly_daycare_within_5min (aged_60_plus, 0.8 m/s)" in said["time"][1]
    assert "convenience_store_within_5min" not in said["time"][1]  # residents: the run's speed


@pytest.mark.parametrize("standard", ["anhui", "zhejiang", "ningxia"])
def test_analyze_default_district_with_each_provincial_profile(
    nanjing_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], standard: str
) -> None:
    out = tmp_path / standard
    code, stdout, stderr = run(
        ["analyze", "--network", str(nanjing_osm), "--standard", standard, "--out", str(out)],
        capsys,
    )
    assert code == 0, stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["standard"] == standard
    from radius.standards import load_standard

    profile = load_standard(standard)
    checked = {r.id for r in profile.rules if r.metric != "unit_share"}
    assert checked <= set(summary["rules"])
    # the unit-share rules are counted on the units of the run (summary unit_shares)
    shares = [r.id for r in profile.rules if r.metric == "unit_share"]
    assert shares
    said = stdout + stderr + json.dumps(summary, ensure_ascii=False)
    assert all(rule_id in said for rule_id in shares)


def test_a_day_care_centre_counts_for_the_15_minute_circle_only_where_the_profile_says_so(
    new_district: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The fixture's only facility is a 500 m² 社区养老服务站 (5-minute tier). The national
    # 15-minute elderly circle counts nursing homes only; the anhui profile (宿州: a circle of
    # 日托 and 全托 services) includes day care.
    passed = {}
    for standard in ("national", "anhui"):
        out = tmp_path / standard
        argv = [
            "analyze",
            "--network",
            str(new_district["roads"]),
            "--facilities",
            str(new_district["facilities"]),
            "--population",
            str(new_district["plots"]),
            "--districts",
            str(new_district["districts"]),
            "--categories",
            "elderly_care,elderly_daycare",
            "--standard",
            standard,
            "--out",
            str(out),
        ]
        code, _, stderr = run(argv, capsys)
        assert code == 0, stderr
        district = gpd.read_file(out / "results.gpkg", layer="districts").iloc[0]
        passed[standard] = bool(district["elderly_care_within_15min_pass"])
    assert passed == {"national": False, "anhui": True}


def test_the_profile_conversions_estimate_households_and_residents(
    nanjing_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "local.yaml"
    profile.write_text(
        "name_zh: 测试\nname_en: Test\nextends: national\nconversions:\n"
        "  persons_per_household:\n    value: 2.0\n    source: {document: 测试}\n"
        "    status: assumed\n    note: a test value\n    note_zh: 测试值\n"
        "  floor_area_per_person_m2:\n    value: 18.26\n    source: {document: 测试}\n"
        "    status: assumed\n",
        encoding="utf-8",
    )
    layers = {}
    for name, standard in (("national", "national"), ("local", str(profile))):
        out = tmp_path / name
        argv = ["analyze", "--network", str(nanjing_osm), "--standard", standard]
        code, _, stderr = run([*argv, "--categories", "supermarket", "--out", str(out)], capsys)
        assert code == 0, stderr
        layers[name] = gpd.read_file(out / "results.gpkg", layer="residents")
    national, local = layers["national"], layers["local"]
    # 18.26 m² per person is half the national 36.52: twice the residents per building;
    # households are residents / 2.0 instead of / 2.62.
    assert local["population"].sum() == pytest.approx(2 * national["population"].sum(), rel=1e-3)
    assert local["households"].sum() == pytest.approx(local["population"].sum() / 2.0, rel=1e-3)
    assert national["households"].sum() == pytest.approx(
        national["population"].sum() / 2.62, rel=1e-3
    )


# --------------------------------------------------------------------------------------
# Inputs the pipeline cannot use, said in the user's language (issue #14)
# --------------------------------------------------------------------------------------


def test_unusable_networks_and_residents_say_so_in_both_languages(tmp_path: Path) -> None:
    import warnings

    from radius._errors import InputError
    from radius.network import load_network
    from radius.pipeline import AnalyzeConfig, ReachConfig, load_analysis_inputs
    from radius.sample import default_network_path
    from tests.language_checks import assert_chinese_error

    osm = default_network_path()
    roads = tmp_path / "roads.gpkg"  # the default district's streets as centre lines
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extract's islands and building levels
        load_network(osm).edges.to_file(roads)
        inputs = load_analysis_inputs(AnalyzeConfig(reach=ReachConfig(network=osm)))
    facilities = tmp_path / "facilities.gpkg"
    inputs.facilities.to_file(facilities)
    some = inputs.residents[["population", "geometry"]].iloc[:20]
    for name, frame in (("a", some), ("b", some), ("zero", some.assign(population=0.0))):
        frame.to_file(tmp_path / f"{name}.gpkg")

    def refused(match: str, reach: ReachConfig, **options) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(InputError, match=match) as excinfo:
                load_analysis_inputs(AnalyzeConfig(reach=reach, **options))
        return assert_chinese_error(excinfo.value, allowed={"GeoTIFF"})  # a format's name

    text = refused(
        "roads.gpkg: facilities can only be read from an OSM network file; give a facility "
        "inventory with --facilities",
        ReachConfig(network=roads),
    )
    assert text == f"{roads}：只有 OSM 路网文件才能从中读取设施；请用 --facilities 给出设施清单"
    text = refused(
        "roads.gpkg: residents can only be estimated from an OSM network file's buildings",
        ReachConfig(network=roads, facilities=facilities),
    )
    assert text.startswith(f"{roads}：只有 OSM 路网文件中的建筑才能用于估算居民")
    assert "--population" in text
    text = refused(
        r"a.gpkg, .*b.gpkg: several residents files are only accepted as population rasters",
        ReachConfig(network=osm),
        population=(tmp_path / "a.gpkg", tmp_path / "b.gpkg"),
    )
    assert "b.gpkg：多个居民数据文件只接受人口栅格" in text
    text = refused(
        r"zero.gpkg: no residents found .*give a population raster",
        ReachConfig(network=osm),
        population=(tmp_path / "zero.gpkg",),
    )
    assert text.startswith(f"{tmp_path / 'zero.gpkg'}：没有找到居民")


def test_a_missing_default_district_says_how_to_restore_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import radius.sample
    from radius._errors import InputError
    from tests.language_checks import assert_chinese_error

    gone = tmp_path / "data" / "cn_nanjing_xinjiekou.osm.pbf"  # a checkout without data/
    monkeypatch.setattr(radius.sample, "DEFAULT_DISTRICT", gone)
    with pytest.raises(InputError, match=r"is missing from this checkout: restore it") as excinfo:
        radius.sample.default_network_path()
    text = assert_chinese_error(excinfo.value, allowed={"git", "checkout"})  # the command
    assert text == (
        f"当前代码目录中缺少默认研究区文件 {gone}：请用 `git checkout -- data/` 恢复，"
        "或用 --network 给出路网文件"
    )


def test_a_rule_threshold_the_computed_category_lacks_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import warnings

    from radius._errors import InputError
    from radius.pipeline import AnalyzeConfig, ReachConfig, analyze, load_analysis_inputs
    from radius.sample import default_network_path
    from radius.standards import StandardProfile
    from tests.language_checks import assert_chinese_error

    # A guard: the standards loader refuses a rule at a threshold its category lacks, so
    # the categories lose their 15-minute threshold after the profile has been checked.
    with_distances = StandardProfile.with_distances

    def without_15min(self, categories):
        return tuple(
            c.model_copy(
                update={"thresholds": tuple(t for t in c.thresholds if t.label != "15min")}
            )
            for c in with_distances(self, categories)
        )

    monkeypatch.setattr(StandardProfile, "with_distances", without_15min)
    config = AnalyzeConfig(
        reach=ReachConfig(
            network=default_network_path(), service_areas=False, categories=("elderly_daycare",)
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = load_analysis_inputs(config)
        with pytest.raises(
            InputError,
            match=r"rule elderly_land_per_capita: threshold '15min' is not a threshold of "
            r"category elderly_daycare \(5min\)",
        ) as excinfo:
            analyze(inputs, config)
    text = assert_chinese_error(excinfo.value)
    assert text == (
        "指标 elderly_land_per_capita：阈值 '15min' 不是“日间照料中心、社区养老服务站”类的阈值"
        "（其阈值为 5min）"
    )


def test_group_counts_given_in_a_residents_file_are_kept_over_a_raster(tmp_path: Path) -> None:
    import warnings

    import numpy as np
    import rasterio

    from radius.demand import load_demand
    from radius.i18n import localize
    from radius.pipeline import AnalyzeConfig, ReachConfig, load_analysis_inputs
    from radius.sample import default_network_path

    osm = default_network_path()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = load_analysis_inputs(AnalyzeConfig(reach=ReachConfig(network=osm)))
    residents = inputs.residents[["population", "geometry"]].iloc[:30].copy()
    residents["aged_60_plus"] = np.where(np.arange(30) < 10, 5.0, np.nan)  # 10 points counted
    residents.to_file(tmp_path / "residents.gpkg")
    west, south, east, north = residents.to_crs(4326).total_bounds
    step_x, step_y = (east - west + 0.002) / 10, (north - south + 0.002) / 10
    with rasterio.open(
        tmp_path / "aged_60_plus.tif",
        "w",
        driver="GTiff",
        height=10,
        width=10,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        # north-up cells (rasterio's from_origin warns about affine's `*` in this version)
        transform=rasterio.Affine(step_x, 0.0, west - 0.001, 0.0, -step_y, north + 0.001),
    ) as raster:
        raster.write(np.full((1, 10, 10), 2.0, dtype="float32"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        demand = load_demand(
            inputs.network,
            network_path=osm,
            population=[tmp_path / "residents.gpkg"],
            group_rasters=[("aged_60_plus", [tmp_path / "aged_60_plus.tif"])],
        )
    assert demand.residents["aged_60_plus"].iloc[:10].tolist() == [5.0] * 10
    assert demand.residents["aged_60_plus"].iloc[10:].notna().all()  # from the raster
    kept = [n for n in demand.notes if "counts given in the files are kept" in n]
    assert kept == ["aged_60_plus: the counts given in the files are kept where they exist"]
    assert localize(kept[0], "zh") == "aged_60_plus：文件中已给出人数的点保留其人数"
