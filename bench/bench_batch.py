"""Districts per minute of a batch run with 1 and 2 (or more) local worker processes.

Run as a script from the repository root::

    python bench/bench_batch.py [--job examples/shanghai_batch.yaml] [--workers 1,2] [--limit N]

For each worker count the sample batch (by default the first 40 arterial blocks of the
Shanghai centre network, see ``examples/shanghai_batch.yaml``) runs from scratch in a
temporary folder, on a fresh :class:`dask.distributed.LocalCluster`. It prints, per worker
count, the districts run, ok and failed, the compute time (first task submitted to last
result), districts per minute of compute time, the wall time including the cluster's start
and the combined tables, and how often the shared inputs were read. It never asserts.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

from radius.batch import BatchJob, load_job, run_batch

__all__ = ["main"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JOB = REPO_ROOT / "examples" / "shanghai_batch.yaml"


def _worker_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("give worker counts ≥ 1, e.g. 1,2")
    return counts


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per worker count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", type=Path, default=DEFAULT_JOB, help="batch job file")
    parser.add_argument("--workers", type=_worker_counts, default=[1, 2], help="e.g. 1,2,4")
    parser.add_argument("--limit", type=int, help="override the job's number of districts")
    args = parser.parse_args(argv)

    job: BatchJob = load_job(args.job)
    if args.limit is not None:
        job = job.model_copy(update={"limit": args.limit})
    print(
        f"batch benchmark: {args.job} ({job.limit or 'all'} districts), "
        f"python {platform.python_version()}, {os.cpu_count()} CPU(s)"
    )
    header = (
        f"{'workers':>7} {'districts':>9} {'ok':>4} {'failed':>6} {'compute s':>9} "
        f"{'districts/min':>13} {'wall s':>7}  reads of shared inputs"
    )
    print(header)
    print("-" * len(header))
    for workers in args.workers:
        with tempfile.TemporaryDirectory(prefix="bench-batch-") as folder:
            report = run_batch(job, Path(folder), workers=workers, progress=False, resume=False)
        loads = ", ".join(f"{k} {v}" for k, v in sorted(report.input_loads.items()))
        print(
            f"{workers:>7} {len(report.districts):>9} {report.count('ok'):>4} "
            f"{report.count('failed'):>6} {report.compute_s:>9.1f} "
            f"{report.districts_per_minute:>13.1f} {report.elapsed_s:>7.1f}  {loads}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
