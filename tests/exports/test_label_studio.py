"""Label Studio export: every prediction of every bundled SOP (and flat SOPs) passes label-studio-sdk's own
``LabelInterface.validate_prediction`` against the generated ``label_config.xml``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

import prelabel
from helpers import quiet_import
from prelabel.exports.label_studio import label_config


def _validate(config: str, prediction: dict) -> list[str]:
    interface = quiet_import("label_studio_sdk.label_interface").LabelInterface
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(interface(config).validate_prediction(prediction, return_errors=True))


@pytest.mark.parametrize("name", prelabel.bundled_sops())
def test_every_bundled_sop_validates_with_the_sdk(name: str, make_run, tmp_path: Path) -> None:
    run_dir = make_run(prelabel.bundled_sop_path(name), n=40)
    out = tmp_path / "ls" / "tasks.json"
    summary = prelabel.export(run_dir, "label-studio", out)
    tasks = json.loads(out.read_text(encoding="utf-8"))
    config = (out.parent / "label_config.xml").read_text(encoding="utf-8")
    sop = prelabel.bundled_sop(name)
    assert len(tasks) == 40 == summary.n_exported
    predicted = [t for t in tasks if t["predictions"]]
    assert len(predicted) == 40 - sum(summary.without_prediction.values()) > 30
    assert summary.without_prediction["error"] == 1
    for task in predicted:
        (prediction,) = task["predictions"]
        assert _validate(config, prediction) == []
        label = prediction["result"][0]
        assert label["type"] == "taxonomy"  # every bundled SOP is a tree
        for path in label["value"]["taxonomy"]:  # root-to-leaf paths of the SOP tree
            assert path == sop.ancestors(path[-1]) and path[-1] in sop.leaf_ids
        assert prediction["model_version"] == f"prelabel:{sop.id}@{sop.version}:gpt-4o-mini:" + "ab" * 6
        assert 0 <= prediction["score"] <= 1
        assert task["data"]["item_id"] and task["data"]["text"].startswith("item <")


@pytest.mark.parametrize("task", ["single_label", "multi_label"])
def test_flat_sops_get_choices(task: str, flat_sop, make_run, tmp_path: Path) -> None:
    run_dir = make_run(flat_sop(task), n=10)
    out = tmp_path / "tasks.json"
    prelabel.export(run_dir, "label-studio", out)
    config = (tmp_path / "label_config.xml").read_text(encoding="utf-8")
    assert 'choice="multiple"' in config if task == "multi_label" else 'choice="single-radio"' in config
    assert 'hint="Unwanted &amp; &quot;promotional&quot; content."' in config
    for t in json.loads(out.read_text(encoding="utf-8")):
        for prediction in t["predictions"]:
            assert prediction["result"][0]["type"] == "choices"
            assert _validate(config, prediction) == []


def test_the_sdk_check_catches_a_wrong_label(make_run, tmp_path: Path) -> None:
    run_dir = make_run(prelabel.bundled_sop_path("customer_feedback_intent"), n=5)
    out = tmp_path / "tasks.json"
    prelabel.export(run_dir, "label-studio", out)
    config = (tmp_path / "label_config.xml").read_text(encoding="utf-8")
    prediction = json.loads(out.read_text(encoding="utf-8"))[0]["predictions"][0]
    prediction["result"][0]["value"]["taxonomy"] = [["logistics", "logistics.teleported"]]
    assert _validate(config, prediction)


def test_config_is_generated_from_the_sop() -> None:
    sop = prelabel.bundled_sop("review_authenticity")
    xml = label_config(sop)
    for label_id in sop.label_index:
        assert f'value="{label_id}"' in xml
    assert 'maxUsages="1"' in xml  # single-label: one path
    assert '<TextArea name="rationale" toName="text"' in xml


def test_every_image_of_a_multi_image_item_is_sent(tmp_path: Path) -> None:
    """An item with several images: every task carries the list ``images`` and the config shows it whole
    (``valueList``); the SDK accepts the config, the tasks and the predictions."""
    from prelabel.testing import FakeModel

    interface = quiet_import("label_studio_sdk.label_interface").LabelInterface
    items = [
        {"id": "a", "images": ["https://img.invalid/1.png", "https://img.invalid/2.png"]},
        {"id": "b", "images": ["https://img.invalid/3.png"]},
    ]
    sop = prelabel.bundled_sop_path("customer_feedback_intent")
    prelabel.run(sop, items, tmp_path / "run", client=FakeModel().async_client())
    out = tmp_path / "ls" / "tasks.json"
    prelabel.export(tmp_path / "run", "label-studio", out, items=items)
    config = (out.parent / "label_config.xml").read_text(encoding="utf-8")
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert '<Image name="image" valueList="$images" />' in config and "<Text " not in config
    assert [t["data"]["images"] for t in tasks] == [i["images"] for i in items]
    assert [t["data"]["image"] for t in tasks] == ["https://img.invalid/1.png", "https://img.invalid/3.png"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checked = interface(config)
        checked.validate()
        assert [checked.validate_task({"data": t["data"]}) for t in tasks] == [True, True]  # SDK: data only
    for task in tasks:
        (prediction,) = task["predictions"]
        assert prediction["result"][0]["to_name"] == "image"
        assert _validate(config, prediction) == []


def test_single_image_items_keep_the_single_image_config(tmp_path: Path) -> None:
    from prelabel.testing import FakeModel

    items = [{"id": "a", "images": ["https://img.invalid/1.png"]}]
    sop = prelabel.bundled_sop_path("customer_feedback_intent")
    prelabel.run(sop, items, tmp_path / "run", client=FakeModel().async_client())
    out = tmp_path / "tasks.json"
    prelabel.export(tmp_path / "run", "label-studio", out, items=items)
    assert '<Image name="image" value="$image" />' in (tmp_path / "label_config.xml").read_text()
    assert "images" not in json.loads(out.read_text(encoding="utf-8"))[0]["data"]


def test_the_config_never_holds_characters_xml_forbids() -> None:
    """An SOP built in code (validate refuses these in files) still gives a config Label Studio can parse."""
    import xml.etree.ElementTree as ET

    sop = prelabel.bundled_sop("customer_feedback_intent")
    sop = sop.model_copy(update={"title": "Intent \x1b[1m\x00"})
    xml = label_config(sop)
    header = ET.fromstring(xml).find("Header")
    assert header is not None and header.get("value", "").startswith("Intent \\x1b[1m\\x00 (")


def test_video_items_get_a_video_object_and_tasks_that_reference_it(tmp_path: Path) -> None:
    """Video items (one with a transcript): the config has a ``Video`` object and the
    video's texts; the SDK accepts the config, every task's data and every prediction."""
    from media_files import write_video
    from prelabel.testing import FakeModel

    interface = quiet_import("label_studio_sdk.label_interface").LabelInterface
    write_video(tmp_path / "clip.mkv", 2)
    items = tmp_path / "items.jsonl"
    rows = [
        {"id": "v", "video": "clip.mkv", "transcript": "buy now"},
        {"id": "w", "video": "clip.mkv"},
    ]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    sop = prelabel.bundled_sop_path("customer_feedback_intent")
    prelabel.run(sop, items, tmp_path / "run", client=FakeModel().async_client(), max_frames=1)
    out = tmp_path / "ls" / "tasks.json"
    prelabel.export(tmp_path / "run", "label-studio", out)
    config = (out.parent / "label_config.xml").read_text(encoding="utf-8")
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert '<Video name="video" value="$video" />' in config
    assert '<Text name="transcript" value="$transcript" />' in config and 'name="ocr_text"' not in config
    assert '<Text name="text"' not in config  # no item has text: the label goes to the video
    assert [t["data"]["video"] for t in tasks] == [str(tmp_path / "clip.mkv")] * 2
    assert [t["data"]["transcript"] for t in tasks] == ["buy now", ""]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checked = interface(config)
        checked.validate()
        assert [checked.validate_task({"data": t["data"]}) for t in tasks] == [True, True]
    for task in tasks:
        (prediction,) = task["predictions"]
        assert prediction["result"][0]["to_name"] == "video"
        assert _validate(config, prediction) == []
