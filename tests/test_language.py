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
    assert html.count('src="data:text/javascript;base64,') >= 1  # Leaflet (no jQuery needed)
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
    assert localize(note, "zh").startswith("“托育设施（0–3 岁）”类没有设施")
    assert localize("plain text", "zh") == "plain text"
    assert localize(message_of(RadiusWarning(note)), "zh") == note.text("zh")


def test_command_line_warnings_follow_lang_and_locale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["reach", "--categories", "elderly_care", "--out"]
    monkeypatch.setenv("LC_ALL", "zh_CN.UTF-8")
    assert main([*argv, str(tmp_path / "zh")]) == 0
    chinese = capsys.readouterr().err
    assert "radius：警告：“养老院、老年养护院”类没有设施" in chinese
    assert "has no facilities" not in chinese
    assert main([*argv, str(tmp_path / "en"), "--lang", "en"]) == 0
    english = capsys.readouterr().err
    assert "radius: warning: category 'elderly_care' has no facilities" in english
    assert not re.search(r"[\u4e00-\u9fff]", english.replace("cn_nanjing", ""))
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    assert main([*argv, str(tmp_path / "locale")]) == 0
    assert "radius: warning: category 'elderly_care'" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# The report (PDF through pdftotext), its workbook and the web map: one language each
# --------------------------------------------------------------------------------------

_ENGLISH_ALLOWED = {
    # names, ids, units and formats that stay as they are in a Chinese report
    *("OSM", "OpenStreetMap", "contributors", "ODbL", "GB", "TD", "UTC", "radius", "WGS"),
    *("UTM", "zone", "EPSG", "SFCA", "km", "min", "osm", "pbf", "yaml", "xlsx", "block"),
    *("rest", "national", "guangdong", "N", "ID", "m²", "levels"),
}
_CHINESE_ALLOWED = ("社区", "街道", "常住人口", "户数", "不适用", "配建")
_CJK = re.compile(r"[\u4e00-\u9fff]+")


_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")


def _name_words(names) -> frozenset[str]:
    """The whole words of ``names``: each English word and each run of Chinese characters.

    A text passes a word only when some name holds that very word, not when the word is a
    piece of one (``"Lawson"`` lets ``Lawson`` pass, not ``law`` or ``son``).
    """
    words: set[str] = set()
    for name in names:
        words.update(_WORD.findall(str(name)))
        words.update(_CJK.findall(str(name)))
    return frozenset(words)


def _proper_names(result, sitings) -> frozenset[str]:
    """Text a report may show in either language: rule sources, unit names, file names."""
    parts = [str(s) for s in result.rules["source"]]
    parts += [f"{r.source.document} {r.source.clause}" for r in result.standard.rules]
    parts += [r.source.quote for r in result.standard.rules]  # the plan's sentence, as written
    parts += [str(v) for v in result.districts.get("name", [])]
    parts += [str(result.reach.network.source)]
    parts += [str(v) for v in result.reach.facilities["name"]]
    for frame in (result.reach.network.edges, result.reach.network.nodes):
        if "name" in frame.columns:
            parts += [str(v) for v in frame["name"]]  # street names
    from radius.report_layout import street_names

    for siting in sitings:
        parts += [str(v) for v in siting.candidates.sites.get("name", [])]
        parts += [str(v) for v in street_names(result.reach.network, siting.sites.geometry)]
    parts += [r.note or "" for r in result.standard.rules]  # the profile's notes, as written
    from radius.groups import load_demand_groups

    parts += [g.share_source or "" for g in load_demand_groups().groups]
    return _name_words(parts)


def _english_words(text: str, proper: frozenset[str]) -> list[str]:
    words = []
    for token in text.split():
        if any(mark in token for mark in ("/", "_", ".", "=", ":", "--")) or re.search(
            r"\d", token
        ):
            continue  # file names, ids, tags, flags, numbers with units
        for word in _WORD.findall(token):
            if word not in _ENGLISH_ALLOWED and word not in proper:
                words.append(word)
    return words


def _chinese_words(text: str, proper: frozenset[str]) -> list[str]:
    names = [word for word in proper if _CJK.fullmatch(word)]

    def allowed(run: str) -> bool:
        if run in proper or any(run in name for name in names):
            return True  # a name, or a piece of one broken across two lines
        if any(run in term for term in _CHINESE_ALLOWED):
            return True  # a term broken across two lines
        for term in _CHINESE_ALLOWED:
            run = run.replace(term, "")
        return not run

    return [run for run in _CJK.findall(text) if not allowed(run)]


@pytest.fixture(scope="module")
def analysed():
    import warnings

    from radius.pipeline import AnalyzeConfig, ReachConfig, load_analysis_inputs, run_analysis
    from radius.sample import default_network_path
    from radius.siting import site_facilities

    config = AnalyzeConfig(reach=ReachConfig(network=default_network_path()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_analysis(config)
        siting_config = AnalyzeConfig(
            reach=ReachConfig(network=default_network_path(), service_areas=False)
        )
        inputs = load_analysis_inputs(siting_config)
        sitings = [site_facilities(inputs, siting_config, category="elderly_care", count=1)]
    return result, sitings, config


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_pdf_and_workbook_speak_one_language(analysed, lang, tmp_path) -> None:
    import shutil
    import subprocess

    import openpyxl

    from radius._io import write_outputs
    from radius.report_document import build_report, report_writers

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is absent: run `make system` (poppler-utils)")
    result, sitings, config = analysed
    document = build_report(result, sitings, config=config, lang=lang, maps=False)
    write_outputs(tmp_path, report_writers(result, sitings, document, formats=("pdf", "xlsx")))
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "report.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    proper = _proper_names(result, sitings)
    workbook = openpyxl.load_workbook(tmp_path / "report.xlsx", read_only=True)
    cells = list(workbook.sheetnames)
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            cells += [v for v in row if isinstance(v, str)]
    workbook_text = "\n".join(cells)
    if lang == "zh":
        assert "生活圈" in text
        assert _english_words(text, proper) == [], text
        assert _english_words(workbook_text, proper) == []
    else:
        assert "life-circle" in text.lower() or "Summary" in text
        assert _chinese_words(text, proper) == []
        assert _chinese_words(workbook_text, proper) == []


def test_the_rules_sheet_names_categories_metrics_and_groups(analysed) -> None:
    """Both languages show a rule's category, metric, supply and demand group by name, and
    its source whole (a citation is Chinese in an English sheet too, as published)."""
    from radius.i18n import Language, category_label
    from radius.report_document import provision_workbook

    result = analysed[0]
    rules = result.rules.set_index("id")
    cases: tuple[tuple[Language, str, tuple[str, ...]], ...] = (
        ("en", "Rules", ("Category", "Metric", "Supply", "Demand group", "Source")),
        ("zh", "规则", ("设施类别", "指标", "供给量", "服务对象", "依据")),
    )
    for lang, sheet, columns in cases:
        table = provision_workbook(result, lang)[sheet].set_index(
            "Rule ID" if lang == "en" else "规则编号"
        )
        category, metric, supply, group, source = columns
        for rid, row in table.iterrows():
            assert row[category] == category_label(str(rules.at[rid, "category"]), lang)
            assert row[metric] != rules.at[rid, "metric"]  # per_capita is "per resident"
            assert "_" not in row[supply]  # not an id such as land_area_m2
            assert row[group] != rules.at[rid, "group"]
            assert row[source] == rules.at[rid, "source"]


def test_the_word_checks_can_fail() -> None:
    none: frozenset[str] = frozenset()
    assert _english_words("居民 residents（人）", none) == ["residents"]
    assert _english_words("文件 cn_nanjing.osm.pbf GB 50180", none) == []
    assert _chinese_words("Residents 居民 in 社区", none) == ["居民"]
    # A word is passed by a name that holds it whole, not by one it is a piece of: the old
    # check, one string of every name with the spaces removed, passed "son" and "and" as
    # pieces of "Lawson" and "Xinjiekou Grand Hotel", and "residents" as a piece of two
    # names run together ("...Presidents" + "Hall").
    proper = _name_words(["Lawson", "Xinjiekou Grand Hotel", "Presidents Hall", "中山路"])
    assert _english_words("罗森 Lawson 在 son and Grand", proper) == ["son", "and"]
    old = "".join(["Lawson", "Xinjiekou", "Grand", "Hotel", "Presidents", "Hall"])
    assert all(word in old for word in ("son", "and", "residents"))
    assert _english_words("residents", proper) == ["residents"]
    assert _chinese_words("Zhongshan Road 中山路 中山", proper) == []
    assert _chinese_words("Near 山路口", proper) == ["山路口"]


def _map_texts(fmap) -> list[str]:
    """What a reader sees on a folium map: layer names, legend, popups, tooltips (aliases and
    the values of the fields they show), the colour scale's caption."""
    import html as html_module

    import folium

    texts: list[str] = []
    stack = [fmap]
    while stack:
        element = stack.pop()
        for attribute in ("layer_name", "caption", "title"):
            value = getattr(element, attribute, None)
            if isinstance(value, str) and not value.startswith(("macro_element", "feature_group")):
                texts.append(value)
        items = getattr(element, "items", None)
        if isinstance(items, list):
            texts += [str(label) for _, label in items]
        if isinstance(element, folium.GeoJsonTooltip):
            if element.labels:  # labels=False shows the values only
                texts += [str(a) for a in element.aliases or ()]
            data = getattr(element._parent, "data", {}) or {}
            for feature in data.get("features", []):
                texts += [str(feature["properties"].get(f, "")) for f in element.fields]
        if isinstance(element, folium.Tooltip):
            texts.append(str(element.text))
        stack.extend(getattr(element, "_children", {}).values())
    root = fmap.get_root()
    for popup in re.findall(r"`(<div[^`]*)`", root.render()):
        texts.append(popup)
    return [re.sub(r"<[^>]+>", " ", html_module.unescape(t)) for t in texts]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_web_map_speaks_one_language(analysed, lang) -> None:
    from radius.maps import analysis_map

    result, sitings, _ = analysed
    fmap = analysis_map(result, lang=lang, proposals=sitings[0].sites)
    texts = _map_texts(fmap)
    assert len(texts) > 20
    text = "\n".join(texts)
    proper = _proper_names(result, sitings)
    if lang == "zh":
        assert "图例" in text
        assert _english_words(text, proper) == [], text
    else:
        assert "Legend" in text
        assert _chinese_words(text, proper) == [], text


# --------------------------------------------------------------------------------------
# The command line: every line it prints in the chosen language
# --------------------------------------------------------------------------------------

_CLI_ENGLISH_ALLOWED = {"radius", "national", "min", "km", "OSM", "building", "levels", "pbf"}
_CLI_ENGLISH_ALLOWED |= {"milp", "greedy", "optimal", "feasible", "time_limit", "MILP", "HiGHS"}


def _cli_english(text: str) -> list[str]:
    words = []
    for token in text.split():
        if any(mark in token for mark in ("/", "_", ".", "=", "--", "[", "]")) or re.search(
            r"\d", token
        ):
            continue  # paths, ids, file names, flags, numbers with units
        for word in re.findall(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]", token):
            if word not in _CLI_ENGLISH_ALLOWED:
                words.append(word)
    return words


_REPORT = ["report", "--site", "convenience_store:1", "--formats", "html,xlsx"]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(
    "command",
    [
        ["reach", "--no-service-areas"],
        ["analyze"],
        ["site", "--category", "convenience_store", "--count", "1"],
        _REPORT,
        ["reach", "--network", "no-such-file.osm.pbf"],
        ["site", "--category", "convenience_store", "--size", "x1"],
    ],
    ids=["reach", "analyze", "site", "report", "missing-file", "bad-size"],
)
def test_command_line_speaks_one_language(
    command: list[str], lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*command, "--lang", lang, "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert text.strip()
    if code == 0:
        assert ("已写入" if lang == "zh" else "wrote ") in captured.out
    else:
        assert ("radius：错误：" if lang == "zh" else "radius: error: ") in captured.err
    if lang == "zh":
        assert _cli_english(text) == [], text
    else:
        assert not _CJK.findall(text), text


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(
    "command",
    [
        ["reach", "--no-service-areas"],
        ["analyze"],
        ["site", "--category", "convenience_store", "--count", "1"],
        _REPORT,
        ["report", "--formats", "docx"],
    ],
    ids=["reach", "analyze", "site", "report", "bad-format"],
)
def test_command_line_follows_the_locale_alone(
    command: list[str],
    lang: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No --lang: LANG=zh_CN.UTF-8 gives Chinese lines, LANG=en_US.UTF-8 English ones, and
    summary.json's notes follow (the lines the same checks as with --lang)."""
    import json

    monkeypatch.setenv("LANG", "zh_CN.UTF-8" if lang == "zh" else "en_US.UTF-8")
    out = tmp_path / "out"
    code = main([*command, "--out", str(out)])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    if code == 0:
        assert ("已写入" if lang == "zh" else "wrote ") in captured.out
    else:
        assert code == 2
        assert ("radius：错误：" if lang == "zh" else "radius: error: ") in captured.err
    formats = {"docx", "html", "pdf", "xlsx", "gpkg"}  # the format ids the error lists
    if lang == "zh":
        assert [w for w in _cli_english(text) if w not in formats] == [], text
    else:
        assert not _CJK.findall(text), text
    if (out / "summary.json").exists():
        from radius.groups import load_demand_groups

        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        assert summary["lang"] == lang
        notes = "\n".join(_said(summary))
        if command[0] == "analyze":
            assert notes
        # the sources of the group shares, cited as published (a Chinese survey's title)
        for group in load_demand_groups().groups:
            notes = notes.replace(group.share_source or "\0", "")
        if lang == "zh":
            assert _cli_english(notes) == [], notes
        else:
            assert not _CJK.findall(notes), notes


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_analyze_workbook_speaks_one_language(
    lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import openpyxl

    assert main(["analyze", "--lang", lang, "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    workbook = openpyxl.load_workbook(tmp_path / "provision.xlsx", read_only=True)
    cells = list(workbook.sheetnames)
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            cells += [v for v in row if isinstance(v, str)]
    text = "\n".join(cells)
    proper = _name_words(
        v
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(min_col=0, max_col=0, values_only=True)
        for v in row
    )
    if lang == "zh":
        assert "规则" in text
        cited = {"GB", "B", "m"}  # the standard's citation (GB 50180-2018 附录 B), metres
        assert [w for w in _cli_english(text) if w not in cited] == [], text
    else:
        assert "Rules" in text or "Rule" in text
        assert _chinese_words(text, proper) == [], text


# --------------------------------------------------------------------------------------
# A batch: its lines, summaries, workbooks and district reports in one language
# --------------------------------------------------------------------------------------

_BATCH_BLOCKS = ["block-002", "block-003"]
"""Blocks of the default district holding residential buildings."""


@pytest.fixture(scope="module")
def batch_job(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, frozenset[str]]:
    """A batch of two blocks of the default district (shipped in data/, so it runs on any
    machine), residents at a density, a siting request whose one candidate lies in the
    first block only, so the second says why it has no sites; and the proper names its
    outputs may show in either language (street and facility names, the candidate's)."""
    import warnings

    import geopandas as gpd
    import yaml

    from radius.config import load_categories
    from radius.districts import block_districts
    from radius.facilities import facilities_from_osm
    from radius.network import load_network
    from radius.sample import default_network_path

    folder = tmp_path_factory.mktemp("batch_job")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = load_network(default_network_path())
        facilities = facilities_from_osm(default_network_path(), load_categories())
    block = block_districts(network).set_index("district_id").geometry.loc[_BATCH_BLOCKS[0]]
    inside = block.representative_point()  # a plot inside, within reach of its streets
    gpd.GeoDataFrame({"name": ["地块甲"]}, geometry=[inside], crs="EPSG:4326").to_file(
        folder / "plots.geojson", driver="GeoJSON", engine="pyogrio"
    )
    job = {
        "name": "新街口两个街区",
        "network": str(default_network_path()),
        "districts": "blocks",
        "only": _BATCH_BLOCKS,
        "categories": ["convenience_store", "supermarket", "fitness"],
        "residents": {"density_per_ha": 150},
        "sites": [{"category": "fitness", "count": 1, "candidates": "plots.geojson"}],
        "outputs": ["gpkg", "xlsx", "summary", "report"],
    }
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(job, allow_unicode=True), encoding="utf-8")
    names = [str(v) for v in network.edges.get("name", []) if isinstance(v, str)]
    names += [str(v) for v in facilities["name"]]
    from radius.standards import load_standard

    # the profile's notes, as written (they name other profiles by id: "见 anhui 配置")
    rules = load_standard("national", categories=load_categories()).rules
    names += [f"{r.note or ''}{r.note_zh or ''}" for r in rules]
    # the rules' sources, cited as published (Chinese document titles in English too)
    names += [f"{r.source.document} {r.source.clause} {r.source.quote}" for r in rules]
    from radius.groups import load_demand_groups

    names += [g.share_source or "" for g in load_demand_groups().groups]
    return path, _name_words([*names, "地块甲", str(job["name"])])


def _said(data, keys=("notes", "error", "warnings", "formed", "cluster")) -> list[str]:
    """The texts of a summary a reader takes for sentences: notes, errors, warnings."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in keys:
                found += [v for v in (value if isinstance(value, list) else [value]) if v]
            else:
                found += _said(value, keys)
    elif isinstance(data, list):
        for value in data:
            found += _said(value, keys)
    return [str(v) for v in found]


def _workbook_text(path: Path) -> str:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True)
    cells = list(workbook.sheetnames)
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            cells += [v for v in row if isinstance(v, str)]
    return "\n".join(cells)


def _html_text(path: Path) -> str:
    import html as html_module

    page = path.read_text(encoding="utf-8")
    page = re.sub(r"(?s)<(style|script)\b.*?</\1>", " ", page)
    page = re.sub(r"(?s)<img\b[^>]*>", " ", page)  # figures are base64 PNGs
    return html_module.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "how"), [("zh", "--lang"), ("en", "--lang"), ("en", "locale")])
def test_a_batch_speaks_one_language(
    batch_job: tuple[Path, frozenset[str]],
    lang: str,
    how: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    import yaml

    job, proper = batch_job
    out = tmp_path / "out"
    if how == "locale":  # the lines only: one block, no siting, no report
        small = yaml.safe_load(job.read_text(encoding="utf-8"))
        small.update(only=_BATCH_BLOCKS[:1], sites=[], outputs=["summary"])
        job = job.with_name("small.yaml")
        job.write_text(yaml.safe_dump(small, allow_unicode=True), encoding="utf-8")
    argv = ["batch", str(job), "--out", str(out), "--workers", "1", "--no-progress"]
    if how == "--lang":
        # the other language's locale: --lang wins over it
        monkeypatch.setenv("LC_ALL", "en_US.UTF-8" if lang == "zh" else "zh_CN.UTF-8")
        argv += ["--lang", lang]
    else:
        monkeypatch.setenv("LANG", "zh_CN.UTF-8" if lang == "zh" else "en_US.UTF-8")
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out + captured.err
    assert ("已写入" if lang == "zh" else "wrote ") in captured.out
    if how == "locale":  # (the Chinese default of no locale is the --lang zh run's)
        assert not _CJK.findall(lines.replace(str(job.parent), "")), lines
        return
    summary = json.loads((out / "batch_summary.json").read_text(encoding="utf-8"))
    assert summary["lang"] == lang
    texts = {"lines": lines, "batch_summary.json": "\n".join(_said(summary))}
    texts["batch.xlsx"] = _workbook_text(out / "batch.xlsx")
    for district in _BATCH_BLOCKS:
        folder = out / "districts" / district
        data = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        texts[f"{district}/summary.json"] = "\n".join(_said(data))
        texts[f"{district}/provision.xlsx"] = _workbook_text(folder / "provision.xlsx")
        texts[f"{district}/report.html"] = _html_text(folder / "report.html")
    # The second block has no candidate: its note says so, in the run's language.
    no_siting = texts[f"{_BATCH_BLOCKS[1]}/summary.json"]
    assert ("本区域未选址" if lang == "zh" else "no siting in this district") in no_siting
    assert ("共用其设施" if lang == "zh" else "share its facilities") in no_siting
    sheets = texts["batch.xlsx"].splitlines()[:3]
    assert sheets[0] == ("批次" if lang == "zh" else "Batch")
    assert ("选址" if lang == "zh" else "Sites") in texts["batch.xlsx"].splitlines()
    cited = {"GB", "B", "m"}  # the standard's citation (GB 50180-2018 附录 B), metres
    cited |= {"dask"}  # the name of the scheduler software, as in `dask scheduler`
    found = {}
    for name, text in texts.items():
        text = text.replace(str(job.parent), "")
        assert text.strip(), name
        if lang == "zh":
            found[name] = [w for w in _english_words(text, proper) if w not in cited]
        else:
            found[name] = _chinese_words(text, proper)
        if found[name]:
            print(name, found[name], text)
    assert {name: words for name, words in found.items() if words} == {}
