"""Cleaning and aligning the comparator's inputs, counting everything skipped and why.

Nothing is dropped silently: every annotation or model row left out of the figures is counted in ``skipped``
(with a few offending values in ``examples``), and the counts go into ``metrics.json``.

Everything is vectorised: ids and answers are factorized once, and per-item figures that depend only on an
item's row of the count table (majority, share, ties) are computed once per distinct row ("pattern").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from prelabel.comparison import interrater as irr
from prelabel.comparison.aggregation import Consensus, check_aggregate, consensus
from prelabel.comparison.annotators import leave_one_out
from prelabel.comparison.certainty import certainty
from prelabel.comparison.metrics_schema import Counts, LabelAgreement, Skipped
from prelabel.comparison.readers import factorize_ids, result_status
from prelabel.comparison.semantics import Codes, LabelSpace, Majority

__all__ = ["MAX_SLICE_VALUES", "MISSING", "Prepared", "prepare"]

#: Slice columns with more distinct values than this are not sliced (a note says so).
MAX_SLICE_VALUES = 50
#: The slice value of items whose slice column is empty.
MISSING = "(missing)"
_SKIPS = tuple(Skipped.model_fields)


@dataclass
class Prepared:
    """Aligned inputs: human `Ratings` over answer codes, and the model's answer per item."""

    space: LabelSpace
    names: list[str]
    ratings: irr.Ratings
    human_rows: np.ndarray
    slices: dict[str, pd.Categorical]
    text: np.ndarray | None
    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: The answers that mean "abstained" (`LabelSpace.abstentions`).
    abstain: frozenset[str] = frozenset()
    model: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    certainty: np.ndarray = field(default_factory=lambda: np.empty(0))
    confidence: np.ndarray = field(default_factory=lambda: np.empty(0))
    row: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    #: Per results row, the ``skipped`` key of why it is not compared (``""`` when it is): the first of a
    #: later row for the same item, model error, abstained, no label, label not in the SOP, no item id, no
    #: human label for its item, no valid human label.
    row_skip: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    results: pd.DataFrame | None = None
    #: How the human consensus is formed (`prelabel.comparison.aggregation`).
    aggregate: str = "majority"
    #: Per annotation in ``ratings``, its row in the human-labels frame.
    annotation_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @property
    def compared(self) -> np.ndarray:
        """Mask of items with both a usable model answer and at least one human answer."""
        return (self.model >= 0) & (self.ratings.n_raters > 0)

    @property
    def n_compared(self) -> int:
        """Number of compared items."""
        return int(self.compared.sum())

    @cached_property
    def patterns(self) -> irr.Patterns:
        """Per item, the code of its count-table row among the distinct rows; and those rows."""
        return irr.row_patterns(self.ratings.counts)

    @cached_property
    def leave_one_out(self) -> np.ndarray:
        """Per annotation, the other annotators' majority answer (-1 if tied or none)."""
        return leave_one_out(self.ratings)

    @cached_property
    def consensus(self) -> Consensus:
        """The human consensus by ``aggregate`` (majority vote by default), with the model's estimates."""
        return consensus(self.ratings, self.aggregate, self.patterns)

    @property
    def majority(self) -> Majority:
        """Per item: the human consensus answer code (the majority by default), its vote share, and whether
        it is tied."""
        return self.consensus.majority

    def counts(self, n_results: int) -> Counts:
        """Sizes of the inputs and of what was compared."""
        return Counts(
            model_rows=n_results,
            human_items=int(self.human_rows.sum()),
            human_annotations=len(self.ratings.item),
            annotators=len(self.ratings.annotators),
            compared_items=self.n_compared,
        )

    def skipped_counts(self) -> Skipped:
        """The ``skipped`` counts as a typed record."""
        return Skipped(**self.skipped)

    def per_label_agreement(self) -> list[LabelAgreement]:
        """Multi-label: each label's present/absent Fleiss' κ and Krippendorff's α among humans."""
        classes, member = self.space.binarize(self.names)
        present = self.ratings.counts @ member.astype(np.int32)
        raters = self.ratings.n_raters
        rows = []
        for j, label in enumerate(classes):
            table = np.column_stack([present[:, j], raters - present[:, j]])
            rows.append(LabelAgreement(label=label, **irr.summary(table)._asdict()))
        return rows


def _examples(values: Any, limit: int = 10) -> list[str]:
    return [str(v) for v in pd.Series(values, dtype=object).value_counts().index[:limit]]


def _sorted_answers(space: LabelSpace, answers: set[str]) -> list[str]:
    order = {label: i for i, label in enumerate(space.sop.label_index)} if space.sop else {}
    return sorted(answers, key=lambda a: ([order.get(m, len(order)) for m in space.members(a)], a))


def _per_item(
    frame: pd.DataFrame, item: np.ndarray, n_items: int, notes: list[str]
) -> tuple[dict[str, pd.Categorical], np.ndarray | None]:
    """Slice columns as one categorical value per item (from its first human row; a note counts the items
    whose rows disagree), and the ``text`` column."""
    with_id = np.flatnonzero(item >= 0)
    first_row = np.full(n_items + 1, -1, dtype=np.int64)
    first_row[item[with_id[::-1]]] = with_id[::-1]
    first = first_row[:n_items]
    slices: dict[str, pd.Categorical] = {}
    text = None
    not_slices = {"item_id", "annotator", "label", *frame.attrs.get("not_slices", [])}
    for column in frame.columns:
        if column in not_slices:  # vendor QA's per-annotation columns are not slices of items
            continue
        if column == "text":
            text = np.append(frame[column].to_numpy(dtype=object), np.array([None], dtype=object))[first]
            continue
        row_codes, row_values = pd.factorize(frame[column], use_na_sentinel=True)  # per distinct value
        mixed = np.unique(item[with_id][row_codes[with_id] != row_codes[first[item[with_id]]]])
        if len(mixed):
            notes.append(
                f"column '{column}': {len(mixed)} items have rows with different values; each is counted "
                "under the value of its first row"
            )
        codes = np.append(row_codes, -1)[first]  # each item's first row's value (-1: none)
        present = np.unique(codes[codes >= 0])  # the values of first rows only (categories are sorted)
        renumber = np.full(len(row_values) + 1, -1, dtype=np.int64)
        renumber[present] = np.arange(len(present))
        codes, uniques = renumber[codes], np.asarray(row_values, dtype=object)[present]
        names = [str(u) if str(u) != "" else MISSING for u in uniques] + [MISSING]
        merged, categories = pd.factorize(pd.Series(names, dtype=object), sort=True)
        if len(categories) > MAX_SLICE_VALUES:
            notes.append(
                f"column '{column}' has {len(categories)} values (> {MAX_SLICE_VALUES}): not a slice"
            )
        else:
            slices[column] = pd.Categorical.from_codes(merged[codes], categories=[str(c) for c in categories])
    return slices, text


def prepare(
    frame: pd.DataFrame, res: pd.DataFrame | None, space: LabelSpace, aggregate: str = "majority"
) -> Prepared:
    """Canonicalise and check human answers (and model rows); align both on item ids. ``aggregate``: how the
    human consensus is formed (`prelabel.comparison.aggregation`; checked first)."""
    check_aggregate(aggregate, space.multi_label)
    skipped = dict.fromkeys(_SKIPS, 0)
    examples: dict[str, list[str]] = {}
    notes: list[str] = []
    answer, answers = space.canonical_codes(frame["label"])
    model: Codes | None = None
    if res is not None:
        model = space.canonical_codes(res[space.result_column])
    id_columns = [frame["item_id"], *([res["item_id"]] if res is not None else [])]
    (item, *result_item), items = factorize_ids(*id_columns)
    n_items = len(items)
    no_id = item < 0
    skipped["annotations_without_item_id"] = int(no_id.sum())
    empty = (np.asarray(answers, dtype=object) == "")[answer] & ~no_id
    skipped["annotations_empty"] = int(empty.sum())
    unknown = [space.unknown(a) for a in answers]
    abstain = space.abstentions(res)
    abstained = np.isin(np.asarray(answers, dtype=object), list(abstain))[answer] & ~no_id
    skipped["annotations_abstained"] = int(abstained.sum())
    if abstained.any():
        notes.append(
            f"{int(abstained.sum())} human annotations are abstentions ({', '.join(sorted(abstain))}): like "
            "the model's, they are not answers and are left out"
        )
    invalid = np.asarray([bool(u) for u in unknown], dtype=bool)[answer] & ~no_id & ~abstained
    if invalid.any():
        skipped["annotations_not_in_sop"] = int(invalid.sum())
        tally = np.bincount(answer[invalid], minlength=len(answers))
        found: Counter[str] = Counter()
        for a in np.flatnonzero(tally):
            found.update(dict.fromkeys(unknown[a], int(tally[a])))
        examples["annotations_not_in_sop"] = [m for m, _ in found.most_common(10)]
    keep = ~(no_id | empty | invalid | abstained)
    notes += space.exclusive_notes(answers, np.bincount(answer[keep], minlength=len(answers)), "human labels")
    model_ok = set() if model is None else {a for a in model[1] if a and not space.unknown(a)}
    valid = {a for a, u in zip(answers, unknown, strict=True) if a and not u and a not in abstain}
    names = _sorted_answers(space, valid | model_ok)
    (annotator,), annotators = factorize_ids(frame["annotator"])
    if (annotator < 0).any():
        annotator = np.where(annotator < 0, len(annotators), annotator)
        annotators = annotators.append(pd.Index(["(no annotator)"], dtype=object))
    label = pd.Index(names).get_indexer(pd.Index(answers, dtype=object))[answer]
    key = item.astype(np.int64) * len(annotators) + annotator
    if n_items * len(annotators) <= 50_000_000:
        seen = np.bincount(key[keep], minlength=n_items * len(annotators))
        has_duplicates = bool((seen > 1).any())
    else:
        has_duplicates = True
    if has_duplicates:
        duplicate = (
            pd.Series(np.where(keep, key, -1 - np.arange(len(key)))).duplicated(keep="last").to_numpy()
        )
        skipped["annotations_duplicate"] = int(duplicate.sum())
        if duplicate.any():
            examples["annotations_duplicate"] = _examples(items[item[duplicate]])
            notes.append("an annotator labeled the same item twice: the last label is used")
        keep &= ~duplicate
    ratings = irr.Ratings(
        items,
        annotators,
        np.asarray(names, dtype=object),
        item[keep].astype(np.int32),
        annotator[keep].astype(np.int32),
        label[keep].astype(np.int32),
    )
    human_rows = np.bincount(item[~no_id], minlength=n_items) > 0
    slices, text = _per_item(frame, item, n_items, notes)
    prep = Prepared(space, names, ratings, human_rows, slices, text, skipped, examples, notes, abstain)
    prep.aggregate = aggregate
    prep.annotation_rows = np.flatnonzero(keep)
    if res is not None and model is not None:
        _align_results(prep, res, model, result_item[0], items)
    else:
        prep.model = np.full(n_items, -1, dtype=np.int64)
    return prep


def _align_results(prep: Prepared, res: pd.DataFrame, model: Codes, pos: np.ndarray, ids: pd.Index) -> None:
    """Fill the per-item model arrays of ``prep`` (answer code, confidence, certainty, row) and skips."""
    skipped = prep.skipped
    no_id = pos < 0
    skipped["model_rows_without_item_id"] = int(no_id.sum())
    if np.bincount(pos[~no_id], minlength=1).max() > 1:
        duplicate = (
            pd.Series(np.where(no_id, -1 - np.arange(len(pos)), pos)).duplicated(keep="first").to_numpy()
        )
    else:
        duplicate = np.zeros(len(pos), dtype=bool)
    skipped["model_rows_duplicate"] = int(duplicate.sum())
    if duplicate.any():
        prep.examples["model_rows_duplicate"] = _examples(ids[pos[duplicate]])
        prep.notes.append(  # as a run labels only the first row of an id (runs.labels.LabelLines.repeated)
            "the model results repeat some item ids: the first row of each is used (a run labels the first "
            "row of an id and records the later ones as duplicate-id errors)"
        )
    live = ~(no_id | duplicate)
    status = result_status(res["status"])
    answer, answers = model
    code = pd.Index(prep.names).get_indexer(pd.Index(answers, dtype=object))[answer]
    text = np.asarray(answers, dtype=object)
    is_error = ~np.isin(status, ["ok", "abstained"])
    is_abstained = ((status == "abstained") | np.isin(text, list(prep.abstain))[answer]) & ~is_error
    is_missing = (text == "")[answer] & ~is_error & ~is_abstained
    is_unknown = (code < 0) & ~is_missing & ~is_error & ~is_abstained
    for key, mask in (
        ("items_model_error", is_error),
        ("items_model_abstained", is_abstained),
        ("items_model_label_missing", is_missing),
        ("items_model_label_not_in_sop", is_unknown),
    ):
        skipped[key] = int((mask & live).sum())
    if (is_unknown & live).any():
        prep.examples["items_model_label_not_in_sop"] = _examples(text[answer[is_unknown & live]])
    n = prep.ratings.n_items
    has_humans = prep.ratings.n_raters > 0
    no_human_rows = live & ~prep.human_rows[np.maximum(pos, 0)]
    skipped["items_without_human_label"] = int(no_human_rows.sum())
    if no_human_rows.any():
        prep.examples["items_without_human_label"] = _examples(ids[pos[no_human_rows]])
    usable = live & ~(is_error | is_abstained | is_missing | is_unknown)
    invalid_humans = usable & prep.human_rows[np.maximum(pos, 0)] & ~has_humans[np.maximum(pos, 0)]
    skipped["items_without_valid_human_label"] = int(invalid_humans.sum())
    take = usable & has_humans[np.maximum(pos, 0)]
    prep.model = np.full(n, -1, dtype=np.int64)
    prep.model[pos[take]] = code[take]
    tally = np.bincount(answer[take], minlength=len(answers))
    prep.notes += prep.space.exclusive_notes(list(answers), tally, "model answers")
    prep.row = np.full(n, -1, dtype=np.int64)
    prep.row[pos[live]] = np.flatnonzero(live)
    first = (  # the first reason that applies wins: assigned last
        ("model_rows_duplicate", duplicate),
        ("items_model_error", is_error),
        ("items_model_abstained", is_abstained),
        ("items_model_label_missing", is_missing),
        ("items_model_label_not_in_sop", is_unknown),
        ("model_rows_without_item_id", no_id),
        ("items_without_human_label", ~prep.human_rows[np.maximum(pos, 0)]),
        ("items_without_valid_human_label", ~has_humans[np.maximum(pos, 0)]),
    )
    prep.row_skip = np.full(len(pos), "", dtype=object)
    for key, mask in reversed(first):
        prep.row_skip[mask] = key
    skipped["items_without_model_label"] = int((prep.human_rows & (prep.row < 0)).sum())
    confidence = res["confidence"].to_numpy(dtype=np.float64)
    prep.confidence = np.full(n, np.nan)
    prep.confidence[pos[take]] = confidence[take]
    prep.certainty = certainty(prep.space, prep.names, prep.model, prep.row, prep.confidence, res["samples"])
    prep.results = res
