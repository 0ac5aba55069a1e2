"""Where results come from: the models and SOP versions that produced them, and whether any is the bundled
smoke model, whose labels (and every figure and ranking computed from them) illustrate the mechanics only.

The one place that derives it, from what ``compare``, ``route`` and the exports read (``labels.jsonl`` rows,
a results DataFrame, a flat export): ``metrics.json`` → ``provenance``, the report, the console summaries and
the export summaries all show this record.

    >>> rows = [{"model": "local", "sop_id": "demo", "sop_version": "1.0"}, {"model": "gpt-4o-mini"}]
    >>> found = provenance(rows)
    >>> found.models, found.sop_versions, found.smoke_model
    ({'gpt-4o-mini': 1, 'local': 1}, {'demo@1.0': 1}, True)
    >>> describe(found)
    'models gpt-4o-mini (1 result), local (smoke model: mechanics only) (1 result); SOP demo@1.0 (1 result)'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from prelabel.comparison.metrics_schema import Provenance
from prelabel.llm.endpoints import SMOKE_MODEL_NOTE, is_smoke_model, model_label

__all__ = ["describe", "provenance", "smoke_flags", "sop_counts"]


def _named(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def sop_counts(results: pd.DataFrame) -> dict[str, int]:
    """Rows per ``sop_id@sop_version`` (``?``: no version), by key; rows naming no SOP are left out."""
    if "sop_id" not in results.columns:
        return {}
    version = results["sop_version"] if "sop_version" in results.columns else pd.Series(None, results.index)
    ids = results["sop_id"]
    named = ids.notna() & (ids.astype(str).str.strip() != "")
    versions = version[named]
    pairs = pd.DataFrame(
        {"id": ids[named].astype(str), "v": versions.astype(str).where(versions.notna(), "?")}
    )
    found: dict[str, int] = {}
    for (sop_id, sop_version), n in pairs.value_counts(sort=False).items():  # once per distinct pair
        key = f"{sop_id}@{sop_version}"
        found[key] = found.get(key, 0) + int(n)
    return dict(sorted(found.items()))


def _model_counts(results: pd.DataFrame) -> dict[str, int]:
    if "model" not in results.columns:
        return {}
    models = results["model"]
    named = models.notna() & (models.astype(str).str.strip() != "")
    found = models[named].astype(str).value_counts(sort=False).sort_index()
    return {str(key): int(n) for key, n in found.items()}


def provenance(results: pd.DataFrame | Iterable[Mapping[str, Any]]) -> Provenance:
    """The models and SOP versions of ``results`` (a DataFrame with ``model``, ``sop_id``, ``sop_version``
    columns, or result rows as dicts), counted per result row, and the smoke-model flag and note."""
    frame = results if isinstance(results, pd.DataFrame) else _frame(results)
    models = _model_counts(frame)
    smoke = any(is_smoke_model(model) for model in models)
    return Provenance(
        models=models,
        sop_versions=sop_counts(frame),
        smoke_model=smoke,
        note=SMOKE_MODEL_NOTE if smoke else None,
    )


def _frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    keys = ("model", "sop_id", "sop_version")
    return pd.DataFrame([{k: row.get(k) for k in keys} for row in rows], columns=list(keys))


def _counted(counts: dict[str, int], show: Any = str) -> str:
    return ", ".join(f"{show(key)} ({n} result{'s' if n != 1 else ''})" for key, n in counts.items())


def describe(found: Provenance) -> str:
    """One line: the models (the smoke model marked) and SOP versions, with their result counts."""
    models = (
        f"model{'s' if len(found.models) > 1 else ''} {_counted(found.models, model_label)}"
        if found.models
        else "model not recorded in the results"
    )
    sops = (
        f"SOP{'s' if len(found.sop_versions) > 1 else ''} {_counted(found.sop_versions)}"
        if found.sop_versions
        else "SOP version not recorded in the results"
    )
    return f"{models}; {sops}"


def smoke_flags(models: pd.Series | pd.Categorical) -> np.ndarray:
    """Per row, whether ``models`` names the smoke model (decided once per distinct value)."""
    codes, uniques = pd.factorize(models, use_na_sentinel=True)
    flags = np.asarray([is_smoke_model(u) for u in uniques] + [False], dtype=bool)
    return flags[codes]  # a missing model (-1) is the last flag: False
