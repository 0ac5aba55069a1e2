"""The batch job: labels.jsonl (one line per input item, in input order) and run.json."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

import prelabel
from helpers import fast_retry
from prelabel import run
from prelabel.testing.fake import FakeModel, Reply, RequestRecord

FAST = fast_retry(2)
SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
ITEMS = "\n".join(
    [
        '{"id": "a1", "text": "slow item"}',
        '{"id": "a2", "text": "fast item"}',
        "{broken",
        '{"id": "a1", "text": "duplicate"}',
        '{"id": "a3", "text": "mid item"}',
        '{"text": "no id"}',
        '{"id": "a4", "text": "off-schema item"}',
    ]
)


@pytest.fixture
def items_file(tmp_path: Path) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text(ITEMS + "\n", encoding="utf-8")
    return path


def by_text(request: RequestRecord) -> Reply:
    """Slow replies for early items so results complete out of input order; one item is always off-schema."""
    text = request.item_text or ""
    if "off-schema" in text:
        return Reply.raw('{"rationale": "?", "label": "nope", "confidence": 2}')
    delay = {"slow item": 0.15, "mid item": 0.05}.get(text, 0.0)
    return Reply.answer("logistics.late_delivery", delay=delay, usage={"cached_tokens": 50})


def read_lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()]


def test_one_line_per_item_in_input_order(tmp_path: Path, items_file: Path) -> None:
    fake = FakeModel(default=by_text)
    out = tmp_path / "run"
    summary = run(
        SOP_PATH, items_file, out, client=fake.async_client(), retry=FAST, max_reasks=1, concurrency=4
    )
    assert isinstance(summary, prelabel.RunSummary)
    lines = read_lines(out)
    assert [line["item_id"] for line in lines] == ["a1", "a2", None, "a1", "a3", None, "a4"]
    assert [line["status"] for line in lines] == ["ok", "ok", "error", "error", "ok", "error", "error"]
    assert [line["error"]["type"] for line in lines if line["error"]] == [
        "invalid_item",
        "invalid_item",
        "invalid_item",
        "invalid_output",
    ]
    assert lines[2]["error"]["message"].startswith("line 3: invalid JSON")
    assert lines[3]["error"]["message"] == "line 4: duplicate id 'a1' (first at line 1)"
    assert lines[6]["error"]["last_output"] == '{"rationale": "?", "label": "nope", "confidence": 2}'
    assert summary.counts == {"total": 7, "ok": 3, "abstained": 0, "error": 4}
    assert summary.errors_by_type == {"invalid_item": 3, "invalid_output": 1}


def test_run_json_records_the_run(tmp_path: Path, items_file: Path) -> None:
    fake = FakeModel(default=by_text)
    out = tmp_path / "run"
    summary = run(
        SOP_PATH, items_file, out, model="gpt-4o-mini", client=fake.async_client(), retry=FAST, max_reasks=0
    )
    recorded = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert recorded == json.loads(summary.model_dump_json())  # type: ignore[union-attr]
    sop = prelabel.load_sop(SOP_PATH)
    assert recorded["status"] == "completed" and recorded["error"] is None
    assert recorded["sop"] == {
        "id": sop.id,
        "version": sop.version,
        "sha256": sop.sha256,
        "path": str(SOP_PATH),
    }
    assert recorded["model"] == "gpt-4o-mini" and recorded["template"] == "classify.v1"
    assert recorded["prompt_hash"] == prelabel.prompt_hash(sop)
    assert recorded["endpoint"]["base_url"] == "http://fake/v1" and recorded["endpoint"]["mode"] == "TOOLS"
    assert recorded["items_source"] == str(items_file)
    # 4 answered requests (3 ok + 1 off-schema without re-asks), 100 prompt / 20 completion tokens each
    assert recorded["usage"] == {"prompt_tokens": 400, "completion_tokens": 80, "cached_tokens": 150}
    expected_cost = (250 * 0.15 + 150 * 0.075 + 80 * 0.60) / 1_000_000
    assert recorded["cost_usd"] == pytest.approx(expected_cost)
    assert recorded["started_at"] <= recorded["finished_at"]
    assert recorded["smoke_model"] is False and recorded["model_note"] is None


def test_a_run_of_the_smoke_model_says_what_its_labels_are_worth_once_the_inputs_are_checked(
    tmp_path: Path, items_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from prelabel.llm.endpoints import SMOKE_MODEL_NOTE

    fake = FakeModel(default=Reply.answer("logistics.late_delivery"))
    with pytest.raises(prelabel.SOPError):  # a bad input is the only line: no note before it
        run(
            tmp_path / "missing.yaml", items_file, tmp_path / "bad", model="local", client=fake.async_client()
        )
    assert capsys.readouterr().err == ""
    out = tmp_path / "run"
    summary = run(SOP_PATH, items_file, out, model="local", client=fake.async_client(), progress=True)
    assert f"note: {SMOKE_MODEL_NOTE}" in capsys.readouterr().err.splitlines()
    recorded = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert recorded["model"] == "local" and recorded["smoke_model"] is True
    assert recorded["model_note"] == SMOKE_MODEL_NOTE == summary.model_note
    assert summary.model_label == "local (smoke model: mechanics only)"


def test_unknown_model_cost_is_null_and_prices_file_applies(tmp_path: Path) -> None:
    items = [{"id": "a", "text": "x"}]
    free = run(SOP_PATH, items, tmp_path / "r1", model="my-llama", client=FakeModel().async_client())
    assert free.cost_usd is None  # type: ignore[union-attr]
    prices = tmp_path / "prices.yaml"
    prices.write_text("my-llama: {input: 10, output: 100}\n")
    priced = run(
        SOP_PATH, items, tmp_path / "r2", model="my-llama", client=FakeModel().async_client(), prices=prices
    )
    assert priced.cost_usd == pytest.approx((100 * 10 + 20 * 100) / 1_000_000)  # type: ignore[union-attr]


def test_max_items_and_dataframe_input(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {"review_id": ["r1", "r2", "r3"], "body": ["a", "b", "c"], "market": ["ID", "TH", "VN"]}
    )
    fake = FakeModel()
    summary = run(
        SOP_PATH,
        frame,
        tmp_path / "run",
        client=fake.async_client(),
        id_col="review_id",
        text_col="body",
        max_items=2,
    )
    assert [line["item_id"] for line in read_lines(tmp_path / "run")] == ["r1", "r2"]
    assert summary.counts["total"] == 2 and len(fake.requests) == 2  # type: ignore[union-attr]


def test_endpoint_error_aborts_and_records_why(tmp_path: Path, items_file: Path) -> None:
    fake = FakeModel(default=Reply.error(401, "Incorrect API key provided: sk-live-abcdefgh"))
    out = tmp_path / "run"
    with pytest.raises(prelabel.EndpointError):
        run(SOP_PATH, items_file, out, client=fake.async_client(), retry=FAST)
    recorded = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert recorded["status"] == "aborted" and recorded["error"].startswith("EndpointError: auth (401)")
    assert "sk-live-abcdefgh" not in (out / "run.json").read_text()


def test_api_key_is_never_written(tmp_path: Path, items_file: Path) -> None:
    key = "sk-test-DO-NOT-LEAK-0123456789"
    fake = FakeModel(default=by_text)
    with prelabel.testing.FakeServer(fake) as server:
        run(
            SOP_PATH, items_file, tmp_path / "run", base_url=server.url, api_key=key, retry=FAST, max_reasks=0
        )
    assert fake.requests[0].headers["authorization"] == f"Bearer {key}"  # it was used...
    for path in (tmp_path / "run").iterdir():
        assert key.encode() not in path.read_bytes(), path  # ...and never written (the ledger too)


def test_estimate_sends_nothing_and_writes_nothing(tmp_path: Path, items_file: Path) -> None:
    before = set(tmp_path.rglob("*"))
    options = prelabel.LabelOptions(model="gpt-4o-mini", base_url="http://localhost:1/v1", api_key="sk-x")
    guess = prelabel.estimate(SOP_PATH, items_file, options)  # the same options a run takes; no server there
    assert isinstance(guess, prelabel.Estimate)
    assert (guess.items, guess.bad_items) == (4, 3)
    assert guess.prompt_tokens > 4 * 500  # the SOP system prompt alone is several hundred tokens
    assert guess.completion_tokens == 4 * 120
    assert guess.cost_usd == pytest.approx((guess.prompt_tokens * 0.15 + guess.completion_tokens * 0.6) / 1e6)
    assert set(tmp_path.rglob("*")) == before  # nothing written


def test_estimate_tokenizes_the_sop_system_message_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dry run of 200,000 items took 37 s re-tokenizing the ~6 kB system message for every item (5.7 s
    now); the count is the same as tokenizing each whole prompt."""
    from prelabel.labeling import dry_run
    from prelabel.llm import ratelimit, usage
    from prelabel.prompt.rendering import render_prompt

    sop = prelabel.load_sop(SOP_PATH)
    items = [{"id": str(i), "text": f"ของเสีย item {i}"} for i in range(50)]
    prompts = [render_prompt(sop, prelabel.Item(**it), "classify.v1", None).messages for it in items]
    expected = sum(usage.count_tokens(messages, "gpt-4o-mini") for messages in prompts)
    ratelimit._text_tokens.cache_clear()
    tokenized: list[int] = []  # characters sent to the tokenizer

    def counting(messages: list[dict[str, Any]], model: str) -> int:
        tokenized.append(sum(len(str(m.get("content"))) for m in messages))
        return usage.count_tokens(messages, model)

    monkeypatch.setattr(dry_run, "count_tokens", counting)
    monkeypatch.setattr(ratelimit, "count_tokens", counting)
    guess = prelabel.estimate(sop, items, model="gpt-4o-mini")
    schema = (guess.prompt_tokens - expected) / len(items)  # the answer schema, counted per item as before
    schema_json = json.dumps(prelabel.response_model(sop).model_json_schema(), ensure_ascii=False)
    assert schema == usage.count_tokens([{"role": "system", "content": schema_json}], "gpt-4o-mini")
    system = len(prompts[0][0]["content"])
    assert sum(tokenized) < 3 * system  # the system message once, not once per item


def test_estimate_does_not_read_local_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    png = tmp_path / "a.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(1000))
    items = [{"id": "a", "images": [str(png)]}, {"id": "b", "images": [str(tmp_path / "missing.png")]}]
    encoded: list[bytes] = []
    original = base64.b64encode
    monkeypatch.setattr(base64, "b64encode", lambda data: encoded.append(data) or original(data))
    guess = prelabel.estimate(SOP_PATH, items, model="gpt-4o-mini")
    assert (guess.items, guess.bad_items) == (1, 1)  # the missing image is still caught
    assert encoded == []


def test_options_object_and_keyword_overrides_agree(tmp_path: Path) -> None:
    fake = FakeModel()
    items = [{"id": str(i), "text": "late parcel"} for i in range(5)]
    options = prelabel.LabelOptions(model="m-1", max_items=3, max_tokens=77)
    summary = run(SOP_PATH, items, tmp_path / "a", options, client=fake.async_client(), max_items=2)
    assert summary.counts["total"] == 2 and summary.model == "m-1"  # the keyword wins over the object
    assert {r.body["max_tokens"] for r in fake.requests} == {77}
    assert options.max_items == 3  # options objects are never changed


def test_unknown_or_bad_options_are_one_input_error(tmp_path: Path) -> None:
    with pytest.raises(prelabel.InputError, match="concurency: Extra inputs"):
        run(SOP_PATH, [], tmp_path / "r", concurency=2)
    with pytest.raises(prelabel.InputError, match="concurrency: Input should be greater than or equal to 1"):
        prelabel.LabelOptions.build(None, {"concurrency": 0})
    assert not (tmp_path / "r").exists()


def test_estimate_needs_no_key(monkeypatch: pytest.MonkeyPatch, items_file: Path) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert prelabel.estimate(SOP_PATH, items_file, model="unknown-model").cost_usd is None


def test_missing_key_fails_before_creating_the_run_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, items_file: Path
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(prelabel.EndpointError, match="OPENAI_API_KEY"):
        run(SOP_PATH, items_file, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_bad_input_raises_before_any_work(tmp_path: Path, items_file: Path) -> None:
    with pytest.raises(prelabel.InputError, match="items file not found"):
        run(SOP_PATH, tmp_path / "missing.jsonl", tmp_path / "run", client=FakeModel().async_client())
    with pytest.raises(prelabel.SOPError):
        run(tmp_path / "missing.yaml", items_file, tmp_path / "run", client=FakeModel().async_client())
    (tmp_path / "file").write_text("x")
    with pytest.raises(prelabel.InputError, match="not a directory"):
        run(SOP_PATH, items_file, tmp_path / "file", client=FakeModel().async_client())


def test_custom_sink_receives_every_result(tmp_path: Path) -> None:
    seen: dict[int, str | None] = {}

    class Recorder:
        def write(self, index: int, result: prelabel.LabelResult) -> None:
            seen[index] = result.item_id

        def close(self) -> None:
            seen[-1] = "closed"

    items = [{"id": "a", "text": "x"}, {"bad": "row"}, {"id": "b", "text": "y"}]
    run(SOP_PATH, items, tmp_path / "run", client=FakeModel().async_client(), sink=lambda out: Recorder())
    assert seen == {0: "a", 1: None, 2: "b", -1: "closed"}


def test_options_never_show_a_password_in_the_base_url() -> None:
    """A notebook printing its options (or dumping them) shows no ``user:password@``; the options still
    reach the server with it."""
    options = prelabel.LabelOptions(base_url="http://user:S3CRET-PW@proxy.local/v1", api_key="k" * 20)
    shown = [repr(options), str(options), json.dumps(options.model_dump())]
    assert all("S3CRET-PW" not in text and "proxy.local/v1" in text for text in shown)
    assert "S3CRET-PW" in (options.merged(concurrency=2).base_url or "")
