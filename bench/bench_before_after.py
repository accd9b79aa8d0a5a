"""``radius reach`` of two source trees, interleaved: wall and CPU seconds of each run.

Run as a script::

    git archive <commit> radius configs | tar -x -C /tmp/before
    python bench/bench_before_after.py --before /tmp/before [--rounds 3] [-- EXTRA ARGS]

Each round runs ``python -m radius.cli reach`` on the Shanghai centre network with the
inventory of ``bench_end_to_end.py`` (60 facilities per category), first with the tree of
``--before`` and then with this checkout, each first on ``PYTHONPATH`` and in a fresh
subprocess. It prints, per run, the wall seconds, the CPU seconds of the child (user +
system, ``os.wait4``), the load average when it started and the command's own stage table,
then the best of each. CPU seconds are the figure to compare on a loaded machine: wall
times there follow the other users' work. It never asserts on timings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SHANGHAI = HERE.parent.parent / "shared" / "data" / "cn_shanghai_center_roads.osm.pbf"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the rounds and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="exported source tree")
    parser.add_argument("--shanghai", type=Path, default=DEFAULT_SHANGHAI)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-category", type=int, default=60)
    parser.add_argument("extra", nargs="*", help="more arguments for `radius reach`")
    args = parser.parse_args(argv)
    if not (args.before / "radius" / "cli.py").exists():
        print(f"bench_before_after: no radius/cli.py under {args.before}", file=sys.stderr)
        return 2
    if not args.shanghai.exists():
        print(f"bench_before_after: {args.shanghai} not found; pass --shanghai", file=sys.stderr)
        return 2
    trees = {"before": args.before.resolve(), "after": HERE.parent}
    best: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="radius-ab-") as tmp:
        inventory = Path(tmp) / "facilities.csv"
        subprocess.run(
            [
                sys.executable,
                str(HERE / "bench_end_to_end.py"),
                "--shanghai",
                str(args.shanghai),
                "--per-category",
                str(args.per_category),
                "--write-inventory",
                str(inventory),
            ],
            check=True,
            capture_output=True,
        )
        for round_ in range(1, max(1, args.rounds) + 1):
            for name, tree in trees.items():
                out = Path(tmp) / f"out-{name}"
                shutil.rmtree(out, ignore_errors=True)
                command = [sys.executable, "-m", "radius.cli", "reach", "--network"]
                command += [str(args.shanghai), "--facilities", str(inventory), "--out", str(out)]
                load = os.getloadavg()[0]
                started = time.perf_counter()
                process = subprocess.Popen(
                    [*command, *args.extra],
                    cwd=tree,
                    env=dict(os.environ, PYTHONPATH=str(tree)),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                _, status, usage = os.wait4(process.pid, 0)
                wall = time.perf_counter() - started
                if os.waitstatus_to_exitcode(status) != 0:
                    print(f"bench_before_after: the {name} run failed", file=sys.stderr)
                    return 1
                cpu = usage.ru_utime + usage.ru_stime
                stages = json.loads((out / "summary.json").read_text("utf-8"))["timings_s"]
                print(
                    f"round {round_} {name}: wall {wall:.2f} s, CPU {cpu:.2f} s, load {load:.2f}; "
                    + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()),
                    flush=True,
                )
                low_wall, low_cpu = best.get(name, (wall, cpu))
                best[name] = (min(low_wall, wall), min(low_cpu, cpu))
    for name, (wall, cpu) in best.items():
        print(f"{name}: best wall {wall:.2f} s, best CPU {cpu:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
