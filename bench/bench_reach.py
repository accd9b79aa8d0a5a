"""Seconds and peak memory per stage of a reach run, on real and synthetic networks.

Run as a script::

    python bench/bench_reach.py [--sizes 10k,100k,1M] [--shanghai PATH] [--repeat N]

It prints a table (it never asserts on timings) with, per case and per stage, the best
wall time over ``--repeat`` runs and the peak resident memory of the first run:

``read``
    File parse (pyosmium pass over the OSM file); nothing for lattices.
``build graph``
    Junction splitting and network assembly; :func:`radius.synthetic.lattice_network`
    for lattices.
``snap``
    :func:`~radius.snap.facility_access_points`, :func:`~radius.snap.snap_points` and
    :func:`~radius.snap.build_routing_graph`.
``reach``
    :func:`~radius.reach.reach_category` for every category of
    :func:`radius.config.load_categories`, as :func:`radius.pipeline.compute_reach` calls it.
``service areas``
    Reached pieces, lines and polygons per category, with the pipeline's own helper
    (``radius.pipeline._service_areas``; per-facility polygons only when asked).
``write``
    The pipeline's node table (``radius.pipeline._node_table``) written to a GeoPackage
    through :func:`radius._io.write_outputs` and :func:`radius._io.gpkg_writer`.

Every case runs in a subprocess of its own, so memory peaks of different cases never mix.
Before each stage the kernel's high-water mark of the process is reset (``5`` written to
``/proc/self/clear_refs``) and read back from ``VmHWM`` in ``/proc/self/status`` after it;
where that is not permitted, the process peak so far (``ru_maxrss``) is shown instead.
For the Shanghai centre network the whole ``radius reach`` command is also timed in a
subprocess of its own (wall seconds and peak RSS of that process).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from radius import _osm
from radius._io import gpkg_writer, write_outputs
from radius.config import Category, load_categories, load_walk_rules, resolve_speed
from radius.network import StreetNetwork, network_from_segments
from radius.pipeline import _node_table, _service_areas
from radius.reach import CategoryReach, reach_category
from radius.service_areas import DEFAULT_BUFFER_M
from radius.snap import (
    DEFAULT_MAX_SNAP_M,
    RoutingGraph,
    build_routing_graph,
    facility_access_points,
    snap_points,
)
from radius.synthetic import lattice_network, random_facilities

__all__ = [
    "CaseResult",
    "CaseSpec",
    "EndToEnd",
    "PeakMemory",
    "StageResult",
    "format_report",
    "lattice_shape",
    "main",
    "parse_sizes",
    "run_case",
    "run_end_to_end",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHANGHAI = REPO_ROOT.parent / "shared" / "data" / "cn_shanghai_center_roads.osm.pbf"
STAGES = ("read", "build graph", "snap", "reach", "service areas", "write")
SHANGHAI_PER_CATEGORY = 60
"""Facilities per category placed on the Shanghai centre network (it has no POIs)."""
NODES_PER_FACILITY = 2_000
"""Lattice nodes per facility of each category (1M nodes: 500 facilities per category)."""
SKIP_SERVICE_AREAS_ABOVE = 200_000
"""Default network size (nodes) above which service areas and writing are skipped."""
WARMUP_LATTICE = (10, 10)
SEED = 0

TARGET_SHANGHAI_END_TO_END_S = 15.0
TARGET_REACH_1M_S = 10.0
TARGET_PEAK_1M_MB = 4_096.0
_TARGET_NODES = 1_000_000

_KIB_PER_MB = 1024.0


# ---------------------------------------------------------------------------------------
# Memory and time measurement


def _status_kib(key: str) -> float | None:
    """A ``kB`` field of ``/proc/self/status`` (``VmHWM``, ``VmRSS``), or None."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{key}:"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def _ru_maxrss_mb() -> float:
    """Peak RSS of this process so far (MB), from ``getrusage`` (kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / _KIB_PER_MB


class PeakMemory:
    """Peak resident memory of stages of this process.

    Before a stage the kernel's high-water mark is reset to the current RSS by writing
    ``5`` to ``/proc/self/clear_refs``; after it ``VmHWM`` is the peak of the stage alone.
    The reset also resets ``ru_maxrss``, so the process peak is kept here as the largest
    high-water mark seen at any reading. Without permission to reset, stage peaks are the
    process peak so far (``ru_maxrss``) and :attr:`per_stage` is False.
    """

    def __init__(self) -> None:
        kib = _status_kib("VmHWM")
        self.overall_mb = kib / _KIB_PER_MB if kib is not None else _ru_maxrss_mb()
        self.per_stage = self._reset()

    @staticmethod
    def _reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
                handle.write("5")
        except OSError:
            return False
        return _status_kib("VmHWM") is not None

    def _high_water_mb(self) -> float:
        kib = _status_kib("VmHWM") if self.per_stage else None
        return kib / _KIB_PER_MB if kib is not None else _ru_maxrss_mb()

    def current_mb(self) -> float:
        """Resident memory now (MB)."""
        kib = _status_kib("VmRSS")
        return kib / _KIB_PER_MB if kib is not None else float("nan")

    def start(self) -> float:
        """Record the peak so far, reset the high-water mark, return the RSS now (MB)."""
        self.overall_mb = max(self.overall_mb, self._high_water_mb())
        if self.per_stage:
            self._reset()
        return self.current_mb()

    def stop(self) -> float:
        """Peak RSS (MB) since :meth:`start`; also folded into :attr:`overall_mb`."""
        peak = self._high_water_mb()
        self.overall_mb = max(self.overall_mb, peak)
        return peak

    def process_peak_mb(self) -> float:
        """Peak RSS (MB) of the process over every reading so far, this one included."""
        self.overall_mb = max(self.overall_mb, self._high_water_mb())
        return self.overall_mb


@dataclass
class StageResult:
    """Time and memory of one stage of one case.

    Attributes
    ----------
    name : str
        Stage name (one of ``STAGES``).
    seconds : list of float
        Wall time of each repeat (seconds); empty when the stage did not run.
    peak_mb : float or None
        Peak RSS (MB) during the stage in the first repeat.
    added_mb : float or None
        ``peak_mb`` minus the RSS at the start of the stage (MB).
    note : str
        Why the stage did not run (``"n/a"``, ``"skipped"``), else empty.
    """

    name: str
    seconds: list[float] = field(default_factory=list)
    peak_mb: float | None = None
    added_mb: float | None = None
    note: str = ""

    @property
    def best_s(self) -> float | None:
        """Best wall time over the repeats (seconds), None when the stage did not run."""
        return min(self.seconds) if self.seconds else None


class StageClock:
    """Times stages and measures their peak memory, one repeat after another."""

    def __init__(self, meter: PeakMemory) -> None:
        self.meter = meter
        self.stages: dict[str, StageResult] = {name: StageResult(name) for name in STAGES}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Measure the block as stage ``name`` (memory only on its first run)."""
        gc.collect()
        rss = self.meter.start()
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        peak = self.meter.stop()
        result = self.stages[name]
        if not result.seconds:
            result.peak_mb = peak
            result.added_mb = max(peak - rss, 0.0)
        result.seconds.append(seconds)

    def mark(self, name: str, note: str) -> None:
        """Record that stage ``name`` did not run, and why."""
        self.stages[name].note = note


# ---------------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class CaseSpec:
    """One benchmark case.

    Attributes
    ----------
    kind : {"osm", "lattice"}
        A real OSM file, or a synthetic lattice with 100 m blocks.
    label : str
        Name printed in the table.
    path : str
        The OSM file (``kind == "osm"``).
    columns, rows : int
        Lattice size in nodes (``kind == "lattice"``).
    per_category : int
        Facilities placed per category.
    skip_service_areas_above : int
        Skip service areas and writing on networks with more nodes than this.
    repeat : int
        Number of runs of the whole stage chain.
    inventory_csv : str
        Where to write the facilities as a CSV inventory (empty: not written).
    """

    kind: Literal["osm", "lattice"]
    label: str
    path: str = ""
    columns: int = 0
    rows: int = 0
    per_category: int = 1
    skip_service_areas_above: int = SKIP_SERVICE_AREAS_ABOVE
    repeat: int = 1
    inventory_csv: str = ""


@dataclass
class CaseResult:
    """Everything measured on one case, as sent back by its subprocess.

    Attributes
    ----------
    label : str
        The case label.
    nodes, edges : int
        Size of the network's main component.
    routing_nodes : int
        Nodes of the routing graph (network nodes plus one per joined facility point).
    facilities : int
        Facilities placed (all categories).
    per_category : int
        Facilities per category.
    stages : list of StageResult
        One per stage, in ``STAGES`` order.
    process_peak_mb : float
        Peak RSS (MB) of the whole case process (imports and warm-up included).
    warmup_s : float
        Seconds of the numba warm-up on a tiny lattice before timing.
    per_stage_memory : bool
        Whether stage peaks come from reset high-water marks (else process peak so far).
    pairs : int
        Stored (facility, node) pairs of all categories' cost matrices.
    """

    label: str
    nodes: int
    edges: int
    routing_nodes: int
    facilities: int
    per_category: int
    stages: list[StageResult]
    process_peak_mb: float
    warmup_s: float
    per_stage_memory: bool
    pairs: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseResult:
        """Rebuild a result from its JSON form."""
        fields = dict(data)
        fields["stages"] = [StageResult(**s) for s in data["stages"]]
        return cls(**fields)

    def stage(self, name: str) -> StageResult:
        """The result of stage ``name``."""
        return next(s for s in self.stages if s.name == name)


def parse_sizes(text: str) -> list[int]:
    """Lattice sizes from text such as ``"10k,100k,1M"``.

    Parameters
    ----------
    text : str
        Comma-separated node counts, with an optional ``k`` (thousand) or ``M`` (million)
        suffix; empty for no lattice.

    Returns
    -------
    list of int
        Node counts, in the order given.

    Raises
    ------
    ValueError
        If a size cannot be read or is below 4 nodes.
    """
    sizes = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        scale = {"k": 1_000, "m": 1_000_000}.get(item[-1].lower(), 1)
        number = item[:-1] if scale != 1 else item
        try:
            value = round(float(number) * scale)
        except ValueError:
            raise ValueError(f"cannot read lattice size {item!r}; use e.g. 10k, 100k, 1M") from None
        if value < 4:
            raise ValueError(f"lattice size {item!r} is below 4 nodes (2 × 2)")
        sizes.append(value)
    return sizes


def lattice_shape(n_nodes: int) -> tuple[int, int]:
    """Columns and rows of the squarest lattice with about ``n_nodes`` nodes.

    Parameters
    ----------
    n_nodes : int
        Wanted number of nodes.

    Returns
    -------
    tuple of int
        ``(columns, rows)``, e.g. ``(316, 317)`` for 100,000.
    """
    columns = max(2, round(math.sqrt(n_nodes)))
    return columns, max(2, math.ceil(n_nodes / columns))


def _size_label(n_nodes: int) -> str:
    if n_nodes >= 1_000_000 and n_nodes % 1_000_000 == 0:
        return f"{n_nodes // 1_000_000}M"
    if n_nodes >= 1_000 and n_nodes % 1_000 == 0:
        return f"{n_nodes // 1_000}k"
    return str(n_nodes)


def _facilities_for(
    network: StreetNetwork, categories: Sequence[Category], per_category: int
) -> gpd.GeoDataFrame:
    return random_facilities(network, {c.id: per_category for c in categories}, seed=SEED)


def _write_inventory(facilities: gpd.GeoDataFrame, path: Path) -> None:
    """Write facilities as a CSV inventory (name, category, lon, lat; WGS-84)."""
    frame = pd.DataFrame(
        {
            "name": facilities["name"].to_numpy(),
            "category": facilities["category"].to_numpy(),
            "lon": facilities.geometry.x.round(7).to_numpy(),
            "lat": facilities.geometry.y.round(7).to_numpy(),
        }
    )
    frame.to_csv(path, index=False, encoding="utf-8")


def _reach_all(
    graph: RoutingGraph,
    facilities: gpd.GeoDataFrame,
    categories: Sequence[Category],
    owner: np.ndarray,
    access_m: np.ndarray,
    speed_m_s: float,
) -> list[CategoryReach]:
    """Reach of every category, called the way :func:`radius.pipeline.compute_reach` does."""
    category_values = facilities["category"].to_numpy()
    facility_nodes = graph.set_nodes[0]
    reaches = []
    for category in categories:
        rows = np.flatnonzero(category_values == category.id)
        position_of_row = np.full(len(facilities), -1, dtype=np.int64)
        position_of_row[rows] = np.arange(len(rows))
        mine = position_of_row[owner] >= 0
        reaches.append(
            reach_category(
                graph,
                category,
                facility_rows=rows,
                access_nodes=facility_nodes[mine],
                access_owner=position_of_row[owner[mine]],
                access_m=access_m[mine],
                speed_m_s=speed_m_s,
            )
        )
    return reaches


def _run_chain(
    spec: CaseSpec,
    clock: StageClock,
    categories: Sequence[Category],
    speed_m_s: float,
    out_dir: Path,
    *,
    first: bool,
) -> dict[str, int]:
    """Run every stage of one case once; return the network and facility sizes."""
    if spec.kind == "osm":
        path = Path(spec.path)
        with clock.stage("read"):
            ways = _osm.read_walkable_ways(path, load_walk_rules())
        with clock.stage("build graph"):
            segments, u_keys, v_keys = _osm.split_ways_at_junctions(ways)
            network = network_from_segments(
                segments, source=str(path), u_keys=u_keys, v_keys=v_keys
            )
        del ways, segments, u_keys, v_keys
    else:
        clock.mark("read", "n/a")
        with clock.stage("build graph"):
            network = lattice_network(spec.columns, spec.rows, 100.0)
    facilities = _facilities_for(network, categories, spec.per_category)
    if first and spec.inventory_csv:
        _write_inventory(facilities, Path(spec.inventory_csv))

    with clock.stage("snap"):
        owner, points = facility_access_points(network, facilities)
        snapped = snap_points(
            network, points, max_snap_m=DEFAULT_MAX_SNAP_M, owner=owner, n_owners=len(facilities)
        )
        graph = build_routing_graph(network, snapped)

    with clock.stage("reach"):
        reaches = _reach_all(
            graph, facilities, categories, snapped.owner, snapped.access_m, speed_m_s
        )

    if network.n_nodes > spec.skip_service_areas_above:
        clock.mark("service areas", "skipped")
        clock.mark("write", "skipped")
    else:
        with clock.stage("service areas"):
            areas, streets = _service_areas(network, graph, facilities, reaches, DEFAULT_BUFFER_M)
        del areas, streets
        with clock.stage("write"):
            nodes = _node_table(network, reaches, speed_m_s)
            write_outputs(out_dir, {"reach.gpkg": gpkg_writer({"nodes": nodes})})
        del nodes
    return {
        "nodes": network.n_nodes,
        "edges": network.n_edges,
        "routing_nodes": graph.n_nodes,
        "facilities": len(facilities),
        "pairs": int(sum(len(r.matrix.node) for r in reaches)),
    }


def _warm_up(
    meter: PeakMemory, categories: Sequence[Category], speed_m_s: float, out_dir: Path
) -> float:
    """Run every stage once on a tiny lattice so numba kernels are compiled or loaded."""
    started = time.perf_counter()
    columns, rows = WARMUP_LATTICE
    spec = CaseSpec(kind="lattice", label="warm-up", columns=columns, rows=rows)
    _run_chain(spec, StageClock(meter), categories, speed_m_s, out_dir, first=False)
    return time.perf_counter() - started


def run_case(spec: CaseSpec) -> CaseResult:
    """Measure one case in this process (the benchmark runs each in its own subprocess).

    Parameters
    ----------
    spec : CaseSpec
        The case.

    Returns
    -------
    CaseResult
    """
    meter = PeakMemory()
    categories = load_categories()
    speed = resolve_speed()
    with warnings.catch_warnings(), tempfile.TemporaryDirectory(prefix="radius-bench-") as tmp:
        warnings.simplefilter("ignore")
        warmup_s = _warm_up(meter, categories, speed, Path(tmp) / "warm-up")
        clock = StageClock(meter)
        sizes: dict[str, int] = {}
        for repeat in range(max(1, spec.repeat)):
            out_dir = Path(tmp) / f"run-{repeat}"
            sizes = _run_chain(spec, clock, categories, speed, out_dir, first=repeat == 0)
            shutil.rmtree(out_dir, ignore_errors=True)
            gc.collect()
    return CaseResult(
        label=spec.label,
        nodes=sizes["nodes"],
        edges=sizes["edges"],
        routing_nodes=sizes["routing_nodes"],
        facilities=sizes["facilities"],
        per_category=spec.per_category,
        stages=list(clock.stages.values()),
        process_peak_mb=meter.process_peak_mb(),
        warmup_s=warmup_s,
        per_stage_memory=meter.per_stage,
        pairs=sizes["pairs"],
    )


def _run_case_subprocess(spec: CaseSpec) -> CaseResult:
    """Run :func:`run_case` in a fresh Python process and read back its result."""
    with tempfile.TemporaryDirectory(prefix="radius-bench-case-") as tmp:
        result_file = Path(tmp) / "result.json"
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--run-case",
            json.dumps(dataclasses.asdict(spec)),
            "--result-file",
            str(result_file),
        ]
        completed = subprocess.run(command, check=False, capture_output=True, text=True)
        if completed.returncode != 0 or not result_file.exists():
            raise RuntimeError(
                f"case {spec.label!r} failed (exit {completed.returncode}):\n{completed.stderr}"
            )
        return CaseResult.from_json(json.loads(result_file.read_text(encoding="utf-8")))


# ---------------------------------------------------------------------------------------
# The whole command, end to end


@dataclass
class EndToEnd:
    """Wall time and peak memory of whole ``radius reach`` runs in a subprocess.

    Attributes
    ----------
    command : list of str
        The command line.
    wall_s : list of float
        Wall seconds of each run (interpreter start and imports included).
    peak_mb : list of float
        Peak RSS (MB) of each run's process.
    stage_s : dict of str to float
        The command's own ``timings_s`` from ``summary.json`` of the fastest run.
    """

    command: list[str]
    wall_s: list[float]
    peak_mb: list[float]
    stage_s: dict[str, float]


def _radius_command() -> list[str]:
    script = Path(sys.executable).with_name("radius")
    if script.exists():
        return [str(script)]
    found = shutil.which("radius")
    return [found] if found else [sys.executable, "-m", "radius.cli"]


def run_end_to_end(network: Path, inventory: Path, repeat: int = 1) -> EndToEnd:
    """Time ``radius reach --network ... --facilities ... --out ...`` in a subprocess.

    The peak RSS comes from the rusage of that one child process (``os.wait4``; the same
    figure ``getrusage(RUSAGE_CHILDREN)`` gives when it is the only child waited for).

    Parameters
    ----------
    network : Path
        The network file.
    inventory : Path
        The facility inventory (CSV).
    repeat : int, optional
        Number of runs.

    Returns
    -------
    EndToEnd

    Raises
    ------
    RuntimeError
        If the command fails.
    """
    walls: list[float] = []
    peaks: list[float] = []
    best_stage: dict[str, float] = {}
    base = _radius_command()
    with tempfile.TemporaryDirectory(prefix="radius-bench-e2e-") as tmp:
        command: list[str] = []
        for run in range(max(1, repeat)):
            out = Path(tmp) / f"out-{run}"
            command = [
                *base,
                "reach",
                "--network",
                str(network),
                "--facilities",
                str(inventory),
                "--out",
                str(out),
            ]
            log = Path(tmp) / f"log-{run}.txt"
            with open(log, "w", encoding="utf-8") as handle:
                started = time.perf_counter()
                process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
                _, status, usage = os.wait4(process.pid, 0)
                wall = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != 0:
                raise RuntimeError(
                    f"`{' '.join(command)}` failed (exit {process.returncode}):\n"
                    + log.read_text(encoding="utf-8")
                )
            if not walls or wall < min(walls):
                summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
                best_stage = {k: float(v) for k, v in summary.get("timings_s", {}).items()}
            walls.append(wall)
            peaks.append(usage.ru_maxrss / _KIB_PER_MB)
            shutil.rmtree(out, ignore_errors=True)
    return EndToEnd(command=command, wall_s=walls, peak_mb=peaks, stage_s=best_stage)


# ---------------------------------------------------------------------------------------
# Report


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_facts() -> list[str]:
    """Lines describing the machine and the versions of the libraries that matter."""
    import shapely

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    memory_gb = pages * os.sysconf("SC_PAGE_SIZE") / 1e9 if pages else float("nan")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"machine : {platform.platform()}; {_cpu_model()}",
        f"load    : {load} (1, 5, 15 min averages when the benchmark started)",
        f"cpus    : {os.cpu_count()} (usable by this process: {affinity}); "
        f"memory {memory_gb:.1f} GB",
        f"python  : {platform.python_version()} ({sys.executable})",
        f"packages: numpy {np.__version__}, numba {_package_version('numba')}, "
        f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), "
        f"geopandas {gpd.__version__}, pyogrio {_package_version('pyogrio')}, "
        f"scipy {_package_version('scipy')}, pyosmium {_package_version('osmium')}",
    ]


def _fmt_s(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _fmt_mb(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _verdict(value: float, limit: float) -> str:
    return "met" if value < limit else "MISSED"


def format_report(
    cases: Sequence[CaseResult],
    end_to_end: EndToEnd | None,
    *,
    repeat: int,
    facts: Sequence[str],
    shanghai_per_category: int,
    nodes_per_facility: int,
    skip_above: int,
) -> str:
    """The printed report: machine facts, the stage table, end-to-end run and targets.

    Parameters
    ----------
    cases : sequence of CaseResult
        Measured cases.
    end_to_end : EndToEnd or None
        The whole ``radius reach`` on the Shanghai centre network, if run.
    repeat : int
        Repeats per case.
    facts : sequence of str
        Machine facts (see :func:`machine_facts`).
    shanghai_per_category, nodes_per_facility, skip_above : int
        The facility densities and the service-area size limit used.

    Returns
    -------
    str
    """
    lines = [f"radius reach benchmark, {dt.datetime.now().isoformat(timespec='seconds')}"]
    lines.extend(facts)
    per_stage = all(c.per_stage_memory for c in cases)
    lines += [
        "",
        f"numba   : before timing, every case process runs all stages once on a "
        f"{WARMUP_LATTICE[0]}x{WARMUP_LATTICE[1]} lattice (the first call of the kernels "
        "compiles them, or loads them from the on-disk cache); shown as 'warm-up' per case",
        f"facility: Shanghai {shanghai_per_category} random facilities per category; lattices "
        f"one per {nodes_per_facility:,} nodes per category (random_facilities, seed {SEED}, "
        "up to 20 m off the street)",
        "columns : nodes and edges of the network's main component; facil. = facilities of "
        "all categories; pairs = (facility, node) distances stored in the 8 cost matrices",
        f"seconds : best of {repeat} run(s) of the whole stage chain; memory from the first run",
        "peak MB : "
        + (
            "peak RSS during the stage (VmHWM after a reset through /proc/self/clear_refs)"
            if per_stage
            else "peak RSS of the process so far (ru_maxrss; clear_refs not permitted)"
        )
        + "; +MB: that peak minus the RSS when the stage began",
        "total   : sum of the stage times; its peak MB is the whole case process "
        "(imports and warm-up included)",
        f"skipped : service areas and write on networks above {skip_above:,} nodes",
        "",
    ]
    header = (
        f"{'case':<26} {'nodes':>9} {'edges':>9} {'facil.':>6} {'pairs':>10}  "
        f"{'stage':<14} {'seconds':>8} {'peak MB':>8} {'+MB':>7}  target"
    )
    lines += [header, "-" * len(header)]
    for case in cases:
        is_1m = case.nodes >= _TARGET_NODES
        for index, stage in enumerate(case.stages):
            head = (
                f"{case.label:<26} {case.nodes:>9,} {case.edges:>9,} {case.facilities:>6,} "
                f"{case.pairs:>10,}"
                if index == 0
                else " " * 64
            )
            if stage.note:
                figures = f"{stage.note:>8} {'':>8} {'':>7}"
            else:
                figures = (
                    f"{_fmt_s(stage.best_s):>8} {_fmt_mb(stage.peak_mb):>8} "
                    f"{_fmt_mb(stage.added_mb):>7}"
                )
            target = ""
            if is_1m and stage.name == "reach" and stage.best_s is not None:
                target = f"< {TARGET_REACH_1M_S:g} s"
            lines.append(f"{head}  {stage.name:<14} {figures}  {target}".rstrip())
        total = sum(s.best_s or 0.0 for s in case.stages)
        peak_target = f"< {TARGET_PEAK_1M_MB:,.0f} MB" if is_1m else ""
        lines.append(
            f"{'':64}  {'total':<14} {total:>8.2f} {_fmt_mb(case.process_peak_mb):>8} "
            f"{'':>7}  {peak_target}".rstrip()
        )
        lines.append(f"{'':64}  (warm-up {case.warmup_s:.2f} s before timing)")
        lines.append("")
    if end_to_end is not None:
        best = min(range(len(end_to_end.wall_s)), key=end_to_end.wall_s.__getitem__)
        lines += [
            "end to end: radius reach --network <Shanghai pbf> --facilities <CSV inventory of "
            "the Shanghai case's facilities> --out <temp>",
            f"  wall {end_to_end.wall_s[best]:.2f} s (best of {len(end_to_end.wall_s)}), "
            f"peak RSS {max(end_to_end.peak_mb):,.0f} MB; target < "
            f"{TARGET_SHANGHAI_END_TO_END_S:g} s",
            "  its own timings_s: "
            + ", ".join(f"{k} {v:.2f}" for k, v in end_to_end.stage_s.items()),
            "",
        ]
    lines += _target_lines(cases, end_to_end)
    return "\n".join(lines)


def _target_lines(cases: Sequence[CaseResult], end_to_end: EndToEnd | None) -> list[str]:
    lines = ["targets"]
    if end_to_end is not None:
        wall = min(end_to_end.wall_s)
        lines.append(
            f"  whole `radius reach` on the Shanghai centre network: {wall:8.2f} s      "
            f"< {TARGET_SHANGHAI_END_TO_END_S:g} s      "
            f"{_verdict(wall, TARGET_SHANGHAI_END_TO_END_S)}"
        )
    for case in cases:
        if case.nodes < _TARGET_NODES:
            continue
        reach = case.stage("reach").best_s
        if reach is not None:
            lines.append(
                f"  reach, 8 categories, {case.label}: {reach:8.2f} s      "
                f"< {TARGET_REACH_1M_S:g} s      {_verdict(reach, TARGET_REACH_1M_S)}"
            )
        skipped = " (service areas and write skipped)" if case.stage("write").note else ""
        lines.append(
            f"  peak memory, {case.label}: {case.process_peak_mb:8,.0f} MB     "
            f"< {TARGET_PEAK_1M_MB:,.0f} MB   "
            f"{_verdict(case.process_peak_mb, TARGET_PEAK_1M_MB)}{skipped}"
        )
    if len(lines) == 1:
        lines.append("  (no case of the targets' size was run)")
    return lines


# ---------------------------------------------------------------------------------------
# Command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Seconds and peak memory per stage of a reach run (prints, never asserts).",
    )
    parser.add_argument(
        "--sizes",
        default="10k,100k,1M",
        help="lattice sizes in nodes, comma-separated (k, M suffixes); '' for none",
    )
    parser.add_argument(
        "--shanghai",
        default=str(DEFAULT_SHANGHAI),
        help="the Shanghai centre OSM file; '' to leave the case out "
        "(default ../shared/data/cn_shanghai_center_roads.osm.pbf)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per case; best time is shown (default 1)"
    )
    parser.add_argument(
        "--skip-service-areas-above",
        type=int,
        default=SKIP_SERVICE_AREAS_ABOVE,
        metavar="N",
        help="skip service areas and writing on networks with more than N nodes "
        f"(default {SKIP_SERVICE_AREAS_ABOVE:,})",
    )
    parser.add_argument(
        "--shanghai-per-category",
        type=int,
        default=SHANGHAI_PER_CATEGORY,
        help=f"facilities per category on the Shanghai network (default {SHANGHAI_PER_CATEGORY})",
    )
    parser.add_argument(
        "--nodes-per-facility",
        type=int,
        default=NODES_PER_FACILITY,
        help="lattice nodes per facility of each category "
        f"(default {NODES_PER_FACILITY:,}: 500 per category at 1M nodes)",
    )
    parser.add_argument(
        "--no-end-to-end",
        action="store_true",
        help="do not time the whole `radius reach` command on the Shanghai network",
    )
    parser.add_argument("--run-case", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    return parser


def _cases(args: argparse.Namespace, inventory: Path | None) -> list[CaseSpec]:
    specs = []
    if args.shanghai:
        specs.append(
            CaseSpec(
                kind="osm",
                label="Shanghai centre (OSM)",
                path=str(Path(args.shanghai).resolve()),
                per_category=args.shanghai_per_category,
                skip_service_areas_above=args.skip_service_areas_above,
                repeat=args.repeat,
                inventory_csv=str(inventory) if inventory else "",
            )
        )
    for size in parse_sizes(args.sizes):
        columns, rows = lattice_shape(size)
        specs.append(
            CaseSpec(
                kind="lattice",
                label=f"lattice {_size_label(size)} ({columns}x{rows})",
                columns=columns,
                rows=rows,
                per_category=max(1, round(columns * rows / args.nodes_per_facility)),
                skip_service_areas_above=args.skip_service_areas_above,
                repeat=args.repeat,
            )
        )
    return specs


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    """Run the benchmark and print the report.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments (default ``sys.argv[1:]``).
    out : callable, optional
        Where report lines go (default :func:`print`).

    Returns
    -------
    int
        Exit code: 0, or 2 for a bad argument or a missing file.
    """
    args = _parser().parse_args(argv)
    if args.run_case:
        spec = CaseSpec(**json.loads(args.run_case))
        result = run_case(spec)
        Path(args.result_file).write_text(json.dumps(dataclasses.asdict(result)), "utf-8")
        return 0
    if args.shanghai and not Path(args.shanghai).exists():
        print(
            f"bench_reach: {args.shanghai} not found; pass --shanghai PATH or ''", file=sys.stderr
        )
        return 2
    try:
        parse_sizes(args.sizes)
    except ValueError as exc:
        print(f"bench_reach: {exc}", file=sys.stderr)
        return 2
    facts = machine_facts()
    with tempfile.TemporaryDirectory(prefix="radius-bench-") as tmp:
        inventory = Path(tmp) / "shanghai_facilities.csv" if args.shanghai else None
        results = []
        for spec in _cases(args, inventory):
            print(f"running {spec.label} ...", file=sys.stderr, flush=True)
            results.append(_run_case_subprocess(spec))
        end_to_end = None
        if inventory is not None and not args.no_end_to_end:
            print("running the whole `radius reach` ...", file=sys.stderr, flush=True)
            end_to_end = run_end_to_end(Path(args.shanghai).resolve(), inventory, args.repeat)
    out(
        format_report(
            results,
            end_to_end,
            repeat=args.repeat,
            facts=facts,
            shanghai_per_category=args.shanghai_per_category,
            nodes_per_facility=args.nodes_per_facility,
            skip_above=args.skip_service_areas_above,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
