"""``prelabel gaps``: where the label tree has no place for items — a draft of candidate new leaves.

The items of a run that the model abstained on, or put in a catch-all leaf (a leaf named ``other``, ``misc``,
``unknown``, ..., or the leaves given), are sent to the model in one request, which groups them and proposes
candidate leaves (an id, the parent it would sit under, a definition, the ids of example items). The
proposals are written as a YAML draft headed by a DRAFT comment and ``draft: true``: the SOP is never
modified. The items' texts are masked first, as the run masked them and as the SOP's ``privacy:`` section and
the options say (``prompt.masking``; the draft's example texts are the masked ones too: an example may end up
in the SOP). The call goes through the labeler's ``ModelCaller`` with a per-call response model, so a
proposal can only name items that were sent and parents that exist. When that one answer fails (invalid
after the re-asks, or no answer), nothing is proposed *because the model failed*, which is not "no gaps":
``LabelGaps.exit_code`` is then 3 and ``prelabel gaps`` says so and writes no draft.

    >>> from prelabel.sop.bundled import bundled_sop
    >>> catch_all_leaves(bundled_sop("customer_feedback_intent"))
    ['praise_other.other']
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from prelabel._aio import sync_twin
from prelabel._jsonio import atomic_open, writing
from prelabel.comparison.provenance import provenance
from prelabel.comparison.run_info import run_sop
from prelabel.errors import InputError, redact
from prelabel.inputs.items import Item
from prelabel.labeling.labeler import Labeler
from prelabel.labeling.options import LabelOptions
from prelabel.labeling.result import failed_exit_code
from prelabel.labeling.run_items import run_items
from prelabel.llm.caller import CallStats, explain
from prelabel.llm.endpoints import SMOKE_MODEL_NOTE, is_smoke_model, model_label
from prelabel.llm.usage import Usage
from prelabel.prompt.masking import mask_item
from prelabel.runs.labels import read_labels
from prelabel.runs.run_dir import RunDir
from prelabel.sop._checks import LABEL_ID
from prelabel.sop.spec import SOP

__all__ = ["CATCH_ALL_NAMES", "GAPS_HEADER", "LabelGaps", "afind_gaps", "catch_all_leaves", "find_gaps"]

#: Last id segments that mark a leaf as a catch-all ("other", "praise_other.other", "misc", ...).
CATCH_ALL_NAMES = frozenset(
    {"other", "others", "misc", "miscellaneous", "unknown", "unclear", "none", "general"}
)
GAPS_HEADER = (
    "DRAFT — candidate new labels proposed by a model from `prelabel gaps`.\n"
    "Not part of any SOP: review each proposal, then add the ones you want to the SOP's labels: yourself.\n"
    "The SOP file was not modified."
)
_SYSTEM = (
    "You help the author of an annotation guideline (SOP) find gaps in its label tree. The items below were "
    "abstained on or put in a catch-all label, which suggests the tree has no good place for them. Group "
    "the items that share a theme the tree does not cover, and for each group propose ONE new leaf label: a "
    "lowercase dotted id under an existing parent (or a new top-level id), a one-sentence definition in the "
    "SOP's style, and the ids of the items that belong to it. Leave out items that fit no group. Propose "
    "nothing when the items share no theme."
)
_TEXT_CHARS = 300


def catch_all_leaves(sop: SOP) -> list[str]:
    """The SOP's leaves whose last id segment is a catch-all name (see ``CATCH_ALL_NAMES``)."""
    return [leaf for leaf in sop.leaf_ids if leaf.rsplit(".", 1)[-1] in CATCH_ALL_NAMES]


def gap_model(sop: SOP, item_ids: list[str]) -> type[BaseModel]:
    """The response model: ``rationale``, then ``groups`` (id, parent, definition, item_ids)."""
    parents: Any = Literal[tuple(sop.label_index)]
    members: Any = Literal[tuple(item_ids)]
    group = create_model(
        "ProposedLeaf",
        __config__=ConfigDict(extra="forbid"),
        id=(str, Field(pattern=LABEL_ID, description="The new leaf's dotted id.")),
        parent=(parents | None, Field(default=None, description="The existing label it goes under.")),
        definition=(str, Field(min_length=1)),
        item_ids=(list[members], Field(min_length=1)),
    )
    model: type[BaseModel] = create_model(
        "GapProposals",
        __config__=ConfigDict(extra="forbid"),
        rationale=(str, Field(description="What the items have in common, and what the tree lacks.")),
        groups=(list[group], Field(default_factory=list)),  # type: ignore[valid-type]
    )
    return model


def _prompt(sop: SOP, items: list[tuple[Item, str]], catch_all: list[str]) -> list[dict[str, str]]:
    tree = [f"- {label_id}: {label.definition}" for label_id, label in sop.label_index.items()]
    shown = [
        f"[{item.id}] (answered {answered}) {(item.text or '')[:_TEXT_CHARS]}" for item, answered in items
    ]
    user = [
        f"SOP: {sop.title} ({sop.id} {sop.version})",
        "Label tree:",
        *tree,
        f"Catch-all leaves: {', '.join(catch_all) or 'none'}; abstain label: {sop.abstain.label}",
        "Items:",
        *shown,
    ]
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": "\n".join(user)}]


@dataclass
class LabelGaps:
    """Candidate new leaves for the items a run could not place well (``proposals``: one dict each)."""

    sop_id: str
    sop_version: str
    considered: dict[str, int]
    proposals: list[dict[str, Any]]
    rationale: str = ""
    model: str = ""
    usage: Usage = field(default_factory=Usage)
    requests: int = 0
    error: str | None = None
    """Why the model's answer could not be used (then there are no proposals), else ``None``."""
    error_type: str | None = None
    """The error record type of ``error`` (``invalid_output``, ``rate_limited``, ...)."""
    run_models: dict[str, int] = field(default_factory=dict)
    """The models whose answers picked the items (result lines per model, from the run)."""
    warnings: list[str] = field(default_factory=list)
    """What reading the run had to say (a cut-off last line of ``labels.jsonl``, skipped)."""

    @property
    def model_note(self) -> str | None:
        """The smoke model's note when it picked the items or drafts the proposals, else ``None``."""
        smoke = is_smoke_model(self.model) or any(is_smoke_model(m) for m in self.run_models)
        return SMOKE_MODEL_NOTE if smoke else None

    @property
    def exit_code(self) -> int:
        """0, or 3 when the model's answer failed (``prelabel.labeling.result.failed_exit_code``)."""
        return 0 if self.error is None else failed_exit_code([self.error_type or "error"])

    @property
    def failure(self) -> str | None:
        """Why `exit_code` is not 0, else ``None``."""
        if self.error is None:
            return None
        sent = sum(self.considered.values())
        return (
            f"the model's answer could not be used ({self.error_type}: {self.error}); nothing was "
            f"proposed for the {sent} items sent, which does not mean the tree has no gaps; no draft written"
        )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.proposals)

    def __len__(self) -> int:
        return len(self.proposals)

    def summary(self) -> str:
        """One line: items considered, proposals, requests."""
        seen = ", ".join(f"{n} {why}" for why, n in self.considered.items()) or "none"
        outcome = f"failed: {self.error}" if self.error else f"{len(self.proposals)} candidate leaves"
        return f"gaps: items considered: {seen}; {outcome}; {self.requests} requests" + (
            f" by {model_label(self.model)}" if self.model else ""
        )

    def write(self, path: str | Path) -> Path:
        """Write the draft YAML (header comment, ``draft: true``, ``proposed_labels:``)."""
        root = CommentedMap()
        root["draft"] = True
        root["sop"] = CommentedMap(id=self.sop_id, version=self.sop_version)
        if self.model:
            root["proposed_by"] = self.model
        if self.model_note:
            root["model_note"] = self.model_note
        if self.error:
            root["error"] = self.error
        if self.rationale:
            root["rationale"] = self.rationale
        proposed = CommentedSeq()
        for proposal in self.proposals:
            entry = CommentedMap()
            for key in ("id", "parent", "definition", "examples", "item_ids", "note"):
                if proposal.get(key) not in (None, [], ""):
                    entry[key] = proposal[key]
            proposed.append(entry)
        root["proposed_labels"] = proposed
        note = f"\nnote: {self.model_note}" if self.model_note else ""
        root.yaml_set_start_comment(f"{GAPS_HEADER}\n{self.summary()}{note}")
        yaml = YAML()
        yaml.width = 110
        with writing(path) as out, atomic_open(out) as handle:
            yaml.dump(root, handle)
        return out


def _selected(lines: list[dict[str, Any]], sop: SOP, catch_all: list[str]) -> dict[str, str]:
    """Item id → what it was answered, for abstained and catch-all items."""
    chosen: dict[str, str] = {}
    for line in lines:
        answered = line.get("labels") or ([line["label"]] if line.get("label") else [])
        if line.get("status") == "abstained" or sop.abstain.label in answered:
            chosen[str(line["item_id"])] = sop.abstain.label
        elif set(answered) & set(catch_all):
            chosen[str(line["item_id"])] = ";".join(answered)
    return chosen


async def afind_gaps(
    run_dir: str | Path,
    options: LabelOptions | None = None,
    *,
    sop: SOP | str | Path | None = None,
    items: str | Path | None = None,
    catch_all: list[str] | None = None,
    limit: int = 200,
    client: Any = None,
    **changes: Any,
) -> LabelGaps:
    """Propose candidate leaves for a run's abstained and catch-all items (async ``find_gaps``)."""
    read = read_labels(run_dir).require_ids()
    lines = read.rows
    info = RunDir.of(run_dir).read_info()
    loaded = run_sop(info, sop, str(run_dir), need=True)
    leaves = catch_all if catch_all is not None else catch_all_leaves(loaded)
    unknown = [leaf for leaf in leaves if leaf not in loaded.leaf_ids]
    if unknown:
        raise InputError(f"--catch-all {unknown[0]}: not a leaf of {loaded.id}")
    chosen = _selected(lines, loaded, leaves)
    paired = run_items(run_dir, read, items, need=True, info=info)  # the texts the run labeled, or exit 2
    texts = {item_id: item for item_id, item in paired.items.items() if item_id in chosen}
    picked = [(texts[i], answered) for i, answered in chosen.items() if i in texts][:limit]
    considered = {
        "abstained": sum(a == loaded.abstain.label for _, a in picked),
        "catch-all": sum(a != loaded.abstain.label for _, a in picked),
    }
    gaps = LabelGaps(loaded.id, loaded.version, {k: n for k, n in considered.items() if n}, [])
    gaps.run_models = provenance(lines).models
    gaps.warnings = [*read.warnings, *paired.warnings]
    if not picked:
        return gaps
    opts = LabelOptions.build(options, changes)
    # personal data is masked as the run masked it, and as the SOP and the options say
    labeler = Labeler(loaded, opts.merged(mask=(*opts.mask, *paired.masking.kinds)), client=client)
    gaps.model = labeler.model
    texts = {item_id: mask_item(labeler.masking, item)[0] for item_id, item in texts.items()}
    picked = [(texts[item.id], answered) for item, answered in picked]
    stats = CallStats()
    try:
        model = gap_model(loaded, [item.id for item, _ in picked])
        messages = _prompt(loaded, picked, leaves)
        answer = await labeler.caller.ask(messages, labeler.max_reasks, stats, response_model=model)
    except Exception as exc:
        gaps.error_type, message = explain(exc, stats)  # re-raises EndpointError
        gaps.error = redact(" ".join(message.split()), labeler.endpoint.api_key)
    else:
        gaps.rationale = answer.rationale  # type: ignore[attr-defined]
        gaps.proposals = [_proposal(g.model_dump(), loaded, texts) for g in answer.groups]  # type: ignore[attr-defined]
    finally:
        await labeler.aclose()
    gaps.usage, gaps.requests = stats.usage, stats.requests
    return gaps


def _proposal(group: dict[str, Any], sop: SOP, texts: dict[str, Item]) -> dict[str, Any]:
    ids = list(dict.fromkeys(group["item_ids"]))
    examples = [
        {"text": texts[i].text, **({"language": texts[i].language} if texts[i].language else {})}
        for i in ids[:3]
    ]
    note = f"id '{group['id']}' already exists in the SOP" if group["id"] in sop.label_index else None
    return {**group, "item_ids": ids, "examples": examples, "note": note}


find_gaps = sync_twin(
    afind_gaps,
    "find_gaps",
    """Draft candidate new leaves from the items of ``run_dir`` abstained on or put in catch-all leaves.

    The SOP and items default to those ``run.json`` names (pass ``sop``/``items`` otherwise); the SOP must
    be the one the run used. ``catch_all`` lists the catch-all leaves (default: ``catch_all_leaves``);
    ``limit`` bounds the items sent. ``options``, keyword overrides and ``client`` are as for ``Labeler``.
    A failed answer leaves ``error`` set (no proposals, ``exit_code`` 3); an unusable endpoint raises
    ``EndpointError``.
    ``LabelGaps.write(FILE)`` writes the draft YAML.
    """,
)
