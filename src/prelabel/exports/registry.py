"""The export formats: every `Exporter` registered under the entry-point group ``prelabel.exporters``.

prelabel's own formats (``label-studio``, ``argilla``, ``csv``, ``jsonl``, ``parquet``) are registered in its
``pyproject.toml`` exactly as a plugin package registers its own, and are found the same way, through
``importlib.metadata``: when a command needs them, never at ``import prelabel``. ``exporter(name)`` loads
one format; ``exporters()`` loads them all (for ``prelabel export --help``). A plugin that fails to load, or
registers something that is not an exporter, is one ``InputError`` naming it and its package.

    >>> import prelabel
    >>> list(prelabel.exporters())
    ['argilla', 'csv', 'jsonl', 'label-studio', 'parquet']
    >>> prelabel.exporters()["csv"].suffix
    '.csv'
"""

from __future__ import annotations

from functools import cache

from prelabel import _plugins
from prelabel.errors import InputError
from prelabel.exports.exporter import Exporter

__all__ = ["GROUP", "exporter", "exporters", "format_names"]

#: The entry-point group export formats register under (built-ins and plugins alike).
GROUP = "prelabel.exporters"
_WHAT = "export format"


def format_names() -> list[str]:
    """The names of the registered formats (nothing is imported)."""
    return list(_plugins.registered(GROUP, _WHAT))


@cache
def exporter(name: str) -> Exporter:
    """The exporter registered as ``name``; ``InputError`` for an unknown format or a broken plugin."""
    entries = _plugins.registered(GROUP, _WHAT)
    if name not in entries:
        raise InputError(f"unknown export format '{name}' (choose from: {', '.join(entries)})")
    return _plugins.load(entries[name], Exporter, _WHAT)


def exporters() -> dict[str, Exporter]:
    """Every registered format by name, loaded (prelabel's own first, then plugins'; each by name)."""
    return {name: exporter(name) for name in format_names()}


def _forget() -> None:
    """Forget what was found and loaded (tests that install a plugin on ``sys.path``)."""
    _plugins.forget()
    exporter.cache_clear()
