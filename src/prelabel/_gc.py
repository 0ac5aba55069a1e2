"""Start-up work with CPython's cyclic garbage collector held.

Importing openai, instructor, pydantic and their models allocates about 275,000 objects that live as long as
the process. The collector, woken every 700 allocations, scans them again and again while they load (15 to 25%
of ``prelabel run``'s start-up on 2 cores), scans them once more when it resumes, and once more at shutdown.
Loading makes next to no garbage, so:

- ``paused`` holds collection around one-time work (a public name's first import, the model client's first
  build) and lets it resume, as it was, afterwards: safe in any process (an inner ``paused`` finds the
  collector off and leaves it so);
- a program (the ``prelabel`` command) holds it from its start with ``hold`` until ``started``: the first
  request is ready, or the command has begun. ``started`` then freezes what start-up built (``gc.freeze``:
  never scanned again, never collected: only a program can afford that) and resumes collection;
- ``before_exit`` spares a program's shutdown the last scan of every object.

    >>> import gc
    >>> with paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["before_exit", "hold", "paused", "started"]

_held = {"by_program": False}


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Hold cyclic garbage collection for the block (one-time work: imports, clients, answer models)."""
    if not gc.isenabled():  # an outer block, the program or the application holds it already
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def hold() -> None:
    """A program starts: hold collection until ``started``."""
    if gc.isenabled():
        gc.disable()
        _held["by_program"] = True


def started() -> None:
    """The program's start-up is over: freeze what it built and resume collection (no-op without ``hold``)."""
    if _held["by_program"]:
        _held["by_program"] = False
        gc.freeze()
        gc.enable()


def before_exit() -> None:
    """For a process about to exit: spare its shutdown the last scan of every object (frozen objects are
    never collected again, which only a program that is ending can afford)."""
    gc.freeze()
