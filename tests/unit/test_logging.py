import json
import logging

import pytest

from shared.logs import configure_logging, get_logger


def capture_json_logs(capsys):
    """Configure logging inside the test: pytest swaps logging handlers between test phases."""
    configure_logging("test-service", "info", "json")
    return lambda: [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def restore_root_handlers():
    yield
    logging.getLogger().handlers.clear()


def test_log_lines_are_json_with_service_and_context(capsys):
    log_lines = capture_json_logs(capsys)
    get_logger("t").info("link.issued", link_id="lnk_1")
    [line] = log_lines()
    assert line["event"] == "link.issued"
    assert line["service"] == "test-service"
    assert line["link_id"] == "lnk_1"
    assert line["level"] == "info"


def test_secrets_are_redacted_by_key_and_inside_values(capsys):
    log_lines = capture_json_logs(capsys)
    get_logger("t").info(
        "request",
        client_secret="s3cr3t-value",
        headers={"Authorization": "Bearer abc.def", "accept": "json"},
        note="sent Bearer tok_live_123 to postgresql://portico:hunter2@db:5432/x",
    )
    [line] = log_lines()
    text = json.dumps(line)
    assert "s3cr3t-value" not in text
    assert "abc.def" not in text
    assert "tok_live_123" not in text
    assert "hunter2" not in text
    assert line["headers"]["accept"] == "json"


def test_standard_library_loggers_are_redacted_too(capsys):
    log_lines = capture_json_logs(capsys)
    logging.getLogger("uvicorn.error").warning("connect to redis://:pa55word@127.0.0.1:6379 failed")
    [line] = log_lines()
    assert "pa55word" not in line["event"]


def test_lines_below_the_level_are_dropped_and_the_rest_kept(capsys):
    log_lines = capture_json_logs(capsys)
    log = get_logger("t")
    log.debug("link.redeemed", link_id="lnk_quiet")
    log.warning("kafka.unreachable")
    assert [line["event"] for line in log_lines()] == ["kafka.unreachable"]
