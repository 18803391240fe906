"""The audit log's `actor` filter: `kind:id`, a bare kind, or an id."""
import pytest

from audit.query import parse_actor_filter


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, (None, None)),
        ("", (None, None)),
        ("operator:opr_abc", ("operator", "opr_abc")),
        ("operator", ("operator", None)),
        ("api_key:", ("api_key", None)),
        ("key_123", (None, "key_123")),
        ("nonsense:thing", (None, "nonsense:thing")),
    ],
)
def test_actor_filter_names_a_kind_an_id_or_both(given, expected):
    assert parse_actor_filter(given) == expected
