"""Replace ``Llama.sample`` for one block, the way `logprobs.recording` and `lazy_grammar.lazy_grammar` do.

``Llama.generate`` calls ``self.sample`` for every token, so an instance attribute named ``sample`` sees (and
may choose) each token. Hooks nest: each wraps whatever ``llm.sample`` is when its block starts, and puts that
back when the block ends (an instance attribute is restored, not deleted). `raw_logits` is the row of logits
such a call is about, as llama.cpp computed it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Sample", "raw_logits", "sample_replaced"]

Sample = Callable[..., int]
"""``Llama.sample``'s shape: keyword arguments (``temp``, ``grammar``, ``idx``, ...) in, a token id out."""


@contextlib.contextmanager
def sample_replaced(llm: Any, wrap: Callable[[Sample], Sample]) -> Iterator[None]:
    """``llm.sample`` is ``wrap(previous sample)`` inside the block, and the previous one again after it."""
    own = vars(llm)
    had, before = "sample" in own, own.get("sample")
    llm.sample = wrap(llm.sample)
    try:
        yield
    finally:
        if had:
            llm.sample = before
        else:
            del llm.sample


def raw_logits(llm: Any, idx: int | None, n_vocab: int) -> Any:
    """A numpy view of the logits ``llm.sample(idx=idx)`` chooses from: row idx - n_tokens, or the last."""
    import llama_cpp  # and numpy: imported here, not when the worker (or a caller) imports this module
    import numpy as np

    row = -1 if idx is None else idx - llm.n_tokens
    pointer = llama_cpp.llama_get_logits_ith(llm.ctx, row)
    if not pointer:
        raise RuntimeError(f"llama.cpp has no logits at row {row}")
    return np.ctypeslib.as_array(pointer, shape=(n_vocab,))
