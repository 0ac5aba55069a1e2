"""Token log-probabilities: how probable the model's own tokens made the label it gave.

Servers that return ``logprobs`` (OpenAI, vLLM and llama.cpp in JSON modes) send one entry per generated
token: its text, its UTF-8 ``bytes`` and its log-probability. `token_logprobs` reads them from a chat
completion; `label_probability` rebuilds the answer text from the tokens' bytes (so a Thai character split
over two tokens lands where it belongs; without bytes, the token text), finds the label in the JSON answer and
sums the log-probabilities of the tokens overlapping it: the probability is ``exp(sum)``.

- single-label: the tokens of the ``label`` string;
- multi-label: each label in the ``labels`` list is scored the same way, and the answer's probability is the
  *lowest* of them (the answer is only as sure as its least sure label);
- the label is not in the tokens (tool-call arguments carry no log-probabilities on OpenAI, a server sent
  none, the answer is not the JSON the tokens spell): ``None``.

    >>> tokens = [TokenLogprob(b'{"label": "', -0.01), TokenLogprob(b"prod", -0.1),
    ...           TokenLogprob(b'uct.damaged"}', -0.2)]
    >>> round(label_probability(tokens, ["product.damaged"]), 4)  # exp(-0.1 - 0.2)
    0.7408
    >>> label_probability(tokens, ["logistics.late_delivery"]) is None
    True
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TokenLogprob", "label_probability", "token_logprobs", "value_spans"]

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token: its UTF-8 bytes and its log-probability."""

    data: bytes
    logprob: float


def token_logprobs(completion: Any) -> tuple[TokenLogprob, ...] | None:
    """The tokens of a chat completion's first choice with their log-probabilities (``None`` without any)."""
    choices = getattr(completion, "choices", None) or []
    logprobs = getattr(choices[0], "logprobs", None) if choices else None
    content = getattr(logprobs, "content", None) or []
    tokens = []
    for entry in content:
        raw, text, logprob = getattr(entry, "bytes", None), getattr(entry, "token", None), entry.logprob
        if logprob is None or (raw is None and text is None):
            return None
        tokens.append(TokenLogprob(bytes(raw) if raw is not None else str(text).encode(), float(logprob)))
    return tuple(tokens) or None


def _skip(text: str, at: int) -> int:
    found = _SPACE.match(text, at)
    return found.end() if found else at


def _children(text: str, at: int) -> list[tuple[str | None, Any, int, int]]:
    """The members of the JSON object (or elements of the array) at ``text[at]``: ``(key, value, start,
    end)`` each, ``key`` ``None`` for array elements; raises ``ValueError`` when it is not valid JSON."""
    close = "}" if text[at] == "{" else "]"
    out: list[tuple[str | None, Any, int, int]] = []
    i = _skip(text, at + 1)
    if text.startswith(close, i):
        return out
    while True:
        key = None
        if close == "}":
            key, i = _DECODER.raw_decode(text, i)
            if not isinstance(key, str):
                raise ValueError("expected a key")
            i = _skip(text, i)
            if not text.startswith(":", i):
                raise ValueError("expected ':'")
            i = _skip(text, i + 1)
        value, end = _DECODER.raw_decode(text, i)
        out.append((key, value, i, end))
        i = _skip(text, end)
        if text.startswith(close, i):
            return out
        if not text.startswith(",", i):
            raise ValueError("expected ','")
        i = _skip(text, i + 1)


def value_spans(text: str, key: str, *, many: bool = False) -> list[tuple[str, int, int]] | None:
    """Where the string value of ``key`` (``many``: each string of its list value) sits in the first JSON
    object of ``text`` that has ``key``: ``(value, start, end)`` character offsets of the string's content,
    without its quotes. ``None`` when no such object is found or the value is of another type.

        >>> value_spans('```json\\n{"rationale": "{x}", "labels": ["a", "b"]}\\n```', "labels", many=True)
        [('a', 41, 42), ('b', 46, 47)]
    """
    for found in re.finditer(r"\{", text):
        try:
            members = _children(text, found.start())
        except (ValueError, IndexError):
            continue
        for name, value, start, end in members:
            if name != key:
                continue
            if isinstance(value, str) and not many:
                return [(value, start + 1, end - 1)]
            if isinstance(value, list) and many:
                return [(v, s + 1, e - 1) for _, v, s, e in _children(text, start) if isinstance(v, str)]
            return None
    return None


def _key(label: str) -> str:
    return "".join(label.split()).casefold()  # the answer model's normalisation of label ids


def label_probability(
    tokens: Sequence[TokenLogprob] | None, labels: Sequence[str], *, multi_label: bool = False
) -> float | None:
    """The probability of the tokens spelling the answer's label (``labels``: the validated answer's), the
    lowest over the labels for multi-label answers; ``None`` when the tokens do not spell it."""
    if not tokens or not labels:
        return None
    data = b"".join(t.data for t in tokens)
    text = data.decode("utf-8", "surrogateescape")  # lossless: offsets map back to the exact bytes
    spans = value_spans(text, "labels" if multi_label else "label", many=multi_label)
    if not spans:
        return None
    starts, at = [], 0
    for token in tokens:
        starts.append(at)
        at += len(token.data)
    where = {_key(value): (start, end) for value, start, end in reversed(spans)}  # first occurrence wins
    probabilities = []
    for label in labels:
        span = where.get(_key(label))
        if span is None:
            return None
        first, last = (len(text[:i].encode("utf-8", "surrogateescape")) for i in span)
        # tokens overlapping [first, last): from the one holding byte `first` to the last starting before it
        low = max(bisect.bisect_right(starts, first) - 1, 0)
        high = max(bisect.bisect_left(starts, last), low + 1)
        probabilities.append(math.exp(sum(t.logprob for t in tokens[low:high])))
    return min(probabilities)
