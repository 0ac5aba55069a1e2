"""Token log-probabilities of the embedded model, without keeping logits for every position of the context.

llama-cpp-python returns ``logprobs`` only for a model loaded with ``logits_all=True``: llama.cpp then
computes the logits of every position, llama-cpp-python copies them into an n_ctx x n_vocab array (4.3 GB for
Gemma 3's 262,144-token vocabulary at n_ctx 4096, beside llama.cpp's own buffer), takes the log-softmax of the
whole context and sorts the vocabulary once per generated token. Only the sampled positions matter:
`recording` wraps the model's ``sample`` for one request (around whatever chooses the token: llama.cpp's
sampler chain, or `prelabel.llm.local.lazy_grammar`); right after the token is picked it reads the
logits of that position (the one row llama.cpp computed; the grammar and the other samplers work on a copy),
takes their log-softmax with llama-cpp-python's own ``Llama.logits_to_logprobs`` and keeps the chosen token's
value (and the ``top_logprobs`` best). `chat_logprobs` turns those into OpenAI's ``choices[0].logprobs`` for
the completion's tokens: the tokens and values ``logits_all`` gave (the end-of-turn token that stopped the
answer is not among them; the last token of an answer cut by ``max_tokens`` is), each with its UTF-8 ``bytes``
(``logits_all`` gave ``null`` there), in JSON and tool-call answers alike.

    >>> with recording(llm) as sampled:  # doctest: +SKIP
    ...     result = llm.create_chat_completion(messages=[...])
    >>> chat_logprobs(llm, sampled, result["usage"]["completion_tokens"])  # doctest: +SKIP
    {'content': [{'token': '{"', 'bytes': [123, 34], 'logprob': -0.01, 'top_logprobs': []}, ...], ...}
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prelabel.llm.local._sample_hook import Sample, raw_logits, sample_replaced

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["Sampled", "chat_logprobs", "recording"]


@dataclass(frozen=True)
class Sampled:
    """One sampled token: its id, its log-probability, and the ``top`` most probable ``(id, logprob)``."""

    token: int
    logprob: float
    top: tuple[tuple[int, float], ...] = ()


@contextlib.contextmanager
def recording(llm: Llama, top_logprobs: int = 0) -> Iterator[list[Sampled]]:
    """A list that fills with every token ``llm`` samples inside the block (hold the model's lock)."""
    import llama_cpp  # imported here, not when the worker (or a caller) imports this module

    sampled: list[Sampled] = []
    n_vocab = llm.n_vocab()

    def wrap(original: Sample) -> Sample:
        def sample(*args: Any, **kwargs: Any) -> int:
            token = int(original(*args, **kwargs))
            logits = raw_logits(llm, kwargs.get("idx"), n_vocab)  # ``Llama.generate`` passes idx by name
            logprobs = llama_cpp.Llama.logits_to_logprobs(logits)
            sampled.append(Sampled(token, float(logprobs[token]), _top(logprobs, top_logprobs)))
            return token

        return sample

    with sample_replaced(llm, wrap):  # ``Llama.generate`` calls ``self.sample``
        yield sampled


def _top(logprobs: Any, k: int) -> tuple[tuple[int, float], ...]:
    if k <= 0:
        return ()
    import numpy as np

    ids = np.argpartition(logprobs, -k)[-k:]
    ids = ids[np.argsort(-logprobs[ids], kind="stable")]
    return tuple((int(i), float(logprobs[i])) for i in ids)


def chat_logprobs(llm: Llama, sampled: Sequence[Sampled], completion_tokens: int) -> dict[str, Any]:
    """OpenAI's ``choices[0].logprobs`` for the first ``completion_tokens`` sampled tokens (the answer's)."""
    bos = llm.token_bos()
    done: list[int] = []
    content = []
    for entry in sampled[:completion_tokens]:
        if entry.token != bos:  # as llama-cpp-python's own logprobs
            top = [_token(llm, token, logprob, done) for token, logprob in entry.top]
            content.append({**_token(llm, entry.token, entry.logprob, done), "top_logprobs": top})
        done.append(entry.token)
    return {"content": content, "refusal": None}


def _token(llm: Llama, token: int, logprob: float, before: list[int]) -> dict[str, Any]:
    data = llm.detokenize([token], prev_tokens=before)
    return {"token": data.decode("utf-8", errors="ignore"), "bytes": list(data), "logprob": logprob}
