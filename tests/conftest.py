"""Shared fixtures: the real OSM extracts in ../shared/data, read in place."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


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
