"""The typer app, the root options, and ``main``: one-line errors and the exit codes.

Exit codes: 0 success, 1 test/check failures, 2 bad input (SOP, items, options, an output that cannot be
written: a full disk, a read-only folder), 3 endpoint unusable, 130 interrupted.
Errors print one line; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Annotated

import typer
import typer.core
import typer.main

import prelabel
from prelabel._gc import before_exit, hold, started


def _flags_take_no_value() -> None:
    """Show a flag as ``--debug``, not ``--debug <bool>``: typer's rich help (0.2x) prints every option's
    type, flags included, as if they took a value. Flags (``--debug``, ``--wide``, ``--help``) show none."""
    option = getattr(typer.core, "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if option is None or shown is None or getattr(shown, "_flags_take_no_value", False):
        return

    def display_type_rich(self: typer.core.TyperOption, ctx: typer.Context) -> str | None:
        return "" if self.is_flag and not self.count else shown(self, ctx)

    display_type_rich._flags_take_no_value = True  # type: ignore[attr-defined]
    option.display_type_rich = display_type_rich


_flags_take_no_value()

app = typer.Typer(
    name="prelabel",
    help="LLM prelabeling driven by structured SOPs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def click_command() -> typer.core.TyperGroup:
    """The click command tree typer builds from ``app`` (every command registered: ``prelabel.cli`` imports
    them all), as ``prelabel`` runs it: for the documentation site's CLI reference (scripts/docs_hooks.py)
    and tests that walk every command and flag. Built on each call, only when asked: start-up never pays."""
    command = typer.main.get_command(app)
    assert isinstance(command, typer.core.TyperGroup)
    return command


EXIT_FAILURES, EXIT_BAD_INPUT, EXIT_ENDPOINT, EXIT_BUDGET, EXIT_INTERRUPTED = 1, 2, 3, 4, 130
INTERRUPTED = "interrupted"  # `prelabel run` says itself what it kept and how to resume
_state = {"debug": False, "said": False}


def _print_version(value: bool) -> None:
    if value:  # eager: runs before click asks for a command
        typer.echo(prelabel.__version__)
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True),
    ] = False,
) -> None:
    """LLM prelabeling driven by structured SOPs."""
    _state["debug"] = debug
    _state["said"] = False
    if ctx.invoked_subcommand != "run":  # `run` starts up until its first request is ready
        started()


def stopping() -> None:
    """The program ends after a stop signal: from now on further stop signals are ignored (a second
    Ctrl-C/SIGTERM/SIGHUP would otherwise cut the exit short, even during the interpreter's shutdown)."""
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_IGN)


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` on stderr and return the ``Exit`` to raise."""
    typer.echo(f"error: {message}", err=True)
    _state["said"] = True
    return typer.Exit(code)


def _exit_code(exc: prelabel.PrelabelError) -> int:
    """A prelabel error's exit code: 3 for an unusable endpoint, 4 for a spending limit reached, else 2."""
    if isinstance(exc, prelabel.EndpointError):
        return EXIT_ENDPOINT
    return EXIT_BUDGET if isinstance(exc, prelabel.BudgetError) else EXIT_BAD_INPUT


def _traceback(exc: BaseException) -> None:
    """``--debug``: the traceback on stderr, the API key and URL passwords redacted as in every message."""
    import traceback

    from prelabel.errors import redact

    typer.echo(redact("".join(traceback.format_exception(exc))).rstrip(), err=True)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map prelabel errors to one line and an exit code.

    As the program itself (``argv`` None: the ``prelabel`` command, ``python -m prelabel``) it holds the
    cyclic garbage collector while it starts up and spares its shutdown a last scan of every object
    (``prelabel._gc``)."""
    if argv is None:
        hold()
    try:
        _main(argv)
    finally:
        if argv is None:
            before_exit()


def _main(argv: list[str] | None) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # a scheduler's stop: like Ctrl-C
        if hasattr(signal, "SIGHUP"):  # a closed terminal or ssh session: the same clean stop
            signal.signal(signal.SIGHUP, signal.default_int_handler)
    try:
        code = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except prelabel.PrelabelError as exc:
        if _state["debug"]:
            _traceback(exc)
        lines = [str(p) for p in exc.problems] if isinstance(exc, prelabel.SOPError) else [f"error: {exc}"]
        for line in lines:
            typer.echo(line, err=True)
        sys.exit(_exit_code(exc))
    except (typer.Abort, KeyboardInterrupt):
        stopping()
        code = EXIT_INTERRUPTED
    except Exception as exc:  # click usage errors, an output that cannot be written, anything unexpected
        if isinstance(exc, OSError) and exc.errno in prelabel.OutputError.ERRNOS:  # a full disk, ...
            if _state["debug"]:
                _traceback(exc)
            typer.echo(f"error: {prelabel.OutputError.of(exc)}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        # typer >= 0.20 vendors click as typer._click: its usage errors are TyperExceptions with .show()
        if isinstance(exc, typer.TyperException) and hasattr(exc, "format_message"):
            ctx = getattr(exc, "ctx", None)
            where = f"{ctx.command_path} --help" if ctx is not None else "prelabel --help"
            message = " ".join(str(exc.format_message()).split())  # one line, as every other error
            typer.echo(f"error: {message} (see {where})", err=True)
            sys.exit(EXIT_BAD_INPUT)
        if _state["debug"]:
            _traceback(exc)
        from prelabel.errors import redact

        message = redact(f"{type(exc).__name__}: {exc}")  # an unexpected error may carry a server's echo
        typer.echo(f"error: {message} (run with --debug for a traceback)", err=True)
        sys.exit(EXIT_FAILURES)
    if code == EXIT_INTERRUPTED and not _state.get("said"):  # typer turns Ctrl-C into this code
        typer.echo(f"error: {INTERRUPTED}", err=True)
    sys.exit(code if isinstance(code, int) else 0)
