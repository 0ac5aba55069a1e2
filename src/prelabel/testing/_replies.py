"""The vocabulary of the test fakes: scripted replies and logged requests (see ``prelabel.testing``)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from prelabel.llm.logprobs import value_spans

__all__ = ["Reply", "RequestRecord", "dump", "first_choice", "logprobs_of"]

_ITEM = re.compile(r"<<<ITEM [0-9a-f]+>>>\n(.*)\n<<<END ITEM [0-9a-f]+>>>", re.S)


@dataclass(frozen=True)
class Reply:
    """One scripted reply. Build with the class methods."""

    kind: str
    status: int = 200
    content: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    usage: dict[str, int] | None = None
    delay: float = 0.0
    finish_reason: str | None = None
    label_prob: float | None = None

    @classmethod
    def answer(
        cls,
        label: str | list[str] | None = None,
        *,
        rationale: str = "The item matches this label's definition.",
        cited_rules: list[str] | None = None,
        confidence: float = 0.9,
        usage: dict[str, int] | None = None,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        label_prob: float | None = None,
        **extra: Any,
    ) -> Reply:
        """An answer; ``label=None`` picks the first label the request allows; a list answers ``labels``;
        ``headers`` go with it (e.g. ``x-ratelimit-remaining-requests``). When the request asks for
        ``logprobs``, the label's tokens get probability ``label_prob`` (each label's, for ``labels``)."""
        body: dict[str, Any] = {
            "rationale": rationale,
            "cited_rules": cited_rules or [],
            "confidence": confidence,
        }
        body["labels" if isinstance(label, list) else "label"] = label
        body.update(extra)
        return cls(
            "answer",
            content=body,
            usage=usage,
            delay=delay,
            headers=dict(headers or {}),
            label_prob=label_prob,
        )

    @classmethod
    def raw(
        cls,
        text: str,
        *,
        usage: dict[str, int] | None = None,
        delay: float = 0.0,
        finish_reason: str | None = None,
    ) -> Reply:
        """An assistant output that is exactly ``text`` (off-schema or non-JSON answers).

        ``finish_reason="length"`` makes it an answer cut off at the token limit.
        """
        return cls("raw", content=text, usage=usage, delay=delay, finish_reason=finish_reason)

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "error",
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        delay: float = 0.0,
    ) -> Reply:
        """An HTTP error with an OpenAI-style error body (or ``body`` as given)."""
        if body is None:
            body = {"error": {"message": message, "type": code or "error", "code": code, "param": None}}
        return cls("error", status=status, content=body, headers=dict(headers or {}), delay=delay)

    @classmethod
    def malformed(cls, body: bytes = b'{"id": "chatcmpl-1", "choices": [', *, delay: float = 0.0) -> Reply:
        """A 200 response whose body is not valid JSON."""
        return cls("malformed", content=body, delay=delay)

    @classmethod
    def timeout(cls, delay: float = 5.0) -> Reply:
        """No answer in time: the mock transport raises a read timeout; the server sleeps ``delay`` s."""
        return cls("timeout", delay=delay)

    @classmethod
    def disconnect(cls) -> Reply:
        """The connection drops without a response."""
        return cls("disconnect")


@dataclass(frozen=True)
class RequestRecord:
    """One request the fake received: path, headers, JSON body and the labeled item's text."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    time: float

    @property
    def item_text(self) -> str | None:
        """The text between the item markers of the first user message, if any."""
        for message in self.body.get("messages", []):
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            if message.get("role") == "user" and isinstance(content, str):
                found = _ITEM.search(content)
                if found:
                    return found.group(1)
        return None

    @property
    def schema(self) -> dict[str, Any] | None:
        """The JSON schema the answer must follow (from the tool, response_format or JSON-mode prompt)."""
        tools = self.body.get("tools")
        if tools:
            return dict(tools[0]["function"].get("parameters") or {})
        response_format = self.body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            return dict(response_format["json_schema"].get("schema") or {})
        for message in self.body.get("messages", []):
            content = message.get("content")
            text = content if isinstance(content, str) else ""
            marker = text.find("json_schema:")
            if marker >= 0:
                start = text.find("{", marker)
                try:
                    schema, _ = json.JSONDecoder().raw_decode(text[start:])
                except ValueError:
                    return None
                return dict(schema)
        return None


def first_choice(schema: dict[str, Any] | None, key: str) -> Any:
    """The first allowed value of ``key`` in an answer schema (a one-item list for ``labels``)."""
    if not schema:
        return None
    prop = schema.get("properties", {}).get(key, {})
    items = prop.get("items", prop)
    if "$ref" in items:
        name = items["$ref"].rsplit("/", 1)[-1]
        items = schema.get("$defs", {}).get(name, {})
    enum = items.get("enum") or ([items["const"]] if "const" in items else None)
    if not enum:
        return None
    return [enum[0]] if key == "labels" else enum[0]


def dump(value: Any) -> bytes:
    """``value`` as UTF-8 JSON bytes."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


_PIECE = re.compile(r"[A-Za-z]{1,4}|[\x00-\x7f]|[^\x00-\x7f]+")
_OTHER_LOGPROB = -0.0005  # a token outside the label: nearly sure


def logprobs_of(text: str, label_prob: float | None = None) -> dict[str, Any]:
    """Realistic chat ``logprobs`` for ``text``: small tokens (up to 4 letters, one other ASCII character, or
    4 bytes of non-ASCII text, so a Thai character can be split over two tokens, as real tokenizers do), each
    with its ``bytes``; the tokens of the label value (each label's, for ``labels``) share
    ``log(label_prob)``."""
    pieces: list[bytes] = []
    for found in _PIECE.finditer(text):
        raw = found.group().encode("utf-8")
        pieces += [raw] if found.group().isascii() else [raw[i : i + 4] for i in range(0, len(raw), 4)]
    starts = [sum(len(p) for p in pieces[:i]) for i in range(len(pieces))]
    logprobs = [_OTHER_LOGPROB] * len(pieces)
    if label_prob is not None:
        for _, start, end in value_spans(text, "label") or value_spans(text, "labels", many=True) or []:
            first, last = len(text[:start].encode("utf-8")), len(text[:end].encode("utf-8"))
            inside = [i for i, at in enumerate(starts) if at < last and at + len(pieces[i]) > first]
            for i in inside:
                logprobs[i] = math.log(label_prob) / len(inside)
    content = []
    for piece, logprob in zip(pieces, logprobs, strict=True):
        try:
            token = piece.decode("utf-8")
        except UnicodeDecodeError:  # part of a character: OpenAI shows its bytes escaped
            token = "".join(f"\\x{b:02x}" for b in piece)
        content.append({"token": token, "logprob": logprob, "bytes": list(piece), "top_logprobs": []})
    return {"content": content, "refusal": None}
