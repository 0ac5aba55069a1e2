"""The ``prelabel`` command line: thin typer commands over the public ``prelabel`` API only.

Modules: ``app`` (the typer app, ``main``, one-line errors and exit codes) and one module per command group.
May import: ``prelabel`` (the public API) and ``prelabel.errors``; nothing imports it.
"""

from prelabel._gc import paused

with paused():  # typer and the command modules load (see prelabel._gc)
    from prelabel.cli import commands  # noqa: F401  (registers every command on ``app``)
    from prelabel.cli.app import app, main

__all__ = ["app", "main"]
