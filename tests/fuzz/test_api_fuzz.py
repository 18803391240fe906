"""Fuzzing the management and portal APIs through the proxy, from the generated OpenAPI documents (docs/openapi/).

Every answer must come within REQUEST_BOUND_S, never be a 5xx, match what the documents promise (status code,
content type, body schema, errors included), and refuse with a 4xx whatever breaks the schema (schemathesis's
negative mode). Each run works on organizations of its own.
FUZZ_EXAMPLES (default 10) sets the generated examples per operation; docs/fuzzing.md says how to run longer.
"""
import copy
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from connection_config.model import PROVIDERS
from connection_config.schemas import CreateConnection, UpdateConnection
from tests.fixtures.identity_providers import make_certificate, pem
from tests.fuzz.conftest import SAML_FIELDS, SESSION_COOKIE, PortalSession
from tests.integration.stack import ROOT

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
CAMPAIGN = "FUZZ_EXAMPLES" in os.environ  # a chosen length explores afresh; the default run repeats itself
REQUEST_BOUND_S = 10.0
DOCUMENTS = ROOT / "docs" / "openapi"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]
# Outbound fetches may only aim at loopback, which connection-config refuses without fetching.
LOOPBACK_URLS = ["http://127.0.0.1:9/metadata", "https://localhost:1/", "http://[::1]:9/.well-known/x", "https://127.0.0.1"]
fuzz_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not CAMPAIGN,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: a timed-out call would repeat for minutes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)


def document(service: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DOCUMENTS / f"{service}.json").read_text())
    return loaded


def merged(*services: str, paths: tuple[str, ...] = ("/",)) -> dict[str, Any]:
    """One document with the operations of several services under these path prefixes (one origin: the proxy)."""
    combined: dict[str, Any] = {"openapi": "3.1.0", "info": {"title": "Portico", "version": "fuzz"}, "paths": {},
                                "components": {"schemas": {}}}
    for service in services:
        loaded = document(service)
        combined["paths"].update({path: ops for path, ops in loaded["paths"].items() if path.startswith(paths)})
        combined["components"]["schemas"].update(loaded.get("components", {}).get("schemas", {}))
    return combined


def steered(schema: dict[str, Any]) -> dict[str, Any]:
    """The body schema with every fetched URL limited to loopback (or short nonsense), and real values offered
    beside random ones (providers, https URLs, a certificate) so that some bodies get past validation."""
    def either(*values: Any, random: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"anyOf": [random or {"type": "string", "maxLength": 30}, {"enum": list(values)}, {"type": "null"}]}

    replacements = {
        "metadata_url": either(*LOOPBACK_URLS),
        "issuer": either(*LOOPBACK_URLS),
        "provider": either(*sorted(set().union(*PROVIDERS.values()))),
        "idp_entity_id": either("https://idp.example.com/saml", "urn:example:idp"),
        "sso_url": either("https://idp.example.com/sso", "http://127.0.0.1/sso"),
        "certificates": either([pem(make_certificate())], random={"type": "array", "maxItems": 3, "items": {"type": "string"}}),
        "scopes": either(["openid", "email"], random={"type": "array", "maxItems": 5, "items": {"type": "string"}}),
    }
    schema = copy.deepcopy(schema)
    for definition in [schema, *schema.get("$defs", {}).values()]:
        properties = definition.get("properties", {})
        properties.update({name: value for name, value in replacements.items() if name in properties})
    return schema


def with_bodies(schema: dict[str, Any], components: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema as a request body, its $defs moved into the document's components, with one
    valid example (sent in schemathesis's examples phase, so the success path is fuzzed around too)."""
    moved = json.loads(json.dumps(steered(schema)).replace('"#/$defs/', '"#/components/schemas/'))
    components.update(moved.pop("$defs", {}))
    return {"required": True, "content": {"application/json": {"schema": moved, "examples": {"valid": {"value": example}}}}}


def portal_document() -> dict[str, Any]:
    """portal-session's document, plus its connection calls spelled out with the bodies connection-config reads.

    portal-session forwards /portal/api/connections{rest} as one route, so its generated document cannot
    say more; the catch-all stays (random `rest`) and the explicit operations are added beside it.
    """
    portal = document("portal-session")
    components = portal.setdefault("components", {}).setdefault("schemas", {})
    forwarded = portal["paths"]["/portal/api/connections{rest}"]
    connection_id = {"name": "connection_id", "in": "path", "required": True, "schema": {"type": "string"}}
    if_match = {"name": "If-Match", "in": "header", "required": False,
                "schema": {"anyOf": [{"type": "string", "maxLength": 12}, {"enum": ['"1"', "2", 'W/"3"']}]}}

    def operation(method: str, name: str, parameters: list[dict[str, Any]], body: dict[str, Any] | None = None) -> dict[str, Any]:
        answered = ({"204": {"description": "Deleted"}} if method == "delete" else
                    {"2XX": {"description": "Answered by connection-config",
                             "content": {"application/json": {"schema": {"type": "object"}}}}})
        described = {"operationId": f"{name}_{method}", "parameters": parameters,
                     "responses": {**answered, "4XX": forwarded[method]["responses"]["4XX"]}}
        if body is not None:
            described["requestBody"] = body
        return described

    portal["paths"].update({
        "/portal/api/connections": {
            "get": operation("get", "list_connections", []),
            "post": operation("post", "create_connection", [],
                              with_bodies(CreateConnection.model_json_schema(), components, SAML_FIELDS)),
        },
        "/portal/api/connections/{connection_id}": {
            "get": operation("get", "get_connection", [connection_id]),
            "patch": operation("patch", "update_connection", [connection_id, if_match],
                               with_bodies(UpdateConnection.model_json_schema(), components,
                                           {"saml": {"sso_url": "https://acme.okta.com/app/sso/saml2"}})),
            "delete": operation("delete", "delete_connection", [connection_id, if_match]),
        },
        "/portal/api/connections/{connection_id}/{action}": {
            "post": operation("post", "change_status", [
                connection_id, if_match,
                {"name": "action", "in": "path", "required": True,
                 "schema": {"anyOf": [{"enum": ["enable", "disable"]}, {"type": "string"}]}},
            ]),
        },
    })
    return portal


management = schemathesis.openapi.from_dict(
    merged("link-issuer", "connection-config", "audit", paths=("/api/v1/", "/sso/"))
)
portal = schemathesis.openapi.from_dict(portal_document())


def call(case: schemathesis.Case, base_url: str, session: requests.Session, **kwargs: Any) -> None:
    """Send the case and check its answer: in time, no 5xx, as documented."""
    started = time.monotonic()
    response = case.call(base_url=base_url, session=session, timeout=REQUEST_BOUND_S, **kwargs)
    elapsed = time.monotonic() - started
    assert elapsed < REQUEST_BOUND_S, f"{case.method} {case.formatted_path} took {elapsed:.1f} s"
    event(f"HTTP {response.status_code}")  # --hypothesis-show-statistics shows how often each answer came
    case.validate_response(response, checks=CHECKS)


@pytest.fixture(scope="module")
def http_session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@management.parametrize()
@management.given(own=st.booleans())
@fuzz_settings
def test_management_api_answers_every_generated_request_in_time_without_a_server_error(
    case: schemathesis.Case, own: bool, proxy_url: str, api_key: str, fuzz_management_org: str,
    fuzz_portal: PortalSession, http_session: requests.Session,
):
    path_parameters = case.path_parameters if case.path_parameters is not None else {}
    if own and "organization_id" in path_parameters:
        path_parameters["organization_id"] = fuzz_management_org  # otherwise random: nobody's organization
    if own and "connection_id" in path_parameters:
        path_parameters["connection_id"] = fuzz_portal.connection_id  # public SP metadata of a real connection
    if case.path.startswith("/api/v1/audit/"):
        # Unscoped, export and verify read the whole shared log (minutes); scoped, only this run's organization.
        query = case.query if isinstance(case.query, dict) else {}
        scoped = query.get("organization_id")
        if own or not (isinstance(scoped, str) and scoped):  # absent or empty both mean "every organization"
            query["organization_id"] = fuzz_management_org
        case.query = query
    call(case, proxy_url, http_session, headers={"Authorization": f"Bearer {api_key}"})


@portal.parametrize()
@portal.given(own=st.booleans())
@fuzz_settings
def test_portal_api_answers_every_generated_request_in_time_without_a_server_error(
    case: schemathesis.Case, own: bool, proxy_url: str, fuzz_portal: PortalSession, http_session: requests.Session,
):
    path_parameters = case.path_parameters if case.path_parameters is not None else {}
    headers = {} if case.method == "GET" else {"X-CSRF-Token": fuzz_portal.csrf_token}
    cookies = {SESSION_COOKIE: fuzz_portal.cookie}
    if own and "connection_id" in path_parameters:
        # A delete gets another connection of the run's organization, so the shared one stays for the rest.
        path_parameters["connection_id"] = (
            fuzz_portal.connection_id if case.method != "DELETE"
            else expendable_connection(http_session, proxy_url, fuzz_portal, headers, cookies)
        )
    call(case, proxy_url, http_session, headers=headers, cookies=cookies)


def expendable_connection(session: requests.Session, proxy_url: str, portal_session: PortalSession,
                          headers: dict[str, str], cookies: dict[str, str]) -> str:
    """A connection of the run's organization other than the shared one: one the fuzz made, or a new one."""
    listed = session.get(f"{proxy_url}/portal/api/connections", cookies=cookies, timeout=REQUEST_BOUND_S)
    others = [c["id"] for c in listed.json()["connections"] if c["id"] != portal_session.connection_id]
    if others:
        return str(others[0])
    created = session.post(f"{proxy_url}/portal/api/connections", json=SAML_FIELDS, headers=headers, cookies=cookies,
                           timeout=REQUEST_BOUND_S)
    assert created.status_code == 201, created.text
    return str(created.json()["connection"]["id"])


def test_the_fuzzed_documents_describe_every_request_body():
    """schemathesis drops a body schema it cannot resolve without a word; then nothing would fuzz the bodies."""
    bodies = {
        f"{op.method.upper()} {op.path}": [body.media_type for body in op.body]
        for op in (result.ok() for schema in (management, portal) for result in schema.get_all_operations())
        if op.method in ("post", "put", "patch") and not op.path.endswith(("{rest}", "{action}", "/complete"))
    }
    forms = {"POST /sso/saml/{connection_id}/acs"}  # the IdP posts an HTML form to the SAML ACS
    assert bodies and all(media == (["application/x-www-form-urlencoded"] if name in forms else ["application/json"])
                          for name, media in bodies.items()), bodies
