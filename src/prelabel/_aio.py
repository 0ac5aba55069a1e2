"""Async plumbing shared by the labeler and the runner: a sync facade, exception groups, and stop signals
(SIGINT, SIGTERM) turned into a clean cancellation of the running task. (Progress: ``labeling.progress``.)"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar

from prelabel.errors import EndpointError

__all__ = ["Stop", "first_leaf", "run_sync", "stop_on_signals", "sync_twin"]

T = TypeVar("T")
P = ParamSpec("P")


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, also when an event loop is already running (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="prelabel") as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def sync_twin(afunc: Callable[P, Coroutine[Any, Any, T]], name: str, doc: str) -> Callable[P, T]:
    """The blocking twin of an async function: same parameters (for callers and type checkers), run with
    ``run_sync``, so that its signature is written once."""

    @functools.wraps(afunc)
    def twin(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(lambda: afunc(*args, **kwargs))

    twin.__name__ = twin.__qualname__ = name
    twin.__doc__ = doc
    return twin


def first_leaf(group: BaseExceptionGroup[Any]) -> BaseException:
    """The exception to re-raise from a task group: an ``EndpointError`` if any, else the first one."""
    first: BaseException = group
    while isinstance(first, BaseExceptionGroup):
        endpoint = [e for e in first.exceptions if isinstance(e, EndpointError)]
        first = endpoint[0] if endpoint else first.exceptions[0]
    return first


class Stop:
    """A stop signal seen under ``stop_on_signals``: ``signal_name`` (``SIGINT``, ``SIGTERM``), else None."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._task: asyncio.Future[Any] | None = None

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.signal_name is not None:  # a second signal: stop at once
            raise KeyboardInterrupt
        self.signal_name = sig.name
        if self._task is not None:
            self._task.cancel()

    async def guard(self, work: Coroutine[Any, Any, T]) -> T:
        """Await ``work`` in its own task, which a stop signal cancels (at once if one came already); a
        signal after it finished cancels nothing, so what follows (writing the results) always runs."""
        self._task = task = asyncio.ensure_future(work)
        if self.signal_name is not None:
            task.cancel()
        try:
            return await task
        finally:
            self._task = None


def _ours(handler: Any) -> bool:
    """A handler we may take over while a task runs: Python's Ctrl-C default (which the CLI also gives
    SIGTERM) or the one ``asyncio.run`` installs for Ctrl-C; never a handler of the caller's own."""
    if handler is signal.default_int_handler:
        return True
    owner = getattr(getattr(handler, "func", None), "__self__", None)
    return isinstance(owner, asyncio.Runner)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[Stop]:
    """While the block runs on the main thread's event loop, SIGINT and SIGTERM (where they would raise
    ``KeyboardInterrupt``) are recorded and cancel the work under ``Stop.guard``; a second signal raises
    ``KeyboardInterrupt`` at once. Elsewhere (a worker thread, Windows) nothing changes."""
    stop = Stop()
    taken: dict[signal.Signals, Any] = {}
    loop = asyncio.get_running_loop()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)
            if not _ours(previous):
                continue
            try:
                loop.add_signal_handler(sig, stop._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - not on Unix
                continue
            taken[sig] = previous
    try:
        yield stop
    finally:
        for sig, previous in taken.items():
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
            signal.signal(sig, previous)
