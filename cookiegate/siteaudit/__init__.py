"""The pre-consent audit (issue 16, docs/audit.md): does a live site wait for consent?"""
from .audit import Audit, AuditError, Options, audit, run_audit
from .classify import Declaration

__all__ = ["Audit", "AuditError", "Declaration", "Options", "audit", "run_audit"]
