"""`radius.batch`: job files, and batches on real dask clusters (local and separate processes)."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
import yaml
from pydantic import BaseModel

from radius._batch_job import (
    BlockOptions,
    DensityResidents,
    DistrictsSpec,
    FacilitiesSpec,
    ResidentsSpec,
    SiteRequest,
    SourceSpec,
)
from radius._errors import ConfigError, InputError
from radius.batch import (
    BatchJob,
    BatchReport,
    add_batch_arguments,
    batch_command,
    clip_network,
    district_folder_name,
    load_job,
    run_batch,
)
from radius.cli import main
from radius.config import load_categories, load_speed_profiles
from radius.districts import block_districts
from radius.i18n import RadiusWarning
from radius.network import StreetNetwork, load_network
from radius.standards import list_standards

from .conftest import REPO_ROOT
from .language_checks import ALLOWED_IN_CHINESE, assert_chinese_error, english_words

_JOB_PARTS: tuple[type[BaseModel], ...] = (BlockOptions, DensityResidents, DistrictsSpec)
_JOB_PARTS += (FacilitiesSpec, ResidentsSpec, SiteRequest, SourceSpec)

CATEGORIES = ["convenience_store", "supermarket", "fitness"]
"""Largest threshold 15 min: a 1,000 m buffer (GB 50180's distance, the default basis) keeps
the tasks small."""
NANJING_BLOCKS = ["block-002", "block-003", "block-005", "block-016"]
"""Nanjing blocks holding residential buildings."""


def write_job(folder: Path, **keys: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(keys, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def quiet_network(path: Path) -> StreetNetwork:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extract has disconnected pieces
        return load_network(path)


def read_layer(path: Path, layer: str) -> gpd.GeoDataFrame:
    return gpd.read_file(path, layer=layer, engine="pyogrio")


def summary_of(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "batch_summary.json").read_text(encoding="utf-8"))
    return data


def statuses(report: BatchReport) -> dict[str, str]:
    return {d.district_id: d.status for d in report.districts}


# --------------------------------------------------------------------------- job files


def test_load_job_takes_paths_from_the_job_folder(nanjing_osm: Path, tmp_path: Path) -> None:
    folder = tmp_path / "jobs" / "a"
    relative = os.path.relpath(nanjing_osm, folder)
    job = load_job(
        write_job(
            folder,
            network=relative,
            districts="blocks",
            residents={"density_per_ha": 120},
            facilities={"planned": [{"per_district": "plans/{district_id}.csv"}]},
            standard="national",
        )
    )
    assert job.network.file is not None
    assert job.network.file.resolve() == nanjing_osm.resolve()
    assert job.districts.blocks is not None
    assert job.residents is not None
    assert job.residents.density is not None
    assert job.residents.density.density_per_ha == 120
    template = job.facilities.planned[0].per_district
    assert template == str(folder.resolve() / "plans" / "{district_id}.csv")
    assert job.facilities.planned[0].path_for("b-1") == folder.resolve() / "plans" / "b-1.csv"
    assert job.outputs == ("gpkg", "xlsx", "summary")


def test_sample_job_resolves_its_inputs() -> None:
    job_path = REPO_ROOT / "examples" / "shanghai_batch.yaml"
    network = REPO_ROOT.parent / "shared" / "data" / "cn_shanghai_center_roads.osm.pbf"
    if not network.exists():
        pytest.skip(f"{network} is absent")
    job = load_job(job_path)
    assert job.network.file is not None
    assert job.network.file.resolve() == network.resolve()
    assert job.limit == 40
    assert job.facilities.existing[0].file == REPO_ROOT / "examples" / "shanghai_facilities.csv"
    # The synthetic inventory says what it is in every row.
    frame = pd.read_csv(REPO_ROOT / "examples" / "shanghai_facilities.csv")
    assert frame["name"].str.contains("synthetic").all()
    assert frame["note"].str.contains("SYNTHETIC").all()


BROKEN_JOBS: list[tuple[str, dict[str, Any] | str, str]] = [
    ("not YAML", "network: [unclosed", "not valid YAML"),
    ("a list", "- network: x.osm", "expected a mapping"),
    ("typo key", {"nework": "{net}", "districts": "blocks"}, r"nework: Extra inputs"),
    ("no network", {"districts": "blocks"}, r"network: Field required"),
    ("missing file", {"network": "nowhere.osm", "districts": "blocks"}, r"network.file: file"),
    (
        "blocks need one network",
        {"network": {"per_district": "p/{district_id}.gpkg"}, "districts": "blocks"},
        "districts: blocks needs one network file",
    ),
    (
        "template without the id",
        {"network": {"per_district": "plans/plan.gpkg"}, "districts": "d.geojson"},
        r"network.per_district: .*must hold '\{district_id\}'",
    ),
    (
        "unknown category",
        {"network": "{net}", "districts": "blocks", "categories": ["supermarket", "spa"]},
        r"categories\[1\]: unknown category 'spa'",
    ),
    (
        "implausible speed",
        {"network": "{net}", "districts": "blocks", "speed_m_s": 12},
        r"speed_m_s: Input should be less than 5",
    ),
    (
        "unknown speed profile",
        {"network": "{net}", "districts": "blocks", "speed_profile": "sprinter"},
        r"speed_profile: unknown speed profile 'sprinter'",
    ),
    (
        "unknown standard",
        {"network": "{net}", "districts": "blocks", "standard": "atlantis"},
        r"standard: .*atlantis",
    ),
    (
        "two residents sources",
        {
            "network": "{net}",
            "districts": "blocks",
            "residents": {"file": "r.csv", "per_district": "r/{district_id}.csv"},
        },
        r"residents: give exactly one of",
    ),
    (
        "negative density",
        {"network": "{net}", "districts": "blocks", "residents": {"density_per_ha": -5}},
        r"residents.density.density_per_ha: Input should be greater than 0",
    ),
    (
        "zero limit",
        {"network": "{net}", "districts": "blocks", "limit": 0},
        r"limit: Input should be greater than or equal to 1",
    ),
    (
        "unknown output",
        {"network": "{net}", "districts": "blocks", "outputs": ["gpkg", "pdf"]},
        r"outputs\[1\]: Input should be 'gpkg', 'xlsx', 'summary' or 'report'",
    ),
    (
        "memory limit",
        {"network": "{net}", "districts": "blocks", "memory_limit": "lots"},
        r"memory_limit: 'lots' is not a size",
    ),
    (
        "missing inventory",
        {"network": "{net}", "districts": "blocks", "facilities": {"existing": ["gone.csv"]}},
        r"facilities.existing\[0\].file: file not found",
    ),
    (
        "siting an unknown category",
        {"network": "{net}", "districts": "blocks", "sites": [{"category": "mall", "count": 1}]},
        r"sites\[0\].category: unknown category 'mall'",
    ),
    (
        "siting without a count",
        {"network": "{net}", "districts": "blocks", "sites": [{"category": "fitness"}]},
        r"sites\[0\]: give count",
    ),
    (
        "siting for named districts",
        {
            "network": "{net}",
            "districts": "blocks",
            "sites": [{"category": "fitness", "count": 1, "districts": ["block-002"]}],
        },
        r"sites: a batch sites every district for itself: remove districts",
    ),
    (
        "siting at an unknown threshold",
        {
            "network": "{net}",
            "districts": "blocks",
            "sites": [{"category": "fitness", "count": 1, "threshold": "7min"}],
        },
        r"sites\[0\].threshold: fitness has no threshold '7min'; its thresholds are 10min, 15min",
    ),
    (
        "missing candidates",
        {
            "network": "{net}",
            "districts": "blocks",
            "sites": [{"category": "fitness", "count": 1, "candidates": "plots.gpkg"}],
        },
        r"sites\[0\].candidates: file not found",
    ),
]


@pytest.mark.parametrize(
    ("content", "match"),
    [pytest.param(content, match, id=name) for name, content, match in BROKEN_JOBS],
)
def test_broken_job_files_name_the_file_and_key(
    content: dict[str, Any] | str, match: str, nanjing_osm: Path, tmp_path: Path
) -> None:
    path = tmp_path / "job.yaml"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        text = yaml.safe_dump(content).replace("'{net}'", str(nanjing_osm))
        path.write_text(text.replace("{net}", str(nanjing_osm)), encoding="utf-8")
    with pytest.raises(ConfigError, match=match) as caught:
        load_job(path)
    assert str(caught.value).startswith(str(path))
    if request_id(content) in _QUOTING_ENGLISH:
        assert caught.value.args[0].text("zh").startswith(f"{path}：")
    else:
        assert_chinese_error(caught.value, allowed=_job_words(path.read_text(encoding="utf-8")))


#: Broken jobs whose Chinese error quotes another library's English: PyYAML's account of
#: the syntax error.
_QUOTING_ENGLISH = {"not YAML"}


def request_id(content: dict[str, Any] | str) -> str:
    return next(name for name, job, _ in BROKEN_JOBS if job == content)


def _job_words(text: str) -> set[str]:
    """The English words a Chinese error about a job may show: the keys and values the file
    wrote, the job's keys, and the ids of the categories, speed profiles and standards."""
    keys: set[str] = set()
    models: list[type[BaseModel]] = [BatchJob, *_JOB_PARTS]
    for model in models:
        keys.update(model.model_fields)
        for field in model.model_fields.values():
            keys.update(_choices(field.annotation))
    ids = {category.id for category in load_categories()} | set(load_speed_profiles().profiles)
    ids |= set(list_standards())
    return set(re.findall(r"[A-Za-z][A-Za-z_]*", text)) | keys | ids


def _choices(annotation: Any) -> set[str]:
    """The values of every ``Literal`` inside a type (the choices a key accepts)."""
    if get_origin(annotation) is Literal:
        return {str(value) for value in get_args(annotation)}
    return {value for arg in get_args(annotation) for value in _choices(arg)}


def _bad_job(folder: Path, text: str) -> Path:
    path = folder / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path


#: A job file breaking one rule of each kind pydantic checks (and three of our own).
_BROKEN_EVERYWHERE = """\
network: {file: nowhere.osm}
districts: {blocks: {min_area_m2: -5, min_width_m: abc}}
residents: {density_per_ha: 0, household_size: 30}
sites:
  - {category: fitness}
  - {category: fitness, count: 1.5, time_limit_s: 0}
  - {category: fitness, count: 2, objective: nearest}
  - {category: fitness, count: 2, colour: red}
facilities: {existing: [{file: a.csv, per_district: "b/{district_id}.csv"}]}
"""


def test_every_kind_of_problem_names_its_key_in_either_language(tmp_path: Path) -> None:
    path = _bad_job(tmp_path, _BROKEN_EVERYWHERE)
    with pytest.raises(ConfigError) as caught:
        load_job(path)
    english = str(caught.value)
    assert english.startswith(f"{path}: invalid batch job (10 problem(s)):")
    for line in (
        "facilities.existing[0]: give exactly one of 'file' (all districts) or 'per_district'",
        "districts.blocks.min_area_m2: Input should be greater than or equal to 0, not -5",
        "districts.blocks.min_width_m: Input should be a valid number, not 'abc'",
        "residents.density.density_per_ha: Input should be greater than 0, not 0",
        "residents.density.household_size: Input should be less than or equal to 20, not 30",
        "sites[0]: give count (the number of new sites) for objective max_cover",
        "sites[1].count: Input should be a whole number, not 1.5",
        "sites[1].time_limit_s: Input should be greater than 0, not 0",
        "sites[2].objective: Input should be 'max_cover' or 'set_cover', not 'nearest'",
        "sites[3].colour: Extra inputs are not permitted",
    ):
        assert f"\n  - {line}" in english
    chinese = assert_chinese_error(caught.value, allowed=_job_words(_BROKEN_EVERYWHERE))
    assert chinese.startswith(f"{path}：批量任务文件有 10 个问题：")
    assert "  - districts.blocks.min_area_m2：应大于或等于 0，实际为 -5" in chinese
    assert "  - sites[1].count：应为整数（不能带小数），实际为 1.5" in chinese
    assert "  - sites[2].objective：应为 'max_cover' 或 'set_cover'，实际为 'nearest'" in chinese
    assert "  - sites[3].colour：不认识的键" in chinese
    assert chinese.endswith("请改正这些键后重新运行。")


def test_checks_after_validation_name_their_key_in_either_language(
    nanjing_osm: Path, tmp_path: Path
) -> None:
    job = f"network: {nanjing_osm}\ndistricts: blocks\ncategories: [fitness, spa]\n"
    job += "facilities: {existing: [gone.csv]}\nsites: [{category: fitness, count: 1, "
    job += "threshold: 7min}]\nspeed_profile: sprinter\nmemory_limit: lots\n"
    path = _bad_job(tmp_path, job)
    with pytest.raises(ConfigError) as caught:
        load_job(path)
    english = str(caught.value)
    assert f"  - facilities.existing[0].file: file not found: {tmp_path / 'gone.csv'}" in english
    assert "  - categories[1]: unknown category 'spa'; known: " in english
    assert "  - speed_profile: unknown speed profile 'sprinter'; choose one of adult" in english
    chinese = assert_chinese_error(caught.value, allowed=_job_words(job))
    assert f"  - facilities.existing[0].file：找不到文件：{tmp_path / 'gone.csv'}" in chinese
    assert "  - sites[0].threshold：健身设施没有阈值 '7min'；其阈值为 10min, 15min" in chinese
    assert "  - speed_profile：未知的步行速度方案 'sprinter'；请从 adult" in chinese
    assert "  - memory_limit：'lots' 不是内存大小" in chinese


def test_a_folder_or_a_list_is_no_job(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder; give a batch job YAML file") as caught:
        load_job(tmp_path)
    assert "这是文件夹" in assert_chinese_error(caught.value)
    with pytest.raises(ConfigError, match=r"at the top level, got a list") as caught:
        load_job(_bad_job(tmp_path, "- network: x.osm\n"))
    assert "实际为列表" in assert_chinese_error(caught.value, allowed={"network", "districts"})


def test_a_district_missing_from_per_district_is_named(tmp_path: Path) -> None:
    spec = SourceSpec.model_validate({"per_district": {"A1": "a1.gpkg"}})
    with pytest.raises(InputError, match="district B2 has no entry under per_district") as caught:
        spec.path_for("B2")
    assert "请在任务中加入 'B2: <路径>'" in assert_chinese_error(caught.value)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_command_line_reports_a_bad_job_in_one_language(
    lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _bad_job(tmp_path, _BROKEN_EVERYWHERE)
    assert main(["batch", str(path), "--lang", lang, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    if lang == "zh":
        assert err.startswith(f"radius：错误：{path}：批量任务文件有 10 个问题：")
        # The only English: the keys the file wrote or must write, and its values.
        allowed = ALLOWED_IN_CHINESE | _job_words(_BROKEN_EVERYWHERE)
        assert english_words(err, allowed) == [], err
    else:
        assert err.startswith(f"radius: error: {path}: invalid batch job (10 problem(s)):")
        assert not re.search(r"[\u3000-\u9fff\uff00-\uffef]", err), err


def test_missing_job_file_and_unknown_district_ids(nanjing_osm: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="batch job file not found"):
        load_job(tmp_path / "nothing.yaml")
    job = BatchJob.model_validate(
        {"network": nanjing_osm, "districts": "blocks", "only": ["block-002", "block-999"]}
    )
    with pytest.raises(ConfigError, match=r"only: unknown district id\(s\) 'block-999'"):
        run_batch(job, tmp_path / "out", progress=False)


def test_district_folder_names_are_safe_and_unique() -> None:
    assert district_folder_name("block-001") == "block-001"
    assert district_folder_name("新区3号") == "新区3号"
    unsafe = district_folder_name("a/b")
    assert "/" not in unsafe
    assert unsafe.startswith("a_b-")
    assert district_folder_name("a/b") != district_folder_name("a:b")
    assert not district_folder_name("..").startswith(".")


def test_clip_network_keeps_node_identity(nanjing_osm: Path) -> None:
    network = quiet_network(nanjing_osm)
    centre = network.nodes.geometry.iloc[len(network.nodes) // 2]
    area = centre.buffer(400.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clipped = clip_network(network, area)
    assert clipped.crs == network.crs
    assert 0 < clipped.n_edges < network.n_edges
    assert set(clipped.nodes["osmid"]) <= set(network.nodes["osmid"])
    # Exactly the streets that intersect the area are kept, whole: in the main piece or
    # on islands when clipping cut them off.
    hit = network.edges[network.edges.intersects(area)]
    assert clipped.n_edges + len(clipped.island_edges) == len(hit)
    kept = np.sort(np.r_[clipped.edges["length_m"], clipped.island_edges["length_m"]])
    np.testing.assert_allclose(kept, np.sort(hit["length_m"].to_numpy()))
    assert shapely.intersects(np.asarray(clipped.edges.geometry.array), area).all()


def test_clip_network_far_away_raises(nanjing_osm: Path) -> None:
    network = quiet_network(nanjing_osm)
    far = shapely.Point(*network.nodes.total_bounds[2:]).buffer(10.0)
    far = shapely.affinity.translate(far, 50_000.0, 50_000.0)
    with pytest.raises(ValueError, match="no walkable street within the district"):
        clip_network(network, far)


# --------------------------------------------------------------------------- real clusters


@pytest.fixture
def nanjing_districts(nanjing_osm: Path, tmp_path: Path) -> Path:
    """Four real Nanjing blocks, a square far from any street and a row without geometry."""
    blocks = block_districts(quiet_network(nanjing_osm))
    chosen = blocks[blocks["district_id"].isin(NANJING_BLOCKS)]
    far = shapely.box(119.50, 32.00, 119.505, 32.005)
    frame = gpd.GeoDataFrame(
        {
            "district_id": [*chosen["district_id"], "far-away", "no-shape"],
            "name": [*chosen["district_id"], "远处 far away", "无形状 no shape"],
            "area_type": ["new"] * len(chosen) + ["old", "new"],
        },
        geometry=[*chosen.geometry, far, None],
        crs="EPSG:4326",
    )
    path = tmp_path / "districts.geojson"
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


@pytest.mark.slow
def test_one_and_two_workers_give_identical_tables_and_broken_districts_fail(
    nanjing_osm: Path, nanjing_districts: Path, tmp_path: Path
) -> None:
    job = write_job(
        tmp_path / "job",
        name="nanjing test",
        network=str(nanjing_osm),
        districts=str(nanjing_districts),
        residents={"density_per_ha": 150},
        categories=CATEGORIES,
        memory_limit="2GiB",
    )
    one = run_batch(job, tmp_path / "one", workers=1, progress=False)
    two = run_batch(job, tmp_path / "two", workers=2, progress=False)

    expected = {d: "ok" for d in NANJING_BLOCKS} | {"far-away": "failed", "no-shape": "failed"}
    assert statuses(one) == statuses(two) == expected
    errors = {d.district_id: d.error for d in two.districts}
    assert "no walkable street within the district" in errors["far-away"]
    assert "the geometry is empty" in errors["no-shape"]
    # Shared inputs are read once per worker process, not once per district.
    assert one.input_loads["network"] == 1
    assert two.input_loads["network"] <= 2

    for out in (tmp_path / "one", tmp_path / "two"):
        assert {name for name, _ in pyogrio.list_layers(out / "batch.gpkg")} == {
            "districts",
            "status",
            "layer_styles",
        }
    combined_one = read_layer(tmp_path / "one" / "batch.gpkg", "districts")
    combined_two = read_layer(tmp_path / "two" / "batch.gpkg", "districts")
    pd.testing.assert_frame_equal(combined_one, combined_two)
    assert list(combined_one["district_id"]) == NANJING_BLOCKS
    assert combined_one["population"].gt(0).all()
    for column in ("supermarket_within_15min_ratio", "sports_ground_per_capita_pass"):
        assert column in combined_one.columns
    status_one = read_layer(tmp_path / "one" / "batch.gpkg", "status")
    status_two = read_layer(tmp_path / "two" / "batch.gpkg", "status")
    steady = ["district_id", "name", "status", "error"]
    pd.testing.assert_frame_equal(status_one[steady], status_two[steady])
    assert list(status_one["district_id"]) == [*NANJING_BLOCKS, "far-away", "no-shape"]

    # Each district's folder holds its own outputs, marker written last.
    folder = tmp_path / "two" / "districts" / "block-003"
    assert sorted(p.name for p in folder.iterdir()) == [
        "done.json",
        "provision.xlsx",
        "results.gpkg",
        "summary.json",
    ]
    residents_one = read_layer(
        tmp_path / "one" / "districts" / "block-003" / "results.gpkg", "residents"
    )
    residents_two = read_layer(folder / "results.gpkg", "residents")
    pd.testing.assert_frame_equal(residents_one, residents_two)
    assert set(residents_two["district_id"]) == {"block-003"}
    district_summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert district_summary["districts"] == 1
    assert district_summary["batch"]["buffer_m"] == 1000.0
    assert not (tmp_path / "two" / "districts" / "far-away").exists()

    summary = summary_of(tmp_path / "two")
    assert (summary["ok"], summary["failed"], summary["skipped"]) == (4, 2, 0)
    assert summary["workers"] == 2
    assert summary["districts_per_minute"] > 0
    book = openpyxl.load_workbook(tmp_path / "two" / "batch.xlsx", read_only=True)
    assert book.sheetnames[:2] == ["批次", "规则"]  # the job's language (zh by default)
    assert "超市 15 分钟步行覆盖率" in book.sheetnames  # a rule's sheet, by its Chinese name


@pytest.mark.slow
def test_rerun_skips_complete_districts_and_redoes_the_rest(
    nanjing_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = write_job(
        tmp_path / "job",
        network=str(nanjing_osm),
        districts="blocks",
        only=NANJING_BLOCKS[:3],
        categories=CATEGORIES,
        outputs=["gpkg", "summary"],
        lang="en",  # the command line below runs with --lang en: the same job
    )
    out = tmp_path / "out"
    first = run_batch(job, out, workers=1, progress=False)
    assert set(statuses(first).values()) == {"ok"}
    table = read_layer(out / "batch.gpkg", "districts")

    second = run_batch(job, out, workers=1, progress=False)
    assert set(statuses(second).values()) == {"skipped"}
    assert second.cluster.startswith("none")  # nothing to run: no cluster was started
    pd.testing.assert_frame_equal(read_layer(out / "batch.gpkg", "districts"), table)

    # One district lost its marker; another has a partial output and no marker.
    (out / "districts" / "block-002" / "done.json").unlink()
    partial = out / "districts" / "block-003"
    (partial / "done.json").unlink()
    (partial / "results.gpkg").write_bytes(b"half a file")
    third = run_batch(job, out, workers=1, progress=False)
    assert statuses(third) == {"block-002": "ok", "block-003": "ok", "block-005": "skipped"}
    assert read_layer(partial / "results.gpkg", "districts")["district_id"].tolist() == [
        "block-003"
    ]
    pd.testing.assert_frame_equal(read_layer(out / "batch.gpkg", "districts"), table)
    assert not (out / "batch.xlsx").exists()  # not among the job's outputs

    # The command line the CLI wires in as `radius batch`.
    parser = argparse.ArgumentParser(prog="radius batch")
    add_batch_arguments(parser)
    argv = [str(job), "--out", str(out), "--no-progress", "--lang", "en"]
    code = batch_command(parser.parse_args(argv))
    assert code == 0
    assert "3 districts: 0 ok, 0 failed, 3 skipped" in capsys.readouterr().out


# --------------------------------------------------------------------------- a separate cluster


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the dask scheduler exited with {process.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"the dask scheduler did not listen on port {port} in {timeout_s} s")


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A `dask scheduler` and a `dask worker` in their own processes on 127.0.0.1."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]
    scheduler = [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    scheduler += ["--dashboard-address", "127.0.0.1:0"]  # its HTTP server: any free port
    worker = [*dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"]
    worker += ["--memory-limit", "2GiB", "--death-timeout", "60"]
    worker += ["--local-directory", str(tmp_path / "dask-worker-space")]
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with (logs / "scheduler.log").open("wb") as log:
            processes.append(
                subprocess.Popen(scheduler, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
            )
        wait_for_port(port, processes[0], timeout_s=60)
        with (logs / "worker.log").open("wb") as log:
            processes.append(
                subprocess.Popen(worker, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
            )
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.mark.slow
def test_batch_on_a_separate_scheduler_with_road_plans_per_district(
    nanjing_osm: Path, dask_cluster: str, tmp_path: Path
) -> None:
    network = quiet_network(nanjing_osm)
    blocks = block_districts(network)
    blocks = blocks[blocks["district_id"].isin(NANJING_BLOCKS[:2])].reset_index(drop=True)
    plans = tmp_path / "job" / "plans"
    plans.mkdir(parents=True)
    metric = blocks.to_crs(network.crs)
    for row in metric.itertuples():
        # A road-line plan per district: the streets within 1.2 km of it.
        near = network.edges[network.edges.intersects(row.geometry.buffer(1200.0))]
        near[["highway", "geometry"]].to_file(plans / f"{row.district_id}.gpkg", engine="pyogrio")
    first_node = network.nodes.iloc[0]
    pd.DataFrame(
        {
            "name": ["规划超市 planned supermarket"],
            "category": ["supermarket"],
            "lon": [first_node["lon"]],
            "lat": [first_node["lat"]],
        }
    ).to_csv(plans / f"{NANJING_BLOCKS[0]}_planned.csv", index=False)
    blocks.to_file(tmp_path / "job" / "districts.gpkg", engine="pyogrio")
    job = write_job(
        tmp_path / "job",
        network={"per_district": "plans/{district_id}.gpkg"},
        districts="districts.gpkg",
        residents={"density_per_ha": 200},
        facilities={"planned": {"per_district": "plans/{district_id}_planned.csv"}},
        categories=CATEGORIES,
        lang="en",  # the cluster's name below is read in English
    )
    out = tmp_path / "out"
    report = run_batch(job, out, scheduler=dask_cluster, progress=False)

    assert statuses(report) == {NANJING_BLOCKS[0]: "ok", NANJING_BLOCKS[1]: "ok"}
    assert report.cluster == f"scheduler {dask_cluster}"
    assert report.workers == 1
    assert all(d.worker.startswith("tcp://127.0.0.1:") for d in report.districts)
    facilities = read_layer(out / "districts" / NANJING_BLOCKS[0] / "results.gpkg", "facilities")
    assert facilities["source"].tolist() == ["proposed"]
    notes = next(d.notes for d in report.districts if d.district_id == NANJING_BLOCKS[1])
    assert any("no planned facilities inventory" in n for n in notes)
    summary = summary_of(out)
    assert summary["cluster"] == f"scheduler {dask_cluster}"
    assert summary["ok"] == 2


@pytest.mark.slow
def test_district_reports_name_their_district_and_its_inputs(
    nanjing_osm: Path, tmp_path: Path
) -> None:
    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils (pdftotext) is not installed: run `make system`")
    job = write_job(
        tmp_path / "job",
        network=str(nanjing_osm),
        districts="blocks",
        only=NANJING_BLOCKS[:2],
        categories=CATEGORIES,
        residents={"density_per_ha": 150},
        outputs=["summary", "report"],
        lang="en",
    )
    out = tmp_path / "out"
    report = run_batch(job, out, workers=1, progress=False)
    assert set(statuses(report).values()) == {"ok"}
    for district_id in NANJING_BLOCKS[:2]:
        folder = out / "districts" / district_id
        assert sorted(p.name for p in folder.iterdir()) == [
            "done.json",
            "report.html",
            "report.pdf",
            "summary.json",
        ]
        text = subprocess.run(
            ["pdftotext", str(folder / "report.pdf"), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"Community life-circle provision and siting report · {district_id}" in text
        assert "estimated from the batch job's population density" in text
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        population = summary["residents"]["population"]
        assert f"about {population:,.0f} residents" in text.replace("\n", " ")
    # A complete folder needs its reports: without one, the district is run again.
    (out / "districts" / NANJING_BLOCKS[0] / "report.pdf").unlink()
    with pytest.warns(RadiusWarning, match=r"report\.pdf, listed in its done record, is missing"):
        again = run_batch(job, out, workers=1, progress=False)
    assert statuses(again) == {NANJING_BLOCKS[0]: "ok", NANJING_BLOCKS[1]: "skipped"}


@pytest.mark.slow
def test_each_district_gets_its_own_sites_inside_it(nanjing_osm: Path, tmp_path: Path) -> None:
    blocks = NANJING_BLOCKS[:2]
    job = write_job(
        tmp_path / "job",
        network=str(nanjing_osm),
        districts="blocks",
        only=blocks,
        categories=CATEGORIES,
        residents={"density_per_ha": 150},
        sites=[{"category": "convenience_store", "count": 1}],
        outputs=["gpkg", "xlsx", "summary"],
    )
    out = tmp_path / "out"
    report = run_batch(job, out, workers=1, progress=False)
    assert set(statuses(report).values()) == {"ok"}
    for district_id in blocks:
        folder = out / "districts" / district_id
        sites = read_layer(folder / "results.gpkg", "sites")
        district = read_layer(folder / "results.gpkg", "districts").geometry.iloc[0]
        assert len(sites) == 1
        assert sites["district_id"].tolist() == [district_id]
        assert sites.geometry.intersects(district).all(), "a site outside its district"
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        (siting,) = summary["sites"]
        assert siting["residents_gained"] == pytest.approx(sites["residents_gained"].sum())
        # The gain is counted in the district's own residents only.
        residents = read_layer(folder / "results.gpkg", "residents")
        coverage = siting["coverage"][siting["threshold"]]
        assert coverage["residents_after"] - coverage["residents_before"] == pytest.approx(
            siting["residents_gained"], abs=1e-3
        )
        assert coverage["residents_after"] <= residents["population"].sum() + 1e-6
        book = openpyxl.load_workbook(folder / "provision.xlsx", read_only=True)
        assert "选址" in book.sheetnames
    everything = read_layer(out / "batch.gpkg", "sites")
    assert sorted(everything["district_id"]) == sorted(blocks)
    assert "选址" in openpyxl.load_workbook(out / "batch.xlsx", read_only=True).sheetnames
    # A rerun skips both districts and still gathers their sites from the markers.
    again = run_batch(job, out, workers=1, progress=False)
    assert set(statuses(again).values()) == {"skipped"}
    assert len(read_layer(out / "batch.gpkg", "sites")) == 2


@pytest.mark.slow
def test_a_district_without_candidates_keeps_its_analysis_and_says_why(
    nanjing_osm: Path, tmp_path: Path
) -> None:
    network = quiet_network(nanjing_osm)
    planned_in, left_out = NANJING_BLOCKS[1], NANJING_BLOCKS[0]
    block = block_districts(network).set_index("district_id").geometry.loc[planned_in]
    nodes = shapely.points(network.nodes["lon"], network.nodes["lat"])
    # A street corner well inside the block: a plot that joins the walking network.
    inside = nodes[shapely.contains(block.buffer(-0.0002), nodes)][0]
    plots = tmp_path / "job" / "plots.geojson"
    plots.parent.mkdir(parents=True)
    gpd.GeoDataFrame({"name": ["地块A"]}, geometry=[inside], crs="EPSG:4326").to_file(
        plots, driver="GeoJSON", engine="pyogrio"
    )
    job = write_job(
        tmp_path / "job",
        network=str(nanjing_osm),
        districts="blocks",
        only=NANJING_BLOCKS[:2],
        categories=CATEGORIES,
        residents={"density_per_ha": 150},
        sites=[{"category": "fitness", "count": 1, "candidates": "plots.geojson"}],
        outputs=["gpkg", "summary"],
    )
    out = tmp_path / "out"
    report = run_batch(job, out, workers=1, progress=False)
    assert statuses(report) == {planned_in: "ok", left_out: "ok"}
    with_plot = read_layer(out / "districts" / planned_in / "results.gpkg", "sites")
    assert with_plot["candidate_id"].tolist() == ["1"]
    other = out / "districts" / left_out
    assert "sites" not in {name for name, _ in pyogrio.list_layers(other / "results.gpkg")}
    notes = next(d.notes for d in report.districts if d.district_id == left_out)
    (note,) = [n for n in notes if n.startswith("sites.0 (fitness): no siting")]
    assert f"none of the 1 candidates lies in district(s) {left_out}" in note
    assert len(read_layer(out / "batch.gpkg", "sites")) == 1
