"""Provision by two-step floating catchment and per-district rules, on hand-worked cases."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from radius.paths import CostMatrix
from radius.provision import district_provision, two_step_fca
from radius.standards import load_standard

NATIONAL = load_standard("national")
ELDERLY_ROOMS = NATIONAL.rule("elderly_rooms_per_100hh")
COVERAGE = NATIONAL.rule("elderly_care_within_15min")


def pairs(source, node, distance, n_sources, n_nodes, limit=1000.0) -> CostMatrix:
    return CostMatrix(
        source=np.asarray(source, dtype=np.int64),
        node=np.asarray(node, dtype=np.int64),
        distance_m=np.asarray(distance, dtype=np.float64),
        n_sources=n_sources,
        n_nodes=n_nodes,
        limit_m=limit,
    )


def test_two_step_fca_by_hand():
    # F0 (100 m²) reaches d0 (10 persons) and d1 (30); F1 (60 m²) reaches d1 and d2 (20);
    # F1 also "reaches" d0 but beyond the 500 m threshold.
    matrix = pairs([0, 0, 1, 1, 1], [0, 1, 1, 2, 0], [100, 400, 300, 200, 800], 2, 3)
    share = two_step_fca(matrix, np.array([100.0, 60.0]), np.array([10.0, 30.0, 20.0]), 500.0)
    np.testing.assert_allclose(share.facility_demand, [40.0, 50.0])
    np.testing.assert_allclose(share.facility_ratio, [2.5, 1.2])
    np.testing.assert_allclose(share.access, [2.5, 3.7, 1.2])
    np.testing.assert_allclose(share.received, [25.0, 111.0, 24.0])
    assert share.received.sum() == pytest.approx(160.0)  # no facility counted twice
    assert share.unused_supply == 0.0


def test_facility_with_nobody_in_reach_is_unused_supply():
    matrix = pairs([0], [0], [100.0], 2, 1)
    share = two_step_fca(matrix, np.array([50.0, 70.0]), np.array([5.0]), 500.0)
    assert share.unused_supply == 70.0
    assert share.received.sum() == pytest.approx(50.0)


def one_district(households: float, area_type: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "district_id": ["d1"],
            "area_type": [area_type],
            "population": [households * 2.62],
            "households": [households],
        },
        geometry=[shapely.box(118.77, 32.03, 118.78, 32.04)],
        crs="EPSG:4326",
    )


@pytest.mark.parametrize(
    ("area_type", "required", "shortfall", "passed"),
    [("new", 600.0, 100.0, False), ("old", 400.0, 0.0, True)],
)
def test_new_district_of_2000_households_with_one_500m2_room(
    area_type: str, required: float, shortfall: float, passed: bool
):
    districts = one_district(2000, area_type)
    residents = pd.DataFrame({"population": [2620.0, 2620.0], "households": [1000.0, 1000.0]})
    facilities = gpd.GeoDataFrame(
        {"category": ["elderly_daycare"], "floor_area_m2": [500.0]},
        geometry=[shapely.Point(118.775, 32.035)],
        crs="EPSG:4326",
    )
    matrix = pairs([0, 0], [0, 1], [200.0, 700.0], 1, 2)
    result, access, notes = district_provision(
        [ELDERLY_ROOMS, COVERAGE],
        districts,
        residents,
        np.array([0, 0]),
        facilities,
        {
            ELDERLY_ROOMS.id: (matrix, np.array([0]), 900.0),
            COVERAGE.id: (matrix, np.array([0]), 900.0),
        },
    )
    row = result.iloc[0]
    assert row["elderly_rooms_per_100hh_required"] == pytest.approx(required)
    assert row["elderly_rooms_per_100hh_supplied"] == pytest.approx(500.0)
    assert row["elderly_rooms_per_100hh_shortfall"] == pytest.approx(shortfall)
    assert bool(row["elderly_rooms_per_100hh_pass"]) is passed
    assert row["elderly_care_within_15min_required"] == pytest.approx(5240.0)
    assert row["elderly_care_within_15min_supplied"] == pytest.approx(5240.0)
    assert bool(row["elderly_care_within_15min_pass"])
    # 500 m² shared by 2,000 households: 0.25 m² per household at each point.
    np.testing.assert_allclose(access["elderly_rooms_per_100hh_access"], [0.25, 0.25])
    # The elderly circle counts residents aged 60+; without that column, all residents.
    assert len(notes) == 1
    assert notes[0].startswith("elderly_care_within_15min: the input has no counts of ")
    assert notes[0].endswith("; population counted instead")


def test_inside_method_and_missing_capacity_warns():
    districts = pd.concat([one_district(2000, "new"), one_district(1000, "old")], ignore_index=True)
    districts = gpd.GeoDataFrame(districts, crs="EPSG:4326")
    districts.loc[1, "district_id"] = "d2"
    districts.loc[1, "geometry"] = shapely.box(118.78, 32.03, 118.79, 32.04)
    residents = pd.DataFrame({"population": [5240.0, 2620.0], "households": [2000.0, 1000.0]})
    facilities = gpd.GeoDataFrame(
        {"category": ["elderly_daycare", "elderly_daycare"], "floor_area_m2": [500.0, np.nan]},
        geometry=[shapely.Point(118.785, 32.035), shapely.Point(118.775, 32.035)],
        crs="EPSG:4326",
    )
    matrix = pairs([0, 0, 1], [0, 1, 0], [300.0, 300.0, 100.0], 2, 2)
    with pytest.warns(UserWarning, match="1 of 2 elderly_daycare facilities have no floor_area_m2"):
        result, _, notes = district_provision(
            [ELDERLY_ROOMS],
            districts,
            residents,
            np.array([0, 1]),
            facilities,
            {ELDERLY_ROOMS.id: (matrix, np.array([0, 1]), 900.0)},
            method="inside",
        )
    # Inside: the 500 m² room stands in d2 only.
    assert list(result["elderly_rooms_per_100hh_supplied"]) == [0.0, 500.0]
    assert list(result["elderly_rooms_per_100hh_required"]) == [600.0, 200.0]
    assert list(result["elderly_rooms_per_100hh_pass"]) == [False, True]
    assert any("no floor_area_m2" in note for note in notes)
