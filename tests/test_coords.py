"""WGS-84 / GCJ-02 / BD-09: published reference points, round trips, frames, offset signature."""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from radius._errors import CRSError, InputError
from radius.config import load_categories
from radius.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert,
    convert_frame,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_mainland_china,
    offset_signature,
    offset_signature_on_tree,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from radius.facilities import facilities_from_osm
from radius.network import StreetNetwork, load_network
from tests.language_checks import assert_chinese_error


def ground_m(lon_a, lat_a, lon_b, lat_b) -> np.ndarray:
    """Distance in metres between nearby lon/lat points (local equirectangular)."""
    lat = np.radians((np.asarray(lat_a) + np.asarray(lat_b)) / 2.0)
    dx = (np.asarray(lon_a) - np.asarray(lon_b)) * 111_320.0 * np.cos(lat)
    dy = (np.asarray(lat_a) - np.asarray(lat_b)) * 110_574.0
    return np.hypot(dx, dy)


# --- reference points -------------------------------------------------------------------

# The reference implementation of the published algorithm, wandergis/coordtransform
# (test/app.js; the same values are pinned by hutool's CoordinateUtilTest): exact outputs.
CT_INPUT = (116.404, 39.915)
CT_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
CT_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
# Its one-step "inverses" are approximations; ours are exact inverses and differ slightly.
CT_GCJ02_TO_WGS84_APPROX = (116.39775550083061, 39.91359571849836)
CT_BD09_TO_GCJ02_APPROX = (116.39762729119315, 39.90865673957631)

# hujiulong/gcoord test/fixtures/china-cities.json: the same place in WGS-84, GCJ-02 and
# BD-09 as published by map services (7 decimals, about 1 cm). The published GCJ-02
# algorithm reproduces these GCJ-02 coordinates to 0.66-0.69 m and the BD-09 ones from
# GCJ-02 to under 1 cm.
CITIES = {
    "郑州 Zhengzhou": (
        (113.6192856, 34.7478004),
        (113.6253334, 34.7466173),
        (113.6317519, 34.7528605),
    ),
    "沈阳 Shenyang": (
        (123.4253306, 41.8032629),
        (123.4314787, 41.8057023),
        (123.438095, 41.8114013),
    ),
    "泉州 Quanzhou": (
        (118.6711365, 24.8770487),
        (118.6756787, 24.8741363),
        (118.6821251, 24.8804872),
    ),
    "泰州 Taizhou": (
        (119.9183831, 32.4580023),
        (119.9231242, 32.4557802),
        (119.9296902, 32.4615531),
    ),
    "汕头 Shantou": (
        (116.6775114, 23.3567569),
        (116.6819735, 23.3540964),
        (116.6885014, 23.3598884),
    ),
    "酒泉 Jiuquan": ((98.4937175, 39.7319946), (98.4943595, 39.7328234), (98.5008441, 39.7388949)),
    "那曲 Nagqu": ((92.0499619, 31.4784436), (92.0512438, 31.4762063), (92.0576832, 31.4824421)),
    "锡林浩特 Xilinhot": (
        (116.0414035, 43.9312805),
        (116.0482308, 43.9334573),
        (116.0546232, 43.9397782),
    ),
}


def test_reference_implementation_outputs_exactly() -> None:
    lon, lat = wgs84_to_gcj02(*CT_INPUT)
    assert float(lon) == pytest.approx(CT_WGS84_TO_GCJ02[0], abs=1e-11)
    assert float(lat) == pytest.approx(CT_WGS84_TO_GCJ02[1], abs=1e-11)
    lon, lat = gcj02_to_bd09(*CT_INPUT)
    assert float(lon) == pytest.approx(CT_GCJ02_TO_BD09[0], abs=1e-11)
    assert float(lat) == pytest.approx(CT_GCJ02_TO_BD09[1], abs=1e-11)


def test_exact_inverses_improve_on_the_one_step_approximations() -> None:
    # The crude GCJ-02 inverse (subtract the offset at the GCJ-02 point) is off by ~0.3 m
    # here; the closed-form BD-09 inverse by ~5 cm. Ours round-trip to under 1 mm.
    lon, lat = gcj02_to_wgs84(*CT_INPUT)
    assert 0.05 < ground_m(lon, lat, *CT_GCJ02_TO_WGS84_APPROX) < 2.0
    assert ground_m(*wgs84_to_gcj02(lon, lat), *CT_INPUT) < 1e-3
    lon, lat = bd09_to_gcj02(*CT_INPUT)
    assert 0.001 < ground_m(lon, lat, *CT_BD09_TO_GCJ02_APPROX) < 0.5
    assert ground_m(*gcj02_to_bd09(lon, lat), *CT_INPUT) < 1e-3


@pytest.mark.parametrize("city", sorted(CITIES))
def test_published_city_coordinates(city: str) -> None:
    wgs, gcj, bd = (np.array(c) for c in CITIES[city])
    assert ground_m(*wgs84_to_gcj02(*wgs), *gcj) < 1.0
    assert ground_m(*gcj02_to_wgs84(*gcj), *wgs) < 1.0
    assert ground_m(*gcj02_to_bd09(*gcj), *bd) < 0.02
    assert ground_m(*bd09_to_gcj02(*bd), *gcj) < 0.02
    assert ground_m(*wgs84_to_bd09(*wgs), *bd) < 1.0
    assert ground_m(*bd09_to_wgs84(*bd), *wgs) < 1.0


def test_published_city_coordinates_vectorised() -> None:
    wgs = np.array([c[0] for c in CITIES.values()])
    gcj = np.array([c[1] for c in CITIES.values()])
    lon, lat = wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    assert lon.shape == (len(CITIES),)
    error = ground_m(lon, lat, gcj[:, 0], gcj[:, 1])
    assert error.max() < 1.0
    # The map services' GCJ-02 differs from the published formula by a steady ~0.67 m.
    assert error.min() > 0.6
    assert error.max() < 0.75


def test_tiananmen_pair_is_within_a_metre() -> None:
    # The widely cited Tiananmen pair WGS-84 (116.391275, 39.906217) / GCJ-02
    # (116.397524, 39.907614) is rounded: the formula gives (116.397516, 39.907618),
    # 0.8 m from the cited GCJ-02 point.
    lon, lat = wgs84_to_gcj02(116.391275, 39.906217)
    assert 0.5 < ground_m(lon, lat, 116.397524, 39.907614) < 1.0
    lon, lat = gcj02_to_wgs84(116.397524, 39.907614)
    assert ground_m(lon, lat, 116.391275, 39.906217) < 1.0


def test_gcoord_unit_values() -> None:
    # hujiulong/gcoord test/unit/crs/GCJ02.spec.ts (its inverse stops at 1e-6 degree).
    lon, lat = gcj02_to_wgs84(123.0, 45.0)
    assert float(lon) == pytest.approx(122.99395597, abs=1e-6)
    assert float(lat) == pytest.approx(44.99804071, abs=1e-6)
    lon, lat = gcj02_to_bd09(123.0, 45.0)
    assert float(lon) == pytest.approx(123.00636499, abs=1e-8)
    assert float(lat) == pytest.approx(45.00636899, abs=1e-8)


# --- round trips ---------------------------------------------------------------------------

# Mainland China well inside the bounding box of the algorithm.
china_lon = st.floats(73.5, 134.8, allow_nan=False)
china_lat = st.floats(18.2, 53.5, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(lon=china_lon, lat=china_lat)
def test_round_trips_under_a_millimetre(lon: float, lat: float) -> None:
    assert ground_m(*gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat)), lon, lat) < 1e-3
    assert ground_m(*wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat)), lon, lat) < 1e-3
    assert ground_m(*bd09_to_gcj02(*gcj02_to_bd09(lon, lat)), lon, lat) < 1e-3
    assert ground_m(*gcj02_to_bd09(*bd09_to_gcj02(lon, lat)), lon, lat) < 1e-3
    assert ground_m(*bd09_to_wgs84(*wgs84_to_bd09(lon, lat)), lon, lat) < 1e-3
    assert ground_m(*wgs84_to_bd09(*bd09_to_wgs84(lon, lat)), lon, lat) < 1e-3


@settings(max_examples=30, deadline=None)
@given(
    lon=arrays(np.float64, (40,), elements=china_lon),
    lat=arrays(np.float64, (40,), elements=china_lat),
)
def test_vectorised_round_trip_matches_one_by_one(lon: np.ndarray, lat: np.ndarray) -> None:
    gx, gy = wgs84_to_gcj02(lon, lat)
    one_by_one = np.array(
        [[float(v) for v in wgs84_to_gcj02(x, y)] for x, y in zip(lon, lat, strict=True)]
    )
    np.testing.assert_array_equal(np.column_stack([gx, gy]), one_by_one)
    wx, wy = gcj02_to_wgs84(gx, gy)
    assert ground_m(wx, wy, lon, lat).max() < 1e-3


def test_offset_size_in_eastern_china() -> None:
    # WGS-84 city centres; GCJ-02 moves them by a few hundred metres.
    cities = np.array(
        [
            (116.397, 39.909),  # Beijing
            (121.474, 31.230),  # Shanghai
            (118.784, 32.042),  # Nanjing
            (113.264, 23.129),  # Guangzhou
            (114.058, 22.543),  # Shenzhen
            (120.155, 30.274),  # Hangzhou
            (114.305, 30.593),  # Wuhan
            (123.431, 41.806),  # Shenyang
        ]
    )
    lon, lat = wgs84_to_gcj02(cities[:, 0], cities[:, 1])
    offset = ground_m(lon, lat, cities[:, 0], cities[:, 1])
    assert ((offset > 300.0) & (offset < 700.0)).all(), offset
    # GCJ-02 lies to the east (and BD-09 further north-east) of WGS-84 there.
    assert (lon > cities[:, 0]).all()
    bx, by = wgs84_to_bd09(cities[:, 0], cities[:, 1])
    assert (ground_m(bx, by, cities[:, 0], cities[:, 1]) > offset).all()


# --- outside China, shapes, systems -------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(24.94, 60.17), (-122.27, 37.80), (151.21, -33.87), (0.0, 0.0), (139.0, 35.7), (70.0, 40.0)],
)
def test_identity_outside_mainland_china(lon: float, lat: float) -> None:
    assert not in_mainland_china(lon, lat)
    for function in (wgs84_to_gcj02, gcj02_to_wgs84):
        x, y = function(lon, lat)
        assert (float(x), float(y)) == (lon, lat)
    assert ground_m(*bd09_to_wgs84(*wgs84_to_bd09(lon, lat)), lon, lat) < 1e-3


def test_mixed_inside_and_outside() -> None:
    lon = np.array([116.4, 24.94, 121.47])
    lat = np.array([39.9, 60.17, 31.23])
    x, y = wgs84_to_gcj02(lon, lat)
    assert x[1] == lon[1]
    assert y[1] == lat[1]
    assert x[0] != lon[0]
    assert x[2] != lon[2]
    wx, wy = gcj02_to_wgs84(x, y)
    assert ground_m(wx, wy, lon, lat).max() < 1e-3


def test_shapes_scalars_broadcasting_and_nan() -> None:
    lon, lat = wgs84_to_gcj02(116.4, 39.9)
    assert isinstance(lon, np.ndarray)
    assert lon.shape == ()
    assert lat.shape == ()
    grid = np.full((3, 4), 118.78)
    for function in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, bd09_to_wgs84):
        x, y = function(grid, 32.04)  # a scalar latitude broadcasts
        assert x.shape == (3, 4)
        assert y.shape == (3, 4)
        assert x.dtype == np.float64
        x, y = function([118.78, math.nan], [32.04, math.nan])
        assert np.isfinite(x[0])
        assert np.isnan(x[1])
        assert np.isnan(y[1])
        x, y = function(np.array([], dtype=float), np.array([], dtype=float))
        assert x.shape == (0,)
    # Inputs are never modified in place.
    original = grid.copy()
    gcj02_to_wgs84(grid, 32.04)
    np.testing.assert_array_equal(grid, original)


def test_system_names() -> None:
    lon, lat = 118.78, 32.04
    for system in ("wgs84", "cgcs2000", "WGS-84", "EPSG:4490", "epsg:4326"):
        x, y = to_wgs84(lon, lat, system)
        assert (float(x), float(y)) == (lon, lat)
    np.testing.assert_array_equal(to_wgs84(lon, lat, "gcj02"), gcj02_to_wgs84(lon, lat))
    np.testing.assert_array_equal(to_wgs84(lon, lat, "BD-09"), bd09_to_wgs84(lon, lat))
    np.testing.assert_array_equal(from_wgs84(lon, lat, "gcj02"), wgs84_to_gcj02(lon, lat))
    np.testing.assert_array_equal(convert(lon, lat, "gcj02", "bd09"), gcj02_to_bd09(lon, lat))
    with pytest.raises(InputError, match=r"unknown coordinate system 'mars'.*gcj02.*Baidu") as e:
        to_wgs84(lon, lat, "mars")
    chinese = assert_chinese_error(e.value, allowed={"mars", "GPS"})
    assert "未知的坐标系 'mars'；请使用 wgs84, gcj02, bd09, cgcs2000 之一" in chinese
    assert "百度地图用 BD-09" in chinese


# --- frames -------------------------------------------------------------------------------


def mixed_frame() -> gpd.GeoDataFrame:
    geometries = [
        shapely.Point(118.78, 32.04),
        shapely.Point(118.78, 32.04, 12.5),
        shapely.LineString([(118.77, 32.03), (118.79, 32.05)]),
        shapely.box(118.77, 32.03, 118.78, 32.04),
        shapely.MultiPolygon([shapely.box(118.70, 32.00, 118.71, 32.01)]),
        shapely.GeometryCollection([shapely.Point(118.7, 32.0), shapely.Point(24.9, 60.2)]),
        shapely.Polygon(),
        None,
    ]
    return gpd.GeoDataFrame(
        {"name": [f"f{i}" for i in range(len(geometries))]},
        geometry=geometries,
        crs="EPSG:4326",
        index=np.arange(10, 10 + len(geometries)),
    )


def test_convert_frame_any_geometry_type() -> None:
    frame = mixed_frame()
    moved = convert_frame(frame, "wgs84", "gcj02")
    assert isinstance(moved, gpd.GeoDataFrame)
    assert moved.crs == frame.crs
    assert list(moved.index) == list(frame.index)
    assert list(moved["name"]) == list(frame["name"])
    assert list(moved.geom_type.fillna("none")) == list(frame.geom_type.fillna("none"))
    point = moved.geometry.iloc[0]
    expected = wgs84_to_gcj02(118.78, 32.04)
    assert (point.x, point.y) == (float(expected[0]), float(expected[1]))
    assert moved.geometry.iloc[1].has_z
    assert moved.geometry.iloc[1].z == 12.5
    # Every vertex moved the same way as the point functions move it.
    line = shapely.get_coordinates(moved.geometry.iloc[2])
    np.testing.assert_allclose(
        np.column_stack(wgs84_to_gcj02([118.77, 118.79], [32.03, 32.05])), line
    )
    # The part outside China in the collection stays put.
    assert shapely.get_coordinates(moved.geometry.iloc[5])[1].tolist() == [24.9, 60.2]
    assert moved.geometry.iloc[6].is_empty
    assert moved.geometry.iloc[7] is None
    # The input is untouched.
    assert frame.geometry.iloc[0].x == 118.78
    back = convert_frame(moved, "gcj02", "wgs84")
    for a, b in zip(back.geometry.iloc[:6], frame.geometry.iloc[:6], strict=True):
        assert ground_m(*shapely.get_coordinates(a).T, *shapely.get_coordinates(b).T).max() < 1e-3


def test_convert_frame_series_and_named_geometry_column() -> None:
    series = mixed_frame().geometry
    moved = convert_frame(series, "cgcs2000", "bd09")
    assert isinstance(moved, gpd.GeoSeries)
    assert len(moved) == len(series)
    frame = mixed_frame().rename_geometry("shape")
    moved_frame = convert_frame(frame, "wgs84", "bd09")
    assert moved_frame.geometry.name == "shape"
    assert moved_frame.geometry.iloc[0].equals(moved.iloc[0])
    same = convert_frame(frame, "wgs84", "cgcs2000")
    assert same is not frame
    assert same.geometry.iloc[0].equals(frame.geometry.iloc[0])


def test_convert_frame_moves_every_geometry_column() -> None:
    frame = mixed_frame().iloc[:3].copy()
    frame["entrance"] = gpd.GeoSeries(
        [shapely.Point(118.781, 32.041)] * 3, index=frame.index, crs="EPSG:4326"
    )
    moved = convert_frame(frame, "wgs84", "gcj02")
    assert moved.geometry.name == "geometry"
    entrance = moved["entrance"].iloc[0]
    expected = wgs84_to_gcj02(118.781, 32.041)
    assert (entrance.x, entrance.y) == (float(expected[0]), float(expected[1]))
    assert moved["entrance"].crs == frame["entrance"].crs


def test_convert_frame_refuses_projected_coordinates() -> None:
    frame = mixed_frame().iloc[:1].to_crs("EPSG:32650")
    with pytest.raises(
        CRSError, match=r"longitude/latitude.*EPSG:32650.*to_crs\('EPSG:4326'\)"
    ) as e:
        convert_frame(frame, "gcj02", "wgs84")
    assert "但该数据的坐标系为 EPSG:32650；请先调用 .to_crs('EPSG:4326')" in assert_chinese_error(
        e.value
    )


# --- offset signature on real OSM points ------------------------------------------------------


@pytest.fixture(scope="module")
def beijing_network() -> StreetNetwork:
    from tests.conftest import shared_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # islands and similar notes of the loader
        return load_network(shared_file("cn_beijing_haidian_cau.osm"))


@pytest.fixture(scope="module")
def beijing_stores_and_streets(
    beijing_network: StreetNetwork,
) -> tuple[gpd.GeoDataFrame, gpd.GeoSeries]:
    from tests.conftest import shared_file

    path = shared_file("cn_beijing_haidian_cau.osm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        facilities = facilities_from_osm(path, load_categories(ids=["convenience_store"]))
    stores = facilities[facilities.geom_type == "Point"].reset_index(drop=True)
    assert len(stores) >= 10
    return stores, beijing_network.edges.geometry.to_crs("EPSG:4326")


def test_offset_signature_of_correct_points(beijing_stores_and_streets) -> None:
    stores, streets = beijing_stores_and_streets
    signature = offset_signature(stores, streets)
    assert signature["n_points"] == len(stores)
    assert signature["likely_system"] == "wgs84"
    assert signature["median_m_as_given"] < 25.0
    assert signature["median_m_as_gcj02"] > 2 * signature["median_m_as_given"]
    assert signature["median_m_as_bd09"] > 2 * signature["median_m_as_given"]


def test_offset_signature_spots_unconverted_gcj02(beijing_stores_and_streets) -> None:
    stores, streets = beijing_stores_and_streets
    truth = offset_signature(stores, streets)
    as_gaode = convert_frame(stores, "wgs84", "gcj02")  # what an Amap export would hold
    signature = offset_signature(as_gaode, streets)
    assert signature["likely_system"] == "gcj02"
    # Converting them back puts them exactly where they were.
    assert signature["median_m_as_gcj02"] == pytest.approx(truth["median_m_as_given"], abs=1e-3)
    assert signature["median_m_as_given"] > 2 * signature["median_m_as_gcj02"]


def test_offset_signature_spots_unconverted_bd09(beijing_stores_and_streets) -> None:
    stores, streets = beijing_stores_and_streets
    truth = offset_signature(stores, streets)
    signature = offset_signature(convert_frame(stores, "wgs84", "bd09"), streets)
    assert signature["likely_system"] == "bd09"
    assert signature["median_m_as_bd09"] == pytest.approx(truth["median_m_as_given"], abs=1e-3)


def test_offset_signature_in_the_network_crs(beijing_stores_and_streets) -> None:
    """Streets given in the metric CRS named are measured there: the same medians."""
    stores, streets = beijing_stores_and_streets
    metric = streets.estimate_utm_crs()
    as_gaode = convert_frame(stores, "wgs84", "gcj02")
    for points in (stores, as_gaode):
        truth = offset_signature(points, streets)
        fast = offset_signature(points, streets.to_crs(metric), metric_crs=metric)
        assert fast["likely_system"] == truth["likely_system"]
        for key in ("median_m_as_given", "median_m_as_gcj02", "median_m_as_bd09"):
            assert fast[key] == pytest.approx(truth[key], abs=1e-3)
    # Another metric CRS than the streets': they are reprojected into it.
    other = offset_signature(stores, streets.to_crs(metric), metric_crs="EPSG:3857")
    assert other["likely_system"] == "wgs84"
    assert other["median_m_as_given"] > offset_signature(stores, streets)["median_m_as_given"]


@pytest.mark.parametrize("system", ["wgs84", "gcj02", "bd09"])
def test_offset_signature_on_the_network_index_agrees(
    beijing_network: StreetNetwork, beijing_stores_and_streets, system: str
) -> None:
    # What the pipeline runs: the points against the network's own metric edge index.
    stores, streets = beijing_stores_and_streets
    network = beijing_network
    points = convert_frame(stores, "wgs84", system) if system != "wgs84" else stores
    reference = offset_signature(points, streets)
    signature = offset_signature_on_tree(points, network.edge_tree, network.crs)
    assert signature["likely_system"] == reference["likely_system"] == system
    assert signature["n_points"] == reference["n_points"]
    for key in ("median_m_as_given", "median_m_as_gcj02", "median_m_as_bd09"):
        assert signature[key] == pytest.approx(reference[key], abs=0.01)
    few = offset_signature_on_tree(points.iloc[:3], network.edge_tree, network.crs)
    assert few["likely_system"] is None
    assert math.isfinite(few["median_m_as_given"])
    with pytest.raises(CRSError, match=r"points_wgs84 has no CRS; set it") as excinfo:
        offset_signature_on_tree(
            stores.set_crs(None, allow_override=True), network.edge_tree, network.crs
        )
    assert "points_wgs84 没有坐标系（CRS）" in assert_chinese_error(excinfo.value)


def test_offset_signature_edge_cases(beijing_stores_and_streets) -> None:
    stores, streets = beijing_stores_and_streets
    few = offset_signature(stores.iloc[:3], streets)
    assert few["n_points"] == 3
    assert few["likely_system"] is None
    assert math.isfinite(few["median_m_as_given"])
    polygons = gpd.GeoSeries([shapely.box(116.35, 40.0, 116.36, 40.01)], crs="EPSG:4326")
    empty = offset_signature(polygons, streets)
    assert empty["n_points"] == 0
    assert math.isnan(empty["median_m_as_given"])
    with pytest.raises(CRSError, match="points_wgs84 has no CRS") as excinfo:
        offset_signature(stores.set_crs(None, allow_override=True), streets)
    assert ".set_crs('EPSG:4326')" in assert_chinese_error(excinfo.value)
    with pytest.raises(CRSError, match="street_lines_wgs84 has no CRS") as excinfo:
        offset_signature(stores, streets.set_crs(None, allow_override=True))
    assert "street_lines_wgs84 没有坐标系" in assert_chinese_error(excinfo.value)
