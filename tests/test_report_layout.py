"""The consultant report's layout, checked from its HTML: cover, verdict page first, unit
names from the user's files, file names instead of server paths, one caption per figure,
suggested sites with their street. (The PDF pages were looked at as images; see the
commit that added this test.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from radius.cli import main
from radius.report_layout import file_names_only, unit_label

from .test_regulatory_plan import plan  # noqa: F401  (the 控规 fixture)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_html_layout(
    plan: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    lang: str,
) -> None:
    out = tmp_path / f"report-{lang}"
    code = main(
        [
            "report",
            "--network", str(plan["roads"]),
            "--population", str(plan["plan"]),
            "--facilities", str(plan["plan"]),
            "--districts", str(plan["districts"]),
            "--categories", "elderly_care,childcare",
            "--site", "childcare:1",
            "--lang", lang,
            "--author", "张工 Zhang",
            "--study-area", "示范新区 demonstration district",
            "--formats", "html",
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    html = (out / "report.html").read_text(encoding="utf-8")
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    # No server paths: the inputs' folders never print, their names do.
    assert str(tmp_path) not in text
    assert not re.search(r"(?<![\w.:/])/(?:[\w.-]+/){2,}", re.sub(r"<[^>]+>", " ", text))
    assert "控规.gpkg" in text
    assert "roads.gpkg" in text
    # The cover: study area, author, date, standard, data sources; then the verdicts page,
    # before the contents.
    cover = text[text.index('<section class="cover"') : text.index("</section>")]
    assert "示范新区 demonstration district" in cover
    assert "张工 Zhang" in cover
    assert re.search(r"\d{4}-\d{2}-\d{2}", cover)
    assert "national" in cover
    assert text.index('id="verdicts"') < text.index("<nav>")
    # Units named as in the districts file, in the verdicts and compliance tables.
    for label in ("西区（新区A）", "东区（新区B）"):
        assert text.count(label) >= 2, label
    verdicts = text[text.index('id="verdicts"') : text.index("<nav>")]
    assert re.search(r'<td class="(pass|fail|na)">', verdicts)
    # Each figure has one caption, printed once (no title repeated in alt text or a <p>).
    figures = re.findall(r"<figure>(.*?)</figure>", text, flags=re.S)
    assert len(figures) == 4  # 2 coverage maps, compliance, sites
    for figure in figures:
        captions = re.findall(r"<figcaption>(.*?)</figcaption>", figure, flags=re.S)
        assert len(captions) == 1
        assert text.count(captions[0]) == 1, captions[0]
    # Suggested sites: the nearest street of the road plan, and the size column.
    sites = text[text.index('id="sites"') :]
    assert re.search(r"[经纬]\d+路", sites)
    # Verdict, number and unit cells never wrap (no 未/达/标 one character a line).
    assert re.search(r"td\.result, td\.short[^{]*\{ white-space: nowrap; \}", text)


def test_paths_cut_to_file_names_and_unit_labels() -> None:
    note = "/srv/data/beijing/cn.osm: 43 pieces; see C:\\work\\in\\f.csv and configs/x.yaml"
    assert file_names_only(note) == "cn.osm: 43 pieces; see f.csv and configs/x.yaml"
    assert unit_label("A01", "东升社区") == "东升社区（A01）"
    assert unit_label("A01", "Dongsheng") == "Dongsheng (A01)"
    assert unit_label("block-003", None) == "block-003"


def test_verdict_matrix_names_units_and_marks_not_applicable() -> None:
    import pandas as pd

    from radius.report_layout import verdict_matrix

    districts = pd.DataFrame(
        {
            "district_id": ["C1", "C2", "C3"],
            "name": ["东升社区", "", "空地"],
            "population": [1200.0, 800.0, 0.0],
            "care_pass": [True, False, False],
            "care_verdict": ["pass", "not_applicable", "not_applicable"],
            "shop_pass": [False, True, False],
        }
    )
    rules = pd.DataFrame(
        {"id": ["care", "shop"], "name_zh": ["养老", "便利店"], "name_en": ["Care", "Shop"]}
    )
    words = {"pass": "达标", "fail": "未达标", "na": "不适用", "unit": "单元"}
    header, rows, classes, key = verdict_matrix(districts, rules, words, "zh")
    assert header == ["单元", "R1", "R2"]
    assert rows == [["东升社区（C1）", "达标", "未达标"], ["C2", "不适用", "达标"]]
    assert classes == [["", "pass", "fail"], ["", "na", "pass"]]
    assert key == [("R1", "养老"), ("R2", "便利店")]
