"""Page cursors of the audit read side."""
import pytest

from audit.query import InvalidCursor, decode_cursor, encode_cursor


def test_cursor_round_trips():
    assert decode_cursor(encode_cursor(12345)) == 12345


@pytest.mark.parametrize("cursor", ["", "garbage!", "YWZ0ZXI6LTE", "YWZ0ZXI6OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "c2VxOjE"])
def test_anything_but_a_cursor_we_issued_is_refused(cursor):
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)
