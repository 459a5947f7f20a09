"""The server's Ed25519 signing key: made on first use under FIELDAPP_DATA_DIR/keys.

The private key never enters the database; losing the data dir loses the key, and a new
one is made (earlier dossiers stay verifiable with the public key they carry).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY_FILE = "dossier-signing-ed25519.pem"


def key_path(data_dir: Path) -> Path:
    return Path(data_dir) / "keys" / KEY_FILE


def signing_key(data_dir: Path) -> Ed25519PrivateKey:
    path = key_path(data_dir)
    if not path.exists():
        _create(path)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        # A link never replaces: if two workers race, the first key wins and both use it.
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink()


def public_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PrivateKey) -> str:
    """SHA-256 of the DER public key, as a court can compare it with a published value."""
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + hashlib.sha256(der).hexdigest()
