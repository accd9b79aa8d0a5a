"""The Streamlit app (app.py) through streamlit.testing.v1.AppTest, plus its UI strings.

The page runs on the default district, the real Nanjing Xinjiekou extract of
../shared/data (tests skip when it is absent). Uploads go through the real
``st.file_uploader`` (AppTest can set its files); a map click is injected as
``session_state["pending_click"]``, the same path the map's click callback takes.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml

from radius._errors import ConfigError
from radius.app_state import error_text
from radius.coords import from_wgs84
from radius.facilities import CAPACITY_COLUMNS, FACILITY_COLUMNS, empty_facilities
from radius.i18n import LANGUAGES, Message, error_message, keys, load_strings, name_of, t
from tests.language_checks import english_words

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "app.py"
TIMEOUT_S = 180
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
# Tiles name the GB 50180 walking distance: compliance is checked by distance by default.
ELDERLY = "养老院、老年养护院 · 1000 米内"
ELDERLY_EN = "Nursing home · within 1000 m"
# Beside the residents of the Xinjiekou extract (WGS-84).
CENTRE_LON, CENTRE_LAT = 118.7894, 32.0407
FACILITIES = [
    ("苏果好的", "便利店", 118.77755, 32.05155, ""),
    ("Lawson", "convenience_store", 118.78225, 32.04171, ""),
    ("GIANT", "supermarket", 118.78813, 32.03846, ""),
    ("新街口社区养老服务中心", "养老服务设施", CENTRE_LON, CENTRE_LAT, "60"),
]


def _csv(rows=FACILITIES, encoding: str = "gbk") -> bytes:
    lines = ["名称,类别,经度,纬度,床位"] + [",".join(map(str, row)) for row in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


@pytest.fixture
def app(nanjing_osm: Path):
    """The app after its first run on the default district."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.run()
    _assert_clean(at)
    return at


def _assert_clean(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _metrics(at) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def _shortfall_tables(at) -> list[pd.DataFrame]:
    """The page's shortfall tables (static HTML, :func:`radius.app_view.table_html`), read
    back with the standard library's HTML parser."""
    tables = []
    for element in at.get("html"):
        body = str(element.proto.body)
        if "radius-table" in body:
            tables.append(_read_table(body))
    return tables


def _read_table(body: str) -> pd.DataFrame:
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[str]] = []
            self.cell: list[str] | None = None

        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self.cell = []

        def handle_endtag(self, tag: str) -> None:
            if tag in ("td", "th") and self.cell is not None:
                self.rows[-1].append("".join(self.cell))
                self.cell = None

        def handle_data(self, data: str) -> None:
            if self.cell is not None:
                self.cell.append(data)

    cells = Cells()
    cells.feed(body)
    header, *rows = cells.rows
    return pd.DataFrame(rows, columns=header)


def _texts(at) -> list[str]:
    """Every label and text the page shows (not the data in tables or engine notes)."""
    shown: list[str] = []
    for kind in ("title", "header", "subheader", "caption", "markdown", "warning", "error"):
        shown += [str(e.value) for e in getattr(at, kind)]
    for kind in ("radio", "selectbox", "multiselect", "toggle", "text_input", "number_input"):
        for widget in getattr(at, kind):
            if widget.key == "lang":
                continue  # the language switch names each language in that language
            shown.append(str(widget.label))
            shown += [str(option) for option in getattr(widget, "options", [])]
            shown.append(str(getattr(widget, "help", "") or ""))
    shown += [str(b.label) for b in at.button]
    shown += [str(f.label) for f in at.file_uploader]
    for metric in at.metric:
        shown += [str(metric.label), str(metric.value), str(metric.delta or "")]
    return [text for text in shown if text]


# --------------------------------------------------------------------------------------
# UI strings
# --------------------------------------------------------------------------------------


def test_every_key_has_both_languages():
    strings = load_strings()
    assert len(strings) > 50
    for key, texts in strings.items():
        assert set(texts) == set(LANGUAGES), key
        for language in LANGUAGES:
            assert texts[language].strip(), (key, language)
        # English texts are English (the language switch's own label names both).
        if key != "language":
            assert not CJK.search(texts["en"]), (key, texts["en"])


def test_every_key_the_app_asks_for_exists_and_every_key_is_used():
    source = "".join(
        path.read_text(encoding="utf-8")
        for path in (
            APP,
            *(
                REPO / "radius" / f"{name}.py"
                for name in (
                    "whatif",
                    "downloads",
                    "app_inputs",
                    "app_state",
                    "app_view",
                    "map_assets",
                    "cli",
                )
            ),
        )
    )
    literal = set(re.findall(r"\bt\(\s*\"([a-z0-9_]+)\"", source))
    dynamic = {
        "error_input",  # error_text(exc, lang, key="error_input"), the default key
        "error_map",  # attempted(..., key="error_map")
        "error_suggest",  # error_text(exc, lang, "error_suggest")
        "error_upload",
        "error_upload_analysis",  # app_state.analysis_failed: Failure(exc, key)
        *(f"download_{kind}" for kind in ("gpkg", "xlsx", "html", "pdf")),
        *(f"limit_{kind}" for kind in ("cancelled", "shutdown")),
        *(f"note_group_{kind}" for kind in ("share", "partly")),  # key = "note_group_..."
        *(f"upload_{role}" for role in ("network", "facilities", "residents", "districts")),
        *(f"upload_{role}_help" for role in ("network", "facilities", "residents", "districts")),
        *(f"coord_{s}" for s in ("wgs84", "gcj02", "bd09", "cgcs2000")),
        *(f"basis_{b}" for b in ("time", "distance")),
        *(f"cli_speed_{b}" for b in ("time", "distance")),  # radius/cli.py: t(f"cli_...")
        *(f"cli_group_{k}" for k in ("share", "partly", "within", "within_estimated")),
        *(f"cli_level_{k}" for k in ("community", "subdistrict")),
        *(f"cli_verdict_{k}" for k in ("pass", "fail", "not_applicable")),
        *(f"cli_method_{k}" for k in ("milp", "greedy")),  # cli._solver_words
        *(f"cli_status_{k}" for k in ("optimal", "time_limit", "greedy", "incomplete")),
        *(f"cli_unit_{k}" for k in ("residents", "places", "beds", "households")),
        *(f"area_{a}" for a in ("from_data", "new", "old")),
        *(f"method_{m}" for m in ("2sfca", "inside")),
        *(f"capacity_{c}" for c in CAPACITY_COLUMNS),
        *(f"capacity_short_{c}" for c in CAPACITY_COLUMNS),
        *(f"unit_{s}" for s in ("facilities", *CAPACITY_COLUMNS)),
        *(
            f"col_{c}"
            for c in (
                "district",
                "name",
                "rule",
                "area_type",
                "residents",
                "required",
                "supplied",
                "shortfall",
                "unit",
                "pass",
            )
        ),
    }
    known = set(keys())
    assert literal - known == set()
    assert dynamic - known == set()
    assert known - literal - dynamic == set(), "keys in configs/i18n.yaml that nothing uses"


def test_t_fills_placeholders_and_refuses_unknown_keys():
    assert t("delta_pp", "en", value=2.34) == "+2.3 pp"
    assert t("delta_pp", "zh", value=-1.0) == "-1.0 个百分点"
    with pytest.raises(ConfigError, match=r"no text 'no_such_key'"):
        t("no_such_key", "zh")
    with pytest.raises(ConfigError, match=r"unknown language 'fr'"):
        t("app_title", "fr")
    with pytest.raises(ConfigError, match=r"text 'delta_pp' of .* needs a value for 'value'"):
        t("delta_pp", "en", other=1)


def test_strings_file_is_validated(tmp_path):
    path = tmp_path / "i18n.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "strings": {
                    "only_zh": {"zh": "只有中文"},
                    "empty": {"zh": "", "en": "x"},
                    "fields": {"zh": "{a} 个", "en": "{b} items"},
                    "extra": {"zh": "甲", "en": "A", "fr": "A"},
                    "fine": {"zh": "好", "en": "fine"},
                }
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"4 problem\(s\)") as info:
        load_strings(path)
    message = str(info.value)
    assert "strings.only_zh.en: missing or empty text" in message
    assert "strings.empty.zh: missing or empty text" in message
    assert "strings.fields: the languages use different placeholders" in message
    assert "strings.extra: unknown language(s) fr" in message
    assert "fine" not in message


def test_name_of_picks_the_language():
    from radius.config import load_categories

    category = load_categories(ids=["elderly_care"])[0]
    assert name_of(category, "zh") == "养老院、老年养护院"
    assert name_of(category, "en") == "Nursing home"


# --------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_opens_on_the_default_district_with_headline_figures(app):
    assert [e.value for e in app.title] == ["社区生活圈分析"]
    metrics = _metrics(app)
    # One tile per category and threshold of configs/categories.yaml plus failing districts.
    from radius.config import load_categories

    assert len(metrics) == sum(len(c.thresholds) for c in load_categories()) + 1
    assert metrics["便利店 · 300 米内"] == ("19.4%", "")
    assert metrics[ELDERLY] == ("0.0%", "")
    # 17 blocks and the remainder unit of the residents outside every block (radius.demand).
    assert re.fullmatch(r"\d+ / 18", metrics["未达标区域"][0])
    # The OSM estimate of the default district is doubtful (789 of 1277 buildings not counted
    # as housing): said beside the figures.
    assert any("OSM" in w.value and "789" in w.value for w in app.warning)
    assert not app.dataframe  # a static table: no data grid code for the browser to load
    (table,) = _shortfall_tables(app)
    assert {"区域编号", "规则", "需求", "供给", "缺口", "是否达标"} <= set(table.columns)
    assert set(table["是否达标"]) == {"未达标"}  # only the targets missed, by default
    keys_shown = set(keys())
    for text in _texts(app):
        assert text not in keys_shown, f"untranslated key shown: {text}"
        assert not re.search(r"\{[a-z_]+(:[^}]*)?\}", text), f"unfilled placeholder: {text}"


@pytest.mark.slow
def test_language_switch_turns_every_label_english(app):
    app.radio(key="lang").set_value("en").run()
    _assert_clean(app)
    assert [e.value for e in app.title] == ["Community life-circle analysis"]
    assert ELDERLY_EN in _metrics(app)
    (table,) = _shortfall_tables(app)
    assert {"District", "Rule", "Required", "Supplied", "Shortfall", "Target met"} <= set(
        table.columns
    )
    chinese = [text for text in _texts(app) if CJK.search(text)]
    assert chinese == []
    keys_shown = set(keys())
    assert not [text for text in _texts(app) if text in keys_shown]
    # Choices made in one language are kept in the other.
    assert app.radio(key="threshold_basis.en").value == "distance"  # the default
    app.radio(key="threshold_basis.en").set_value("time").run()
    app.radio(key="lang").set_value("zh").run()
    _assert_clean(app)
    assert app.radio(key="threshold_basis.zh").value == "time"
    assert "便利店 · 5 分钟内" in _metrics(app)


@pytest.mark.slow
def test_facility_csv_upload_replaces_only_the_categories_it_holds(app):
    library = "阅读设施 · 1000 米内"
    osm_library = _metrics(app)[library][0]
    assert osm_library != "0.0%"
    app.file_uploader(key="upload_facilities").upload("设施清单.csv", _csv(), "text/csv")
    app.run()
    _assert_clean(app)
    metrics = _metrics(app)
    assert metrics[ELDERLY][0] != "0.0%"
    assert metrics[library][0] == osm_library  # the list has no library: OSM's are kept
    # WGS-84 points beside the streets: no coordinate hint (the residents check may warn)
    assert not [w for w in app.warning if "坐标" in w.value]
    (info,) = [str(i.value) for i in app.info]
    assert "上传的设施清单替换了以下类别的 OSM 设施：便利店、超市、养老院、老年养护院" in info
    assert "以下类别保留 OpenStreetMap 设施：" in info
    assert "阅读设施" in info

    app.toggle(key="replace_all").set_value(True).run()  # the switch: replace them all
    _assert_clean(app)
    assert _metrics(app)[library][0] == "0.0%"
    assert [str(i.value) for i in app.info] == [
        "上传的设施清单替换了以下类别的 OSM 设施：全部类别。"
    ]


@pytest.mark.slow
def test_gcj02_upload_is_converted_before_use(app):
    app.file_uploader(key="upload_facilities").upload("wgs.csv", _csv(), "text/csv")
    app.run()
    expected = _metrics(app)
    shifted = []
    for name, category, lon, lat, beds in FACILITIES:
        x, y = from_wgs84(lon, lat, "gcj02")
        shifted.append((name, category, f"{float(x):.7f}", f"{float(y):.7f}", beds))
    app.file_uploader(key="upload_facilities").set_value(
        ("gaode.csv", _csv(shifted, "utf-8"), "text/csv")
    )
    app.selectbox(key="coord_system.zh").set_value("gcj02")
    app.run()
    _assert_clean(app)
    assert _metrics(app) == expected


@pytest.mark.slow
def test_what_if_changes_a_headline_figure_and_removing_restores_it(app):
    assert _metrics(app)[ELDERLY] == ("0.0%", "")
    app.selectbox(key="whatif_category.zh").set_value("elderly_care")
    app.session_state["pending_click"] = {"lat": CENTRE_LAT, "lng": CENTRE_LON}
    app.run()
    _assert_clean(app)
    value, delta = _metrics(app)[ELDERLY]
    assert value != "0.0%"
    assert re.fullmatch(r"\+\d+\.\d 个百分点", delta)
    assert any("试放设施（1 个）" in str(m.value) for m in app.markdown)
    proposals = app.session_state["proposals"]
    assert [(p.category, p.capacity) for p in proposals] == [
        ("elderly_care", (("beds", 50.0), ("floor_area_m2", 1000.0), ("land_area_m2", 2000.0)))
    ]
    assert (proposals[0].lon, proposals[0].lat) == (CENTRE_LON, CENTRE_LAT)

    app.button(key=f"remove_{proposals[0].pid}").click().run()
    _assert_clean(app)
    assert _metrics(app)[ELDERLY] == ("0.0%", "")
    assert app.session_state["proposals"] == []


@pytest.mark.slow
def test_suggested_sites_are_those_of_radius_site_and_count_as_what_if(
    app, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from radius.cli import main as radius_main

    store = "便利店 · 300 米内"
    before, _ = _metrics(app)[store]
    app.selectbox(key="whatif_category.zh").set_value("convenience_store")
    app.number_input(key="suggest_count").set_value(2)
    app.button(key="suggest").click().run()
    _assert_clean(app)
    proposals = app.session_state["proposals"]
    assert [(p.category, p.name) for p in proposals] == [
        ("convenience_store", "建议选址 1"),
        ("convenience_store", "建议选址 2"),
    ]
    # The command line, on the same default district, chooses the same two sites.
    out = tmp_path / "site"
    code = radius_main(
        ["site", "--category", "convenience_store", "--count", "2", "--out", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    sites = gpd.read_file(out / "sites.gpkg", layer="sites")
    assert [p.lon for p in proposals] == pytest.approx(sites.geometry.x.tolist(), abs=1e-9)
    assert [p.lat for p in proposals] == pytest.approx(sites.geometry.y.tolist(), abs=1e-9)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    coverage = summary["coverage"]["5min"]
    message = " ".join(str(s.value) for s in app.success)
    assert f"新增覆盖居民 {summary['residents_gained']:,.0f} 人" in message
    assert f"覆盖率由 {100 * coverage['share_before']:.1f}% 提高到" in message
    # The headline shows the coverage with the two sites, as a what-if change.
    value, delta = _metrics(app)[store]
    assert value == f"{100 * coverage['share_after']:.1f}%" != before
    assert re.fullmatch(r"\+\d+\.\d 个百分点", delta)
    # A second request places sites where the first two leave residents unserved.
    app.number_input(key="suggest_count").set_value(1)
    app.button(key="suggest").click().run()
    _assert_clean(app)
    third = app.session_state["proposals"][-1]
    assert third.name == "建议选址 3"
    assert (third.lon, third.lat) not in [(p.lon, p.lat) for p in proposals]
    app.button(key="remove_all").click().run()
    assert app.session_state["proposals"] == []
    assert not app.success


@pytest.mark.slow
def test_click_on_a_gaode_basemap_is_converted_to_wgs84(app):
    app.selectbox(key="basemap.zh").set_value("gaode").run()
    x, y = from_wgs84(CENTRE_LON, CENTRE_LAT, "gcj02")
    app.session_state["pending_click"] = {"lat": float(y), "lng": float(x), "system": "gcj02"}
    app.run()
    _assert_clean(app)
    (proposal,) = app.session_state["proposals"]
    assert proposal.lon == pytest.approx(CENTRE_LON, abs=1e-7)
    assert proposal.lat == pytest.approx(CENTRE_LAT, abs=1e-7)


@pytest.mark.slow
def test_the_same_click_reported_twice_adds_one_facility(app):
    for _ in range(2):
        app.session_state["pending_click"] = {"lat": CENTRE_LAT, "lng": CENTRE_LON}
        app.run()
    assert len(app.session_state["proposals"]) == 1
    app.toggle(key="whatif_place").set_value(False)
    app.session_state["pending_click"] = {"lat": CENTRE_LAT + 0.001, "lng": CENTRE_LON}
    app.run()
    assert len(app.session_state["proposals"]) == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("role", "name", "data", "message"),
    [
        (
            "network",
            "district.osm",
            b"<!DOCTYPE html><html><body>Please log in</body></html>",
            r"district\.osm: this is a web page \(HTML\)",
        ),
        ("districts", "blocks.zip", b"not a zip at all", r"blocks\.zip: not a zip archive"),
        (
            "facilities",
            "swapped.csv",
            "name,category,lon,lat\n甲,supermarket,32.04,118.78\n".encode(),
            r"swapped\.csv: the columns 'lon' and 'lat' look swapped",
        ),
        (
            "facilities",
            "bad.csv",
            b"name,category,lon,lat\nA,no_such_category,118.78,32.04\n",
            r"bad\.csv: .*no_such_category",
        ),
    ],
)
def test_bad_upload_shows_a_translated_message_not_a_traceback(app, role, name, data, message):
    app.file_uploader(key=f"upload_{role}").upload(name, data)
    app.run()
    assert not app.exception
    assert len(app.error) == 1
    text = str(app.error[0].value)
    exc = _upload_error(role, name, data)
    assert re.search(message, str(exc), re.DOTALL)  # the error meant (its English text)
    assert text == error_text(exc, "zh", "error_upload")  # shown in the page's language
    assert text.startswith("无法读取上传的文件：")
    assert name in text
    assert "Traceback" not in text
    assert "radius-upload-" not in text  # the server's temporary folder is never shown
    if isinstance(error_message(exc), Message):  # an error raised with a message id
        assert english_words(text) == [], text


def _upload_error(role: str, name: str, data: bytes, unpacked: int | None = None) -> Exception:
    """The error reading one upload raises (as the page's job raises it), in-process."""
    from radius.app_inputs import Upload, load_inputs

    with pytest.raises(Exception) as raised:  # noqa: PT011 - whichever error it is
        load_inputs([Upload(role, name, name, data)], max_unpacked_bytes=unpacked)
    return raised.value


@pytest.mark.slow
def test_zip_bomb_upload_is_refused(app):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("roads.shp", bytes(50 * 1024 * 1024))
    app.file_uploader(key="upload_network").upload("roads.zip", buffer.getvalue())
    app.run()
    assert not app.exception
    text = str(app.error[0].value)
    exc = _upload_error("network", "roads.zip", buffer.getvalue())
    assert re.search(r"roads\.zip: .*zip bomb", str(exc))
    assert text == error_text(exc, "zh", "error_upload")
    assert "roads.zip" in text
    if isinstance(error_message(exc), Message):
        assert english_words(text) == [], text


@pytest.mark.slow
def test_unexpected_error_shows_a_short_message(app, monkeypatch):
    import streamlit as st  # noqa: TID251 - clears the app's caches (process-wide)

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail that users should not see")

    st.cache_resource.clear()
    monkeypatch.setattr("radius.whatif.analyze", broken)
    app.run()
    assert not app.exception
    (error,) = app.error
    assert str(error.value) == t("error_unexpected", "zh")
    st.cache_resource.clear()


def test_streamlit_config_hides_tracebacks():
    import tomllib

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"]["maxUploadSize"] == 200


# --------------------------------------------------------------------------------------
# The modules behind the page (radius.whatif, radius.downloads, ...), without Streamlit
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_module():
    """The modules behind the page, as one namespace (none needs Streamlit)."""
    from types import SimpleNamespace

    from radius import app_inputs, downloads, map_assets, whatif

    return SimpleNamespace(
        **{
            name: getattr(module, name)
            for module in (app_inputs, downloads, map_assets, whatif)
            for name in module.__all__
        }
    )


def test_proposals_follow_the_facilities_layout(app_module):
    proposal = app_module.Proposal(
        3, "childcare", CENTRE_LON, CENTRE_LAT, "新托育点", (("places", 60.0),)
    )
    frame = app_module.proposals_frame([proposal])
    assert tuple(frame.columns) == FACILITY_COLUMNS
    assert frame.dtypes.equals(empty_facilities().dtypes)
    row = frame.iloc[0]
    assert row["facility_id"] == "childcare:proposed/3"
    assert row["source"] == "proposed"
    assert row["places"] == 60.0
    assert pd.isna(row["beds"])
    assert (row.geometry.x, row.geometry.y) == (CENTRE_LON, CENTRE_LAT)
    assert frame.crs == "EPSG:4326"
    assert len(app_module.proposals_frame([])) == 0


@pytest.fixture(scope="module")
def nanjing_result(app_module):
    import warnings

    from tests.conftest import shared_file

    shared_file("cn_nanjing_xinjiekou.osm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = app_module.load_inputs([])
    settings = app_module.Settings(
        categories=("convenience_store", "elderly_care"),
        threshold_basis="time",
        speed_profile="adult",
        standard="national",
        area_type=None,
        method="2sfca",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from radius.pipeline import analyze

        return analyze(loaded.inputs, app_module.analyze_config(settings, Path("x.osm")))


@pytest.mark.slow
def test_downloads_are_valid_files(app_module, nanjing_result, tmp_path):
    import openpyxl
    import pyogrio

    gpkg = tmp_path / "r.gpkg"
    gpkg.write_bytes(app_module.gpkg_bytes(nanjing_result))
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert layers == {
        "residents",
        "districts",
        "facilities",
        "shortfall",
        "unroutable",
        "layer_styles",
    }
    for lang, first in (("zh", "规则"), ("en", "Rules")):
        xlsx = tmp_path / f"p-{lang}.xlsx"
        xlsx.write_bytes(app_module.xlsx_bytes(nanjing_result, lang))
        workbook = openpyxl.load_workbook(xlsx, read_only=True)
        assert workbook.sheetnames[0] == first
        workbook.close()


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_workbook_download_speaks_the_pages_language(app_module, nanjing_result, lang):
    """Issue #14, point 4: the page's XLSX has its sheet names, headers and notes in the
    page's language only (it was bilingual: 规则 Rules, 规则编号 Rule ID), as the command
    line's (tests/test_language.py's checks)."""
    import openpyxl

    from tests.test_language import _chinese_words, _cli_english, _name_words

    workbook = openpyxl.load_workbook(
        io.BytesIO(app_module.xlsx_bytes(nanjing_result, lang)), read_only=True
    )
    cells = list(workbook.sheetnames)
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            cells += [v for v in row if isinstance(v, str)]
    proper = _name_words(
        v
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(min_col=0, max_col=0, values_only=True)
        for v in row
    )
    workbook.close()
    text = "\n".join(cells)
    if lang == "zh":
        cited = {"GB", "B", "m"}  # the standard's citation (GB 50180-2018 附录 B), metres
        assert [w for w in _cli_english(text) if w not in cited] == [], text
    else:
        assert _chinese_words(text, proper) == [], text


@pytest.mark.slow
def test_html_map_is_self_contained(app_module, nanjing_result):
    from radius.maps import analysis_map

    html = app_module.map_html(analysis_map(nanjing_result, lang="en")).decode("utf-8")
    assert "L.map(" in html
    assert "data:text/javascript;base64," in html
    for cdn in ("cdn.jsdelivr.net", "code.jquery.com", "cdnjs.cloudflare.com", "d3js.org"):
        assert cdn not in html
    assert "tile.openstreetmap.org" in html  # the tiles themselves still come from the web


@pytest.mark.slow
def test_shortfall_table_is_labelled_in_the_language(app_module, nanjing_result):
    zh = app_module.shortfall_table(nanjing_result, "zh", only_failing=False)
    en = app_module.shortfall_table(nanjing_result, "en", only_failing=True)
    assert list(zh.columns)[:2] == ["区域编号", "规则"]
    assert set(zh["是否达标"]) == {"达标", "未达标", "不适用"}  # empty blocks: 不适用
    assert set(en["Target met"]) == {"no"}
    assert en["Shortfall"].is_monotonic_decreasing
    assert set(en["Unit"]) <= {"residents", "m² of land", "m² of floor area", "beds", "places"}


@pytest.mark.slow
def test_pdf_report_download_names_uploads_not_server_paths(app_module, nanjing_result, tmp_path):
    import shutil
    import subprocess

    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils (pdftotext) is not installed: run `make system`")
    settings = app_module.Settings(
        categories=("convenience_store", "elderly_care"),
        threshold_basis="time",
        speed_profile="adult",
        standard="national",
        area_type=None,
        method="2sfca",
    )
    upload = app_module.Upload(role="facilities", name="设施清单.csv", digest="0", data=b"")
    pdf = app_module.report_pdf_bytes(nanjing_result, settings, [upload], "zh")
    assert pdf.startswith(b"%PDF")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "一、概要" in text
    assert "设施清单.csv" in text
    assert "radius-upload-" not in text


@pytest.mark.slow
def test_limits_end_an_oversized_upload_with_a_message(app, nanjing_osm, monkeypatch, tmp_path):
    import bz2

    from tests.test_browser import _lattice_osm

    monkeypatch.setenv("RADIUS_UNPACKED_MB", "1")
    packed = bz2.compress(nanjing_osm.read_bytes())  # 1.5 MB of OSM XML
    app.file_uploader(key="upload_network").upload("新街口.osm.bz2", packed).run()
    assert not app.exception
    (error,) = app.error
    exc = _upload_error("network", "新街口.osm.bz2", packed, unpacked=1024 * 1024)
    assert str(exc).startswith("新街口.osm.bz2: unpacks to more than 1.0 MB")
    assert str(error.value) == error_text(exc, "zh", "error_upload")
    assert ELDERLY in _metrics(app)  # the page goes on, on the default district

    monkeypatch.setenv("RADIUS_UNPACKED_MB", "1024")
    monkeypatch.setenv("RADIUS_JOB_SECONDS", "1")
    lattice = tmp_path / "lattice.osm"
    _lattice_osm(lattice, 300)  # 90,000 nodes: several seconds to read
    started = time.monotonic()
    app.file_uploader(key="upload_network").upload("lattice.osm", lattice.read_bytes())
    app.run()
    assert time.monotonic() - started < 30
    assert not app.exception
    (error,) = app.error
    assert str(error.value) == (
        "已停止：读取或分析超过了 1 秒的限制，已停止。请缩小范围或文件，或使用命令行工具。"
        "仍显示默认片区。"
    )
    assert ELDERLY in _metrics(app)


@pytest.mark.slow
def test_uploads_that_cannot_be_analysed_fall_back_to_the_default_district(app, monkeypatch):
    """Uploads that read but whose analysis fails are told as a bad file is: below the
    uploaders, in the page's language, and the page goes on with the default district
    (it stopped at the top of the page); the next rerun does not analyse them again."""
    from radius._errors import InputError
    from radius.i18n import message

    reason = message("inventory_empty_table", file="设施清单.csv")  # any message id will do
    jobs = []

    def failing(*args, **kwargs):
        jobs.append(args[0])
        raise InputError(reason)

    monkeypatch.setattr("radius.app_state.run_bounded", failing)
    app.file_uploader(key="upload_facilities").upload("设施清单.csv", _csv(), "text/csv")
    app.run()
    assert not app.exception
    (error,) = app.error
    assert str(error.value) == t("error_upload_analysis", "zh", message=reason.text("zh"))
    assert ELDERLY in _metrics(app)  # the default district's figures
    assert "suggest" in [b.key for b in app.button]
    assert len(jobs) == 1
    app.toggle(key="only_failing").set_value(False).run()
    assert not app.exception
    assert [str(e.value) for e in app.error] == [str(error.value)]
    assert len(jobs) == 1  # told again, not analysed again


@pytest.mark.slow
def test_a_failing_map_says_so_and_the_page_goes_on(app, monkeypatch):
    """The map is the one step the rest of the page does not need: when drawing it fails,
    its place says why (in the page's language, no traceback) and the what-if panel, the
    shortfall table and the downloads are still there."""
    import streamlit as st  # noqa: TID251 - clears the app's caches (process-wide)

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail that users should not see")

    st.cache_resource.clear()  # the default district's map is rendered once and kept
    try:
        monkeypatch.setattr("radius.maps.analysis_map", broken)
        app.run()
        assert not app.exception
        (error,) = app.error
        assert str(error.value) == t("error_map", "zh", message=t("error_bug", "zh"))
        assert ELDERLY in _metrics(app)
        assert "suggest" in [b.key for b in app.button]  # the what-if panel
        assert "prepare_xlsx" in [b.key for b in app.button]  # the downloads
        assert _shortfall_tables(app)  # the shortfall table
    finally:
        st.cache_resource.clear()


@pytest.mark.slow
def test_a_failing_download_shows_a_message_where_it_was_asked_for(app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no font with Chinese glyphs (an internal detail)")

    monkeypatch.setattr("radius.downloads.report_pdf_bytes", broken)
    app.button(key="prepare_pdf").click().run()
    assert not app.exception
    (error,) = app.error
    assert str(error.value) == t(
        "error_download", "zh", what=t("download_pdf", "zh"), message=t("error_bug", "zh")
    )
    assert "font" not in str(error.value)
    assert ELDERLY in _metrics(app)  # the page goes on
    assert not [b for b in app.get("download_button") if b.key == "download_pdf"]

    app.button(key="prepare_xlsx").click().run()  # another download still works
    assert not app.error
    assert [b.key for b in app.get("download_button")] == ["download_xlsx"]


@pytest.mark.slow
def test_pdf_report_of_a_what_if_shows_the_proposed_site_in_the_siting_section(tmp_path):
    import shutil
    import subprocess

    from radius.app_inputs import load_inputs
    from radius.config import load_categories
    from radius.downloads import proposal_sitings, report_pdf_bytes
    from radius.whatif import Proposal, Settings, whatif_analysis

    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils (pdftotext) is not installed: run `make system`")
    loaded = load_inputs([])
    settings = Settings(
        tuple(c.id for c in load_categories()), "time", "adult", "national", None, "2sfca"
    )
    base = whatif_analysis(loaded.inputs, settings, (), loaded.network_label)
    proposal = Proposal(3, "elderly_care", CENTRE_LON, CENTRE_LAT, "建议选址 3", (("beds", 50.0),))
    sitings = proposal_sitings(loaded.inputs, loaded.network_label, settings, [proposal])
    pdf = tmp_path / "what-if.pdf"
    pdf.write_bytes(report_pdf_bytes(base, settings, [], "zh", sitings=sitings))
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    sites = text[text.rindex("五、新增设施选址建议") :]
    assert "本次未进行选址计算" not in text
    assert "建议新增 1 处养老院、老年养护院" in sites
    assert "选址前后对比" in sites
    assert f"{CENTRE_LON:.6f}" in sites


@pytest.mark.slow
def test_a_proposed_site_that_covers_no_one_new_is_listed_with_zero_gain():
    from radius.app_inputs import load_inputs
    from radius.config import load_categories
    from radius.downloads import proposal_sitings
    from radius.whatif import Proposal, Settings

    loaded = load_inputs([])
    settings = Settings(
        tuple(c.id for c in load_categories()), "time", "adult", "national", None, "2sfca"
    )
    first = Proposal(1, "elderly_care", CENTRE_LON, CENTRE_LAT, "P1", (("beds", 50.0),))
    twin = first._replace(pid=2, name="P2")  # the same place: nobody newly covered
    (siting,) = proposal_sitings(loaded.inputs, loaded.network_label, settings, [first, twin])
    assert len(siting.sites) == 2
    gains = siting.sites["residents_gained"].to_list()
    assert gains[0] > 0
    assert gains[1] == 0
    assert len(siting.after.reach.facilities) == len(siting.before.reach.facilities) + 2
