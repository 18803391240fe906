"""Secrets at rest: AES-256-GCM under a key ring from settings; the key id travels with the ciphertext."""
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connection_config.model import SealedSecret

NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_KEY_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class KeyringError(ValueError):
    """The key setting is malformed; the message never contains key material."""


class SecretUnavailable(Exception):
    """A stored secret cannot be decrypted: its key is gone from the ring, or the data was altered."""


def _associated_data(key_id: str, connection_id: str, purpose: str) -> bytes:
    # Binds the ciphertext to its row and use: copied to another connection, it no longer decrypts.
    return f"portico.connection-secret.v1|{key_id}|{connection_id}|{purpose}".encode()


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]
    active_key_id: str

    @classmethod
    def from_setting(cls, value: str) -> "Keyring":
        """Parse `kid:<64 hex>,kid2:<64 hex>`; the first entry encrypts, every entry decrypts."""
        keys: dict[str, bytes] = {}
        for position, entry in enumerate(part.strip() for part in value.split(",") if part.strip()):
            key_id, _, key_hex = entry.partition(":")
            if not _KEY_ID.match(key_id) or not _KEY_HEX.match(key_hex):
                raise KeyringError(
                    f"PORTICO_ENCRYPTION_KEYS entry {position + 1} is not `kid:<64 hex characters>` (a 32-byte key)"
                )
            if key_id in keys:
                raise KeyringError(f"PORTICO_ENCRYPTION_KEYS lists key id {key_id!r} twice")
            keys[key_id] = bytes.fromhex(key_hex)
        if not keys:
            raise KeyringError("PORTICO_ENCRYPTION_KEYS is empty; give at least one `kid:<64 hex characters>`")
        return cls(keys=keys, active_key_id=next(iter(keys)))

    def seal(self, plaintext: str, *, connection_id: str, purpose: str,
             random_bytes: Callable[[int], bytes] = os.urandom) -> SealedSecret:
        nonce = random_bytes(NONCE_BYTES)
        aad = _associated_data(self.active_key_id, connection_id, purpose)
        ciphertext = AESGCM(self.keys[self.active_key_id]).encrypt(nonce, plaintext.encode(), aad)
        return SealedSecret(key_id=self.active_key_id, ciphertext=nonce + ciphertext)

    def open(self, sealed: SealedSecret, *, connection_id: str, purpose: str) -> str:
        key = self.keys.get(sealed.key_id)
        if key is None:
            raise SecretUnavailable(f"key {sealed.key_id!r} is not in PORTICO_ENCRYPTION_KEYS")
        nonce, ciphertext = sealed.ciphertext[:NONCE_BYTES], sealed.ciphertext[NONCE_BYTES:]
        try:
            plaintext = AESGCM(key).decrypt(nonce, ciphertext, _associated_data(sealed.key_id, connection_id, purpose))
        except InvalidTag:
            raise SecretUnavailable("the stored secret does not authenticate under its key") from None
        return plaintext.decode()

    def rewrap(self, sealed: SealedSecret, *, connection_id: str, purpose: str,
               random_bytes: Callable[[int], bytes] = os.urandom) -> SealedSecret:
        """Re-encrypt under the active key (rotation); unchanged if it already is."""
        if sealed.key_id == self.active_key_id:
            return sealed
        plaintext = self.open(sealed, connection_id=connection_id, purpose=purpose)
        return self.seal(plaintext, connection_id=connection_id, purpose=purpose, random_bytes=random_bytes)
