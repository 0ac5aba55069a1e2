"""Labeling: the options object, ``Labeler`` (one item or many), the batch runner behind ``prelabel run``,
results and sinks.

Modules: ``options`` (``LabelOptions``), ``labeler``, ``runner`` (``run``/``arun``/``estimate``), ``result``
(``LabelResult``), ``sinks`` (``labels.jsonl``).
May import: ``llm``, ``prompt``, ``inputs``, ``sop``, ``errors``.
"""
