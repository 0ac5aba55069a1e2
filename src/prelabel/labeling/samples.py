"""Self-consistency: K answers to one item folded into one ``LabelResult`` (``LabelOptions(samples=K)``).

Each sample's answer is a label (single-label SOPs) or a label set (multi-label SOPs, written as its labels
joined with ``;`` in SOP order); an abstention is an answer like any other. The majority answer is the most
common one; a tie goes to the answer whose samples have the higher mean confidence, then to the answer seen
first (in sample order). The item's result is the *first* sample (in sample order) that gave the majority
answer — its status, label(s), rationale and cited rules — with:

- ``confidence``: the mean confidence of the samples that gave the majority answer,
- ``samples``: the distribution (answer → count, most common first, ties in the order first seen),
- ``agreement``: the majority's share of the samples that answered,
- ``entropy``: the distribution's Shannon entropy over ``ln(n)``, n the samples that answered (0 when n < 2),
- ``failed_samples``: how many samples ended in an error,
- ``label_prob`` (``logprobs``): the mean label probability of the samples that gave the majority answer (as
  ``confidence``; ``None`` when none of them has one),
- ``attempts``, ``usage``: summed over every request of every sample.

Failed samples are left out of the vote; when every sample failed, the item is the last sample's error
record (with the sums above and ``failed_samples = K``).

    >>> from prelabel.labeling.result import PROB_DIGITS, LabelResult
    >>> def answer(label, confidence):
    ...     return LabelResult(item_id="a", status="ok", label=label, confidence=confidence, model="m",
    ...                        sop_id="s", sop_version="1", prompt_hash="h", template="t", attempts=1)
    >>> result = combine_samples([answer("b", 0.6), answer("a", 0.9), answer("b", 0.8)], latency_s=1.0)
    >>> result.label, result.samples, result.agreement, result.confidence, result.attempts
    ('b', {'b': 2, 'a': 1}, 0.6667, 0.7, 3)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from prelabel.labeling.result import PROB_DIGITS, LabelResult
from prelabel.llm.usage import Usage

__all__ = ["answer_key", "combine_samples", "majority", "normalized_entropy"]

_DIGITS = 4


def answer_key(result: LabelResult, order: dict[str, int] | None = None) -> str:
    """A sample's answer as text: its label, or its label set joined with ``;`` in ``order`` (SOP order)."""
    if result.labels is None:
        return result.label or ""
    rank = order or {}
    return ";".join(sorted(set(result.labels), key=lambda label: (rank.get(label, len(rank)), label)))


def majority(keys: Sequence[str], confidences: Sequence[float | None]) -> str:
    """The most common of ``keys``; ties go to the higher mean confidence, then to the key seen first.

    >>> majority(["a", "b", "b", "a"], [0.9, 0.5, 0.5, 0.7])
    'a'
    >>> majority(["a", "b"], [None, None])
    'a'
    """
    groups: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for key, confidence in zip(keys, confidences, strict=True):
        counts[key] = counts.get(key, 0) + 1
        groups.setdefault(key, []).extend([] if confidence is None else [confidence])
    first = {key: i for i, key in enumerate(counts)}
    return max(counts, key=lambda key: (counts[key], _mean(groups[key]) or 0.0, -first[key]))


def normalized_entropy(counts: Sequence[int]) -> float:
    """Shannon entropy of ``counts`` divided by ``ln(n)``, n their sum: 0 when all agree, 1 when all differ.

    >>> normalized_entropy([5]), normalized_entropy([1, 1]), round(normalized_entropy([3, 1]), 4)
    (0.0, 1.0, 0.4056)
    """
    n = sum(counts)
    if n < 2:
        return 0.0
    entropy = -sum(c / n * math.log(c / n) for c in counts if 0 < c < n)
    return min(entropy / math.log(n), 1.0) if entropy > 0 else 0.0


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def combine_samples(
    results: Sequence[LabelResult], *, latency_s: float, order: dict[str, int] | None = None
) -> LabelResult:
    """One result from the results of K samples of one item, in sample order (see the module docstring)."""
    answered = [r for r in results if r.ok]
    totals = {
        "attempts": sum(r.attempts for r in results),
        "usage": Usage.total(r.usage for r in results),
        "latency_s": latency_s,
        "failed_samples": len(results) - len(answered),
    }
    if not answered:
        return results[-1].model_copy(update=totals)
    keys = [answer_key(r, order) for r in answered]
    top = majority(keys, [r.confidence for r in answered])
    chosen = [r for r, key in zip(answered, keys, strict=True) if key == top]
    counts: dict[str, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    distribution = dict(sorted(counts.items(), key=lambda kv: -kv[1]))  # stable: ties stay first seen
    confidence = _mean([r.confidence for r in chosen if r.confidence is not None])
    prob = _mean([r.label_prob for r in chosen if r.label_prob is not None])
    return chosen[0].model_copy(
        update={
            **totals,
            "confidence": None if confidence is None else round(confidence, _DIGITS),
            "label_prob": None if prob is None else round(prob, PROB_DIGITS),
            "samples": distribution,
            "agreement": round(counts[top] / len(answered), _DIGITS),
            "entropy": round(normalized_entropy(list(counts.values())), _DIGITS),
        }
    )
