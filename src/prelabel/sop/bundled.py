"""The example SOPs shipped with prelabel (the top-level ``sop_specs/``, in the wheel too)."""

from __future__ import annotations

from pathlib import Path

from prelabel._resources import data_dir
from prelabel.errors import InputError
from prelabel.sop.spec import SOP, load_sop

__all__ = ["bundled_sop", "bundled_sop_path", "bundled_sops"]


def bundled_sops() -> list[str]:
    """Names of the bundled example SOPs."""
    root = data_dir("sop_specs")
    return sorted(p.name.removesuffix(".yaml") for p in root.iterdir() if p.name.endswith(".yaml"))


def bundled_sop_path(name: str) -> Path:
    """Filesystem path of a bundled SOP."""
    path = data_dir("sop_specs") / f"{name}.yaml"
    if "/" in name or "\\" in name or not path.is_file():
        raise InputError(f"no bundled SOP '{name}'; bundled: {', '.join(bundled_sops())}")
    return path


def bundled_sop(name: str) -> SOP:
    """Load a bundled example SOP by name (e.g. ``customer_feedback_intent``)."""
    return load_sop(bundled_sop_path(name))
