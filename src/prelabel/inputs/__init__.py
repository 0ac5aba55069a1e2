"""Inputs: items and the readers that turn JSONL/CSV/Parquet/DataFrames into them; bad rows become
``BadItem`` records, never dropped.

Modules: ``items`` (the ``Item`` model), ``reading`` (``read_items``, ``coerce_item``), ``digest`` (the one
item digest: what the prompt shows of an item), ``file_checks`` (an items file that is wrong as a whole:
empty, UTF-16, a JSON array in ``.jsonl``, no id or text field), ``tables`` (``read_table``: the one reader of
human labels, CSV results, answer keys and candidates).
May import: ``errors``.
"""
