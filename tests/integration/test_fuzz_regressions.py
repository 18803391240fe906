"""Inputs the fuzz suite (docs/fuzzing.md) turned into 500s, replayed through the proxy: each is a clear 4xx now."""
import base64
import socket
from pathlib import Path

import httpx

from tests.fixtures.identity_providers import der_base64, make_certificate
from tests.integration.portal_session.test_portal_connections import portal_browser
from tests.integration.stack import Stack, run_script


def certificate_with_version(version: int) -> str:
    der = bytearray(base64.b64decode(der_base64(make_certificate())))
    der[der.index(bytes.fromhex("a003020102")) + 4] = version  # [0] EXPLICIT INTEGER: 2 is v3
    return f"-----BEGIN CERTIFICATE-----\n{base64.encodebytes(bytes(der)).decode()}-----END CERTIFICATE-----\n"


def certificate_with_unknown_key_algorithm() -> str:
    der = base64.b64decode(der_base64(make_certificate()))
    rsa_encryption = bytes.fromhex("06092a864886f70d010101")  # OID 1.2.840.113549.1.1.1; 0.0.840… is no algorithm
    body = base64.encodebytes(der.replace(rsa_encryption, bytes.fromhex("06090086488" "6f70d010101"))).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


async def test_certificates_with_an_unknown_key_algorithm_or_x509_version_are_refused_under_their_field(
    api: httpx.AsyncClient, proxy_url: str
):
    _, browser, csrf = await portal_browser(api, proxy_url, "Fuzz regression: certificate")
    try:
        answers = [await browser.post("/portal/api/connections", headers={"X-CSRF-Token": csrf}, json={
            "type": "saml", "provider": "generic_saml", "saml": {
                "idp_entity_id": "https://idp.example.com", "sso_url": "https://idp.example.com/sso",
                "certificates": [certificate],
            },
        }) for certificate in (certificate_with_unknown_key_algorithm(), certificate_with_version(1))]
        for answer in answers:
            assert answer.status_code == 422, answer.text
            assert answer.json()["error"]["code"] == "certificate_invalid"
            assert answer.json()["error"]["field"] == "saml.certificates.0"
        assert (await browser.get("/portal/api/connections")).json()["connections"] == []
    finally:
        await browser.aclose()


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_routes_behind_the_api_key_check_answer_503_json_while_link_issuer_is_unreachable(stack: Stack, tmp_path: Path):
    """The fuzz run met a 500 page from the proxy while link-issuer restarted: auth_request failed, nginx said 500.

    A proxy of its own (the shared one and link-issuer stay untouched) whose link-issuer is a closed port.
    """
    proxy_port = unused_port()
    env = {"PORTICO_RUN_DIR": str(tmp_path), "PORTICO_PROXY_PORT": str(proxy_port), "PORTICO_REPLICAS": "1",
           "PORTICO_LINK_ISSUER_PORT": str(unused_port())}
    started = run_script("nginx.sh", "start", env=env, timeout=60)
    assert started.returncode == 0, started.stderr
    try:
        for path in ("/api/v1/audit/events", "/api/v1/organizations/org_fuzz/connections"):
            answer = httpx.get(f"http://127.0.0.1:{proxy_port}{path}", headers={"Authorization": "Bearer any"}, timeout=10)
            assert answer.status_code == 503, (path, answer.status_code, answer.text)
            assert answer.json()["error"]["code"] == "service_unavailable"
    finally:
        run_script("nginx.sh", "stop", env=env, timeout=60)


async def test_text_with_a_nul_character_is_refused_not_a_server_error(api: httpx.AsyncClient):
    """Postgres cannot store U+0000: each of these was a 500 before."""
    org_id = (await api.post("/api/v1/organizations", json={
        "display_name": "Fuzz regression: NUL", "allowed_frame_ancestors": ["https://app.example.com"],
    })).json()["organization"]["id"]
    answers = [
        await api.post("/api/v1/organizations", json={"display_name": "a\u0000b"}),
        await api.post("/api/v1/organizations", json={"display_name": "ok", "external_id": "x\u0000"}),
        await api.post("/api/v1/organizations", json={"display_name": "ok", "allowed_frame_ancestors": ["https://a\u0000.com"]}),
        await api.put(f"/api/v1/organizations/{org_id}/portal_links", json={"return_url": "https://app.example.com/\u0000"}),
        await api.post(f"/api/v1/organizations/{org_id}/portal_links",
                       json={"kind": "shareable", "success_url": "https://app.example.com/\u0000"}),
        await api.get("/api/v1/audit/events", params={"organization_id": "org_a\u0000b"}),
        await api.get("/api/v1/audit/events", params={"organization_id": org_id, "type": "a\u0000"}),
        await api.get("/api/v1/audit/export", params={"organization_id": "org_a\u0000b"}),
        await api.get("/api/v1/audit/verify", params={"organization_id": "org_a\u0000b"}),
    ]
    assert [(a.status_code, a.json()["error"]["code"]) for a in answers] == [(400, "invalid_characters")] * len(answers)
    assert (await api.get(f"/api/v1/organizations/{org_id}/portal_links")).json()["links"] == []


async def test_requests_the_proxy_cannot_parse_or_route_get_the_json_error_shape(proxy_url: str):
    async with httpx.AsyncClient(base_url=proxy_url, timeout=10) as client:
        nul_in_path = await client.get("/api/v1/organizations/%00")
        internal_only = await client.get("/_portico/auth/api-key")
    assert nul_in_path.status_code == 400 and nul_in_path.json()["error"]["code"] == "bad_request"
    assert internal_only.status_code == 404 and internal_only.json()["error"]["code"] == "not_found"
