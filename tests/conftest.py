"""Shared fixtures: the real OSM extracts in ../shared/data, read in place."""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


SERIAL_LOCK = Path(tempfile.gettempdir()) / (
    "radius-pytest-serial-" + hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:12] + ".lock"
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """A test marked ``serial`` runs alone, also under ``pytest -n 2``: every other test of
    this checkout holds a shared lock around its setup, call and teardown, a serial test the
    exclusive one, so it waits for the test running beside it and none starts beside it.
    For tests that compare timings on the machine's cores (tests/test_browser.py)."""
    exclusive = item.get_closest_marker("serial") is not None
    with SERIAL_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_file(name: str) -> Path:
    """Path of a file in ../shared/data; skip the test with a reason when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(
            f"{path} is absent: the real OSM extracts live in ../shared/data beside the repo"
        )
    return path


@pytest.fixture
def nanjing_osm() -> Path:
    return shared_file("cn_nanjing_xinjiekou.osm")


@pytest.fixture
def beijing_osm() -> Path:
    return shared_file("cn_beijing_haidian_cau.osm")


@pytest.fixture
def shenzhen_osm() -> Path:
    return shared_file("cn_shenzhen_longgang.osm")


@pytest.fixture
def shanghai_pbf() -> Path:
    return shared_file("cn_shanghai_center_roads.osm.pbf")


@pytest.fixture
def oakland_bz2() -> Path:
    return shared_file("us_west_oakland.osm.bz2")


@pytest.fixture
def helsinki_small_pbf() -> Path:
    return shared_file("fi_helsinki_test_small.osm.pbf")


@pytest.fixture
def helsinki_center_pbf() -> Path:
    return shared_file("fi_helsinki_center.osm.pbf")


@pytest.fixture(autouse=True)
def _chinese_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line follows the locale (LC_ALL/LC_MESSAGES/LANG): tests run without
    one, so it speaks Chinese (the default) whatever the machine's locale; a test that
    wants English sets --lang en or LC_ALL itself."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
