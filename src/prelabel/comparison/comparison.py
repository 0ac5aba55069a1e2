"""Compare model labels with human labels: agreement metrics, disagreements and SOP ambiguity candidates.

    >>> import pandas as pd, prelabel
    >>> results = pd.DataFrame({"item_id": [1, 2, 3], "label": ["a", "b", "b"], "confidence": 0.9})
    >>> humans = pd.DataFrame({"item_id": ["1", "1", "2", "2", "3", "3"], "annotator": ["x", "y"] * 3,
    ...                        "label": ["a", "a", "b", "a", "b", "b"]})
    >>> cmp = prelabel.compare(results, humans)
    >>> cmp.metrics.summary.n_compared, list(cmp.disagreements["item_id"])
    (3, ['2'])

Single-label answers are compared as nominal categories. For multi-label SOPs an answer is a label *set*: the
human majority is the most frequent set, κ/α/percent agreement treat each distinct set as one category
(exact-set agreement), and precision/recall/F1 are computed per label on the binarised sets, with
sample-level Jaccard and exact match. ``humans.per_label`` adds each label's present/absent Fleiss' κ and
Krippendorff's α.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from prelabel._csvio import write_csv
from prelabel._jsonio import together, writing
from prelabel.comparison import interrater as irr
from prelabel.comparison.ambiguity import candidates_frame, disagreements_frame
from prelabel.comparison.annotators import per_annotator
from prelabel.comparison.certainty import certainty_notes
from prelabel.comparison.engines import check_engine, wants_duckdb
from prelabel.comparison.gold import gold_key, split_gold
from prelabel.comparison.media_strip import run_videos
from prelabel.comparison.metrics import (
    annotator_rows,
    model_metrics,
    rolled_levels,
    slice_agreement,
    slice_metrics,
)
from prelabel.comparison.metrics_schema import (
    DEFINITIONS,
    AgreementMetrics,
    Ambiguity,
    ComparisonMetrics,
    HumanAgreement,
    SopRef,
    Sources,
    Summary,
    VendorQA,
    given,
)
from prelabel.comparison.prep import Prepared, prepare
from prelabel.comparison.provenance import provenance
from prelabel.comparison.readers import read_human_labels, read_results
from prelabel.comparison.reliability import CalibrationReport, prepared_calibration_report
from prelabel.comparison.run_info import sop_warnings
from prelabel.comparison.semantics import label_space
from prelabel.comparison.vendor_qa import FAST_SECONDS, check_settings, vendor_qa
from prelabel.errors import InputError
from prelabel.sop.spec import SOP

__all__ = ["Comparison", "agreement", "compare"]


@dataclass
class Comparison:
    """What `compare` returns: typed ``metrics`` (``metrics.json``), ``disagreements`` and ``candidates``."""

    metrics: ComparisonMetrics
    disagreements: pd.DataFrame
    candidates: pd.DataFrame
    sop: SOP | None = field(default=None, repr=False)
    #: Reliability and ECE of the model's confidence (and samples' agreement) against the human majority.
    calibration: CalibrationReport | None = field(default=None, repr=False)
    #: The video of each candidate example item that has one (from the run's items file), for the report's
    #: thumbnail strips (``comparison.media_strip``).
    videos: dict[str, str] = field(default_factory=dict, repr=False)

    def to_markdown(self, top: int = 5) -> str:
        """A short Markdown summary (what the CLI prints)."""
        from prelabel.comparison.report import markdown_summary

        return markdown_summary(self, top=top)

    def to_html(self, path: str | Path) -> Path:
        """Write the self-contained HTML report to ``path``."""
        from prelabel.comparison.report import write_html

        return write_html(self, Path(path))

    def save(self, directory: str | Path, html: bool = True) -> dict[str, Path]:
        """Write ``metrics.json``, ``disagreements.csv``, ``ambiguity_candidates.csv`` and ``report.html``."""
        out = Path(directory)
        with together():  # every file of the report, or none
            paths = self.metrics.save(out)  # creates ``out``
            paths |= {
                "disagreements": out / "disagreements.csv",
                "candidates": out / "ambiguity_candidates.csv",
            }
            self._write_tables(paths, html)
        return paths

    def _write_tables(self, paths: dict[str, Path], html: bool) -> None:
        out = paths["metrics"].parent
        with writing(paths["metrics"]):
            for name in ("disagreements", "candidates"):
                write_csv(getattr(self, name), paths[name])
            if html:
                paths["report"] = self.to_html(out / "report.html")
            else:  # an earlier report would not describe these figures
                (out / "report.html").unlink(missing_ok=True)


def _sources(results: object, humans: object, frame: pd.DataFrame) -> Sources | None:
    """``sources`` when the results or human labels were files (their absolute paths)."""
    paths = {
        name: str(value) if "://" in str(value) else str(Path(value).resolve())
        for name, value in (("results", results), ("humans", humans))
        if isinstance(value, str | Path)
    }
    if not paths:
        return None
    kind = frame.attrs.get("vendor", {}).get("format", "table") if "humans" in paths else None
    return Sources(**paths, humans_format=kind)


def _human_metrics(prep: Prepared) -> HumanAgreement:
    ratings = prep.ratings
    patterns = prep.patterns  # the figures are sums over items: each distinct count row once, weighted
    figures = irr.summary(patterns.rows, np.bincount(patterns.codes, minlength=len(patterns.rows)))
    out = HumanAgreement(
        n_items=ratings.n_items,
        n_annotators=len(ratings.annotators),
        n_annotations=len(ratings.item),
        n_items_paired=int((ratings.n_raters >= 2).sum()),
        percent_agreement=figures.percent_agreement,
        pairwise_agreement=figures.pairwise_agreement,
        fleiss_kappa=figures.fleiss_kappa,
        krippendorff_alpha=figures.krippendorff_alpha,
        per_annotator=annotator_rows(per_annotator(ratings, prep.leave_one_out)[0]),
    )
    if prep.space.multi_label:
        out.per_label = prep.per_label_agreement()
    estimates = prep.consensus.estimates
    if estimates is not None:
        out.aggregation = estimates
        prep.notes.append(
            f"the human consensus is {estimates.method}'s (crowd-kit), not majority vote: "
            f"{estimates.n_changed} items differ from their untied majority"
        )
    if len(ratings.annotators) < 2:
        prep.notes.append("only one annotator: agreement among humans (κ, α, percent agreement) is undefined")
    elif out.fleiss_kappa is None:
        prep.notes.append(
            "agreement among humans is undefined: no item has two labels, or only one class is used"
        )
    return out


def agreement(
    humans: str | Path | pd.DataFrame,
    *,
    wide: bool = False,
    sop: SOP | None = None,
    multi_label: bool | None = None,
    slices: list[str] | None = None,
    annotators: list[str] | None = None,
    aggregate: str = "majority",
    gold: str | Path | pd.DataFrame | None = None,
    target_accuracy: float | None = None,
    fast_seconds: float | None = None,
    humans_format: str = "auto",
    engine: str = "auto",
) -> AgreementMetrics:
    """Agreement among human annotators only (no model); ``model_dump(mode="json")`` is ``metrics.json``.

    Fields: ``percent_agreement`` (mean majority share), ``pairwise_agreement``, ``fleiss_kappa``,
    ``krippendorff_alpha``, ``n_items``, ``n_annotators``,
    ``n_annotations``, ``per_annotator`` (each annotator vs the others' consensus), ``slices``, ``skipped``,
    ``notes``, ``vendor_qa``. Undefined figures (one annotator, one class) are ``None`` and explained in
    ``notes``. ``aggregate`` forms the human consensus (`prelabel.comparison.aggregation`); ``gold``,
    ``target_accuracy`` and ``fast_seconds`` feed ``vendor_qa`` (`prelabel.comparison.vendor_qa`).
    ``engine`` reads the files (``auto``, ``pandas``, ``duckdb``: `prelabel.comparison.engines`).

        >>> import pandas as pd, prelabel
        >>> humans = pd.DataFrame({"item_id": ["1", "1", "2", "2"], "annotator": ["x", "y"] * 2,
        ...                        "label": ["a", "a", "b", "a"]})
        >>> got = prelabel.agreement(humans)
        >>> got.n_items, got.percent_agreement, got.skipped.annotations_empty
        (2, 0.75, 0)
    """
    check_settings(target_accuracy, fast_seconds)
    frame, votes, gold_rows = _human_votes(
        humans, wide, slices, annotators, sop, humans_format, check_engine(engine)
    )
    prep = prepare(votes, None, label_space(sop, multi_label), aggregate)
    prep.notes[:0] = [*frame.attrs.get("notes", []), *frame.attrs.get("warnings", [])]
    if len(prep.ratings.item) == 0:
        raise InputError(f"no usable human label (skipped: {_describe(prep.skipped)})")
    humans_metrics = _human_metrics(prep)
    qa = _vendor_qa(prep, frame, votes, gold_rows, gold, sop, target_accuracy, fast_seconds)
    return AgreementMetrics(
        **given(humans_metrics),
        slices=slice_agreement(prep),
        task="multi_label" if prep.space.multi_label else "single_label",
        skipped=prep.skipped_counts(),
        skipped_examples=prep.examples,
        notes=prep.notes,
        definitions={k: DEFINITIONS[k] for k in ("percent_agreement", "pairwise_agreement", "abstentions")},
        vendor_qa=qa,
    )


def _human_votes(
    humans: str | Path | pd.DataFrame,
    wide: bool,
    slices: list[str] | None,
    annotators: list[str] | None,
    sop: SOP | None,
    humans_format: str,
    engine: str,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The human labels read (`read_human_labels`), their votes and their gold rows (gold annotations are
    the key of vendor QA, not votes)."""
    frame = read_human_labels(
        humans,
        wide=wide,
        slices=slices,
        annotators=annotators,
        sop=sop,
        humans_format=humans_format,
        engine=engine,
    )
    votes, gold_rows = split_gold(frame)
    return frame, votes, gold_rows


def _vendor_qa(
    prep: Prepared,
    frame: pd.DataFrame,
    votes: pd.DataFrame,
    gold_rows: pd.DataFrame,
    gold: str | Path | pd.DataFrame | None,
    sop: SOP | None,
    target_accuracy: float | None,
    fast_seconds: float | None,
) -> VendorQA:
    texts = frame[["item_id", "text"]] if "text" in frame.columns else None
    key = gold_key(prep.space, rows=gold_rows, file=gold, sop=sop, texts=texts)
    fast = FAST_SECONDS if fast_seconds is None else fast_seconds
    return vendor_qa(prep, votes, key, target_accuracy=target_accuracy, fast_seconds=fast)


def compare(
    results: str | Path | pd.DataFrame,
    humans: str | Path | pd.DataFrame,
    *,
    sop: SOP | None = None,
    wide: bool = False,
    multi_label: bool | None = None,
    slices: list[str] | None = None,
    confident: float = 0.7,
    examples: int = 3,
    annotators: list[str] | None = None,
    aggregate: str = "majority",
    gold: str | Path | pd.DataFrame | None = None,
    target_accuracy: float | None = None,
    fast_seconds: float | None = None,
    humans_format: str = "auto",
    engine: str = "auto",
) -> Comparison:
    """Compare model results with human labels.

    ``results``: ``labels.jsonl``, a run directory, or a DataFrame (``item_id``, ``label``/``labels``,
    optional ``status``, ``confidence``, ``cited_rules``, ``samples``). ``humans``: CSV or DataFrame, long
    form (``item_id,annotator,label``) or wide with ``wide=True`` (``annotators`` names the annotator
    columns; without it they are inferred, see `read_human_labels`), or a Label Studio/Argilla export
    (``humans_format``: ``auto`` detects it from the content; gold annotations are not votes). ``sop``
    checks labels against the SOP, rolls leaves up its tree and quotes its text in the candidates. A model
    answer counts as confident when its certainty (agreement of self-consistency ``samples`` if present,
    else ``confidence`` in [0, 1]) is at least ``confident``; an unknown certainty never is.
    ``metrics.definitions`` says how ties, abstentions and unknown certainty are treated. ``aggregate``
    forms the human consensus: ``majority`` (default), ``dawid-skene``, ``glad`` or ``mace``
    (`prelabel.comparison.aggregation`, extra ``prelabel[qa]``). Human-label rows whose ``gold`` column is
    true are gold, not votes; they, a ``gold`` file (``item_id``, ``label``) and the ``sop``'s tests matched
    by text give each annotator's accuracy against gold in ``metrics.vendor_qa``, with agreement and
    throughput per annotator, vendor and market (`prelabel.comparison.vendor_qa`; ``target_accuracy`` flags
    agents below it, ``fast_seconds`` sets what a very fast answer is). ``engine`` reads the files:
    ``pandas``, ``duckdb`` (a fraction of the time and memory for big files; patterns such as
    ``humans/*.parquet``) or ``auto`` (DuckDB for big inputs when installed; `prelabel.comparison.engines`);
    the figures are the same.
    """
    check_settings(target_accuracy, fast_seconds)
    engine = check_engine(engine)
    if engine == "auto":  # one engine for both inputs, by their size together
        engine = "duckdb" if wants_duckdb("auto", [results, humans]) else "pandas"
    res = read_results(results, engine)
    frame, votes, gold_rows = _human_votes(humans, wide, slices, annotators, sop, humans_format, engine)
    prep = prepare(votes, res, label_space(sop, multi_label, res), aggregate)
    prep.notes[:0] = frame.attrs.get("notes", [])
    prep.skipped["model_rows_truncated"] = res.attrs.get("truncated", 0)
    found = provenance(res)
    warnings = [*res.attrs.get("warnings", []), *sop_warnings(found.sop_versions, sop)]
    warnings += frame.attrs.get("warnings", [])  # a vendor export's tasks that are not votes
    space = prep.space
    if prep.n_compared == 0:
        raise InputError(
            f"no item has both a model label and a human label (model rows: {len(res)}, human items: "
            f"{int(prep.human_rows.sum())}; skipped: {_describe(prep.skipped)}); do the item ids match?"
        )
    humans_metrics = _human_metrics(prep)
    qa = _vendor_qa(prep, frame, votes, gold_rows, gold, sop, target_accuracy, fast_seconds)
    rolled = rolled_levels(prep)
    model = model_metrics(prep, rolled)
    vs = model.vs_majority
    prep.skipped["items_majority_tied"] = vs.n_tied_excluded
    if vs.n_tied_excluded:
        prep.notes.append(
            f"{vs.n_tied_excluded} of {prep.n_compared} compared items have a tied human majority: the "
            f"figures against the majority use the other {vs.n}"
        )
    unknown, out_of_range, notes = certainty_notes(prep.confidence, prep.certainty, prep.compared)
    prep.notes.extend(notes)
    dis = disagreements_frame(prep, confident=confident)
    cands = candidates_frame(dis, prep, examples=examples)
    summary = Summary(
        n_compared=prep.n_compared,
        n_vs_majority=vs.n,
        accuracy=vs.accuracy,
        macro_f1=vs.macro_f1,
        **({"micro_f1": vs.micro_f1} if space.multi_label else {}),
        kappa_vs_majority=vs.kappa,
        n_human_paired=humans_metrics.n_items_paired,
        percent_agreement=humans_metrics.percent_agreement,
        pairwise_agreement=humans_metrics.pairwise_agreement,
        fleiss_kappa=humans_metrics.fleiss_kappa,
        krippendorff_alpha=humans_metrics.krippendorff_alpha,
        n_disagreements=len(dis),
        n_candidates=len(cands),
    )
    metrics = ComparisonMetrics(
        task="multi_label" if space.multi_label else "single_label",
        sop=None if sop is None else SopRef(id=sop.id, version=sop.version, sha256=sop.sha256),
        provenance=found,
        summary=summary,
        counts=prep.counts(len(res)),
        skipped=prep.skipped_counts(),
        skipped_examples=prep.examples,
        notes=prep.notes,
        definitions=dict(DEFINITIONS),
        model_vs_majority=vs,
        model_vs_annotators=model.vs_annotators,
        levels=model.levels,
        humans=humans_metrics,
        slices=slice_metrics(prep, rolled),
        ambiguity=Ambiguity(
            confident_threshold=confident,
            kinds={str(k): int(v) for k, v in dis["kind"].value_counts(sort=False).items() if v},
            certainty_unknown=unknown,
            confidence_out_of_range=out_of_range,
        ),
        vendor_qa=qa,
    )
    if warnings:  # written only when there are some
        metrics.warnings = warnings
    sources = _sources(results, humans, frame)
    if sources is not None:  # written only when files were read
        metrics.sources = sources
    examples_ids = [i for ids in cands.get("example_item_ids", []) for i in str(ids).split(";")]
    videos = run_videos(results, examples_ids)
    return Comparison(metrics, dis, cands, sop, prepared_calibration_report(prep, res), videos)


def _describe(skipped: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in skipped.items() if v) or "nothing"
