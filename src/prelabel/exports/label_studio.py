"""Label Studio: ``tasks.json`` (data + predictions) and the ``label_config.xml`` generated from the SOP.

A task's ``data`` holds the item (``text`` and/or ``image``, ``item_id``, ``language``, ``meta``; when an
item has several images, every task also holds the list ``images`` and the config shows them all; when an
item has a video, ``video`` holds its reference, shown by a ``Video`` object, with its ``transcript`` and
on-screen text ``ocr_text`` shown as ``Text`` beneath it); its
prediction holds the answer as a ``taxonomy`` result (label trees: root-to-leaf paths) or a ``choices``
result (flat SOPs), the rationale as a ``textarea`` result, ``score`` = confidence and ``model_version`` =
``prelabel:<sop>@<version>:<model>:<prompt-hash>``. The control names and values in the config are the ones
the predictions use, and each choice carries the label's definition as its hint. The config never holds a
character XML 1.0 forbids (``validate`` refuses them in SOP files; in an SOP built in code they are escaped).

    >>> import prelabel
    >>> xml = label_config(prelabel.bundled_sop("customer_feedback_intent"))
    >>> '<Taxonomy name="label" toName="text"' in xml, 'value="logistics.late_delivery"' in xml
    (True, True)
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from prelabel._jsonio import together, write_text
from prelabel._xml import xml_safe
from prelabel.exports.candidates import Candidates
from prelabel.exports.exporter import Exporter
from prelabel.exports.records import RunExport, model_version, prediction_status
from prelabel.inputs.items import Item
from prelabel.sop.spec import SOP, Label
from prelabel.vendors.names import (
    LS_CONTROL,
    LS_IMAGES,
    LS_RATIONALE,
    LS_VIDEO,
    RULING,
    SOP_UNCLEAR,
    UNCLEAR_VALUES,
)

__all__ = [
    "LabelStudio",
    "adjudication_config",
    "label_config",
    "label_studio_tasks",
    "write_adjudication",
    "write_label_studio",
]

CONTROL, RATIONALE, IMAGES, VIDEO = LS_CONTROL, LS_RATIONALE, LS_IMAGES, LS_VIDEO
_VIDEO_TEXTS = ("transcript", "ocr_text")


def _is_tree(sop: SOP) -> bool:
    return any(label.children for label in sop.labels)


def _choice(parent: ET.Element, label: Label) -> None:
    node = ET.SubElement(parent, "Choice", value=label.id, hint=label.definition.strip())
    for child in label.children:
        _choice(node, child)


class Media(NamedTuple):
    """What the exported items hold, so the config shows it: text, images (several per item), a video and
    which of the video's texts."""

    text: bool = True
    image: bool = False
    images: bool = False
    video: bool = False
    video_texts: tuple[str, ...] = ()

    @classmethod
    def of(cls, items: Iterable[Item]) -> Media:
        """The media of ``items``."""
        items = list(items)
        image = any(item.images for item in items)
        video = any(item.video for item in items)
        return cls(
            text=any(item.text for item in items) or not (image or video),
            image=image,
            images=any(len(item.images) > 1 for item in items),
            video=video,
            video_texts=tuple(f for f in _VIDEO_TEXTS if any(getattr(item, f) for item in items)),
        )

    @property
    def target(self) -> str:
        """The object the label control and rationale point at: the text, else the image, else the video."""
        image = self.image or self.images
        return "text" if self.text or not (image or self.video) else ("image" if image else VIDEO)


def _item_view(header: str, media: Media) -> tuple[ET.Element, str]:
    """A ``View`` with a header and the item (Text, Image and/or Video objects), and the control's target."""
    view = ET.Element("View")
    ET.SubElement(view, "Header", value=header)
    if media.text:
        ET.SubElement(view, "Text", name="text", value="$text")
    if media.images:
        ET.SubElement(view, "Image", name="image", valueList=f"${IMAGES}")
    elif media.image:
        ET.SubElement(view, "Image", name="image", value="$image")
    if media.video:
        ET.SubElement(view, "Video", name=VIDEO, value=f"${VIDEO}")
        for field in media.video_texts:
            ET.SubElement(view, "Text", name=field, value=f"${field}")
    return view, media.target


def _serialised(view: ET.Element) -> str:
    ET.indent(view)
    return xml_safe(ET.tostring(view, encoding="unicode")) + "\n"  # an SOP built in code may hold a NUL


def label_config(
    sop: SOP,
    *,
    text: bool = True,
    image: bool = False,
    images: bool = False,
    video: bool = False,
    video_texts: tuple[str, ...] = (),
) -> str:
    """The labeling config XML for ``sop``: Text (and/or Image, Video) object, label control, rationale box.
    ``images``: items hold several images, shown together (``valueList="$images"``); ``video``: items have a
    video (``<Video value="$video"/>``), and the ``video_texts`` fields below it."""
    header = f"{sop.title} ({sop.id}@{sop.version})"
    view, target = _item_view(header, Media(text, image, images, video, video_texts))
    _label_control(view, sop, target)
    ET.SubElement(view, "TextArea", name=RATIONALE, toName=target, editable="true", maxSubmissions="1")
    return _serialised(view)


def _label_control(view: ET.Element, sop: SOP, target: str) -> None:
    """The SOP's labels: a ``Taxonomy`` (label trees: paths of label ids) or ``Choices`` (flat SOPs)."""
    if _is_tree(sop):
        control = ET.SubElement(view, "Taxonomy", name=CONTROL, toName=target, leafsOnly="true")
        if not sop.multi_label:
            control.set("maxUsages", "1")
    else:
        choice = "multiple" if sop.multi_label else "single-radio"
        control = ET.SubElement(view, "Choices", name=CONTROL, toName=target, choice=choice, required="true")
    for label in sop.labels:
        _choice(control, label)


#: What an adjudication task shows beside the item: (data key, header), the keys of `CandidateTask.data`.
ADJUDICATION_SHOWN = (
    ("candidate", "Ambiguity candidate"),
    ("votes", "Human votes (annotator: label)"),
    ("model", "The model's label, confidence and rationale"),
    ("rules", "SOP rules involved"),
    ("draft", "Drafted edge case"),
)


def adjudication_config(sop: SOP, media: Media | None = None) -> str:
    """The labeling config of adjudication tasks: the item and what the humans and the model said, then the
    right label (the SOP's labels, as `label_config` asks them), "Is the SOP unclear on this item?"
    (``sop_unclear``: yes/no) and the ruling text (``ruling``). ``media``: what the items hold (text)."""
    header = f"Adjudicate: {sop.title} ({sop.id}@{sop.version})"
    view, target = _item_view(header, media or Media())
    for key, title in ADJUDICATION_SHOWN:
        ET.SubElement(view, "Header", value=title, size="5")
        ET.SubElement(view, "Text", name=key, value=f"${key}")
    ET.SubElement(view, "Header", value="The right label")
    _label_control(view, sop, target)
    ET.SubElement(view, "Header", value="Is the SOP unclear on this item?")
    unclear = ET.SubElement(
        view, "Choices", name=SOP_UNCLEAR, toName=target, choice="single-radio", required="true"
    )
    for value in UNCLEAR_VALUES:
        ET.SubElement(unclear, "Choice", value=value)
    ET.SubElement(view, "Header", value="Ruling: what the SOP should say about items like this one")
    ET.SubElement(view, "TextArea", name=RULING, toName=target, editable="true", maxSubmissions="1", rows="4")
    return _serialised(view)


def _task_data(item: Item, media: Media) -> dict[str, Any]:
    data: dict[str, Any] = {"item_id": item.id, "text": item.text or ""}
    if item.images:
        data["image"] = item.images[0]
    if media.images:  # the config shows the list: every image of every item (an item without one: none)
        data[IMAGES] = list(item.images)
    if media.video:  # the config shows it: every task holds the field (an item without one: empty)
        data[VIDEO] = item.video or ""
        data |= {field: getattr(item, field) or "" for field in media.video_texts}
    return data


def _answer(row: dict[str, Any], sop: SOP) -> list[str]:
    return list(row.get("labels") or []) if sop.multi_label else [row["label"]]


def _prediction(row: dict[str, Any], sop: SOP, target: str) -> dict[str, Any]:
    answer = _answer(row, sop)
    value: dict[str, Any]
    if _is_tree(sop):
        kind, value = "taxonomy", {"taxonomy": [sop.ancestors(label) or [label] for label in answer]}
    else:
        kind, value = "choices", {"choices": answer}
    result = [{"from_name": CONTROL, "to_name": target, "type": kind, "value": value}]
    if row.get("rationale"):
        value = {"text": [row["rationale"]]}
        result.append({"from_name": RATIONALE, "to_name": target, "type": "textarea", "value": value})
    prediction: dict[str, Any] = {"model_version": model_version(row), "result": result}
    if row.get("confidence") is not None:
        prediction["score"] = float(row["confidence"])
    return prediction


def label_studio_tasks(run: RunExport) -> list[dict[str, Any]]:
    """One task per result line whose item is known; errors and abstentions get no prediction."""
    assert run.sop is not None
    tasks = []
    media = Media.of(run.items.values())
    for row in run.rows:
        item = run.items.get(str(row["item_id"]))
        if item is None:
            run.skip("item not found in the items file", row["item_id"])
            continue
        data = _task_data(item, media) | {"language": item.language, "meta": item.meta}
        task: dict[str, Any] = {"data": data, "predictions": []}
        if prediction_status(row, run.sop) is None:
            task["predictions"].append(_prediction(row, run.sop, media.target))
        tasks.append(task)
    return tasks


def write_adjudication(candidates: Candidates, out: Path) -> list[Path]:
    """Write ``out`` (one adjudication task per candidate) and ``label_config.xml`` beside it."""
    media = Media.of(task.item for task in candidates.tasks)
    tasks = [
        {"data": {**task.data(candidates.sop), **_task_data(task.item, media)}} for task in candidates.tasks
    ]
    config = out.parent / "label_config.xml"
    out.parent.mkdir(parents=True, exist_ok=True)
    xml = adjudication_config(candidates.sop, media)
    with together():  # both files, or neither
        write_text(out, json.dumps(tasks, ensure_ascii=False, indent=1) + "\n")
        write_text(config, xml)
    return [out, config]


def write_label_studio(run: RunExport, out: Path) -> list[Path]:
    """Write ``out`` (tasks JSON) and ``label_config.xml`` beside it."""
    assert run.sop is not None
    tasks = label_studio_tasks(run)
    config = out.parent / "label_config.xml"
    out.parent.mkdir(parents=True, exist_ok=True)
    xml = label_config(run.sop, **Media.of(run.items.values())._asdict())
    with together():  # both files, or neither
        write_text(out, json.dumps(tasks, ensure_ascii=False, indent=1) + "\n")
        write_text(config, xml)
    return [out, config]


class LabelStudio(Exporter):
    """``--format label-studio``: `write_label_studio`."""

    name = "label-studio"
    description = "Label Studio tasks with predictions, and label_config.xml beside them"
    suffix = ".json"
    needs_sop = needs_items = predictions = adjudication = True

    def outputs(self, out: Path) -> list[Path]:
        """The tasks file and ``label_config.xml`` beside it."""
        return [out, out.parent / "label_config.xml"]

    def export(self, run: RunExport, out: Path) -> list[Path]:
        """Write the tasks and the labeling config."""
        return write_label_studio(run, out)

    def export_candidates(self, candidates: Candidates, out: Path) -> list[Path]:
        """Write the adjudication tasks and their labeling config."""
        return write_adjudication(candidates, out)
