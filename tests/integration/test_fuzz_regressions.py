"""Inputs the fuzz suite (docs/fuzzing.md) turned into 500s, replayed through the proxy: each is a clear 4xx now."""
import base64

import httpx

from tests.fixtures.identity_providers import der_base64, make_certificate
from tests.integration.test_portal_connections import portal_browser


def certificate_with_unknown_key_algorithm() -> str:
    der = base64.b64decode(der_base64(make_certificate()))
    rsa_encryption = bytes.fromhex("06092a864886f70d010101")  # OID 1.2.840.113549.1.1.1; 0.0.840… is no algorithm
    body = base64.encodebytes(der.replace(rsa_encryption, bytes.fromhex("06090086488" "6f70d010101"))).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


async def test_a_certificate_with_an_unknown_key_algorithm_is_refused_under_its_field(api: httpx.AsyncClient, proxy_url: str):
    _, browser, csrf = await portal_browser(api, proxy_url, "Fuzz regression: certificate")
    try:
        answer = await browser.post("/portal/api/connections", headers={"X-CSRF-Token": csrf}, json={
            "type": "saml", "provider": "generic_saml", "saml": {
                "idp_entity_id": "https://idp.example.com", "sso_url": "https://idp.example.com/sso",
                "certificates": [certificate_with_unknown_key_algorithm()],
            },
        })
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "certificate_invalid"
        assert answer.json()["error"]["field"] == "saml.certificates.0"
        assert (await browser.get("/portal/api/connections")).json()["connections"] == []
    finally:
        await browser.aclose()
