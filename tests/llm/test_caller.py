"""``ModelCaller.ask`` over a fake transport: one caller, a different response model per call."""

from __future__ import annotations

import asyncio
import json

from pydantic import BaseModel

import prelabel
from prelabel.llm.caller import CallStats, ModelCaller
from prelabel.llm.endpoints import resolve_endpoint
from prelabel.prompt.schema import response_model
from prelabel.testing.fake import FakeModel, Reply

SOP = prelabel.bundled_sop("customer_feedback_intent")
MESSAGES = [{"role": "user", "content": "hello"}]


class Note(BaseModel):
    """Another answer shape, asked for on one call."""

    note: str


def ask_both(base_url: str) -> tuple[FakeModel, BaseModel, BaseModel, CallStats]:
    fake = FakeModel([Reply.answer(), Reply.raw(json.dumps({"note": "hi"}))])
    caller = ModelCaller(
        resolve_endpoint("fake", base_url), response_model(SOP), client=fake.async_client(base_url)
    )
    stats = CallStats()

    async def both() -> tuple[BaseModel, BaseModel]:
        return await caller.ask(MESSAGES, 0, stats), await caller.ask(MESSAGES, 0, stats, Note)

    default, note = asyncio.run(both())
    return fake, default, note, stats


def test_ask_takes_a_response_model_per_call() -> None:
    fake, default, note, stats = ask_both("http://fake/v1")
    assert isinstance(default, response_model(SOP)) and note.model_dump() == {"note": "hi"}
    tools = [r.body["tools"][0]["function"]["name"] for r in fake.requests]
    assert tools == [response_model(SOP).__name__, "Note"]
    assert stats.requests == 2 and stats.usage.prompt_tokens == 200


def test_json_object_schema_follows_the_calls_response_model() -> None:
    fake, _, note, _ = ask_both("http://llamacpp:8080/v1")
    assert note.model_dump() == {"note": "hi"}
    schemas = [r.body["response_format"]["schema"]["title"] for r in fake.requests]
    assert schemas == [response_model(SOP).__name__, "Note"]
