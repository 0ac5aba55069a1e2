"""Exports: prelabels in the formats vendor tools import (Label Studio, Argilla) and flat files (CSV, JSONL,
Parquet). Vendor SDKs are imported lazily, inside the functions that need them.

May import: ``comparison``, ``labeling``, ``llm``, ``prompt``, ``inputs``, ``sop``, ``errors``.
"""
