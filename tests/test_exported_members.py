"""The public API is exactly what ``prelabel/__init__.py`` defines, listed in a sorted ``__all__``.

Like httpx's ``tests/test_exported_members.py``: this fails when a name is added to ``__init__.py`` but not
to ``__all__`` (or the reverse), and when ``__all__`` is not sorted.
"""

from __future__ import annotations

import ast
import inspect
import types
from pathlib import Path

import pytest

import prelabel

INCLUDED_PRIVATE_MEMBERS = {"__version__"}


def isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then everything else."""
    if len(name) > 1 and name.isupper():
        return 0, name
    return (1 if name[:1].isupper() else 2), name


def names_bound_in_init() -> set[str]:
    """Public names that ``prelabel/__init__.py`` binds: assignments, imports, lazy ``_EXPORTS``."""
    tree = ast.parse(Path(inspect.getfile(prelabel)).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
            if node.target.id == "_EXPORTS" and isinstance(node.value, ast.Dict):
                names.update(ast.literal_eval(k) for k in node.value.keys if k is not None)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return {n for n in names if not n.startswith("_") or n in INCLUDED_PRIVATE_MEMBERS}


def names_imported_for_type_checkers() -> set[str]:
    """Names imported under ``if TYPE_CHECKING:`` (what mypy and IDEs see)."""
    tree = ast.parse(Path(inspect.getfile(prelabel)).read_text(encoding="utf-8"))
    blocks = [node for node in tree.body if isinstance(node, ast.If)]
    return {alias.name for block in blocks for node in block.body for alias in getattr(node, "names", [])}


def test_all_is_sorted() -> None:
    assert prelabel.__all__ == sorted(prelabel.__all__, key=isort_key)
    assert len(set(prelabel.__all__)) == len(prelabel.__all__)


def test_all_matches_the_names_defined_in_init() -> None:
    assert set(prelabel.__all__) == names_bound_in_init()
    assert names_imported_for_type_checkers() == set(prelabel.__all__) - INCLUDED_PRIVATE_MEMBERS


def test_all_matches_the_public_attributes() -> None:
    for name in prelabel.__all__:
        getattr(prelabel, name)  # lazy names resolve
    public = {
        name
        for name, value in vars(prelabel).items()
        if (not name.startswith("_") or name in INCLUDED_PRIVATE_MEMBERS)
        and not isinstance(value, types.ModuleType)  # submodules become attributes once imported
    }
    assert set(prelabel.__all__) == public
    assert set(prelabel.__all__) <= set(dir(prelabel))


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'labeller'"):
        prelabel.labeller  # noqa: B018


def test_every_export_exists_and_is_documented() -> None:
    for name in prelabel.__all__:
        value = getattr(prelabel, name)
        if name in INCLUDED_PRIVATE_MEMBERS:
            continue
        # a class's own docstring: inspect.getdoc would fall back to a base class's
        doc = vars(value).get("__doc__") if isinstance(value, type) else value.__doc__
        assert doc and doc.strip(), f"prelabel.{name} has no docstring"


def test_exported_errors_share_one_base() -> None:
    errors = [getattr(prelabel, n) for n in prelabel.__all__ if n.endswith("Error") and n != "ErrorInfo"]
    assert errors
    assert all(issubclass(e, prelabel.PrelabelError) for e in errors)
