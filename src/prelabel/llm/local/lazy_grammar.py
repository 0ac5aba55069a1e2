"""Grammar-constrained greedy decoding that asks the grammar about one token, not the whole vocabulary.

llama-cpp-python puts the grammar sampler before greedy in its sampler chain, so at every token llama.cpp
checks all 262,144 entries of Gemma 3's vocabulary against the grammar (~90 ms a token on two cores: 8.3 s
instead of 3.0 s for 60 tokens). llama.cpp's own common sampler checks lazily, and so does `lazy_grammar`
for greedy requests (temperature 0, neutral penalties, no logits processor): it takes the argmax of the
position's raw logits and asks a grammar sampler of its own whether that one token is allowed (the grammar
applied to a one-element array: allowed iff its logit stays finite). Only when it is not
(`LazyStats.fallbacks`, about a quarter of the demo's tokens) does it apply the grammar to the `TOP` best
tokens, and take the best one left if no token outside them can beat or tie it; else to the whole vocabulary
(`LazyStats.whole`). The chosen token is then accepted into the grammar. Every way picks the best token the
grammar allows, the lowest id on a tie, as llama.cpp's greedy sampler does, so answers are token for token
those of llama-cpp-python's own path.
Other requests (sampling, penalties, logit biases, no grammar) go to llama-cpp-python's sampler unchanged.

The logits are read, never written: `prelabel.llm.local.logprobs.recording`, entered after `lazy_grammar`,
still reads each chosen token's log-probability from the raw row.

    >>> with lazy_grammar(llm) as stats:  # doctest: +SKIP
    ...     llm.create_chat_completion(messages=[...], temperature=0, response_format={...})
    >>> stats  # doctest: +SKIP
    LazyStats(lazy=77, fallbacks=19, whole=1, passed=0)
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prelabel.llm.local._sample_hook import Sample, raw_logits, sample_replaced

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["TOP", "LazyStats", "lazy_grammar"]

TOP = 8192
"""When the grammar refuses the best token, it is asked about the ``TOP`` best next (about 7 ms on Gemma 3's
262,144 tokens, against about 100 ms for all of them); only when none it allows there beats every token left
out is it asked about the whole vocabulary (in the demo, once an answer)."""


@dataclass
class LazyStats:
    """Tokens of one block: chosen ``lazy``-ily, of which the grammar refused the model's own best in
    ``fallbacks`` (and ``whole`` of those needed the whole vocabulary checked); and tokens ``passed`` to
    llama-cpp-python's own sampler (not greedy, or no grammar)."""

    lazy: int = 0
    fallbacks: int = 0
    whole: int = 0
    passed: int = 0


@contextlib.contextmanager
def lazy_grammar(llm: Llama) -> Iterator[LazyStats]:
    """Greedy grammar-constrained tokens of ``llm`` are chosen lazily in the block (hold the model's lock)."""
    sampler = _LazySampler(llm)
    try:
        with sample_replaced(llm, sampler.wrap):
            yield sampler.stats
    finally:
        sampler.close()


class _LazySampler:
    """The ``sample`` of one block, with one grammar sampler per generation (``Llama.generate`` call)."""

    def __init__(self, llm: Llama):
        self._llm = llm
        self._previous: Sample | None = None
        self.stats = LazyStats()
        self._c: Any = None  # llama_cpp, numpy and buffers: set up by the first greedy grammar token
        self._chain: object = None  # llama-cpp-python's sampler chain of the generation in progress
        self._grammar: object = None  # the request's LlamaGrammar
        self._sampler: Any = None  # our grammar sampler for that generation (NULL: its grammar failed)
        self._all: Any = None  # (llama_token_data array, its numpy view, token ids): on the first fallback

    def _setup(self) -> None:
        import llama_cpp  # and numpy: imported here, not when the worker (or a caller) imports this module
        import numpy as np

        self._c, self._np = llama_cpp, np
        self._n_vocab = self._llm.n_vocab()
        self._defaults = _sample_defaults(llama_cpp.Llama.sample)
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_array = llama_cpp.llama_token_data_array(self._one, 1, -1, False)

    def wrap(self, previous: Sample) -> Sample:
        self._previous = previous
        return self.sample

    def sample(self, *args: Any, **kwargs: Any) -> int:
        assert self._previous is not None
        if self._c is None:
            self._setup()
        grammar = self._greedy_grammar(args, kwargs)
        chain = getattr(self._llm, "_sampler", None)  # ``Llama.generate`` builds one per generation
        if grammar is None or chain is None:
            self.stats.passed += 1
            return self._previous(*args, **kwargs)
        if chain is not self._chain or grammar is not self._grammar:
            self._start(chain, grammar)
        if not self._sampler:  # llama.cpp rejected the grammar: let llama-cpp-python report it as it does
            self.stats.passed += 1
            return self._previous(*args, **kwargs)
        logits = raw_logits(self._llm, kwargs.get("idx"), self._n_vocab)  # read, never written
        token = int(logits.argmax())
        self.stats.lazy += 1
        if not self._allows(token, float(logits[token])):
            self.stats.fallbacks += 1
            token = self._best_allowed(logits)
        self._c.llama_sampler_accept(self._sampler, token)
        return token

    def _greedy_grammar(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The request's grammar when ``sample`` would pick greedily among what it allows, else None."""
        if args:  # ``Llama.generate`` passes every argument by name
            return None
        options = {**self._defaults, **kwargs}
        greedy = (
            options["temp"] == 0.0  # llama-cpp-python: < 0 samples, 0 is greedy, > 0 samples
            and options["repeat_penalty"] == 1.0
            and options["frequency_penalty"] == 0.0
            and options["presence_penalty"] == 0.0
            and options["logits_processor"] is None  # logit_bias arrives as one
        )
        return options["grammar"] if greedy else None

    def _start(self, chain: object, grammar: Any) -> None:
        self._free()
        self._chain, self._grammar = chain, grammar
        self._sampler = self._c.llama_sampler_init_grammar(
            self._llm._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )

    def _allows(self, token: int, logit: float) -> bool:
        entry: Any = self._one[0]  # a view into the one-element array
        entry.id, entry.logit, entry.p = token, logit, 0.0
        self._one_array.size, self._one_array.selected, self._one_array.sorted = 1, -1, False
        self._c.llama_sampler_apply(self._sampler, ctypes.byref(self._one_array))
        return math.isfinite(entry.logit)

    def _best_allowed(self, logits: Any) -> int:
        """The best token the grammar allows: among the ``TOP`` best logits when one there beats the rest,
        else among the whole vocabulary (first on a tie, as llama.cpp's greedy sampler)."""
        np = self._np
        if self._all is None:  # one vocabulary-sized array of llama_token_data (3 MB for Gemma 3)
            data = (self._c.llama_token_data * self._n_vocab)()
            self._all = (data, np.ctypeslib.as_array(data), np.arange(self._n_vocab, dtype=np.int32))
        if self._n_vocab > TOP:
            best = np.argpartition(logits, -TOP)[-TOP:]
            token = self._best_among(best, logits, above=float(logits[best].min()))
            if token is not None:
                return token
        self.stats.whole += 1
        token = self._best_among(self._all[2], logits, above=None)
        assert token is not None
        return token

    def _best_among(self, ids: Any, logits: Any, above: float | None) -> int | None:
        """The lowest id of the best allowed logit among ``ids``; None unless that logit is ``above`` the
        given bound (then no token outside ``ids`` can beat or tie it)."""
        c, np = self._c, self._np
        data, view, _ = self._all
        n = len(ids)
        view["id"][:n], view["logit"][:n], view["p"][:n] = ids, logits[ids], 0.0
        array = c.llama_token_data_array(ctypes.cast(data, c.llama_token_data_p), n, -1, False)
        c.llama_sampler_apply(self._sampler, ctypes.byref(array))
        kept = view[: array.size]
        best = kept["logit"].max()
        if above is not None and not best > above:  # also when the grammar allows none of them (-inf)
            return None
        # all -inf (nothing allowed at all): llama.cpp's greedy takes the first entry, and so does this
        return int(kept["id"][kept["logit"] == best].min()) if np.isfinite(best) else int(kept["id"][0])

    def _free(self) -> None:
        if self._sampler:
            self._c.llama_sampler_free(self._sampler)
        self._sampler = self._chain = self._grammar = None

    def close(self) -> None:
        """Free the grammar sampler and drop the vocabulary-sized buffer."""
        self._free()
        self._all = None


def _sample_defaults(sample: Any) -> dict[str, Any]:
    parameters = inspect.signature(sample).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
