"""Labeling on Ray Data: ``label(ds, sop, options, out_dir=...)`` maps a Ray Dataset's blocks through the same
labeler as ``prelabel run`` and returns the dataset with the answer columns (`ANSWER_SCHEMA`).

Each batch is labeled by ``prelabel.run`` into its own run directory, ``OUT_DIR/blocks/<key>/``, keyed by the
batch's content: its ledger commits every answer as it arrives, so when Ray retries a task (an actor died,
a node went away) the retry resumes from that ledger and no item is labeled twice; rerunning the whole job
on the same ``OUT_DIR`` resumes the same way. One result per input row, in order, with the same error
records as ``prelabel run``. Actors (``actors``) each run ``options.concurrency`` requests at a time; the
rate limits (``options.rpm``/``tpm``) are the endpoint's, shared by splitting them evenly across actors.

Needs ``pip install 'prelabel[ray]'``. See docs/guides/ray.md for the vLLM + Ray pattern.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prelabel.errors import InputError
from prelabel.labeling.options import LabelOptions
from prelabel.labeling.runner import ResultSink, run
from prelabel.runs.labels import read_labels
from prelabel.sop.spec import SOP, load_sop

if TYPE_CHECKING:
    import pyarrow as pa
    import ray.data

__all__ = ["ANSWER_COLUMNS", "BLOCKS", "answer_schema", "label"]

#: Where the per-batch run directories go inside ``out_dir``.
BLOCKS = "blocks"
#: The columns ``label`` adds, from each result line of ``labels.jsonl``.
ANSWER_COLUMNS = (
    "status",
    "label",
    "labels",
    "confidence",
    "rationale",
    "cited_rules",
    "error_type",
    "error_message",
    "attempts",
    "prompt_tokens",
    "completion_tokens",
    "model",
    "sop_version",
    "prompt_hash",
)


def answer_schema() -> pa.Schema:
    """The Arrow types of `ANSWER_COLUMNS` (fixed, so that every block has the same schema)."""
    import pyarrow as pa

    text, texts, count = pa.string(), pa.list_(pa.string()), pa.int64()
    types = [text, text, texts, pa.float64(), text, texts, text, text, count, count, count, text, text, text]
    return pa.schema(list(zip(ANSWER_COLUMNS, types, strict=True)))


def _import_ray() -> Any:
    try:
        import ray.data
    except ImportError:
        raise InputError("Ray is not installed: run `pip install 'prelabel[ray]'`") from None
    return ray


def _answers(row: dict[str, Any]) -> dict[str, Any]:
    error = row.get("error") or {}
    usage = row.get("usage") or {}
    return {
        "status": row.get("status"),
        "label": row.get("label"),
        "labels": row.get("labels"),
        "confidence": row.get("confidence"),
        "rationale": row.get("rationale"),
        "cited_rules": row.get("cited_rules") or [],
        "error_type": error.get("type"),
        "error_message": error.get("message"),
        "attempts": row.get("attempts"),
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "model": row.get("model"),
        "sop_version": row.get("sop_version"),
        "prompt_hash": row.get("prompt_hash"),
    }


def block_key(rows: list[dict[str, Any]]) -> str:
    """The run directory name of a batch: a digest of its rows (the same batch on a retry, the same key)."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:24]


class _BlockLabeler:
    """A Ray Data actor: labels each batch into its own run directory and returns it with the answers."""

    def __init__(
        self,
        sop: SOP,
        options: LabelOptions,
        out_dir: str,
        client: Any,
        sink: Callable[[Path], ResultSink] | None,
    ) -> None:
        self.sop, self.options, self.out, self.client, self.sink = sop, options, Path(out_dir), client, sink

    def __call__(self, batch: pa.Table) -> pa.Table:
        import pyarrow as pa

        rows = batch.to_pylist()
        if not rows:
            return pa.Table.from_pylist([], schema=_joined(batch.schema))
        block = self.out / BLOCKS / block_key(rows)
        client = self.client() if callable(self.client) else self.client
        run(self.sop, rows, block, self.options, client=client, sink=self.sink)
        results = read_labels(block).rows
        if len(results) != len(rows):  # labels.jsonl has one line per input item, always
            raise RuntimeError(f"{block}: {len(results)} results for {len(rows)} items")
        answers = pa.Table.from_pylist([_answers(r) for r in results], schema=answer_schema())
        for name in ANSWER_COLUMNS:
            batch = batch.append_column(pa.field(name, answers.schema.field(name).type), answers[name])
        return batch


def _joined(schema: pa.Schema) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([*schema, *answer_schema()])


def label(
    ds: ray.data.Dataset,
    sop: SOP | str | Path,
    options: LabelOptions | None = None,
    *,
    out_dir: str | Path,
    actors: int = 2,
    batch_size: int = 1000,
    client: Any = None,
    sink: Callable[[Path], ResultSink] | None = None,
    **changes: Any,
) -> ray.data.Dataset:
    """``ds`` with the answer columns (`ANSWER_COLUMNS`) added, one result per row; lazy, as Ray Data is.

    ``options`` (or keyword changes to it) are those of ``prelabel.run``: model, base URL, ``id_col`` and
    ``text_col`` naming the dataset's columns, ``concurrency`` per actor, ``rpm``/``tpm`` for the whole job
    (split across ``actors``). ``out_dir`` keeps one run directory per batch (``blocks/<key>``: ledger,
    ``labels.jsonl``, ``run.json``); it must be on storage every node can reach. ``client``: an OpenAI-style
    async client, or a zero-argument factory called in each actor (tests pass a fake). ``sink`` is passed to
    each batch's ``run``. An answer column name that is already a column of ``ds`` is an ``InputError``.
    """
    _import_ray()
    if actors < 1 or batch_size < 1:
        raise InputError(f"actors and batch_size must be at least 1, got {actors} and {batch_size}")
    clash = sorted(set(ANSWER_COLUMNS) & set(ds.columns() or []))
    if clash:
        raise InputError(f"the dataset already has answer column(s) {', '.join(clash)}; rename them first")
    opts = LabelOptions.build(options, changes)
    shared = {k: max(1, v // actors) for k in ("rpm", "tpm") if (v := getattr(opts, k)) is not None}
    opts = opts.model_copy(update=shared)
    loaded = sop if isinstance(sop, SOP) else load_sop(sop)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return ds.map_batches(
        _BlockLabeler,
        fn_constructor_args=(loaded, opts, str(out_dir), client, sink),
        batch_size=batch_size,
        batch_format="pyarrow",
        concurrency=actors,
        zero_copy_batch=True,
    )
