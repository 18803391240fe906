from datetime import UTC, datetime

import pytest

from shared.link_tokens import InvalidLinkToken, LinkClaims, issue_link_token, read_link_token, token_sha256

KEY = b"k" * 32
CLAIMS = LinkClaims("lnk_1", "org_1", "magic", datetime(2026, 11, 26, 12, 5, tzinfo=UTC))


def test_token_carries_its_claims_and_256_random_bits():
    token = issue_link_token(CLAIMS, KEY, lambda n: b"\x01" * n)
    assert read_link_token(token, KEY) == CLAIMS
    other = issue_link_token(CLAIMS, KEY, lambda n: b"\x02" * n)
    assert other != token and token_sha256(other) != token_sha256(token)


def test_token_signed_with_another_key_is_refused():
    token = issue_link_token(CLAIMS, b"other-key", lambda n: b"\x01" * n)
    with pytest.raises(InvalidLinkToken):
        read_link_token(token, KEY)


@pytest.mark.parametrize(
    "mutate",
    [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: t.replace("v1.", "v2."), lambda t: t + ".x", lambda t: "x" * 600],
)
def test_altered_or_malformed_tokens_are_refused(mutate):
    token = issue_link_token(CLAIMS, KEY, lambda n: b"\x01" * n)
    with pytest.raises(InvalidLinkToken):
        read_link_token(mutate(token), KEY)


def test_payload_swapped_between_tokens_breaks_the_signature():
    a = issue_link_token(CLAIMS, KEY, lambda n: b"\x01" * n)
    b = issue_link_token(LinkClaims("lnk_2", "org_2", "shareable", CLAIMS.expire_time), KEY, lambda n: b"\x01" * n)
    forged = ".".join([a.split(".")[0], b.split(".")[1], a.split(".")[2]])
    with pytest.raises(InvalidLinkToken):
        read_link_token(forged, KEY)
