"""A Chinese PDF whatever matplotlib's font cache says (issue #14, point 2)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

_RADIUS = Path(sys.executable).with_name("radius")


def _fontconfig_has_cjk() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    listing = subprocess.run([fc_list, ":lang=zh", "file"], capture_output=True, text=True)
    return bool(listing.stdout.strip())


def _python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_stale_matplotlib_cache_still_gives_a_chinese_pdf(tmp_path: Path) -> None:
    if not _fontconfig_has_cjk():
        pytest.skip("fontconfig lists no CJK font: run `make system` (fonts-noto-cjk)")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is absent: run `make system` (poppler-utils)")
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl")}
    # A cache as the first run writes it before fonts-noto-cjk was installed: every
    # CJK face taken out of the font list matplotlib built.
    _python("import matplotlib.font_manager", env)
    (cache,) = (tmp_path / "mpl").glob("fontlist-*.json")
    fonts = json.loads(cache.read_text(encoding="utf-8"))
    fonts["ttflist"] = [f for f in fonts["ttflist"] if "CJK" not in f["name"]]
    cache.write_text(json.dumps(fonts), encoding="utf-8")
    stale = _python(
        "from matplotlib.font_manager import fontManager as m;"
        "print(sum('CJK' in f.name for f in m.ttflist))",
        env,
    )
    assert stale.strip() == "0", "the doctored cache was not the one matplotlib read"

    out = tmp_path / "report"
    done = subprocess.run(
        [str(_RADIUS), "report", "--lang", "zh", "--formats", "pdf", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    text = subprocess.run(
        ["pdftotext", str(out / "report.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "社区生活圈" in text or "生活圈" in text
    assert "新街口" in text or "南京" in text or "服务" in text
