"""prelabel: LLM prelabeling driven by structured SOPs.

>>> import prelabel
>>> sop = prelabel.bundled_sop("customer_feedback_intent")
>>> prelabel.render(sop, {"id": "a1", "text": "Where is my parcel?"})[1]["role"]
'user'
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from prelabel._version import __version__

if _TYPE_CHECKING:  # what type checkers and IDEs see; at run time ``__getattr__`` imports
    from prelabel._jsonio import check_output
    from prelabel.authoring.calibration import CalibrationSet, calibration_set
    from prelabel.authoring.calibration_score import CalibrationScore, score_calibration
    from prelabel.authoring.docdiff import DocDiff, diff_sops, write_doc_diff
    from prelabel.authoring.flips import LabelFlips, label_flips
    from prelabel.authoring.gaps import LabelGaps, find_gaps
    from prelabel.authoring.guideline import render_guideline, write_guideline
    from prelabel.authoring.sop_apply import SOPApply, apply_rulings
    from prelabel.authoring.suite import SOPTestReport, run_sop_tests
    from prelabel.comparison.comparison import Comparison, agreement, compare
    from prelabel.comparison.drafts import draft_edge_cases, write_draft_edge_cases
    from prelabel.comparison.engines import engine_hint
    from prelabel.comparison.metrics_schema import AgreementMetrics, ComparisonMetrics
    from prelabel.comparison.readers import read_human_labels, read_results
    from prelabel.comparison.report_dir import check_report_dir
    from prelabel.comparison.route_report import Routing
    from prelabel.comparison.routing import route
    from prelabel.comparison.trends import QAReport, qa
    from prelabel.comparison.vendor_qa import vendor_qa_lines
    from prelabel.demo.walkthrough import DemoResult, run_demo
    from prelabel.errors import (
        BudgetError,
        EndpointError,
        InputError,
        ItemError,
        LabelingError,
        OutputError,
        PrelabelError,
        Problem,
        SOPError,
        TemplateError,
    )
    from prelabel.exports.argilla import to_argilla
    from prelabel.exports.export import export, export_candidates
    from prelabel.exports.exporter import Exporter
    from prelabel.exports.records import ExportSummary, RunExport
    from prelabel.exports.registry import exporters
    from prelabel.inputs.items import Item
    from prelabel.inputs.reading import BadItem, read_items
    from prelabel.labeling.batch_collect import (
        BatchCollection,
        BatchProgress,
        BatchStatus,
        batch_status,
        collect_batch,
    )
    from prelabel.labeling.batch_submit import BatchSubmission, submit_batch
    from prelabel.labeling.dry_run import Estimate, estimate
    from prelabel.labeling.labeler import Labeler
    from prelabel.labeling.options import LabelOptions
    from prelabel.labeling.result import ErrorInfo, LabelResult, to_dataframe
    from prelabel.labeling.runner import RunSummary, arun, run
    from prelabel.llm.registry import Backend
    from prelabel.llm.retry import RetryPolicy
    from prelabel.llm.usage import Price, PriceTable, Usage
    from prelabel.prompt.rendering import (
        MediaPart,
        Prompt,
        list_templates,
        media_listed,
        prompt_hash,
        render,
        render_prompt,
    )
    from prelabel.prompt.schema import response_model
    from prelabel.runs.run_dir import RunDir
    from prelabel.sop.bundled import bundled_sop, bundled_sop_path, bundled_sops
    from prelabel.sop.rulings import Ruling
    from prelabel.sop.spec import SOP, load_sop, parse_sop
    from prelabel.vendors.adjudication import Adjudicated, read_adjudication, read_rulings

#: Where each public name lives. Imports are lazy: ``import prelabel`` loads no heavy dependency (openai,
#: instructor, pandas, scikit-learn); a name's module loads on first use.
_EXPORTS: dict[str, str] = {
    "SOP": "prelabel.sop.spec",
    "AgreementMetrics": "prelabel.comparison.metrics_schema",
    "Backend": "prelabel.llm.registry",
    "BadItem": "prelabel.inputs.reading",
    "BatchCollection": "prelabel.labeling.batch_collect",
    "BatchProgress": "prelabel.labeling.batch_collect",
    "BatchStatus": "prelabel.labeling.batch_collect",
    "BatchSubmission": "prelabel.labeling.batch_submit",
    "BudgetError": "prelabel.errors",
    "CalibrationScore": "prelabel.authoring.calibration_score",
    "CalibrationSet": "prelabel.authoring.calibration",
    "Comparison": "prelabel.comparison.comparison",
    "ComparisonMetrics": "prelabel.comparison.metrics_schema",
    "DemoResult": "prelabel.demo.walkthrough",
    "DocDiff": "prelabel.authoring.docdiff",
    "EndpointError": "prelabel.errors",
    "ErrorInfo": "prelabel.labeling.result",
    "Estimate": "prelabel.labeling.dry_run",
    "ExportSummary": "prelabel.exports.records",
    "Exporter": "prelabel.exports.exporter",
    "InputError": "prelabel.errors",
    "Item": "prelabel.inputs.items",
    "ItemError": "prelabel.errors",
    "LabelFlips": "prelabel.authoring.flips",
    "LabelGaps": "prelabel.authoring.gaps",
    "LabelOptions": "prelabel.labeling.options",
    "LabelResult": "prelabel.labeling.result",
    "Labeler": "prelabel.labeling.labeler",
    "LabelingError": "prelabel.errors",
    "OutputError": "prelabel.errors",
    "PrelabelError": "prelabel.errors",
    "Price": "prelabel.llm.usage",
    "PriceTable": "prelabel.llm.usage",
    "Problem": "prelabel.errors",
    "Prompt": "prelabel.prompt.rendering",
    "MediaPart": "prelabel.prompt.rendering",
    "media_listed": "prelabel.prompt.rendering",
    "RetryPolicy": "prelabel.llm.retry",
    "Routing": "prelabel.comparison.route_report",
    "QAReport": "prelabel.comparison.trends",
    "Ruling": "prelabel.sop.rulings",
    "RunDir": "prelabel.runs.run_dir",
    "RunExport": "prelabel.exports.records",
    "RunSummary": "prelabel.labeling.runner",
    "SOPApply": "prelabel.authoring.sop_apply",
    "SOPError": "prelabel.errors",
    "SOPTestReport": "prelabel.authoring.suite",
    "TemplateError": "prelabel.errors",
    "Usage": "prelabel.llm.usage",
    "Adjudicated": "prelabel.vendors.adjudication",
    "agreement": "prelabel.comparison.comparison",
    "apply_rulings": "prelabel.authoring.sop_apply",
    "arun": "prelabel.labeling.runner",
    "batch_status": "prelabel.labeling.batch_collect",
    "bundled_sop": "prelabel.sop.bundled",
    "bundled_sop_path": "prelabel.sop.bundled",
    "bundled_sops": "prelabel.sop.bundled",
    "calibration_set": "prelabel.authoring.calibration",
    "check_output": "prelabel._jsonio",
    "check_report_dir": "prelabel.comparison.report_dir",
    "collect_batch": "prelabel.labeling.batch_collect",
    "compare": "prelabel.comparison.comparison",
    "engine_hint": "prelabel.comparison.engines",
    "diff_sops": "prelabel.authoring.docdiff",
    "draft_edge_cases": "prelabel.comparison.drafts",
    "estimate": "prelabel.labeling.dry_run",
    "export": "prelabel.exports.export",
    "export_candidates": "prelabel.exports.export",
    "exporters": "prelabel.exports.registry",
    "find_gaps": "prelabel.authoring.gaps",
    "label_flips": "prelabel.authoring.flips",
    "list_templates": "prelabel.prompt.rendering",
    "qa": "prelabel.comparison.trends",
    "vendor_qa_lines": "prelabel.comparison.vendor_qa",
    "load_sop": "prelabel.sop.spec",
    "parse_sop": "prelabel.sop.spec",
    "prompt_hash": "prelabel.prompt.rendering",
    "read_adjudication": "prelabel.vendors.adjudication",
    "read_human_labels": "prelabel.comparison.readers",
    "read_items": "prelabel.inputs.reading",
    "read_results": "prelabel.comparison.readers",
    "read_rulings": "prelabel.vendors.adjudication",
    "render": "prelabel.prompt.rendering",
    "render_guideline": "prelabel.authoring.guideline",
    "render_prompt": "prelabel.prompt.rendering",
    "response_model": "prelabel.prompt.schema",
    "route": "prelabel.comparison.routing",
    "run": "prelabel.labeling.runner",
    "run_demo": "prelabel.demo.walkthrough",
    "run_sop_tests": "prelabel.authoring.suite",
    "score_calibration": "prelabel.authoring.calibration_score",
    "submit_batch": "prelabel.labeling.batch_submit",
    "to_argilla": "prelabel.exports.argilla",
    "to_dataframe": "prelabel.labeling.result",
    "write_doc_diff": "prelabel.authoring.docdiff",
    "write_draft_edge_cases": "prelabel.comparison.drafts",
    "write_guideline": "prelabel.authoring.guideline",
}

__all__ = [
    "SOP",
    "Adjudicated",
    "AgreementMetrics",
    "Backend",
    "BadItem",
    "BatchCollection",
    "BatchProgress",
    "BatchStatus",
    "BatchSubmission",
    "BudgetError",
    "CalibrationScore",
    "CalibrationSet",
    "Comparison",
    "ComparisonMetrics",
    "DemoResult",
    "DocDiff",
    "EndpointError",
    "ErrorInfo",
    "Estimate",
    "ExportSummary",
    "Exporter",
    "InputError",
    "Item",
    "ItemError",
    "LabelFlips",
    "LabelGaps",
    "LabelOptions",
    "LabelResult",
    "Labeler",
    "LabelingError",
    "MediaPart",
    "OutputError",
    "PrelabelError",
    "Price",
    "PriceTable",
    "Problem",
    "Prompt",
    "QAReport",
    "RetryPolicy",
    "Routing",
    "Ruling",
    "RunDir",
    "RunExport",
    "RunSummary",
    "SOPApply",
    "SOPError",
    "SOPTestReport",
    "TemplateError",
    "Usage",
    "__version__",
    "agreement",
    "apply_rulings",
    "arun",
    "batch_status",
    "bundled_sop",
    "bundled_sop_path",
    "bundled_sops",
    "calibration_set",
    "check_output",
    "check_report_dir",
    "collect_batch",
    "compare",
    "diff_sops",
    "draft_edge_cases",
    "engine_hint",
    "estimate",
    "export",
    "export_candidates",
    "exporters",
    "find_gaps",
    "label_flips",
    "list_templates",
    "load_sop",
    "media_listed",
    "parse_sop",
    "prompt_hash",
    "qa",
    "read_adjudication",
    "read_human_labels",
    "read_items",
    "read_results",
    "read_rulings",
    "render",
    "render_guideline",
    "render_prompt",
    "response_model",
    "route",
    "run",
    "run_demo",
    "run_sop_tests",
    "score_calibration",
    "submit_batch",
    "to_argilla",
    "to_dataframe",
    "vendor_qa_lines",
    "write_doc_diff",
    "write_draft_edge_cases",
    "write_guideline",
]


_SUBPACKAGES = frozenset(
    {"cli", "comparison", "demo", "errors", "exports", "inputs", "labeling", "llm", "prompt", "runs", "sop"}
    | {"testing"}
)


def _import(module: str) -> _Any:
    from prelabel._gc import paused

    with paused():  # a first use loads dependencies (pydantic, jinja2, instructor, pandas): prelabel._gc
        return _importlib.import_module(module)


def __getattr__(name: str) -> _Any:
    if name in _SUBPACKAGES:  # ``prelabel.demo.demo_items()`` right after ``import prelabel``
        return _import(f"prelabel.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'prelabel' has no attribute '{name}'")
    value = getattr(_import(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | {name for name in globals() if name.startswith("__")})
