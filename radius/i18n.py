"""User-interface strings in Chinese (zh-CN) and English, kept as data in ``configs/i18n.yaml``.

Every label the app shows goes through :func:`t`::

    >>> from radius.i18n import t
    >>> t("download_xlsx", "en")
    'Provision tables (XLSX)'

The file is validated when it is first read: every key must have a non-empty text in each
language of :data:`LANGUAGES`, and both texts must use the same ``{placeholders}``. An
unknown key or language raises :class:`~radius._errors.ConfigError` instead of showing the
key to the user.
"""

from __future__ import annotations

import os
import string
import warnings
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Protocol

import yaml

from radius._errors import ConfigError

__all__ = [
    "LANGUAGES",
    "Language",
    "Message",
    "Named",
    "RadiusWarning",
    "category_label",
    "error_in",
    "error_message",
    "group_label",
    "keys",
    "language_from_locale",
    "load_strings",
    "localize",
    "localize_all",
    "message",
    "message_of",
    "name_of",
    "report_text",
    "t",
    "warn",
]

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
"""Supported languages: Simplified Chinese (the default) and English."""

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
"""The ``configs/`` folder (the same as :data:`radius.config.CONFIG_DIR`; defined here because
:mod:`radius.config` writes its errors with :func:`message` and so imports this module)."""
I18N_FILE = CONFIG_DIR / "i18n.yaml"
REPORT_TEXT_FILE = CONFIG_DIR / "report_text.yaml"
MESSAGES_FILE = CONFIG_DIR / "messages.yaml"


class Named(Protocol):
    """Anything with a Chinese and an English name (categories, rules, profiles)."""

    @property
    def name_zh(self) -> str:
        """The Chinese name."""

    @property
    def name_en(self) -> str:
        """The English name."""


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


@lru_cache(maxsize=4)
def _load(path: Path) -> Mapping[str, Mapping[str, str]]:
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except FileNotFoundError:
        raise ConfigError(f"{path}: UI strings file not found") from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not readable UTF-8 YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("strings"), dict):
        raise ConfigError(f"{path}: expected a mapping with a 'strings' mapping at the top level")
    problems: list[str] = []
    strings: dict[str, Mapping[str, str]] = {}
    for key, entry in data["strings"].items():
        if not isinstance(entry, dict):
            problems.append(f"strings.{key}: expected a mapping of language to text")
            continue
        texts: dict[str, str] = {}
        for language in LANGUAGES:
            text = entry.get(language)
            if not isinstance(text, str) or not text.strip():
                problems.append(f"strings.{key}.{language}: missing or empty text")
            else:
                texts[language] = text
        extra = sorted(set(entry) - set(LANGUAGES))
        if extra:
            problems.append(f"strings.{key}: unknown language(s) {', '.join(map(str, extra))}")
        if len(texts) == len(LANGUAGES):
            try:
                fields = {language: _placeholders(texts[language]) for language in LANGUAGES}
            except ValueError as exc:
                problems.append(f"strings.{key}: malformed placeholder ({exc})")
            else:
                if len({frozenset(f) for f in fields.values()}) > 1:
                    listed = "; ".join(f"{lang}: {sorted(f)}" for lang, f in fields.items())
                    problems.append(
                        f"strings.{key}: the languages use different placeholders ({listed})"
                    )
        strings[str(key)] = MappingProxyType(texts)
    if problems:
        raise ConfigError(
            f"{path}: invalid UI strings ({len(problems)} problem(s)):\n  - "
            + "\n  - ".join(problems)
        )
    return MappingProxyType(strings)


def load_strings(path: str | Path | None = None) -> Mapping[str, Mapping[str, str]]:
    """Load and validate the UI strings (default ``configs/i18n.yaml``).

    Parameters
    ----------
    path : str or Path, optional
        A strings file with a top-level ``strings`` mapping of key to ``{zh: ..., en: ...}``.

    Returns
    -------
    mapping
        Key -> language -> text (read-only).

    Raises
    ------
    ConfigError
        If the file is missing or invalid; the message lists every problem by key.
    """
    resolved = Path(path) if path is not None else I18N_FILE
    # A relative path depends on the working folder: resolved each time.
    return _load(_resolved(resolved) if resolved.is_absolute() else resolved.resolve())


@lru_cache(maxsize=16)
def _resolved(path: Path) -> Path:
    """``path.resolve()`` of an absolute path, once: every :class:`Message` and :func:`t`
    looks its file up here, and resolving costs a ``lstat`` per folder of the path (1,020
    row labels of a facility table: 35 ms, 9 ms with this, #17)."""
    return path.resolve()


def keys() -> tuple[str, ...]:
    """Every key of the default strings file, in file order."""
    return tuple(load_strings())


def _language(lang: str) -> Language:
    if lang not in LANGUAGES:
        raise ConfigError(f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")
    return lang


def t(key: str, lang: str = "zh", /, **values: Any) -> str:
    """The text of ``key`` in ``lang``, with ``{placeholders}`` filled from ``values``.

    Parameters
    ----------
    key : str
        A key of ``configs/i18n.yaml``.
    lang : {"zh", "en"}
        The language.
    **values
        Values for the text's placeholders (``str.format`` syntax, e.g. ``{share:.1%}``).

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        For an unknown key or language, or a placeholder without a value.
    """
    return _text_of(I18N_FILE, key, lang, values)


def report_text(key: str, lang: str = "zh", /, **values: Any) -> str:
    """The text of ``key`` of the report (``configs/report_text.yaml``); see :func:`t`."""
    return _text_of(REPORT_TEXT_FILE, key, lang, values)


def _text_of(path: Path, key: str, lang: str, values: Mapping[str, Any]) -> str:
    strings = load_strings(path)
    language = _language(lang)
    try:
        text = strings[key][language]
    except KeyError:
        raise ConfigError(f"no text {key!r} in {path}; add it in zh and en") from None
    if not values:
        return text
    try:
        return text.format(**values)
    except KeyError as exc:
        raise ConfigError(f"text {key!r} of {path} needs a value for {exc}") from None


def name_of(item: Named, lang: str) -> str:
    """The name of a category, rule, speed profile or standard in ``lang``."""
    return item.name_zh if _language(lang) == "zh" else item.name_en


# --------------------------------------------------------------------------------------
# Notes and warnings of the core, written from data: a message id and its parameters
# --------------------------------------------------------------------------------------


def _restore(key: str, params: dict[str, Any]) -> Message:
    return Message(key, **params)


class Message(str):
    """A note or warning of the core: a key of ``configs/messages.yaml`` and its values.

    It *is* its English text (a ``str``), so code and tests that read notes as strings
    keep working; :meth:`text` gives it in any language, from the same data. A ``group``
    value (a demand group id) is shown as the group's name; in Chinese a ``category`` value
    (an id) as the category's name, a ``supply`` value (a capacity column) as its name, and
    ``source_zh``, when given, replaces ``source`` (and ``rule_zh``, a rule's Chinese
    name, its id ``rule``).

    Parameters
    ----------
    key : str
        A key of ``configs/messages.yaml``.
    **params
        Values of the text's placeholders (numbers, ids, file names).
    """

    key: str
    params: dict[str, Any]

    def __new__(cls, key: str, /, **params: Any) -> Message:
        value = super().__new__(cls, _message_text(key, "en", params))
        value.key = key
        value.params = dict(params)
        return value

    def text(self, lang: str) -> str:
        """The message in ``lang`` (``"zh"`` or ``"en"``)."""
        return _message_text(self.key, lang, self.params)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.key, self.params))


def message(key: str, /, **params: Any) -> Message:
    """A :class:`Message` (raises ConfigError for an unknown key or a missing value)."""
    return Message(key, **params)


def _param_text(value: Any, lang: str) -> Any:
    """A value of a placeholder in ``lang``: a :class:`Message` as its text, a tuple as its
    items' texts, one a line (the problems of a file, listed)."""
    if isinstance(value, Message):
        return value.text(lang)
    if isinstance(value, tuple):
        return "\n".join(str(_param_text(item, lang)) for item in value)
    return value


def _message_text(key: str, lang: str, params: Mapping[str, Any]) -> str:
    values = {k: _param_text(v, lang) for k, v in params.items()}
    category = values.get("category")
    if isinstance(category, str) and _language(lang) == "zh":
        values["category"] = _category_name(category, "zh")
    if _language(lang) == "zh" and values.get("source_zh"):
        values["source"] = values["source_zh"]
    if _language(lang) == "zh" and values.get("rule_zh"):
        values["rule"] = values["rule_zh"]
    group = values.get("group")
    if isinstance(group, str):
        values["group"] = _group_name(group, _language(lang))
    supply = values.get("supply")
    if isinstance(supply, str) and f"supply_{supply}" in load_strings(MESSAGES_FILE):
        values["supply"] = _text_of(MESSAGES_FILE, f"supply_{supply}", lang, {})
    return _text_of(MESSAGES_FILE, key, lang, values)


@lru_cache(maxsize=256)
def _category_name(category_id: str, lang: Language) -> str:
    from radius.config import load_categories  # the categories file, read once

    for category in load_categories():
        if category.id == category_id:
            return name_of(category, lang)
    return category_id


@lru_cache(maxsize=64)
def _group_name(group_id: str, lang: Language) -> str:
    from radius.groups import load_demand_groups  # the demand groups file, read once

    for group in load_demand_groups().groups:
        if group.id == group_id:
            return name_of(group, lang)
    return group_id


def category_label(category_id: str, lang: str) -> str:
    """The name of a category id in ``lang`` (the id when unknown)."""
    return _category_name(category_id, _language(lang))


def group_label(group_id: str, lang: str) -> str:
    """The name of a demand group id in ``lang`` (the id when unknown)."""
    return _group_name(group_id, _language(lang))


def localize(note: str, lang: str) -> str:
    """A note in ``lang``: a :class:`Message` in that language, any other text as it is."""
    return note.text(lang) if isinstance(note, Message) else str(note)


def error_message(exc: BaseException) -> str:
    """What an error says: its :class:`Message` when it was raised with one, else its text."""
    if exc.args and isinstance(exc.args[0], Message):
        return exc.args[0]
    return str(exc)


def error_in(exc: BaseException, lang: str) -> str:
    """What an error says, in ``lang``, to be set in a sentence of the page or command line:
    its :class:`Message` in that language when it was raised with one (else its text),
    without the full stop that closes it (the sentence around it ends with its own).
    """
    text = localize(error_message(exc), lang).rstrip()
    if text.endswith(("。", ".")) and not text.endswith(".."):
        text = text[:-1]
    return text


def localize_all(data: Any, lang: str) -> Any:
    """``data`` (JSON-like: mappings, lists, tuples, text) with every :class:`Message` in it
    written in ``lang``; what a ``summary.json`` holds, in the user's language."""
    if isinstance(data, Message):
        return data.text(lang)
    if isinstance(data, Mapping):
        return {key: localize_all(value, lang) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [localize_all(value, lang) for value in data]
    return data


class RadiusWarning(UserWarning):
    """A warning whose text is a :class:`Message` (``.message``), shown in any language."""

    def __init__(self, note: Message) -> None:
        super().__init__(str(note))
        self.message = note


def message_of(warning: Warning | str) -> str:
    """The note a caught warning carries: its :class:`Message` when it has one."""
    if isinstance(warning, RadiusWarning):
        return warning.message
    return str(warning)


def warn(key: str, /, *, stacklevel: int = 2, **params: Any) -> Message:
    """Warn :func:`message` ``(key, **params)`` as a :class:`RadiusWarning`; return it."""
    note = Message(key, **params)
    warnings.warn(RadiusWarning(note), stacklevel=stacklevel + 1)
    return note


def language_from_locale(environ: Mapping[str, str] | None = None) -> Language:
    """The language of the locale: ``en`` for an English locale, else ``zh``.

    ``LC_ALL``, then ``LC_MESSAGES``, then ``LANG`` (the first one set and not empty), as
    POSIX orders them; ``zh_CN.UTF-8`` gives ``zh``, ``en_US.UTF-8`` gives ``en``. Other
    or unset locales (``C``, ``POSIX``) give Chinese, the product's language.
    """
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            return "en" if value.lower().startswith("en") else "zh"
    return "zh"
