"""Inputs: items and the readers that turn JSONL/CSV/Parquet/DataFrames into them; bad rows become
``BadItem`` records, never dropped.

Modules: ``items`` (the ``Item`` model), ``reading`` (``read_items``, ``coerce_item``).
May import: ``errors``.
"""
