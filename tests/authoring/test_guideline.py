"""Guideline documents: golden files for every bundled SOP, and an HTML parser check that every label, rule
and edge case appears, every ``#anchor`` link resolves and nothing reaches the network.

After an intended change, regenerate the golden files: ``PRELABEL_UPDATE_GOLDEN=1 pytest tests/authoring``.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

import prelabel
from helpers import check_golden, run_cli

GOLDEN = Path(__file__).parent / "golden"


class Page(HTMLParser):
    """Ids, internal links, external references and scripts of an HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.links: list[str] = []
        self.external: list[str] = []
        self.script_sources: list[str] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(str(values["id"]))
        for name in ("href", "src", "action", "data"):
            value = values.get(name)
            if value is None:
                continue
            if value.startswith("#"):
                self.links.append(value[1:])
            else:
                self.external.append(value)
        if tag == "script" and "src" in values:
            self.script_sources.append(str(values["src"]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("name", prelabel.bundled_sops())
@pytest.mark.parametrize("fmt", ["html", "md"])
def test_golden_guideline(name: str, fmt: str) -> None:
    check_golden(
        GOLDEN, f"{name}.guideline.{fmt}", prelabel.render_guideline(prelabel.bundled_sop(name), fmt)
    )


@pytest.mark.parametrize("name", prelabel.bundled_sops())
def test_html_has_everything_and_links_resolve(name: str) -> None:
    sop = prelabel.bundled_sop(name)
    page = Page(prelabel.render_guideline(sop))
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"
    assert set(page.links) <= set(page.ids), f"dangling links: {set(page.links) - set(page.ids)}"
    for label in sop.label_index:
        assert f"label-{label}" in page.ids and f"label-{label}" in page.links  # in the outline too
    assert {f"rule-{r.id}" for r in sop.rules} <= set(page.ids)
    assert {f"case-{c.id}" for c in sop.edge_cases} <= set(page.ids)
    text = " ".join(" ".join(page.text).split())
    for item in (*sop.rules, *sop.edge_cases):
        assert " ".join(item.text.split()) in text
    for case in sop.edge_cases:
        assert " ".join(case.ruling.split()) in text
    # opens offline: no external URL, stylesheet or script; the search script is inline
    assert page.external == [] and page.script_sources == []
    assert 'id="search"' in prelabel.render_guideline(
        sop
    ) and "addEventListener" in prelabel.render_guideline(sop)


def test_exclusions_link_to_the_label_to_use() -> None:
    html = prelabel.render_guideline(prelabel.bundled_sop("customer_feedback_intent"))
    assert 'arrived late and the item is broken → use <a href="#label-product.damaged">' in html


def test_sop_text_is_escaped() -> None:
    sop = prelabel.parse_sop(
        "id: x\nversion: 1\ntitle: '<script>alert(1)</script>'\n"
        "labels: [{id: a, definition: 'Use *this* <b>bold</b> & more'}]\n"
    )
    html = prelabel.render_guideline(sop)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in html
    md = prelabel.render_guideline(sop, "md")
    assert "\\<script\\>" in md and "Use \\*this\\* \\<b\\>bold\\</b\\>" in md


def test_language_keeps_that_language_and_changelog_shows() -> None:
    sop = prelabel.load_sop(Path(__file__).parent / "data" / "sop_v2.yaml")
    md = prelabel.render_guideline(sop, "md", language="id")
    assert "paket belum sampai" in md and "still waiting after two weeks" not in md
    assert '## <a id="changelog"></a>Change log' in md and "2024-06-01" in md
    assert "New label product.fake" in prelabel.render_guideline(sop)


def test_write_guideline_guesses_format_and_refuses_to_overwrite(tmp_path: Path) -> None:
    sop = prelabel.bundled_sop("review_authenticity")
    path = prelabel.write_guideline(sop, tmp_path / "sub" / "guide.md")
    assert path.read_text(encoding="utf-8").startswith("# ")
    with pytest.raises(prelabel.InputError, match="already exists"):
        prelabel.write_guideline(sop, path)
    prelabel.write_guideline(sop, path, "html", overwrite=True)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(prelabel.InputError, match="unknown guideline format 'pdf'"):
        prelabel.write_guideline(sop, tmp_path / "g.pdf", "pdf")  # type: ignore[arg-type]
    with pytest.raises(prelabel.InputError, match="is a directory"):
        prelabel.write_guideline(sop, tmp_path)


def test_examples_media_are_embedded_in_the_guideline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SOP whose examples name an image and a video: the HTML guideline embeds the image and four
    thumbnails of the video (still self-contained), the Markdown one names them; a URL is named, not
    fetched or linked; a path outside the SOP's folder is refused with a note."""
    from PIL import Image

    from media_files import write_video

    Image.new("RGB", (40, 30), "red").save(tmp_path / "photo.png")
    write_video(tmp_path / "clip.mkv", 4)
    sop_file = tmp_path / "sop.yaml"
    sop_file.write_text(
        "id: m\nversion: '1'\ntitle: Media\nlabels:\n"
        "  - id: a\n    definition: A.\n    examples:\n"
        "      - {text: photo example, images: [photo.png, 'https://cdn.example.com/x.png']}\n"
        "      - {text: clip example, video: clip.mkv}\n"
        "      - {text: outside, images: [../elsewhere.png]}\n"
        "  - id: b\n    definition: B.\n",
        encoding="utf-8",
    )
    sop = prelabel.load_sop(sop_file)
    html = prelabel.render_guideline(sop, "html", media_root=tmp_path)
    page = Page(html)
    assert all(url.startswith("data:image/") for url in page.external) and page.script_sources == []
    assert html.count('src="data:image/png;base64,') == 1
    assert html.count('src="data:image/jpeg;base64,') == 4
    assert "<figcaption>0.6 s</figcaption>" in html and "<figcaption>3.6 s</figcaption>" in html
    assert "image at https://cdn.example.com/x.png (not embedded)" in html
    assert "escapes the media root" in html
    markdown = prelabel.render_guideline(sop, "md", media_root=tmp_path)
    assert "[image: photo.png] [image: https://cdn.example.com/x.png]" in markdown.replace("\\", "")
    assert "[video: clip.mkv]" in markdown.replace("\\", "")
    # prelabel doc: the examples' paths are relative to the SOP file's folder, wherever it runs from
    monkeypatch.chdir(tmp_path.parent)
    code, _, err = run_cli(capsys, "doc", str(sop_file), "-o", str(tmp_path / "guide.html"))
    assert code == 0, err
    assert (tmp_path / "guide.html").read_text(encoding="utf-8").count("data:image/jpeg;base64,") == 4
