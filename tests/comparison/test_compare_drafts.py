"""``--draft-edits``: drafted edge cases over a fake OpenAI transport, written as a clearly marked draft."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

import prelabel
from helpers import run_cli
from prelabel.comparison.drafts import edge_case_model
from prelabel.testing.fake import FakeModel, FakeServer, Reply

DATA = Path(__file__).parents[1] / "data" / "compare"
SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
SOP = prelabel.load_sop(SOP_PATH)
GOOD = {
    "text": "The box was crushed and it came a week late, I want my money back",
    "label": ["product.damaged"],
    "ruling": "Damage is the problem to resolve; the delay and refund are secondary (R1, R2).",
    "rules": ["R1", "R2"],
}


def completion(arguments: dict[str, Any], name: str = "EdgeCaseDraft") -> dict[str, Any]:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "fake",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def fake_client(replies: list[httpx2.Response], seen: list[dict[str, Any]]) -> openai.OpenAI:
    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(json.loads(request.content))
        return replies.pop(0) if len(replies) > 1 else replies[0]  # the last reply repeats

    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    return openai.OpenAI(http_client=http, api_key="x", base_url="http://test/v1", max_retries=0)


@pytest.fixture(scope="module")
def candidates() -> Any:
    return prelabel.compare(DATA / "labels.jsonl", DATA / "humans.csv", sop=SOP).candidates


def test_drafts_one_entry_per_top_candidate(candidates: Any) -> None:
    seen: list[dict[str, Any]] = []
    client = fake_client([httpx2.Response(200, json=completion(GOOD)) for _ in range(2)], seen)
    drafts = prelabel.draft_edge_cases(candidates, SOP, client=client, model="fake-model", top=2)
    assert [d["id"] for d in drafts] == ["DRAFT1", "DRAFT2"]
    assert drafts[0]["label"] == ["product.damaged"] and drafts[0]["rules"] == ["R1", "R2"]
    assert drafts[0]["source"].startswith(f"candidate #1: {candidates.iloc[0]['cluster']}")
    request = seen[0]
    assert request["model"] == "fake-model"
    assert request["tools"][0]["function"]["name"] == "EdgeCaseDraft"
    user = request["messages"][-1]["content"]
    assert candidates.iloc[0]["cluster"] in user
    assert candidates.iloc[0]["sop_text"].splitlines()[0] in user  # the SOP text involved is in the prompt
    enum = request["tools"][0]["function"]["parameters"]["properties"]["label"]["items"]["enum"]
    assert set(enum) == set(SOP.answer_ids)


def test_an_invalid_draft_is_re_asked_then_recorded_as_an_error(candidates: Any) -> None:
    bad = {**GOOD, "label": ["product.broken"]}
    seen: list[dict[str, Any]] = []
    replies = [httpx2.Response(200, json=completion(bad)), httpx2.Response(200, json=completion(GOOD))]
    drafts = prelabel.draft_edge_cases(candidates, SOP, client=fake_client(replies, seen), top=1)
    assert len(seen) == 2 and drafts[0]["label"] == ["product.damaged"]
    seen.clear()
    replies = [httpx2.Response(200, json=completion(bad))]
    drafts = prelabel.draft_edge_cases(
        candidates, SOP, client=fake_client(replies, seen), top=1, max_retries=2
    )
    assert len(seen) >= 2  # re-asked before giving up
    assert "error" in drafts[0] and "text" not in drafts[0]


def test_endpoint_errors_raise_endpoint_error(candidates: Any) -> None:
    replies = [httpx2.Response(401, json={"error": {"message": "bad key", "type": "invalid_request_error"}})]
    with pytest.raises(prelabel.EndpointError, match="refused"):
        prelabel.draft_edge_cases(candidates, SOP, client=fake_client(replies, []), top=1)
    with pytest.raises(prelabel.InputError, match="needs the SOP"):
        prelabel.draft_edge_cases(candidates, None, client=fake_client([], []))


def test_response_model_only_allows_the_sops_labels_and_rules() -> None:
    model = edge_case_model(SOP)
    assert model.model_validate(GOOD)
    for bad in ({**GOOD, "label": ["nope"]}, {**GOOD, "rules": ["R9"]}, {**GOOD, "extra": 1}):
        with pytest.raises(ValidationError):
            model.model_validate(bad)
    with pytest.raises(ValidationError):  # a single-label SOP: one label per edge case
        model.model_validate({**GOOD, "label": ["product.damaged", "seller.conduct"]})


def test_written_drafts_are_marked_and_in_sop_syntax(tmp_path: Path) -> None:
    drafts = [
        {"id": "DRAFT1", "source": "candidate #1: a ↔ b", **GOOD},
        {"id": "DRAFT2", "source": "x", "error": "e"},
    ]
    path = prelabel.write_draft_edge_cases(drafts, tmp_path / "draft_edge_cases.yaml", SOP, model="fake")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# DRAFT")
    assert "SOP file was not modified" in text and "# from candidate #1: a ↔ b" in text
    data = YAML(typ="safe").load(text)
    assert data["draft"] is True and data["sop"] == {"id": SOP.id, "version": SOP.version}
    entry = data["edge_cases"][0]
    # the entry is valid SOP syntax: appending it to the SOP still validates
    merged = SOP.model_dump(mode="json", exclude_defaults=True)
    merged["edge_cases"] = [*merged.get("edge_cases", []), entry]
    prelabel.parse_sop(json.dumps(merged))
    assert data["edge_cases"][1] == {"id": "DRAFT2", "error": "e"}


def test_cli_draft_edits_end_to_end_leaves_the_sop_untouched(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sop = tmp_path / "sop.yaml"
    sop.write_bytes(SOP_PATH.read_bytes())
    before = sop.read_bytes()
    fake = FakeModel(default=Reply.raw(json.dumps(GOOD)))
    with FakeServer(fake) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        args = ["compare", str(DATA / "labels.jsonl"), str(DATA / "humans.csv"), "-o", str(tmp_path / "out")]
        code, out, err = run_cli(capsys, *args, "--sop", str(sop), "--draft-edits", "--top", "2")
    assert code == 0, err
    assert sop.read_bytes() == before
    drafted = YAML(typ="safe").load((tmp_path / "out" / "draft_edge_cases.yaml").read_text())
    assert drafted["draft"] is True and len(drafted["edge_cases"]) == 2
    assert len(fake.requests) == 2
    assert "draft_edge_cases.yaml" in out


def test_cli_draft_edits_needs_the_sop(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = [
        "compare",
        str(DATA / "labels.jsonl"),
        str(DATA / "humans.csv"),
        "-o",
        str(tmp_path),
        "--draft-edits",
    ]
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and "--draft-edits needs --sop" in err
