"""What the app's browser benchmarks share: Debian's Chromium, a port, the server's health.

``bench_sessions.py``, ``bench_map_page.py`` and ``bench_whatif.py`` import it (run as
``python bench/NAME.py``, so this folder is on ``sys.path``).
"""

from __future__ import annotations

import socket
import time
import urllib.request
from typing import Any

CHROMIUM = "/usr/bin/chromium"
#: As tests/test_browser.py starts it: without the background-networking flags this
#: machine's closed network refuses Chromium's own connections, many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
MAP_CANVAS = ".leaflet-overlay-pane canvas"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, timeout_s: float = 120) -> None:
    """Wait until the Streamlit server at ``url`` answers its health check."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"the app at {url} did not start in {timeout_s:.0f} s") from None
            time.sleep(0.25)


def map_drawn(page: Any) -> bool:
    """Whether the page's map frame has drawn its Leaflet canvas."""
    try:
        return bool(page.frame_locator(MAP_FRAME).last.locator(MAP_CANVAS).count() > 0)
    except Exception:  # the frame is being replaced
        return False
