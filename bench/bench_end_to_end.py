"""The whole ``radius reach`` command against a minimal pipeline, side by side in one run.

Run as a script::

    python bench/bench_end_to_end.py [--shanghai PATH] [--repeat 3] [--per-category 60]

On the Shanghai centre network it places ``--per-category`` facilities of each of the 8
categories (``radius.synthetic.random_facilities``, seed 0, as ``bench_reach.py`` does) and
writes them as a CSV inventory. Then, ``--repeat`` times in turn, each in a fresh
subprocess (interpreter start and imports included):

- ``minimal``: ``bench/minimal_pipeline.py`` (read, graph, edge snap, nearest distance;
  nothing else, nothing written);
- ``radius reach``: the whole command with its default outputs (every layer, category
  service areas);
- ``radius reach --no-service-areas``;
- ``networkx peer``: the minimal pipeline with networkx's Dijkstra instead of scipy's.

It prints the best wall time of each, the ratio of ``radius reach`` to the minimal pipeline
(target: at most 2), peak RSS (``os.wait4``) and the command's own stage table
(``timings_s`` of its ``summary.json``, fastest run). It never asserts on timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SHANGHAI = HERE.parent.parent / "shared" / "data" / "cn_shanghai_center_roads.osm.pbf"
TARGET_RATIO = 2.0


def write_inventory(network_path: Path, per_category: int, path: Path) -> int:
    """Place the facilities on the network and write them as a CSV inventory."""
    sys.path.insert(0, str(HERE))
    import bench_reach

    from radius import _osm
    from radius.config import load_categories, load_walk_rules
    from radius.network import network_from_segments

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ways = _osm.read_walkable_ways(network_path, load_walk_rules())
        segments, u_keys, v_keys = _osm.split_ways_at_junctions(ways)
        network = network_from_segments(
            segments, source=str(network_path), u_keys=u_keys, v_keys=v_keys
        )
    facilities = bench_reach._facilities_for(network, load_categories(), per_category)
    bench_reach._write_inventory(facilities, path)
    return len(facilities)


def _timed(command: list[str], log: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one subprocess."""
    with open(log, "w", encoding="utf-8") as handle:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"`{' '.join(command)}` failed:\n{log.read_text('utf-8')}")
    return wall, usage.ru_maxrss / 1024.0


def _radius() -> list[str]:
    script = Path(sys.executable).with_name("radius")
    return [str(script)] if script.exists() else [sys.executable, "-m", "radius.cli"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shanghai", type=Path, default=DEFAULT_SHANGHAI)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (best shown)")
    parser.add_argument("--per-category", type=int, default=60, help="facilities per category")
    parser.add_argument("--write-inventory", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_inventory:
        print(write_inventory(args.shanghai.resolve(), args.per_category, args.write_inventory))
        return 0
    if not args.shanghai.exists():
        print(f"bench_end_to_end: {args.shanghai} not found; pass --shanghai", file=sys.stderr)
        return 2
    network = args.shanghai.resolve()
    with tempfile.TemporaryDirectory(prefix="radius-e2e-") as tmp:
        folder = Path(tmp)
        inventory = folder / "facilities.csv"
        # Written by a child process, so this one stays small: a child's peak RSS counts the
        # parent's pages it was forked from.
        written = subprocess.run(
            [
                sys.executable,
                __file__,
                "--shanghai",
                str(network),
                "--per-category",
                str(args.per_category),
                "--write-inventory",
                str(inventory),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        n_facilities = int(written.stdout.strip().splitlines()[-1])
        minimal = [sys.executable, str(HERE / "minimal_pipeline.py"), str(network), str(inventory)]
        reach = [*_radius(), "reach", "--network", str(network), "--facilities", str(inventory)]
        cases = {
            "minimal pipeline (scipy)": minimal,
            "radius reach": reach,
            "radius reach --no-service-areas": [*reach, "--no-service-areas"],
            "networkx peer (minimal, networkx Dijkstra)": [*minimal, "--engine", "networkx"],
        }
        walls: dict[str, list[float]] = {name: [] for name in cases}
        peaks: dict[str, list[float]] = {name: [] for name in cases}
        stages: dict[str, float] = {}
        for run in range(max(1, args.repeat)):
            for name, command in cases.items():
                out = folder / f"out-{run}"
                full = [*command, "--out", str(out)] if name.startswith("radius") else command
                wall, peak = _timed(full, folder / "log.txt")
                if name == "radius reach" and (not walls[name] or wall < min(walls[name])):
                    summary = json.loads((out / "summary.json").read_text("utf-8"))
                    stages = {k: float(v) for k, v in summary["timings_s"].items()}
                walls[name].append(wall)
                peaks[name].append(peak)
                shutil.rmtree(out, ignore_errors=True)
    best = {name: min(values) for name, values in walls.items()}
    base = best["minimal pipeline (scipy)"]
    ratio = best["radius reach"] / base
    lines = [
        f"# radius reach against a minimal pipeline "
        f"({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC)",
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
        f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}",
        f"network: {network.name}; {n_facilities} facilities "
        f"({args.per_category} per category); best of {max(1, args.repeat)}, interleaved",
        "",
        "| run | best s | all runs s | peak MB | / minimal |",
        "|---|---:|---|---:|---:|",
    ]
    for name in cases:
        lines.append(
            f"| {name} | {best[name]:.2f} | "
            + ", ".join(f"{v:.2f}" for v in walls[name])
            + f" | {max(peaks[name]):,.0f} | {best[name] / base:.2f}x |"
        )
    lines += [
        "",
        f"radius reach / minimal pipeline: {ratio:.2f}x (target <= {TARGET_RATIO:g}x: "
        f"{'met' if ratio <= TARGET_RATIO else 'NOT met'})",
        "radius reach stages (fastest run, s): "
        + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()),
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
