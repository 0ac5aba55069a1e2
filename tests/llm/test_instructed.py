"""instructor behind one module: only ``llm/instructed.py`` imports it, through public names; what prelabel
sends is what instructor's own patched client sends, prepared once per answer model (and per conversation
shape in the modes that write the schema into the messages)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import Any

import instructor
import pytest

import prelabel
from prelabel.llm.instructed import Mode, PreparedAnswer
from prelabel.prompt.schema import response_model
from prelabel.testing.fake import FakeModel

PACKAGE = Path(prelabel.__file__).resolve().parent
SOP = prelabel.bundled_sop("customer_feedback_intent")
ANSWER = response_model(SOP)
TEXTS = ["Where is my parcel?", "The jug arrived cracked", "Charged twice, refund one"]
BASE = {"model": "fake-model", "temperature": 0.0, "max_tokens": 256}
MODES = [Mode.TOOLS, Mode.JSON_SCHEMA, Mode.JSON, Mode.MD_JSON]


def instructor_imports() -> dict[str, set[str]]:
    """For each module of the package, the instructor modules it imports (at any depth of its code)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        names = {name for name in names if name.split(".")[0] == "instructor"}
        if names:
            found[path.relative_to(PACKAGE).as_posix()] = names
    return found


def test_instructor_is_imported_by_one_module_through_public_names_only() -> None:
    assert instructor_imports() == {"llm/instructed.py": {"instructor", "instructor.core"}}
    source = (PACKAGE / "llm" / "instructed.py").read_text(encoding="utf-8")
    assert "__wrapped__" not in source and "create_fn" not in source and "context=" not in source


def messages(text: str) -> list[dict[str, Any]]:
    return prelabel.render_prompt(SOP, {"id": "x", "text": text}).messages


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
def test_each_request_is_what_instructors_own_client_sends(mode: Mode) -> None:
    """The first request of every item, as instructor's documented ``from_openai`` client sends it, in each
    mode: prepared once (tools, response format), or per shape of conversation (schema in the messages)."""
    theirs, ours = FakeModel(), FakeModel()
    client = instructor.from_openai(theirs.client(), mode=mode)
    prepared = PreparedAnswer(ANSWER, mode)
    for text in TEXTS:
        client.chat.completions.create(response_model=ANSWER, messages=messages(text), **BASE)
        ours.client().chat.completions.create(**prepared.request(messages(text), BASE))
    assert [r.body for r in ours.requests] == [r.body for r in theirs.requests]
    assert prepared.per_request == (mode in (Mode.JSON, Mode.MD_JSON))
    if prepared.per_request:  # the schema is in the messages, prepared once for this shape of conversation
        assert ANSWER.__name__ in str(ours.requests[-1].body["messages"])
        assert len(prepared._templates) == 1 and None not in prepared._templates.values()


def test_a_shape_instructor_prepares_by_content_is_prepared_per_request() -> None:
    """Placeholders stand for contents only while instructor's preparation does not look at them."""
    prepared = PreparedAnswer(ANSWER, Mode.JSON)
    direct = prepared._prepare

    def by_content(batch: list[dict[str, Any]], base: dict[str, Any]) -> dict[str, Any]:
        request = direct(batch, base)
        request["messages"][-1]["content"] = request["messages"][-1]["content"].upper()  # looks at the text
        return request

    prepared._prepare = by_content  # type: ignore[assignment]
    first, second = (prepared.request(messages(text), BASE) for text in TEXTS[:2])
    assert list(prepared._templates.values()) == [None]  # the check refused the template
    assert second["messages"][-1]["content"] == messages(TEXTS[1])[-1]["content"].upper()
    assert first["messages"][-1]["content"] != second["messages"][-1]["content"]


def test_messages_with_parts_are_prepared_per_request() -> None:
    prepared = PreparedAnswer(ANSWER, Mode.JSON)
    parts = [messages(TEXTS[0])[0], {"role": "user", "content": [{"type": "text", "text": "look"}]}]
    assert prepared.request(parts, BASE) == prepared._prepare(parts, BASE)
    assert prepared._templates == {}  # no shape for a list content: always prepared per request


def test_preparing_and_parsing_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """The request is captured before it would be sent, never as a failed call (which instructor logs)."""
    fake = FakeModel()
    with caplog.at_level(logging.WARNING):
        prepared = PreparedAnswer(ANSWER, Mode.JSON)
        body = prepared.request(messages(TEXTS[0]), BASE)
        completion = fake.client().chat.completions.create(**body)
        answer = prepared.parse(completion)
    assert caplog.records == [] and isinstance(answer, ANSWER)
