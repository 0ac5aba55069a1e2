"""Score annotators' calibration answers against the quiz's answer key, with the comparator's figures.

The key plays the model's part in `prelabel.compare`, so each annotator's accuracy and Cohen's κ against the
key are the comparator's ``model_vs_annotators`` figures, computed here in one pass over all answers (κ from
each annotator's counts, as scikit-learn's ``cohen_kappa_score`` computes it; ``None`` when the annotator and
the key use one label between them). Answers are canonical as in compare (`prelabel.comparison.semantics`:
NFC, no zero-width characters); multi-label answers are compared as label sets (order does not matter; the
exact set is correct). On screen (`CalibrationScore.to_markdown`) a large panel is summarised: its best and
weakest annotators and the spread; every annotator is in ``annotators.csv``.

Nothing is dropped silently: an answer for an item that is not in the key is reported and counted (it cannot
be scored); an answer with a label that is not in the SOP (or, without an SOP, not in the key) is reported,
counted and scored as wrong; a blank answer is reported and counts as unanswered; a second answer by the same
annotator to the same item is reported and the last one is scored.

    >>> import pandas as pd, prelabel
    >>> key = pd.DataFrame({"item_id": ["q1", "q2"], "label": ["a", "b"]})
    >>> answers = pd.DataFrame({"item_id": ["q1", "q2"], "annotator": "ann", "label": ["a", "a"]})
    >>> score = prelabel.score_calibration(key, answers)
    >>> score.annotators[["annotator", "answered", "correct", "accuracy"]].to_dict("records")
    [{'annotator': 'ann', 'answered': 2, 'correct': 1, 'accuracy': 0.5}]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from prelabel._jsonio import atomic_path, together, write_json
from prelabel.authoring._templates import output_path
from prelabel.comparison.readers import read_human_labels
from prelabel.comparison.semantics import LabelSpace
from prelabel.errors import InputError
from prelabel.inputs.ids import normalize_id
from prelabel.inputs.tables import read_table
from prelabel.sop.spec import SOP

__all__ = ["SCORE_FILES", "CalibrationScore", "read_key", "score_calibration"]

#: What `CalibrationScore.save` writes into its directory.
SCORE_FILES = {
    "summary": "calibration.json",
    "annotators": "annotators.csv",
    "labels": "labels.csv",
    "missed": "most_missed.csv",
    "problems": "problems.csv",
}


#: Quiz answers are label sets (even for single-label SOPs), written canonically as compare writes them.
_ANSWERS = LabelSpace(multi_label=True)
#: Annotators listed on screen at most; a larger panel shows its `SHOWN_EACH` best and weakest.
SHOWN_ALL, SHOWN_EACH = 20, 5


def read_key(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """An answer key (``item_id``, ``label``, other columns kept) with canonical label text, checked."""
    if isinstance(source, pd.DataFrame):
        frame, name = source.copy(), "answer key"
    else:
        frame, name = read_table(Path(source), "answer key"), str(source)
    missing = [c for c in ("item_id", "label") if c not in frame.columns]
    if missing:
        raise InputError(f"{name}: missing column(s) {', '.join(missing)} (is this the _key.csv file?)")
    if frame.empty:
        raise InputError(f"{name}: the answer key is empty")
    frame["item_id"] = frame["item_id"].map(normalize_id)
    if frame["item_id"].isna().any():
        raise InputError(f"{name}: row {int(frame['item_id'].isna().to_numpy().argmax()) + 2} has no item_id")
    frame["label"] = frame["label"].map(_ANSWERS.canonical)
    if (frame["label"] == "").any():
        raise InputError(f"{name}: item {frame.loc[frame['label'] == '', 'item_id'].iloc[0]} has no label")
    duplicated = frame["item_id"].duplicated()
    if duplicated.any():
        raise InputError(f"{name}: item id '{frame.loc[duplicated, 'item_id'].iloc[0]}' appears twice")
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class CalibrationScore:
    """Per-annotator and per-label accuracy, κ against the key, the items most missed, and every problem."""

    summary: dict[str, Any]
    annotators: pd.DataFrame
    labels: pd.DataFrame
    missed: pd.DataFrame
    problems: pd.DataFrame

    def to_markdown(self, top: int = 5) -> str:
        """A short Markdown summary (what the CLI prints): every annotator of a panel of up to `SHOWN_ALL`,
        else the `SHOWN_EACH` best and weakest by accuracy (then κ) and the spread (all are in
        ``annotators.csv``)."""
        s = self.summary
        lines = [
            f"{s['n_annotators']} annotators, {s['n_items']} quiz items, {s['n_scored']} answers scored: "
            f"accuracy {_fmt(s['accuracy'])}",
        ]
        table = self.annotators
        if len(table) <= SHOWN_ALL:
            lines += ["", *self._rows(table)]
        else:
            ranked = table.sort_values(
                ["accuracy", "kappa", "annotator"], ascending=[False, False, True], na_position="last"
            )
            weakest = table.sort_values(
                ["accuracy", "kappa", "annotator"], ascending=[True, True, True], na_position="first"
            )
            accuracy = table["accuracy"]
            lines += [
                f"per annotator: accuracy median {_fmt(accuracy.median())}, lowest {_fmt(accuracy.min())}, "
                f"highest {_fmt(accuracy.max())}; {int((table['unanswered'] > 0).sum())} left items "
                "unanswered (every annotator: annotators.csv)",
                "",
                f"Best {SHOWN_EACH} by accuracy:",
                "",
                *self._rows(ranked.head(SHOWN_EACH)),
                "",
                f"Weakest {SHOWN_EACH} by accuracy:",
                "",
                *self._rows(weakest.head(SHOWN_EACH)),
            ]
        if len(self.missed):
            lines += ["", "Most missed:"]
            lines += [
                f"- {r.item_id} (key {r.label}): {r.n_wrong}/{r.n_answers} wrong — {r.wrong_answers}"
                for r in self.missed.head(top).itertuples()
            ]
        problems = {k: v for k, v in s["problems"].items() if v}
        if problems:
            lines += [
                "",
                "Problems (see problems.csv): " + ", ".join(f"{k} {v}" for k, v in problems.items()),
            ]
        return "\n".join(lines)

    def _rows(self, table: pd.DataFrame) -> list[str]:
        n_items = self.summary["n_items"]
        return [
            "| annotator | answered | correct | accuracy | κ vs key |",
            "|---|---|---|---|---|",
            *(
                f"| {r.annotator} | {r.answered}/{n_items} | {r.correct} | {_fmt(r.accuracy)} "
                f"| {_fmt(r.kappa)} |"
                for r in table.itertuples()
            ),
        ]

    def save(self, directory: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
        """Write `SCORE_FILES` into ``directory``; refuse to replace them unless ``overwrite``."""
        out = Path(directory)
        if out.exists() and not out.is_dir():
            raise InputError(f"{out} is a file; give a directory for the scores")
        paths = {name: output_path(out / file, overwrite) for name, file in SCORE_FILES.items()}
        with together():  # every score file, or none
            write_json(paths["summary"], self.summary)
            for name in ("annotators", "labels", "missed", "problems"):
                with atomic_path(paths[name]) as temp:
                    getattr(self, name).to_csv(temp, index=False)
        return paths


def _fmt(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.3f}"


def _problems(answers: pd.DataFrame, key: pd.DataFrame, allowed: set[str], source: str) -> pd.DataFrame:
    """One row per answer that cannot be scored as given, with the problem; marks ``answers['problem']``."""
    known_items = set(key["item_id"])
    problem = pd.Series("", index=answers.index, dtype=object)
    problem[answers["label"] == ""] = "blank answer (counted as unanswered)"
    unknown_label = _per_value(
        answers["label"], lambda v: bool(v) and any(p not in allowed for p in v.split(";"))
    ).astype(bool)
    problem[unknown_label] = f"unknown label (not in the {source}; scored as wrong)"
    problem[~answers["item_id"].isin(known_items)] = "unknown item (not in the key; not scored)"
    repeated = answers.duplicated(["annotator", "item_id"], keep="last") & (problem == "")
    problem[repeated] = "repeated answer (the annotator's last answer to this item is scored)"
    answers["problem"] = problem
    rows = answers[problem != ""]
    return pd.DataFrame(
        {
            "row": rows.index + 2,
            "item_id": rows["item_id"],
            "annotator": rows["annotator"],
            "label": rows["label"],
            "problem": rows["problem"],
        }
    ).reset_index(drop=True)


def _per_value(values: pd.Series, function: Callable[[Any], Any]) -> np.ndarray:
    """``function`` of each cell, computed once per distinct value (a panel answers few distinct labels)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    mapped = np.empty(len(uniques), dtype=object)
    mapped[:] = [function(u) for u in uniques]
    return mapped[codes]


def _read_answers(
    answers: str | Path | pd.DataFrame, wide: bool, humans_format: str
) -> tuple[pd.DataFrame, list[str]]:
    """The answers, and what reading a vendor export of them said (not votes: counted, warned)."""
    frame = read_human_labels(answers, wide=wide, humans_format=humans_format, votes=True)
    said = (
        [*frame.attrs.get("warnings", []), *frame.attrs.get("notes", [])] if "vendor" in frame.attrs else []
    )
    frame = frame.reset_index(drop=True)
    answered = frame.assign(
        item_id=_per_value(frame["item_id"], lambda value: normalize_id(value) or ""),
        annotator=frame["annotator"].astype(str).str.strip(),
        label=_ANSWERS.answers(frame["label"]),
    )
    return answered, said


def annotator_figures(
    annotator: np.ndarray, given: np.ndarray, truth: np.ndarray, n_annotators: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[float | None]]:
    """Per annotator code: answers, correct answers, accuracy and Cohen's κ against the key, in one pass.

    ``given`` and ``truth`` are label codes (the annotator's answer and the key's, one row per answer).
    κ is scikit-learn's ``cohen_kappa_score`` of the annotator's answers against the key's, from counts:
    ``1 - (n - correct) / E`` with ``E = (n² - Σ_c answered_c · key_c) / n`` the disagreement expected by
    chance (``None`` when the two use one label between them: κ is undefined).
    """
    n = np.bincount(annotator, minlength=n_annotators)
    correct = np.bincount(annotator, weights=given == truth, minlength=n_annotators).astype(np.int64)
    space = int(max(given.max(), truth.max())) + 1
    by_given = annotator.astype(np.int64) * space + given
    by_truth = annotator.astype(np.int64) * space + truth
    cells_given, count_given = np.unique(by_given, return_counts=True)
    cells_truth, count_truth = np.unique(by_truth, return_counts=True)
    both, i, j = np.intersect1d(cells_given, cells_truth, assume_unique=True, return_indices=True)
    chance = np.bincount(
        both // space, weights=count_given[i] * count_truth[j], minlength=n_annotators
    )  # Σ_c answered_c · key_c, exact in float64 below 2^53
    used = np.bincount(np.union1d(cells_given, cells_truth) // space, minlength=n_annotators)
    expected = (n.astype(np.float64) * n - chance) / np.maximum(n, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = 1 - (n - correct) / expected
    accuracy = correct / np.maximum(n, 1)
    return n, correct, accuracy, [float(k) if u >= 2 else None for k, u in zip(kappa, used, strict=True)]


def _per_annotator(scored: pd.DataFrame, key: pd.DataFrame, problems: pd.DataFrame) -> pd.DataFrame:
    # the key plays the model: the comparator's model-vs-annotator figures are accuracy and κ against the key
    annotator, names = pd.factorize(scored["annotator"], sort=True)
    labels, _ = pd.factorize(pd.concat([scored["label"], scored["key"]], ignore_index=True))
    given, truth = labels[: len(scored)], labels[len(scored) :]
    n, correct, accuracy, kappa = annotator_figures(annotator, given, truth, len(names))
    out = pd.DataFrame({"annotator": names, "answered": n, "correct": correct})
    out["accuracy"] = accuracy
    out["kappa"] = kappa
    out["unanswered"] = len(key) - out["answered"]
    for column, prefix in (("unknown_items", "unknown item"), ("unknown_labels", "unknown label")):
        counts = problems.loc[problems["problem"].str.startswith(prefix), "annotator"].value_counts()
        out[column] = counts.reindex(out["annotator"], fill_value=0).to_numpy(dtype=np.int64)
    return out


def _tally(answers: pd.Series) -> str:
    counts: Counter[str] = Counter(answers)
    return " | ".join(f"{label} ×{n}" for label, n in counts.most_common())


def _most_missed(scored: pd.DataFrame, key: pd.DataFrame) -> pd.DataFrame:
    wrong = scored[~scored["correct"]]
    out = scored.groupby("item_id")["correct"].agg(n_answers="size", n_correct="sum").reset_index()
    out["n_wrong"] = out["n_answers"] - out["n_correct"]
    out = out[out["n_wrong"] > 0].drop(columns="n_correct")
    out["miss_rate"] = out["n_wrong"] / out["n_answers"]
    tallies = wrong.groupby("item_id")["label"].agg(_tally)
    out["wrong_answers"] = out["item_id"].map(tallies)
    columns = [c for c in ("label", "source", "source_id") if c in key.columns]
    out = out.merge(key[["item_id", *columns]], on="item_id", how="left")
    order = ["miss_rate", "n_wrong", "item_id"]
    return out.sort_values(order, ascending=[False, False, True], kind="stable").reset_index(drop=True)


def score_calibration(
    key: str | Path | pd.DataFrame,
    answers: str | Path | pd.DataFrame,
    *,
    sop: SOP | None = None,
    wide: bool = False,
    humans_format: str = "auto",
) -> CalibrationScore:
    """Score ``answers`` against an answer ``key`` (from `prelabel.calibration_set`).

    ``answers``: long ``item_id,annotator,label`` or, with ``wide=True``, ``item_id`` and one column per
    annotator; or a Label Studio/Argilla export of the quiz (``humans_format``, see
    `prelabel.read_human_labels`). ``sop`` checks answer labels against the SOP (and that the key is the
    SOP's); without it, labels are checked against the key's.
    """
    key_frame = read_key(key)
    if sop is not None and "sop_id" in key_frame.columns and (key_frame["sop_id"] != sop.id).any():
        raise InputError(f"the answer key is for SOP '{key_frame['sop_id'].iloc[0]}', not '{sop.id}'")
    frame, said = _read_answers(answers, wide, humans_format)
    if sop is not None:
        allowed, source = set(sop.answer_ids), f"SOP {sop.id}"
    else:
        allowed, source = {p for v in key_frame["label"] for p in v.split(";")}, "answer key"
    problems = _problems(frame, key_frame, allowed, source)
    usable = _per_value(frame["problem"], lambda p: p == "" or p.startswith("unknown label")).astype(bool)
    scored = frame[usable].drop_duplicates(["annotator", "item_id"], keep="last").copy()
    if scored.empty:
        first = problems["problem"].iloc[0] if len(problems) else "none"
        raise InputError(f"no answer can be scored ({len(problems)} problem(s); first: {first})")
    truth = dict(zip(key_frame["item_id"], key_frame["label"], strict=True))
    scored["key"] = scored["item_id"].map(truth)
    scored["correct"] = scored["label"] == scored["key"]
    by_key = scored.groupby("key", sort=False)["correct"].agg(n_answers="size", correct="sum")
    exploded = by_key.assign(label=by_key.index.str.split(";")).explode("label")  # one row per key label
    per_label = exploded.groupby("label", sort=True)[["n_answers", "correct"]].sum()
    per_label["accuracy"] = per_label["correct"] / per_label["n_answers"]
    kinds = Counter(p.split(" (")[0] for p in problems["problem"])
    summary = {
        "n_items": len(key_frame),
        "n_annotators": int(scored["annotator"].nunique()),
        "n_answers": len(frame),
        "n_scored": len(scored),
        "accuracy": float(scored["correct"].mean()),
        "problems": {
            k: int(kinds[k]) for k in ("unknown item", "unknown label", "blank answer", "repeated answer")
        },
        "sop": None if sop is None else {"id": sop.id, "version": sop.version},
        **({"human_labels_notes": said} if said else {}),
    }
    return CalibrationScore(
        summary,
        _per_annotator(scored, key_frame, problems),
        per_label.reset_index(),
        _most_missed(scored, key_frame),
        problems,
    )
