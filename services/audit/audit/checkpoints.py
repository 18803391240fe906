"""Signed checkpoints of chain heads: Ed25519 over canonical JSON, each one signing the one before. No I/O.

A checkpoint pins the hash of every chain head appended to since the previous checkpoint. Someone
who rewrites a stretch of a chain and recomputes every hash after it passes plain verification,
but not the checkpoints, unless they also hold the signing key.
"""
import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.domain import ChainHead, canonical_json, format_time

NO_SIGNATURE = ""  # prev_signature of the first checkpoint


class InvalidSigningKey(ValueError):
    pass


def load_signing_key(encoded: str) -> Ed25519PrivateKey:
    """The key from its setting: base64 (standard or URL-safe) of a 32-byte Ed25519 seed."""
    text = encoded.strip().replace("-", "+").replace("_", "/").rstrip("=")
    try:
        seed = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidSigningKey("the audit checkpoint signing key is not base64") from error
    if len(seed) != 32:
        raise InvalidSigningKey(f"the audit checkpoint signing key must be 32 bytes, not {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def heads_json(heads: Mapping[str, ChainHead]) -> str:
    return canonical_json({org: [h.sequence, h.organization_sequence, h.hash] for org, h in heads.items()})


def parse_heads(text: str) -> dict[str, ChainHead]:
    return {org: ChainHead(*values) for org, values in json.loads(text).items()}


@dataclass(frozen=True)
class Checkpoint:
    number: int
    created_at: datetime
    sequence: int  # the global head when it was taken
    heads: str  # heads_json(...)
    public_key: str
    prev_signature: str
    signature: str

    def message(self) -> bytes:
        return canonical_json(
            {
                "number": self.number,
                "created_at": format_time(self.created_at),
                "sequence": self.sequence,
                "heads": self.heads,
                "public_key": self.public_key,
                "prev_signature": self.prev_signature,
            }
        ).encode("ascii")


@dataclass(frozen=True)
class Checkpointer:
    """Signs a checkpoint into the append transaction at most once per interval."""

    key: Ed25519PrivateKey
    interval: timedelta

    def due(self, last: Checkpoint | None, now: datetime) -> bool:
        return last is None or now - last.created_at >= self.interval

    def sign(self, last: Checkpoint | None, now: datetime, sequence: int, heads: Mapping[str, ChainHead]) -> Checkpoint:
        unsigned = Checkpoint(
            number=(last.number + 1) if last else 1,
            created_at=now,
            sequence=sequence,
            heads=heads_json(heads),
            public_key=public_key_hex(self.key),
            prev_signature=last.signature if last else NO_SIGNATURE,
            signature="",
        )
        return Checkpoint(**{**unsigned.__dict__, "signature": self.key.sign(unsigned.message()).hex()})


def checkpoint_problem(checkpoint: Checkpoint, previous: Checkpoint | None, trusted_public_key: str) -> str | None:
    """Why this checkpoint cannot be trusted, or None: wrong key, broken sequence of checkpoints, bad signature."""
    if checkpoint.public_key != trusted_public_key:
        return "checkpoint_key_unknown"
    expected_number = previous.number + 1 if previous else 1
    expected_prev = previous.signature if previous else NO_SIGNATURE
    if checkpoint.number != expected_number or checkpoint.prev_signature != expected_prev:
        return "checkpoint_sequence_broken"
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(checkpoint.public_key)).verify(
            bytes.fromhex(checkpoint.signature), checkpoint.message()
        )
    except (InvalidSignature, ValueError):
        return "checkpoint_signature_invalid"
    return None
