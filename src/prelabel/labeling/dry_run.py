"""Dry runs: a token and cost estimate for labeling items, offline (``bpe-openai``); nothing is sent.

>>> from prelabel import bundled_sop_path, estimate
>>> guess = estimate(bundled_sop_path("customer_feedback_intent"), [{"id": "a", "text": "late parcel"}])
>>> guess.items, guess.completion_tokens
(1, 120)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from prelabel.errors import ItemError
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem
from prelabel.labeling.item_prompt import item_prompt, media_tokens, without_media
from prelabel.labeling.item_size import TOO_LARGE
from prelabel.labeling.labeler import read_entries
from prelabel.labeling.options import LabelOptions
from prelabel.labeling.setup import load_sop_source
from prelabel.llm.ratelimit import estimate_tokens
from prelabel.llm.usage import Usage, count_tokens
from prelabel.prompt.schema import response_model
from prelabel.sop.spec import SOP

__all__ = ["ESTIMATED_COMPLETION_TOKENS", "Estimate", "estimate", "estimate_entries"]

#: Completion tokens assumed per item by dry runs (a short rationale plus the JSON answer).
ESTIMATED_COMPLETION_TOKENS = 120


class Estimate(BaseModel):
    """A dry run's token and cost estimate (nothing is sent)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    items: int
    bad_items: int
    too_large: int = 0
    """Of ``bad_items``, those whose text is over ``max_item_tokens``."""
    prompt_tokens: int
    image_tokens: int = 0
    """Of ``prompt_tokens``, those of images and video frames (the provider's formula, by image size)."""
    completion_tokens: int
    cost_usd: float | None
    note: str

    @property
    def exit_code(self) -> int:
        """``prelabel run --dry-run``'s exit code: 2 when every item is unusable (as the run would end),
        else 0."""
        return 2 if self.bad_items and not self.items else 0

    @property
    def failure(self) -> str | None:
        """Why `exit_code` is not 0, else ``None``."""
        return "every item is unusable (bad input); nothing would be labeled" if self.exit_code else None


def estimate(
    sop: SOP | str | Path,
    items: str | Path | Iterable[Any],
    options: LabelOptions | None = None,
    **changes: Any,
) -> Estimate:
    """Estimate prompt/completion tokens and cost offline (``bpe-openai``); sends nothing, needs no key.

    Takes the same options as ``run``; an image counts the tokens its provider's formula gives for its size
    (read from the file's first bytes; a URL counts as the largest image), a video the frames a run would
    send (planned from its header, not decoded). With ``samples`` K, prompt and completion tokens (and cost)
    are K times those of one answer per item.
    """
    opts = LabelOptions.build(options, changes)
    sop_obj, _ = load_sop_source(sop)
    entries, _ = read_entries(items, opts)
    return estimate_entries(sop_obj, entries, opts)


def estimate_entries(
    sop: SOP, entries: Iterable[Item | BadItem], opts: LabelOptions, *, batch: bool = False
) -> Estimate:
    """``estimate`` of items already read (``read_entries``); ``batch``: priced at the Batch API price."""
    endpoint = opts.endpoint()
    schema = json.dumps(response_model(sop).model_json_schema(), ensure_ascii=False)
    schema_tokens = count_tokens([{"role": "system", "content": schema}], endpoint.model)
    good = bad = too_large = prompt_tokens = media = 0
    for entry in entries:
        if isinstance(entry, BadItem):
            bad += 1
            too_large += entry.reason.startswith(TOO_LARGE)
            continue
        try:
            prompt = item_prompt(sop, entry, opts, endpoint, embed=False)
            # the SOP's system message is tokenized once (cached), not once per item
            images = media_tokens(prompt, endpoint)
            tokens = (
                estimate_tokens(without_media(prompt.messages), endpoint.model, 0) + schema_tokens + images
            )
        except (ItemError, ValueError):  # ValueError: too long for the tokenizer; a bad template propagates
            bad += 1
            continue
        good += 1
        prompt_tokens += tokens
        media += images
    samples = opts.samples or 1  # every sample is one more request with the same prompt
    prompt_tokens *= samples
    media *= samples
    completion = good * ESTIMATED_COMPLETION_TOKENS * samples
    usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion)
    cost = opts.price_table().cost(endpoint.model, usage, batch_usage=usage if batch else None)
    per_item = f"{samples} samples per item, " if samples > 1 else ""
    note = (
        f"{per_item}completion tokens assume ~{ESTIMATED_COMPLETION_TOKENS} per answer; cost assumes no "
        "prompt-cache hits and no retries (an upper bound for the prompt side)"
    )
    return Estimate(
        model=endpoint.model,
        items=good,
        bad_items=bad,
        too_large=too_large,
        prompt_tokens=prompt_tokens,
        image_tokens=media,
        completion_tokens=completion,
        cost_usd=cost,
        note=note,
    )
