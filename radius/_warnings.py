"""Warnings captured per call, safe with many threads (the app serves many sessions at once).

:class:`warnings.catch_warnings` swaps process-wide state (the filter list and
``showwarning``): two threads using it at once lose each other's warnings, and one thread's
"ignore" silences the other. :func:`collect` instead keeps a list per call in a
:class:`contextvars.ContextVar`: a warning raised in the thread (or task) of a
:func:`collect` block is recorded in that block's list, whatever the filters say (as the
pipeline's own ``simplefilter("always")`` blocks did), and never shown or raised. Nothing is
swapped while blocks run: once per process ``warnings.warn`` and ``warnings.warn_explicit``
are wrapped (a call outside every block goes to the original unchanged), and so is
``warnings._showwarnmsg``, which catches warnings raised from C code through the filters.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["collect"]

_COLLECTOR: contextvars.ContextVar[list[warnings.WarningMessage] | None] = contextvars.ContextVar(
    "radius_warnings", default=None
)
_INSTALL_LOCK = threading.Lock()
_originals: dict[str, Callable[..., Any]] = {}


def _as_warning(message: Any, category: type[Warning] | None) -> tuple[Warning, type[Warning]]:
    if isinstance(message, Warning):
        return message, type(message)
    kind = category if category is not None else UserWarning
    return kind(message), kind


def _warn(
    message: Any,
    category: type[Warning] | None = None,
    stacklevel: int = 1,
    source: Any = None,
    **kwargs: Any,
) -> None:
    collector = _COLLECTOR.get()
    if collector is None:
        _originals["warn"](message, category, stacklevel + 1, source, **kwargs)
        return
    warning, kind = _as_warning(message, category)
    try:
        frame = sys._getframe(max(stacklevel, 1))
        filename, lineno = frame.f_code.co_filename, frame.f_lineno
    except ValueError:
        filename, lineno = "sys", 1
    collector.append(warnings.WarningMessage(warning, kind, filename, lineno, source=source))


def _warn_explicit(
    message: Any,
    category: type[Warning],
    filename: str,
    lineno: int,
    *args: Any,
    **kwargs: Any,
) -> None:
    collector = _COLLECTOR.get()
    if collector is None:
        _originals["warn_explicit"](message, category, filename, lineno, *args, **kwargs)
        return
    warning, kind = _as_warning(message, category)
    collector.append(warnings.WarningMessage(warning, kind, filename, lineno))


def _showwarnmsg(message: warnings.WarningMessage) -> None:
    collector = _COLLECTOR.get()
    if collector is not None:
        collector.append(message)
    else:
        _originals["_showwarnmsg"](message)


def _install() -> None:
    """Wrap the module's functions once (idempotent, thread-safe)."""
    if _originals:
        return
    with _INSTALL_LOCK:
        if _originals:
            return
        _originals["warn"] = warnings.warn
        _originals["warn_explicit"] = warnings.warn_explicit
        _originals["_showwarnmsg"] = warnings._showwarnmsg  # type: ignore[attr-defined]
        warnings.warn = _warn
        warnings.warn_explicit = _warn_explicit
        warnings._showwarnmsg = _showwarnmsg  # type: ignore[attr-defined]


@contextmanager
def collect() -> Iterator[list[warnings.WarningMessage]]:
    """Collect the warnings raised in this thread (or task) inside the block.

    Yields
    ------
    list of warnings.WarningMessage
        Filled as warnings are raised; a nested block collects into its own list only.

    Examples
    --------
    >>> import warnings
    >>> with collect() as caught:
    ...     warnings.warn("a note")
    >>> [str(w.message) for w in caught]
    ['a note']
    """
    _install()
    caught: list[warnings.WarningMessage] = []
    token = _COLLECTOR.set(caught)
    try:
        yield caught
    finally:
        _COLLECTOR.reset(token)
