"""SOP version numbers: the next version after a change (``sop apply``).

>>> bump_version("1.0.0"), bump_version("1.4.2", "major"), bump_version("1.4.2", "patch")
('1.1.0', '2.0.0', '1.4.3')
>>> bump_version("2"), bump_version("v1.2"), bump_version("v1.2", "major")
('3', 'v1.3', 'v2.0')
"""

from __future__ import annotations

import re
from typing import Literal

from prelabel.errors import InputError

__all__ = ["BUMPS", "Bump", "bump_version"]

Bump = Literal["major", "minor", "patch"]
BUMPS: tuple[Bump, ...] = ("major", "minor", "patch")
_VERSION = re.compile(r"(?P<prefix>[vV]?)(?P<parts>\d+(?:\.\d+)*)")


def bump_version(version: str, bump: str = "minor") -> str:
    """The version after ``version`` with its ``major``, ``minor`` (default) or ``patch`` part raised and the
    parts after it reset to 0. A version with fewer parts raises its last one (``2`` → ``3``, ``v1.2`` patch →
    ``v1.3``). ``InputError`` for a version that is not dotted numbers (``1.0-beta``, ``spring``): give the
    new version yourself."""
    if bump not in BUMPS:
        raise InputError(f"unknown bump {bump!r}; use one of {', '.join(BUMPS)}")
    found = _VERSION.fullmatch(version.strip())
    if found is None:
        raise InputError(
            f"cannot bump version {version!r}: it is not dotted numbers such as 1.2.0, 3 or v1.2; "
            "give the new version with --version"
        )
    parts = [int(p) for p in found["parts"].split(".")]
    at = min(BUMPS.index(bump), len(parts) - 1)
    parts = [*parts[:at], parts[at] + 1, *[0] * (len(parts) - at - 1)]
    return found["prefix"] + ".".join(str(p) for p in parts)
