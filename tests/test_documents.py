"""Documents for people (guideline, doc-diff, compare report) render from ``doc_templates/``, apart from the
prompt templates in ``prompts/``, through one sandboxed jinja environment that escapes every value."""

from __future__ import annotations

import pytest

import prelabel
from prelabel._documents import document_templates, render_document
from prelabel._resources import data_dir
from prelabel.authoring.guideline import GUIDELINE_TEMPLATES
from prelabel.comparison.report import REPORT_TEMPLATE
from prelabel.comparison.trends_report import QA_TEMPLATE


def test_document_templates_are_apart_from_prompt_templates() -> None:
    documents = document_templates()
    used = {*GUIDELINE_TEMPLATES.values(), "docdiff.html.v1", "docdiff.md.v1", REPORT_TEMPLATE, QA_TEMPLATE}
    assert set(documents) == used
    assert prelabel.list_templates() == ["classify.v1"]  # prompt templates only
    assert not set(documents) & {p.name.removesuffix(".jinja") for p in data_dir("prompts").iterdir()}


def test_html_documents_escape_every_value_and_markdown_ones_escape_through_the_md_filter() -> None:
    sop = prelabel.parse_sop(
        "id: d\nversion: '1'\ntitle: '<b>*T*</b>'\nlabels: [{id: a, definition: '<script>x</script>'}]"
    )
    html = prelabel.render_guideline(sop, "html")
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x" not in html
    markdown = prelabel.render_guideline(sop, "md")
    assert markdown.splitlines()[0] == "# \\<b\\>\\*T\\*\\</b\\>"


@pytest.mark.parametrize("name", ["nope.html.v1", "../prompts/classify.v1", "classify.v1"])
def test_an_unknown_document_template_is_a_template_error(name: str) -> None:
    with pytest.raises(prelabel.TemplateError, match=f"unknown document template '{name}'"):
        render_document(name)
