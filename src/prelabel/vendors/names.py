"""The names prelabel gives the controls (Label Studio) and questions (Argilla) it generates, shared by the
exports that write them and the readers that map the tools' exports back to SOP labels."""

from __future__ import annotations

from prelabel.sop.spec import SOP

__all__ = [
    "ADJUDICATION_DATA",
    "LS_CONTROL",
    "LS_IMAGES",
    "LS_RATIONALE",
    "LS_VIDEO",
    "RULING",
    "SOP_UNCLEAR",
    "UNCLEAR_VALUES",
    "argilla_question",
]

#: Label Studio: the label control (``Taxonomy``/``Choices``) and the rationale ``TextArea``.
LS_CONTROL, LS_RATIONALE = "label", "rationale"
#: The task field holding all of an item's images when some item has several (``<Image valueList=...>``).
LS_IMAGES = "images"
#: The task field and object name of an item's video (``<Video name="video" value="$video"/>``).
LS_VIDEO = "video"

#: Adjudication tasks (``prelabel export CMP_DIR --candidates``), Label Studio and Argilla alike: besides the
#: label control/question, "is the SOP unclear on this item?" (single choice of `UNCLEAR_VALUES`) and the
#: ruling text.
SOP_UNCLEAR, RULING = "sop_unclear", "ruling"
UNCLEAR_VALUES = ("yes", "no")
#: What an adjudication task carries besides the item (Label Studio ``data`` keys; Argilla fields and
#: metadata), read back by `prelabel.vendors.adjudication`: the SOP (``<id>@<version>``), the ids of the SOP
#: rules involved (``;``-joined), and the shown context: human votes, the model's answer, the rules' text, the
#: drafted edge case, and the candidate (rank and cluster).
ADJUDICATION_DATA = ("sop", "rule_ids", "votes", "model", "rules", "draft", "candidate")


def argilla_question(sop: SOP) -> str:
    """The Argilla question holding the label: ``labels`` for multi-label SOPs, else ``label``."""
    return "labels" if sop.multi_label else "label"
