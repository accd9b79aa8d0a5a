"""Residents loaders: real WorldPop rasters and OSM buildings, hand-worked cases, every error."""

from __future__ import annotations

import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyproj
import pytest
import rasterio
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.windows import Window

from radius._errors import ConfigError, CRSError, InputError
from radius.cli import main
from radius.i18n import Message, RadiusWarning, message_of
from radius.population import (
    RESIDENT_COLUMNS,
    buildings_from_osm,
    estimate_from_osm_buildings,
    group_from_rasters,
    load_population_defaults,
    read_residents,
    residents_from_buildings,
    residents_from_osm_buildings,
    residents_from_plots,
    residents_from_points,
    residents_from_raster,
    summarize_residents,
)
from tests.conftest import shared_file
from tests.language_checks import assert_chinese_error, english_words

WUHAN_BANDS = [f"pop_{age}_{sex}_wuhan.tif" for age in (60, 65, 70, 75, 80) for sex in "fm"]
WUHAN_CENTRE = (114.25, 30.55, 114.35, 30.65)
UTM50 = "EPSG:32650"
X0, Y0 = 500_000.0, 3_400_000.0  # UTM 50N, about 117°E 30.7°N


def assert_residents(frame: gpd.GeoDataFrame, source: str) -> None:
    """The residents contract every loader must meet."""
    assert tuple(frame.columns) == RESIDENT_COLUMNS
    assert frame.crs == "EPSG:4326"
    assert frame["population"].dtype == np.float64
    assert frame["households"].dtype == np.float64
    assert frame["resident_id"].is_unique
    assert (frame["population"] >= 0).all()
    assert (frame["households"] >= 0).all()
    assert set(frame["source"]) == {source}
    assert set(frame["area_type"]) <= {"new", "old", ""}
    assert (frame.geom_type == "Point").all()
    assert frame["resident_id"].map(type).eq(str).all()


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


def test_defaults_come_from_the_config_with_sources():
    defaults = load_population_defaults()
    assert defaults.household_size == 2.62
    assert defaults.floor_area_per_person_m2 == 36.52
    assert defaults.default_levels == 6
    assert defaults.plot_point_spacing_m == 50
    assert "residential" in defaults.residential_building_tags
    assert "yes" not in defaults.residential_building_tags
    assert "Census" in defaults.sources["household_size"]
    assert "2020" in defaults.sources["floor_area_per_person_m2"]


def test_invalid_config_names_file_and_key(tmp_path):
    path = tmp_path / "population.yaml"
    path.write_text(
        "household_size: -1\nfloor_area_per_person_m2: 36.52\ndefault_levels: 6\n"
        "residential_building_tags: [residential]\nplot_point_spacing_m: 50\n"
        "sources: {household_size: census}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"population\.yaml: invalid configuration") as info:
        load_population_defaults(path)
    assert "household_size: Input should be greater than 0" in str(info.value)
    path.write_text(path.read_text(encoding="utf-8").replace("-1", "2.62"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"floor_area_per_person_m2, default_levels"):
        load_population_defaults(path)


def test_bad_override_is_an_input_error():
    square = gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0, X0 + 10, Y0 + 10)], crs=UTM50)
    with pytest.raises(InputError, match=r"household_size=0 must be a positive number"):
        residents_from_plots(square.assign(households=[1]), household_size=0)


# --------------------------------------------------------------------------------------------
# rasters: the real WorldPop Wuhan bands (persons aged 60+)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def wuhan_bands() -> list[Path]:
    return [shared_file(f"worldpop_wuhan_age60plus/{name}") for name in WUHAN_BANDS]


@pytest.mark.slow
def test_wuhan_ten_bands_sum_to_the_published_total(wuhan_bands):
    residents = residents_from_raster(wuhan_bands)
    assert_residents(residents, "raster")
    assert residents["population"].sum() == pytest.approx(1_942_653, abs=1.0)
    assert len(residents) == 494_676  # every valid pixel is populated (> 0)
    assert residents["households"].sum() == pytest.approx(1_942_653 / 2.62, abs=1.0)
    lon, lat = residents.geometry.x, residents.geometry.y
    assert lon.min() > 113.69208
    assert lon.max() < 115.07708
    assert lat.min() > 29.97208
    assert lat.max() < 31.36208


def test_one_wuhan_band_matches_sources_md(wuhan_bands):
    residents = residents_from_raster(wuhan_bands[0])  # 60–64, female
    assert residents["population"].sum() == pytest.approx(321_181, abs=1.0)


def plain_rasterio_sum(paths: list[Path], bbox: tuple[float, float, float, float]):
    """Sum and count of the pixels whose centre lies in ``bbox``, read with rasterio only."""
    west, south, east, north = bbox
    total = None
    for path in paths:
        with rasterio.open(path) as src:
            t = src.transform  # north-up grid: x = c + a·col, y = f + e·row
            col0 = math.floor((west - t.c) / t.a) - 1
            row0 = math.floor((north - t.f) / t.e) - 1
            width = math.ceil((east - west) / t.a) + 3
            height = math.ceil((south - north) / t.e) + 3
            window = Window(col0, row0, width, height)
            data = src.read(1, window=window, masked=True).astype(np.float64)
            rows, cols = np.indices(data.shape)
            xs = t.c + t.a * (cols + col0 + 0.5)
            ys = t.f + t.e * (rows + row0 + 0.5)
            inside = (xs >= west) & (xs <= east) & (ys >= south) & (ys <= north)
            values = np.where(inside & ~np.ma.getmaskarray(data), data.filled(0.0), 0.0)
            total = values if total is None else total + values
    assert total is not None
    return float(total.sum()), int((total > 0).sum())


def test_wuhan_window_equals_plain_rasterio(wuhan_bands):
    residents = residents_from_raster(wuhan_bands, bbox=WUHAN_CENTRE)
    assert_residents(residents, "raster")
    expected_sum, expected_count = plain_rasterio_sum(wuhan_bands, WUHAN_CENTRE)
    assert residents["population"].sum() == pytest.approx(expected_sum, rel=1e-12)
    assert len(residents) == expected_count
    assert residents["population"].sum() == pytest.approx(268_635.83, abs=0.01)
    assert len(residents) == 10_868
    lon, lat = residents.geometry.x, residents.geometry.y
    assert lon.between(114.25, 114.35).all()
    assert lat.between(30.55, 30.65).all()


def test_wuhan_pixel_id_and_value_match_the_file(wuhan_bands):
    residents = residents_from_raster(wuhan_bands[0], bbox=WUHAN_CENTRE)
    first = residents.iloc[0]
    row, col = (int(v) for v in first["resident_id"].removeprefix("raster/r").split("c"))
    with rasterio.open(wuhan_bands[0]) as src:
        value = src.read(1, window=Window(col, row, 1, 1))[0, 0]
        t = src.transform
        x, y = t.c + t.a * (col + 0.5), t.f + t.e * (row + 0.5)
    assert first["population"] == pytest.approx(float(value))
    assert (first.geometry.x, first.geometry.y) == pytest.approx((x, y), abs=1e-9)


def write_raster(
    path: Path, values: np.ndarray, crs: str | None = UTM50, x0: float = X0, y0: float = Y0
) -> Path:
    profile = {
        "driver": "GTiff",
        "width": values.shape[1],
        "height": values.shape[0],
        "count": 1,
        "dtype": "float32",
        "transform": Affine(100.0, 0.0, x0, 0.0, -100.0, y0),  # 100 m pixels
        "nodata": -3.4e38,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values.astype(np.float32), 1)
    return path


def test_projected_raster_gives_true_lon_lat(tmp_path):
    values = np.array([[1.0, 2.0, -3.4e38, 4.0], [5.0, -7.0, 0.0, 8.0], [9.0, 10.0, 11.0, 12.0]])
    path = write_raster(tmp_path / "utm.tif", values)
    residents = residents_from_raster(path)
    assert_residents(residents, "raster")
    # nodata, the negative and the zero pixel are dropped
    assert len(residents) == 9
    assert residents["population"].sum() == pytest.approx(62.0)
    pixel = residents.set_index("resident_id").loc["raster/r1c3"]
    to_wgs84 = pyproj.Transformer.from_crs(UTM50, "EPSG:4326", always_xy=True)
    lon, lat = to_wgs84.transform(X0 + 350.0, Y0 - 150.0)  # centre of row 1, column 3
    assert (pixel.geometry.x, pixel.geometry.y) == pytest.approx((lon, lat), abs=1e-9)
    assert pixel["population"] == 8.0
    assert pixel["households"] == pytest.approx(8.0 / 2.62)
    assert 116.9 < lon < 117.1
    assert 30.6 < lat < 30.8


def test_projected_raster_bbox_and_min_value(tmp_path):
    values = np.arange(1.0, 13.0).reshape(3, 4)
    path = write_raster(tmp_path / "utm.tif", values)
    to_wgs84 = pyproj.Transformer.from_crs(UTM50, "EPSG:4326", always_xy=True)
    west, north = to_wgs84.transform(X0 + 120.0, Y0 - 20.0)
    east, south = to_wgs84.transform(X0 + 280.0, Y0 - 180.0)
    inside = residents_from_raster(path, bbox=(west, south, east, north))
    assert sorted(inside["resident_id"]) == [
        "raster/r0c1",
        "raster/r0c2",
        "raster/r1c1",
        "raster/r1c2",
    ]
    assert inside["population"].sum() == 2 + 3 + 6 + 7
    above = residents_from_raster(path, min_value=10.0, household_size=2.0)
    assert sorted(above["population"]) == [11.0, 12.0]
    assert sorted(above["households"]) == [5.5, 6.0]


def test_rasters_on_different_grids_name_both_files(tmp_path):
    a = write_raster(tmp_path / "a.tif", np.ones((3, 4)))
    b = write_raster(tmp_path / "b.tif", np.ones((3, 4)), x0=X0 + 50.0)
    with pytest.raises(InputError, match=r"a\.tif and .*b\.tif are on different grids") as info:
        residents_from_raster([a, b])
    assert "resample them to one grid" in str(info.value)


def test_raster_without_crs_is_a_crs_error(tmp_path):
    path = write_raster(tmp_path / "nocrs.tif", np.ones((2, 2)), crs=None)
    with pytest.raises(CRSError, match=r"nocrs\.tif: the raster has no coordinate reference"):
        residents_from_raster(path)


def test_raster_argument_errors(tmp_path):
    path = write_raster(tmp_path / "utm.tif", np.ones((2, 2)))
    with pytest.raises(InputError, match=r"does not overlap the raster"):
        residents_from_raster(path, bbox=(100.0, 20.0, 100.1, 20.1))
    with pytest.raises(InputError, match=r"west < east"):
        residents_from_raster(path, bbox=(117.1, 30.6, 117.0, 30.7))
    with pytest.raises(InputError, match=r"band 2 requested but the file has 1"):
        residents_from_raster(path, band=2)
    with pytest.raises(InputError, match=r"missing\.tif: raster file not found"):
        residents_from_raster(tmp_path / "missing.tif")
    not_a_raster = tmp_path / "text.tif"
    not_a_raster.write_text("hello", encoding="utf-8")
    with pytest.raises(InputError, match=r"text\.tif: not a readable raster"):
        residents_from_raster(not_a_raster)


# --------------------------------------------------------------------------------------------
# buildings
# --------------------------------------------------------------------------------------------


def building_20x50(**columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=[shapely.box(X0, Y0, X0 + 20, Y0 + 50)], crs=UTM50)


def test_building_floor_area_by_hand():
    residents = residents_from_buildings(building_20x50(levels=[6], id=["B1"]))
    assert_residents(residents, "building")
    # 20 m × 50 m × 6 storeys = 6000 m² of floor area, 36.52 m² per person
    assert residents["population"].iloc[0] == pytest.approx(6000 / 36.52, rel=1e-9)
    assert residents["households"].iloc[0] == pytest.approx(6000 / 36.52 / 2.62, rel=1e-9)
    assert residents["resident_id"].iloc[0] == "building/B1"
    point = gpd.GeoSeries(residents.geometry, crs="EPSG:4326").to_crs(UTM50).iloc[0]
    assert shapely.box(X0, Y0, X0 + 20, Y0 + 50).contains(point)


def test_building_in_lon_lat_is_measured_in_metres():
    building = building_20x50(**{"building:levels": ["6"]}).to_crs("EPSG:4326")
    residents = residents_from_buildings(building, floor_area_per_person_m2=30.0)
    assert residents["population"].iloc[0] == pytest.approx(6000 / 30.0, rel=1e-6)


def test_building_population_and_households_columns_take_precedence():
    frame = gpd.GeoDataFrame(
        {"population": [100.0, np.nan], "households": [np.nan, 40.0], "levels": [6, 6]},
        geometry=[shapely.box(X0, Y0, X0 + 20, Y0 + 50)] * 2,
        crs=UTM50,
    )
    residents = residents_from_buildings(frame, household_size=2.5)
    assert residents["population"].tolist() == [100.0, 100.0]
    assert residents["households"].tolist() == [40.0, 40.0]


def test_buildings_without_levels_warn_with_their_count():
    frame = gpd.GeoDataFrame(
        {"levels": [3, None, "6;7"]},
        geometry=[shapely.box(X0, Y0, X0 + 20, Y0 + 50)] * 3,
        crs=UTM50,
    )
    with pytest.warns(UserWarning, match=r"2 of 3 buildings have no usable levels.*=4 storeys"):
        residents = residents_from_buildings(frame, default_levels=4)
    assert residents["population"].tolist() == pytest.approx(
        [1000 * 3 / 36.52, 1000 * 4 / 36.52, 1000 * 4 / 36.52]
    )


def test_building_errors_are_collected_with_row_and_column():
    frame = gpd.GeoDataFrame(
        {"population": [-5.0, None, "abc", 10.0]},
        geometry=[
            shapely.box(X0, Y0, X0 + 20, Y0 + 50),
            shapely.box(X0, Y0, X0 + 20, Y0 + 50),
            shapely.box(X0, Y0, X0 + 20, Y0 + 50),
            shapely.Point(X0, Y0),
        ],
        crs=UTM50,
    )
    with pytest.raises(InputError, match=r"4 problem\(s\)") as info:
        residents_from_buildings(frame)
    message = str(info.value)
    assert "index 0, column 'population': -5 is negative" in message
    assert "index 1, column 'population': the cell is empty" in message
    assert "index 2, column 'population': 'abc' is not a number" in message
    assert "index 3, column 'geometry': a Point; expected a Polygon or MultiPolygon" in message


def test_building_frame_errors():
    no_crs = gpd.GeoDataFrame({"levels": [6]}, geometry=[shapely.box(0, 0, 20, 50)])
    with pytest.raises(CRSError, match=r"buildings GeoDataFrame: no coordinate reference system"):
        residents_from_buildings(no_crs)
    with pytest.raises(InputError, match=r"no rows; expected at least one building footprint"):
        residents_from_buildings(building_20x50(levels=[6]).iloc[:0])
    with pytest.raises(InputError, match=r"expected a GeoDataFrame of building footprints"):
        residents_from_buildings(pd.DataFrame({"levels": [6]}))


# --------------------------------------------------------------------------------------------
# OSM buildings: Nanjing Xinjiekou and Beijing Haidian
# --------------------------------------------------------------------------------------------


def test_nanjing_residential_buildings(nanjing_osm):
    # By their tags alone (the land-use rule off):
    buildings = buildings_from_osm(nanjing_osm, residential_landuse=[])
    counts = buildings["building"].value_counts().to_dict()
    assert counts == {"residential": 76, "apartments": 11, "house": 1}  # SOURCES.md: 76 and 11
    assert buildings.crs == "EPSG:4326"
    assert list(buildings.columns) == ["osm_id", "building", "levels", "geometry"]
    assert set(buildings.geom_type) <= {"Polygon", "MultiPolygon"}
    assert buildings["osm_id"].str.match(r"^[wr]\d+$").all()
    assert buildings["levels"].notna().sum() == 6
    assert sorted(buildings["levels"].dropna().unique()) == [6.0, 35.0]
    # By default also the 400 building=yes standing in landuse=residential (430 do; 30 of
    # them in a school, commercial or other non-residential area, or tagged amenity/shop …).
    everything = buildings_from_osm(nanjing_osm)
    counts = everything["building"].value_counts().to_dict()
    assert counts == {"yes": 400, "residential": 76, "apartments": 11, "house": 1}
    assert set(buildings["osm_id"]) < set(everything["osm_id"])


def test_nanjing_residents_from_buildings(nanjing_osm):
    with (
        pytest.warns(UserWarning, match=r"432 of 488 buildings have no usable levels"),
        pytest.warns(UserWarning, match=r"400 untyped buildings \(building=yes\) inside"),
    ):
        residents = residents_from_osm_buildings(nanjing_osm)
    assert_residents(residents, "building")
    assert len(residents) == 488
    assert residents["resident_id"].str.startswith("building/osm/w").all()
    # Independent check: UTM 50N areas × levels (default 6) / 36.52 m² per person.
    buildings = buildings_from_osm(nanjing_osm)
    areas = buildings.to_crs(UTM50).area * buildings["levels"].fillna(6.0)
    assert residents["population"].sum() == pytest.approx(areas.sum() / 36.52, rel=1e-4)
    assert residents["population"].sum() == pytest.approx(43552.7, abs=0.5)
    summary = summarize_residents(residents)
    assert summary["points"] == 488
    assert summary["households"] == pytest.approx(summary["population"] / 2.62)


def test_beijing_residential_buildings(beijing_osm):
    buildings = buildings_from_osm(beijing_osm)
    counts = buildings["building"].value_counts().to_dict()
    # 15 building=yes stand in landuse=residential (the land-use rule).
    assert counts == {"residential": 43, "yes": 15, "house": 9, "apartments": 4, "dormitory": 2}
    with (
        pytest.warns(UserWarning, match=r"71 of 73 buildings"),
        pytest.warns(UserWarning, match=r"15 untyped buildings"),
    ):
        assert len(residents_from_osm_buildings(beijing_osm)) == 73
    with pytest.warns(UserWarning, match=r"41 of 43 buildings"):
        residents = residents_from_osm_buildings(
            beijing_osm, residential_tags=["residential"], residential_landuse=[]
        )
    assert len(residents) == 43


def test_pbf_buildings_read_the_same_way(helsinki_small_pbf):
    # 25 closed building ways have nodes outside the clipped extract: they are counted, not
    # silently lost (SOURCES.md counts 1,157 building=residential ways; 1,134 assemble).
    with (
        pytest.warns(UserWarning, match=r"25 residential building outline\(s\) could not be"),
        pytest.warns(UserWarning, match=r"1135 of 1145 buildings"),
    ):
        residents = read_residents(helsinki_small_pbf, residential_landuse=[])
    assert_residents(residents, "building")
    assert len(residents) == 1134 + 10 + 1  # residential, terrace, house areas


def test_osm_without_matching_buildings_lists_what_it_has(nanjing_osm):
    with pytest.raises(InputError, match=r"no residential buildings \(building=castle\)") as info:
        residents_from_osm_buildings(
            nanjing_osm, residential_tags=["castle"], residential_landuse=[]
        )
    assert "yes (1061)" in str(info.value)
    with pytest.warns(UserWarning, match=r"1 residential building outline\(s\) could not be"):
        assert len(buildings_from_osm(nanjing_osm, residential_tags=["yes"])) == 1061


# --------------------------------------------------------------------------------------------
# untyped buildings in residential land use (residential_landuse of configs/population.yaml)
# --------------------------------------------------------------------------------------------


def _landuse_osm(path: Path) -> Path:
    """A crafted 小区: a landuse=residential multipolygon with a school inside it, and five
    buildings (about 20 m squares, near Xinjiekou): w10 yes inside the residential area,
    w11 yes inside the school, w12 yes with a shop inside the residential area, w13 yes
    outside it, w14 residential outside it."""
    lon0, lat0 = 118.78, 32.04
    nodes: list[str] = []
    ways: list[str] = []

    def square(way: int, x0: float, y0: float, size: float, tags: dict[str, str]) -> None:
        refs = []
        for k, (dx, dy) in enumerate(((0, 0), (size, 0), (size, size), (0, size))):
            node = way * 10 + k
            nodes.append(
                f'<node id="{node}" lat="{lat0 + y0 + dy:.7f}" lon="{lon0 + x0 + dx:.7f}"/>'
            )
            refs.append(node)
        refs.append(refs[0])
        nd = "".join(f'<nd ref="{r}"/>' for r in refs)
        tag = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        ways.append(f'<way id="{way}">{nd}{tag}</way>')

    square(1, 0.0, 0.0, 0.002, {})  # outer ring of the residential relation
    square(2, 0.0012, 0.0012, 0.0007, {"amenity": "school"})
    square(10, 0.0002, 0.0002, 0.0002, {"building": "yes", "building:levels": "6"})
    square(11, 0.0014, 0.0014, 0.0002, {"building": "yes"})
    square(12, 0.0006, 0.0006, 0.0002, {"building": "yes", "shop": "convenience"})
    square(13, 0.003, 0.0, 0.0002, {"building": "yes"})
    square(14, 0.004, 0.0, 0.0002, {"building": "residential", "building:levels": "6"})
    relation = (
        '<relation id="100"><member type="way" ref="1" role="outer"/>'
        '<tag k="type" v="multipolygon"/><tag k="landuse" v="residential"/></relation>'
    )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">'
        + "".join(nodes + ways)
        + relation
        + "</osm>",
        encoding="utf-8",
    )
    return path


def test_untyped_buildings_in_residential_land_use_are_housing(tmp_path):
    osm = _landuse_osm(tmp_path / "xiaoqu.osm")
    buildings = buildings_from_osm(osm)
    # Inside the residential area only w10: w11 stands in the school, w12 is a shop, w13 is
    # outside; w14 is tagged residential.
    assert buildings["osm_id"].tolist() == ["w10", "w14"]
    assert buildings["building"].tolist() == ["yes", "residential"]
    assert buildings_from_osm(osm, residential_landuse=[])["osm_id"].tolist() == ["w14"]
    with pytest.warns(RadiusWarning) as caught:
        residents, figures = estimate_from_osm_buildings(osm)
    assert figures["residential_buildings"] == 2
    assert figures["landuse_buildings"] == 1
    assert figures["other_buildings"] == 3  # w11, w12, w13
    # Each building: its footprint × 6 storeys / 36.52 m² per person.
    areas = buildings.to_crs(UTM50).area.to_numpy()
    assert residents["population"].to_numpy() == pytest.approx(areas * 6 / 36.52, rel=1e-6)
    note = message_of(next(w.message for w in caught if "landuse" in str(w.message)))
    assert isinstance(note, Message)
    assert note.text("en") == (
        f"{osm}: 1 untyped buildings (building=yes) inside residential land use "
        "(landuse=residential) are counted as housing (besides 1 buildings tagged as housing); "
        "building=yes outside it hold no residents. Change or turn off "
        "(residential_landuse: []) in configs/population.yaml"
    )
    assert english_words(note.text("zh")) == []
    # The rule off: w10 is not housing either, and no note about land use.
    _, off = estimate_from_osm_buildings(osm, residential_landuse=[])
    assert (off["residential_buildings"], off["landuse_buildings"], off["other_buildings"]) == (
        1,
        0,
        4,
    )
    # Another land use named: w10 is outside every landuse=retail area.
    assert buildings_from_osm(osm, residential_landuse=["retail"])["osm_id"].tolist() == ["w14"]
    # `yes` already residential: every untyped building counts, none by land use.
    with pytest.warns(RadiusWarning, match=r"3 of 5 buildings have no usable levels"):
        _, everything = estimate_from_osm_buildings(osm, residential_tags=["yes", "residential"])
    assert (everything["residential_buildings"], everything["landuse_buildings"]) == (5, 0)
    with pytest.raises(InputError, match=r"residential_landuse='residential': give a list"):
        buildings_from_osm(osm, residential_landuse="residential")


def test_unreadable_osm_file(tmp_path):
    path = tmp_path / "broken.osm"
    path.write_text("not xml at all", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.osm: not a readable OSM"):
        buildings_from_osm(path)
    with pytest.raises(InputError, match=r"OSM file not found"):
        buildings_from_osm(tmp_path / "missing.osm")


# --------------------------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------------------------


def plot_400x300(**columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=[shapely.box(X0, Y0, X0 + 400, Y0 + 300)], crs=UTM50)


def test_plot_households_spread_over_a_grid():
    plots = plot_400x300(id=["A"], households=[2000], area_type=["新区"])
    residents = residents_from_plots(plots)
    assert_residents(residents, "plot")
    assert len(residents) == 8 * 6  # 400 m × 300 m at 50 m spacing
    assert residents["population"].sum() == pytest.approx(5240.0, rel=1e-12)  # 2000 × 2.62
    assert residents["households"].sum() == pytest.approx(2000.0, rel=1e-12)
    assert residents["population"].nunique() == 1
    assert residents["resident_id"].iloc[0] == "plot/A/0"
    assert set(residents["area_type"]) == {"new"}
    inside = gpd.GeoSeries(residents.geometry).to_crs(UTM50).within(plots.geometry.iloc[0])
    assert inside.all()
    coarse = residents_from_plots(plots, spacing_m=100.0, household_size=3.0)
    assert len(coarse) == 4 * 3
    assert coarse["population"].sum() == pytest.approx(6000.0)


def test_small_plot_is_one_representative_point():
    plots = gpd.GeoDataFrame(
        {"population": [26.2], "area_type": ["老旧"]},
        geometry=[shapely.box(X0, Y0, X0 + 20, Y0 + 5)],
        crs=UTM50,
    )
    residents = residents_from_plots(plots)
    assert len(residents) == 1
    assert residents["households"].iloc[0] == pytest.approx(10.0)
    assert residents["area_type"].iloc[0] == "old"
    assert residents["resident_id"].iloc[0] == "plot/0/0"


@settings(max_examples=25, deadline=None)
@given(
    width=st.floats(1.0, 900.0),
    height=st.floats(1.0, 900.0),
    households=st.floats(0.0, 1e5),
    spacing=st.floats(10.0, 200.0),
)
def test_plot_points_always_sum_to_the_plot(width, height, households, spacing):
    plots = gpd.GeoDataFrame(
        {"households": [households]},
        geometry=[shapely.box(X0, Y0, X0 + width, Y0 + height)],
        crs=UTM50,
    )
    residents = residents_from_plots(plots, spacing_m=spacing)
    assert len(residents) >= 1
    assert residents["households"].sum() == pytest.approx(households, rel=1e-9, abs=1e-9)


def test_plot_errors_are_collected():
    plots = gpd.GeoDataFrame(
        {
            "households": [10, -2, "x", None],
            "population": [None, None, None, None],
            "area_type": ["new", "mixed", "old", ""],
            "id": ["a", "b", "a", "d"],
        },
        geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100)] * 4,
        crs=UTM50,
    )
    with pytest.raises(InputError, match=r"the plots GeoDataFrame: 5 problem\(s\)") as info:
        residents_from_plots(plots)
    message = str(info.value)
    assert "index 1, column 'households': -2 is negative" in message
    assert "index 2, column 'households': 'x' is not a number" in message
    assert "index 3, columns 'population' and 'households': both cells are empty" in message
    assert "index 1, column 'area_type': 'mixed' is not an area type; use new or old" in message
    assert "index 2, column 'id': 'a' repeats the id of index 0" in message


def test_plot_without_population_lists_columns():
    with pytest.raises(
        InputError, match=r"no population and no households column; columns found: 'name', 'far'"
    ):
        residents_from_plots(plot_400x300(name=["p"], far=[2.5]))


# --------------------------------------------------------------------------------------------
# points: CSV (UTF-8, BOM, GBK) and XLSX with Chinese headers, GeoJSON, frames
# --------------------------------------------------------------------------------------------

CSV_ZH = "编号,人口,户数,经度,纬度,类型\nA1,262,,118.78,32.04,老区\nA2,,50,118.79,32.05,新区\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_with_chinese_headers_in_any_encoding(tmp_path, encoding):
    path = tmp_path / "residents.csv"
    path.write_bytes(CSV_ZH.encode(encoding))
    residents = residents_from_points(path)
    assert_residents(residents, "points")
    assert residents["resident_id"].tolist() == ["point/A1", "point/A2"]
    assert residents["population"].tolist() == pytest.approx([262.0, 131.0])
    assert residents["households"].tolist() == pytest.approx([100.0, 50.0])
    assert residents["area_type"].tolist() == ["old", "new"]
    assert residents.geometry.x.tolist() == [118.78, 118.79]
    assert residents.geometry.y.tolist() == [32.04, 32.05]


def test_csv_errors_name_spreadsheet_rows(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "人口,经度,纬度\n10,118.78,32.04\n-3,118.78,32.04\n\n12人,118.78,32.04\n5,,32.04\n"
        "7,32.04,118.78\n",
        encoding="gbk",
    )
    with pytest.raises(InputError, match=r"bad\.csv: 4 problem\(s\)") as info:
        residents_from_points(path)
    message = str(info.value)
    assert "row 3, column '人口' (population): -3 is negative" in message
    # row 4 is blank and skipped; numbering still follows the spreadsheet
    assert "row 5, column '人口' (population): '12人' is not a number" in message
    assert "row 6, column '经度' (lon): the cell is empty; enter the longitude" in message
    assert "row 7, column '纬度' (lat): 118.78 is outside ±90°" in message


def test_many_problems_are_cut_at_twenty(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("population,lon,lat\n" + "-1,118.7,32.0\n" * 25, encoding="utf-8")
    with pytest.raises(InputError, match=r"25 problem\(s\)") as info:
        residents_from_points(path)
    assert "row 21, column 'population'" in str(info.value)
    assert "row 22," not in str(info.value)
    assert "... and 5 more" in str(info.value)


def test_xlsx_rows_and_english_headers(tmp_path):
    path = tmp_path / "residents.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Households", "Lon", "Lat", "area_type"])
    sheet.append([100, 118.78, 32.04, "old"])
    sheet.append([120, 118.79, 32.05, None])
    book.save(path)
    residents = residents_from_points(path, household_size=3.0)
    assert residents["population"].tolist() == [300.0, 360.0]
    assert residents["resident_id"].tolist() == ["point/2", "point/3"]
    assert residents["area_type"].tolist() == ["old", ""]
    sheet.append(["many", 118.8, 32.06, "new"])
    book.save(path)
    with pytest.raises(InputError, match=r"row 4, column 'Households' \(households\): 'many'"):
        residents_from_points(path)


def test_points_table_structure_errors(tmp_path):
    no_quantity = tmp_path / "no_quantity.csv"
    no_quantity.write_text("name,lon,lat\nx,118.7,32.0\n", encoding="utf-8")
    with pytest.raises(
        InputError,
        match=r"no population and no households column; columns found: 'name', 'lon', 'lat'",
    ):
        residents_from_points(no_quantity)
    no_coordinates = tmp_path / "no_xy.csv"
    no_coordinates.write_text("人口,地址\n10,新街口\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no lon/lat columns .* columns found: '人口', '地址'"):
        residents_from_points(no_coordinates)
    empty = tmp_path / "empty.csv"
    empty.write_text("population,lon,lat\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"empty\.csv: no rows"):
        residents_from_points(empty)
    clash = tmp_path / "clash.csv"
    clash.write_text("人口,population,lon,lat\n1,2,118.7,32.0\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"columns '人口' and 'population' all mean 'population'"):
        residents_from_points(clash)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(CSV_ZH.encode("gbk"))
    with pytest.raises(InputError, match=r"cannot be read as ascii text"):
        residents_from_points(gbk, encoding="ascii")


def test_points_from_frames_and_projected_coordinates():
    table = pd.DataFrame({"population": [10.0], "x": [X0], "y": [Y0]})
    table = table.rename(columns={"x": "lon", "y": "lat"})
    residents = residents_from_points(table, crs=UTM50)
    lon, lat = pyproj.Transformer.from_crs(UTM50, "EPSG:4326", always_xy=True).transform(X0, Y0)
    assert (residents.geometry.x.iloc[0], residents.geometry.y.iloc[0]) == pytest.approx((lon, lat))
    assert residents["resident_id"].iloc[0] == "point/0"
    layer = gpd.GeoDataFrame({"households": [4.0]}, geometry=[shapely.Point(X0, Y0)])
    with pytest.raises(CRSError, match=r"points table: no coordinate reference system"):
        residents_from_points(layer)
    assert residents_from_points(layer, crs=UTM50)["population"].iloc[0] == pytest.approx(10.48)


def test_points_from_geojson(tmp_path):
    path = tmp_path / "points.geojson"
    gpd.GeoDataFrame(
        {"人口": [5.0, 7.0]},
        geometry=[shapely.Point(118.78, 32.04), shapely.Point(118.79, 32.05)],
        crs="EPSG:4326",
    ).to_file(path, engine="pyogrio")
    residents = residents_from_points(path)
    assert residents["resident_id"].tolist() == ["point/1", "point/2"]  # feature numbers
    assert residents["population"].tolist() == [5.0, 7.0]


# --------------------------------------------------------------------------------------------
# read_residents: dispatch by content
# --------------------------------------------------------------------------------------------


def test_read_residents_dispatches_by_content(tmp_path, nanjing_osm):
    tif = write_raster(tmp_path / "pop.tif", np.ones((2, 2)))
    assert set(read_residents(tif, spacing_m=10.0)["source"]) == {"raster"}
    csv = tmp_path / "points.csv"
    csv.write_bytes(CSV_ZH.encode("gbk"))
    assert set(read_residents(csv)["source"]) == {"points"}
    plots = tmp_path / "plots.gpkg"
    plot_400x300(户数=[2000]).to_file(plots, engine="pyogrio")
    from_plots = read_residents(plots)
    assert set(from_plots["source"]) == {"plot"}
    assert from_plots["population"].sum() == pytest.approx(5240.0)
    footprints = tmp_path / "footprints.geojson"
    building_20x50(**{"building:levels": [6]}).to_crs("EPSG:4326").to_file(
        footprints, engine="pyogrio"
    )
    from_buildings = read_residents(footprints)
    assert from_buildings["population"].iloc[0] == pytest.approx(6000 / 36.52, rel=1e-6)
    with (
        pytest.warns(UserWarning, match=r"432 of 488"),
        pytest.warns(UserWarning, match=r"400 untyped buildings"),
    ):
        assert len(read_residents(nanjing_osm)) == 488


def test_read_residents_errors(tmp_path):
    with pytest.raises(InputError, match=r"nothing\.csv: file not found"):
        read_residents(tmp_path / "nothing.csv")
    bare = tmp_path / "bare.geojson"
    plot_400x300(name=["p"]).to_crs("EPSG:4326").to_file(bare, engine="pyogrio")
    with pytest.raises(InputError, match=r"bare\.geojson: polygons with no population.*'name'"):
        read_residents(bare)
    mixed = tmp_path / "mixed.geojson"
    gpd.GeoDataFrame(
        {"population": [1, 2]},
        geometry=[shapely.Point(118.7, 32.0), shapely.box(118.7, 32.0, 118.71, 32.01)],
        crs="EPSG:4326",
    ).to_file(mixed, engine="pyogrio")
    with pytest.raises(InputError, match=r"geometries of kind Point, Polygon"):
        read_residents(mixed)
    nocrs = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        plot_400x300(households=[5]).set_crs(None, allow_override=True).to_file(
            nocrs, engine="pyogrio"
        )
    with pytest.raises(CRSError, match=r"nocrs\.gpkg: no coordinate reference system"):
        read_residents(nocrs)
    row_error = tmp_path / "plots.geojson"
    gpd.GeoDataFrame(
        {"households": [5.0, -1.0]},
        geometry=[shapely.box(118.7, 32.0, 118.71, 32.01)] * 2,
        crs="EPSG:4326",
    ).to_file(row_error, engine="pyogrio")
    with pytest.raises(InputError, match=r"feature 2, column 'households': -1 is negative"):
        read_residents(row_error)


def test_summarize_residents():
    plots = plot_400x300(households=[100.0])
    residents = pd.concat(
        [residents_from_plots(plots, spacing_m=200.0), residents_from_plots(plots.assign(id=["b"]))]
    )
    summary = summarize_residents(residents)
    assert summary["points"] == 2 * 2 + 8 * 6
    assert summary["population"] == pytest.approx(2 * 262.0)
    assert summary["households"] == pytest.approx(200.0)
    assert summary["by_source"]["plot"]["points"] == 52


# --------------------------------------------------------------------------------------------
# one language at a time (#14): every error of a bad residents file also reads in Chinese
# --------------------------------------------------------------------------------------------

CENSUS_HEADER = "社区,户数,60岁及以上人口,0-3岁人口"


def _words_of(text: str) -> set[str]:
    """The words of another library's or the user's own text (allowed in a Chinese error)."""
    return set(re.findall(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]", text))


def test_census_csv_in_gbk_without_coordinates_says_so_in_chinese(tmp_path):
    path = tmp_path / "社区人口.csv"
    path.write_bytes(f"{CENSUS_HEADER}\n莫愁湖社区,3200,1100,90\n".encode("gbk"))
    with pytest.raises(InputError) as info:
        residents_from_points(path)
    english = str(info.value)
    assert "社区人口.csv: no lon/lat columns (or `经度`/`纬度`) and no geometry" in english
    assert "columns found: '社区', '户数', '60岁及以上人口', '0-3岁人口'" in english
    chinese = assert_chinese_error(info.value)
    assert "社区人口.csv：没有经度、纬度列，也没有几何" in chinese
    assert "'社区', '户数', '60岁及以上人口', '0-3岁人口'" in chinese
    assert "请添加“经度”和“纬度”列" in chinese


def test_census_csv_without_households_or_population_column(tmp_path):
    path = tmp_path / "census.csv"
    path.write_bytes("社区,经度,纬度,60岁及以上人口\n莫愁湖社区,118.76,32.03,1100\n".encode("gbk"))
    with pytest.raises(InputError) as info:
        read_residents(path)
    assert "census.csv: no population and no households column" in str(info.value)
    chinese = assert_chinese_error(info.value)
    assert "census.csv：既没有人口列，也没有户数列；现有的列为 '社区', '经度', '纬度'" in chinese


def test_census_csv_cell_problems_read_in_chinese_row_by_row(tmp_path):
    path = tmp_path / "census.csv"
    rows = [
        "编号,社区,户数,60岁及以上人口,0-3岁人口,经度,纬度,类型",
        "A1,莫愁湖社区,3200,1100,90,118.76,32.03,老区",
        "A1,南湖社区,三千户,-5,约90,118.77,32.03,中区",
        ",止马营社区,,,,,132.0,新区",
        "A4,凤凰社区,-8,,,118.78,91.5,",
    ]
    path.write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    with pytest.raises(InputError, match=r"census\.csv: 10 problem\(s\) in the residents") as info:
        residents_from_points(path)
    english = str(info.value)
    assert (
        "row 3, column '户数' (households): '三千户' is not a number; enter the number" in english
    )
    assert "row 3, column '60岁及以上人口' (aged_60_plus): -5 is negative" in english
    assert "row 3, column '0-3岁人口' (aged_0_3): '约90' is not a number" in english
    assert "row 3, column '类型' (area_type): '中区' is not an area type" in english
    assert "row 3, column '编号' (id): 'A1' repeats the id of row 2" in english
    assert "row 4, column '编号' (id): the cell is empty; give every row a unique id" in english
    assert "row 4, column '户数' (households): the cell is empty; enter the number of" in english
    assert "row 4, column '经度' (lon): the cell is empty; enter the longitude" in english
    assert "row 5, column '户数' (households): -8 is negative" in english
    assert "row 5, column '纬度' (lat): 91.5 is outside ±90°" in english
    assert english.endswith("Fix these cells and run again.")
    chinese = assert_chinese_error(info.value)
    assert "census.csv：居民数据有 10 个问题：" in chinese
    assert "  - 第 3 行，'户数' 列：'三千户' 不是数字；请填写户数，不小于 0，只填数字" in chinese
    assert "  - 第 3 行，'60岁及以上人口' 列：-5 是负数；请填写人数，不小于 0" in chinese
    assert "  - 第 3 行，'0-3岁人口' 列：'约90' 不是数字；请只填人数，或留空" in chinese
    assert "  - 第 3 行，'类型'（区域类型） 列：'中区' 不是区域类型；请填写新区或老区" in chinese
    assert (
        "  - 第 3 行，'编号' 列：编号 'A1' 已在第 2 行出现过；请为每一行填写唯一的编号" in chinese
    )
    assert "  - 第 4 行，'户数' 列：单元格为空；请填写户数，不小于 0（无人居住处填 0）" in chinese
    assert "  - 第 4 行，'经度'（经度）列" not in chinese  # the header is the meaning's word
    assert "  - 第 4 行，'经度' 列：单元格为空；请以十进制度数填写经度" in chinese
    assert "  - 第 5 行，'纬度' 列：91.5 超出 ±90°；请检查经度、纬度是否填反" in chinese
    assert chinese.endswith("请修改这些单元格后重新运行。")


def test_many_problems_are_cut_in_chinese_too(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("population,lon,lat\n" + "-1,118.7,32.0\n" * 25, encoding="utf-8")
    with pytest.raises(InputError) as info:
        residents_from_points(path)
    chinese = assert_chinese_error(info.value, allowed={"population"})  # the file's header
    assert "many.csv：居民数据有 25 个问题" in chinese
    assert "第 21 行，'population' 列：-1 是负数" in chinese
    assert "……另有 5 个问题" in chinese


def test_frames_and_tables_errors_read_in_chinese(tmp_path):
    clash = tmp_path / "clash.csv"
    clash.write_text("人口,常住人口,lon,lat\n1,2,118.7,32.0\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"columns '人口' and '常住人口' all mean 'population'"):
        residents_from_points(clash)
    # the header row of the frame is what the planner reads, so the English text is the same
    with pytest.raises(InputError) as info:
        residents_from_points(clash)
    assert "'人口' 和 '常住人口' 列含义相同（都是人口）；请只保留其中一列" in (
        assert_chinese_error(info.value)
    )
    frame = gpd.GeoDataFrame(
        {"人口": [5.0, "多"], "编号": ["甲", "甲"]},
        geometry=[shapely.box(X0, Y0, X0 + 20, Y0 + 50), None],
        crs=UTM50,
    )
    with pytest.raises(InputError, match=r"the buildings GeoDataFrame: 3 problem") as info:
        residents_from_buildings(frame)
    english = str(info.value)
    assert "index 1, column 'geometry': the geometry is empty; draw a Polygon or Multi" in english
    chinese = assert_chinese_error(info.value)
    assert chinese.startswith("传入的建筑轮廓数据：居民数据有 3 个问题")
    assert "索引为 1 的行，几何为空；请绘制 Polygon 或 MultiPolygon，或删除该行" in chinese
    assert "（人口）" not in chinese  # the header is the meaning's own word
    assert "索引为 1 的行，'人口' 列：'多' 不是数字" in chinese
    assert "索引为 1 的行，'编号' 列：编号 '甲' 已在索引为 0 的行出现过" in chinese
    points = gpd.GeoDataFrame(
        {"population": [1.0]}, geometry=[shapely.LineString([(X0, Y0), (X0, Y0 + 1)])], crs=UTM50
    )
    with pytest.raises(
        InputError, match=r"index 0, column 'geometry': a LineString; expected a Point"
    ):
        residents_from_points(points)
    with pytest.raises(InputError) as info:
        residents_from_points(points)
    assert "索引为 0 的行，几何类型为 LineString；应为 Point" in assert_chinese_error(info.value)
    repeated = gpd.GeoDataFrame(
        {"households": [1.0, 2.0]}, geometry=[shapely.Point(X0, Y0)] * 2, index=[7, 7], crs=UTM50
    )
    with pytest.raises(InputError, match=r"the rows have repeated index labels") as info:
        residents_from_points(repeated)
    assert "各行的索引标签有重复，无法区分居民点" in assert_chinese_error(info.value)


@pytest.mark.parametrize(
    ("call", "english", "chinese", "allowed"),
    [
        (
            lambda: residents_from_buildings(pd.DataFrame({"levels": [6]})),
            "expected a GeoDataFrame of building footprints, got DataFrame",
            "应传入建筑轮廓的 `GeoDataFrame`，实际为 DataFrame",
            {"DataFrame"},
        ),
        (
            lambda: residents_from_plots([1, 2]),
            "expected a GeoDataFrame of residential plots, got list",
            "应传入居住地块的 `GeoDataFrame`，实际为 list",
            {"list"},
        ),
        (
            lambda: residents_from_buildings(building_20x50(levels=[6]).iloc[:0]),
            "the buildings GeoDataFrame: no rows; expected at least one building footprint",
            "传入的建筑轮廓数据：没有数据行；至少需要一个建筑轮廓",
            set(),
        ),
        (
            lambda: residents_from_points(pd.DataFrame({"population": []})),
            "the points table: no rows; expected at least one resident point",
            "传入的居民点表：没有数据行；至少需要一个居民点",
            set(),
        ),
        (
            lambda: residents_from_plots(plot_400x300(households=[5]), household_size=0),
            "household_size=0 must be a positive number (persons)",
            "household_size=0 必须是正数（人）",
            set(),
        ),
        (
            lambda: residents_from_plots(plot_400x300(households=[5]), spacing_m="wide"),  # type: ignore[arg-type]
            "spacing_m='wide' is not a number; give a positive number (metres)",
            "spacing_m='wide' 不是数字；请给出一个正数（米）",
            set(),
        ),
        (
            lambda: residents_from_buildings(
                building_20x50(levels=[6]), floor_area_per_person_m2=-1.0
            ),
            "floor_area_per_person_m2=-1.0 must be a positive number (m² per person)",
            "floor_area_per_person_m2=-1.0 必须是正数（平方米/人）",
            set(),
        ),
        (
            lambda: residents_from_plots(plot_400x300(households=[5]), spacing_m=0.1),
            "the plots would need about 12,000,000 points at spacing_m=0.1",
            "传入的居住地块数据：按 spacing_m=0.1 布点，这些地块约需 12,000,000 个点",
            set(),
        ),
        (
            lambda: residents_from_plots(plot_400x300(name=["p"])),
            "the plots GeoDataFrame: no population and no households column",
            "传入的居住地块数据：既没有人口列，也没有户数列；现有的列为 'name'",
            {"name"},
        ),
        (
            lambda: residents_from_buildings(
                building_20x50(levels=[6]).set_crs(None, allow_override=True)
            ),
            "the buildings GeoDataFrame: no coordinate reference system (CRS); set it",
            "传入的建筑轮廓数据：没有坐标参考系（CRS）；请设置坐标系",
            set(),
        ),
        (
            lambda: residents_from_buildings(
                gpd.GeoDataFrame(
                    {"levels": [6, 6], "osm_id": ["w1", "w1"]},
                    geometry=[shapely.box(X0, Y0, X0 + 20, Y0 + 50)] * 2,
                    crs=UTM50,
                )
            ),
            "column 'osm_id' has repeated values; give every building its own id",
            "osm_id 列有重复值；请为每栋建筑给出不同的编号",
            set(),
        ),
    ],
)
def test_frame_argument_errors_read_in_chinese(call, english, chinese, allowed):
    with pytest.raises((InputError, CRSError)) as info:
        call()
    assert english in str(info.value)
    assert chinese in assert_chinese_error(info.value, allowed=allowed)


def test_raster_errors_read_in_chinese(tmp_path):
    utm = write_raster(tmp_path / "utm.tif", np.ones((2, 2)))
    nocrs = write_raster(tmp_path / "nocrs.tif", np.ones((2, 2)), crs=None)
    shifted = write_raster(tmp_path / "shifted.tif", np.ones((2, 2)), x0=X0 + 50.0)
    cases = [
        (
            lambda: residents_from_raster(nocrs),
            "nocrs.tif: the raster has no coordinate reference system (CRS); assign one",
            "nocrs.tif：栅格没有坐标参考系（CRS）；请为其指定坐标系，例如 `gdal_edit.py -a_srs",
            set(),
        ),
        (
            lambda: residents_from_raster(utm, bbox=(100.0, 20.0, 100.1, 20.1)),
            "utm.tif: bbox (100.0, 20.0, 100.1, 20.1) does not overlap the raster, which covers (",
            "utm.tif：所给范围 (100.0, 20.0, 100.1, 20.1) 与栅格不重叠，栅格覆盖 WGS-84 (",
            set(),
        ),
        (
            lambda: residents_from_raster(utm, band=2),
            "utm.tif: band 2 requested but the file has 1",
            "utm.tif：要读取第 2 波段，但文件只有 1 个波段",
            set(),
        ),
        (
            lambda: residents_from_raster([utm, shifted]),
            "utm.tif and ",
            "shifted.tif 的栅格网格不同（前者 2×2 EPSG:32650，后者 2×2 EPSG:32650，或像元起点",
            set(),  # `gdalwarp` is a command in backticks
        ),
        (
            lambda: residents_from_raster(utm, band=0),
            "band=0: give a band number, 1 or more",
            "band=0：请给出波段号（1 或以上）",
            set(),
        ),
        (
            lambda: residents_from_raster(utm, min_value="some"),  # type: ignore[arg-type]
            "min_value='some': give a number of persons",
            "min_value='some'：请给出人数",
            set(),
        ),
        (
            lambda: residents_from_raster([]),
            "no raster files given; pass one GeoTIFF path or a list of them",
            "未给出栅格文件；请给出一个 GeoTIFF 文件路径，或路径列表",
            {"GeoTIFF"},
        ),
        (
            lambda: residents_from_raster(utm, bbox=("west", 1, 2, 3)),  # type: ignore[arg-type]
            "bbox=('west', 1, 2, 3): give four numbers (west, south, east, north) in degrees",
            "bbox=('west', 1, 2, 3)：请给出四个数（西、南、东、北），单位为度",
            set(),
        ),
        (
            lambda: residents_from_raster(utm, bbox=(1, 2, 3, math.inf)),
            "bbox=(1, 2, 3, inf): the four numbers must be finite",
            "bbox=(1, 2, 3, inf)：四个数都必须是有限值",
            {"inf"},  # the value given
        ),
        (
            lambda: residents_from_raster(utm, bbox=(117.1, 30.6, 117.0, 30.7)),
            "with west < east and south < north",
            "且西 < 东、南 < 北",
            set(),
        ),
    ]
    for call, english, chinese, allowed in cases:
        with pytest.raises((InputError, CRSError)) as info:
            call()
        assert english in str(info.value)
        assert chinese in assert_chinese_error(info.value, allowed=allowed)
    text = tmp_path / "text.tif"
    text.write_text("hello", encoding="utf-8")
    with pytest.raises(InputError, match=r"text\.tif: not a readable raster \(") as info:
        residents_from_raster(text)
    reason = str(info.value).split("(", 1)[1].rsplit(")", 1)[0]  # rasterio's own words
    chinese = assert_chinese_error(info.value, allowed=_words_of(reason) | {"GeoTIFF"})
    assert "；请给出每个像元为人数的 GeoTIFF" in chinese


def test_group_rasters_without_data_say_so_in_chinese(tmp_path):
    # A projected raster holding only nodata: no count of persons aged 60+ anywhere.
    nodata = write_raster(tmp_path / "pop_60.tif", np.full((3, 4), -3.4e38))
    residents = residents_from_plots(plot_400x300(households=[100]), spacing_m=200.0)
    with pytest.raises(InputError) as info:
        group_from_rasters(residents, [nodata], "aged_60_plus")
    assert "pop_60.tif: no aged_60_plus count in the rasters around the residents" in str(
        info.value
    )
    chinese = assert_chinese_error(info.value)
    assert (
        "pop_60.tif：居民点周围的栅格中没有60岁及以上人口人数；请检查栅格是否覆盖研究范围"
        in chinese
    )
    with pytest.raises(InputError) as info:
        group_from_rasters(residents.iloc[:0], [nodata], "aged_0_3")
    assert "aged_0_3 from rasters: there is no resident point to give the counts to" in str(
        info.value
    )
    assert "由栅格读取0-3岁人口：没有可以分配人数的居民点" in assert_chinese_error(info.value)
    # 100 m pixels over the 400 m × 300 m plot, whose 4 points lie 200 m apart
    counts = write_raster(tmp_path / "pop_60_f.tif", np.ones((3, 4)), y0=Y0 + 300.0)
    _, notes = group_from_rasters(residents, [counts], "aged_60_plus")
    (note,) = notes
    assert isinstance(note, Message)
    assert note == (
        "aged_60_plus: 12 persons from 1 raster band(s) (12 pixels) put on 4 resident points; "
        "8 of them in 8 pixels without a resident point went to the nearest one"
    )
    chinese = note.text("zh")
    assert chinese == (
        "60岁及以上人口：1 个栅格波段（12 个像元）中的 12 人已分配到 4 个居民点；"
        "其中 8 人位于 8 个没有居民点的像元中，已归入最近的居民点"
    )
    assert english_words(chinese) == [], chinese


def test_osm_building_errors_read_in_chinese(nanjing_osm):
    with pytest.raises(InputError) as info:
        residents_from_osm_buildings(
            nanjing_osm, residential_tags=["castle"], residential_landuse=[]
        )
    assert "no residential buildings (building=castle); building values found: yes (1061)" in (
        str(info.value)
    )
    found = str(info.value).split("found: ", 1)[1].split(". Pass", 1)[0]  # the file's own tags
    chinese = assert_chinese_error(info.value, allowed=_words_of(found))
    assert (
        "：没有居住建筑（building=castle）；文件中的建筑类型（building=*）有：yes (1061)" in chinese
    )
    assert "可传入 residential_tags=[...] 计入其他类型，或改用人口栅格或地块表" in chinese
    with pytest.raises(InputError, match=r"residential_tags='residential': give a list") as info:
        buildings_from_osm(nanjing_osm, residential_tags="residential")
    assert "请给出建筑类型值的列表" in assert_chinese_error(info.value)
    with pytest.warns(
        RadiusWarning, match=r"1 residential building outline\(s\) could not be"
    ) as w:
        buildings_from_osm(nanjing_osm, residential_tags=["yes"])
    (note,) = [message_of(item.message) for item in w if isinstance(item.message, RadiusWarning)]
    assert isinstance(note, Message)
    chinese = note.text("zh")
    assert "：1 个居住建筑轮廓无法拼合" in chinese
    assert "导出稍大一些的范围即可包含它们" in chinese
    assert english_words(chinese) == [], chinese


def test_table_reading_errors_read_in_chinese(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    torn = tmp_path / "torn.csv"
    torn.write_text('人口,经度,纬度\n10,118.7,"32.0\n', encoding="utf-8")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(CSV_ZH.encode("gbk"))
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 60)
    folder = tmp_path / "folder"
    folder.mkdir()
    cases = [
        (
            lambda: residents_from_points(empty),
            "empty.csv: the file is empty; expected a header row",
            "empty.csv：文件为空；应有表头行",
        ),
        (
            lambda: residents_from_points(gbk, encoding="ascii"),
            "gbk.csv: cannot be read as ascii text; save it as UTF-8",
            "gbk.csv：无法按 ascii 编码读取；请另存为 UTF-8（Excel 中选“CSV UTF-8”）或 GBK 编码",
        ),
        (
            lambda: residents_from_points(gbk, encoding="klingon"),
            "gbk.csv: unknown text encoding 'klingon'; use e.g. 'utf-8' or 'gb18030'",
            "gbk.csv：未知的文本编码 'klingon'；请使用 'utf-8' 或 'gb18030' 等编码",
        ),
        (
            lambda: residents_from_points(old),
            "old.xls: old .xls workbooks are not supported; save it as .xlsx",
            "old.xls：不支持旧版 .xls 工作簿；请另存为 .xlsx",
        ),
        (
            lambda: read_residents(folder),
            "folder: a folder; give a file (GeoTIFF, OSM, CSV, XLSX, GeoJSON, GPKG)",
            "folder：这是文件夹；请给出文件（GeoTIFF、OSM、CSV、XLSX、GeoJSON、GPKG）",
        ),
    ]
    for call, english, chinese in cases:
        with pytest.raises(InputError) as info:
            call()
        assert english in str(info.value)
        assert chinese in assert_chinese_error(info.value, allowed={"ascii", "klingon", "GeoTIFF"})
    with pytest.raises(InputError) as info:
        residents_from_points(torn)
    assert str(info.value).startswith(f"{torn}: not a readable CSV table (")
    reason = info.value.args[0].params["reason"]  # pandas' own words
    chinese = assert_chinese_error(info.value, allowed=_words_of(reason))
    assert chinese.startswith(f"{torn}：不是可读取的 CSV 表格（")


def test_read_residents_geometry_errors_read_in_chinese(tmp_path):
    bare = tmp_path / "bare.geojson"
    plot_400x300(name=["p"]).to_crs("EPSG:4326").to_file(bare, engine="pyogrio")
    with pytest.raises(InputError) as info:
        read_residents(bare)
    assert "bare.geojson: polygons with no population and no households column" in str(info.value)
    chinese = assert_chinese_error(info.value, allowed={"name"})
    assert (
        "bare.geojson：这些多边形既没有人口列或户数列，也没有建筑层数列；现有的列为 'name'"
        in chinese
    )
    assert "建筑轮廓请添加“层数”列" in chinese
    mixed = tmp_path / "mixed.geojson"
    polygons = [shapely.box(118.7 + k / 1000, 32.0, 118.7005 + k / 1000, 32.0005) for k in range(9)]
    gpd.GeoDataFrame(
        {"population": range(16)},
        geometry=polygons + [shapely.Point(118.7, 32.0 + k / 1000) for k in range(7)],
        crs="EPSG:4326",
    ).to_file(mixed, engine="pyogrio")
    with pytest.raises(InputError) as info:
        read_residents(mixed)
    english = str(info.value)
    assert "mixed.geojson: geometries of kind Point, Polygon; most features are polygons, but" in (
        english
    )
    assert "not feature 10 (Point), feature 11 (Point), feature 12 (Point), feature 13 (Point)" in (
        english
    )
    assert "feature 14 (Point) and 2 more; keep one kind of geometry per file" in english
    chinese = assert_chinese_error(info.value)
    assert "mixed.geojson：几何类型有 Point, Polygon；多数要素是多边形，但以下要素不是" in chinese
    assert "第 10 个要素（Point）、第 11 个要素（Point）、第 12 个要素（Point）" in chinese
    assert "第 14 个要素（Point），另有 2 个；每个文件只能有一种几何" in chinese
    lines = tmp_path / "lines.geojson"
    gpd.GeoDataFrame(
        {"population": [1]},
        geometry=[shapely.LineString([(118.7, 32.0), (118.8, 32.1)])],
        crs="EPSG:4326",
    ).to_file(lines, engine="pyogrio")
    with pytest.raises(InputError, match=r"neither points nor polygons: feature 1 \(LineString\)"):
        read_residents(lines)
    with pytest.raises(InputError) as info:
        read_residents(lines)
    assert "几何类型为 LineString，既不是点也不是多边形：第 1 个要素（LineString）；" in (
        assert_chinese_error(info.value)
    )


def test_command_line_says_a_bad_census_csv_in_one_language(tmp_path, capsys):
    path = tmp_path / "社区人口.csv"
    path.write_bytes(f"{CENSUS_HEADER}\n莫愁湖社区,3200,1100,90\n".encode("gbk"))
    argv = ["analyze", "--population", str(path), "--out"]
    assert main([*argv, str(tmp_path / "zh"), "--lang", "zh"]) == 2
    chinese = capsys.readouterr().err
    assert chinese.startswith(f"radius：错误：{path}：没有经度、纬度列，也没有几何；")
    assert english_words(chinese) == [], chinese
    assert main([*argv, str(tmp_path / "en"), "--lang", "en"]) == 2
    english = capsys.readouterr().err
    assert english.startswith(f"radius: error: {path}: no lon/lat columns")
    assert "columns found: '社区', '户数', '60岁及以上人口', '0-3岁人口'" in english
    # Chinese only in the file's own name and headers, and the headers it would accept
    ours = re.sub(r"'[^']*'|`[^`]*`", "", english.replace(str(path), ""))
    assert not re.search(r"[\u4e00-\u9fff]", ours), english
