"""The HTML report is self-contained (opens offline) and the Markdown summary carries the headline figures."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import prelabel
from prelabel.comparison.report import markdown_summary, render_html

DATA = Path(__file__).parents[1] / "data" / "compare"
FEEDBACK = prelabel.bundled_sop("customer_feedback_intent")


class Links(HTMLParser):
    """Collects every src/href attribute and <script>/<link> tag."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [value or "" for name, value in attrs if name in ("src", "href")]


@pytest.fixture(scope="module")
def comparison() -> prelabel.Comparison:
    humans = pd.read_csv(DATA / "humans.csv", dtype=str)
    humans["text"] = humans["item_id"].map(lambda i: f"<script>alert({i})</script> item {i}")
    return prelabel.compare(DATA / "labels.jsonl", humans, sop=FEEDBACK)


def test_html_report_is_self_contained(comparison: prelabel.Comparison, tmp_path: Path) -> None:
    path = comparison.to_html(tmp_path / "report.html")
    html = path.read_text(encoding="utf-8")
    parser = Links()
    parser.feed(html)
    external = [u for u in parser.urls if not u.startswith("data:")]
    assert external == []
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)
    assert "script" not in parser.tags and "link" not in parser.tags
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) >= 2  # confusion heatmap and the per-level chart
    assert all(base64.b64decode(img).startswith(b"\x89PNG") for img in images)


def test_html_report_has_every_section_and_escapes_item_text(comparison: prelabel.Comparison) -> None:
    html = render_html(comparison)
    for heading in ("Summary", "Top ambiguity candidates", "Confusion matrix", "Per tree level", "Slices"):
        assert heading in html
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "counterfeit.suspected_fake: The buyer believes" in html  # an SOP quote in a candidate card
    assert "items_model_error" in html  # skipped counts are shown
    assert "market" in html


def test_markdown_summary(comparison: prelabel.Comparison) -> None:
    text = markdown_summary(comparison)
    assert text.startswith("## prelabel compare")
    assert f"| items compared | {comparison.metrics.summary.n_compared} |" in text
    assert "Skipped: " in text and "items_model_abstained 1" in text
    top = comparison.candidates.iloc[0]
    assert f"| 1 | {top['cluster']} | {top['n_items']} |" in text


def test_report_renders_without_disagreements_and_for_multi_label(tmp_path: Path) -> None:
    humans = pd.DataFrame({"item_id": ["1", "1"], "annotator": ["x", "y"], "label": ["a;b", "a;b"]})
    results = pd.DataFrame({"item_id": ["1"], "labels": [["b", "a"]], "confidence": 0.8})
    cmp = prelabel.compare(results, humans, multi_label=True)
    assert cmp.disagreements.empty
    html = cmp.to_html(tmp_path / "r.html").read_text()
    assert "No confusion matrix" in html and "No disagreements" in html
    assert "| disagreements | 0 |" in cmp.to_markdown()


def test_the_report_is_a_document_template_that_escapes_every_value(comparison: prelabel.Comparison) -> None:
    from prelabel._documents import render_document
    from prelabel.comparison.report import REPORT_TEMPLATE, report_context

    def hostile(value: object) -> object:  # every text the page shows, charts aside, made markup
        if isinstance(value, str):
            return value if value.startswith("data:image/png") else f"<x>{value}"
        if isinstance(value, dict):
            return {k: hostile(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(hostile(v) for v in value)
        return value

    context = report_context(comparison)
    assert render_html(comparison) == render_document(REPORT_TEMPLATE, **context)
    html = render_document(REPORT_TEMPLATE, **hostile(context))  # type: ignore[arg-type]
    assert "<x>" not in html and html.count("&lt;x&gt;") > 100


def test_candidates_with_video_show_a_thumbnail_strip(tmp_path: Path) -> None:
    """Candidate items that have a video (found through the run's items file) get four frames of it in
    their card, as JPEG data URIs, in time order; a video gone since the run gets a note, not a failure."""
    from media_files import colour_of, nearest, write_video
    from prelabel.testing import FakeModel, Reply

    for name in ("a", "b"):
        write_video(tmp_path / f"{name}.mkv", 8)
    items = tmp_path / "items.jsonl"
    rows = [{"id": name, "text": f"clip {name}", "video": f"{name}.mkv"} for name in ("a", "b")]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    sop = prelabel.bundled_sop_path("customer_feedback_intent")
    fake = FakeModel(default=lambda _: Reply.answer("product.damaged"))
    prelabel.run(sop, items, tmp_path / "run", client=fake.async_client(), max_frames=1)
    humans = tmp_path / "humans.csv"
    humans.write_text(
        "item_id,annotator,label\n"
        + "".join(f"{i},{who},seller.conduct\n" for i in ("a", "b") for who in ("h1", "h2")),
        encoding="utf-8",
    )
    (tmp_path / "b.mkv").unlink()
    cmp = prelabel.compare(tmp_path / "run", humans, sop=prelabel.load_sop(sop))
    assert cmp.videos["a"] == str(tmp_path / "a.mkv") and set(cmp.videos) == {"a", "b"}
    html = render_html(cmp)
    strip = html[html.index('<div class="strip">') :]
    thumbs = re.findall(r'<img src="data:image/jpeg;base64,([^"]+)" alt="a at ([0-9.]+) s">', strip)
    assert [at for _, at in thumbs] == ["1.0", "3.0", "5.0", "7.0"]
    assert [nearest(colour_of(base64.b64decode(data))) for data, _ in thumbs] == [1, 3, 5, 7]
    assert "cannot read video" in strip  # b's video is gone: a note
