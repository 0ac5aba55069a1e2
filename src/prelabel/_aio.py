"""Async plumbing shared by the labeler and the runner: a sync facade, exception groups, and stop signals
(SIGINT, SIGTERM, SIGHUP) turned into a clean cancellation of the running task. (Progress:
``labeling.progress``.)"""

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

__all__ = ["STOP_SIGNALS", "Stop", "first_leaf", "run_sync", "stop_on_signals", "sync_twin"]

T = TypeVar("T")
P = ParamSpec("P")

#: The stop signals: Ctrl-C, a scheduler's stop, a closed terminal (not on Windows).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
#: One entry per ``run_sync`` on the main thread: True once a stop left the stop signals swallowed.
_WINDING_DOWN: list[bool] = []


def _swallow(signum: int, frame: Any) -> None:
    """A stop signal while a stopped run winds down: the stop under way says what happened."""


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, also when an event loop is already running (Jupyter).

    On the main thread, a stop signal (``stop_on_signals``) leaves further stop signals swallowed while the
    event loop winds down (a signal raising ``KeyboardInterrupt`` inside asyncio's teardown prints noise);
    the handlers from before are back when this returns or raises."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        if threading.current_thread() is not threading.main_thread():
            return asyncio.run(make())
        before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
        _WINDING_DOWN.append(False)
        try:
            return asyncio.run(make())
        finally:
            if _WINDING_DOWN.pop():
                for sig, handler in before.items():
                    signal.signal(sig, handler)
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
    """A stop signal seen under ``stop_on_signals``: ``signal_name`` (``SIGINT``, ``SIGTERM``, ``SIGHUP``),
    else None; ``forced`` once a second one came."""

    def __init__(self, main: asyncio.Task[Any] | None = None) -> None:
        self.signal_name: str | None = None
        self.forced = False
        self._main = main
        self._task: asyncio.Future[Any] | None = None

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.signal_name is not None:  # a second signal: stop waiting for anything (not mid-write)
            self.forced = True
            for task in (self._task, self._main):
                if task is not None and not task.done():
                    task.cancel()
            return
        self.signal_name = sig.name
        if self._task is not None:
            self._task.cancel()

    async def guard(self, work: Coroutine[Any, Any, T]) -> T:
        """Await ``work`` in its own task, which a stop signal cancels (at once if one came already); a
        signal after it finished cancels nothing, so what follows (writing the results) always runs."""
        self._task = task = asyncio.ensure_future(work)
        task.add_done_callback(_retrieved)  # left behind by a second signal: ends without a word
        if self.signal_name is not None:
            task.cancel()
        try:  # waiting on it, not awaiting it: a second signal cancels the waiting, whatever the work does
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            self._task = None
        return task.result()


def _retrieved(task: asyncio.Future[Any]) -> None:
    """Mark a finished task's exception as seen (asyncio logs one nobody asked for at exit)."""
    if not task.cancelled():
        task.exception()


def _ours(handler: Any) -> bool:
    """A handler we may take over while a task runs: Python's Ctrl-C default (which the CLI also gives
    SIGTERM) or the one ``asyncio.run`` installs for Ctrl-C; never a handler of the caller's own."""
    if handler is signal.default_int_handler:
        return True
    owner = getattr(getattr(handler, "func", None), "__self__", None)
    return isinstance(owner, asyncio.Runner)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[Stop]:
    """While the block runs on the main thread's event loop, SIGINT, SIGTERM and SIGHUP (where they would
    raise ``KeyboardInterrupt``) are recorded and cancel the work under ``Stop.guard``. A second signal
    cancels what the block awaits (not its writes: they run between awaits), and the block ends with
    ``KeyboardInterrupt("stopped by SIGNAL")``. Elsewhere (a worker thread, Windows) nothing changes."""
    stop = Stop(asyncio.current_task())
    taken: dict[signal.Signals, Any] = {}
    loop = asyncio.get_running_loop()
    if threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
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
    except (Exception, asyncio.CancelledError):
        if not stop.forced:
            raise
        main = stop._main
        if main is not None:
            main.uncancel()  # the cancellation was ours: it ends here
        raise KeyboardInterrupt(f"stopped by {stop.signal_name}") from None
    finally:
        quiet = stop.signal_name is not None and bool(_WINDING_DOWN)  # run_sync puts the handlers back
        for sig, previous in taken.items():
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
            signal.signal(sig, _swallow if quiet else previous)
        if quiet:
            _WINDING_DOWN[-1] = True
