"""``prelabel run --max-cost``: a hard budget, through the loopback fake server whose answers carry usage."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest

import prelabel
from helpers import run_cli, use_fast_default_retry
from prelabel.llm.spend import prompt_tokens
from prelabel.llm.usage import Price, Usage
from prelabel.testing import FakeModel, FakeServer, Reply, RequestRecord

Capture = pytest.CaptureFixture[str]
SOP_PATH = str(prelabel.bundled_sop_path("customer_feedback_intent"))
MODEL = "budget-test-model"  # no price in genai-prices: the test's price file gives it
PRICE = Price(input=2.0, output=8.0)
MAX_TOKENS = 400
EXIT_BUDGET = 4


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-budget-test-key-000000")
    use_fast_default_retry(monkeypatch)


class Billing:
    """What the fake server bills: every answer carries usage (the prompt's real token count, a random
    number of completion tokens up to ``MAX_TOKENS``), kept here as the provider's invoice."""

    def __init__(self, seed: int = 0, reask_first: bool = False, least: int = 150):
        self.rng = random.Random(seed)
        self.least = least
        self.reask_first = reask_first
        self.usages: list[Usage] = []
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, record: RequestRecord) -> Reply:
        prompt = prompt_tokens(record.body, MODEL)  # messages and the answer schema (tools), as servers count
        with self.lock:
            usage = Usage(prompt_tokens=prompt, completion_tokens=self.rng.randint(self.least, MAX_TOKENS))
            self.usages.append(usage)
            first = (record.item_text or "") not in self.seen
            self.seen.add(record.item_text or "")
            delay = self.rng.random() * 0.02
        billed = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
        if self.reask_first and first:  # off-schema: instructor asks again, and that request is paid too
            return Reply.raw("not an answer", usage=billed, delay=delay)
        return Reply.answer(usage=billed, delay=delay)

    @property
    def total(self) -> float:
        return sum(PRICE.cost(usage) for usage in self.usages)


def prices_file(tmp_path: Path) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({MODEL: PRICE.model_dump(exclude_none=True)}), encoding="utf-8")
    return path


def items_file(tmp_path: Path, n: int = 12) -> Path:
    path = tmp_path / "items.jsonl"
    texts = ["parcel late", "box crushed", "charged twice", "seller was rude", "love it", "where is it"]
    rows = [json.dumps({"id": f"i{k}", "text": f"{texts[k % len(texts)]} #{k}"}) for k in range(n)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def run(capsys: Capture, tmp_path: Path, server: FakeServer, *flags: str) -> tuple[int, str, str]:
    args = ["run", SOP_PATH, str(items_file(tmp_path)), "-o", str(tmp_path / "run"), "--model", MODEL]
    args += [
        "--base-url",
        server.url,
        "--prices",
        str(prices_file(tmp_path)),
        "--max-tokens",
        str(MAX_TOKENS),
    ]
    return run_cli(capsys, *args, *flags)


def estimate(tmp_path: Path, samples: int = 1) -> float:
    guess = prelabel.estimate(
        SOP_PATH, items_file(tmp_path), model=MODEL, prices=prices_file(tmp_path), samples=samples
    )
    assert guess.cost_usd is not None
    return guess.cost_usd


def labels(tmp_path: Path) -> list[dict[str, object]]:
    text = (tmp_path / "run" / "labels.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def run_json(tmp_path: Path) -> dict[str, object]:
    return json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("seed", range(6))
def test_spend_never_exceeds_the_budget_stops_keeps_answers_and_resumes(
    seed: int, capsys: Capture, tmp_path: Path
) -> None:
    """Property, over random budgets and concurrency: what the server billed is within --max-cost; a run
    that stops exits 4 with one line, keeps every paid answer, and resumes with a higher budget."""
    rng = random.Random(seed)
    billing = Billing(seed, least=250)  # answers longer than the estimate assumes: the live limit stops it
    budget = round(estimate(tmp_path) * rng.uniform(1.0, 1.3), 6)
    concurrency = str(rng.choice([1, 2, 4, 8]))
    with FakeServer(FakeModel(default=billing)) as server:
        code, _, stderr = run(
            capsys, tmp_path, server, "--max-cost", str(budget), "--concurrency", concurrency
        )
        assert code in (0, EXIT_BUDGET), stderr
        assert billing.total <= budget + 1e-9
        info = run_json(tmp_path)
        assert info["cost_usd"] == pytest.approx(
            billing.total, abs=1e-6
        )  # every paid answer is in the ledger
        assert info["max_cost_usd"] == budget
        answered, finished = len(billing.usages), 12
        if code == EXIT_BUDGET:
            error = [line for line in stderr.splitlines() if line.startswith("error:")]
            assert len(error) == 1 and "budget reached" in error[0] and f"${budget:.4f} budget" in error[0]
            assert info["budget_reached"] is True and info["status"] == "aborted"
            kept = labels(tmp_path)
            finished = sum(line["status"] == "ok" for line in kept)
            assert 1 <= finished == len(kept) < 12
            assert sum(line["usage"]["prompt_tokens"] for line in kept) == sum(
                u.prompt_tokens for u in billing.usages
            )
        # a higher budget resumes: what was spent counts against it, finished items are not sent again
        bigger = str(round(budget * 3, 6))
        code, _, stderr = run(capsys, tmp_path, server, "--max-cost", bigger, "--concurrency", concurrency)
        assert code == 0, stderr
        assert len(labels(tmp_path)) == 12 and all(line["status"] == "ok" for line in labels(tmp_path))
        assert len(billing.usages) - answered == 12 - finished
        assert billing.total <= float(bigger) + 1e-9
        assert run_json(tmp_path)["cost_usd"] == pytest.approx(billing.total, abs=1e-6)


def test_an_estimate_over_the_budget_is_refused_before_anything_is_sent(
    capsys: Capture, tmp_path: Path
) -> None:
    billing = Billing()
    guess = estimate(tmp_path)
    with FakeServer(FakeModel(default=billing)) as server:
        code, _, stderr = run(capsys, tmp_path, server, "--max-cost", str(round(guess / 2, 6)))
        assert code == 2
        assert stderr.count("\n") == 1 and f"${guess:.4f}" in stderr and f"${guess / 2:.4f} budget" in stderr
        assert "nothing was sent" in stderr
        assert server.requests == [] and not (tmp_path / "run" / "labels.jsonl").exists()
        code, stdout, _ = run(capsys, tmp_path, server, "--max-cost", str(round(guess / 2, 6)), "--dry-run")
        assert code == 0 and f"over the ${guess / 2:.4f} --max-cost" in stdout and server.requests == []


def test_a_model_without_a_price_is_refused_with_a_budget(
    capsys: Capture, tmp_path: Path, server: FakeServer
) -> None:
    items = items_file(tmp_path)
    code, _, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(tmp_path / "run"), "--model", "no-price-model",
        "--base-url", server.url, "--max-cost", "5",
    )  # fmt: skip
    assert code == 2 and "--max-cost needs the price of no-price-model" in stderr and "--prices" in stderr
    assert server.requests == []


def test_without_a_price_the_cost_is_unknown_and_said_once(
    capsys: Capture, tmp_path: Path, server: FakeServer
) -> None:
    items = items_file(tmp_path, n=3)
    code, stdout, stderr = run_cli(
        capsys, "run", SOP_PATH, str(items), "-o", str(tmp_path / "run"), "--model", "no-price-model",
        "--base-url", server.url,
    )  # fmt: skip
    assert code == 0, stderr
    assert stderr.count("no price is known for no-price-model") == 1 and "cost $" not in stdout
    assert run_json(tmp_path)["cost_usd"] is None


def test_reasks_count_against_the_budget(capsys: Capture, tmp_path: Path) -> None:
    billing = Billing(seed=3, reask_first=True)  # every item needs two paid requests
    budget = round(estimate(tmp_path) * 1.5, 6)
    with FakeServer(FakeModel(default=billing)) as server:
        code, _, stderr = run(capsys, tmp_path, server, "--max-cost", str(budget), "--concurrency", "4")
        assert code == EXIT_BUDGET, stderr  # twice the requests: the budget does not reach the end
        assert billing.total <= budget + 1e-9
        assert run_json(tmp_path)["cost_usd"] == pytest.approx(billing.total, abs=1e-6)
        assert len(billing.usages) > len(labels(tmp_path))  # the re-asks were paid, and counted


def test_samples_count_against_the_budget_and_a_stopped_item_keeps_its_tokens(
    capsys: Capture, tmp_path: Path
) -> None:
    billing = Billing(seed=5, least=350)  # longer answers than the estimate assumes
    budget = round(estimate(tmp_path, samples=3) * 1.05, 6)
    with FakeServer(FakeModel(default=billing)) as server:
        flags = ("--max-cost", str(budget), "--samples", "3", "--concurrency", "4")
        code, _, stderr = run(capsys, tmp_path, server, *flags)
        assert code == EXIT_BUDGET, stderr
        assert billing.total <= budget + 1e-9
        kept = labels(tmp_path)
        assert run_json(tmp_path)["cost_usd"] == pytest.approx(billing.total, abs=1e-6)
        for line in kept:
            if line["status"] == "error":  # some of its samples were answered before the stop
                assert line["error"]["type"] == "interrupted" and line["usage"]["prompt_tokens"] > 0
        code, _, stderr = run(capsys, tmp_path, server, "--max-cost", str(budget * 4), "--samples", "3")
        assert code == 0, stderr
        assert [line["status"] for line in labels(tmp_path)] == ["ok"] * 12


def test_the_batch_api_checks_the_estimate_at_the_batch_price(capsys: Capture, tmp_path: Path) -> None:
    fake = FakeModel(default=Billing())
    guess = estimate(tmp_path)  # online price; the Batch price is half of it
    with FakeServer(fake) as server:
        code, _, stderr = run(capsys, tmp_path, server, "--batch-api", "--max-cost", str(round(guess / 3, 6)))
        assert code == 2 and f"${guess / 2:.4f}" in stderr and "nothing was sent" in stderr
        assert fake.batch_api.files == {} and fake.batch_api.batches == {}
        code, _, stderr = run(
            capsys, tmp_path, server, "--batch-api", "--max-cost", str(round(guess * 0.6, 6))
        )
        assert code == 0, stderr
        assert len(fake.batch_api.batches) == 1


def test_a_negative_budget_is_bad_input(capsys: Capture, tmp_path: Path, server: FakeServer) -> None:
    code, _, stderr = run(capsys, tmp_path, server, "--max-cost", "-1")
    assert code == 2 and stderr.count("\n") == 1 and "max_cost" in stderr and server.requests == []
