"""One language at a time, and self-contained maps (issue #14, points 4 and 7)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from radius.cli import main
from radius.i18n import RadiusWarning, language_from_locale, localize, message, message_of

_SRC = re.compile(r"<(?:script|link|img)\b[^>]*?\b(?:src|href)\s*=\s*[\"']?(https?://[^\"' >]+)")


def _remote_assets(html: str) -> list[str]:
    """http(s) addresses the page loads as scripts, styles or images."""
    return _SRC.findall(html)


@pytest.mark.parametrize(
    "command",
    [
        ["analyze", "--categories", "convenience_store,supermarket"],
        ["site", "--category", "convenience_store", "--count", "1"],
    ],
    ids=["analyze", "site"],
)
def test_command_line_maps_embed_their_scripts(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main([*command, "--map", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    html = (out / "map.html").read_text(encoding="utf-8")
    assert _remote_assets(html) == []
    assert html.count('src="data:text/javascript;base64,') >= 3  # Leaflet, jQuery, markers
    assert "leaflet" not in " ".join(re.findall(r"https?://\S+", html)).lower()
    # Only the basemap tiles come from the internet.
    remote = set(re.findall(r"https?://[^\"'\s)\\]+", html))
    assert remote <= {
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "https://www.openstreetmap.org/copyright",
    }, remote


def test_the_pattern_finds_a_cdn_script() -> None:
    page = '<script src="https://cdn.jsdelivr.net/npm/leaflet.js"></script><link href="x.css">'
    assert _remote_assets(page) == ["https://cdn.jsdelivr.net/npm/leaflet.js"]


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LC_ALL": "", "LC_MESSAGES": "zh_CN", "LANG": "en_US"}, "zh"),
        ({"LANG": "C.UTF-8"}, "zh"),
        ({}, "zh"),
    ],
)
def test_language_from_locale(environ: dict[str, str], lang: str) -> None:
    assert language_from_locale(environ) == lang


def test_a_message_is_its_english_text_and_speaks_chinese() -> None:
    note = message("category_without_facilities", category="childcare")
    assert note == (
        "category 'childcare' has no facilities; its distances are empty. Add them to the "
        "inventory or check the OSM tags in configs/categories.yaml"
    )
    assert localize(note, "zh").startswith("“托育设施”类没有设施")
    assert localize("plain text", "zh") == "plain text"
    assert localize(message_of(RadiusWarning(note)), "zh") == note.text("zh")


def test_command_line_warnings_follow_lang_and_locale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["reach", "--categories", "elderly_care", "--out"]
    monkeypatch.setenv("LC_ALL", "zh_CN.UTF-8")
    assert main([*argv, str(tmp_path / "zh")]) == 0
    chinese = capsys.readouterr().err
    assert "radius：警告：“养老服务设施”类没有设施" in chinese
    assert "has no facilities" not in chinese
    assert main([*argv, str(tmp_path / "en"), "--lang", "en"]) == 0
    english = capsys.readouterr().err
    assert "radius: warning: category 'elderly_care' has no facilities" in english
    assert not re.search(r"[\u4e00-\u9fff]", english.replace("cn_nanjing", ""))
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    assert main([*argv, str(tmp_path / "locale")]) == 0
    assert "radius: warning: category 'elderly_care'" in capsys.readouterr().err
