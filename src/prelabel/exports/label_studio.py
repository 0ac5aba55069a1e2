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
from pathlib import Path
from typing import Any

from prelabel._jsonio import together, write_text
from prelabel._xml import xml_safe
from prelabel.exports.exporter import Exporter
from prelabel.exports.records import RunExport, model_version, prediction_status
from prelabel.sop.spec import SOP, Label
from prelabel.vendors.names import LS_CONTROL, LS_IMAGES, LS_RATIONALE, LS_VIDEO

__all__ = ["LabelStudio", "label_config", "label_studio_tasks", "write_label_studio"]

CONTROL, RATIONALE, IMAGES, VIDEO = LS_CONTROL, LS_RATIONALE, LS_IMAGES, LS_VIDEO
_VIDEO_TEXTS = ("transcript", "ocr_text")


def _several_images(run: RunExport) -> bool:
    """Whether an exported item holds more than one image (then every task carries the list ``images``)."""
    return any(len(item.images) > 1 for item in run.items.values())


def _is_tree(sop: SOP) -> bool:
    return any(label.children for label in sop.labels)


def _choice(parent: ET.Element, label: Label) -> None:
    node = ET.SubElement(parent, "Choice", value=label.id, hint=label.definition.strip())
    for child in label.children:
        _choice(node, child)


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
    view = ET.Element("View")
    ET.SubElement(view, "Header", value=f"{sop.title} ({sop.id}@{sop.version})")
    image = image or images
    target = _target(text, image, video)
    if text:
        ET.SubElement(view, "Text", name="text", value="$text")
    if images:
        ET.SubElement(view, "Image", name="image", valueList=f"${IMAGES}")
    elif image:
        ET.SubElement(view, "Image", name="image", value="$image")
    if video:
        ET.SubElement(view, "Video", name=VIDEO, value=f"${VIDEO}")
        for field in video_texts:
            ET.SubElement(view, "Text", name=field, value=f"${field}")
    if _is_tree(sop):
        control = ET.SubElement(view, "Taxonomy", name=CONTROL, toName=target, leafsOnly="true")
        if not sop.multi_label:
            control.set("maxUsages", "1")
    else:
        choice = "multiple" if sop.multi_label else "single-radio"
        control = ET.SubElement(view, "Choices", name=CONTROL, toName=target, choice=choice, required="true")
    for label in sop.labels:
        _choice(control, label)
    ET.SubElement(view, "TextArea", name=RATIONALE, toName=target, editable="true", maxSubmissions="1")
    ET.indent(view)
    return xml_safe(ET.tostring(view, encoding="unicode")) + "\n"  # an SOP built in code may hold a NUL


def _target(text: bool, image: bool, video: bool) -> str:
    """The object the label control and rationale point at: the text, else the image, else the video."""
    return "text" if text or not (image or video) else ("image" if image else VIDEO)


def _media(run: RunExport) -> tuple[bool, bool, bool, tuple[str, ...]]:
    """Whether exported items have text, images, a video, and which of the video's texts they carry."""
    items = run.items.values()
    images = any(item.images for item in items)
    video = any(item.video for item in items)
    texts = any(item.text for item in items) or not (images or video)
    video_texts = tuple(f for f in _VIDEO_TEXTS if any(getattr(item, f) for item in items))
    return texts, images, video, video_texts


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
    has_text, has_images, has_video, video_texts = _media(run)
    target = _target(has_text, has_images, has_video)
    several = _several_images(run)
    for row in run.rows:
        item = run.items.get(str(row["item_id"]))
        if item is None:
            run.skip("item not found in the items file", row["item_id"])
            continue
        data: dict[str, Any] = {"item_id": item.id, "text": item.text or ""}
        if item.images:
            data["image"] = item.images[0]
        if several:  # the config shows the list: every image of every item (an item without one: none)
            data[IMAGES] = list(item.images)
        if has_video:  # the config shows it: every task holds the field (an item without one: empty)
            data[VIDEO] = item.video or ""
            data |= {field: getattr(item, field) or "" for field in video_texts}
        data |= {"language": item.language, "meta": item.meta}
        task: dict[str, Any] = {"data": data, "predictions": []}
        if prediction_status(row, run.sop) is None:
            task["predictions"].append(_prediction(row, run.sop, target))
        tasks.append(task)
    return tasks


def write_label_studio(run: RunExport, out: Path) -> list[Path]:
    """Write ``out`` (tasks JSON) and ``label_config.xml`` beside it."""
    assert run.sop is not None
    tasks = label_studio_tasks(run)
    texts, images, video, video_texts = _media(run)
    config = out.parent / "label_config.xml"
    out.parent.mkdir(parents=True, exist_ok=True)
    several = _several_images(run)
    xml = label_config(
        run.sop, text=texts, image=images, images=several, video=video, video_texts=video_texts
    )
    with together():  # both files, or neither
        write_text(out, json.dumps(tasks, ensure_ascii=False, indent=1) + "\n")
        write_text(config, xml)
    return [out, config]


class LabelStudio(Exporter):
    """``--format label-studio``: `write_label_studio`."""

    name = "label-studio"
    description = "Label Studio tasks with predictions, and label_config.xml beside them"
    suffix = ".json"
    needs_sop = needs_items = predictions = True

    def outputs(self, out: Path) -> list[Path]:
        """The tasks file and ``label_config.xml`` beside it."""
        return [out, out.parent / "label_config.xml"]

    def export(self, run: RunExport, out: Path) -> list[Path]:
        """Write the tasks and the labeling config."""
        return write_label_studio(run, out)
