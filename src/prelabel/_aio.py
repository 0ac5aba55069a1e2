"""Async plumbing shared by the labeler and the runner: a sync facade, a progress bar, exception groups."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar

from prelabel.errors import EndpointError

__all__ = ["first_leaf", "progress_bar", "run_sync", "sync_twin"]

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


@contextlib.contextmanager
def progress_bar(total: int | None, enabled: bool) -> Iterator[Callable[[Any], None]]:
    """A rich progress bar on stderr counting results (a no-op when disabled)."""
    if not enabled:
        yield lambda result: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("labeling"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[errors]} errors"),
    )
    with Progress(*columns, TimeRemainingColumn(), console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("labeling", total=total, errors=0)
        errors = 0

        def advance(result: Any) -> None:
            nonlocal errors
            errors += result.status == "error"
            bar.update(task, advance=1, errors=errors)

        yield advance


def first_leaf(group: BaseExceptionGroup[Any]) -> BaseException:
    """The exception to re-raise from a task group: an ``EndpointError`` if any, else the first one."""
    first: BaseException = group
    while isinstance(first, BaseExceptionGroup):
        endpoint = [e for e in first.exceptions if isinstance(e, EndpointError)]
        first = endpoint[0] if endpoint else first.exceptions[0]
    return first
