"""Comparison: model labels against human labels (and humans among themselves), and SOP ambiguity candidates.

Modules: ``readers`` (reading results and human labels), ``semantics`` (what labels mean: canonical
answers, abstention, answers outside the SOP, majority and ties, Jaccard; the label tree), ``prep``
(joining and majorities), ``interrater`` (kappa, alpha), ``metrics`` (per label/level/slice), ``ambiguity``
(scores and clusters), ``metrics_schema`` (the typed results, ``ComparisonMetrics`` and ``AgreementMetrics``:
``metrics.json``), ``reliability`` (how far the model's certainty can be trusted; route's calibration set),
``comparison`` (``compare``, ``agreement``, ``Comparison``), ``provenance`` (the models and SOP versions
of the results, and the smoke-model flag), ``report`` (HTML and Markdown), ``drafts``
(model-drafted ``edge_cases:`` entries), ``routing``/``route_report`` (``route``), ``route_source`` (which
results a route split: what binds ``export --only`` to them). Named ``comparison`` so that the package never
shadows the public ``prelabel.compare`` function.
May import: ``labeling``, ``runs``, ``llm``, ``prompt``, ``inputs``, ``sop``, ``errors``.
"""
