"""``logprobs``: runs store the label's token probability (``label_prob``) per line; runs without it write the
lines they always wrote; the ledger binding, samples, the Batch API and ``prelabel run --logprobs``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import prelabel
from helpers import fast_retry, run_cli, use_fast_default_retry, write_jsonl
from prelabel.labeling.setup import run_binding
from prelabel.testing import FakeModel, FakeServer, Reply, RequestRecord

FEEDBACK = prelabel.bundled_sop("customer_feedback_intent")
SOP_PATH = str(prelabel.bundled_sop_path("customer_feedback_intent"))
FAST = fast_retry(1)
DAMAGED, LATE = "product.damaged", "logistics.late_delivery"
ITEMS = [{"id": "a", "text": "late parcel"}, {"id": "b", "text": "broken mug"}, {"id": ""}]
PROBS = {"late parcel": (LATE, 0.8), "broken mug": (DAMAGED, 0.35)}


def by_text(request: RequestRecord) -> Reply:
    label, prob = PROBS.get(request.item_text or "", (DAMAGED, 0.5))
    return Reply.answer(label, label_prob=prob)


def read_lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()]


def test_a_run_with_logprobs_stores_the_label_probability(tmp_path: Path) -> None:
    fake = FakeModel(default=by_text)
    prelabel.run(FEEDBACK, ITEMS, tmp_path, client=fake.async_client(), mode="json_schema", logprobs=True)
    lines = read_lines(tmp_path)
    assert [line.get("label_prob") for line in lines] == [pytest.approx(0.8), pytest.approx(0.35), None]
    keys = list(lines[0])
    assert keys[keys.index("confidence") + 1] == "label_prob" and "label_prob" not in lines[2]
    assert all(r.body["logprobs"] is True for r in fake.requests)
    frame = prelabel.to_dataframe([prelabel.LabelResult.model_validate(line) for line in lines])
    assert list(frame.columns).index("label_prob") == list(frame.columns).index("confidence") + 1


def test_without_logprobs_the_lines_are_unchanged(tmp_path: Path) -> None:
    def run(out: Path, **options: Any) -> list[dict[str, Any]]:
        prelabel.run(FEEDBACK, ITEMS, out, client=FakeModel(default=by_text).async_client(), **options)
        return [{k: v for k, v in line.items() if k != "latency_s"} for line in read_lines(out)]

    plain = run(tmp_path / "plain", mode="json_schema")
    assert run(tmp_path / "off", mode="json_schema", logprobs=False) == plain
    assert all("label_prob" not in line for line in plain)
    with_logprobs = run(tmp_path / "on", mode="json_schema", logprobs=True)
    assert [{k: v for k, v in line.items() if k != "label_prob"} for line in with_logprobs] == plain
    assert (
        prelabel.to_dataframe([prelabel.LabelResult.model_validate(x) for x in plain]).columns[7]
        == "error_type"
    )


def test_tools_mode_runs_record_nothing(tmp_path: Path) -> None:
    prelabel.run(
        FEEDBACK, ITEMS[:1], tmp_path, client=FakeModel(default=by_text).async_client(), logprobs=True
    )
    assert "label_prob" not in read_lines(tmp_path)[0]


def test_the_binding_names_logprobs_only_when_asked(tmp_path: Path) -> None:
    plain = prelabel.Labeler(FEEDBACK, client=FakeModel().async_client())
    asked = prelabel.Labeler(FEEDBACK, client=FakeModel().async_client(), logprobs=True)
    assert "logprobs" not in run_binding(plain) and run_binding(asked)["logprobs"] is True
    fake, items = FakeModel(), ITEMS[:2]
    prelabel.run(FEEDBACK, items, tmp_path, client=FakeModel().async_client())
    prelabel.run(FEEDBACK, items, tmp_path, client=fake.async_client(), logprobs=False)  # the same settings
    assert fake.requests == []
    with pytest.raises(prelabel.InputError, match=r"other settings \(logprobs: None then, True now\)"):
        prelabel.run(FEEDBACK, items, tmp_path, client=fake.async_client(), logprobs=True)


def test_samples_average_the_majority_probability() -> None:
    probs = [(LATE, 0.9), (DAMAGED, 0.2), (LATE, 0.9), (LATE, 0.5)]
    fake = FakeModel([Reply.answer(label, label_prob=prob) for label, prob in probs])
    labeler = prelabel.Labeler(
        FEEDBACK, client=fake.async_client(), retry=FAST, samples=4, logprobs=True, mode="json_schema"
    )
    result = labeler.label({"id": "i1", "text": "the item"})
    assert result.samples == {LATE: 3, DAMAGED: 1}
    assert result.label_prob == pytest.approx((0.9 + 0.9 + 0.5) / 3)


def test_the_batch_api_asks_for_and_reads_logprobs(tmp_path: Path) -> None:
    fake = FakeModel(default=by_text)
    with FakeServer(fake) as server:
        common: dict[str, Any] = {"api_key": "sk-test", "retry": FAST}
        done = prelabel.submit_batch(
            SOP_PATH, ITEMS[:2], tmp_path, base_url=server.url, mode="json_schema", logprobs=True, **common
        )
        bodies = [json.loads(x)["body"] for x in Path(done.request_files[0]).read_text().splitlines()]
        assert all(body["logprobs"] is True for body in bodies)
        prelabel.collect_batch(tmp_path, sop=SOP_PATH, items=ITEMS[:2], **common)
    assert [line.get("label_prob") for line in read_lines(tmp_path)] == [
        pytest.approx(0.8),
        pytest.approx(0.35),
    ]


def test_cli_logprobs_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    use_fast_default_retry(monkeypatch)
    items = write_jsonl(tmp_path / "items.jsonl", ITEMS[:2])
    fake = FakeModel(default=by_text)
    with FakeServer(fake) as server:
        base = [SOP_PATH, str(items), "--base-url", server.url, "--model", "fake-model", "--logprobs"]
        code, _, err = run_cli(capsys, "run", *base, "-o", str(tmp_path / "json"), "--mode", "json_schema")
        assert code == 0, err
        assert "--logprobs" not in err
        assert [line["label_prob"] for line in read_lines(tmp_path / "json")] == pytest.approx([0.8, 0.35])
        code, _, err = run_cli(capsys, "run", *base, "-o", str(tmp_path / "tools"), "--mode", "tools")
        assert code == 0, err
        warnings = [line for line in err.splitlines() if "tools mode" in line]
        assert len(warnings) == 1 and "--mode json_schema" in warnings[0]
        assert all("label_prob" not in line for line in read_lines(tmp_path / "tools"))
