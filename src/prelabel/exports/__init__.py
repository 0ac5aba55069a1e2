"""Exports: prelabels in the formats vendor tools import (Label Studio, Argilla) and flat files (CSV, JSONL,
Parquet). Vendor SDKs are imported lazily, inside the functions that need them.

Modules: ``exporter`` (``Exporter``: one format), ``registry`` (the formats registered under the entry-point
group ``prelabel.exporters``, prelabel's own and plugins' alike), ``records`` (what every export reads: the
run, its items and SOP, the ``--only`` selection; ``ExportSummary``), ``export`` (``prelabel.export``), and
one module per built-in format: ``label_studio``, ``argilla``, ``flat`` (csv, jsonl, parquet).
May import: ``comparison``, ``labeling``, ``llm``, ``prompt``, ``inputs``, ``sop``, ``errors``.
"""
