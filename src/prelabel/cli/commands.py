"""Imports every command module once, so each registers its commands on ``app``."""

from prelabel.cli import compare_commands, demo_command, run_command, sop_commands

__all__ = ["compare_commands", "demo_command", "run_command", "sop_commands"]
