"""When a batch stops because the endpoint cannot be reached: the labeler's circuit breaker.

An item whose every attempt failed to connect or timed out (``connection_error``, ``timeout``) says the
endpoint is unreachable. Before anything has answered, the first such item stops the batch (nothing would get
through); after earlier answers, ``limit`` such items in a row do (the server went away mid-run). The batch
then raises ``EndpointError`` (exit 3); what finished is already in the ledger, and rerunning resumes.

    >>> from types import SimpleNamespace as Result
    >>> from prelabel.labeling.result import ErrorInfo
    >>> breaker = Reachability(limit=2)
    >>> down = Result(attempts=3, error=ErrorInfo(type="connection_error", message="cannot connect"))
    >>> breaker.observe(Result(attempts=1, error=None))
    >>> breaker.observe(down)
    >>> breaker.observe(down)
    Traceback (most recent call last):
    ...
    prelabel.errors.EndpointError: endpoint stopped answering: 2 items in a row failed to reach it after ...
"""

from __future__ import annotations

from prelabel.errors import EndpointError
from prelabel.labeling.result import LabelResult

__all__ = ["UNREACHABLE", "Reachability"]

#: Error types that mean no answer came back at all.
UNREACHABLE = frozenset({"connection_error", "timeout"})
_ADVICE = " (if the server is only slow, raise --timeout / --retry-budget)"


class Reachability:
    """Watches results in completion order; ``observe`` raises ``EndpointError`` when the batch must stop."""

    def __init__(self, limit: int = 3):
        self.limit = max(limit, 1)
        self.answered = False
        self.failed_in_a_row = 0

    def observe(self, result: LabelResult) -> None:
        """Take one item's result into account; raise when the endpoint looks gone."""
        error = result.error
        if error is not None and error.type in UNREACHABLE:
            self.failed_in_a_row += 1
            advice = _ADVICE if error.type == "timeout" else ""
            if not self.answered:  # nothing ever got through: stop now (exit 3)
                raise EndpointError(f"endpoint unreachable after retries: {error.message}{advice}")
            if self.failed_in_a_row >= self.limit:
                raise EndpointError(
                    f"endpoint stopped answering: {self.failed_in_a_row} items in a row failed to reach it "
                    f"after retries (last: {error.message}); finished items are kept — rerun the same "
                    f"command to resume{advice}"
                )
        elif result.attempts > 0:
            self.answered = True
            self.failed_in_a_row = 0
