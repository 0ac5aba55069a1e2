"""Self-consistency: ``samples=K`` answers per item, the majority as the label, the distribution recorded."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import prelabel
from helpers import fast_retry, run_cli, use_fast_default_retry
from prelabel import LabelResult
from prelabel.authoring import suite
from prelabel.labeling.options import DEFAULT_SAMPLE_TEMPERATURE
from prelabel.labeling.samples import combine_samples, majority, normalized_entropy
from prelabel.testing import FakeModel, FakeServer, Reply, RequestRecord

FEEDBACK = prelabel.bundled_sop("customer_feedback_intent")
RISK = prelabel.bundled_sop("seller_content_risk")
SOP_PATH = str(prelabel.bundled_sop_path("customer_feedback_intent"))
FAST = fast_retry(1)
DAMAGED, LATE = "product.damaged", "logistics.late_delivery"


def per_item(replies: dict[str, list[Reply]]) -> Callable[[RequestRecord], Reply]:
    """A ``default=`` that gives each item (by text) its replies in turn, whatever order samples arrive in."""
    seen: dict[str, int] = defaultdict(int)

    def reply(request: RequestRecord) -> Reply:
        text = request.item_text or ""
        script = replies[text]
        seen[text] += 1
        return script[(seen[text] - 1) % len(script)]

    return reply


def answer(label: str | list[str], confidence: float = 0.9, rationale: str | None = None) -> Reply:
    return Reply.answer(label, confidence=confidence, rationale=rationale or f"because {label}")


def label_one(sop: prelabel.SOP, replies: list[Reply], **options: Any) -> tuple[LabelResult, FakeModel]:
    fake = FakeModel(default=per_item({"the item": replies}))
    labeler = prelabel.Labeler(sop, client=fake.async_client(), retry=FAST, **options)
    return labeler.label({"id": "i1", "text": "the item"}), fake


def result(label: str | None, confidence: float | None = 0.9, **fields: Any) -> LabelResult:
    common = {"model": "m", "sop_id": "s", "sop_version": "1", "prompt_hash": "h", "template": "t"}
    return LabelResult(
        item_id="i1", status="ok", label=label, confidence=confidence, attempts=1, **{**common, **fields}
    )


# ------------------------------------------------------------------------------------------------ the vote


def test_the_majority_label_wins_and_the_distribution_is_recorded() -> None:
    replies = [answer(DAMAGED, 0.9), answer(LATE, 0.6), answer(DAMAGED, 0.7), answer(DAMAGED, 0.8)]
    replies.append(answer(LATE, 0.6))
    got, fake = label_one(FEEDBACK, replies, samples=5)
    assert (got.status, got.label, got.labels) == ("ok", DAMAGED, None)
    assert got.samples == {DAMAGED: 3, LATE: 2} and list(got.samples) == [DAMAGED, LATE]
    assert got.agreement == 0.6 and got.failed_samples == 0
    expected = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4)) / math.log(5)
    assert got.entropy == pytest.approx(expected, abs=1e-4)
    assert got.confidence == pytest.approx(0.8)  # the mean over the majority's samples
    assert got.rationale == f"because {DAMAGED}"  # one sample that gave the majority answer
    assert len(fake.requests) == 5 and got.attempts == 5
    assert (got.usage.prompt_tokens, got.usage.completion_tokens) == (500, 100)  # summed over the K calls


def test_all_samples_agree() -> None:
    got, _ = label_one(FEEDBACK, [answer(LATE)], samples=3)
    assert (got.samples, got.agreement, got.entropy, got.failed_samples) == ({LATE: 3}, 1.0, 0.0, 0)


def test_a_tie_goes_to_the_higher_mean_confidence() -> None:
    got, _ = label_one(FEEDBACK, [answer(LATE, 0.5), answer(DAMAGED, 0.95)], samples=2)
    assert got.label == DAMAGED and got.agreement == 0.5 and got.entropy == 1.0
    assert got.confidence == 0.95


def test_ties_in_sample_order() -> None:
    by_confidence = [result("a", 0.6), result("b", 0.9), result("a", 0.6), result("b", 0.9)]
    assert combine_samples(by_confidence, latency_s=0.1).label == "b"
    first_seen = [
        result("a", 0.8, rationale="first a"),
        result("b", 0.8),
        result("a", 0.8, rationale="2nd a"),
    ]
    first_seen.append(result("b", 0.8))
    got = combine_samples(first_seen, latency_s=0.1)
    assert (got.label, got.rationale, got.samples) == ("a", "first a", {"a": 2, "b": 2})
    assert majority(["x", "y"], [None, None]) == "x"  # no confidence: first seen
    assert normalized_entropy([4]) == 0.0 and normalized_entropy([1, 1, 1]) == pytest.approx(1.0)


def test_multi_label_answers_vote_as_sets() -> None:
    pair = ["off_platform.contact", "misleading.pricing"]
    replies = [answer(pair, 0.9), answer(["safe"], 0.8), answer(list(reversed(pair)), 0.7)]
    got, _ = label_one(RISK, replies, samples=3)
    assert got.label is None and set(got.labels or []) == set(pair)
    assert got.samples == {"misleading.pricing;off_platform.contact": 2, "safe": 1}  # SOP order
    assert got.agreement == pytest.approx(0.6667) and got.confidence == pytest.approx(0.8)


def test_an_abstention_is_an_answer() -> None:
    got, _ = label_one(FEEDBACK, [answer("needs_review"), answer(DAMAGED), answer("needs_review")], samples=3)
    assert (got.status, got.label, got.samples) == (
        "abstained",
        "needs_review",
        {"needs_review": 2, DAMAGED: 1},
    )


# --------------------------------------------------------------------------------------------- failures


def test_failed_samples_are_left_out_of_the_vote() -> None:
    bad = Reply.raw("not json at all")
    got, fake = label_one(
        FEEDBACK, [bad, answer(LATE), answer(LATE), answer(DAMAGED)], samples=4, max_reasks=0
    )
    assert (got.status, got.label, got.failed_samples) == ("ok", LATE, 1)
    assert got.samples == {LATE: 2, DAMAGED: 1} and got.agreement == pytest.approx(0.6667)
    assert got.attempts == 4 == len(fake.requests) and got.usage.prompt_tokens == 400


def test_every_sample_failing_is_an_error_record() -> None:
    got, fake = label_one(FEEDBACK, [Reply.raw("not json")], samples=3, max_reasks=1)
    assert got.status == "error" and got.error is not None and got.error.type == "invalid_output"
    assert got.failed_samples == 3 and got.samples is None and got.agreement is None
    assert got.attempts == 6 == len(fake.requests)  # one re-ask per sample, all counted
    line = json.loads(got.to_json())
    assert line["failed_samples"] == 3 and "samples" not in line and "entropy" not in line


def test_an_unusable_endpoint_stops_the_item() -> None:
    with pytest.raises(prelabel.EndpointError):
        label_one(FEEDBACK, [answer(LATE), Reply.error(401, "bad key"), answer(LATE)], samples=3)


# ------------------------------------------------------------------------------------- requests and limits


@pytest.mark.parametrize(
    ("options", "sent"),
    [
        ({"samples": 3}, DEFAULT_SAMPLE_TEMPERATURE),
        ({"samples": 3, "temperature": 0.3}, 0.3),
        ({"samples": 1}, 0.0),
        ({}, 0.0),
    ],
)
def test_sampling_needs_a_temperature_above_zero(options: dict[str, Any], sent: float) -> None:
    _, fake = label_one(FEEDBACK, [answer(LATE)], **options)
    assert {r.body["temperature"] for r in fake.requests} == {sent}
    assert (
        suite.DEFAULT_SAMPLE_TEMPERATURE is DEFAULT_SAMPLE_TEMPERATURE
    )  # one rule for --repeat and --samples


def test_samples_share_the_runs_concurrency() -> None:
    peak = {"in_flight": 0}
    labeler: prelabel.Labeler

    def reply(request: RequestRecord) -> Reply:
        gate = labeler.caller.limits.concurrency
        assert gate is not None
        peak["in_flight"] = max(peak["in_flight"], gate.in_flight)
        return Reply.answer(LATE, delay=0.02)

    fake = FakeModel(default=reply)
    labeler = prelabel.Labeler(FEEDBACK, client=fake.async_client(), samples=4, concurrency=3)
    results = labeler.label_many([{"id": f"i{n}", "text": f"item {n}"} for n in range(3)])
    assert [r.samples for r in results] == [{LATE: 4}] * 3 and len(fake.requests) == 12
    assert 1 < peak["in_flight"] <= 3  # the K requests of an item pass the run's gate like any other


def test_samples_must_be_at_least_one() -> None:
    with pytest.raises(prelabel.InputError, match="samples"):
        prelabel.LabelOptions.build(None, {"samples": 0})


# ------------------------------------------------------------------------------------------- line format

GOLDEN_LINE = (
    '{"item_id": "a1", "status": "ok", "label": "product.damaged", "labels": null, "rationale": "broken", '
    '"cited_rules": ["R2"], "confidence": 0.9, "error": null, "model": "gpt-4o-mini", "sop_id": "demo", '
    '"sop_version": "1", "prompt_hash": "sha256:0", "template": "classify.v1", "attempts": 1, "usage": '
    '{"prompt_tokens": 10, "completion_tokens": 5, "cached_tokens": 0}, "latency_s": 0.25}'
)


def test_a_line_without_samples_is_unchanged() -> None:
    line = LabelResult(
        item_id="a1", status="ok", label="product.damaged", rationale="broken", cited_rules=["R2"],
        confidence=0.9, model="gpt-4o-mini", sop_id="demo", sop_version="1", prompt_hash="sha256:0",
        template="classify.v1", attempts=1, usage={"prompt_tokens": 10, "completion_tokens": 5},
        latency_s=0.25,
    )  # fmt: skip
    assert line.to_json() == GOLDEN_LINE
    assert LabelResult.model_validate_json(GOLDEN_LINE).to_json() == GOLDEN_LINE


def test_a_line_with_samples_round_trips() -> None:
    got, _ = label_one(FEEDBACK, [answer(LATE), answer(DAMAGED), answer(LATE)], samples=3)
    line = json.loads(got.to_json())
    keys = list(line)
    assert keys[keys.index("confidence") + 1 : keys.index("error")] == [
        "samples", "agreement", "entropy", "failed_samples",
    ]  # fmt: skip
    assert LabelResult.model_validate_json(got.to_json()) == got
    frame = prelabel.to_dataframe([got])
    assert frame.loc[0, "samples"] == {LATE: 2, DAMAGED: 1} and frame.loc[0, "agreement"] == got.agreement
    assert "samples" not in prelabel.to_dataframe([result("a")]).columns


# ------------------------------------------------------------------------------------- runs and the ledger


def read_lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()]


ITEMS = [{"id": "a", "text": "late parcel"}, {"id": "b", "text": "broken mug"}, {"id": ""}]


def test_one_sample_runs_write_the_lines_of_runs_without_samples(tmp_path: Path) -> None:
    def run(out: Path, **options: Any) -> list[dict[str, Any]]:
        prelabel.run(FEEDBACK, ITEMS, out, client=FakeModel().async_client(), **options)
        return [{k: v for k, v in line.items() if k != "latency_s"} for line in read_lines(out)]

    plain = run(tmp_path / "plain")
    assert run(tmp_path / "one", samples=1) == plain
    assert [[*line, "latency_s"] for line in plain] == [list(json.loads(GOLDEN_LINE))] * 3


def test_a_run_with_samples(tmp_path: Path) -> None:
    fake = FakeModel(
        default=per_item(
            {"late parcel": [answer(LATE), answer(LATE), answer(DAMAGED)], "broken mug": [answer(DAMAGED)]}
        )
    )
    summary = prelabel.run(FEEDBACK, ITEMS, tmp_path, client=fake.async_client(), samples=3)
    lines = read_lines(tmp_path)
    assert [line.get("samples") for line in lines] == [{LATE: 2, DAMAGED: 1}, {DAMAGED: 3}, None]
    assert lines[2]["status"] == "error" and "failed_samples" not in lines[2]  # an unusable row: no calls
    assert summary.usage.prompt_tokens == 600 and len(fake.requests) == 6


def test_a_run_dir_labeled_with_other_samples_is_refused(tmp_path: Path) -> None:
    prelabel.run(FEEDBACK, ITEMS, tmp_path, client=FakeModel().async_client())
    fake = FakeModel()
    prelabel.run(FEEDBACK, ITEMS, tmp_path, client=fake.async_client(), samples=1)  # the same settings
    assert fake.requests == []
    with pytest.raises(prelabel.InputError, match=r"other settings \(samples: None then, 5 now\)"):
        prelabel.run(FEEDBACK, ITEMS, tmp_path, client=fake.async_client(), samples=5)
    prelabel.run(FEEDBACK, ITEMS, tmp_path, client=fake.async_client(), samples=5, restart=True)
    with pytest.raises(prelabel.InputError, match=r"samples: 5 then, 3 now"):
        prelabel.run(FEEDBACK, ITEMS, tmp_path, client=fake.async_client(), samples=3)


def test_the_batch_api_refuses_samples(tmp_path: Path) -> None:
    fake = FakeModel()
    with pytest.raises(prelabel.InputError, match="--samples 3 does not work with the Batch API"):
        prelabel.submit_batch(FEEDBACK, ITEMS, tmp_path, client=fake.async_client(), samples=3)
    assert fake.requests == [] and not (tmp_path / "run.db").exists()


def test_estimate_counts_every_sample() -> None:
    one = prelabel.estimate(FEEDBACK, ITEMS, model="gpt-4o-mini")
    five = prelabel.estimate(FEEDBACK, ITEMS, model="gpt-4o-mini", samples=5)
    assert (five.prompt_tokens, five.completion_tokens) == (5 * one.prompt_tokens, 5 * one.completion_tokens)
    assert five.cost_usd == pytest.approx(5 * (one.cost_usd or 0)) and "5 samples per item" in five.note


# --------------------------------------------------------------------------------------------------- CLI


def test_cli_samples_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    use_fast_default_retry(monkeypatch)
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(i) + "\n" for i in ITEMS[:2]), encoding="utf-8")
    fake = FakeModel(
        default=per_item({"late parcel": [answer(LATE), answer(DAMAGED)], "broken mug": [answer(DAMAGED)]})
    )
    out = tmp_path / "run"
    with FakeServer(fake) as server:
        base = [SOP_PATH, str(items), "-o", str(out), "--base-url", server.url, "--model", "fake-model"]
        code, stdout, err = run_cli(capsys, "run", *base, "--samples", "4")
        assert code == 0, err
        assert "2 ok" in stdout and len(fake.requests) == 8
        assert [line["samples"] for line in read_lines(out)] == [{LATE: 2, DAMAGED: 2}, {DAMAGED: 4}]
        assert {r.body["temperature"] for r in fake.requests} == {DEFAULT_SAMPLE_TEMPERATURE}
        code, _, err = run_cli(capsys, "run", *base, "--samples", "2")
        assert code == 2 and "samples: 4 then, 2 now" in err and len(err.strip().splitlines()) == 1
        code, _, err = run_cli(capsys, "run", *base, "--samples", "0")
        assert code == 2 and "--samples" in err
        code, _, err = run_cli(capsys, "run", *base, "--restart", "--samples", "3", "--batch-api")
        assert code == 2 and "Batch API" in err
        code, stdout, _ = run_cli(capsys, "run", *base, "--samples", "3", "--dry-run")
        assert code == 0 and "3 samples per item" in stdout
        assert len(fake.requests) == 8


def test_run_json_records_samples_and_the_temperature_sent(tmp_path: Path) -> None:
    prelabel.run(FEEDBACK, ITEMS, tmp_path / "one", client=FakeModel().async_client())
    prelabel.run(FEEDBACK, ITEMS, tmp_path / "five", client=FakeModel().async_client(), samples=5)
    one, five = (json.loads((tmp_path / name / "run.json").read_text()) for name in ("one", "five"))
    assert (one["samples"], one["temperature"]) == (1, 0.0)
    assert (five["samples"], five["temperature"]) == (5, 0.7)
