"""Flags to ``LabelOptions``: one declared table (``prelabel.cli.options.OPTION_FIELDS``), checked both ways.

Every name the table maps to is a ``LabelOptions`` field (or a ``RetryPolicy`` field for ``retry.*``), every
command parameter named like an option is in the table, and every command hands each of its option flags to
``label_options``: running it with all of them set gives options carrying every value. A renamed flag or
field fails here; ``options_from(locals())`` dropped it silently.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import prelabel
from prelabel.cli import app
from prelabel.cli.options import OPTION_FIELDS, RETRY, label_options

SOP = str(prelabel.bundled_sop_path("customer_feedback_intent"))

#: Commands whose flags named like options are their library function's own arguments, not ``LabelOptions``.
NOT_LABEL_OPTIONS = {"demo"}  # run_demo(model=, max_items=, concurrency=)

#: A value for each option flag (what to type) and what the built options must then hold.
SAMPLES: dict[str, tuple[str | None, Any]] = {
    "model": ("m-flag", "m-flag"),
    "base_url": ("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1"),
    "mode": ("md_json", "md_json"),
    "template": ("mine.v7", "mine.v7"),
    "rationale_language": ("fr", "fr"),
    "mask": ("phone,email", ("email", "phone")),
    "temperature": ("0.5", 0.5),
    "max_tokens": ("77", 77),
    "max_reasks": ("5", 5),
    "samples": ("3", 3),
    "logprobs": (None, True),  # a flag: given without a value
    "prices": ("PRICES", "flag-model"),  # a file; the table then prices flag-model
    "max_cost": ("2.5", 2.5),
    "timeout": ("7.5", 7.5),
    "retry_budget": ("99", 99.0),
    "max_attempts": ("4", 4),
    "concurrency": ("3", 3),
    "rpm": ("11", 11),
    "tpm": ("1234", 1234),
    "max_items": ("13", 13),
    "id_col": ("key", "key"),
    "text_col": ("body", "body"),
    "max_item_tokens": ("321", 321),
    "media_root": ("media", Path("media")),
    "allow_remote_media": (None, True),
    "max_frames": ("5", 5),
    "frame_size": ("512", 512),
}


def commands() -> Iterator[tuple[str, Any]]:
    """Every command of the CLI (a click command; typer may vendor click) by its path (``batch collect``)."""

    def walk(command: Any, path: str) -> Iterator[tuple[str, Any]]:
        if hasattr(command, "commands"):  # a group
            for name, sub in command.commands.items():
                yield from walk(sub, f"{path} {name}".strip())
        else:
            yield path, command

    yield from walk(typer.main.get_command(app), "")


def option_flags(command: Any) -> list[Any]:
    return [p for p in command.params if p.name in OPTION_FIELDS]


def field_value(options: prelabel.LabelOptions, flag: str) -> Any:
    field = OPTION_FIELDS[flag]
    if field.startswith(RETRY):
        assert options.retry is not None, flag
        return getattr(options.retry, field.removeprefix(RETRY))
    return getattr(options, field)


def test_every_mapped_name_is_an_option_field() -> None:
    retry_args = set(inspect.signature(prelabel.RetryPolicy.with_defaults).parameters)
    retry_fields = {f.name for f in dataclasses.fields(prelabel.RetryPolicy)}
    for flag, field in OPTION_FIELDS.items():
        if field.startswith(RETRY):
            name = field.removeprefix(RETRY)
            assert name in retry_fields and name in retry_args, flag
        else:
            assert field in prelabel.LabelOptions.model_fields and field != "retry", flag
    assert set(SAMPLES) == set(OPTION_FIELDS)  # every mapped flag is exercised below


def test_every_option_named_parameter_of_a_command_is_mapped() -> None:
    """A command parameter named like a ``LabelOptions`` field (or a retry flag) is in the table."""
    retry_flags = {flag for flag, field in OPTION_FIELDS.items() if field.startswith(RETRY)}
    names = set(prelabel.LabelOptions.model_fields) | retry_flags
    for path, command in commands():
        for param in command.params:
            if param.name in names and path not in NOT_LABEL_OPTIONS:
                assert param.name in OPTION_FIELDS, f"{path}: {param.name}"


def test_an_unmapped_name_is_refused() -> None:
    with pytest.raises(TypeError, match="not a flag of OPTION_FIELDS: max_item"):
        label_options(max_item=3)
    assert label_options(model=None, timeout=None) == prelabel.LabelOptions()


class Built(Exception):
    """Raised by the spy once the command built its options: nothing else runs."""


def spy_on(command: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace ``label_options`` where ``command`` is defined; the options it builds land in the result."""
    function: Callable[..., Any] = inspect.unwrap(command.callback)  # type: ignore[arg-type]
    assert "label_options" in function.__globals__, f"{function.__module__} builds no options"
    got: dict[str, Any] = {}

    def spy(**flags: Any) -> prelabel.LabelOptions:
        got["options"] = label_options(**flags)
        raise Built

    monkeypatch.setitem(function.__globals__, "label_options", spy)
    return got


def argv(path: str, command: Any, tmp_path: Path) -> list[str]:
    """``path`` with its required arguments and options filled in, and every option flag set."""
    prices = tmp_path / "prices.json"
    prices.write_text('{"flag-model": {"input": 1, "output": 2}}', encoding="utf-8")
    args = path.split()
    for param in command.params:
        if param.param_type_name == "argument":
            args.append(SOP if param.name in ("sop", "sop_a", "sop_b") else str(tmp_path / str(param.name)))
        elif param.name in OPTION_FIELDS:
            typed, _ = SAMPLES[param.name]
            value = str(prices) if typed == "PRICES" else typed
            args += [param.opts[0]] if value is None else [param.opts[0], value]
        elif param.required:
            args += [param.opts[0], "{}" if param.name == "item" else str(tmp_path / str(param.name))]
    return args


FLAGGED = [(path, command) for path, command in commands() if option_flags(command)]


def test_the_commands_that_take_option_flags() -> None:
    assert {path for path, _ in FLAGGED} - NOT_LABEL_OPTIONS == {
        "run", "compare", "test", "diff", "gaps", "render", "batch collect"
    }  # fmt: skip


@pytest.mark.parametrize(("path", "command"), [c for c in FLAGGED if c[0] not in NOT_LABEL_OPTIONS])
def test_every_option_flag_reaches_the_options(
    path: str, command: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    got = spy_on(command, monkeypatch)
    result = CliRunner().invoke(app, argv(path, command, tmp_path))
    assert isinstance(result.exception, Built), result.output
    options = got["options"]
    for param in option_flags(command):
        flag = str(param.name)
        expected = SAMPLES[flag][1]
        if flag == "prices":
            assert options.prices is not None and expected in options.prices.prices, path
        else:
            assert field_value(options, flag) == expected, f"{path}: {param.opts[0]}"
