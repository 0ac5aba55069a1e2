"""Argilla export: records and settings build with the ``argilla`` package's own classes, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import prelabel


@pytest.mark.parametrize("name", prelabel.bundled_sops())
def test_records_build_with_argilla_classes(name: str, make_run, tmp_path: Path, offline_argilla) -> None:
    rg = offline_argilla
    sop = prelabel.bundled_sop(name)
    run_dir = make_run(prelabel.bundled_sop_path(name), n=30)
    out = tmp_path / "argilla.json"
    summary = prelabel.export(run_dir, "argilla", out)
    settings, records = prelabel.to_argilla(out)
    assert isinstance(settings, rg.Settings) and all(isinstance(r, rg.Record) for r in records)
    assert len(records) == 30 == summary.n_exported
    question = "labels" if sop.multi_label else "label"
    allowed = set(settings.questions[question].labels)
    assert allowed == set(sop.leaf_ids)
    assert sop.title in settings.guidelines and "market" in [m.name for m in settings.metadata]
    suggested = 0
    for record in records:
        assert record.fields["text"].startswith("item <")
        assert record.metadata["item_id"] == record.id
        if question not in record.to_dict()["suggestions"]:  # errors and abstentions: no suggestion
            continue
        suggestion = record.suggestions[question]
        suggested += 1
        values = suggestion.value if sop.multi_label else [suggestion.value]
        assert set(values) <= allowed
        assert 0 <= suggestion.score <= 1
        assert suggestion.agent.startswith(f"prelabel:{sop.id}@{sop.version}:gpt-4o-mini:")
        assert record.suggestions["rationale"].value
        assert record.to_dict()["suggestions"][question]["value"] == suggestion.value
    assert suggested == 30 - sum(summary.without_prediction.values())
    # the dataset accepts the settings (validated by argilla, no server call)
    dataset = rg.Dataset(name=f"prelabel-{name}", settings=settings)
    assert dataset.settings.questions[question].name == question


def test_to_argilla_names_the_extra_when_missing(monkeypatch, tmp_path: Path) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "argilla":
            raise ImportError("no argilla")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"settings": {}, "records": []}))
    with pytest.raises(prelabel.InputError, match=r"prelabel\[argilla\]"):
        prelabel.to_argilla(path)


def test_item_meta_cannot_override_the_reserved_metadata(tmp_path: Path) -> None:
    """An item's meta keys ``item_id`` and ``language`` (a CSV's columns of those names) do not replace the
    record's own: they are exported as ``meta_item_id``/``meta_language``, and the export says so."""
    from prelabel.testing import FakeModel

    items = [
        {
            "id": "a",
            "text": "late",
            "language": "en",
            "meta": {"item_id": "b", "language": "xx", "market": "DE"},
        },
        {"id": "b", "text": "broken", "meta": {"market": "TH"}},
    ]
    sop = prelabel.bundled_sop_path("customer_feedback_intent")
    prelabel.run(sop, items, tmp_path / "run", client=FakeModel().async_client())
    out = tmp_path / "argilla.json"
    summary = prelabel.export(tmp_path / "run", "argilla", out, sop=sop, items=items)
    payload = json.loads(out.read_text(encoding="utf-8"))
    first, second = payload["records"]
    assert first["metadata"] == {
        "item_id": "a",
        "language": "en",
        "meta_item_id": "b",
        "meta_language": "xx",
        "market": "DE",
    }
    assert second["metadata"] == {"item_id": "b", "market": "TH"}
    names = [m["name"] for m in payload["settings"]["metadata"]]
    assert names == ["item_id", "language", "market", "meta_item_id", "meta_language"]
    assert summary.warnings == [
        "1 items have meta keys named like Argilla metadata prelabel sets (item_id, language): exported as "
        "meta_<key> (a)"
    ]
