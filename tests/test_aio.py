"""Stop signals under ``stop_on_signals`` (``prelabel._aio``), in process: the first one cancels the work, a
second one ends the clean stop at once with one named ``KeyboardInterrupt``, and one that comes while the loop
winds down is swallowed (``prelabel run`` under real signals: ``tests/labeling/test_crash_recovery.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time

import pytest

from prelabel._aio import run_sync, stop_on_signals


def interrupt_later(delay: float = 0.05) -> None:
    asyncio.get_running_loop().call_later(delay, os.kill, os.getpid(), signal.SIGINT)


def test_a_second_signal_during_the_clean_stop_ends_it_at_once() -> None:
    async def stopped() -> None:
        with stop_on_signals() as stop:
            interrupt_later()
            try:
                await stop.guard(asyncio.sleep(30))
            except asyncio.CancelledError:
                os.kill(os.getpid(), signal.SIGINT)  # the second, while the clean stop still awaits
                await asyncio.sleep(30)  # a slow clean-up (closing connections)

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt, match=r"^stopped by SIGINT$"):
        run_sync(stopped)
    assert time.monotonic() - started < 5
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_work_left_behind_by_a_second_signal_ends_without_a_word(caplog: pytest.LogCaptureFixture) -> None:
    """The work task a second signal stops waiting for may still fail: nobody is told (asyncio's "Task
    exception was never retrieved", "unhandled exception during asyncio.run() shutdown")."""

    async def work() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            try:
                await asyncio.sleep(0.3)  # in-flight requests winding down
            finally:
                raise RuntimeError("a request failed while stopping")

    async def stopped() -> None:
        with stop_on_signals() as stop:
            interrupt_later(0.05)
            interrupt_later(0.1)
            await stop.guard(work())

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        with pytest.raises(KeyboardInterrupt, match="stopped by SIGINT"):
            run_sync(stopped)
        gc.collect()
    assert caplog.records == []


def test_a_signal_while_the_loop_winds_down_is_swallowed_and_the_handlers_come_back() -> None:
    async def stopped() -> str:
        with stop_on_signals() as stop, contextlib.suppress(asyncio.CancelledError):
            interrupt_later()
            await stop.guard(asyncio.sleep(30))
        os.kill(os.getpid(), signal.SIGINT)  # the stop is over, the program is on its way out
        await asyncio.sleep(0.05)
        return "wound down"

    assert run_sync(stopped) == "wound down"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
