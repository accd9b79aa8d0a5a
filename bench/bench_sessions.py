"""Sessions at once against one alone, with the CPU each process kind spends.

Does what ``tests/test_browser.py``'s 5-session test does (``streamlit run app.py`` on a
free local port, Debian's Chromium through Playwright, a warm-up page, then new browser
contexts, seconds until the map's canvas shows), and prints beside the times the CPU
seconds (user + system, from ``/proc/<pid>/stat``) that each process kind spent: the
renderers, Chromium's GPU process (software compositing), its browser and network
processes, and the server. Prints figures and the load average; never asserts.

``--tree`` runs another checkout's ``app.py`` (e.g. an older commit unpacked with
``git archive COMMIT | tar -x -C DIR``), with that tree first on ``PYTHONPATH``, so
commits can be timed one after the other on the same machine. ``--returning`` opens each
session in a browser context that has loaded the app once before (its scripts in the HTTP
and code caches, as for a planner who used the app yesterday); by default every session
is a first visit, in a new context. ``--sessions 0`` times one session alone only
(``--alone`` times, default 3).

Run: ``python bench/bench_sessions.py [--sessions 5] [--alone 3] [--tree DIR] [--returning]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _app_browser import CHROMIUM, CHROMIUM_ARGS, free_port, map_drawn, wait_healthy

REPO = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, or None once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _kind(pid: int) -> str:
    """Chromium's process type (``renderer``, ``gpu-process``, ``utility``), else the name."""
    try:
        found = re.search(rb"--type=([\w-]+)", Path(f"/proc/{pid}/cmdline").read_bytes())
        return found.group(1).decode() if found else Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "gone"


def _under(stats: dict[int, tuple[int, float]], root: int) -> set[int]:
    found = {root}
    frontier = {root}
    while frontier:
        frontier = {c for c, (parent, _) in stats.items() if parent in frontier} - found
        found |= frontier
    return found


def _snapshot(server: int) -> dict[tuple[int, str], float]:
    """CPU seconds of every process under this one, by (pid, kind); the server's as one kind."""
    stats = {}
    for entry in Path("/proc").glob("[0-9]*"):
        got = _stat(int(entry.name))
        if got is not None:
            stats[int(entry.name)] = got
    served = _under(stats, server)
    return {
        (pid, "server" if pid in served else _kind(pid)): stats[pid][1]
        for pid in _under(stats, os.getpid())
        if pid in stats
    }


def _spent(before: dict[tuple[int, str], float], after: dict[tuple[int, str], float]) -> str:
    by_kind: dict[str, float] = {}
    for key, seconds in after.items():
        by_kind[key[1]] = by_kind.get(key[1], 0.0) + seconds - before.get(key, 0.0)
    shown = sorted(((k, v) for k, v in by_kind.items() if v > 0.05), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v:.2f}" for k, v in shown) + f"; sum {sum(by_kind.values()):.1f} s"


def _times(pages: list[Any], started: float, timeout_s: float = 300) -> list[float]:
    seen: dict[int, float] = {}
    deadline = time.monotonic() + timeout_s
    while len(seen) < len(pages):
        for k, page in enumerate(pages):
            if k not in seen and map_drawn(page):
                seen[k] = time.perf_counter() - started
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(seen)} of {len(pages)} maps in {timeout_s} s")
        time.sleep(0.1)
    return [seen[k] for k in range(len(pages))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--alone", type=int, default=3, help="sessions alone (half before)")
    parser.add_argument("--tree", type=Path, default=REPO, help="checkout whose app.py runs")
    parser.add_argument(
        "--returning",
        action="store_true",
        help="each session in a browser context that has opened the app once before",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    tree = args.tree.resolve()
    port = free_port()
    env = dict(
        os.environ,
        STREAMLIT_SERVER_FILE_WATCHER_TYPE="none",
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
        PYTHONWARNINGS="ignore",
        PYTHONPATH=str(tree),
        LANG="C.UTF-8",
    )
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    command += ["--server.address", "127.0.0.1", "--server.port", str(port)]
    server = subprocess.Popen(
        command, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    print(f"{tree}: load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    try:
        wait_healthy(url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

            def fresh_context() -> Any:
                return browser.new_context(viewport={"width": 1300, "height": 900})

            # A returning planner's browser has the app's scripts in its HTTP and code
            # caches; a new context models a first visit, with nothing cached.
            returning: list[Any] = []
            if args.returning:
                returning = [fresh_context() for _ in range(max(args.sessions, 1))]
                for context in returning:
                    visit = context.new_page()
                    visit.goto(url, wait_until="commit")
                    _times([visit], time.perf_counter())
                    visit.close()
            next_planner = itertools.cycle(returning)

            def new_page() -> Any:
                return (next(next_planner) if returning else fresh_context()).new_page()

            def close(page: Any) -> None:
                page.close() if returning else page.context.close()

            def alone() -> float:
                page = new_page()
                before = _snapshot(server.pid)
                started = time.perf_counter()
                page.goto(url, wait_until="commit")
                (seconds,) = _times([page], started)
                print(f"one alone: {seconds:.2f} s; CPU {_spent(before, _snapshot(server.pid))}")
                close(page)
                return seconds

            warm = fresh_context().new_page()  # the server computes the shared default
            warm.goto(url, wait_until="commit")
            _times([warm], time.perf_counter())
            warm.context.close()
            first = args.alone - args.alone // 2 if args.sessions else args.alone
            runs = [alone() for _ in range(first)]
            if args.sessions:
                pages = [new_page() for _ in range(args.sessions)]
                before = _snapshot(server.pid)
                started = time.perf_counter()
                for page in pages:
                    page.goto(url, wait_until="commit")
                together = _times(pages, started)
                spent = _spent(before, _snapshot(server.pid))
                for page in pages:
                    close(page)
                print(
                    f"{args.sessions} at once: {' / '.join(f'{t:.2f}' for t in together)} s; "
                    f"CPU {spent}"
                )
                runs += [alone() for _ in range(args.alone // 2)]
            browser.close()
    finally:
        server.terminate()
        server.wait(15)
    median = sorted(runs)[len(runs) // 2]
    line = f"one alone median {median:.2f} s"
    if args.sessions:
        line += (
            f", {args.sessions} at once max {max(together):.2f} s: {max(together) / median:.2f}x"
        )
    print(f"{line}; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
