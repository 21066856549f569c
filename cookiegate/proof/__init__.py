"""Proof of consent that holds up: the log's hash format, signed checkpoints, verification,
erasure, purge and consent receipts (docs/proof.md).

Modules: ledger (hash format), keys (the checkpoint key, never in the database),
checkpoints, verify, removal (erase, purge), receipt (export), cli (the commands).
Nothing is imported here, so the write path can use ledger without loading the rest.
"""
