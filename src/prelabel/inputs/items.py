"""The input item: what gets labeled."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from prelabel.errors import ItemError
from prelabel.inputs.ids import normalize_id

__all__ = ["Item", "as_item", "is_image_file"]

_IMAGE_URLS = ("http://", "https://", "data:image/")  # passed on as they are; anything else is a file


class Item(BaseModel):
    """One item to label: an id, text and/or images and/or a video (with its transcript and on-screen text),
    an optional language and free metadata."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    text: str | None = None
    images: list[str] = []
    video: str | None = None
    """A video file's path or URL; its keyframes are sent as images (``prelabel.inputs.video``)."""
    transcript: str | None = None
    """What is said in the video (sent as text after its frames)."""
    ocr_text: str | None = None
    """Text shown on screen in the video (sent as text after its frames)."""
    language: str | None = None
    meta: dict[str, Any] = {}

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        # ids are text everywhere, normalised once (prelabel.inputs.ids): 7, 7.0 and " 7" are "7"
        if isinstance(value, list | dict | tuple):
            return value
        return normalize_id(value) or ""

    @model_validator(mode="after")
    def _has_content(self) -> Item:
        if not (self.text and self.text.strip()) and not self.images and not self.video:
            raise ValueError("item has neither text nor images")
        return self


def is_image_file(ref: str) -> bool:
    """True when ``ref`` is a file whose bytes the prompt embeds (not an http(s) or ``data:image/`` URL)."""
    return not ref.startswith(_IMAGE_URLS)


def as_item(value: Item | dict[str, Any] | str, index: int | None = None) -> Item:
    """Coerce a dict (or a bare string, whose id is its position) into an ``Item``; raise ``ItemError``."""
    if isinstance(value, Item):
        return value
    if isinstance(value, str):
        value = {"id": str(index if index is not None else 0), "text": value}
    if not isinstance(value, dict):
        raise ItemError(f"item must be an object, got {type(value).__name__}", index=index)
    raw_id = value.get("id")
    item_id = None if isinstance(raw_id, list | dict) else normalize_id(raw_id)
    try:
        return Item.model_validate(value)
    except Exception as exc:  # pydantic.ValidationError: one readable line
        errors = getattr(exc, "errors", None)
        if callable(errors):
            parts = []
            for err in errors():
                where = ".".join(str(p) for p in err["loc"])
                msg = str(err["msg"]).removeprefix("Value error, ")
                parts.append(f"{where}: {msg}" if where else msg)
            message = "; ".join(parts)
        else:
            message = str(exc)
        raise ItemError(message, item_id=item_id, index=index) from None
