"""How many answers one item may be asked for, in one place: ``--samples`` (``prelabel run``), ``--repeat``
(``prelabel test``, ``run_sop_tests``) and ``--sop-repeat`` (the pytest plugin) share the bound and the
message. Light on purpose: the pytest plugin checks its option with it before the rest of prelabel loads.

    >>> sample_count_problem(0)
    'must be between 1 and 100, got 0'
    >>> check_sample_count(3, "repeat")
    3
"""

from __future__ import annotations

from prelabel.errors import InputError

__all__ = ["MAX_SAMPLES", "check_sample_count", "sample_count_problem"]

#: Answers per item at most (``samples``, ``repeat``): self-consistency needs a handful; thousands only burn
#: money.
MAX_SAMPLES = 100


def sample_count_problem(value: int) -> str | None:
    """What is wrong with ``value`` as a number of answers per item, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SAMPLES:
        return f"must be between 1 and {MAX_SAMPLES}, got {value!r}"
    return None


def check_sample_count(value: int, name: str) -> int:
    """``value``, or ``InputError("bad option: NAME: must be between 1 and 100, got VALUE")``."""
    problem = sample_count_problem(value)
    if problem is not None:
        raise InputError(f"bad option: {name}: {problem}")
    return value
