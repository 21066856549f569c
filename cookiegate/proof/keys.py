"""The checkpoint key: Ed25519, kept outside the database.

Where it comes from, first match wins:
- COOKIEGATE_CHECKPOINT_KEY: the private key as PEM (PKCS#8) or as base64 of its 32 raw bytes;
- COOKIEGATE_CHECKPOINT_KEY_FILE: a PEM file holding it;
- in development and testing only: instance/checkpoint_key.pem, generated once (mode 0600),
  like the development signing keys.
In production without a key, `checkpoint` refuses and says how to make one; the web
processes never need it. Verifying needs only public keys: the one of the signing key, plus
COOKIEGATE_CHECKPOINT_PUBLIC_KEYS (earlier keys after a rotation, or on a machine that only
verifies and holds no private key).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask, current_app

DEV_KEY_FILE = "checkpoint_key.pem"


class CheckpointKeyError(RuntimeError):
    """No usable checkpoint key (the message says what to set)."""


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_text(public: Ed25519PublicKey) -> str:
    """The public key as base64 of its 32 raw bytes: what COOKIEGATE_CHECKPOINT_PUBLIC_KEYS takes."""
    return base64.b64encode(raw_public(public)).decode("ascii")


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(public)).hexdigest()[:16]


def _decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointKeyError(f"{what} is neither PEM nor base64") from None


def parse_private(text: str, what: str = "COOKIEGATE_CHECKPOINT_KEY") -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError) as error:
            raise CheckpointKeyError(f"{what}: not a readable unencrypted PEM private key ({error})") from None
    else:
        raw = _decode(text, what)
        if len(raw) != 32:
            raise CheckpointKeyError(f"{what}: an Ed25519 private key has 32 bytes, got {len(raw)}")
        key = Ed25519PrivateKey.from_private_bytes(raw)
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointKeyError(f"{what}: not an Ed25519 key")
    return key


def parse_public(text: str, what: str = "COOKIEGATE_CHECKPOINT_PUBLIC_KEYS") -> Ed25519PublicKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except ValueError as error:
            raise CheckpointKeyError(f"{what}: not a readable PEM public key ({error})") from None
    else:
        raw = _decode(text, what)
        if len(raw) != 32:
            raise CheckpointKeyError(f"{what}: an Ed25519 public key has 32 bytes, got {len(raw)}")
        key = Ed25519PublicKey.from_public_bytes(raw)
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointKeyError(f"{what}: not an Ed25519 key")
    return key


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def write_new_key(path: Path) -> Ed25519PrivateKey:
    """A new private key in a PEM file only its owner can read; refuses to overwrite."""
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem(key))
    return key


@dataclass(frozen=True)
class CheckpointKeys:
    signing: Optional[Ed25519PrivateKey]
    # key id -> public key, for every key whose checkpoints verify
    public: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    # Where the signing key came from, for messages (never the key itself).
    source: str = ""

    def signer(self) -> Ed25519PrivateKey:
        if self.signing is None:
            raise CheckpointKeyError(
                "no checkpoint key: set COOKIEGATE_CHECKPOINT_KEY_FILE to a PEM file made with "
                "`flask --app wsgi cookiegate checkpoint-key --new FILE` (keep it off the database host's "
                "backups), or COOKIEGATE_CHECKPOINT_KEY to its text"
            )
        return self.signing

    def verify(self, key: str, signature: bytes, message: bytes) -> Optional[str]:
        """None when the signature holds; else why not."""
        public = self.public.get(key)
        if public is None:
            return f"signed with an unknown key {key}"
        try:
            public.verify(signature, message)
        except InvalidSignature:
            return "the signature does not match"
        return None


def _load(app: Flask) -> CheckpointKeys:
    config = app.config
    signing, source = None, ""
    if config.get("COOKIEGATE_CHECKPOINT_KEY"):
        signing, source = parse_private(config["COOKIEGATE_CHECKPOINT_KEY"]), "COOKIEGATE_CHECKPOINT_KEY"
    elif config.get("COOKIEGATE_CHECKPOINT_KEY_FILE"):
        path = Path(config["COOKIEGATE_CHECKPOINT_KEY_FILE"])
        try:
            text = path.read_text()
        except OSError as error:
            raise CheckpointKeyError(f"COOKIEGATE_CHECKPOINT_KEY_FILE: cannot read {path}: {error.strerror}") from None
        signing, source = parse_private(text, f"COOKIEGATE_CHECKPOINT_KEY_FILE ({path})"), str(path)
    elif config.get("COOKIEGATE_ENV") in ("development", "testing"):
        path = Path(app.instance_path) / DEV_KEY_FILE
        if not path.exists():
            try:
                write_new_key(path)
            except FileExistsError:  # another process made it a moment ago
                pass
        signing, source = parse_private(path.read_text(), str(path)), str(path)
    public = {}
    if signing is not None:
        public[key_id(signing.public_key())] = signing.public_key()
    for text in config.get("COOKIEGATE_CHECKPOINT_PUBLIC_KEYS") or ():
        key = parse_public(text)
        public[key_id(key)] = key
    return CheckpointKeys(signing, public, source)


def checkpoint_keys(app: Optional[Flask] = None) -> CheckpointKeys:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    keys = app.extensions.get("cookiegate.checkpoint_keys")
    if keys is None:
        keys = app.extensions["cookiegate.checkpoint_keys"] = _load(app)
    return keys


def published_keys() -> list[str]:
    """The public keys checkpoints verify with (base64), for receipts and the public archive; [] without keys."""
    try:
        return sorted(public_text(key) for key in checkpoint_keys().public.values())
    except CheckpointKeyError:
        return []
