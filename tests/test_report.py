"""The consultant report (`radius report`): HTML, PDF, XLSX and GPKG on a real extract.

The PDF is read back with poppler (pdftotext, pdftoppm, pdffonts), the workbook with
openpyxl and the GeoPackage with pyogrio, and their figures are checked against each other.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import numpy as np
import openpyxl
import pyogrio
import pytest
from PIL import Image

from radius._errors import ConfigError, InputError
from radius._osm import osm_data_date
from radius.cli import main
from radius.config import load_categories
from radius.report_job import load_report_job, parse_site_flag, site_request
from radius.standards import load_standard
from tests.conftest import REPO_ROOT, shared_file
from tests.language_checks import ALLOWED_IN_CHINESE, assert_chinese_error, english_words

POPPLER = shutil.which("pdftotext") and shutil.which("pdftoppm") and shutil.which("pdffonts")
needs_poppler = pytest.mark.skipif(
    not POPPLER, reason="poppler-utils (pdftotext, pdftoppm) is not installed: run `make system`"
)
pytestmark = pytest.mark.slow

ZH_HEADINGS = (
    "一、概要",
    "二、数据与方法",
    "三、各类设施步行覆盖",
    "四、分区配置达标情况",
    "五、新增设施选址建议",
    "六、无法接入路网的点与数据质量",
    "附录：规则及其出处",
)


def _pdf_text(path: Path) -> str:
    run = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return run.stdout


def _squeeze(text: str) -> str:
    """Text without any whitespace (pdftotext lays table cells out with spaces)."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def zh_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    network = shared_file("cn_nanjing_xinjiekou.osm")
    out = tmp_path_factory.mktemp("report") / "out"
    code = main(
        ["report", "--network", str(network), "--site", "convenience_store:2", "--out", str(out)]
    )
    assert code == 0
    return out


def test_report_writes_the_four_files_and_nothing_else(zh_report):
    out = zh_report
    assert sorted(p.name for p in out.iterdir()) == [
        "report.html",
        "report.pdf",
        "report.xlsx",
        "results.gpkg",
    ]


@needs_poppler
def test_pdf_holds_chinese_headings_and_the_key_figures(zh_report):
    out = zh_report
    text = _pdf_text(out / "report.pdf")
    for heading in ZH_HEADINGS:
        assert heading in text
    flat = _squeeze(text)
    residents = pyogrio.read_dataframe(out / "results.gpkg", layer="residents")
    population = residents["population"].sum()
    households = residents["households"].sum()
    assert f"常住人口约{population:,.0f}人（{households:,.0f}户）" in flat
    sites = pyogrio.read_dataframe(out / "results.gpkg", layer="sites")
    assert len(sites) == 2
    gained = sites["residents_gained"].sum()
    covered_before = residents.loc[residents["convenience_store_covered_5min"], "population"].sum()
    share_before = covered_before / population
    share_after = (covered_before + gained) / population
    assert f"新增覆盖居民{gained:,.0f}人" in flat
    assert f"覆盖率由{share_before:.1%}提高到{share_after:.1%}" in flat
    for site in sites.itertuples():
        assert f"{site.geometry.x:.6f}" in text
        assert f"{site.geometry.y:.6f}" in text


@needs_poppler
def test_pdf_embeds_a_cjk_font(zh_report):
    out = zh_report
    fonts = subprocess.run(
        ["pdffonts", str(out / "report.pdf")], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"CJK.*\byes\b", fonts), fonts


@needs_poppler
def test_every_pdf_page_rasterises_and_maps_are_in_colour(zh_report, tmp_path):
    out = zh_report
    info = subprocess.run(
        ["pdfinfo", str(out / "report.pdf")], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"Pages:\s+(\d+)", info)
    assert found is not None
    pages = int(found.group(1))
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(out / "report.pdf"), str(tmp_path / "page")],
        check=True,
    )
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == pages > 5
    coloured_pages = 0
    for path in images:
        pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
        assert (pixels < 200).any(), f"{path.name} is blank"
        saturation = pixels.max(axis=2) - pixels.min(axis=2)
        coloured_pages += int((saturation > 80).mean() > 0.002)
    assert coloured_pages >= 3  # the coverage, compliance and siting maps


def test_html_is_self_contained_with_one_map_per_category_and_the_siting(zh_report):
    out = zh_report
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'lang="zh-CN"' in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    # one coverage map per category, the compliance map and the siting map
    assert len(images) == len(load_categories()) + 2
    for encoded in images:
        assert base64.b64decode(encoded).startswith(b"\x89PNG")
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "© OpenStreetMap contributors" in html


def test_the_appendix_prints_every_rule_with_its_clause_and_status(zh_report):
    out = zh_report
    html = unescape((out / "report.html").read_text(encoding="utf-8"))
    appendix = html[html.index('id="appendix"') :]
    standard = load_standard("national", categories=load_categories())
    for rule in standard.rules:
        assert rule.name_zh in appendix
        assert rule.source.document in appendix
        assert rule.source.clause in appendix
        assert rule.source.quote in appendix
    # one row per rule, each with its status in words
    rows = appendix[: appendix.index("</table>")].count("<tr") - 1
    assert rows == len(standard.rules)
    for status, word in [
        ("confirmed", "已核实"),
        ("unverified", "未核实"),
        ("assumed", "规划假定"),
    ]:
        count = sum(rule.status == status for rule in standard.rules)
        assert count
        assert appendix.count(f">{word}<") == count


def test_workbook_and_geopackage_agree(zh_report):
    out = zh_report
    book = openpyxl.load_workbook(out / "report.xlsx", read_only=True)
    from radius.i18n import category_label

    assert "规则" in book.sheetnames  # a Chinese report's workbook is in Chinese
    sheet = book[f"选址 {category_label('convenience_store', 'zh')}"]
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    sites = pyogrio.read_dataframe(out / "results.gpkg", layer="sites")
    gained = [row[header.index("新增覆盖居民（人）")] for row in body]
    assert gained == pytest.approx(sites["residents_gained"].tolist())
    layers = {name for name, _ in pyogrio.list_layers(out / "results.gpkg")}
    assert layers == {
        "residents",
        "districts",
        "facilities",
        "shortfall",
        "unroutable",
        "sites",
        "layer_styles",
    }
    districts = pyogrio.read_dataframe(out / "results.gpkg", layer="districts")
    rule_sheet = book["便利店 5 分钟步行覆盖率"]
    shortfalls = [r[8] for r in list(rule_sheet.iter_rows(values_only=True))[1:]]
    assert shortfalls == pytest.approx(
        districts["convenience_store_within_5min_shortfall"].tolist()
    )


def test_english_report_from_a_job_file(tmp_path, nanjing_osm):
    job = tmp_path / "job.yaml"
    job.write_text(
        f"title: Xinjiekou life-circle review\n"
        f"lang: en\n"
        f"network: {nanjing_osm}\n"
        f"categories: [convenience_store]\n"
        f"sites:\n"
        f"  - {{category: elderly_care, objective: set_cover}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["report", "--job", str(job), "--formats", "html,gpkg", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.gpkg"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<title>Xinjiekou life-circle review</title>" in html
    for heading in ("1. Summary", "2. Data and method", "5. Suggested sites", "Appendix"):
        assert heading in html
    assert "Elderly" in html
    sites = pyogrio.read_dataframe(out / "results.gpkg", layer="sites")
    assert len(sites) >= 1
    assert set(sites["category"]) == {"elderly_care"}
    # the sources table dates the OSM extract from its header
    assert osm_data_date(nanjing_osm) in html


def test_osm_data_date_reads_headers_only(tmp_path):
    xml = tmp_path / "a.osm"
    xml.write_text(
        '<?xml version="1.0"?>\n<osm version="0.6">\n'
        '<node id="1" lat="0" lon="0" timestamp="2010-01-01T00:00:00Z"/>\n</osm>\n',
        encoding="utf-8",
    )
    assert osm_data_date(xml) is None  # a node's timestamp is not the extract's date
    stamped = tmp_path / "b.osm"
    stamped.write_text(
        '<?xml version="1.0"?>\n<osm version="0.6" timestamp="2024-05-06T07:00:00Z">\n</osm>\n',
        encoding="utf-8",
    )
    assert osm_data_date(stamped) == "2024-05-06"
    assert osm_data_date(tmp_path / "missing.osm") is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--site", "convenience_store:two"], "--site convenience_store:two: the count"),
        (["--site", "bakery:2"], "sites[0].category: unknown category 'bakery'"),
        (["--formats", "html,docx"], "--formats html,docx: unknown docx"),
        (["--categories", "shop"], "categories[0]: unknown category 'shop'"),
    ],
)
def test_bad_report_flags_are_clear_errors_and_write_nothing(
    tmp_path, capsys, monkeypatch, argv, message
):
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")  # the English messages (both: test_language)
    out = tmp_path / "out"
    assert main(["report", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_bad_job_file_names_the_file_and_the_keys(tmp_path, capsys, lang):
    job = tmp_path / "job.yaml"
    job.write_text(
        "lang: fr\nsites:\n  - {category: childcare}\n  - {category: fitness, count: 2, "
        "objective: set_cover}\ncolour: red\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["report", "--job", str(job), "--out", str(out), "--lang", lang]) == 2
    err = capsys.readouterr().err
    assert not out.exists()
    if lang == "zh":
        assert f"radius：错误：{job}：配置文件有 4 个问题：" in err
        assert "  - lang：应为 'zh' 或 'en'，实际为 'fr'" in err
        assert "  - sites[0]：目标为 `max_cover` 时请给出 `count`（新址数量）" in err
        assert "  - sites[1]：`set_cover` 会自行求出所需新址数量：请删除 `count`" in err
        assert "  - colour：不认识的键" in err
        allowed = {"lang", "zh", "en", "fr", "colour", "count", "sites"}
        assert english_words(err, ALLOWED_IN_CHINESE | allowed) == [], err
        return
    assert f"radius: error: {job}: invalid configuration (4 problem(s)):" in err
    assert "  - lang: Input should be 'zh' or 'en', not 'fr'" in err
    assert "  - sites[0]: give count (the number of new sites) for objective max_cover" in err
    assert "  - sites[1]: set_cover finds the number of sites itself: remove count" in err
    assert "  - colour: Extra inputs are not permitted" in err


def test_example_job_file_is_valid():
    shared_file("cn_nanjing_xinjiekou.osm")
    job = load_report_job(REPO_ROOT / "examples" / "report_job.yaml")
    assert [s.category for s in job.sites] == ["convenience_store", "elderly_care"]
    assert job.network is not None
    assert job.network.exists()


def test_missing_job_files_are_named_with_their_keys(tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text("network: no.osm\npopulation: [a.tif]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_report_job(job)
    message = str(caught.value)
    assert message.startswith(f"{job}: invalid report job:\n")
    assert f"  - network: file not found: {tmp_path / 'no.osm'}" in message
    assert f"  - population[0]: file not found: {tmp_path / 'a.tif'}" in message
    chinese = assert_chinese_error(caught.value, allowed={"network", *_CATEGORY_IDS})
    assert f"  - network：找不到文件：{tmp_path / 'no.osm'}" in chinese
    assert f"  - population[0]：找不到文件：{tmp_path / 'a.tif'}" in chinese
    assert "现有的设施类别：" in chinese


def test_report_job_folders_categories_and_site_flags_in_either_language(tmp_path):
    with pytest.raises(ConfigError, match="is a folder; give a report job YAML file") as caught:
        load_report_job(tmp_path)
    assert "这是文件夹" in assert_chinese_error(caught.value)
    job = tmp_path / "job.yaml"
    job.write_text("categories: [fitness, spa]\nsites: [{category: mall, count: 1}]\n")
    with pytest.raises(ConfigError) as caught:
        load_report_job(job)
    assert "  - categories[1]: unknown category 'spa'" in str(caught.value)
    assert "  - sites[0].category: unknown category 'mall'" in str(caught.value)
    chinese = assert_chinese_error(caught.value, allowed={"spa", "mall", *_CATEGORY_IDS})
    assert "  - sites[0].category：未知的设施类别 'mall'" in chinese
    with pytest.raises(InputError, match=r"--site fitness:0: the count after ':'") as flag:
        parse_site_flag("fitness:0")
    assert_chinese_error(flag.value, allowed={"fitness"})
    with pytest.raises(InputError) as request:
        site_request("radius site", category="fitness", count=-1, method="fastest")
    english = str(request.value)
    assert english.startswith("radius site: invalid siting request:\n")
    assert "  - count: Input should be greater than or equal to 0, not -1" in english
    assert "  - method: Input should be 'auto', 'milp' or 'greedy', not 'fastest'" in english
    chinese = assert_chinese_error(
        request.value, allowed={"site", "count", "method", "auto", "milp", "greedy", "fastest"}
    )
    assert "  - count：应大于或等于 0，实际为 -1" in chinese
    with pytest.raises(InputError, match="radius site: invalid siting request:\n  - give count"):
        site_request("radius site", category="fitness")


_CATEGORY_IDS = {category.id for category in load_categories()}


def test_job_and_analysis_flags_together_are_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")  # the English message (both: test_language)
    job = tmp_path / "job.yaml"
    job.write_text("lang: en\n", encoding="utf-8")
    assert (
        main(["report", "--job", str(job), "--standard", "guangdong", "--out", str(tmp_path)]) == 2
    )
    assert "move --standard into the job file" in capsys.readouterr().err


def test_pdf_without_a_cjk_font_is_refused_with_the_fix(monkeypatch):
    import radius.report_document as report_document
    from radius.report_document import FontMissingError

    monkeypatch.setattr(report_document, "cjk_font_names", lambda: ())
    with pytest.raises(FontMissingError, match="fonts-noto-cjk"):
        report_document.render_pdf("<html><body>社区</body></html>")


def test_document_tables_carry_the_district_figures(nanjing_osm):
    import warnings

    from radius.pipeline import AnalyzeConfig, ReachConfig, run_analysis
    from radius.report_document import build_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_analysis(AnalyzeConfig(reach=ReachConfig(network=nanjing_osm)))
    document = build_report(result, lang="en", maps=False)
    assert [s.id for s in document.sections] == [
        "verdicts",
        "summary",
        "data",
        "coverage",
        "compliance",
        "sites",
        "quality",
        "appendix",
    ]
    assert all(b.kind != "figure" for s in document.sections for b in s.blocks)
    # the source without a config: the network, by its file name (never the server path)
    assert nanjing_osm.name in document.text()
    assert str(nanjing_osm) not in document.text()
    compliance = next(s for s in document.sections if s.id == "compliance")
    tables = [b for b in compliance.blocks if b.kind == "table"]
    populated = result.districts[result.districts["population"] > 0]
    assert len(tables) == len(populated)
    for table, district in zip(tables, populated.itertuples(), strict=True):
        assert str(district.district_id) in table.caption
        for row, rule in zip(table.rows, result.rules.itertuples(), strict=True):
            shortfall = getattr(district, f"{rule.id}_shortfall")
            passed = getattr(district, f"{rule.id}_pass")
            assert row[3] == f"{shortfall:,.1f}"
            assert row[5] == ("pass" if passed else "fail")


def test_an_unroutable_facility_is_explained_in_the_reports_language(tmp_path):
    """A facility 40 km from the default district's streets: the report's quality table and
    the map's popup give the reason in Chinese (距路网中任何可步行道路都超过最大连接距离 …), in
    English as before; the GeoPackage keeps the English text."""
    import warnings

    import pandas as pd

    from radius.i18n import Language
    from radius.maps import analysis_map
    from radius.pipeline import AnalyzeConfig, ReachConfig, run_analysis
    from radius.report_document import build_report
    from radius.sample import default_network_path

    inventory = tmp_path / "facilities.csv"
    pd.DataFrame(
        {"名称": ["远方超市"], "类别": ["supermarket"], "经度": [118.40], "纬度": [32.04]}
    ).to_csv(inventory, index=False)
    reach = ReachConfig(
        network=default_network_path(),
        facilities=inventory,
        categories=("supermarket",),
        service_areas=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_analysis(AnalyzeConfig(reach=reach))
    english = "farther than the maximum snap distance (200 m) from any walkable street"
    assert str(result.reach.unroutable["reason"].iloc[0]).startswith(english)
    cases: tuple[tuple[Language, str], ...] = (
        ("zh", "距路网中任何可步行道路都超过最大连接距离 200 米"),
        ("en", english),
    )
    for lang, said in cases:
        quality = next(
            s for s in build_report(result, lang=lang, maps=False).sections if s.id == "quality"
        )
        (row,) = [r for b in quality.blocks if b.kind == "table" for r in b.rows]
        assert row[1] == "远方超市"
        assert row[3].startswith(said), row[3]
        html = analysis_map(result, lang=lang).get_root().render()
        assert said in html
        if lang == "zh":
            assert english_words(row[3]) == [], row[3]
            assert "maximum snap distance" not in html
