"""The demo: a bundled SOP, items and human labels through ``run`` and ``compare`` (``prelabel demo``).

Modules: ``walkthrough`` (``run_demo``, ``demo_items``, ``demo_human_labels``); the data is the repository's
``examples/`` (the README Quickstart's files).
May import: everything below ``cli``.
"""

from prelabel.demo.walkthrough import DemoResult, demo_human_labels, demo_items, run_demo

__all__ = ["DemoResult", "demo_human_labels", "demo_items", "run_demo"]
