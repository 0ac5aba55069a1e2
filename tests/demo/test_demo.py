"""``prelabel demo``: the bundled data, the model choice, and the whole loop (fake and local model)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import prelabel
from helpers import readme_commands, run_command_line
from prelabel.cli.app import app
from prelabel.demo import walkthrough as demo
from prelabel.testing.fake import FakeModel, Reply, RequestRecord

ROOT = Path(__file__).resolve().parents[2]
SOP = prelabel.bundled_sop(demo.DEMO_SOP)
ITEMS = demo.demo_items()
HUMANS = demo.demo_human_labels()


def _majority() -> dict[str, str]:
    return {item_id: group["label"].mode().iloc[0] for item_id, group in HUMANS.groupby("item_id")}


# ------------------------------------------------------------------------------------------- bundled data


def test_demo_items_cover_four_languages_with_unique_ids() -> None:
    assert len(ITEMS) == 32 and len({it["id"] for it in ITEMS}) == 32
    assert Counter(it["language"] for it in ITEMS) == {"en": 8, "id": 8, "th": 8, "vi": 8}
    for item in ITEMS:
        prelabel.Item.model_validate(item)  # every line is a valid item


def test_demo_human_labels_are_long_form_with_three_annotators_and_slices() -> None:
    assert list(HUMANS.columns) == ["item_id", "annotator", "label", "market", "language"]
    assert HUMANS.groupby("item_id")["annotator"].nunique().eq(3).all()
    assert set(HUMANS["item_id"]) == {it["id"] for it in ITEMS}
    assert set(HUMANS["label"]) <= set(SOP.answer_ids)
    slices = {it["id"]: (it["meta"]["market"], it["language"]) for it in ITEMS}
    for row in HUMANS.itertuples():
        assert (row.market, row.language) == slices[row.item_id]
    split = HUMANS.groupby("item_id")["label"].nunique()
    assert (split > 1).sum() >= 8 and (split == 3).sum() >= 1  # real disagreements, one three-way split


def test_balanced_sample_takes_languages_in_turn() -> None:
    sample = demo._balanced(ITEMS, 8)
    assert Counter(it["language"] for it in sample) == {"en": 2, "id": 2, "th": 2, "vi": 2}
    assert demo._balanced(ITEMS, 100) == sorted(ITEMS, key=lambda it: (int(it["id"][1:]) - 1) % 8)


# ------------------------------------------------------------------------------------------- model choice


def test_openai_is_used_when_a_key_is_set() -> None:
    model, note = demo._choose_model(None, {"OPENAI_API_KEY": "sk-test"}, None)
    assert model == "gpt-4o-mini" and "OPENAI_API_KEY is set" in note and "sk-test" not in note
    model, _ = demo._choose_model(None, {"OPENAI_API_KEY": "k", "PRELABEL_MODEL": "gpt-4.1-mini"}, None)
    assert model == "gpt-4.1-mini"


def test_local_smoke_model_is_used_without_a_key_and_says_so() -> None:
    model, note = demo._choose_model(None, {}, None)
    assert model == "local" and "smoke model" in note and "labels are poor" in note


def test_bad_max_items_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(prelabel.InputError, match="at least 1"):
        prelabel.run_demo(tmp_path, max_items=0, env={}, echo=lambda line: None)


# ------------------------------------------------------------------------------------------ the whole loop


def test_demo_with_a_model_that_answers_the_human_majority(tmp_path: Path) -> None:
    majority = _majority()
    by_text = {it["text"]: majority[it["id"]] for it in ITEMS}

    def answer(record: RequestRecord) -> Reply:
        return Reply.answer(by_text[record.item_text or ""], confidence=0.9)

    fake = FakeModel(default=answer)
    lines: list[str] = []
    result = prelabel.run_demo(
        tmp_path / "demo", model="fake-model", client=fake.async_client(), echo=lines.append, env={}
    )
    assert len(fake.requests) == 32
    run_dir = tmp_path / "demo"
    labels = [json.loads(line) for line in (run_dir / "labels.jsonl").read_text().splitlines()]
    assert [r["item_id"] for r in labels] == [it["id"] for it in ITEMS]
    for name in ("run.json", "items.jsonl", "human_labels.csv"):
        assert (run_dir / name).is_file()
    for name in ("metrics.json", "disagreements.csv", "ambiguity_candidates.csv", "report.html"):
        assert (result.report_dir / name).is_file()
    summary = result.comparison.metrics.summary
    assert summary.n_compared == 31  # d32 is abstained by the majority: not compared
    split = HUMANS.groupby("item_id")["label"].nunique()
    assert summary.accuracy == 1.0
    assert summary.n_disagreements == int((split.drop("d32") > 1).sum())  # only where humans split
    text = "\n".join(lines)
    assert "32 of 32 items" in text and "accuracy 1.00" in text
    # the 32 labeled items against the 31 compared: the console says which one is left out, and why
    assert f"model vs human majority on {summary.n_vs_majority} items" in text
    assert (
        "31 of 32 model results compared (not compared: 1 model abstained); accuracy, F1 and κ vs the "
        f"majority use {summary.n_vs_majority} of them (1 with a tied human majority)"
    ) in text
    assert "results compared: model fake-model (32 results); SOP customer_feedback_intent@" in text
    assert "smoke model" not in text and "note:" not in text
    assert f"Fleiss' kappa {summary.fleiss_kappa:.2f}" in text
    assert "report.html" in text


def test_demo_reports_disagreements_of_a_model_that_always_answers_one_label(tmp_path: Path) -> None:
    fake = FakeModel(default=Reply.answer("logistics.late_delivery", confidence=0.95))
    lines: list[str] = []
    result = prelabel.run_demo(tmp_path, client=fake.async_client(), max_items=8, echo=lines.append, env={})
    sample = {it["id"] for it in demo._balanced(ITEMS, 8)}
    labels = HUMANS[HUMANS["item_id"].isin(sample)].groupby("item_id")["label"]
    expected = int(labels.apply(lambda s: (s != "logistics.late_delivery").any()).sum())
    summary = result.comparison.metrics.summary
    assert summary.n_disagreements == expected > 0
    majority = _majority()
    assert summary.accuracy == sum(majority[i] == "logistics.late_delivery" for i in sample) / 8
    disagreements = pd.read_csv(result.report_dir / "disagreements.csv", dtype=str)
    assert set(disagreements["item_id"]) <= sample
    assert any("SOP ambiguity candidate" in line for line in lines)


def test_every_output_of_a_smoke_model_demo_names_it_and_says_what_it_is_worth(tmp_path: Path) -> None:
    from prelabel.llm.endpoints import SMOKE_MODEL_NOTE

    # sure and wrong, as the 270M model answers (the demo's first item of each language is a late delivery)
    fake = FakeModel(default=Reply.answer("product.damaged", confidence=1.0))
    lines: list[str] = []
    result = prelabel.run_demo(tmp_path, model="local", client=fake.async_client(), echo=lines.append, env={})
    assert len(fake.requests) == demo.LOCAL_DEMO_ITEMS  # the local model's default sample
    text = "\n".join(lines)
    assert lines[1].startswith("labeling with local (smoke model: mechanics only): ")
    notes = [i for i, line in enumerate(lines) if line == f"note: {SMOKE_MODEL_NOTE}"]
    report = next(i for i, line in enumerate(lines) if line.startswith("report: "))
    assert notes == [2, report + 1]  # before labeling, and beside the results
    assert f"labeled {demo.LOCAL_DEMO_ITEMS} items with local (smoke model: mechanics only) in " in text
    assert (
        f"results compared: model local (smoke model: mechanics only) ({demo.LOCAL_DEMO_ITEMS} results)"
        in text
    )
    top = next(line for line in lines if "SOP ambiguity candidate(s), top 3" in line)
    assert (
        "(ranked from answers of local (smoke model: mechanics only): they illustrate the mechanics only)"
        in top
    )
    ranked = [line for line in lines if line.startswith("  #")]
    assert 1 <= len(ranked) <= 3 and not any("smoke" in line for line in ranked)  # said once, in the heading
    run_json = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert run_json["smoke_model"] is True and run_json["model_note"] == SMOKE_MODEL_NOTE
    metrics = json.loads((result.report_dir / "metrics.json").read_text(encoding="utf-8"))
    assert (
        metrics["provenance"]["models"] == {"local": demo.LOCAL_DEMO_ITEMS}
        and metrics["provenance"]["note"] == SMOKE_MODEL_NOTE
    )
    candidates = pd.read_csv(result.report_dir / "ambiguity_candidates.csv", dtype=str)
    assert list(candidates.columns[:2]) == ["rank", "model_note"] and candidates["model_note"].notna().all()
    html = (result.report_dir / "report.html").read_text(encoding="utf-8")
    assert "<b>Smoke-model results.</b>" in html.split("<h2>", 1)[0]  # a banner above the first section


def test_with_mixed_models_each_candidate_ranked_from_smoke_answers_is_marked() -> None:
    data = Path(__file__).parents[1] / "data" / "compare"
    results = prelabel.read_results(data / "labels.jsonl").assign(model="gpt-4o-mini")
    results.loc[results["item_id"].isin(["2", "3"]), "model"] = "local"
    lines = demo._summary_lines(prelabel.compare(results, data / "humans.csv", sop=SOP))
    heading = next(line for line in lines if "SOP ambiguity candidate(s)" in line)
    assert "(those marked are ranked from answers of local (smoke model: mechanics only): " in heading
    ranked = [line for line in lines if line.startswith("  #")]
    marked = [
        line.endswith("; ranked from answers of local (smoke model: mechanics only))") for line in ranked
    ]
    assert any(marked) and not all(marked)


def test_a_rerun_of_the_demo_says_it_resumed(tmp_path: Path) -> None:
    fake = FakeModel(default=Reply.answer("logistics.late_delivery"))
    first: list[str] = []
    prelabel.run_demo(tmp_path, client=fake.async_client(), max_items=4, echo=first.append, env={})
    again: list[str] = []
    result = prelabel.run_demo(tmp_path, client=fake.async_client(), max_items=4, echo=again.append, env={})
    assert len(fake.requests) == 4 and result.summary.resumed == 4
    labeled = next(line for line in again if line.startswith("labeled "))
    assert f"(resumed: 4 already done in {tmp_path / 'run.db'}, not sent again; 0 labeled now in " in labeled
    assert "resumed" not in next(line for line in first if line.startswith("labeled "))


def test_the_demo_output_directory_is_ignored_by_git() -> None:
    import inspect

    default = inspect.signature(prelabel.run_demo).parameters["out_dir"].default
    ignored = (Path(__file__).parents[2] / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert f"{default}/" in ignored


@pytest.mark.local_model
def test_demo_cli_runs_on_the_local_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "prelabel-demo"
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["demo", "-o", str(out), "--max-items", "4"])
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert "embedded local model" in result.output and "smoke model" in result.output
    assert "4 of 32 items (en, id, th, vi)" in result.output
    assert "results compared: model local (smoke model: mechanics only) (4 results)" in result.output
    lines = (out / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4
    for line in lines:
        record = json.loads(line)
        assert record["model"] == "local"
        assert record["status"] == "error" or record["label"] in SOP.answer_ids
    assert (out / "report" / "report.html").is_file()
    print(f"prelabel demo --max-items 4 on the local model: {elapsed:.1f}s")


def test_demo_takes_key_and_server_from_env_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prelabel.testing.fake import FakeServer

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    fake = FakeModel(default=Reply.answer("logistics.late_delivery"))
    lines: list[str] = []
    with FakeServer(fake) as server:
        env = {"OPENAI_API_KEY": "sk-demo-env", "OPENAI_BASE_URL": server.url}
        result = prelabel.run_demo(tmp_path, max_items=2, echo=lines.append, env=env)
    assert result.summary.counts["ok"] == 2 and len(fake.requests) == 2


# ------------------------------------------------------------------------------------------- next steps


def printed_commands(lines: list[str]) -> list[str]:
    """The commands among the demo's lines: indented under their step."""
    return [line.strip() for line in lines if line.startswith("     prelabel ")]


def demo_lines(out: Path) -> list[str]:
    lines: list[str] = []
    fake = FakeModel(default=Reply.answer("logistics.late_delivery"))
    prelabel.run_demo(out, max_items=1, client=fake.async_client(), echo=lines.append, env={})
    return lines


def test_from_the_repository_root_the_next_steps_are_quickstart_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from the repository root, the demo ends with the README Quickstart's own commands (which
    ``tests/test_doc_commands.py`` runs as written), on the example files the demo labeled. (Installed from a
    wheel, as in CI, it names the wheel's copies by absolute path: the same files.)"""
    from prelabel._resources import data_dir

    monkeypatch.chdir(ROOT)
    lines = demo_lines(tmp_path / "demo")
    commands = printed_commands(lines)
    for folder in (
        "sop_specs",
        "examples",
    ):  # a wheel's copies: absolute, or relative when the venv is in ROOT
        where = data_dir(folder).resolve()
        for shown in {str(where), str(where.relative_to(ROOT)) if where.is_relative_to(ROOT) else str(where)}:
            commands = [c.replace(f"{shown}/", f"{folder}/") for c in commands]
    openai, server, gguf, compare = commands
    assert "--base-url" not in openai and "--model" not in openai  # the key and default model decide
    assert f"--base-url {demo.SERVER_URL} --model {demo.SERVER_MODEL}" in server
    assert gguf.endswith(f"--model local:{demo.OWN_GGUF}")
    assert compare.startswith("prelabel compare runs/openai examples/human_labels.csv")
    for command in commands:
        assert "examples/" in command and "sop_specs/customer_feedback_intent.yaml" in command
        assert command in readme_commands("Quickstart (CLI)")
    text = "\n".join(lines)
    assert "OPENAI_API_KEY" in text and "--text-col" in text  # how to use a key, and your own file


def test_from_elsewhere_the_next_steps_run_as_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run from any other folder, the next steps name the example files by absolute path; the OpenAI and
    server steps and the comparison run as printed against a loopback server (the placeholder server URL
    replaced by its URL). The GGUF step is the Quickstart's command, run by ``tests/test_doc_commands.py``."""
    from prelabel.testing.fake import FakeServer

    monkeypatch.chdir(tmp_path)
    commands = printed_commands(demo_lines(tmp_path / "demo"))
    assert str(prelabel.bundled_sop_path(demo.DEMO_SOP)) in commands[0]
    assert len(commands) == 4 and f"local:{demo.OWN_GGUF}" in commands[2]
    with FakeServer() as server:
        for command in (commands[1].replace(demo.SERVER_URL, server.url), commands[0], commands[3]):
            if "--base-url" not in command:
                monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
                monkeypatch.setenv("OPENAI_BASE_URL", server.url)
            code, stdout, stderr = run_command_line(capsys, command)
            assert code == 0, f"{command}\n{stdout}\n{stderr}"
    assert len(server.model.requests) == 2 * len(ITEMS)
    for run_dir in ("runs/openai", "runs/server"):
        assert len((tmp_path / run_dir / "labels.jsonl").read_text(encoding="utf-8").splitlines()) == len(
            ITEMS
        )
    assert (tmp_path / "runs" / "openai-report" / "report.html").is_file()
