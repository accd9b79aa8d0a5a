"""Exceptions raised by radius.

Every error a user can trigger derives from :class:`RadiusError`, so the CLI and the app
can catch one type and show its message without a traceback. The subclasses also derive
from the matching builtin so that library callers can catch ``ValueError`` and the like.
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "ConfigError",
    "InfeasibleError",
    "InputError",
    "NetworkUnavailableError",
    "RadiusError",
    "UnroutableError",
]


class RadiusError(Exception):
    """Base class of every error radius raises on purpose."""


class ConfigError(RadiusError, ValueError):
    """A configuration file (categories, speed profiles, standards) is invalid."""


class InputError(RadiusError, ValueError):
    """A user input file or argument is unreadable or invalid."""


class CRSError(InputError):
    """A coordinate reference system is missing or unusable."""


class UnroutableError(RadiusError, ValueError):
    """Nothing could be joined to the walkable street network."""


class NetworkUnavailableError(RadiusError, ConnectionError):
    """An online download was requested but the internet cannot be reached."""


class InfeasibleError(RadiusError, RuntimeError):
    """An optimisation problem has no feasible solution."""
