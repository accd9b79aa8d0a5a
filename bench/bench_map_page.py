"""What one first page of the app costs the browser: CPU seconds, bytes, time to the map.

Starts ``streamlit run app.py`` on a free local port, opens Debian's Chromium with
Playwright, loads one warm-up page (the server computes the shared default district), then
opens ``--repeat`` new sessions one after the other (each its own browser context). For each:
the seconds until the map's canvas appears, the CPU seconds (user + system, from
``/proc/<pid>/stat``) that every Chromium process and the server spent from the page's
start until the page has been quiet for a second after its map, and the bytes the page
received (HTTP bodies and websocket frames; the map travels in a websocket frame). Also the
map's own size: the payload ``st_folium`` hands its frame (script + HTML + header).

Prints figures and the load average; never asserts. Run:
``python bench/bench_map_page.py [--repeat 3] [--lang zh]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _app_browser import CHROMIUM, CHROMIUM_ARGS, free_port, map_drawn, wait_healthy

REPO = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _tree(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found = {pid}
    frontier = {pid}
    while frontier:
        frontier = {c for c, p in parents.items() if p in frontier} - found
        found |= frontier
    return found


def _kind(pid: int) -> str:
    """Chromium's process type (``renderer``, ``gpu-process``, ``utility``...) or ``main``.

    Chromium rewrites its command line into one space-separated string: search it."""
    try:
        found = re.search(rb"--type=([\w-]+)", Path(f"/proc/{pid}/cmdline").read_bytes())
    except OSError:
        return "gone"
    return found.group(1).decode() if found else "main"


class _Cpu:
    """CPU seconds of a process tree, summed over every process seen (exited ones kept)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.last: dict[int, float] = {}
        self.kinds: dict[int, str] = {}

    def sample(self) -> float:
        for p in _tree(self.pid):
            value = _cpu_s(p)
            if value:
                self.last[p] = max(self.last.get(p, 0.0), value)
                if p not in self.kinds:
                    self.kinds[p] = _kind(p)
        return sum(self.last.values())

    def by_kind(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for p, value in self.last.items():
            kind = self.kinds.get(p, "?")
            totals[kind] = totals.get(kind, 0.0) + value
        return totals


def _one_page(browser: Any, url: str, cpu: dict[str, _Cpu]) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    received = {"http": 0, "ws": 0}

    def on_response(response: Any) -> None:
        with contextlib.suppress(Exception):  # a redirect or a closed page has no body
            received["http"] += len(response.body())

    def on_ws(ws: Any) -> None:
        ws.on(
            "framereceived",
            lambda payload: received.__setitem__("ws", received["ws"] + len(payload)),
        )

    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.on("response", on_response)
    page.on("websocket", on_ws)
    before = {k: c.sample() for k, c in cpu.items()}
    kinds_before = cpu["chromium"].by_kind()
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    while not map_drawn(page):
        if time.perf_counter() - started > 120:
            raise SystemExit("no map within 120 s")
        time.sleep(0.05)
    to_map = time.perf_counter() - started
    at_map = {k: c.sample() for k, c in cpu.items()}
    # Quiet: no CPU in the browser for a second (the page has drawn everything).
    last, quiet_since = cpu["chromium"].sample(), time.perf_counter()
    while time.perf_counter() - quiet_since < 1.0:
        time.sleep(0.25)
        now = cpu["chromium"].sample()
        if now - last > 0.02:
            quiet_since = time.perf_counter()
        last = now
    after = {k: c.sample() for k, c in cpu.items()}
    kinds = {
        f"cpu_{k}_s": v - kinds_before.get(k, 0.0) for k, v in cpu["chromium"].by_kind().items()
    }
    metrics = {}
    try:
        for m in cdp.send("Performance.getMetrics")["metrics"]:
            if m["name"] in (
                "TaskDuration",
                "ScriptDuration",
                "LayoutDuration",
                "RecalcStyleDuration",
                "JSHeapUsedSize",
                "Nodes",
            ):
                metrics[m["name"]] = m["value"] / (
                    1024 * 1024 if m["name"] == "JSHeapUsedSize" else 1
                )
    except Exception as exc:
        print("no CDP metrics:", exc)
    context.close()
    return (
        kinds
        | metrics
        | {
            "to_map_s": to_map,
            "chromium_cpu_to_map_s": at_map["chromium"] - before["chromium"],
            "chromium_cpu_s": after["chromium"] - before["chromium"],
            "server_cpu_s": after["server"] - before["server"],
            "http_kb": received["http"] / 1024,
            "ws_kb": received["ws"] / 1024,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="pages after the warm-up")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = dict(os.environ, STREAMLIT_SERVER_FILE_WATCHER_TYPE="none", PYTHONWARNINGS="ignore")
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, timeout_s=60)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            browser_pid = next(
                p for p in _tree(os.getpid()) - {os.getpid()}
                if "chrom" in Path(f"/proc/{p}/comm").read_text()
                and _kind(p) == "main"
            )  # fmt: skip
            cpu = {"chromium": _Cpu(browser_pid), "server": _Cpu(server.pid)}
            warm = _one_page(browser, url, cpu)
            print(f"warm-up: {warm}  load {os.getloadavg()[0]:.2f}")
            runs = []
            for _ in range(args.repeat):
                runs.append(_one_page(browser, url, cpu))
                print(
                    "page: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in runs[-1].items())
                    + f"  load {os.getloadavg()[0]:.2f}"
                )
            browser.close()
        for key in runs[0]:
            print(f"median {key}: {statistics.median(r[key] for r in runs):.2f}")
        print(f"load average {Path('/proc/loadavg').read_text().strip()} on {os.cpu_count()} cores")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
