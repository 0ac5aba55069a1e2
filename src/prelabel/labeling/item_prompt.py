"""The prompt of one item as a run sends it, and the tokens of its images: one home for runs, Batch API
runs and dry runs.

A video item is sampled with the options' ``max_frames`` and ``frame_size``, lowered to the frames that fit
within ``max_item_tokens`` beside its text and images (``labeling.item_size.frame_budget``); unusable media
raise ``ItemError`` (the item becomes an error record). Image tokens are counted by the endpoint's provider
(``llm.image_tokens``).
"""

from __future__ import annotations

from prelabel.errors import ItemError
from prelabel.inputs.items import Item
from prelabel.inputs.media import MediaError
from prelabel.labeling.item_size import frame_budget, no_frame_reason
from prelabel.labeling.options import LabelOptions
from prelabel.llm.endpoints import Endpoint
from prelabel.llm.image_tokens import image_tokens
from prelabel.prompt.masking import MaskPolicy
from prelabel.prompt.rendering import Message, Prompt, render_prompt
from prelabel.sop.spec import SOP

__all__ = ["item_prompt", "media_tokens", "without_media"]


def item_prompt(
    sop: SOP,
    item: Item,
    options: LabelOptions,
    endpoint: Endpoint,
    *,
    embed: bool = True,
    mask: MaskPolicy | None = None,
) -> Prompt:
    """``item``'s prompt under ``options``, its personal data masked (``mask``, default: the SOP's
    ``privacy:`` section and ``options.mask``) (``embed=False``: images checked, video frames planned from
    the header, nothing decoded or encoded; for estimates)."""
    sampling = None
    if item.video:
        limit = options.max_item_tokens
        try:
            frames = frame_budget(
                item, limit, options.video_sampling(), backend=endpoint.backend, model=endpoint.model
            )
        except MediaError as exc:
            raise ItemError(str(exc), item_id=item.id) from None
        if frames == 0 and limit is not None:
            raise ItemError(no_frame_reason(limit), item_id=item.id)
        sampling = options.video_sampling(frames)
    return render_prompt(
        sop,
        item,
        options.template,
        options.rationale_language,
        embed_images=embed,
        video=sampling,
        mask=mask if mask is not None else options.mask,
    )


def media_tokens(prompt: Prompt, endpoint: Endpoint) -> int:
    """Prompt tokens of ``prompt``'s images and video frames for ``endpoint``'s provider and model."""
    return sum(image_tokens(endpoint.backend, endpoint.model, m.width, m.height) for m in prompt.media)


def without_media(messages: list[Message]) -> list[Message]:
    """``messages`` without their image parts (their text counted apart from ``media_tokens``)."""
    kept = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            message = {**message, "content": [p for p in content if p.get("type") != "image_url"]}
        kept.append(message)
    return kept
