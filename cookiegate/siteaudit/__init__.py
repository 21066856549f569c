"""The pre-consent audit (issue 16, docs/audit.md): does a live site wait for consent?"""
from .audit import Audit, AuditError, Options, audit, run_audit
from .classify import Declaration


def init_app(app) -> None:
    """The `audit` command."""
    from ..cli import add_commands
    from .cli import audit_command

    add_commands(app, audit_command)


__all__ = ["Audit", "AuditError", "Declaration", "Options", "audit", "run_audit"]
