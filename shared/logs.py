"""structlog set-up: one JSON line per event, request/event ids from context, secrets and link tokens redacted."""
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"(secret|password|passwd|token|api_key|apikey|authorization|cookie|private_key|dsn|database_url)",
    re.IGNORECASE,
)
# Values that carry credentials whatever key they sit under.
_SECRET_VALUE = re.compile(r"(Bearer\s+)\S+|(://[^:/@\s]*:)[^@\s]+(@)", re.IGNORECASE)
# A portal link's path holds its token, a bearer secret: whatever follows /portal/l/ is never logged, in a
# request line, an error message or a traceback alike. The proxy's access log follows the same rule
# (deploy/nginx/portico.conf.template). A token on its own (v1.<payload>.<signature>) is caught too.
_LINK_PATH = re.compile(r"(/portal/l/)[^\s?#\"'<>]*", re.IGNORECASE)
_LINK_TOKEN = re.compile(r"\bv1\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}")


def redact_path(path: str) -> str:
    """A request path as it may be logged: without its query string, a link's token replaced."""
    return _LINK_PATH.sub(rf"\g<1>{REDACTED}", path.split("?", 1)[0])


def _redact_text(text: str) -> str:
    text = _SECRET_VALUE.sub(
        lambda m: f"{m.group(1)}{REDACTED}" if m.group(1) else f"{m.group(2)}{REDACTED}{m.group(3)}",
        text,
    )
    return _LINK_TOKEN.sub(REDACTED, _LINK_PATH.sub(rf"\g<1>{REDACTED}", text))


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_KEY.search(str(k)) else _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: blank values under secret-looking keys and credentials inside strings."""
    for key, value in list(event_dict.items()):
        event_dict[key] = REDACTED if _SECRET_KEY.search(key) else _redact_value(value)
    return event_dict


def configure_logging(service: str, level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Route structlog and the standard library (uvicorn, aiokafka) through one redacting renderer."""
    def add_service(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # Drop a line below the level before any processor runs: a debug line on a hot path then costs
        # one level check, not a timestamp and a redaction pass (seen in the profiles, docs/performance.md).
        processors=[structlog.stdlib.filter_by_level, *shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared_processors,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka is chatty at INFO about every group rebalance; keep its warnings.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    # httpx logs every service-to-service call at INFO; the request log already has each request once.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
