"""Every error a user can meet is written from data (a message id with zh and en texts).

Issue #14: with Chinese chosen, an error about a bad file must be Chinese too. An error raised
with an English f-string cannot be, so this test reads radius's source and lists every raise
of a radius error (and every call of ``_limits.limit_error``) whose text is not a
:func:`radius.i18n.message`; there must be none (``i18n.py``'s own errors apart).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from tests.language_checks import ALLOWED_IN_CHINESE as ALLOWED
from tests.language_checks import english_words

PACKAGE = Path(__file__).resolve().parents[1] / "radius"

#: The errors a user can trigger (radius/_errors.py) and the helper that builds limit errors.
ERROR_CALLS = {
    "RadiusError",
    "ConfigError",
    "InputError",
    "CRSError",
    "UnroutableError",
    "NetworkUnavailableError",
    "InfeasibleError",
    "limit_error",
}

#: Errors that stay English on purpose: the UI strings file itself cannot be read, so its
#: own errors cannot be looked up in it.
ENGLISH_BY_DESIGN = {"i18n.py"}


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_message(node: ast.expr) -> bool:
    """Whether an error's first argument is a message id (``message(...)``) or a value that
    may hold one (a name, an attribute, a call of a helper that returns a Message)."""
    if isinstance(node, ast.Constant | ast.JoinedStr | ast.BinOp):
        return False  # a literal, an f-string or a concatenation: English text
    if isinstance(node, ast.Call):
        name = _called_name(node)
        return name not in {"join", "format"}
    return True


def english_errors(source: str) -> list[int]:
    """Line numbers of the error calls in ``source`` whose text is written in English."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or _called_name(node) not in ERROR_CALLS:
            continue
        if _called_name(node) == "limit_error" or not node.args or not _is_message(node.args[0]):
            lines.append(node.lineno)
    return lines


def _counts() -> dict[str, list[int]]:
    found = {}
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name in ENGLISH_BY_DESIGN:
            continue
        lines = english_errors(path.read_text(encoding="utf-8"))
        if lines:
            found[path.name] = lines
    return found


def test_the_finder_sees_english_and_passes_messages() -> None:
    english = 'raise InputError(f"{path}: bad")\nraise CRSError("no crs")\n'
    english += "raise limit_error(a, b, c, d)\nraise InputError('; '.join(problems))\n"
    assert english_errors(english) == [1, 2, 3, 4]
    translated = 'raise InputError(message("file_not_found", file=f, what=w))\n'
    translated += "raise InputError(note)\nraise ConfigError(i18n.message('x'))\n"
    assert english_errors(translated) == []


def test_no_module_raises_english_errors() -> None:
    english = _counts()
    assert english == {}, (
        "these modules (and lines) raise errors with English text; use message ids "
        "(configs/messages.yaml, radius.i18n.message)"
    )


# --------------------------------------------------------------------------------------
# Every text of the UI string files in one language (issue #14)
# --------------------------------------------------------------------------------------

CONFIGS = PACKAGE.parent / "configs"

#: Words a Chinese UI text shows as they are, besides tests.language_checks' names, formats
#: and units: "© OpenStreetMap contributors", the attribution ODbL requires, verbatim.
NAMES_IN_CHINESE = {"contributors"}

#: Keys written in both languages on purpose: the language switch must be found by a reader
#: of either.
BILINGUAL_KEYS = {"language"}

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_CODE = re.compile(r"`[^`]*`")  # a command or key to type as it is
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _string_files() -> list[Path]:
    """Every file of configs/ holding UI strings (a top-level ``strings`` mapping)."""
    found = []
    for path in sorted(CONFIGS.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("strings"), dict):
            found.append(path)
    return found


def _readable(text: str) -> str:
    """What a reader reads as words: the text without its placeholders and code spans."""
    return _CODE.sub(" ", _PLACEHOLDER.sub(" ", text))


def language_slips(path: Path) -> list[str]:
    """The texts of a strings file in the wrong language: an English word in a zh text
    (outside the allowed names), a Chinese character in an en text."""
    slips = []
    strings = yaml.safe_load(path.read_text(encoding="utf-8"))["strings"]
    for key, entry in strings.items():
        if key in BILINGUAL_KEYS:
            continue
        words = english_words(_readable(str(entry.get("zh", ""))), ALLOWED | NAMES_IN_CHINESE)
        if words:
            slips.append(f"{path.name} {key}.zh: English {words}")
        chinese = _CJK.findall(_readable(str(entry.get("en", ""))))
        if chinese:
            slips.append(f"{path.name} {key}.en: Chinese {''.join(chinese)}")
    return slips


def test_the_string_files_are_found() -> None:
    names = {path.name for path in _string_files()}
    assert {"i18n.yaml", "messages.yaml", "report_text.yaml"} <= names


@pytest.mark.parametrize("path", _string_files(), ids=lambda path: path.name)
def test_each_text_is_in_its_own_language(path: Path) -> None:
    assert language_slips(path) == []


def test_a_text_in_the_wrong_language_is_found(tmp_path: Path) -> None:
    path = tmp_path / "strings.yaml"
    path.write_text(
        "strings:\n"
        "  fine: {zh: '{file}：请用 `dask worker {address}` 启动 GeoTIFF', en: '{file}: start'}\n"
        "  mixed: {zh: '{n} 个 worker 已退出', en: 'the 社区 units'}\n"
        "  language: {zh: 语言 · Language, en: 语言 · Language}\n",
        encoding="utf-8",
    )
    assert language_slips(path) == [
        "strings.yaml mixed.zh: English ['worker']",
        "strings.yaml mixed.en: Chinese 社区",
    ]
