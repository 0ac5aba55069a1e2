"""Progress people can read: a live line on a terminal, a plain line every few seconds elsewhere.

On a terminal (rich): items done of total, items/s, ok/abstained/error counts, tokens, cost so far and the
time left. When stderr is not a terminal (CI, schedulers, notebooks that capture output): the same figures as
one plain line every ``interval`` seconds. A final line either way. The one progress display: ``prelabel
run`` (the runner: resumed items, notes) and ``Labeler.label_many(progress=True)`` (`RunProgress.shown`).

    >>> import io
    >>> out = io.StringIO()
    >>> progress = RunProgress(total=2, stream=out, live=False, interval=0.0)
    >>> progress.resumed(1)
    >>> progress.result(LabelResult(item_id="a", status="ok", model="m", sop_id="s", sop_version="1",
    ...                             prompt_hash="h", template="t", attempts=1))
    >>> progress.close()
    >>> out.getvalue().splitlines()[-1]
    'done: 2/2 items (1 resumed from the ledger): 1 ok, 0 abstained, 0 errors; 0 tokens'
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

from prelabel.labeling.result import LabelResult
from prelabel.llm.usage import Usage

__all__ = ["RunProgress"]


class RunProgress:
    """Counts results as they arrive and shows them (``live``: a rich display; else plain lines)."""

    def __init__(
        self,
        total: int | None,
        *,
        stream: IO[str] | None = None,
        live: bool | None = None,
        interval: float = 10.0,
        cost: Callable[[Usage], float | None] | None = None,
    ):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.interval = interval
        self.cost = cost
        self.counts = {"ok": 0, "abstained": 0, "error": 0}
        self.done_before = 0
        self.usage = Usage()
        self._started = time.monotonic()
        self._last_line = self._started
        self._bar: Any = None
        self._task: Any = None
        if self.live:
            self._start_bar()

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("labeling"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[figures]}"),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("labeling", total=self.total, figures="")

    @classmethod
    @contextlib.contextmanager
    def shown(
        cls, total: int | None, enabled: bool, *, cost: Callable[[Usage], float | None] | None = None
    ) -> Iterator[Callable[[LabelResult], None]]:
        """While the block runs, count its results on stderr (``enabled``; else a no-op); the final line
        comes when the block completes."""
        if not enabled:
            yield lambda result: None
            return
        progress = cls(total, cost=cost)
        completed = False
        try:
            yield progress.result
            completed = True
        finally:
            progress.close(completed)

    @property
    def done(self) -> int:
        """Items finished: labeled now, plus resumed from the ledger."""
        return self.done_before + sum(self.counts.values())

    def resumed(self, n: int = 1) -> None:
        """Count items already finished in an earlier run."""
        self.done_before += n
        if self._bar is not None:
            self._bar.update(self._task, advance=n)

    def result(self, result: LabelResult) -> None:
        """Count one result labeled in this run."""
        self.counts[result.status] += 1
        self.usage = self.usage + result.usage
        if self._bar is not None:
            self._bar.update(self._task, advance=1, figures=self._figures())
        elif time.monotonic() - self._last_line >= self.interval:
            self._last_line = time.monotonic()
            self._print(f"labeling: {self._position()}: {self._figures()}")

    def _position(self) -> str:
        if not self.total:
            return f"{self.done} items"
        return f"{self.done}/{self.total} items ({100 * self.done / self.total:.0f}%)"

    def _figures(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        labeled = sum(self.counts.values())
        c = self.counts
        parts = [
            f"{c['ok']} ok, {c['abstained']} abstained, {c['error']} errors",
            f"{labeled / elapsed:.1f} items/s",
            f"{self.usage.prompt_tokens + self.usage.completion_tokens} tokens",
        ]
        cost = self.cost(self.usage) if self.cost else None
        if cost is not None:
            parts.append(f"${cost:.4f}")
        if not self.live and self.total and labeled:
            left = (self.total - self.done) * elapsed / labeled
            parts.append(f"ETA {left:.0f}s")
        return "; ".join(parts)

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def note(self, line: str) -> None:
        """Print one line above the progress display (e.g. what a rerun does with earlier results)."""
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            self._print(line)

    def close(self, completed: bool = True) -> None:
        """Stop the live display; print a final line when the run completed and progress was on show (a
        live display, or periodic lines), so that an aborted run ends on its one error line."""
        shown = self._bar is not None or self._last_line > self._started
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if not (completed and shown):
            return
        c = self.counts
        total = f"/{self.total}" if self.total is not None else ""
        resumed = f" ({self.done_before} resumed from the ledger)" if self.done_before else ""
        tokens = self.usage.prompt_tokens + self.usage.completion_tokens
        self._print(
            f"done: {self.done}{total} items{resumed}: {c['ok']} ok, {c['abstained']} abstained, "
            f"{c['error']} errors; {tokens} tokens"
        )
