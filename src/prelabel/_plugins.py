"""Plugins: objects registered under an entry-point group, prelabel's own and other packages' alike.

prelabel registers its built-ins in its ``pyproject.toml`` exactly as a plugin package registers its own, so
they are found the same way, through ``importlib.metadata``, when a command needs them (never at
``import prelabel``). A plugin that fails to load, registers something of the wrong kind or under a name it
does not carry, or clashes with another package's name, is one ``InputError`` naming it and its package.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from prelabel.errors import InputError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["forget", "load", "origin", "registered"]

OWN = "prelabel"
T = TypeVar("T")


def origin(entry: EntryPoint) -> str:
    """``'name' (module:attr, from package version)``: who registered ``entry``."""
    dist = entry.dist
    package = f"{dist.name} {dist.version}" if dist is not None else "an unknown package"
    return f"'{entry.name}' ({entry.value}, from {package})"


def _own(entry: EntryPoint) -> bool:
    return entry.dist is not None and entry.dist.name == OWN


@cache
def registered(group: str, what: str) -> dict[str, EntryPoint]:
    """The entry points of ``group`` by name: prelabel's own first, then the plugins', each by name. Two
    packages registering one name, or an install whose metadata lacks prelabel's own (written before the
    group existed), is an ``InputError`` (``what``: ``backend``, ``export format``, ...)."""
    from importlib.metadata import entry_points

    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=group):
        if entry.name in found:
            first, second = sorted((origin(found[entry.name]), origin(entry)))
            raise InputError(
                f"{what} '{entry.name}' is registered twice: by {first} and by {second}; "
                "uninstall one of them"
            )
        found[entry.name] = entry
    own = {name for name, entry in found.items() if _own(entry)}
    if not own:
        raise InputError(
            f"prelabel's own {what}s are not registered (no '{group}' entry points in its installed "
            "metadata); reinstall prelabel (`pip install -e .` in a checkout)"
        )
    return {name: found[name] for name in [*sorted(own), *sorted(set(found) - own)]}


def load(entry: EntryPoint, kind: type[T], what: str) -> T:
    """The object ``entry`` registers: an instance of ``kind`` (a registered subclass is instantiated) whose
    ``name`` is the entry's; anything else is an ``InputError`` naming the entry and its package."""
    try:
        loaded: Any = entry.load()
        made = loaded() if isinstance(loaded, type) and issubclass(loaded, kind) else loaded
    except Exception as exc:
        raise InputError(f"{what} {origin(entry)} failed to load: {type(exc).__name__}: {exc}") from exc
    if not isinstance(made, kind):
        kind_name, made_name = kind.__name__, type(made).__name__
        raise InputError(f"{what} {origin(entry)} is not a prelabel.{kind_name} (a {made_name})")
    name = getattr(made, "name", None)
    if name != entry.name:
        raise InputError(f"{what} {origin(entry)} is named {name!r} by its {kind.__name__.lower()}")
    return made


def forget() -> None:
    """Forget what was found (tests that put a plugin package on ``sys.path``)."""
    registered.cache_clear()
