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
from typing import TYPE_CHECKING, Any

from prelabel.errors import InputError
from prelabel.exports.exporter import Exporter

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["GROUP", "exporter", "exporters", "format_names"]

#: The entry-point group export formats register under (built-ins and plugins alike).
GROUP = "prelabel.exporters"
_OWN = "prelabel"


def _origin(entry: EntryPoint) -> str:
    dist = entry.dist
    package = f"{dist.name} {dist.version}" if dist is not None else "an unknown package"
    return f"'{entry.name}' ({entry.value}, from {package})"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    """The group's entry points by name: prelabel's own first, then the plugins', each by name (installers
    sort them). Two packages registering one name is an ``InputError`` naming both."""
    from importlib.metadata import entry_points

    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=GROUP):
        if entry.name in found:
            first, second = sorted((_origin(found[entry.name]), _origin(entry)))
            raise InputError(
                f"export format '{entry.name}' is registered twice: by {first} and by {second}; "
                "uninstall one of them"
            )
        found[entry.name] = entry
    if not any(e.dist is not None and e.dist.name == _OWN for e in found.values()):
        raise InputError(  # metadata written before the group existed: an install older than the code
            f"prelabel's own export formats are not registered (no '{GROUP}' entry points in its installed "
            "metadata); reinstall prelabel (`pip install -e .` in a checkout)"
        )
    own = {name for name, e in found.items() if e.dist is not None and e.dist.name == _OWN}
    return {name: found[name] for name in [*sorted(own), *sorted(set(found) - own)]}


def format_names() -> list[str]:
    """The names of the registered formats (nothing is imported)."""
    return list(_entry_points())


@cache
def exporter(name: str) -> Exporter:
    """The exporter registered as ``name``; ``InputError`` for an unknown format or a broken plugin."""
    entries = _entry_points()
    if name not in entries:
        raise InputError(f"unknown export format '{name}' (choose from: {', '.join(entries)})")
    entry = entries[name]
    try:
        loaded: Any = entry.load()
        made = loaded() if isinstance(loaded, type) and issubclass(loaded, Exporter) else loaded
    except Exception as exc:
        raise InputError(
            f"export format {_origin(entry)} failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(made, Exporter):
        raise InputError(
            f"export format {_origin(entry)} is not a prelabel.Exporter (a {type(made).__name__})"
        )
    if made.name != name:
        raise InputError(f"export format {_origin(entry)} is named '{made.name}' by its exporter")
    return made


def exporters() -> dict[str, Exporter]:
    """Every registered format by name, loaded (prelabel's own first, then plugins'; each by name)."""
    return {name: exporter(name) for name in format_names()}


def _forget() -> None:
    """Forget what was found and loaded (tests that install a plugin on ``sys.path``)."""
    _entry_points.cache_clear()
    exporter.cache_clear()
