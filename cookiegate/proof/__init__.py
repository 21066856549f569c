"""Proof of consent that holds up: the log's hash format, signed checkpoints, verification,
erasure, purge and consent receipts (docs/proof.md).

Modules: ledger (hash format), keys (the checkpoint key, never in the database),
checkpoints, verify, removal (erase, purge), receipt (export), cli (the commands).
Nothing is imported at the top here, so the write path can use ledger without loading the rest.
"""
from flask import Flask


def init_app(app: Flask) -> None:
    """The commands (checkpoint, checkpoint-key, verify-log, erase, purge, export) and, with a
    key configured, the service's own checkpoint schedule."""
    from ..cli import add_commands
    from . import schedule
    from .cli import COMMANDS

    schedule.init_app(app)
    add_commands(app, *COMMANDS)

