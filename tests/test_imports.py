"""Imports by need: ``radius reach`` loads none of the heavy libraries of other commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("dask", "distributed", "weasyprint", "matplotlib", "folium", "streamlit")
"""Libraries of the batch, report, map and app code that `radius reach` must not import."""

PROBE = """
import json, sys
from radius.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = {heavy!r}
loaded = sorted(name for name in sys.modules if name.split(".")[0] in heavy)
print(json.dumps({{"code": code, "loaded": loaded}}), file=sys.stderr)
"""


def _loaded(argv: list[str], heavy: tuple[str, ...] = HEAVY) -> tuple[int, list[str]]:
    """Exit code and modules of ``heavy`` loaded by ``radius ARGV`` in a fresh interpreter."""
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=heavy), *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    last = completed.stderr.strip().splitlines()[-1]
    result = json.loads(last)
    return int(result["code"] or 0), list(result["loaded"])


def test_reach_help_imports_no_heavy_library() -> None:
    code, loaded = _loaded(["reach", "--help"])
    assert code == 0
    assert loaded == []


def test_reach_help_does_not_load_the_engine() -> None:
    # The help shows the defaults without importing the network, paths or numba.
    code, loaded = _loaded(["reach", "--help"], ("geopandas", "numba", "shapely", "osmium"))
    assert code == 0
    assert loaded == []


def test_a_whole_reach_run_imports_no_heavy_library(nanjing_osm: Path, tmp_path: Path) -> None:
    code, loaded = _loaded(["reach", "--network", str(nanjing_osm), "--out", str(tmp_path)])
    assert code == 0
    assert loaded == []
    assert (tmp_path / "reach.gpkg").exists()


ANALYSIS_ONLY = ("radius.demand", "radius.districts", "radius.provision", "radius.standards")
"""Modules of ``radius analyze`` that a reach run does not need (about 0.14 s of CPU)."""


def test_a_whole_reach_run_loads_no_analysis_module(nanjing_osm: Path, tmp_path: Path) -> None:
    code, loaded = _loaded(
        ["reach", "--network", str(nanjing_osm), "--out", str(tmp_path)], ("radius",)
    )
    assert code == 0
    assert "radius.pipeline" in loaded  # the probe sees radius's own modules
    assert [name for name in loaded if name in ANALYSIS_ONLY] == []


def test_the_probe_sees_what_a_map_imports(nanjing_osm: Path, tmp_path: Path) -> None:
    # The same probe on `--map`, which does need folium: the check can fail.
    argv = ["reach", "--network", str(nanjing_osm), "--no-service-areas", "--map"]
    code, loaded = _loaded([*argv, "--out", str(tmp_path)])
    assert code == 0
    assert "folium" in loaded


@pytest.mark.parametrize("command", ["analyze", "site", "report", "batch"])
def test_every_command_still_parses_its_own_arguments(command: str) -> None:
    code, _ = _loaded([command, "--help"])
    assert code == 0


def test_configuration_files_read_by_libyaml_equal_pure_python() -> None:
    """``load_yaml`` reads with libyaml when it can; every shipped file reads the same."""
    import yaml

    from radius._limits import load_yaml

    configs = Path(__file__).resolve().parent.parent / "configs"
    files = sorted(configs.rglob("*.yaml"))
    assert files
    for path in files:
        assert load_yaml(path, "configuration file") == yaml.safe_load(
            path.read_text(encoding="utf-8")
        ), path


BLAS_PROBE = """
import ctypes, json, os, sys
from radius.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
loaded_before = "numpy" in sys.modules
import numpy  # noqa: F401  (OpenBLAS reads its variable now, if main did not load numpy)
threads = None
paths = {line.split()[-1] for line in open("/proc/self/maps") if "openblas" in line}
for path in sorted(paths):
    lib = ctypes.CDLL(path)
    for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                 "scipy_openblas_get_num_threads", "openblas_get_num_threads"):
        if hasattr(lib, name):
            threads = int(getattr(lib, name)())
            break
print(json.dumps({"code": code, "numpy_by_main": loaded_before,
                  "env": os.environ.get("OPENBLAS_NUM_THREADS"), "threads": threads}),
      file=sys.stderr)
"""


def _blas(argv: list[str], env: dict[str, str]) -> dict[str, object]:
    """Exit code, ``OPENBLAS_NUM_THREADS`` and OpenBLAS's own thread count after ``radius ARGV``."""
    completed = subprocess.run(
        [sys.executable, "-c", BLAS_PROBE, *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
    )
    result: dict[str, object] = json.loads(completed.stderr.strip().splitlines()[-1])
    return result


def _environment_without_blas_threads() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key != "OPENBLAS_NUM_THREADS"}


def test_a_reach_run_starts_openblas_with_one_thread(nanjing_osm: Path, tmp_path: Path) -> None:
    # A reach does no dense algebra; OpenBLAS's spinning workers cost ~3 % of its CPU (#17).
    env = _environment_without_blas_threads()
    argv = ["reach", "--network", str(nanjing_osm), "--no-service-areas", "--out", str(tmp_path)]
    result = _blas(argv, env)
    assert result["code"] == 0
    assert result["numpy_by_main"] is True  # set before the run loaded numpy
    assert result["env"] == "1"
    if result["threads"] is not None:  # an OpenBLAS whose thread count can be read
        assert result["threads"] == 1


def test_a_users_own_blas_thread_count_is_kept() -> None:
    env = {**_environment_without_blas_threads(), "OPENBLAS_NUM_THREADS": "2"}
    result = _blas(["reach", "--help"], env)
    assert result["code"] == 0
    assert result["env"] == "2"
    if result["threads"] is not None:
        assert result["threads"] == 2


def test_other_commands_leave_openblas_alone() -> None:
    result = _blas(["analyze", "--help"], _environment_without_blas_threads())
    assert result["code"] == 0
    assert result["env"] is None
