"""Prompt tokens of one image part, by provider: what dry runs and ``--max-item-tokens`` count for images
and video frames.

One function per provider in ``IMAGE_TOKENS`` (keyed by backend name; a backend not listed is counted as
OpenAI counts, which OpenAI-compatible servers mostly follow). A native backend adds its own entry. An image
whose size is unknown (a URL the provider fetches) counts as the largest image the formula allows, so
estimates stay upper bounds.

    >>> image_tokens("openai", "gpt-4o", 768, 432)  # 2 tiles of 512 px
    425
    >>> image_tokens("openai", "gpt-4o", 4000, 3000, "low")
    85
    >>> image_tokens("anthropic", "claude-sonnet-4", 768, 432)
    443
    >>> image_tokens("gemini", "gemini-2.5-flash", 768, 432)
    258
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = [
    "IMAGE_TOKENS",
    "ImageTokens",
    "anthropic_tokens",
    "gemini_tokens",
    "image_tokens",
    "openai_tokens",
]

#: ``(model, width, height, detail) -> tokens``; width and height are ``None`` when unknown.
ImageTokens = Callable[[str, int | None, int | None, str], int]

_OPENAI_UNKNOWN = (2048, 768)  # the most tiles a high-detail image can take: 4 x 2
_MINI_MODELS = ("gpt-4o-mini",)  # priced per tile in many more (cheaper) tokens


def openai_tokens(model: str, width: int | None, height: int | None, detail: str = "auto") -> int:
    """OpenAI's tile formula: ``low`` 85 tokens; ``high`` (and ``auto``, counted as high) fits the image in
    2048 x 2048, then its short side in 768 px, and adds 170 tokens per 512-px tile to a base of 85
    (gpt-4o-mini: 2833 + 5667 per tile)."""
    base, per_tile = (2833, 5667) if any(m in model for m in _MINI_MODELS) else (85, 170)
    if detail == "low":
        return base
    if not width or not height:
        width, height = _OPENAI_UNKNOWN
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    return base + per_tile * math.ceil(w / 512) * math.ceil(h / 512)


def anthropic_tokens(model: str, width: int | None, height: int | None, detail: str = "auto") -> int:
    """Anthropic's rule: about width x height / 750 once the image fits 1568 px on its long side (and
    about 1.15 megapixels); at most ~1,600 tokens."""
    if not width or not height:
        return 1600
    scale = min(1.0, 1568 / max(width, height), math.sqrt(1_150_000 / (width * height)))
    return min(1600, math.ceil(width * scale * height * scale / 750))


def gemini_tokens(model: str, width: int | None, height: int | None, detail: str = "auto") -> int:
    """Gemini's rule: 258 tokens for an image of at most 384 px on both sides, else 258 per 768-px tile."""
    if not width or not height:
        return 258 * 6
    if width <= 384 and height <= 384:
        return 258
    return 258 * math.ceil(width / 768) * math.ceil(height / 768)


#: The image-token function of each backend (by its registered name); others count as ``openai``.
IMAGE_TOKENS: dict[str, ImageTokens] = {
    "openai": openai_tokens,
    "azure": openai_tokens,
    "anthropic": anthropic_tokens,
    "gemini": gemini_tokens,
}


def image_tokens(
    backend: str, model: str, width: int | None, height: int | None, detail: str = "auto"
) -> int:
    """Prompt tokens of one image of ``width`` x ``height`` px for ``backend``'s ``model``."""
    return IMAGE_TOKENS.get(backend, openai_tokens)(model, width, height, detail)
