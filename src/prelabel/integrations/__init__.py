"""Integrations with other systems' pipelines: labeling inside a Ray Data job (``integrations.ray``).

May import: ``labeling``, ``runs``, ``sop``, ``errors`` and below; heavy packages (Ray) only inside the module
that needs them, behind an extra (``pip install 'prelabel[ray]'``).
"""
