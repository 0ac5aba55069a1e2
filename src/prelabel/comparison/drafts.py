"""Ask a model to draft an ``edge_cases:`` entry for each top ambiguity candidate, for the SOP author.

Drafts are written to their own YAML file, headed by a comment and ``draft: true``; the SOP file is never
touched. The model is called as the labeler calls it (``prelabel.llm.caller.ModelCaller``: the backend's
instructor mode, transport retries, re-asks, usage per attempt) with a response model built from the SOP, so
a draft can only name the SOP's leaf labels and rules. The clusters' example texts are masked as labeled
items are (the SOP's ``privacy:`` section and ``mask``; ``prompt.masking``). A candidate the model cannot
draft becomes an entry with an ``error``; only an unusable endpoint raises ``EndpointError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, create_model
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from prelabel._aio import run_sync
from prelabel._jsonio import atomic_open, writing
from prelabel.comparison.report_dir import DRAFTS_FILE
from prelabel.errors import EndpointError, InputError, redact
from prelabel.labeling.options import LabelOptions
from prelabel.labeling.reachability import UNREACHABLE
from prelabel.llm.caller import CallStats, ModelCaller, explain
from prelabel.llm.endpoints import SMOKE_MODEL_NOTE, check_credentials, is_smoke_model, model_label
from prelabel.llm.usage import PriceTable, Usage
from prelabel.prompt.masking import MaskPolicy, mask_policy, mask_text
from prelabel.sop.spec import SOP

__all__ = [
    "DRAFT_HEADER",
    "EdgeCaseDrafts",
    "adraft_edge_cases",
    "draft_edge_cases",
    "edge_case_model",
    "write_draft_edge_cases",
]

DRAFT_HEADER = (
    "DRAFT — edge cases proposed by a model from `prelabel compare --draft-edits`.\n"
    "Not part of any SOP yet. Review each entry: fix its text, label, ruling or rules; delete it, or set\n"
    "`accept: false` on it, to leave it out (entries with an error: are skipped). Then set `reviewed: true`\n"
    "below and run `prelabel sop apply THIS_FILE --sop SOP.yaml` (--dry-run first shows the change): each\n"
    "entry becomes an edge case and a test case of the SOP, with a version bump and a changelog entry.\n"
    "The SOP file was not modified."
)
_SYSTEM = (
    "You help the author of an annotation guideline (SOP). Human annotators and a model disagreed on a "
    "cluster of items, which suggests the SOP text below is unclear. Draft ONE new edge_cases entry that "
    "settles the cluster: a short representative item text (invent one in the style of the examples, do not "
    "copy personal data), the label(s) the SOP should give it, a one- or two-sentence ruling that says which "
    "rule or definition decides it and why, and the ids of the rules it relies on."
)


def edge_case_model(sop: SOP) -> type[BaseModel]:
    """The response model of one drafted entry: ``text``, ``label`` (SOP leaves), ``ruling``, ``rules``."""
    label_type: Any = Literal[sop.answer_ids]
    rule_type: Any = Literal[tuple(r.id for r in sop.rules)] if sop.rules else str
    model: type[BaseModel] = create_model(
        "EdgeCaseDraft",
        __config__=ConfigDict(extra="forbid"),
        text=(str, Field(min_length=1, description="A short representative item text.")),
        label=(list[label_type], Field(min_length=1, max_length=None if sop.multi_label else 1)),
        ruling=(str, Field(min_length=1, description="Why this label, citing the rule or definition.")),
        rules=(list[rule_type], Field(default_factory=list, description="Ids of the rules relied on.")),
    )
    return model


def _prompt(row: dict[str, Any], sop: SOP, masking: MaskPolicy) -> list[dict[str, str]]:
    # the cluster's item texts, their personal data masked as items sent for labeling are
    examples = [mask_text(masking, e).text for e in str(row.get("examples") or "").split(" || ") if e]
    user = [
        f"SOP: {sop.title} ({sop.id} {sop.version})",
        f"Cluster: {row['cluster']} — {row['n_items']} items, kind {row['kind']}",
        f"Who said what: {row.get('directions', '')}",
        f"Rules the model cited: {row.get('cited_rules') or 'none'}",
        "SOP text involved:",
        str(row.get("sop_text") or "(none)"),
        "Example items:" if examples else "No example texts are available.",
        *[f"- {e}" for e in examples],
        f"Existing edge cases: {', '.join(c.id for c in sop.edge_cases) or 'none'}",
    ]
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": "\n".join(user)}]


@dataclass(frozen=True)
class EdgeCaseDrafts:
    """Drafted edge cases, one dict per candidate (iterable and indexable), with what drafting them used.

    An entry has ``id``, ``source``, ``attempts`` and ``usage`` (a ``Usage``), then either the draft
    (``text``, ``label``, ``ruling``, ``rules``) or an ``error``. ``cost`` is in USD, ``None`` when the model
    has no known price.
    """

    entries: list[dict[str, Any]]
    model: str
    usage: Usage
    cost: float | None

    @classmethod
    def collect(
        cls, entries: Iterable[dict[str, Any]], model: str = "", prices: PriceTable | None = None
    ) -> EdgeCaseDrafts:
        """Entries with their total usage and its cost on ``model`` (the built-in prices by default)."""
        entries = list(entries)
        usage = Usage.total(Usage.model_validate(e["usage"]) for e in entries if e.get("usage") is not None)
        cost = (prices or PriceTable()).cost(model, usage) if model else None
        return cls(entries, model, usage, cost)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.entries)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.entries[index]

    def save(self, directory: str | Path, sop: SOP) -> Path:
        """Write ``directory/draft_edge_cases.yaml`` (beside a comparison's report): see
        `write_draft_edge_cases`."""
        return write_draft_edge_cases(self, Path(directory) / DRAFTS_FILE, sop)

    def summary(self) -> str:
        """One line: drafts, failures, requests, tokens and cost."""
        failed = sum("error" in e for e in self.entries)
        requests = sum(int(e.get("attempts") or 0) for e in self.entries)
        cost = "unknown" if self.cost is None else f"${self.cost:.4f}"
        by = f" by {model_label(self.model)}" if self.model else ""
        return (
            f"drafts: {len(self.entries) - failed} drafted, {failed} failed{by}; {requests} requests, "
            f"{self.usage.prompt_tokens + self.usage.completion_tokens} tokens "
            f"({self.usage.prompt_tokens} prompt, {self.usage.completion_tokens} completion), cost {cost}"
        )


async def adraft_edge_cases(
    candidates: pd.DataFrame,
    sop: SOP | None,
    options: LabelOptions | None = None,
    *,
    client: Any = None,
    top: int = 3,
    **changes: Any,
) -> EdgeCaseDrafts:
    """Draft one edge case per top candidate (async ``draft_edge_cases``)."""
    if sop is None:
        raise InputError("drafting edge cases needs the SOP (--sop)")
    opts = LabelOptions.build(options, changes)
    endpoint = opts.endpoint(client)
    if client is None and not endpoint.is_local:
        check_credentials(endpoint)
    masking = mask_policy(sop, opts.mask)
    caller = ModelCaller(
        endpoint,
        edge_case_model(sop),
        client=client,
        retry=opts.retry,
        temperature=opts.temperature,
        max_tokens=opts.max_tokens,
    )
    entries: list[dict[str, Any]] = []
    try:
        for number, row in enumerate(candidates.head(top).to_dict(orient="records"), start=1):
            source = f"candidate #{row['rank']}: {row['cluster']} ({row['n_items']} items, {row['kind']})"
            stats = CallStats()
            entry: dict[str, Any] = {"id": f"DRAFT{number}", "source": source}
            try:
                answer = await caller.ask(_prompt(row, sop, masking), opts.max_reasks, stats)
            except Exception as exc:
                kind, message = explain(exc, stats)  # re-raises EndpointError
                # nothing answered yet and no answer came back (refused, reset or timed out): stop now
                if kind in UNREACHABLE and not any("error" not in e for e in entries):
                    raise EndpointError(f"endpoint unreachable after retries: {message}") from None
                entry["error"] = redact(" ".join(message.split()), endpoint.api_key)
            else:
                entry.update(answer.model_dump())
            entries.append({**entry, "attempts": stats.requests, "usage": stats.usage})
    finally:
        await caller.aclose()
    return EdgeCaseDrafts.collect(entries, endpoint.model, opts.price_table())


def draft_edge_cases(
    candidates: pd.DataFrame, sop: SOP | None, options: LabelOptions | None = None, **keywords: Any
) -> EdgeCaseDrafts:
    """One drafted edge case per ``top`` candidate (default 3); one the model cannot draft gets an ``error``.

    ``options`` (a ``LabelOptions``) and keyword overrides of its fields (``model``, ``base_url``, ``mode``,
    ``retry``, ``max_reasks``, ``max_tokens``, ``temperature``, ``prices``, ...) say how the model is called,
    as for ``prelabel.run``: the environment fills the endpoint's gaps and ``model="local"`` uses the embedded
    model. The keywords ``client`` (an ``openai.AsyncOpenAI`` or ``openai.OpenAI``) and ``top`` are those of
    ``adraft_edge_cases``, the async core. Raises ``EndpointError`` when the endpoint is unusable (auth,
    quota, unknown model) or unreachable.

        >>> import prelabel
        >>> from prelabel.testing import FakeModel, Reply
        >>> sop = prelabel.bundled_sop("customer_feedback_intent")
        >>> row = {"rank": 1, "cluster": "a ↔ b", "n_items": 2, "kind": "sop_ambiguity"}
        >>> candidates = pd.DataFrame([row])
        >>> draft = '{"text": "Late and broken", "label": ["product.damaged"], "ruling": "Damage first."}'
        >>> fake = FakeModel(default=Reply.raw(draft))
        >>> drafts = draft_edge_cases(candidates, sop, client=fake.async_client(), model="gpt-4o-mini")
        >>> drafts[0]["label"], drafts[0]["usage"].completion_tokens
        (['product.damaged'], 20)
    """
    return run_sync(lambda: adraft_edge_cases(candidates, sop, options, **keywords))


def write_draft_edge_cases(
    drafts: EdgeCaseDrafts | Iterable[dict[str, Any]], path: str | Path, sop: SOP, model: str = ""
) -> Path:
    """Write drafts as YAML: a DRAFT comment header (with the drafts' usage and cost and how to apply them),
    ``draft: true``, ``reviewed: false`` (the author sets it to true once every entry is reviewed; then
    ``prelabel sop apply`` takes the file) and ``edge_cases:`` in SOP syntax. Plain entries are priced on
    ``model`` with the built-in prices."""
    if not isinstance(drafts, EdgeCaseDrafts):
        drafts = EdgeCaseDrafts.collect(drafts, model)
    model = model or drafts.model
    out = Path(path)
    root = CommentedMap()
    root["draft"] = True
    root["reviewed"] = False  # the author sets it to true; `prelabel sop apply` refuses the file until then
    root["sop"] = CommentedMap(id=sop.id, version=sop.version)
    if model:
        root["drafted_by"] = model
    note = SMOKE_MODEL_NOTE if is_smoke_model(model) else None
    if note:
        root["model_note"] = note
    cases = CommentedSeq()
    for i, draft in enumerate(drafts):
        entry = CommentedMap()
        entry["id"] = draft["id"]
        if "error" in draft:
            entry["error"] = draft["error"]
        else:
            entry["text"] = draft["text"]
            entry["label"] = draft["label"][0] if len(draft["label"]) == 1 else list(draft["label"])
            entry["ruling"] = draft["ruling"]
            if draft.get("rules"):
                entry["rules"] = list(draft["rules"])
        cases.append(entry)
        cases.yaml_set_comment_before_after_key(i, before=f"from {draft['source']}", indent=2)
    root["edge_cases"] = cases
    shown = f"\nnote: {note}" if note else ""
    root.yaml_set_start_comment(f"{DRAFT_HEADER}\n{drafts.summary()}{shown}")
    yaml = YAML()
    yaml.width = 110
    with writing(out), atomic_open(out) as handle:
        yaml.dump(root, handle)
    return out
