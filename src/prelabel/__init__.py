"""prelabel: LLM prelabeling driven by structured SOPs.

>>> import prelabel
>>> sop = prelabel.bundled_sop("customer_feedback_intent")
>>> prelabel.render(sop, {"id": "a1", "text": "Where is my parcel?"})[1]["role"]
'user'
"""

from prelabel._bundled import bundled_sop, bundled_sop_path, bundled_sops
from prelabel.compare import Comparison, agreement, compare
from prelabel.compare_io import read_human_labels, read_results
from prelabel.demo import DemoResult, run_demo
from prelabel.edge_drafts import draft_edge_cases, write_draft_edge_cases
from prelabel.errors import (
    EndpointError,
    InputError,
    ItemError,
    LabelingError,
    PrelabelError,
    Problem,
    SOPError,
    TemplateError,
)
from prelabel.items import Item
from prelabel.labeler import Labeler
from prelabel.reading import BadItem, read_items
from prelabel.render import Prompt, list_templates, prompt_hash, render, render_prompt
from prelabel.result import ErrorInfo, LabelResult, to_dataframe
from prelabel.retry import RetryPolicy
from prelabel.runner import Estimate, RunSummary, arun, estimate, run
from prelabel.schema import response_model
from prelabel.sop import SOP, load_sop, parse_sop
from prelabel.usage import PriceTable, Usage

__version__ = "0.1.0"

__all__ = [
    "SOP",
    "BadItem",
    "Comparison",
    "DemoResult",
    "EndpointError",
    "ErrorInfo",
    "Estimate",
    "InputError",
    "Item",
    "ItemError",
    "LabelResult",
    "Labeler",
    "LabelingError",
    "PrelabelError",
    "PriceTable",
    "Problem",
    "Prompt",
    "RetryPolicy",
    "RunSummary",
    "SOPError",
    "TemplateError",
    "Usage",
    "__version__",
    "agreement",
    "arun",
    "bundled_sop",
    "bundled_sop_path",
    "bundled_sops",
    "compare",
    "draft_edge_cases",
    "estimate",
    "list_templates",
    "load_sop",
    "parse_sop",
    "prompt_hash",
    "read_human_labels",
    "read_items",
    "read_results",
    "render",
    "render_prompt",
    "response_model",
    "run",
    "run_demo",
    "to_dataframe",
    "write_draft_edge_cases",
]
