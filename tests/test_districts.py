"""Tests of radius.districts: user polygons, arterial blocks, hexagons, residents per district."""

from __future__ import annotations

import math
import re
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString, Point, Polygon, box

from radius._errors import CRSError, InputError
from radius.cli import main
from radius.districts import (
    AREA_TYPE_WORDS,
    DISTRICT_COLUMNS,
    assign_residents,
    block_districts,
    district_totals,
    districts_from_frame,
    hexagon_districts,
    read_districts,
)
from radius.i18n import RadiusWarning
from radius.network import StreetNetwork, choose_metric_crs, load_network, network_from_segments
from tests.conftest import shared_file
from tests.language_checks import ALLOWED_IN_CHINESE, assert_chinese_error, english_words

UTM50 = "EPSG:32650"
X0, Y0 = 668_000.0, 3_545_000.0
"""A point in Nanjing in UTM zone 50N, origin of the hand-made districts."""
NANJING_CORE = (118.7647, 32.0278, 118.7965, 32.0517)
"""The 5th–95th percentile extent of the Nanjing extract (SOURCES.md)."""
TWO_SQUARES_DEG = (
    box(118.780, 32.040, 118.781, 32.041),
    box(118.781, 32.040, 118.782, 32.041),
)
"""Two adjacent squares in WGS-84 sharing the meridian 118.781 (exact in binary floats)."""

# file: (number of blocks, smallest block m², total block area km², blocks of primary and
# secondary roads only)
REAL_BLOCKS: dict[str, tuple[int, float, float, int]] = {
    "cn_nanjing_xinjiekou.osm": (17, 37_712.4, 3.266, 7),
    "cn_shanghai_center_roads.osm.pbf": (374, 10_141.5, 56.461, 152),
}


# --------------------------------------------------------------------------- helpers


def squares_utm(
    *offsets: tuple[float, float, float], **columns: Sequence[object]
) -> gpd.GeoDataFrame:
    """Squares (x, y, side) in metres from (X0, Y0), in UTM 50N, with extra columns."""
    geometry = [box(X0 + x, Y0 + y, X0 + x + side, Y0 + y + side) for x, y, side in offsets]
    return gpd.GeoDataFrame(dict(columns), geometry=geometry, crs=UTM50)


def residents_frame(
    points: Sequence[tuple[float, float]], population: Sequence[float], crs: str = "EPSG:4326"
) -> gpd.GeoDataFrame:
    """A residents frame following the radius.population contract."""
    n = len(points)
    return gpd.GeoDataFrame(
        {
            "resident_id": [f"r{k}" for k in range(n)],
            "population": [float(p) for p in population],
            "households": [float(p) / 2.5 for p in population],
            "source": ["test"] * n,
            "area_type": ["old"] * n,
        },
        geometry=[Point(x, y) for x, y in points],
        crs=crs,
    )


def two_districts() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {
            "district_id": ["west", "east"],
            "name": ["西社区", "东社区"],
            "area_type": ["新区", "老区"],
        },
        geometry=list(TWO_SQUARES_DEG),
        crs="EPSG:4326",
    )
    return districts_from_frame(frame)


def grid_network(
    lines: Sequence[tuple[tuple[float, float], tuple[float, float], str]],
) -> StreetNetwork:
    """A network from straight segments ((x, y), (x, y), highway) in metres from (X0, Y0)."""
    segments = gpd.GeoDataFrame(
        {"highway": [h for _, _, h in lines]},
        geometry=[
            LineString([(X0 + a[0], Y0 + a[1]), (X0 + b[0], Y0 + b[1])]) for a, b, _ in lines
        ],
        crs=UTM50,
    )
    return network_from_segments(segments, source="hand-made grid", crs=UTM50)


def lattice_lines(
    n: int, step: float, highway: str
) -> list[tuple[tuple[float, float], tuple[float, float], str]]:
    """The segments of an n × n lattice of roads ``step`` metres apart."""
    lines = []
    for i in range(n):
        for j in range(n - 1):
            lines.append(((i * step, j * step), (i * step, (j + 1) * step), highway))
            lines.append(((j * step, i * step), ((j + 1) * step, i * step), highway))
    return lines


def load_quietly(path: Path) -> StreetNetwork:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return load_network(path)


def max_pairwise_overlap_m2(frame: gpd.GeoDataFrame, crs: object) -> float:
    metric = np.asarray(frame.to_crs(crs).geometry.array, dtype=object)
    left, right = shapely.STRtree(metric).query(metric, predicate="intersects")
    keep = left < right
    if not keep.any():
        return 0.0
    return float(shapely.area(shapely.intersection(metric[left[keep]], metric[right[keep]])).max())


def write_zipped_shapefile(frame: gpd.GeoDataFrame, folder: Path, *, keep_prj: bool = True) -> Path:
    shp_dir = folder / "shp"
    shp_dir.mkdir()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Column names longer than 10", UserWarning)
        warnings.filterwarnings("ignore", "Normalized/laundered field name", RuntimeWarning)
        frame.to_file(shp_dir / "districts.shp", engine="pyogrio")
    archive = folder / "districts.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for member in sorted(shp_dir.iterdir()):
            if keep_prj or member.suffix != ".prj":
                zipped.write(member, member.name)
    return archive


# --------------------------------------------------------------------------- user polygons


def test_two_adjacent_squares_make_a_valid_districts_frame() -> None:
    districts = two_districts()
    assert list(districts.columns) == list(DISTRICT_COLUMNS)
    assert districts.crs.to_epsg() == 4326
    assert districts["district_id"].to_list() == ["west", "east"]
    assert districts["name"].to_list() == ["西社区", "东社区"]
    assert districts["area_type"].to_list() == ["new", "old"]
    assert districts["kind"].to_list() == ["user", "user"]
    assert all(pd.api.types.is_string_dtype(districts[c]) for c in DISTRICT_COLUMNS[:-1])
    assert districts.geometry.is_valid.all()
    assert shapely.equals(districts.geometry.iloc[0], TWO_SQUARES_DEG[0])


@pytest.mark.parametrize(("word", "expected"), sorted(AREA_TYPE_WORDS.items()))
def test_area_type_words_are_mapped(word: str, expected: str) -> None:
    frame = squares_utm((0, 0, 100), area_type=[word])
    assert districts_from_frame(frame)["area_type"].to_list() == [expected]


@pytest.mark.parametrize(("word", "expected"), [(" NEW ", "new"), ("Old", "old")])
def test_area_type_english_words_ignore_case_and_spaces(word: str, expected: str) -> None:
    frame = squares_utm((0, 0, 100), area_type=[word])
    assert districts_from_frame(frame)["area_type"].to_list() == [expected]


def test_blank_area_type_takes_the_default() -> None:
    frame = squares_utm((0, 0, 100), (100, 0, 100), area_type=["老旧小区", None])
    districts = districts_from_frame(frame, default_area_type="既有")
    assert districts["area_type"].to_list() == ["old", "old"]
    no_column = districts_from_frame(squares_utm((0, 0, 100)), default_area_type="old")
    assert no_column["area_type"].to_list() == ["old"]
    assert districts_from_frame(squares_utm((0, 0, 100)))["area_type"].to_list() == ["new"]


def test_unknown_area_type_names_row_column_and_value() -> None:
    frame = squares_utm((0, 0, 100), (100, 0, 100), (200, 0, 100), area_type=["新", "郊区", "x"])
    with pytest.raises(InputError, match=r"2 problem\(s\)") as caught:
        districts_from_frame(frame, source="plan.gpkg")
    message = str(caught.value)
    assert message.startswith("plan.gpkg: ")
    assert "row 2, column 'area_type': unknown area type '郊区'" in message
    assert "row 3, column 'area_type': unknown area type 'x'" in message
    assert "老旧小区" in message  # the fix lists the accepted words


def test_bad_default_area_type_is_an_error() -> None:
    with pytest.raises(InputError, match="default_area_type 'mixed' is not one of"):
        districts_from_frame(squares_utm((0, 0, 100)), default_area_type="mixed")


def test_ids_and_names_from_chinese_columns_and_row_numbers() -> None:
    frame = squares_utm((0, 0, 100), (100, 0, 100), 编号=[7, 8], 名称=["甲", "乙"])
    districts = districts_from_frame(frame)
    assert districts["district_id"].to_list() == ["7", "8"]
    assert districts["name"].to_list() == ["甲", "乙"]
    plain = districts_from_frame(squares_utm((0, 0, 100), (100, 0, 100)))
    assert plain["district_id"].to_list() == ["1", "2"]
    assert plain["name"].to_list() == ["", ""]
    whole_floats = squares_utm((0, 0, 100), (100, 0, 100), CODE=[3.0, 4.0], 社区=["a", "b"])
    assert districts_from_frame(whole_floats)["district_id"].to_list() == ["3", "4"]


def test_id_and_name_columns_can_be_chosen() -> None:
    frame = squares_utm(
        (0, 0, 100), (100, 0, 100), id=["a", "b"], 街道代码=["S1", "S2"], label=["x", "y"]
    )
    districts = districts_from_frame(frame, id_column="街道代码", name_column="LABEL")
    assert districts["district_id"].to_list() == ["S1", "S2"]
    assert districts["name"].to_list() == ["x", "y"]
    with pytest.raises(
        InputError, match=r"has no id column 'zone'; its columns are id, 街道代码, label"
    ):
        districts_from_frame(frame, id_column="zone")


def test_every_row_problem_is_collected_into_one_error() -> None:
    frame = gpd.GeoDataFrame(
        {"district_id": ["a", "a", "b", "c", None, "d"]},
        geometry=[
            box(X0, Y0, X0 + 1, Y0 + 1),
            box(X0 + 1, Y0, X0 + 2, Y0 + 1),
            Point(X0 + 5, Y0 + 5),
            LineString([(X0, Y0 + 3), (X0 + 1, Y0 + 3)]),
            box(X0 + 3, Y0, X0 + 4, Y0 + 1),
            None,
        ],
        crs=UTM50,
    )
    with pytest.raises(InputError, match=r"5 problem\(s\) in the districts") as caught:
        districts_from_frame(frame, source="communities.geojson")
    message = str(caught.value)
    assert "rows 1, 2, column 'district_id': duplicate district id 'a'" in message
    assert "row 5, column 'district_id': the district id is empty" in message
    assert "row 3, column 'geometry': a Point, not a polygon" in message
    assert "row 4, column 'geometry': a LineString, not a polygon" in message
    assert "row 6, column 'geometry': the geometry is empty" in message
    assert "fix:" in message
    assert not isinstance(caught.value, CRSError)


def test_empty_geometry_is_named() -> None:
    frame = squares_utm((0, 0, 100), (100, 0, 100))
    frame.loc[1, "geometry"] = Polygon()
    with pytest.raises(InputError, match=r"row 2, column 'geometry': the geometry is empty"):
        districts_from_frame(frame)


def test_invalid_polygon_is_repaired_with_a_warning_naming_the_row() -> None:
    bowtie = Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    square = box(X0 + 500, Y0, X0 + 600, Y0 + 100)
    frame = gpd.GeoDataFrame({"id": ["ok", "bowtie"]}, geometry=[square, bowtie], crs=UTM50)
    with pytest.warns(
        UserWarning, match=r"1 invalid district polygon\(s\) repaired .*row 2 \(Self-intersection"
    ):
        districts = districts_from_frame(frame)
    assert districts.geometry.is_valid.all()
    repaired = districts.to_crs(UTM50).geometry.iloc[1]
    assert repaired.geom_type == "MultiPolygon"
    assert repaired.area == pytest.approx(5_000.0, rel=1e-6)


def test_unrepairable_polygon_is_an_error() -> None:
    flat = Polygon([(X0, Y0), (X0 + 50, Y0 + 50), (X0 + 100, Y0 + 100), (X0, Y0)])
    frame = gpd.GeoDataFrame({"id": ["flat"]}, geometry=[flat], crs=UTM50)
    with pytest.raises(
        InputError, match=r"row 1, column 'geometry': invalid polygon .* cannot be repaired"
    ):
        districts_from_frame(frame)


def test_missing_crs_is_a_crs_error_listing_other_problems_too() -> None:
    frame = squares_utm((0, 0, 100), (100, 0, 100), id=["a", "a"]).set_crs(
        None, allow_override=True
    )
    with pytest.raises(CRSError, match=r"no coordinate reference system") as caught:
        districts_from_frame(frame, source="nocrs.shp")
    assert "rows 1, 2, column 'id': duplicate district id 'a'" in str(caught.value)
    assert str(caught.value).startswith("nocrs.shp: 2 problem(s)")


def test_projected_coordinates_labelled_wgs84_are_a_crs_error() -> None:
    frame = squares_utm((0, 0, 100)).set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(CRSError, match=r"not longitudes and latitudes; fix: set the CRS"):
        districts_from_frame(frame)


def test_empty_layer_is_an_error() -> None:
    empty = gpd.GeoDataFrame({"id": []}, geometry=[], crs=UTM50)
    with pytest.raises(InputError, match="the districts layer is empty"):
        districts_from_frame(empty, source="empty.gpkg")


def test_overlapping_pair_is_an_error_with_its_exact_area() -> None:
    # 100 m squares, the second shifted 70 m east: a 30 m × 100 m = 3,000 m² overlap.
    frame = squares_utm((0, 0, 100), (70, 0, 100), (300, 0, 100), id=["A", "B", "C"])
    with pytest.raises(InputError, match="counted twice") as caught:
        districts_from_frame(frame, source="plan.gpkg")
    message = str(caught.value)
    assert "column 'geometry': 1 pair(s) of districts overlap" in message
    assert "rows 1 and 2 (district_id 'A' and 'B') overlap by 3,000.0 m²" in message
    assert "allow_overlap=True" in message
    assert "'C'" not in message


def test_overlap_is_reported_with_other_problems() -> None:
    frame = squares_utm((0, 0, 100), (50, 0, 100), id=["A", "B"], area_type=["new", "??"])
    with pytest.raises(InputError, match=r"2 problem\(s\)") as caught:
        districts_from_frame(frame)
    assert "overlap by 5,000.0 m²" in str(caught.value)
    assert "row 2, column 'area_type'" in str(caught.value)


def test_allow_overlap_turns_the_error_into_a_warning() -> None:
    frame = squares_utm((0, 0, 100), (70, 0, 100), id=["A", "B"])
    with pytest.warns(
        UserWarning, match=r"rows 1 and 2 \(district_id 'A' and 'B'\) overlap by 3,000.0 m²"
    ):
        districts = districts_from_frame(frame, allow_overlap=True)
    assert len(districts) == 2


def test_contained_district_counts_as_overlap() -> None:
    frame = squares_utm((0, 0, 100), (10, 10, 20), id=["outer", "inner"])
    with pytest.raises(InputError, match=r"'outer' and 'inner'\) overlap by 400.0 m²"):
        districts_from_frame(frame)


def test_digitising_noise_is_not_an_overlap() -> None:
    # 0.5 m² on a 10,000 m² district: at most 1 m² and at most 0.1 % -> tolerated.
    frame = squares_utm((0, 0, 100), (99.995, 0, 100))
    assert len(districts_from_frame(frame)) == 2


def test_small_overlap_on_a_small_district_is_an_overlap() -> None:
    # 0.5 m² is more than 0.1 % of a 20 m × 20 m district (0.4 m²).
    frame = squares_utm((0, 0, 20), (19.975, 0, 20))
    with pytest.raises(InputError, match=r"overlap by 0.5 m²"):
        districts_from_frame(frame)


def test_non_frame_input_is_an_error() -> None:
    with pytest.raises(InputError, match="must be a GeoDataFrame"):
        districts_from_frame(pd.DataFrame({"id": [1]}))


# --------------------------------------------------------------------------- files


def chinese_districts() -> gpd.GeoDataFrame:
    return squares_utm(
        (0, 0, 300),
        (300, 0, 300),
        (0, 300, 300),
        编号=["J01", "J02", "J03"],
        名称=["锁金村街道", "新街口街道", "华侨路街道"],
        area_type=["新区", "老旧小区", None],
    )


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".zip"])
def test_files_round_trip(tmp_path: Path, suffix: str) -> None:
    frame = chinese_districts()
    if suffix == ".zip":
        path = write_zipped_shapefile(frame, tmp_path)
    else:
        path = tmp_path / f"districts{suffix}"
        frame.to_file(path, engine="pyogrio")
    districts = read_districts(path, default_area_type="old")
    assert districts["district_id"].to_list() == ["J01", "J02", "J03"]
    assert districts["name"].to_list() == ["锁金村街道", "新街口街道", "华侨路街道"]
    assert districts["area_type"].to_list() == ["new", "old", "old"]
    assert districts["kind"].to_list() == ["user"] * 3
    areas = districts.to_crs(UTM50).area.to_numpy()
    np.testing.assert_allclose(areas, 90_000.0, rtol=1e-6)


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".zip"])
def test_generated_districts_round_trip_through_files(tmp_path: Path, suffix: str) -> None:
    hexagons = hexagon_districts(NANJING_CORE, size_m=1000.0, area_type="old")
    if suffix == ".zip":
        path = write_zipped_shapefile(hexagons, tmp_path)  # district_id is cut to district_i
    else:
        path = tmp_path / f"hexagons{suffix}"
        hexagons.to_file(path, engine="pyogrio")
    back = read_districts(path)
    pd.testing.assert_frame_equal(
        pd.DataFrame(back.drop(columns="geometry")), pd.DataFrame(hexagons.drop(columns="geometry"))
    )
    assert max_pairwise_overlap_m2(back, UTM50) < 1.0


def test_shapefile_without_prj_is_a_crs_error(tmp_path: Path) -> None:
    path = write_zipped_shapefile(chinese_districts(), tmp_path, keep_prj=False)
    with pytest.raises(
        CRSError, match=r"(?s)districts.zip: 1 problem\(s\).*no coordinate reference system"
    ):
        read_districts(path)


def test_gpkg_layer_choice(tmp_path: Path) -> None:
    path = tmp_path / "plan.gpkg"
    chinese_districts().to_file(path, layer="communities", engine="pyogrio")
    points = gpd.GeoDataFrame({"n": [1]}, geometry=[Point(X0, Y0)], crs=UTM50)
    points.to_file(path, layer="schools", engine="pyogrio")
    assert len(read_districts(path)) == 3  # the only polygon layer
    squares_utm((0, 0, 100)).to_file(path, layer="new_district", engine="pyogrio")
    with pytest.raises(
        InputError, match=r"holds 3 layers .*choose the districts layer with layer="
    ):
        read_districts(path)
    assert len(read_districts(path, layer="new_district")) == 1
    with pytest.raises(InputError, match=r"has no layer 'roads'; its layers are"):
        read_districts(path, layer="roads")
    with pytest.raises(InputError, match=r"row 1, column 'geometry': a Point, not a polygon"):
        read_districts(path, layer="schools")


def test_empty_file_layer_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.gpkg"
    gpd.GeoDataFrame({"id": pd.Series([], dtype="str")}, geometry=[], crs=UTM50).to_file(
        path, engine="pyogrio"
    )
    with pytest.raises(InputError, match=r"empty.gpkg: the districts layer is empty"):
        read_districts(path)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="districts file not found"):
        read_districts(tmp_path / "missing.gpkg")
    with pytest.raises(InputError, match="is a folder"):
        read_districts(tmp_path)
    csv = tmp_path / "districts.csv"
    csv.write_text("id,wkt\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown districts file type '.csv'"):
        read_districts(csv)
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not a readable vector file"):
        read_districts(broken)
    no_shp = tmp_path / "no_shp.zip"
    with zipfile.ZipFile(no_shp, "w") as archive:
        archive.writestr("readme.txt", "nothing")
    with pytest.raises(InputError, match=r"holds no Shapefile \(.shp\)"):
        read_districts(no_shp)
    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a valid zip archive"):
        read_districts(bad_zip)


def test_overlap_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "overlap.geojson"
    squares_utm((0, 0, 100), (70, 0, 100), id=["A", "B"]).to_file(path, engine="pyogrio")
    with pytest.raises(
        InputError, match=r"(?s)overlap.geojson: 1 problem\(s\).*overlap by 3,000.0 m²"
    ):
        read_districts(path)
    with pytest.warns(UserWarning, match=r"overlap.geojson: 1 pair\(s\) of districts overlap"):
        assert len(read_districts(path, allow_overlap=True)) == 2


# --------------------------------------------------------------------------- blocks


def test_lattice_of_primary_roads_gives_its_blocks() -> None:
    network = grid_network(lattice_lines(3, 200.0, "primary"))
    blocks = block_districts(network, area_type="老区")
    assert list(blocks.columns) == list(DISTRICT_COLUMNS)
    assert blocks.crs.to_epsg() == 4326
    assert blocks["district_id"].to_list() == ["block-001", "block-002", "block-003", "block-004"]
    assert set(blocks["kind"]) == {"block"}
    assert set(blocks["area_type"]) == {"old"}
    metric = blocks.to_crs(UTM50)
    np.testing.assert_allclose(metric.area, 40_000.0, rtol=1e-6)
    centres = metric.geometry.centroid
    # north to south, then west to east
    expected = [(100, 300), (300, 300), (100, 100), (300, 100)]
    for centre, (x, y) in zip(centres, expected, strict=True):
        assert (centre.x - X0, centre.y - Y0) == pytest.approx((x, y), abs=1e-3)


def test_local_roads_inside_blocks_do_not_split_them() -> None:
    # a 3 × 3 lattice 200 m apart: the outer ring is secondary, the inner cross residential
    lines = [
        (a, b, "residential" if a[0] == b[0] == 200 or a[1] == b[1] == 200 else "secondary")
        for a, b, _ in lattice_lines(3, 200.0, "secondary")
    ]
    blocks = block_districts(grid_network(lines))
    assert len(blocks) == 1
    assert blocks.to_crs(UTM50).area.iloc[0] == pytest.approx(160_000.0, rel=1e-6)
    assert len(block_districts(grid_network(lines), arterial=("secondary", "residential"))) == 4
    assert len(block_districts(grid_network(lines), arterial="secondary")) == 1


def test_small_and_narrow_faces_are_dropped() -> None:
    lines = [
        *lattice_lines(2, 200.0, "primary"),
        # a 50 m × 50 m traffic island north of the block
        ((0, 200), (0, 250), "primary_link"),
        ((0, 250), (50, 250), "primary_link"),
        ((50, 250), (50, 200), "primary_link"),
        # a dual carriageway: a 10 m wide, 1,200 m long median (12,000 m²) west of the block
        ((0, 0), (-10, 0), "trunk_link"),
        ((-10, 0), (-10, 1200), "trunk"),
        ((-10, 1200), (0, 1200), "trunk_link"),
        ((0, 1200), (0, 200), "trunk"),
    ]
    network = grid_network(lines)
    assert len(block_districts(network)) == 1
    assert len(block_districts(network, min_width_m=0.0)) == 2
    assert len(block_districts(network, min_area_m2=0.0, min_width_m=0.0)) == 3


def test_no_arterial_road_is_an_error() -> None:
    network = grid_network(lattice_lines(3, 100.0, "residential"))
    with pytest.raises(
        InputError, match=r"hand-made grid: the network has no arterial road .*hexagon_districts"
    ):
        block_districts(network)


def test_no_closed_block_is_an_error() -> None:
    cross = [
        ((0, -100), (0, 0), "primary"),
        ((0, 0), (0, 100), "primary"),
        ((-100, 0), (0, 0), "primary"),
        ((0, 0), (100, 0), "primary"),
    ]
    with pytest.raises(
        InputError, match=r"enclose no closed block .*hexagon_districts.*read_districts"
    ):
        block_districts(grid_network(cross))
    with pytest.raises(InputError, match=r"enclose no closed block of at least 50,000 m²"):
        block_districts(grid_network(lattice_lines(3, 200.0, "primary")), min_area_m2=50_000.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_area_m2": -1.0}, "min_area_m2 must be"),
        ({"min_width_m": math.nan}, "min_width_m must be"),
        ({"area_type": "suburb"}, "area_type 'suburb' is not one of"),
    ],
)
def test_block_argument_errors(kwargs: dict[str, object], match: str) -> None:
    network = grid_network(lattice_lines(2, 200.0, "primary"))
    with pytest.raises(InputError, match=match):
        block_districts(network, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(REAL_BLOCKS))
def test_blocks_of_real_networks(name: str) -> None:
    network = load_quietly(shared_file(name))
    blocks = block_districts(network)
    n_blocks, smallest_m2, total_km2, n_coarse = REAL_BLOCKS[name]
    assert len(blocks) == n_blocks
    width = max(3, len(str(n_blocks)))
    assert blocks["district_id"].to_list() == [
        f"block-{k:0{width}d}" for k in range(1, n_blocks + 1)
    ]
    assert blocks["district_id"].is_unique
    metric = blocks.to_crs(network.crs)
    assert metric.area.min() >= 10_000.0
    assert metric.area.min() == pytest.approx(smallest_m2, abs=0.1)
    assert metric.area.sum() / 1e6 == pytest.approx(total_km2, abs=1e-3)
    assert blocks.geometry.is_valid.all()
    assert max_pairwise_overlap_m2(blocks, network.crs) < 0.01
    union = shapely.union_all(np.asarray(metric.geometry.array, dtype=object))
    assert union.area == pytest.approx(metric.area.sum(), rel=1e-9)
    again = block_districts(load_quietly(shared_file(name)))
    assert again.geom_equals_exact(blocks, tolerance=0.0).all()
    assert again["district_id"].equals(blocks["district_id"])
    # a stricter class list gives fewer, larger blocks
    assert len(block_districts(network, arterial=("primary", "secondary"))) == n_coarse


# --------------------------------------------------------------------------- hexagons


def assert_tiles(cells: gpd.GeoDataFrame, crs: object, size_m: float) -> None:
    """Cells are regular hexagons that tile: no overlap, no gap, neighbours share whole edges."""
    metric = np.asarray(cells.to_crs(crs).geometry.array, dtype=object)
    areas = shapely.area(metric)
    np.testing.assert_allclose(areas, 1.5 * math.sqrt(3.0) * size_m**2, rtol=1e-9)
    union = shapely.union_all(metric)
    assert union.area == pytest.approx(areas.sum(), rel=1e-12)
    left, right = shapely.STRtree(metric).query(metric, predicate="intersects")
    keep = left < right
    shared = shapely.intersection(metric[left[keep]], metric[right[keep]])
    assert (shapely.area(shared) == 0).all()
    # in a hexagon tiling two cells that meet share one whole edge, never just a corner
    np.testing.assert_allclose(shapely.length(shared), size_m, rtol=1e-9)
    degree = np.bincount(np.r_[left[keep], right[keep]], minlength=len(metric))
    assert degree.max() <= 6


def test_hexagons_over_the_nanjing_core_bounds() -> None:
    cells = hexagon_districts(NANJING_CORE)
    assert list(cells.columns) == list(DISTRICT_COLUMNS)
    assert cells.crs.to_epsg() == 4326
    assert len(cells) == 20
    assert cells["district_id"].iloc[0] == "hex-0001"
    assert cells["district_id"].iloc[-1] == "hex-0020"
    assert set(cells["kind"]) == {"hexagon"}
    assert set(cells["area_type"]) == {"new"}
    assert_tiles(cells, UTM50, 500.0)
    extent = gpd.GeoSeries([box(*NANJING_CORE)], crs="EPSG:4326").to_crs(UTM50).iloc[0]
    union = shapely.union_all(np.asarray(cells.to_crs(UTM50).geometry.array, dtype=object))
    assert union.covers(extent)
    # flat-topped: a corner due east of the centre, at size_m
    first = cells.to_crs(UTM50).geometry.iloc[0]
    xs = shapely.get_coordinates(first)[:, 0]
    assert xs.max() - first.centroid.x == pytest.approx(500.0)
    # ordered north to south, then west to east
    centres = cells.to_crs(UTM50).geometry.centroid
    keys = list(zip(-centres.y.round(3), centres.x.round(3), strict=True))
    assert keys == sorted(keys)


def test_hexagons_over_the_nanjing_network(nanjing_osm: Path) -> None:
    network = load_quietly(nanjing_osm)
    cells = hexagon_districts(network.edges.geometry, size_m=500.0)
    assert len(cells) == 21
    assert_tiles(cells, network.crs, 500.0)
    union = shapely.union_all(np.asarray(cells.to_crs(network.crs).geometry.array, dtype=object))
    assert union.covers(shapely.union_all(np.asarray(network.edges.geometry.array, dtype=object)))
    assert len(hexagon_districts(network.edges, size_m=250.0, area_type="旧")) == 64


def test_hexagon_grid_is_anchored_to_the_crs_origin() -> None:
    small = hexagon_districts((118.78, 32.03, 118.79, 32.04), size_m=300.0, crs_metric=UTM50)
    large = hexagon_districts((118.77, 32.02, 118.80, 32.05), size_m=300.0, crs_metric=UTM50)
    large_cells = set(shapely.to_wkb(np.asarray(large.geometry.array, dtype=object)))
    assert set(shapely.to_wkb(np.asarray(small.geometry.array, dtype=object))) <= large_cells


def test_hexagon_over_a_point_is_one_cell() -> None:
    cells = hexagon_districts(Point(118.78, 32.04), size_m=200.0)
    assert len(cells) == 1
    assert cells.geometry.iloc[0].contains(Point(118.78, 32.04))


def test_hexagon_cgcs2000_grid() -> None:
    cells = hexagon_districts(NANJING_CORE, crs_metric="cgcs2000")
    assert_tiles(cells, choose_metric_crs(118.78, 32.04, "cgcs2000"), 500.0)


@settings(max_examples=25, deadline=None)
@given(
    lon=st.floats(100.0, 125.0),
    lat=st.floats(20.0, 45.0),
    width=st.floats(0.001, 0.05),
    height=st.floats(0.001, 0.05),
    size_m=st.floats(100.0, 1000.0),
)
def test_hexagons_always_cover_and_tile(
    lon: float, lat: float, width: float, height: float, size_m: float
) -> None:
    bounds = (lon, lat, lon + width, lat + height)
    cells = hexagon_districts(bounds, size_m=size_m)
    metric_crs = cells.estimate_utm_crs()
    metric = np.asarray(cells.to_crs(metric_crs).geometry.array, dtype=object)
    union = shapely.union_all(metric)
    assert union.area == pytest.approx(shapely.area(metric).sum(), rel=1e-9)
    extent = gpd.GeoSeries([box(*bounds)], crs="EPSG:4326").to_crs(metric_crs).iloc[0]
    assert shapely.area(shapely.difference(extent, union)) < 1e-6 * extent.area


@pytest.mark.parametrize(
    ("extent", "kwargs", "error", "match"),
    [
        ((118.0, 32.0, 118.1), {}, InputError, r"must be four numbers"),
        ((118.1, 32.0, 118.0, 32.1), {}, InputError, r"min < max"),
        (("a", 32.0, 118.0, 32.1), {}, InputError, r"must be four numbers"),
        (NANJING_CORE, {"size_m": 0.0}, InputError, r"size_m must be a positive number of metres"),
        (NANJING_CORE, {"size_m": 1.0}, InputError, r"more than 200,000\); use a larger size_m"),
        (NANJING_CORE, {"crs_metric": "EPSG:4326"}, CRSError, r"not a projected CRS in metres"),
        (NANJING_CORE, {"area_type": "rural"}, InputError, r"area_type 'rural' is not one of"),
        (Point(X0, Y0), {}, CRSError, r"not in WGS-84 degrees"),
        (Polygon(), {}, InputError, r"the extent is empty"),
        ("118,32,119,33", {}, InputError, r"cannot make hexagons over a str"),
    ],
)
def test_hexagon_errors(
    extent: object, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        hexagon_districts(extent, **kwargs)  # type: ignore[arg-type]


def test_hexagon_extent_without_crs_is_a_crs_error() -> None:
    with pytest.raises(CRSError, match=r"the extent has no CRS"):
        hexagon_districts(gpd.GeoSeries([box(*NANJING_CORE)]))
    with pytest.raises(InputError, match=r"the GeoSeries has no geometry"):
        hexagon_districts(gpd.GeoSeries([], crs="EPSG:4326"))


# --------------------------------------------------------------------------- residents


def test_assign_residents_inside_outside_and_on_the_border() -> None:
    districts = two_districts()
    residents = residents_frame(
        [
            (118.7805, 32.0405),
            (118.7815, 32.0405),
            (118.781, 32.0405),
            (118.790, 32.0405),
            (118.781, 32.041),
        ],
        [10, 20, 30, 40, 50],
    )
    residents.index = pd.Index([10, 11, 12, 13, 14])
    assigned = assign_residents(residents, districts)
    assert assigned.name == "district_id"
    assert assigned.index.equals(residents.index)
    assert pd.api.types.is_string_dtype(assigned)
    # the shared border (and the shared corner) go to the district listed first
    assert assigned.to_list() == ["west", "east", "west", "", "west"]
    reversed_order = assign_residents(residents, districts.iloc[::-1])
    assert reversed_order.to_list() == ["west", "east", "east", "", "east"]


def test_assign_residents_reprojects() -> None:
    districts = two_districts()
    residents = residents_frame([(118.7805, 32.0405), (118.7815, 32.0405)], [1, 2]).to_crs(UTM50)
    assert assign_residents(residents, districts).to_list() == ["west", "east"]


def test_district_totals_sum_population_and_warn_about_gaps() -> None:
    third = gpd.GeoDataFrame(
        {"district_id": ["north"], "area_type": ["新"]},
        geometry=[box(118.780, 32.041, 118.782, 32.042)],
        crs="EPSG:4326",
    )
    districts = districts_from_frame(pd.concat([two_districts(), third], ignore_index=True))
    residents = residents_frame(
        [
            (118.7805, 32.0405),
            (118.7806, 32.0406),
            (118.7815, 32.0405),
            (118.781, 32.0402),
            (118.790, 32.0405),
            (118.700, 32.0),
        ],
        [10, 5, 20, 30, 40, 2.5],
    )
    with pytest.warns(UserWarning, match="district") as record:
        totals = district_totals(residents, districts)
    messages = [str(w.message) for w in record]
    assert len(messages) == 2
    assert "1 of 3 district(s) hold no residents: 'north'" in messages[0]
    assert "2 resident(s) with a population of 42.5 lie outside every district" in messages[1]
    assert list(totals.columns) == [*DISTRICT_COLUMNS, "population", "households", "n_residents"]
    assert totals["population"].to_list() == [45.0, 20.0, 0.0]
    assert totals["households"].to_list() == pytest.approx([18.0, 8.0, 0.0])
    assert totals["n_residents"].to_list() == [3, 1, 0]
    assert totals["n_residents"].dtype == np.int64
    # the district's area_type rules, not the residents' ("old" for every resident)
    assert totals["area_type"].to_list() == ["new", "old", "new"]
    assert totals.index.equals(districts.index)
    assert totals.crs == districts.crs


def test_district_totals_without_gaps_do_not_warn() -> None:
    residents = residents_frame([(118.7805, 32.0405), (118.7815, 32.0405)], [3, 4])
    totals = district_totals(residents, two_districts())
    assert totals["population"].to_list() == [3.0, 4.0]


def test_no_residents_at_all() -> None:
    residents = residents_frame([], [])
    with pytest.warns(UserWarning, match=r"2 of 2 district\(s\) hold no residents: 'west', 'east'"):
        totals = district_totals(residents, two_districts())
    assert totals["n_residents"].to_list() == [0, 0]


def test_resident_and_district_input_errors() -> None:
    districts = two_districts()
    residents = residents_frame([(118.7805, 32.0405), (118.7815, 32.0405)], [3, 4])
    with pytest.raises(InputError, match=r"residents lack the column\(s\) households"):
        district_totals(residents.drop(columns="households"), districts)
    lines = residents.copy()
    lines.loc[1, "geometry"] = LineString([(118.78, 32.04), (118.79, 32.04)])
    with pytest.raises(InputError, match=r"residents rows 2, column 'geometry': not a point"):
        assign_residents(lines, districts)
    with pytest.raises(CRSError, match="the residents have no CRS"):
        assign_residents(residents.set_crs(None, allow_override=True), districts)
    with pytest.raises(CRSError, match="the districts have no CRS"):
        assign_residents(residents, districts.set_crs(None, allow_override=True))
    with pytest.raises(InputError, match="with a 'district_id' column"):
        district_totals(residents, districts.drop(columns="district_id"))
    with pytest.raises(InputError, match="residents must be a GeoDataFrame"):
        assign_residents(pd.DataFrame(residents), districts)


def test_residents_on_block_districts(nanjing_osm: Path) -> None:
    network = load_quietly(nanjing_osm)
    blocks = block_districts(network)
    centres = blocks.to_crs(network.crs).geometry.representative_point().to_crs("EPSG:4326")
    residents = residents_frame([(p.x, p.y) for p in centres], [100.0] * len(centres))
    totals = district_totals(residents, blocks)
    assert totals["population"].to_list() == [100.0] * len(blocks)
    assert (assign_residents(residents, blocks) == blocks["district_id"].to_numpy()).all()


# --------------------------------------------------------------------------- one language (#14)


def test_overlapping_districts_in_a_geopackage_read_in_chinese(tmp_path: Path) -> None:
    path = tmp_path / "社区.gpkg"
    squares_utm(
        (0, 0, 100),
        (70, 0, 100),
        (300, 0, 100),
        (310, 10, 20),
        编号=["莫愁湖", "南湖", "凤凰", "西园"],
    ).to_file(path, driver="GPKG")
    with pytest.raises(InputError) as caught:
        read_districts(path)
    english = str(caught.value)
    assert english.startswith(f"{path}: 1 problem(s) in the districts:")
    assert "column 'geometry': 2 pair(s) of districts overlap: rows 1 and 2 (district_id" in english
    assert "'莫愁湖' and '南湖') overlap by 3,000.0 m²; rows 3 and 4 (district_id '凤凰' and" in (
        english
    )
    assert "counted twice; fix: redraw the boundaries" in english
    chinese = assert_chinese_error(caught.value, allowed={"QGIS"})
    assert chinese.startswith(f"{path}：分析区域有 1 个问题：")
    assert "几何列：有 2 对区域重叠：第 1 行与第 2 行（区域编号 '莫愁湖' 与 '南湖'）" in chinese
    assert "与 '南湖'）重叠 3,000.0 平方米；第 3 行与第 4 行" in chinese
    assert (
        "第 3 行与第 4 行（区域编号 '凤凰' 与 '西园'）重叠 400.0 平方米；分析区域不得重叠"
        in chinese
    )
    assert "解决办法：重新绘制边界，使相邻区域只共用边界" in chinese
    with pytest.warns(RadiusWarning) as caught_warnings:
        assert len(read_districts(path, allow_overlap=True)) == 4
    (note,) = [w.message.message for w in caught_warnings if isinstance(w.message, RadiusWarning)]
    assert note.startswith(f"{path}: 2 pair(s) of districts overlap, column 'geometry': rows 1")
    assert note.endswith("each resident in an overlap is given to the district listed first")
    chinese = note.text("zh")
    assert chinese.startswith(f"{path}：有 2 对区域重叠（几何列）：第 1 行与第 2 行")
    assert chinese.endswith("重叠处的每位居民只计入排在前面的区域")
    assert english_words(chinese) == [], chinese


def test_more_than_fifty_overlaps_are_cut_in_both_languages() -> None:
    offsets = [(k * 60.0, 0.0, 100.0) for k in range(53)]  # each square overlaps the next
    with pytest.raises(InputError) as caught:
        districts_from_frame(squares_utm(*offsets), source="社区.gpkg")
    assert "52 pair(s) of districts overlap" in str(caught.value)
    assert "; ... and 2 more pair(s); districts must not overlap" in str(caught.value)
    chinese = assert_chinese_error(caught.value, allowed={"QGIS"})
    assert "有 52 对区域重叠" in chinese
    assert "；……另有 2 对；分析区域不得重叠" in chinese


def test_bad_rows_and_wrong_crs_of_a_districts_file_read_in_chinese(tmp_path: Path) -> None:
    path = tmp_path / "districts.geojson"
    squares_utm(
        (0, 0, 100),
        (200, 0, 100),
        (400, 0, 100),
        district_id=["甲", None, "甲"],
        area_type=["新区", "郊区", "老区"],
    ).to_file(path, engine="pyogrio")
    with pytest.raises(InputError) as caught:
        read_districts(path)
    english = str(caught.value)
    assert "row 2, column 'district_id': the district id is empty" in english
    assert "rows 1, 3, column 'district_id': duplicate district id '甲'" in english
    assert "row 2, column 'area_type': unknown area type '郊区'" in english
    chinese = assert_chinese_error(caught.value, allowed={"new", "old"})  # accepted words
    assert "分析区域有 3 个问题" in chinese
    assert "第 2 行，'district_id' 列：区域编号为空；解决办法：为每个区域填写编号" in chinese
    assert "第 1, 3 行，'district_id' 列：区域编号 '甲' 重复" in chinese
    assert "第 2 行，'area_type' 列：未知的区域类型 '郊区'" in chinese
    # projected metres labelled EPSG:4326
    wrong = tmp_path / "wrong_crs.gpkg"
    squares_utm((0, 0, 100)).set_crs("EPSG:4326", allow_override=True).to_file(wrong, driver="GPKG")
    with pytest.raises(CRSError) as caught:
        read_districts(wrong)
    assert "not longitudes and latitudes; fix: set the CRS" in str(caught.value)
    chinese = assert_chinese_error(caught.value)
    assert "图层声明其坐标系为 EPSG:4326（以度为单位），但坐标范围达到" in chinese


def test_district_argument_errors_read_in_chinese() -> None:
    squares = squares_utm((0, 0, 100))
    cases: list[tuple[Any, str, str, set[str]]] = [
        (
            lambda: districts_from_frame(pd.DataFrame({"id": [1]}), source="社区.csv"),
            "社区.csv: districts must be a GeoDataFrame of polygons",
            "社区.csv：分析区域必须是多边形的 `GeoDataFrame`",
            set(),
        ),
        (
            lambda: districts_from_frame(squares, default_area_type="郊区"),
            "districts: default_area_type '郊区' is not one of new, 新, 新区",
            "default_area_type '郊区' 不是 new, 新, 新区, 新建, old, 旧, 老区, 老旧小区, 既有 之一",
            {"new", "old", "districts"},
        ),
        (
            lambda: hexagon_districts((118.0, 32.0, 118.1)),
            "bounds (118.0, 32.0, 118.1) must be four numbers",
            "边界范围 (118.0, 32.0, 118.1) 必须是四个数",
            set(),
        ),
        (
            lambda: hexagon_districts((118.1, 32.0, 118.0, 32.1)),
            "are not (min_lon, min_lat, max_lon, max_lat) with min < max",
            "不是最小值 < 最大值的 (min_lon, min_lat, max_lon, max_lat)",
            set(),
        ),
        (
            lambda: hexagon_districts(NANJING_CORE, size_m=0.0),
            "size_m must be a positive number of metres, not 0.0",
            "size_m 必须是正的米数，而不是 0.0",
            set(),
        ),
        (
            lambda: hexagon_districts(NANJING_CORE, size_m=1.0),
            "cells (more than 200,000); use a larger size_m or a smaller extent",
            "个单元（超过 200,000 个）；请加大 size_m，或缩小范围",
            set(),
        ),
        (
            lambda: hexagon_districts(NANJING_CORE, area_type="rural"),
            "area_type 'rural' is not one of new",
            "area_type 'rural' 不是 new, 新",
            {"rural", "new", "old"},
        ),
        (
            lambda: hexagon_districts(Point(X0, Y0)),
            "the extent (668000, 3545000, 668000, 3545000) is not in WGS-84 degrees",
            "范围 (668000, 3545000, 668000, 3545000) 不是 WGS-84 经纬度；请传入带坐标系的",
            set(),
        ),
        (
            lambda: hexagon_districts(Polygon()),
            "the extent is empty; give a non-empty geometry or bounds",
            "范围为空；请给出非空的几何或边界范围",
            set(),
        ),
        (
            lambda: hexagon_districts("118,32,119,33"),
            "cannot make hexagons over a str; give (min_lon",
            "无法在 str 上生成六边形；请给出 (min_lon, min_lat, max_lon, max_lat)",
            {"str"},
        ),
        (
            lambda: hexagon_districts(gpd.GeoSeries([box(*NANJING_CORE)])),
            "the extent has no CRS; set it (e.g. .set_crs('EPSG:4326')) before building hexagons",
            "范围没有坐标参考系（CRS）；请在生成六边形之前设置",
            set(),
        ),
        (
            lambda: hexagon_districts(gpd.GeoSeries([], crs="EPSG:4326")),
            "the extent is empty: the GeoSeries has no geometry",
            "范围为空：所给的几何序列中没有几何",
            set(),
        ),
        (
            lambda: block_districts(
                grid_network(lattice_lines(2, 200.0, "primary")), min_area_m2=-1.0
            ),
            "min_area_m2 must be a number of square metres ≥ 0, not -1.0",
            "min_area_m2 必须是不小于 0 的平方米数，而不是 -1.0",
            set(),
        ),
        (
            lambda: block_districts(
                grid_network(lattice_lines(2, 200.0, "primary")), min_width_m=math.nan
            ),
            "min_width_m must be a number of metres ≥ 0, not nan",
            "min_width_m 必须是不小于 0 的米数，而不是 nan",
            {"nan"},
        ),
    ]
    for call, english, chinese, allowed in cases:
        with pytest.raises((InputError, CRSError)) as caught:
            call()
        assert english in str(caught.value)
        assert chinese in assert_chinese_error(caught.value, allowed=allowed)


def test_blocks_without_arterial_roads_say_so_in_chinese() -> None:
    with pytest.raises(InputError) as caught:
        block_districts(grid_network(lattice_lines(3, 100.0, "residential")))
    assert "hand-made grid: the network has no arterial road (primary, primary_link" in str(
        caught.value
    )
    assert "(it has residential); use hexagon_districts(...) for a regular grid" in str(
        caught.value
    )
    tags = {"hand-made", "grid", "primary", "secondary", "tertiary", "trunk", "residential"}
    chinese = assert_chinese_error(caught.value, allowed=tags)  # the network's name, OSM tags
    assert "：路网中没有可以围合街区的干路（primary, primary_link" in chinese
    assert (
        "现有道路等级为 residential；请改用 hexagon_districts(...) 生成规则的六边形网格" in chinese
    )
    with pytest.raises(InputError) as caught:
        block_districts(grid_network(lattice_lines(3, 200.0, "primary")), min_area_m2=50_000.0)
    assert (
        "the 12 arterial road segments enclose no closed block of at least 50,000 m² and 20 m"
        in (str(caught.value))
    )
    chinese = assert_chinese_error(caught.value, allowed=tags)
    assert (
        "12 段干路没有围合出面积不小于 50,000 平方米、宽度不小于 20 米的封闭街区（4 个面都不够大）"
        in (chinese)
    )


def test_resident_input_errors_read_in_chinese() -> None:
    districts = two_districts()
    residents = residents_frame([(118.7805, 32.0405), (118.7815, 32.0405)], [3, 4])
    lines = residents.copy()
    lines.loc[1, "geometry"] = LineString([(118.78, 32.04), (118.79, 32.04)])
    cases: list[tuple[Any, str, str, set[str]]] = [
        (
            lambda: district_totals(residents.drop(columns="households"), districts),
            "residents lack the column(s) households; make them with radius.population",
            "居民数据缺少 households 列；请用 radius.population 生成",
            {"households"},
        ),
        (
            lambda: assign_residents(lines, districts),
            "residents rows 2, column 'geometry': not a point (or empty); fix: give every",
            "居民数据第 2 行，'geometry' 列：不是点（或为空）；解决办法：为每个居民给出点位置",
            {"geometry"},
        ),
        (
            lambda: assign_residents(residents.set_crs(None, allow_override=True), districts),
            "the residents have no CRS; set it, e.g. .set_crs('EPSG:4326')",
            "居民数据没有坐标参考系（CRS）；请设置，例如 .set_crs('EPSG:4326')",
            set(),
        ),
        (
            lambda: assign_residents(residents, districts.set_crs(None, allow_override=True)),
            "the districts have no CRS; make them with read_districts",
            "分析区域没有坐标参考系（CRS）；请用 read_districts 生成",
            set(),
        ),
        (
            lambda: district_totals(residents, districts.drop(columns="district_id")),
            "districts must be a GeoDataFrame with a 'district_id' column; make them with",
            "分析区域必须是带 district_id 列的 `GeoDataFrame`；请用 read_districts",
            set(),
        ),
        (
            lambda: assign_residents(pd.DataFrame(residents), districts),
            "residents must be a GeoDataFrame of points (see radius.population)",
            "居民数据必须是点的 `GeoDataFrame`（见 radius.population）",
            set(),
        ),
    ]
    for call, english, chinese, allowed in cases:
        with pytest.raises((InputError, CRSError)) as caught:
            call()
        assert english in str(caught.value)
        assert chinese in assert_chinese_error(caught.value, allowed=allowed)


def test_repaired_polygons_are_named_in_chinese() -> None:
    bowtie = Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    square = box(X0 + 500, Y0, X0 + 600, Y0 + 100)
    frame = gpd.GeoDataFrame({"id": ["ok", "bowtie"]}, geometry=[square, bowtie], crs=UTM50)
    with pytest.warns(RadiusWarning) as caught_warnings:
        districts_from_frame(frame, source="社区.gpkg")
    (note,) = [w.message.message for w in caught_warnings if isinstance(w.message, RadiusWarning)]
    chinese = note.text("zh")
    assert chinese.startswith(
        "社区.gpkg：用 shapely.make_valid 修复了 1 个无效的区域多边形：第 2 行（"
    )
    assert "Self-intersection" in note  # shapely's own words, in both languages


def test_command_line_says_overlapping_districts_in_one_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "社区.gpkg"
    squares_utm((0, 0, 100), (70, 0, 100), 编号=["莫愁湖", "南湖"]).to_file(path, driver="GPKG")
    argv = ["analyze", "--districts", str(path), "--categories", "elderly_care", "--out"]
    assert main([*argv, str(tmp_path / "zh"), "--lang", "zh"]) == 2
    chinese = capsys.readouterr().err
    assert f"radius：错误：{path}：分析区域有 1 个问题：" in chinese
    assert "第 1 行与第 2 行（区域编号 '莫愁湖' 与 '南湖'）重叠 3,000.0 平方米" in chinese
    assert english_words(chinese, ALLOWED_IN_CHINESE | {"QGIS"}) == [], chinese
    assert main([*argv, str(tmp_path / "en"), "--lang", "en"]) == 2
    english = capsys.readouterr().err
    assert f"radius: error: {path}: 1 problem(s) in the districts:" in english
    assert "rows 1 and 2 (district_id '莫愁湖' and '南湖') overlap by 3,000.0 m²" in english
    ours = re.sub(r"'[^']*'", "", english.replace(str(path), ""))  # the file's name and ids
    assert not re.search(r"[\u4e00-\u9fff]", ours), english


def test_a_frame_without_a_source_is_named_in_the_messages_language() -> None:
    """districts_from_frame without ``source``: "districts" in English, 传入的分析区域数据 in
    Chinese, in its errors and in its warnings (the run's notes); a source given as a
    Message (a batch's row) stays one in the warnings."""
    from radius.i18n import message

    with pytest.raises(InputError) as caught:
        districts_from_frame(squares_utm((0, 0, 100), (100, 0, 100), id=["a", "a"]))
    assert str(caught.value).startswith("districts: 1 problem(s) in the districts:")
    chinese = assert_chinese_error(caught.value)
    assert chinese.startswith("传入的分析区域数据：分析区域有 1 个问题：")

    bowtie = Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    frame = gpd.GeoDataFrame({"id": ["bowtie"]}, geometry=[bowtie], crs=UTM50)
    row = message("batch_district_row", file="plan.gpkg", row=3)
    for source, english, zh in (
        (None, "districts: 1 invalid", "传入的分析区域数据：用 shapely.make_valid 修复了"),
        (row, "plan.gpkg (row 3): 1 invalid", "plan.gpkg（第 3 行）：用 shapely.make_valid 修复了"),
    ):
        with pytest.warns(RadiusWarning) as caught_warnings:
            districts_from_frame(frame, source=source)
        (note,) = [
            w.message.message for w in caught_warnings if isinstance(w.message, RadiusWarning)
        ]
        assert note.startswith(english), note
        assert note.text("zh").startswith(zh), note.text("zh")
        assert english_words(note.text("zh")) == [], note.text("zh")
