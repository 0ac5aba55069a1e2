"""Imports every command module once, so each registers its commands on ``app``."""

from prelabel.cli import (
    authoring_commands,
    batch_commands,
    compare_commands,
    demo_command,
    export_commands,
    run_command,
    sop_authoring_commands,
    sop_commands,
)

__all__ = [
    "authoring_commands",
    "batch_commands",
    "compare_commands",
    "demo_command",
    "export_commands",
    "run_command",
    "sop_authoring_commands",
    "sop_commands",
]
