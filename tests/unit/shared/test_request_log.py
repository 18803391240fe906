"""The services' own request log (instead of uvicorn's access log) and request ids: one line per request,
a link's token never in it, and any X-Request-ID a caller sends answered without a 500."""
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared import service
from shared.logs import configure_logging
from shared.service import create_http_app

TOKEN = "v1.eyJsIjoibG5rXzEiLCJvIjoib3JnXzEiLCJrIjoibSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1oZXJl"


@pytest.fixture(autouse=True)
def restore_root_handlers():
    yield
    logging.getLogger().handlers.clear()


@asynccontextmanager
async def no_resources(_: FastAPI) -> AsyncIterator[None]:
    yield


def make_app() -> FastAPI:
    app = create_http_app("test-service", no_resources)

    @app.get("/portal/l/{token}")
    async def redeem(token: str) -> dict[str, str]:
        if token.endswith("boom"):
            raise RuntimeError(f"redemption of {token} failed")
        return {"ok": "yes"}

    return app


async def get(path: str, headers: Any = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers=headers)


def logged(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


async def test_each_request_is_one_line_with_method_redacted_path_status_duration_and_request_id(capsys):
    configure_logging("test-service", "info", "json")
    response = await get(f"/portal/l/{TOKEN}?portico_probe=1", headers={"X-Request-ID": "req-from-the-proxy"})
    assert response.status_code == 200
    lines = logged(capsys)
    [line] = [line for line in lines if line["event"] == "http.request"]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/portal/l/[redacted]", 200)
    assert line["request_id"] == "req-from-the-proxy"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert TOKEN not in json.dumps(lines)


async def test_an_unhandled_error_is_logged_as_500_without_the_token(capsys):
    configure_logging("test-service", "info", "json")
    response = await get(f"/portal/l/{TOKEN}boom")
    assert response.status_code == 500
    lines = logged(capsys)
    assert {line["event"] for line in lines} >= {"http.request", "http.unhandled_error"}
    assert [line["status"] for line in lines if line["event"] == "http.request"] == [500]
    assert TOKEN not in json.dumps(lines)


@pytest.mark.parametrize(
    "sent",
    [b"\xff\xfe not utf-8", "é-accented".encode(), b"has space", b"x" * 129, b""],
    ids=["not-utf-8", "non-ascii", "space", "too-long", "empty"],
)
async def test_an_unusable_request_id_is_replaced_by_a_new_one(sent: bytes):
    response = await get("/portal/l/v1.unknown", headers=[(b"X-Request-ID", sent)])
    assert response.status_code == 200
    assert response.headers["x-request-id"].encode() != sent
    assert len(response.headers["x-request-id"]) == 32


async def test_a_sane_request_id_is_kept_and_echoed():
    given = "A1-b2_c3.d4:" + "x" * 116
    response = await get("/portal/l/v1.unknown", headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given


def test_services_run_without_uvicorns_access_log(monkeypatch):
    ran: dict[str, Any] = {}
    monkeypatch.setattr(service.uvicorn, "run", lambda app, **config: ran.update(config))
    settings = type("S", (), {"log_level": "info", "log_format": "json", "http_host": "127.0.0.1", "trusted_proxy_ips": "127.0.0.1"})()
    service.run_service("test-service", lambda _: make_app(), settings, 8199)  # type: ignore[arg-type]
    assert ran["access_log"] is False
