"""Labeling: the options object, ``Labeler`` (one item or many), the batch runner behind ``prelabel run``,
and results.

Modules: ``options`` (``LabelOptions``), ``labeler``, ``runner`` (``run``/``arun``, ``ResultSink``), ``setup``
(what online and Batch API runs share), ``dry_run`` (``estimate``), ``budget`` (``max_cost`` around a
RUN_DIR: what it spent, the estimate checked before sending), ``ledger``, ``result`` (``LabelResult``),
``run_items`` (the items a finished run's results are paired with, checked against its ledger).
The run directory itself (file names, ``labels.jsonl``, ``run.json``) is ``runs``.
May import: ``runs``, ``llm``, ``prompt``, ``inputs``, ``sop``, ``errors``.
"""
