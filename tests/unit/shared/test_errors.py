import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from shared.errors import Conflict, DomainError, NotFound, RetryLater, install_error_handlers


class Body(BaseModel):
    class Saml(BaseModel):
        metadata_url: str

    saml: Saml


class StaleThing(DomainError):
    """A service's own error: its status, extra members and headers come from the class."""

    status = 412

    def __init__(self, current_version: int) -> None:
        super().__init__("version_mismatch", f"Now at version {current_version}.",
                         headers={"ETag": f'"{current_version}"'}, current_version=current_version)


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def create(body: Body) -> dict[str, str]:
        if body.saml.metadata_url == "taken":
            raise Conflict("already_exists", "A thing with that URL exists.", field="saml.metadata_url")
        return {"ok": "yes"}

    @app.get("/things/{name}")
    async def read(name: str) -> None:
        raise NotFound("thing_not_found", f"No thing {name}.", "name")

    @app.put("/things/stale")
    async def stale() -> None:
        raise StaleThing(3)

    @app.post("/sign-in")
    async def sign_in() -> None:
        raise RetryLater("locked_out", "Too many attempts; try again in 30 seconds.", 30, status=429)

    @app.get("/teapot")
    async def teapot() -> None:
        raise DomainError("short_and_stout", "Only tea here.", status=418)

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


async def test_not_found_subclass_answers_404_with_its_field():
    response = await call("GET", "/things/lamp")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "thing_not_found", "message": "No thing lamp.", "field": "name"}}


async def test_service_subclass_gives_its_status_extra_members_and_headers():
    response = await call("PUT", "/things/stale")
    assert response.status_code == 412
    assert response.headers["etag"] == '"3"'
    assert response.content == b'{"error":{"code":"version_mismatch","message":"Now at version 3.","current_version":3}}'


async def test_retry_later_says_when_in_the_body_and_in_retry_after():
    response = await call("POST", "/sign-in")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    assert response.json() == {"error": {
        "code": "locked_out", "message": "Too many attempts; try again in 30 seconds.", "retry_after": 30,
    }}


async def test_status_given_when_raised_overrides_the_default_422():
    response = await call("GET", "/teapot")
    assert response.status_code == 418
    assert response.json() == {"error": {"code": "short_and_stout", "message": "Only tea here."}}
    assert "retry-after" not in response.headers


def test_a_domain_error_is_422_without_headers_unless_said_otherwise():
    error = DomainError("invalid_thing", "Not a thing.", "thing")
    assert (error.status, error.headers, error.extra, str(error)) == (422, {}, {}, "Not a thing.")


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
