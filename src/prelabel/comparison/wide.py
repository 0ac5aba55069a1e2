"""Wide human labels (``item_id`` and one column per annotator) to long form, with one rule for which
columns are annotators.

The rule: ``item_id``, ``text`` and the slice columns given are never annotators. When the annotator
columns are declared (``annotators=``, ``--annotator``), every other column is a slice. Otherwise each
remaining column is an annotator unless none of its values is a label — with an SOP, a label of the SOP
(or its abstain label); without one, a value that some other remaining column also holds — so ``market``
(``ID``, ``TH``) is a slice while ``ann_a`` (``product.damaged``, ...) is an annotator. The split is
returned as a note (printed, and kept in ``metrics.json``); when it leaves no annotator, or the file looks
like long form (``annotator`` and ``label`` columns), ``InputError`` says what to pass.

    >>> frame = pd.DataFrame({"item_id": ["1", "2"], "x": ["a", "b"], "y": ["a", "a"], "vendor": ["v", "w"]})
    >>> long, note = melt_wide(frame, "humans.csv")
    >>> sorted(set(long["annotator"])), list(long.columns)
    (['x', 'y'], ['item_id', 'annotator', 'label', 'vendor'])
    >>> note.endswith("slice columns (values never labels): vendor")
    True
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from prelabel.errors import InputError

__all__ = ["annotator_columns", "melt_wide"]

_NAMES = ("item_id", "annotator", "label")


def _values(column: pd.Series) -> set[str]:
    """The distinct label parts of a column (``;``-separated cells split), empty cells left out."""
    parts: set[str] = set()
    for value in column.dropna().unique():
        parts.update(p.strip() for p in str(value).split(";") if p.strip())
    return parts


def annotator_columns(
    frame: pd.DataFrame, candidates: list[str], vocabulary: Collection[str] | None = None
) -> tuple[list[str], list[str]]:
    """Split ``candidates`` into (annotators, not annotators) by the rule in the module docstring."""
    values = {c: _values(frame[c]) for c in candidates}
    annotators: list[str] = []
    others: list[str] = []
    for column in candidates:
        if vocabulary is not None:
            labels: Collection[str] = vocabulary
        else:
            labels = set().union(*(values[c] for c in candidates if c != column))
        is_label = not values[column] or not values[column].isdisjoint(labels)
        (annotators if is_label or len(candidates) == 1 else others).append(column)
    return annotators, others


def melt_wide(
    frame: pd.DataFrame,
    name: str,
    *,
    slices: list[str] | None = None,
    annotators: list[str] | None = None,
    vocabulary: Collection[str] | None = None,
) -> tuple[pd.DataFrame, str]:
    """Long form (``item_id``, ``annotator``, ``label``, then slice and ``text`` columns) and the note that
    says which columns were taken as annotators. ``vocabulary`` is the SOP's labels, if any."""
    if "annotator" in frame.columns and "label" in frame.columns:
        raise InputError(f"{name}: this looks like long form (annotator and label columns); drop --wide")
    fixed = ["item_id", *(slices or []), *(["text"] if "text" in frame.columns else [])]
    rest = [c for c in frame.columns if c not in fixed]
    declared = bool(annotators)
    if annotators:
        missing = [c for c in annotators if c not in frame.columns]
        if missing:
            found = ", ".join(rest[:12]) or "none"
            raise InputError(
                f"{name}: annotator column(s) not found: {', '.join(missing)} (columns: {found})"
            )
        clash = [c for c in annotators if c in fixed]
        if clash:
            raise InputError(f"{name}: {', '.join(clash)}: an annotator column cannot be a slice or item_id")
        others = [c for c in rest if c not in annotators]
    else:
        annotators, others = annotator_columns(frame, rest, vocabulary)
    if not annotators:
        raise InputError(
            f"{name}: cannot tell which columns are annotators (none of {', '.join(rest) or 'no column'} "
            "holds labels another column holds); name them with --annotator"
        )
    how = "declared" if declared else "inferred; name them with --annotator"
    note = f"wide form: annotators {', '.join(annotators)} ({how})"
    if others:
        why = (
            ""
            if declared
            else " (values never labels of the SOP)"
            if vocabulary
            else " (values never labels)"
        )
        note += f"; {'slice columns' if slices is None else 'ignored'}{why}: {', '.join(others)}"
    carried = [c for c in fixed[1:] if c != "text"] + (others if slices is None else [])
    carried += ["text"] if "text" in frame.columns else []
    # melt under names no column can have, then rename: an annotator may be called "label"
    long = frame.melt(
        id_vars=["item_id", *carried], value_vars=annotators, var_name="\0annotator", value_name="\0label"
    )
    label = long["\0label"]
    long = long[label.notna() & (label.astype(str).str.strip() != "")]
    long = long.rename(columns={"\0annotator": "annotator", "\0label": "label"})
    return long[[*_NAMES, *carried]], note
