"""Authoring: the SOP writer's loop — edge-case test suites (``prelabel test``), version diffs that show label
flips, self-consistency, label-tree gaps, vendor-facing guideline documents and calibration quizzes.

May import: ``comparison``, ``labeling``, ``llm``, ``prompt``, ``inputs``, ``sop``, ``errors``.
"""
