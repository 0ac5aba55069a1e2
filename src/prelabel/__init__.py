"""prelabel: LLM prelabeling driven by structured SOPs.

    >>> import prelabel
    >>> sop = prelabel.bundled_sop("customer_feedback_intent")
    >>> prelabel.render(sop, {"id": "a1", "text": "Where is my parcel?"})[1]["role"]
    'user'
"""

from prelabel._bundled import bundled_sop, bundled_sop_path, bundled_sops
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
from prelabel.render import Prompt, list_templates, prompt_hash, render, render_prompt
from prelabel.sop import SOP, load_sop, parse_sop

__version__ = "0.1.0"

__all__ = [
    "SOP",
    "EndpointError",
    "InputError",
    "Item",
    "ItemError",
    "LabelingError",
    "PrelabelError",
    "Problem",
    "Prompt",
    "SOPError",
    "TemplateError",
    "__version__",
    "bundled_sop",
    "bundled_sop_path",
    "bundled_sops",
    "list_templates",
    "load_sop",
    "parse_sop",
    "prompt_hash",
    "render",
    "render_prompt",
]
