"""The human consensus of an item: majority vote, or an annotator model fitted by crowd-kit.

``aggregate`` chooses how the consensus is formed wherever one is (``compare``, ``agreement``, ``route``'s
calibration set):

- ``majority`` (default): the answer most annotators gave; tied when two lead
  (`prelabel.comparison.semantics`).
- ``dawid-skene``: Dawid & Skene (1979), one confusion matrix per annotator (crowd-kit ``DawidSkene``).
- ``glad``: Whitehill et al. (2009), one skill per annotator and a difficulty per item (crowd-kit ``GLAD``).
- ``mace``: Hovy et al. (2013), one competence per annotator (the chance they are not spamming; crowd-kit
  ``MACE``).

The models weigh each annotator by their estimated reliability, so a careless annotator or a spammer counts
for less than the best one. Their consensus is the most probable answer of each item's posterior (tied only
when two answers are equally probable); its ``share`` stays the share of the item's votes that gave it. Each
annotator's **estimated accuracy** is the mean posterior probability of the answers they gave (the same
definition for the three models); Dawid-Skene adds each annotator's confusion matrix (rows: the true answer,
columns: the answer given, each row summing to 1), GLAD the skill ``alpha``, MACE the competence.

Multi-label SOPs: the models are defined over single categories, so ``aggregate`` other than ``majority``
is refused with one line (a label set as one category would spread a model over every combination seen).
crowd-kit is the extra ``prelabel[qa]``; without it the models are refused with one line naming the extra.

    >>> import numpy as np
    >>> from prelabel.comparison.interrater import Ratings
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"item_id": ["1", "1", "2", "2"], "annotator": ["x", "y"] * 2,
    ...                       "label": ["a", "a", "b", "a"]})
    >>> consensus(Ratings.from_frame(frame), "majority").majority.tied
    array([False,  True])
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import pandas as pd

from prelabel.comparison.interrater import Patterns, row_patterns
from prelabel.comparison.metrics_schema import Aggregation, AnnotatorEstimate
from prelabel.comparison.semantics import Majority, majority
from prelabel.errors import InputError

if TYPE_CHECKING:
    from prelabel.comparison.interrater import Ratings

__all__ = ["AGGREGATES", "Aggregate", "Consensus", "check_aggregate", "consensus"]

Aggregate = Literal["majority", "dawid-skene", "glad", "mace"]
#: The ways a human consensus can be formed (``--aggregate``).
AGGREGATES: tuple[str, ...] = get_args(Aggregate)


@dataclass(frozen=True)
class Consensus:
    """Per item the consensus answer code, its vote share and whether it is tied; and, for the annotator
    models, what they estimate about each annotator (``None`` for majority vote)."""

    majority: Majority
    estimates: Aggregation | None = None


def check_aggregate(method: str, multi_label: bool = False) -> None:
    """``InputError`` (one line) for an unknown method, or a model asked for on a multi-label SOP."""
    if method not in AGGREGATES:
        raise InputError(f"unknown aggregate '{method}' (choose from: {', '.join(AGGREGATES)})")
    if multi_label and method != "majority":
        raise InputError(
            f"--aggregate {method} is for single-label SOPs: a multi-label consensus is the majority label "
            "set (use --aggregate majority)"
        )


def _crowdkit(method: str) -> Any:
    try:
        from crowdkit.aggregation import GLAD, MACE, DawidSkene
    except ImportError:
        raise InputError(f"--aggregate {method} needs crowd-kit: run `pip install 'prelabel[qa]'`") from None
    builders = {
        "dawid-skene": lambda: DawidSkene(n_iter=100),
        "glad": lambda: GLAD(),
        "mace": lambda: MACE(random_state=0),
    }
    return builders[method]()


def consensus(ratings: Ratings, method: str, patterns: Patterns | None = None) -> Consensus:
    """The consensus of every item of ``ratings`` by ``method`` (one of `AGGREGATES`).

    Majority vote is `prelabel.comparison.semantics.majority` over the count table, computed once per distinct
    row (``patterns``: `row_patterns` of the count table, when already computed). The models are fitted once
    on all annotations.
    """
    check_aggregate(method)
    codes, rows = row_patterns(ratings.counts) if patterns is None else patterns
    top, share, tied = majority(rows)
    votes = Majority(top[codes], share[codes], tied[codes])
    if method == "majority" or len(ratings.item) == 0:
        return Consensus(votes)
    return _model_consensus(ratings, method)


def _model_consensus(ratings: Ratings, method: str) -> Consensus:
    n_items, n_labels = ratings.n_items, len(ratings.labels)
    data = pd.DataFrame({"task": ratings.item, "worker": ratings.annotator, "label": ratings.label})
    model = _crowdkit(method)
    with warnings.catch_warnings():  # crowd-kit's own use of pandas APIs pandas deprecates: not the user's
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        model.fit(data)
    probas = model.probas_.reindex(index=range(n_items), columns=range(n_labels)).to_numpy(dtype=np.float64)
    probas = np.nan_to_num(probas, nan=0.0)
    best = probas.max(axis=1)
    top = probas.argmax(axis=1)
    counts, raters = ratings.counts, ratings.n_raters
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(raters > 0, counts[np.arange(n_items), top] / np.maximum(raters, 1), np.nan)
    tied = (np.isclose(probas, best[:, None], rtol=0, atol=1e-9).sum(axis=1) > 1) & (raters > 0)
    posterior = probas[ratings.item, ratings.label]
    n_annotators = len(ratings.annotators)
    n_labels_by = np.bincount(ratings.annotator, minlength=n_annotators)
    accuracy = np.bincount(ratings.annotator, weights=posterior, minlength=n_annotators) / np.maximum(
        n_labels_by, 1
    )
    extra = _per_annotator_parameters(model, method, ratings)
    names = [str(label) for label in ratings.labels]
    rows = [
        AnnotatorEstimate(
            annotator=str(name),
            n_labels=int(n_labels_by[code]),
            accuracy=float(accuracy[code]) if n_labels_by[code] else None,
            **extra.get(code, {}),
        )
        for code, name in enumerate(ratings.annotators)
    ]
    votes = majority(counts)
    changed = (raters > 0) & ~votes.tied & ~tied & (votes.top != top)
    estimates = Aggregation(
        method=method,
        labels=names,
        n_items=int((raters > 0).sum()),
        n_changed=int(changed.sum()),
        per_annotator=rows,
    )
    return Consensus(Majority(top, share, tied), estimates)


def _per_annotator_parameters(model: Any, method: str, ratings: Ratings) -> dict[int, dict[str, Any]]:
    """Per annotator code: the model's own parameters (confusion matrix, skill or competence)."""
    n_labels = len(ratings.labels)
    out: dict[int, dict[str, Any]] = {}
    if method == "dawid-skene":
        errors = model.errors_  # index (worker, given label), columns: true label; P(given | true)
        for worker in errors.index.get_level_values(0).unique():
            table = errors.loc[worker].reindex(index=range(n_labels), columns=range(n_labels)).fillna(0.0)
            matrix = table.to_numpy(dtype=np.float64).T  # rows: true label, columns: given label
            out[int(worker)] = {"confusion": [[round(float(v), 6) for v in row] for row in matrix]}
    elif method == "glad":
        for worker, alpha in model.alphas_.items():
            out[int(worker)] = {"skill": float(alpha)}
    else:  # mace: workers in order of first appearance, column 1 = P(not spamming)
        workers = pd.factorize(pd.Series(ratings.annotator))[1]
        for worker, knowing in zip(workers, model.spamming_[:, 1], strict=True):
            out[int(worker)] = {"competence": float(knowing)}
    return out
