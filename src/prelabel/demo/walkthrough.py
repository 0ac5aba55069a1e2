"""``prelabel demo``: the whole loop on a bundled example, from SOP to agreement with human labels.

The example is the ``customer_feedback_intent`` SOP, 32 buyer messages in English, Indonesian, Thai and
Vietnamese (``examples/items.jsonl``), and three human annotators per item (``examples/human_labels.csv``,
long form with ``market`` and ``language`` slice columns, disagreements included): the files the README's
Quickstart uses, at the top of the repository (inside the wheel, ``prelabel/examples/``).

With ``OPENAI_API_KEY`` set the demo labels every item with OpenAI; otherwise it uses the embedded local model
on a few items per language, because the bundled Gemma 3 270M runs on a CPU and is only a smoke model.

    >>> from prelabel.demo import demo_items, demo_human_labels
    >>> len(demo_items()), int(demo_human_labels().groupby("item_id").size().min())
    (32, 3)
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pandas as pd

from prelabel._jsonio import write_text, writing
from prelabel._resources import data_dir
from prelabel.comparison.ambiguity import SMOKE_CANDIDATE_NOTE
from prelabel.comparison.comparison import Comparison, compare
from prelabel.comparison.provenance import describe
from prelabel.comparison.report import coverage
from prelabel.errors import InputError
from prelabel.labeling.options import LabelOptions
from prelabel.labeling.runner import RunSummary, run
from prelabel.llm.endpoints import (
    DEFAULT_MODEL,
    SMOKE_MODEL_NOTE,
    is_local_model,
    is_smoke_model,
    model_label,
)
from prelabel.runs.run_dir import RunDir
from prelabel.sop.bundled import bundled_sop, bundled_sop_path

__all__ = ["DEMO_SOP", "LOCAL_DEMO_ITEMS", "DemoResult", "demo_human_labels", "demo_items", "run_demo"]

DEMO_SOP = "customer_feedback_intent"
LOCAL_DEMO_ITEMS = 4
"""Items the local model labels by default (one per language: the first takes about 18 s on 2 cores, the SOP's
prompt, and each next one about 5 s)."""

_SLICES = ["market", "language"]


def _data(name: str) -> Path:
    return data_dir("examples") / name


def demo_items() -> list[dict[str, Any]]:
    """The bundled demo items (``id``, ``text``, ``language``, ``meta.market``), in file order."""
    lines = _data("items.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def demo_human_labels() -> pd.DataFrame:
    """The bundled human labels: ``item_id, annotator, label, market, language`` (three per item)."""
    return pd.read_csv(_data("human_labels.csv"), dtype=str)


def _balanced(items: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """The first ``n`` items taking languages in turn, so a small sample still covers every language."""
    by_language: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_language.setdefault(str(item.get("language")), []).append(item)
    interleaved = [it for group in zip_longest(*by_language.values()) for it in group if it is not None]
    return interleaved[:n]


def _choose_model(model: str | None, env: Mapping[str, str], client: Any) -> tuple[str, str]:
    """The model to use and a sentence saying why (with the smoke-model note when it is the smoke model)."""
    chosen, why = _model_and_reason(model, env, client)
    return chosen, f"{why}; note: {SMOKE_MODEL_NOTE}" if is_smoke_model(chosen) else why


def _model_and_reason(model: str | None, env: Mapping[str, str], client: Any) -> tuple[str, str]:
    if client is not None:
        return model or "custom", f"model {model or 'custom'} through the client passed in"
    if model:
        return model, f"model {model} (chosen with --model)"
    if env.get("OPENAI_API_KEY"):
        chosen = env.get("PRELABEL_MODEL") or DEFAULT_MODEL
        where = f"at {env['OPENAI_BASE_URL']}" if env.get("OPENAI_BASE_URL") else "on OpenAI"
        return chosen, f"{chosen} {where} (OPENAI_API_KEY is set)"
    return "local", "the embedded local model (OPENAI_API_KEY is not set)"


@dataclass
class DemoResult:
    """What ``run_demo`` produced: the run directory, the run summary and the comparison with humans."""

    run_dir: Path
    report_dir: Path
    model: str
    model_note: str
    summary: RunSummary
    comparison: Comparison


def run_demo(
    out_dir: str | Path = "prelabel-demo",
    *,
    model: str | None = None,
    max_items: int | None = None,
    concurrency: int = 8,
    client: Any = None,
    progress: bool = False,
    echo: Callable[[str], None] = print,
    env: Mapping[str, str] | None = None,
) -> DemoResult:
    """Label the bundled demo items, compare them with the bundled human labels, print a short summary.

    Writes ``out_dir/labels.jsonl`` and ``run.json`` (the run), ``out_dir/items.jsonl`` and
    ``human_labels.csv`` (the inputs), and ``out_dir/report/`` (``metrics.json``, ``disagreements.csv``,
    ``ambiguity_candidates.csv``, ``report.html``). ``max_items`` defaults to all items, or to
    ``LOCAL_DEMO_ITEMS`` with the local model. ``client`` (an ``openai`` client) overrides the endpoint;
    ``progress`` shows a progress bar on stderr.
    """
    env = os.environ if env is None else env
    chosen, note = _choose_model(model, env, client)
    why = _model_and_reason(model, env, client)[1]
    is_local = is_local_model(chosen)
    limit = max_items if max_items is not None else (LOCAL_DEMO_ITEMS if is_local else None)
    if limit is not None and limit < 1:
        raise InputError(f"--max-items must be at least 1, got {limit}")
    items = demo_items()
    selected = _balanced(items, limit) if limit is not None else items
    sop = bundled_sop(DEMO_SOP)

    out = Path(out_dir)
    items_file = out / "items.jsonl"
    humans_file = out / "human_labels.csv"
    with writing(items_file):
        write_text(items_file, "".join(json.dumps(it, ensure_ascii=False) + "\n" for it in selected))
        shutil.copyfile(_data("human_labels.csv"), humans_file)
    languages = ", ".join(sorted({str(it.get("language")) for it in selected}))
    echo(f"prelabel demo: SOP {sop.id} {sop.version}, {len(selected)} of {len(items)} items ({languages})")
    echo(f"labeling with {model_label(chosen)}: {why}")
    if not progress and is_smoke_model(chosen):  # with progress on, the run prints it itself
        echo(f"note: {SMOKE_MODEL_NOTE}")

    options = LabelOptions(
        model=chosen,
        # the key and server come from ``env`` too, as the model did (not only from os.environ)
        api_key=env.get("OPENAI_API_KEY") if client is None else None,
        base_url=env.get("OPENAI_BASE_URL") if client is None else None,
        concurrency=concurrency,
    )
    summary = run(bundled_sop_path(DEMO_SOP), items_file, out, options, client=client, progress=progress)
    n = summary.counts
    took = f"in {summary.duration_s:.1f}s"
    if summary.resumed:  # a rerun into the same directory resumes from its run.db
        took = (
            f"(resumed: {summary.resumed} already done in {RunDir(out).db}, not sent again; "
            f"{summary.labeled_now} labeled now in {summary.duration_s:.1f}s)"
        )
    echo(
        f"labeled {n['total']} items with {summary.model_label} {took}: {n['ok']} ok, "
        f"{n['abstained']} abstained, {n['error']} errors -> {RunDir(out).labels}"
    )

    # all human labels: agreement among humans covers every item; items the model skipped are counted
    comparison = compare(out, demo_human_labels(), sop=sop, slices=_SLICES)
    report_dir = out / "report"
    comparison.save(report_dir)
    for line in _summary_lines(comparison):
        echo(line)
    echo(f"report: {report_dir / 'report.html'}")
    if comparison.metrics.provenance.note:  # beside the results it qualifies, not only before the run
        echo(f"note: {comparison.metrics.provenance.note}")
    for line in _next_steps(Path.cwd()):
        echo(line)
    return DemoResult(out, report_dir, chosen, note, summary, comparison)


SERVER_URL = "http://localhost:8000/v1"
"""The server of the demo's second next step (vLLM's default port); yours goes in its place."""
SERVER_MODEL = "my-model"
"""The model name of the second next step: the one your server serves."""
OWN_GGUF = "/path/to/model.gguf"
"""The GGUF path of the third next step: an instruction-tuned model of your own."""


def _next_steps(cwd: Path) -> list[str]:
    """Three commands that label the example items with a real model, and one that compares a run.

    Paths are relative to ``cwd`` when inside it (the repository root: ``examples/items.jsonl``), else
    absolute, so each command runs as printed from where the demo ran.
    """

    def shown(path: Path) -> str:
        try:
            return shlex.quote(str(path.relative_to(cwd.resolve())))
        except ValueError:
            return shlex.quote(str(path))

    sop, items, humans = (
        shown(bundled_sop_path(DEMO_SOP)),
        shown(_data("items.jsonl")),
        shown(_data("human_labels.csv")),
    )
    run_cmd = f"prelabel run {sop} {items}"
    slice_flags = " ".join(f"--slice {column}" for column in _SLICES)
    return [
        f"next steps: label the example items (or your own file in place of {items}: JSONL, CSV or Parquet; "
        "--id-col and --text-col name its id and text columns)",
        "  1. with OpenAI (export OPENAI_API_KEY=... first; "
        f"--model picks the model, default {DEFAULT_MODEL}):",
        f"     {run_cmd} -o runs/openai",
        "  2. with any OpenAI-compatible server (vLLM, Ollama, llama.cpp, LiteLLM: your URL and model name):",
        f"     {run_cmd} -o runs/server --base-url {SERVER_URL} --model {SERVER_MODEL}",
        "  3. with your own GGUF model on this machine (an instruction-tuned one: your path):",
        f"     {run_cmd} -o runs/gguf --model local:{OWN_GGUF}",
        "  then compare a run with the human labels:",
        f"     prelabel compare runs/openai {humans} -o runs/openai-report --sop {sop} {slice_flags}",
    ]


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _summary_lines(cmp: Comparison) -> list[str]:
    """A few plain lines: humans among themselves, the model against them, and what to look at."""
    s = cmp.metrics.summary
    humans = cmp.metrics.humans
    notes = cmp.candidates["model_note"] if "model_note" in cmp.candidates.columns else None
    smoke = notes is not None
    every = notes is not None and bool(
        notes.ne("").all()
    )  # all ranked from smoke answers: the heading says it once
    lines = [
        f"results compared: {describe(cmp.metrics.provenance)}",
        f"humans among themselves: {_fmt(s.percent_agreement)} mean majority share, Fleiss' kappa "
        f"{_fmt(s.fleiss_kappa)}, Krippendorff's alpha {_fmt(s.krippendorff_alpha)} "
        f"({humans.n_items} items, {humans.n_annotators} annotators)",
        f"model vs human majority on {_items(s.n_vs_majority)}: accuracy {_fmt(s.accuracy)}, "
        f"Cohen's kappa {_fmt(s.kappa_vs_majority)}, macro F1 {_fmt(s.macro_f1)}",
        f"  {coverage(cmp.metrics)}",
        f"{_items(s.n_disagreements)} where the model and at least one annotator differ; "
        f"{s.n_candidates} SOP ambiguity candidate(s), top 3{_smoke_heading(smoke, every)}:",
    ]
    for row in cmp.candidates.head(3).to_dict(orient="records"):
        marked = f"; {row['model_note']}" if smoke and not every and row["model_note"] else ""
        lines.append(
            f"  #{row['rank']} {row['cluster']} ({_items(int(row['n_items']))}, {row['kind']}{marked})"
        )
    return lines


def _smoke_heading(smoke: bool, every: bool) -> str:
    """Beside the ranking: all of it, or the clusters marked, come from the smoke model's answers."""
    if not smoke:
        return ""
    if every:
        return f" ({SMOKE_CANDIDATE_NOTE}: they illustrate the mechanics only)"
    return f" (those marked are {SMOKE_CANDIDATE_NOTE}: their place illustrates the mechanics only)"


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"
