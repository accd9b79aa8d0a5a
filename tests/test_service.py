"""The app as a shared service, without Streamlit: per-call warnings, bounded jobs, the
streaming bomb check, per-session caches by bytes, uploads that add to OSM facilities."""

from __future__ import annotations

import bz2
import gzip
import os
import pickle
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radius._errors import InputError
from radius._warnings import collect
from radius.bounded import LimitError, Limits, limits_from_env, rss_bytes, run_bounded
from radius.session_cache import ByteLRU, session_cache_bytes, size_of
from radius.uploads import PADDING_WINDOW_BYTES, save_upload, unpack_osm
from tests.language_checks import assert_chinese_error

MB = 1024 * 1024
OSM_HEAD = b"<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\">\n"
NODE = b'  <node id="%d" lat="32.04" lon="118.78" version="1"/>\n'


# --------------------------------------------------------------------------------------
# Warnings per call
# --------------------------------------------------------------------------------------


def test_collect_keeps_each_threads_warnings_apart():
    results: dict[int, list[str]] = {}
    barrier = threading.Barrier(4)

    def work(k: int) -> None:
        with collect() as caught:
            barrier.wait()
            for i in range(50):
                warnings.warn(f"thread {k} note {i}", stacklevel=1)
                time.sleep(0)
        results[k] = [str(w.message) for w in caught]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for k in range(4):
        assert results[k] == [f"thread {k} note {i}" for i in range(50)]


def test_collect_records_a_repeated_warning_and_nests():
    def note() -> None:
        warnings.warn("the same line", stacklevel=1)

    with collect() as outer:
        note()
        with collect() as inner:
            note()
            note()
        note()
    assert len(inner) == 2
    assert len(outer) == 2
    assert inner[0].filename == __file__


def test_outside_collect_warnings_behave_as_before():
    with pytest.warns(UserWarning, match="plain"):
        warnings.warn("plain", stacklevel=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.warn("silenced", stacklevel=1)  # the "error" filter of pytest is not hit


# --------------------------------------------------------------------------------------
# Bounded jobs
# --------------------------------------------------------------------------------------


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def _grow(megabytes: int) -> int:
    blocks = [np.ones(MB // 8) for _ in range(megabytes)]
    time.sleep(30)
    return len(blocks)


def _bad_input() -> None:
    raise InputError("roads.osm: not a street network; upload another file")


def test_run_bounded_returns_the_value_and_passes_input_errors():
    assert run_bounded(_sleep, 0.01, limits=Limits(seconds=60)) == 0.01
    with pytest.raises(InputError, match=r"roads\.osm: not a street network"):
        run_bounded(_bad_input, limits=Limits(seconds=60))


def test_run_bounded_stops_at_the_time_limit():
    from radius.i18n import message

    started = time.monotonic()
    with pytest.raises(LimitError, match="longer than the limit of 1 s") as caught:
        run_bounded(_sleep, 30.0, limits=Limits(seconds=1.0), what=message("bounded_what_uploads"))
    assert caught.value.limit == "seconds"
    assert time.monotonic() - started < 15
    assert str(caught.value).startswith("reading the uploaded files took longer than")
    assert "use a smaller area or file, or the command-line tool" in str(caught.value)
    chinese = assert_chinese_error(caught.value)
    assert chinese.startswith("读取上传文件超过了 1 秒的时间上限，已停止")
    # A limit error crosses a process boundary (the app's jobs) with its message id.
    again = pickle.loads(pickle.dumps(caught.value))
    assert again.limit == "seconds"
    assert assert_chinese_error(again) == chinese


def test_run_bounded_stops_at_the_memory_limit():
    with pytest.raises(LimitError, match="more than the limit of 300 MB") as caught:
        run_bounded(_grow, 600, limits=Limits(seconds=60, memory_bytes=300 * MB))
    assert caught.value.limit == "memory"
    assert str(caught.value).startswith("the job needed more than the limit of 300 MB")
    assert assert_chinese_error(caught.value).startswith("该任务所需内存超过了 300 MB 的上限")


def test_run_bounded_can_be_cancelled():
    started = time.monotonic()
    with pytest.raises(LimitError, match="cancelled") as caught:
        run_bounded(
            _sleep,
            30.0,
            limits=Limits(seconds=60),
            cancelled=lambda: time.monotonic() - started > 0.5,
        )
    assert time.monotonic() - started < 15
    assert str(caught.value) == "the job was cancelled"
    assert assert_chinese_error(caught.value) == "该任务已取消"


def _exit(code: int) -> None:
    os._exit(code)


def test_a_worker_that_dies_is_told_in_either_language():
    from radius.i18n import message

    with pytest.raises(LimitError, match=r"stopped unexpectedly .*exit code 3\)") as caught:
        run_bounded(_exit, 3, limits=Limits(seconds=60), what=message("bounded_what_analysis"))
    assert caught.value.limit == "died"
    assert str(caught.value).startswith("the analysis of the uploaded files stopped")
    chinese = assert_chinese_error(caught.value)
    assert chinese.startswith("上传数据的分析意外中止（其工作进程已退出，退出码 3）")


def test_limits_come_from_settings():
    limits = limits_from_env(
        {"RADIUS_JOB_SECONDS": "5", "RADIUS_JOB_MEMORY_MB": "100", "RADIUS_UNPACKED_MB": "7"}
    )
    assert limits == Limits(seconds=5.0, memory_bytes=100 * MB, unpacked_bytes=7 * MB)
    with pytest.raises(InputError, match="RADIUS_JOB_SECONDS='-1': give a positive number"):
        limits_from_env({"RADIUS_JOB_SECONDS": "-1"})
    with pytest.raises(InputError, match="RADIUS_UNPACKED_MB='lots': give a positive") as excinfo:
        limits_from_env({"RADIUS_UNPACKED_MB": "lots"})
    assert assert_chinese_error(excinfo.value) == ("RADIUS_UNPACKED_MB='lots'：请给出一个正数")
    assert rss_bytes() > 10 * MB


# --------------------------------------------------------------------------------------
# The bomb check judges what a file unpacks to, as it streams
# --------------------------------------------------------------------------------------


def _osm(nodes: int) -> bytes:
    return OSM_HEAD + b"".join(NODE % i for i in range(nodes)) + b"</osm>\n"


def test_a_genuine_compressed_extract_is_unpacked_once(tmp_path):
    data = _osm(20_000)
    for packed in (
        bz2.compress(data),
        gzip.compress(data),
        bz2.compress(data[:500]) + bz2.compress(data[500:]),
    ):
        target = tmp_path / f"x{len(packed)}.osm"
        assert unpack_osm("city.osm.bz2", packed, target, max_bytes=100 * MB) == len(data)
        assert target.read_bytes() == data


def test_padding_that_passes_a_ratio_check_is_refused_as_it_streams(tmp_path):
    # Real OSM data, then padding: packs far below a 100x ratio overall would allow only
    # when judged over the whole file; judged as it streams, the padding shows.
    padded = _osm(2_000)[:-7] + b"<!--" + b" x" * (3 * PADDING_WINDOW_BYTES) + b"-->\n</osm>\n"
    packed = bz2.compress(padded)
    target = tmp_path / "padded.osm"
    started = time.monotonic()
    with pytest.raises(InputError, match=r"padded\.osm\.bz2: unpacks to .* without any OSM node"):
        unpack_osm("padded.osm.bz2", packed, target, max_bytes=1024 * MB)
    assert not target.exists()
    assert time.monotonic() - started < 10


def test_an_extract_unpacking_past_the_limit_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"big\.osm\.gz: unpacks to more than 1\.0 MB"):
        save_upload(
            "big.osm.gz", gzip.compress(_osm(40_000)), dest_dir=tmp_path, max_unpacked_bytes=MB
        )
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="does not unpack to OSM XML"):
        save_upload(
            "page.osm.gz", gzip.compress(b"hello " * 1000), dest_dir=tmp_path, max_unpacked_bytes=MB
        )


def test_save_upload_hands_the_reader_the_plain_xml(tmp_path):
    path = save_upload(
        "区.osm.bz2", bz2.compress(_osm(10)), dest_dir=tmp_path, max_unpacked_bytes=MB
    )
    assert path.name == "区.osm"
    assert path.read_bytes() == _osm(10)
    assert oct(path.stat().st_mode & 0o777) == "0o600"


# --------------------------------------------------------------------------------------
# Per-session caches bounded by bytes
# --------------------------------------------------------------------------------------


def test_byte_lru_drops_the_least_recently_used():
    cache = ByteLRU(max_bytes=3 * MB)
    block = {k: np.zeros(MB // 8) for k in "abcd"}  # 1 MB each
    for key in "abc":
        cache.put(key, block[key])
    assert cache.get("a", lambda: None) is block["a"]  # a is now the most recent
    cache.put("d", block["d"])
    assert "b" not in cache
    assert {"a", "c", "d"} <= {k for k in "abcd" if k in cache}
    assert cache.bytes <= 3 * MB
    huge = np.zeros(4 * MB // 8)
    assert cache.get("huge", lambda: huge) is huge  # returned, not kept
    assert "huge" not in cache
    assert session_cache_bytes({"RADIUS_SESSION_CACHE_MB": "64"}) == 64 * MB


def test_size_of_counts_frames_and_shared_parts_once():
    frame = pd.DataFrame({"x": np.zeros(100_000), "y": np.zeros(100_000)})
    alone = size_of(frame)
    assert 1_600_000 <= alone < 1_610_000  # two columns of 100,000 float64 and the index
    assert size_of([frame, frame, {"again": frame}]) - alone < 100  # the key "again" only


# --------------------------------------------------------------------------------------
# Upload folders never outlive a job
# --------------------------------------------------------------------------------------


def _slow_in_folder(folder: str) -> None:
    (Path(folder) / "part.osm").write_bytes(b"x")
    time.sleep(30)


def test_a_killed_job_leaves_no_folder():
    from radius.bounded import private_folder

    with pytest.raises(LimitError), private_folder() as folder:
        run_bounded(_slow_in_folder, str(folder), limits=Limits(seconds=1.0))
    assert not folder.exists()


# --------------------------------------------------------------------------------------
# A what-if recomputes only what the new facility changes, with a full analysis's figures
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_incremental_what_if_equals_the_full_analysis(nanjing_osm):
    from radius.app_inputs import load_inputs
    from radius.config import load_categories
    from radius.whatif import Proposal, Settings, whatif_analysis

    loaded = load_inputs([])
    settings = Settings(
        tuple(c.id for c in load_categories()), "time", "adult", "national", None, "2sfca"
    )
    base = whatif_analysis(loaded.inputs, settings, (), loaded.network_label)
    west, south, east, north = loaded.inputs.residents.total_bounds
    proposals = (
        Proposal(1, "childcare", (west + east) / 2, (south + north) / 2, "P1", (("places", 60.0),)),
        Proposal(
            2,
            "elderly_care",
            west + 0.3 * (east - west),
            south + 0.6 * (north - south),
            "P2",
            (("beds", 50.0), ("land_area_m2", 2000.0)),
        ),
    )
    full = whatif_analysis(loaded.inputs, settings, proposals, loaded.network_label)
    fast = whatif_analysis(loaded.inputs, settings, proposals, loaded.network_label, base=base)
    assert (
        fast.summary()["share_of_residents_within"] == full.summary()["share_of_residents_within"]
    )
    assert fast.summary()["rules"] == full.summary()["rules"]
    assert list(fast.residents.columns) == list(full.residents.columns)
    assert list(fast.districts.columns) == list(full.districts.columns)
    pd.testing.assert_frame_equal(
        pd.DataFrame(fast.residents.drop(columns="geometry")),
        pd.DataFrame(full.residents.drop(columns="geometry")),
    )
    pd.testing.assert_frame_equal(
        pd.DataFrame(fast.districts.drop(columns="geometry")),
        pd.DataFrame(full.districts.drop(columns="geometry")),
    )
    assert len(fast.shortfall) == len(full.shortfall)
    # The merged reach makes its node table from the merged categories, on first use.
    assert fast.reach.node_table is None
    pd.testing.assert_frame_equal(
        pd.DataFrame(fast.reach.nodes.drop(columns="geometry")),
        pd.DataFrame(full.reach.nodes.drop(columns="geometry")),
    )
    assert sorted(fast.reach.facilities["facility_id"]) == sorted(
        full.reach.facilities["facility_id"]
    )
    for reach in fast.reach.categories:
        rows = fast.reach.facilities.iloc[reach.facility_rows]
        assert set(rows["category"]) <= {reach.category.id}
    assert (
        full.summary()["share_of_residents_within"] != base.summary()["share_of_residents_within"]
    )
