"""Signed model versions: an Ed25519 signature over a version's manifest.

The manifest lists the SHA-256 of every file of the version, so a valid signature over its
exact bytes vouches for the whole version. Training and promotion sign with the private key
(``RISKMODEL_SIGNING_KEY``, a PEM file); the service and the command line verify with the
public key (``RISKMODEL_VERIFY_KEY``) and refuse a version that is unsigned, signed by
another key, or whose manifest changed since it was signed.

Why Ed25519 rather than HMAC-SHA256: with HMAC every machine that verifies holds the secret
that signs, so whoever reads a serving host's configuration can sign a model. With a key
pair the serving hosts hold only the public key, which cannot sign. See docs/model.md.

The signature sits beside the manifest in ``manifest.sig``::

    {"algorithm": "ed25519", "key_id": "<first 16 hex of SHA-256 of the public key>",
     "signature": "<base64>"}

``cryptography`` is imported only when a key is used.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from riskmodel.errors import ArtifactError

SIGNATURE = "manifest.sig"
ALGORITHM = "ed25519"


class SignatureError(ArtifactError):
    """A version whose signature is missing or does not verify. ``reason`` is one of
    ``unsigned``, ``wrong-key``, ``bad-signature`` (a stable word for metrics)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class KeyFileError(ArtifactError):
    """A key file that cannot be used (missing, not PEM, not Ed25519)."""


def model_keys(signing_key: str, verify_key: str) -> tuple[bytes | None, bytes | None]:
    """The key files the settings name (``RISKMODEL_SIGNING_KEY``,
    ``RISKMODEL_VERIFY_KEY``; empty: none), read: ``(signing, verify)``."""
    return (read_key(signing_key, "RISKMODEL_SIGNING_KEY") if signing_key else None,
            read_key(verify_key, "RISKMODEL_VERIFY_KEY") if verify_key else None)


def _serialization() -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization


def generate_keys() -> tuple[bytes, bytes]:
    """A new key pair as PEM: ``(private, public)``. Keep the private one off the serving
    hosts."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    ser = _serialization()
    private = Ed25519PrivateKey.generate()
    return (private.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                  ser.NoEncryption()),
            private.public_key().public_bytes(ser.Encoding.PEM,
                                              ser.PublicFormat.SubjectPublicKeyInfo))


def read_key(path: str | Path, what: str) -> bytes:
    """A key file's bytes; :class:`KeyFileError` naming ``what`` (the setting) if unreadable."""
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise KeyFileError(f"{what} names {str(path)!r}, which cannot be read: "
                        f"{e.strerror or e}") from None


def _private(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = _serialization().load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"the signing key is not an unencrypted PEM private key: {e}") \
            from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"the signing key is a {type(key).__name__}; expected Ed25519 "
                        "(make one with `riskmodel models keygen`)")
    return key


def _public(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = _serialization().load_pem_public_key(pem)
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"the verify key is not a PEM public key: {e}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"the verify key is a {type(key).__name__}; expected Ed25519 "
                        "(make one with `riskmodel models keygen`)")
    return key


def _key_id(public: Any) -> str:
    ser = _serialization()
    raw = public.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(manifest: bytes, private_pem: bytes) -> bytes:
    """The ``manifest.sig`` file for the manifest's exact bytes."""
    key = _private(private_pem)
    doc = {"algorithm": ALGORITHM, "key_id": _key_id(key.public_key()),
           "signature": base64.b64encode(key.sign(manifest)).decode()}
    return (json.dumps(doc, sort_keys=True) + "\n").encode()


def verify(manifest: bytes, signature: bytes | None, public_pem: bytes, version: str) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is a valid signature of the
    manifest's bytes by the key ``public_pem``."""
    from cryptography.exceptions import InvalidSignature

    key = _public(public_pem)
    if signature is None:
        raise SignatureError("unsigned", f"model version {version!r} refused: it is not "
                             f"signed ({SIGNATURE} is missing) and a verify key is set; sign "
                             "it by promoting it with RISKMODEL_SIGNING_KEY set")
    try:
        doc = json.loads(signature)
        algorithm, key_id = doc["algorithm"], doc["key_id"]
        raw = base64.b64decode(doc["signature"], validate=True)
    except (ValueError, KeyError, TypeError) as e:
        raise SignatureError("bad-signature", f"model version {version!r} refused: "
                             f"{SIGNATURE} is malformed ({e})") from None
    expected = _key_id(key)
    if algorithm != ALGORITHM or key_id != expected:
        raise SignatureError("wrong-key", f"model version {version!r} refused: signed by key "
                             f"{key_id} ({algorithm}), not by the verify key {expected}")
    try:
        key.verify(raw, manifest)
    except InvalidSignature:
        raise SignatureError("bad-signature", f"model version {version!r} refused: its "
                             "signature does not match its manifest (changed after it was "
                             "signed)") from None
