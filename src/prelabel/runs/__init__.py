"""Run directories: the one home of what a RUN_DIR is.

Modules: ``run_dir`` (``RunDir``: the file names, paths, lock, ``run.json``, the atomic ``labels.jsonl``
write), ``labels`` (the one reader of ``labels.jsonl`` and its policy for a cut-off last line), ``sources``
(the SOP and items files ``run.json`` records: absolute paths, one reader), ``restart`` (``--restart``'s
set-aside). The ledger ``run.db`` is ``labeling.ledger``; ``Ledger.open`` takes its path and lock from
``RunDir``.
May import: ``llm``, ``prompt``, ``inputs``, ``sop``, ``errors`` (and is imported by ``labeling`` and above).
"""
