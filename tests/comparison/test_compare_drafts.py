"""``--draft-edits``: drafted edge cases over a fake OpenAI transport, written as a clearly marked draft.

Drafts call the model through the labeler's ``ModelCaller``: the backend's mode, transport retries, re-asks,
usage and cost, and ``EndpointError`` for an unusable endpoint.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

import prelabel
from helpers import fast_retry, run_cli
from loopback import RawServer, hang
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
        candidates, SOP, client=fake_client(replies, seen), top=1, max_reasks=2
    )
    assert len(seen) == 3  # re-asked twice before giving up
    assert "text" not in drafts[0] and drafts[0]["error"].startswith("answer invalid after 3 attempt(s)")
    assert drafts[0]["attempts"] == 3 and drafts[0]["usage"].prompt_tokens == 30


def test_endpoint_errors_raise_endpoint_error(candidates: Any) -> None:
    replies = [httpx2.Response(401, json={"error": {"message": "bad key", "type": "invalid_request_error"}})]
    seen: list[dict[str, Any]] = []
    with pytest.raises(prelabel.EndpointError, match=r"auth \(401\).*bad key"):
        prelabel.draft_edge_cases(candidates, SOP, client=fake_client(replies, seen), top=1)
    assert len(seen) == 1  # no retry of a fatal failure
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
    line = "drafts: 2 drafted, 0 failed by gpt-4o-mini; 2 requests, 240 tokens (200 prompt, 40 completion)"
    assert line in out and line in (tmp_path / "out" / "draft_edge_cases.yaml").read_text()


def test_cli_draft_edits_on_a_refused_key_exits_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeModel(default=Reply.error(401, "Incorrect API key"))
    with FakeServer(fake) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        args = ["compare", str(DATA / "labels.jsonl"), str(DATA / "humans.csv"), "-o", str(tmp_path)]
        code, _, err = run_cli(
            capsys, *args, "--sop", str(SOP_PATH), "--draft-edits", "--base-url", server.url
        )
    assert code == 3 and "auth (401)" in err and len(fake.requests) == 1


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


@pytest.mark.parametrize(
    ("base_url", "mode"),
    [("https://api.openai.com/v1", "TOOLS"), ("http://localhost:11434/v1", "JSON_SCHEMA")],
)
def test_drafts_use_the_backends_mode(candidates: Any, base_url: str, mode: str) -> None:
    fake = FakeModel(default=Reply.raw(json.dumps(GOOD)))
    drafts = prelabel.draft_edge_cases(candidates, SOP, client=fake.async_client(base_url), top=1)
    assert drafts[0]["label"] == ["product.damaged"]
    body = fake.requests[0].body
    if mode == "TOOLS":
        assert body["tools"][0]["function"]["name"] == "EdgeCaseDraft" and "response_format" not in body
    else:
        assert "tools" not in body and body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["name"] == "EdgeCaseDraft"


def test_drafts_honour_the_options(candidates: Any) -> None:
    fake = FakeModel(default=Reply.raw(json.dumps(GOOD)))
    options = prelabel.LabelOptions(model="gpt-4o-mini", max_tokens=300, temperature=0.5, mode="json_schema")
    prelabel.draft_edge_cases(candidates, SOP, options, client=fake.async_client(), top=1, max_tokens=200)
    body = fake.requests[0].body
    assert body["model"] == "gpt-4o-mini" and body["max_tokens"] == 200 and body["temperature"] == 0.5
    assert body["response_format"]["type"] == "json_schema"


def test_json_object_schema_servers_get_the_draft_schema(candidates: Any) -> None:
    fake = FakeModel(default=Reply.raw(json.dumps(GOOD)))
    client = fake.async_client("http://llamacpp:8080/v1")
    prelabel.draft_edge_cases(candidates, SOP, client=client, top=1)
    response_format = fake.requests[0].body["response_format"]
    assert response_format["type"] == "json_object"
    assert response_format["schema"]["title"] == "EdgeCaseDraft"


@pytest.mark.parametrize("status", [429, 500])
def test_transient_failures_are_retried_by_the_transport_policy(candidates: Any, status: int) -> None:
    script = [Reply.error(status, "busy", headers={"retry-after": "0"}), Reply.raw(json.dumps(GOOD))]
    fake = FakeModel(script)
    drafts = prelabel.draft_edge_cases(
        candidates, SOP, client=fake.async_client(), top=1, retry=fast_retry(3)
    )
    assert len(fake.requests) == 2 and drafts[0]["label"] == ["product.damaged"]
    assert drafts[0]["attempts"] == 2


def test_a_draft_that_keeps_failing_is_recorded_and_the_next_is_drafted(candidates: Any) -> None:
    fake = FakeModel([Reply.error(500, "down")] * 2, default=Reply.raw(json.dumps(GOOD)))
    drafts = prelabel.draft_edge_cases(
        candidates, SOP, client=fake.async_client(), top=2, retry=fast_retry(2)
    )
    assert drafts[0]["error"].startswith("server error (HTTP 500) after 2 attempt(s)")
    assert drafts[1]["label"] == ["product.damaged"]
    assert drafts.summary().startswith("drafts: 1 drafted, 1 failed")


def test_an_unreachable_endpoint_raises_endpoint_error(candidates: Any) -> None:
    fake = FakeModel(default=Reply.disconnect())
    with pytest.raises(prelabel.EndpointError, match="unreachable"):
        prelabel.draft_edge_cases(candidates, SOP, client=fake.async_client(), top=2, retry=fast_retry(2))
    assert len(fake.requests) == 2  # stopped after the first draft's retries


def test_unusable_endpoints_raise_endpoint_error(candidates: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeModel(default=Reply.error(401, "Incorrect API key"))
    with pytest.raises(prelabel.EndpointError, match="auth"):
        prelabel.draft_edge_cases(candidates, SOP, client=fake.async_client(), top=1)
    assert len(fake.requests) == 1
    with pytest.raises(prelabel.EndpointError, match="no API key"):  # checked before any request
        prelabel.draft_edge_cases(candidates, SOP, model="gpt-4o-mini", top=1)
    with pytest.raises(prelabel.InputError, match="bad option"):
        prelabel.draft_edge_cases(candidates, SOP, client=fake.async_client(), max_retries=2)


def test_drafts_record_usage_and_cost(candidates: Any, tmp_path: Path) -> None:
    fake = FakeModel(
        default=Reply.raw(json.dumps(GOOD), usage={"prompt_tokens": 1000, "completion_tokens": 50})
    )
    drafts = prelabel.draft_edge_cases(
        candidates, SOP, client=fake.async_client(), model="gpt-4o-mini", top=2
    )
    assert [d["usage"] for d in drafts] == [prelabel.Usage(prompt_tokens=1000, completion_tokens=50)] * 2
    assert drafts.usage == prelabel.Usage(prompt_tokens=2000, completion_tokens=100)
    assert drafts.cost == prelabel.PriceTable().cost("gpt-4o-mini", drafts.usage) and drafts.cost
    header = (
        prelabel.write_draft_edge_cases(drafts, tmp_path / "d.yaml", SOP).read_text().split("\ndraft:")[0]
    )
    assert "# drafts: 2 drafted, 0 failed by gpt-4o-mini; 2 requests, 2100 tokens" in header
    assert f"cost ${drafts.cost:.4f}" in header
    unpriced = prelabel.draft_edge_cases(candidates, SOP, client=fake.async_client(), model="my-llm", top=1)
    assert unpriced.cost is None and unpriced.summary().endswith("cost unknown")
    priced = prelabel.draft_edge_cases(
        candidates,
        SOP,
        client=fake.async_client(),
        model="my-llm",
        top=1,
        prices=prelabel.PriceTable({"my-llm": {"input": 1, "output": 2}}),
    )
    assert priced.cost == pytest.approx((1000 * 1 + 50 * 2) / 1_000_000)


def test_a_hung_endpoint_stops_the_drafts_after_the_first(candidates: Any) -> None:
    retry = fast_retry(2, timeout=0.3, max_total=1.0)
    with RawServer(hang) as server:
        started = time.monotonic()
        with pytest.raises(prelabel.EndpointError, match="unreachable after retries: timeout"):
            prelabel.draft_edge_cases(
                candidates, SOP, base_url=server.url, api_key="sk-test", top=3, retry=retry
            )
        assert server.requests == 2  # the first draft's attempts only, not 3 drafts x the budget
    assert time.monotonic() - started < 3
