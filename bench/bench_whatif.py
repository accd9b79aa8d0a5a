"""What-if time on the default district, and the app server's memory around many sessions.

Part 1 (always): loads the default district once, analyses it, then times what-ifs with one
proposed facility as the app runs them: :func:`radius.whatif.whatif_analysis` with the base
analysis (only the proposal's category and its rules recomputed), beside the full
``analyze()`` with the proposal for comparison. Target: under 0.3 s.

Part 2 (``--sessions N``, needs Debian's Chromium and Playwright): starts
``streamlit run app.py``, reads the server's resident memory (RSS, from ``/proc``) when idle
after one warm-up session, opens N browser sessions at once, each uploading a small
facility list (so each holds inputs and results of its own) and placing no facility, reads
the peak RSS while they are open, closes them, and reads the RSS every 5 s for
``--after`` seconds. The worker processes of uploads are separate processes; their RSS is
printed as well.

Prints figures; never asserts. Run: ``python bench/bench_whatif.py [--repeat N]
[--sessions 10] [--after 60]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _app_browser import CHROMIUM, CHROMIUM_ARGS, free_port, wait_healthy

REPO = Path(__file__).resolve().parent.parent
CSV = (
    "名称,类别,经度,纬度,床位\n"
    "苏果好的,便利店,118.77755,32.05155,\n"
    "GIANT,supermarket,118.78813,32.03846,\n"
    "新街口社区养老服务中心,养老服务设施,118.7894,32.0407,60\n"
)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def what_if_times(repeat: int) -> None:
    """Part 1: the what-if time."""
    import numpy as np

    from radius.app_inputs import load_inputs
    from radius.config import load_categories
    from radius.whatif import Proposal, Settings, whatif_analysis

    started = time.perf_counter()
    loaded = load_inputs([])
    print(f"district: {loaded.network_label}")
    print(f"load inputs (once, shared by every session): {time.perf_counter() - started:.3f} s")
    settings = Settings(
        tuple(c.id for c in load_categories()), "time", "adult", "national", None, "2sfca"
    )
    started = time.perf_counter()
    base = whatif_analysis(loaded.inputs, settings, (), loaded.network_label)
    print(
        f"base analysis (once, shared; numba kernels load): {time.perf_counter() - started:.3f} s"
    )
    west, south, east, north = loaded.inputs.residents.total_bounds
    rng = np.random.default_rng(0)
    categories = [c.id for c in load_categories()]
    fast, full = [], []
    for k in range(repeat):
        proposal = Proposal(
            k,
            categories[k % len(categories)],
            float(rng.uniform(west, east)),
            float(rng.uniform(south, north)),
            f"P{k}",
            (),
        )
        args = (loaded.inputs, settings, (proposal,), loaded.network_label)
        started = time.perf_counter()
        whatif_analysis(*args, base=base)
        fast.append(time.perf_counter() - started)
        started = time.perf_counter()
        whatif_analysis(*args)
        full.append(time.perf_counter() - started)
    print(
        f"what-if, one proposed facility, {repeat} runs over the {len(categories)} categories: "
        f"median {statistics.median(fast):.3f} s, max {max(fast):.3f} s (target < 0.3 s); "
        f"full re-analysis: median {statistics.median(full):.3f} s, max {max(full):.3f} s"
    )


def sessions_memory(sessions: int, after_s: float) -> None:
    """Part 2: the server's RSS before, during and after ``sessions`` browser sessions."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, STREAMLIT_SERVER_FILE_WATCHER_TYPE="none", PYTHONWARNINGS="ignore")
    log_path = Path(tempfile.mkdtemp(prefix="radius-bench-")) / "streamlit.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    csv = Path(tempfile.mkdtemp(prefix="radius-bench-")) / "设施.csv"
    csv.write_bytes(CSV.encode("gbk"))
    peak = [0.0]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            peak[0] = max(peak[0], _rss_mb(server.pid))
            time.sleep(0.2)

    def workers() -> str:
        pids = _children(server.pid)
        return ", ".join(f"{_rss_mb(p):.0f}" for p in pids) or "none"

    try:
        wait_healthy(url, timeout_s=90)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

            def open_session() -> Any:
                page = browser.new_page(viewport={"width": 1300, "height": 900})
                page.set_default_timeout(300_000)
                page.goto(url, wait_until="commit")
                return page

            def wait_map(page: Any) -> None:
                frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]').last
                frame.locator(".leaflet-overlay-pane canvas").first.wait_for(state="attached")

            warm = open_session()
            wait_map(warm)
            warm.close()
            time.sleep(20)
            idle = _rss_mb(server.pid)
            print(f"server RSS idle after one warm-up session: {idle:.0f} MB "
                  f"(worker processes: {workers()} MB)")  # fmt: skip
            threading.Thread(target=sample, daemon=True).start()
            started = time.perf_counter()
            pages = [open_session() for _ in range(sessions)]
            for page in pages:
                wait_map(page)
            first_maps = time.perf_counter() - started
            for page in pages:
                uploader = page.locator('[data-testid="stFileUploader"]').nth(1)
                uploader.locator('input[type="file"]').set_input_files(str(csv))
            for page in pages:
                page.get_by_text("上传的设施清单替换了以下类别").first.wait_for()
            loaded = time.perf_counter() - started
            time.sleep(2)
            during = _rss_mb(server.pid)
            sampling.set()
            print(f"{sessions} sessions: all first maps in {first_maps:.1f} s, all uploads "
                  f"analysed in {loaded:.1f} s")  # fmt: skip
            print(f"server RSS during: {during:.0f} MB, peak {peak[0]:.0f} MB "
                  f"(worker processes: {workers()} MB)")  # fmt: skip
            for page in pages:
                page.close()
            browser.close()
        closed = time.monotonic()
        while time.monotonic() - closed < after_s:
            time.sleep(5)
            print(f"  {time.monotonic() - closed:4.0f} s after the sessions closed: "
                  f"{_rss_mb(server.pid):.0f} MB")  # fmt: skip
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        print(f"server stopped by SIGTERM: exit code {server.returncode} (log: {log_path})")


def main() -> None:
    """Run part 1, and part 2 when ``--sessions`` is given."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=16, help="what-ifs to time (16)")
    parser.add_argument("--sessions", type=int, default=0, help="browser sessions (none)")
    parser.add_argument("--after", type=float, default=60.0, help="seconds to watch after (60)")
    args = parser.parse_args()
    import warnings

    warnings.simplefilter("ignore")
    what_if_times(args.repeat)
    if args.sessions:
        sessions_memory(args.sessions, args.after)


if __name__ == "__main__":
    main()
