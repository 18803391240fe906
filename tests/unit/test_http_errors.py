import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from shared.errors import APIError, install_error_handlers


class Body(BaseModel):
    class Saml(BaseModel):
        metadata_url: str

    saml: Saml


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def create(body: Body) -> dict[str, str]:
        if body.saml.metadata_url == "taken":
            raise APIError(409, "already_exists", "A thing with that URL exists.", field="saml.metadata_url")
        return {"ok": "yes"}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("password=hunter2 leaked into an exception")

    return app


async def call(method: str, path: str, **kwargs) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, **kwargs)


async def test_domain_error_answers_with_code_message_and_field():
    response = await call("POST", "/things", json={"saml": {"metadata_url": "taken"}})
    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "already_exists", "message": "A thing with that URL exists.", "field": "saml.metadata_url"}
    }


async def test_validation_error_names_the_dotted_field():
    response = await call("POST", "/things", json={"saml": {}})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "saml.metadata_url"


async def test_malformed_json_is_a_4xx_not_a_500():
    response = await call("POST", "/things", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "malformed_json"


async def test_unknown_path_is_json_404():
    response = await call("GET", "/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_unexpected_failure_hides_its_details():
    response = await call("GET", "/boom")
    assert response.status_code == 500
    assert "hunter2" not in response.text
    assert response.json()["error"]["code"] == "internal_error"
