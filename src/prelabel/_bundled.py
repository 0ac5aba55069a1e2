"""The example SOPs shipped inside the package (``prelabel/sop_specs/``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from prelabel.errors import InputError
from prelabel.sop import SOP, load_sop

__all__ = ["bundled_sop", "bundled_sop_path", "bundled_sops"]


def bundled_sops() -> list[str]:
    """Names of the bundled example SOPs."""
    root = resources.files("prelabel") / "sop_specs"
    return sorted(p.name.removesuffix(".yaml") for p in root.iterdir() if p.name.endswith(".yaml"))


def bundled_sop_path(name: str) -> Path:
    """Filesystem path of a bundled SOP (the package is installed as files, never zipped)."""
    resource = resources.files("prelabel") / "sop_specs" / f"{name}.yaml"
    if not resource.is_file():
        raise InputError(f"no bundled SOP '{name}'; bundled: {', '.join(bundled_sops())}")
    return Path(str(resource))


def bundled_sop(name: str) -> SOP:
    """Load a bundled example SOP by name (e.g. ``customer_feedback_intent``)."""
    return load_sop(bundled_sop_path(name))
