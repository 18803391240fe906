"""Signed checkpoints of chain heads, without a database."""
import base64
from datetime import UTC, datetime, timedelta

import pytest

from audit.checkpoints import (
    Checkpoint,
    Checkpointer,
    InvalidSigningKey,
    checkpoint_problem,
    load_signing_key,
    parse_heads,
    public_key_hex,
)
from audit.domain import ChainHead

KEY = load_signing_key(base64.b64encode(bytes(range(32))).decode())
T0 = datetime(2026, 1, 31, tzinfo=UTC)
HEADS = {"org_a": ChainHead(7, 3, "ab" * 32)}


def signed_pair() -> tuple[Checkpoint, Checkpoint]:
    checkpointer = Checkpointer(KEY, timedelta(seconds=60))
    first = checkpointer.sign(None, T0, 7, HEADS)
    second = checkpointer.sign(first, T0 + timedelta(seconds=61), 9, {"org_b": ChainHead(9, 1, "cd" * 32)})
    return first, second


def test_checkpoints_chain_their_signatures_and_verify():
    first, second = signed_pair()
    assert (first.number, second.number, second.prev_signature) == (1, 2, first.signature)
    assert parse_heads(first.heads) == HEADS
    assert checkpoint_problem(first, None, public_key_hex(KEY)) is None
    assert checkpoint_problem(second, first, public_key_hex(KEY)) is None


def test_a_checkpoint_is_due_once_per_interval():
    checkpointer = Checkpointer(KEY, timedelta(seconds=60))
    first, _ = signed_pair()
    assert checkpointer.due(None, T0)
    assert not checkpointer.due(first, T0 + timedelta(seconds=59))
    assert checkpointer.due(first, T0 + timedelta(seconds=60))


def test_edited_dropped_or_foreign_checkpoints_are_reported():
    first, second = signed_pair()
    edited = Checkpoint(**{**first.__dict__, "heads": '{"org_a":[7,3,"' + "00" * 32 + '"]}'})
    assert checkpoint_problem(edited, None, public_key_hex(KEY)) == "checkpoint_signature_invalid"
    assert checkpoint_problem(second, None, public_key_hex(KEY)) == "checkpoint_sequence_broken"
    other = load_signing_key(base64.b64encode(bytes(32)).decode())
    assert checkpoint_problem(first, None, public_key_hex(other)) == "checkpoint_key_unknown"


@pytest.mark.parametrize("encoded", ["not base64 at all!", base64.b64encode(b"short").decode()])
def test_a_bad_signing_key_is_refused_at_start(encoded):
    with pytest.raises(InvalidSigningKey):
        load_signing_key(encoded)
