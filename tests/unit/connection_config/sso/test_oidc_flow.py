"""OIDC as a relying party: the authorization URL, the token request, the ID token's verification (joserfc) and
the two HTTP calls against httpx.MockTransport."""
import base64
import hashlib
import hmac
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc.jwk import ECKey, RSAKey

from connection_config.sso.errors import SignInError
from connection_config.sso.oidc_flow import (
    UnknownKeyId,
    authorization_request,
    callback_code,
    code_challenge,
    exchange_code,
    fetch_jwks,
    token_request,
    verify_id_token,
    verify_id_token_refreshing,
)
from connection_config.sso.profile import oidc_profile
from tests.unit.connection_config.sso.idp import NOW, OidcProvider, rsa_key, unsigned_jwt

IDP = OidcProvider()
NONCE = "n-123"


def verify(token: str, jwks: dict | None = None, **changes):
    options = {"issuer": IDP.issuer, "client_id": IDP.client_id, "nonce": NONCE, "now": NOW,
               "max_skew": timedelta(seconds=120)} | changes
    return verify_id_token(token, IDP.jwks() if jwks is None else jwks, **options)


def refused(token: str, jwks: dict | None = None, **changes) -> SignInError:
    with pytest.raises(SignInError) as caught:
        verify(token, jwks, **changes)
    return caught.value


def counting_bytes():
    counter = iter(range(1, 100))
    return lambda size: bytes([next(counter)]) * size


# Authorization request

def test_authorization_url_carries_pkce_state_and_nonce():
    request = authorization_request(authorization_endpoint="https://idp.example.org/auth?kc_idp_hint=x",
                                    client_id="portico client", redirect_uri="https://portico.example.com/sso/oidc/cb",
                                    token_bytes=counting_bytes())
    parts = urlsplit(request.url)
    query = parse_qs(parts.query)
    assert (parts.netloc, parts.path) == ("idp.example.org", "/auth")
    assert query == {
        "kc_idp_hint": ["x"], "response_type": ["code"], "client_id": ["portico client"],
        "redirect_uri": ["https://portico.example.com/sso/oidc/cb"], "scope": ["openid email profile"],
        "state": [request.state], "nonce": [request.nonce], "code_challenge": [code_challenge(request.code_verifier)],
        "code_challenge_method": ["S256"],
    }
    assert request.code_verifier not in request.url
    assert len({request.state, request.nonce, request.code_verifier}) == 3
    assert len(request.code_verifier) == 43  # 32 random bytes, base64url: within RFC 7636's 43..128


def test_code_challenge_is_rfc7636_s256():
    # RFC 7636 appendix B
    assert code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_default_random_values_differ_per_request():
    first, second = (authorization_request(authorization_endpoint="https://idp/auth", client_id="c",
                                           redirect_uri="https://p/cb") for _ in range(2))
    assert first.state != second.state and first.nonce != second.nonce and first.code_verifier != second.code_verifier


def test_callback_error_is_the_idps():
    with pytest.raises(SignInError) as caught:
        callback_code({"error": "access_denied", "error_description": "User cancelled", "state": "s"})
    assert (caught.value.code, caught.value.actual) == ("idp_error", "access_denied: User cancelled")
    assert callback_code({"code": "abc", "state": "s"}) == "abc"


# Token request

def test_token_request_uses_basic_auth_by_default():
    request = token_request(token_endpoint="https://idp/token", code="c1", redirect_uri="https://p/cb",
                            client_id="app:1", client_secret="s e/cret", code_verifier="v",
                            auth_methods_supported=None)
    assert request.form == {"grant_type": "authorization_code", "code": "c1", "redirect_uri": "https://p/cb",
                            "code_verifier": "v"}
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"app%3A1:s%20e%2Fcret").decode()


def test_token_request_posts_the_secret_when_discovery_offers_only_that():
    request = token_request(token_endpoint="https://idp/token", code="c1", redirect_uri="https://p/cb",
                            client_id="app", client_secret="secret", code_verifier="v",
                            auth_methods_supported=["client_secret_post", "private_key_jwt"])
    assert "Authorization" not in request.headers
    assert (request.form["client_id"], request.form["client_secret"]) == ("app", "secret")


def test_token_request_without_a_supported_method():
    with pytest.raises(SignInError) as caught:
        token_request(token_endpoint="https://idp/token", code="c", redirect_uri="https://p/cb", client_id="a",
                      client_secret="s", code_verifier="v", auth_methods_supported=["private_key_jwt"])
    assert (caught.value.code, caught.value.actual) == ("token_exchange_failed", "private_key_jwt")


async def test_exchange_code_returns_the_id_token():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["form"] = parse_qs(request.content.decode())
        seen["authorization"] = request.headers.get("authorization")
        return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer", "id_token": "the.id.token"})

    request = token_request(token_endpoint="https://idp/token", code="c1", redirect_uri="https://p/cb",
                            client_id="app", client_secret="secret", code_verifier="v", auth_methods_supported=None)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        assert await exchange_code(client, request) == "the.id.token"
    assert seen["form"]["code_verifier"] == ["v"]
    assert seen["authorization"].startswith("Basic ")


async def test_wrong_client_secret_is_a_failed_exchange_that_never_echoes_the_secret():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "unauthorized_client", "error_description": "Invalid client secret"})

    request = token_request(token_endpoint="https://idp/token", code="c1", redirect_uri="https://p/cb",
                            client_id="app", client_secret="hunter2", code_verifier="v", auth_methods_supported=None)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(SignInError) as caught:
            await exchange_code(client, request)
    assert (caught.value.code, caught.value.fix_in, caught.value.actual) == (
        "token_exchange_failed", "portico", "HTTP 401: unauthorized_client")
    assert "hunter2" not in json.dumps(caught.value.as_dict())


async def test_token_response_without_an_id_token():
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"access_token": "at"}))
    request = token_request(token_endpoint="https://idp/token", code="c", redirect_uri="https://p/cb", client_id="a",
                            client_secret="s", code_verifier="v", auth_methods_supported=None)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(SignInError) as caught:
            await exchange_code(client, request)
    assert (caught.value.code, caught.value.actual) == ("token_exchange_failed", "none")


async def test_fetch_jwks():
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=IDP.jwks()))
    async with httpx.AsyncClient(transport=transport) as client:
        assert await fetch_jwks(client, "https://idp/certs") == IDP.jwks()
    broken = httpx.MockTransport(lambda request: httpx.Response(500, text="oops"))
    async with httpx.AsyncClient(transport=broken) as client:
        with pytest.raises(SignInError) as caught:
            await fetch_jwks(client, "https://idp/certs")
    assert (caught.value.code, caught.value.actual) == ("id_token_invalid", "HTTP 500")


# ID token

def test_valid_id_token_yields_claims_and_a_profile():
    token = verify(IDP.id_token())
    assert (token.key_id, token.algorithm) == ("k1", "RS256")
    profile = oidc_profile(token.claims, connection_id="conn_2", organization_id="org_1")
    assert profile.as_dict() == {
        "id": profile.id, "idp_id": "f81d4fae-7dec", "email": "ada@example.com", "first_name": "Ada",
        "last_name": "Lovelace", "groups": ["admins"], "raw_attributes": token.claims, "connection_id": "conn_2",
        "connection_type": "oidc", "organization_id": "org_1",
    }


def test_wrong_nonce():
    error = refused(IDP.id_token(IDP.claims(nonce="n-other")))
    assert (error.code, error.actual) == ("nonce_mismatch", "another nonce")


def test_missing_nonce():
    error = refused(IDP.id_token(IDP.claims(nonce=None)))
    assert (error.code, error.actual) == ("nonce_mismatch", "none")


def test_wrong_audience():
    error = refused(IDP.id_token(IDP.claims(aud="another-client", azp=None)))
    assert (error.code, error.expected, error.actual) == ("id_token_invalid", IDP.client_id, "another-client")


def test_several_audiences_need_azp_naming_us():
    assert verify(IDP.id_token(IDP.claims(aud=[IDP.client_id, "api"])))
    error = refused(IDP.id_token(IDP.claims(aud=[IDP.client_id, "api"], azp=None)))
    assert (error.code, error.actual) == ("id_token_invalid", "None")
    error = refused(IDP.id_token(IDP.claims(aud=[IDP.client_id, "api"], azp="api")))
    assert (error.code, error.expected, error.actual) == ("id_token_invalid", IDP.client_id, "api")


def test_wrong_issuer():
    error = refused(IDP.id_token(IDP.claims(iss="https://evil.example.net")))
    assert (error.code, error.expected, error.actual) == ("id_token_invalid", IDP.issuer, "https://evil.example.net")


def test_expired_within_and_past_the_skew():
    token = IDP.id_token()  # exp = NOW + 5 min
    assert verify(token, now=NOW + timedelta(minutes=5, seconds=119))
    error = refused(token, now=NOW + timedelta(minutes=5, seconds=120))
    assert error.code == "id_token_invalid"
    assert error.actual == f"{int((NOW + timedelta(minutes=7)).timestamp())}: 120 s late"


def test_issued_in_the_future_beyond_the_skew():
    token = IDP.id_token(IDP.claims(issued=NOW + timedelta(seconds=121)))
    error = refused(token)
    assert (error.code, error.actual) == ("id_token_invalid", "121 s ahead")
    assert verify(IDP.id_token(IDP.claims(issued=NOW + timedelta(seconds=120))))


def test_not_before_in_the_future():
    error = refused(IDP.id_token(IDP.claims(nbf=int((NOW + timedelta(minutes=10)).timestamp()))))
    assert (error.code, error.actual) == ("id_token_invalid", "600 s ahead")


def test_missing_exp_is_invalid():
    error = refused(IDP.id_token(IDP.claims(exp=None)))
    assert (error.code, error.expected) == ("id_token_invalid", "exp: a NumericDate")


def test_alg_none_is_refused():
    token = unsigned_jwt({"alg": "none", "kid": "k1"}, IDP.claims())
    error = refused(token)
    assert (error.code, error.actual) == ("id_token_invalid", "none")


def test_hs256_signed_with_the_public_key_is_refused():
    """Algorithm confusion: the attacker HMACs with the RSA public key the IdP publishes (joserfc itself will
    not even load a public key as an HMAC secret, so the token is made by hand)."""
    public_pem = RSAKey.import_key(rsa_key("oidc-1")).as_pem(private=False)
    unsigned = unsigned_jwt({"alg": "HS256", "kid": "k1"}, IDP.claims()).rsplit(".", 1)[0]
    mac = hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest()
    token = f"{unsigned}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    error = refused(token)
    assert (error.code, error.actual) == ("id_token_invalid", "HS256")


def test_token_signed_by_another_key_with_the_same_kid_is_refused():
    impostor = RSAKey.import_key(rsa_key("impostor"), {"kid": "k1"})
    error = refused(IDP.id_token(key=impostor))
    assert (error.code, error.actual) == ("id_token_invalid", "RS256, kid k1")


def test_payload_changed_after_signing_is_refused():
    header, payload, signature = IDP.id_token().split(".")
    forged = base64.urlsafe_b64encode(json.dumps(IDP.claims(sub="ceo")).encode()).rstrip(b"=").decode()
    assert refused(f"{header}.{forged}.{signature}").code == "id_token_invalid"


def test_key_of_another_type_under_the_same_kid_is_not_used():
    """An ES256 header naming an RSA kid finds no EC key: refused, never verified with the wrong key type."""
    ec_key = ECKey.generate_key("P-256", {"kid": "k1"})
    error = refused(IDP.id_token(key=ec_key, header={"alg": "ES256", "kid": "k1"}))
    assert (error.code, error.actual) == ("id_token_invalid", "kid k1")


def test_es256_token_with_its_key_in_the_jwks_verifies():
    ec_key = ECKey.generate_key("P-256", {"kid": "ec1"})
    jwks = {"keys": [ec_key.as_dict(private=False, use="sig")]}
    assert verify(IDP.id_token(key=ec_key, header={"alg": "ES256", "kid": "ec1"}), jwks).algorithm == "ES256"


def test_unknown_kid_is_its_own_error_for_the_refresh():
    rotated = RSAKey.import_key(rsa_key("oidc-2"), {"kid": "k2"})
    with pytest.raises(UnknownKeyId) as caught:
        verify(IDP.id_token(key=rotated))
    assert (caught.value.code, caught.value.actual) == ("id_token_invalid", "kid k2")


async def test_unknown_kid_refreshes_the_jwks_once_then_verifies():
    rotated = RSAKey.import_key(rsa_key("oidc-2"), {"kid": "k2"})
    calls = []

    async def refresh():
        calls.append(1)
        return IDP.jwks([*IDP.keys, rotated])

    token, jwks = await verify_id_token_refreshing(
        IDP.id_token(key=rotated), IDP.jwks(), refresh, issuer=IDP.issuer, client_id=IDP.client_id, nonce=NONCE,
        now=NOW)
    assert token.key_id == "k2"
    assert [key["kid"] for key in jwks["keys"]] == ["k1", "k2"]
    assert calls == [1]


async def test_unknown_kid_still_unknown_after_the_refresh_is_refused():
    stranger = RSAKey.import_key(rsa_key("stranger"), {"kid": "k9"})
    calls = []

    async def refresh():
        calls.append(1)
        return IDP.jwks()

    with pytest.raises(SignInError) as caught:
        await verify_id_token_refreshing(IDP.id_token(key=stranger), IDP.jwks(), refresh, issuer=IDP.issuer,
                                         client_id=IDP.client_id, nonce=NONCE, now=NOW)
    assert (caught.value.code, caught.value.actual) == ("id_token_invalid", "kid k9")
    assert calls == [1]


async def test_known_kid_does_not_refresh():
    async def refresh():
        raise AssertionError("no refresh for a known key")

    token, _ = await verify_id_token_refreshing(IDP.id_token(), IDP.jwks(), refresh, issuer=IDP.issuer,
                                                client_id=IDP.client_id, nonce=NONCE, now=NOW)
    assert token.claims["sub"] == "f81d4fae-7dec"


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "!!!.e30.sig"])
def test_garbage_tokens_are_invalid(token):
    assert refused(token).code == "id_token_invalid"


def test_email_missing_from_the_claims():
    token = verify(IDP.id_token(IDP.claims(email=None)))
    with pytest.raises(SignInError) as caught:
        oidc_profile(token.claims, connection_id="conn_2", organization_id="org_1")
    assert (caught.value.code, caught.value.actual) == ("email_missing", "none")


def test_pkce_challenge_matches_its_verifier():
    request = authorization_request(authorization_endpoint="https://idp/auth", client_id="c", redirect_uri="https://p/cb")
    challenge = parse_qs(urlsplit(request.url).query)["code_challenge"][0]
    digest = hashlib.sha256(request.code_verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
