"""Output writing at county scale: the uncovered-residents layer as a view, workbooks."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

import radius._io
import radius.pipeline
from radius._io import UNSYNCED_SQLITE, gpkg_writer, uncovered_view, write_outputs
from radius.cli import main


def test_shortfall_layer_is_the_uncovered_residents_of_the_run(
    nanjing_osm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GeoPackage's shortfall view holds AnalysisResult.shortfall row for row."""
    results: list[Any] = []
    run_analysis = radius.pipeline.run_analysis

    def keep(config: Any) -> Any:
        results.append(run_analysis(config))
        return results[-1]

    monkeypatch.setattr(radius.pipeline, "run_analysis", keep)
    out = tmp_path / "out"
    assert main(["analyze", "--network", str(nanjing_osm), "--out", str(out)]) == 0
    expected = results[0].shortfall
    assert len(expected) > 0
    path = out / "results.gpkg"
    layers = dict(pyogrio.list_layers(path))
    assert layers["shortfall"] == "Point"
    written = gpd.read_file(path, layer="shortfall")
    assert list(written.columns) == list(expected.columns)
    assert len(written) == len(expected)
    for column in ("resident_id", "district_id", "category", "threshold"):
        assert (written[column].to_numpy() == expected[column].to_numpy()).all()
    for column in ("threshold_m", "population", "households"):
        np.testing.assert_array_equal(written[column], expected[column])
    # dist_m comes from the residents layer, rounded to the millimetre there.
    np.testing.assert_allclose(written["dist_m"], expected["dist_m"], atol=5e-4, rtol=0)
    assert shapely.equals_exact(written.geometry.array, expected.geometry.array, 0).all()
    assert written.crs == expected.crs


def _frames() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    points = gpd.GeoDataFrame(
        {
            "resident_id": ["a", "b", "c"],
            "district_id": ["d1", "d1", "d2"],
            "population": [10.0, 20.0, 30.0],
            "households": [4.0, 8.0, 12.0],
            "shop_dist_m": [100.0, np.nan, 450.25],
            "shop_covered_5min": [True, False, False],
            "shop_covered_10min": [True, False, True],
        },
        geometry=gpd.points_from_xy([121.0, 121.1, 121.2], [31.0, 31.1, 31.2]),
        crs="EPSG:4326",
    )
    uncovered = gpd.GeoDataFrame(
        {
            "resident_id": ["b", "c", "b"],
            "district_id": ["d1", "d2", "d1"],
            "category": "shop",
            "threshold": ["5min", "5min", "10min"],
            "threshold_m": [300.0, 300.0, 600.0],
            "population": [20.0, 30.0, 20.0],
            "households": [8.0, 12.0, 8.0],
            "dist_m": [np.nan, 450.25, np.nan],
        },
        geometry=points.geometry.iloc[[1, 2, 1]].to_numpy(),
        crs="EPSG:4326",
    )
    return points, uncovered


def test_uncovered_view_reads_back_as_the_frame(tmp_path: Path) -> None:
    points, uncovered = _frames()
    thresholds = [("shop", "5min", 300.0), ("shop", "10min", 600.0)]
    view = uncovered_view("residents", points, uncovered, thresholds)
    assert view is not None
    path = tmp_path / "out.gpkg"
    gpkg_writer({"residents": points, "shortfall": uncovered}, {"shortfall": view})(path)
    back = gpd.read_file(path, layer="shortfall")
    pd.testing.assert_frame_equal(
        pd.DataFrame(back.drop(columns="geometry")),
        pd.DataFrame(uncovered.drop(columns="geometry")),
    )
    assert shapely.equals_exact(back.geometry.array, uncovered.geometry.array, 0).all()
    styled = gpd.read_file(path, layer="layer_styles")
    assert set(styled["f_table_name"]) == {"residents", "shortfall"}


def test_uncovered_view_refuses_frames_it_would_not_reproduce() -> None:
    points, uncovered = _frames()
    thresholds = [("shop", "5min", 300.0), ("shop", "10min", 600.0)]
    assert uncovered_view("residents", points, uncovered.iloc[:2], thresholds) is None
    assert uncovered_view("residents", points, uncovered, [("park", "5min", 300.0)]) is None
    assert uncovered_view("residents", points, uncovered.drop(columns="dist_m"), thresholds) is None
    assert uncovered_view("residents", points.to_crs(3857), uncovered, thresholds) is None


def test_workbook_without_xlsxwriter_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An environment installed before XlsxWriter was a dependency writes the same cells."""
    import builtins

    import openpyxl

    from radius._io import xlsx_writer

    frame = pd.DataFrame(
        {
            "区域编号 District ID": ["东升街道第一社区", "二"],
            "常住人口 Residents": [5240.0, np.nan],
            "需求 Required (m²)": [600.0, 1.5],
            "供需比 Ratio": [0.8333, np.nan],
            "是否达标 Pass": [True, False],
            "n": pd.array([1, None], dtype="Int64"),
        }
    )
    xlsx_writer({"elderly": frame})(tmp_path / "a.xlsx")
    real_import = builtins.__import__

    def no_xlsxwriter(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "xlsxwriter":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_xlsxwriter)
    xlsx_writer({"elderly": frame})(tmp_path / "b.xlsx")
    monkeypatch.undo()
    a = openpyxl.load_workbook(tmp_path / "a.xlsx")["elderly"]
    b = openpyxl.load_workbook(tmp_path / "b.xlsx")["elderly"]
    assert a.freeze_panes == b.freeze_panes == "A2"
    cells = [[(c.value, c.number_format, c.font.bold) for c in row] for row in a.iter_rows()]
    assert cells == [[(c.value, c.number_format, c.font.bold) for c in r] for r in b.iter_rows()]
    assert [cells[2][k][0] for k in (1, 3, 5)] == [None, None, None]


def test_temporary_geopackages_are_written_without_syncs_then_flushed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite neither syncs nor journals while write_outputs writes its temporary file
    (GDAL and our own sqlite3 connections); the settings are put back afterwards, and
    the file is flushed whole before it is renamed into place."""
    before = {key: pyogrio.get_gdal_config_option(key) for key in UNSYNCED_SQLITE}
    points, uncovered = _frames()
    thresholds = [("shop", "5min", 300.0), ("shop", "10min", 600.0)]
    view = uncovered_view("residents", points, uncovered, thresholds)
    assert view is not None
    writer = gpkg_writer({"residents": points, "shortfall": uncovered}, {"shortfall": view})
    seen: dict[str, Any] = {}
    flushed: list[str] = []

    def write(path: Path) -> None:
        seen.update({key: pyogrio.get_gdal_config_option(key) for key in UNSYNCED_SQLITE})
        writer(path)
        with contextlib.closing(radius._io.sqlite_connection(path)) as connection:
            seen["pragma"] = connection.execute("PRAGMA synchronous").fetchone()[0]

    real_fsync = radius._io._fsync

    def fsync(path: Path) -> None:
        flushed.append(path.name)
        real_fsync(path)

    monkeypatch.setattr(radius._io, "_fsync", fsync)
    written = write_outputs(tmp_path / "out", {"out.gpkg": write})
    assert seen == {"OGR_SQLITE_SYNCHRONOUS": False, "OGR_SQLITE_JOURNAL": False, "pragma": 0}
    assert {key: pyogrio.get_gdal_config_option(key) for key in UNSYNCED_SQLITE} == before
    assert flushed[0].startswith(".out.")
    assert flushed[0].endswith(".partial.gpkg")
    assert flushed[1:] == ["out"]  # then the folder, after the rename
    assert [p.name for p in written] == ["out.gpkg"]
    with contextlib.closing(sqlite3.connect(written[0])) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # outside: FULL
    back = gpd.read_file(written[0], layer="shortfall")
    assert len(back) == len(uncovered)
    assert set(gpd.read_file(written[0], layer="layer_styles")["f_table_name"]) == {
        "residents",
        "shortfall",
    }
