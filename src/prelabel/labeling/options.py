"""The labeling options: one object for ``Labeler``, ``run``, ``arun``, ``estimate`` and ``prelabel run``.

Every entry point takes ``options`` (a ``LabelOptions``) and/or the same names as keyword arguments, which
override it; unknown names and bad values raise ``InputError`` with one line per problem.

    >>> opts = LabelOptions(model="gpt-4o-mini", concurrency=4)
    >>> opts.merged(max_items=10).max_items, opts.max_items
    (10, None)
    >>> LabelOptions.build(None, {"concurency": 2})
    Traceback (most recent call last):
    ...
    prelabel.errors.InputError: bad option: concurency: Extra inputs are not permitted
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator

from prelabel.errors import InputError
from prelabel.inputs.media import MediaPolicy
from prelabel.inputs.video import DEFAULT_FRAME_SIZE, DEFAULT_MAX_FRAMES, VideoSampling
from prelabel.labeling.sample_count import MAX_SAMPLES
from prelabel.llm.endpoints import Endpoint, public_url, resolve_endpoint
from prelabel.llm.retry import RetryPolicy
from prelabel.llm.usage import PriceTable
from prelabel.prompt.masking import parse_kinds
from prelabel.prompt.rendering import DEFAULT_TEMPLATE

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_ITEM_TOKENS",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_SAMPLE_TEMPERATURE",
    "DEFAULT_TEMPLATE",
    "MAX_SAMPLES",
    "LabelOptions",
    "sampling_options",
]

#: Output tokens allowed per answer: bounds runaway generations (small models can loop for minutes).
DEFAULT_MAX_TOKENS = 1024
DEFAULT_CONCURRENCY = 8
#: Item text tokens allowed per item: near a 128k-token context, less the SOP and the answer.
DEFAULT_MAX_ITEM_TOKENS = 100_000
#: The temperature used to sample several answers (``samples``, ``prelabel test --repeat``) when the options
#: leave it at 0.
DEFAULT_SAMPLE_TEMPERATURE = 0.7


class LabelOptions(BaseModel):
    """How items are labeled: endpoint, prompt, answer bounds, retries, prices and batch reading.

    The endpoint fields fall back to the environment (``PRELABEL_MODEL``, ``OPENAI_BASE_URL``,
    ``OPENAI_API_KEY``, ``PRELABEL_MODE``); the API key is never shown in ``repr`` or dumps.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    # where and how to call the model
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = Field(default=None, repr=False, exclude=True)
    mode: str | None = None
    # the prompt
    template: str = DEFAULT_TEMPLATE
    rationale_language: str | None = None
    mask: tuple[str, ...] = ()
    """Personal data masked in every item before it is sent, besides what the SOP's ``privacy:`` section
    names: ``email``, ``phone``, ``card`` (a list, or one comma-separated text)."""
    # the answer
    temperature: float | None = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=DEFAULT_MAX_TOKENS, ge=1)
    max_reasks: int = Field(default=2, ge=0)
    samples: int | None = Field(default=None, ge=1, le=MAX_SAMPLES)
    """Answers per item (self-consistency): with ``K >= 2`` the majority answer is the label and the result
    records the distribution; ``None`` or 1: one answer, as without it."""
    logprobs: bool = False
    """Ask for token log-probabilities and record the label's probability (``label_prob``) on each result,
    where the endpoint returns them (JSON modes; tool-call arguments carry none)."""
    retry: RetryPolicy | None = None
    prices: PriceTable | None = None
    max_cost: float | None = Field(default=None, ge=0)
    """A hard spending limit in USD for the run directory (``--max-cost``): the dry-run estimate of the items
    left is checked before anything is sent, and every request holds the most it can cost before it goes
    (``llm.spend``); the run stops before a request could cross it (``RunSummary.exit_code`` 4). Needs a
    known price for the model."""
    # reading and batching items
    concurrency: int = Field(default=DEFAULT_CONCURRENCY, ge=1)
    rpm: int | None = Field(default=None, ge=1)
    """Requests per minute for the whole run (``None``: no limit but the server's headers and 429s)."""
    tpm: int | None = Field(default=None, ge=1)
    """Tokens per minute (prompt estimated offline + ``max_tokens``, corrected by the usage reported)."""
    max_items: int | None = Field(default=None, ge=1)
    id_col: str = "id"
    text_col: str = "text"
    max_item_tokens: int | None = Field(default=DEFAULT_MAX_ITEM_TOKENS, ge=1)
    """Items whose text is over this many tokens become error records, never sent (``None``: no limit); a
    video item sends fewer frames to stay within it."""
    # media: where it may come from, how much of a video is sent
    media_root: Path | None = None
    """The folder local media paths must resolve inside (default: the items file's folder; items given in
    Python are then not confined)."""
    allow_remote_media: bool = False
    """Allow media URLs to loopback, private and link-local hosts, and ``file://`` URLs."""
    max_frames: int = Field(default=DEFAULT_MAX_FRAMES, ge=1, le=64)
    """Frames sent per video item, spread uniformly over its duration."""
    frame_size: int = Field(default=DEFAULT_FRAME_SIZE, ge=64, le=4096)
    """The longest side of a video frame sent, in pixels."""

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("a model name is required, not an empty one")
        return None if value is None else value.strip()

    @field_validator("mask", mode="before")
    @classmethod
    def _mask_kinds(cls, value: Any) -> Any:
        return parse_kinds(value) if isinstance(value, str | list | tuple | set) else value

    @field_validator("base_url")
    @classmethod
    def _base_url_given(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("an empty base URL; leave it out to use OpenAI")
        return None if value is None else value.strip()

    @field_serializer("base_url")
    def _public_base_url(self, value: str | None) -> str | None:
        return None if value is None else public_url(value)  # never a user:password@ in dumps

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, (public_url(value) if name == "base_url" and isinstance(value, str) else value)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode_name(cls, value: Any) -> Any:
        return value.value if isinstance(value, Enum) else value  # an instructor.Mode

    @field_validator("prices", mode="before")
    @classmethod
    def _price_file(cls, value: Any) -> Any:
        return PriceTable.from_file(value) if isinstance(value, str | Path) else value

    @classmethod
    def build(cls, options: LabelOptions | None, changes: dict[str, Any]) -> LabelOptions:
        """``options`` (or the defaults) with ``changes`` applied and validated."""
        base = {} if options is None else {name: getattr(options, name) for name in cls.model_fields}
        try:
            return cls(**{**base, **changes})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {str(err['msg']).removeprefix('Value error, ')}"
                for err in exc.errors(include_url=False)
            )
            raise InputError(f"bad option: {problems}") from None

    def merged(self, **changes: Any) -> LabelOptions:
        """A copy with ``changes`` applied and validated."""
        return self.build(self, changes)

    def endpoint(self, client: Any = None) -> Endpoint:
        """The endpoint these options resolve to (model, server, key and mode; the environment fills gaps).

        An injected openai ``client`` knows its server: without ``base_url``, the backend (and its default
        mode) is detected from the client's URL.
        """
        base_url = self.base_url
        if client is not None and base_url is None:
            base_url = str(getattr(client, "base_url", "") or "") or None
        return resolve_endpoint(model=self.model, base_url=base_url, api_key=self.api_key, mode=self.mode)

    def media_policy(self) -> MediaPolicy:
        """Where these options let media come from (``prelabel.inputs.media``)."""
        return MediaPolicy(root=self.media_root, allow_remote=self.allow_remote_media)

    def video_sampling(self, max_frames: int | None = None) -> VideoSampling:
        """How a video item is sampled under these options (``max_frames`` lowers the frame count)."""
        frames = self.max_frames if max_frames is None else min(max_frames, self.max_frames)
        return VideoSampling(max_frames=frames, max_side=self.frame_size, media=self.media_policy())

    def price_table(self) -> PriceTable:
        """The prices to use: the table given, else the built-in one."""
        return self.prices or PriceTable()


def sampling_options(options: LabelOptions, samples: int) -> LabelOptions:
    """``options`` able to sample: with ``samples > 1`` and temperature 0 (or unset), the sampling default.

    >>> sampling_options(LabelOptions(), 5).temperature, sampling_options(LabelOptions(), 1).temperature
    (0.7, 0.0)
    """
    if samples > 1 and not options.temperature:
        return options.merged(temperature=DEFAULT_SAMPLE_TEMPERATURE)
    return options
