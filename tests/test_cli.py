"""The `radius reach` command end to end on real extracts, and its handling of bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from radius._errors import InputError
from radius._io import json_writer, outputs_settled, write_outputs
from radius.cli import main
from radius.sample import SHARED_DATA_ENV, default_network_path

LAYERS = {
    "facilities",
    "nodes",
    "service_areas",
    "reached_streets",
    "unroutable",
    "islands",
    "layer_styles",  # QGIS styles of the layers (radius.gis_styles)
}


@pytest.fixture(autouse=True)
def _english_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the command line's English lines (tests/test_language.py: both)."""
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_reach_on_nanjing_writes_every_layer(
    nanjing_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run(
        ["reach", "--network", str(nanjing_osm), "--lang", "en", "--out", str(out)], capsys
    )
    assert code == 0, stderr
    assert "Convenience store" in stdout
    assert {name for name, _ in pyogrio.list_layers(out / "reach.gpkg")} == LAYERS
    assert sorted(p.name for p in out.iterdir()) == ["reach.gpkg", "summary.json"]

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    nodes = gpd.read_file(out / "reach.gpkg", layer="nodes")
    assert len(nodes) == summary["network"]["nodes"] > 400
    assert nodes.crs.to_epsg() == 4326
    for column in (
        "convenience_store_dist_m",
        "convenience_store_min",
        "convenience_store_n_5min",
        "fitness_n_10min",
        "fitness_n_15min",
        "rehabilitation_n_30min",
    ):
        assert column in nodes.columns
    # SOURCES.md: 7 convenience stores and 9 supermarkets in the Nanjing extract.
    assert summary["categories"]["convenience_store"]["facilities"] == 7
    assert summary["categories"]["supermarket"]["facilities"] == 9
    share = summary["categories"]["supermarket"]["share_of_nodes_within"]["15min"]
    within = (nodes["supermarket_n_15min"] > 0).mean()
    assert share == pytest.approx(within, abs=1e-4)
    assert 0.0 < share <= 1.0
    # Distances and minutes agree with the walking speed (1.0 m/s by default).
    reached = nodes["supermarket_dist_m"].notna()
    np.testing.assert_allclose(
        nodes.loc[reached, "supermarket_min"],
        nodes.loc[reached, "supermarket_dist_m"] / 60.0,
        atol=1e-3,
    )
    # By default the 15-minute walk is GB 50180's distance (1,000 m), not 15 min × 1.0 m/s.
    assert summary["threshold_basis"] == "distance"
    assert (nodes.loc[reached, "supermarket_dist_m"] <= 1000.0 + 1e-6).all()
    assert (nodes.loc[reached, "supermarket_dist_m"] > 900.0).any()
    assert nodes.loc[~reached, "supermarket_n_15min"].eq(0).all()
    # A category without facilities in the extract is reported, not an error.
    assert summary["categories"]["elderly_care"]["facilities"] == 0
    assert "elderly_care" in stderr
    assert set(summary["timings_s"]) >= {"read_network", "snap", "reach", "service_areas", "write"}

    areas = gpd.read_file(out / "reach.gpkg", layer="service_areas")
    category_areas = areas[areas["level"] == "category"]
    assert set(category_areas["category"]) >= {"convenience_store", "supermarket", "fitness"}
    fitness = category_areas[category_areas["category"] == "fitness"].set_index("threshold")
    assert fitness.loc["15min", "street_length_m"] > fitness.loc["10min", "street_length_m"]
    streets = gpd.read_file(out / "reach.gpkg", layer="reached_streets")
    assert len(streets) > 0
    assert summary["network"]["islands"]["edges"] == len(
        gpd.read_file(out / "reach.gpkg", layer="islands")
    )


def test_distance_basis_and_speed_profile_change_thresholds(
    nanjing_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d"
    argv = ["reach", "--network", str(nanjing_osm), "--categories", "fitness,childcare"]
    code, _, stderr = run(
        [*argv, "--threshold-basis", "distance", "--no-service-areas", "--out", str(out)], capsys
    )
    assert code == 0, stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["categories"]) == {"fitness", "childcare"}
    metres = [t["metres"] for t in summary["categories"]["fitness"]["thresholds"]]
    assert metres == [500.0, 1000.0]
    code, _, stderr = run(
        [
            *argv,
            *("--threshold-basis", "time", "--speed-profile", "elderly"),
            *("--no-service-areas", "--out", str(out)),
        ],
        capsys,
    )
    assert code == 0, stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["speed_m_s"] == 0.8
    assert summary["threshold_basis"] == "time"
    metres = [t["metres"] for t in summary["categories"]["fitness"]["thresholds"]]
    assert metres == [480.0, 720.0]


def test_inventory_facilities_and_unroutable_rows(
    nanjing_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = tmp_path / "facilities.csv"
    pd.DataFrame(
        {
            "名称": ["新街口便利店", "远方超市"],
            "类别": ["convenience_store", "supermarket"],
            "经度": [118.7784, 118.2000],
            "纬度": [32.0411, 32.0000],
        }
    ).to_csv(inventory, index=False, encoding="gbk")
    out = tmp_path / "inv"
    code, _, stderr = run(
        [
            "reach",
            "--network",
            str(nanjing_osm),
            "--facilities",
            str(inventory),
            "--categories",
            "convenience_store,supermarket",
            "--lang",
            "en",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, stderr
    unroutable = gpd.read_file(out / "reach.gpkg", layer="unroutable")
    assert list(unroutable["name"]) == ["远方超市"]
    assert "maximum snap distance" in unroutable["reason"].iloc[0]
    facilities = gpd.read_file(out / "reach.gpkg", layer="facilities")
    assert list(facilities["routable"]) == [True, False]
    assert "could not join" in stderr


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("hello, this is not OSM", "broken.osm", "not a readable OSM"),
        ("", "empty.osm", "not a readable OSM|no walkable street"),
        (
            "<?xml version='1.0'?><osm version='0.6'><node id='1' lat='32' lon='118'/></osm>",
            "nodes_only.osm",
            "no walkable street",
        ),
        ("x", "network.txt", "unknown network file type"),
        (
            # XML entity expansion ("billion laughs"): refused, never expanded.
            "<?xml version='1.0'?><!DOCTYPE osm [<!ENTITY a 'aaaaaaaaaa'>"
            "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;'>]>"
            "<osm version='0.6'><node id='1' lat='32' lon='118'><tag k='name' v='&c;'/></node>"
            "</osm>",
            "entities.osm",
            "entities are not supported",
        ),
    ],
)
def test_bad_network_files_fail_cleanly_without_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, name: str, message: str
) -> None:
    network = tmp_path / name
    network.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    code, _, stderr = run(["reach", "--network", str(network), "--out", str(out)], capsys)
    assert code == 2
    assert stderr.startswith("radius: error:")
    assert str(network) in stderr
    assert pytest.importorskip("re").search(message, stderr)
    assert "Traceback" not in stderr
    assert not out.exists() or not any(out.iterdir())


def test_missing_network_and_unknown_category(
    nanjing_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, stderr = run(
        ["reach", "--network", str(tmp_path / "nope.osm"), "--out", str(tmp_path)], capsys
    )
    assert code == 2
    assert "not found" in stderr
    code, _, stderr = run(
        [
            "reach",
            "--network",
            str(nanjing_osm),
            "--categories",
            "bakery",
            "--out",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    assert code == 2
    assert "unknown category id(s) 'bakery'" in stderr
    assert not (tmp_path / "o").exists()


def test_road_lines_need_an_inventory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from shapely import LineString

    lines = gpd.GeoDataFrame(
        geometry=[LineString([(0, 0), (500, 0)]), LineString([(250, -250), (250, 250)])],
        crs="EPSG:32650",
    )
    path = tmp_path / "plan.gpkg"
    lines.to_file(path, driver="GPKG")
    code, _, stderr = run(["reach", "--network", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert "--facilities" in stderr


def test_failed_write_leaves_existing_outputs_untouched(tmp_path: Path) -> None:
    write_outputs(tmp_path, {"summary.json": json_writer({"run": 1})})

    def broken(path: Path) -> None:
        path.write_text("half", encoding="utf-8")
        raise InputError("disk full")

    with pytest.raises(InputError, match="disk full"):
        write_outputs(tmp_path, {"a.json": json_writer({"run": 2}), "summary.json": broken})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8")) == {"run": 1}


@pytest.mark.parametrize("shared", ["empty", "absent"])
def test_default_district_is_nanjing_without_shared_data(
    shared: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "shared"
    if shared == "empty":
        folder.mkdir()
    monkeypatch.setenv(SHARED_DATA_ENV, str(folder))
    path = default_network_path()
    assert path.name == "cn_nanjing_xinjiekou.osm.pbf"
    assert path.parent.name == "data"
    out = tmp_path / "default"
    code, _, stderr = run(
        ["reach", "--categories", "convenience_store,supermarket", "--out", str(out)], capsys
    )
    assert code == 0, stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["network"]["source"].endswith("data/cn_nanjing_xinjiekou.osm.pbf")
    # Xinjiekou's 7 convenience stores and 9 supermarkets (SOURCES.md); a few may be merged
    # or unroutable, but a Chinese district with shops is what the default must give.
    assert summary["categories"]["convenience_store"]["facilities"] >= 5
    assert summary["categories"]["supermarket"]["facilities"] >= 5


def test_map_flag_writes_a_standalone_map(
    nanjing_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "map"
    code, _, stderr = run(
        [
            "reach",
            "--network",
            str(nanjing_osm),
            "--categories",
            "supermarket",
            "--map",
            "--lang",
            "en",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, stderr
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "Supermarket" in page
    assert "openstreetmap.org/copyright" in page  # the ODbL attribution
    assert sorted(p.name for p in out.iterdir()) == ["map.html", "reach.gpkg", "summary.json"]


def test_gcj02_inventory_is_detected_and_converted(
    beijing_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from radius.config import load_categories
    from radius.coords import wgs84_to_gcj02
    from radius.facilities import facilities_from_osm

    stores = facilities_from_osm(beijing_osm, load_categories(ids=["convenience_store"]))
    points = stores[stores.geometry.geom_type == "Point"]
    lon, lat = wgs84_to_gcj02(points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    inventory = tmp_path / "gaode.csv"
    pd.DataFrame(
        {"name": points["name"], "category": "convenience_store", "lon": lon, "lat": lat}
    ).to_csv(inventory, index=False)
    base = [
        "reach",
        "--lang",
        "en",
        "--network",
        str(beijing_osm),
        "--facilities",
        str(inventory),
        "--categories",
        "convenience_store",
        "--no-service-areas",
    ]
    code, _, stderr = run([*base, "--out", str(tmp_path / "raw")], capsys)
    assert code == 0, stderr
    assert "look like unconverted GCJ02" in stderr
    assert "--facilities-crs gcj02" in stderr
    code, _, stderr = run(
        [*base, "--facilities-crs", "gcj02", "--out", str(tmp_path / "converted")], capsys
    )
    assert code == 0, stderr
    assert "unconverted" not in stderr
    converted = gpd.read_file(tmp_path / "converted" / "reach.gpkg", layer="facilities")
    np.testing.assert_allclose(converted.geometry.x, points.geometry.x, atol=1e-7)
    np.testing.assert_allclose(converted.geometry.y, points.geometry.y, atol=1e-7)


def test_site_command_adds_coverage(
    nanjing_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    code, stdout, stderr = run(
        [
            "site",
            "--network",
            str(nanjing_osm),
            "--categories",
            "convenience_store",
            "--category",
            "convenience_store",
            "--count",
            "2",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, stderr
    assert "2 site(s) for Convenience store" in stdout
    sites = gpd.read_file(out / "sites.gpkg", layer="sites")
    assert len(sites) == 2
    assert (sites["residents_gained"] > 0).all()
    before = gpd.read_file(out / "sites.gpkg", layer="districts_before")
    after = gpd.read_file(out / "sites.gpkg", layer="districts_after")
    rule = "convenience_store_within_5min_supplied"
    gained = after[rule].sum() - before[rule].sum()
    # Every resident lies in a unit, so the units gain what the sites add (up to the
    # rounding of each unit's figure to 0.001).
    assert gained == pytest.approx(sites["residents_gained"].sum(), abs=0.001 * len(after))


def test_site_command_for_one_district(
    nanjing_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["site", "--network", str(nanjing_osm), "--category", "convenience_store"]
    out = tmp_path / "one"
    code, stdout, stderr = run(
        [*base, "--count", "1", "--district", "block-016", "--out", str(out)], capsys
    )
    assert code == 0, stderr
    assert "1 site(s) for Convenience store" in stdout
    sites = gpd.read_file(out / "sites.gpkg", layer="sites")
    districts = gpd.read_file(out / "sites.gpkg", layer="districts_before")
    block = districts.set_index("district_id").geometry.loc["block-016"]
    assert len(sites) == 1
    assert sites.geometry.intersects(block).all()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["rules"]["convenience_store_within_5min"]["districts"] == 1
    code, _, stderr = run(
        [*base, "--count", "1", "--district", "block-999", "--out", str(tmp_path / "x")], capsys
    )
    assert code != 0
    assert "'block-999': no such district" in stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        (["volume=3"], "unknown supply 'volume'"),
        (["big"], "give a number, or SUPPLY=NUMBER"),
        (["300", "beds=2"], "cannot be combined"),
    ],
)
def test_site_size_flag_errors_name_the_fix(
    sizes: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["site", "--category", "elderly_care", "--count", "1", "--out", str(tmp_path)]
    for size in sizes:
        argv += ["--size", size]
    code, _, stderr = run(argv, capsys)
    assert code == 2
    assert message in stderr


# The console command `radius` (radius.cli.run): ends a finished run without teardown.

RUN_PROBE = """
import atexit, sys
atexit.register(lambda: print("teardown ran", file=sys.stderr, flush=True))
sys.argv = ["radius", *sys.argv[1:]]
from radius.cli import run
run()
"""


def _run_command(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``radius ARGV`` through :func:`radius.cli.run` in a fresh interpreter, output piped."""
    return subprocess.run(
        [sys.executable, "-c", RUN_PROBE, *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "LC_ALL": "en_US.UTF-8"},
        timeout=300,
        check=False,
    )


def test_the_console_command_is_run() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text("utf-8"))
    assert pyproject["project"]["scripts"]["radius"] == "radius.cli:run"


def test_run_ends_a_finished_reach_after_its_outputs_are_in_place(
    nanjing_osm: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    done = _run_command(
        ["reach", "--network", str(nanjing_osm), "--lang", "en", "--out", str(out)], tmp_path
    )
    assert done.returncode == 0, done.stderr
    # Everything printed reached the pipe (flushed before the process ended) ...
    assert "Convenience store" in done.stdout
    assert "reach.gpkg" in done.stdout.splitlines()[-1]
    # ... the interpreter's teardown (and so atexit) was skipped ...
    assert "teardown ran" not in done.stderr
    # ... and the outputs are complete, under their own names, with no temporary file left.
    assert sorted(p.name for p in out.iterdir()) == ["reach.gpkg", "summary.json"]
    assert {name for name, _ in pyogrio.list_layers(out / "reach.gpkg")} == LAYERS
    assert "total" in json.loads((out / "summary.json").read_text("utf-8"))["timings_s"]


def test_run_keeps_the_exit_code_and_teardown_of_a_failed_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _run_command(
        ["reach", "--network", str(tmp_path / "missing.osm"), "--lang", "en", "--out", str(out)],
        tmp_path,
    )
    assert done.returncode == 2
    assert "radius: error:" in done.stderr
    assert "teardown ran" in done.stderr  # a normal exit
    assert not out.exists() or not any(out.iterdir())


def test_run_exits_normally_for_other_commands(tmp_path: Path) -> None:
    done = _run_command(["reach", "--help"], tmp_path)
    assert done.returncode == 0
    assert "--network" in done.stdout
    assert "teardown ran" in done.stderr


def test_outputs_settled_only_when_the_last_write_is_in_place(tmp_path: Path) -> None:
    write_outputs(tmp_path, {"a.json": json_writer({"a": 1})})
    assert outputs_settled()
    (tmp_path / ".b.x.partial.json").write_text("{}", encoding="utf-8")  # someone's temporary
    assert not outputs_settled()
    (tmp_path / ".b.x.partial.json").unlink()
    assert outputs_settled()
    (tmp_path / "a.json").unlink()
    assert not outputs_settled()

    def fail(path: Path) -> None:
        raise RuntimeError("stopped half way")

    with pytest.raises(RuntimeError, match="half way"):
        write_outputs(tmp_path, {"c.json": fail})
    assert not outputs_settled()
