"""Ask a model to draft an ``edge_cases:`` entry for each top ambiguity candidate, for the SOP author.

Drafts are written to their own YAML file, headed by a comment and ``draft: true``; the SOP file is never
touched. The model is called through ``instructor`` (TOOLS mode by default) with a response model built from
the SOP, so a draft can only name the SOP's leaf labels and rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import instructor
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, create_model
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from prelabel.errors import EndpointError, InputError
from prelabel.llm.clients import make_client
from prelabel.llm.endpoints import resolve_endpoint
from prelabel.sop.spec import SOP

__all__ = ["DRAFT_HEADER", "draft_edge_cases", "edge_case_model", "write_draft_edge_cases"]

DRAFT_HEADER = (
    "DRAFT — edge cases proposed by a model from `prelabel compare --draft-edits`.\n"
    "Not part of any SOP: review each entry, fix it, then copy it into the SOP's edge_cases: yourself.\n"
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


def _prompt(row: dict[str, Any], sop: SOP) -> list[dict[str, str]]:
    examples = [e for e in str(row.get("examples") or "").split(" || ") if e]
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


def _endpoint(model: str | None, base_url: str | None) -> tuple[Any, instructor.Mode, str]:
    """A sync client, mode and model name from ``--model``/``--base-url`` and the environment (as `run`)."""
    endpoint = resolve_endpoint(model=model, base_url=base_url)
    return make_client(endpoint, sync=True, max_retries=2), endpoint.mode, endpoint.model


def draft_edge_cases(
    candidates: pd.DataFrame,
    sop: SOP | None,
    *,
    client: Any = None,
    model: str | None = None,
    base_url: str | None = None,
    mode: instructor.Mode | None = None,
    top: int = 3,
    max_retries: int = 2,
) -> list[dict[str, Any]]:
    """One drafted edge case (a dict) per top candidate; a candidate the model cannot draft gets an ``error``.

    ``client`` is an ``openai.OpenAI``-compatible client (used with instructor TOOLS mode unless ``mode`` says
    otherwise). Without it the endpoint is resolved like ``prelabel run``'s: ``model``/``base_url``, then
    ``PRELABEL_MODEL``, ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``; ``model="local"`` uses the embedded model.
    """
    import openai

    if sop is None:
        raise InputError("drafting edge cases needs the SOP (--sop)")
    if client is None:
        client, default_mode, name = _endpoint(model, base_url)
    else:
        default_mode, name = instructor.Mode.TOOLS, resolve_endpoint(model=model).model
    wrapped = instructor.from_openai(client, mode=mode or default_mode)
    response_model = edge_case_model(sop)
    drafts: list[dict[str, Any]] = []
    for number, row in enumerate(candidates.head(top).to_dict(orient="records"), start=1):
        source = f"candidate #{row['rank']}: {row['cluster']} ({row['n_items']} items, {row['kind']})"
        entry: dict[str, Any] = {"id": f"DRAFT{number}", "source": source}
        try:
            answer = wrapped.chat.completions.create(
                model=name, messages=_prompt(row, sop), response_model=response_model, max_retries=max_retries
            )
        except (openai.APIError, instructor.core.InstructorRetryException) as exc:
            # instructor wraps API errors; only validation failures become a per-candidate error
            cause = exc.__cause__ if isinstance(exc, instructor.core.InstructorRetryException) else exc
            if isinstance(
                cause, openai.AuthenticationError | openai.PermissionDeniedError | openai.NotFoundError
            ):
                raise EndpointError(f"model endpoint refused the request: {cause}") from None
            if isinstance(cause, openai.APIError):
                raise EndpointError(f"model endpoint unusable: {cause}") from None
            entry["error"] = f"no valid draft after {getattr(exc, 'n_attempts', 1)} attempts"
        else:
            entry.update(answer.model_dump())
        drafts.append(entry)
    return drafts


def write_draft_edge_cases(drafts: list[dict[str, Any]], path: str | Path, sop: SOP, model: str = "") -> Path:
    """Write drafts as YAML: a DRAFT comment header, ``draft: true``, and ``edge_cases:`` in SOP syntax."""
    out = Path(path)
    root = CommentedMap()
    root["draft"] = True
    root["sop"] = CommentedMap(id=sop.id, version=sop.version)
    if model:
        root["drafted_by"] = model
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
    root.yaml_set_start_comment(DRAFT_HEADER)
    yaml = YAML()
    yaml.width = 110
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        yaml.dump(root, handle)
    return out
