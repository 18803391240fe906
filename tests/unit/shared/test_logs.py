import json
import logging

import pytest

from shared.logs import configure_logging, get_logger, redact_path


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


TOKEN = "v1.eyJsIjoibG5rXzEiLCJvIjoib3JnXzEiLCJrIjoibSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1oZXJl"


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        (f"/portal/l/{TOKEN}", "/portal/l/[redacted]"),
        (f"/portal/l/{TOKEN}?portico_probe=1", "/portal/l/[redacted]"),
        (f"/PORTAL/L/{TOKEN}", "/PORTAL/L/[redacted]"),
        ("/portal/l/v1.a.%C3%A9", "/portal/l/[redacted]"),
        ("/api/v1/audit/events?cursor=abc&organization_id=org_1", "/api/v1/audit/events"),
        ("/portal/api/session", "/portal/api/session"),
    ],
)
def test_request_paths_are_logged_without_query_and_without_a_links_token(path, logged):
    assert redact_path(path) == logged


def test_a_link_path_or_token_is_redacted_wherever_it_appears_in_a_line(capsys):
    log_lines = capture_json_logs(capsys)
    get_logger("t").warning(
        "portal.odd", detail=f"could not open http://127.0.0.1:8080/portal/l/{TOKEN} for you", seen=[TOKEN]
    )
    [line] = log_lines()
    assert TOKEN not in json.dumps(line)
    assert line["detail"] == "could not open http://127.0.0.1:8080/portal/l/[redacted] for you"


def test_a_traceback_naming_a_link_path_is_redacted(capsys):
    log_lines = capture_json_logs(capsys)
    try:
        raise ValueError(f"no route for '/portal/l/{TOKEN}'")
    except ValueError as error:
        # What uvicorn logs when an exception leaves the application.
        logging.getLogger("uvicorn.error").error("Exception in ASGI application\n", exc_info=error)
    [line] = log_lines()
    assert "ValueError" in line["exception"]
    assert TOKEN not in json.dumps(line)
