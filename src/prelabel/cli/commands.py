"""Imports every command module once, in the order ``prelabel --help`` shows their panels."""

import importlib

#: The command groups, in the order of the loop: SOPs, label, compare, hand off, author, try.
MODULES = (
    "sop_commands",
    "run_command",
    "batch_commands",
    "compare_commands",
    "export_commands",
    "sop_authoring_commands",
    "sop_apply_command",
    "authoring_commands",
    "demo_command",
)

for _name in MODULES:
    importlib.import_module(f"prelabel.cli.{_name}")  # each registers its commands on ``app``

__all__ = ["MODULES"]
