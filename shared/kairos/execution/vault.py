"""Exchange API keys sealed with AES-256-GCM; only the executor and the reconciler open them.

The key-encryption key (KEK) comes from the environment (the Kubernetes Secret
``kairos-exchange-kek``): ``KAIROS_EXCHANGE_KEK = "<key id>:<base64 of 32 bytes>"``, and
during a rotation ``KAIROS_EXCHANGE_KEK_PREVIOUS`` (docs/OPERATIONS.md section 6). Every
ciphertext records the id of the key that sealed it; the account name is the associated
data, so a ciphertext copied onto another account's row does not open.

``Credentials`` never shows its secret in ``repr``/``str``: a stray log line or an error
message that formats it prints ``***``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from kairos.errors import ConfigError, FatalError
from kairos.venues.port import Credentials

KEK_ENV = "KAIROS_EXCHANGE_KEK"
KEK_PREVIOUS_ENV = "KAIROS_EXCHANGE_KEK_PREVIOUS"


class KeyUnavailable(FatalError):
    """A ciphertext cannot be opened: wrong or missing KEK, or tampered row."""

    code = "key_unavailable"


def _parse_kek(name: str, value: str) -> tuple[str, bytes]:
    key_id, sep, b64 = value.strip().partition(":")
    try:
        key = base64.b64decode(b64, validate=True) if sep else b""
    except (binascii.Error, ValueError):
        key = b""
    if not key_id or len(key) != 32:
        raise ConfigError(f"environment variable {name} must be '<key id>:<base64 of 32 bytes>' (value not shown)")
    return key_id, key


class KeyVault:
    """Seal and open exchange credentials with the current (and previous) KEK."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        self._keys = dict(keys)
        self.current = current

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KeyVault:
        """Raises ConfigError naming the variable when the KEK is missing or malformed."""
        env = os.environ if env is None else env
        raw = env.get(KEK_ENV, "").strip()
        if not raw:
            raise ConfigError(f"environment variable {KEK_ENV} is not set: '<key id>:<base64 of 32 bytes>'")
        current, key = _parse_kek(KEK_ENV, raw)
        keys = {current: key}
        previous = env.get(KEK_PREVIOUS_ENV, "").strip()
        if previous:
            pid, pkey = _parse_kek(KEK_PREVIOUS_ENV, previous)
            keys.setdefault(pid, pkey)
        return cls(keys, current)

    def seal(self, account: str, creds: Credentials) -> tuple[str, bytes]:
        """(key id, nonce || ciphertext) of ``creds`` bound to ``account``."""
        nonce = os.urandom(12)
        plain = json.dumps({"k": creds.api_key, "s": creds.secret}).encode()
        return self.current, nonce + AESGCM(self._keys[self.current]).encrypt(nonce, plain, account.encode())

    def open(self, account: str, key_id: str, blob: bytes) -> Credentials:
        """Raises KeyUnavailable (never showing key material) when the row cannot be opened."""
        key = self._keys.get(key_id)
        if key is None:
            raise KeyUnavailable(f"keys of account {account} are sealed with KEK {key_id!r}, which is not loaded")
        try:
            plain = AESGCM(key).decrypt(blob[:12], blob[12:], account.encode())
        except InvalidTag:
            raise KeyUnavailable(f"keys of account {account} do not open (wrong KEK or tampered row)") from None
        data = json.loads(plain)
        return Credentials(api_key=data["k"], secret=data["s"])


def generate_kek(key_id: str = "k1") -> str:
    """A fresh KEK value in the environment format (tests and operators)."""
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"
