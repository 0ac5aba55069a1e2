"""What labels mean when answers are compared: the one home of label semantics.

`prelabel.compare`, `prelabel.agreement`, the reliability diagram and `prelabel.route`'s calibration set (all
through `prelabel.comparison.prep.prepare`), route's split and quiz scoring (`prelabel.score_calibration`)
follow these rules:

- **Canonical answers.** An *answer* is what one annotator (or the model) gave one item: a label id, or for
  multi-label SOPs a label set written canonically as ``a;b`` (members in SOP order, else sorted). Label text
  is Unicode-normalised (NFC) and stripped of invisible format characters (zero-width spaces and joiners,
  BOMs, direction marks), so two spellings that look the same are one label (`clean`, `LabelSpace.canonical`).
- **Abstention** is not an answer, on either side: the SOP's abstain label when abstaining is allowed
  (`prelabel.SOP.abstain_answer`) and the labels of model rows whose status is ``abstained``
  (`LabelSpace.abstentions`). A model abstention leaves the item out; a human one leaves that annotation out.
- **Answers outside the SOP** (a label that is neither a leaf nor the allowed abstain label;
  `LabelSpace.unknown`) are not answers either: a human one is not a vote (``annotations_not_in_sop``), a
  model one leaves the item out of every figure against the humans (``items_model_label_not_in_sop``; in
  route's calibration set ``model_label_not_in_sop``). Without an SOP every label is allowed. Quiz scoring
  is the one exception, stated there: an annotator's label outside the SOP is scored as wrong.
- **The human majority** of an item is the answer most of its annotators gave; it is *tied* when two answers
  lead with the same count (`majority`), and figures against the majority leave tied items out.
- **Agreement of answers**: single-label answers are nominal categories (equal or not). Multi-label sets
  are one category each (exact sets) in κ, α and majorities; where a share is needed (self-consistency
  samples) they agree by their Jaccard overlap (`jaccard`; compare's sample-level ``jaccard`` figure is
  scikit-learn's ``jaccard_score``, the same definition), and per-label figures split sets into members.

Work is done once per distinct answer, never per row: callers factorize a column and map the uniques.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.preprocessing import MultiLabelBinarizer

from prelabel.comparison.readers import as_list, result_status
from prelabel.errors import InputError
from prelabel.sop.spec import SOP

__all__ = [
    "SEP",
    "Binarized",
    "Codes",
    "LabelSpace",
    "Majority",
    "Rollup",
    "clean",
    "jaccard",
    "label_space",
    "majority",
]

SEP = ";"


def clean(text: str) -> str:
    """Label text in NFC, without format characters (Unicode category Cf) and surrounding white space.

    >>> clean("cafe\u0301\u200b ") == clean("café")
    True
    """
    text = unicodedata.normalize("NFC", text)
    if not text.isascii():
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return text.strip()


def _joined(value: object) -> object:
    return SEP.join(map(str, value)) if isinstance(value, list | tuple | np.ndarray) else value


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """The Jaccard overlap of two label sets (1.0 when both are empty).

    >>> jaccard(["a", "b"], ["b", "c"])
    0.3333333333333333
    """
    mine, theirs = set(a), set(b)
    return len(mine & theirs) / len(mine | theirs) if mine | theirs else 1.0


class Majority(NamedTuple):
    """Per item: the majority answer code, its share of the item's annotations, and whether it is tied."""

    top: np.ndarray
    share: np.ndarray
    tied: np.ndarray


def majority(counts: np.ndarray) -> Majority:
    """Per row of an items × answers count table: the majority answer code, its share of the item's
    annotations (``NaN`` without any), and whether two answers tie for it.

    >>> majority(np.array([[2, 1], [1, 1]])).tied
    array([False,  True])
    """
    top = counts.argmax(axis=1)
    best = counts.max(axis=1)
    raters = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(raters > 0, best / np.maximum(raters, 1), np.nan)
    tied = (counts == best[:, None]).sum(axis=1) > 1
    return Majority(top, share, tied & (raters > 0))


class Codes(NamedTuple):
    """A code per row into ``answers``, the distinct canonical answers (``""`` for an empty one)."""

    codes: np.ndarray
    answers: list[str]


class Rollup(NamedTuple):
    """The label names at one tree level, and ``mapping[c]``: the level code of answer code ``c``."""

    names: list[str]
    mapping: np.ndarray


class Binarized(NamedTuple):
    """Label ids, and an answers × labels 0/1 ``matrix`` saying which labels each answer holds."""

    labels: list[str]
    matrix: np.ndarray


@dataclass
class LabelSpace:
    """Canonicalises answers and rolls them up the label tree (from the SOP, else from dotted ids)."""

    sop: SOP | None = None
    multi_label: bool = False
    _order: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.sop is not None:
            self._order = {label: i for i, label in enumerate(self.sop.label_index)}
            self._order.setdefault(self.sop.abstain.label, len(self._order))

    @property
    def abstain(self) -> str | None:
        """The SOP's abstain label when abstaining is allowed."""
        return self.sop.abstain_answer if self.sop is not None else None

    @property
    def result_column(self) -> str:
        """The results column holding the model's answer: ``labels`` (multi-label) or ``label``."""
        return "labels" if self.multi_label else "label"

    def abstentions(self, results: pd.DataFrame | None) -> frozenset[str]:
        """The answers that mean "abstained", on both sides: the SOP's abstain label (when allowed) and the
        answers of the ``results`` rows whose status is ``abstained``."""
        found = {self.abstain} if self.abstain else set()
        if results is not None:
            abstained = result_status(results["status"]) == "abstained"
            found |= set(self.canonical_codes(results[self.result_column][abstained]).answers)
        return frozenset(found - {""})

    def combined_exclusive(self, answer: str) -> str | None:
        """Multi-label: an exclusive label (or the abstain label) that ``answer`` combines with others."""
        members = self.members(answer)
        if self.sop is None or len(members) < 2:
            return None
        index = self.sop.label_index
        alone = [m for m in members if m == self.abstain or (m in index and index[m].exclusive)]
        return alone[0] if alone else None

    def exclusive_notes(self, answers: list[str], tally: np.ndarray, what: str) -> list[str]:
        """A note on how many of ``tally`` (a count per answer) combine an exclusive label with others."""
        broken = [a for a, n in zip(answers, tally, strict=True) if n and self.combined_exclusive(a)]
        if not broken:
            return []
        count = int(sum(tally[answers.index(a)] for a in broken))
        shown = ", ".join(f"'{a}'" for a in broken[:3])
        return [f"{count} {what} combine an exclusive label with others (e.g. {shown}): kept as given"]

    @property
    def valid_labels(self) -> frozenset[str] | None:
        """Label ids an answer may contain (leaves and the abstain label), or ``None`` without an SOP."""
        return None if self.sop is None else frozenset(self.sop.answer_ids)

    def members(self, answer: str) -> list[str]:
        """The label ids in an answer."""
        if not self.multi_label:
            return [answer] if answer else []
        return [part for part in answer.split(SEP) if part]

    def _sort(self, labels: Iterable[str]) -> list[str]:
        unique = set(labels)
        return sorted(unique, key=lambda x: (self._order.get(x, len(self._order)), x))

    def canonical(self, raw: object) -> str:
        """One answer as canonical text ('' if empty); multi-label lists and ``;``-text become sorted sets."""
        if raw is None or (isinstance(raw, float) and np.isnan(raw)):
            return ""
        if isinstance(raw, list | tuple | np.ndarray):
            parts = [clean(str(p)) for p in raw]
        else:
            text = clean(str(raw))
            if not self.multi_label:
                return text
            parts = as_list(text) or []  # ";"-separated or a JSON list
        parts = [p for p in parts if p]
        if not self.multi_label:
            return SEP.join(parts)
        return SEP.join(self._sort(parts))

    def canonical_codes(self, values: pd.Series) -> Codes:
        """Codes into the distinct canonical answers of a column (``""`` if empty); one pass over the rows."""
        try:
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
        except TypeError:  # list cells (multi-label answers): join them first
            codes, uniques = pd.factorize(values.map(_joined), use_na_sentinel=True)
        canonical = [self.canonical(u) for u in uniques] + [""]
        merged, answers = pd.factorize(pd.Series(canonical, dtype=object))
        return Codes(merged[codes].astype(np.int64), [str(a) for a in answers])

    def answers(self, values: pd.Series) -> np.ndarray:
        """Each cell's canonical answer (``""`` if empty), computed once per distinct value."""
        codes, answers = self.canonical_codes(values)
        return np.asarray(answers, dtype=object)[codes]

    def samples_agreement(self, samples: list[str], answer: str) -> float:
        """The share of ``samples`` that gave ``answer`` (multi-label: their mean `jaccard` with it)."""
        given = [self.canonical(s) for s in samples]
        if not self.multi_label:
            return sum(g == answer for g in given) / len(given)
        mine = self.members(answer)
        return float(np.mean([jaccard(mine, self.members(g)) for g in given]))

    def unknown(self, answer: str) -> list[str]:
        """Labels in an answer that the SOP does not allow (empty without an SOP)."""
        valid = self.valid_labels
        if valid is None:
            return []
        return [m for m in self.members(answer) if m not in valid]

    def _ancestors(self, label: str) -> list[str]:
        if self.sop is not None:
            return self.sop.ancestors(label) or [label]
        parts = label.split(".")
        return [".".join(parts[: i + 1]) for i in range(len(parts))]

    def depth(self, answers: Iterable[str]) -> int:
        """The deepest tree level any label of these answers sits at (1 = top level)."""
        depths = [len(self._ancestors(m)) for a in answers for m in self.members(a)]
        return max(depths, default=1)

    def rollup(self, answer: str, level: int) -> str:
        """The answer with each label replaced by its ancestor at ``level`` (shallower leaves stay as is)."""
        rolled = []
        for label in self.members(answer):
            chain = self._ancestors(label)
            rolled.append(chain[min(level, len(chain)) - 1])
        return SEP.join(self._sort(rolled)) if self.multi_label else (rolled[0] if rolled else "")

    def rollup_codes(self, names: list[str], level: int) -> Rollup:
        """Level names and an array mapping each answer code in ``names`` to its level code."""
        rolled = [self.rollup(n, level) for n in names]
        codes, uniques = pd.factorize(pd.Series(rolled, dtype=object), sort=True)
        return Rollup([str(u) for u in uniques], codes.astype(np.int64))

    def binarize(self, names: list[str]) -> Binarized:
        """Label ids and an answers × labels 0/1 matrix (scikit-learn's ``MultiLabelBinarizer``)."""
        members = [self.members(n) for n in names]
        classes = self._sort(m for group in members for m in group)
        binarizer = MultiLabelBinarizer(classes=classes)
        matrix = binarizer.fit_transform(members) if names else np.zeros((0, len(classes)), dtype=int)
        return Binarized(classes, np.asarray(matrix, dtype=np.int8))


def label_space(
    sop: SOP | None, multi_label: bool | None = None, results: pd.DataFrame | None = None
) -> LabelSpace:
    """The label space of a comparison: the SOP's (``multi_label`` must agree with its task), else
    multi-label when given so, or when the ``results`` answer in ``labels`` only."""
    if sop is not None:
        if multi_label is not None and multi_label != sop.multi_label:
            raise InputError(f"multi_label={multi_label} contradicts the SOP's task '{sop.task}'")
        return LabelSpace(sop, sop.multi_label)
    if multi_label is None:
        multi_label = bool(
            results is not None and results["labels"].notna().any() and results["label"].isna().all()
        )
    return LabelSpace(None, multi_label)
