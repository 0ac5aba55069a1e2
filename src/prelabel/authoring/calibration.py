"""Calibration quizzes for vendor annotators, drawn from the SOP the model reads, with a separate answer key.

Items come, in this order of priority, from the top ambiguity candidates of a comparator report once the SOP
author has ruled on them (a candidate's example item counts as ruled when the SOP now has an edge case with
the same text), the SOP's edge cases, its tests and — for single-label SOPs — its examples (round-robin over
the leaves, so every label is covered; a multi-label example names one label, not the whole answer).
The quiz (``item_id``, ``text``, ``language``) goes to annotators; the key (``item_id``, ``label``,
``source``, ``source_id``, ``ruling``, ``rules``, ``sop_id``, ``sop_version``) stays with the team lead.

    >>> import prelabel
    >>> calib = prelabel.calibration_set(prelabel.bundled_sop("customer_feedback_intent"), n=6, seed=1)
    >>> list(calib.quiz.columns), len(calib.key), sorted(set(calib.key["source"]))
    (['item_id', 'text', 'language'], 6, ['edge_case', 'test'])
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from prelabel._jsonio import atomic_path, check_output, together
from prelabel.authoring._templates import output_path
from prelabel.comparison.ambiguity import SMOKE_CANDIDATE_NOTE
from prelabel.errors import InputError
from prelabel.inputs.tables import read_table
from prelabel.sop.spec import SOP

__all__ = ["KEY_COLUMNS", "QUIZ_COLUMNS", "CalibrationSet", "calibration_set", "key_path"]

QUIZ_COLUMNS = ["item_id", "text", "language"]
KEY_COLUMNS = ["item_id", "label", "source", "source_id", "ruling", "rules", "sop_id", "sop_version"]


def key_path(quiz_path: str | Path) -> Path:
    """Where the answer key of a quiz goes: ``calib.csv`` → ``calib_key.csv``."""
    path = Path(quiz_path)
    return path.with_name(f"{path.stem}_key{path.suffix or '.csv'}")


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _row(
    text: str, labels: list[str], language: str | None, source: str, source_id: str, **extra: str
) -> dict:
    ruling, rules = extra.get("ruling", ""), extra.get("rules", "")
    labels_text = ";".join(labels)
    return {"text": text, "language": language or "", "label": labels_text, "source": source,
            "source_id": source_id, "ruling": ruling, "rules": rules}  # fmt: skip


def _from_report(sop: SOP, report: Path, top: int, notes: list[str]) -> Iterator[dict]:
    path = report / "ambiguity_candidates.csv" if report.is_dir() else report
    if not path.is_file():
        raise InputError(f"{report}: no ambiguity_candidates.csv (write one with `prelabel compare`)")
    frame = read_table(path, "ambiguity candidates")
    if "cluster" not in frame.columns:
        raise InputError(f"{path}: not an ambiguity_candidates.csv (no 'cluster' column)")
    if "examples" not in frame.columns or not frame["examples"].str.strip().any():
        notes.append(f"{path} has no example texts (the compared labels had no 'text' column)")
        return
    if "model_note" in frame.columns and frame["model_note"].str.strip().any():
        notes.append(
            f"{path}: some candidates were {SMOKE_CANDIDATE_NOTE}; which of them are quizzed first "
            "illustrates the mechanics only"
        )
    rulings = {_norm(case.text): case for case in sop.edge_cases}
    unruled = []
    for _, candidate in frame.head(top).iterrows():
        ruled = [rulings.get(_norm(t)) for t in str(candidate["examples"]).split(" || ") if t.strip()]
        for case in filter(None, ruled):
            source_id = f"{case.id} ({candidate['cluster']})"
            yield _row(case.text, case.label, case.language, "report", source_id, ruling=case.ruling,
                       rules=";".join(case.rules))  # fmt: skip
        if not any(ruled):
            unruled.append(str(candidate["cluster"]))
    if unruled:
        notes.append(
            f"{len(unruled)} of the top {top} candidates have no ruling in the SOP yet "
            f"({'; '.join(unruled)}): add an edge case with one of their example texts to quiz them"
        )


def _examples(sop: SOP) -> Iterator[dict]:
    """Leaf examples round-robin over the leaves: the first example of every label, then the second, ..."""
    queues = [(label, list(label.examples)) for label in sop.label_index.values() if label.is_leaf]
    while any(examples for _, examples in queues):
        for label, examples in queues:
            if examples:
                ex = examples.pop(0)
                yield _row(ex.text, [label.id], ex.language, "example", label.id, ruling=label.definition)


def _pool(sop: SOP, report: Path | None, top: int, notes: list[str]) -> Iterator[dict]:
    if report is not None:
        yield from list(_from_report(sop, report, top, notes))  # read whole, so its notes are complete
    for case in sop.edge_cases:
        yield _row(case.text, case.label, case.language, "edge_case", case.id, ruling=case.ruling,
                   rules=";".join(case.rules))  # fmt: skip
    for i, test in enumerate(sop.tests, 1):
        yield _row(
            test.text, test.expect, test.language, "test", test.id or f"tests[{i}]", ruling=test.note or ""
        )
    if sop.multi_label:
        if any(label.examples for label in sop.label_index.values()):
            notes.append(
                "examples are not used: in a multi-label SOP an example names one label, not the answer"
            )
    else:
        yield from _examples(sop)


@dataclass(frozen=True)
class CalibrationSet:
    """What `calibration_set` returns: the ``quiz`` for annotators, the answer ``key``, and ``notes``."""

    quiz: pd.DataFrame
    key: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @staticmethod
    def outputs(
        path: str | Path, key: str | Path | None = None, *, overwrite: bool = False
    ) -> tuple[Path, Path]:
        """The quiz and key files ``save`` writes, checked before any work (``prelabel.check_output``): not
        the same file, not existing unless ``overwrite``, in folders that take files."""
        quiz_out = Path(path)
        key_out = Path(key) if key is not None else key_path(quiz_out)
        if quiz_out.resolve() == key_out.resolve():
            raise InputError(f"the quiz and its key would both be {quiz_out}")
        return check_output(quiz_out, overwrite=overwrite), check_output(key_out, overwrite=overwrite)

    def save(
        self, path: str | Path, key: str | Path | None = None, *, overwrite: bool = False
    ) -> tuple[Path, Path]:
        """Write the quiz CSV to ``path`` and the key beside it (``calib_key.csv``); refuse to replace files
        unless ``overwrite``."""
        quiz_out, key_out = self.outputs(path, key, overwrite=overwrite)
        quiz_out, key_out = output_path(quiz_out, overwrite), output_path(key_out, overwrite)
        with together(), atomic_path(quiz_out) as quiz_temp, atomic_path(key_out) as key_temp:
            self.quiz.to_csv(quiz_temp, index=False)
            self.key.to_csv(key_temp, index=False)
        return quiz_out, key_out


def calibration_set(
    sop: SOP,
    n: int = 20,
    *,
    report: str | Path | None = None,
    top: int = 10,
    language: str | None = None,
    seed: int = 0,
) -> CalibrationSet:
    """A quiz of up to ``n`` items and its answer key (see the module docstring for where items come from).

    ``report``: a comparator report directory (or its ``ambiguity_candidates.csv``); its ``top`` candidates
    are quizzed first when the SOP has ruled on them. ``language`` keeps items in that language (and those
    with none). ``seed`` fixes the quiz order; item ids (``q01``, ...) carry no hint of the answer.
    """
    if n < 1:
        raise InputError(f"a quiz needs at least one item (n={n})")
    notes: list[str] = []
    seen: set[str] = set()
    chosen: list[dict] = []
    for row in _pool(sop, Path(report) if report is not None else None, top, notes):
        if _norm(row["text"]) in seen or (language and row["language"] not in ("", language)):
            continue
        seen.add(_norm(row["text"]))
        chosen.append(row)
        if len(chosen) == n:
            break
    if not chosen:
        where = f" in language '{language}'" if language else ""
        raise InputError(f"{sop.id} has no edge cases, tests or examples{where} to quiz")
    if len(chosen) < n:
        notes.append(f"only {len(chosen)} items available (asked for {n})")
    random.Random(seed).shuffle(chosen)
    width = max(2, len(str(len(chosen))))
    frame = pd.DataFrame(chosen)
    frame.insert(0, "item_id", [f"q{i:0{width}d}" for i in range(1, len(chosen) + 1)])
    frame["sop_id"], frame["sop_version"] = sop.id, sop.version
    return CalibrationSet(frame[QUIZ_COLUMNS].copy(), frame[KEY_COLUMNS].copy(), notes)
