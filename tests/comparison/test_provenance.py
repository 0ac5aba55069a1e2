"""Provenance: every comparison names the models and SOP versions of its results, and results of the bundled
smoke model (``local``) are marked wherever they appear — metrics.json, the console summary, the report (a
banner), the candidates ranked from them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import prelabel
from prelabel.comparison.provenance import describe, provenance, smoke_flags
from prelabel.comparison.report import coverage, render_html
from prelabel.llm.endpoints import SMOKE_MODEL_NOTE

DATA = Path(__file__).parents[1] / "data" / "compare"
SOP = prelabel.bundled_sop("customer_feedback_intent")


def results(model: str | list[str]) -> pd.DataFrame:
    """The fixture's model results, as a run of ``model`` (one name, or one per row) under the bundled SOP."""
    frame = prelabel.read_results(DATA / "labels.jsonl")
    return frame.assign(model=model, sop_id=SOP.id, sop_version=SOP.version)


@pytest.fixture(scope="module")
def smoke() -> prelabel.Comparison:
    return prelabel.compare(results("local"), DATA / "humans.csv", sop=SOP)


@pytest.fixture(scope="module")
def real() -> prelabel.Comparison:
    return prelabel.compare(results("gpt-4o-mini"), DATA / "humans.csv", sop=SOP)


def test_provenance_counts_models_and_sop_versions_and_flags_only_the_smoke_model() -> None:
    rows = [
        {"model": "local", "sop_id": "s", "sop_version": "1"},
        {"model": "local:/models/qwen.gguf", "sop_id": "s", "sop_version": "2"},
        {"model": "", "sop_id": None},
    ]
    found = provenance(rows)
    assert found.models == {"local": 1, "local:/models/qwen.gguf": 1}
    assert found.sop_versions == {"s@1": 1, "s@2": 1}
    assert found.smoke_model and found.note == SMOKE_MODEL_NOTE
    own = provenance([{"model": "local:/models/qwen.gguf"}])  # a GGUF of your choosing is not the smoke model
    assert not own.smoke_model and own.note is None
    assert describe(provenance(pd.DataFrame({"item_id": ["1"]}))) == (
        "model not recorded in the results; SOP version not recorded in the results"
    )
    assert smoke_flags(pd.Series(["local", None, "gpt-4o-mini", "local"])).tolist() == [
        True,
        False,
        False,
        True,
    ]


def test_metrics_json_records_the_models_sop_versions_and_the_smoke_note(
    smoke: prelabel.Comparison, real: prelabel.Comparison, tmp_path: Path
) -> None:
    written = json.loads(smoke.save(tmp_path, html=False)["metrics"].read_text(encoding="utf-8"))
    assert written["provenance"] == {
        "models": {"local": 11},
        "sop_versions": {f"{SOP.id}@{SOP.version}": 11},
        "smoke_model": True,
        "note": SMOKE_MODEL_NOTE,
    }
    dumped = real.metrics.model_dump(mode="json")["provenance"]
    assert dumped == {
        "models": {"gpt-4o-mini": 11},
        "sop_versions": {f"{SOP.id}@{SOP.version}": 11},
        "smoke_model": False,
        "note": None,
    }


def test_candidates_ranked_from_smoke_answers_say_so_beside_the_rank(
    smoke: prelabel.Comparison, real: prelabel.Comparison, tmp_path: Path
) -> None:
    assert list(smoke.candidates.columns[:2]) == ["rank", "model_note"]
    assert set(smoke.candidates["model_note"]) == {
        "ranked from answers of local (smoke model: mechanics only)"
    }
    assert set(smoke.disagreements["model"]) == {"local"}
    written = pd.read_csv(smoke.save(tmp_path, html=False)["candidates"], dtype=str)
    assert written["model_note"].str.contains("smoke model").all()
    assert "model_note" not in real.candidates.columns  # other models' rankings are left as they were


def test_a_mixed_run_marks_only_the_clusters_holding_smoke_answers() -> None:
    frame = results("gpt-4o-mini")
    frame.loc[frame["item_id"] == "5", "model"] = "local"
    mixed = prelabel.compare(frame, DATA / "humans.csv", sop=SOP)
    dis = mixed.disagreements.set_index("item_id")
    assert dis.loc["5", "model"] == "local"
    cands = mixed.candidates
    marked = cands[cands["model_note"] != ""]
    assert not marked.empty and len(marked) < len(cands)
    smoke_cluster = str(dis.loc["5", "cluster"])
    assert smoke_cluster in set(marked["cluster"])


def test_the_console_summary_names_the_models_and_marks_the_smoke_model(
    smoke: prelabel.Comparison, real: prelabel.Comparison
) -> None:
    text = smoke.to_markdown()
    assert f"Results compared: model local (smoke model: mechanics only) (11 results); SOP {SOP.id}@" in text
    assert f"> note: {SMOKE_MODEL_NOTE}" in text
    assert "| rank | model note | cluster |" in text
    assert "| 1 | ranked from answers of local (smoke model: mechanics only) |" in text
    plain = real.to_markdown()
    assert "Results compared: model gpt-4o-mini (11 results)" in plain
    assert "smoke model" not in plain and "| rank | cluster |" in plain


def test_the_report_opens_with_a_banner_for_smoke_results_and_always_names_models_and_sops(
    smoke: prelabel.Comparison, real: prelabel.Comparison
) -> None:
    html = render_html(smoke)
    body = html.split("<body>", 1)[1]
    assert body.index("class='banner'") < body.index("<h2>Summary</h2>")
    assert "Smoke-model results." in body and "only illustrate the mechanics" in body
    assert "local (smoke model: mechanics only)" in body
    assert '<span class="kind smoke">ranked from answers of local' in body
    plain = render_html(real)
    assert "banner" not in plain.split("<body>", 1)[1] and "smoke model" not in plain.split("<body>", 1)[1]
    assert (
        f"Results compared: model gpt-4o-mini (11 results); SOP {SOP.id}@{SOP.version} (11 results)." in plain
    )
    assert f"Labels are checked against {SOP.id}@{SOP.version} (--sop)." in plain


def test_the_summary_says_why_results_were_not_compared(real: prelabel.Comparison) -> None:
    # fixture: 11 model rows; item 8 is an error, item 9 abstained, item 11 has no human label
    text = coverage(real.metrics)
    assert text.startswith("8 of 11 model results compared (not compared: 1 model error, 1 model abstained, ")
    assert "1 no human label" in text
    assert text in real.to_markdown() and text in render_html(real)
